/* SPDX-License-Identifier: MIT */
/* outbox_queue.c -- claimed queue rows, the claim pass, email2-outbox's API */
#include "config.h"

#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "outbox_scan.h"

#define OUTBOX_MAX_BYTES (50u * 1024 * 1024) /* as send.c's SEND_MAX_BYTES */
#define OUTBOX_LEGACY_SENT "sent; not yet moved to .Sent: "
#define OUTBOX_LIST_HEAD (256u * 1024) /* bytes list reads of each file */
#define OUTBOX_ORIGIN_MAX 512          /* "new/" + a file name (NAME_MAX) */

#define OUTBOX_COLS                                                            \
	"guid, id, origin, state, attempts, last_error, last_attempt,"         \
	" next_attempt, queued, envelope"

static enum e2_status
outbox_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

static enum e2_status
outbox_sql_fail(struct e2_store *st, const char *what, struct e2_err *err)
{
	return e2_fail(err, E2_ESTORE, "send queue %s: %s", what,
		       sqlite3_errmsg(store_db(st)));
}

static char *
outbox_join(const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + (c != NULL ? strlen(c) : 0) + 3;
	char *p = malloc(len);

	if (p == NULL)
		return NULL;
	if (c != NULL)
		(void)snprintf(p, len, "%s/%s/%s", a, b, c);
	else
		(void)snprintf(p, len, "%s/%s", a, b);
	return p;
}

static void
outbox_copy_col(char *dst, size_t cap, sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	(void)snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

static char *
outbox_dup_col(sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	return t != NULL ? strdup((const char *)t) : NULL;
}

/* ---- rows ------------------------------------------------------------------
 */

void
outbox_rows_free(struct outbox_row **rows, size_t n)
{
	if (rows == NULL || *rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*rows)[i].origin);
		free((*rows)[i].envelope);
	}
	free(*rows);
	*rows = NULL;
}

