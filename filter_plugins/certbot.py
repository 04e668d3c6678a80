"""Filters for the certbot role. Pure functions; tests: tests/unit/test_certbot.py.

    {{ certbot_certificates | certbot_problems }}        -> [message naming the variable, ...]
    {{ certbot_certificates | certbot_to_issue(infos) }}  -> certificates missing or with other names
"""

from __future__ import annotations

import re
from collections import Counter

HOST = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def certbot_problems(certificates) -> list:
    """Certificates with bad names, no or invalid domains, or a wildcard without DNS-01."""
    problems = []
    names = Counter(c.get("name") for c in certificates or [])
    problems += [f"certbot_certificates: name {n!r} is used {k} times" for n, k in names.items() if k > 1]
    for index, cert in enumerate(certificates or []):
        where = f"certbot_certificates[{cert.get('name', index)}]"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(cert.get("name", ""))):
            problems.append(f"{where}.name must be lower-case letters, digits, '-' or '_' (the nginx site's name)")
        domains = cert.get("domains") or []
        if not domains:
            problems.append(f"{where}.domains is empty")
        problems += [f"{where}.domains: {d!r} is not a host name" for d in domains if not HOST.match(str(d).lower())]
        challenge = cert.get("challenge", "http")
        if challenge not in ("http", "dns"):
            problems.append(f"{where}.challenge is {challenge!r}: use http or dns")
        wildcards = [d for d in domains if str(d).startswith("*.")]
        if wildcards and challenge != "dns":
            problems.append(f"{where}: the wildcard {wildcards[0]} needs challenge: dns (Let's Encrypt issues "
                            "wildcards only through DNS-01)")
    return problems


def certbot_to_issue(certificates, infos) -> list:
    """The certificates to (re)issue: no certificate yet, or one whose names differ from the inventory's.

    infos: results of a loop of community.crypto.x509_certificate_info over the certificates (failed or
    skipped items mean no certificate).
    """
    current = {}
    for info in infos or []:
        if info.get("failed") or info.get("skipped") or "subject_alt_name" not in info:
            continue
        sans = [str(n) for n in info.get("subject_alt_name") or []]
        current[info["item"]["name"]] = {n.split(":", 1)[1].lower() for n in sans if n.startswith("DNS:")}
    return [c for c in certificates or []
            if current.get(c["name"]) != {str(d).lower() for d in c.get("domains") or []}]


class FilterModule:
    """certbot filters."""

    def filters(self):
        return {"certbot_problems": certbot_problems, "certbot_to_issue": certbot_to_issue}
