/* SPDX-License-Identifier: MIT */
/* email2-syncd.c -- the headless sync runner: send, then download */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "email2.h"
#include "tool.h"

#define SYNCD_NAME "email2-syncd"

/* Exit statuses (documented in email2-syncd(1) and --help). */
enum syncd_exit {
	SYNCD_EXIT_OK = 0,      /* every account synced */
	SYNCD_EXIT_USAGE = 1,   /* bad arguments, store unusable */
	SYNCD_EXIT_ACCOUNT = 2, /* at least one account failed */
};

struct syncd_args {
	const char *store;
	const char *account;
	const char *cafile;
	bool once;
	bool json;
	bool quiet;
	unsigned timeout_ms;
	size_t batch_msgs;
};

static volatile sig_atomic_t syncd_term;
static volatile sig_atomic_t syncd_hup;
static volatile sig_atomic_t syncd_usr1;
/* what the engine polls: set together with syncd_term */
static volatile int syncd_stop;

static void
syncd_on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		syncd_term = 1;
		syncd_stop = 1;
	} else if (sig == SIGHUP) {
		syncd_hup = 1;
	} else if (sig == SIGUSR1) {
		syncd_usr1 = 1;
	}
}

static void
syncd_usage(FILE *f)
{
	fputs("usage: " SYNCD_NAME " [--once] [--store DIR] [--account GUID]"
	      " [--cafile FILE] [--json]\n"
	      "Sends queued mail and downloads new mail for every account\n"
	      "whose SYNCINGCONTENTTYPES includes Mail (0x2).\n"
	      "\n"
	      "  --once           sync each account once and exit\n"
	      "                   (default: stay in the foreground and repeat\n"
	      "                   each account every LINGER minutes; LINGER 0\n"
	      "                   syncs only on SIGUSR1)\n"
	      "  --store DIR      the store (default $EMAIL2_HOME, else\n"
	      "                   $XDG_DATA_HOME/email2)\n"
	      "  --account GUID   only this account\n"
	      "  --cafile FILE    trust these CA certificates (default\n"
	      "                   $EMAIL2_CAFILE, else the system store)\n"
	      "  --timeout SEC    connection and I/O timeout (default 30)\n"
	      "  --batch N        messages per durable batch (default 200)\n"
	      "  --json           one JSON object per account sync\n"
	      "  --quiet          no progress and no summary lines\n"
	      "  --help, --version\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT stop after the current batch, SIGHUP\n"
	      "re-reads the accounts, SIGUSR1 syncs every account now.\n"
	      "Exit status: 0 every account synced, 1 usage or store error,\n"
	      "2 at least one account failed.\n",
	      f);
}

static int
syncd_parse(int argc, char **argv, struct syncd_args *a)
{
	static const struct option opts[] = {
		{"once", no_argument, NULL, 'o'},
		{"store", required_argument, NULL, 's'},
		{"account", required_argument, NULL, 'a'},
		{"cafile", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"batch", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->cafile = getenv("EMAIL2_CAFILE");
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (ch) {
		case 'o':
			a->once = true;
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
		case 't':
		case 'b':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    v == 0 || v > 100000) {
				fprintf(stderr,
					"%s: --%s \"%s\": not a number"
					" in 1..100000\n",
					SYNCD_NAME,
					ch == 't' ? "timeout" : "batch",
					optarg);
				return -1;
			}
			if (ch == 't')
				a->timeout_ms = (unsigned)v * 1000u;
			else
				a->batch_msgs = v;
			break;
		case 'j':
			a->json = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			syncd_usage(stdout);
			return 1;
		case 'V':
			tool_print_version(SYNCD_NAME);
			return 1;
		default:
			syncd_usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", SYNCD_NAME,
			argv[optind]);
		syncd_usage(stderr);
		return -1;
	}
	return 0;
}

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void
syncd_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
syncd_report(const struct syncd_args *a, const char *guid, enum e2_status rc,
	     const struct e2_err *err, const struct e2_sync_stats *s)
{
	if (a->json) {
		printf("{\"account\":");
		syncd_json_str(stdout, guid);
		printf(",\"status\":\"%s\",\"error\":", e2_status_name(rc));
		syncd_json_str(stdout, rc == E2_OK ? "" : err->msg);
		printf(",\"messages\":%zu,\"bytes\":%llu,\"partial\":%zu,"
		       "\"adopted\":%zu,\"folders\":%zu,"
		       "\"folders_skipped\":%zu,\"flags_pushed\":%zu,"
		       "\"flags_pulled\":%zu,\"removed_local\":%zu,"
		       "\"deleted_server\":%zu,\"sent\":%zu,"
		       "\"send_failed\":%zu,\"seconds\":%.3f}\n",
		       s->messages, s->bytes, s->partial, s->adopted,
		       s->folders, s->folders_skipped, s->flags_pushed,
		       s->flags_pulled, s->removed_local, s->deleted_server,
		       s->sent, s->send_failed, s->seconds);
	} else if (!a->quiet) {
		if (isatty(STDOUT_FILENO))
			fputs("\r\033[K", stdout);
		printf("%s: %s, %zu messages, %.1f MB, %zu sent, %.2f s%s%s\n",
		       guid, rc == E2_OK ? "ok" : e2_status_name(rc),
		       s->messages, (double)s->bytes / 1e6, s->sent, s->seconds,
		       rc == E2_OK ? "" : ": ", rc == E2_OK ? "" : err->msg);
	}
	fflush(stdout);
}

