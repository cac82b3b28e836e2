/* SPDX-License-Identifier: MIT */
/* dav_state.c -- the state rows of contacts and calendars sync (issue 10) */
#include "config.h"

#include "dav_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "grow.h"
#include "store.h"
#include "vdir.h"

#define DAV_STATE_SQL_COLLS                                                    \
	"SELECT href, dir, sync_token, ctag, displayname, color"               \
	" FROM dav_collections WHERE guid = ?1 AND kind = ?2 ORDER BY href"
#define DAV_STATE_SQL_COLL_PUT                                                 \
	"INSERT INTO dav_collections (guid, kind, href, dir, sync_token,"      \
	" ctag, displayname, color) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"   \
	" ON CONFLICT (guid, kind, href) DO UPDATE SET dir = excluded.dir,"    \
	" sync_token = excluded.sync_token, ctag = excluded.ctag,"             \
	" displayname = excluded.displayname, color = excluded.color"
#define DAV_STATE_SQL_COLL_FORGET                                              \
	"DELETE FROM dav_collections WHERE guid = ?1 AND kind = ?2"            \
	" AND href = ?3"
#define DAV_STATE_SQL_ITEMS                                                    \
	"SELECT href, etag, file, size, mtime_ns, inode, sha256, sha256_lf"    \
	" FROM dav_items WHERE guid = ?1 AND kind = ?2 AND coll = ?3"          \
	" ORDER BY href"
#define DAV_STATE_SQL_ITEM_PUT                                                 \
	"INSERT OR REPLACE INTO dav_items (guid, kind, coll, href, etag,"      \
	" file, size, mtime_ns, inode, sha256, sha256_lf)"                     \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
#define DAV_STATE_SQL_HOME_GET                                                 \
	"SELECT endpoint, home, basic, login FROM dav_homes"                   \
	" WHERE guid = ?1 AND kind = ?2"
#define DAV_STATE_SQL_HOME_PUT                                                 \
	"INSERT OR REPLACE INTO dav_homes (guid, kind, endpoint, home, login," \
	" basic) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
#define DAV_STATE_SQL_HOME_FORGET                                              \
	"DELETE FROM dav_homes WHERE guid = ?1 AND kind = ?2"
#define DAV_STATE_SQL_LISTING_GET                                              \
	"SELECT l.href, l.displayname, l.color, l.reports, l.components,"      \
	" h.listed FROM dav_homes h LEFT JOIN dav_listing l"                   \
	" ON l.guid = h.guid AND l.kind = h.kind"                              \
	" WHERE h.guid = ?1 AND h.kind = ?2 ORDER BY l.href"
#define DAV_STATE_SQL_LISTING_CLEAR                                            \
	"DELETE FROM dav_listing WHERE guid = ?1 AND kind = ?2"
#define DAV_STATE_SQL_LISTING_ADD                                              \
	"INSERT OR REPLACE INTO dav_listing (guid, kind, href, displayname,"   \
	" color, reports, components) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
#define DAV_STATE_SQL_LISTED                                                   \
	"UPDATE dav_homes SET listed = ?3 WHERE guid = ?1 AND kind = ?2"
#define DAV_STATE_SQL_ITEM_FORGET                                              \
	"DELETE FROM dav_items WHERE guid = ?1 AND kind = ?2 AND coll = ?3"    \
	" AND href = ?4"

const char *
dav_state_kind_name(enum dav_kind kind)
{
	return kind == DAV_KIND_CAL ? "cal" : "card";
}

static enum e2_status
dav_state_db_fail(sqlite3 *db, const char *what, struct e2_err *err)
{
	return e2_fail(err, E2_ESTORE, "accounts.db: %s: %s", what,
		       sqlite3_errmsg(db));
}

static const char *
dav_state_s(const char *s)
{
	return s == NULL ? "" : s;
}

