/* SPDX-License-Identifier: MIT */
/*
 * http.c -- HTTP requests over libcurl under email2's TLS policy
 *
 * One CURL easy handle per session: curl_easy_reset() before each request
 * drops the options but keeps the connection cache, so requests to the same
 * server reuse a kept-alive connection. Every request sets the whole policy
 * again (http_request_setopt()): TLS 1.2 minimum, the trust store (the
 * cafile replaces the system store, as in xport_tls.c), peer and host name
 * verification, the allowed protocols, timeouts, the cancel flag, no
 * redirect following, credentials by scheme.
 *
 * The pin. Decision: an OpenSSL verify callback installed through
 * CURLOPT_SSL_CTX_FUNCTION, not CURLINFO_CERTINFO after the transfer. The
 * callback sees the leaf during the handshake and fails the handshake when
 * it is not the pinned certificate, so no HTTP byte (and so no credential)
 * ever crosses a connection to another certificate, and a reused
 * connection was necessarily pinned when it was made. As in xport_tls.c a
 * pin replaces the chain and name checks (CURLOPT_SSL_VERIFYPEER and
 * VERIFYHOST off, the callback accepts any chain above the pinned leaf).
 * This needs the OpenSSL backend: configure checks it, and
 * http_session_new() checks curl_version_info() again at run time (a
 * different libcurl.so.4 may be loaded than the one configure saw).
 *
 * Credentials: libcurl answers the server's 401 challenge with Digest or
 * Basic (CURLAUTH_DIGEST | CURLAUTH_BASIC) over HTTPS; over plain HTTP
 * only Digest (the password never crosses in clear) unless the policy says
 * cleartext is allowed. The caller decides whether plain HTTP is used at
 * all (allow_http), and must not give credentials for a plain-HTTP session
 * when the mail side requires TLS for the same credentials (issue 10).
 */
#include "config.h"

#include "transports/http.h"
#include "transports/xport_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The most DAV: header bytes kept (every DAV: header joined). */
#define HTTP_DAV_MAX 4096u

struct http_session {
	CURL *curl;
	struct http_policy pol; /* strings point to the copies below */
	char *cafile;
	char *user;
	char *secret; /* wiped before free */
	char errbuf[CURL_ERROR_SIZE];
	/* per request */
	struct http_response *resp;
	const char *host;
	bool too_big;
	bool head; /* a HEAD: Content-Length is no body to come */
	bool pin_failed;
	bool leaf_seen;
	unsigned char leaf[XPORT_SHA256_LEN];
	struct xport_info tls; /* the last handshake (http_session_tls()) */
	size_t body_alloc;     /* bytes allocated at resp->body */
	/* the origin that asked for Basic only and accepted it, or NULL */
	char *basic_scheme;
	char *basic_host;
	long basic_port;
	unsigned long long traced_out, traced_in;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;
static int http_ex_idx = -1;

static void
http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	http_ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

enum e2_status
http_curl_status(int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return E2_OK;
	case CURLE_OUT_OF_MEMORY:
		return E2_ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_FAILED_INIT:
		return E2_EINVAL;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
		return E2_ERESOLVE;
	case CURLE_COULDNT_CONNECT:
		return E2_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_ABORTED_BY_CALLBACK: /* cancel, as xport_ctl.cancel */
		return E2_ETIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return E2_ETLS;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return E2_ECERT;
	case CURLE_LOGIN_DENIED:
	case CURLE_AUTH_ERROR:
		return E2_EAUTH;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_RANGE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_HTTP_RETURNED_ERROR:
		return E2_EPROTO;
	default:
		/* send, receive, partial, nothing, write and read errors */
		return E2_EIO;
	}
}

/* ---- URLs -------------------------------------------------------------- */

struct http_url {
	char *scheme;
	char *host;
	long port;
	bool userinfo;
};

static void
http_url_free(struct http_url *u)
{
	curl_free(u->scheme);
	curl_free(u->host);
	memset(u, 0, sizeof(*u));
}

/* The parts of h's URL; false when one is missing. */
static bool
http_url_parts(CURLU *h, struct http_url *u)
{
	char *s = NULL, *port = NULL, *user = NULL;
	bool ok = false;

	memset(u, 0, sizeof(*u));
	if (curl_url_get(h, CURLUPART_SCHEME, &u->scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &u->host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		    CURLUE_OK)
		goto out;
	u->port = strtol(port, &s, 10);
	if (s == port || *s != '\0')
		goto out;
	if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK)
		u->userinfo = true;
	curl_free(user);
	user = NULL;
	if (curl_url_get(h, CURLUPART_PASSWORD, &user, 0) == CURLUE_OK)
		u->userinfo = true;
	ok = true;
out:
	curl_free(user);
	curl_free(port);
	if (!ok)
		http_url_free(u);
	return ok;
}

