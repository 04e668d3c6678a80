"""The Redis exporter: both instances' metrics (one over TLS) through its multi-target endpoint,
as the read-only monitoring user, on the private address only, with no password in sight."""

from __future__ import annotations

import urllib.parse

import pytest
from paas_testlib import assert_listens_only_on, default_address, fetch_metrics, wait_for

testinfra_hosts = ["ansible://redis-exporter-host"]
PORT = 9121
TARGETS = {"cache": "redis://127.0.0.1:6379", "queue": "rediss://127.0.0.1:6380"}
PASSWORD = "monitoring-test-password"


@pytest.fixture(scope="module")
def address(host) -> str:
    return default_address(host)


def scrape(address: str, target: str) -> dict[str, float]:
    url = f"http://{address}:{PORT}/scrape?target={urllib.parse.quote(target, safe='')}"
    return fetch_metrics(url)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_instance_is_read_as_the_monitoring_user(address, name):
    assert wait_for(lambda: scrape(address, TARGETS[name]).get("redis_up") == 1.0, 30)
    samples = scrape(address, TARGETS[name])
    assert samples["redis_connected_clients"] >= 1
    assert samples["redis_memory_max_bytes"] == 16 * 1024 * 1024   # its maxmemory
    errors = {key: value for key, value in samples.items() if key.startswith("redis_exporter_last_scrape_error")}
    assert errors and set(errors.values()) == {0.0}, errors   # every command it runs is allowed


def test_an_instance_it_has_no_password_for_is_reported_down(address):
    samples = scrape(address, "redis://127.0.0.1:6381")   # nothing listens there
    assert samples["redis_up"] == 0.0


def test_it_listens_on_the_private_address_only(host, address):
    assert_listens_only_on(host, address, PORT)


def test_the_password_is_in_a_file_only_its_group_reads_never_on_a_command_line(host):
    secrets = host.file("/etc/prometheus-redis-exporter/passwords.json")
    assert secrets.user == "root" and secrets.group == "prometheus" and secrets.mode == 0o640
    assert PASSWORD not in host.run("ps -eo args").stdout
    assert PASSWORD not in host.file("/etc/default/prometheus-redis-exporter").content_string
    assert PASSWORD not in host.run("systemctl show prometheus-redis-exporter -p Environment").stdout
