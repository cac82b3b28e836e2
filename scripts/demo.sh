#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh -- the main job, from nothing: install what is missing, build
# email2, start a throwaway local Dovecot (its own CA, in a network
# namespace when run as root), provision the sample account from
# tests/data/provision/sample-account.xml, print it back with a Get, test the
# connection, sync its mail into a Maildir with email2-syncd, show what
# landed, and stop the Dovecot. With Radicale installed (install-deps puts
# it there) the account also gets contacts and calendars from a throwaway
# Radicale (tests/data/provision/sample-dav.xml), synced into vdir
# folders. Everything it makes lives in one
# temporary directory that is removed at the end (E2_DEMO_KEEP=1 keeps the
# store and prints where it is).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${E2_BUILD_DIR:-$TOP/_build/demo}
JOBS=$(nproc 2>/dev/null || echo 2)
step() { printf '\n==> %s\n' "$*"; }

step "installing missing packages"
"$TOP/scripts/install-deps.sh"

# A tree configured in place (the README's "Building by hand": ./configure
# in the source directory) cannot also be configured out of tree ("source
# directory already configured"), and make distclean would throw the
# user's build away: reuse that build instead, as it is configured.
if [ -f "$TOP/config.status" ] && [ -f "$TOP/Makefile" ]; then
	[ -z "${E2_BUILD_DIR:-}" ] || [ "$E2_BUILD_DIR" -ef "$TOP" ] ||
		echo "demo: $TOP is configured in place; E2_BUILD_DIR=$E2_BUILD_DIR is not used"
	BUILD=$TOP
	step "building email2 in place in $BUILD (configured by hand)"
	(cd "$BUILD" && make -j"$JOBS" >"$TOP/_demo-make.log" 2>&1) ||
		{ tail -n 30 "$TOP/_demo-make.log"; exit 1; }
	rm -f "$TOP/_demo-make.log"
else
	step "building email2 in $BUILD"
	(cd "$TOP" && ./autogen.sh >/dev/null 2>&1)
	mkdir -p "$BUILD"
	(cd "$BUILD" && "$TOP/configure" -q && make -j"$JOBS" >make.log 2>&1) ||
		{ tail -n 30 "$BUILD/make.log"; exit 1; }
fi
PROVISION=$BUILD/tools/email2-provision
CONNTEST=$BUILD/tools/email2-conntest
SYNCD=$BUILD/tools/email2-syncd

step "starting a throwaway Dovecot"
export E2_TOP_BUILDDIR=$BUILD
E2T_USER=testuser
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
e2t_up
for i in 1 2 3; do
	printf 'From: Demo Sender <demo@email2.test>\r\nTo: testuser@email2.test\r\nSubject: demo message %s\r\nDate: %s\r\nMessage-ID: <demo-%s@email2.test>\r\n\r\nHello from the email2 demo, message %s.\r\n' \
		"$i" "$(date -R)" "$i" "$i" >"$E2T_DIR/demo-$i.eml"
	e2t_deliver "$E2T_DIR/demo-$i.eml"
done
echo "dovecot up ($E2T_MODE mode), 3 messages in testuser's INBOX"

STORE=$E2T_DIR/store
DOC=$TOP/tests/data/provision/sample-account.xml
GUID='{C556E16F-56C4-4edb-9C64-D9469EE1FBE1}'
step "provisioning the sample account ($DOC)"
# The sample names mail.email2.test without a port (993/143, 587/465).
# Without a network namespace the harness listens on high ports: name them.
sed_args=(-e "s|@PASSWORD@|$(sed 's/[|&\\]/\\&/g' "$E2T_PASSFILE")|")
if [ "${E2T_DEFAULT_PORTS:-0}" != 1 ]; then
	sed_args+=(-e "s|<Data>mail.email2.test</Data>|<Data>mail.email2.test:PORT</Data>|")
fi
sed "${sed_args[@]}" "$DOC" |
	awk -v in_port="$E2T_IMAPS_PORT" -v out_port="$E2T_SUBMISSIONS_PORT" '
		/INSERVER/ { side = "in" } /OUTSERVER/ { side = "out" }
		/:PORT</ { sub(/:PORT/, ":" (side == "in" ? in_port : out_port)) }
		{ print }' >"$E2T_DIR/sample.xml"