static bool
http_scheme_is(const struct http_url *u, const char *scheme)
{
	return strcasecmp(u->scheme, scheme) == 0;
}

/*
 * The parts of from and of to (relative references resolve against
 * from); false when either does not parse. *ua and *ub are the caller's
 * (http_url_free()) either way.
 */
static bool
http_url_pair(const char *from, const char *to, struct http_url *ua,
	      struct http_url *ub)
{
	CURLU *a = NULL, *b = NULL;
	bool ok = false;

	memset(ua, 0, sizeof(*ua));
	memset(ub, 0, sizeof(*ub));
	if (from == NULL || to == NULL || *to == '\0')
		goto out;
	a = curl_url();
	if (a == NULL || curl_url_set(a, CURLUPART_URL, from, 0) != CURLUE_OK)
		goto out;
	b = curl_url_dup(a);
	if (b == NULL || curl_url_set(b, CURLUPART_URL, to, 0) != CURLUE_OK)
		goto out;
	ok = http_url_parts(a, ua) && http_url_parts(b, ub);
out:
	curl_url_cleanup(a);
	curl_url_cleanup(b);
	return ok;
}

bool
http_redirect_ok(const char *from, const char *to, bool *cred_ok)
{
	struct http_url ua, ub;
	bool ok = false, cred = false;

	if (!http_url_pair(from, to, &ua, &ub))
		goto out;
	if (!http_scheme_is(&ua, "https") && !http_scheme_is(&ua, "http"))
		goto out;
	if (!http_scheme_is(&ub, "https") && !http_scheme_is(&ub, "http"))
		goto out;
	/* never from https to http; never to a URL carrying credentials */
	if (http_scheme_is(&ua, "https") && !http_scheme_is(&ub, "https"))
		goto out;
	if (ub.userinfo)
		goto out;
	ok = true;
	if (strcasecmp(ua.host, ub.host) == 0) {
		if (ua.port == ub.port && strcasecmp(ua.scheme, ub.scheme) == 0)
			cred = true;
		else if (http_scheme_is(&ua, "http") && ua.port == 80 &&
			 http_scheme_is(&ub, "https") && ub.port == 443)
			cred = true;
	}
out:
	http_url_free(&ua);
	http_url_free(&ub);
	if (cred_ok != NULL)
		*cred_ok = cred;
	return ok;
}

bool
http_same_origin(const char *base, const char *to)
{
	struct http_url ua, ub;
	bool same = http_url_pair(base, to, &ua, &ub) && !ub.userinfo &&
		    strcasecmp(ua.scheme, ub.scheme) == 0 &&
		    strcasecmp(ua.host, ub.host) == 0 && ua.port == ub.port;

	http_url_free(&ua);
	http_url_free(&ub);
	return same;
}

enum e2_status
http_url_resolve(const char *base, const char *to, char **out,
		 struct e2_err *err)
{
	CURLU *h = curl_url();
	char *u = NULL, *copy;
	enum e2_status rc;

