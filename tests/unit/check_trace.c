/* SPDX-License-Identifier: MIT */
/* check_trace.c -- the -v trace, server replies in messages, SMTP auth hints */
#include "config.h"

#include "transports/trace.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email2.h"
#include "transports/proto.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * One trace: feeds in order, each "<" (received) or ">" (sent) then the
 * bytes; "!" is one redacted write with the rest as its label, "#" starts
 * a new secret step. The expected text is the whole trace.
 */
struct trace_row {
	const char *name;
	enum guard_proto proto;
	const char *feeds[8];
	const char *want;
};

/* clang-format off */
static const struct trace_row trace_rows[] = {
	{"imap fetch body is a byte count", GUARD_IMAP,
	 {"<* 1 FETCH (UID 5 BODY[] {11}\r\nhello world)\r\n", "<2 OK done\r\n"},
	 "imap< * 1 FETCH (UID 5 BODY[] {11}\n"
	 "imap< [literal, 11 bytes]\n"
	 "imap< )\n"
	 "imap< 2 OK done\n"},
	{"imap append literal sent, LITERAL+", GUARD_IMAP,
	 {">3 APPEND Sent (\\Seen) {4+}\r\n", ">body", ">\r\n", "<3 OK [APPENDUID 1 2] done\r\n"},
	 "imap> 3 APPEND Sent (\\Seen) {4+}\n"
	 "imap> [literal, 4 bytes]\n"
	 "imap< 3 OK [APPENDUID 1 2] done\n"},
	{"imap empty literal", GUARD_IMAP,
	 {"<* 1 FETCH (BODY[] {0}\r\n)\r\n"},
	 "imap< * 1 FETCH (BODY[] {0}\n"
	 "imap< [literal, 0 bytes]\n"
	 "imap< )\n"},
	{"imap two literals on one response", GUARD_IMAP,
	 {"<* 1 FETCH (BODY[HEADER] {3}\r\nabc BODY[TEXT] {2}\r\nxy)\r\n"},
	 "imap< * 1 FETCH (BODY[HEADER] {3}\n"
	 "imap< [literal, 3 bytes]\n"
	 "imap<  BODY[TEXT] {2}\n"
	 "imap< [literal, 2 bytes]\n"
	 "imap< )\n"},
	{"imap 20 digits is no literal", GUARD_IMAP,
	 {"<* 1 FETCH (BODY[] {18446744073709551616}\r\n* OK x\r\n"},
	 "imap< * 1 FETCH (BODY[] {18446744073709551616}\n"
	 "imap< * OK x\n"},
	{"imap brace not at the end", GUARD_IMAP,
	 {"<* OK {5} hello\r\n"},
	 "imap< * OK {5} hello\n"},
	{"imap controls escaped, backslash kept", GUARD_IMAP,
	 {"<* OK \x1b[31mred\x07\xc3\xa9 \\Seen\r\n"},
	 "imap< * OK \\x1b[31mred\\x07\\xc3\\xa9 \\Seen\n"},
	{"imap bare LF line, CR inside", GUARD_IMAP,
	 {"<* OK a\rb\n"},
	 "imap< * OK a\\x0db\n"},
	{"imap login redacted", GUARD_IMAP,
	 {"#", "!LOGIN", "!LOGIN", "<2 OK Logged in\r\n"},
	 "imap> LOGIN [credentials redacted]\n"
	 "imap> [credentials redacted]\n"
	 "imap< 2 OK Logged in\n"},
	{"pop3 RETR answer is a byte count", GUARD_POP3,
	 {">RETR 1\r\n", "<+OK 20 octets\r\nSubject: a\r\n\r\n", "<..dot\r\n.\r\n", ">QUIT\r\n"},
	 "pop3> RETR 1\n"
	 "pop3< +OK 20 octets\n"
	 "pop3< [message, 21 bytes]\n"
	 "pop3< .\n"
	 "pop3> QUIT\n"},
	{"pop3 TOP answer is a byte count", GUARD_POP3,
	 {">top 2 0\r\n", "<+OK\r\nA: b\r\n\r\n.\r\n"},
	 "pop3> top 2 0\n"
	 "pop3< +OK\n"
	 "pop3< [message, 8 bytes]\n"
	 "pop3< .\n"},
	{"pop3 RETR refused: no body", GUARD_POP3,
	 {">RETR 9\r\n", "<-ERR no such message\r\n", ">UIDL\r\n", "<+OK\r\n1 abc\r\n.\r\n"},
	 "pop3> RETR 9\n"
	 "pop3< -ERR no such message\n"
	 "pop3> UIDL\n"
	 "pop3< +OK\n"
	 "pop3< 1 abc\n"
	 "pop3< .\n"},
	{"pop3 PASS redacted", GUARD_POP3,
	 {">USER u\r\n", "<+OK\r\n", "#", "!PASS", "<+OK Logged in.\r\n"},
	 "pop3> USER u\n"
	 "pop3< +OK\n"
	 "pop3> PASS [credentials redacted]\n"
	 "pop3< +OK Logged in.\n"},
	{"smtp DATA body is a byte count", GUARD_SMTP,
	 {">DATA\r\n", "<354 go ahead\r\n", ">Subject: x\r\n\r\nbody\r\n", ">..\r\n.\r\n", "<250 2.0.0 OK\r\n"},
	 "smtp> DATA\n"
	 "smtp< 354 go ahead\n"
	 "smtp> [message, 24 bytes]\n"
	 "smtp> .\n"
	 "smtp< 250 2.0.0 OK\n"},
	{"smtp AUTH LOGIN and continuations redacted", GUARD_SMTP,
	 {"#", "!AUTH LOGIN", "<334 VXNlcm5hbWU6\r\n", "!AUTH LOGIN", "<334 UGFzc3dvcmQ6\r\n", "!AUTH LOGIN", "<235 2.7.0 ok\r\n"},
	 "smtp> AUTH LOGIN [credentials redacted]\n"
	 "smtp< 334 VXNlcm5hbWU6\n"
	 "smtp> [credentials redacted]\n"
	 "smtp< 334 UGFzc3dvcmQ6\n"
	 "smtp> [credentials redacted]\n"
	 "smtp< 235 2.7.0 ok\n"},
	{"smtp 354 without DATA still frames", GUARD_SMTP,
	 {"<354 x\r\n", ">a\r\n.\r\n", ">QUIT\r\n"},
	 "smtp< 354 x\n"
	 "smtp> [message, 3 bytes]\n"
	 "smtp> .\n"
	 "smtp> QUIT\n"},
};
/* clang-format on */

