/* SPDX-License-Identifier: MIT */
/* check_engine.c -- unit tests for the store and the account model */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "engine/account.h"
#include "engine/email2.h"
#include "engine/grow.h"
#include "engine/guid.h"
#include "engine/store.h"
#include "tests/unit/testutil.h"

#define G1 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}"
#define G2 "{0A1B2C3D-0000-4000-8000-000000000002}"
#define G3 "{FFFFFFFF-0000-4000-8000-000000000003}"

/* a string literal where the struct wants char * (never written to) */
#define U(s) ((char *)(uintptr_t)(s))

static char tmpdir[PATH_MAX];

static void
engine_setup(void)
{
	tu_mkdtemp(tmpdir, sizeof(tmpdir), "check_engine");
}

static void
engine_teardown(void)
{
	tu_rmtree(tmpdir);
	tmpdir[0] = '\0';
}

/* tmpdir/sub, with sub "" meaning tmpdir itself */
static const char *
engine_path(const char *sub)
{
	static char buf[PATH_MAX];

	if (sub[0] == '\0')
		return tmpdir;
	ck_assert_int_lt(snprintf(buf, sizeof(buf), "%s/%s", tmpdir, sub),
			 (int)sizeof(buf));
	return buf;
}

static struct e2_store *
engine_open(void)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(e2_store_open(engine_path("store"), &st, &err), E2_OK);
	ck_assert_ptr_nonnull(st);
	return st;
}

static mode_t
engine_mode(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static void
engine_create(struct e2_store *st, const char *guid)
{
	struct e2_err err = {0};

	ck_assert_int_eq(store_account_create(st, guid, &err), E2_OK);
}

static void
engine_set(struct e2_store *st, const char *guid, const char *name,
	   const char *value)
{
	struct e2_err err = {0};

	ck_assert_int_eq(store_node_set(st, guid, name, value, &err), E2_OK);
}

static bool
engine_exists(struct e2_store *st, const char *guid)
{
	struct e2_err err = {0};
	bool exists = true;

	ck_assert_int_eq(store_account_exists(st, guid, &exists, &err), E2_OK);
	return exists;
}

/* The node's value ("" for interior), or NULL when absent. Caller frees. */
static char *
engine_get(struct e2_store *st, const char *guid, const char *name)
{
	struct e2_err err = {0};
	bool found = false;
	char *value = NULL;

	ck_assert_int_eq(store_node_get(st, guid, name, &found, &value, &err),
			 E2_OK);
	if (!found)
		return NULL;
	return value == NULL ? strdup("") : value;
}

static void
engine_assert_node(struct e2_store *st, const char *guid, const char *name,
		   const char *expect)
{
	char *v = engine_get(st, guid, name);

	if (expect == NULL)
		ck_assert_msg(v == NULL, "%s should be absent", name);
	else
		ck_assert_str_eq(v != NULL ? v : "(absent)", expect);
	free(v);
}

/* ---- store: open ------------------------------------------------------- */

START_TEST(test_store_open_creates_private_dir_and_db)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char db[PATH_MAX];

	/* two missing parents: mkdir -p */
	ck_assert_int_eq(e2_store_open(engine_path("a/b/store"), &st, &err),
			 E2_OK);
	ck_assert_str_eq(e2_store_dir(st), engine_path("a/b/store"));
	ck_assert_int_eq(engine_mode(engine_path("a/b/store")), 0700);
	ck_assert_int_eq(engine_mode(engine_path("a")), 0700);
	(void)snprintf(db, sizeof(db), "%s/accounts.db", e2_store_dir(st));
	ck_assert_int_eq(engine_mode(db), 0600);
	engine_create(st, G1);
	engine_set(st, G1, "AUTHSECRET", "hunter2");
	(void)snprintf(db, sizeof(db), "%s/accounts.db-wal", e2_store_dir(st));
	ck_assert_int_eq(engine_mode(db), 0600);
	(void)snprintf(db, sizeof(db), "%s/accounts.db-shm", e2_store_dir(st));
	ck_assert_int_eq(engine_mode(db), 0600);
	e2_store_close(&st);
	ck_assert_ptr_null(st);
	e2_store_close(&st); /* NULL-safe */
	e2_store_close(NULL);
}
END_TEST

START_TEST(test_store_open_umask_does_not_loosen)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char db[PATH_MAX];

	(void)umask(0);
	ck_assert_int_eq(e2_store_open(engine_path("s"), &st, &err), E2_OK);
	engine_create(st, G1);
	(void)snprintf(db, sizeof(db), "%s/accounts.db", e2_store_dir(st));
	ck_assert_int_eq(engine_mode(db), 0600);
	(void)snprintf(db, sizeof(db), "%s/accounts.db-wal", e2_store_dir(st));
	ck_assert_int_eq(engine_mode(db), 0600);
	ck_assert_int_eq(engine_mode(engine_path("s")), 0700);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_open_reopen_keeps_data)
{
	struct e2_store *st = engine_open();

	engine_create(st, G1);
	engine_set(st, G1, "INSERVER", "imap.example.com:993");
	e2_store_close(&st);
	st = engine_open();
	ck_assert(engine_exists(st, G1));
	engine_assert_node(st, G1, "INSERVER", "imap.example.com:993");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_open_pragmas)
{
	struct e2_store *st = engine_open();
	sqlite3_stmt *stmt = NULL;
	sqlite3 *db = store_db(st);
	static const struct {
		const char *sql;
		const char *expect;
	} rows[] = {
		{"PRAGMA journal_mode", "wal"},  {"PRAGMA foreign_keys", "1"},
		{"PRAGMA user_version", "12"}, /* the last migration */
		{"PRAGMA synchronous", "1"},   /* NORMAL */
		{"PRAGMA busy_timeout", "5000"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ck_assert_int_eq(
			sqlite3_prepare_v2(db, rows[i].sql, -1, &stmt, NULL),
			SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 0),
				 rows[i].expect);
		sqlite3_finalize(stmt);
	}
	e2_store_close(&st);
}
END_TEST

static const char *const env_names[] = {"EMAIL2_HOME", "XDG_DATA_HOME", "HOME"};

START_TEST(test_store_open_resolves_env)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char want[PATH_MAX];

	ck_assert_int_eq(unsetenv("EMAIL2_HOME"), 0);
	ck_assert_int_eq(unsetenv("XDG_DATA_HOME"), 0);
	ck_assert_int_eq(setenv(env_names[_i], engine_path("env"), 1), 0);
	if (_i == 0)
		(void)snprintf(want, sizeof(want), "%s", engine_path("env"));
	else if (_i == 1)
		(void)snprintf(want, sizeof(want), "%s/email2",
			       engine_path("env"));
	else
		(void)snprintf(want, sizeof(want), "%s/.local/share/email2",
			       engine_path("env"));
	ck_assert_int_eq(e2_store_open(NULL, &st, &err), E2_OK);
	ck_assert_str_eq(e2_store_dir(st), want);
	ck_assert_int_eq(engine_mode(want), 0700);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_open_env_precedence)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(setenv("EMAIL2_HOME", engine_path("e2"), 1), 0);
	ck_assert_int_eq(setenv("XDG_DATA_HOME", engine_path("xdg"), 1), 0);
	ck_assert_int_eq(e2_store_open(NULL, &st, &err), E2_OK);
	ck_assert_str_eq(e2_store_dir(st), engine_path("e2"));
	e2_store_close(&st);
	/* a relative XDG_DATA_HOME is ignored (XDG base directory spec) */
	ck_assert_int_eq(unsetenv("EMAIL2_HOME"), 0);
	ck_assert_int_eq(setenv("XDG_DATA_HOME", "relative", 1), 0);
	ck_assert_int_eq(setenv("HOME", engine_path("home"), 1), 0);
	ck_assert_int_eq(e2_store_open(NULL, &st, &err), E2_OK);
	ck_assert_ptr_nonnull(strstr(e2_store_dir(st), "/home/.local/share"));
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_open_rejects_bad_dir)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	FILE *f;

	ck_assert_int_eq(e2_store_open("", &st, &err), E2_EINVAL);
	ck_assert_ptr_null(st);
	e2_err_clear(&err);
	f = fopen(engine_path("file"), "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(e2_store_open(engine_path("file"), &st, &err),
			 E2_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a directory"));
}
END_TEST

START_TEST(test_store_open_tightens_existing_dir)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(mkdir(engine_path("open"), 0755), 0);
	ck_assert_int_eq(chmod(engine_path("open"), 0755), 0);
	ck_assert_int_eq(e2_store_open(engine_path("open"), &st, &err), E2_OK);
	ck_assert_int_eq(engine_mode(engine_path("open")), 0700);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_open_newer_schema_fails)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert_int_eq(sqlite3_exec(store_db(st), "PRAGMA user_version = 99",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	e2_store_close(&st);
	ck_assert_int_eq(e2_store_open(engine_path("store"), &st, &err),
			 E2_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
}
END_TEST

/* ---- store: open an existing store, refuse a damaged one (issue 9) ------ */

/*
 * How the store is spoilt before e2_store_open_existing(), and what the
 * error says (the file or directory named, the hint); create: whether
 * e2_store_open() (provisioning) then succeeds.
 */
enum damage {
	DAMAGE_NONE,     /* a good store: both opens work */
	DAMAGE_NODIR,    /* the directory does not exist */
	DAMAGE_NODB,     /* the directory exists, accounts.db does not */
	DAMAGE_EMPTY,    /* accounts.db has 0 bytes */
	DAMAGE_RANDOM,   /* 4 KiB of pseudo-random bytes */
	DAMAGE_TRUNCATE, /* cut to its first page */
	DAMAGE_SCRIBBLE, /* pages after the header overwritten */
};

static const struct {
	enum damage how;
	enum e2_status want;
	const char *msg; /* in err.msg; NULL: success */
	bool create_ok;  /* e2_store_open() works on it */
} damage_rows[] = {
	{DAMAGE_NONE, E2_OK, NULL, true},
	{DAMAGE_NODIR, E2_ESTORE, "no store at ", true},
	{DAMAGE_NODB, E2_ESTORE, "no store at ", true},
	{DAMAGE_EMPTY, E2_ESTORE, "accounts.db: empty", true},
	{DAMAGE_RANDOM, E2_ESTORE, "accounts.db: not a database", false},
	{DAMAGE_TRUNCATE, E2_ESTORE, "accounts.db: damaged", false},
	{DAMAGE_SCRIBBLE, E2_ESTORE, "accounts.db: damaged", false},
};

static void
damage_write(const char *path, long off, size_t len, bool trunc)
{
	FILE *f = fopen(path, trunc ? "wb" : "r+b");
	uint32_t x = 2463534242u; /* xorshift32: the same bytes every run */

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ck_assert_int_ne(fputc((int)(x & 0xff), f), EOF);
	}
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_store_open_existing_damage)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char db[PATH_MAX];
	struct stat sb;

	st = engine_open();
	ck_assert_int_eq(store_account_create(st, G1, &err), E2_OK);
	e2_store_close(&st);
	(void)snprintf(db, sizeof(db), "%s/accounts.db", engine_path("store"));
	switch (damage_rows[_i].how) {
	case DAMAGE_NONE:
		break;
	case DAMAGE_NODIR:
		tu_rmtree(engine_path("store"));
		break;
	case DAMAGE_NODB:
		ck_assert_int_eq(unlink(db), 0);
		break;
	case DAMAGE_EMPTY:
		ck_assert_int_eq(truncate(db, 0), 0);
		break;
	case DAMAGE_RANDOM:
		damage_write(db, 0, 4096, true);
		break;
	case DAMAGE_TRUNCATE:
		ck_assert_int_eq(truncate(db, 4096), 0);
		break;
	case DAMAGE_SCRIBBLE:
		ck_assert_int_eq(stat(db, &sb), 0);
		damage_write(db, 4096, (size_t)sb.st_size - 4096, false);
		break;
	}
	ck_assert_int_eq(
		e2_store_open_existing(engine_path("store"), &st, &err),
		damage_rows[_i].want);
	if (damage_rows[_i].msg == NULL) {
		ck_assert_ptr_nonnull(st);
		e2_store_close(&st);
		return;
	}
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err.msg, damage_rows[_i].msg) != NULL, "%s",
		      err.msg);
	ck_assert_msg(strstr(err.msg, engine_path("store")) != NULL, "%s",
		      err.msg);
	ck_assert_msg(strstr(err.msg, damage_rows[_i].how <= DAMAGE_NODB
					      ? "provision an account first"
					      : "restore it from a backup") !=
			      NULL,
		      "%s", err.msg);
	/* nothing was created: not the directory, not accounts.db */
	if (damage_rows[_i].how == DAMAGE_NODIR)
		ck_assert_int_ne(stat(engine_path("store"), &sb), 0);
	if (damage_rows[_i].how == DAMAGE_NODB)
		ck_assert_int_ne(stat(db, &sb), 0);
	/* provisioning creates a store, but never over a damaged file */
	e2_err_clear(&err);
	ck_assert_int_eq(e2_store_open(engine_path("store"), &st, &err),
			 damage_rows[_i].create_ok ? E2_OK : E2_ESTORE);
	if (!damage_rows[_i].create_ok)
		ck_assert_msg(strstr(err.msg, db) != NULL, "%s", err.msg);
	e2_store_close(&st);
}
END_TEST

