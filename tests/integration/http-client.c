/* SPDX-License-Identifier: MIT */
/*
 * http-client.c -- the test driver of tests/integration/http.sh: requests
 * made through transports/http.c on one session, one line each on stdout:
 *	http-client [--cafile F] [--pin SHA256:HEX] [--allow-http]
 *		[--cleartext] [--user NAME] [--timeout MS] [--idle MS]
 *		[--cap BYTES] [--trace] [--header "N: v"]... [--data BODY]
 *		[--cancel-after MS] METHOD URL...
 * The secret comes from $E2T_HTTP_SECRET (never argv). Prints
 * "rc=ok status=200 reused=no etag=... location=... dav=... body=N"
 * or "rc=ecert msg=..."; exits 0 when every request was E2_OK, else 1.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "email2.h"
#include "transports/http.h"

static int
http_client_pin(const char *s, unsigned char pin[XPORT_SHA256_LEN])
{
	size_t n = 0;
	int hi = -1;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; *s != '\0'; s++) {
		int v;

		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s) || n == XPORT_SHA256_LEN)
			return -1;
		v = isdigit((unsigned char)*s)
			    ? *s - '0'
			    : (tolower((unsigned char)*s) - 'a' + 10);
		if (hi < 0) {
			hi = v;
		} else {
			pin[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return n == XPORT_SHA256_LEN && hi < 0 ? 0 : -1;
}

static atomic_bool http_client_cancel;
static unsigned http_client_cancel_ms;

/* --cancel-after: sets the policy's cancel flag after a delay */
static void *
http_client_canceller(void *arg)
{
	struct timespec ts;

	(void)arg;
	ts.tv_sec = (time_t)(http_client_cancel_ms / 1000u);
	ts.tv_nsec = (long)(http_client_cancel_ms % 1000u) * 1000000L;
	(void)nanosleep(&ts, NULL);
	atomic_store(&http_client_cancel, true);
	return NULL;
}

static const char *
http_client_str(const char *s)
{
	return s != NULL ? s : "-";
}

int
main(int argc, char **argv)
{
	struct http_policy pol = {0};
	struct http_session *s = NULL;
	const char *hdrs[16] = {0};
	size_t nh = 0, cap = 1u << 20;
	int i, bad = 0;
	const char *method, *data = NULL;
	struct e2_err err = {0};
	pthread_t th;
	bool th_started = false;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--allow-http") == 0) {
			pol.allow_http = true;
			continue;
		}
		if (strcmp(a, "--cleartext") == 0) {
			pol.cleartext_ok = true;
			continue;
		}
		if (strcmp(a, "--trace") == 0) {
			pol.trace = stderr;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (strcmp(a, "--cafile") == 0)
			pol.cafile = v;
		else if (strcmp(a, "--pin") == 0) {
			pol.pinned = true;
			if (http_client_pin(v, pol.pin) != 0)
				goto usage;
		} else if (strcmp(a, "--user") == 0) {
			pol.user = v;
			pol.secret = getenv("E2T_HTTP_SECRET");
		} else if (strcmp(a, "--timeout") == 0)
			pol.timeout_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--idle") == 0)
			pol.idle_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--cap") == 0)
			cap = (size_t)strtoul(v, NULL, 10);
		else if (strcmp(a, "--header") == 0 && nh + 1 < 16)
			hdrs[nh++] = v;
		else if (strcmp(a, "--data") == 0)
			data = v;
		else if (strcmp(a, "--cancel-after") == 0)
			http_client_cancel_ms = (unsigned)strtoul(v, NULL, 10);
		else
			goto usage;
	}
	if (argc - i < 2)
		goto usage;
	method = argv[i++];
	pol.cancel = &http_client_cancel;
	if (http_client_cancel_ms > 0) {
		if (pthread_create(&th, NULL, http_client_canceller, NULL) != 0)
			return 1;
		th_started = true;
	}
	if (http_session_new(&pol, &s, &err) != E2_OK) {
		printf("rc=%s msg=%s\n", e2_status_name(err.code), err.msg);
		return 1;
	}
	for (; i < argc; i++) {
		struct http_response r = {0};
		enum e2_status rc;

		r.body_cap = cap;
		e2_err_clear(&err);
		rc = http_request(s, method, argv[i], hdrs, data,
				  data != NULL ? strlen(data) : 0, &r, &err);
		if (rc != E2_OK) {
			printf("rc=%s status=%ld msg=%s\n", e2_status_name(rc),
			       r.status, err.msg);
			bad = 1;
		} else {
			printf("rc=ok status=%ld reused=%s etag=%s location=%s "
			       "dav=%s type=%s length=%lld body=%zu\n",
			       r.status, r.reused ? "yes" : "no",
			       http_client_str(r.etag),
			       http_client_str(r.location),
			       http_client_str(r.dav),
			       http_client_str(r.content_type),
			       r.content_length, r.body_len);
		}
		http_response_clear(&r);
	}
	http_session_free(&s);
	if (th_started)
		(void)pthread_join(th, NULL);
	return bad;
usage:
	fprintf(stderr, "usage: http-client [options] METHOD URL...\n");
	return 2;
}
