/* SPDX-License-Identifier: MIT */
/* check_syncstate.c -- sync state rows: folders, messages, pending, uploads */
#include "config.h"

#include <ftw.h>

#include "engine/store.h"
#include "engine/syncstate.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char guid[] = "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}";

static char tmpdir[] = "/tmp/check_syncstate.XXXXXX";
static struct e2_store *st;
static sqlite3 *db;
static struct syncstate *ss;

/* A fresh store: its migrations create the sync tables. */
static void
setup_db(void)
{
	struct e2_err err = {0};

	(void)snprintf(tmpdir, sizeof(tmpdir), "%s",
		       "/tmp/check_syncstate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(e2_store_open(tmpdir, &st, &err), E2_OK);
	db = store_db(st);
	ck_assert_int_eq(store_account_create(st, guid, &err), E2_OK);
	ck_assert_int_eq(syncstate_new(db, guid, &ss, &err), E2_OK);
}

static int
syncstate_rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
teardown_db(void)
{
	syncstate_free(&ss);
	ck_assert_ptr_null(ss);
	e2_store_close(&st);
	(void)nftw(tmpdir, syncstate_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static struct syncstate_msg
imap_row(uint32_t uid)
{
	struct syncstate_msg m = {0};

	m.uid = uid;
	(void)snprintf(m.local_name, sizeof(m.local_name),
		       "1700000000.M1P1Q%u.host,S=%u,U=%u", uid, uid * 10, uid);
	(void)snprintf(m.flags, sizeof(m.flags), "%s", uid % 2 ? "SR" : "");
	m.size = uid * 10;
	m.internal_date = 1700000000 + uid;
	return m;
}

START_TEST(test_syncstate_folder_round_trip)
{
	struct syncstate_folder f = {.uidvalidity = 1234567890u,
				     .highestmodseq = 99999999999ull,
				     .uidnext = 42,
				     .messages = 7},
				g = {0};
	struct e2_err err = {0};
	bool found = true;

	ck_assert_int_eq(syncstate_folder_get(ss, "INBOX", &found, &g, &err),
			 E2_OK);
	ck_assert(!found);
	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_get(ss, "INBOX", &found, &g, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_uint_eq(g.uidvalidity, 1234567890u);
	ck_assert_uint_eq(g.highestmodseq, 99999999999ull);
	ck_assert_uint_eq(g.uidnext, 42);
	ck_assert_uint_eq(g.messages, 7);
	f.uidnext = 43;
	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_get(ss, "INBOX", &found, &g, &err),
			 E2_OK);
	ck_assert_uint_eq(g.uidnext, 43);
	ck_assert_str_eq(g.local_stamp, "");
	ck_assert_str_eq(g.server_stamp, "");
	(void)snprintf(f.local_stamp, sizeof(f.local_stamp), "%s", "l:1");
	(void)snprintf(f.server_stamp, sizeof(f.server_stamp), "%s", "s:2");
	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_get(ss, "INBOX", &found, &g, &err),
			 E2_OK);
	ck_assert_str_eq(g.local_stamp, "l:1");
	ck_assert_str_eq(g.server_stamp, "s:2");
}
END_TEST

/* count, and the oldest date of a row neither aged out nor undated */
START_TEST(test_syncstate_msg_summary)
{
	struct syncstate_summary sum = {99, 99};
	struct syncstate_msg m = imap_row(1);
	struct e2_err err = {0};

	ck_assert_int_eq(syncstate_msg_summary(ss, "INBOX", &sum, &err), E2_OK);
	ck_assert_uint_eq(sum.count, 0);
	ck_assert_int_eq(sum.oldest, 0);
	m.internal_date = 0; /* no date: never ages out */
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	m = imap_row(2);
	m.internal_date = 500;
	(void)snprintf(m.flags, sizeof(m.flags), "%s", "A"); /* aged out */
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_summary(ss, "INBOX", &sum, &err), E2_OK);
	ck_assert_uint_eq(sum.count, 2);
	ck_assert_int_eq(sum.oldest, 0);
	m = imap_row(3);
	m.internal_date = 700;
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	m = imap_row(4);
	m.internal_date = 600;
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_summary(ss, "INBOX", &sum, &err), E2_OK);
	ck_assert_uint_eq(sum.count, 4);
	ck_assert_int_eq(sum.oldest, 600);
	ck_assert_int_eq(syncstate_msg_summary(ss, "Other", &sum, &err), E2_OK);
	ck_assert_uint_eq(sum.count, 0);
}
END_TEST

