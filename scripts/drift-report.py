#!/usr/bin/env python3
"""Drift check: run site.yml in check+diff mode and print what differs from the code.

    scripts/drift-report.py inventories/production --vault-id production@~/.paas-vault-pass \
        [--limit HOSTS] [--tags TAGS] [--playbook playbooks/site.yml] [--metrics-file FILE]

Exit status: 0 no drift, 2 drift found, 1 the run itself failed (unreachable
host, task error). The full JSON result goes to reports/drift-<inventory>.json;
the console gets a readable report: per host, each task that would change and
its diff. Used by the nightly CI drift job (docs/runbooks/drift.md). With
--metrics-file, the result is also written as Prometheus metrics (textfile
format) for playbooks/drift-metrics.yml to put on the monitoring hosts, where
the drift alerts read them.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render_diff(diff) -> list[str]:
    lines: list[str] = []
    for item in diff if isinstance(diff, list) else [diff]:
        if not isinstance(item, dict):
            continue
        if "prepared" in item:
            lines += str(item["prepared"]).splitlines()
            continue
        before, after = item.get("before"), item.get("after")
        if isinstance(before, str) and isinstance(after, str):
            lines += list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                               item.get("before_header", "before"),
                                               item.get("after_header", "after"), lineterm=""))
        elif before is not None or after is not None:
            lines.append(f"- {json.dumps(before, sort_keys=True)}")
            lines.append(f"+ {json.dumps(after, sort_keys=True)}")
    return lines


def changes(result: dict) -> list[tuple[str, str, list[str]]]:
    """(host, task, diff lines) for every task result that would change."""
    found = []
    for play in result.get("plays", []):
        for task in play.get("tasks", []):
            name = task["task"]["name"]
            for host, res in task.get("hosts", {}).items():
                items = res.get("results") if isinstance(res.get("results"), list) else [res]
                for item in items:
                    if isinstance(item, dict) and item.get("changed"):
                        label = f"{name} ({item['item']})" if "item" in item and len(items) > 1 else name
                        found.append((host, label, render_diff(item.get("diff", []))))
    return found


def metrics_text(stats: dict, found: list, succeeded: bool, now: float) -> str:
    """The run as Prometheus textfile metrics: when it ran, whether it completed, and per host
    checked the number of changes a converge would make."""
    per_host = dict.fromkeys(stats, 0)
    for host, _, _ in found:
        per_host[host] = per_host.get(host, 0) + 1
    lines = [
        "# HELP paas_drift_check_timestamp_seconds When the last drift check ran.",
        "# TYPE paas_drift_check_timestamp_seconds gauge",
        f"paas_drift_check_timestamp_seconds {now:.0f}",
        "# HELP paas_drift_check_success 1 if the last drift check completed on every host, else 0.",
        "# TYPE paas_drift_check_success gauge",
        f"paas_drift_check_success {1 if succeeded else 0}",
        "# HELP paas_drift_changes Changes a converge would make on the host (0: as the code says).",
        "# TYPE paas_drift_changes gauge",
    ]
    lines += [f'paas_drift_changes{{host="{host}"}} {count}' for host, count in sorted(per_host.items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inventory")
    parser.add_argument("--playbook", default="playbooks/site.yml")
    parser.add_argument("--limit")
    parser.add_argument("--tags", help="only these tags (a quicker partial check)")
    parser.add_argument("--vault-id", action="append", default=[],
                        help="the inventory's vault identity, as ansible-playbook takes it (repeatable)")
    parser.add_argument("--metrics-file", type=Path,
                        help="also write the result as Prometheus metrics here (playbooks/drift-metrics.yml)")
    args = parser.parse_args()

    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    name = Path(args.inventory).name
    out_file = reports / f"drift-{name}.json"
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_FORCE_COLOR="false")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # a timing callback would mix text into the JSON
    venv_playbook = Path(sys.executable).parent / "ansible-playbook"
    playbook_bin = str(venv_playbook) if venv_playbook.exists() else "ansible-playbook"
    cmd = [playbook_bin, "-i", args.inventory, args.playbook, "--check", "--diff"]
    if args.limit:
        cmd += ["--limit", args.limit]
    if args.tags:
        cmd += ["--tags", args.tags]
    for identity in args.vault_id:
        cmd += ["--vault-id", identity]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    out_file.write_text(proc.stdout)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"drift: {' '.join(cmd)} did not produce a result (rc {proc.returncode}):")
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        if args.metrics_file:
            args.metrics_file.write_text(metrics_text({}, [], False, time.time()))
        return 1

    stats = result.get("stats", {})
    failed = {h: s for h, s in stats.items() if s.get("failures") or s.get("unreachable")}
    found = changes(result)
    print(f"Drift report for {args.inventory} ({args.playbook}, check mode)")
    print(f"  hosts checked: {len(stats)}; hosts with drift: {len({h for h, _, _ in found})}; "
          f"hosts failed: {len(failed)}")
    current = None
    for host, task, diff in sorted(found, key=lambda x: x[0]):
        if host != current:
            print(f"\n{host}:")
            current = host
        print(f"  ~ {task}")
        for line in diff[:60]:
            print(f"      {line}")
        if len(diff) > 60:
            print(f"      ... {len(diff) - 60} more diff lines in {out_file.relative_to(ROOT)}")
    for host, s in sorted(failed.items()):
        print(f"\n{host}: FAILED (failures={s.get('failures', 0)}, unreachable={s.get('unreachable', 0)})")
    succeeded = not failed and proc.returncode in (0, 2)
    if args.metrics_file:
        # A host whose check failed gets no count: it was not seen to be clean.
        checked = {host: s for host, s in stats.items() if host not in failed}
        args.metrics_file.write_text(metrics_text(checked, found, succeeded, time.time()))
    if not succeeded:
        print(f"\ndrift: the check run failed (rc {proc.returncode}); stderr tail:\n{proc.stderr[-2000:]}")
        return 1
    print("\nNo drift." if not found else f"\nDrift: {len(found)} change(s) would be made. Full result: "
          f"{out_file.relative_to(ROOT)}")
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
