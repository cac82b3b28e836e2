#!/bin/bash
# SPDX-License-Identifier: MIT
# dav-faults.sh -- issue 10: email2-syncd's contacts under cut connections
# and against a hostile DAV server, through the real tool.
#
# 1. Cut connections (cutproxy.py between email2-syncd and a real Radicale
#    over plain HTTP, CONTACTSSERVERREQUIRESSL 0): 300 contacts on the
#    server and 50 new local files, then more of both before each cut; the
#    connection is cut inside the discovery PROPFIND answer, inside the
#    sync-collection REPORT answer, inside the item data it carries and,
#    client to server, inside a PUT. After each cut: exit 3, contacts "failed" or
#    "partial", every item file whole, no UID in two files, no temporary
#    left. Then a run through the whole proxy converges: the folder holds
#    Radicale's storage (same UIDs, bodies equal but for CR), the state
#    rows agree, every local new item was PUT (201) exactly once.
# 2. A hostile DAV server (dav_hostile.py) on an account that has mail
#    too: a 64 MiB multistatus (the 32 MiB body cap of dav_xml.h, bounded
#    memory, the client stops reading), malformed XML, a billion-laughs
#    entity bomb, an answer that never ends (--timeout), a well-known
#    redirect to another host, and sync-collection hrefs outside the
#    collection (another collection's path, another host's URL). Each: a
#    clear error, exit 3, the mail of the run still synced, the folder as
#    it was, no credentials ever sent to the other host.
# The checks of (a) re-reading, (d) and (f) found two bugs, fixed since
# (hrefs outside a collection were fetched with the credentials and
# written as its items; a timeout retried the REPORT from an empty token).
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
. "$E2T_SRCDIR/harness/radicale.sh"
rad_usable || e2t_skip "$RAD_WHY"
command -v sqlite3 >/dev/null || e2t_skip "no sqlite3"
[ -x /usr/bin/time ] || e2t_skip "no /usr/bin/time (Debian package time)"
sync_setup '{D5A7C0DE-0010-4A2B-8C3D-00000000FA17}'
U=$E2T_USER
T0=$SECONDS

# prov TYPES URL: the account, mail over IMAPS, CONTACTSSERVER URL over
# plain http allowed (REQUIRESSL 0, no TAGPROPS 8128000B)
prov() {
	sync_provision IMAP4 "$E2T_IMAPS_PORT" CONTACTSSERVER="$2" \
		CONTACTSSERVERREQUIRESSL=0 || return 1
	sed -i "s|name=\"SYNCINGCONTENTTYPES\" value=\"0x2\"|name=\"SYNCINGCONTENTTYPES\" value=\"$1\"|" \
		"$E2T_DIR/acct.xml"
	! grep -q 8128000B "$E2T_DIR/acct.xml" &&
		"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null
}
# run ARGS...: one --once --json run; RC, SECS; its line in $E2T_DIR/run.json,
# its peak RSS (KiB) in $E2T_DIR/rss
run() {
	local t0 t1
	RC=0
	t0=$(date +%s%N)
	e2t_run /usr/bin/time -f %M -o "$E2T_DIR/rss" "$SYNCD" --once \
		--store "$STORE" --cafile "$E2T_CA" --json "$@" \
		>"$E2T_DIR/run.json" 2>"$E2T_DIR/run.err" || RC=$?
	t1=$(date +%s%N)
	SECS=$(((t1 - t0) / 1000000))
	RSS=$(tail -n 1 "$E2T_DIR/rss")
	{
		echo "# run $* -> rc $RC in $SECS ms"
		cat "$E2T_DIR/run.json" "$E2T_DIR/run.err"
	} >>"$E2T_DIR/log/runs.log"
}
rj() { e2t_json "$E2T_DIR/run.json" "$1"; }
# ok0 PYEXPR: the run exited 0 and PYEXPR holds over its line
ok0() { [ "$RC" = 0 ] || { echo "exit $RC"; tail -5 "$E2T_DIR/run.err"; }; [ "$RC" = 0 ] && rj "$1"; }
# exit3: exit 3 exactly (partial), no sanitizer report
exit3() {
	[ "$RC" = 3 ] || { echo "exit $RC"; tail -5 "$E2T_DIR/run.err"; return 1; }
	! grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' "$E2T_DIR/run.err" ||
		{ grep -E -A5 'Sanitizer|runtime error' "$E2T_DIR/run.err"; return 1; }
}
# vcard NAME [NOTE-BYTES]: a new local vCard NAME.vcf (UID NAME) in $BOOK,
# properties in the order Radicale serves them (so bodies compare)
vcard() {
	local note=
	[ -n "${2:-}" ] && note="NOTE:$(head -c "$2" /dev/zero | tr '\0' n)"$'\r\n'
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nEMAIL:%s@example.org\r\nFN:Local %s\r\nN:%s;Local;;;\r\n%sEND:VCARD\r\n' \
		"$1" "$1" "$1" "$1" "$note" >"$BOOK/$1.vcf"
	echo "$1.vcf" >>"$E2T_DIR/made"
}

