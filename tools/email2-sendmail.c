/* SPDX-License-Identifier: MIT */
/* email2-sendmail.c -- a sendmail-compatible front end to the send queue */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "email2.h"
#include "cli.h"
#include "tool.h"

#define SM_NAME "email2-sendmail"
#define SM_MAX_BYTES (50u * 1024 * 1024) /* the send queue's cap */

/*
 * Exit statuses are sendmail's (sysexits.h), what mutt, neomutt and git
 * send-email read: EX_OK 0 queued (or sent with --now); EX_USAGE 64 bad
 * arguments or no recipient; EX_DATAERR 65 a message or address the queue
 * refuses (NUL byte, too large, bad header or address), nothing queued;
 * EX_NOUSER 67 no account sends as that address; EX_CANTCREAT 73 the
 * store or queue could not be written; EX_TEMPFAIL 75 with --now: queued,
 * but not sent yet (the reason is printed; it is retried as any queued
 * message).
 */

struct sm_args {
	const char *store;
	const char *account;
	const char *cafile;
	const char *sender; /* -f / -r */
	const char *name;   /* -F */
	bool from_headers;  /* -t */
	bool dot_ends;      /* false with -i / -oi */
	bool now;
	bool verbose;
	char **rcpt;
	size_t nrcpt;
};

/*
 * The exception to the common command line (tools/cli.h, issue 9): the
 * options are sendmail's, so -h, -V, -q keep sendmail's meanings (or
 * none) and only --help and --version are ours; a usage error is one line
 * and the --help hint, exit EX_USAGE.
 */
static void
sm_usage(FILE *f)
{
	fputs("Usage: " SM_NAME " [OPTION]... [--] [RECIPIENT]...  < message"
	      "\n"
	      "Queues the message on standard input in the send queue of the\n"
	      "account whose REPLYADDR is the sender, and wakes a running\n"
	      "email2-syncd to send it.\n"
	      "\n"
	      "  -t             recipients from To, Cc and Bcc (RECIPIENTs "
	      "are\n"
	      "                 added to them, as Postfix does)\n"
	      "  -i, -oi        a line with a single \".\" does not end the\n"
	      "                 message (without it, it does)\n"
	      "  -f ADDR, -r ADDR  the sender: picks the account whose\n"
	      "                 REPLYADDR is ADDR (else the From: address,\n"
	      "                 else --account)\n"
	      "  -F NAME        the sender's name, for a From: field added\n"
	      "                 when the message has none\n"
	      "  -oem, -odb, -odi, -oXXX, -bm, -B TYPE, -N DSN  accepted,\n"
	      "                 ignored\n"
	      "  -v             say on stderr what happened\n"
	      "  --account ACCOUNT  the account when no address picks one\n"
	      "                 (its GUID in any form, NAME or REPLYADDR)\n"
	      "  --store DIR    the store (default $EMAIL2_HOME, else\n"
	      "                 $XDG_DATA_HOME/email2)\n"
	      "  --now          send the account's queue at once and print\n"
	      "                 the outcome\n"
	      "  --cafile FILE  with --now: trust these CA certificates\n"
	      "  --help, --version\n"
	      "\n"
	      "\n"
	      "Exit status (sysexits.h, as sendmail's, unlike the other\n"
	      "email2 tools): 0 queued (sent with --now), 64 usage, 65\n"
	      "message refused, 67 no account for the sender, 73 store\n"
	      "error (none, or damaged), 75 --now: queued but not sent "
	      "yet.\n"
	      "\n"
	      "Full documentation: man " SM_NAME "\n",
	      f);
}

/* A usage error: one line, the hint; -1 (EX_USAGE) for sm_parse(). */
static int sm_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int
sm_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", SM_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", SM_NAME);
	return -1;
}

