/* SPDX-License-Identifier: MIT */
/* sync_imap_fetch.c -- IMAP UID SEARCH and downloads into the Maildir */
#include "config.h"

#include "sync_imap_int.h"
#include "sync_full.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_bodystructure.h"
#include "imap_fetch_stream.h"
#include "mime.h"
#include "msgfile.h"
#include "transports/chain.h"
#include "transports/xport.h"

/* ---- new messages
 * ---------------------------------------------------------------- */

static struct mailimap_date *
dwnday_date(const struct sync_ctx *c)
{
	time_t t = c->now - (time_t)c->a->dwnday * 86400;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return NULL;
	return mailimap_date_new(tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900);
}

/* UID SEARCH UID lo:* [SINCE d | BEFORE d] [UNDELETED] -> sorted uids >= lo
 * (and <= hi when hi != 0); dateop 1 SINCE, -1 BEFORE, 0 none, plus
 * SEARCH_UNDELETED for messages not flagged \Deleted */
enum e2_status
imap_search(struct imap_run *r, uint32_t lo, uint32_t hi, int dateop,
	    struct uidv *out, struct e2_err *err)
{
	struct mailimap_search_key *key = NULL, *k;
	struct mailimap_set *set;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool undeleted = dateop >= SEARCH_UNDELETED;
	int code;

	if (undeleted)
		dateop -= SEARCH_UNDELETED;
	key = mailimap_search_key_new_multiple_empty();
	set = hi != 0 ? mailimap_set_new_interval(lo, hi)
		      : mailimap_set_new_interval(lo, 0);
	if (key == NULL || set == NULL) {
		if (set != NULL)
			mailimap_set_free(set);
		rc = imap_oom(err);
		goto out;
	}
	k = mailimap_search_key_new_uid(set);
	if (k == NULL) {
		mailimap_set_free(set);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_search_key_multiple_add(key, k) != MAILIMAP_NO_ERROR) {
		mailimap_search_key_free(k);
		rc = imap_oom(err);
		goto out;
	}
	if (dateop != 0) {
		struct mailimap_date *d = dwnday_date(r->c);

		k = NULL;
		if (d != NULL)
			k = dateop > 0 ? mailimap_search_key_new_since(d)
				       : mailimap_search_key_new_before(d);
		if (k == NULL) {
			if (d != NULL)
				mailimap_date_free(d);
			rc = imap_oom(err);
			goto out;
		}
		if (mailimap_search_key_multiple_add(key, k) !=
		    MAILIMAP_NO_ERROR) {
			mailimap_search_key_free(k);
			rc = imap_oom(err);
			goto out;
		}
	}
	if (undeleted) {
		k = mailimap_search_key_new(MAILIMAP_SEARCH_KEY_UNDELETED, NULL,
					    NULL, NULL, NULL, NULL, NULL, NULL,
					    NULL, NULL, NULL, NULL, NULL, NULL,
					    NULL, 0, NULL, NULL, NULL, NULL,
					    NULL, NULL, 0, NULL, NULL, NULL);
		if (k == NULL || mailimap_search_key_multiple_add(key, k) !=
					 MAILIMAP_NO_ERROR) {
			if (k != NULL)
				mailimap_search_key_free(k);
			rc = imap_oom(err);
			goto out;
		}
	}
	code = mailimap_uid_search(r->imap, NULL, key, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID SEARCH", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		uint32_t uid = *(uint32_t *)clist_content(it);

		/* "lo:*" matches the last message even below lo */
		if (uid < lo || (hi != 0 && uid > hi))
			continue;
		rc = uidv_add(out, uid, err);
		if (rc != E2_OK)
			goto out;
	}
	uidv_sort_unique(out); /* FETCH sets are sorted, each UID once */
out:
	if (res != NULL)
		mailimap_search_result_free(res);
	if (key != NULL)
		mailimap_search_key_free(key);
	return rc;
}

struct sized {
	uint32_t uid;
	uint32_t size;
	struct mime_part *plan; /* KEEPMAX: parts to leave, NULL: none */
};