"$PROVISION" --store "$STORE" "$E2T_DIR/sample.xml" >"$E2T_DIR/response.xml"
echo "provisioned: every command answered 200"

# Contacts and calendars: a throwaway Radicale with the same test CA, a
# few vCards, events and a task; the account names it in CONTACTSSERVER
# and CALENDARSERVER (a bare host on 443 in the namespace, else a URL).
DAV=0
# shellcheck source=../tests/integration/harness/radicale.sh
. "$TOP/tests/integration/harness/radicale.sh"
if rad_usable; then
	step "starting a throwaway Radicale (contacts and calendars)"
	if [ "${E2T_DEFAULT_PORTS:-0}" = 1 ]; then
		rport=443 dav_server=mail.email2.test
	else
		rport=$((E2T_IMAPS_PORT + 31))
		dav_server=https://mail.email2.test:$rport/
	fi
	rad_add_user "$E2T_USER" "$(cat "$E2T_PASSFILE")"
	rad_start demo "$rport" tls
	rad_mkcoll demo "$E2T_USER" contacts addressbook "Demo contacts"
	rad_mkcoll demo "$E2T_USER" calendar calendar "Demo calendar"
	rad_fill demo "$E2T_USER" contacts 3 demo
	rad_fill demo "$E2T_USER" calendar 2 demo
	sed -e "s|@CONTACTS@|$dav_server|" -e "s|@CALENDARS@|$dav_server|" \
		"$TOP/tests/data/provision/sample-dav.xml" >"$E2T_DIR/sample-dav.xml"
	"$PROVISION" --store "$STORE" "$E2T_DIR/sample-dav.xml" >/dev/null
	echo "radicale up: 3 contacts, 2 events; CONTACTSSERVER and CALENDARSERVER are $dav_server"
	DAV=1
else
	echo "radicale is not installed ($RAD_WHY): mail only"
fi

step "reading it back with a Get (tests/data/provision/get-account.xml)"
"$PROVISION" --store "$STORE" "$TOP/tests/data/provision/get-account.xml"

step "testing the connection (email2-conntest)"
e2t_run "$CONNTEST" --store "$STORE" --cafile "$E2T_CA" "$GUID"

step "syncing the account (email2-syncd --once)"
e2t_run "$SYNCD" --store "$STORE" --cafile "$E2T_CA" --once

# The store keeps a GUID in its canonical spelling: hex digits upper case.
MAILDIR=$STORE/mail/$(printf '%s' "$GUID" | tr a-f A-F)
step "what landed in the Maildir ($MAILDIR)"
find "$MAILDIR" -type f -path '*/new/*' -o -type f -path '*/cur/*' |
	sort | while read -r f; do
		printf '%s\n    %s\n' "${f#"$MAILDIR"/}" \
			"$(grep -m1 '^Subject:' "$f" | tr -d '\r')"
	done
n=$(find "$MAILDIR" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | wc -l)
[ "$n" -eq 3 ] || { echo "expected 3 messages in the Maildir, found $n"; exit 1; }

if [ "$DAV" = 1 ]; then
	for area in contacts calendars; do
		dir=$STORE/$area/$(printf '%s' "$GUID" | tr a-f A-F)
		step "what landed in the vdir folders ($dir)"
		(cd "$dir" && find . -type f \( -name '*.vcf' -o -name '*.ics' \) | sort)
	done
	n=$(find "$STORE/contacts" "$STORE/calendars" -type f \( -name '*.vcf' -o -name '*.ics' \) | wc -l)
	[ "$n" -eq 5 ] || { echo "expected 3 contacts and 2 events, found $n items"; exit 1; }
fi

if [ -n "${E2_DEMO_KEEP:-}" ]; then
	keep=$BUILD/demo-store
	[ "$BUILD" != "$TOP" ] || keep=$TOP/_build/demo-store # git ignores it
	mkdir -p "$(dirname "$keep")"
	cp -a "$STORE" "$keep"
	echo "store kept in $keep"
fi
step "done: stopping the Dovecot"
