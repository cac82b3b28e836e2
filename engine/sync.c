/* SPDX-License-Identifier: MIT */
/* sync.c -- the per-account sync driver: lock, send, then receive */
#include "config.h"

#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account_status.h"
#include <sqlite3.h>

#include "sync_preview.h"

#define SYNC_DEFAULT_TIMEOUT_MS 30000u
#define SYNC_DEFAULT_BATCH_MSGS 200u
#define SYNC_DEFAULT_BATCH_BYTES (8u * 1024 * 1024)

static double
sync_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the driver
 * -------------------------------------------------------------- */

/*
 * One sync of an account at a time, across processes and threads: two runs
 * (the daemon's and a user's --once) would both download the same UIDs.
 * The store's per-account lock (store_account_lock(): an exclusive flock()
 * on <store>/locks/<guid>.lock, outside the Maildir, where notmuch reported
 * the old <maildir>/email2-sync.lock as a file that is not mail), held
 * until the run ends (the kernel drops it when a killed run's descriptor
 * closes); a held lock is E2_EBUSY at once, not a wait.
 */
enum e2_status
sync_lock(struct e2_store *st, const char *guid, int *fd_out,
	  struct e2_err *err)
{
	bool exists = false;
	enum e2_status rc;
	int fd = -1;

	rc = store_account_lock(st, guid, &fd, err);
	/* a CSP Delete that committed while we loaded the account and then
	 * removed its files under this lock: do not create them again */
	if (rc == E2_OK)
		rc = store_account_exists(st, guid, &exists, err);
	if (rc == E2_OK && !exists)
		rc = e2_fail(err, E2_EINVAL, "account \"%s\": deleted", guid);
	if (rc != E2_OK) {
		if (fd >= 0)
			(void)close(fd);
		return rc;
	}
	*fd_out = fd;
	return E2_OK;
}

/*
 * Whether a sync of guid (stored spelling) holds its lock now: the lock
 * file (store_account_lock()) is opened, never created, and released at
 * once. A missing lock file: not busy.
 */
enum e2_status
sync_busy(struct e2_store *st, const char *guid, bool *busy_out,
	  struct e2_err *err)
{
	char path[PATH_MAX];
	int fd;

	*busy_out = false;
	if (snprintf(path, sizeof(path), "%s/%s/%s.lock", e2_store_dir(st),
		     STORE_LOCK_DIR, guid) >= (int)sizeof(path))
		return e2_fail(err, E2_ESTORE, "%s: path too long",
			       e2_store_dir(st));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return E2_OK;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
		*busy_out = true;
	(void)close(fd);
	return E2_OK;
}

/*
 * Issue 9: records how the run ended (account_status.c), for every run of
 * an account that exists, failures before any connection included. A run
 * refused by the lock records nothing: the run holding it records its own.
 * A failed write fails an otherwise good run (the store is broken).
 */
static enum e2_status
sync_record_status(struct e2_store *st, const struct e2_account *a,
		   const struct e2_sync_opts *o, time_t started,
		   const struct e2_sync_stats *stats, enum e2_status rc,
		   struct e2_err *err)
{
	struct e2_account_status s = {0};
	struct e2_err werr = {0};
	bool stopped = o->stop != NULL &&
		       __atomic_load_n(o->stop, __ATOMIC_RELAXED) != 0;

	if (rc == E2_EBUSY)
		return rc;
	(void)snprintf(s.kind, sizeof(s.kind), "%s",
		       o->no_receive ? "send"
		       : o->no_send  ? "receive"
				     : "sync");
	s.started = (int64_t)started;
	s.ended = (int64_t)time(NULL);
	s.result = account_status_classify(rc, stats, stopped);
	s.status = rc;
	if (rc != E2_OK)
		(void)snprintf(s.error, sizeof(s.error), "%s",
			       err != NULL && err->msg[0] != '\0'
				       ? err->msg
				       : e2_status_name(rc));
	else if (stats->skipped > 0)
		(void)snprintf(s.error, sizeof(s.error),
			       "%zu skipped, the first: %.200s", stats->skipped,
			       stats->skip[0].reason);
	account_status_from_stats(stats, &s);
	if (account_status_record(st, a->guid, &s, &werr) != E2_OK &&
	    rc == E2_OK)
		return e2_fail(err, werr.code, "%s", werr.msg);
	return rc;
}

