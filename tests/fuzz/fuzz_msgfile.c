/* SPDX-License-Identifier: MIT */
/* fuzz_msgfile.c -- libFuzzer harness for msgfile_check() / msgfile_wire() */
/* fuzz-sources: engine/msgfile.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
/*
 * Input: a Maildir file another program wrote (msgfile.h), checked with a
 * cap of 64 KiB. Checks: an accepted file has no NUL and a header field
 * first; the Message-ID kept is printable ASCII with no space, '"' or
 * '\\'; a date kept is in range; msgfile_wire() writes exactly wire_size
 * bytes, which are the input with a CR before each bare LF.
 */
#include "config.h"

#include "msgfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct msgfile_info info;
	struct e2_err err = {0};
	char *out;
	size_t o = 0;

	if (msgfile_check(buf, size, 65536, &info, &err) != E2_OK) {
		if (err.code != E2_EINVAL || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (size == 0 || memchr(buf, '\0', size) != NULL || buf[0] == ':')
		abort();
	for (const char *p = info.message_id; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~' ||
		    *p == '"' || *p == '\\')
			abort();
	if (info.has_date &&
	    (info.date.month < 1 || info.date.month > 12 || info.date.day < 1 ||
	     info.date.day > 31 || info.date.sec > 59))
		abort();
	if (info.wire_size < size || info.wire_size > 2 * size)
		abort();
	/* one byte more, so an overrun shows */
	out = malloc(info.wire_size + 1);
	if (out == NULL)
		return 0;
	out[info.wire_size] = 'Z';
	msgfile_wire(buf, size, out);
	if (out[info.wire_size] != 'Z')
		abort();
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
			if (out[o++] != '\r')
				abort();
		}
		if (out[o++] != buf[i])
			abort();
	}
	if (o != info.wire_size)
		abort();
	free(out);
	return 0;
}
