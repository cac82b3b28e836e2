/* SPDX-License-Identifier: MIT */
/* csp_locuri.c -- EMAIL2 LocURI and account GUID syntax */
#include "config.h"

#include "csp.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * The grammar accepted (OMA DM TND URIs are case-sensitive, so every
 * literal below is too, except the hex digits of the brace encodings):
 *
 *   locuri   = [ "./" ] [ "User/" ] "Vendor/MSFT/EMAIL2"
 *              [ "/" guid [ "/" segment [ "/" segment ] ] ]
 *   guid     = "{" body "}" | "%7B" body "%7D" | "0x7B" body "0x7D"
 *              (one form for both braces; "%7b", "0X7b" ... are accepted)
 *   body     = 8HEX "-" 4HEX "-" 4HEX "-" 4HEX "-" ( 12HEX | 11HEX )
 *   segment  = 1*( ALPHA / DIGIT / "-" / "_" )
 *
 * Decisions:
 *  - The leading "./" is optional: OMA DM resolves a relative URI against
 *    the root, so "Vendor/MSFT/EMAIL2" names the same node. A leading "/"
 *    is refused.
 *  - A trailing "/" is an empty segment and refused, as is "//".
 *  - The last GUID group may have 11 digits: the spec's own OMA DM example
 *    "0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE0x7D" ends its GUID in "FBE"
 *    (the "0x7D" follows the last digit), and devices provisioned from it
 *    carry such GUIDs. The GUID is returned as "{" body "}" with its hex
 *    digits upper-case, whatever the brace form and case written: a GUID
 *    names one account however it is spelt (the store matches stored
 *    GUIDs case-insensitively too, for rows written before this rule).
 *  - A body in parentheses, such as "%7B(email account GUID)%7D" from a
 *    published sample, is refused as a template placeholder.
 *  - Segments below the GUID are returned as written; the node table
 *    decides whether they exist. Only letters, digits, "-" and "_" may
 *    appear in them, so ".", "..", "\", "%", spaces, controls and "?"
 *    (OMA DM queries) never reach the store.
 */

#define CSP_LOCURI_MAX 512 /* longer LocURIs are refused outright */
#define CSP_LOCURI_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const csp_locuri_roots[] = {
	"Vendor/MSFT/EMAIL2",
	"User/Vendor/MSFT/EMAIL2",
};

struct csp_locuri_brace {
	const char *open;
	const char *close;
};

/* The three brace forms; compared case-insensitively. */
static const struct csp_locuri_brace csp_locuri_braces[] = {
	{"{", "}"},
	{"%7B", "%7D"},
	{"0x7B", "0x7D"},
};

static bool
csp_locuri_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static bool
csp_locuri_is_segment_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static bool
csp_locuri_prefix_ci(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s[i];
		char b = prefix[i];

		if (a >= 'a' && a <= 'z')
			a = (char)(a - 'a' + 'A');
		if (b >= 'a' && b <= 'z')
			b = (char)(b - 'a' + 'A');
		if (a != b)
			return false;
	}
	return true;
}

/* 8-4-4-4-12 hex groups, or 8-4-4-4-11 (see above). */
static bool
csp_locuri_body_ok(const char *body, size_t len)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	size_t pos = 0;

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		size_t n = 0;

		while (pos < len && csp_locuri_is_hex(body[pos])) {
			pos++;
			n++;
		}
		if (g + 1 < sizeof(groups) / sizeof(groups[0])) {
			if (n != groups[g] || pos >= len || body[pos] != '-')
				return false;
			pos++;
		} else if (n != groups[g] && n != groups[g] - 1) {
			return false;
		}
	}
	return pos == len;
}

/*
 * Turns one GUID segment (seg, len bytes, no "/") into "{body}" in
 * guid_out. Errors: E2_EINVAL naming the rule.
 */
