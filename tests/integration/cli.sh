#!/bin/bash
# SPDX-License-Identifier: MIT
# cli.sh -- the command line every tool shares (issue 9): --help, --version,
# usage errors (one line and the hint, exit 2), a missing or damaged store
# (exit 1 naming the path, nothing created), every way to name an account,
# and against the harness Dovecot: plurals and the NAME in the summary, the
# progress line with totals on a terminal, SIGINT during --once (exit 3), a
# failed account named with -q (exit 1), the daemon's timestamped log lines.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"

TOOLS="email2-provision email2-conntest email2-syncd email2-outbox email2-sendmail
	email2-account"
for t in $TOOLS; do
	e2t_find_tool "$t" >/dev/null || e2t_skip "$t not built"
done
tool() { e2t_find_tool "$1"; }
VERSION=$(sed -n 's/^AC_INIT(\[email2\], *\[\([^]]*\)\].*/\1/p' \
	"$E2T_SRCDIR/../../configure.ac")
G='{C1C1C1C1-0000-4000-8000-000000000001}'
GQ='{C1C1C1C1-0000-4000-8000-000000000002}' # a second account (-q)

sync_setup "$G"
T=$E2T_DIR/cli
mkdir -p "$T"
printf 'From: %s@email2.test\nTo: b@email2.test\nSubject: s\n\nb\n' \
	"$E2T_USER" >"$T/msg.eml"

# run TOOL ARGS...: its stdout, stderr and status in $T/out $T/err $RC
run() {
	local t
	t=$(tool "$1")
	shift
	e2t_run "$t" "$@" >"$T/out" 2>"$T/err" <"${RUN_IN:-/dev/null}"
	RC=$?
	echo "\$ $t $* -> exit $RC"
	cat "$T/out" "$T/err" | head -n 20
}

# ---- --help, --version, usage errors: every tool --------------------------
for t in $TOOLS; do
	usage_rc=2
	[ "$t" = email2-sendmail ] && usage_rc=64 # sysexits EX_USAGE
	help_opts="-h --help"
	[ "$t" = email2-sendmail ] && help_opts=--help # -h is sendmail's
	for h in $help_opts; do
		e2t_check "$t $h: exit 0, the whole help on stdout" bash -c \
			"'$(tool $t)' $h >'$T/h.out' 2>'$T/h.err' &&
			 grep -q '^Usage: $t ' '$T/h.out' && [ ! -s '$T/h.err' ] &&
			 grep -q 'Exit status' '$T/h.out'"
	done
	ver_opts="-V --version"
	[ "$t" = email2-sendmail ] && ver_opts=--version
	for v in $ver_opts; do
		e2t_check "$t $v: exit 0, \"$t (email2) $VERSION\"" bash -c \
			"[ \"\$('$(tool $t)' $v)\" = '$t (email2) $VERSION' ]"
	done
	for bad in --bogus -Z --store; do
		[ "$t" = email2-sendmail ] && [ "$bad" = --store ] && continue
		run "$t" "$bad"
		e2t_check "$t $bad: exit $usage_rc, two lines: what, then the hint" \
			test "$RC $(wc -l <"$T/err") $(sed -n 2p "$T/err")" = \
			"$usage_rc 2 Try '$t --help'."
		e2t_check "$t $bad: the first line names the option" \
			grep -q "^$t: option '${bad}' " "$T/err"
	done
done
run email2-outbox frobnicate
e2t_check "email2-outbox unknown command: exit 2, one line and the hint" \
	test "$RC $(wc -l <"$T/err")" = "2 2"
run email2-syncd --once extra
e2t_check "email2-syncd unexpected argument: exit 2, one line and the hint" \
	test "$RC $(wc -l <"$T/err")" = "2 2"

