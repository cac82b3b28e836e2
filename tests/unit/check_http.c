/* SPDX-License-Identifier: MIT */
/* check_http.c -- HTTP: the redirect rule, libcurl codes, the policy */
#include "config.h"

#include "transports/http.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "email2.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct redirect_row {
	const char *from;
	const char *to;
	bool ok;
	bool cred_ok;
};

/* clang-format off */
static const struct redirect_row redirect_rows[] = {
	/* same origin, absolute or relative: follow with credentials */
	{"https://dav.example.com/.well-known/carddav",
	 "https://dav.example.com/carddav/", true, true},
	{"https://dav.example.com/.well-known/carddav", "/dav/", true, true},
	{"https://dav.example.com/a/b", "c/", true, true},
	{"https://DAV.Example.COM/x", "https://dav.example.com/y", true, true},
	{"https://dav.example.com:443/x", "https://dav.example.com/y", true,
	 true},
	/* another host or port: follow, no credentials */
	{"https://example.com/.well-known/caldav",
	 "https://caldav.example.com/", true, false},
	{"https://dav.example.com/x", "https://dav.example.com:8443/y", true,
	 false},
	{"https://dav.example.com/x", "//other.example/y", true, false},
	/* never from https to http */
	{"https://dav.example.com/x", "http://dav.example.com/x", false, false},
	{"https://dav.example.com/x", "http://other.example/x", false, false},
	/* http to https of the same host: an upgrade, credentials go */
	{"http://dav.example.com/x", "https://dav.example.com/x", true, true},
	{"http://dav.example.com:8080/x", "https://dav.example.com/x", true,
	 false},
	/* http to http: allowed (the caller decides http), same host creds */
	{"http://dav.example.com/x", "/y", true, true},
	{"http://dav.example.com/x", "http://evil.example/y", true, false},
	/* other schemes, credentials in the URL, nothing, garbage */
	{"https://dav.example.com/x", "ftp://dav.example.com/x", false, false},
	{"https://dav.example.com/x", "file:///etc/passwd", false, false},
	{"https://dav.example.com/x", "https://u:p@dav.example.com/x", false,
	 false},
	{"https://dav.example.com/x", "", false, false},
	{"not a url", "/x", false, false},
	{"ftp://dav.example.com/x", "https://dav.example.com/x", false, false},
};
/* clang-format on */

START_TEST(test_http_redirect_table)
{
	const struct redirect_row *r = &redirect_rows[_i];
	bool cred = !r->cred_ok;

	ck_assert_msg(http_redirect_ok(r->from, r->to, &cred) == r->ok,
		      "%s -> %s: ok", r->from, r->to);
	ck_assert_msg(cred == r->cred_ok, "%s -> %s: cred_ok", r->from, r->to);
	/* NULL cred_ok is allowed */
	ck_assert(http_redirect_ok(r->from, r->to, NULL) == r->ok);
}
END_TEST

struct status_row {
	int curl;
	enum e2_status want;
};

static const struct status_row status_rows[] = {
	{CURLE_OK, E2_OK},
	{CURLE_COULDNT_RESOLVE_HOST, E2_ERESOLVE},
	{CURLE_COULDNT_CONNECT, E2_ECONNECT},
	{CURLE_OPERATION_TIMEDOUT, E2_ETIMEOUT},
	{CURLE_ABORTED_BY_CALLBACK, E2_ETIMEOUT},
	{CURLE_SSL_CONNECT_ERROR, E2_ETLS},
	{CURLE_SSL_CIPHER, E2_ETLS},
	{CURLE_PEER_FAILED_VERIFICATION, E2_ECERT},
	{CURLE_SSL_CACERT_BADFILE, E2_ECERT},
	{CURLE_SSL_PINNEDPUBKEYNOTMATCH, E2_ECERT},
	{CURLE_LOGIN_DENIED, E2_EAUTH},
	{CURLE_SEND_ERROR, E2_EIO},
	{CURLE_RECV_ERROR, E2_EIO},
	{CURLE_GOT_NOTHING, E2_EIO},
	{CURLE_PARTIAL_FILE, E2_EIO},
	{CURLE_WRITE_ERROR, E2_EIO},
	{CURLE_WEIRD_SERVER_REPLY, E2_EPROTO},
	{CURLE_HTTP2, E2_EPROTO},
	{CURLE_BAD_CONTENT_ENCODING, E2_EPROTO},
	{CURLE_FILESIZE_EXCEEDED, E2_EPROTO},
	{CURLE_OUT_OF_MEMORY, E2_ENOMEM},
	{CURLE_URL_MALFORMAT, E2_EINVAL},
	{CURLE_UNSUPPORTED_PROTOCOL, E2_EINVAL},
};

START_TEST(test_http_status_table)
{
	const struct status_row *r = &status_rows[_i];

	ck_assert_msg(http_curl_status(r->curl) == r->want,
		      "curl code %d: %s, want %s", r->curl,
		      e2_status_name(http_curl_status(r->curl)),
		      e2_status_name(r->want));
}
END_TEST

