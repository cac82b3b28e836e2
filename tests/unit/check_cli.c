/* SPDX-License-Identifier: MIT */
/* check_cli.c -- unit tests for the tools' shared command line (tools/cli.c) */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tools/cli.h"

#define ARGS_MAX 6

/*
 * argv (after the program name) -> what cli_next() returns first, the
 * exit status when that is CLI_DONE, and what stderr and stdout then
 * begin with ("" : empty). The tool's options: -s/--store DIR, --once.
 */
static const struct {
	const char *argv[ARGS_MAX];
	int ret;
	int status;
	const char *err;
	const char *out;
} cli_rows[] = {
	{{"--help"},
	 CLI_DONE,
	 0,
	 "",
	 "Usage: prog [OPTION]... X\n  or:  prog Y\n"},
	{{"-h"}, CLI_DONE, 0, "", "Usage: prog "},
	{{"--version"}, CLI_DONE, 0, "", "prog (email2) "},
	{{"-V"}, CLI_DONE, 0, "", "prog (email2) "},
	{{"--bogus"},
	 CLI_DONE,
	 2,
	 "prog: option '--bogus' is unknown\nTry 'prog --help'.\n",
	 ""},
	{{"-Z"},
	 CLI_DONE,
	 2,
	 "prog: option '-Z' is unknown\nTry 'prog --help'.\n",
	 ""},
	{{"-qZ"},
	 CLI_DONE,
	 2,
	 "prog: option '-Z' is unknown\nTry 'prog --help'.\n",
	 ""},
	{{"--store"},
	 CLI_DONE,
	 2,
	 "prog: option '--store' needs an argument\nTry 'prog --help'.\n",
	 ""},
	{{"-s"},
	 CLI_DONE,
	 2,
	 "prog: option '-s' needs an argument\nTry 'prog --help'.\n",
	 ""},
	{{"--once=yes"},
	 CLI_DONE,
	 2,
	 "prog: option '--once' is unknown or takes no argument\n"
	 "Try 'prog --help'.\n",
	 ""},
	{{"--store", "d"}, 's', 0, "", ""},
	{{"-sd"}, 's', 0, "", ""},
	{{"--once"}, 'o', 0, "", ""},
	{{"-v", "-v", "-q", "x"}, -1, 0, "", ""},
	{{"x"}, -1, 0, "", ""},
};

static const struct option cli_test_opts[] = {
	{"store", required_argument, NULL, 's'},
	{"once", no_argument, NULL, 'o'},
	CLI_COMMON_OPTIONS,
};

/* the first bytes of f (rewound) against want */
static void
cli_check_stream(FILE *f, const char *want, const char *what)
{
	char buf[512];
	size_t n;

	ck_assert_int_eq(fflush(f), 0);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	if (want[0] == '\0')
		ck_assert_msg(n == 0, "%s: \"%s\"", what, buf);
	else
		ck_assert_msg(strncmp(buf, want, strlen(want)) == 0,
			      "%s: \"%s\", want \"%s\"", what, buf, want);
}

START_TEST(test_cli_next_table)
{
	struct cli c = {.prog = "prog",
			.synopsis = "[OPTION]... X\nY",
			.help = "help\n",
			.exits = "  0 ok\n"};
	char *argv[ARGS_MAX + 2] = {(char *)(uintptr_t) "prog"};
	int argc = 1, ret;
	FILE *out = tmpfile(), *err = tmpfile();

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(err);
	for (size_t i = 0; i < ARGS_MAX && cli_rows[_i].argv[i] != NULL; i++)
		argv[argc++] = (char *)(uintptr_t)cli_rows[_i].argv[i];
	ck_assert_int_ge(dup2(fileno(out), STDOUT_FILENO), 0);
	ck_assert_int_ge(dup2(fileno(err), STDERR_FILENO), 0);
	optind = 0; /* a full getopt reset (glibc) */
	ret = cli_next(&c, argc, argv, "s:", cli_test_opts);
	fflush(stdout);
	fflush(stderr);
	ck_assert_int_eq(ret, cli_rows[_i].ret);
	if (ret == CLI_DONE)
		ck_assert_int_eq(c.status, cli_rows[_i].status);
	if (ret == 's')
		ck_assert_str_eq(optarg, "d");
	if (ret == -1) {
		ck_assert_str_eq(argv[optind], "x");
		ck_assert_int_eq(c.verbose, argc == 5 ? 2 : 0);
		ck_assert(c.quiet == (argc == 5));
	}
	cli_check_stream(err, cli_rows[_i].err, "stderr");
	cli_check_stream(out, cli_rows[_i].out, "stdout");
	fclose(out);
	fclose(err);
}
END_TEST

