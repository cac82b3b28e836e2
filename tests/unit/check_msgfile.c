/* SPDX-License-Identifier: MIT */
/* check_msgfile.c -- the check of a file before it is uploaded (msgfile.h) */
#include "config.h"

#include "engine/msgfile.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* One row per rule: the bytes, the cap, what msgfile_check() says. */
static const struct {
	const char *name;
	const char *buf;
	size_t len; /* 0: strlen(buf) */
	size_t max;
	enum e2_status rc;
	const char *why; /* part of the reason, or the Message-ID kept */
	bool has_date;
	size_t wire; /* wire_size, 0: not checked */
} rows[] = {
	{"plain LF message", "Subject: x\nMessage-ID: <a@b>\n\nhi\n", 0, 1000,
	 E2_OK, "<a@b>", false, 37},
	{"CRLF stays as it is", "Subject: x\r\n\r\nhi\r\n", 0, 1000, E2_OK, "",
	 false, 18},
	{"empty file", "", 0, 1000, E2_EINVAL, "empty", false, 0},
	{"no header", "hello world\n\nbody\n", 0, 1000, E2_EINVAL, "no header",
	 false, 0},
	{"leading blank line", "\nSubject: x\n", 0, 1000, E2_EINVAL,
	 "no header", false, 0},
	{"colon first", ": x\n", 0, 1000, E2_EINVAL, "no header", false, 0},
	{"NUL byte", "Subject: x\n\nA\0B\n", 16, 1000, E2_EINVAL, "NUL", false,
	 0},
	{"over the cap", "Subject: x\n\n0123456789\n", 0, 10, E2_EINVAL,
	 "larger than 10", false, 0},
	{"folded Message-ID", "Subject: x\nMessage-ID:\n <f@b>\n\nb\n", 0, 1000,
	 E2_OK, "<f@b>", false, 0},
	{"Message-ID with a quote dropped", "Message-ID: <a\"b@c>\n\nb\n", 0,
	 1000, E2_OK, "", false, 0},
	{"Message-ID only in the body ignored",
	 "Subject: x\n\nMessage-ID: <no@b>\n", 0, 1000, E2_OK, "", false, 0},
	{"Date parsed",
	 "Date: Tue, 2 Jan 2024 10:00:00 +0100\nSubject: x\n\nb\n", 0, 1000,
	 E2_OK, "", true, 0},
	{"Date garbage ignored", "Date: yesterday-ish\n\nb\n", 0, 1000, E2_OK,
	 "", false, 0},
	{"Date out of range ignored",
	 "Date: Tue, 2 Jan 1900 10:00:00 +0000\n\nb\n", 0, 1000, E2_OK, "",
	 false, 0},
};

START_TEST(test_msgfile_rows)
{
	struct msgfile_info info;
	struct e2_err err = {0};
	size_t len = rows[_i].len != 0 ? rows[_i].len : strlen(rows[_i].buf);
	enum e2_status rc =
		msgfile_check(rows[_i].buf, len, rows[_i].max, &info, &err);

	ck_assert_msg(rc == rows[_i].rc, "%s: rc %d", rows[_i].name, (int)rc);
	if (rc != E2_OK) {
		ck_assert_msg(strstr(err.msg, rows[_i].why) != NULL,
			      "%s: reason \"%s\"", rows[_i].name, err.msg);
		return;
	}
	ck_assert_msg(strcmp(info.message_id, rows[_i].why) == 0,
		      "%s: Message-ID \"%s\"", rows[_i].name, info.message_id);
	ck_assert_msg(info.has_date == rows[_i].has_date, "%s: date",
		      rows[_i].name);
	if (rows[_i].wire != 0)
		ck_assert_msg(info.wire_size == rows[_i].wire, "%s: wire %zu",
			      rows[_i].name, info.wire_size);
}
END_TEST

START_TEST(test_msgfile_wire_and_date)
{
	static const char in[] = "Date: Tue, 2 Jan 2024 10:00:00 -0500\n"
				 "X: a\r\n\nline\nlast";
	struct msgfile_info info;
	struct e2_err err = {0};
	char *out;

	ck_assert_int_eq(msgfile_check(in, sizeof(in) - 1, 1000, &info, &err),
			 E2_OK);
	ck_assert(info.has_date);
	ck_assert_int_eq(info.date.year, 2024);
	ck_assert_int_eq(info.date.month, 1);
	ck_assert_int_eq(info.date.day, 2);
	ck_assert_int_eq(info.date.hour, 10);
	ck_assert_int_eq(info.date.zone, -500);
	/* 3 bare LF, the CRLF kept, nothing added at the end */
	ck_assert_uint_eq(info.wire_size, sizeof(in) - 1 + 3);
	out = malloc(info.wire_size + 1);
	ck_assert_ptr_nonnull(out);
	msgfile_wire(in, sizeof(in) - 1, out);
	out[info.wire_size] = '\0';
	ck_assert_str_eq(out, "Date: Tue, 2 Jan 2024 10:00:00 -0500\r\n"
			      "X: a\r\n\r\nline\r\nlast");
	free(out);
}
END_TEST

static Suite *
msgfile_suite(void)
{
	Suite *s = suite_create("msgfile");
	TCase *tc = tcase_create("rows");

	tcase_add_loop_test(tc, test_msgfile_rows, 0,
			    (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_msgfile_wire_and_date);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msgfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