START_TEST(test_http_resolve)
{
	struct e2_err err = {0};
	char *u = NULL;

	ck_assert_int_eq(
		http_url_resolve("https://h.example/a/b", "../c", &u, &err),
		E2_OK);
	ck_assert_str_eq(u, "https://h.example/c");
	free(u);
	ck_assert_int_eq(http_url_resolve("nope", "/c", &u, &err), E2_EINVAL);
}
END_TEST

/* The kept headers; a new status line (after a 401) forgets them. */
START_TEST(test_http_response_header)
{
	static const char *const lines[] = {
		"HTTP/1.1 401 Unauthorized\r\n",
		"ETag: \"old\"\r\n",
		"HTTP/1.1 207 Multi-Status\r\n",
		"etag:  W/\"x1\" \r\n",
		"DAV: 1, 2\r\n",
		"Dav: calendar-access\r\n",
		"Content-Type: text/xml\r\n",
		"Content-Typo: nope\r\n",
		"Content-Length: 123\r\n",
		"X-Location: nope\r\n",
		"\r\n",
	};
	struct http_response r = {0};
	size_t i;

	r.body_cap = 7;
	for (i = 0; i < E2_ARRAY_LEN(lines); i++)
		ck_assert(http_response_header(&r, lines[i], strlen(lines[i])));
	ck_assert_str_eq(r.etag, "W/\"x1\"");
	ck_assert_int_eq(r.status, 207);
	ck_assert_str_eq(r.dav, "1, 2, calendar-access");
	ck_assert_str_eq(r.content_type, "text/xml");
	ck_assert_ptr_null(r.location);
	ck_assert_int_eq(r.content_length, 123);
	ck_assert(http_response_header(&r, "Content-Length: 12x\r\n", 21));
	ck_assert_int_eq(r.content_length, -1);
	ck_assert(http_response_header(
		&r, "Content-Length: 99999999999999999999\r\n", 38));
	ck_assert_int_eq(r.content_length, -1);
	ck_assert(http_response_header(&r, "HTTP/2 404\r\n", 12));
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_eq(r.content_length, -1);
	ck_assert(http_response_header(&r, "HTTP/1.1 2x0 Odd\r\n", 18));
	ck_assert_int_eq(r.status, 0);
	ck_assert(http_response_header(&r, "HTTP/1.1\r\n", 10));
	ck_assert_int_eq(r.status, 0);
	http_response_clear(&r);
	ck_assert_ptr_null(r.etag);
	ck_assert_uint_eq(r.body_cap, 7);
}
END_TEST

/* Refused before any connection: no network needed. */
START_TEST(test_http_policy_refusals)
{
	struct http_policy pol = {0};
	struct http_session *s = NULL;
	struct http_response resp = {0};
	struct e2_err err = {0};

	pol.user = "alice";
	pol.secret = "s3cret-value";
	ck_assert_int_eq(http_session_new(&pol, &s, &err), E2_OK);
	ck_assert_int_eq(http_request(s, "GET", "http://127.0.0.1:9/", NULL,
				      NULL, 0, &resp, &err),
			 E2_EINSECURE);
	ck_assert_ptr_null(strstr(err.msg, "s3cret"));
	e2_err_clear(&err);
	ck_assert_int_eq(http_request(s, "GET", "https://bob:pw@127.0.0.1:9/",
				      NULL, NULL, 0, &resp, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(strstr(err.msg, "pw"));
	e2_err_clear(&err);
	ck_assert_int_eq(http_request(s, "GET", "ftp://127.0.0.1/", NULL, NULL,
				      0, &resp, &err),
			 E2_EINVAL);
	e2_err_clear(&err);
	{
		const char *bad[] = {"X-A: 1\r\nAuthorization: x", NULL};

		ck_assert_int_eq(http_request(s, "GET", "https://127.0.0.1:9/",
					      bad, NULL, 0, &resp, &err),
				 E2_EINVAL);
		e2_err_clear(&err);
	}
	/* nothing listens on the discard port of loopback */
	ck_assert_int_eq(http_request(s, "GET", "https://127.0.0.1:9/", NULL,
				      NULL, 0, &resp, &err),
			 E2_ECONNECT);
	ck_assert_msg(strstr(err.msg, "127.0.0.1") != NULL, "%s", err.msg);
	http_response_clear(&resp);
	http_session_free(&s);
	ck_assert_ptr_null(s);

	pol.user = NULL;
	e2_err_clear(&err);
	ck_assert_int_eq(http_session_new(&pol, &s, &err), E2_EINVAL);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_add_loop_test(tc, test_http_redirect_table, 0,
			    (int)E2_ARRAY_LEN(redirect_rows));
	tcase_add_loop_test(tc, test_http_status_table, 0,
			    (int)E2_ARRAY_LEN(status_rows));
	tcase_add_test(tc, test_http_resolve);
	tcase_add_test(tc, test_http_response_header);
	tcase_add_test(tc, test_http_policy_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