static enum e2_status
csp_locuri_parse_guid(const char *uri, const char *seg, size_t len,
		      char *guid_out, size_t guid_size, struct e2_err *err)
{
	char q[160];
	const struct csp_locuri_brace *form = NULL;
	const char *body;
	size_t body_len;

	(void)e2_quote(q, sizeof(q), uri, strlen(uri));
	for (size_t i = 0; i < CSP_LOCURI_LEN(csp_locuri_braces); i++) {
		if (csp_locuri_prefix_ci(seg, len, csp_locuri_braces[i].open)) {
			form = &csp_locuri_braces[i];
			break;
		}
	}
	if (form == NULL)
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID must be in braces "
			       "({...}, %%7B...%%7D or 0x7B...0x7D)",
			       q);
	body = seg + strlen(form->open);
	body_len = len - strlen(form->open);
	if (body_len < strlen(form->close) ||
	    !csp_locuri_prefix_ci(seg + len - strlen(form->close),
				  strlen(form->close), form->close))
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID opened with \"%s\" is not "
			       "closed with \"%s\"",
			       q, form->open, form->close);
	body_len -= strlen(form->close);
	if (body_len >= 2 && body[0] == '(' && body[body_len - 1] == ')')
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID is a template placeholder, "
			       "not a GUID",
			       q);
	if (!csp_locuri_body_ok(body, body_len))
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID must be hex groups "
			       "8-4-4-4-12 (or 11 in the last group)",
			       q);
	if (body_len + 3 > guid_size)
		return e2_fail(err, E2_EINVAL, "LocURI \"%s\": GUID too long",
			       q);
	/* the canonical form: "{" upper-case body "}" (store.c, "GUIDs") */
	guid_out[0] = '{';
	for (size_t i = 0; i < body_len; i++)
		guid_out[i + 1] = body[i] >= 'a' && body[i] <= 'f'
					  ? (char)(body[i] - 'a' + 'A')
					  : body[i];
	guid_out[body_len + 1] = '}';
	guid_out[body_len + 2] = '\0';
	return E2_OK;
}

enum e2_status
csp_locuri_parse(const char *uri, struct csp_path *path_out, struct e2_err *err)
{
	struct csp_path path;
	char q[160];
	const char *p;
	const char *segs[3];
	size_t lens[3];
	size_t n_segs = 0;
	size_t root_len = 0;
	size_t uri_len;
	size_t node_len;
	enum e2_status rc;

	if (uri == NULL)
		return e2_fail(err, E2_EINVAL, "LocURI missing");
	memset(&path, 0, sizeof(path));
	uri_len = strlen(uri);
	(void)e2_quote(q, sizeof(q), uri, uri_len);
	if (uri_len > CSP_LOCURI_MAX)
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": longer than %d bytes", q,
			       CSP_LOCURI_MAX);
	p = uri;
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	for (size_t i = 0; i < CSP_LOCURI_LEN(csp_locuri_roots); i++) {
		size_t n = strlen(csp_locuri_roots[i]);

		if (strncmp(p, csp_locuri_roots[i], n) == 0 &&
		    (p[n] == '\0' || p[n] == '/')) {
			root_len = n;
			break;
		}
	}
	if (root_len == 0)
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": not under ./Vendor/MSFT/EMAIL2",
			       q);
	p += root_len;

	/* Split what follows the root into at most four segments. */
	while (*p == '/') {
		const char *seg = p + 1;
		const char *end = strchr(seg, '/');
		size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);

		if (len == 0)
			return e2_fail(err, E2_EINVAL,
				       "LocURI \"%s\": empty segment", q);
		if (n_segs == 3)
			return e2_fail(err, E2_EINVAL,
				       "LocURI \"%s\": more than two levels "
				       "below the GUID",
				       q);
		segs[n_segs] = seg;
		lens[n_segs] = len;
		n_segs++;
		p = seg + len;
	}

	/* Refuse anything that could escape a path before the GUID rules. */
	for (size_t i = 1; i < n_segs; i++) {
		for (size_t j = 0; j < lens[i]; j++) {
			if (!csp_locuri_is_segment_char(segs[i][j]))
				return e2_fail(err, E2_EINVAL,
					       "LocURI \"%s\": node names "
					       "allow only letters, digits, "
					       "\"-\" and \"_\"",
					       q);
		}
	}
	if (n_segs >= 1) {
		rc = csp_locuri_parse_guid(uri, segs[0], lens[0], path.guid,
					   sizeof(path.guid), err);
		if (rc != E2_OK)
			return rc;
	}
	node_len = 0;
	for (size_t i = 1; i < n_segs; i++)
		node_len += lens[i] + (i > 1 ? 1 : 0);
	if (node_len >= sizeof(path.node))
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": node path longer than %zu bytes",
			       q, sizeof(path.node) - 1);
	if (n_segs >= 2) {
		/* segs[1] up to the end of the URI is "NODE" or "NODE/SUB" */
		memcpy(path.node, segs[1], node_len);
		path.node[node_len] = '\0';
	}
	path.depth = (unsigned)n_segs;
	*path_out = path;
	return E2_OK;
}
