"""Unit tests for roles/pgbouncer_exporter/files/pgbouncer-exporter.py (the metrics it builds)."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
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


@pytest.fixture
def tls_server(tmp_path):
    """The exporter's metrics server on the loopback with a self-signed certificate, serving."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server = exporter.metrics_server("127.0.0.1", 0, str(cert), str(key))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, cert.read_text()
    server.shutdown()
    server.server_close()


def test_with_a_certificate_the_metrics_are_served_over_tls_only(tls_server):
    server, cert = tls_server
    port = server.server_address[1]
    context = ssl.create_default_context(cadata=cert)
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", timeout=5, context=context) as response:
        assert "python_info" in response.read().decode()     # the default registry's metrics
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_the_server_refuses_tls_older_than_1_2_whatever_the_systems_openssl_allows(tls_server):
    # OpenSSL 3 refuses TLS 1.1 at its default security level anyway (the Molecule scenario's
    # openssl s_client shows it on the host); the exporter does not rely on that setting.
    server, _ = tls_server
    assert server.tls.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_client_that_never_completes_its_handshake_holds_up_no_other_scrape(tls_server):
    server, cert = tls_server
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5):   # connects, sends nothing
        context = ssl.create_default_context(cadata=cert)
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", timeout=5, context=context) as response:
            assert response.status == 200
