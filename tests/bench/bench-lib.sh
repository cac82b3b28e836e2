# SPDX-License-Identifier: MIT
# bench-lib.sh -- what the bench-*.sh scripts that time sync clients share;
# sourced after tests/integration/lib.sh, harness/sync.sh and sync_setup.
#
# bench_init                   sets SYNCD_BIN SYNCD_ENV (the real
#                              email2-syncd of $E2_TOP_BUILDDIR, not the
#                              libtool wrapper), WORK BIN CMDS CLK, writes
#                              $BIN/timed
# run1 NAME KIND CMD...        one timed run (inside e2t_run, under
#                              timeout $TOOL_TIMEOUT); sets R_RC R_WALL
#                              (s) R_RSS (KB, /usr/bin/time %M) R_CPU
#                              (client s) R_SRV (Dovecot CPU s) R_IN (bytes
#                              the client sent: the sum of Dovecot's
#                              "in=" at each logout during the run)
# count_msgs DIR               message files in any new/ or cur/ below DIR
# bench_mbsyncrc FILE FSYNC USER MAILDIR LAYOUT
#                              an mbsync config: the harness IMAPS server
#                              as USER ("remote"), MAILDIR as the store
#                              "local": LAYOUT verbatim (INBOX in
#                              MAILDIR/INBOX, folders MAILDIR/Name) or
#                              maildir++ (INBOX at MAILDIR, folders
#                              MAILDIR/.Name, as email2); the caller
#                              appends its Channel
# bench_results TABLE          TABLE and the commands run ($CMDS), as the
#                              end of a results file entry
# bench_exit COLUMN            says where the results went ($RESULTS) and
#                              exits 1 when a row of $ROWS has FAIL in
#                              COLUMN (tab-separated), else 0
# Env: BENCH_TIMEOUT (TOOL_TIMEOUT, 1800 s per run).

TOOL_TIMEOUT=${BENCH_TIMEOUT:-1800}

bench_init() {
	# The real binary, not the libtool wrapper (a bash start per run).
	SYNCD_BIN=$SYNCD
	SYNCD_ENV=()
	if [ -x "$E2_TOP_BUILDDIR/tools/.libs/email2-syncd" ]; then
		SYNCD_BIN=$E2_TOP_BUILDDIR/tools/.libs/email2-syncd
		SYNCD_ENV=(env "LD_LIBRARY_PATH=$E2_TOP_BUILDDIR/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	fi
	if "${SYNCD_ENV[@]}" ldd "$SYNCD_BIN" 2>/dev/null | grep -q -e libasan \
		-e libubsan; then
		echo "# WARNING: $SYNCD_BIN is a sanitizer build; its numbers mean little"
	fi
	WORK=$E2T_DIR/bench
	BIN=$WORK/bin
	mkdir -p "$WORK" "$BIN"
	chmod 755 "$WORK" "$BIN"
	CMDS=$WORK/commands.txt
	: >"$CMDS"
	CLK=$(getconf CLK_TCK)
	# timed OUT CMD...: runs CMD under /usr/bin/time; OUT gets one line
	# "rc wall_seconds maxrss_kb user_s sys_s". Runs inside e2t_run, so
	# the private /etc/hosts setup is not timed.
	cat >"$BIN/timed" <<'EOF'
#!/bin/bash
out=$1
shift
t0=$EPOCHREALTIME
/usr/bin/time -f '%M %U %S' -o "$out.time" "$@"
rc=$?
t1=$EPOCHREALTIME
echo "$rc $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -n 1 "$out.time")" >"$out"
EOF
	chmod 755 "$BIN/timed"
}

# server_ticks: CPU ticks of the Dovecot master, its reaped children
# (cutime, cstime) and its live children
server_ticks() {
	local m t=0 p s f
	m=$(cat "$E2T_DIR/run/master.pid" 2>/dev/null) || {
		echo 0
		return
	}
	for p in "$m" $(ps -o pid= --ppid "$m"); do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }
		read -r -a f <<<"$s"
		t=$((t + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$t"
}

count_msgs() { # DIR: message files in any new/ or cur/ below DIR
	find "$1" -type f \( -path '*/new/*' -o -path '*/cur/*' \) \
		2>/dev/null | wc -l
}

# log_in_bytes FROM: the sum of "in=N" of the logouts Dovecot logged after
# byte offset FROM of its log (IMAP and POP3 sessions)
log_in_bytes() {
	tail -c +"$(($1 + 1))" "$E2T_DOVECOT_LOG" 2>/dev/null |
		grep -o -E '(Logged out|Disconnected).* in=[0-9]+' |
		sed -E 's/.* in=([0-9]+)$/\1/' |
		awk '{ s += $1 } END { print s + 0 }'
}

# run1 NAME KIND CMD...: one timed run; sets R_RC R_WALL R_RSS R_CPU R_SRV
# R_IN
run1() {
	local name=$1 kind=$2 out s0 s1 l0
	shift 2
	out=$WORK/$name-$kind.t
	{
		printf '[%s %s]' "$name" "$kind"
		printf ' %q' "$@"
		echo
	} >>"$CMDS"
	s0=$(server_ticks)
	l0=$(wc -c <"$E2T_DOVECOT_LOG" 2>/dev/null || echo 0)
	e2t_run timeout "$TOOL_TIMEOUT" "$BIN/timed" "$out" "$@" \
		>"$WORK/$name-$kind.log" 2>&1
	sleep 0.3 # Dovecot's processes finish and are reaped
	s1=$(server_ticks)
	read -r R_RC R_WALL R_RSS u s <"$out" 2>/dev/null || {
		R_RC=timeout R_WALL=0 R_RSS=0 u=0 s=0
	}
	R_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	R_SRV=$(awk -v a="$s0" -v b="$s1" -v c="$CLK" \
		'BEGIN { printf "%.2f", (b - a) / c }')
	R_IN=$(log_in_bytes "$l0")
}

# bench_mbsyncrc FILE FSYNC(yes|no) USER MAILDIR verbatim|maildir++
bench_mbsyncrc() {
	local path="Path $4/" inbox=$4/INBOX sub=Verbatim
	# Maildir++: the folders live in the Inbox, no Path (a blank line
	# would end the section)
	[ "$5" = maildir++ ] && path="# Path: the Inbox" inbox=$4 sub=Maildir++
	cat >"$1" <<EOF
FSync $2

IMAPAccount bench
Host $E2T_HOST
Port $E2T_IMAPS_PORT
User $3
PassCmd "cat $E2T_PASSFILE"
SSLType IMAPS
CertificateFile $E2T_CA

IMAPStore remote
Account bench

MaildirStore local
$path
Inbox $inbox
SubFolders $sub

EOF
}

bench_results() {
	echo
	echo "$1"
	echo
	echo '```'
	cat "$CMDS"
	echo '```'
}

bench_exit() {
	local fail
	echo "# appended to $RESULTS"
	fail=$(cut -f"$1" "$ROWS" | grep -c '^FAIL')
	[ "$fail" = 0 ] || {
		echo "# $fail runs FAILED"
		exit 1
	}
	exit 0
}
