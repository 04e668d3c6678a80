#!/usr/bin/env python3
"""Benchmark: a no-op re-run of site.yml on the sandbox in three configurations.

Run after `make sandbox` (the sandbox must be converged, so every run is a no-op):

    .venv/bin/python benchmarks/ansible_cfg.py [--rounds 3]

The configurations, run alternately in one session (A B C A B C ...), each run
with a fresh SSH control-socket directory, so none inherits another's open
connections and machine noise hits all alike:

- "defaults": only what the repository needs to run at all (inventory, roles
  and filter paths; the sandbox vault identity on the command line); everything else is Ansible's
  default (linear strategy, no pipelining, facts gathered every play, 5 forks,
  interpreter discovery);
- "project": the project's ansible.cfg with Ansible's own linear strategy
  (`ANSIBLE_STRATEGY=linear`, the documented switch back);
- "mitogen": the project's ansible.cfg as committed (Mitogen's strategy).

With --facts, two configurations instead: "injected" (the project's ansible.cfg
with ANSIBLE_INJECT_FACT_VARS=true, Ansible's default of copying every fact to
a top-level variable) and "mitogen" (as committed: facts under ansible_facts only).

With --connection, two: "templated" (the sandbox's SSH key and known_hosts
options as templates of sandbox_dir, as the inventory had them, given as extra
variables) and "mitogen" (as committed: the literal paths sandbox/up.yml writes
into the inventory's group_vars/all/connection.yml).

With --caches, three configurations: "uncached" (the project's ansible.cfg with
neither controller cache: Mitogen's strategy as the package ships it, but
with nothing pinned as committed; no callback_plugins directory), "jinja" (callback_plugins/jinja_plugin_cache.py
only: filters and tests loaded once per play) and "mitogen" (as committed:
also the collection directories listed once, strategy_plugins/mitogen_linear.py).

With --affinity, two: "pinned" (strategy_plugins/mitogen_linear.py with Mitogen's
CPU affinity policy left in place: on two CPUs the multiplexer on CPU 0, the
controller and every worker on CPU 1) and "mitogen" (as committed: nothing pinned).

Prints each run's seconds and task results per second (ok + skipped + failed
from the recap, summed over hosts), then the medians and the ratios to the
first configuration ("defaults", or "injected"). The results are recorded in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import PLAYBOOK, ROOT, SANDBOX_VAULT_ID

DEFAULTS_CFG = """\
[defaults]
inventory = {root}/inventories/sandbox
roles_path = {root}/roles
filter_plugins = {root}/filter_plugins
"""

# Mitogen's strategy as the package ships it, but unpinned as committed (so --caches
# measures the caches alone): strategy_plugins/mitogen_linear.py without its list of
# collection directories made once per run.
PLAIN_MITOGEN = """\
import ansible_mitogen.affinity
from ansible_mitogen import loaders, strategy
DOCUMENTATION = "name: mitogen_linear"
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


class StrategyModule(strategy.StrategyMixin, loaders.strategy_loader.get("linear", class_only=True)):
    pass
