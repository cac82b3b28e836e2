#!/bin/bash
# SPDX-License-Identifier: MIT
# dav.sh -- transports/dav.c against a real Radicale (harness/radicale.sh)
# over HTTPS with the test CA and over plain HTTP: discovery from the bare
# host, sync-collection from empty and from a token after changes made in
# Radicale's storage, an invalid token, multiget byte for byte, a listing,
# conditional PUT and DELETE, a wrong CA, HTTP only where the policy allows
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/radicale.sh"
e2t_up
rad_usable || e2t_skip "$RAD_WHY"

CLIENT=${E2_TOP_BUILDDIR:-$E2T_SRCDIR/../..}/tests/integration/dav-client
[ -x "$CLIENT" ] || e2t_skip "missing $CLIENT"
SECRET=e2t-dav-$$-Secret
export E2T_DAV_SECRET=$SECRET
rad_add_user alice "$SECRET"
rad_start s 31232 tls
rad_start p 31233 plain
R=$RAD_ROOT_s/alice
U=https://$E2T_HOST:31232
P=http://$E2T_HOST:31233
OUT=$E2T_DIR/dav-out
mkdir -p "$OUT"

rad_mkcoll s alice contacts addressbook "My Contacts"
rad_mkcoll s alice office addressbook "Work people"
rad_mkcoll s alice cal calendar "Calendar" "#FF2968FF"
rad_fill s alice contacts 150 c
rad_fill s alice office 3 w
rad_fill s alice cal 20 e

# client ARGS: the driver against the HTTPS Radicale as alice
client() {
	local rc=0
	e2t_run "$CLIENT" --cafile "$E2T_CA" --user alice --out "$OUT" \
		"$@" >"$E2T_DIR/out" 2>"$E2T_DIR/err" || rc=$?
	sed 's/^/# /' "$E2T_DIR/out" >>"$E2T_DIR/log/client.log"
	return $rc
}
# reports PATH: REPORTs Radicale answered 207 on a collection so far (the
# first request of a session is sent twice: a 401, then with Basic)
reports() {
	grep -c "REPORT response status for '$1' .*207 Multi-Status" \
		"$E2T_DIR/log/radicale-s.log"
}
has() { grep -Eq -- "$2" "$1" || { echo "no /$2/ in $1:"; head -40 "$1"; return 1; }; }
# the items of a collection in the storage, as sorted hrefs
stored() {
	(cd "$R/$1" && ls | grep -E '\.(vcf|ics)$' | sed "s|^|/alice/$1/|" |
		sort)
}
# lines "changed HREF ETAG" of the last output, as sorted hrefs
changed() { awk '$1 == "changed" {print $2}' "$E2T_DIR/out" | sort; }
token() { sed -n 's/^token=\([^ ]*\) .*/\1/p' "$E2T_DIR/out"; }
etag() { awk -v h="$1" '$1 == "changed" && $2 == h {print $3}' "$E2T_DIR/out"; }

