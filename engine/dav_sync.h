/* SPDX-License-Identifier: MIT */
/* dav_sync.h -- two-way sync of CardDAV/CalDAV collections with vdir folders */
#ifndef E2_DAV_SYNC_H
#define E2_DAV_SYNC_H

#include <stdbool.h>
#include <stdio.h>

#include "email2.h"
#include "transports/dav.h"

/*
 * The collection driver (issue 10). Given an open DAV session and the
 * collections discovery found, it keeps each collection and its vdir
 * folder (vdir.h) in step both ways: it builds every item's view from its
 * state row (dav_state.h), the server's listing (sync-collection, else a
 * PROPFIND Depth 1 etag listing) and a scan of the folder, lets
 * dav_rec_collection() decide, and carries the plan out in its order,
 * writing each row after its step succeeded. It knows nothing of how the
 * session was opened (dav_account.h does that) nor of schedules.
 *
 * A collection whose sync-token (or, without sync-collection, getctag)
 * is the stored one and whose folder is unchanged since the last run
 * costs one request and no item read. One bad item is skipped and
 * counted (stats->skipped); one bad collection never stops the others.
 */
struct dav_sync_ctx {
	struct e2_store *st;        /* the state rows */
	const char *guid;           /* the account, stored spelling */
	enum dav_kind kind;         /* contacts or calendars */
	struct dav_session *s;      /* open, logged in or not yet */
	bool force_delete;          /* skip S1/S2 (e2_sync_opts) */
	const volatile int *stop;   /* nonzero: stop between items */
	struct e2_dav_stats *stats; /* counted as steps become durable */
	/* E2_SYNC_APPOINTMENTS and/or E2_SYNC_TASKS: which calendars to
	 * sync (those whose components name VEVENT or VTODO, or say
	 * nothing); ignored for contacts */
	unsigned content;
	/*
	 * A preview (e2_sync_opts.dry_run): the server is only read, and
	 * nothing is written, not the store (it is query_only too), not a
	 * folder (no directory made, no temporary removed), not the server.
	 * Each collection's plan goes to preview, one call per action kind
	 * (folder "contacts/<dir>" or "calendars/<dir>"; kinds "download",
	 * "upload", "server-delete", "local-delete", "conflict", "adopt",
	 * "forget", "refused"; a collection never synced: "first-sync").
	 */
	bool dry_run;
	e2_sync_preview_fn preview; /* NULL: none */
	void *preview_ctx;
};

/*
 * Syncs every collection of d (for c->kind) into
 * <store>/contacts|calendars/{GUID}/<collection>/ and records the
 * collections found (a collection gone from the server keeps its folder
 * and rows: it is reported, never deleted locally). Returns E2_OK when
 * every collection was synced or skipped (skips counted in c->stats);
 * else the error that stopped the run (the session lost, the store).
 * Errors: the transport's (E2_EIO, E2_ETIMEOUT, E2_EAUTH, ...),
 * E2_ESTORE, E2_ENOMEM.
 */
enum e2_status dav_sync_run(struct dav_sync_ctx *c,
			    const struct dav_discovery *d, struct e2_err *err);

#endif /* E2_DAV_SYNC_H */
