/* SPDX-License-Identifier: MIT */
/* pin_parse.c -- e2_pin_parse(): a certificate fingerprint as typed */
#include "config.h"

#include "email2.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/*
 * A pin is the SHA-256 of one leaf certificate, shown and stored as
 * "SHA256:" and 64 upper-case hex digits (the digits `openssl x509 -noout
 * -fingerprint -sha256` prints, without its colons). Input may carry the
 * colons, any letter case and no prefix, so that both email2-conntest's
 * report and openssl's output paste. Pinning a key is not offered: a
 * renewed certificate is a new pin, shown to the user first.
 */
#define PIN_HEX 64
#define PIN_PREFIX "SHA256:"

enum e2_status
e2_pin_parse(const char *text, char out[72], struct e2_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p = text;
	size_t n = 0;
	char q[160];

	if (text == NULL)
		return e2_fail(err, E2_EINVAL, "fingerprint: none given");
	if (strncasecmp(p, PIN_PREFIX, strlen(PIN_PREFIX)) == 0)
		p += strlen(PIN_PREFIX);
	memcpy(out, PIN_PREFIX, strlen(PIN_PREFIX));
	for (; *p != '\0'; p++) {
		int c = (unsigned char)*p;

		if (c == ':' && n % 2 == 0 && n != 0 && p[1] != '\0')
			continue;
		if (!isxdigit(c) || n == PIN_HEX)
			goto bad;
		out[strlen(PIN_PREFIX) + n++] =
			hex[isdigit(c) ? c - '0' : (toupper(c) - 'A' + 10)];
	}
	if (n != PIN_HEX)
		goto bad;
	out[strlen(PIN_PREFIX) + n] = '\0';
	return E2_OK;
bad:
	out[0] = '\0';
	return e2_fail(err, E2_EINVAL,
		       "fingerprint \"%s\": not a SHA-256 fingerprint "
		       "(64 hex digits, ':' between pairs allowed)",
		       e2_quote(q, sizeof(q), text, strlen(text)));
}
