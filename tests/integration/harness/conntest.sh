# SPDX-License-Identifier: MIT
# harness/conntest.sh -- email2-conntest helpers for tests/integration/conntest-*.sh
#
# Sourced after lib.sh and e2t_up. Provides:
#   ct_need                 skip (77) when the tool is not built
#   ct NAME EXIT EXPR ARGS  runs email2-conntest --json ARGS (with --cafile
#                           and --timeout unless CT_NO_CAFILE / CT_TIMEOUT),
#                           checks the exit status (EXIT may list choices:
#                           "5|6"), that the password is in
#                           neither stdout nor stderr, and the Python
#                           expression EXPR over the document, where
#                           d = document, s = d[CT_SIDE] (in or out),
#                           A = s["attempts"], M = the modes tried,
#                           last = A[-1]
#   ct_proto PROTO          sets CT_SIDE, CT_TLS_PORT, CT_STARTTLS_PORT,
#                           CT_NOTLS_PORT, CT_STRICT_PORT, CT_REQ (the
#                           require-ssl flag) and ct_side HOST[:PORT] (the
#                           side's arguments with credentials)

ct_need() {
	E2T_CONNTEST=$(e2t_find_tool email2-conntest) ||
		e2t_skip "email2-conntest is not built"
}

ct_proto() {
	CT_PROTO=$1
	case $1 in
	imap)
		CT_SIDE=in CT_REQ=--in-require-ssl
		CT_TLS_PORT=$E2T_IMAPS_PORT CT_STARTTLS_PORT=$E2T_IMAP_PORT
		CT_NOTLS_PORT=$E2T_IMAP_NOTLS_PORT
		CT_STRICT_PORT=$E2T_IMAP_STRICT_PORT
		;;
	pop3)
		CT_SIDE=in CT_REQ=--in-require-ssl
		CT_TLS_PORT=$E2T_POP3S_PORT CT_STARTTLS_PORT=$E2T_POP3_PORT
		CT_NOTLS_PORT=$E2T_POP3_NOTLS_PORT
		CT_STRICT_PORT=$E2T_POP3_STRICT_PORT
		;;
	smtp)
		CT_SIDE=out CT_REQ=--out-require-ssl
		CT_TLS_PORT=$E2T_SUBMISSIONS_PORT
		CT_STARTTLS_PORT=$E2T_SUBMISSION_PORT
		CT_NOTLS_PORT=$E2T_SUBMISSION_NOTLS_PORT
		CT_STRICT_PORT=$E2T_SUBMISSION_STRICT_PORT
		;;
	esac
	export CT_SIDE
}

# ct_side SERVER [PASSFILE]: the side's options for the current protocol
ct_side() {
	local pf=${2:-$E2T_PASSFILE}
	case $CT_PROTO in
	imap) echo "--in $1 --service imap4 --user $E2T_USER --password-file $pf" ;;
	pop3) echo "--in $1 --service pop3 --user $E2T_USER --password-file $pf" ;;
	smtp) echo "--out $1 --auth-required --user $E2T_USER --password-file $pf" ;;
	esac
}

ct_do() {
	local want=$1 expr=$2 rc out err
	shift 2
	out=$E2T_DIR/ct.out
	err=$E2T_DIR/ct.err
	local pre=(--timeout "${CT_TIMEOUT:-5}")
	[ -z "${CT_NO_CAFILE:-}" ] && pre+=(--cafile "$E2T_CA")
	echo "\$ email2-conntest ${pre[*]} --json $*"
	e2t_run "$E2T_CONNTEST" "${pre[@]}" --json "$@" >"$out" 2>"$err"
	rc=$?
	cat "$err"
	if grep -q -F -- "$E2T_PASS" "$out" "$err"; then
		echo "the password appears in the output"
		return 1
	fi
	if [[ "|$want|" != *"|$rc|"* ]]; then
		echo "exit status $rc, expected $want"
		cat "$out"
		return 1
	fi
	"$E2T_PY" - "$out" "$expr" <<'EOF'
import json, os, re, sys
raw = open(sys.argv[1], "rb").read()
try:
    d = json.loads(raw)
except ValueError as ex:
    print("not JSON:", ex)
    print(raw[:2000])
    sys.exit(1)
s = d.get(os.environ.get("CT_SIDE", "in")) or {}
A = s.get("attempts") or []
M = [a["mode"] for a in A]
last = A[-1] if A else {}
try:
    ok = eval("(" + sys.argv[2] + "\n)")
except Exception as ex:  # noqa: BLE001 - report a broken expectation
    ok = False
    print(f"{type(ex).__name__}: {ex}")
if not ok:
    print("expected:", sys.argv[2])
    print(json.dumps(d, indent=1)[:4000])
sys.exit(0 if ok else 1)
EOF
}

