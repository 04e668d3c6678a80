"""Behaviour of the pgbouncer role: queries pooled with SCRAM, console users, reload keeps clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paas_testlib import default_address, run_playbook, said

testinfra_hosts = ["ansible://pgbouncer-host"]
PASSWORDS = {"app": "app-test-password", "pgbouncer_admin": "admin-test-password",
             "pgbouncer_stats": "stats-test-password"}


@pytest.fixture(scope="module")
def address(host):
    return default_address(host)


def psql(host, address, sql, user="app", db="app_production", secret=None, options=""):
    """Run SQL through pgbouncer (port 6432) as a client on the network would."""
    password = PASSWORDS.get(user, "") if secret is None else secret
    conninfo = f"host={address} port=6432 dbname={db} user={user} connect_timeout=5 {options}"
    return host.run(f"PGPASSWORD='{password}' psql -X -A -t -v ON_ERROR_STOP=1 '{conninfo}' -c \"{sql}\"")


def test_query_is_answered_through_pgbouncer(host, address):
    result = psql(host, address, "SELECT current_user || '@' || current_database()")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "app@app_production"
    pools = psql(host, address, "SHOW POOLS", user="pgbouncer_stats", db="pgbouncer")
    assert pools.rc == 0, pools.stderr
    assert any(line.startswith("app_production|app|") for line in pools.stdout.splitlines())


def test_wrong_password_is_refused_by_pgbouncer(host, address):
    result = psql(host, address, "SELECT 1", secret="not-the-password")
    assert result.rc != 0
    assert "SASL authentication failed" in result.stderr


def test_auth_file_holds_verifiers_not_passwords(host):
    auth = host.file("/etc/pgbouncer/userlist.txt")
    assert auth.mode == 0o600
    assert auth.user == "postgres"
    content = auth.content_string
    assert content.count("SCRAM-SHA-256$4096:") == 3
    for password in PASSWORDS.values():
        assert password not in content


def test_pool_runs_in_transaction_mode(host, address):
    config = psql(host, address, "SHOW CONFIG", user="pgbouncer_admin", db="pgbouncer").stdout
    assert "pool_mode|transaction|" in config
    assert "auth_type|scram-sha-256|" in config


def test_stats_user_cannot_administer(host, address):
    result = psql(host, address, "PAUSE", user="pgbouncer_stats", db="pgbouncer")
    assert result.rc != 0
    assert "admin access needed" in result.stderr


def test_reload_keeps_connected_clients(host, address):
    # One client session spans the reload: it must finish all three statements.
    conninfo = f"host={address} port=6432 dbname=app_production user=app connect_timeout=5"
    host.run(
        f"(PGPASSWORD='{PASSWORDS['app']}' psql -X -A -t -v ON_ERROR_STOP=1 '{conninfo}' "
        "-c 'SELECT 1' -c 'SELECT pg_sleep(3)' -c 'SELECT 2' > /root/reload-client.out 2>&1; "
        "echo $? >> /root/reload-client.out) &")
    host.run("sleep 1")
    assert host.run("systemctl reload pgbouncer").rc == 0
    host.run("timeout 15 sh -c 'until [ $(wc -l < /root/reload-client.out) -ge 4 ]; do sleep 0.5; done'")
    lines = host.file("/root/reload-client.out").content_string.split()
    assert lines[0] == "1" and lines[-2:] == ["2", "0"], lines


def test_a_client_verifies_pgbouncers_certificate(host, address):
    # The internal CA's certificate, by the address the app uses: the session is encrypted.
    result = psql(host, address, "\\conninfo", options="sslmode=verify-full sslrootcert=/etc/pgbouncer/tls/ca.crt")
    assert result.rc == 0, result.stderr
    assert "SSL connection (protocol: TLSv1.3" in result.stdout


def test_a_certificate_from_another_ca_is_not_accepted(host, address):
    result = psql(host, address, "SELECT 1",
                  options="sslmode=verify-full sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem")
    assert result.rc != 0
    assert "certificate verify failed" in result.stderr


def test_a_client_without_tls_is_refused(host, address):
    result = psql(host, address, "SELECT 1", options="sslmode=disable")
    assert result.rc != 0
    assert "SSL required" in result.stderr


LOGINS = Path(__file__).resolve().parents[1] / "logins.yml"


def check_logins(host, *checks: tuple[str, str, bool]):
    logins = [{"user": user, "password": password, "database": "app_production", "accepted": accepted}
              for user, password, accepted in checks]
    return run_playbook(host.backend.ansible_inventory, str(LOGINS), "-e",
                        json.dumps({"pgbouncer_login_checks": logins}))


def test_the_logins_check_passes_when_each_login_does_as_expected(host):
    result = check_logins(host, ("app", PASSWORDS["app"], True), ("app", "not-the-password", False))
    assert result.returncode == 0, said(result)


def test_the_logins_check_names_each_login_that_did_otherwise(host):
    result = check_logins(host, ("app", "not-the-password", True), ("app", PASSWORDS["app"], False))
    assert result.returncode != 0
    assert "refused app that must log in; let in app that must be refused" in said(result), said(result)
