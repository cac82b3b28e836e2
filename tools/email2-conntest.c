/* SPDX-License-Identifier: MIT */
/* email2-conntest.c -- test an account's servers: connect, TLS, log in */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "email2.h"
#include "cli.h"
#include "tool.h"

#define CONNTEST_NAME "email2-conntest"
#define CONNTEST_MAX_PASSWORD 4096

/*
 * Exit statuses (email2-conntest(1)): enum cli_exit, as in every tool. A
 * failed side is 1 whatever the cause (issue 9: one convention); the
 * cause is the side's "status" in the report and in --json (eresolve,
 * econnect, ecert, eauth, enostarttls, eproto, ...), which scripts read.
 */
struct conntest_args {
	const char *store;
	const char *guid;
	const char *in;
	const char *out;
	const char *service;
	const char *user;
	const char *password_file;
	const char *domain;
	const char *cafile;
	bool in_require_ssl;
	bool out_require_ssl;
	bool auth_required;
	bool json;
	unsigned timeout_ms;
	/* issue 9, certificate pins: --pin FP, --unpin[=HOST] */
	const char *pin;        /* the fingerprint to pin, as typed */
	bool unpin;             /* remove pins instead of testing */
	const char *unpin_host; /* NULL: every pin of the account */
	/* issue 10: which content types; none given: every one the account
	 * names (the mail sides always, as before) */
	bool mail;
	bool contacts;
	bool calendars;
};

static struct cli conntest_cli = {
	.prog = CONNTEST_NAME,
	.synopsis = "[OPTION]... ACCOUNT\n"
		    "[OPTION]... [SETTING]... --in|--out HOST[:PORT]",
	.help = "Connects to an account's incoming and outgoing servers "
		"along\n"
		"the fallback chain (implicit TLS, STARTTLS, plain when TLS "
		"is\n"
		"not required), logs in, and reports every attempt. ACCOUNT "
		"is\n"
		"its GUID (any form, any case), NAME or REPLYADDR.\n"
		"\n"
		"Options:\n"
		"      --store DIR          account store (default "
		"$EMAIL2_HOME,\n"
		"                           $XDG_DATA_HOME/email2)\n"
		"      --cafile FILE        trusted CA certificates (default\n"
		"                           $EMAIL2_CAFILE, else the system "
		"store)\n"
		"      --timeout SECONDS    deadline of each attempt (default "
		"10)\n"
		"      --json               print one JSON document\n"
		"      --pin FINGERPRINT    trust exactly this certificate "
		"(SHA-256)\n"
		"                           for the host of ACCOUNT that "
		"presented\n"
		"                           it in this run, then test again\n"
		"      --unpin[=HOST]       remove ACCOUNT's pin for HOST "
		"(all: "
		"none)\n"
		"      --mail               test the incoming and outgoing "
		"servers\n"
		"      --contacts           test CardDAV (CONTACTSSERVER or "
		"discovery)\n"
		"      --calendars          test CalDAV (CALENDARSERVER or "
		"discovery)\n"
		"                           (none of these: the mail servers "
		"and the\n"
		"                           types SYNCINGCONTENTTYPES names)\n"
		"  -v, --verbose            protocol trace on stderr (no "
		"secrets)\n"
		"Settings (instead of ACCOUNT; either side may be given "
		"alone):\n"
		"      --in HOST[:PORT]     incoming server\n"
		"      --service imap4|pop3 incoming protocol (default imap4)\n"
		"      --out HOST[:PORT]    outgoing (SMTP submission) server\n"
		"      --user NAME          login name\n"
		"      --password-file FILE password, first line (- is stdin)\n"
		"      --domain DOMAIN      login domain\n"
		"      --in-require-ssl     incoming side: never without TLS\n"
		"      --out-require-ssl    outgoing side: never without TLS\n"
		"      --auth-required      outgoing side logs in\n"
		"With -q nothing is printed but a failed side's error.\n",
	.exits = "  0  every tested side connected and logged in\n"
		 "  1  a side failed (its status says why: eresolve, "
		 "econnect,\n"
		 "     etimeout, etls, ecert, eauth, enostarttls, einsecure,\n"
		 "     eproto), or the store or account could not be read\n"
		 "  2  usage error: a bad option, setting or file argument\n",
};

