/* SPDX-License-Identifier: MIT */
/* dav.h -- the WebDAV requests of CardDAV and CalDAV over transports/http */
#ifndef E2_DAV_H
#define E2_DAV_H

#include <stdbool.h>
#include <stddef.h>

#include "email2.h"
#include "transports/dav_xml.h"
#include "transports/http.h"

/*
 * A plain session: an http session plus the base URL it was given. Knows
 * nothing of accounts or the store. Every request body is a fixed template
 * with each href or value XML-escaped (dav_xml_escape()); every response
 * body is capped (DAV_XML_MAX_BODY, an item DAV_MAX_ITEM) and multistatus
 * bodies go through dav_xml_parse(). Errors name the step and the URL
 * ("sync-collection https://h/alice/c/: status 403"), never userinfo (the
 * http layer refuses URLs with userinfo) nor a credential.
 *
 * URLs returned are absolute (hrefs resolved against the request URL);
 * hrefs are kept as the server sent them, which is what goes back to it.
 */

#define DAV_MAX_ITEM (10u * 1024 * 1024) /* bytes of one GET body */
#define DAV_MAX_REDIRECTS 5              /* well-known hops */
/*
 * hrefs of one multiget request: servers cap batches (Google at 1,000,
 * some at 100); 100 vCards with photos stay well under DAV_XML_MAX_DATA.
 */
#define DAV_MULTIGET_BATCH 100u

enum dav_kind {
	DAV_KIND_CARD, /* CardDAV: addressbooks, vCards */
	DAV_KIND_CAL,  /* CalDAV: calendars, iCalendar */
};

struct dav_session;

/*
 * pol as for http_session_new() (copied); base_url: the server as given
 * (https://host[:port][/context/]), copied. *s_out is the caller's.
 * Errors: as http_session_new(), E2_EINVAL (base_url not http(s)).
 */
enum e2_status dav_session_new(const struct http_policy *pol,
			       const char *base_url, struct dav_session **s_out,
			       struct e2_err *err);
void dav_session_free(struct dav_session **s); /* NULL-safe */

/* The TLS side of the session's last handshake (http_session_tls()). */
void dav_session_tls(const struct dav_session *s, struct xport_info *info);

/*
 * Basic at once on the base URL's origin (https only), for a server that
 * took Basic in an earlier session (http_session_assume_basic()); and
 * whether the session now sends Basic at once.
 */
void dav_session_assume_basic(struct dav_session *s);
bool dav_session_basic(const struct dav_session *s);

/* The HTTP status of the session's last response (0: none). */
long dav_last_status(const struct dav_session *s);

/* One collection of a home set (strings the struct's own). */
struct dav_collection {
	char *url;                                     /* absolute */
	char *href;                                    /* as sent */
	char *displayname, *color, *ctag, *sync_token; /* NULL: absent */
	unsigned reports;    /* enum dav_report bits */
	unsigned components; /* enum dav_comp bits (CalDAV), 0: not said */
};

struct dav_discovery {
	char *context_url;   /* where the well-known lookup ended */
	char *principal_url; /* current-user-principal, absolute */
	char *home_url;      /* the first addressbook/calendar-home-set */
	char *dav_header;    /* OPTIONS on the home set: the DAV: header */
	bool confirmed;      /* it names addressbook / calendar-access */
	struct dav_collection *colls; /* addressbooks or calendars only */
	size_t n_colls;
	bool assumed; /* dav_discovery_from(): no request was made */
};

/*
 * Discovery for kind from the base URL: with a path other than "/" that
 * path is the context; else /.well-known/carddav or caldav (PROPFIND,
 * redirects followed only when http_redirect_ok() allows with the
 * credentials, at most DAV_MAX_REDIRECTS; a 404 or 405 there falls back
 * to "/"). Then PROPFIND Depth 0 current-user-principal, PROPFIND Depth 0
 * the home set on the principal, PROPFIND Depth 1 on the home set (names,
 * colors, reports, components: no sync-token nor getctag, which a server
 * like Radicale computes from every item of every collection; ask one
 * collection's with dav_collection_tags()), and with confirm OPTIONS on
 * the home set (d->dav_header, d->confirmed: the connection test's).
 * *d_out is the caller's (dav_discovery_free()).
 * Errors: those of http_request(), E2_EPROTO (a status other than 2xx, no
 * principal or home set, a redirect refused, a body dav_xml_parse()
 * refuses), E2_ENOMEM.
 */
