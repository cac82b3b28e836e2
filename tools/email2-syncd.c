/* SPDX-License-Identifier: MIT */
/* email2-syncd.c -- the headless sync runner: send, then download */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "email2.h"
#include "cli.h"
#include "tool.h"

#define SYNCD_NAME "email2-syncd"
#define SYNCD_DEFAULT_JOBS 4
#define SYNCD_MAX_JOBS 64

/*
 * Exit statuses (email2-syncd(1)): enum cli_exit. --once: 0 every account
 * synced; 1 an account failed (or the store); 3 partial: interrupted by
 * SIGINT/SIGTERM before every account was synced whole, or some folder or
 * message was skipped (e2_sync_stats.skipped); failure wins over partial.
 * The daemon exits 0 when stopped by a signal (what systemd expects of a
 * clean stop), 1 when it cannot start.
 */
#define SYNCD_EXIT_OK CLI_EXIT_OK
#define SYNCD_EXIT_USAGE CLI_EXIT_USAGE
#define SYNCD_EXIT_FAILED CLI_EXIT_FAILURE
#define SYNCD_EXIT_PARTIAL CLI_EXIT_PARTIAL

struct syncd_args {
	const char *store;
	const char *account; /* as typed; account_guid once resolved */
	char *account_guid;
	const char *cafile;
	const char *fetch_full; /* --fetch-full FILE */
	bool dry_run;           /* --dry-run (issue 9) */
	bool once;
	bool json;
	bool quiet;
	int verbose; /* -v: the protocol trace on stderr */
	bool stamp;  /* log lines get a timestamp (stderr is not the journal) */
	unsigned timeout_ms;
	size_t batch_msgs;
	size_t jobs;       /* 0: the default */
	unsigned content;  /* --content: E2_SYNC_* bits; 0: every type */
	bool force_delete; /* --force-delete: skip the DAV safety check */
};

/*
 * The content types a run can sync, each on its own schedule (issue 10):
 * mail every LINGER, contacts every CONTACTSSYNCSCHEDULE, calendars
 * (appointments and tasks) every CALENDARSYNCSCHEDULE
 * (e2_account_schedule()).
 */
enum {
	SYNCD_MAIL,
	SYNCD_CONTACTS,
	SYNCD_CALENDARS,
	SYNCD_TYPES
};
static const unsigned syncd_type_bits[SYNCD_TYPES] = {
	E2_SYNC_MAIL, E2_SYNC_CONTACTS, E2_SYNC_CALENDARS};
static const char *const syncd_type_names[SYNCD_TYPES] = {"mail", "contacts",
							  "calendars"};

/* What the table keeps of an account's nodes: what to sync, how often. */
struct syncd_sched {
	unsigned types;         /* SYNCINGCONTENTTYPES within --content */
	int every[SYNCD_TYPES]; /* minutes; 0: only when asked */
};

/*
 * Threads: the main thread opens the store handles, starts the workers and
 * re-reads the accounts on SIGHUP; one thread takes the signals with
 * sigwait() (they are blocked everywhere else, so no code runs in a signal
 * handler); up to --jobs workers each own a store handle (one SQLite
 * connection per thread, WAL, busy timeout) and pick due accounts from the
 * table. Everything below d->mu is shared; an account is synced by one
 * worker at a time.
 */
struct syncd_acct {
	char *guid;
	char *name; /* NAME, e2_quote()d; NULL when the account has none */
	struct syncd_sched sched;
	double last[SYNCD_TYPES]; /* monotonic end of each type's last
				     sync; 0: never */
	bool asked;               /* SIGUSR1, or --once: every type now */
	bool running;             /* a worker has it */
	bool gone;                /* dropped by a reload while running */
};

struct syncd;

struct syncd_worker {
	struct syncd *d;
	struct e2_store *st;
	pthread_t thread;
	bool started;
	/* the running sync's progress, for the terminal line */
	size_t messages;
	unsigned long long bytes;
	const char *label; /* the running account's label (syncd_label) */
};

struct syncd {
	const struct syncd_args *a;
	bool tty;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	struct syncd_acct *accts;
	size_t n;
	struct syncd_worker *workers;
	size_t jobs;       /* workers allocated */
	size_t live;       /* workers started and not returned */
	bool term;         /* SIGTERM/SIGINT */
	bool hup;          /* SIGHUP, not yet handled */
	bool quit;         /* the signal thread returns */
	bool failed;       /* an account sync failed */
	bool partial;      /* an account sync skipped something */
	bool interrupted;  /* a sync was cut short by SIGTERM/SIGINT */
	int termsig;       /* the signal that set term */
	volatile int stop; /* what the engine polls; set with term */
};

