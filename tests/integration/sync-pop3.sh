#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-pop3.sh -- email2-syncd --once against the harness Dovecot over POP3:
# UIDL-keyed download (never twice), local deletes with SERVERDELETEACTION 1
# (DELE) and 2 (left on the server), DWNDAY from the Date header (TOP n 0)
# with local age-out, RETRIEVE truncation through TOP n L; the two-way
# rules of POP3 (R17): local moves, copies and new files stay local.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
SYNC_BATCH=3
sync_setup '{5A1E0C2D-2222-4A2B-8C3D-000000000002}'

# msg FILE DATE SUBJECT [LINES]: one message with that Date header
msg() {
	"$E2T_PY" - "$@" <<'PY'
import sys
path, date, subject = sys.argv[1], sys.argv[2], sys.argv[3]
lines = int(sys.argv[4]) if len(sys.argv) > 4 else 20
with open(path, "w") as f:
    f.write("From: a@example.org\nTo: pop@email2.test\n")
    f.write("Subject: %s\nMessage-ID: <%s@example.org>\n" % (subject, subject))
    f.write("Date: %s\n\n" % date)
    for j in range(lines):
        f.write("line %d of %s, some text to fill it\n" % (j, subject))
PY
}

now=$(date -u -R)
old=$(date -u -R -d '2020-03-01 12:00')
tendays=$(date -u -R -d '10 days ago')
mkdir -p "$E2T_DIR/in"
for i in 1 2 3 4 5; do msg "$E2T_DIR/in/new$i.eml" "$now" "new$i"; done
msg "$E2T_DIR/in/old1.eml" "$old" old1
msg "$E2T_DIR/in/old2.eml" "$old" old2
msg "$E2T_DIR/in/big.eml" "$now" big 8000 # about 350 KB
for f in "$E2T_DIR"/in/*.eml; do
	e2t_deliver "$f" || e2t_fatal "cannot deliver $f"
done

provision() { # SERVERDELETEACTION DWNDAY RETRIEVE (0: none)
	local extra=()
	[ "$3" != 0 ] && extra=(RETRIEVE="$3")
	sync_provision POP3 "$E2T_POP3S_PORT" SERVERDELETEACTION="$1" \
		DWNDAY="$2" "${extra[@]}"
}

local_count() { ls "$MD/new" "$MD/cur" 2>/dev/null | grep -c ','; }
server_count() { e2t_doveadm search -u "$E2T_USER" mailbox INBOX all | wc -l; }

# the local messages equal the delivered ones (CRLF from POP3 aside)
same_as_delivered() { # NAME...
	"$E2T_PY" - "$MD" "$E2T_DIR/in" "$@" <<'PY'
import os, sys
md, src, names = sys.argv[1], sys.argv[2], sys.argv[3:]
want = sorted(open(os.path.join(src, n + ".eml"), "rb").read()
              for n in names)
have = []
for sub in ("new", "cur"):
    d = os.path.join(md, sub)
    for f in os.listdir(d) if os.path.isdir(d) else []:
        have.append(open(os.path.join(d, f), "rb").read()
                    .replace(b"\r\n", b"\n"))
have.sort()
if have != want:
    sys.exit("local %d messages, expected %d" % (len(have), len(want)))
PY
}

file_of() { grep -l "^Subject: $1" "$MD"/new/* "$MD"/cur/* 2>/dev/null | head -n1; }

# ---- SERVERDELETEACTION 1, everything, no truncation
e2t_check "provision POP3 (delete action 1)" provision 1 -1 0
e2t_check "first sync exits 0" sync_once
e2t_check "first sync downloaded all 8" json 'd["messages"] == 8 and d["status"] == "ok"'
e2t_check "local messages equal the delivered ones" \
	same_as_delivered new1 new2 new3 new4 new5 old1 old2 big
e2t_check "no tmp leftovers" test -z "$(ls -A "$MD/tmp")"
e2t_check "second sync exits 0" sync_once
e2t_check "second sync downloads nothing" json 'd["messages"] == 0'
e2t_check "still 8 local messages" test "$(local_count)" = 8

rm -f "$(file_of new1)"
e2t_check "sync after a local delete" sync_once
e2t_check "one DELE" json 'd["deleted_server"] == 1 and d["messages"] == 0'
e2t_check "the server has 7 left" test "$(server_count)" = 7
e2t_check "next sync downloads nothing again" sync_once
e2t_check "nothing downloaded, nothing deleted" \
	json 'd["messages"] == 0 and d["deleted_server"] == 0'

# ---- SERVERDELETEACTION 2: left on the server (T flag as the delete)
e2t_check "re-provision with delete action 2" provision 2 -1 0
f=$(file_of new2)
mkdir -p "$MD/cur"
mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,T"
e2t_check "sync after a T flag" sync_once
e2t_check "no DELE with action 2" json 'd["deleted_server"] == 0 and d["messages"] == 0'
e2t_check "the server still has 7" test "$(server_count)" = 7
e2t_check "the T-flagged file is gone locally" test -z "$(file_of new2)"
e2t_check "sync after that" sync_once
e2t_check "the message left on the server is not downloaded again" \
	json 'd["messages"] == 0'

# ---- DWNDAY and RETRIEVE on a fresh store
rm -rf "$STORE"
e2t_check "provision with DWNDAY 7, RETRIEVE 20480" provision 1 7 20480
e2t_check "windowed sync exits 0" sync_once
e2t_check "the 2020 messages stay on the server, 5 downloaded" \
	json 'd["messages"] == 5 and d["partial"] == 1'
e2t_check "no old message locally" test -z "$(file_of old1)$(file_of old2)"
f=$(file_of big)
e2t_check "big message stored truncated (under 30 KB)" \
	test -n "$f" -a "$(stat -c %s "$f" 2>/dev/null || echo 0)" -lt 30000
e2t_check "big message marked partial" grep -q '^X-Email2-Partial' "$f"
e2t_check "bytes transferred stay near RETRIEVE" json 'd["bytes"] < 60000'
e2t_check "windowed resync downloads nothing" sync_once
e2t_check "nothing downloaded on resync" json 'd["messages"] == 0'

# ---- age-out: inside DWNDAY 30, outside DWNDAY 7; never deleted on the server
msg "$E2T_DIR/in/tendays.eml" "$tendays" tendays
e2t_deliver "$E2T_DIR/in/tendays.eml" || e2t_fatal "cannot deliver"
e2t_check "re-provision with DWNDAY 30" provision 1 30 20480
e2t_check "sync with DWNDAY 30" sync_once
e2t_check "the 10-day-old message arrived" test -n "$(file_of tendays)"
e2t_check "re-provision with DWNDAY 7" provision 1 7 20480
e2t_check "sync with DWNDAY 7" sync_once
e2t_check "aged out locally, not deleted on the server" \
	json 'd["removed_local"] == 1 and d["deleted_server"] == 0'
e2t_check "the aged message is gone locally" test -z "$(file_of tendays)"
e2t_check "the server still has 8" test "$(server_count)" = 8
e2t_check "sync after age-out" sync_once
e2t_check "no DELE for the aged message" json 'd["deleted_server"] == 0 and d["messages"] == 0'

# ---- the cheap no-change resync (engine/syncstate.h, "stamps"): with new/
# and cur/ still for a while (settle) and the same UIDL list, a resync reads
# no row and no file name; a local delete or new mail still gets through
settle() { touch -d '10 seconds ago' "$MD/new" "$MD/cur"; }
stamped() {
	"$E2T_PY" - "$STORE/accounts.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT local_stamp, server_stamp FROM sync_folders"
                 " WHERE folder = ''").fetchone()
sys.exit(0 if row and row[0] and row[1].startswith("dwnday=7 ") else 1)
PY
}
stamped_skip() {
	mkdir -p "$MD/cur" && settle && sync_once && stamped && sync_once &&
		json 'd["messages"] == 0 and d["folders_skipped"] == 1'
}
e2t_check "stamps stored; a resync skips the maildrop" stamped_skip
n_srv=$(server_count)
rm -f "$(file_of new3)"
e2t_check "a local delete after a stamped resync: sync" sync_once
e2t_check "... one DELE" json 'd["deleted_server"] == 1 and d["folders_skipped"] == 0'
e2t_check "... the server has one less" test "$(server_count)" = $((n_srv - 1))
e2t_check "stamped again" stamped_skip
msg "$E2T_DIR/in/late.eml" "$now" late
e2t_deliver "$E2T_DIR/in/late.eml" || e2t_fatal "cannot deliver late.eml"
e2t_check "new mail after a stamped resync: sync" sync_once
e2t_check "... downloaded" json 'd["messages"] == 1'
e2t_check "... the late message is here" test -n "$(file_of late)"

# ---- crash window: files in new/, state rows never committed: adopted by
# their L= tag, nothing downloaded again, no duplicate
n_local=$(find "$MD/new" "$MD/cur" -type f 2>/dev/null | wc -l)
forget_state() {
	"$E2T_PY" - "$STORE/accounts.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM sync_messages")
db.commit()
PY
}
e2t_check "forget the state rows ($n_local files stay)" forget_state
e2t_check "sync after the lost commit" sync_once
e2t_check "every local file adopted, nothing downloaded" \
	json "d['messages'] == 0 and d['adopted'] == $n_local"
e2t_check "no duplicate" \
	test "$(find "$MD/new" "$MD/cur" -type f | wc -l)" -eq "$n_local"

# ---- two-way rules (reconcile.h R17, R5): POP3 has one server folder, so
# what the user does between local folders stays local. A neomutt save
# (rename of cur/x into .Work/cur/x) is a move, not a delete: the message
# stays on the server with SERVERDELETEACTION 1 and 2, is not downloaded
# into INBOX again, and the moved file is never touched; once no folder
# holds it, it is a local delete (R5). New files and copies stay local.
rm -rf "$STORE"
for s in mv1 mv2 mv3 cp1 del1; do
	msg "$E2T_DIR/in/$s.eml" "$now" "$s"
	e2t_deliver "$E2T_DIR/in/$s.eml" || e2t_fatal "cannot deliver $s.eml"
done
on_server() { # SUBJECT: how many INBOX messages have it
	e2t_doveadm search -u "$E2T_USER" mailbox INBOX header Subject "$1" |
		wc -l
}
in_folder() { # DIR SUBJECT: how many files of DIR have it
	grep -l "^Subject: $2[[:space:]]*$" "$1"/new/* "$1"/cur/* 2>/dev/null | wc -l
}
save_to() { # SUBJECT FOLDER: neomutt's save, a rename into FOLDER/cur
	local f n
	f=$(file_of "$1")
	[ -n "$f" ] || return 1
	n=$(basename "$f")
	mkdir -p "$MD/$2/cur" "$MD/$2/new" "$MD/$2/tmp"
	mv "$f" "$MD/$2/cur/${n%%:2,*}:2,S"
}
W=$MD/.Work
e2t_check "R17 provision with delete action 1" provision 1 -1 0
e2t_check "R17 first sync" sync_once
e2t_check "R17 neomutt save of mv1 into .Work" save_to mv1 .Work
wfile=$(ls "$W"/cur/* 2>/dev/null)
three_syncs() { # SUBJECT: sync thrice, the move stays a move
	local i
	for i in 1 2 3; do
		sync_once && json 'd["deleted_server"] == 0' &&
			json 'd["messages"] == 0' || return 1
		[ "$(on_server "$1")" = 1 ] || return 1
		[ "$(in_folder "$MD" "$1")" = 0 ] || return 1
		[ "$(in_folder "$W" "$1")" = 1 ] || return 1
	done
}
e2t_check "R17 sda 1: three syncs, no DELE, no download" three_syncs mv1
e2t_check "R17 sda 1: mv1 still on the server (doveadm)" \
	test "$(on_server mv1)" = 1
e2t_check "R17 sda 1: the .Work file kept as it was" test -f "$wfile"
e2t_check "R17 sda 1: not downloaded into INBOX again" \
	test "$(in_folder "$MD" mv1)" = 0

e2t_check "R17 re-provision with delete action 2" provision 2 -1 0
e2t_check "R17 neomutt save of mv2 into .Work" save_to mv2 .Work
e2t_check "R17 sda 2: three syncs, nothing on the server" three_syncs mv2
e2t_check "R17 sda 2: mv2 still on the server (doveadm)" \
	test "$(on_server mv2)" = 1

# neomutt with maildir_trash: the copy in .Work, the original marked T
e2t_check "R17 re-provision with delete action 1 again" provision 1 -1 0
t_and_copy() {
	local f n
	f=$(file_of mv3)
	n=$(basename "$f")
	cp "$f" "$W/cur/${n%%:2,*}:2,S" &&
		mv "$f" "$MD/cur/${n%%:2,*}:2,ST"
}
e2t_check "R17 copy of mv3 into .Work, the original flagged T" t_and_copy
e2t_check "R17 T here, copy there: sync" sync_once
e2t_check "R17 T here, copy there: no DELE" json 'd["deleted_server"] == 0'
e2t_check "R17 T here, copy there: on the server" test "$(on_server mv3)" = 1

e2t_check "R17 cp of cp1 into .Work" cp "$(file_of cp1)" "$W/cur/"
for i in 1 2 3; do
	e2t_check "R17 copy: sync $i" sync_once
done
e2t_check "R17 copy: both files stay, one message on the server" \
	test "$(in_folder "$MD" cp1)$(in_folder "$W" cp1)$(on_server cp1)" = 111

draft() { # DIR NAME SUBJECT: a file a mail client writes into DIR/new
	printf 'From: pop@email2.test\nSubject: %s\n\ndraft\n' "$3" \
		>"$1/new/$2"
}
n_srv=$(server_count)
e2t_check "R17 a draft written into new/" draft "$MD" 1700000000.1.host d1
e2t_check "R17 a draft written into .Work/new" draft "$W" 1700000000.2.host d2
e2t_check "R17 drafts: sync" sync_once
e2t_check "R17 drafts: sync again" sync_once
e2t_check "R17 drafts stay where they were written" \
	test -f "$MD/new/1700000000.1.host" -a -f "$W/new/1700000000.2.host"
e2t_check "R17 drafts are not uploaded" test "$(server_count)" = "$n_srv"

rm -f "$(file_of del1)"
e2t_check "R5 a local delete with sda 1: sync" sync_once
e2t_check "R5 ... one DELE" json 'd["deleted_server"] == 1'
e2t_check "R5 ... del1 gone from the server (doveadm)" \
	test "$(on_server del1)" = 0

# the moved file deleted in .Work after a stamped (no-change) resync: the
# other folders' stamps see it, and it is now a local delete (R5)
settle_all() { touch -d '10 seconds ago' "$MD"/new "$MD"/cur "$W"/new "$W"/cur; }
stamped_all() {
	settle_all && sync_once && sync_once &&
		json 'd["folders_skipped"] == 1'
}
e2t_check "R17 with .Work, a no-change resync skips the maildrop" stamped_all
rm -f "$wfile"
settle_all
e2t_check "R5 the moved file deleted in .Work: sync" sync_once
e2t_check "R5 ... seen through the stamps, one DELE" \
	json 'd["folders_skipped"] == 0 and d["deleted_server"] == 1'
e2t_check "R5 ... mv1 gone from the server (doveadm)" \
	test "$(on_server mv1)" = 0
e2t_check "R17 ... the other moved messages stay" \
	test "$(on_server mv2)$(on_server mv3)$(on_server cp1)" = 111

# neomutt's save as it really is (mutt's maildir_open_new_message()): a new
# file under a new name in .Work, the original deleted; no L= tag. The
# Message-ID finds the copy: no DELE, and the row stays "moved" for good
# (deleting the copy later does not reach the server: keep beats delete)
msg "$E2T_DIR/in/nm1.eml" "$now" nm1
e2t_deliver "$E2T_DIR/in/nm1.eml" || e2t_fatal "cannot deliver nm1.eml"
e2t_check "R17 new name: nm1 downloaded" sync_once
neomutt_save() {
	local f
	f=$(file_of nm1)
	[ -n "$f" ] && cp "$f" "$W/cur/1700000100.4242_1.host:2,S" &&
		rm -f "$f"
}
e2t_check "R17 new name: neomutt's save of nm1 (copy, delete)" neomutt_save
e2t_check "R17 new name, sda 1: three syncs, no DELE, no download" \
	three_syncs nm1
e2t_check "R17 new name: nm1 still on the server (doveadm)" \
	test "$(on_server nm1)" = 1
rm -f "$W/cur/1700000100.4242_1.host:2,S"
e2t_check "R17 new name: the copy deleted in .Work: sync" sync_once
e2t_check "R17 new name: ... stays on the server, not downloaded" \
	test "$(on_server nm1)$(in_folder "$MD" nm1)" = 10

# a move into the local Trash (neomutt's $trash, Thunderbird) is a delete:
# with SERVERDELETEACTION 1 the message goes on the server (R5)
msg "$E2T_DIR/in/tr1.eml" "$now" tr1
e2t_deliver "$E2T_DIR/in/tr1.eml" || e2t_fatal "cannot deliver tr1.eml"
e2t_check "R5 trash: tr1 downloaded" sync_once
e2t_check "R5 trash: tr1 renamed into .Trash/cur" save_to tr1 .Trash
e2t_check "R5 trash: sync" sync_once
e2t_check "R5 trash: ... one DELE" json 'd["deleted_server"] == 1'
e2t_check "R5 trash: ... tr1 gone from the server (doveadm)" \
	test "$(on_server tr1)" = 0
e2t_check "R5 trash: ... the Trash file stays" test "$(in_folder "$MD/.Trash" tr1)" = 1

# the REAL neomutt's save (harness/neomutt.sh): the message stays on the
# server and in .Work over two syncs (SKIP with the reason without neomutt)
. "$E2T_SRCDIR/harness/neomutt.sh"
mutt_usable || true
msg "$E2T_DIR/in/nm2.eml" "$now" nm2
e2t_deliver "$E2T_DIR/in/nm2.eml" || e2t_fatal "cannot deliver nm2.eml"
e2t_check "R17 real neomutt: nm2 downloaded" sync_once
two_syncs_kept() { # SUBJECT: on the server and in .Work only, twice
	local i
	for i in 1 2; do
		sync_once && json 'd["deleted_server"] == 0' || return 1
		[ "$(on_server "$1")$(in_folder "$MD" "$1")$(in_folder "$W" "$1")" = 101 ] ||
			return 1
	done
}
if [ -n "$MUTT_WHY" ]; then
	e2t_check_skip "R17 real neomutt: save of nm2 into .Work" "$MUTT_WHY"
	e2t_check_skip "R17 real neomutt: two syncs, no DELE" "$MUTT_WHY"
else
	mutt_save "$MD" nm2@example.org .Work
	e2t_check "R17 real neomutt: save of nm2 into .Work (new name)" \
		test "$(in_folder "$MD" nm2)$(in_folder "$W" nm2)" = 01
	e2t_check "R17 real neomutt: two syncs, on the server and in .Work" \
		two_syncs_kept nm2
fi

e2t_finish
