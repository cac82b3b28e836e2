#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-twoway.sh -- IMAP two-way at message level (issue 8), driven by the
# file operations real clients make and checked on the server (doveadm,
# imaplib): neomutt's save-to-folder (a rename between folders) becomes a
# UID MOVE (R7) with SERVERDELETEACTION 1 and 2, a cp a UID COPY (R8), a
# draft written into .Drafts/new/ an APPEND with \Draft (R11), flag
# renames and the conflicts of R1, R3, R6, R9; files that are not mail are
# kept and reported; a server without UIDPLUS and MOVE still moves.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5A1E0C2D-8888-4A2B-8C3D-000000000008}'

# imap OP ARGS...: imaplib over implicit TLS
#   body MAILBOX MSGID     the message's bytes (BODY.PEEK[]) to stdout
#   flags MAILBOX MSGID    its flags
#   count MAILBOX MSGID    how many messages carry that Message-ID
imap() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" "$E2T_PASSFILE" \
		"$E2T_CA" "$@" <<'PY'
import imaplib, re, ssl, sys
host, port, user, passfile, ca, op, box, mid = sys.argv[1:9]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
m.select('"%s"' % box, readonly=True)
typ, data = m.uid("SEARCH", None, "UNDELETED", "HEADER", "Message-ID", mid)
uids = data[0].split() if typ == "OK" and data[0] else []
if op == "count":
    print(len(uids))
elif op == "body":
    typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
    sys.stdout.buffer.write(data[0][1])
elif op == "flags":
    typ, data = m.uid("FETCH", uids[0], "(FLAGS)")
    print(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode())
m.logout()
PY
}

