/* SPDX-License-Identifier: MIT */
/*
 * account_status.c -- each account's last sync run (table account_status,
 * migration 9) and the account list the tools show
 *
 * e2_sync_account() records every run it starts for an existing account in
 * one place, so the daemon, --once, a SIGUSR1 run and email2-sendmail's send
 * agree. The row holds the last run only (what `email2-account list` shows,
 * as fetchmail's and mbsync's logs would tell), plus when a run last ended
 * "ok"; the history belongs in the logs.
 */
#include "config.h"

#include "account_status.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

static const char *const account_status_result_names[] = {
	[E2_SYNC_NEVER] = "never",
	[E2_SYNC_OK] = "ok",
	[E2_SYNC_PARTIAL] = "partial",
	[E2_SYNC_FAILED] = "failed",
	[E2_SYNC_INTERRUPTED] = "interrupted",
};

const char *
e2_sync_result_name(enum e2_sync_result r)
{
	if ((unsigned)r >= sizeof(account_status_result_names) /
				   sizeof(account_status_result_names[0]))
		return "unknown";
	return account_status_result_names[r];
}

static enum e2_sync_result
account_status_result_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(account_status_result_names) /
				       sizeof(account_status_result_names[0]);
	     i++)
		if (s != NULL && strcmp(s, account_status_result_names[i]) == 0)
			return (enum e2_sync_result)i;
	return E2_SYNC_NEVER;
}

static enum e2_status
account_status_parse_code(const char *s)
{
	for (int i = 0; i < E2_STATUS_COUNT; i++)
		if (s != NULL && strcmp(s, e2_status_name(i)) == 0)
			return (enum e2_status)i;
	return E2_OK;
}

static enum e2_status
account_status_db_fail(sqlite3 *db, const char *what, struct e2_err *err)
{
	return e2_fail(err, E2_ESTORE, "accounts.db: %s: %s", what,
		       sqlite3_errmsg(db));
}

enum e2_sync_result
account_status_classify(enum e2_status rc, const struct e2_sync_stats *s,
			bool stopped)
{
	if (rc != E2_OK)
		return E2_SYNC_FAILED;
	if (stopped)
		return E2_SYNC_INTERRUPTED;
	if (s->skipped > 0)
		return E2_SYNC_PARTIAL;
	return E2_SYNC_OK;
}

/* The UPSERT keeps last_ok of earlier runs unless this one is "ok". */
#define ACCOUNT_STATUS_SQL_PUT                                                 \
	"INSERT INTO account_status (guid, kind, started, ended, result,"      \
	" status, error, downloaded, uploaded, moved, flags, deleted,"         \
	" removed, sent, send_failed, skipped, last_ok)"                       \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"     \
	" ?14, ?15, ?16, CASE WHEN ?5 = 'ok' THEN ?4 ELSE 0 END)"              \
	" ON CONFLICT (guid) DO UPDATE SET kind = excluded.kind,"              \
	" started = excluded.started, ended = excluded.ended,"                 \
	" result = excluded.result, status = excluded.status,"                 \
	" error = excluded.error, downloaded = excluded.downloaded,"           \
	" uploaded = excluded.uploaded, moved = excluded.moved,"               \
	" flags = excluded.flags, deleted = excluded.deleted,"                 \
	" removed = excluded.removed, sent = excluded.sent,"                   \
	" send_failed = excluded.send_failed, skipped = excluded.skipped,"     \
	" last_ok = CASE WHEN excluded.result = 'ok' THEN excluded.ended"      \
	" ELSE account_status.last_ok END"

