#!/usr/bin/env python3
"""Benchmark: PostgreSQL as the postgresql and pgbouncer roles set it up, with pgbench.

    .venv/bin/python benchmarks/pgbench.py [--scale 20] [--seconds 30] [--rounds 2] [--keep]

Two test hosts from the project image, 2 GB each: "tuned" converged with the postgresql role
(pg_tune for 2 GB) and pgbouncer, "default" with Debian's PostgreSQL 15 as installed. pgbench
runs on each host against itself (127.0.0.1), so client and server share the host's CPU alike.
Every comparison alternates its two sides, round after round, and reports the ratio of medians:

1. tuned vs Debian default: pgbench's TPC-B-like mix at a scale larger than the default
   shared_buffers (128MB), 8 clients;
2. connect-per-transaction (-C) through pgbouncer vs direct, select-only, 16 clients;
3. more clients than max_connections (-C): through pgbouncer vs direct, with error counts;
4. latency: a 9:1 read/write mix through pgbouncer at a steady 100 transactions/s, P50/P95/P99
   against the brief's database P95 target (100 ms);
5. the cost of TLS with certificate verification (internal CA, sslmode=verify-full) through
   pgbouncer, against its Unix socket (no TLS), select-only, 16 clients: a new connection per
   transaction (-C: a handshake each time) and kept connections (encryption only).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys

from benchlib import converge, must, run, test_hosts

TUNED, DEFAULT = "paas-bench-tuned", "paas-bench-default"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
ENV = "PGPASSWORD=bench-password PGUSER=app PGHOST=127.0.0.1"
# TCP to pgbouncer with its certificate verified against the internal CA; the Unix socket has no TLS.
VERIFY_FULL = "PGSSLMODE=verify-full PGSSLROOTCERT=/etc/pgbouncer/tls/ca.crt"
SOCKET = "PGHOST=/var/run/postgresql"
CONNECTION_ERRORS = r"too many clients|could not create connection|connection .* failed"


def on(host: str, command: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return run(["docker", "exec", host, "sh", "-c", command], timeout)


def pgbench(host: str, args: str, port: int = 5432, timeout: int = 900, env: str = "") -> dict:
    """Run pgbench on the host against itself; TPS, failed transactions and connection errors."""
    proc = on(host, f"cd /tmp && {ENV} {env} {PGBENCH} -p {port} {args} bench", timeout)
    out = proc.stdout + proc.stderr
    tps = re.search(r"^tps = ([\d.]+)", out, re.M)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    return {"tps": float(tps.group(1)) if tps else 0.0,
            "transactions": int(done.group(1)) if done else 0,
            "failed": int(failed.group(1)) if failed else 0,
            "connection_errors": len(re.findall(CONNECTION_ERRORS, out)),
            "rc": proc.returncode, "tail": out[-600:]}


def alternate(rounds: int, sides: dict) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {label: [] for label in sides}
    for _ in range(rounds):
        for label, measure in sides.items():
            results[label].append(measure())
    return results


def median_tps(runs: list[dict]) -> float:
    return statistics.median(r["tps"] for r in runs)


def latency_percentiles(host: str) -> dict[str, float]:
    logs = on(host, "cat /tmp/pgbench_log.*").stdout.split("\n")
    latencies = sorted(int(line.split()[2]) / 1000 for line in logs if len(line.split()) >= 6)
    on(host, "rm -f /tmp/pgbench_log.*")
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {"count": len(latencies), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=20, help="pgbench scale (20 is about 300 MB)")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the two hosts running")
    args = parser.parse_args()
    secs = args.seconds
    with test_hosts([TUNED, DEFAULT], "paas-bench", keep=args.keep, memory="2g"):
        converge([TUNED, DEFAULT], "benchmarks/pgbench-hosts.yml")
        for host in (TUNED, DEFAULT):
            must(["docker", "exec", host, "sh", "-c", f"{ENV} {PGBENCH} -i -q -s {args.scale} bench"],
                 f"pgbench -i on {host}", 1800)
        settings = {h: must(["docker", "exec", h, "runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-c",
                             "SELECT string_agg(name || '=' || current_setting(name), ' ') FROM unnest(ARRAY["
                             "'shared_buffers', 'effective_cache_size', 'work_mem', 'max_connections',"
                             " 'random_page_cost']) AS name"], f"reading the settings of {h}").stdout.strip()
                    for h in (TUNED, DEFAULT)}
        max_connections = int(re.search(r"max_connections=(\d+)", settings[TUNED]).group(1))

        tuning = alternate(args.rounds, {
            "debian default": lambda: pgbench(DEFAULT, f"-c 8 -j 2 -T {secs}"),
            "tuned": lambda: pgbench(TUNED, f"-c 8 -j 2 -T {secs}")})
        connect = alternate(args.rounds, {
            "direct": lambda: pgbench(TUNED, f"-C -S -c 16 -j 2 -T {secs}"),
            "pgbouncer": lambda: pgbench(TUNED, f"-C -S -c 16 -j 2 -T {secs}", port=6432)})
        clients = max_connections + 30
        overload = alternate(1, {
            "direct": lambda: pgbench(TUNED, f"-C -S -c {clients} -j 2 -T {secs}"),
            "pgbouncer": lambda: pgbench(TUNED, f"-C -S -c {clients} -j 2 -T {secs}", port=6432)})
        tls_connect = alternate(args.rounds, {
            "socket, no TLS": lambda: pgbench(TUNED, f"-C -S -c 16 -j 2 -T {secs}", port=6432, env=SOCKET),
            "TLS verify-full": lambda: pgbench(TUNED, f"-C -S -c 16 -j 2 -T {secs}", port=6432, env=VERIFY_FULL)})
        tls_kept = alternate(args.rounds, {
            "socket, no TLS": lambda: pgbench(TUNED, f"-S -c 16 -j 2 -T {secs}", port=6432, env=SOCKET),
            "TLS verify-full": lambda: pgbench(TUNED, f"-S -c 16 -j 2 -T {secs}", port=6432, env=VERIFY_FULL)})
        on(TUNED, "rm -f /tmp/pgbench_log.*")
        steady = pgbench(TUNED, f"-b select-only@9 -b simple-update@1 -c 8 -j 2 -R 100 -T {secs} -l", port=6432)
        latency = latency_percentiles(TUNED)

    print(f"settings: tuned: {settings[TUNED]}\n          default: {settings[DEFAULT]}")
    print(f"scale {args.scale}, {secs} s per run, {args.rounds} rounds alternating")
    comparisons = (("TPC-B-like, 8 clients", tuning, "debian default", "tuned"),
                   ("connect per transaction (-C), select-only, 16 clients", connect, "direct", "pgbouncer"),
                   ("pgbouncer, connect per transaction (-C), select-only, 16 clients", tls_connect,
                    "socket, no TLS", "TLS verify-full"),
                   ("pgbouncer, kept connections, select-only, 16 clients", tls_kept,
                    "socket, no TLS", "TLS verify-full"))
    for title, result, a, b in comparisons:
        print(f"\n{title}")
        for label in (a, b):
            runs = [round(r["tps"], 1) for r in result[label]]
            print(f"  {label:<15} TPS {runs} median {median_tps(result[label]):.1f}")
        print(f"  ratio {b} / {a}: {median_tps(result[b]) / median_tps(result[a]):.2f}")
    print(f"\n{clients} clients (max_connections {max_connections}), -C, select-only")
    for label, (r,) in overload.items():
        print(f"  {label:<10} TPS {r['tps']:.1f}  transactions {r['transactions']}  failed {r['failed']}  "
              f"connection errors {r['connection_errors']}  exit {r['rc']}")
    print(f"\nsteady 100 TPS, 9:1 select/update through pgbouncer: {steady['transactions']} transactions, "
          f"failed {steady['failed']}; latency ms P50 {latency['p50']:.2f} P95 {latency['p95']:.2f} "
          f"P99 {latency['p99']:.2f} (target P95 < 100)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
