#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# dav_hostile.py -- a small CardDAV server that turns hostile on demand,
# for tests/integration/dav-faults.sh (what Radicale never does).
#
#   dav_hostile.py --listen ADDR:PORT --log FILE --ready-file FILE
#                  [--mode-file FILE | --mode MODE] [--other URL] [--user U]
#                  [--password P | $E2T_DAV_SECRET]
#
# Plain HTTP/1.0, one request per connection (as Radicale). A connection
# that opens with a TLS ClientHello (email2 tries https first on an
# http:// URL) is closed at once. The mode is the first word of
# --mode-file, read at every request, so one server plays every case:
#
#   normal     a whole CardDAV account: /.well-known/carddav 301 to /;
#              "/" names principal /alice/, whose addressbook-home-set is
#              /alice/, which holds the addressbook /alice/book/ (items
#              a-1.vcf, a-2.vcf); sync-collection, multiget, GET, OPTIONS
#   big        the sync-collection answer: a multistatus of 64 MiB (an XML
#              comment of padding), streamed with its Content-Length; the
#              log says how much went out before the client left
#   malformed  the sync-collection answer is not well-formed XML
#   bomb       the sync-collection answer is a billion-laughs document
#   stall      the sync-collection answer: headers and 100 bytes of a
#              100,000-byte body, then 2 bytes a second, never the end
#   redirect   /.well-known/carddav answers 301 to --other (another host)
#   hrefs      the sync-collection answer lists only hrefs outside
#              /alice/book/: "../../other/x.vcf", "/bob/book/b-1.vcf",
#              --other + "alice/book/evil.vcf" and a network-path
#              "//host:port/alice/book/net.vcf"; a multiget answers the
#              same-host ones with vCard data (UID outside-NAME) and the
#              others with 404, so a GET of them would come next
#   other      every request without credentials gets 401 asking for
#              Basic; with them, 200 and a vCard (the "other host")
#
# In every mode but "normal" discovery still works, with a sync-token
# naming the mode (never the one stored by a normal run), so the client
# goes on to the sync-collection REPORT.
#
# Log lines, one per request (credentials never logged, only whether
# they came):  METHOD PATH auth=none|basic|other depth=D len=N
# and for big/stall:  sent N of M bytes (client left: ERROR)
import argparse
import base64
import http.server
import os
import socket
import socketserver
import threading
import time

lock = threading.Lock()

NS = ('xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav" '
      'xmlns:cs="http://calendarserver.org/ns/"')
ITEMS = {
    "a-1": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a-1\r\nFN:Anna One\r\n"
           "N:One;Anna;;;\r\nEND:VCARD\r\n",
    "a-2": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a-2\r\nFN:Anna Two\r\n"
           "N:Two;Anna;;;\r\nEND:VCARD\r\n",
}


def card(uid):
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:Outsider %s\r\n"
            "N:%s;Outsider;;;\r\nEND:VCARD\r\n" % (uid, uid, uid))


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def ms(body):
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<d:multistatus %s>%s</d:multistatus>\n' % (NS, body)).encode()


def resp(href, props, status="HTTP/1.1 200 OK"):
    return ("<d:response><d:href>%s</d:href><d:propstat><d:prop>%s"
            "</d:prop><d:status>%s</d:status></d:propstat></d:response>"
            % (esc(href), props, status))