static void
sized_clear(struct sized *sz, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mime_part_free(&sz[i].plan);
}

static enum e2_status
imap_sizes(struct imap_run *r, const uint32_t *uids, size_t n,
	   struct sized *out, struct e2_err *err)
{
	struct mailimap_set *set = imap_set_of(uids, n);
	struct mailimap_fetch_type *ft;
	struct imap_fetch_asked q = {.uids = uids, .n = n};
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_rfc822_size()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	if (r->c->a->keepmax > 0 &&
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_bodystructure()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].uid = uids[i];
		out[i].size = 0;
		out[i].plan = NULL;
	}
	q.answered = calloc(n + 1, sizeof(*q.answered));
	if (q.answered == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (RFC822.SIZE)", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		struct sized *hit;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (!imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* not asked for, or answered already */
		hit = &out[slot];
		hit->size = m.size;
		if (m.bodystructure != NULL) {
			rc = imap_bodystructure_keepmax_plan(
				m.bodystructure,
				(unsigned long long)r->c->a->keepmax * 1024,
				&hit->plan, err);
			if (rc != E2_OK)
				goto out;
		}
	}
out:
	free(q.answered);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

struct fetched_row {
	uint32_t uid;
	char uniq[256];
	char flags[MAILDIR_FLAGS_MAX];
	bool partial;
	bool omitted;
	int64_t internal_date;
	unsigned long long bytes;
};

/* Stores one fetched message into the batch. */
static enum e2_status
folder_put(struct folder_run *f, struct maildir_batch *b,
	   const struct imap_msg *m, bool partial, struct fetched_row *row,
	   struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct maildir_msg *msg = NULL;
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;
	struct mime_trunc_info ti = {0};

	rc = folder_tag(f, m->uid, tag, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_msg_begin(b, f->path,
			       m->flags[0] != '\0' ? m->flags : NULL, tag, &msg,
			       err);
	if (rc != E2_OK)
		return rc;
	if (partial) {
		struct mime_origin o = {c->a->guid, f->name, m->uid};

		rc = mime_truncate(m->body, m->body_len, (size_t)c->a->retrieve,
				   m->size, &o, maildir_msg_sink, msg, &ti,
				   err);
	} else {
		rc = maildir_msg_write(msg, m->body, m->body_len, err);
	}
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK)
		return rc;
	row->uid = m->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(m->flags, row->flags);
	row->partial = partial && ti.truncated;
	row->internal_date = m->internal_date;
	row->bytes = m->body_len;
	return E2_OK;
}

/* One UID FETCH of bodies into the batch. */
static enum e2_status
folder_fetch_bodies(struct folder_run *f, struct maildir_batch *b,
		    const uint32_t *uids, size_t n, bool partial,
		    struct fetched_row *rows, size_t *nrows, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_fetch_att *body;
	struct mailimap_section *sec;
	struct imap_fetch_asked q = {.uids = uids, .n = n};
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	if (n == 0)
		return E2_OK;
	set = imap_set_of(uids, n);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	q.answered = calloc(n, sizeof(*q.answered));
	sec = mailimap_section_new(NULL);
	body = NULL;
	if (sec != NULL)
		body = partial ? mailimap_fetch_att_new_body_peek_section_partial(
					 sec, 0, (uint32_t)r->c->a->retrieve)
			       : mailimap_fetch_att_new_body_peek_section(sec);
	if (body == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || body == NULL || q.answered == NULL) {
		if (body != NULL)
			mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_flags()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_rfc822_size()) !=
		    MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_internaldate()) !=
		    MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, body) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (BODY.PEEK[])", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		/* a flag change, another UID, or this one again: not ours */
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue;
		rc = folder_put(f, b, &m, partial, &rows[*nrows], err);
		if (rc != E2_OK)
			goto out;
		(*nrows)++;
	}
out:
	free(q.answered);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/* Commits a batch, then its rows (the durability rule), then the stats. */
