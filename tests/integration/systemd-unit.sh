#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd-unit.sh -- issue 9, "install and run": `make install` puts the
# systemd user unit in the systemd user unit directory with ExecStart= the
# installed email2-syncd; `systemd-analyze verify` accepts it and
# `systemd-analyze security` rates it at or below UNIT_THRESHOLD; and the
# installed daemon, run under the unit's constraints as far as this machine
# can apply them without a running systemd, starts, syncs a message to disk,
# syncs again on SIGUSR1 and exits 0 on SIGTERM.
#
# PID 1 here is not systemd and there is no user manager, so systemd-run and
# `systemctl --user start` cannot run the unit. What is emulated (as root,
# in a private mount namespace, see sandbox() below):
#   User=%u, PrivateUsers=  the daemon runs as nobody, not root
#   NoNewPrivileges=        setpriv --no-new-privs
#   CapabilityBoundingSet=, AmbientCapabilities=  setpriv: bounding,
#                           inheritable and ambient sets empty
#   UMask=0077              umask 077
#   ProtectSystem=strict    every mount remounted read-only but the store,
#   ReadWritePaths=, BindPaths=  which is bound at %h/.local/share/email2
#   ProtectHome=tmpfs       empty tmpfs on /home, /root, /run/user
#   PrivateTmp=             empty tmpfs on /tmp, /var/tmp
#   the unit's environment  env -i: HOME, PATH, USER, LOGNAME only (plus the
#                           test CA as SSL_CERT_FILE, as a drop-in would
#                           set it, and the sanitizers' options)
# What is not: the seccomp-based options (SystemCallFilter=,
# SystemCallArchitectures=, MemoryDenyWriteExecute=, RestrictAddressFamilies=,
# RestrictNamespaces=, RestrictRealtime=, RestrictSUIDSGID=, LockPersonality=)
# -- instead the daemon's whole run is traced with strace and every system
# call it made must be in the unit's SystemCallFilter= set, and every socket
# family in RestrictAddressFamilies= --; PrivateDevices=, ProtectProc=,
# ProcSubset=, ProtectKernel*=, ProtectClock=, ProtectHostname=,
# ProtectControlGroups=, KeyringMode= (what they deny a capability-less user
# cannot do anyway, or the daemon does not touch).
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
UNIT_THRESHOLD=2.0 # the score the unit's comment documents (measured 1.4)
G1='{5A1E0C2D-5555-4A2B-8C3D-000000000001}'
BUILD=${E2_TOP_BUILDDIR:-}
[ -n "$BUILD" ] && [ -f "$BUILD/Makefile" ] || e2t_skip "no build directory"
command -v systemd-analyze >/dev/null || e2t_skip "no systemd-analyze"
sync_setup "$G1"

# ---- 1. make install -------------------------------------------------------
ROOT=$E2T_DIR/root
make -s -C "$BUILD" install DESTDIR="$ROOT" >"$E2T_DIR/install.log" 2>&1 ||
	{ cat "$E2T_DIR/install.log"; e2t_fatal "make install failed"; }
UNIT=$(find "$ROOT" -path '*/systemd/user/email2-syncd.service' | head -n 1)
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT" 2>/dev/null)
e2t_check "make install: the unit is in a systemd/user directory" test -f "$UNIT"
e2t_check "ExecStart= is absolute and names the installed daemon ($EXEC)" \
	bash -c "case '$EXEC' in /*/email2-syncd) test -x '$ROOT$EXEC' ;; *) false ;; esac"
e2t_check "no @variable@ left in the unit" bash -c "! grep -n '@[a-z_]*@' '$UNIT'"

# The staged unit as installed, but with ExecStart= at the staged binary
# (DESTDIR: the configured bindir does not hold it on this machine).
STAGED=$E2T_DIR/unit/email2-syncd.service
mkdir -p "$E2T_DIR/unit" "$E2T_DIR/xdg"
chmod 700 "$E2T_DIR/xdg"
sed "s|^ExecStart=.*|ExecStart=$ROOT$EXEC|" "$UNIT" >"$STAGED"
MANDIR=$(dirname "$(dirname "$(find "$ROOT" -name email2-syncd.1 | head -n 1)")")
analyze() {
	XDG_RUNTIME_DIR=$E2T_DIR/xdg MANPATH=$MANDIR systemd-analyze "$@"
}
verify() {
	analyze verify --user "$STAGED" || return 1
	# and it says so when something is wrong
	sed 's/^KillSignal=.*/KillSignal=SIGNOPE/' "$STAGED" >"$E2T_DIR/bad.service"
	analyze verify --user "$E2T_DIR/bad.service" 2>&1 | grep -q SIGNOPE
}
e2t_check "systemd-analyze verify accepts the installed unit" verify
security() {
	local score
	analyze security --offline=yes --user "$STAGED" >"$E2T_DIR/security.out" 2>&1
	cat "$E2T_DIR/security.out"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
		"$E2T_DIR/security.out")
	echo "score $score, threshold $UNIT_THRESHOLD"
	[ -n "$score" ] && awk -v s="$score" -v t="$UNIT_THRESHOLD" \
		'BEGIN { exit !(s <= t) }' || return 1
	# the unit's own comment documents the measured score
	grep -q "^# $score with this section" "$UNIT"
}
e2t_check "systemd-analyze security: at most $UNIT_THRESHOLD, as documented" \
	security

