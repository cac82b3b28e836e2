/* SPDX-License-Identifier: MIT */
/* imap_names.c -- modified UTF-7 and Maildir++ directory names (pure) */
#include "config.h"

#include "imap_names.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char imap_names_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
imap_names_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/*
 * One code point of UTF-8 at s into *cp; returns its length, 0 when the
 * bytes are not UTF-8 (RFC 3629: no overlong form, no surrogate, nothing
 * above U+10FFFF, no cut sequence).
 */
static size_t
imap_names_utf8_next(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		c = c << 6 | (s[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static size_t
imap_names_utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

enum e2_status
imap_names_mutf7_encode(const char *utf8, char **out, struct e2_err *err)
{
	const unsigned char *p = (const unsigned char *)utf8;
	size_t len = strlen(utf8), o = 0;
	uint32_t bits = 0;
	unsigned nbits = 0;
	bool shifted = false;
	char *buf;

	/* worst case: one byte (a control) becomes "&AAE-", five */
	buf = malloc(len * 5 + 1);
	if (buf == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	while (*p != '\0') {
		uint32_t cp, units[2];
		size_t n = imap_names_utf8_next(p, &cp), nu = 1;

		if (n == 0) {
			free(buf);
			return e2_fail(
				err, E2_EINVAL,
				"folder name is not UTF-8 at byte %zu",
				(size_t)(p - (const unsigned char *)utf8));
		}
		p += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (nbits > 0)
					buf[o++] = imap_names_b64
						[(bits << (6 - nbits)) & 63];
				buf[o++] = '-';
				shifted = false;
			}
			buf[o++] = (char)cp;
			if (cp == '&')
				buf[o++] = '-';
			continue;
		}
		if (!shifted) {
			buf[o++] = '&';
			shifted = true;
			bits = 0;
			nbits = 0;
		}
		units[0] = cp;
		if (cp >= 0x10000) {
			units[0] = 0xd800 | (cp - 0x10000) >> 10;
			units[1] = 0xdc00 | ((cp - 0x10000) & 0x3ff);
			nu = 2;
		}
		for (size_t u = 0; u < nu; u++) {
			bits = bits << 16 | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				buf[o++] = imap_names_b64[(bits >> nbits) & 63];
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted) {
		if (nbits > 0)
			buf[o++] = imap_names_b64[(bits << (6 - nbits)) & 63];
		buf[o++] = '-';
	}
	buf[o] = '\0';
	*out = buf;
	return E2_OK;
}

/*
 * Decodes into buf (at least 2 * strlen(s) + 1 bytes) when buf is not
 * NULL; returns the reason it refused, or NULL.
 */
static const char *
imap_names_mutf7_run(const char *s, char *buf)
{
	const unsigned char *p = (const unsigned char *)s;
	bool after_shift = false;
	size_t o = 0;

	while (*p != '\0') {
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0;

		if (*p < 0x20 || *p > 0x7e)
			return "byte outside printable US-ASCII";
		if (*p != '&') {
			if (buf != NULL)
				buf[o++] = (char)*p;
			p++;
			after_shift = false;
			continue;
		}
		p++;
		if (*p == '-') { /* "&-" is "&" */
			if (buf != NULL)
				buf[o++] = '&';
			p++;
			after_shift = false;
			continue;
		}
		if (after_shift)
			return "null shift between two encoded runs";
		while (*p != '-') {
			int v = imap_names_b64_val(*p);

			if (v < 0)
				return *p == '\0' ? "unterminated encoded run"
						  : "bad byte in encoded run";
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			p++;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;

			bits &= (1u << nbits) - 1;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return "unpaired surrogate";
				u = 0x10000 + ((high - 0xd800) << 10) +
				    (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return "unpaired surrogate";
			} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
				return "encoded run holds NUL or printable "
				       "ASCII";
			}
			if (buf != NULL)
				o += imap_names_utf8_put(buf + o, u);
		}
		if (high != 0)
			return "unpaired surrogate";
		if (nbits >= 6 || bits != 0)
			return "encoded run does not end on a character";
		p++; /* the '-' */
		after_shift = true;
	}
	if (buf != NULL)
		buf[o] = '\0';
	return NULL;
}

bool
imap_names_mutf7_valid(const char *s)
{
	return imap_names_mutf7_run(s, NULL) == NULL;
}

enum e2_status
imap_names_mutf7_decode(const char *mutf7, char **out, struct e2_err *err)
{
	const char *why;
	char *buf;

	buf = malloc(strlen(mutf7) * 2 + 1);
	if (buf == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	why = imap_names_mutf7_run(mutf7, buf);
	if (why != NULL) {
		free(buf);
		return e2_fail(err, E2_EINVAL,
			       "folder name is not modified UTF-7: %s", why);
	}
	*out = buf;
	return E2_OK;
}

bool
imap_names_dir_is_folder(const char *d_name)
{
	return d_name[0] == '.' && d_name[1] != '\0' && d_name[1] != '.' &&
	       strchr(d_name, '/') == NULL;
}

static int
imap_names_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum e2_status
imap_names_from_dir(const char *dir, char sep, bool utf8, char **name_out,
		    struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	size_t o = 0, comp = 0;
	bool ascii = true;
	char *raw;

	if (!imap_names_dir_is_folder(dir))
		return e2_fail(err, E2_EINVAL, "not a folder directory");
	/* the separator comes from the server: only a plain sign is used */
	if (sep != '\0' &&
	    (!ispunct((unsigned char)sep) || strchr("*%&\"", sep) != NULL))
		return e2_fail(err, E2_EINVAL,
			       "unusable hierarchy separator 0x%02x",
			       (unsigned)(unsigned char)sep);
	raw = malloc(strlen(dir) + 1);
	if (raw == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 1;; i++) {
		unsigned char c = (unsigned char)dir[i];

		if (c == '\0' || c == '.') {
			if (comp == 0) {
				rc = e2_fail(err, E2_EINVAL,
					     "folder directory has an empty "
					     "component");
				goto out;
			}
			if (c == '\0')
				break;
			if (sep == '\0') {
				rc = e2_fail(err, E2_EINVAL,
					     "the server has no hierarchy "
					     "separator for a nested folder");
				goto out;
			}
			raw[o++] = sep;
			comp = 0;
			continue;
		}
		if (c == '%') {
			int hi = imap_names_hex(dir[i + 1]);
			int lo = hi < 0 ? -1 : imap_names_hex(dir[i + 2]);

			if (lo < 0) {
				rc = e2_fail(err, E2_EINVAL,
					     "'%%' in a folder name (a LIST "
					     "wildcard)");
				goto out;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			rc = e2_fail(err, E2_EINVAL,
				     "control byte 0x%02x in a folder name", c);
			goto out;
		}
		if (c == '%' || c == '*') {
			rc = e2_fail(err, E2_EINVAL,
				     "'%c' in a folder name (a LIST wildcard)",
				     c);
			goto out;
		}
		if (sep != '\0' && c == (unsigned char)sep) {
			rc = e2_fail(err, E2_EINVAL,
				     "the server's separator '%c' inside a "
				     "folder name component",
				     sep);
			goto out;
		}
		if (c >= 0x80)
			ascii = false;
		raw[o++] = (char)c;
		comp++;
	}
	raw[o] = '\0';
	if (strcasecmp(raw, "INBOX") == 0) {
		rc = e2_fail(
			err, E2_EINVAL,
			"the name is the server's INBOX, the Maildir root");
		goto out;
	}
	if (utf8 || (ascii && imap_names_mutf7_valid(raw))) {
		if (!ascii) {
			uint32_t cp;

			for (const unsigned char *p = (unsigned char *)raw;
			     *p != '\0';) {
				size_t n = imap_names_utf8_next(p, &cp);

				if (n == 0) {
					rc = e2_fail(err, E2_EINVAL,
						     "folder name is not "
						     "UTF-8");
					goto out;
				}
				p += n;
			}
		}
		*name_out = raw;
		raw = NULL;
	} else {
		rc = imap_names_mutf7_encode(raw, name_out, err);
	}
out:
	free(raw);
	return rc;
}
