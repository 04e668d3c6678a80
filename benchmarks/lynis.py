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
import re
import sys
from pathlib import Path

from benchlib import ROOT, converge, must, test_hosts

HOSTS = {"bare": "paas-lynis-bare", "hardened": "paas-lynis-hardened"}


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
    with test_hosts(list(HOSTS.values()), "paas-lynis", keep=args.keep):
        converge([HOSTS["hardened"]], "benchmarks/lynis-harden.yml")
        results = {label: lynis(name) for label, name in HOSTS.items()}
        results["hardened-server-only-skipped"] = lynis(HOSTS["hardened"], CONTAINER_PROFILE)
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
