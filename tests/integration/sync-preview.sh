#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-preview.sh -- email2-syncd --dry-run (issue 9) against the harness
# Dovecot: after server-side changes (new mail, a flag, an expunge) and
# local ones (a new file, a flag, a move, a delete) and a queued message,
# the preview lists each action; the bytes of every file of the store and
# the Maildir and the server's mailboxes (doveadm fetch uid flags guid) are
# the same before and after it; the real sync afterwards does what it
# listed.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5A1E0C2D-9999-4A2B-8C3D-000000000009}'

OUT=$STORE/outbox/$GUID
mk() {
	printf 'From: a@example.org\nTo: u@email2.test\nSubject: %s\nMessage-ID: <%s@t>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\nbody of %s\n' \
		"$1" "$1" "$1" >"$E2T_DIR/$1.eml"
}
deliver() { mk "$1" && e2t_doveadm save -u "$E2T_USER" -m "${2:-INBOX}" <"$E2T_DIR/$1.eml"; }
file_in() { grep -l "^Message-ID: <$2@t>" "$1"/new/* "$1"/cur/* 2>/dev/null | head -n1; }
# snapshot NAME: sha256 of every file under the store (Maildir and queue
# included), and the server's mailboxes as doveadm sees them (the list,
# then uid, flags and guid of every message of every mailbox)
snapshot() {
	(cd "$STORE" && find . -type f -print0 | sort -z |
		xargs -0 sha256sum) >"$E2T_DIR/$1.files" &&
		(cd "$STORE" && find . | sort) >"$E2T_DIR/$1.names" &&
		{ e2t_doveadm mailbox list -u "$E2T_USER" | sort &&
			e2t_doveadm -f flow fetch -u "$E2T_USER" \
				"mailbox uid flags guid" all; } \
			>"$E2T_DIR/$1.server"
}
same_snapshot() {
	cmp "$E2T_DIR/before.files" "$E2T_DIR/after.files" &&
		cmp "$E2T_DIR/before.names" "$E2T_DIR/after.names" &&
		cmp "$E2T_DIR/before.server" "$E2T_DIR/after.server"
}
preview() { # [ARGS...]: the dry run's output in preview.out (stderr shown)
	local rc=0
	e2t_run "$SYNCD" --dry-run --store "$STORE" --cafile "$E2T_CA" "$@" \
		>"$E2T_DIR/preview.out" 2>"$E2T_DIR/preview.err" || rc=$?
	cat "$E2T_DIR/preview.err"
	return $rc
}
# lists FOLDER ACTION COUNT [TEXT]: the text preview has that line
lists() {
	grep -F "$GUID " "$E2T_DIR/preview.out" | sed 's/^[^ ]* //' |
		grep -E "^$1: $2 $3(:| |\$)" | grep -qF -- "${4:-}"
}

e2t_doveadm mailbox create -u "$E2T_USER" Work || e2t_fatal "create Work"
for n in m1 m2 m3 m4 m5 m6; do
	deliver "$n" || e2t_fatal "cannot deliver $n"
done
e2t_check "provision with SERVERDELETEACTION 1" \
	sync_provision IMAP4 "$E2T_IMAPS_PORT" SERVERDELETEACTION=1 AUTHREQUIRED=1
# never synced: no Maildir to compare with; the preview says so, makes none
never_synced() {
	local rc=0
	preview || rc=$?
	test "$rc" = 0 &&
		grep -q "^$GUID -: first-sync: never synced" "$E2T_DIR/preview.out" &&
		test ! -e "$MD" -a ! -e "$STORE/mail"
}
e2t_check "a never synced account: exit 0, \"first-sync\", no Maildir made" \
	never_synced
e2t_check "first sync exits 0" sync_once
e2t_check "6 downloaded" json 'd["messages"] == 6'

# ---- the changes on both sides
uid_of() {
	e2t_doveadm -f flow fetch -u "$E2T_USER" uid mailbox INBOX \
		header Message-ID "<$1@t>" | sed 's/^uid=//'
}
u3=$(uid_of m3)
u6=$(uid_of m6)
deliver s1 || e2t_fatal "deliver s1"
e2t_doveadm flags add -u "$E2T_USER" '\Flagged' mailbox INBOX \
	header Message-ID "<m2@t>" || e2t_fatal "flag m2"
e2t_doveadm expunge -u "$E2T_USER" mailbox INBOX header Message-ID "<m3@t>" ||
	e2t_fatal "expunge m3"
mk n1 && cp "$E2T_DIR/n1.eml" "$MD/new/1700000001.M1P1Q1.test,S=$(stat -c %s "$E2T_DIR/n1.eml")"
f=$(file_in "$MD" m4) && mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,S"
f=$(file_in "$MD" m5) && mkdir -p "$MD/.Work/cur" &&
	mv "$f" "$MD/.Work/cur/$(basename "$f")"
rm -f "$(file_in "$MD" m6)"
# a local folder the server does not have (F1): created, its file uploaded
mkdir -p "$MD/.NewBox/cur" "$MD/.NewBox/new" "$MD/.NewBox/tmp" &&
	mk nb1 && cp "$E2T_DIR/nb1.eml" "$MD/.NewBox/new/1700000003.M3P3Q3.test,S=$(stat -c %s "$E2T_DIR/nb1.eml")"
(umask 077 && mkdir -p "$OUT/new" "$OUT/cur" "$OUT/tmp") &&
	printf 'From: %s@email2.test\nTo: jane@example.org\nSubject: queued\n\nhello\n' \
		"$E2T_USER" >"$OUT/tmp/q1" &&
	mv "$OUT/tmp/q1" "$OUT/new/1700000002.M2P2Q2.test,S=$(stat -c %s "$OUT/tmp/q1")"

snapshot before || e2t_fatal "snapshot before"
e2t_log_mark
e2t_check "--dry-run exits 0" preview
cat "$E2T_DIR/preview.out"
e2t_check "lists the new server message: download 1" lists INBOX download 1
e2t_check "lists the server flag: flag-pull 1" lists INBOX flag-pull 1
e2t_check "lists the server expunge: local-delete 1" \
	lists INBOX local-delete 1 "$u3"
e2t_check "lists the local new file: upload 1" lists INBOX upload 1
e2t_check "lists the local flag: flag-push 1" lists INBOX flag-push 1
e2t_check "lists the local move: server-move 1 into Work" \
	lists Work server-move 1
e2t_check "lists the local delete with SERVERDELETEACTION 1: expunge" \
	lists INBOX server-delete 1 "expunge: $u6"
e2t_check "lists the queued message with its recipient" \
	lists - send 1 "jane@example.org"
e2t_check "lists the local folder to create, with its 1 message" \
	lists NewBox create-folder 1 ".NewBox, then 1 message uploaded"
e2t_check "--dry-run --json exits 0" preview --json --account "$GUID"
e2t_check "--json: one object per action, the same actions" \
	"$E2T_PY" - "$E2T_DIR/preview.out" <<'PY'
import json, sys
got = {(o["folder"], o["action"], o["count"])
       for o in map(json.loads, open(sys.argv[1]))}
want = {("INBOX", "download", 1), ("INBOX", "flag-pull", 1),
        ("INBOX", "local-delete", 1), ("INBOX", "upload", 1),
        ("INBOX", "flag-push", 1), ("Work", "server-move", 1),
        ("INBOX", "server-delete", 1), ("", "send", 1),
        ("NewBox", "create-folder", 1)}
assert got == want, (got ^ want)
PY
snapshot after || e2t_fatal "snapshot after"
e2t_check "store and Maildir bytes, file names, server unchanged" same_snapshot
# logged in to IMAP; never to submission (nothing sent, not even a login)
logins() {
	sleep 0.3 # login processes log asynchronously
	e2t_log_since | grep -E -- "$1-login: (Info: )?Login: " |
		grep -cF "user=<$E2T_USER>"
}
e2t_check "the preview logged in to IMAP" test "$(logins imap)" -ge 1
e2t_check "the preview made no SMTP login" test "$(logins submission)" = 0

# ---- the real sync does what the preview listed
real_sync() {
	local rc=0
	sync_once || rc=$?
	grep -E '"(status|error)"' "$E2T_DIR/sync.json"
	cat "$E2T_DIR/sync.err"
	return $rc
}
e2t_check "the real sync exits 0" real_sync
# uploaded 3: the listed upload, the message of the created folder, and
# the sent copy of the listed send (a sent message is filed in the
# server's Sent folder, created when missing)
for kv in messages=1 flags_pulled=1 removed_local=1 flags_pushed=1 \
	moved=1 deleted_server=1 sent=1 uploaded=3 sent_filed=1 \
	folders_created=1; do
	e2t_check "the real sync did what was listed: ${kv%=*} ${kv#*=}" \
		json "d['${kv%=*}'] == ${kv#*=}"
done
e2t_check "a preview now: nothing to do" \
	bash -c "$(declare -f preview e2t_run); $(declare -p SYNCD STORE E2T_CA E2T_DIR E2T_HOSTS E2T_RUN_HOW 2>/dev/null); preview && grep -q 'nothing to do' '$E2T_DIR/preview.out'"

# ---- POP3: UIDL and LIST only; a local delete shown as DELE
STORE=$E2T_DIR/store-pop3
MD=$STORE/mail/$GUID
e2t_check "POP3: provision with SERVERDELETEACTION 1" \
	sync_provision POP3 "$E2T_POP3S_PORT" SERVERDELETEACTION=1
e2t_check "POP3: first sync exits 0" sync_once
deliver p1 || e2t_fatal "deliver p1"
rm -f "$(file_in "$MD" m2)"
snapshot pop3-before || e2t_fatal "snapshot"
e2t_log_mark
e2t_check "POP3: --dry-run exits 0" preview
cat "$E2T_DIR/preview.out"
e2t_check "POP3: lists the new message with its LIST size" \
	bash -c "grep -qE ' INBOX: download 1 \([0-9]+ bytes\)' '$E2T_DIR/preview.out'"
e2t_check "POP3: lists the local delete: DELE" lists INBOX server-delete 1 DELE
snapshot pop3-after || e2t_fatal "snapshot"
# (a POP3 login makes Dovecot drop \Recent, which no client can set or
# keep, RFC 3501 2.3.2: the server side is compared without it; IMAP above
# compares it too, EXAMINE leaves it)
no_recent() { sed 's/\\Recent//' "$E2T_DIR/$1"; }
e2t_check "POP3: store, Maildir and server unchanged" bash -c \
	"cd '$E2T_DIR' && cmp pop3-before.files pop3-after.files && cmp pop3-before.names pop3-after.names && diff <($(declare -f no_recent); E2T_DIR='$E2T_DIR' no_recent pop3-before.server) <(E2T_DIR='$E2T_DIR'; $(declare -f no_recent); no_recent pop3-after.server)"
e2t_check "POP3: the preview made no SMTP login" \
	test "$(logins submission)" = 0
e2t_check "POP3: the real sync exits 0" real_sync
e2t_check "POP3: it did what was listed" \
	json 'd["messages"] == 1 and d["deleted_server"] == 1'

e2t_finish
