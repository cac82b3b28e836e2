#!/bin/bash
# SPDX-License-Identifier: MIT
# sync-faults.sh -- nothing lost, nothing duplicated (issue 4's fault tests).
#
# 1. IMAP4 and POP3 through cutproxy.py: the connection is cut after N bytes
#    (server to client, and a few client to server) at points spread over
#    the whole sync (the TLS handshake, the greeting, inside FETCH literals,
#    at the batch boundaries a traced run found). The cut sync must fail
#    cleanly (exit 1, no hang); the clean sync after it must leave the
#    Maildir equal to the server byte for byte, with no duplicate (no two
#    files with one U=/L= tag) and nothing left in tmp/.
# 2. email2-syncd --once killed with SIGKILL after delays spread over a
#    measured full download (a few hundred messages, batch 7), IMAP4 and
#    POP3; then a clean sync and the same checks.
# 3. SERVERDELETEACTION 1 with local deletes pending and new mail arriving,
#    killed at many points: every message missing on the server afterwards
#    is one the user deleted locally.
# 4. Issue 8 folders: a run that creates server folders for local ones
#    and files staged sent copies, cut at each CREATE reply and killed:
#    each folder once on the server and locally, each copy in one place.
# 5. The send queue (issue 8): email2-syncd killed at points spread over
#    claims, sends and Sent moves of 60 queued messages: nothing lost,
#    at most one extra copy per kill (same Message-ID), all staged once.
# 6. POP3 (issue 8): local moves into .Work pending beside local deletes,
#    killed at several points: a move never deletes on the server.
# 7. IMAP uploads and moves (issue 8) cut right after the server's step
#    and killed: nothing sent twice, nothing lost; a batched move of 40
#    (one UID MOVE) cut before its tagged OK and its COPYUID, and killed.
# Deterministic: fixed seeds, cut points by byte count. Last: one sync of
# an account at a time (the lock), checked with two concurrent runs.
# Runs about 2 minutes (ASan build, 2 cores).
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
SEED=4004
SYNC_BATCH=7
sync_setup '{5A1E0C2D-4444-4A2B-8C3D-000000000004}'
COMPARE=$E2T_SRCDIR/sync-compare.py
GEN=$E2T_SRCDIR/../bench/gen-mailbox.py
PROXY=$E2T_SRCDIR/cutproxy.py
PROXY_PORT=$E2T_SPARE_PORT
PLOG=$E2T_DIR/log/cutproxy.log
[ -r "$GEN" ] || e2t_fatal "missing $GEN"

# ---- mailboxes ----------------------------------------------------------------

# fill USER N SEED [gen-mailbox args]: N generated messages into USER's
# Maildir (Dovecot picks the files up on the next access)
fill() {
	local user=$1 n=$2 seed=$3
	shift 3
	"$E2T_PY" "$GEN" --maildir "$E2T_DIR/mail/$user/Maildir" -n "$n" \
		--seed "$seed" --now 2024-06-01 "$@" >/dev/null &&
		chown -R "$E2T_MAIL_UID:$E2T_MAIL_GID" "$E2T_DIR/mail/$user"
}

# small: 24 in INBOX (a few with 50-60 KB attachments) + 8 in Work
fill "$E2T_USER" 24 "$SEED" --attach-ratio 0.15 --attach-max 60000 ||
	e2t_fatal "cannot fill INBOX"
fill "$E2T_USER" 8 $((SEED + 1)) --folder Work --attach-ratio 0 ||
	e2t_fatal "cannot fill Work"
# big: a few hundred small ones for the SIGKILL runs
e2t_add_user bigbox "$E2T_PASS"
fill bigbox 300 $((SEED + 2)) --attach-ratio 0.01 --attach-max 60000 \
	--text-max 8000 || e2t_fatal "cannot fill bigbox"
# del: the delete-pending runs (messages are consumed as points go by)
e2t_add_user delbox "$E2T_PASS"
fill delbox 40 $((SEED + 3)) --attach-ratio 0 || e2t_fatal "cannot fill delbox"
# Dovecot notices a changed users file by its mtime (whole seconds)
sleep 1.1
touch "$E2T_DIR/etc/users"
for u in "$E2T_USER" bigbox delbox; do
	e2t_doveadm mailbox status -u "$u" messages INBOX >/dev/null ||
		e2t_fatal "doveadm cannot open $u's INBOX"
done

# ---- helpers --------------------------------------------------------------------

# fresh TYPE PORT USER [NAME=VALUE...]: an empty store, the account
# provisioned for USER with INSERVER on PORT
fresh() {
	local type=$1 port=$2 user=$3
	shift 3
	rm -rf "$STORE"
	E2T_USER=$user sync_provision "$type" "$port" "$@"
}

# proxy_start TARGETPORT [cutproxy args]: a cutproxy on PROXY_PORT of the
# server's address, forwarding to TARGETPORT
proxy_start() {
	local target=$1 ready=$E2T_DIR/proxy.ready
	shift
	rm -f "$ready"
	echo "# proxy ->$target $*" >>"$PLOG"
	e2t_spawn "$PLOG" "$E2T_PY" "$PROXY" \
		--listen "$E2T_ADDR:$PROXY_PORT" \
		--target "$E2T_ADDR:$target" --ready-file "$ready" \
		--idle 20 --lifetime 120 "$@"
	PROXY_PID=$E2T_SPAWN_PID
	timeout 10 bash -c "until [ -e '$ready' ]; do sleep 0.02; done" ||
		e2t_fatal "cutproxy did not start"
}

proxy_stop() {
	e2t_stop_pid "${PROXY_PID:-}"
	PROXY_PID=
}

# tsync SECS [ARGS...]: sync_once under a hard time limit
tsync() {
	local secs=$1
	shift
	timeout -s KILL "$secs" bash -c "$(declare -f e2t_run sync_once); \
		$(declare -p SYNCD STORE E2T_CA E2T_DIR E2T_HOSTS E2T_RUN_HOW \
		SYNC_BATCH); sync_once \"\$@\"" tsync "$@"
}

