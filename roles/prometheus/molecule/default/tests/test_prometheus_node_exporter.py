"""Behaviour of the node_exporter role: metrics on the private address only, over TLS only (a certificate
from the internal CA), textfile metrics, unit states."""

from __future__ import annotations

import ssl
import urllib.request

import pytest
from paas_testlib import assert_https_only, default_address, tls_version_accepted, wait_for

testinfra_hosts = ["ansible://prometheus-host"]


CA_FILE = "/usr/local/share/ca-certificates/paas-internal-ca.crt"


@pytest.fixture(scope="module")
def address(host):
    return default_address(host)


def metrics(host, address: str) -> str:
    """Scrape from the test machine, over the network, as Prometheus does: https, the certificate
    verified against the internal CA for the address."""
    context = ssl.create_default_context(cadata=host.file(CA_FILE).content_string)
    with urllib.request.urlopen(f"https://{address}:9100/metrics", timeout=5, context=context) as response:
        return response.read().decode()


def test_host_metrics_are_served_on_the_private_address(host, address):
    body = metrics(host, address)
    assert "node_load1 " in body
    assert 'node_filesystem_avail_bytes{' in body


def test_metrics_are_refused_over_plain_http_and_to_a_client_trusting_another_ca(address):
    assert_https_only(f"https://{address}:9100/metrics")


def test_tls_older_than_1_2_is_refused(host, address):
    assert tls_version_accepted(host, address, 9100, "tls1_2")
    assert not tls_version_accepted(host, address, 9100, "tls1_1")


def test_the_key_is_readable_by_the_exporter_only(host):
    key = host.file("/etc/prometheus/node-exporter-tls/node-exporter.key")
    assert key.user == "prometheus" and key.mode == 0o600


def test_nothing_listens_on_other_addresses(host, address):
    assert host.socket(f"tcp://{address}:9100").is_listening
    assert not host.socket("tcp://0.0.0.0:9100").is_listening
    assert not host.socket("tcp://127.0.0.1:9100").is_listening


def test_a_textfile_metric_is_exposed(host, address):
    # As a writer does it: a temporary file, then a rename.
    textfile = "/var/lib/prometheus/node-exporter/paas_test.prom"
    host.run(f"printf 'paas_test_metric{{kind=\"probe\"}} 42\\n' > {textfile}.tmp && mv {textfile}.tmp {textfile}")
    try:
        assert wait_for(lambda: 'paas_test_metric{kind="probe"} 42' in metrics(host, address), timeout=10)
    finally:
        host.run("rm -f /var/lib/prometheus/node-exporter/paas_test.prom")


def test_a_failed_unit_shows_in_the_unit_states(host, address):
    host.run("systemd-run --unit=paas-test-failing --property=Type=oneshot /bin/false")
    try:
        wanted = 'node_systemd_unit_state{name="paas-test-failing.service",state="failed",type="oneshot"} 1'
        assert wait_for(lambda: wanted in metrics(host, address), timeout=15)
    finally:
        host.run("systemctl reset-failed paas-test-failing.service")
