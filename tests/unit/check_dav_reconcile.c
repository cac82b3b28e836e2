/* SPDX-License-Identifier: MIT */
/* check_dav_reconcile.c -- the rules of dav_reconcile.h as a table */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "email2.h"
#include "engine/dav_reconcile.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * One item per row. A body is a letter: its SHA-256 is 32 bytes of that
 * letter (0: not known). The row's file has inode 1 and body rbody; the
 * local file now has inode linode and body lbody. want_expect is the
 * inode the action's expect must name (0: not checked).
 */
struct drow {
	const char *name;
	bool row;
	const char *retag;
	char rbody;
	enum dav_rec_server_view sv;
	const char *setag;
	char sbody;
	enum dav_rec_local_view lv;
	char lbody;
	uint64_t linode;
	enum dav_rec_kind want;
	unsigned rule;
	uint64_t want_expect;
};

#define NOROW false, NULL, 0
#define ROW(e, b) true, e, b
#define GONE_L DAV_LOCAL_GONE, 0, 0
#define SAME_L(b) DAV_LOCAL_SAME, b, 1
#define CHG_L(b) DAV_LOCAL_CHANGED, b, 2
#define NEW_L(b) DAV_LOCAL_NEW, b, 3

/* clang-format off */
static const struct drow drows[] = {
	{"D1 no row, server new, no file: download", NOROW,
	 DAV_SERVER_NEW, "\"e1\"", 0, GONE_L, DAV_REC_DOWNLOAD, 1, 0},
	{"D1 no row, server new, body known: download", NOROW,
	 DAV_SERVER_NEW, "\"e1\"", 'a', GONE_L, DAV_REC_DOWNLOAD, 1, 0},
	{"D2 no row, server gone, new file: upload create", NOROW,
	 DAV_SERVER_GONE, NULL, 0, NEW_L('a'), DAV_REC_UPLOAD_CREATE, 2, 0},
	{"D2 no row, server unknown, new file: upload create", NOROW,
	 DAV_SERVER_UNKNOWN, NULL, 0, NEW_L('a'), DAV_REC_UPLOAD_CREATE, 2,
	 0},
	{"D3 both new, same body: record", NOROW,
	 DAV_SERVER_NEW, "\"e1\"", 'a', NEW_L('a'), DAV_REC_RECORD, 3, 0},
	{"D4 both new, bodies differ: conflict", NOROW,
	 DAV_SERVER_NEW, "\"e1\"", 'b', NEW_L('a'), DAV_REC_CONFLICT, 4, 0},
	{"D4 both new, server body not known: conflict", NOROW,
	 DAV_SERVER_NEW, "\"e1\"", 0, NEW_L('a'), DAV_REC_CONFLICT, 4, 0},
	{"D5 no row, nothing anywhere", NOROW,
	 DAV_SERVER_GONE, NULL, 0, GONE_L, DAV_REC_NOTHING, 5, 0},
	{"D5 no row, server unknown, no file", NOROW,
	 DAV_SERVER_UNKNOWN, NULL, 0, GONE_L, DAV_REC_NOTHING, 5, 0},
	{"D6 row, server same, file same: nothing", ROW("\"e1\"", 'a'),
	 DAV_SERVER_SAME, "\"e1\"", 0, SAME_L('a'), DAV_REC_NOTHING, 6, 0},
	{"D6 row, server unknown, file same: nothing", ROW("\"e1\"", 'a'),
	 DAV_SERVER_UNKNOWN, NULL, 0, SAME_L('a'), DAV_REC_NOTHING, 6, 0},
	{"D7 row, file touched, same body: record", ROW("\"e1\"", 'a'),
	 DAV_SERVER_SAME, "\"e1\"", 0, CHG_L('a'), DAV_REC_RECORD, 7, 0},
	{"D7 row, server unknown, file rewritten same: record",
	 ROW("\"e1\"", 'a'), DAV_SERVER_UNKNOWN, NULL, 0, CHG_L('a'),
	 DAV_REC_RECORD, 7, 0},
	{"D8 row, server same, file changed: upload update", ROW("\"e1\"", 'a'),
	 DAV_SERVER_SAME, "\"e1\"", 0, CHG_L('b'), DAV_REC_UPLOAD_UPDATE, 8,
	 0},
	{"D8 row, server unknown, file changed: upload update",
	 ROW("\"e1\"", 'a'), DAV_SERVER_UNKNOWN, NULL, 0, CHG_L('b'),
	 DAV_REC_UPLOAD_UPDATE, 8, 0},
	{"D9 row, server same, file gone: delete remote", ROW("\"e1\"", 'a'),
	 DAV_SERVER_SAME, "\"e1\"", 0, GONE_L, DAV_REC_DELETE_REMOTE, 9, 0},
	{"D9 row, server unknown, file gone: delete remote",
	 ROW("\"e1\"", 'a'), DAV_SERVER_UNKNOWN, NULL, 0, GONE_L,
	 DAV_REC_DELETE_REMOTE, 9, 0},
	{"D10 row, server changed, file same: download replace",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 0, SAME_L('a'),
	 DAV_REC_DOWNLOAD, 10, 1},
	{"D10 row, server changed, file touched: replace the touched file",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 0, CHG_L('a'),
	 DAV_REC_DOWNLOAD, 10, 2},
	{"D11 row, server changed, file gone: download again",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 0, GONE_L,
	 DAV_REC_DOWNLOAD, 11, 0},
	{"D12 row, both changed to the same body: record", ROW("\"e1\"", 'a'),
	 DAV_SERVER_CHANGED, "\"e2\"", 'b', CHG_L('b'), DAV_REC_RECORD, 12, 0},
	{"D13 row, both changed: conflict", ROW("\"e1\"", 'a'),
	 DAV_SERVER_CHANGED, "\"e2\"", 'c', CHG_L('b'), DAV_REC_CONFLICT, 13,
	 2},
	{"D13 row, both changed, server body not known: conflict",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 0, CHG_L('b'),
	 DAV_REC_CONFLICT, 13, 2},
	{"D14 row, server gone, file same: delete local", ROW("\"e1\"", 'a'),
	 DAV_SERVER_GONE, NULL, 0, SAME_L('a'), DAV_REC_DELETE_LOCAL, 14, 1},
	{"D14 row, server gone, file touched: delete that file",
	 ROW("\"e1\"", 'a'), DAV_SERVER_GONE, NULL, 0, CHG_L('a'),
	 DAV_REC_DELETE_LOCAL, 14, 2},
	{"D15 row, server gone, file changed: upload create",
	 ROW("\"e1\"", 'a'), DAV_SERVER_GONE, NULL, 0, CHG_L('b'),
	 DAV_REC_UPLOAD_CREATE, 15, 0},
	{"D16 row, gone on both sides: forget", ROW("\"e1\"", 'a'),
	 DAV_SERVER_GONE, NULL, 0, GONE_L, DAV_REC_FORGET, 16, 0},
	{"D17 row, server new, file same: as changed", ROW("\"e1\"", 'a'),
	 DAV_SERVER_NEW, "\"e2\"", 0, SAME_L('a'), DAV_REC_DOWNLOAD, 10, 1},
	{"D17 row, server same, file new: as changed", ROW("\"e1\"", 'a'),
	 DAV_SERVER_SAME, "\"e1\"", 0, NEW_L('b'), DAV_REC_UPLOAD_UPDATE, 8,
	 0},
	{"D17 row, server new, file new, differ: conflict", ROW("\"e1\"", 'a'),
	 DAV_SERVER_NEW, "\"e2\"", 'c', NEW_L('b'), DAV_REC_CONFLICT, 13, 3},
	{"D18 row without etag, file changed: refetch", ROW(NULL, 'a'),
	 DAV_SERVER_UNKNOWN, NULL, 0, CHG_L('b'), DAV_REC_REFETCH, 18, 0},
	{"D18 row with empty etag, file gone: refetch", ROW("", 'a'),
	 DAV_SERVER_SAME, NULL, 0, GONE_L, DAV_REC_REFETCH, 18, 0},
	{"D18 row with a weak etag, file changed: refetch", ROW("W/\"e1\"", 'a'),
	 DAV_SERVER_SAME, "W/\"e1\"", 0, CHG_L('b'), DAV_REC_REFETCH, 18, 0},
	{"D18 row without etag, file same: nothing", ROW(NULL, 'a'),
	 DAV_SERVER_UNKNOWN, NULL, 0, SAME_L('a'), DAV_REC_NOTHING, 6, 0},
	{"D23 row, new etag over the same body, file same: record",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 'a', SAME_L('a'),
	 DAV_REC_RECORD, 23, 0},
	{"D23 row, new etag over the same body, file changed: update",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 'a', CHG_L('b'),
	 DAV_REC_UPLOAD_UPDATE, 23, 0},
	{"D23 row, new etag over the same body, file gone: delete",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "\"e2\"", 'a', GONE_L,
	 DAV_REC_DELETE_REMOTE, 23, 0},
	{"D23 row, new weak etag over the same body, file changed: refetch",
	 ROW("\"e1\"", 'a'), DAV_SERVER_CHANGED, "W/\"e2\"", 'a', CHG_L('b'),
	 DAV_REC_REFETCH, 18, 0},
};
/* clang-format on */