/* Prepares sql and binds ?1 guid, ?2 kind, then the n texts after them. */
static enum e2_status
dav_state_prepare(sqlite3 *db, const char *sql, const char *guid,
		  enum dav_kind kind, const char *const *texts, size_t n,
		  sqlite3_stmt **stmt_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int i = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return dav_state_db_fail(db, "prepare", err);
	if (sqlite3_bind_text(stmt, i++, guid, -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(stmt, i++, dav_state_kind_name(kind), -1,
			      SQLITE_STATIC) != SQLITE_OK)
		goto fail;
	for (size_t k = 0; k < n; k++)
		if (sqlite3_bind_text(stmt, i++, dav_state_s(texts[k]), -1,
				      SQLITE_STATIC) != SQLITE_OK)
			goto fail;
	*stmt_out = stmt;
	return E2_OK;
fail:
	(void)sqlite3_finalize(stmt);
	return dav_state_db_fail(db, "bind", err);
}

/* A copy of column col, NULL when it is NULL or allocation failed. */
static char *
dav_state_col(sqlite3_stmt *stmt, int col, bool *null_out)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	*null_out = t == NULL;
	return strdup(t == NULL ? "" : (const char *)t);
}

static enum e2_status
dav_state_exec(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
	       struct e2_err *err)
{
	int r = sqlite3_step(stmt);

	if ((r & 0xff) == SQLITE_CONSTRAINT)
		return e2_fail(err, E2_EINVAL,
			       "accounts.db: %s: no such account or collection",
			       what);
	if (r != SQLITE_DONE)
		return dav_state_db_fail(db, what, err);
	return E2_OK;
}

void
dav_state_colls_free(struct dav_state_coll **v, size_t n)
{
	if (v == NULL || *v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*v)[i].href);
		free((*v)[i].dir);
		free((*v)[i].sync_token);
		free((*v)[i].ctag);
		free((*v)[i].displayname);
		free((*v)[i].color);
	}
	free(*v);
	*v = NULL;
}

enum e2_status
dav_state_colls_load(struct e2_store *st, const char *guid, enum dav_kind kind,
		     struct dav_state_coll **v_out, size_t *n_out,
		     struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	struct dav_state_coll *v = NULL;
	size_t n = 0;
	size_t cap = 0;
	enum e2_status rc;
	int r;

	rc = dav_state_prepare(db, DAV_STATE_SQL_COLLS, guid, kind, NULL, 0,
			       &stmt, err);
	if (rc != E2_OK)
		return rc;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct dav_state_coll *c;
		bool null_href = false;
		bool null = false;

		rc = grow_array(&v, &cap, n, sizeof(*v), 8, err);
		if (rc != E2_OK)
			goto out;
		c = &v[n++];
		memset(c, 0, sizeof(*c));
		c->href = dav_state_col(stmt, 0, &null_href);
		c->dir = dav_state_col(stmt, 1, &null);
		c->sync_token = dav_state_col(stmt, 2, &null);
		c->ctag = dav_state_col(stmt, 3, &null);
		c->displayname = dav_state_col(stmt, 4, &null);
		c->color = dav_state_col(stmt, 5, &null);
		if (c->href == NULL || c->dir == NULL ||
		    c->sync_token == NULL || c->ctag == NULL ||
		    c->displayname == NULL || c->color == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		if (null_href || c->href[0] == '\0') {
			rc = e2_fail(err, E2_ESTORE,
				     "accounts.db: damaged %s collection row: "
				     "no href",
				     dav_state_kind_name(kind));
			goto out;
		}
	}
	if (r != SQLITE_DONE)
		rc = dav_state_db_fail(db, "load collections", err);
out:
	(void)sqlite3_finalize(stmt);
	if (rc != E2_OK) {
		dav_state_colls_free(&v, n);
		return rc;
	}
	*v_out = v;
	*n_out = n;
	return E2_OK;
}

