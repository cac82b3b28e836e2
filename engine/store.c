/* SPDX-License-Identifier: MIT */
/* store.c -- accounts.db: open, schema migrations, savepoints, node rows */
#include "config.h"

#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define STORE_DB_NAME "accounts.db"
#define STORE_RM_MAX_DEPTH 32 /* Maildir++ is flat: two levels suffice */
#define STORE_BUSY_TIMEOUT_MS 5000

/*
 * Schema migrations, applied in order inside one IMMEDIATE transaction by
 * store_migrate(); PRAGMA user_version holds the last version applied. To
 * change the schema append a step, never edit a shipped one. Tables that
 * hold per-account state must reference accounts(guid) ON DELETE CASCADE so
 * that store_account_delete() takes them along.
 */
struct store_migration {
	int version;
	const char *sql;
};

static const struct store_migration store_migrations[] = {
	{1, "CREATE TABLE accounts ("
	    " guid TEXT PRIMARY KEY NOT NULL,"
	    " created INTEGER NOT NULL"
	    ");"
	    "CREATE TABLE nodes ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " name TEXT NOT NULL,"
	    " value TEXT,"
	    " PRIMARY KEY (guid, name)"
	    ") WITHOUT ROWID;"},
	/*
	 * The sync state (engine/syncstate.h): a message row has exactly one
	 * of uid (IMAP) and uidl (POP3); local_name is its Maildir unique name.
	 * The e2sync_* tables are an interim layout that early builds created
	 * outside the migrations.
	 */
	{2, "DROP TABLE IF EXISTS e2sync_folder;"
	    "DROP TABLE IF EXISTS e2sync_msg;"
	    "DROP TABLE IF EXISTS e2sync_uidl;"
	    "DROP TABLE IF EXISTS e2sync_outbox;"
	    "CREATE TABLE sync_folders ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " folder TEXT NOT NULL,"
	    " uidvalidity INTEGER NOT NULL DEFAULT 0,"
	    " highestmodseq INTEGER NOT NULL DEFAULT 0,"
	    " uidnext INTEGER NOT NULL DEFAULT 0,"
	    " messages INTEGER NOT NULL DEFAULT 0,"
	    " PRIMARY KEY (guid, folder)"
	    ") WITHOUT ROWID;"
	    "CREATE TABLE sync_messages ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " folder TEXT NOT NULL,"
	    " uid INTEGER, uidl TEXT,"
	    " local_name TEXT NOT NULL,"
	    " flags TEXT NOT NULL DEFAULT '',"
	    " size INTEGER NOT NULL DEFAULT 0,"
	    " partial INTEGER NOT NULL DEFAULT 0,"
	    " omitted INTEGER NOT NULL DEFAULT 0,"
	    " internal_date INTEGER NOT NULL DEFAULT 0,"
	    " CHECK ((uid IS NULL) <> (uidl IS NULL))"
	    ");"
	    "CREATE UNIQUE INDEX sync_messages_uid"
	    " ON sync_messages (guid, folder, uid) WHERE uid IS NOT NULL;"
	    "CREATE UNIQUE INDEX sync_messages_uidl"
	    " ON sync_messages (guid, folder, uidl) WHERE uidl IS NOT NULL;"
	    "CREATE INDEX sync_messages_local"
	    " ON sync_messages (guid, folder, local_name);"
	    "CREATE TABLE sync_pending ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " folder TEXT NOT NULL,"
	    " uid INTEGER NOT NULL DEFAULT 0,"
	    " uidl TEXT NOT NULL DEFAULT '',"
	    " action INTEGER NOT NULL,"
	    " created INTEGER NOT NULL,"
	    " PRIMARY KEY (guid, folder, uid, uidl)"
	    ") WITHOUT ROWID;"
	    "CREATE TABLE sync_outbox ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " file TEXT NOT NULL,"
	    " attempts INTEGER NOT NULL DEFAULT 0,"
	    " last_error TEXT NOT NULL DEFAULT '',"
	    " last_attempt INTEGER NOT NULL DEFAULT 0,"
	    " PRIMARY KEY (guid, file)"
	    ") WITHOUT ROWID;"},
	/*
	 * What a no-change resync compares instead of reading every row and
	 * file (engine/syncstate.h, "stamps").
	 */
	{3, "ALTER TABLE sync_folders"
	    " ADD COLUMN local_stamp TEXT NOT NULL DEFAULT '';"
	    "ALTER TABLE sync_folders"
	    " ADD COLUMN server_stamp TEXT NOT NULL DEFAULT '';"},
	/*
	 * A GUID names one account whatever its letter case (see "GUIDs"
	 * below): lookups go through this index. It is not UNIQUE because a
	 * store written by an older email2 may hold "{abc...}" and "{ABC...}"
	 * as two accounts; they stay usable (an exact spelling wins), and no
	 * new such pair can be created.
	 */
	{4, "CREATE INDEX IF NOT EXISTS accounts_guid_nocase"
	    " ON accounts (guid COLLATE NOCASE);"},
	/*
	 * Issue 8, two-way IMAP (engine/syncstate.h): a short folder id that
	 * is never reused (AUTOINCREMENT never hands out a deleted row's id),
	 * for the "-F<id>" part of file tags; and the uploads (APPEND, COPY,
	 * MOVE) started but not known to be finished, so a kill between the
	 * server step and the rename is found again, never sent twice.
	 */
	{5, "CREATE TABLE IF NOT EXISTS sync_folder_ids ("
	    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " folder TEXT NOT NULL,"
	    " UNIQUE (guid, folder)"
	    ");"
	    "CREATE TABLE IF NOT EXISTS sync_uploads ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " folder TEXT NOT NULL,"
	    " local_name TEXT NOT NULL,"
	    " message_id TEXT NOT NULL DEFAULT '',"
	    " size INTEGER NOT NULL DEFAULT 0,"
	    " uidnext INTEGER NOT NULL DEFAULT 0,"
	    " src_folder TEXT NOT NULL DEFAULT '',"
	    " src_uid INTEGER NOT NULL DEFAULT 0,"
	    " created INTEGER NOT NULL,"
	    " PRIMARY KEY (guid, folder, local_name)"
	    ") WITHOUT ROWID;"},
	/*
	 * The send queue's claims (engine/outbox.h): one row per queued
	 * message, keyed by its unique id, never by a file name. state: 0
	 * queued, 1 sent (only the move to Sent is left), 2 failed. The rows
	 * of sync_outbox (keyed by file name) stay: the first claim of the
	 * file each names takes its attempts, reason and "sent" marker over
	 * and deletes it (outbox_claim()), so nothing queued by an older
	 * version is lost or sent twice.
	 */
	{6, "CREATE TABLE IF NOT EXISTS outbox_queue ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " id TEXT NOT NULL,"
	    " origin TEXT NOT NULL DEFAULT '',"
	    " state INTEGER NOT NULL DEFAULT 0,"
	    " attempts INTEGER NOT NULL DEFAULT 0,"
	    " last_error TEXT NOT NULL DEFAULT '',"
	    " last_attempt INTEGER NOT NULL DEFAULT 0,"
	    " next_attempt INTEGER NOT NULL DEFAULT 0,"
	    " queued INTEGER NOT NULL DEFAULT 0,"
	    " envelope TEXT,"
	    " PRIMARY KEY (guid, id)"
	    ") WITHOUT ROWID;"},
	/*
	 * Per-account settings the CSP does not carry (store_option_set(),
	 * issue 8: the Sent copy).
	 */
	{7, "CREATE TABLE IF NOT EXISTS account_options ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " name TEXT NOT NULL,"
	    " value TEXT NOT NULL,"
	    " PRIMARY KEY (guid, name)"
	    ") WITHOUT ROWID;"},
	/*
	 * Issue 9, certificate pins (engine/pin.c): per account and host the
	 * SHA-256 of the one leaf certificate accepted there ("SHA256:" and
	 * 64 upper-case hex digits) and when it was pinned (Unix time).
	 * Host names compare case-insensitively; the cascade removes an
	 * account's pins with it.
	 */
	{8, "CREATE TABLE IF NOT EXISTS tls_pins ("
	    " guid TEXT NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " host TEXT NOT NULL COLLATE NOCASE,"
	    " sha256 TEXT NOT NULL,"
	    " pinned INTEGER NOT NULL,"
	    " PRIMARY KEY (guid, host)"
	    ") WITHOUT ROWID;"},
	/*
	 * Issue 9: the last sync run of each account (engine/account_status.c,
	 * e2_account_status_get()): when, how it ended, what it did, and the
	 * error (never a secret). last_ok: when a run last ended "ok".
	 */
	{9, "CREATE TABLE IF NOT EXISTS account_status ("
	    " guid TEXT PRIMARY KEY NOT NULL"
	    "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	    " kind TEXT NOT NULL DEFAULT 'sync',"
	    " started INTEGER NOT NULL DEFAULT 0,"
	    " ended INTEGER NOT NULL DEFAULT 0,"
	    " result TEXT NOT NULL DEFAULT '',"
	    " status TEXT NOT NULL DEFAULT 'ok',"
	    " error TEXT NOT NULL DEFAULT '',"
	    " downloaded INTEGER NOT NULL DEFAULT 0,"
	    " uploaded INTEGER NOT NULL DEFAULT 0,"
	    " moved INTEGER NOT NULL DEFAULT 0,"
	    " flags INTEGER NOT NULL DEFAULT 0,"
	    " deleted INTEGER NOT NULL DEFAULT 0,"
	    " removed INTEGER NOT NULL DEFAULT 0,"
	    " sent INTEGER NOT NULL DEFAULT 0,"
	    " send_failed INTEGER NOT NULL DEFAULT 0,"
	    " skipped INTEGER NOT NULL DEFAULT 0,"
	    " last_ok INTEGER NOT NULL DEFAULT 0"
	    ") WITHOUT ROWID;"},
	/*
	 * Issue 10, contacts and calendars (engine/dav_state.h): per account
	 * and kind ('card', 'cal') each collection the server listed, by its
	 * href as sent (its vdir directory name, the sync-token and getctag
	 * of the last complete sync, the displayname and color last written
	 * to the folder), and per collection each item (href as sent, etag,
	 * vdir file name, the file's identity: size, mtime_ns, inode, and
	 * the SHA-256 of its bytes; sha256_lf: of its bytes with CR LF taken
	 * as LF, x'' unknown). Items go with their collection, both with the
	 * account.
	 */
	{10, "CREATE TABLE IF NOT EXISTS dav_collections ("
	     " guid TEXT NOT NULL"
	     "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	     " kind TEXT NOT NULL,"
	     " href TEXT NOT NULL,"
	     " dir TEXT NOT NULL DEFAULT '',"
	     " sync_token TEXT NOT NULL DEFAULT '',"
	     " ctag TEXT NOT NULL DEFAULT '',"
	     " displayname TEXT NOT NULL DEFAULT '',"
	     " color TEXT NOT NULL DEFAULT '',"
	     " PRIMARY KEY (guid, kind, href)"
	     ") WITHOUT ROWID;"
	     "CREATE TABLE IF NOT EXISTS dav_items ("
	     " guid TEXT NOT NULL"
	     "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	     " kind TEXT NOT NULL,"
	     " coll TEXT NOT NULL,"
	     " href TEXT NOT NULL,"
	     " etag TEXT NOT NULL DEFAULT '',"
	     " file TEXT NOT NULL,"
	     " size INTEGER NOT NULL DEFAULT 0,"
	     " mtime_ns INTEGER NOT NULL DEFAULT 0,"
	     " inode INTEGER NOT NULL DEFAULT 0,"
	     " sha256 BLOB NOT NULL,"
	     " sha256_lf BLOB NOT NULL DEFAULT x'',"
	     " PRIMARY KEY (guid, kind, coll, href),"
	     " FOREIGN KEY (guid, kind, coll)"
	     "  REFERENCES dav_collections(guid, kind, href)"
	     "  ON DELETE CASCADE"
	     ") WITHOUT ROWID;"},
	/*
	 * Issue 10: where discovery last found an account's home set per
	 * kind (the endpoint URL it started from, the home set's URL, and
	 * whether the server took Basic there), so a sync asks the home
	 * set's collections at once, with Basic at once over https; a home
	 * that no longer answers sends the next sync through discovery.
	 */
	{11, "CREATE TABLE IF NOT EXISTS dav_homes ("
	     " guid TEXT NOT NULL"
	     "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	     " kind TEXT NOT NULL,"
	     " endpoint TEXT NOT NULL,"
	     " home TEXT NOT NULL,"
	     " basic INTEGER NOT NULL DEFAULT 0,"
	     " PRIMARY KEY (guid, kind)"
	     ") WITHOUT ROWID;"},
	/*
	 * Issue 10: the home set's collections as its last listing named
	 * them (when: dav_homes.listed, Unix seconds, 0 never or stale), so
	 * a no-change sync asks each collection once and not the home set;
	 * and the login name the home set was found with (another login
	 * finds its own). dav_homes is a cache: made again, not altered
	 * (the next sync of each account walks discovery once).
	 */
	{12, "DROP TABLE IF EXISTS dav_homes;"
	     "CREATE TABLE dav_homes ("
	     " guid TEXT NOT NULL"
	     "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	     " kind TEXT NOT NULL,"
	     " endpoint TEXT NOT NULL,"
	     " home TEXT NOT NULL,"
	     " login TEXT NOT NULL DEFAULT '',"
	     " basic INTEGER NOT NULL DEFAULT 0,"
	     " listed INTEGER NOT NULL DEFAULT 0,"
	     " PRIMARY KEY (guid, kind)"
	     ") WITHOUT ROWID;"
	     "CREATE TABLE IF NOT EXISTS dav_listing ("
	     " guid TEXT NOT NULL"
	     "  REFERENCES accounts(guid) ON DELETE CASCADE,"
	     " kind TEXT NOT NULL,"
	     " href TEXT NOT NULL,"
	     " displayname TEXT,"
	     " color TEXT,"
	     " reports INTEGER NOT NULL DEFAULT 0,"
	     " components INTEGER NOT NULL DEFAULT 0,"
	     " PRIMARY KEY (guid, kind, href)"
	     ") WITHOUT ROWID;"},
};