static double
syncd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct cli syncd_cli = {
	.prog = SYNCD_NAME,
	.synopsis = "[OPTION]... [--once] [--account ACCOUNT]\n"
		    "[OPTION]... --fetch-full FILE [--account ACCOUNT]\n"
		    "[OPTION]... --dry-run [--account ACCOUNT]",
	.help = "Syncs every account: for Mail (SYNCINGCONTENTTYPES 0x2) "
		"sends\n"
		"queued mail and keeps the Maildir and the server in step; "
		"for\n"
		"Contacts (0x1) and Appointments or Tasks (0x4, 0x8) keeps "
		"vdir\n"
		"folders and the CardDAV/CalDAV server in step. ACCOUNT is "
		"its\n"
		"GUID (any form, any case), NAME or REPLYADDR.\n"
		"\n"
		"Options:\n"
		"      --once           sync each account once and exit\n"
		"                       (default: stay in the foreground and "
		"sync\n"
		"                       each account every LINGER minutes; "
		"LINGER 0\n"
		"                       syncs only on SIGUSR1)\n"
		"      --store DIR      the store (default $EMAIL2_HOME, else\n"
		"                       $XDG_DATA_HOME/email2)\n"
		"      --account ACCOUNT  only this account\n"
		"      --content LIST   only these content types: a comma "
		"list of\n"
		"                       mail, contacts, calendars (default: "
		"every\n"
		"                       type the account syncs)\n"
		"      --force-delete   let a contacts or calendar collection "
		"that\n"
		"                       became empty on one side empty the "
		"other\n"
		"      --cafile FILE    trust these CA certificates (default\n"
		"                       $EMAIL2_CAFILE, else the system "
		"store)\n"
		"      --timeout SEC    connection and I/O timeout (default "
		"30)\n"
		"      --batch N        messages per durable batch (default "
		"200)\n"
		"      --jobs N         accounts synced at the same time "
		"(default 4,\n"
		"                       1 with --once)\n"
		"      --fetch-full FILE  replace the message FILE, stored "
		"partial\n"
		"                       (RETRIEVE) or without its large parts\n"
		"                       (KEEPMAX), by the whole message from "
		"the\n"
		"                       server, and exit (--account is needed "
		"when\n"
		"                       FILE is not under "
		"<store>/mail/{GUID}/)\n"
		"      --dry-run        connect and show what a sync would "
		"do,\n"
		"                       per account and folder; change "
		"nothing\n"
		"      --json           one JSON object per account sync\n"
		"  -v, --verbose        protocol trace on stderr (no "
		"secrets)\n"
		"With -q only failed accounts are named (on standard error).\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop after the current message, "
		"SIGHUP\n"
		"re-reads the accounts, SIGUSR1 syncs every account now.\n",
	.exits =
		"  0  every account synced (--once), or the daemon was "
		"stopped\n"
		"     by a signal\n"
		"  1  an account failed (--once; the summary names it), or "
		"the\n"
		"     store could not be used\n"
		"  2  usage error\n"
		"  3  partial (--once): stopped by SIGINT/SIGTERM before "
		"every\n"
		"     account was synced, or a folder or message was skipped\n",
};

/* --content's list into E2_SYNC_* bits; 0 when a word is not a type */
static unsigned
syncd_parse_content(const char *list)
{
	unsigned bits = 0;
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		unsigned bit = 0;

		for (size_t t = 0; t < SYNCD_TYPES; t++)
			if (strlen(syncd_type_names[t]) == len &&
			    strncmp(p, syncd_type_names[t], len) == 0)
				bit = syncd_type_bits[t];
		if (bit == 0)
			return 0;
		bits |= bit;
		if (p[len] == '\0')
			return bits;
		p += len + 1;
	}
}

/* 0: go on; -1: help or version printed (exit 0); else a usage error's exit */
static int
syncd_parse(int argc, char **argv, struct syncd_args *a)
{
	static const struct option opts[] = {
		{"once", no_argument, NULL, 'o'},
		{"fetch-full", required_argument, NULL, 'F'},
		{"dry-run", no_argument, NULL, 'n'},
		{"store", required_argument, NULL, 's'},
		{"account", required_argument, NULL, 'a'},
		{"cafile", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"batch", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'J'},
		{"content", required_argument, NULL, 'C'},
		{"force-delete", no_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},
		CLI_COMMON_OPTIONS,
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->cafile = getenv("EMAIL2_CAFILE");
	while ((ch = cli_next(&syncd_cli, argc, argv, "", opts)) != -1) {
		const char *name = NULL;
		unsigned long max = 100000;
		char *end;
		unsigned long v;

		switch (ch) {
		case CLI_DONE:
			return syncd_cli.status == 0 ? -1 : syncd_cli.status;
		case 'o':
			a->once = true;
			break;
		case 'F':
			a->fetch_full = optarg;
			break;
		case 'n':
			a->dry_run = true;
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
		case 'J':
			name = ch == 't'   ? "timeout"
			       : ch == 'b' ? "batch"
					   : "jobs";
			if (ch == 'J')
				max = SYNCD_MAX_JOBS;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    v == 0 || v > max)
				return cli_usage(&syncd_cli,
						 "--%s \"%s\": not a number"
						 " in 1..%lu",
						 name, optarg, max);
			if (ch == 't')
				a->timeout_ms = (unsigned)v * 1000u;
			else if (ch == 'b')
				a->batch_msgs = v;
			else
				a->jobs = v;
			break;
		case 'j':
			a->json = true;
			break;
		case 'D':
			a->force_delete = true;
			break;
		case 'C':
			a->content = syncd_parse_content(optarg);
			if (a->content == 0)
				return cli_usage(
					&syncd_cli,
					"--content \"%s\": not a comma "
					"list of mail, contacts, "
					"calendars",
					optarg);
			break;
		default:
			return cli_usage(&syncd_cli, "unexpected option");
		}
	}
	a->quiet = syncd_cli.quiet;
	a->verbose = syncd_cli.verbose;
	if (optind != argc)
		return cli_usage(&syncd_cli, "unexpected argument \"%s\"",
				 argv[optind]);
	return 0;
}

/*
 * Whether stderr is the journal (systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it connected): journald stamps each line
 * itself, so the daemon's lines carry a timestamp only elsewhere (a
 * terminal, a file, another supervisor).
 */
static bool
syncd_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev = 0, ino = 0;
	struct stat sb;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &sb) != 0)
		return false;
	return (unsigned long long)sb.st_dev == dev &&
	       (unsigned long long)sb.st_ino == ino;
}

/* "2026-12-03T16:35:09Z " before a daemon log line, or nothing. */
static void
syncd_stamp(const struct syncd_args *a, FILE *f)
{
	char t[32];

	if (!a->stamp)
		return;
	cli_timestamp(t, sizeof(t));
	fprintf(f, "%s ", t);
}

