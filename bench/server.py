#!/usr/bin/env python3
"""Serves the generated benchmark pages on 127.0.0.1 only.

    server.py DIR --mode conditional|ignore [--lifetime SECS]

Prints `PORT <n>` on stdout once listening. In `conditional` mode it answers
If-None-Match / If-Modified-Since with 304 (If-None-Match wins, as RFC 9110 says);
in `ignore` mode it still sends ETag and Last-Modified but always answers 200 with
the full body, like the many sites that never honour conditional GET.
GET /__stats returns (and resets) the counts of 200s and 304s served.
"""

import argparse
import email.utils
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Pages:
    """File cache keyed by (mtime, size), so rewritten pages are picked up at once."""

    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.cache = {}
        self.counts = {"200": 0, "304": 0, "404": 0}

    def get(self, name):
        path = os.path.join(self.root, name)
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self.lock:
            hit = self.cache.get(name)
        if hit and hit[0] == key:
            return hit[1]
        with open(path, "rb") as f:
            body = f.read()
        entry = {
            "body": body,
            "etag": '"%x-%x"' % key,
            "mtime": int(st.st_mtime),
            "last_modified": email.utils.formatdate(st.st_mtime, usegmt=True),
        }
        with self.lock:
            self.cache[name] = (key, entry)
        return entry

    def load_all(self):
        """Reads every page not cached as it is on disk (the benchmark asks before timing)."""
        names = [n for n in os.listdir(self.root) if not n.startswith(".")]
        return sum(1 for n in names if self.get(n) is not None)

    def count(self, status):
        with self.lock:
            self.counts[status] += 1

    def take_counts(self):
        with self.lock:
            counts, self.counts = self.counts, {"200": 0, "304": 0, "404": 0}
        return counts


def not_modified(headers, page):
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or page["etag"] in tags
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return page["mtime"] <= since
    return False


def handler_for(pages, honour_conditional):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        # Headers and body go out in separate writes; without this, Nagle plus delayed
        # ACK stalls every keep-alive response by ~40 ms.
        disable_nagle_algorithm = True

        def do_GET(self):
            if self.path == "/__stats":
                self.reply(200, json.dumps(pages.take_counts()).encode(), "application/json")
                return
            if self.path == "/__load":
                loaded = pages.load_all()
                self.reply(200, json.dumps({"loaded": loaded}).encode(), "application/json")
                return
            page = pages.get(self.path.lstrip("/").split("?")[0])
            if page is None:
                pages.count("404")
                self.reply(404, b"not found\n", "text/plain")
                return
            if honour_conditional and not_modified(self.headers, page):
                pages.count("304")
                self.send_response(304)
                self.send_header("ETag", page["etag"])
                self.send_header("Last-Modified", page["last_modified"])
                self.end_headers()
                return
            pages.count("200")
            self.reply(200, page["body"], "text/html; charset=utf-8", page)

        def reply(self, status, body, content_type, page=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if page is not None:
                self.send_header("ETag", page["etag"])
                self.send_header("Last-Modified", page["last_modified"])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--mode", choices=["conditional", "ignore"], required=True)
    ap.add_argument("--lifetime", type=float, default=1800.0)
    args = ap.parse_args()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        # The default backlog of 5 drops SYNs under 16 parallel connects (1 s retransmits).
        request_queue_size = 1024

    pages = Pages(args.dir)
    server = Server(("127.0.0.1", 0), handler_for(pages, args.mode == "conditional"))
    # Never outlive the benchmark, even if the driver is killed without cleanup.
    deadline = threading.Timer(args.lifetime, lambda: os._exit(3))
    deadline.daemon = True
    deadline.start()
    print("PORT", server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
