#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-twoway.sh [N_UP N_MOVE N_NOOP] -- email2-syncd against mbsync on
# what a user does in the Maildir (issue 8), default 2000 1000 20000
#
# Starts the integration harness (tests/integration/lib.sh: a private Dovecot,
# in a network namespace when run as root) and gives each client its own
# server users (e2up/mbup, e2mv/mbmv, e2nc/mbnc), filled with
# tests/bench/gen-mailbox.py (deterministic). Both clients keep the same
# Maildir++ layout (INBOX at the root, folder X in .X), so the same file
# operations apply. For each client, over implicit TLS:
#   upload  N_UP messages written into a fresh local folder .Upload of a
#           synced account (gen-mailbox.py --folder Upload, a mix of new/
#           and cur/:2,S); one timed sync pushes them. Right result: the
#           server folder Upload holds exactly N_UP messages.
#   move    N_MOVE messages, downloaded from the server's INBOX (an empty
#           server folder Work beside it), renamed from the root's cur/ and
#           new/ into .Work/cur/ (":2," info kept or added) the way each
#           client asks a mail client to move files: for email2 with the
#           same unique name (its U= tag names the source, reconcile.h
#           R7), for mbsync without its ",U=<uid>" field (its manual: a
#           moved file with a stale U= confuses it, it then loses the
#           message); one timed sync. Right result: Work holds
#           N_MOVE messages and INBOX none that is not \Deleted. The bytes
#           the client sent show whether the move re-uploaded the messages
#           (their size is printed beside) or moved them on the server.
#   noop    a no-change resync at N_NOOP messages with the two-way rules on
#           (email2's defaults; mbsync Sync All): after the untimed
#           download and one untimed resync (email2 stores its Maildir
#           stamps there, see engine/syncstate.h), the median of
#           BENCH_NOOP_RUNS timed runs, each 2.5 s after the one before
#           (past mbsync's clock-tick wait and email2's 2 s stamp rule).
#           Right result: N_NOOP files locally, N_NOOP on the server.
# Every run must give the right result, or its row says "FAIL: wrong
# result" with what was found: a benchmark that times a failed run is worse
# than none. (On main before issue 8's IMAP upload and move code, email2's
# upload and move rows say FAIL: that is the point of the rows.)
#
# Columns: wall seconds; client bytes sent (Dovecot's "in=" summed over the
# logouts during the run: the IMAP bytes after login, TLS not counted);
# peak RSS (/usr/bin/time %M); e2/mbsync: email2's value over mbsync's
# for time, bytes and RSS (below 1: email2 faster / smaller). The table is
# also appended to $BENCH_RESULTS (default /tmp/email2-bench-twoway.md).
#
# mbsync's channel: Far :remote: Near :local: Patterns * Create Both
# Expunge Both Sync All SyncState * (FSync yes, its default): the
# two-way mirror a user of mbsync runs. It sees a moved file as a new
# message in Work (uploaded) and a delete in INBOX (expunged).
#
# It builds nothing: point E2_TOP_BUILDDIR at a release build, e.g.
#	mkdir -p _build/bench && cd _build/bench && ../../configure && make -j2
#	E2_TOP_BUILDDIR=$PWD ../../tests/bench/bench-twoway.sh 200 100 2000
# (no --enable-sanitizers: ASan doubles the time and triples the RSS).
# Clients: mbsync from isync (apt-get install -y isync); without it, only
# email2's rows are printed. Shared shell: tests/bench/bench-lib.sh.
#
# Env: BENCH_CLIENTS (default "email2 mbsync"), BENCH_NOOP_RUNS (3),
# BENCH_TIMEOUT (1800 s per run), BENCH_SEED (42), BENCH_GEN_ARGS (extra
# gen-mailbox.py options, default "--attach-ratio 0.02 --attach-max
# 500000"), BENCH_RESULTS, E2T_KEEP=1 (keep the harness directory). Not run
# by make check.
set -u
N_UP=${1:-2000}
N_MV=${2:-1000}
N_NC=${3:-20000}
for n in "$N_UP" "$N_MV" "$N_NC"; do
	case $n in
	'' | *[!0-9]* | 0)
		echo "usage: $0 [N_UP N_MOVE N_NOOP]" >&2
		exit 2
		;;
	esac
