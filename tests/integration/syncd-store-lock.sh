#!/bin/bash
# SPDX-License-Identifier: MIT
# syncd-store-lock.sh -- issue 9, "one daemon per store, and no lock file in
# the Maildir": the per-account lock lives in <store>/locks/{GUID}.lock
# (0600, the directory 0700), never under mail/, so notmuch finds no
# non-mail file in the Maildir; the lock an older email2 left in the Maildir
# goes; a second email2-syncd daemon on the same store -- by the same path
# or through a symlinked one -- exits 1 naming the first one's pid; --once
# beside a running daemon is allowed (the per-account locks serialise it).
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
G1='{5A1E0C2D-4444-4A2B-8C3D-000000000001}'
sync_setup "$G1"

deliver() { # N
	local i
	for i in $(seq 1 "$1"); do
		printf 'From: a@example.org\nTo: %s@email2.test\nSubject: lock %d\nMessage-ID: <lock.%d.%s@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody %d\n' \
			"$E2T_USER" "$i" "$i" "$RANDOM" "$i" >"$E2T_DIR/msg.eml"
		e2t_deliver "$E2T_DIR/msg.eml" || return 1
	done
}

deliver 3 || e2t_fatal "cannot deliver"
GUID=$G1 sync_provision IMAP4 "$E2T_IMAPS_PORT" LINGER=0 ||
	e2t_fatal "provision"
# a store synced by an older email2: its lock file in the Maildir root
mkdir -p "$MD" && chmod 700 "$STORE/mail" "$MD" && : >"$MD/email2-sync.lock"

e2t_check "--once syncs the account" sync_once
e2t_check "3 messages on disk" \
	test "$(find "$MD/new" "$MD/cur" -type f | wc -l)" = 3
e2t_check "no lock file under mail/ after a sync" \
	test -z "$(find "$STORE/mail" -name '*.lock')"
e2t_check "the lock is <store>/locks/{GUID}.lock, 0600" \
	test "$(stat -c %a "$STORE/locks/$G1.lock")" = 600
e2t_check "<store>/locks is 0700" test "$(stat -c %a "$STORE/locks")" = 700

# notmuch over the Maildir: every file it finds is mail. Each folder keeps
# one file of email2's own, email2-folder (the server name it maps, issue 8,
# like mbsync's .uidvalidity); the README and email2-syncd(1) tell notmuch
# users to ignore it, as this config does. The lock is no such file any
# more: with it in the Maildir root, notmuch named it here.
notmuch_clean() {
	command -v notmuch >/dev/null || return 1
	printf '[database]\npath=%s\n[new]\nignore=email2-folder\n' "$MD" \
		>"$E2T_DIR/notmuch.cfg"
	NOTMUCH_CONFIG=$E2T_DIR/notmuch.cfg HOME=$E2T_DIR notmuch new \
		>"$E2T_DIR/notmuch.out" 2>&1 || return 1
	cat "$E2T_DIR/notmuch.out"
	! grep -i 'non-mail' "$E2T_DIR/notmuch.out" &&
		grep -q 'Added 3 new messages' "$E2T_DIR/notmuch.out"
}
if command -v notmuch >/dev/null; then
	e2t_check "notmuch new reports no non-mail file" notmuch_clean
else
	e2t_check_skip "notmuch new reports no non-mail file" \
		"notmuch not installed (scripts/install-deps.sh)"
fi
rm -rf "$MD/.notmuch"

# ---- one daemon per store -------------------------------------------------
OUT=$E2T_DIR/daemon.out
ERR=$E2T_DIR/daemon.err
sync_daemon_start
# the store lock is held once the daemon wrote its pid there
timeout 10 bash -c "until [ -s '$STORE/email2-syncd.pid' ]; do sleep 0.05; done" ||
	e2t_fatal "email2-syncd took no store lock"

# second STORE: exits 1, one line naming the running daemon's pid
second() {
	local rc=0
	e2t_run "$SYNCD" --store "$1" --cafile "$E2T_CA" \
		>"$E2T_DIR/second.out" 2>"$E2T_DIR/second.err" || rc=$?
	cat "$E2T_DIR/second.err"
	[ "$rc" = 1 ] &&
		grep -q "another email2-syncd is running (pid $SYNCD_PID " \
			"$E2T_DIR/second.err" &&
		[ "$(wc -l <"$E2T_DIR/second.err")" = 1 ] &&
		kill -0 "$SYNCD_PID"
}
e2t_check "a second daemon on the store exits 1 naming the pid" \
	second "$STORE"
ln -s "$E2T_DIR" "$E2T_DIR/alias"
e2t_check "also through a symlinked path" second "$E2T_DIR/alias/store"
e2t_check "also through another spelling" second "$E2T_DIR//./store/"

# --once beside the daemon: allowed (mbsync-like), exit 0
deliver 1 || e2t_fatal "cannot deliver"
e2t_check "--once beside the daemon syncs (exit 0)" sync_once
e2t_check "the new message on disk" \
	test "$(find "$MD/new" "$MD/cur" -type f | wc -l)" = 4
# while the daemon syncs the account, a --once of it is ebusy
busy_beside() {
	flock -x "$STORE/locks/$G1.lock" bash -c "$(declare -f e2t_run \
		sync_once); $(declare -p SYNCD STORE E2T_CA E2T_DIR E2T_HOSTS \
		E2T_RUN_HOW); ! sync_once" || return 1
	json '(d["status"] == "ebusy" and "locks/" in d["error"])'
}
e2t_check "a held account lock: --once is ebusy naming locks/" busy_beside

kill -TERM "$SYNCD_PID"
wait "$BG_PID"
rc=$?
e2t_check "SIGTERM: the daemon exits 0 (was $rc)" test "$rc" = 0
# the pid file stays, unlocked: it does not stop the next daemon
restart() {
	timeout -s TERM 2 "$SYNCD" --store "$STORE" --cafile "$E2T_CA" \
		>/dev/null 2>"$E2T_DIR/restart.err"
	[ $? = 124 ] && ! grep -q 'another' "$E2T_DIR/restart.err"
}
e2t_check "after it stopped, a daemon starts again" restart

e2t_finish