# mk NAME [EXTRA_HEADER]: a small message with Message-ID <NAME@t>
mk() {
	printf 'From: a@example.org\nTo: u@email2.test\nSubject: %s\nMessage-ID: <%s@t>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n%s\nbody of %s\n' \
		"$1" "$1" "${2:-}" "$1" >"$E2T_DIR/$1.eml"
}
deliver() { mk "$1" && e2t_doveadm save -u "$E2T_USER" -m "${2:-INBOX}" <"$E2T_DIR/$1.eml"; }
# file_in DIR NAME: the local file of message NAME in folder dir DIR
file_in() { grep -l "^Message-ID: <$2@t>" "$1"/new/* "$1"/cur/* 2>/dev/null | head -n1; }
count_in() { grep -l "^Message-ID: <$2@t>" "$1"/new/* "$1"/cur/* 2>/dev/null | wc -l; }
on() { test "$(imap count "$1" "<$2@t>")" = "${3:-1}"; }
srv_flags() { imap flags "$1" "<$2@t>"; }
# same NAME MAILBOX DIR: the server's bytes are the file's (LF -> CRLF)
same() {
	local f
	f=$(file_in "$3" "$1") && [ -n "$f" ] &&
		cmp -s <(imap body "$2" "<$1@t>") <(sed 's/\r\?$/\r/' "$f")
}
on_and() { on "$1" "$2" "$3" && on "$4" "$5" "$6"; }
flag_has() { srv_flags "$1" "$2" | grep -q "$3"; }
flag_lacks() { ! srv_flags "$1" "$2" | grep -q "$3"; }
name_has() { basename "$(file_in "$1" "$2")" | grep -Eq "$3"; }
provision() { sync_provision IMAP4 "$E2T_IMAPS_PORT" SERVERDELETEACTION="$1"; }
trash_empty() { test "$(e2t_doveadm -f flow mailbox status -u "$E2T_USER" messages Trash | sed 's/.*=//')" = 0; }
W=$MD/.Work
D=$MD/.Drafts

for b in Work Drafts; do
	e2t_doveadm mailbox create -u "$E2T_USER" "$b" || e2t_fatal "create $b"
done
for n in m1 m2 m3 m4 m5 m6 m7 m8 m9 m10; do
	deliver "$n" || e2t_fatal "cannot deliver $n"
done
e2t_check "provision with SERVERDELETEACTION 1" provision 1
e2t_check "first sync exits 0" sync_once
e2t_check "10 downloaded" json 'd["messages"] == 10'
e2t_check "downloads carry the new tag form U=<uid>-V<v>-F<id>" \
	bash -c "ls '$MD'/cur/* '$MD'/new/* | grep -Eq ',U=[0-9]+-V[0-9]+-F[0-9a-z]+(:2,.*)?\$'"

# guid MAILBOX NAME: Dovecot's GUID of the message (kept by a MOVE/COPY,
# new for an APPEND)
guid() {
	e2t_doveadm -f flow fetch -u "$E2T_USER" guid mailbox "$1" \
		header Message-ID "<$2@t>" | sed 's/^guid=//'
}

# ---- R7: neomutt save-to-folder with SERVERDELETEACTION 1
g1=$(guid INBOX m1)
f=$(file_in "$MD" m1)
mkdir -p "$W/cur"
mv "$f" "$W/cur/$(basename "$f")"
e2t_check "sync after a save to .Work (action 1)" sync_once
e2t_check "moved on the server, nothing uploaded" \
	json 'd["moved"] == 1 and d["uploaded"] == 0 and d["deleted_server"] == 0'
e2t_check "m1 is in Work on the server" on Work m1
e2t_check "m1 is gone from INBOX on the server" on INBOX m1 0
e2t_check "Work's bytes are the file's" same m1 Work "$W"
e2t_check "Dovecot's GUID is the INBOX message's (moved, not re-sent)" \
	test -n "$g1" -a "$(guid Work m1)" = "$g1"
e2t_check "nothing went to Trash" trash_empty
e2t_check "the file now carries Work's tag" name_has "$W" m1 ',U=[0-9]+-V[0-9]+-F'
e2t_check "resync after the move exits 0" sync_once
e2t_check "no duplicate: one m1 locally, none back in INBOX" \
	test "$(count_in "$W" m1)$(count_in "$MD" m1)" = 10
e2t_check "resync moved and uploaded nothing" \
	json 'd["moved"] == 0 and d["uploaded"] == 0 and d["messages"] == 0'

# ---- R7 with SERVERDELETEACTION 2: still a move, no Trash copy
e2t_check "provision with SERVERDELETEACTION 2" provision 2
f=$(file_in "$MD" m2)
mv "$f" "$W/cur/$(basename "$f")"
e2t_check "sync after a save to .Work (action 2)" sync_once
e2t_check "m2 moved, not uploaded" json 'd["moved"] == 1 and d["uploaded"] == 0'
e2t_check "m2 in Work, not in INBOX" on_and Work m2 1 INBOX m2 0
e2t_check "Trash still empty after the move" trash_empty

# ---- R8: cp is a UID COPY
f=$(file_in "$MD" m3)
cp "$f" "$W/cur/$(basename "$f")"
e2t_check "sync after cp into .Work" sync_once
e2t_check "copied on the server, nothing uploaded" \
	json 'd["moved"] == 1 and d["uploaded"] == 0'
e2t_check "m3 in Work and still in INBOX" on_and Work m3 1 INBOX m3 1

# ---- R18: the REAL neomutt's save writes a new file under a new name
# (no tag, Content-Length added) and removes the original: still a move
. "$E2T_SRCDIR/harness/neomutt.sh"
# mutt_check NAME CMD...: a check that needs neomutt (SKIP with the reason)
mutt_check() {
	if [ -n "$MUTT_WHY" ]; then
		e2t_check_skip "$1" "$MUTT_WHY"
	else
		e2t_check "$@"
	fi
}
# saved_untagged NAME: in .Work only, under a name with no tag
saved_untagged() {
	local f
	f=$(file_in "$W" "$1") && [ -n "$f" ] && [ -z "$(file_in "$MD" "$1")" ] &&
		! basename "$f" | grep -q ',U='
}
# copied_kept NAME GUID: in Work, and in INBOX with the same GUID
copied_kept() { on_and Work "$1" 1 INBOX "$1" 1 && test -n "$2" -a "$(guid INBOX "$1")" = "$2"; }
# trashed_and_saved NAME: INBOX's file flagged T, one untagged in .Work
trashed_and_saved() {
	local f
	f=$(file_in "$MD" "$1") && [ -n "$f" ] && basename "$f" | grep -q ':2,.*T' &&
		[ "$(count_in "$W" "$1")" = 1 ]
}
# moved_with_guid NAME GUID: in Work with GUID, not in INBOX, Trash empty
moved_with_guid() {
	on_and Work "$1" 1 INBOX "$1" 0 && trash_empty &&
		test -n "$2" -a "$(guid Work "$1")" = "$2"
}
mutt_usable || true
for n in mutta muttb muttc; do
	deliver "$n" || e2t_fatal "cannot deliver $n"
done
e2t_check "sync takes mutta muttb muttc" sync_once
for a in 1 2; do
	case $a in 1) n=mutta ;; 2) n=muttb ;; esac
	e2t_check "provision with SERVERDELETEACTION $a (neomutt)" provision $a
	g=$(guid INBOX $n)
	[ -z "$MUTT_WHY" ] && mutt_save "$MD" "$n@t" .Work
	mutt_check "neomutt saved $n into .Work under a new name (action $a)" \
		saved_untagged $n
	mutt_check "sync after neomutt's save (action $a)" sync_once
	mutt_check "neomutt's save is a move: moved 1, uploaded 0 (action $a)" \
		json 'd["moved"] == 1 and d["uploaded"] == 0 and d["deleted_server"] == 0'
	mutt_check "$n in Work, gone from INBOX (action $a)" on_and Work $n 1 INBOX $n 0
	mutt_check "$n keeps its Dovecot GUID: moved, not re-sent (action $a)" \
		test -n "$g" -a "$(guid Work $n)" = "$g"
	mutt_check "nothing went to Trash (neomutt, action $a)" trash_empty
	mutt_check "the new file now carries Work's tag (action $a)" \
		name_has "$W" $n ',U=[0-9]+-V[0-9]+-F'
	mutt_check "resync after neomutt's save exits 0 (action $a)" sync_once
	mutt_check "resync: nothing moved, uploaded, deleted or downloaded ($a)" \
		json 'd["moved"] == 0 and d["uploaded"] == 0 and d["messages"] == 0 and d["deleted_server"] == 0'
	mutt_check "one $n on the server, one locally (action $a)" \
		test "$(imap count Work "<$n@t>")$(imap count INBOX "<$n@t>")$(count_in "$W" $n)$(count_in "$MD" $n)" = 1010
done
# $maildir_trash: the original stays, flagged T; still a move (the T file
# is then a trashed file with no row: kept locally, never sent). Only for
# a file in cur/: neomutt flags a new/ file T in new/, which email2 does
# not read (no flags in new/), so there it stays a delete and an upload
e2t_check "provision with SERVERDELETEACTION 2 (maildir_trash)" provision 2
deliver muttd || e2t_fatal "cannot deliver muttd"
e2t_check "sync takes muttd" sync_once
# read first (cur/, S): neomutt marks a new/ file T in new/, where the
# Maildir spec has no flags and email2 reads none (see the report)
f=$(file_in "$MD" muttd)
mv "$f" "$MD/cur/$(basename "$f"):2,S"
e2t_check "sync after muttd was read" sync_once
g=$(guid INBOX muttd)
[ -z "$MUTT_WHY" ] && MUTT_EXTRA="set maildir_trash=yes" mutt_save "$MD" muttd@t .Work
mutt_check "maildir_trash: the original is flagged T, the new file in .Work" \
	trashed_and_saved muttd
mutt_check "sync after neomutt's save with maildir_trash" sync_once
mutt_check "maildir_trash: moved 1, uploaded 0, nothing deleted" \
	json 'd["moved"] == 1 and d["uploaded"] == 0 and d["deleted_server"] == 0'
mutt_check "maildir_trash: muttd in Work with its GUID, not in INBOX or Trash" \
	moved_with_guid muttd "$g"
mutt_check "maildir_trash: resync exits 0" sync_once
mutt_check "maildir_trash: resync moves, uploads, deletes nothing" \
	json 'd["moved"] == 0 and d["uploaded"] == 0 and d["deleted_server"] == 0 and d["messages"] == 0'

# copy-message: the source file stays; rows keep no Message-ID, so the
# new file is uploaded (R11, documented in email2-syncd(1))
g=$(guid INBOX muttc)
[ -z "$MUTT_WHY" ] && mutt_copy "$MD" muttc@t .Work
mutt_check "neomutt copied muttc into .Work" \
	test "$(count_in "$W" muttc)$(count_in "$MD" muttc)" = 11
mutt_check "sync after neomutt's copy" sync_once
mutt_check "neomutt's copy is an upload (documented): uploaded 1, moved 0" \
	json 'd["uploaded"] == 1 and d["moved"] == 0 and d["deleted_server"] == 0'
mutt_check "muttc in Work and still in INBOX with its GUID" \
	copied_kept muttc "$g"
mutt_check "resync after the copy uploads nothing" sync_once
mutt_check "resync after the copy: nothing moved or uploaded" \
	json 'd["moved"] == 0 and d["uploaded"] == 0'

# ---- R11: a draft written into .Drafts/new/ with :2,D
mk draft1
e2t_check "Drafts mapped locally" test -d "$D/new"
cp "$E2T_DIR/draft1.eml" "$D/new/1700000000.draft1.host:2,D"
e2t_check "sync after a new draft" sync_once
e2t_check "one uploaded" json 'd["uploaded"] == 1'
e2t_check "the draft is on the server with \\Draft" flag_has Drafts draft1 Draft
e2t_check "its bytes are the file's" same draft1 Drafts "$D"
e2t_check "resync does not upload it again" sync_once
e2t_check "still one draft1 on the server" on Drafts draft1

# ---- R1: a flag rename reaches the server; per-flag merge
f=$(file_in "$MD" m4)
mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,F"
e2t_check "sync after a flag rename" sync_once
e2t_check "\\Flagged reached the server" flag_has INBOX m4 Flagged
# m5: \Seen on both; then S cleared locally... and \Flagged set on the server
e2t_doveadm flags add -u "$E2T_USER" '\Seen' mailbox INBOX header Message-ID '<m5@t>'
e2t_check "sync takes \\Seen for m5" sync_once
f=$(file_in "$MD" m5)
mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,"
e2t_doveadm flags add -u "$E2T_USER" '\Flagged' mailbox INBOX header Message-ID '<m5@t>'
e2t_check "sync after S cleared locally, \\Flagged set on the server" sync_once
e2t_check "server: \\Seen cleared (local won its flag)" flag_lacks INBOX m5 Seen
e2t_check "server: \\Flagged kept" flag_has INBOX m5 Flagged
e2t_check "local: F arrived, S stays cleared" name_has "$MD" m5 ':2,F$'

# m10, the reverse: F set locally while \Seen is cleared on the server
e2t_doveadm flags add -u "$E2T_USER" '\Seen' mailbox INBOX header Message-ID '<m10@t>'
e2t_check "sync takes \\Seen for m10" sync_once
f=$(file_in "$MD" m10)
mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,FS"
e2t_doveadm flags remove -u "$E2T_USER" '\Seen' mailbox INBOX header Message-ID '<m10@t>'
e2t_check "sync after F set locally, \\Seen cleared on the server" sync_once
e2t_check "server: \\Flagged arrived" flag_has INBOX m10 Flagged
e2t_check "server: \\Seen stays cleared" flag_lacks INBOX m10 Seen
e2t_check "local: S cleared, F kept" name_has "$MD" m10 ':2,F$'

# ---- R6: flagged on the server, deleted locally: kept (downloaded again)
e2t_doveadm flags add -u "$E2T_USER" '\Flagged' mailbox INBOX header Message-ID '<m6@t>'
rm -f "$(file_in "$MD" m6)"
e2t_check "sync after server flag + local delete" sync_once
e2t_check "m6 still on the server" on INBOX m6
e2t_check "m6 downloaded again, flagged" name_has "$MD" m6 ':2,.*F'

# ---- R3: flagged locally, expunged on the server: uploaded again
f=$(file_in "$MD" m7)
mv "$f" "$MD/cur/$(basename "${f%%:2,*}"):2,F"
e2t_doveadm expunge -u "$E2T_USER" mailbox INBOX header Message-ID '<m7@t>'
e2t_check "sync after local flag + server expunge" sync_once
e2t_check "m7 is back on the server" on INBOX m7
e2t_check "m7 is flagged there" flag_has INBOX m7 Flagged
e2t_check "m7 still local" test -n "$(file_in "$MD" m7)"

# ---- R9: moved locally, deleted on the server: uploaded into Work
f=$(file_in "$MD" m8)
mv "$f" "$W/cur/$(basename "$f")"
e2t_doveadm expunge -u "$E2T_USER" mailbox INBOX header Message-ID '<m8@t>'
e2t_check "sync after local move + server delete" sync_once
e2t_check "m8 uploaded into Work" on Work m8
e2t_check "m8's bytes are the file's" same m8 Work "$W"

# ---- files that are not mail: kept and reported
printf 'just some text without a header\n' >"$W/new/1700000001.nohdr.host"
printf 'Subject: nul\n\nA\0B\n' >"$W/new/1700000002.nul.host"
sync_once
e2t_check "the sync with two bad files goes on (status ok, partial)" \
	json 'd["status"] == "ok" and d["uploaded"] == 0'
e2t_check "both reported" json 'd["skipped_count"] >= 2 and all(
	"not uploaded" in str(x) for x in d["skipped"])'
e2t_check "both kept as they were" \
	test -f "$W/new/1700000001.nohdr.host" -a -f "$W/new/1700000002.nul.host"
rm -f "$W/new/1700000001.nohdr.host" "$W/new/1700000002.nul.host"

# ---- a save of many at once (issue 8, batch): one UID MOVE of a set
# One message moved, then twenty: the twenty cost the client a few bytes
# more (one UID set), not twenty SELECT / UID MOVE / SELECT rounds (about
# 60 bytes each), and end up once each in Work on the server and locally.
# in_bytes FROM: Dovecot's "in=" of the logouts logged after offset FROM
in_bytes() {
	sleep 0.5
	tail -c +"$(($1 + 1))" "$E2T_DOVECOT_LOG" |
		grep -o -E 'Logged out in=[0-9]+' | sed -E 's/.*in=//' |
		awk '{ s += $1 } END { print s + 0 }'
}
for n in $(seq 1 20); do deliver "bm$n"; done
deliver bs1
sync_once
f=$(file_in "$MD" bs1)
mv "$f" "$W/cur/$(basename "$f")"
mark=$(wc -c <"$E2T_DOVECOT_LOG")
e2t_check "sync after a save of one" sync_once
one=$(in_bytes "$mark")
for n in $(seq 1 20); do
	f=$(file_in "$MD" "bm$n")
	mv "$f" "$W/cur/$(basename "$f")"
done
mark=$(wc -c <"$E2T_DOVECOT_LOG")
e2t_check "sync after a save of twenty" sync_once
twenty=$(in_bytes "$mark")
e2t_log "client bytes: a save of one $one, of twenty $twenty"
e2t_check "twenty moved in one command (< 400 bytes more than one)" \
	test "$((twenty - one))" -lt 400
e2t_check "twenty moved, not uploaded" json 'd["uploaded"] == 0'
bm_all() {
	local n
	for n in $(seq 1 20); do
		on Work "bm$n" 1 && on INBOX "bm$n" 0 &&
			test "$(count_in "$W" "bm$n")$(count_in "$MD" "bm$n")" = 10 ||
			return 1
	done
	ls "$W"/cur | grep -v -q ',U=' && return 1
	return 0
}
e2t_check "each of the twenty once in Work, server and local, tagged" bm_all

# ---- a server without UIDPLUS and MOVE: UID COPY + \Deleted
conf=$E2T_DOVECOT_CONF
cp "$conf" "$E2T_DIR/dovecot.conf.orig"
sed -i 's/^protocol imap {$/protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE CHILDREN SPECIAL-USE CONDSTORE APPENDLIMIT=2000/' "$conf"
e2t_doveadm reload || e2t_fatal "doveadm reload"
sleep 1
f=$(file_in "$MD" m9)
mv "$f" "$W/cur/$(basename "$f")"
e2t_check "sync after a save without UIDPLUS/MOVE" sync_once
e2t_check "m9 copied, not uploaded" json 'd["moved"] == 1 and d["uploaded"] == 0'
e2t_check "m9 in Work; INBOX's copy flagged \\Deleted" on_and Work m9 1 INBOX m9 0
e2t_check "resync without UIDPLUS exits 0" sync_once
e2t_check "no m9 downloaded back into INBOX" \
	test "$(count_in "$MD" m9)$(count_in "$W" m9)" = 01
# APPENDLIMIT=2000 (advertised above): a larger new file is kept, reported
mk small1
cp "$E2T_DIR/small1.eml" "$W/new/1700000003.small1.host"
mk big1 "X-Pad: $(head -c 3000 /dev/zero | tr '\0' x)"
cp "$E2T_DIR/big1.eml" "$W/new/1700000004.big1.host"
sync_once
e2t_check "over APPENDLIMIT: reported, the small one uploaded" \
	json '(d["uploaded"] == 1 and d["skipped_count"] == 1 and
	"APPENDLIMIT" in d["skipped"][0]["reason"])'
e2t_check "small1 on the server, big1 not" on_and Work small1 1 Work big1 0
e2t_check "big1 kept locally as it was" test -f "$W/new/1700000004.big1.host"
rm -f "$W/new/1700000004.big1.host"
cp "$E2T_DIR/dovecot.conf.orig" "$conf"
e2t_doveadm reload || true

e2t_finish
