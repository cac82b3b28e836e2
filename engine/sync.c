/* SPDX-License-Identifier: MIT */
/* sync.c -- per-account sync driver (send, then receive) and sync state */
#include "config.h"

#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SYNC_DEFAULT_TIMEOUT_MS 30000u
#define SYNC_DEFAULT_BATCH_MSGS 200u
#define SYNC_DEFAULT_BATCH_BYTES (8u * 1024 * 1024)

/* ---- sync state ---------------------------------------------------------- */

static const char sync_state_schema[] =
	"CREATE TABLE IF NOT EXISTS e2sync_folder ("
	" guid TEXT NOT NULL REFERENCES accounts(guid) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" nmsgs INTEGER NOT NULL,"
	" PRIMARY KEY (guid, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS e2sync_msg ("
	" guid TEXT NOT NULL REFERENCES accounts(guid) ON DELETE CASCADE,"
	" folder TEXT NOT NULL,"
	" uid INTEGER NOT NULL,"
	" uniq TEXT NOT NULL,"
	" flags TEXT NOT NULL,"
	" partial INTEGER NOT NULL,"
	" PRIMARY KEY (guid, folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS e2sync_uidl ("
	" guid TEXT NOT NULL REFERENCES accounts(guid) ON DELETE CASCADE,"
	" uidl TEXT NOT NULL,"
	" uniq TEXT NOT NULL,"
	" partial INTEGER NOT NULL,"
	" PRIMARY KEY (guid, uidl)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS e2sync_outbox ("
	" guid TEXT NOT NULL REFERENCES accounts(guid) ON DELETE CASCADE,"
	" uniq TEXT NOT NULL,"
	" tries INTEGER NOT NULL,"
	" last_error TEXT,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (guid, uniq)) WITHOUT ROWID;";

static enum e2_status
sync_db_fail(struct e2_store *st, struct e2_err *err, const char *what)
{
	return e2_fail(err, E2_ESTORE, "sync state %s: %s", what,
		       sqlite3_errmsg(store_db(st)));
}

enum e2_status
sync_state_init(struct e2_store *st, struct e2_err *err)
{
	char *msg = NULL;
	enum e2_status rc = E2_OK;

	if (sqlite3_exec(store_db(st), sync_state_schema, NULL, NULL, &msg) !=
	    SQLITE_OK) {
		rc = e2_fail(err, E2_ESTORE, "sync state schema: %s",
			     msg != NULL ? msg : "failed");
	}
	sqlite3_free(msg);
	return rc;
}

static enum e2_status
sync_prepare(struct e2_store *st, const char *sql, sqlite3_stmt **stmt_out,
	     struct e2_err *err)
{
	if (sqlite3_prepare_v2(store_db(st), sql, -1, stmt_out, NULL) !=
	    SQLITE_OK)
		return sync_db_fail(st, err, "prepare");
	return E2_OK;
}

static enum e2_status
sync_step_done(struct e2_store *st, sqlite3_stmt *stmt, struct e2_err *err)
{
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return sync_db_fail(st, err, "write");
	return E2_OK;
}

enum e2_status
sync_state_folder_get(struct e2_store *st, const char *guid, const char *folder,
		      struct sync_folder_state *fs_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct sync_folder_state fs = {0};
	enum e2_status rc;
	int r;

	rc = sync_prepare(st,
			  "SELECT uidvalidity, uidnext, modseq, nmsgs"
			  " FROM e2sync_folder WHERE guid = ?1 AND name = ?2",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		fs.known = true;
		fs.uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 0);
		fs.uidnext = (uint32_t)sqlite3_column_int64(stmt, 1);
		fs.modseq = (uint64_t)sqlite3_column_int64(stmt, 2);
		fs.nmsgs = (uint32_t)sqlite3_column_int64(stmt, 3);
	} else if (r != SQLITE_DONE) {
		rc = sync_db_fail(st, err, "read folder");
		goto out;
	}
	*fs_out = fs;
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_folder_put(struct e2_store *st, const char *guid, const char *folder,
		      const struct sync_folder_state *fs, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = sync_prepare(st,
			  "INSERT OR REPLACE INTO e2sync_folder (guid, name,"
			  " uidvalidity, uidnext, modseq, nmsgs)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, fs->uidvalidity);
	sqlite3_bind_int64(stmt, 4, fs->uidnext);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)fs->modseq);
	sqlite3_bind_int64(stmt, 6, fs->nmsgs);
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

