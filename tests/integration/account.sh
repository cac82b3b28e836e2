#!/bin/bash
# SPDX-License-Identifier: MIT
# account.sh -- email2-account (issue 9) against the harness Dovecot: list
# with the status each sync recorded (ok, and a failed sync's error), the
# queued and failed outbox counts, --json; show with the secrets masked;
# remove: refused without a terminal and without --yes (nothing changes,
# bytes compared), by NAME, by lower-case bare GUID, a "y" typed on a
# terminal, an ambiguous NAME refused naming both accounts; the store's
# rows, the Maildir and the queue gone, the server's mail untouched.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
ACCOUNT=$(e2t_find_tool email2-account) || e2t_skip "email2-account not built"
command -v sqlite3 >/dev/null || e2t_skip "no sqlite3"
GA='{A9A9A9A9-0001-4A2B-8C3D-000000000001}'
GB='{A9A9A9A9-0002-4A2B-8C3D-000000000002}'
GC='{A9A9A9A9-0003-4A2B-8C3D-000000000003}'
GD='{A9A9A9A9-0004-4A2B-8C3D-000000000004}'
sync_setup "$GA"

# provision GUID NAME REPLYADDR INSERVER [OUTSERVER]
provision() {
	cat >"$E2T_DIR/acct.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<wap-provisioningdoc>
  <characteristic type="EMAIL2">
    <characteristic type="$1">
      <parm name="ACCOUNTTYPE" value="Email"/>
      <parm name="AUTHNAME" value="$E2T_USER"/>
      <parm name="AUTHSECRET" value="$E2T_PASS"/>
      <parm name="INSERVER" value="$4"/>
      <parm name="OUTSERVER" value="${5:-$E2T_HOST:$E2T_SUBMISSIONS_PORT}"/>
      <parm name="AUTHREQUIRED" value="1"/>
      <parm name="REPLYADDR" value="$3"/>
      <parm name="SERVICENAME" value="account test"/>
      <parm name="SERVICETYPE" value="IMAP4"/>
      <parm name="SYNCINGCONTENTTYPES" value="0x2"/>
      <parm name="NAME" value="$2"/>
    </characteristic>
  </characteristic>
</wap-provisioningdoc>
XML
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null
}
# queue GUID FILE: a message into the account's queue, from stdin
queue() {
	local q=$STORE/outbox/$1
	(umask 077 && mkdir -p "$q/new" "$q/cur" "$q/tmp")
	cat >"$q/tmp/$2" && mv "$q/tmp/$2" "$q/new/$2"
}
acct() { e2t_run "$ACCOUNT" --store "$STORE" "$@"; }
# rows GUID: the account's rows in every per-account table
rows() {
	local t n=0
	for t in accounts nodes sync_folders sync_messages outbox_queue \
		account_status; do
		n=$((n + $(sqlite3 "$STORE/accounts.db" \
			"SELECT count(*) FROM $t WHERE guid = '$1'")))
	done
	echo "$n"
}
# state: the store's rows, every file's name, size and bytes
state() {
	sqlite3 "$STORE/accounts.db" .dump
	(cd "$STORE" && find mail outbox -printf '%p %s %y\n' | sort)
	(cd "$STORE" && find mail outbox -type f -exec sha256sum {} + | sort)
	sha256sum "$STORE/accounts.db"
}

provision "$GA" "Work A" "$E2T_USER@email2.test" "$E2T_HOST:$E2T_IMAPS_PORT"
# B: a port nothing listens on, so its sync fails at the connection
provision "$GB" "Broken B" "b@email2.test" "$E2T_HOST:1" "$E2T_HOST:1"
for i in 1 2; do
	printf 'From: x@example.org\nTo: %s@email2.test\nSubject: m%s\n\nbody %s\n' \
		"$E2T_USER" "$i" "$i" >"$E2T_DIR/m$i.eml"
	e2t_deliver "$E2T_DIR/m$i.eml"
done
# A: a message without a recipient fails for good at the first send
printf 'From: %s@email2.test\nTo: undisclosed-recipients:;\nSubject: nobody\n\nno recipient\n' \
	"$E2T_USER" | queue "$GA" 1700000000.M1P1Q1.test
# B: a good message that stays queued (its connection fails)
printf 'From: b@email2.test\nTo: jane@example.org\nSubject: waits\n\nwaits\n' |
	queue "$GB" 1700000000.M2P2Q2.test

e2t_check "list before any sync: never" bash -c \
	"'$ACCOUNT' --store '$STORE' list | grep -F '$GA' | grep -q 'last sync never\$'"
sync_once
e2t_check "the first sync of A failed (its unsendable message)" bash -c \
	"'$ACCOUNT' --store '$STORE' list | grep -F '$GA' | grep -q 'failed: .*no recipient'"
# the second sync of A alone: nothing to send, nothing new: ok
sync_once --account "$GA"
acct list >"$E2T_DIR/list.txt" 2>"$E2T_DIR/list.err"
e2t_check "list exits 0, one line per account" test \
	"$?:$(wc -l <"$E2T_DIR/list.txt")" = "0:2"