# ---- man pages: one header form, the same sections --------------------------
for m in "$E2T_SRCDIR"/../../man/*.1; do
	n=$(basename "$m" .1)
	N=$(echo "$n" | tr 'a-z' 'A-Z')
	e2t_check "$n.1: .TH $N 1 DATE \"email2 $VERSION\" \"email2 Manual\"" \
		grep -Eq "^\\.TH $N 1 [0-9]{4}-[0-9]{2}-[0-9]{2} \"email2 $VERSION\" \"email2 Manual\"\$" "$m"
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT \
		FILES EXAMPLES "SEE ALSO"; do
		e2t_check "$n.1: has $sec" grep -q "^\\.SH $sec\$" "$m"
	done
done

# ---- a missing store: refused, named, nothing created ----------------------
# CMD per tool: what would use the store (provisioning a document is the one
# thing that creates one)
missing_cmds() {
	echo "email2-provision --set-option $G sent-copy=server"
	echo "email2-conntest $G"
	echo "email2-syncd --once"
	echo "email2-syncd"
	echo "email2-outbox list"
	echo "email2-account list"
	echo "email2-sendmail --account $G a@email2.test"
}
while read -r t args; do
	want=1 RUN_IN=
	[ "$t" = email2-sendmail ] && want=73 RUN_IN=$T/msg.eml # EX_CANTCREAT
	# shellcheck disable=SC2086 # args are words
	EMAIL2_HOME=$T/nostore run "$t" $args
	e2t_check "$t ${args%% *}: no store: exit $want, names the path and EMAIL2_HOME" \
		bash -c "[ $RC = $want ] && grep -Eq \"^([-0-9T:]+Z )?$t: no store at $T/nostore \\(EMAIL2_HOME\\): provision an account first\" '$T/err'"
	e2t_check "$t ${args%% *}: no store: nothing created" test ! -e "$T/nostore"
	# shellcheck disable=SC2086
	run "$t" --store "$T/nostore2" $args
	e2t_check "$t ${args%% *}: --store DIR missing: exit $want, names it" \
		bash -c "[ $RC = $want ] && grep -q 'no store at $T/nostore2' '$T/err' && [ ! -e '$T/nostore2' ]"
done < <(missing_cmds)

# ---- a damaged accounts.db: every tool and the daemon -----------------------
# the store for the rest: an account with a NAME and a REPLYADDR whose
# INSERVER is the harness Dovecot
sync_provision IMAP4 "$E2T_IMAPS_PORT" NAME="Work Mail" ||
	e2t_fatal "cannot provision"
cp -a "$STORE" "$T/good"
damage() { # HOW: a copy of the good store in $T/bad, accounts.db spoilt
	rm -rf "$T/bad"
	cp -a "$T/good" "$T/bad"
	rm -f "$T/bad/accounts.db-wal" "$T/bad/accounts.db-shm"
	case $1 in
	random) head -c 4096 /dev/urandom >"$T/bad/accounts.db" ;;
	truncated) truncate -s 4096 "$T/bad/accounts.db" ;;
	empty) : >"$T/bad/accounts.db" ;;
	esac
	sha256sum "$T/bad/accounts.db" >"$T/bad.sum"
}
damaged_cmds() {
	echo "email2-provision $E2T_DIR/acct.xml"
	missing_cmds
}
for how in random truncated empty; do
	what="damaged"
	[ "$how" = random ] && what="not a database"
	[ "$how" = empty ] && what="empty"
	while read -r t args; do
		# provisioning makes a schema in an empty file: that is a new store
		[ "$how" = empty ] && [ "$t" = email2-provision ] && continue
		want=1 RUN_IN=
		[ "$t" = email2-sendmail ] && want=73 RUN_IN=$T/msg.eml
		damage "$how"
		# shellcheck disable=SC2086
		run "$t" --store "$T/bad" $args
		e2t_check "$t ${args%% *}: $how accounts.db: exit $want, names the file, says what to do" \
			bash -c "[ $RC = $want ] && grep -q '$T/bad/accounts.db: $what.*restore it from a backup, or move it away and provision again' '$T/err'"
		e2t_check "$t ${args%% *}: $how accounts.db: not written" \
			sha256sum -c --quiet "$T/bad.sum"
	done < <(damaged_cmds)
done
RUN_IN=

# ---- naming an account --------------------------------------------------------
bare=${G#\{}
bare=${bare%\}}
lower=$(echo "$G" | tr 'A-Z' 'a-z')
for name in "$G" "$bare" "$lower" "%7B$bare%7D" "work mail" \
	"$E2T_USER@EMAIL2.TEST"; do
	run email2-provision --store "$STORE" --set-option "$name" \
		sent-copy=upload
	e2t_check "provision --set-option \"$name\": exit 0" test "$RC" = 0
	run email2-outbox --store "$STORE" --account "$name" list
	e2t_check "outbox --account \"$name\": exit 0" test "$RC" = 0
	run email2-conntest --store "$STORE" --cafile "$E2T_CA" --json "$name"
	e2t_check "conntest \"$name\": the account's incoming server tested" \
		e2t_json "$T/out" 'd["in"]["ok"]'
done
for t in "email2-provision --set-option nobody sent-copy=upload" \
	"email2-outbox --account nobody list" "email2-conntest nobody" \
	"email2-syncd --once --account nobody" "email2-account show nobody"; do
	# shellcheck disable=SC2086
	run ${t%% *} --store "$STORE" ${t#* }
	e2t_check "${t%% *}: unknown account: exit 1, names the store" bash -c \
		"[ $RC = 1 ] && grep -q 'account \"nobody\": .* in the store $STORE' '$T/err'"
done

# conntest -q: nothing when the test passes, one line per failed side
ct_in() { # HOST:PORT
	run email2-conntest -q --cafile "$E2T_CA" --timeout 5 --in "$1" \
		--user "$E2T_USER" --password-file "$E2T_PASSFILE"
}
ct_in "$E2T_HOST:$E2T_IMAPS_PORT"
e2t_check "conntest -q, the side passes: exit 0, nothing printed" \
	test "$RC $(cat "$T/out" "$T/err" | wc -c)" = "0 0"
ct_in "$E2T_HOST:$E2T_SPARE_PORT"
e2t_check "conntest -q, the side fails: exit 1, one line naming it" \
	bash -c "[ $RC = 1 ] && [ ! -s '$T/out' ] && [ \$(wc -l <'$T/err') = 1 ] &&
		grep -q '^email2-conntest: incoming $E2T_HOST: econnect: ' '$T/err'"

# ---- a sync: plurals, the NAME, -q ---------------------------------------------
msg() { # SUBJECT
	printf 'From: a@example.org\nTo: %s@email2.test\nSubject: %s\nMessage-ID: <%s@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n' \
		"$E2T_USER" "$1" "$1" >"$E2T_DIR/m.eml"
	e2t_deliver "$E2T_DIR/m.eml"
}
msg one || e2t_fatal "cannot deliver"
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA" --account "Work Mail"
e2t_check "one message: \"1 message,\", the NAME beside the GUID" \
	grep -q "^$G \"Work Mail\": ok, 1 message, " "$T/out"
msg two && msg three || e2t_fatal "cannot deliver"
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA"
e2t_check "two messages: \"2 messages,\"" \
	grep -q "^$G \"Work Mail\": ok, 2 messages, " "$T/out"
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA" --json
e2t_check "--json carries the NAME" e2t_json "$T/out" \
	'd["name"] == "Work Mail" and d["account"] == "'"$G"'"'
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA" -q
e2t_check "-q, every account synced: exit 0, nothing printed" \
	test "$RC $(cat "$T/out" "$T/err" | wc -c)" = "0 0"

# a second account whose server refuses: --once exits 1 and -q names it
GUID=$GQ sync_provision IMAP4 "$E2T_SPARE_PORT" NAME="Broken" ||
	e2t_fatal "cannot provision"
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA" -q --timeout 5
e2t_check "a failed account: exit 1, named with its NAME even with -q" \
	bash -c "[ $RC = 1 ] && [ ! -s '$T/out' ] &&
		grep -q '^email2-syncd: $GQ \"Broken\": econnect: ' '$T/err' &&
		! grep -q '$G' '$T/err'"

# ---- a big mailbox: progress with totals, SIGINT is exit 3 --------------------
BIG=3000
"$E2T_PY" - "$E2T_MAILDIR" "$BIG" <<'PY' || e2t_fatal "cannot write the mailbox"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(d, "new"), exist_ok=True)
body = "x" * 2000 + "\n"
for i in range(n):
    with open(os.path.join(d, "new", "%d.big%05d.cli" % (1700000000 + i, i)), "w") as f:
        f.write("From: a@example.org\nSubject: big %d\nMessage-ID: <big.%d@example.org>\n"
                "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n%s" % (i, i, body))
PY
chown -R --reference="$E2T_MAILDIR" "$E2T_MAILDIR"
local_n() { find "$MD/new" "$MD/cur" -type f | wc -l; }
before=$(local_n)
# stderr on a pseudo-terminal (script(1) records it), stdout to a file
cat >"$T/big.sh" <<EOF2
echo \$\$ >"$T/big.pid"
exec "$(tool email2-syncd)" --once --store "$STORE" --cafile "$E2T_CA" \\
	--account "Work Mail" --batch 50 >"$T/big.out"
EOF2
rm -f "$T/big.pid" "$T/big.rc"
(
	e2t_run script -qfec "sh '$T/big.sh'" "$T/tty.err" >/dev/null 2>&1
	echo $? >"$T/big.rc"
) &
BGP=$!
timeout 120 bash -c "until [ \$(find '$MD/new' '$MD/cur' -type f | wc -l) -ge $((before + 100)) ]; do sleep 0.02; done"
kill -INT "$(cat "$T/big.pid")"
wait "$BGP"
echo "exit $(cat "$T/big.rc" 2>/dev/null); $(local_n) local files"
cat "$T/big.out"
tr '\r' '\n' <"$T/tty.err" | grep -v '^$' | tail -n 5
e2t_check "SIGINT during --once: exit 3 (interrupted, partial)" \
	test "$(cat "$T/big.rc" 2>/dev/null)" = 3
e2t_check "SIGINT: some, not all, messages stored" \
	test "$(local_n)" -gt "$before" -a "$(local_n)" -lt "$((before + BIG))"
e2t_check "SIGINT: the summary says stopped, the NAME beside the GUID" \
	grep -q "^$G \"Work Mail\": ok, [0-9]* messages, .*, stopped" "$T/big.out"
e2t_check "SIGINT: stderr says the sync is partial" \
	grep -q "email2-syncd: interrupted by SIGINT: the sync is partial" "$T/tty.err"
e2t_check "progress on the terminal: the folder and its totals" \
	grep -Eq "$G \"Work Mail\": INBOX [1-9][0-9]*/$BIG, " "$T/tty.err"
