/* SPDX-License-Identifier: MIT */
/* check_pop3_list.c -- the POP3 LIST and UIDL answers: accepted and refused */
#include "config.h"

#include "transports/pop3_list.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one answer ---------------------------------------------------------- */

struct answer_row {
	enum pop3_list_kind kind;
	const char *bytes;
	size_t n;           /* messages when accepted */
	const char *expect; /* LIST: "size,size"; UIDL: "uidl,uidl"; NULL:
			       refused */
	const char *msg;    /* a piece of the error message when refused */
};

static const struct answer_row answer_rows[] = {
	/* accepted */
	{POP3_LIST_LIST, ".\r\n", 0, "", NULL},
	{POP3_LIST_LIST, "1 120\r\n2 4000\r\n.\r\n", 2, "120,4000", NULL},
	{POP3_LIST_LIST, "2 4000\r\n1 120\r\n.\r\n", 2, "120,4000", NULL},
	{POP3_LIST_LIST, "1 120\n.\n", 1, "120", NULL},
	{POP3_LIST_LIST, "1  0 extra words\r\n.\r\n", 1, "0", NULL},
	{POP3_LIST_LIST, "1 4294967295\r\n.\r\n", 1, "4294967295", NULL},
	{POP3_LIST_LIST, ".1 7\r\n.\r\n", 1, "7", NULL}, /* stuffed */
	{POP3_LIST_UIDL, "1 abc\r\n2 XYZ-!~\r\n.\r\n", 2, "abc,XYZ-!~", NULL},
	{POP3_LIST_UIDL, "1 abc  \r\n.\r\n", 1, "abc", NULL},
	{POP3_LIST_UIDL,
	 "1 0123456789012345678901234567890123456789012345678901234567890123456"
	 "789\r\n.\r\n",
	 1,
	 "0123456789012345678901234567890123456789012345678901234567890123456"
	 "789",
	 NULL},
	/* refused: numbers */
	{POP3_LIST_LIST, "0 12\r\n.\r\n", 0, NULL, "message number 0"},
	{POP3_LIST_LIST, "1 12\r\n3 40\r\n.\r\n", 0, NULL, "(a gap)"},
	{POP3_LIST_LIST, "1 12\r\n1 40\r\n.\r\n", 0, NULL, "repeated"},
	{POP3_LIST_UIDL, "1 a\r\n2 b\r\n2 c\r\n.\r\n", 0, NULL, "line 3"},
	{POP3_LIST_UIDL, "2 a\r\n.\r\n", 0, NULL, "(a gap)"},
	{POP3_LIST_LIST, "x 12\r\n.\r\n", 0, NULL, "bad message number"},
	{POP3_LIST_LIST, "-1 12\r\n.\r\n", 0, NULL, "bad message number"},
	{POP3_LIST_LIST, "99999999999 1\r\n.\r\n", 0, NULL, "bad message"},
	{POP3_LIST_LIST, "300001 1\r\n.\r\n", 0, NULL, "bad message number"},
	{POP3_LIST_LIST, "1\r\n.\r\n", 0, NULL, "no space"},
	/* refused: sizes */
	{POP3_LIST_LIST, "1 4294967296\r\n.\r\n", 0, NULL, "bad size"},
	{POP3_LIST_LIST, "1 12x\r\n.\r\n", 0, NULL, "bad size"},
	{POP3_LIST_LIST, "1 \r\n.\r\n", 0, NULL, "bad size"},
	{POP3_LIST_LIST, "1 -5\r\n.\r\n", 0, NULL, "bad size"},
	/* refused: UIDLs */
	{POP3_LIST_UIDL, "1 \r\n.\r\n", 0, NULL, "no UIDL"},
	{POP3_LIST_UIDL, "1 a b\r\n.\r\n", 0, NULL, "outside 0x21..0x7E"},
	{POP3_LIST_UIDL, "1 a\x01\r\n.\r\n", 0, NULL, "line 1 \"1 a\\x01\""},
	{POP3_LIST_UIDL, "1 \xc3\xa9\r\n.\r\n", 0, NULL, "no UIDL"},
	{POP3_LIST_UIDL,
	 "1 0123456789012345678901234567890123456789012345678901234567890123456"
	 "7890\r\n.\r\n",
	 0, NULL, "longer than 70"},
	/* refused: the frame */
	{POP3_LIST_LIST, "", 0, NULL, "no final \".\""},
	{POP3_LIST_LIST, "1 12\r\n", 0, NULL, "no final \".\""},
	{POP3_LIST_LIST, "1 12\r\n.", 0, NULL, "no final \".\""},
	{POP3_LIST_LIST, ".\r\n1 12\r\n", 0, NULL, "bytes after"},
	{POP3_LIST_LIST, "1 12\r\n..\r\n.\r\n", 0, NULL, "bad message number"},
};

/* The LIST sizes or UIDL values of l as "a,b,c". */
static void
render(const struct pop3_list *l, enum pop3_list_kind kind, char *out,
       size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && len < cap; i++) {
		int k;

		if (kind == POP3_LIST_LIST)
			k = snprintf(out + len, cap - len, "%s%u",
				     i > 0 ? "," : "", (unsigned)l->v[i].size);
		else
			k = snprintf(out + len, cap - len, "%s%s",
				     i > 0 ? "," : "", l->v[i].uidl);
		ck_assert_int_ge(k, 0);
		len += (size_t)k;
	}
}