enum e2_status
account_status_record(struct e2_store *st, const char *guid,
		      const struct e2_account_status *s, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const uint64_t counts[] = {s->downloaded, s->uploaded,    s->moved,
				   s->flags,      s->deleted,     s->removed,
				   s->sent,       s->send_failed, s->skipped};
	enum e2_status rc = E2_OK;
	int i = 1;

	if (sqlite3_prepare_v2(db, ACCOUNT_STATUS_SQL_PUT, -1, &stmt, NULL) !=
	    SQLITE_OK) {
		rc = account_status_db_fail(db, "record sync status", err);
		goto out;
	}
	if (sqlite3_bind_text(stmt, i++, guid, -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(stmt, i++, s->kind, -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_int64(stmt, i++, s->started) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, i++, s->ended) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, i++, e2_sync_result_name(s->result), -1,
			      SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, i++, e2_status_name(s->status), -1,
			      SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, i++, s->error, -1, SQLITE_STATIC) !=
		    SQLITE_OK) {
		rc = account_status_db_fail(db, "bind", err);
		goto out;
	}
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		if (sqlite3_bind_int64(stmt, i++, (sqlite3_int64)counts[k]) !=
		    SQLITE_OK) {
			rc = account_status_db_fail(db, "bind", err);
			goto out;
		}
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = account_status_db_fail(db, "record sync status", err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

void
account_status_from_stats(const struct e2_sync_stats *stats,
			  struct e2_account_status *s)
{
	s->downloaded = stats->messages;
	s->uploaded = stats->uploaded;
	s->moved = stats->moved;
	s->flags = (uint64_t)stats->flags_pushed + stats->flags_pulled;
	s->deleted = stats->deleted_server;
	s->removed = stats->removed_local;
	s->sent = stats->sent;
	s->send_failed = stats->send_failed;
	s->skipped = stats->skipped;
}

#define ACCOUNT_STATUS_SQL_GET                                                 \
	"SELECT kind, started, ended, result, status, error, downloaded,"      \
	" uploaded, moved, flags, deleted, removed, sent, send_failed,"        \
	" skipped, last_ok FROM account_status WHERE guid = ?1"

enum e2_status
e2_account_status_get(struct e2_store *st, const char *guid,
		      struct e2_account_status *status_out, struct e2_err *err)
{
	struct e2_account_status s = {0};
	char stored[STORE_GUID_MAX];
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	bool found = false;
	enum e2_status rc;
	int r;

	if (st == NULL || guid == NULL || status_out == NULL)
		return e2_fail(err, E2_EINVAL,
			       "account status: missing argument");
	rc = store_account_find(st, guid, &found, stored, err);
	if (rc != E2_OK)
		return rc;
	if (!found)
		return e2_fail(err, E2_EINVAL, "account %s: not found in %s",
			       stored, e2_store_dir(st));
	db = store_db(st);
	if (sqlite3_prepare_v2(db, ACCOUNT_STATUS_SQL_GET, -1, &stmt, NULL) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(stmt, 1, stored, -1, SQLITE_STATIC) !=
		    SQLITE_OK) {
		rc = account_status_db_fail(db, "read sync status", err);
		goto out;
	}
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		const char *t;

		t = (const char *)sqlite3_column_text(stmt, 0);
		(void)snprintf(s.kind, sizeof(s.kind), "%s",
			       t != NULL ? t : "");
		s.started = sqlite3_column_int64(stmt, 1);
		s.ended = sqlite3_column_int64(stmt, 2);
		s.result = account_status_result_parse(
			(const char *)sqlite3_column_text(stmt, 3));
		s.status = account_status_parse_code(
			(const char *)sqlite3_column_text(stmt, 4));
		t = (const char *)sqlite3_column_text(stmt, 5);
		(void)snprintf(s.error, sizeof(s.error), "%s",
			       t != NULL ? t : "");
		s.downloaded = (uint64_t)sqlite3_column_int64(stmt, 6);
		s.uploaded = (uint64_t)sqlite3_column_int64(stmt, 7);
		s.moved = (uint64_t)sqlite3_column_int64(stmt, 8);
		s.flags = (uint64_t)sqlite3_column_int64(stmt, 9);
		s.deleted = (uint64_t)sqlite3_column_int64(stmt, 10);
		s.removed = (uint64_t)sqlite3_column_int64(stmt, 11);
		s.sent = (uint64_t)sqlite3_column_int64(stmt, 12);
		s.send_failed = (uint64_t)sqlite3_column_int64(stmt, 13);
		s.skipped = (uint64_t)sqlite3_column_int64(stmt, 14);
		s.last_ok = sqlite3_column_int64(stmt, 15);
	} else if (r != SQLITE_DONE) {
		rc = account_status_db_fail(db, "read sync status", err);
		goto out;
	}
	*status_out = s;
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* ---- the account list -------------------------------------------------- */

static char *
account_status_node(struct e2_store *st, const char *guid, const char *node,
		    enum e2_status *rc, struct e2_err *err)
{
	bool found = false;
	char *v = NULL;

	if (*rc != E2_OK)
		return NULL;
	*rc = store_node_get(st, guid, node, &found, &v, err);
	if (*rc != E2_OK)
		return NULL;
	if (v == NULL)
		v = strdup("");
	if (v == NULL)
		*rc = e2_fail(err, E2_ENOMEM, "out of memory");
	return v;
}

/* Entries of <at>/<sub> not starting with "." (Maildir file names). */
static size_t
account_status_count_dir(int at, const char *sub)
{
	int fd = openat(at, sub,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		(void)close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

/*
 * The mail files of <store>/mail/<guid>: new/ and cur/ of INBOX (the root)
 * and of each Maildir++ folder (".Name"), the legacy ".Outbox" queue
 * excluded. For the user's confirmation, so a best effort: what cannot be
 * read counts 0. Symlinks are not followed.
 */
static size_t
account_status_count_mail(struct e2_store *st, const char *guid)
{
	char path[4096];
	int fd, sub;
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (snprintf(path, sizeof(path), "%s/mail/%s", e2_store_dir(st),
		     guid) >= (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = account_status_count_dir(fd, "new") +
	    account_status_count_dir(fd, "cur");
	sub = dup(fd);
	d = sub >= 0 ? fdopendir(sub) : NULL;
	if (d == NULL && sub >= 0)
		(void)close(sub);
	while (d != NULL && (de = readdir(d)) != NULL) {
		int ffd;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".Outbox") == 0)
			continue;
		ffd = openat(fd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ffd < 0)
			continue;
		n += account_status_count_dir(ffd, "new") +
		     account_status_count_dir(ffd, "cur");
		(void)close(ffd);
	}
	if (d != NULL)
		(void)closedir(d);
	(void)close(fd);
	return n;
}

/* The items the contacts and calendar syncs keep for guid (their state
 * rows: one per file in step with the server); 0 when unreadable. */
static void
account_status_count_dav(struct e2_store *st, const char *guid,
			 struct e2_account_info *x)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(store_db(st),
			       "SELECT kind, count(*) FROM dav_items"
			       " WHERE guid = ?1 GROUP BY kind",
			       -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC) != SQLITE_OK) {
		(void)sqlite3_finalize(stmt);
		return;
	}
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const unsigned char *kind = sqlite3_column_text(stmt, 0);
		sqlite3_int64 k = sqlite3_column_int64(stmt, 1);
		size_t count = k > 0 ? (size_t)k : 0;

		if (kind != NULL && strcmp((const char *)kind, "card") == 0)
			x->contacts = count;
		else if (kind != NULL && strcmp((const char *)kind, "cal") == 0)
			x->calendar_items = count;
	}
	(void)sqlite3_finalize(stmt);
}

void
e2_account_infos_free(struct e2_account_info **v, size_t n)
{
	if (v == NULL || *v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*v)[i].guid);
		free((*v)[i].name);
		free((*v)[i].replyaddr);
		free((*v)[i].inserver);
		free((*v)[i].outserver);
	}
	free(*v);
	*v = NULL;
}

