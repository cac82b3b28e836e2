#!/bin/bash
# SPDX-License-Identifier: MIT
# auth-hints.sh -- issue 9 against the harness Dovecot: an SMTP 530 (no
# AUTHREQUIRED) or 535 is an authentication error with a hint, in
# email2-conntest (which probes MAIL FROM when it skips the login), in the
# sync's summary and --json, and in email2-outbox list; no server reply
# ends in a raw "\x0d\x0a" in human text; a login without TLS (TAGPROPS
# 8128000B not set, plain-only port) is said in the summary line, in
# --json ("cleartext_login") and in conntest's verdict, and a TLS login
# says nothing of the kind.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{7E1A0C2D-4444-4A2B-8C3D-000000000093}'
CONNTEST=$(e2t_find_tool email2-conntest) || e2t_skip "email2-conntest not built"
OUTBOX=$(e2t_find_tool email2-outbox) || e2t_skip "email2-outbox not built"
H=$E2T_HOST
not() { ! "$@"; }
has() {
	local f=$1 t
	shift
	for t in "$@"; do
		grep -q -F -- "$t" "$f" && continue
		echo "no \"$t\" in $f:"
		cat "$f"
		return 1
	done
}
hasnt() { ! grep -q -F -- "$2" "$1" || { echo "\"$2\" in $1:"; cat "$1"; return 1; }; }
# no_raw FILE: no escaped line end of a server reply in human text
no_raw() { hasnt "$1" '\x0a' && hasnt "$1" '\x0d'; }
# ct FILE ARGS...: email2-conntest, output in FILE; fails unless it exits 0
ct() {
	local f=$1
	shift
	e2t_run "$CONNTEST" --cafile "$E2T_CA" --timeout 5 "$@" >"$f" 2>&1
}
# sync_text: email2-syncd --once without --json, output in sync.txt
sync_text() {
	e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" \
		>"$E2T_DIR/sync.txt" 2>&1
}
# retry_first: the first queued message is due now (email2-outbox retry)
retry_first() {
	local id
	id=$("$OUTBOX" --store "$STORE" list --json |
		"$E2T_PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])') &&
		"$OUTBOX" --store "$STORE" retry "$id"
}
HINT530='the server requires authentication: provision AUTHREQUIRED=1'
HINT535='credentials rejected: check AUTHNAME/AUTHSECRET, or SMTPALT*'

# ---- 530: AUTHREQUIRED absent
sync_provision IMAP4 "$E2T_IMAPS_PORT" || e2t_fatal "cannot provision"
e2t_check "conntest, AUTHREQUIRED absent: fails" \
	not ct "$E2T_DIR/ct.txt" --store "$STORE" "$GUID"
e2t_check "... the outgoing test failed on the MAIL FROM probe, with the hint" \
	has "$E2T_DIR/ct.txt" "login: skipped" \
	"MAIL FROM:<$E2T_USER@email2.test> refused by" \
	"530 5.7.0 Authentication required. ($HINT530)" "verdict: failed"
e2t_check "... no raw line end" no_raw "$E2T_DIR/ct.txt"
e2t_check "conntest --json: outgoing eauth" \
	not ct "$E2T_DIR/ct.json" --json --store "$STORE" "$GUID"
e2t_check "... status eauth, login skipped, hint in the error" \
	e2t_json "$E2T_DIR/ct.json" '(d["in"]["ok"] and not d["out"]["ok"]
	and d["out"]["status"] == "eauth"
	and d["out"]["attempts"][-1]["login"] == "skipped"
	and "provision AUTHREQUIRED=1" in d["out"]["error"])'

OUT=$STORE/outbox/$GUID
(umask 077 && mkdir -p "$OUT/new" "$OUT/cur" "$OUT/tmp")
printf 'From: %s@email2.test\nTo: jane@example.org\nSubject: q\n\nq\n' \
	"$E2T_USER" >"$OUT/tmp/q1"
