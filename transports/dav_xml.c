/* SPDX-License-Identifier: MIT */
/* dav_xml.c -- WebDAV multistatus bodies (CardDAV, CalDAV) to plain structs */
#include "config.h"

#include "transports/dav_xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "transports/xml_read.h"

/*
 * What is read (RFC 4918 13 multistatus, RFC 6578 sync-collection, RFC
 * 6352 CardDAV, RFC 4791 CalDAV, calendarserver.org getctag, Apple
 * calendar-color). Elements are matched by namespace URI and local name,
 * never by prefix ("d:", "D:", "A:" or a default namespace are all the
 * same); unknown elements are skipped, and so are DAV:error and
 * DAV:responsedescription.
 *   multistatus  response*, sync-token (RFC 6578, at most one)
 *   response     href+ and status, or one href and propstat+; several
 *                hrefs with one status become one entry per href (a
 *                multiget answering 404 for several at once)
 *   propstat     prop* and status; getetag, getctag, sync-token,
 *                displayname, calendar-color, getcontenttype,
 *                resourcetype, supported-report-set,
 *                current-user-principal, addressbook-home-set,
 *                calendar-home-set, supported-calendar-component-set,
 *                address-data, calendar-data
 * Hrefs are kept as sent (trimmed), which is what a later request must
 * send back, plus the normalised form dav_href_normalise() gives for
 * comparing them (requested against returned in a multiget, a
 * sync-collection href against the stored one). Relative hrefs are left
 * relative: resolving them needs the request URL, which is the caller's.
 * Item data is the text as libxml2 delivers it: entities and CDATA
 * unescaped, and line ends as XML 1.0 2.11 makes them (a raw CR LF in
 * the body arrives as LF; "&#13;" keeps the CR). vdir readers take both.
 *
 * Per-response faults (the response is kept with refused set and a
 * reason, its propstats dropped; the rest of the body stays usable): no
 * href, an href refused by dav_href_normalise(), several hrefs with
 * propstats, an unreadable status line, a propstat with properties but no
 * status, a second value for one property in a propstat, a property value
 * longer than DAV_XML_MAX_TEXT or with a control character (an etag or
 * href goes into a request header or line), element children in a text
 * property, a bad href in a principal or home set, more than
 * DAV_XML_MAX_HOMES home hrefs.
 * Whole-body faults (E2_EPROTO): empty or larger than DAV_XML_MAX_BODY,
 * not well-formed, a DOCTYPE with entity declarations, an entity
 * reference, nesting deeper than DAV_XML_MAX_DEPTH, more than
 * DAV_XML_MAX_ELEMENTS elements, a root other than DAV:multistatus, more
 * than DAV_XML_MAX_RESPONSES hrefs, item data past DAV_XML_MAX_DATA in
 * all, a second or bad multistatus-level sync-token (the paging state of
 * the whole collection).
 *
 * Hardening: the body cap, then the reading every XML input gets
 * (transports/xml_read.c, as provisioning documents: no network, no DTD
 * loading, no entity substitution, any ENTITY declaration refused). The
 * element count and depth are checked while libxml2 builds the tree, so a
 * hostile body stops there and the tree stays small.
 *
 * The numbers: 32 MiB of body holds a multiget batch of vCards with
 * photos and a 10,000-item sync-collection or Depth 1 listing many times
 * over (about 300 bytes an item); libxml2 itself refuses one text node
 * over 10 MB (one item). 24 MiB of item data leaves the rest of a full
 * body for markup. 50,000 hrefs and 500,000 elements (a listed item is
 * about 6 elements) cover a Radicale collection sent unpaged; the tree
 * of 500,000 elements stays near 100 MB at worst.
 *
 * Server quirks handled, each with its row in tests/unit/check_dav_xml.c
 * (the issue threads named are where clients met them):
 *   supported-report-set without the DAV:report wrapper ("report set
 *     without report wrapper"; the RFC 3253 form: "report set with report
 *     wrapper"; none listed: "report set empty")
 *   an empty propstat, no prop and no status: skipped ("empty propstat
 *     skipped"); a 404 propstat with a status and no prop, and unquoted
 *     etags, as davmail/Exchange send them ("unquoted etag, propstat 404
 *     without prop", vdirsyncer#214)
 *   weak etags W/"..." kept with etag_weak set ("weak etag")
 *   sync-collection deletions as a response status 404 ("sync deletion
 *     404"); hrefs and etags but 404 for the data, Google and iCloud
 *     ("sync data 404"); 507 on a paged result ("sync 507 truncated")
 *   a multiget answering 404 for hrefs, several in one response, SOGo
 *     (davdroid#475, "multiget 404 for two hrefs", "carddav multiget")
 *   prefixes other than d:, default namespaces, d: bound to another URI
 *     ("default namespace", "icloud namespaces per element",
 *     "odd prefixes", the RFCs' D: in "rfc6578 initial sync")
 *   hrefs encoded differently from the request ("href %40 equals @") and
 *     absolute URLs, other hosts (DAVx5 #1098, "absolute href"): the
 *     normalised form compares them, the caller judges the origin
 *   calendar-data in CDATA ("calendar data cdata"); &#13; line ends
 *     ("carriage returns kept")
 *   an unauthenticated principal ("principal unauthenticated")
 *   VTODO-only task lists, component names in any case ("task
 *     components")
 */