# cut_sync: a sync through the cutting proxy; it must fail (exit 1)
# within the time limit: no crash, no hang. A sync whose connections all
# ended before the cut point (a repeated cut, with less left to fetch)
# must succeed instead.
cut_sync() {
	local rc mark
	mark=$(wc -l <"$PLOG")
	tsync 60 --timeout 5
	rc=$?
	if [ "$rc" = 0 ] && ! tail -n +"$((mark + 1))" "$PLOG" | grep -q ' cut '; then
		echo "no connection was cut: exit 0 is right"
		return 0
	fi
	if [ "$rc" != 1 ]; then
		echo "cut sync exited $rc, expected 1"
		tail -n +"$((mark + 1))" "$PLOG"
		tail -n 5 "$E2T_DIR/sync.err"
		cat "$E2T_DIR/sync.json"
		return 1
	fi
	return 0
}

# same USER PORT [FOLDER...]: after a clean sync the Maildir equals the
# server (multisets of bytes: nothing missing, nothing extra), no two files
# of a folder carry the same U=/L= tag, every tmp/ is empty
same() {
	local user=$1 port=$2
	shift 2
	"$E2T_PY" "$COMPARE" "$E2T_ADDR" "$E2T_IMAPS_PORT" "$user" \
		"$E2T_PASSFILE" "$E2T_CA" "$MD" "$@" || return 1
	"$E2T_PY" - "$MD" <<'PY' || return 1
import os, re, sys
root, bad = sys.argv[1], 0
for d in [root] + [os.path.join(root, x) for x in os.listdir(root)
                   if x.startswith(".") and os.path.isdir(os.path.join(root, x))]:
    tags = {}
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        for f in os.listdir(p) if os.path.isdir(p) else []:
            m = re.search(r",([UL]=[^,:]+)", f)
            if m is None:
                print("untagged file", os.path.join(p, f)); bad += 1
                continue
            if m.group(1) in tags:
                print("duplicate tag", m.group(1), tags[m.group(1)], f); bad += 1
            tags[m.group(1)] = f
    t = os.path.join(d, "tmp")
    left = os.listdir(t) if os.path.isdir(t) else []
    if left:
        print("left in", t, left); bad += 1
sys.exit(1 if bad else 0)
PY
}

# clean_then_same USER PORT [FOLDER...]: the clean sync, then same
clean_then_same() {
	local user=$1 port=$2
	shift 2
	if ! tsync 120; then
		echo "clean sync failed"
		tail -n 5 "$E2T_DIR/sync.err"
		cat "$E2T_DIR/sync.json"
		return 1
	fi
	same "$user" "$port" "$@"
}

# trace TYPE TARGETPORT USER: a whole sync through the proxy with --trace;
# sets TOTAL (server-to-client bytes), BOUNDS (the s2c offsets at which the
# client wrote: the handshake, the login, each command) and C2S (the
# offsets of the client's writes)
trace() {
	local type=$1 port=$2 user=$3 t=$E2T_DIR/trace.log
	: >"$t"
	fresh "$type" "$PROXY_PORT" "$user" SERVERDELETEACTION=1 || return 1
	proxy_start "$port" --cut-conns 0 --trace --log "$t"
	tsync 120 || {
		proxy_stop
		return 1
	}
	proxy_stop
	TOTAL=$(sed -n 's/^conn 1 whole (s2c \([0-9]*\) .*/\1/p' "$t")
	BOUNDS=$(sed -n 's/^trace conn 1 c2s [0-9]*+[0-9]* s2c \([0-9]*\)$/\1/p' \
		"$t" | sort -n -u | tr '\n' ' ')
	C2S=$(sed -n 's/^trace conn 1 c2s \([0-9]*\)+.*/\1/p' "$t" |
		sort -n -u | tr '\n' ' ')
	[ -n "$TOTAL" ]
}

# points TOTAL BOUNDS...: the s2c cut offsets over TLS: inside the TLS
# handshake (0, 1, 100, 700), the first client writes after it (the
# greeting and the login replies come next: at and +1), then a spread over
# the whole download (those land inside FETCH literals and RETR bodies)
points() {
	local total=$1 b i n=0
	shift
	echo "$HANDSHAKE"
	for b in "$@"; do
		n=$((n + 1))
		[ "$n" -ge 3 ] && [ "$n" -le $((2 + NBOUNDS)) ] || continue
		# at the write, or one byte after it, alternately
		echo $((b + n % 2))
	done
	for i in $(seq 1 "$SPREAD"); do
		echo $((total * i / (SPREAD + 1) + 37))
	done
}

# point TYPE PORT USER NAME NCUTS "PROXYARGS" [FOLDER...]: a fresh store,
# NCUTS syncs through a proxy that cuts every connection per PROXYARGS
# (each must fail cleanly; from the second on they start from the partial
# state the one before left), then a clean sync through a proxy that cuts
# nothing, and the checks
point() {
	local type=$1 port=$2 user=$3 name=$4 ncuts=$5 pa i
	# split PROXYARGS on blanks, no globbing (the regexes)
	read -r -a pa <<<"$6"
	shift 6
	fresh "$type" "$PROXY_PORT" "$user" SERVERDELETEACTION=1
	for i in $(seq 1 "$ncuts"); do
		proxy_start "$port" "${pa[@]}" --cut-conns 99 --log "$PLOG"
		e2t_check "$type $name: cut sync $i/$ncuts fails cleanly" \
			cut_sync
		proxy_stop
	done
	proxy_start "$port" --cut-conns 0 --log "$PLOG"
	e2t_check "$type $name: then clean sync, maildir == server" \
		clean_then_same "$user" "$port" "$@"
	proxy_stop
}

# ---- 1. cut points --------------------------------------------------------------

# tls_points TYPE PORT USER [FOLDER...]: byte-offset cuts over TLS, server
# to client and client to server
tls_points() {
	local type=$1 port=$2 user=$3 all p k=0
	shift 3
	e2t_check "$type trace run through the proxy" trace "$type" "$port" \
		"$user" || return
	e2t_log "$type: $TOTAL bytes server to client; client writes at" \
		"s2c offsets $BOUNDS"
	# shellcheck disable=SC2086
	all=$(points "$TOTAL" $BOUNDS | tr ' ' '\n' | sort -n -u)
	for p in $all; do
		k=$((k + 1))
		# every fourth point cuts two syncs in a row
		point "$type" "$port" "$user" "s2c@$p" $((1 + (k % 4 == 0))) \
			"--cut-s2c $p" "$@"
	done
	# client to server: inside the ClientHello, then just after each of
	# the client's first writes after the handshake (login, select, fetch)
	k=0
	for p in 50 $C2S; do
		k=$((k + 1))
		[ "$k" = 1 ] || [ "$k" -ge 4 ] && [ "$k" -le "$((3 + C2S_N))" ] ||
			continue
		point "$type" "$port" "$user" "c2s@$((p + 5))" 1 \
			"--cut-c2s $((p + 5))" "$@"
	done
}

