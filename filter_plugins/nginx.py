"""Filters for the nginx role. Pure functions; tests: tests/unit/test_nginx.py.

    {{ nginx_csp | csp_problems }}                         -> [message, ...] for unknown directive names
    {{ nginx_sites | nginx_site_problems }}                -> [message naming the variable, ...]
    {{ value | nginx_rate_problems('nginx_rate_limit') }}  -> [message] when not like 20r/s or 10r/m
    {{ nginx_sites | nginx_certificate_sources }}          -> {own, internal_ca, bootstrap: [site, ...]}
    {{ settings | nginx_problems }}                        -> the role's preflight: [message naming the variable]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: nginx_problems
short_description: The nginx role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the nginx_ prefix (sites, upstream_servers, hsts_preload,
    hsts_include_subdomains, hsts_max_age, rate_limit, rate_limit_login, csp), and real_ip_from_not_networks,
    the entries of nginx_real_ip_from that network.py's invalid_cidrs finds (one parser of networks).
"""

# Directive names of CSP Level 3 and the ones browsers still honour from Level 2.
CSP_DIRECTIVES = frozenset({
    "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem",
    "style-src-attr", "img-src", "font-src", "connect-src", "media-src", "object-src", "frame-src", "child-src",
    "worker-src", "manifest-src", "prefetch-src", "fenced-frame-src", "base-uri", "form-action", "frame-ancestors",
    "sandbox", "report-uri", "report-to", "upgrade-insecure-requests", "block-all-mixed-content",
    "require-trusted-types-for", "trusted-types", "webrtc",
})
SERVER_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
RATE = re.compile(r"^[1-9][0-9]*r/[sm]$")


def csp_problems(csp, variable: str = "nginx_csp") -> list:
    """Unknown or repeated directive names in a Content-Security-Policy value."""
    if not isinstance(csp, str) or not csp.strip():
        return [f"{variable} is empty: give a Content-Security-Policy"]
    names = [part.split()[0].lower() for part in csp.split(";") if part.strip()]
    problems = [f"{variable}: unknown CSP directive {name!r}" for name in names if name not in CSP_DIRECTIVES]
    problems += [f"{variable}: directive {name!r} appears {n} times" for name, n in Counter(names).items() if n > 1]
    if '"' in csp:
        problems.append(f"{variable}: double quotes are not allowed (CSP sources use single quotes)")
    return problems


def nginx_site_problems(sites) -> list:
    """Sites without names, with invalid or repeated names, or with a bad per-site CSP."""
    problems = []
    names = Counter(site.get("name") for site in sites or [])
    problems += [f"nginx_sites: name {name!r} is used by {n} sites" for name, n in names.items() if n > 1]
    for index, site in enumerate(sites or []):
        where = f"nginx_sites[{site.get('name', index)}]"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(site.get("name", ""))):
            problems.append(f"{where}.name must be lower-case letters, digits, '-' or '_' (it names files)")
        server_names = site.get("server_names") or []
        if not server_names:
            problems.append(f"{where}.server_names is empty: a site needs at least one server_name")
        problems += [f"{where}.server_names: {name!r} is not a host name" for name in server_names
                     if not SERVER_NAME.match(str(name).lower())]
        if ("tls_certificate" in site) != ("tls_certificate_key" in site):
            problems.append(f"{where}: give tls_certificate and tls_certificate_key together")
        if site.get("internal_ca") and "tls_certificate" in site:
            problems.append(f"{where}: internal_ca issues the certificate at the site's own paths: "
                            "leave out tls_certificate and tls_certificate_key")
        if "csp" in site:
            problems += csp_problems(site["csp"], f"{where}.csp")
    return problems


def nginx_certificate_sources(sites) -> dict:
    """Where each site's certificate comes from: 'own' (tls_certificate paths given), 'internal_ca'
    (issued by roles/internal_ca), else 'bootstrap' (self-signed until certbot installs one)."""
    sources = {"own": [], "internal_ca": [], "bootstrap": []}
    for site in sites or []:
        key = "own" if "tls_certificate" in site else "internal_ca" if site.get("internal_ca") else "bootstrap"
        sources[key].append(site)
    return sources


def nginx_rate_problems(value, variable: str) -> list:
    return [] if RATE.match(str(value)) else [f"{variable} is {value!r}: write a rate like 20r/s or 10r/m"]


HSTS_PRELOAD_MIN_AGE = 31536000  # one year: the preload list's minimum
UPSTREAM_SERVER = re.compile(r"^\S+:[0-9]{1,5}$")


def _rule_sites_given(settings: Mapping) -> list:
    return [] if settings["sites"] else ["nginx_sites is empty: give at least one site"]


def _rule_upstreams_given(settings: Mapping) -> list:
    if settings["upstream_servers"]:
        return []
    return ["nginx_upstream_servers is empty: the web group has no hosts to send requests to"]


def _rule_upstreams_are_address_and_port(settings: Mapping) -> list:
    bad = [str(server) for server in settings["upstream_servers"] or [] if not UPSTREAM_SERVER.match(str(server))]
    return [f"nginx_upstream_servers: not address:port: {', '.join(bad)}"] if bad else []


def _rule_hsts_preload(settings: Mapping) -> list:
    if not settings["hsts_preload"]:
        return []
    problems = []
    if not settings["hsts_include_subdomains"]:
        problems.append("nginx_hsts_preload needs nginx_hsts_include_subdomains (the preload list requires it)")
    if int(settings["hsts_max_age"]) < HSTS_PRELOAD_MIN_AGE:
        problems.append(f"nginx_hsts_max_age ({settings['hsts_max_age']}) is under one year "
                        f"({HSTS_PRELOAD_MIN_AGE} s): the preload list refuses it")
    return problems


def _rule_real_ip_from_networks(settings: Mapping) -> list:
    bad = settings["real_ip_from_not_networks"]
    return [f"nginx_real_ip_from: not a network: {', '.join(map(str, bad))}"] if bad else []


def _rule_rates(settings: Mapping) -> list:
    return (nginx_rate_problems(settings["rate_limit"], "nginx_rate_limit")
            + nginx_rate_problems(settings["rate_limit_login"], "nginx_rate_limit_login"))


def _rule_csp(settings: Mapping) -> list:
    return csp_problems(settings["csp"])


def _rule_sites(settings: Mapping) -> list:
    return nginx_site_problems(settings["sites"])


NGINX_RULES: tuple[Callable[[Mapping], list], ...] = (
    _rule_sites_given, _rule_upstreams_given, _rule_hsts_preload, _rule_real_ip_from_networks,
    _rule_upstreams_are_address_and_port, _rule_rates, _rule_csp, _rule_sites,
)

NGINX_SETTINGS = ("sites", "upstream_servers", "hsts_preload", "hsts_include_subdomains", "hsts_max_age",
                  "real_ip_from_not_networks", "rate_limit", "rate_limit_login", "csp")


def nginx_problems(settings) -> list:
    """Every broken cross-variable rule of the nginx role, in NGINX_RULES' order, each naming the variable."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"nginx_problems: expected the role's settings as a dictionary, got {settings!r}")
    missing = [key for key in NGINX_SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError(f"nginx_problems: settings lack {', '.join(missing)}")
    return [problem for rule in NGINX_RULES for problem in rule(settings)]


class FilterModule:
    """nginx filters."""

    def filters(self):
        return {
            "csp_problems": csp_problems,
            "nginx_site_problems": nginx_site_problems,
            "nginx_certificate_sources": nginx_certificate_sources,
            "nginx_rate_problems": nginx_rate_problems,
            "nginx_problems": nginx_problems,
        }