/* --help: usage forms, the tool's text, the common options, the exits */
START_TEST(test_cli_help_sections)
{
	struct cli c = {.prog = "prog",
			.synopsis = "A\nB\nC",
			.help = "TOOL HELP\n",
			.exits = "  0 ok\n"};
	char buf[2048];
	FILE *f = tmpfile();
	size_t n;

	ck_assert_ptr_nonnull(f);
	cli_help(&c, f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "Usage: prog A\n  or:  prog B\n"
					  "  or:  prog C\nTOOL HELP\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  -q, --quiet "));
	ck_assert_ptr_nonnull(strstr(buf, "  -V, --version "));
	ck_assert_ptr_nonnull(strstr(buf, "\nExit status:\n  0 ok\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Full documentation: man prog\n"));
	fclose(f);
}
END_TEST

static const struct {
	size_t n;
	const char *want;
} plural_rows[] = {
	{0, "messages"},
	{1, "message"},
	{2, "messages"},
	{1000, "messages"},
};

START_TEST(test_cli_plural_table)
{
	ck_assert_str_eq(cli_plural(plural_rows[_i].n, "message", "messages"),
			 plural_rows[_i].want);
}
END_TEST

START_TEST(test_cli_timestamp_iso8601_utc)
{
	char buf[32];

	cli_timestamp(buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), 20);
	ck_assert(buf[4] == '-' && buf[7] == '-' && buf[10] == 'T' &&
		  buf[13] == ':' && buf[16] == ':' && buf[19] == 'Z');
}
END_TEST

/* cli_time(): ISO 8601 UTC, "-" for no time. */
START_TEST(test_cli_time_table)
{
	static const struct {
		int64_t t;
		const char *want;
	} rows[] = {
		{0, "-"},
		{-5, "-"},
		{1, "1970-01-01T00:00:01Z"},
		{1700000000, "2023-11-14T22:13:20Z"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[32];

		cli_time(rows[i].t, buf, sizeof(buf));
		ck_assert_str_eq(buf, rows[i].want);
	}
}
END_TEST

/* cli_json_str(): quotes, backslash, C0 and DEL escaped; UTF-8 kept. */
START_TEST(test_cli_json_str_table)
{
	static const struct {
		const char *in;
		const char *want;
	} rows[] = {
		{NULL, "null"},
		{"", "\"\""},
		{"plain", "\"plain\""},
		{"a\"b\\c", "\"a\\\"b\\\\c\""},
		{"tab\there\n", "\"tab\\u0009here\\u000a\""},
		{"del\x7f", "\"del\\u007f\""},
		{"Entw\xc3\xbcrfe", "\"Entw\xc3\xbcrfe\""},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		ck_assert_ptr_nonnull(f);
		cli_json_str(f, rows[i].in);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_str_eq(buf, rows[i].want);
		free(buf);
	}
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("next");

	tcase_add_loop_test(tc, test_cli_next_table, 0,
			    (int)(sizeof(cli_rows) / sizeof(cli_rows[0])));
	tcase_add_test(tc, test_cli_help_sections);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_loop_test(
		tc, test_cli_plural_table, 0,
		(int)(sizeof(plural_rows) / sizeof(plural_rows[0])));
	tcase_add_test(tc, test_cli_timestamp_iso8601_utc);
	tcase_add_test(tc, test_cli_time_table);
	tcase_add_test(tc, test_cli_json_str_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
