#!/usr/bin/python3
"""Write a restic repository's state as Prometheus metrics for the node exporter's textfile collector.

Installed by the restic role on each client and run by systemd after every backup and check
unit (ExecStopPost):

    restic-metrics --repository local --host app1 --dir /var/lib/prometheus/node-exporter \
        --unit backup-local --result success

writes two files with python3-prometheus-client's write_to_textfile (a temporary file, then a
rename: a scrape never reads half a file):
restic_<repository>.prom (this host's snapshots there: how many, when the newest was taken) and
restic_unit_<unit>.prom (whether that unit's last run succeeded, and when).
After each restore drill (restic-restore-drill@<repository>.service) it turns the drill's JSON
summary into restic_restore_drill_<repository>.prom instead (--drill-summary).
Unit tests: tests/unit/test_restic_metrics.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

COMMAND = "/usr/local/sbin/paas-restic"
HELP = {
    "restic_repository_success": "Whether restic listed the repository's snapshots (1) or failed (0).",
    "restic_snapshots": "Snapshots of this host in the repository.",
    "restic_snapshot_last_timestamp_seconds": "When this host's newest snapshot in the repository was taken.",
    "restic_unit_last_run_success": "Whether the unit's last run succeeded (1) or failed (0).",
    "restic_unit_last_run_timestamp_seconds": "When the unit last ran.",
    "restic_restore_drill_success": "Whether the last restore drill restored the files exactly (1) or not (0).",
    "restic_restore_drill_timestamp_seconds": "When the last restore drill finished.",
    "restic_restore_drill_files_compared": "Files the last restore drill compared with the live ones.",
    "restic_restore_drill_rto_seconds": "Seconds from the start of the restore until the files were usable.",
    "restic_restore_drill_rpo_seconds": "Age of the restored snapshot when the drill started (what a loss costs).",
}


def snapshot_time(stamp: str) -> float:
    """Seconds since the epoch of restic's RFC 3339 time (nanoseconds and any offset)."""
    main, _, rest = stamp.partition(".")
    offset = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, offset = rest[:digits], rest[digits:]
        main = f"{main}.{fraction[:6]}"
    else:
        for sign in ("Z", "+", "-"):
            if sign in main[19:]:
                index = main.index(sign, 19)
                main, offset = main[:index], main[index:]
                break
    offset = "+00:00" if offset in ("Z", "") else offset
    return datetime.fromisoformat(main + offset).timestamp()


def _gauges(labels: dict[str, str], values: dict[str, float]) -> CollectorRegistry:
    """A registry of gauges (name -> value, described in HELP), all with the same labels."""
    registry = CollectorRegistry()
    for name, value in values.items():
        Gauge(name, HELP[name], list(labels), registry=registry).labels(**labels).set(value)
    return registry


def repository_metrics(snapshots: list | None, repository: str, host: str) -> CollectorRegistry:
    """This host's snapshots in one repository, from `restic snapshots --json` (None: it failed)."""
    labels = {"repository": repository, "host": host}
    if snapshots is None:
        return _gauges(labels, {"restic_repository_success": 0})
    mine = [s for s in snapshots if s.get("hostname") == host]
    values = {"restic_repository_success": 1, "restic_snapshots": len(mine)}
    if mine:
        values["restic_snapshot_last_timestamp_seconds"] = max(snapshot_time(s["time"]) for s in mine)
    return _gauges(labels, values)


def unit_metrics(repository: str, unit: str, result: str, now: float) -> CollectorRegistry:
    """The last run of one unit; systemd passes $SERVICE_RESULT ("success" when it exited 0)."""
    return _gauges({"repository": repository, "unit": unit},
                   {"restic_unit_last_run_success": int(result == "success"),
                    "restic_unit_last_run_timestamp_seconds": now})


def drill_metrics(summary: dict | None, repository: str, host: str, result: str, now: float) -> CollectorRegistry:
    """The last restore drill of one repository, from the drill's JSON summary (None: none written).

    Success only when the unit succeeded too ($SERVICE_RESULT "success"): a drill killed before
    it wrote its summary must not be reported by an older one. RTO and RPO only of a success.
    """
    summary = summary or {}
    success = bool(summary.get("success")) and result == "success"
    values = {"restic_restore_drill_success": int(success), "restic_restore_drill_timestamp_seconds": now,
              "restic_restore_drill_files_compared": int(summary.get("compared") or 0)}
    if success:
        values["restic_restore_drill_rto_seconds"] = float(summary["rto_seconds"])
        values["restic_restore_drill_rpo_seconds"] = max(
            0.0, float(summary["started_at"]) - snapshot_time(summary["snapshot_time"]))
    return _gauges({"repository": repository, "host": host}, values)


def read_summary(path: str) -> dict | None:
    try:
        with open(path) as summary:
            return json.load(summary)
    except (OSError, ValueError):
        return None


def read_snapshots(repository: str, host: str) -> list | None:
    done = subprocess.run([COMMAND, repository, "snapshots", "--json", "--host", host],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        print(f"restic snapshots failed: {done.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(done.stdout or "[]") or []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", required=True, help="the repository's name (local, offsite)")
    parser.add_argument("--host", required=True, help="this host's name in the snapshots")
    parser.add_argument("--dir", required=True, help="the node exporter's textfile directory")
    parser.add_argument("--unit", help="the unit that just ran (backup-local, check-offsite, ...)")
    parser.add_argument("--result", default="", help="systemd's $SERVICE_RESULT for that unit")
    parser.add_argument("--drill-summary", help="instead: the restore drill's JSON summary, turned into its metrics")
    args = parser.parse_args(argv)
    os.umask(0o022)   # the files are read by the node exporter's own user
    if args.drill_summary:
        write_to_textfile(os.path.join(args.dir, f"restic_restore_drill_{args.repository}.prom"),
                          drill_metrics(read_summary(args.drill_summary), args.repository, args.host, args.result,
                                        time.time()))
        return 0
    if args.unit:
        write_to_textfile(os.path.join(args.dir, f"restic_unit_{args.unit}.prom"),
                          unit_metrics(args.repository, args.unit, args.result, time.time()))
    write_to_textfile(os.path.join(args.dir, f"restic_{args.repository}.prom"),
                      repository_metrics(read_snapshots(args.repository, args.host), args.repository, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
