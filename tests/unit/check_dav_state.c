/* SPDX-License-Identifier: MIT */
/* check_dav_state.c -- the state rows of contacts and calendars sync */
#include "config.h"

#include "engine/dav_state.h"
#include "engine/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char guid[] = "{5B0D1E2A-7C44-4F1B-9E0A-3D2C1B0A9F8E}";
static char coll[] = "/alice/contacts/";
static char etag1[] = "\"e1\"";
static char etag9[] = "\"e9\"";

static char tmpdir[256];
static struct e2_store *st;

static void
setup_db(void)
{
	struct e2_err err = {0};
	struct dav_state_coll c = {.href = coll};

	tu_mkdtemp(tmpdir, sizeof(tmpdir), "check_dav_state");
	ck_assert_int_eq(e2_store_open(tmpdir, &st, &err), E2_OK);
	ck_assert_int_eq(store_account_create(st, guid, &err), E2_OK);
	ck_assert_int_eq(dav_state_coll_put(st, guid, DAV_KIND_CARD, &c, &err),
			 E2_OK);
}

static void
teardown_db(void)
{
	e2_store_close(&st);
	tu_rmtree(tmpdir);
}

static struct dav_state_item
item(unsigned i, char *href, char *file)
{
	struct dav_state_item it = {0};

	(void)snprintf(href, 64, "/alice/contacts/i%u.vcf", i);
	(void)snprintf(file, 64, "i%u.vcf", i);
	it.href = href;
	it.file = file;
	it.etag = i % 2 ? etag1 : NULL;
	it.id.size = 100 + i;
	it.id.mtime_ns = -5 + (int64_t)i * 1000000001LL;
	it.id.inode = 4000000000ull + i;
	for (size_t k = 0; k < DAV_REC_SHA256_LEN; k++) {
		it.id.sha256[k] = (unsigned char)(k * 7 + i);
		it.sha_lf[k] = (unsigned char)(k * 3 + i);
	}
	it.has_lf = i % 3 != 0;
	return it;
}

static enum e2_status
put_item(const char *c, const struct dav_state_item *it, struct e2_err *err)
{
	return dav_state_item_put(st, guid, DAV_KIND_CARD, c, it->href,
				  it->etag, it->file, &it->id,
				  it->has_lf ? it->sha_lf : NULL, err);
}

static size_t
count_rows(const char *table)
{
	sqlite3_stmt *stmt = NULL;
	char sql[128];
	size_t n;

	(void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	ck_assert_int_eq(sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = (size_t)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

START_TEST(test_dav_state_coll_round_trip)
{
	struct e2_err err = {0};
	static char href[] = "/alice/cal/", dir[] = "cal", ctag[] = "\"c1\"",
		    tok1[] = "http://radicale.org/ns/sync/1",
		    tok2[] = "http://radicale.org/ns/sync/2", dn[] = "Calendar",
		    color[] = "#FF2968FF";
	struct dav_state_coll c = {.href = href,
				   .dir = dir,
				   .sync_token = tok1,
				   .ctag = ctag,
				   .displayname = dn,
				   .color = color};
	struct dav_state_coll *v = NULL;
	size_t n = 9;

	ck_assert_int_eq(dav_state_coll_put(st, guid, DAV_KIND_CAL, &c, &err),
			 E2_OK);
	ck_assert_int_eq(
		dav_state_colls_load(st, guid, DAV_KIND_CAL, &v, &n, &err),
		E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].href, c.href);
	ck_assert_str_eq(v[0].dir, c.dir);
	ck_assert_str_eq(v[0].sync_token, c.sync_token);
	ck_assert_str_eq(v[0].ctag, c.ctag);
	ck_assert_str_eq(v[0].displayname, c.displayname);
	ck_assert_str_eq(v[0].color, c.color);
	dav_state_colls_free(&v, n);
	ck_assert_ptr_null(v);
	/* an update replaces; NULL strings come back as "" */
	c.sync_token = tok2;
	c.ctag = NULL;
	ck_assert_int_eq(dav_state_coll_put(st, guid, DAV_KIND_CAL, &c, &err),
			 E2_OK);
	ck_assert_int_eq(
		dav_state_colls_load(st, guid, DAV_KIND_CAL, &v, &n, &err),
		E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].sync_token, "http://radicale.org/ns/sync/2");
	ck_assert_str_eq(v[0].ctag, "");
	dav_state_colls_free(&v, n);
	/* kinds are kept apart: the card collection of setup only */
	ck_assert_int_eq(
		dav_state_colls_load(st, guid, DAV_KIND_CARD, &v, &n, &err),
		E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].href, coll);
	dav_state_colls_free(&v, n);
}
END_TEST

