"""Unit tests for filter_plugins/postgresql.py.

Expected values follow pgtune's published formulas (https://github.com/le0pard/pgtune,
src/features/configuration/configurationSlice.js, as of 2026): shared_buffers = RAM/4,
effective_cache_size = RAM*3/4, maintenance_work_mem = RAM/16 capped at 8GB,
wal_buffers = 3% of shared_buffers capped at 16MB, work_mem =
(RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3) (halved for
mixed) with a 4MB floor, parallel settings from 4 CPUs. Each figure below was worked
out by hand from those formulas; the arithmetic is in the comments.
"""

import re

import pytest
from ansible.errors import AnsibleFilterError
from postgresql import (
    pg_app_logins,
    pg_peers,
    pg_scram_verifier,
    pg_size,
    pg_slot_name,
    pg_tune,
    pgbouncer_hba_entries,
    pgbouncer_problems,
    pgbouncer_server_connections,
    postgresql_problems,
)


@pytest.mark.parametrize(("host", "slot"), [("db2", "db2"), ("DB-2.example.com", "db_2_example_com"), ("r_1", "r_1")])
def test_a_replicas_slot_is_its_name_in_the_characters_postgresql_accepts(host, slot):
    assert pg_slot_name(host) == slot


@pytest.mark.parametrize("host", ["", None, 5])
def test_a_slot_needs_a_host_name(host):
    with pytest.raises(AnsibleFilterError, match="pg_slot_name: expected a host name"):
        pg_slot_name(host)


@pytest.mark.parametrize(("kb", "text"), [(1048576, "1GB"), (262144, "256MB"), (5041, "5041kB"), (32, "32kB")])
def test_pg_size_uses_the_largest_whole_unit(kb, text):
    assert pg_size(kb) == text


def test_web_profile_on_4_gb_and_2_cpus_matches_pgtune():
    settings = pg_tune(4096, 2, profile="web", storage="ssd")
    assert settings == {
        "max_connections": "200",
        "shared_buffers": "1GB",  # 4194304 kB / 4
        "effective_cache_size": "3GB",  # 4194304 * 3 / 4
        "maintenance_work_mem": "256MB",  # 4194304 / 16
        "checkpoint_completion_target": "0.9",
        "wal_buffers": "16MB",  # 3% of 1048576 = 31457 kB, capped at 16384
        "default_statistics_target": "100",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "work_mem": "5041kB",  # (4194304 - 1048576) / ((200 + 8) * 3) = 5041.2
        "huge_pages": "off",
        "min_wal_size": "1GB",
        "max_wal_size": "4GB",
        "jit": "off",
        "wal_compression": "lz4",
    }


def test_oltp_profile_on_16_gb_and_8_cpus_matches_pgtune():
    settings = pg_tune(16384, 8, profile="oltp")
    assert settings["max_connections"] == "300"
    assert settings["shared_buffers"] == "4GB"
    assert settings["effective_cache_size"] == "12GB"
    assert settings["maintenance_work_mem"] == "1GB"
    assert settings["work_mem"] == "13617kB"  # 12582912 / ((300 + 8) * 3) = 13617.9
    assert settings["huge_pages"] == "try"  # shared_buffers >= 2GB
    assert (settings["min_wal_size"], settings["max_wal_size"]) == ("2GB", "8GB")
    assert settings["max_worker_processes"] == "8"
    assert settings["max_parallel_workers_per_gather"] == "4"  # ceil(8 / 2)
    assert settings["max_parallel_workers"] == "8"
    assert settings["max_parallel_maintenance_workers"] == "4"
    assert "autovacuum_work_mem" not in settings


def test_mixed_profile_on_64_gb_16_cpus_and_hdd_matches_pgtune():
    settings = pg_tune(65536, 16, profile="mixed", storage="hdd")
    assert settings["max_connections"] == "100"
    assert settings["shared_buffers"] == "16GB"
    assert settings["effective_cache_size"] == "48GB"
    assert settings["maintenance_work_mem"] == "4GB"
    assert settings["autovacuum_work_mem"] == "2GB"  # maintenance_work_mem >= 2GB
    assert settings["work_mem"] == "72315kB"  # 50331648 / ((100 + 16) * 3) / 2 = 72315.6
    assert settings["max_parallel_workers_per_gather"] == "4"  # ceil(16 / 2) = 8, capped at 4
    assert settings["max_worker_processes"] == "16"
    assert (settings["random_page_cost"], settings["effective_io_concurrency"]) == ("4", "2")


