#!/usr/bin/env python3
"""Benchmark: Lynis hardening index of a bare Debian 12 test host vs one converged with common + hardening.

    .venv/bin/python benchmarks/lynis.py [--keep]

Starts two test hosts from the project image with the shared container settings
(.config/molecule/create.yml), converges `common` and `hardening` on one, installs
Lynis from Debian on both, runs `lynis audit system` on each side by side, prints
both indexes and the hardened host's remaining suggestions (for docs/security.md),
then removes the hosts. Target: index >= 85 on the hardened host.

A second, labelled figure runs Lynis again on the hardened host with
benchmarks/lynis-container.prf, which skips the tests whose subject belongs to
the host kernel or Docker in a container (sysctl, auditd, MAC, mounts). The first
figure is the measurement; the second shows what is left once those are set aside.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOSTS = {"bare": "paas-lynis-bare", "hardened": "paas-lynis-hardened"}
PLATFORMS = json.dumps({"molecule_yml": {"platforms": [{"name": n, "networks": [{"name": "paas-lynis"}]}
                                                       for n in HOSTS.values()]}})


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, **kw)


def must(argv: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    proc = run(argv, **kw)
    if proc.returncode != 0:
        sys.exit(f"lynis benchmark: {what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc


CONTAINER_PROFILE = ROOT / "benchmarks" / "lynis-container.prf"


def lynis(container: str, profile: Path | None = None) -> tuple[int, list[str]]:
    must(["docker", "exec", container, "sh", "-c", "apt-get update -qq && apt-get install -y -qq lynis >/dev/null"],
         f"installing lynis on {container}", timeout=600)
    extra = []
    if profile:
        must(["docker", "cp", str(profile), f"{container}:/root/{profile.name}"], "copying the profile")
        extra = ["--profile", f"/root/{profile.name}"]
    must(["docker", "exec", container, "lynis", "audit", "system", "--quick", "--no-colors", *extra],
         f"lynis on {container}", timeout=900)
    report = must(["docker", "exec", container, "cat", "/var/log/lynis-report.dat"], "reading the report").stdout
    index = int(re.search(r"^hardening_index=(\d+)$", report, re.M).group(1))
    suggestions = [line.split("=", 1)[1] for line in report.splitlines() if line.startswith("suggestion[]=")]
    return index, suggestions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the two hosts running")
    args = parser.parse_args()
    playbook = str(BIN / "ansible-playbook")
    try:
        must([playbook, ".config/molecule/create.yml", "-e", PLATFORMS], "creating the test hosts", timeout=600)
        must([playbook, "-i", f"{HOSTS['hardened']},", "-c", "community.docker.docker", "benchmarks/lynis-harden.yml"],
             "converging common + hardening", timeout=1800)
        results = {label: lynis(name) for label, name in HOSTS.items()}
        results["hardened-server-only-skipped"] = lynis(HOSTS["hardened"], CONTAINER_PROFILE)
    finally:
        if not args.keep:
            run([playbook, ".config/molecule/destroy.yml", "-e", PLATFORMS], timeout=300)
    bare, hardened = results["bare"][0], results["hardened"][0]
    print(f"Lynis hardening index: bare {bare}, hardened {hardened} (target >= 85)")
    print(f"Hardened, with the container-only tests of {CONTAINER_PROFILE.name} skipped: "
          f"{results['hardened-server-only-skipped'][0]}")
    print("Remaining suggestions on the hardened host:")
    for suggestion in results["hardened"][1]:
        test_id, text, *_ = [*suggestion.split("|"), ""]
        print(f"  {test_id}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
