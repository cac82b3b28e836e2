/* SPDX-License-Identifier: MIT */
/* dav_state.h -- the state rows of contacts and calendars sync (issue 10) */
#ifndef E2_DAV_STATE_H
#define E2_DAV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "email2.h"
#include "dav_reconcile.h"
#include "transports/dav.h"

/*
 * Tables (store migrations 10-12, engine/store.c), deleted with the
 * account by ON DELETE CASCADE, items also with their collection:
 *   dav_collections (guid, kind, href, dir, sync_token, ctag,
 *                    displayname, color)
 *   dav_items       (guid, kind, coll, href, etag, file, size, mtime_ns,
 *                    inode, sha256, sha256_lf)
 *   dav_homes       (guid, kind, endpoint, home, login, basic, listed)
 *   dav_listing     (guid, kind, href, displayname, color, reports,
 *                    components)
 * The last two are a cache of discovery (dav_account.c): losing them
 * costs one discovery, nothing else.
 * kind is "card" or "cal" (enum dav_kind); href and coll are hrefs as the
 * server sent them (coll: the collection's); "" stands for "none" in the
 * text columns (no token, no ctag, no strong etag: D20).
 *
 * The driver (dav_sync.c) loads a collection's rows into memory once per
 * run and writes one row per step after the step succeeded (each call
 * its own statement, autocommitted unless the caller holds a
 * transaction), so a kill loses at most the step in flight.
 *
 * A row that cannot be what this module wrote (a NULL or empty href or
 * file, a file name vdir_name_ok() refuses, a SHA-256 that is not 32
 * bytes, a negative size or inode) is damaged: the load is refused with
 * E2_ESTORE naming the collection and the column, nothing is guessed.
 *
 * Errors for every function: E2_ESTORE (SQLite's message, a damaged row),
 * E2_ENOMEM, E2_EINVAL where said.
 */

/* One collection's row; strings are the struct's own, never NULL. */
struct dav_state_coll {
	char *href;
	char *dir;         /* the vdir directory name, "" unknown */
	char *sync_token;  /* of the last complete sync, "" none */
	char *ctag;        /* getctag then, "" none */
	char *displayname; /* last written to the folder, "" none */
	char *color;
};

/*
 * One item's row; strings are the struct's own, etag may be "". sha_lf:
 * the SHA-256 of the file's bytes with CR LF taken as LF (has_lf false:
 * unknown), so a server body equal but for line ends is the row's (D23).
 */
struct dav_state_item {
	char *href;
	char *etag;
	char *file;
	struct dav_rec_identity id;
	bool has_lf;
	unsigned char sha_lf[DAV_REC_SHA256_LEN];
};

/* "card" or "cal". */
const char *dav_state_kind_name(enum dav_kind kind);

/*
 * Every collection row of guid and kind, sorted by href, into *v_out
 * (the caller's: dav_state_colls_free()). Errors: as above.
 */
enum e2_status dav_state_colls_load(struct e2_store *st, const char *guid,
				    enum dav_kind kind,
				    struct dav_state_coll **v_out,
				    size_t *n_out, struct e2_err *err);
void dav_state_colls_free(struct dav_state_coll **v, size_t n);

/*
 * Inserts or replaces the collection row c->href (c borrowed; NULL
 * strings stored as ""). Errors: as above, E2_EINVAL (c->href NULL or
 * empty; the account does not exist).
 */
enum e2_status dav_state_coll_put(struct e2_store *st, const char *guid,
				  enum dav_kind kind,
				  const struct dav_state_coll *c,
				  struct e2_err *err);

/* Deletes the collection row href and its items (none: E2_OK). */
enum e2_status dav_state_coll_forget(struct e2_store *st, const char *guid,
				     enum dav_kind kind, const char *href,
				     struct e2_err *err);

/*
 * Every item row of collection coll, sorted by href, into *v_out (the
 * caller's: dav_state_items_free()). Errors: as above (a damaged row).
 */
enum e2_status dav_state_items_load(struct e2_store *st, const char *guid,
				    enum dav_kind kind, const char *coll,
				    struct dav_state_item **v_out,
				    size_t *n_out, struct e2_err *err);
void dav_state_items_free(struct dav_state_item **v, size_t n);

/*
 * Inserts or replaces the item row href of collection coll (whose row
 * must exist) with etag (NULL stored as ""), file, id and sha_lf (NULL:
 * unknown; else DAV_REC_SHA256_LEN bytes), all borrowed.
 * Errors: as above, E2_EINVAL (href or file empty, file not
 * vdir_name_ok(), no such collection row).
 */
enum e2_status
dav_state_item_put(struct e2_store *st, const char *guid, enum dav_kind kind,
		   const char *coll, const char *href, const char *etag,
		   const char *file, const struct dav_rec_identity *id,
		   const unsigned char *sha_lf, struct e2_err *err);

/* Deletes the item row href of coll (none: E2_OK). */
enum e2_status dav_state_item_forget(struct e2_store *st, const char *guid,
				     enum dav_kind kind, const char *coll,
				     const char *href, struct e2_err *err);

/*
 * The home set discovery found for guid and kind from endpoint (the plan's
 * URL it started from) with login (the login name, NULL or "" none):
 * *endpoint_out and *home_out (caller frees), both NULL when none is
 * recorded or it was found with another login; *basic_out: the server
 * took Basic there. Errors: as above.
 */
enum e2_status dav_state_home_get(struct e2_store *st, const char *guid,
				  enum dav_kind kind, const char *login,
				  char **endpoint_out, char **home_out,
				  bool *basic_out, struct e2_err *err);
/* Records it (replacing, the listing's time 0); home NULL forgets it.
 * Errors: as above. */
enum e2_status dav_state_home_put(struct e2_store *st, const char *guid,
				  enum dav_kind kind, const char *login,
				  const char *endpoint, const char *home,
				  bool basic, struct e2_err *err);

/*
 * The collections the last listing of guid's home set for kind named
 * (migration 12), so a sync can skip the listing while it is fresh:
 * *listed_out is when it was taken (Unix seconds; 0: never, or marked
 * stale), *v_out its collections with href, displayname and color (NULL:
 * not named), reports and components set and every other field NULL;
 * dav_discovery_from() makes a discovery of them. No home row: 0 and
 * none. Free with dav_state_listing_free(). Errors: as above (a row with
 * an empty href or a bit set out of range is damaged).
 */
enum e2_status dav_state_listing_get(struct e2_store *st, const char *guid,
				     enum dav_kind kind, int64_t *listed_out,
				     struct dav_collection **v_out,
				     size_t *n_out, struct e2_err *err);
void dav_state_listing_free(struct dav_collection **v, size_t n);
/* Replaces the listing with d's collections, taken at now, in one
 * transaction; the home row (dav_state_home_put()) must exist. */
enum e2_status dav_state_listing_put(struct e2_store *st, const char *guid,
				     enum dav_kind kind,
				     const struct dav_discovery *d, int64_t now,
				     struct e2_err *err);
/* Marks the listing stale: the next sync lists the home set again. */
enum e2_status dav_state_listing_stale(struct e2_store *st, const char *guid,
				       enum dav_kind kind, struct e2_err *err);

#endif /* E2_DAV_STATE_H */