/* Namespaces, by URI. */
#define DAV_NS_DAV "DAV:"
#define DAV_NS_CARD "urn:ietf:params:xml:ns:carddav"
#define DAV_NS_CAL "urn:ietf:params:xml:ns:caldav"
#define DAV_NS_CS "http://calendarserver.org/ns/"
#define DAV_NS_APPLE "http://apple.com/ns/ical/"

struct dav_xml_ctx {
	struct e2_err *err;
	struct dav_multistatus *ms;
};

/* ---- helpers ------------------------------------------------------------- */

static enum e2_status
dav_xml_nomem(struct dav_xml_ctx *ctx)
{
	return e2_fail(ctx->err, E2_ENOMEM,
		       "out of memory parsing a webdav "
		       "response");
}

static bool
dav_xml_is(const xmlNode *node, const char *ns, const char *name)
{
	return node->type == XML_ELEMENT_NODE && node->ns != NULL &&
	       node->ns->href != NULL &&
	       strcmp((const char *)node->ns->href, ns) == 0 &&
	       strcmp((const char *)node->name, name) == 0;
}

static bool
dav_xml_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Any C0 control, DEL, or C1 control (UTF-8 0xC2 0x80..0x9F). */
static bool
dav_xml_has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return true;
		if (c == 0xc2 && i + 1 < len &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

static void dav_xml_refuse(struct dav_response *r, const char *fmt, ...)
	E2_PRINTF(2, 3);

/* Marks r refused with the first reason given. */
static void
dav_xml_refuse(struct dav_response *r, const char *fmt, ...)
{
	va_list ap;

	if (r->refused)
		return;
	r->refused = true;
	va_start(ap, fmt);
	(void)vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/*
 * The text and CDATA children of el concatenated, in a new string; element
 * children set *mixed. Returns NULL on OOM only.
 */
static char *
dav_xml_text(const xmlNode *el, size_t *len_out, bool *mixed)
{
	size_t len = 0;
	char *s;

	*mixed = false;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			*mixed = true;
		else if ((c->type == XML_TEXT_NODE ||
			  c->type == XML_CDATA_SECTION_NODE) &&
			 c->content != NULL)
			len += strlen((const char *)c->content);
	}
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	len = 0;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if ((c->type == XML_TEXT_NODE ||
		     c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL) {
			size_t n = strlen((const char *)c->content);

			memcpy(s + len, c->content, n);
			len += n;
		}
	}
	s[len] = '\0';
	*len_out = len;
	return s;
}

/*
 * A short text property of el (trimmed; NULL when empty) into *out.
 * Per-response faults go to r; E2_ENOMEM is the only error.
 */
static enum e2_status
dav_xml_short(struct dav_xml_ctx *ctx, struct dav_response *r,
	      const xmlNode *el, size_t max, char **out)
{
	size_t len, start = 0;
	bool mixed;
	char q[160];
	char *s = dav_xml_text(el, &len, &mixed);

	if (s == NULL)
		return dav_xml_nomem(ctx);
	while (start < len && dav_xml_is_space(s[start]))
		start++;
	while (len > start && dav_xml_is_space(s[len - 1]))
		len--;
	if (mixed)
		dav_xml_refuse(r, "<%s> must hold text only",
			       (const char *)el->name);
	else if (len - start > max)
		dav_xml_refuse(r, "<%s> longer than %zu bytes",
			       (const char *)el->name, max);
	else if (dav_xml_has_control(s + start, len - start))
		dav_xml_refuse(r, "<%s> \"%s\" has a control character",
			       (const char *)el->name,
			       e2_quote(q, sizeof(q), s + start, len - start));
	if (r->refused || len == start) {
		free(s);
		return E2_OK;
	}
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	*out = s;
	return E2_OK;
}

/* RFC 9110 status-line form "HTTP/1.1 404 Not Found": 404, or -1. */
static int
dav_xml_status_code(const char *s)
{
	size_t i = 0;
	int code = 0;

	if (s == NULL || strncmp(s, "HTTP/", 5) != 0)
		return -1;
	i = 5;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	while ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')
		i++;
	if (s[i] != ' ')
		return -1;
	while (s[i] == ' ')
		i++;
	for (int k = 0; k < 3; k++, i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		code = code * 10 + (s[i] - '0');
	}
	if (s[i] != '\0' && s[i] != ' ' && s[i] != '\t')
		return -1;
	if (code < 100 || code > 599)
		return -1;
	return code;
}

/* DAV:status of el into *code_out (r refused when unreadable). */
static enum e2_status
dav_xml_status(struct dav_xml_ctx *ctx, struct dav_response *r,
	       const xmlNode *el, int *code_out)
{
	char *s = NULL;
	char q[160];
	enum e2_status rc;
	int code;

	if (*code_out != 0) {
		dav_xml_refuse(r, "second <status>");
		return E2_OK;
	}
	rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT, &s);
	if (rc != E2_OK || r->refused)
		return rc;
	code = dav_xml_status_code(s);
	if (code < 0)
		dav_xml_refuse(r, "status \"%s\" is no HTTP status line",
			       e2_quote(q, sizeof(q), s != NULL ? s : "",
					s != NULL ? strlen(s) : 0));
	else
		*code_out = code;
	free(s);
	return E2_OK;
}