run email2-syncd --once --store "$STORE" --cafile "$E2T_CA" --account "Work Mail"
e2t_check "the next --once completes: exit 0, the rest downloaded" \
	test "$RC $(local_n)" = "0 $((before + BIG))"
e2t_check "no progress line when stderr is not a terminal" \
	bash -c "! grep -q 'INBOX [0-9]*/' '$T/err'"

# ---- the daemon's log lines --------------------------------------------------
daemon() { # HOW: "journal" makes JOURNAL_STREAM name stderr
	rm -f "$T/d.pid"
	e2t_run bash -c '
		echo $$ >"$1"
		[ "$2" = journal ] &&
			export JOURNAL_STREAM=$(stat -L -c "%d:%i" /proc/$$/fd/2)
		shift 2
		exec "$@"' sh "$T/d.pid" "$1" "$(tool email2-syncd)" \
		--store "$STORE" --cafile "$E2T_CA" --account "Work Mail" \
		>"$T/d.out" 2>"$T/d.err" &
	local bg=$! pid
	# bounded waits, and never a hang: a slow start (a loaded machine,
	# ASan) is a failed check, not a test killed by its timeout
	timeout 120 bash -c "until [ -s '$T/d.pid' ] && grep -q ' ok, ' '$T/d.out' 2>/dev/null; do sleep 0.1; done"
	pid=$(cat "$T/d.pid" 2>/dev/null)
	kill -TERM "${pid:-$bg}" 2>/dev/null
	timeout 30 bash -c "while kill -0 $bg 2>/dev/null; do sleep 0.1; done" ||
		kill -KILL "$bg" 2>/dev/null
	wait "$bg"
	RC=$?
	cat "$T/d.out" "$T/d.err"
}
ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
daemon file
e2t_check "daemon, stderr a file: SIGTERM exits 0" test "$RC" = 0
e2t_check "daemon: a timestamped start line" grep -Eq \
	"^$ts email2-syncd: started \\(pid [0-9]+\\), store $STORE, 1 account to sync$" \
	"$T/d.err"
e2t_check "daemon: each run timestamped, with the NAME" grep -Eq \
	"^$ts \\{[^}]*\\} \"Work Mail\": ok, 0 messages, " "$T/d.out"
e2t_check "daemon: a timestamped stop line" grep -Eq \
	"^$ts email2-syncd: stopped by SIGTERM$" "$T/d.err"
daemon journal
e2t_check "daemon under the journal: start and stop lines, no timestamps" \
	bash -c "grep -q '^email2-syncd: started ' '$T/d.err' &&
		grep -q '^email2-syncd: stopped by SIGTERM' '$T/d.err' &&
		grep -q '^{' '$T/d.out'"

e2t_finish
