"""The kamal-proxy stand-in (tests/fixtures/kamal-proxy) behaves as Kamal relies on:
traffic switches only to a healthy target, at once, and a deploy returns only after
the old target's requests have finished. Runs on 127.0.0.1 only, bounded loops."""

from __future__ import annotations

import http.client
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "kamal-proxy" / "kamal_proxy.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend:
    """An app version on 127.0.0.1: answers its name, /up with `health`, /slow after a delay."""

    def __init__(self, name: str, health: int = 200):
        self.name, self.health = name, health
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/up":
                    status, body = outer.health, b"up"
                elif self.path == "/slow":
                    time.sleep(2)
                    status, body = 200, outer.name.encode()
                elif self.path == "/headers":
                    status = 200
                    body = f"{self.headers.get('X-Forwarded-For')}|{self.headers.get('X-Forwarded-Proto')}".encode()
                else:
                    status, body = 200, outer.name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def proxy(tmp_path):
    port = free_port()
    env = dict(os.environ, KAMAL_PROXY_STATE_DIR=str(tmp_path / "state"),
               KAMAL_PROXY_SOCKET=str(tmp_path / "control.sock"), KAMAL_PROXY_BIND="127.0.0.1")

    def start():
        process = subprocess.Popen([sys.executable, str(SCRIPT), "run", f"--http-port={port}"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if (tmp_path / "control.sock").exists():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return process
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("the stand-in did not start")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    state = {"process": start()}

    def restart():
        state["process"].terminate()
        assert state["process"].wait(10) == 0   # stopped by its SIGTERM handler, not killed by the signal
        state["process"] = start()

    yield {"port": port, "cli": cli, "restart": restart, "process": lambda: state["process"]}
    state["process"].terminate()
    state["process"].wait(10)


def get(port: int, path: str = "/", headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    result = response.status, response.read().decode()
    conn.close()
    return result


def deploy(proxy, backend: Backend, *extra: str) -> subprocess.CompletedProcess:
    # The arguments as Kamal 2.11 passes them (lib/kamal/configuration/proxy.rb).
    return proxy["cli"]("deploy", "portfolio-web", f"--target={backend.target}", "--deploy-timeout=3s",
                        "--drain-timeout=10s", "--health-check-interval=0.2s", "--health-check-timeout=1s",
                        "--health-check-path=/up", "--target-timeout=10s", "--buffer-requests",
                        "--buffer-responses", "--log-request-header=Cache-Control", *extra)


def test_a_healthy_target_gets_the_traffic_with_forwarded_headers(proxy):
    v1 = Backend("v1")
    assert get(proxy["port"])[0] == 404   # nothing deployed yet
    result = deploy(proxy, v1, "--forward-headers")
    assert result.returncode == 0, result.stderr
    assert get(proxy["port"]) == (200, "v1")
    # forward-headers: the load balancer's X-Forwarded-* are kept and the LB's address appended
    _, seen = get(proxy["port"], "/headers", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen == "203.0.113.9, 127.0.0.1|https"
    v1.close()


def test_without_forward_headers_the_clients_claims_are_replaced(proxy):
    v1 = Backend("v1")
    assert deploy(proxy, v1).returncode == 0
    _, seen = get(proxy["port"], "/headers", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen == "127.0.0.1|http"
    v1.close()


def test_an_unhealthy_target_fails_the_deploy_and_traffic_stays(proxy):
    v1, bad = Backend("v1"), Backend("bad", health=503)
    assert deploy(proxy, v1).returncode == 0
    started = time.monotonic()
    result = deploy(proxy, bad)
    assert result.returncode == 1
    assert "target failed to become healthy within 3s (status 503)" in result.stderr
    assert time.monotonic() - started >= 3
    assert get(proxy["port"]) == (200, "v1")
    v1.close()
    bad.close()


def test_the_switch_loses_no_request_and_waits_for_the_old_targets_requests(proxy):
    v1, v2 = Backend("v1"), Backend("v2")
    assert deploy(proxy, v1).returncode == 0
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def traffic():  # bounded: at most 2000 requests or until told to stop
        for _ in range(2000):
            if stop.is_set():
                break
            try:
                results.append(get(proxy["port"]))
            except OSError as exc:
                results.append((0, str(exc)))

    slow: list[tuple[int, str]] = []
    loop = threading.Thread(target=traffic)
    loop.start()
    slow_request = threading.Thread(target=lambda: slow.append(get(proxy["port"], "/slow")))
    slow_request.start()
    time.sleep(0.5)   # the slow request is in flight on v1
    started = time.monotonic()
    result = deploy(proxy, v2)
    took = time.monotonic() - started
    time.sleep(0.3)
    stop.set()
    loop.join(30)
    slow_request.join(10)
    assert result.returncode == 0, result.stderr
    assert took >= 1.0                       # waited for /slow (2 s, 0.5 s of it before the deploy)
    assert slow == [(200, "v1")]             # the old target finished its request
    assert [r for r in results if r[0] != 200] == []
    served = [body for _, body in results]
    assert served[0] == "v1" and served[-1] == "v2"
    # one switch, never back
    assert served == sorted(served)
    v1.close()
    v2.close()


def test_stop_resume_remove_and_list(proxy):
    v1 = Backend("v1")
    assert deploy(proxy, v1).returncode == 0
    assert "portfolio-web" in proxy["cli"]("list").stdout
    assert proxy["cli"]("stop", "portfolio-web", "--message=Back soon", "--drain-timeout=1s").returncode == 0
    assert get(proxy["port"]) == (503, "Back soon\n")
    assert proxy["cli"]("resume", "portfolio-web").returncode == 0
    assert get(proxy["port"]) == (200, "v1")
    assert proxy["cli"]("remove", "portfolio-web").returncode == 0
    assert get(proxy["port"])[0] == 404
    assert proxy["cli"]("remove", "portfolio-web").returncode == 1
    v1.close()


def test_routes_survive_a_restart_of_the_proxy(proxy):
    v1 = Backend("v1")
    assert deploy(proxy, v1).returncode == 0
    proxy["restart"]()
    assert get(proxy["port"]) == (200, "v1")
    v1.close()


def test_the_stand_in_catches_sigterm_and_exits_cleanly(proxy):
    """As a container's first process, a process that catches no SIGTERM ignores it (Docker's stop then
    waits 10 s, a host's shutdown 90 s): the stand-in catches it, as the real kamal-proxy does."""
    process = proxy["process"]()
    caught = next(line for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
                  if line.startswith("SigCgt:"))
    assert int(caught.split()[1], 16) & (1 << (15 - 1)), caught   # SIGTERM is signal 15
    proxy["restart"]()   # terminate() (SIGTERM), wait up to 10 s, start again
    assert proxy["process"]().returncode is None
