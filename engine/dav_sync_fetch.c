/* SPDX-License-Identifier: MIT */
/* dav_sync_fetch.c -- the server's view of a collection, and item bodies */
#include "config.h"

#include "dav_sync_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "transports/http.h"

bool
dav_sync_fatal(enum e2_status rc)
{
	/* a status the server gave (E2_EPROTO) or a bad argument concerns
	 * one request; the rest means the session or the store is gone */
	return rc != E2_OK && rc != E2_EPROTO && rc != E2_EINVAL;
}

void
dav_sync_srv_clear(struct dav_sync_srv *s)
{
	free(s->url);
	free(s->etag_own);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

void
dav_sync_view_free(struct dav_sync_coll *cc)
{
	for (size_t i = 0; i < cc->n_srv; i++)
		dav_sync_srv_clear(&cc->srv[i]);
	free(cc->srv);
	cc->srv = NULL;
	cc->n_srv = 0;
	for (size_t i = 0; i < cc->n_pages; i++)
		dav_changes_free(&cc->pages[i]);
	free(cc->pages);
	cc->pages = NULL;
	cc->n_pages = 0;
	free(cc->new_token);
	cc->new_token = NULL;
}

static int
dav_sync_row_cmp(const void *key, const void *elem)
{
	const struct dav_state_item *r = elem;

	return strcmp(key, r->href);
}

struct dav_state_item *
dav_sync_row(const struct dav_sync_coll *cc, const char *href)
{
	if (cc->n_rows == 0)
		return NULL;
	return bsearch(href, cc->rows, cc->n_rows, sizeof(*cc->rows),
		       dav_sync_row_cmp);
}

static int
dav_sync_srv_order_cmp(const void *a, const void *b)
{
	const struct dav_sync_srv *x = a;
	const struct dav_sync_srv *y = b;
	int c = strcmp(x->href, y->href);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static enum e2_status
dav_sync_pages_keep(struct dav_sync_coll *cc, struct dav_changes *p,
		    struct e2_err *err)
{
	struct dav_changes **nv =
		realloc(cc->pages, (cc->n_pages + 1) * sizeof(*nv));

	if (nv == NULL) {
		dav_changes_free(&p);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	cc->pages = nv;
	cc->pages[cc->n_pages++] = p;
	if (p->n_foreign > 0) {
		char why[96];

		/* never an item here: reported once, the token may move */
		(void)snprintf(why, sizeof(why),
			       "not in this collection: ignored (%zu such "
			       "%s)",
			       p->n_foreign,
			       p->n_foreign == 1 ? "response" : "responses");
		dav_sync_skip_local(cc, p->foreign, why);
	}
	return E2_OK;
}

/*
 * One page of sync-collection from tok, the items' data with it (one
 * request instead of a listing and a multiget per batch). An answer with
 * the data that cannot be used (over the body cap: large photos; or not
 * parsed) is asked again with the etags only, and the bodies then come by
 * multiget in bounded batches.
 */
static enum e2_status
dav_sync_fetch_page(struct dav_sync_coll *cc, const char *tok,
		    struct dav_changes **p, struct e2_err *err)
{
	enum dav_sync_props props = cc->c->kind == DAV_KIND_CAL
					    ? DAV_SYNC_CAL_DATA
					    : DAV_SYNC_CARD_DATA;
	enum e2_status rc;

	rc = dav_sync_collection(cc->c->s, cc->dc->url, tok,
				 cc->etags_only ? DAV_SYNC_ETAG : props, p,
				 err);
	if (rc == E2_EPROTO && !cc->etags_only &&
	    dav_last_status(cc->c->s) == 207) {
		cc->etags_only = true;
		memset(err, 0, sizeof(*err));
		rc = dav_sync_collection(cc->c->s, cc->dc->url, tok,
					 DAV_SYNC_ETAG, p, err);
	}
	return rc;
}

/* sync-collection from token, every page; E2_OK with the pages kept. */
static enum e2_status
dav_sync_fetch_report(struct dav_sync_coll *cc, const char *token,
		      struct e2_err *err)
{
	char *tok = strdup(token == NULL ? "" : token);
	enum e2_status rc = E2_OK;

	if (tok == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (unsigned page = 0;; page++) {
		struct dav_changes *p = NULL;
		bool more;

		rc = dav_sync_fetch_page(cc, tok, &p, err);
		if (rc != E2_OK)
			break;
		more = p->truncated && p->token != NULL &&
		       strcmp(p->token, tok) != 0;
		free(tok);
		tok = strdup(p->token == NULL ? "" : p->token);
		rc = dav_sync_pages_keep(cc, p, err);
		if (rc != E2_OK)
			break;
		if (tok == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			break;
		}
		if (!more)
			break;
		if (page > 10000) {
			rc = e2_fail(err, E2_EPROTO,
				     "sync-collection %s: endless paging",
				     cc->dc->url);
			break;
		}
	}
	if (rc == E2_OK) {
		cc->new_token = tok;
		tok = NULL;
	}
	free(tok);
	return rc;
}

static enum e2_status dav_sync_take_body(struct dav_sync_srv *s,
					 struct dav_item *it,
					 struct e2_err *err);

/* cc->srv from the pages: one entry per href, the last answer wins. */
static enum e2_status
dav_sync_fetch_index(struct dav_sync_coll *cc, struct e2_err *err)
{
	size_t n = 0;
	size_t k = 0;
	size_t out = 0;
	struct dav_sync_srv *v;

	for (size_t i = 0; i < cc->n_pages; i++)
		n += cc->pages[i]->n_changed + cc->pages[i]->n_deleted;
	if (n == 0)
		return E2_OK;
	v = calloc(n, sizeof(*v));
	if (v == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < cc->n_pages; i++) {
		const struct dav_changes *p = cc->pages[i];

		for (size_t j = 0; j < p->n_changed; j++, k++) {
			v[k].item = &p->changed[j];
			v[k].href = p->changed[j].href;
			v[k].etag = p->changed[j].etag;
			v[k].order = k;
		}
		for (size_t j = 0; j < p->n_deleted; j++, k++) {
			v[k].href = p->deleted[j];
			v[k].deleted = true;
			v[k].order = k;
		}
	}
	qsort(v, n, sizeof(*v), dav_sync_srv_order_cmp);
	for (size_t i = 0; i < n; i++) {
		/* the collection itself is no item */
		if (strcmp(v[i].href, cc->dc->href) == 0)
			continue;
		if (i + 1 < n && strcmp(v[i].href, v[i + 1].href) == 0)
			continue; /* a later page says more */
		v[out++] = v[i];
	}
	cc->srv = v;
	cc->n_srv = out;
	for (size_t i = 0; i < out; i++) {
		enum e2_status rc = E2_OK;

		/* a listed item's URL was resolved with it; a deletion's
		 * href is resolved here */
		if (v[i].item != NULL && v[i].item->url != NULL) {
			v[i].url = strdup(v[i].item->url);
			if (v[i].url == NULL)
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
		} else {
			rc = http_url_resolve(cc->dc->url, v[i].href, &v[i].url,
					      err);
		}

		/* the listing carried the body: no multiget for it */
		if (rc == E2_OK && v[i].item != NULL && v[i].item->data != NULL)
			rc = dav_sync_take_body(&v[i], v[i].item, err);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

enum e2_status
dav_sync_fetch_view(struct dav_sync_coll *cc, struct e2_err *err)
{
	const struct dav_collection *dc = cc->dc;
	const char *stored = cc->row.sync_token;
	enum e2_status rc;

	cc->full = false;
	cc->unchanged = false;
	if (dc->reports & DAV_REPORT_SYNC_COLLECTION) {
		/* with a stored token, the collection's own markers first
		 * (PROPFIND Depth 0): the stored getctag when there is one
		 * (cheaper to compute for some servers), else the token and
		 * the getctag to store for the next run */
		if (stored[0] != '\0') {
			bool by_ctag = cc->row.ctag[0] != '\0';
			char *now = NULL;

			free(cc->ctag);
			cc->ctag = NULL;
			rc = dav_collection_tags(
				cc->c->s, dc->url,
				by_ctag ? DAV_TAG_CTAG
					: DAV_TAG_SYNC | DAV_TAG_CTAG,
				by_ctag ? NULL : &now, &cc->ctag, err);
			if (rc != E2_OK)
				return rc;
			if (by_ctag)
				cc->unchanged =
					cc->ctag != NULL &&
					strcmp(cc->ctag, cc->row.ctag) == 0;
			else
				cc->unchanged =
					now != NULL && strcmp(now, stored) == 0;
			free(now);
			if (cc->unchanged)
				return E2_OK;
		}
		rc = dav_sync_fetch_report(cc, stored, err);
		if (rc != E2_OK && stored[0] != '\0' &&
		    dav_last_status(cc->c->s) >= 400) {
			/* any error status with a stored token: once from
			 * empty (Radicale: 403 valid-sync-token; others 409,
			 * 412, 400, even 500). Not after a timeout, a cut, a
			 * body over the cap or bad XML: those are no verdict
			 * on the token, and from empty costs the whole
			 * collection again. */
			dav_sync_view_free(cc);
			err->msg[0] = '\0';
			err->code = E2_OK;
			stored = "";
			rc = dav_sync_fetch_report(cc, "", err);
		}
		if (rc != E2_OK)
			return rc;
		cc->full = stored[0] == '\0';
	} else {
		struct dav_changes *p = NULL;

		/* no sync-collection: the getctag says whether anything
		 * changed, and is stored after the listing */
		free(cc->ctag);
		cc->ctag = NULL;
		rc = dav_collection_tags(cc->c->s, dc->url, DAV_TAG_CTAG, NULL,
					 &cc->ctag, err);
		if (rc != E2_OK)
			return rc;
		if (cc->row.ctag[0] != '\0' && cc->ctag != NULL &&
		    strcmp(cc->ctag, cc->row.ctag) == 0) {
			cc->unchanged = true;
			return E2_OK;
		}
		rc = dav_list_etags(cc->c->s, dc->url, &p, err);
		if (rc != E2_OK)
			return rc;
		rc = dav_sync_pages_keep(cc, p, err);
		if (rc != E2_OK)
			return rc;
		cc->full = true;
	}
	return dav_sync_fetch_index(cc, err);
}

enum e2_status
dav_sync_sha_lf(const char *data, size_t len,
		unsigned char out[DAV_REC_SHA256_LEN], struct e2_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	size_t start = 0;
	bool ok =
		ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	for (size_t i = 0; ok && i + 1 < len; i++) {
		if (data[i] != '\r' || data[i + 1] != '\n')
			continue;
		ok = EVP_DigestUpdate(ctx, data + start, i - start) == 1;
		start = i + 1; /* the LF */
	}
	ok = ok && EVP_DigestUpdate(ctx, data + start, len - start) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == DAV_REC_SHA256_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? E2_OK : e2_fail(err, E2_ENOMEM, "sha-256 failed");
}

void
dav_sync_equal_lf(const struct dav_sync_it *it, struct dav_rec_item *ri)
{
	if (it->srv == NULL || !it->srv->body || !ri->server.body_known)
		return;
	/* the row's body (D23), then the file's (D3, D12) */
	if (it->row != NULL && it->row->has_lf &&
	    memcmp(it->srv->sha_lf, it->row->sha_lf, DAV_REC_SHA256_LEN) == 0)
		memcpy(ri->server.sha256, ri->row.id.sha256,
		       DAV_REC_SHA256_LEN);
	if (it->local_lf_known &&
	    memcmp(it->srv->sha_lf, it->local_lf, DAV_REC_SHA256_LEN) == 0)
		memcpy(ri->server.sha256, ri->local.id.sha256,
		       DAV_REC_SHA256_LEN);
}

static enum e2_status
dav_sync_take_body(struct dav_sync_srv *s, struct dav_item *it,
		   struct e2_err *err)
{
	unsigned int n = 0;
	enum e2_status rc;

	if (EVP_Digest(it->data, it->data_len, s->sha256, &n, EVP_sha256(),
		       NULL) != 1 ||
	    n != DAV_REC_SHA256_LEN)
		return e2_fail(err, E2_ENOMEM, "sha-256 failed");
	rc = dav_sync_sha_lf(it->data, it->data_len, s->sha_lf, err);
	if (rc != E2_OK)
		return rc;
	free(s->data);
	s->data = it->data;
	s->len = it->data_len;
	it->data = NULL;
	if (it->etag != NULL) {
		free(s->etag_own);
		s->etag_own = it->etag;
		it->etag = NULL;
		s->etag = s->etag_own;
	}
	s->body = true;
	s->unavailable = false;
	return E2_OK;
}

enum e2_status
dav_sync_fetch_one(struct dav_sync_coll *cc, struct dav_sync_srv *srv,
		   bool *gone_out, struct e2_err *err)
{
	struct dav_item *it = NULL;
	struct e2_err e = {0};
	enum e2_status rc;

	*gone_out = false;
	rc = dav_get(cc->c->s, srv->url, &it, &e);
	if (rc == E2_EPROTO && (dav_last_status(cc->c->s) == 404 ||
				dav_last_status(cc->c->s) == 410)) {
		*gone_out = true;
		return E2_OK;
	}
	if (rc != E2_OK) {
		*err = e;
		return rc;
	}
	if (it->data == NULL) {
		dav_item_free(&it);
		return e2_fail(err, E2_EPROTO, "GET %s: no body", srv->url);
	}
	rc = dav_sync_take_body(srv, it, err);
	dav_item_free(&it);
	return rc;
}

static int
dav_sync_srv_key(const void *key, const void *elem)
{
	const struct dav_sync_srv *s = elem;

	return strcmp(key, s->href);
}

/* The listing entry of a multiget answer: by href (sorted), else by URL
 * (a server that spells the href another way). */
static struct dav_sync_srv *
dav_sync_srv_find(struct dav_sync_coll *cc, const struct dav_item *it)
{
	struct dav_sync_srv *s = bsearch(it->href, cc->srv, cc->n_srv,
					 sizeof(*cc->srv), dav_sync_srv_key);

	if (s != NULL || it->url == NULL)
		return s;
	for (size_t i = 0; i < cc->n_srv; i++)
		if (cc->srv[i].url != NULL &&
		    strcmp(cc->srv[i].url, it->url) == 0)
			return &cc->srv[i];
	return NULL;
}

/* True when srv's body is needed: listed, and no row with its etag. */
static bool
dav_sync_needs_body(const struct dav_sync_coll *cc,
		    const struct dav_sync_srv *srv)
{
	const struct dav_state_item *row;

	if (srv->deleted || srv->body)
		return false;
	row = dav_sync_row(cc, srv->href);
	return row == NULL || srv->etag == NULL || row->etag[0] == '\0' ||
	       strcmp(row->etag, srv->etag) != 0;
}

enum e2_status
dav_sync_fetch_bodies(struct dav_sync_coll *cc, struct e2_err *err)
{
	const char **hrefs = NULL;
	struct dav_multiget *m = NULL;
	size_t n = 0;
	enum e2_status rc = E2_OK;
	bool multiget = (cc->dc->reports & (DAV_REPORT_ADDRESSBOOK_MULTIGET |
					    DAV_REPORT_CALENDAR_MULTIGET)) != 0;

	if (cc->n_srv == 0)
		return E2_OK;
	hrefs = calloc(cc->n_srv, sizeof(*hrefs));
	if (hrefs == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < cc->n_srv; i++)
		if (dav_sync_needs_body(cc, &cc->srv[i]))
			hrefs[n++] = cc->srv[i].href;
	if (n > 0 && multiget) {
		struct e2_err e = {0};

		rc = dav_multiget(cc->c->s,
				  cc->c->kind == DAV_KIND_CAL ? DAV_KIND_CAL
							      : DAV_KIND_CARD,
				  cc->dc->url, hrefs, n, &m, &e);
		if (rc != E2_OK && dav_sync_fatal(rc)) {
			*err = e;
			goto out;
		}
		rc = E2_OK; /* a refused multiget: one GET each below */
		for (size_t i = 0; m != NULL && i < m->n_items; i++) {
			struct dav_sync_srv *s =
				dav_sync_srv_find(cc, &m->items[i]);

			if (s == NULL || m->items[i].data == NULL)
				continue;
			rc = dav_sync_take_body(s, &m->items[i], err);
			if (rc != E2_OK)
				goto out;
		}
	}
	/* the hrefs multiget left out (or all, without multiget) */
	for (size_t i = 0; i < cc->n_srv; i++) {
		struct dav_sync_srv *s = &cc->srv[i];
		struct e2_err e = {0};
		bool gone = false;

		if (!dav_sync_needs_body(cc, s))
			continue;
		if (cc->c->stop != NULL && *cc->c->stop != 0)
			break;
		rc = dav_sync_fetch_one(cc, s, &gone, &e);
		if (rc != E2_OK && dav_sync_fatal(rc)) {
			*err = e;
			goto out;
		}
		rc = E2_OK;
		/* a 404 here is not taken for a delete: the listing just
		 * named the item, and some servers list what they cannot
		 * serve; skipped and counted, the next listing decides */
		(void)gone;
		if (!s->body) {
			s->unavailable = true;
			cc->incomplete = true;
		}
	}
out:
	dav_multiget_free(&m);
	free(hrefs);
	return rc;
}
