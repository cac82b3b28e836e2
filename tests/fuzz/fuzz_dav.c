/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dav.c -- libFuzzer harness for dav.c's multiget reconciliation,
 * request bodies and collection membership of hrefs (see run.sh). Input:
 * requested hrefs, one a line, then a line "--", then a multistatus body as a
 * server sends it.
 */
/* fuzz-sources: transports/dav.c transports/dav_xml.c transports/http.c */
/* fuzz-sources: transports/xport_tls.c transports/xport_tcp.c */
/* fuzz-sources: transports/xml_read.c engine/err.c */
/* fuzz-pkgs: libcurl libssl libcrypto libxml-2.0 */
#include "config.h"

#include "transports/dav.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DAV_MAX_HREFS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *p, *sep, *body;
	const char *hrefs[FUZZ_DAV_MAX_HREFS];
	size_t n = 0, i;
	struct dav_multistatus *ms = NULL;
	struct dav_multiget *m = NULL;
	struct e2_err err = {0};
	char *out = NULL;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	sep = strstr(buf, "\n--\n");
	if (sep == NULL)
		goto out;
	*sep = '\0';
	body = sep + 4;
	for (p = buf; n < FUZZ_DAV_MAX_HREFS;) {
		char *nl = strchr(p, '\n');

		hrefs[n++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	/* the bodies: built or refused, never a raw '<' from a value */
	if (dav_body_multiget(DAV_KIND_CARD, hrefs, n, &out, &err) == E2_OK) {
		const char *h = strstr(out, "<d:href>");

		while (h != NULL) {
			const char *end = strstr(h + 8, "</d:href>");

			if (end == NULL ||
			    memchr(h + 8, '<', (size_t)(end - h - 8)))
				abort();
			h = strstr(end, "<d:href>");
		}
	}
	free(out);
	out = NULL;
	if (dav_body_sync_collection(hrefs[0], DAV_SYNC_CARD_DATA, &out,
				     &err) == E2_OK) {
		const char *t = strstr(out, "<d:sync-token>") + 14;
		const char *end = strstr(t, "</d:sync-token>");

		if (end == NULL || memchr(t, '<', (size_t)(end - t)) != NULL)
			abort();
	}
	free(out);
	/* a member of the collection is on its origin, under its path */
	for (i = 0; i < n; i++) {
		const char *base = "https://h.example/c/", *path;
		char *u = NULL;

		if (!dav_href_member(base, hrefs[i]))
			continue;
		if (http_url_resolve(base, hrefs[i], &u, &err) != E2_OK)
			abort();
		path = strchr(u + 8, '/');
		if (!http_same_origin(base, u) || path == NULL ||
		    strncmp(path, "/c/", 3) != 0 || path[3] == '\0')
			abort();
		free(u);
	}
	if (dav_xml_parse(body, size - (size_t)(body - buf), &ms, &err) !=
	    E2_OK)
		goto out;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto out;
	if (dav_multiget_reconcile("https://h.example/c/", hrefs, n, ms, m,
				   &err) == E2_OK) {
		/* each requested href exactly once in items or missing */
		if (m->n_items + m->n_missing != n)
			abort();
		for (i = 0; i < m->n_items; i++)
			if (m->items[i].data == NULL ||
			    strlen(m->items[i].url) == 0)
				abort();
	}
out:
	dav_multiget_free(&m);
	dav_xml_free(&ms);
	free(buf);
	return 0;
}