# items_sane DIR: every item file whole (BEGIN:VCARD .. END:VCARD), no UID
# in two files, no temporary of ours left (.email2-*.tmp or any *.tmp)
items_sane() {
	"$E2T_PY" - "$1" <<'PY'
import os, sys
d = sys.argv[1]
bad, uids = [], {}
for n in sorted(os.listdir(d)):
    p = os.path.join(d, n)
    if ".tmp" in n:
        bad.append("temporary left: " + n)
        continue
    if n.startswith(".") or not n.endswith(".vcf"):
        continue
    b = open(p, "rb").read()
    if not b.startswith(b"BEGIN:VCARD") or \
            not b.rstrip(b"\r\n").endswith(b"END:VCARD"):
        bad.append("not a whole vCard: %s (%d bytes)" % (n, len(b)))
        continue
    u = [l[4:] for l in b.replace(b"\r", b"").split(b"\n")
         if l.startswith(b"UID:")]
    if len(u) != 1:
        bad.append("%s: %d UID lines" % (n, len(u)))
        continue
    if u[0] in uids:
        bad.append("UID %s in %s and %s" % (u[0].decode(), uids[u[0]], n))
    uids[u[0]] = n
print("%d items, %d problems" % (len(uids), len(bad)))
for b in bad[:10]:
    print(b)
sys.exit(1 if bad else 0)
PY
}
# converged DIR STORAGE N: the same N UIDs on both sides, bodies equal but
# for CR and line folding, and N state rows
converged() {
	"$E2T_PY" - "$1" "$2" "$3" <<'PY' || return 1
import os, sys
def load(d):
    out = {}
    for n in os.listdir(d):
        if n.startswith(".") or not n.endswith(".vcf"):
            continue
        # but for CR, and for folding: Radicale (vobject) folds a long
        # line it serves or stores at 75 octets
        b = open(os.path.join(d, n), "rb").read().replace(b"\r", b"")
        b = b.replace(b"\n ", b"")
        u = [l[4:] for l in b.split(b"\n") if l.startswith(b"UID:")]
        out[u[0] if u else n] = b
    return out
a, b, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
diff = sorted(u for u in set(a) & set(b) if a[u] != b[u])
print("folder %d, server %d, want %d; only local %s; only server %s; "
      "bodies differ %s" % (len(a), len(b), n, only_a[:5], only_b[:5],
                            diff[:5]))
sys.exit(0 if len(a) == n and len(b) == n and not only_a and not only_b
         and not diff else 1)
PY
	local rows
	rows=$(sqlite3 "$STORE/accounts.db" "SELECT count(*) FROM dav_items WHERE guid = '$GUID'")
	[ "$rows" = "$3" ] || { echo "state rows: $rows, want $3"; return 1; }
}
# put_once: every local new vCard so far was PUT with a 201 exactly once
put_once() {
	local f n bad=0
	while read -r f; do
		n=$(grep -F "PUT response status for '/$U/contacts/$f' " "$RLOG" |
			grep -c ': 201 ')
		[ "$n" = 1 ] || { echo "$f: $n PUTs with 201"; bad=1; }
	done <"$E2T_DIR/made"
	[ "$bad" = 0 ] && echo "$(wc -l <"$E2T_DIR/made") local items, each PUT once"
}

# ---- 1. cut connections: Radicale over plain HTTP behind cutproxy.py
rad_add_user "$U" "$E2T_PASS"
rad_start s 31272 plain
R=$RAD_ROOT_s/$U
RLOG=$E2T_DIR/log/radicale-s.log
PX=31273
CLOG=$E2T_DIR/log/cutproxy.log
rad_mkcoll s "$U" contacts addressbook "My Contacts"
rad_fill s "$U" contacts 300 c
prov 0x3 "http://$E2T_HOST:$PX/" || e2t_fatal "cannot provision"
BOOK=$STORE/contacts/$GUID/contacts
mkdir -p "$BOOK"
chmod 700 "$STORE/contacts" "$STORE/contacts/$GUID" "$BOOK"
: >"$E2T_DIR/made"
for i in $(seq 1 50); do vcard "up-$i"; done
TOTAL=350

