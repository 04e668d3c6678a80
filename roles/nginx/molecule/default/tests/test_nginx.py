"""Behaviour of the nginx load balancer: redirects, TLS, headers, caching, compression,
real client addresses, rate limits, maintenance, upstream failover, refused broken config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paas_testlib import run_playbook, wait_for

LB_IP = "10.83.0.10"
SITE = "paas.test"
RESOLVE = f"--resolve {SITE}:443:127.0.0.1 --resolve {SITE}:80:127.0.0.1"
HSTS = "max-age=63072000; includeSubDomains; preload"

testinfra_hosts = ["ansible://nginx-lb"]


@pytest.fixture(scope="module")
def web1(host):
    return host.get_host("ansible://nginx-web1", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def web2(host):
    return host.get_host("ansible://nginx-web2", ansible_inventory=host.backend.ansible_inventory)


def curl(host, args: str, url: str = f"https://{SITE}/", body: bool = True) -> dict:
    """One request with curl on a test host: status, headers (lower-case names), body (unless a
    compressed one is asked for), HTTP version."""
    marker = "__CURL_META__"
    show = "cat /root/body" if body else "true"
    out = host.run(f"curl -sk {RESOLVE} -D - -o /root/body --max-time 10 "
                   f"-w '{marker}%{{http_code}} %{{http_version}}' {args} '{url}'; echo; {show}")
    head, _, rest = out.stdout.partition(marker)
    meta, _, body = rest.partition("\n")
    status, _, version = meta.partition(" ")
    headers = {}
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return {"status": int(status or 0), "version": version, "headers": headers, "body": body, "rc": out.rc}


def access_log(host) -> list[dict]:
    return [json.loads(line) for line in host.file("/var/log/nginx/access.json").content_string.splitlines() if line]


# --- port 80 -------------------------------------------------------------------------------------

def test_http_redirects_to_https(host):
    r = curl(host, "", f"http://{SITE}/portfolios?page=2")
    assert r["status"] == 301
    assert r["headers"]["location"] == f"https://{SITE}/portfolios?page=2"


def test_the_acme_challenge_is_served_over_http(host):
    host.run("mkdir -p /var/www/acme/.well-known/acme-challenge && "
             "echo token-content > /var/www/acme/.well-known/acme-challenge/test-token")
    r = curl(host, "", f"http://{SITE}/.well-known/acme-challenge/test-token")
    assert r["status"] == 200
    assert r["body"].strip() == "token-content"


def test_unknown_host_names_get_nothing(host):
    plain = host.run("curl -s --max-time 5 -o /dev/null -H 'Host: other.example' http://127.0.0.1/")
    assert plain.rc == 52   # empty reply: the connection was closed
    tls = host.run("curl -sk --max-time 5 -o /dev/null --resolve other.example:443:127.0.0.1 https://other.example/")
    assert tls.rc == 35     # the TLS handshake was refused


# --- TLS -----------------------------------------------------------------------------------------

def test_https_speaks_http2(host):
    r = curl(host, "--http2")
    assert r["status"] == 200
    assert r["version"] == "2"


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(host, protocol):
    out = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {SITE} {protocol} 2>&1")
    assert "Cipher is (NONE)" in out.stdout or out.rc != 0


def test_tls12_uses_ecdhe_and_tls13_works(host):
    tls12 = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_2 2>&1")
    assert "Cipher is ECDHE-" in tls12.stdout
    dhe = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_2 "
                   "-cipher DHE-RSA-AES128-GCM-SHA256 2>&1")
    assert "Cipher is (NONE)" in dhe.stdout or dhe.rc != 0   # no DHE unless asked for
    tls13 = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_3 2>&1")
    assert "TLSv1.3" in tls13.stdout


def test_no_session_tickets(host):
    out = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_2 2>&1")
    assert "TLS session ticket:" not in out.stdout


# --- headers -------------------------------------------------------------------------------------

def test_html_carries_the_security_headers_and_is_not_cached(host):
    r = curl(host, "")
    h = r["headers"]
    assert h["strict-transport-security"] == HSTS
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "default-src 'self'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in h["permissions-policy"]
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cache-control"] == "no-store"
    assert "server" not in h or h["server"] == "nginx"   # no version


def test_fingerprinted_assets_are_cached_for_a_year(host):
    r = curl(host, "", f"https://{SITE}/assets/application-3f2a1c.js")
    assert r["status"] == 200
    assert r["headers"]["cache-control"] == "public, max-age=31536000, immutable"   # the app's max-age=60 replaced
    assert r["headers"]["strict-transport-security"] == HSTS


@pytest.mark.parametrize(("accept", "encoding"), [("br", "br"), ("gzip", "gzip")])
def test_text_is_compressed(host, accept, encoding):
    r = curl(host, f"-H 'Accept-Encoding: {accept}'", f"https://{SITE}/assets/application-3f2a1c.js", body=False)
    assert r["headers"].get("content-encoding") == encoding
    plain = curl(host, "", f"https://{SITE}/assets/application-3f2a1c.js")
    assert "content-encoding" not in plain["headers"]


# --- proxying ------------------------------------------------------------------------------------

def test_the_load_balancer_alone_sets_the_security_headers(host):
    # The app sends its own HSTS (max-age=0), frame policy and request id; clients see nginx's, once.
    head = host.run(f"curl -sk {RESOLVE} -D - -o /dev/null --max-time 10 'https://{SITE}/'").stdout.lower()
    for name in ("strict-transport-security:", "x-frame-options:", "x-content-type-options:",
                 "content-security-policy:", "x-request-id:"):
        assert head.count(name) == 1, (name, head)
    assert "max-age=0" not in head and "sameorigin" not in head and "from-the-app" not in head


def test_the_app_gets_the_forwarded_headers_and_a_request_id(host):
    r = curl(host, "", f"https://{SITE}/headers")
    seen = json.loads(r["body"])
    assert seen["X-Forwarded-Proto"] == "https"
    assert seen["X-Forwarded-Host"] == SITE
    assert seen["Host"] == SITE
    assert len(seen["X-Request-Id"]) == 32
    assert r["headers"]["x-request-id"] == seen["X-Request-Id"]
    logged = [e for e in access_log(host) if e["request_id"] == seen["X-Request-Id"]]
    assert logged and logged[0]["status"] == 200 and float(logged[0]["request_time"]) >= 0
    assert logged[0]["upstream_addr"].endswith(":80")


def test_the_access_log_is_private_and_rotated_with_nginx_writing_the_new_file(host):
    log = host.file("/var/log/nginx/access.json")
    assert (log.user, log.group, log.mode) == ("www-data", "adm", 0o640)
    assert host.run("logrotate -f /etc/logrotate.d/nginx-paas").rc == 0
    assert host.file("/var/log/nginx/access.json.1").exists
    # nginx reopened its log: the next request lands in the new, private file.
    request_id = curl(host, "", f"https://{SITE}/up")["headers"]["x-request-id"]
    assert wait_for(lambda: any(e["request_id"] == request_id for e in access_log(host)), timeout=10)
    log = host.file("/var/log/nginx/access.json")
    assert (log.user, log.group, log.mode) == ("www-data", "adm", 0o640)


def test_each_access_log_line_also_reaches_the_hosts_syslog_for_forwarding(host):
    request_id = curl(host, "", f"https://{SITE}/up")["headers"]["x-request-id"]
    journal = "journalctl -q -o cat -t nginx_access --since -5min"
    assert wait_for(lambda: request_id in host.run(journal).stdout, timeout=10)
    line = next(line for line in host.run(journal).stdout.splitlines() if request_id in line)
    assert json.loads(line)["uri"] == "/up"


def test_a_given_request_id_is_passed_on(host):
    seen = json.loads(curl(host, "-H 'X-Request-Id: from-the-cdn-123'", f"https://{SITE}/headers")["body"])
    assert seen["X-Request-Id"] == "from-the-cdn-123"


def test_the_client_address_comes_from_the_cdn_header_only_from_cdn_addresses(host, web1):
    # web1 (10.83.0.11) is in nginx_real_ip_from in this scenario: its CF-Connecting-IP is believed.
    out = web1.run(f"curl -sk --max-time 10 --resolve {SITE}:443:{LB_IP} -H 'CF-Connecting-IP: 198.51.100.7' "
                   f"https://{SITE}/headers")
    assert json.loads(out.stdout)["X-Real-IP"] == "198.51.100.7"
    # The load balancer itself is not a CDN address: the header is ignored.
    spoofed = json.loads(curl(host, "-H 'CF-Connecting-IP: 198.51.100.7'", f"https://{SITE}/headers")["body"])
    assert spoofed["X-Real-IP"] == "127.0.0.1"


def test_requests_are_spread_over_both_app_hosts(host):
    served = {curl(host, "", f"https://{SITE}/up")["headers"].get("x-served-by") for _ in range(6)}
    assert served == {"nginx-web1", "nginx-web2"}


def test_a_stopped_app_host_is_skipped_without_failed_requests(host, web2):
    web2.run("systemctl stop echo-app")
    try:
        results = [curl(host, "", f"https://{SITE}/up") for _ in range(10)]
        assert [r["status"] for r in results] == [200] * 10
        assert {r["headers"]["x-served-by"] for r in results} == {"nginx-web1"}
    finally:
        web2.run("systemctl start echo-app")


# --- limits --------------------------------------------------------------------------------------

def test_login_attempts_above_the_limit_get_429(host):
    statuses = [curl(host, "-X POST -d 'user=a&password=b'", f"https://{SITE}/users/sign_in")["status"]
                for _ in range(6)]
    assert statuses[0] == 200
    assert 429 in statuses, statuses
    # Other paths are not limited by the login zone.
    assert curl(host, "", f"https://{SITE}/up")["status"] == 200


# --- maintenance ---------------------------------------------------------------------------------

def test_maintenance_switch_serves_503_with_retry_after(host):
    inventory = host.backend.ansible_inventory
    on = run_playbook(inventory, "maintenance.yml", "-e", "maintenance=on")
    assert on.returncode == 0, on.stdout[-2000:]
    try:
        r = curl(host, "")
        assert r["status"] == 503
        assert r["headers"]["retry-after"] == "600"
        assert r["headers"]["cache-control"] == "no-store"
        assert "Down for maintenance" in r["body"]
        assert curl(host, "", f"http://{SITE}/")["status"] == 301   # port 80 still redirects
    finally:
        off = run_playbook(inventory, "maintenance.yml", "-e", "maintenance=off")
    assert off.returncode == 0
    assert curl(host, "")["status"] == 200


# --- a configuration nginx refuses is never loaded -----------------------------------------------

def test_a_configuration_nginx_rejects_is_rolled_back(host):
    site = "/etc/nginx/conf.d/paas-site-portfolio.conf"
    before = host.file(site).content_string
    bad = json.dumps({"nginx_sites": [{"name": "portfolio", "server_names": [SITE],
                                        "tls_certificate": "/nonexistent/cert.pem",
                                        "tls_certificate_key": "/nonexistent/key.pem"}]})
    converge = str(Path(__file__).resolve().parents[1] / "converge.yml")
    proc = run_playbook(host.backend.ansible_inventory, converge, "-e", bad, timeout=600)
    assert proc.returncode != 0
    assert "nginx -t rejected the new configuration" in proc.stdout + proc.stderr
    assert host.file(site).content_string == before
    assert host.run("nginx -t").rc == 0
    assert wait_for(lambda: curl(host, "")["status"] == 200, 10)
