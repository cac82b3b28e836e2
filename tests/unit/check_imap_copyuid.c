/* SPDX-License-Identifier: MIT */
/* check_imap_copyuid.c -- COPYUID sets mapped to the UIDs asked, as a table */
#include "config.h"

#include <stdlib.h>

#include <check.h>

#include "engine/imap_copyuid.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAXV 8

struct copyuid_row {
	const char *what;
	uint32_t asked[MAXV];
	size_t n;
	struct imap_uid_range src[MAXV];
	size_t nsrc;
	struct imap_uid_range dst[MAXV];
	size_t ndst;
	bool ok;
	uint32_t want[MAXV]; /* per asked UID, 0: not copied */
};

static const struct copyuid_row copyuid_rows[] = {
	{"one", {7}, 1, {{7, 7}}, 1, {{30, 30}}, 1, true, {30}},
	{"ranges on both sides",
	 {3, 4, 5, 9},
	 4,
	 {{3, 5}, {9, 9}},
	 2,
	 {{100, 103}},
	 1,
	 true,
	 {100, 101, 102, 103}},
	{"ranges split differently",
	 {1, 2, 3, 4},
	 4,
	 {{1, 4}},
	 1,
	 {{10, 10}, {12, 14}},
	 2,
	 true,
	 {10, 12, 13, 14}},
	{"a range written high:low",
	 {2, 3, 4},
	 3,
	 {{4, 2}},
	 1,
	 {{22, 20}},
	 1,
	 true,
	 {20, 21, 22}},
	{"the server lacked some: the rest only",
	 {2, 5, 8, 9},
	 4,
	 {{5, 5}, {9, 9}},
	 2,
	 {{40, 41}},
	 1,
	 true,
	 {0, 40, 0, 41}},
	{"counts differ", {1, 2}, 2, {{1, 2}}, 1, {{10, 12}}, 1, false, {0}},
	{"fewer destinations",
	 {1, 2},
	 2,
	 {{1, 2}},
	 1,
	 {{10, 10}},
	 1,
	 false,
	 {0}},
	{"a UID not asked for",
	 {1, 2},
	 2,
	 {{1, 1}, {3, 3}},
	 2,
	 {{10, 11}},
	 1,
	 false,
	 {0}},
	{"a source UID twice",
	 {1, 2},
	 2,
	 {{1, 1}, {1, 1}},
	 2,
	 {{10, 11}},
	 1,
	 false,
	 {0}},
	{"more than asked", {1}, 1, {{1, 2}}, 1, {{10, 11}}, 1, false, {0}},
	{"a star", {1, 2}, 2, {{1, 0}}, 1, {{10, 11}}, 1, false, {0}},
	{"a destination 0", {1}, 1, {{1, 1}}, 1, {{0, 0}}, 1, false, {0}},
	{"destinations repeated",
	 {1, 2},
	 2,
	 {{1, 2}},
	 1,
	 {{10, 10}, {10, 10}},
	 2,
	 false,
	 {0}},
	{"destinations descending",
	 {1, 2},
	 2,
	 {{1, 2}},
	 1,
	 {{11, 11}, {10, 10}},
	 2,
	 false,
	 {0}},
	{"a huge range",
	 {1, 2},
	 2,
	 {{1, 4294967295u}},
	 1,
	 {{1, 4294967295u}},
	 1,
	 false,
	 {0}},
	{"empty sets: nothing copied",
	 {4, 5},
	 2,
	 {{0, 0}},
	 0,
	 {{0, 0}},
	 0,
	 true,
	 {0, 0}},
};

START_TEST(test_imap_copyuid_map)
{
	const struct copyuid_row *r = &copyuid_rows[_i];
	uint32_t out[MAXV];

	for (size_t i = 0; i < MAXV; i++)
		out[i] = 0xdead;
	ck_assert_msg(imap_copyuid_map(r->asked, r->n, r->src, r->nsrc, r->dst,
				       r->ndst, out) == r->ok,
		      "%s", r->what);
	for (size_t i = 0; i < r->n; i++)
		ck_assert_msg(out[i] == (r->ok ? r->want[i] : 0),
			      "%s: asked[%zu] %u", r->what, i, out[i]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("imap_copyuid");
	TCase *tc = tcase_create("map");
	SRunner *sr;
	int nf;

	tcase_add_loop_test(tc, test_imap_copyuid_map, 0,
			    (int)E2_ARRAY_LEN(copyuid_rows));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