/* One line on stderr, timestamped in the daemon; not with -q. */
static void syncd_log(const struct syncd_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void
syncd_log(const struct syncd_args *a, const char *fmt, ...)
{
	va_list ap;

	if (a->quiet)
		return;
	flockfile(stderr);
	syncd_stamp(a, stderr);
	fprintf(stderr, "%s: ", SYNCD_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* An error on stderr (even with -q), timestamped in the daemon. */
static void
syncd_error(const struct syncd_args *a, const struct e2_err *err)
{
	flockfile(stderr);
	syncd_stamp(a, stderr);
	cli_error(&syncd_cli, err);
	funlockfile(stderr);
}

/* ---- --fetch-full ---------------------------------------------------------
 */

/* The {GUID} of a path under <store>/mail/{GUID}/, else NULL (caller frees) */
static char *
syncd_guid_of(const char *file)
{
	char *real = realpath(file, NULL);
	const char *p = real != NULL ? real : file, *q;
	char *guid = NULL;

	for (q = strstr(p, "/mail/{"); q != NULL;
	     q = strstr(q + 1, "/mail/{")) {
		const char *end = strchr(q + 6, '/');

		if (end != NULL && end[-1] == '}') {
			guid = strndup(q + 6, (size_t)(end - q - 6));
			break;
		}
	}
	free(real);
	return guid;
}

/* email2-syncd --fetch-full FILE: 0 done, 1 failed, 2 usage */
static int
syncd_fetch_full(const struct syncd_args *a)
{
	struct e2_sync_opts o = {0};
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char *guid = NULL, *written = NULL;
	int rc = SYNCD_EXIT_FAILED;

	if (a->account == NULL) {
		guid = syncd_guid_of(a->fetch_full);
		if (guid == NULL)
			return cli_usage(&syncd_cli,
					 "--fetch-full %s: not under "
					 "<store>/mail/{GUID}/; give --account",
					 a->fetch_full);
	}
	if (e2_store_open_existing(a->store, &st, &err) != E2_OK) {
		cli_error(&syncd_cli, &err);
		goto out;
	}
	if (a->account != NULL &&
	    e2_account_resolve(st, a->account, &guid, &err) != E2_OK) {
		cli_error(&syncd_cli, &err);
		goto out;
	}
	o.cafile = a->cafile;
	o.timeout_ms = a->timeout_ms;
	o.trace = a->verbose > 0 ? stderr : NULL;
	if (e2_sync_fetch_full_path(st, guid, a->fetch_full, &o, &written,
				    &err) != E2_OK) {
		cli_error(&syncd_cli, &err);
		goto out;
	}
	/* issue 9: name the file written (the old name is gone) */
	if (!a->quiet)
		printf("%s: the whole message is stored in %s\n", a->fetch_full,
		       written);
	rc = SYNCD_EXIT_OK;
out:
	e2_store_close(&st);
	free(written);
	free(guid);
	return rc;
}

/* ---- output -------------------------------------------------------------- */

/*
 * What a sync skipped (issue 7 item 6), after the counters:
 * "skipped_count":N,"skipped":[{"folder":"...","uid":N,"reason":"..."}]
 * (the first E2_SYNC_SKIP_MAX; uid 0 is the whole folder).
 */
static void
syncd_json_skipped(FILE *f, const struct e2_sync_stats *s)
{
	size_t n =
		s->skipped < E2_SYNC_SKIP_MAX ? s->skipped : E2_SYNC_SKIP_MAX;

	fprintf(f, ",\"skipped_count\":%zu,\"skipped\":[", s->skipped);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{\"folder\":", i > 0 ? "," : "");
		cli_json_str(f, s->skip[i].folder);
		fprintf(f, ",\"uid\":%u,\"reason\":", (unsigned)s->skip[i].uid);
		cli_json_str(f, s->skip[i].reason);
		fputc('}', f);
	}
	fputc(']', f);
}

/* One line per skipped item after the summary line, "LABEL: skipped ...". */
static void
syncd_text_skipped(FILE *f, const char *label, const struct e2_sync_stats *s)
{
	size_t n =
		s->skipped < E2_SYNC_SKIP_MAX ? s->skipped : E2_SYNC_SKIP_MAX;

	for (size_t i = 0; i < n; i++) {
		if (s->skip[i].uid == 0)
			fprintf(f, "%s: skipped folder \"%s\": %s\n", label,
				s->skip[i].folder, s->skip[i].reason);
		else
			fprintf(f, "%s: skipped message UID %u in \"%s\": %s\n",
				label, (unsigned)s->skip[i].uid,
				s->skip[i].folder, s->skip[i].reason);
	}
	if (s->skipped > n)
		fprintf(f, "%s: skipped %zu more\n", label, s->skipped - n);
}

/*
 * A DAV type's part of --json (issue 10): ,"contacts":{...} or null when
 * the type was not in the run.
 */
static void
syncd_json_dav(FILE *f, const char *key, const struct e2_dav_stats *t)
{
	fprintf(f, ",\"%s\":", key);
	if (!t->tried) {
		fputs("null", f);
		return;
	}
	fputs("{\"state\":", f);
	cli_json_str(f, t->state);
	fprintf(f, ",\"status\":\"%s\",\"error\":", e2_status_name(t->status));
	cli_json_str(f, t->error);
	fputs(",\"url\":", f);
	cli_json_str(f, t->url);
	fprintf(f,
		",\"collections\":%zu,\"unchanged\":%zu,\"downloaded\":%zu,"
		"\"uploaded\":%zu,\"deleted_local\":%zu,"
		"\"deleted_server\":%zu,\"conflicts\":%zu,\"refused\":%zu,"
		"\"skipped\":%zu,\"cleartext_login\":%s}",
		t->collections, t->unchanged, t->downloaded, t->uploaded,
		t->deleted_local, t->deleted_server, t->conflicts, t->refused,
		t->skipped, t->cleartext_login ? "true" : "false");
}

/*
 * A DAV type's part of the summary line (issue 10): "; contacts: 3
 * downloaded, 1 uploaded (2 collections)", "; calendars: unchanged (1
 * collection)", "; contacts: no server found", "; contacts: failed" (the
 * cause is the skip line below).
 */
static void
syncd_text_dav(FILE *f, const char *what, const struct e2_dav_stats *t)
{
	const struct {
		size_t n;
		const char *word;
	} parts[] = {
		{t->downloaded, "downloaded"},
		{t->uploaded, "uploaded"},
		{t->deleted_local, "deleted here"},
		{t->deleted_server, "deleted on the server"},
		{t->conflicts, "conflict"},
	};
	bool any = false;

	if (!t->tried)
		return;
	fprintf(f, "; %s: ", what);
	if (strcmp(t->state, "not-found") == 0) {
		fputs("no server found", f);
		return;
	}
	if (strcmp(t->state, "failed") == 0) {
		fputs("failed", f);
		return;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].n == 0)
			continue;
		/* the last part: "2 conflicts (both versions kept)" */
		fprintf(f, "%s%zu %s%s%s", any ? ", " : "", parts[i].n,
			parts[i].word, i == 4 && parts[i].n > 1 ? "s" : "",
			i == 4 ? " (both versions kept)" : "");
		any = true;
	}
	if (!any)
		fputs("unchanged", f);
	fprintf(f, " (%zu %s)", t->collections,
		cli_plural(t->collections, "collection", "collections"));
}

