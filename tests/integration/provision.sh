#!/bin/sh
# SPDX-License-Identifier: MIT
# provision.sh -- email2-provision on real-shaped documents: exit codes,
# responses, rollback, Client Provisioning, and no password in any output.
set -u

TOOL=${E2_TOP_BUILDDIR:-.}/tools/email2-provision
SYNCD=${E2_TOP_BUILDDIR:-.}/tools/email2-syncd
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
expect "unknown option exits 2, one line and the hint" 2 "" "Try .email2-provision --help."
run --store "$STORE" a.xml b.xml
expect "two documents exit 2" 2 "" "one document"
# issue 9: a document that cannot be read or used exits 1 (it was 2);
# 2 is only for the command line
run --store "$STORE" "$TMP/no-such-file.xml"
expect "missing file exits 1" 1 "" "no-such-file.xml"

# ---- unusable input leaves the store alone ----------------------------------
run --store "$STORE" "$DATA/truncated.xml"
expect "truncated XML exits 1" 1
printf '' >"$TMP/empty.xml"
run --store "$STORE" "$TMP/empty.xml"
expect "empty input exits 1" 1
printf '<html/>' >"$TMP/html.xml"
run --store "$STORE" - <"$TMP/html.xml"
expect "unknown root exits 1" 1
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
# issue 9: failed commands exit 3 (partial; it was 1); the commands only
# rolled back (216) are counted in the summary, listed with -v
run --store "$STORE" "$(with_pass sample-account.xml)"
expect "creating it again exits 3" 3 "" ": 418: "
expect "the Atomic fails with 507" 3 "<Data>507</Data>" ": 507: "
expect "the rest are rolled back" 3 "<Data>216</Data>" "(16 rolled back)"
run -v --store "$STORE" "$(with_pass sample-account.xml)"
expect "-v lists the rolled back ones" 3 "<Data>216</Data>" ": 216: "

# ---- a GUID names one account whatever its case and braces ---------------------
G_UP="{C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}"
sed 's/0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE10x7D/%7bc556e16f-56c4-4edb-9c64-d9469ee1fbe1%7d/g' \
	"$TMP/sample-account.xml" >"$TMP/sample-lower.xml"
run --store "$STORE" "$TMP/sample-lower.xml"
expect "Add of the lower-case GUID is 418" 3 "" ": 418: "
sed 's/0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE10x7D/{c556e16f-56C4-4EDB-9c64-d9469ee1fbe1}/g' \
	"$DATA/get-account.xml" >"$TMP/get-lower.xml"
run --store "$STORE" "$TMP/get-lower.xml"
expect "Get of the lower-case GUID finds it" 0 "<Data>mail.email2.test</Data>"
if [ "$(sqlite3 "$STORE/accounts.db" 'SELECT guid FROM accounts')" = "$G_UP" ]; then
	ok "the GUID is stored upper-case, once"
else
	not_ok "the GUID is stored upper-case, once"
fi

# ---- a secret with invalid UTF-8 is never printed --------------------------------
# libxml2's own message would show the bytes after the bad one (in hex)
sed "s/@PASSWORD@/Zq7Pw$(printf '\377')Xk9Lm$PASS/" "$DATA/sample-account.xml" \
	>"$TMP/bad-utf8.xml"
run --store "$STORE" "$TMP/bad-utf8.xml"
expect "invalid UTF-8 in AUTHSECRET exits 1" 1 "" "line [0-9]*, column [0-9]*: "
if grep -q -i -e 'Zq7Pw' -e 'Xk9Lm' -e '0x58 0x6b' -e 'Bytes:' "$TMP/out" \
	"$TMP/err"; then
	not_ok "invalid UTF-8: no byte of the secret in any output"
else
	ok "invalid UTF-8: no byte of the secret in any output"
fi

run --store "$STORE" "$DATA/edit-bad.xml"
expect "bad DWNDAY exits 3" 3 "" 'DWNDAY "45": not one of -1, 7, 14, 30, 90'
expect_codes "bad edit codes" "200 507 216 400"
run --store "$STORE" "$DATA/get-account.xml"
expect "failed edit restored INSERVER" 0 "<Data>mail.email2.test</Data>"
if grep -q "imap.email2.test" "$TMP/out"; then
	not_ok "failed edit left nothing behind"
