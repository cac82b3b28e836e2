#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-sync.sh [N] -- email2-syncd against mbsync, offlineimap, fetchmail and
# getmail on the same generated Dovecot mailbox (default N=20000, ~1 GB)
#
# Starts the integration harness (tests/integration/lib.sh: a private Dovecot,
# in a network namespace when run as root), writes N messages of
# tests/bench/gen-mailbox.py (deterministic, realistic size mix) straight
# into the harness user's INBOX Maildir and lets Dovecot index them. Then, for
# each client, over implicit TLS to mail.email2.test with the test CA:
#   full   download of the whole INBOX into a fresh local Maildir
#   noop1  the same sync again with nothing new (email2 has no Maildir
#          stamp yet: the download's own changes were too fresh to stamp,
#          so it reads every state row and file name and stores one; see
#          engine/syncstate.h)
#   noop   BENCH_NOOP_RUNS more of those (median wall time, largest RSS):
#          the steady state of a client run every few minutes
# Each no-change run starts 2.5 s after the one before: past mbsync's
# clock-tick wait and email2's 2 s stamp rule.
# IMAP: email2-syncd, mbsync (default FSync yes, and FSync no), offlineimap3.
# POP3: email2-syncd, fetchmail (+ a tiny Maildir MDA), getmail6 (as the
# user nobody when run as root: getmail refuses to deliver as root).
# Every run must leave exactly N message files, or its row says FAIL: a
# benchmark that times a failed run is worse than none.
#
# Prints a table: wall seconds, messages/s, MB/s (10^6 bytes of the generated
# files), peak RSS (largest single process, /usr/bin/time %M, MDA children
# included), client and server (Dovecot) CPU seconds, and email2's ratio to
# each client of the same protocol and run: "e2/x time" 0.5 means email2
# took half the time. The table is also appended to $BENCH_RESULTS (default
# /tmp/email2-bench-sync.md).
#
# It builds nothing: point E2_TOP_BUILDDIR at a release build, e.g.
#	mkdir -p _build/bench && cd _build/bench && ../../configure && make -j2
#	E2_TOP_BUILDDIR=$PWD ../../tests/bench/bench-sync.sh 2000
# (no --enable-sanitizers: ASan doubles the time and triples the RSS).
# Clients: scripts/install-deps.sh --bench (isync fetchmail getmail6
# offlineimap3 time); a missing client is skipped with a note.
#
# Env: BENCH_CLIENTS (default "email2-imap mbsync mbsync-nofsync
# offlineimap email2-pop3 fetchmail getmail"), BENCH_NOOP_RUNS (3),
# BENCH_TIMEOUT (1800 s per run), BENCH_VERIFY (1: after email2's IMAP full
# download, sync-compare.py checks its Maildir byte for byte, untimed),
# BENCH_SEED (42), BENCH_RESULTS, BENCH_RUN_AS (nobody), E2T_KEEP=1 (keep
# the harness directory and the clients' Maildirs), BENCH_GETMAIL_FIX (1:
# getmail runs through a launcher that works around getmail6's lost-SIGCHLD
# stall, see getmail-waitfix below; 0: plain getmail), BENCH_E2_WRAP (a
# command prefix for the email2-syncd runs, for profiling: "strace -c -f -o
# FILE", "perf record -g -o FILE"; its timings then mean little). Not run by
# make check.
set -u
N=${1:-20000}
case $N in
'' | *[!0-9]*)
	echo "usage: $0 [N]" >&2
	exit 2
	;;
esac
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091 # sourced from the source tree
. "$BENCH_DIR/../integration/lib.sh"
# shellcheck disable=SC1091
. "$E2T_SRCDIR/harness/sync.sh"
# shellcheck disable=SC1091
. "$BENCH_DIR/bench-lib.sh"

