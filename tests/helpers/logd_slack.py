#!/usr/bin/python3
"""logd_slack.py -- a local stand-in for Slack's chat.postMessage and
incoming webhooks, for warp-logd's scenarios.

  logd_slack.py PORT RECORD_FILE [--throttle N] [--retry-after S]

Every POST is appended to RECORD_FILE as one JSON line:
{"t": time, "path": ..., "auth": Authorization header, "status": code,
 "body": parsed JSON body}.  The first N requests (--throttle) get
429 with "Retry-After: S"; the others get {"ok": true} (or "ok" on a
path containing "webhook").
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
record = sys.argv[2]
throttle = 0
retry_after = 1
args = sys.argv[3:]
while args:
    a = args.pop(0)
    if a == "--throttle":
        throttle = int(args.pop(0))
    elif a == "--retry-after":
        retry_after = int(args.pop(0))
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        with lock:
            count[0] += 1
            k = count[0]
        status = 429 if k <= throttle else 200
        try:
            body = json.loads(raw.decode("utf-8"))
        except Exception as e:
            body = {"undecodable": repr(raw[:200]), "error": str(e)}
        with lock, open(record, "a") as f:
            f.write(json.dumps({"t": time.time(), "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "ctype": self.headers.get("Content-Type"),
                                "status": status, "body": body}) + "\n")
        if status == 429:
            out = b'{"ok":false,"error":"ratelimited"}'
            self.send_response(429)
            self.send_header("Retry-After", str(retry_after))
        elif "webhook" in self.path:
            out = b"ok"
            self.send_response(200)
        else:
            out = b'{"ok":true,"channel":"C1","ts":"1.2"}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
