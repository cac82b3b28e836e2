/* SPDX-License-Identifier: MIT */
/*
 * dav_sync.c -- two-way sync of CardDAV/CalDAV collections with vdir
 * folders: per collection the local view, the items, the plan of
 * dav_reconcile.h and its steps (the server's view: dav_sync_fetch.c)
 *
 * Decisions where dav_sync.h and dav_reconcile.h leave room:
 *  - Bodies first. Every listed item whose etag is not its row's is
 *    fetched (multiget, then GET) before anything is decided: a download
 *    needs it anyway, a new server item is matched to a local file only by
 *    the file name its UID gives, and D3/D12/D23 compare bodies. So no
 *    CONFLICT is ever decided without the server's body.
 *  - The sync-token (or getctag) is stored only when every step of the
 *    collection succeeded. A step skipped (the user edited the file
 *    meanwhile, a body that could not be fetched, a refused PUT) keeps the
 *    old token, so the next run lists the same changes again; the rows
 *    make that repetition harmless (listed etag = row etag: SAME).
 *  - A collection's change markers are asked with a PROPFIND Depth 0 on
 *    it alone, not in discovery's Depth 1 on the home set: a server like
 *    Radicale computes each from every item of a collection, so the Depth
 *    1 would pay for every collection (the other type's included) on
 *    every run. With sync-collection, the first run after a full sync
 *    asks the sync-token and the getctag together; when the token is the
 *    stored one the getctag is stored beside it, and later runs ask the
 *    getctag alone (Radicale hashes every item's etag for it, but also
 *    writes its token history for a sync-token: a third less time).
 *    A changed getctag (or none) runs sync-collection from the stored
 *    token, and the getctag read before it is stored with the new token,
 *    so a change made meanwhile shows on the next run. That trusts a
 *    getctag to move with every change, as Thunderbird and DAVx5 do; a
 *    server that names none is asked for its token every time. When the
 *    marker is the stored one and no file's identity (size, mtime_ns,
 *    inode) moved, the collection costs that one request and reads no
 *    file.
 *  - A new local item is created at the collection's href plus its file
 *    name, every byte but A-Z a-z 0-9 - . _ ~ percent-encoded (the form
 *    servers send hrefs back in, so the row matches their listing).
 *  - Two server items whose UIDs give the same file name, or a server item
 *    whose name is a file another row owns: the later one is skipped and
 *    counted (one file can mirror one href only).
 *  - A symlink, a non-regular file or a file over VDIR_ITEM_CAP with an
 *    item name is never read nor replaced: its item is skipped.
 */
#include "config.h"

#include "dav_sync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dav_sync_int.h"
#include "store.h"
#include "sync_preview.h"
#include "transports/http.h"

bool
dav_sync_stopped(const struct dav_sync_ctx *c)
{
	return c->stop != NULL && *c->stop != 0;
}

static void
dav_sync_note(struct dav_sync_ctx *c, const char *msg)
{
	if (c->stats->error[0] == '\0')
		(void)snprintf(c->stats->error, sizeof(c->stats->error), "%s",
			       msg);
}

/* An item skipped: counted, the first reason kept, the token kept. */
void
dav_sync_skip(struct dav_sync_coll *cc, const char *what, const char *why)
{
	dav_sync_skip_local(cc, what, why);
	cc->incomplete = true;
}

/*
 * A local-only item skipped (no server change concerns it): counted and
 * reported, but the server's token may move, since relisting would bring
 * nothing for it.
 */
void
dav_sync_skip_local(struct dav_sync_coll *cc, const char *what, const char *why)
{
	char msg[256];
	char q[128];

	cc->c->stats->skipped++;
	(void)snprintf(msg, sizeof(msg), "%s %s: %s", cc->dir,
		       e2_quote(q, sizeof(q), what, strlen(what)), why);
	dav_sync_note(cc->c, msg);
}

static bool
dav_sync_same_identity(const struct vdir_item_info *f,
		       const struct dav_rec_identity *id)
{
	return f->size == id->size && f->mtime_ns == id->mtime_ns &&
	       f->ino == id->inode;
}

struct dav_rec_identity
dav_sync_identity(const struct vdir_item_info *f)
{
	struct dav_rec_identity id;

	id.size = f->size;
	id.mtime_ns = f->mtime_ns;
	id.inode = f->ino;
	memcpy(id.sha256, f->sha256, DAV_REC_SHA256_LEN);
	return id;
}

