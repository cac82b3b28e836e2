/* SPDX-License-Identifier: MIT */
/* dav_reconcile.h -- two-way reconciliation of DAV items as a pure function */
#ifndef E2_DAV_RECONCILE_H
#define E2_DAV_RECONCILE_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Contacts (CardDAV) and calendars (CalDAV) in vdir folders, item by item,
 * in the shape of reconcile.h: plain data in, one action per item out; no
 * I/O, no globals, no clock. The driver builds each item from its state
 * row, the server's listing (sync-collection or a PROPFIND Depth 1 etag
 * listing) and a scan of the vdir folder, then carries the plan out in the
 * order dav_rec_order() gives, writing the row after each step succeeded.
 *
 * Server view of an item. GONE: 404 in sync-collection, or missing from a
 * full listing. SAME: listed with the row's etag. CHANGED: listed with
 * another etag. NEW: listed, no row. UNKNOWN: a sync-collection with a
 * token lists only changes; an item it does not list is UNKNOWN, which
 * counts as SAME for every rule except that no local delete, no forget,
 * no conflict and no download ever follows from it (a local edit or
 * delete still goes out, guarded by If-Match: a 412 tells of a change).
 * Local view: GONE (no file), SAME (the row's identity: size, mtime_ns,
 * inode), CHANGED (another identity; the driver hashes the file), NEW (a
 * file with no row). CHANGED with the row's SHA-256 is SAME content (a
 * touch or an identical rewrite): only the identity is recorded (D7).
 * On a row, NEW counts as CHANGED on either side (D17).
 *
 * Conflicts (D4, D13): the server's version replaces the item file
 * (e.g. x.vcf) and the local version is kept, byte for byte, next to it
 * as x.vcf.conflict-<first 12 hex digits of its SHA-256>, and the
 * conflict is reported. Why: vdirsyncer by default never picks a winner
 * silently (the user decides), and DAVx5 users see the server's copy on
 * every device; uploading the local copy as a second item with a new UID
 * would show every device a duplicate that most servers refuse anyway
 * with the same UID (CardDAV/CalDAV no-uid-conflict). The name does not
 * end in .vcf/.ics, so vdir readers (khard, khal) and vdir_scan() never
 * take it for an item and it is never uploaded; it is named by content,
 * so a kill and a rerun write the same file, never a second one. The
 * driver writes the conflict copy first (temporary name, fsync, rename),
 * then the download. Both new with an equal body (D3), both changed to an
 * equal body (D12): no conflict, the row is recorded. A CONFLICT decided
 * without the server's body (not fetched yet) is decided again once the
 * driver has fetched it, before the copy: equal bodies become D3 or D12.
 *
 * Rules (one line each; the unit test names its row after the rule):
 *  D1  no row, server NEW, local GONE: DOWNLOAD (create; no file there).
 *  D2  no row, server GONE or UNKNOWN, local NEW: UPLOAD_CREATE
 *      (PUT If-None-Match: *).
 *  D3  no row, both NEW, the server's body known and of the same SHA-256:
 *      RECORD (write the row; nothing moves).
 *  D4  no row, both NEW, bodies differ or the server's is not known yet:
 *      CONFLICT (see above).
 *  D5  no row, server GONE or UNKNOWN, local GONE: NOTHING.
 *  D6  row, server SAME or UNKNOWN, local SAME: NOTHING.
 *  D7  row, server SAME or UNKNOWN, local identity changed with the row's
 *      SHA-256: RECORD (the new identity).
 *  D8  row, server SAME or UNKNOWN, local CHANGED: UPLOAD_UPDATE
 *      (PUT If-Match: the row's etag).
 *  D9  row, server SAME or UNKNOWN, local GONE: DELETE_REMOTE
 *      (DELETE If-Match: the row's etag).
 *  D10 row, server CHANGED, local SAME: DOWNLOAD (replace; the file must
 *      still have the row's identity, else decide again).
 *  D11 row, server CHANGED, local GONE: DOWNLOAD (create again: keep beats
 *      delete).
 *  D12 row, server CHANGED, local CHANGED to the server's body: RECORD.
 *  D13 row, server CHANGED, local CHANGED otherwise: CONFLICT.
 *  D14 row, server GONE, local SAME: DELETE_LOCAL (only while the file
 *      still has the row's identity).
 *  D15 row, server GONE, local CHANGED: UPLOAD_CREATE (keep beats
 *      delete; If-None-Match: * at the row's href).
 *  D16 row, server GONE, local GONE: FORGET (drop the row).
 *  D17 on a row, server NEW counts as CHANGED and local NEW as CHANGED.
 *  D18 a write with If-Match (D8, D9) on a row with no strong etag (none
 *      stored, or weak "W/"): REFETCH (GET the href for its strong etag
 *      and body, then decide again with server CHANGED or GONE).
 *  D19 a conditional write answered 412 or 409 (changed meanwhile):
 *      REFETCH, then decide again; never a blind retry.
 *  D20 a PUT answered 2xx without a strong ETag: the row stores no etag,
 *      so the next write of that item is D18.
 *  D21 a DELETE answered 404 or 410: FORGET (gone already); 2xx: FORGET.
 *  D22 a PUT answered 2xx with a strong ETag, a download done: RECORD.
 *  D23 row, server CHANGED with a known body equal to the row's (only the
 *      etag moved): as D6 with RECORD, D8, D9, If-Match the new etag.
 *  S1  safety (vdirsyncer's rule): the local side now holds no item, the
 *      state had rows, the server still holds items: REFUSE_LOCAL_EMPTY.
 *  S2  the server now holds no item, the state had rows, the local side
 *      still holds items: REFUSE_SERVER_EMPTY.
 *  S3  both sides empty, or no rows (first sync), or force (the user's
 *      explicit --force-delete): OK.
 *  S4  a refusal plans nothing for the collection (no deletes and no
 *      transfers): the driver reports it and keeps the rows.
 *  O1  order: CONFLICT, DOWNLOAD, UPLOAD_CREATE, UPLOAD_UPDATE, REFETCH,
 *      RECORD, FORGET, DELETE_LOCAL, DELETE_REMOTE; items keep their
 *      order within a kind.
 *
 * Why O1 loses nothing at a kill anywhere: every step but a delete adds or
 * replaces a copy and is repeated harmlessly (a kill between the step and
 * its row write: the next run finds both sides equal (D3, D12) or the same
 * conflict file name); the deletes are the only steps that remove the
 * last copy of something, so they come after every step that could still
 * carry that content elsewhere (an item moved between collections is a
 * create here and a delete there: a kill between the two leaves a
 * duplicate, never a loss). Conflict copies go first because they are
 * the only place the local version survives the download that follows.
 */

#define DAV_REC_SHA256_LEN 32

/* What the driver recorded of a local file, or sees of it now. */
struct dav_rec_identity {
	uint64_t size;
	int64_t mtime_ns;
	uint64_t inode;
	unsigned char sha256[DAV_REC_SHA256_LEN];
};

/* The state row of an item (present false: none). Borrowed strings. */
struct dav_rec_row {
	bool present;
	const char *href;
	const char *etag; /* NULL or "": no strong etag known (D20) */
	const char *file; /* vdir file name */
	struct dav_rec_identity id;
};

enum dav_rec_server_view {
	DAV_SERVER_GONE,
	DAV_SERVER_SAME,
	DAV_SERVER_CHANGED,
	DAV_SERVER_NEW,
	DAV_SERVER_UNKNOWN,
};

struct dav_rec_server {
	enum dav_rec_server_view view;
	const char *etag; /* CHANGED, NEW: the listed etag */
	bool body_known;  /* the body was fetched (multiget, GET) */
	unsigned char sha256[DAV_REC_SHA256_LEN]; /* of that body */
};

enum dav_rec_local_view {
	DAV_LOCAL_GONE,
	DAV_LOCAL_SAME,
	DAV_LOCAL_CHANGED,
	DAV_LOCAL_NEW,
};

struct dav_rec_local {
	enum dav_rec_local_view view;
	struct dav_rec_identity id; /* CHANGED, NEW: as it is now, hashed */
};

struct dav_rec_item {
	struct dav_rec_row row;
	struct dav_rec_server server;
	struct dav_rec_local local;
};

/*
 * What the driver does. "row" is written after the step succeeded.
 *  NOTHING        nothing.
 *  DOWNLOAD       fetch the server's body into the file (temporary name,
 *                 fsync, rename); with replace, only while the file still
 *                 has expect (else decide again); then the row.
 *  UPLOAD_CREATE  PUT If-None-Match: * (at the row's href, or a new one).
 *  UPLOAD_UPDATE  PUT If-Match: if_match.
 *  DELETE_REMOTE  DELETE If-Match: if_match; then FORGET.
 *  DELETE_LOCAL   remove the file only while it has expect; then FORGET.
 *  FORGET         drop the row.
 *  RECORD         write the row as both sides are now (etag, identity).
 *  CONFLICT       keep the local file as FILE.conflict-<sha12>, then as
 *                 DOWNLOAD with replace; report it.
 *  REFETCH        GET the href (etag and body), then decide again.
 */
enum dav_rec_kind {
	DAV_REC_NOTHING,
	DAV_REC_DOWNLOAD,
	DAV_REC_UPLOAD_CREATE,
	DAV_REC_UPLOAD_UPDATE,
	DAV_REC_DELETE_REMOTE,
	DAV_REC_DELETE_LOCAL,
	DAV_REC_FORGET,
	DAV_REC_RECORD,
	DAV_REC_CONFLICT,
	DAV_REC_REFETCH,
};

struct dav_rec_action {
	enum dav_rec_kind kind;
	unsigned rule;        /* the D number that decided it */
	size_t item;          /* index into the items */
	const char *if_match; /* UPLOAD_UPDATE, DELETE_REMOTE: borrowed */
	bool replace;         /* DOWNLOAD, CONFLICT: a file is replaced */
	struct dav_rec_identity expect; /* replace, DELETE_LOCAL */
};

/* True for a strong etag: not NULL, not "", not weak ("W/"). */
bool dav_rec_etag_strong(const char *etag);

/* The action for one item (D1-D18, D23); item index 0. Borrows it. */
struct dav_rec_action dav_rec_item_decide(const struct dav_rec_item *it);

/*
 * What follows a request the driver made for action kind (D19-D22):
 * http_status is the answer's status. Returns REFETCH (412, 409: decide
 * again after a GET; a download answered 404 or 410: gone meanwhile),
 * FORGET (a DELETE done or already gone), RECORD (the row can be
 * written; after a PUT whose answer has no strong ETag, as
 * dav_rec_etag_strong() says, the row is written with no etag: D20, the
 * refetch waits for the next write, so an upload costs one request), or
 * NOTHING (any other status: a failure the driver reports; the row is
 * kept as it was).
 */
enum dav_rec_kind dav_rec_followup(enum dav_rec_kind kind, int http_status);

/* The counts the safety check reads, for one collection. */
struct dav_rec_counts {
	size_t rows;   /* state rows before this run */
	size_t local;  /* items in the vdir folder now */
	size_t server; /* items on the server now (delta: rows - gone + new) */
};

enum dav_rec_safety {
	DAV_SAFE_OK,
	DAV_SAFE_REFUSE_LOCAL_EMPTY,  /* S1 */
	DAV_SAFE_REFUSE_SERVER_EMPTY, /* S2 */
};

/* S1-S3. force: the user asked to delete everything (S3). */
enum dav_rec_safety dav_rec_safety_check(const struct dav_rec_counts *c,
					 bool force);

/* Sorts actions by O1, stable. */
void dav_rec_order(struct dav_rec_action *v, size_t n);

struct dav_rec_plan {
	struct dav_rec_action *v; /* NOTHING actions are left out */
	size_t n;
	enum dav_rec_safety safety; /* not OK: v empty (S4) */
};

/*
 * A collection: decides every item, checks S1-S3 (counts from the
 * items), orders by O1, into *plan_out (caller frees with
 * dav_rec_plan_free()). Borrows items. Errors: E2_ENOMEM.
 */
enum e2_status dav_rec_collection(const struct dav_rec_item *items, size_t n,
				  bool force, struct dav_rec_plan *plan_out,
				  struct e2_err *err);
/* NULL-safe; empties plan. */
void dav_rec_plan_free(struct dav_rec_plan *plan);

#endif
