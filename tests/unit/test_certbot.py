"""Unit tests for filter_plugins/certbot.py (the certbot role's preflight and what to issue)."""

from __future__ import annotations

from certbot import certbot_problems, certbot_to_issue

SITE = {"name": "portfolio", "domains": ["paas.example.org", "www.paas.example.org"], "challenge": "http"}
WILDCARD = {"name": "tenants", "domains": ["*.paas.example.org"], "challenge": "dns"}


def test_valid_certificates_have_no_problems():
    assert certbot_problems([SITE, WILDCARD, {"name": "plain", "domains": ["a.example.org"]}]) == []


def test_a_wildcard_without_dns01_is_refused():
    assert certbot_problems([{**WILDCARD, "challenge": "http"}]) == [
        "certbot_certificates[tenants]: the wildcard *.paas.example.org needs challenge: dns "
        "(Let's Encrypt issues wildcards only through DNS-01)"]


def test_bad_names_domains_and_challenges_are_named():
    problems = certbot_problems([SITE, SITE, {"name": "Bad", "domains": [], "challenge": "tls"},
                                 {"name": "x", "domains": ["no spaces.example.org", "*.*.example.org"]}])
    assert "certbot_certificates: name 'portfolio' is used 2 times" in problems
    assert any(p.startswith("certbot_certificates[Bad].name must be") for p in problems)
    assert "certbot_certificates[Bad].domains is empty" in problems
    assert "certbot_certificates[Bad].challenge is 'tls': use http or dns" in problems
    assert "certbot_certificates[x].domains: 'no spaces.example.org' is not a host name" in problems
    assert "certbot_certificates[x].domains: '*.*.example.org' is not a host name" in problems


def info(cert, sans=None, failed=False):
    result = {"item": cert, "failed": failed}
    if sans is not None:
        result["subject_alt_name"] = [f"DNS:{s}" for s in sans]
    return result


def test_to_issue_missing_or_changed_certificates_only():
    infos = [info(SITE, ["www.paas.example.org", "paas.example.org"]),   # same names, other order
             info(WILDCARD, failed=True)]                                  # no certificate yet
    assert certbot_to_issue([SITE, WILDCARD], infos) == [WILDCARD]
    grown = {**SITE, "domains": [*SITE["domains"], "blog.paas.example.org"]}
    assert certbot_to_issue([grown], [info(SITE, SITE["domains"])]) == [grown]