/* Statements prepared once per store, on first use. */
enum store_sql {
	STORE_SQL_ACCOUNT_FIND = 0,
	STORE_SQL_ACCOUNT_CREATE,
	STORE_SQL_ACCOUNT_DELETE,
	STORE_SQL_ACCOUNT_LIST,
	STORE_SQL_NODE_GET,
	STORE_SQL_NODE_SET,
	STORE_SQL_NODE_ENSURE,
	STORE_SQL_NODE_DELETE,
	STORE_SQL_NODE_LIST,
	STORE_SQL_COUNT
};

static const char *const store_sql_text[] = {
	/* the stored spelling: an exact match first, then the first by case */
	[STORE_SQL_ACCOUNT_FIND] =
		"SELECT guid FROM accounts WHERE guid = ?1 COLLATE NOCASE"
		" ORDER BY guid = ?1 DESC, guid LIMIT 1",
	[STORE_SQL_ACCOUNT_CREATE] =
		"INSERT INTO accounts (guid, created) VALUES (?1, ?2)",
	[STORE_SQL_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE guid = ?1",
	[STORE_SQL_ACCOUNT_LIST] = "SELECT guid FROM accounts ORDER BY guid",
	[STORE_SQL_NODE_GET] =
		"SELECT value FROM nodes WHERE guid = ?1 AND name = ?2",
	[STORE_SQL_NODE_SET] =
		"INSERT OR REPLACE INTO nodes (guid, name, value)"
		" VALUES (?1, ?2, ?3)",
	[STORE_SQL_NODE_ENSURE] =
		"INSERT OR IGNORE INTO nodes (guid, name, value)"
		" VALUES (?1, ?2, NULL)",
	/*
	 * name and everything below it: "X/..." sorts in ["X/", "X0") because
	 * '0' follows '/' in ASCII; LIKE would treat '%' and '_' in names as
	 * wildcards.
	 */
	[STORE_SQL_NODE_DELETE] = "DELETE FROM nodes WHERE guid = ?1 AND"
				  " (name = ?2 OR (name >= ?2 || '/'"
				  " AND name < ?2 || '0'))",
	[STORE_SQL_NODE_LIST] =
		"SELECT name, value FROM nodes WHERE guid = ?1 ORDER BY name",
};
_Static_assert(sizeof(store_sql_text) / sizeof(store_sql_text[0]) ==
		       STORE_SQL_COUNT,
	       "every statement needs its SQL");

struct e2_store {
	char *dir;
	sqlite3 *db;
	sqlite3_stmt *stmts[STORE_SQL_COUNT];
	unsigned long *savepoints; /* ids of open savepoints, innermost last */
	size_t depth;
	size_t cap;
	unsigned long next_savepoint;
	bool snapshot; /* store_open_snapshot(): in memory, files read-only */
};

/* What to do about a damaged accounts.db (issue 9): said with the error. */
#define STORE_DAMAGED_HINT                                                     \
	"restore it from a backup, or move it away and provision again"

/* SQLITE_CORRUPT or SQLITE_NOTADB: the file itself is damaged. */
static bool
store_code_damaged(int code)
{
	return (code & 0xff) == SQLITE_CORRUPT ||
	       (code & 0xff) == SQLITE_NOTADB;
}

static enum e2_status
store_fail_db(sqlite3 *db, const char *what, struct e2_err *err)
{
	int code = sqlite3_errcode(db);
	enum e2_status rc = code == SQLITE_NOMEM ? E2_ENOMEM : E2_ESTORE;

	if (err != NULL && err->msg[0] == '\0')
		err->sys_errno = sqlite3_system_errno(db);
	/* a page found damaged after the open's checks: say what to do */
	if (store_code_damaged(code))
		return e2_fail(err, rc, STORE_DB_NAME ": %s: %s: %s", what,
			       sqlite3_errmsg(db), STORE_DAMAGED_HINT);
	return e2_fail(err, rc, STORE_DB_NAME ": %s: %s", what,
		       sqlite3_errmsg(db));
}

static char *
store_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	char *p = malloc(la + 1 + lb + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

/* dir, else $EMAIL2_HOME, else $XDG_DATA_HOME/email2, else ~/.local/... */
static enum e2_status
store_resolve_dir(const char *dir, char **dir_out, struct e2_err *err)
{
	const char *env;
	char *d;

	if (dir != NULL) {
		if (dir[0] == '\0')
			return e2_fail(err, E2_EINVAL,
				       "store directory: empty path");
		d = strdup(dir);
	} else if ((env = getenv("EMAIL2_HOME")) != NULL && env[0] != '\0') {
		d = strdup(env);
	} else if ((env = getenv("XDG_DATA_HOME")) != NULL && env[0] == '/') {
		/* XDG: a relative XDG_DATA_HOME is invalid and ignored */
		d = store_path_join(env, "email2");
	} else if ((env = getenv("HOME")) != NULL && env[0] != '\0') {
		d = store_path_join(env, ".local/share/email2");
	} else {
		return e2_fail(err, E2_EINVAL,
			       "store directory: neither EMAIL2_HOME, "
			       "XDG_DATA_HOME nor HOME is set");
	}
	if (d == NULL)
		return e2_fail(err, E2_ENOMEM,
			       "store directory: out of memory");
	*dir_out = d;
	return E2_OK;
}

static enum e2_status
store_fail_errno(const char *what, const char *path, struct e2_err *err)
{
	int e = errno;

	if (err != NULL && err->msg[0] == '\0')
		err->sys_errno = e;
	return e2_fail(err, E2_ESTORE, "%s %s: %s", what, path, strerror(e));
}

/* ---- the store is the user's own ----------------------------------------- */

/*
 * Trust rule (DESIGN.md, "Trust boundaries"): every directory email2 keeps
 * accounts, mail or the send queue in -- <store>, <store>/mail,
 * <store>/mail/{GUID}, <store>/outbox, <store>/outbox/{GUID} -- must be the
 * user's own, as ssh (StrictModes) and gpg demand of theirs: a directory,
 * not a symbolic link; owned by the effective uid; not writable by group or
 * others. Whoever can write one of them can plant a symlink or a queued
 * message and make email2 act with the user's credentials, so such a
 * directory is refused with the fix in the message, never repaired (files
 * may be planted in it already). One we own that others may only read is
 * tightened to 0700, as before. Each level is opened with O_NOFOLLOW |
 * O_DIRECTORY relative to the checked level above and checked with fstat()
 * on that descriptor: what is checked is what is used, and below a checked
 * level only the user (or root) can change anything. The ancestors of
 * <store> are not checked (a symlinked ~/.local is common).
 */
static enum e2_status
store_dir_check_fd(int fd, const char *path, struct e2_err *err)
{
	struct stat sb;
	uid_t me = geteuid();

	if (fstat(fd, &sb) != 0)
		return store_fail_errno("cannot stat", path, err);
	if (!S_ISDIR(sb.st_mode))
		return e2_fail(err, E2_ESTORE, "store \"%s\": not a directory",
			       path);
	if (sb.st_uid != me)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": owned by uid %lu, not by you "
			       "(uid %lu) (chown %lu %s, or use a store of "
			       "your own)",
			       path, (unsigned long)sb.st_uid,
			       (unsigned long)me, (unsigned long)me, path);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": writable by group or others "
			       "(chmod 700 %s)",
			       path, path);
	if ((sb.st_mode & 077) != 0 && fchmod(fd, 0700) != 0)
		return store_fail_errno("cannot chmod", path, err);
	return E2_OK;
}

