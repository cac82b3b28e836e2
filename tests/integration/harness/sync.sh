# SPDX-License-Identifier: MIT
# harness/sync.sh -- what the sync-*.sh scripts share; sourced after lib.sh.
#
# sync_setup GUID              finds the tools, starts the harness, sets
#                              SYNCD PROVISION GUID STORE MD
# sync_provision TYPE PORT [NAME=VALUE...]
#                              (re)provisions the account by Client
#                              Provisioning: the required nodes for the
#                              harness user, INSERVER on PORT, plus the
#                              extra parms given
# sync_once [ARGS...]          email2-syncd --once --json --batch
#                              $SYNC_BATCH; its line in $E2T_DIR/sync.json
# json EXPR                    asserts EXPR over that line (d = the object)
# sync_daemon_start [ARGS...]  email2-syncd --json (no --once) in the
#                              background, stdout in $OUT, stderr in $ERR;
#                              SYNCD_PID its own PID (signals), BG_PID the
#                              job's (exit status)
# sync_lines N                 waits (bounded) for N lines in $OUT
# sync_line_json N EXPR        EXPR over line N of $OUT (d = the object)

sync_setup() {
	SYNCD=$(e2t_find_tool email2-syncd) || e2t_skip "email2-syncd not built"
	PROVISION=$(e2t_find_tool email2-provision) ||
		e2t_skip "email2-provision not built"
	e2t_up
	GUID=$1
	STORE=$E2T_DIR/store
	MD=$STORE/mail/$GUID
}

sync_provision() {
	local type=$1 port=$2 kv extra=
	shift 2
	for kv in "$@"; do
		extra+="      <parm name=\"${kv%%=*}\" value=\"${kv#*=}\"/>"$'\n'
	done
	cat >"$E2T_DIR/acct.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<wap-provisioningdoc>
  <characteristic type="EMAIL2">
    <characteristic type="$GUID">
      <parm name="ACCOUNTTYPE" value="Email"/>
      <parm name="AUTHNAME" value="$E2T_USER"/>
      <parm name="AUTHSECRET" value="$E2T_PASS"/>
      <parm name="INSERVER" value="$E2T_HOST:$port"/>
      <parm name="OUTSERVER" value="$E2T_HOST:$E2T_SUBMISSIONS_PORT"/>
      <parm name="REPLYADDR" value="$E2T_USER@email2.test"/>
      <parm name="SERVICENAME" value="$type sync test"/>
      <parm name="SERVICETYPE" value="$type"/>
      <parm name="SYNCINGCONTENTTYPES" value="0x2"/>
$extra    </characteristic>
  </characteristic>
</wap-provisioningdoc>
XML
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null
}

sync_once() {
	e2t_run "$SYNCD" --once --store "$STORE" --cafile "$E2T_CA" --json \
		--batch "${SYNC_BATCH:-7}" "$@" >"$E2T_DIR/sync.json" \
		2>"$E2T_DIR/sync.err"
}

json() { e2t_json "$E2T_DIR/sync.json" "$1"; }

sync_daemon_start() {
	: >"$OUT"
	rm -f "$E2T_DIR/syncd.pid"
	e2t_run sh -c 'echo $$ >"$0"; exec "$@"' "$E2T_DIR/syncd.pid" \
		"$SYNCD" --store "$STORE" --cafile "$E2T_CA" --json "$@" \
		>"$OUT" 2>"$ERR" &
	BG_PID=$!
	timeout 10 bash -c "until [ -s '$E2T_DIR/syncd.pid' ]; do sleep 0.05; done" ||
		e2t_fatal "email2-syncd did not start"
	SYNCD_PID=$(cat "$E2T_DIR/syncd.pid")
	e2t_own "$SYNCD_PID"
}

sync_lines() {
	timeout 30 bash -c "until [ \"\$(wc -l <'$OUT')\" -ge $1 ]; do sleep 0.1; done"
}

sync_line_json() {
	sed -n "${1}p" "$OUT" >"$E2T_DIR/line.json"
	e2t_json "$E2T_DIR/line.json" "$2"
}
