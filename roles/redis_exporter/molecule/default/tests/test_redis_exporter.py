"""The Redis exporter: both instances' metrics (one over TLS) through its multi-target endpoint,
as the read-only monitoring user, on the private address only, served over TLS only (a certificate
from the internal CA), with no password in sight."""

from __future__ import annotations

import urllib.parse

import pytest
from paas_testlib import (
    assert_https_only,
    assert_listens_only_on,
    default_address,
    fetch_metrics,
    tls_version_accepted,
    wait_for,
)

testinfra_hosts = ["ansible://redis-exporter-host"]
PORT = 9121
TARGETS = {"cache": "redis://127.0.0.1:6379", "queue": "rediss://127.0.0.1:6380"}
PASSWORD = "monitoring-test-password"
CA_FILE = "/usr/local/share/ca-certificates/paas-internal-ca.crt"


@pytest.fixture(scope="module")
def address(host) -> str:
    return default_address(host)


@pytest.fixture(scope="module")
def scrape(host, address):
    """Scrape from the test machine over the network, as Prometheus does: https, the certificate
    verified against the internal CA for the host's address."""
    ca = host.file(CA_FILE).content_string

    def get(target: str) -> dict[str, float]:
        url = f"https://{address}:{PORT}/scrape?target={urllib.parse.quote(target, safe='')}"
        return fetch_metrics(url, cadata=ca)
    return get


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_instance_is_read_as_the_monitoring_user(scrape, name):
    assert wait_for(lambda: scrape(TARGETS[name]).get("redis_up") == 1.0, 30)
    samples = scrape(TARGETS[name])
    assert samples["redis_connected_clients"] >= 1
    assert samples["redis_memory_max_bytes"] == 16 * 1024 * 1024   # its maxmemory
    errors = {key: value for key, value in samples.items() if key.startswith("redis_exporter_last_scrape_error")}
    assert errors and set(errors.values()) == {0.0}, errors   # every command it runs is allowed


def test_an_instance_it_has_no_password_for_is_reported_down(scrape):
    samples = scrape("redis://127.0.0.1:6381")   # nothing listens there
    assert samples["redis_up"] == 0.0


def test_metrics_are_refused_over_plain_http_and_to_a_client_trusting_another_ca(address):
    assert_https_only(f"https://{address}:{PORT}/scrape?target={urllib.parse.quote(TARGETS['cache'], safe='')}")


def test_tls_older_than_1_2_is_refused(host, address):
    assert tls_version_accepted(host, address, PORT, "tls1_2")
    assert not tls_version_accepted(host, address, PORT, "tls1_1")


def test_the_key_is_readable_by_the_exporter_only(host):
    key = host.file("/etc/prometheus-redis-exporter/tls/redis-exporter.key")
    assert key.user == "prometheus" and key.mode == 0o600


def test_it_listens_on_the_private_address_only(host, address):
    assert_listens_only_on(host, address, PORT)


def test_the_password_is_in_a_file_only_its_group_reads_never_on_a_command_line(host):
    secrets = host.file("/etc/prometheus-redis-exporter/passwords.json")
    assert secrets.user == "root" and secrets.group == "prometheus" and secrets.mode == 0o640
    assert PASSWORD not in host.run("ps -eo args").stdout
    assert PASSWORD not in host.file("/etc/default/prometheus-redis-exporter").content_string
    assert PASSWORD not in host.run("systemctl show prometheus-redis-exporter -p Environment").stdout
