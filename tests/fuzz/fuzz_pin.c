/* SPDX-License-Identifier: MIT */
/* fuzz_pin.c -- libFuzzer harness for e2_pin_parse() (see run.sh) */
/* fuzz-sources: engine/pin_parse.c engine/err.c */
/* fuzz-pkgs: libcrypto */
#include "config.h"

#include "email2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The command line's --pin and a tls_pins row (another program may have
 * written the store): whatever the bytes, either E2_EINVAL with a message,
 * or exactly "SHA256:" and 64 upper-case hex digits, and parsing that
 * again gives the same.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2_err err = {0};
	char *s = malloc(size + 1);
	char out[72], again[72];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (e2_pin_parse(s, out, &err) == E2_OK) {
		if (strlen(out) != 71 || strncmp(out, "SHA256:", 7) != 0 ||
		    strspn(out + 7, "0123456789ABCDEF") != 64)
			abort();
		if (e2_pin_parse(out, again, &err) != E2_OK ||
		    strcmp(out, again) != 0)
			abort();
	} else if (err.code != E2_EINVAL || err.msg[0] == '\0') {
		abort();
	}
	free(s);
	return 0;
}