/* $EMAIL2_HOME names a store that is not there: the message says so. */
START_TEST(test_store_open_existing_names_source)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(setenv("EMAIL2_HOME", engine_path("nostore"), 1), 0);
	ck_assert_int_eq(e2_store_open_existing(NULL, &st, &err), E2_ESTORE);
	ck_assert_msg(strstr(err.msg, "(EMAIL2_HOME)") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, engine_path("nostore")) != NULL, "%s",
		      err.msg);
	(void)unsetenv("EMAIL2_HOME");
}
END_TEST

/* ---- store: account options (migration 7) -------------------------------- */

/* e2_account_set_option() input -> status; "" value: not read back */
static const struct {
	const char *guid, *arg;
	enum e2_status want;
	const char *stored;
} option_rows[] = {
	{G1, "sent-copy=server", E2_OK, "server"},
	{G1, "sent-copy=upload", E2_OK, "upload"},
	{"{c556e16f-56c4-4edb-9c64-d9469ee1fbe0}", "sent-copy=server", E2_OK,
	 "server"},
	{G1, "sent-copy=", E2_EINVAL, "upload"},
	{G1, "sent-copy=Server", E2_EINVAL, "upload"},
	{G1, "sent-copy", E2_EINVAL, "upload"},
	{G1, "=server", E2_EINVAL, "upload"},
	{G1, "no-such=1", E2_EINVAL, "upload"},
	{"{00000000-0000-0000-0000-000000000000}", "sent-copy=server",
	 E2_EINVAL, ""},
};

START_TEST(test_store_option_table)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char *v = NULL;

	engine_create(st, G1);
	ck_assert_int_eq(store_option_get(st, G1, "sent-copy", &v, &err),
			 E2_OK);
	ck_assert_str_eq(v, "upload"); /* the default */
	free(v);
	ck_assert_int_eq(e2_account_set_option(st, option_rows[_i].guid,
					       option_rows[_i].arg, &err),
			 option_rows[_i].want);
	ck_assert(option_rows[_i].want == E2_OK || err.msg[0] != '\0');
	if (option_rows[_i].stored[0] != '\0') {
		ck_assert_int_eq(
			store_option_get(st, G1, "sent-copy", &v, &err), E2_OK);
		ck_assert_str_eq(v, option_rows[_i].stored);
		free(v);
	}
	e2_store_close(&st);
}
END_TEST

/* ---- store: transactions ------------------------------------------------ */

START_TEST(test_store_tx_commit_persists)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	engine_set(st, G1, "NAME", "Alice");
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	e2_store_close(&st);
	st = engine_open();
	engine_assert_node(st, G1, "NAME", "Alice");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_rollback_restores_edit)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_set(st, G1, "NAME", "Alice");
	engine_set(st, G1, "LINGER", "30");
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_set(st, G1, "NAME", "Mallory");
	engine_set(st, G1, "DOMAIN", "CORP");
	ck_assert_int_eq(store_node_delete(st, G1, "LINGER", &err), E2_OK);
	engine_assert_node(st, G1, "NAME", "Mallory");
	store_rollback(st);
	engine_assert_node(st, G1, "NAME", "Alice");
	engine_assert_node(st, G1, "DOMAIN", NULL);
	engine_assert_node(st, G1, "LINGER", "30");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_rollback_create_leaves_no_account)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	struct store_node *nodes = NULL;
	size_t n = 99;

	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	engine_set(st, G1, "INSERVER", "imap.example.com");
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	store_rollback(st);
	ck_assert(!engine_exists(st, G1));
	ck_assert_int_eq(store_node_list(st, G1, &nodes, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 0);
	store_nodes_free(&nodes, n);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_nested_inner_rollback_keeps_outer)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G2);
	engine_set(st, G1, "NAME", "inner");
	store_rollback(st);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_set(st, G1, "DOMAIN", "kept");
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert(engine_exists(st, G1));
	ck_assert(!engine_exists(st, G2));
	engine_assert_node(st, G1, "NAME", NULL);
	engine_assert_node(st, G1, "DOMAIN", "kept");
	ck_assert_int_ne(sqlite3_get_autocommit(store_db(st)), 0);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_outer_rollback_undoes_inner_commit)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert(engine_exists(st, G1));
	store_rollback(st);
	ck_assert(!engine_exists(st, G1));
	ck_assert_int_ne(sqlite3_get_autocommit(store_db(st)), 0);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_rollback_after_failed_statement)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	engine_create(st, G1);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G2);
	/* duplicate create fails inside the transaction */
	ck_assert_int_eq(store_account_create(st, G1, &err), E2_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "exists already"));
	e2_err_clear(&err);
	ck_assert_int_eq(store_node_set(st, G3, "NAME", "x", &err), E2_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not found"));
	store_rollback(st);
	ck_assert(engine_exists(st, G1));
	ck_assert(!engine_exists(st, G2));
	/* the store is still usable */
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G3);
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert(engine_exists(st, G3));
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_unbalanced)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert_int_eq(store_commit(st, &err), E2_ESTORE);
	store_rollback(st); /* nothing open: no-op */
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	/* closing with a savepoint open abandons it */
	e2_store_close(&st);
	st = engine_open();
	ck_assert(!engine_exists(st, G1));
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_deep_nesting)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char name[32];

	engine_create(st, G1);
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(store_begin(st, &err), E2_OK);
		(void)snprintf(name, sizeof(name), "N%02d", i);
		engine_set(st, G1, name, "v");
	}
	for (int i = 39; i >= 0; i--) {
		if (i % 2 == 0)
			ck_assert_int_eq(store_commit(st, &err), E2_OK);
		else
			store_rollback(st);
	}
	/* N00 survives; N01's rollback takes every deeper level */
	engine_assert_node(st, G1, "N00", "v");
	engine_assert_node(st, G1, "N01", NULL);
	engine_assert_node(st, G1, "N02", NULL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_inside_foreign_transaction)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	sqlite3 *db = store_db(st);

	/* a transaction opened by other code through store_db() */
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G1);
	store_rollback(st);
	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	engine_create(st, G2);
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert_int_eq(sqlite3_get_autocommit(db), 0);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert(!engine_exists(st, G1));
	ck_assert(engine_exists(st, G2));
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_tx_two_connections)
{
	struct e2_store *a = engine_open();
	struct e2_store *b = engine_open();
	struct e2_err err = {0};

	/* two connections to one store see each other's commits */
	ck_assert_int_eq(store_begin(a, &err), E2_OK);
	ck_assert(!engine_exists(a, G1));
	engine_create(a, G1);
	ck_assert_int_eq(store_commit(a, &err), E2_OK);
	ck_assert_int_eq(store_begin_read(b, &err), E2_OK);
	ck_assert(engine_exists(b, G1));
	ck_assert_int_eq(store_commit(b, &err), E2_OK);
	ck_assert_int_eq(store_begin(b, &err), E2_OK);
	ck_assert(engine_exists(b, G1));
	engine_set(b, G1, "NAME", "from b");
	ck_assert_int_eq(store_commit(b, &err), E2_OK);
	engine_assert_node(a, G1, "NAME", "from b");
	e2_store_close(&b);
	e2_store_close(&a);
}
END_TEST

/* ---- store: accounts ------------------------------------------------------
 */

START_TEST(test_store_account_create_and_delete)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	ck_assert(!engine_exists(st, G1));
	engine_create(st, G1);
	ck_assert(engine_exists(st, G1));
	ck_assert_int_eq(store_account_create(st, G1, &err), E2_EINVAL);
	ck_assert_str_eq(err.msg, "account \"" G1 "\": exists already");
	e2_err_clear(&err);
	ck_assert_int_eq(store_account_delete(st, G1, &err), E2_OK);
	ck_assert(!engine_exists(st, G1));
	ck_assert_int_eq(store_account_delete(st, G1, &err), E2_EINVAL);
	ck_assert_str_eq(err.msg, "account \"" G1 "\": not found");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_account_delete_cascades)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_set(st, G1, "NAME", "n");
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	ck_assert_int_eq(store_account_delete(st, G1, &err), E2_OK);
	engine_create(st, G1);
	engine_assert_node(st, G1, "NAME", NULL);
	engine_assert_node(st, G1, "TAGPROPS", NULL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_account_rejects_empty_guid)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	bool b;

	ck_assert_int_eq(store_account_create(st, "", &err), E2_EINVAL);
	ck_assert_int_eq(store_account_create(st, NULL, &err), E2_EINVAL);
	ck_assert_int_eq(store_account_exists(st, NULL, &b, &err), E2_EINVAL);
	ck_assert_int_eq(store_node_set(st, "", "NAME", "x", &err), E2_EINVAL);
	ck_assert_int_eq(store_node_set(st, G1, "", "x", &err), E2_EINVAL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_account_list_sorted)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char **v = NULL;
	size_t n = 99;

	ck_assert_int_eq(e2_account_list(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(v[0]);
	e2_strv_free(&v, n);
	ck_assert_ptr_null(v);
	engine_create(st, G3);
	engine_create(st, G1);
	engine_create(st, G2);
	ck_assert_int_eq(e2_account_list(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0], G2);
	ck_assert_str_eq(v[1], G1);
	ck_assert_str_eq(v[2], G3);
	ck_assert_ptr_null(v[3]);
	e2_strv_free(&v, n);
	e2_strv_free(&v, n);
	e2_strv_free(NULL, 0);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_account_many)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char guid[64];
	char **v = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_begin(st, &err), E2_OK);
	for (int i = 0; i < 1000; i++) {
		(void)snprintf(guid, sizeof(guid),
			       "{%08X-0000-4000-8000-000000000000}",
			       (unsigned)(1000 - i));
		ck_assert_int_eq(store_begin(st, &err), E2_OK);
		engine_create(st, guid);
		engine_set(st, guid, "INSERVER", "imap.example.com:993");
		engine_set(st, guid, "OUTSERVER", "smtp.example.com:465");
		engine_set(st, guid, "AUTHNAME", "user");
		engine_set(st, guid, "TAGPROPS/8128000B", "1");
		ck_assert_int_eq(store_commit(st, &err), E2_OK);
	}
	ck_assert_int_eq(store_commit(st, &err), E2_OK);
	ck_assert_int_eq(e2_account_list(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1000);
	ck_assert_str_eq(v[0], "{00000001-0000-4000-8000-000000000000}");
	ck_assert_int_lt(strcmp(v[498], v[499]), 0);
	e2_strv_free(&v, n);
	e2_store_close(&st);
}
END_TEST

