# SPDX-License-Identifier: MIT
# harness/radicale.sh -- a private Radicale (Debian package radicale, 3.1.x)
# for the CardDAV/CalDAV tests (sourced after lib.sh, after e2t_up). It
# runs where the test servers run (the network namespace), its storage,
# config, htpasswd file and log under $E2T_DIR/radicale-NAME.
#
#   rad_usable                 0 when radicale is installed; else RAD_WHY
#   rad_add_user NAME PASS     an htpasswd user (apr1 MD5 through
#                              passlib, which Radicale itself depends on;
#                              bcrypt needs python3-bcrypt, not installed)
#   rad_start NAME PORT tls|plain
#                              Radicale on $E2T_ADDR:PORT, HTTPS with the
#                              test CA's server certificate or plain HTTP,
#                              owner_only rights, no web UI; waits for the
#                              port; RAD_PID_NAME and RAD_ROOT_NAME set
#                              (the storage's collection-root)
#   rad_stop NAME              stops it (e2t_down stops it anyway)
#   rad_mkcoll NAME USER COLL addressbook|calendar [DISPLAYNAME] [COLOR]
#                              a collection written into the storage
#   rad_fill NAME USER COLL N [PREFIX]
#                              N items written straight into the storage
#                              (vCards in an addressbook, VEVENTs in a
#                              calendar), named PREFIX-i.vcf / .ics
#   rad_item_path NAME USER COLL ITEM
#
# Radicale quirks the tests live with: its built-in server speaks HTTP/1.0
# and closes every connection; a PUT of a new item scans the whole
# collection (N PUTs are quadratic), so big collections are written
# straight into the storage (Radicale re-reads files written behind its
# back: its item cache is checked against a hash of the file's bytes, and
# the sync-token is a hash of the item names and etags); the well-known
# URLs answer 301 to "/" before any login.

RAD_WHY=

rad_usable() {
	if ! command -v radicale >/dev/null; then
		RAD_WHY="missing radicale (Debian package radicale)"
		return 1
	fi
	return 0
}

rad_add_user() {
	local f=$E2T_DIR/radicale-users
	printf '%s:%s\n' "$1" "$(openssl passwd -apr1 "$2")" >>"$f"
	chmod 644 "$f"
}

rad_start() {
	local name=$1 port=$2 mode=$3 dir=$E2T_DIR/radicale-$1 ssl=False
	mkdir -p "$dir/storage/collection-root"
	touch "$E2T_DIR/radicale-users"
	[ "$mode" = tls ] && ssl=True
	cat >"$dir/config" <<CONF
[server]
hosts = $E2T_ADDR:$port
ssl = $ssl
certificate = $E2T_CERT_DIR/server.crt
key = $E2T_CERT_DIR/server.key
max_connections = 8
timeout = 30

[encoding]
request = utf-8
stock = utf-8

[auth]
type = htpasswd
htpasswd_filename = $E2T_DIR/radicale-users
htpasswd_encryption = md5
delay = 0

[rights]
type = owner_only

[storage]
type = multifilesystem
filesystem_folder = $dir/storage

[web]
type = none

[logging]
level = info
mask_passwords = True
CONF
	chmod -R a+rwX "$dir"
	e2t_spawn "$E2T_DIR/log/radicale-$name.log" radicale \
		--config "$dir/config"
	eval "RAD_PID_$name=$E2T_SPAWN_PID"
	eval "RAD_ROOT_$name=\$dir/storage/collection-root"
	e2t_wait_port "$E2T_ADDR" "$port" ||
		{ cat "$E2T_DIR/log/radicale-$name.log" >&2; e2t_fatal "radicale $name did not start"; }
}

rad_stop() {
	local pid
	eval "pid=\${RAD_PID_$1:-}"
	e2t_stop_pid "$pid"
}

rad_item_path() {
	local root
	eval "root=\$RAD_ROOT_$1"
	echo "$root/$2/$3/$4"
}

rad_mkcoll() {
	local name=$1 user=$2 coll=$3 kind=$4 dn=${5:-} color=${6:-} root d
	eval "root=\$RAD_ROOT_$name"
	d=$root/$user/$coll
	mkdir -p "$d"
	if [ "$kind" = addressbook ]; then
		printf '{"tag": "VADDRESSBOOK"%s}' \
			"${dn:+, \"D:displayname\": \"$dn\"}" >"$d/.Radicale.props"
	else
		printf '{"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT,VTODO"%s%s}' \
			"${dn:+, \"D:displayname\": \"$dn\"}" \
			"${color:+, \"ICAL:calendar-color\": \"$color\"}" \
			>"$d/.Radicale.props"
	fi
	chmod -R a+rwX "$root"
}

# rad_fill NAME USER COLL N [PREFIX]: one file per item, CR LF line ends as
# Radicale writes them; the UID is the file name without its extension.
# Radicale serves an item re-serialized by vobject, not the file's bytes:
# properties in vobject's order (VERSION, PRODID, UID, in an event then
# DTSTART, DURATION, DTEND, the rest alphabetical), so the files are
# written in that order and GET or multiget gives them back byte for byte.
rad_fill() {
	local name=$1 user=$2 coll=$3 n=$4 prefix=${5:-item} root
	eval "root=\$RAD_ROOT_$name"
	"$E2T_PY" - "$root/$user/$coll" "$n" "$prefix" <<'PY'
import json, os, sys
d, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(os.path.join(d, ".Radicale.props")) as f:
    tag = json.load(f).get("tag")
for i in range(n):
    uid = "%s-%d" % (prefix, i)
    if tag == "VADDRESSBOOK":
        body = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\n"
                "EMAIL:p%d@example.org\r\nFN:Person %d\r\n"
                "N:%d;Person;;;\r\nEND:VCARD\r\n" % (uid, i, i, i))
        ext = ".vcf"
    else:
        body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//email2 test//EN\r\n"
                "BEGIN:VEVENT\r\nUID:%s\r\n"
                "DTSTART:20260102T%02d0000Z\r\nDURATION:PT1H\r\n"
                "DTSTAMP:20260101T000000Z\r\n"
                "SUMMARY:Event %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
                % (uid, i % 24, i))
        ext = ".ics"
    with open(os.path.join(d, uid + ext), "w", newline="") as f:
        f.write(body)
PY
	chmod -R a+rwX "$root"
}
