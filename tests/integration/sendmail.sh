#!/bin/bash
# SPDX-License-Identifier: MIT
# sendmail.sh -- email2-sendmail queues into the right account's send queue
# and the next sync delivers through Dovecot submission to the aiosmtpd
# sink (which records the envelope in X-RcptTo): the argv shapes neomutt
# (-oem -oi -- rcpts) and git send-email (-i rcpts, -f sender) use, run
# for real when neomutt and git-email are installed; -t, -i and a lone ".",
# the envelope kept apart from the header (Bcc stripped), the account
# picked by -f or From:, refusals with sysexits codes, --now, and the wake
# of a running email2-syncd through its pid file.
set -u
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/sync.sh"
sync_setup '{5E0D5E0D-4444-4A2B-8C3D-000000000008}'
SENDMAIL=$(e2t_find_tool email2-sendmail) || e2t_skip "email2-sendmail not built"
FROM_ADDR=$E2T_USER@email2.test
sync_provision IMAP4 "$E2T_IMAPS_PORT" AUTHREQUIRED=1 LINGER=120
OUT=$STORE/outbox/$GUID
# every call is logged with its argv, as the caller gave it
cat >"$E2T_DIR/sm-wrap" <<EOF
#!/bin/bash
printf '%s\n' "\$*" >>"$E2T_DIR/argv.log"
exec "$SENDMAIL" --store "$STORE" "\$@"
EOF
chmod +x "$E2T_DIR/sm-wrap"
SM=$E2T_DIR/sm-wrap
queued() { find "$OUT/new" "$OUT/cur" -type f 2>/dev/null | wc -l; }

# sink_check EXPR: EXPR over m, the sink's messages by subject, each with .raw
sink_check() {
	"$E2T_PY" - "$E2T_SINK_DIR" "$1" <<'PY'
import email, os, sys
sink, expr = sys.argv[1], sys.argv[2]
m = {}
for sub in ("new", "cur"):
    p = os.path.join(sink, sub)
    for f in sorted(os.listdir(p)) if os.path.isdir(p) else []:
        raw = open(os.path.join(p, f), "rb").read()
        msg = email.message_from_bytes(raw)
        msg.raw = raw
        m.setdefault(msg["Subject"], []).append(msg)
def rcpt(s):
    return sorted(a.strip() for a in m[s][0]["X-RcptTo"].split(","))
def body(s):
    return m[s][0].raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
ok = eval(expr)
if not ok:
    print("assertion failed:", expr)
    for k, v in m.items():
        print("sink", k, len(v), v[0].raw[:500])
sys.exit(0 if ok else 1)
PY
}

# ---- neomutt's shape: sendmail="email2-sendmail -oem -oi" ----
# neomutt removes Bcc from the header and passes every recipient after --
printf 'From: Me <%s>\nTo: jane@example.org\nSubject: neomutt-shape\n\n.\nline after a lone dot\n' \
	"$FROM_ADDR" | "$SM" -oem -oi -- jane@example.org blind@example.net
e2t_check "neomutt shape: exit 0, queued" test "$? $(queued)" = "0 1"
if command -v neomutt >/dev/null; then
	cat >"$E2T_DIR/muttrc" <<EOF
set sendmail="$SM -oem -oi"
set from="$FROM_ADDR"
set use_from=yes
set record=""
set copy=no
set folder="$E2T_DIR"
set spool_file="$E2T_DIR/spool"
EOF
	echo "written by neomutt" | (cd "$E2T_DIR" && HOME=$E2T_DIR \
		timeout 30 neomutt -n -F "$E2T_DIR/muttrc" -s neomutt-real \
		-b nm-blind@example.net jane@example.org)
	e2t_check "real neomutt: exit 0, its argv -oem -oi -- rcpts" \
		grep -qx -- "-oem -oi -- jane@example.org nm-blind@example.net" \
		"$E2T_DIR/argv.log"
else
	echo "# neomutt not installed: its argv is emulated above only"
fi

# ---- git send-email's shape: --sendmail-cmd=email2-sendmail ----
printf 'From: %s\nTo: jane@example.org\nCc: bob@example.org\nSubject: git-shape\n\nbody\n.\nstill body\n' \
	"$FROM_ADDR" | "$SM" -i jane@example.org bob@example.org
e2t_check "git shape (-i rcpts): exit 0" test $? = 0
printf 'From: Someone Else <other@example.com>\nTo: jane@example.org\nSubject: git-envelope-sender\n\nbody\n' |
	"$SM" -i -f "${FROM_ADDR^^}" jane@example.org
e2t_check "git shape with -f ADDR (case ignored) picks the account" \
	test $? = 0