static void
body(unsigned char *sha, char letter)
{
	memset(sha, letter, DAV_REC_SHA256_LEN);
}

static void
build(const struct drow *t, struct dav_rec_item *it)
{
	memset(it, 0, sizeof(*it));
	it->row.present = t->row;
	if (t->row) {
		it->row.href = "/c/x.vcf";
		it->row.etag = t->retag;
		it->row.file = "x.vcf";
		it->row.id.size = 10;
		it->row.id.mtime_ns = 100;
		it->row.id.inode = 1;
		body(it->row.id.sha256, t->rbody);
	}
	it->server.view = t->sv;
	it->server.etag = t->setag;
	it->server.body_known = t->sbody != 0;
	if (t->sbody != 0)
		body(it->server.sha256, t->sbody);
	it->local.view = t->lv;
	if (t->lv == DAV_LOCAL_SAME) {
		it->local.id = it->row.id;
	} else if (t->lv != DAV_LOCAL_GONE) {
		it->local.id.size = 11;
		it->local.id.mtime_ns = 200;
		it->local.id.inode = t->linode;
		body(it->local.id.sha256, t->lbody);
	}
}

START_TEST(test_dav_rec_rules_table)
{
	const struct drow *t = &drows[_i];
	struct dav_rec_item it;
	struct dav_rec_action a;

	build(t, &it);
	a = dav_rec_item_decide(&it);
	ck_assert_msg(a.kind == t->want && a.rule == t->rule,
		      "%s: got kind %d rule D%u, want kind %d rule D%u",
		      t->name, (int)a.kind, a.rule, (int)t->want, t->rule);
	if (a.kind == DAV_REC_UPLOAD_UPDATE || a.kind == DAV_REC_DELETE_REMOTE)
		ck_assert_msg(a.if_match != NULL &&
				      strcmp(a.if_match,
					     t->rule == 23 ? t->setag
							   : t->retag) == 0,
			      "%s: if_match", t->name);
	else
		ck_assert_msg(a.if_match == NULL, "%s: if_match set", t->name);
	ck_assert_msg(a.replace == (t->rule == 10 || t->rule == 13),
		      "%s: replace %d", t->name, (int)a.replace);
	if (t->want_expect != 0)
		ck_assert_msg(a.expect.inode == t->want_expect,
			      "%s: expect inode %llu want %llu", t->name,
			      (unsigned long long)a.expect.inode,
			      (unsigned long long)t->want_expect);
}
END_TEST