def test_reserved_memory_and_pooled_connections_shrink_the_settings():
    # 2048 MB host, 512 MB kept for pgbouncer and exporters: pgtune sees 1536 MB.
    settings = pg_tune(2048, 1, reserved_mb=512, connections=60)
    assert settings["max_connections"] == "60"
    assert settings["shared_buffers"] == "384MB"  # 1572864 / 4 = 393216 kB
    assert settings["effective_cache_size"] == "1152MB"
    assert settings["maintenance_work_mem"] == "96MB"
    assert settings["wal_buffers"] == "11796kB"  # 3% of 393216 = 11796.5, below 14MB: not rounded up
    assert settings["work_mem"] == "5782kB"  # 1179648 / ((60 + 8) * 3) = 5782.6
    assert "max_worker_processes" not in settings  # fewer than 4 CPUs


def test_small_hosts_get_the_work_mem_floor_and_large_hosts_the_maintenance_cap():
    assert pg_tune(1024, 1)["work_mem"] == "4MB"  # 786432 / 624 = 1260 kB, below the 4MB floor
    assert pg_tune(262144, 32)["maintenance_work_mem"] == "8GB"  # 16GB capped at 8GB


def test_explicit_settings_win():
    settings = pg_tune(4096, 2, overrides={"shared_buffers": "512MB", "max_connections": 50})
    assert settings["shared_buffers"] == "512MB"
    assert settings["max_connections"] == "50"
    assert settings["effective_cache_size"] == "3GB"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_mb": 1024, "cpus": 2, "reserved_mb": 900}, "leaves 124 MB"),
        ({"memory_mb": 4096, "cpus": 2, "profile": "desktop"}, "profile must be one of web, oltp, mixed"),
        ({"memory_mb": 4096, "cpus": 2, "storage": "tape"}, "storage must be one of"),
        ({"memory_mb": "lots", "cpus": 2}, "memory_mb must be an integer"),
        ({"memory_mb": 4096, "cpus": 0}, "cpus must be at least 1"),
    ],
)
def test_bad_input_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pg_tune(**kwargs)