/* ---- store: nodes -----------------------------------------------------------
 */

START_TEST(test_store_node_set_get_replace)
{
	struct e2_store *st = engine_open();

	engine_create(st, G1);
	engine_assert_node(st, G1, "NAME", NULL);
	engine_set(st, G1, "NAME", "Alice");
	engine_assert_node(st, G1, "NAME", "Alice");
	engine_set(st, G1, "NAME", "Bob");
	engine_assert_node(st, G1, "NAME", "Bob");
	engine_set(st, G1, "NAME", "");
	engine_assert_node(st, G1, "NAME", "");
	/* another account's node of the same name is separate */
	engine_create(st, G2);
	engine_assert_node(st, G2, "NAME", NULL);
	engine_assert_node(st, G3, "NAME", NULL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_node_interior)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	bool found = false;
	char *value = (char *)1;

	engine_create(st, G1);
	engine_set(st, G1, "TAGPROPS", NULL);
	ck_assert_int_eq(
		store_node_get(st, G1, "TAGPROPS", &found, &value, &err),
		E2_OK);
	ck_assert(found);
	ck_assert_ptr_null(value);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_node_set_creates_parents)
{
	struct e2_store *st = engine_open();

	engine_create(st, G1);
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	engine_assert_node(st, G1, "TAGPROPS", "");
	engine_assert_node(st, G1, "TAGPROPS/8128000B", "1");
	engine_set(st, G1, "A/B/C", "deep");
	engine_assert_node(st, G1, "A", "");
	engine_assert_node(st, G1, "A/B", "");
	/* an existing parent keeps its value */
	engine_set(st, G1, "X", "leaf");
	engine_set(st, G1, "X/Y", "child");
	engine_assert_node(st, G1, "X", "leaf");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_node_delete_subtree)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_create(st, G2);
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	engine_set(st, G1, "TAGPROPS/812C000B", "0");
	engine_set(st, G1, "TAGPROPSX", "sibling");
	engine_set(st, G1, "TAGPROPS0", "sibling");
	engine_set(st, G1, "TAGPROPS.", "sibling");
	engine_set(st, G2, "TAGPROPS/8128000B", "1");
	ck_assert_int_eq(store_node_delete(st, G1, "TAGPROPS", &err), E2_OK);
	engine_assert_node(st, G1, "TAGPROPS", NULL);
	engine_assert_node(st, G1, "TAGPROPS/8128000B", NULL);
	engine_assert_node(st, G1, "TAGPROPS/812C000B", NULL);
	engine_assert_node(st, G1, "TAGPROPSX", "sibling");
	engine_assert_node(st, G1, "TAGPROPS0", "sibling");
	engine_assert_node(st, G1, "TAGPROPS.", "sibling");
	engine_assert_node(st, G2, "TAGPROPS/8128000B", "1");
	/* one child alone; absent nodes are not an error */
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	engine_set(st, G1, "TAGPROPS/812C000B", "1");
	ck_assert_int_eq(store_node_delete(st, G1, "TAGPROPS/8128000B", &err),
			 E2_OK);
	engine_assert_node(st, G1, "TAGPROPS", "");
	engine_assert_node(st, G1, "TAGPROPS/812C000B", "1");
	ck_assert_int_eq(store_node_delete(st, G1, "NOPE", &err), E2_OK);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_node_delete_no_wildcards)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_set(st, G1, "A%", "pct");
	engine_set(st, G1, "AB/C", "other");
	engine_set(st, G1, "A_/x", "under");
	engine_set(st, G1, "AZ/x", "other");
	ck_assert_int_eq(store_node_delete(st, G1, "A%", &err), E2_OK);
	ck_assert_int_eq(store_node_delete(st, G1, "A_", &err), E2_OK);
	engine_assert_node(st, G1, "A%", NULL);
	engine_assert_node(st, G1, "A_/x", NULL);
	engine_assert_node(st, G1, "AB/C", "other");
	engine_assert_node(st, G1, "AZ/x", "other");
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_node_list_sorted)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	struct store_node *nodes = NULL;
	size_t n = 0;

	engine_create(st, G1);
	engine_set(st, G1, "REPLYADDR", "a@example.com");
	engine_set(st, G1, "AUTHNAME", "a");
	engine_set(st, G1, "TAGPROPS/812C000B", "1");
	engine_set(st, G1, "INSERVER", "imap.example.com");
	ck_assert_int_eq(store_node_list(st, G1, &nodes, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(nodes[0].name, "AUTHNAME");
	ck_assert_str_eq(nodes[1].name, "INSERVER");
	ck_assert_str_eq(nodes[2].name, "REPLYADDR");
	ck_assert_str_eq(nodes[3].name, "TAGPROPS");
	ck_assert_ptr_null(nodes[3].value);
	ck_assert_str_eq(nodes[4].name, "TAGPROPS/812C000B");
	ck_assert_str_eq(nodes[4].value, "1");
	store_nodes_free(&nodes, n);
	ck_assert_ptr_null(nodes);
	store_nodes_free(&nodes, n);
	e2_store_close(&st);
}
END_TEST

/* ---- account: defaults and node mapping ------------------------------------
 */

static void
engine_assert_defaults(const struct e2_account *a)
{
	ck_assert_int_eq(a->type, E2_ACCOUNT_EMAIL);
	ck_assert_int_eq(a->service, E2_SERVICE_IMAP4);
	ck_assert_int_eq(a->linger, 15);
	ck_assert_int_eq(a->dwnday, -1);
	ck_assert_int_eq(a->keepmax, 0);
	ck_assert_int_eq(a->retrieve, 0);
	ck_assert_int_eq(a->serverdeleteaction, 0);
	ck_assert(!a->authrequired);
	ck_assert(!a->smtpalt_enabled);
	ck_assert(!a->in_ssl_required);
	ck_assert(!a->out_ssl_required);
	ck_assert(!a->cellularonly);
	ck_assert_uint_eq(a->syncingcontenttypes, 0);
	ck_assert_ptr_null(a->authname);
	ck_assert_ptr_null(a->authsecret);
	ck_assert_ptr_null(a->in.host);
	ck_assert_uint_eq(a->in.port, 0);
	ck_assert_ptr_null(a->out.host);
}

START_TEST(test_account_new_defaults)
{
	struct e2_account *a = e2_account_new();

	ck_assert_ptr_nonnull(a);
	engine_assert_defaults(a);
	ck_assert_ptr_null(a->guid);
	e2_account_free(&a);
	ck_assert_ptr_null(a);
	e2_account_free(&a);
	e2_account_free(NULL);
}
END_TEST

START_TEST(test_account_from_nodes_empty_has_defaults)
{
	struct e2_account *a = NULL;
	struct e2_err err = {0};
	const struct store_node tagprops = {U("TAGPROPS"), NULL};
	const struct store_node future = {U("FUTURENODE"), U("x")};
	const struct store_node both[] = {tagprops, future};

	ck_assert_int_eq(account_from_nodes(G1, NULL, 0, &a, &err), E2_OK);
	engine_assert_defaults(a);
	ck_assert_str_eq(a->guid, G1);
	e2_account_free(&a);
	/* interior and unknown nodes are skipped */
	ck_assert_int_eq(account_from_nodes(G1, both, 2, &a, &err), E2_OK);
	engine_assert_defaults(a);
	e2_account_free(&a);
	ck_assert_int_eq(account_from_nodes("", NULL, 0, &a, &err), E2_EINVAL);
}
END_TEST

/* How a mapping row is checked. */
enum map_check {
	MAP_STR = 0,
	MAP_INT,
	MAP_BOOL,
	MAP_U32,
	MAP_HOST_PORT,
};

struct map_row {
	const char *node;
	const char *value;
	enum map_check check;
	long expect;            /* MAP_INT, MAP_BOOL, MAP_U32, port */
	const char *expect_str; /* MAP_STR, host */
};

static const struct map_row map_rows[] = {
	{"ACCOUNTICON", "res://x!genericmail.png", MAP_STR, 0,
	 "res://x!genericmail.png"},
	{"ACCOUNTTYPE", "Email", MAP_INT, E2_ACCOUNT_EMAIL, NULL},
	{"ACCOUNTTYPE", "VVM", MAP_INT, E2_ACCOUNT_VVM, NULL},
	{"ACCOUNTTYPE", "vvm", MAP_INT, E2_ACCOUNT_VVM, NULL},
	{"AUTHNAME", "alice", MAP_STR, 0, "alice"},
	{"AUTHREQUIRED", "1", MAP_BOOL, 1, NULL},
	{"AUTHREQUIRED", "0", MAP_BOOL, 0, NULL},
	{"AUTHSECRET", "s3cret", MAP_STR, 0, "s3cret"},
	{"DOMAIN", "CORP", MAP_STR, 0, "CORP"},
	{"DWNDAY", "7", MAP_INT, 7, NULL},
	{"DWNDAY", "-1", MAP_INT, -1, NULL},
	{"DWNDAY", "90", MAP_INT, 90, NULL},
	{"INSERVER", "imap.example.com", MAP_HOST_PORT, 0, "imap.example.com"},
	{"INSERVER", "imap.example.com:993", MAP_HOST_PORT, 993,
	 "imap.example.com"},
	{"INSERVER", "[2001:db8::1]:143", MAP_HOST_PORT, 143, "2001:db8::1"},
	{"LINGER", "0", MAP_INT, 0, NULL},
	{"LINGER", "120", MAP_INT, 120, NULL},
	{"KEEPMAX", "250", MAP_INT, 250, NULL},
	{"NAME", "Alice Example", MAP_STR, 0, "Alice Example"},
	{"OUTSERVER", "smtp.example.com:587", MAP_HOST_PORT, 587,
	 "smtp.example.com"},
	{"REPLYADDR", "alice@example.com", MAP_STR, 0, "alice@example.com"},
	{"SERVICENAME", "Example Mail", MAP_STR, 0, "Example Mail"},
	{"SERVICETYPE", "IMAP4", MAP_INT, E2_SERVICE_IMAP4, NULL},
	{"SERVICETYPE", "POP3", MAP_INT, E2_SERVICE_POP3, NULL},
	{"SERVICETYPE", "pop3", MAP_INT, E2_SERVICE_POP3, NULL},
	{"SERVICETYPE", "imap4", MAP_INT, E2_SERVICE_IMAP4, NULL},
	{"RETRIEVE", "51200", MAP_INT, 51200, NULL},
	{"SERVERDELETEACTION", "1", MAP_INT, 1, NULL},
	{"SERVERDELETEACTION", "2", MAP_INT, 2, NULL},
	{"SERVERDELETEACTION", "3", MAP_INT, 0, NULL},
	{"SERVERDELETEACTION", "junk", MAP_INT, 0, NULL},
	{"CELLULARONLY", "1", MAP_BOOL, 1, NULL},
	{"CELLULARONLY", "TRUE", MAP_BOOL, 1, NULL},
	{"CELLULARONLY", "0", MAP_BOOL, 0, NULL},
	{"SYNCINGCONTENTTYPES", "2", MAP_U32, 2, NULL},
	{"SYNCINGCONTENTTYPES", "0x2", MAP_U32, 2, NULL},
	{"SYNCINGCONTENTTYPES", "0x180", MAP_U32, 0x180, NULL},
	{"SYNCINGCONTENTTYPES", "0xffffffff", MAP_U32, 0xffffffffL, NULL},
	{"SYNCINGCONTENTTYPES", "4294967295", MAP_U32, 0xffffffffL, NULL},
	{"CONTACTSSERVER", "dav.example.com", MAP_STR, 0, "dav.example.com"},
	{"CALENDARSERVER", "cal.example.com", MAP_STR, 0, "cal.example.com"},
	{"CONTACTSSERVERREQUIRESSL", "1", MAP_BOOL, 1, NULL},
	{"CALENDARSERVERREQUIRESSL", "TRUE", MAP_BOOL, 1, NULL},
	{"CONTACTSSYNCSCHEDULE", "15", MAP_STR, 0, "15"},
	{"CALENDARSYNCSCHEDULE", "60", MAP_STR, 0, "60"},
	{"SMTPALTAUTHNAME", "bob", MAP_STR, 0, "bob"},
	{"SMTPALTDOMAIN", "OUT", MAP_STR, 0, "OUT"},
	{"SMTPALTENABLED", "TRUE", MAP_BOOL, 1, NULL},
	{"SMTPALTENABLED", "true", MAP_BOOL, 1, NULL},
	{"SMTPALTENABLED", "1", MAP_BOOL, 1, NULL},
	{"SMTPALTENABLED", "FALSE", MAP_BOOL, 0, NULL},
	{"SMTPALTENABLED", "0", MAP_BOOL, 0, NULL},
	{"SMTPALTPASSWORD", "pw2", MAP_STR, 0, "pw2"},
	{"TAGPROPS/8128000B", "1", MAP_BOOL, 1, NULL},
	{"TAGPROPS/8128000B", "0", MAP_BOOL, 0, NULL},
	{"TAGPROPS/812C000B", "1", MAP_BOOL, 1, NULL},
	{"TAGPROPS/812C000B", "TRUE", MAP_BOOL, 1, NULL},
};

/* The field a row's node maps to, read as a long or string. */
static long
map_field_long(const struct e2_account *a, const char *node)
{
	static const struct {
		const char *node;
		size_t off;
		char type; /* i int, l long, b bool, u uint32, e enum */
	} f[] = {
		{"ACCOUNTTYPE", offsetof(struct e2_account, type), 'e'},
		{"AUTHREQUIRED", offsetof(struct e2_account, authrequired),
		 'b'},
		{"DWNDAY", offsetof(struct e2_account, dwnday), 'i'},
		{"LINGER", offsetof(struct e2_account, linger), 'i'},
		{"KEEPMAX", offsetof(struct e2_account, keepmax), 'i'},
		{"SERVICETYPE", offsetof(struct e2_account, service), 'e'},
		{"RETRIEVE", offsetof(struct e2_account, retrieve), 'l'},
		{"SERVERDELETEACTION",
		 offsetof(struct e2_account, serverdeleteaction), 'i'},
		{"CELLULARONLY", offsetof(struct e2_account, cellularonly),
		 'b'},
		{"SYNCINGCONTENTTYPES",
		 offsetof(struct e2_account, syncingcontenttypes), 'u'},
		{"CONTACTSSERVERREQUIRESSL",
		 offsetof(struct e2_account, contactsserver_requiressl), 'b'},
		{"CALENDARSERVERREQUIRESSL",
		 offsetof(struct e2_account, calendarserver_requiressl), 'b'},
		{"SMTPALTENABLED", offsetof(struct e2_account, smtpalt_enabled),
		 'b'},
		{"TAGPROPS/8128000B",
		 offsetof(struct e2_account, in_ssl_required), 'b'},
		{"TAGPROPS/812C000B",
		 offsetof(struct e2_account, out_ssl_required), 'b'},
	};
	const char *base = (const char *)a;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const void *p = base + f[i].off;

		if (strcmp(f[i].node, node) != 0)
			continue;
		switch (f[i].type) {
		case 'i':
			return *(const int *)p;
		case 'l':
			return *(const long *)p;
		case 'b':
			return *(const bool *)p;
		case 'u':
			return (long)*(const uint32_t *)p;
		default:
			if (strcmp(node, "ACCOUNTTYPE") == 0)
				return a->type;
			return a->service;
		}
	}
	ck_abort_msg("no field for %s", node);
	return 0;
}

