#!/bin/bash
# SPDX-License-Identifier: MIT
# syncd-dav.sh -- issue 10: email2-syncd syncs each content type the
# account's SYNCINGCONTENTTYPES names: mail from the harness Dovecot,
# contacts and calendars from a real Radicale over HTTPS, in one run and
# one summary (text and --json); --content picks types; a no-change run
# says "unchanged"; a local edit reaches Radicale's storage; a contacts
# server that is down makes the run partial (exit 3) while mail and
# calendars still arrive; no server found is reported, not a failure; a
# contacts-only account is synced; the daemon runs each type on its own
# schedule (CONTACTSSYNCSCHEDULE due at start while LINGER 0 waits for
# SIGUSR1); the home set found is remembered, and found again when it
# moves; its listing is kept for an hour (a no-change run is one request;
# a new collection is found an hour later; a gone one lists again);
# --dry-run previews contacts and calendars and writes nothing; the CSP
# refuses a schedule outside LINGER's values.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
. "$E2T_SRCDIR/harness/radicale.sh"
rad_usable || e2t_skip "$RAD_WHY"
command -v sqlite3 >/dev/null || e2t_skip "no sqlite3"
sync_setup '{D5A7C0DE-0010-4A2B-8C3D-00000000DA11}'
U=$E2T_USER
rad_add_user "$U" "$E2T_PASS"
rad_start s 31252 tls
R=$RAD_ROOT_s/$U
DAVURL=https://$E2T_HOST:31252/
rad_mkcoll s "$U" contacts addressbook "My Contacts"
rad_mkcoll s "$U" cal calendar "Calendar"
rad_fill s "$U" contacts 3 c
rad_fill s "$U" cal 2 e
CARDS=$STORE/contacts/$GUID
CALS=$STORE/calendars/$GUID

for i in 1 2; do
	printf 'From: a@example.org\r\nTo: %s@email2.test\r\nSubject: m%s\r\n\r\nbody %s\r\n' \
		"$U" "$i" "$i" >"$E2T_DIR/m$i.eml"
	e2t_deliver "$E2T_DIR/m$i.eml"
done

# prov TYPES [NODE=VALUE...]: the account, mail over IMAPS, DAV nodes given
prov() {
	local types=$1
	shift
	sync_provision IMAP4 "$E2T_IMAPS_PORT" "$@" || return 1
	sed -i "s|name=\"SYNCINGCONTENTTYPES\" value=\"0x2\"|name=\"SYNCINGCONTENTTYPES\" value=\"$types\"|" \
		"$E2T_DIR/acct.xml"
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null
}
count() { find "$1" -type f -name "*.$2" 2>/dev/null | wc -l; }
# text ARGS...: the text summary of one --once run in text.out; $TRC
text() {
	TRC=0
	e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" "$@" \
		>"$E2T_DIR/text.out" 2>"$E2T_DIR/text.err" || TRC=$?
	cat "$E2T_DIR/text.out" "$E2T_DIR/text.err"
}

prov 0xF CONTACTSSERVER="$DAVURL" CALENDARSERVER="$DAVURL" \
	CONTACTSSERVERREQUIRESSL=1 CALENDARSERVERREQUIRESSL=1 ||
	e2t_fatal "cannot provision"

# 1. one run: mail, contacts and calendars, one JSON line
rc=0
sync_once || rc=$?
e2t_check "one run exits 0" test "$rc" = 0
e2t_check "json: the run's content types" json \
	'd["content"] == ["mail", "contacts", "calendars"]'
e2t_check "json: 2 messages" json 'd["messages"] == 2'
e2t_check "json: contacts ok, 3 downloaded from the server's URL" json \
	'd["contacts"]["state"] == "ok" and d["contacts"]["downloaded"] == 3 and d["contacts"]["collections"] == 1 and d["contacts"]["url"].startswith("https://")'
e2t_check "json: calendars ok, 2 downloaded" json \
	'd["calendars"]["state"] == "ok" and d["calendars"]["downloaded"] == 2'
e2t_check "vdir: 3 vCards, 2 events" test "$(count "$CARDS" vcf)/$(count "$CALS" ics)" = 3/2
e2t_check "the vCard is Radicale's item" grep -q "FN:Person 1" "$CARDS/contacts/c-1.vcf"
e2t_check "no secret in the output" bash -c "! grep -qF -- '$E2T_PASS' '$E2T_DIR/sync.json' '$E2T_DIR/sync.err'"
ACCOUNT=$(e2t_find_tool email2-account) || ACCOUNT=
if [ -n "$ACCOUNT" ]; then
	e2t_run "$ACCOUNT" list --store "$STORE" --json >"$E2T_DIR/list.json" 2>&1
	e2t_check "email2-account list --json: 3 contacts, 2 calendar items" \
		e2t_json "$E2T_DIR/list.json" \
		'd[0]["contacts"] == 3 and d[0]["calendar_items"] == 2'
	e2t_run "$ACCOUNT" show --store "$STORE" "$GUID" >"$E2T_DIR/show.txt" 2>&1
	e2t_check "email2-account show: the counts in its text" \
		grep -q '; contacts: 3; calendars: 2 items$' "$E2T_DIR/show.txt"
