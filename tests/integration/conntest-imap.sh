#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-imap.sh -- email2-conntest against Dovecot's imap listeners: every
# rung of the fallback chain, TLS policy, wrong password, no leaked password
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up
ct_protocol_suite imap

# connection failures and usage errors (the tool itself)
ct "imap: name does not resolve: exit 2, eresolve" 1 \
	's["status"] == "eresolve" and not d["ok"]' \
	$(ct_side "nosuch.email2.test:$E2T_IMAPS_PORT")
ct "imap: nothing listens: exit 2, econnect on every rung" 1 \
	's["status"] == "econnect" and M == ["tls", "starttls", "plain"]
	 and all(a["status"] == "econnect" for a in A)' \
	$(ct_side "$E2T_HOST:$E2T_SPARE_PORT")
usage() { # WANT-EXIT PATTERN ARGS: exit status and a line of the output
	local want=$1 pat=$2 rc
	shift 2
	"$E2T_CONNTEST" "$@" >"$E2T_DIR/u.out" 2>&1
	rc=$?
	cat "$E2T_DIR/u.out"
	[ "$rc" = "$want" ] && grep -q -E -- "$pat" "$E2T_DIR/u.out"
}
e2t_check "--help lists the exit statuses" usage 0 '2  usage error' --help
e2t_check "--version" usage 0 '^email2-conntest \(email2\) ' --version
e2t_check "unknown option: exit 2" usage 2 "Try 'email2-conntest --help'" --bogus
e2t_check "no server: exit 2" usage 2 'no account, --in or --out' --json
e2t_check "bad port: exit 2" usage 2 'port out of range' --in x:99999
e2t_check "bad --service: exit 2" usage 2 'not imap4 or pop3' \
	--in x --service smtp
e2t_check "bad --timeout: exit 2" usage 2 'timeout' --in x --timeout -1
e2t_check "missing password file: exit 2" usage 2 'nosuch' \
	--in x --password-file "$E2T_DIR/nosuch"
e2t_check "GUID and settings exclude each other: exit 2" usage 2 \
	'exclude' --in x '{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}'
e2t_check "unknown GUID, no store: exit 1" usage 1 'no store at' --store "$E2T_DIR/store" \
	'{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}'
e2t_finish