t_discover_card() {
	local want
	client "$U" discover card || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" "^principal=$U/alice/\$" &&
		has "$E2T_DIR/out" "^home=$U/alice/\$" &&
		has "$E2T_DIR/out" '^confirmed=yes dav=.*addressbook' &&
		has "$E2T_DIR/out" "^coll $U/alice/contacts/ name=My Contacts .*sync=yes multiget=yes" &&
		has "$E2T_DIR/out" "^coll $U/alice/office/ name=Work people " &&
		want=$(grep -l VADDRESSBOOK "$R"/*/.Radicale.props |
			awk -F/ -v u="$U" '{print u "/alice/" $(NF-1) "/"}' |
			sort) &&
		[ "$(awk '$1 == "coll" {print $2}' "$E2T_DIR/out" | sort)" = "$want" ]
}
e2t_check "discovery from the bare host: principal, home, both addressbooks" \
	t_discover_card

t_discover_cal() {
	client "$U" discover cal || { cat "$E2T_DIR/out"; return 1; }
	has "$E2T_DIR/out" "^home=$U/alice/\$" &&
		has "$E2T_DIR/out" '^confirmed=yes dav=.*calendar-access' &&
		has "$E2T_DIR/out" "^coll $U/alice/cal/ name=Calendar color=#FF2968FF ctag=- token=- sync=yes multiget=yes comps=3\$" &&
		[ "$(grep -c '^coll ' "$E2T_DIR/out")" = 1 ] &&
		client "$U" tokens "$U/alice/cal/" &&
		has "$E2T_DIR/out" '^token=http://radicale.org/ns/sync/[0-9a-f]+ ctag="[0-9a-f]+"$'
}
# the tokens are not in the Depth 1 (Radicale hashes every item for each):
# a collection's are asked alone
e2t_check "discovery of the calendar home: one calendar, color, VEVENT+VTODO; its tokens alone" \
	t_discover_cal

t_sync_empty() {
	client "$U" sync "$U/alice/contacts/" || { cat "$E2T_DIR/out"; return 1; }
	[ "$(changed)" = "$(stored contacts)" ] &&
		[ "$(changed | wc -l)" = 150 ] &&
		! grep -q '^deleted ' "$E2T_DIR/out" &&
		has "$E2T_DIR/out" '^token=http://radicale.org/ns/sync/[0-9a-f]+ truncated=no$' &&
		cp "$E2T_DIR/out" "$E2T_DIR/sync0"
}
e2t_check "sync-collection from an empty token lists all 150 items" t_sync_empty

t_sync_changes() {
	local tok
	tok=$(sed -n 's/^token=\([^ ]*\) .*/\1/p' "$E2T_DIR/sync0")
	[ -n "$tok" ] || return 1
	# one changed, one deleted, one new: behind Radicale's back
	sed -i 's/^FN:Person 7\r$/FN:Person Seven\r/' "$R/contacts/c-7.vcf"
	grep -q 'Person Seven' "$R/contacts/c-7.vcf" || return 1
	rm "$R/contacts/c-9.vcf"
	rad_fill s alice contacts 1 added
	client "$U" sync "$U/alice/contacts/" "$tok" ||
		{ cat "$E2T_DIR/out"; return 1; }
	[ "$(changed | tr '\n' ' ')" = "/alice/contacts/added-0.vcf /alice/contacts/c-7.vcf " ] &&
		[ "$(grep '^deleted ' "$E2T_DIR/out")" = "deleted /alice/contacts/c-9.vcf" ] &&
		[ "$(token)" != "$tok" ]
}
e2t_check "sync-collection from the old token: exactly the change, the add, the 404" \
	t_sync_changes

t_sync_nochange() {
	local tok
	client "$U" sync "$U/alice/contacts/" || return 1
	tok=$(token)
	client "$U" sync "$U/alice/contacts/" "$tok" || return 1
	[ "$(grep -c '^changed \|^deleted ' "$E2T_DIR/out")" = 0 ] &&
		[ "$(token)" = "$tok" ]
}
e2t_check "sync-collection with the current token: nothing, the same token" \
	t_sync_nochange

t_bad_token() {
	# Radicale: 403 with <DAV:valid-sync-token/>, the token unparsed
	! client "$U" sync "$U/alice/contacts/" \
		"http://radicale.org/ns/sync/0000" &&
		has "$E2T_DIR/out" "^rc=eproto status=403 msg=sync-collection $U/alice/contacts/: status 403\$"
}
e2t_check "an invalid token: eproto, status 403 (valid-sync-token), URL named" \
	t_bad_token

t_multiget() {
	local h f n bad=0
	rm -f "$OUT"/*.vcf
	n=$(reports /alice/contacts/)
	# every stored item and one the server lacks: 151 hrefs, 2 batches
	client "$U" multiget card "$U/alice/contacts/" $(stored contacts) \
		/alice/contacts/nothing.vcf || { cat "$E2T_DIR/out"; return 1; }
	[ "$(grep -c '^item ' "$E2T_DIR/out")" = 150 ] &&
		[ "$(grep '^missing ' "$E2T_DIR/out")" = "missing /alice/contacts/nothing.vcf" ] &&
		has "$E2T_DIR/out" '^ignored=0$' &&
		{ [ "$(reports /alice/contacts/)" = $((n + 2)) ] ||
			{ echo "reports: $n then $(reports /alice/contacts/)"; false; }; } || return 1
	for h in $(stored contacts); do
		f=${h##*/}
		# dav_xml.c: a raw CR LF in the body arrives as LF
		if ! cmp -s <(tr -d '\r' <"$R/contacts/$f") "$OUT/$f"; then
			echo "differs: $f"
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}
e2t_check "multiget in batches: 150 items byte-identical (CR LF as LF), 1 missing" \
	t_multiget

