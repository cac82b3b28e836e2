/* SPDX-License-Identifier: MIT */
/* email2-provision.c -- apply a SyncML or Client Provisioning document */
#include "config.h"

#include <getopt.h>
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
		"      --set-option ACCOUNT NAME=VALUE\n"
		"                   set an account option the document does\n"
		"                   not carry: sent-copy=upload|server;\n"
		"                   ACCOUNT is its GUID (any form), NAME or\n"
		"                   REPLYADDR\n",
	.exits = "  0  every command succeeded\n"
		 "  1  a command failed, or the store failed\n"
		 "  2  usage error, or a document that cannot be used\n",
};

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
		CLI_COMMON_OPTIONS,
	};
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	struct e2_store *st = NULL;
	const char *store_dir = NULL;
	const char *path = "-";
	const char *opt_guid = NULL;
	char *doc = NULL;
	size_t len = 0;
	int status = PROVISION_EXIT_USAGE;
	int c;

	while ((c = cli_next(&provision_cli, argc, argv, "s:", longopts)) !=
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
		default:
			return cli_usage(&provision_cli, "unexpected option");
		}
	}
	if (opt_guid != NULL)
		return provision_set_option(store_dir, opt_guid, argc - optind,
					    argv + optind);
	if (argc - optind > 1)
		return cli_usage(&provision_cli, "one document at a time");
	if (optind < argc)
		path = argv[optind];
	if (tool_read_file(path, TOOL_MAX_INPUT, &doc, &len, &err) != E2_OK) {
		cli_error(&provision_cli, &err);
		goto out;
	}
	if (e2_store_open(store_dir, &st, &err) != E2_OK) {
		cli_error(&provision_cli, &err);
		status = PROVISION_EXIT_FAILED;
		goto out;
	}
	switch (e2_provision(st, doc, len, &res, &err)) {
	case E2_OK:
		break;
	case E2_EINVAL:
		cli_error(&provision_cli, &err);
		goto out;
	default:
		cli_error(&provision_cli, &err);
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
	for (size_t i = 0; i < res.n_notes && !provision_cli.quiet; i++)
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
