#!/bin/sh
# SPDX-License-Identifier: MIT
# provision.sh -- email2-provision on real-shaped documents: exit codes,
# responses, rollback, Client Provisioning, and no password in any output.
set -u

TOOL=${E2_TOP_BUILDDIR:-.}/tools/email2-provision
DATA=${E2_TESTDATA:-$(dirname "$0")/../data}/provision
if [ ! -x "$TOOL" ] || [ ! -d "$DATA" ]; then
	echo "# SKIP: $TOOL or $DATA missing"
	exit 77
fi

PASS="Pr0v-$$-secret"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/provision.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
STORE=$TMP/store
passed=0
failed=0
n=0

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}

not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	[ -s "$TMP/out" ] && sed 's/^/#   out: /' "$TMP/out" | head -20
	[ -s "$TMP/err" ] && sed 's/^/#   err: /' "$TMP/err" | head -20
}

# run ARGS...: the tool, stdout in $TMP/out, stderr in $TMP/err, $rc; every
# output is also kept (all.N) for the final no-password check
run() {
	"$TOOL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	n=$((n + 1))
	cat "$TMP/out" "$TMP/err" >"$TMP/all.$n"
}

# with_pass FILE: FILE with @PASSWORD@ replaced, as a path
with_pass() {
	sed "s/@PASSWORD@/$PASS/g" "$DATA/$1" >"$TMP/$1"
	echo "$TMP/$1"
}

# expect NAME RC [grep-pattern-in-out [grep-pattern-in-err]]
expect() {
	name=$1 want=$2 out_pat=${3:-} err_pat=${4:-}
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name (exit $rc, want $want)"
	elif [ -n "$out_pat" ] && ! grep -q -e "$out_pat" "$TMP/out"; then
		not_ok "$name (stdout lacks $out_pat)"
	elif [ -n "$err_pat" ] && ! grep -q -e "$err_pat" "$TMP/err"; then
		not_ok "$name (stderr lacks $err_pat)"
	else
		ok "$name"
	fi
}

# the Status codes of a SyncML response, space-separated
codes() {
	awk '/<Status>/ { s = 1 } s && /<Data>/ {
		gsub(/.*<Data>|<\/Data>.*/, ""); printf "%s%s", sep, $0;
		sep = " "; s = 0 }' "$TMP/out"
}

