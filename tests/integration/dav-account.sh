#!/bin/bash
# SPDX-License-Identifier: MIT
# dav-account.sh -- issue 10: from an account to a DAV session, through
# email2-conntest --contacts/--calendars against a real Radicale
# (harness/radicale.sh) in the namespace: every *REQUIRESSL rule (https
# ok; an http URL refused before any connection; https failing at the
# handshake on a plain port, then http, reported as cleartext; a wrong
# certificate: ecert and no request at all; TAGPROPS/8128000B: no
# credential reaches a plain server), host:port and URL forms, SRV+TXT
# discovery through dnsmasq, well-known on the REPLYADDR domain,
# not-found, text and --json, and --pin of Radicale's certificate. The
# server side is read from Radicale's own log.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/radicale.sh"
PROVISION=$(e2t_find_tool email2-provision) ||
	e2t_skip "email2-provision not built"
e2t_up
rad_usable || e2t_skip "$RAD_WHY"
[ -n "$E2T_CONNTEST" ] || e2t_skip "email2-conntest not built"

STORE=$E2T_DIR/store
GUID='{DA7ACC00-0000-4000-8000-000000000010}'
U=$E2T_USER
rad_add_user "$U" "$E2T_PASS"
rad_start s 31242 tls
rad_start p 31243 plain
rad_mkcoll s "$U" contacts addressbook "My Contacts"
rad_mkcoll s "$U" cal calendar "Calendar" "#FF2968FF"
rad_fill s "$U" contacts 3 c
rad_mkcoll p "$U" contacts addressbook "Plain Contacts"
HS=$E2T_HOST:31242
HP=$E2T_HOST:31243
LOG_S=$E2T_DIR/log/radicale-s.log
LOG_P=$E2T_DIR/log/radicale-p.log

