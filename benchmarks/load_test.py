#!/usr/bin/env python3
"""Benchmark: the sandbox under load through its load balancer, against the brief's targets (STORY-009, issue 19).

    make sandbox        # the converged sandbox with the demo app deployed
    .venv/bin/python benchmarks/load_test.py [--start-rate 5] [--max-rate 160] [--step-seconds 30]
                                             [--steady-seconds 120] [--clients 40]

k6 (benchmarks/k6/portfolio-load.js) sends visits at a constant arrival rate to the sandbox's
site through lb1, by the site's name, the certificate verified against the ACME server's roots: half of
them the portfolio list, a third one portfolio's page, the rest an editing session (the form with
its session cookie and CSRF token, the update written to PostgreSQL through pgbouncer, the page
it redirects to).

1. Ramp: the rate doubles step after step (each --step-seconds long) until a step misses the
   brief's targets (P95 < 500 ms, failed requests < 0.1 %) or k6 cannot start the visits asked
   for (fewer than 95 % started: the sandbox is not keeping up); then --refine bisection steps
   between the last rate that met the targets and the first that did not. The highest rate
   that met them is the saturation point.
2. Steady: 80 % of that rate for --steady-seconds.

Each run's k6 summary is kept in reports/load-test/. The load balancer limits each client
address (nginx_rate_limit, 20 r/s), as production does; real traffic comes from many addresses,
so the benchmark adds --clients addresses to the controller's side of the sandbox network for
the run (removed afterwards) and k6 spreads its virtual users over them (--local-ips).
Traffic goes only to the sandbox; every run is bounded in time and rate.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from pathlib import Path

from benchlib import ROOT, inventory_host, must, network_bridge, run

K6 = str(Path(sys.executable).parent / "k6")
SCRIPT = ROOT / "benchmarks" / "k6" / "portfolio-load.js"
REPORTS = ROOT / "reports" / "load-test"
# The roots of the sandbox's ACME server, which issues the site's certificate.
CA = ROOT / ".sandbox" / "acme" / "roots.pem"
P95_TARGET_MS, ERROR_TARGET = 500.0, 0.001


def sandbox() -> dict:
    """The load balancer's address, the site's name and the sandbox network, from the inventory."""
    lb = inventory_host("inventories/sandbox", "lb1")
    return {"address": lb["ansible_host"], "site": lb["nginx_sites"][0]["server_names"][0],
            "network": lb["sandbox_network"], "subnet": lb["sandbox_subnet"]}


def client_addresses(subnet: str, count: int) -> list[str]:
    """count addresses from the top of the subnet (the sandbox's hosts are numbered from the bottom)."""
    hosts = list(ipaddress.ip_network(subnet).hosts())
    return [str(a) for a in hosts[-count - 10:-10]]


def k6(env: dict, rate: int, seconds: int, max_vus: int, local_ips: str, label: str) -> dict:
    REPORTS.mkdir(parents=True, exist_ok=True)
    summary = REPORTS / f"{label}.json"
    must([K6, "run", "--quiet", "--no-color", "--summary-export", str(summary), "--address", "127.0.0.1:0",
          "--local-ips", local_ips, str(SCRIPT)], f"k6 {label}", timeout=seconds + 180,
         env={**env, "RATE": str(rate), "SECONDS": str(seconds), "MAX_VUS": str(max_vus)})
    metrics = json.loads(summary.read_text())["metrics"]
    duration = metrics["http_req_duration"]
    started = metrics["iterations"]["count"]
    return {"label": label, "rate": rate, "seconds": seconds, "visits": started,
            "started": started / (rate * seconds), "requests": metrics["http_reqs"]["count"],
            "requests_per_s": metrics["http_reqs"]["rate"], "p95": duration["p(95)"], "p99": duration["p(99)"],
            "median": duration["med"], "failed": metrics["http_req_failed"]["value"],
            "dropped": metrics.get("dropped_iterations", {}).get("count", 0)}


def meets(result: dict) -> bool:
    return result["p95"] < P95_TARGET_MS and result["failed"] < ERROR_TARGET and result["started"] >= 0.95


def row(result: dict) -> str:
    return (f"| {result['label']} | {result['rate']} | {result['visits']} | {result['requests_per_s']:.1f} | "
            f"{result['median']:.0f} | {result['p95']:.0f} | {result['p99']:.0f} | {100 * result['failed']:.2f} % | "
            f"{100 * result['started']:.0f} % | {'yes' if meets(result) else 'no'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-rate", type=int, default=5, help="visits/s of the first step")
    parser.add_argument("--max-rate", type=int, default=160, help="the ramp stops here at the latest")
    parser.add_argument("--step-seconds", type=int, default=30)
    parser.add_argument("--steady-seconds", type=int, default=120)
    parser.add_argument("--clients", type=int, default=40, help="client addresses the visits come from")
    parser.add_argument("--refine", type=int, default=2, help="bisection steps after the first miss")
    args = parser.parse_args()
    if not (0 < args.start_rate <= args.max_rate <= 1000 and 0 < args.step_seconds <= 300
            and 0 < args.steady_seconds <= 900 and 0 < args.clients <= 100 and 0 <= args.refine <= 5):
        sys.exit("load_test: rates 1..1000 (start <= max), step <= 300 s, steady <= 900 s, 1..100 clients")
    if not CA.exists():
        sys.exit("load_test: no sandbox (run make sandbox first)")
    target = sandbox()
    addresses = client_addresses(target["subnet"], args.clients)
    device = network_bridge(target["network"])
    env = {"SITE": target["site"], "LB_ADDRESS": target["address"], "SSL_CERT_FILE": str(CA)}
    prefix = ipaddress.ip_network(target["subnet"]).prefixlen
    added = []
    try:
        for address in addresses:
            must(["ip", "address", "add", f"{address}/{prefix}", "dev", device], f"adding client address {address}")
            added.append(address)
        local_ips = f"{addresses[0]}-{addresses[-1]}"
        results, rate, stamp = [], args.start_rate, time.strftime("%Y%m%dT%H%M%S")


        def step(rate: int) -> bool:
            result = k6(env, rate, args.step_seconds, 4 * rate + 20, local_ips, f"{stamp}-ramp-{rate}")
            results.append(result)
            print(row(result), flush=True)
            return meets(result)

        while rate <= args.max_rate and step(rate):
            rate *= 2
        passing = [r["rate"] for r in results if meets(r)]
        if not passing:
            sys.exit(f"load_test: even {args.start_rate} visits/s missed the targets")
        low, high = max(passing), rate
        for _ in range(args.refine if high <= args.max_rate else 0):
            middle = (low + high) // 2
            if middle in (low, high):
                break
            low, high = (middle, high) if step(middle) else (low, middle)
        saturation = low
        steady_rate = max(1, round(0.8 * saturation))
        steady = k6(env, steady_rate, args.steady_seconds, 4 * steady_rate + 20, local_ips, f"{stamp}-steady")
        print(row(steady), flush=True)
        limit = "the last rate allowed" if high > args.max_rate else f"{high} missed the targets"
        print(f"saturation: {saturation} visits/s ({limit}); "
              f"steady at {steady_rate} visits/s: P95 {steady['p95']:.0f} ms, P99 {steady['p99']:.0f} ms, "
              f"failed {100 * steady['failed']:.3f} %, {steady['requests_per_s']:.1f} requests/s; "
              f"targets {'met' if meets(steady) else 'MISSED'}")
        print(f"summaries: {REPORTS.relative_to(ROOT)}/{stamp}-*.json")
    finally:
        for address in added:
            run(["ip", "address", "del", f"{address}/{prefix}", "dev", device])


if __name__ == "__main__":
    main()
