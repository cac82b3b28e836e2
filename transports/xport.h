/* SPDX-License-Identifier: MIT */
/* xport.h -- the transport filter chain: tcp, tls, and libetpan's adapter */
#ifndef E2_XPORT_H
#define E2_XPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libetpan/libetpan.h>

#include "email2.h"
#include "transports/guard.h"

/*
 * A chain is a stack of layers (tcp at the bottom, tls above it) that share
 * one struct e2_err and one struct xport_ctl. The layer that detects a
 * failure writes err once (e2_fail keeps the first message); read and write
 * then return -1 and callers pass err->code up.
 */
struct xport;

/*
 * Timing and cancellation, owned by the caller and borrowed by the chain for
 * its whole life. Every blocking step (connect, read, write) waits until
 * deadline_ms when it is not 0, else for idle_ms from the start of the step.
 * Setting cancel makes every pending and later step fail with E2_ETIMEOUT
 * within about 100 ms (the concurrent fallback chain abandons rungs so).
 */
struct xport_ctl {
	int64_t deadline_ms; /* absolute, xport_now_ms() clock; 0: none */
	unsigned idle_ms;    /* per step when deadline_ms is 0 */
	atomic_bool cancel;
	/*
	 * -v: the protocol trace of every stream made on the chain
	 * (xport_etpan_stream_new()), NULL: none. Borrowed.
	 */
	FILE *trace;
};

/* SHA-256 digest length: a certificate fingerprint or pin. */
#define XPORT_SHA256_LEN 32
/* "SHA256:" and 64 upper-case hex digits, NUL-terminated. */
#define XPORT_FP_STRLEN (7 + 2 * XPORT_SHA256_LEN + 1)

/* What the chain knows about itself, for email2-conntest. */
struct xport_info {
	char address[64]; /* numeric peer address */
	bool tls;         /* a TLS session is established */
	char tls_version[16];
	char cipher[64];
	char cert_subject[256];
	char cert_issuer[256];
	bool cert_verified;
	char verify_result[128];
	char cert_sha256[XPORT_FP_STRLEN]; /* the leaf's, "" if none seen */
	char cert_not_before[24];          /* "2026-12-03T16:30:10Z" */
	char cert_not_after[24];
	bool cert_pinned; /* accepted because it is the pinned one */
};

struct xport_tls_opts {
	const char *host;   /* name to verify and send as SNI; borrowed */
	const char *cafile; /* NULL: the system trust store */
	/*
	 * With pinned, the leaf certificate whose SHA-256 is pin is accepted
	 * and nothing else: chain and name verification are replaced by the
	 * comparison, as msmtp's tls_fingerprint does.
	 */
	bool pinned;
	unsigned char pin[XPORT_SHA256_LEN];
};

/*
 * The trust decision after a handshake, pure (unit-tested): with o->pinned
 * the leaf's digest fp (NULL: none presented) must equal o->pin, whatever
 * OpenSSL's verify_result (X509_V_OK is 0) says; without a pin verify_result
 * must be X509_V_OK. On refusal err names the host and, for a pin, both
 * fingerprints ("SHA256:" + hex) and how to re-pin.
 * Errors: E2_ECERT.
 */
enum e2_status xport_tls_trust(const struct xport_tls_opts *o,
			       const unsigned char *fp, long verify_result,
			       struct e2_err *err);

/* Formats a digest as "SHA256:" and 64 upper-case hex digits into dst. */
void xport_fp_format(const unsigned char fp[XPORT_SHA256_LEN],
		     char dst[XPORT_FP_STRLEN]);

/* Milliseconds on a monotonic clock. */
int64_t xport_now_ms(void);

/*
 * Connects to host:port, trying every address getaddrinfo() returns (IPv6
 * and IPv4) with non-blocking connects under ctl's deadline. ctl and err
 * are borrowed for the chain's life. On success *xp_out is the chain.
 * Errors: E2_ERESOLVE, E2_ECONNECT, E2_ETIMEOUT, E2_ENOMEM.
 */
enum e2_status xport_tcp_open(const char *host, uint16_t port,
			      struct xport_ctl *ctl, struct xport **xp_out,
			      struct e2_err *err);

/*
 * Pushes a TLS layer onto *top and runs the handshake under the chain's
 * deadline: SNI (not for IP literals), SSL_VERIFY_PEER, the host-name (or
 * IP) check, TLS 1.2 minimum, system trust store or o->cafile; or, with a
 * pin, exactly the pinned leaf (xport_tls_trust()). *top is
 * replaced by the TLS layer even when the handshake fails, so that
 * xport_describe() can report the verify result; the caller frees the
 * chain. Errors: E2_ECERT (verify failed or no certificate), E2_ETLS,
 * E2_ETIMEOUT, E2_EIO, E2_ENOMEM.
 */
enum e2_status xport_push_tls(struct xport **top,
			      const struct xport_tls_opts *o,
			      struct e2_err *err);

/*
 * Reads up to len bytes from the top layer: > 0 bytes, 0 at end of stream,
 * -1 on error (err says why).
 */
ssize_t xport_read(struct xport *xp, void *buf, size_t len);
/* Writes all of buf or returns -1 (err says why). */
ssize_t xport_write(struct xport *xp, const void *buf, size_t len);
/*
 * Bytes the chain can hand out without waiting (decrypted TLS bytes, or bytes
 * already readable on the socket): the response-injection check.
 */
size_t xport_pending(const struct xport *xp);
/* Fills info from every layer (zeroes it first). */
void xport_describe(const struct xport *xp, struct xport_info *info);
/* The socket descriptor, -1 if none. */
int xport_fd(const struct xport *xp);
/* Frees the whole chain, top to bottom. NULL-safe, sets *xp = NULL. */
void xport_free(struct xport **xp);

/*
 * A libetpan stream whose mailstream_low_driver reads and writes through
 * *top (borrowed: the slot, not the layer, so a TLS layer pushed later for
 * STARTTLS is used without a stream swap). Every byte read passes a guard
 * for proto (guard.h) first, from the first byte on: a refused read fails
 * (-1) with the guard's E2_EPROTO message in the chain's shared error, and
 * every later read fails too. Read returns -1 at end of stream (libetpan
 * loops forever on 0 inside literals). No logger is installed and the
 * stream's debug hooks are never enabled, so nothing logs credentials.
 * Closing or freeing the stream never frees the chain.
 * Errors: E2_ENOMEM.
 */
enum e2_status xport_etpan_stream_new(struct xport **top,
				      enum guard_proto proto,
				      mailstream **stream_out,
				      struct e2_err *err);

/*
 * Marks the protocol step that sends a credential (login, AUTH, PASS,
 * APOP): from now until it is called with NULL, every write on s appears
 * in the -v trace (trace.h) as label only ("LOGIN", "AUTH PLAIN"), never
 * its bytes. label is static. A stream not made by xport_etpan_stream_new()
 * is left alone; s may be NULL.
 */
void xport_etpan_trace_secret(mailstream *s, const char *label);

/*
 * Makes every later read on s fail and drops what libetpan buffered: a
 * response was left unread (a stopped FETCH) or libetpan failed to parse
 * one, so the bytes after it can no longer be framed as the guard framed
 * them (and LOGOUT must not read them). A stream not made by
 * xport_etpan_stream_new() is left alone. s may be NULL.
 */
void xport_etpan_refuse_reads(mailstream *s);

#endif /* E2_XPORT_H */
