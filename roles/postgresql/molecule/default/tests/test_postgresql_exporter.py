"""The PostgreSQL exporter: reads the live server as a pg_monitor login without a password, and
answers only on the private address, over TLS only (a certificate from the internal CA); a stopped
server shows as pg_up 0."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from paas_testlib import assert_listens_only_on, default_address, fetch_metrics, wait_for

testinfra_hosts = ["ansible://postgresql-host"]
PORT = 9187
CA_FILE = "/etc/prometheus/postgres-exporter-tls/ca.crt"


def address(host) -> str:
    return default_address(host)


def scrape(host) -> dict[str, float]:
    return fetch_metrics(f"https://{address(host)}:{PORT}/metrics", cadata=host.file(CA_FILE).content_string)


def test_metrics_are_served_over_tls_only(host):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{address(host)}:{PORT}/metrics", timeout=5)
    assert refused.value.code == 400      # "Client sent an HTTP request to an HTTPS server."
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"https://{address(host)}:{PORT}/metrics", timeout=5)


def psql(host, statement: str, user: str = "postgres") -> object:
    return host.run(f"runuser -u {user} -- psql -X -A -t -d postgres -c \"{statement}\"")


def test_the_exporter_reaches_the_server_and_reports_each_database(host):
    found = scrape(host)
    assert found["pg_up"] == 1
    assert any(name.startswith("pg_stat_database_xact_commit{") and 'datname="app_production"' in name
               for name in found)
    # The server's settings too (each series labelled with the socket it read them from).
    (max_connections,) = [value for name, value in found.items() if name.startswith("pg_settings_max_connections{")]
    assert max_connections >= 25
    # The role's extra query: a primary has no replication delay.
    assert [value for name, value in found.items() if name.startswith("pg_replication_lag")] == [0.0]


def test_it_listens_on_the_private_address_only(host):
    assert_listens_only_on(host, address(host), PORT)


def test_its_login_has_no_password_and_only_monitoring_rights(host):
    role = psql(host, "SELECT rolcanlogin, rolsuper, rolpassword IS NULL FROM pg_authid WHERE rolname = 'prometheus'")
    assert role.stdout.strip() == "t|f|t"
    assert psql(host, "SELECT pg_has_role('prometheus', 'pg_monitor', 'member')").stdout.strip() == "t"
    # It reads statistics, not the application's data.
    psql(host, "CREATE TABLE IF NOT EXISTS private_data (v text)")
    denied = psql(host, "SELECT * FROM private_data", user="prometheus")
    assert denied.rc != 0 and "permission denied" in denied.stderr


def test_nobody_else_logs_in_as_it(host):
    # Peer authentication admits only the OS user prometheus over the socket; over TCP there is
    # no password that would work.
    other = host.run("runuser -u nobody -- psql -X -h /run/postgresql -U prometheus -d postgres -c 'SELECT 1'")
    assert other.rc != 0
    remote = host.run(f"psql -X 'host={address(host)} user=prometheus dbname=postgres password=anything' -c 'SELECT 1'")
    assert remote.rc != 0


def test_a_stopped_server_shows_as_pg_up_0(host):
    host.run_expect([0], "systemctl stop postgresql@15-main")
    try:
        assert wait_for(lambda: scrape(host)["pg_up"] == 0, timeout=30, interval=2)
    finally:
        host.run_expect([0], "systemctl start postgresql@15-main")
    assert wait_for(lambda: scrape(host)["pg_up"] == 1, timeout=60, interval=2)
