/* SPDX-License-Identifier: MIT */
/* email2-account.c -- list, show and remove the accounts of a store */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "email2.h"
#include "cli.h"
#include "tool.h"

#define ACCOUNT_NAME "email2-account"

/* Exit statuses (email2-account(1)): enum cli_exit, as every tool's. */
#define ACCOUNT_EXIT_OK CLI_EXIT_OK
#define ACCOUNT_EXIT_FAILURE CLI_EXIT_FAILURE /* store, no such account */
#define ACCOUNT_EXIT_USAGE CLI_EXIT_USAGE

struct account_args {
	const char *store;
	const char *cmd;
	const char *account;
	bool json;
	bool yes;
	bool quiet;
};

static struct cli account_cli = {
	.prog = ACCOUNT_NAME,
	.synopsis = "[OPTION]... list\n"
		    "[OPTION]... show ACCOUNT\n"
		    "[OPTION]... [--yes] remove ACCOUNT",
	.help = "The accounts of a store: what they are, how their last "
		"sync went.\n"
		"\n"
		"Commands:\n"
		"  list            one line per account: GUID, NAME, "
		"REPLYADDR,\n"
		"                  service, servers, last sync, queued and "
		"failed\n"
		"                  outbox messages\n"
		"  show ACCOUNT    every node (secrets masked), pins and the "
		"last sync\n"
		"  remove ACCOUNT  the account with its mail and queue, as a\n"
		"                  provisioning Delete does (asks first)\n"
		"ACCOUNT is the GUID (braces or not, %7B...%7D, 0x7B...0x7D, "
		"any\n"
		"case), or the NAME or REPLYADDR of exactly one account.\n"
		"\n"
		"Options:\n"
		"      --store DIR     the store (default $EMAIL2_HOME, else\n"
		"                      $XDG_DATA_HOME/email2)\n"
		"      --json          list and show as JSON\n"
		"  -y, --yes           remove without asking\n"
		"With -q remove prints nothing but errors.\n",
	.exits = "  0  done\n"
		 "  1  the store failed, no such account, a sync of it is "
		 "running,\n"
		 "     or remove was not confirmed\n"
		 "  2  usage error\n",
};

/* -1: run; else the exit status (help, version, a usage error). */
static int
account_parse(int argc, char **argv, struct account_args *a)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"yes", no_argument, NULL, 'y'},
		CLI_COMMON_OPTIONS,
	};
	int ch;

	memset(a, 0, sizeof(*a));
	/* GNU getopt permutes: options may follow the command too */
	while ((ch = cli_next(&account_cli, argc, argv, "y", opts)) != -1) {
		switch (ch) {
		case CLI_DONE:
			return account_cli.status;
		case 's':
			a->store = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'y':
			a->yes = true;
			break;
		default:
			return cli_usage(&account_cli, "unexpected option");
		}
	}
	a->quiet = account_cli.quiet;
	if (optind >= argc)
		return cli_usage(&account_cli,
				 "name a command: list, show or remove");
	a->cmd = argv[optind++];
	if (strcmp(a->cmd, "list") == 0) {
		if (optind != argc)
			return cli_usage(&account_cli,
					 "list takes no argument");
	} else if (strcmp(a->cmd, "show") == 0 ||
		   strcmp(a->cmd, "remove") == 0) {
		if (optind + 1 != argc)
			return cli_usage(&account_cli, "%s takes one ACCOUNT",
					 a->cmd);
		a->account = argv[optind];
	} else {
		return cli_usage(&account_cli, "unknown command \"%s\"",
				 a->cmd);
	}
	if (a->json && strcmp(a->cmd, "remove") == 0)
		return cli_usage(&account_cli,
				 "--json goes with list and show");
	if (a->yes && strcmp(a->cmd, "remove") != 0)
		return cli_usage(&account_cli, "--yes goes with remove");
	return -1;
}

/* ---- output ------------------------------------------------------------ */

static const char *
account_service(enum e2_service s)
{
	return s == E2_SERVICE_POP3 ? "POP3" : "IMAP4";
}

/* Text the user reads: provisioned values are quoted (no controls). */
static const char *
account_q(char *buf, size_t len, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return "-";
	return e2_quote(buf, len, s, strlen(s));
}