static const char *
map_field_str(const struct e2_account *a, const char *node)
{
	static const struct {
		const char *node;
		size_t off;
	} f[] = {
		{"ACCOUNTICON", offsetof(struct e2_account, accounticon)},
		{"AUTHNAME", offsetof(struct e2_account, authname)},
		{"AUTHSECRET", offsetof(struct e2_account, authsecret)},
		{"DOMAIN", offsetof(struct e2_account, domain)},
		{"NAME", offsetof(struct e2_account, name)},
		{"REPLYADDR", offsetof(struct e2_account, replyaddr)},
		{"SERVICENAME", offsetof(struct e2_account, servicename)},
		{"CONTACTSSERVER", offsetof(struct e2_account, contactsserver)},
		{"CALENDARSERVER", offsetof(struct e2_account, calendarserver)},
		{"CONTACTSSYNCSCHEDULE",
		 offsetof(struct e2_account, contactssyncschedule)},
		{"CALENDARSYNCSCHEDULE",
		 offsetof(struct e2_account, calendarsyncschedule)},
		{"SMTPALTAUTHNAME",
		 offsetof(struct e2_account, smtpalt_authname)},
		{"SMTPALTDOMAIN", offsetof(struct e2_account, smtpalt_domain)},
		{"SMTPALTPASSWORD",
		 offsetof(struct e2_account, smtpalt_password)},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(f[i].node, node) == 0)
			return *(char *const *)(const void *)((const char *)a +
							      f[i].off);
	}
	ck_abort_msg("no field for %s", node);
	return NULL;
}

START_TEST(test_account_from_nodes_maps_each_node)
{
	const struct map_row *r = &map_rows[_i];
	struct store_node nd = {U(r->node), U(r->value)};
	struct e2_account *a = NULL;
	struct e2_err err = {0};
	const struct e2_server *srv;

	ck_assert_msg(account_from_nodes(G1, &nd, 1, &a, &err) == E2_OK,
		      "%s=%s: %s", r->node, r->value, err.msg);
	switch (r->check) {
	case MAP_STR:
		ck_assert_str_eq(map_field_str(a, r->node), r->expect_str);
		break;
	case MAP_INT:
	case MAP_BOOL:
	case MAP_U32:
		ck_assert_msg(map_field_long(a, r->node) == r->expect,
			      "%s=%s: got %ld want %ld", r->node, r->value,
			      map_field_long(a, r->node), r->expect);
		break;
	case MAP_HOST_PORT:
		srv = strcmp(r->node, "INSERVER") == 0 ? &a->in : &a->out;
		ck_assert_str_eq(srv->host, r->expect_str);
		ck_assert_uint_eq(srv->port, (unsigned long)r->expect);
		break;
	}
	e2_account_free(&a);
}
END_TEST

static const struct store_node bad_rows[] = {
	{U("ACCOUNTTYPE"), U("Exchange")},
	{U("SERVICETYPE"), U("EAS")},
	{U("LINGER"), U("soon")},
	{U("LINGER"), U("-5")},
	{U("LINGER"), U(" 15")},
	{U("DWNDAY"), U("-2")},
	{U("DWNDAY"), U("99999999999")},
	{U("KEEPMAX"), U("+25")},
	{U("RETRIEVE"), U("1k")},
	{U("AUTHREQUIRED"), U("yes")},
	{U("SMTPALTENABLED"), U("2")},
	{U("TAGPROPS/8128000B"), U("")},
	{U("CELLULARONLY"), U("on")},
	{U("SYNCINGCONTENTTYPES"), U("0x100000000")},
	{U("SYNCINGCONTENTTYPES"), U("-1")},
	{U("SYNCINGCONTENTTYPES"), U("0x")},
	{U("SYNCINGCONTENTTYPES"), U("mail")},
	{U("INSERVER"), U("imap.example.com:99999")},
	{U("OUTSERVER"), U(":25")},
};

START_TEST(test_account_from_nodes_rejects_bad_value)
{
	const struct store_node *nd = &bad_rows[_i];
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	ck_assert_msg(account_from_nodes(G1, nd, 1, &a, &err) == E2_EINVAL,
		      "%s=%s accepted", nd->name, nd->value);
	ck_assert_ptr_null(a);
	ck_assert_msg(strncmp(err.msg, nd->name, strlen(nd->name)) == 0,
		      "message does not name the node: %s", err.msg);
}
END_TEST

START_TEST(test_account_from_nodes_message)
{
	struct store_node nd = {U("INSERVER"), U("mail.example.com:99999")};
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(account_from_nodes(G1, &nd, 1, &a, &err), E2_EINVAL);
	ck_assert_str_eq(
		err.msg,
		"INSERVER \"mail.example.com:99999\": port out of range");
}
END_TEST

START_TEST(test_account_from_nodes_full_set)
{
	const struct store_node nodes[] = {
		{U("ACCOUNTTYPE"), U("Email")},
		{U("AUTHNAME"), U("alice")},
		{U("AUTHSECRET"), U("pw")},
		{U("INSERVER"), U("imap.example.com:993")},
		{U("OUTSERVER"), U("smtp.example.com")},
		{U("REPLYADDR"), U("alice@example.com")},
		{U("SERVICENAME"), U("Example")},
		{U("SERVICETYPE"), U("POP3")},
		{U("SYNCINGCONTENTTYPES"), U("0x2")},
		{U("TAGPROPS"), NULL},
		{U("TAGPROPS/812C000B"), U("1")},
	};
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(account_from_nodes(G1, nodes,
					    sizeof(nodes) / sizeof(nodes[0]),
					    &a, &err),
			 E2_OK);
	ck_assert_int_eq(a->service, E2_SERVICE_POP3);
	ck_assert_str_eq(a->in.host, "imap.example.com");
	ck_assert_uint_eq(a->in.port, 993);
	ck_assert_str_eq(a->out.host, "smtp.example.com");
	ck_assert_uint_eq(a->out.port, 0);
	ck_assert_uint_eq(a->syncingcontenttypes & E2_SYNC_MAIL, E2_SYNC_MAIL);
	ck_assert(a->out_ssl_required);
	ck_assert(!a->in_ssl_required);
	ck_assert_int_eq(a->linger, 15);
	e2_account_free(&a);
}
END_TEST

START_TEST(test_account_from_nodes_secret_not_in_message)
{
	/* a bad value next to a secret: the message names only the bad one */
	const struct store_node nodes[] = {
		{U("AUTHSECRET"), U("TopSecret1")},
		{U("LINGER"), U("x")},
	};
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(account_from_nodes(G1, nodes, 2, &a, &err), E2_EINVAL);
	ck_assert_ptr_null(strstr(err.msg, "TopSecret1"));
	ck_assert_ptr_nonnull(strstr(err.msg, "LINGER"));
}
END_TEST

/* ---- account: e2_server_parse ----------------------------------------------
 */

static const struct {
	const char *in;
	const char *host;
	unsigned port;
} server_ok[] = {
	{"mail.example.com", "mail.example.com", 0},
	{"mail.example.com:993", "mail.example.com", 993},
	{"mail:1", "mail", 1},
	{"mail:65535", "mail", 65535},
	{"192.0.2.7:25", "192.0.2.7", 25},
	{"[::1]", "::1", 0},
	{"[::1]:993", "::1", 993},
	{"[2001:db8::17]:587", "2001:db8::17", 587},
	{"2001:db8::17", "2001:db8::17", 0},
	{"::1", "::1", 0},
	{"mail_relay.example-1.com:00587", "mail_relay.example-1.com", 587},
};

START_TEST(test_account_server_parse_valid)
{
	struct e2_server srv = {NULL, 0};
	struct e2_err err = {0};

	ck_assert_msg(e2_server_parse(server_ok[_i].in, &srv, &err) == E2_OK,
		      "%s: %s", server_ok[_i].in, err.msg);
	ck_assert_str_eq(srv.host, server_ok[_i].host);
	ck_assert_uint_eq(srv.port, server_ok[_i].port);
	free(srv.host);
}
END_TEST