struct vdir_item_info
dav_sync_info(const char *name, const struct dav_rec_identity *id)
{
	struct vdir_item_info f;

	memset(&f, 0, sizeof(f));
	(void)snprintf(f.name, sizeof(f.name), "%s", name);
	f.size = id->size;
	f.mtime_ns = id->mtime_ns;
	f.ino = id->inode;
	memcpy(f.sha256, id->sha256, VDIR_SHA256_LEN);
	return f;
}

static int
dav_sync_file_cmp(const void *key, const void *elem)
{
	const struct vdir_entry *e = elem;

	return strcmp(key, e->info.name);
}

static const struct vdir_entry *
dav_sync_file(const struct dav_sync_coll *cc, const char *name)
{
	if (cc->n_files == 0)
		return NULL;
	return bsearch(name, cc->files, cc->n_files, sizeof(*cc->files),
		       dav_sync_file_cmp);
}

static int
dav_sync_by_file_cmp(const void *a, const void *b)
{
	const struct dav_state_item *const *x = a;
	const struct dav_state_item *const *y = b;

	return strcmp((*x)->file, (*y)->file);
}

static int
dav_sync_by_file_key(const void *key, const void *elem)
{
	const struct dav_state_item *const *r = elem;

	return strcmp(key, (*r)->file);
}

/* cc->by_file: the rows sorted by file name, for lookups by name. */
static enum e2_status
dav_sync_index_files(struct dav_sync_coll *cc, struct e2_err *err)
{
	cc->by_file = calloc(cc->n_rows + 1, sizeof(*cc->by_file));
	if (cc->by_file == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < cc->n_rows; i++)
		cc->by_file[i] = &cc->rows[i];
	qsort(cc->by_file, cc->n_rows, sizeof(*cc->by_file),
	      dav_sync_by_file_cmp);
	return E2_OK;
}

/* The row that owns file name, NULL if none. */
static const struct dav_state_item *
dav_sync_row_of_file(const struct dav_sync_coll *cc, const char *name)
{
	struct dav_state_item **r;

	if (cc->n_rows == 0)
		return NULL;
	r = bsearch(name, cc->by_file, cc->n_rows, sizeof(*cc->by_file),
		    dav_sync_by_file_key);
	return r == NULL ? NULL : *r;
}

/* Our leftover temporaries the scan removed are no items: left out. */
static void
dav_sync_drop_tmp(struct dav_sync_coll *cc)
{
	size_t out = 0;

	for (size_t i = 0; i < cc->n_files; i++)
		if (cc->files[i].kind != VDIR_ENTRY_TMP_REMOVED)
			cc->files[out++] = cc->files[i];
	cc->n_files = out;
}

/* Did any file's identity move since the rows (stat only)? */
static bool
dav_sync_local_changed(const struct dav_sync_coll *cc)
{
	size_t matched = 0;

	for (size_t i = 0; i < cc->n_files; i++) {
		const struct vdir_entry *e = &cc->files[i];
		const struct dav_state_item *r =
			dav_sync_row_of_file(cc, e->info.name);

		/* a symlink, fifo or huge file of no row is never read nor
		 * sent: it is reported when a run has work, and does not
		 * make every run one (its token would never move either) */
		if (r == NULL && e->kind != VDIR_ENTRY_ITEM)
			continue;
		if (r == NULL)
			return true;
		if (e->kind != VDIR_ENTRY_ITEM ||
		    !dav_sync_same_identity(&e->info, &r->id))
			return true;
		matched++;
	}
	return matched != cc->n_rows;
}

/* href of a new local item: the collection's href and the name. */
static char *
dav_sync_new_href(const struct dav_sync_coll *cc, const char *name)
{
	const char *base = cc->dc->href;
	size_t bl = strlen(base);
	char *out = malloc(bl + 1 + 3 * strlen(name) + 1);
	char *p;

	if (out == NULL)
		return NULL;
	memcpy(out, base, bl);
	p = out + bl;
	if (bl == 0 || base[bl - 1] != '/')
		*p++ = '/';
	for (const unsigned char *s = (const unsigned char *)name; *s != '\0';
	     s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_' || *s == '~') {
			*p++ = (char)*s;
		} else {
			static const char hex[] = "0123456789ABCDEF";

			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		}
	}
	*p = '\0';
	return out;
}

