/* SPDX-License-Identifier: MIT */
/* dav_account.h -- where an account's contacts or calendars live, and the
 * session that reaches them */
#ifndef E2_DAV_ACCOUNT_H
#define E2_DAV_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "email2.h"
#include "transports/dav.h"
#include "transports/dns_srv.h"

/*
 * From the account's nodes to an open, discovered DAV session (issue 10):
 * CONTACTSSERVER or CALENDARSERVER (a host, host:port, or an http(s) URL
 * carrying the context path), *REQUIRESSL, the incoming credentials, the
 * account's pins, and RFC 6764 discovery when the server node is absent.
 * The endpoint plan (which URLs, in which order, with or without
 * credentials) is a pure function with a table-driven test; this file's
 * I/O only carries it out. Its rules are written in dav_account.c and in
 * email2-syncd(1), "CONTACTS AND CALENDARS".
 */

struct dav_open_opts {
	const char *cafile;  /* NULL: the system trust store */
	unsigned timeout_ms; /* per request; 0: the http default */
	FILE *trace;         /* -v, NULL: none */
	/* the store the account came from, for its pins; NULL: no pins */
	struct e2_store *store;
	/* the connection test: OPTIONS confirms the DAV class (a sync
	 * skips that request) */
	bool confirm;
	/*
	 * A sync: start from the home set discovery last found from the
	 * same endpoint (dav_state_home_get(); a home that does not answer
	 * with collections is discovered again), and record the one found.
	 * The connection test always walks every step.
	 */
	bool remember_home;
	const char *guid; /* the account's stored spelling, for the above */
	bool read_only;   /* a preview: what is remembered is read, not
			     written */
};

/*
 * A sync (remember_home) keeps the home set's last listing
 * (dav_state_listing_put()) and, while it is younger than this, starts
 * from it without asking the home set: a no-change run is then one
 * request per collection. So a collection made on the server meanwhile
 * is found within the hour (email2-conntest shows it at once); one that
 * fails, or any failure of the type's run, marks the listing stale and
 * the next run lists again.
 */
#define DAV_LISTING_FRESH_S 3600

/*
 * Opens a session for kind and runs discovery (dav_discover()) on the
 * first endpoint of the plan that answers, falling back as the rules say
 * (never after a certificate failure). rep (may be NULL) is filled always,
 * also on failure: it is the connection test's report for that type.
 * *s_out and *d_out are the caller's (dav_session_free(),
 * dav_discovery_free()). *cleartext_out (may be NULL): the credentials
 * crossed plain HTTP. rep->state "not-found" (no server node, and no
 * candidate or every candidate failed as a host without the service)
 * is not a failure of the account: callers check the state, not only
 * the code. Errors: E2_EINVAL (no server node and nothing to discover
 * from, "not-found"; or a server node that cannot be used, named), the
 * last attempt's (E2_ERESOLVE,
 * E2_ECONNECT, E2_ETIMEOUT, E2_ETLS, E2_ECERT, E2_EAUTH, E2_EINSECURE,
 * E2_EPROTO), E2_ENOMEM.
 */
struct e2_dav_report; /* email2.h: the conntest report of one type */
enum e2_status dav_account_open(const struct e2_account *a, enum dav_kind kind,
				const struct dav_open_opts *o,
				struct dav_session **s_out,
				struct dav_discovery **d_out,
				struct e2_dav_report *rep, bool *cleartext_out,
				struct e2_err *err);

/* ---- the endpoint plan (pure, tests/unit/check_dav_account.c) ---- */

#define DAV_SERVER_MAX 2048u /* bytes of a server node's value */
#define DAV_URL_MAX 512
#define DAV_PLAN_MAX (2 * DNS_SRV_MAX + 4)

/* A server node's value, split (dav_plan_server_parse()). */
struct dav_server {
	int scheme; /* 0: none given (host forms), 1: https://, 2: http:// */
	char host[256];         /* an IPv6 literal without its brackets */
	uint16_t port;          /* 0: the scheme's default (443, 80) */
	char path[DAV_URL_MAX]; /* "/" when none */
};

/*
 * CONTACTSSERVER / CALENDARSERVER: "host", "host:port", "[v6]:port", or
 * an https:// or http:// URL whose path is the context path. Refused
 * (E2_EINVAL naming node): empty, over DAV_SERVER_MAX bytes, controls or
 * spaces, userinfo ("user@"), any other scheme, a query or fragment, a
 * host that is not a host name or an IP literal, a bad port.
 */
enum e2_status dav_plan_server_parse(const char *value, const char *node,
				     struct dav_server *out,
				     struct e2_err *err);

/* One URL of the plan. */
struct dav_endpoint {
	char url[DAV_URL_MAX];
	char host[256]; /* whose pin applies */
	bool https;
	/*
	 * An http:// twin of the https:// endpoint before it (same host,
	 * port and path): tried only after a failure there that
	 * chain_may_fall_back() accepts (connect, timeout, TLS handshake).
	 */
	bool twin;
	bool cleartext_ok;  /* Basic may cross plain HTTP (http_policy) */
	char found_by[320]; /* the report's "found by" */
};

struct dav_plan {
	struct dav_endpoint ep[DAV_PLAN_MAX];
	size_t n;
	bool discovered; /* no server node: RFC 6764 candidates */
	bool tls_required;
	char note[320]; /* a rung left out and why, "" */
};

/* What the plan is made of; strings borrowed. */
struct dav_plan_input {
	enum dav_kind kind;
	const char *server;    /* the node's value, NULL or "": absent */
	bool requiressl;       /* *REQUIRESSL */
	bool in_ssl_required;  /* TAGPROPS/8128000B: same credentials */
	const char *replyaddr; /* REPLYADDR, for discovery's domain */
	const char *inserver;  /* INSERVER's host, discovery's last try */
	/* discovery's DNS answers (read only when server is absent) */
	const struct dns_srv_set *srv_tls;   /* _carddavs / _caldavs */
	const char *srv_tls_path;            /* its TXT path=, NULL: none */
	const struct dns_srv_set *srv_plain; /* _carddav / _caldav */
	const char *srv_plain_path;
};

/*
 * The endpoints for in, in the order to try (the rules are in
 * dav_account.c's header comment). An empty plan (no server node and
 * nothing to discover from) is E2_OK with out->n 0: "not-found".
 * Errors: E2_EINVAL (a server node that cannot be used, or an http://
 * URL while *REQUIRESSL is 1, naming both nodes).
 */
enum e2_status dav_plan_build(const struct dav_plan_input *in,
			      struct dav_plan *out, struct e2_err *err);

enum dav_plan_step {
	DAV_PLAN_TRY = 0, /* try this endpoint */
	DAV_PLAN_SKIP,    /* an http twin after a failure that never falls
			     back (P3): not tried, the report's note says so */
	DAV_PLAN_STOP,    /* nothing more is tried (P7) */
};

/*
 * Whether endpoint ep of a plan is tried after the one before it failed
 * with prev (ignored for the first, first true): an http twin only after
 * chain_may_fall_back(prev) (P3); another candidate after anything but
 * E2_EAUTH or E2_ENOMEM (P7). Pure.
 */
enum dav_plan_step dav_plan_next(const struct dav_endpoint *ep, bool first,
				 enum e2_status prev);

/* The domain of an address (after its last '@'), NULL when none. */
const char *dav_plan_domain(const char *replyaddr);

/* SRV names of kind: "_carddavs._tcp." etc. */
const char *dav_plan_srv_prefix(enum dav_kind kind, bool tls);

#endif /* E2_DAV_ACCOUNT_H */
