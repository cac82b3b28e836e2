#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# cutproxy.py -- a TCP proxy that drops connections after N bytes.
#
# Forwards every byte between a client and TARGET untouched (TLS included,
# so the client still verifies the real server's certificate). The first K
# connections are cut: once N bytes went from the server to the client
# (--cut-s2c N) or from the client to the server (--cut-c2s N), exactly N
# bytes are delivered and both directions are closed (FIN, or RST with
# --rst). Later connections are forwarded whole. Deterministic: the cut
# depends on byte counts only. Bounded: exits after --lifetime seconds, or
# --idle seconds without a connection open, whichever comes first.
#
# With --at REGEX (a plaintext server, e.g. IMAP without TLS) the server-to-
# client cut is not at a fixed byte count but at the start of the NTH match
# of REGEX (--nth, from 1) plus --plus bytes: "before the 8th '* n FETCH'"
# is a batch boundary exactly, "+300" is inside that message's literal.
# A connection where the match never comes is not cut.
#
# usage: cutproxy.py --listen ADDR:PORT --target ADDR:PORT
#                    [--cut-s2c N | --cut-c2s N | --at REGEX [--nth K]
#                    [--plus D]] [--cut-conns K] [--rst]
#                    [--trace] [--log FILE] [--ready-file FILE]
#                    [--idle SEC] [--lifetime SEC]
#
# Log lines (one per connection, plus trace lines with --trace):
#   conn 1 cut s2c at 1234 (s2c 1234 c2s 517)
#   conn 2 whole (s2c 40211 c2s 903)
#   trace conn 1 c2s 517+38 s2c 1234    (a client write of 38 bytes at c2s
#                                        offset 517, the server having sent
#                                        1234 bytes so far)
import argparse
import os
import re
import socket
import struct
import sys
import threading
import time


def hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class Conn:
    def __init__(self, proxy, num, client, cut):
        self.p = proxy
        self.num = num
        self.client = client
        self.server = None
        self.cut = cut  # ("s2c"|"c2s", N) or None
        self.count = {"s2c": 0, "c2s": 0}
        self.lock = threading.Lock()
        self.closed = False
        self.cut_done = False
        self.seen = 0  # --at: matches so far
        self.last = -1  # --at: offset of the last match counted
        self.tail = b""  # --at: the last bytes forwarded, for matches
        #                  that span two reads

    def close(self, rst):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def do_cut(self, direction):
        self.cut_done = True
        self.p.log("conn %d cut %s at %d (s2c %d c2s %d)"
                   % (self.num, direction, self.cut[1], self.count["s2c"],
                      self.count["c2s"]))
        self.close(self.p.args.rst)

    def pump(self, src, dst, direction):
        other = "c2s" if direction == "s2c" else "s2c"
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.p.args.trace:
                    self.p.log("trace conn %d %s %d+%d %s %d"
                               % (self.num, direction,
                                  self.count[direction], len(data), other,
                                  self.count[other]))
                if (self.cut is not None and self.cut[0] == "s2c" and
                        direction == "s2c" and self.p.at is not None and
                        self.cut[1] is None):
                    self.find(data)
                if (self.cut is not None and self.cut[0] == direction and
                        self.cut[1] is not None):
                    left = self.cut[1] - self.count[direction]
                    if len(data) >= left:
                        if left > 0:
                            dst.sendall(data[:left])
                        self.count[direction] += max(left, 0)
                        self.do_cut(direction)
                        return
                dst.sendall(data)
                self.count[direction] += len(data)
        except OSError:
            pass
        # one side closed: pass the close on to the other side
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def find(self, data):
        """--at: sets the cut offset once the NTH match is seen"""
        a = self.p.args
        buf = self.tail + data
        base = self.count["s2c"] - len(self.tail)
        for m in self.p.at.finditer(buf):
            if base + m.start() <= self.last:
                continue  # counted with the previous read
            self.last = base + m.start()
            self.seen += 1
            if self.seen == a.nth:
                # never before what was already forwarded
                self.cut = ("s2c", max(base + m.start() + a.plus,
                                       self.count["s2c"]))
                return
        self.tail = buf[-256:]

    def run(self):
        try:
            if (self.cut is not None and self.cut[1] is not None and
                    self.cut[1] == 0):
                # nothing at all in the cut direction
                self.do_cut(self.cut[0])
                return
            try:
                self.server = socket.create_connection(self.p.target,
                                                       timeout=10)
                self.server.settimeout(None)
            except OSError as e:
                self.p.log("conn %d target unreachable: %s" % (self.num, e))
                self.close(False)
                return
            t = threading.Thread(target=self.pump,
                                 args=(self.client, self.server, "c2s"),
                                 daemon=True)
            t.start()
            self.pump(self.server, self.client, "s2c")
            t.join()
            if not self.cut_done:
                self.p.log("conn %d whole (s2c %d c2s %d)"
                           % (self.num, self.count["s2c"],
                              self.count["c2s"]))
            self.close(False)
        finally:
            self.p.done(self)


class Proxy:
    def __init__(self, args):
        self.args = args
        self.target = hostport(args.target)
        self.active = 0
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.logf = open(args.log, "a") if args.log else sys.stdout
        self.at = re.compile(args.at.encode()) if args.at else None

    def log(self, msg):
        with self.lock:
            self.logf.write(msg + "\n")
            self.logf.flush()

    def done(self, conn):
        with self.lock:
            self.active -= 1
            self.last = time.monotonic()

    def serve(self):
        a = self.args
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(hostport(a.listen))
        ls.listen(16)
        ls.settimeout(0.1)
        if a.ready_file:
            with open(a.ready_file, "w") as f:
                f.write("%d\n" % os.getpid())
        cut = None
        if a.cut_s2c is not None:
            cut = ("s2c", a.cut_s2c)
        elif a.cut_c2s is not None:
            cut = ("c2s", a.cut_c2s)
        elif a.at is not None:
            cut = ("s2c", None)
        start = time.monotonic()
        num = 0
        while True:
            now = time.monotonic()
            if now - start > a.lifetime:
                self.log("lifetime over")
                break
            with self.lock:
                idle = self.active == 0 and now - self.last > a.idle
            if idle:
                self.log("idle, exiting")
                break
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            num += 1
            with self.lock:
                self.active += 1
            conn = Conn(self, num, c, cut if num <= a.cut_conns else None)
            threading.Thread(target=conn.run, daemon=True).start()
        ls.close()


def main():
    ap = argparse.ArgumentParser(description="TCP proxy that cuts after N "
                                 "bytes")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--cut-s2c", type=int)
    ap.add_argument("--cut-c2s", type=int)
    ap.add_argument("--at")
    ap.add_argument("--nth", type=int, default=1)
    ap.add_argument("--plus", type=int, default=0)
    ap.add_argument("--cut-conns", type=int, default=1)
    ap.add_argument("--rst", action="store_true")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--ready-file")
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--lifetime", type=float, default=300.0)
    a = ap.parse_args()
    if sum(x is not None for x in (a.cut_s2c, a.cut_c2s, a.at)) > 1:
        ap.error("one of --cut-s2c, --cut-c2s and --at")
    Proxy(a).serve()


main()