const char *
dav_sync_it_href(const struct dav_sync_it *it)
{
	if (it->row != NULL)
		return it->row->href;
	if (it->srv != NULL)
		return it->srv->href;
	return it->href;
}

/* A file that cannot be read: the token waits only if the server moved. */
static void
dav_sync_skip_file(struct dav_sync_coll *cc, const struct dav_sync_it *it,
		   const char *why)
{
	if (it->srv == NULL)
		dav_sync_skip_local(cc, it->name, why);
	else
		dav_sync_skip(cc, it->name, why);
}

/* The local view of a file (hashed when its identity moved). */
static enum e2_status
dav_sync_local_view(struct dav_sync_coll *cc, struct dav_sync_it *it,
		    struct dav_rec_item *ri, bool *skip_out, struct e2_err *err)
{
	struct vdir_item_info now;
	char *data = NULL;
	size_t len = 0;
	struct e2_err e = {0};
	enum e2_status rc;

	*skip_out = false;
	if (it->file == NULL) {
		ri->local.view = DAV_LOCAL_GONE;
		return E2_OK;
	}
	if (it->file->kind != VDIR_ENTRY_ITEM) {
		dav_sync_skip_file(cc, it,
				   "not a regular file of at most 4 MiB: "
				   "left alone");
		*skip_out = true;
		return E2_OK;
	}
	if (it->row != NULL &&
	    dav_sync_same_identity(&it->file->info, &it->row->id)) {
		ri->local.view = DAV_LOCAL_SAME;
		return E2_OK;
	}
	rc = vdir_item_read(cc->dir, it->name, &data, &len, &now, &e);
	if (rc == E2_OK) {
		rc = dav_sync_sha_lf(data, len, it->local_lf, &e);
		it->local_lf_known = rc == E2_OK;
	}
	free(data);
	if (rc == E2_ENOMEM)
		return e2_fail(err, rc, "%s", e.msg);
	if (rc != E2_OK) {
		dav_sync_skip_file(cc, it, e.msg);
		*skip_out = true;
		return E2_OK;
	}
	ri->local.view = it->row != NULL ? DAV_LOCAL_CHANGED : DAV_LOCAL_NEW;
	ri->local.id = dav_sync_identity(&now);
	return E2_OK;
}

/* The server view of an item from its listing entry. */
static void
dav_sync_server_view(const struct dav_sync_coll *cc,
		     const struct dav_sync_it *it, struct dav_rec_item *ri)
{
	const struct dav_sync_srv *s = it->srv;

	if (s == NULL) {
		if (cc->unchanged && it->row != NULL)
			ri->server.view = DAV_SERVER_SAME;
		else
			ri->server.view =
				cc->full ? DAV_SERVER_GONE : DAV_SERVER_UNKNOWN;
		return;
	}
	if (s->deleted) {
		ri->server.view = DAV_SERVER_GONE;
		return;
	}
	ri->server.etag = s->etag;
	ri->server.body_known = s->body;
	if (s->body)
		memcpy(ri->server.sha256, s->sha256, DAV_REC_SHA256_LEN);
	if (it->row == NULL)
		ri->server.view = DAV_SERVER_NEW;
	else if (s->etag != NULL && it->row->etag[0] != '\0' &&
		 strcmp(s->etag, it->row->etag) == 0)
		/* the row's etag: unchanged, even when the listing carried
		 * the body along (sync-collection with the data) */
		ri->server.view = DAV_SERVER_SAME;
	else
		ri->server.view = DAV_SERVER_CHANGED;
}

static void
dav_sync_row_view(const struct dav_sync_it *it, struct dav_rec_item *ri)
{
	if (it->row == NULL)
		return;
	ri->row.present = true;
	ri->row.href = it->row->href;
	ri->row.etag = it->row->etag;
	ri->row.file = it->row->file;
	ri->row.id = it->row->id;
}

static enum e2_status
dav_sync_add(struct dav_sync_run *r, struct dav_sync_it *it, bool *kept_out,
	     struct e2_err *err)
{
	struct dav_rec_item *ri = &r->items[r->n];
	bool skip = false;
	enum e2_status rc;

