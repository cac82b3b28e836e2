/* SPDX-License-Identifier: MIT */
/*
 * dav_sync_steps.c -- the steps of a collection's plan (dav_reconcile.h):
 * downloads, conflict copies, uploads, deletes, refetches, and the state
 * row each writes after it succeeded
 */
#include "config.h"

#include "dav_sync_int.h"

#include <stdlib.h>
#include <string.h>

#include "transports/http.h"

static enum e2_status
dav_sync_put_row(struct dav_sync_coll *cc, const char *href, const char *etag,
		 const char *file, const struct dav_rec_identity *id,
		 const unsigned char *sha_lf, struct e2_err *err)
{
	return dav_state_item_put(cc->c->st, cc->c->guid, cc->c->kind,
				  cc->row.href, href, etag, file, id, sha_lf,
				  err);
}

static enum e2_status
dav_sync_forget(struct dav_sync_coll *cc, const char *href, struct e2_err *err)
{
	return dav_state_item_forget(cc->c->st, cc->c->guid, cc->c->kind,
				     cc->row.href, href, err);
}

static const char *
dav_sync_content_type(const struct dav_sync_coll *cc)
{
	return cc->c->kind == DAV_KIND_CAL ? "text/calendar; charset=utf-8"
					   : "text/vcard; charset=utf-8";
}

/* DOWNLOAD (and the second half of CONFLICT). */
static enum e2_status
dav_sync_download(struct dav_sync_run *r, size_t i,
		  const struct dav_rec_action *a, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	struct vdir_item_info expect = dav_sync_info(it->name, &a->expect);
	struct vdir_item_info now;
	struct e2_err e = {0};
	enum e2_status rc;

	if (it->srv == NULL || !it->srv->body) {
		dav_sync_skip(cc, it->name, "no body to download");
		return E2_OK;
	}
	/* the folder is flushed, and the row committed, at the batch's end
	 * (dav_sync_plan_run()) */
	if (r->folder != NULL)
		rc = vdir_folder_write(r->folder, it->name, it->srv->data,
				       it->srv->len,
				       a->replace ? &expect : NULL, &now, &e);
	else
		rc = vdir_item_write(cc->dir, it->name, it->srv->data,
				     it->srv->len, a->replace ? &expect : NULL,
				     &now, &e);
	if (rc == E2_EBUSY || rc == E2_EINVAL) {
		/* the user edited or created it meanwhile: next run */
		dav_sync_skip(cc, it->name, e.msg);
		return E2_OK;
	}
	if (rc != E2_OK) {
		*err = e;
		return rc;
	}
	{
		struct dav_rec_identity id = dav_sync_identity(&now);

		rc = dav_sync_put_row(cc, it->srv->href, it->srv->etag,
				      it->name, &id, it->srv->sha_lf, err);
	}
	if (rc == E2_OK)
		cc->c->stats->downloaded++;
	return rc;
}

static enum e2_status
dav_sync_conflict(struct dav_sync_run *r, size_t i,
		  const struct dav_rec_action *a, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	const struct dav_rec_item *ri = &r->items[i];
	struct dav_rec_action down = *a;
	struct vdir_item_info now;
	char cname[VDIR_NAME_SIZE + 32];
	char *data = NULL;
	size_t len = 0;
	size_t before = cc->c->stats->downloaded;
	struct e2_err e = {0};
	enum e2_status rc;

	/* D4 (no row) says nothing of the file: it is the local view's */
	down.kind = DAV_REC_DOWNLOAD;
	down.replace = true;
	down.expect = ri->local.id;
	rc = vdir_item_read(cc->dir, it->name, &data, &len, &now, &e);
	if (rc == E2_OK &&
	    memcmp(now.sha256, ri->local.id.sha256, DAV_REC_SHA256_LEN) != 0)
		rc = e2_fail(&e, E2_EBUSY, "changed meanwhile");
	if (rc == E2_OK)
		rc = vdir_conflict_write(cc->dir, it->name, data, len, cname,
					 sizeof(cname), &e);
	free(data);
	if (rc == E2_ENOMEM || rc == E2_ESTORE) {
		*err = e;
		return rc;
	}
	if (rc != E2_OK) {
		dav_sync_skip(cc, it->name, e.msg);
		return E2_OK;
	}
	rc = dav_sync_download(r, i, &down, err);
	if (rc == E2_OK && cc->c->stats->downloaded > before)
		cc->c->stats->conflicts++;
	return rc;
}

