/* SPDX-License-Identifier: MIT */
/* fuzz_trace.c -- libFuzzer harness for the -v trace framer (see run.sh) */
/* fuzz-sources: transports/trace.c */
/* (no fuzz-pkgs line: libc only, run.sh needs no pkg-config module) */
#include "config.h"

#include "transports/trace.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input: one byte for the protocol (% 3), then chunks: a header byte
 * h and (h & 0x3f) + 1 bytes. h & 0x80: the bytes were sent, else
 * received; h & 0x40: instead of bytes, one redacted write (h & 1: a new
 * secret step first). The trace goes to memory and must hold only lines
 * that start with the protocol's prefix and carry no control byte but
 * their LF and no byte above 0x7e: nothing a server sends reaches the
 * terminal raw, whatever the framing state.
 */
static const char *const fuzz_trace_sides[] = {"imap", "pop3", "smtp"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0, i = 1;
	enum guard_proto proto;
	struct trace t;
	const char *side;
	FILE *f;

	if (size < 1)
		return 0;
	proto = (enum guard_proto)(data[0] % 3);
	side = fuzz_trace_sides[proto];
	f = open_memstream(&out, &len);
	if (f == NULL)
		return 0;
	trace_init(&t, f, proto);
	while (i < size) {
		uint8_t h = data[i++];
		size_t n = (size_t)(h & 0x3f) + 1;

		if ((h & 0x40) != 0) {
			if ((h & 1) != 0)
				trace_secret_begin(&t);
			trace_redacted(&t, "AUTH PLAIN");
			continue;
		}
		if (n > size - i)
			n = size - i;
		trace_feed(&t, (h & 0x80) != 0, data + i, n);
		i += n;
	}
	trace_finish(&t);
	if (fclose(f) != 0)
		abort();
	for (size_t k = 0; k < len;) {
		size_t e = k;

		if (strncmp(out + k, side, 4) != 0 ||
		    strchr("<>:", out[k + 4]) == NULL || out[k + 5] != ' ')
			abort();
		while (e < len && out[e] != '\n') {
			unsigned char c = (unsigned char)out[e];

			if (c < 0x20 || c > 0x7e)
				abort();
			e++;
		}
		if (e == len)
			abort(); /* every line ends */
		k = e + 1;
	}
	free(out);
	return 0;
}
