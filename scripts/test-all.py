#!/usr/bin/env python3
"""Run every test suite of the project and print one summary (called by `make test` and .ci/run).

Suites, in order: lint (yamllint, ansible-lint, ruff, doc paths, tags), argspecs (argument_specs vs
defaults), unit (pytest: filter plugins and playbook preflights), molecule (every
scenario under roles/*/molecule/ and molecule/), sandbox (the whole topology:
bring-up, site.yml twice with changed=0 the second time, behaviour tests).

Each suite's and scenario's output goes to reports/<name>.log; the console gets
one line per step with its duration, the tail of the log when it fails, and a
last line `N passed, N failed` that sums the tests of every suite.

The suites' steps run side by side, `--jobs` at a time (default 2, or
PAAS_TEST_JOBS): the sandbox chain first, lint, argspecs and unit beside it,
then the Molecule scenarios, longest first. Each scenario works on its own
containers and network.

    scripts/test-all.py                  # everything
    scripts/test-all.py lint unit        # some suites
    scripts/test-all.py molecule --scenario common/default
    scripts/test-all.py --jobs 1                 # one scenario at a time
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
VENV_BIN = ROOT / ".venv" / "bin"
SUITES = ["lint", "argspecs", "unit", "molecule", "sandbox"]
# Suites whose steps use containers (the others run on the controller alone).
CONTAINER_SUITES = ["molecule", "sandbox"]
PRINT_LOCK = threading.Lock()


@dataclass
class Step:
    name: str
    passed: int = 0
    failed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("NO_COLOR", "1")
    e["ANSIBLE_FORCE_COLOR"] = "false"
    e["PY_COLORS"] = "0"
    return e


def run(name: str, argv: list[str], cwd: Path = ROOT, extra_env: dict[str, str] | None = None,
        timeout: int = 1800) -> tuple[int, float, Path]:
    """Run a command with its output in reports/<name>.log; return (rc, seconds, log)."""
    log = REPORTS / f"{name.replace('/', '-')}.log"
    e = env()
    e.update(extra_env or {})
    start = time.monotonic()
    with log.open("w") as out:
        try:
            rc = subprocess.run(argv, cwd=cwd, env=e, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\n*** timed out after {timeout} s ***\n")
            rc = 124
    return rc, time.monotonic() - start, log


def junit_counts(path: Path) -> tuple[int, int] | None:
    """(passed, failed) from a pytest JUnit XML file; skipped tests count as neither."""
    if not path.is_file():
        return None
    root = ET.parse(path).getroot()  # noqa: S314 - the JUnit file pytest just wrote, not untrusted data
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed


def junit_file_seconds(path: Path) -> list[tuple[str, float]]:
    """Seconds per test file (the sum of its tests), slowest first, from a pytest JUnit XML file."""
    if not path.is_file():
        return []
    root = ET.parse(path).getroot()  # noqa: S314 - the JUnit file pytest just wrote, not untrusted data
    seconds: dict[str, float] = {}
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").rsplit(".", 1)[-1] + ".py"
        seconds[module] = seconds.get(module, 0.0) + float(case.get("time") or 0)
    return sorted(seconds.items(), key=lambda item: -item[1])


PYTEST_FAILURE = re.compile(r"(FAILED|ERROR) \S+::")
FAILURE_MARKS = ("fatal: [", "failed: [", "ERROR!", "An exception occurred")


def ansible_failures(text: list[str], limit: int = 12, width: int = 400) -> list[str]:
    """Each Ansible failure in a log with the task it happened in, cut to one line.

    The end of a failed converge's log is often a module's long result (a unit's
    properties), which does not say which task failed on which host; these lines do.
    """
    found: list[str] = []
    task = ""
    for line in text:
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.rstrip(" *")
        elif line.startswith(FAILURE_MARKS):
            found.extend([task, line[:width]] if task else [line[:width]])
            if len(found) >= 2 * limit:
                break
    return found


def pytest_failures(text: list[str], limit: int = 12, width: int = 400) -> list[str]:
    """pytest's one-line summary of each failed test (`FAILED file::test - reason`).

    A failed verify step's log ends with Molecule's clean-up, and CI shows only the
    end of what a run printed; without these lines it does not say which test failed.
    """
    return [line[:width] for line in text if PYTEST_FAILURE.match(line)][:limit]


def tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace").splitlines()
    failures = pytest_failures(text) + ansible_failures(text)
    shown = [*failures, "..."] if failures else []
    shown += text[-(15 if failures else lines):]
    return "\n".join("    | " + line for line in shown)


def report(step: Step, rc: int, log: Path) -> Step:
    status = "PASS" if rc == 0 and step.failed == 0 else "FAIL"
    with PRINT_LOCK:
        print(f"  {status} {step.name:<34} {step.seconds:7.1f} s   {step.passed} passed, {step.failed} failed"
              f"   (log: {log.relative_to(ROOT)})", flush=True)
        if status == "FAIL":
            print(tail(log), flush=True)
    return step


def command_step(name: str, argv: list[str], **kw) -> Step:
    rc, secs, log = run(name, argv, **kw)
    step = Step(name, passed=int(rc == 0), failed=int(rc != 0), seconds=secs)
    return report(step, rc, log)


def pytest_step(name: str, argv: list[str], per_file: bool = False, **kw) -> Step:
    """A pytest run as one step; per_file also prints each test file's seconds, so growth shows where."""
    xml = REPORTS / f"{name.replace('/', '-')}.xml"
    xml.unlink(missing_ok=True)
    rc, secs, log = run(name, [*argv, f"--junitxml={xml}"], **kw)
    counts = junit_counts(xml) or (0, 0)
    step = Step(name, *counts, seconds=secs)
    if rc not in (0, 5) and step.failed == 0:
        step.failed = 1  # pytest itself failed (collection error, crash)
    if rc == 5:
        step.notes.append("no tests collected")
    report(step, 0 if rc in (0, 5) else rc, log)
    if per_file:
        with PRINT_LOCK:
            for module, seconds in junit_file_seconds(xml):
                print(f"       {module:<34} {seconds:7.1f} s", flush=True)
    return step