static const struct {
	const char *in;
	const char *why;
} server_bad[] = {
	{"", "empty value"},
	{"host:", "empty port"},
	{":993", "empty host"},
	{"host:0", "port out of range"},
	{"host:65536", "port out of range"},
	{"host:99999999999999999999", "port out of range"},
	{"host:-1", "port is not a number"},
	{"host:99x", "port is not a number"},
	{"host: 99", "space or control character"},
	{"a b", "space or control character"},
	{"host\t", "space or control character"},
	{"host\n:25", "space or control character"},
	{"[::1", "unbalanced brackets"},
	{"::1]", "unbalanced brackets"},
	{"[::1]]:25", "unbalanced brackets"},
	{"[]:25", "empty host"},
	{"[::1]25", "junk after ']'"},
	{"[::1]:", "empty port"},
	{"[mail.example.com]:25", "not an IPv6 address"},
	{"a:b:c", "not an IPv6 address (write [addr]:port)"},
	{"user@mail.example.com", "invalid character in host name"},
	{"mail/example", "invalid character in host name"},
};

START_TEST(test_account_server_parse_invalid)
{
	struct e2_server srv = {U("untouched"), 7};
	struct e2_err err = {0};
	char want[256];

	ck_assert_msg(e2_server_parse(server_bad[_i].in, &srv, &err) ==
			      E2_EINVAL,
		      "%s accepted", server_bad[_i].in);
	ck_assert_str_eq(srv.host, "untouched");
	ck_assert_uint_eq(srv.port, 7);
	ck_assert_ptr_nonnull(strstr(err.msg, server_bad[_i].why));
	if (strpbrk(server_bad[_i].in, "\t\n") == NULL) {
		(void)snprintf(want, sizeof(want), "server \"%s\": %s",
			       server_bad[_i].in, server_bad[_i].why);
		ck_assert_str_eq(err.msg, want);
	} else {
		/* controls are escaped in the message */
		ck_assert_ptr_null(strpbrk(err.msg, "\t\n"));
	}
}
END_TEST

START_TEST(test_account_server_parse_null)
{
	struct e2_server srv = {NULL, 0};
	struct e2_err err = {0};

	ck_assert_int_eq(e2_server_parse(NULL, &srv, &err), E2_EINVAL);
	ck_assert_ptr_null(srv.host);
	e2_err_clear(&err);
	ck_assert_int_eq(e2_server_parse("mail.example.com:99999", &srv, &err),
			 E2_EINVAL);
	ck_assert_str_eq(
		err.msg,
		"server \"mail.example.com:99999\": port out of range");
}
END_TEST

/* ---- account: credentials --------------------------------------------------
 */

static struct e2_account *
engine_creds_account(bool smtpalt)
{
	struct e2_account *a = e2_account_new();

	ck_assert_ptr_nonnull(a);
	a->authname = strdup("alice");
	a->domain = strdup("CORP");
	a->authsecret = strdup("in-secret");
	a->smtpalt_authname = strdup("bob");
	a->smtpalt_domain = strdup("OUT");
	a->smtpalt_password = strdup("out-secret");
	a->smtpalt_enabled = smtpalt;
	return a;
}

START_TEST(test_account_in_creds)
{
	struct e2_account *a = engine_creds_account(true);
	struct e2_creds c = e2_account_in_creds(a);

	ck_assert_str_eq(c.user, "alice");
	ck_assert_str_eq(c.domain, "CORP");
	ck_assert_str_eq(c.secret, "in-secret");
	e2_account_free(&a);
	c = e2_account_in_creds(NULL);
	ck_assert_ptr_null(c.user);
	ck_assert_ptr_null(c.secret);
}
END_TEST

START_TEST(test_account_out_creds_smtpalt_enabled)
{
	struct e2_account *a = engine_creds_account(true);
	struct e2_creds c = e2_account_out_creds(a);

	ck_assert_str_eq(c.user, "bob");
	ck_assert_str_eq(c.domain, "OUT");
	ck_assert_str_eq(c.secret, "out-secret");
	e2_account_free(&a);
}
END_TEST

START_TEST(test_account_out_creds_smtpalt_disabled)
{
	struct e2_account *a = engine_creds_account(false);
	struct e2_creds c = e2_account_out_creds(a);

	ck_assert_str_eq(c.user, "alice");
	ck_assert_str_eq(c.domain, "CORP");
	ck_assert_str_eq(c.secret, "in-secret");
	e2_account_free(&a);
	c = e2_account_out_creds(NULL);
	ck_assert_ptr_null(c.user);
}
END_TEST

START_TEST(test_account_out_creds_no_domain)
{
	struct e2_account *a = e2_account_new();
	struct e2_creds c;

	a->authname = strdup("alice@example.com");
	c = e2_account_out_creds(a);
	ck_assert_str_eq(c.user, "alice@example.com");
	ck_assert_ptr_null(c.domain);
	ck_assert_ptr_null(c.secret);
	e2_account_free(&a);
}
END_TEST

/*
 * The outgoing TLS requirement: (8128000B, 812C000B, SMTPALTENABLED,
 * AUTHREQUIRED) -> required. The incoming password keeps its 8128000B on
 * the outgoing link whenever the outgoing side logs in with it.
 */
static const struct {
	bool in, out, smtpalt, auth, want;
	const char *node; /* substring of *node_out */
} out_tls_rows[] = {
	{false, false, false, true, false, ""},
	{false, true, false, true, true, "812C000B"},
	{true, false, false, true, true, "8128000B"}, /* the fixed leak */
	{true, true, false, true, true, "812C000B"},
	{false, false, true, true, false, ""},
	{false, true, true, true, true, "812C000B"},
	{true, false, true, true, false, ""}, /* SMTPALT: own password */
	{true, true, true, true, true, "812C000B"},
	{true, false, false, false, false, ""}, /* no login: no password */
	{false, true, false, false, true, "812C000B"},
	{true, true, true, false, true, "812C000B"},
};

START_TEST(test_account_out_tls_required_table)
{
	struct e2_account *a = engine_creds_account(out_tls_rows[_i].smtpalt);
	const char *node = NULL;

	a->in_ssl_required = out_tls_rows[_i].in;
	a->out_ssl_required = out_tls_rows[_i].out;
	a->authrequired = out_tls_rows[_i].auth;
	ck_assert_int_eq(e2_account_out_tls_required(a, &node),
			 out_tls_rows[_i].want);
	ck_assert_ptr_nonnull(node);
	if (out_tls_rows[_i].want)
		ck_assert_ptr_nonnull(strstr(node, out_tls_rows[_i].node));
	else
		ck_assert_str_eq(node, "");
	ck_assert_int_eq(e2_account_out_tls_required(a, NULL),
			 out_tls_rows[_i].want);
	e2_account_free(&a);
}
END_TEST

/* ---- account: load and list ------------------------------------------------
 */