/*
 * One line per account sync; flockfile() keeps workers' lines whole. label
 * is "{GUID} \"NAME\"" (syncd_label()), name the account's NAME or NULL.
 * With -q only a failed sync is printed, on stderr.
 */
static void
syncd_report(const struct syncd *d, const char *guid, const char *label,
	     const char *name, enum e2_status rc, const struct e2_err *err,
	     const struct e2_sync_stats *s, bool stopped)
{
	const struct syncd_args *a = d->a;

	if (d->tty) {
		/* the progress line goes before anything else is printed */
		flockfile(stderr);
		fputs("\r\033[K", stderr);
		fflush(stderr);
		funlockfile(stderr);
	}
	if (!a->json && a->quiet) {
		if (rc != E2_OK) {
			flockfile(stderr);
			syncd_stamp(a, stderr);
			fprintf(stderr, "%s: %s: %s: %s\n", SYNCD_NAME, label,
				e2_status_name(rc), err->msg);
			funlockfile(stderr);
		}
		return;
	}
	flockfile(stdout);
	if (a->json) {
		printf("{\"account\":");
		cli_json_str(stdout, guid);
		printf(",\"name\":");
		if (name != NULL)
			cli_json_str(stdout, name);
		else
			printf("null");
		printf(",\"status\":\"%s\",\"error\":", e2_status_name(rc));
		cli_json_str(stdout, rc == E2_OK ? "" : err->msg);
		printf(",\"outbox_migrated\":%zu,\"outbox_legacy_kept\":%zu",
		       s->outbox_migrated, s->outbox_legacy_kept);
		printf(",\"folders_created\":%zu,\"folders_removed\":%zu,"
		       "\"sent_filed\":%zu,\"sent_dropped\":%zu",
		       s->folders_created, s->folders_removed, s->sent_filed,
		       s->sent_dropped);
		printf(",\"uploaded\":%zu,\"moved\":%zu", s->uploaded,
		       s->moved);
		printf(",\"cleartext_login\":%s",
		       s->cleartext_login ? "true" : "false");
		printf(",\"messages\":%zu,\"bytes\":%llu,\"partial\":%zu,"
		       "\"omitted\":%zu,\"adopted\":%zu,\"folders\":%zu,"
		       "\"folders_skipped\":%zu,\"flags_pushed\":%zu,"
		       "\"flags_pulled\":%zu,\"removed_local\":%zu,"
		       "\"deleted_server\":%zu,\"sent\":%zu,"
		       "\"send_failed\":%zu,\"seconds\":%.3f,"
		       "\"stopped\":%s",
		       s->messages, s->bytes, s->partial, s->omitted,
		       s->adopted, s->folders, s->folders_skipped,
		       s->flags_pushed, s->flags_pulled, s->removed_local,
		       s->deleted_server, s->sent, s->send_failed, s->seconds,
		       stopped ? "true" : "false");
		syncd_json_skipped(stdout, s);
		fputs(",\"content\":[", stdout);
		for (size_t t = 0, k = 0; t < SYNCD_TYPES; t++)
			if ((s->content & syncd_type_bits[t]) != 0)
				printf("%s\"%s\"", k++ > 0 ? "," : "",
				       syncd_type_names[t]);
		putchar(']');
		syncd_json_dav(stdout, "contacts", &s->contacts);
		syncd_json_dav(stdout, "calendars", &s->calendars);
		printf("}\n");
	} else {
		char queued[48] = "";

		if (s->send_failed > 0)
			(void)snprintf(queued, sizeof(queued),
				       ", %zu kept queued", s->send_failed);
		syncd_stamp(a, stdout);
		printf("%s: %s", label,
		       rc != E2_OK      ? e2_status_name(rc)
		       : s->skipped > 0 ? "partial"
					: "ok");
		/* the mail part when mail was in the run (or nothing was) */
		if ((s->content & E2_SYNC_MAIL) != 0 || s->content == 0)
			printf(", %zu %s, %.1f MB, %zu sent%s", s->messages,
			       cli_plural(s->messages, "message", "messages"),
			       (double)s->bytes / 1e6, s->sent, queued);
		printf(", %.2f s%s%s%s", s->seconds, stopped ? ", stopped" : "",
		       rc == E2_OK ? "" : ": ", rc == E2_OK ? "" : err->msg);
		syncd_text_dav(stdout, "contacts", &s->contacts);
		syncd_text_dav(stdout, "calendars", &s->calendars);
		/* issue 9: a plaintext login is said, never only "ok" */
		if (s->cleartext_login)
			printf(" (login in cleartext: %s)", s->cleartext_why);
		putchar('\n');
		syncd_text_skipped(stdout, label, s);
	}
	fflush(stdout);
	funlockfile(stdout);
}

/*
 * The terminal line on stderr (a terminal, not -q): the folder being
 * downloaded with its totals ("{GUID} \"NAME\": INBOX 1300/3000, 12.3
 * MB"), or with several accounts at once what they all downloaded.
 */