# proxy ARGS...: a new cutproxy.py with ARGS between the client and Radicale
PX_PID=
proxy() {
	local ready=$E2T_DIR/cutproxy.ready
	e2t_stop_pid "$PX_PID"
	rm -f "$ready"
	echo "--- proxy $*" >>"$CLOG"
	e2t_spawn "$CLOG" "$E2T_PY" "$E2T_SRCDIR/cutproxy.py" \
		--listen "$E2T_ADDR:$PX" --target "$E2T_ADDR:31272" \
		--log "$CLOG" --ready-file "$ready" --lifetime 300 --idle 120 "$@"
	PX_PID=$E2T_SPAWN_PID
	timeout 10 bash -c "until [ -s '$ready' ]; do sleep 0.05; done" ||
		e2t_fatal "cutproxy did not start"
}
cuts() { grep -c '^conn [0-9]* cut ' "$CLOG"; }

# cut_case NAME STEP-REGEX PROXY-ARGS...: a run through a cutting proxy
# (the contacts error must name STEP-REGEX: the request that was cut),
# the checks after it, then a run through the whole proxy and its checks
cut_case() {
	local name=$1 step=$2 c0
	shift 2
	proxy "$@"
	c0=$(cuts)
	run --content contacts
	e2t_check "cut $name: the proxy cut a connection" \
		test "$(cuts)" -gt "$c0"
	e2t_check "cut $name: exit 3, no crash" exit3
	e2t_check "cut $name: contacts failed or partial, the error names the request" \
		rj "d['contacts']['state'] in ('failed', 'partial') and __import__('re').search(r'''$step''', d['contacts']['error'])"
	e2t_check "cut $name: every item file whole, no UID twice, no temporary" \
		items_sane "$BOOK"
	if [ -n "${AFTER_CUT:-}" ]; then
		e2t_check "cut $name: $AFTER_CUT_NAME" "$AFTER_CUT"
	fi
	proxy --cut-conns 0
	run --content contacts
	e2t_check "cut $name, then a whole run: exit 0, contacts ok" \
		ok0 "d['contacts']['state'] == 'ok'"
	e2t_check "cut $name, then a whole run: folder == Radicale's storage, $TOTAL items, rows agree" \
		converged "$BOOK" "$R/contacts" "$TOTAL"
	e2t_check "cut $name, then a whole run: every local new item PUT exactly once" \
		put_once
	e2t_check "cut $name, then a whole run: item files whole, no UID twice" \
		items_sane "$BOOK"
}

# a) the first sync (300 down, 50 up): cut inside discovery's Depth 1
# PROPFIND on the home set, the first answer with two <response>s
cut_case "inside discovery's collections PROPFIND" '^collections ' \
	--at '<(\w+:)?response>' --nth 2 --plus 40 --cut-conns 1000

# b) 100 more on the server, 10 more local: cut inside the sync-collection
# answer, at its 60th <response>
rad_fill s "$U" contacts 100 s2
for i in $(seq 1 10); do vcard "l2-$i"; done
TOTAL=$((TOTAL + 110))
cut_case "inside the sync-collection REPORT answer" '^sync-collection ' \
	--at '<(\w+:)?response>' --nth 60 --plus 30 --cut-conns 1000

# c) 150 more on the server, 10 more local: cut inside the item data the
# sync-collection answer carries, in its 70th vCard (the bodies come with
# the listing; multiget serves what a listing leaves out, dav-sync.sh)
rad_fill s "$U" contacts 150 s3
for i in $(seq 1 10); do vcard "l3-$i"; done
TOTAL=$((TOTAL + 160))
cut_case "inside the item data of the sync-collection answer" '^sync-collection ' \
	--at 'BEGIN:VCARD' --nth 70 --plus 25 --cut-conns 1000

# d) 20 more on the server, 30 more local, the 15th with a 6 KB note: the
# only request over 4,000 bytes, cut client to server inside its body
rad_fill s "$U" contacts 20 s4
for i in $(seq -w 1 30); do
	if [ "$i" = 15 ]; then vcard "l4-$i" 6000; else vcard "l4-$i"; fi
done
TOTAL=$((TOTAL + 50))
put_cut() {
	local up
	up=$(ls "$R/contacts" | grep -c '^l4-')
	echo "$up of 30 on the server after the cut"
	[ ! -e "$R/contacts/l4-15.vcf" ] && [ -e "$R/contacts/l4-14.vcf" ] &&
		[ "$(ls "$BOOK" | grep -c '^s4-')" = 20 ]
}
AFTER_CUT=put_cut
AFTER_CUT_NAME="the downloads and the PUTs before it done, the cut one not stored"
cut_case "inside a PUT (client to server)" '^put \S*/l4-15\.vcf: ' \
	--cut-c2s 4000 --cut-conns 1000