fi

# 2. no change: one line that says so, per type
text
e2t_check "no-change run exits 0" test "$TRC" = 0
e2t_check "text: contacts unchanged" grep -q "; contacts: unchanged (1 collection)" "$E2T_DIR/text.out"
e2t_check "text: calendars unchanged" grep -q "; calendars: unchanged (1 collection)" "$E2T_DIR/text.out"
e2t_check "text: the mail part is there" grep -q ": ok, 0 messages, " "$E2T_DIR/text.out"

# 3. --content contacts: a local edit goes up; mail and calendars not run
sed -i 's/^FN:Person 1\(\r\?\)$/FN:Person One\1/' "$CARDS/contacts/c-1.vcf"
e2t_deliver "$E2T_DIR/m1.eml"
# 3a. --dry-run previews contacts and calendars too: the local edit
# would go up, a new event and the new message come down; the store, the
# folders and Radicale's items are left as they were
rad_fill s "$U" cal 1 x # x-0.ics, new on the server
# snap NAME: every file of the store, then Radicale's item files
snap() {
	{
		(cd "$STORE" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
		(cd "$R" && find . -type f \( -name '*.vcf' -o -name '*.ics' \) \
			-not -path '*/.Radicale*' -print0 | sort -z | xargs -0 sha256sum)
	} >"$E2T_DIR/$1.snap"
}
snap before
rc=0
e2t_run "$SYNCD" --dry-run --json --store "$STORE" --cafile "$E2T_CA" \
	>"$E2T_DIR/dry.json" 2>"$E2T_DIR/dry.err" || rc=$?
snap after
# dry LINES-CHECK: the dry run exited 0 ($rc), and a Python test over
# its JSON lines (l) holds
dry() {
	[ "$rc" = 0 ] || {
		cat "$E2T_DIR/dry.err"
		return 1
	}
	"$E2T_PY" -c '
import json, sys
l = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$E2T_DIR/dry.json" "$1" || {
		cat "$E2T_DIR/dry.json" "$E2T_DIR/dry.err"
		return 1
	}
}
e2t_check "dry run: exit 0; contacts/contacts: upload 1, c-1.vcf" dry \
	'[(x["folder"], x["count"], x["detail"]) for x in l if x["action"] == "upload"] == [("contacts/contacts", 1, "c-1.vcf")]'
e2t_check "... calendars/cal: download 1, x-0.ics, with its size" dry \
	'[(x["folder"], x["count"], x["detail"], x["bytes"] > 100) for x in l if x["folder"].startswith("calendars")] == [("calendars/cal", 1, "x-0.ics", True)] and [x["action"] for x in l if x["folder"].startswith("calendars")] == ["download"]'
e2t_check "... the mail's download in the same preview" dry \
	'any(x["action"] == "download" and x["folder"] == "INBOX" for x in l)'
e2t_check "... nothing written: the store, the folders, Radicale's items" \
	cmp "$E2T_DIR/before.snap" "$E2T_DIR/after.snap"
text --content contacts
e2t_check "--content contacts exits 0" test "$TRC" = 0
e2t_check "text: 1 uploaded, no mail part, no calendars" bash -c \
	"grep -q '; contacts: 1 uploaded (1 collection)' '$E2T_DIR/text.out' && ! grep -q -e 'messages' -e 'calendars:' '$E2T_DIR/text.out'"
e2t_check "Radicale stores the edit" grep -q "FN:Person One" "$R/contacts/c-1.vcf"
sync_once --content mail,calendars
e2t_check "--content mail,calendars: contacts null, the new message and event" json \
	'd["content"] == ["mail", "calendars"] and d["contacts"] is None and d["messages"] == 1 and d["calendars"]["downloaded"] == 1'
text --content tasks
e2t_check "--content with a bad word is a usage error (2)" test "$TRC" = 2
e2t_check "... naming the list" grep -q 'mail, contacts, calendars' "$E2T_DIR/text.err"

