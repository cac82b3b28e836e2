#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-conntest.sh [N] [TIMEOUT] -- time to verdict of email2-conntest
#
# Starts the integration harness (tests/integration/lib.sh) and prints, per
# protocol, the median wall time of N runs (default 7) to a verdict for
#   healthy: Dovecot, implicit TLS answers (one rung)
#   hang:    implicit-TLS port accepts and stays silent (hostile_server.py),
#            Dovecot answers STARTTLS on the other port (needs the netns
#            mode, where the listeners use the default ports)
# next to the per-attempt timeout (default 3 s). Not run by make check.
# Set E2_TOP_BUILDDIR to the build directory holding tools/email2-conntest.
N=${1:-7}
TIMEOUT=${2:-3}
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"
E2T_CONNTEST=$(e2t_find_tool email2-conntest) ||
	e2t_skip "email2-conntest is not built (set E2_TOP_BUILDDIR)"
e2t_up

# run_ms ARGS: wall milliseconds of one run; the verdict goes to $E2T_DIR/v
run_ms() {
	local t0 t1
	t0=$(date +%s%N)
	e2t_run "$E2T_CONNTEST" --cafile "$E2T_CA" --timeout "$TIMEOUT" \
		--json "$@" >"$E2T_DIR/v.json" 2>/dev/null
	echo $? >"$E2T_DIR/v"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# bench LABEL ARGS: median and range of N runs, exit status, rungs tried
bench() {
	local label=$1 ms=()
	shift
	for _ in $(seq 1 "$N"); do
		ms+=("$(run_ms "$@")")
	done
	local sorted
	sorted=$(printf '%s\n' "${ms[@]}" | sort -n)
	local med min max modes
	med=$(echo "$sorted" | sed -n "$(((N + 1) / 2))p")
	min=$(echo "$sorted" | head -n 1)
	max=$(echo "$sorted" | tail -n 1)
	modes=$("$E2T_PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = d["in"] or d["out"]
print(",".join(a["mode"] + ":" + a["status"] for a in s["attempts"]))
' "$E2T_DIR/v.json" 2>/dev/null)
	printf '%-22s %8s %8s %8s %6s %6s  %s\n' "$label" "$med" "$min" "$max" \
		"$(cat "$E2T_DIR/v")" "$(awk "BEGIN { print $TIMEOUT * 1000 }")" "$modes"
}

side() { # PROTO SERVER
	case $1 in
	imap) echo "--in $2 --service imap4" ;;
	pop3) echo "--in $2 --service pop3" ;;
	smtp) echo "--out $2 --auth-required" ;;
	esac
}
req() {
	case $1 in
	smtp) echo --out-require-ssl ;;
	*) echo --in-require-ssl ;;
	esac
}

echo "# email2-conntest time to verdict, N=$N, per-attempt timeout ${TIMEOUT}s"
printf '%-22s %8s %8s %8s %6s %6s  %s\n' case median_ms min_ms max_ms exit \
	tmo_ms rungs
# word-split on purpose: two options and their values
# shellcheck disable=SC2086
cred="--user $E2T_USER --password-file $E2T_PASSFILE"
for p in imap pop3 smtp; do
	case $p in
	imap) tls=$E2T_IMAPS_PORT ;;
	pop3) tls=$E2T_POP3S_PORT ;;
	smtp) tls=$E2T_SUBMISSIONS_PORT ;;
	esac
	# shellcheck disable=SC2046
	bench "$p healthy" $(side $p "$E2T_HOST:$tls") $(req $p) $cred
	if [ "$E2T_DEFAULT_PORTS" = 1 ]; then
		e2t_hostile "$E2T_ADDR_HANG" "$tls" --scenario silent \
			--max-conns 1000 --timeout 600
		# shellcheck disable=SC2046
		bench "$p hang on $tls" $(side $p "$E2T_HOST_HANG") $(req $p) \
			$cred
		e2t_stop_hostile
	else
		echo "$p hang: skipped (loopback mode: no default ports)"
	fi
done
