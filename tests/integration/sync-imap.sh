#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-imap.sh -- email2-syncd --once against the harness Dovecot over IMAP4:
# full download byte for byte, no-change resync, new mail, flags both ways,
# server expunge, local delete (SERVERDELETEACTION), batches.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5A1E0C2D-1111-4A2B-8C3D-000000000001}'
COMPARE=$E2T_SRCDIR/sync-compare.py

# gen DIR N PREFIX: N messages with a size mix (1 KB .. 300 KB)
gen() {
	"$E2T_PY" - "$@" <<'PY'
import os, random, sys
d, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d, exist_ok=True)
rnd = random.Random(prefix)
for i in range(n):
    size = rnd.choice([800, 2000, 5000, 20000, 300000])
    body = "".join("line %d of %s %d\n" % (j, prefix, i) for j in range(size // 20))
    with open(os.path.join(d, "%s-%04d.eml" % (prefix, i)), "w") as f:
        f.write("From: a@example.org\nTo: %s@email2.test\n" % prefix)
        f.write("Subject: %s %d\nMessage-ID: <%s.%d@example.org>\n" % (prefix, i, prefix, i))
        f.write("Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n" + body)
PY
}

deliver_dir() { # DIR [MAILBOX]
	local f
	for f in "$1"/*.eml; do
		e2t_doveadm save -u "$E2T_USER" -m "${2:-INBOX}" <"$f" || return 1
	done
}

provision() { sync_provision IMAP4 "$E2T_IMAPS_PORT" SERVERDELETEACTION="$1"; }

compare() {
	"$E2T_PY" "$COMPARE" "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
		"$E2T_PASSFILE" "$E2T_CA" "$MD"
}

gen "$E2T_DIR/in" 40 inbox && deliver_dir "$E2T_DIR/in" ||
	e2t_fatal "cannot deliver"
e2t_doveadm mailbox create -u "$E2T_USER" Work/Projects ||
	e2t_fatal "mailbox create"
gen "$E2T_DIR/work" 12 work && deliver_dir "$E2T_DIR/work" Work/Projects ||
	e2t_fatal "cannot deliver to Work/Projects"

e2t_check "provision the account" provision 1
e2t_check "first sync exits 0" sync_once
e2t_check "first sync counted 52 messages" json 'd["messages"] == 52 and d["status"] == "ok"'
e2t_check "maildir equals the server, byte for byte" compare
e2t_check "subfolder mapped to .Work.Projects" test -d "$MD/.Work.Projects/cur" -o -d "$MD/.Work.Projects/new"
e2t_check "no tmp leftovers" test -z "$(ls -A "$MD/tmp")"

e2t_check "no-change resync exits 0" sync_once
e2t_check "no-change resync fetches nothing, skips every folder" \
	json 'd["messages"] == 0 and d["folders_skipped"] == d["folders"]'

gen "$E2T_DIR/in2" 3 more && deliver_dir "$E2T_DIR/in2"
e2t_check "resync after new mail" sync_once
e2t_check "resync fetched exactly the 3 new" json 'd["messages"] == 3'
e2t_check "maildir equals the server after new mail" compare

# flags: server \Seen on UID 1 -> local S; local F on UID 2's file -> server
e2t_doveadm flags add -u "$E2T_USER" '\Seen' mailbox INBOX uid 1
f2=$(ls "$MD"/new/*U=2-V* "$MD"/cur/*U=2-V* 2>/dev/null | head -n1)
base=$(basename "$f2")
mkdir -p "$MD/cur"
mv "$f2" "$MD/cur/${base%%:2,*}:2,F"
e2t_check "flag sync run" sync_once
e2t_check "server \\Seen arrived locally" bash -c "ls '$MD'/cur/*U=1-V*:2,*S* >/dev/null 2>&1"
e2t_check "local F reached the server (doveadm)" bash -c \
	"$(declare -p E2T_NS E2T_DOVECOT_CONF); $(declare -f e2t_ns); e2t_ns doveadm -c \"\$E2T_DOVECOT_CONF\" fetch -u '$E2T_USER' flags mailbox INBOX uid 2 | grep -q Flagged"
e2t_check "flag counts" json 'd["flags_pushed"] >= 1 and d["flags_pulled"] >= 1'

# server expunge -> local removal
e2t_doveadm expunge -u "$E2T_USER" mailbox INBOX uid 3
e2t_check "sync after server expunge" sync_once
e2t_check "one removed locally" json 'd["removed_local"] == 1'
e2t_check "maildir equals the server after expunge" compare

# local delete with SERVERDELETEACTION 1: \Deleted + UID EXPUNGE of ours only
e2t_doveadm flags add -u "$E2T_USER" '\Deleted' mailbox INBOX uid 5
rm -f "$MD"/new/*U=4-V* "$MD"/cur/*U=4-V*
e2t_check "sync after local delete" sync_once
e2t_check "one deleted on the server" json 'd["deleted_server"] == 1'
e2t_check "someone else's \\Deleted message is still there" bash -c \
	"$(declare -p E2T_NS E2T_DOVECOT_CONF); $(declare -f e2t_ns); e2t_ns doveadm -c \"\$E2T_DOVECOT_CONF\" fetch -u '$E2T_USER' uid mailbox INBOX uid 5 | grep -q 'uid: 5'"
e2t_check "maildir equals the server after local delete" compare

# SERVERDELETEACTION 2: a T-flagged message moves to Trash
e2t_check "re-provision with SERVERDELETEACTION 2" bash -c \
	"sed -i 's/SERVERDELETEACTION\" value=\"1\"/SERVERDELETEACTION\" value=\"2\"/' '$E2T_DIR/acct.xml' && '$PROVISION' --store '$STORE' '$E2T_DIR/acct.xml' >/dev/null"
f6=$(ls "$MD"/new/*U=6-V* "$MD"/cur/*U=6-V* 2>/dev/null | head -n1)
base=$(basename "$f6")
mv "$f6" "$MD/cur/${base%%:2,*}:2,T"
e2t_check "sync after T flag" sync_once
e2t_check "moved to Trash on the server" bash -c \
	"$(declare -p E2T_NS E2T_DOVECOT_CONF); $(declare -f e2t_ns); e2t_ns doveadm -c \"\$E2T_DOVECOT_CONF\" search -u '$E2T_USER' mailbox Trash all | grep -q ."
# Trash may come before INBOX in LIST: the moved copy arrives next run
e2t_check "sync picks up the Trash copy" sync_once
e2t_check "maildir equals the server after move to Trash" compare

# The cheap no-change resync (engine/syncstate.h, "stamps"): once new/ and
# cur/ have been still for a while (settle ages their mtime), a resync
# compares stamps instead of reading every row and file name. Every change,
# local or on the server, must still get through.
settle() {
	find "$MD" -maxdepth 2 -type d \( -name new -o -name cur \) \
		-exec touch -d '10 seconds ago' {} +
}
unstamped() { # folders without a stored Maildir stamp
	"$E2T_PY" - "$STORE/accounts.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM sync_folders WHERE local_stamp = ''").fetchone()[0])
PY
}
file_of() { ls "$MD"/new/*"U=$1-V"* "$MD"/cur/*"U=$1-V"* 2>/dev/null | head -n1; }
server_flags() { # UID PATTERN
	e2t_doveadm fetch -u "$E2T_USER" flags mailbox INBOX uid "$1" |
		grep -q "$2"
}
not_on_server() { # UID
	! e2t_doveadm fetch -u "$E2T_USER" uid mailbox INBOX uid "$1" |
		grep -q "uid: $1"
}
stamped_skip() {
	settle && sync_once && [ "$(unstamped)" = 0 ] && sync_once &&
		json 'd["messages"] == 0 and d["folders_skipped"] == d["folders"]'
}
e2t_check "stamps stored; a resync skips every folder" stamped_skip
f7=$(file_of 7)
mv "$f7" "$MD/cur/$(basename "${f7%%:2,*}"):2,F"
e2t_check "a local flag after a stamped resync: sync" sync_once
e2t_check "... pushed, the folder not skipped" \
	json 'd["flags_pushed"] == 1 and d["folders_skipped"] < d["folders"]'
e2t_check "... \\Flagged on the server" server_flags 7 Flagged
e2t_check "stamped again" stamped_skip
e2t_doveadm flags add -u "$E2T_USER" '\Seen' mailbox INBOX uid 8
e2t_check "a server flag after a stamped resync: sync" sync_once
e2t_check "... pulled" json 'd["flags_pulled"] == 1'
e2t_check "... S on the local file" bash -c "ls '$MD'/cur/*U=8-V*:2,*S*"
e2t_check "stamped once more" stamped_skip
rm -f "$(file_of 9)"
e2t_check "a local delete after a stamped resync: sync" sync_once
e2t_check "... gone from the server's INBOX" not_on_server 9
e2t_check "the Trash copy arrives" sync_once
e2t_check "the maildir equals the server after the stamped runs" compare

# crash window: files renamed into new/cur, their state rows never
# committed. The next sync adopts the files by their U= tag instead of
# downloading them again (no duplicate, nothing fetched).
n_inbox=$(find "$MD/new" "$MD/cur" -type f | wc -l)
forget_inbox_state() {
	"$E2T_PY" - "$STORE/accounts.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM sync_messages WHERE folder = 'INBOX'")
db.execute("DELETE FROM sync_folders WHERE folder = 'INBOX'")
db.commit()
PY
}
e2t_check "forget INBOX's state rows ($n_inbox files stay)" forget_inbox_state
e2t_check "sync after the lost commit" sync_once
e2t_check "every INBOX file adopted, nothing fetched" \
	json "d['messages'] == 0 and d['adopted'] == $n_inbox"
e2t_check "no duplicate in INBOX" \
	test "$(find "$MD/new" "$MD/cur" -type f | wc -l)" -eq "$n_inbox"
e2t_check "maildir equals the server after adoption" compare

e2t_finish