# 4. the contacts server down: partial (3); mail and calendars still synced
rad_fill s "$U" cal 3 e # one more event (e-2)
e2t_deliver "$E2T_DIR/m2.eml"
prov 0xF CONTACTSSERVER="https://$E2T_HOST:31259/" CALENDARSERVER="$DAVURL" \
	CONTACTSSERVERREQUIRESSL=1 CALENDARSERVERREQUIRESSL=1
rc=0
sync_once || rc=$?
e2t_check "contacts down: exit 3 (partial)" test "$rc" = 3
e2t_check "json: contacts failed, mail and calendars done" json \
	'd["status"] == "ok" and d["contacts"]["state"] == "failed" and d["messages"] == 1 and d["calendars"]["downloaded"] == 1'
e2t_check "json: the skip entry names contacts" json \
	'any(s["folder"] == "contacts" and "31259" in s["reason"] for s in d["skipped"])'
e2t_check "the vCards are kept" test "$(count "$CARDS" vcf)" = 3
if [ -n "$ACCOUNT" ]; then
	e2t_run "$ACCOUNT" list --store "$STORE" --json >"$E2T_DIR/list.json" 2>&1
	e2t_check "email2-account list: the last run was partial" \
		grep -q '"partial"' "$E2T_DIR/list.json"
fi

# 5. no server node and nothing to discover: reported, not a failure (a
# new store: provisioning adds and replaces nodes, it deletes none)
rm -rf "$STORE"
prov 0x3
rc=0
sync_once || rc=$?
e2t_check "no contacts server: exit 0" test "$rc" = 0
e2t_check "json: contacts not-found, calendars not in the run" json \
	'd["contacts"]["state"] == "not-found" and d["calendars"] is None and d["skipped_count"] == 0'

# 6. a contacts-only account is synced (no Maildir needed)
prov 0x1 CONTACTSSERVER="$DAVURL" CONTACTSSERVERREQUIRESSL=1
rc=0
sync_once || rc=$?
e2t_check "contacts-only account: exit 0" test "$rc" = 0
e2t_check "json: contacts only" json \
	'd["content"] == ["contacts"] and d["contacts"]["state"] == "ok" and d["calendars"] is None'

# 7. the daemon: contacts every 15 minutes (due at start), mail LINGER 0
prov 0x3 CONTACTSSERVER="$DAVURL" CONTACTSSERVERREQUIRESSL=1 LINGER=0 \
	CONTACTSSYNCSCHEDULE=15
e2t_deliver "$E2T_DIR/m1.eml"
OUT=$E2T_DIR/daemon.json ERR=$E2T_DIR/daemon.err
sync_daemon_start
DPID=$SYNCD_PID
lines() { sync_lines "$@"; }
line_json() { sync_line_json "$@"; }
lines 1
sleep 1 # nothing else is due
e2t_check "daemon: one run at start, contacts only" line_json 1 \
	'd["content"] == ["contacts"] and d["contacts"]["state"] == "ok"'
e2t_check "daemon: nothing more before SIGUSR1" test "$(wc -l <"$OUT")" = 1
kill -USR1 "$DPID"
lines 2
e2t_check "daemon: SIGUSR1 syncs every type" line_json 2 \
	'd["content"] == ["mail", "contacts"] and d["messages"] == 1'
kill -TERM "$DPID"
timeout 10 bash -c "while kill -0 $DPID 2>/dev/null; do sleep 0.05; done"

# 9. the home set is remembered per kind; one that moved is found again
HOME_ROW() { sqlite3 "$STORE/accounts.db" "SELECT endpoint || ' ' || home FROM dav_homes WHERE kind = 'card'"; }
e2t_check "the contacts home set is remembered" \
	test "$(HOME_ROW)" = "$DAVURL $DAVURL$U/"
# (and its listing an hour old, so the run asks the home set)
sqlite3 "$STORE/accounts.db" "UPDATE dav_homes SET home = '${DAVURL}nowhere/', listed = listed - 3600 WHERE kind = 'card'"
rc=0
sync_once --content contacts || rc=$?
e2t_check "a home set that moved: found again, the run ok" test "$rc" = 0
e2t_check "... contacts ok, and the new home remembered" bash -c \
	"$(declare -f HOME_ROW); STORE='$STORE'; test \"\$(HOME_ROW)\" = '$DAVURL $DAVURL$U/'"