START_TEST(test_pop3_list_answer)
{
	const struct answer_row *row = &answer_rows[_i];
	struct pop3_list l = {0};
	struct e2_err err = {0};
	size_t len = strlen(row->bytes);
	char *copy = malloc(len + 1); /* exact size: ASan sees overreads */
	enum e2_status rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, row->bytes, len);
	rc = pop3_list_parse(row->kind, copy, len, &l, &err);
	if (row->expect != NULL) {
		char got[512];

		ck_assert_msg(rc == E2_OK, "row %d: %s", _i, err.msg);
		ck_assert_uint_eq(l.n, row->n);
		render(&l, row->kind, got, sizeof(got));
		ck_assert_str_eq(got, row->expect);
	} else {
		ck_assert_msg(rc == E2_EPROTO, "row %d accepted", _i);
		ck_assert_msg(strstr(err.msg, row->msg) != NULL,
			      "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
			      row->msg);
		ck_assert_msg(strstr(err.msg, row->kind == POP3_LIST_LIST
						      ? "pop3 LIST answer"
						      : "pop3 UIDL answer") !=
				      NULL,
			      "row %d: %s", _i, err.msg);
		ck_assert_ptr_null(l.v);
	}
	pop3_list_free(&l);
	free(copy);
}
END_TEST

/* ---- LIST and UIDL together --------------------------------------------- */

struct pair_row {
	const char *list, *uidl;
	bool ok;
	const char *msg;
};

static const struct pair_row pair_rows[] = {
	{"1 10\r\n2 20\r\n.\r\n", "2 b\r\n1 a\r\n.\r\n", true, NULL},
	{".\r\n", ".\r\n", true, NULL},
	{"1 10\r\n2 20\r\n.\r\n", "1 a\r\n.\r\n", false,
	 "UIDL answer lists 1 messages, the LIST answer 2"},
	{"1 10\r\n.\r\n", "1 a\r\n2 b\r\n.\r\n", false,
	 "UIDL answer lists 2 messages, the LIST answer 1"},
	{"1 10\r\n2 20\r\n.\r\n", "1 a\r\n3 c\r\n.\r\n", false, "(a gap)"},
};

START_TEST(test_pop3_list_pair)
{
	const struct pair_row *row = &pair_rows[_i];
	struct pop3_list l = {0};
	struct e2_err err = {0};
	enum e2_status rc;

	/* LIST first, then UIDL, as pop3_list() of a fetch-whole does */
	rc = pop3_list_parse(POP3_LIST_LIST, row->list, strlen(row->list), &l,
			     &err);
	ck_assert_msg(rc == E2_OK, "%s", err.msg);
	rc = pop3_list_parse(POP3_LIST_UIDL, row->uidl, strlen(row->uidl), &l,
			     &err);
	if (row->ok) {
		ck_assert_msg(rc == E2_OK, "%s", err.msg);
		ck_assert(l.has_sizes && l.has_uidls);
		if (l.n == 2) {
			ck_assert_str_eq(l.v[0].uidl, "a");
			ck_assert_uint_eq(l.v[0].size, 10);
			ck_assert_str_eq(l.v[1].uidl, "b");
			ck_assert_uint_eq(l.v[1].size, 20);
		}
	} else {
		ck_assert_int_eq(rc, E2_EPROTO);
		ck_assert_msg(strstr(err.msg, row->msg) != NULL, "%s", err.msg);
		ck_assert(!l.has_uidls); /* left as it was */
		ck_assert(l.has_sizes);
	}
	pop3_list_free(&l);
}
END_TEST

/* The bounds: line length and answer size, without a huge allocation. */
START_TEST(test_pop3_list_bounds)
{
	struct pop3_list l = {0};
	struct e2_err err = {0};
	size_t len = POP3_LIST_LINE_MAX + 16;
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	/* "1 " then digits past 512 bytes, CRLF, "." */
	memset(buf, '0', len);
	memcpy(buf, "1 ", 2);
	memcpy(buf + len - 5, "\r\n.\r\n", 5);
	ck_assert_int_eq(pop3_list_parse(POP3_LIST_LIST, buf, len, &l, &err),
			 E2_EPROTO);
	ck_assert_msg(strstr(err.msg, "longer than 512") != NULL, "%s",
		      err.msg);
	/* the same without any line end */
	e2_err_clear(&err);
	memset(buf, 'x', len);
	ck_assert_int_eq(pop3_list_parse(POP3_LIST_UIDL, buf, len, &l, &err),
			 E2_EPROTO);
	ck_assert_msg(strstr(err.msg, "longer than 512") != NULL, "%s",
		      err.msg);
	/* an answer longer than POP3_LIST_ANSWER_MAX is refused unread */
	e2_err_clear(&err);
	ck_assert_int_eq(pop3_list_parse(POP3_LIST_UIDL, buf,
					 (size_t)POP3_LIST_ANSWER_MAX + 1, &l,
					 &err),
			 E2_EPROTO);
	ck_assert_ptr_null(l.v);
	free(buf);
}
END_TEST

/* Reading the same kind twice is the caller's bug, not the server's. */
START_TEST(test_pop3_list_twice)
{
	struct pop3_list l = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(pop3_list_parse(POP3_LIST_UIDL, ".\r\n", 3, &l, &err),
			 E2_OK);
	ck_assert_int_eq(pop3_list_parse(POP3_LIST_UIDL, ".\r\n", 3, &l, &err),
			 E2_EINVAL);
	pop3_list_free(&l);
	pop3_list_free(NULL);
}
END_TEST

static Suite *
pop3_list_suite(void)
{
	Suite *s = suite_create("pop3_list");
	TCase *tc;

	tc = tcase_create("answer");
	tcase_add_loop_test(tc, test_pop3_list_answer, 0,
			    sizeof(answer_rows) / sizeof(answer_rows[0]));
	tcase_add_test(tc, test_pop3_list_bounds);
	tcase_add_test(tc, test_pop3_list_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("pair");
	tcase_add_loop_test(tc, test_pop3_list_pair, 0,
			    sizeof(pair_rows) / sizeof(pair_rows[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_list_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
