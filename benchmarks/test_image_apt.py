#!/usr/bin/env python3
"""Benchmark: what the test image could do to make the test hosts' package installs cheaper.

    .venv/bin/python benchmarks/test_image_apt.py [--rounds 2]

Every round starts one fresh test host per variant from the project image and
installs the same package set (the data, edge and hardening tiers' packages)
with `apt-get install -y`, as the roles do. The package lists are refreshed
before the clock starts (every converge does that once, whatever the variant).
Variants, alternating in one run so machine noise hits all alike:

- "plain": dpkg as Debian configures it, as the image has it;
- "unsafe-io": dpkg's `force-unsafe-io` (no fsync per unpacked file), which
  only a throwaway test container could use;
- "unsafe-io+cached": the same, with the packages already in apt's archive
  cache (`--download-only` before the clock starts), as an image that
  predownloads them would have. The install itself still runs.

Prints each install's seconds and the medians with their ratios to "plain";
the results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchlib import in_host, test_hosts

PACKAGES = ["postgresql-15", "pgbouncer", "redis-server", "nginx", "certbot", "fail2ban", "nftables", "auditd",
            "rsyslog", "chrony", "aide"]
UNSAFE_IO_FILE = "/etc/dpkg/dpkg.cfg.d/90-test-image-unsafe-io"  # as scripts/build-test-image.sh writes it
UNSAFE_IO = f"echo force-unsafe-io > {UNSAFE_IO_FILE}"
APT = "DEBIAN_FRONTEND=noninteractive apt-get -y -q"
VARIANTS = {
    "plain": [f"rm -f {UNSAFE_IO_FILE}"],
    "unsafe-io": [UNSAFE_IO],
    "unsafe-io+cached": [UNSAFE_IO, f"{APT} --download-only install {' '.join(PACKAGES)}"],
}
NETWORK = "paas-bench-apt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {label: [] for label in VARIANTS}
    for i in range(args.rounds):
        names = [f"bench-apt-{i}-{n}" for n in range(len(VARIANTS))]
        with test_hosts(names, NETWORK):
            for name, (label, setup) in zip(names, VARIANTS.items(), strict=True):
                in_host(name, f"{APT} update", "refreshing the package lists", timeout=1200)
                for command in setup:
                    in_host(name, command, f"preparing {label}", timeout=1200)
                start = time.monotonic()
                in_host(name, f"{APT} install {' '.join(PACKAGES)}", f"installing ({label})", timeout=1200)
                times[label].append(time.monotonic() - start)
                print(f"round {i + 1}: {label:<17} {times[label][-1]:6.1f} s", flush=True)
    plain = statistics.median(times["plain"])
    print(f"\nmedian install of {len(PACKAGES)} packages and their dependencies:")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:<17} {median:6.1f} s  plain/{label} = {plain / median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
