#!/usr/bin/python3
"""A DAST scan of one site with Debian's Wapiti (3.0.4), the site's name pinned to an address as DNS
would (a load balancer that the name does not point at yet, or the sandbox's).

    /usr/bin/python3 scripts/dast-scan.py NAME ADDRESS SECONDS [WAPITI OPTION...]

Crawls https://NAME/ (its folder scope) and attacks what it finds with Wapiti's common modules but
SSRF (whose check needs Wapiti's public endpoint), for at most SECONDS in all; the certificate is
verified (against REQUESTS_CA_BUNDLE when set, the sandbox's ACME roots, else the system's trust
store). The scan talks to ADDRESS only: every other name fails to resolve (Wapiti would otherwise
fetch its technology database from the web and send SSRF payloads naming its endpoint).

Prints one JSON object: the crawled URL count and every finding (vulnerabilities and anomalies) as
category, level (Wapiti's: 4 critical, 3 high, 2 medium, 1 low, 0 info), method, path, parameter and
Wapiti's description. Runs with the system's Python, where Debian installs Wapiti (`apt-get install
wapiti`; scripts/scan-tools.sh does). Used by playbooks/security-scan.yml.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import sys
import tempfile
from pathlib import Path


def findings(report: dict) -> list[dict]:
    found = []
    for section in ("vulnerabilities", "anomalies"):
        for category, items in (report.get(section) or {}).items():
            found += [{"category": category, "level": int(item.get("level", 0)), "method": item.get("method"),
                       "path": item.get("path"), "parameter": item.get("parameter") or "",
                       "info": item.get("info", "")} for item in items]
    return found


def main() -> int:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    name, address, seconds, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    resolve = socket.getaddrinfo

    def pinned(host, *args, **kwargs):
        if host not in (name, address):
            raise socket.gaierror(socket.EAI_NONAME, f"dast-scan talks to {name} only")
        return resolve(address, *args, **kwargs)

    socket.getaddrinfo = pinned
    from wapitiCore.main.wapiti import wapiti_main

    with tempfile.TemporaryDirectory(prefix="dast-") as scratch:
        report = Path(scratch) / "report.json"
        sys.argv = ["wapiti", "--url", f"https://{name}/", "--scope", "folder", "--module", "common,-ssrf",
                    "--verify-ssl", "1",
                    "--max-scan-time", seconds, "--store-session", scratch, "--flush-session",
                    "--format", "json", "--output", str(report), *extra]
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            code = wapiti_main()
        if code or not report.exists():
            sys.exit(f"dast-scan: wapiti failed (exit {code}):\n{log.getvalue()[-3000:]}")
        data = json.loads(report.read_text())
    crawled = re.search(r"Wapiti found (\d+) URLs and forms", log.getvalue())
    print(json.dumps({"crawled": int(crawled.group(1)) if crawled else 0, "findings": findings(data)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
