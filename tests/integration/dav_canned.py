#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# dav_canned.py -- canned WebDAV answers for tests/integration/dav.sh, for
# what Radicale never does (507 paging, redirects to elsewhere).
#   dav_canned.py --listen ADDR:PORT [--cert F --key F] --routes FILE
#       --ready-file F --log F
# FILE: one route a line, "METHOD PATH STATUS BODYFILE|- [Name:value]...";
# several lines for one METHOD PATH answer in turn, the last one repeats.
# Every request is logged as "METHOD PATH" plus its body's first 200 bytes
# on one line (the body's newlines as spaces).
import argparse
import http.server
import ssl
import threading

lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        key = (self.command, self.path)
        with lock:
            with open(self.server.log, "a") as f:
                f.write("%s %s %s\n" % (self.command, self.path,
                        body[:200].decode("utf-8", "replace")
                        .replace("\n", " ")))
            routes = self.server.routes.get(key)
            if not routes:
                route = (404, "-", [])
            elif len(routes) > 1:
                route = routes.pop(0)
            else:
                route = routes[0]
        status, bodyfile, headers = route
        out = b"" if bodyfile == "-" else open(bodyfile, "rb").read()
        self.send_response(status)
        for h in headers:
            name, _, value = h.partition(":")
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_DELETE = do_OPTIONS = handle_any
    do_PROPFIND = do_REPORT = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--routes", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.log = a.log
    srv.routes = {}
    with open(a.routes) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4:
                continue
            srv.routes.setdefault((parts[0], parts[1]), []).append(
                (int(parts[2]), parts[3], parts[4:]))
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(a.ready_file, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
