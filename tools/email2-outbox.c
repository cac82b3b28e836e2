/* SPDX-License-Identifier: MIT */
/* email2-outbox.c -- list, retry, drop and show the send queue's messages */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "email2.h"
#include "cli.h"
#include "tool.h"

#define OUTBOX_NAME "email2-outbox"

/* Exit statuses (email2-outbox(1)): enum cli_exit. */

struct outbox_args {
	const char *store;
	const char *account;
	bool json;
	const char *cmd;
	const char *id;
};

static struct cli outbox_cli = {
	.prog = OUTBOX_NAME,
	.synopsis = "[OPTION]... list\n"
		    "[OPTION]... retry|drop|show ID",
	.help = "The send queue of each account: what waits, what failed, "
		"why.\n"
		"\n"
		"Commands:\n"
		"  list        every queued message: id, account, state (new,\n"
		"              queued, sent, failed), attempts, next attempt,\n"
		"              last error, subject and recipients\n"
		"  retry ID    make it due now; a failed message is queued "
		"again\n"
		"              with its attempts reset (the next sync sends "
		"it)\n"
		"  drop ID     remove the message from the queue (its file "
		"too)\n"
		"  show ID     the message's file as it is queued\n"
		"\n"
		"Options:\n"
		"      --store DIR      the store (default $EMAIL2_HOME, else\n"
		"                       $XDG_DATA_HOME/email2)\n"
		"      --account ACCOUNT  only this account's queue (its GUID\n"
		"                       in any form, NAME or REPLYADDR)\n"
		"      --json           list as one JSON array\n",
	.exits = "  0  done\n"
		 "  1  no message has that ID, no such account, or a store "
		 "error\n"
		 "  2  usage error\n",
};

/* 0: go on; -1: help or version printed (exit 0); else a usage error's exit */
static int
outbox_parse(int argc, char **argv, struct outbox_args *a)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"account", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		CLI_COMMON_OPTIONS,
	};
	int ch;

	memset(a, 0, sizeof(*a));
	while ((ch = cli_next(&outbox_cli, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case CLI_DONE:
			return outbox_cli.status == 0 ? -1 : outbox_cli.status;
		case 's':
			a->store = optarg;
			break;
		case 'a':
			a->account = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		default:
			return cli_usage(&outbox_cli, "unexpected option");
		}
	}
	if (optind >= argc)
		return cli_usage(&outbox_cli,
				 "name a command: list, retry, drop or show");
	a->cmd = argv[optind++];
	if (strcmp(a->cmd, "list") == 0) {
		if (optind != argc)
			return cli_usage(&outbox_cli, "list takes no argument");
		return 0;
	}
	if (strcmp(a->cmd, "retry") != 0 && strcmp(a->cmd, "drop") != 0 &&
	    strcmp(a->cmd, "show") != 0)
		return cli_usage(&outbox_cli, "unknown command \"%s\"", a->cmd);
	if (optind + 1 != argc)
		return cli_usage(&outbox_cli,
				 "%s takes one message id (see list)", a->cmd);
	a->id = argv[optind];
	if (a->json)
		return cli_usage(&outbox_cli, "--json goes with list");
	return 0;
}

static void
outbox_print(const struct e2_outbox_item *v, size_t n, bool json)
{
	char t1[32], t2[32];

	if (json)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		const struct e2_outbox_item *it = &v[i];

		cli_time(it->next_attempt, t1, sizeof(t1));
		cli_time(it->queued, t2, sizeof(t2));
		if (!json) {
			if (it->state == E2_OUTBOX_QUEUED &&
			    it->next_attempt <= (int64_t)time(NULL))
				(void)snprintf(t1, sizeof(t1), "now");
			printf("%s  %s  %s  attempts %u  next %s\n", it->id,
			       it->guid, e2_outbox_state_name(it->state),
			       it->attempts,
			       it->state == E2_OUTBOX_QUEUED ? t1 : "-");
			printf("    subject: %s\n    to: %s\n", it->subject,
			       it->rcpt);
			if (it->last_error[0] != '\0')
				printf("    last error: %s\n", it->last_error);
			continue;
		}
		printf("%s{\"id\":", i > 0 ? "," : "");
		cli_json_str(stdout, it->id);
		printf(",\"account\":");
		cli_json_str(stdout, it->guid);
		printf(",\"state\":\"%s\",\"attempts\":%u,",
		       e2_outbox_state_name(it->state), it->attempts);
		printf("\"queued\":%lld,\"last_attempt\":%lld,"
		       "\"next_attempt\":%lld,\"last_error\":",
		       (long long)it->queued, (long long)it->last_attempt,
		       (long long)it->next_attempt);
		cli_json_str(stdout, it->last_error);
		printf(",\"subject\":");
		cli_json_str(stdout, it->subject);
		printf(",\"recipients\":");
		cli_json_str(stdout, it->rcpt);
		printf(",\"file\":");
		cli_json_str(stdout, it->path);
		putchar('}');
	}
	if (json)
		puts("]");
}

