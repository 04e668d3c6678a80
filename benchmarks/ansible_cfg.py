#!/usr/bin/env python3
"""Benchmark: a no-op re-run of site.yml on the sandbox, project ansible.cfg vs Ansible's defaults.

Run after `make sandbox` (the sandbox must be converged, so every run is a no-op):

    .venv/bin/python benchmarks/ansible_cfg.py [--rounds 3]

Both configurations run alternately in one session (A B A B ...), each run with
a fresh SSH control-socket directory, so neither inherits the other's open
connections and machine noise hits both alike. The "defaults" configuration
keeps only what the repository needs to run at all (inventory, roles and
filter paths, the sandbox vault identity); everything else is Ansible's
default (no pipelining, facts gathered every play, 5 forks, interpreter
discovery). Prints the median seconds of each and their ratio; the results
are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS_CFG = """\
[defaults]
inventory = {root}/inventories/sandbox
roles_path = {root}/roles
filter_plugins = {root}/filter_plugins
vault_identity_list = sandbox@{root}/inventories/sandbox/DEMO-vault-password.txt
"""


def one_run(config: Path, label: str) -> float:
    with tempfile.TemporaryDirectory() as control_dir:
        env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
                   ANSIBLE_FORCE_COLOR="false")
        start = time.monotonic()
        proc = subprocess.run(["ansible-playbook", "-i", "inventories/sandbox", "playbooks/site.yml"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=1200, check=False)
        elapsed = time.monotonic() - start
    recap = [line for line in proc.stdout.splitlines() if " changed=" in line and " unreachable=" in line]
    if proc.returncode != 0 or any(" changed=0 " not in line for line in recap):
        sys.exit(f"{label}: the run was not a clean no-op (rc {proc.returncode}):\n" + "\n".join(recap)
                 + proc.stderr[-2000:])
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    project_cfg = ROOT / "ansible.cfg"
    with tempfile.TemporaryDirectory() as tmp:
        defaults_cfg = Path(tmp) / "ansible.cfg"
        defaults_cfg.write_text(DEFAULTS_CFG.format(root=ROOT))
        one_run(project_cfg, "warm-up")  # fills the fact cache as a previous run would have
        times: dict[str, list[float]] = {"project": [], "defaults": []}
        for i in range(args.rounds):
            for label, cfg in (("project", project_cfg), ("defaults", defaults_cfg)):
                times[label].append(one_run(cfg, label))
                print(f"round {i + 1}: {label:<8} {times[label][-1]:6.1f} s", flush=True)
    project, defaults = statistics.median(times["project"]), statistics.median(times["defaults"])
    print(f"\nmedian no-op site.yml on the sandbox: project ansible.cfg {project:.1f} s, "
          f"Ansible defaults {defaults:.1f} s, ratio defaults/project = {defaults / project:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