expect_codes() {
	got=$(codes)
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1 (codes \"$got\", want \"$2\")"
	fi
}

# ---- usage -----------------------------------------------------------------
run --help
expect "--help exits 0" 0 "Usage: email2-provision"
run --version
expect "--version exits 0" 0 "email2-provision (email2) "
run --bogus
expect "unknown option exits 2" 2 "" "Usage"
run --store "$STORE" a.xml b.xml
expect "two documents exit 2" 2 "" "one document"
run --store "$STORE" "$TMP/no-such-file.xml"
expect "missing file exits 2" 2 "" "no-such-file.xml"

# ---- unusable input leaves the store alone ----------------------------------
run --store "$STORE" "$DATA/truncated.xml"
expect "truncated XML exits 2" 2
printf '' >"$TMP/empty.xml"
run --store "$STORE" "$TMP/empty.xml"
expect "empty input exits 2" 2
printf '<html/>' >"$TMP/html.xml"
run --store "$STORE" - <"$TMP/html.xml"
expect "unknown root exits 2" 2
if [ -s "$TMP/out" ]; then not_ok "unusable input prints no response"; else
	ok "unusable input prints no response"; fi

# ---- SyncML create, Microsoft sample shape --------------------------------------
run --store "$STORE" "$(with_pass sample-account.xml)"
expect "sample account is created" 0 '<SyncML xmlns="SYNCML:SYNCML1.2">'
expect_codes "every status 200" \
	"200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200"
if [ -s "$TMP/err" ]; then not_ok "success prints nothing on stderr"; else
	ok "success prints nothing on stderr"; fi
expect "header target and source swapped" 0 \
	"<LocURI>https://mdm.email2.test/omadm</LocURI>"
ls -ld "$STORE" | grep -q '^drwx------' && ok "store is 0700" ||
	not_ok "store is 0700"

# ---- Get prints it back, secret masked ------------------------------------
run --store "$STORE" "$DATA/get-account.xml"
expect "get-account exits 0" 0 "<Data>mail.email2.test</Data>"
expect "get returns the child list" 0 \
	"<Data>ACCOUNTTYPE/AUTHNAME/AUTHREQUIRED/AUTHSECRET/"
expect "get masks AUTHSECRET" 0 "<Data>\*\*\*\*\*\*\*\*</Data>"
expect "get returns TAGPROPS children" 0 "<Data>8128000B/812C000B</Data>"
expect "get mirrors MsgID" 0 "<MsgRef>2</MsgRef>"

# ---- the same from standard input, with EMAIL2_HOME ---------------------------
EMAIL2_HOME=$STORE run <"$DATA/get-account.xml"
expect "stdin and EMAIL2_HOME" 0 "<Data>testuser@email2.test</Data>"

# ---- failures --------------------------------------------------------------
run --store "$STORE" "$(with_pass sample-account.xml)"
expect "creating it again exits 1" 1 "" ": 418: "
expect "the Atomic fails with 507" 1 "<Data>507</Data>" ": 507: "
expect "the rest are rolled back" 1 "<Data>216</Data>" ": 216: "

run --store "$STORE" "$DATA/edit-bad.xml"
expect "bad DWNDAY exits 1" 1 "" 'DWNDAY "45": not one of -1, 7, 14, 30, 90'
expect_codes "bad edit codes" "200 507 216 400"
run --store "$STORE" "$DATA/get-account.xml"
expect "failed edit restored INSERVER" 0 "<Data>mail.email2.test</Data>"
if grep -q "imap.email2.test" "$TMP/out"; then
	not_ok "failed edit left nothing behind"
else
	ok "failed edit left nothing behind"
fi

run --store "$STORE" "$DATA/replace-servicename.xml"
expect "replace SERVICENAME exits 1" 1 "" "405: .*SERVICENAME"
expect_codes "replace SERVICENAME codes" "200 507 405"

run --store "$STORE" "$DATA/replace-outside-atomic.xml"
expect "replace outside Atomic exits 1" 1 "" "405: .*outside Atomic"

run --store "$STORE" "$DATA/get-root.xml"
expect "get of the root is refused" 1 "" "405: .*not enumerable"

# ---- Client Provisioning -----------------------------------------------------
run --store "$STORE" "$(with_pass cp-account.xml)"
expect "CP account is created" 0 "<wap-provisioningdoc"
run --store "$STORE" "$DATA/cp-query.xml"
expect "CP query answers" 0 \
	'<parm name="INSERVER" value="pop.email2.test:995"/>'
expect "CP query escapes" 0 '<parm name="NAME" value="Pop &amp; User"/>'
expect "CP query masks AUTHSECRET" 0 \
	'<parm name="AUTHSECRET" value="\*\*\*\*\*\*\*\*"/>'
expect "CP query masks SMTPALTPASSWORD" 0 \
	'<parm name="SMTPALTPASSWORD" value="\*\*\*\*\*\*\*\*"/>'
expect "CP query nests TAGPROPS" 0 '<characteristic type="TAGPROPS">'
sed '/SMTPALTAUTHNAME/d' "$TMP/cp-account.xml" >"$TMP/cp-bad.xml"
sed -i 's/0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9/0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8FA/' \
	"$TMP/cp-bad.xml"
run --store "$STORE" "$TMP/cp-bad.xml"
expect "CP with a partial SMTPALT set exits 1" 1 "" "partial SMTPALT"
sed 's/<parm name="SMTPALTENABLED" value="TRUE"\/>/<parm name="SMTPALTAUTHNAME" value=""\/>/' \
	"$TMP/cp-bad.xml" >"$TMP/cp-bad2.xml"
run --store "$STORE" "$TMP/cp-bad2.xml"
expect "CP with an empty SMTPALTAUTHNAME exits 1" 1 "" \
	"SMTPALTAUTHNAME missing"

# ---- delete ----------------------------------------------------------------
run --store "$STORE" "$DATA/delete-account.xml"
expect "delete exits 0" 0 "<Data>200</Data>"
run --store "$STORE" "$DATA/get-account.xml"
expect "deleted account is 404" 1 "<Data>404</Data>" ": 404: "
run --store "$STORE" "$DATA/delete-account.xml"
expect "deleting it again exits 1" 1 "<Data>404</Data>"

# ---- secrets ----------------------------------------------------------------
if cat "$TMP"/all.* | grep -q -e "$PASS"; then
	not_ok "the password never appears in any output"
else
	ok "the password never appears in any output"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
