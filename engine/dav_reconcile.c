/* SPDX-License-Identifier: MIT */
/* dav_reconcile.c -- the rules of dav_reconcile.h */
#include "config.h"

#include "dav_reconcile.h"

#include <stdlib.h>
#include <string.h>

bool
dav_rec_etag_strong(const char *etag)
{
	if (etag == NULL || etag[0] == '\0')
		return false;
	return !(etag[0] == 'W' && etag[1] == '/');
}

static struct dav_rec_action
act(enum dav_rec_kind kind, unsigned rule)
{
	struct dav_rec_action a;

	memset(&a, 0, sizeof(a));
	a.kind = kind;
	a.rule = rule;
	return a;
}

static bool
same_sha(const unsigned char *a, const unsigned char *b)
{
	return memcmp(a, b, DAV_REC_SHA256_LEN) == 0;
}

/* D8, D9 with D18: a write with If-Match needs a strong etag. */
static struct dav_rec_action
conditional(enum dav_rec_kind kind, unsigned rule, const char *etag)
{
	struct dav_rec_action a;

	if (!dav_rec_etag_strong(etag))
		return act(DAV_REC_REFETCH, 18);
	a = act(kind, rule);
	a.if_match = etag;
	return a;
}

static struct dav_rec_action
decide_new(const struct dav_rec_item *it)
{
	bool srv = it->server.view == DAV_SERVER_NEW ||
		   it->server.view == DAV_SERVER_CHANGED ||
		   it->server.view == DAV_SERVER_SAME;
	bool loc = it->local.view != DAV_LOCAL_GONE;

	if (srv && !loc)
		return act(DAV_REC_DOWNLOAD, 1);
	if (!srv && loc)
		return act(DAV_REC_UPLOAD_CREATE, 2);
	if (!srv)
		return act(DAV_REC_NOTHING, 5);
	if (it->server.body_known &&
	    same_sha(it->server.sha256, it->local.id.sha256))
		return act(DAV_REC_RECORD, 3);
	return act(DAV_REC_CONFLICT, 4);
}

struct dav_rec_action
dav_rec_item_decide(const struct dav_rec_item *it)
{
	const struct dav_rec_row *r = &it->row;
	enum dav_rec_server_view sv = it->server.view;
	enum dav_rec_local_view lv = it->local.view;
	bool touched = false;
	struct dav_rec_action a;

	if (!r->present)
		return decide_new(it);
	/* D17 */
	if (sv == DAV_SERVER_NEW)
		sv = DAV_SERVER_CHANGED;
	if (lv == DAV_LOCAL_NEW)
		lv = DAV_LOCAL_CHANGED;
	/* D7: a new identity with the row's content is the same content */
	if (lv == DAV_LOCAL_CHANGED &&
	    same_sha(it->local.id.sha256, r->id.sha256)) {
		lv = DAV_LOCAL_SAME;
		touched = true;
	}
	/* D23: a new etag over the row's body (a server re-serialised it) */
	if (sv == DAV_SERVER_CHANGED && it->server.body_known &&
	    same_sha(it->server.sha256, r->id.sha256)) {
		if (lv == DAV_LOCAL_SAME)
			return act(DAV_REC_RECORD, 23);
		if (lv == DAV_LOCAL_CHANGED)
			return conditional(DAV_REC_UPLOAD_UPDATE, 23,
					   it->server.etag);
		return conditional(DAV_REC_DELETE_REMOTE, 23, it->server.etag);
	}
	switch (sv) {
	case DAV_SERVER_SAME:
	case DAV_SERVER_UNKNOWN:
		if (lv == DAV_LOCAL_SAME)
			return act(touched ? DAV_REC_RECORD : DAV_REC_NOTHING,
				   touched ? 7 : 6);
		if (lv == DAV_LOCAL_CHANGED)
			return conditional(DAV_REC_UPLOAD_UPDATE, 8, r->etag);
		return conditional(DAV_REC_DELETE_REMOTE, 9, r->etag);
	case DAV_SERVER_CHANGED:
	case DAV_SERVER_NEW:
		if (lv == DAV_LOCAL_GONE)
			return act(DAV_REC_DOWNLOAD, 11);
		if (lv == DAV_LOCAL_SAME) {
			a = act(DAV_REC_DOWNLOAD, 10);
			a.replace = true;
			/* the file as it is now (D7 may have moved it) */
			a.expect = touched ? it->local.id : r->id;
			return a;
		}
		if (it->server.body_known &&
		    same_sha(it->server.sha256, it->local.id.sha256))
			return act(DAV_REC_RECORD, 12);
		a = act(DAV_REC_CONFLICT, 13);
		a.replace = true;
		a.expect = it->local.id;
		return a;
	case DAV_SERVER_GONE:
	default:
		break;
	}
	if (lv == DAV_LOCAL_GONE)
		return act(DAV_REC_FORGET, 16);
	if (lv == DAV_LOCAL_CHANGED)
		return act(DAV_REC_UPLOAD_CREATE, 15);
	a = act(DAV_REC_DELETE_LOCAL, 14);
	a.expect = touched ? it->local.id : r->id;
	return a;
}