static enum e2_status
folder_commit(struct folder_run *f, struct maildir_batch **b,
	      struct fetched_row *rows, size_t nrows, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	enum e2_status rc;

	if (*b == NULL)
		return E2_OK;
	rc = maildir_batch_commit(*b, err);
	if (rc != E2_OK)
		return rc;
	/* durable: now the rows */
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	for (size_t j = 0; j < nrows && rc == E2_OK; j++) {
		struct sync_msg_row row = {0};

		row.uid = rows[j].uid;
		row.uniq = rows[j].uniq;
		memcpy(row.flags, rows[j].flags, sizeof(row.flags));
		row.partial = rows[j].partial;
		row.omitted = rows[j].omitted;
		row.internal_date = rows[j].internal_date;
		rc = state_row_put(c, f->name, &row, err);
	}
	if (rc != E2_OK) {
		store_rollback(c->st);
		return rc;
	}
	rc = store_commit(c->st, err);
	if (rc != E2_OK)
		return rc;
	for (size_t j = 0; j < nrows; j++) {
		c->stats->messages++;
		c->stats->bytes += rows[j].bytes;
		if (rows[j].partial)
			c->stats->partial++;
		if (rows[j].omitted)
			c->stats->omitted++;
	}
	maildir_batch_free(b);
	c->stats->progress_done += nrows;
	sync_progress(c);
	return E2_OK;
}

/* ---- streamed download ---------------------------------------------------
 *
 * Without RETRIEVE and KEEPMAX every new message is fetched whole and no
 * size is needed first: one UID FETCH <set> (UID FLAGS INTERNALDATE
 * BODY.PEEK[]) per UID set of at most IMAP_FETCH_STREAM_SET_MAX bytes
 * ("1:20000" is one command), read by imap_fetch_stream.c rather than by
 * libetpan's parser, which holds a whole response in memory. Each body
 * goes from the stream into its tmp/ file as it arrives; every batch_msgs
 * messages or batch_bytes bytes the batch is made durable and its rows
 * committed, between two messages, while the server goes on sending into
 * the socket buffer: network and disk overlap, and memory is one response
 * line and one buffer whatever the mailbox. A response left unfinished (an
 * error, a stop) leaves the connection unusable: the guard then refuses
 * reads, so LOGOUT does not read the rest of it. On a broken connection or
 * a stop the messages received whole are committed first.
 */

struct folder_streamed {
	struct folder_run *f;
	struct maildir_batch *b;  /* the open batch, NULL: none yet */
	struct fetched_row *rows; /* its messages */
	size_t nrows;
	unsigned long long bytes;
};

static enum e2_status
streamed_body_begin(void *ctx, void **body_out, struct e2_err *err)
{
	struct folder_streamed *st = ctx;
	struct maildir_msg *msg = NULL;
	enum e2_status rc = E2_OK;

	if (st->b == NULL)
		rc = maildir_batch_begin(st->f->r->c->md, &st->b, err);
	if (rc == E2_OK)
		rc = maildir_msg_begin(st->b, st->f->path, NULL, NULL, &msg,
				       err);
	if (rc == E2_OK)
		*body_out = msg;
	return rc;
}

static enum e2_status
streamed_body_write(void *ctx, void *body, const char *buf, size_t len,
		    struct e2_err *err)
{
	(void)ctx;
	return maildir_msg_write(body, buf, len, err);
}

static void
streamed_body_discard(void *ctx, void **body)
{
	struct maildir_msg *msg = *body;

	(void)ctx;
	maildir_msg_discard(&msg);
	*body = NULL;
}

