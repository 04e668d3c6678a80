#!/usr/bin/python3
"""A stand-in for an Elasticsearch 8 node's bulk API: the hardening scenario's log host sends to it.

    elasticsearch_standin.py CERT KEY CREDENTIALS DOCUMENTS

Serves HTTPS on 127.0.0.1:9200 with CERT and KEY. Answers the health check rsyslog's
omelasticsearch makes (HEAD /_cat/health); takes POST /_bulk only with the basic-auth
`user:password` written in the CREDENTIALS file (401 otherwise, as a secured cluster does),
refuses an action line that names a document type (400, as Elasticsearch 8 does), and appends
each accepted document, with the index it was sent to, as one JSON line to DOCUMENTS.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CERT, KEY, CREDENTIALS, DOCUMENTS = sys.argv[1:5]


class BulkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, and "Expect: 100-continue" answered as libcurl asks

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def authorised(self) -> bool:
        with open(CREDENTIALS) as credentials:
            expected = base64.b64encode(credentials.read().strip().encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path.startswith("/_cat/health"):
            self.reply(200, [{"status": "green"}])
        else:
            self.reply(200, {"version": {"number": "8.11.0"}, "tagline": "You Know, for Search"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if not self.authorised():
            self.reply(401, {"error": {"type": "security_exception", "reason": "unable to authenticate"},
                             "status": 401})
            return
        if not self.path.startswith("/_bulk"):
            self.reply(404, {"error": f"no handler for {self.path}", "status": 404})
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        pairs = list(zip(lines[::2], lines[1::2], strict=True))
        if any("_type" in next(iter(action.values())) for action, _ in pairs):
            self.reply(400, {"error": {"type": "illegal_argument_exception",
                                       "reason": "Action/metadata line [1] contains an unknown parameter [_type]"},
                             "status": 400})
            return
        items = []
        with open(DOCUMENTS, "a") as out:
            for action, document in pairs:
                (operation, meta), = action.items()
                out.write(json.dumps({"index": meta.get("_index"), "document": document}) + "\n")
                items.append({operation: {"_index": meta.get("_index"), "result": "created", "status": 201}})
        self.reply(200, {"took": 1, "errors": False, "items": items})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 9200), BulkHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