/* No combination with an UNKNOWN server view deletes or downloads. */
START_TEST(test_dav_rec_unknown_never_deletes_locally)
{
	static const enum dav_rec_local_view lvs[] = {
		DAV_LOCAL_GONE, DAV_LOCAL_SAME, DAV_LOCAL_CHANGED,
		DAV_LOCAL_NEW};

	for (int row = 0; row < 2; row++)
		for (size_t l = 0; l < E2_ARRAY_LEN(lvs); l++)
			for (char b = 'a'; b <= 'b'; b++) {
				struct drow t = {"unknown",
						 row != 0,
						 "\"e1\"",
						 'a',
						 DAV_SERVER_UNKNOWN,
						 NULL,
						 0,
						 lvs[l],
						 b,
						 2,
						 DAV_REC_NOTHING,
						 0,
						 0};
				struct dav_rec_item it;
				struct dav_rec_action a;

				build(&t, &it);
				a = dav_rec_item_decide(&it);
				ck_assert_int_ne(a.kind, DAV_REC_DELETE_LOCAL);
				ck_assert_int_ne(a.kind, DAV_REC_DOWNLOAD);
				ck_assert_int_ne(a.kind, DAV_REC_CONFLICT);
				ck_assert_int_ne(a.kind, DAV_REC_FORGET);
			}
}
END_TEST