/* ---- hrefs --------------------------------------------------------------- */

static bool
dav_href_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static int
dav_href_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Where the path of href begins: after "scheme://authority" or "//auth". */
static size_t
dav_href_path_start(const char *h)
{
	size_t i = 0;

	if (h[0] == '/' && h[1] == '/') {
		i = 2;
	} else {
		if (!((h[0] >= 'a' && h[0] <= 'z') ||
		      (h[0] >= 'A' && h[0] <= 'Z')))
			return 0;
		while ((h[i] >= 'a' && h[i] <= 'z') ||
		       (h[i] >= 'A' && h[i] <= 'Z') ||
		       (h[i] >= '0' && h[i] <= '9') || h[i] == '+' ||
		       h[i] == '-' || h[i] == '.')
			i++;
		if (strncmp(h + i, "://", 3) != 0)
			return 0;
		i += 3;
	}
	while (h[i] != '\0' && h[i] != '/' && h[i] != '?' && h[i] != '#')
		i++;
	return i;
}

enum e2_status
dav_href_normalise(const char *href, char **norm_out, struct e2_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = href != NULL ? strlen(href) : 0;
	size_t seg_len = 0, seg_dots = 0, o = 0, i;
	char q[160];
	char *out;

	if (len == 0)
		return e2_fail(err, E2_EPROTO, "empty href");
	if (len > DAV_XML_MAX_HREF)
		return e2_fail(err, E2_EPROTO, "href longer than %u bytes",
			       DAV_XML_MAX_HREF);
	out = malloc(3 * len + 2);
	if (out == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	i = dav_href_path_start(href);
	if (i > 0 && href[i] != '/')
		out[o++] = '/';
	for (;; i++) {
		unsigned char c = (unsigned char)href[i];
		unsigned char b = c;
		bool encoded = false;

		/* segments end at a raw "/", "?", "#" and the end: a
		 * query or fragment is no place for ".." either */
		if (c == '/' || c == '?' || c == '#' || c == '\0') {
			if (seg_len > 0 && seg_len == seg_dots && seg_len <= 2)
				goto dots;
			seg_len = 0;
			seg_dots = 0;
		}
		if (c == '\0')
			break;
		if (c < 0x20 || c == 0x7f)
			goto control;
		if (c == '%') {
			int h1 = dav_href_hex(href[i + 1]);
			int h2 = h1 >= 0 ? dav_href_hex(href[i + 2]) : -1;

			if (h2 < 0) {
				free(out);
				return e2_fail(
					err, E2_EPROTO,
					"href \"%s\": bad %%-escape",
					e2_quote(q, sizeof(q), href, len));
			}
			b = (unsigned char)(h1 * 16 + h2);
			encoded = true;
			i += 2;
			if (b < 0x20 || b == 0x7f)
				goto control;
		}
		if (encoded || (c != '/' && c != '?' && c != '#')) {
			seg_len++;
			if (b == '.')
				seg_dots++;
		}
		if (dav_href_safe(b) ||
		    (!encoded && (b == '/' || b == '?' || b == '#'))) {
			out[o++] = (char)b;
		} else {
			out[o++] = '%';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	out[o] = '\0';
	*norm_out = out;
	return E2_OK;
control:
	free(out);
	return e2_fail(err, E2_EPROTO, "href \"%s\": control character",
		       e2_quote(q, sizeof(q), href, len));
dots:
	free(out);
	return e2_fail(err, E2_EPROTO, "href \"%s\": \".\" or \"..\" segment",
		       e2_quote(q, sizeof(q), href, len));
}

/*
 * An href inside a property (principal, home set): the trimmed text,
 * checked as a response href is; *out NULL when refused.
 */
static enum e2_status
dav_xml_prop_href(struct dav_xml_ctx *ctx, struct dav_response *r,
		  const xmlNode *el, char **out)
{
	struct e2_err herr;
	char *norm = NULL;
	char *s = NULL;
	enum e2_status rc;

	rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_HREF, &s);
	if (rc != E2_OK || r->refused)
		return rc;
	e2_err_clear(&herr);
	rc = dav_href_normalise(s, &norm, &herr);
	if (rc == E2_ENOMEM) {
		free(s);
		return dav_xml_nomem(ctx);
	}
	if (rc != E2_OK) {
		dav_xml_refuse(r, "%s", herr.msg);
		free(s);
		return E2_OK;
	}
	free(norm);
	*out = s;
	return E2_OK;
}

/* ---- properties ---------------------------------------------------------- */

/* Report names anywhere below el: tolerant of a missing DAV:report. */
static unsigned
dav_xml_reports(const xmlNode *el, int depth)
{
	unsigned bits = 0;

	if (depth > 4)
		return 0;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (dav_xml_is(c, DAV_NS_DAV, "sync-collection"))
			bits |= DAV_REPORT_SYNC_COLLECTION;
		else if (dav_xml_is(c, DAV_NS_CARD, "addressbook-multiget"))
			bits |= DAV_REPORT_ADDRESSBOOK_MULTIGET;
		else if (dav_xml_is(c, DAV_NS_CAL, "calendar-multiget"))
			bits |= DAV_REPORT_CALENDAR_MULTIGET;
		else
			bits |= dav_xml_reports(c, depth + 1);
	}
	return bits;
}

static unsigned
dav_xml_resourcetype(const xmlNode *el)
{
	unsigned bits = 0;

	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (dav_xml_is(c, DAV_NS_DAV, "collection"))
			bits |= DAV_RT_COLLECTION;
		else if (dav_xml_is(c, DAV_NS_CARD, "addressbook"))
			bits |= DAV_RT_ADDRESSBOOK;
		else if (dav_xml_is(c, DAV_NS_CAL, "calendar"))
			bits |= DAV_RT_CALENDAR;
		else if (dav_xml_is(c, DAV_NS_DAV, "principal"))
			bits |= DAV_RT_PRINCIPAL;
	}
	return bits;
}