	*kept_out = false;
	memset(ri, 0, sizeof(*ri));
	dav_sync_row_view(it, ri);
	if (it->srv != NULL && it->srv->unavailable) {
		dav_sync_skip(r->cc, dav_sync_it_href(it),
			      "listed, but its body could not be fetched");
		return E2_OK;
	}
	dav_sync_server_view(r->cc, it, ri);
	rc = dav_sync_local_view(r->cc, it, ri, &skip, err);
	if (rc != E2_OK || skip)
		return rc;
	dav_sync_equal_lf(it, ri);
	r->its[r->n++] = *it;
	*kept_out = true;
	return E2_OK;
}

static int
dav_sync_srv_cmp(const void *key, const void *elem)
{
	const struct dav_sync_srv *s = elem;

	return strcmp(key, s->href);
}

static struct dav_sync_srv *
dav_sync_srv_of(const struct dav_sync_coll *cc, const char *href)
{
	if (cc->n_srv == 0)
		return NULL;
	return bsearch(href, cc->srv, cc->n_srv, sizeof(*cc->srv),
		       dav_sync_srv_cmp);
}

/* Every item: rows, then new server items, then new local files. */
static enum e2_status
dav_sync_items(struct dav_sync_run *r, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	size_t max = cc->n_rows + cc->n_srv + cc->n_files;
	bool *used = NULL;
	enum e2_status rc = E2_OK;
	const char *ext = cc->vkind == VDIR_KIND_CONTACTS ? "vcf" : "ics";

	r->its = calloc(max + 1, sizeof(*r->its));
	r->items = calloc(max + 1, sizeof(*r->items));
	used = calloc(cc->n_files + 1, sizeof(*used));
	if (r->its == NULL || r->items == NULL || used == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cc->n_rows; i++) {
		struct dav_sync_it it = {.row = &cc->rows[i]};
		bool kept;

		it.srv = dav_sync_srv_of(cc, cc->rows[i].href);
		(void)snprintf(it.name, sizeof(it.name), "%s",
			       cc->rows[i].file);
		it.file = dav_sync_file(cc, it.name);
		if (it.file != NULL)
			used[it.file - cc->files] = true;
		rc = dav_sync_add(r, &it, &kept, err);
		if (rc != E2_OK)
			goto out;
	}
	for (size_t i = 0; i < cc->n_srv; i++) {
		struct dav_sync_srv *s = &cc->srv[i];
		struct dav_sync_it it = {.srv = s};
		struct e2_err e = {0};
		bool kept;

		if (s->deleted || dav_sync_row(cc, s->href) != NULL)
			continue;
		if (s->unavailable || !s->body) {
			dav_sync_skip(cc, s->href,
				      "listed, but its body could not be "
				      "fetched");
			continue;
		}
		rc = vdir_item_name(s->data, s->len, ext, it.name,
				    sizeof(it.name), &e);
		if (rc != E2_OK) {
			if (rc == E2_ENOMEM)
				goto out;
			rc = E2_OK;
			dav_sync_skip(cc, s->href, e.msg);
			continue;
		}
		it.file = dav_sync_file(cc, it.name);
		if (dav_sync_row_of_file(cc, it.name) != NULL ||
		    (it.file != NULL && used[it.file - cc->files])) {
			dav_sync_skip(cc, s->href,
				      "its UID names a file another item "
				      "owns");
			continue;
		}
		if (it.file != NULL)
			used[it.file - cc->files] = true;
		rc = dav_sync_add(r, &it, &kept, err);
		if (rc != E2_OK)
			goto out;
	}
	for (size_t i = 0; i < cc->n_files; i++) {
		struct dav_sync_it it = {.file = &cc->files[i]};
		bool kept = false;

		if (used[i])
			continue;
		(void)snprintf(it.name, sizeof(it.name), "%s",
			       cc->files[i].info.name);
		it.href = dav_sync_new_href(cc, it.name);
		if (it.href == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		rc = dav_sync_add(r, &it, &kept, err);
		if (!kept)
			free(it.href);
		if (rc != E2_OK)
			goto out;
	}
out:
	free(used);
	return rc;
}

/* ---- a collection ----------------------------------------------------- */

static const char *
dav_sync_safety_why(enum dav_rec_safety s)
{
	return s == DAV_SAFE_REFUSE_LOCAL_EMPTY
		       ? "every local item is gone but the server still "
			 "holds items: refused (S1), nothing deleted; "
			 "--force-delete deletes them on the server"
		       : "the server holds no item but the folder still "
			 "does: refused (S2), nothing deleted; "
			 "--force-delete deletes the local files";
}

/* ---- a preview (c->dry_run) ---- */

/* One preview line for the collection: folder "contacts/<dir>". */
static void
dav_sync_preview_line(const struct dav_sync_coll *cc, const char *kind,
		      size_t count, unsigned long long bytes,
		      const char *detail)
{
	const char *base = strrchr(cc->dir, '/');
	char folder[VDIR_NAME_SIZE + 16];

	if (cc->c->preview == NULL)
		return;
	(void)snprintf(folder, sizeof(folder), "%s/%s",
		       vdir_kind_name(cc->vkind),
		       base == NULL ? cc->dir : base + 1);
	cc->c->preview(cc->c->preview_ctx, folder, kind, count, bytes, detail);
}

/* The plan told, one line per kind of action, with the files' names. */
static void
dav_sync_preview_plan(const struct dav_sync_run *r,
		      const struct dav_rec_plan *plan)
{
	static const struct {
		const char *name;
		enum dav_rec_kind a, b;
	} kinds[] = {
		{"download", DAV_REC_DOWNLOAD, DAV_REC_DOWNLOAD},
		{"upload", DAV_REC_UPLOAD_CREATE, DAV_REC_UPLOAD_UPDATE},
		{"server-delete", DAV_REC_DELETE_REMOTE, DAV_REC_DELETE_REMOTE},
		{"local-delete", DAV_REC_DELETE_LOCAL, DAV_REC_DELETE_LOCAL},
		{"conflict", DAV_REC_CONFLICT, DAV_REC_CONFLICT},
		{"adopt", DAV_REC_RECORD, DAV_REC_RECORD},
		{"forget", DAV_REC_FORGET, DAV_REC_FORGET},
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char detail[SYNC_PREVIEW_DETAIL + 64] = "";
		size_t count = 0;
		unsigned long long bytes = 0;

		for (size_t j = 0; j < plan->n; j++) {
			const struct dav_rec_action *a = &plan->v[j];
			const struct dav_sync_it *it = &r->its[a->item];
			char q[96];

			if (a->kind != kinds[k].a && a->kind != kinds[k].b)
				continue;
			count++;
			if (a->kind == DAV_REC_DOWNLOAD && it->srv != NULL)
				bytes += it->srv->len;
			else if ((a->kind == DAV_REC_UPLOAD_CREATE ||
				  a->kind == DAV_REC_UPLOAD_UPDATE) &&
				 it->file != NULL)
				bytes +=
					(unsigned long long)it->file->info.size;
			sync_preview_add(detail, SYNC_PREVIEW_DETAIL,
					 e2_quote(q, sizeof(q), it->name,
						  strlen(it->name)));
		}
		if (count > 0)
			dav_sync_preview_line(r->cc, kinds[k].name, count,
					      bytes, detail);
	}
}

/*
 * Steps are carried out in batches: one store transaction and one flush of
 * the folder per DAV_SYNC_BATCH_STEPS steps or DAV_SYNC_BATCH_SECONDS,
 * whichever comes first (the write lock is not held long while uploads
 * wait on the network). A download's file is written and flushed before
 * its row is written; the folder's names are flushed before the batch's
 * rows commit. A kill loses the rows of the batch in flight, never a
 * file: the next run finds each such file beside the server's item with
 * the same body and adopts it (D3), or keeps both.
 */
#define DAV_SYNC_BATCH_STEPS 256
#define DAV_SYNC_BATCH_SECONDS 1.0

static double
dav_sync_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The batch's end: the folder flushed, then the rows committed. */
static enum e2_status
dav_sync_batch_end(struct dav_sync_run *r, bool *open, struct e2_err *err)
{
	enum e2_status rc;

	if (!*open)
		return E2_OK;
	*open = false;
	rc = vdir_folder_flush(r->folder, err);
	if (rc != E2_OK) {
		store_rollback(r->cc->c->st);
		return rc;
	}
	return store_commit(r->cc->c->st, err);
}

/* Plans and carries out the items of cc; E2_OK unless fatal. */
static enum e2_status
dav_sync_plan_run(struct dav_sync_coll *cc, struct e2_err *err)
{
	struct dav_sync_run r = {.cc = cc};
	struct dav_rec_plan plan = {0};
	struct e2_err be = {0};
	enum e2_status rc, brc;
	bool open = false;
	double t0 = 0;
	size_t steps = 0;

	rc = dav_sync_items(&r, err);
	if (rc != E2_OK)
		goto out;
	rc = dav_rec_collection(r.items, r.n, cc->c->force_delete, &plan, err);
	if (rc != E2_OK)
		goto out;
	if (plan.safety != DAV_SAFE_OK) {
		char msg[256];

		cc->c->stats->refused++;
		cc->incomplete = true;
		(void)snprintf(msg, sizeof(msg), "%s: %s", cc->dir,
			       dav_sync_safety_why(plan.safety));
		dav_sync_note(cc->c, msg);
		if (cc->c->dry_run)
			dav_sync_preview_line(cc, "refused", 0, 0,
					      dav_sync_safety_why(plan.safety));
		goto out;
	}
	if (cc->c->dry_run) {
		dav_sync_preview_plan(&r, &plan);
		goto out;
	}
	if (plan.n > 0) {
		rc = vdir_folder_open(cc->dir, &r.folder, err);
		if (rc != E2_OK)
			goto out;
	}
	for (size_t k = 0; k < plan.n; k++) {
		if (dav_sync_stopped(cc->c)) {
			cc->incomplete = true;
			break;
		}
		if (!open) {
			rc = store_begin(cc->c->st, err);
			if (rc != E2_OK)
				break;
			open = true;
			t0 = dav_sync_now();
			steps = 0;
		}
		rc = dav_sync_exec(&r, plan.v[k].item, &plan.v[k], err);
		if (rc != E2_OK)
			break;
		if (++steps >= DAV_SYNC_BATCH_STEPS ||
		    dav_sync_now() - t0 >= DAV_SYNC_BATCH_SECONDS) {
			rc = dav_sync_batch_end(&r, &open, err);
			if (rc != E2_OK)
				break;
		}
	}
	/* what was done is kept, also when a step stopped the run */
	brc = dav_sync_batch_end(&r, &open, &be);
	if (brc != E2_OK && rc == E2_OK) {
		rc = brc;
		*err = be;
	}
out:
	vdir_folder_close(&r.folder);
	dav_rec_plan_free(&plan);
	for (size_t k = 0; r.its != NULL && k < r.n; k++) {
		free(r.its[k].href);
		dav_sync_srv_clear(&r.its[k].fetched);
	}
	free(r.its);
	free(r.items);
	return rc;
}

/* displayname and color into the folder when the server's changed. */
static enum e2_status
dav_sync_meta(struct dav_sync_coll *cc, struct e2_err *err)
{
	const char *keys[] = {"displayname", "color"};
	const char *vals[] = {cc->dc->displayname, cc->dc->color};
	char **rowv[] = {&cc->row.displayname, &cc->row.color};

	for (size_t k = 0; k < 2; k++) {
		struct e2_err e = {0};
		char *copy;
		enum e2_status rc;

		if (vals[k] == NULL || strcmp(vals[k], *rowv[k]) == 0)
			continue;
		rc = vdir_meta_write(cc->dir, keys[k], vals[k], &e);
		if (rc == E2_ENOMEM || rc == E2_ESTORE) {
			*err = e;
			return rc;
		}
		/* E2_EINVAL: nothing valid to write; remember it anyway */
		copy = strdup(vals[k]);
		if (copy == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		free(*rowv[k]);
		*rowv[k] = copy;
	}
	return E2_OK;
}

static enum e2_status
dav_sync_set(char **dst, const char *src, struct e2_err *err)
{
	char *copy = strdup(src == NULL ? "" : src);

	if (copy == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return E2_OK;
}

/* The stored row of the collection, or a new one; into cc->row. */
static enum e2_status
dav_sync_coll_row(struct dav_sync_coll *cc, const struct dav_state_coll *v,
		  size_t n, struct e2_err *err)
{
	const struct dav_state_coll *old = NULL;
	const char *base = strrchr(cc->dir, '/');
	enum e2_status rc;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].href, cc->dc->href) == 0)
			old = &v[i];
	rc = dav_sync_set(&cc->row.href, cc->dc->href, err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.dir,
				  base == NULL ? cc->dir : base + 1, err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.sync_token,
				  old == NULL ? "" : old->sync_token, err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.ctag, old == NULL ? "" : old->ctag,
				  err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.displayname,
				  old == NULL ? "" : old->displayname, err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.color, old == NULL ? "" : old->color,
				  err);
	return rc;
}