static void
syncd_progress(void *ctx, const char *guid, const struct e2_sync_stats *s)
{
	struct syncd_worker *w = ctx;
	struct syncd *d = w->d;
	size_t running = 0, messages = 0;
	unsigned long long bytes = 0;

	(void)guid; /* w->label names it */
	if (d->a->quiet || !d->tty)
		return;
	(void)pthread_mutex_lock(&d->mu);
	w->messages = s->messages;
	w->bytes = s->bytes;
	for (size_t i = 0; i < d->n; i++)
		if (d->accts[i].running)
			running++;
	for (size_t i = 0; i < d->jobs; i++) {
		messages += d->workers[i].messages;
		bytes += d->workers[i].bytes;
	}
	(void)pthread_mutex_unlock(&d->mu);
	flockfile(stderr);
	if (running > 1)
		fprintf(stderr, "\r\033[K%zu accounts: %zu %s, %.1f MB",
			running, messages,
			cli_plural(messages, "message", "messages"),
			(double)bytes / 1e6);
	else if (s->progress_total > 0)
		fprintf(stderr, "\r\033[K%s: %s %zu/%zu, %.1f MB", w->label,
			s->progress_folder, s->progress_done, s->progress_total,
			(double)bytes / 1e6);
	else
		fprintf(stderr, "\r\033[K%s: %zu %s, %.1f MB", w->label,
			messages, cli_plural(messages, "message", "messages"),
			(double)bytes / 1e6);
	fflush(stderr);
	funlockfile(stderr);
}

/* ---- the account table --------------------------------------------------- */

/*
 * The accounts to sync: --account, else every stored one that syncs a
 * content type --content asks for (default: any email2 syncs). With
 * missing_ok a vanished --account is an empty list, not an error (reload).
 */
static enum e2_status
syncd_accounts(struct e2_store *st, const struct syncd_args *a, bool missing_ok,
	       char ***guids_out, size_t *n_out, struct syncd_sched **sched_out,
	       char ***names_out, struct e2_err *err)
{
	char **all = NULL, **names = NULL;
	size_t n = 0, kept = 0;
	struct syncd_sched *sched = NULL;
	unsigned asked = a->content != 0 ? a->content : E2_SYNC_ALL;
	enum e2_status rc;

	rc = e2_account_list(st, &all, &n, err);
	if (rc != E2_OK)
		return rc;
	sched = calloc(n + 1, sizeof(*sched));
	names = calloc(n + 1, sizeof(*names));
	if (sched == NULL || names == NULL) {
		e2_strv_free(&all, n);
		free(sched);
		free(names);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct e2_account *acct = NULL;
		struct e2_err e = {0};
		bool keep = false;

		if (a->account_guid == NULL ||
		    strcmp(all[i], a->account_guid) == 0) {
			if (e2_account_load(st, all[i], &acct, &e) == E2_OK &&
			    (acct->syncingcontenttypes & asked) != 0) {
				keep = true;
				sched[kept].types =
					acct->syncingcontenttypes & asked;
				for (size_t t = 0; t < SYNCD_TYPES; t++)
					sched[kept].every[t] =
						e2_account_schedule(
							acct,
							syncd_type_bits[t]);
				/* its NAME beside its GUID in every line */
				if (acct->name != NULL && acct->name[0] != '\0')
					names[kept] = strdup(acct->name);
			}
		}
		e2_account_free(&acct);
		if (keep) {
			char *g = all[i];

			all[i] = all[kept];
			all[kept++] = g;
		}
	}
	if (a->account_guid != NULL && kept == 0 && !missing_ok) {
		e2_strv_free(&all, n);
		e2_strv_free(&names, n);
		free(sched);
		return e2_fail(err, E2_EINVAL,
			       "account %s: syncs none of the content types "
			       "asked (its SYNCINGCONTENTTYPES names none of "
			       "Mail 0x2, Contacts 0x1, Appointments 0x4, "
			       "Tasks 0x8%s)",
			       a->account_guid,
			       a->content != 0 ? " that --content names" : "");
	}
	/* free the tail we do not keep */
	for (size_t i = kept; i < n; i++) {
		free(all[i]);
		all[i] = NULL;
	}
	*guids_out = all;
	*n_out = kept;
	*sched_out = sched;
	*names_out = names;
	return E2_OK;
}

/* "{GUID}" or "{GUID} \"NAME\"" (NAME quoted) into buf, for every line. */
static const char *
syncd_label(const char *guid, const char *name, char *buf, size_t len)
{
	char q[160];

	if (name == NULL)
		(void)snprintf(buf, len, "%s", guid);
	else
		(void)snprintf(buf, len, "%s \"%s\"", guid,
			       e2_quote(q, sizeof(q), name, strlen(name)));
	return buf;
}

/* ---- --dry-run (issue 9) ------------------------------------------------ */

struct syncd_dry {
	const struct syncd_args *a;
	const char *guid;
	size_t lines;
};

/* e2_sync_preview_fn: one line per action kind and folder */
static void
syncd_dry_line(void *ctx, const char *folder, const char *kind, size_t count,
	       unsigned long long bytes, const char *detail)
{
	struct syncd_dry *dr = ctx;

	dr->lines++;
	if (dr->a->json) {
		fputs("{\"account\":", stdout);
		cli_json_str(stdout, dr->guid);
		fputs(",\"folder\":", stdout);
		cli_json_str(stdout, folder);
		fputs(",\"action\":", stdout);
		cli_json_str(stdout, kind);
		printf(",\"count\":%zu,\"bytes\":%llu,\"detail\":", count,
		       bytes);
		cli_json_str(stdout, detail);
		fputs("}\n", stdout);
		return;
	}
	printf("%s %s: %s", dr->guid, folder[0] != '\0' ? folder : "-", kind);
	if (count > 0)
		printf(" %zu", count);
	if (bytes > 0)
		printf(" (%llu bytes)", bytes);
	if (detail[0] != '\0')
		printf(": %s", detail);
	putchar('\n');
}

/*
 * email2-syncd --dry-run: every account (or --account) previewed, nothing
 * changed (e2_sync_account() with dry_run); "nothing to do" when a
 * preview had no line. 0 every preview ran, 1 one failed or the store.
 */
