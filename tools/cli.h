/* SPDX-License-Identifier: MIT */
/* cli.h -- the command line every email2 tool shares (issue 9) */
#ifndef E2_CLI_H
#define E2_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "email2.h"

/*
 * Exit statuses, the same in every tool but email2-sendmail (which keeps
 * sendmail's sysexits.h codes for mutt and git) and documented in each
 * man page's EXIT STATUS section.
 */
enum cli_exit {
	CLI_EXIT_OK = 0,      /* everything asked was done */
	CLI_EXIT_FAILURE = 1, /* not done, not the command line's fault */
	CLI_EXIT_USAGE = 2,   /* bad option or argument */
	CLI_EXIT_PARTIAL = 3, /* interrupted, or some items skipped */
};

/*
 * One tool's command line. The tool fills prog, synopsis, help and exits;
 * cli_next() fills verbose and quiet and handles -h, -V and errors.
 *
 *	static const struct option opts[] = {
 *		{"store", required_argument, NULL, 's'},
 *		CLI_COMMON_OPTIONS,
 *	};
 *	struct cli cli = {.prog = "email2-x", .synopsis = "[OPTION]... FILE",
 *			  .help = "...", .exits = "..."};
 *	while ((ch = cli_next(&cli, argc, argv, "s:", opts)) != -1) {
 *		if (ch == CLI_DONE)
 *			return cli.status;
 *		switch (ch) { case 's': ... }
 *	}
 */
struct cli {
	const char *prog;     /* "email2-syncd": messages, help, version */
	const char *synopsis; /* after "Usage: PROG "; '\n' starts a form */
	const char *help;     /* description and the tool's own options */
	const char *exits;    /* the tool's EXIT STATUS lines, for --help */
	int verbose;          /* -v, --verbose: how many times */
	bool quiet;           /* -q, --quiet: only errors */
	int status;           /* the exit status once cli_next() is CLI_DONE */
};

/* cli_next(): help or version printed, or a usage error: exit cli.status */
#define CLI_DONE (-2)

/* The options every tool has; last in the tool's longopts array. */
#define CLI_COMMON_OPTIONS                                                     \
	{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, \
		{"verbose", no_argument, NULL, 'v'},                           \
		{"quiet", no_argument, NULL, 'q'},                             \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

/*
 * getopt_long() over the tool's short options (without h, V, v, q, which
 * are added) and longopts (ending with CLI_COMMON_OPTIONS). Returns the
 * tool's next option, -1 at the end of the options (optind is the first
 * operand), or CLI_DONE after --help (stdout, status 0), --version
 * (stdout, status 0) or an unknown option or missing argument (a usage
 * error on stderr, status 2). Options end at the first operand when
 * shortopts starts with '+'.
 */
int cli_next(struct cli *c, int argc, char **argv, const char *shortopts,
	     const struct option *longopts);

/*
 * A usage error: "PROG: MESSAGE" and "Try 'PROG --help'." on stderr.
 * Returns CLI_EXIT_USAGE, for "return cli_usage(&cli, ...);".
 */
int cli_usage(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The whole help on f: usage, the tool's help, common options, exits. */
void cli_help(const struct cli *c, FILE *f);

/* "PROG: MESSAGE" on stderr for a failed err (printed even with -q). */
void cli_error(const struct cli *c, const struct e2_err *err);

/* "message" or "messages": n then the noun, singular when n is 1. */
const char *cli_plural(size_t n, const char *one, const char *many);

/*
 * The UTC time now as ISO 8601 ("2026-12-03T16:35:09Z") into buf (at
 * least 21 bytes), for log lines.
 */
void cli_timestamp(char *buf, size_t len);

/* Unix time t as ISO 8601 UTC into buf (at least 21 bytes); "-" for 0. */
void cli_time(int64_t t, char *buf, size_t len);

/*
 * s as a JSON string on f: quote, backslash and control bytes (C0, DEL)
 * escaped, other bytes as they are (the strings printed are UTF-8 or
 * e2_quote()d); NULL prints null.
 */
void cli_json_str(FILE *f, const char *s);

#endif /* E2_CLI_H */