# plain_points TYPE PLAINPORT USER REGEX "NTH:PLUS..." [FOLDER...]: cuts
# at exact protocol positions of a plaintext session (the account falls
# back to plain through the proxy): at the start of the NTH message
# response (a batch boundary when NTH-1 is a multiple of the batch size)
# and PLUS bytes into it (inside the FETCH literal or RETR body)
plain_points() {
	local type=$1 port=$2 user=$3 re=$4 list=$5 p
	shift 5
	for p in $list; do
		point "$type" "$port" "$user" "plain msg ${p%%:*}+${p#*:}" 1 \
			"--at $re --nth ${p%%:*} --plus ${p#*:}" "$@"
	done
}

HANDSHAKE="0 1 100 700" NBOUNDS=4 SPREAD=7 C2S_N=2
tls_points IMAP4 "$E2T_IMAPS_PORT" "$E2T_USER"
plain_points IMAP4 "$E2T_IMAP_NOTLS_PORT" "$E2T_USER" \
	'\*\s[0-9]+\sFETCH\s\([^\r\n]*BODY\[' "1:0 2:25 8:0 8:3000 15:0 25:0"
HANDSHAKE="0 700" NBOUNDS=2 SPREAD=4 C2S_N=1
tls_points POP3 "$E2T_POP3S_PORT" "$E2T_USER" INBOX
plain_points POP3 "$E2T_POP3_NOTLS_PORT" "$E2T_USER" \
	'\+OK\s[0-9]+\soctets' "1:0 8:0 8:2000" INBOX

# ---- 2. SIGKILL ---------------------------------------------------------------

# killed_sync DELAY: email2-syncd --once, SIGKILL after DELAY seconds
# (whatever it got to: connecting, downloading, committing a batch)
killed_sync() {
	local pid run=()
	# not through the e2t_run function: "$!" must be email2-syncd's own
	# PID (unshare and sh exec it), not a subshell's
	case "$E2T_RUN_HOW" in
	mount) run=(unshare --mount sh -c \
		'mount --bind "$0" /etc/hosts && exec "$@"' "$E2T_HOSTS") ;;
	usermount) run=(unshare --user --map-root-user --mount sh -c \
		'mount --bind "$0" /etc/hosts && exec "$@"' "$E2T_HOSTS") ;;
	esac
	"${run[@]}" "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" \
		--json --batch "$SYNC_BATCH" >"$E2T_DIR/kill.json" \
		2>"$E2T_DIR/kill.err" &
	pid=$!
	sleep "$1"
	kill -KILL "$pid" 2>/dev/null
	# (no "Killed" job notice in the test log)
	{ wait "$pid"; } 2>/dev/null
	KILL_RC=$?
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# local_files: how many messages the Maildir holds (all folders)
local_files() {
	find "$MD" -path '*/new/*' -o -path '*/cur/*' -type f 2>/dev/null |
		wc -l
}

# kill_points TYPE PORT USER NPOINTS [FOLDER...]: measures a full download,
# then kills one at NPOINTS delays from 20 ms to the full duration, each
# followed by a clean sync and the checks
kill_points() {
	local type=$1 port=$2 user=$3 np=$4 t0 dur k d
	shift 4
	fresh "$type" "$port" "$user" SERVERDELETEACTION=1
	t0=$(now_ms)
	e2t_check "$type kill: the measured full sync of $user" tsync 120
	dur=$(($(now_ms) - t0))
	e2t_log "$type kill: a full sync takes $dur ms"
	for k in $(seq 0 $((np - 1))); do
		# 20 ms, then evenly up to the whole duration
		d=$((20 + (dur - 20) * k / (np - 1)))
		fresh "$type" "$port" "$user" SERVERDELETEACTION=1
		killed_sync "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
		e2t_log "$type kill after $d ms: exit $KILL_RC," \
			"$(local_files) messages on disk"
		e2t_check "$type kill -9 after ${d}ms: clean sync, maildir == server" \
			clean_then_same "$user" "$port" "$@"
	done
}

kill_points IMAP4 "$E2T_IMAPS_PORT" bigbox 10
kill_points POP3 "$E2T_POP3S_PORT" bigbox 5 INBOX

# ---- 3. no server-side delete before the local copy is durable -----------------

# server_ids USER: the Message-IDs of USER's INBOX on the server
server_ids() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$1" "$E2T_PASSFILE" \
		"$E2T_CA" <<'PY'
import imaplib, re, ssl, sys
host, port, user, passfile, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
for item in data:
    if isinstance(item, tuple):
        mm = re.search(rb"<[^>]+>", item[1])
        if mm:
            print(mm.group(0).decode())
m.logout()
PY
}

# user_delete N: removes the N first local messages (by name) of the INBOX,
# appending their Message-IDs to $E2T_DIR/userdel
user_delete() {
	local f
	for f in $(find "$MD/new" "$MD/cur" -type f | sort | head -n "$1"); do
		grep -m1 -o -i '^Message-ID: *<[^>]*>' "$f" |
			sed 's/^[^<]*//' >>"$E2T_DIR/userdel"
		rm -f "$f"
	done
}

# only_user_deleted: every Message-ID that left the server since
# $E2T_DIR/before was deleted by the user
only_user_deleted() {
	local gone
	server_ids delbox | sort >"$E2T_DIR/after" || return 1
	gone=$(comm -23 "$E2T_DIR/before" "$E2T_DIR/after" |
		grep -v -x -F -f "$E2T_DIR/userdel")
	if [ -n "$gone" ]; then
		echo "deleted on the server, never deleted by the user:"
		echo "$gone"
		return 1
	fi
}

# none_left: every message the user deleted is gone from the server
none_left() {
	local left
	left=$(server_ids delbox | grep -x -F -f "$E2T_DIR/userdel")
	[ -z "$left" ] || {
		echo "still on the server: $left"
		return 1
	}
}

