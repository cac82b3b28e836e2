#!/bin/bash
# SPDX-License-Identifier: MIT
# http.sh -- transports/http.c against http_server.py over HTTPS and HTTP:
# the test CA, connection reuse, a wrong CA, a pin, TLS 1.1 refused, Basic
# only where the policy allows, redirects returned, a stall, the trace
. "$(dirname "$0")/lib.sh"
e2t_up

CLIENT=${E2_TOP_BUILDDIR:-$E2T_SRCDIR/../..}/tests/integration/http-client
[ -x "$CLIENT" ] || e2t_skip "missing $CLIENT"
C=$E2T_CERT_DIR
H=$E2T_HOST
A=$E2T_ADDR
SECRET=e2t-http-$$-Secret
export E2T_HTTP_SECRET=$SECRET
port=31000

# serve NAME [ARGS]: an http_server.py on the next port, state in $E2T_DIR/NAME
serve() {
	local name=$1 ready
	shift
	port=$((port + 1))
	mkdir -p "$E2T_DIR/$name"
	ready=$E2T_DIR/$name/ready
	e2t_spawn "$E2T_DIR/log/http-$name.log" "$E2T_PY" \
		"$E2T_SRCDIR/http_server.py" --listen "$A:$port" \
		--state "$E2T_DIR/$name" --ready-file "$ready" "$@"
	timeout 10 bash -c "until [ -e '$ready' ]; do sleep 0.05; done" ||
		e2t_fatal "http server $name did not start"
	eval "PORT_$name=$port"
}

fp() {
	openssl x509 -in "$1" -outform DER | sha256sum |
		awk '{print "SHA256:" toupper($1)}'
}

# client ARGS: runs the driver, stdout to $E2T_DIR/out, stderr to .../err
client() {
	e2t_run "$CLIENT" "$@" >"$E2T_DIR/out" 2>"$E2T_DIR/err"
	cat "$E2T_DIR/out"
	sed 's/^/# /' "$E2T_DIR/out" >>"$E2T_DIR/log/client.log"
}
# has FILE REGEX / hasnt FILE REGEX
has() { grep -Eq -- "$2" "$1" || { echo "no /$2/ in $1:"; cat "$1"; return 1; }; }
hasnt() { ! grep -Eq -- "$2" "$1" || { echo "/$2/ in $1:"; cat "$1"; return 1; }; }
requests() { wc -l <"$E2T_DIR/$1/requests"; }

serve tls --cert "$C/server.crt" --key "$C/server.key"
serve self --cert "$C/selfsigned.crt" --key "$C/selfsigned.key"
serve old --cert "$C/server.crt" --key "$C/server.key" --max-tls 1.1
serve plain
T=https://$H:$PORT_tls
S=https://$H:$PORT_self
P=http://$H:$PORT_plain

t_get_reuse() {
	client --cafile "$E2T_CA" GET "$T/hello" "$T/hello" "$T/nothing"
	has "$E2T_DIR/out" '^rc=ok status=200 reused=no etag="abc" .*dav=1, 2, addressbook type=text/plain length=12 body=12$' &&
		[ "$(grep -c 'reused=yes' "$E2T_DIR/out")" = 2 ] &&
		has "$E2T_DIR/out" '^rc=ok status=404 ' &&
		[ "$(cat "$E2T_DIR/tls/connections")" = 1 ] &&
		[ "$(requests tls)" = 3 ]
}
e2t_check "https GET with the test CA; 3 requests, 1 connection" t_get_reuse

t_wrong_ca() {
	local n
	n=$(requests tls)
	client --cafile "$C/selfsigned.crt" GET "$T/hello"
	has "$E2T_DIR/out" "^rc=ecert .*msg=certificate of $H: unable to get local issuer certificate" &&
		[ "$(requests tls)" = "$n" ]
}
e2t_check "wrong CA: ecert with the verify string, no request" t_wrong_ca

t_system_store() {
	local n
	n=$(requests tls)
	client GET "$T/hello"
	has "$E2T_DIR/out" '^rc=ecert ' && [ "$(requests tls)" = "$n" ]
}
e2t_check "system store does not know the test CA: ecert" t_system_store

t_wrong_name() {
	client --cafile "$E2T_CA" GET "https://$A:$PORT_self/hello"
	has "$E2T_DIR/out" '^rc=ecert ' && [ "$(requests self)" = 0 ]
}
e2t_check "self-signed without a pin: ecert, no request" t_wrong_name

