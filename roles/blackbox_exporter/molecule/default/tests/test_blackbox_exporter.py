"""The blackbox exporter: the app's /up through a load balancer by the site's name answers when
the certificate is the internal CA's for that name, and fails when it is not trusted or the app
fails; it reports when the certificate ends; it listens on the private address only. (The
tls_connect module is probed in the sandbox, against Redis over TLS.)"""

from __future__ import annotations

import time
import urllib.parse

from paas_testlib import assert_listens_only_on, fetch_metrics

testinfra_hosts = ["ansible://blackbox-mon"]
EXPORTER, LB = "10.89.0.10:9115", "10.89.0.11"


def probe(module: str, target: str) -> dict[str, float]:
    query = urllib.parse.urlencode({"module": module, "target": target})
    return fetch_metrics(f"http://{EXPORTER}/probe?{query}", timeout=15)


def test_a_site_with_a_trusted_certificate_for_its_name_answers():
    samples = probe("site_portfolio", f"https://{LB}/up")
    assert samples["probe_success"] == 1.0, samples
    assert samples["probe_http_status_code"] == 200.0
    assert samples["probe_http_ssl"] == 1.0
    # The internal CA issues for 365 days: the end is reported, about a year away.
    days_left = (samples["probe_ssl_earliest_cert_expiry"] - time.time()) / 86400
    assert 300 < days_left <= 366, days_left


def test_a_site_whose_certificate_nobody_trusts_fails():
    samples = probe("site_untrusted", f"https://{LB}/up")
    assert samples["probe_success"] == 0.0, samples
    assert samples.get("probe_http_status_code", 0.0) == 0.0   # no answer was accepted


def test_an_app_error_fails_the_probe():
    samples = probe("site_portfolio", f"https://{LB}/fail")
    assert samples["probe_success"] == 0.0
    assert samples["probe_http_status_code"] == 500.0


def test_it_listens_on_the_private_address_only(host):
    assert_listens_only_on(host, "10.89.0.10", 9115)