# provision [NODE=VALUE]...: the one account, replaced each time; mail on
# Dovecot with TLS, contacts and calendars (0x7) unless given
provision() {
	local kv extra= types=0x7 reply=$U@email2.test in=$E2T_HOST:$E2T_IMAPS_PORT
	for kv in "$@"; do
		case $kv in
		SYNCINGCONTENTTYPES=*) types=${kv#*=} ;;
		REPLYADDR=*) reply=${kv#*=} ;;
		INSERVER=*) in=${kv#*=} ;;
		TAGPROPS/*) extra+="      <characteristic type=\"TAGPROPS\"><parm name=\"${kv%%=*}\" value=\"${kv#*=}\"/></characteristic>"$'\n'
			extra=${extra//name=\"TAGPROPS\//name=\"} ;;
		*) extra+="      <parm name=\"${kv%%=*}\" value=\"${kv#*=}\"/>"$'\n' ;;
		esac
	done
	rm -rf "$STORE"
	cat >"$E2T_DIR/acct.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<wap-provisioningdoc>
  <characteristic type="EMAIL2">
    <characteristic type="$GUID">
      <parm name="ACCOUNTTYPE" value="Email"/>
      <parm name="AUTHNAME" value="$U"/>
      <parm name="AUTHSECRET" value="$E2T_PASS"/>
      <parm name="AUTHREQUIRED" value="1"/>
      <parm name="INSERVER" value="$in"/>
      <parm name="OUTSERVER" value="$E2T_HOST:$E2T_SUBMISSIONS_PORT"/>
      <parm name="REPLYADDR" value="$reply"/>
      <parm name="SERVICENAME" value="dav account test"/>
      <parm name="SERVICETYPE" value="IMAP4"/>
      <parm name="SYNCINGCONTENTTYPES" value="$types"/>
$extra    </characteristic>
  </characteristic>
</wap-provisioningdoc>
XML
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >"$E2T_DIR/prov.out"
}

# ct ARGS...: email2-conntest on the account; $CT_RC, output in ct.out/.err;
# the password must appear in neither
ct() {
	CT_RC=0
	e2t_run "$E2T_CONNTEST" --store "$STORE" --cafile "${CT_CA:-$E2T_CA}" \
		--timeout 5 "$@" "$GUID" >"$E2T_DIR/ct.out" \
		2>"$E2T_DIR/ct.err" || CT_RC=$?
	if grep -q -F -- "$E2T_PASS" "$E2T_DIR/ct.out" "$E2T_DIR/ct.err"; then
		echo "the password appears in the output"
		return 1
	fi
}
rc_is() { [ "$CT_RC" = "$1" ] || { echo "exit $CT_RC, want $1"; cat "$E2T_DIR/ct.out" "$E2T_DIR/ct.err"; return 1; }; }
# j EXPR, has FILE RE: the failing assertion is said last (e2t_check
# shows the tail)
j() {
	e2t_json "$E2T_DIR/ct.out" "$1" >"$E2T_DIR/j.out" ||
		{ head -c 2000 "$E2T_DIR/j.out"; echo "assertion: $1"; return 1; }
}
has() { grep -Eq -- "$2" "$1" || { head -60 "$1"; echo "no /$2/ in $1"; return 1; }; }
# mark NAME: remember where Radicale NAME's log ends; since NAME: what
# it logged after the mark
mark() { eval "MARK_$1=\$(wc -l <\"\$E2T_DIR/log/radicale-$1.log\")"; }
since() {
	local m
	eval "m=\$MARK_$1"
	tail -n +"$((m + 1))" "$E2T_DIR/log/radicale-$1.log"
}
# requests NAME: HTTP requests Radicale NAME handled since the mark
requests() { since "$1" | grep -c " request for " || true; }
logins() { since "$1" | grep -c "Successful login" || true; }

t_requiressl_https_ok() {
	provision CONTACTSSERVER="$HS" CONTACTSSERVERREQUIRESSL=1 \
		CALENDARSERVER="https://$HS/$U/" CALENDARSERVERREQUIRESSL=1
	mark s
	ct --json --contacts --calendars && rc_is 0 &&
		j 'd["in"] is None and d["contacts"]["state"] == "ok" and d["contacts"]["tls_required"]' &&
		j '[a["url"] for a in d["contacts"]["attempts"]] == ["https://'"$HS"'/"]' &&
		j 'd["contacts"]["attempts"][0]["tls"] and d["contacts"]["attempts"][0]["cert_verified"] and d["contacts"]["attempts"][0]["login"] == "ok"' &&
		j 'd["contacts"]["found_by"] == "CONTACTSSERVER" and not d["contacts"]["cleartext"]' &&
		j '[c["href"] for c in d["contacts"]["collections"]] == ["/'"$U"'/contacts/"] and d["contacts"]["collections"][0]["sync_collection"]' &&
		j 'd["calendars"]["state"] == "ok" and d["calendars"]["context"] == "https://'"$HS/$U"'/"' &&
		j 'd["calendars"]["collections"][0]["components"] == ["VEVENT", "VTODO"] and d["calendars"]["dav_confirmed"]' &&
		[ "$(logins s)" -ge 2 ] &&
		[ "$(requests s)" -ge 4 ] # the patterns below do match
}
e2t_check "REQUIRESSL 1, host:port and an https URL: https only, collections found" \
	t_requiressl_https_ok

t_requiressl_http_url_refused() {
	provision CONTACTSSERVER="http://$HP/" CONTACTSSERVERREQUIRESSL=1
	mark p
	ct --json --contacts && rc_is 1 &&
		j 'd["contacts"]["state"] == "failed" and d["contacts"]["status"] == "einval" and d["contacts"]["attempts"] == []' &&
		j '"CONTACTSSERVERREQUIRESSL is 1" in d["contacts"]["error"] and d["contacts"]["error"].startswith("CONTACTSSERVER ")' &&
		[ "$(requests p)" = 0 ]
}
e2t_check "REQUIRESSL 1 with an http:// URL: refused before any connection, both nodes named" \
	t_requiressl_http_url_refused

t_fallback_cleartext() {
	provision CONTACTSSERVER="$HP" SYNCINGCONTENTTYPES=0x3
	mark p
	ct --json && rc_is 0 &&
		j 'd["in"]["ok"] and d["calendars"] is None and d["contacts"]["ok"]' &&
		j '[(a["url"], a["status"]) for a in d["contacts"]["attempts"]] == [("https://'"$HP"'/", "etls"), ("http://'"$HP"'/", "ok")]' &&
		j 'd["contacts"]["cleartext"] and d["contacts"]["attempts"][1]["cleartext_login"] and not d["contacts"]["attempts"][1]["https"]' &&
		[ "$(logins p)" -ge 1 ] &&
		ct && rc_is 0 &&
		has "$E2T_DIR/ct.out" '^contacts: carddav, found by CONTACTSSERVER, TLS optional$' &&
		has "$E2T_DIR/ct.out" "^  1\\. https://$HP/ failed: etls: " &&
		has "$E2T_DIR/ct.out" "^  2\\. http://$HP/ ok " &&
		has "$E2T_DIR/ct.out" '^       login: ok, CLEARTEXT: credentials were sent without TLS$' &&
		has "$E2T_DIR/ct.out" '^verdict: ok \(DAV login in cleartext: CONTACTSSERVERREQUIRESSL not set\)$'
}
e2t_check "REQUIRESSL 0, plain HTTP port: https fails at the handshake, http, cleartext reported" \
	t_fallback_cleartext

t_wrong_cert_no_fallback() {
	provision CONTACTSSERVER="$HS"
	mark s
	CT_CA=$E2T_CERT_DIR/selfsigned.crt ct --json --contacts && rc_is 1 &&
		j 'd["contacts"]["state"] == "failed" and d["contacts"]["status"] == "ecert"' &&
		j 'len(d["contacts"]["attempts"]) == 1 and d["contacts"]["attempts"][0]["url"] == "https://'"$HS"'/"' &&
		j 'd["contacts"]["attempts"][0]["cert_sha256"].startswith("SHA256:") and not d["contacts"]["attempts"][0]["cert_verified"]' &&
		j '"http://'"$HS"'/ not tried: https failed with ecert" in d["contacts"]["note"]' &&
		[ "$(requests s)" = 0 ]
}
e2t_check "a certificate that does not verify: ecert, no http rung, no request reaches the server" \
	t_wrong_cert_no_fallback

t_tagprops_no_creds_over_http() {
	provision CONTACTSSERVER="$HP" TAGPROPS/8128000B=1 \
		INSERVER="$E2T_HOST:$E2T_IMAPS_PORT"
	mark p
	ct --json --contacts && rc_is 1 &&
		j 'd["contacts"]["tls_required"] and [a["url"] for a in d["contacts"]["attempts"]] == ["https://'"$HP"'/"]' &&
		j '"TAGPROPS/8128000B requires TLS for the same credentials" in d["contacts"]["note"]' &&
		[ "$(requests p)" = 0 ] && [ "$(logins p)" = 0 ] &&
		! since p | grep -qi "authorization\|$U"
}
e2t_check "TAGPROPS/8128000B 1 and only plain HTTP: no credential ever reaches the server" \
	t_tagprops_no_creds_over_http

t_pin_radicale() {
	local fp
	fp=$(openssl x509 -in "$E2T_CERT_DIR/server.crt" -noout -fingerprint \
		-sha256 | sed 's/^.*=//')
	provision CONTACTSSERVER="$HS" CONTACTSSERVERREQUIRESSL=1 \
		SYNCINGCONTENTTYPES=0x3
	CT_CA=$E2T_CERT_DIR/selfsigned.crt ct --contacts --pin "$fp" &&
		rc_is 0 &&
		has "$E2T_DIR/ct.out" "^pinned SHA256:[0-9A-F]{64} for $E2T_HOST \\(account" &&
		has "$E2T_DIR/ct.out" '\(pinned for this account and host\)' &&
		has "$E2T_DIR/ct.out" '^  result: ok' &&
		CT_CA=$E2T_CERT_DIR/selfsigned.crt ct --json --contacts && rc_is 0 &&
		j 'd["contacts"]["attempts"][0]["cert_pinned"] and d["contacts"]["ok"]'
}
e2t_check "--pin of the Radicale certificate: pinned for the DAV host, then trusted" \
	t_pin_radicale

# the pin of the previous check replaced behind its back: another
# certificate is pinned now, Radicale's is refused before any request,
# and the tool says how to re-pin
t_pin_changed() {
	local other
	other=$(openssl x509 -in "$E2T_CERT_DIR/selfsigned.crt" -noout \
		-fingerprint -sha256 | sed 's/^.*=//; s/://g; s/^/SHA256:/')
	"$E2T_PY" - "$STORE/accounts.db" "$other" <<'PY' || return 1
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE tls_pins SET sha256 = ?", (sys.argv[2],)).rowcount
db.commit()
sys.exit(0 if n == 1 else 1)
PY
	mark s
	ct --json --contacts && rc_is 1 &&
		j 'd["contacts"]["status"] == "ecert" and "changed" in d["contacts"]["error"]' &&
		j 'not d["contacts"]["attempts"][0]["cert_pinned"] and d["contacts"]["attempts"][0]["cert_sha256"] != "'"$other"'"' &&
		has "$E2T_DIR/ct.err" "presented SHA256:[0-9A-F]{64}, not the pinned $other; once you have checked it: email2-conntest --pin" &&
		[ "$(requests s)" = 0 ]
}
e2t_check "a DAV pin that no longer matches: ecert, no request, the re-pin hint" \
	t_pin_changed

t_text_both_types() {
	provision CONTACTSSERVER="https://$HS/$U/" CALENDARSERVER="$HS"
	ct --contacts --calendars && rc_is 0 &&
		has "$E2T_DIR/ct.out" '^contacts: carddav, found by CONTACTSSERVER, TLS optional$' &&
		has "$E2T_DIR/ct.out" '^calendars: caldav, found by CALENDARSERVER, TLS optional$' &&
		has "$E2T_DIR/ct.out" "^  home set: https://$HS/$U/ \\(DAV header confirms it\\)$" &&
		has "$E2T_DIR/ct.out" "^    /$U/contacts/ \"My Contacts\", sync-collection: yes$" &&
		has "$E2T_DIR/ct.out" "^    /$U/cal/ \"Calendar\" \\(VEVENT VTODO\\), sync-collection: yes$" &&
		has "$E2T_DIR/ct.out" '^         fingerprint: SHA256:[0-9A-F]{64}$' &&
		has "$E2T_DIR/ct.out" '^       certificate: O = email2 tests, CN = mail.email2.test$' &&
		has "$E2T_DIR/ct.out" '^verdict: ok$' &&
		has "$E2T_DIR/ct.out" '^incoming: not tested$'
}
e2t_check "text report of contacts and calendars: steps, collections, certificate" \
	t_text_both_types

# ---- discovery: dnsmasq in the namespace, the client's resolv.conf -------
DNS_OK=
if command -v dnsmasq >/dev/null && [ "$E2T_RUN_HOW" != none ] &&
	[ "$E2T_MODE" = netns ]; then
	cat >"$E2T_DIR/etc/dnsmasq.conf" <<CONF
port=53
listen-address=$E2T_ADDR
bind-interfaces
no-resolv
no-hosts
no-daemon
user=root
local=/email2.test/
srv-host=_carddavs._tcp.srv.email2.test,$E2T_HOST,31242,0,0
txt-record=_carddavs._tcp.srv.email2.test,"path=/$U/"
srv-host=_caldavs._tcp.srv.email2.test,$E2T_HOST,31242,0,0
srv-host=_carddav._tcp.srv.email2.test,$E2T_HOST,31243,0,0
srv-host=_carddavs._tcp.none.email2.test,.
CONF
	e2t_spawn "$E2T_DIR/log/dnsmasq.log" dnsmasq \
		--conf-file="$E2T_DIR/etc/dnsmasq.conf" --log-queries
	printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$E2T_ADDR" \
		>"$E2T_DIR/etc/resolv.conf"
	chmod 644 "$E2T_DIR/etc/resolv.conf"
	export E2T_RESOLV=$E2T_DIR/etc/resolv.conf
	sleep 0.5
	DNS_OK=1
fi

t_srv_txt() {
	provision REPLYADDR="$U@srv.email2.test" CONTACTSSERVERREQUIRESSL=1
	ct --json --contacts --calendars && rc_is 0 &&
		j 'd["contacts"]["found_by"] == "SRV _carddavs._tcp.srv.email2.test"' &&
		j '[a["url"] for a in d["contacts"]["attempts"]] == ["https://'"$HS/$U"'/"]' &&
		j 'd["contacts"]["context"] == "https://'"$HS/$U"'/"' &&
		j 'd["calendars"]["found_by"] == "SRV _caldavs._tcp.srv.email2.test" and d["calendars"]["attempts"][0]["url"] == "https://'"$HS"'/"' &&
		grep -q "_carddavs._tcp.srv.email2.test" "$E2T_DIR/log/dnsmasq.log"
}
t_well_known() {
	rad_start w 443 tls
	rad_mkcoll w "$U" book addressbook "Well Known"
	provision REPLYADDR="$U@$E2T_HOST" CONTACTSSERVERREQUIRESSL=1 \
		SYNCINGCONTENTTYPES=0x1
	ct --json && rc_is 0 &&
		j 'd["in"]["ok"] and d["contacts"]["found_by"] == "well-known '"$E2T_HOST"'"' &&
		j 'd["contacts"]["attempts"][0]["url"] == "https://'"$E2T_HOST"'/"' &&
		j '[c["displayname"] for c in d["contacts"]["collections"]] == ["Well Known"]'
	local rc=$?
	rad_stop w
	return $rc
}
t_not_found() {
	provision REPLYADDR="$U@none.email2.test" \
		INSERVER="$E2T_HOST_EXPIRED:$E2T_IMAPS_PORT"
	ct --json --contacts && rc_is 0 &&
		j 'd["ok"] and d["contacts"]["state"] == "not-found" and not d["contacts"]["ok"]' &&
		j '[a["url"] for a in d["contacts"]["attempts"]] == ["https://'"$E2T_HOST_EXPIRED"'/"]' &&
		ct --contacts && rc_is 0 &&
		has "$E2T_DIR/ct.out" '^  result: not-found: '
}
if [ -n "$DNS_OK" ]; then
	e2t_check "SRV _carddavs with TXT path= and _caldavs: found and used" t_srv_txt
	e2t_check "well-known on the REPLYADDR domain (no SRV)" t_well_known
	e2t_check "SRV target \".\", nothing on INSERVER: not-found, verdict ok" \
		t_not_found
else
	e2t_check_skip "discovery" "needs dnsmasq, root and a network namespace"
fi

e2t_finish
