#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen-mailbox.py -- a deterministic synthetic mailbox, written into a Maildir.

Message i depends only on (--seed, i, --now and the ratio options), so a
run with --start K -n M appends messages K..K+M-1 of the same mailbox.

Mix (defaults): text messages of 2-20 KB (log-uniform), a third of them
multipart/alternative (text + HTML); --attach-ratio (6%) multipart/mixed
with one base64 attachment of 50 KB - 2 MB (log-uniform, incompressible);
--rfc2047-ratio (3%) RFC 2047 encoded Subject and From. Date headers spread
over the --spread-days (60) days before --now (default: today 00:00 UTC, so
a day's runs agree); each file's mtime (Dovecot's INTERNALDATE) is its Date.

  --days-old 1,5,40   message i is list[i % len] days (and one hour) old,
                      for DWNDAY tests; its Subject says so ("age 40d")
  --seen-ratio 0.7    share of messages stored as read (cur/, ":2,S")
  --folder NAME       a Maildir++ subfolder (".NAME") instead of INBOX

usage: gen-mailbox.py --maildir DIR -n N [--seed S] [--start K] [--now T]
Prints one JSON line of statistics. Stdlib only.
"""
import argparse
import base64
import datetime as dt
import json
import math
import os
import random
import sys
from email.header import Header
from email.utils import format_datetime

WORDS = (
    "the of and to in is you that it was for on are as with they at be this "
    "have from or one had by word but not what all were we when your can said "
    "there use an each which she do how their if will up other about out many "
    "then them these so some her would make like him into time has look two "
    "more write go see number no way could people my than first water been "
    "call who now find long down day did get come made may part over new "
    "sound take only little work know place year live back give most very "
    "after thing our just name good sentence man think say great where help "
    "through much before line right too mean old any same tell follow came "
    "want show also around form three small set put end does another well "
    "large must big even such because turn here why ask went men read need "
    "land different home move try kind hand picture again change off play "
    "meeting invoice project deadline server backup report quarterly budget "
    "release review schedule customer ticket deployment database migration"
).split()
FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi",
         "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert",
         "Sybil", "Trent", "Victor", "Walter", "Yolanda"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Johnson", "Davies",
        "Wright", "Evans", "Walker", "White", "Green", "Hall", "Wood"]
DOMAINS = ["example.com", "example.org", "example.net", "lists.example.org"]
INTL_NAMES = ["Jürgen Müller", "Łukasz Wróbel", "José Álvarez", "Zoë Brontë",
              "Иван Петров", "山田 太郎", "Ελένη Παπαδοπούλου"]
INTL_SUBJECTS = ["Grüße aus München", "Réunion de l'équipe — compte rendu",
                 "Отчёт за неделю", "会議の議事録", "Zażółć gęślą jaźń"]
ATTACH = [("application/pdf", "pdf", b"%PDF-1.4\n"),
          ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0"),
          ("image/png", "png", b"\x89PNG\r\n\x1a\n"),
          ("application/zip", "zip", b"PK\x03\x04")]
ZONES = [0, 60, 120, -300, -420, 330, 540]  # minutes east of UTC


def corpus(seed, nbytes=400_000):
    """Wrapped pseudo-English lines shared by every message of a seed."""
    r = random.Random(f"corpus:{seed}")
    lines, cur, total = [], [], 0
    while total < nbytes:
        for w in r.choices(WORDS, k=r.randint(6, 16)):
            if sum(len(x) + 1 for x in cur) + len(w) > 72:
                lines.append(" ".join(cur))
                total += len(lines[-1]) + 1
                cur = []
            cur.append(w)
        cur[-1] += r.choice("....?!")
        if r.random() < 0.15:
            lines.append(" ".join(cur))
            lines.append("")
            cur = []
    return lines


def log_uniform(r, lo, hi):
    return int(math.exp(r.uniform(math.log(lo), math.log(hi))))


def text_block(r, lines, size):
    k = r.randrange(len(lines))
    out, n = [], 0
    while n < size:
        out.append(lines[k % len(lines)])
        n += len(out[-1]) + 1
        k += 1
    return "\n".join(out) + "\n"


def message(i, a, lines, now):
    """(timestamp, bytes, has_attachment, encoded_headers) for message i."""
    r = random.Random(f"msg:{a.seed}:{i}")
    if a.days_old:
        age = a.days_old[i % len(a.days_old)]
        ts = now - age * 86400 - 3600
    else:
        age = None
        ts = now - r.uniform(0, a.spread_days * 86400)
    ts = int(ts)
    tz = dt.timezone(dt.timedelta(minutes=r.choice(ZONES)))
    date = format_datetime(dt.datetime.fromtimestamp(ts, tz))
    first, last = r.choice(FIRST), r.choice(LAST)
    name, addr = f"{first} {last}", f"{first.lower()}.{last.lower()}@" \
        f"{r.choice(DOMAINS)}"
    subject = " ".join(r.choices(WORDS, k=r.randint(2, 8))).capitalize()
    encoded = r.random() < a.rfc2047_ratio
    if encoded:
        name, subject = r.choice(INTL_NAMES), r.choice(INTL_SUBJECTS)
    if age is not None:
        subject = f"age {age}d: {subject}"
    hdr = [f"Return-Path: <{addr}>",
           f"Received: from mx{r.randint(1, 9)}.example.net by "
           f"mail.example.com with ESMTPS id {r.getrandbits(40):010X}\n"
           f"\tfor <{a.to}>; {date}"]
    if encoded:
        hdr.append(f"From: {Header(name, 'utf-8').encode()} <{addr}>")
        hdr.append(f"Subject: {Header(subject, 'utf-8').encode()}")
    else:
        hdr.append(f'From: "{name}" <{addr}>')
        hdr.append(f"Subject: {subject}")
    hdr += [f"To: <{a.to}>", f"Date: {date}",
            f"Message-ID: <{a.seed}.{i}.{r.getrandbits(32):08x}@gen.example>",
            "MIME-Version: 1.0"]
    text = text_block(r, lines, log_uniform(r, a.text_min, a.text_max))
    boundary = f"=_gen_{a.seed}_{i}_{r.getrandbits(32):08x}"
    attach = r.random() < a.attach_ratio
    if attach:
        ctype, ext, magic = r.choice(ATTACH)
        size = log_uniform(r, a.attach_min, a.attach_max)
        data = magic + r.randbytes(max(size - len(magic), 0))
        fname = f"file-{i}.{ext}"
        hdr.append(f'Content-Type: multipart/mixed;\n\tboundary="{boundary}"')
        body = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
                f"--{boundary}\nContent-Type: {ctype}; name=\"{fname}\"\n"
                f"Content-Disposition: attachment; filename=\"{fname}\"\n"
                f"Content-Transfer-Encoding: base64\n\n"
                f"{base64.encodebytes(data).decode('ascii')}"
                f"--{boundary}--\n")
    elif r.random() < 0.33:
        html = "".join(f"<p>{p}</p>\n" for p in text.split("\n\n") if p)
        hdr.append(f'Content-Type: multipart/alternative;\n\tboundary='
                   f'"{boundary}"')
        body = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n"
                f"{text}\n--{boundary}\nContent-Type: text/html; "
                f"charset=utf-8\n\n<html><body>\n{html}</body></html>\n"
                f"--{boundary}--\n")
    else:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        hdr.append("Content-Transfer-Encoding: 8bit")
        body = text
    raw = ("\n".join(hdr) + "\n\n" + body).encode("utf-8")
    seen = r.random() < a.seen_ratio
    return ts, raw, seen, attach, encoded


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maildir", required=True,
                    help="Maildir++ root (created when missing)")
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--now", default=None,
                    help="epoch seconds or YYYY-MM-DD (UTC); "
                         "default today 00:00 UTC")
    ap.add_argument("--spread-days", type=float, default=60)
    ap.add_argument("--days-old", default=None,
                    help="comma-separated ages in days, cycled")
    ap.add_argument("--seen-ratio", type=float, default=0.7)
    ap.add_argument("--attach-ratio", type=float, default=0.06)
    ap.add_argument("--rfc2047-ratio", type=float, default=0.03)
    ap.add_argument("--text-min", type=int, default=2_000)
    ap.add_argument("--text-max", type=int, default=20_000)
    ap.add_argument("--attach-min", type=int, default=50_000)
    ap.add_argument("--attach-max", type=int, default=2_000_000)
    ap.add_argument("--folder", default=None,
                    help="subfolder name (stored as .NAME)")
    ap.add_argument("--to", default="testuser@localhost")
    a = ap.parse_args()

    if a.now is None:
        now = (int(dt.datetime.now(dt.timezone.utc).timestamp()) // 86400
               ) * 86400
    elif "-" in a.now:
        now = int(dt.datetime.strptime(a.now, "%Y-%m-%d").replace(
            tzinfo=dt.timezone.utc).timestamp())
    else:
        now = int(float(a.now))
    a.days_old = [int(x) for x in a.days_old.split(",")] if a.days_old \
        else None
    if a.folder is not None and ("/" in a.folder or a.folder.startswith(".")
                                 or a.folder in ("", "..")):
        sys.exit("gen-mailbox.py: --folder must be a plain name")
    root = a.maildir if a.folder is None else \
        os.path.join(a.maildir, "." + a.folder)
    for d in ([a.maildir] if a.folder else []) + [root]:
        for sub in ("", "cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), mode=0o700, exist_ok=True)

    lines = corpus(a.seed)
    stats = {"messages": 0, "bytes": 0, "with_attachment": 0,
             "rfc2047": 0, "seen": 0, "max_bytes": 0, "now": now}
    for i in range(a.start, a.start + a.n):
        ts, raw, seen, attach, encoded = message(i, a, lines, now)
        base = f"{ts}.M{i}P{a.seed}Q{i}.gen,S={len(raw)}"
        sub, name = ("cur", base + ":2,S") if seen else ("new", base)
        tmp = os.path.join(root, "tmp", base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.utime(tmp, (ts, ts))
        os.rename(tmp, os.path.join(root, sub, name))
        stats["messages"] += 1
        stats["bytes"] += len(raw)
        stats["with_attachment"] += attach
        stats["rfc2047"] += encoded
        stats["seen"] += seen
        stats["max_bytes"] = max(stats["max_bytes"], len(raw))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