/*
 * Opens name (relative to at; shown is its full path, for messages) as a
 * checked directory of the store, making it 0700 first when create is set
 * and it is missing. *fd_out is the open descriptor (caller closes).
 * Errors: E2_ESTORE (missing, a symlink, not ours, writable by others).
 */
static enum e2_status
store_dir_open(int at, const char *name, const char *shown, bool create,
	       int *fd_out, struct e2_err *err)
{
	struct stat sb;
	enum e2_status rc;
	int fd;

	if (create && mkdirat(at, name, 0700) != 0 && errno != EEXIST)
		return store_fail_errno("cannot create", shown, err);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if ((e == ELOOP || e == ENOTDIR) &&
		    fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(sb.st_mode))
			return e2_fail(err, E2_ESTORE,
				       "store \"%s\": a symbolic link where a "
				       "directory belongs (remove it, or use "
				       "the directory it points to)",
				       shown);
		if (e == ENOTDIR)
			return e2_fail(err, E2_ESTORE,
				       "store \"%s\": not a directory", shown);
		errno = e;
		return store_fail_errno("cannot open", shown, err);
	}
	rc = store_dir_check_fd(fd, shown, err);
	if (rc != E2_OK) {
		(void)close(fd);
		return rc;
	}
	*fd_out = fd;
	return E2_OK;
}

/* A GUID as one path component: no "/", not "." or "..", not too long. */
static enum e2_status
store_check_component(const char *guid, struct e2_err *err)
{
	char q[160];

	if (guid == NULL || guid[0] == '\0')
		return e2_fail(err, E2_EINVAL, "account: empty GUID");
	if (strchr(guid, '/') != NULL || strcmp(guid, ".") == 0 ||
	    strcmp(guid, "..") == 0 || strlen(guid) >= STORE_GUID_MAX)
		return e2_fail(err, E2_EINVAL,
			       "account \"%s\": not usable as a directory name",
			       e2_quote(q, sizeof(q), guid, strlen(guid)));
	return E2_OK;
}

enum e2_status
store_account_dir(struct e2_store *st, const char *area, const char *guid,
		  char **path_out, struct e2_err *err)
{
	char *sub = NULL, *path = NULL;
	int fd0 = -1, fd1 = -1, fd2 = -1;
	enum e2_status rc;

	if (st->snapshot)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": a dry run makes no directories",
			       st->dir);
	rc = store_check_component(guid, err);
	if (rc != E2_OK)
		return rc;
	sub = store_path_join(st->dir, area);
	path = sub != NULL ? store_path_join(sub, guid) : NULL;
	if (path == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = store_dir_open(AT_FDCWD, st->dir, st->dir, false, &fd0, err);
	if (rc == E2_OK)
		rc = store_dir_open(fd0, area, sub, true, &fd1, err);
	if (rc == E2_OK)
		rc = store_dir_open(fd1, guid, path, true, &fd2, err);
	if (rc != E2_OK)
		goto out;
	*path_out = path;
	path = NULL;
out:
	if (fd2 >= 0)
		(void)close(fd2);
	if (fd1 >= 0)
		(void)close(fd1);
	if (fd0 >= 0)
		(void)close(fd0);
	free(path);
	free(sub);
	return rc;
}

/* Regular files in at/sub (a Maildir's new/ or cur/); 0 when it is absent. */
static size_t
store_count_files(int at, const char *sub)
{
	struct dirent *de;
	struct stat sb;
	size_t n = 0;
	DIR *d;
	int fd;

	fd = openat(at, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		(void)close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode))
			n++;
	(void)closedir(d);
	return n;
}

/* ---- the per-account lock (issue 9) -------------------------------------- */

/*
 * One sync, fetch-full or removal of an account at a time, across
 * processes and threads: an exclusive flock() on <store>/locks/<guid>.lock,
 * taken without waiting. It lived in the account's Maildir root as
 * email2-sync.lock until issue 9, where notmuch (and any Maildir reader)
 * reports it as a file that is not mail; <store>/locks is a checked
 * directory of the store (0700, the user's own), outside mail/.
 */
#define STORE_LOCK_LEGACY "email2-sync.lock"
#define STORE_LOCK_TRIES 8

/*
 * Locks dfd/name (shown: its full path) without waiting and checks that the
 * name still is the file locked: store_account_remove_files() unlinks the
 * lock file while it holds it, so a process that opened it before the
 * unlink and locks it after would hold a lock nobody else can see; it
 * tries again on the new file instead. create unset: a missing file is no
 * lock to take (*fd_out = -1). Errors: E2_EBUSY, E2_ESTORE.
 */