# delete_points TYPE PORT NPOINTS START [FOLDER...]: per point 2 local deletes
# pending and 12 new messages on the server; the sync is killed at a delay
# spread over a measured run of the same shape
# (START: the first generated message index, distinct per call, so that no
# two server messages are byte for byte the same)
delete_points() {
	local type=$1 port=$2 np=$3 start=$4 k d dur=0 t0
	shift 4
	: >"$E2T_DIR/userdel"
	fresh "$type" "$port" delbox SERVERDELETEACTION=1
	e2t_check "$type delete: first sync of delbox" tsync 120
	for k in $(seq 0 "$np"); do
		user_delete 2
		fill delbox 12 $((SEED + 3)) --start "$start" --attach-ratio 0
		start=$((start + 12))
		server_ids delbox | sort >"$E2T_DIR/before"
		if [ "$k" = 0 ]; then
			# the measured run, not killed
			t0=$(now_ms)
			tsync 120
			dur=$(($(now_ms) - t0))
			e2t_log "$type delete: a sync with deletes pending takes $dur ms"
		else
			d=$((10 + (dur - 10) * (k - 1) / (np - 1)))
			killed_sync "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
			e2t_log "$type delete kill after $d ms: exit $KILL_RC"
		fi
		e2t_check "$type delete pending, kill at point $k: the server lost only user-deleted mail" \
			only_user_deleted
		e2t_check "$type delete point $k: clean sync, maildir == server" \
			clean_then_same delbox "$port" "$@"
		e2t_check "$type delete point $k: the user's deletes reached the server" \
			none_left
	done
}

delete_points IMAP4 "$E2T_IMAPS_PORT" 6 1000 INBOX
delete_points POP3 "$E2T_POP3S_PORT" 4 2000 INBOX

# ---- one sync of an account at a time ---------------------------------------

# Two email2-syncd --once on one store at the same time (a user's run beside
# the daemon's) once downloaded the same UIDs twice (537 files for 300
# messages). e2_sync_account() now holds an exclusive lock on
# <store>/locks/{GUID}.lock: the second run fails at once with ebusy.
concurrent() {
	fresh IMAP4 "$E2T_IMAPS_PORT" bigbox SERVERDELETEACTION=1
	tsync 120 >/dev/null 2>&1 &
	local p1=$!
	e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" \
		--batch "$SYNC_BATCH" >/dev/null 2>&1 &
	local p2=$!
	wait "$p1" "$p2"
	clean_then_same bigbox "$E2T_IMAPS_PORT"
}
e2t_check "two concurrent syncs leave no duplicate" concurrent

# while another holder has the lock: ebusy at once, nothing touched
busy() {
	local before
	before=$(find "$MD" -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l)
	flock -x "$STORE/locks/$GUID.lock" bash -c "$(declare -f e2t_run sync_once); \
		$(declare -p SYNCD STORE E2T_CA E2T_DIR E2T_HOSTS E2T_RUN_HOW \
		SYNC_BATCH); ! sync_once" || return 1
	json '(d["status"] == "ebusy" and d["messages"] == 0 and
	       "another sync is running" in d["error"])' || return 1
	[ "$(find "$MD" -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l)" = "$before" ]
}
e2t_check "a locked account: ebusy at once, Maildir untouched" busy

# ---- 4. folder create and the Sent drain (issue 8, folders) -----------------
# A run that creates two server folders for local ones (mkdir of the three
# subdirectories: .Proj, .Entwürfe) and files two staged sent copies is cut
# at the server's reply to each CREATE (done on the server, never seen by
# the client: the plaintext port through cutproxy), and killed with
# SIGKILL at delays spread over it. After a clean sync: each local folder
# exists on the server once under its name, no local folder twice, each
# directory names its server folder, each sent copy is in exactly one
# place (still staged, or in .Sent).
e2t_add_user foldbox "$E2T_PASS"
sleep 1.1
touch "$E2T_DIR/etc/users"
e2t_doveadm mailbox status -u foldbox messages INBOX >/dev/null ||
	e2t_fatal "doveadm cannot open foldbox's INBOX"
FSTAGE=

# fold_list: foldbox's LIST names, sorted, one line
fold_list() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" foldbox "$E2T_PASSFILE" \
		"$E2T_CA" <<'PY'
import imaplib, re, ssl, sys
host, port, user, passfile, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(passfile).read().strip())
names = []
for l in m.list()[1]:
    n = re.match(rb'\([^)]*\) (?:NIL|"[^"]*") (.*)$', l).group(1).decode()
    names.append(n.strip('"'))
print(" ".join(sorted(names)))
m.logout()
PY
}

# fold_setup PORT: the server without the two folders, an empty store
# provisioned on PORT, a first sync, then the local folders and the
# staged copies
fold_setup() {
	local f
	e2t_doveadm mailbox delete -u foldbox Proj "Entwürfe" Sent >/dev/null 2>&1
	fresh IMAP4 "$1" foldbox || return 1
	tsync 60 || return 1
	mkdir -p "$MD"/.Proj/{cur,new,tmp} "$MD/.Entwürfe"/{cur,new,tmp}
	FSTAGE=$STORE/outbox/$GUID/.Sent
	mkdir -p "$FSTAGE"/{cur,new,tmp}
	for f in 1 2; do
		printf 'From: foldbox@email2.test\r\nSubject: staged-%s\r\n\r\nb\r\n' \
			"$f" >"$FSTAGE/cur/170000000$f.M1P1Q1.send:2,S"
	done
}

# fold_ok: the checks after the clean sync
fold_ok() {
	local got s n
	got=$(fold_list) || return 1
	[ "$got" = "Entw&APw-rfe INBOX Proj Sent Trash" ] || {
		echo "server folders: $got"
		return 1
	}
	got=$(cd "$MD" && LC_ALL=C ls -d .[!.]* | tr '\n' ' ')
	[ "$got" = ".Entwürfe .Proj .Sent .Trash " ] || {
		echo "local folders: $got"
		return 1
	}
	[ "$(cat "$MD/.Entwürfe/email2-folder")" = 'Entw&APw-rfe' ] &&
		[ "$(cat "$MD/.Proj/email2-folder")" = Proj ] || {
		echo "owner files wrong"
		return 1
	}
	for s in staged-1 staged-2; do
		n=$(grep -rl "^Subject: $s" "$MD" "$FSTAGE" | wc -l)
		[ "$n" = 1 ] || {
			echo "$s is in $n places"
			return 1
		}
		n=$(e2t_doveadm search -u foldbox mailbox Sent HEADER Subject "$s" | wc -l)
		[ "$n" = 1 ] || {
			echo "$s is $n times in the server's Sent"
			return 1
		}
	done
}