e2t_check "A: GUID, NAME, REPLYADDR, service, servers, queue" grep -qF \
	"$GA  Work A  $E2T_USER@email2.test  IMAP4  in $E2T_HOST:$E2T_IMAPS_PORT  out $E2T_HOST:$E2T_SUBMISSIONS_PORT  queued 0  failed 1  last sync " \
	"$E2T_DIR/list.txt"
e2t_check "A: last sync ok" bash -c \
	"grep -F '$GA' '$E2T_DIR/list.txt' | grep -qE 'last sync [0-9T:-]+Z ok\$'"
e2t_check "B: queued 1, failed 0, the failed sync's error" bash -c \
	"grep -F '$GB' '$E2T_DIR/list.txt' | grep -E 'queued 1  failed 0  last sync [0-9T:-]+Z failed: .*(refused|connect)'"
acct --json list >"$E2T_DIR/list.json"
e2t_check "--json parses: A ok, 2 messages, 1 failed in the outbox" e2t_json \
	"$E2T_DIR/list.json" \
	"[x['guid'] for x in d] == ['$GA', '$GB'] and d[0]['status']['result'] == 'ok' and d[0]['messages'] == 2 and d[0]['failed'] == 1 and d[0]['queued'] == 0 and d[0]['status']['last_ok'] >= d[0]['status']['started'] > 0 and d[0]['name'] == 'Work A' and d[0]['service'] == 'IMAP4'"
e2t_check "--json: B failed with the connection error and its code" e2t_json \
	"$E2T_DIR/list.json" \
	"d[1]['status']['result'] == 'failed' and d[1]['status']['status'] in ('econnect', 'etimeout') and d[1]['status']['error'] != '' and d[1]['queued'] == 1 and d[1]['status']['last_ok'] == 0"

# show: every node, secrets masked (the password absent from both streams)
acct show "work a" >"$E2T_DIR/show.txt" 2>&1
e2t_check "show by NAME (any case) exits 0" test $? = 0
e2t_check "show lists the nodes, AUTHSECRET masked, the status" bash -c \
	"grep -qE '^  AUTHSECRET +\\*{8}\$' '$E2T_DIR/show.txt' && grep -qE '^  INSERVER +$E2T_HOST:$E2T_IMAPS_PORT\$' '$E2T_DIR/show.txt' && grep -q '^last sync .* ok\$' '$E2T_DIR/show.txt'"
acct --json show "$E2T_USER@EMAIL2.test" >"$E2T_DIR/show.json" 2>&1
e2t_check "show --json by REPLYADDR: nodes, mask, status" e2t_json \
	"$E2T_DIR/show.json" \
	"d['nodes']['AUTHSECRET'] == '********' and d['nodes']['NAME'] == 'Work A' and d['status']['result'] == 'ok'"
e2t_check "the secret appears in no output" bash -c \
	"! grep -qF -- '$E2T_PASS' '$E2T_DIR/show.txt' '$E2T_DIR/show.json' '$E2T_DIR/list.txt' '$E2T_DIR/list.json' '$E2T_DIR/list.err'"

# the daemon: its first runs, then a SIGUSR1 run, record what list shows
deliver() { # N..M
	local i
	for i in "$@"; do
		printf 'From: x@example.org\nTo: %s@email2.test\nSubject: m%s\n\nbody %s\n' \
			"$E2T_USER" "$i" "$i" >"$E2T_DIR/m$i.eml"
		e2t_deliver "$E2T_DIR/m$i.eml"
	done
}
lines() { # N: waits (bounded) until the daemon printed N JSON lines
	timeout 30 bash -c "until [ \"\$(wc -l <'$E2T_DIR/daemon.json')\" -ge $1 ]; do sleep 0.1; done"
}
deliver 3
: >"$E2T_DIR/daemon.json"
e2t_run sh -c 'echo $$ >"$0"; exec "$@"' "$E2T_DIR/syncd.pid" "$SYNCD" \
	--store "$STORE" --cafile "$E2T_CA" --json >"$E2T_DIR/daemon.json" \
	2>"$E2T_DIR/daemon.err" &
BG_PID=$!
timeout 10 bash -c "until [ -s '$E2T_DIR/syncd.pid' ]; do sleep 0.05; done" ||
	e2t_fatal "email2-syncd did not start"
SYNCD_PID=$(cat "$E2T_DIR/syncd.pid")
e2t_own "$SYNCD_PID"
e2t_check "the daemon syncs both accounts at its start (LINGER 15)" lines 2
deliver 4 5
kill -USR1 "$SYNCD_PID"
e2t_check "SIGUSR1: both synced again" lines 4
kill -TERM "$SYNCD_PID"
wait "$BG_PID"
acct --json list >"$E2T_DIR/list2.json"
e2t_check "list agrees with the daemon's SIGUSR1 run (counts, errors)" \
	"$E2T_PY" -c '
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lst = {x["guid"]: x for x in json.load(open(sys.argv[2]))}
last = {}
for r in runs:
    last[r["account"]] = r