static void
dav_sync_coll_free(struct dav_sync_coll *cc)
{
	dav_sync_view_free(cc);
	free(cc->by_file);
	dav_state_items_free(&cc->rows, cc->n_rows);
	free(cc->files);
	free(cc->dir);
	free(cc->row.href);
	free(cc->row.dir);
	free(cc->row.sync_token);
	free(cc->row.ctag);
	free(cc->row.displayname);
	free(cc->row.color);
	free(cc->ctag);
}

/*
 * A preview's folder: the one the collection's row recorded, when it is
 * there; else (never synced, or its folder gone) a "first-sync" line and
 * cc->dir NULL: the sync would download every item.
 */
static enum e2_status
dav_sync_preview_dir(struct dav_sync_coll *cc, const struct dav_state_coll *v,
		     size_t n, struct e2_err *err)
{
	const struct dav_sync_ctx *c = cc->c;
	enum e2_status rc = E2_OK;

	for (size_t i = 0; i < n && rc == E2_OK && cc->dir == NULL; i++)
		if (strcmp(v[i].href, cc->dc->href) == 0 && v[i].dir[0] != '\0')
			rc = vdir_collection_existing(e2_store_dir(c->st),
						      cc->vkind, c->guid,
						      v[i].dir, &cc->dir, err);
	if (rc == E2_OK && cc->dir == NULL && c->preview != NULL) {
		char folder[160], q[128];

		e2_quote(q, sizeof(q), cc->dc->href, strlen(cc->dc->href));
		(void)snprintf(folder, sizeof(folder), "%s%s%s",
			       vdir_kind_name(cc->vkind),
			       q[0] == '/' ? "" : "/", q);
		c->preview(c->preview_ctx, folder, "first-sync", 0, 0,
			   "never synced: every item would be downloaded");
	}
	return rc;
}

