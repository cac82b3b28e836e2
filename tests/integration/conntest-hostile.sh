#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-hostile.sh -- what Dovecot won't do, from hostile_server.py:
# bytes injected after the STARTTLS reply, STARTTLS advertised then
# refused, a PREAUTH greeting, a silent port, garbage, odd capability bytes
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up

X=$E2T_HOST_HOSTILE
XA=$E2T_ADDR_HOSTILE
port=30000
# hostile PROTO SCENARIO [ARGS]: a fresh hostile server on the next port
hostile() {
	port=$((port + 1))
	e2t_hostile "$XA" "$port" --proto "$1" --scenario "$2" --timeout 60 \
		"${@:3}"
}

for p in imap pop3 smtp; do
	ct_proto "$p"
	hostile "$p" inject
	ct "$p: bytes injected after STARTTLS reply: eproto, TLS required" 1 \
		'M == ["tls", "starttls"] and last["status"] == "eproto"
		 and s["status"] == "eproto" and last["login"] != "ok"' \
		$(ct_side "$X:$port") "$CT_REQ"
	ct "$p: injected bytes, TLS optional: eproto, no plain rung" 1 \
		'M == ["tls", "starttls"] and s["status"] == "eproto"
		 and last["login"] != "ok"' \
		$(ct_side "$X:$port")
	e2t_stop_hostile

	hostile "$p" refuse-starttls
	ct "$p: STARTTLS advertised then refused, TLS required: exit 5" 1 \
		'M == ["tls", "starttls"] and s["status"] == "enostarttls"
		 and last["status"] == "enostarttls"
		 and not any(a["cleartext_login"] for a in A)' \
		$(ct_side "$X:$port") "$CT_REQ"
	ct "$p: STARTTLS refused, TLS optional: plain, cleartext reported" 0 \
		'M == ["tls", "starttls", "plain"]
		 and A[1]["status"] == "enostarttls" and last["ok"]
		 and last["cleartext_login"]' \
		$(ct_side "$X:$port")
	e2t_stop_hostile
done

ct_proto imap
hostile imap preauth
# policy (einsecure) or protocol (eproto): either refuses, neither logs in
ct "imap: PREAUTH greeting, TLS required: refused, no login" 1 \
	'not s["ok"] and "plain" not in M
	 and s["status"] in ("eproto", "enostarttls", "einsecure")
	 and last["login"] != "ok"' \
	$(ct_side "$X:$port") --in-require-ssl
e2t_stop_hostile

hostile imap garbage
ct "imap: garbage greeting: eproto, no plain rung" 1 \
	'not s["ok"] and "plain" not in M and s["status"] == "eproto"' \
	$(ct_side "$X:$port")
e2t_stop_hostile

# a silent port: each rung waits for its own deadline, no longer
hostile imap silent
CT_TIMEOUT=1 ct "imap: silent port: etimeout on each rung within its deadline" 1 \
	'M == ["tls", "starttls", "plain"] and s["status"] == "etimeout"
	 and all(a["status"] == "etimeout" for a in A)
	 and all(800 <= a["elapsed_ms"] <= 2500 for a in A)
	 and s["elapsed_ms"] <= 6000' \
	$(ct_side "$X:$port")
CT_TIMEOUT=1 ct "imap: silent port, TLS required: two rungs only" 1 \
	'M == ["tls", "starttls"] and s["status"] == "etimeout"' \
	$(ct_side "$X:$port") --in-require-ssl
e2t_stop_hostile

hostile imap silent --tls
CT_TIMEOUT=1 ct "imap: TLS handshake then silence: etimeout" 1 \
	'A[0]["status"] == "etimeout" and A[0]["elapsed_ms"] <= 2500' \
	$(ct_side "$X:$port") --in-require-ssl
e2t_stop_hostile

# a resolver that never answers: getaddrinfo() alone would wait for
# resolv.conf's timeout x attempts (5 s x 2 here); each attempt's deadline
# bounds it
silent_dns() {
	"$E2T_PY" - "$E2T_DIR/dns.ready" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.77", 53))
open(sys.argv[1], "w").close()
time.sleep(120)
PY
	DNS_PID=$!
	for _ in $(seq 1 50); do
		[ -e "$E2T_DIR/dns.ready" ] && return 0
		sleep 0.1
	done
	return 1
}
case $E2T_RUN_HOW in
mount | usermount)
	if silent_dns; then
		printf 'nameserver 127.0.0.77\noptions timeout:5 attempts:2\n' \
			>"$E2T_DIR/etc/resolv.conf"
		export E2T_RESOLV=$E2T_DIR/etc/resolv.conf
		CT_TIMEOUT=1 ct "imap: a silent resolver: each rung gives up by its deadline" 1 \
			'not s["ok"] and s["elapsed_ms"] <= 4000
			 and all(a["status"] == "etimeout" and
			         "resolve nowhere.email2.test" in a["error"] and
			         a["elapsed_ms"] <= 2000 for a in A)' \
			--in nowhere.email2.test --service imap4 \
			--user "$E2T_USER" --password-file "$E2T_PASSFILE"
		unset E2T_RESOLV
	else
		e2t_check_skip "a silent resolver" "cannot bind 127.0.0.77:53"
	fi
	kill "$DNS_PID" 2>/dev/null
	;;