/* "ok", "failed: <why>", "never" ... for a text line. */
static void
account_status_text(const struct e2_account_status *s)
{
	char t[32], q[512];

	if (s->result == E2_SYNC_NEVER) {
		fputs("last sync never", stdout);
		return;
	}
	cli_time(s->ended, t, sizeof(t));
	printf("last %s %s %s", s->kind, t, e2_sync_result_name(s->result));
	if (s->error[0] != '\0')
		printf(": %s", account_q(q, sizeof(q), s->error));
}

static void
account_status_json(const struct e2_account_status *s)
{
	printf("{\"result\":\"%s\",\"kind\":", e2_sync_result_name(s->result));
	cli_json_str(stdout, s->result == E2_SYNC_NEVER ? NULL : s->kind);
	printf(",\"started\":%lld,\"ended\":%lld,\"last_ok\":%lld,"
	       "\"status\":\"%s\",\"error\":",
	       (long long)s->started, (long long)s->ended,
	       (long long)s->last_ok, e2_status_name(s->status));
	cli_json_str(stdout, s->error);
	printf(",\"downloaded\":%llu,\"uploaded\":%llu,\"moved\":%llu,"
	       "\"flags\":%llu,\"deleted\":%llu,\"removed\":%llu,"
	       "\"sent\":%llu,\"send_failed\":%llu,\"skipped\":%llu}",
	       (unsigned long long)s->downloaded,
	       (unsigned long long)s->uploaded, (unsigned long long)s->moved,
	       (unsigned long long)s->flags, (unsigned long long)s->deleted,
	       (unsigned long long)s->removed, (unsigned long long)s->sent,
	       (unsigned long long)s->send_failed,
	       (unsigned long long)s->skipped);
}

static void
account_info_text(const struct e2_account_info *x)
{
	char q1[512], q2[512], q3[512], q4[512];

	printf("%s  %s  %s  %s  in %s  out %s  ", x->guid,
	       account_q(q1, sizeof(q1), x->name),
	       account_q(q2, sizeof(q2), x->replyaddr),
	       account_service(x->service),
	       account_q(q3, sizeof(q3), x->inserver),
	       account_q(q4, sizeof(q4), x->outserver));
	printf("queued %zu  failed %zu  ", x->queued, x->failed);
	account_status_text(&x->status);
	putchar('\n');
}

static void
account_info_json_fields(const struct e2_account_info *x)
{
	printf("\"guid\":");
	cli_json_str(stdout, x->guid);
	printf(",\"name\":");
	cli_json_str(stdout, x->name);
	printf(",\"replyaddr\":");
	cli_json_str(stdout, x->replyaddr);
	printf(",\"service\":\"%s\",\"inserver\":",
	       account_service(x->service));
	cli_json_str(stdout, x->inserver);
	printf(",\"outserver\":");
	cli_json_str(stdout, x->outserver);
	printf(",\"messages\":%zu,\"queued\":%zu,\"failed\":%zu,"
	       "\"contacts\":%zu,\"calendar_items\":%zu,\"status\":",
	       x->messages, x->queued, x->failed, x->contacts,
	       x->calendar_items);
	account_status_json(&x->status);
}

/* ---- commands ----------------------------------------------------------- */

static int
account_list(struct e2_store *st, const struct account_args *a)
{
	struct e2_account_info *v = NULL;
	struct e2_err err = {0};
	size_t n = 0;

	if (e2_account_list_info(st, &v, &n, &err) != E2_OK) {
		cli_error(&account_cli, &err);
		return ACCOUNT_EXIT_FAILURE;
	}
	if (a->json)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		if (!a->json) {
			account_info_text(&v[i]);
			continue;
		}
		printf("%s{", i > 0 ? "," : "");
		account_info_json_fields(&v[i]);
		putchar('}');
	}
	if (a->json)
		puts("]");
	e2_account_infos_free(&v, n);
	return ACCOUNT_EXIT_OK;
}

/* The account the user named, with its list entry. */
static int
account_find(struct e2_store *st, const char *name,
	     struct e2_account_info **v_out, size_t *n_out, size_t *idx_out)
{
	struct e2_err err = {0};
	char *guid = NULL;
	int rc = ACCOUNT_EXIT_FAILURE;

