#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-fetch-full.sh -- email2-syncd --fetch-full against the harness
# Dovecot: a message stored partial (RETRIEVE, IMAP4 and POP3) or with its
# attachment left on the server (KEEPMAX) is replaced by the whole message,
# byte for byte, flags kept, no duplicate; the next sync fetches nothing;
# the copies an interrupted fetch-full leaves are removed by the next sync;
# a complete message is refused.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
. "$E2T_SRCDIR/harness/neomutt.sh"
sync_setup '{5A1E0C2D-4444-4A2B-8C3D-000000000004}'
COMPARE=$E2T_SRCDIR/sync-compare.py

# imap append MAILBOX FILE: APPEND over implicit TLS (python imaplib)
imap() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" "$E2T_PASSFILE" \
		"$E2T_CA" "$@" <<'PY'
import imaplib, ssl, sys
host, port, user, passfile, ca, op, box, path = sys.argv[1:9]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
data = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
typ, _ = m.append(box, None, None, data)
m.logout()
sys.exit(0 if typ == "OK" else 1)
PY
}

# msg FILE SUBJECT BODY_BYTES: a plain text message
msg() {
	"$E2T_PY" - "$@" <<'PY'
import sys
path, subject, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines, n = [], 0
while sum(len(x) + 2 for x in lines) < size:
    lines.append("%s body line %06d %s" % (subject, n, "x" * 40))
    n += 1
with open(path, "w") as f:
    f.write("From: a@example.org\nTo: u@email2.test\nSubject: %s\n"
            "Message-ID: <%s@example.org>\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n" % (subject, subject))
    f.write("\n".join(lines) + "\n")
PY
}

# mkatt FILE SUBJECT: text + a 300 KB base64 attachment
mkatt() {
	"$E2T_PY" - "$@" <<'PY'
import sys, random
from email.message import EmailMessage
from email import policy
path, subject = sys.argv[1:3]
m = EmailMessage()
m["From"] = "a@example.org"
m["To"] = "u@email2.test"
m["Subject"] = subject
m["Message-ID"] = "<%s@example.org>" % subject
m.set_content("Hello,\n\nthe report is attached.\n")
m.add_attachment(random.Random(4).randbytes(300 * 1024),
                 maintype="application", subtype="pdf", filename="r.pdf")
open(path, "wb").write(m.as_bytes(policy=policy.SMTP))
PY
}

