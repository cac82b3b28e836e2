/* SPDX-License-Identifier: MIT */
/* fuzz_vdir_name.c -- libFuzzer harness for vdir item and collection names */
/* fuzz-sources: engine/vdir.c engine/grow.c engine/err.c */
/* fuzz-pkgs: libcrypto */
/*
 * Input: byte 0 picks the extension (bit 0: ics, else vcf) and a
 * collection candidate (bits 1-4); the rest is an item's content (a file
 * another program wrote, or a server's) and, as a string, an href. Checks
 * (vdir.h):
 * - vdir_item_name() always gives a name, which vdir_name_ok() accepts,
 *   ends in the extension, has no "/", no "." first, never ends in ".tmp";
 * - the same bytes give the same name, and turning every CRLF into LF
 *   gives the same name unless it is the content hash ("nouid-");
 * - a collection name has no "/", no "." first, is never "" or "..".
 */
#include "config.h"

#include "vdir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_name(const char *name, const char *ext)
{
	size_t len = strlen(name);

	if (!vdir_name_ok(name) || strchr(name, '/') != NULL ||
	    name[0] == '.' || len < 5 || strcmp(name + len - 3, ext) != 0 ||
	    name[len - 4] != '.')
		abort();
}

static bool
fuzz_has_crlf(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '\r' && s[i + 1] == '\n')
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2_err err = {0};
	char name[VDIR_NAME_SIZE];
	char again[VDIR_NAME_SIZE];
	char coll[128];
	const char *ext;
	const char *body;
	char *lf;
	char *href;
	size_t blen;
	size_t n = 0;

	if (size < 1)
		return 0;
	ext = (data[0] & 1) != 0 ? "ics" : "vcf";
	body = (const char *)data + 1;
	blen = size - 1;
	if (vdir_item_name(body, blen, ext, name, sizeof(name), &err) != E2_OK)
		abort();
	fuzz_check_name(name, ext);
	if (vdir_item_name(body, blen, ext, again, sizeof(again), &err) !=
		    E2_OK ||
	    strcmp(name, again) != 0)
		abort();
	lf = malloc(blen + 1);
	href = malloc(blen + 1);
	if (lf == NULL || href == NULL)
		goto out;
	for (size_t i = 0; i < blen; i++) {
		if (body[i] == '\r' && i + 1 < blen && body[i + 1] == '\n')
			continue;
		lf[n++] = body[i];
	}
	if (vdir_item_name(lf, n, ext, again, sizeof(again), &err) != E2_OK)
		abort();
	fuzz_check_name(again, ext);
	/* "\r\r\n" becomes "\r\n": compare only when no CRLF is left */
	if (strncmp(name, "nouid-", 6) != 0 && !fuzz_has_crlf(lf, n) &&
	    strcmp(name, again) != 0)
		abort();
	memcpy(href, body, blen);
	href[blen] = '\0';
	if (vdir_collection_name(href, (data[0] >> 1) % VDIR_CLAIM_TRIES, coll,
				 sizeof(coll), &err) != E2_OK)
		abort();
	if (coll[0] == '\0' || coll[0] == '.' || strchr(coll, '/') != NULL ||
	    strlen(coll) > 80)
		abort();
out:
	free(lf);
	free(href);
	return 0;
}