	*v_out = NULL;
	*n_out = 0;
	if (e2_account_resolve(st, name, &guid, &err) != E2_OK ||
	    e2_account_list_info(st, v_out, n_out, &err) != E2_OK) {
		cli_error(&account_cli, &err);
		goto out;
	}
	for (size_t i = 0; i < *n_out; i++)
		if (strcmp((*v_out)[i].guid, guid) == 0) {
			*idx_out = i;
			rc = ACCOUNT_EXIT_OK;
		}
	if (rc != ACCOUNT_EXIT_OK)
		fprintf(stderr, "%s: account %s: gone meanwhile\n",
			ACCOUNT_NAME, guid);
out:
	free(guid);
	return rc;
}

/*
 * Certificate pins (issue 9, per-account trust) are added by another
 * change (migration 8). Hook: when <email2.h> offers the account's pins,
 * print each host and SHA-256 fingerprint here, in text and JSON
 * ("pins": [...]), as email2-account(1) will say.
 */
static void
account_show_pins(struct e2_store *st, const struct e2_account_info *info,
		  bool json)
{
	const char *servers[2] = {info->inserver, info->outserver};
	bool any = false;

	if (json)
		printf(",\"pins\":[");
	for (size_t k = 0; k < 2; k++) {
		struct e2_server srv = {0};
		struct e2_err err = {0};
		char fp[72];
		int64_t when = 0;
		bool found = false;

		if (servers[k][0] == '\0' ||
		    e2_server_parse(servers[k], &srv, &err) != E2_OK)
			continue;
		/* INSERVER and OUTSERVER on one host share its pin */
		if (k == 1 && any && servers[0][0] != '\0') {
			struct e2_server in = {0};

			if (e2_server_parse(servers[0], &in, &err) == E2_OK &&
			    strcasecmp(in.host, srv.host) == 0) {
				free(in.host);
				free(srv.host);
				continue;
			}
			free(in.host);
		}
		if (e2_pin_get(st, info->guid, srv.host, fp, &when, &found,
			       &err) == E2_OK &&
		    found) {
			if (json) {
				printf("%s{\"host\":", any ? "," : "");
				cli_json_str(stdout, srv.host);
				printf(",\"sha256\":\"%s\",\"pinned\":%lld}",
				       fp, (long long)when);
			} else {
				printf("  pin %s %s\n", srv.host, fp);
			}
			any = true;
		}
		free(srv.host);
	}
	if (json)
		putchar(']');
}

static int
account_show(struct e2_store *st, const struct account_args *a)
{
	struct e2_account_info *v = NULL;
	struct e2_node_item *nodes = NULL;
	struct e2_node_result res = {0};
	struct e2_err err = {0};
	size_t n = 0, nn = 0, i = 0;
	char q[512];
	int rc;

	rc = account_find(st, a->account, &v, &n, &i);
	if (rc != ACCOUNT_EXIT_OK)
		goto out;
	if (e2_account_nodes(st, v[i].guid, &nodes, &nn, &res, &err) != E2_OK) {
		cli_error(&account_cli, &err);
		rc = ACCOUNT_EXIT_FAILURE;
		goto out;
	}
	if (res.code != 200) {
		fprintf(stderr, "%s: %s\n", ACCOUNT_NAME, res.reason);
		rc = ACCOUNT_EXIT_FAILURE;
		goto out;
	}
	if (a->json) {
		putchar('{');
		account_info_json_fields(&v[i]);
		printf(",\"nodes\":{");
		for (size_t k = 0; k < nn; k++) {
			printf("%s", k > 0 ? "," : "");
			cli_json_str(stdout, nodes[k].node);
			putchar(':');
			cli_json_str(stdout, nodes[k].value);
		}
		putchar('}');
		account_show_pins(st, &v[i], true);
		puts("}");
		goto out;
	}
	printf("account %s\n", v[i].guid);
	for (size_t k = 0; k < nn; k++) {
		if (nodes[k].value == NULL)
			continue; /* TAGPROPS: its children follow */
		printf("  %-20s %s\n", nodes[k].node,
		       e2_quote(q, sizeof(q), nodes[k].value,
				strlen(nodes[k].value)));
	}
	account_show_pins(st, &v[i], false);
	printf("mail: %zu message%s; outbox: %zu queued, %zu failed",
	       v[i].messages, v[i].messages == 1 ? "" : "s", v[i].queued,
	       v[i].failed);
	if (v[i].contacts > 0 || v[i].calendar_items > 0)
		printf("; contacts: %zu; calendars: %zu item%s", v[i].contacts,
		       v[i].calendar_items,
		       v[i].calendar_items == 1 ? "" : "s");
	putchar('\n');
	account_status_text(&v[i].status);
	putchar('\n');
	if (v[i].status.result != E2_SYNC_NEVER) {
		const struct e2_account_status *s = &v[i].status;
		char t[32];

		cli_time(s->last_ok, t, sizeof(t));
		printf("  downloaded %llu, uploaded %llu, moved %llu, flags "
		       "%llu, deleted %llu, removed %llu, sent %llu, send "
		       "failed %llu, skipped %llu; last ok %s\n",
		       (unsigned long long)s->downloaded,
		       (unsigned long long)s->uploaded,
		       (unsigned long long)s->moved,
		       (unsigned long long)s->flags,
		       (unsigned long long)s->deleted,
		       (unsigned long long)s->removed,
		       (unsigned long long)s->sent,
		       (unsigned long long)s->send_failed,
		       (unsigned long long)s->skipped, t);
	}
out:
	e2_account_nodes_free(&nodes, nn);
	e2_account_infos_free(&v, n);
	return rc;
}

