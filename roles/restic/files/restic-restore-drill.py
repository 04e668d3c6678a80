#!/usr/bin/python3
"""Restore drill of one restic repository: this host's newest snapshot restored and compared.

Installed by the restic role on each client and run by restic-restore-drill@REPOSITORY.service
(weekly timer, or by hand / playbooks/restore-drill.yml):

    restic-restore-drill --repository local --host app1 --scratch /var/lib/restic-drill \
        --summary /var/lib/restic/restore-drill-local.json

1. The newest snapshot of this host in the repository is restored into an empty scratch
   directory with `restic restore --verify` (each restored file read back and checked against the
   repository's hashes).
2. Every restored file is compared with the live file it came from: where the live file still
   has the same size and modification time (it has not changed since the snapshot), their
   SHA-256 must be equal. Files changed or deleted since the snapshot are counted, not compared.
3. The summary (JSON) gives the snapshot and its time, the files compared, the differences, and
   the seconds from start to files usable (RTO); the scratch copy is removed. The unit's
   ExecStopPost turns the summary into metrics (restic-metrics --drill-summary).

Exits 1 when the restore fails, a file differs, or there is no snapshot to restore.
Standard library only; unit tests: tests/unit/test_restic_restore_drill.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

COMMAND = "/usr/local/sbin/paas-restic"


def newest_snapshot(snapshots: list, host: str) -> dict | None:
    """This host's newest snapshot in `restic snapshots --json` (restic's times sort as text
    only within one offset, so the list order, oldest first, is used)."""
    mine = [s for s in snapshots if s.get("hostname") == host]
    return mine[-1] if mine else None


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare_tree(scratch: str, live_root: str = "/") -> dict:
    """Compare every regular file under scratch (a restore of absolute paths) with the same path
    under live_root. Returns counts and the differing paths (live paths, sorted)."""
    result = {"files": 0, "compared": 0, "changed_since": 0, "gone": 0, "different": []}
    for directory, _, names in os.walk(scratch):
        for name in names:
            restored = os.path.join(directory, name)
            if not os.path.isfile(restored) or os.path.islink(restored):
                continue
            result["files"] += 1
            live = os.path.join(live_root, os.path.relpath(restored, scratch))
            try:
                live_stat = os.stat(live, follow_symlinks=False)
            except FileNotFoundError:
                result["gone"] += 1
                continue
            restored_stat = os.stat(restored)
            same_version = (live_stat.st_size == restored_stat.st_size
                            and int(live_stat.st_mtime) == int(restored_stat.st_mtime))
            if not same_version:
                result["changed_since"] += 1
                continue
            result["compared"] += 1
            if sha256(live) != sha256(restored):
                result["different"].append("/" + os.path.relpath(live, live_root))
    result["different"].sort()
    return result


def summarise(repository: str, snapshot: dict | None, restore_ok: bool, restore_error: str,
              comparison: dict | None, started: float, seconds: float) -> dict:
    """The drill's verdict and figures; success only with a snapshot, a verified restore and no difference."""
    problems = []
    if snapshot is None:
        problems.append("no snapshot of this host in the repository")
    elif not restore_ok:
        problems.append(f"restore failed: {restore_error or 'restic exited non-zero'}")
    if comparison:
        problems += [f"{path} differs from the live file" for path in comparison["different"]]
    return {
        "repository": repository,
        "snapshot": snapshot.get("short_id", snapshot.get("id", "")) if snapshot else "",
        "snapshot_time": snapshot.get("time", "") if snapshot else "",
        "started_at": started,
        "rto_seconds": round(seconds, 3),
        "files": comparison["files"] if comparison else 0,
        "compared": comparison["compared"] if comparison else 0,
        "changed_since": comparison["changed_since"] if comparison else 0,
        "gone": comparison["gone"] if comparison else 0,
        "problems": problems,
        "success": not problems,
    }


def write_json(path: str, data: dict) -> None:
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".drill.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def restic(repository: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, repository, *args], capture_output=True, text=True, timeout=6 * 3600,
                          check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", required=True, help="the repository's name (local, offsite)")
    parser.add_argument("--host", required=True, help="this host's name in the snapshots")
    parser.add_argument("--scratch", required=True, help="directory for the scratch copies (one per repository)")
    parser.add_argument("--summary", required=True, help="where the JSON summary goes")
    args = parser.parse_args(argv)

    started, clock = time.time(), time.monotonic()
    listed = restic(args.repository, "snapshots", "--json", "--host", args.host)
    snapshots = json.loads(listed.stdout or "[]") if listed.returncode == 0 else []
    snapshot = newest_snapshot(snapshots or [], args.host)
    scratch = os.path.join(args.scratch, args.repository)
    restore_ok, error, comparison = False, listed.stderr.strip() if listed.returncode else "", None
    if snapshot is not None:
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch, mode=0o700)
        restored = restic(args.repository, "restore", snapshot["id"], "--target", scratch, "--verify")
        restore_ok, error = restored.returncode == 0, restored.stderr.strip()[-500:]
        seconds = time.monotonic() - clock
        if restore_ok:
            comparison = compare_tree(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        seconds = time.monotonic() - clock
    summary = summarise(args.repository, snapshot, restore_ok, error, comparison, started, seconds)
    write_json(args.summary, summary)
    verdict = "restored exactly" if summary["success"] else "FAILED: " + "; ".join(summary["problems"])
    print(f"repository {args.repository}: snapshot {summary['snapshot'] or '-'}, {summary['compared']} of "
          f"{summary['files']} files compared, RTO {summary['rto_seconds']} s; {verdict}")
    return 0 if summary["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
