#!/bin/bash
# SPDX-License-Identifier: MIT
# syncd-daemon.sh -- email2-syncd without --once against the harness Dovecot:
# LINGER 0 waits for SIGUSR1, two accounts synced by parallel workers,
# SIGHUP picks up a new account, SIGTERM stops mid-sync and exits 0, and a
# following --once completes the run without fetching anything twice.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
G1='{5A1E0C2D-3333-4A2B-8C3D-000000000001}' # IMAP4
G2='{5A1E0C2D-3333-4A2B-8C3D-000000000002}' # POP3
G3='{5A1E0C2D-3333-4A2B-8C3D-000000000003}' # IMAP4, added later
sync_setup "$G1"
COMPARE=$E2T_SRCDIR/sync-compare.py
OUT=$E2T_DIR/daemon.json
ERR=$E2T_DIR/daemon.err
SERVER=0 # messages in the server's INBOX

# deliver N PREFIX: N small messages into INBOX
deliver() {
	local i
	for i in $(seq 1 "$1"); do
		printf 'From: a@example.org\nTo: %s@email2.test\nSubject: %s %d\nMessage-ID: <%s.%d@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n%s\n' \
			"$E2T_USER" "$2" "$i" "$2" "$i" \
			"$(head -c 3000 /dev/zero | tr '\0' x)" \
			>"$E2T_DIR/msg.eml"
		e2t_deliver "$E2T_DIR/msg.eml" || return 1
	done
	SERVER=$((SERVER + $1))
}

provision() { # GUID TYPE PORT
	GUID=$1 sync_provision "$2" "$3" LINGER=0
}

start() { sync_daemon_start --batch 4 --jobs 2; }
lines() { sync_lines "$@"; }
line_json() { sync_line_json "$@"; }

# sum_json GUID EXPR: EXPR over s, the messages of GUID summed over FILEs
sum_json() {
	local guid=$1 expr=$2
	shift 2
	"$E2T_PY" -c '
import json, sys
s = 0
for f in sys.argv[3:]:
    for l in open(f):
        d = json.loads(l)
        if d["account"] == sys.argv[1]:
            s += d["messages"]
ok = eval(sys.argv[2])
print("messages of", sys.argv[1], "=", s)
sys.exit(0 if ok else 1)
' "$guid" "$expr" "$@"
}

compare() { # GUID
	"$E2T_PY" "$COMPARE" "$E2T_ADDR" "$E2T_IMAPS_PORT" "$E2T_USER" \
		"$E2T_PASSFILE" "$E2T_CA" "$STORE/mail/$1"
}

# pop3_count GUID: the POP3 account's Maildir holds the server's count
pop3_count() {
	local n
	n=$(find "$STORE/mail/$1/new" "$STORE/mail/$1/cur" -type f | wc -l)
	echo "local $n, server $SERVER"
	[ "$n" = "$SERVER" ]
}

no_tmp() { # GUID...
	local g
	for g in "$@"; do
		[ -z "$(ls -A "$STORE/mail/$g/tmp" 2>/dev/null)" ] || return 1
	done
}

alive() { kill -0 "$SYNCD_PID" 2>/dev/null; }

deliver 5 first || e2t_fatal "cannot deliver"
provision "$G1" IMAP4 "$E2T_IMAPS_PORT" || e2t_fatal "provision $G1"
provision "$G2" POP3 "$E2T_POP3S_PORT" || e2t_fatal "provision $G2"

start
sleep 1.5
e2t_check "daemon runs in the foreground" alive
e2t_check "LINGER 0: nothing synced before SIGUSR1" test ! -s "$OUT"

kill -USR1 "$SYNCD_PID"
e2t_check "SIGUSR1: both accounts synced" lines 2
e2t_check "both lines ok with 5 messages" bash -c "
	$(declare -f line_json sync_line_json e2t_json); E2T_DIR='$E2T_DIR' OUT='$OUT' E2T_PY='$E2T_PY'
	line_json 1 'd[\"status\"] == \"ok\" and d[\"messages\"] == 5' &&
	line_json 2 'd[\"status\"] == \"ok\" and d[\"messages\"] == 5'"
e2t_check "one line per account" sum_json "$G1" 's == 5' "$OUT"
e2t_check "the POP3 account too" sum_json "$G2" 's == 5' "$OUT"

deliver 1 second || e2t_fatal "cannot deliver"
sleep 1
e2t_check "no sync without a signal" lines 2
kill -USR1 "$SYNCD_PID"
e2t_check "SIGUSR1 again: two more lines" lines 4
e2t_check "the new message arrived (IMAP4)" sum_json "$G1" 's == 6' "$OUT"
e2t_check "the new message arrived (POP3)" sum_json "$G2" 's == 6' "$OUT"
e2t_check "IMAP4 maildir equals the server" compare "$G1"

provision "$G3" IMAP4 "$E2T_IMAPS_PORT" || e2t_fatal "provision $G3"
kill -HUP "$SYNCD_PID"
e2t_check "SIGHUP re-reads the accounts" timeout 10 bash -c \
	"until grep -q 're-read, 3 to sync' '$ERR'; do sleep 0.1; done"
e2t_check "a new LINGER 0 account waits for SIGUSR1" \
	bash -c "sleep 1; [ \"\$(wc -l <'$OUT')\" = 4 ]"
kill -USR1 "$SYNCD_PID"
e2t_check "SIGUSR1 after SIGHUP: three more lines" lines 7
e2t_check "the new account downloaded everything" sum_json "$G3" 's == 6' "$OUT"
e2t_check "the old ones nothing new" \
	bash -c "tail -n 3 '$OUT' | grep -v '$G3' | grep -c '\"messages\":0,' | grep -qx 2"

# SIGTERM in the middle of a sync of 40 new messages (batches of 4)
deliver 40 third || e2t_fatal "cannot deliver"
kill -USR1 "$SYNCD_PID"
timeout 10 bash -c "until [ \"\$(ls '$STORE/mail/$G1/new' | wc -l)\" -gt 8 ]; do sleep 0.02; done"
kill -TERM "$SYNCD_PID"
stopped() {
	timeout 10 bash -c "while kill -0 $SYNCD_PID 2>/dev/null; do sleep 0.05; done"
}
e2t_check "SIGTERM: stops within 10 s" stopped
wait "$BG_PID"
rc=$?
e2t_check "SIGTERM: exit status 0 (was $rc)" test "$rc" = 0
e2t_check "no tmp/ leftovers" no_tmp "$G1" "$G2" "$G3"
e2t_check "nothing on stderr but the start, reload and stop lines" \
	bash -c "! grep -v -e 're-read' -e 'email2-syncd: started ' \
		-e 'email2-syncd: stopped by SIGTERM' '$ERR'"
e2t_check "JSON lines stay whole" "$E2T_PY" -c '
import json, sys
for l in open(sys.argv[1]):
    json.loads(l)' "$OUT"
cp "$OUT" "$E2T_DIR/daemon1.json"

e2t_check "a following --once exits 0" sync_once
for g in "$G1" "$G2" "$G3"; do
	e2t_check "$g: daemon + --once fetched each message once" \
		sum_json "$g" "s == $SERVER" "$E2T_DIR/daemon1.json" \
		"$E2T_DIR/sync.json"
done
e2t_check "IMAP4 account equals the server" compare "$G1"
e2t_check "the added account equals the server" compare "$G3"
e2t_check "POP3 account holds the server's count" pop3_count "$G2"

e2t_finish
