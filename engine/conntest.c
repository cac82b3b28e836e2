/* SPDX-License-Identifier: MIT */
/* conntest.c -- e2_conntest_run(): an account's two chains, for the report */
#include "config.h"

#include "email2.h"

#include <stdlib.h>
#include <string.h>

#include "engine/account_conn.h"
#include "engine/dav_account.h"
#include "transports/chain.h"

/*
 * One side: the request from the account (its pin for the host included,
 * when opts->store is given), the chain with a login, the session closed
 * at once. The side's report is filled even when the request could not be
 * built (a pin that cannot be read fails the side, never becomes "no pin").
 */
static void
conntest_side(const struct e2_account *a, enum e2_side side,
	      const struct e2_conntest_opts *opts, struct e2_side_report *rep)
{
	struct chain_opts o = {0};
	struct chain_request req;
	struct chain_session *s = NULL;
	struct e2_err side_err;
	enum e2_status rc;

	e2_err_clear(&side_err);
	o.cafile = opts->cafile;
	o.timeout_ms = opts->timeout_ms;
	o.login = true;
	o.probe = true; /* an SMTP side without a login tries MAIL FROM */
	o.trace = opts->trace;
	rc = account_chain_request(opts->store, a, side, &o, &req, &side_err);
	if (rc != E2_OK) {
		memset(rep, 0, sizeof(*rep));
		rep->tested = true;
		rep->status = rc;
		(void)snprintf(rep->error, sizeof(rep->error), "%s",
			       side_err.msg);
		return;
	}
	(void)chain_open(&req, &s, rep, &side_err);
	chain_session_free(&s);
}

/*
 * Issue 10: one content type: the plan, discovery and the collections
 * (dav_account_open()), the session closed at once.
 */
static void
conntest_dav(const struct e2_account *a, enum dav_kind kind,
	     const struct e2_conntest_opts *opts, struct e2_dav_report *rep)
{
	struct dav_open_opts o = {0};
	struct dav_session *s = NULL;
	struct dav_discovery *d = NULL;
	struct e2_err e;

	e2_err_clear(&e);
	o.cafile = opts->cafile;
	o.timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : 10000u;
	o.trace = opts->trace;
	o.store = opts->store;
	o.confirm = true;
	(void)dav_account_open(a, kind, &o, &s, &d, rep, NULL, &e);
	dav_discovery_free(&d);
	dav_session_free(&s);
}

/* A content type counts in the verdict unless nothing was found. */
static bool
conntest_dav_ok(bool tested, const struct e2_dav_report *r)
{
	return !tested || r->ok ||
	       (r->state != NULL && strcmp(r->state, "not-found") == 0);
}

enum e2_status
e2_conntest_run(const struct e2_account *a, const struct e2_conntest_opts *opts,
		struct e2_conntest_report *rep_out, struct e2_err *err)
{
	struct e2_conntest_report *rep;

	if (a == NULL || opts == NULL || rep_out == NULL)
		return e2_fail(err, E2_EINVAL, "conntest: missing argument");
	if (!opts->test_in && !opts->test_out && !opts->test_contacts &&
	    !opts->test_calendars)
		return e2_fail(err, E2_EINVAL, "conntest: no side to test");
	/* on the heap: the DAV reports make it large for a thread's stack */
	rep = calloc(1, sizeof(*rep));
	if (rep == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (opts->test_in)
		conntest_side(a, E2_SIDE_IN, opts, &rep->in);
	if (opts->test_out)
		conntest_side(a, E2_SIDE_OUT, opts, &rep->out);
	if (opts->test_contacts)
		conntest_dav(a, DAV_KIND_CARD, opts, &rep->contacts);
	if (opts->test_calendars)
		conntest_dav(a, DAV_KIND_CAL, opts, &rep->calendars);
	rep->ok = (!opts->test_in || rep->in.ok) &&
		  (!opts->test_out || rep->out.ok) &&
		  conntest_dav_ok(opts->test_contacts, &rep->contacts) &&
		  conntest_dav_ok(opts->test_calendars, &rep->calendars);
	*rep_out = *rep;
	free(rep);
	return E2_OK;
}
