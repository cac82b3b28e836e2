#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-send.sh -- the send queue <store>/outbox/{GUID}/new through Dovecot
# submission (implicit TLS, AUTH) to the aiosmtpd sink, which records the
# envelope in X-MailFrom and X-RcptTo; then into .Sent/cur with S. Also:
# Bcc removed but delivered, From/Date/Message-ID added, dot lines intact,
# no recipient kept queued, a refused RCPT (a scripted server) kept queued
# and sent to nobody, a connection failure keeping everything queued; Bcc
# in every spelling (bare CR, case, folding) never delivered, BODY=8BITMIME,
# 8-bit without 8BITMIME and NUL kept queued; a server folder "Outbox"
# synced and never sent; the one migration of the old queue .Outbox; and
# TAGPROPS 8128000B covering the SMTP login that uses the incoming password.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5E0D5E0D-4444-4A2B-8C3D-000000000004}'
NAME='Zoë Sender, Jr.'
FROM_ADDR=$E2T_USER@email2.test
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 NAME="$NAME"

# the send queue: outside mail/{GUID}, where no server folder can map
OUT=$STORE/outbox/$GUID
# sent copies of this IMAP account are staged in the queue's .Sent
# (outbox_sent_open()) and, in the same run, filed into the local mirror of
# the server's Sent folder (sync_imap_sent.c; Dovecot here has none, so
# "Sent" is created): that folder's cur/ is where a sent copy ends
SENT_CUR=$STORE/mail/$GUID/.Sent/cur
(umask 077 && mkdir -p "$OUT/new" "$OUT/cur" "$OUT/tmp")
n=0
# queue FILE-CONTENT (stdin): one message into the queue's new/, bytes as given
queue() {
	n=$((n + 1))
	cat >"$OUT/tmp/q$n" &&
		mv "$OUT/tmp/q$n" \
			"$OUT/new/1700000000.M${n}P1Q$n.test,S=$(stat -c %s "$OUT/tmp/q$n")"
}

# 1: complete header, Bcc folded, dot lines in the body, LF line ends
queue <<EOF
From: Me <$FROM_ADDR>
To: "Doe, Jane" <jane@example.org>, (comment) bob@example.org
Cc: Team: carol@example.org, "Dan, D." <dan@example.org>;
Bcc: hidden1@example.net,
 hidden2@example.net
Subject: full
Date: Tue, 14 Jan 2025 10:00:00 +0000
Message-ID: <full.1@email2.test>

first line
.leading dot
.
..two dots
last line
EOF
# 2: no From, no Date, no Message-ID; CRLF line ends
queue < <(printf 'To: jane@example.org\r\nSubject: bare\r\n\r\nbody of bare\r\n')
# 3: only Bcc recipients, an empty group in To
queue <<EOF
From: $FROM_ADDR
To: undisclosed-recipients:;
Bcc: secret@example.net
Subject: blind

blind body
EOF
# 4: nobody to send to
queue <<EOF
From: $FROM_ADDR
To: undisclosed-recipients:;
Subject: nobody

no recipient
EOF

e2t_log_mark
sync_once
# files in the queue (claimed ones are cur/<id>:2,)
outbox_n() { find "$OUT/new" "$OUT/cur" -type f | wc -l; }
sent_n() { ls "$SENT_CUR" 2>/dev/null | grep -c ':2,S$'; }
e2t_check "3 sent, 1 kept (json)" json \
	"d['sent'] == 3 and d['send_failed'] == 1 and d['status'] == 'einval'"
e2t_check "the error names the reason" json \
	"'no recipient' in d['error'] and '1 message kept' in d['error']"
e2t_check "3 filed into the local Sent with S" test "$(sent_n)" = 3
e2t_check "the same run uploaded them to the server's Sent, \\Seen" test \
	"$(e2t_doveadm search -u "$E2T_USER" mailbox Sent SEEN | wc -l) $(e2t_doveadm search -u "$E2T_USER" mailbox Sent ALL | wc -l)" = "3 3"
e2t_check "1 left in the queue" test "$(outbox_n)" = 1
e2t_check "the one left is 'nobody'" grep -rq '^Subject: nobody' "$OUT/cur"

