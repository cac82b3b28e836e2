# SPDX-License-Identifier: MIT
# harness/neomutt.sh -- drive the real neomutt on a Maildir, as a user does
# (sourced after lib.sh). neomutt needs a terminal: script(1) gives it a
# pty; HOME is a private directory and the muttrc is the test's own, so
# nothing of the machine's configuration is read.
#
#   mutt_usable            0 when neomutt runs here (a smoke save on a
#                          scratch Maildir); else MUTT_WHY says why
#   mutt_keys DIR KEYS     neomutt -f DIR, KEYS pushed (then it quits);
#                          MUTT_EXTRA: more muttrc lines
#   mutt_save DIR ID FOLDER    <save-message> of the message whose
#   mutt_copy DIR ID FOLDER    Message-ID is <ID> into +FOLDER (.Work),
#                              then <sync-mailbox> (delete=yes: the
#                              original file is removed)

MUTT_WHY=

mutt_keys() {
	local dir=$1 keys=$2 home=$E2T_DIR/mutt-home
	mkdir -p "$home"
	cat >"$home/muttrc" <<RC
set folder="$dir" spoolfile="$dir" mbox_type=Maildir
set confirmappend=no confirmcreate=no delete=yes move=no
set header_cache=""
set record=""
set mark_old=no
${MUTT_EXTRA:-}
RC
	# from its own directory: nothing it writes lands in the build tree
	(cd "$home" && HOME=$home TERM=xterm timeout 60 script -qc \
		"neomutt -n -F '$home/muttrc' -f '$dir' -e 'push \"$keys\"'" \
		/dev/null </dev/null >"$E2T_DIR/mutt.out" 2>&1)
}

mutt_save() {
	mutt_keys "$1" "<limit>~i $2<enter><save-message>+$3<enter><sync-mailbox><quit>"
}

mutt_copy() {
	mutt_keys "$1" "<limit>~i $2<enter><copy-message>+$3<enter><sync-mailbox><quit>"
}

mutt_usable() {
	local d=$E2T_DIR/mutt-smoke
	if ! command -v neomutt >/dev/null 2>&1; then
		MUTT_WHY="neomutt is not installed (scripts/install-deps.sh)"
		return 1
	fi
	if ! command -v script >/dev/null 2>&1; then
		MUTT_WHY="script(1) is not installed: no pty for neomutt"
		return 1
	fi
	rm -rf "$d"
	mkdir -p "$d/cur" "$d/new" "$d/tmp" "$d/.X/cur" "$d/.X/new" "$d/.X/tmp"
	printf 'From: a@example.org\nSubject: smoke\nMessage-ID: <smoke@t>\n\nx\n' \
		>"$d/cur/1700000000.smoke.host:2,S"
	mutt_save "$d" smoke@t .X
	if [ -z "$(ls "$d/.X/cur" "$d/.X/new" 2>/dev/null)" ]; then
		MUTT_WHY="neomutt did not run here (no pty or terminal?): $(tail -c 200 "$E2T_DIR/mutt.out" 2>/dev/null | tr -cd '[:print:]')"
		return 1
	fi
	return 0
}