/* A store of schema 2 (no stamps) opens as 3, its folder rows kept. */
START_TEST(test_syncstate_migration_3)
{
	struct syncstate_folder f = {.uidvalidity = 7, .uidnext = 9}, g = {0};
	struct e2_err err = {0};
	bool found = false;

	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err), E2_OK);
	syncstate_free(&ss);
	ck_assert_int_eq(sqlite3_exec(db,
				      "ALTER TABLE sync_folders"
				      " DROP COLUMN local_stamp;"
				      "ALTER TABLE sync_folders"
				      " DROP COLUMN server_stamp;"
				      "PRAGMA user_version = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	e2_store_close(&st);
	ck_assert_int_eq(e2_store_open(tmpdir, &st, &err), E2_OK);
	db = store_db(st);
	ck_assert_int_eq(syncstate_new(db, guid, &ss, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_get(ss, "INBOX", &found, &g, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_uint_eq(g.uidnext, 9);
	ck_assert_str_eq(g.local_stamp, "");
	ck_assert_str_eq(g.server_stamp, "");
}
END_TEST

START_TEST(test_syncstate_msg_by_uid_and_pages)
{
	struct syncstate_msg page[7], m, got;
	struct e2_err err = {0};
	uint32_t after = 0, seen = 0;
	size_t n = 0, total = 0;
	bool found;

	for (uint32_t uid = 100; uid > 0; uid--) {
		m = imap_row(uid);
		ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err),
				 E2_OK);
	}
	m = imap_row(5);
	ck_assert_int_eq(syncstate_msg_put(ss, "Other", &m, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_count(ss, "INBOX", &n, &err), E2_OK);
	ck_assert_uint_eq(n, 100);
	do {
		ck_assert_int_eq(syncstate_msg_list_uid(ss, "INBOX", after,
							page, 7, &n, &err),
				 E2_OK);
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_eq(page[i].uid, seen + 1);
			seen = page[i].uid;
		}
		total += n;
		if (n > 0)
			after = page[n - 1].uid;
	} while (n == 7);
	ck_assert_uint_eq(total, 100);
	ck_assert_int_eq(
		syncstate_msg_get_uid(ss, "INBOX", 7, &found, &got, &err),
		E2_OK);
	ck_assert(found);
	ck_assert_str_eq(got.flags, "RS");
	ck_assert_uint_eq(got.size, 70);
	ck_assert_int_eq(got.internal_date, 1700000007);
	ck_assert_int_eq(syncstate_msg_get_local(ss, "INBOX", got.local_name,
						 &found, &m, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_uint_eq(m.uid, 7);
	ck_assert_int_eq(syncstate_msg_set_flags(ss, "INBOX", 7, "FS", &err),
			 E2_OK);
	ck_assert_int_eq(
		syncstate_msg_get_uid(ss, "INBOX", 7, &found, &got, &err),
		E2_OK);
	ck_assert_str_eq(got.flags, "FS");
	ck_assert_int_eq(syncstate_msg_delete_uid(ss, "INBOX", 7, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_delete_uid(ss, "INBOX", 7, &err), E2_OK);
	ck_assert_int_eq(
		syncstate_msg_get_uid(ss, "INBOX", 7, &found, &got, &err),
		E2_OK);
	ck_assert(!found);
	/* UIDVALIDITY change: rows go, the folder row stays. */
	ck_assert_int_eq(syncstate_folder_clear(ss, "INBOX", &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_count(ss, "INBOX", &n, &err), E2_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(syncstate_msg_count(ss, "Other", &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(test_syncstate_msg_by_uidl)
{
	static const char *const uidls[] = {"b", "a", "c\"'; DROP", "zz"};
	struct syncstate_msg m = {0}, page[2];
	struct e2_err err = {0};
	char after[SYNCSTATE_UIDL_MAX + 1] = "";
	size_t n, total = 0;
	bool found;

	for (size_t i = 0; i < 4; i++) {
		memset(&m, 0, sizeof(m));
		(void)snprintf(m.uidl, sizeof(m.uidl), "%s", uidls[i]);
		(void)snprintf(m.local_name, sizeof(m.local_name), "n%zu", i);
		m.partial = i == 2;
		ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err),
				 E2_OK);
	}
	/* Same UIDL again: replaced, not duplicated. */
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_get_uidl(ss, "INBOX", "c\"'; DROP",
						&found, &m, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert(m.partial);
	ck_assert_str_eq(m.local_name, "n2");
	do {
		ck_assert_int_eq(syncstate_msg_list_uidl(ss, "INBOX", after,
							 page, 2, &n, &err),
				 E2_OK);
		for (size_t i = 0; i < n; i++)
			ck_assert_str_gt(page[i].uidl, after);
		total += n;
		if (n > 0)
			memcpy(after, page[n - 1].uidl, sizeof(after));
	} while (n == 2);
	ck_assert_uint_eq(total, 4);
	ck_assert_int_eq(syncstate_msg_delete_uidl(ss, "INBOX", "a", &err),
			 E2_OK);
	ck_assert_int_eq(
		syncstate_msg_get_uidl(ss, "INBOX", "a", &found, &m, &err),
		E2_OK);
	ck_assert(!found);
}
END_TEST

START_TEST(test_syncstate_msg_put_rejects)
{
	struct syncstate_msg m = imap_row(3);
	struct e2_err err = {0};

	(void)snprintf(m.uidl, sizeof(m.uidl), "both");
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_EINVAL);
	m = imap_row(3);
	m.local_name[0] = '\0';
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_EINVAL);
	m = imap_row(0);
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_EINVAL);
}
END_TEST

START_TEST(test_syncstate_pending)
{
	struct syncstate_pending p = {0}, buf[4];
	struct e2_err err = {0};
	size_t n = 0;

	p.uid = 10;
	p.action = SYNCSTATE_ACTION_TRASH;
	p.created = 5;
	ck_assert_int_eq(syncstate_pending_add(ss, "INBOX", &p, &err), E2_OK);
	p.action = SYNCSTATE_ACTION_DELETE; /* replaces */
	ck_assert_int_eq(syncstate_pending_add(ss, "INBOX", &p, &err), E2_OK);
	p.uid = 4;
	p.created = 6;
	ck_assert_int_eq(syncstate_pending_add(ss, "INBOX", &p, &err), E2_OK);
	ck_assert_int_eq(syncstate_pending_list(ss, "INBOX", buf, 4, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(buf[0].uid, 10);
	ck_assert_int_eq(buf[0].action, SYNCSTATE_ACTION_DELETE);
	ck_assert_int_eq(syncstate_pending_done(ss, "INBOX", &buf[0], &err),
			 E2_OK);
	ck_assert_int_eq(syncstate_pending_list(ss, "INBOX", buf, 4, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(syncstate_folder_delete(ss, "INBOX", &err), E2_OK);
	ck_assert_int_eq(syncstate_pending_list(ss, "INBOX", buf, 4, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_syncstate_account_delete)
{
	struct syncstate_folder f = {.uidvalidity = 1, .uidnext = 2};
	struct syncstate_msg m = imap_row(1);
	struct syncstate *other = NULL;
	struct e2_err err = {0};
	size_t n = 9;

	ck_assert_int_eq(store_account_create(st, "{OTHER}", &err), E2_OK);
	ck_assert_int_eq(syncstate_new(db, "{OTHER}", &other, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_put(ss, "INBOX", &m, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_put(other, "INBOX", &m, &err), E2_OK);
	/* store_account_delete() takes the rows along (ON DELETE CASCADE) */
	ck_assert_int_eq(store_account_delete(st, guid, &err), E2_OK);
	ck_assert_int_eq(syncstate_msg_count(ss, "INBOX", &n, &err), E2_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(syncstate_msg_count(other, "INBOX", &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	syncstate_free(&other);
}
END_TEST

/* A broken database reports E2_ESTORE with SQLite's words. */
/* Migration 5: folder ids are stable per name, never reused; uploads. */
START_TEST(test_syncstate_folder_ids_and_uploads)
{
	char a[SYNCSTATE_FOLDER_ID_MAX + 1], b[SYNCSTATE_FOLDER_ID_MAX + 1],
		a2[SYNCSTATE_FOLDER_ID_MAX + 1], c[SYNCSTATE_FOLDER_ID_MAX + 1];
	struct syncstate_upload u = {0}, g = {0};
	struct e2_err err = {0};
	bool found = true;

	ck_assert_int_eq(syncstate_folder_id(ss, "INBOX", a, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_id(ss, "Work", b, &err), E2_OK);
	ck_assert_int_eq(syncstate_folder_id(ss, "INBOX", a2, &err), E2_OK);
	ck_assert_str_eq(a, a2);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a, "0123456789abcdefghijklmnopqrstuvwxyz"),
			  strlen(a));
	/* a deleted id is never handed out again */
	ck_assert_int_eq(sqlite3_exec(db,
				      "DELETE FROM sync_folder_ids"
				      " WHERE folder = 'Work'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(syncstate_folder_id(ss, "Other", c, &err), E2_OK);
	ck_assert_str_ne(c, b);
	ck_assert_str_ne(c, a);

	(void)snprintf(u.local_name, sizeof(u.local_name), "%s", "1.M1P1.h");
	(void)snprintf(u.message_id, sizeof(u.message_id), "%s", "<x@y>");
	(void)snprintf(u.src_folder, sizeof(u.src_folder), "%s", "INBOX");
	u.size = 1234;
	u.uidnext = 77;
	u.src_uid = 5;
	u.created = 1700000000;
	ck_assert_int_eq(syncstate_upload_put(ss, "Work", &u, &err), E2_OK);
	ck_assert_int_eq(syncstate_upload_get(ss, "Work", u.local_name, &found,
					      &g, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_str_eq(g.message_id, "<x@y>");
	ck_assert_str_eq(g.src_folder, "INBOX");
	ck_assert_uint_eq(g.size, 1234);
	ck_assert_uint_eq(g.uidnext, 77);
	ck_assert_uint_eq(g.src_uid, 5);
	ck_assert_int_eq(syncstate_upload_done(ss, "Work", u.local_name, &err),
			 E2_OK);
	ck_assert_int_eq(syncstate_upload_get(ss, "Work", u.local_name, &found,
					      &g, &err),
			 E2_OK);
	ck_assert(!found);
}
END_TEST

/*
 * Issue 9: a dry run sets the store query_only. The id of a folder that has
 * one is read without a write; a new one needs the write and fails.
 */
START_TEST(test_syncstate_folder_id_query_only)
{
	char a[SYNCSTATE_FOLDER_ID_MAX + 1], a2[SYNCSTATE_FOLDER_ID_MAX + 1],
		n[SYNCSTATE_FOLDER_ID_MAX + 1];
	struct e2_err err = {0};

	ck_assert_int_eq(syncstate_folder_id(ss, "INBOX", a, &err), E2_OK);
	ck_assert_int_eq(
		sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
		SQLITE_OK);
	ck_assert_int_eq(syncstate_folder_id(ss, "INBOX", a2, &err), E2_OK);
	ck_assert_str_eq(a, a2);
	ck_assert_int_eq(syncstate_folder_id(ss, "New", n, &err), E2_ESTORE);
	ck_assert_int_eq(
		sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
		SQLITE_OK);
}
END_TEST

START_TEST(test_syncstate_errors_are_estore)
{
	struct syncstate_folder f = {.uidvalidity = 1, .uidnext = 2};
	struct e2_err err = {0};

	ck_assert_int_eq(
		sqlite3_exec(db, "DROP TABLE sync_folders", NULL, NULL, NULL),
		SQLITE_OK);
	ck_assert_int_eq(syncstate_folder_put(ss, "INBOX", &f, &err),
			 E2_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.msg, "no such table"));
}
END_TEST

static Suite *
syncstate_suite(void)
{
	Suite *s = suite_create("syncstate");
	TCase *tc = tcase_create("rows");

	tcase_add_checked_fixture(tc, setup_db, teardown_db);
	tcase_add_test(tc, test_syncstate_folder_round_trip);
	tcase_add_test(tc, test_syncstate_msg_summary);
	tcase_add_test(tc, test_syncstate_migration_3);
	tcase_add_test(tc, test_syncstate_msg_by_uid_and_pages);
	tcase_add_test(tc, test_syncstate_msg_by_uidl);
	tcase_add_test(tc, test_syncstate_msg_put_rejects);
	tcase_add_test(tc, test_syncstate_pending);
	tcase_add_test(tc, test_syncstate_account_delete);
	tcase_add_test(tc, test_syncstate_errors_are_estore);
	tcase_add_test(tc, test_syncstate_folder_ids_and_uploads);
	tcase_add_test(tc, test_syncstate_folder_id_query_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(syncstate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
