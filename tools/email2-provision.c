/* SPDX-License-Identifier: MIT */
/* email2-provision.c -- apply a SyncML or Client Provisioning document */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define PROG "email2-provision"

/* Exit statuses (email2-provision(1), the issue 9 convention). */
enum provision_exit {
	PROVISION_EXIT_OK = 0,      /* every command succeeded */
	PROVISION_EXIT_FAILED = 1,  /* document unusable, or the store failed */
	PROVISION_EXIT_USAGE = 2,   /* the command line was wrong */
	PROVISION_EXIT_PARTIAL = 3, /* applied, but some commands failed */
};

static void
provision_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [--store DIR] [--dry-run] [FILE|-]\n"
		"       " PROG " [--store DIR] --set-option GUID NAME=VALUE\n"
		"Apply an EMAIL2 provisioning document (OMA DM SyncML or OMA\n"
		"Client Provisioning wap-provisioningdoc) to the account "
		"store\n"
		"and print the response on standard output.\n"
		"\n"
		"  -s, --store DIR  account store (default $EMAIL2_HOME, else\n"
		"                   $XDG_DATA_HOME/email2)\n"
		"  -n, --dry-run    check the document and print the response\n"
		"                   a real run would; change nothing\n"
		"      --response FILE\n"
		"                   write the response to FILE, not to "
		"standard\n"
		"                   output\n"
		"  -v, --verbose    list every failed command, rolled back "
		"ones\n"
		"                   (216) too\n"
		"      --set-option GUID NAME=VALUE\n"
		"                   set an account option the document does\n"
		"                   not carry: sent-copy=upload|server\n"
		"  -h, --help       show this help and exit\n"
		"  -V, --version    show the version and exit\n"
		"\n"
		"FILE defaults to standard input. Failed commands are listed "
		"on\n"
		"standard error, the first cause first. Exit status: 0 every\n"
		"command succeeded, 3 some failed, 1 unusable document or "
		"store\n"
		"failure, 2 usage error.\n");
}

/*
 * One failed command: "Replace LOCURI (CmdID 14, line 117): 400: WHY" for
 * SyncML; "line 9, characteristic[...]/parm[@name=DWNDAY]: 400: WHY" for
 * Client Provisioning, whose LocURIs and CmdIDs the user never wrote.
 */
static void
provision_print_failure(const struct e2_provision_result *res,
			const struct e2_provision_failure *f)
{
	if (res->kind == E2_DOC_PROVISIONING && f->where[0] != '\0') {
		fprintf(stderr, PROG ": %s: %d: %s\n", f->where, f->code,
			f->why);
		return;
	}
	fprintf(stderr, PROG ": %s%s%s%s%s%s: %d: %s\n", f->cmd,
		f->locuri != NULL ? " " : "",
		f->locuri != NULL ? f->locuri : "",
		f->where[0] != '\0' ? " (" : "", f->where,
		f->where[0] != '\0' ? ")" : "", f->code, f->why);
}

/*
 * Standard error after a document with failed commands: the first cause
 * alone on the first line, then one line per failed command (those only
 * rolled back, 216, with verbose), the notes, and "N commands, M failed"
 * last. Nothing when every command succeeded but the notes.
 */
static void
provision_print_failures(const struct e2_provision_result *res, bool verbose)
{
	const struct e2_provision_failure *first =
		e2_provision_first_cause(res);
	size_t rolled = 0;

	if (first != NULL)
		fprintf(stderr, PROG ": %s%s%s%s\n", first->why,
			first->where[0] != '\0' ? " (" : "", first->where,
			first->where[0] != '\0' ? ")" : "");
	for (size_t i = 0; i < res->n_failures; i++) {
		const struct e2_provision_failure *f = &res->failures[i];

		if (f->code == 216 && f->consequence) {
			rolled++;
			if (!verbose)
				continue;
		}
		provision_print_failure(res, f);
	}
	/* what happened besides the statuses: mail removed, queue dropped */
	for (size_t i = 0; i < res->n_notes; i++)
		fprintf(stderr, PROG ": %s\n", res->notes[i]);
	if (first == NULL)
		return;
	fprintf(stderr, PROG ": %zu command%s, %zu failed", res->commands,
		res->commands == 1 ? "" : "s", res->failed);
	if (rolled > 0)
		fprintf(stderr, " (%zu rolled back)", rolled);
	fputc('\n', stderr);
}

