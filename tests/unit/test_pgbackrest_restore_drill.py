"""Unit tests for roles/pgbackrest/files/pgbackrest-restore-drill.py (the restore drill's pure parts)."""

from __future__ import annotations

import json

import pytest
from paas_testlib import load_script

drill = load_script("roles/pgbackrest/files/pgbackrest-restore-drill.py")

SOURCE = {"public.portfolios": {"rows": 3, "checksum": "123"}, "public.users": {"rows": 2, "checksum": "77"}}


def test_equal_records_have_no_difference():
    assert drill.compare(SOURCE, json.loads(json.dumps(SOURCE))) == []


@pytest.mark.parametrize(("restored", "message"), [
    ({"public.portfolios": {"rows": 3, "checksum": "123"}}, "public.users: missing from the restored database"),
    ({**SOURCE, "public.extra": {"rows": 0, "checksum": "0"}}, "public.extra: in the restored database only"),
    ({**SOURCE, "public.users": {"rows": 1, "checksum": "77"}}, "public.users: 2 rows on the primary, 1 restored"),
    ({**SOURCE, "public.users": {"rows": 2, "checksum": "78"}}, "public.users: same row count, different content"),
])
def test_each_difference_is_named(restored, message):
    assert drill.compare(SOURCE, restored) == [message]


def test_the_primary_is_locked_before_the_restore_point_and_the_record():
    sql = drill.record_sql("drill-20261201T030000-repo1")
    lock, point, record = sql.index("IN SHARE MODE"), sql.index("pg_create_restore_point"), sql.index("count(*)")
    assert sql.startswith("BEGIN;") and sql.rstrip().endswith("COMMIT;")
    assert lock < point < record
    assert "'drill-20261201T030000-repo1'" in sql


def test_the_scratch_server_is_only_read():
    sql = drill.record_sql(None)
    assert "LOCK" not in sql and "pg_create_restore_point" not in sql and "BEGIN" not in sql
    assert "count(*)" in sql


def test_the_scratch_settings_follow_the_primarys_controldata():
    controldata = ("pg_control version number:            1300\n"
                   "max_connections setting:              200\n"
                   "max_worker_processes setting:         8\n"
                   "max_wal_senders setting:              10\n"
                   "max_prepared_xacts setting:           0\n"
                   "max_locks_per_xact setting:           64\n")
    conf = drill.scratch_settings(controldata, 5491, "/srv/drill")
    assert "port = 5491" in conf and "listen_addresses = ''" in conf and "archive_mode = off" in conf
    assert "unix_socket_directories = '/srv/drill'" in conf
    assert "max_connections = 200" in conf and "max_prepared_transactions = 0" in conf
    assert "max_locks_per_transaction = 64" in conf
