/* SPDX-License-Identifier: MIT */
/* syncstate.c -- sync state tables and cached statements over them */
#include "config.h"

#include "syncstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_COLS                                                               \
	"uid, uidl, local_name, flags, size, partial, omitted, internal_date"

enum syncstate_sql {
	SQL_FOLDER_GET = 0,
	SQL_FOLDER_PUT,
	SQL_FOLDER_DEL,
	SQL_FOLDER_CLEAR,
	SQL_PENDING_CLEAR,
	SQL_MSG_PUT,
	SQL_MSG_GET_UID,
	SQL_MSG_GET_UIDL,
	SQL_MSG_GET_LOCAL,
	SQL_MSG_DEL_UID,
	SQL_MSG_DEL_UIDL,
	SQL_MSG_SET_FLAGS,
	SQL_MSG_LIST_UID,
	SQL_MSG_LIST_UIDL,
	SQL_MSG_COUNT,
	SQL_PENDING_ADD,
	SQL_PENDING_LIST,
	SQL_PENDING_DONE,
	SQL_FOLDER_ID_ENSURE,
	SQL_FOLDER_ID_GET,
	SQL_UPLOAD_PUT,
	SQL_UPLOAD_GET,
	SQL_UPLOAD_DONE,
	SQL_UPLOAD_LIST,
	SQL_COUNT
};

/* ?1 is always the GUID, ?2 the folder where there is one. */
static const char *const syncstate_sqls[] = {
	[SQL_FOLDER_GET] = "SELECT uidvalidity, highestmodseq, uidnext,"
			   " messages, local_stamp, server_stamp"
			   " FROM sync_folders WHERE guid = ?1 AND folder = ?2",
	[SQL_FOLDER_PUT] =
		"INSERT OR REPLACE INTO sync_folders"
		" (guid, folder, uidvalidity, highestmodseq, uidnext,"
		" messages, local_stamp, server_stamp)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SQL_FOLDER_DEL] = "DELETE FROM sync_folders"
			   " WHERE guid = ?1 AND folder = ?2",
	[SQL_FOLDER_CLEAR] = "DELETE FROM sync_messages"
			     " WHERE guid = ?1 AND folder = ?2",
	[SQL_PENDING_CLEAR] = "DELETE FROM sync_pending"
			      " WHERE guid = ?1 AND folder = ?2",
	[SQL_MSG_PUT] =
		"INSERT OR REPLACE INTO sync_messages (guid, folder, " MSG_COLS
		") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		" ?9, ?10)",
	[SQL_MSG_GET_UID] = "SELECT " MSG_COLS " FROM sync_messages"
			    " WHERE guid = ?1 AND folder = ?2 AND uid = ?3",
	[SQL_MSG_GET_UIDL] = "SELECT " MSG_COLS " FROM sync_messages"
			     " WHERE guid = ?1 AND folder = ?2 AND uidl = ?3",
	[SQL_MSG_GET_LOCAL] = "SELECT " MSG_COLS " FROM sync_messages"
			      " WHERE guid = ?1 AND folder = ?2"
			      " AND local_name = ?3 LIMIT 1",
	[SQL_MSG_DEL_UID] = "DELETE FROM sync_messages"
			    " WHERE guid = ?1 AND folder = ?2 AND uid = ?3",
	[SQL_MSG_DEL_UIDL] = "DELETE FROM sync_messages"
			     " WHERE guid = ?1 AND folder = ?2 AND uidl = ?3",
	[SQL_MSG_SET_FLAGS] = "UPDATE sync_messages SET flags = ?4"
			      " WHERE guid = ?1 AND folder = ?2 AND uid = ?3",
	[SQL_MSG_LIST_UID] = "SELECT " MSG_COLS " FROM sync_messages"
			     " WHERE guid = ?1 AND folder = ?2"
			     " AND uid IS NOT NULL AND uid > ?3"
			     " ORDER BY uid LIMIT ?4",
	[SQL_MSG_LIST_UIDL] = "SELECT " MSG_COLS " FROM sync_messages"
			      " WHERE guid = ?1 AND folder = ?2"
			      " AND uidl IS NOT NULL AND uidl > ?3"
			      " ORDER BY uidl LIMIT ?4",
	[SQL_MSG_COUNT] = "SELECT count(*), min(CASE WHEN internal_date != 0"
			  " AND instr(flags, 'A') = 0 THEN internal_date END)"
			  " FROM sync_messages WHERE guid = ?1 AND folder = ?2",
	[SQL_PENDING_ADD] = "INSERT OR REPLACE INTO sync_pending"
			    " (guid, folder, uid, uidl, action, created)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQL_PENDING_LIST] = "SELECT uid, uidl, action, created"
			     " FROM sync_pending WHERE guid = ?1"
			     " AND folder = ?2 ORDER BY created, uid, uidl"
			     " LIMIT ?3",
	[SQL_PENDING_DONE] = "DELETE FROM sync_pending WHERE guid = ?1"
			     " AND folder = ?2 AND uid = ?3 AND uidl = ?4",
	[SQL_FOLDER_ID_ENSURE] = "INSERT OR IGNORE INTO sync_folder_ids"
				 " (guid, folder) VALUES (?1, ?2)",
	[SQL_FOLDER_ID_GET] = "SELECT id FROM sync_folder_ids"
			      " WHERE guid = ?1 AND folder = ?2",
	[SQL_UPLOAD_PUT] =
		"INSERT OR REPLACE INTO sync_uploads (guid, folder,"
		" local_name, message_id, size, uidnext, src_folder, src_uid,"
		" created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQL_UPLOAD_GET] = "SELECT message_id, size, uidnext, src_folder,"
			   " src_uid, created FROM sync_uploads"
			   " WHERE guid = ?1 AND folder = ?2"
			   " AND local_name = ?3",
	[SQL_UPLOAD_DONE] = "DELETE FROM sync_uploads WHERE guid = ?1"
			    " AND folder = ?2 AND local_name = ?3",
	[SQL_UPLOAD_LIST] = "SELECT message_id, size, uidnext, src_folder,"
			    " src_uid, created, local_name FROM sync_uploads"
			    " WHERE guid = ?1 AND folder = ?2"
			    " ORDER BY local_name LIMIT ?3",
};
_Static_assert(sizeof(syncstate_sqls) / sizeof(syncstate_sqls[0]) == SQL_COUNT,
	       "every statement needs its SQL");

