/* SPDX-License-Identifier: MIT */
/* fuzz_http_header.c -- libFuzzer harness for http_response_header() */
/* fuzz-sources: transports/http.c transports/xport_tls.c */
/* fuzz-sources: transports/xport_tcp.c engine/err.c */
/* fuzz-pkgs: libcurl libssl libcrypto */
#include "config.h"

#include "transports/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
fuzz_http_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Each line (ending in LF, or the rest) is one header line, as libcurl
 * hands them over; every kept value must be a NUL-terminated string. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r = {0};
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;

	r.content_length = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len =
			nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *line = malloc(len > 0 ? len : 1);

		if (line == NULL)
			break;
		memcpy(line, p, len);
		(void)http_response_header(&r, line, len);
		free(line);
		p += len;
	}
	n += fuzz_http_len(r.etag) + fuzz_http_len(r.dav) +
	     fuzz_http_len(r.content_type) + fuzz_http_len(r.location);
	if (fuzz_http_len(r.dav) > 4096 || r.content_length < -1)
		abort();
	http_response_clear(&r);
	return n == SIZE_MAX;
}
