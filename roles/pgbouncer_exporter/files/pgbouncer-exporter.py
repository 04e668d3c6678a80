#!/usr/bin/python3
"""A Prometheus exporter for pgbouncer: its pools and totals, read from the admin console at scrape.

Installed by the pgbouncer_exporter role and run by pgbouncer-exporter.service:

    pgbouncer-exporter --listen 10.0.0.13 --port 9127 --socket-dir /var/run/postgresql \
        --pgbouncer-port 6432 --user pgbouncer_stats [--tls-cert FILE --tls-key FILE]

Each scrape connects over pgbouncer's Unix socket as the stats user (libpq finds the password
in PGPASSFILE), runs SHOW POOLS and SHOW STATS, and answers pgbouncer_up 0 when pgbouncer does
not. With a certificate and key it serves https only, TLS 1.2 or later (read at start: a new
certificate restarts the service). Written for this project because Debian 12's
prometheus-pgbouncer-exporter 1.7 stops at start against Debian 12's pgbouncer 1.18 (its SHOW
STATS lost `total_requests`).
Needs python3-prometheus-client and python3-psycopg2 (Debian); the metric building is pure and
unit-tested: tests/unit/test_pgbouncer_exporter.py.
"""

from __future__ import annotations

import argparse
import ssl
import sys

# name: (type, help, SHOW column, divisor) for each pool (database, user) of SHOW POOLS.
POOL_METRICS = {
    "pgbouncer_pool_client_active_connections": ("gauge", "Client connections linked to a server or idle.",
                                                 "cl_active", 1),
    "pgbouncer_pool_client_waiting_connections": ("gauge", "Client connections waiting for a server connection.",
                                                  "cl_waiting", 1),
    "pgbouncer_pool_server_active_connections": ("gauge", "Server connections linked to a client.", "sv_active", 1),
    "pgbouncer_pool_server_idle_connections": ("gauge", "Server connections unused and ready.", "sv_idle", 1),
    "pgbouncer_pool_server_used_connections": ("gauge", "Server connections idle longer than server_check_delay.",
                                               "sv_used", 1),
}
# name: (type, help, SHOW column, divisor) for each database of SHOW STATS (times in microseconds).
STATS_METRICS = {
    "pgbouncer_stats_transactions_total": ("counter", "Transactions pooled.", "total_xact_count", 1),
    "pgbouncer_stats_queries_total": ("counter", "Queries pooled.", "total_query_count", 1),
    "pgbouncer_stats_transaction_seconds_total": ("counter", "Time spent in transactions.", "total_xact_time",
                                                  1_000_000),
    "pgbouncer_stats_query_seconds_total": ("counter", "Time spent in queries.", "total_query_time", 1_000_000),
    "pgbouncer_stats_client_wait_seconds_total": ("counter", "Time clients waited for a server connection.",
                                                  "total_wait_time", 1_000_000),
}


def families(pools: list[dict] | None, stats: list[dict] | None) -> list[tuple[str, str, str, list]]:
    """(name, type, help, [(labels, value)]) of every metric; pools and stats are SHOW POOLS and
    SHOW STATS rows (column -> value), None when pgbouncer did not answer."""
    up = pools is not None and stats is not None
    found = [("pgbouncer_up", "gauge", "Whether pgbouncer answered the exporter (1) or not (0).",
              [({}, 1.0 if up else 0.0)])]
    if not up:
        return found
    rows = [row for row in pools if row.get("database") != "pgbouncer"]   # the admin console itself
    for name, (kind, text, column, divisor) in POOL_METRICS.items():
        found.append((name, kind, text, [({"database": row["database"], "user": row["user"]},
                                          float(row[column]) / divisor) for row in rows if column in row]))
    found.append(("pgbouncer_pool_client_max_wait_seconds", "gauge",
                  "How long the oldest waiting client has waited.",
                  [({"database": row["database"], "user": row["user"]},
                    float(row.get("maxwait", 0)) + float(row.get("maxwait_us", 0)) / 1_000_000) for row in rows]))
    databases = [row for row in stats if row.get("database") != "pgbouncer"]
    for name, (kind, text, column, divisor) in STATS_METRICS.items():
        found.append((name, kind, text, [({"database": row["database"]}, float(row[column]) / divisor)
                                         for row in databases if column in row]))
    return found


def show(connection, command: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(command)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


HANDSHAKE_TIMEOUT_S = 10


def metrics_server(address: str, port: int, cert: str | None = None, key: str | None = None):
    """A threading HTTP server answering every path with the default registry's metrics; over
    https only, TLS 1.2 or later, when cert and key are given. Each connection's handshake runs in
    its own thread with a timeout, so a client that never completes one holds up no other scrape.
    The caller runs serve_forever()."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        tls = context

        def get_request(self):
            connection, client = self.socket.accept()
            connection.settimeout(HANDSHAKE_TIMEOUT_S)
            if self.tls:
                connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
            return connection, client

        def finish_request(self, request, client_address):
            if self.tls:
                request.do_handshake()
            super().finish_request(request, client_address)

        def handle_error(self, request, client_address):   # one line, not a traceback per bad client
            print(f"request from {client_address[0]} failed: {sys.exc_info()[1]}", flush=True)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *_args):   # a line per scrape would fill the journal
            pass

    return make_server(address, port, make_wsgi_app(), Server, handler_class=QuietHandler)


def main() -> None:
    import psycopg2
    from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=9127)
    parser.add_argument("--socket-dir", default="/var/run/postgresql")
    parser.add_argument("--pgbouncer-port", type=int, default=6432)
    parser.add_argument("--user", default="pgbouncer_stats")
    parser.add_argument("--tls-cert", help="serve https only (TLS 1.2 or later) with this certificate")
    parser.add_argument("--tls-key", help="the certificate's key")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    class Collector:
        def collect(self):
            pools = stats = None
            try:
                connection = psycopg2.connect(host=args.socket_dir, port=args.pgbouncer_port, user=args.user,
                                              dbname="pgbouncer", connect_timeout=5)
                try:
                    connection.autocommit = True   # the admin console takes no transactions
                    pools, stats = show(connection, "SHOW POOLS"), show(connection, "SHOW STATS")
                finally:
                    connection.close()
            except psycopg2.Error as error:
                print(f"pgbouncer did not answer: {error}".strip(), flush=True)
            for name, kind, text, samples in families(pools, stats):
                labels = sorted({key for sample_labels, _ in samples for key in sample_labels})
                family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
                    name.removesuffix("_total") if kind == "counter" else name, text, labels=labels)
                for sample_labels, value in samples:
                    family.add_metric([sample_labels[key] for key in labels], value)
                yield family

    REGISTRY.register(Collector())
    metrics_server(args.listen, args.port, args.tls_cert, args.tls_key).serve_forever()


if __name__ == "__main__":
    main()
