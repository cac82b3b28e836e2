#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-dav.sh [N...] -- email2's CardDAV/CalDAV sync against vdirsyncer on
# a private Radicale (default sizes "1000 10000"; each size both types:
# N vCards in one addressbook, N events in one calendar)
#
# Starts the integration harness (tests/integration/lib.sh: in a network
# namespace when run as root; harness/radicale.sh: Radicale over HTTPS with
# the test CA's certificate on mail.email2.test). Per size the harness
# user's collections are written straight into Radicale's storage
# (rad_fill: Radicale's PUT is quadratic) and warmed by one untimed REPORT
# each, so that no client pays for Radicale parsing its items the first
# time. Then, per size and type, each client in a fresh local state:
#   bare   one REPORT sync-collection with an empty token asking getetag
#          and address-data / calendar-data, by curl into a file: the
#          floor a first sync is compared with (median of BENCH_BARE_RUNS)
#   files  the items of the bare stream's answer written as N files the
#          way email2 writes them (a temporary, its fsync, a link to the
#          name; one directory fsync per 256), by a small Python loop:
#          the part of a first sync no client can skip on this file
#          system, so the goal is also checked against bare + files
#   full   the first sync of all N items into an empty folder
#   noop1  the same sync again right after, nothing changed
#   noop   BENCH_NOOP_RUNS more of those (median wall time, largest RSS):
#          the steady state of a client run every few minutes
# Each no-change run starts 2.5 s after the one before (email2 trusts no
# stamp of a folder changed in the last 2 s).
# email2: an account provisioned by email2-provision with
# SYNCINGCONTENTTYPES 15 and CONTACTSSERVER / CALENDARSERVER
# https://mail.email2.test:PORT/ (*REQUIRESSL 1), synced by
# `email2-syncd --once --account GUID --content contacts` (or calendars),
# the real binary, not the libtool wrapper; BENCH_E2_SIDE=tool runs
# tests/integration/dav-sync-tool instead (the collection driver alone on
# the same store and folders).
# vdirsyncer: `vdirsyncer discover` (untimed) then `vdirsyncer sync` (timed),
# a carddav/caldav storage with the test CA and a filesystem storage.
# Every run must leave exactly N item files (.vcf/.ics; the bare stream:
# N items in its answer), or its row says FAIL.
#
# Prints a table: wall seconds, items/s, peak RSS (/usr/bin/time %M),
# client and server (Radicale) CPU seconds, email2's ratio to vdirsyncer
# ("e2/vds": 0.5 means email2 took half the time) and, for the full sync,
# to the bare stream; then the goals (a full sync faster than vdirsyncer
# and at most 1.5x the bare stream; a steady no-change run at least 10x
# faster than vdirsyncer), each "met" or "NOT met". The table is appended
# to $BENCH_RESULTS (default /tmp/email2-bench-dav.md).
#
# It builds nothing: point E2_TOP_BUILDDIR at a release build, e.g.
#	mkdir -p _build/bench && cd _build/bench && ../../configure && make -j2
#	sudo E2_TOP_BUILDDIR=$PWD ../../tests/bench/bench-dav.sh 1000
# (no --enable-sanitizers; BENCH_E2_SIDE=tool also needs `make
# tests/integration/dav-sync-tool`). Needs radicale, vdirsyncer, curl, time.
#
# Env: BENCH_CLIENTS (default "email2 vdirsyncer"), BENCH_TYPES ("card
# cal"), BENCH_NOOP_RUNS (3), BENCH_BARE_RUNS (3), BENCH_TIMEOUT (1800 s
# per run), BENCH_RESULTS, BENCH_E2_SIDE (syncd, or tool), BENCH_E2_WRAP
# (a command prefix for the email2 runs, for profiling: "strace -c -f -o
# FILE", "perf record -g -o FILE"; its timings then mean little),
# E2T_KEEP=1 (keep the harness directory and the folders), BENCH_FOLDERS
# (a directory to hold the clients' folders, email2's store and the
# "files" floor, e.g. /dev/shm/email2-bench: on tmpfs, where making a file
# costs next to nothing, the full sync's ratio to the bare stream is the
# clients' own work; on this project's CI machines, an ext4 without a
# journal, making 1,000 empty files takes about twice the bare stream of
# 1,000 vCards, so the "files" row is the floor there). Not run by make
# check.
set -u
SIZES=${*:-1000 10000}
for n in $SIZES; do
	case $n in
	'' | *[!0-9]* | 0)
		echo "usage: $0 [N...]" >&2
		exit 2
		;;
	esac