/* The response to path ("-": standard output). */
static int
provision_write_response(const char *path,
			 const struct e2_provision_result *res)
{
	FILE *f = stdout;
	bool ok;

	if (strcmp(path, "-") != 0) {
		f = fopen(path, "w");
		if (f == NULL) {
			fprintf(stderr, PROG ": --response %s: %s\n", path,
				strerror(errno));
			return PROVISION_EXIT_FAILED;
		}
	}
	ok = fwrite(res->response, 1, res->response_len, f) ==
		     res->response_len &&
	     fflush(f) == 0;
	if (f != stdout && fclose(f) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, PROG ": writing the response to %s: %s\n",
			f == stdout ? "standard output" : path,
			strerror(errno));
		return PROVISION_EXIT_FAILED;
	}
	return PROVISION_EXIT_OK;
}

/* --set-option GUID NAME=VALUE: one option of one account */
static int
provision_set_option(const char *store_dir, const char *guid, int nargs,
		     char **args)
{
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	int status = PROVISION_EXIT_FAILED;

	if (nargs != 1) {
		fprintf(stderr, PROG ": --set-option GUID takes one "
				     "NAME=VALUE\n");
		provision_usage(stderr);
		return PROVISION_EXIT_USAGE;
	}
	if (e2_store_open(store_dir, &st, &err) == E2_OK &&
	    e2_account_set_option(st, guid, args[0], &err) == E2_OK)
		status = PROVISION_EXIT_OK;
	else
		tool_print_error(PROG, &err);
	if (status != PROVISION_EXIT_OK && err.code == E2_EINVAL)
		status = PROVISION_EXIT_USAGE;
	e2_store_close(&st);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"set-option", required_argument, NULL, 'O'},
		{"version", no_argument, NULL, 'V'},
		/* issue 9 (csp): dry run, where the response goes, detail */
		{"dry-run", no_argument, NULL, 'n'},
		{"response", required_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	const char *store_dir = NULL;
	const char *path = "-";
	const char *opt_guid = NULL;
	bool dry_run = false;
	bool verbose = false;
	const char *response_path = "-";
	char *doc = NULL;
	size_t len = 0;
	int status = PROVISION_EXIT_USAGE;
	enum e2_status rc;
	int c;

	while ((c = getopt_long(argc, argv, "s:hVnv", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_dir = optarg;
			break;
		case 'O':
			opt_guid = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'R':
			response_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			provision_usage(stdout);
			return PROVISION_EXIT_OK;
		case 'V':
			tool_print_version(PROG);
			return PROVISION_EXIT_OK;
		default:
			provision_usage(stderr);
			return PROVISION_EXIT_USAGE;
		}
	}
	if (opt_guid != NULL && dry_run) {
		fprintf(stderr, PROG ": --dry-run checks a document, not "
				     "--set-option\n"
				     "Try '" PROG " --help'.\n");
		return PROVISION_EXIT_USAGE;
	}
	if (opt_guid != NULL)
		return provision_set_option(store_dir, opt_guid, argc - optind,
					    argv + optind);
	if (argc - optind > 1) {
		fprintf(stderr, PROG ": one document at a time\n");
		provision_usage(stderr);
		return PROVISION_EXIT_USAGE;
	}
	if (optind < argc)
		path = argv[optind];
	/* from here on the command line was right: failures exit 1 or 3 */
	status = PROVISION_EXIT_FAILED;
	if (tool_read_file(path, TOOL_MAX_INPUT, &doc, &len, &err) != E2_OK) {
		tool_print_error(PROG, &err);
		goto out;
	}
	if (dry_run) {
		/* e2_provision_check() opens an in-memory copy itself */
		rc = e2_provision_check(store_dir, doc, len, &res, &err);
	} else if (e2_store_open(store_dir, &st, &err) != E2_OK) {
		tool_print_error(PROG, &err);
		goto out;
	} else {
		rc = e2_provision(st, doc, len, &res, &err);
	}
	if (rc == E2_EINVAL) {
		/* the document is unusable: name it, then why */
		fprintf(stderr, PROG ": %s: %s\n",
			strcmp(path, "-") == 0 ? "standard input" : path,
			err.msg[0] != '\0' ? err.msg : e2_status_name(rc));
		goto out;
	}
	if (rc != E2_OK) {
		tool_print_error(PROG, &err);
		goto out;
	}
	status = provision_write_response(response_path, &res);
	if (status != PROVISION_EXIT_OK)
		goto out;
	provision_print_failures(&res, verbose);
	status = res.failed == 0 ? PROVISION_EXIT_OK : PROVISION_EXIT_PARTIAL;
out:
	e2_provision_result_free(&res);
	e2_store_close(&st);
	if (doc != NULL)
		explicit_bzero(doc, len); /* it may hold passwords */
	free(doc);
	return status;
}