static unsigned
dav_xml_components(const xmlNode *el)
{
	static const struct {
		const char *name;
		unsigned bit;
	} comps[] = {
		{"VEVENT", DAV_COMP_VEVENT},
		{"VTODO", DAV_COMP_VTODO},
		{"VJOURNAL", DAV_COMP_VJOURNAL},
		{"VFREEBUSY", DAV_COMP_VFREEBUSY},
	};
	unsigned bits = 0;

	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		xmlChar *name;
		unsigned bit = DAV_COMP_OTHER;

		if (!dav_xml_is(c, DAV_NS_CAL, "comp"))
			continue;
		name = xmlGetProp(c, (const xmlChar *)"name");
		if (name == NULL)
			continue;
		for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++)
			if (strcasecmp((const char *)name, comps[i].name) == 0)
				bit = comps[i].bit;
		bits |= bit;
		xmlFree(name);
	}
	return bits;
}

/* The DAV:href children of a home set. */
static enum e2_status
dav_xml_homes(struct dav_xml_ctx *ctx, struct dav_response *r,
	      const xmlNode *el, char ***homes, size_t *n)
{
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children; c != NULL && !r->refused;
	     c = c->next) {
		char *h = NULL;

		if (!dav_xml_is(c, DAV_NS_DAV, "href"))
			continue;
		if (*n == DAV_XML_MAX_HOMES) {
			dav_xml_refuse(r, "<%s> with more than %u hrefs",
				       (const char *)el->name,
				       DAV_XML_MAX_HOMES);
			break;
		}
		if (*homes == NULL) {
			*homes = calloc(DAV_XML_MAX_HOMES, sizeof(**homes));
			if (*homes == NULL)
				return dav_xml_nomem(ctx);
		}
		rc = dav_xml_prop_href(ctx, r, c, &h);
		if (rc != E2_OK)
			return rc;
		if (h != NULL)
			(*homes)[(*n)++] = h;
	}
	return rc;
}