enum e2_status
outbox_rows(struct e2_store *st, const char *guid, struct outbox_row **rows_out,
	    size_t *n_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct outbox_row *v = NULL;
	size_t n = 0, cap = 0;
	enum e2_status rc = E2_OK;
	int res;

	if (sqlite3_prepare_v2(store_db(st),
			       "SELECT " OUTBOX_COLS " FROM outbox_queue"
			       " WHERE ?1 IS NULL OR guid = ?1"
			       " ORDER BY guid, queued, id",
			       -1, &stmt, NULL) != SQLITE_OK)
		return outbox_sql_fail(st, "list", err);
	if (guid != NULL)
		sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_TRANSIENT);
	while ((res = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct outbox_row *r;

		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct outbox_row *nv = realloc(v, ncap * sizeof(*v));

			if (nv == NULL) {
				rc = outbox_oom(err);
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		r = &v[n++];
		memset(r, 0, sizeof(*r));
		outbox_copy_col(r->guid, sizeof(r->guid), stmt, 0);
		outbox_copy_col(r->id, sizeof(r->id), stmt, 1);
		r->origin = outbox_dup_col(stmt, 2);
		r->state = (enum outbox_state)sqlite3_column_int(stmt, 3);
		r->attempts = (unsigned)sqlite3_column_int(stmt, 4);
		outbox_copy_col(r->last_error, sizeof(r->last_error), stmt, 5);
		r->last_attempt = sqlite3_column_int64(stmt, 6);
		r->next_attempt = sqlite3_column_int64(stmt, 7);
		r->queued = sqlite3_column_int64(stmt, 8);
		r->envelope = outbox_dup_col(stmt, 9);
		if (r->origin == NULL ||
		    (sqlite3_column_type(stmt, 9) != SQLITE_NULL &&
		     r->envelope == NULL)) {
			rc = outbox_oom(err);
			goto out;
		}
	}
	if (res != SQLITE_DONE)
		rc = outbox_sql_fail(st, "list", err);
out:
	sqlite3_finalize(stmt);
	if (rc != E2_OK) {
		outbox_rows_free(&v, n);
		return rc;
	}
	*rows_out = v;
	*n_out = n;
	return E2_OK;
}

/* Runs sql with the text arguments a[0..na-1] bound as ?1, ?2, ... */
static enum e2_status
outbox_exec(struct e2_store *st, const char *sql, const char *const *a,
	    size_t na, const char *what, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc = E2_OK;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL) != SQLITE_OK)
		return outbox_sql_fail(st, what, err);
	for (size_t i = 0; i < na; i++)
		sqlite3_bind_text(stmt, (int)i + 1, a[i], -1, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = outbox_sql_fail(st, what, err);
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
outbox_row_update(struct e2_store *st, const char *guid,
		  const struct outbox_row *r, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc = E2_OK;

	if (sqlite3_prepare_v2(store_db(st),
			       "UPDATE outbox_queue SET state = ?3,"
			       " attempts = ?4, last_error = ?5,"
			       " last_attempt = ?6, next_attempt = ?7"
			       " WHERE guid = ?1 AND id = ?2",
			       -1, &stmt, NULL) != SQLITE_OK)
		return outbox_sql_fail(st, "update", err);
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, r->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, (int)r->state);
	sqlite3_bind_int(stmt, 4, (int)r->attempts);
	sqlite3_bind_text(stmt, 5, r->last_error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 6, r->last_attempt);
	sqlite3_bind_int64(stmt, 7, r->next_attempt);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = outbox_sql_fail(st, "update", err);
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
outbox_row_delete(struct e2_store *st, const char *guid, const char *id,
		  struct e2_err *err)
{
	const char *a[] = {guid, id};

	return outbox_exec(
		st, "DELETE FROM outbox_queue WHERE guid = ?1 AND id = ?2", a,
		2, "delete", err);
}

/*
 * The row of a new claim, committed with the sync_outbox row of older
 * versions that names the same file (its attempts and reason carry over;
 * its "sent" marker makes the claim OUTBOX_STATE_SENT), which goes in the
 * same transaction. legacy: the file's unique name, NULL for none.
 */
static enum e2_status
outbox_row_insert(struct e2_store *st, const char *guid, const char *id,
		  const char *origin, const char *legacy, int64_t now,
		  const char *envelope, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct outbox_row r = {0};
	enum e2_status rc;
	int res;

	rc = store_begin(st, err);
	if (rc != E2_OK)
		return rc;
	if (legacy != NULL) {
		if (sqlite3_prepare_v2(store_db(st),
				       "SELECT attempts, last_error,"
				       " last_attempt FROM sync_outbox"
				       " WHERE guid = ?1 AND file = ?2",
				       -1, &stmt, NULL) != SQLITE_OK) {
			rc = outbox_sql_fail(st, "legacy row", err);
			goto out;
		}
		sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(stmt, 2, legacy, -1, SQLITE_TRANSIENT);
		res = sqlite3_step(stmt);
		if (res == SQLITE_ROW) {
			r.attempts = (unsigned)sqlite3_column_int(stmt, 0);
			outbox_copy_col(r.last_error, sizeof(r.last_error),
					stmt, 1);
			r.last_attempt = sqlite3_column_int64(stmt, 2);
			if (strncmp(r.last_error, OUTBOX_LEGACY_SENT,
				    strlen(OUTBOX_LEGACY_SENT)) == 0)
				r.state = OUTBOX_STATE_SENT;
		} else if (res != SQLITE_DONE) {
			rc = outbox_sql_fail(st, "legacy row", err);
			goto out;
		}
		sqlite3_finalize(stmt);
		stmt = NULL;
		if (res == SQLITE_ROW) {
			const char *a[] = {guid, legacy};

			rc = outbox_exec(st,
					 "DELETE FROM sync_outbox"
					 " WHERE guid = ?1 AND file = ?2",
					 a, 2, "legacy row", err);
			if (rc != E2_OK)
				goto out;
		}
	}
	if (sqlite3_prepare_v2(
		    store_db(st),
		    "INSERT INTO outbox_queue (" OUTBOX_COLS ")"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)",
		    -1, &stmt, NULL) != SQLITE_OK) {
		rc = outbox_sql_fail(st, "claim", err);
		goto out;
	}
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, origin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 4, (int)r.state);
	sqlite3_bind_int(stmt, 5, (int)r.attempts);
	sqlite3_bind_text(stmt, 6, r.last_error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, r.last_attempt);
	sqlite3_bind_int64(stmt, 8, now);
	if (envelope != NULL)
		sqlite3_bind_text(stmt, 9, envelope, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = outbox_sql_fail(st, "claim", err);
out:
	sqlite3_finalize(stmt);
	if (rc == E2_OK)
		return store_commit(st, err);
	store_rollback(st);
	return rc;
}