START_TEST(test_dav_state_item_round_trip)
{
	struct e2_err err = {0};
	struct dav_state_item *v = NULL;
	char href[5][64], file[5][64];
	struct dav_state_item in[5];
	size_t n = 0;

	for (unsigned i = 0; i < 5; i++) {
		in[i] = item(4 - i, href[i], file[i]);
		ck_assert_int_eq(put_item(coll, &in[i], &err), E2_OK);
	}
	ck_assert_int_eq(dav_state_items_load(st, guid, DAV_KIND_CARD, coll, &v,
					      &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 5);
	for (unsigned i = 0; i < 5; i++) {
		const struct dav_state_item *w = &in[4 - i]; /* sorted */

		ck_assert_str_eq(v[i].href, w->href);
		ck_assert_str_eq(v[i].file, w->file);
		ck_assert_str_eq(v[i].etag, w->etag == NULL ? "" : w->etag);
		ck_assert(memcmp(&v[i].id, &w->id, sizeof(w->id)) == 0);
		ck_assert_int_eq(v[i].has_lf, w->has_lf);
		if (w->has_lf)
			ck_assert(memcmp(v[i].sha_lf, w->sha_lf,
					 sizeof(w->sha_lf)) == 0);
	}
	dav_state_items_free(&v, n);
	/* replace one, forget one, forget one that is not there */
	in[0].etag = etag9;
	ck_assert_int_eq(put_item(coll, &in[0], &err), E2_OK);
	ck_assert_int_eq(dav_state_item_forget(st, guid, DAV_KIND_CARD, coll,
					       in[1].href, &err),
			 E2_OK);
	ck_assert_int_eq(dav_state_item_forget(st, guid, DAV_KIND_CARD, coll,
					       "/nothing", &err),
			 E2_OK);
	ck_assert_int_eq(dav_state_items_load(st, guid, DAV_KIND_CARD, coll, &v,
					      &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(v[3].href, in[0].href);
	ck_assert_str_eq(v[3].etag, "\"e9\"");
	dav_state_items_free(&v, n);
}
END_TEST

START_TEST(test_dav_state_item_needs_collection)
{
	struct e2_err err = {0};
	char href[64], file[64];
	static char bad[] = "../x.vcf";
	struct dav_state_item it = item(1, href, file);

	ck_assert_int_eq(put_item("/alice/none/", &it, &err), E2_EINVAL);
	err.msg[0] = '\0';
	it.file = bad;
	ck_assert_int_eq(put_item(coll, &it, &err), E2_EINVAL);
	ck_assert_uint_eq(count_rows("dav_items"), 0);
}
END_TEST

START_TEST(test_dav_state_cascade)
{
	struct e2_err err = {0};
	char href[64], file[64];
	struct dav_state_item it = item(1, href, file);

	ck_assert_int_eq(put_item(coll, &it, &err), E2_OK);
	ck_assert_uint_eq(count_rows("dav_items"), 1);
	/* forgetting the collection takes its items */
	ck_assert_int_eq(
		dav_state_coll_forget(st, guid, DAV_KIND_CARD, coll, &err),
		E2_OK);
	ck_assert_uint_eq(count_rows("dav_collections"), 0);
	ck_assert_uint_eq(count_rows("dav_items"), 0);
	/* deleting the account takes both */
	{
		struct dav_state_coll c = {.href = coll};

		ck_assert_int_eq(
			dav_state_coll_put(st, guid, DAV_KIND_CARD, &c, &err),
			E2_OK);
	}
	ck_assert_int_eq(put_item(coll, &it, &err), E2_OK);
	ck_assert_int_eq(store_account_delete(st, guid, &err), E2_OK);
	ck_assert_uint_eq(count_rows("dav_collections"), 0);
	ck_assert_uint_eq(count_rows("dav_items"), 0);
}
END_TEST

/* The home set per login, and its kept listing (migration 12). */
START_TEST(test_dav_state_home_and_listing)
{
	struct e2_err err = {0};
	char h1[] = "/alice/contacts/", h2[] = "/alice/team/";
	char name[] = "Team", color[] = "#FF0000";
	struct dav_collection cs[2] = {
		{.href = h1,
		 .reports = DAV_REPORT_SYNC_COLLECTION,
		 .components = 0},
		{.href = h2, .displayname = name, .color = color, .reports = 6},
	};
	struct dav_discovery d = {.colls = cs, .n_colls = 2};
	struct dav_collection *v = NULL;
	char *ep = NULL, *home = NULL;
	bool basic = false;
	int64_t listed = -1;
	size_t n = 9;

	/* nothing kept: no home, no listing, time 0 */
	ck_assert_int_eq(dav_state_listing_get(st, guid, DAV_KIND_CARD, &listed,
					       &v, &n, &err),
			 E2_OK);
	ck_assert(listed == 0 && v == NULL && n == 0);
	ck_assert_int_eq(dav_state_home_put(st, guid, DAV_KIND_CARD, "alice",
					    "https://h/", "https://h/alice/",
					    true, &err),
			 E2_OK);
	/* another login finds its own home set */
	ck_assert_int_eq(dav_state_home_get(st, guid, DAV_KIND_CARD, "bob", &ep,
					    &home, &basic, &err),
			 E2_OK);
	ck_assert(ep == NULL && home == NULL);
	ck_assert_int_eq(dav_state_home_get(st, guid, DAV_KIND_CARD, "alice",
					    &ep, &home, &basic, &err),
			 E2_OK);
	ck_assert_str_eq(ep, "https://h/");
	ck_assert_str_eq(home, "https://h/alice/");
	ck_assert(basic);
	free(ep);
	free(home);
	/* a listing replaces the one before, stamped; stale sets 0 */
	ck_assert_int_eq(
		dav_state_listing_put(st, guid, DAV_KIND_CARD, &d, 1000, &err),
		E2_OK);
	d.n_colls = 1;
	d.colls = &cs[1];
	ck_assert_int_eq(
		dav_state_listing_put(st, guid, DAV_KIND_CARD, &d, 2000, &err),
		E2_OK);
	ck_assert_int_eq(dav_state_listing_get(st, guid, DAV_KIND_CARD, &listed,
					       &v, &n, &err),
			 E2_OK);
	ck_assert(listed == 2000);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].href, h2);
	ck_assert_str_eq(v[0].displayname, "Team");
	ck_assert_str_eq(v[0].color, "#FF0000");
	ck_assert_uint_eq(v[0].reports, 6);
	ck_assert_ptr_null(v[0].url);
	dav_state_listing_free(&v, n);
	ck_assert_ptr_null(v);
	/* the other kind has none */
	ck_assert_int_eq(dav_state_listing_get(st, guid, DAV_KIND_CAL, &listed,
					       &v, &n, &err),
			 E2_OK);
	ck_assert(listed == 0 && n == 0);
	ck_assert_int_eq(dav_state_listing_stale(st, guid, DAV_KIND_CARD, &err),
			 E2_OK);
	ck_assert_int_eq(dav_state_listing_get(st, guid, DAV_KIND_CARD, &listed,
					       &v, &n, &err),
			 E2_OK);
	ck_assert(listed == 0 && n == 1);
	dav_state_listing_free(&v, n);
	/* a damaged row is refused, not guessed */
	ck_assert_int_eq(sqlite3_exec(store_db(st),
				      "UPDATE dav_listing SET reports = -1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(dav_state_listing_get(st, guid, DAV_KIND_CARD, &listed,
					       &v, &n, &err),
			 E2_ESTORE);
	ck_assert(v == NULL && n == 0);
	/* deleting the account takes home and listing */
	ck_assert_int_eq(store_account_delete(st, guid, &err), E2_OK);
	ck_assert_uint_eq(count_rows("dav_homes"), 0);
	ck_assert_uint_eq(count_rows("dav_listing"), 0);
}
END_TEST

/* Damaged rows, written behind the module's back: refused, named. */
static const struct {
	const char *set;
	const char *want;
} damaged[] = {
	{"sha256 = x'0102'", "bad sha256"},
	{"sha256 = 'text'", "bad sha256"},
	{"sha256_lf = x'01'", "bad sha256_lf"},
	{"size = -1", "bad size"},
	{"size = 'big'", "bad size"},
	{"inode = -3", "bad inode"},
	{"mtime_ns = 'now'", "bad mtime_ns"},
	{"file = '../../etc/passwd'", "bad file"},
	{"file = ''", "bad file"},
	{"href = ''", "bad href"},
};

START_TEST(test_dav_state_damaged_row_refused)
{
	struct e2_err err = {0};
	struct dav_state_item *v = NULL;
	char href[64], file[64];
	struct dav_state_item it = item(2, href, file);
	char sql[256];
	size_t n = 0;

	ck_assert_int_eq(put_item(coll, &it, &err), E2_OK);
	(void)snprintf(sql, sizeof(sql), "UPDATE dav_items SET %s",
		       damaged[_i].set);
	ck_assert_int_eq(sqlite3_exec(store_db(st), sql, NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(dav_state_items_load(st, guid, DAV_KIND_CARD, coll, &v,
					      &n, &err),
			 E2_ESTORE);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err.msg, damaged[_i].want) != NULL &&
			      strstr(err.msg, "/alice/contacts/") != NULL,
		      "%s", err.msg);
}
END_TEST

static Suite *
dav_state_suite(void)
{
	Suite *s = suite_create("dav_state");
	TCase *tc = tcase_create("rows");

	tcase_add_checked_fixture(tc, setup_db, teardown_db);
	tcase_add_test(tc, test_dav_state_coll_round_trip);
	tcase_add_test(tc, test_dav_state_item_round_trip);
	tcase_add_test(tc, test_dav_state_item_needs_collection);
	tcase_add_test(tc, test_dav_state_cascade);
	tcase_add_test(tc, test_dav_state_home_and_listing);
	tcase_add_loop_test(tc, test_dav_state_damaged_row_refused, 0,
			    (int)(sizeof(damaged) / sizeof(damaged[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dav_state_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