START_TEST(test_account_load_missing_is_einval)
{
	struct e2_store *st = engine_open();
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(e2_account_load(st, G1, &a, &err), E2_EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_str_eq(err.msg, "account \"" G1 "\": not found");
	/* the failed load left no transaction open */
	ck_assert_int_ne(sqlite3_get_autocommit(store_db(st)), 0);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_account_load_roundtrip)
{
	struct e2_store *st = engine_open();
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_set(st, G1, "AUTHNAME", "alice");
	engine_set(st, G1, "AUTHSECRET", "pw");
	engine_set(st, G1, "INSERVER", "[::1]:10993");
	engine_set(st, G1, "OUTSERVER", "smtp.example.com:465");
	engine_set(st, G1, "LINGER", "0");
	engine_set(st, G1, "SMTPALTENABLED", "FALSE");
	engine_set(st, G1, "TAGPROPS/8128000B", "1");
	ck_assert_int_eq(e2_account_load(st, G1, &a, &err), E2_OK);
	ck_assert_str_eq(a->guid, G1);
	ck_assert_str_eq(a->authname, "alice");
	ck_assert_str_eq(a->authsecret, "pw");
	ck_assert_str_eq(a->in.host, "::1");
	ck_assert_uint_eq(a->in.port, 10993);
	ck_assert_uint_eq(a->out.port, 465);
	ck_assert_int_eq(a->linger, 0);
	ck_assert(a->in_ssl_required);
	ck_assert(!a->out_ssl_required);
	ck_assert_int_eq(a->dwnday, -1);
	e2_account_free(&a);
	/* an account with no nodes loads with defaults */
	engine_create(st, G2);
	ck_assert_int_eq(e2_account_load(st, G2, &a, &err), E2_OK);
	engine_assert_defaults(a);
	e2_account_free(&a);
	ck_assert_int_eq(e2_account_load(st, "", &a, &err), E2_EINVAL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_account_load_bad_stored_value)
{
	struct e2_store *st = engine_open();
	struct e2_account *a = NULL;
	struct e2_err err = {0};

	engine_create(st, G1);
	engine_set(st, G1, "SERVICETYPE", "EAS");
	ck_assert_int_eq(e2_account_load(st, G1, &a, &err), E2_EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_str_eq(err.msg, "SERVICETYPE \"EAS\": not IMAP4 or POP3");
	e2_store_close(&st);
}
END_TEST

/* ---- the store is the user's own ----------------------------------------- */

enum own_setup {
	OWN_FRESH = 0,      /* nothing: the store is created 0700 */
	OWN_STORE_0777,     /* the store dir is world-writable */
	OWN_STORE_0770,     /* group-writable */
	OWN_STORE_SYMLINK,  /* the store is a symlink to a dir of ours */
	OWN_STORE_NOBODY,   /* the store dir belongs to another uid */
	OWN_MAIL_SYMLINK,   /* <store>/mail is a symlink */
	OWN_MAIL_0777,      /* <store>/mail is world-writable */
	OWN_ACCT_SYMLINK,   /* <store>/mail/{GUID} is a symlink */
	OWN_ACCT_NOBODY,    /* <store>/mail/{GUID} belongs to another uid */
	OWN_OUTBOX_SYMLINK, /* <store>/outbox is a symlink */
	OWN_OBACCT_0777,    /* <store>/outbox/{GUID} is world-writable */
};

static const struct own_row {
	const char *name;
	enum own_setup setup;
	const char *area; /* NULL: only e2_store_open() */
	const char *want; /* NULL: success; else a part of the message */
} own_rows[] = {
	{"fresh store", OWN_FRESH, STORE_AREA_MAIL, NULL},
	{"fresh outbox", OWN_FRESH, STORE_AREA_OUTBOX, NULL},
	{"store 0777", OWN_STORE_0777, NULL, "writable by group or others"},
	{"store 0770", OWN_STORE_0770, NULL, "(chmod 700 "},
	{"store is a symlink", OWN_STORE_SYMLINK, NULL, "symbolic link"},
	{"store owned by nobody", OWN_STORE_NOBODY, NULL, "owned by uid"},
	{"mail is a symlink", OWN_MAIL_SYMLINK, STORE_AREA_MAIL,
	 "symbolic link"},
	{"mail 0777", OWN_MAIL_0777, STORE_AREA_MAIL, "writable by group"},
	{"mail/{GUID} is a symlink", OWN_ACCT_SYMLINK, STORE_AREA_MAIL,
	 "symbolic link"},
	{"mail/{GUID} owned by nobody", OWN_ACCT_NOBODY, STORE_AREA_MAIL,
	 "owned by uid"},
	{"outbox is a symlink", OWN_OUTBOX_SYMLINK, STORE_AREA_OUTBOX,
	 "symbolic link"},
	{"outbox/{GUID} 0777", OWN_OBACCT_0777, STORE_AREA_OUTBOX,
	 "writable by group"},
};

/* tmpdir/link -> tmpdir/target (engine_path() has one buffer) */
static void
own_symlink(const char *target, const char *link)
{
	char t[PATH_MAX];

	(void)snprintf(t, sizeof(t), "%s", engine_path(target));
	ck_assert_msg(symlink(t, engine_path(link)) == 0, "symlink %s", link);
}

/* A uid that is not ours: nobody's when we are root, else skip (0). */
static uid_t
own_other_uid(void)
{
	return geteuid() == 0 ? (uid_t)65534 : 0;
}

static void
own_prepare(enum own_setup setup)
{
	char acct[PATH_MAX];

	ck_assert_int_lt(
		snprintf(acct, sizeof(acct), "%s/store/mail/" G1, tmpdir),
		(int)sizeof(acct));
	ck_assert_int_eq(mkdir(engine_path("elsewhere"), 0700), 0);
	if (setup == OWN_STORE_SYMLINK) {
		own_symlink("elsewhere", "store");
		return;
	}
	ck_assert_int_eq(mkdir(engine_path("store"), 0700), 0);
	switch (setup) {
	case OWN_STORE_0777:
		ck_assert_int_eq(chmod(engine_path("store"), 0777), 0);
		break;
	case OWN_STORE_0770:
		ck_assert_int_eq(chmod(engine_path("store"), 0770), 0);
		break;
	case OWN_STORE_NOBODY:
		ck_assert_int_eq(
			chown(engine_path("store"), own_other_uid(), (gid_t)-1),
			0);
		break;
	case OWN_MAIL_SYMLINK:
		own_symlink("elsewhere", "store/mail");
		break;
	case OWN_MAIL_0777:
		ck_assert_int_eq(mkdir(engine_path("store/mail"), 0700), 0);
		ck_assert_int_eq(chmod(engine_path("store/mail"), 0777), 0);
		break;
	case OWN_ACCT_SYMLINK:
		ck_assert_int_eq(mkdir(engine_path("store/mail"), 0700), 0);
		ck_assert_int_eq(symlink(engine_path("elsewhere"), acct), 0);
		break;
	case OWN_ACCT_NOBODY:
		ck_assert_int_eq(mkdir(engine_path("store/mail"), 0700), 0);
		ck_assert_int_eq(mkdir(acct, 0700), 0);
		ck_assert_int_eq(chown(acct, own_other_uid(), (gid_t)-1), 0);
		break;
	case OWN_OUTBOX_SYMLINK:
		own_symlink("elsewhere", "store/outbox");
		break;
	case OWN_OBACCT_0777:
		ck_assert_int_eq(mkdir(engine_path("store/outbox"), 0700), 0);
		ck_assert_int_eq(mkdir(engine_path("store/outbox/" G1), 0700),
				 0);
		ck_assert_int_eq(chmod(engine_path("store/outbox/" G1), 0777),
				 0);
		break;
	case OWN_FRESH:
	case OWN_STORE_SYMLINK:
		break;
	}
}

START_TEST(test_store_refuses_dirs_not_our_own)
{
	const struct own_row *row = &own_rows[_i];
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char *path = NULL;
	enum e2_status rc;

	if ((row->setup == OWN_STORE_NOBODY || row->setup == OWN_ACCT_NOBODY) &&
	    own_other_uid() == 0)
		return; /* only root can give a directory away */
	own_prepare(row->setup);
	rc = e2_store_open(engine_path("store"), &st, &err);
	if (rc == E2_OK && row->area != NULL)
		rc = store_account_dir(st, row->area, G1, &path, &err);
	if (row->want == NULL) {
		ck_assert_msg(rc == E2_OK, "%s: %s", row->name, err.msg);
		ck_assert_ptr_nonnull(path);
		ck_assert_int_eq(engine_mode(path), 0700);
		ck_assert_int_eq(engine_mode(engine_path("store")), 0700);
	} else {
		ck_assert_msg(rc == E2_ESTORE, "%s: accepted (rc %d)",
			      row->name, (int)rc);
		ck_assert_msg(strstr(err.msg, row->want) != NULL,
			      "%s: message \"%s\" lacks \"%s\"", row->name,
			      err.msg, row->want);
		/* the message names the path */
		ck_assert_msg(strstr(err.msg, tmpdir) != NULL,
			      "%s: message \"%s\" names no path", row->name,
			      err.msg);
		ck_assert_ptr_null(path);
	}
	/* nothing was created where a symlink pointed */
	ck_assert_int_ne(access(engine_path("elsewhere/" G1), F_OK), 0);
	ck_assert_int_ne(access(engine_path("elsewhere/accounts.db"), F_OK), 0);
	free(path);
	e2_store_close(&st);
}
END_TEST

/* Writes dir/name (directories made along the way). */
static void
own_file(const char *dir, const char *name)
{
	char p[PATH_MAX];
	FILE *f;

	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", dir, name),
			 (int)sizeof(p));
	f = fopen(p, "w");
	ck_assert_msg(f != NULL, "%s", p);
	fputs("Subject: x\r\n\r\nbody\r\n", f);
	fclose(f);
}

START_TEST(test_store_remove_files_counts_and_stays_inside)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char *mail = NULL, *outbox = NULL;
	char p[PATH_MAX];
	size_t queued = 99;

	ck_assert_int_eq(
		store_account_dir(st, STORE_AREA_MAIL, G1, &mail, &err), E2_OK);
	ck_assert_int_eq(
		store_account_dir(st, STORE_AREA_OUTBOX, G1, &outbox, &err),
		E2_OK);
	/* two queued in outbox/{GUID}, one in the legacy .Outbox, mail */
	for (size_t i = 0; i < 3; i++) {
		static const char *const subs[] = {"new", "cur", "tmp"};

		(void)snprintf(p, sizeof(p), "%s/%s", outbox, subs[i]);
		ck_assert_int_eq(mkdir(p, 0700), 0);
		(void)snprintf(p, sizeof(p), "%s/.Outbox", mail);
		(void)mkdir(p, 0700);
		(void)snprintf(p, sizeof(p), "%s/.Outbox/%s", mail, subs[i]);
		ck_assert_int_eq(mkdir(p, 0700), 0);
		(void)snprintf(p, sizeof(p), "%s/%s", mail, subs[i]);
		ck_assert_int_eq(mkdir(p, 0700), 0);
	}
	own_file(outbox, "new/1.q");
	own_file(outbox, "cur/2.q:2,");
	own_file(outbox, "tmp/3.q"); /* not queued yet: not counted */
	own_file(mail, ".Outbox/new/4.q");
	own_file(mail, "cur/5.m:2,S");
	/* planted symlinks: to a directory and to a file outside the store */
	ck_assert_int_eq(mkdir(engine_path("outside"), 0700), 0);
	own_file(engine_path("outside"), "keep");
	(void)snprintf(p, sizeof(p), "%s/.Evil", mail);
	ck_assert_int_eq(symlink(engine_path("outside"), p), 0);
	(void)snprintf(p, sizeof(p), "%s/cur/link", mail);
	ck_assert_int_eq(symlink(engine_path("outside/keep"), p), 0);

	ck_assert_msg(store_account_remove_files(st, G1, &queued, &err) ==
			      E2_OK,
		      "%s", err.msg);
	ck_assert_uint_eq(queued, 3);
	ck_assert_int_ne(access(mail, F_OK), 0);
	ck_assert_int_ne(access(outbox, F_OK), 0);
	ck_assert_int_eq(access(engine_path("outside/keep"), F_OK), 0);
	ck_assert_int_eq(access(engine_path("store/accounts.db"), F_OK), 0);
	/* again: nothing left, nothing counted, no error */
	ck_assert_int_eq(store_account_remove_files(st, G1, &queued, &err),
			 E2_OK);
	ck_assert_uint_eq(queued, 0);
	/* a GUID that is not one path component never reaches the disk */
	ck_assert_int_eq(store_account_remove_files(st, "..", &queued, &err),
			 E2_EINVAL);
	ck_assert_int_eq(store_account_remove_files(st, "a/b", &queued, &err),
			 E2_EINVAL);
	free(mail);
	free(outbox);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_remove_files_symlinked_account_dir)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	size_t queued = 99;

	ck_assert_int_eq(mkdir(engine_path("store/mail"), 0700), 0);
	ck_assert_int_eq(mkdir(engine_path("victim"), 0700), 0);
	own_file(engine_path("victim"), "precious");
	own_symlink("victim", "store/mail/" G1);
	ck_assert_int_eq(store_account_remove_files(st, G1, &queued, &err),
			 E2_OK);
	ck_assert_uint_eq(queued, 0);
	/* the link went, what it pointed to stayed */
	ck_assert_int_ne(access(engine_path("store/mail/" G1), F_OK), 0);
	ck_assert_int_eq(access(engine_path("victim/precious"), F_OK), 0);
	e2_store_close(&st);
}
END_TEST

/* a symlinked directory above the store is the same store (issue 9) */
START_TEST(test_store_open_through_symlinked_parent)
{
	struct e2_store *st = engine_open(), *st2 = NULL;
	struct e2_err err = {0};

	e2_store_close(&st);
	ck_assert_int_eq(symlink(tmpdir, engine_path("alias")), 0);
	ck_assert_msg(e2_store_open(engine_path("alias/store"), &st2, &err) ==
			      E2_OK,
		      "%s", err.msg);
	e2_store_close(&st2);
	ck_assert_msg(e2_store_open(engine_path("alias//./store/"), &st2,
				    &err) == E2_OK,
		      "%s", err.msg);
	e2_store_close(&st2);
	/* the store itself as a symlink stays refused */
	ck_assert_int_eq(symlink("store", engine_path("storelink")), 0);
	ck_assert_int_eq(e2_store_open(engine_path("storelink"), &st2, &err),
			 E2_ESTORE);
	ck_assert_ptr_null(st2);
}
END_TEST

/* ---- the per-account lock lives in <store>/locks (issue 9) -------------- */