/* show: the queued file's bytes to stdout. */
static int
outbox_show(struct e2_store *st, const struct outbox_args *a)
{
	struct e2_outbox_item *v = NULL;
	struct e2_err err = {0};
	size_t n = 0, len = 0;
	char *buf = NULL;
	bool found = false;
	int rc = CLI_EXIT_FAILURE;

	if (e2_outbox_list(st, a->account, &v, &n, &err) != E2_OK) {
		cli_error(&outbox_cli, &err);
		return CLI_EXIT_FAILURE;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, a->id) != 0)
			continue;
		found = true;
		if (v[i].path[0] == '\0' ||
		    tool_read_file(v[i].path, 64u * 1024 * 1024, &buf, &len,
				   &err) != E2_OK) {
			cli_error(&outbox_cli, &err);
			rc = CLI_EXIT_FAILURE;
			break;
		}
		printf("id: %s\naccount: %s\nstate: %s\nfile: %s\n\n", v[i].id,
		       v[i].guid, e2_outbox_state_name(v[i].state), v[i].path);
		(void)fwrite(buf, 1, len, stdout);
		rc = CLI_EXIT_OK;
		break;
	}
	if (!found)
		fprintf(stderr, "%s: no queued message \"%s\"\n", OUTBOX_NAME,
			a->id);
	free(buf);
	e2_outbox_items_free(&v, n);
	return rc;
}

int
main(int argc, char **argv)
{
	struct outbox_args a;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	struct e2_outbox_item *v = NULL;
	size_t n = 0;
	bool found = false;
	char *guid = NULL;
	int rc;

	rc = outbox_parse(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (e2_store_open_existing(a.store, &st, &err) != E2_OK) {
		cli_error(&outbox_cli, &err);
		return CLI_EXIT_FAILURE;
	}
	/* --account: any spelling of its GUID, its NAME or REPLYADDR */
	if (a.account != NULL) {
		if (e2_account_resolve(st, a.account, &guid, &err) != E2_OK) {
			cli_error(&outbox_cli, &err);
			e2_store_close(&st);
			return CLI_EXIT_FAILURE;
		}
		a.account = guid;
	}
	rc = CLI_EXIT_OK;
	if (strcmp(a.cmd, "list") == 0) {
		if (e2_outbox_list(st, a.account, &v, &n, &err) != E2_OK) {
			cli_error(&outbox_cli, &err);
			rc = CLI_EXIT_FAILURE;
		} else {
			outbox_print(v, n, a.json);
		}
		e2_outbox_items_free(&v, n);
	} else if (strcmp(a.cmd, "show") == 0) {
		rc = outbox_show(st, &a);
	} else {
		enum e2_status s = strcmp(a.cmd, "retry") == 0
					   ? e2_outbox_retry(st, a.account,
							     a.id, &found, &err)
					   : e2_outbox_drop(st, a.account, a.id,
							    &found, &err);

		if (s != E2_OK) {
			cli_error(&outbox_cli, &err);
			rc = CLI_EXIT_FAILURE;
		} else if (!found) {
			fprintf(stderr, "%s: no queued message \"%s\"\n",
				OUTBOX_NAME, a.id);
			rc = CLI_EXIT_FAILURE;
		} else if (strcmp(a.cmd, "retry") == 0) {
			bool woken = false;

			/* a running email2-syncd sends it now */
			e2_err_clear(&err);
			(void)e2_syncd_wake(st, &woken, &err);
			if (woken && !outbox_cli.quiet)
				fprintf(stderr, "%s: email2-syncd woken\n",
					OUTBOX_NAME);
		}
	}
	e2_store_close(&st);
	free(guid);
	return rc;
}