	if (h == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (base == NULL || to == NULL ||
	    curl_url_set(h, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_URL, to, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &u, 0) != CURLUE_OK) {
		rc = e2_fail(err, E2_EINVAL, "url does not parse");
		goto out;
	}
	copy = strdup(u);
	if (copy == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	*out = copy;
	rc = E2_OK;
out:
	curl_free(u);
	curl_url_cleanup(h);
	return rc;
}

/* ---- the session -------------------------------------------------------- */

static char *
http_strdup_opt(const char *s, bool *ok)
{
	char *c;

	if (s == NULL)
		return NULL;
	c = strdup(s);
	if (c == NULL)
		*ok = false;
	return c;
}

enum e2_status
http_session_new(const struct http_policy *pol, struct http_session **sess_out,
		 struct e2_err *err)
{
	const curl_version_info_data *v;
	struct http_session *s = NULL;
	bool ok = true;
	char q[160];
	enum e2_status rc;

	(void)pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK || http_ex_idx < 0)
		return e2_fail(err, E2_ENOMEM,
			       "libcurl: initialisation failed");
	v = curl_version_info(CURLVERSION_NOW);
	if (v == NULL || v->ssl_version == NULL ||
	    strncmp(v->ssl_version, "OpenSSL/", 8) != 0) {
		const char *b = v != NULL && v->ssl_version != NULL
					? v->ssl_version
					: "none";
		return e2_fail(err, E2_EINVAL,
			       "libcurl's TLS backend is %s, not OpenSSL",
			       e2_quote(q, sizeof(q), b, strlen(b)));
	}
	if (pol->secret != NULL && (pol->user == NULL || pol->user[0] == '\0'))
		return e2_fail(err, E2_EINVAL, "http: a secret without a user");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	s->pol = *pol;
	s->cafile = http_strdup_opt(pol->cafile, &ok);
	s->user = http_strdup_opt(pol->user, &ok);
	s->secret = http_strdup_opt(pol->secret, &ok);
	s->curl = curl_easy_init();
	if (!ok || s->curl == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	s->pol.cafile = s->cafile;
	s->pol.user = s->user;
	s->pol.secret = s->secret;
	if (s->pol.timeout_ms == 0)
		s->pol.timeout_ms = HTTP_TIMEOUT_MS;
	if (s->pol.idle_ms == 0)
		s->pol.idle_ms = HTTP_IDLE_MS;
	*sess_out = s;
	s = NULL;
	rc = E2_OK;
out:
	http_session_free(&s);
	return rc;
}

static void
http_basic_forget(struct http_session *s)
{
	free(s->basic_scheme);
	free(s->basic_host);
	s->basic_scheme = s->basic_host = NULL;
}

static bool
http_basic_known(const struct http_session *s, const struct http_url *u)
{
	return s->basic_host != NULL &&
	       strcasecmp(s->basic_scheme, u->scheme) == 0 &&
	       strcasecmp(s->basic_host, u->host) == 0 &&
	       s->basic_port == u->port;
}

static void
http_basic_remember(struct http_session *s, const struct http_url *u)
{
	http_basic_forget(s);
	s->basic_scheme = strdup(u->scheme);
	s->basic_host = strdup(u->host);
	s->basic_port = u->port;
	if (s->basic_scheme == NULL || s->basic_host == NULL)
		http_basic_forget(s); /* only an optimisation */
}

void
http_session_assume_basic(struct http_session *s, const char *url)
{
	CURLU *h = curl_url();
	struct http_url u = {0};

	if (h != NULL && url != NULL &&
	    curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    http_url_parts(h, &u) && http_scheme_is(&u, "https"))
		http_basic_remember(s, &u);
	http_url_free(&u);
	curl_url_cleanup(h);
}

bool
http_session_basic(const struct http_session *s)
{
	return s->basic_host != NULL;
}

FILE *
http_session_trace(const struct http_session *sess)
{
	return sess == NULL ? NULL : sess->pol.trace;
}

void
http_session_free(struct http_session **sess)
{
	struct http_session *s;

	if (sess == NULL || *sess == NULL)
		return;
	s = *sess;
	*sess = NULL;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	if (s->secret != NULL) {
		e2_wipe(s->secret, strlen(s->secret));
		free(s->secret);
	}
	http_basic_forget(s);
	free(s->user);
	free(s->cafile);
	free(s);
}

void
http_response_clear(struct http_response *r)
{
	size_t cap;

	if (r == NULL)
		return;
	cap = r->body_cap;
	free(r->etag);
	free(r->dav);
	free(r->content_type);
	free(r->location);
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->body_cap = cap;
	r->content_length = -1;
}

/* ---- callbacks ---------------------------------------------------------- */

/* The headers of a new response (an interim 1xx, a 401 before the retry
 * with credentials): what the last one said no longer holds. */
static void
http_headers_reset(struct http_response *r)
{
	free(r->etag);
	free(r->dav);
	free(r->content_type);
	free(r->location);
	r->etag = r->dav = r->content_type = r->location = NULL;
	r->content_length = -1;
}

/* Replaces *dst with the n bytes at v (NUL-terminated); false: no memory. */
static bool
http_set_value(char **dst, const char *v, size_t n)
{
	char *c = malloc(n + 1);

	if (c == NULL)
		return false;
	memcpy(c, v, n);
	c[n] = '\0';
	free(*dst);
	*dst = c;
	return true;
}

static bool
http_append_dav(char **dst, const char *v, size_t n)
{
	size_t old = *dst != NULL ? strlen(*dst) : 0;
	char *c;

	if (old == 0)
		return http_set_value(dst, v, n);
	if (old + 2 + n > HTTP_DAV_MAX)
		return true; /* enough DAV classes: the rest is dropped */
	c = realloc(*dst, old + 2 + n + 1);
	if (c == NULL)
		return false;
	memcpy(c + old, ", ", 2);
	memcpy(c + old + 2, v, n);
	c[old + 2 + n] = '\0';
	*dst = c;
	return true;
}

static bool
http_header_is(const char *line, size_t n, const char *name, size_t *vstart)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	*vstart = k + 1;
	return true;
}

bool
http_response_header(struct http_response *r, const char *buf, size_t n)
{
	size_t v, e;
	bool ok = true;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', n);
		size_t at = sp != NULL ? (size_t)(sp - buf) + 1 : n;

		http_headers_reset(r);
		/* the status of the answer whose headers follow (libcurl's
		 * CURLINFO_RESPONSE_CODE replaces it after the transfer) */
		r->status = 0;
		if (at + 3 <= n && buf[at] >= '1' && buf[at] <= '5' &&
		    buf[at + 1] >= '0' && buf[at + 1] <= '9' &&
		    buf[at + 2] >= '0' && buf[at + 2] <= '9')
			r->status = (buf[at] - '0') * 100 +
				    (buf[at + 1] - '0') * 10 +
				    (buf[at + 2] - '0');
		return true;
	}
	e = n;
	while (e > 0 && (buf[e - 1] == '\r' || buf[e - 1] == '\n' ||
			 buf[e - 1] == ' ' || buf[e - 1] == '\t'))
		e--;
	if (http_header_is(buf, e, "etag", &v) ||
	    http_header_is(buf, e, "content-type", &v) ||
	    http_header_is(buf, e, "location", &v) ||
	    http_header_is(buf, e, "dav", &v) ||
	    http_header_is(buf, e, "content-length", &v)) {
		char c0 = (char)(buf[0] | 0x20);
		char c8 = e > 8 ? (char)(buf[8] | 0x20) : '\0';

		while (v < e && (buf[v] == ' ' || buf[v] == '\t'))
			v++;
		if (c0 == 'e')
			ok = http_set_value(&r->etag, buf + v, e - v);
		else if (c0 == 'l')
			ok = http_set_value(&r->location, buf + v, e - v);
		else if (c0 == 'd')
			ok = http_append_dav(&r->dav, buf + v, e - v);
		else if (c8 == 't')
			ok = http_set_value(&r->content_type, buf + v, e - v);
		else {
			long long len = 0;
			size_t i;

			for (i = v; i < e && len >= 0; i++) {
				if (buf[i] < '0' || buf[i] > '9' ||
				    len > (LLONG_MAX - 9) / 10)
					len = -1;
				else
					len = len * 10 + (buf[i] - '0');
			}
			r->content_length = i == v ? -1 : len;
		}
	}
	return ok;
}