done
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091 # sourced from the source tree
. "$BENCH_DIR/../integration/lib.sh"
# shellcheck disable=SC1091
. "$E2T_SRCDIR/harness/sync.sh"
# shellcheck disable=SC1091
. "$E2T_SRCDIR/harness/radicale.sh"
# shellcheck disable=SC1091
. "$BENCH_DIR/bench-lib.sh"

# The email2 side: "syncd" (email2-syncd --content) or "tool"
# (tests/integration/dav-sync-tool). The one-line switch:
E2_SIDE=${BENCH_E2_SIDE:-syncd}
CLIENTS=${BENCH_CLIENTS:-email2 vdirsyncer}
TYPES=${BENCH_TYPES:-card cal}
NOOP_RUNS=${BENCH_NOOP_RUNS:-3}
BARE_RUNS=${BENCH_BARE_RUNS:-3}
RESULTS=${BENCH_RESULTS:-/tmp/email2-bench-dav.md}
RAD_PORT=31250
GUID0='{DA7BE4C0-0000-4000-8000-000000000000}'

[ -n "${E2_TOP_BUILDDIR:-}" ] ||
	e2t_skip "set E2_TOP_BUILDDIR to a release build (see the header)"
[ -x /usr/bin/time ] || e2t_skip "missing /usr/bin/time (package time)"
rad_usable || e2t_skip "$RAD_WHY"
e2t_require timeout find curl
want() { [[ " $CLIENTS " == *" $1 "* ]]; }
if want vdirsyncer && ! command -v vdirsyncer >/dev/null; then
	e2t_skip "missing vdirsyncer (apt-get install vdirsyncer)"
fi
TOOL=$E2_TOP_BUILDDIR/tests/integration/dav-sync-tool
if [ "$E2_SIDE" = tool ] && want email2 && [ ! -x "$TOOL" ]; then
	e2t_skip "missing $TOOL (make tests/integration/dav-sync-tool)"
fi

sync_setup "$GUID0"
bench_init
# the tool's secret (never in argv, so never in $CMDS); Radicale knows the
# harness user with the harness password, as the account's AUTHNAME and
# AUTHSECRET say
export E2T_DAV_SECRET=$E2T_PASS
rad_add_user "$E2T_USER" "$E2T_PASS"
rad_start b "$RAD_PORT" tls
# shellcheck disable=SC2154 # set by rad_start (eval)
RAD_PID=$RAD_PID_b
# shellcheck disable=SC2154
RROOT=$RAD_ROOT_b/$E2T_USER
URL=https://$E2T_HOST:$RAD_PORT/
# a curl config with the credentials (-u), so they stay out of argv
CURLRC=$WORK/curlrc
(umask 077 && printf 'user = "%s:%s"\n' "$E2T_USER" "$E2T_PASS" >"$CURLRC")