# sink_check EXPR: EXPR over m (the sink) and s (.Sent/cur), each a dict
# subject -> [email.message with .raw]
sink_check() {
	"$E2T_PY" - "$E2T_SINK_DIR" "$SENT_CUR" "$1" <<'PY'
import email, email.header, email.policy, os, re, sys
sink, sent, expr = sys.argv[1], sys.argv[2], sys.argv[3]
def load(d):
    out = {}
    if not os.path.isdir(d):
        return out
    subs = [os.path.join(d, s) for s in ("new", "cur")]
    for p in [s for s in subs if os.path.isdir(s)] or [d]:
        for f in sorted(os.listdir(p)):
            raw = open(os.path.join(p, f), "rb").read()
            msg = email.message_from_bytes(raw)
            msg.raw = raw
            out.setdefault(msg["Subject"], []).append(msg)
    return out
m = load(sink)
s = load(sent)
def rcpt(x):
    return sorted(a.strip() for a in x[0]["X-RcptTo"].split(","))
def dec(v):
    return str(email.header.make_header(email.header.decode_header(v)))
ok = eval(expr)
if not ok:
    print("assertion failed:", expr)
    for k, v in m.items():
        print("sink", k, len(v), v[0].raw[:600])
sys.exit(0 if ok else 1)
PY
}
e2t_check "each arrived once" sink_check \
	"sorted(m) == ['bare', 'blind', 'full'] and all(len(v) == 1 for v in m.values())"
e2t_check "envelope sender is REPLYADDR" sink_check \
	"all(v[0]['X-MailFrom'] == '$FROM_ADDR' for v in m.values())"
e2t_check "RCPT: To, Cc, group members and Bcc" sink_check \
	"rcpt(m['full']) == sorted(['jane@example.org', 'bob@example.org', 'carol@example.org', 'dan@example.org', 'hidden1@example.net', 'hidden2@example.net'])"
e2t_check "Bcc-only message reaches the Bcc recipient" sink_check \
	"rcpt(m['blind']) == ['secret@example.net']"
e2t_check "no Bcc header in what was transmitted" sink_check \
	"all(b'Bcc' not in v[0].raw and b'hidden' not in v[0].raw.split(b'X-RcptTo')[0] for v in m.values())"
e2t_check "the Sent copies keep their Bcc" sink_check \
	"s['full'][0]['Bcc'] is not None and s['blind'][0]['Bcc'] == 'secret@example.net'"
e2t_check "lines starting with a dot arrive intact" sink_check \
	"b'\n.leading dot\n.\n..two dots\nlast line' in m['full'][0].raw.replace(b'\r\n', b'\n')"
e2t_check "existing From, Date, Message-ID kept" sink_check \
	"m['full'][0]['Message-ID'] == '<full.1@email2.test>' and m['full'][0]['Date'] == 'Tue, 14 Jan 2025 10:00:00 +0000' and m['full'][0]['From'] == 'Me <$FROM_ADDR>'"
e2t_check "From: NAME <REPLYADDR> added (RFC 2047)" sink_check \
	"dec(m['bare'][0]['From']) == '$NAME <$FROM_ADDR>' and '=?UTF-8?B?' in m['bare'][0]['From']"
e2t_check "Date and Message-ID added (REPLYADDR domain)" sink_check \
	"m['bare'][0]['Date'] is not None and m['bare'][0]['Message-ID'].endswith('@email2.test>')"
e2t_check "the Sent copy has the transmitted Message-ID" sink_check \
	"s['bare'][0]['Message-ID'] == m['bare'][0]['Message-ID'] and s['bare'][0]['From'] == m['bare'][0]['From']"
e2t_check "the Sent copies' S= is their size" "$E2T_PY" -c '
import os, re, sys
d = sys.argv[1]
for f in os.listdir(d):
    m = re.search(r",S=(\d+)", f)
    if not m or int(m.group(1)) != os.path.getsize(os.path.join(d, f)):
        sys.exit("%s: size %d" % (f, os.path.getsize(os.path.join(d, f))))
' "$SENT_CUR"
# issue 8: a message that can never be sent as it is fails at once
e2t_check "the kept message has its reason, failed at once" "$E2T_PY" -c '
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT attempts, last_error, state FROM outbox_queue").fetchall()
assert len(rows) == 1 and rows[0][0] == 1 and "no recipient" in rows[0][1] and rows[0][2] == 2, rows
' "$STORE/accounts.db"
submission_login() {
	sleep 0.2 # login processes log asynchronously
	e2t_log_since | grep -E "submission-login: .*Login: user=<$E2T_USER>.*, TLS"
}
e2t_check "submission saw an authenticated TLS login" submission_login

