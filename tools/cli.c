/* SPDX-License-Identifier: MIT */
/* cli.c -- the command line every email2 tool shares (issue 9) */
#include "config.h"

#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* The options every tool has (GNU coreutils' forms, plus -v and -q). */
#define CLI_COMMON_SHORT "hVvq"

static const char cli_common_help[] =
	"\n"
	"Common options:\n"
	"  -v, --verbose    say more (repeat for more)\n"
	"  -q, --quiet      print errors only\n"
	"  -h, --help       show this help and exit\n"
	"  -V, --version    show the version and exit\n";

int
cli_usage(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", c->prog);
	return CLI_EXIT_USAGE;
}

void
cli_help(const struct cli *c, FILE *f)
{
	const char *s = c->synopsis;

	/* one "Usage:" line per form, the later ones aligned under it */
	for (bool first = true; s != NULL && *s != '\0'; first = false) {
		const char *nl = strchr(s, '\n');
		int n = nl != NULL ? (int)(nl - s) : (int)strlen(s);

		fprintf(f, "%s %s %.*s\n", first ? "Usage:" : "  or: ", c->prog,
			n, s);
		s = nl != NULL ? nl + 1 : NULL;
	}
	if (c->help != NULL)
		fputs(c->help, f);
	fputs(cli_common_help, f);
	if (c->exits != NULL)
		fprintf(f, "\nExit status:\n%s", c->exits);
	fprintf(f, "\nFull documentation: man %s\n", c->prog);
}

/* The optstring: ":" (missing arguments are ours to report), the tool's
 * options, the common ones; '+' stays first when the tool asked for it. */
static char *
cli_optstring(const char *shortopts)
{
	bool posix = shortopts[0] == '+';
	size_t n = strlen(shortopts) + sizeof(CLI_COMMON_SHORT) + 2;
	char *s = malloc(n);

	if (s == NULL)
		return NULL;
	(void)snprintf(s, n, "%s:%s" CLI_COMMON_SHORT, posix ? "+" : "",
		       shortopts + (posix ? 1 : 0));
	return s;
}

/* What the user typed for the option getopt_long() just refused. */
static void
cli_bad_option(struct cli *c, char **argv, int ch)
{
	const char *arg = argv[optind - 1];
	const char *what = ch == ':' ? "needs an argument" : "is unknown";

	/* a short option inside a cluster ("-xq"): name the letter */
	if (optopt != 0 && (arg == NULL || strncmp(arg, "--", 2) != 0))
		c->status = cli_usage(c, "option '-%c' %s", optopt, what);
	else if (arg != NULL && strchr(arg, '=') != NULL && ch == '?')
		c->status = cli_usage(c, "option '%.*s' %s",
				      (int)(strchr(arg, '=') - arg), arg,
				      "is unknown or takes no argument");
	else
		c->status = cli_usage(c, "option '%s' %s",
				      arg != NULL ? arg : "?", what);
}

int
cli_next(struct cli *c, int argc, char **argv, const char *shortopts,
	 const struct option *longopts)
{
	char *opts = cli_optstring(shortopts);
	int ch;

	if (opts == NULL) {
		fprintf(stderr, "%s: out of memory\n", c->prog);
		c->status = CLI_EXIT_FAILURE;
		return CLI_DONE;
	}
	opterr = 0; /* our messages: one line, then the hint */
	for (;;) {
		ch = getopt_long(argc, argv, opts, longopts, NULL);
		if (ch == 'v') {
			c->verbose++;
			continue;
		}
		if (ch == 'q') {
			c->quiet = true;
			continue;
		}
		break;
	}
	free(opts);
	switch (ch) {
	case 'h':
		cli_help(c, stdout);
		c->status =
			fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
		return CLI_DONE;
	case 'V':
		tool_print_version(c->prog);
		c->status =
			fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
		return CLI_DONE;
	case '?':
	case ':':
		cli_bad_option(c, argv, ch);
		return CLI_DONE;
	default:
		return ch;
	}
}

void
cli_error(const struct cli *c, const struct e2_err *err)
{
	tool_print_error(c->prog, err);
}

const char *
cli_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void
cli_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, len, "-");
}

void
cli_timestamp(char *buf, size_t len)
{
	cli_time((int64_t)time(NULL), buf, len);
}

void
cli_json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
