#!/bin/sh
# SPDX-License-Identifier: MIT
# bench-provision.sh -- provisioning throughput: one SyncML document with N
# accounts (one Atomic each: Add of the GUID node, every required node and
# some optional ones by Replace), applied to an empty store by
# email2-provision. Prints one line:
#   provision: N accounts in S s, R accounts/s, peak RSS K KB
# Not part of `make check`. Usage: bench-provision.sh [N] (default 1000);
# the tool is $E2_TOP_BUILDDIR/tools/email2-provision (default ./).
set -eu

N=${1:-1000}
TOOL=${E2_TOP_BUILDDIR:-.}/tools/email2-provision
[ -x "$TOOL" ] || { echo "bench-provision: $TOOL not built" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-provision.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# The document: compact (no indentation) so 1,000 accounts stay well under
# the 4 MiB document limit.
awk -v n="$N" 'BEGIN {
	print "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD>"
	print "<VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>"
	print "<Target><LocURI>bench</LocURI></Target><Source><LocURI>mdm</LocURI>"
	print "</Source></SyncHdr><SyncBody>"
	split("ACCOUNTTYPE=Email AUTHNAME=user%d AUTHSECRET=secret-%d " \
	      "INSERVER=imap%d.bench.test:993 OUTSERVER=smtp.bench.test:465 " \
	      "REPLYADDR=user%d@bench.test SERVICENAME=Bench%d " \
	      "SERVICETYPE=IMAP4 SYNCINGCONTENTTYPES=2 NAME=User_%d " \
	      "DWNDAY=30 LINGER=60 RETRIEVE=51200 TAGPROPS/8128000B=1", kv, " ")
	id = 0
	for (a = 0; a < n; a++) {
		g = sprintf("./Vendor/MSFT/EMAIL2/{%08X-0000-4000-8000-%012X}", a, a)
		printf "<Atomic><CmdID>%d</CmdID>", ++id
		printf "<Add><CmdID>%d</CmdID><Item><Target><LocURI>%s</LocURI>" \
		       "</Target><Meta><Format xmlns=\"syncml:metinf\">node" \
		       "</Format></Meta></Item></Add>\n", ++id, g
		for (i = 1; i in kv; i++) {
			eq = index(kv[i], "=")
			node = substr(kv[i], 1, eq - 1)
			val = sprintf(substr(kv[i], eq + 1), a)
			printf "<Replace><CmdID>%d</CmdID><Item><Target><LocURI>" \
			       "%s/%s</LocURI></Target><Data>%s</Data></Item>" \
			       "</Replace>\n", ++id, g, node, val
		}
		print "</Atomic>"
	}
	print "<Final/></SyncBody></SyncML>"
}' >"$TMP/doc.xml"

rc=0
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%e %M' -o "$TMP/time" \
		"$TOOL" --store "$TMP/store" "$TMP/doc.xml" >"$TMP/resp.xml" ||
		rc=$?
	read -r secs rss <"$TMP/time"
else
	start=$(date +%s.%N)
	"$TOOL" --store "$TMP/store" "$TMP/doc.xml" >"$TMP/resp.xml" || rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	rss="?"
fi
if [ "$rc" -ne 0 ]; then
	echo "bench-provision: email2-provision exited $rc" >&2
	exit 1
fi
awk -v n="$N" -v s="$secs" -v rss="$rss" -v bytes="$(wc -c <"$TMP/doc.xml")" \
	'BEGIN { if (s <= 0) s = 0.001
	printf "provision: %d accounts (%d KB document) in %.2f s, " \
	       "%.0f accounts/s, peak RSS %s KB\n", n, bytes / 1024, s, n / s,
	       rss }'