static enum cli_exit
conntest_exit_for(const struct e2_side_report *s)
{
	return !s->tested || s->ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* --timeout: seconds, fractions allowed, 0 < S <= 3600 */
static enum e2_status
conntest_parse_timeout(const char *s, unsigned *ms_out, struct e2_err *err)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 ||
	    v > 3600)
		return e2_fail(err, E2_EINVAL,
			       "--timeout \"%s\": not a number of seconds in "
			       "(0, 3600]",
			       s);
	*ms_out = (unsigned)(v * 1000 + 0.5);
	if (*ms_out == 0)
		*ms_out = 1;
	return E2_OK;
}

static enum e2_status
conntest_strdup(const char *s, char **dst, struct e2_err *err)
{
	char *d = strdup(s);

	if (d == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	free(*dst);
	*dst = d;
	return E2_OK;
}

/*
 * Reads the password file's first line into a->authsecret. Every buffer that
 * held the password is wiped before it is freed.
 */
static enum e2_status
conntest_read_password(const char *path, struct e2_account *a,
		       struct e2_err *err)
{
	char *buf = NULL;
	size_t len = 0, total;
	enum e2_status rc;

	rc = tool_read_file(path, CONNTEST_MAX_PASSWORD, &buf, &len, err);
	if (rc != E2_OK)
		return rc;
	total = len;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			len = i;
			break;
		}
	}
	if (memchr(buf, '\0', len) != NULL) {
		rc = e2_fail(err, E2_EINVAL, "%s: password holds a NUL byte",
			     path);
		goto out;
	}
	if (a->authsecret != NULL) {
		e2_wipe(a->authsecret, strlen(a->authsecret));
		free(a->authsecret);
	}
	a->authsecret = malloc(len + 1);
	if (a->authsecret == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(a->authsecret, buf, len);
	a->authsecret[len] = '\0';
out:
	e2_wipe(buf, total);
	free(buf);
	return rc;
}

static enum e2_status
conntest_build_account(const struct conntest_args *args,
		       struct e2_account **acct_out, struct e2_err *err)
{
	struct e2_account *a = NULL;
	enum e2_status rc = E2_OK;

	a = e2_account_new();
	if (a == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (args->in != NULL) {
		rc = e2_server_parse(args->in, &a->in, err);
		if (rc != E2_OK)
			goto out;
	}
	if (args->out != NULL) {
		rc = e2_server_parse(args->out, &a->out, err);
		if (rc != E2_OK)
			goto out;
	}
	if (args->service == NULL || strcmp(args->service, "imap4") == 0 ||
	    strcmp(args->service, "imap") == 0) {
		a->service = E2_SERVICE_IMAP4;
	} else if (strcmp(args->service, "pop3") == 0) {
		a->service = E2_SERVICE_POP3;
	} else {
		rc = e2_fail(err, E2_EINVAL,
			     "--service \"%s\": not imap4 or pop3",
			     args->service);
		goto out;
	}
	if (args->user != NULL) {
		rc = conntest_strdup(args->user, &a->authname, err);
		if (rc != E2_OK)
			goto out;
	}
	if (args->domain != NULL) {
		rc = conntest_strdup(args->domain, &a->domain, err);
		if (rc != E2_OK)
			goto out;
	}
	if (args->password_file != NULL) {
		rc = conntest_read_password(args->password_file, a, err);
		if (rc != E2_OK)
			goto out;
	}
	a->in_ssl_required = args->in_require_ssl;
	a->out_ssl_required = args->out_require_ssl;
	a->authrequired = args->auth_required;
	*acct_out = a;
	a = NULL;
out:
	e2_account_free(&a);
	return rc;
}

/* Opens the store (kept open for the account's pins) and loads GUID. */
static enum e2_status
conntest_load_account(const struct conntest_args *args,
		      struct e2_store **st_out, struct e2_account **acct_out,
		      struct e2_err *err)
{
	struct e2_store *st = NULL;
	enum e2_status rc;

	char *guid = NULL;