def suite_lint() -> list[Step]:
    return [
        command_step("lint/yamllint", ["yamllint", "--strict", "."]),
        command_step("lint/ansible-lint", ["ansible-lint", "--offline"]),
        command_step("lint/ruff", ["ruff", "check", "."]),
        command_step("lint/doc-paths", [str(VENV_BIN / "python"), "scripts/check-doc-paths.py"]),
        command_step("lint/tags", [str(VENV_BIN / "python"), "scripts/check-tags.py"]),
    ]


def suite_argspecs() -> list[Step]:
    rc, secs, log = run("argspecs", [str(VENV_BIN / "python"), "scripts/check-argument-specs.py"])
    last = log.read_text().strip().splitlines()[-1:] or ["0 passed, 1 failed"]
    passed, failed = (int(part.split()[0]) for part in last[0].split(", "))
    return [report(Step("argspecs", passed, failed, secs), rc, log)]


def suite_unit() -> list[Step]:
    return [pytest_step("unit", ["pytest", "-q", "tests/unit", "tests/playbooks"])]


def scenarios() -> list[tuple[str, Path, str]]:
    """(label, directory to run molecule in, scenario name) for every scenario."""
    found = []
    for molecule_yml in sorted(ROOT.glob("roles/*/molecule/*/molecule.yml")):
        # A role whose scenario is a link to a companion role's (an exporter's to its service's,
        # Alertmanager's to Prometheus's: both converged and tested on one host, as on the real
        # hosts) is run once, under the scenario's own role.
        if molecule_yml.parent.is_symlink():
            continue
        role_dir = molecule_yml.parents[2]
        found.append((f"{role_dir.name}/{molecule_yml.parent.name}", role_dir, molecule_yml.parent.name))
    for molecule_yml in sorted(ROOT.glob("molecule/*/molecule.yml")):
        found.append((f"stack/{molecule_yml.parent.name}", ROOT, molecule_yml.parent.name))
    return found


def molecule_scenario(label: str, cwd: Path, scenario: str) -> list[Step]:
    xml = REPORTS / f"molecule-{label.replace('/', '-')}.xml"
    xml.unlink(missing_ok=True)
    rc, secs, log = run(f"molecule-{label}", ["molecule", "test", "-s", scenario], cwd=cwd,
                        extra_env={"PYTEST_ADDOPTS": f"--junitxml={xml}"}, timeout=2400)
    passed, failed = junit_counts(xml) or (0, 0)
    if rc != 0 and failed == 0:
        failed = 1  # failed outside verify: create, converge, idempotence or check
    return [report(Step(f"molecule {label}", passed, failed, secs), rc, log)]


# The longest scenarios start first (measured, docs/development.md "Where the time
# goes"), so that no long one starts last beside an idle slot; the others follow
# in name order.
LONGEST_FIRST = ["hardening/default", "postgresql/replication", "pgbackrest/default", "redis/default",
                 "redis_sentinel/default", "restic/default", "postgresql/default", "pgbouncer/default",
                 "seaweedfs/default", "prometheus/default", "certbot/default", "kamal_host/default",
                 "nginx/default", "blackbox_exporter/default"]


def molecule_jobs(only: list[str]) -> list:
    """One job per scenario (a callable returning its steps), longest first."""
    found = [s for s in scenarios() if not only or s[0] in only]
    found.sort(key=lambda s: LONGEST_FIRST.index(s[0]) if s[0] in LONGEST_FIRST else len(LONGEST_FIRST))
    return [partial(molecule_scenario, label, cwd, scenario) for label, cwd, scenario in found]


# The sandbox's playbook runs log at -vvv: tests/sandbox/test_secrets.py searches
# that output for every vault value.
VVV = {"ANSIBLE_VERBOSITY": "3"}