# 10. a no-change run of a remembered account: one request in all, the
# collection's getctag alone (the runs before stored it beside the token;
# the home set's listing is kept for an hour), Basic at once (no 401)
RLOG=$E2T_DIR/log/radicale-s.log
# reqs: the requests Radicale logged since line $n0, one a line
reqs() {
	sleep 0.2 # Radicale logs from its request threads
	tail -n +$((n0 + 1)) "$RLOG" |
		grep -o "[A-Z]* request for '[^']*' with depth '[0-9]*'" >"$E2T_DIR/noop.req"
	cat "$E2T_DIR/noop.req"
}
n0=$(wc -l <"$RLOG")
rc=0
sync_once -v --content contacts || rc=$?
reqs
e2t_check "no-change run: ok, 1 request (Depth 0 getctag on the collection)" bash -c "
	test '$rc' = 0 && test \$(wc -l <'$E2T_DIR/noop.req') = 1 &&
	grep -qx \"PROPFIND request for '/$U/contacts/' with depth '0'\" '$E2T_DIR/noop.req'"
e2t_check "... the Depth 0 asks the getctag, not the sync-token" bash -c "
	grep -qx 'dav: getctag' '$E2T_DIR/sync.err' &&
	! grep -q '^dav: .*sync-token' '$E2T_DIR/sync.err'"

# 11. a collection made on the server is found when the listing is an
# hour old, not before (email2-conntest lists at once)
rad_mkcoll s "$U" team addressbook "Team"
rad_fill s "$U" team 2 w
rc=0
sync_once --content contacts || rc=$?
e2t_check "a new addressbook, listing fresh: not yet synced" bash -c "
	test '$rc' = 0 && test ! -e '$CARDS/team'"
sqlite3 "$STORE/accounts.db" "UPDATE dav_homes SET listed = listed - 3600 WHERE kind = 'card'"
rc=0
e2t_run "$SYNCD" --dry-run --json --content contacts --store "$STORE" \
	--cafile "$E2T_CA" >"$E2T_DIR/dry.json" 2>"$E2T_DIR/dry.err" || rc=$?
e2t_check "a dry run names it: first-sync" dry \
	'[x["folder"] for x in l if x["action"] == "first-sync"] == ["contacts/'"$U"'/team/"]'
e2t_check "... its folder not made" test ! -e "$CARDS/team"
n0=$(wc -l <"$RLOG")
rc=0
sync_once --content contacts || rc=$?
reqs
e2t_check "... an hour later: listed (Depth 1) and synced" bash -c "
	test '$rc' = 0 && test \$(find '$CARDS/team' -name '*.vcf' | wc -l) = 2 &&
	grep -qx \"PROPFIND request for '/$U/' with depth '1'\" '$E2T_DIR/noop.req'"
e2t_check "... json: 2 collections" json \
	'd["contacts"]["collections"] == 2 and d["contacts"]["downloaded"] == 2'

# 11b. a kept listing naming another host is not used: listed again now
sqlite3 "$STORE/accounts.db" "UPDATE dav_listing SET href = 'https://evil.example/$U/contacts/' WHERE kind = 'card' AND href = '/$U/contacts/'"
n0=$(wc -l <"$RLOG")
rc=0
sync_once --content contacts || rc=$?
reqs
e2t_check "a kept listing naming another host: listed again, the run ok" bash -c "
	test '$rc' = 0 &&
	grep -qx \"PROPFIND request for '/$U/' with depth '1'\" '$E2T_DIR/noop.req' &&
	test \"\$(sqlite3 '$STORE/accounts.db' \"SELECT count(*) FROM dav_listing WHERE href LIKE '%evil%'\")\" = 0"

# 12. a kept collection gone from the server: that run is partial and
# marks the listing stale; the next one lists and reports it gone
rm -rf "${R:?}/team"
rc=0
sync_once --content contacts || rc=$?
LISTED=$(sqlite3 "$STORE/accounts.db" "SELECT listed FROM dav_homes WHERE kind = 'card'")
e2t_check "a kept collection gone: partial (3), the listing marked stale" \
	test "$rc/$LISTED" = 3/0
n0=$(wc -l <"$RLOG")
rc=0
sync_once --content contacts || rc=$?
reqs
e2t_check "... the next run lists the home set again" bash -c "
	grep -qx \"PROPFIND request for '/$U/' with depth '1'\" '$E2T_DIR/noop.req'"
e2t_check "... reports it no longer on the server, its files kept" bash -c "
	grep -q 'no longer on the server' '$E2T_DIR/sync.json' &&
	test \$(find '$CARDS/team' -name '*.vcf' | wc -l) = 2"

# 8. the CSP: a schedule outside LINGER's set is refused, naming the node
rc=0
prov 0x3 CONTACTSSYNCSCHEDULE=10 2>"$E2T_DIR/prov.err" || rc=$?
e2t_check "CONTACTSSYNCSCHEDULE 10 is refused" test "$rc" != 0
e2t_check "... naming the node" grep -q CONTACTSSYNCSCHEDULE "$E2T_DIR/prov.err"

e2t_finish
