/* SPDX-License-Identifier: MIT */
/*
 * dav-sync-tool.c -- the test driver of tests/integration/dav-sync.sh:
 * one dav_sync_run() for an account provisioned in the store:
 *	dav-sync-tool --store DIR --guid GUID [--cafile F] [--user NAME]
 *		[--allow-http] [--cleartext] [--force-delete]
 *		[--content N] [--trace FILE] BASE-URL card|cal
 * The secret comes from $E2T_DAV_SECRET (never argv, never printed).
 * Prints one line of counts ("collections=2 unchanged=0 downloaded=150
 * ...") and "rc=ok" or "rc=CODE msg=..."; exits 0 on E2_OK, else 1.
 * (email2-syncd gives users this path; the runner helper wires it.)
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email2.h"
#include "engine/dav_sync.h"
#include "engine/store.h"
#include "transports/dav.h"

static volatile int dav_sync_tool_stop;

static void
dav_sync_tool_on_term(int sig)
{
	(void)sig;
	dav_sync_tool_stop = 1;
}

int
main(int argc, char **argv)
{
	struct http_policy pol = {0};
	struct dav_session *s = NULL;
	struct dav_discovery *d = NULL;
	struct e2_store *st = NULL;
	struct e2_dav_stats stats;
	struct dav_sync_ctx c = {0};
	struct e2_err err = {0};
	const char *store = NULL;
	const char *guid = NULL;
	char stored[STORE_GUID_MAX];
	FILE *trace = NULL;
	bool found = false;
	enum e2_status rc;
	int i;

	memset(&stats, 0, sizeof(stats));
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc) {
			pol.cafile = argv[++i];
		} else if (strcmp(argv[i], "--allow-http") == 0) {
			pol.allow_http = true;
		} else if (strcmp(argv[i], "--cleartext") == 0) {
			pol.cleartext_ok = true;
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
			pol.user = argv[++i];
			pol.secret = getenv("E2T_DAV_SECRET");
		} else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
			store = argv[++i];
		} else if (strcmp(argv[i], "--guid") == 0 && i + 1 < argc) {
			guid = argv[++i];
		} else if (strcmp(argv[i], "--force-delete") == 0) {
			c.force_delete = true;
		} else if (strcmp(argv[i], "--content") == 0 && i + 1 < argc) {
			c.content = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
			trace = fopen(argv[++i], "a");
			if (trace == NULL) {
				perror(argv[i]);
				return 2;
			}
			pol.trace = trace;
		} else {
			fprintf(stderr, "dav-sync-tool: bad option %s\n",
				argv[i]);
			return 2;
		}
	}
	if (argc - i != 2 || store == NULL || guid == NULL) {
		fprintf(stderr, "dav-sync-tool: --store DIR --guid GUID "
				"BASE-URL card|cal\n");
		return 2;
	}
	(void)signal(SIGTERM, dav_sync_tool_on_term);
	c.kind = strcmp(argv[i + 1], "cal") == 0 ? DAV_KIND_CAL : DAV_KIND_CARD;
	rc = e2_store_open(store, &st, &err);
	if (rc == E2_OK)
		rc = store_account_find(st, guid, &found, stored, &err);
	if (rc == E2_OK && !found)
		rc = e2_fail(&err, E2_EINVAL, "no such account");
	if (rc == E2_OK)
		rc = dav_session_new(&pol, argv[i], &s, &err);
	if (rc == E2_OK)
		rc = dav_discover(s, c.kind, false, &d, &err);
	if (rc == E2_OK) {
		c.st = st;
		c.guid = stored;
		c.s = s;
		c.stop = &dav_sync_tool_stop;
		c.stats = &stats;
		rc = dav_sync_run(&c, d, &err);
	}
	printf("collections=%zu unchanged=%zu downloaded=%zu uploaded=%zu "
	       "deleted_local=%zu deleted_server=%zu conflicts=%zu "
	       "refused=%zu skipped=%zu\n",
	       stats.collections, stats.unchanged, stats.downloaded,
	       stats.uploaded, stats.deleted_local, stats.deleted_server,
	       stats.conflicts, stats.refused, stats.skipped);
	if (stats.error[0] != '\0')
		printf("error=%s\n", stats.error);
	if (rc == E2_OK)
		printf("rc=ok\n");
	else
		printf("rc=%s msg=%s\n", e2_status_name(rc), err.msg);
	dav_discovery_free(&d);
	dav_session_free(&s);
	e2_store_close(&st);
	if (trace != NULL)
		(void)fclose(trace);
	return rc == E2_OK ? 0 : 1;
}