	rc = e2_store_open_existing(args->store, &st, err);
	if (rc != E2_OK)
		goto out;
	rc = e2_account_resolve(st, args->guid, &guid, err);
	if (rc != E2_OK)
		goto out;
	rc = e2_account_load(st, guid, acct_out, err);
	if (rc != E2_OK)
		goto out;
	*st_out = st;
	st = NULL;
out:
	free(guid);
	e2_store_close(&st);
	return rc;
}

enum conntest_opt {
	CONNTEST_OPT_STORE = 256,
	CONNTEST_OPT_IN,
	CONNTEST_OPT_OUT,
	CONNTEST_OPT_SERVICE,
	CONNTEST_OPT_USER,
	CONNTEST_OPT_PASSWORD_FILE,
	CONNTEST_OPT_DOMAIN,
	CONNTEST_OPT_IN_REQUIRE_SSL,
	CONNTEST_OPT_OUT_REQUIRE_SSL,
	CONNTEST_OPT_AUTH_REQUIRED,
	CONNTEST_OPT_CAFILE,
	CONNTEST_OPT_TIMEOUT,
	CONNTEST_OPT_JSON,
	CONNTEST_OPT_PIN,
	CONNTEST_OPT_UNPIN,
	CONNTEST_OPT_MAIL,
	CONNTEST_OPT_CONTACTS,
	CONNTEST_OPT_CALENDARS,
};

static const struct option conntest_options[] = {
	{"store", required_argument, NULL, CONNTEST_OPT_STORE},
	{"in", required_argument, NULL, CONNTEST_OPT_IN},
	{"out", required_argument, NULL, CONNTEST_OPT_OUT},
	{"service", required_argument, NULL, CONNTEST_OPT_SERVICE},
	{"user", required_argument, NULL, CONNTEST_OPT_USER},
	{"password-file", required_argument, NULL, CONNTEST_OPT_PASSWORD_FILE},
	{"domain", required_argument, NULL, CONNTEST_OPT_DOMAIN},
	{"in-require-ssl", no_argument, NULL, CONNTEST_OPT_IN_REQUIRE_SSL},
	{"out-require-ssl", no_argument, NULL, CONNTEST_OPT_OUT_REQUIRE_SSL},
	{"auth-required", no_argument, NULL, CONNTEST_OPT_AUTH_REQUIRED},
	{"cafile", required_argument, NULL, CONNTEST_OPT_CAFILE},
	{"timeout", required_argument, NULL, CONNTEST_OPT_TIMEOUT},
	{"json", no_argument, NULL, CONNTEST_OPT_JSON},
	{"pin", required_argument, NULL, CONNTEST_OPT_PIN},
	{"unpin", optional_argument, NULL, CONNTEST_OPT_UNPIN},
	{"mail", no_argument, NULL, CONNTEST_OPT_MAIL},
	{"contacts", no_argument, NULL, CONNTEST_OPT_CONTACTS},
	{"calendars", no_argument, NULL, CONNTEST_OPT_CALENDARS},
	CLI_COMMON_OPTIONS,
};

/* Returns -1 to go on, else the exit status (help, version, usage error). */
static int
conntest_parse_args(int argc, char **argv, struct conntest_args *args,
		    struct e2_err *err)
{
	bool settings = false;
	int c;

