#!/bin/bash
# SPDX-License-Identifier: MIT
# header.sh -- the installed <email2.h> stands alone (issue 9): `make
# install-data DESTDIR=...` (headers, pkg-config file, man pages), then a
# program that uses the public API compiles with -I pointing at the
# installed include directory only; the installed headers name no file
# that is not installed; the version macros are configure's.
set -u
top=${E2_TOP_BUILDDIR:-$PWD}
cc=${CC:-cc}
passed=0
failed=0
check() {
	local name=$1
	shift
	if "$@" >"$dest/check.out" 2>&1; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		sed 's/^/#    /' "$dest/check.out" | tail -n 15
		failed=$((failed + 1))
	fi
}
command -v "$cc" >/dev/null || exit 77
dest=$(mktemp -d "${TMPDIR:-/tmp}/e2-header.XXXXXX") || exit 99
trap 'rm -rf "$dest"' EXIT
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" install-data \
	DESTDIR="$dest/root" >"$dest/install.log" 2>&1 || {
	cat "$dest/install.log"
	exit 99
}
inc=$(dirname "$(find "$dest/root" -name email2.h | head -n 1)")
[ -f "$inc/email2.h" ] || {
	echo "no installed email2.h under $dest/root"
	exit 99
}
check "email2.h and email2-version.h are installed side by side" \
	test -f "$inc/email2-version.h"

cat >"$dest/prog.c" <<'EOF'
#include <email2.h>

#include <string.h>

_Static_assert(E2_VERSION_NUMBER ==
		       ((E2_VERSION_MAJOR << 16) | (E2_VERSION_MINOR << 8) |
			E2_VERSION_PATCH),
	       "version macros");

int list_accounts(const char *dir);

int
list_accounts(const char *dir)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	struct e2_account_info *v = NULL;
	struct e2_node_result res;
	size_t n = 0;
	int ok;

	if (strcmp(e2_version(), E2_VERSION_STRING) != 0)
		return -1;
	if (e2_store_open(dir, &st, &err) != E2_OK)
		return -1;
	ok = e2_account_list_info(st, &v, &n, &err) == E2_OK;
	for (size_t i = 0; ok && i < n; i++)
		ok = v[i].service == E2_SERVICE_IMAP4 ||
		     v[i].status.result != E2_SYNC_NEVER;
	if (ok && n > 0)
		ok = e2_node_set(st, v[0].guid, "INSERVER", "host:993", &res,
				 &err) == E2_OK &&
		     res.code == 200;
	e2_account_infos_free(&v, n);
	e2_store_close(&st);
	return ok ? 0 : 1;
}
EOF
# only the installed directory: no -I of the source or build tree
check "a program using the API compiles against the installed header" \
	"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -I"$inc" \
	-c "$dest/prog.c" -o "$dest/prog.o"
if command -v c++ >/dev/null; then
	printf '#include <email2.h>\nint main() { return e2_version() ? 0 : 1; }\n' \
		>"$dest/prog.cc"
	check "and as C++ (extern \"C\")" c++ -Wall -Werror -I"$inc" \
		-fsyntax-only "$dest/prog.cc"
fi
# file names in the installed headers' text, outside #include lines
named() {
	grep -hv '^#include' "$inc/email2.h" "$inc/email2-version.h" |
		grep -oE '[A-Za-z0-9_./-]+\.(c|h|md|in)\b' | sort -u |
		grep -vxE 'email2(-version)?\.h'
	return 0
}
check "the installed headers point at no file that is not installed" \
	test -z "$(named)"
check "no source directory is named (engine/, csp/, transports/)" \
	bash -c "! grep -nE '(engine|csp|transports|tools)/' '$inc/email2.h' '$inc/email2-version.h'"
want=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top/config.h")
got=$(printf '#include <email2.h>\nE2_VERSION_STRING\n' |
	"$cc" -E -P -I"$inc" - | tail -n 1)
check "E2_VERSION_STRING is configure's version ($want)" \
	test "$got" = "\"$want\""
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
