#!/usr/bin/env python3
"""Benchmark: the load balancer as the nginx role sets it up (issue 7).

    .venv/bin/python benchmarks/edge.py [--seconds 10] [--rounds 3] [--keep]

Three test hosts from the project image: an app host serving real front-end assets
(Debian's jQuery and Bootstrap) with Python's threaded file server, the load balancer
(nginx role: TLS, HTTP/2, compression, keepalive to the app) in front of it, and a client.
In one run, alternating round after round:

- asset requests/s with wrk (2 threads, 32 connections) from the client, straight to the
  app over plain HTTP, and through nginx over HTTPS (uncompressed, and with brotli);
- TLS connections/s, one after another from the client with Python's ssl (openssl s_time
  cannot send SNI, which the load balancer requires): TLS 1.2 full handshakes vs resumed
  sessions (nginx's shared session cache; session tickets are off), and full TLS 1.3;
- bytes on the wire for the assets uncompressed, gzip and brotli (deterministic).

Ratios of medians are what to read; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys

from benchlib import container_ip, converge, must, test_hosts

APP, LB, CLIENT = "paas-bench-app", "paas-bench-lb", "paas-bench-client"
NAME = "bench.paas.test"
ASSETS = ["jquery/jquery.min.js", "jquery/jquery.js", "bootstrap4/css/bootstrap.css", "bootstrap4/js/bootstrap.js"]


def client(command: str, what: str) -> str:
    return must(["docker", "exec", CLIENT, "sh", "-c", command], what, timeout=600).stdout


def wrk(url: str, seconds: int, headers: str = "") -> float:
    out = client(f"wrk -t2 -c32 -d{seconds}s {headers} {url}", f"wrk {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


HANDSHAKES = """
import socket, ssl, struct, sys, time
address, name, version, mode, seconds = sys.argv[1:6]
reuse, seconds = mode == "reuse", float(seconds)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
session, count, resumed = None, 0, 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    raw = socket.create_connection((address, 443))
    # Close with a reset: no TIME_WAIT, so thousands of connections do not run out of client ports.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn = ctx.wrap_socket(raw, server_hostname=name, session=session if reuse else None)
    if reuse and session is None:
        session = conn.session
    resumed += conn.session_reused
    count += 1
    conn.close()
print(count / seconds, resumed)
"""


def handshakes(lb: str, seconds: int, version: str, reuse: bool) -> float:
    """TLS connections per second from the client (Python's ssl, one at a time), new or resumed sessions."""
    mode = "reuse" if reuse else "new"
    out = must(["docker", "exec", CLIENT, "python3", "-c", HANDSHAKES, lb, NAME, version, mode, str(seconds)],
               f"{version} {mode} handshakes", timeout=600).stdout.split()
    rate, resumed = float(out[0]), int(out[1])
    if reuse and resumed < rate * seconds * 0.9:
        sys.exit(f"edge benchmark: only {resumed} of the {version} connections resumed their session")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the three hosts running")
    args = parser.parse_args()
    with test_hosts([APP, LB, CLIENT], "paas-bench-edge", keep=args.keep, memory="1g"):
        converge([APP, LB, CLIENT], "benchmarks/edge-hosts.yml")
        app, lb = container_ip(APP), container_ip(LB)
        resolve = f"--resolve {NAME}:443:{lb}"
        asset = ASSETS[0]
        direct = f"http://{app}:80/assets/{asset}"
        through = f"https://{NAME}:443/assets/{asset}"
        # wrk has no --resolve: the client resolves the site name through /etc/hosts.
        client(f"grep -q {NAME} /etc/hosts || echo '{lb} {NAME}' >> /etc/hosts", "naming the load balancer")
        rows: dict[str, list[float]] = {k: [] for k in (
            "asset req/s, app directly (HTTP)", "asset req/s, through nginx (HTTPS)",
            "asset req/s, through nginx (HTTPS, brotli)",
            "TLS 1.2 full handshakes/s", "TLS 1.2 resumed sessions/s", "TLS 1.3 full handshakes/s")}
        for _ in range(args.rounds):
            rows["asset req/s, app directly (HTTP)"].append(wrk(direct, args.seconds))
            rows["asset req/s, through nginx (HTTPS)"].append(wrk(through, args.seconds))
            rows["asset req/s, through nginx (HTTPS, brotli)"].append(
                wrk(through, args.seconds, "-H 'Accept-Encoding: br'"))
            rows["TLS 1.2 full handshakes/s"].append(handshakes(lb, args.seconds, "TLSv1_2", reuse=False))
            rows["TLS 1.2 resumed sessions/s"].append(handshakes(lb, args.seconds, "TLSv1_2", reuse=True))
            rows["TLS 1.3 full handshakes/s"].append(handshakes(lb, args.seconds, "TLSv1_3", reuse=False))
        sizes = {}
        for path in ASSETS:
            sizes[path] = {enc: int(client(f"curl -sk {resolve} -o /dev/null -w '%{{size_download}}' "
                                           f"-H 'Accept-Encoding: {enc}' https://{NAME}/assets/{path}",
                                           f"fetching {path}"))
                           for enc in ("identity", "gzip", "br")}
    medians = {k: statistics.median(v) for k, v in rows.items()}
    print(f"Edge benchmark, {args.rounds} rounds of {args.seconds} s each, medians (all rounds):")
    for label, values in rows.items():
        print(f"  {label:<44} {medians[label]:10.0f}   ({', '.join(f'{v:.0f}' for v in values)})")
    proxy = medians["asset req/s, through nginx (HTTPS)"] / medians["asset req/s, app directly (HTTP)"]
    resumed = medians["TLS 1.2 resumed sessions/s"] / medians["TLS 1.2 full handshakes/s"]
    print(f"  ratio through nginx / app directly            {proxy:.2f}")
    print(f"  ratio resumed / full TLS 1.2 handshakes       {resumed:.2f}")
    print("Bytes on the wire (identity, gzip, brotli; brotli/gzip):")
    for path, size in sizes.items():
        print(f"  {path:<34} {size['identity']:8d} {size['gzip']:8d} {size['br']:8d}   {size['br'] / size['gzip']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