struct srow {
	const char *name;
	size_t rows, local, server;
	bool force;
	enum dav_rec_safety want;
};

/* clang-format off */
static const struct srow srows[] = {
	{"S1 local emptied, server populated: refuse", 5, 0, 5, false,
	 DAV_SAFE_REFUSE_LOCAL_EMPTY},
	{"S2 server emptied, local populated: refuse", 5, 5, 0, false,
	 DAV_SAFE_REFUSE_SERVER_EMPTY},
	{"S3 both empty: ok", 5, 0, 0, false, DAV_SAFE_OK},
	{"S3 first sync, local empty: ok", 0, 0, 7, false, DAV_SAFE_OK},
	{"S3 first sync, server empty: ok", 0, 7, 0, false, DAV_SAFE_OK},
	{"S3 forced: ok", 5, 0, 5, true, DAV_SAFE_OK},
	{"S3 some deleted on one side: ok", 5, 1, 5, false, DAV_SAFE_OK},
};
/* clang-format on */

START_TEST(test_dav_rec_safety_table)
{
	const struct srow *t = &srows[_i];
	struct dav_rec_counts c = {t->rows, t->local, t->server};

	ck_assert_msg(dav_rec_safety_check(&c, t->force) == t->want,
		      "%s: got %d", t->name,
		      (int)dav_rec_safety_check(&c, t->force));
}
END_TEST

/* S1 and S4 through the collection: every file gone, nothing planned. */
START_TEST(test_dav_rec_collection_refuses_local_empty)
{
	struct dav_rec_item items[3];
	struct dav_rec_plan plan;
	struct e2_err err = {0};
	struct drow t = {"x",
			 ROW("\"e1\"", 'a'),
			 DAV_SERVER_SAME,
			 "\"e1\"",
			 0,
			 GONE_L,
			 DAV_REC_NOTHING,
			 0,
			 0};

	for (size_t i = 0; i < 3; i++)
		build(&t, &items[i]);
	ck_assert_int_eq(dav_rec_collection(items, 3, false, &plan, &err),
			 E2_OK);
	ck_assert_int_eq(plan.safety, DAV_SAFE_REFUSE_LOCAL_EMPTY);
	ck_assert_uint_eq(plan.n, 0);
	dav_rec_plan_free(&plan);
	ck_assert_int_eq(dav_rec_collection(items, 3, true, &plan, &err),
			 E2_OK);
	ck_assert_int_eq(plan.safety, DAV_SAFE_OK);
	ck_assert_uint_eq(plan.n, 3);
	ck_assert_int_eq(plan.v[0].kind, DAV_REC_DELETE_REMOTE);
	dav_rec_plan_free(&plan);
}
END_TEST

/* S2 through the collection: a full listing with no item, a delta with
 * everything 404; a delta that lists nothing is not an empty server. */
