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