/* The getctag read this run into the row, with the new token when
 * token, and the row stored. */
static enum e2_status
dav_sync_keep(struct dav_sync_coll *cc, bool token, struct e2_err *err)
{
	const struct dav_sync_ctx *c = cc->c;
	enum e2_status rc = E2_OK;

	if (token)
		rc = dav_sync_set(&cc->row.sync_token, cc->new_token, err);
	if (rc == E2_OK)
		rc = dav_sync_set(&cc->row.ctag, cc->ctag, err);
	if (rc == E2_OK)
		rc = dav_state_coll_put(c->st, c->guid, c->kind, &cc->row, err);
	return rc;
}

/* One collection; E2_OK unless the run must stop (counted otherwise). */
static enum e2_status
dav_sync_one_coll(struct dav_sync_ctx *c, const struct dav_collection *dc,
		  const struct dav_state_coll *v, size_t n, struct e2_err *err)
{
	struct dav_sync_coll cc = {.c = c, .dc = dc};
	struct e2_err e = {0};
	bool local_changed;
	enum e2_status rc;

	cc.vkind = c->kind == DAV_KIND_CAL ? VDIR_KIND_CALENDARS
					   : VDIR_KIND_CONTACTS;
	if (c->dry_run)
		rc = dav_sync_preview_dir(&cc, v, n, &e);
	else
		rc = vdir_collection_dir(e2_store_dir(c->st), cc.vkind, c->guid,
					 dc->href, &cc.dir, &e);
	if (rc == E2_OK && cc.dir == NULL)
		goto out; /* a preview of a collection never synced */
	if (rc == E2_OK)
		rc = dav_sync_coll_row(&cc, v, n, &e);
	if (rc == E2_OK && !c->dry_run)
		rc = dav_sync_meta(&cc, &e);
	if (rc == E2_OK && !c->dry_run)
		rc = dav_state_coll_put(c->st, c->guid, c->kind, &cc.row, &e);
	if (rc == E2_OK)
		rc = dav_state_items_load(c->st, c->guid, c->kind, dc->href,
					  &cc.rows, &cc.n_rows, &e);
	if (rc == E2_OK)
		rc = dav_sync_index_files(&cc, &e);
	if (rc == E2_OK)
		rc = c->dry_run ? vdir_stat_scan_readonly(cc.dir, &cc.files,
							  &cc.n_files, &e)
				: vdir_stat_scan(cc.dir, &cc.files, &cc.n_files,
						 &e);
	if (rc == E2_OK)
		dav_sync_drop_tmp(&cc);
	if (rc != E2_OK)
		goto fail;
	local_changed = dav_sync_local_changed(&cc);
	rc = dav_sync_fetch_view(&cc, &e);
	if (rc != E2_OK)
		goto fail;
	if (cc.unchanged && cc.ctag != NULL && !c->dry_run &&
	    strcmp(cc.ctag, cc.row.ctag) != 0) {
		/* the token is the stored one: the getctag read with it
		 * names the same state, and is what the next run asks */
		rc = dav_sync_keep(&cc, false, &e);
		if (rc != E2_OK)
			goto fail;
	}
	if (cc.unchanged && !local_changed) {
		c->stats->collections++;
		c->stats->unchanged++;
		goto out;
	}
	rc = dav_sync_fetch_bodies(&cc, &e);
	if (rc == E2_OK && !dav_sync_stopped(c))
		rc = dav_sync_plan_run(&cc, &e);
	if (rc != E2_OK)
		goto fail;
	if (dav_sync_stopped(c))
		cc.incomplete = true;
	if (!cc.incomplete && !cc.unchanged && !c->dry_run) {
		/* every step done: the server's state is ours */
		rc = dav_sync_keep(&cc, true, &e);
		if (rc != E2_OK)
			goto fail;
	}
	c->stats->collections++;
	goto out;
fail:
	if (dav_sync_fatal(rc) && rc != E2_ESTORE) {
		*err = e;
		goto out;
	}
	if (rc == E2_ESTORE && strstr(e.msg, "accounts.db") != NULL &&
	    strstr(e.msg, "damaged") == NULL) {
		*err = e; /* the store itself */
		goto out;
	}
	/* this collection only: counted, the others go on */
	c->stats->skipped++;
	dav_sync_note(c, e.msg);
	rc = E2_OK;
out:
	dav_sync_coll_free(&cc);
	return rc;
}