/* An asked message read whole: its file joins the batch, which may commit */
static enum e2_status
streamed_fetched(void *ctx, const struct imap_fetch_msg *m, void **body,
		 bool *stop_out, struct e2_err *err)
{
	struct folder_streamed *st = ctx;
	struct sync_ctx *c = st->f->r->c;
	struct fetched_row *row = &st->rows[st->nrows];
	struct maildir_msg *msg = *body;
	char flags[MAILDIR_FLAGS_MAX] = "";
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;

	*body = NULL;
	if (m->has_flags)
		sync_flags_from_imap(m->seen, m->flagged, m->answered, m->draft,
				     flags);
	rc = folder_tag(st->f, m->uid, tag, err);
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_set_meta(msg, flags[0] != '\0' ? flags : NULL, tag,
				  err);
	if (rc == E2_OK)
		rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	memset(row, 0, sizeof(*row));
	row->uid = m->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(flags, row->flags);
	row->internal_date = m->internal_date;
	row->bytes = m->body_len;
	st->nrows++;
	st->bytes += m->body_len;
	if (st->nrows >= c->o.batch_msgs || st->bytes >= c->o.batch_bytes) {
		rc = folder_commit(st->f, &st->b, st->rows, st->nrows, err);
		if (rc != E2_OK)
			return rc;
		st->nrows = 0;
		st->bytes = 0;
	}
	*stop_out = sync_stopping(c);
	return E2_OK;
}

static enum e2_status
streamed_io_error(void *ctx, struct e2_err *err)
{
	struct folder_streamed *st = ctx;

	return imap_fail(st->f->r, MAILIMAP_ERROR_STREAM,
			 IMAP_FETCH_STREAM_WHAT, err);
}

static const struct imap_fetch_stream_ops streamed_ops = {
	.body_begin = streamed_body_begin,
	.body_write = streamed_body_write,
	.body_discard = streamed_body_discard,
	.fetched = streamed_fetched,
	.io_error = streamed_io_error,
};

/* Downloads todo (sorted) whole, streamed (see above). */
enum e2_status
folder_stream(struct folder_run *f, const struct uidv *todo, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	mailimap *imap = f->r->imap;
	struct folder_streamed st = {.f = f};
	struct imap_fetch_stream *fs = NULL;
	bool *seen = NULL;
	char *set = NULL;
	bool open = false, stop = false;
	enum e2_status rc;

	st.rows = calloc(c->o.batch_msgs + 1, sizeof(*st.rows));
	seen = calloc(todo->n + 1, sizeof(*seen));
	set = malloc(IMAP_FETCH_STREAM_SET_MAX + 32);
	if (st.rows == NULL || seen == NULL || set == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	rc = imap_fetch_stream_new(imap->imap_stream, &streamed_ops, &st, &fs,
				   err);
	for (size_t lo = 0; rc == E2_OK && lo < todo->n && !stop;) {
		struct imap_fetch_asked q = {.uids = todo->v + lo,
					     .answered = seen + lo};
		char tag[16];

		imap_fetch_stream_set(todo->v + lo, todo->n - lo, set, &q.n);
		imap->imap_tag++;
		if (mailimap_is_163_workaround_enabled(imap))
			(void)snprintf(tag, sizeof(tag), "C%d", imap->imap_tag);
		else
			(void)snprintf(tag, sizeof(tag), "%d", imap->imap_tag);
		open = true;
		rc = imap_fetch_stream_command(fs, tag, set, &q, &stop, err);
		if (rc != E2_OK)
			break;
		open = stop;
		lo += q.n;
	}
	if (st.nrows > 0) {
		/* what arrived whole is kept, also when the rest failed */
		struct e2_err late = {0};

		if (rc == E2_OK)
			rc = folder_commit(f, &st.b, st.rows, st.nrows, err);
		else
			(void)folder_commit(f, &st.b, st.rows, st.nrows, &late);
	}
out:
	if (open)
		xport_etpan_refuse_reads(f->r->imap->imap_stream);
	imap_fetch_stream_free(&fs);
	maildir_batch_free(&st.b);
	free(st.rows);
	free(seen);
	free(set);
	return rc;
}

/* ---- KEEPMAX: one message fetched part by part ---------------------------
 */

/* "HEADER", "TEXT", "2", "2.1.MIME" -> a libetpan section; NULL: bad/oom */
static struct mailimap_section *
imap_section_of(const char *name)
{
	struct mailimap_section_part *part = NULL;
	struct mailimap_section *sec = NULL;
	clist *ids = NULL;
	const char *p = name;

	if (strcmp(name, "HEADER") == 0)
		return mailimap_section_new_header();
	if (strcmp(name, "TEXT") == 0)
		return mailimap_section_new_text();
	ids = clist_new();
	if (ids == NULL)
		return NULL;
	while (*p >= '0' && *p <= '9') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		uint32_t *id;

		if (v == 0 || v > UINT32_MAX ||
		    (id = malloc(sizeof(*id))) == NULL)
			goto fail;
		*id = (uint32_t)v;
		if (clist_append(ids, id) < 0) {
			free(id);
			goto fail;
		}
		p = end;
		if (*p == '.')
			p++;
	}
	if (clist_count(ids) == 0)
		goto fail;
	part = mailimap_section_part_new(ids);
	if (part == NULL)
		goto fail;
	ids = NULL;
	if (*p == '\0')
		sec = mailimap_section_new_part(part);
	else if (strcmp(p, "MIME") == 0)
		sec = mailimap_section_new_part_mime(part);
	else if (strcmp(p, "HEADER") == 0)
		sec = mailimap_section_new_part_header(part);
	else if (strcmp(p, "TEXT") == 0)
		sec = mailimap_section_new_part_text(part);
	if (sec == NULL)
		mailimap_section_part_free(part);
	return sec;
fail:
	if (ids != NULL) {
		for (clistiter *it = clist_begin(ids); it != NULL;
		     it = clist_next(it))
			free(clist_content(it));
		clist_free(ids);
	}
	return NULL;
}