else
	ok "failed edit left nothing behind"
fi

run --store "$STORE" "$DATA/replace-servicename.xml"
expect "replace SERVICENAME exits 3" 3 "" "405: .*SERVICENAME"
expect_codes "replace SERVICENAME codes" "200 507 405"

run --store "$STORE" "$DATA/replace-outside-atomic.xml"
expect "replace outside Atomic exits 3" 3 "" "405: .*outside Atomic"

run --store "$STORE" "$DATA/get-root.xml"
expect "get of the root is refused" 3 "" "405: .*not enumerable"

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
expect "CP with a partial SMTPALT set exits 3" 3 "" "partial SMTPALT"
sed 's/<parm name="SMTPALTENABLED" value="TRUE"\/>/<parm name="SMTPALTAUTHNAME" value=""\/>/' \
	"$TMP/cp-bad.xml" >"$TMP/cp-bad2.xml"
run --store "$STORE" "$TMP/cp-bad2.xml"
expect "CP with an empty SMTPALTAUTHNAME exits 3" 3 "" \
	"SMTPALTAUTHNAME missing"

# ---- Get output applied again keeps the secrets (the mask) ----------------------
secret_of() { # GUID-PREFIX NODE: the stored value
	sqlite3 "$STORE/accounts.db" "SELECT value FROM nodes WHERE name = '$2'
		AND guid LIKE '$1%'"
}
run --store "$STORE" "$DATA/cp-query.xml"
cp "$TMP/out" "$TMP/cp-again.xml"
run --store "$STORE" "$TMP/cp-again.xml"
expect "CP query output applies again" 0 "<wap-provisioningdoc"
if [ "$(secret_of '{0A1B2C3D' AUTHSECRET)" = "$PASS" ] &&
	[ "$(secret_of '{0A1B2C3D' SMTPALTPASSWORD)" != '********' ]; then
	ok "the mask kept AUTHSECRET and SMTPALTPASSWORD"
else
	not_ok "the mask kept AUTHSECRET and SMTPALTPASSWORD"
fi

# ---- delete ----------------------------------------------------------------
# mail, the legacy queue in it, the queue; a planted symlink is not followed
MAILD=$STORE/mail/$G_UP
mkdir -p "$MAILD/cur" "$MAILD/.Outbox/new" "$STORE/outbox/$G_UP/new" \
	"$STORE/outbox/$G_UP/cur" "$TMP/victim"
chmod 700 "$STORE/mail" "$STORE/outbox"
echo m >"$MAILD/cur/1.m:2,S"
echo q >"$MAILD/.Outbox/new/2.q"
echo q >"$STORE/outbox/$G_UP/new/3.q"
echo q >"$STORE/outbox/$G_UP/cur/4.q:2,"
echo keep >"$TMP/victim/keep"
ln -s "$TMP/victim" "$MAILD/.Evil"
run --store "$STORE" "$DATA/delete-account.xml"
expect "delete exits 0" 0 "<Data>200</Data>"
expect "delete says how many queued messages were dropped" 0 "" \
	"account $G_UP: deleted; .*3 queued messages dropped"
if [ ! -e "$MAILD" ] && [ ! -e "$STORE/outbox/$G_UP" ] &&
	[ -f "$TMP/victim/keep" ]; then
	ok "delete removed the mail and queue, not what a symlink points to"
else
	not_ok "delete removed the mail and queue, not what a symlink points to"
fi
run --store "$STORE" "$DATA/get-account.xml"
expect "deleted account is 404" 3 "<Data>404</Data>" ": 404: "
run --store "$STORE" "$DATA/delete-account.xml"
expect "deleting it again exits 3" 3 "<Data>404</Data>"

# ---- the store must be the user's own ---------------------------------------------
# each store is refused by email2-provision and email2-syncd with the path and
# the fix, non-zero, and nothing reaches the listener that stands for the
# account's servers (a queued message waits in each)
port_file=$TMP/port
hits=$TMP/hits
python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    open(sys.argv[2], "a").write("connection\n")
    c.close()
