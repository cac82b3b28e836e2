/* SPDX-License-Identifier: MIT */
/* dav.c -- the WebDAV requests of CardDAV and CalDAV over transports/http */
#include "config.h"

#include "transports/dav.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Decisions:
 * - One request at a time on one http session (Radicale's HTTP/1.0 server
 *   closes each connection; others keep it alive and the session reuses
 *   it).
 * - Discovery follows a well-known redirect only when http_redirect_ok()
 *   allows it with the credentials (same host and port, or http to https
 *   of that host): the session sends its credentials to every request,
 *   so a redirect elsewhere is refused rather than followed bare.
 * - Radicale answers the .well-known URLs with 301 to "/" before any login, and
 *   the PROPFIND there names the principal. 404 or 405 on the well-known
 *   URL (servers without it) falls back to "/".
 * - An error status on a REPORT is E2_EPROTO with the status in the
 *   message and dav_last_status(): the caller decides what to retry.
 *
 * Radicale 3.1 as met by tests/integration/dav.sh (the check named):
 *   HTTP/1.0, every connection closed: each request is a new TCP and TLS
 *     connection, so discovery reuses the answer at the end of the
 *     well-known redirect ("discovery from the bare host").
 *   /.well-known/carddav|caldav: 301 to "/" before any login; "/" then
 *     names the principal (same check).
 *   Basic only, no Digest: over plain HTTP the credentials go only when
 *     the policy allows cleartext ("HTTP allowed, Basic not").
 *   An unknown or malformed sync-token: 403 with DAV:valid-sync-token
 *     ("an invalid token").
 *   getctag is the collection's etag; sync-tokens are URLs
 *     http://radicale.org/ns/sync/HEX ("discovery of the calendar home").
 *   Items are served re-serialized by vobject (properties reordered), not
 *     as stored; a raw CR LF in address-data arrives as LF after XML
 *     parsing ("multiget in batches").
 *   PUT answers 201 with a strong ETag; 412 for If-None-Match: * on an
 *     existing item and for a stale If-Match, on PUT and DELETE alike.
 *   A multiget answers a missing href with a 404 response ("1 missing").
 *   Items not yet in its cache (written behind its back, or after a
 *     restart without the cache) are all parsed before the first byte of
 *     a REPORT goes out: 2,000 such vCards took 8.6 s on the test machine
 *     under load, near HTTP_IDLE_MS; the sync layer needs a longer idle
 *     limit for REPORTs ("2,000 items written into the storage").
 */

struct dav_session {
	struct http_session *http;
	char *base;
	long last_status;
};

static const char dav_ns[] =
	"xmlns:d=\"DAV:\" xmlns:cr=\"urn:ietf:params:xml:ns:carddav\" "
	"xmlns:c=\"urn:ietf:params:xml:ns:caldav\" "
	"xmlns:cs=\"http://calendarserver.org/ns/\" "
	"xmlns:i=\"http://apple.com/ns/ical/\"";

/* ---- small helpers ---- */

static char *
dav_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* a URL for a message: e2_quote()d into buf (it may hold server bytes) */
static const char *
dav_q(char *buf, size_t n, const char *url)
{
	return e2_quote(buf, n, url, strlen(url));
}

/* appends n bytes of s to the heap string *buf (len *blen) */
static bool
dav_append(char **buf, size_t *blen, const char *s, size_t n)
{
	char *p = realloc(*buf, *blen + n + 1);

	if (p == NULL)
		return false;
	memcpy(p + *blen, s, n);
	*blen += n;
	p[*blen] = '\0';
	*buf = p;
	return true;
}

static bool
dav_append_str(char **buf, size_t *blen, const char *s)
{
	return dav_append(buf, blen, s, strlen(s));
}

enum e2_status
dav_xml_escape(const char *s, char **out, struct e2_err *err)
{
	char *buf = NULL;
	size_t blen = 0;
	const unsigned char *p;

	if (!dav_append(&buf, &blen, "", 0))
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		const char *e = NULL;
		char c = (char)*p;
		bool ok;

		switch (*p) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&apos;";
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n' &&
			     *p != '\r') ||
			    *p == 0x7f) {
				free(buf);
				return e2_fail(err, E2_EINVAL,
					       "control byte 0x%02x in an xml "
					       "value",
					       *p);
			}
		}
		ok = e != NULL ? dav_append_str(&buf, &blen, e)
			       : dav_append(&buf, &blen, &c, 1);
		if (!ok) {
			free(buf);
			return e2_fail(err, E2_ENOMEM, "out of memory");
		}
	}
	*out = buf;
	return E2_OK;
}

