#!/bin/bash
# SPDX-License-Identifier: MIT
# dav-sync.sh -- the collection driver (engine/dav_sync.c) against a real
# Radicale over HTTPS (harness/radicale.sh), through dav-sync-tool on an
# account provisioned with email2-provision: first sync of contacts and
# calendars (events and todos) byte for byte; a no-change run makes no
# REPORT and reads no item; local new/changed/deleted reach Radicale's
# storage; server new/changed/deleted reach the folder; both changed keep
# both versions; a corrupted token is retried from empty; the fallback
# listing and GET fallback through a proxy; the safety check; SIGKILL
# during a few hundred items both ways; khal and khard read the result.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
. "$E2T_SRCDIR/harness/radicale.sh"
rad_usable || e2t_skip "$RAD_WHY"
TOOL=${E2_TOP_BUILDDIR:-$E2T_SRCDIR/../..}/tests/integration/dav-sync-tool
[ -x "$TOOL" ] || e2t_skip "missing $TOOL"
command -v sqlite3 >/dev/null || e2t_skip "no sqlite3"
sync_setup '{D5A7C0DE-0010-4A2B-8C3D-00000000DA10}'
sync_provision IMAP4 "$E2T_IMAPS_PORT" || e2t_fatal "cannot provision"

SECRET=e2t-davsync-$$-Secret
export E2T_DAV_SECRET=$SECRET
rad_add_user alice "$SECRET"
rad_start s 31242 tls
R=$RAD_ROOT_s/alice
U=https://$E2T_HOST:31242
CARDS=$STORE/contacts/$GUID
CALS=$STORE/calendars/$GUID
RLOG=$E2T_DIR/log/radicale-s.log

rad_mkcoll s alice contacts addressbook "My Contacts"
rad_mkcoll s alice office addressbook "Work people"
rad_mkcoll s alice cal calendar "Calendar" "#FF2968FF"
rad_fill s alice contacts 40 c
rad_fill s alice office 3 w
rad_fill s alice cal 20 e
# a todo next to the events
cat >"$R/cal/todo-1.ics" <<'ICS'
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//email2 test//EN
BEGIN:VTODO
UID:todo-1
DTSTAMP:20260101T000000Z
SUMMARY:Write the tests
END:VTODO
END:VCALENDAR
ICS
sed -i 's/$/\r/' "$R/cal/todo-1.ics"

# dsync card|cal [OPTIONS]: one run of the driver as alice
dsync() {
	local kind=$1 rc=0
	shift
	e2t_run "$TOOL" --store "$STORE" --guid "${G:-$GUID}" --cafile "$E2T_CA" \
		--user alice "$@" "${URL:-$U}" "$kind" >"$E2T_DIR/out" \
		2>"$E2T_DIR/err" || rc=$?
	sed 's/^/# /' "$E2T_DIR/out" "$E2T_DIR/err" >>"$E2T_DIR/log/tool.log"
	return $rc
}
has() { grep -Eq -- "$2" "$1" || { echo "no /$2/ in $1:"; head -20 "$1"; return 1; }; }
count() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" "$E2T_DIR/out"; }
# same DIR-A DIR-B: the item files of both, byte for byte but for CR
# (a multiget body crossed XML, whose parser turns CR LF into LF: XML 1.0
# 2.11; Radicale stores CR LF)
same() {
	local a=$1 b=$2 f
	[ "$(cd "$a" && ls | grep -E '\.(vcf|ics)$' | sort)" = \
		"$(cd "$b" && ls | grep -E '\.(vcf|ics)$' | sort)" ] ||
		{ echo "names differ: $a $b"; diff <(ls "$a") <(ls "$b"); return 1; }
	for f in $(cd "$a" && ls | grep -E '\.(vcf|ics)$' | grep -v "${3:-^$}"); do
		cmp -s <(tr -d '\r' <"$a/$f") <(tr -d '\r' <"$b/$f") ||
			{ echo "differs: $f"; return 1; }
	done
}
rows() { sqlite3 "$STORE/accounts.db" "SELECT count(*) FROM dav_items WHERE coll = '$1'"; }
reports() { grep -c "REPORT response status" "$RLOG"; }
requests() { grep -c "response status" "$RLOG"; }

