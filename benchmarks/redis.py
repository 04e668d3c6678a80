#!/usr/bin/env python3
"""Benchmark: the cost of Redis security as the redis role sets it up, with redis-benchmark.

    .venv/bin/python benchmarks/redis.py [--requests 100000] [--rounds 3] [--keep]

Two test hosts from the project image: a server converged with the redis role (a cache
instance with ACL logins on 6379, the same with TLS only on 6381) plus a throwaway
unauthenticated instance on 7000, and a client with redis-benchmark. Over the network, in
one run, alternating round after round: SET and GET throughput of the unauthenticated
instance, the ACL one, and the ACL + TLS one; the ratios of medians are the cost of each.
redis-benchmark opens its connections once (-c 50), so the cost of a login or a TLS
handshake is paid per connection, not per request.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib import container_ip, converge, must, test_hosts

SERVER, CLIENT = "paas-bench-redis", "paas-bench-client"


def bench(server: str, port: int, options: str, requests: int) -> dict[str, float]:
    """requests/s for SET and GET from the client host."""
    proc = must(["docker", "exec", CLIENT, "sh", "-c",
                 f"redis-benchmark -h {server} -p {port} {options} -t set,get -n {requests} -c 50 -d 256 --csv"],
                f"redis-benchmark on port {port}")
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the two hosts running")
    args = parser.parse_args()
    with test_hosts([SERVER, CLIENT], "paas-bench-redis", keep=args.keep, memory="1g"):
        converge([SERVER, CLIENT], "benchmarks/redis-hosts.yml")
        with tempfile.TemporaryDirectory() as scratch:
            ca = Path(scratch) / "ca.crt"
            must(["docker", "cp", f"{SERVER}:/etc/redis/tls/ca.crt", str(ca)], "copying the CA")
            must(["docker", "cp", str(ca), f"{CLIENT}:/root/ca.crt"], "installing the CA")
        server = container_ip(SERVER)
        login = "--user app -a bench-password"
        sides = {
            "unauthenticated": (7000, ""),
            "ACL login": (6379, login),
            "ACL login + TLS": (6381, f"{login} --tls --cacert /root/ca.crt"),
        }
        results: dict[str, list[dict[str, float]]] = {label: [] for label in sides}
        for _ in range(args.rounds):
            for label, (port, options) in sides.items():
                results[label].append(bench(server, port, options, args.requests))

    print(f"{args.requests} requests x {args.rounds} rounds, 50 connections, 256-byte values, over the network")
    medians = {label: {t: statistics.median(r[t] for r in runs) for t in ("SET", "GET")}
               for label, runs in results.items()}
    for label, runs in results.items():
        per_test = {t: [round(r[t]) for r in runs] for t in ("SET", "GET")}
        print(f"  {label:<16} SET {per_test['SET']} median {medians[label]['SET']:.0f}   "
              f"GET {per_test['GET']} median {medians[label]['GET']:.0f}")
    base, acl, tls = medians["unauthenticated"], medians["ACL login"], medians["ACL login + TLS"]
    for test in ("SET", "GET"):
        print(f"  {test}: ACL / unauthenticated {acl[test] / base[test]:.2f}, "
              f"ACL+TLS / ACL {tls[test] / acl[test]:.2f}, ACL+TLS / unauthenticated {tls[test] / base[test]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
