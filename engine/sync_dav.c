/* SPDX-License-Identifier: MIT */
/*
 * sync_dav.c -- a sync run's contacts and calendars (issue 10).
 *
 * e2_sync_account() calls this once per DAV content type the run wants:
 * it opens the account's session for that type (dav_account.h: the
 * server node or RFC 6764 discovery, *REQUIRESSL, pins), hands the
 * collections to the driver (dav_sync.h) and turns the outcome into the
 * type's part of the run's stats. Nothing here decides anything the
 * driver or the endpoint plan does not already decide; this file only
 * carries their results to the run:
 *
 *   - no server node and nothing discovered ("not-found") is reported
 *     in the type's stats and is not a failure: the account's mail and
 *     the other type go on, and the run stays "ok";
 *   - a type that failed (connect, TLS, login, the session lost) or
 *     skipped items or collections makes the run "partial": one skip
 *     entry names the type and the first cause, so the account list,
 *     the status record and the exit code say so without failing the
 *     mail that did arrive.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dav_account.h"
#include "dav_state.h"
#include "dav_sync.h"
#include "sync.h"

/* The skip entry of a type whose run was not whole ("contacts"). */
static void
sync_dav_skip(struct sync_ctx *c, const char *area, const char *msg)
{
	struct e2_err e = {0};

	e.code = E2_EIO;
	(void)snprintf(e.msg, sizeof(e.msg), "%s", msg);
	sync_skip(c, area, 0, &e);
}

void
sync_dav_run(struct sync_ctx *c, unsigned content, struct e2_dav_stats *out)
{
	enum dav_kind kind = (content & E2_SYNC_CONTACTS) != 0 ? DAV_KIND_CARD
							       : DAV_KIND_CAL;
	const char *area = kind == DAV_KIND_CARD ? "contacts" : "calendars";
	struct dav_open_opts o = {0};
	struct dav_session *s = NULL;
	struct dav_discovery *d = NULL;
	struct e2_dav_report *rep;
	struct dav_sync_ctx dc = {0};
	struct e2_err e = {0};
	bool cleartext = false;
	enum e2_status rc;

	memset(out, 0, sizeof(*out));
	out->tried = true;
	/* on the heap: a report is large for a worker thread's stack */
	rep = calloc(1, sizeof(*rep));
	if (rep == NULL) {
		rc = e2_fail(&e, E2_ENOMEM, "out of memory");
		goto failed;
	}
	o.cafile = c->o.cafile;
	o.timeout_ms = c->o.timeout_ms;
	o.trace = c->o.trace;
	o.store = c->st;
	o.remember_home = true;
	o.guid = c->a->guid;
	o.read_only = c->o.dry_run;
	rc = dav_account_open(c->a, kind, &o, &s, &d, rep, &cleartext, &e);
	(void)snprintf(out->url, sizeof(out->url), "%.255s", rep->context_url);
	out->cleartext_login = cleartext;
	if (rc != E2_OK && rep->state != NULL &&
	    strcmp(rep->state, "not-found") == 0) {
		/* reported, not a failure of the account */
		(void)snprintf(out->state, sizeof(out->state), "not-found");
		(void)snprintf(out->error, sizeof(out->error), "%s", e.msg);
		goto out;
	}
	if (rc != E2_OK)
		goto failed;
	dc.st = c->st;
	dc.guid = c->a->guid;
	dc.kind = kind;
	dc.s = s;
	dc.force_delete = c->o.force_delete;
	dc.stop = c->o.stop;
	dc.stats = out;
	dc.content = content;
	dc.dry_run = c->o.dry_run;
	dc.preview = c->o.preview;
	dc.preview_ctx = c->o.preview_ctx;
	rc = dav_sync_run(&dc, d, &e);
	if (d->assumed && !c->o.dry_run && (rc != E2_OK || out->skipped > 0)) {
		/* started from the kept listing: a collection gone, a host
		 * that moved or a failure are the next run's to list */
		struct e2_err se = {0};

		(void)dav_state_listing_stale(c->st, c->a->guid, kind, &se);
	}
	if (rc != E2_OK)
		goto failed;
	if (out->skipped > 0 || out->refused > 0) {
		(void)snprintf(out->state, sizeof(out->state), "partial");
		(void)snprintf(e.msg, sizeof(e.msg),
			       "%zu skipped or refused, the first: %.200s",
			       out->skipped + out->refused, out->error);
		sync_dav_skip(c, area, e.msg);
	} else {
		(void)snprintf(out->state, sizeof(out->state), "ok");
	}
	goto out;
failed:
	out->status = rc;
	(void)snprintf(out->state, sizeof(out->state), "failed");
	(void)snprintf(out->error, sizeof(out->error), "%s", e.msg);
	/* one entry: the type did not sync, the rest of the run did */
	sync_dav_skip(c, area, e.msg);
out:
	if (out->cleartext_login) {
		c->stats->cleartext_login = true;
		if (c->stats->cleartext_why == NULL)
			c->stats->cleartext_why =
				kind == DAV_KIND_CARD
					? "CONTACTSSERVERREQUIRESSL is not 1"
					: "CALENDARSERVERREQUIRESSL is not 1";
	}
	dav_discovery_free(&d);
	dav_session_free(&s);
	free(rep);
}
