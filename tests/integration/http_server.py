#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# http_server.py -- a small HTTP(S) server for tests/integration/http.sh
#
# HTTP/1.1 with keep-alive. It writes STATE/connections (how many
# connections were accepted and set up, after the TLS handshake) and
# appends one line per request to STATE/requests:
#	METHOD PATH len=N depth=D auth=none|basic-ok|basic-bad|digest-ok|
#		digest-bad|other
# (whether credentials came and matched: never their value).
# Paths: /hello (200, ETag, two DAV: headers), /basic (200 only with Basic
# USER:PASSWORD, else 401 asking for Basic), /digest (the same with Digest
# MD5 qop=auth), /both (Digest, 401 offering Digest and Basic),
# /redirect (301 to /hello),
# /stall (no answer for 60 s), anything else 404.
import argparse
import base64
import hashlib
import http.server
import os
import re
import socketserver
import ssl
import threading
import time

NONCE = "e2t" + os.urandom(8).hex()
lock = threading.Lock()
connections = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global connections
        super().setup()
        with lock:
            connections += 1
            path = os.path.join(self.server.state, "connections")
            with open(path + ".tmp", "w") as f:
                f.write("%d\n" % connections)
            os.replace(path + ".tmp", path)

    def log_message(self, fmt, *args):
        pass

    def auth_state(self):
        a = self.headers.get("Authorization")
        if a is None:
            return "none"
        if a.startswith("Digest "):
            return self.digest_state(a[7:])
        if not a.startswith("Basic "):
            return "other"
        want = "%s:%s" % (self.server.user, self.server.password)
        try:
            got = base64.b64decode(a[6:]).decode()
        except Exception:
            return "basic-bad"
        return "basic-ok" if got == want else "basic-bad"

    def digest_state(self, a):
        # RFC 7616 MD5 with qop=auth, the nonce this server hands out
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', a))
        md5 = lambda t: hashlib.md5(t.encode()).hexdigest()
        try:
            ha1 = md5("%s:%s:%s" % (self.server.user, f["realm"],
                                    self.server.password))
            ha2 = md5("%s:%s" % (self.command, f["uri"]))
            want = md5(":".join([ha1, f["nonce"], f["nc"], f["cnonce"],
                                 f["qop"], ha2]))
        except KeyError:
            return "digest-bad"
        ok = f.get("username") == self.server.user and \
            f["nonce"] == NONCE and f["response"] == want
        return "digest-ok" if ok else "digest-bad"

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        auth = self.auth_state()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            with open(os.path.join(self.server.state, "requests"), "a") as f:
                f.write("%s %s len=%d depth=%s auth=%s\n" % (
                    self.command, self.path, len(body),
                    self.headers.get("Depth", "-"), auth))
        if self.path == "/hello":
            self.reply(200, b"hello world\n",
                       [("ETag", '"abc"'), ("DAV", "1, 2"),
                        ("DAV", "addressbook"),
                        ("Content-Type", "text/plain")])
        elif self.path == "/basic":
            if auth == "basic-ok":
                self.reply(200, b"welcome\n")
            else:
                self.reply(401, b"no\n",
                           [("WWW-Authenticate", 'Basic realm="e2t"')])
        elif self.path in ("/digest", "/both"):
            if auth == "digest-ok":
                self.reply(200, b"welcome\n")
            else:
                h = [("WWW-Authenticate",
                      'Digest realm="e2t", nonce="%s", qop="auth", '
                      'algorithm=MD5' % NONCE)]
                if self.path == "/both":
                    h.append(("WWW-Authenticate", 'Basic realm="e2t"'))
                self.reply(401, b"no\n", h)
        elif self.path == "/redirect":
            self.reply(301, b"", [("Location", "/hello")])
        elif self.path == "/stall":
            time.sleep(60)
        else:
            self.reply(404, b"not here\n")

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any

    def do_PROPFIND(self):
        self.handle_any()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--max-tls", choices=["1.1", "1.2", "1.3"])
    ap.add_argument("--state", required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="")
    ap.add_argument("--ready-file", required=True)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = Server((host, int(port)), Handler)
    srv.state = a.state
    srv.user = a.user
    srv.password = a.password or os.environ.get("E2T_HTTP_SECRET", "")
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.max_tls == "1.1":
            # OpenSSL 3 refuses TLS 1.1 at security level 1 and up
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(os.path.join(a.state, "requests"), "a").close()
    with open(a.ready_file, "w") as f:
        f.write("ready\n")
    srv.serve_forever()


if __name__ == "__main__":
    main()
