#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# sync-compare.py -- the server's messages (IMAP BODY.PEEK[] of every
# selectable folder) against the local Maildir++, byte for byte, as
# multisets: no message missing, none extra, no duplicate.
# usage: sync-compare.py HOST PORT USER PASSFILE CAFILE MAILDIR [FOLDER...]
import hashlib
import imaplib
import os
import re
import ssl
import sys


def local_dir(root, name):
    if name.upper() == "INBOX":
        return root
    return os.path.join(root, "." + name.replace("/", "."))


def local_hashes(d):
    out = []
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            if f.startswith("."):
                continue
            with open(os.path.join(p, f), "rb") as fh:
                out.append(hashlib.sha256(fh.read()).hexdigest())
    return sorted(out)


def main():
    host, port, user, passfile, cafile, root = sys.argv[1:7]
    only = sys.argv[7:]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    m.login(user, open(passfile).read().strip())
    typ, data = m.list()
    names = []
    for line in data:
        mm = re.match(rb'\((.*?)\) "(.)" "?(.*?)"?$', line)
        if mm is None or b"\\Noselect" in mm.group(1):
            continue
        names.append(mm.group(3).decode())
    bad = 0
    for name in names:
        if only and name not in only:
            continue
        m.select('"%s"' % name, readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        srv = []
        for item in data:
            if isinstance(item, tuple):
                srv.append(hashlib.sha256(item[1]).hexdigest())
        srv.sort()
        loc = local_hashes(local_dir(root, name))
        if srv != loc:
            bad += 1
            print("folder %s: server %d messages, local %d, equal %s"
                  % (name, len(srv), len(loc), srv == loc))
            s, l = set(srv), set(loc)
            print("  missing locally: %d, extra locally: %d"
                  % (len(s - l), len(l - s)))
        else:
            print("folder %s: %d messages equal" % (name, len(srv)))
    m.logout()
    sys.exit(1 if bad else 0)


main()
