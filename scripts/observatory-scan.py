#!/usr/bin/env python3
"""Mozilla's HTTP Observatory scanner (httpobs 0.9.3, its local scan) against one site, the site's name
pinned to an address as DNS would (a load balancer that the name does not point at yet, or the sandbox).

    .venv-scan/bin/python scripts/observatory-scan.py NAME ADDRESS

Prints one JSON object: grade, score, tests passed, tests run, the names of the failed tests. The
certificate is verified against REQUESTS_CA_BUNDLE when set (the sandbox's ACME roots), else the
system's trust store. Used by playbooks/security-scan.yml and benchmarks/tls_scan.py.
"""

from __future__ import annotations

import json
import socket
import sys


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    name, address = sys.argv[1], sys.argv[2]
    resolve = socket.getaddrinfo

    def pinned(host, *args, **kwargs):
        return resolve(address if host == name else host, *args, **kwargs)

    socket.getaddrinfo = pinned
    from httpobs.scanner.local import scan

    result = scan(name)
    print(json.dumps({"grade": result["scan"]["grade"], "score": result["scan"]["score"],
                      "passed": result["scan"]["tests_passed"], "tests": result["scan"]["tests_quantity"],
                      "failed": sorted(k for k, v in result["tests"].items() if not v["pass"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