static enum e2_status
store_lock_at(int dfd, const char *name, const char *shown, const char *guid,
	      bool create, int *fd_out, struct e2_err *err)
{
	int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

	*fd_out = -1;
	for (unsigned i = 0; i < STORE_LOCK_TRIES; i++) {
		struct stat held, named;
		int fd =
			openat(dfd, name, flags | (create ? O_CREAT : 0), 0600);

		if (fd < 0 && !create && errno == ENOENT)
			return E2_OK;
		if (fd < 0)
			return store_fail_errno("cannot open", shown, err);
		if (fstat(fd, &held) != 0 || !S_ISREG(held.st_mode)) {
			(void)close(fd);
			return e2_fail(err, E2_ESTORE,
				       "%s: not a regular file (remove it)",
				       shown);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int e = errno;

			(void)close(fd);
			if (e == EWOULDBLOCK)
				return e2_fail(err, E2_EBUSY,
					       "account %s: another sync is "
					       "running (%s is locked)",
					       guid, shown);
			errno = e;
			return store_fail_errno("cannot lock", shown, err);
		}
		if (fstatat(dfd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
		    named.st_dev == held.st_dev &&
		    named.st_ino == held.st_ino) {
			*fd_out = fd;
			return E2_OK;
		}
		/* unlinked by a removal between our open and our flock */
		(void)close(fd);
		if (!create)
			return E2_OK;
	}
	return e2_fail(err, E2_EBUSY,
		       "account %s: %s keeps being removed while locked", guid,
		       shown);
}

enum e2_status
store_account_lock(struct e2_store *st, const char *guid, int *fd_out,
		   struct e2_err *err)
{
	char *locks = NULL, *lock = NULL, *mail = NULL, *md = NULL;
	char *legacy = NULL, *name = NULL;
	int fd0 = -1, fd1 = -1, mfd = -1, lfd = -1, fd = -1;
	struct e2_err merr = {0};
	struct stat sb;
	enum e2_status rc;

	if (st->snapshot)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": a dry run takes no locks",
			       st->dir);
	rc = store_check_component(guid, err);
	if (rc != E2_OK)
		return rc;
	locks = store_path_join(st->dir, STORE_LOCK_DIR);
	name = malloc(strlen(guid) + sizeof(".lock"));
	if (name != NULL)
		(void)snprintf(name, strlen(guid) + sizeof(".lock"), "%s.lock",
			       guid);
	lock = locks != NULL && name != NULL ? store_path_join(locks, name)
					     : NULL;
	mail = store_path_join(st->dir, STORE_AREA_MAIL);
	md = mail != NULL ? store_path_join(mail, guid) : NULL;
	legacy = md != NULL ? store_path_join(md, STORE_LOCK_LEGACY) : NULL;
	if (lock == NULL || legacy == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = store_dir_open(AT_FDCWD, st->dir, st->dir, false, &fd0, err);
	if (rc == E2_OK)
		rc = store_dir_open(fd0, STORE_LOCK_DIR, locks, true, &fd1,
				    err);
	if (rc == E2_OK)
		rc = store_lock_at(fd1, name, lock, guid, true, &fd, err);
	if (rc != E2_OK)
		goto out;
	/*
	 * The lock file of a store an older email2 synced: an old binary
	 * still running holds it (E2_EBUSY, as before); else it goes, so
	 * notmuch stops listing it. Only a real directory of our own is
	 * looked into (the sync refuses any other, with its own message).
	 */
	if (fstatat(fd0, STORE_AREA_MAIL, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode) &&
	    store_dir_open(fd0, STORE_AREA_MAIL, mail, false, &mfd, &merr) ==
		    E2_OK &&
	    fstatat(mfd, guid, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		int gfd =
			openat(mfd, guid,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (gfd >= 0) {
			rc = store_lock_at(gfd, STORE_LOCK_LEGACY, legacy, guid,
					   false, &lfd, err);
			if (rc == E2_OK && lfd >= 0)
				(void)unlinkat(gfd, STORE_LOCK_LEGACY, 0);
			(void)close(gfd);
		}
	}
	if (rc != E2_OK)
		goto out;
	*fd_out = fd;
	fd = -1;
out:
	if (lfd >= 0)
		(void)close(lfd);
	if (fd >= 0)
		(void)close(fd);
	if (mfd >= 0)
		(void)close(mfd);
	if (fd1 >= 0)
		(void)close(fd1);
	if (fd0 >= 0)
		(void)close(fd0);
	free(legacy);
	free(md);
	free(mail);
	free(lock);
	free(name);
	free(locks);
	return rc;
}

/* Unlinks <store>/locks/<guid>.lock (held by the caller); fd0: <store>. */
static enum e2_status
store_account_unlock_remove(struct e2_store *st, int fd0, const char *guid,
			    struct e2_err *err)
{
	char *locks = store_path_join(st->dir, STORE_LOCK_DIR);
	char name[STORE_GUID_MAX + sizeof(".lock")];
	int fd = -1;
	enum e2_status rc;

	if (locks == NULL)
		return e2_fail(err, E2_ENOMEM, "store: out of memory");
	(void)snprintf(name, sizeof(name), "%s.lock", guid);
	rc = store_dir_open(fd0, STORE_LOCK_DIR, locks, false, &fd, err);
	if (rc == E2_OK && unlinkat(fd, name, 0) != 0 && errno != ENOENT)
		rc = store_fail_errno("cannot remove in", locks, err);
	if (fd >= 0)
		(void)close(fd);
	free(locks);
	return rc;
}

/*
 * Removes everything in the directory fd (which it closes), never
 * following a symlink: a symlink is unlinked itself, a directory is opened
 * O_NOFOLLOW relative to its parent and emptied first.
 */
static enum e2_status
store_rm_contents(int fd, const char *shown, unsigned depth, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	struct dirent *de;
	struct stat sb;
	DIR *d;

	d = fdopendir(fd);
	if (d == NULL) {
		rc = store_fail_errno("cannot read", shown, err);
		(void)close(fd);
		return rc;
	}
	while (rc == E2_OK && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		int cfd;

		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
			continue;
		if (fstatat(fd, nm, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				rc = store_fail_errno("cannot stat in", shown,
						      err);
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			if (unlinkat(fd, nm, 0) != 0 && errno != ENOENT)
				rc = store_fail_errno("cannot remove in", shown,
						      err);
			continue;
		}
		if (depth >= STORE_RM_MAX_DEPTH) {
			rc = e2_fail(err, E2_ESTORE,
				     "%s: directories nested deeper than %d",
				     shown, STORE_RM_MAX_DEPTH);
			break;
		}
		cfd = openat(fd, nm,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			rc = store_fail_errno("cannot open in", shown, err);
			break;
		}
		rc = store_rm_contents(cfd, shown, depth + 1, err);
		if (rc == E2_OK && unlinkat(fd, nm, AT_REMOVEDIR) != 0 &&
		    errno != ENOENT)
			rc = store_fail_errno("cannot remove in", shown, err);
	}
	(void)closedir(d);
	return rc;
}

/*
 * Removes <store>/<area>/<guid>; *queued_out gets the messages counted in
 * the queue Maildirs (qdir: "" for the directory itself, ".Outbox" for the
 * legacy queue inside the mail directory) before removing.
 */
static enum e2_status
store_remove_area(int fd0, const char *dir, const char *area, const char *guid,
		  const char *qdir, size_t *queued_out, struct e2_err *err)
{
	char *sub = store_path_join(dir, area);
	char *path = sub != NULL ? store_path_join(sub, guid) : NULL;
	int fd1 = -1, fd2 = -1, qfd = -1;
	struct stat sb;
	enum e2_status rc = E2_OK;

	*queued_out = 0;
	if (path == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	if (fstatat(fd0, area, &sb, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		goto out;
	rc = store_dir_open(fd0, area, sub, false, &fd1, err);
	if (rc != E2_OK)
		goto out;
	if (fstatat(fd1, guid, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			rc = store_fail_errno("cannot stat", path, err);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		/* a symlink (or file) in its place: remove the link itself */
		if (unlinkat(fd1, guid, 0) != 0)
			rc = store_fail_errno("cannot remove", path, err);
		goto out;
	}
	rc = store_dir_open(fd1, guid, path, false, &fd2, err);
	if (rc != E2_OK)
		goto out;
	qfd = qdir[0] == '\0'
		      ? dup(fd2)
		      : openat(fd2, qdir,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (qfd >= 0)
		*queued_out = store_count_files(qfd, "new") +
			      store_count_files(qfd, "cur");
	rc = store_rm_contents(fd2, path, 0, err);
	fd2 = -1; /* closed by store_rm_contents() */
	if (rc == E2_OK && unlinkat(fd1, guid, AT_REMOVEDIR) != 0)
		rc = store_fail_errno("cannot remove", path, err);
out:
	if (qfd >= 0)
		(void)close(qfd);
	if (fd2 >= 0)
		(void)close(fd2);
	if (fd1 >= 0)
		(void)close(fd1);
	free(path);
	free(sub);
	return rc;
}

enum e2_status
store_account_remove_files(struct e2_store *st, const char *guid,
			   size_t *queued_out, struct e2_err *err)
{
	size_t q_mail = 0, q_outbox = 0;
	int fd0 = -1, lock = -1;
	enum e2_status rc;

	*queued_out = 0;
	if (st->snapshot)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": a dry run removes nothing",
			       st->dir);
	rc = store_check_component(guid, err);
	if (rc != E2_OK)
		return rc;
	/* a running sync or fetch-full holds the account's lock: it would
	 * recreate what we remove (E2_EBUSY, the files stay) */
	rc = store_account_lock(st, guid, &lock, err);
	if (rc != E2_OK)
		return rc;
	rc = store_dir_open(AT_FDCWD, st->dir, st->dir, false, &fd0, err);
	if (rc != E2_OK)
		goto out;
	rc = store_remove_area(fd0, st->dir, STORE_AREA_OUTBOX, guid, "",
			       &q_outbox, err);
	/* the legacy queue, <mail>/.Outbox, goes with the mail directory */
	if (rc == E2_OK)
		rc = store_remove_area(fd0, st->dir, STORE_AREA_MAIL, guid,
				       ".Outbox", &q_mail, err);
	*queued_out = q_mail + q_outbox;
	/* the lock file goes too, unlinked while held: store_lock_at() makes
	 * a process that opened it before this retry on a new file */
	if (rc == E2_OK)
		rc = store_account_unlock_remove(st, fd0, guid, err);
out:
	if (fd0 >= 0)
		(void)close(fd0);
	(void)close(lock);
	return rc;
}

/* mkdir -p: missing components are made 0700; the store dir ends 0700. */
static enum e2_status
store_mkdir_p(const char *dir, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	char *p = strdup(dir);
	int fd = -1;

	if (p == NULL)
		return e2_fail(err, E2_ENOMEM,
			       "store directory: out of memory");
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rc = store_fail_errno("cannot create", p, err);
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		rc = store_fail_errno("cannot create", p, err);
		goto out;
	}
	rc = store_dir_open(AT_FDCWD, p, p, false, &fd, err);
out:
	if (fd >= 0)
		(void)close(fd);
	free(p);
	return rc;
}

/*
 * The database path SQLite opens. SQLITE_OPEN_NOFOLLOW refuses a symbolic
 * link anywhere in the path, but only <store> itself must not be one
 * (store_dir_open() checks it, O_NOFOLLOW); its ancestors may be ("the
 * ancestors of <store> are not checked": a symlinked ~/.local is common,
 * and a store named through a symlinked path is the same store, which
 * issue 9 found refused with "unable to open database file"). So the
 * parent is resolved with realpath() and the last component kept as it
 * is. Caller frees; NULL when it cannot be resolved (then the path as
 * given is opened, and refused as before).
 */
static char *
store_db_path(const char *dir)
{
	char *d = strdup(dir), *slash, *parent = NULL, *p = NULL;
	const char *base;
	size_t n;

	if (d == NULL)
		return NULL;
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	slash = strrchr(d, '/');
	if (slash == NULL) {
		parent = realpath(".", NULL);
		base = d;
	} else if (slash == d) {
		parent = strdup("");
		base = d + 1;
	} else {
		*slash = '\0';
		parent = realpath(d, NULL);
		base = slash + 1;
	}
	if (parent != NULL) {
		n = strlen(parent) + strlen(base) + sizeof(STORE_DB_NAME) + 3;
		p = malloc(n);
		if (p != NULL)
			(void)snprintf(p, n, "%s/%s/%s", parent, base,
				       STORE_DB_NAME);
	}
	free(parent);
	free(d);
	return p;
}

/*
 * Creates the database file 0600 before SQLite sees it (no umask games:
 * umask is process-wide). SQLite gives -wal and -shm the database file's
 * mode, so they are 0600 too; store_tighten() checks anyway.
 */
static enum e2_status
store_create_file(const char *path, struct e2_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	struct stat sb;

	if (fd < 0)
		return store_fail_errno("cannot open", path, err);
	/* in a directory of ours, but a file someone else made is not */
	if (fstat(fd, &sb) != 0 || sb.st_uid != geteuid()) {
		(void)close(fd);
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": not owned by you (uid %lu) "
			       "(chown %lu %s)",
			       path, (unsigned long)geteuid(),
			       (unsigned long)geteuid(), path);
	}
	if (fchmod(fd, 0600) != 0) {
		enum e2_status rc = store_fail_errno("cannot chmod", path, err);

		(void)close(fd);
		return rc;
	}
	(void)close(fd);
	return E2_OK;
}

static enum e2_status
store_tighten(const char *dbpath, const char *suffix, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	size_t l = strlen(dbpath);
	size_t ls = strlen(suffix);
	char *p = malloc(l + ls + 1);
	struct stat sb;

	if (p == NULL)
		return e2_fail(err, E2_ENOMEM, "store: out of memory");
	memcpy(p, dbpath, l);
	memcpy(p + l, suffix, ls + 1);
	if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & 077) != 0 && chmod(p, 0600) != 0)
		rc = store_fail_errno("cannot chmod", p, err);
	free(p);
	return rc;
}

static enum e2_status
store_exec(sqlite3 *db, const char *sql, const char *what, struct e2_err *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail_db(db, what, err);
	return E2_OK;
}

static enum e2_status
store_pragma_int(sqlite3 *db, const char *sql, int *value_out,
		 struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc = E2_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		rc = store_fail_db(db, sql, err);
		goto out;
	}
	*value_out = sqlite3_column_int(stmt, 0);
out:
	sqlite3_finalize(stmt);
	return rc;
}

static enum e2_status
store_set_wal(sqlite3 *db, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc = E2_OK;
	const unsigned char *mode;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		rc = store_fail_db(db, "journal_mode", err);
		goto out;
	}
	mode = sqlite3_column_text(stmt, 0);
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
		rc = e2_fail(err, E2_ESTORE,
			     STORE_DB_NAME ": cannot enable WAL mode");
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* Brings the schema to the last version in store_migrations[]. */
static enum e2_status
store_migrate(sqlite3 *db, struct e2_err *err)
{
	const size_t n = sizeof(store_migrations) / sizeof(store_migrations[0]);
	const int latest = store_migrations[n - 1].version;
	enum e2_status rc;
	int version = 0;
	char sql[64];

	/* IMMEDIATE: a second process waits instead of migrating twice */
	rc = store_exec(db, "BEGIN IMMEDIATE", "begin migration", err);
	if (rc != E2_OK)
		return rc;
	rc = store_pragma_int(db, "PRAGMA user_version", &version, err);
	if (rc != E2_OK)
		goto out;
	if (version > latest) {
		rc = e2_fail(err, E2_ESTORE,
			     STORE_DB_NAME ": schema version %d is newer than "
					   "this email2 (%d)",
			     version, latest);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (store_migrations[i].version <= version)
			continue;
		rc = store_exec(db, store_migrations[i].sql, "schema migration",
				err);
		if (rc != E2_OK)
			goto out;
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			       store_migrations[i].version);
		rc = store_exec(db, sql, "schema version", err);
		if (rc != E2_OK)
			goto out;
	}
	rc = store_exec(db, "COMMIT", "commit migration", err);
out:
	if (rc != E2_OK && sqlite3_get_autocommit(db) == 0)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- opening: only provisioning creates a store (issue 9) ------------- */

/*
 * Where a store directory came from, for "no store at DIR (SOURCE)": the
 * same precedence as store_resolve_dir(). NULL when the caller named it.
 */
static const char *
store_dir_source(const char *dir)
{
	const char *env;

	if (dir != NULL)
		return NULL;
	if ((env = getenv("EMAIL2_HOME")) != NULL && env[0] != '\0')
		return "EMAIL2_HOME";
	if ((env = getenv("XDG_DATA_HOME")) != NULL && env[0] == '/')
		return "XDG_DATA_HOME";
	return "the default";
}

/* The store is missing: say where we looked and what makes one. */
static enum e2_status
store_fail_missing(const char *dir, const char *shown, struct e2_err *err)
{
	const char *src = store_dir_source(dir);

	return e2_fail(err, E2_ESTORE,
		       "no store at %s%s%s%s: provision an account first with "
		       "email2-provision",
		       shown, src != NULL ? " (" : "", src != NULL ? src : "",
		       src != NULL ? ")" : "");
}

/*
 * A damaged file fails here, naming it, rather than later as an empty
 * account list (issue 9: a corrupted accounts.db made "email2-syncd --once"
 * exit 0 silently). Reading sqlite_master parses page 1 and the schema:
 * random bytes are SQLITE_NOTADB, a truncated or scribbled file
 * SQLITE_CORRUPT. Counting the accounts and nodes rows then walks those
 * two small tables. PRAGMA quick_check would also walk the sync state,
 * which grows with the mailboxes: measured on a store with 300000 message
 * rows (95 MB), 0.45 s warm and 3 s from a cold cache, on every run of
 * every tool (email2-sendmail runs per message from mutt), so it is not
 * done; a page damaged there fails the statement that reads it, with the
 * same hint (store_fail_db()). With need_schema an empty database (a
 * zero-length file, or another program's empty SQLite file) is refused:
 * only provisioning creates the schema.
 */
static enum e2_status
store_check_db(sqlite3 *db, const char *path, bool after_migrate,
	       bool need_schema, struct e2_err *err)
{
	static const char *const sql[] = {
		"SELECT count(*) FROM sqlite_master",
		"SELECT count(*) FROM accounts",
		"SELECT count(*) FROM nodes",
	};
	enum e2_status rc = E2_OK;
	size_t from = after_migrate ? 1 : 0, to = after_migrate ? 3 : 1;

	for (size_t i = from; i < to && rc == E2_OK; i++) {
		sqlite3_stmt *stmt = NULL;
		int code = sqlite3_prepare_v2(db, sql[i], -1, &stmt, NULL);

		if (code == SQLITE_OK)
			code = sqlite3_step(stmt);
		if (code == SQLITE_ROW && i == 0 && need_schema &&
		    sqlite3_column_int(stmt, 0) == 0)
			rc = e2_fail(err, E2_ESTORE,
				     "%s: empty (no email2 "
				     "tables): " STORE_DAMAGED_HINT,
				     path);
		else if (code != SQLITE_ROW && store_code_damaged(code))
			rc = e2_fail(err, E2_ESTORE, "%s: %s (%s): %s", path,
				     (code & 0xff) == SQLITE_NOTADB
					     ? "not a database"
					     : "damaged",
				     sqlite3_errmsg(db), STORE_DAMAGED_HINT);
		else if (code != SQLITE_ROW)
			rc = store_fail_db(db, "read the schema", err);
		sqlite3_finalize(stmt);
	}
	return rc;
}

/*
 * Opens the store in dir (see e2_store_open()); create: make the
 * directory and accounts.db when missing, else refuse a missing one.
 */
static enum e2_status
store_open(const char *dir, bool create, struct e2_store **st_out,
	   struct e2_err *err)
{
	struct e2_store *st = NULL;
	char *path = NULL, *dbpath = NULL;
	enum e2_status rc;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = store_resolve_dir(dir, &st->dir, err);
	if (rc != E2_OK)
		goto out;
	path = store_path_join(st->dir, STORE_DB_NAME);
	if (path == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	if (create) {
		rc = store_mkdir_p(st->dir, err);
		if (rc == E2_OK)
			rc = store_create_file(path, err);
		flags |= SQLITE_OPEN_CREATE;
	} else {
		int fd = -1;
		struct stat sb;

		if (stat(st->dir, &sb) != 0 && errno == ENOENT) {
			rc = store_fail_missing(dir, st->dir, err);
			goto out;
		}
		rc = store_dir_open(AT_FDCWD, st->dir, st->dir, false, &fd,
				    err);
		if (fd >= 0)
			(void)close(fd);
		if (rc == E2_OK && lstat(path, &sb) != 0) {
			if (errno == ENOENT)
				rc = store_fail_missing(dir, path, err);
			else
				rc = store_fail_errno("cannot stat", path, err);
		}
	}
	if (rc != E2_OK)
		goto out;
	dbpath = store_db_path(st->dir); /* ancestors' symlinks resolved */
	if (sqlite3_open_v2(dbpath != NULL ? dbpath : path, &st->db, flags,
			    NULL) != SQLITE_OK) {
		if (st->db == NULL)
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		else
			rc = store_fail_db(st->db, "open", err);
		goto out;
	}
	(void)sqlite3_extended_result_codes(st->db, 1);
	(void)sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	rc = store_check_db(st->db, path, false, !create, err);
	if (rc != E2_OK)
		goto out;
	rc = store_set_wal(st->db, err);
	if (rc != E2_OK)
		goto out;
	/*
	 * synchronous=NORMAL is durable across application crashes in WAL
	 * mode and skips an fsync per commit; secure_delete overwrites the
	 * pages freed when a secret is replaced or deleted.
	 */
	rc = store_exec(st->db,
			"PRAGMA foreign_keys = ON;"
			"PRAGMA synchronous = NORMAL;"
			"PRAGMA secure_delete = ON;",
			"pragmas", err);
	if (rc != E2_OK)
		goto out;
	rc = store_migrate(st->db, err);
	if (rc != E2_OK)
		goto out;
	rc = store_check_db(st->db, path, true, false, err);
	if (rc != E2_OK)
		goto out;
	rc = store_tighten(path, "-wal", err);
	if (rc != E2_OK)
		goto out;
	rc = store_tighten(path, "-shm", err);
	if (rc != E2_OK)
		goto out;
	*st_out = st;
	st = NULL;
out:
	free(dbpath);
	free(path);
	e2_store_close(&st);
	return rc;
}

enum e2_status
e2_store_open(const char *dir, struct e2_store **st_out, struct e2_err *err)
{
	return store_open(dir, true, st_out, err);
}

enum e2_status
e2_store_open_existing(const char *dir, struct e2_store **st_out,
		       struct e2_err *err)
{
	return store_open(dir, false, st_out, err);
}

void
e2_store_close(struct e2_store **stp)
{
	struct e2_store *st;

	if (stp == NULL || *stp == NULL)
		return;
	st = *stp;
	for (size_t i = 0; i < STORE_SQL_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db != NULL) {
		/* an open transaction at close is abandoned, never committed */
		if (sqlite3_get_autocommit(st->db) == 0)
			(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL,
					   NULL);
		(void)sqlite3_close(st->db);
	}
	free(st->savepoints);
	free(st->dir);
	free(st);
	*stp = NULL;
}

const char *
e2_store_dir(const struct e2_store *st)
{
	return st->dir;
}

sqlite3 *
store_db(struct e2_store *st)
{
	return st->db;
}

/* ---- snapshots: a dry run's in-memory copy --------------------------------
 */

/*
 * Why a copy and not a rolled-back transaction: a dry run must leave every
 * byte of the store as it was, and must not create a missing store. A
 * read-write open creates the directory and accounts.db, migrates an older
 * schema, and SQLite's WAL mode creates accounts.db-wal and -shm even for a
 * read-only open ("mode=ro"). So the file is opened with "immutable=1"
 * (SQLite neither locks nor writes anything, nor creates -wal or -shm) and
 * copied whole into ":memory:" with the backup API; the apply then runs on
 * the copy, migrated there. When accounts.db-wal exists and is not empty
 * (another process has the store open, or one crashed), the main file alone
 * may miss committed pages: then it is opened "mode=ro", which reads the
 * WAL (and may update the -shm index the writer already keeps); the store's
 * data is still not changed. File-system side effects are refused on a
 * snapshot (store_account_dir(), store_account_remove_files()); the applier
 * asks store_account_files_preview() what a Delete would remove.
 */

/* "file:PATH?QUERY" with PATH %-escaped (SQLite URI filenames). */
static char *
store_file_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path), q = strlen(query);
	char *u = malloc(5 + 3 * n + q + 1);
	char *o = u;

	if (u == NULL)
		return NULL;
	memcpy(o, "file:", 5);
	o += 5;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '/' || c == '.' ||
		    c == '_' || c == '-' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	memcpy(o, query, q + 1);
	return u;
}

/*
 * The checks a real open makes of the store directory and accounts.db,
 * without repairing anything (a real open would chmod 0700). *fresh_out:
 * no store or no accounts.db yet (a real open would create them).
 */
static enum e2_status
store_snapshot_check(const char *dir, const char *path, bool *fresh_out,
		     struct e2_err *err)
{
	struct stat sb;
	uid_t me = geteuid();

	*fresh_out = false;
	if (lstat(dir, &sb) != 0) {
		if (errno != ENOENT)
			return store_fail_errno("cannot stat", dir, err);
		*fresh_out = true;
		return E2_OK;
	}
	if (S_ISLNK(sb.st_mode))
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": a symbolic link where a "
			       "directory belongs (remove it, or use the "
			       "directory it points to)",
			       dir);
	if (!S_ISDIR(sb.st_mode))
		return e2_fail(err, E2_ESTORE, "store \"%s\": not a directory",
			       dir);
	if (sb.st_uid != me)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": owned by uid %lu, not by you "
			       "(uid %lu) (chown %lu %s, or use a store of "
			       "your own)",
			       dir, (unsigned long)sb.st_uid, (unsigned long)me,
			       (unsigned long)me, dir);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": writable by group or others "
			       "(chmod 700 %s)",
			       dir, dir);
	if (lstat(path, &sb) != 0) {
		if (errno != ENOENT)
			return store_fail_errno("cannot stat", path, err);
		*fresh_out = true;
		return E2_OK;
	}
	if (!S_ISREG(sb.st_mode))
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": not a regular file", path);
	if (sb.st_uid != me)
		return e2_fail(err, E2_ESTORE,
			       "store \"%s\": not owned by you (uid %lu) "
			       "(chown %lu %s)",
			       path, (unsigned long)me, (unsigned long)me,
			       path);
	return E2_OK;
}