done
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091 # sourced from the source tree
. "$BENCH_DIR/../integration/lib.sh"
# shellcheck disable=SC1091
. "$E2T_SRCDIR/harness/sync.sh"
# shellcheck disable=SC1091
. "$BENCH_DIR/bench-lib.sh"

CLIENTS=${BENCH_CLIENTS:-email2 mbsync}
NOOP_RUNS=${BENCH_NOOP_RUNS:-3}
RESULTS=${BENCH_RESULTS:-/tmp/email2-bench-twoway.md}
SEED=${BENCH_SEED:-42}
GEN_ARGS=${BENCH_GEN_ARGS:---attach-ratio 0.02 --attach-max 500000}
GEN=$BENCH_DIR/gen-mailbox.py

[ -n "${E2_TOP_BUILDDIR:-}" ] ||
	e2t_skip "set E2_TOP_BUILDDIR to a release build (see the header)"
[ -x /usr/bin/time ] || e2t_skip "missing /usr/bin/time (package time)"
e2t_require timeout find

want() { [[ " $CLIENTS " == *" $1 "* ]]; }

sync_setup '{B3AC0000-0000-4000-8000-0000000000a0}'
bench_init
ROWS=$WORK/rows.tsv
: >"$ROWS"

# ---- the server users ---------------------------------------------------------

# fill USER N SEED [gen-mailbox args]: N generated messages into USER's
# Maildir; prints gen-mailbox.py's JSON line
fill() {
	local user=$1 n=$2 seed=$3
	shift 3
	# shellcheck disable=SC2086 # GEN_ARGS: words on purpose
	"$E2T_PY" "$GEN" --maildir "$E2T_DIR/mail/$user/Maildir" -n "$n" \
		--seed "$seed" --to "$user@email2.test" $GEN_ARGS "$@"
}

json_bytes() { "$E2T_PY" -c 'import json, sys; print(json.loads(sys.argv[1])["bytes"])' "$1"; }

echo "# generating the server mailboxes ($N_MV + $N_MV + $N_NC + $N_NC messages)"
for c in e2 mb; do
	for k in up mv nc; do
		e2t_add_user "$c$k" "$E2T_PASS"
	done
	MV_JSON=$(fill "${c}mv" "$N_MV" "$SEED") || e2t_fatal "cannot fill ${c}mv"
	fill "${c}nc" "$N_NC" $((SEED + 1)) >/dev/null ||
		e2t_fatal "cannot fill ${c}nc"
done
MV_BYTES=$(json_bytes "$MV_JSON")
chown -R "$E2T_MAIL_UID:$E2T_MAIL_GID" "$E2T_DIR/mail"
# Dovecot notices a changed users file by its mtime (whole seconds)
sleep 1.1
touch "$E2T_DIR/etc/users"
for c in e2 mb; do
	e2t_doveadm mailbox create -u "${c}mv" Work ||
		e2t_fatal "cannot create ${c}mv's Work"
	for u in "${c}mv" "${c}nc"; do
		e2t_doveadm force-resync -u "$u" INBOX &&
			e2t_doveadm index -u "$u" INBOX ||
			e2t_fatal "doveadm cannot index $u's INBOX"
	done
done

# srv_count USER MAILBOX: messages not \Deleted, "none" without the mailbox
srv_count() {
	e2t_doveadm mailbox status -u "$1" messages "$2" >/dev/null 2>&1 || {
		echo none
		return
	}
	e2t_doveadm search -u "$1" mailbox "$2" UNDELETED 2>/dev/null | wc -l
}

# ---- the clients ----------------------------------------------------------------

