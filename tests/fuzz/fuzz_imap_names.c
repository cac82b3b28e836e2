/* SPDX-License-Identifier: MIT */
/* fuzz_imap_names.c -- libFuzzer harness for the IMAP folder name codec */
/* fuzz-sources: engine/imap_names.c engine/err.c */
/* fuzz-pkgs: libcrypto */
/*
 * Input: byte 0 is the server's hierarchy separator, the rest a name as a
 * server sends it (LIST, untrusted) and, read again, as a local directory.
 * Checks (imap_names.h):
 * - a name the strict decoder accepts encodes back to exactly itself,
 *   and its UTF-8 is accepted by the encoder;
 * - whatever the encoder makes is valid and decodes back to its input;
 * - a directory name that maps gives a name of printable ASCII (modified
 *   UTF-7, no wildcard, no control byte) that is valid modified UTF-7 and
 *   never INBOX; with utf8 it is UTF-8 the encoder accepts.
 */
#include "config.h"

#include "imap_names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_name(const char *name, bool utf8)
{
	struct e2_err err = {0};
	char *enc = NULL;

	if (strcasecmp(name, "INBOX") == 0 || strchr(name, '*') != NULL ||
	    strchr(name, '%') != NULL)
		abort();
	for (const unsigned char *p = (const unsigned char *)name; *p != 0; p++)
		if (*p < 0x20 || *p == 0x7f || (!utf8 && *p > 0x7e))
			abort();
	if (!utf8 && !imap_names_mutf7_valid(name))
		abort();
	if (utf8 && imap_names_mutf7_encode(name, &enc, &err) != E2_OK)
		abort();
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2_err err = {0};
	char *buf, *dec = NULL, *enc = NULL, *back = NULL, *name = NULL;
	char sep;

	if (size < 1)
		return 0;
	sep = (char)data[0];
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';

	if (imap_names_mutf7_decode(buf, &dec, &err) == E2_OK) {
		if (!imap_names_mutf7_valid(buf))
			abort();
		if (imap_names_mutf7_encode(dec, &enc, &err) != E2_OK ||
		    strcmp(enc, buf) != 0)
			abort();
		free(enc);
		enc = NULL;
	} else if (imap_names_mutf7_valid(buf) || err.msg[0] == '\0') {
		abort();
	}
	if (imap_names_mutf7_encode(buf, &enc, &err) == E2_OK) {
		if (imap_names_mutf7_decode(enc, &back, &err) != E2_OK ||
		    strcmp(back, buf) != 0)
			abort();
	}
	for (int utf8 = 0; utf8 < 2; utf8++) {
		memset(&err, 0, sizeof(err));
		if (imap_names_from_dir(buf, sep, utf8 != 0, &name, &err) ==
		    E2_OK) {
			fuzz_check_name(name, utf8 != 0);
			free(name);
			name = NULL;
		} else if (err.msg[0] == '\0') {
			abort();
		}
	}
	free(back);
	free(enc);
	free(dec);
	free(buf);
	return 0;
}