ct() {
	local name=$1
	shift
	e2t_check "$name" ct_do "$@"
}

# ct_text_no_secret ARGS: the text output never shows the password
ct_text_no_secret() {
	local out=$E2T_DIR/ct-text.out
	e2t_run "$E2T_CONNTEST" --cafile "$E2T_CA" --timeout 5 "$@" \
		>"$out" 2>&1
	cat "$out"
	! grep -q -F -- "$E2T_PASS" "$out"
}

# ct_protocol_suite PROTO: every rung against Dovecot for one protocol
ct_protocol_suite() {
	local p=$1 h=$E2T_HOST wrong=$E2T_DIR/wrong-password
	ct_proto "$p"
	printf 'wrong-%s\n' "$RANDOM" >"$wrong"

	e2t_log_mark
	ct "$p: implicit TLS port, TLS required" 0 \
		'd["ok"] and s["ok"] and M == ["tls"] and last["login"] == "ok"
		 and last["tls"] and last["cert_verified"]
		 and last["tls_version"].startswith("TLSv1.")
		 and last["cipher"] and last["cert_subject"]
		 and not last["cleartext_login"] and last["capabilities"]
		 and last["address"] and last["error"] is None
		 and s["status"] == "ok" and s["error"] is None' \
		$(ct_side "$h:$CT_TLS_PORT") "$CT_REQ"
	ct "$p: STARTTLS port, TLS required" 0 \
		'M == ["tls", "starttls"] and not A[0]["ok"]
		 and A[0]["login"] == "not_tried" and last["ok"]
		 and last["tls"] and last["login"] == "ok"
		 and not last["cleartext_login"]' \
		$(ct_side "$h:$CT_STARTTLS_PORT") "$CT_REQ"
	ct "$p: STARTTLS-required port, TLS required" 0 \
		'M == ["tls", "starttls"] and last["ok"] and last["tls"]
		 and last["login"] == "ok"' \
		$(ct_side "$h:$CT_STRICT_PORT") "$CT_REQ"
	ct "$p: plain-only port, TLS required: refused, no plain rung" 1 \
		'not d["ok"] and M == ["tls", "starttls"]
		 and s["status"] in ("enostarttls", "einsecure")
		 and s["tls_required"]
		 and all(a["login"] != "ok" for a in A)
		 and not any(a["cleartext_login"] for a in A)' \
		$(ct_side "$h:$CT_NOTLS_PORT") "$CT_REQ"
	e2t_check "$p: TLS required: no login outside TLS (dovecot log)" \
		e2t_no_cleartext_login "$E2T_USER"

	ct "$p: plain-only port, TLS optional: plain, reported cleartext" 0 \
		'M == ["tls", "starttls", "plain"]
		 and A[1]["status"] == "enostarttls" and last["ok"]
		 and last["login"] == "ok" and last["cleartext_login"]
		 and not last["tls"]' \
		$(ct_side "$h:$CT_NOTLS_PORT")
	ct "$p: STARTTLS port, TLS optional: STARTTLS wins" 0 \
		'M == ["tls", "starttls"] and last["tls"]
		 and not last["cleartext_login"]' \
		$(ct_side "$h:$CT_STARTTLS_PORT")
	ct "$p: wrong password: exit 4" 1 \
		's["status"] == "eauth" and last["login"] == "failed"
		 and "plain" not in M' \
		$(ct_side "$h:$CT_TLS_PORT" "$wrong") "$CT_REQ"
	ct "$p: wrong password over STARTTLS: exit 4" 1 \
		's["status"] == "eauth" and M == ["tls", "starttls"]' \
		$(ct_side "$h:$CT_STARTTLS_PORT" "$wrong") "$CT_REQ"
	if [ "$E2T_DEFAULT_PORTS" = 1 ]; then
		ct "$p: default ports: implicit TLS first" 0 \
			"M == ['tls'] and last['port'] == $CT_TLS_PORT
			 and s['port'] is None" \
			$(ct_side "$h") "$CT_REQ"
		ct "$p: default ports, implicit TLS refused: STARTTLS" 0 \
			"M == ['tls', 'starttls']
			 and A[0]['status'] == 'econnect'
			 and A[0]['port'] == $CT_TLS_PORT
			 and last['port'] == $CT_STARTTLS_PORT and last['tls']" \
			$(ct_side "$E2T_HOST_HANG") "$CT_REQ"
	else
		e2t_check_skip "$p: default ports" "loopback mode uses high ports"
	fi
	e2t_check "$p: text output, no password" ct_text_no_secret \
		$(ct_side "$h:$CT_STARTTLS_PORT") "$CT_REQ"
	e2t_check "$p: text output of a failed login, no password" \
		ct_text_no_secret $(ct_side "$h:$CT_TLS_PORT" "$wrong")
}