CLIENTS=${BENCH_CLIENTS:-email2-imap mbsync mbsync-nofsync offlineimap email2-pop3 fetchmail getmail}
NOOP_RUNS=${BENCH_NOOP_RUNS:-3}
RESULTS=${BENCH_RESULTS:-/tmp/email2-bench-sync.md}
SEED=${BENCH_SEED:-42}
RUN_AS=${BENCH_RUN_AS:-nobody}
GUID_IMAP='{B3AC0000-0000-4000-8000-000000000001}'
GUID_POP3='{B3AC0000-0000-4000-8000-000000000002}'

[ -n "${E2_TOP_BUILDDIR:-}" ] ||
	e2t_skip "set E2_TOP_BUILDDIR to a release build (see the header)"
[ -x /usr/bin/time ] || e2t_skip "missing /usr/bin/time (package time)"
e2t_require timeout find

want() { [[ " $CLIENTS " == *" $1 "* ]]; }

sync_setup "$GUID_IMAP"
bench_init
# maildir-mda MAILDIR: a minimal MDA for fetchmail, stdin -> tmp/ -> new/
cat >"$BIN/maildir-mda" <<'EOF'
#!/bin/bash
f="${EPOCHREALTIME/./_}.P$$R$RANDOM.fetchmail"
cat >"$1/tmp/$f" && exec mv "$1/tmp/$f" "$1/new/$f"
EOF
# getmail-waitfix: getmail6 (6.18) forks its Maildir delivery child before
# it installs its SIGCHLD handler, and waits for a notification that a child
# which exited early never sends (getmail6 issue #226): on a busy machine a
# run stalls for its socket timeout (180 s) and aborts. This launcher waits
# with waitpid() instead, as getmail did before 6.12; nothing else changes.
cat >"$BIN/getmail-waitfix" <<'EOF'
#!/usr/bin/python3
import os, runpy, sys
from getmailcore import baseclasses as b
from getmailcore.exceptions import getmailOperationError


def wait_for_child(self, childpid):
    pid, st = os.waitpid(childpid, 0)
    if not os.WIFEXITED(st):
        raise getmailOperationError("child pid %d failed to exit" % pid)
    return os.WEXITSTATUS(st)


b.ForkingBase._prepare_child = lambda self: None
b.ForkingBase._wait_for_child = wait_for_child
sys.argv[0] = "/usr/bin/getmail"
runpy.run_path("/usr/bin/getmail", run_name="__main__")
EOF
chmod 755 "$BIN/maildir-mda" "$BIN/getmail-waitfix"

# ---- the mailbox ------------------------------------------------------------

echo "# generating $N messages into the server Maildir"
GEN_JSON=$("$E2T_PY" "$BENCH_DIR/gen-mailbox.py" --maildir "$E2T_MAILDIR" \
	-n "$N" --seed "$SEED" --to "$E2T_USER@email2.test") ||
	e2t_fatal "gen-mailbox.py failed"
# Dovecot's mail processes run as the mail user (nobody when root)
chown -R "$E2T_MAIL_UID:$E2T_MAIL_GID" "$E2T_DIR/mail/$E2T_USER"
e2t_doveadm force-resync -u "$E2T_USER" INBOX ||
	e2t_fatal "doveadm force-resync failed"
e2t_doveadm index -u "$E2T_USER" INBOX || e2t_fatal "doveadm index failed"
server_count() {
	e2t_doveadm -f tab mailbox status -u "$E2T_USER" messages INBOX |
		awk 'END { print $NF }'
}
got=$(server_count)
[ "$got" = "$N" ] || e2t_fatal "Dovecot sees $got messages, not $N"
BYTES=$("$E2T_PY" -c 'import json, sys; print(json.loads(sys.argv[1])["bytes"])' \
	"$GEN_JSON")
echo "# mailbox: $GEN_JSON"

# ---- measuring ----------------------------------------------------------------