enum e2_status dav_discover(struct dav_session *s, enum dav_kind kind,
			    bool confirm, struct dav_discovery **d_out,
			    struct e2_err *err);
void dav_discovery_free(struct dav_discovery **d);

/*
 * The last step of discovery alone: PROPFIND Depth 1 on a home set found
 * before (context, principal and home are home_url). Errors: as
 * dav_discover(), and E2_EPROTO when the home set holds no collection of
 * kind (it moved: discover again).
 */
enum e2_status dav_discover_home(struct dav_session *s, enum dav_kind kind,
				 const char *home_url,
				 struct dav_discovery **d_out,
				 struct e2_err *err);

/*
 * A discovery of the collections a caller kept from an earlier listing
 * of home_url (dav_discover*()'s d->colls: href, displayname, color,
 * reports and components are read), made without a request: each href
 * is resolved against home_url as the listing did, and d->assumed is
 * set (context, principal and home are home_url). A kept href that does
 * not resolve to home_url's origin is refused (E2_EPROTO), so a kept
 * listing never sends the credentials elsewhere. Errors: E2_EPROTO,
 * E2_ENOMEM.
 */
enum e2_status dav_discovery_from(const char *home_url,
				  const struct dav_collection *colls, size_t n,
				  struct dav_discovery **d_out,
				  struct e2_err *err);

/* An item: href as sent, url absolute, etag as sent (NULL: none). */
struct dav_item {
	char *href;
	char *url;
	char *etag;
	bool etag_weak;
	char *data; /* multiget/GET: the item's bytes and a NUL; else NULL */
	size_t data_len;
};

/* What a sync-collection REPORT asks of each changed item. */
enum dav_sync_props {
	DAV_SYNC_ETAG = 0,  /* getetag: bodies come by multiget */
	DAV_SYNC_CARD_DATA, /* getetag and address-data (CardDAV) */
	DAV_SYNC_CAL_DATA,  /* getetag and calendar-data (CalDAV) */
};

struct dav_changes {
	struct dav_item *changed; /* sync-collection: changed or new items;
				     listing: every item */
	size_t n_changed;
	char **deleted; /* hrefs as sent (404 responses) */
	size_t n_deleted;
	char *token;    /* the new sync-token (NULL for a listing) */
	bool truncated; /* 507 on the collection: call again with token */
	/*
	 * Responses left out because their href is no member of the
	 * collection (dav_href_member()): another origin, or a path that is
	 * not the collection's path plus one segment. A server never gets
	 * to name a file of another collection, nor a URL the credentials
	 * would go to elsewhere.
	 */
	size_t n_foreign;
	char *foreign; /* the first one, as sent (NULL when none) */
};
void dav_changes_free(struct dav_changes **c);

/*
 * Whether href (as a server sent it) names a member of the collection at
 * coll_url: the same origin (http_same_origin()) and a normalised path
 * (dav_href_normalise()) that is the collection's path, ending in "/",
 * plus one non-empty segment (a trailing "/" allowed). Pure but for
 * libcurl's URL parser; table-tested in tests/unit/check_dav.c.
 */
bool dav_href_member(const char *coll_url, const char *href);

/*
 * One collection's change markers, PROPFIND Depth 0 on coll_url: its
 * sync-token (DAV_TAG_SYNC, RFC 6578) and/or its getctag (DAV_TAG_CTAG,
 * CalendarServer's extension), as want says. Each *out (caller frees;
 * may be NULL when not wanted) is NULL when the server names none.
 * Errors: as dav_sync_collection().
 */
enum dav_tag {
	DAV_TAG_SYNC = 1u,
	DAV_TAG_CTAG = 2u
};
enum e2_status dav_collection_tags(struct dav_session *s, const char *coll_url,
				   unsigned want, char **token_out,
				   char **ctag_out, struct e2_err *err);

/*
 * REPORT sync-collection (RFC 6578, sync-level 1, getetag and with props
 * the items' data) on coll_url with token ("" or NULL: the first sync).
 * Asking the data makes a first sync one request instead of a listing
 * and a multiget per batch; an item the server lists without its data
 * (some do) has data NULL. *c_out is the caller's.
 * Errors: E2_EPROTO for any status but 207 (an invalid or expired token
 * included: Radicale answers 403 with DAV:valid-sync-token; the caller
 * retries once from an empty token on any error with a stored token,
 * dav_last_status() says which), and as dav_discover().
 */
