"""Records every POST as one JSON line (path, Authorization header, body) in /root/hooks.jsonl; answers 200/202."""

import json
from http.server import BaseHTTPRequestHandler, HTTPServer


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open("/root/hooks.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization", ""),
                                  "body": json.loads(body or "{}")}) + "\n")
        self.send_response(202 if "pagerduty" in self.path else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "success", "result": "ok", "requestId": "x"}')


HTTPServer(("127.0.0.1", 9999), Recorder).serve_forever()