/* GET the item again and decide again (D18, D19; once per item). */
static enum e2_status
dav_sync_refetch(struct dav_sync_run *r, size_t i, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	struct dav_rec_item *ri = &r->items[i];
	struct dav_rec_action a;
	bool gone = false;
	struct e2_err e = {0};
	enum e2_status rc;

	if (it->refetched) {
		dav_sync_skip(cc, dav_sync_it_href(it),
			      "changed again while synced: next run");
		return E2_OK;
	}
	it->refetched = true;
	dav_sync_srv_clear(&it->fetched);
	it->fetched.href = dav_sync_it_href(it);
	rc = http_url_resolve(cc->dc->url, it->fetched.href, &it->fetched.url,
			      err);
	if (rc != E2_OK)
		return rc;
	rc = dav_sync_fetch_one(cc, &it->fetched, &gone, &e);
	if (rc != E2_OK) {
		if (dav_sync_fatal(rc)) {
			*err = e;
			return rc;
		}
		dav_sync_skip(cc, it->fetched.href, e.msg);
		return E2_OK;
	}
	it->fetched.deleted = gone;
	it->srv = &it->fetched;
	memset(&ri->server, 0, sizeof(ri->server));
	if (gone) {
		ri->server.view = DAV_SERVER_GONE;
	} else {
		ri->server.view =
			it->row != NULL ? DAV_SERVER_CHANGED : DAV_SERVER_NEW;
		ri->server.etag = it->fetched.etag;
		ri->server.body_known = true;
		memcpy(ri->server.sha256, it->fetched.sha256,
		       DAV_REC_SHA256_LEN);
		dav_sync_equal_lf(it, ri);
	}
	a = dav_rec_item_decide(ri);
	a.item = i;
	if ((a.kind == DAV_REC_UPLOAD_UPDATE ||
	     a.kind == DAV_REC_DELETE_REMOTE) &&
	    !dav_rec_etag_strong(a.if_match)) {
		dav_sync_skip(cc, it->fetched.href,
			      "the server gives no strong etag");
		return E2_OK;
	}
	return dav_sync_exec(r, i, &a, err);
}

/* UPLOAD_CREATE, UPLOAD_UPDATE. */
static enum e2_status
dav_sync_upload(struct dav_sync_run *r, size_t i,
		const struct dav_rec_action *a, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	const struct dav_rec_item *ri = &r->items[i];
	const char *href = dav_sync_it_href(it);
	const char *if_match =
		a->kind == DAV_REC_UPLOAD_UPDATE ? a->if_match : NULL;
	struct dav_write w = {0};
	struct vdir_item_info now;
	struct dav_rec_identity id;
	char *url = NULL;
	char *data = NULL;
	size_t len = 0;
	struct e2_err e = {0};
	enum dav_rec_kind follow;
	enum e2_status rc;

	rc = vdir_item_read(cc->dir, it->name, &data, &len, &now, &e);
	if (rc == E2_OK) {
		id = dav_sync_identity(&now);
		if (ri->local.view != DAV_LOCAL_SAME &&
		    memcmp(&id, &ri->local.id, sizeof(id)) != 0)
			rc = e2_fail(&e, E2_EBUSY, "changed meanwhile");
	}
	if (rc == E2_ENOMEM) {
		*err = e;
		goto out;
	}
	if (rc != E2_OK) {
		rc = E2_OK;
		dav_sync_skip(cc, it->name, e.msg);
		goto out;
	}
	rc = http_url_resolve(cc->dc->url, href, &url, err);
	if (rc != E2_OK)
		goto out;
	rc = dav_put(cc->c->s, url, dav_sync_content_type(cc), data, len,
		     if_match, &w, &e);
	if (rc != E2_OK) {
		if (dav_sync_fatal(rc)) {
			*err = e;
			goto out;
		}
		rc = E2_OK;
		dav_sync_skip(cc, it->name, e.msg);
		goto out;
	}
	follow = dav_rec_followup(a->kind, (int)w.status);
	if (follow == DAV_REC_REFETCH) {
		rc = dav_sync_refetch(r, i, err);
	} else if (follow == DAV_REC_RECORD) {
		/* D20: no strong ETag: no etag stored, refetch before the
		 * next write */
		unsigned char lf[DAV_REC_SHA256_LEN];

		rc = dav_sync_sha_lf(data, len, lf, err);
		if (rc == E2_OK)
			rc = dav_sync_put_row(cc, href,
					      w.etag_strong ? w.etag : NULL,
					      it->name, &id, lf, err);
		if (rc == E2_OK)
			cc->c->stats->uploaded++;
	} else {
		dav_sync_skip(cc, it->name, "PUT refused");
	}
out:
	dav_write_clear(&w);
	free(url);
	free(data);
	return rc;
}