# client_prepare CLIENT CASE USER: sets ROOT (the Maildir root) and CMD
# (the sync command) for CLIENT's account of USER
client_prepare() {
	local client=$1 kase=$2 user=$3 d=$WORK/$1-$2
	mkdir -p "$d"
	case $client in
	email2)
		STORE=$d/store
		GUID=$(printf '{B3AC0000-0000-4000-8000-%012d}' \
			"$(printf '%d' "'${kase:0:1}")")
		export GUID
		E2T_USER=$user sync_provision IMAP4 "$E2T_IMAPS_PORT" ||
			e2t_fatal "email2-provision failed"
		ROOT=$STORE/mail/$GUID
		CMD=("${SYNCD_ENV[@]}" "$SYNCD_BIN" --once --quiet --store
			"$STORE" --cafile "$E2T_CA")
		;;
	mbsync)
		mkdir -p "$d/mail"
		bench_mbsyncrc "$d/mbsyncrc" yes "$user" "$d/mail" maildir++
		cat >>"$d/mbsyncrc" <<EOF
Channel bench
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Sync All
SyncState *
EOF
		ROOT=$d/mail
		CMD=(mbsync -c "$d/mbsyncrc" -q -a)
		;;
	esac
}

prefix() { # CLIENT: its users' prefix
	case $1 in
	email2) echo e2 ;;
	*) echo mb ;;
	esac
}

# row CASE CLIENT OK: one table row from the last run1
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$R_WALL" "$R_IN" \
		"$R_RSS" "$3" >>"$ROWS"
	printf '# %-6s %-7s %ss, %s bytes sent, %s KB: %s\n' "$1" "$2" \
		"$R_WALL" "$R_IN" "$R_RSS" "$3"
}

# untimed CLIENT CASE: the preparing sync (not in the table)
untimed() {
	local rc
	e2t_run timeout "$TOOL_TIMEOUT" "${CMD[@]}" \
		>"$WORK/$1-$2-prep.log" 2>&1
	rc=$?
	[ "$rc" = 0 ] ||
		echo "# $1 $2: the preparing sync exited $rc: $(tail -n 1 "$WORK/$1-$2-prep.log")"
}

# (a) upload
case_upload() {
	local client=$1 user=$(prefix "$1")up got ok=ok
	client_prepare "$client" upload "$user"
	untimed "$client" upload
	fill_local() {
		"$E2T_PY" "$GEN" --maildir "$ROOT" --folder Upload -n "$N_UP" \
			--seed $((SEED + 2)) --to "$user@email2.test" \
			${GEN_ARGS} >/dev/null
	}
	fill_local || e2t_fatal "cannot write the local messages"
	sleep 2.5
	run1 "$client" upload "${CMD[@]}"
	got=$(srv_count "$user" Upload)
	[ "$R_RC" = 0 ] || ok="FAIL: exit $R_RC"
	[ "$got" = "$N_UP" ] ||
		ok="FAIL: wrong result (server Upload holds $got, not $N_UP)"
	row upload "$client" "$ok"
}