def test_scram_verifier_has_postgresql_format_and_is_kept_while_the_password_matches():
    verifier = pg_scram_verifier("correct horse")
    assert re.fullmatch(r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=", verifier)
    assert pg_scram_verifier("correct horse", verifier) == verifier
    changed = pg_scram_verifier("battery staple", verifier)
    assert changed != verifier
    assert changed.split("$")[1] != verifier.split("$")[1]  # a new salt


def test_scram_verifiers_of_one_password_differ_by_salt():
    assert pg_scram_verifier("same") != pg_scram_verifier("same")


def test_scram_verifier_refuses_an_empty_password():
    with pytest.raises(AnsibleFilterError, match="non-empty"):
        pg_scram_verifier("")


def test_pgbouncer_server_connections_count_every_user_pool_and_its_reserve():
    hostvars = {
        "db1": {"pgbouncer_users": ["app"], "pgbouncer_default_pool_size": 20, "pgbouncer_reserve_pool_size": 5,
                "pgbouncer_databases": [{"name": "app"}, {"name": "queue", "pool_size": 10}]},
        "edge": {"pgbouncer_users": ["app", "reporting"], "pgbouncer_reserve_pool_size": 0,
                 "pgbouncer_databases": [{"name": "app", "pool_size": 4}]},
    }
    assert pgbouncer_server_connections(["db1"], hostvars) == (20 + 5) + (10 + 5)
    assert pgbouncer_server_connections(["db1", "edge"], hostvars) == 40 + 2 * 4
    assert pgbouncer_server_connections([], hostvars) == 0


TOPOLOGY = {
    "db1": {"private_ip": "10.0.0.13", "pgbouncer_users": ["portfolio"],
            "pgbouncer_databases": [{"name": "portfolio_production"}]},
    "db2": {"private_ip": "10.0.0.14"},
    "pool1": {"private_ip": "10.0.0.20", "pgbouncer_users": ["portfolio", "jobs"],
              "pgbouncer_databases": [{"name": "app", "dbname": "portfolio_production"}]},
}


def test_pgbouncer_server_connections_count_the_sizing_users_when_given():
    pooler = {"pgbouncer_users": ["app"], "pgbouncer_databases": [{"name": "app", "pool_size": 10}],
              "pgbouncer_reserve_pool_size": 2}
    assert pgbouncer_server_connections(["db1"], {"db1": pooler}) == 12
    # Both of the app's logins, as pooled during a rotation: the same count before, during and after it.
    sized = pooler | {"pgbouncer_sizing_users": ["app", "app_2"]}
    assert pgbouncer_server_connections(["db1"], {"db1": sized}) == 24
    assert pgbouncer_server_connections(["db1"], {"db1": sized | {"pgbouncer_users": ["app_2", "app"]}}) == 24


def test_pg_peers_lists_every_other_database_host_with_its_address():
    assert pg_peers(["db1", "db2"], TOPOLOGY, exclude="db1") == [{"name": "db2", "address": "10.0.0.14"}]
    assert pg_peers(["db1", "db2"], TOPOLOGY, exclude="db2") == [{"name": "db1", "address": "10.0.0.13"}]
    assert pg_peers([], TOPOLOGY) == []


def test_pgbouncer_hba_entries_cover_each_remote_pooler_user_and_real_database_name():
    entries = pgbouncer_hba_entries(["db1", "pool1"], TOPOLOGY, exclude="db1")
    remote = {"database": "portfolio_production", "address": "10.0.0.20", "comment": "pgbouncer on pool1"}
    assert entries == [{**remote, "user": "portfolio"}, {**remote, "user": "jobs"}]
    # On the other database host, the pgbouncer on db1 is remote too.
    assert {e["address"] for e in pgbouncer_hba_entries(["db1", "pool1"], TOPOLOGY, exclude="db2")} == {
        "10.0.0.13", "10.0.0.20"}


VALID = {"databases": [{"name": "app", "owner": "app"}], "users": [{"name": "app", "password": "pw"}],
         "readonly_users": [],
         "hba_entries": [{"address": "10.0.0.12"}], "ssl_enabled": True, "replication_role": "primary",
         "replicas": [], "replication_password_set": False, "primary_host": "", "settings": {},
         "memory_settings": ["shared_buffers", "work_mem"], "pooled_connections": 0}


def test_valid_postgresql_settings_have_no_problem():
    assert postgresql_problems(VALID) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"databases": [{"name": "app", "owner": "nobody"}]},
         "postgresql_databases: owner not in postgresql_users: nobody"),
        ({"users": [{"name": "app"}, {"name": "app_2", "password": "pw"}]},
         "postgresql_users: a login without a password (give one, or NOLOGIN): app"),
        ({"readonly_users": [{"name": "ro", "databases": ["app", "other"]}]},
         "postgresql_readonly_users: database not in postgresql_databases: other"),
        ({"hba_entries": [{"address": "10.0.0.0/33"}, {"address": "10.0.0.1"}]},
         "postgresql_hba_entries: invalid address (CIDR): 10.0.0.0/33"),
        ({"ssl_enabled": False}, "postgresql_hba_entries are hostssl entries: they need postgresql_ssl_enabled"),
        ({"replication_role": "replica", "hba_entries": [], "ssl_enabled": False, "primary_host": "10.0.0.1",
          "replication_password_set": True}, "a replica verifies its primary"),
        ({"replicas": [{"name": "db2"}]}, "postgresql_replication_password is empty"),
        ({"replication_role": "replica", "replication_password_set": True},
         "postgresql_primary_host is empty: a replica needs the address of its primary"),
        ({"settings": {"shared_buffers": "2 gigabytes", "work_mem": "4MB", "max_wal_size": "1 GB"}},
         "postgresql_settings: memory value without a valid unit (kB, MB, GB, TB): shared_buffers"),
        ({"settings": {"max_connections": 50}, "pooled_connections": 48},
         "postgresql_pooled_connections (48) exceeds postgresql_settings.max_connections (50) minus 3"),
        ({"settings": {"max_connections": 50, "superuser_reserved_connections": 5}, "pooled_connections": 46},
         "minus 5 superuser-reserved connections"),
    ],
)
def test_each_postgresql_rule_names_its_variable(changes, message):
    problems = postgresql_problems(VALID | changes)
    assert len(problems) == 1 and message in problems[0], problems