struct syncstate {
	sqlite3 *db;
	char *guid;
	sqlite3_stmt *stmts[SQL_COUNT];
};

static enum e2_status
syncstate_fail(sqlite3 *db, const char *what, struct e2_err *err)
{
	return e2_fail(err, E2_ESTORE, "sync state %s: %s", what,
		       sqlite3_errmsg(db));
}

enum e2_status
syncstate_new(sqlite3 *db, const char *guid, struct syncstate **ss_out,
	      struct e2_err *err)
{
	struct syncstate *ss = calloc(1, sizeof(*ss));

	if (ss == NULL || (ss->guid = strdup(guid)) == NULL) {
		free(ss);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	ss->db = db;
	*ss_out = ss;
	return E2_OK;
}

void
syncstate_free(struct syncstate **ss)
{
	if (ss == NULL || *ss == NULL)
		return;
	for (size_t i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize((*ss)->stmts[i]);
	free((*ss)->guid);
	free(*ss);
	*ss = NULL;
}

/* The cached statement, reset, with ?1 = GUID and ?2 = folder bound. */
static enum e2_status
syncstate_stmt(struct syncstate *ss, enum syncstate_sql id, const char *folder,
	       sqlite3_stmt **stmt_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = ss->stmts[id];

	if (stmt == NULL) {
		if (sqlite3_prepare_v3(ss->db, syncstate_sqls[id], -1,
				       SQLITE_PREPARE_PERSISTENT, &stmt,
				       NULL) != SQLITE_OK)
			return syncstate_fail(ss->db, "prepare", err);
		ss->stmts[id] = stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (sqlite3_bind_text(stmt, 1, ss->guid, -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    (folder != NULL &&
	     sqlite3_bind_text(stmt, 2, folder, -1, SQLITE_TRANSIENT) !=
		     SQLITE_OK))
		return syncstate_fail(ss->db, "bind", err);
	*stmt_out = stmt;
	return E2_OK;
}

/* Steps a statement that returns no row. */
static enum e2_status
syncstate_done(struct syncstate *ss, sqlite3_stmt *stmt, const char *what,
	       struct e2_err *err)
{
	int r = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	if (r != SQLITE_DONE)
		return syncstate_fail(ss->db, what, err);
	return E2_OK;
}

static void
syncstate_copy_text(char *dst, size_t dstlen, sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	(void)snprintf(dst, dstlen, "%s", t != NULL ? (const char *)t : "");
}

/* ---- folders
 * ------------------------------------------------------------------ */

enum e2_status
syncstate_folder_get(struct syncstate *ss, const char *folder, bool *found_out,
		     struct syncstate_folder *f_out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;
	int r;

	rc = syncstate_stmt(ss, SQL_FOLDER_GET, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		f_out->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 0);
		f_out->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 1);
		f_out->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
		f_out->messages = (uint32_t)sqlite3_column_int64(stmt, 3);
		syncstate_copy_text(f_out->local_stamp,
				    sizeof(f_out->local_stamp), stmt, 4);
		syncstate_copy_text(f_out->server_stamp,
				    sizeof(f_out->server_stamp), stmt, 5);
		*found_out = true;
	} else if (r == SQLITE_DONE) {
		*found_out = false;
	} else {
		rc = syncstate_fail(ss->db, "folder get", err);
	}
	sqlite3_reset(stmt);
	return rc;
}

enum e2_status
syncstate_folder_put(struct syncstate *ss, const char *folder,
		     const struct syncstate_folder *f, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_FOLDER_PUT, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, f->uidvalidity);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)f->highestmodseq);
	sqlite3_bind_int64(stmt, 5, f->uidnext);
	sqlite3_bind_int64(stmt, 6, f->messages);
	sqlite3_bind_text(stmt, 7, f->local_stamp, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 8, f->server_stamp, -1, SQLITE_STATIC);
	return syncstate_done(ss, stmt, "folder put", err);
}

