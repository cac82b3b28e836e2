/* SPDX-License-Identifier: MIT */
/* dav_xml.h -- WebDAV multistatus bodies (CardDAV, CalDAV) to plain structs */
#ifndef E2_DAV_XML_H
#define E2_DAV_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "email2.h"

/*
 * A pure parser: bytes in, structs out, no network. dav_xml.c's opening
 * comment says what is read, the caps and the server quirks handled.
 *
 * Faults of one response (a refused href, a property too long or with
 * control characters, a propstat without a status, two values for one
 * property) mark that response refused and keep the rest: one bad item
 * never stops a collection. Faults of the body (not well-formed, entity
 * declarations, a cap passed, a root other than DAV:multistatus, a bad
 * multistatus-level sync-token) are E2_EPROTO for the whole body.
 */

#define DAV_XML_MAX_BODY (32u * 1024 * 1024) /* bytes of one body */
#define DAV_XML_MAX_DATA (24u * 1024 * 1024) /* all item data of one body */
#define DAV_XML_MAX_RESPONSES 50000u         /* hrefs of one body */
#define DAV_XML_MAX_ELEMENTS 500000u         /* elements of one body */
#define DAV_XML_MAX_DEPTH 32                 /* element nesting, root is 1 */
#define DAV_XML_MAX_HREF 4096u               /* bytes of one href */
#define DAV_XML_MAX_TEXT 2048u  /* etag, ctag, token, name, color, type */
#define DAV_XML_MAX_HOMES 16u   /* hrefs of one *-home-set */
#define DAV_XML_MAX_REASON 160u /* a refused response's reason */

/* DAV:resourcetype children (bits). */
enum dav_rt {
	DAV_RT_COLLECTION = 1u << 0,  /* DAV:collection */
	DAV_RT_ADDRESSBOOK = 1u << 1, /* CARDDAV:addressbook */
	DAV_RT_CALENDAR = 1u << 2,    /* CALDAV:calendar */
	DAV_RT_PRINCIPAL = 1u << 3,   /* DAV:principal */
};

/* DAV:supported-report-set members we use (bits). */
enum dav_report {
	DAV_REPORT_SYNC_COLLECTION = 1u << 0,      /* DAV:sync-collection */
	DAV_REPORT_ADDRESSBOOK_MULTIGET = 1u << 1, /* CARDDAV: */
	DAV_REPORT_CALENDAR_MULTIGET = 1u << 2,    /* CALDAV: */
};

/* CALDAV:supported-calendar-component-set members (bits). */
enum dav_comp {
	DAV_COMP_VEVENT = 1u << 0,
	DAV_COMP_VTODO = 1u << 1,
	DAV_COMP_VJOURNAL = 1u << 2,
	DAV_COMP_VFREEBUSY = 1u << 3,
	DAV_COMP_OTHER = 1u << 4, /* any other name */
};

/* Which properties a propstat held, empty ones included (bits). */
enum dav_prop {
	DAV_PROP_GETETAG = 1u << 0,
	DAV_PROP_GETCTAG = 1u << 1,
	DAV_PROP_SYNC_TOKEN = 1u << 2,
	DAV_PROP_DISPLAYNAME = 1u << 3,
	DAV_PROP_CALENDAR_COLOR = 1u << 4,
	DAV_PROP_RESOURCETYPE = 1u << 5,
	DAV_PROP_SUPPORTED_REPORTS = 1u << 6,
	DAV_PROP_PRINCIPAL = 1u << 7,
	DAV_PROP_ADDRESSBOOK_HOME = 1u << 8,
	DAV_PROP_CALENDAR_HOME = 1u << 9,
	DAV_PROP_COMPONENTS = 1u << 10,
	DAV_PROP_CONTENT_TYPE = 1u << 11,
	DAV_PROP_ADDRESS_DATA = 1u << 12,
	DAV_PROP_CALENDAR_DATA = 1u << 13,
};