t_multiget_cal() {
	rm -f "$OUT"/*.ics
	client "$U" multiget cal "$U/alice/cal/" /alice/cal/e-3.ics \
		/alice/cal/e-4.ics || { cat "$E2T_DIR/out"; return 1; }
	[ "$(grep -c '^item ' "$E2T_DIR/out")" = 2 ] &&
		cmp <(tr -d '\r' <"$R/cal/e-3.ics") "$OUT/e-3.ics"
}
e2t_check "calendar-multiget: the events byte-identical" t_multiget_cal

t_list() {
	local sync
	client "$U" sync "$U/alice/office/" || return 1
	sync=$(grep '^changed ' "$E2T_DIR/out" | sort)
	client "$U" list "$U/alice/office/" || return 1
	[ "$(changed)" = "$(stored office)" ] &&
		[ "$(grep '^changed ' "$E2T_DIR/out" | sort)" = "$sync" ]
}
e2t_check "Depth 1 listing: the items and etags sync-collection gives" t_list

t_big() {
	local n t0
	rad_mkcoll s alice big addressbook "Big"
	rad_fill s alice big 2000 b
	# Radicale parses every item it has not cached before it sends a
	# byte: the first sync of 2,000 items written behind its back can
	# pass the default 10 s idle limit on a loaded machine
	t0=$(date +%s%N)
	client --idle 120000 "$U" sync "$U/alice/big/" ||
		{ cat "$E2T_DIR/out"; return 1; }
	echo "first sync of 2000 uncached items: $((($(date +%s%N) - t0) / 1000000)) ms" >"$E2T_DIR/big.ms"
	[ "$(changed | wc -l)" = 2000 ] &&
		[ "$(changed)" = "$(stored big)" ] || return 1
	n=$(reports /alice/big/)
	client "$U" multiget card "$U/alice/big/" $(changed) ||
		{ cat "$E2T_DIR/out"; return 1; }
	[ "$(grep -c '^item ' "$E2T_DIR/out")" = 2000 ] &&
		[ "$(reports /alice/big/)" = $((n + 20)) ] &&
		cmp <(tr -d '\r' <"$R/big/b-1999.vcf") "$OUT/b-1999.vcf"
}
e2t_check "2,000 items written into the storage: sync lists all, multiget in 20" \
	t_big
sed 's/^/# /' "$E2T_DIR/big.ms" 2>/dev/null

V=$E2T_DIR/new.vcf
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:put-1\r\nFN:Put One\r\nEND:VCARD\r\n' >"$V"
t_put_create() {
	client "$U" put "$U/alice/office/put-1.vcf" "$V" || return 1
	has "$E2T_DIR/out" '^status=201 conflict=no etag="[0-9a-f]+" strong=yes$' &&
		grep -q '^FN:Put One' "$R/office/put-1.vcf" &&
		sed -n 's/.*etag=\([^ ]*\) .*/\1/p' "$E2T_DIR/out" >"$E2T_DIR/etag1"
}
e2t_check "PUT If-None-Match: * creates; strong ETag; the file in the storage" \
	t_put_create

t_put_create_again() {
	client "$U" put "$U/alice/office/put-1.vcf" "$V" &&
		has "$E2T_DIR/out" '^status=412 conflict=yes '
}
e2t_check "PUT If-None-Match: * on an existing item: 412, changed meanwhile" \
	t_put_create_again

t_put_update() {
	local old
	old=$(cat "$E2T_DIR/etag1")
	sed -i 's/Put One/Put Two/' "$V"
	client "$U" put "$U/alice/office/put-1.vcf" "$V" "$old" || return 1
	has "$E2T_DIR/out" '^status=20[14] conflict=no etag="[0-9a-f]+" strong=yes$' &&
		grep -q '^FN:Put Two' "$R/office/put-1.vcf" &&
		sed -n 's/.*etag=\([^ ]*\) .*/\1/p' "$E2T_DIR/out" >"$E2T_DIR/etag2"
}
e2t_check "PUT If-Match with the current etag updates the storage file" \
	t_put_update

