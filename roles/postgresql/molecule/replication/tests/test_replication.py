"""Streaming replication, then a failover and a rejoin with the project's playbooks.

The tests run in file order: replication first, then playbooks/db-failover.yml promotes the
replica, then playbooks/db-rejoin.yml (with the inventory edited as the runbook says) turns
the old primary into a replica of the new one.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from paas_testlib import run_playbook, said, wait_for

PRIMARY_IP, REPLICA_IP = "10.81.0.11", "10.81.0.12"
APP = "PGPASSWORD=app-test-password psql -X -A -t -h 127.0.0.1 -p 6432 -U app -d app_production"

testinfra_hosts = ["ansible://pg-primary"]


@pytest.fixture(scope="module")
def replica(host):
    return host.get_host("ansible://pg-replica", ansible_inventory=host.backend.ansible_inventory)


def sql(host, statement, db="app_production"):
    return host.run(f"runuser -u postgres -- psql -X -A -t -d {db} -c \"{statement}\"")


def playbook(host, name: str, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess:
    return run_playbook(inventory or host.backend.ansible_inventory, name, *args)


def edited_inventory(host, tmp_path: Path, edit) -> Path:
    """A copy of the scenario's inventory, its group listing changed by edit(data)."""
    inventory = tmp_path / "inventory"
    shutil.copytree(host.backend.ansible_inventory, inventory)
    listing = inventory / "ansible_inventory.yml"
    data = yaml.safe_load(listing.read_text())
    edit(data)
    listing.write_text(yaml.safe_dump(data))
    return inventory


def swapped_inventory(host, tmp_path: Path) -> Path:
    """The scenario's inventory edited as the failover runbook says: pg-replica is now in
    db_primary, pg-primary in db_replica."""
    conn = {"ansible_connection": "community.docker.docker"}

    def swap(data):
        data["db_primary"]["hosts"] = {"pg-replica": conn}
        data["db_replica"]["hosts"] = {"pg-primary": conn}

    return edited_inventory(host, tmp_path, swap)


def unreachable_primary_inventory(host, tmp_path: Path) -> Path:
    """The scenario's inventory with pg-primary out of Ansible's reach (a container that does not exist)."""
    def unreachable(data):
        for group in data.values():
            if "pg-primary" in (group or {}).get("hosts", {}):
                group["hosts"]["pg-primary"] = {"ansible_connection": "community.docker.docker",
                                                "ansible_host": "paas-no-such-container"}

    return edited_inventory(host, tmp_path, unreachable)


# The scenario's passwords: none may appear in the playbooks' output, even at -vvv.
PASSWORDS = ["replication-test-password", "app-test-password", "admin-test-password"]


def assert_no_password_in(proc: subprocess.CompletedProcess) -> None:
    leaked = [p for p in PASSWORDS if p in proc.stdout + proc.stderr]
    assert leaked == [], f"printed by the playbook: {leaked}"


def streaming(host) -> bool:
    return sql(host, "SELECT state FROM pg_stat_replication").stdout.strip() == "streaming"


def test_replica_streams_from_the_primary_through_its_slot(host):
    assert wait_for(lambda: streaming(host), 60)
    slot = sql(host, "SELECT slot_name, active FROM pg_replication_slots").stdout.strip()
    assert slot == "pg_replica|t"


def test_a_write_on_the_primary_is_read_on_the_replica(host, replica):
    marker = f"written-{time.time_ns()}"
    created = sql(host, "CREATE TABLE IF NOT EXISTS markers (value text); GRANT SELECT, INSERT ON markers TO app; "
                        f"INSERT INTO markers VALUES ('{marker}')")
    assert created.rc == 0, created.stderr
    assert wait_for(lambda: marker in sql(replica, "SELECT value FROM markers").stdout, 30)


def test_the_replica_is_a_read_only_hot_standby(replica):
    assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    refused = sql(replica, "CREATE TABLE refused (id int)")
    assert refused.rc != 0
    assert "read-only transaction" in refused.stderr


