#!/usr/bin/env python3
"""Benchmark: what one task costs on the sandbox, against one more item of a loop, and what a fork costs.

Run after `make sandbox` (the sandbox's hosts must answer; nothing on them changes):

    .venv/bin/python benchmarks/task_cost.py [--rounds 3] [--tasks 40]

Two parts:

- forks: ansible-core forks a worker process from the controller process for
  every task and host, and a fork costs more the more memory the process holds
  (the kernel copies its page tables, the child frees them on exit). A Python
  process holding about 10 to 270 MB forks 100 children that exit at once; the
  wall-clock and system CPU milliseconds per fork are printed for each size.
  Each sandbox run below prints its controller's peak RSS to set beside them.
- tasks: three playbooks on the sandbox's eight hosts (the project's ansible.cfg,
  become as the roles use it), run alternately in one session, each a fresh run:
  "one" (one `stat` task), "tasks" (the same `stat` as N tasks) and "loop" (the
  one task, then one `stat` task looping over N items). (tasks - one) / (N - 1)
  is what one more task costs on all eight hosts; (loop - one) / N what one
  more loop item costs, the loop task's own cost spread over its items.

With --apt, a third part instead of those two: what a role's install step
costs when its packages are there already, the apt module as the roles called
it before (N tasks, `state: present` of packages every host has, with
`update_cache` and `cache_valid_time` as the roles set them) against the same
N steps as the roles take them now (dpkg-query, then the apt task skipped by
`dpkg_missing`, filter_plugins/packages.py), and the one task, alternated.

Prints each run's seconds, then the medians and the derived costs. The results
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

from benchlib import PLAYBOOK, ROOT, SANDBOX_VAULT_ID

STAT = "      ansible.builtin.stat:\n        path: /etc/hostname\n"
PLAY = "- name: {name}\n  hosts: all:!localhost\n  gather_facts: false\n  become: true\n  tasks:\n"

FORK_CHILD = """
import os, resource, sys, time
junk = [str(i) * 3 for i in range(int(sys.argv[1]))]
r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
began = time.perf_counter()
for _ in range(100):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
wall = (time.perf_counter() - began) * 10
r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
print(rss, wall, (r1.ru_stime - r0.ru_stime) * 10, (c1.ru_stime - c0.ru_stime) * 10)
"""


def playbooks(directory: Path, tasks: int) -> dict[str, Path]:
    """The three playbooks, written into directory."""
    one = PLAY.format(name="one") + "    - name: Stat once\n" + STAT
    many = PLAY.format(name="tasks") + "".join(f"    - name: Stat {i}\n" + STAT for i in range(tasks))
    loop = (one.replace("name: one", "name: loop") + "    - name: Stat in a loop\n" + STAT
            + f"      loop: \"{{{{ range({tasks}) | list }}}}\"\n")
    paths = {}
    for label, text in (("one", one), ("tasks", many), ("loop", loop)):
        paths[label] = directory / f"{label}.yml"
        paths[label].write_text("---\n" + text)
    return paths


APT = ("      ansible.builtin.apt:\n        name: [chrony, locales]\n        state: present\n"
       "        install_recommends: false\n        update_cache: true\n        cache_valid_time: 3600\n")
DPKG = ("      ansible.builtin.command:\n        argv: \"{{ ['dpkg-query', '--show', "
        "'--showformat=${db:Status-Abbrev}${Package}\\\\n', 'chrony', 'locales'] }}\"\n"
        "      register: dpkg\n      changed_when: false\n      failed_when: false\n      check_mode: false\n")


def apt_playbooks(directory: Path, tasks: int) -> dict[str, Path]:
    """'one' (a stat), 'apt' (N apt tasks), 'dpkg' (N dpkg-query + apt-when-missing pairs), written into directory."""
    one = PLAY.format(name="one") + "    - name: Stat once\n" + STAT
    apt = PLAY.format(name="apt") + "".join(f"    - name: Install {i}\n" + APT for i in range(tasks))
    dpkg = PLAY.format(name="dpkg") + "".join(
        f"    - name: Ask dpkg {i}\n" + DPKG + f"    - name: Install {i}\n" + APT
        + "      when: dpkg.stdout | dpkg_missing(['chrony', 'locales']) | length > 0\n" for i in range(tasks))
    paths = {}
    for label, text in (("one", one), ("apt", apt), ("dpkg", dpkg)):
        paths[label] = directory / f"{label}.yml"
        paths[label].write_text("---\n" + text)
    return paths


def timed(playbook: Path) -> tuple[float, int]:
    """Seconds for one run and the controller process's peak RSS in MB (sampled every 0.1 s); a failed
    run stops the benchmark."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([PLAYBOOK, "-i", "inventories/sandbox", "--vault-id", SANDBOX_VAULT_ID, str(playbook)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
        peak = 0
        while proc.poll() is None and time.perf_counter() - began < 900:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak = max(peak, int(status.split("VmRSS:")[1].split()[0]) // 1024)
            except (OSError, IndexError):
                pass
            time.sleep(0.1)
        seconds = time.perf_counter() - began
        if proc.wait(timeout=60) != 0:
            out.seek(0)
            sys.exit(f"task_cost benchmark: {playbook.name} failed:\n{out.read()[-3000:]}")
    return seconds, peak


def forks() -> None:
    print("forks: 100 each, a Python process holding N objects (milliseconds per fork)")
    print(f"{'RSS MB':>7} {'wall':>7} {'parent sys':>11} {'child sys':>10}")
    for objects in (0, 500_000, 1_000_000, 1_500_000, 3_000_000):
        out = subprocess.run([sys.executable, "-c", FORK_CHILD, str(objects)], capture_output=True, text=True,
                             check=True, timeout=600).stdout.split()
        rss, wall, parent, child = int(out[0]), float(out[1]), float(out[2]), float(out[3])
        print(f"{rss:7d} {wall:7.1f} {parent:11.1f} {child:10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=40, help="N: tasks in 'tasks', loop items in 'loop'")
    parser.add_argument("--apt", action="store_true", help="only the install step's cost: apt against dpkg-query first")
    args = parser.parse_args()
    if not args.apt:
        forks()
    with tempfile.TemporaryDirectory(prefix="task-cost-") as tmp:
        books = (apt_playbooks if args.apt else playbooks)(Path(tmp), args.tasks)
        timed(books["one"])   # warm-up: SSH host keys, the fact cache's directory, the page cache
        times: dict[str, list[float]] = {label: [] for label in books}
        for round_ in range(1, args.rounds + 1):
            for label, book in books.items():
                seconds, peak = timed(book)
                times[label].append(seconds)
                print(f"round {round_} {label:5} {seconds:6.1f} s  (controller's peak RSS {peak} MB)")
    median = {label: statistics.median(values) for label, values in times.items()}
    if args.apt:
        apt = (median["apt"] - median["one"]) / args.tasks
        dpkg = (median["dpkg"] - median["one"]) / args.tasks
        print(f"medians: one {median['one']:.1f} s, {args.tasks} apt tasks {median['apt']:.1f} s, "
              f"{args.tasks} dpkg-query + skipped apt {median['dpkg']:.1f} s")
        print(f"an install step on the 8 hosts, its packages there: apt {apt:.2f} s, dpkg-query first {dpkg:.2f} s "
              f"({apt / dpkg:.1f}x)")
        return 0
    per_task = (median["tasks"] - median["one"]) / (args.tasks - 1)
    per_item = (median["loop"] - median["one"]) / args.tasks
    print(f"medians: one {median['one']:.1f} s, {args.tasks} tasks {median['tasks']:.1f} s, "
          f"one + a {args.tasks}-item loop {median['loop']:.1f} s")
    print(f"one more task on the 8 hosts: {per_task:.2f} s; one more loop item: {per_item:.2f} s "
          f"(task / item {per_task / per_item:.1f}x)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("ANSIBLE_FORCE_COLOR", "0")
    sys.exit(main())