' "$port_file" "$hits" &
listener=$!
trap 'kill $listener 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
i=0
while [ ! -s "$port_file" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$port_file")

# own_store NAME: a good store with the sample account pointing at the
# listener and one message queued in its legacy outbox
own_store() {
	d=$TMP/own-$1
	sed -e "s/@PASSWORD@/$PASS/" \
		-e "s/mail\.email2\.test\(:[0-9]*\)\{0,1\}/127.0.0.1:$PORT/g" \
		"$DATA/sample-account.xml" >"$TMP/own.xml"
	"$TOOL" --store "$d" "$TMP/own.xml" >/dev/null 2>&1
	mkdir -p "$d/mail/$G_UP/.Outbox/new" "$d/outbox/$G_UP/new"
	chmod -R go-rwx "$d"
	printf 'From: a@email2.test\r\nTo: b@email2.test\r\n\r\nx\r\n' \
		>"$d/mail/$G_UP/.Outbox/new/1.q"
	cp "$d/mail/$G_UP/.Outbox/new/1.q" "$d/outbox/$G_UP/new/2.q"
	echo "$d"
}

# refused NAME STORE PATTERN [provision-too]
refused() {
	if [ "${4:-}" = provision ]; then
		run --store "$2" "$DATA/get-account.xml"
		if [ "$rc" -ne 0 ] && grep -q -e "$3" "$TMP/err"; then
			ok "$1: email2-provision refuses"
		else
			not_ok "$1: email2-provision refuses (exit $rc)"
		fi
	fi
	# the account's failure is its summary line (stdout), a store
	# failure an error (stderr)
	"$SYNCD" --once --timeout 3 --store "$2" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	n=$((n + 1))
	cat "$TMP/out" "$TMP/err" >"$TMP/all.$n"
	if [ "$rc" -ne 0 ] && grep -q -e "$3" "$TMP/all.$n"; then
		ok "$1: email2-syncd refuses"
	else
		not_ok "$1: email2-syncd refuses (exit $rc)"
	fi
}

if [ -x "$SYNCD" ] && [ -n "$PORT" ]; then
	d=$(own_store 0777)
	chmod 0777 "$d"
	refused "store 0777" "$d" "store \"$d\": writable by group or others (chmod 700 $d)" provision
	d=$(own_store link)
	ln -s "$d" "$TMP/own-symlink"
	refused "store is a symlink" "$TMP/own-symlink" "symbolic link" provision
	d=$(own_store mail0777)
	chmod 0777 "$d/mail"
	refused "mail 0777" "$d" "store \"$d/mail\": writable by group"
	d=$(own_store maillink)
	mv "$d/mail/$G_UP" "$TMP/elsewhere"
	ln -s "$TMP/elsewhere" "$d/mail/$G_UP"
	refused "mail/{GUID} is a symlink" "$d" "symbolic link where a directory"
	if [ "$(id -u)" -eq 0 ]; then
		d=$(own_store nobody)
		chown 65534 "$d"
		refused "store owned by another uid" "$d" "owned by uid 65534" provision
		d=$(own_store acctnobody)
		chown -R 65534 "$d/mail/$G_UP"
		refused "mail/{GUID} owned by another uid" "$d" "owned by uid 65534"
	fi
	if [ -s "$hits" ]; then
		not_ok "a refused store connects nowhere, sends nothing"
	else
		ok "a refused store connects nowhere, sends nothing"
	fi
	# the control: a good store does reach the listener
	d=$(own_store good)
	"$SYNCD" --once --quiet --timeout 3 --store "$d" >/dev/null 2>&1
	if [ -s "$hits" ]; then
		ok "a store of our own is used (the listener saw it)"
	else
		not_ok "a store of our own is used (the listener saw it)"
	fi
fi
kill $listener 2>/dev/null

# ---- errors a user can act on (issue 9) -------------------------------------
# stderr: the first cause first, one line per failed command (not those only
# rolled back), the summary last; the response stays on stdout

# expect_err NAME RC FIRST-LINE LINES: exit, exact first line, line count
expect_err() {
	first=$(head -n 1 "$TMP/err")
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1 (exit $rc, want $2)"
	elif [ "$first" != "$3" ]; then
		not_ok "$1 (first line \"$first\")"
	elif [ "$lines" -ne "$4" ]; then
		not_ok "$1 ($lines lines on stderr, want $4)"
	else
		ok "$1"
	fi
}

sed 's|<Data>-1</Data>|<Data>5</Data>|' "$TMP/sample-account.xml" \
	>"$TMP/one-bad-dwnday.xml"
run --store "$TMP/errs" "$TMP/one-bad-dwnday.xml"
expect_err "one bad DWNDAY: the cause first, 4 lines" 3 \
	'email2-provision: DWNDAY "5": not one of -1, 7, 14, 30, 90 (CmdID 14, line 117)' 4
expect "one bad DWNDAY: the failed Replace, where and why" 3 "<Data>400</Data>" \
	'^email2-provision: Replace ./Vendor/MSFT/EMAIL2/0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE10x7D/DWNDAY (CmdID 14, line 117): 400: DWNDAY "5"'
if [ "$(tail -n 1 "$TMP/err")" = "email2-provision: 18 commands, 18 failed (16 rolled back)" ]; then
	ok "one bad DWNDAY: the summary is last"
else
	not_ok "one bad DWNDAY: the summary is last"
fi
run -v --store "$TMP/errs" "$TMP/one-bad-dwnday.xml"
expect_err "one bad DWNDAY with -v: every failed status" 3 \
	'email2-provision: DWNDAY "5": not one of -1, 7, 14, 30, 90 (CmdID 14, line 117)' 20

G_CP="{0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9}"
sed 's/value="51200"/value="7"/' "$TMP/cp-account.xml" >"$TMP/cp-bad-parm.xml"
run --store "$TMP/errs" "$TMP/cp-bad-parm.xml"
expect_err "CP bad parm: the element path and line, 4 lines" 3 \
	"email2-provision: RETRIEVE \"7\": not one of 512, 1024, 2048, 5120, 20480, 51200 (line 17, characteristic[@type=EMAIL2]/characteristic[@type=$G_CP]/parm[@name=RETRIEVE])" 4
if grep -q -e CmdID -e 'command [0-9]' "$TMP/err"; then
	not_ok "CP bad parm: no invented CmdID"
else
	ok "CP bad parm: no invented CmdID"
fi
expect "CP bad parm: the document's Atomic names the parm" 3 "" \
	"^email2-provision: line 4, wap-provisioningdoc: 507: the document (all or nothing): .*parm\[@name=RETRIEVE\] (line 17) failed"

printf '<Atomic>\n  <CmdID>1</CmdID>\n</Atomic>\n' >"$TMP/atomic-root.xml"
run --store "$TMP/errs" "$TMP/atomic-root.xml"
expect_err "<Atomic> root: one line listing the accepted roots" 1 \
	"email2-provision: $TMP/atomic-root.xml: unknown root element \"Atomic\": a provisioning document is <SyncML> (OMA DM) or <wap-provisioningdoc> (OMA Client Provisioning)" 1
if [ -s "$TMP/out" ]; then not_ok "<Atomic> root: no response"; else
	ok "<Atomic> root: no response"; fi

run --store "$TMP/errs2" --response "$TMP/resp.xml" "$TMP/one-bad-dwnday.xml"
cp "$TMP/err" "$TMP/resp.err"
run --store "$TMP/errs3" "$TMP/one-bad-dwnday.xml"
if [ "$rc" -eq 3 ] && cmp -s "$TMP/resp.xml" "$TMP/out" &&
	cmp -s "$TMP/resp.err" "$TMP/err"; then
	ok "--response FILE: the response in FILE, the same stderr"
else
	not_ok "--response FILE: the response in FILE, the same stderr"
fi

# ---- dry run (issue 9) ------------------------------------------------------
# the store's bytes are the same before and after; the response and the
# exit status are those of a real run on a copy of the store

hash_store() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }

