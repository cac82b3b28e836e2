/* SPDX-License-Identifier: MIT */
/* check_outbox.c -- the outbox header scan: recipients and the wire copy */
#include "config.h"

#include "engine/outbox_scan.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One row: a queued message (len 0: strlen), and either the error text
 * expected or the exact wire copy, the envelope (comma-separated, in
 * order) and whether it is 8-bit.
 */
struct scan_row {
	const char *in;
	size_t len;
	const char *error; /* substring of the message, NULL: success */
	const char *wire;
	const char *rcpt;
	bool eightbit;
};

static const struct scan_row scan_rows[] = {
	/* line ends: every kind becomes CRLF, the Bcc leaves the copy */
	{"To: a@x.org\r\nBcc: b@x.org\r\n\r\nbody\r\n", 0, NULL,
	 "To: a@x.org\r\n\r\nbody\r\n", "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc: b@x.org\n\nbody\n", 0, NULL,
	 "To: a@x.org\r\n\r\nbody\r\n", "a@x.org,b@x.org", false},
	/* the bug: a Bcc after a bare CR was body to the scan */
	{"To: a@x.org\rBcc: b@x.org\r\rbody", 0, NULL,
	 "To: a@x.org\r\n\r\nbody", "a@x.org,b@x.org", false},
	{"To: a@x.org\r\nSubject: s\rBcc: b@x.org\n\nbody", 0, NULL,
	 "To: a@x.org\r\nSubject: s\r\n\r\nbody", "a@x.org,b@x.org", false},
	{"Subject: s\rTo: a@x.org\rBCC: b@x.org\r\n\r\nx\ry\n", 0, NULL,
	 "Subject: s\r\nTo: a@x.org\r\n\r\nx\r\ny\r\n", "a@x.org,b@x.org",
	 false},
	/* every spelling of the name */
	{"To: a@x.org\nbcc: b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nbCc : b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc\t: b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc\r\n : b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc: b@x.org,\n c@x.org,\n\tD <d@x.org>\nX: y\n\nx", 0,
	 NULL, "To: a@x.org\r\nX: y\r\n\r\nx",
	 "a@x.org,b@x.org,c@x.org,d@x.org", false},
	{"Bcc: b@x.org\nTo: a@x.org\nBcc: c@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "b@x.org,a@x.org,c@x.org", false},
	{"To: a@x.org\nBcc: undisclosed:;\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "a@x.org", false},
	{"To: a@x.org\nResent-Bcc: r@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "a@x.org", false},
	/* not Bcc fields: in the body, inside another field, other names */
	{"To: a@x.org\n\nBcc: b@x.org\n", 0, NULL,
	 "To: a@x.org\r\n\r\nBcc: b@x.org\r\n", "a@x.org", false},
	{"To: a@x.org\nSubject: hi\n Bcc: b@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\nSubject: hi\r\n Bcc: b@x.org\r\n\r\nx", "a@x.org",
	 false},
	{"To: a@x.org\nX-Bcc: b@x.org\nBccx: c\n\nx", 0, NULL,
	 "To: a@x.org\r\nX-Bcc: b@x.org\r\nBccx: c\r\n\r\nx", "a@x.org", false},
	/* CR CR LF is two line ends: the header ends there */
	{"To: a@x.org\r\r\nBcc: b@x.org\r\n", 0, NULL,
	 "To: a@x.org\r\n\r\nBcc: b@x.org\r\n", "a@x.org", false},
	/* a header without a body; a dot line stays for libetpan to stuff */
	{"To: a@x.org\nBcc: b@x.org", 0, NULL, "To: a@x.org\r\n",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\n\n.\n..\n", 0, NULL, "To: a@x.org\r\n\r\n.\r\n..\r\n",
	 "a@x.org", false},
	/* recipients: groups, display names, duplicates */
	{"To: \"Doe, J\" <j@x.org>, T: k@x.org, J@X.ORG;\nCc: j@x.org\n\nx", 0,
	 NULL,
	 "To: \"Doe, J\" <j@x.org>, T: k@x.org, J@X.ORG;\r\n"
	 "Cc: j@x.org\r\n\r\nx",
	 "j@x.org,k@x.org", false},
	/* 8-bit */
	{"To: a@x.org\n\nh\xc3\xa9\n", 0, NULL,
	 "To: a@x.org\r\n\r\nh\xc3\xa9\r\n", "a@x.org", true},
	/* errors */
	{"To: a@x.org\n\nnul\0here\n", 19, "NUL byte at offset 16", NULL, NULL,
	 false},
	{" Bcc: b@x.org\nTo: a@x.org\n\nx", 0, "starts with white space", NULL,
	 NULL, false},
	{"\tTo: a@x.org\n\nx", 0, "starts with white space", NULL, NULL, false},
	{"To: undisclosed:;\nSubject: s\n\nx", 0, "no recipient", NULL, NULL,
	 false},
	{"Subject: s\n\nTo: a@x.org\n", 0, "no recipient", NULL, NULL, false},
	{"To: a b@x.org\n\nx", 0, "To:", NULL, NULL, false},
	{"Bcc: <a@x.org\n\nx", 0, "Bcc:", NULL, NULL, false},
	{"Cc: a@x.org\nTo: bj\xc3\xb6rn@x.org\n\nx", 0, "bad address", NULL,
	 NULL, false},
	{"", 0, "no recipient", NULL, NULL, false},
	/* a list libetpan cannot parse at all: no NULL to free (fuzz) */
	{"To: a@x.To: a@x.org\r\n\r\nbody", 0, "cannot parse", NULL, NULL,
	 false},
};

START_TEST(test_outbox_scan_table)
{
	const struct scan_row *row = &scan_rows[_i];
	size_t len = row->len != 0 ? row->len : strlen(row->in);
	struct outbox_scan s = {0};
	struct e2_err err = {0};
	enum e2_status rc = outbox_scan(row->in, len, &s, &err);
	char env[512] = "";

	if (row->error != NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_msg(strstr(err.msg, row->error) != NULL,
			      "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
			      row->error);
		ck_assert_ptr_null(s.wire);
		ck_assert_uint_eq(s.nrcpt, 0);
		return;
	}
	ck_assert_msg(rc == E2_OK, "row %d: %s", _i, err.msg);
	ck_assert_uint_eq(s.wire_len, strlen(row->wire));
	ck_assert_msg(memcmp(s.wire, row->wire, s.wire_len) == 0,
		      "row %d: wire \"%s\"", _i, s.wire);
	ck_assert_int_eq(s.wire[s.wire_len], '\0');
	for (size_t i = 0; i < s.nrcpt; i++) {
		if (i > 0)
			(void)strncat(env, ",", sizeof(env) - strlen(env) - 1);
		(void)strncat(env, s.rcpt[i], sizeof(env) - strlen(env) - 1);
	}
	ck_assert_str_eq(env, row->rcpt);
	ck_assert_int_eq(s.eightbit, row->eightbit);
	outbox_scan_free(&s);
	ck_assert_ptr_null(s.wire);
}
END_TEST

static const struct {
	const char *in;
	bool from, date, msgid;
} has_rows[] = {
	{"To: a@x.org\n\nx", false, false, false},
	{"from: m@x.org\rDATE : now\rMessage-Id: <1@x>\rTo: a@x.org\r\rx", true,
	 true, true},
	{"To: a@x.org\n\nFrom: m@x.org\nDate: now\n", false, false, false},
};

START_TEST(test_outbox_scan_has_fields)
{
	struct outbox_scan s = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(
		outbox_scan(has_rows[_i].in, strlen(has_rows[_i].in), &s, &err),
		E2_OK);
	ck_assert_int_eq(s.has_from, has_rows[_i].from);
	ck_assert_int_eq(s.has_date, has_rows[_i].date);
	ck_assert_int_eq(s.has_msgid, has_rows[_i].msgid);
	outbox_scan_free(&s);
}
END_TEST

static const struct {
	const char *addr;
	bool ok;
} addr_rows[] = {
	{"a@x.org", true},          {"\"a b\"@x.org", false},
	{"a@[127.0.0.1]", true},    {"a", false},
	{"@x.org", false},          {"a@", false},
	{"a@.x.org", false},        {"a@x.org.", false},
	{"a@b@x.org", false},       {"a@x_y.org", false},
	{"a\r\n@x.org", false},     {"<a@x.org>", false},
	{"a@x.org\r\nRCPT", false},
};

START_TEST(test_outbox_addr_ok)
{
	ck_assert_int_eq(outbox_addr_ok(addr_rows[_i].addr), addr_rows[_i].ok);
}
END_TEST

START_TEST(test_outbox_scan_free_null)
{
	struct outbox_scan s = {0};

	outbox_scan_free(NULL);
	outbox_scan_free(&s);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("scan");

	tcase_add_loop_test(tc, test_outbox_scan_table, 0,
			    sizeof(scan_rows) / sizeof(scan_rows[0]));
	tcase_add_loop_test(tc, test_outbox_scan_has_fields, 0,
			    sizeof(has_rows) / sizeof(has_rows[0]));
	tcase_add_loop_test(tc, test_outbox_addr_ok, 0,
			    sizeof(addr_rows) / sizeof(addr_rows[0]));
	tcase_add_test(tc, test_outbox_scan_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