# rad_ticks: CPU ticks of Radicale (all its threads)
rad_ticks() {
	local s f
	s=$(cat "/proc/$RAD_PID/stat" 2>/dev/null) || {
		echo 0
		return
	}
	s=${s##*) }
	read -r -a f <<<"$s"
	echo $((f[11] + f[12]))
}

# timed NAME KIND CMD...: run1, R_SRV then Radicale's CPU seconds
timed() {
	local r0 r1
	r0=$(rad_ticks)
	run1 "$@"
	r1=$(rad_ticks)
	R_SRV=$(awk -v a="$r0" -v b="$r1" -v c="$CLK" \
		'BEGIN { printf "%.2f", (b - a) / c }')
}

count_items() { # DIR: item files below DIR
	find "$1" -type f \( -name '*.vcf' -o -name '*.ics' \) 2>/dev/null |
		wc -l
}

# where the clients' folders (and email2's store) go: BENCH_FOLDERS, a
# directory made for the run below it (default: the harness directory)
if [ -n "${BENCH_FOLDERS:-}" ]; then
	mkdir -p "$BENCH_FOLDERS" || e2t_fatal "cannot make $BENCH_FOLDERS"
	FOLDERS=$(mktemp -d "$BENCH_FOLDERS/e2bench.XXXXXX") ||
		e2t_fatal "cannot make a directory in $BENCH_FOLDERS"
	chmod 755 "$FOLDERS"
	# the harness's own cleanup after ours
	[ -n "${E2T_KEEP:-}" ] || trap 'rm -rf "$FOLDERS"; e2t_cleanup' EXIT
else
	FOLDERS=$WORK
fi
FSTYPE=$(stat -f -c %T "$FOLDERS" 2>/dev/null || echo unknown)

ROWS=$WORK/rows.tsv
: >"$ROWS"
row() { # TYPE N CLIENT RUN WALL RSS CPU SRV CHECK
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"
}
median() { # VALUES...: the middle one (the lower of the two middles)
	printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}

# ---- the collections ---------------------------------------------------------

# fill N: the harness user's addressbook "contacts" and calendar "cal"
# with N items each, nothing else (discovery finds every collection)
fill() {
	rm -rf "${RROOT:?}/contacts" "$RROOT/cal"
	rad_mkcoll b "$E2T_USER" contacts addressbook "Contacts"
	rad_fill b "$E2T_USER" contacts "$1" c
	rad_mkcoll b "$E2T_USER" cal calendar "Calendar" "#2968FFFF"
	rad_fill b "$E2T_USER" cal "$1" e
}

coll_of() { [ "$1" = card ] && echo contacts || echo cal; }

# ---- the bare stream -------------------------------------------------------------

# bare_body TYPE: the REPORT sync-collection body, empty token
bare_body() {
	local ns=urn:ietf:params:xml:ns:carddav data=address-data
	if [ "$1" = cal ]; then
		ns=urn:ietf:params:xml:ns:caldav data=calendar-data
	fi
	cat <<EOF
<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="$ns">
  <D:sync-token/>
  <D:sync-level>1</D:sync-level>
  <D:prop>
    <D:getetag/>
    <C:$data/>
  </D:prop>
</D:sync-collection>
EOF
}

# bare_items FILE TYPE: the items in a REPORT answer
bare_items() {
	local what=BEGIN:VCARD
	[ "$2" = cal ] && what=BEGIN:VEVENT
	grep -o "$what" "$1" | wc -l
}

bare_case() { # TYPE N [warm]
	local t=$1 n=$2 name=bare-$1-$2 body out got ok=ok walls=() rss=0 i
	local cmd
	body=$WORK/$t.report.xml
	out=$WORK/$name.xml
	bare_body "$t" >"$body"
	cmd=(curl -sS --fail --cacert "$E2T_CA" -K "$CURLRC" -X REPORT
		-H 'Depth: 1' -H 'Content-Type: application/xml; charset=utf-8'
		--data-binary "@$body" -o "$out" "$URL$E2T_USER/$(coll_of "$t")/")
	if [ "${3:-}" = warm ]; then
		# untimed: Radicale reads and caches every item the first
		# time (also for a PROPFIND of the home: every collection's
		# sync-token and getctag hash all its items)
		printf '# %-10s %-5s N=%-6s warm-up ...' bare "$t" "$n"
		timed "$name" warm "${cmd[@]}"
		printf ' %ss, %s items\n' "$R_WALL" "$(bare_items "$out" "$t")"
		return
	fi
	for i in $(seq 1 "$BARE_RUNS"); do
		rm -f "$out"
		timed "$name" full "${cmd[@]}"
		got=$(bare_items "$out" "$t")
		[ "$R_RC" = 0 ] || ok="FAIL(rc=$R_RC)"
		[ "$got" = "$n" ] || ok="FAIL(got $got)"
		walls+=("$R_WALL")
		[ "$R_RSS" -gt "$rss" ] && rss=$R_RSS
	done
	R_WALL=$(median "${walls[@]}")
	printf '# %-10s %-5s N=%-6s full %ss (median of %s, %s bytes) %s\n' \
		bare "$t" "$n" "$R_WALL" "$BARE_RUNS" "$(wc -c <"$out")" "$ok"
	row "$t" "$n" bare full "$R_WALL" "$rss" "$R_CPU" "$R_SRV" "$ok"
}

# files_case TYPE N: the bare answer's items as durable files (see above)
files_case() {
	local t=$1 n=$2 dir=$FOLDERS/files-$1-$2 got ok=ok
	rm -rf "$dir"
	mkdir -p "$dir"
	timed "files-$t-$n" full "$E2T_PY" - "$WORK/bare-$t-$n.xml" "$dir" <<'PY'
import os, re, sys
src, d = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
items = re.findall(rb"<[^>]*(?:address|calendar)-data[^>]*>(.*?)</", data, re.S)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
for i, body in enumerate(items):
    tmp = os.path.join(d, ".t%d.tmp" % i)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, body)
    os.fsync(fd)
    os.close(fd)
    os.link(tmp, os.path.join(d, "i%d.item" % i))
    os.unlink(tmp)
    if i % 256 == 255:
        os.fsync(dfd)
os.fsync(dfd)
PY
	got=$(find "$dir" -name '*.item' | wc -l)
	[ "$R_RC" = 0 ] || ok="FAIL(rc=$R_RC)"
	[ "$got" = "$n" ] || ok="FAIL(got $got)"
	printf '# %-10s %-5s N=%-6s full %ss %s\n' files "$t" "$n" "$R_WALL" "$ok"
	row "$t" "$n" files full "$R_WALL" "$R_RSS" "$R_CPU" "$R_SRV" "$ok"
	rm -rf "$dir"
}