t_first_card() {
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=0 downloaded=43 uploaded=0 ' &&
		has "$E2T_DIR/out" '^rc=ok$' &&
		same "$CARDS/contacts" "$R/contacts" &&
		same "$CARDS/office" "$R/office" &&
		[ "$(cat "$CARDS/contacts/displayname")" = "My Contacts" ] &&
		[ "$(rows /alice/contacts/)" = 40 ] &&
		[ "$(stat -c %a "$CARDS/contacts/c-1.vcf")" = 600 ]
}
e2t_check "first sync of two addressbooks: 43 vCards byte for byte, metadata" \
	t_first_card

t_first_cal() {
	dsync cal || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=21 ' &&
		same "$CALS/cal" "$R/cal" todo-1 &&
		has "$CALS/cal/todo-1.ics" '^SUMMARY:Write the tests' &&
		[ "$(cat "$CALS/cal/color")" = "#FF2968FF" ]
}
e2t_check "first sync of a calendar: 20 events and a todo byte for byte, color" \
	t_first_cal

t_nochange() {
	local n0 r0 tr=$E2T_DIR/trace
	n0=$(requests)
	r0=$(reports)
	: >"$tr"
	# every item unreadable: a run that read one would skip it
	chmod 000 "$CARDS"/contacts/*.vcf
	dsync card --trace "$tr" || { chmod 600 "$CARDS"/contacts/*.vcf; cat "$E2T_DIR/out"; return 1; }
	chmod 600 "$CARDS"/contacts/*.vcf
	echo "no-change run, contacts (2 collections): $(( $(requests) - n0 )) requests in all (discovery included), $(( $(reports) - r0 )) REPORT" >>"$E2T_DIR/measure"
	has "$E2T_DIR/out" '^collections=2 unchanged=2 downloaded=0 uploaded=0 .* skipped=0$' &&
		[ "$(reports)" = "$r0" ] &&
		! grep -q '^http> \(REPORT\|GET\|PUT\|DELETE\)' "$tr"
}
e2t_check "a no-change run: no REPORT, no item request, no file read" t_nochange
e2t_log "$(cat "$E2T_DIR/measure")"

t_local_changes() {
	local c=$CARDS/contacts
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:new-1\r\nFN:New One\r\nN:One;New;;;\r\nEND:VCARD\r\n' >"$c/new-1.vcf"
	# an editor's save: a new file renamed over the old one
	sed 's/^FN:Person 3$/FN:Person Three/' "$c/c-3.vcf" >"$c/.c-3.swp" &&
		mv "$c/.c-3.swp" "$c/c-3.vcf"
	rm "$c/c-5.vcf"
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=0 uploaded=2 deleted_local=0 deleted_server=1 conflicts=0 refused=0 skipped=0$' &&
		has "$R/contacts/new-1.vcf" '^FN:New One' &&
		has "$R/contacts/c-3.vcf" '^FN:Person Three' &&
		[ ! -e "$R/contacts/c-5.vcf" ] &&
		[ "$(rows /alice/contacts/)" = 40 ] &&
		same "$c" "$R/contacts"
}
e2t_check "local new, changed, deleted: PUT, PUT If-Match, DELETE reach Radicale" \
	t_local_changes

t_own_changes_quiet() {
	local before
	before=$(cd "$CARDS/contacts" && sha256sum *.vcf)
	# our own PUTs moved the token: the next run lists them, same etags
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=0 uploaded=0 deleted_local=0 deleted_server=0 ' &&
		[ "$before" = "$(cd "$CARDS/contacts" && sha256sum *.vcf)" ] &&
		dsync card &&
		has "$E2T_DIR/out" '^collections=2 unchanged=2 '
}
e2t_check "the run after an upload moves nothing; the one after that is no-change" \
	t_own_changes_quiet

t_server_changes() {
	local c=$CARDS/contacts
	sed -i 's/^FN:Person 7\r$/FN:Person Seven\r/' "$R/contacts/c-7.vcf"
	rm "$R/contacts/c-9.vcf"
	rad_fill s alice contacts 1 added
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=2 uploaded=0 deleted_local=1 deleted_server=0 conflicts=0 ' &&
		has "$c/c-7.vcf" '^FN:Person Seven' &&
		[ ! -e "$c/c-9.vcf" ] && [ -f "$c/added-0.vcf" ] &&
		same "$c" "$R/contacts"
}
e2t_check "server new, changed, deleted reach the folder" t_server_changes

t_conflict() {
	local c=$CARDS/contacts mine
	sed -i 's/^FN:Person 11\r$/FN:Server Eleven\r/' "$R/contacts/c-11.vcf"
	sed -i 's/^FN:Person 11$/FN:Local Eleven/' "$c/c-11.vcf"
	cp "$c/c-11.vcf" "$E2T_DIR/mine.vcf"
	mine=$(sha256sum <"$E2T_DIR/mine.vcf" | cut -c1-12)
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=1 uploaded=0 deleted_local=0 deleted_server=0 conflicts=1 ' &&
		has "$c/c-11.vcf" '^FN:Server Eleven' &&
		cmp "$c/c-11.vcf.conflict-$mine" "$E2T_DIR/mine.vcf" &&
		has "$R/contacts/c-11.vcf" '^FN:Server Eleven' &&
		dsync card && has "$E2T_DIR/out" '^collections=2 unchanged=2 ' &&
		[ "$(ls "$c" | grep -c conflict)" = 1 ]
}
e2t_check "both changed: the server's version in the file, ours kept as .conflict-<sha12>" \
	t_conflict

t_bad_token() {
	local n0 stored
	sqlite3 "$STORE/accounts.db" "UPDATE dav_collections SET sync_token = 'http://radicale.org/ns/sync/0000', ctag = '' WHERE href = '/alice/contacts/'"
	n0=$(grep -c 'REPORT response status.*403' "$RLOG")
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	stored=$(sqlite3 "$STORE/accounts.db" "SELECT sync_token FROM dav_collections WHERE href = '/alice/contacts/'")
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=0 uploaded=0 deleted_local=0 deleted_server=0 conflicts=0 refused=0 skipped=0$' &&
		[ "$(grep -c 'REPORT response status.*403' "$RLOG")" = $((n0 + 1)) ] &&
		case $stored in http://radicale.org/ns/sync/0000 | '') false ;; *) true ;; esac &&
		same "$CARDS/contacts" "$R/contacts" &&
		dsync card && has "$E2T_DIR/out" '^collections=2 unchanged=2 '
}
e2t_check "a corrupted stored token: 403, retried from empty, nothing moved" \
	t_bad_token

t_safety() {
	local o=$CARDS/office before
	before=$(ls "$R/office")
	rm "$o"/*.vcf
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" ' refused=1 ' &&
		has "$E2T_DIR/out" '^error=.*office: every local item is gone.*refused \(S1\)' &&
		[ "$(ls "$R/office")" = "$before" ] &&
		[ "$(rows /alice/office/)" = 3 ] &&
		dsync card && has "$E2T_DIR/out" ' refused=1 ' &&
		[ "$(ls "$R/office")" = "$before" ]
}
e2t_check "every local file deleted: refused (S1), the server and the rows intact" \
	t_safety

t_safety_lifted() {
	local f
	for f in $(ls "$R/office"); do tr -d '\r' <"$R/office/$f" >"$CARDS/office/$f"; done
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" ' refused=0 skipped=0$' &&
		same "$CARDS/office" "$R/office" &&
		dsync card && dsync card &&
		has "$E2T_DIR/out" '^collections=2 unchanged=2 '
}
e2t_check "the files put back: the refusal lifts, both sides agree" \
	t_safety_lifted

t_server_empty() {
	local o=$CARDS/office
	mkdir -p "$E2T_DIR/office-saved"
	cp -p "$R"/office/*.vcf "$E2T_DIR/office-saved/"
	rm "$R"/office/*.vcf
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" ' refused=1 ' &&
		has "$E2T_DIR/out" '^error=.*office: the server holds no item.*refused \(S2\)' &&
		[ "$(ls "$o" | grep -c '\.vcf$')" = 3 ] &&
		[ "$(rows /alice/office/)" = 3 ] || return 1
	cp -p "$E2T_DIR/office-saved/"*.vcf "$R/office/"
	dsync card && has "$E2T_DIR/out" ' refused=0 skipped=0$' &&
		same "$o" "$R/office"
}
e2t_check "every server item deleted: refused (S2), the files and rows kept" \
	t_server_empty

t_symlink_item() {
	local c=$CARDS/contacts before
	before=$(sha256sum /etc/passwd)
	ln -s /etc/passwd "$c/evil.vcf"
	sed -i 's/^FN:Person 13\r$/FN:Person Thirteen\r/' "$R/contacts/c-13.vcf"
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=1 .* skipped=1$' &&
		has "$E2T_DIR/out" '^error=.*evil\.vcf.*not a regular file' &&
		[ ! -e "$R/contacts/evil.vcf" ] && [ -L "$c/evil.vcf" ] &&
		[ "$before" = "$(sha256sum /etc/passwd)" ] &&
		dsync card && has "$E2T_DIR/out" '^collections=2 unchanged=2 ' &&
		rm "$c/evil.vcf"
}
e2t_check "a symlink with an item name: never read nor sent, reported, the token still moves" \
	t_symlink_item

t_odd_name() {
	local c=$CARDS/contacts
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jane-1\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nEND:VCARD\r\n' >"$c/Jane Doe@home.vcf"
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=0 uploaded=1 ' &&
		has "$R/contacts/Jane Doe@home.vcf" '^FN:Jane Doe' &&
		has "$RLOG" "PUT response status for '/alice/contacts/Jane Doe@home.vcf'" &&
		dsync card &&
		has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=0 uploaded=0 deleted_local=0 deleted_server=0 conflicts=0 refused=0 skipped=0$' &&
		dsync card && has "$E2T_DIR/out" '^collections=2 unchanged=2 ' &&
		[ ! -e "$c/jane-1.vcf" ] && same "$c" "$R/contacts"
}
e2t_check "a local file named 'Jane Doe@home.vcf': PUT percent-encoded, listed back as the same item" \
	t_odd_name

t_content_filter() {
	local d
	for d in tasks events; do
		mkdir -p "$R/$d"
	done
	printf '{"tag": "VCALENDAR", "C:supported-calendar-component-set": "VTODO"}' >"$R/tasks/.Radicale.props"
	printf '{"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT"}' >"$R/events/.Radicale.props"
	cp "$R/cal/todo-1.ics" "$R/tasks/"
	chmod -R a+rwX "$R"
	rad_fill s alice events 2 ev
	dsync cal --content 8 || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=1 ' &&
		[ -f "$CALS/tasks/todo-1.ics" ] && [ ! -e "$CALS/events" ] &&
		dsync cal --content 4 &&
		has "$E2T_DIR/out" '^collections=2 unchanged=1 downloaded=2 ' &&
		[ -f "$CALS/events/ev-1.ics" ] &&
		dsync cal && has "$E2T_DIR/out" '^collections=3 unchanged=3 .* skipped=0$'
}
e2t_check "calendars by component: --content 0x8 the VTODO ones, 0x4 the VEVENT ones" \
	t_content_filter

t_cal_twoway() {
	local c=$CALS/cal
	printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2t//EN\r\nBEGIN:VEVENT\r\nUID:meet-1\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' >"$c/meet-1.ics"
	sed -i 's/^SUMMARY:Write the tests$/SUMMARY:Write more tests/' "$c/todo-1.ics"
	rm "$c/e-3.ics"
	dsync cal || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" ' uploaded=2 deleted_local=0 deleted_server=1 conflicts=0 refused=0 skipped=0$' &&
		has "$R/cal/meet-1.ics" '^SUMMARY:Planning' &&
		has "$R/cal/todo-1.ics" '^SUMMARY:Write more tests' &&
		[ ! -e "$R/cal/e-3.ics" ] &&
		grep -q "PUT response status for '/alice/cal/meet-1.ics'.*201" "$RLOG" &&
		dsync cal && dsync cal &&
		has "$E2T_DIR/out" '^collections=3 unchanged=3 '
}
e2t_check "calendars both ways: a new event, an edited todo, a deleted event reach Radicale" \
	t_cal_twoway

# ---- a server without sync-collection, and multiget gaps (davproxy.py)
G2='{D5A7C0DE-0011-4A2B-8C3D-00000000DA11}'
(GUID=$G2 && sync_provision IMAP4 "$E2T_IMAPS_PORT") ||
	e2t_fatal "cannot provision $G2"
rad_start p 31243 plain
rad_mkcoll p alice books addressbook "Books"
rad_fill p alice books 30 f
RP=$RAD_ROOT_p/alice
PLOG=$E2T_DIR/log/davproxy.log
e2t_spawn "$E2T_DIR/log/davproxy.out" "$E2T_PY" "$E2T_SRCDIR/davproxy.py" \
	--listen "$E2T_ADDR:31244" --target "$E2T_ADDR:31243" --no-sync \
	--drop '/f-1\.vcf$|/late-0\.vcf$' --404 '/f-2\.vcf$' --no-put-etag \
	--get-404 '/late-0\.vcf$' --log "$PLOG"
e2t_wait_port "$E2T_ADDR" 31244 || e2t_fatal "davproxy did not start"
# pdsync ARGS: dsync through the proxy as the second account
pdsync() {
	G=$G2 URL=http://$E2T_HOST:31244 dsync card --allow-http --cleartext "$@"
}
BOOKS=$STORE/contacts/$G2/books

t_fallback_first() {
	pdsync || { cat "$E2T_DIR/out" "$E2T_DIR/err"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=30 uploaded=0 .* skipped=0$' &&
		same "$BOOKS" "$RP/books" &&
		! grep -q 'no sync-collection' "$PLOG" &&
		has "$PLOG" '^PROPFIND /alice/books/ -> 207' &&
		has "$PLOG" '^dropped /alice/books/f-1\.vcf$' &&
		has "$PLOG" '^404 /alice/books/f-2\.vcf$' &&
		has "$PLOG" '^GET /alice/books/f-1\.vcf -> 200' &&
		has "$PLOG" '^GET /alice/books/f-2\.vcf -> 200' &&
		[ "$(grep -c '^GET ' "$PLOG")" = 2 ]
}
e2t_check "no sync-collection: etag listing, multiget, one GET per dropped or 404 href" \
	t_fallback_first

t_fallback_nochange() {
	local n0
	n0=$(wc -l <"$PLOG")
	pdsync || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=1 downloaded=0 ' &&
		[ "$(tail -n +$((n0 + 1)) "$PLOG" | grep -c '/alice/books/')" = 1 ] &&
		tail -n +$((n0 + 1)) "$PLOG" | grep -q '^PROPFIND /alice/books/ -> 207'
}
e2t_check "no sync-collection, getctag unchanged: one PROPFIND (getctag) on the collection, no listing" \
	t_fallback_nochange

t_fallback_changes() {
	rm "$RP/books/f-5.vcf"
	sed -i 's/^FN:Person 6\r$/FN:Person Six\r/' "$RP/books/f-6.vcf"
	pdsync || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=1 uploaded=0 deleted_local=1 ' &&
		same "$BOOKS" "$RP/books"
}
e2t_check "no sync-collection, getctag moved: the listing finds a change and a delete" \
	t_fallback_changes

t_no_put_etag() {
	local f=$BOOKS/d20-1.vcf etag n0
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:d20-1\r\nEMAIL:d20@example.org\r\nFN:Dee Twenty\r\nN:Twenty;Dee;;;\r\nEND:VCARD\r\n' >"$f"
	pdsync || { cat "$E2T_DIR/out"; return 1; }
	etag=$(sqlite3 "$STORE/accounts.db" "SELECT etag FROM dav_items WHERE href = '/alice/books/d20-1.vcf'")
	has "$E2T_DIR/out" ' uploaded=1 ' && [ -z "$etag" ] &&
		has "$RP/books/d20-1.vcf" '^FN:Dee Twenty' || return 1
	# the next edit: the listing gives the etag, multiget the body, equal
	# to the row's but for line ends (D23): PUT If-Match that etag
	n0=$(wc -l <"$PLOG")
	sed -i 's/^FN:Dee Twenty\r$/FN:Dee Edited\r/' "$f"
	pdsync || { cat "$E2T_DIR/out"; return 1; }
	tail -n +$((n0 + 1)) "$PLOG" | grep '/alice/books/d20-1' >"$E2T_DIR/d20"
	has "$E2T_DIR/out" ' uploaded=1 deleted_local=0 deleted_server=0 conflicts=0 ' &&
		has "$RP/books/d20-1.vcf" '^FN:Dee Edited' &&
		[ "$(awk '{print $1}' "$E2T_DIR/d20" | tr '\n' ' ')" = "PUT " ] &&
		[ -z "$(ls "$BOOKS" | grep conflict)" ]
}
e2t_check "a PUT answered without ETag: no etag stored; the next edit goes out, no conflict (D20, D23)" \
	t_no_put_etag

t_still_missing() {
	local ctag
	ctag=$(sqlite3 "$STORE/accounts.db" "SELECT ctag FROM dav_collections WHERE href = '/alice/books/'")
	rad_fill p alice books 1 late
	pdsync || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=0 .* skipped=1$' &&
		has "$E2T_DIR/out" '^error=.*late-0\.vcf.*could not be fetched' &&
		has "$PLOG" '^GET /alice/books/late-0\.vcf -> 404' &&
		[ ! -e "$BOOKS/late-0.vcf" ] &&
		[ "$(sqlite3 "$STORE/accounts.db" "SELECT ctag FROM dav_collections WHERE href = '/alice/books/'")" = "$ctag" ] &&
		pdsync && has "$E2T_DIR/out" ' skipped=1$'
}
e2t_check "an item neither multiget nor GET serves: skipped, counted, the getctag kept" \
	t_still_missing

# ---- sync-collection without the data (davproxy.py --sync-no-data)
# The driver asks sync-collection for the data too (one request on a first
# sync); a server that lists hrefs and etags but leaves the data out gets
# a multiget for them, and one GET for what the multiget drops.
G3='{D5A7C0DE-0012-4A2B-8C3D-00000000DA12}'
(GUID=$G3 && sync_provision IMAP4 "$E2T_IMAPS_PORT") ||
	e2t_fatal "cannot provision $G3"
NLOG=$E2T_DIR/log/davproxy-nodata.log
e2t_spawn "$E2T_DIR/log/davproxy-nodata.out" "$E2T_PY" \
	"$E2T_SRCDIR/davproxy.py" --listen "$E2T_ADDR:31245" \
	--target "$E2T_ADDR:31243" --sync-no-data --drop '/f-3\.vcf$' \
	--log "$NLOG"
e2t_wait_port "$E2T_ADDR" 31245 || e2t_fatal "davproxy did not start"
t_no_data() {
	G=$G3 URL=http://$E2T_HOST:31245 dsync card --allow-http --cleartext ||
		{ cat "$E2T_DIR/out" "$E2T_DIR/err"; return 1; }
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=[0-9]+ uploaded=0 .* skipped=0$' &&
		same "$STORE/contacts/$G3/books" "$RP/books" &&
		has "$NLOG" '^sync-collection: [1-9][0-9]* data elements left out' &&
		has "$NLOG" '^REPORT /alice/books/ -> 207' &&
		has "$NLOG" '^dropped /alice/books/f-3\.vcf$' &&
		has "$NLOG" '^GET /alice/books/f-3\.vcf -> 200' &&
		[ "$(grep -c '^GET ' "$NLOG")" = 1 ]
}
e2t_check "sync-collection without the data: multiget, one GET for the dropped href" \
	t_no_data

# ---- SIGKILL at points spread over a few hundred items, both ways
rad_mkcoll s alice big addressbook "Big"
rad_fill s alice big 400 b
BIG=$CARDS/big
# spawn_tool OUT ARGS...: the tool in the background as e2t_run runs it;
# SUB is the subshell, TOOL_PID the tool itself (the subshell's child:
# signals go to it, by its id)
spawn_tool() {
	local out=$1 i
	shift
	e2t_run "$TOOL" "$@" >>"$out" 2>&1 &
	SUB=$!
	TOOL_PID=
	for i in $(seq 1 500); do
		TOOL_PID=$(pgrep -P "$SUB" | head -n 1)
		[ -n "$TOOL_PID" ] && break
		sleep 0.01
	done
}
# killed_runs T...: a run killed with SIGKILL after each T seconds; the
# item files present after each kill go to $E2T_DIR/kills
killed_runs() {
	local n pid waited
	: >"$E2T_DIR/kills"
	: >"$E2T_DIR/kills-server"
	for n in "$@"; do
		spawn_tool "$E2T_DIR/log/tool.log" --store "$STORE" \
			--guid "$GUID" --cafile "$E2T_CA" --user alice "$U" card
		pid=$TOOL_PID
		# killed when the side being filled holds N items (30 s at most)
		waited=0
		while [ "$( (ls "$BIG" 2>/dev/null; ls "$R/big" | sed 's/^/s:/') |
			grep -c "$KILL_AT")" -lt "$n" ] && [ $waited -lt 1500 ] &&
			kill -0 $pid 2>/dev/null; do
			sleep 0.02
			waited=$((waited + 1))
		done
		kill -KILL $pid 2>/dev/null
		wait $SUB 2>/dev/null
		ls "$BIG" 2>/dev/null | grep -c '\.vcf$' >>"$E2T_DIR/kills"
		ls "$R/big" | grep -c '\.vcf$' >>"$E2T_DIR/kills-server"
	done
	paste "$E2T_DIR/kills" "$E2T_DIR/kills-server" |
		sed 's/^/# items local, server after a kill: /' >>"$E2T_DIR/log/tool.log"
}
# mid N ALL FILE: at least N kills left 0 < items < ALL (FILE: the counts)
mid() {
	[ "$(awk -v all="$2" '$1 > 0 && $1 < all' "$3" | wc -l)" -ge "$1" ] ||
		{ echo "kills landed: $(tr '\n' ' ' <"$3")"; return 1; }
}
# consistent N: the folder, Radicale's storage and the rows agree on N
consistent() {
	dsync card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" '^rc=ok$' &&
		[ "$(ls "$R/big" | grep -c '\.vcf$')" = "$1" ] &&
		same "$BIG" "$R/big" &&
		[ "$(rows /alice/big/)" = "$1" ] &&
		[ -z "$(find "$BIG" -name '*.tmp' -o -name '*.conflict-*')" ] &&
		dsync card && has "$E2T_DIR/out" '^collections=3 unchanged=[23] ' &&
		has "$E2T_DIR/out" ' downloaded=0 uploaded=0 deleted_local=0 deleted_server=0 '
}

t_kill_download() {
	KILL_AT='^b-.*\.vcf$' killed_runs 1 40 110 190 260 330 390
	mid 4 400 "$E2T_DIR/kills" && consistent 400
}
e2t_check "SIGKILL during a 400-item download, 7 times: then no item lost or doubled" \
	t_kill_download

t_kill_upload() {
	local i
	for i in $(seq 1 120); do
		printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:up-%d\r\nFN:Up %d\r\nN:%d;Up;;;\r\nEND:VCARD\r\n' \
			"$i" "$i" "$i" >"$BIG/up-$i.vcf"
	done
	KILL_AT='^s:up-' killed_runs 1 25 50 80 110
	[ "$(awk '$1 > 400 && $1 < 520' "$E2T_DIR/kills-server" | wc -l)" -ge 3 ] ||
		{ echo "kills landed: $(tr '\n' ' ' <"$E2T_DIR/kills-server")"; return 1; }
	consistent 520 && [ "$(ls "$R/big" | grep -c '^up-')" = 120 ]
}
e2t_check "SIGKILL during 120 uploads, 6 times: then every item once on both sides" \
	t_kill_upload

# ---- khal and khard read what the driver wrote
KH=$E2T_DIR/home
mkdir -p "$KH/.config/khard" "$KH/.config/khal" "$KH/.local/share"
cat >"$KH/.config/khard/khard.conf" <<CONF
[addressbooks]
[[contacts]]
path = $CARDS/contacts

[general]
debug = no
default_action = list
editor = /bin/true
merge_editor = /bin/true

[contact table]
display = formatted_name
group_by_addressbook = no
reverse = no
show_nicknames = no
show_uids = yes
sort = last_name
localize_dates = yes
preferred_phone_number_type = pref, cell, home
preferred_email_address_type = pref, work, home

[vcard]
private_objects = Jabber,
preferred_version = 3.0
search_in_source_files = no
skip_unparsable = no
CONF
cat >"$KH/.config/khal/config" <<CONF
[calendars]
[[cal]]
path = $CALS/cal
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = UTC
default_timezone = UTC
CONF

t_khard() {
	local out
	out=$(HOME=$KH XDG_CONFIG_HOME=$KH/.config \
		khard -c "$KH/.config/khard/khard.conf" list 2>&1)
	echo "$out" | head -5
	grep -q 'Person Seven' <<<"$out" && grep -q 'New One' <<<"$out" &&
		grep -q 'Server Eleven' <<<"$out" &&
		! grep -q 'Local Eleven' <<<"$out" &&
		! grep -q 'Person 9 ' <<<"$out" &&
		[ "$(grep -c 'Person' <<<"$out")" = 38 ] || { echo "$out"; false; }
}
t_khal() {
	local out
	out=$(HOME=$KH XDG_CONFIG_HOME=$KH/.config \
		XDG_DATA_HOME=$KH/.local/share TZ=UTC \
		khal -c "$KH/.config/khal/config" list 2026-01-02 2026-01-03 2>&1)
	echo "$out" | head -5
	grep -q 'Event 0' <<<"$out" && grep -q 'Event 19' <<<"$out"
}
if command -v khard >/dev/null && command -v khal >/dev/null; then
	e2t_check "khard lists the synced contacts (the conflict: the server's)" \
		t_khard
	e2t_check "khal lists the synced events" t_khal
else
	e2t_check_skip "khard and khal read the folders (not installed)"
fi

# ---- 1,000 vCards: the time of a first sync and of a no-change run
G3='{D5A7C0DE-0012-4A2B-8C3D-00000000DA12}'
(GUID=$G3 && sync_provision IMAP4 "$E2T_IMAPS_PORT") ||
	e2t_fatal "cannot provision $G3"
rad_add_user bob "$SECRET"
rad_mkcoll s bob many addressbook "Many"
rad_fill s bob many 1000 m
# bsync: one run as bob, its wall time in $E2T_DIR/secs
bsync() {
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	e2t_run "$TOOL" --store "$STORE" --guid "$G3" --cafile "$E2T_CA" \
		--user bob "$U" card >"$E2T_DIR/out" 2>"$E2T_DIR/err" || rc=$?
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >"$E2T_DIR/secs"
	return $rc
}
t_thousand() {
	bsync || { cat "$E2T_DIR/out"; return 1; }
	echo "1,000 vCards, first sync: $(cat "$E2T_DIR/secs") s (sanitizer build)" >>"$E2T_DIR/measure2"
	has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=1000 ' &&
		same "$STORE/contacts/$G3/many" "$RAD_ROOT_s/bob/many" &&
		bsync && has "$E2T_DIR/out" '^collections=1 unchanged=1 ' &&
		echo "1,000 vCards, no-change run: $(cat "$E2T_DIR/secs") s" >>"$E2T_DIR/measure2" || return 1
	# once more from nothing, Radicale's cache warm: the client's part
	sqlite3 "$STORE/accounts.db" "PRAGMA foreign_keys = ON; DELETE FROM dav_collections WHERE guid = '$G3'"
	rm -rf "$STORE/contacts/$G3/many"
	bsync && has "$E2T_DIR/out" '^collections=1 unchanged=0 downloaded=1000 ' &&
		echo "1,000 vCards, first sync again, server cache warm: $(cat "$E2T_DIR/secs") s" >>"$E2T_DIR/measure2"
}
e2t_check "1,000 vCards: first sync, then a no-change run" t_thousand
[ -f "$E2T_DIR/measure2" ] && while read -r l; do e2t_log "$l"; done <"$E2T_DIR/measure2"

t_stop() {
	local pid n first tok waited=0
	rad_mkcoll s bob stopme addressbook "Stop me"
	rad_fill s bob stopme 400 t
	: >"$E2T_DIR/out"
	spawn_tool "$E2T_DIR/out" --store "$STORE" --guid "$G3" \
		--cafile "$E2T_CA" --user bob "$U" card
	pid=$TOOL_PID
	while [ "$(ls "$STORE/contacts/$G3/stopme" 2>/dev/null | grep -c '\.vcf$')" -lt 50 ] &&
		[ $waited -lt 1500 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.02
		waited=$((waited + 1))
	done
	kill -TERM $pid
	wait $SUB || { cat "$E2T_DIR/out"; return 1; }
	first=$(count downloaded)
	tok=$(sqlite3 "$STORE/accounts.db" "SELECT sync_token FROM dav_collections WHERE href = '/bob/stopme/'")
	echo "stopped after $first items, token '$tok'"
	[ "$first" -ge 50 ] && [ "$first" -lt 400 ] && [ -z "$tok" ] &&
		has "$E2T_DIR/out" '^rc=ok$' &&
		bsync && n=$(count downloaded) && [ $((first + n)) = 400 ] &&
		same "$STORE/contacts/$G3/stopme" "$RAD_ROOT_s/bob/stopme"
}
e2t_check "SIGTERM (c->stop) between items: a clean stop, the token kept, the rest next run" \
	t_stop

e2t_finish