static char *
trace_run(const struct trace_row *r, bool bytewise, bool finish)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct trace t;

	ck_assert_ptr_nonnull(f);
	trace_init(&t, f, r->proto);
	for (size_t i = 0; i < E2_ARRAY_LEN(r->feeds) && r->feeds[i] != NULL;
	     i++) {
		const char *p = r->feeds[i];
		size_t n = strlen(p + 1);

		if (p[0] == '#') {
			trace_secret_begin(&t);
			continue;
		}
		if (p[0] == '!') {
			trace_redacted(&t, p + 1);
			continue;
		}
		if (!bytewise) {
			trace_feed(&t, p[0] == '>', p + 1, n);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			trace_feed(&t, p[0] == '>', p + 1 + k, 1);
	}
	if (finish)
		trace_finish(&t);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_trace_table)
{
	const struct trace_row *r = &trace_rows[_i / 2];
	char *got = trace_run(r, _i % 2 == 1, true);

	ck_assert_msg(strcmp(got, r->want) == 0, "%s (%s):\n%s\nwanted:\n%s",
		      r->name, _i % 2 == 1 ? "byte by byte" : "whole", got,
		      r->want);
	free(got);
}
END_TEST

START_TEST(test_trace_long_line_cut)
{
	char line[TRACE_SHOW + 100], *buf = NULL, want[TRACE_SHOW + 64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct trace t;

	memset(line, 'a', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	trace_init(&t, f, GUARD_IMAP);
	trace_feed(&t, false, line, sizeof(line));
	/* a literal announced past the shown part is not guessed */
	trace_feed(&t, false, "* OK x\r\n", 8);
	ck_assert_int_eq(fclose(f), 0);
	(void)snprintf(want, sizeof(want), "imap< %.*s... (%zu bytes)\n",
		       (int)TRACE_SHOW, line, sizeof(line));
	ck_assert_int_eq(strncmp(buf, want, strlen(want)), 0);
	ck_assert_str_eq(buf + strlen(want), "imap< * OK x\n");
	free(buf);
}
END_TEST

START_TEST(test_trace_finish_cut_short)
{
	static const struct trace_row r = {
		"cut",
		GUARD_IMAP,
		{"<* 1 FETCH (BODY[] {100}\r\nabc", ">4 NOOP"},
		NULL};
	char *got = trace_run(&r, false, true);

	ck_assert_str_eq(got, "imap< * 1 FETCH (BODY[] {100}\n"
			      "imap> 4 NOOP\n"
			      "imap< [literal cut short after 3 bytes]\n");
	free(got);
}
END_TEST

START_TEST(test_trace_off)
{
	struct trace t;

	trace_init(&t, NULL, GUARD_SMTP);
	trace_feed(&t, false, "220 hi\r\n", 8);
	trace_redacted(&t, "AUTH PLAIN");
	trace_note(&t, "connected");
	trace_finish(&t);
	ck_assert_uint_eq(t.recv.len, 0);
}
END_TEST

/* ---- e2_quote_reply(): a reply's line end is framing ------------------- */

static const struct {
	const char *in, *want;
} quote_rows[] = {
	{"530 5.7.0 Authentication required.\r\n",
	 "530 5.7.0 Authentication required."},
	{"a\r\n\r\n", "a"},
	{"a\n", "a"},
	{"two\r\nlines\r\n", "two\\x0d\\x0alines"},
	{"\r\n", ""},
	{"", ""},
	{"tab\tin\r", "tab\\x09in"},
};

START_TEST(test_quote_reply)
{
	char q[160];

	ck_assert_str_eq(e2_quote_reply(q, sizeof(q), quote_rows[_i].in,
					strlen(quote_rows[_i].in)),
			 quote_rows[_i].want);
}
END_TEST

/* ---- SMTP refusals about authentication -------------------------------- */

static const struct {
	int code;
	const char *text;
	enum proto_smtp_auth want;
} auth_rows[] = {
	{530, "5.7.0 Authentication required.\r\n", PROTO_SMTP_AUTH_REQUIRED},
	{530, "5.7.0 Must issue a STARTTLS command first",
	 PROTO_SMTP_AUTH_NONE},
	{530, NULL, PROTO_SMTP_AUTH_REQUIRED},
	{550, "5.7.1 Authentication required", PROTO_SMTP_AUTH_REQUIRED},
	{554, "5.7.0 authentication needed to relay", PROTO_SMTP_AUTH_REQUIRED},
	{554, "5.7.1 <a@b>: Relay access denied", PROTO_SMTP_AUTH_NONE},
	{550, "5.7.10 authentication whatever", PROTO_SMTP_AUTH_NONE},
	{535, "5.7.8 Authentication failed", PROTO_SMTP_AUTH_REJECTED},
	{535, NULL, PROTO_SMTP_AUTH_REJECTED},
	{554, "5.7.8 Error: authentication failed", PROTO_SMTP_AUTH_REJECTED},
	{454, "4.7.0 Temporary authentication failure", PROTO_SMTP_AUTH_NONE},
	{550, "5.1.1 <x@y>: mailbox unavailable", PROTO_SMTP_AUTH_NONE},
	{250, "2.0.0 OK", PROTO_SMTP_AUTH_NONE},
};

START_TEST(test_smtp_auth_class)
{
	ck_assert_int_eq(
		proto_smtp_auth_class(auth_rows[_i].code, auth_rows[_i].text),
		auth_rows[_i].want);
}
END_TEST

START_TEST(test_smtp_auth_hint)
{
	ck_assert_ptr_null(proto_smtp_auth_hint(PROTO_SMTP_AUTH_NONE, false));
	ck_assert_str_eq(proto_smtp_auth_hint(PROTO_SMTP_AUTH_REQUIRED, false),
			 "the server requires authentication: provision "
			 "AUTHREQUIRED=1");
	ck_assert_ptr_nonnull(
		strstr(proto_smtp_auth_hint(PROTO_SMTP_AUTH_REQUIRED, true),
		       "provision AUTHNAME and AUTHSECRET"));
	ck_assert_str_eq(proto_smtp_auth_hint(PROTO_SMTP_AUTH_REJECTED, true),
			 "credentials rejected: check AUTHNAME/AUTHSECRET, or "
			 "SMTPALT* if the outgoing login differs");
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("framing");

	tcase_add_loop_test(tc, test_trace_table, 0,
			    (int)E2_ARRAY_LEN(trace_rows) * 2);
	tcase_add_test(tc, test_trace_long_line_cut);
	tcase_add_test(tc, test_trace_finish_cut_short);
	tcase_add_test(tc, test_trace_off);
	suite_add_tcase(s, tc);
	tc = tcase_create("quote_reply");
	tcase_add_loop_test(tc, test_quote_reply, 0,
			    (int)E2_ARRAY_LEN(quote_rows));
	suite_add_tcase(s, tc);
	tc = tcase_create("smtp_auth");
	tcase_add_loop_test(tc, test_smtp_auth_class, 0,
			    (int)E2_ARRAY_LEN(auth_rows));
	tcase_add_test(tc, test_smtp_auth_hint);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
