#!/bin/bash
# SPDX-License-Identifier: MIT
# trace.sh -- -v, the protocol trace on stderr, against the harness Dovecot:
# email2-conntest (IMAP LOGIN, POP3 USER/PASS, SMTP AUTH PLAIN and, with
# Dovecot offering only LOGIN, AUTH LOGIN) and email2-syncd --once (IMAP
# fetch, a queued message sent and APPENDed to Sent, POP3 RETR) and
# --fetch-full. The trace shows the commands, each credential-bearing one
# as "LABEL [credentials redacted]"; the password never appears on stdout
# or stderr, in clear or in any base64 form (every alignment, and the SASL
# PLAIN message "\0user\0pass" and "user\0user\0pass" whole); message
# bodies appear only as byte counts.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{7E1A0C2D-4444-4A2B-8C3D-000000000091}'
CONNTEST=$(e2t_find_tool email2-conntest) || e2t_skip "email2-conntest not built"
H=$E2T_HOST
not() { ! "$@"; }
MARK=body-mark-$RANDOM$RANDOM

# no_secret FILE...: no form of the password in any FILE
no_secret() {
	"$E2T_PY" - "$E2T_USER" "$E2T_PASS" "$@" <<'PY'
import base64, sys
user, pw = sys.argv[1].encode(), sys.argv[2].encode()
forms = {pw}
for pre in (b"\0" + user + b"\0", user + b"\0" + user + b"\0", b""):
    forms.add(base64.b64encode(pre + pw))
# the base64 characters that depend on the password's bytes only, for the
# password at each of the three offsets modulo 3 in a longer encoding
for k in range(3):
    enc = base64.b64encode(b"\0" * k + pw)
    forms.add(enc[-(-8 * k // 6):8 * (k + len(pw)) // 6])
bad = 0
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    for f in sorted(forms):
        if len(f) >= 8 and f in data:
            print(f"{path}: holds a form of the password: {f!r}")
            bad = 1
sys.exit(bad)
PY
}
# has FILE TEXT...: every TEXT is a substring of a line of FILE
has() {
	local f=$1 t
	shift
	for t in "$@"; do
		grep -q -F -- "$t" "$f" && continue
		echo "no \"$t\" in $f:"
		tail -n 40 "$f"
		return 1
	done
}
hasnt() { ! grep -q -F -- "$2" "$1" || { echo "\"$2\" in $1"; return 1; }; }
ctv() {
	e2t_run "$CONNTEST" --cafile "$E2T_CA" --timeout 5 "$@" \
		>"$E2T_DIR/ct.out" 2>"$E2T_DIR/ct.err"
}
ct_secret() { no_secret "$E2T_DIR/ct.out" "$E2T_DIR/ct.err"; }
sync_secret() { no_secret "$E2T_DIR/sync.json" "$E2T_DIR/sync.err"; }

# ---- conntest
e2t_check "conntest without -v: no trace" \
	ctv --in "$H:$E2T_IMAPS_PORT" --service imap4 --user "$E2T_USER" \
	--password-file "$E2T_PASSFILE"
e2t_check "... stderr empty" test ! -s "$E2T_DIR/ct.err"
e2t_check "conntest -v IMAP + SMTP (AUTH PLAIN) exits 0" \
	ctv -v --in "$H:$E2T_IMAPS_PORT" --service imap4 \
	--out "$H:$E2T_SUBMISSIONS_PORT" --auth-required \
	--user "$E2T_USER" --password-file "$E2T_PASSFILE"
e2t_check "... the IMAP dialogue, LOGIN redacted" has "$E2T_DIR/ct.err" \
	"imap: connected to $H:$E2T_IMAPS_PORT" "imap: TLS TLSv1." \
	"imap< * OK" "imap> LOGIN [credentials redacted]" "imap< " \
	"OK [CAPABILITY" "LOGOUT"
e2t_check "... the SMTP dialogue, AUTH PLAIN redacted" has "$E2T_DIR/ct.err" \
	"smtp< 220 " "smtp> EHLO " "smtp< 250-AUTH PLAIN LOGIN" \
	"smtp> AUTH PLAIN [credentials redacted]" "smtp< 235 " "smtp> QUIT"
e2t_check "... no form of the password" ct_secret
e2t_check "... no raw control byte on the terminal" \
	not grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' "$E2T_DIR/ct.err"
e2t_check "conntest -v POP3 exits 0" \
	ctv -v --in "$H:$E2T_POP3S_PORT" --service pop3 --user "$E2T_USER" \
	--password-file "$E2T_PASSFILE"
e2t_check "... USER shown, PASS redacted" has "$E2T_DIR/ct.err" \
	"pop3< +OK" "pop3> CAPA" "pop3> USER $E2T_USER" \
	"pop3> PASS [credentials redacted]" "pop3> QUIT"
e2t_check "... no form of the password" ct_secret
e2t_check "conntest -v IMAP STARTTLS exits 0" \
	ctv -v --in "$H:$E2T_IMAP_PORT" --service imap4 --user "$E2T_USER" \
	--password-file "$E2T_PASSFILE" --in-require-ssl
e2t_check "... STARTTLS, then TLS, then LOGIN redacted" has "$E2T_DIR/ct.err" \
	"imap> " "STARTTLS" "imap: TLS TLSv1." "imap> LOGIN [credentials redacted]"
e2t_check "... no form of the password" ct_secret

# ---- syncd --once -v: IMAP fetch, a queued message sent, APPEND to Sent
printf 'From: a@example.org\nTo: %s@email2.test\nSubject: in\n\nin %s\n' \
	"$E2T_USER" "$MARK" >"$E2T_DIR/in.eml"
e2t_deliver "$E2T_DIR/in.eml" || e2t_fatal "cannot deliver"
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 ||
	e2t_fatal "cannot provision"
OUT=$STORE/outbox/$GUID
(umask 077 && mkdir -p "$OUT/new" "$OUT/cur" "$OUT/tmp")
printf 'From: %s@email2.test\nTo: jane@example.org\nSubject: out\n\nout %s\n' \
	"$E2T_USER" "$MARK" >"$OUT/tmp/q1"
mv "$OUT/tmp/q1" "$OUT/new/1700000000.M1P1Q1.test"
e2t_check "syncd --once -v (IMAP, one to send)" sync_once -v
e2t_check "... synced: one downloaded, one sent" \
	json 'd["status"] == "ok" and d["messages"] == 1 and d["sent"] == 1'
e2t_check "... IMAP LOGIN redacted, bodies counted" has "$E2T_DIR/sync.err" \
	"imap> LOGIN [credentials redacted]" "imap< [literal, " \
	"imap> [literal, " "APPEND"
e2t_check "... SMTP AUTH redacted, DATA counted" has "$E2T_DIR/sync.err" \
	"smtp> AUTH PLAIN [credentials redacted]" "smtp> DATA" "smtp< 354" \
	"smtp> [message, " "smtp> ." "smtp< 250"
e2t_check "... no message body in the trace" hasnt "$E2T_DIR/sync.err" "$MARK"
e2t_check "... no form of the password" sync_secret
e2t_check "syncd --once without -v: no trace" sync_once
e2t_check "... stderr has no protocol line" \
	not grep -q -E '^(imap|smtp|pop3)[<>:] ' "$E2T_DIR/sync.err"

# ---- --fetch-full -v (IMAP, RETRIEVE)
"$E2T_PY" -c '
import sys
print("From: a@example.org\nSubject: big\n")
for i in range(3000): print("big line %05d %s %s" % (i, sys.argv[1], "x" * 40))
' "$MARK" >"$E2T_DIR/big.eml"
e2t_deliver "$E2T_DIR/big.eml" || e2t_fatal "cannot deliver"
sync_provision IMAP4 "$E2T_IMAPS_PORT" RETRIEVE=5120 AUTHREQUIRED=1 ||
	e2t_fatal "cannot provision"
e2t_check "sync of a big message, RETRIEVE 5120" sync_once
big=$(grep -l -r '^Subject: big' "$MD/new" "$MD/cur" | head -n 1)
fetch_full() {
	e2t_run "$SYNCD" "$@" --store "$STORE" --cafile "$E2T_CA" \
		--fetch-full "$big" >"$E2T_DIR/fetch.out" 2>"$E2T_DIR/fetch.err"
}
e2t_check "the big message is stored partial" json 'd["partial"] == 1'
e2t_check "--fetch-full -v exits 0" fetch_full -v
e2t_check "... the FETCH in the trace, the body counted" \
	has "$E2T_DIR/fetch.err" "imap> LOGIN [credentials redacted]" \
	"UID FETCH" "imap< [literal, "
e2t_check "... no message body in the trace" hasnt "$E2T_DIR/fetch.err" "$MARK"
e2t_check "... no form of the password" \
	no_secret "$E2T_DIR/fetch.out" "$E2T_DIR/fetch.err"

# ---- syncd --once -v: POP3
GUID='{7E1A0C2D-4444-4A2B-8C3D-000000000092}'
STORE=$E2T_DIR/store-pop3
e2t_check "provision POP3" sync_provision POP3 "$E2T_POP3S_PORT"
e2t_check "syncd --once -v (POP3)" sync_once -v
e2t_check "... downloaded" json 'd["status"] == "ok" and d["messages"] >= 2'
e2t_check "... PASS redacted, RETR answers counted" has "$E2T_DIR/sync.err" \
	"pop3> USER $E2T_USER" "pop3> PASS [credentials redacted]" \
	"pop3> RETR " "pop3< [message, " "pop3< ."
e2t_check "... no message body in the trace" hasnt "$E2T_DIR/sync.err" "$MARK"
e2t_check "... no form of the password" sync_secret

# ---- SMTP AUTH LOGIN: Dovecot offers only LOGIN now
sed -i 's/^auth_mechanisms = .*/auth_mechanisms = login/' "$E2T_DOVECOT_CONF"
e2t_doveadm reload || e2t_fatal "doveadm reload"
sleep 1
e2t_check "conntest -v SMTP (AUTH LOGIN) exits 0" \
	ctv -v --out "$H:$E2T_SUBMISSIONS_PORT" --auth-required \
	--user "$E2T_USER" --password-file "$E2T_PASSFILE"
e2t_check "... AUTH LOGIN and its continuations redacted" \
	has "$E2T_DIR/ct.err" "smtp< 250-AUTH LOGIN" \
	"smtp> AUTH LOGIN [credentials redacted]" "smtp< 334 " \
	"smtp> [credentials redacted]" "smtp< 235 "
e2t_check "... no form of the password" ct_secret
e2t_finish
