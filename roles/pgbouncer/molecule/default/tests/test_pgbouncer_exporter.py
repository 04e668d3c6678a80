"""The pgbouncer exporter: pgbouncer's pools and totals as metrics, read over the local socket as
the stats user at each scrape, on the private address only, over TLS only (a certificate from the
internal CA), the password in a file of its own user; pgbouncer stopped shows as pgbouncer_up 0."""

from __future__ import annotations

import pytest
from paas_testlib import (
    assert_https_only,
    assert_listens_only_on,
    default_address,
    fetch_metrics,
    tls_version_accepted,
    wait_for,
)

testinfra_hosts = ["ansible://pgbouncer-host"]
PORT = 9127
PASSWORD = "stats-test-password"
POOL = 'database="app_production",user="app"'
TLS_DIR = "/etc/pgbouncer-exporter/tls"
CA: dict[str, str] = {}


@pytest.fixture(scope="module")
def address(host) -> str:
    CA["pem"] = host.file(f"{TLS_DIR}/ca.crt").content_string
    return default_address(host)


def scrape(address: str) -> dict[str, float]:
    """Scrape from the test machine, as Prometheus does: https, verified against the internal CA."""
    return fetch_metrics(f"https://{address}:{PORT}/metrics", cadata=CA["pem"])


def test_a_client_holding_a_connection_shows_in_its_pool(host, address):
    assert wait_for(lambda: scrape(address).get("pgbouncer_up") == 1.0, 30)
    host.run_expect([0], "systemd-run --unit=hold-connection /bin/sh -c \"PGPASSWORD=app-test-password "
                         "psql -X -h 127.0.0.1 -p 6432 -U app -d app_production -c 'SELECT pg_sleep(30)'\"")
    try:
        def active() -> float | None:
            return scrape(address).get(f"pgbouncer_pool_client_active_connections{{{POOL}}}")
        assert wait_for(lambda: active() == 1.0, 20), active()
        assert scrape(address)[f"pgbouncer_pool_server_active_connections{{{POOL}}}"] == 1.0
    finally:
        host.run("systemctl stop hold-connection")
    totals = scrape(address)
    assert totals['pgbouncer_stats_queries_total{database="app_production"}'] >= 1


def test_pgbouncer_stopped_is_reported_as_down(host, address):
    host.run_expect([0], "systemctl stop pgbouncer")
    try:
        assert scrape(address)["pgbouncer_up"] == 0.0
    finally:
        host.run_expect([0], "systemctl start pgbouncer")
    assert wait_for(lambda: scrape(address).get("pgbouncer_up") == 1.0, 20)


def test_it_listens_on_the_private_address_only(host, address):
    assert_listens_only_on(host, address, PORT)


def test_plain_http_another_ca_and_tls_older_than_1_2_are_refused(host, address):
    assert_https_only(f"https://{address}:{PORT}/metrics")
    assert tls_version_accepted(host, address, PORT, "tls1_2")
    assert not tls_version_accepted(host, address, PORT, "tls1_1")


def test_it_runs_as_its_own_user_the_only_one_that_reads_the_password(host):
    passfile = host.file("/etc/pgbouncer-exporter/pgpass")
    assert passfile.user == "pgbouncer-exporter" and passfile.mode == 0o600
    key = host.file(f"{TLS_DIR}/pgbouncer-exporter.key")
    assert key.user == "pgbouncer-exporter" and key.mode == 0o600
    pid = host.check_output("systemctl show -p MainPID --value pgbouncer-exporter")
    assert host.check_output(f"ps -o user:32= -p {pid}") == "pgbouncer-exporter"
    assert host.user("pgbouncer-exporter").shell == "/usr/sbin/nologin"
    assert PASSWORD not in host.run("ps -eo args").stdout
    assert PASSWORD not in host.run("systemctl show pgbouncer-exporter -p Environment").stdout