# (b) move
# move_local ROOT N keep|strip: N root messages renamed into .Work/cur;
# strip drops mbsync's ",U=<uid>" field from the name, as mbsync's manual
# asks of a mail client that moves files ("Mutt always does that")
move_local() {
	local f n k=0
	mkdir -p "$1/.Work/cur" "$1/.Work/new" "$1/.Work/tmp"
	for f in "$1"/cur/* "$1"/new/*; do
		[ -f "$f" ] || continue
		[ "$k" -lt "$2" ] || break
		n=$(basename "$f")
		[ "$3" = strip ] && n=$(echo "$n" | sed -E 's/,U=[0-9]+//')
		case $n in
		*:2,*) mv "$f" "$1/.Work/cur/$n" ;;
		*) mv "$f" "$1/.Work/cur/$n:2," ;;
		esac
		k=$((k + 1))
	done
	[ "$k" = "$2" ]
}

case_move() {
	local client=$1 user=$(prefix "$1")mv inbox work ok=ok how
	client_prepare "$client" move "$user"
	untimed "$client" move
	how=keep
	[ "$client" = mbsync ] && how=strip
	move_local "$ROOT" "$N_MV" "$how" ||
		e2t_fatal "$client: fewer than $N_MV messages downloaded"
	sleep 2.5
	run1 "$client" move "${CMD[@]}"
	inbox=$(srv_count "$user" INBOX)
	work=$(srv_count "$user" Work)
	[ "$R_RC" = 0 ] || ok="FAIL: exit $R_RC"
	[ "$inbox" = 0 ] && [ "$work" = "$N_MV" ] ||
		ok="FAIL: wrong result (server INBOX $inbox, Work $work; want 0, $N_MV)"
	row move "$client" "$ok"
}

# (c) no-change resync
case_noop() {
	local client=$1 user=$(prefix "$1")nc ok=ok walls=() ins=() rss=0 i got srv
	client_prepare "$client" noop "$user"
	untimed "$client" noop
	for i in $(seq 0 "$NOOP_RUNS"); do
		sleep 2.5
		run1 "$client" noop "${CMD[@]}"
		[ "$R_RC" = 0 ] || ok="FAIL: exit $R_RC"
		[ "$i" = 0 ] && continue # email2 stores its stamps here
		walls+=("$R_WALL")
		ins+=("$R_IN")
		[ "$R_RSS" -gt "$rss" ] && rss=$R_RSS
	done
	got=$(count_msgs "$ROOT")
	srv=$(srv_count "$user" INBOX)
	[ "$got" = "$N_NC" ] && [ "$srv" = "$N_NC" ] ||
		ok="FAIL: wrong result ($got local, $srv on the server; want $N_NC)"
	R_WALL=$(printf '%s\n' "${walls[@]}" | sort -n |
		sed -n "$(((NOOP_RUNS + 1) / 2))p")
	R_IN=$(printf '%s\n' "${ins[@]}" | sort -n |
		sed -n "$(((NOOP_RUNS + 1) / 2))p")
	R_RSS=$rss
	row noop "$client" "$ok"
}

# ---- the runs -----------------------------------------------------------------------

echo "# N_UP=$N_UP N_MOVE=$N_MV N_NOOP=$N_NC, $(nproc) cores," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# the $N_MV messages to move are $MV_BYTES bytes: a move that" \
	"re-uploads sends at least that"
have_mbsync=1
command -v mbsync >/dev/null || have_mbsync=0
for kase in upload move noop; do
	for client in email2 mbsync; do
		want "$client" || continue
		if [ "$client" = mbsync ] && [ "$have_mbsync" = 0 ]; then
			printf '%s\tmbsync\t0\t0\t0\tskipped: no mbsync (isync)\n' \
				"$kase" >>"$ROWS"
			continue
		fi
		"case_$kase" "$client"
	done
done

# ---- the table ------------------------------------------------------------------------

TABLE=$("$E2T_PY" - "$ROWS" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
e2 = {k: (float(w), int(b), int(r)) for k, c, w, b, r, ok in rows
      if c == "email2" and ok == "ok"}
out = ["| run | client | wall s | client bytes sent | peak RSS MB "
       "| e2/mbsync time | e2/mbsync bytes | e2/mbsync RSS | check |",
       "|---|---|---:|---:|---:|---:|---:|---:|---|"]
for k, c, w, b, r, ok in rows:
    w, b, r = float(w), int(b), int(r)
    rt = rb = rr = "-"
    e = e2.get(k)
    if c == "mbsync" and e and ok == "ok":
        rt = f"{e[0] / w:.2f}" if w > 0 else "-"
        rb = f"{e[1] / b:.2f}" if b > 0 else "-"
        rr = f"{e[2] / r:.2f}" if r > 0 else "-"
    out.append(f"| {k} | {c} | {w:.2f} | {b} | {r / 1024:.1f} | {rt} "
               f"| {rb} | {rr} | {ok} |")
print("\n".join(out))
EOF
)
echo
echo "$TABLE"
echo
echo "e2/mbsync: email2-syncd's value over mbsync's, same run (below 1:" \
	"email2 faster / smaller); shown only when both runs were right."

{
	echo
	echo "## bench-twoway.sh $N_UP $N_MV $N_NC -- $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- host: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)); harness $E2T_MODE"
	echo "- email2: $(git -C "$BENCH_DIR" describe --always --dirty 2>/dev/null), build $E2_TOP_BUILDDIR"
	echo "- dovecot $(dovecot --version 2>/dev/null); mbsync: $(mbsync --version 2>&1 | head -n 1)"
	echo "- the $N_MV messages moved: $MV_BYTES bytes"
	bench_results "$TABLE"
} >>"$RESULTS"
bench_exit 6