/* Copies the database file path into st->db (in memory). */
static enum e2_status
store_snapshot_copy(struct e2_store *st, const char *path, struct e2_err *err)
{
	sqlite3 *src = NULL;
	sqlite3_backup *bk = NULL;
	struct stat sb;
	char *wal = NULL, *uri = NULL;
	bool use_wal;
	enum e2_status rc = E2_OK;
	int step;

	wal = malloc(strlen(path) + 5);
	if (wal == NULL)
		return e2_fail(err, E2_ENOMEM, "store: out of memory");
	memcpy(wal, path, strlen(path));
	memcpy(wal + strlen(path), "-wal", 5);
	use_wal = lstat(wal, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
	uri = store_file_uri(path, use_wal ? "?mode=ro" : "?immutable=1");
	if (uri == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	if (sqlite3_open_v2(uri, &src,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
				    SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		rc = src == NULL
			     ? e2_fail(err, E2_ENOMEM, "store: out of memory")
			     : store_fail_db(src, "open", err);
		goto out;
	}
	bk = sqlite3_backup_init(st->db, "main", src, "main");
	if (bk == NULL) {
		rc = store_fail_db(st->db, "copy", err);
		goto out;
	}
	step = sqlite3_backup_step(bk, -1);
	if (sqlite3_backup_finish(bk) != SQLITE_OK || step != SQLITE_DONE)
		rc = store_fail_db(st->db, "copy", err);
out:
	if (src != NULL)
		(void)sqlite3_close(src);
	free(uri);
	free(wal);
	return rc;
}

enum e2_status
store_open_snapshot(const char *dir, struct e2_store **st_out,
		    struct e2_err *err)
{
	struct e2_store *st = NULL;
	char *path = NULL;
	bool fresh = false;
	enum e2_status rc;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return e2_fail(err, E2_ENOMEM, "store: out of memory");
	st->snapshot = true;
	rc = store_resolve_dir(dir, &st->dir, err);
	if (rc != E2_OK)
		goto out;
	path = store_path_join(st->dir, STORE_DB_NAME);
	if (path == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = store_snapshot_check(st->dir, path, &fresh, err);
	if (rc != E2_OK)
		goto out;
	if (sqlite3_open_v2(":memory:", &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = st->db == NULL
			     ? e2_fail(err, E2_ENOMEM, "store: out of memory")
			     : store_fail_db(st->db, "open", err);
		goto out;
	}
	(void)sqlite3_extended_result_codes(st->db, 1);
	if (!fresh)
		rc = store_snapshot_copy(st, path, err);
	if (rc == E2_OK)
		rc = store_exec(st->db, "PRAGMA foreign_keys = ON;", "pragmas",
				err);
	if (rc == E2_OK)
		rc = store_migrate(st->db, err);
	if (rc != E2_OK)
		goto out;
	*st_out = st;
	st = NULL;
out:
	free(path);
	e2_store_close(&st);
	return rc;
}

bool
store_is_snapshot(const struct e2_store *st)
{
	return st->snapshot;
}

enum e2_status
store_account_files_preview(struct e2_store *st, const char *guid,
			    size_t *queued_out, struct e2_err *err)
{
	/* <area>/<guid>/<queue>: the queues store_remove_area() counts */
	static const struct {
		const char *area, *queue;
	} queues[] = {
		{STORE_AREA_OUTBOX, "new"},
		{STORE_AREA_OUTBOX, "cur"},
		{STORE_AREA_MAIL, ".Outbox/new"},
		{STORE_AREA_MAIL, ".Outbox/cur"},
	};
	char sub[STORE_GUID_MAX + 32];
	size_t n = 0;
	enum e2_status rc;
	int fd;

	*queued_out = 0;
	rc = store_check_component(guid, err);
	if (rc != E2_OK)
		return rc;
	fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return E2_OK; /* no store yet: nothing to remove */
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		(void)snprintf(sub, sizeof(sub), "%s/%s/%s", queues[i].area,
			       guid, queues[i].queue);
		n += store_count_files(fd, sub);
	}
	(void)close(fd);
	*queued_out = n;
	return E2_OK;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * The outermost level is BEGIN IMMEDIATE (or BEGIN for a read), not a
 * SAVEPOINT: a deferred transaction that reads and then writes fails with
 * SQLITE_BUSY, without waiting, when another connection wrote in between
 * (WAL snapshot upgrade). Inner levels are SAVEPOINTs named from a counter.
 * Level ids: STORE_TX_TOP for BEGIN, else the savepoint's number.
 */
#define STORE_TX_TOP 0UL

/* SQLite ended the transaction itself (disk full, I/O error, ...). */
static bool
store_tx_lost(const struct e2_store *st)
{
	return st->depth > 0 && sqlite3_get_autocommit(st->db) != 0;
}

static enum e2_status
store_begin_level(struct e2_store *st, bool write, struct e2_err *err)
{
	unsigned long id;
	char sql[48];

	if (store_tx_lost(st))
		return e2_fail(err, E2_ESTORE,
			       STORE_DB_NAME ": transaction was rolled back");
	if (st->depth == st->cap) {
		size_t cap = st->cap == 0 ? 8 : st->cap * 2;
		unsigned long *v = realloc(st->savepoints, cap * sizeof(*v));

		if (v == NULL)
			return e2_fail(err, E2_ENOMEM, "store: out of memory");
		st->savepoints = v;
		st->cap = cap;
	}
	/* a transaction opened through store_db() nests as a savepoint too */
	if (st->depth == 0 && sqlite3_get_autocommit(st->db) != 0) {
		id = STORE_TX_TOP;
		(void)snprintf(sql, sizeof(sql), "%s",
			       write ? "BEGIN IMMEDIATE" : "BEGIN");
	} else {
		id = ++st->next_savepoint;
		(void)snprintf(sql, sizeof(sql), "SAVEPOINT e2_sp_%lu", id);
	}
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail_db(st->db, "begin", err);
	st->savepoints[st->depth++] = id;
	return E2_OK;
}

enum e2_status
store_begin(struct e2_store *st, struct e2_err *err)
{
	return store_begin_level(st, true, err);
}

enum e2_status
store_begin_read(struct e2_store *st, struct e2_err *err)
{
	return store_begin_level(st, false, err);
}

static void
store_rollback_to(struct e2_store *st, unsigned long id)
{
	char sql[80];

	/* ROLLBACK TO keeps the savepoint open; RELEASE closes it */
	if (id == STORE_TX_TOP)
		(void)snprintf(sql, sizeof(sql), "ROLLBACK");
	else
		(void)snprintf(sql, sizeof(sql),
			       "ROLLBACK TO e2_sp_%lu; RELEASE e2_sp_%lu", id,
			       id);
	(void)sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

enum e2_status
store_commit(struct e2_store *st, struct e2_err *err)
{
	unsigned long id;
	char sql[48];

	if (st->depth == 0)
		return e2_fail(err, E2_ESTORE,
			       STORE_DB_NAME ": commit without begin");
	id = st->savepoints[--st->depth];
	if (sqlite3_get_autocommit(st->db) != 0)
		return e2_fail(err, E2_ESTORE,
			       STORE_DB_NAME ": transaction was rolled back");
	if (id == STORE_TX_TOP)
		(void)snprintf(sql, sizeof(sql), "COMMIT");
	else
		(void)snprintf(sql, sizeof(sql), "RELEASE e2_sp_%lu", id);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		enum e2_status rc = store_fail_db(st->db, "commit", err);

		if (sqlite3_get_autocommit(st->db) == 0)
			store_rollback_to(st, id);
		return rc;
	}
	return E2_OK;
}

void
store_rollback(struct e2_store *st)
{
	unsigned long id;

	if (st->depth == 0)
		return;
	id = st->savepoints[--st->depth];
	if (sqlite3_get_autocommit(st->db) != 0)
		return; /* SQLite rolled everything back already */
	store_rollback_to(st, id);
}

/* ---- statements ------------------------------------------------------------
 */

static enum e2_status
store_stmt(struct e2_store *st, enum store_sql which, sqlite3_stmt **stmt_out,
	   struct e2_err *err)
{
	if (store_tx_lost(st))
		return e2_fail(err, E2_ESTORE,
			       STORE_DB_NAME ": transaction was rolled back");
	if (st->stmts[which] == NULL &&
	    sqlite3_prepare_v3(st->db, store_sql_text[which], -1,
			       SQLITE_PREPARE_PERSISTENT, &st->stmts[which],
			       NULL) != SQLITE_OK)
		return store_fail_db(st->db, "prepare", err);
	*stmt_out = st->stmts[which];
	return E2_OK;
}

/* Every use of a cached statement ends here, so none stays active. */
static void
store_stmt_done(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	(void)sqlite3_reset(stmt);
	(void)sqlite3_clear_bindings(stmt);
}

static enum e2_status
store_bind_text(struct e2_store *st, sqlite3_stmt *stmt, int i, const char *s,
		struct e2_err *err)
{
	int r = s == NULL ? sqlite3_bind_null(stmt, i)
			  : sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);

	if (r != SQLITE_OK)
		return store_fail_db(st->db, "bind", err);
	return E2_OK;
}

static enum e2_status
store_check_guid(const char *guid, struct e2_err *err)
{
	if (guid == NULL || guid[0] == '\0')
		return e2_fail(err, E2_EINVAL, "account: empty GUID");
	if (strlen(guid) >= STORE_GUID_MAX)
		return e2_fail(err, E2_EINVAL, "account: GUID longer than %d",
			       STORE_GUID_MAX - 1);
	return E2_OK;
}

/*
 * GUIDs. A GUID names the same account whatever the case of its hex
 * digits: every function below looks the account up with COLLATE NOCASE
 * (store_account_find()) and then uses the spelling stored, so its nodes,
 * sync state and <store>/mail/{GUID} directory keep that spelling. A new
 * account is stored in the canonical form, upper-case ("{C556E16F-...}");
 * stores written before this rule keep their lower-case rows (no rename of
 * rows or mail directories is needed). Brace forms are the LocURI layer's
 * business: the store only ever sees "{...}".
 */
enum e2_status
store_account_find(struct e2_store *st, const char *guid, bool *found_out,
		   char stored_out[STORE_GUID_MAX], struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	int r;

	rc = store_check_guid(guid, err);
	if (rc != E2_OK)
		return rc;
	rc = store_stmt(st, STORE_SQL_ACCOUNT_FIND, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_bind_text(st, stmt, 1, guid, err);
	if (rc != E2_OK)
		goto out;
	r = sqlite3_step(stmt);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = store_fail_db(st->db, "find account", err);
		goto out;
	}
	*found_out = r == SQLITE_ROW;
	if (stored_out != NULL) {
		const char *g =
			r == SQLITE_ROW
				? (const char *)sqlite3_column_text(stmt, 0)
				: NULL;

		(void)snprintf(stored_out, STORE_GUID_MAX, "%s",
			       g != NULL ? g : guid);
	}
out:
	store_stmt_done(stmt);
	return rc;
}

/* The stored spelling of guid into buf, or guid itself when absent. */
static enum e2_status
store_guid(struct e2_store *st, const char *guid, char buf[STORE_GUID_MAX],
	   struct e2_err *err)
{
	bool found;

	return store_account_find(st, guid, &found, buf, err);
}

/* The canonical form of a new GUID: hex digits upper-case. */
static void
store_guid_canon(char *g)
{
	for (; *g != '\0'; g++)
		if (*g >= 'a' && *g <= 'f')
			*g = (char)(*g - 'a' + 'A');
}

static enum e2_status
store_check_name(const char *name, struct e2_err *err)
{
	if (name == NULL || name[0] == '\0')
		return e2_fail(err, E2_EINVAL, "node: empty name");
	return E2_OK;
}

static const char *
store_quote(char *buf, size_t len, const char *s)
{
	return e2_quote(buf, len, s, strlen(s));
}

/* ---- accounts -------------------------------------------------------------
 */

enum e2_status
store_account_exists(struct e2_store *st, const char *guid, bool *exists_out,
		     struct e2_err *err)
{
	return store_account_find(st, guid, exists_out, NULL, err);
}

enum e2_status
store_account_create(struct e2_store *st, const char *guid, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	char q[512];

	char canon[STORE_GUID_MAX];
	bool exists;

	rc = store_account_find(st, guid, &exists, canon, err);
	if (rc != E2_OK)
		return rc;
	if (exists)
		return e2_fail(err, E2_EINVAL, "account \"%s\": exists already",
			       store_quote(q, sizeof(q), canon));
	store_guid_canon(canon);
	rc = store_stmt(st, STORE_SQL_ACCOUNT_CREATE, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_bind_text(st, stmt, 1, canon, err);
	if (rc != E2_OK)
		goto out;
	if (sqlite3_bind_int64(stmt, 2, (sqlite3_int64)time(NULL)) !=
	    SQLITE_OK) {
		rc = store_fail_db(st->db, "bind", err);
		goto out;
	}
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) ==
		    SQLITE_CONSTRAINT_PRIMARYKEY)
			rc = e2_fail(err, E2_EINVAL,
				     "account \"%s\": exists already",
				     store_quote(q, sizeof(q), guid));
		else
			rc = store_fail_db(st->db, "create account", err);
		goto out;
	}
out:
	store_stmt_done(stmt);
	return rc;
}

enum e2_status
store_account_delete(struct e2_store *st, const char *guid, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	char q[512];

	char g[STORE_GUID_MAX];

	rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	rc = store_stmt(st, STORE_SQL_ACCOUNT_DELETE, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_bind_text(st, stmt, 1, g, err);
	if (rc != E2_OK)
		goto out;
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = store_fail_db(st->db, "delete account", err);
		goto out;
	}
	if (sqlite3_changes(st->db) == 0)
		rc = e2_fail(err, E2_EINVAL, "account \"%s\": not found",
			     store_quote(q, sizeof(q), guid));
out:
	store_stmt_done(stmt);
	return rc;
}

/* Every GUID, sorted; used by e2_account_list(). */
enum e2_status
store_account_list(struct e2_store *st, char ***guids_out, size_t *n_out,
		   struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	char **v = NULL;
	size_t n = 0;
	size_t cap = 0;
	enum e2_status rc;
	int r;

	rc = store_stmt(st, STORE_SQL_ACCOUNT_LIST, &stmt, err);
	if (rc != E2_OK)
		goto out;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(stmt, 0);

		if (n + 1 >= cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			char **nv = realloc(v, ncap * sizeof(*nv));

			if (nv == NULL) {
				rc = e2_fail(err, E2_ENOMEM,
					     "store: out of memory");
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n] = g == NULL ? NULL : strdup(g);
		if (v[n] == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
			goto out;
		}
		n++;
	}
	if (r != SQLITE_DONE) {
		rc = store_fail_db(st->db, "list accounts", err);
		goto out;
	}
	if (v == NULL) {
		v = calloc(1, sizeof(*v));
		if (v == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
			goto out;
		}
	}
	v[n] = NULL;
	*guids_out = v;
	*n_out = n;
	v = NULL;
out:
	store_stmt_done(stmt);
	if (v != NULL) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
	}
	return rc;
}

/* ---- nodes
 * ------------------------------------------------------------------- */

enum e2_status
store_node_get(struct e2_store *st, const char *guid, const char *name,
	       bool *found_out, char **value_out, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;
	char *value = NULL;
	int r;

	char g[STORE_GUID_MAX];

	rc = store_check_name(name, err);
	if (rc == E2_OK)
		rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	rc = store_stmt(st, STORE_SQL_NODE_GET, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_bind_text(st, stmt, 1, g, err);
	if (rc == E2_OK)
		rc = store_bind_text(st, stmt, 2, name, err);
	if (rc != E2_OK)
		goto out;
	r = sqlite3_step(stmt);
	if (r == SQLITE_DONE) {
		*found_out = false;
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = store_fail_db(st->db, "get node", err);
		goto out;
	}
	if (sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		const char *v = (const char *)sqlite3_column_text(stmt, 0);

		value = v == NULL ? NULL : strdup(v);
		if (value == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
			goto out;
		}
	}
	*found_out = true;
	*value_out = value;
out:
	store_stmt_done(stmt);
	return rc;
}

static enum e2_status
store_node_step(struct e2_store *st, sqlite3_stmt *stmt, const char *guid,
		const char *name, const char *value, struct e2_err *err)
{
	enum e2_status rc;
	char q[512];

	rc = store_bind_text(st, stmt, 1, guid, err);
	if (rc == E2_OK)
		rc = store_bind_text(st, stmt, 2, name, err);
	if (rc == E2_OK && sqlite3_bind_parameter_count(stmt) >= 3)
		rc = store_bind_text(st, stmt, 3, value, err);
	if (rc != E2_OK)
		goto out;
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) ==
		    SQLITE_CONSTRAINT_FOREIGNKEY)
			rc = e2_fail(err, E2_EINVAL,
				     "account \"%s\": not found",
				     store_quote(q, sizeof(q), guid));
		else
			rc = store_fail_db(st->db, "set node", err);
	}
