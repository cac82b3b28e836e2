/* SPDX-License-Identifier: MIT */
/* dav_sync_int.h -- the collection driver's private layout (dav_sync*.c) */
#ifndef E2_DAV_SYNC_INT_H
#define E2_DAV_SYNC_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "dav_reconcile.h"
#include "dav_state.h"
#include "dav_sync.h"
#include "vdir.h"

/* What the server said of one href in this run. */
struct dav_sync_srv {
	const char *href;      /* borrowed from the listing */
	struct dav_item *item; /* the listing's item, borrowed: its data
				  (when the listing carried it) is taken */
	char *url;             /* absolute, own */
	const char *etag;      /* borrowed (listing) or own (etag_own) */
	char *etag_own;
	bool deleted;     /* 404 in sync-collection */
	bool body;        /* data fetched */
	bool unavailable; /* listed, but no body could be fetched */
	char *data;       /* own */
	size_t len;
	unsigned char sha256[DAV_REC_SHA256_LEN];
	unsigned char sha_lf[DAV_REC_SHA256_LEN]; /* dav_sync_sha_lf() */
	size_t order; /* position in the listing: the last one wins */
};

/* One collection being synced. */
struct dav_sync_coll {
	struct dav_sync_ctx *c;
	const struct dav_collection *dc;
	enum vdir_kind vkind;
	char *dir; /* the vdir folder, absolute */
	struct dav_state_coll row;
	struct dav_state_item *rows; /* sorted by href */
	size_t n_rows;
	struct dav_state_item **by_file; /* the rows sorted by file */
	struct vdir_entry *files;        /* sorted by name (stat only) */
	size_t n_files;
	/* the server view */
	struct dav_changes **pages;
	size_t n_pages;
	bool full;      /* a complete listing: unlisted = GONE */
	bool unchanged; /* token or ctag as stored: every row SAME */
	char *new_token;
	struct dav_sync_srv *srv; /* sorted by href, one per href */
	size_t n_srv;
	/* something was skipped: the stored token stays (relist next run) */
	bool incomplete;
	/* the listing with the data was refused (over the body cap, or not
	 * parsed): etags only, the bodies by multiget */
	bool etags_only;
	char *ctag; /* without sync-collection: the getctag read this run */
};

/* One item of the plan, with what the driver needs to carry it out. */
struct dav_sync_it {
	struct dav_state_item *row;  /* NULL: none */
	struct dav_sync_srv *srv;    /* NULL: not listed */
	struct dav_sync_srv fetched; /* a REFETCH's answer */
	const struct vdir_entry *file;
	char name[VDIR_NAME_SIZE]; /* the file name */
	char *href;                /* own: a new local item's href */
	bool local_lf_known;       /* the file was read: local_lf is set */
	unsigned char local_lf[DAV_REC_SHA256_LEN];
	bool refetched;
};

struct dav_sync_run {
	struct dav_sync_coll *cc;
	struct dav_sync_it *its;
	struct dav_rec_item *items;
	size_t n;
	/* the folder held open: downloads flushed once per batch */
	struct vdir_folder *folder;
};

/* Between items: the caller asked to stop. */
bool dav_sync_stopped(const struct dav_sync_ctx *c);
/* An item skipped: counted, the first reason kept, the token kept. */
void dav_sync_skip(struct dav_sync_coll *cc, const char *what, const char *why);
/* The same for an item no listed server change concerns: the token may
 * move. */
void dav_sync_skip_local(struct dav_sync_coll *cc, const char *what,
			 const char *why);
struct dav_rec_identity dav_sync_identity(const struct vdir_item_info *f);
struct vdir_item_info dav_sync_info(const char *name,
				    const struct dav_rec_identity *id);
/* The href of an item: its row's, the listing's, or the new one. */
const char *dav_sync_it_href(const struct dav_sync_it *it);

/*
 * Carries out action a on item i of r (dav_sync_steps.c), then writes or
 * forgets its row; a step that cannot be done now is skipped (counted,
 * the token kept). Errors: those that end the run (the transport's but
 * E2_EPROTO, E2_ESTORE, E2_ENOMEM).
 */
enum e2_status dav_sync_exec(struct dav_sync_run *r, size_t i,
			     const struct dav_rec_action *a,
			     struct e2_err *err);

/*
 * The server view of cc (dav_sync_fetch.c): unchanged (no request when
 * discovery's sync-token or getctag is the stored one), else
 * sync-collection with the stored token (retried once from an empty one
 * on any error; pages followed) or a PROPFIND etag listing, into
 * cc->srv. Errors: the transport's; E2_EPROTO means this collection
 * only.
 */
enum e2_status dav_sync_fetch_view(struct dav_sync_coll *cc,
				   struct e2_err *err);

/*
 * The bodies of the listed items needing one (no row, or another etag):
 * multiget, then one GET per missing href; still missing (a 404
 * included): unavailable, skipped and counted.
 * Errors: the transport's (E2_EPROTO of a GET only marks the item).
 */
enum e2_status dav_sync_fetch_bodies(struct dav_sync_coll *cc,
				     struct e2_err *err);

/*
 * GET url into srv (body, etag); *gone_out on 404 or 410. Errors: the
 * transport's, E2_EPROTO (another status).
 */
enum e2_status dav_sync_fetch_one(struct dav_sync_coll *cc,
				  struct dav_sync_srv *srv, bool *gone_out,
				  struct e2_err *err);

/* The row of href, NULL if none. */
struct dav_state_item *dav_sync_row(const struct dav_sync_coll *cc,
				    const char *href);

/* Frees what the view holds (pages, srv). */
void dav_sync_view_free(struct dav_sync_coll *cc);
void dav_sync_srv_clear(struct dav_sync_srv *s);

/*
 * The SHA-256 of data with every CR LF taken as LF: a multiget body
 * crossed XML, whose parser turns CR LF into LF (XML 1.0 2.11), so our
 * own upload never comes back byte for byte. Two bodies with the same
 * sha_lf are the same item for D3, D12 and D23. Errors: E2_ENOMEM.
 */
enum e2_status dav_sync_sha_lf(const char *data, size_t len,
			       unsigned char out[DAV_REC_SHA256_LEN],
			       struct e2_err *err);

/*
 * When the server's body and the row's (D23) or the local file (D3, D12)
 * are equal but for line ends, the reconciler is told they are equal
 * (server sha256 := that side's sha256).
 */
void dav_sync_equal_lf(const struct dav_sync_it *it, struct dav_rec_item *ri);

/* A transport error that ends the run (not one collection's). */
bool dav_sync_fatal(enum e2_status rc);

#endif /* E2_DAV_SYNC_INT_H */
