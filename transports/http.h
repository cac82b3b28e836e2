/* SPDX-License-Identifier: MIT */
/* http.h -- HTTP requests over libcurl under email2's TLS policy */
#ifndef E2_HTTP_H
#define E2_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "email2.h"
#include "transports/xport.h"

/*
 * The policy of one session: plain data, no account (the same policy as a
 * mail side's struct chain_opts). Strings are copied by http_session_new();
 * cancel and trace are borrowed for the session's life.
 */
struct http_policy {
	const char *cafile;  /* NULL: the system trust store */
	unsigned timeout_ms; /* a whole request, connect included;
				0: HTTP_TIMEOUT_MS */
	unsigned idle_ms;    /* a request with no byte either way for this
				long fails (whole seconds, rounded up);
				0: HTTP_IDLE_MS, as the mail chain's I/O */
	/*
	 * A pinned leaf certificate (SHA-256 of its DER, chain_opts.pin): when
	 * set, exactly that certificate is accepted, chain and name checks
	 * replaced (xport_tls.c); anything else is E2_ECERT before a byte of
	 * HTTP is sent.
	 */
	bool pinned;
	unsigned char pin[XPORT_SHA256_LEN];
	bool allow_http;   /* http:// URLs too; false: https:// only */
	bool cleartext_ok; /* Basic may cross plain HTTP (else Digest only) */
	const char *user;  /* NULL or "": no credentials */
	const char *secret;
	const atomic_bool *cancel; /* set: the request fails E2_ETIMEOUT */
	FILE *trace; /* -v: "http> " / "http< " lines, NULL: off */
};

#define HTTP_TIMEOUT_MS 60000u
#define HTTP_IDLE_MS 10000u

/*
 * One response. The caller sets body_cap (the most body bytes it accepts,
 * 0: none) before http_request(); everything else is written by it and
 * freed by http_response_clear(). Header values are the server's bytes
 * (untrusted: e2_quote() them for messages), NULL when absent.
 */
struct http_response {
	size_t body_cap;
	long status; /* the final status, 0: no response */
	char *etag;
	char *dav;                /* every DAV: header, joined with ", " */
	char *content_type;       /* Content-Type */
	char *location;           /* Location, as sent (maybe relative) */
	long long content_length; /* -1: absent or not a number */
	char *body;               /* body_len bytes and a NUL; NULL: none */
	size_t body_len;
	bool reused; /* the request went over a kept-alive connection */
};

struct http_session;

/*
 * A session: one libcurl easy handle whose connections are kept alive and
 * reused by the requests made on it. Checks that libcurl's TLS backend is
 * OpenSSL (the pin is an OpenSSL verify callback). *sess_out is the
 * caller's (http_session_free()).
 * Errors: E2_EINVAL (not OpenSSL, a secret without a user), E2_ENOMEM.
 */
enum e2_status http_session_new(const struct http_policy *pol,
				struct http_session **sess_out,
				struct e2_err *err);

/* Closes the session's connections and wipes its copy of the secret.
 * NULL-safe. */
void http_session_free(struct http_session **sess);

/* The session's -v trace (http_policy.trace), NULL when off: for a layer
 * above to name its step before a request. */
FILE *http_session_trace(const struct http_session *sess);

/*
 * Sends one request and reads its response into resp (cleared first).
 * method: "GET", "PUT", "PROPFIND", ...; url: absolute http(s), without
 * userinfo (borrowed); headers: NULL or a NULL-terminated array of
 * "Name: value" (borrowed); body: len bytes or NULL. Redirects are not
 * followed: a 3xx is E2_OK with resp->location (http_redirect_ok() says
 * whether to go on). Any other status is E2_OK too, except 401: E2_EAUTH
 * when credentials were sent, E2_EINSECURE when the policy withheld them
 * on plain HTTP. Credentials: Digest or Basic over HTTPS, Digest only over
 * HTTP unless pol->cleartext_ok; once an origin asked for Basic only and
 * took it, later requests to it send Basic at once (no 401 round trip).
 * resp->body holds at most resp->body_cap
 * bytes: a longer body is E2_EPROTO.
 * Errors: E2_EINVAL (bad URL, userinfo in it), E2_EINSECURE (http:// not
 * allowed, credentials withheld), E2_ERESOLVE, E2_ECONNECT, E2_ETIMEOUT
 * (also cancel), E2_ETLS, E2_ECERT, E2_EAUTH, E2_EPROTO, E2_EIO,
 * E2_ENOMEM. Messages name the host and the cause, never a credential.
 */
enum e2_status http_request(struct http_session *sess, const char *method,
			    const char *url, const char *const *headers,
			    const void *body, size_t len,
			    struct http_response *resp, struct e2_err *err);

/*
 * The TLS side of the session's last handshake (issue 10, for the
 * connection test): version, cipher, the leaf's subject, issuer, SHA-256
 * and dates (also when it did not verify: what --pin pins), whether it
 * verified or was the pinned one, OpenSSL's verify string. address is
 * never set. All zero when no handshake has happened yet.
 */
void http_session_tls(const struct http_session *s, struct xport_info *info);

/* Frees what http_request() wrote; keeps body_cap. NULL-safe. */
void http_response_clear(struct http_response *resp);

/* ---- pure decision logic (unit-tested) ---- */

/*
 * Whether a redirect from the absolute URL from to the Location to
 * (absolute or relative to from) may be followed: only to http or https,
 * never from https to http. *cred_ok (may be NULL) says whether the
 * credentials may go along: only to the same host name (letter case
 * ignored) and port, or to that host's https on its default port from
 * its http on the default port. False for anything that does not parse.
 */
bool http_redirect_ok(const char *from, const char *to, bool *cred_ok);

/*
 * Whether to (absolute, or relative to base) has base's origin: the same
 * scheme, host (ASCII case ignored) and port (the scheme's default when
 * none is given), and no userinfo. False for anything that does not parse.
 */
bool http_same_origin(const char *base, const char *to);

/*
 * Basic from the first request on url's origin, as if the server had
 * asked for Basic alone and taken it in this session (an origin a caller
 * remembered from an earlier session): only for an https:// url, else
 * nothing changes. A 401 forgets it and the next request probes again.
 */
void http_session_assume_basic(struct http_session *s, const char *url);
/* Whether the session sends Basic at once (the server took it). */
bool http_session_basic(const struct http_session *s);

/*
 * to resolved against the absolute URL base into *out (the caller's,
 * free()). Errors: E2_EINVAL (either does not parse), E2_ENOMEM.
 */
enum e2_status http_url_resolve(const char *base, const char *to, char **out,
				struct e2_err *err);

/*
 * One header line of a response as libcurl hands it over (n bytes, CR LF
 * included, not NUL-terminated; untrusted): a status line "HTTP/..."
 * forgets the headers kept so far (an interim or 401 response) and sets
 * r->status from it (0 when it has none; the transfer's final status
 * replaces it afterwards), ETag,
 * DAV (joined, at most 4096 bytes), Content-Type, Location and
 * Content-Length are kept in r, anything else is ignored. False: no
 * memory.
 */
bool http_response_header(struct http_response *r, const char *line, size_t n);

/* The cause of a libcurl CURLcode (an int here: no curl.h for callers). */
enum e2_status http_curl_status(int curl_code);

#endif /* E2_HTTP_H */