enum e2_status
e2_account_list_info(struct e2_store *st, struct e2_account_info **v_out,
		     size_t *n_out, struct e2_err *err)
{
	struct e2_account_info *v = NULL;
	struct e2_outbox_item *items = NULL;
	char **guids = NULL;
	size_t n = 0, n_items = 0;
	enum e2_status rc;

	if (st == NULL || v_out == NULL || n_out == NULL)
		return e2_fail(err, E2_EINVAL,
			       "account list: missing argument");
	rc = store_account_list(st, &guids, &n, err);
	if (rc != E2_OK)
		goto out;
	v = calloc(n > 0 ? n : 1, sizeof(*v));
	if (v == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct e2_account_info *x = &v[i];
		char *svc;

		x->guid = guids[i];
		guids[i] = NULL;
		x->name = account_status_node(st, x->guid, "NAME", &rc, err);
		x->replyaddr =
			account_status_node(st, x->guid, "REPLYADDR", &rc, err);
		x->inserver =
			account_status_node(st, x->guid, "INSERVER", &rc, err);
		x->outserver =
			account_status_node(st, x->guid, "OUTSERVER", &rc, err);
		svc = account_status_node(st, x->guid, "SERVICETYPE", &rc, err);
		x->service = svc != NULL && strcmp(svc, "POP3") == 0
				     ? E2_SERVICE_POP3
				     : E2_SERVICE_IMAP4;
		free(svc);
		if (rc == E2_OK)
			rc = e2_account_status_get(st, x->guid, &x->status,
						   err);
		x->messages = account_status_count_mail(st, x->guid);
		account_status_count_dav(st, x->guid, x);
	}
	if (rc != E2_OK)
		goto out;
	/* the queue counts, as email2-outbox list shows them */
	rc = e2_outbox_list(st, NULL, &items, &n_items, err);
	for (size_t k = 0; rc == E2_OK && k < n_items; k++)
		for (size_t i = 0; i < n; i++) {
			if (strcmp(v[i].guid, items[k].guid) != 0)
				continue;
			if (items[k].state == E2_OUTBOX_FAILED)
				v[i].failed++;
			else if (items[k].state != E2_OUTBOX_SENT)
				v[i].queued++;
			break;
		}
	if (rc != E2_OK)
		goto out;
	*v_out = v;
	*n_out = n;
	v = NULL;
out:
	e2_outbox_items_free(&items, n_items);
	e2_account_infos_free(&v, n);
	e2_strv_free(&guids, n);
	return rc;
}
