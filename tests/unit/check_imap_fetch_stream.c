/* SPDX-License-Identifier: MIT */
/* check_imap_fetch_stream.c -- FETCH answers: only what was asked, once */
#include "config.h"

#include "engine/imap_fetch_stream.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- imap_fetch_asked_take() --------------------------------------------- */

static const uint32_t asked_uids[] = {2, 5, 9, 4000000000u};

struct take_row {
	uint32_t answers[8]; /* the UIDs answered, in order (n of them) */
	size_t n;
	const char *taken; /* per answer: 'y' taken, 'n' ignored */
};

static const struct take_row take_rows[] = {
	{{2, 5, 9, 4000000000u}, 4, "yyyy"},
	{{9, 2, 5}, 3, "yyy"},
	{{2, 2, 5, 5}, 4, "ynyn"},                /* repeats count once */
	{{1, 3, 6, 10, 4000000001u}, 5, "nnnnn"}, /* never asked */
	{{0, 2, 0}, 3, "nyn"},                    /* no UID */
	{{7, 9, 7, 9, 2}, 5, "nynny"},
};

START_TEST(test_imap_fetch_asked_take)
{
	const struct take_row *row = &take_rows[_i];
	bool answered[4] = {false};
	struct imap_fetch_asked q = {asked_uids, 4, answered};

	for (size_t k = 0; k < row->n; k++) {
		size_t slot = 99;
		bool taken = imap_fetch_asked_take(&q, row->answers[k], &slot);

		ck_assert_msg(taken == (row->taken[k] == 'y'),
			      "row %d answer %zu (UID %u)", _i, k,
			      (unsigned)row->answers[k]);
		if (taken)
			ck_assert_uint_eq(asked_uids[slot], row->answers[k]);
		else
			ck_assert_uint_eq(slot, 99);
	}
}
END_TEST

START_TEST(test_imap_fetch_asked_empty)
{
	struct imap_fetch_asked q = {NULL, 0, NULL};
	size_t slot;

	ck_assert(!imap_fetch_asked_take(&q, 1, &slot));
}
END_TEST

/* ---- the streamed reader over a memory stream ---------------------------- */

struct mem_src {
	const char *p;
	size_t left;
};

static ssize_t
mem_read(mailstream_low *s, void *buf, size_t count)
{
	struct mem_src *src = s->data;
	size_t n = src->left < count ? src->left : count;

	if (n > 7)
		n = 7; /* split lines and literals */
	memcpy(buf, src->p, n);
	src->p += n;
	src->left -= n;
	return (ssize_t)n;
}

static ssize_t
mem_write(mailstream_low *s, const void *buf, size_t count)
{
	(void)s;
	(void)buf;
	return (ssize_t)count;
}

static int
mem_close(mailstream_low *s)
{
	(void)s;
	return 0;
}

static int
mem_get_fd(mailstream_low *s)
{
	(void)s;
	return -1;
}

static void
mem_free(mailstream_low *s)
{
	free(s->data);
	free(s);
}

static mailstream_low_driver mem_driver = {
	.mailstream_read = mem_read,
	.mailstream_write = mem_write,
	.mailstream_close = mem_close,
	.mailstream_get_fd = mem_get_fd,
	.mailstream_free = mem_free,
};

struct got {
	char log[256]; /* "uid:len:flags " per message taken */
	int open;      /* bodies begun and not yet taken or dropped */
};

static enum e2_status
got_begin(void *ctx, void **body_out, struct e2_err *err)
{
	struct got *g = ctx;
	size_t *len = calloc(1, sizeof(*len));

	(void)err;
	ck_assert_ptr_nonnull(len);
	g->open++;
	*body_out = len;
	return E2_OK;
}

static enum e2_status
got_write(void *ctx, void *body, const char *buf, size_t len,
	  struct e2_err *err)
{
	(void)ctx;
	(void)buf;
	(void)err;
	*(size_t *)body += len;
	return E2_OK;
}

static void
got_discard(void *ctx, void **body)
{
	struct got *g = ctx;

	if (*body == NULL)
		return;
	free(*body);
	*body = NULL;
	g->open--;
}

static enum e2_status
got_fetched(void *ctx, const struct imap_fetch_msg *m, void **body,
	    bool *stop_out, struct e2_err *err)
{
	struct got *g = ctx;
	size_t len = strlen(g->log);

	(void)stop_out;
	(void)err;
	ck_assert_uint_eq(*(size_t *)*body, m->body_len);
	(void)snprintf(g->log + len, sizeof(g->log) - len, "%u:%llu:%s%s ",
		       (unsigned)m->uid, m->body_len, m->seen ? "S" : "",
		       m->flagged ? "F" : "");
	got_discard(ctx, body);
	return E2_OK;
}

static enum e2_status
got_io_error(void *ctx, struct e2_err *err)
{
	(void)ctx;
	return e2_fail(err, E2_EIO, "connection lost");
}

static const struct imap_fetch_stream_ops got_ops = {
	.body_begin = got_begin,
	.body_write = got_write,
	.body_discard = got_discard,
	.fetched = got_fetched,
	.io_error = got_io_error,
};

