#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-folders.sh -- issue 7 items 5 and 6: two server folders never share
# a local folder (hostile server listing "a.b" with "." and "a/b" with
# "/"), a local delete in one never expunges in the other, a folder that
# cannot be mapped is skipped and reported while INBOX and the rest sync,
# a KEEPMAX placeholder for a 10,000-byte attachment name is stored
# shortened and a KEEPMAX message that cannot be assembled is skipped and
# reported (Dovecot), and email2-syncd --once exits 3 ("partial").
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5A1E0C2D-7777-4A2B-8C3D-000000000005}'

# sync_rc [ARGS...]: sync_once, its exit status in SYNC_RC (never fails)
sync_rc() {
	SYNC_RC=0
	sync_once "$@" || SYNC_RC=$?
	e2t_log "exit $SYNC_RC: $(head -c 600 "$E2T_DIR/sync.json")"
}
subjects() { # DIR: the Subject of each message in DIR, sorted
	cat "$1"/new/* "$1"/cur/* 2>/dev/null | sed -n 's/^Subject: //p' |
		tr -d '\r' | sort | tr '\n' ';'
}
server() { # EXPR over the hostile server's mailboxes (s = name -> uids)
	"$E2T_PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$STATE" "$1"
}

# ---- hostile server: "a.b" (".") and "a/b" ("/"), a 300-byte name
hport=31700
STATE=$E2T_DIR/hostile-$E2T_ADDR_HOSTILE-$hport.ready.state
e2t_hostile "$E2T_ADDR_HOSTILE" "$hport" --proto imap --tls \
	--scenario folders --timeout 120 --conn-timeout 20
sync_provision IMAP4 "$hport" &&
	sed -i "s/$E2T_HOST:$hport/$E2T_HOST_HOSTILE:$hport/" \
		"$E2T_DIR/acct.xml" &&
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null ||
	e2t_fatal "cannot provision the hostile account"

sync_rc
e2t_check "first sync: exit 3 (partial), not 2" test "$SYNC_RC" = 3
e2t_check "status ok, one folder skipped: the 300-byte name, reported" \
	json '(d["status"] == "ok" and d["skipped_count"] == 1 and
	d["skipped"][0]["uid"] == 0 and
	d["skipped"][0]["folder"].startswith("Projekt 24&AOQA5ADk") and
	"too long" in d["skipped"][0]["reason"])'
e2t_check "INBOX and the three other folders arrive: 4 messages" \
	json 'd["messages"] == 4'
e2t_check "INBOX in the root" test "$(subjects "$MD")" = "in INBOX;"
e2t_check "a.b in .a.b, alone" test "$(subjects "$MD/.a.b")" = "in a.b;"
e2t_check "a/b in .a.b%-2, alone" \
	test "$(subjects "$MD/.a.b%-2")" = "in a/b;"
e2t_check "Sent in .Sent" test "$(subjects "$MD/.Sent")" = "in Sent;"
e2t_check "each directory names its owner" bash -c \
	"[ \"\$(cat '$MD/.a.b/email2-folder')\" = a.b ] &&
	 [ \"\$(cat '$MD/.a.b%-2/email2-folder')\" = a/b ] &&
	 [ \"\$(cat '$MD/email2-folder')\" = INBOX ]"
e2t_check "no directory for the skipped folder" \
	test -z "$(find "$MD" -maxdepth 1 -name '.Projekt*')"
rc=0
e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" \
	>"$E2T_DIR/sync.txt" 2>&1 || rc=$?
e2t_check "the text summary: exit 3, partial, names the folder" bash -c \
	"[ $rc = 3 ] && grep -q ': partial, 0 messages' '$E2T_DIR/sync.txt' &&
	 grep -q ': skipped folder \"Projekt 24&AOQ' '$E2T_DIR/sync.txt'"

# a local delete in a/b: expunged there, never in a.b
rm -f "$MD"/.a.b%-2/cur/* "$MD"/.a.b%-2/new/*
sync_rc
e2t_check "sync after the local delete: exit 3 again (the long name)" \
	test "$SYNC_RC" = 3
e2t_check "one message deleted on the server" \
	json 'd["deleted_server"] == 1 and d["messages"] == 0'
e2t_check "the server's a/b is empty, a.b still has its message" \
	server '(s["a/b"] == {} and list(s["a.b"]) == ["1"] and
	"\\Deleted" not in s["a.b"]["1"]["flags"])'
e2t_check "the local a.b still has its message" \
	test "$(subjects "$MD/.a.b")" = "in a.b;"
sync_rc
e2t_check "third sync: stable, nothing downloaded or deleted" \
	json '(d["messages"] == 0 and d["deleted_server"] == 0 and
	d["removed_local"] == 0)'
e2t_check "no third directory for a.b or a/b" \
	test "$(find "$MD" -maxdepth 1 -name '.a.b*' | wc -l)" = 2
e2t_stop_hostile

# ---- Dovecot: KEEPMAX with a 10,000-byte attachment name (and a long
# type: together they overflowed the old placeholder and failed the account)
STORE=$E2T_DIR/store-keepmax
MD=$STORE/mail/$GUID
e2t_check "append a message whose attachment name is 10,000 bytes" \
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
	"$E2T_PASSFILE" "$E2T_CA" <<'PY'
import base64, imaplib, random, ssl, sys
host, port, user, passfile, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
name = "\u00e4" * 5000  # 10,000 bytes of UTF-8
att = base64.encodebytes(random.Random(7).randbytes(100 * 1024))
msg = (b"From: a@example.org\r\nTo: u@email2.test\r\n"
       b"Subject: longname\r\nMessage-ID: <longname@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       b"--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
       b"--b1\r\nContent-Type: application/vnd.openxmlformats-"
       b"officedocument.spreadsheetml.sheet; name=\"" +
       name.encode() + b"\"\r\nContent-Disposition: attachment; "
       b"filename=\"" + name.encode() + b"\"\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\n" +
       att.replace(b"\n", b"\r\n") + b"--b1--\r\n")
after = (b"From: a@example.org\r\nTo: u@email2.test\r\n"
         b"Subject: after\r\nMessage-ID: <after@example.org>\r\n\r\n"
         b"the rest of the folder\r\n")
for data in (msg, after):
    typ, _ = m.append("INBOX", None, None, data)
    assert typ == "OK", typ
m.logout()
PY
e2t_check "provision with KEEPMAX 25" \
	sync_provision IMAP4 "$E2T_IMAPS_PORT" KEEPMAX=25
sync_rc
e2t_check "KEEPMAX sync exits 0" test "$SYNC_RC" = 0
e2t_check "both messages stored, one omitted, nothing skipped" \
	json 'd["messages"] == 2 and d["omitted"] == 1 and d["skipped_count"] == 0'
e2t_check "the rest of the folder arrived" \
	grep -lq '^Subject: after' "$MD"/new/* "$MD"/cur/*
e2t_check "the placeholder names the part with its name shortened" \
	"$E2T_PY" - "$MD" <<'PY'
import email, glob, sys
from email import policy
for path in glob.glob(sys.argv[1] + "/new/*") + glob.glob(sys.argv[1] + "/cur/*"):
    raw = open(path, "rb").read()
    if b"Subject: longname" not in raw:
        continue
    m = email.message_from_bytes(raw, policy=policy.default)
    parts = list(m.iter_parts())
    assert len(parts) == 2, len(parts)
    om = parts[1]["X-Email2-Omitted-Part"]
    assert om is not None and om.startswith("2;"), om
    assert 'name="%C3%A4%C3%A4' in om and '..."' in om, om
    assert max(len(l) for l in raw.split(b"\r\n")) < 998
    assert len(raw) < 4000, len(raw)
    sys.exit(0)
sys.exit("no longname message")
PY

# ---- Dovecot: a KEEPMAX message whose inner multipart has no boundary
# cannot be assembled: skipped with its reason, the rest arrives, exit 3
e2t_check "append a message with a multipart without boundary" \
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
	"$E2T_PASSFILE" "$E2T_CA" <<'PY'
import base64, imaplib, random, ssl, sys
host, port, user, passfile, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
att = base64.encodebytes(random.Random(8).randbytes(100 * 1024))
msg = (b"From: a@example.org\r\nTo: u@email2.test\r\n"
       b"Subject: nobound\r\nMessage-ID: <nobound@example.org>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       b"--b1\r\nContent-Type: multipart/alternative\r\n\r\n"
       b"no boundary here\r\n"
       b"--b1\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\n" +
       att.replace(b"\n", b"\r\n") + b"--b1--\r\n")
after = (b"From: a@example.org\r\nTo: u@email2.test\r\n"
         b"Subject: after2\r\nMessage-ID: <after2@example.org>\r\n\r\n"
         b"the rest of the folder\r\n")
for data in (msg, after):
    typ, _ = m.append("INBOX", None, None, data)
    assert typ == "OK", typ
m.logout()
PY
sync_rc
e2t_log "$(cat "$E2T_DIR/sync.err")"
e2t_check "no-boundary sync: exit 3 (partial)" test "$SYNC_RC" = 3
e2t_check "the message is skipped with its UID and reason" \
	json '(d["skipped_count"] == 1 and d["skipped"][0]["uid"] > 0 and
	d["skipped"][0]["folder"] == "INBOX" and
	"has no boundary" in d["skipped"][0]["reason"])'
e2t_check "the message after it arrived" \
	grep -lq '^Subject: after2' "$MD"/new/* "$MD"/cur/*
sync_rc
e2t_check "the next sync reports it again, downloads nothing else" \
	json '(d["skipped_count"] == 1 and d["messages"] == 0)'
e2t_check "... and exits 3 again" test "$SYNC_RC" = 3

e2t_finish
