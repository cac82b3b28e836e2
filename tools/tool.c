/* SPDX-License-Identifier: MIT */
/* tool.c -- helpers shared by the email2 command-line tools */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum e2_status
tool_read_file(const char *path, size_t max, char **buf_out, size_t *len_out,
	       struct e2_err *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	enum e2_status rc = E2_OK;
	bool is_stdin = strcmp(path, "-") == 0;

	f = is_stdin ? stdin : fopen(path, "rb");
	if (f == NULL)
		return e2_fail(err, E2_EINVAL, "%s: %s", path, strerror(errno));
	for (;;) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 65536 : cap * 2;
			char *nbuf;

			if (cap > max) {
				rc = e2_fail(err, E2_EINVAL,
					     "%s: larger than %zu bytes", path,
					     max);
				goto out;
			}
			nbuf = realloc(buf, ncap + 1);
			if (nbuf == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = e2_fail(err, E2_EINVAL, "%s: read error", path);
		goto out;
	}
	if (len > max) {
		rc = e2_fail(err, E2_EINVAL, "%s: larger than %zu bytes", path,
			     max);
		goto out;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	buf = NULL;
out:
	free(buf);
	if (f != NULL && !is_stdin)
		fclose(f);
	return rc;
}

void
tool_print_version(const char *name)
{
	printf("%s (email2) %s\n", name, e2_version());
}

void
tool_print_error(const char *name, const struct e2_err *err)
{
	fprintf(stderr, "%s: %s\n", name,
		err->msg[0] != '\0' ? err->msg : e2_status_name(err->code));
}