/* y or yes (any case) from the terminal on standard input. */
static bool
account_confirm(const struct e2_account_info *x)
{
	char q[512], line[64];
	size_t m;

	fprintf(stderr,
		"remove %s \"%s\" and its mail (%zu message%s, %zu "
		"queued)? [y/N] ",
		x->guid,
		x->name[0] != '\0'
			? e2_quote(q, sizeof(q), x->name, strlen(x->name))
			: "",
		x->messages, x->messages == 1 ? "" : "s",
		x->queued + x->failed);
	(void)fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	m = strcspn(line, "\r\n");
	line[m] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 ||
	       strcmp(line, "yes") == 0 || strcmp(line, "YES") == 0 ||
	       strcmp(line, "Yes") == 0;
}

static int
account_remove(struct e2_store *st, const struct account_args *a)
{
	struct e2_account_info *v = NULL;
	struct e2_node_result res = {0};
	struct e2_err err = {0};
	size_t n = 0, i = 0;
	int rc;

	/* refuse before looking anything up: no terminal, no answer */
	if (!a->yes && isatty(STDIN_FILENO) == 0) {
		return cli_usage(&account_cli,
				 "remove asks for a confirmation on a terminal "
				 "and standard input is none: add --yes to "
				 "remove without asking");
	}
	rc = account_find(st, a->account, &v, &n, &i);
	if (rc != ACCOUNT_EXIT_OK)
		goto out;
	if (!a->yes && !account_confirm(&v[i])) {
		if (!a->quiet)
			fprintf(stderr, "%s: nothing removed\n", ACCOUNT_NAME);
		rc = ACCOUNT_EXIT_FAILURE;
		goto out;
	}
	/* the provisioning Delete of the GUID (csp/csp_node_api.c) */
	if (e2_account_delete(st, v[i].guid, &res, &err) != E2_OK) {
		cli_error(&account_cli, &err);
		rc = ACCOUNT_EXIT_FAILURE;
		goto out;
	}
	if (res.code != 200) {
		fprintf(stderr, "%s: %s\n", ACCOUNT_NAME, res.reason);
		rc = ACCOUNT_EXIT_FAILURE;
		goto out;
	}
	if (!a->quiet)
		fprintf(stderr, "%s: %s\n", ACCOUNT_NAME,
			res.note[0] != '\0' ? res.note : "account removed");
out:
	e2_account_infos_free(&v, n);
	return rc;
}

int
main(int argc, char **argv)
{
	struct account_args a;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	int rc;

	rc = account_parse(argc, argv, &a);
	if (rc >= 0)
		return rc;
	/* only email2-provision creates a store */
	if (e2_store_open_existing(a.store, &st, &err) != E2_OK) {
		cli_error(&account_cli, &err);
		return ACCOUNT_EXIT_FAILURE;
	}
	if (strcmp(a.cmd, "list") == 0)
		rc = account_list(st, &a);
	else if (strcmp(a.cmd, "show") == 0)
		rc = account_show(st, &a);
	else
		rc = account_remove(st, &a);
	e2_store_close(&st);
	return rc;
}