a, b = lst[sys.argv[3]], lst[sys.argv[4]]
ra, rb = last[sys.argv[3]], last[sys.argv[4]]
ok = (a["status"]["result"] == "ok" and ra["status"] == "ok"
      and a["status"]["downloaded"] == ra["messages"] == 2
      and a["messages"] == 5
      and b["status"]["result"] == "failed"
      and b["status"]["status"] == rb["status"]
      and b["status"]["error"] == rb["error"] != "")
if not ok:
    print(json.dumps(runs, indent=1)[:2000]); print(json.dumps(lst, indent=1)[:2000])
sys.exit(0 if ok else 1)
' "$E2T_DIR/daemon.json" "$E2T_DIR/list2.json" "$GA" "$GB"

# remove without a terminal and without --yes: refused, nothing changes
acct list >/dev/null # the WAL checkpointed first
state >"$E2T_DIR/before"
acct remove "$GA" </dev/null >"$E2T_DIR/rm.out" 2>"$E2T_DIR/rm.err"
e2t_check "remove without a terminal or --yes exits 2" test $? = 2
e2t_check "... naming --yes, then one hint line" bash -c \
	"grep -q -- '--yes' '$E2T_DIR/rm.err' && tail -n 1 '$E2T_DIR/rm.err' | grep -q \"^Try 'email2-account --help'.\$\" && test \$(wc -l <'$E2T_DIR/rm.err') = 2"
state >"$E2T_DIR/after"
e2t_check "... and the store's rows and files are unchanged" \
	cmp "$E2T_DIR/before" "$E2T_DIR/after"

# an ambiguous NAME: refused, both named, both kept
provision "$GC" "Twin" "c@email2.test" "$E2T_HOST:1"
provision "$GD" "twin" "d@email2.test" "$E2T_HOST:1"
acct remove --yes Twin >"$E2T_DIR/rm.out" 2>"$E2T_DIR/rm.err"
e2t_check "an ambiguous NAME is refused (exit 1)" test $? = 1
e2t_check "... naming both GUIDs" bash -c \
	"grep -qF '$GC' '$E2T_DIR/rm.err' && grep -qF '$GD' '$E2T_DIR/rm.err'"
e2t_check "... and both stay" test "$(rows "$GC") $(rows "$GD")" = "12 12"

# remove by NAME with --yes
e2t_check "A has rows, a Maildir and a queue" test \
	"$(rows "$GA")" -gt 5 -a -d "$STORE/mail/$GA" -a -d "$STORE/outbox/$GA"
acct remove --yes "Work A" >"$E2T_DIR/rm.out" 2>"$E2T_DIR/rm.err"
e2t_check "remove --yes by NAME exits 0" test $? = 0
e2t_check "... saying what was removed" grep -q \
	"deleted; mail directory and queue removed, 1 queued message dropped" \
	"$E2T_DIR/rm.err"
e2t_check "... no row of A is left (sqlite3)" test "$(rows "$GA")" = 0
e2t_check "... its Maildir and queue are gone" test \
	! -e "$STORE/mail/$GA" -a ! -e "$STORE/outbox/$GA"
e2t_check "... the server keeps its mail" test \
	"$(e2t_doveadm search -u "$E2T_USER" mailbox INBOX ALL | wc -l)" = 5
# by lower-case bare GUID
bare=$(echo "$GB" | tr -d '{}' | tr 'A-F' 'a-f')
acct -q remove --yes "$bare" >"$E2T_DIR/rm.out" 2>"$E2T_DIR/rm.err"
e2t_check "remove --yes by lower-case bare GUID, -q: exit 0, silent" test \
	"$?:$(cat "$E2T_DIR/rm.out" "$E2T_DIR/rm.err")" = "0:"
e2t_check "... its rows and queue are gone" test \
	"$(rows "$GB")" = 0 -a ! -e "$STORE/outbox/$GB"
# answers typed on a terminal (script(1) gives the tool a pty)
if command -v script >/dev/null; then
	printf 'y\n' | e2t_run script -qec \
		"'$ACCOUNT' --store '$STORE' remove '$GC'" /dev/null \
		>"$E2T_DIR/tty.out" 2>&1
	e2t_check "on a terminal: asks, and 'y' removes" bash -c \
		"grep -qF 'remove $GC \"Twin\" and its mail (0 messages, 0 queued)? [y/N]' '$E2T_DIR/tty.out' && test \$(sqlite3 '$STORE/accounts.db' \"SELECT count(*) FROM accounts WHERE guid = '$GC'\") = 0"
	printf 'n\n' | e2t_run script -qec \
		"'$ACCOUNT' --store '$STORE' remove '$GD'" /dev/null \
		>"$E2T_DIR/tty.out" 2>&1
	e2t_check "on a terminal: 'n' keeps the account" test "$(rows "$GD")" = 12
else
	e2t_check_skip "remove on a terminal" "no script(1)"
fi
e2t_check "list shows what is left" bash -c \
	"test \"\$('$ACCOUNT' --store '$STORE' list | cut -c1-44)\" = '$GD  twin'"
e2t_finish
