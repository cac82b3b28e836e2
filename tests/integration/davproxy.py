#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# davproxy.py -- a thin plain-HTTP proxy in front of a plain-HTTP Radicale
# that plays servers without RFC 6578 and with multiget gaps
# (tests/integration/dav-sync.sh):
#   --no-sync      a REPORT sync-collection is answered 403, and
#                  sync-collection is dropped from every
#                  supported-report-set (so the client falls back to
#                  getctag and a PROPFIND Depth 1 etag listing)
#   --drop REGEX   multiget answers leave out the responses whose href
#                  matches REGEX (servers drop hrefs)
#   --404 REGEX    multiget answers give 404 and no data for those hrefs
#                  (servers list an item but 404 its data)
#   --get-404 REGEX  a GET of an href matching REGEX is answered 404
#   --no-put-etag  a PUT's answer carries no ETag (the item may have been
#                  changed on the way in: re-fetch before the next write)
#   --sync-no-data a sync-collection answer loses its address-data and
#                  calendar-data (servers that list hrefs and etags but
#                  leave the data out: the client must multiget)
# Every request line and the status sent go to --log, one line each.
# HTTP/1.0, one request per connection, like Radicale itself.
#
# usage: davproxy.py --listen ADDR:PORT --target ADDR:PORT [--no-sync]
#                    [--drop REGEX] [--404 REGEX] [--no-put-etag]
#                    [--get-404 REGEX] [--sync-no-data] --log FILE
import argparse
import http.client
import http.server
import re
import sys

A = None
RESP = re.compile(rb"<(\w+:)?response>.*?</(\w+:)?response>", re.S)
HREF = re.compile(rb"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>")
SUPPORTED_SYNC = re.compile(
    rb"<(\w+:)?supported-report>\s*<(\w+:)?report>\s*"
    rb"<(\w+:)?sync-collection\s*/>\s*</(\w+:)?report>\s*"
    rb"</(\w+:)?supported-report>", re.S)


def log(line):
    with open(A.log, "a") as f:
        f.write(line + "\n")


# an address-data or calendar-data element, any prefix, with its content
DATA = re.compile(rb"<(\w+:)?(address|calendar)-data\b[^>]*?(/>|>.*?"
                  rb"</(\w+:)?(address|calendar)-data>)", re.S)


def rewrite_multiget(body):
    def one(m):
        h = HREF.search(m.group(0))
        href = h.group(1).decode() if h else ""
        if A.drop and re.search(A.drop, href):
            log("dropped %s" % href)
            return b""
        if A.notfound and re.search(A.notfound, href):
            log("404 %s" % href)
            p = m.group(1) or b""
            return (b"<%sresponse><%shref>%s</%shref><%sstatus>HTTP/1.1 404"
                    b" Not Found</%sstatus></%sresponse>"
                    % (p, p, h.group(1), p, p, p, p))
        return m.group(0)
    return RESP.sub(one, body)


class Proxy(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if (A.get404 and self.command == "GET"
                and re.search(A.get404, self.path)):
            log("%s %s -> 404 (--get-404)" % (self.command, self.path))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if (A.no_sync and self.command == "REPORT" and body is not None
                and b"sync-collection" in body):
            log("%s %s -> 403 (no sync-collection)" % (self.command,
                                                        self.path))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        c = http.client.HTTPConnection(A.thost, A.tport, timeout=60)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("host", "connection")}
        hdrs["Host"] = "%s:%d" % (A.thost, A.tport)
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if A.no_sync and self.command == "PROPFIND":
            data = SUPPORTED_SYNC.sub(b"", data)
        if (self.command == "REPORT" and body is not None
                and b"multiget" in body):
            data = rewrite_multiget(data)
        if (A.sync_no_data and self.command == "REPORT" and body is not None
                and b"sync-collection" in body):
            data, n = DATA.subn(b"", data)
            log("sync-collection: %d data elements left out" % n)
        log("%s %s -> %d" % (self.command, self.path, r.status))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "connection",
                             "transfer-encoding", "server", "date"):
                continue
            if A.no_put_etag and self.command == "PUT" and \
                    k.lower() == "etag":
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = forward
    do_OPTIONS = do_HEAD = do_PROPPATCH = do_MKCOL = forward


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--no-sync", action="store_true")
    p.add_argument("--drop")
    p.add_argument("--404", dest="notfound")
    p.add_argument("--no-put-etag", action="store_true")
    p.add_argument("--get-404", dest="get404")
    p.add_argument("--sync-no-data", action="store_true")
    p.add_argument("--log", required=True)
    A = p.parse_args()
    host, port = A.listen.rsplit(":", 1)
    A.thost, tport = A.target.rsplit(":", 1)
    A.tport = int(tport)
    srv = http.server.HTTPServer((host, int(port)), Proxy)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
