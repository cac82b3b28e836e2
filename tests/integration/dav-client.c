/* SPDX-License-Identifier: MIT */
/*
 * dav-client.c -- the test driver of tests/integration/dav.sh: one
 * transports/dav.c call on one session, its result as lines on stdout:
 *	dav-client [--cafile F] [--allow-http] [--cleartext] [--user NAME]
 *		[--idle MS] [--out DIR] BASE-URL COMMAND ARGS...
 *	discover card|cal
 *	sync COLL-URL [TOKEN]        list COLL-URL
 *	tokens COLL-URL              (its sync-token and getctag)
 *	multiget card|cal COLL-URL HREF...   (data to DIR/<last segment>)
 *	get URL                      (data to DIR/get)
 *	put URL FILE [ETAG]          delete URL [ETAG]
 * The secret comes from $E2T_DAV_SECRET (never argv). The last line is
 * "rc=ok" or "rc=eproto status=403 msg=..."; exits 0 on E2_OK, else 1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email2.h"
#include "transports/dav.h"

static const char *dav_client_out = ".";

static const char *
dav_client_s(const char *s)
{
	return s == NULL ? "-" : s;
}

/* data to dav_client_out/name (the last path segment of name) */
static int
dav_client_save(const char *name, const char *data, size_t len)
{
	const char *base = strrchr(name, '/');
	char path[4096];
	FILE *f;

	base = base == NULL ? name : base + 1;
	snprintf(path, sizeof(path), "%s/%s", dav_client_out, base);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static char *
dav_client_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
dav_client_changes(const struct dav_changes *c)
{
	size_t i;

	for (i = 0; i < c->n_changed; i++)
		printf("changed %s %s\n", c->changed[i].href,
		       dav_client_s(c->changed[i].etag));
	for (i = 0; i < c->n_deleted; i++)
		printf("deleted %s\n", c->deleted[i]);
	printf("token=%s truncated=%s\n", dav_client_s(c->token),
	       c->truncated ? "yes" : "no");
}

static void
dav_client_write(const struct dav_write *w)
{
	printf("status=%ld conflict=%s etag=%s strong=%s\n", w->status,
	       w->conflict ? "yes" : "no", dav_client_s(w->etag),
	       w->etag_strong ? "yes" : "no");
}

static enum e2_status
dav_client_run(struct dav_session *s, int argc, char **argv, struct e2_err *err)
{
	const char *cmd = argv[0];
	enum dav_kind kind = argc > 1 && strcmp(argv[1], "cal") == 0
				     ? DAV_KIND_CAL
				     : DAV_KIND_CARD;
	enum e2_status rc = E2_OK;
	size_t i;

	if (strcmp(cmd, "discover") == 0 && argc == 2) {
		struct dav_discovery *d = NULL;

		rc = dav_discover(s, kind, true, &d, err);
		if (rc != E2_OK)
			return rc;
		printf("context=%s\nprincipal=%s\nhome=%s\n", d->context_url,
		       d->principal_url, d->home_url);
		printf("confirmed=%s dav=%s\n", d->confirmed ? "yes" : "no",
		       dav_client_s(d->dav_header));
		for (i = 0; i < d->n_colls; i++) {
			const struct dav_collection *c = &d->colls[i];

			printf("coll %s name=%s color=%s ctag=%s token=%s "
			       "sync=%s multiget=%s comps=%u\n",
			       c->url, dav_client_s(c->displayname),
			       dav_client_s(c->color), dav_client_s(c->ctag),
			       dav_client_s(c->sync_token),
			       c->reports & DAV_REPORT_SYNC_COLLECTION ? "yes"
								       : "no",
			       c->reports & (DAV_REPORT_ADDRESSBOOK_MULTIGET |
					     DAV_REPORT_CALENDAR_MULTIGET)
				       ? "yes"
				       : "no",
			       c->components);
		}
		dav_discovery_free(&d);
	} else if (strcmp(cmd, "sync") == 0 && (argc == 2 || argc == 3)) {
		struct dav_changes *c = NULL;

		rc = dav_sync_collection(s, argv[1], argc == 3 ? argv[2] : "",
					 DAV_SYNC_ETAG, &c, err);
		if (rc != E2_OK)
			return rc;
		dav_client_changes(c);
		dav_changes_free(&c);
	} else if (strcmp(cmd, "list") == 0 && argc == 2) {
		struct dav_changes *c = NULL;

		rc = dav_list_etags(s, argv[1], &c, err);
		if (rc != E2_OK)
			return rc;
		dav_client_changes(c);
		dav_changes_free(&c);
	} else if (strcmp(cmd, "multiget") == 0 && argc >= 3) {
		struct dav_multiget *m = NULL;

		rc = dav_multiget(s, kind, argv[2],
				  (const char *const *)argv + 3,
				  (size_t)argc - 3, &m, err);
		if (rc != E2_OK)
			return rc;
		for (i = 0; i < m->n_items; i++) {
			printf("item %s %s len=%zu\n", m->items[i].href,
			       dav_client_s(m->items[i].etag),
			       m->items[i].data_len);
			if (dav_client_save(m->items[i].href, m->items[i].data,
					    m->items[i].data_len) != 0)
				rc = e2_fail(err, E2_EIO, "cannot save %s",
					     m->items[i].href);
		}
		for (i = 0; i < m->n_missing; i++)
			printf("missing %s\n", m->missing[i]);
		printf("ignored=%zu\n", m->n_ignored);
		dav_multiget_free(&m);
	} else if (strcmp(cmd, "tokens") == 0 && argc == 2) {
		char *tok = NULL, *ctag = NULL;

		rc = dav_collection_tags(s, argv[1],
					 DAV_TAG_SYNC | DAV_TAG_CTAG, &tok,
					 &ctag, err);
		if (rc == E2_OK)
			printf("token=%s ctag=%s\n", dav_client_s(tok),
			       dav_client_s(ctag));
		free(tok);
		free(ctag);
	} else if (strcmp(cmd, "get") == 0 && argc == 2) {
		struct dav_item *it = NULL;

		rc = dav_get(s, argv[1], &it, err);
		if (rc != E2_OK)
			return rc;
		printf("etag=%s len=%zu\n", dav_client_s(it->etag),
		       it->data_len);
		if (dav_client_save("get", it->data, it->data_len) != 0)
			rc = e2_fail(err, E2_EIO, "cannot save get");
		dav_item_free(&it);
	} else if (strcmp(cmd, "put") == 0 && (argc == 3 || argc == 4)) {
		struct dav_write w = {0};
		size_t len = 0;
		char *data = dav_client_read(argv[2], &len);

		if (data == NULL)
			return e2_fail(err, E2_EIO, "cannot read %s", argv[2]);
		rc = dav_put(s, argv[1],
			     strstr(argv[1], ".ics") != NULL
				     ? "text/calendar; charset=utf-8"
				     : "text/vcard; charset=utf-8",
			     data, len, argc == 4 ? argv[3] : NULL, &w, err);
		free(data);
		if (rc == E2_OK)
			dav_client_write(&w);
		dav_write_clear(&w);
	} else if (strcmp(cmd, "delete") == 0 && (argc == 2 || argc == 3)) {
		struct dav_write w = {0};

		rc = dav_delete(s, argv[1], argc == 3 ? argv[2] : NULL, &w,
				err);
		if (rc == E2_OK)
			dav_client_write(&w);
		dav_write_clear(&w);
	} else {
		return e2_fail(err, E2_EINVAL, "bad command %s", cmd);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct http_policy pol = {0};
	struct dav_session *s = NULL;
	struct e2_err err = {0};
	enum e2_status rc;
	int i;

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
		} else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
			pol.idle_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			dav_client_out = argv[++i];
		} else {
			fprintf(stderr, "dav-client: bad option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "dav-client: BASE-URL COMMAND ARGS...\n");
		return 2;
	}
	rc = dav_session_new(&pol, argv[i], &s, &err);
	if (rc == E2_OK)
		rc = dav_client_run(s, argc - i - 1, argv + i + 1, &err);
	if (rc == E2_OK)
		printf("rc=ok\n");
	else
		printf("rc=%s status=%ld msg=%s\n", e2_status_name(rc),
		       s == NULL ? 0L : dav_last_status(s), err.msg);
	dav_session_free(&s);
	return rc == E2_OK ? 0 : 1;
}