# file_of SUBJECT [DIR]: the local file of the message (first match)
file_of() {
	grep -l "^Subject: $1.\?$" "${2:-$MD}"/new/* "${2:-$MD}"/cur/* \
		2>/dev/null | head -n1
}
# copies SUBJECT [DIR]: how many local files hold the message
copies() {
	grep -l "^Subject: $1.\?$" "${2:-$MD}"/new/* "${2:-$MD}"/cur/* \
		2>/dev/null | wc -l
}

# row SUBJECT COLUMN [DIR]: the sync_messages column of the message's row
row() {
	local f uniq
	f=$(file_of "$1" "${3:-$MD}") || return 1
	uniq=$(basename "${f%%:2,*}")
	"$E2T_PY" - "$STORE/accounts.db" "$uniq" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
r = db.execute("SELECT %s FROM sync_messages WHERE local_name = ?" %
               sys.argv[3], (sys.argv[2],)).fetchone()
print("" if r is None else r[0])
PY
}

compare() { # [FOLDER...]
	"$E2T_PY" "$COMPARE" "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
		"$E2T_PASSFILE" "$E2T_CA" "$MD" "$@"
}

not() { ! "$@"; }
# one SUBJECT [DIR]: exactly one local file holds the message
one() { test "$(copies "$@")" = 1; }
# whole SUBJECT [DIR]: the message's file has no partial or omitted mark
whole() { not grep -Eq '^X-Email2-(Partial|Omitted-Part)' "$(file_of "$@")"; }

# fetch_full ARGS...: email2-syncd --fetch-full; stderr in fetch.err
fetch_full() {
	e2t_run "$SYNCD" --store "$STORE" --cafile "$E2T_CA" \
		--fetch-full "$@" >"$E2T_DIR/fetch.out" 2>"$E2T_DIR/fetch.err"
}
# wrote FILE: fetch.out names FILE (issue 9: "stored in PATH")
wrote() {
	local p
	p=$(sed -n 's/.*: the whole message is stored in //p' "$E2T_DIR/fetch.out")
	test -n "$p" -a -e "$p" && test "$(realpath "$p")" = "$(realpath "$1")"
}
# partial_check truncated|omitted FILE ARGS...: partial-check.py
partial_check() { "$E2T_PY" "$E2T_SRCDIR/partial-check.py" "$@"; }
# mutt_shows FILE TEXT: neomutt, with "ignore *", shows TEXT in the message
# FILE (a copy of it: reading it must not change the synced Maildir). What
# the pager shows is what <pipe-message> gives with pipe_decode (headers
# weeded by ignore, parts decoded).
mutt_shows() {
	local d=$E2T_DIR/mutt-md
	rm -rf "$d" && mkdir -p "$d/cur" "$d/new" "$d/tmp" &&
		cp "$1" "$d/cur/" || return 1
	MUTT_EXTRA='ignore *
set pipe_decode=yes wait_key=no' mutt_keys "$d" \
		"<pipe-message>cat >$E2T_DIR/mutt-shown<enter><quit>" &&
		cat "$E2T_DIR/mutt-shown" && grep -q "$2" "$E2T_DIR/mutt-shown"
}

# fails_with CODE TEXT ARGS...: exit status CODE and TEXT on stderr
fails_with() {
	local want=$1 text=$2 rc=0
	shift 2
	fetch_full "$@" || rc=$?
	test "$rc" = "$want" && grep -q "$text" "$E2T_DIR/fetch.err"
}

msg "$E2T_DIR/small.eml" small 600 && imap append INBOX "$E2T_DIR/small.eml" ||
	e2t_fatal "cannot append small"
msg "$E2T_DIR/big.eml" big 200000 && imap append INBOX "$E2T_DIR/big.eml" ||
	e2t_fatal "cannot append big"
# its size on the server (appended with CRLF line ends)
sed 's/$/\r/' "$E2T_DIR/big.eml" >"$E2T_DIR/big.eml.crlf"
e2t_doveadm mailbox create -u "$E2T_USER" Work || e2t_fatal "mailbox create"
mkatt "$E2T_DIR/att.eml" attach && imap append Work "$E2T_DIR/att.eml" ||
	e2t_fatal "cannot append attach"

# ---- IMAP4: RETRIEVE (INBOX) and KEEPMAX (Work)
e2t_check "IMAP: provision with RETRIEVE 20480, KEEPMAX 25" \
	sync_provision IMAP4 "$E2T_IMAPS_PORT" RETRIEVE=20480 KEEPMAX=25
e2t_check "IMAP: first sync" sync_once
e2t_check "IMAP: big partial, attach omitted" \
	test "$(row big partial)$(row attach omitted "$MD/.Work")" = 11
e2t_check "IMAP: the Maildir differs from the server before" \
	not compare

# issue 9: what a client shows before --fetch-full
f=$(file_of big)
e2t_check "IMAP: issue 9: big ends with a note: its full size, --fetch-full" \
	partial_check truncated "$f" "$(stat -c %s "$E2T_DIR/big.eml.crlf")"
e2t_check "IMAP: issue 9: attach lists r.pdf as external-body, size=307200" \
	partial_check omitted "$(file_of attach "$MD/.Work")" r.pdf 307200
if mutt_usable; then
	e2t_check "IMAP: issue 9: neomutt with 'ignore *' shows the note" \
		mutt_shows "$f" "This message is incomplete"
else
	e2t_check_skip "IMAP: issue 9: neomutt shows the note" "$MUTT_WHY"
fi

# S and F set locally before fetching: kept on the new file, pushed later
f=$(file_of big)
old_big=$E2T_DIR/big-partial
cp -p "$f" "$old_big"
old_big_name=$(basename "${f%%:2,*}")
mv "$f" "$MD/cur/$old_big_name:2,FS"
# while a sync holds the account's lock: ebusy at once, the file untouched
locked_fetch() {
	flock -x "$STORE/locks/$GUID.lock" bash -c "$(declare -f e2t_run fetch_full \
		fails_with); $(declare -p SYNCD STORE E2T_CA E2T_DIR E2T_HOSTS \
		E2T_RUN_HOW); fails_with 1 'another sync is running' '$1'" &&
		test -e "$1"
}
e2t_check "IMAP: --fetch-full while a sync runs: ebusy, nothing changed" \
	locked_fetch "$MD/cur/$old_big_name:2,FS"
e2t_check "IMAP: --fetch-full by path exits 0" \
	fetch_full "$MD/cur/$old_big_name:2,FS"
f=$(file_of big)
e2t_check "IMAP: issue 9: --fetch-full names the file it wrote" wrote "$f"
e2t_check "IMAP: one file of big" test "$(copies big)" = 1
e2t_check "IMAP: no X-Email2-Partial any more" \
	whole big
e2t_check "IMAP: the whole message (over 200 KB)" \
	test "$(stat -c %s "$f")" -gt 200000
e2t_check "IMAP: local flags F S kept" test "${f##*:2,}" = FS
e2t_check "IMAP: the old partial file is gone" \
	test ! -e "$MD/cur/$old_big_name:2,FS"
e2t_check "IMAP: not partial in the store" test "$(row big partial)" = 0
e2t_check "IMAP: size recorded" test "$(row big size)" = "$(stat -c %s "$f")"
e2t_check "IMAP: the row still has the last synced flags" \
	test "$(row big flags)" = ""

a=$(file_of attach "$MD/.Work")
e2t_check "IMAP: --fetch-full by bare name (--account) exits 0" \
	fetch_full "$(basename "$a")" --account "$GUID"
a=$(file_of attach "$MD/.Work")
e2t_check "IMAP: no placeholder any more" \
	whole attach "$MD/.Work"
e2t_check "IMAP: not omitted in the store" \
	test "$(row attach omitted "$MD/.Work")" = 0
e2t_check "IMAP: the Maildir equals the server, byte for byte" compare
e2t_check "IMAP: no tmp leftovers" \
	test -z "$(find "$MD/tmp" "$MD/.Work/tmp" -type f)"

e2t_check "IMAP: sync after fetch-full" sync_once
e2t_check "IMAP: nothing downloaded, the local flags pushed" \
	json 'd["messages"] == 0 and d["flags_pushed"] == 2'
e2t_check "IMAP: still equal to the server" compare
f=$(file_of big)
e2t_check "IMAP: flags F S kept after the sync" test "${f##*:2,}" = FS

e2t_check "IMAP: a complete message: exit 1, complete already" \
	fails_with 1 "complete already" "$(file_of small)"
e2t_check "IMAP: fetched once, complete already" \
	fails_with 1 "complete already" "$(file_of big)"
e2t_check "IMAP: no such file: exit 1" \
	fails_with 1 "no message file" nosuchfile --account "$GUID"
e2t_check "IMAP: a path outside the store without --account: exit 2" \
	fails_with 2 "give --account" "$E2T_DIR/big.eml"

# an interrupted fetch-full: the old partial copy left beside the new file
# (crash after the row update) ...
cp -p "$old_big" "$MD/cur/$old_big_name:2,"
e2t_check "IMAP: two copies before the sync" test "$(copies big)" = 2
e2t_check "IMAP: sync after a left-over partial copy" sync_once
e2t_check "IMAP: the partial copy removed, the whole one kept" \
	one big
e2t_check "IMAP: ... and it is the whole one" whole big
e2t_check "IMAP: nothing downloaded after it" json 'd["messages"] == 0' 
e2t_check "IMAP: equal to the server after it" compare
# ... and a whole copy the row does not name (crash before the row update)
f=$(file_of big)
cp -p "$f" "$MD/cur/$(basename "$f" | sed 's/\.M\([0-9]*\)P/.M\1999P/')"
e2t_check "IMAP: sync after a left-over new copy" sync_once
e2t_check "IMAP: one copy again" one big
e2t_check "IMAP: equal to the server again" compare
e2t_check "IMAP: nothing downloaded" json 'd["messages"] == 0'

# ---- POP3: RETRIEVE
STORE=$E2T_DIR/store-pop3
MD=$STORE/mail/$GUID
e2t_check "POP3: provision with RETRIEVE 20480" \
	sync_provision POP3 "$E2T_POP3S_PORT" RETRIEVE=20480
e2t_check "POP3: first sync" sync_once
e2t_check "POP3: big stored partial" test "$(row big partial)" = 1
f=$(file_of big)
cp -p "$f" "$old_big"
old_big_name=$(basename "$f")
e2t_check "POP3: issue 9: big ends with a note: its full size" \
	partial_check truncated "$f" "$(stat -c %s "$E2T_DIR/big.eml.crlf")"
e2t_check "POP3: --fetch-full by path exits 0" fetch_full "$f"
e2t_check "POP3: issue 9: --fetch-full names the file it wrote" \
	wrote "$(file_of big)"
e2t_check "POP3: one file of big, not partial" \
	test "$(copies big)" = 1 -a "$(row big partial)" = 0
e2t_check "POP3: no X-Email2-Partial any more" \
	whole big
e2t_check "POP3: the INBOX equals the server, byte for byte" compare INBOX
e2t_check "POP3: sync after fetch-full" sync_once
e2t_check "POP3: big kept, one copy" one big
e2t_check "POP3: no message fetched" json 'd["messages"] == 0'
e2t_check "POP3: a complete message: exit 1, complete already" \
	fails_with 1 "complete already" "$(file_of small)"
cp -p "$old_big" "$MD/new/$old_big_name"
e2t_check "POP3: sync after a left-over partial copy" sync_once
e2t_check "POP3: the partial copy removed" one big
e2t_check "POP3: the whole one kept" whole big
e2t_check "POP3: equal to the server after it" compare INBOX

e2t_finish