t_put_stale() {
	local old before
	old=$(cat "$E2T_DIR/etag1")
	before=$(sha256sum <"$R/office/put-1.vcf")
	sed -i 's/Put Two/Put Three/' "$V"
	client "$U" put "$U/alice/office/put-1.vcf" "$V" "$old" || return 1
	has "$E2T_DIR/out" '^status=412 conflict=yes ' &&
		[ "$(sha256sum <"$R/office/put-1.vcf")" = "$before" ]
}
e2t_check "PUT If-Match with a stale etag: 412, the storage file unchanged" \
	t_put_stale

t_delete_stale() {
	client "$U" delete "$U/alice/office/put-1.vcf" "$(cat "$E2T_DIR/etag1")" ||
		return 1
	has "$E2T_DIR/out" '^status=412 conflict=yes ' &&
		[ -e "$R/office/put-1.vcf" ]
}
e2t_check "DELETE If-Match with a stale etag: 412, the file stays" \
	t_delete_stale

t_delete() {
	client "$U" delete "$U/alice/office/put-1.vcf" "$(cat "$E2T_DIR/etag2")" ||
		return 1
	has "$E2T_DIR/out" '^status=20[04] conflict=no ' &&
		[ ! -e "$R/office/put-1.vcf" ]
}
e2t_check "DELETE If-Match with the current etag: gone from the storage" \
	t_delete

t_get() {
	client "$U" get "$U/alice/office/w-1.vcf" || return 1
	has "$E2T_DIR/out" '^etag="[0-9a-f]+" len=[0-9]+$' &&
		cmp "$R/office/w-1.vcf" "$OUT/get"
}
e2t_check "GET of one item: the storage file's bytes" t_get

t_wrong_ca() {
	e2t_run "$CLIENT" --cafile "$E2T_CERT_DIR/selfsigned.crt" --user alice \
		"$U" discover card >"$E2T_DIR/out" 2>&1
	has "$E2T_DIR/out" "^rc=ecert .*msg=well-known $U/.well-known/carddav: "
}
e2t_check "HTTPS with the wrong CA: ecert, the step and URL named" t_wrong_ca

t_wrong_password() {
	E2T_DAV_SECRET=wrong e2t_run "$CLIENT" --cafile "$E2T_CA" --user alice \
		"$U" discover card >"$E2T_DIR/out" 2>&1
	has "$E2T_DIR/out" "^rc=eauth status=401 msg=principal $U/: " &&
		! grep -q "$SECRET\|wrong" "$E2T_DIR/out"
}
e2t_check "a wrong password: eauth at the principal step" t_wrong_password

t_http_refused() {
	e2t_run "$CLIENT" --user alice "$P" discover card \
		>"$E2T_DIR/out" 2>&1
	has "$E2T_DIR/out" '^rc=einsecure '
}
e2t_check "plain HTTP when the policy does not allow it: einsecure" \
	t_http_refused

t_http_basic_withheld() {
	# Radicale offers Basic only: withheld on HTTP without cleartext_ok
	e2t_run "$CLIENT" --allow-http --user alice "$P" discover card \
		>"$E2T_DIR/out" 2>&1
	has "$E2T_DIR/out" "^rc=einsecure .*msg=principal $P/: .*Basic over plain HTTP"
}
e2t_check "HTTP allowed, Basic not: credentials withheld, einsecure" \
	t_http_basic_withheld

t_http_ok() {
	rad_mkcoll p alice plainbook addressbook "Plain"
	e2t_run "$CLIENT" --allow-http --cleartext --user alice "$P" \
		discover card >"$E2T_DIR/out" 2>&1
	has "$E2T_DIR/out" "^coll $P/alice/plainbook/ name=Plain " &&
		has "$E2T_DIR/out" '^rc=ok$'
}
e2t_check "HTTP with Basic allowed by the policy: discovery works" t_http_ok