ROWS=$WORK/rows.tsv
: >"$ROWS"
# run_case NAME PROTO COUNTDIR CMD...: the full download, the first
# no-change resync, then NOOP_RUNS more (median wall time, largest RSS);
# one row each
run_case() {
	local name=$1 proto=$2 cdir=$3 got ok walls=() rss=0 cpu srv rc
	shift 3
	printf '# %-16s full ...' "$name"
	run1 "$name" full "$@"
	got=$(count_msgs "$cdir")
	ok=ok
	[ "$R_RC" = 0 ] || ok="FAIL(rc=$R_RC)"
	[ "$got" = "$N" ] || ok="FAIL(got $got)"
	printf ' %ss %s\n' "$R_WALL" "$ok"
	[ "$ok" = ok ] || tail -n 5 "$WORK/$name-full.log" | sed 's/^/#    /'
	printf '%s\t%s\tfull\t%s\t%s\t%s\t%s\t%s\n' "$name" "$proto" \
		"$R_WALL" "$R_RSS" "$R_CPU" "$R_SRV" "$ok" >>"$ROWS"
	[ "$name" = email2-imap ] && verify_email2
	ok=ok
	for i in $(seq 0 "$NOOP_RUNS"); do
		# mbsync waits for the clock to tick when the Maildir changed
		# within the current second, email2 trusts no stamp of a
		# directory changed in the last 2 s: not what we want to time
		sleep 2.5
		run1 "$name" noop "$@"
		rc=$R_RC
		# fetchmail exits 1 for "no mail"
		[ "$rc" = 1 ] && [ "$name" = fetchmail ] && rc=0
		[ "$rc" = 0 ] || ok="FAIL(rc=$R_RC)"
		if [ "$i" = 0 ]; then
			printf '# %-16s noop1 %ss %s\n' "$name" "$R_WALL" "$ok"
			printf '%s\t%s\tnoop1\t%s\t%s\t%s\t%s\t%s\n' "$name" \
				"$proto" "$R_WALL" "$R_RSS" "$R_CPU" "$R_SRV" \
				"$ok" >>"$ROWS"
			continue
		fi
		walls+=("$R_WALL")
		[ "$R_RSS" -gt "$rss" ] && rss=$R_RSS
		cpu=$R_CPU srv=$R_SRV
	done
	got=$(count_msgs "$cdir")
	[ "$got" = "$N" ] || ok="FAIL(got $got)"
	R_WALL=$(printf '%s\n' "${walls[@]}" | sort -n |
		sed -n "$(((NOOP_RUNS + 1) / 2))p")
	printf '# %-16s noop %ss (median of %s) %s\n' "$name" "$R_WALL" \
		"$NOOP_RUNS" "$ok"
	[ "$ok" = ok ] || tail -n 5 "$WORK/$name-noop.log" | sed 's/^/#    /'
	printf '%s\t%s\tnoop\t%s\t%s\t%s\t%s\t%s\n' "$name" "$proto" \
		"$R_WALL" "$rss" "$cpu" "$srv" "$ok" >>"$ROWS"
	[ -n "${E2T_KEEP:-}" ] || rm -rf "$cdir"
}

# verify_email2: email2's Maildir equals the server, byte for byte (untimed)
verify_email2() {
	[ "${BENCH_VERIFY:-1}" = 0 ] && return 0
	if e2t_run "$E2T_PY" "$E2T_SRCDIR/sync-compare.py" "$E2T_HOST" \
		"$E2T_IMAPS_PORT" "$E2T_USER" "$E2T_PASSFILE" "$E2T_CA" \
		"$WORK/email2-imap/mail/$GUID_IMAP" INBOX \
		>"$WORK/compare.log" 2>&1; then
		echo "# email2-imap: Maildir == server, byte for byte"
	else
		echo "# email2-imap: sync-compare.py FAILED"
		tail -n 5 "$WORK/compare.log" | sed 's/^/#    /'
		sed -i '$ s/\tok$/\tFAIL(compare)/' "$ROWS"
	fi
}

skip_case() { # NAME WHY
	echo "# $1: skipped ($2)"
	printf '%s\t-\tskip\t0\t0\t0\t0\tskipped: %s\n' "$1" "$2" >>"$ROWS"
}

AS_USER=()
if [ "$(id -u)" = 0 ]; then
	AS_USER=(setpriv "--reuid=$RUN_AS" "--regid=$(id -g "$RUN_AS")"
		--clear-groups)