enum dav_rec_kind
dav_rec_followup(enum dav_rec_kind kind, int http_status)
{
	bool ok = http_status >= 200 && http_status < 300;

	switch (kind) {
	case DAV_REC_UPLOAD_CREATE:
	case DAV_REC_UPLOAD_UPDATE:
		if (http_status == 412 || http_status == 409)
			return DAV_REC_REFETCH;               /* D19 */
		return ok ? DAV_REC_RECORD : DAV_REC_NOTHING; /* D20, D22 */
	case DAV_REC_DELETE_REMOTE:
		if (http_status == 412 || http_status == 409)
			return DAV_REC_REFETCH; /* D19 */
		if (ok || http_status == 404 || http_status == 410)
			return DAV_REC_FORGET; /* D21 */
		return DAV_REC_NOTHING;
	case DAV_REC_DOWNLOAD:
	case DAV_REC_CONFLICT:
	case DAV_REC_REFETCH:
		if (http_status == 404 || http_status == 410)
			return DAV_REC_REFETCH; /* gone meanwhile: decide again
						 */
		return ok ? DAV_REC_RECORD : DAV_REC_NOTHING; /* D22 */
	default:
		return DAV_REC_NOTHING;
	}
}

enum dav_rec_safety
dav_rec_safety_check(const struct dav_rec_counts *c, bool force)
{
	if (force || c->rows == 0)
		return DAV_SAFE_OK; /* S3 */
	if (c->local == 0 && c->server > 0)
		return DAV_SAFE_REFUSE_LOCAL_EMPTY; /* S1 */
	if (c->server == 0 && c->local > 0)
		return DAV_SAFE_REFUSE_SERVER_EMPTY; /* S2 */
	return DAV_SAFE_OK;
}

static int
order_rank(enum dav_rec_kind k)
{
	switch (k) {
	case DAV_REC_CONFLICT:
		return 0;
	case DAV_REC_DOWNLOAD:
		return 1;
	case DAV_REC_UPLOAD_CREATE:
		return 2;
	case DAV_REC_UPLOAD_UPDATE:
		return 3;
	case DAV_REC_REFETCH:
		return 4;
	case DAV_REC_RECORD:
		return 5;
	case DAV_REC_FORGET:
		return 6;
	case DAV_REC_DELETE_LOCAL:
		return 7;
	case DAV_REC_DELETE_REMOTE:
		return 8;
	case DAV_REC_NOTHING:
	default:
		return 9;
	}
}

/* A counting sort by rank: stable and O(n); without memory for the copy, a
 * stable insertion sort in place (no failure to report). */
void
dav_rec_order(struct dav_rec_action *v, size_t n)
{
	size_t count[10] = {0}, start[10], i;
	struct dav_rec_action *tmp;

	if (n < 2)
		return;
	tmp = malloc(n * sizeof(*tmp));
	if (tmp == NULL) {
		/* no memory: a stable insertion sort in place */
		for (i = 1; i < n; i++) {
			struct dav_rec_action x = v[i];
			size_t j = i;

			while (j > 0 &&
			       order_rank(v[j - 1].kind) > order_rank(x.kind)) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		return;
	}
	for (i = 0; i < n; i++)
		count[order_rank(v[i].kind)]++;
	start[0] = 0;
	for (i = 1; i < 10; i++)
		start[i] = start[i - 1] + count[i - 1];
	for (i = 0; i < n; i++)
		tmp[start[order_rank(v[i].kind)]++] = v[i];
	memcpy(v, tmp, n * sizeof(*tmp));
	free(tmp);
}

enum e2_status
dav_rec_collection(const struct dav_rec_item *items, size_t n, bool force,
		   struct dav_rec_plan *plan_out, struct e2_err *err)
{
	struct dav_rec_counts c = {0, 0, 0};
	struct dav_rec_plan plan = {NULL, 0, DAV_SAFE_OK};
	size_t i;

	for (i = 0; i < n; i++) {
		const struct dav_rec_item *it = &items[i];

		if (it->row.present)
			c.rows++;
		if (it->local.view != DAV_LOCAL_GONE)
			c.local++;
		if (it->server.view == DAV_SERVER_GONE)
			continue;
		if (it->server.view != DAV_SERVER_UNKNOWN || it->row.present)
			c.server++;
	}
	plan.safety = dav_rec_safety_check(&c, force);
	if (plan.safety != DAV_SAFE_OK || n == 0)
		goto out;
	plan.v = calloc(n, sizeof(*plan.v));
	if (plan.v == NULL)
		return e2_fail(err, E2_ENOMEM, "dav reconcile: out of memory");
	for (i = 0; i < n; i++) {
		struct dav_rec_action a = dav_rec_item_decide(&items[i]);

		if (a.kind == DAV_REC_NOTHING)
			continue;
		a.item = i;
		plan.v[plan.n++] = a;
	}
	dav_rec_order(plan.v, plan.n);
out:
	*plan_out = plan;
	return E2_OK;
}

void
dav_rec_plan_free(struct dav_rec_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->v);
	plan->v = NULL;
	plan->n = 0;
}
