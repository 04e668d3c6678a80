#!/usr/bin/python3
"""Write pgBackRest's state as Prometheus metrics for the node exporter's textfile collector.

Installed by the pgbackrest role on the repository host and run by systemd after every
backup and check unit (ExecStopPost, as root: pgBackRest itself runs as the repository user):

    pgbackrest-metrics --stanza main --user pgbackrest --dir /var/lib/prometheus/node-exporter \
        --unit backup-full --result success

writes two files with python3-prometheus-client's write_to_textfile (a temporary file, then a
rename: a scrape never reads half a file):
pgbackrest.prom (the repository: newest backup of each type, its duration and sizes) and
pgbackrest_unit_<unit>.prom (whether that unit's last run succeeded, and when).
After each restore drill (pgbackrest-restore-drill@<repo>.service) it turns the drill's JSON
summary into pgbackrest_restore_drill_repo<repo>.prom instead (--drill-summary, --repo).
Unit tests: tests/unit/test_pgbackrest_metrics.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

HELP = {
    "pgbackrest_info_success": "Whether `pgbackrest info` answered (1) or failed (0).",
    "pgbackrest_stanza_status_code": "pgBackRest's status code of the stanza (0: ok).",
    "pgbackrest_repository_status_code": "pgBackRest's status code of the stanza in each repository (0: ok).",
    "pgbackrest_backups": "Backups of each type in each repository.",
    "pgbackrest_backup_last_completion_timestamp_seconds": "When the newest backup of each type finished.",
    "pgbackrest_backup_last_duration_seconds": "How long the newest backup of each type took.",
    "pgbackrest_backup_last_database_size_bytes": "Size of the database in the newest backup of each type.",
    "pgbackrest_backup_last_repository_size_bytes": "Bytes the newest backup of each type added to the repository.",
    "pgbackrest_unit_last_run_success": "Whether the unit's last run succeeded (1) or failed (0).",
    "pgbackrest_unit_last_run_timestamp_seconds": "When the unit last ran.",
    "pgbackrest_restore_drill_success": "Whether the last restore drill restored the data exactly (1) or not (0).",
    "pgbackrest_restore_drill_timestamp_seconds": "When the last restore drill finished.",
    "pgbackrest_restore_drill_rto_seconds": "Seconds from the start of the restore until the server answered.",
    "pgbackrest_restore_drill_tables": "User tables compared by the last restore drill.",
}


def _registry(samples: list[tuple[str, dict, float]]) -> CollectorRegistry:
    """A registry of gauges from (name, labels, value) samples; each name is described in HELP."""
    registry, gauges = CollectorRegistry(), {}
    for name, labels, value in samples:
        if name not in gauges:
            gauges[name] = Gauge(name, HELP[name], list(labels), registry=registry)
        gauges[name].labels(**labels).set(value)
    return registry


def repository_metrics(info: list | None, stanza: str) -> CollectorRegistry:
    """The repositories' state from `pgbackrest --output=json info` (None: the command failed).

    Backup metrics carry the repository's number as `repo` (1: the backup host's own, 2: off-site).
    """
    if not info:
        return _registry([("pgbackrest_info_success", {"stanza": stanza}, 0)])
    entry = next((s for s in info if s.get("name") == stanza), None)
    if entry is None:
        return _registry([("pgbackrest_info_success", {"stanza": stanza}, 0)])
    samples: list[tuple[str, dict, float]] = [
        ("pgbackrest_info_success", {"stanza": stanza}, 1),
        ("pgbackrest_stanza_status_code", {"stanza": stanza}, int(entry.get("status", {}).get("code", -1))),
    ]
    repos = sorted(int(repo["key"]) for repo in entry.get("repo", [])) or [1]
    for repo in entry.get("repo", []):
        samples.append(("pgbackrest_repository_status_code", {"stanza": stanza, "repo": str(repo["key"])},
                        int(repo.get("status", {}).get("code", -1))))
    newest: dict[tuple[int, str], dict] = {}
    counts: dict[tuple[int, str], int] = {}
    for backup in entry.get("backup", []):
        key = (int(backup.get("database", {}).get("repo-key", 1)), backup["type"])
        counts[key] = counts.get(key, 0) + 1
        if key not in newest or backup["timestamp"]["stop"] >= newest[key]["timestamp"]["stop"]:
            newest[key] = backup
    for repo in repos:
        for kind in ("full", "diff", "incr"):
            samples.append(("pgbackrest_backups", {"stanza": stanza, "repo": str(repo), "type": kind},
                            counts.get((repo, kind), 0)))
    for (repo, kind), backup in sorted(newest.items()):
        labels = {"stanza": stanza, "repo": str(repo), "type": kind}
        stamp = backup["timestamp"]
        samples += [
            ("pgbackrest_backup_last_completion_timestamp_seconds", labels, int(stamp["stop"])),
            ("pgbackrest_backup_last_duration_seconds", labels, int(stamp["stop"]) - int(stamp["start"])),
            ("pgbackrest_backup_last_database_size_bytes", labels, int(backup.get("info", {}).get("size", 0))),
            ("pgbackrest_backup_last_repository_size_bytes", labels,
             int(backup.get("info", {}).get("repository", {}).get("delta", 0))),
        ]
    return _registry(samples)


def unit_metrics(stanza: str, unit: str, result: str, now: float) -> CollectorRegistry:
    """The last run of one unit; systemd passes $SERVICE_RESULT ("success" when it exited 0)."""
    labels = {"stanza": stanza, "unit": unit}
    return _registry([("pgbackrest_unit_last_run_success", labels, 1 if result == "success" else 0),
                    ("pgbackrest_unit_last_run_timestamp_seconds", labels, int(now))])


def drill_metrics(summary: dict | None, repo: int, result: str, now: float) -> CollectorRegistry:
    """The last restore drill of one repository, from the drill's JSON summary (None: none written).

    Success only when the unit succeeded too ($SERVICE_RESULT "success"): a drill killed before
    it wrote its summary must not be reported by an older one. The RTO only of a success.
    """
    summary = summary or {}
    success = bool(summary.get("success")) and result == "success"
    labels = {"repo": str(repo)}
    samples: list[tuple[str, dict, float]] = [
        ("pgbackrest_restore_drill_success", labels, int(success)),
        ("pgbackrest_restore_drill_timestamp_seconds", labels, int(now)),
        ("pgbackrest_restore_drill_tables", labels, int(summary.get("tables") or 0)),
    ]
    if success and summary.get("rto_seconds") is not None:
        samples.append(("pgbackrest_restore_drill_rto_seconds", labels, round(float(summary["rto_seconds"]), 1)))
    return _registry(samples)


def read_summary(path: str) -> dict | None:
    try:
        with open(path) as summary:
            return json.load(summary)
    except (OSError, ValueError):
        return None


def read_info(stanza: str, user: str) -> list | None:
    command = ["/usr/bin/pgbackrest", f"--stanza={stanza}", "--output=json", "info"]
    if os.geteuid() == 0 and user:
        command = ["runuser", "-u", user, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        print(f"pgbackrest info failed: {done.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stanza", required=True)
    parser.add_argument("--user", default="pgbackrest", help="the repository user pgBackRest runs as")
    parser.add_argument("--dir", required=True, help="the node exporter's textfile directory")
    parser.add_argument("--unit", help="the unit that just ran (backup-full, backup-offsite-diff, check, ...)")
    parser.add_argument("--result", default="", help="systemd's $SERVICE_RESULT for that unit")
    parser.add_argument("--drill-summary", help="instead: the restore drill's JSON summary, turned into its metrics")
    parser.add_argument("--repo", type=int, default=1, help="with --drill-summary: the repository drilled")
    args = parser.parse_args(argv)
    os.umask(0o022)   # the files are read by the node exporter's own user
    if args.drill_summary:
        write_to_textfile(os.path.join(args.dir, f"pgbackrest_restore_drill_repo{args.repo}.prom"),
                          drill_metrics(read_summary(args.drill_summary), args.repo, args.result, time.time()))
        return 0
    if args.unit:
        write_to_textfile(os.path.join(args.dir, f"pgbackrest_unit_{args.unit}.prom"),
                          unit_metrics(args.stanza, args.unit, args.result, time.time()))
    write_to_textfile(os.path.join(args.dir, "pgbackrest.prom"),
                      repository_metrics(read_info(args.stanza, args.user), args.stanza))
    return 0


if __name__ == "__main__":
    sys.exit(main())
