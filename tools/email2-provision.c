/* SPDX-License-Identifier: MIT */
/* email2-provision.c -- apply a SyncML or Client Provisioning document */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tool.h"

#define PROG "email2-provision"

/* Exit statuses (email2-provision(1)): enum cli_exit. */
#define PROVISION_EXIT_OK CLI_EXIT_OK
#define PROVISION_EXIT_FAILED CLI_EXIT_FAILURE
#define PROVISION_EXIT_USAGE CLI_EXIT_USAGE
#define PROVISION_EXIT_PARTIAL CLI_EXIT_PARTIAL

static struct cli provision_cli = {
	.prog = PROG,
	.synopsis = "[OPTION]... [FILE|-]\n"
		    "[OPTION]... --set-option ACCOUNT NAME=VALUE",
	.help = "Apply an EMAIL2 provisioning document (OMA DM SyncML or OMA\n"
		"Client Provisioning wap-provisioningdoc) to the account "
		"store\n"
		"and print the response on standard output. FILE defaults "
		"to\n"
		"standard input. Failed commands are listed on standard "
		"error.\n"
		"This is the only tool that creates a store.\n"
		"\n"
		"Options:\n"
		"  -s, --store DIR  account store (default $EMAIL2_HOME, "
		"else\n"
		"                   $XDG_DATA_HOME/email2)\n"
		"  -n, --dry-run    check the document and print the response\n"
		"                   a real run would; change nothing\n"
		"      --response FILE\n"
		"                   write the response to FILE, not to "
		"standard\n"
		"                   output\n"
		"      --set-option ACCOUNT NAME=VALUE\n"
		"                   set an account option the document does\n"
		"                   not carry: sent-copy=upload|server;\n"
		"                   ACCOUNT is its GUID (any form), NAME or\n"
		"                   REPLYADDR\n"
		"With -v every failed command is listed, rolled back ones "
		"(216) too.\n",
	.exits = "  0  every command succeeded\n"
		 "  1  the document was unusable, or the store failed\n"
		 "  2  usage error\n"
		 "  3  partial: the document was applied, some commands "
		 "failed\n",
};

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
provision_print_failures(const struct e2_provision_result *res, bool verbose,
			 bool quiet)
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
	for (size_t i = 0; i < res->n_notes && !quiet; i++)
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

/* --set-option ACCOUNT NAME=VALUE: one option of one account */
static int
provision_set_option(const char *store_dir, const char *account, int nargs,
		     char **args)
{
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	char *guid = NULL;
	int status = PROVISION_EXIT_FAILED;

	if (nargs != 1)
		return cli_usage(&provision_cli,
				 "--set-option ACCOUNT takes one NAME=VALUE");
	if (e2_store_open_existing(store_dir, &st, &err) != E2_OK ||
	    e2_account_resolve(st, account, &guid, &err) != E2_OK) {
		/* a missing store or account is not a usage error */
		cli_error(&provision_cli, &err);
		goto out;
	}
	if (e2_account_set_option(st, guid, args[0], &err) == E2_OK) {
		status = PROVISION_EXIT_OK;
	} else {
		cli_error(&provision_cli, &err);
		if (err.code == E2_EINVAL)
			status = PROVISION_EXIT_USAGE;
	}
out:
	free(guid);
	e2_store_close(&st);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"set-option", required_argument, NULL, 'O'},
		/* issue 9 (csp): dry run, where the response goes */
		{"dry-run", no_argument, NULL, 'n'},
		{"response", required_argument, NULL, 'R'},
		CLI_COMMON_OPTIONS,
	};
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	const char *store_dir = NULL;
	const char *path = "-";
	const char *opt_guid = NULL;
	bool dry_run = false;
	const char *response_path = "-";
	char *doc = NULL;
	size_t len = 0;
	int status = PROVISION_EXIT_USAGE;
	enum e2_status rc;
	int c;

	while ((c = cli_next(&provision_cli, argc, argv, "s:n", longopts)) !=
	       -1) {
		switch (c) {
		case CLI_DONE:
			return provision_cli.status;
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
		default:
			return cli_usage(&provision_cli, "unexpected option");
		}
	}
	if (opt_guid != NULL && dry_run)
		return cli_usage(&provision_cli,
				 "--dry-run checks a document, not "
				 "--set-option");
	if (opt_guid != NULL)
		return provision_set_option(store_dir, opt_guid, argc - optind,
					    argv + optind);
	if (argc - optind > 1)
		return cli_usage(&provision_cli, "one document at a time");
	if (optind < argc)
		path = argv[optind];
	/* from here on the command line was right: failures exit 1 or 3 */
	status = PROVISION_EXIT_FAILED;
	if (tool_read_file(path, TOOL_MAX_INPUT, &doc, &len, &err) != E2_OK) {
		cli_error(&provision_cli, &err);
		goto out;
	}
	if (dry_run) {
		/* e2_provision_check() opens an in-memory copy itself */
		rc = e2_provision_check(store_dir, doc, len, &res, &err);
	} else if (e2_store_open(store_dir, &st, &err) != E2_OK) {
		cli_error(&provision_cli, &err);
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
		cli_error(&provision_cli, &err);
		goto out;
	}
	status = provision_write_response(response_path, &res);
	if (status != PROVISION_EXIT_OK)
		goto out;
	provision_print_failures(&res, provision_cli.verbose > 0,
				 provision_cli.quiet);
	status = res.failed == 0 ? PROVISION_EXIT_OK : PROVISION_EXIT_PARTIAL;
out:
	e2_provision_result_free(&res);
	e2_store_close(&st);
	if (doc != NULL)
		explicit_bzero(doc, len); /* it may hold passwords */
	free(doc);
	return status;
}