/* address-data or calendar-data: verbatim, counted against the cap. */
static enum e2_status
dav_xml_data(struct dav_xml_ctx *ctx, struct dav_response *r, const xmlNode *el,
	     struct dav_propstat *ps)
{
	size_t len;
	bool mixed;
	char *s = dav_xml_text(el, &len, &mixed);

	if (s == NULL)
		return dav_xml_nomem(ctx);
	if (mixed) {
		free(s);
		dav_xml_refuse(r, "<%s> must hold text only",
			       (const char *)el->name);
		return E2_OK;
	}
	if (len > DAV_XML_MAX_DATA - ctx->ms->data_total) {
		free(s);
		return e2_fail(ctx->err, E2_EPROTO,
			       "line %ld: item data larger than %u bytes in "
			       "all",
			       xmlGetLineNo(el), DAV_XML_MAX_DATA);
	}
	ctx->ms->data_total += len;
	if (len == 0) {
		free(s);
		return E2_OK;
	}
	ps->data = s;
	ps->data_len = len;
	return E2_OK;
}

/* One child of DAV:prop. */
static enum e2_status
dav_xml_prop(struct dav_xml_ctx *ctx, struct dav_response *r, const xmlNode *el,
	     struct dav_propstat *ps)
{
	unsigned bit = 0;
	enum e2_status rc = E2_OK;

	if (dav_xml_is(el, DAV_NS_DAV, "getetag"))
		bit = DAV_PROP_GETETAG;
	else if (dav_xml_is(el, DAV_NS_CS, "getctag"))
		bit = DAV_PROP_GETCTAG;
	else if (dav_xml_is(el, DAV_NS_DAV, "sync-token"))
		bit = DAV_PROP_SYNC_TOKEN;
	else if (dav_xml_is(el, DAV_NS_DAV, "displayname"))
		bit = DAV_PROP_DISPLAYNAME;
	else if (dav_xml_is(el, DAV_NS_APPLE, "calendar-color"))
		bit = DAV_PROP_CALENDAR_COLOR;
	else if (dav_xml_is(el, DAV_NS_DAV, "resourcetype"))
		bit = DAV_PROP_RESOURCETYPE;
	else if (dav_xml_is(el, DAV_NS_DAV, "supported-report-set"))
		bit = DAV_PROP_SUPPORTED_REPORTS;
	else if (dav_xml_is(el, DAV_NS_DAV, "current-user-principal"))
		bit = DAV_PROP_PRINCIPAL;
	else if (dav_xml_is(el, DAV_NS_CARD, "addressbook-home-set"))
		bit = DAV_PROP_ADDRESSBOOK_HOME;
	else if (dav_xml_is(el, DAV_NS_CAL, "calendar-home-set"))
		bit = DAV_PROP_CALENDAR_HOME;
	else if (dav_xml_is(el, DAV_NS_CAL, "supported-calendar-component-set"))
		bit = DAV_PROP_COMPONENTS;
	else if (dav_xml_is(el, DAV_NS_DAV, "getcontenttype"))
		bit = DAV_PROP_CONTENT_TYPE;
	else if (dav_xml_is(el, DAV_NS_CARD, "address-data"))
		bit = DAV_PROP_ADDRESS_DATA;
	else if (dav_xml_is(el, DAV_NS_CAL, "calendar-data"))
		bit = DAV_PROP_CALENDAR_DATA;
	if (bit == 0)
		return E2_OK;
	if ((ps->have & bit) != 0 ||
	    ((bit == DAV_PROP_ADDRESS_DATA || bit == DAV_PROP_CALENDAR_DATA) &&
	     (ps->have & (DAV_PROP_ADDRESS_DATA | DAV_PROP_CALENDAR_DATA)) !=
		     0)) {
		dav_xml_refuse(r, "second <%s> in one propstat",
			       (const char *)el->name);
		return E2_OK;
	}
	ps->have |= bit;
	switch (bit) {
	case DAV_PROP_GETETAG:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT, &ps->etag);
		ps->etag_weak =
			ps->etag != NULL && strncmp(ps->etag, "W/", 2) == 0;
		break;
	case DAV_PROP_GETCTAG:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT, &ps->ctag);
		break;
	case DAV_PROP_SYNC_TOKEN:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT,
				   &ps->sync_token);
		break;
	case DAV_PROP_DISPLAYNAME:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT,
				   &ps->displayname);
		break;
	case DAV_PROP_CALENDAR_COLOR:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT, &ps->color);
		break;
	case DAV_PROP_CONTENT_TYPE:
		rc = dav_xml_short(ctx, r, el, DAV_XML_MAX_TEXT,
				   &ps->content_type);
		break;
	case DAV_PROP_RESOURCETYPE:
		ps->resourcetype = dav_xml_resourcetype(el);
		break;
	case DAV_PROP_SUPPORTED_REPORTS:
		ps->reports = dav_xml_reports(el, 1);
		break;
	case DAV_PROP_COMPONENTS:
		ps->components = dav_xml_components(el);
		break;
	case DAV_PROP_PRINCIPAL:
		for (const xmlNode *c = el->children; c != NULL; c = c->next) {
			if (!dav_xml_is(c, DAV_NS_DAV, "href"))
				continue;
			if (ps->principal != NULL) {
				dav_xml_refuse(r, "second <href> in "
						  "<current-user-principal>");
				break;
			}
			rc = dav_xml_prop_href(ctx, r, c, &ps->principal);
			if (rc != E2_OK)
				break;
		}
		break;
	case DAV_PROP_ADDRESSBOOK_HOME:
		rc = dav_xml_homes(ctx, r, el, &ps->ab_homes, &ps->n_ab_homes);
		break;
	case DAV_PROP_CALENDAR_HOME:
		rc = dav_xml_homes(ctx, r, el, &ps->cal_homes,
				   &ps->n_cal_homes);
		break;
	default:
		rc = dav_xml_data(ctx, r, el, ps);
		break;
	}
	return rc;
}

