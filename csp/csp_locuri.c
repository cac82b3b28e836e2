/* SPDX-License-Identifier: MIT */
/* csp_locuri.c -- EMAIL2 LocURI and account GUID syntax */
#include "config.h"

#include "csp.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "guid.h"

/*
 * The grammar accepted (OMA DM TND URIs are case-sensitive, so every
 * literal below is too, except the hex digits of the brace encodings):
 *
 *   locuri   = [ "./" ] [ "User/" ] "Vendor/MSFT/EMAIL2"
 *              [ "/" guid [ "/" segment [ "/" segment ] ] ]
 *   guid     = see engine/guid.c (three brace forms, 8-4-4-4-12 hex)
 *   segment  = 1*( ALPHA / DIGIT / "-" / "_" )
 *
 * Decisions:
 *  - The leading "./" is optional: OMA DM resolves a relative URI against
 *    the root, so "Vendor/MSFT/EMAIL2" names the same node. A leading "/"
 *    is refused.
 *  - A trailing "/" is an empty segment and refused, as is "//".
 *  - The GUID is returned in its canonical form, "{" upper-case body "}",
 *    whatever the brace form and case written (engine/guid.c says why).
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

static bool
csp_locuri_is_segment_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
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
	const char *open = "", *close = "";

	(void)e2_quote(q, sizeof(q), uri, strlen(uri));
	switch (guid_canon(seg, len, false, guid_out, guid_size, &open,
			   &close)) {
	case GUID_OK:
		return E2_OK;
	case GUID_NO_BRACES:
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID must be in braces "
			       "({...}, %%7B...%%7D or 0x7B...0x7D)",
			       q);
	case GUID_UNCLOSED:
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID opened with \"%s\" is not "
			       "closed with \"%s\"",
			       q, open, close);
	case GUID_PLACEHOLDER:
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID is a template placeholder, "
			       "not a GUID",
			       q);
	case GUID_BAD_BODY:
		return e2_fail(err, E2_EINVAL,
			       "LocURI \"%s\": GUID must be hex groups "
			       "8-4-4-4-12 (or 11 in the last group)",
			       q);
	case GUID_TOO_LONG:
		break;
	}
	return e2_fail(err, E2_EINVAL, "LocURI \"%s\": GUID too long", q);
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