# ---- a refused recipient: a scripted server that refuses refuse@... ----
cat >"$E2T_DIR/refuse_smtp.py" <<'PY'
import os, socketserver, sys
addr, port, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        out = open(log, "a")
        w = lambda s: (self.wfile.write(s.encode() + b"\r\n"), self.wfile.flush())
        w("220 refuse.test ESMTP")
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            out.write(cmd + "\n"); out.flush()
            u = cmd.upper()
            if u.startswith("EHLO"):
                # the flag file takes 8BITMIME away (8-bit stays queued)
                w("250-refuse.test")
                w("250 HELP" if os.path.exists(log + ".no8bit") else "250 8BITMIME")
            elif u.startswith("HELO") or u.startswith("MAIL") or u.startswith("RSET"):
                w("250 ok")
            elif u.startswith("RCPT"):
                # tempfail@: 450 until the flag file .accept exists
                if "tempfail@" in cmd and not os.path.exists(log + ".accept"):
                    w("450 4.2.0 try again later")
                else:
                    w("550 5.1.1 no such user" if "refuse@" in cmd else "250 ok")
            elif u.startswith("DATA"):
                w("354 go on")
                while self.rfile.readline(65536) not in (b".\r\n", b""):
                    pass
                out.write("<message>\n"); out.flush()
                w("250 queued")
            elif u.startswith("QUIT"):
                w("221 bye"); return
            else:
                w("500 what")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
s = S((addr, port), H)
open(ready, "w").close()
s.serve_forever()
PY
: >"$E2T_DIR/refuse.log"
e2t_spawn "$E2T_DIR/log/refuse.log" "$E2T_PY" "$E2T_DIR/refuse_smtp.py" \
	"$E2T_ADDR_HOSTILE" "$E2T_SPARE_PORT" "$E2T_DIR/refuse.log" \
	"$E2T_DIR/refuse.ready"
timeout 10 bash -c "until [ -e '$E2T_DIR/refuse.ready' ]; do sleep 0.05; done" ||
	e2t_fatal "the refusing SMTP server did not start"

reprovision_out() { # OUTSERVER: plain, no AUTH
	sync_provision IMAP4 "$E2T_IMAPS_PORT" NAME="$NAME" AUTHREQUIRED=0
	sed -i "s|name=\"OUTSERVER\" value=\"[^\"]*\"|name=\"OUTSERVER\" value=\"$1\"|" \
		"$E2T_DIR/acct.xml"
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null
}
reprovision_out "$E2T_HOST_HOSTILE:$E2T_SPARE_PORT"
queue <<EOF
From: $FROM_ADDR
To: ok1@example.org, refuse@example.org
Subject: refused

to nobody
EOF
queue <<EOF
From: $FROM_ADDR
To: ok2@example.org
Subject: fine

to ok2
EOF
sync_once
# issue 8: the failed 'nobody' is not tried again
e2t_check "refused RCPT: 1 sent, 1 kept" json \
	"d['sent'] == 1 and d['send_failed'] == 1 and '1 message kept' in d['error']"
e2t_check "nobody got the refused message (one DATA)" \
	test "$(grep -c '^<message>' "$E2T_DIR/refuse.log")" = 1
e2t_check "RSET after the refusal" grep -q '^RSET' "$E2T_DIR/refuse.log"
e2t_check "the refusal is recorded" "$E2T_PY" -c '
import sqlite3, sys
rows = dict(sqlite3.connect(sys.argv[1]).execute(
    "SELECT last_error, attempts FROM outbox_queue").fetchall())
assert any("recipient <refuse@example.org> refused: 550 5.1.1 no such user"
           in e for e in rows), rows
assert sorted(rows.values()) == [1, 1], rows
' "$STORE/accounts.db"
e2t_check "2 left in the queue, 4 in .Sent" test "$(outbox_n) $(sent_n)" = "2 4"

# ---- a connection failure keeps everything queued ----
reprovision_out "$E2T_HOST_HOSTILE:$((E2T_SPARE_PORT + 1))"
queue <<EOF
From: $FROM_ADDR
To: later@example.org
Subject: later