EMAIL2_HOME=$TMP/dry-none run --dry-run "$TMP/sample-account.xml"
expect "dry run without a store exits 0" 0 "<Data>200</Data>"
cp "$TMP/out" "$TMP/dry-none.out"
if [ -e "$TMP/dry-none" ]; then not_ok "dry run: a missing EMAIL2_HOME stays missing"
else ok "dry run: a missing EMAIL2_HOME stays missing"; fi
run --store "$TMP/dry-none-real" "$TMP/sample-account.xml"
if cmp -s "$TMP/dry-none.out" "$TMP/out"; then
	ok "dry run without a store: the response of the real run"
else
	not_ok "dry run without a store: the response of the real run"
fi

# a store with the sample account, mail and queued messages on disk
DS=$TMP/dry-store
"$TOOL" --store "$DS" "$TMP/sample-account.xml" >/dev/null 2>&1
mkdir -p "$DS/mail/$G_UP/cur" "$DS/mail/$G_UP/.Outbox/new" \
	"$DS/outbox/$G_UP/new"
chmod -R go-rwx "$DS"
echo m >"$DS/mail/$G_UP/cur/1.m:2,S"
echo q >"$DS/mail/$G_UP/.Outbox/new/2.q"
echo q >"$DS/outbox/$G_UP/new/3.q"
sed "s/C556E16F-56C4-4edb-9C64-D9469EE1FBE1/C556E16F-56C4-4edb-9C64-D9469EE1FBE2/" \
	"$TMP/sample-account.xml" >"$TMP/dry-add.xml"