static void
syncd_progress(void *ctx, const char *guid, const struct e2_sync_stats *s)
{
	const struct syncd_args *a = ctx;

	if (a->quiet || a->json || !isatty(STDOUT_FILENO))
		return;
	printf("\r\033[K%s: %zu messages, %.1f MB", guid, s->messages,
	       (double)s->bytes / 1e6);
	fflush(stdout);
}

/* The accounts to sync: --account, else every stored one with Mail. */
static enum e2_status
syncd_accounts(struct e2_store *st, const struct syncd_args *a,
	       char ***guids_out, size_t *n_out, int **linger_out,
	       struct e2_err *err)
{
	char **all = NULL;
	size_t n = 0, kept = 0;
	int *linger = NULL;
	enum e2_status rc;

	rc = e2_account_list(st, &all, &n, err);
	if (rc != E2_OK)
		return rc;
	linger = calloc(n + 1, sizeof(*linger));
	if (linger == NULL) {
		e2_strv_free(&all, n);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct e2_account *acct = NULL;
		struct e2_err e = {0};
		bool keep = false;

		if (a->account == NULL || strcmp(all[i], a->account) == 0) {
			if (e2_account_load(st, all[i], &acct, &e) == E2_OK &&
			    (acct->syncingcontenttypes & E2_SYNC_MAIL) != 0) {
				keep = true;
				linger[kept] = acct->linger;
			}
		}
		e2_account_free(&acct);
		if (keep) {
			char *g = all[i];

			all[i] = all[kept];
			all[kept++] = g;
		}
	}
	if (a->account != NULL && kept == 0) {
		e2_strv_free(&all, n);
		free(linger);
		return e2_fail(err, E2_EINVAL,
			       "account %s: not found or not syncing Mail",
			       a->account);
	}
	/* free the tail we do not keep */
	for (size_t i = kept; i < n; i++) {
		free(all[i]);
		all[i] = NULL;
	}
	*guids_out = all;
	*n_out = kept;
	*linger_out = linger;
	return E2_OK;
}

static bool
syncd_one(struct e2_store *st, const struct syncd_args *a, const char *guid)
{
	struct e2_sync_opts o = {0};
	struct e2_sync_stats s = {0};
	struct e2_err err = {0};
	enum e2_status rc;

	o.cafile = a->cafile;
	o.timeout_ms = a->timeout_ms;
	o.batch_msgs = a->batch_msgs;
	o.stop = &syncd_stop;
	o.progress = syncd_progress;
	o.progress_ctx = (void *)(uintptr_t)a;
	rc = e2_sync_account(st, guid, &o, &s, &err);
	syncd_report(a, guid, rc, &err, &s);
	return rc == E2_OK;
}

static int
syncd_loop(struct e2_store *st, const struct syncd_args *a)
{
	char **guids = NULL;
	size_t n = 0;
	int *linger = NULL;
	time_t *next = NULL;
	struct e2_err err = {0};
	bool all_ok = true;
	int rc = SYNCD_EXIT_OK;

reload:
	e2_strv_free(&guids, n);
	free(linger);
	free(next);
	linger = NULL;
	next = NULL;
	n = 0;
	e2_err_clear(&err);
	if (syncd_accounts(st, a, &guids, &n, &linger, &err) != E2_OK) {
		tool_print_error(SYNCD_NAME, &err);
		rc = SYNCD_EXIT_USAGE;
		goto out;
	}
	next = calloc(n + 1, sizeof(*next));
	if (next == NULL) {
		rc = SYNCD_EXIT_USAGE;
		goto out;
	}
	/* first round: everything now (LINGER 0 too: start-up is "asked") */
	while (!syncd_term) {
		time_t now = time(NULL);
		bool all = syncd_usr1 != 0;

		syncd_usr1 = 0;
		for (size_t i = 0; i < n && !syncd_term; i++) {
			if (!all && next[i] != 0 &&
			    (linger[i] == 0 || now < next[i]))
				continue;
			if (!syncd_one(st, a, guids[i]))
				all_ok = false;
			next[i] = time(NULL) +
				  (time_t)(linger[i] > 0 ? linger[i] : 1) * 60;
		}
		if (a->once)
			break;
		if (syncd_hup) {
			syncd_hup = 0;
			goto reload;
		}
		/* one-second ticks: signals interrupt sleep() anyway */
		if (!syncd_term && !syncd_usr1)
			sleep(1);
	}
	if (!all_ok)
		rc = SYNCD_EXIT_ACCOUNT;
out:
	e2_strv_free(&guids, n);
	free(linger);
	free(next);
	return rc;
}

int
main(int argc, char **argv)
{
	struct syncd_args a;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	struct sigaction sa;
	int rc;

	rc = syncd_parse(argc, argv, &a);
	if (rc != 0)
		return rc > 0 ? SYNCD_EXIT_OK : SYNCD_EXIT_USAGE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = syncd_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (e2_store_open(a.store, &st, &err) != E2_OK) {
		tool_print_error(SYNCD_NAME, &err);
		return SYNCD_EXIT_USAGE;
	}
	rc = syncd_loop(st, &a);
	e2_store_close(&st);
	return rc;
}