static int
sm_parse(int argc, char **argv, struct sm_args *a)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"account", required_argument, NULL, 'a'},
		{"cafile", required_argument, NULL, 'c'},
		{"now", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->dot_ends = true;
	a->cafile = getenv("EMAIL2_CAFILE");
	opterr = 0; /* one line of ours, then the --help hint */
	/* "+": options end at the first recipient, as sendmail's do */
	while ((ch = getopt_long(argc, argv, "+:tif:r:F:o:vb:B:N:", opts,
				 NULL)) != -1) {
		switch (ch) {
		case 't':
			a->from_headers = true;
			break;
		case 'i':
			a->dot_ends = false;
			break;
		case 'f':
		case 'r':
			a->sender = optarg;
			break;
		case 'F':
			a->name = optarg;
			break;
		case 'o':
			/* -oi is -i; -oem, -odb, -odi and the rest: ignored */
			if (strcmp(optarg, "i") == 0)
				a->dot_ends = false;
			break;
		case 'b':
			if (strcmp(optarg, "m") != 0)
				return sm_usage_error("only -bm (deliver) is "
						      "supported, not -b%s",
						      optarg);
			break;
		case 'B':
		case 'N':
			break;
		case 'v':
			a->verbose = true;
			break;
		case 's':
			a->store = optarg;
			break;
		case 'a':
			a->account = optarg;
			break;
		case 'c':
			a->cafile = optarg;
			break;
		case 'n':
			a->now = true;
			break;
		case 'h':
			sm_usage(stdout);
			return 1;
		case 'V':
			tool_print_version(SM_NAME);
			return 1;
		case ':':
			return sm_usage_error("option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			if (optopt != 0)
				return sm_usage_error("option '-%c' is unknown",
						      optopt);
			return sm_usage_error("option '%s' is unknown",
					      argv[optind - 1]);
		}
	}
	a->rcpt = argv + optind;
	a->nrcpt = (size_t)(argc - optind);
	if (!a->from_headers && a->nrcpt == 0)
		return sm_usage_error("no recipient: name them, or use -t");
	return 0;
}

/*
 * The address of the message's first From field (the part in <...>, or
 * the whole trimmed value), into out; "" when there is none. Only to pick
 * the account: the queue checks the message itself.
 */
static void
sm_from_addr(const char *msg, size_t len, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i + 5 <= len; i++) {
		size_t e, s, lt, gt;

		if (i > 0 && msg[i - 1] != '\n')
			continue;
		if (msg[i] == '\n' ||
		    (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			return; /* the end of the header */
		if (strncasecmp(msg + i, "from:", 5) != 0)
			continue;
		s = i + 5;
		for (e = s; e < len && msg[e] != '\n' && msg[e] != '\r'; e++)
			;
		for (lt = e; lt > s && msg[lt - 1] != '<'; lt--)
			;
		for (gt = lt; gt < e && msg[gt] != '>'; gt++)
			;
		if (lt > s && gt < e) {
			s = lt;
			e = gt;
		}
		while (s < e && (msg[s] == ' ' || msg[s] == '\t'))
			s++;
		while (e > s && (msg[e - 1] == ' ' || msg[e - 1] == '\t'))
			e--;
		if (e - s < cap)
			(void)snprintf(out, cap, "%.*s", (int)(e - s), msg + s);
		return;
	}
}

/*
 * The account: the one whose REPLYADDR is -f's address (angle brackets
 * allowed), else the From: field's address, else --account. No match is
 * EX_NOUSER naming the first address tried.
 */
static int
sm_account(struct e2_store *st, const struct sm_args *a, const char *msg,
	   size_t len, char **guid_out)
{
	struct e2_err err = {0};
	char from[256], fopt[256] = "";
	const char *tried[2] = {NULL, NULL};

	if (a->sender != NULL) {
		size_t n = strlen(a->sender);

		if (n >= 2 && a->sender[0] == '<' && a->sender[n - 1] == '>')
			(void)snprintf(fopt, sizeof(fopt), "%.*s", (int)(n - 2),
				       a->sender + 1);
		else
			(void)snprintf(fopt, sizeof(fopt), "%s", a->sender);
		tried[0] = fopt;
	}
	sm_from_addr(msg, len, from, sizeof(from));
	if (from[0] != '\0')
		tried[1] = from;
	for (size_t i = 0; i < 2 && *guid_out == NULL; i++) {
		if (tried[i] == NULL || tried[i][0] == '\0')
			continue;
		if (e2_outbox_account_for(st, tried[i], guid_out, &err) !=
		    E2_OK) {
			tool_print_error(SM_NAME, &err);
			return EX_CANTCREAT;
		}
	}
	if (*guid_out != NULL)
		return EX_OK;
	if (a->account != NULL) {
		/* any spelling of its GUID, its NAME or REPLYADDR */
		if (e2_account_resolve(st, a->account, guid_out, &err) == E2_OK)
			return EX_OK;
		tool_print_error(SM_NAME, &err);
		return err.code == E2_EINVAL ? EX_NOUSER : EX_CANTCREAT;
	}
	if (tried[0] != NULL || tried[1] != NULL)
		fprintf(stderr,
			"%s: no account sends as <%s> (no REPLYADDR matches);"
			" name one with --account\n",
			SM_NAME, tried[0] != NULL ? tried[0] : tried[1]);
	else
		fprintf(stderr,
			"%s: no sender: give -f ADDR, a From: field or "
			"--account\n",
			SM_NAME);
	return EX_NOUSER;
}

/* --now: the account's queue is sent at once; is ours still queued? */
static int
sm_send_now(struct e2_store *st, const struct sm_args *a, const char *guid,
	    const char *id)
{
	struct e2_sync_opts o = {0};
	struct e2_sync_stats stats = {0};
	struct e2_outbox_item *v = NULL;
	struct e2_err err = {0}, lerr = {0};
	size_t n = 0;
	bool woken = false;
	int rc = EX_OK;
	enum e2_status s;

	o.cafile = a->cafile;
	o.content = E2_SYNC_MAIL; /* the outbox only: no contacts, calendars */
	o.no_receive = true;
	s = e2_sync_account(st, guid, &o, &stats, &err);
	if (s == E2_EBUSY) {
		(void)e2_syncd_wake(st, &woken, &lerr);
		fprintf(stderr,
			"%s: queued %s; a sync of the account is running%s\n",
			SM_NAME, id, woken ? " and was asked to send it" : "");
		return EX_TEMPFAIL;
	}
	if (e2_outbox_list(st, guid, &v, &n, &lerr) != E2_OK) {
		tool_print_error(SM_NAME, &lerr);
		return EX_TEMPFAIL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) != 0)
			continue;
		fprintf(stderr, "%s: queued %s, not sent: %s\n", SM_NAME, id,
			v[i].last_error[0] != '\0' ? v[i].last_error
			: err.msg[0] != '\0'       ? err.msg
						   : "not due");
		rc = EX_TEMPFAIL;
	}
	if (rc == EX_OK)
		fprintf(stderr, "%s: sent %s\n", SM_NAME, id);
	e2_outbox_items_free(&v, n);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sm_args a;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char *buf = NULL, *guid = NULL, *id = NULL;
	size_t len = 0, mlen = 0;
	bool woken = false;
	int rc;

	rc = sm_parse(argc, argv, &a);
	if (rc != 0)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (tool_read_file("-", SM_MAX_BYTES, &buf, &len, &err) != E2_OK) {
		tool_print_error(SM_NAME, &err);
		rc = err.code == E2_ENOMEM ? EX_OSERR : EX_DATAERR;
		goto out;
	}
	if (e2_sendmail_input(buf, len, a.dot_ends, &mlen, &err) != E2_OK) {
		tool_print_error(SM_NAME, &err);
		rc = EX_DATAERR;
		goto out;
	}
	if (e2_store_open_existing(a.store, &st, &err) != E2_OK) {
		tool_print_error(SM_NAME, &err);
		rc = EX_CANTCREAT;
		goto out;
	}
	rc = sm_account(st, &a, buf, mlen, &guid);
	if (rc != EX_OK)
		goto out;
	if (e2_outbox_submit(st, guid, buf, mlen, (const char *const *)a.rcpt,
			     a.nrcpt, a.from_headers, a.name, &id,
			     &err) != E2_OK) {
		tool_print_error(SM_NAME, &err);
		rc = err.code == E2_EINVAL   ? EX_DATAERR
		     : err.code == E2_ENOMEM ? EX_OSERR
					     : EX_CANTCREAT;
		goto out;
	}
	if (a.now) {
		rc = sm_send_now(st, &a, guid, id);
		goto out;
	}
	if (e2_syncd_wake(st, &woken, &err) != E2_OK && a.verbose)
		tool_print_error(SM_NAME, &err);
	if (a.verbose)
		fprintf(stderr, "%s: queued %s%s\n", SM_NAME, id,
			woken ? "; email2-syncd woken to send it"
			      : "; no email2-syncd runs: it is sent by the "
				"next sync");
	rc = EX_OK;
out:
	e2_store_close(&st);
	free(buf);
	free(guid);
	free(id);
	return rc;
}