# fold_clean: a clean sync through the proxy, then fold_ok
fold_clean() {
	tsync 60 || {
		echo "clean sync failed"
		tail -n 5 "$E2T_DIR/sync.err"
		return 1
	}
	fold_ok
}

# fold_cut NTH: the cut sync fails cleanly, a connection was cut, and the
# server made the NTH folder whose reply the client never read (the
# directory has no owner yet: the next run must adopt it, not create it)
fold_cut() {
	local mark dir=.Entwürfe name='Entw&APw-rfe'
	[ "$1" = 2 ] && dir=.Proj name=Proj
	mark=$(wc -l <"$PLOG")
	cut_sync || return 1
	tail -n +"$((mark + 1))" "$PLOG" | grep -q ' cut ' || {
		echo "no connection was cut"
		return 1
	}
	fold_list | grep -qw "$name" || {
		echo "$name not created"
		return 1
	}
	[ ! -e "$MD/$dir/email2-folder" ] || {
		echo "$dir has an owner already"
		return 1
	}
}

for nth in 1 2; do
	proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	e2t_check "folders: setup for the cut at CREATE $nth" \
		fold_setup "$PROXY_PORT"
	proxy_stop
	proxy_start "$E2T_IMAP_NOTLS_PORT" --at 'OK Create completed' \
		--nth "$nth" --plus 0 --cut-conns 99 --log "$PLOG"
	e2t_check "folders: cut at the reply to CREATE $nth fails cleanly" \
		fold_cut "$nth"
	proxy_stop
	proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	e2t_check "folders: cut at CREATE $nth, then clean sync: each folder once, each sent copy once" \
		fold_clean
	proxy_stop
done

fold_setup "$E2T_IMAPS_PORT"
t0=$(now_ms)
e2t_check "folders kill: the measured run" tsync 60
dur=$(($(now_ms) - t0))
e2t_check "folders kill: the measured run leaves everything in place" fold_ok
e2t_log "folders kill: a run that creates two folders takes $dur ms"
for k in 0 1 2 3 4 5; do
	d=$((5 + (dur - 5) * k / 5))
	e2t_check "folders kill: setup $k" fold_setup "$E2T_IMAPS_PORT"
	killed_sync "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	e2t_log "folders kill after $d ms: exit $KILL_RC"
	e2t_check "folders kill -9 after ${d}ms: clean sync, each folder once, each sent copy once" \
		fold_clean
done

# ---- 5. send: kills during the claim and the sends (issue 8) ---------------

# 60 messages queued under names the user chose; email2-syncd --once killed
# at points spread over a measured run (claims, SMTP, the Sent moves), a
# clean run after each. Nothing lost: every message arrived, its Sent copy
# is exactly once in the queue's .Sent/cur or the local Sent folder and
# once in the server's Sent, nothing is left queued. Nothing
# sent twice outside the documented window (a kill after the server's 250
# and before the move): at most one extra copy per kill, with the same
# Message-ID as the first.
e2t_add_user sendbox "$E2T_PASS"
sleep 1.1
touch "$E2T_DIR/etc/users"
SENDQ=
send_queue() { # N: messages kill-1..N into the queue's new/
	local i
	(umask 077 && mkdir -p "$SENDQ/new" "$SENDQ/cur" "$SENDQ/tmp")
	for i in $(seq 1 "$1"); do
		printf 'From: sendbox@email2.test\nTo: rcpt%d@example.org\nSubject: kill-%d\n\nmessage %d\n' \
			"$i" "$i" "$i" >"$SENDQ/tmp/q$i"
		mv "$SENDQ/tmp/q$i" "$SENDQ/new/msg$i.eml"
	done
}
send_fresh() {
	rm -rf "$E2T_SINK_DIR"/new/* "$E2T_SINK_DIR"/cur/*
	e2t_doveadm mailbox delete -u sendbox Sent >/dev/null 2>&1
	fresh IMAP4 "$E2T_IMAPS_PORT" sendbox AUTHREQUIRED=1
	SENDQ=$STORE/outbox/$GUID
	send_queue 60
}
# send_outcome KILLS: the checks above over the sink and the staging
send_outcome() {
	"$E2T_PY" - "$E2T_SINK_DIR" "$SENDQ" "$1" "$STORE/mail/$GUID/.Sent/cur" \
		"$(e2t_doveadm search -u sendbox mailbox Sent ALL 2>/dev/null | wc -l)" <<'PY'
import email, os, sys
sink, q, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
mirror, on_server = sys.argv[4], int(sys.argv[5])
got = {}
for sub in ("new", "cur"):
    d = os.path.join(sink, sub)
    for f in os.listdir(d) if os.path.isdir(d) else []:
        m = email.message_from_bytes(open(os.path.join(d, f), "rb").read())
        got.setdefault(m["Subject"], []).append(m["Message-ID"])
want = {"kill-%d" % i for i in range(1, 61)}
lost = want - set(got)
extra = sum(len(v) - 1 for v in got.values())
staged = {}  # the staging and the local mirror of the server's Sent
for d in (os.path.join(q, ".Sent", "cur"), mirror):
    for f in os.listdir(d) if os.path.isdir(d) else []:
        m = email.message_from_bytes(open(os.path.join(d, f), "rb").read())
        staged.setdefault(m["Subject"], []).append(f)
left = [f for s in ("new", "cur") for f in os.listdir(os.path.join(q, s))]
errs = []
if lost: errs.append("lost: %s" % sorted(lost))
if extra > kills: errs.append("%d extra copies for %d kills" % (extra, kills))
if any(len(set(v)) != 1 for v in got.values()): errs.append("a copy with another Message-ID")
if set(staged) != want or any(len(v) != 1 for v in staged.values()):
    errs.append("staged: %s" % {k: len(v) for k, v in staged.items() if len(v) != 1} or sorted(want - set(staged)))
if left: errs.append("left queued: %s" % left)
if on_server != len(want): errs.append("%d copies in the server's Sent" % on_server)
print("%d extra copies for %d kills" % (extra, kills))
if errs:
    print("; ".join(errs))
    sys.exit(1)
PY
}
send_fresh
t0=$(now_ms)
tsync 120 >/dev/null 2>&1
send_dur=$(($(now_ms) - t0))
e2t_check "send: the measured run sends all 60 once" send_outcome 0
e2t_log "send kill: a run of 60 sends takes $send_dur ms"
# the points: 100 ms to 70 % of the measured run (which includes the
# harness's own start-up), where the claims and the sends happen
for k in 1 2 3 4 5 6 7 8 9 10; do
	send_fresh
	d=$((100 + (send_dur * 7 / 10 - 100) * (k - 1) / 9))
	killed_sync "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	e2t_log "send kill after $d ms: exit $KILL_RC, $(find "$E2T_SINK_DIR"/new -type f | wc -l) delivered before"
	tsync 120 >/dev/null 2>&1
	e2t_check "send kill -9 after ${d}ms: nothing lost, no copy outside the window" \
		send_outcome 1
done

# ---- 6. POP3: a local move is never a delete, at any kill point (issue 8) ---
# Per point: 2 messages moved from the root into .Work (one renamed, one
# saved as mutt does, under a new name), 2 deleted locally, 4 new on the
# server, SERVERDELETEACTION 1;
# the sync is killed at a delay spread over a measured run of that shape.
# Afterwards (and after a clean sync) the server lost only what the user
# deleted, every moved message is still on the server and in .Work, none
# came back into the root, and the user's deletes reached the server.

# pop3_move N: moves the N first root messages into .Work/cur, appending
# their Message-IDs to $E2T_DIR/moved: the first by a rename (the name
# and its L= tag kept), the next as mutt does (a new file under a new
# name, the original removed), and so on
pop3_move() {
	local f n k=0
	mkdir -p "$MD/.Work/cur" "$MD/.Work/new" "$MD/.Work/tmp"
	for f in $(find "$MD/new" "$MD/cur" -type f | sort | head -n "$1"); do
		grep -m1 -o -i '^Message-ID: *<[^>]*>' "$f" |
			sed 's/^[^<]*//' >>"$E2T_DIR/moved"
		n=$(basename "$f")
		k=$((k + 1))
		if [ $((k % 2)) = 1 ]; then
			mv "$f" "$MD/.Work/cur/${n%%:2,*}:2,S"
		else
			cp "$f" "$MD/.Work/cur/$(date +%s).$$_$RANDOM.mutt:2,S" &&
				rm -f "$f"
		fi
	done
}

