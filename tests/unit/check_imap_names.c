/* SPDX-License-Identifier: MIT */
/* check_imap_names.c -- modified UTF-7 and local folder names as tables */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "email2.h"
#include "engine/imap_names.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* UTF-8 <-> modified UTF-7 pairs that round-trip (RFC 3501 5.1.3) */
struct mutf7_row {
	const char *utf8, *mutf7;
};

static const struct mutf7_row mutf7_rows[] = {
	{"INBOX", "INBOX"},
	{"Sent Items", "Sent Items"},
	{"R&D", "R&-D"},
	{"&", "&-"},
	{"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
	{"\xc3\xa4", "&AOQ-"},
	{"\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-"},
	{"\xc3\xa4&", "&AOQ-&-"},
	/* RFC 3501 5.1.3's own example */
	{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8"
	 "\xaa\x9e",
	 "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"\xf0\x9f\x98\x80", "&2D3eAA-"}, /* U+1F600, a surrogate pair */
	{"a\x01"
	 "b",
	 "a&AAE-b"},
	{"", ""},
};

START_TEST(test_imap_names_mutf7_round_trip)
{
	const struct mutf7_row *r = &mutf7_rows[_i];
	struct e2_err err = {0};
	char *enc = NULL, *dec = NULL;

	ck_assert_int_eq(imap_names_mutf7_encode(r->utf8, &enc, &err), E2_OK);
	ck_assert_str_eq(enc, r->mutf7);
	ck_assert_int_eq(imap_names_mutf7_decode(r->mutf7, &dec, &err), E2_OK);
	ck_assert_str_eq(dec, r->utf8);
	ck_assert(imap_names_mutf7_valid(r->mutf7));
	free(enc);
	free(dec);
}
END_TEST

/* server names the strict decoder refuses */
static const char *const mutf7_bad[] = {
	"&",           /* unterminated */
	"&AOQ",        /* unterminated */
	"&AOQ-&APw-",  /* null shift: should be one run */
	"&AGE-",       /* printable "a" encoded */
	"&AAA-",       /* NUL */
	"&2D0-",       /* lone high surrogate */
	"&3gA-",       /* lone low surrogate */
	"&AOR-",       /* padding bits not zero */
	"&AOQA-",      /* a character too many */
	"&A*Q-",       /* bad base64 */
	"caf\xc3\xa9", /* 8-bit bytes */
	"a\tb",        /* control byte */
};

START_TEST(test_imap_names_mutf7_decode_refuses)
{
	struct e2_err err = {0};
	char *dec = NULL;

	ck_assert_int_eq(imap_names_mutf7_decode(mutf7_bad[_i], &dec, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(dec);
	ck_assert(err.msg[0] != '\0');
	ck_assert(!imap_names_mutf7_valid(mutf7_bad[_i]));
}
END_TEST

/* UTF-8 the encoder refuses */
static const char *const utf8_bad[] = {
	"\xc0\xaf",         /* overlong "/" */
	"\xed\xa0\x80",     /* a surrogate */
	"\xf4\x90\x80\x80", /* above U+10FFFF */
	"\xc3",             /* cut short */
	"\xff",
};

START_TEST(test_imap_names_mutf7_encode_refuses)
{
	struct e2_err err = {0};
	char *enc = NULL;

	ck_assert_int_eq(imap_names_mutf7_encode(utf8_bad[_i], &enc, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(enc);
}
END_TEST

/* which root entries may be folder directories */
struct isdir_row {
	const char *name;
	bool folder;
};

static const struct isdir_row isdir_rows[] = {
	{".Work", true},
	{".a.b%-2", true},
	{".Entw\xc3\xbcrfe", true},
	{".", false},
	{"..", false},
	{"..Work", false},
	{"cur", false},
	{"Work", false},
	{"", false},
	{"email2-folder", false},
};

START_TEST(test_imap_names_dir_is_folder)
{
	ck_assert_int_eq(imap_names_dir_is_folder(isdir_rows[_i].name),
			 isdir_rows[_i].folder);
}
END_TEST

/* local directory -> server name; want NULL: E2_EINVAL */
struct dir_row {
	const char *dir;
	char sep;
	bool utf8;
	const char *want;
};

static const struct dir_row dir_rows[] = {
	{".Work", '/', false, "Work"},
	{".Work.Projects", '/', false, "Work/Projects"},
	{".Work.Projects", '.', false, "Work.Projects"},
	{".Sent Items", '/', false, "Sent Items"},
	{".Entw\xc3\xbcrfe", '/', false, "Entw&APw-rfe"},
	{".Entw%C3%BCrfe", '/', false, "Entw&APw-rfe"},
	{".Entw\xc3\xbcrfe", '/', true, "Entw\xc3\xbcrfe"},
	{".Entw&APw-rfe", '/', false, "Entw&APw-rfe"}, /* as LIST spelt it */
	{".R&D", '/', false, "R&-D"},
	{".R&D", '/', true, "R&D"},
	{".a%2Eb", '/', false, "a.b"},
	{".a%2Fb", '.', false, "a/b"},
	{".INBOX.Sub", '/', false, "INBOX/Sub"},
	{".Work", '\0', false, "Work"},
	/* refused */
	{".a%2Fb", '/', false, NULL},          /* separator inside */
	{".a%2Eb", '.', false, NULL},          /* separator inside */
	{".Work.Projects", '\0', false, NULL}, /* no separator */
	{".a..b", '/', false, NULL},
	{".a.", '/', false, NULL},
	{".INBOX", '/', false, NULL},
	{".inbox", '/', false, NULL},
	{".50%", '/', false, NULL},
	{".50%25", '/', false, NULL},
	{".a*", '/', false, NULL},
	{".a%2a", '/', false, NULL}, /* lower-case hex is no escape */
	{".a%01", '/', false, NULL},
	{".caf\xe9", '/', false, NULL}, /* Latin-1, not UTF-8 */
	{".caf\xe9", '/', true, NULL},
	{"Work", '/', false, NULL},
	{"..", '/', false, NULL},
	/* separators a server may not use */
	{".Work", '\r', false, NULL},
	{".Work", '*', false, NULL},
	{".Work", '&', false, NULL},
	{".Work", 'x', false, NULL},
	{".Work", ' ', false, NULL},
	{".Work", '\\', false, "Work"},
};

START_TEST(test_imap_names_from_dir)
{
	const struct dir_row *r = &dir_rows[_i];
	struct e2_err err = {0};
	char *name = NULL;
	enum e2_status rc;

	rc = imap_names_from_dir(r->dir, r->sep, r->utf8, &name, &err);
	if (r->want == NULL) {
		ck_assert_msg(rc == E2_EINVAL, "%s: got %s", r->dir,
			      name != NULL ? name : "?");
		ck_assert(err.msg[0] != '\0');
		return;
	}
	ck_assert_msg(rc == E2_OK, "%s: %s", r->dir, err.msg);
	ck_assert_str_eq(name, r->want);
	free(name);
}
END_TEST

static Suite *
imap_names_suite(void)
{
	Suite *s = suite_create("imap_names");
	TCase *tc;

	tc = tcase_create("mutf7");
	tcase_add_loop_test(tc, test_imap_names_mutf7_round_trip, 0,
			    (int)E2_ARRAY_LEN(mutf7_rows));
	tcase_add_loop_test(tc, test_imap_names_mutf7_decode_refuses, 0,
			    (int)E2_ARRAY_LEN(mutf7_bad));
	tcase_add_loop_test(tc, test_imap_names_mutf7_encode_refuses, 0,
			    (int)E2_ARRAY_LEN(utf8_bad));
	suite_add_tcase(s, tc);
	tc = tcase_create("dirs");
	tcase_add_loop_test(tc, test_imap_names_dir_is_folder, 0,
			    (int)E2_ARRAY_LEN(isdir_rows));
	tcase_add_loop_test(tc, test_imap_names_from_dir, 0,
			    (int)E2_ARRAY_LEN(dir_rows));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(imap_names_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