/* A calendar is synced when its components name what content asks. */
static bool
dav_sync_wanted(const struct dav_sync_ctx *c, const struct dav_collection *dc)
{
	unsigned want = c->content & E2_SYNC_CALENDARS;

	if (c->kind != DAV_KIND_CAL || dc->components == 0 || want == 0)
		return true;
	return ((want & E2_SYNC_APPOINTMENTS) &&
		(dc->components & DAV_COMP_VEVENT)) ||
	       ((want & E2_SYNC_TASKS) && (dc->components & DAV_COMP_VTODO));
}

enum e2_status
dav_sync_run(struct dav_sync_ctx *c, const struct dav_discovery *d,
	     struct e2_err *err)
{
	struct dav_state_coll *v = NULL;
	size_t n = 0;
	enum e2_status rc;

	rc = dav_state_colls_load(c->st, c->guid, c->kind, &v, &n, err);
	if (rc != E2_OK)
		return rc;
	for (size_t i = 0; i < d->n_colls; i++) {
		if (dav_sync_stopped(c))
			break;
		if (!dav_sync_wanted(c, &d->colls[i]))
			continue;
		rc = dav_sync_one_coll(c, &d->colls[i], v, n, err);
		if (rc != E2_OK)
			goto out;
	}
	/* collections the server no longer lists: kept, reported */
	for (size_t i = 0; i < n; i++) {
		bool listed = false;
		char msg[256];
		char q[160];

		for (size_t j = 0; j < d->n_colls && !listed; j++)
			listed = strcmp(v[i].href, d->colls[j].href) == 0;
		if (listed)
			continue;
		c->stats->skipped++;
		(void)snprintf(
			msg, sizeof(msg),
			"collection %s is no longer on the server: its "
			"folder %s and state are kept",
			e2_quote(q, sizeof(q), v[i].href, strlen(v[i].href)),
			v[i].dir);
		dav_sync_note(c, msg);
	}
out:
	dav_state_colls_free(&v, n);
	return rc;
}
