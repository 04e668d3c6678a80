"""Unit tests for filter_plugins/nginx.py (the nginx role's preflight rules)."""

from __future__ import annotations

import pytest
from nginx import (
    AnsibleFilterError,
    csp_problems,
    nginx_certificate_sources,
    nginx_problems,
    nginx_rate_problems,
    nginx_site_problems,
)

RAILS_CSP = ("default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'; "
             "frame-ancestors 'none'; upgrade-insecure-requests")
SITE = {"name": "portfolio", "server_names": ["paas.example.com", "www.paas.example.com"]}


def test_a_valid_csp_has_no_problems():
    assert csp_problems(RAILS_CSP) == []


def test_an_unknown_csp_directive_is_named():
    assert csp_problems("default-src 'self'; scirpt-src 'self'") == ["nginx_csp: unknown CSP directive 'scirpt-src'"]


def test_a_repeated_directive_and_double_quotes_are_refused():
    problems = csp_problems('default-src "self"; default-src \'none\'')
    assert "nginx_csp: directive 'default-src' appears 2 times" in problems
    assert any("double quotes" in p for p in problems)


def test_an_empty_csp_is_refused():
    assert csp_problems("  ") == ["nginx_csp is empty: give a Content-Security-Policy"]


def test_a_valid_site_has_no_problems():
    assert nginx_site_problems([SITE, {**SITE, "name": "tenants", "server_names": ["*.paas.example.com"]}]) == []


def test_a_site_without_server_names_is_refused():
    assert nginx_site_problems([{"name": "portfolio"}]) == [
        "nginx_sites[portfolio].server_names is empty: a site needs at least one server_name"]


def test_site_names_must_be_unique_and_file_safe():
    problems = nginx_site_problems([SITE, SITE, {**SITE, "name": "Bad Name"}])
    assert "nginx_sites: name 'portfolio' is used by 2 sites" in problems
    assert any("nginx_sites[Bad Name].name must be" in p for p in problems)


def test_bad_host_names_half_a_certificate_and_a_bad_site_csp_are_named():
    problems = nginx_site_problems([{**SITE, "server_names": ["paas example.com"], "tls_certificate": "/x.pem",
                                     "csp": "default-src 'self'; bogus 'x'"}])
    assert problems == [
        "nginx_sites[portfolio].server_names: 'paas example.com' is not a host name",
        "nginx_sites[portfolio]: give tls_certificate and tls_certificate_key together",
        "nginx_sites[portfolio].csp: unknown CSP directive 'bogus'",
    ]


def test_an_internal_ca_site_takes_no_certificate_paths():
    assert nginx_site_problems([{**SITE, "internal_ca": True}]) == []
    assert nginx_site_problems([{**SITE, "internal_ca": True, "tls_certificate": "/x.pem",
                                 "tls_certificate_key": "/x.key"}]) == [
        "nginx_sites[portfolio]: internal_ca issues the certificate at the site's own paths: "
        "leave out tls_certificate and tls_certificate_key"]


def test_each_site_s_certificate_source():
    own = {**SITE, "name": "own", "tls_certificate": "/c.pem", "tls_certificate_key": "/k.pem"}
    internal = {**SITE, "name": "internal", "internal_ca": True}
    plain = {**SITE, "internal_ca": False}
    assert nginx_certificate_sources([own, internal, plain, SITE]) == {
        "own": [own], "internal_ca": [internal], "bootstrap": [plain, SITE]}


def test_rates():
    assert nginx_rate_problems("20r/s", "nginx_rate_limit") == []
    assert nginx_rate_problems("10r/m", "nginx_rate_limit_login") == []
    assert nginx_rate_problems("20/s", "nginx_rate_limit") == [
        "nginx_rate_limit is '20/s': write a rate like 20r/s or 10r/m"]


ROLE_OK = {"sites": [SITE], "upstream_servers": ["10.0.0.11:80", "10.0.0.12:80"], "hsts_preload": False,
           "hsts_include_subdomains": False, "hsts_max_age": 63072000, "real_ip_from_not_networks": [],
           "rate_limit": "20r/s", "rate_limit_login": "10r/m", "csp": RAILS_CSP}


def test_the_role_defaults_with_a_site_break_no_rule():
    assert nginx_problems(ROLE_OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"sites": []}, "nginx_sites is empty: give at least one site"),
    ({"upstream_servers": []}, "nginx_upstream_servers is empty: the web group has no hosts to send requests to"),
    ({"upstream_servers": ["10.0.0.11", "10.0.0.12:80"]}, "nginx_upstream_servers: not address:port: 10.0.0.11"),
    ({"hsts_preload": True, "hsts_include_subdomains": False},
     "nginx_hsts_preload needs nginx_hsts_include_subdomains (the preload list requires it)"),
    ({"hsts_preload": True, "hsts_include_subdomains": True, "hsts_max_age": 86400},
     "nginx_hsts_max_age (86400) is under one year (31536000 s): the preload list refuses it"),
    ({"hsts_max_age": 86400}, None),     # a short max-age is the user's choice without preload
    ({"real_ip_from_not_networks": ["cloudfront"]}, "nginx_real_ip_from: not a network: cloudfront"),
    ({"rate_limit": "20/s"}, "nginx_rate_limit is '20/s': write a rate like 20r/s or 10r/m"),
    ({"rate_limit_login": "0r/m"}, "nginx_rate_limit_login is '0r/m': write a rate like 20r/s or 10r/m"),
    ({"csp": ""}, "nginx_csp is empty: give a Content-Security-Policy"),
    ({"sites": [SITE, SITE]}, "nginx_sites: name 'portfolio' is used by 2 sites"),
])
def test_each_role_rule_is_broken_alone_with_its_message(changes, message):
    assert nginx_problems({**ROLE_OK, **changes}) == ([message] if message else [])


def test_a_missing_setting_is_named():
    with pytest.raises(AnsibleFilterError, match="nginx_problems: settings lack csp"):
        nginx_problems({key: value for key, value in ROLE_OK.items() if key != "csp"})


def test_role_rules_want_the_settings_as_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="nginx_problems: expected the role's settings as a dictionary"):
        nginx_problems(["portfolio"])