static int
syncd_dry_run(struct syncd_args *a)
{
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	char **guids = NULL, **names = NULL;
	struct syncd_sched *sched = NULL;
	size_t n = 0;
	int rc = SYNCD_EXIT_OK;

	/* only email2-provision creates a store; a preview writes nothing */
	if (e2_store_open_existing(a->store, &st, &err) != E2_OK ||
	    (a->account != NULL &&
	     e2_account_resolve(st, a->account, &a->account_guid, &err) !=
		     E2_OK) ||
	    syncd_accounts(st, a, false, &guids, &n, &sched, &names, &err) !=
		    E2_OK) {
		cli_error(&syncd_cli, &err);
		rc = SYNCD_EXIT_FAILED;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct syncd_dry dr = {a, guids[i], 0};
		struct e2_sync_opts o = {0};
		struct e2_err e = {0};

		o.cafile = a->cafile;
		o.timeout_ms = a->timeout_ms;
		o.trace = a->verbose > 0 ? stderr : NULL;
		o.dry_run = true;
		o.content = a->content;
		o.preview = syncd_dry_line;
		o.preview_ctx = &dr;
		if (e2_sync_account(st, guids[i], &o, NULL, &e) != E2_OK) {
			cli_error(&syncd_cli, &e);
			rc = SYNCD_EXIT_FAILED;
		} else if (dr.lines == 0 && !a->json) {
			printf("%s: nothing to do\n", guids[i]);
		}
	}
out:
	e2_strv_free(&guids, n);
	e2_strv_free(&names, n);
	free(sched);
	free(a->account_guid);
	a->account_guid = NULL;
	e2_store_close(&st);
	return rc;
}

static struct syncd_acct *
syncd_find(struct syncd *d, const char *guid)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->accts[i].guid, guid) == 0)
			return &d->accts[i];
	return NULL;
}

static void
syncd_drop(struct syncd *d, size_t i)
{
	free(d->accts[i].guid);
	free(d->accts[i].name);
	d->accts[i] = d->accts[--d->n];
}

/*
 * Replaces the table with guids (taken over, with their schedules) under
 * d->mu: known accounts keep their last runs (a changed LINGER or
 * *SYNCSCHEDULE applies from the type's last sync), new ones are added
 * (every type with an interval due now), vanished ones are dropped, or
 * marked gone while a worker has them.
 */
static enum e2_status
syncd_merge(struct syncd *d, char **guids, size_t n,
	    const struct syncd_sched *sched, char **names, struct e2_err *err)
{
	struct syncd_acct *v;

	for (size_t i = 0; i < d->n; i++)
		d->accts[i].gone = true;
	v = realloc(d->accts, (d->n + n + 1) * sizeof(*v));
	if (v == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	d->accts = v;
	for (size_t i = 0; i < n; i++) {
		struct syncd_acct *x = syncd_find(d, guids[i]);

		if (x == NULL) {
			x = &d->accts[d->n++];
			memset(x, 0, sizeof(*x));
			x->guid = guids[i];
			guids[i] = NULL;
			x->asked = d->a->once;
		}
		x->sched = sched[i];
		x->gone = false;
		/* a reload brings the NAME as it is now */
		free(x->name);
		x->name = names[i];
		names[i] = NULL;
	}
	for (size_t i = d->n; i-- > 0;)
		if (d->accts[i].gone && !d->accts[i].running)
			syncd_drop(d, i);
	return E2_OK;
}

/*
 * The E2_SYNC_* bits of x due at now: every type it syncs when asked;
 * else each type with an interval whose last run is that long ago (never
 * run: due now). *wake (0: none yet) is lowered to the earliest time a
 * type not due now falls due. Pure.
 */
static unsigned
syncd_due(const struct syncd_acct *x, bool once, double now, double *wake)
{
	unsigned due = 0;

	if (x->asked)
		return x->sched.types;
	for (size_t t = 0; !once && t < SYNCD_TYPES; t++) {
		double at;

		if ((x->sched.types & syncd_type_bits[t]) == 0 ||
		    x->sched.every[t] == 0)
			continue;
		at = x->last[t] == 0
			     ? now
			     : x->last[t] + (double)x->sched.every[t] * 60;
		if (at <= now)
			due |= x->sched.types & syncd_type_bits[t];
		else if (*wake == 0 || at < *wake)
			*wake = at;
	}
	return due;
}

/*
 * Under d->mu: the index of an account with a type due now (its types in
 * *due_out), or -1 and in *wake_out the earliest monotonic time one falls
 * due (0: none, until a signal).
 */
static long
syncd_pick(struct syncd *d, double now, unsigned *due_out, double *wake_out)
{
	double wake = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct syncd_acct *x = &d->accts[i];
		unsigned due;

		if (x->running || x->gone)
			continue;
		due = syncd_due(x, d->a->once, now, &wake);
		if (due != 0) {
			*due_out = due;
			return (long)i;
		}
	}
	*wake_out = wake;
	return -1;
}

/* ---- workers ------------------------------------------------------------- */

static void
syncd_sync(struct syncd_worker *w, const char *guid, const char *name,
	   unsigned due)
{
	struct syncd *d = w->d;
	struct e2_sync_opts o = {0};
	struct e2_sync_stats s = {0};
	struct e2_err err = {0};
	char label[512];
	enum e2_status rc;
	bool stopped;

	o.cafile = d->a->cafile;
	o.timeout_ms = d->a->timeout_ms;
	o.batch_msgs = d->a->batch_msgs;
	o.content = due;
	o.force_delete = d->a->force_delete;
	o.stop = &d->stop;
	o.progress = syncd_progress;
	o.progress_ctx = w;
	o.trace = d->a->verbose > 0 ? stderr : NULL;
	w->label = syncd_label(guid, name, label, sizeof(label));
	rc = e2_sync_account(w->st, guid, &o, &s, &err);
	/* a stop seen now may have cut this sync short (stats say how far) */
	stopped = __atomic_load_n(&d->stop, __ATOMIC_RELAXED) != 0;
	syncd_report(d, guid, label, name, rc, &err, &s, stopped);
	w->label = NULL;
	(void)pthread_mutex_lock(&d->mu);
	/* an error while stopping is the stop's: the run was interrupted */
	if (stopped)
		d->interrupted = true;
	else if (rc != E2_OK)
		d->failed = true;
	if (s.skipped > 0)
		d->partial = true;
	(void)pthread_mutex_unlock(&d->mu);
}

