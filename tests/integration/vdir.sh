#!/bin/bash
# SPDX-License-Identifier: MIT
# vdir.sh -- khal and khard read what engine/vdir.c writes (no server): 3
# vCards and 3 events written by vdir-tool, listed by khard and khal with
# configs in the test's HOME; then an editor-like rewrite (new file renamed
# over) is seen by the scan's identity, and a write with the old identity
# is refused while the user's version stays.
. "$(dirname "$0")/lib.sh"

TOOL=${E2_TOP_BUILDDIR:-$E2T_SRCDIR/../..}/tests/integration/vdir-tool
[ -x "$TOOL" ] || e2t_skip "missing $TOOL"
e2t_require khal khard
E2T_DIR=$(mktemp -d /tmp/e2t-vdir.XXXXXX)
export HOME=$E2T_DIR/home XDG_CONFIG_HOME=$E2T_DIR/home/.config \
	XDG_DATA_HOME=$E2T_DIR/home/.local/share TZ=UTC LC_ALL=C.UTF-8
mkdir -p "$HOME" "$XDG_DATA_HOME"
STORE=$E2T_DIR/store
GUID='{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}'

BOOK=$("$TOOL" dir "$STORE" contacts "$GUID" /dav/alice/addressbook/)
CAL=$("$TOOL" dir "$STORE" calendars "$GUID" /dav/alice/Work%20Calendar/)

card() { # uid name
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s Tester\r\n' "$1" "$2"
	printf 'N:Tester;%s;;;\r\nEMAIL:%s@example.com\r\nEND:VCARD\r\n' "$2" "$2"
}
event() { # uid day summary
	printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2t//EN\r\n'
	printf 'BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20300101T000000Z\r\n' "$1"
	printf 'DTSTART:203001%02dT100000Z\r\nDTEND:203001%02dT110000Z\r\n' \
		"$2" "$2"
	printf 'SUMMARY:%s\r\nBEGIN:VALARM\r\nUID:alarm-%s\r\nACTION:DISPLAY\r\n' \
		"$3" "$1"
	printf 'TRIGGER:-PT5M\r\nDESCRIPTION:x\r\nEND:VALARM\r\nEND:VEVENT\r\n'
	printf 'END:VCALENDAR\r\n'
}

put_all() {
	card alice-1 Alice | "$TOOL" put "$BOOK" vcf &&
		card bob-2 Bob | "$TOOL" put "$BOOK" vcf &&
		card 'urn:uuid:c4r0l' Carol | "$TOOL" put "$BOOK" vcf &&
		event ev-1@example.com 7 'Standup meeting' | "$TOOL" put "$CAL" ics &&
		event 'ev 2' 8 'Review session' | "$TOOL" put "$CAL" ics &&
		event ev-3 9 'Planning day' | "$TOOL" put "$CAL" ics &&
		"$TOOL" meta "$CAL" displayname 'Work' &&
		"$TOOL" meta "$CAL" color '#3366ff'
}
e2t_check "vdir-tool writes 3 vCards, 3 events and metadata" put_all

check_layout() {
	ls -la "$BOOK" "$CAL"
	[ "$BOOK" = "$STORE/contacts/$GUID/addressbook" ] || return 1
	case $CAL in "$STORE/calendars/$GUID/href-"*) ;; *) return 1 ;; esac
	[ -f "$BOOK/alice-1.vcf" ] && [ -f "$BOOK/bob-2.vcf" ] &&
		[ -f "$CAL/ev-1@example.com.ics" ] && [ -f "$CAL/ev-3.ics" ] &&
		[ "$(ls "$BOOK"/sha256-*.vcf | wc -l)" = 1 ] &&
		[ "$(ls "$CAL"/sha256-*.ics | wc -l)" = 1 ] &&
		[ "$(stat -c %a "$BOOK/alice-1.vcf")" = 600 ] &&
		[ "$(stat -c %a "$BOOK")" = 700 ] &&
		[ "$(cat "$CAL/color")" = '#3366ff' ] &&
		[ -z "$(find "$STORE" -name '*.tmp')" ]
}
e2t_check "layout: names from UIDs, hashes, modes, no temporaries" check_layout

