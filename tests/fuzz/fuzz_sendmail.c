/* SPDX-License-Identifier: MIT */
/* fuzz_sendmail.c -- libFuzzer harness for email2-sendmail's input checks */
/* fuzz-sources: engine/outbox_scan.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
#include "config.h"

#include "outbox_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The first byte chooses the flags (bit 0: -i, bit 1: -t), the rest is
 * standard input. What email2-sendmail does before it writes anything:
 * e2_sendmail_input() (NUL, a lone "." line), then the queue's own scan
 * of what is kept (e2_outbox_submit(): outbox_scan_ex()). Oracle: the kept
 * part is a prefix, has no NUL byte, and, without -i, no line that is "."
 * alone; without -i the cut is at a lone dot or at the end.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len, kept = 0;
	bool dot_ends, from_headers;
	struct outbox_scan sc = {0};
	struct e2_err err = {0};

	if (size == 0)
		return 0;
	dot_ends = (data[0] & 1) == 0;
	from_headers = (data[0] & 2) != 0;
	len = size - 1;
	if (e2_sendmail_input(in, len, dot_ends, &kept, &err) != E2_OK) {
		if (memchr(in, '\0', len) == NULL || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (kept > len || memchr(in, '\0', kept) != NULL)
		abort();
	if (!dot_ends && kept != len)
		abort();
	for (size_t i = 0; dot_ends && i < kept; i++) {
		if (in[i] != '.' || (i > 0 && in[i - 1] != '\n'))
			continue;
		if (i + 1 == kept || in[i + 1] == '\n' ||
		    (in[i + 1] == '\r' && (i + 2 == kept || in[i + 2] == '\n')))
			abort(); /* a lone dot was kept */
	}
	if (dot_ends && kept < len && in[kept] != '.')
		abort();
	if (outbox_scan_ex(in, kept, from_headers, &sc, &err) == E2_OK) {
		if (from_headers && sc.nrcpt == 0)
			abort();
		for (size_t i = 0; i < sc.nrcpt; i++)
			if (!outbox_addr_ok(sc.rcpt[i]))
				abort();
		if (memchr(sc.wire, '\0', sc.wire_len) != NULL)
			abort();
	} else if (err.msg[0] == '\0') {
		abort();
	}
	outbox_scan_free(&sc);
	return 0;
}