static size_t
http_header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct http_session *s = ud;
	struct http_response *r = s->resp;
	size_t n = size * nitems;

	if (!http_response_header(r, buf, n))
		return 0;
	/* a final answer that says it is over the cap is refused before
	 * its body is read (an auth challenge or redirect has its own) */
	if (!s->head && r->status >= 200 && r->status < 300 &&
	    r->content_length >= 0 &&
	    (unsigned long long)r->content_length > r->body_cap) {
		s->too_big = true;
		return 0;
	}
	return n;
}

static size_t
http_write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct http_session *s = ud;
	struct http_response *r = s->resp;
	size_t n = size * nitems, want;
	char *b;

	if (n > r->body_cap - r->body_len || r->body_len > r->body_cap) {
		s->too_big = true;
		return 0;
	}
	want = r->body_len + n + 1;
	if (r->body == NULL || want > s->body_alloc) {
		size_t a = s->body_alloc < 4096 ? 4096 : s->body_alloc;

		while (a < want)
			a = a > SIZE_MAX / 2 ? want : a * 2;
		if (a > r->body_cap + 1 && want <= r->body_cap + 1)
			a = r->body_cap + 1;
		b = realloc(r->body, a);
		if (b == NULL)
			return 0;
		r->body = b;
		s->body_alloc = a;
	}
	memcpy(r->body + r->body_len, buf, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static int
http_xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		 curl_off_t ultotal, curl_off_t ulnow)
{
	const struct http_session *s = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return s->pol.cancel != NULL && atomic_load(s->pol.cancel) ? 1 : 0;
}

