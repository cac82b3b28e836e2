#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hostile_server.py -- a scripted IMAP/POP3/SMTP server for what Dovecot won't do.

Stdlib only. Listens on --listen ADDR:PORT, serves at most --max-conns
connections one at a time, and exits by itself after --timeout seconds.

Scenarios (--scenario):
  inject            STARTTLS is answered OK and, in the same write, followed by
                    --inject bytes before the TLS handshake (response
                    injection, curl test980 / CVE-2020-15953); then real TLS
                    with --cert/--key and a server that accepts any login, so
                    only a client that checks its buffer fails
  refuse-starttls   STARTTLS advertised, then refused (NO / -ERR / 454)
  no-starttls       STARTTLS not advertised; a login is accepted (cleartext)
  preauth           IMAP greeting "* PREAUTH" (STARTTLS offered): a client
                    that needs TLS must not go on (CVE-2020-12398 / mutt)
  silent            accept and never send a byte (until the client leaves)
  close             accept and close at once
  garbage           send a greeting of non-protocol bytes and close
  permflags         (IMAP, for sync tests) login OK, LIST, then SELECT
                    answers an unfinished "* OK [PERMANENTFLAGS (" line and
                    stalls
  permflags-eof     the same line, then the connection closes
  permflags-crlf    the same line ended by CRLF at once, then the tagged OK
  fetch-close       (IMAP, for sync tests) login OK, LIST, SELECT of one
                    message, UID SEARCH and UID FETCH (RFC822.SIZE) answered;
                    a body FETCH sends a literal header and half the bytes,
                    then closes
  fetch-extra       (IMAP, for sync tests) INBOX holds UIDs 1..3; every UID
                    FETCH (sizes, bodies, flags) is answered with the asked
                    messages, each followed by a second answer for the same
                    UID (other body, \Flagged, a huge size), a FETCH without
                    UID and 300 FETCH responses for UIDs never asked
  no-uidl           (POP3, for sync tests) login OK, UIDL refused (-ERR)
  uidl-long         (POP3) a UIDL of 80 characters (RFC 1939 allows 70)
  uidl-close        (POP3) UIDL answers +OK and one line, then closes
  folders           (IMAP, for sync tests) a tiny stateful mailbox server
                    (LIST, SELECT, UID SEARCH/FETCH/STORE/EXPUNGE, UIDPLUS)
                    whose LIST gives "a.b" with separator "." and "a/b" with
                    "/" (one local folder each is wanted), a folder with a
                    300-byte modified UTF-7 name listed first (cannot be
                    mapped: skipped), "Sent", and INBOX last; one message in
                    each, UIDVALIDITY 1 everywhere. After each connection
                    the mailboxes are dumped as JSON to <ready-file>.state
  folders-create    (IMAP) as "folders", with separator ".", NAMESPACE
                    (personal prefix "INBOX.", as Courier) and
                    CREATE-SPECIAL-USE: LIST starts with INBOX and
                    INBOX.Trash only; CREATE adds a folder (its \Sent from
                    "(USE (\Sent))"), and the state file lists every
                    CREATE argument under "_create"
  list-gap          (POP3) UIDL and LIST list messages 1 and 3 (a gap)
  list-dup          (POP3) UIDL is fine; LIST lists message 1 twice (and
                    no 3)
  list-zero         (POP3) UIDL and LIST list a message 0
  list-disagree     (POP3) UIDL lists 2 messages, LIST 3
  permflags-hidden  (IMAP, for sync tests) SELECT answers a resp-text line
                    ending in "{20}" (text, not a literal) and then a
                    malformed "* OK [PERMANENTFLAGS (" line: the old guard
                    skipped 20 bytes and let it reach libetpan
  deep-body         (IMAP, for sync tests) UID SEARCH is answered with an
                    unsolicited FETCH whose BODYSTRUCTURE nests 50000
                    parentheses (libetpan recurses until the stack ends)
  caps-permflags    (IMAP) the plaintext CAPABILITY reply (STARTTLS rung,
                    before any certificate) carries both PERMANENTFLAGS
                    shapes: "{20}" at a resp-text end, then "[PERMANENTFLAGS ("
  caps-deep         (IMAP) the plaintext CAPABILITY reply carries the deep
                    BODYSTRUCTURE
  long-line         (IMAP, POP3, SMTP) the greeting is a line that never
                    ends: 64 MiB without LF, then silence
  ok                a well-behaved server: STARTTLS works, any login is OK
