#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-uidvalidity.sh -- a folder whose UIDVALIDITY changes on the server
# (restored from backup, rebuilt index) is synced again without losing local
# mail and without duplicates: every server message once, under the new
# UIDVALIDITY; old copies with a byte-identical twin removed (their local
# flags carried over and pushed); an old file with no twin on the server
# kept.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5A1E0C2D-6666-4A2B-8C3D-000000000006}'

# msg N: a small message of its own
msg() {
	printf 'From: a@example.org\r\nTo: %s@email2.test\r\nSubject: uv %s\r\nMessage-ID: <uv.%s@example.org>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody of message %s\r\n' \
		"$E2T_USER" "$1" "$1" "$1" >"$E2T_DIR/m$1.eml"
	e2t_deliver "$E2T_DIR/m$1.eml"
}
for i in 1 2 3 4 5; do msg "$i" || e2t_fatal "cannot deliver"; done

files() { find "$MD/new" "$MD/cur" -type f | sort; }
count() { files | wc -l; }
# subject_count N: how many local files hold message N
subject_count() { grep -l "^Subject: uv $1" $(files) 2>/dev/null | wc -l; }

e2t_check "provision" sync_provision IMAP4 "$E2T_IMAPS_PORT"
e2t_check "first sync" sync_once
e2t_check "5 messages" json 'd["messages"] == 5'
old_v=$(files | head -n1 | sed -E 's/.*,U=[0-9]+-V([0-9]+).*/\1/')

# locally: message 2 flagged
f2=$(grep -l '^Subject: uv 2' $(files))
b2=$(basename "$f2")
mv "$f2" "$MD/cur/${b2%%:2,*}:2,F"

# on the server: message 4 gone, then a new UIDVALIDITY (a restored box)
e2t_doveadm expunge -u "$E2T_USER" mailbox INBOX header Subject "uv 4" ||
	e2t_fatal "expunge"
new_v=$((old_v + 1000))
e2t_check "server UIDVALIDITY changed ($old_v -> $new_v)" \
	e2t_doveadm mailbox update -u "$E2T_USER" --uid-validity "$new_v" INBOX

e2t_check "sync after the change" sync_once
e2t_check "the 4 server messages downloaded again" json 'd["messages"] == 4'
e2t_check "one copy of each server message" bash -c \
	"$(declare -f files subject_count); MD='$MD'; for n in 1 2 3 5; do
	 [ \"\$(subject_count \$n)\" = 1 ] || exit 1; done"
e2t_check "server messages carry the new UIDVALIDITY" bash -c \
	"$(declare -f files subject_count); MD='$MD';
	 for n in 1 2 3 5; do grep -l \"^Subject: uv \$n\" \$(files) |
	 grep -q ',U=[0-9]*-V$new_v'; done"
e2t_check "message 4 (gone from the server) kept locally" \
	test "$(subject_count 4)" = 1
e2t_check "5 files in all" test "$(count)" = 5
e2t_check "the local F of message 2 kept on its new copy" bash -c \
	"grep -l '^Subject: uv 2' $MD/cur/* | grep -q ':2,.*F'"
e2t_check "next sync: nothing downloaded" sync_once
e2t_check "nothing downloaded, F pushed" \
	json 'd["messages"] == 0 and d["flags_pushed"] >= 1'
e2t_check "the server has \\Flagged on message 2" bash -c \
	"$(declare -p E2T_NS E2T_DOVECOT_CONF); $(declare -f e2t_ns);
	 e2t_ns doveadm -c \"\$E2T_DOVECOT_CONF\" fetch -u '$E2T_USER' flags \
	 mailbox INBOX header Subject 'uv 2' | grep -q Flagged"
e2t_finish