later
EOF
sync_once
e2t_check "connection failure: 0 sent, 1 kept (2 failed)" json \
	"d['sent'] == 0 and d['send_failed'] == 1 and d['status'] == 'econnect'"
e2t_check "every message still queued" test "$(outbox_n) $(sent_n)" = "3 4"
e2t_check "no secret in the output" bash -c \
	"! grep -rqF -- '$E2T_PASS' '$E2T_DIR/sync.json' '$E2T_DIR/sync.err'"
# last, as it adds an attempt to every queued message
summary_line() {
	e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" \
		>"$E2T_DIR/summary.out" 2>&1
	grep -Eq ': [a-z]+, 0 messages, 0.0 MB, 0 sent, [1-9][0-9]* kept queued, ' \
		"$E2T_DIR/summary.out"
}
e2t_check "the summary line says what stayed queued" summary_line

# ---- what is sent is what was scanned: Bcc in every spelling, 8-bit, NUL
rm -f "$OUT"/new/* "$OUT"/cur/* # what the sections above left queued
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 NAME="$NAME"
queue < <(printf 'From: %s\rTo: jane@example.org\rBcc: hidden-cr@example.net\rSubject: bcc-cr\r\rafter a bare CR\r' "$FROM_ADDR")
queue < <(printf 'From: %s\r\nTo: jane@example.org\r\nBCC : hidden-case@example.net\r\nSubject: bcc-case\r\n\r\nupper case, space before the colon\r\n' "$FROM_ADDR")
queue < <(printf 'From: %s\nTo: jane@example.org\nBcc\n : hidden-fold@example.net,\n\thidden-fold2@example.net\nSubject: bcc-fold\n\nfolded before the colon\n' "$FROM_ADDR")
queue < <(printf 'From: %s\nbcc:\thidden-low@example.net\nTo: jane@example.org\rSubject: bcc-low\r\n\nmixed line ends\n' "$FROM_ADDR")
queue < <(printf 'From: %s\nTo: jane@example.org\nSubject: eight\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe\n' "$FROM_ADDR")
queue < <(printf 'From: %s\nTo: jane@example.org\nSubject: nul\n\nbefore\0after\n' "$FROM_ADDR")
sync_once
e2t_check "spellings and 8-bit sent, the NUL message kept" json \
	"d['sent'] == 5 and d['send_failed'] == 1 and 'NUL byte' in d['error']"
for sub in bcc-cr bcc-case bcc-fold bcc-low; do
	e2t_check "$sub: no Bcc and no hidden address in what was delivered" \
		sink_check "len(m['$sub']) == 1 and not re.search(rb'(?im)^[ \\t]*bcc[ \\t]*:', m['$sub'][0].raw) and b'hidden' not in re.sub(rb'(?m)^X-RcptTo:.*$', b'', m['$sub'][0].raw)"
done
e2t_check "each Bcc recipient still got the message" sink_check \
	"'hidden-cr@example.net' in rcpt(m['bcc-cr']) and 'hidden-case@example.net' in rcpt(m['bcc-case']) and {'hidden-fold@example.net', 'hidden-fold2@example.net'} <= set(rcpt(m['bcc-fold'])) and 'hidden-low@example.net' in rcpt(m['bcc-low'])"
e2t_check "the 8-bit body arrives intact" sink_check \
	"'Grüße'.encode() in m['eight'][0].raw"
e2t_check "the NUL message stays queued with its reason" "$E2T_PY" -c '
import os, sqlite3, sys
rows = [r[0] for r in sqlite3.connect(sys.argv[1]).execute(
    "SELECT last_error FROM outbox_queue")]
assert any("NUL byte at offset" in e for e in rows), rows
q = [f for s in ("new", "cur") for f in os.listdir(os.path.join(sys.argv[2], s))]
assert len(q) == 1, q
' "$STORE/accounts.db" "$OUT"

# BODY=8BITMIME on the wire (the scripted server logs every command)
reprovision_out "$E2T_HOST_HOSTILE:$E2T_SPARE_PORT"
queue < <(printf 'From: %s\nTo: ok8@example.org\nSubject: eight-2\n\n\xc3\xa9t\xc3\xa9\n' "$FROM_ADDR")
sync_once
e2t_check "8BITMIME offered: sent with BODY=8BITMIME" \
	grep -q "^MAIL FROM:<$FROM_ADDR> BODY=8BITMIME" "$E2T_DIR/refuse.log"
e2t_check "8-bit sent, the failed NUL message not tried" json \
	"d['sent'] == 1 and d['send_failed'] == 0"
touch "$E2T_DIR/refuse.log.no8bit"
mails_before=$(grep -c '^MAIL' "$E2T_DIR/refuse.log")
queue < <(printf 'From: %s\nTo: ok8@example.org\nSubject: eight-3\n\n\xc3\xa9t\xc3\xa9\n' "$FROM_ADDR")
sync_once
e2t_check "no 8BITMIME: the 8-bit message stays queued" json \
	"d['sent'] == 0 and d['send_failed'] == 1"
e2t_check "no 8BITMIME: its reason names 8BITMIME" "$E2T_PY" -c '
import sqlite3, sys
rows = [r[0] for r in sqlite3.connect(sys.argv[1]).execute(
    "SELECT last_error FROM outbox_queue")]
assert any("does not offer 8BITMIME" in e for e in rows), rows
' "$STORE/accounts.db"
e2t_check "no 8BITMIME: no MAIL command for it" \
	test "$(grep -c '^MAIL' "$E2T_DIR/refuse.log")" = "$mails_before"
rm -f "$E2T_DIR/refuse.log.no8bit" "$OUT"/new/* "$OUT"/cur/*

# ---- a server folder named Outbox is an ordinary folder, never sent ----
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 NAME="$NAME"
e2t_doveadm mailbox create -u "$E2T_USER" Outbox ||
	e2t_fatal "cannot create the server folder Outbox"
printf 'From: attacker@example.com\nTo: victim@example.org\nSubject: server-outbox\n\nsend me with your login\n' \
	>"$E2T_DIR/server-outbox.eml"
e2t_doveadm save -u "$E2T_USER" -m Outbox <"$E2T_DIR/server-outbox.eml" ||
	e2t_fatal "cannot put a message into the server's Outbox"
sync_once
cp "$E2T_DIR/sync.json" "$E2T_DIR/sync1.json"
sync_once
e2t_check "server Outbox synced into .Outbox" \
	grep -rqs '^Subject: server-outbox' "$MD/.Outbox/new" "$MD/.Outbox/cur"
e2t_check "first sync: nothing sent" e2t_json "$E2T_DIR/sync1.json" \
	"d['sent'] == 0 and d['send_failed'] == 0 and d['status'] == 'ok'"
e2t_check "second sync: nothing sent" json \
	"d['sent'] == 0 and d['send_failed'] == 0 and d['status'] == 'ok'"
e2t_check "the sink never saw the server's message" sink_check \
	"'server-outbox' not in m"
e2t_check "the queue does not hold it" \
	test "$(outbox_n)" = 0

# ---- the queue of older versions, mail/{GUID}/.Outbox: one migration ----
rm -f "$OUT/email2-legacy-outbox-checked" # as before the first new run
legacy() { # NAME SUBJECT: an untagged file in the old queue
	printf 'From: %s\nTo: %s@example.org\nSubject: %s\n\nqueued by an older version\n' \
		"$FROM_ADDR" "$2" "$2" >"$MD/.Outbox/new/$1"
}
legacy 1700000100.M1P1Q1.old,S=80 legacy-user
legacy 1700000100.M2P1Q2.old,S=80,U=77-V1 legacy-tagged
sync_once
e2t_check "legacy: 1 migrated, the synced ones kept (json)" json \
	"d['outbox_migrated'] == 1 and d['outbox_legacy_kept'] == 2 and d['sent'] == 1"
e2t_check "legacy: the user's message was sent" sink_check \
	"len(m.get('legacy-user', [])) == 1"
e2t_check "legacy: the tagged and the server's message were not" sink_check \
	"'legacy-tagged' not in m and 'server-outbox' not in m"
e2t_check "legacy: both stay in .Outbox" test \
	"$(find "$MD/.Outbox/new" "$MD/.Outbox/cur" -type f | wc -l)" = 2
legacy 1700000100.M3P1Q3.old,S=80 legacy-late
sync_once
e2t_check "legacy: migration happens once" json \
	"d['outbox_migrated'] == 0 and d['sent'] == 0"
e2t_check "legacy: a later file in .Outbox is not sent" sink_check \
	"'legacy-late' not in m"

# ---- 8128000B=1, 812C000B absent, the SMTP login uses the incoming
# password: the outgoing side requires TLS too (plain-only listener) ----
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 NAME="$NAME"
sed -i "s|name=\"OUTSERVER\" value=\"[^\"]*\"|name=\"OUTSERVER\" value=\"$E2T_HOST:$E2T_SUBMISSION_NOTLS_PORT\"|;
s|^\(      <parm name=\"SYNCINGCONTENTTYPES\".*\)$|\1\n      <characteristic type=\"TAGPROPS\"><parm name=\"8128000B\" value=\"1\"/></characteristic>|" \
	"$E2T_DIR/acct.xml"
"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null ||
	e2t_fatal "provisioning TAGPROPS/8128000B failed"
queue <<EOF
From: $FROM_ADDR
To: plain@example.org
Subject: plain-only

not over cleartext
EOF
e2t_log_mark
sync_once
e2t_check "8128000B covers the shared SMTP login: nothing sent" json \
	"d['sent'] == 0 and d['send_failed'] >= 1 and '8128000B' in d['error']"
e2t_check "the plain-only message stays queued" \
	grep -rqs '^Subject: plain-only' "$OUT/new" "$OUT/cur"
e2t_run "$E2T_CONNTEST" --store "$STORE" --cafile "$E2T_CA" --json "$GUID" \
	>"$E2T_DIR/ct.json" 2>"$E2T_DIR/ct.err"
ct_rc=$?
e2t_check "conntest refuses the outgoing side (policy, exit 1)" \
	test "$ct_rc" = 1
e2t_check "conntest: outgoing TLS required, no cleartext login" \
	e2t_json "$E2T_DIR/ct.json" \
	"d['out']['tls_required'] and not d['out']['ok'] and not any(a.get('cleartext_login') for a in d['out']['attempts'])"
no_plain_auth() {
	sleep 0.2 # login processes log asynchronously
	local l
	l=$(e2t_log_since | grep -E 'submission-login(-[a-z]+)?: ')
	[ -n "$l" ] || return 1 # the listener was reached
	! printf '%s\n' "$l" | grep -v 'no auth attempts'
}
e2t_check "no AUTH reached the plain-only submission listener" no_plain_auth
e2t_check "no cleartext login at all" e2t_no_cleartext_login "$E2T_USER"

# ---- issue 8: claims by unique id, Sent staging, retries, email2-outbox ----
OUTBOX_TOOL=$(e2t_find_tool email2-outbox) || e2t_fatal "email2-outbox not built"
ob() { "$OUTBOX_TOOL" --store "$STORE" "$@"; }
# obq EXPR: EXPR over l, `email2-outbox list --json` (a list of dicts)
obq() {
	ob list --json >"$E2T_DIR/ob.json" || return 1
	"$E2T_PY" -c '
import json, sys
l = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("assertion failed:", sys.argv[2], l)
sys.exit(0 if ok else 1)' "$E2T_DIR/ob.json" "$1"
}
# put NAME SUBJECT [TO]: a file written into new/ under a name the user chose
put() {
	printf 'From: %s\nTo: %s\nSubject: %s\n\nbody of %s\n' "$FROM_ADDR" \
		"${3:-jane@example.org}" "$2" "$2" >"$OUT/tmp/$1" &&
		mv "$OUT/tmp/$1" "$OUT/new/$1"
}
rm -f "$OUT"/new/* "$OUT"/cur/*
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 NAME="$NAME"
sync_once # the rows of the files removed above go

# R-send-1: a reused file name is a new message, sent once, not suppressed
put msg1.eml reuse-1
sync_once
put msg1.eml reuse-2
sync_once
e2t_check "reused name: the second file is sent" json \
	"d['sent'] == 1 and d['send_failed'] == 0 and d['status'] == 'ok'"
sync_once
e2t_check "reused name: each file arrived exactly once" sink_check \
	"len(m['reuse-1']) == 1 and len(m['reuse-2']) == 1"
e2t_check "reused name: filed under two unique ids with S" test \
	"$(cd "$SENT_CUR" && grep -l -e '^Subject: reuse-[12]$' -- *.e2q,S=*:2,S | wc -l)" = 2
e2t_check "reused name: nothing left queued" test "$(outbox_n)" = 0
e2t_check "the Sent staging Maildir is 0700" test \
	"$(stat -c %a "$OUT/.Sent" "$OUT/.Sent/cur" "$OUT/.Sent/new" "$OUT/.Sent/tmp" | sort -u)" = 700
e2t_check "--once writes no pid file (daemon mode only)" \
	test ! -e "$STORE/email2-syncd.pid"

# R-send-2: a message an older version sent (its sync_outbox row carries
# the sent marker) is moved to Sent, not sent again
put legacy-sent.eml legacy-sent
"$E2T_PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO sync_outbox (guid, file, attempts, last_error,"
           " last_attempt) VALUES (?, ?, 1, ?, 0)",
           (sys.argv[2], "legacy-sent.eml",
            "sent; not yet moved to .Sent: rename failed"))
db.commit()' "$STORE/accounts.db" "$GUID"
sync_once
e2t_check "old sent marker: not sent again" sink_check "'legacy-sent' not in m"
e2t_check "old sent marker: filed into Sent" \
	grep -rqs '^Subject: legacy-sent' "$SENT_CUR"
e2t_check "old sent marker: no old row left" "$E2T_PY" -c '
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM sync_outbox").fetchone()[0]
assert n == 0, n' "$STORE/accounts.db"

# R-send-3: sent, but the Sent move fails: the row says "sent"; a flag
# change (mutt renaming cur/<id>:2, to :2,S) keeps its identity, and the
# message is never sent again; the move happens once it can
mv "$OUT/.Sent" "$OUT/.Sent.save" && : >"$OUT/.Sent"
put blocked.eml sent-once
put blocked2.eml sent-once-2
sync_once
e2t_check "Sent move blocked: both sent, the error says so" json \
	"d['sent'] == 2 and 'Sent' in d['error'] and '2 messages kept' in d['error']"
e2t_check "Sent move blocked: listed as sent" obq \
	"len(l) == 2 and all(x['state'] == 'sent' for x in l) and sorted(x['subject'] for x in l) == ['sent-once', 'sent-once-2']"
for f in "$OUT"/cur/*; do mv "$f" "${f%:2,*}:2,S"; done
sync_once
rm -f "$OUT/.Sent" && mv "$OUT/.Sent.save" "$OUT/.Sent"
sync_once
e2t_check "Sent move blocked: each sent exactly once" sink_check \
	"len(m['sent-once']) == 1 and len(m['sent-once-2']) == 1"
e2t_check "Sent move blocked: moved afterwards, queue empty" test \
	"$(outbox_n) $(grep -rlE '^Subject: sent-once(-2)?$' "$SENT_CUR" | wc -l)" = "0 2"

# R-send-4: a 4xx backs off; the next run inside the delay does not try
reprovision_out "$E2T_HOST_HOSTILE:$E2T_SPARE_PORT"
tf_tries() { grep -c '^RCPT TO:<tempfail@example.org>' "$E2T_DIR/refuse.log"; }
put tf.eml tempfail tempfail@example.org
sync_once
e2t_check "4xx: kept queued after one try" test "$(tf_tries)" = 1
e2t_check "4xx: attempt 1, next in 60 s, reason kept" obq \
	"len(l) == 1 and l[0]['state'] == 'queued' and l[0]['attempts'] == 1 and l[0]['next_attempt'] - l[0]['last_attempt'] == 60 and '450 4.2.0' in l[0]['last_error']"
sync_once
e2t_check "backoff: the run inside the delay does not try" test "$(tf_tries)" = 1
e2t_check "backoff: that run is ok, nothing sent or failed" json \
	"d['sent'] == 0 and d['send_failed'] == 0 and d['status'] == 'ok'"
due_now() {
	"$E2T_PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE outbox_queue SET next_attempt = 0")
db.commit()' "$STORE/accounts.db"
}
delays=$("$E2T_PY" -c '
import json, sys
l = json.load(open(sys.argv[1]))
print(l[0]["next_attempt"] - l[0]["last_attempt"])' "$E2T_DIR/ob.json")
for i in 2 3 4 5 6 7 8 9 10; do
	due_now
	sync_once
	ob list --json >"$E2T_DIR/ob.json"
	delays+=" $("$E2T_PY" -c '
import json, sys
l = json.load(open(sys.argv[1]))
print(l[0]["next_attempt"] - l[0]["last_attempt"])' "$E2T_DIR/ob.json")"
done
e2t_check "backoff schedule 1, 5, 15, 60, 60... minutes" test \
	"$delays" = "60 300 900 3600 3600 3600 3600 3600 3600 3600"
e2t_check "10 attempts: failed, with its reason" obq \
	"l[0]['state'] == 'failed' and l[0]['attempts'] == 10 and '450' in l[0]['last_error']"
due_now
sync_once
e2t_check "failed: never tried again" test "$(tf_tries)" = 10
tf_id=$("$E2T_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$E2T_DIR/ob.json")
e2t_check "list (text) shows id, state and reason" bash -c \
	"'$OUTBOX_TOOL' --store '$STORE' list | grep -q '^$tf_id  $GUID  failed  attempts 10' && '$OUTBOX_TOOL' --store '$STORE' list | grep -q 'last error: .*450'"
e2t_check "retry ID: exit 0" ob retry "$tf_id"
e2t_check "retry: queued again, attempts reset, due" obq \
	"l[0]['state'] == 'queued' and l[0]['attempts'] == 0 and l[0]['next_attempt'] == 0"
touch "$E2T_DIR/refuse.log.accept"
sync_once
e2t_check "retry: the next sync sends it" json "d['sent'] == 1"
e2t_check "retry: one more try, queue empty" test "$(tf_tries) $(outbox_n)" = "11 0"
rm -f "$E2T_DIR/refuse.log.accept"
put drop.eml dropme tempfail@example.org
sync_once
drop_id=$(ob list --json | "$E2T_PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
e2t_check "show ID prints the queued message" bash -c \
	"'$OUTBOX_TOOL' --store '$STORE' show '$drop_id' | grep -q '^Subject: dropme'"
e2t_check "drop ID: exit 0" ob drop "$drop_id"
e2t_check "drop: file and row gone" obq "l == []"
e2t_check "drop: queue empty" test "$(outbox_n)" = 0
due_now
sync_once
e2t_check "drop: never sent" test "$(tf_tries)" = 12
# a queued (not yet sent) file the user renames to another name is a new
# message: sent once, the old claim forgotten, never twice
put ren.eml renamed tempfail@example.org
sync_once
data_before=$(grep -c '^<message>' "$E2T_DIR/refuse.log")
f=$(ls "$OUT/cur")
mv "$OUT/cur/$f" "$OUT/new/renamed-by-user.eml"
touch "$E2T_DIR/refuse.log.accept"
sync_once
sync_once
e2t_check "renamed queued file: sent once, nothing left" test \
	"$(($(grep -c '^<message>' "$E2T_DIR/refuse.log") - data_before)) $(tf_tries) $(outbox_n)" = "1 14 0"
rm -f "$E2T_DIR/refuse.log.accept"
ob drop "$drop_id" 2>/dev/null
e2t_check "drop of an unknown id: exit 1" test $? = 1
ob retry nosuch.e2q 2>/dev/null
e2t_check "retry of an unknown id: exit 1" test $? = 1
ob drop 'new/../x' 2>/dev/null
e2t_check "a path is not an id: exit 1" test $? = 1
ob frobnicate 2>/dev/null
e2t_check "unknown command: exit 2 (usage)" test $? = 2
e2t_check "--help and --version: exit 0" bash -c \
	"'$OUTBOX_TOOL' --help | grep -q Usage: && '$OUTBOX_TOOL' --version | grep -q email2"

# R-send-5: a POP3 account has no server folders: the sent copy goes to
# the local .Sent, under its unique name
GUID='{5E0D5E0D-4444-4A2B-8C3D-000000000005}' # SERVICETYPE is fixed
MD=$STORE/mail/$GUID OUT=$STORE/outbox/$GUID
sync_provision POP3 "$E2T_POP3S_PORT" AUTHREQUIRED=1 NAME="$NAME"
(umask 077 && mkdir -p "$OUT/new" "$OUT/cur" "$OUT/tmp")
put pop.eml pop3-sent
sync_once
e2t_check "POP3: sent" sink_check "len(m['pop3-sent']) == 1"
e2t_check "POP3: the copy is in the local .Sent with S, unique name" test \
	"$(cd "$MD/.Sent/cur" && grep -l '^Subject: pop3-sent' -- *.e2q,S=*:2,S | wc -l)" = 1

e2t_finish