t_pin_ok() {
	client --pin "$(fp "$C/selfsigned.crt")" GET "$S/hello" "$S/hello"
	has "$E2T_DIR/out" '^rc=ok status=200 reused=no' &&
		has "$E2T_DIR/out" '^rc=ok status=200 reused=yes' &&
		[ "$(requests self)" = 2 ] &&
		[ "$(cat "$E2T_DIR/self/connections")" = 1 ]
}
e2t_check "pinned self-signed certificate: accepted, connection reused" \
	t_pin_ok

t_pin_other() {
	local got want
	got=$(fp "$C/selfsigned.crt")
	want=$(fp "$C/server.crt")
	client --cafile "$E2T_CA" --pin "$want" --user alice GET "$S/basic"
	has "$E2T_DIR/out" "^rc=ecert .*certificate of $H changed: $got is not the pinned $want" &&
		[ "$(requests self)" = 2 ]
}
e2t_check "a pin of another certificate: ecert naming both, no request" \
	t_pin_other

t_pin_replaces_ca() {
	# the CA-signed certificate, pinned by another: refused though valid
	client --cafile "$E2T_CA" --pin "$(fp "$C/selfsigned.crt")" GET "$T/hello"
	has "$E2T_DIR/out" '^rc=ecert .*changed'
}
e2t_check "a pin replaces the chain check: a valid chain is not enough" \
	t_pin_replaces_ca

t_tls11() {
	# the server does speak TLS 1.1 (to a client that asks for it)
	openssl s_client -connect "$A:$PORT_old" -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' </dev/null >"$E2T_DIR/s_client" 2>&1
	has "$E2T_DIR/s_client" 'Protocol *: TLSv1.1' || return 1
	# and the system's OpenSSL policy would allow it: the refusal is ours
	printf '%s\n' 'openssl_conf = c' '[c]' 'ssl_conf = s' '[s]' \
		'system_default = d' '[d]' 'MinProtocol = TLSv1' \
		'CipherString = DEFAULT:@SECLEVEL=0' >"$E2T_DIR/lax.cnf"
	OPENSSL_CONF=$E2T_DIR/lax.cnf client --cafile "$E2T_CA" \
		GET "https://$H:$PORT_old/hello"
	has "$E2T_DIR/out" "^rc=etls .*msg=$H: TLS handshake failed" &&
		[ "$(requests old)" = 0 ]
}
e2t_check "TLS 1.1-only server: etls, no request" t_tls11

t_basic_https() {
	local n
	n=$(requests tls)
	client --cafile "$E2T_CA" --user alice GET "$T/basic"
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		tail -n +$((n + 1)) "$E2T_DIR/tls/requests" >"$E2T_DIR/new" &&
		has "$E2T_DIR/new" '^GET /basic .*auth=basic-ok$'
}
e2t_check "Basic over HTTPS: credentials sent and accepted" t_basic_https

t_basic_again() {
	local n
	n=$(requests tls)
	client --cafile "$E2T_CA" --user alice GET "$T/basic" "$T/basic" \
		"$T/basic"
	tail -n +$((n + 1)) "$E2T_DIR/tls/requests" >"$E2T_DIR/new"
	[ "$(grep -c 'reused=yes' "$E2T_DIR/out")" = 2 ] &&
		[ "$(grep -c 'auth=none' "$E2T_DIR/new")" = 1 ] &&
		[ "$(grep -c 'auth=basic-ok' "$E2T_DIR/new")" = 3 ]
}
e2t_check "Basic: one 401 round trip per session, then sent at once" \
	t_basic_again

t_basic_bad() {
	E2T_HTTP_SECRET=wrong client --cafile "$E2T_CA" --user alice GET "$T/basic"
	has "$E2T_DIR/out" "^rc=eauth status=401 msg=$H: credentials rejected"
}
e2t_check "Basic over HTTPS, wrong password: eauth" t_basic_bad

t_basic_http() {
	client --allow-http --user alice GET "$P/basic"
	has "$E2T_DIR/out" "^rc=einsecure status=401 msg=$H: credentials not sent" &&
		hasnt "$E2T_DIR/plain/requests" 'auth=(basic|other)'
}
e2t_check "Basic over HTTP, policy not allowing: no credentials sent" \
	t_basic_http

t_basic_http_ok() {
	client --allow-http --cleartext --user alice GET "$P/basic"
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		has "$E2T_DIR/plain/requests" 'auth=basic-ok'
}
e2t_check "Basic over HTTP when the policy allows cleartext: sent" \
	t_basic_http_ok

