#!/usr/bin/env python3
"""Benchmark: the apt tasks of a no-op converge, with and without apt's update-success stamp.

    .venv/bin/python benchmarks/apt_update_stamp.py [--rounds 3]

Every role installs its packages with `update_cache: true` and
`cache_valid_time: 3600`. Ansible's apt module decides whether the lists are
fresh from the mtime of /var/lib/apt/periodic/update-success-stamp, or, when
that file is absent (Debian's default), of /var/lib/apt/lists. `apt-get update`
leaves that directory's mtime alone when the mirror has not changed, so once
the lists are an hour old every such task refreshes them again, on every run:
a no-op converge of a host with six roles asks the mirror six times.
The common role installs an APT hook that touches the stamp after each
successful update (roles/common/templates/etc/apt/apt.conf.d/50paas-update-stamp.j2).

Two test hosts from the project image, one per variant, same packages:

- "no-stamp": Debian's default (no hook);
- "stamp": the common role's hook in place.

Each round ages the lists (and the stamp) by two hours, as a nightly drift
check or a converge the next day finds them, then runs a playbook of six apt
tasks shaped as the roles' (packages already installed, so every task is a
no-op) against both hosts, alternating which goes first. Prints each run's
seconds and the medians with their ratio; recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from benchlib import PLAYBOOK, in_host, must, test_hosts

HOOK_FILE = "/etc/apt/apt.conf.d/50paas-update-stamp"
HOOK = 'APT::Update::Post-Invoke-Success { "touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true"; };'
PACKAGES = ["sudo", "curl", "less", "rsync", "procps", "iproute2"]
NETWORK = "paas-bench-stamp"
AGE = "touch -d '-2 hours' /var/lib/apt/lists /var/lib/apt/periodic/update-success-stamp 2>/dev/null; true"

NO_OP = "\n".join(["---", "- name: Six no-op apt tasks, as six roles run them", "  hosts: all",
                   "  gather_facts: false", "  tasks:"] + [
    f"    - name: Role {n} packages\n      ansible.builtin.apt:\n        name: {pkg}\n        state: present\n"
    "        update_cache: true\n        cache_valid_time: 3600" for n, pkg in enumerate(PACKAGES)]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    hosts = {"no-stamp": "bench-stamp-0", "stamp": "bench-stamp-1"}
    times: dict[str, list[float]] = {label: [] for label in hosts}
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as playbook, test_hosts(list(hosts.values()), NETWORK):
        playbook.write(NO_OP)
        playbook.flush()
        in_host(hosts["stamp"], f"echo '{HOOK}' > {HOOK_FILE}", "installing the hook", timeout=600)
        for name in hosts.values():
            install = f"apt-get -y -q install {' '.join(PACKAGES)}"
            in_host(name, f"apt-get -q update && DEBIAN_FRONTEND=noninteractive {install}", "installing the packages",
                    timeout=600)
        for i in range(args.rounds):
            order = list(hosts.items()) if i % 2 == 0 else list(reversed(hosts.items()))
            for label, name in order:
                in_host(name, AGE, "ageing the package lists", timeout=600)
                start = time.monotonic()
                must([PLAYBOOK, "-i", f"{name},", "-c", "community.docker.docker", playbook.name],
                     f"the no-op apt tasks ({label})", env={"ANSIBLE_CACHE_PLUGIN": "memory"})
                times[label].append(time.monotonic() - start)
                print(f"round {i + 1} {label:9s} {times[label][-1]:6.1f} s", flush=True)
    base = statistics.median(times["no-stamp"])
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:9s} median {median:6.1f} s  ratio to no-stamp {median / base:4.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
