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
    # issue 9: the external-body part names the file four times (RFC 2231,
    # 256 bytes each at most, tripled): still far from the attachment
    assert len(raw) < 8000, len(raw)
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

# ==== issue 8: folders both ways and the Sent folder (Dovecot, "/") =========
STORE=$E2T_DIR/store-two
MD=$STORE/mail/$GUID
SENT_STAGE=$STORE/outbox/$GUID/.Sent
# imap_list [USER]: the server's LIST as "name|attributes" lines, names as
# the server spells them (modified UTF-7), by IMAP itself
imap_list() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "${1:-$E2T_USER}" \
		"$E2T_PASSFILE" "$E2T_CA" <<'PY'
import imaplib, re, ssl, sys
host, port, user, passfile, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
typ, lines = m.list()
for l in lines:
    g = re.match(rb'\(([^)]*)\) (NIL|"[^"]*") (.*)$', l)
    name = g.group(3).decode()
    if name.startswith('"'):
        name = name[1:-1]
    print(name + "|" + g.group(1).decode())
m.logout()
PY
}
has_box() { imap_list "${2:-}" | grep -q "^$1|"; }
# stage FILE-NAME SUBJECT: a sent copy as the send path leaves it
stage() {
	mkdir -p "$SENT_STAGE"/{cur,new,tmp}
	printf 'From: %s@email2.test\r\nTo: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@email2.test>\r\n\r\nsent body\r\n' \
		"$E2T_USER" "$2" "$2" >"$SENT_STAGE/cur/$1"
}
box_msgs() { # BOX [USER]: messages in the server folder
	e2t_doveadm mailbox status -u "${2:-$E2T_USER}" messages "$1" |
		sed 's/.*messages=//'
}
save_to() { # BOX SUBJECT: a message into the server folder
	printf 'From: a@example.org\r\nTo: u@email2.test\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nbody\r\n' \
		"$2" "$2" | e2t_doveadm save -u "$E2T_USER" -m "$1"
}

e2t_check "provision the two-way account" \
	sync_provision IMAP4 "$E2T_IMAPS_PORT"
e2t_doveadm mailbox create -u "$E2T_USER" Gone Keep Work2 >/dev/null
save_to Gone in-gone
save_to Keep in-keep
save_to Work2 in-work2
sync_rc
e2t_check "two-way: first sync exits 0" test "$SYNC_RC" = 0

# F1: folders made locally, as mkdir and neomutt make them
mkdir -p "$MD"/.Work/{cur,new,tmp} "$MD"/.Work.Projects/{cur,new,tmp} \
	"$MD/.Entwürfe"/{cur,new,tmp} "$MD"/.a%2Eb/{cur,new,tmp} \
	"$MD"/.INBOX/{cur,new,tmp}
# not folders: a symlink to one elsewhere, a directory without tmp/
mkdir -p "$E2T_DIR/elsewhere"/{cur,new,tmp} "$MD"/.Half/{cur,new}
ln -s "$E2T_DIR/elsewhere" "$MD/.Link"
printf 'From: u@email2.test\r\nSubject: draft\r\n\r\nd\r\n' \
	>"$MD/.Work/new/1700000000.M1P1Q1.client"
sync_rc
e2t_check "F1: exit 3: two local names the server cannot take, reported" \
	json '(d["status"] == "ok" and d["skipped_count"] == 2 and
	sorted(k["folder"] for k in d["skipped"]) == [".INBOX", ".a%2Eb"] and
	any("CREATE" in k["reason"] for k in d["skipped"]) and
	any("INBOX" in k["reason"] for k in d["skipped"]))'
e2t_check "F1: --json counts three folders created" \
	json 'd["folders_created"] == 3 and d["folders_removed"] == 0'
imap_list >"$E2T_DIR/list1.txt"
e2t_log "$(cat "$E2T_DIR/list1.txt")"
e2t_check "F1: Work and Work/Projects exist on the server ('/' hierarchy)" \
	bash -c "grep -q '^Work|' '$E2T_DIR/list1.txt' &&
		 grep -q '^Work/Projects|' '$E2T_DIR/list1.txt'"