	while ((c = cli_next(&conntest_cli, argc, argv, "",
			     conntest_options)) != -1) {
		switch (c) {
		case CLI_DONE:
			return conntest_cli.status;
		case CONNTEST_OPT_STORE:
			args->store = optarg;
			break;
		case CONNTEST_OPT_IN:
			args->in = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_OUT:
			args->out = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_SERVICE:
			args->service = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_USER:
			args->user = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_PASSWORD_FILE:
			args->password_file = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_DOMAIN:
			args->domain = optarg;
			settings = true;
			break;
		case CONNTEST_OPT_IN_REQUIRE_SSL:
			args->in_require_ssl = true;
			settings = true;
			break;
		case CONNTEST_OPT_OUT_REQUIRE_SSL:
			args->out_require_ssl = true;
			settings = true;
			break;
		case CONNTEST_OPT_AUTH_REQUIRED:
			args->auth_required = true;
			settings = true;
			break;
		case CONNTEST_OPT_CAFILE:
			args->cafile = optarg;
			break;
		case CONNTEST_OPT_TIMEOUT:
			if (conntest_parse_timeout(optarg, &args->timeout_ms,
						   err) != E2_OK)
				return cli_usage(&conntest_cli, "%s", err->msg);
			break;
		case CONNTEST_OPT_JSON:
			args->json = true;
			break;
		case CONNTEST_OPT_PIN:
			args->pin = optarg;
			break;
		case CONNTEST_OPT_UNPIN:
			args->unpin = true;
			args->unpin_host = optarg;
			break;
		case CONNTEST_OPT_MAIL:
			args->mail = true;
			break;
		case CONNTEST_OPT_CONTACTS:
			args->contacts = true;
			break;
		case CONNTEST_OPT_CALENDARS:
			args->calendars = true;
			break;
		default:
			return cli_usage(&conntest_cli, "unexpected option");
		}
	}
	if (optind < argc)
		args->guid = argv[optind++];
	if (optind < argc)
		return cli_usage(&conntest_cli, "unexpected argument \"%s\"",
				 argv[optind]);
	if (args->guid != NULL && settings)
		return cli_usage(&conntest_cli,
				 "an account and server settings exclude each "
				 "other");
	if (args->guid == NULL && args->in == NULL && args->out == NULL)
		return cli_usage(&conntest_cli,
				 "no account, --in or --out given");
	if ((args->pin != NULL || args->unpin) && args->guid == NULL)
		return cli_usage(&conntest_cli,
				 "--pin and --unpin need an account");
	if (args->pin != NULL && args->unpin)
		return cli_usage(&conntest_cli,
				 "--pin and --unpin exclude each other");
	if (args->pin != NULL) {
		char canon[72];
		struct e2_err perr = {0};

		if (e2_pin_parse(args->pin, canon, &perr) != E2_OK)
			return cli_usage(&conntest_cli, "%s", perr.msg);
	}
	if ((args->contacts || args->calendars) && args->guid == NULL)
		return cli_usage(&conntest_cli,
				 "--contacts and --calendars need an account");
	if (args->guid == NULL && args->store != NULL)
		return cli_usage(&conntest_cli, "--store needs an account");
	if (args->cafile == NULL) {
		const char *env = getenv("EMAIL2_CAFILE");

		if (env != NULL && env[0] != '\0')
			args->cafile = env;
	}
	return -1;
}

/*
 * --pin (issue 9): pins FP for the hosts of the account that presented
 * exactly that certificate in the run rep describes (e2_pin_seen()), says
 * what it pinned, and runs the test again into rep with the pin in force.
 * Nothing seen: the first run's report, so that the user sees what the
 * servers presented, then the error; returns E2_ECERT.
 * Errors: E2_ECERT, E2_ESTORE, E2_EINVAL, E2_ENOMEM.
 */
static enum e2_status
conntest_pin(const struct conntest_args *args, struct e2_store *st,
	     const struct e2_account *a, const struct e2_conntest_opts *opts,
	     struct e2_conntest_report *rep, struct e2_err *err)
{
	struct e2_pin_result res;
	FILE *say = args->json ? stderr : stdout;
	char canon[72];
	enum e2_status rc;

