"""Behaviour of the postgresql role: a client on the network, TLS, scram, roles, tuning, slow-query log."""

from __future__ import annotations

import subprocess

import pytest
from paas_testlib import default_address, pg_auth_probe_command
from postgresql import pg_tune

testinfra_hosts = ["ansible://postgresql-host"]
PASSWORDS = {"app": "app-test-password", "reporting": "reporting-test-password", "app_2": "app2-test-password"}


@pytest.fixture(scope="module")
def address(host):
    return default_address(host)


def psql(host, address, sql, user="app", db="app_production", sslmode="require", secret=None):
    """Run SQL as a network client of the server (TCP to its private address)."""
    password = PASSWORDS.get(user, "") if secret is None else secret
    conninfo = f"host={address} port=5432 dbname={db} user={user} sslmode={sslmode} connect_timeout=5"
    return host.run(f"PGPASSWORD='{password}' psql -X -A -t -v ON_ERROR_STOP=1 '{conninfo}' -c \"{sql}\"")


def superuser(host, sql):
    return host.run(f"runuser -u postgres -- psql -X -A -t -c \"{sql}\"")


def test_app_connects_over_tls_with_scram(host, address):
    result = psql(host, address, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert result.rc == 0, result.stderr
    ssl, version = result.stdout.strip().split("|")
    assert ssl == "t"
    assert version in ("TLSv1.2", "TLSv1.3")
    stored = superuser(host, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app'")
    assert stored.stdout.strip() == "t"


def test_unencrypted_connections_are_refused(host, address):
    result = psql(host, address, "SELECT 1", sslmode="disable")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_wrong_password_is_refused(host, address):
    result = psql(host, address, "SELECT 1", secret="not-the-password")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_app_reaches_only_its_own_database(host, address):
    result = psql(host, address, "SELECT 1", db="postgres")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_server_demands_scram_so_an_md5_only_client_is_refused(host, address):
    # What the server asks a client that connects as the app: SCRAM only. A client that
    # speaks only md5 (or cleartext) cannot answer it.
    reply = host.run(pg_auth_probe_command(address, "app", "app_production")).stdout.split()
    assert reply[:2] == ["auth", "10"], reply   # 10: SASL; md5 would be 5, cleartext 3
    assert set(reply[2].split(",")) <= {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, reply
    # A password stored as md5 (say, copied from an old server) no longer logs in.
    superuser(host, "SET password_encryption = 'md5'; CREATE ROLE legacy_md5 LOGIN PASSWORD 'legacy-password'")
    try:
        stored = superuser(host, "SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'legacy_md5'")
        assert stored.stdout.strip() == "t"
        superuser(host, "GRANT CONNECT ON DATABASE app_production TO legacy_md5")
        # The role would be allowed from this address if its password were a SCRAM verifier.
        result = psql(host, "127.0.0.1", "SELECT 1", user="legacy_md5", secret="legacy-password")
        assert result.rc != 0
        assert "password authentication failed" in result.stderr
    finally:
        superuser(host, "DROP OWNED BY legacy_md5; DROP ROLE legacy_md5")


def test_a_login_from_an_address_outside_the_access_rules_is_refused(host, address):
    # The test machine (the Docker network's gateway) is not in pg_hba.conf: refused by
    # PostgreSQL itself, whatever the password.
    probe = subprocess.run(["sh", "-c", pg_auth_probe_command(address, "app", "app_production")],
                           capture_output=True, text=True, timeout=30, check=False)
    assert probe.stdout.startswith("error no pg_hba.conf entry for host"), probe.stdout + probe.stderr
    assert '"app"' in probe.stdout and "SSL encryption" in probe.stdout


def test_postgres_superuser_cannot_log_in_over_the_network(host, address):
    result = psql(host, address, "SELECT 1", user="postgres", db="postgres", secret="anything")
    assert result.rc != 0


def test_app_owns_its_database_and_reporting_only_reads(host, address):
    created = psql(host, address, "CREATE TABLE IF NOT EXISTS portfolios (id int); INSERT INTO portfolios VALUES (1)")
    assert created.rc == 0, created.stderr
    assert psql(host, address, "SELECT count(*) > 0 FROM portfolios", user="reporting").stdout.strip() == "t"
    refused = psql(host, address, "INSERT INTO portfolios VALUES (2)", user="reporting")
    assert refused.rc != 0
    assert "permission denied" in refused.stderr
    assert psql(host, address, "CREATE DATABASE other").rc != 0  # NOCREATEDB


def test_a_second_login_acts_as_the_owner_and_what_it_creates_the_owner_owns(host, address):
    assert psql(host, address, "SELECT current_user, session_user", user="app_2").stdout.strip() == "app|app_2"
    created = psql(host, address, "CREATE TABLE IF NOT EXISTS made_by_the_twin (id int)", user="app_2")
    assert created.rc == 0, created.stderr
    owner = host.run("runuser -u postgres -- psql -X -A -t -d app_production "
                     "-c \"SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_the_twin'\"")
    assert owner.stdout.strip() == "app"
    # The owner's default privileges apply: reporting reads it.
    assert psql(host, address, "SELECT count(*) FROM made_by_the_twin", user="reporting").rc == 0


def test_a_role_without_login_has_no_password_and_is_refused(host, address):
    stored = superuser(host, "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = 'retired'")
    assert stored.stdout.strip() == "f|t"
    refused = psql(host, address, "SELECT 1", user="retired", secret="anything")
    assert refused.rc != 0
    assert "password authentication failed" in refused.stderr


def test_cluster_has_data_checksums_and_utf8(host):
    assert superuser(host, "SHOW data_checksums").stdout.strip() == "on"
    assert superuser(host, "SHOW server_encoding").stdout.strip() == "UTF8"


def test_server_runs_with_settings_computed_from_host_facts(host):
    facts = host.ansible("setup", "filter=ansible_*")["ansible_facts"]
    expected = pg_tune(facts["ansible_memtotal_mb"], facts["ansible_processor_vcpus"],
                       reserved_mb=256, connections=25 + 20)
    for name in ("shared_buffers", "effective_cache_size", "work_mem", "max_connections", "random_page_cost"):
        shown = superuser(host, f"SHOW {name}").stdout.strip()
        assert shown == expected[name], name
    assert superuser(host, "SHOW password_encryption").stdout.strip() == "scram-sha-256"
    assert superuser(host, "SHOW ssl_min_protocol_version").stdout.strip() == "TLSv1.2"


def test_slow_queries_are_logged_and_counted_by_pg_stat_statements(host, address):
    assert psql(host, address, "SELECT pg_sleep(0.25)").rc == 0
    log = host.run("tail -n 200 /var/log/postgresql/postgresql-15-main.log").stdout
    assert "duration:" in log and "pg_sleep(0.25)" in log
    calls = psql(host, address, "SELECT sum(calls) FROM pg_stat_statements WHERE query LIKE '%pg_sleep%'")
    assert calls.rc == 0, calls.stderr
    assert int(calls.stdout.strip() or 0) >= 1


def test_fast_queries_are_not_logged(host, address):
    assert psql(host, address, "SELECT 'fast-query-marker'").rc == 0
    assert "fast-query-marker" not in host.run("tail -n 200 /var/log/postgresql/postgresql-15-main.log").stdout