enum e2_status
dav_body_sync_collection(const char *token, enum dav_sync_props props,
			 char **out, struct e2_err *err)
{
	static const char *const prop[] = {
		[DAV_SYNC_ETAG] = "<d:prop><d:getetag/></d:prop>",
		[DAV_SYNC_CARD_DATA] = "<d:prop><d:getetag/><cr:address-data/>"
				       "</d:prop>",
		[DAV_SYNC_CAL_DATA] = "<d:prop><d:getetag/><c:calendar-data/>"
				      "</d:prop>",
	};
	char *tok = NULL, *buf = NULL;
	size_t blen = 0;
	enum e2_status rc;

	if ((unsigned)props > DAV_SYNC_CAL_DATA)
		return e2_fail(err, E2_EINVAL, "sync-collection: bad props");

	rc = dav_xml_escape(token == NULL ? "" : token, &tok, err);
	if (rc != E2_OK)
		return rc;
	if (!dav_append_str(&buf, &blen,
			    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			    "<d:sync-collection xmlns:d=\"DAV:\"") ||
	    !dav_append_str(&buf, &blen,
			    props == DAV_SYNC_CARD_DATA
				    ? " xmlns:cr=\"urn:ietf:params:xml:ns:"
				      "carddav\""
			    : props == DAV_SYNC_CAL_DATA
				    ? " xmlns:c=\"urn:ietf:params:xml:ns:"
				      "caldav\""
				    : "") ||
	    !dav_append_str(&buf, &blen, "><d:sync-token>") ||
	    !dav_append_str(&buf, &blen, tok) ||
	    !dav_append_str(&buf, &blen,
			    "</d:sync-token><d:sync-level>1</d:sync-level>") ||
	    !dav_append_str(&buf, &blen, prop[props]) ||
	    !dav_append_str(&buf, &blen, "</d:sync-collection>\n")) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	*out = buf;
	buf = NULL;
out:
	free(tok);
	free(buf);
	return rc;
}

enum e2_status
dav_body_multiget(enum dav_kind kind, const char *const *hrefs, size_t n,
		  char **out, struct e2_err *err)
{
	const bool card = kind == DAV_KIND_CARD;
	char *buf = NULL, *h = NULL;
	size_t blen = 0, i;
	enum e2_status rc = E2_OK;

	if (!dav_append_str(
		    &buf, &blen,
		    card ? "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			   "<cr:addressbook-multiget xmlns:d=\"DAV:\" "
			   "xmlns:cr=\"urn:ietf:params:xml:ns:"
			   "carddav\"><d:prop><d:getetag/>"
			   "<cr:address-data/></d:prop>"
			 : "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			   "<c:calendar-multiget xmlns:d=\"DAV:\" "
			   "xmlns:c=\"urn:ietf:params:xml:ns:"
			   "caldav\"><d:prop><d:getetag/>"
			   "<c:calendar-data/></d:prop>"))
		goto nomem;
	for (i = 0; i < n; i++) {
		rc = dav_xml_escape(hrefs[i], &h, err);
		if (rc != E2_OK)
			goto out;
		if (!dav_append_str(&buf, &blen, "<d:href>") ||
		    !dav_append_str(&buf, &blen, h) ||
		    !dav_append_str(&buf, &blen, "</d:href>"))
			goto nomem;
		free(h);
		h = NULL;
	}
	if (!dav_append_str(&buf, &blen,
			    card ? "</cr:addressbook-multiget>\n"
				 : "</c:calendar-multiget>\n"))
		goto nomem;
	*out = buf;
	buf = NULL;
	goto out;
nomem:
	rc = e2_fail(err, E2_ENOMEM, "out of memory");
out:
	free(h);
	free(buf);
	return rc;
}

/* ---- the session ---- */

enum e2_status
dav_session_new(const struct http_policy *pol, const char *base_url,
		struct dav_session **s_out, struct e2_err *err)
{
	struct dav_session *s;
	enum e2_status rc;

	if (base_url == NULL || (strncasecmp(base_url, "https://", 8) != 0 &&
				 strncasecmp(base_url, "http://", 7) != 0))
		return e2_fail(err, E2_EINVAL, "dav server url is not http(s)");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	s->base = strdup(base_url);
	if (s->base == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	rc = http_session_new(pol, &s->http, err);
	if (rc != E2_OK)
		goto out;
	*s_out = s;
	s = NULL;
out:
	dav_session_free(&s);
	return rc;
}

void
dav_session_assume_basic(struct dav_session *s)
{
	http_session_assume_basic(s->http, s->base);
}

bool
dav_session_basic(const struct dav_session *s)
{
	return http_session_basic(s->http);
}

void
dav_session_free(struct dav_session **s)
{
	if (s == NULL || *s == NULL)
		return;
	http_session_free(&(*s)->http);
	free((*s)->base);
	free(*s);
	*s = NULL;
}

void
dav_session_tls(const struct dav_session *s, struct xport_info *info)
{
	http_session_tls(s->http, info);
}

long
dav_last_status(const struct dav_session *s)
{
	return s->last_status;
}

/*
 * One request; the http layer's message is prefixed with step and url
 * (first failure wins, so it is rebuilt here).
 */
static enum e2_status
dav_request(struct dav_session *s, const char *step, const char *method,
	    const char *url, const char *const *headers, const void *body,
	    size_t len, size_t cap, struct http_response *resp,
	    struct e2_err *err)
{
	struct e2_err e = {0};
	char q[160];
	enum e2_status rc;

	resp->body_cap = cap;
	if (http_session_trace(s->http) != NULL)
		(void)fprintf(http_session_trace(s->http), "dav: %s\n", step);
	rc = http_request(s->http, method, url, headers, body, len, resp, &e);
	s->last_status = resp->status;
	if (rc != E2_OK) {
		e2_quote(q, sizeof(q), url, strlen(url));
		err->sys_errno = e.sys_errno;
		return e2_fail(err, rc, "%s %s: %s", step, q, e.msg);
	}
	return E2_OK;
}

static enum e2_status
dav_bad_status(const char *step, const char *url,
	       const struct http_response *resp, struct e2_err *err)
{
	char q[160];

	e2_quote(q, sizeof(q), url, strlen(url));
	return e2_fail(err, E2_EPROTO, "%s %s: status %ld", step, q,
		       resp->status);
}

/* a 207 multistatus parsed, with step and url in errors */
static enum e2_status
dav_multistatus(struct dav_session *s, const char *step, const char *method,
		const char *url, const char *depth, const char *body,
		struct dav_multistatus **ms_out, struct e2_err *err)
{
	struct http_response resp = {0};
	struct e2_err e = {0};
	char q[160];
	const char *headers[] = {"Content-Type: application/xml; charset=utf-8",
				 depth, NULL};
	enum e2_status rc;