static enum e2_status
syncstate_folder_exec(struct syncstate *ss, enum syncstate_sql id,
		      const char *folder, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, id, folder, &stmt, err);
	if (rc == E2_OK)
		rc = syncstate_done(ss, stmt, "folder delete", err);
	return rc;
}

enum e2_status
syncstate_folder_delete(struct syncstate *ss, const char *folder,
			struct e2_err *err)
{
	enum e2_status rc;

	rc = syncstate_folder_exec(ss, SQL_FOLDER_CLEAR, folder, err);
	if (rc == E2_OK)
		rc = syncstate_folder_exec(ss, SQL_PENDING_CLEAR, folder, err);
	if (rc == E2_OK)
		rc = syncstate_folder_exec(ss, SQL_FOLDER_DEL, folder, err);
	return rc;
}

enum e2_status
syncstate_folder_clear(struct syncstate *ss, const char *folder,
		       struct e2_err *err)
{
	return syncstate_folder_exec(ss, SQL_FOLDER_CLEAR, folder, err);
}

/* ---- messages ---------------------------------------------------------------
 */

static void
syncstate_msg_read(sqlite3_stmt *stmt, struct syncstate_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
	syncstate_copy_text(m->uidl, sizeof(m->uidl), stmt, 1);
	syncstate_copy_text(m->local_name, sizeof(m->local_name), stmt, 2);
	syncstate_copy_text(m->flags, sizeof(m->flags), stmt, 3);
	m->size = (uint64_t)sqlite3_column_int64(stmt, 4);
	m->partial = sqlite3_column_int(stmt, 5) != 0;
	m->omitted = sqlite3_column_int(stmt, 6) != 0;
	m->internal_date = sqlite3_column_int64(stmt, 7);
}