static enum e2_status
sync_exec2(struct e2_store *st, const char *sql, const char *a, const char *b,
	   struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = sync_prepare(st, sql, &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_folder_reset(struct e2_store *st, const char *guid,
			const char *folder, struct e2_err *err)
{
	enum e2_status rc;

	rc = sync_exec2(st,
			"DELETE FROM e2sync_msg WHERE guid = ?1"
			" AND folder = ?2",
			guid, folder, err);
	if (rc != E2_OK)
		return rc;
	return sync_exec2(st,
			  "DELETE FROM e2sync_folder WHERE guid = ?1"
			  " AND name = ?2",
			  guid, folder, err);
}

void
sync_msg_rows_free(struct sync_msg_row **rows, size_t n)
{
	if (rows == NULL || *rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*rows)[i].uniq);
	free(*rows);
	*rows = NULL;
}

enum e2_status
sync_state_msgs_load(struct e2_store *st, const char *guid, const char *folder,
		     struct sync_msg_row **rows_out, size_t *n_out,
		     struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct sync_msg_row *rows = NULL, *grown;
	size_t n = 0, cap = 0;
	enum e2_status rc;
	int r;

	rc = sync_prepare(st,
			  "SELECT uid, uniq, flags, partial FROM e2sync_msg"
			  " WHERE guid = ?1 AND folder = ?2 ORDER BY uid",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *u = (const char *)sqlite3_column_text(stmt, 1);
		const char *f = (const char *)sqlite3_column_text(stmt, 2);

		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			grown = realloc(rows, cap * sizeof(*rows));
			if (grown == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
			rows = grown;
		}
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		rows[n].uniq = strdup(u != NULL ? u : "");
		if (rows[n].uniq == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		maildir_flags_normalize(f != NULL ? f : "", rows[n].flags);
		rows[n].partial = sqlite3_column_int(stmt, 3) != 0;
		n++;
	}
	if (r != SQLITE_DONE) {
		rc = sync_db_fail(st, err, "read messages");
		goto out;
	}
	*rows_out = rows;
	*n_out = n;
	rows = NULL;
	n = 0;
out:
	sync_msg_rows_free(&rows, n);
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_msg_put(struct e2_store *st, const char *guid, const char *folder,
		   const struct sync_msg_row *row, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = sync_prepare(st,
			  "INSERT OR REPLACE INTO e2sync_msg (guid, folder,"
			  " uid, uniq, flags, partial)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, row->uid);
	sqlite3_bind_text(stmt, 4, row->uniq, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, row->flags, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 6, row->partial ? 1 : 0);
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_msg_del(struct e2_store *st, const char *guid, const char *folder,
		   uint32_t uid, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = sync_prepare(st,
			  "DELETE FROM e2sync_msg WHERE guid = ?1"
			  " AND folder = ?2 AND uid = ?3",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, uid);
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_uidl_get(struct e2_store *st, const char *guid, const char *uidl,
		    bool *found_out, char **uniq_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	int r;

	rc = sync_prepare(st,
			  "SELECT uniq FROM e2sync_uidl WHERE guid = ?1"
			  " AND uidl = ?2",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, uidl, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		if (uniq_out != NULL) {
			const char *u =
				(const char *)sqlite3_column_text(stmt, 0);

			*uniq_out = strdup(u != NULL ? u : "");
			if (*uniq_out == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
		}
		*found_out = true;
	} else if (r == SQLITE_DONE) {
		*found_out = false;
	} else {
		rc = sync_db_fail(st, err, "read uidl");
	}
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_uidl_put(struct e2_store *st, const char *guid, const char *uidl,
		    const char *uniq, bool partial, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = sync_prepare(st,
			  "INSERT OR REPLACE INTO e2sync_uidl (guid, uidl,"
			  " uniq, partial) VALUES (?1, ?2, ?3, ?4)",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, uniq, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, partial ? 1 : 0);
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
sync_state_uidl_del(struct e2_store *st, const char *guid, const char *uidl,
		    struct e2_err *err)
{
	return sync_exec2(st,
			  "DELETE FROM e2sync_uidl WHERE guid = ?1"
			  " AND uidl = ?2",
			  guid, uidl, err);
}

enum e2_status
sync_state_outbox_note(struct e2_store *st, const char *guid, const char *uniq,
		       const char *error, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	if (error == NULL)
		return sync_exec2(st,
				  "DELETE FROM e2sync_outbox WHERE guid = ?1"
				  " AND uniq = ?2",
				  guid, uniq, err);
	rc = sync_prepare(st,
			  "INSERT INTO e2sync_outbox (guid, uniq, tries,"
			  " last_error, updated) VALUES (?1, ?2, 1, ?3, ?4)"
			  " ON CONFLICT (guid, uniq) DO UPDATE SET"
			  " tries = tries + 1, last_error = ?3, updated = ?4",
			  &stmt, err);
	if (rc != E2_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, uniq, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL));
	rc = sync_step_done(st, stmt, err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* ---- helpers ----------------------------------------------------------------
 */

void
sync_flags_from_imap(bool seen, bool flagged, bool answered, bool draft,
		     char out[MAILDIR_FLAGS_MAX])
{
	char raw[8];
	size_t n = 0;

	if (draft)
		raw[n++] = 'D';
	if (flagged)
		raw[n++] = 'F';
	if (answered)
		raw[n++] = 'R';
	if (seen)
		raw[n++] = 'S';
	raw[n] = '\0';
	maildir_flags_normalize(raw, out);
}

bool
sync_stopping(const struct sync_ctx *c)
{
	return c->o.stop != NULL && *c->o.stop != 0;
}

void
sync_progress(const struct sync_ctx *c)
{
	if (c->o.progress != NULL)
		c->o.progress(c->o.progress_ctx, c->a->guid, c->stats);
}

static double
sync_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the driver
 * -------------------------------------------------------------- */

enum e2_status
e2_sync_account(struct e2_store *st, const char *guid,
		const struct e2_sync_opts *opts,
		struct e2_sync_stats *stats_out, struct e2_err *err)
{
	struct e2_account *a = NULL;
	struct e2_sync_stats stats = {0};
	struct sync_ctx c = {0};
	char *root = NULL;
	size_t len;
	double t0 = sync_now_s();
	enum e2_status rc, send_rc = E2_OK;
	struct e2_err send_err = {0};

	if (st == NULL || guid == NULL) {
		rc = e2_fail(err, E2_EINVAL, "sync: missing argument");
		goto out;
	}
	rc = e2_account_load(st, guid, &a, err);
	if (rc != E2_OK)
		goto out;
	rc = sync_state_init(st, err);
	if (rc != E2_OK)
		goto out;
	if (opts != NULL)
		c.o = *opts;
	if (c.o.timeout_ms == 0)
		c.o.timeout_ms = SYNC_DEFAULT_TIMEOUT_MS;
	if (c.o.batch_msgs == 0)
		c.o.batch_msgs = SYNC_DEFAULT_BATCH_MSGS;
	if (c.o.batch_bytes == 0)
		c.o.batch_bytes = SYNC_DEFAULT_BATCH_BYTES;
	c.st = st;
	c.a = a;
	c.stats = &stats;
	c.now = time(NULL);
	len = strlen(e2_store_dir(st)) + strlen(a->guid) + 8;
	root = malloc(len);
	if (root == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	(void)snprintf(root, len, "%s/mail/%s", e2_store_dir(st), a->guid);
	{
		/* <store>/mail itself, 0700 like the store */
		char *mail = strndup(root, strlen(root) - strlen(a->guid) - 1);

		if (mail == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		(void)mkdir(mail, 0700);
		free(mail);
	}
	rc = maildir_open(root, &c.md, err);
	if (rc != E2_OK)
		goto out;
	/* what an interrupted run of ours left in tmp/ */
	rc = maildir_recover(c.md, c.now, NULL, err);
	if (rc != E2_OK)
		goto out;
	/*
	 * Send first: a failed send is recorded per message and does not stop
	 * the download; its cause is reported when the download succeeded.
	 */
	if (!c.o.no_send) {
		send_rc = sync_send_run(&c, &send_err);
	}
	if (!c.o.no_receive && !sync_stopping(&c)) {
		if (a->service == E2_SERVICE_POP3)
			rc = sync_pop3_run(&c, err);
		else
			rc = sync_imap_run(&c, err);
		if (rc != E2_OK)
			goto out;
	}
	if (send_rc != E2_OK) {
		rc = e2_fail(err, send_rc, "%s", send_err.msg);
		goto out;
	}
out:
	stats.seconds = sync_now_s() - t0;
	if (stats_out != NULL)
		*stats_out = stats;
	if (c.a != NULL)
		sync_progress(&c);
	maildir_close(&c.md);
	free(root);
	e2_account_free(&a);
	return rc;
}