if git send-email -h 2>&1 | grep -q -- --sendmail-cmd; then
	(
		cd "$E2T_DIR" && rm -rf repo && git init -q repo && cd repo &&
			echo change >file && git add file &&
			git -c user.name=T -c user.email="$FROM_ADDR" commit -q \
				-m "git-real subject" &&
			git format-patch -q -1 -o ../patches &&
			git -c user.name=T -c user.email="$FROM_ADDR" send-email \
				--sendmail-cmd="$SM" --from="T <$FROM_ADDR>" \
				--to=jane@example.org --cc=git-cc@example.org \
				--envelope-sender="$FROM_ADDR" --confirm=never \
				--suppress-cc=all --quiet ../patches/*.patch
	) >"$E2T_DIR/git.out" 2>&1
	e2t_check "real git send-email: exit 0" test $? = 0
	e2t_check "real git send-email: argv -f ADDR -i rcpts" \
		grep -q -- "^-f $FROM_ADDR -i jane@example.org git-cc@example.org$" \
		"$E2T_DIR/argv.log"
else
	echo "# git send-email not installed: its argv is emulated above only"
fi

printf 'From: Me <%s>\nTo: jane@example.org\nSubject: f-angle\n\nbody\n' "$FROM_ADDR" |
	"$SM" -i -f "<$FROM_ADDR>" jane@example.org
e2t_check "-f <ADDR> with angle brackets: exit 0" test $? = 0
printf 'From: Me <%s>\nTo: jane@example.org\nSubject: f-unknown-from-known\n\nbody\n' "$FROM_ADDR" |
	"$SM" -i -f list-bounces@example.com jane@example.org
e2t_check "-f unknown, From: known: the From account, exit 0" test $? = 0

# ---- -t, recipients from the header; arguments added ----
printf 'From: %s\nTo: t-to@example.org\nBcc: t-bcc@example.net\nSubject: dash-t\n\nbody\n' \
	"$FROM_ADDR" | "$SM" -t t-extra@example.org
e2t_check "-t: exit 0" test $? = 0
# ---- without -i a lone "." ends the message ----
printf 'From: %s\nTo: jane@example.org\nSubject: dot-ends\n\nbefore\n.\nafter the dot\n' \
	"$FROM_ADDR" | "$SM" jane@example.org
e2t_check "no -i: exit 0" test $? = 0
# ---- the account from the From: field, or --account, and -F ----
printf 'To: jane@example.org\nSubject: by-account\n\nno From field\n' |
	"$SM" -F 'Zoë Named' --account "$GUID" jane@example.org
e2t_check "--account without any address: exit 0" test $? = 0

e2t_check "nothing is sent before a sync" sink_check \
	"'neomutt-shape' not in m"
n_before=$(queued)
sync_once
e2t_check "one sync sends everything queued" json \
	"d['sent'] == $n_before and d['send_failed'] == 0"
e2t_check "neomutt shape: the envelope is the arguments" sink_check \
	"rcpt('neomutt-shape') == ['blind@example.net', 'jane@example.org']"
e2t_check "neomutt shape: -oi keeps the lone dot line" sink_check \
	"body('neomutt-shape') == b'.\\nline after a lone dot\\n'"
if command -v neomutt >/dev/null; then
	e2t_check "real neomutt: delivered to To and Bcc, no Bcc field" \
		sink_check "rcpt('neomutt-real') == ['jane@example.org', 'nm-blind@example.net'] and b'nm-blind' not in m['neomutt-real'][0].raw.split(b'X-RcptTo')[0]"
fi
e2t_check "git shape: delivered to both" sink_check \
	"rcpt('git-shape') == ['bob@example.org', 'jane@example.org'] and body('git-shape') == b'body\\n.\\nstill body\\n'"
e2t_check "git shape -f: the envelope sender is REPLYADDR" sink_check \
	"m['git-envelope-sender'][0]['X-MailFrom'] == '$FROM_ADDR'"
if git send-email -h 2>&1 | grep -q -- --sendmail-cmd; then
	e2t_check "real git send-email: the patch arrived" sink_check \
		"rcpt('[PATCH] git-real subject') == ['git-cc@example.org', 'jane@example.org']"
fi
e2t_check "-f forms: both delivered" sink_check \
	"len(m['f-angle']) == 1 and len(m['f-unknown-from-known']) == 1"
e2t_check "-t: header recipients plus the argument, Bcc stripped" sink_check \
	"rcpt('dash-t') == ['t-bcc@example.net', 't-extra@example.org', 't-to@example.org'] and b'Bcc' not in m['dash-t'][0].raw"
e2t_check "no -i: the lone dot ended the message" sink_check \
	"body('dot-ends') == b'before\\n'"
e2t_check "-F: From added with the name (RFC 2047)" sink_check \
	"'=?UTF-8?B?' in m['by-account'][0]['From'] and '<$FROM_ADDR>' in m['by-account'][0]['From']"

# ---- refusals: nothing queued, sysexits codes, a clear message ----
printf 'From: %s\nTo: jane@example.org\nSubject: nul\n\nbefore\0after\n' \
	"$FROM_ADDR" | "$SM" -i jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "NUL byte: exit 65 (EX_DATAERR), named" test \
	"$? $(grep -c 'NUL byte at offset' "$E2T_DIR/sm.err")" = "65 1"
printf 'From: %s\nTo: jane@example.org\nSubject: bad\n\nx\n' "$FROM_ADDR" |
	"$SM" -i 'not an address' 2>"$E2T_DIR/sm.err"
e2t_check "bad recipient: exit 65, named" test \
	"$? $(grep -c 'not an address' "$E2T_DIR/sm.err")" = "65 1"
printf 'From: %s\nTo: jane@example.org\n folded-bad\x01@x\nSubject: bad\n\nx\n' \
	"$FROM_ADDR" | "$SM" -t 2>"$E2T_DIR/sm.err"
e2t_check "bad To field with -t: exit 65" test $? = 65
printf 'Subject: x\n\nx\n' | "$SM" -i 2>"$E2T_DIR/sm.err"
e2t_check "no recipient: exit 64 (EX_USAGE)" test $? = 64
printf 'From: nobody@else.example\nTo: jane@example.org\nSubject: x\n\nx\n' |
	"$SM" -i -f nobody@else.example jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "unknown sender: exit 67 (EX_NOUSER), names the address" test \
	"$? $(grep -c '<nobody@else.example>' "$E2T_DIR/sm.err")" = "67 1"
head -c $((50 * 1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' |
	"$SM" -i -f "$FROM_ADDR" jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "over 50 MiB: exit 65" test $? = 65
e2t_check "refusals queued nothing" test "$(queued)" = 0
"$SM" --help | grep -q Usage:
e2t_check "--help: exit 0" test $? = 0

# ---- --now: sent at once, the outcome printed ----
printf 'From: %s\nTo: jane@example.org\nSubject: send-now\n\nx\n' "$FROM_ADDR" |
	e2t_run "$SM" --now --cafile "$E2T_CA" -i jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "--now: exit 0, says sent" test \
	"$? $(grep -c '^email2-sendmail: sent ' "$E2T_DIR/sm.err")" = "0 1"
e2t_check "--now: delivered without a sync" sink_check \
	"len(m['send-now']) == 1"

# ---- no daemon: stays queued, exit 0, silent unless -v ----
printf 'From: %s\nTo: jane@example.org\nSubject: no-daemon\n\nx\n' "$FROM_ADDR" |
	"$SM" -i jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "no daemon: exit 0, queued, nothing on stderr" test \
	"$? $(queued) $(wc -c <"$E2T_DIR/sm.err")" = "0 1 0"
printf 'From: %s\nTo: jane@example.org\nSubject: no-daemon-v\n\nx\n' "$FROM_ADDR" |
	"$SM" -v -i jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "no daemon, -v: one line" test \
	"$(wc -l <"$E2T_DIR/sm.err") $(grep -c 'no email2-syncd runs' "$E2T_DIR/sm.err")" = "1 1"

# ---- a running email2-syncd (LINGER 120 minutes) is woken by SIGUSR1 ----
e2t_run "$SYNCD" --store "$STORE" --cafile "$E2T_CA" --quiet \
	>"$E2T_DIR/syncd.out" 2>"$E2T_DIR/syncd.err" &
syncd_pid=$!
pidfile=$STORE/email2-syncd.pid
# up once it holds the pid file and its first sync has emptied the queue
timeout 20 bash -c "until ! flock -n '$pidfile' true 2>/dev/null &&
	[ \$(find '$OUT/new' '$OUT/cur' -type f | wc -l) = 0 ]; do sleep 0.1; done"
# $! may be e2t_run's wrapper (unshare): the file names the daemon itself
daemon_pid=$(cat "$pidfile" 2>/dev/null)
e2t_check "syncd holds its pid file, which names it" test \
	"$(cat "/proc/$daemon_pid/comm" 2>/dev/null)" = email2-syncd
sleep 1
printf 'From: %s\nTo: jane@example.org\nSubject: woken\n\nx\n' "$FROM_ADDR" |
	"$SM" -v -i jane@example.org 2>"$E2T_DIR/sm.err"
e2t_check "wake: exit 0, says woken" test \
	"$? $(grep -c 'email2-syncd woken' "$E2T_DIR/sm.err")" = "0 1"
arrived() {
	timeout 15 bash -c "until grep -rqs '^Subject: woken' '$E2T_SINK_DIR'; do sleep 0.1; done"
}
e2t_check "wake: the message arrives within seconds" arrived
kill -TERM "$daemon_pid"
wait "$syncd_pid"
e2t_check "syncd stops cleanly (exit 0)" test $? = 0
e2t_check "the pid file is no longer locked" flock -n "$pidfile" true

e2t_finish
