/* SPDX-License-Identifier: MIT */
/* check_guard.c -- the server-byte guard: IMAP framing and caps, POP3, SMTP */
#include "config.h"

#include "transports/guard.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* a string literal with its length (NUL bytes may be inside) */
#define B(s) s, sizeof(s) - 1

struct guard_row {
	const char *name;
	enum guard_proto proto;
	const char *sent; /* POP3: what the client sent first, or NULL */
	const char *in;
	size_t len;
	bool ok;
	const char *why; /* a part of the refusal's message */
};

/* clang-format off */
static const struct guard_row guard_rows[] = {
	/* ---- IMAP: real transcripts ---- */
	{"imap dovecot greeting", GUARD_IMAP, NULL, B("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n"), true, NULL},
	{"imap select", GUARD_IMAP, NULL, B("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n* OK [UIDNEXT 4] Predicted next UID\r\n* OK [HIGHESTMODSEQ 7] Highest\r\n2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"), true, NULL},
	{"imap permanentflags empty", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [PERMANENTFLAGS ()] none\r\n"), true, NULL},
	{"imap fetch body literal hides nothing", GUARD_IMAP, NULL, B("* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {24}\r\n* OK [PERMANENTFLAGS (\r\n)\r\n3 OK Fetch completed.\r\n"), true, NULL},
	{"imap fetch literal then more items", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {3}\r\nabc UID 2 RFC822.SIZE 3)\r\n"), true, NULL},
	{"imap fetch empty literal", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {0}\r\n)\r\n"), true, NULL},
	{"imap fetch header fields section", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT \"FROM\")]<0> {6}\r\nab)(\"c UID 1)\r\n"), true, NULL},
	{"imap envelope literal subject", GUARD_IMAP, NULL, B("* 1 FETCH (ENVELOPE (NIL {5}\r\nab\"(c NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"), true, NULL},
	{"imap quoted with escapes and brace", GUARD_IMAP, NULL, B("* 1 FETCH (ENVELOPE (\"a\\\"{5}\\\\\" NIL))\r\n"), true, NULL},
	{"imap bodystructure", GUARD_IMAP, NULL, B("* 1 FETCH (UID 9 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"base64\" 4000 NIL (\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL))\r\n"), true, NULL},
	{"imap list literal mailbox", GUARD_IMAP, NULL, B("* LIST (\\HasNoChildren) \"/\" {5}\r\na(b\"c\r\n* LSUB () \".\" INBOX\r\n"), true, NULL},
	{"imap status literal mailbox", GUARD_IMAP, NULL, B("* STATUS {3}\r\nfoo (MESSAGES 1 UIDNEXT 2)\r\n"), true, NULL},
	{"imap blank lines", GUARD_IMAP, NULL, B("\r\n\r\n* OK x\r\n"), true, NULL},
	{"imap resp-text ends in brace, next line harmless", GUARD_IMAP, NULL, B("* OK [ALERT] text {5}\r\n* 1 EXISTS\r\n"), true, NULL},
	{"imap tagged text ends in brace", GUARD_IMAP, NULL, B("a1 NO bad {3}\r\nabc\r\n"), true, NULL},
	{"imap continuation text", GUARD_IMAP, NULL, B("+ go ahead {5}\r\n"), true, NULL},
	{"imap alert and parse with text", GUARD_IMAP, NULL, B("* OK [ALERT] disk full\r\n* NO [PARSE] x\r\n* OK [ALERTX]\r\n* OK [ALERT\r\n"), true, NULL},
	{"imap depth at cap", GUARD_IMAP, NULL, B("* 1 FETCH (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((())))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\r\n"), true, NULL},
	/* ---- IMAP: PERMANENTFLAGS and resp-text ---- */
	{"imap permanentflags hides behind resp-text brace", GUARD_IMAP, NULL, B("* OK [ALERT] text {20}\r\n* OK [PERMANENTFLAGS (\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags line ends after paren", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [PERMANENTFLAGS (\r\n"), false, "malformed PERMANENTFLAGS"},
	{"imap permanentflags bracket", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [PERMANENTFLAGS (] x\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags lower case", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [permanentflags ((x)] x\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags tagged", GUARD_IMAP, NULL, B("1 OK [PERMANENTFLAGS (\"\\Seen\")] x\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags continuation", GUARD_IMAP, NULL, B("+ [PERMANENTFLAGS ( )]\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags in the greeting", GUARD_IMAP, NULL, B("* OK [PERMANENTFLAGS (\\Seen)] hi\r\n"), false, "in the greeting"},
	{"imap permanentflags after blanks", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [ \tPERMANENTFLAGS (\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags two spaces", GUARD_IMAP, NULL, B("* OK hi\r\n* OK [PERMANENTFLAGS  (\\Seen)] x\r\n"), false, "PERMANENTFLAGS"},
	{"imap permanentflags behind continuation brace", GUARD_IMAP, NULL, B("+ {5}\r\n* OK [PERMANENTFLAGS (\r\n"), false, "PERMANENTFLAGS"},
	{"imap badcharset list", GUARD_IMAP, NULL, B("4 NO [BADCHARSET (UTF-8 US-ASCII)] no\r\n"), false, "BADCHARSET response code"},
	{"imap badcharset bare", GUARD_IMAP, NULL, B("4 NO [badcharset] no\r\n"), false, "BADCHARSET"},
	{"imap alert without text (libetpan strdup NULL)", GUARD_IMAP, NULL, B("* OK [ALERT]\r\n"), false, "response code without text"},
	{"imap parse with blanks only", GUARD_IMAP, NULL, B("6 NO [PARSE] \t \r\n"), false, "without text"},
	/* found by fuzz_guard_imap in CI: libetpan skips blanks before "]" */
	{"imap alert with blanks before the bracket, no text", GUARD_IMAP, NULL, B("* OK [   ALERT   ]\n6 OK \n"), false, "without text"},
	{"imap parse with a tab before the bracket", GUARD_IMAP, NULL, B("6 NO [PARSE\t]\r\n"), false, "without text"},
	{"imap alert with blanks before the bracket, then text", GUARD_IMAP, NULL, B("* OK [ALERT  ] disk full\r\n"), true, NULL},
	{"imap alert then another word: text", GUARD_IMAP, NULL, B("* OK [ALERT x] y\r\n* OK [ALERT x]\r\n"), true, NULL},
	{"imap badcharset literal", GUARD_IMAP, NULL, B("4 NO [BADCHARSET ({5}\r\nUTF-8)] no\r\n"), false, "BADCHARSET"},
	{"imap badcharset quoted", GUARD_IMAP, NULL, B("4 NO [BADCHARSET (\"a\r\nb\")] no\r\n"), false, "BADCHARSET"},
	/* ---- IMAP: literals only where the grammar has them ---- */
	{"imap search literal", GUARD_IMAP, NULL, B("* SEARCH 1 2 {3}\r\nabc\r\n"), false, "cannot carry"},
	{"imap flags brace", GUARD_IMAP, NULL, B("* FLAGS (\\Seen {3})\r\n"), false, "cannot carry"},
	{"imap namespace literal", GUARD_IMAP, NULL, B("* NAMESPACE (({1}\r\n/ \"/\")) NIL NIL\r\n"), false, "cannot carry"},
	{"imap mid-line literal", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {5} abcde)\r\n"), false, "not at a line end"},
	{"imap literal bare lf", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {5}\nabcde)\r\n"), false, "literal"},
	{"imap literal negative", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {-5}\r\n)\r\n"), false, "literal"},
	{"imap literal space", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] { 5}\r\nabcde)\r\n"), false, "literal"},
	{"imap literal plus", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {5+}\r\nabcde)\r\n"), false, "literal"},
	{"imap literal space before crlf", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {5} \r\nabcde)\r\n"), false, "line end"},
	{"imap quoted across lines", GUARD_IMAP, NULL, B("* 1 FETCH (ENVELOPE (\"abc\r\n* OK x\")\r\n"), false, "quoted"},
	{"imap small literal over cap", GUARD_IMAP, NULL, B("* 1 FETCH (ENVELOPE ({1048577}\r\n"), false, "cap"},
	{"imap size item literal is small", GUARD_IMAP, NULL, B("* 1 FETCH (RFC822.SIZE {1048577}\r\n"), false, "cap"},
	{"imap body literal over cap", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {536870913}\r\n"), false, "cap"},
	{"imap literal of 11 digits", GUARD_IMAP, NULL, B("* 1 FETCH (BODY[] {10000000000}\r\n"), false, "literal"},
	{"imap list literal over cap", GUARD_IMAP, NULL, B("* LIST () \"/\" {1048577}\r\n"), false, "cap"},
	/* ---- IMAP: structure ---- */
	{"imap depth over cap", GUARD_IMAP, NULL, B("* 1 FETCH (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\r\n"), false, "nested deeper than 128"},
	{"imap unbalanced open", GUARD_IMAP, NULL, B("* 1 FETCH (UID 1\r\n"), false, "unbalanced"},
	{"imap unbalanced close", GUARD_IMAP, NULL, B("* 1 FETCH UID 1)\r\n"), false, "unbalanced"},
	{"imap bare cr", GUARD_IMAP, NULL, B("* OK a\rb\r\n"), false, "CR without LF"},
	{"imap nul", GUARD_IMAP, NULL, B("* OK a\0b\r\n"), false, "NUL"},
	/* ---- POP3 ---- */
	{"pop3 greeting", GUARD_POP3, NULL, B("+OK Dovecot ready. <1.2@host>\r\n"), true, NULL},
	{"pop3 capa", GUARD_POP3, "CAPA\r\n", B("+OK hi\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nUSER\r\n.\r\n"), true, NULL},
	{"pop3 list and uidl", GUARD_POP3, "LIST\r\nUIDL\r\n", B("+OK hi\r\n+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n"), true, NULL},
	{"pop3 list one", GUARD_POP3, "LIST 1\r\n", B("+OK hi\r\n+OK 1 120\r\n"), true, NULL},
	{"pop3 retr data looks like status", GUARD_POP3, "RETR 1\r\n", B("+OK hi\r\n+OK 9 octets\r\n-ERR no\r\n..dot\r\n\0x\r\n.\r\n"), true, NULL},
	{"pop3 retr refused", GUARD_POP3, "RETR 1\r\nQUIT\r\n", B("+OK hi\r\n-ERR no such message\r\n+OK bye\r\n"), true, NULL},
	{"pop3 auth challenge", GUARD_POP3, "AUTH PLAIN\r\nAGEAYg==\r\n", B("+OK hi\r\n+ \r\n+OK logged in\r\n"), true, NULL},
	{"pop3 top split sent", GUARD_POP3, "TO", B("+OK hi\r\n"), true, NULL},
	{"pop3 list one with data", GUARD_POP3, "LIST 1\r\n", B("+OK hi\r\n+OK 1 120\r\n1 120\r\n"), false, "no command asked"},
	{"pop3 unsolicited", GUARD_POP3, NULL, B("+OK hi\r\n+OK extra\r\n"), false, "no command asked"},
	{"pop3 bad status", GUARD_POP3, "NOOP\r\n", B("+OK hi\r\nHELLO\r\n"), false, "neither +OK nor -ERR"},
	{"pop3 okay", GUARD_POP3, NULL, B("+OKAY\r\n"), false, "neither"},
	{"pop3 nul in status", GUARD_POP3, NULL, B("+OK a\0b\r\n"), false, "NUL"},
	/* ---- SMTP ---- */
	{"smtp greeting", GUARD_SMTP, NULL, B("220 mail.example.com ESMTP Postfix\r\n"), true, NULL},
	{"smtp ehlo", GUARD_SMTP, NULL, B("250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"), true, NULL},
	{"smtp bare code and lf", GUARD_SMTP, NULL, B("250\r\n354 go\n"), true, NULL},
	{"smtp letter in code", GUARD_SMTP, NULL, B("25O ok\r\n"), false, "not a reply line"},
	{"smtp four digits", GUARD_SMTP, NULL, B("2500 ok\r\n"), false, "not a reply line"},
	{"smtp no separator", GUARD_SMTP, NULL, B("250ok\r\n"), false, "not a reply line"},
	{"smtp code 199", GUARD_SMTP, NULL, B("199 ok\r\n"), false, "not a reply line"},
	{"smtp empty line", GUARD_SMTP, NULL, B("\r\n"), false, "not a reply line"},
	{"smtp codes differ", GUARD_SMTP, NULL, B("250-a\r\n251 b\r\n"), false, "codes 250 and 251"},
	{"smtp nul", GUARD_SMTP, NULL, B("250 a\0b\r\n"), false, "control byte 0x00"},
	{"smtp tab in auth (libetpan loops)", GUARD_SMTP, NULL, B("250-mail\r\n250-AUTH PLA\tN LOGIN\r\n250 OK\r\n"), false, "control byte 0x09"},
	{"smtp bare cr", GUARD_SMTP, NULL, B("250 a\rb\r\n"), false, "CR without LF"},
};
/* clang-format on */

/* Feeds in, split by mode: 0 whole, 1 byte by byte, 2 at cut, 3 odd. */
static enum e2_status
feed_split(const struct guard_row *r, const char *in, size_t len, int mode,
	   size_t cut, struct e2_err *err)
{
	static const size_t sizes[] = {3, 1, 7, 2, 13, 5, 1, 64, 4, 11};
	struct guard g;
	enum e2_status rc = E2_OK;
	size_t off = 0, k = 0;

	guard_init(&g, r->proto);
	if (r->sent != NULL)
		guard_sent(&g, r->sent, strlen(r->sent));
	e2_err_clear(err);
	while (off < len && rc == E2_OK) {
		size_t n = len - off;

		if (mode == 1)
			n = 1;
		else if (mode == 2 && off < cut)
			n = cut - off;
		else if (mode == 3 && n > sizes[k % E2_ARRAY_LEN(sizes)])
			n = sizes[k++ % E2_ARRAY_LEN(sizes)];
		rc = guard_feed(&g, in + off, n, err);
		off += n;
	}
	if (rc != E2_OK) /* refused stays refused */
		ck_assert_int_eq(guard_feed(&g, "x", 1, err), E2_EPROTO);
	return rc;
}

static void
check_row(const struct guard_row *r, const char *in, size_t len)
{
	struct e2_err err;

	for (int mode = 0; mode < 4; mode++) {
		size_t cuts = mode == 2 && len < 600 ? len : 1;

		for (size_t cut = 0; cut < cuts; cut++) {
			enum e2_status rc =
				feed_split(r, in, len, mode, cut, &err);

			ck_assert_msg((rc == E2_OK) == r->ok,
				      "%s (split %d at %zu): %s", r->name, mode,
				      cut, err.msg);
			if (r->ok)
				continue;
			ck_assert_int_eq(err.code, E2_EPROTO);
			ck_assert_msg(strstr(err.msg, r->why) != NULL,
				      "%s: message \"%s\" lacks \"%s\"",
				      r->name, err.msg, r->why);
		}
	}
}

START_TEST(test_guard_table)
{
	const struct guard_row *r = &guard_rows[_i];

	check_row(r, r->in, r->len);
}
END_TEST

/* ---- rows too large to write out ---------------------------------------- */

struct big_row {
	const char *name;
	enum guard_proto proto;
	const char *sent;
	const char *pre; /* then fill bytes of fill_byte */
	size_t fill;
	char fill_byte;
	const char *post; /* then this */
	bool ok;
	const char *why;
};

static const struct big_row big_rows[] = {
	{"imap line without lf over cap", GUARD_IMAP, NULL, "* OK ",
	 GUARD_IMAP_LINE_MAX, 'a', "", false, "line longer than 1048576"},
	{"imap line at cap", GUARD_IMAP, NULL, "* OK ", GUARD_IMAP_LINE_MAX - 7,
	 'a', "\r\n", true, NULL},
	{"imap body literal over small cap", GUARD_IMAP, NULL,
	 "* 1 FETCH (BODY[] {2000000}\r\n", 2000000, '(', ")\r\n", true, NULL},
	{"imap header fields literal large", GUARD_IMAP, NULL,
	 "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {2000000}\r\n", 2000000, '"',
	 ")\r\n", true, NULL},
	{"imap rfc822 literal large", GUARD_IMAP, NULL,
	 "* 1 FETCH (RFC822 {2000000}\r\n", 2000000, '\n', ")\r\n", true, NULL},
	{"pop3 status over cap", GUARD_POP3, NULL, "+OK ",
	 GUARD_POP3_STATUS_MAX, 'a', "\r\n", false, "status line longer"},
	{"pop3 data line over cap", GUARD_POP3, "RETR 1\r\n",
	 "+OK hi\r\n+OK\r\n", GUARD_POP3_DATA_MAX + 1, 'a', "\r\n.\r\n", false,
	 "data line longer"},
	{"pop3 long data line", GUARD_POP3, "RETR 1\r\n", "+OK hi\r\n+OK\r\n",
	 GUARD_POP3_STATUS_MAX * 4, 'a', "\r\n.\r\n", true, NULL},
	{"smtp line over cap", GUARD_SMTP, NULL, "250 ", GUARD_SMTP_LINE_MAX,
	 'a', "\r\n", false, "line longer than 4096"},
};

START_TEST(test_guard_big)
{
	const struct big_row *b = &big_rows[_i];
	struct guard_row r = {b->name, b->proto, b->sent, NULL,
			      0,       b->ok,    b->why};
	size_t pl = strlen(b->pre), ql = strlen(b->post);
	char *in = malloc(pl + b->fill + ql);

	ck_assert_ptr_nonnull(in);
	memcpy(in, b->pre, pl);
	memset(in + pl, b->fill_byte, b->fill);
	memcpy(in + pl + b->fill, b->post, ql);
	check_row(&r, in, pl + b->fill + ql);
	free(in);
}
END_TEST

/* SMTP: continuation lines are capped, the cap itself passes. */
START_TEST(test_guard_smtp_lines)
{
	size_t n = (size_t)GUARD_SMTP_LINES_MAX + (_i == 0 ? 0 : 1);
	struct guard_row r = {"smtp lines",
			      GUARD_SMTP,
			      NULL,
			      NULL,
			      0,
			      _i == 0,
			      "reply of more than 128 lines"};
	char *in = malloc(n * 8 + 1), *p = in;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, i + 1 < n ? "250-abc\n" : "250 abc\n", 8);
		p += 8;
	}
	check_row(&r, in, (size_t)(p - in));
	free(in);
}
END_TEST

/* IMAP: nesting deeper than the cap inside a BODYSTRUCTURE, spread over
 * literals (the count goes on across them). */
START_TEST(test_guard_depth_across_literals)
{
	struct guard_row r = {
		"depth across literals", GUARD_IMAP, NULL, NULL, 0, false,
		"nested deeper"};
	char in[4096];
	size_t len = 0;

	len += (size_t)snprintf(in + len, sizeof(in) - len,
				"* 1 FETCH (BODYSTRUCTURE ");
	for (unsigned i = 0; i < GUARD_IMAP_DEPTH_MAX; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len,
					"({1}\r\nx ");
	len += (size_t)snprintf(in + len, sizeof(in) - len, "\r\n");
	check_row(&r, in, len);
}
END_TEST

/* The message names the response and keeps its first bytes only. */
START_TEST(test_guard_message)
{
	static const char hi[] = "* OK hi\r\n";
	static const char in[] = "* OK [PERMANENTFLAGS (\r\n";
	struct guard g;
	struct e2_err err;

	e2_err_clear(&err);
	guard_init(&g, GUARD_IMAP);
	ck_assert_int_eq(guard_feed(&g, hi, sizeof(hi) - 1, &err), E2_OK);
	ck_assert_int_eq(guard_feed(&g, in, sizeof(in) - 1, &err), E2_EPROTO);
	ck_assert_str_eq(err.msg, "imap response \"* OK [PERMANENTFLAGS (\": "
				  "malformed PERMANENTFLAGS response code");
}
END_TEST

static Suite *
guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_guard_table, 0,
			    (int)E2_ARRAY_LEN(guard_rows));
	tcase_add_loop_test(tc, test_guard_big, 0, (int)E2_ARRAY_LEN(big_rows));
	tcase_add_loop_test(tc, test_guard_smtp_lines, 0, 2);
	tcase_add_test(tc, test_guard_depth_across_literals);
	tcase_add_test(tc, test_guard_message);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(guard_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