	rc = e2_pin_seen(st, a->guid, rep, args->pin, &res, err);
	if (rc == E2_ECERT) {
		if (args->json)
			e2_conntest_print_json(rep, stdout);
		else
			e2_conntest_print_text(rep, stdout);
		(void)fflush(stdout);
		cli_error(&conntest_cli, err);
		return rc;
	}
	if (rc != E2_OK)
		return rc;
	(void)e2_pin_parse(args->pin, canon, NULL);
	for (size_t i = 0; i < res.n; i++)
		fprintf(say, "pinned %s for %s (account %s)\n", canon,
			res.host[i], a->guid);
	return e2_conntest_run(a, opts, rep, err);
}

/* issue 10: the same hint for a DAV host whose pinned certificate
 * changed (*said: the host hinted last, to say it once) */
static void
conntest_hint_repin_dav(struct e2_store *st, const struct e2_account *a,
			const struct e2_dav_report *r, const char **said)
{
	char pin[72];
	bool found = false;

	if (st == NULL || !r->tested || r->ok || r->status != E2_ECERT)
		return;
	for (size_t k = 0; k < r->n_attempts && k < E2_DAV_ATTEMPTS_MAX; k++) {
		const struct e2_dav_attempt *at = &r->attempts[k];

		if (at->result != E2_ECERT || at->cert_sha256[0] == '\0' ||
		    (*said != NULL && strcasecmp(*said, at->host) == 0))
			continue;
		if (e2_pin_get(st, a->guid, at->host, pin, NULL, &found,
			       NULL) != E2_OK ||
		    !found || strcmp(pin, at->cert_sha256) == 0)
			continue;
		fprintf(stderr,
			"%s: %s presented %s, not the pinned %s; once you "
			"have checked it: %s --pin %s '%s'\n",
			CONNTEST_NAME, at->host, at->cert_sha256, pin,
			CONNTEST_NAME, at->cert_sha256, a->guid);
		*said = at->host;
	}
}

/*
 * After a run: for each host whose pin the server's certificate no longer
 * matches, the command that pins the new one, on stderr (never done for
 * the user: a changed certificate is checked first, then pinned).
 */
static void
conntest_hint_repin(struct e2_store *st, const struct e2_account *a,
		    const struct e2_conntest_report *rep)
{
	const struct e2_side_report *sides[2] = {&rep->in, &rep->out};
	const char *said = NULL;

	for (size_t i = 0; i < 2 && st != NULL; i++) {
		const struct e2_side_report *s = sides[i];
		const struct e2_attempt *at = NULL;
		char pin[72];
		bool found = false;

		if (!s->tested || s->ok || s->status != E2_ECERT)
			continue;
		for (size_t k = 0; k < s->n_attempts && k < E2_MODE_COUNT; k++)
			if (s->attempts[k].cert_sha256[0] != '\0')
				at = &s->attempts[k];
		if (at == NULL ||
		    (said != NULL && strcasecmp(said, s->host) == 0))
			continue;
		if (e2_pin_get(st, a->guid, s->host, pin, NULL, &found, NULL) !=
			    E2_OK ||
		    !found || strcmp(pin, at->cert_sha256) == 0)
			continue;
		fprintf(stderr,
			"%s: %s presented %s, not the pinned %s; once you "
			"have checked it: %s --pin %s '%s'\n",
			CONNTEST_NAME, s->host, at->cert_sha256, pin,
			CONNTEST_NAME, at->cert_sha256, a->guid);
		said = s->host;
	}
	conntest_hint_repin_dav(st, a, &rep->contacts, &said);
	conntest_hint_repin_dav(st, a, &rep->calendars, &said);
}

/* --unpin[=HOST]: 0 when a pin was removed, 1 when there was none. */
static int
conntest_unpin(const struct conntest_args *args, struct e2_store *st,
	       const struct e2_account *a)
{
	struct e2_err err = {0};
	size_t n = 0;

	if (e2_pin_delete(st, a->guid, args->unpin_host, &n, &err) != E2_OK) {
		cli_error(&conntest_cli, &err);
		return CLI_EXIT_FAILURE;
	}
	if (n == 0) {
		e2_fail(&err, E2_EINVAL, "no pin for %s of account %s",
			args->unpin_host != NULL ? args->unpin_host
						 : "any host",
			a->guid);
		cli_error(&conntest_cli, &err);
		return CLI_EXIT_FAILURE;
	}
	printf("unpinned %zu certificate%s of account %s%s%s\n", n,
	       n == 1 ? "" : "s", a->guid,
	       args->unpin_host != NULL ? " for " : "",
	       args->unpin_host != NULL ? args->unpin_host : "");
	return CLI_EXIT_OK;
}

/* -q: one line per failed side on stderr, nothing else */
static void
conntest_print_failed(const struct e2_conntest_report *rep)
{
	const struct e2_side_report *side[] = {&rep->in, &rep->out};
	static const char *const name[] = {"incoming", "outgoing"};
	const struct e2_dav_report *dav[] = {&rep->contacts, &rep->calendars};
	static const char *const dav_name[] = {"contacts", "calendars"};

	for (size_t i = 0; i < 2; i++)
		if (side[i]->tested && !side[i]->ok)
			fprintf(stderr, "%s: %s %s: %s: %s\n", CONNTEST_NAME,
				name[i], side[i]->host,
				e2_status_name(side[i]->status),
				side[i]->error);
	for (size_t i = 0; i < 2; i++)
		if (dav[i]->tested && !dav[i]->ok)
			fprintf(stderr, "%s: %s: %s: %s: %s\n", CONNTEST_NAME,
				dav_name[i], dav[i]->state,
				e2_status_name(dav[i]->status), dav[i]->error);
}

int
main(int argc, char **argv)
{
	struct conntest_args args = {0};
	struct e2_conntest_opts opts = {0};
	struct e2_conntest_report *rep = NULL;
	struct e2_account *a = NULL;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	enum e2_status rc;
	int status;

	status = conntest_parse_args(argc, argv, &args, &err);
	if (status >= 0)
		return status;
	status = CLI_EXIT_FAILURE;
	if (args.guid != NULL)
		rc = conntest_load_account(&args, &st, &a, &err);
	else
		rc = conntest_build_account(&args, &a, &err);
	if (rc != E2_OK) {
		/* a bad setting or file argument is a usage error */
		if (args.guid == NULL && rc == E2_EINVAL)
			status = cli_usage(&conntest_cli, "%s", err.msg);
		else
			cli_error(&conntest_cli, &err);
		goto out;
	}
	rep = calloc(1, sizeof(*rep));
	if (rep == NULL) {
		e2_fail(&err, E2_ENOMEM, "out of memory");
		cli_error(&conntest_cli, &err);
		goto out;
	}
	opts.cafile = args.cafile;
	opts.timeout_ms = args.timeout_ms;
	/* issue 10: no choice given: the mail sides as before, and each
	 * content type SYNCINGCONTENTTYPES names */
	if (!args.mail && !args.contacts && !args.calendars) {
		args.mail = true;
		args.contacts = args.guid != NULL && (a->syncingcontenttypes &
						      E2_SYNC_CONTACTS) != 0;
		args.calendars = args.guid != NULL && (a->syncingcontenttypes &
						       E2_SYNC_CALENDARS) != 0;
	}
	opts.test_in = args.mail && a->in.host != NULL;
	opts.test_out = args.mail && a->out.host != NULL;
	opts.test_contacts = args.contacts;
	opts.test_calendars = args.calendars;
	opts.trace = conntest_cli.verbose > 0 ? stderr : NULL;
	opts.store = st;
	if (args.unpin) {
		status = conntest_unpin(&args, st, a);
		goto out;
	}
	rc = e2_conntest_run(a, &opts, rep, &err);
	if (rc == E2_OK && args.pin != NULL)
		rc = conntest_pin(&args, st, a, &opts, rep, &err);
	if (rc == E2_ECERT) {
		status = CLI_EXIT_FAILURE; /* nothing pinned, report shown */
		goto out;
	}
	if (rc != E2_OK) {
		cli_error(&conntest_cli, &err);
		goto out;
	}
	if (conntest_cli.quiet)
		conntest_print_failed(rep);
	else if (args.json)
		e2_conntest_print_json(rep, stdout);
	else
		e2_conntest_print_text(rep, stdout);
	(void)fflush(stdout);
	conntest_hint_repin(st, a, rep);
	/* the incoming side is tested and reported first, so it decides */
	status = conntest_exit_for(&rep->in);
	if (status == CLI_EXIT_OK)
		status = conntest_exit_for(&rep->out);
	if (status == CLI_EXIT_OK && !rep->ok)
		status = CLI_EXIT_FAILURE;
out:
	if (fflush(stdout) != 0 && status == CLI_EXIT_OK)
		status = CLI_EXIT_FAILURE;
	free(rep);
	e2_account_free(&a);
	e2_store_close(&st);
	return status;
}