/*
 * The leaf the server presented, for the report (issue 10: conntest shows
 * and --pin pins what a DAV server presented, also when it did not
 * verify). The verdict is set after the transfer (http_request()).
 */
static void
http_tls_note(struct http_session *s, SSL *ssl, X509 *leaf)
{
	struct xport_info *t = &s->tls;
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	memset(t, 0, sizeof(*t));
	(void)snprintf(t->tls_version, sizeof(t->tls_version), "%s",
		       SSL_get_version(ssl));
	if (c != NULL)
		(void)snprintf(t->cipher, sizeof(t->cipher), "%s",
			       SSL_CIPHER_get_name(c));
	xport_cert_describe(leaf, t);
}

/*
 * During the handshake: notes the leaf for the report and, with a pin,
 * decides (see the header comment). Without a pin OpenSSL's verdict ok
 * stands unchanged.
 */
static int
http_verify_cb(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_CTX *ctx = ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL;
	struct http_session *s =
		ctx != NULL ? SSL_CTX_get_ex_data(ctx, http_ex_idx) : NULL;
	X509 *leaf;
	unsigned int len = 0;

	if (s == NULL)
		return 0;
	/* the leaf, whichever depth OpenSSL reports first (an unknown
	 * issuer may stop the handshake before depth 0 is seen) */
	leaf = X509_STORE_CTX_get0_cert(sctx);
	if (!s->leaf_seen && leaf != NULL &&
	    X509_digest(leaf, EVP_sha256(), s->leaf, &len) == 1 &&
	    len == XPORT_SHA256_LEN) {
		s->leaf_seen = true;
		http_tls_note(s, ssl, leaf);
	}
	if (!s->pol.pinned)
		return ok;
	/* the chain's verdict is replaced by the pin */
	if (X509_STORE_CTX_get_error_depth(sctx) != 0)
		return 1;
	if (s->leaf_seen &&
	    CRYPTO_memcmp(s->leaf, s->pol.pin, XPORT_SHA256_LEN) == 0)
		return 1;
	s->pin_failed = true;
	return 0;
}

static CURLcode
http_ssl_ctx_cb(CURL *curl, void *sslctx, void *ud)
{
	SSL_CTX *ctx = sslctx;

	(void)curl;
	if (SSL_CTX_set_ex_data(ctx, http_ex_idx, ud) != 1)
		return CURLE_SSL_CERTPROBLEM;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, http_verify_cb);
	return CURLE_OK;
}

/* ---- the trace ---------------------------------------------------------- */

static void
http_trace_line(FILE *f, const char *dir, const char *p, size_t n)
{
	char q[400];

	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	if (strncasecmp(p, "authorization:", 14) == 0)
		(void)fprintf(f,
			      "http%s Authorization: [credentials redacted]\n",
			      dir);
	else if (strncasecmp(p, "proxy-authorization:", 20) == 0)
		(void)fprintf(f,
			      "http%s Proxy-Authorization: [credentials "
			      "redacted]\n",
			      dir);
	else
		(void)fprintf(f, "http%s %s\n", dir,
			      e2_quote(q, sizeof(q), p, n));
}

/* libcurl's own notes worth a line (others may name the user) */
static bool
http_trace_note_ok(const char *p, size_t n)
{
	static const char *const keep[] = {
		"Connected to ",         "Re-using existing connection",
		"SSL connection using ", "Closing connection",
		"Connection died",       "ALPN: server accepted",
	};
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (n >= strlen(keep[i]) &&
		    strncmp(p, keep[i], strlen(keep[i])) == 0)
			return true;
	return false;
}

static int
http_debug_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *ud)
{
	struct http_session *s = ud;
	FILE *f = s->pol.trace;
	size_t i, start = 0;

	(void)curl;
	switch (type) {
	case CURLINFO_TEXT:
		if (http_trace_note_ok(data, size))
			http_trace_line(f, ":", data, size);
		break;
	case CURLINFO_HEADER_OUT:
		for (i = 0; i < size; i++) {
			if (data[i] != '\n')
				continue;
			http_trace_line(f, ">", data + start, i - start);
			start = i + 1;
		}
		if (start < size)
			http_trace_line(f, ">", data + start, size - start);
		break;
	case CURLINFO_HEADER_IN:
		http_trace_line(f, "<", data, size);
		break;
	case CURLINFO_DATA_OUT:
		s->traced_out += size;
		break;
	case CURLINFO_DATA_IN:
		s->traced_in += size;
		break;
	default:
		break;
	}
	return 0;
}

