/* SPDX-License-Identifier: MIT */
/* dav_account.h -- where an account's contacts or calendars live, and the
 * session that reaches them */
#ifndef E2_DAV_ACCOUNT_H
#define E2_DAV_ACCOUNT_H

#include <stdbool.h>
#include <stdio.h>

#include "email2.h"
#include "transports/dav.h"

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
};

/*
 * Opens a session for kind and runs discovery (dav_discover()) on the
 * first endpoint of the plan that answers, falling back as the rules say
 * (never after a certificate failure). rep (may be NULL) is filled always,
 * also on failure: it is the connection test's report for that type.
 * *s_out and *d_out are the caller's (dav_session_free(),
 * dav_discovery_free()). *cleartext_out (may be NULL): the credentials
 * crossed plain HTTP. Errors: E2_EINVAL (nothing to connect to: no server
 * node and discovery found none, rep->state "not-found"; or a server
 * node that cannot be used, named), the transport's (E2_ERESOLVE,
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

#endif /* E2_DAV_ACCOUNT_H */