# ---- one client: full, noop1, noop ------------------------------------------------

# run_case CLIENT TYPE N COUNTDIR CMD...
run_case() {
	local client=$1 t=$2 n=$3 cdir=$4 name=$1-$2-$3 got ok walls=()
	local rss=0 cpu srv i
	shift 4
	printf '# %-10s %-5s N=%-6s full ...' "$client" "$t" "$n"
	timed "$name" full "$@"
	got=$(count_items "$cdir")
	ok=ok
	[ "$R_RC" = 0 ] || ok="FAIL(rc=$R_RC)"
	[ "$got" = "$n" ] || ok="FAIL(got $got)"
	printf ' %ss %s\n' "$R_WALL" "$ok"
	[ "$ok" = ok ] || tail -n 5 "$WORK/$name-full.log" | sed 's/^/#    /'
	row "$t" "$n" "$client" full "$R_WALL" "$R_RSS" "$R_CPU" "$R_SRV" "$ok"
	ok=ok
	for i in $(seq 0 "$NOOP_RUNS"); do
		sleep 2.5
		timed "$name" noop "$@"
		[ "$R_RC" = 0 ] || ok="FAIL(rc=$R_RC)"
		got=$(count_items "$cdir")
		[ "$got" = "$n" ] || ok="FAIL(got $got)"
		if [ "$i" = 0 ]; then
			printf '# %-10s %-5s N=%-6s noop1 %ss %s\n' "$client" \
				"$t" "$n" "$R_WALL" "$ok"
			row "$t" "$n" "$client" noop1 "$R_WALL" "$R_RSS" \
				"$R_CPU" "$R_SRV" "$ok"
			[ "$ok" = ok ] || tail -n 5 "$WORK/$name-noop.log" |
				sed 's/^/#    /'
			ok=ok
			continue
		fi
		walls+=("$R_WALL")
		[ "$R_RSS" -gt "$rss" ] && rss=$R_RSS
		cpu=$R_CPU srv=$R_SRV
	done
	R_WALL=$(median "${walls[@]}")
	printf '# %-10s %-5s N=%-6s noop %ss (median of %s) %s\n' "$client" \
		"$t" "$n" "$R_WALL" "$NOOP_RUNS" "$ok"
	[ "$ok" = ok ] || tail -n 5 "$WORK/$name-noop.log" | sed 's/^/#    /'
	row "$t" "$n" "$client" noop "$R_WALL" "$rss" "$cpu" "$srv" "$ok"
	[ -n "${E2T_KEEP:-}" ] || rm -rf "$cdir"
}

# ---- email2 ---------------------------------------------------------------------------