/* Whether <store>/mail/<guid> is a whole Maildir already (cur new tmp) */
static bool
sync_maildir_made(const char *store, const char *guid)
{
	static const char *const sub[] = {"cur", "new", "tmp"};
	char p[PATH_MAX];
	struct stat sb;

	for (size_t i = 0; i < 3; i++) {
		int n = snprintf(p, sizeof(p), "%s/" STORE_AREA_MAIL "/%s/%s",
				 store, guid, sub[i]);

		if (n < 0 || (size_t)n >= sizeof(p) || lstat(p, &sb) != 0 ||
		    !S_ISDIR(sb.st_mode))
			return false;
	}
	return true;
}

/*
 * The dry run of e2_sync_account() (email2.h): the queue listed, then the
 * receive side's decisions shown. The store is query_only meanwhile, so a
 * write anywhere below fails instead of happening.
 */
static enum e2_status
sync_dry_run(struct sync_ctx *c, struct e2_err *err)
{
	sqlite3 *db = store_db(c->st);
	enum e2_status rc = E2_OK;

	if (sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return e2_fail(err, E2_ESTORE, "dry run: query_only: %s",
			       sqlite3_errmsg(db));
	if (!c->o.no_send)
		rc = sync_preview_outbox(c, err);
	if (rc == E2_OK && !c->o.no_receive) {
		if (c->a->service == E2_SERVICE_POP3)
			rc = sync_pop3_run(c, err);
		else
			rc = sync_imap_run(c, err);
	}
	(void)sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL);
	return rc;
}

/*
 * The content types a run syncs: those asked (0: all) that the account's
 * SYNCINGCONTENTTYPES names, among the ones email2 syncs. Pure.
 */
static unsigned
sync_content(const struct e2_account *a, unsigned asked)
{
	unsigned types = a->syncingcontenttypes & E2_SYNC_ALL;

	return asked != 0 ? types & asked : types;
}

/*
 * The mail part of a run: the Maildir opened (made), the outbox sent, the
 * server's mail downloaded (IMAP4 or POP3), or with dry_run previewed.
 * *root is the account's Maildir path (caller frees).
 */
static enum e2_status
sync_mail(struct sync_ctx *c, char **root, struct e2_err *err)
{
	const struct e2_account *a = c->a;
	enum e2_status rc, send_rc = E2_OK;
	struct e2_err send_err = {0};

	/* the store, <store>/mail and the account's Maildir are the user's
	 * own, or nothing is read, sent or written (store.h) */
	if (c->o.dry_run && !sync_maildir_made(e2_store_dir(c->st), a->guid)) {
		/* store_account_dir() and maildir_open() would make it: a
		 * preview writes nothing, and says what the first sync does */
		if (c->o.preview != NULL)
			c->o.preview(c->o.preview_ctx, "", "first-sync", 0, 0,
				     "never synced: the first sync downloads "
				     "every message the rules keep");
		return E2_OK;
	}
	rc = store_account_dir(c->st, STORE_AREA_MAIL, a->guid, root, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_open(*root, &c->md, err);
	if (rc != E2_OK)
		return rc;
	/* issue 9: a preview writes nothing (not the lock file, not tmp/); a
	 * store write fails (query_only) */
	if (c->o.dry_run)
		return sync_dry_run(c, err);
	/* what an interrupted run of ours left in tmp/ */
	rc = maildir_recover(c->md, c->now, NULL, err);
	if (rc != E2_OK)
		return rc;
	/*
	 * Send first: a failed send is recorded per message and does not stop
	 * the download; its cause is reported when the download succeeded.
	 */
	if (!c->o.no_send)
		send_rc = sync_send_run(c, &send_err);
	if (!c->o.no_receive && !sync_stopping(c)) {
		if (a->service == E2_SERVICE_POP3)
			rc = sync_pop3_run(c, err);
		else
			rc = sync_imap_run(c, err);
		if (rc != E2_OK)
			return rc;
	}
	if (send_rc != E2_OK)
		return e2_fail(err, send_rc, "%s", send_err.msg);
	return E2_OK;
}

/*
 * One DAV type synced, or previewed: the server only read, the store
 * query_only meanwhile (a write anywhere below fails instead of
 * happening). A type that could not be previewed says why.
 */
static void
sync_dav_or_preview(struct sync_ctx *c, unsigned content,
		    struct e2_dav_stats *out)
{
	sqlite3 *db = store_db(c->st);

	if (!c->o.dry_run) {
		sync_dav_run(c, content, out);
		return;
	}
	if (sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		(void)snprintf(out->state, sizeof(out->state), "failed");
		(void)snprintf(out->error, sizeof(out->error),
			       "dry run: query_only: %s", sqlite3_errmsg(db));
	} else {
		sync_dav_run(c, content, out);
		(void)sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL,
				   NULL);
	}
	if (c->o.preview != NULL && strcmp(out->state, "failed") == 0)
		c->o.preview(c->o.preview_ctx,
			     content == E2_SYNC_CONTACTS ? "contacts"
							 : "calendars",
			     "not-previewed", 0, 0, out->error);
}