def gone(href):
    return ("<d:response><d:href>%s</d:href>"
            "<d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
            % esc(href))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def log(self, line):
        with lock:
            with open(self.server.log, "a") as f:
                f.write(line + "\n")

    def handle(self):
        # https first: a ClientHello (0x16) is closed at once, no wait
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first or first[0] == 0x16:
            return
        super().handle()

    def mode(self):
        if not self.server.mode_file:
            return self.server.mode
        try:
            with open(self.server.mode_file) as f:
                return (f.read().split() or ["normal"])[0]
        except OSError:
            return "normal"

    def auth(self):
        a = self.headers.get("Authorization")
        if a is None:
            return "none"
        if a.startswith("Basic "):
            want = "%s:%s" % (self.server.user, self.server.password)
            try:
                ok = base64.b64decode(a[6:]).decode() == want
            except Exception:
                ok = False
            return "basic" if ok else "basic-bad"
        return "other"

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def stream(self, head, chunk, total, tail, rate=None):
        """head, then chunk repeated up to total bytes, then tail;
        rate: bytes a second after head (None: as fast as it goes)"""
        self.send_response(207)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        err = "none"
        try:
            self.wfile.write(head)
            sent += len(head)
            while sent < total - len(tail):
                if rate is not None:
                    time.sleep(1.0)
                    piece = chunk[:rate]
                else:
                    piece = chunk[:total - len(tail) - sent]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
            self.wfile.write(tail)
            sent += len(tail)
        except OSError as e:
            err = type(e).__name__
        self.log("sent %d of %d bytes (client left: %s)" % (sent, total, err))

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        mode = self.mode()
        auth = self.auth()
        self.log("%s %s auth=%s depth=%s len=%d" % (
            self.command, self.path, auth, self.headers.get("Depth", "-"),
            len(body)))
        if mode == "other":
            if auth == "none":
                self.send(401, b"who\n",
                          [("WWW-Authenticate", 'Basic realm="other"')])
            else:
                self.send(200, card("stolen").encode(),
                          [("Content-Type", "text/vcard")])
            return
        p = self.path
        if p.startswith("/.well-known/"):
            loc = self.server.other if mode == "redirect" else "/"
            self.send(301, b"", [("Location", loc)])
            return
        if auth != "basic":
            self.send(401, b"login\n",
                      [("WWW-Authenticate", 'Basic realm="hostile"')])
            return
        if self.command == "OPTIONS":
            self.send(200, b"", [("DAV", "1, 2, 3, addressbook")])
            return
        if self.command == "PROPFIND":
            self.propfind(p, body, mode)
            return
        if self.command == "REPORT" and p == "/alice/book/":
            if b"sync-collection" in body:
                self.sync_collection(mode)
            else:
                self.multiget(body, mode)
            return
        if self.command == "GET" and p.startswith("/alice/book/"):
            uid = p.rsplit("/", 1)[1][:-4]
            if uid in ITEMS:
                self.send(200, ITEMS[uid].encode(),
                          [("ETag", '"%s-1"' % uid),
                           ("Content-Type", "text/vcard")])
                return
        self.send(404, b"not here\n")

    def propfind(self, p, body, mode):
        if p == "/":
            out = resp("/", "<d:current-user-principal><d:href>/alice/"
                       "</d:href></d:current-user-principal>")
        elif p == "/alice/" and self.headers.get("Depth") == "0":
            out = resp("/alice/", "<cr:addressbook-home-set><d:href>/alice/"
                       "</d:href></cr:addressbook-home-set>")
        elif p == "/alice/":
            out = resp("/alice/", "<d:resourcetype><d:collection/>"
                       "</d:resourcetype>")
            out += resp(
                "/alice/book/",
                "<d:resourcetype><d:collection/><cr:addressbook/>"
                "</d:resourcetype><d:displayname>Book</d:displayname>"
                "<cs:getctag>ctag-%s</cs:getctag>"
                "<d:sync-token>http://e2t.test/sync/%s</d:sync-token>"
                "<d:supported-report-set>"
                "<d:supported-report><d:report><d:sync-collection/>"
                "</d:report></d:supported-report>"
                "<d:supported-report><d:report><cr:addressbook-multiget/>"
                "</d:report></d:supported-report>"
                "</d:supported-report-set>" % (mode, mode))
        elif p == "/alice/book/" and self.headers.get("Depth") == "0":
            # the collection's own sync-token and getctag (asked alone)
            out = resp("/alice/book/",
                       "<cs:getctag>ctag-%s</cs:getctag>"
                       "<d:sync-token>http://e2t.test/sync/%s</d:sync-token>"
                       % (mode, mode))
        else:
            self.send(404, b"not here\n")
            return
        self.send(207, ms(out),
                  [("Content-Type", "application/xml; charset=utf-8")])

    def sync_collection(self, mode):
        tok = "<d:sync-token>http://e2t.test/sync/%s</d:sync-token>" % mode
        if mode == "big":
            head = ms("")[:-len("</d:multistatus>\n")] + b"<!-- "
            tail = b" -->" + tok.encode() + b"</d:multistatus>\n"
            self.stream(head, b"x" * 65536, 64 * 1024 * 1024, tail)
            return
        if mode == "stall":
            head = ms("")[:-len("</d:multistatus>\n")] + b"<!-- "
            head += b"x" * (100 - len(head))
            self.stream(head, b"yy", 100000, b" -->", rate=2)
            return
        if mode == "malformed":
            out = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                   b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>'
                   b'/alice/book/a-1.vcf</d:propstat></d:href>'
                   b'<d:response></d:multistatus>\n')
        elif mode == "bomb":
            ents = '<!ENTITY lol "lol">'
            for i in range(1, 10):
                prev = "lol" if i == 1 else "lol%d" % (i - 1)
                ents += '<!ENTITY lol%d "%s">' % (i, ("&%s;" % prev) * 10)
            out = ('<?xml version="1.0" encoding="utf-8"?>\n'
                   '<!DOCTYPE d:multistatus [%s]>\n'
                   '<d:multistatus xmlns:d="DAV:"><d:response><d:href>'
                   '/alice/book/a-1.vcf</d:href><d:propstat><d:prop>'
                   '<d:getetag>&lol9;</d:getetag></d:prop><d:status>'
                   'HTTP/1.1 200 OK</d:status></d:propstat></d:response>'
                   '%s</d:multistatus>\n' % (ents, tok)).encode()
        elif mode == "hrefs":
            body = ""
            for h in self.outside():
                body += resp(h, '<d:getetag>"x-%d"</d:getetag>' % len(h))
            out = ms(body + tok)
        else:
            body = ""
            for uid in sorted(ITEMS):
                body += resp("/alice/book/%s.vcf" % uid,
                             '<d:getetag>"%s-1"</d:getetag>' % uid)
            out = ms(body + tok)
        self.send(207, out,
                  [("Content-Type", "application/xml; charset=utf-8")])

    def outside(self):
        o = self.server.other.rstrip("/")
        net = o.split(":", 1)[1]  # "//host:port"
        return ["../../other/x.vcf", "/bob/book/b-1.vcf",
                o + "/alice/book/evil.vcf", net + "/alice/book/net.vcf"]

    def multiget(self, body, mode):
        import re
        out = ""
        for h in re.findall(rb"<d:href>([^<]*)</d:href>", body):
            h = h.decode().replace("&amp;", "&")
            uid = h.rstrip("/").rsplit("/", 1)[-1][:-4]
            if h.startswith("/alice/book/") and uid in ITEMS:
                data = ITEMS[uid]
            elif mode == "hrefs" and not h.startswith(("//", "http")):
                data = card("outside-" + uid)
            else:
                out += gone(h)
                continue
            out += resp(h, '<d:getetag>"%s-1"</d:getetag>'
                        '<cr:address-data>%s</cr:address-data>'
                        % (uid, esc(data)))
        self.send(207, ms(out),
                  [("Content-Type", "application/xml; charset=utf-8")])

    do_GET = do_PUT = do_DELETE = do_OPTIONS = handle_any
    do_PROPFIND = do_REPORT = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--mode-file", default="")
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--other", default="http://other.invalid/")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = Server((host, int(port)), Handler)
    srv.log = a.log
    srv.mode_file = a.mode_file
    srv.mode = a.mode
    srv.other = a.other
    srv.user = a.user
    srv.password = a.password or os.environ.get("E2T_DAV_SECRET", "")
    open(a.log, "a").close()
    with open(a.ready_file, "w") as f:
        f.write("%d\n" % os.getpid())
    srv.serve_forever()


if __name__ == "__main__":
    main()