START_TEST(test_dav_rec_collection_refuses_server_empty)
{
	struct dav_rec_item items[2];
	struct dav_rec_plan plan;
	struct e2_err err = {0};
	struct drow gone = {"x", ROW("\"e1\"", 'a'), DAV_SERVER_GONE, NULL,
			    0,   SAME_L('a'),        DAV_REC_NOTHING, 0,
			    0};
	struct drow unk = {"x", ROW("\"e1\"", 'a'), DAV_SERVER_UNKNOWN, NULL,
			   0,   SAME_L('a'),        DAV_REC_NOTHING,    0,
			   0};

	build(&gone, &items[0]);
	build(&gone, &items[1]);
	ck_assert_int_eq(dav_rec_collection(items, 2, false, &plan, &err),
			 E2_OK);
	ck_assert_int_eq(plan.safety, DAV_SAFE_REFUSE_SERVER_EMPTY);
	ck_assert_uint_eq(plan.n, 0);
	dav_rec_plan_free(&plan);
	build(&unk, &items[1]);
	ck_assert_int_eq(dav_rec_collection(items, 2, false, &plan, &err),
			 E2_OK);
	ck_assert_int_eq(plan.safety, DAV_SAFE_OK);
	ck_assert_uint_eq(plan.n, 1);
	ck_assert_int_eq(plan.v[0].kind, DAV_REC_DELETE_LOCAL);
	ck_assert_uint_eq(plan.v[0].item, 0);
	dav_rec_plan_free(&plan);
}
END_TEST

/* S3: first sync with both sides populated, and an empty collection. */
START_TEST(test_dav_rec_collection_first_sync)
{
	struct dav_rec_item items[2];
	struct dav_rec_plan plan;
	struct e2_err err = {0};
	struct drow srv = {"x", NOROW,  DAV_SERVER_NEW,  "\"e1\"",
			   0,   GONE_L, DAV_REC_NOTHING, 0,
			   0};
	struct drow loc = {"x", NOROW,      DAV_SERVER_GONE, NULL,
			   0,   NEW_L('a'), DAV_REC_NOTHING, 0,
			   0};

	ck_assert_int_eq(dav_rec_collection(NULL, 0, false, &plan, &err),
			 E2_OK);
	ck_assert_int_eq(plan.safety, DAV_SAFE_OK);
	ck_assert_uint_eq(plan.n, 0);
	dav_rec_plan_free(&plan);
	build(&loc, &items[0]);
	build(&srv, &items[1]);
	ck_assert_int_eq(dav_rec_collection(items, 2, false, &plan, &err),
			 E2_OK);
	ck_assert_uint_eq(plan.n, 2);
	ck_assert_int_eq(plan.v[0].kind, DAV_REC_DOWNLOAD);
	ck_assert_uint_eq(plan.v[0].item, 1);
	ck_assert_int_eq(plan.v[1].kind, DAV_REC_UPLOAD_CREATE);
	ck_assert_uint_eq(plan.v[1].item, 0);
	dav_rec_plan_free(&plan);
}
END_TEST

/* O1: one of each kind, shuffled, comes out in the documented order;
 * equal kinds keep their order. */
START_TEST(test_dav_rec_order)
{
	static const enum dav_rec_kind in[] = {
		DAV_REC_DELETE_REMOTE, DAV_REC_FORGET,   DAV_REC_DELETE_LOCAL,
		DAV_REC_RECORD,        DAV_REC_DOWNLOAD, DAV_REC_UPLOAD_UPDATE,
		DAV_REC_REFETCH,       DAV_REC_CONFLICT, DAV_REC_UPLOAD_CREATE,
		DAV_REC_DOWNLOAD};
	static const enum dav_rec_kind want[] = {
		DAV_REC_CONFLICT,      DAV_REC_DOWNLOAD,
		DAV_REC_DOWNLOAD,      DAV_REC_UPLOAD_CREATE,
		DAV_REC_UPLOAD_UPDATE, DAV_REC_REFETCH,
		DAV_REC_RECORD,        DAV_REC_FORGET,
		DAV_REC_DELETE_LOCAL,  DAV_REC_DELETE_REMOTE};
	struct dav_rec_action v[E2_ARRAY_LEN(in)];

	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < E2_ARRAY_LEN(in); i++) {
		v[i].kind = in[i];
		v[i].item = i;
	}
	dav_rec_order(v, E2_ARRAY_LEN(v));
	for (size_t i = 0; i < E2_ARRAY_LEN(v); i++)
		ck_assert_msg(v[i].kind == want[i], "position %zu: kind %d", i,
			      (int)v[i].kind);
	/* the two downloads: item 4 before item 9 (stable) */
	ck_assert_uint_eq(v[1].item, 4);
	ck_assert_uint_eq(v[2].item, 9);
}
END_TEST