static void *
syncd_worker_main(void *arg)
{
	struct syncd_worker *w = arg;
	struct syncd *d = w->d;

	(void)pthread_mutex_lock(&d->mu);
	while (!d->term) {
		double wake = 0;
		unsigned due = 0;
		long i = syncd_pick(d, syncd_now(), &due, &wake);
		struct syncd_acct *x;
		char *guid, *name = NULL;

		if (i < 0) {
			struct timespec ts;

			/* --once: nothing is asked any more */
			if (d->a->once)
				break;
			if (wake == 0) {
				(void)pthread_cond_wait(&d->cv, &d->mu);
				continue;
			}
			ts.tv_sec = (time_t)wake;
			ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
			(void)pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			continue;
		}
		x = &d->accts[i];
		guid = strdup(x->guid);
		if (x->name != NULL)
			name = strdup(x->name);
		if (guid == NULL || (x->name != NULL && name == NULL)) {
			free(guid);
			free(name);
			d->failed = true;
			break;
		}
		x->running = true;
		x->asked = false;
		w->messages = 0;
		w->bytes = 0;
		(void)pthread_mutex_unlock(&d->mu);

		syncd_sync(w, guid, name, due);

		(void)pthread_mutex_lock(&d->mu);
		w->messages = 0;
		w->bytes = 0;
		/* the table may have changed meanwhile: find it again */
		x = syncd_find(d, guid);
		if (x != NULL) {
			x->running = false;
			for (size_t t = 0; t < SYNCD_TYPES; t++)
				if ((due & syncd_type_bits[t]) != 0)
					x->last[t] = syncd_now();
			if (x->gone)
				syncd_drop(d, (size_t)(x - d->accts));
		}
		free(guid);
		free(name);
	}
	d->live--;
	(void)pthread_cond_broadcast(&d->cv);
	(void)pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Under d->mu: starts workers up to min(jobs, accounts), at least one. */
static void
syncd_grow(struct syncd *d)
{
	size_t want = d->n < d->jobs ? d->n : d->jobs;

	if (want == 0)
		want = 1;
	for (size_t i = 0; i < want; i++) {
		struct syncd_worker *w = &d->workers[i];

		if (w->started || w->st == NULL)
			continue;
		if (pthread_create(&w->thread, NULL, syncd_worker_main, w) !=
		    0) {
			fprintf(stderr, "%s: cannot start a worker thread\n",
				SYNCD_NAME);
			continue;
		}
		w->started = true;
		d->live++;
	}
}

/* ---- signals ------------------------------------------------------------- */

static void
syncd_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

/* The only place signals are taken: flags under d->mu, then a broadcast. */
static void *
syncd_signal_main(void *arg)
{
	struct syncd *d = arg;
	sigset_t set;

	syncd_sigset(&set);
	for (;;) {
		int sig = 0;

		if (sigwait(&set, &sig) != 0)
			continue;
		(void)pthread_mutex_lock(&d->mu);
		if (d->quit) {
			(void)pthread_mutex_unlock(&d->mu);
			break;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			d->term = true;
			d->termsig = sig;
			__atomic_store_n(&d->stop, 1, __ATOMIC_RELAXED);
		} else if (sig == SIGHUP && !d->a->once) {
			d->hup = true;
		} else if (sig == SIGUSR1 && !d->a->once) {
			for (size_t i = 0; i < d->n; i++)
				d->accts[i].asked = true;
		}
		(void)pthread_cond_broadcast(&d->cv);
		(void)pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

/* ---- main ---------------------------------------------------------------- */

/* Re-reads the accounts (SIGHUP); on failure keeps the table as it is. */
static void
syncd_reload(struct syncd *d, struct e2_store *st)
{
	char **guids = NULL, **names = NULL;
	struct syncd_sched *sched = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	enum e2_status rc;

	rc = syncd_accounts(st, d->a, true, &guids, &n, &sched, &names, &err);
	if (rc == E2_OK) {
		(void)pthread_mutex_lock(&d->mu);
		rc = syncd_merge(d, guids, n, sched, names, &err);
		if (rc == E2_OK)
			syncd_grow(d);
		(void)pthread_cond_broadcast(&d->cv);
		(void)pthread_mutex_unlock(&d->mu);
	}
	if (rc != E2_OK)
		syncd_error(d->a, &err);
	else
		syncd_log(d->a, "accounts re-read, %zu to sync", n);
	e2_strv_free(&guids, n);
	e2_strv_free(&names, n);
	free(sched);
}

static int
syncd_run(struct syncd *d, struct e2_store *st)
{
	char **guids = NULL, **names = NULL;
	struct syncd_sched *sched = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	int rc = SYNCD_EXIT_FAILED;

	if (syncd_accounts(st, d->a, false, &guids, &n, &sched, &names, &err) !=
	    E2_OK) {
		syncd_error(d->a, &err);
		goto out;
	}
	/* --once keeps syncing one account after another unless asked */
	d->jobs = d->a->once ? 1 : SYNCD_DEFAULT_JOBS;
	if (d->a->jobs != 0)
		d->jobs = d->a->jobs;
	d->workers = calloc(d->jobs, sizeof(*d->workers));
	if (d->workers == NULL) {
		fprintf(stderr, "%s: out of memory\n", SYNCD_NAME);
		goto out;
	}
	/* one store handle (SQLite connection) per worker, opened up front */
	for (size_t i = 0; i < d->jobs; i++) {
		d->workers[i].d = d;
		if (i >= n && d->a->once)
			continue;
		if (e2_store_open_existing(d->a->store, &d->workers[i].st,
					   &err) != E2_OK) {
			syncd_error(d->a, &err);
			goto out;
		}
	}
	if (!d->a->once)
		syncd_log(d->a, "started (pid %ld), store %s, %zu %s to sync",
			  (long)getpid(), e2_store_dir(st), n,
			  cli_plural(n, "account", "accounts"));
	(void)pthread_mutex_lock(&d->mu);
	if (syncd_merge(d, guids, n, sched, names, &err) != E2_OK) {
		(void)pthread_mutex_unlock(&d->mu);
		syncd_error(d->a, &err);
		goto out;
	}
	syncd_grow(d);
	if (d->live == 0 && d->n > 0) {
		(void)pthread_mutex_unlock(&d->mu);
		goto out;
	}
	while (!d->term && d->live > 0) {
		if (d->hup) {
			d->hup = false;
			(void)pthread_mutex_unlock(&d->mu);
			syncd_reload(d, st);
			(void)pthread_mutex_lock(&d->mu);
			continue;
		}
		(void)pthread_cond_wait(&d->cv, &d->mu);
	}
	(void)pthread_cond_broadcast(&d->cv);
	/* --once: an account never started because of the stop is not done */
	for (size_t i = 0; d->a->once && d->term && i < d->n; i++)
		if (d->accts[i].asked)
			d->interrupted = true;
	(void)pthread_mutex_unlock(&d->mu);
	rc = SYNCD_EXIT_OK;
out:
	for (size_t i = 0; d->workers != NULL && i < d->jobs; i++) {
		if (d->workers[i].started)
			(void)pthread_join(d->workers[i].thread, NULL);
		e2_store_close(&d->workers[i].st);
	}
	free(d->workers);
	d->workers = NULL;
	/* the workers are done: what they did decides (a stop cuts theirs) */
	if (rc == SYNCD_EXIT_OK && d->a->once && d->failed)
		rc = SYNCD_EXIT_FAILED;
	else if (rc == SYNCD_EXIT_OK && d->a->once &&
		 (d->partial || d->interrupted))
		rc = SYNCD_EXIT_PARTIAL;
	if (d->a->once && d->interrupted)
		syncd_log(d->a, "interrupted by %s: the sync is partial",
			  d->termsig == SIGINT ? "SIGINT" : "SIGTERM");
	else if (!d->a->once && d->term)
		syncd_log(d->a, "stopped by %s",
			  d->termsig == SIGINT ? "SIGINT" : "SIGTERM");
	e2_strv_free(&guids, n);
	e2_strv_free(&names, n);
	free(sched);
	return rc;
}

int
main(int argc, char **argv)
{
	struct syncd_args a;
	struct syncd d;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	pthread_condattr_t ca;
	pthread_t sigthread;
	sigset_t set;
	int pidfd = -1;
	int rc;

	rc = syncd_parse(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? SYNCD_EXIT_OK : rc;
	if (a.fetch_full != NULL)
		return syncd_fetch_full(&a);
	/* the daemon's lines are stamped unless journald stamps them */
	a.stamp = !a.once && !syncd_stderr_is_journal();
	/*
	 * An ignored signal is discarded, never seen by sigwait(): a shell
	 * starts background jobs with SIGINT ignored, so "kill -INT" (or a
	 * stop) would be lost. Every signal we take gets its default back.
	 */
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGUSR1, SIG_DFL);
	if (a.dry_run)
		return syncd_dry_run(&a);
	/* blocked in every thread, the engine's included: see sigwait */
	syncd_sigset(&set);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&d, 0, sizeof(d));
	d.a = &a;
	/* progress goes to stderr, on a terminal only */
	d.tty = isatty(STDERR_FILENO) != 0 && !a.quiet;
	(void)pthread_mutex_init(&d.mu, NULL);
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&d.cv, &ca);
	(void)pthread_condattr_destroy(&ca);
	if (pthread_create(&sigthread, NULL, syncd_signal_main, &d) != 0) {
		fprintf(stderr, "%s: cannot start the signal thread\n",
			SYNCD_NAME);
		rc = SYNCD_EXIT_FAILED;
		goto out;
	}
	/* only email2-provision creates a store; a damaged one stops us */
	if (e2_store_open_existing(a.store, &st, &err) != E2_OK ||
	    (a.account != NULL &&
	     e2_account_resolve(st, a.account, &a.account_guid, &err) !=
		     E2_OK)) {
		syncd_error(&a, &err);
		rc = SYNCD_EXIT_FAILED;
	} else {
		/*
		 * One daemon per store (issue 9): daemon mode holds
		 * <store>/email2-syncd.pid locked while it runs, and a second
		 * daemon on the same store -- however the path is spelt, the
		 * lock is on the file -- exits 1 naming the holder's pid.
		 * email2-sendmail reads the pid only while the lock is held
		 * and sends SIGUSR1 (e2_syncd_wake()). --once takes no store
		 * lock, as mbsync beside a running mbsync: the per-account
		 * locks serialise it with the daemon (an account the daemon
		 * is syncing is ebusy in that run).
		 */
		long holder = 0;

		if (!a.once && e2_syncd_pidfile(st, &pidfd, &err) == E2_OK &&
		    pidfd < 0 && e2_syncd_running(st, &holder, &err) == E2_OK)
			(void)e2_fail(&err, E2_EBUSY,
				      "store %s: another email2-syncd is "
				      "running (pid %ld holds %s/%s)",
				      e2_store_dir(st), holder,
				      e2_store_dir(st), E2_SYNCD_PID_FILE);
		if (!a.once && pidfd < 0) {
			syncd_error(&a, &err);
			rc = SYNCD_EXIT_FAILED;
		} else {
			rc = syncd_run(&d, st);
		}
		if (pidfd >= 0)
			(void)close(pidfd);
	}
	(void)pthread_mutex_lock(&d.mu);
	d.quit = true;
	(void)pthread_mutex_unlock(&d.mu);
	(void)pthread_kill(sigthread, SIGUSR1);
	(void)pthread_join(sigthread, NULL);
out:
	e2_store_close(&st);
	for (size_t i = 0; i < d.n; i++) {
		free(d.accts[i].guid);
		free(d.accts[i].name);
	}
	free(d.accts);
	free(a.account_guid);
	(void)pthread_cond_destroy(&d.cv);
	(void)pthread_mutex_destroy(&d.mu);
	return rc;
}
