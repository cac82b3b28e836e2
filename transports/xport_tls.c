/* SPDX-License-Identifier: MIT */
/* xport_tls.c -- the TLS layer on OpenSSL 3, reading through the layer below */
#include "config.h"

#include "transports/xport_int.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/*
 * The TLS layer never touches the socket: a BIO forwards OpenSSL's reads and
 * writes to the layer below, so deadlines, cancellation and error messages
 * come from one place (the tcp layer), and the handshake obeys them too.
 */
#define XPORT_TLS_READ_BUFFER (64u * 1024)

struct xport_tls {
	SSL_CTX *ctx;
	SSL *ssl;
	X509 *leaf;  /* the server's certificate as verification saw it */
	bool up;     /* handshake completed and verified */
	bool pinned; /* accept exactly pin, whatever verification says */
	bool pin_ok; /* up because the leaf is the pinned one */
	unsigned char pin[XPORT_SHA256_LEN];
};

static BIO_METHOD *xport_tls_bio_method;
static pthread_once_t xport_tls_bio_once = PTHREAD_ONCE_INIT;

static int
xport_tls_bio_write(BIO *b, const char *buf, int len)
{
	struct xport *below = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	return xport_write(below, buf, (size_t)len) < 0 ? -1 : len;
}

static int
xport_tls_bio_read(BIO *b, char *buf, int len)
{
	struct xport *below = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	n = xport_read(below, buf, (size_t)len);
	return n < 0 ? -1 : (int)n;
}