struct part_fetch {
	struct imap_run *r;
	uint32_t uid;
	struct mime_trunc *t;     /* RETRIEVE on the assembled message */
	bool skipped;             /* sections not fetched: t was full */
	unsigned long long bytes; /* transferred */
};

/* mime_fetch_fn: UID FETCH uid (BODY.PEEK[section]) into sink. */
static enum e2_status
part_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	   struct e2_err *err)
{
	struct part_fetch *pf = ctx;
	struct imap_run *r = pf->r;
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_fetch_att *att = NULL;
	struct mailimap_section *sec;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool got = false;
	struct imap_fetch_asked q = {
		.uids = &pf->uid, .n = 1, .answered = &got};
	size_t room = 0;
	int code;

	/* RETRIEVE: nothing more would be kept, leave the rest unfetched */
	if (pf->t != NULL && sink_ctx == pf->t && mime_trunc_full(pf->t)) {
		pf->skipped = true;
		return E2_OK;
	}
	if (pf->t != NULL && sink_ctx == pf->t)
		room = mime_trunc_room(pf->t);
	sec = imap_section_of(section);
	if (sec != NULL) {
		/* RETRIEVE: no more than the truncation keeps (<0.room>) */
		att = room > 0 && room < UINT32_MAX
			      ? mailimap_fetch_att_new_body_peek_section_partial(
					sec, 0, (uint32_t)room)
			      : mailimap_fetch_att_new_body_peek_section(sec);
		if (att == NULL)
			mailimap_section_free(sec);
	}
	set = mailimap_set_new_single(pf->uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (att == NULL || set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, att) !=
		    MAILIMAP_NO_ERROR) {
		if (att != NULL)
			mailimap_fetch_att_free(att);
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (BODY.PEEK[part])", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL && !got;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* sets got */
		pf->bytes += m.body_len;
		if (room > 0 && m.body_len >= room)
			pf->skipped = true; /* maybe cut by <0.room> */
		if (m.body_len > 0)
			rc = sink(sink_ctx, m.body, m.body_len, err);
	}
	if (rc == E2_OK && !got)
		rc = e2_fail(err, E2_EPROTO,
			     "imap UID FETCH %u BODY[%s]: no such section",
			     (unsigned)pf->uid, section);
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/* UID FETCH uid (UID FLAGS INTERNALDATE) into *m (body unused). */
static enum e2_status
imap_msg_meta(struct imap_run *r, uint32_t uid, struct imap_msg *m,
	      struct e2_err *err)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_fetch_type *ft =
		mailimap_fetch_type_new_fetch_att_list_empty();
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool got = false;
	struct imap_fetch_asked q = {.uids = &uid, .n = 1, .answered = &got};
	int code;

	if (set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_flags()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_internaldate()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (FLAGS INTERNALDATE)", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL && !got;
	     it = clist_next(it)) {
		size_t slot;

		imap_msg_parse(clist_content(it), m);
		if (m->has_flags)
			(void)imap_fetch_asked_take(&q, m->uid,
						    &slot); /* sets got */
	}
	if (!got)
		memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->body = NULL;
	m->bodystructure = NULL;
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/*
 * KEEPMAX: assembles the message from its kept parts and placeholders
 * (mime_assemble()) into the batch; with RETRIEVE, through a struct
 * mime_trunc, as mime.h says: KEEPMAX first, then RETRIEVE.
 */
static enum e2_status
folder_fetch_keepmax(struct folder_run *f, struct maildir_batch *b,
		     const struct sized *sz, struct fetched_row *row,
		     struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct part_fetch pf = {.r = r, .uid = sz->uid};
	struct mime_origin o = {c->a->guid, f->name, sz->uid};
	struct maildir_msg *msg = NULL;
	struct mime_trunc_info ti = {0};
	struct imap_msg m;
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;

	row->uid = 0; /* 0: skipped, no row */
	if (mime_plan_check(sz->plan, err) != E2_OK) {
		/* this message cannot be stored as the rules say: it is
		 * skipped and reported, the folder goes on */
		sync_skip(c, f->name, sz->uid, err);
		return E2_OK;
	}
	rc = imap_msg_meta(r, sz->uid, &m, err);
	if (rc != E2_OK)
		return rc;
	rc = folder_tag(f, sz->uid, tag, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_msg_begin(b, f->path, m.flags[0] != '\0' ? m.flags : NULL,
			       tag, &msg, err);
	if (rc != E2_OK)
		return rc;
	if (c->a->retrieve > 0) {
		rc = mime_trunc_new((size_t)c->a->retrieve, &pf.t, err);
		if (rc == E2_OK)
			rc = mime_assemble(sz->plan, part_fetch, &pf, &o,
					   mime_trunc_write, pf.t, err);
		/* sections left unfetched: the server's size is the truth */
		if (rc == E2_OK)
			rc = mime_trunc_finish(pf.t, pf.skipped ? sz->size : 0,
					       &o, maildir_msg_sink, msg, &ti,
					       err);
		mime_trunc_free(&pf.t);
	} else {
		rc = mime_assemble(sz->plan, part_fetch, &pf, &o,
				   maildir_msg_sink, msg, err);
	}
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK)
		return rc;
	row->uid = sz->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(m.flags, row->flags);
	row->partial = ti.truncated;
	row->omitted = true;
	row->internal_date = m.internal_date;
	row->bytes = pf.bytes;
	return E2_OK;
}

bool
row_has_uid(const struct folder_run *f, uint32_t uid)
{
	size_t lo = 0, hi = f->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->rows[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nrows && f->rows[lo].uid == uid;
}

/*
 * Adds to uids (sorted again) the UIDs 1..hi inside the window that have
 * no row and were not deleted locally in this run.
 */
static enum e2_status
folder_older(struct folder_run *f, uint32_t hi, struct uidv *uids,
	     struct e2_err *err)
{
	struct uidv older = {0};
	enum e2_status rc;

	/* a message flagged \Deleted (a move without UIDPLUS) is leaving */
	rc = imap_search(f->r, 1, hi,
			 (f->r->c->a->dwnday >= 0 ? 1 : 0) | SEARCH_UNDELETED,
			 &older, err);
	for (size_t i = 0; i < older.n && rc == E2_OK; i++) {
		uint32_t uid = older.v[i];

		if (row_has_uid(f, uid) ||
		    (f->del.n > 0 &&
		     bsearch(&uid, f->del.v, f->del.n, sizeof(*f->del.v),
			     uid_cmp) != NULL))
			continue;
		rc = uidv_add(uids, uid, err);
	}
	if (rc == E2_OK)
		uidv_sort_unique(uids);
	uidv_free(&older);
	return rc;
}

/* Whether the folder holds files of ours tagged with another UIDVALIDITY. */
bool
folder_has_stale(const struct folder_run *f)
{
	for (size_t i = 0; i < f->local.n; i++) {
		struct reconcile_tag t;

		if (reconcile_tag_parse(f->local.v[i].tag, &t) &&
		    t.uidvalidity != f->cur.uidvalidity)
			return true;
	}
	return false;
}

/*
 * The UIDs without a row inside the DWNDAY window, sorted, into uids: the
 * new ones (UID SEARCH UID <next>:* [SINCE]), and below them those a
 * widened window brings back (present: rows the server still lists).
 */
enum e2_status
folder_new_uids(struct folder_run *f, size_t present, struct uidv *uids,
		struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	uint32_t start = 1;
	enum e2_status rc = E2_OK;

	if (f->fs.known && f->fs.uidvalidity == f->cur.uidvalidity)
		start = f->fs.uidnext;
	if (f->nrows > 0 && f->rows[f->nrows - 1].uid >= start)
		start = f->rows[f->nrows - 1].uid + 1;
	if (start == 0)
		start = 1;
	if (f->cur.uidnext == 0 || start < f->cur.uidnext) {
		rc = imap_search(r, start, 0, c->a->dwnday >= 0 ? 1 : 0, uids,
				 err);
		if (rc != E2_OK)
			return rc;
	}
	/* server messages below start without a row: a widened window */
	if (start > 1 && f->cur.nmsgs > present + uids->n)
		rc = folder_older(f, start - 1, uids, err);
	return rc;
}

/* Downloads todo (sorted UIDs, no row), streamed or in sized batches. */
enum e2_status
folder_download(struct folder_run *f, struct uidv *todo_in, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct uidv todo = *todo_in;
	struct sized *sz = NULL;
	struct fetched_row *rows = NULL;
	uint32_t *full = NULL, *part = NULL;
	const struct sized **kept = NULL;
	struct maildir_batch *b = NULL;
	enum e2_status rc = E2_OK;

	if (todo.n == 0)
		return E2_OK;
	sync_progress_folder(c, f->name, todo.n);
	if (c->a->retrieve <= 0 && c->a->keepmax <= 0) {
		rc = folder_stream(f, &todo, err);
		goto out;
	}

	sz = calloc(c->o.batch_msgs * 4 + 1, sizeof(*sz));
	rows = calloc(c->o.batch_msgs + 1, sizeof(*rows));
	full = calloc(c->o.batch_msgs + 1, sizeof(*full));
	part = calloc(c->o.batch_msgs + 1, sizeof(*part));
	kept = calloc(c->o.batch_msgs + 1, sizeof(*kept));
	if (sz == NULL || rows == NULL || full == NULL || part == NULL ||
	    kept == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t lo = 0; lo < todo.n && !sync_stopping(c);) {
		size_t chunk = todo.n - lo;

		if (chunk > c->o.batch_msgs * 4)
			chunk = c->o.batch_msgs * 4;
		rc = imap_sizes(r, todo.v + lo, chunk, sz, err);
		if (rc != E2_OK)
			goto out;
		for (size_t i = 0; i < chunk && !sync_stopping(c);) {
			size_t nfull = 0, npart = 0, nkept = 0, nrows = 0;
			unsigned long long bytes = 0;

			while (i < chunk &&
			       nfull + npart + nkept < c->o.batch_msgs &&
			       (nfull + npart + nkept == 0 ||
				bytes + sz[i].size <= c->o.batch_bytes)) {
				if (sz[i].plan != NULL) {
					kept[nkept++] = &sz[i];
					bytes += mime_plan_size(sz[i].plan, 0);
				} else if (c->a->retrieve > 0 &&
					   sz[i].size > (unsigned long)c->a
								->retrieve) {
					part[npart++] = sz[i].uid;
					bytes += (unsigned long)c->a->retrieve;
				} else {
					full[nfull++] = sz[i].uid;
					bytes += sz[i].size;
				}
				i++;
			}
			rc = maildir_batch_begin(c->md, &b, err);
			if (rc != E2_OK)
				goto out;
			rc = folder_fetch_bodies(f, b, full, nfull, false, rows,
						 &nrows, err);
			if (rc == E2_OK)
				rc = folder_fetch_bodies(f, b, part, npart,
							 true, rows, &nrows,
							 err);
			/* one FETCH per message here: SIGTERM stops after the
			 * current one, and what was fetched commits */
			for (size_t j = 0;
			     j < nkept && rc == E2_OK && !sync_stopping(c);
			     j++) {
				rc = folder_fetch_keepmax(f, b, kept[j],
							  &rows[nrows], err);
				if (rc == E2_OK && rows[nrows].uid != 0)
					nrows++;
			}
			if (rc == E2_OK)
				rc = folder_commit(f, &b, rows, nrows, err);
			if (rc != E2_OK)
				goto out;
		}
		sized_clear(sz, chunk);
		lo += chunk;
	}
out:
	if (sz != NULL)
		sized_clear(sz, c->o.batch_msgs * 4);
	maildir_batch_free(&b);
	free(kept);
	free(part);
	free(full);
	free(rows);
	free(sz);
	return rc;
}

/* ---- the whole message, later (e2_sync_fetch_full(), sync_full.c) ----- */

enum e2_status
sync_imap_fetch_whole(struct sync_ctx *c, const char *folder, uint32_t uid,
		      uint32_t uidvalidity, sync_full_fn fn, void *ctx,
		      struct e2_err *err)
{
	struct imap_run r = {0};
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_section *sec = NULL;
	struct mailimap_fetch_att *body = NULL;
	struct mailimap_selection_info *si;
	clist *res = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;
	bool found = false;
	struct imap_fetch_asked q = {.uids = &uid, .n = 1, .answered = &found};
	int code;

	rc = imap_open(&r, c, err);
	if (rc != E2_OK)
		goto out;
	/* read-only: nothing on the server changes, \Recent included */
	code = mailimap_examine(r.imap, folder);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(&r, code, "EXAMINE", err);
		goto out;
	}
	si = r.imap->imap_selection_info;
	if (si == NULL || si->sel_uidvalidity != uidvalidity) {
		rc = e2_fail(err, E2_EINVAL,
			     "imap %s: UIDVALIDITY changed (%u, was %u): the "
			     "next sync downloads the folder again",
			     folder, si != NULL ? si->sel_uidvalidity : 0u,
			     (unsigned)uidvalidity);
		goto out;
	}
	set = mailimap_set_new_single(uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	sec = mailimap_section_new(NULL);
	if (sec != NULL)
		body = mailimap_fetch_att_new_body_peek_section(sec);
	if (body == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || body == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR) {
		if (body != NULL)
			mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, body) !=
	    MAILIMAP_NO_ERROR) {
		mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r.imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(&r, code, "UID FETCH (BODY.PEEK[])", err);
		goto out;
	}
	{
		char id[SYNCSTATE_FOLDER_ID_MAX + 1], val[RECONCILE_TAG_MAX];

		rc = syncstate_folder_id(c->ss, folder, id, err);
		if (rc == E2_OK)
			rc = reconcile_tag_format(uid, uidvalidity, id, val,
						  err);
		if (rc != E2_OK)
			goto out;
		(void)snprintf(tag, sizeof(tag), "U=%s", val);
	}
	for (clistiter *it = clist_begin(res); it != NULL && !found;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* sets found */
		rc = fn(ctx, tag, m.body, m.body_len, err);
	}
	if (!found)
		rc = e2_fail(err, E2_EINVAL,
			     "imap %s: UID %u is no longer on the server",
			     folder, (unsigned)uid);
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	chain_session_free(&r.sess);
	return rc;
}
