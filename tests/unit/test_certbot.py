"""Unit tests for filter_plugins/certbot.py (the certbot role's preflight and what to issue)."""

from __future__ import annotations

import pytest
from certbot import AnsibleFilterError, certbot_certificate_problems, certbot_problems, certbot_to_issue

SITE = {"name": "portfolio", "domains": ["paas.example.org", "www.paas.example.org"], "challenge": "http"}
WILDCARD = {"name": "tenants", "domains": ["*.paas.example.org"], "challenge": "dns"}


def test_valid_certificates_have_no_problems():
    assert certbot_certificate_problems([SITE, WILDCARD, {"name": "plain", "domains": ["a.example.org"]}]) == []


def test_a_wildcard_without_dns01_is_refused():
    assert certbot_certificate_problems([{**WILDCARD, "challenge": "http"}]) == [
        "certbot_certificates[tenants]: the wildcard *.paas.example.org needs challenge: dns "
        "(Let's Encrypt issues wildcards only through DNS-01)"]


def test_bad_names_domains_and_challenges_are_named():
    problems = certbot_certificate_problems([SITE, SITE, {"name": "Bad", "domains": [], "challenge": "tls"},
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


ROLE_OK = {"certificates": [SITE, WILDCARD], "email": "ops@example.org", "dns_provider": "rfc2136",
           "rfc2136_server": "10.0.0.53", "rfc2136_key_name": "certbot", "rfc2136_key_secret_set": True,
           "cloudflare_api_token_set": False}


def test_http_and_dns01_certificates_with_their_settings_break_no_rule():
    assert certbot_problems(ROLE_OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"email": ""}, "certbot_email is empty: an ACME account needs a contact address (expiry notices)"),
    ({"email": "ops@localhost"}, "certbot_email is empty: an ACME account needs a contact address (expiry notices)"),
    ({"certificates": [], "email": ""}, None),       # no certificate, no account needed
    ({"rfc2136_key_secret_set": False},
     "certbot_rfc2136_server, certbot_rfc2136_key_name and certbot_rfc2136_key_secret are needed for DNS-01 "
     "with certbot_dns_provider rfc2136"),
    ({"rfc2136_server": "", "certificates": [SITE]}, None),    # HTTP-01 only: no DNS settings needed
    ({"dns_provider": "cloudflare"}, "certbot_cloudflare_api_token is empty (set it from the vault) for DNS-01 "
                                     "with certbot_dns_provider cloudflare"),
    ({"dns_provider": "cloudflare", "cloudflare_api_token_set": True}, None),
    ({"certificates": [SITE, {**WILDCARD, "challenge": "http"}]},
     "certbot_certificates[tenants]: the wildcard *.paas.example.org needs challenge: dns "
     "(Let's Encrypt issues wildcards only through DNS-01)"),
])
def test_each_role_rule_is_broken_alone_with_its_message(changes, message):
    assert certbot_problems({**ROLE_OK, **changes}) == ([message] if message else [])


@pytest.mark.parametrize(("call", "match"), [
    (lambda: certbot_problems([SITE]), "certbot_problems: expected the role's settings as a dictionary"),
    (lambda: certbot_certificate_problems({"name": "portfolio"}), "certbot_certificates must be a list"),
    (lambda: certbot_to_issue([SITE], None), "certbot_to_issue: expected the results of a loop"),
    (lambda: certbot_problems({key: value for key, value in ROLE_OK.items() if key != "email"}),
     "certbot_problems: settings lack email"),
])
def test_input_of_the_wrong_shape_is_an_error_naming_the_filter(call, match):
    with pytest.raises(AnsibleFilterError, match=match):
        call()