def test_replication_lag_is_visible_and_catches_up(host):
    # Bytes of WAL the primary wrote that the replica has not replayed yet: zero once it is idle.
    def lag() -> float:
        out = sql(host, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication").stdout
        return float(out.strip() or "-1")

    assert wait_for(lambda: lag() == 0, 30), lag()


def test_a_slot_cannot_hold_more_wal_than_the_limit(host):
    # A replica down for long is cut off at this size instead of filling the primary's disk.
    assert sql(host, "SHOW max_slot_wal_keep_size", db="postgres").stdout.strip() == "10GB"
    assert sql(host, "SELECT wal_status FROM pg_replication_slots").stdout.strip() == "reserved"


def test_the_replica_has_the_primarys_checksums_and_roles(replica):
    assert sql(replica, "SHOW data_checksums", db="postgres").stdout.strip() == "on"
    assert sql(replica, "SELECT count(*) FROM pg_roles WHERE rolname = 'app'", db="postgres").stdout.strip() == "1"


def test_the_replica_verifies_the_primarys_certificate(host, replica):
    # The stream is encrypted, and the replica checked the primary's certificate (internal CA, by address).
    encrypted = sql(host, "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_replication r USING (pid)", db="postgres")
    assert encrypted.stdout.strip() == "t", encrypted.stderr
    conninfo = sql(replica, "SELECT conninfo FROM pg_stat_wal_receiver", db="postgres").stdout
    assert "sslmode=verify-full" in conninfo and "sslrootcert=/etc/postgresql/15/main/root.crt" in conninfo


def test_a_client_trusting_another_ca_is_refused_the_primarys_certificate(replica):
    out = replica.run(f"psql -X 'host={PRIMARY_IP} dbname=postgres user=app connect_timeout=5 sslmode=verify-full "
                      "sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem' -c 'SELECT 1'")
    assert out.rc != 0
    assert "certificate verify failed" in out.stderr


# --- failover and rejoin (these change the topology: keep them last) ---------------------------

def test_pgbouncer_serves_the_app_from_the_primary(host):
    out = host.run(f"{APP} -c 'SELECT host(inet_server_addr()), pg_is_in_recovery()'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "127.0.0.1|f"   # pgbouncer reaches the primary on its own host


def test_rejoin_refuses_to_act_without_a_named_host(host):
    proc = playbook(host, "db-rejoin.yml")
    assert proc.returncode != 0
    assert "Name the host to rejoin: -e db_rejoin_host=HOST" in said(proc)
    assert streaming(host)


def test_rejoin_refuses_a_standby_on_the_primarys_timeline(host, replica):
    proc = playbook(host, "db-rejoin.yml", "-e", "db_rejoin_host=pg-replica")
    assert proc.returncode != 0
    assert "pg-replica is on timeline 1, the primary pg-primary on 1: it is not a former primary" in said(proc)
    assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    assert streaming(host)


def test_failover_refuses_when_the_old_primary_cannot_be_fenced(host, replica, tmp_path):
    proc = playbook(host, "db-failover.yml", "-e", "db_failover_promote=pg-replica",
                    inventory=unreachable_primary_inventory(host, tmp_path))
    assert proc.returncode != 0
    assert "pg-primary could not be fenced" in said(proc)
    assert "-e db_failover_old_primary_fenced=true" in said(proc)
    assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    assert host.service("postgresql@15-main").is_running


def test_failover_refuses_a_replica_that_lacks_the_primarys_last_writes(host, replica):
    # The replica stops receiving (no primary_conninfo) while the primary writes on.
    assert sql(replica, "ALTER SYSTEM SET primary_conninfo = ''", db="postgres").rc == 0
    assert sql(replica, "SELECT pg_reload_conf()", db="postgres").rc == 0
    assert wait_for(lambda: not streaming(host), 30)
    assert sql(host, "INSERT INTO markers SELECT 'unreplicated-' || g FROM generate_series(1, 1000) g").rc == 0
    try:
        proc = playbook(host, "db-failover.yml", "-e", "db_failover_promote=pg-replica",
                        "-e", "db_failover_catch_up_seconds=4")
        assert proc.returncode != 0
        assert "bytes of WAL the old primary wrote" in said(proc)
        assert "db_failover_max_lag_bytes is 0" in said(proc)
        assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    finally:
        # Undo the refused failover's fence and the replica's disconnection.
        host.run_expect([0], "systemctl unmask postgresql@15-main && systemctl start postgresql@15-main")
        sql(replica, "ALTER SYSTEM RESET primary_conninfo", db="postgres")
        sql(replica, "SELECT pg_reload_conf()", db="postgres")
    assert wait_for(lambda: streaming(host), 60)


def test_failover_promotes_the_replica_and_fences_the_old_primary(host, replica):
    proc = playbook(host, "db-failover.yml", "-e", "db_failover_promote=pg-replica", "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert_no_password_in(proc)
    assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "f"
    assert sql(replica, "INSERT INTO markers VALUES ('after-failover')").rc == 0
    # The old primary stays down, even across a reboot or a stale site.yml run.
    assert host.run("systemctl is-enabled postgresql@15-main").stdout.strip() == "masked"
    assert not host.service("postgresql@15-main").is_running


def test_pgbouncer_follows_the_new_primary(host):
    def served_by_new_primary() -> bool:
        out = host.run(f"{APP} -c 'SELECT host(inet_server_addr()), pg_is_in_recovery()'")
        return out.rc == 0 and out.stdout.strip() == f"{REPLICA_IP}|f"

    assert wait_for(served_by_new_primary, 30)
    written = host.run(f"{APP} -c \"INSERT INTO markers VALUES ('through-pgbouncer')\"")
    assert written.rc == 0, written.stderr


def test_rejoin_turns_the_old_primary_into_a_replica_of_the_new_one(host, replica, tmp_path):
    proc = playbook(host, "db-rejoin.yml", "-e", "db_rejoin_host=pg-primary", "-vvv",
                    inventory=swapped_inventory(host, tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert_no_password_in(proc)
    rewind = proc.stdout.find("pg_rewind failed")
    assert rewind < 0, proc.stdout[rewind:rewind + 2000]   # rewound, not copied afresh
    assert host.run("systemctl is-enabled postgresql@15-main").stdout.strip() == "enabled"
    assert sql(host, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    assert wait_for(lambda: sql(replica, "SELECT application_name, state FROM pg_stat_replication")
                    .stdout.strip() == "pg_primary|streaming", 60)
    # Everything written since the failover, and what is written now, reaches the old primary.
    marker = f"after-rejoin-{time.time_ns()}"
    assert sql(replica, f"INSERT INTO markers VALUES ('{marker}')").rc == 0
    wanted = {"after-failover", "through-pgbouncer", marker}
    assert wait_for(lambda: wanted <= set(sql(host, "SELECT value FROM markers").stdout.split()), 30)
    assert sql(replica, "SELECT active FROM pg_replication_slots WHERE slot_name = 'pg_primary'").stdout.strip() == "t"


# --- a second failover, back to pg-primary, and a rejoin whose rewind fails -----------------------

def test_a_second_failover_promotes_the_first_primary_again(host, replica, tmp_path):
    proc = playbook(host, "db-failover.yml", "-e", "db_failover_promote=pg-primary",
                    inventory=swapped_inventory(host, tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert sql(host, "SELECT pg_is_in_recovery()").stdout.strip() == "f"
    assert replica.run("systemctl is-enabled postgresql@15-main").stdout.strip() == "masked"
    assert sql(host, "INSERT INTO markers VALUES ('after-second-failover')").rc == 0


def test_a_rejoin_whose_rewind_fails_moves_the_data_aside_and_copies_the_primary(host, replica):
    # The fenced host lost the WAL pg_rewind needs to find where the timelines split (recycled,
    # or a damaged disk): the rewind fails, and the playbook keeps the old directory and copies afresh.
    data = "/var/lib/postgresql/15/main"
    replica.run_expect([0], f"find {data}/pg_wal -maxdepth 1 -type f -regextype egrep "
                            "-regex '.*/[0-9A-F]{24}' -delete")
    proc = playbook(host, "db-rejoin.yml", "-e", "db_rejoin_host=pg-replica", "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert_no_password_in(proc)
    assert "pg_rewind failed" in proc.stdout
    aside = replica.run(f"ls -d {data}.before-rejoin-*").stdout.split()
    assert len(aside) == 1, aside
    kept = replica.file(aside[0])
    assert kept.user == "postgres" and kept.mode == 0o700
    assert replica.file(f"{aside[0]}/PG_VERSION").exists and replica.file(f"{aside[0]}/global/pg_control").exists
    assert sql(replica, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    assert wait_for(lambda: streaming(host), 60)
    marker = f"after-copy-{time.time_ns()}"
    assert sql(host, f"INSERT INTO markers VALUES ('{marker}')").rc == 0
    wanted = {"after-failover", "after-second-failover", marker}
    assert wait_for(lambda: wanted <= set(sql(replica, "SELECT value FROM markers").stdout.split()), 30)