static long
xport_tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
xport_tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
xport_tls_bio_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "email2 xport");

	if (m == NULL)
		return;
	if (BIO_meth_set_write(m, xport_tls_bio_write) != 1 ||
	    BIO_meth_set_read(m, xport_tls_bio_read) != 1 ||
	    BIO_meth_set_ctrl(m, xport_tls_bio_ctrl) != 1 ||
	    BIO_meth_set_create(m, xport_tls_bio_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	xport_tls_bio_method = m;
}

/* Drains OpenSSL's error queue into one message: "a; b; c". */
static void
xport_tls_drain(char *dst, size_t dstlen)
{
	unsigned long e;
	size_t o = 0;

	dst[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (o + 3 < dstlen) {
			int w = snprintf(dst + o, dstlen - o, "%s%s",
					 o != 0 ? "; " : "", one);
			if (w > 0)
				o += (size_t)w;
			if (o >= dstlen)
				o = dstlen - 1;
		}
	}
	if (dst[0] == '\0')
		(void)snprintf(dst, dstlen, "no detail from OpenSSL");
}

static ssize_t
xport_tls_read(struct xport *xp, void *buf, size_t len)
{
	struct xport_tls *t = xp->ctx;
	char why[200];
	size_t got = 0;
	int r, e;

	if (!t->up)
		return -1;
	ERR_clear_error();
	r = SSL_read_ex(t->ssl, buf, len, &got);
	if (r == 1)
		return (ssize_t)got;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (xp->err->code != E2_OK)
		return -1; /* the layer below said why */
	/*
	 * The peer closed TCP without a close_notify: OpenSSL 3 reports
	 * SSL_R_UNEXPECTED_EOF_WHILE_READING (or a bare SYSCALL error with
	 * an empty queue). That is end of stream for the protocol above,
	 * whose framing notices a cut reply; say so, not "tls error".
	 */
	if ((e == SSL_ERROR_SSL &&
	     ERR_GET_REASON(ERR_peek_error()) ==
		     SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
	    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
		ERR_clear_error();
		return 0;
	}
	xport_tls_drain(why, sizeof(why));
	(void)e2_fail(xp->err, E2_EIO, "tls read from %s: %s",
		      xport_tcp_peer(xp->below), why);
	return -1;
}

static ssize_t
xport_tls_write(struct xport *xp, const void *buf, size_t len)
{
	struct xport_tls *t = xp->ctx;
	char why[200];
	size_t done = 0;

	if (!t->up)
		return -1;
	if (len == 0)
		return 0;
	ERR_clear_error();
	if (SSL_write_ex(t->ssl, buf, len, &done) == 1 && done == len)
		return (ssize_t)len;
	if (xp->err->code != E2_OK)
		return -1;
	xport_tls_drain(why, sizeof(why));
	(void)e2_fail(xp->err, E2_EIO, "tls write to %s: %s",
		      xport_tcp_peer(xp->below), why);
	return -1;
}

static size_t
xport_tls_pending(const struct xport *xp)
{
	const struct xport_tls *t = xp->ctx;

	if (!t->up)
		return 0;
	return (size_t)SSL_pending(t->ssl);
}

static void
xport_tls_name(const X509_NAME *name, char *dst, size_t dstlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	dst[0] = '\0';
	if (b == NULL || name == NULL)
		goto out;
	if (X509_NAME_print_ex(b, name, 0,
			       XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_get_mem_data(b, &p);
	if (n > 0)
		(void)e2_quote(dst, dstlen, p, (size_t)n);
out:
	BIO_free(b);
}

void
xport_fp_format(const unsigned char fp[XPORT_SHA256_LEN],
		char dst[XPORT_FP_STRLEN])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	memcpy(dst, "SHA256:", 7);
	o = 7;
	for (size_t i = 0; i < XPORT_SHA256_LEN; i++) {
		dst[o++] = hex[fp[i] >> 4];
		dst[o++] = hex[fp[i] & 0x0f];
	}
	dst[o] = '\0';
}

/* The SHA-256 of the certificate's DER encoding. */
static bool
xport_tls_cert_digest(const X509 *cert, unsigned char fp[XPORT_SHA256_LEN])
{
	unsigned int len = 0;

	return X509_digest(cert, EVP_sha256(), fp, &len) == 1 &&
	       len == XPORT_SHA256_LEN;
}

/* ISO 8601 in UTC, "" when the time cannot be read. */
static void
xport_tls_time(const ASN1_TIME *t, char *dst, size_t dstlen)
{
	struct tm tm;

	dst[0] = '\0';
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return;
	if (strftime(dst, dstlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		dst[0] = '\0';
}

/*
 * The leaf's names, fingerprint and validity dates, for the report: one
 * description for the mail chain and the HTTP layer (transports/http.c).
 */
void
xport_cert_describe(const X509 *peer, struct xport_info *info)
{
	unsigned char fp[XPORT_SHA256_LEN];

	xport_tls_name(X509_get_subject_name(peer), info->cert_subject,
		       sizeof(info->cert_subject));
	xport_tls_name(X509_get_issuer_name(peer), info->cert_issuer,
		       sizeof(info->cert_issuer));
	if (xport_tls_cert_digest(peer, fp))
		xport_fp_format(fp, info->cert_sha256);
	xport_tls_time(X509_get0_notBefore(peer), info->cert_not_before,
		       sizeof(info->cert_not_before));
	xport_tls_time(X509_get0_notAfter(peer), info->cert_not_after,
		       sizeof(info->cert_not_after));
}

static void
xport_tls_describe(const struct xport *xp, struct xport_info *info)
{
	const struct xport_tls *t = xp->ctx;
	const X509 *peer;
	long vr;

	if (t->ssl == NULL)
		return;
	info->tls = t->up;
	if (t->up) {
		(void)snprintf(info->tls_version, sizeof(info->tls_version),
			       "%s", SSL_get_version(t->ssl));
		(void)snprintf(info->cipher, sizeof(info->cipher), "%s",
			       SSL_get_cipher_name(t->ssl));
	}
	peer = SSL_get0_peer_certificate(t->ssl);
	if (peer == NULL)
		peer = t->leaf; /* OpenSSL keeps none after a failed verify */
	if (peer != NULL)
		xport_cert_describe(peer, info);
	info->cert_pinned = t->up && t->pin_ok;
	vr = SSL_get_verify_result(t->ssl);
	info->cert_verified = t->up && peer != NULL && vr == X509_V_OK;
	if (peer == NULL && vr == X509_V_OK)
		(void)snprintf(info->verify_result, sizeof(info->verify_result),
			       "%s", t->up ? "no certificate" : "");
	else
		(void)snprintf(info->verify_result, sizeof(info->verify_result),
			       "%s", X509_verify_cert_error_string(vr));
}

static void
xport_tls_free_ctx(void *ctx)
{
	struct xport_tls *t = ctx;

	if (t == NULL)
		return;
	/*
	 * No close_notify: SSL_shutdown() would write (and may wait) on a
	 * link that is being torn down; the protocol said goodbye already.
	 */
	SSL_free(t->ssl); /* frees the BIO too */
	SSL_CTX_free(t->ctx);
	X509_free(t->leaf);
	free(t);
}

static const struct xport_ops xport_tls_ops = {
	.name = "tls",
	.read = xport_tls_read,
	.write = xport_tls_write,
	.pending = xport_tls_pending,
	.describe = xport_tls_describe,
	.free_ctx = xport_tls_free_ctx,
};

static bool
xport_tls_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * Keeps a reference to the certificate being verified, so that a report can
 * name the subject and issuer of a certificate that failed verification
 * (SSL_get0_peer_certificate() has nothing after a failed handshake). The
 * verdict itself is OpenSSL's: ok is returned unchanged, except under a pin,
 * where the handshake goes on whatever the chain and name say and
 * xport_tls_trust() compares the leaf right after it (the verify result
 * still says what OpenSSL found, for the report).
 */
static int
xport_tls_verify_cb(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct xport_tls *t = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);

	if (t != NULL && t->leaf == NULL && leaf != NULL &&
	    X509_up_ref(leaf) == 1)
		t->leaf = leaf;
	if (t != NULL && t->pinned)
		return 1;
	return ok;
}

/* Builds the context: TLS 1.2 minimum, peer verification, trust store. */
static enum e2_status
xport_tls_ctx_new(const struct xport_tls_opts *o, SSL_CTX **ctx_out,
		  struct e2_err *err)
{
	SSL_CTX *ctx;
	char why[200];
	int ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		xport_tls_drain(why, sizeof(why));
		return e2_fail(err, E2_ENOMEM, "tls context: %s", why);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ERR_clear_error();
	ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (ok == 1) {
		ERR_clear_error();
		if (o->cafile != NULL)
			ok = SSL_CTX_load_verify_locations(ctx, o->cafile,
							   NULL);
		else
			ok = SSL_CTX_set_default_verify_paths(ctx);
	}
	if (ok != 1) {
		xport_tls_drain(why, sizeof(why));
		SSL_CTX_free(ctx);
		if (o->cafile != NULL)
			return e2_fail(err, E2_ECERT, "cafile \"%s\": %s",
				       o->cafile, why);
		return e2_fail(err, E2_ETLS, "tls trust store: %s", why);
	}
	*ctx_out = ctx;
	return E2_OK;
}

/* Names the peer, SNI and the host-name (or IP address) check. */
static enum e2_status
xport_tls_set_peer(SSL *ssl, const char *host, struct e2_err *err)
{
	char why[200];
	int ok;

	ERR_clear_error();
	if (xport_tls_is_ip(host)) {
		/* RFC 6066 3: literal IP addresses are not sent as SNI */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		ok = SSL_set_tlsext_host_name(ssl, host) == 1 &&
		     SSL_set1_host(ssl, host) == 1;
	}
	if (ok != 1) {
		xport_tls_drain(why, sizeof(why));
		return e2_fail(err, E2_ETLS, "tls peer name \"%s\": %s", host,
			       why);
	}
	return E2_OK;
}

enum e2_status
xport_push_tls(struct xport **top, const struct xport_tls_opts *o,
	       struct e2_err *err)
{
	struct xport *below = *top;
	struct xport_tls *t = NULL;
	struct xport *xp = NULL;
	unsigned char fp[XPORT_SHA256_LEN];
	const X509 *peer;
	enum e2_status rc;
	bool have_fp;
	char why[200];
	BIO *bio;
	long vr;
	int r;

	(void)pthread_once(&xport_tls_bio_once, xport_tls_bio_init);
	if (xport_tls_bio_method == NULL)
		return e2_fail(err, E2_ENOMEM, "tls: cannot create BIO method");
	t = calloc(1, sizeof(*t));
	xp = calloc(1, sizeof(*xp));
	if (t == NULL || xp == NULL) {
		free(t);
		free(xp);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	xp->ops = &xport_tls_ops;
	xp->below = below;
	xp->ctx = t;
	xp->err = below->err;
	xp->ctl = below->ctl;
	*top = xp; /* from here on the chain owns t */

	rc = xport_tls_ctx_new(o, &t->ctx, err);
	if (rc != E2_OK)
		return rc;
	ERR_clear_error();
	t->ssl = SSL_new(t->ctx);
	bio = BIO_new(xport_tls_bio_method);
	if (t->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		return e2_fail(err, E2_ENOMEM, "tls: out of memory");
	}
	BIO_set_data(bio, below);
	SSL_set_bio(t->ssl, bio, bio);
	t->pinned = o->pinned;
	memcpy(t->pin, o->pin, sizeof(t->pin));
	SSL_set_app_data(t->ssl, t);
	/*
	 * Read whole bursts of records per recv() instead of a 5-byte header
	 * and then the body: a 1 GB download was 609k recv calls of ~1.8 KB.
	 * Safe here because no layer polls before reading (xport_tcp_read
	 * tries recv first), so data buffered inside OpenSSL is never missed.
	 */
	SSL_set_read_ahead(t->ssl, 1);
	SSL_set_default_read_buffer_len(t->ssl, XPORT_TLS_READ_BUFFER);
	SSL_set_verify(t->ssl, SSL_VERIFY_PEER, xport_tls_verify_cb);
	rc = xport_tls_set_peer(t->ssl, o->host, err);
	if (rc != E2_OK)
		return rc;
	SSL_set_connect_state(t->ssl);

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	vr = SSL_get_verify_result(t->ssl);
	if (r != 1) {
		if (vr != X509_V_OK && !o->pinned)
			return e2_fail(err, E2_ECERT, "certificate of %s: %s",
				       o->host,
				       X509_verify_cert_error_string(vr));
		if (err->code != E2_OK)
			return err->code; /* timeout or I/O, named below */
		xport_tls_drain(why, sizeof(why));
		return e2_fail(err, E2_ETLS, "tls handshake with %s: %s",
			       xport_tcp_peer(below), why);
	}
	/* With anonymous suites gone this "cannot" happen; check anyway. */
	peer = SSL_get0_peer_certificate(t->ssl);
	if (peer == NULL)
		return e2_fail(err, E2_ECERT,
			       "certificate of %s: none presented", o->host);
	/* the pin is compared right after the handshake, before any byte */
	have_fp = xport_tls_cert_digest(peer, fp);
	rc = xport_tls_trust(o, have_fp ? fp : NULL, vr, err);
	if (rc != E2_OK)
		return rc;
	t->pin_ok = o->pinned;
	t->up = true;
	return E2_OK;
}

enum e2_status
xport_tls_trust(const struct xport_tls_opts *o, const unsigned char *fp,
		long verify_result, struct e2_err *err)
{
	char got[XPORT_FP_STRLEN], want[XPORT_FP_STRLEN];

	if (!o->pinned) {
		if (verify_result != X509_V_OK)
			return e2_fail(
				err, E2_ECERT, "certificate of %s: %s", o->host,
				X509_verify_cert_error_string(verify_result));
		return E2_OK;
	}
	xport_fp_format(o->pin, want);
	if (fp == NULL)
		return e2_fail(err, E2_ECERT,
			       "certificate of %s: no fingerprint, pinned %s",
			       o->host, want);
	if (CRYPTO_memcmp(fp, o->pin, XPORT_SHA256_LEN) == 0)
		return E2_OK;
	/*
	 * Never re-trusted silently: the user checks the new certificate and
	 * pins it again (email2-conntest(1)). Both digests fit the 256-byte
	 * message with a host name of up to about 50 bytes.
	 */
	xport_fp_format(fp, got);
	return e2_fail(err, E2_ECERT,
		       "certificate of %s changed: %s is not the pinned %s; "
		       "re-pin: email2-conntest --pin",
		       o->host, got, want);
}
