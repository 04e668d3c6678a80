"""Unit tests for roles/pgbouncer_exporter/files/pgbouncer-exporter.py (the metrics it builds)."""

from __future__ import annotations

from paas_testlib import load_script

exporter = load_script("roles/pgbouncer_exporter/files/pgbouncer-exporter.py")

POOLS = [
    {"database": "app_production", "user": "app", "cl_active": 3, "cl_waiting": 2, "sv_active": 3, "sv_idle": 1,
     "sv_used": 0, "maxwait": 1, "maxwait_us": 500000, "pool_mode": "transaction"},
    {"database": "pgbouncer", "user": "pgbouncer", "cl_active": 1, "cl_waiting": 0, "sv_active": 0, "sv_idle": 0,
     "sv_used": 0, "maxwait": 0, "maxwait_us": 0, "pool_mode": "statement"},
]
STATS = [
    {"database": "app_production", "total_xact_count": 10, "total_query_count": 25, "total_xact_time": 3_000_000,
     "total_query_time": 2_500_000, "total_wait_time": 400_000},
    {"database": "pgbouncer", "total_xact_count": 1, "total_query_count": 1, "total_xact_time": 0,
     "total_query_time": 0, "total_wait_time": 0},
]


def metrics(pools, stats) -> dict[str, list]:
    return {name: samples for name, _, _, samples in exporter.families(pools, stats)}


def test_pools_and_totals_of_each_database_but_the_admin_console():
    found = metrics(POOLS, STATS)
    pool = {"database": "app_production", "user": "app"}
    assert found["pgbouncer_up"] == [({}, 1.0)]
    assert found["pgbouncer_pool_client_active_connections"] == [(pool, 3.0)]
    assert found["pgbouncer_pool_client_waiting_connections"] == [(pool, 2.0)]
    assert found["pgbouncer_pool_client_max_wait_seconds"] == [(pool, 1.5)]
    assert found["pgbouncer_stats_queries_total"] == [({"database": "app_production"}, 25.0)]
    assert found["pgbouncer_stats_client_wait_seconds_total"] == [({"database": "app_production"}, 0.4)]


def test_pgbouncer_not_answering_is_up_0_and_nothing_else():
    assert metrics(None, None) == {"pgbouncer_up": [({}, 0.0)]}


def test_every_metric_has_a_type_and_help():
    for _, kind, text, _ in exporter.families(POOLS, STATS):
        assert kind in ("gauge", "counter") and text.endswith(".")


def test_a_column_an_older_or_newer_pgbouncer_lacks_is_left_out_not_an_error():
    pools = [{k: v for k, v in POOLS[0].items() if k != "sv_used"}]
    found = metrics(pools, STATS[:1])
    assert found["pgbouncer_pool_server_used_connections"] == []
    assert found["pgbouncer_pool_client_active_connections"]