/* ---- one request -------------------------------------------------------- */

#define HTTP_SETOPT(c, o, v)                                                   \
	do {                                                                   \
		if (curl_easy_setopt((c), (o), (v)) != CURLE_OK)               \
			goto fail;                                             \
	} while (0)

static enum e2_status
http_request_setopt(struct http_session *s, const char *method, const char *url,
		    struct curl_slist *hdrs, const void *body, size_t len,
		    long auth, struct e2_err *err)
{
	CURL *c = s->curl;
	const char *protos = s->pol.allow_http ? "http,https" : "https";
	long idle_s = (long)((s->pol.idle_ms + 999u) / 1000u);

	curl_easy_reset(c); /* keeps the connection cache */
	HTTP_SETOPT(c, CURLOPT_URL, url);
	HTTP_SETOPT(c, CURLOPT_PROTOCOLS_STR, protos);
	HTTP_SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	HTTP_SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(c, CURLOPT_ERRORBUFFER, s->errbuf);
	HTTP_SETOPT(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->pol.pinned) {
		HTTP_SETOPT(c, CURLOPT_SSL_VERIFYPEER, 0L);
		HTTP_SETOPT(c, CURLOPT_SSL_VERIFYHOST, 0L);
		HTTP_SETOPT(c, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx_cb);
		HTTP_SETOPT(c, CURLOPT_SSL_CTX_DATA, s);
	} else {
		HTTP_SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
		HTTP_SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
		/* only notes the leaf for the report (http_verify_cb()) */
		HTTP_SETOPT(c, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx_cb);
		HTTP_SETOPT(c, CURLOPT_SSL_CTX_DATA, s);
	}
	if (s->pol.cafile != NULL) {
		/* the cafile replaces the system store (xport_tls.c) */
		HTTP_SETOPT(c, CURLOPT_CAINFO, s->pol.cafile);
		HTTP_SETOPT(c, CURLOPT_CAPATH, (const char *)NULL);
	}
	HTTP_SETOPT(c, CURLOPT_TIMEOUT_MS, (long)s->pol.timeout_ms);
	HTTP_SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->pol.idle_ms);
	HTTP_SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	HTTP_SETOPT(c, CURLOPT_LOW_SPEED_TIME, idle_s);
	HTTP_SETOPT(c, CURLOPT_NOPROGRESS, 0L);
	HTTP_SETOPT(c, CURLOPT_XFERINFOFUNCTION, http_xferinfo_cb);
	HTTP_SETOPT(c, CURLOPT_XFERINFODATA, s);
	HTTP_SETOPT(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(c, CURLOPT_HEADERDATA, s);
	HTTP_SETOPT(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(c, CURLOPT_WRITEDATA, s);
	HTTP_SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "GET") == 0 && body == NULL) {
		HTTP_SETOPT(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0 && body == NULL) {
		HTTP_SETOPT(c, CURLOPT_NOBODY, 1L);
	} else {
		if (body != NULL || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "POST") == 0) {
			HTTP_SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE,
				    (curl_off_t)len);
			HTTP_SETOPT(c, CURLOPT_POSTFIELDS,
				    body != NULL ? body : "");
		}
		HTTP_SETOPT(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (auth != CURLAUTH_NONE) {
		HTTP_SETOPT(c, CURLOPT_USERNAME, s->pol.user);
		HTTP_SETOPT(c, CURLOPT_PASSWORD,
			    s->pol.secret != NULL ? s->pol.secret : "");
		HTTP_SETOPT(c, CURLOPT_HTTPAUTH, auth);
	}
	if (s->pol.trace != NULL) {
		HTTP_SETOPT(c, CURLOPT_VERBOSE, 1L);
		HTTP_SETOPT(c, CURLOPT_DEBUGFUNCTION, http_debug_cb);
		HTTP_SETOPT(c, CURLOPT_DEBUGDATA, s);
	}
	return E2_OK;
fail:
	return e2_fail(err, E2_EINVAL, "%s: libcurl refused an option",
		       s->host);
}