out:
	store_stmt_done(stmt);
	return rc;
}

enum e2_status
store_node_set(struct e2_store *st, const char *guid, const char *name,
	       const char *value, struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	char *parent = NULL;
	char g[STORE_GUID_MAX];
	enum e2_status rc;

	rc = store_check_name(name, err);
	if (rc == E2_OK)
		rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	guid = g;
	/* the path segments above name exist as interior nodes */
	if (strchr(name, '/') != NULL) {
		parent = strdup(name);
		if (parent == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
			goto out;
		}
		rc = store_stmt(st, STORE_SQL_NODE_ENSURE, &stmt, err);
		if (rc != E2_OK)
			goto out;
		for (char *s = strchr(parent, '/'); s != NULL;
		     s = strchr(s + 1, '/')) {
			*s = '\0';
			rc = store_node_step(st, stmt, guid, parent, NULL, err);
			*s = '/';
			if (rc != E2_OK)
				goto out;
		}
	}
	rc = store_stmt(st, STORE_SQL_NODE_SET, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_node_step(st, stmt, guid, name, value, err);
out:
	free(parent);
	return rc;
}

enum e2_status
store_node_delete(struct e2_store *st, const char *guid, const char *name,
		  struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	enum e2_status rc;

	char g[STORE_GUID_MAX];

	rc = store_check_name(name, err);
	if (rc == E2_OK)
		rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	rc = store_stmt(st, STORE_SQL_NODE_DELETE, &stmt, err);
	if (rc != E2_OK)
		return rc;
	return store_node_step(st, stmt, g, name, NULL, err);
}

enum e2_status
store_node_list(struct e2_store *st, const char *guid,
		struct store_node **nodes_out, size_t *n_out,
		struct e2_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct store_node *v = NULL;
	size_t n = 0;
	size_t cap = 0;
	enum e2_status rc;
	int r;

	char g[STORE_GUID_MAX];

	rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	rc = store_stmt(st, STORE_SQL_NODE_LIST, &stmt, err);
	if (rc != E2_OK)
		goto out;
	rc = store_bind_text(st, stmt, 1, g, err);
	if (rc != E2_OK)
		goto out;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		const char *value = (const char *)sqlite3_column_text(stmt, 1);

		if (n == cap) {
			size_t ncap = cap == 0 ? 32 : cap * 2;
			struct store_node *nv = realloc(v, ncap * sizeof(*nv));

			if (nv == NULL) {
				rc = e2_fail(err, E2_ENOMEM,
					     "store: out of memory");
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n].name = name == NULL ? NULL : strdup(name);
		v[n].value = value == NULL ? NULL : strdup(value);
		n++;
		if (v[n - 1].name == NULL ||
		    (value == NULL &&
		     sqlite3_column_type(stmt, 1) != SQLITE_NULL) ||
		    (value != NULL && v[n - 1].value == NULL)) {
			rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
			goto out;
		}
	}
	if (r != SQLITE_DONE) {
		rc = store_fail_db(st->db, "list nodes", err);
		goto out;
	}
	*nodes_out = v;
	*n_out = n;
	v = NULL;
	n = 0;
out:
	store_stmt_done(stmt);
	store_nodes_free(&v, n);
	return rc;
}

void
store_nodes_free(struct store_node **nodes, size_t n)
{
	if (nodes == NULL || *nodes == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct store_node *nd = &(*nodes)[i];

		/* any value may be a secret (AUTHSECRET, SMTPALTPASSWORD) */
		if (nd->value != NULL)
			OPENSSL_cleanse(nd->value, strlen(nd->value));
		free(nd->value);
		free(nd->name);
	}
	free(*nodes);
	*nodes = NULL;
}

/* ---- account options (migration 7) -------------------------------------- */

/* Each option's allowed values, the default first. */
static const struct store_option_def {
	const char *name;
	const char *values[3];
} store_option_defs[] = {
	{STORE_OPT_SENT_COPY, {STORE_SENT_COPY_UPLOAD, STORE_SENT_COPY_SERVER}},
};

static const struct store_option_def *
store_option_find(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(store_option_defs) / sizeof(store_option_defs[0]); i++)
		if (strcmp(store_option_defs[i].name, name) == 0)
			return &store_option_defs[i];
	return NULL;
}

