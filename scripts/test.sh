#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh -- run every test of email2 on this machine, from nothing:
# install the missing Debian packages, build with AddressSanitizer,
# UndefinedBehaviorSanitizer and -Werror, run `make check` (unit tests and
# the Dovecot integration tests), fuzz every parser of untrusted bytes for a bounded
# time, check the style (clang-format) and run cppcheck, run `make
# distcheck`, and print the totals as one line
# "N passed, N failed".
#   E2_BUILD_DIR     build directory (default _build/test)
#   E2_FUZZ_SECONDS  seconds of fuzzing in all, split between the harnesses
#                    (default 300; 0 skips fuzzing)
#   E2_NO_DISTCHECK  set to skip make distcheck
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
BUILD=${E2_BUILD_DIR:-$TOP/_build/test}
JOBS=$(nproc 2>/dev/null || echo 2)
step() { printf '\n==> %s\n' "$*"; }

step "installing missing packages"
"$TOP/scripts/install-deps.sh" || { echo "install-deps failed"; exit 1; }

step "building with sanitizers in $BUILD"
./autogen.sh >"$TOP/_autogen.log" 2>&1 || { cat "$TOP/_autogen.log"; exit 1; }
rm -f "$TOP/_autogen.log"
mkdir -p "$BUILD"
cd "$BUILD" || exit 1
"$TOP/configure" -q --enable-sanitizers --enable-werror || exit 1
make -j"$JOBS" >make.log 2>&1 || { cat make.log; echo "build failed"; exit 1; }

step "make check"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
make -j"$JOBS" check >check.log 2>&1
check_rc=$?
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.log
if [ $check_rc -ne 0 ]; then
	for log in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
		echo "---- ${log%.trs}.log"
		tail -n 60 "${log%.trs}.log"
	done
fi

passed=0 failed=0 skipped=0
# Check programs: "NN%: Checks: N, Failures: F, Errors: E" per program.
# Scripts: their own "N passed, N failed" line. A test that printed
# neither counts as one, by its automake result.
for trs in $(find tests -name '*.trs' | sort); do
	log=${trs%.trs}.log
	res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + n - f - e)); failed=$((failed + f + e))
		[ "$res" = PASS ] || [ $((f + e)) -gt 0 ] || failed=$((failed + 1))
		continue
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ] && [ "$res" != SKIP ]; then
		p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
		passed=$((passed + p)); failed=$((failed + f))
		[ "$res" = PASS ] || [ "$f" -gt 0 ] || failed=$((failed + 1))
		continue
	fi
	case $res in
	PASS | XFAIL) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done

if [ "${E2_FUZZ_SECONDS:-300}" != 0 ] && [ -x "$TOP/tests/fuzz/run.sh" ]; then
	step "fuzzing every harness (${E2_FUZZ_SECONDS:-300} s in all)"
	if "$TOP/tests/fuzz/run.sh" "${E2_FUZZ_SECONDS:-300}"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
fi

step "style and static analysis (make format-check, make lint)"
for target in format-check lint; do
	if make "$target" >"$target.log" 2>&1; then
		echo "$target: ok"
		passed=$((passed + 1))
	else
		tail -n 20 "$target.log"
		echo "$target: FAILED"
		failed=$((failed + 1))
	fi
done

if [ -z "${E2_NO_DISTCHECK:-}" ]; then
	step "make distcheck"
	# The tarball is built and checked from a read-only source tree with
	# the unit tests and a few light scripts: the full integration suite
	# ran above already, and running it twice doubled CI's time.
	dist_tests=$(cd "$TOP" && ls tests/unit/check_*.c | sed 's/\.c$//' |
		grep -v '^tests/unit/testutil' | tr '\n' ' ')
	dist_tests="$dist_tests tests/integration/provision.sh tests/integration/cli.sh tests/integration/vdir.sh"
	if timeout --kill-after=60 2400 make -j"$JOBS" distcheck \
		TESTS="$dist_tests" >distcheck.log 2>&1; then
		passed=$((passed + 1))
		grep -E 'archives ready|\.tar\.gz' distcheck.log | tail -n 2
	else
		tail -n 40 distcheck.log
		echo "distcheck failed"
		failed=$((failed + 1))
	fi
fi

step "totals"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