struct frow {
	const char *name;
	enum dav_rec_kind done;
	int status;
	enum dav_rec_kind want;
};

/* clang-format off */
static const struct frow frows[] = {
	{"D19 update answered 412: refetch", DAV_REC_UPLOAD_UPDATE, 412,
	 DAV_REC_REFETCH},
	{"D19 update answered 409: refetch", DAV_REC_UPLOAD_UPDATE, 409,
	 DAV_REC_REFETCH},
	{"D19 create answered 412 (exists): refetch", DAV_REC_UPLOAD_CREATE,
	 412, DAV_REC_REFETCH},
	{"D19 delete answered 412: refetch", DAV_REC_DELETE_REMOTE, 412,
	 DAV_REC_REFETCH},
	{"D20 put 201 without strong etag: record, no etag",
	 DAV_REC_UPLOAD_CREATE, 201, DAV_REC_RECORD},
	{"D20 put 204 without strong etag: record, no etag",
	 DAV_REC_UPLOAD_UPDATE, 204, DAV_REC_RECORD},
	{"D21 delete 204: forget", DAV_REC_DELETE_REMOTE, 204,
	 DAV_REC_FORGET},
	{"D21 delete 404: forget", DAV_REC_DELETE_REMOTE, 404,
	 DAV_REC_FORGET},
	{"D21 delete 410: forget", DAV_REC_DELETE_REMOTE, 410,
	 DAV_REC_FORGET},
	{"D22 put 201 with etag: record", DAV_REC_UPLOAD_CREATE, 201,
	 DAV_REC_RECORD},
	{"D22 download 200: record", DAV_REC_DOWNLOAD, 200,
	 DAV_REC_RECORD},
	{"D22 download 404 (gone meanwhile): refetch", DAV_REC_DOWNLOAD, 404, DAV_REC_REFETCH},
	{"put 500: nothing, row kept", DAV_REC_UPLOAD_UPDATE, 500,
	 DAV_REC_NOTHING},
	{"delete 403: nothing, row kept", DAV_REC_DELETE_REMOTE, 403,
	 DAV_REC_NOTHING},
};
/* clang-format on */

START_TEST(test_dav_rec_followup_table)
{
	const struct frow *t = &frows[_i];
	enum dav_rec_kind got = dav_rec_followup(t->done, t->status);

	ck_assert_msg(got == t->want, "%s: got %d", t->name, (int)got);
}
END_TEST

/*
 * D19 end to end: an update answered 412, the refetch finds another body
 * (server CHANGED): a conflict; a delete answered 412, the refetch finds
 * a change: the download (keep beats delete); the refetch finds it gone:
 * the row goes.
 */