def suite_sandbox() -> list[Step]:
    # The security scan's tools (tests/sandbox/test_security.py): nmap, testssl.sh, .venv-scan.
    steps = [command_step("sandbox/scan-tools", ["make", "--no-print-directory", "scan-tools"], timeout=900)]
    if steps[-1].failed:
        return steps
    steps.append(command_step("sandbox/up", ["make", "--no-print-directory", "sandbox-up"], timeout=900))
    if steps[-1].failed:
        return steps
    steps.append(command_step("sandbox/converge", ["make", "--no-print-directory", "sandbox-converge"],
                              timeout=2400, extra_env=VVV))
    if steps[-1].failed:
        return steps
    # The second run is the nightly drift check's: site.yml in check and diff mode after the converge,
    # every role on the production topology, with no change on any host. It is where check mode is
    # tested (the Molecule scenarios test each role's idempotence, with no check step of their own),
    # and at -vvv with --diff it is where a template's diff would print a secret.
    rc, secs, log = run("sandbox/check", ["make", "--no-print-directory", "sandbox-check"], timeout=1500,
                        extra_env=VVV)
    text = log.read_text()
    recap = [line for line in text.splitlines() if " changed=" in line and " unreachable=" in line]
    changed = [line for line in recap if " changed=0 " not in line]
    step = Step("sandbox/check", seconds=secs)
    step.passed, step.failed = (1, 0) if rc == 0 and recap and not changed else (0, 1)
    if changed:
        with log.open("a") as out:
            out.write("\nDrift right after the converge, hosts with changes in check mode:\n" + "\n".join(changed)
                      + "\n")
    steps.append(report(step, rc, log))
    # The demo app, deployed by Kamal (playbooks/deploy.yml), as `make sandbox` does.
    steps.append(command_step("sandbox/deploy", ["make", "--no-print-directory", "sandbox-deploy"], timeout=1200,
                              extra_env=VVV))
    # The behaviour tests took 1635 s of CI's 1800-s default before the rotation tests came (docs/development.md).
    steps.append(pytest_step("sandbox/verify", ["pytest", "-q", "-p", "no:cacheprovider", "tests/sandbox"],
                             per_file=True, timeout=3000))
    return steps


def guarded(suite: str, job) -> list[Step]:
    """Run a job; a crash of the runner itself counts as one failed step, not a lost suite."""
    try:
        return job()
    except Exception as exc:
        with PRINT_LOCK:
            print(f"  FAIL {suite}: the test runner crashed: {exc!r}", flush=True)
        return [Step(f"{suite} (runner crashed)", failed=1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", help=f"suites to run, among {', '.join(SUITES)} (default: all)")
    parser.add_argument("--scenario", action="append", default=[], help="only this molecule scenario (role/name)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("PAAS_TEST_JOBS", "2")),
                        help="scenarios (and the sandbox) run at a time (default 2, or PAAS_TEST_JOBS)")
    args = parser.parse_args()
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose among {', '.join(SUITES)}")
    selected = args.suites or SUITES
    REPORTS.mkdir(exist_ok=True)

    started = time.monotonic()
    # One pool, --jobs at a time: the sandbox (the longest chain) starts first, the
    # controller-only suites (lint, argspecs, unit) run beside it in the other slot
    # instead of before everything, then the scenarios follow longest first.
    jobs: list[tuple[str, object]] = []
    if "sandbox" in selected:
        jobs.append(("sandbox", suite_sandbox))
    jobs += [(suite, globals()[f"suite_{suite}"]) for suite in SUITES
             if suite in selected and suite not in CONTAINER_SUITES]
    if "molecule" in selected:
        jobs += [("molecule", job) for job in molecule_jobs(args.scenario)]
    print(f"== {', '.join(s for s in SUITES if s in selected)} ({max(1, args.jobs)} at a time)", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [(suite, pool.submit(guarded, suite, job)) for suite, job in jobs]
        done = [(suite, future.result()) for suite, future in futures]
    wall = time.monotonic() - started
    results: list[tuple[str, float, list[Step]]] = []
    for suite in SUITES:
        steps = [step for name, part in done if name == suite for step in part]
        if suite in selected:
            results.append((suite, sum(step.seconds for step in steps), steps))
    busy = sum(step.seconds for _, part in done for step in part)
    print(f"  ({wall:.1f} s wall clock for {busy:.1f} s of steps)", flush=True)

    total_passed = sum(s.passed for _, _, steps in results for s in steps)
    total_failed = sum(s.failed for _, _, steps in results for s in steps)
    print("\n== durations (each suite: the sum of its steps; suites overlap)")
    for suite, secs, steps in results:
        print(f"  {suite:<12} {secs:7.1f} s   {sum(s.passed for s in steps)} passed, "
              f"{sum(s.failed for s in steps)} failed")
    print(f"  {'total':<12} {time.monotonic() - started:7.1f} s")
    print(f"{total_passed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
