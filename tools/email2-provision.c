/* SPDX-License-Identifier: MIT */
/* email2-provision.c -- apply a SyncML or Client Provisioning document */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define PROG "email2-provision"

/* Exit statuses (email2-provision(1)). */
enum provision_exit {
	PROVISION_EXIT_OK = 0,     /* every command succeeded */
	PROVISION_EXIT_FAILED = 1, /* a command failed (see stderr) */
	PROVISION_EXIT_USAGE = 2,  /* unusable input or usage error */
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
		"      --set-option GUID NAME=VALUE\n"
		"                   set an account option the document does\n"
		"                   not carry: sent-copy=upload|server\n"
		"  -h, --help       show this help and exit\n"
		"  -V, --version    show the version and exit\n"
		"\n"
		"FILE defaults to standard input. Failed commands are listed "
		"on\n"
		"standard error. Exit status: 0 every command succeeded, 1 a\n"
		"command failed, 2 unusable input or usage error.\n");
}

static void
provision_print_failures(const struct e2_provision_result *res)
{
	for (size_t i = 0; i < res->n_failures; i++) {
		const struct e2_provision_failure *f = &res->failures[i];

		fprintf(stderr, PROG ": CmdID %s %s%s%s: %d: %s\n",
			f->cmdid[0] != '\0' ? f->cmdid : "-", f->cmd,
			f->locuri != NULL ? " " : "",
			f->locuri != NULL ? f->locuri : "", f->code, f->reason);
	}
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
		/* issue 9 (csp): dry run */
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	const char *store_dir = NULL;
	const char *path = "-";
	const char *opt_guid = NULL;
	bool dry_run = false;
	char *doc = NULL;
	size_t len = 0;
	int status = PROVISION_EXIT_USAGE;
	enum e2_status rc;
	int c;

	while ((c = getopt_long(argc, argv, "s:hVn", longopts, NULL)) != -1) {
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
				     "--set-option\n");
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
	if (tool_read_file(path, TOOL_MAX_INPUT, &doc, &len, &err) != E2_OK) {
		tool_print_error(PROG, &err);
		goto out;
	}
	if (dry_run) {
		/* e2_provision_check() opens an in-memory copy itself */
		rc = e2_provision_check(store_dir, doc, len, &res, &err);
	} else if (e2_store_open(store_dir, &st, &err) != E2_OK) {
		tool_print_error(PROG, &err);
		status = PROVISION_EXIT_FAILED;
		goto out;
	} else {
		rc = e2_provision(st, doc, len, &res, &err);
	}
	switch (rc) {
	case E2_OK:
		break;
	case E2_EINVAL:
		tool_print_error(PROG, &err);
		goto out;
	default:
		tool_print_error(PROG, &err);
		status = PROVISION_EXIT_FAILED;
		goto out;
	}
	if (fwrite(res.response, 1, res.response_len, stdout) !=
		    res.response_len ||
	    fflush(stdout) != 0) {
		perror(PROG ": writing the response");
		status = PROVISION_EXIT_FAILED;
		goto out;
	}
	provision_print_failures(&res);
	/* what happened besides the statuses: mail removed, queue dropped */
	for (size_t i = 0; i < res.n_notes; i++)
		fprintf(stderr, PROG ": %s\n", res.notes[i]);
	status = res.failed == 0 ? PROVISION_EXIT_OK : PROVISION_EXIT_FAILED;
out:
	e2_provision_result_free(&res);
	e2_store_close(&st);
	if (doc != NULL)
		explicit_bzero(doc, len); /* it may hold passwords */
	free(doc);
	return status;
}