enum e2_status
syncstate_msg_put(struct syncstate *ss, const char *folder,
		  const struct syncstate_msg *m, struct e2_err *err)
{
	char flags[MAILDIR_FLAGS_MAX];
	sqlite3_stmt *stmt;
	enum e2_status rc;

	if ((m->uid == 0) == (m->uidl[0] == '\0') || m->local_name[0] == '\0')
		return e2_fail(err, E2_EINVAL,
			       "sync state row needs a uid or a uidl and a "
			       "local name");
	rc = syncstate_stmt(ss, SQL_MSG_PUT, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	maildir_flags_normalize(m->flags, flags);
	if (m->uid != 0)
		sqlite3_bind_int64(stmt, 3, m->uid);
	else
		sqlite3_bind_text(stmt, 4, m->uidl, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 5, m->local_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 6, flags, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)m->size);
	sqlite3_bind_int(stmt, 8, m->partial ? 1 : 0);
	sqlite3_bind_int(stmt, 9, m->omitted ? 1 : 0);
	sqlite3_bind_int64(stmt, 10, m->internal_date);
	return syncstate_done(ss, stmt, "message put", err);
}

/* Steps a statement returning at most one message row. */
static enum e2_status
syncstate_msg_one(struct syncstate *ss, sqlite3_stmt *stmt, bool *found_out,
		  struct syncstate_msg *m_out, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	int r = sqlite3_step(stmt);

	if (r == SQLITE_ROW) {
		syncstate_msg_read(stmt, m_out);
		*found_out = true;
	} else if (r == SQLITE_DONE) {
		*found_out = false;
	} else {
		rc = syncstate_fail(ss->db, "message get", err);
	}
	sqlite3_reset(stmt);
	return rc;
}

enum e2_status
syncstate_msg_get_uid(struct syncstate *ss, const char *folder, uint32_t uid,
		      bool *found_out, struct syncstate_msg *m_out,
		      struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_GET_UID, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, uid);
	return syncstate_msg_one(ss, stmt, found_out, m_out, err);
}

static enum e2_status
syncstate_msg_by_text(struct syncstate *ss, enum syncstate_sql id,
		      const char *folder, const char *key, bool *found_out,
		      struct syncstate_msg *m_out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, id, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, key, -1, SQLITE_TRANSIENT);
	return syncstate_msg_one(ss, stmt, found_out, m_out, err);
}

enum e2_status
syncstate_msg_get_uidl(struct syncstate *ss, const char *folder,
		       const char *uidl, bool *found_out,
		       struct syncstate_msg *m_out, struct e2_err *err)
{
	return syncstate_msg_by_text(ss, SQL_MSG_GET_UIDL, folder, uidl,
				     found_out, m_out, err);
}

enum e2_status
syncstate_msg_get_local(struct syncstate *ss, const char *folder,
			const char *local_name, bool *found_out,
			struct syncstate_msg *m_out, struct e2_err *err)
{
	return syncstate_msg_by_text(ss, SQL_MSG_GET_LOCAL, folder, local_name,
				     found_out, m_out, err);
}

enum e2_status
syncstate_msg_delete_uid(struct syncstate *ss, const char *folder, uint32_t uid,
			 struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_DEL_UID, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, uid);
	return syncstate_done(ss, stmt, "message delete", err);
}

enum e2_status
syncstate_msg_delete_uidl(struct syncstate *ss, const char *folder,
			  const char *uidl, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_DEL_UIDL, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, uidl, -1, SQLITE_TRANSIENT);
	return syncstate_done(ss, stmt, "message delete", err);
}

enum e2_status
syncstate_msg_set_flags(struct syncstate *ss, const char *folder, uint32_t uid,
			const char *flags, struct e2_err *err)
{
	char norm[MAILDIR_FLAGS_MAX];
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_SET_FLAGS, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	maildir_flags_normalize(flags, norm);
	sqlite3_bind_int64(stmt, 3, uid);
	sqlite3_bind_text(stmt, 4, norm, -1, SQLITE_TRANSIENT);
	return syncstate_done(ss, stmt, "message flags", err);
}

static enum e2_status
syncstate_msg_page(struct syncstate *ss, sqlite3_stmt *stmt,
		   struct syncstate_msg *buf, size_t max, size_t *n_out,
		   struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	int r = SQLITE_DONE;
	size_t n = 0;

	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)max);
	while (n < max && (r = sqlite3_step(stmt)) == SQLITE_ROW)
		syncstate_msg_read(stmt, &buf[n++]);
	if (n < max && r != SQLITE_DONE)
		rc = syncstate_fail(ss->db, "message list", err);
	sqlite3_reset(stmt);
	if (rc == E2_OK)
		*n_out = n;
	return rc;
}

