/* SPDX-License-Identifier: MIT */
/* fuzz_outbox_scan.c -- libFuzzer harness for outbox_scan() (see run.sh) */
/* fuzz-sources: engine/outbox_scan.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
#include "config.h"

#include "outbox_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The oracle, written apart from the scan: the wire copy has CRLF line
 * ends only and no NUL; its header (up to the first empty line), unfolded
 * (CRLF before SP or HT removed), has no line whose name -- the text
 * before the first colon, trailing white space dropped -- is Bcc or
 * Resent-Bcc in any case, and no line starting with white space.
 */
static void
fuzz_outbox_check_wire(const char *w, size_t len)
{
	char *h = malloc(len + 1);
	size_t n = 0, i = 0, line = 0;

	if (h == NULL)
		abort();
	for (size_t k = 0; k < len; k++) {
		if (w[k] == '\0')
			abort();
		if (w[k] == '\r' && (k + 1 >= len || w[k + 1] != '\n'))
			abort();
		if (w[k] == '\n' && (k == 0 || w[k - 1] != '\r'))
			abort();
	}
	/* the header, unfolded */
	while (i < len) {
		if (w[i] == '\r' && i + 1 < len && w[i + 1] == '\n') {
			if (i == line)
				break; /* the empty line */
			if (i + 2 < len &&
			    (w[i + 2] == ' ' || w[i + 2] == '\t')) {
				i += 2; /* folding */
				continue;
			}
			h[n++] = '\n';
			i += 2;
			line = i;
			continue;
		}
		h[n++] = w[i++];
	}
	h[n] = '\0';
	for (char *p = h; *p != '\0';) {
		char *e = strchr(p, '\n'), *colon;
		size_t nl;

		if (e != NULL)
			*e = '\0';
		if (p[0] == ' ' || p[0] == '\t')
			abort();
		colon = strchr(p, ':');
		if (colon != NULL) {
			nl = (size_t)(colon - p);
			while (nl > 0 &&
			       (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
				nl--;
			if ((nl == 3 && strncasecmp(p, "bcc", 3) == 0) ||
			    (nl == 10 && strncasecmp(p, "resent-bcc", 10) == 0))
				abort();
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox_scan s = {0};
	struct e2_err err = {0};

	if (outbox_scan((const char *)data, size, &s, &err) != E2_OK) {
		if (s.wire != NULL || s.nrcpt != 0 || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (s.wire == NULL || s.wire[s.wire_len] != '\0' || s.nrcpt == 0)
		abort();
	fuzz_outbox_check_wire(s.wire, s.wire_len);
	for (size_t i = 0; i < s.nrcpt; i++) {
		if (!outbox_addr_ok(s.rcpt[i]))
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(s.rcpt[i], s.rcpt[j]) == 0)
				abort();
	}
	if (memchr(data, '\0', size) != NULL)
		abort(); /* a NUL must have been refused */
	outbox_scan_free(&s);
	return 0;
}