mv "$OUT/tmp/q1" "$OUT/new/1700000000.M1P1Q1.test"
e2t_check "sync with a queued message: fails" not sync_once
e2t_check "... --json: eauth, the reply and the hint, no raw line end" \
	json '(d["status"] == "eauth" and d["send_failed"] == 1
	and "530 5.7.0 Authentication required. (" in d["error"]
	and "provision AUTHREQUIRED=1" in d["error"]
	and "\\x0a" not in d["error"])'
e2t_check "email2-outbox retry: due again" retry_first
e2t_check "sync in text: fails" not sync_text
e2t_check "... the summary line says eauth and the hint" \
	has "$E2T_DIR/sync.txt" "$GUID: eauth," \
	"530 5.7.0 Authentication required. ($HINT530)"
e2t_check "... no raw line end" no_raw "$E2T_DIR/sync.txt"
e2t_check "email2-outbox list: the last error has the hint" \
	eval "'$OUTBOX' --store '$STORE' list >'$E2T_DIR/ob.txt' 2>&1"
e2t_check "... and no raw line end" \
	has "$E2T_DIR/ob.txt" "last error: " "$HINT530"
e2t_check "... no raw line end" no_raw "$E2T_DIR/ob.txt"

# ---- AUTHREQUIRED=1: both sides log in over TLS, no cleartext note
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 ||
	e2t_fatal "cannot provision"
e2t_check "conntest, AUTHREQUIRED=1: ok" ct "$E2T_DIR/ct.txt" --store "$STORE" "$GUID"
e2t_check "... the verdict says nothing of cleartext" \
	hasnt "$E2T_DIR/ct.txt" "cleartext"
e2t_check "email2-outbox retry: due now" retry_first
e2t_check "sync over TLS: ok, the message sent" sync_once
e2t_check "... --json cleartext_login false" \
	json 'd["status"] == "ok" and d["cleartext_login"] is False and d["sent"] == 1'
e2t_check "sync over TLS in text: ok" sync_text
e2t_check "... no cleartext note" hasnt "$E2T_DIR/sync.txt" "cleartext"

# ---- 535: the wrong password
printf 'wrong-%s\n' "$RANDOM" >"$E2T_DIR/wrong"
e2t_check "conntest SMTP, wrong password: fails" \
	not ct "$E2T_DIR/ct.txt" --out "$H:$E2T_SUBMISSIONS_PORT" \
	--auth-required --user "$E2T_USER" --password-file "$E2T_DIR/wrong"
e2t_check "... eauth, 535 and the hint" has "$E2T_DIR/ct.txt" \
	"failed: eauth" "535 5.7.8" "$HINT535"
e2t_check "... no raw line end" no_raw "$E2T_DIR/ct.txt"

# ---- cleartext: the plain-only port, TAGPROPS 8128000B not set
GUID='{7E1A0C2D-4444-4A2B-8C3D-000000000094}'
STORE=$E2T_DIR/store-plain
e2t_check "provision on the plain-only port" \
	sync_provision IMAP4 "$E2T_IMAP_NOTLS_PORT"
e2t_log_mark
e2t_check "sync without TLS: ok" sync_once
e2t_check "... --json cleartext_login true" \
	json 'd["status"] == "ok" and d["cleartext_login"] is True'
e2t_check "... Dovecot saw the login without TLS" \
	not e2t_no_cleartext_login "$E2T_USER"
e2t_check "sync without TLS in text: ok" sync_text
e2t_check "... the summary line says so" has "$E2T_DIR/sync.txt" \
	"$GUID: ok, " "(login in cleartext: TAGPROPS 8128000B is not set)"
e2t_check "conntest of the account" ct "$E2T_DIR/ct.txt" --in "$H:$E2T_IMAP_NOTLS_PORT" \
	--service imap4 --user "$E2T_USER" --password-file "$E2T_PASSFILE"
e2t_check "... the verdict line says so" has "$E2T_DIR/ct.txt" \
	"verdict: ok (login in cleartext: TAGPROPS 8128000B is not set)"
e2t_finish