START_TEST(test_dav_rec_412_then_decide_again)
{
	struct drow upd = {"x", ROW("\"e1\"", 'a'), DAV_SERVER_SAME, "\"e1\"",
			   0,   CHG_L('b'),         DAV_REC_NOTHING, 0,
			   0};
	struct drow del = {"x",
			   ROW("\"e1\"", 'a'),
			   DAV_SERVER_SAME,
			   "\"e1\"",
			   0,
			   GONE_L,
			   DAV_REC_NOTHING,
			   0,
			   0};
	struct dav_rec_item it;
	struct dav_rec_action a;

	build(&upd, &it);
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_UPLOAD_UPDATE);
	ck_assert_int_eq(dav_rec_followup(a.kind, 412), DAV_REC_REFETCH);
	it.server.view = DAV_SERVER_CHANGED;
	it.server.etag = "\"e2\"";
	it.server.body_known = true;
	body(it.server.sha256, 'c');
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_CONFLICT);
	/* the refetched body is what the user wrote: no conflict */
	body(it.server.sha256, 'b');
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_RECORD);

	build(&del, &it);
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_DELETE_REMOTE);
	ck_assert_int_eq(dav_rec_followup(a.kind, 412), DAV_REC_REFETCH);
	it.server.view = DAV_SERVER_CHANGED;
	it.server.etag = "\"e2\"";
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_DOWNLOAD);
	ck_assert_uint_eq(a.rule, 11);
	it.server.view = DAV_SERVER_GONE;
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_FORGET);
}
END_TEST

/* D20 then D18: a PUT without a strong ETag leaves the row without one;
 * the next local change refetches before it writes. */
START_TEST(test_dav_rec_weak_etag_then_refetch)
{
	struct drow t = {"x", ROW("\"e1\"", 'a'), DAV_SERVER_SAME, "\"e1\"",
			 0,   CHG_L('b'),         DAV_REC_NOTHING, 0,
			 0};
	struct dav_rec_item it;
	struct dav_rec_action a;

	build(&t, &it);
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_UPLOAD_UPDATE);
	ck_assert_int_eq(dav_rec_followup(a.kind, 204), DAV_REC_RECORD);
	/* the driver records: no etag, the local identity as uploaded */
	it.row.etag = NULL;
	it.row.id = it.local.id;
	it.server.view = DAV_SERVER_UNKNOWN;
	it.local.view = DAV_LOCAL_SAME;
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_NOTHING);
	/* the next edit */
	it.local.view = DAV_LOCAL_CHANGED;
	it.local.id.inode = 9;
	body(it.local.id.sha256, 'c');
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_REFETCH);
	ck_assert_uint_eq(a.rule, 18);
	/* the GET brought a strong etag and the body uploaded before */
	it.row.etag = "\"e3\"";
	a = dav_rec_item_decide(&it);
	ck_assert_int_eq(a.kind, DAV_REC_UPLOAD_UPDATE);
	ck_assert_str_eq(a.if_match, "\"e3\"");
}
END_TEST

START_TEST(test_dav_rec_etag_strong)
{
	ck_assert(dav_rec_etag_strong("\"abc\""));
	ck_assert(dav_rec_etag_strong("abc"));
	ck_assert(!dav_rec_etag_strong(NULL));
	ck_assert(!dav_rec_etag_strong(""));
	ck_assert(!dav_rec_etag_strong("W/\"abc\""));
}
END_TEST

static Suite *
dav_reconcile_suite(void)
{
	Suite *s = suite_create("dav_reconcile");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_dav_rec_rules_table, 0,
			    (int)E2_ARRAY_LEN(drows));
	tcase_add_test(tc, test_dav_rec_unknown_never_deletes_locally);
	tcase_add_loop_test(tc, test_dav_rec_safety_table, 0,
			    (int)E2_ARRAY_LEN(srows));
	tcase_add_test(tc, test_dav_rec_collection_refuses_local_empty);
	tcase_add_test(tc, test_dav_rec_collection_refuses_server_empty);
	tcase_add_test(tc, test_dav_rec_collection_first_sync);
	tcase_add_test(tc, test_dav_rec_order);
	tcase_add_loop_test(tc, test_dav_rec_followup_table, 0,
			    (int)E2_ARRAY_LEN(frows));
	tcase_add_test(tc, test_dav_rec_412_then_decide_again);
	tcase_add_test(tc, test_dav_rec_weak_etag_then_refetch);
	tcase_add_test(tc, test_dav_rec_etag_strong);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dav_reconcile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