static enum e2_status
outbox_clear_origin(struct e2_store *st, const char *guid, const char *id,
		    struct e2_err *err)
{
	const char *a[] = {guid, id};

	return outbox_exec(st,
			   "UPDATE outbox_queue SET origin = ''"
			   " WHERE guid = ?1 AND id = ?2",
			   a, 2, "claim", err);
}

static enum e2_status
outbox_fsync_dir(const char *path, struct e2_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	enum e2_status rc = E2_OK;

	if (fd < 0 || fsync(fd) != 0)
		rc = e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			     strerror(errno));
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

static enum e2_status
outbox_fsync_subs(const char *queue, struct e2_err *err)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	enum e2_status rc = E2_OK;

	for (size_t i = 0; i < 3 && rc == E2_OK; i++) {
		char *d = outbox_join(queue, subs[i], NULL);

		rc = d == NULL ? outbox_oom(err) : outbox_fsync_dir(d, err);
		free(d);
	}
	return rc;
}

/*
 * rename(from, <queue>/cur/<id>:2,<flags>): 0, or errno. An origin must be
 * "new/<name>", "cur/<name>" or "tmp/<name>", one path component below.
 */
static int
outbox_claim_rename(const char *queue, const char *origin, const char *id,
		    const char *flags)
{
	char name[OUTBOX_ID_MAX + MAILDIR_FLAGS_MAX + 4];
	char *from = NULL, *to = NULL;
	int e = 0;

	if ((strncmp(origin, "new/", 4) != 0 &&
	     strncmp(origin, "cur/", 4) != 0 &&
	     strncmp(origin, "tmp/", 4) != 0) ||
	    origin[4] == '\0' || origin[4] == '.' ||
	    strchr(origin + 4, '/') != NULL)
		return ENOENT;
	(void)snprintf(name, sizeof(name), "%s:2,%s", id, flags);
	from = outbox_join(queue, origin, NULL);
	to = outbox_join(queue, "cur", name);
	if (from == NULL || to == NULL)
		e = ENOMEM;
	else if (rename(from, to) != 0)
		e = errno;
	free(from);
	free(to);
	return e;
}

static enum e2_status
outbox_legacy_any(struct e2_store *st, const char *guid, bool *any_out,
		  struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc = E2_OK;
	int res;

	if (sqlite3_prepare_v2(store_db(st),
			       "SELECT 1 FROM sync_outbox WHERE guid = ?1"
			       " LIMIT 1",
			       -1, &stmt, NULL) != SQLITE_OK)
		return outbox_sql_fail(st, "legacy rows", err);
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_TRANSIENT);
	res = sqlite3_step(stmt);
	if (res != SQLITE_ROW && res != SQLITE_DONE)
		rc = outbox_sql_fail(st, "legacy rows", err);
	*any_out = res == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return rc;
}

/* True when <queue>/cur/<id>:2, (as a claim names it) exists. */
static bool
outbox_claimed_now(const char *queue, const char *id)
{
	char name[OUTBOX_ID_MAX + 4];
	char *p;
	struct stat sb;
	bool there;

	(void)snprintf(name, sizeof(name), "%s:2,", id);
	p = outbox_join(queue, "cur", name);
	there = p != NULL && lstat(p, &sb) == 0;
	free(p);
	return there;
}

enum e2_status
outbox_claim(struct e2_store *st, const char *guid, const char *queue,
	     int64_t now, struct outbox_row **rows_out, size_t *n_out,
	     struct e2_err *err)
{
	struct maildir_snapshot snap = {0};
	struct outbox_row *rows = NULL;
	size_t n = 0, nmoved = 0;
	char(*moved)[OUTBOX_ID_MAX] = NULL; /* ids renamed by this pass */
	bool dirty = false;
	enum e2_status rc;

	rc = outbox_rows(st, guid, &rows, &n, err);
	if (rc == E2_OK)
		rc = maildir_snapshot(queue, NULL, &snap, err);
	if (rc == E2_OK) {
		moved = calloc(n + snap.n + 1, sizeof(*moved));
		if (moved == NULL)
			rc = outbox_oom(err);
	}
	if (rc != E2_OK)
		goto out;
	/* recovery: decided by what is on disk (outbox.h, "Recovery") */
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct outbox_row *r = &rows[i];
		struct maildir_file *f = maildir_snapshot_find(&snap, r->id);
		int e;