fi

# ---- email2-syncd --------------------------------------------------------------

email2_case() { # NAME GUID TYPE PORT
	# sync_provision and verify_email2 read them
	STORE=$WORK/$1
	GUID=$2
	export GUID
	sync_provision "$3" "$4" || e2t_fatal "email2-provision failed"
	# shellcheck disable=SC2086 # BENCH_E2_WRAP: words on purpose
	run_case "$1" "${3%4}" "$STORE/mail" "${SYNCD_ENV[@]}" \
		${BENCH_E2_WRAP:-} "$SYNCD_BIN" \
		--once --quiet --store "$STORE" --cafile "$E2T_CA"
}

# ---- mbsync --------------------------------------------------------------------

mbsync_case() { # NAME FSYNC(yes|no)
	local d=$WORK/$1
	mkdir -p "$d/mail"
	bench_mbsyncrc "$d/mbsyncrc" "$2" "$E2T_USER" "$d/mail" verbatim
	cat >>"$d/mbsyncrc" <<EOF
Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
Expunge None
SyncState *
EOF
	run_case "$1" IMAP "$d/mail" mbsync -c "$d/mbsyncrc" -q -a
}

# ---- offlineimap3 ----------------------------------------------------------------

offlineimap_case() {
	local d=$WORK/offlineimap
	mkdir -p "$d/mail" "$d/meta"
	cat >"$d/offlineimaprc" <<EOF
[general]
accounts = bench
metadata = $d/meta
maxsyncaccounts = 1
ui = quiet

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = $d/mail

[Repository remote]
type = IMAP
remotehost = $E2T_HOST
remoteport = $E2T_IMAPS_PORT
remoteuser = $E2T_USER
remotepassfile = $E2T_PASSFILE
ssl = yes
sslcacertfile = $E2T_CA
readonly = True
createfolders = False
folderfilter = lambda f: f == 'INBOX'
EOF
	run_case offlineimap IMAP "$d/mail" offlineimap -c "$d/offlineimaprc" \
		-o -u quiet
}

# ---- fetchmail (POP3, UIDL, keep; one MDA process per message) --------------------

fetchmail_case() {
	local d=$WORK/fetchmail
	mkdir -p "$d/Maildir/tmp" "$d/Maildir/new" "$d/Maildir/cur"
	cat >"$d/fetchmailrc" <<EOF
set no syslog
poll $E2T_HOST with proto POP3 service $E2T_POP3S_PORT uidl
  user '$E2T_USER' there with password '$E2T_PASS' is '$(id -un)' here
  ssl sslcertck sslcertfile $E2T_CA
  keep
  mda "$BIN/maildir-mda $d/Maildir"
EOF
	chmod 600 "$d/fetchmailrc"
	# FETCHMAILHOME: its lock file, apart from any other fetchmail
	run_case fetchmail POP3 "$d/Maildir" env "FETCHMAILHOME=$d" \
		fetchmail -f "$d/fetchmailrc" -i "$d/fetchids" --nosyslog -s
}

# ---- getmail6 (POP3) ----------------------------------------------------------------

getmail_case() {
	local d=$WORK/getmail
	mkdir -p "$d/Maildir/tmp" "$d/Maildir/new" "$d/Maildir/cur" "$d/state"
	cat >"$d/getmailrc" <<EOF
[retriever]
type = SimplePOP3SSLRetriever
server = $E2T_HOST
port = $E2T_POP3S_PORT
username = $E2T_USER
password = $E2T_PASS
ca_certs = $E2T_CA

[destination]
type = Maildir
path = $d/Maildir/

[options]
read_all = false
delete = false
verbose = 0
EOF
	chmod 600 "$d/getmailrc"
	[ "$(id -u)" = 0 ] && chown -R "$RUN_AS:$(id -g "$RUN_AS")" "$d"
	local gm=getmail
	[ "${BENCH_GETMAIL_FIX:-1}" = 0 ] || gm=$BIN/getmail-waitfix
	run_case getmail POP3 "$d/Maildir" "${AS_USER[@]}" "$gm" \
		--getmaildir "$d/state" --rcfile "$d/getmailrc"
}