/* The message of a failed transfer: the host and the cause. */
static enum e2_status
http_fail(struct http_session *s, CURLcode cc, long port, struct e2_err *err)
{
	enum e2_status rc = http_curl_status((int)cc);
	char q[160], got[XPORT_FP_STRLEN], want[XPORT_FP_STRLEN];
	long vr = X509_V_OK;

	(void)e2_quote(q, sizeof(q), s->errbuf, strlen(s->errbuf));
	if (s->pol.pinned && s->pin_failed) {
		xport_fp_format(s->pol.pin, want);
		if (!s->leaf_seen)
			return e2_fail(err, E2_ECERT,
				       "certificate of %s: no fingerprint, "
				       "pinned %s",
				       s->host, want);
		xport_fp_format(s->leaf, got);
		return e2_fail(err, E2_ECERT,
			       "certificate of %s changed: %s is not the "
			       "pinned %s; re-pin: email2-conntest --pin",
			       s->host, got, want);
	}
	if (s->too_big)
		return e2_fail(err, E2_EPROTO,
			       "%s: response body larger than %zu bytes",
			       s->host, s->resp->body_cap);
	switch (rc) {
	case E2_ERESOLVE:
		return e2_fail(err, rc, "%s: host name does not resolve",
			       s->host);
	case E2_ECONNECT:
		return e2_fail(err, rc, "%s port %ld: cannot connect: %s",
			       s->host, port, q);
	case E2_ETIMEOUT:
		if (cc == CURLE_ABORTED_BY_CALLBACK)
			return e2_fail(err, rc, "%s: cancelled", s->host);
		return e2_fail(err, rc, "%s: timed out: %s", s->host, q);
	case E2_ECERT:
		if (curl_easy_getinfo(s->curl, CURLINFO_SSL_VERIFYRESULT,
				      &vr) == CURLE_OK &&
		    vr != X509_V_OK)
			return e2_fail(err, rc, "certificate of %s: %s",
				       s->host,
				       X509_verify_cert_error_string(vr));
		return e2_fail(err, rc, "certificate of %s: %s", s->host, q);
	case E2_ETLS:
		return e2_fail(err, rc, "%s: TLS handshake failed: %s", s->host,
			       q);
	case E2_ENOMEM:
		return e2_fail(err, rc, "out of memory");
	default:
		return e2_fail(err, rc, "%s: %s", s->host, q);
	}
}

/*
 * The verdict on the leaf this request's handshake noted (none on a reused
 * connection: the last handshake's report stands).
 */
static void
http_tls_verdict(struct http_session *s, bool https, CURLcode cc)
{
	struct xport_info *t = &s->tls;
	long vr = X509_V_OK;

	if (!https || !s->leaf_seen)
		return;
	t->tls = cc == CURLE_OK;
	t->cert_pinned = s->pol.pinned && !s->pin_failed;
	t->cert_verified = cc == CURLE_OK || t->cert_pinned;
	if (s->pol.pinned)
		(void)snprintf(t->verify_result, sizeof(t->verify_result), "%s",
			       s->pin_failed ? "not the pinned certificate"
					     : "pinned");
	else if (http_curl_status((int)cc) == E2_ECERT &&
		 curl_easy_getinfo(s->curl, CURLINFO_SSL_VERIFYRESULT, &vr) ==
			 CURLE_OK &&
		 vr != X509_V_OK)
		(void)snprintf(t->verify_result, sizeof(t->verify_result), "%s",
			       X509_verify_cert_error_string(vr));
	else if (http_curl_status((int)cc) == E2_ECERT)
		(void)snprintf(t->verify_result, sizeof(t->verify_result),
			       "host name or chain did not verify");
	else if (cc == CURLE_OK)
		(void)snprintf(t->verify_result, sizeof(t->verify_result),
			       "ok");
}

void
http_session_tls(const struct http_session *s, struct xport_info *info)
{
	*info = s->tls;
}

enum e2_status
http_request(struct http_session *s, const char *method, const char *url,
	     const char *const *headers, const void *body, size_t len,
	     struct http_response *resp, struct e2_err *err)
{
	CURLU *h = NULL;
	struct http_url u = {0};
	struct curl_slist *hdrs = NULL, *t;
	char host[160];
	bool https, creds;
	long auth = CURLAUTH_NONE, connects = 0, avail = 0;
	CURLcode cc;
	size_t i;
	enum e2_status rc;