# our own PUTs moved the token: the next run lists them and moves nothing,
# the one after that is a no-change run
t_quiet() {
	run --content contacts
	ok0 "d['contacts']['state'] == 'ok' and all(d['contacts'][k] == 0 for k in ('downloaded', 'uploaded', 'deleted_local', 'deleted_server', 'conflicts', 'skipped'))" &&
		converged "$BOOK" "$R/contacts" "$TOTAL" &&
		run --content contacts &&
		ok0 "d['contacts']['state'] == 'ok' and d['contacts']['unchanged'] == 1"
}
e2t_check "after the cuts: the next run moves nothing, the one after is no-change" t_quiet
e2t_log "part 1 (cut connections): $((SECONDS - T0)) s"
e2t_stop_pid "$PX_PID"
rad_stop s

# ---- 2. a hostile DAV server (dav_hostile.py)
GUID='{D5A7C0DE-0010-4A2B-8C3D-00000000FA18}'
STORE=$E2T_DIR/store2 # this account alone in its store: one JSON line
export E2T_DAV_SECRET=$E2T_PASS
HP=31275
OP=31276
OTHER=http://$E2T_HOST_HOSTILE:$OP/
MODE=$E2T_DIR/dav-mode
HLOG=$E2T_DIR/log/dav-hostile.log
OLOG=$E2T_DIR/log/dav-other.log
echo normal >"$MODE"
# hostile NAME ADDR PORT ARGS...: a dav_hostile.py, waited for
hostile() {
	local name=$1 addr=$2 port=$3 ready=$E2T_DIR/dav-$1.ready
	shift 3
	e2t_spawn "$E2T_DIR/log/dav-$name.out" "$E2T_PY" \
		"$E2T_SRCDIR/dav_hostile.py" --listen "$addr:$port" \
		--ready-file "$ready" --user "$U" "$@"
	timeout 10 bash -c "until [ -s '$ready' ]; do sleep 0.05; done" ||
		e2t_fatal "dav_hostile.py $name did not start"
}
hostile main "$E2T_ADDR" "$HP" --log "$HLOG" --mode-file "$MODE" \
	--other "$OTHER"
hostile other "$E2T_ADDR_HOSTILE" "$OP" --log "$OLOG" --mode other
prov 0x3 "http://$E2T_HOST:$HP/" || e2t_fatal "cannot provision $GUID"
HBOOK=$STORE/contacts/$GUID/book
TIMEOUT=4
MSG=0

# hrun MODE: a new message in the INBOX, then a run (mail and contacts)
# against the server in MODE; the folder's state before it in $E2T_DIR/before
hrun() {
	echo "$1" >"$MODE"
	MSG=$((MSG + 1))
	printf 'From: a@example.org\r\nTo: %s@email2.test\r\nSubject: m%s\r\n\r\nbody %s\r\n' \
		"$U" "$MSG" "$1" >"$E2T_DIR/m.eml"
	e2t_deliver "$E2T_DIR/m.eml"
	snapshot >"$E2T_DIR/before"
	: >"$HLOG"
	# every case walks discovery from the top (the redirect is there),
	# not from the home set the last run remembered
	sqlite3 "$STORE/accounts.db" "DELETE FROM dav_homes"
	run --timeout "$TIMEOUT"
	cp "$HLOG" "$E2T_DIR/log/dav-hostile-$1.log"
}
snapshot() { (cd "$HBOOK" 2>/dev/null && find . -type f | sort | xargs -r sha256sum); }
untouched() {
	snapshot | diff "$E2T_DIR/before" - || { echo "the folder changed"; return 1; }
}
# hostile_common NAME ERROR-REGEX: exit 3, the mail synced, the folder as
# it was, the contacts error naming the fault
hostile_common() {
	e2t_check "$1: exit 3, no crash" exit3
	e2t_check "$1: the run's mail still synced (1 message)" \
		rj "d['status'] == 'ok' and d['messages'] == 1"
	e2t_check "$1: a clear error: $2" \
		rj "d['contacts']['state'] in ('failed', 'partial') and __import__('re').search(r'''$2''', d['contacts']['error']) and any(s['folder'] == 'contacts' for s in d['skipped'])"
	e2t_check "$1: the folder untouched" untouched
}
no_other_creds() {
	! grep -E 'auth=(basic|other|basic-bad)' "$OLOG" ||
		{ echo "credentials reached the other host (above)"; return 1; }
}

