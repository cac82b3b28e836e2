/* SPDX-License-Identifier: MIT */
/*
 * guid.c -- an account GUID's accepted spellings and its canonical form
 *
 *   guid = "{" body "}" | "%7B" body "%7D" | "0x7B" body "0x7D"
 *          (one form for both braces; "%7b", "0X7b" ... are accepted)
 *   body = 8HEX "-" 4HEX "-" 4HEX "-" 4HEX "-" ( 12HEX | 11HEX )
 *
 * The last group may have 11 digits: the spec's own OMA DM example
 * "0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE0x7D" ends its GUID in "FBE"
 * (the "0x7D" follows the last digit), and devices provisioned from it
 * carry such GUIDs. A GUID names one account however it is spelt: the
 * canonical form is "{" upper-case body "}", which the CSP stores and
 * every tool looks up (the store also matches stored GUIDs whatever their
 * case, for rows written before this rule).
 */
#include "config.h"

#include "guid.h"

#include <string.h>

struct guid_brace {
	const char *open;
	const char *close;
};

/* The three brace forms; compared case-insensitively. */
static const struct guid_brace guid_braces[] = {
	{"{", "}"},
	{"%7B", "%7D"},
	{"0x7B", "0x7D"},
};

static bool
guid_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static char
guid_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool
guid_has_ci(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (guid_upper(s[i]) != guid_upper(lit[i]))
			return false;
	return true;
}

/* 8-4-4-4-12 hex groups, or 8-4-4-4-11 (see above). */
static bool
guid_body_ok(const char *body, size_t len)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	const size_t ngroups = sizeof(groups) / sizeof(groups[0]);
	size_t pos = 0;

	for (size_t g = 0; g < ngroups; g++) {
		size_t n = 0;

		while (pos < len && guid_is_hex(body[pos])) {
			pos++;
			n++;
		}
		if (g + 1 < ngroups) {
			if (n != groups[g] || pos >= len || body[pos] != '-')
				return false;
			pos++;
		} else if (n != groups[g] && n != groups[g] - 1) {
			return false;
		}
	}
	return pos == len;
}

enum guid_verdict
guid_canon(const char *s, size_t len, bool bare_ok, char *out, size_t out_size,
	   const char **open_out, const char **close_out)
{
	const struct guid_brace *form = NULL;
	const char *body = s;
	size_t body_len = len;

	for (size_t i = 0; i < sizeof(guid_braces) / sizeof(guid_braces[0]);
	     i++) {
		if (guid_has_ci(s, len, guid_braces[i].open)) {
			form = &guid_braces[i];
			break;
		}
	}
	/* a bare body may start with "0x7B"-like hex: try it bare first */
	if (bare_ok && guid_body_ok(s, len))
		form = NULL;
	else if (form == NULL)
		return bare_ok ? GUID_BAD_BODY : GUID_NO_BRACES;
	if (form != NULL) {
		size_t open = strlen(form->open), close = strlen(form->close);

		if (open_out != NULL)
			*open_out = form->open;
		if (close_out != NULL)
			*close_out = form->close;
		if (len < open + close ||
		    !guid_has_ci(s + len - close, close, form->close))
			return GUID_UNCLOSED;
		body = s + open;
		body_len = len - open - close;
	}
	if (body_len >= 2 && body[0] == '(' && body[body_len - 1] == ')')
		return GUID_PLACEHOLDER;
	if (!guid_body_ok(body, body_len))
		return GUID_BAD_BODY;
	if (body_len + 3 > out_size)
		return GUID_TOO_LONG;
	out[0] = '{';
	for (size_t i = 0; i < body_len; i++)
		out[i + 1] = guid_upper(body[i]);
	out[body_len + 1] = '}';
	out[body_len + 2] = '\0';
	return GUID_OK;
}