t_digest_http() {
	client --allow-http --user alice GET "$P/digest"
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		has "$E2T_DIR/plain/requests" '^GET /digest .*auth=digest-ok$' &&
		hasnt "$E2T_DIR/plain/requests" '^GET /digest .*auth=basic'
}
e2t_check "Digest over HTTP, cleartext not allowed: Digest sent" \
	t_digest_http

t_digest_preferred() {
	local n
	n=$(requests tls)
	client --cafile "$E2T_CA" --user alice GET "$T/both"
	tail -n +$((n + 1)) "$E2T_DIR/tls/requests" >"$E2T_DIR/new"
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		has "$E2T_DIR/new" '^GET /both .*auth=digest-ok$' &&
		hasnt "$E2T_DIR/new" 'auth=basic'
}
e2t_check "Digest and Basic offered over HTTPS: Digest chosen" \
	t_digest_preferred

t_digest_bad() {
	E2T_HTTP_SECRET=wrong client --cafile "$E2T_CA" --user alice GET "$T/digest"
	has "$E2T_DIR/out" "^rc=eauth status=401 "
}
e2t_check "Digest with a wrong password: eauth" t_digest_bad

t_http_refused() {
	local n
	n=$(requests plain)
	client GET "$P/hello"
	has "$E2T_DIR/out" '^rc=einsecure .*plain HTTP refused' &&
		[ "$(requests plain)" = "$n" ]
}
e2t_check "http:// without allow-http: einsecure, no request" t_http_refused

t_redirect() {
	local n
	n=$(requests tls)
	client --cafile "$E2T_CA" --user alice GET "$T/redirect"
	has "$E2T_DIR/out" '^rc=ok status=301 .*location=/hello ' &&
		[ "$(requests tls)" = $((n + 1)) ]
}
e2t_check "a redirect is returned, not followed" t_redirect

t_stall() {
	local t0 t1
	t0=$(date +%s)
	client --cafile "$E2T_CA" --idle 1000 --timeout 20000 GET "$T/stall"
	t1=$(date +%s)
	has "$E2T_DIR/out" "^rc=etimeout .*msg=$H: timed out" &&
		[ $((t1 - t0)) -lt 8 ]
}
e2t_check "a stalled server: etimeout after the idle time" t_stall

t_cap() {
	client --cafile "$E2T_CA" --cap 5 GET "$T/hello"
	has "$E2T_DIR/out" "^rc=eproto .*larger than 5 bytes"
}
e2t_check "a body over the caller's cap: eproto" t_cap

t_trace() {
	client --cafile "$E2T_CA" --user alice --trace GET "$T/basic" "$T/hello"
	local b64
	b64=$(printf 'alice:%s' "$SECRET" | base64)
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		has "$E2T_DIR/err" "^http: GET https://$H:$PORT_tls/basic\$" &&
		has "$E2T_DIR/err" '^http> Authorization: \[credentials redacted\]$' &&
		has "$E2T_DIR/err" '^http< HTTP/1.1 200' &&
		has "$E2T_DIR/err" '^http< ETag: "abc"' &&
		has "$E2T_DIR/err" 'bytes received\]' &&
		hasnt "$E2T_DIR/err" "$SECRET|$b64|Basic [A-Za-z0-9+/=]{8}"
}
e2t_check "the trace redacts Authorization and counts bodies" t_trace

t_body() {
	client --cafile "$E2T_CA" --header "Depth: 1" --data '<propfind/>' \
		PROPFIND "$T/hello"
	has "$E2T_DIR/out" '^rc=ok status=200 ' &&
		has "$E2T_DIR/tls/requests" '^PROPFIND /hello len=11 depth=1 auth=none$'
}
e2t_check "PROPFIND with a header and a body reaches the server" t_body

t_cancel() {
	local t0 t1
	t0=$(date +%s)
	client --cafile "$E2T_CA" --idle 20000 --cancel-after 500 \
		GET "$T/stall"
	t1=$(date +%s)
	has "$E2T_DIR/out" "^rc=etimeout .*msg=$H: cancelled" &&
		[ $((t1 - t0)) -lt 5 ]
}
e2t_check "the cancel flag ends a waiting request" t_cancel
sed 's/^/# /' "$E2T_DIR/err"

cat "$E2T_DIR/log/client.log"
e2t_finish