enum e2_status
syncstate_msg_list_uid(struct syncstate *ss, const char *folder,
		       uint32_t after_uid, struct syncstate_msg *buf,
		       size_t max, size_t *n_out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_LIST_UID, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, after_uid);
	return syncstate_msg_page(ss, stmt, buf, max, n_out, err);
}

enum e2_status
syncstate_msg_list_uidl(struct syncstate *ss, const char *folder,
			const char *after_uidl, struct syncstate_msg *buf,
			size_t max, size_t *n_out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_LIST_UIDL, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, after_uidl, -1, SQLITE_TRANSIENT);
	return syncstate_msg_page(ss, stmt, buf, max, n_out, err);
}

enum e2_status
syncstate_msg_summary(struct syncstate *ss, const char *folder,
		      struct syncstate_summary *out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_MSG_COUNT, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		out->count = (size_t)sqlite3_column_int64(stmt, 0);
		out->oldest = sqlite3_column_int64(stmt, 1);
	} else {
		rc = syncstate_fail(ss->db, "message count", err);
	}
	sqlite3_reset(stmt);
	return rc;
}

enum e2_status
syncstate_msg_count(struct syncstate *ss, const char *folder, size_t *n_out,
		    struct e2_err *err)
{
	struct syncstate_summary sum;
	enum e2_status rc = syncstate_msg_summary(ss, folder, &sum, err);

	if (rc == E2_OK)
		*n_out = sum.count;
	return rc;
}

/* ---- pending actions -------------------------------------------------------
 */

enum e2_status
syncstate_pending_add(struct syncstate *ss, const char *folder,
		      const struct syncstate_pending *p, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	if ((p->uid == 0) == (p->uidl[0] == '\0'))
		return e2_fail(err, E2_EINVAL,
			       "pending action needs a uid or a uidl");
	rc = syncstate_stmt(ss, SQL_PENDING_ADD, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, p->uid);
	sqlite3_bind_text(stmt, 4, p->uidl, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 5, (int)p->action);
	sqlite3_bind_int64(stmt, 6, p->created);
	return syncstate_done(ss, stmt, "pending add", err);
}

enum e2_status
syncstate_pending_list(struct syncstate *ss, const char *folder,
		       struct syncstate_pending *buf, size_t max, size_t *n_out,
		       struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;
	size_t n = 0;
	int r = SQLITE_DONE;

	rc = syncstate_stmt(ss, SQL_PENDING_LIST, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)max);
	while (n < max && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct syncstate_pending *p = &buf[n++];

		p->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		syncstate_copy_text(p->uidl, sizeof(p->uidl), stmt, 1);
		p->action = (enum syncstate_action)sqlite3_column_int(stmt, 2);
		p->created = sqlite3_column_int64(stmt, 3);
	}
	if (n < max && r != SQLITE_DONE)
		rc = syncstate_fail(ss->db, "pending list", err);
	sqlite3_reset(stmt);
	if (rc == E2_OK)
		*n_out = n;
	return rc;
}

enum e2_status
syncstate_pending_done(struct syncstate *ss, const char *folder,
		       const struct syncstate_pending *p, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_PENDING_DONE, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, p->uid);
	sqlite3_bind_text(stmt, 4, p->uidl, -1, SQLITE_TRANSIENT);
	return syncstate_done(ss, stmt, "pending done", err);
}

/* ---- folder ids and uploads (migration 5) ---------------------------------
 */