START_TEST(test_store_lock_outside_maildir)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	int fd = -1, fd2 = -1;

	ck_assert_msg(store_account_lock(st, G1, &fd, &err) == E2_OK, "%s",
		      err.msg);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(engine_mode(engine_path("store/locks")), 0700);
	ck_assert_int_eq(engine_mode(engine_path("store/locks/" G1 ".lock")),
			 0600);
	/* nothing under mail/: no Maildir was made for the lock */
	ck_assert_int_ne(access(engine_path("store/mail/" G1), F_OK), 0);
	/* held: a second taker is busy at once and the message names it */
	ck_assert_int_eq(store_account_lock(st, G1, &fd2, &err), E2_EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "another sync is running"));
	ck_assert_ptr_nonnull(strstr(err.msg, "locks/" G1 ".lock"));
	ck_assert_int_eq(fd2, -1);
	/* and so is the removal of the account's files */
	e2_err_clear(&err);
	{
		size_t queued = 0;

		ck_assert_int_eq(
			store_account_remove_files(st, G1, &queued, &err),
			E2_EBUSY);
	}
	ck_assert_int_eq(access(engine_path("store/locks/" G1 ".lock"), F_OK),
			 0);
	(void)close(fd);
	e2_err_clear(&err);
	ck_assert_int_eq(store_account_lock(st, G1, &fd, &err), E2_OK);
	(void)close(fd);
	/* a GUID that is not one path component never reaches the disk */
	ck_assert_int_eq(store_account_lock(st, "../x", &fd, &err), E2_EINVAL);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_lock_legacy_file_goes)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char *mail = NULL;
	char legacy[PATH_MAX];
	int fd = -1, old = -1;

	ck_assert_int_eq(
		store_account_dir(st, STORE_AREA_MAIL, G1, &mail, &err), E2_OK);
	(void)snprintf(legacy, sizeof(legacy), "%s/email2-sync.lock", mail);
	/* an older email2 still syncing holds the old file: busy */
	old = open(legacy, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(old, 0);
	ck_assert_int_eq(flock(old, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(store_account_lock(st, G1, &fd, &err), E2_EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "email2-sync.lock"));
	(void)close(old);
	/* released: taken, and the stale file is gone from the Maildir */
	e2_err_clear(&err);
	ck_assert_msg(store_account_lock(st, G1, &fd, &err) == E2_OK, "%s",
		      err.msg);
	ck_assert_int_ne(access(legacy, F_OK), 0);
	(void)close(fd);
	free(mail);
	e2_store_close(&st);
}
END_TEST

START_TEST(test_store_lock_removed_with_the_account)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	size_t queued = 0;
	int fd = -1, stale = -1;

	ck_assert_int_eq(store_account_lock(st, G1, &fd, &err), E2_OK);
	(void)close(fd);
	/* opened (not locked) before the removal, as a racing sync would */
	stale = open(engine_path("store/locks/" G1 ".lock"), O_RDWR);
	ck_assert_int_ge(stale, 0);
	ck_assert_msg(store_account_remove_files(st, G1, &queued, &err) ==
			      E2_OK,
		      "%s", err.msg);
	ck_assert_int_ne(access(engine_path("store/locks/" G1 ".lock"), F_OK),
			 0);
	/* the stale descriptor's lock is not the account's lock any more:
	 * a new taker gets a new file */
	ck_assert_int_eq(flock(stale, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(store_account_lock(st, G1, &fd, &err), E2_OK);
	ck_assert_int_eq(access(engine_path("store/locks/" G1 ".lock"), F_OK),
			 0);
	(void)close(fd);
	(void)close(stale);
	e2_store_close(&st);
}
END_TEST

/* ---- GUIDs whatever their case ------------------------------------------- */

#define G1_LOWER "{c556e16f-56c4-4edb-9c64-d9469ee1fbe0}"

START_TEST(test_store_guid_any_case)
{
	struct e2_store *st = engine_open();
	struct e2_err err = {0};
	char stored[STORE_GUID_MAX];
	char **v = NULL;
	size_t n = 0;
	bool found = false;

	/* created lower-case, stored canonical (upper-case) */
	ck_assert_int_eq(store_account_create(st, G1_LOWER, &err), E2_OK);
	ck_assert_int_eq(store_account_find(st, G1_LOWER, &found, stored, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_str_eq(stored, G1);
	ck_assert_int_eq(store_account_create(st, G1, &err), E2_EINVAL);
	e2_err_clear(&err);
	ck_assert_int_eq(store_node_set(st, G1_LOWER, "NAME", "n", &err),
			 E2_OK);
	ck_assert_int_eq(store_account_list(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0], G1);
	e2_strv_free(&v, n);
	ck_assert_int_eq(store_account_delete(st, G1_LOWER, &err), E2_OK);
	ck_assert_int_eq(store_account_exists(st, G1, &found, &err), E2_OK);
	ck_assert(!found);
	e2_store_close(&st);
}
END_TEST

/* A store written before the rule holds a lower-case GUID: still found. */
START_TEST(test_store_guid_legacy_lower_case)
{
	struct e2_store *st = engine_open();
	struct e2_account *a = NULL;
	struct e2_err err = {0};
	char *path = NULL;

	ck_assert_int_eq(
		sqlite3_exec(store_db(st),
			     "INSERT INTO accounts (guid, created) VALUES"
			     " ('" G1_LOWER "', 0)",
			     NULL, NULL, NULL),
		SQLITE_OK);
	ck_assert_int_eq(store_node_set(st, G1, "INSERVER", "h", &err), E2_OK);
	ck_assert_int_eq(store_account_create(st, G1, &err), E2_EINVAL);
	ck_assert_int_eq(e2_account_load(st, G1, &a, &err), E2_OK);
	/* the stored spelling: its mail directory keeps its name */
	ck_assert_str_eq(a->guid, G1_LOWER);
	ck_assert_int_eq(
		store_account_dir(st, STORE_AREA_MAIL, a->guid, &path, &err),
		E2_OK);
	ck_assert_ptr_nonnull(strstr(path, "/mail/" G1_LOWER));
	free(path);
	e2_account_free(&a);
	e2_store_close(&st);
}
END_TEST

/* Every spelling of a GUID, with and without the command line's bare form. */
static const struct {
	const char *in;
	bool bare_ok;
	enum guid_verdict want;
	const char *canon;
} guid_rows[] = {
	{"{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}", false, GUID_OK, G1},
	{"{c556e16f-56c4-4edb-9c64-d9469ee1fbe0}", false, GUID_OK, G1},
	{"%7BC556E16F-56C4-4edb-9C64-D9469EE1FBE0%7D", false, GUID_OK, G1},
	{"%7bc556e16f-56c4-4edb-9c64-d9469ee1fbe0%7d", false, GUID_OK, G1},
	{"0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE0x7D", false, GUID_OK,
	 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE}"},
	{"C556E16F-56C4-4EDB-9C64-D9469EE1FBE0", false, GUID_NO_BRACES, NULL},
	{"C556E16F-56C4-4EDB-9C64-D9469EE1FBE0", true, GUID_OK, G1},
	{"c556e16f-56c4-4edb-9c64-d9469ee1fbe0", true, GUID_OK, G1},
	{"{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0", false, GUID_UNCLOSED, NULL},
	{"%7BC556E16F-56C4-4EDB-9C64-D9469EE1FBE0}", false, GUID_UNCLOSED,
	 NULL},
	{"%7B(email account GUID)%7D", false, GUID_PLACEHOLDER, NULL},
	{"{C556E16F-56C4-4EDB-9C64-D9469EE1FBE01}", false, GUID_BAD_BODY, NULL},
	{"{C556E16F56C4-4EDB-9C64-D9469EE1FBE0}", false, GUID_BAD_BODY, NULL},
	{"{}", false, GUID_BAD_BODY, NULL},
	{"{", false, GUID_UNCLOSED, NULL},
	{"", true, GUID_BAD_BODY, NULL},
	{"Work", true, GUID_BAD_BODY, NULL},
	{"{G556E16F-56C4-4EDB-9C64-D9469EE1FBE0}", false, GUID_BAD_BODY, NULL},
};

START_TEST(test_guid_canon_table)
{
	char out[GUID_CANON_SIZE] = "untouched";
	enum guid_verdict v;

	v = guid_canon(guid_rows[_i].in, strlen(guid_rows[_i].in),
		       guid_rows[_i].bare_ok, out, sizeof(out), NULL, NULL);
	ck_assert_msg(v == guid_rows[_i].want, "row %d: \"%s\" gave %d", _i,
		      guid_rows[_i].in, (int)v);
	if (guid_rows[_i].canon != NULL)
		ck_assert_str_eq(out, guid_rows[_i].canon);
	else
		ck_assert_str_eq(out, "untouched");
}
END_TEST

/* A user names an account by any GUID spelling, NAME or REPLYADDR. */
START_TEST(test_account_resolve)
{
	static const struct {
		const char *name;
		const char *want; /* NULL: E2_EINVAL */
		const char *msg;  /* part of the message when refused */
	} rows[] = {
		{G1, G1, NULL},
		{"c556e16f-56c4-4edb-9c64-d9469ee1fbe0", G1, NULL},
		{"%7Bc556e16f-56c4-4edb-9c64-d9469ee1fbe0%7D", G1, NULL},
		{"Work", G1, NULL},
		{"work", G1, NULL},
		{"ME@Example.org", G1, NULL},
		{"Home", NULL, "2 accounts have this NAME or REPLYADDR"},
		{"nobody", NULL, "no account has this GUID, NAME or REPLYADDR"},
		{"{00000000-0000-4000-8000-000000000009}", NULL,
		 "in the store /"},
		{"", NULL, "empty name"},
	};
	struct e2_store *st = engine_open();

	engine_create(st, G1);
	engine_set(st, G1, "NAME", "Work");
	engine_set(st, G1, "REPLYADDR", "me@example.org");
	engine_create(st, G2);
	engine_set(st, G2, "NAME", "Home");
	engine_create(st, G3);
	engine_set(st, G3, "REPLYADDR", "home");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct e2_err err = {0};
		char *guid = NULL;
		enum e2_status rc;

		rc = e2_account_resolve(st, rows[i].name, &guid, &err);
		if (rows[i].want != NULL) {
			ck_assert_msg(rc == E2_OK, "%s: %s", rows[i].name,
				      err.msg);
			ck_assert_str_eq(guid, rows[i].want);
		} else {
			ck_assert_int_eq(rc, E2_EINVAL);
			ck_assert_ptr_null(guid);
			ck_assert_msg(strstr(err.msg, rows[i].msg) != NULL,
				      "%s: %s", rows[i].name, err.msg);
		}
		free(guid);
	}
	e2_store_close(&st);
}
END_TEST

static Suite *
engine_store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_test(tc, test_store_open_creates_private_dir_and_db);
	tcase_add_test(tc, test_store_open_umask_does_not_loosen);
	tcase_add_test(tc, test_store_open_reopen_keeps_data);
	tcase_add_test(tc, test_store_open_pragmas);
	tcase_add_loop_test(tc, test_store_open_resolves_env, 0,
			    (int)(sizeof(env_names) / sizeof(env_names[0])));
	tcase_add_test(tc, test_store_open_env_precedence);
	tcase_add_test(tc, test_store_open_rejects_bad_dir);
	tcase_add_test(tc, test_store_open_tightens_existing_dir);
	tcase_add_test(tc, test_store_open_newer_schema_fails);
	tcase_add_loop_test(
		tc, test_store_open_existing_damage, 0,
		(int)(sizeof(damage_rows) / sizeof(damage_rows[0])));
	tcase_add_test(tc, test_store_open_existing_names_source);
	tcase_add_loop_test(
		tc, test_store_option_table, 0,
		(int)(sizeof(option_rows) / sizeof(option_rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("tx");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_test(tc, test_store_tx_commit_persists);
	tcase_add_test(tc, test_store_tx_rollback_restores_edit);
	tcase_add_test(tc, test_store_tx_rollback_create_leaves_no_account);
	tcase_add_test(tc, test_store_tx_nested_inner_rollback_keeps_outer);
	tcase_add_test(tc, test_store_tx_outer_rollback_undoes_inner_commit);
	tcase_add_test(tc, test_store_tx_rollback_after_failed_statement);
	tcase_add_test(tc, test_store_tx_unbalanced);
	tcase_add_test(tc, test_store_tx_deep_nesting);
	tcase_add_test(tc, test_store_tx_inside_foreign_transaction);
	tcase_add_test(tc, test_store_tx_two_connections);
	suite_add_tcase(s, tc);

	tc = tcase_create("accounts");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_account_create_and_delete);
	tcase_add_test(tc, test_store_account_delete_cascades);
	tcase_add_test(tc, test_store_account_rejects_empty_guid);
	tcase_add_test(tc, test_store_account_list_sorted);
	tcase_add_test(tc, test_store_account_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("nodes");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_test(tc, test_store_node_set_get_replace);
	tcase_add_test(tc, test_store_node_interior);
	tcase_add_test(tc, test_store_node_set_creates_parents);
	tcase_add_test(tc, test_store_node_delete_subtree);
	tcase_add_test(tc, test_store_node_delete_no_wildcards);
	tcase_add_test(tc, test_store_node_list_sorted);
	tcase_add_test(tc, test_store_guid_any_case);
	tcase_add_test(tc, test_store_guid_legacy_lower_case);
	tcase_add_loop_test(tc, test_guid_canon_table, 0,
			    (int)(sizeof(guid_rows) / sizeof(guid_rows[0])));
	tcase_add_test(tc, test_account_resolve);
	suite_add_tcase(s, tc);

	tc = tcase_create("own");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_loop_test(tc, test_store_refuses_dirs_not_our_own, 0,
			    (int)(sizeof(own_rows) / sizeof(own_rows[0])));
	tcase_add_test(tc, test_store_remove_files_counts_and_stays_inside);
	tcase_add_test(tc, test_store_remove_files_symlinked_account_dir);
	tcase_add_test(tc, test_store_open_through_symlinked_parent);
	tcase_add_test(tc, test_store_lock_outside_maildir);
	tcase_add_test(tc, test_store_lock_legacy_file_goes);
	tcase_add_test(tc, test_store_lock_removed_with_the_account);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *
engine_account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc;

	tc = tcase_create("nodes");
	tcase_add_test(tc, test_account_new_defaults);
	tcase_add_test(tc, test_account_from_nodes_empty_has_defaults);
	tcase_add_loop_test(tc, test_account_from_nodes_maps_each_node, 0,
			    (int)(sizeof(map_rows) / sizeof(map_rows[0])));
	tcase_add_loop_test(tc, test_account_from_nodes_rejects_bad_value, 0,
			    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	tcase_add_test(tc, test_account_from_nodes_message);
	tcase_add_test(tc, test_account_from_nodes_full_set);
	tcase_add_test(tc, test_account_from_nodes_secret_not_in_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_loop_test(tc, test_account_server_parse_valid, 0,
			    (int)(sizeof(server_ok) / sizeof(server_ok[0])));
	tcase_add_loop_test(tc, test_account_server_parse_invalid, 0,
			    (int)(sizeof(server_bad) / sizeof(server_bad[0])));
	tcase_add_test(tc, test_account_server_parse_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("creds");
	tcase_add_test(tc, test_account_in_creds);
	tcase_add_test(tc, test_account_out_creds_smtpalt_enabled);
	tcase_add_test(tc, test_account_out_creds_smtpalt_disabled);
	tcase_add_test(tc, test_account_out_creds_no_domain);
	tcase_add_loop_test(
		tc, test_account_out_tls_required_table, 0,
		(int)(sizeof(out_tls_rows) / sizeof(out_tls_rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_test(tc, test_account_load_missing_is_einval);
	tcase_add_test(tc, test_account_load_roundtrip);
	tcase_add_test(tc, test_account_load_bad_stored_value);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- the conntest JSON document (engine/report.c) -------------------- */

static char *
json_of(const struct e2_conntest_report *rep)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	e2_conntest_print_json(rep, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* server text of any bytes stays one valid JSON string */
START_TEST(test_report_json_escapes)
{
	struct e2_conntest_report rep = {0};
	struct e2_attempt *at = &rep.in.attempts[0];
	char *js;

	rep.in.tested = true;
	rep.in.status = E2_EPROTO;
	rep.in.protocol = "imap4";
	(void)snprintf(rep.in.host, sizeof(rep.in.host), "%s", "mail.test");
	rep.in.n_attempts = 1;
	at->mode = E2_MODE_TLS;
	at->result = E2_EPROTO;
	at->port = 993;
	(void)snprintf(at->error, sizeof(at->error), "%s",
		       "bad \"greeting\"\\\r\n\t\x01\x7f");
	/* ASCII, quote, lone byte, UTF-8 é, ESC, overlong '/', surrogate,
	 * above U+10FFFF, truncated sequence */
	(void)snprintf(at->capabilities, sizeof(at->capabilities), "%s",
		       "IMAP4rev1  X-\"q\" \xff \xc3\xa9 \x1b[31m \xc0\xaf "
		       "\xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82");
	js = json_of(&rep);
	ck_assert_ptr_nonnull(strstr(
		js, "\"error\": \"bad \\\"greeting\\\"\\\\\\r\\n\\t\\u0001"
		    "\\u007f\", "));
	ck_assert_ptr_nonnull(strstr(
		js, "\"capabilities\": [\"IMAP4rev1\", \"X-\\\"q\\\"\", "
		    "\"\\u00ff\", \"\xc3\xa9\", \"\\u001b[31m\", "
		    "\"\\u00c0\\u00af\", \"\\u00ed\\u00a0\\u0080\", "
		    "\"\\u00f4\\u0090\\u0080\\u0080\", \"\\u00e2\\u0082\"], "));
	/* nothing but printable ASCII and the one é left raw */
	for (const unsigned char *p = (const unsigned char *)js; *p; p++)
		ck_assert(*p == '\n' || (*p >= 0x20 && *p < 0x7f) ||
			  *p == 0xc3 || *p == 0xa9);
	/* issue 10: the content types follow the sides, null when untested */
	ck_assert_ptr_nonnull(strstr(js, "\"out\": null,\n \"contacts\": "
					 "null,\n \"calendars\": null}"));
	ck_assert_ptr_nonnull(strstr(js, "{\"ok\": false,"));
	free(js);
}
END_TEST

/* the fields the conntest man page promises, with their JSON types */
START_TEST(test_report_json_fields)
{
	struct e2_conntest_report rep = {0};
	struct e2_attempt *at = &rep.out.attempts[0];
	char *js;

	rep.ok = true;
	rep.out.tested = rep.out.ok = true;
	rep.out.protocol = "smtp";
	rep.out.port = 465;
	rep.out.n_attempts = 1;
	rep.out.elapsed_ms = 12.34;
	at->mode = E2_MODE_TLS;
	at->result = E2_OK;
	at->port = 465;
	at->tls = at->cert_verified = true;
	(void)snprintf(at->tls_version, sizeof(at->tls_version), "%s",
		       "TLSv1.3");
	(void)snprintf(at->auth_mechs, sizeof(at->auth_mechs), "%s",
		       "PLAIN LOGIN");
	at->login = E2_LOGIN_OK;
	js = json_of(&rep);
	ck_assert_ptr_nonnull(strstr(js, "{\"ok\": true,\n \"in\": null,"));
	ck_assert_ptr_nonnull(strstr(
		js, "\"out\": {\"ok\": true, \"status\": \"ok\", "
		    "\"error\": null, \"protocol\": \"smtp\", \"host\": null, "
		    "\"port\": 465, \"tls_required\": false, "
		    "\"elapsed_ms\": 12.3, \"attempts\": ["));
	ck_assert_ptr_nonnull(strstr(
		js, "{\"mode\": \"tls\", \"ok\": true, \"status\": \"ok\", "
		    "\"error\": null, "));
	ck_assert_ptr_nonnull(strstr(js, "\"tls\": true, \"tls_version\": "
					 "\"TLSv1.3\", \"cipher\": null, "));
	ck_assert_ptr_nonnull(strstr(js, "\"cert_verified\": true, "));
	ck_assert_ptr_nonnull(strstr(js, "\"capabilities\": [], "
					 "\"auth_mechs\": [\"PLAIN\", "
					 "\"LOGIN\"], \"login\": \"ok\", "));
	ck_assert_ptr_nonnull(strstr(js, "\"cleartext_login\": false, "));
	free(js);
}
END_TEST

/* issue 9: the leaf's fingerprint, dates and pin, in JSON and in text */
START_TEST(test_report_cert_fingerprint)
{
	static const char fp[] = "SHA256:2AA88D0F175E52E695DD4BA5B99BB916835F"
				 "201131A078D0CD9135E42E42F56D";
	struct e2_conntest_report rep = {0};
	struct e2_attempt *at = &rep.in.attempts[0];
	char *js, *txt = NULL;
	size_t len = 0;
	FILE *f;

	rep.in.tested = true;
	rep.in.protocol = "imap4";
	rep.in.n_attempts = 1;
	at->mode = E2_MODE_TLS;
	at->result = E2_OK;
	at->tls = true;
	(void)snprintf(at->cert_subject, sizeof(at->cert_subject), "%s",
		       "CN = mail.test");
	(void)snprintf(at->verify_result, sizeof(at->verify_result), "%s",
		       "self-signed certificate");
	(void)snprintf(at->cert_sha256, sizeof(at->cert_sha256), "%s", fp);
	(void)snprintf(at->cert_not_before, sizeof(at->cert_not_before), "%s",
		       "2026-12-03T16:30:10Z");
	(void)snprintf(at->cert_not_after, sizeof(at->cert_not_after), "%s",
		       "2027-01-02T16:30:10Z");
	at->cert_pinned = _i == 1;
	js = json_of(&rep);
	ck_assert_ptr_nonnull(strstr(js, "\"cert_sha256\": \"SHA256:2AA88D0F"));
	ck_assert_ptr_nonnull(
		strstr(js, "\"cert_not_before\": \"2026-12-03T16:30:10Z\", "
			   "\"cert_not_after\": \"2027-01-02T16:30:10Z\", "));
	ck_assert_ptr_nonnull(strstr(js, _i == 1 ? "\"cert_pinned\": true, "
						 : "\"cert_pinned\": false, "));
	free(js);
	f = open_memstream(&txt, &len);
	ck_assert_ptr_nonnull(f);
	e2_conntest_print_text(&rep, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(txt, "fingerprint: SHA256:2AA88D0F"));
	ck_assert_ptr_nonnull(strstr(txt, "valid: 2026-12-03T16:30:10Z to "
					  "2027-01-02T16:30:10Z\n"));
	ck_assert((strstr(txt, "(pinned for this account and host)") != NULL) ==
		  (_i == 1));
	free(txt);
	/* no certificate seen: no lines, JSON nulls */
	at->cert_sha256[0] = '\0';
	at->cert_not_before[0] = at->cert_not_after[0] = '\0';
	js = json_of(&rep);
	ck_assert_ptr_nonnull(strstr(js, "\"cert_sha256\": null, "));
	free(js);
}
END_TEST

static Suite *
engine_report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_report_json_escapes);
	tcase_add_test(tc, test_report_json_fields);
	tcase_add_loop_test(tc, test_report_cert_fingerprint, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

/* grow_array(): (cap, n, first) before -> cap after, or E2_ENOMEM */
static const struct {
	size_t cap, n, size, first, want_cap;
	enum e2_status want;
} grow_rows[] = {
	{0, 0, 4, 16, 16, E2_OK},   /* first element */
	{16, 3, 4, 16, 16, E2_OK},  /* room left: nothing */
	{16, 16, 4, 16, 32, E2_OK}, /* full: doubled */
	{0, 0, 4, 0, 1, E2_OK},     /* first 0: one */
	{SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, 2, 8, 0, E2_ENOMEM}, /* overflow */
};

START_TEST(test_grow_array)
{
	char *v = NULL;
	size_t cap = grow_rows[_i].cap;
	struct e2_err err = {0};
	enum e2_status rc;

	if (cap < 64) { /* a real array behind the small rows */
		v = calloc(cap == 0 ? 1 : cap, grow_rows[_i].size);
		ck_assert_ptr_nonnull(v);
	}
	rc = grow_array(&v, &cap, grow_rows[_i].n, grow_rows[_i].size,
			grow_rows[_i].first, &err);
	ck_assert_int_eq(rc, grow_rows[_i].want);
	if (rc == E2_OK) {
		ck_assert_uint_eq(cap, grow_rows[_i].want_cap);
		memset(v, 0xA5, cap * grow_rows[_i].size); /* ASan: all ours */
	} else {
		ck_assert_uint_eq(cap, grow_rows[_i].cap); /* unchanged */
		ck_assert_str_eq(err.msg, "out of memory");
	}
	free(v);
}
END_TEST

static Suite *
engine_grow_suite(void)
{
	Suite *s = suite_create("grow");
	TCase *tc = tcase_create("array");

	tcase_add_loop_test(tc, test_grow_array, 0,
			    (int)(sizeof(grow_rows) / sizeof(grow_rows[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(engine_store_suite());
	int failed;

	srunner_add_suite(sr, engine_account_suite());
	srunner_add_suite(sr, engine_report_suite());
	srunner_add_suite(sr, engine_grow_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
