"""Filters for the certbot role. Pure functions; tests: tests/unit/test_certbot.py.

    {{ settings | certbot_problems }}                     -> the role's preflight: [message naming the variable, ...]
    {{ certbot_certificates | certbot_to_issue(infos) }}  -> certificates missing or with other names
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: certbot_problems
short_description: The certbot role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the certbot_ prefix (certificates, email, dns_provider,
    rfc2136_server, rfc2136_key_name) and whether each DNS secret is set (rfc2136_key_secret_set,
    cloudflare_api_token_set), never a secret.
---
name: certbot_to_issue
short_description: The certificates to issue now - none yet on the host, or one naming other domains
positional: infos
"""
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

HOST = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def certbot_certificate_problems(certificates) -> list:
    """Certificates with bad names, no or invalid domains, or a wildcard without DNS-01."""
    if not isinstance(certificates, list):
        raise AnsibleFilterError(f"certbot_certificates must be a list of certificates, got {certificates!r}")
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


def _uses_dns(settings: Mapping) -> bool:
    return any(cert.get("challenge") == "dns" for cert in settings["certificates"])


def _rule_contact_address(settings: Mapping) -> list:
    if settings["certificates"] and not EMAIL.match(str(settings["email"])):
        return ["certbot_email is empty: an ACME account needs a contact address (expiry notices)"]
    return []


def _rule_certificates(settings: Mapping) -> list:
    return certbot_certificate_problems(settings["certificates"])


def _rule_rfc2136_settings(settings: Mapping) -> list:
    if not (_uses_dns(settings) and settings["dns_provider"] == "rfc2136"):
        return []
    if settings["rfc2136_server"] and settings["rfc2136_key_name"] and settings["rfc2136_key_secret_set"]:
        return []
    return ["certbot_rfc2136_server, certbot_rfc2136_key_name and certbot_rfc2136_key_secret are needed for DNS-01 "
            "with certbot_dns_provider rfc2136"]


def _rule_cloudflare_token(settings: Mapping) -> list:
    if _uses_dns(settings) and settings["dns_provider"] == "cloudflare" and not settings["cloudflare_api_token_set"]:
        return ["certbot_cloudflare_api_token is empty (set it from the vault) for DNS-01 with certbot_dns_provider "
                "cloudflare"]
    return []


CERTBOT_RULES: tuple[Callable[[Mapping], list], ...] = (
    _rule_contact_address, _rule_certificates, _rule_rfc2136_settings, _rule_cloudflare_token,
)

CERTBOT_SETTINGS = ("certificates", "email", "dns_provider", "rfc2136_server", "rfc2136_key_name",
                    "rfc2136_key_secret_set", "cloudflare_api_token_set")


def certbot_problems(settings) -> list:
    """Every broken cross-variable rule of the certbot role, in CERTBOT_RULES' order, each naming the variable."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"certbot_problems: expected the role's settings as a dictionary, got {settings!r}")
    missing = [key for key in CERTBOT_SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError(f"certbot_problems: settings lack {', '.join(missing)}")
    return [problem for rule in CERTBOT_RULES for problem in rule(settings)]


def certbot_to_issue(certificates, infos) -> list:
    """The certificates to (re)issue: no certificate yet, or one whose names differ from the inventory's.

    infos: results of a loop of community.crypto.x509_certificate_info over the certificates (failed or
    skipped items mean no certificate).
    """
    if not isinstance(infos, list):
        raise AnsibleFilterError(f"certbot_to_issue: expected the results of a loop, got {infos!r}")
    current = {}
    for info in infos:
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