enum e2_status
dav_state_coll_put(struct e2_store *st, const char *guid, enum dav_kind kind,
		   const struct dav_state_coll *c, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {c->href, c->dir,         c->sync_token,
			       c->ctag, c->displayname, c->color};
	enum e2_status rc;

	if (c->href == NULL || c->href[0] == '\0')
		return e2_fail(err, E2_EINVAL, "collection row without href");
	rc = dav_state_prepare(db, DAV_STATE_SQL_COLL_PUT, guid, kind, texts,
			       sizeof(texts) / sizeof(texts[0]), &stmt, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_state_exec(db, stmt, "write collection", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
dav_state_coll_forget(struct e2_store *st, const char *guid, enum dav_kind kind,
		      const char *href, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {href};
	enum e2_status rc;

	rc = dav_state_prepare(db, DAV_STATE_SQL_COLL_FORGET, guid, kind, texts,
			       1, &stmt, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_state_exec(db, stmt, "forget collection", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

void
dav_state_items_free(struct dav_state_item **v, size_t n)
{
	if (v == NULL || *v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*v)[i].href);
		free((*v)[i].etag);
		free((*v)[i].file);
	}
	free(*v);
	*v = NULL;
}

/* The columns 3.. of an item row into it; NULL or the damaged column. */
static const char *
dav_state_item_numbers(sqlite3_stmt *stmt, struct dav_state_item *it)
{
	const void *sha;

	for (int col = 3; col <= 5; col++)
		if (sqlite3_column_type(stmt, col) != SQLITE_INTEGER)
			return col == 3   ? "size"
			       : col == 4 ? "mtime_ns"
					  : "inode";
	if (sqlite3_column_int64(stmt, 3) < 0)
		return "size";
	if (sqlite3_column_int64(stmt, 5) < 0)
		return "inode";
	it->id.size = (uint64_t)sqlite3_column_int64(stmt, 3);
	it->id.mtime_ns = (int64_t)sqlite3_column_int64(stmt, 4);
	it->id.inode = (uint64_t)sqlite3_column_int64(stmt, 5);
	sha = sqlite3_column_blob(stmt, 6);
	if (sqlite3_column_type(stmt, 6) != SQLITE_BLOB || sha == NULL ||
	    sqlite3_column_bytes(stmt, 6) != DAV_REC_SHA256_LEN)
		return "sha256";
	memcpy(it->id.sha256, sha, DAV_REC_SHA256_LEN);
	sha = sqlite3_column_blob(stmt, 7);
	if (sqlite3_column_type(stmt, 7) == SQLITE_BLOB && sha != NULL &&
	    sqlite3_column_bytes(stmt, 7) == DAV_REC_SHA256_LEN) {
		memcpy(it->sha_lf, sha, DAV_REC_SHA256_LEN);
		it->has_lf = true;
	} else if (sqlite3_column_bytes(stmt, 7) != 0) {
		return "sha256_lf";
	}
	return NULL;
}

enum e2_status
dav_state_items_load(struct e2_store *st, const char *guid, enum dav_kind kind,
		     const char *coll, struct dav_state_item **v_out,
		     size_t *n_out, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	struct dav_state_item *v = NULL;
	const char *texts[] = {coll};
	size_t n = 0;
	size_t cap = 0;
	enum e2_status rc;
	int r;

	rc = dav_state_prepare(db, DAV_STATE_SQL_ITEMS, guid, kind, texts, 1,
			       &stmt, err);
	if (rc != E2_OK)
		return rc;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct dav_state_item *it;
		const char *bad = NULL;
		bool null_href = false;
		bool null_etag = false;
		bool null_file = false;

		rc = grow_array(&v, &cap, n, sizeof(*v), 64, err);
		if (rc != E2_OK)
			goto out;
		it = &v[n++];
		memset(it, 0, sizeof(*it));
		it->href = dav_state_col(stmt, 0, &null_href);
		it->etag = dav_state_col(stmt, 1, &null_etag);
		it->file = dav_state_col(stmt, 2, &null_file);
		if (it->href == NULL || it->etag == NULL || it->file == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		if (null_href || it->href[0] == '\0')
			bad = "href";
		else if (null_etag)
			bad = "etag";
		else if (null_file || !vdir_name_ok(it->file))
			bad = "file";
		else
			bad = dav_state_item_numbers(stmt, it);
		if (bad != NULL) {
			char q[160];

			rc = e2_fail(err, E2_ESTORE,
				     "accounts.db: damaged item row %zu of "
				     "collection %s: bad %s",
				     n,
				     e2_quote(q, sizeof(q), coll, strlen(coll)),
				     bad);
			goto out;
		}
	}
	if (r != SQLITE_DONE)
		rc = dav_state_db_fail(db, "load items", err);
out:
	(void)sqlite3_finalize(stmt);
	if (rc != E2_OK) {
		dav_state_items_free(&v, n);
		return rc;
	}
	*v_out = v;
	*n_out = n;
	return E2_OK;
}

enum e2_status
dav_state_item_put(struct e2_store *st, const char *guid, enum dav_kind kind,
		   const char *coll, const char *href, const char *etag,
		   const char *file, const struct dav_rec_identity *id,
		   const unsigned char *sha_lf, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {coll, href, etag, file};
	enum e2_status rc;

	if (href == NULL || href[0] == '\0' || file == NULL ||
	    !vdir_name_ok(file))
		return e2_fail(err, E2_EINVAL, "item row without href or file");
	if (id->size > INT64_MAX || id->inode > INT64_MAX)
		return e2_fail(err, E2_EINVAL, "item %s: size or inode too big",
			       file);
	rc = dav_state_prepare(db, DAV_STATE_SQL_ITEM_PUT, guid, kind, texts,
			       sizeof(texts) / sizeof(texts[0]), &stmt, err);
	if (rc != E2_OK)
		return rc;
	if (sqlite3_bind_int64(stmt, 7, (sqlite3_int64)id->size) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)id->mtime_ns) !=
		    SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 9, (sqlite3_int64)id->inode) !=
		    SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 10, id->sha256, DAV_REC_SHA256_LEN,
			      SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 11,
			      sha_lf == NULL ? "" : (const void *)sha_lf,
			      sha_lf == NULL ? 0 : DAV_REC_SHA256_LEN,
			      SQLITE_STATIC) != SQLITE_OK)
		rc = dav_state_db_fail(db, "bind", err);
	else
		rc = dav_state_exec(db, stmt, "write item", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
dav_state_item_forget(struct e2_store *st, const char *guid, enum dav_kind kind,
		      const char *coll, const char *href, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {coll, href};
	enum e2_status rc;

	rc = dav_state_prepare(db, DAV_STATE_SQL_ITEM_FORGET, guid, kind, texts,
			       2, &stmt, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_state_exec(db, stmt, "forget item", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
dav_state_home_get(struct e2_store *st, const char *guid, enum dav_kind kind,
		   const char *login, char **endpoint_out, char **home_out,
		   bool *basic_out, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	bool null = false;
	int r;

	*endpoint_out = *home_out = NULL;
	*basic_out = false;
	rc = dav_state_prepare(db, DAV_STATE_SQL_HOME_GET, guid, kind, NULL, 0,
			       &stmt, err);
	if (rc != E2_OK)
		return rc;
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(stmt, 3) == NULL
			   ? ""
			   : (const char *)sqlite3_column_text(stmt, 3),
		   dav_state_s(login)) != 0) {
		/* found with another login: that one's, not this one's */
	} else if (r == SQLITE_ROW) {
		*endpoint_out = dav_state_col(stmt, 0, &null);
		*home_out = dav_state_col(stmt, 1, &null);
		*basic_out = sqlite3_column_int(stmt, 2) == 1;
		if (*endpoint_out == NULL || *home_out == NULL) {
			free(*endpoint_out);
			free(*home_out);
			*endpoint_out = *home_out = NULL;
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
		}
	} else if (r != SQLITE_DONE) {
		rc = dav_state_db_fail(db, "read home set", err);
	}
	(void)sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
dav_state_home_put(struct e2_store *st, const char *guid, enum dav_kind kind,
		   const char *login, const char *endpoint, const char *home,
		   bool basic, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {endpoint, home, login};
	enum e2_status rc;

	rc = dav_state_prepare(db,
			       home == NULL ? DAV_STATE_SQL_HOME_FORGET
					    : DAV_STATE_SQL_HOME_PUT,
			       guid, kind, texts, home == NULL ? 0 : 3, &stmt,
			       err);
	if (rc != E2_OK)
		return rc;
	if (home != NULL &&
	    sqlite3_bind_int(stmt, 6, basic ? 1 : 0) != SQLITE_OK)
		rc = dav_state_db_fail(db, "bind", err);
	else
		rc = dav_state_exec(db, stmt, "write home set", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

/* ---- the home set's last listing (migration 12) ---- */

void
dav_state_listing_free(struct dav_collection **v, size_t n)
{
	if (v == NULL || *v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*v)[i].href);
		free((*v)[i].displayname);
		free((*v)[i].color);
	}
	free(*v);
	*v = NULL;
}

/* A copy of a nullable text column into *out (NULL stays NULL). */
static bool
dav_state_opt_col(sqlite3_stmt *stmt, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	*out = t == NULL ? NULL : strdup((const char *)t);
	return t == NULL || *out != NULL;
}

enum e2_status
dav_state_listing_get(struct e2_store *st, const char *guid, enum dav_kind kind,
		      int64_t *listed_out, struct dav_collection **v_out,
		      size_t *n_out, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	struct dav_collection *v = NULL;
	size_t n = 0, cap = 0;
	enum e2_status rc;
	int r;

	*listed_out = 0;
	*v_out = NULL;
	*n_out = 0;
	rc = dav_state_prepare(db, DAV_STATE_SQL_LISTING_GET, guid, kind, NULL,
			       0, &stmt, err);
	if (rc != E2_OK)
		return rc;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct dav_collection *c;
		sqlite3_int64 rep = sqlite3_column_int64(stmt, 3);
		sqlite3_int64 comp = sqlite3_column_int64(stmt, 4);

		*listed_out = (int64_t)sqlite3_column_int64(stmt, 5);
		if (sqlite3_column_type(stmt, 0) == SQLITE_NULL)
			continue; /* the home row alone: nothing listed */
		if (sqlite3_column_bytes(stmt, 0) == 0 || rep < 0 ||
		    rep > UINT32_MAX || comp < 0 || comp > UINT32_MAX) {
			rc = e2_fail(err, E2_ESTORE,
				     "accounts.db: damaged dav_listing row");
			break;
		}
		rc = grow_array(&v, &cap, n, sizeof(*v), 4, err);
		if (rc != E2_OK)
			break;
		c = &v[n++];
		memset(c, 0, sizeof(*c));
		c->reports = (unsigned)rep;
		c->components = (unsigned)comp;
		if (!dav_state_opt_col(stmt, 0, &c->href) ||
		    !dav_state_opt_col(stmt, 1, &c->displayname) ||
		    !dav_state_opt_col(stmt, 2, &c->color)) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			break;
		}
	}
	if (rc == E2_OK && r != SQLITE_DONE)
		rc = dav_state_db_fail(db, "read listing", err);
	(void)sqlite3_finalize(stmt);
	if (rc != E2_OK) {
		*listed_out = 0;
		dav_state_listing_free(&v, n);
		return rc;
	}
	*v_out = v;
	*n_out = n;
	return E2_OK;
}

static enum e2_status
dav_state_listed(sqlite3 *db, const char *guid, enum dav_kind kind,
		 int64_t when, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = dav_state_prepare(db, DAV_STATE_SQL_LISTED, guid, kind, NULL, 0,
			       &stmt, err);
	if (rc != E2_OK)
		return rc;
	if (sqlite3_bind_int64(stmt, 3, (sqlite3_int64)when) != SQLITE_OK)
		rc = dav_state_db_fail(db, "bind", err);
	else
		rc = dav_state_exec(db, stmt, "write listing time", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

static enum e2_status
dav_state_listing_add(sqlite3 *db, const char *guid, enum dav_kind kind,
		      const struct dav_collection *c, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	const char *texts[] = {c->href};
	enum e2_status rc;

	rc = dav_state_prepare(db, DAV_STATE_SQL_LISTING_ADD, guid, kind, texts,
			       1, &stmt, err);
	if (rc != E2_OK)
		return rc;
	if ((c->displayname == NULL
		     ? sqlite3_bind_null(stmt, 4)
		     : sqlite3_bind_text(stmt, 4, c->displayname, -1,
					 SQLITE_STATIC)) != SQLITE_OK ||
	    (c->color == NULL
		     ? sqlite3_bind_null(stmt, 5)
		     : sqlite3_bind_text(stmt, 5, c->color, -1,
					 SQLITE_STATIC)) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 6, c->reports) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 7, c->components) != SQLITE_OK)
		rc = dav_state_db_fail(db, "bind", err);
	else
		rc = dav_state_exec(db, stmt, "write listing", err);
	(void)sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
dav_state_listing_put(struct e2_store *st, const char *guid, enum dav_kind kind,
		      const struct dav_discovery *d, int64_t now,
		      struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	rc = store_begin(st, err);
	if (rc != E2_OK)
		return rc;
	rc = dav_state_prepare(db, DAV_STATE_SQL_LISTING_CLEAR, guid, kind,
			       NULL, 0, &stmt, err);
	if (rc == E2_OK) {
		rc = dav_state_exec(db, stmt, "clear listing", err);
		(void)sqlite3_finalize(stmt);
	}
	for (size_t i = 0; rc == E2_OK && i < d->n_colls; i++)
		if (d->colls[i].href != NULL && d->colls[i].href[0] != '\0')
			rc = dav_state_listing_add(db, guid, kind, &d->colls[i],
						   err);
	if (rc == E2_OK)
		rc = dav_state_listed(db, guid, kind, now, err);
	if (rc != E2_OK) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st, err);
}

enum e2_status
dav_state_listing_stale(struct e2_store *st, const char *guid,
			enum dav_kind kind, struct e2_err *err)
{
	return dav_state_listed(store_db(st), guid, kind, 0, err);
}