/*
 * One DAV:propstat. Strings are NUL-terminated, trimmed of XML white space
 * (but data), NULL when the property is absent or empty; "have" tells an
 * absent property from an empty one (a 404 propstat lists the names only).
 */
struct dav_propstat {
	int status;       /* HTTP code of its DAV:status, 0 when it had none */
	unsigned have;    /* enum dav_prop bits */
	char *etag;       /* as sent: "\"abc\"" or "W/\"abc\"" */
	bool etag_weak;   /* etag begins with W/ */
	char *ctag;       /* calendarserver.org getctag */
	char *sync_token; /* DAV:sync-token as a property */
	char *displayname;
	char *color;           /* Apple calendar-color, e.g. "#FF2968FF" */
	char *content_type;    /* getcontenttype */
	unsigned resourcetype; /* enum dav_rt bits */
	unsigned reports;      /* enum dav_report bits */
	unsigned components;   /* enum dav_comp bits */
	char *principal;       /* current-user-principal href, as sent */
	char **ab_homes;       /* addressbook-home-set hrefs, as sent */
	size_t n_ab_homes;
	char **cal_homes; /* calendar-home-set hrefs, as sent */
	size_t n_cal_homes;
	char *data;      /* address-data or calendar-data, unescaped */
	size_t data_len; /* bytes of data (XML text holds no NUL) */
};

/*
 * One DAV:response, or one href of a response that names several hrefs
 * with one status (RFC 4918 14.24: each becomes its own entry).
 */
struct dav_response {
	char *href;      /* as sent, trimmed; NULL when it was refused */
	char *href_norm; /* dav_href_normalise() of href; NULL likewise */
	int status;      /* response-level DAV:status code, 0 when none */
	bool refused;    /* a per-response fault: no propstats, see reason */
	char reason[DAV_XML_MAX_REASON]; /* why refused, e2_quote()d bytes */
	struct dav_propstat *propstats;
	size_t n_propstats;
};

struct dav_multistatus {
	struct dav_response *responses; /* document order */
	size_t n_responses;
	size_t n_refused;  /* responses with refused set */
	char *sync_token;  /* the multistatus-level DAV:sync-token, or NULL */
	bool truncated;    /* a response had status 507 (RFC 6578 3.6) */
	size_t data_total; /* bytes of all item data */
};

/*
 * Parses buf (len bytes, not NUL-terminated, at most DAV_XML_MAX_BODY) as a
 * DAV:multistatus. On success *ms_out is the caller's (dav_xml_free()).
 * Errors: E2_EPROTO (the body is malformed, hostile or past a cap; the
 * message says what, with server bytes e2_quote()d), E2_ENOMEM.
 */
enum e2_status dav_xml_parse(const char *buf, size_t len,
			     struct dav_multistatus **ms_out,
			     struct e2_err *err);

/* Frees *ms and sets it to NULL; ms and *ms may be NULL. */
void dav_xml_free(struct dav_multistatus **ms);

/*
 * The first propstat of r with a 2xx status (the properties the server
 * has), or NULL when r is refused or has none. Borrowed from r.
 */
const struct dav_propstat *dav_response_found(const struct dav_response *r);

/*
 * The form hrefs are compared in: the path of href (the scheme and
 * authority of an absolute URL are dropped), each byte percent-encoded
 * unless it is unreserved, a sub-delim, ":", "@" or "/", hex in upper
 * case; so "/a%40b/%7euser" and "/a@b/~user" compare equal (a raw space
 * is %20). Query and fragment ("?", "#") are kept. Refused
 * (E2_EPROTO, the href quoted): empty, longer than DAV_XML_MAX_HREF, a
 * control byte raw or percent-encoded (%00 included), a bad %-escape, a
 * "." or ".." segment raw or encoded (between "/", "?", "#" or the ends).
 * *norm_out is the caller's. Errors: E2_EPROTO, E2_ENOMEM.
 */
enum e2_status dav_href_normalise(const char *href, char **norm_out,
				  struct e2_err *err);

#endif