static void
dav_xml_propstat_clear(struct dav_propstat *ps)
{
	free(ps->etag);
	free(ps->ctag);
	free(ps->sync_token);
	free(ps->displayname);
	free(ps->color);
	free(ps->content_type);
	free(ps->principal);
	for (size_t i = 0; i < ps->n_ab_homes; i++)
		free(ps->ab_homes[i]);
	free(ps->ab_homes);
	for (size_t i = 0; i < ps->n_cal_homes; i++)
		free(ps->cal_homes[i]);
	free(ps->cal_homes);
	free(ps->data);
	memset(ps, 0, sizeof(*ps));
}

static void
dav_xml_propstats_clear(struct dav_response *r)
{
	for (size_t i = 0; i < r->n_propstats; i++)
		dav_xml_propstat_clear(&r->propstats[i]);
	free(r->propstats);
	r->propstats = NULL;
	r->n_propstats = 0;
}

static void
dav_xml_response_clear(struct dav_response *r)
{
	dav_xml_propstats_clear(r);
	free(r->href);
	free(r->href_norm);
	r->href = NULL;
	r->href_norm = NULL;
}

/* One DAV:propstat appended to r (skipped when empty). */
static enum e2_status
dav_xml_propstat(struct dav_xml_ctx *ctx, struct dav_response *r,
		 const xmlNode *el)
{
	struct dav_propstat ps = {0};
	struct dav_propstat *p;
	bool has_prop = false;
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children;
	     c != NULL && rc == E2_OK && !r->refused; c = c->next) {
		if (dav_xml_is(c, DAV_NS_DAV, "status")) {
			rc = dav_xml_status(ctx, r, c, &ps.status);
		} else if (dav_xml_is(c, DAV_NS_DAV, "prop")) {
			for (const xmlNode *p2 = c->children;
			     p2 != NULL && rc == E2_OK && !r->refused;
			     p2 = p2->next) {
				if (p2->type != XML_ELEMENT_NODE)
					continue;
				has_prop = true;
				rc = dav_xml_prop(ctx, r, p2, &ps);
			}
		}
	}
	if (rc != E2_OK || r->refused)
		goto fail;
	if (ps.status == 0) {
		if (has_prop)
			dav_xml_refuse(r, "propstat without status");
		goto fail;
	}
	p = realloc(r->propstats, (r->n_propstats + 1) * sizeof(*p));
	if (p == NULL) {
		rc = dav_xml_nomem(ctx);
		goto fail;
	}
	r->propstats = p;
	r->propstats[r->n_propstats++] = ps;
	return E2_OK;