--tls wraps every connection in TLS first (implicit TLS: 993/995/465) with
--cert/--key; with "silent" it completes the handshake, then says nothing.

--capa-extra TEXT adds TEXT to the capability list (e.g. odd bytes, for
escaping tests). Each connection is logged to stderr.
"""
import argparse
import json
import os
import select
import socket
import ssl
import sys
import threading
import time

CRLF = b"\r\n"


def unescape(text):
    """Command-line text with \\r \\n \\xHH escapes -> bytes."""
    return text.encode("utf-8", "surrogateescape").decode(
        "unicode_escape").encode("latin-1")


class Conn:
    """A line-oriented peer over a socket (plain or TLS)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.deadline = deadline

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while CRLF not in self.buf and b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except (OSError, ssl.SSLError):
                return None
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > 65536:
                return None
        i = self.buf.find(b"\n")
        line, self.buf = self.buf[: i + 1], self.buf[i + 1:]
        return line.rstrip(b"\r\n")

    def wait_closed(self):
        """Stay silent until the peer closes or the deadline passes."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if r:
                try:
                    if not self.sock.recv(4096):
                        return
                except (OSError, ssl.SSLError):
                    return


class Script:
    def __init__(self, args):
        self.a = args
        self.ctx = None
        self.capa_extra = b""
        if args.capa_extra:
            self.capa_extra = unescape(args.capa_extra)
        if args.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(args.cert, args.key)

    def starttls_word(self):
        return {"imap": "STARTTLS", "pop3": "STLS", "smtp": "STARTTLS"}[
            self.a.proto]

    def tls_wrap(self, c):
        c.sock.settimeout(max(0.1, c.deadline - time.monotonic()))
        c.sock = self.ctx.wrap_socket(c.sock, server_side=True)
        c.buf = b""

    # -- IMAP ---------------------------------------------------------------
    def imap_caps(self, tls_done):
        caps = [b"IMAP4rev1", b"AUTH=PLAIN", b"AUTH=LOGIN"]
        if not tls_done and self.a.scenario != "no-starttls":
            caps.insert(1, b"STARTTLS")
        if self.capa_extra:
            caps.append(self.capa_extra)
        return b" ".join(caps)

    def imap(self, c, tls_done):
        sc = self.a.scenario
        if sc == "folders":
            return Folders.serve(self, c)
        if sc == "folders-create":
            return FoldersCreate.serve(self, c)
        if sc == "preauth":
            c.send(b"* PREAUTH [CAPABILITY " + self.imap_caps(tls_done) +
                   b"] hostile ready" + CRLF)
        else:
            c.send(b"* OK [CAPABILITY " + self.imap_caps(tls_done) +
                   b"] hostile ready" + CRLF)
        selected = False
        while True:
            line = c.readline()
            if line is None:
                return
            parts = line.split(b" ", 2)
            tag = parts[0]
            cmd = parts[1].upper() if len(parts) > 1 else b""
            if sc == "fetch-extra" and self.imap_fetch_extra(c, tag, parts):
                continue
            if self.imap_guard(c, tag, cmd, parts, tls_done):
                continue
            if cmd == b"CAPABILITY":
                c.send(b"* CAPABILITY " + self.imap_caps(tls_done) + CRLF +
                       tag + b" OK done" + CRLF)
            elif cmd == b"STARTTLS" and not tls_done:
                if sc == "refuse-starttls":
                    c.send(tag + b" NO STARTTLS not available today" + CRLF)
                    continue
                if sc == "preauth":
                    c.send(tag + b" BAD already authenticated" + CRLF)
                    continue
                c.send(tag + b" OK begin TLS" + CRLF +
                       (self.inject() if sc == "inject" else b""))
                self.tls_wrap(c)
                tls_done = True
            elif cmd in (b"LOGIN", b"AUTHENTICATE"):
                if cmd == b"AUTHENTICATE" and len(parts) == 3 and \
                        b" " not in parts[2]:
                    c.send(b"+ " + CRLF)
                    if c.readline() is None:
                        return
                c.send(tag + b" OK [CAPABILITY " + self.imap_caps(tls_done) +
                       b"] logged in" + CRLF)
            elif cmd in (b"SELECT", b"EXAMINE"):
                if sc == "permflags":
                    c.send(b"* 1 EXISTS" + CRLF +
                           b"* OK [PERMANENTFLAGS (")
                    c.wait_closed()
                    return
                if sc == "permflags-eof":
                    c.send(b"* 1 EXISTS" + CRLF +
                           b"* OK [PERMANENTFLAGS (")
                    return
                if sc == "permflags-crlf":
                    c.send(b"* 1 EXISTS" + CRLF +
                           b"* OK [PERMANENTFLAGS (" + CRLF + tag +
                           b" OK [READ-WRITE] selected" + CRLF)
                    continue
                selected = True
                c.send(b"* 1 EXISTS" + CRLF + b"* 0 RECENT" + CRLF +
                       b"* OK [UIDVALIDITY 1] ok" + CRLF +
                       b"* OK [UIDNEXT 2] ok" + CRLF +
                       b"* FLAGS (\\Seen \\Deleted)" + CRLF +
                       b"* OK [PERMANENTFLAGS (\\Seen \\Deleted)] ok" +
                       CRLF + tag + b" OK [READ-WRITE] selected" + CRLF)
            elif cmd == b"LIST" and sc in ("permflags", "permflags-eof",
                                           "permflags-crlf", "fetch-close"):
                c.send(b'* LIST () "/" INBOX' + CRLF + tag + b" OK listed" +
                       CRLF)
            elif cmd == b"UID" and selected and sc == "fetch-close" and \
                    len(parts) == 3 and b"BODY" not in parts[2].upper():
                # the sync engine's UID SEARCH and UID FETCH (RFC822.SIZE)
                sub = parts[2].split(b" ", 1)[0].upper()
                if sub == b"SEARCH":
                    c.send(b"* SEARCH 1" + CRLF + tag + b" OK done" + CRLF)
                else:
                    c.send(b"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 236)" +
                           CRLF + tag + b" OK done" + CRLF)
            elif cmd in (b"FETCH", b"UID") and selected:
                body = (b"From: a@example.com\r\nSubject: hi\r\n\r\n" +
                        b"x" * 200 + CRLF)
                if sc == "fetch-close":
                    c.send(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(body) +
                           body[: len(body) // 2])
                    return
                c.send(b"* 1 FETCH (UID 1 FLAGS () BODY[] {%d}\r\n" %
                       len(body) + body + b")" + CRLF + tag + b" OK done" +
                       CRLF)
            elif cmd == b"LOGOUT":
                c.send(b"* BYE bye" + CRLF + tag + b" OK bye" + CRLF)
                return
            elif cmd == b"NOOP":
                c.send(tag + b" OK noop" + CRLF)
            else:
                c.send(tag + b" BAD unknown command" + CRLF)

    # -- IMAP fetch-extra: answers nobody asked for -----------------------
    @staticmethod
    def extra_msg(uid, what):
        return (b"From: a@example.com\r\nTo: u@email2.test\r\n"
                b"Subject: %s %d\r\nMessage-ID: <%s%d@example.com>\r\n"
                b"\r\n%s body of %d\r\n" % (what, uid, what, uid, what,
                                               uid))

    @staticmethod
    def uid_set(text):
        uids = []
        for run in text.split(b","):
            lo, _, hi = run.partition(b":")
            lo = int(lo)
            hi = int(hi) if hi not in (b"", b"*") else (3 if hi else lo)
            uids.extend(range(min(lo, hi), max(lo, hi) + 1))
        return [u for u in uids if 1 <= u <= 3]

    def imap_fetch_extra(self, c, tag, parts):
        """fetch-extra: SELECT, LIST, UID SEARCH and UID FETCH; else None."""
        cmd = parts[1].upper() if len(parts) > 1 else b""
        if cmd == b"LIST":
            c.send(b'* LIST () "/" INBOX' + CRLF + tag + b" OK listed" +
                   CRLF)
            return True
        if cmd in (b"SELECT", b"EXAMINE"):
            c.send(b"* 3 EXISTS" + CRLF + b"* 0 RECENT" + CRLF +
                   b"* OK [UIDVALIDITY 7] ok" + CRLF +
                   b"* OK [UIDNEXT 4] ok" + CRLF +
                   b"* FLAGS (\\Seen \\Flagged \\Deleted)" + CRLF +
                   b"* OK [PERMANENTFLAGS (\\Seen \\Flagged)] ok" + CRLF +
                   tag + b" OK [READ-WRITE] selected" + CRLF)
            return True
        if cmd != b"UID" or len(parts) < 3:
            return False
        sub, _, rest = parts[2].partition(b" ")
        sub = sub.upper()
        if sub == b"SEARCH":
            # "UID 1:*" (a first sync) or "UID 4:*" (a resync): a UID twice
            c.send(b"* SEARCH 1 2 3 2 1" + CRLF + tag + b" OK done" + CRLF)
            return True
        if sub != b"FETCH":
            return False
        uids = self.uid_set(rest.split(b" ", 1)[0])
        atts = rest.upper()
        out = b""

        def answer(uid, n, genuine):
            what = b"msg" if genuine else b"extra"
            flags = b"\\Seen" if b"BODY" not in atts else b""
            if not genuine:
                flags = b"\\Flagged"
            items = b"UID %d FLAGS (%s)" % (uid, flags)
            body = self.extra_msg(uid, what)
            if b"RFC822.SIZE" in atts:
                items += b" RFC822.SIZE %d" % (len(body) if genuine
                                              else 99999999)
            if b"INTERNALDATE" in atts:
                items += b' INTERNALDATE "01-Jan-2024 10:00:00 +0000"'
            if b"BODY.PEEK[" in atts:
                name = b"BODY[]<0>" if b"BODY.PEEK[]<" in atts else b"BODY[]"
                items += b" %s {%d}\r\n%s" % (name, len(body), body)
            return b"* %d FETCH (%s)" % (n, items) + CRLF

        for uid in uids:
            out += answer(uid, uid, True)
            out += answer(uid, uid, False)  # the same UID again
        out += b"* 2 FETCH (FLAGS (\\Flagged))" + CRLF  # no UID
        for uid in range(100, 400):
            out += answer(uid, uid, False)
        c.send(out + tag + b" OK done" + CRLF)
        return True

    # -- POP3 ---------------------------------------------------------------
    def pop3_capa(self, tls_done):
        caps = [b"USER", b"SASL PLAIN", b"UIDL", b"TOP"]
        if not tls_done and self.a.scenario != "no-starttls":
            caps.append(b"STLS")
        if self.capa_extra:
            caps.append(self.capa_extra)
        return b"".join(x + CRLF for x in caps)

    def pop3(self, c, tls_done):
        sc = self.a.scenario
        c.send(b"+OK hostile ready" + CRLF)
        while True:
            line = c.readline()
            if line is None:
                return
            cmd = line.split(b" ", 1)[0].upper()
            if cmd == b"CAPA":
                c.send(b"+OK capabilities" + CRLF + self.pop3_capa(tls_done) +
                       b"." + CRLF)
            elif cmd == b"STLS" and not tls_done:
                if sc == "refuse-starttls":
                    c.send(b"-ERR STLS not available today" + CRLF)
                    continue
                c.send(b"+OK begin TLS" + CRLF +
                       (self.inject() if sc == "inject" else b""))
                self.tls_wrap(c)
                tls_done = True
            elif cmd in (b"USER", b"PASS"):
                c.send(b"+OK fine" + CRLF)
            elif cmd == b"AUTH":
                if b" " in line.strip() and len(line.split()) == 2:
                    c.send(b"+ " + CRLF)
                    if c.readline() is None:
                        return
                c.send(b"+OK logged in" + CRLF)
            elif cmd == b"STAT":
                c.send(b"+OK 0 0" + CRLF)
            elif cmd == b"UIDL" and sc == "no-uidl":
                c.send(b"-ERR no UIDL here" + CRLF)
            elif cmd == b"UIDL" and sc == "uidl-long":
                c.send(b"+OK" + CRLF + b"1 " + b"x" * 80 + CRLF + b"." +
                       CRLF)
            elif cmd in (b"UIDL", b"LIST", b"RETR", b"TOP") and \
                    sc in self.POP3_LISTS:
                c.send(self.pop3_listing(sc, cmd))
            elif cmd == b"UIDL" and sc == "uidl-close":
                c.send(b"+OK" + CRLF + b"1 abc" + CRLF)
                return
            elif cmd in (b"UIDL", b"LIST"):
                c.send(b"+OK empty" + CRLF + b"." + CRLF)
            elif cmd == b"QUIT":
                c.send(b"+OK bye" + CRLF)
                return
            else:
                c.send(b"-ERR unknown command" + CRLF)

    # POP3 maildrops whose numbers libetpan 1.9.4 cannot index:
    # scenario -> (UIDL lines, LIST lines)
    POP3_LISTS = {
        "list-gap": ([b"1 a", b"3 c"], [b"1 120", b"3 120"]),
        "list-dup": ([b"1 a", b"2 b", b"3 c"],
                     [b"1 120", b"1 120", b"2 120"]),
        "list-zero": ([b"0 z", b"1 a"], [b"0 120", b"1 120"]),
        "list-disagree": ([b"1 a", b"2 b"],
                          [b"1 120", b"2 120", b"3 120"]),
    }

    def pop3_listing(self, sc, cmd):
        uidl, lst = self.POP3_LISTS[sc]
        if cmd in (b"RETR", b"TOP"):  # never reached by a careful client
            body = (b"From: a@example.com\r\nSubject: listed\r\n\r\n"
                    b"hello\r\n")
            return b"+OK" + CRLF + body + b"." + CRLF
        lines = uidl if cmd == b"UIDL" else lst
        return b"+OK" + CRLF + b"".join(x + CRLF for x in lines) + b"." + CRLF

    # -- SMTP ---------------------------------------------------------------
    def smtp_ehlo(self, tls_done):
        lines = [b"hostile.email2.test", b"PIPELINING", b"8BITMIME",
                 b"AUTH PLAIN LOGIN"]
        if not tls_done and self.a.scenario != "no-starttls":
            lines.append(b"STARTTLS")
        if self.capa_extra:
            lines.append(self.capa_extra)
        out = b""
        for i, x in enumerate(lines):
            sep = b" " if i == len(lines) - 1 else b"-"
            out += b"250" + sep + x + CRLF
        return out

    def smtp(self, c, tls_done):
        sc = self.a.scenario
        c.send(b"220 hostile.email2.test ESMTP ready" + CRLF)
        while True:
            line = c.readline()
            if line is None:
                return
            cmd = line.split(b" ", 1)[0].upper()
            if cmd in (b"EHLO", b"HELO"):
                c.send(self.smtp_ehlo(tls_done))
            elif cmd == b"STARTTLS" and not tls_done:
                if sc == "refuse-starttls":
                    c.send(b"454 4.7.0 TLS not available today" + CRLF)
                    continue
                c.send(b"220 2.0.0 go ahead" + CRLF +
                       (self.inject() if sc == "inject" else b""))
                self.tls_wrap(c)
                tls_done = True
            elif cmd == b"AUTH":
                if len(line.split()) == 2:
                    c.send(b"334 " + CRLF)
                    if c.readline() is None:
                        return
                c.send(b"235 2.7.0 authenticated" + CRLF)
            elif cmd == b"QUIT":
                c.send(b"221 2.0.0 bye" + CRLF)
                return
            elif cmd in (b"RSET", b"NOOP", b"MAIL", b"RCPT"):
                c.send(b"250 2.0.0 ok" + CRLF)
            else:
                c.send(b"502 5.5.2 unknown command" + CRLF)

    # -- the server-byte guard's scenarios ----------------------------------
    DEEP = 50000

    def imap_guard(self, c, tag, cmd, parts, tls_done):
        """Answers cmd for the guard scenarios; False: not handled here."""
        sc = self.a.scenario
        if sc not in ("permflags-hidden", "deep-body", "caps-permflags",
                      "caps-deep"):
            return False
        deep = (b"* 1 FETCH (UID 1 BODYSTRUCTURE " + b"(" * self.DEEP +
                b'"text" "plain" NIL NIL NIL "7bit" 1 1' +
                b")" * self.DEEP + b")" + CRLF)
        hidden = (b"* OK [ALERT] look {20}" + CRLF +
                  b"* OK [PERMANENTFLAGS (" + CRLF)
        if cmd == b"CAPABILITY" and not tls_done and sc.startswith("caps-"):
            c.send(b"* CAPABILITY " + self.imap_caps(tls_done) + CRLF +
                   (hidden if sc == "caps-permflags" else deep) +
                   tag + b" OK done" + CRLF)
            return True
        if cmd == b"LIST":
            c.send(b'* LIST () "/" INBOX' + CRLF + tag + b" OK listed" +
                   CRLF)
            return True
        if cmd in (b"SELECT", b"EXAMINE") and sc == "permflags-hidden":
            c.send(b"* 1 EXISTS" + CRLF + hidden + tag +
                   b" OK [READ-WRITE] selected" + CRLF)
            return True
        if cmd in (b"SELECT", b"EXAMINE"):
            c.send(b"* 1 EXISTS" + CRLF + b"* OK [UIDVALIDITY 1] ok" + CRLF +
                   b"* OK [UIDNEXT 2] ok" + CRLF +
                   b"* OK [PERMANENTFLAGS (\\Seen)] ok" + CRLF + tag +
                   b" OK [READ-WRITE] selected" + CRLF)
            return True
        if cmd == b"UID" and len(parts) == 3 and \
                parts[2].upper().startswith(b"SEARCH"):
            c.send((deep if sc == "deep-body" else b"") + b"* SEARCH 1" +
                   CRLF + tag + b" OK done" + CRLF)
            return True
        return False

    def long_line(self, c):
        """A greeting line that never ends: 64 MiB, then silence."""
        c.send({"imap": b"* OK ", "pop3": b"+OK ",
                "smtp": b"220 "}[self.a.proto])
        chunk = b"a" * 65536
        for _ in range(1024):
            c.send(chunk)
        c.wait_closed()

    def inject(self):
        if self.a.inject is not None:
            return unescape(self.a.inject)
        return {
            "imap": b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected" + CRLF,
            "pop3": b"+OK injected" + CRLF,
            "smtp": b"250 injected" + CRLF,
        }[self.a.proto]

    def serve(self, sock):
        deadline = time.monotonic() + self.a.conn_timeout
        c = Conn(sock, deadline)
        sc = self.a.scenario
        tls_done = False
        if self.a.tls:
            self.tls_wrap(c)
            tls_done = True
        if sc == "silent":
            c.wait_closed()
            return
        if sc == "close":
            return
        if sc == "long-line":
            self.long_line(c)
            return
        if sc == "garbage":
            c.send(b"\x00\xffHELLO? \x1b[31m not a mail server\r\n")
            return
        getattr(self, self.a.proto)(c, tls_done)


class Folders:
    """Scenario "folders": mailboxes shared by every connection."""

    # 300 bytes: "Projekt 24" and 108 non-ASCII letters (modified UTF-7)
    LONG = "Projekt 24&" + "AOQA5ADk" * 36 + "-"
    LIST = [(LONG, "/"), ("a.b", "."), ("a/b", "/"), ("Sent", "/"),
            ("INBOX", "/")]
    boxes = None
    lock = threading.Lock()

    @classmethod
    def init(cls):
        if cls.boxes is None:
            cls.boxes = {}
            for name, _ in cls.LIST:
                subj = "in " + ("long" if name == cls.LONG else name)
                body = ("From: a@example.com\r\nTo: u@email2.test\r\n"
                        "Subject: %s\r\nMessage-ID: <%s@hostile>\r\n\r\n"
                        "one message in %s\r\n" % (subj, abs(hash(name)),
                                                    subj)).encode()
                cls.boxes[name] = {1: {"flags": [], "body": body}}

    @staticmethod
    def uids(spec, have):
        """An IMAP sequence set of UIDs ("1:*", "2,4:5") over have."""
        top = max(have) if have else 0
        out = set()
        for part in spec.split(","):
            lo, _, hi = part.partition(":")
            lo = top if lo == "*" else int(lo)
            hi = lo if not hi else (top if hi == "*" else int(hi))
            lo, hi = min(lo, hi), max(lo, hi)
            out.update(u for u in have if lo <= u <= hi)
        return sorted(out)

    @staticmethod
    def name_of(arg):
        arg = arg.strip()
        if arg.startswith('"'):
            return arg[1:arg.rindex('"')].replace('\\"', '"').replace(
                "\\\\", "\\")
        return arg.split(" ")[0]

    @classmethod
    def dump(cls, path):
        state = {n: {str(u): {"flags": m["flags"],
                              "subject": m["body"].split(b"Subject: ")[1]
                              .split(b"\r\n")[0].decode()}
                     for u, m in box.items()}
                 for n, box in cls.boxes.items()}
        with open(path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(path + ".tmp", path)

    @classmethod
    def serve(cls, script, c):
        with cls.lock:
            cls.init()
            try:
                cls.session(c)
            finally:
                if script.a.ready_file:
                    cls.dump(script.a.ready_file + ".state")

    CAPS = b"IMAP4rev1 UIDPLUS AUTH=PLAIN"
    ATTRS = {}  # name -> LIST attributes

    @classmethod
    def create(cls, c, tag, arg):
        c.send(tag + b" NO [CANNOT] not here" + CRLF)

    @classmethod
    def namespace(cls, c, tag):
        c.send(tag + b" BAD unknown command" + CRLF)

    @classmethod
    def session(cls, c):
        caps = cls.CAPS
        c.send(b"* OK [CAPABILITY " + caps + b"] hostile folders" + CRLF)
        box = None
        while True:
            line = c.readline()
            if line is None:
                return
            parts = line.decode("latin-1").split(" ", 2)
            tag = parts[0].encode()
            cmd = parts[1].upper() if len(parts) > 1 else ""
            arg = parts[2] if len(parts) > 2 else ""
            ok = tag + b" OK done" + CRLF
            if cmd == "CAPABILITY":
                c.send(b"* CAPABILITY " + caps + CRLF + ok)
            elif cmd in ("LOGIN", "AUTHENTICATE"):
                if cmd == "AUTHENTICATE" and " " not in arg:
                    c.send(b"+ " + CRLF)
                    if c.readline() is None:
                        return
                c.send(tag + b" OK [CAPABILITY " + caps + b"] in" + CRLF)
            elif cmd == "LIST":
                out = b""
                for name, sep in cls.LIST:
                    out += b'* LIST (%s) "%s" "%s"' % (
                        cls.ATTRS.get(name, b""), sep.encode(),
                        name.encode()) + CRLF
                c.send(out + ok)
            elif cmd in ("SELECT", "EXAMINE"):
                name = cls.name_of(arg)
                if name not in cls.boxes:
                    c.send(tag + b" NO no such mailbox" + CRLF)
                    continue
                box = cls.boxes[name]
                nxt = max(box) + 1 if box else 1
                c.send(b"* %d EXISTS" % len(box) + CRLF +
                       b"* 0 RECENT" + CRLF +
                       b"* OK [UIDVALIDITY 1] ok" + CRLF +
                       b"* OK [UIDNEXT %d] ok" % max(nxt, 2) + CRLF +
                       b"* FLAGS (\\Seen \\Deleted \\Flagged)" + CRLF +
                       b"* OK [PERMANENTFLAGS (\\Seen \\Deleted "
                       b"\\Flagged)] ok" + CRLF +
                       tag + b" OK [READ-WRITE] selected" + CRLF)
            elif cmd == "UID" and box is not None:
                cls.uid_cmd(c, tag, box, arg)
            elif cmd == "EXPUNGE" and box is not None:
                cls.expunge(c, box, sorted(box))
                c.send(ok)
            elif cmd in ("CLOSE", "UNSELECT"):
                box = None
                c.send(ok)
            elif cmd == "NOOP":
                c.send(ok)
            elif cmd == "CREATE":
                cls.create(c, tag, arg)
            elif cmd == "NAMESPACE":
                cls.namespace(c, tag)
            elif cmd == "LOGOUT":
                c.send(b"* BYE bye" + CRLF + ok)
                return
            else:
                c.send(tag + b" BAD unknown command" + CRLF)

    @staticmethod
    def expunge(c, box, uids):
        for u in sorted(uids, reverse=True):
            if u in box and "\\Deleted" in box[u]["flags"]:
                seq = sorted(box).index(u) + 1
                del box[u]
                c.send(b"* %d EXPUNGE" % seq + CRLF)

    @classmethod
    def uid_cmd(cls, c, tag, box, arg):
        sub, _, rest = arg.partition(" ")
        sub = sub.upper()
        ok = tag + b" OK done" + CRLF
        if sub == "SEARCH":
            words = rest.split()
            spec = "1:*"
            for i, w in enumerate(words):
                if w.upper() == "UID" and i + 1 < len(words):
                    spec = words[i + 1]
            hits = cls.uids(spec, box)
            c.send(b"* SEARCH" + b"".join(b" %d" % u for u in hits) +
                   CRLF + ok)
        elif sub == "FETCH":
            spec, _, items = rest.partition(" ")
            items = items.upper()
            out = b""
            for u in cls.uids(spec, box):
                m = box[u]
                seq = sorted(box).index(u) + 1
                att = [b"UID %d" % u]
                if "FLAGS" in items:
                    att.append(b"FLAGS (" +
                               " ".join(m["flags"]).encode() + b")")
                if "RFC822.SIZE" in items:
                    att.append(b"RFC822.SIZE %d" % len(m["body"]))
                if "INTERNALDATE" in items:
                    att.append(b'INTERNALDATE "02-Jan-2024 10:00:00 +0000"')
                if "BODY.PEEK[]" in items or "BODY[]" in items:
                    att.append(b"BODY[] {%d}" % len(m["body"]) + CRLF +
                               m["body"])
                out += b"* %d FETCH (" % seq + b" ".join(att) + b")" + CRLF
            c.send(out + ok)
        elif sub == "STORE":
            spec, _, what = rest.partition(" ")
            op, _, flags = what.partition(" ")
            flags = flags.strip("()").split()
            out = b""
            for u in cls.uids(spec, box):
                m = box[u]
                if op.upper().startswith("+"):
                    m["flags"] = sorted(set(m["flags"]) | set(flags))
                elif op.upper().startswith("-"):
                    m["flags"] = sorted(set(m["flags"]) - set(flags))
                else:
                    m["flags"] = sorted(set(flags))
                if "SILENT" not in op.upper():
                    seq = sorted(box).index(u) + 1
                    out += b"* %d FETCH (UID %d FLAGS (%s))" % (
                        seq, u, " ".join(m["flags"]).encode()) + CRLF
            c.send(out + ok)
        elif sub == "EXPUNGE":
            cls.expunge(c, box, cls.uids(rest.strip(), box))
            c.send(ok)
        else:
            c.send(tag + b" BAD unknown UID command" + CRLF)


class FoldersCreate(Folders):
    """Scenario "folders-create": folders made by CREATE, separator "."."""

    CAPS = (b"IMAP4rev1 UIDPLUS AUTH=PLAIN NAMESPACE SPECIAL-USE "
            b"CREATE-SPECIAL-USE")
    LIST = [("INBOX", "."), ("INBOX.Trash", ".")]
    ATTRS = {"INBOX.Trash": b"\\Trash"}
    boxes = None
    created = []
    lock = threading.Lock()

    @classmethod
    def create(cls, c, tag, arg):
        cls.created.append(arg)
        name = cls.name_of(arg)
        if name in cls.boxes or not name:
            c.send(tag + b" NO [ALREADYEXISTS] exists" + CRLF)
            return
        cls.boxes[name] = {}
        cls.LIST.append((name, "."))
        if "(USE (\\SENT))" in arg.upper():
            cls.ATTRS[name] = b"\\Sent"
        c.send(tag + b" OK created" + CRLF)

    @classmethod
    def namespace(cls, c, tag):
        # Courier's: new folders live below "INBOX."
        c.send(b'* NAMESPACE (("INBOX." ".")) NIL NIL' + CRLF +
               tag + b" OK done" + CRLF)

    @classmethod
    def dump(cls, path):
        super().dump(path)
        with open(path) as f:
            state = json.load(f)
        state["_create"] = cls.created
        with open(path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="ADDR:PORT")
    p.add_argument("--proto", choices=("imap", "pop3", "smtp"),
                   default="imap")
    p.add_argument("--scenario", default="ok", choices=(
        "inject", "refuse-starttls", "no-starttls", "preauth", "silent",
        "close", "garbage", "permflags", "permflags-eof", "permflags-crlf",
        "fetch-close", "fetch-extra", "no-uidl", "uidl-long", "uidl-close",
        "list-gap", "list-dup", "list-zero", "list-disagree", "folders",
        "folders-create",
        "permflags-hidden", "deep-body", "caps-permflags", "caps-deep",
        "long-line", "ok"))
    p.add_argument("--tls", action="store_true", help="implicit TLS")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--inject", help="bytes to inject (\\r\\n escapes)")
    p.add_argument("--capa-extra", help="an extra capability")
    p.add_argument("--max-conns", type=int, default=20)
    p.add_argument("--timeout", type=float, default=120.0,
                   help="exit after this many seconds")
    p.add_argument("--conn-timeout", type=float, default=30.0,
                   help="drop one connection after this many seconds")
    p.add_argument("--ready-file", help="created once listening")
    a = p.parse_args()
    if (a.tls or a.scenario == "inject") and not a.cert:
        p.error("this scenario needs --cert and --key")

    addr, port = a.listen.rsplit(":", 1)
    addr = addr.strip("[]")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(16)
    if a.ready_file:
        open(a.ready_file, "w").close()
    script = Script(a)
    end = time.monotonic() + a.timeout
    served = 0
    threads = []
    while served < a.max_conns:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([ls], [], [], left)
        if not r:
            break
        sock, peer = ls.accept()
        served += 1
        print(f"hostile {a.listen} {a.proto} {a.scenario}: connection "
              f"{served} from {peer[0]}", file=sys.stderr, flush=True)
        t = threading.Thread(target=serve_one, args=(script, sock, served),
                             daemon=True)
        t.start()
        threads.append(t)
    ls.close()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return 0


def serve_one(script, sock, n):
    try:
        script.serve(sock)
    except (OSError, ssl.SSLError, ValueError) as ex:
        print(f"hostile: connection {n}: {type(ex).__name__}: {ex}",
              file=sys.stderr, flush=True)
    finally:
        try:
            sock.close()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