enum e2_status dav_sync_collection(struct dav_session *s, const char *coll_url,
				   const char *token, enum dav_sync_props props,
				   struct dav_changes **c_out,
				   struct e2_err *err);

/*
 * PROPFIND Depth 1 getetag on coll_url, for servers without
 * sync-collection: every item (the collection itself and sub-collections
 * left out) in (*c_out)->changed. Errors: as dav_sync_collection().
 */
enum e2_status dav_list_etags(struct dav_session *s, const char *coll_url,
			      struct dav_changes **c_out, struct e2_err *err);

struct dav_multiget {
	struct dav_item *items; /* requested and returned with data */
	size_t n_items;
	char **missing; /* requested hrefs not returned with data (404,
			   dropped, refused): as requested */
	size_t n_missing;
	size_t n_ignored; /* returned but not requested: dropped */
};
void dav_multiget_free(struct dav_multiget **m);

/*
 * addressbook-multiget or calendar-multiget (by kind) of n hrefs (as the
 * server sent them, borrowed) on coll_url, in requests of at most
 * DAV_MULTIGET_BATCH hrefs; each requested href lands either in items or
 * in missing. *m_out is the caller's. Errors: as dav_sync_collection().
 */
enum e2_status dav_multiget(struct dav_session *s, enum dav_kind kind,
			    const char *coll_url, const char *const *hrefs,
			    size_t n, struct dav_multiget **m_out,
			    struct e2_err *err);

/*
 * The reconciliation of one multiget response (pure, unit-tested):
 * appends to m the items of ms whose normalised href is one of the n
 * requested (the first answer for an href wins, later ones ignored) and
 * have data, the other requested hrefs to m->missing, and counts the
 * unrequested in m->n_ignored. base: the request URL (item URLs).
 * Errors: E2_ENOMEM, E2_EINVAL (a requested href that does not
 * normalise).
 */
enum e2_status dav_multiget_reconcile(const char *base,
				      const char *const *hrefs, size_t n,
				      const struct dav_multistatus *ms,
				      struct dav_multiget *m,
				      struct e2_err *err);

/* What a GET, PUT or DELETE answered. */
struct dav_write {
	long status;
	bool conflict;    /* 412 or 409: changed meanwhile, nothing written */
	char *etag;       /* the response's ETag as sent, NULL: none */
	bool etag_strong; /* etag present and not W/: the stored item is
			     the bytes sent; else re-fetch before a write */
};
void dav_write_clear(struct dav_write *w);

/*
 * GET url: *item_out the caller's (dav_item_free()), at most DAV_MAX_ITEM
 * bytes. Errors: E2_EPROTO (not 200, too long), as dav_discover().
 */
enum e2_status dav_get(struct dav_session *s, const char *url,
		       struct dav_item **item_out, struct e2_err *err);
void dav_item_free(struct dav_item **item);

/*
 * PUT len bytes of data (content_type: "text/vcard; charset=utf-8" or
 * "text/calendar; charset=utf-8") to url: if_match NULL creates
 * (If-None-Match: *), else updates that etag (If-Match). DELETE url with
 * If-Match (if_match NULL: unconditional). 2xx: E2_OK; 412 or 409: E2_OK
 * with w->conflict. w is cleared first and is the caller's
 * (dav_write_clear()). Errors: E2_EPROTO (any other status), as
 * dav_discover().
 */
enum e2_status dav_put(struct dav_session *s, const char *url,
		       const char *content_type, const void *data, size_t len,
		       const char *if_match, struct dav_write *w,
		       struct e2_err *err);
enum e2_status dav_delete(struct dav_session *s, const char *url,
			  const char *if_match, struct dav_write *w,
			  struct e2_err *err);

/* ---- request bodies (pure, unit-tested) ---- */

/*
 * s with & < > " ' as entities into *out (the caller's). Refused: bytes
 * XML 1.0 cannot carry (controls but TAB, LF, CR). Errors: E2_EINVAL,
 * E2_ENOMEM.
 */
enum e2_status dav_xml_escape(const char *s, char **out, struct e2_err *err);

/* The sync-collection body for token (NULL or "": empty sync-token). */
enum e2_status dav_body_sync_collection(const char *token,
					enum dav_sync_props props, char **out,
					struct e2_err *err);

/* The addressbook-multiget or calendar-multiget body for n hrefs. */
enum e2_status dav_body_multiget(enum dav_kind kind, const char *const *hrefs,
				 size_t n, char **out, struct e2_err *err);

#endif /* E2_DAV_H */
