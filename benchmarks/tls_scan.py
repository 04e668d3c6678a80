#!/usr/bin/env python3
"""Measurement: the load balancer's TLS and headers graded by the scanners SSL Labs and Mozilla use,
run locally (issue 7). SSL Labs and the public Observatory cannot reach a test container.

    .venv/bin/python benchmarks/tls_scan.py [--keep]

Needs: the scanner virtualenv `.venv-scan` (`make scan-tools`: requirements-scan.txt and httpobs
0.9.3), testssl.sh 3.2 for its rating (TESTSSL=path/to/testssl.sh; github.com/testssl/testssl.sh, tag
v3.2.3: Debian 12's 3.0.8 has no rating) and dig on this machine.

Brings up the certbot role's Molecule scenario (nginx and certbot on a load balancer; pebble and
BIND beside it), so the site serves a certificate pebble issued through certbot, then runs:
sslyze --mozilla_config=intermediate, testssl.sh's rating, and the HTTP Observatory's local scan
(its resolver pointed at the scenario's load balancer). Prints each verdict; results go in
docs/security.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "roles" / "certbot"
LB, ACME = "10.84.0.10", "10.84.0.20"
SITE = "paas.test"
SCAN_BIN = ROOT / ".venv-scan" / "bin"
OBSERVATORY = ROOT / "scripts" / "observatory-scan.py"


def run(argv: list[str], what: str, cwd: Path = ROOT, env: dict | None = None, ok=(0,)) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False,
                          env={**os.environ, **(env or {})})
    if proc.returncode not in ok:
        sys.exit(f"tls scan: {what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the scenario's hosts running")
    args = parser.parse_args()
    testssl = os.environ.get("TESTSSL", "")
    if not (SCAN_BIN / "sslyze").exists() or not Path(testssl).is_file():
        sys.exit(__doc__)
    molecule = str(Path(sys.executable).parent / "molecule")
    path_env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run([molecule, "converge"], "bringing up the certbot scenario", cwd=SCENARIO, env=path_env)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "pebble-root.pem"
            root.write_text(run(["docker", "exec", "certbot-lb", "curl", "-sf", "--cacert",
                                 "/etc/ssl/paas-test-acme-ca.pem", f"https://{ACME}:15000/roots/0"],
                                "fetching pebble's root"))
            sslyze = run([str(SCAN_BIN / "sslyze"), "--mozilla_config=intermediate", "--certinfo_ca_file", str(root),
                          f"{SITE}{{{LB}}}"], "sslyze", ok=(0, 1))
            report = Path(scratch) / "testssl.json"
            rating = run([testssl, "--quiet", "--color", "0", "--add-ca", str(root), "--ip", LB,
                          "--jsonfile", str(report), f"https://{SITE}/"], "testssl.sh", ok=tuple(range(256)))
            observatory = json.loads(run([str(SCAN_BIN / "python"), str(OBSERVATORY), SITE, LB], "httpobs",
                                         env={"REQUESTS_CA_BUNDLE": str(root)}))
    finally:
        if not args.keep:
            run([molecule, "destroy"], "removing the scenario", cwd=SCENARIO, env=path_env, ok=tuple(range(256)))
    compliance = sslyze[sslyze.find("COMPLIANCE AGAINST"):].strip()
    grade = re.search(r"Overall Grade\s+(\S+)", rating)
    score = re.search(r"Final Score\s+(\d+)", rating)
    print("sslyze --mozilla_config=intermediate:")
    print("  " + "\n  ".join(line.strip() for line in compliance.splitlines()[2:] if line.strip()))
    print(f"testssl.sh rating: {grade.group(1) if grade else '?'} (score {score.group(1) if score else '?'})")
    print(f"HTTP Observatory: {observatory['grade']} (score {observatory['score']}, "
          f"{observatory['passed']}/{observatory['tests']} tests passed, failed: {observatory['failed'] or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