# email2_case TYPE N: a fresh store, the account provisioned with its
# contacts and calendars server
email2_case() {
	local t=$1 n=$2 kind=contacts dir
	[ "$t" = cal ] && kind=calendars
	STORE=$FOLDERS/email2-$t-$n
	GUID=$(printf '{DA7BE4C0-0000-4000-8000-%012d}' "$n")
	export GUID
	rm -rf "$STORE"
	sync_provision IMAP4 "$E2T_IMAPS_PORT" \
		"CONTACTSSERVER=$URL" "CALENDARSERVER=$URL" \
		CONTACTSSERVERREQUIRESSL=1 CALENDARSERVERREQUIRESSL=1 ||
		e2t_fatal "email2-provision failed"
	# SYNCINGCONTENTTYPES 15 (contacts, mail, appointments, tasks) for
	# sync_provision's 0x2, as syncd-dav.sh does
	sed -i 's|name="SYNCINGCONTENTTYPES" value="0x2"|name="SYNCINGCONTENTTYPES" value="15"|' \
		"$E2T_DIR/acct.xml"
	"$PROVISION" --store "$STORE" "$E2T_DIR/acct.xml" >/dev/null ||
		e2t_fatal "email2-provision failed"
	dir=$STORE/$kind/$GUID
	case $E2_SIDE in
	syncd)
		# shellcheck disable=SC2086 # BENCH_E2_WRAP: words on purpose
		run_case email2 "$t" "$n" "$dir" "${SYNCD_ENV[@]}" \
			${BENCH_E2_WRAP:-} "$SYNCD_BIN" --once --quiet \
			--store "$STORE" --cafile "$E2T_CA" --account "$GUID" \
			--content "$kind"
		;;
	*)
		# shellcheck disable=SC2086
		run_case email2 "$t" "$n" "$dir" ${BENCH_E2_WRAP:-} "$TOOL" \
			--store "$STORE" --guid "$GUID" --cafile "$E2T_CA" \
			--user "$E2T_USER" "$URL" "$t"
		;;
	esac
}

# ---- vdirsyncer ----------------------------------------------------------------------

vdirsyncer_case() { # TYPE N
	local t=$1 n=$2 d=$FOLDERS/vdirsyncer-$1-$2 ext=.vcf type=carddav
	[ "$t" = cal ] && ext=.ics type=caldav
	rm -rf "$d"
	mkdir -p "$d/data" "$d/status"
	cat >"$d/config" <<EOF
[general]
status_path = "$d/status/"

[pair bench]
a = "bench_local"
b = "bench_remote"
collections = ["from b"]

[storage bench_local]
type = "filesystem"
path = "$d/data/"
fileext = "$ext"

[storage bench_remote]
type = "$type"
url = "$URL"
username = "$E2T_USER"
password.fetch = ["command", "cat", "$E2T_PASSFILE"]
verify = "$E2T_CA"
EOF
	# untimed: finds the collection, creates the local one (asks)
	yes | e2t_run timeout "$TOOL_TIMEOUT" vdirsyncer -c "$d/config" \
		discover >"$WORK/vdirsyncer-$t-$n-discover.log" 2>&1 ||
		{
			echo "# vdirsyncer discover failed:"
			tail -n 5 "$WORK/vdirsyncer-$t-$n-discover.log" |
				sed 's/^/#    /'
		}
	run_case vdirsyncer "$t" "$n" "$d/data" vdirsyncer -c "$d/config" \
		sync
}

# ---- the runs -----------------------------------------------------------------------------

echo "# sizes: $SIZES; types: $TYPES; email2 side: $E2_SIDE; $(nproc) cores," \
	"load $(cut -d' ' -f1-3 /proc/loadavg); folders on $FSTYPE ($FOLDERS)"
for n in $SIZES; do
	echo "# filling: $n vCards, $n events"
	fill "$n"
	for t in card cal; do
		bare_case "$t" "$n" warm
	done
	for t in $TYPES; do
		bare_case "$t" "$n"
		files_case "$t" "$n"
		want email2 && email2_case "$t" "$n"
		want vdirsyncer && vdirsyncer_case "$t" "$n"
	done
done
for t in $TYPES; do
	got=$(find "$RROOT/$(coll_of "$t")" -maxdepth 1 -type f \
		\( -name '*.vcf' -o -name '*.ics' \) | wc -l)
	[ "$got" = "$n" ] ||
		echo "# WARNING: Radicale holds $got items in $(coll_of "$t") now, not $n"
done

# ---- the table -----------------------------------------------------------------------------