fail:
	dav_xml_propstat_clear(&ps);
	return rc;
}

/* A new entry at the end of ms->responses, zeroed. */
static enum e2_status
dav_xml_new_response(struct dav_xml_ctx *ctx, const xmlNode *el,
		     struct dav_response **r_out)
{
	struct dav_multistatus *ms = ctx->ms;
	struct dav_response *p;
	size_t n = ms->n_responses;

	if (n == DAV_XML_MAX_RESPONSES)
		return e2_fail(ctx->err, E2_EPROTO,
			       "line %ld: more than %u responses",
			       xmlGetLineNo(el), DAV_XML_MAX_RESPONSES);
	/* capacity: the smallest power of two >= n, at least 16 */
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		p = realloc(ms->responses, (n == 0 ? 16 : 2 * n) * sizeof(*p));
		if (p == NULL)
			return dav_xml_nomem(ctx);
		ms->responses = p;
	}
	memset(&ms->responses[n], 0, sizeof(ms->responses[n]));
	ms->n_responses++;
	*r_out = &ms->responses[n];
	return E2_OK;
}

/* The href of r from the DAV:href element h. */
static enum e2_status
dav_xml_response_href(struct dav_xml_ctx *ctx, struct dav_response *r,
		      const xmlNode *h)
{
	struct e2_err herr;
	enum e2_status rc;

	rc = dav_xml_short(ctx, r, h, DAV_XML_MAX_HREF, &r->href);
	if (rc != E2_OK || r->refused)
		return rc;
	e2_err_clear(&herr);
	rc = dav_href_normalise(r->href, &r->href_norm, &herr);
	if (rc == E2_ENOMEM)
		return dav_xml_nomem(ctx);
	if (rc != E2_OK)
		dav_xml_refuse(r, "%s", herr.msg);
	return E2_OK;
}

/* One DAV:response: one entry, or one per href. */
static enum e2_status
dav_xml_response(struct dav_xml_ctx *ctx, const xmlNode *el)
{
	const xmlNode *first_href = NULL;
	struct dav_response *r = NULL;
	size_t n_hrefs = 0, n_propstats = 0, first;
	int status = 0;
	struct dav_response probe = {0};
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (dav_xml_is(c, DAV_NS_DAV, "href")) {
			if (first_href == NULL)
				first_href = c;
			n_hrefs++;
		} else if (dav_xml_is(c, DAV_NS_DAV, "propstat")) {
			n_propstats++;
		} else if (dav_xml_is(c, DAV_NS_DAV, "status")) {
			rc = dav_xml_status(ctx, &probe, c, &status);
			if (rc != E2_OK)
				return rc;
		}
	}
	first = ctx->ms->n_responses;
	if (n_hrefs == 0 || n_propstats > 0 || probe.refused) {
		/* one entry */
		rc = dav_xml_new_response(ctx, el, &r);
		if (rc != E2_OK)
			return rc;
		r->status = status;
		if (probe.refused)
			dav_xml_refuse(r, "%s", probe.reason);
		else if (n_hrefs == 0)
			dav_xml_refuse(r, "response without href");
		else if (n_hrefs > 1)
			dav_xml_refuse(r,
				       "response with %zu hrefs and "
				       "propstats",
				       n_hrefs);
		if (first_href != NULL && !r->refused)
			rc = dav_xml_response_href(ctx, r, first_href);
		for (const xmlNode *c = el->children;
		     c != NULL && rc == E2_OK && !r->refused; c = c->next)
			if (dav_xml_is(c, DAV_NS_DAV, "propstat"))
				rc = dav_xml_propstat(ctx, r, c);
		if (rc == E2_OK && !r->refused && status == 0 &&
		    r->n_propstats == 0 && n_propstats == 0)
			dav_xml_refuse(r, "response without status or "
					  "propstat");
	} else {
		for (const xmlNode *c = el->children; c != NULL && rc == E2_OK;
		     c = c->next) {
			if (!dav_xml_is(c, DAV_NS_DAV, "href"))
				continue;
			rc = dav_xml_new_response(ctx, c, &r);
			if (rc != E2_OK)
				break;
			r->status = status;
			rc = dav_xml_response_href(ctx, r, c);
			if (status == 0)
				dav_xml_refuse(r, "response without status or "
						  "propstat");
		}
	}
	for (size_t i = first; i < ctx->ms->n_responses; i++) {
		r = &ctx->ms->responses[i];
		if (r->status == 507)
			ctx->ms->truncated = true;
		if (r->refused) {
			/* the href stays when it passed; nothing else */
			dav_xml_propstats_clear(r);
			ctx->ms->n_refused++;
		}
	}
	return rc;
}