mkdir -p "$HOME/.config/khard" "$HOME/.config/khal"
cat >"$HOME/.config/khard/khard.conf" <<EOF
[addressbooks]
[[email2]]
path = $BOOK

[general]
debug = no
default_action = list
editor = /bin/true
merge_editor = /bin/true

[contact table]
display = first_name
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
EOF
cat >"$HOME/.config/khal/config" <<EOF
[calendars]
[[work]]
path = $CAL
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = UTC
default_timezone = UTC
EOF

khard_sees_all() {
	local out
	out=$(khard -c "$HOME/.config/khard/khard.conf" list 2>&1)
	echo "$out"
	for n in Alice Bob Carol; do
		grep -q "$n" <<<"$out" || return 1
	done
}
e2t_check "khard list shows the 3 contacts" khard_sees_all

khal_sees_all() {
	local out
	out=$(khal -c "$HOME/.config/khal/config" list 2030-01-01 2030-01-31 2>&1)
	echo "$out"
	for s in 'Standup meeting' 'Review session' 'Planning day'; do
		grep -q "$s" <<<"$out" || return 1
	done
}
e2t_check "khal list shows the 3 events" khal_sees_all

# the editor-like rewrite of bob-2.vcf: a new file renamed over it
"$TOOL" scan "$BOOK" >"$E2T_DIR/scan1"
edit_bob() {
	card bob-2 Robert >"$BOOK/.bob-2.vcf.swp" &&
		mv "$BOOK/.bob-2.vcf.swp" "$BOOK/bob-2.vcf"
}
e2t_check "an editor rewrites bob-2.vcf" edit_bob
"$TOOL" scan "$BOOK" >"$E2T_DIR/scan2"

scan_sees_change() {
	local old new
	cat "$E2T_DIR/scan1" "$E2T_DIR/scan2"
	old=$(grep ' bob-2.vcf ' "$E2T_DIR/scan1")
	new=$(grep ' bob-2.vcf ' "$E2T_DIR/scan2")
	[ -n "$old" ] && [ -n "$new" ] || return 1
	# inode and hash differ; the other items keep their identity
	[ "$(cut -d' ' -f5 <<<"$old")" != "$(cut -d' ' -f5 <<<"$new")" ] &&
		[ "$(cut -d' ' -f6 <<<"$old")" != "$(cut -d' ' -f6 <<<"$new")" ] &&
		diff <(grep -v ' bob-2.vcf ' "$E2T_DIR/scan1") \
			<(grep -v ' bob-2.vcf ' "$E2T_DIR/scan2") &&
		[ "$(wc -l <"$E2T_DIR/scan2")" = 3 ] &&
		! grep -q swp "$E2T_DIR/scan2"
}
e2t_check "the scan sees the edit by its identity" scan_sees_change

stale_write_refused() {
	local old
	old=$(grep ' bob-2.vcf ' "$E2T_DIR/scan1")
	# shellcheck disable=SC2086
	if card bob-2 Server | "$TOOL" replace "$BOOK" $(cut -d' ' -f2-6 \
		<<<"$old") 2>"$E2T_DIR/err"; then
		return 1
	fi
	cat "$E2T_DIR/err"
	grep -q 'changed meanwhile' "$E2T_DIR/err" &&
		grep -q Robert "$BOOK/bob-2.vcf"
}
e2t_check "a write with the old identity is refused, the edit kept" \
	stale_write_refused

fresh_write_done() {
	local new
	new=$(grep ' bob-2.vcf ' "$E2T_DIR/scan2")
	# shellcheck disable=SC2086
	card bob-2 Server | "$TOOL" replace "$BOOK" $(cut -d' ' -f2-6 \
		<<<"$new") &&
		grep -q 'Server Tester' "$BOOK/bob-2.vcf" &&
		khard -c "$HOME/.config/khard/khard.conf" list | grep -q Server
}
e2t_check "a write with the fresh identity replaces it, khard sees it" \
	fresh_write_done

e2t_finish