enum e2_status
store_option_set(struct e2_store *st, const char *guid, const char *name,
		 const char *value, struct e2_err *err)
{
	const struct store_option_def *d = store_option_find(name);
	sqlite3_stmt *stmt = NULL;
	char g[STORE_GUID_MAX];
	bool known = false, found = false;
	enum e2_status rc;

	if (d == NULL)
		return e2_fail(err, E2_EINVAL,
			       "unknown account option \"%.64s\"", name);
	for (size_t i = 0; i < 3 && d->values[i] != NULL; i++)
		known = known || strcmp(d->values[i], value) == 0;
	if (!known)
		return e2_fail(err, E2_EINVAL,
			       "option %s: value \"%.64s\" is not one of %s|%s",
			       name, value, d->values[0], d->values[1]);
	rc = store_guid(st, guid, g, err);
	if (rc == E2_OK)
		rc = store_account_exists(st, g, &found, err);
	if (rc != E2_OK)
		return rc;
	if (!found)
		return e2_fail(err, E2_EINVAL, "no account %.64s", guid);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO account_options"
			       " (guid, name, value) VALUES (?1, ?2, ?3)",
			       -1, &stmt, NULL) != SQLITE_OK) {
		rc = store_fail_db(st->db, "set option", err);
		goto out;
	}
	if (sqlite3_bind_text(stmt, 1, g, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, value, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE)
		rc = store_fail_db(st->db, "set option", err);
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
store_option_get(struct e2_store *st, const char *guid, const char *name,
		 char **value_out, struct e2_err *err)
{
	const struct store_option_def *d = store_option_find(name);
	sqlite3_stmt *stmt = NULL;
	const char *v = NULL;
	char g[STORE_GUID_MAX];
	enum e2_status rc;
	char *value;
	int r;

	if (d == NULL)
		return e2_fail(err, E2_EINVAL,
			       "unknown account option \"%.64s\"", name);
	rc = store_guid(st, guid, g, err);
	if (rc != E2_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT value FROM account_options"
			       " WHERE guid = ?1 AND name = ?2",
			       -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 1, g, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = store_fail_db(st->db, "get option", err);
		goto out;
	}
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		v = (const char *)sqlite3_column_text(stmt, 0);
	else if (r != SQLITE_DONE) {
		rc = store_fail_db(st->db, "get option", err);
		goto out;
	}
	/* a value this email2 does not know (a newer one wrote it): default */
	if (v == NULL ||
	    (strcmp(v, d->values[0]) != 0 && strcmp(v, d->values[1]) != 0))
		v = d->values[0];
	value = strdup(v);
	if (value == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "store: out of memory");
		goto out;
	}
	*value_out = value;
out:
	sqlite3_finalize(stmt);
	return rc;
}

enum e2_status
e2_account_set_option(struct e2_store *st, const char *guid,
		      const char *name_value, struct e2_err *err)
{
	const char *eq = strchr(name_value, '=');
	char name[64];
	size_t n;

	if (eq == NULL)
		return e2_fail(err, E2_EINVAL,
			       "option \"%.64s\": expected NAME=VALUE",
			       name_value);
	n = (size_t)(eq - name_value);
	if (n == 0 || n >= sizeof(name))
		return e2_fail(err, E2_EINVAL, "option \"%.64s\": bad name",
			       name_value);
	memcpy(name, name_value, n);
	name[n] = '\0';
	return store_option_set(st, guid, name, eq + 1, err);
}