REPORT=$("$E2T_PY" - "$ROWS" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
val = {}
for t, n, client, run, wall, rss, cpu, srv, ok in rows:
    if ok == "ok":
        val[(t, n, client, run)] = (float(wall), int(rss))
tname = {"card": "contacts", "cal": "events"}
out = ["| type | N | client | run | wall s | items/s | peak RSS MB "
       "| client CPU s | Radicale CPU s | e2/vds time | e2/vds RSS "
       "| e2/bare time | check |",
       "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
for t, n, client, run, wall, rss, cpu, srv, ok in rows:
    w, r = float(wall), int(rss)
    ips = f"{int(n) / w:.0f}" if run == "full" and w > 0 else "-"
    tr = rr = br = "-"
    if client == "email2" and ok == "ok":
        v = val.get((t, n, "vdirsyncer", run))
        if v and v[0] > 0:
            tr = f"{w / v[0]:.2f}"
            rr = f"{r / v[1]:.2f}" if v[1] else "-"
        b = val.get((t, n, "bare", "full"))
        if run == "full" and b and b[0] > 0:
            br = f"{w / b[0]:.2f}"
    out.append(f"| {tname.get(t, t)} | {n} | {client} | {run} | {w:.2f} "
               f"| {ips} | {r / 1024:.1f} | {cpu} | {srv} | {tr} | {rr} "
               f"| {br} | {ok} |")
out.append("")
# the goals
sizes = sorted({(t, n) for t, n, *_ in rows}, key=lambda k: (k[0] != "card", int(k[1])))
def verdict(ok):
    return "met" if ok else "NOT met"
for t, n in sizes:
    e = val.get((t, n, "email2", "full"))
    v = val.get((t, n, "vdirsyncer", "full"))
    b = val.get((t, n, "bare", "full"))
    if not (e and v and b):
        out.append(f"- full, {tname.get(t, t)}, N={n}: NOT met (a run "
                   "failed or is missing)")
        continue
    ok = e[0] < v[0] and e[0] <= 1.5 * b[0]
    out.append(f"- full, {tname.get(t, t)}, N={n}: email2 {e[0]:.2f} s, "
               f"vdirsyncer {v[0]:.2f} s ({e[0] / v[0]:.2f}x), bare stream "
               f"{b[0]:.2f} s ({e[0] / b[0]:.2f}x, goal <= 1.5x): "
               f"{verdict(ok)}")
    f = val.get((t, n, "files", "full"))
    if f:
        fl = b[0] + f[0]
        out.append(f"  - against the floor on this file system, bare stream "
                   f"+ durable files {b[0]:.2f} + {f[0]:.2f} = {fl:.2f} s: "
                   f"email2 {e[0] / fl:.2f}x (<= 1.5x: "
                   f"{verdict(e[0] <= 1.5 * fl)})")
for t, n in sizes:
    e = val.get((t, n, "email2", "noop"))
    v = val.get((t, n, "vdirsyncer", "noop"))
    if not (e and v):
        out.append(f"- steady noop, {tname.get(t, t)}, N={n}: NOT met (a "
                   "run failed or is missing)")
        continue
    f = v[0] / e[0] if e[0] > 0 else float("inf")
    out.append(f"- steady noop, {tname.get(t, t)}, N={n}: email2 "
               f"{e[0]:.3f} s, vdirsyncer {v[0]:.3f} s ({f:.1f}x faster, "
               f"goal >= 10x): {verdict(f >= 10)}")
print("\n".join(out))
EOF
)
echo
echo "$REPORT"
echo
echo "e2/vds: email2's value over vdirsyncer's, same type, size and run;" \
	"e2/bare: email2's full sync over the bare stream (below 1: faster)."

ver() { "$@" 2>&1 | head -n 1 | tr -d '\r'; }
{
	echo
	echo "## bench-dav.sh $SIZES -- $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- host: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)); harness $E2T_MODE"
	echo "- email2: $(git -C "$BENCH_DIR" describe --always --dirty 2>/dev/null), build $E2_TOP_BUILDDIR, side $E2_SIDE"
	echo "- radicale $(dpkg-query -W -f='${Version}' radicale 2>/dev/null); $(ver vdirsyncer --version); $(ver curl --version | cut -d' ' -f1-2)"
	echo "- items: rad_fill (harness/radicale.sh), written into Radicale's storage, warmed by one REPORT"
	echo "- the clients' folders on $FSTYPE${BENCH_FOLDERS:+ (BENCH_FOLDERS=$BENCH_FOLDERS)}"
	bench_results "$REPORT"
} >>"$RESULTS"
bench_exit 9
