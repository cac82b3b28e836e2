/* SPDX-License-Identifier: MIT */
/* fuzz_locuri.c -- libFuzzer harness for csp_locuri_parse() (see run.sh) */
/* fuzz-sources: csp/csp_locuri.c engine/guid.c engine/err.c */
/* fuzz-pkgs: libcrypto */
#include "config.h"

#include "csp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Letters, digits, "-", "_" and at most one "/" between two of them. */
static void
fuzz_locuri_check_node(const char *node, unsigned depth)
{
	size_t slashes = 0;
	size_t len = strlen(node);

	if (depth < 2) {
		if (len != 0)
			abort();
		return;
	}
	if (len == 0 || node[0] == '/' || node[len - 1] == '/')
		abort();
	for (size_t i = 0; i < len; i++) {
		char c = node[i];

		if (c == '/') {
			slashes++;
			continue;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			abort();
	}
	if (slashes != depth - 2)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csp_path path;
	struct e2_err err;
	char *uri;
	size_t glen;

	uri = malloc(size + 1);
	if (uri == NULL)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	e2_err_clear(&err);
	memset(&path, 0, sizeof(path));
	if (csp_locuri_parse(uri, &path, &err) != E2_OK) {
		if (err.msg[0] == '\0')
			abort();
		free(uri);
		return 0;
	}
	if (path.depth > 3)
		abort();
	glen = strnlen(path.guid, sizeof(path.guid));
	if (glen == sizeof(path.guid))
		abort();
	if (path.depth == 0 && glen != 0)
		abort();
	/* "{" 8-4-4-4-(11|12) "}" */
	if (path.depth > 0 && (glen < 37 || glen > 38 || path.guid[0] != '{' ||
			       path.guid[glen - 1] != '}'))
		abort();
	if (strnlen(path.node, sizeof(path.node)) == sizeof(path.node))
		abort();
	fuzz_locuri_check_node(path.node, path.depth);
	free(uri);
	return 0;
}