*)
	e2t_check_skip "a silent resolver" "no private mount namespace"
	;;
esac

if [ "$E2T_DEFAULT_PORTS" = 1 ]; then
	# implicit TLS hangs on 993, Dovecot answers STARTTLS on 143
	e2t_hostile "$E2T_ADDR_HANG" "$E2T_IMAPS_PORT" --scenario silent \
		--timeout 60
	CT_TIMEOUT=1 ct "imap: default ports, 993 silent: STARTTLS on 143 wins" 0 \
		'M == ["tls", "starttls"] and A[0]["status"] == "etimeout"
		 and A[0]["elapsed_ms"] <= 2500 and last["ok"]
		 and last["port"] == 143' \
		$(ct_side "$E2T_HOST_HANG") --in-require-ssl
	e2t_stop_hostile
fi

# odd bytes in server text stay valid JSON (POP3 CAPA lines are free-form)
ct_proto pop3
hostile pop3 ok --tls --capa-extra 'X-ODD \xff\xfe "q" \\ \x1b[31m \xc3\xa9'
ct "pop3: odd capability bytes: the JSON document stays valid" 0 \
	'last["ok"] and M == ["tls"]' \
	$(ct_side "$X:$port")
text_escapes() {
	e2t_run "$E2T_CONNTEST" --cafile "$E2T_CA" "$@" >"$E2T_DIR/odd.txt"
	cat -v "$E2T_DIR/odd.txt"
	! grep -q $'\x1b' "$E2T_DIR/odd.txt"
}
e2t_check "pop3: odd capability bytes: text output escapes them" \
	text_escapes $(ct_side "$X:$port")
e2t_stop_hostile

# ---- the server-byte guard: every byte from the first, on every rung
# The plaintext CAPABILITY reply of the STARTTLS rung (before any
# certificate was checked) carries what crashed libetpan 1.9.4: a malformed
# PERMANENTFLAGS hidden behind a resp-text line ending in "{20}", or a
# BODYSTRUCTURE nested 50000 deep. Refused as a protocol error naming the
# response; never a reason to fall back to plaintext.
ct_proto imap
for sc in caps-permflags caps-deep; do
	case $sc in
	caps-permflags) why=PERMANENTFLAGS ;;
	*) why="nested deeper than 128" ;;
	esac
	hostile imap "$sc"
	for req in "" "$CT_REQ"; do
		ct "imap: $sc in the STARTTLS rung's plaintext CAPABILITY${req:+, TLS required}: eproto" 1 \
			"M == ['tls', 'starttls'] and s['status'] == 'eproto'
			 and A[1]['status'] == 'eproto'
			 and 'imap response' in A[1]['error']
			 and '$why' in A[1]['error'] and '$why' in s['error']
			 and not A[1]['tls'] and A[1]['login'] != 'ok'" \
			$(ct_side "$X:$port") $req
	done
	e2t_stop_hostile
done

# a greeting line that never ends (64 MiB without LF): the guard gives up
# at its line cap with a protocol error, and memory stays bounded (the
# peak RSS is far below what 64 MiB in libetpan's line buffer would take)
long_line() { # PROTO
	local rc=0 rss
	echo "\$ email2-conntest --json $(ct_side "$X:$port")"
	e2t_run /usr/bin/time -f 'maxrss %M' -o "$E2T_DIR/time.out" \
		"$E2T_CONNTEST" --cafile "$E2T_CA" --timeout 5 --json \
		$(ct_side "$X:$port") >"$E2T_DIR/ct.out" 2>"$E2T_DIR/ct.err" ||
		rc=$?
	cat "$E2T_DIR/ct.err" "$E2T_DIR/time.out"
	rss=$(sed -n 's/^maxrss //p' "$E2T_DIR/time.out")
	echo "exit $rc, peak RSS ${rss:-?} KiB"
	[ "$rc" = 1 ] && [ -n "$rss" ] && [ "$rss" -lt 49152 ] &&
		CT_SIDE=$CT_SIDE "$E2T_PY" - "$E2T_DIR/ct.out" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))[os.environ["CT_SIDE"]]
print(s["error"])
sys.exit(0 if s["status"] == "eproto" and
         "line longer than" in s["error"] else 1)
PY
}
if [ -x /usr/bin/time ]; then
	for p in imap pop3 smtp; do
		ct_proto "$p"
		hostile "$p" long-line
		e2t_check "$p: a greeting line without end: eproto at the cap, memory bounded" \
			long_line "$p"
		e2t_stop_hostile
	done
else
	e2t_check_skip "a greeting line without end" "no /usr/bin/time"
fi

e2t_finish