enum e2_status
e2_sync_account(struct e2_store *st, const char *guid,
		const struct e2_sync_opts *opts,
		struct e2_sync_stats *stats_out, struct e2_err *err)
{
	struct e2_account *a = NULL;
	struct e2_sync_stats stats = {0};
	struct sync_ctx c = {0};
	char *root = NULL;
	double t0 = sync_now_s();
	time_t started = time(NULL);
	enum e2_status rc;
	int lock_fd = -1;
	unsigned want;

	if (st == NULL || guid == NULL) {
		rc = e2_fail(err, E2_EINVAL, "sync: missing argument");
		goto out;
	}
	rc = e2_account_load(st, guid, &a, err);
	if (rc != E2_OK)
		goto out;
	rc = syncstate_new(store_db(st), a->guid, &c.ss, err);
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
	want = sync_content(a, c.o.content);
	if (want == 0) {
		rc = e2_fail(err, E2_EINVAL,
			     "account %s: SYNCINGCONTENTTYPES 0x%x names no "
			     "content type email2 syncs in this run (Mail 0x2, "
			     "Contacts 0x1, Appointments 0x4, Tasks 0x8)",
			     a->guid, (unsigned)a->syncingcontenttypes);
		goto out;
	}
	stats.content = want;
	/* a preview takes no lock: the lock file would be a write */
	if (!c.o.dry_run) {
		rc = sync_lock(st, a->guid, &lock_fd, err);
		if (rc != E2_OK)
			goto out;
	}
	if ((want & E2_SYNC_MAIL) != 0)
		rc = sync_mail(&c, &root, err);
	/*
	 * Contacts, then calendars (issue 10): after the mail, and also when
	 * the mail failed (one server down never stops the other types); a
	 * type's failure is a skip entry, never the run's error.
	 */
	if (!c.o.no_receive && rc != E2_ESTORE && rc != E2_ENOMEM) {
		if ((want & E2_SYNC_CONTACTS) != 0 && !sync_stopping(&c))
			sync_dav_or_preview(&c, E2_SYNC_CONTACTS,
					    &stats.contacts);
		if ((want & E2_SYNC_CALENDARS) != 0 && !sync_stopping(&c))
			sync_dav_or_preview(&c, want & E2_SYNC_CALENDARS,
					    &stats.calendars);
	}
out:
	if (lock_fd >= 0)
		(void)close(lock_fd); /* releases the lock */
	stats.seconds = sync_now_s() - t0;
	/* a preview is not a run: it records nothing (it writes nothing) */
	if (a != NULL && !c.o.dry_run)
		rc = sync_record_status(st, a, opts != NULL ? opts : &c.o,
					started, &stats, rc, err);
	if (stats_out != NULL)
		*stats_out = stats;
	if (c.a != NULL)
		sync_progress(&c);
	maildir_close(&c.md);
	syncstate_free(&c.ss);
	free(root);
	e2_account_free(&a);
	return rc;
}