	rc = dav_request(s, step, method, url, headers, body, strlen(body),
			 DAV_XML_MAX_BODY, &resp, err);
	if (rc != E2_OK)
		goto out;
	if (resp.status != 207) {
		rc = dav_bad_status(step, url, &resp, err);
		goto out;
	}
	rc = dav_xml_parse(resp.body == NULL ? "" : resp.body, resp.body_len,
			   ms_out, &e);
	if (rc != E2_OK) {
		e2_quote(q, sizeof(q), url, strlen(url));
		e2_fail(err, rc, "%s %s: %s", step, q, e.msg);
	}
out:
	http_response_clear(&resp);
	return rc;
}

/* href resolved against base into *out; step and url in errors */
static enum e2_status
dav_resolve(const char *step, const char *base, const char *href, char **out,
	    struct e2_err *err)
{
	struct e2_err e = {0};
	char q[160], qb[160];
	enum e2_status rc;

	rc = http_url_resolve(base, href, out, &e);
	if (rc != E2_OK) {
		e2_quote(q, sizeof(q), href, strlen(href));
		return e2_fail(err, rc, "%s %s: href %s: %s", step,
			       dav_q(qb, sizeof(qb), base), q, e.msg);
	}
	return E2_OK;
}

/* ---- discovery ---- */

static const char dav_body_principal[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<d:propfind xmlns:d=\"DAV:\"><d:prop><d:current-user-principal/>"
	"</d:prop></d:propfind>\n";

/*
 * The context URL into *out: the well-known URL or where its redirects
 * end. The request at the end is the principal PROPFIND: when it is a
 * 207, *ms_out is its parse (else NULL), which saves a request (Radicale
 * closes every connection: each one is a TLS handshake).
 */
static enum e2_status
dav_discover_context(struct dav_session *s, enum dav_kind kind, char **out,
		     struct dav_multistatus **ms_out, struct e2_err *err)
{
	struct http_response resp = {0};
	const char *headers[] = {"Content-Type: application/xml; charset=utf-8",
				 "Depth: 0", NULL};
	char *url = NULL, *next = NULL;
	enum e2_status rc;
	int hops;
	bool cred_ok;

	rc = dav_resolve("well-known", s->base,
			 kind == DAV_KIND_CARD ? "/.well-known/carddav"
					       : "/.well-known/caldav",
			 &url, err);
	if (rc != E2_OK)
		return rc;
	for (hops = 0;; hops++) {
		http_response_clear(&resp);
		rc = dav_request(s, hops == 0 ? "well-known" : "principal",
				 "PROPFIND", url, headers, dav_body_principal,
				 strlen(dav_body_principal), DAV_XML_MAX_BODY,
				 &resp, err);
		if (rc != E2_OK)
			goto out;
		if (resp.status == 404 || resp.status == 405) {
			free(url);
			url = NULL;
			rc = dav_resolve("well-known", s->base, "/", &url, err);
			goto done;
		}
		if (resp.status < 300 || resp.status > 399)
			goto done;
		if (resp.location == NULL || hops == DAV_MAX_REDIRECTS ||
		    !http_redirect_ok(url, resp.location, &cred_ok) ||
		    !cred_ok) {
			char q[160], qu[160];

			e2_quote(q, sizeof(q),
				 resp.location == NULL ? "" : resp.location,
				 resp.location == NULL ? 0
						       : strlen(resp.location));
			rc = e2_fail(err, E2_EPROTO,
				     "well-known %s: redirect to \"%s\" "
				     "refused",
				     dav_q(qu, sizeof(qu), url), q);
			goto out;
		}
		rc = dav_resolve("well-known", url, resp.location, &next, err);
		if (rc != E2_OK)
			goto out;
		free(url);
		url = next;
		next = NULL;
	}
done:
	if (rc == E2_OK && resp.status == 207) {
		struct e2_err e = {0};
		char qu[160];

		rc = dav_xml_parse(resp.body == NULL ? "" : resp.body,
				   resp.body_len, ms_out, &e);
		if (rc != E2_OK) {
			rc = e2_fail(err, rc, "principal %s: %s",
				     dav_q(qu, sizeof(qu), url), e.msg);
			goto out;
		}
	}
	if (rc == E2_OK) {
		*out = url;
		url = NULL;
	}
out:
	http_response_clear(&resp);
	free(url);
	free(next);
	return rc;
}

/* the first found propstat of the first response of ms, or NULL */
static const struct dav_propstat *
dav_first_found(const struct dav_multistatus *ms)
{
	size_t i;

	for (i = 0; i < ms->n_responses; i++) {
		const struct dav_propstat *p =
			dav_response_found(&ms->responses[i]);

		if (p != NULL)
			return p;
	}
	return NULL;
}

static void
dav_collection_clear(struct dav_collection *c)
{
	free(c->url);
	free(c->href);
	free(c->displayname);
	free(c->color);
	free(c->ctag);
	free(c->sync_token);
}

void
dav_discovery_free(struct dav_discovery **d)
{
	size_t i;

	if (d == NULL || *d == NULL)
		return;
	for (i = 0; i < (*d)->n_colls; i++)
		dav_collection_clear(&(*d)->colls[i]);
	free((*d)->colls);
	free((*d)->context_url);
	free((*d)->principal_url);
	free((*d)->home_url);
	free((*d)->dav_header);
	free(*d);
	*d = NULL;
}

/* c's names, markers and bits copied from src (its url stays c's). */
static enum e2_status
dav_collection_fill(struct dav_collection *c, const struct dav_collection *src,
		    struct e2_err *err)
{
	c->href = dav_strdup(src->href);
	c->displayname = dav_strdup(src->displayname);
	c->color = dav_strdup(src->color);
	c->ctag = dav_strdup(src->ctag);
	c->sync_token = dav_strdup(src->sync_token);
	c->reports = src->reports;
	c->components = src->components;
	if (c->href == NULL ||
	    (src->displayname != NULL && c->displayname == NULL) ||
	    (src->color != NULL && c->color == NULL) ||
	    (src->ctag != NULL && c->ctag == NULL) ||
	    (src->sync_token != NULL && c->sync_token == NULL))
		return e2_fail(err, E2_ENOMEM, "out of memory");
	return E2_OK;
}

static enum e2_status
dav_collections(const struct dav_multistatus *ms, enum dav_kind kind,
		const char *home, struct dav_discovery *d, struct e2_err *err)
{
	const unsigned want =
		kind == DAV_KIND_CARD ? DAV_RT_ADDRESSBOOK : DAV_RT_CALENDAR;
	size_t i;

	d->colls = calloc(ms->n_responses + 1, sizeof(*d->colls));
	if (d->colls == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (i = 0; i < ms->n_responses; i++) {
		const struct dav_response *r = &ms->responses[i];
		const struct dav_propstat *p = dav_response_found(r);
		struct dav_collection *c = &d->colls[d->n_colls];
		enum e2_status rc;

		if (p == NULL || (p->resourcetype & want) == 0)
			continue;
		rc = dav_resolve("collections", home, r->href, &c->url, err);
		if (rc != E2_OK)
			return rc;
		d->n_colls++;
		rc = dav_collection_fill(c,
					 &(const struct dav_collection){
						 .href = r->href,
						 .displayname = p->displayname,
						 .color = p->color,
						 .ctag = p->ctag,
						 .sync_token = p->sync_token,
						 .reports = p->reports,
						 .components = p->components},
					 err);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

/* PROPFIND Depth 1 on d->home_url: its addressbooks or calendars. */
static enum e2_status
dav_discover_colls(struct dav_session *s, enum dav_kind kind,
		   struct dav_discovery *d, struct e2_err *err)
{
	const bool card = kind == DAV_KIND_CARD;
	struct dav_multistatus *ms = NULL;
	char *body = NULL;
	enum e2_status rc;

	if (asprintf(&body,
		     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		     "<d:propfind %s><d:prop><d:resourcetype/>"
		     "<d:displayname/><i:calendar-color/>"
		     "<d:supported-report-set/>%s"
		     "</d:prop></d:propfind>\n",
		     dav_ns,
		     card ? "" : "<c:supported-calendar-component-set/>") < 0)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = dav_multistatus(s, "collections", "PROPFIND", d->home_url,
			     "Depth: 1", body, &ms, err);
	if (rc == E2_OK)
		rc = dav_collections(ms, kind, d->home_url, d, err);
	dav_xml_free(&ms);
	free(body);
	return rc;
}

/* A discovery whose context, principal and home set are home_url. */
static enum e2_status
dav_discovery_at(const char *home_url, struct dav_discovery **d_out,
		 struct e2_err *err)
{
	struct dav_discovery *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	d->context_url = strdup(home_url);
	d->principal_url = strdup(home_url);
	d->home_url = strdup(home_url);
	if (d->context_url == NULL || d->principal_url == NULL ||
	    d->home_url == NULL) {
		dav_discovery_free(&d);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	*d_out = d;
	return E2_OK;
}

enum e2_status
dav_discover_home(struct dav_session *s, enum dav_kind kind,
		  const char *home_url, struct dav_discovery **d_out,
		  struct e2_err *err)
{
	struct dav_discovery *d = NULL;
	enum e2_status rc;

	rc = dav_discovery_at(home_url, &d, err);
	if (rc == E2_OK)
		rc = dav_discover_colls(s, kind, d, err);
	if (rc == E2_OK && d->n_colls == 0) {
		char qu[160];

		/* a home set with nothing of kind: ask discovery again */
		rc = e2_fail(err, E2_EPROTO, "collections %s: none of %s",
			     dav_q(qu, sizeof(qu), home_url),
			     kind == DAV_KIND_CARD ? "addressbook"
						   : "calendar");
	}
	if (rc == E2_OK) {
		*d_out = d;
		return E2_OK;
	}
	dav_discovery_free(&d);
	return rc;
}

enum e2_status
dav_discovery_from(const char *home_url, const struct dav_collection *colls,
		   size_t n, struct dav_discovery **d_out, struct e2_err *err)
{
	struct dav_discovery *d = NULL;
	enum e2_status rc;

	rc = dav_discovery_at(home_url, &d, err);
	if (rc != E2_OK)
		return rc;
	d->assumed = true;
	d->colls = calloc(n + 1, sizeof(*d->colls));
	if (d->colls == NULL)
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; rc == E2_OK && i < n; i++) {
		const struct dav_collection *k = &colls[i];
		struct dav_collection *c = &d->colls[d->n_colls];
		char q[160];

		if (k->href == NULL)
			continue;
		rc = dav_resolve("collections", home_url, k->href, &c->url,
				 err);
		if (rc != E2_OK)
			break;
		d->n_colls++;
		if (!http_same_origin(home_url, c->url)) {
			rc = e2_fail(err, E2_EPROTO,
				     "kept collection %s is not on the home "
				     "set's host",
				     dav_q(q, sizeof(q), c->url));
			break;
		}
		rc = dav_collection_fill(c, k, err);
	}
	if (rc == E2_OK) {
		*d_out = d;
		return E2_OK;
	}
	dav_discovery_free(&d);
	return rc;
}

enum e2_status
dav_discover(struct dav_session *s, enum dav_kind kind, bool confirm,
	     struct dav_discovery **d_out, struct e2_err *err)
{
	const bool card = kind == DAV_KIND_CARD;
	struct dav_discovery *d;
	struct dav_multistatus *ms = NULL;
	struct http_response resp = {0};
	const struct dav_propstat *p;
	const char *path, *home;
	enum e2_status rc;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	/* the context: the base URL's path, or the well-known lookup */
	path = strstr(s->base, "://");
	path = path == NULL ? NULL : strchr(path + 3, '/');
	if (path != NULL && strcmp(path, "/") != 0) {
		d->context_url = strdup(s->base);
		if (d->context_url == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		rc = dav_discover_context(s, kind, &d->context_url, &ms, err);
		if (rc != E2_OK)
			goto out;
	}

	if (ms == NULL)
		rc = dav_multistatus(s, "principal", "PROPFIND", d->context_url,
				     "Depth: 0", dav_body_principal, &ms, err);
	if (rc != E2_OK)
		goto out;
	p = dav_first_found(ms);
	rc = dav_resolve("principal", d->context_url,
			 p != NULL && p->principal != NULL ? p->principal
							   : d->context_url,
			 &d->principal_url, err);
	if (rc != E2_OK)
		goto out;
	dav_xml_free(&ms);

	rc = dav_multistatus(
		s, "home-set", "PROPFIND", d->principal_url, "Depth: 0",
		card ? "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		       "<d:propfind xmlns:d=\"DAV:\" "
		       "xmlns:cr=\"urn:ietf:params:xml:ns:carddav\"><d:prop>"
		       "<cr:addressbook-home-set/></d:prop></d:propfind>\n"
		     : "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		       "<d:propfind xmlns:d=\"DAV:\" "
		       "xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
		       "<c:calendar-home-set/></d:prop></d:propfind>\n",
		&ms, err);
	if (rc != E2_OK)
		goto out;
	p = dav_first_found(ms);
	home = p == NULL ? NULL
	       : card    ? (p->n_ab_homes > 0 ? p->ab_homes[0] : NULL)
			 : (p->n_cal_homes > 0 ? p->cal_homes[0] : NULL);
	if (home == NULL) {
		char qu[160];

		rc = e2_fail(err, E2_EPROTO, "home-set %s: no %s",
			     dav_q(qu, sizeof(qu), d->principal_url),
			     card ? "addressbook-home-set"
				  : "calendar-home-set");
		goto out;
	}
	rc = dav_resolve("home-set", d->principal_url, home, &d->home_url, err);
	if (rc != E2_OK)
		goto out;
	dav_xml_free(&ms);

	rc = dav_discover_colls(s, kind, d, err);
	if (rc != E2_OK)
		goto out;
	if (!confirm)
		goto done;
	rc = dav_request(s, "options", "OPTIONS", d->home_url, NULL, NULL, 0,
			 4096, &resp, err);
	if (rc != E2_OK)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		rc = dav_bad_status("options", d->home_url, &resp, err);
		goto out;
	}
	if (resp.dav != NULL) {
		d->dav_header = strdup(resp.dav);
		if (d->dav_header == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		d->confirmed =
			strcasestr(resp.dav, card ? "addressbook"
						  : "calendar-access") != NULL;
	}
done:
	*d_out = d;
	d = NULL;
out:
	http_response_clear(&resp);
	dav_xml_free(&ms);
	dav_discovery_free(&d);
	return rc;
}

static enum e2_status
dav_tag_copy(const char *v, char **out, struct e2_err *err)
{
	if (out == NULL || v == NULL)
		return E2_OK;
	*out = strdup(v);
	return *out == NULL ? e2_fail(err, E2_ENOMEM, "out of memory") : E2_OK;
}

enum e2_status
dav_collection_tags(struct dav_session *s, const char *coll_url, unsigned want,
		    char **token_out, char **ctag_out, struct e2_err *err)
{
	struct dav_multistatus *ms = NULL;
	const struct dav_propstat *p;
	char body[320];
	enum e2_status rc;

	if (token_out != NULL)
		*token_out = NULL;
	if (ctag_out != NULL)
		*ctag_out = NULL;
	(void)snprintf(body, sizeof(body),
		       "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		       "<d:propfind xmlns:d=\"DAV:\" "
		       "xmlns:cs=\"http://calendarserver.org/ns/\"><d:prop>"
		       "%s%s</d:prop></d:propfind>\n",
		       (want & DAV_TAG_SYNC) ? "<d:sync-token/>" : "",
		       (want & DAV_TAG_CTAG) ? "<cs:getctag/>" : "");
	rc = dav_multistatus(s,
			     want == DAV_TAG_CTAG   ? "getctag"
			     : want == DAV_TAG_SYNC ? "sync-token"
						    : "sync-token and getctag",
			     "PROPFIND", coll_url, "Depth: 0", body, &ms, err);
	if (rc != E2_OK)
		return rc;
	p = dav_first_found(ms);
	if (p != NULL && (want & DAV_TAG_SYNC))
		rc = dav_tag_copy(p->sync_token, token_out, err);
	if (p != NULL && rc == E2_OK && (want & DAV_TAG_CTAG))
		rc = dav_tag_copy(p->ctag, ctag_out, err);
	dav_xml_free(&ms);
	return rc;
}

/* ---- sync-collection and the listing ---- */

static void
dav_item_clear(struct dav_item *it)
{
	free(it->href);
	free(it->url);
	free(it->etag);
	free(it->data);
}

void
dav_item_free(struct dav_item **item)
{
	if (item == NULL || *item == NULL)
		return;
	dav_item_clear(*item);
	free(*item);
	*item = NULL;
}

void
dav_changes_free(struct dav_changes **c)
{
	size_t i;

	if (c == NULL || *c == NULL)
		return;
	for (i = 0; i < (*c)->n_changed; i++)
		dav_item_clear(&(*c)->changed[i]);
	free((*c)->changed);
	for (i = 0; i < (*c)->n_deleted; i++)
		free((*c)->deleted[i]);
	free((*c)->deleted);
	free((*c)->token);
	free((*c)->foreign);
	free(*c);
	*c = NULL;
}

/* dav_href_member() with self, coll_url's normalised path, given. */
static bool
dav_href_member_of(const char *coll_url, const char *self, const char *href)
{
	char *abs = NULL, *norm = NULL;
	struct e2_err e = {0};
	bool member = false;
	size_t n;
	const char *rest;

	if (coll_url == NULL || self == NULL || href == NULL ||
	    !http_same_origin(coll_url, href))
		return false;
	/* a relative href is relative to the collection (RFC 3986 5.2) */
	if (http_url_resolve(coll_url, href, &abs, &e) != E2_OK ||
	    dav_href_normalise(abs, &norm, &e) != E2_OK)
		goto out;
	n = strlen(self);
	if (strncmp(norm, self, n) != 0)
		goto out;
	rest = norm + n;
	if (n == 0 || self[n - 1] != '/') {
		if (*rest != '/')
			goto out;
		rest++;
	}
	n = strcspn(rest, "/?#");
	/* one non-empty segment, a trailing "/" allowed */
	member = n > 0 &&
		 (rest[n] == '\0' || (rest[n] == '/' && rest[n + 1] == '\0'));
out:
	free(abs);
	free(norm);
	return member;
}

bool
dav_href_member(const char *coll_url, const char *href)
{
	char *self = NULL;
	struct e2_err e = {0};
	bool member;

	if (coll_url == NULL ||
	    dav_href_normalise(coll_url, &self, &e) != E2_OK)
		return false;
	member = dav_href_member_of(coll_url, self, href);
	free(self);
	return member;
}

/* A response left out as no member of the collection: counted, the first
 * kept for the report. */
static enum e2_status
dav_changes_foreign(struct dav_changes *c, const char *href, struct e2_err *err)
{
	if (c->n_foreign++ == 0) {
		c->foreign = strdup(href);
		if (c->foreign == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	return E2_OK;
}

/* it from response r (found propstat p, may be NULL); data copied too */
static enum e2_status
dav_item_set(struct dav_item *it, const char *base,
	     const struct dav_response *r, const struct dav_propstat *p,
	     struct e2_err *err)
{
	enum e2_status rc;

	rc = dav_resolve("item", base, r->href, &it->url, err);
	if (rc != E2_OK)
		return rc;
	it->href = strdup(r->href);
	if (it->href == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (p == NULL)
		return E2_OK;
	if (p->etag != NULL) {
		it->etag = strdup(p->etag);
		if (it->etag == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		it->etag_weak = p->etag_weak;
	}
	if (p->data != NULL) {
		it->data = malloc(p->data_len + 1);
		if (it->data == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		memcpy(it->data, p->data, p->data_len);
		it->data[p->data_len] = '\0';
		it->data_len = p->data_len;
	}
	return E2_OK;
}

/*
 * The items and deletions of ms on coll_url into c: the collection's own
 * response (its href normalised equal to coll_url's path) and
 * sub-collections are left out; a response-level 404 is a deletion.
 */
static enum e2_status
dav_changes_fill(const struct dav_multistatus *ms, const char *coll_url,
		 struct dav_changes *c, struct e2_err *err)
{
	char *self = NULL;
	struct e2_err e = {0};
	size_t i;
	enum e2_status rc = E2_OK;

	if (dav_href_normalise(coll_url, &self, &e) != E2_OK)
		self = NULL; /* nothing will equal it */
	c->changed = calloc(ms->n_responses + 1, sizeof(*c->changed));
	c->deleted = calloc(ms->n_responses + 1, sizeof(*c->deleted));
	if (c->changed == NULL || c->deleted == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ms->n_responses; i++) {
		const struct dav_response *r = &ms->responses[i];
		const struct dav_propstat *p = dav_response_found(r);

		if (r->refused || r->href == NULL ||
		    (self != NULL && strcmp(r->href_norm, self) == 0))
			continue;
		/* the collection's path normalised once, above */
		if (!dav_href_member_of(coll_url, self, r->href)) {
			rc = dav_changes_foreign(c, r->href, err);
			if (rc != E2_OK)
				goto out;
			continue;
		}
		if (r->status == 404) {
			c->deleted[c->n_deleted] = strdup(r->href);
			if (c->deleted[c->n_deleted] == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
			c->n_deleted++;
			continue;
		}
		if (p == NULL || (p->resourcetype & DAV_RT_COLLECTION) != 0)
			continue;
		rc = dav_item_set(&c->changed[c->n_changed++], coll_url, r, p,
				  err);
		if (rc != E2_OK)
			goto out;
	}
	c->truncated = ms->truncated;
out:
	free(self);
	return rc;
}

enum e2_status
dav_sync_collection(struct dav_session *s, const char *coll_url,
		    const char *token, enum dav_sync_props props,
		    struct dav_changes **c_out, struct e2_err *err)
{
	struct dav_multistatus *ms = NULL;
	struct dav_changes *c = NULL;
	char *body = NULL;
	enum e2_status rc;

	rc = dav_body_sync_collection(token, props, &body, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_multistatus(s, "sync-collection", "REPORT", coll_url,
			     "Depth: 0", body, &ms, err);
	if (rc != E2_OK)
		goto out;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	rc = dav_changes_fill(ms, coll_url, c, err);
	if (rc != E2_OK)
		goto out;
	if (ms->sync_token == NULL) {
		char qu[160];

		rc = e2_fail(err, E2_EPROTO,
			     "sync-collection %s: no sync-token",
			     dav_q(qu, sizeof(qu), coll_url));
		goto out;
	}
	c->token = strdup(ms->sync_token);
	if (c->token == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	*c_out = c;
	c = NULL;
out:
	dav_changes_free(&c);
	dav_xml_free(&ms);
	free(body);
	return rc;
}

enum e2_status
dav_list_etags(struct dav_session *s, const char *coll_url,
	       struct dav_changes **c_out, struct e2_err *err)
{
	struct dav_multistatus *ms = NULL;
	struct dav_changes *c = NULL;
	enum e2_status rc;

	rc = dav_multistatus(s, "listing", "PROPFIND", coll_url, "Depth: 1",
			     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			     "<d:propfind xmlns:d=\"DAV:\"><d:prop>"
			     "<d:resourcetype/><d:getetag/></d:prop>"
			     "</d:propfind>\n",
			     &ms, err);
	if (rc != E2_OK)
		goto out;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	rc = dav_changes_fill(ms, coll_url, c, err);
	if (rc != E2_OK)
		goto out;
	c->truncated = false;
	*c_out = c;
	c = NULL;
out:
	dav_changes_free(&c);
	dav_xml_free(&ms);
	return rc;
}

/* ---- multiget ---- */

void
dav_multiget_free(struct dav_multiget **m)
{
	size_t i;

	if (m == NULL || *m == NULL)
		return;
	for (i = 0; i < (*m)->n_items; i++)
		dav_item_clear(&(*m)->items[i]);
	free((*m)->items);
	for (i = 0; i < (*m)->n_missing; i++)
		free((*m)->missing[i]);
	free((*m)->missing);
	free(*m);
	*m = NULL;
}

enum e2_status
dav_multiget_reconcile(const char *base, const char *const *hrefs, size_t n,
		       const struct dav_multistatus *ms, struct dav_multiget *m,
		       struct e2_err *err)
{
	char **norm = NULL;
	bool *done = NULL;
	struct dav_item *items;
	char **missing;
	size_t i, j;
	enum e2_status rc = E2_OK;

	norm = calloc(n + 1, sizeof(*norm));
	done = calloc(n + 1, sizeof(*done));
	items = realloc(m->items, (m->n_items + n + 1) * sizeof(*items));
	if (items != NULL)
		m->items = items;
	missing =
		realloc(m->missing, (m->n_missing + n + 1) * sizeof(*missing));
	if (missing != NULL)
		m->missing = missing;
	if (norm == NULL || done == NULL || items == NULL || missing == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = dav_href_normalise(hrefs[i], &norm[i], err);
		if (rc != E2_OK) {
			rc = rc == E2_ENOMEM ? rc : E2_EINVAL;
			err->code = rc;
			goto out;
		}
	}
	for (j = 0; j < ms->n_responses; j++) {
		const struct dav_response *r = &ms->responses[j];
		const struct dav_propstat *p = dav_response_found(r);
		struct dav_item *it;

		for (i = 0; i < n; i++)
			if (r->href_norm != NULL &&
			    strcmp(r->href_norm, norm[i]) == 0)
				break;
		if (i == n) {
			m->n_ignored++;
			continue;
		}
		if (done[i] || p == NULL || p->data == NULL)
			continue; /* a second answer; or no data: missing */
		it = &m->items[m->n_items];
		memset(it, 0, sizeof(*it));
		m->n_items++;
		done[i] = true;
		rc = dav_item_set(it, base, r, p, err);
		if (rc != E2_OK)
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		m->missing[m->n_missing] = strdup(hrefs[i]);
		if (m->missing[m->n_missing] == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		m->n_missing++;
	}
out:
	for (i = 0; norm != NULL && i < n; i++)
		free(norm[i]);
	free(norm);
	free(done);
	return rc;
}

enum e2_status
dav_multiget(struct dav_session *s, enum dav_kind kind, const char *coll_url,
	     const char *const *hrefs, size_t n, struct dav_multiget **m_out,
	     struct e2_err *err)
{
	struct dav_multiget *m;
	struct dav_multistatus *ms = NULL;
	char *body = NULL;
	size_t off, k;
	enum e2_status rc = E2_OK;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (off = 0; off < n; off += k) {
		k = n - off < DAV_MULTIGET_BATCH ? n - off : DAV_MULTIGET_BATCH;
		rc = dav_body_multiget(kind, hrefs + off, k, &body, err);
		if (rc != E2_OK)
			goto out;
		rc = dav_multistatus(s, "multiget", "REPORT", coll_url,
				     "Depth: 1", body, &ms, err);
		if (rc != E2_OK)
			goto out;
		rc = dav_multiget_reconcile(coll_url, hrefs + off, k, ms, m,
					    err);
		if (rc != E2_OK)
			goto out;
		dav_xml_free(&ms);
		free(body);
		body = NULL;
	}
	*m_out = m;
	m = NULL;
out:
	dav_xml_free(&ms);
	free(body);
	dav_multiget_free(&m);
	return rc;
}

/* ---- GET, PUT, DELETE ---- */

void
dav_write_clear(struct dav_write *w)
{
	if (w == NULL)
		return;
	free(w->etag);
	memset(w, 0, sizeof(*w));
}

enum e2_status
dav_get(struct dav_session *s, const char *url, struct dav_item **item_out,
	struct e2_err *err)
{
	struct http_response resp = {0};
	struct dav_item *it = NULL;
	enum e2_status rc;

	rc = dav_request(s, "get", "GET", url, NULL, NULL, 0, DAV_MAX_ITEM,
			 &resp, err);
	if (rc != E2_OK)
		goto out;
	if (resp.status != 200) {
		rc = dav_bad_status("get", url, &resp, err);
		goto out;
	}
	it = calloc(1, sizeof(*it));
	if (it == NULL || (it->url = strdup(url)) == NULL ||
	    (it->href = strdup(url)) == NULL ||
	    (resp.etag != NULL && (it->etag = strdup(resp.etag)) == NULL) ||
	    (it->data = malloc(resp.body_len + 1)) == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	it->etag_weak = it->etag != NULL && strncmp(it->etag, "W/", 2) == 0;
	if (resp.body_len > 0)
		memcpy(it->data, resp.body, resp.body_len);
	it->data[resp.body_len] = '\0';
	it->data_len = resp.body_len;
	*item_out = it;
	it = NULL;
out:
	dav_item_free(&it);
	http_response_clear(&resp);
	return rc;
}

/* method with an If-Match / If-None-Match condition; w as dav_put() says */
static enum e2_status
dav_write(struct dav_session *s, const char *step, const char *method,
	  const char *url, const char *content_type, const void *data,
	  size_t len, const char *cond, struct dav_write *w, struct e2_err *err)
{
	struct http_response resp = {0};
	char *ct = NULL;
	const char *headers[3] = {NULL, NULL, NULL};
	size_t nh = 0;
	enum e2_status rc;

	dav_write_clear(w);
	if (cond != NULL && strpbrk(cond, "\r\n") != NULL) {
		char qu[160];

		return e2_fail(err, E2_EINVAL, "%s %s: bad etag", step,
			       dav_q(qu, sizeof(qu), url));
	}
	if (content_type != NULL) {
		if (asprintf(&ct, "Content-Type: %s", content_type) < 0) {
			ct = NULL;
			return e2_fail(err, E2_ENOMEM, "out of memory");
		}
		headers[nh++] = ct;
	}
	if (cond != NULL)
		headers[nh++] = cond;
	rc = dav_request(s, step, method, url, headers, data, len, 4096, &resp,
			 err);
	if (rc != E2_OK)
		goto out;
	w->status = resp.status;
	if (resp.status == 412 || resp.status == 409) {
		w->conflict = true;
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		rc = dav_bad_status(step, url, &resp, err);
		goto out;
	}
	if (resp.etag != NULL) {
		w->etag = strdup(resp.etag);
		if (w->etag == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		w->etag_strong = strncmp(w->etag, "W/", 2) != 0;
	}
out:
	free(ct);
	http_response_clear(&resp);
	return rc;
}

enum e2_status
dav_put(struct dav_session *s, const char *url, const char *content_type,
	const void *data, size_t len, const char *if_match, struct dav_write *w,
	struct e2_err *err)
{
	char *cond = NULL;
	enum e2_status rc;

	if (if_match == NULL)
		cond = strdup("If-None-Match: *");
	else if (asprintf(&cond, "If-Match: %s", if_match) < 0)
		cond = NULL;
	if (cond == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = dav_write(s, "put", "PUT", url, content_type, data, len, cond, w,
		       err);
	free(cond);
	return rc;
}

enum e2_status
dav_delete(struct dav_session *s, const char *url, const char *if_match,
	   struct dav_write *w, struct e2_err *err)
{
	char *cond = NULL;
	enum e2_status rc;

	if (if_match != NULL && asprintf(&cond, "If-Match: %s", if_match) < 0)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = dav_write(s, "delete", "DELETE", url, NULL, NULL, 0, cond, w, err);
	free(cond);
	return rc;
}
