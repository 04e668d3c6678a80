#!/usr/bin/env python3
"""Test fixture for the nginx scenario: a stand-in for the app behind the load balancer.

GET /up -> 200 "ok"; GET /headers -> the request headers as JSON; GET /assets/... -> a
JavaScript body; GET /slow -> 200 after 0.6 s; GET /fail -> 500; GET /teapot -> 418 (the
nginx_exporter scenario times and counts them, 418 as a marker); anything else -> an HTML page (no Cache-Control, like a
page a proxy must not cache). Every response says which host served it (X-Served-By).
"""

import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = socket.gethostname()
SCRIPT = ("// fingerprinted asset\n" + "function portfolio(n) { return n * 2; }\n" * 200).encode()
PAGE = ("<!DOCTYPE html><html><body>" + "<p>portfolio entry</p>" * 200 + "</body></html>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", HOST)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/up":
            self._send(200, b"ok\n", "text/plain")
        elif self.path == "/slow":
            time.sleep(0.6)
            self._send(200, b"slow\n", "text/plain")
        elif self.path == "/fail":
            self._send(500, b"failed\n", "text/plain")
        elif self.path == "/teapot":
            self._send(418, b"teapot\n", "text/plain")
        elif self.path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")
        elif self.path.startswith("/assets/"):
            self._send(200, SCRIPT, "application/javascript", {"Cache-Control": "max-age=60"})
        else:
            # Headers a Rails app sends on its own (force_ssl's HSTS, its frame policy).
            self._send(200, PAGE, "text/html; charset=utf-8",
                       {"Strict-Transport-Security": "max-age=0", "X-Frame-Options": "SAMEORIGIN",
                        "X-Content-Type-Options": "nosniff", "X-Request-Id": "from-the-app"})

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(200, b"posted\n", "text/plain")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 80), Handler).serve_forever()  # noqa: S104 - the test app listens on the scenario network