# moved_kept: every moved message is on the server and in .Work, once
moved_kept() {
	local id missing
	server_ids delbox | sort >"$E2T_DIR/now" || return 1
	missing=$(grep -v -x -F -f "$E2T_DIR/now" "$E2T_DIR/moved")
	if [ -n "$missing" ]; then
		echo "moved locally, yet gone from the server: $missing"
		return 1
	fi
	while read -r id; do
		if grep -q -l -F "$id" "$MD"/new/* "$MD"/cur/* 2>/dev/null; then
			echo "moved, yet downloaded into the root again: $id"
			return 1
		fi
		[ "$(grep -l -F "$id" "$MD"/.Work/cur/* | wc -l)" = 1 ] || {
			echo "not once in .Work: $id"
			return 1
		}
	done <"$E2T_DIR/moved"
}

move_points() {
	local port=$1 np=$2 start=$3 k d dur=0 t0
	: >"$E2T_DIR/userdel"
	: >"$E2T_DIR/moved"
	fresh POP3 "$port" delbox SERVERDELETEACTION=1
	e2t_check "POP3 move: first sync of delbox" tsync 120
	for k in $(seq 0 "$np"); do
		pop3_move 2
		user_delete 2
		fill delbox 4 $((SEED + 3)) --start "$start" --attach-ratio 0
		start=$((start + 4))
		server_ids delbox | sort >"$E2T_DIR/before"
		if [ "$k" = 0 ]; then
			t0=$(now_ms)
			tsync 120
			dur=$(($(now_ms) - t0))
			e2t_log "POP3 move: a sync with moves and deletes takes $dur ms"
		else
			d=$((10 + (dur - 10) * (k - 1) / (np - 1)))
			killed_sync "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
			e2t_log "POP3 move kill after $d ms: exit $KILL_RC"
		fi
		e2t_check "POP3 move, kill at point $k: the server lost only user-deleted mail" \
			only_user_deleted
		e2t_check "POP3 move point $k: the moved messages stay" moved_kept
		e2t_check "POP3 move point $k: clean sync" tsync 120
		e2t_check "POP3 move point $k: after it, the moved messages stay" \
			moved_kept
		e2t_check "POP3 move point $k: the user's deletes reached the server" \
			none_left
	done
}
move_points "$E2T_POP3S_PORT" 4 3000

# ---- 7. uploads and moves (issue 8): cut and killed ---------------------------
#
# A user's operations between two syncs: two neomutt saves INBOX -> .Work
# (UID MOVE), one cp into .Work (UID COPY), one new file in .Work/new and
# one in INBOX/new (APPEND). The sync that carries them out is cut exactly
# where the server has done a step and the client has not heard of it yet
# (before the nth APPENDUID / COPYUID reply; plaintext IMAP through the
# proxy), or killed with SIGKILL at delays spread over it. Then a clean
# sync: each message is exactly once where it belongs on the server (none
# sent twice, none lost, nothing in the Trash with SERVERDELETEACTION 2)
# and once locally, every file tagged.

# up_user NAME: a user with a1..a5 in INBOX and an empty Work
up_user() {
	local n
	e2t_add_user "$1" "$E2T_PASS" || return 1
	for n in a1 a2 a3 a4 a5; do
		printf 'From: a@example.org\nTo: u@email2.test\nSubject: %s\nMessage-ID: <%s@up>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\nbody %s\n' \
			"$n" "$n" "$n" >"$E2T_DIR/up-$n.eml"
	done
}
up_fill() {
	local n
	e2t_doveadm mailbox create -u "$1" Work || return 1
	for n in a1 a2 a3 a4 a5; do
		e2t_doveadm save -u "$1" -m INBOX <"$E2T_DIR/up-$n.eml" || return 1
	done
}

# up_ops: the user's file operations on the synced Maildir
up_ops() {
	local f n
	mkdir -p "$MD/.Work/cur" "$MD/.Work/new"
	for n in a1 a2; do
		f=$(grep -l "^Message-ID: <$n@up>" "$MD"/cur/* "$MD"/new/* | head -n1)
		mv "$f" "$MD/.Work/cur/$(basename "$f")"
	done
	f=$(grep -l "^Message-ID: <a3@up>" "$MD"/cur/* "$MD"/new/* | head -n1)
	cp "$f" "$MD/.Work/cur/$(basename "$f")"
	printf 'From: me@example.org\nSubject: n1\nMessage-ID: <n1@up>\n\nnew n1\n' \
		>"$MD/.Work/new/1700000001.n1.host"
	printf 'From: me@example.org\nSubject: n2\nMessage-ID: <n2@up>\n\nnew n2\n' \
		>"$MD/new/1700000002.n2.host"
}

# up_same USER: the server and the Maildir hold exactly the expected layout
up_same() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$1" "$E2T_PASSFILE" \
		"$E2T_CA" "$MD" <<'PY'
import imaplib, os, re, ssl, sys
host, port, user, pw, ca, md = sys.argv[1:7]
want = {"INBOX": ["a3", "a4", "a5", "n2"], "Work": ["a1", "a2", "a3", "n1"],
        "Trash": []}
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(pw).read().strip())
bad = 0
for box, names in want.items():
    m.select(box, readonly=True)
    typ, data = m.uid("SEARCH", None, "UNDELETED")
    got = []
    for uid in (data[0].split() if data[0] else []):
        typ, d = m.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        got.append(re.search(rb"<(\w+)@up>", d[0][1]).group(1).decode())
    if sorted(got) != names:
        print("server", box, sorted(got), "want", names); bad += 1
for box, d in (("INBOX", md), ("Work", os.path.join(md, ".Work"))):
    got = []
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(d, sub)):
            if ",U=" not in f:
                print("untagged", box, f); bad += 1
            t = open(os.path.join(d, sub, f), "rb").read()
            got.append(re.search(rb"<(\w+)@up>", t).group(1).decode())
    if sorted(got) != want[box]:
        print("local", box, sorted(got), "want", want[box]); bad += 1
sys.exit(1 if bad else 0)
PY
}

# up_point USER NAME how...: first sync, the operations, the faulty sync
# ("cut PROXYARGS" or "kill MS"), a clean sync, the checks
up_point() {
	local user=$1 name=$2 how=$3 pa
	shift 3
	fresh IMAP4 "$PROXY_PORT" "$user" SERVERDELETEACTION=2
	proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	e2t_check "upload $name: first sync" tsync 60
	up_ops
	if [ "$how" = cut ]; then
		proxy_stop
		read -r -a pa <<<"$1"
		proxy_start "$E2T_IMAP_NOTLS_PORT" "${pa[@]}" --cut-conns 99 \
			--log "$PLOG"
		e2t_check "upload $name: the cut sync fails cleanly" cut_sync
		proxy_stop
		proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	else
		killed_sync "$1"
	fi
	e2t_check "upload $name: clean sync" tsync 60
	e2t_check "upload $name: once on the server, once locally" \
		up_same "$user"
	proxy_stop
}

UP_CUTS="APPENDUID:1 APPENDUID:2 COPYUID:1 COPYUID:2 COPYUID:3"
UP_KILLS="0.05 0.15 0.3 0.6"
k=0
for p in $UP_CUTS $UP_KILLS; do
	k=$((k + 1))
	up_user "up$k" || e2t_fatal "cannot add up$k"
done
sleep 1.1
touch "$E2T_DIR/etc/users"
k=0
for p in $UP_CUTS; do
	k=$((k + 1))
	up_fill "up$k" || e2t_fatal "cannot fill up$k"
	up_point "up$k" "cut before ${p%%:*} #${p#*:}" cut \
		"--at \[${p%%:*} --nth ${p#*:}"
done
for p in $UP_KILLS; do
	k=$((k + 1))
	up_fill "up$k" || e2t_fatal "cannot fill up$k"
	up_point "up$k" "kill -9 after ${p}s" kill "$p"
done


# A batched move (issue 8, batch): 40 messages saved INBOX -> .Work in one
# go make one UID MOVE of 40 UIDs. The sync is cut right before the
# tagged OK of that UID MOVE (the server moved them all and sent COPYUID,
# the client never heard the end), and before its COPYUID, and killed;
# then a clean sync: each of the 40 exactly once in Work on the server and
# locally (every file tagged), none left in INBOX, none in the Trash.
bm_fill() {
	local n
	e2t_doveadm mailbox create -u "$1" Work || return 1
	for n in $(seq 1 40); do
		printf 'From: a@example.org\nTo: u@email2.test\nSubject: b%s\nMessage-ID: <b%s@bm>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\nbody %s\n' \
			"$n" "$n" "$n" | e2t_doveadm save -u "$1" -m INBOX ||
			return 1
	done
}
bm_ops() {
	local f
	mkdir -p "$MD/.Work/cur" "$MD/.Work/new"
	for f in "$MD"/cur/* "$MD"/new/*; do
		[ -f "$f" ] && mv "$f" "$MD/.Work/cur/$(basename "$f")"
	done
	return 0
}
bm_same() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$1" "$E2T_PASSFILE" \
		"$E2T_CA" "$MD" <<'PY'
import imaplib, os, re, ssl, sys
host, port, user, pw, ca, md = sys.argv[1:7]
all40 = sorted("b%d" % i for i in range(1, 41))
want = {"INBOX": [], "Work": all40, "Trash": []}
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(pw).read().strip())
bad = 0
for box, names in want.items():
    m.select(box, readonly=True)
    typ, data = m.uid("SEARCH", None, "UNDELETED")
    got = []
    for uid in (data[0].split() if data[0] else []):
        typ, d = m.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        got.append(re.search(rb"<(\w+)@bm>", d[0][1]).group(1).decode())
    if sorted(got) != names:
        print("server", box, sorted(got), "want", names); bad += 1
for box, d in (("INBOX", md), ("Work", os.path.join(md, ".Work"))):
    got = []
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(d, sub)):
            if ",U=" not in f:
                print("untagged", box, f); bad += 1
            t = open(os.path.join(d, sub, f), "rb").read()
            got.append(re.search(rb"<(\w+)@bm>", t).group(1).decode())
    if sorted(got) != want[box]:
        print("local", box, sorted(got), "want", want[box]); bad += 1
sys.exit(1 if bad else 0)
PY
}
bm_point() {
	local user=$1 name=$2 how=$3 pa
	fresh IMAP4 "$PROXY_PORT" "$user" SERVERDELETEACTION=2
	proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	e2t_check "batch $name: first sync" tsync 60
	bm_ops
	if [ "$how" = cut ]; then
		proxy_stop
		read -r -a pa <<<"$4"
		proxy_start "$E2T_IMAP_NOTLS_PORT" "${pa[@]}" --cut-conns 99 \
			--log "$PLOG"
		e2t_check "batch $name: the cut sync fails cleanly" cut_sync
		proxy_stop
		proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	else
		killed_sync "$4"
	fi
	e2t_check "batch $name: clean sync" tsync 60
	e2t_check "batch $name: all 40 once in Work, none lost" bm_same "$user"
	proxy_stop
}
for k in 1 2 3 4; do
	e2t_add_user "bm$k" "$E2T_PASS" || e2t_fatal "cannot add bm$k"
done
sleep 1.1
touch "$E2T_DIR/etc/users"
for k in 1 2 3 4; do
	bm_fill "bm$k" || e2t_fatal "cannot fill bm$k"
done
bm_point bm1 "cut before the tagged OK of UID MOVE" cut "--at OK.Move --nth 1"
bm_point bm2 "cut before COPYUID" cut "--at \[COPYUID --nth 1"
bm_point bm3 "kill -9 after 0.2s" kill 0.2
bm_point bm4 "kill -9 after 0.4s" kill 0.4

# ---- 7b. saves by a new name (R18, issue 8 neomutt): cut and killed ---------
#
# neomutt's real save: a NEW untagged file in .Work (Content-Length added)
# and the original removed, for a1 and a2. The sync pairs them by
# Message-ID (UID FETCH BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] in INBOX),
# renames each to carry its INBOX row's tag, then moves them (UID MOVE).
# Cut before the Message-ID reply (nothing renamed yet), before the 1st
# and 2nd COPYUID (moved, not heard), or killed: a clean sync then leaves
# a1 a2 once in Work (never uploaded twice), none in Trash (SDA 2).
sv_ops() {
	local f n
	mkdir -p "$MD/.Work/cur" "$MD/.Work/new" "$MD/.Work/tmp"
	for n in a1 a2; do
		f=$(grep -l "^Message-ID: <$n@up>" "$MD"/cur/* "$MD"/new/* | head -n1)
		{ printf 'Content-Length: 8\n'; cat "$f"; } \
			>"$MD/.Work/cur/1700000100.sv$n.host:2,S" && rm -f "$f"
	done
}
sv_same() {
	"$E2T_PY" - "$E2T_ADDR" "$E2T_IMAPS_PORT" "$1" "$E2T_PASSFILE" \
		"$E2T_CA" "$MD" <<'PY'
import imaplib, os, re, ssl, sys
host, port, user, pw, ca, md = sys.argv[1:7]
want = {"INBOX": ["a3", "a4", "a5"], "Work": ["a1", "a2"], "Trash": []}
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, open(pw).read().strip())
bad = 0
for box, names in want.items():
    m.select(box, readonly=True)
    typ, data = m.uid("SEARCH", None, "UNDELETED")
    got = []
    for uid in (data[0].split() if data[0] else []):
        typ, d = m.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        got.append(re.search(rb"<(\w+)@up>", d[0][1]).group(1).decode())
    if sorted(got) != names:
        print("server", box, sorted(got), "want", names); bad += 1
for box, d in (("INBOX", md), ("Work", os.path.join(md, ".Work"))):
    got = []
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(d, sub)):
            if ",U=" not in f:
                print("untagged", box, f); bad += 1
            t = open(os.path.join(d, sub, f), "rb").read()
            got.append(re.search(rb"<(\w+)@up>", t).group(1).decode())
    if sorted(got) != want[box]:
        print("local", box, sorted(got), "want", want[box]); bad += 1
sys.exit(1 if bad else 0)
PY
}
sv_point() {
	local user=$1 name=$2 how=$3 pa
	shift 3
	fresh IMAP4 "$PROXY_PORT" "$user" SERVERDELETEACTION=2
	proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	e2t_check "save $name: first sync" tsync 60
	sv_ops
	if [ "$how" = cut ]; then
		proxy_stop
		read -r -a pa <<<"$1"
		proxy_start "$E2T_IMAP_NOTLS_PORT" "${pa[@]}" --cut-conns 99 \
			--log "$PLOG"
		e2t_check "save $name: the cut sync fails cleanly" cut_sync
		proxy_stop
		proxy_start "$E2T_IMAP_NOTLS_PORT" --cut-conns 0 --log "$PLOG"
	else
		killed_sync "$1"
	fi
	e2t_check "save $name: clean sync" tsync 60
	e2t_check "save $name: moved once, nothing uploaded twice or in Trash" \
		sv_same "$user"
	proxy_stop
}
SV_CUTS="BODY\[HEADER\.FIELDS:1 \[COPYUID:1 \[COPYUID:2"
SV_KILLS="0.05 0.15 0.3 0.6"
k=0
for p in $SV_CUTS $SV_KILLS; do
	k=$((k + 1))
	up_user "sv$k" || e2t_fatal "cannot add sv$k"
done
sleep 1.1
touch "$E2T_DIR/etc/users"
k=0
for p in $SV_CUTS; do
	k=$((k + 1))
	up_fill "sv$k" || e2t_fatal "cannot fill sv$k"
	sv_point "sv$k" "cut before ${p%%:*} #${p#*:}" cut \
		"--at ${p%%:*} --nth ${p#*:}"
done
for p in $SV_KILLS; do
	k=$((k + 1))
	up_fill "sv$k" || e2t_fatal "cannot fill sv$k"
	sv_point "sv$k" "kill -9 after ${p}s" kill "$p"
done

e2t_finish