dove_list() { e2t_doveadm mailbox list -u "${1:-$E2T_USER}"; }
dove_has() { dove_list | grep -qx "$1"; }
e2t_check "F1: doveadm lists Work/Projects" dove_has Work/Projects
e2t_check "F1: .Entwürfe is Entw&APw-rfe (modified UTF-7) on the server" \
	grep -q '^Entw&APw-rfe|' "$E2T_DIR/list1.txt"
e2t_check "F1: doveadm shows it decoded as Entwürfe" dove_has Entwürfe
e2t_check "F1: no folder a.b or INBOX twin on the server" \
	bash -c "! grep -q '^a\\.b|' '$E2T_DIR/list1.txt'"
e2t_check "F1: each local folder now names its server folder" bash -c \
	"[ \"\$(cat '$MD/.Work/email2-folder')\" = Work ] &&
	 [ \"\$(cat '$MD/.Work.Projects/email2-folder')\" = Work/Projects ] &&
	 [ \"\$(cat '$MD/.Entwürfe/email2-folder')\" = 'Entw&APw-rfe' ]"
e2t_check "F1: the refused folder is kept as it was" bash -c \
	"[ -d '$MD/.a%2Eb/cur' ] && [ ! -e '$MD/.a%2Eb/email2-folder' ]"
# (uploaded by the same run: moved to cur/ and tagged, its name kept)
e2t_check "F1: the draft in .Work is still there" \
	compgen -G "$MD/.Work/*/1700000000.M1P1Q1.client*"
e2t_check "F1: a symlinked or incomplete directory is no folder" \
	bash -c "! grep -Eq '^(Link|Half)[|]' '$E2T_DIR/list1.txt'"
lsub_has() { # NAME: the server lists NAME as subscribed (LSUB)
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
		"$E2T_PASSFILE" "$E2T_CA" "$1" <<'PY'
import imaplib, ssl, sys
host, port, user, passfile, ca, name = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
lines = m.lsub()[1]
m.logout()
sys.exit(0 if any(l.decode().rstrip('"').endswith(' ' + name) or
                  l.decode().endswith('"' + name + '"') for l in lines)
         else 1)
PY
}
e2t_check "F1: the created folders are subscribed (webmail shows them)" \
	bash -c "$(declare -f lsub_has); $(declare -p E2T_PY E2T_ADDR \
	E2T_IMAPS_PORT E2T_USER E2T_PASSFILE E2T_CA);
	lsub_has Work && lsub_has Work/Projects && lsub_has 'Entw&APw-rfe'"
e2t_check "F1: (a folder doveadm made unsubscribed is not listed so)" \
	bash -c "$(declare -f lsub_has); $(declare -p E2T_PY E2T_ADDR \
	E2T_IMAPS_PORT E2T_USER E2T_PASSFILE E2T_CA); ! lsub_has Work2"
sync_rc
imap_list >"$E2T_DIR/list2.txt"
e2t_check "F1: the next run creates nothing more on the server" \
	cmp "$E2T_DIR/list1.txt" "$E2T_DIR/list2.txt"
e2t_check "F1: and makes no second local folder for Entw&APw-rfe" \
	test "$(find "$MD" -maxdepth 1 -name '.Entw*' | wc -l)" = 1

# F2: a server folder deleted elsewhere, holding only synced mail
e2t_check "F2: .Gone holds its downloaded message" \
	grep -lq '^Subject: in-gone' "$MD"/.Gone/new/* "$MD"/.Gone/cur/*
# F3: a server folder deleted elsewhere, with a local file never uploaded
printf 'From: u@email2.test\r\nSubject: unsynced\r\n\r\nu\r\n' \
	>"$MD/.Keep/cur/1700000001.M1P1Q1.client:2,S"
e2t_doveadm mailbox delete -u "$E2T_USER" Gone Keep
sync_rc
e2t_check "F2: the local .Gone is removed" test ! -e "$MD/.Gone"
e2t_check "F2: --json counts one folder removed, its message" \
	json 'd["folders_removed"] == 1 and d["removed_local"] == 1'
e2t_check "F3: .Keep stays with both files" \
	test "$(ls "$MD"/.Keep/cur "$MD"/.Keep/new | grep -c 17)" -ge 1
e2t_check "F3: .Keep keeps the downloaded message too" \
	grep -lq '^Subject: in-keep' "$MD"/.Keep/new/* "$MD"/.Keep/cur/*
e2t_check "F3: reported with the folder and the count" \
	json '(any(k["folder"] == "Keep" and "1 message not on the server"
	in k["reason"] for k in d["skipped"]))'
no_box() { ! imap_list "${2:-}" | grep -Eq "$1"; }
e2t_check "F2/F3: nothing recreated on the server" no_box '^(Gone|Keep)[|]'
sync_rc
e2t_check "F3: reported again on the next run, still kept" \
	json '(any(k["folder"] == "Keep" for k in d["skipped"]))'

# F4: a local folder removed with rm -r never deletes on the server
e2t_check "F4: .Work2 holds its message" \
	grep -lq '^Subject: in-work2' "$MD"/.Work2/new/* "$MD"/.Work2/cur/*
rm -rf "$MD/.Work2"
sync_rc
e2t_check "F4: the server's Work2 still has its message, not deleted" \
	test "$(box_msgs Work2)" = 1
e2t_check "F4: nothing went to the server's Trash" test "$(box_msgs Trash)" = 0
e2t_check "F4: Work2 is made again locally and downloaded" \
	grep -lq '^Subject: in-work2' "$MD"/.Work2/new/* "$MD"/.Work2/cur/*
e2t_check "F4: reported as downloaded, nothing deleted on the server" \
	json 'd["deleted_server"] == 0 and d["messages"] == 1'

# a folder directory renamed locally keeps its server folder; a copy of
# one (cp -r copies the owner file) is reported, not synced
mv "$MD/.Work2" "$MD/.Job"
save_to Work2 in-work2-b
sync_rc
e2t_check "mv: .Job (was .Work2) gets Work2's new message" \
	grep -lq '^Subject: in-work2-b' "$MD"/.Job/new/* "$MD"/.Job/cur/*
e2t_check "mv: no .Work2 made again" test ! -e "$MD/.Work2"
e2t_check "mv: nothing deleted on the server" test "$(box_msgs Work2)" = 2
cp -a "$MD/.Job" "$MD/.Abc"  # sorts first, times kept: still the copy
save_to Work2 in-work2-c
sync_rc
e2t_check "cp -a: the copy (sorting first, times kept) is reported, naming the folder that holds it" \
	json '(any(k["folder"] == ".Abc" and "\".Job\" holds" in k["reason"]
	for k in d["skipped"]))'
e2t_check "cp -a: the original keeps syncing, the copy gets nothing" bash -c \
	"grep -lq '^Subject: in-work2-c' '$MD'/.Job/new/* '$MD'/.Job/cur/* &&
	 ! grep -rlq '^Subject: in-work2-c' '$MD/.Abc'"
rm -rf "$MD/.Abc"

# Sent: a staged copy lands in the local mirror of the server's \Sent
stage 1700000100.M1P1Q1.sendhost:2,S sent-one
ln -s /etc/passwd "$SENT_STAGE/cur/1700000101.M1P1Q1.evil:2,S"
stage '1700000102.M1P1Q1.h,U=5-V1:2,S' sent-tagged
sync_rc
sent_file() { # DIR PREFIX: one file DIR/cur/PREFIX*:2,S (a tag may follow)
	compgen -G "$1/cur/$2*:2,S" >/dev/null
}
e2t_check "Sent: the copy is in .Sent/cur with flag S, its name kept" \
	sent_file "$MD/.Sent" 1700000100.M1P1Q1.sendhost
e2t_check "Sent: a staged name with a U= tag gets a fresh name" bash -c \
	"f=\$(grep -l '^Subject: sent-tagged' '$MD'/.Sent/cur/*) &&
	 case \$f in *U=5-V1[:,]*) exit 1;; *:2,S) exit 0;; *) exit 1;; esac"
e2t_check "Sent: the staging directory is empty but for the symlink" \
	test "$(ls "$SENT_STAGE/cur")" = "1700000101.M1P1Q1.evil:2,S"
e2t_check "Sent: the symlink is reported, not followed" \
	json 'any("not a regular file" in k["reason"] for k in d["skipped"])'
e2t_check "Sent: --json counts two copies filed" json 'd["sent_filed"] == 2'
rm -f "$SENT_STAGE/cur/1700000101.M1P1Q1.evil:2,S"
truncate -s 51M "$SENT_STAGE/new/1700000104.M1P1Q1.huge"
sync_rc
e2t_check "Sent: a copy over 50 MiB is left staged and reported" bash -c \
	"[ -f '$SENT_STAGE/new/1700000104.M1P1Q1.huge' ] &&
	 ! ls '$MD/.Sent/cur' | grep -q huge"
e2t_check "Sent: ... the report names its size" \
	json 'any("53477376 bytes" in k["reason"] for k in d["skipped"])'
rm -f "$SENT_STAGE/new/1700000104.M1P1Q1.huge"
stage 1700000100.M1P1Q1.sendhost:2,S sent-again
sync_rc
e2t_check "Sent: a taken name gets a fresh one, nothing overwritten" bash -c \
	"grep -lq '^Subject: sent-one' '$MD'/.Sent/cur/* &&
	 grep -lq '^Subject: sent-again' '$MD'/.Sent/cur/*"
e2t_check "Sent: --set-option sent-copy=server" \
	"$PROVISION" --store "$STORE" --set-option "$GUID" sent-copy=server
e2t_check "Sent: a bad option value is a usage error (2)" bash -c \
	"'$PROVISION' --store '$STORE' --set-option '$GUID' sent-copy=maybe; [ \$? = 2 ]"
stage 1700000103.M1P1Q1.sendhost:2,S sent-dropped
sync_rc
e2t_check "Sent: with sent-copy=server the staged copy is dropped" \
	test -z "$(ls "$SENT_STAGE/cur")"
e2t_check "Sent: --json counts one copy dropped, none filed" \
	json 'd["sent_dropped"] == 1 and d["sent_filed"] == 0'
e2t_check "Sent: ... and not filed locally" bash -c \
	"! grep -rlq '^Subject: sent-dropped' '$MD'"
"$PROVISION" --store "$STORE" --set-option "$GUID" sent-copy=upload

# Sent by SPECIAL-USE on "Sent Items", and a server with no Sent at all
sed -i 's/^  mailbox Sent {/  mailbox "Sent Items" {/' "$E2T_DOVECOT_CONF"
sed -i '/^  mailbox "Sent Items" {/,/^  }/{/auto = subscribe/d}' \
	"$E2T_DOVECOT_CONF"
e2t_doveadm reload
sleep 1
for u in items nosent; do
	e2t_add_user "$u" "$E2T_PASS"
done
sleep 1.1
touch "$E2T_DIR/etc/users"
e2t_doveadm mailbox create -u items "Sent Items" >/dev/null
list_match() { imap_list "$2" | grep -q "$1"; }
e2t_check "Sent Items carries \\Sent for user items" list_match \
	'^Sent Items|.*[\]Sent' items
STORE=$E2T_DIR/store-items
MD=$STORE/mail/$GUID
SENT_STAGE=$STORE/outbox/$GUID/.Sent
E2T_USER=items sync_provision IMAP4 "$E2T_IMAPS_PORT"
E2T_USER=items stage 1700000200.M1P1Q1.sendhost:2,S sent-items
# the local-only .Sent of an older version, with one message
mkdir -p "$MD"/.Sent/{cur,new,tmp}
printf 'From: items@email2.test\r\nSubject: old-sent\r\n\r\nb\r\n' \
	>"$MD/.Sent/cur/1600000000.M1P1Q1.old:2,S"
sync_rc
e2t_check "Sent Items: the old local .Sent makes no second Sent folder" \
	no_box '^Sent[|]' items
e2t_check "Sent Items: ... it is reported, naming the server's Sent" \
	json '(any(k["folder"] == ".Sent" and "\"Sent Items\"" in k["reason"]
	for k in d["skipped"]))'
e2t_check "Sent Items: ... and kept with its message" \
	test -f "$MD/.Sent/cur/1600000000.M1P1Q1.old:2,S"
e2t_check "Sent Items: the copy lands in .Sent Items" \
	sent_file "$MD/.Sent Items" 1700000200.M1P1Q1.sendhost
e2t_check "Sent Items: not in .Sent" bash -c \
	"! grep -rlq '^Subject: sent-items' '$MD/.Sent' 2>/dev/null"
STORE=$E2T_DIR/store-nosent
MD=$STORE/mail/$GUID
SENT_STAGE=$STORE/outbox/$GUID/.Sent
E2T_USER=nosent sync_provision IMAP4 "$E2T_IMAPS_PORT"
sync_rc
e2t_check "no Sent: nothing to file, no folder created" \
	no_box '^[Ss][Ee][Nn][Tt]' nosent
E2T_USER=nosent stage 1700000300.M1P1Q1.sendhost:2,S sent-created
sync_rc
e2t_check "no Sent: Sent is created on the server for the copy" \
	has_box 'Sent' nosent
e2t_check "no Sent: the copy lands in the new .Sent" \
	sent_file "$MD/.Sent" 1700000300.M1P1Q1.sendhost
sync_rc
sent_count() { test "$(imap_list nosent | grep -ci '^sent')" = 1; }
e2t_check "no Sent: the next run creates no second one" sent_count

# ---- hostile server with separator "." and CREATE-SPECIAL-USE, no Sent
hport=31701
STATE=$E2T_DIR/hostile-$E2T_ADDR_HOSTILE-$hport.ready.state
STORE=$E2T_DIR/store-create
MD=$STORE/mail/$GUID
SENT_STAGE=$STORE/outbox/$GUID/.Sent
e2t_hostile "$E2T_ADDR_HOSTILE" "$hport" --proto imap --tls \
	--scenario folders-create --timeout 120 --conn-timeout 20
sync_provision IMAP4 "$hport" &&
	sed -i "s/$E2T_HOST:$hport/$E2T_HOST_HOSTILE:$hport/" \
		"$E2T_DIR/acct.xml" &&
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null ||
	e2t_fatal "cannot provision the folders-create account"
sync_rc
e2t_check "create: first sync exits 0, creates nothing" \
	server '"_create" in s and s["_create"] == []'
mkdir -p "$MD"/.Work.Sub/{cur,new,tmp} "$MD"/.Proj/{cur,new,tmp}
stage 1700000400.M1P1Q1.sendhost:2,S sent-hostile
sync_rc
e2t_log "$(cat "$STATE")"
e2t_check "create: Proj and Work.Sub go below the prefix INBOX. (\".\")" \
	server '"INBOX.Proj" in s and "INBOX.Work.Sub" in s'
e2t_check "create: INBOX.Sent is created with USE (\\Sent)" \
	server '"\"INBOX.Sent\" (USE (\\Sent))" in s["_create"]'
e2t_check "create: the staged copy lands in its mirror .INBOX.Sent" \
	sent_file "$MD/.INBOX.Sent" 1700000400.M1P1Q1.sendhost
e2t_check "create: the local folders keep their names, owning the server's" \
	bash -c "[ \"\$(cat '$MD/.Work.Sub/email2-folder')\" = INBOX.Work.Sub ] &&
	 [ \"\$(cat '$MD/.Proj/email2-folder')\" = INBOX.Proj ] &&
	 [ ! -e '$MD/.INBOX.Proj' ]"
sync_rc
e2t_check "create: the next run creates nothing more" \
	server 'len(s["_create"]) == 3'
e2t_stop_hostile

e2t_finish