enum e2_status
syncstate_folder_id(struct syncstate *ss, const char *folder,
		    char out[SYNCSTATE_FOLDER_ID_MAX + 1], struct e2_err *err)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	sqlite3_stmt *stmt;
	enum e2_status rc;
	uint64_t id;
	char rev[SYNCSTATE_FOLDER_ID_MAX + 1];
	size_t n = 0;
	int r;

	/* read first, insert only when missing: a dry run (query_only,
	 * issue 9) reads the ids of folders synced before */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			rc = syncstate_stmt(ss, SQL_FOLDER_ID_ENSURE, folder,
					    &stmt, err);
			if (rc == E2_OK)
				rc = syncstate_done(ss, stmt, "folder id", err);
			if (rc != E2_OK)
				return rc;
		}
		rc = syncstate_stmt(ss, SQL_FOLDER_ID_GET, folder, &stmt, err);
		if (rc != E2_OK)
			return rc;
		r = sqlite3_step(stmt);
		id = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0)
				     : 0;
		sqlite3_reset(stmt);
		if (r == SQLITE_ROW && id != 0)
			break;
		if (pass == 1)
			return syncstate_fail(ss->db, "folder id", err);
	}
	/* base 36, lower case: 2^63 needs 13 digits, within the 16 allowed */
	do {
		rev[n++] = digits[id % 36];
		id /= 36;
	} while (id != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return E2_OK;
}

/* Columns message_id, size, uidnext, src_folder, src_uid, created[, name] */
static void
syncstate_upload_read(sqlite3_stmt *stmt, struct syncstate_upload *u)
{
	memset(u, 0, sizeof(*u));
	syncstate_copy_text(u->message_id, sizeof(u->message_id), stmt, 0);
	u->size = (uint64_t)sqlite3_column_int64(stmt, 1);
	u->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
	syncstate_copy_text(u->src_folder, sizeof(u->src_folder), stmt, 3);
	u->src_uid = (uint32_t)sqlite3_column_int64(stmt, 4);
	u->created = sqlite3_column_int64(stmt, 5);
	if (sqlite3_column_count(stmt) > 6)
		syncstate_copy_text(u->local_name, sizeof(u->local_name), stmt,
				    6);
}

enum e2_status
syncstate_upload_list(struct syncstate *ss, const char *folder,
		      struct syncstate_upload *buf, size_t max, size_t *n_out,
		      struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;
	size_t n = 0;
	int r;

	rc = syncstate_stmt(ss, SQL_UPLOAD_LIST, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)max);
	while (n < max && (r = sqlite3_step(stmt)) == SQLITE_ROW)
		syncstate_upload_read(stmt, &buf[n++]);
	if (n < max && r != SQLITE_DONE)
		rc = syncstate_fail(ss->db, "upload list", err);
	sqlite3_reset(stmt);
	*n_out = n;
	return rc;
}

enum e2_status
syncstate_upload_put(struct syncstate *ss, const char *folder,
		     const struct syncstate_upload *u, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_UPLOAD_PUT, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, u->local_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, u->message_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)u->size);
	sqlite3_bind_int64(stmt, 6, u->uidnext);
	sqlite3_bind_text(stmt, 7, u->src_folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 8, u->src_uid);
	sqlite3_bind_int64(stmt, 9, u->created);
	return syncstate_done(ss, stmt, "upload put", err);
}

enum e2_status
syncstate_upload_get(struct syncstate *ss, const char *folder,
		     const char *local_name, bool *found_out,
		     struct syncstate_upload *u_out, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;
	int r;

	rc = syncstate_stmt(ss, SQL_UPLOAD_GET, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, local_name, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		syncstate_upload_read(stmt, u_out);
		(void)snprintf(u_out->local_name, sizeof(u_out->local_name),
			       "%s", local_name);
		*found_out = true;
	} else if (r == SQLITE_DONE) {
		*found_out = false;
	} else {
		rc = syncstate_fail(ss->db, "upload get", err);
	}
	sqlite3_reset(stmt);
	return rc;
}

enum e2_status
syncstate_upload_done(struct syncstate *ss, const char *folder,
		      const char *local_name, struct e2_err *err)
{
	sqlite3_stmt *stmt;
	enum e2_status rc;

	rc = syncstate_stmt(ss, SQL_UPLOAD_DONE, folder, &stmt, err);
	if (rc != E2_OK)
		return rc;
	sqlite3_bind_text(stmt, 3, local_name, -1, SQLITE_TRANSIENT);
	return syncstate_done(ss, stmt, "upload done", err);
}