# ---- 2. the installed daemon under the unit's constraints ------------------
STORE_UID=65534 # nobody
STORE_GID=$(id -g nobody 2>/dev/null || echo 65534)
LIBDIR=$(dirname "$(find "$ROOT" -name 'libemail2.so*' | head -n 1)")
SB_HOME=/home/email2-unit # %h of the emulated user
SB_INST=/srv/email2-unit  # holds the staged install and the test CA

# sandbox PIDFILE CMD...: CMD as the unit would run it (see the top); its
# PID (the same through every exec) goes to PIDFILE first
cat >"$E2T_DIR/sandbox.sh" <<'SH'
#!/bin/sh
set -eu
echo $$ >"$1"
shift
mount --make-rprivate /
# what the service needs from outside, before /tmp is hidden
mount -t tmpfs -o mode=0755 tmpfs /srv
mkdir -p "$SB_INST/root" "$SB_HOME_TMP"
mount --bind "$SB_ROOT" "$SB_INST/root"
cp "$SB_CA" "$SB_INST/ca.pem"
# ProtectHome=tmpfs, then BindPaths=%h/.local/share/email2
for d in /home /root /run/user; do
	[ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"
done
mkdir -p "$SB_HOME/.local/share/email2"
mount --bind "$SB_STORE" "$SB_HOME/.local/share/email2"
chown -R "$SB_UID:$SB_GID" "$SB_HOME"
# PrivateTmp=yes
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
# ProtectSystem=strict: every other mount read-only
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r mp; do
	case $mp in
	/proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /tmp | /var/tmp) ;;
	"$SB_HOME/.local/share/email2") ;;
	*) mount -o remount,bind,ro "$mp" 2>/dev/null || true ;;
	esac
done
exec setpriv --reuid="$SB_UID" --regid="$SB_GID" --clear-groups \
	--no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
	env -i HOME="$SB_HOME" USER=nobody LOGNAME=nobody \
	PATH=/usr/local/bin:/usr/bin:/bin \
	LD_LIBRARY_PATH="$SB_INST/root$SB_LIBDIR" \
	SSL_CERT_FILE="$SB_INST/ca.pem" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
	sh -c 'umask 077; exec "$@"' sh "$@"