hrun normal
e2t_check "hostile server, normal: exit 0, 2 contacts, 1 message" \
	ok0 "d['contacts']['state'] == 'ok' and d['contacts']['downloaded'] == 2 and d['messages'] == 1"

# (a) 64 MiB of multistatus: refused at the 32 MiB cap as soon as its
# Content-Length says so, memory bounded, the client stops reading. Under AddressSanitizer a freed block is held
# in its quarantine (256 MB by default), which is the sanitizer's memory,
# not the client's: a small quarantine for this run (no effect otherwise)
ASAN_SAVED=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
hrun big
export ASAN_OPTIONS=$ASAN_SAVED
hostile_common "a 64 MiB multistatus" 'response body larger than 33554432 bytes'
e2t_check "a 64 MiB multistatus: peak memory under 200 MB ($RSS KiB)" \
	test "$RSS" -lt 204800
t_stopped_reading() {
	grep '^sent ' "$HLOG"
	grep -q '^sent ' "$HLOG" &&
		! grep '^sent ' "$HLOG" | awk '$2 >= 4 * 1048576 { bad = 1 } END { exit !bad }'
}
# its Content-Length says 64 MiB: refused at the header, before the body
e2t_check "a 64 MiB multistatus: refused at its Content-Length (under 4 MiB sent)" \
	t_stopped_reading
# asked with the data, then with the etags only (dav_sync_fetch_page());
# never a third time from an empty token: an answer over the cap says
# nothing about the token
e2t_check "a 64 MiB multistatus: asked twice (with data, etags only), never from an empty token" \
	test "$(grep -c '^REPORT /alice/book/' "$HLOG")" = 2

# (b) malformed XML
hrun malformed
hostile_common "malformed XML" 'end tag does not match|not well-formed|libxml2 error'

# (c) billion laughs
hrun bomb
hostile_common "an XML entity bomb" 'entity declarations are refused'

# (d) an answer that never ends
hrun stall
hostile_common "an answer that never ends" 'timed out'
t_timeout() {
	local ms
	ms=$(sed -n 's/.*timed out after \([0-9]*\) milliseconds.*/\1/p' "$E2T_DIR/run.json" | head -1)
	echo "request timed out after ${ms:-?} ms, run $SECS ms (--timeout $TIMEOUT)"
	[ -n "$ms" ] && [ "$ms" -le $((TIMEOUT * 1000 + 500)) ] &&
		[ "$SECS" -lt $((TIMEOUT * 3000)) ]
}
e2t_check "an answer that never ends: the request gives up within --timeout $TIMEOUT" \
	t_timeout
t_one_timeout() {
	echo "run $SECS ms, $(grep -c '^REPORT /alice/book/' "$HLOG") REPORTs"
	[ "$(grep -c '^REPORT /alice/book/' "$HLOG")" = 1 ] &&
		[ "$SECS" -lt $((TIMEOUT * 1000 + 3000)) ]
}
e2t_check "an answer that never ends: one timeout, the run over within --timeout + 3 s" \
	t_one_timeout

# (e) discovery redirected to another host
: >"$OLOG"
hrun redirect
hostile_common "a well-known redirect to another host" \
	'redirect to "http://hostile\.email2\.test:[0-9]+/" refused'
e2t_check "a well-known redirect to another host: no credentials sent there" \
	no_other_creds
e2t_check "a well-known redirect to another host: not followed at all" \
	test ! -s "$OLOG"

# (f) sync-collection hrefs outside the collection
: >"$OLOG"
hrun hrefs
t_hrefs_exit() { exit3 && rj "d['status'] == 'ok' and d['messages'] == 1"; }
e2t_check "hrefs outside the collection: exit 3, the mail synced" t_hrefs_exit
t_no_outsiders() {
	! ls "$HBOOK" | grep -E '^(outside-|stolen|x\.vcf|net|evil)' ||
		{ echo "written as items of /alice/book/ (above)"; return 1; }
}
e2t_check "hrefs outside the collection: never written as items of it" \
	t_no_outsiders
e2t_check "hrefs outside the collection: no credentials to the other host" \
	no_other_creds
e2t_check "hrefs outside the collection: the other host never asked" test ! -s "$OLOG"
e2t_check "hrefs outside the collection: the folder untouched" untouched
e2t_check "hrefs outside the collection: the error names an href outside" rj "__import__('re').search(r'outside|not (in|under|within)|another|other host|foreign', d['contacts']['error'])"

e2t_log "dav-faults.sh: $((SECONDS - T0)) s"
e2t_finish