# ---- a canned server: what Radicale never does -----------------------------
K=$E2T_DIR/canned
mkdir -p "$K"
ms() { echo "<d:multistatus xmlns:d=\"DAV:\">$*</d:multistatus>"; }
item() {
	echo "<d:response><d:href>$1</d:href><d:propstat><d:prop><d:getetag>$2</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
}
gone() { echo "<d:response><d:href>$1</d:href><d:status>HTTP/1.1 $2</d:status></d:response>"; }
ms "$(item /p/coll/1.vcf '"a"')$(item /p/coll/2.vcf '"b"')$(gone /p/coll/ '507 Insufficient Storage')<d:sync-token>http://e2t.example/sync/1</d:sync-token>" >"$K/page1"
ms "$(item /p/coll/3.vcf '"c"')$(gone /p/coll/0.vcf '404 Not Found')<d:sync-token>http://e2t.example/sync/2</d:sync-token>" >"$K/page2"
CP=31240
cat >"$K/routes" <<ROUTES
REPORT /p/coll/ 207 $K/page1 Content-Type:application/xml
REPORT /p/coll/ 207 $K/page2 Content-Type:application/xml
PROPFIND /.well-known/carddav 301 - Location:https://$E2T_HOST_WRONG:$CP/
PROPFIND /.well-known/caldav 301 - Location:http://$E2T_HOST:$CP/
ROUTES
e2t_spawn "$E2T_DIR/log/canned.log" "$E2T_PY" "$E2T_SRCDIR/dav_canned.py" \
	--listen "$E2T_ADDR:$CP" --cert "$E2T_CERT_DIR/server.crt" \
	--key "$E2T_CERT_DIR/server.key" --routes "$K/routes" \
	--ready-file "$K/ready" --log "$K/requests"
timeout 10 bash -c "until [ -e '$K/ready' ]; do sleep 0.05; done" ||
	e2t_fatal "dav_canned.py did not start"
C=https://$E2T_HOST:$CP

canned() {
	e2t_run "$CLIENT" --cafile "$E2T_CA" "$@" >"$E2T_DIR/out" 2>&1
}

t_paging() {
	canned "$C" sync "$C/p/coll/" || { cat "$E2T_DIR/out"; return 1; }
	[ "$(changed | tr '\n' ' ')" = "/p/coll/1.vcf /p/coll/2.vcf " ] &&
		has "$E2T_DIR/out" '^token=http://e2t.example/sync/1 truncated=yes$' &&
		! grep -q '^deleted ' "$E2T_DIR/out" || return 1
	canned "$C" sync "$C/p/coll/" http://e2t.example/sync/1 ||
		{ cat "$E2T_DIR/out"; return 1; }
	[ "$(changed)" = "/p/coll/3.vcf" ] &&
		[ "$(grep '^deleted ' "$E2T_DIR/out")" = "deleted /p/coll/0.vcf" ] &&
		has "$E2T_DIR/out" '^token=http://e2t.example/sync/2 truncated=no$' &&
		has "$K/requests" '^REPORT /p/coll/ .*<d:sync-token></d:sync-token>' &&
		has "$K/requests" '^REPORT /p/coll/ .*<d:sync-token>http://e2t.example/sync/1</d:sync-token>'
}
e2t_check "sync-collection paging: 507 gives truncated=yes, the token pages on" \
	t_paging

t_redirect_other_host() {
	! canned "$C" discover card &&
		has "$E2T_DIR/out" "^rc=eproto .*msg=well-known $C/.well-known/carddav: redirect to \"https://$E2T_HOST_WRONG:$CP/\" refused" &&
		[ "$(grep -c '^PROPFIND' "$K/requests")" = 1 ]
}
e2t_check "a well-known redirect to another host: refused, not followed" \
	t_redirect_other_host

t_redirect_to_http() {
	! canned --allow-http "$C" discover cal &&
		has "$E2T_DIR/out" "^rc=eproto .*redirect to \"http://$E2T_HOST:$CP/\" refused" &&
		[ "$(grep -c '^PROPFIND' "$K/requests")" = 2 ]
}
e2t_check "a well-known redirect from https to http: refused" \
	t_redirect_to_http

e2t_finish