def test_a_role_that_cannot_log_in_needs_no_password():
    users = [{"name": "app", "role_attr_flags": "NOLOGIN,NOSUPERUSER"}, {"name": "app_2", "password": "pw"}]
    assert postgresql_problems(VALID | {"users": users}) == []


def test_pools_that_fit_and_a_replica_with_everything_pass():
    assert postgresql_problems(VALID | {"settings": {"max_connections": 50}, "pooled_connections": 47}) == []
    replica = VALID | {"replication_role": "replica", "primary_host": "10.0.0.1", "replication_password_set": True}
    assert postgresql_problems(replica) == []


def test_postgresql_problems_needs_every_setting():
    with pytest.raises(AnsibleFilterError, match="settings lack pooled_connections"):
        postgresql_problems({k: v for k, v in VALID.items() if k != "pooled_connections"})


def _logins(entries: list[dict]) -> dict:
    return {e["name"]: (e["password"], e["role_attr_flags"].split(",")[0], e["member_of"], e["configuration"])
            for e in entries}


def test_the_app_logs_in_as_the_owner_and_its_twin_cannot_log_in():
    assert _logins(pg_app_logins("portfolio", "portfolio", "new")) == {
        "portfolio": ("new", "LOGIN", [], {}),
        "portfolio_2": ("", "NOLOGIN", ["portfolio"], {"role": "portfolio"}),
    }


def test_during_a_rotation_both_log_in_each_with_its_password():
    logins = pg_app_logins("portfolio", "portfolio_2", "new", {"login": "portfolio", "password": "old"})
    assert _logins(logins) == {
        "portfolio": ("old", "LOGIN", [], {}),
        "portfolio_2": ("new", "LOGIN", ["portfolio"], {"role": "portfolio"}),
    }
    # The owner first: the twin's membership and SET ROLE name it.
    assert [e["name"] for e in logins] == ["portfolio", "portfolio_2"]


def test_after_a_rotation_the_previous_login_cannot_log_in():
    assert _logins(pg_app_logins("portfolio", "portfolio_2", "new", {}))["portfolio"] == ("", "NOLOGIN", [], {})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("portfolio", "someone", "pw"), "the app's login must be portfolio or portfolio_2 (got 'someone')"),
        (("portfolio", "portfolio", ""), "the password of portfolio is empty"),
        (("", "portfolio", "pw"), "the owner role's name is empty"),
        (("portfolio", "portfolio", "pw", {"login": "portfolio", "password": "old"}),
         "the previous login must be the other one of portfolio and portfolio_2 than portfolio"),
        (("portfolio", "portfolio", "pw", {"login": "portfolio_2", "password": ""}),
         "the previous password (of portfolio_2) is empty"),
        (("portfolio", "portfolio", "pw", {"login": "portfolio_2", "password": "pw"}),
         "the new password is the previous one"),
        (("portfolio", "portfolio", "pw", ["portfolio_2"]), "previous must be a mapping"),
    ],
)
def test_app_logins_refuse_what_would_lock_the_app_out(args, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        pg_app_logins(*args)


PGBOUNCER_OK = {"databases": [{"name": "portfolio"}], "users": [{"name": "portfolio"}], "default_pool_size": 20,
                "reserve_pool_size": 5}


@pytest.mark.parametrize(("changes", "message"), [
    ({}, None),
    ({"databases": [], "users": []}, None),
    ({"users": []}, "pgbouncer_databases is set but pgbouncer_users is empty: nobody could log in"),
    ({"reserve_pool_size": 30}, "pgbouncer_reserve_pool_size is larger than pgbouncer_default_pool_size"),
    ({"reserve_pool_size": 20}, None),
])
def test_each_pgbouncer_rule_is_broken_alone_with_its_message(changes, message):
    assert pgbouncer_problems({**PGBOUNCER_OK, **changes}) == ([message] if message else [])


def test_pgbouncer_settings_of_the_wrong_shape_are_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="pgbouncer_problems: expected a mapping"):
        pgbouncer_problems([PGBOUNCER_OK])
    with pytest.raises(AnsibleFilterError, match="pgbouncer_problems: settings lack users"):
        pgbouncer_problems({key: value for key, value in PGBOUNCER_OK.items() if key != "users"})
