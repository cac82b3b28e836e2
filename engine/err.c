/* SPDX-License-Identifier: MIT */
/* err.c -- the one error enum's names, e2_fail() and e2_quote() */
#include "config.h"

#include "email2.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

static const char *const e2_status_names[] = {
	[E2_OK] = "ok",
	[E2_ENOMEM] = "enomem",
	[E2_EINVAL] = "einval",
	[E2_ERESOLVE] = "eresolve",
	[E2_ECONNECT] = "econnect",
	[E2_ETIMEOUT] = "etimeout",
	[E2_ETLS] = "etls",
	[E2_ECERT] = "ecert",
	[E2_ENOSTARTTLS] = "enostarttls",
	[E2_EPROTO] = "eproto",
	[E2_EAUTH] = "eauth",
	[E2_EINSECURE] = "einsecure",
	[E2_EIO] = "eio",
	[E2_ESTORE] = "estore",
	[E2_EBUSY] = "ebusy",
};
_Static_assert(sizeof(e2_status_names) / sizeof(e2_status_names[0]) ==
		       E2_STATUS_COUNT,
	       "every e2_status needs a name");

const char *
e2_version(void)
{
	return PACKAGE_VERSION;
}

const char *
e2_status_name(enum e2_status code)
{
	if ((unsigned)code >= E2_STATUS_COUNT)
		return "unknown";
	return e2_status_names[code];
}

void
e2_err_clear(struct e2_err *err)
{
	if (err == NULL)
		return;
	err->code = E2_OK;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

enum e2_status
e2_fail(struct e2_err *err, enum e2_status code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->msg[0] != '\0')
		return code;
	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
e2_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

char *
e2_quote(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	const size_t cut = 120;
	size_t o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; src != NULL && i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (i == cut || o + need + 4 > dstlen) {
			if (o + 4 <= dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}

char *
e2_quote_reply(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	while (src != NULL && srclen > 0 &&
	       (src[srclen - 1] == '\r' || src[srclen - 1] == '\n'))
		srclen--;
	return e2_quote(dst, dstlen, src, srclen);
}