SH
chmod 755 "$E2T_DIR/sandbox.sh"
export SB_ROOT=$ROOT SB_CA=$E2T_CA SB_STORE=$STORE SB_UID=$STORE_UID \
	SB_GID=$STORE_GID SB_HOME=$SB_HOME SB_HOME_TMP=$SB_HOME SB_INST=$SB_INST \
	SB_LIBDIR=${LIBDIR#"$ROOT"}
# always in a mount namespace of its own (never the host's mounts)
sandbox() {
	e2t_run unshare --mount --propagation private "$E2T_DIR/sandbox.sh" "$@"
}
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	e2t_check_skip "the daemon under the unit's constraints" \
		"needs root (mount namespace, setpriv)"
	e2t_finish
fi


deliver() { # SUBJECT
	printf 'From: a@example.org\nTo: %s@email2.test\nSubject: %s\nMessage-ID: <%s.%s@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nunit test\n' \
		"$E2T_USER" "$1" "$1" "$RANDOM" >"$E2T_DIR/msg.eml"
	e2t_deliver "$E2T_DIR/msg.eml"
}
on_disk() { # N: wait up to 30 s for N messages in the Maildir
	timeout 30 bash -c "until [ \"\$(find '$MD/new' '$MD/cur' -type f 2>/dev/null | wc -l)\" -ge $1 ]; do sleep 0.1; done"
}

deliver "unit one" || e2t_fatal "cannot deliver"
# default LINGER (15 min): the daemon syncs once at start, then on SIGUSR1
GUID=$G1 sync_provision IMAP4 "$E2T_IMAPS_PORT" || e2t_fatal "provision"
chown -R "$STORE_UID:$STORE_GID" "$STORE"

# the sandbox is in effect: store writable, the rest not, no privileges
probe() {
	sandbox "$E2T_DIR/probe.pid" sh -c '
		set -x
		touch "$HOME/.local/share/email2/probe" &&
			rm "$HOME/.local/share/email2/probe" &&
			! touch "$HOME/probe" 2>/dev/null &&
			! touch /srv/email2-unit/probe 2>/dev/null &&
			! touch /etc/email2-unit-probe 2>/dev/null &&
			[ -z "$(ls -A /tmp)" ] &&
			[ "$(id -u)" = 65534 ] &&
			grep -q "^NoNewPrivs:[[:space:]]*1" /proc/self/status &&
			grep -q "^CapBnd:[[:space:]]*0*$" /proc/self/status &&
			[ "$(umask)" = 0077 ]'
}
e2t_check "the emulated sandbox: only the store writable, no privileges" probe

ERR=$E2T_DIR/unit.err
STRACE=()
# strace starts as the unit's user, after the sandbox is set up, and traces
# the daemon from its execve on; it writes to fd 3, opened here (its file
# is hidden in the sandbox). LeakSanitizer cannot run under ptrace.
SB_ASAN=${ASAN_OPTIONS:-}
if command -v strace >/dev/null; then
	STRACE=(strace -f -qq -o /dev/fd/3)
	SB_ASAN=detect_leaks=0
fi
: >"$E2T_DIR/strace.out"
chmod 666 "$E2T_DIR/strace.out"
ASAN_OPTIONS=$SB_ASAN sandbox "$E2T_DIR/daemon.pid" "${STRACE[@]}" \
	"$SB_INST/root${EXEC}" >"$E2T_DIR/unit.out" 2>"$ERR" \
	3>"$E2T_DIR/strace.out" &
BG_PID=$!
timeout 10 bash -c "until [ -s '$E2T_DIR/daemon.pid' ]; do sleep 0.05; done" ||
	e2t_fatal "the sandbox did not start"
PID=$(cat "$E2T_DIR/daemon.pid")
e2t_own "$PID"
# the daemon's own pid (under strace, strace's child)
daemon_pid() {
	local p
	p=$(cat "$STORE/email2-syncd.pid" 2>/dev/null) && [ -n "$p" ] && echo "$p"
}
e2t_check "starts and syncs the first message to disk" on_disk 1
e2t_check "holds the store's pid file" bash -c "[ -n \"\$(cat '$STORE/email2-syncd.pid')\" ]"
DPID=$(daemon_pid)
deliver "unit two" || e2t_fatal "cannot deliver"
kill -USR1 "$DPID" 2>/dev/null
e2t_check "SIGUSR1: syncs the second message" on_disk 2
e2t_check "files it wrote are the user's only (UMask=0077)" bash -c \
	"[ -z \"\$(find '$STORE' -newer '$E2T_DIR/msg.eml' -perm /077 ! -type l)\" ]"
kill -TERM "$DPID" 2>/dev/null
wait "$BG_PID"
rc=$?
e2t_check "SIGTERM: exits 0 (was $rc)" test "$rc" = 0
e2t_check "no error on stderr" bash -c "! grep -iE 'error|fail|denied|read-only' '$ERR'"

# the system calls and socket families the run used, against the unit's
# expand GROUP...: the system calls of syscall-filter groups, nested ones too
expand() {
	local g x
	for g in "$@"; do
		analyze syscall-filter "$g" | sed 1d | while read -r x; do
			case $x in
			'#'* | '') ;;
			@*) expand "$x" ;;
			*) echo "$x" ;;
			esac
		done
	done
}
syscalls_allowed() {
	local bad
	[ -s "$E2T_DIR/strace.out" ] || return 1
	expand @system-service | sort -u >"$E2T_DIR/allow"
	expand @privileged @resources | sort -u >"$E2T_DIR/deny"
	sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$E2T_DIR/strace.out" |
		sort -u >"$E2T_DIR/used"
	echo "used $(wc -l <"$E2T_DIR/used") system calls," \
		"the filter allows $(comm -23 "$E2T_DIR/allow" "$E2T_DIR/deny" | wc -l)"
	bad=$(comm -23 "$E2T_DIR/used" "$E2T_DIR/allow"
		comm -12 "$E2T_DIR/used" "$E2T_DIR/deny")
	echo "outside SystemCallFilter=: ${bad:-none}"
	[ -z "$bad" ]
}
# AF_NETLINK is refused by the unit on purpose: glibc's getaddrinfo()
# (AI_ADDRCONFIG) asks the kernel for the interfaces' addresses over
# netlink and, when socket() fails, assumes both IPv4 and IPv6
# (sysdeps/unix/sysv/linux/check_pf.c), which is what a mail client wants.
families() {
	grep -oE 'socket\((AF|PF)_[A-Z0-9]+' "$E2T_DIR/strace.out" |
		sed 's/.*(//' | sort -u >"$E2T_DIR/families"
	cat "$E2T_DIR/families"
	! grep -vxE '(AF|PF)_(UNIX|LOCAL|INET|INET6|NETLINK)' "$E2T_DIR/families"
}
if [ ${#STRACE[@]} -gt 0 ]; then
	e2t_check "every system call in SystemCallFilter=" syscalls_allowed
	e2t_check "every socket family in RestrictAddressFamilies=" families
else
	e2t_check_skip "system calls against SystemCallFilter=" "no strace"
fi

e2t_finish
