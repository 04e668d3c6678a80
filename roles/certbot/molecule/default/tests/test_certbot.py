"""Certificates issued by a real ACME server (pebble) through certbot, served by nginx,
and renewed without a failed request."""

from __future__ import annotations

import re

import pytest
from paas_testlib import wait_for

ACME_IP = "10.84.0.20"
ENV = "REQUESTS_CA_BUNDLE=/etc/ssl/paas-test-acme-ca.pem"
ROOT = "/root/pebble-root.pem"

testinfra_hosts = ["ansible://certbot-lb"]


@pytest.fixture(scope="module")
def pebble_root(host):
    """Pebble's issuing root (it makes a new one at each start), fetched from its management API."""
    out = host.run(f"curl -sf --cacert /etc/ssl/paas-test-acme-ca.pem -o {ROOT} https://{ACME_IP}:15000/roots/0")
    assert out.rc == 0, out.stderr
    return ROOT


def served(host, name: str) -> dict:
    """Subject, issuer, SANs and serial of the certificate nginx serves for a name."""
    out = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {name} 2>/dev/null "
                   "| openssl x509 -noout -subject -issuer -serial -ext subjectAltName")
    text = out.stdout
    return {
        "issuer": re.search(r"issuer=(.*)", text).group(1) if "issuer=" in text else "",
        "serial": re.search(r"serial=(\w+)", text).group(1) if "serial=" in text else "",
        "sans": set(re.findall(r"DNS:([^,\s]+)", text)),
    }


def requests_made(host) -> int:
    """How many requests the client loop of the renewal test has completed."""
    return len(host.run("cat /root/loop.out 2>/dev/null").stdout.split())


@pytest.mark.parametrize(("name", "sans"), [
    ("paas.test", {"paas.test", "www.paas.test"}),        # HTTP-01 through nginx's webroot
    ("www.paas.test", {"paas.test", "www.paas.test"}),
    ("tenant-a.paas.test", {"*.paas.test"}),              # DNS-01 through BIND
])
def test_nginx_serves_certificates_issued_by_the_acme_server(host, name, sans):
    cert = served(host, name)
    assert "Pebble Intermediate" in cert["issuer"]
    assert cert["sans"] == sans


@pytest.mark.parametrize("name", ["paas.test", "www.paas.test", "tenant-b.paas.test"])
def test_a_client_trusting_the_acme_root_verifies_the_site(host, pebble_root, name):
    out = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {pebble_root} "
                   f"--resolve {name}:443:127.0.0.1 https://{name}/")
    assert out.rc == 0, out.stderr    # the chain and the name verify
    assert out.stdout == "200"


def test_certbot_keeps_the_deploy_hook_and_renews_by_timer(host):
    renewal = host.file("/etc/letsencrypt/renewal/portfolio.conf").content_string
    assert "renew_hook = /usr/local/sbin/paas-certbot-deploy" in renewal
    assert f"server = https://{ACME_IP}:14000/dir" in renewal
    assert host.service("certbot.timer").is_enabled
    assert host.service("certbot.timer").is_running


def test_the_private_keys_are_root_only(host):
    for name in ("portfolio", "tenants"):
        key = host.file(f"/etc/nginx/tls/{name}/privkey.pem")
        assert key.user == "root" and key.mode == 0o600


def test_a_forced_renewal_changes_the_served_certificate_without_a_failed_request(host):
    before = served(host, "paas.test")["serial"]
    # A bounded client loop against the site while the certificate is renewed and nginx reloaded.
    loop = ("i=0; while [ ! -f /root/loop.stop ] && [ $i -lt 3000 ]; do sleep 0.1; "
            "curl -sk -o /dev/null -w '%{http_code}\\n' --max-time 5 --resolve paas.test:443:127.0.0.1 "
            "https://paas.test/ >> /root/loop.out; i=$((i+1)); done; echo done >> /root/loop.out")
    host.run(f"rm -f /root/loop.out /root/loop.stop; cat > /root/loop.sh <<'EOF'\n{loop}\nEOF")
    host.run("setsid nohup sh /root/loop.sh >/dev/null 2>&1 &")
    # Counted in requests, not seconds: a loaded machine makes fewer of them per second.
    assert wait_for(lambda: requests_made(host) >= 5, 30)
    renew = host.run(f"{ENV} certbot renew --force-renewal --cert-name portfolio --no-random-sleep-on-renew")
    assert renew.rc == 0, renew.stdout + renew.stderr
    assert wait_for(lambda: served(host, "paas.test")["serial"] not in ("", before), 30)
    after_reload = requests_made(host) + 10
    assert wait_for(lambda: requests_made(host) >= after_reload, 60), "the client loop stopped making requests"
    host.run("touch /root/loop.stop")
    assert wait_for(lambda: host.file("/root/loop.out").content_string.endswith("done\n"), 60)
    codes = host.file("/root/loop.out").content_string.split()[:-1]
    assert set(codes) == {"200"}, f"{len(codes)} requests: {sorted(set(codes))}"
    assert "Pebble Intermediate" in served(host, "paas.test")["issuer"]


def test_a_forced_renewal_of_the_wildcard_goes_through_dns01_again(host):
    before = served(host, "tenant-c.paas.test")["serial"]
    renew = host.run(f"{ENV} certbot renew --force-renewal --cert-name tenants --no-random-sleep-on-renew")
    assert renew.rc == 0, renew.stdout + renew.stderr
    assert wait_for(lambda: served(host, "tenant-c.paas.test")["serial"] not in ("", before), 30)
    after = served(host, "tenant-c.paas.test")
    assert after["sans"] == {"*.paas.test"} and "Pebble Intermediate" in after["issuer"]