# ---- the runs ------------------------------------------------------------------------

echo "# N=$N, $(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB," \
	"$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if want email2-imap; then
	email2_case email2-imap "$GUID_IMAP" IMAP4 "$E2T_IMAPS_PORT"
fi
for c in mbsync mbsync-nofsync; do
	want $c || continue
	if command -v mbsync >/dev/null; then
		fs=yes
		[ $c = mbsync-nofsync ] && fs=no
		mbsync_case $c $fs
	else
		skip_case $c "no mbsync (isync)"
	fi
done
if want offlineimap; then
	if command -v offlineimap >/dev/null; then
		offlineimap_case
	else
		skip_case offlineimap "no offlineimap (offlineimap3)"
	fi
fi
if want email2-pop3; then
	email2_case email2-pop3 "$GUID_POP3" POP3 "$E2T_POP3S_PORT"
fi
if want fetchmail; then
	if command -v fetchmail >/dev/null; then
		fetchmail_case
	else
		skip_case fetchmail "no fetchmail"
	fi
fi
if want getmail; then
	if command -v getmail >/dev/null; then
		getmail_case
	else
		skip_case getmail "no getmail (getmail6)"
	fi
fi
got=$(server_count)
[ "$got" = "$N" ] || echo "# WARNING: the server holds $got messages now, not $N"

# ---- the table ------------------------------------------------------------------------

TABLE=$("$E2T_PY" - "$ROWS" "$BYTES" "$N" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
nbytes, n = int(sys.argv[2]), int(sys.argv[3])
ref = {}
for name, proto, kind, wall, rss, cpu, srv, ok in rows:
    if name.startswith("email2-") and ok == "ok":
        ref[(proto, kind)] = (float(wall), int(rss))
out = ["| client | proto | run | wall s | msgs/s | MB/s | peak RSS MB "
       "| client CPU s | server CPU s | e2/x time | e2/x RSS | check |",
       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
for name, proto, kind, wall, rss, cpu, srv, ok in rows:
    if kind == "skip":
        out.append(f"| {name} | - | - | - | - | - | - | - | - | - | - "
                   f"| {ok} |")
        continue
    w, r = float(wall), int(rss)
    full = kind == "full" and w > 0
    mps = f"{n / w:.0f}" if full else "-"
    mbs = f"{nbytes / 1e6 / w:.1f}" if full else "-"
    tr = rr = "-"
    e = ref.get((proto, kind))
    if e and not name.startswith("email2-") and ok == "ok" and w > 0:
        tr = f"{e[0] / w:.2f}"
        rr = f"{e[1] / r:.2f}" if r else "-"
    out.append(f"| {name} | {proto} | {kind} | {w:.2f} | {mps} | {mbs} "
               f"| {r / 1024:.1f} | {cpu} | {srv} | {tr} | {rr} | {ok} |")
print("\n".join(out))
EOF
)
echo
echo "$TABLE"
echo
echo "e2/x: email2-syncd's value over the client's, same protocol and run" \
	"(below 1: email2 faster / smaller)."

ver() { "$@" 2>&1 | head -n 1 | tr -d '\r'; }
{
	echo
	echo "## bench-sync.sh N=$N -- $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- host: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load before: see the log; harness $E2T_MODE"
	echo "- email2: $(git -C "$BENCH_DIR" describe --always --dirty 2>/dev/null), build $E2_TOP_BUILDDIR"
	echo "- dovecot $(dovecot --version 2>/dev/null); mbsync: $(ver mbsync --version); fetchmail: $(fetchmail --version 2>/dev/null | grep -m1 -o 'release [^+ ]*'); getmail: $(ver getmail --version); offlineimap3: $(dpkg-query -W -f='${Version}' offlineimap3 2>/dev/null)"
	echo "- mailbox: gen-mailbox.py -n $N --seed $SEED -> $GEN_JSON"
	bench_results "$TABLE"
} >>"$RESULTS"
bench_exit 8