	http_response_clear(resp);
	s->resp = resp;
	s->host = "http";
	s->too_big = s->pin_failed = s->leaf_seen = false;
	s->head = method != NULL && strcmp(method, "HEAD") == 0;
	s->traced_out = s->traced_in = 0;
	s->body_alloc = 0;
	s->errbuf[0] = '\0';
	h = curl_url();
	if (h == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (url == NULL ||
	    curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    !http_url_parts(h, &u)) {
		rc = e2_fail(err, E2_EINVAL, "url %s does not parse",
			     url != NULL ? e2_quote(host, sizeof(host), url,
						    strlen(url))
					 : "(none)");
		goto out;
	}
	(void)e2_quote(host, sizeof(host), u.host, strlen(u.host));
	s->host = host;
	https = http_scheme_is(&u, "https");
	if (!https && !http_scheme_is(&u, "http")) {
		rc = e2_fail(err, E2_EINVAL, "%s: scheme %s is not http(s)",
			     host, u.scheme);
		goto out;
	}
	if (u.userinfo) {
		rc = e2_fail(err, E2_EINVAL,
			     "%s: credentials in a URL are not used", host);
		goto out;
	}
	if (!https && !s->pol.allow_http) {
		rc = e2_fail(err, E2_EINSECURE,
			     "http://%s: plain HTTP refused, TLS required",
			     host);
		goto out;
	}
	creds = s->pol.user != NULL && s->pol.user[0] != '\0';
	if (creds)
		auth = https || s->pol.cleartext_ok
			       ? (long)(CURLAUTH_DIGEST | CURLAUTH_BASIC)
			       : (long)CURLAUTH_DIGEST;
	if (creds && (auth & CURLAUTH_BASIC) != 0 && http_basic_known(s, &u))
		auth = (long)CURLAUTH_BASIC;
	/* no 100-continue round trip: the body follows the headers */
	hdrs = curl_slist_append(NULL, "Expect:");
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (strpbrk(headers[i], "\r\n") != NULL) {
			rc = e2_fail(err, E2_EINVAL,
				     "%s: a request header has a line break",
				     host);
			goto out;
		}
	}
	for (i = 0; hdrs != NULL && headers != NULL && headers[i] != NULL;
	     i++) {
		t = curl_slist_append(hdrs, headers[i]);
		if (t == NULL) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		}
		hdrs = t;
	}
	if (hdrs == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	rc = http_request_setopt(s, method, url, hdrs, body, len, auth, err);
	if (rc != E2_OK)
		goto out;
	if (s->pol.trace != NULL) {
		char q[160];

		/* userinfo was refused above: the URL carries no credential */
		(void)fprintf(s->pol.trace, "http: %s %s\n", method,
			      e2_quote(q, sizeof(q), url, strlen(url)));
	}
	cc = curl_easy_perform(s->curl);
	if (s->pol.trace != NULL && (s->traced_out > 0 || s->traced_in > 0))
		(void)fprintf(s->pol.trace,
			      "http: [body, %llu bytes sent, %llu bytes "
			      "received]\n",
			      s->traced_out, s->traced_in);
	http_tls_verdict(s, https, cc);
	if (cc != CURLE_OK) {
		rc = http_fail(s, cc, u.port, err);
		goto out;
	}
	(void)curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &connects) ==
	    CURLE_OK)
		resp->reused = connects == 0;
	(void)curl_easy_getinfo(s->curl, CURLINFO_HTTPAUTH_AVAIL, &avail);
	if (resp->status == 401 && creds) {
		http_basic_forget(s);
		if ((avail & auth) == 0 && (avail & CURLAUTH_BASIC) != 0)
			rc = e2_fail(err, E2_EINSECURE,
				     "%s: credentials not sent: the server "
				     "asks for Basic over plain HTTP",
				     host);
		else if ((avail & auth) == 0)
			rc = e2_fail(err, E2_EAUTH,
				     "%s: the server offers neither Digest "
				     "nor Basic",
				     host);
		else
			rc = e2_fail(err, E2_EAUTH,
				     "%s: credentials rejected (HTTP 401)",
				     host);
		goto out;
	}
	/*
	 * A server that asked for Basic only and took it gets Basic at once
	 * from now on (same scheme, host and port): no 401 round trip per
	 * request. Digest needs the server's nonce, so it keeps the probe.
	 */
	if (creds && (auth & CURLAUTH_BASIC) != 0 &&
	    (avail & CURLAUTH_BASIC) != 0 && (avail & CURLAUTH_DIGEST) == 0)
		http_basic_remember(s, &u);
	rc = E2_OK;
out:
	curl_slist_free_all(hdrs);
	http_url_free(&u);
	curl_url_cleanup(h);
	s->resp = NULL;
	s->host = "http";
	return rc;
}