"""


def one_run(config: Path, label: str, extra_env: dict[str, str], extra_args: tuple[str, ...] = ()) -> tuple[float, int]:
    """One no-op site.yml; returns (seconds, task results summed over hosts)."""
    with tempfile.TemporaryDirectory() as control_dir:
        env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
                   ANSIBLE_FORCE_COLOR="false", **extra_env)
        start = time.monotonic()
        playbook = [PLAYBOOK, "-i", "inventories/sandbox", "--vault-id", SANDBOX_VAULT_ID, "playbooks/site.yml",
                    *extra_args]
        proc = subprocess.run(playbook, cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=1200, check=False)
        elapsed = time.monotonic() - start
    recap = [line for line in proc.stdout.splitlines() if " changed=" in line and " unreachable=" in line]
    if proc.returncode != 0 or any(" changed=0 " not in line for line in recap):
        sys.exit(f"{label}: the run was not a clean no-op (rc {proc.returncode}):\n" + "\n".join(recap)
                 + proc.stderr[-2000:])
    tasks = sum(int(count) for line in recap
                for count in re.findall(r"\b(?:ok|skipped|failed)=(\d+)", line))
    return elapsed, tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--facts", action="store_true",
                        help="instead: the project's configuration with facts also injected as top-level variables "
                             "(Ansible's default) against it as committed (inject_facts_as_vars = False)")
    parser.add_argument("--caches", action="store_true",
                        help="instead: the project's configuration without its controller caches, with the "
                             "Jinja plugin cache only, and as committed")
    parser.add_argument("--connection", action="store_true",
                        help="instead: the sandbox's SSH key and known_hosts options as templates of sandbox_dir "
                             "(as the inventory had them) against the literal paths sandbox/up.yml writes")
    parser.add_argument("--affinity", action="store_true",
                        help="instead: Mitogen's CPU pinning (the multiplexer on one CPU, the controller and "
                             "its workers on the others) against the committed strategy, which pins nothing")
    args = parser.parse_args()
    project_cfg = ROOT / "ansible.cfg"
    with tempfile.TemporaryDirectory() as tmp:
        defaults_cfg = Path(tmp) / "ansible.cfg"
        defaults_cfg.write_text(DEFAULTS_CFG.format(root=ROOT))
        configs = {
            "defaults": (defaults_cfg, {}),
            "project": (project_cfg, {"ANSIBLE_STRATEGY": "linear"}),
            "mitogen": (project_cfg, {}),
        }
        if args.facts:
            configs = {"injected": (project_cfg, {"ANSIBLE_INJECT_FACT_VARS": "true"}), "mitogen": (project_cfg, {})}
        if args.caches:
            plain = Path(tmp) / "strategy"
            plain.mkdir()
            (plain / "mitogen_linear.py").write_text(PLAIN_MITOGEN)
            no_callbacks = Path(tmp) / "no-callbacks"
            no_callbacks.mkdir()
            configs = {
                "uncached": (project_cfg, {"ANSIBLE_STRATEGY_PLUGINS": str(plain),
                                           "ANSIBLE_CALLBACK_PLUGINS": str(no_callbacks)}),
                "jinja": (project_cfg, {"ANSIBLE_STRATEGY_PLUGINS": str(plain)}),
                "mitogen": (project_cfg, {}),
            }
        if args.affinity:
            source = (ROOT / "strategy_plugins" / "mitogen_linear.py").read_text()
            unpinning = "ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()\n"
            if unpinning not in source:
                sys.exit("strategy_plugins/mitogen_linear.py no longer replaces Mitogen's affinity policy")
            pinned = Path(tmp) / "pinned"
            pinned.mkdir()
            (pinned / "mitogen_linear.py").write_text(source.replace(unpinning, ""))
            configs = {"pinned": (project_cfg, {"ANSIBLE_STRATEGY_PLUGINS": str(pinned)}), "mitogen": (project_cfg, {})}
        if args.connection:
            # Extra variables, so they win over the inventory's connection.yml; templated as the inventory's were.
            templated = json.dumps({
                "ansible_ssh_private_key_file": "{{ sandbox_dir }}/ansible_ed25519",
                "ansible_ssh_common_args": "-o UserKnownHostsFile={{ sandbox_dir }}/known_hosts"
                                           " -o StrictHostKeyChecking=yes"})
            configs = {"templated": (project_cfg, {}, ("-e", templated)), "mitogen": (project_cfg, {})}
        one_run(project_cfg, "warm-up", {})  # fills the fact cache as a previous run would have
        times: dict[str, list[float]] = {label: [] for label in configs}
        for i in range(args.rounds):
            for label, (cfg, extra_env, *extra_args) in configs.items():
                seconds, tasks = one_run(cfg, label, extra_env, *extra_args)
                times[label].append(seconds)
                print(f"round {i + 1}: {label:<8} {seconds:6.1f} s  {tasks} task results  "
                      f"{tasks / seconds:5.2f} per second", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    print("\nmedian no-op site.yml on the sandbox:")
    first = next(iter(medians))
    for label, median in medians.items():
        print(f"  {label:<8} {median:6.1f} s  {first}/{label} = {medians[first] / median:.2f}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