sed 's|<Data>45</Data>|<Data>30</Data>|' "$DATA/edit-bad.xml" >"$TMP/dry-replace.xml"

# dry NAME FILE RC: dry run on $DS, then a real run on a copy of it
dry() {
	hash_store "$DS" >"$TMP/h.before"
	run --dry-run --store "$DS" "$2"
	cp "$TMP/out" "$TMP/dry.out"
	drc=$rc
	hash_store "$DS" >"$TMP/h.after"
	if cmp -s "$TMP/h.before" "$TMP/h.after" && [ "$drc" -eq "$3" ]; then
		ok "dry run $1: exit $3, no byte of the store changed"
	else
		not_ok "dry run $1: exit $drc (want $3), store changed: $(diff "$TMP/h.before" "$TMP/h.after" | head -3)"
	fi
	rm -rf "$TMP/dry-copy"
	cp -a "$DS" "$TMP/dry-copy"
	run --store "$TMP/dry-copy" "$2"
	if [ "$rc" -eq "$drc" ] && cmp -s "$TMP/dry.out" "$TMP/out"; then
		ok "dry run $1: the real run's response, byte for byte"
	else
		not_ok "dry run $1: the real run's response (exit $rc)"
	fi
}
dry Add "$TMP/dry-add.xml" 0
dry Replace "$TMP/dry-replace.xml" 0
dry "Delete with mail on disk" "$DATA/delete-account.xml" 0
if grep -q "dry run: its mail directory and queue would be removed, 2 queued messages dropped" "$TMP/all.$((n - 1))" &&
	[ -f "$DS/mail/$G_UP/cur/1.m:2,S" ] && [ ! -e "$TMP/dry-copy/mail/$G_UP" ]; then
	ok "dry run Delete: says what it would remove, removes nothing"
else
	not_ok "dry run Delete: says what it would remove, removes nothing"
fi
dry Get "$DATA/get-account.xml" 0
dry "failing Atomic" "$DATA/edit-bad.xml" 3
dry "malformed document" "$DATA/truncated.xml" 1
dry "Client Provisioning" "$TMP/cp-account.xml" 0
dry "CP query" "$DATA/cp-query.xml" 3
sed "s/0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9/C556E16F-56C4-4edb-9C64-D9469EE1FBE1/" \
	"$DATA/cp-query.xml" >"$TMP/cp-query-sample.xml"
dry "CP query answered, secrets masked" "$TMP/cp-query-sample.xml" 0
if grep -q 'name="AUTHSECRET" value="\*\*\*\*\*\*\*\*"' "$TMP/dry.out"; then
	ok "dry run CP query: the answer, AUTHSECRET masked"
else
	not_ok "dry run CP query: the answer, AUTHSECRET masked"
fi

# ---- secrets ----------------------------------------------------------------
if cat "$TMP"/all.* | grep -q -e "$PASS"; then
	not_ok "the password never appears in any output"
else
	ok "the password never appears in any output"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