static enum e2_status
dav_sync_delete_remote(struct dav_sync_run *r, size_t i,
		       const struct dav_rec_action *a, struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	const char *href = dav_sync_it_href(it);
	struct dav_write w = {0};
	char *url = NULL;
	struct e2_err e = {0};
	enum dav_rec_kind follow;
	long status;
	enum e2_status rc;

	rc = http_url_resolve(cc->dc->url, href, &url, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_delete(cc->c->s, url, a->if_match, &w, &e);
	status = w.status != 0 ? w.status : dav_last_status(cc->c->s);
	if (rc != E2_OK && dav_sync_fatal(rc)) {
		*err = e;
		goto out;
	}
	rc = E2_OK;
	follow = dav_rec_followup(DAV_REC_DELETE_REMOTE, (int)status);
	if (follow == DAV_REC_FORGET) {
		rc = dav_sync_forget(cc, href, err);
		if (rc == E2_OK)
			cc->c->stats->deleted_server++;
	} else if (follow == DAV_REC_REFETCH) {
		rc = dav_sync_refetch(r, i, err);
	} else {
		dav_sync_skip(cc, href,
			      e.msg[0] != '\0' ? e.msg : "DELETE refused");
	}
out:
	dav_write_clear(&w);
	free(url);
	return rc;
}

enum e2_status
dav_sync_exec(struct dav_sync_run *r, size_t i, const struct dav_rec_action *a,
	      struct e2_err *err)
{
	struct dav_sync_coll *cc = r->cc;
	struct dav_sync_it *it = &r->its[i];
	const struct dav_rec_item *ri = &r->items[i];
	struct vdir_item_info expect;
	struct e2_err e = {0};
	enum e2_status rc;

	switch (a->kind) {
	case DAV_REC_NOTHING:
		return E2_OK;
	case DAV_REC_CONFLICT:
		return dav_sync_conflict(r, i, a, err);
	case DAV_REC_DOWNLOAD:
		return dav_sync_download(r, i, a, err);
	case DAV_REC_UPLOAD_CREATE:
	case DAV_REC_UPLOAD_UPDATE:
		return dav_sync_upload(r, i, a, err);
	case DAV_REC_REFETCH:
		return dav_sync_refetch(r, i, err);
	case DAV_REC_RECORD: {
		const char *etag = it->row != NULL ? it->row->etag : NULL;
		struct dav_rec_identity id = ri->local.view == DAV_LOCAL_SAME
						     ? ri->row.id
						     : ri->local.id;

		const unsigned char *lf = NULL;

		if (it->srv != NULL && !it->srv->deleted)
			etag = it->srv->etag;
		if (ri->local.view != DAV_LOCAL_SAME && it->local_lf_known)
			lf = it->local_lf;
		else if (ri->local.view == DAV_LOCAL_SAME && it->row != NULL &&
			 it->row->has_lf)
			lf = it->row->sha_lf;
		return dav_sync_put_row(cc, dav_sync_it_href(it), etag,
					it->name, &id, lf, err);
	}
	case DAV_REC_FORGET:
		return dav_sync_forget(cc, dav_sync_it_href(it), err);
	case DAV_REC_DELETE_LOCAL:
		expect = dav_sync_info(it->name, &a->expect);
		rc = vdir_item_delete(cc->dir, it->name, &expect, &e);
		if (rc == E2_EBUSY || rc == E2_EINVAL) {
			dav_sync_skip(cc, it->name, e.msg);
			return E2_OK;
		}
		if (rc != E2_OK) {
			*err = e;
			return rc;
		}
		rc = dav_sync_forget(cc, dav_sync_it_href(it), err);
		if (rc == E2_OK)
			cc->c->stats->deleted_local++;
		return rc;
	case DAV_REC_DELETE_REMOTE:
		return dav_sync_delete_remote(r, i, a, err);
	}
	return E2_OK;
}