		if (f != NULL) {
			f->matched = true;
			if (r->origin[0] != '\0')
				rc = outbox_clear_origin(st, guid, r->id, err);
			continue;
		}
		e = r->origin[0] != '\0'
			    ? outbox_claim_rename(queue, r->origin, r->id, "")
			    : ENOENT;
		if (e == 0) {
			/* the origin is cleared below, once synced */
			memcpy(moved[nmoved++], r->id, OUTBOX_ID_MAX);
			dirty = true;
			continue;
		}
		if (e != ENOENT) {
			rc = e2_fail(err, E2_ESTORE, "claim %s/%s: %s", queue,
				     r->origin, strerror(e));
			break;
		}
		/* email2-sendmail's own rename may have just happened */
		if (outbox_claimed_now(queue, r->id))
			continue;
		/* gone: removed by the user, or sent and moved already */
		rc = outbox_row_delete(st, guid, r->id, err);
	}
	/* the claim of every file no row knows */
	for (size_t i = 0; i < snap.n && rc == E2_OK; i++) {
		struct maildir_file *f = &snap.v[i];
		char id[OUTBOX_ID_MAX], origin[OUTBOX_ORIGIN_MAX];
		int e;

		if (f->matched)
			continue;
		if (snprintf(origin, sizeof(origin), "%s/%s", f->sub,
			     f->name) >= (int)sizeof(origin))
			continue; /* cannot be a file name */
		rc = outbox_id_new(id, err);
		if (rc == E2_OK)
			rc = outbox_row_insert(st, guid, id, origin, f->uniq,
					       now, NULL, err);
		if (rc != E2_OK)
			break;
		e = outbox_claim_rename(queue, origin, id, f->flags);
		if (e == 0) {
			memcpy(moved[nmoved++], id, OUTBOX_ID_MAX);
			dirty = true;
		} else if (e == ENOENT) {
			/* someone else moved it: our row names nothing */
			rc = outbox_row_delete(st, guid, id, err);
		} else {
			rc = e2_fail(err, E2_ESTORE, "claim %s/%s: %s", queue,
				     origin, strerror(e));
		}
	}
	if (rc == E2_OK && dirty)
		rc = outbox_fsync_subs(queue, err);
	if (rc == E2_OK) {
		/*
		 * leftovers of older versions name no file of the queue; the
		 * DELETE only when there are some (a no-change sync writes
		 * nothing)
		 */
		const char *a[] = {guid};
		bool any = false;

		rc = outbox_legacy_any(st, guid, &any, err);
		if (rc == E2_OK && any)
			rc = outbox_exec(
				st, "DELETE FROM sync_outbox WHERE guid = ?1",
				a, 1, "legacy rows", err);
	}
	/* the renames are durable: their origins are not needed any more */
	for (size_t i = 0; i < nmoved && rc == E2_OK; i++)
		rc = outbox_clear_origin(st, guid, moved[i], err);
	outbox_rows_free(&rows, n);
	n = 0;
	if (rc == E2_OK)
		rc = outbox_rows(st, guid, &rows, &n, err);
out:
	free(moved);
	maildir_snapshot_free(&snap);
	if (rc != E2_OK) {
		outbox_rows_free(&rows, n);
		return rc;
	}
	*rows_out = rows;
	*n_out = n;
	return E2_OK;
}

/* ---- email2-outbox and email2-sendmail (email2.h) -------------------------
 */

const char *
e2_outbox_state_name(enum e2_outbox_state s)
{
	switch (s) {
	case E2_OUTBOX_NEW:
		return "new";
	case E2_OUTBOX_QUEUED:
		return "queued";
	case E2_OUTBOX_SENT:
		return "sent";
	case E2_OUTBOX_FAILED:
		return "failed";
	}
	return "?";
}

void
e2_outbox_items_free(struct e2_outbox_item **items, size_t n)
{
	if (items == NULL || *items == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct e2_outbox_item *it = &(*items)[i];

		free(it->guid);
		free(it->id);
		free(it->path);
		free(it->last_error);
		free(it->subject);
		free(it->rcpt);
	}
	free(*items);
	*items = NULL;
}

