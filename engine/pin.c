/* SPDX-License-Identifier: MIT */
/* pin.c -- certificate pins per account and host (issue 9, table tls_pins) */
#include "config.h"

#include "email2.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "engine/store.h"

static enum e2_status
pin_db_fail(sqlite3 *db, const char *what, struct e2_err *err)
{
	return e2_fail(err, E2_ESTORE, "accounts.db: %s: %s", what,
		       sqlite3_errmsg(db));
}

/* The stored spelling of guid; *found_out false when there is none. */
static enum e2_status
pin_guid(struct e2_store *st, const char *guid, char g[STORE_GUID_MAX],
	 bool *found_out, struct e2_err *err)
{
	return store_account_find(st, guid, found_out, g, err);
}

enum e2_status
e2_pin_set(struct e2_store *st, const char *guid, const char *host,
	   const char *fp, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	char g[STORE_GUID_MAX], canon[72];
	bool found = false;
	enum e2_status rc;

	if (host == NULL || host[0] == '\0')
		return e2_fail(err, E2_EINVAL, "pin: no host");
	rc = e2_pin_parse(fp, canon, err);
	if (rc == E2_OK)
		rc = pin_guid(st, guid, g, &found, err);
	if (rc != E2_OK)
		return rc;
	if (!found)
		return e2_fail(err, E2_EINVAL, "no account %.64s", guid);
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO tls_pins"
			       " (guid, host, sha256, pinned)"
			       " VALUES (?1, ?2, ?3, ?4)",
			       -1, &stmt, NULL) != SQLITE_OK) {
		rc = pin_db_fail(db, "set pin", err);
		goto out;
	}
	if (sqlite3_bind_text(stmt, 1, g, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, canon, -1, SQLITE_TRANSIENT) !=
		    SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL)) !=
		    SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE)
		rc = pin_db_fail(db, "set pin", err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
e2_pin_get(struct e2_store *st, const char *guid, const char *host,
	   char fp_out[72], int64_t *when_out, bool *found_out,
	   struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	char g[STORE_GUID_MAX];
	bool found = false;
	enum e2_status rc;
	int r;

	*found_out = false;
	if (host == NULL || host[0] == '\0')
		return E2_OK;
	rc = pin_guid(st, guid, g, &found, err);
	if (rc != E2_OK || !found)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "SELECT sha256, pinned FROM tls_pins"
			       " WHERE guid = ?1 AND host = ?2",
			       -1, &stmt, NULL) != SQLITE_OK) {
		rc = pin_db_fail(db, "read pin", err);
		goto out;
	}
	if (sqlite3_bind_text(stmt, 1, g, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = pin_db_fail(db, "read pin", err);
		goto out;
	}
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(stmt, 0);

		/* a row another program wrote is checked like typed input */
		rc = e2_pin_parse(v != NULL ? v : "", fp_out, err);
		if (rc != E2_OK) {
			e2_err_clear(err);
			rc = e2_fail(err, E2_ESTORE,
				     "accounts.db: pin of %s for %.64s: not a "
				     "fingerprint",
				     g, host);
			goto out;
		}
		if (when_out != NULL)
			*when_out = sqlite3_column_int64(stmt, 1);
		*found_out = true;
	} else if (r != SQLITE_DONE) {
		rc = pin_db_fail(db, "read pin", err);
	}
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
e2_pin_delete(struct e2_store *st, const char *guid, const char *host,
	      size_t *n_out, struct e2_err *err)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *stmt = NULL;
	char g[STORE_GUID_MAX];
	bool found = false;
	enum e2_status rc;

	rc = pin_guid(st, guid, g, &found, err);
	if (rc != E2_OK)
		return rc;
	if (!found)
		return e2_fail(err, E2_EINVAL, "no account %.64s", guid);
	if (sqlite3_prepare_v2(db,
			       "DELETE FROM tls_pins WHERE guid = ?1"
			       " AND (?2 IS NULL OR host = ?2)",
			       -1, &stmt, NULL) != SQLITE_OK) {
		rc = pin_db_fail(db, "remove pin", err);
		goto out;
	}
	if (sqlite3_bind_text(stmt, 1, g, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    (host != NULL ? sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC)
			  : sqlite3_bind_null(stmt, 2)) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE) {
		rc = pin_db_fail(db, "remove pin", err);
		goto out;
	}
	if (n_out != NULL)
		*n_out = (size_t)sqlite3_changes(db);
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* True when one of side's attempts saw the leaf whose fingerprint is fp. */
static bool
pin_side_saw(const struct e2_side_report *side, const char *fp)
{
	if (!side->tested)
		return false;
	for (size_t i = 0; i < side->n_attempts && i < E2_MODE_COUNT; i++)
		if (strcmp(side->attempts[i].cert_sha256, fp) == 0)
			return true;
	return false;
}

/* Pins canon for host unless res has it already (sides on one host). */
static enum e2_status
pin_seen_host(struct e2_store *st, const char *guid, const char *host,
	      const char *canon, struct e2_pin_result *res, struct e2_err *err)
{
	enum e2_status rc;

	if (host[0] == '\0')
		return E2_OK;
	for (size_t i = 0; i < res->n; i++)
		if (strcasecmp(res->host[i], host) == 0)
			return E2_OK;
	if (res->n == sizeof(res->host) / sizeof(res->host[0]))
		return E2_OK;
	rc = e2_pin_set(st, guid, host, canon, err);
	if (rc != E2_OK)
		return rc;
	(void)snprintf(res->host[res->n], sizeof(res->host[res->n]), "%s",
		       host);
	res->n++;
	return E2_OK;
}

/*
 * Issue 10: the DAV attempt of rep (a content type) that saw canon, or
 * NULL: its host is pinned (one content type may try several hosts).
 */
static const struct e2_dav_attempt *
pin_dav_saw(const struct e2_dav_report *rep, const char *canon)
{
	if (!rep->tested)
		return NULL;
	for (size_t i = 0; i < rep->n_attempts && i < E2_DAV_ATTEMPTS_MAX; i++)
		if (strcmp(rep->attempts[i].cert_sha256, canon) == 0)
			return &rep->attempts[i];
	return NULL;
}

enum e2_status
e2_pin_seen(struct e2_store *st, const char *guid,
	    const struct e2_conntest_report *rep, const char *fp,
	    struct e2_pin_result *res_out, struct e2_err *err)
{
	const struct e2_side_report *sides[2] = {&rep->in, &rep->out};
	const struct e2_dav_report *davs[2] = {&rep->contacts, &rep->calendars};
	struct e2_pin_result res = {0};
	char canon[72];
	enum e2_status rc;

	rc = e2_pin_parse(fp, canon, err);
	if (rc != E2_OK)
		return rc;
	for (size_t s = 0; s < 2; s++) {
		if (!pin_side_saw(sides[s], canon))
			continue;
		rc = pin_seen_host(st, guid, sides[s]->host, canon, &res, err);
		if (rc != E2_OK)
			return rc;
	}
	for (size_t s = 0; s < 2; s++) {
		const struct e2_dav_attempt *at = pin_dav_saw(davs[s], canon);

		if (at == NULL)
			continue;
		rc = pin_seen_host(st, guid, at->host, canon, &res, err);
		if (rc != E2_OK)
			return rc;
	}
	if (res.n == 0)
		return e2_fail(err, E2_ECERT,
			       "%s: no server of %.64s presented this "
			       "certificate in this run; nothing pinned",
			       canon, guid);
	*res_out = res;
	return E2_OK;
}