/* ---- the body ------------------------------------------------------------ */

/* Entity references left in the tree (none should be): the whole body. */
static enum e2_status
dav_xml_check_tree(struct dav_xml_ctx *ctx, const xmlNode *node)
{
	enum e2_status rc;

	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		if (c->type == XML_ENTITY_REF_NODE)
			return e2_fail(ctx->err, E2_EPROTO,
				       "line %ld: entity reference refused",
				       xmlGetLineNo(node));
		if (c->type == XML_ELEMENT_NODE) {
			rc = dav_xml_check_tree(ctx, c);
			if (rc != E2_OK)
				return rc;
		}
	}
	return E2_OK;
}

enum e2_status
dav_xml_parse(const char *buf, size_t len, struct dav_multistatus **ms_out,
	      struct e2_err *err)
{
	static const struct xml_read_limits lim = {DAV_XML_MAX_ELEMENTS,
						   DAV_XML_MAX_DEPTH};
	struct dav_xml_ctx ctx = {.err = err};
	xmlDoc *xml = NULL;
	xmlNode *root;
	struct dav_response tok = {0};
	char q[160];
	enum e2_status rc;

	if (buf == NULL || len == 0)
		return e2_fail(err, E2_EPROTO, "empty webdav response body");
	if (len > DAV_XML_MAX_BODY)
		return e2_fail(err, E2_EPROTO,
			       "webdav response body larger than %u bytes",
			       DAV_XML_MAX_BODY);
	ctx.ms = calloc(1, sizeof(*ctx.ms));
	if (ctx.ms == NULL)
		return dav_xml_nomem(&ctx);
	/* the hardened reading every XML input gets, capped as it goes */
	rc = xml_read(buf, len, &lim, E2_EPROTO, &xml, err);
	if (rc != E2_OK)
		goto out;
	root = xmlDocGetRootElement(xml);
	if (root == NULL) {
		rc = e2_fail(err, E2_EPROTO, "body has no root element");
		goto out;
	}
	rc = dav_xml_check_tree(&ctx, root);
	if (rc != E2_OK)
		goto out;
	if (!dav_xml_is(root, DAV_NS_DAV, "multistatus")) {
		const char *n = (const char *)root->name;

		rc = e2_fail(err, E2_EPROTO,
			     "root element \"%s\" is not DAV:multistatus",
			     e2_quote(q, sizeof(q), n, strlen(n)));
		goto out;
	}
	for (const xmlNode *c = root->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		if (dav_xml_is(c, DAV_NS_DAV, "response")) {
			rc = dav_xml_response(&ctx, c);
		} else if (dav_xml_is(c, DAV_NS_DAV, "sync-token")) {
			if (ctx.ms->sync_token != NULL) {
				rc = e2_fail(err, E2_EPROTO,
					     "line %ld: second multistatus "
					     "<sync-token>",
					     xmlGetLineNo(c));
				break;
			}
			rc = dav_xml_short(&ctx, &tok, c, DAV_XML_MAX_TEXT,
					   &ctx.ms->sync_token);
			if (rc == E2_OK && tok.refused)
				rc = e2_fail(err, E2_EPROTO, "line %ld: %s",
					     xmlGetLineNo(c), tok.reason);
		}
	}
out:
	xmlFreeDoc(xml);
	if (rc != E2_OK) {
		dav_xml_free(&ctx.ms);
		return rc;
	}
	*ms_out = ctx.ms;
	return E2_OK;
}

void
dav_xml_free(struct dav_multistatus **ms)
{
	struct dav_multistatus *m;

	if (ms == NULL || *ms == NULL)
		return;
	m = *ms;
	for (size_t i = 0; i < m->n_responses; i++)
		dav_xml_response_clear(&m->responses[i]);
	free(m->responses);
	free(m->sync_token);
	free(m);
	*ms = NULL;
}

const struct dav_propstat *
dav_response_found(const struct dav_response *r)
{
	if (r == NULL || r->refused)
		return NULL;
	for (size_t i = 0; i < r->n_propstats; i++)
		if (r->propstats[i].status >= 200 &&
		    r->propstats[i].status <= 299)
			return &r->propstats[i];
	return NULL;
}