/* The first OUTBOX_LIST_HEAD bytes of path, NUL-terminated; NULL on error. */
static char *
outbox_read_head(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(OUTBOX_LIST_HEAD + 1);
	while (buf != NULL && got < OUTBOX_LIST_HEAD) {
		ssize_t r = read(fd, buf + got, OUTBOX_LIST_HEAD - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	if (buf != NULL) {
		buf[got] = '\0';
		*len_out = got;
	}
	return buf;
}

/*
 * Subject (quoted) and recipients of a queued file for the listing: the
 * header only (up to its empty line), as outbox_scan() reads it.
 */
static void
outbox_describe(const char *path, const char *envelope, char **subject_out,
		char **rcpt_out)
{
	size_t len = 0, hlen, cap;
	char *buf = outbox_read_head(path, &len);
	struct outbox_scan sc = {0};
	struct e2_err e = {0};
	char q[200] = "", *rc = NULL;

	*subject_out = NULL;
	*rcpt_out = NULL;
	if (buf == NULL)
		goto out;
	/* the header: up to the first empty line */
	for (hlen = 0; hlen < len; hlen++)
		if (buf[hlen] == '\n' &&
		    (buf[hlen + 1] == '\n' ||
		     (buf[hlen + 1] == '\r' && buf[hlen + 2] == '\n')))
			break;
	for (size_t i = 0; i < hlen; i++) {
		size_t e2;

		if ((i > 0 && buf[i - 1] != '\n') ||
		    strncasecmp(buf + i, "subject:", 8) != 0)
			continue;
		i += 8;
		while (i < hlen && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		for (e2 = i; e2 < hlen && buf[e2] != '\n' && buf[e2] != '\r';
		     e2++)
			;
		(void)e2_quote(q, sizeof(q), buf + i, e2 - i);
		break;
	}
	if (envelope != NULL) {
		rc = strdup(envelope);
		for (char *p = rc; p != NULL && *p != '\0'; p++)
			if (*p == '\n')
				*p = ',';
	} else if (outbox_scan_ex(buf, hlen < len ? hlen + 1 : len, false, &sc,
				  &e) == E2_OK) {
		cap = 1;
		for (size_t i = 0; i < sc.nrcpt; i++)
			cap += strlen(sc.rcpt[i]) + 2;
		rc = malloc(cap);
		if (rc != NULL) {
			rc[0] = '\0';
			for (size_t i = 0; i < sc.nrcpt; i++) {
				if (i > 0)
					(void)strncat(rc, ", ",
						      cap - strlen(rc) - 1);
				(void)strncat(rc, sc.rcpt[i],
					      cap - strlen(rc) - 1);
			}
		}
	}
out:
	outbox_scan_free(&sc);
	free(buf);
	*subject_out = strdup(q);
	*rcpt_out = rc != NULL ? rc : strdup("");
}

struct outbox_items {
	struct e2_outbox_item *v;
	size_t n, cap;
};

static struct e2_outbox_item *
outbox_items_add(struct outbox_items *it)
{
	if (it->n == it->cap) {
		size_t cap = it->cap == 0 ? 16 : it->cap * 2;
		struct e2_outbox_item *v = realloc(it->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		it->v = v;
		it->cap = cap;
	}
	memset(&it->v[it->n], 0, sizeof(it->v[0]));
	return &it->v[it->n++];
}

/* The items of one account (guid: its stored spelling). */
static enum e2_status
outbox_list_one(struct e2_store *st, const char *guid,
		struct outbox_items *items, struct e2_err *err)
{
	struct maildir_snapshot snap = {0};
	struct outbox_row *rows = NULL;
	char *queue = NULL;
	size_t n = 0;
	enum e2_status rc;

	rc = outbox_open(st, guid, &queue, err);
	if (rc == E2_OK)
		rc = outbox_rows(st, guid, &rows, &n, err);
	if (rc == E2_OK)
		rc = maildir_snapshot(queue, NULL, &snap, err);
	for (size_t i = 0; i < n + snap.n && rc == E2_OK; i++) {
		struct maildir_file *f;
		struct e2_outbox_item *it;
		const char *env = NULL;

		if (i < n) {
			f = maildir_snapshot_find(&snap, rows[i].id);
			if (f != NULL)
				f->matched = true;
			env = rows[i].envelope;
		} else {
			f = &snap.v[i - n];
			if (f->matched)
				continue;
		}
		it = outbox_items_add(items);
		if (it == NULL) {
			rc = outbox_oom(err);
			break;
		}
		it->guid = strdup(guid);
		it->path = f != NULL ? outbox_join(queue, f->sub, f->name)
				     : strdup("");
		if (i < n) {
			const struct outbox_row *r = &rows[i];

			it->id = strdup(r->id);
			it->state = r->state == OUTBOX_STATE_SENT
					    ? E2_OUTBOX_SENT
				    : r->state == OUTBOX_STATE_FAILED
					    ? E2_OUTBOX_FAILED
					    : E2_OUTBOX_QUEUED;
			it->attempts = r->attempts;
			it->queued = r->queued;
			it->last_attempt = r->last_attempt;
			it->next_attempt = r->next_attempt;
			it->last_error = strdup(r->last_error);
		} else {
			it->id = strdup(f->name);
			it->state = E2_OUTBOX_NEW;
			it->last_error = strdup("");
		}
		if (it->path != NULL)
			outbox_describe(it->path, env, &it->subject, &it->rcpt);
		if (it->guid == NULL || it->path == NULL || it->id == NULL ||
		    it->last_error == NULL || it->subject == NULL ||
		    it->rcpt == NULL)
			rc = outbox_oom(err);
	}
	maildir_snapshot_free(&snap);
	outbox_rows_free(&rows, n);
	free(queue);
	return rc;
}

/* The stored spelling of guid into *stored_out (caller frees). */
static enum e2_status
outbox_account(struct e2_store *st, const char *guid, char **stored_out,
	       struct e2_err *err)
{
	struct e2_account *a = NULL;
	enum e2_status rc = e2_account_load(st, guid, &a, err);

	if (rc != E2_OK)
		return rc;
	*stored_out = strdup(a->guid);
	e2_account_free(&a);
	return *stored_out != NULL ? E2_OK : outbox_oom(err);
}

enum e2_status
e2_outbox_list(struct e2_store *st, const char *guid,
	       struct e2_outbox_item **items_out, size_t *n_out,
	       struct e2_err *err)
{
	struct outbox_items items = {0};
	char **guids = NULL;
	size_t ng = 0;
	enum e2_status rc;

	if (guid != NULL) {
		guids = calloc(1, sizeof(*guids));
		if (guids == NULL)
			return outbox_oom(err);
		ng = 1;
		rc = outbox_account(st, guid, &guids[0], err);
	} else {
		rc = e2_account_list(st, &guids, &ng, err);
	}
	for (size_t i = 0; i < ng && rc == E2_OK; i++)
		rc = outbox_list_one(st, guids[i], &items, err);
	e2_strv_free(&guids, ng);
	if (rc != E2_OK) {
		e2_outbox_items_free(&items.v, items.n);
		return rc;
	}
	*items_out = items.v;
	*n_out = items.n;
	return E2_OK;
}

/* The one item whose id is id: *idx_out, or found false. */
static enum e2_status
outbox_find(struct e2_outbox_item *v, size_t n, const char *id, bool *found_out,
	    size_t *idx_out, struct e2_err *err)
{
	size_t hits = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0) {
			*idx_out = i;
			hits++;
		}
	*found_out = hits > 0;
	if (hits > 1)
		return e2_fail(err, E2_EINVAL,
			       "\"%s\" is queued in %zu accounts: name one "
			       "with --account",
			       id, hits);
	return E2_OK;
}

static enum e2_status
outbox_check_id(const char *id, struct e2_err *err)
{
	if (id == NULL || id[0] == '\0' || id[0] == '.' ||
	    strchr(id, '/') != NULL || strlen(id) > 255)
		return e2_fail(err, E2_EINVAL, "\"%s\" is not a queue id",
			       id != NULL ? id : "");
	return E2_OK;
}

enum e2_status
e2_outbox_retry(struct e2_store *st, const char *guid, const char *id,
		bool *found_out, struct e2_err *err)
{
	struct e2_outbox_item *v = NULL;
	size_t n = 0, k = 0;
	enum e2_status rc;

	*found_out = false;
	rc = outbox_check_id(id, err);
	if (rc == E2_OK)
		rc = e2_outbox_list(st, guid, &v, &n, err);
	if (rc == E2_OK)
		rc = outbox_find(v, n, id, found_out, &k, err);
	if (rc == E2_OK && *found_out && v[k].state != E2_OUTBOX_NEW &&
	    v[k].state != E2_OUTBOX_SENT) {
		const char *a[] = {v[k].guid, v[k].id};

		/* due now; a failed message starts counting again */
		rc = outbox_exec(st,
				 "UPDATE outbox_queue SET next_attempt = 0,"
				 " attempts = CASE state WHEN 2 THEN 0"
				 " ELSE attempts END, state = 0"
				 " WHERE guid = ?1 AND id = ?2",
				 a, 2, "retry", err);
	}
	e2_outbox_items_free(&v, n);
	return rc;
}

enum e2_status
e2_outbox_drop(struct e2_store *st, const char *guid, const char *id,
	       bool *found_out, struct e2_err *err)
{
	struct e2_outbox_item *v = NULL;
	size_t n = 0, k = 0;
	enum e2_status rc;

	*found_out = false;
	rc = outbox_check_id(id, err);
	if (rc == E2_OK)
		rc = e2_outbox_list(st, guid, &v, &n, err);
	if (rc == E2_OK)
		rc = outbox_find(v, n, id, found_out, &k, err);
	if (rc != E2_OK || !*found_out)
		goto out;
	/* the file first: a row without its file is deleted by recovery */
	if (v[k].path[0] != '\0' && unlink(v[k].path) != 0 && errno != ENOENT) {
		rc = e2_fail(err, E2_ESTORE, "remove %s: %s", v[k].path,
			     strerror(errno));
		goto out;
	}
	if (v[k].state != E2_OUTBOX_NEW)
		rc = outbox_row_delete(st, v[k].guid, v[k].id, err);
out:
	e2_outbox_items_free(&v, n);
	return rc;
}

enum e2_status
e2_outbox_account_for(struct e2_store *st, const char *addr, char **guid_out,
		      struct e2_err *err)
{
	char **guids = NULL;
	size_t n = 0;
	enum e2_status rc;

	*guid_out = NULL;
	rc = e2_account_list(st, &guids, &n, err);
	for (size_t i = 0; i < n && rc == E2_OK && *guid_out == NULL; i++) {
		struct e2_account *a = NULL;

		rc = e2_account_load(st, guids[i], &a, err);
		if (rc == E2_OK && a->replyaddr != NULL &&
		    strcasecmp(a->replyaddr, addr) == 0) {
			*guid_out = strdup(a->guid);
			if (*guid_out == NULL)
				rc = outbox_oom(err);
		}
		e2_account_free(&a);
	}
	e2_strv_free(&guids, n);
	return rc;
}

enum e2_status
outbox_write_new(const char *path, const char *a, size_t alen, const char *b,
		 size_t blen, struct e2_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	const char *parts[2] = {a, b};
	size_t lens[2] = {alen, blen};
	enum e2_status rc = E2_OK;

	if (fd < 0)
		return e2_fail(err, E2_ESTORE, "create %s: %s", path,
			       strerror(errno));
	for (size_t k = 0; k < 2 && rc == E2_OK; k++) {
		size_t off = 0;

		while (off < lens[k]) {
			ssize_t w = write(fd, parts[k] + off, lens[k] - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = e2_fail(err, E2_ESTORE, "write %s: %s",
					     path, strerror(errno));
				break;
			}
			off += (size_t)w;
		}
	}
	if (rc == E2_OK && fsync(fd) != 0)
		rc = e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			     strerror(errno));
	if (close(fd) != 0 && rc == E2_OK)
		rc = e2_fail(err, E2_ESTORE, "close %s: %s", path,
			     strerror(errno));
	if (rc != E2_OK)
		(void)unlink(path);
	return rc;
}

/*
 * The envelope: rcpt, plus the header recipients when from_headers,
 * deduplicated without case, one per line, into *env_out (caller frees).
 */
static enum e2_status
outbox_envelope(const char *const *rcpt, size_t nrcpt, bool from_headers,
		const struct outbox_scan *sc, char **env_out,
		struct e2_err *err)
{
	size_t cap = 1, total = nrcpt + (from_headers ? sc->nrcpt : 0);
	char *env;

	for (size_t i = 0; i < nrcpt; i++) {
		if (!outbox_addr_ok(rcpt[i]))
			return e2_fail(err, E2_EINVAL,
				       "recipient \"%.200s\" is not an address"
				       " (local@domain)",
				       rcpt[i]);
		cap += strlen(rcpt[i]) + 1;
	}
	if (from_headers)
		for (size_t i = 0; i < sc->nrcpt; i++)
			cap += strlen(sc->rcpt[i]) + 1;
	if (total == 0)
		return e2_fail(err, E2_EINVAL,
			       "no recipient: none given and none taken from "
			       "the header (-t)");
	env = malloc(cap);
	if (env == NULL)
		return outbox_oom(err);
	env[0] = '\0';
	for (size_t i = 0; i < total; i++) {
		const char *r = i < nrcpt ? rcpt[i] : sc->rcpt[i - nrcpt];
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(j < nrcpt ? rcpt[j]
						   : sc->rcpt[j - nrcpt],
					 r) == 0;
		if (dup)
			continue;
		if (env[0] != '\0')
			(void)strncat(env, "\n", cap - strlen(env) - 1);
		(void)strncat(env, r, cap - strlen(env) - 1);
	}
	*env_out = env;
	return E2_OK;
}

enum e2_status
e2_outbox_submit(struct e2_store *st, const char *guid, const char *msg,
		 size_t len, const char *const *rcpt, size_t nrcpt,
		 bool from_headers, const char *from_name, char **id_out,
		 struct e2_err *err)
{
	struct e2_account *a = NULL;
	struct outbox_scan sc = {0};
	char *queue = NULL, *env = NULL, *from = NULL, *tmp = NULL;
	char id[OUTBOX_ID_MAX], tmpname[OUTBOX_ID_MAX + 8];
	const char *eol;
	const char *nl;
	int e;
	enum e2_status rc;

	rc = e2_account_load(st, guid, &a, err);
	if (rc != E2_OK)
		goto out;
	if (len > OUTBOX_MAX_BYTES) {
		rc = e2_fail(err, E2_EINVAL,
			     "message of %zu bytes exceeds the limit of %u "
			     "bytes",
			     len, OUTBOX_MAX_BYTES);
		goto out;
	}
	/* the checks the send applies, before anything is written */
	rc = outbox_scan_ex(msg, len, false, &sc, err);
	if (rc == E2_OK)
		rc = outbox_envelope(rcpt, nrcpt, from_headers, &sc, &env, err);
	if (rc != E2_OK)
		goto out;
	nl = memchr(msg, '\n', len);
	eol = nl != NULL && nl > msg && nl[-1] == '\r' ? "\r\n" : "\n";
	if (!sc.has_from && from_name != NULL && a->replyaddr != NULL &&
	    outbox_addr_ok(a->replyaddr)) {
		char *f = outbox_from_field(from_name, a->replyaddr);
		size_t fl = f != NULL ? strlen(f) + 3 : 0;

		from = f != NULL ? malloc(fl) : NULL;
		if (from != NULL)
			(void)snprintf(from, fl, "%s%s", f, eol);
		free(f);
		if (from == NULL) {
			rc = outbox_oom(err);
			goto out;
		}
	}
	rc = outbox_open(st, a->guid, &queue, err);
	if (rc == E2_OK)
		rc = outbox_id_new(id, err);
	if (rc != E2_OK)
		goto out;
	(void)snprintf(tmpname, sizeof(tmpname), "tmp/%s", id);
	tmp = outbox_join(queue, tmpname, NULL);
	if (tmp == NULL) {
		rc = outbox_oom(err);
		goto out;
	}
	/* 1. the bytes, durable; 2. the row; 3. the rename (outbox.h) */
	rc = outbox_write_new(tmp, from != NULL ? from : "",
			      from != NULL ? strlen(from) : 0, msg, len, err);
	if (rc != E2_OK)
		goto out;
	rc = outbox_row_insert(st, a->guid, id, tmpname, NULL,
			       (int64_t)time(NULL), env, err);
	if (rc != E2_OK) {
		(void)unlink(tmp);
		goto out;
	}
	e = outbox_claim_rename(queue, tmpname, id, "");
	if (e != 0 && e != ENOENT) {
		/* the row and tmp/ file stay: the next claim pass finishes */
		rc = e2_fail(err, E2_ESTORE, "queue %s: %s", tmp, strerror(e));
		goto out;
	}
	/* ENOENT: a sync's recovery moved it for us (outbox.h) */
	rc = outbox_fsync_subs(queue, err);
	if (rc == E2_OK)
		rc = outbox_clear_origin(st, a->guid, id, err);
	if (rc == E2_OK && id_out != NULL) {
		*id_out = strdup(id);
		if (*id_out == NULL)
			rc = outbox_oom(err);
	}
out:
	outbox_scan_free(&sc);
	e2_account_free(&a);
	free(queue);
	free(env);
	free(from);
	free(tmp);
	return rc;
}
