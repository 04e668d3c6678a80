"""playbooks/cdn-purge.yml against a local stand-in for Cloudflare's API that records each request
(Cloudflare cannot be reached from here): method, path, headers and body as the API expects them."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZONE, TOKEN = "0123456789abcdef0123456789abcdef", "test-purge-token"


class Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []
    answer: ClassVar[dict] = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                    "body": json.loads(body or b"null")})
        payload = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    Recorder.requests = []
    Recorder.answer = {"success": True, "errors": [], "messages": [], "result": {"id": ZONE}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/client/v4"
    server.shutdown()


def purge(api_url: str, **extra) -> subprocess.CompletedProcess:
    variables = {"cdn_cloudflare_api_url": api_url, "cdn_cloudflare_zone_id": ZONE,
                 "cdn_cloudflare_api_token": TOKEN, **extra}
    inventory = "lb1 ansible_connection=local ansible_python_interpreter=python3\n[lb]\nlb1\n"
    path = ROOT / ".cache" / "cdn-purge-inventory.ini"
    path.parent.mkdir(exist_ok=True)
    path.write_text(inventory)
    return subprocess.run(["ansible-playbook", "-i", str(path), "playbooks/cdn-purge.yml", "-e", json.dumps(variables)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_urls_are_purged_in_batches_of_thirty_with_the_token(api):
    urls = [f"https://portfolio.example.org/assets/file-{i}.css" for i in range(35)]
    result = purge(api, cdn_purge_urls=urls)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["path"] for r in Recorder.requests] == [f"/client/v4/zones/{ZONE}/purge_cache"] * 2
    assert [r["body"] for r in Recorder.requests] == [{"files": urls[:30]}, {"files": urls[30:]}]
    for request in Recorder.requests:
        assert request["method"] == "POST"
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert request["headers"]["Content-Type"] == "application/json"
    assert TOKEN not in result.stdout + result.stderr


def test_everything_is_purged_in_one_request(api):
    result = purge(api, cdn_purge_everything=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["body"] for r in Recorder.requests] == [{"purge_everything": True}]


def test_a_refusal_by_the_api_fails_the_run_with_its_message(api):
    Recorder.answer = {"success": False, "errors": [{"code": 1012, "message": "Request must contain one of ..."}],
                       "messages": [], "result": None}
    result = purge(api, cdn_purge_urls=["https://portfolio.example.org/"])
    assert result.returncode != 0
    assert "Request must contain one of" in result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(("extra", "named"), [
    ({}, "give cdn_purge_urls"),
    ({"cdn_purge_urls": ["/assets/app.css"]}, "not a full http(s) URL: /assets/app.css"),
    ({"cdn_purge_urls": ["https://a.example.org/"], "cdn_purge_everything": True}, "exclude each other"),
    ({"cdn_purge_everything": True, "cdn_cloudflare_api_token": ""}, "cdn_cloudflare_api_token is not set"),
])
def test_bad_input_is_refused_before_any_request(api, extra, named):
    result = purge(api, **extra)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert Recorder.requests == []