struct stream_row {
	const char *server;
	enum e2_status rc;
	const char *log; /* the messages taken */
};

static const struct stream_row stream_rows[] = {
	/* the asked ones, in any order */
	{"* 1 FETCH (UID 2 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n"
	 "* 2 FETCH (BODY[] \"hello\" UID 5)\r\n"
	 "A1 OK done\r\n",
	 E2_OK, "2:3:S 5:5: "},
	/* repeats, other UIDs, no UID, a flag change: ignored */
	{"* 1 FETCH (UID 2 BODY[] {3}\r\nabc)\r\n"
	 "* 1 FETCH (UID 2 FLAGS (\\Flagged) BODY[] {4}\r\nabcd)\r\n"
	 "* 3 FETCH (UID 7 BODY[] {1}\r\nx)\r\n"
	 "* 4 FETCH (BODY[] {1}\r\ny)\r\n"
	 "* 5 FETCH (FLAGS (\\Seen))\r\n"
	 "* 6 FETCH (UID 5 BODY[] NIL)\r\n"
	 "* 7 FETCH (UID 9 FLAGS (\\Seen \\Flagged) BODY[] {0}\r\n)\r\n"
	 "A1 OK done\r\n",
	 E2_OK, "2:3: 9:0:SF "},
	/* other responses, literals included, are skipped */
	{"* 9 EXISTS\r\n* OK [ALERT] {5}\r\nhello\r\n"
	 "* 1 FETCH (UID 5 X-GM-LABELS (\"a\" {2}\r\nbc (d)) BODY[] "
	 "{1}\r\nz)\r\n"
	 "A1 OK done\r\n",
	 E2_OK, "5:1: "},
	{"A1 NO [SERVERBUG] no\r\n", E2_EPROTO, ""},
	{"* 1 FETCH (UID 0 BODY[] {1}\r\nz)\r\nA1 OK\r\n", E2_EPROTO, ""},
	{"* 1 FETCH (UID 2 BODY[] {10}\r\nabc", E2_EIO, ""},
	{"+ go ahead\r\n", E2_EPROTO, ""},
};

START_TEST(test_imap_fetch_stream_answers)
{
	const struct stream_row *row = &stream_rows[_i];
	static const uint32_t uids[] = {2, 5, 9};
	bool answered[3] = {false};
	struct imap_fetch_asked q = {uids, 3, answered};
	struct mem_src *src = calloc(1, sizeof(*src));
	struct imap_fetch_stream *fs = NULL;
	struct got g = {.log = ""};
	struct e2_err err = {0};
	mailstream_low *low;
	mailstream *s;
	bool stop = true;
	enum e2_status rc;

	ck_assert_ptr_nonnull(src);
	src->p = row->server;
	src->left = strlen(row->server);
	low = mailstream_low_new(src, &mem_driver);
	ck_assert_ptr_nonnull(low);
	s = mailstream_new(low, 64);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(imap_fetch_stream_new(s, &got_ops, &g, &fs, &err),
			 E2_OK);
	rc = imap_fetch_stream_command(fs, "A1", "2,5,9", &q, &stop, &err);
	ck_assert_msg(rc == row->rc, "row %d: %s %s", _i, e2_status_name(rc),
		      err.msg);
	ck_assert_str_eq(g.log, row->log);
	ck_assert_int_eq(g.open, 0);
	if (rc != E2_OK)
		ck_assert_msg(err.msg[0] != '\0', "row %d: no message", _i);
	else
		ck_assert(!stop);
	imap_fetch_stream_free(&fs);
	imap_fetch_stream_free(&fs); /* NULL-safe */
	mailstream_close(s);
}
END_TEST

START_TEST(test_imap_fetch_stream_set)
{
	static const uint32_t uids[] = {1, 2, 3, 7, 9, 10};
	uint32_t many[3000];
	char set[IMAP_FETCH_STREAM_SET_MAX + 32];
	size_t n = 0;

	imap_fetch_stream_set(uids, 6, set, &n);
	ck_assert_str_eq(set, "1:3,7,9:10");
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < 3000; i++)
		many[i] = (uint32_t)(1000000 + 2 * i); /* no runs */
	imap_fetch_stream_set(many, 3000, set, &n);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, 3000);
	ck_assert_uint_le(strlen(set), IMAP_FETCH_STREAM_SET_MAX);
}
END_TEST

static Suite *
imap_fetch_stream_suite(void)
{
	Suite *s = suite_create("imap_fetch_stream");
	TCase *tc;

	tc = tcase_create("asked");
	tcase_add_loop_test(tc, test_imap_fetch_asked_take, 0,
			    sizeof(take_rows) / sizeof(take_rows[0]));
	tcase_add_test(tc, test_imap_fetch_asked_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_loop_test(tc, test_imap_fetch_stream_answers, 0,
			    sizeof(stream_rows) / sizeof(stream_rows[0]));
	tcase_add_test(tc, test_imap_fetch_stream_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(imap_fetch_stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
