/* SPDX-License-Identifier: MIT */
/* xport_etpan.c -- libetpan's mailstream_low_driver over our xport chain */
#include "config.h"

#include "transports/xport_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "transports/trace.h"

/*
 * The adapter's state: the chain's top slot (borrowed: a TLS layer pushed
 * later for STARTTLS is read without a stream swap) and the server-byte
 * guard (guard.h), which sees every byte read before libetpan does, from
 * the greeting on. Its refusal is written into the chain's shared error, so
 * conntest's report and sync's error name the response; the read fails, so
 * libetpan never parses a byte of it.
 */
struct xport_etpan {
	struct xport **top;
	struct guard guard;
	bool dead; /* refused, or xport_etpan_refuse_reads(): reads fail */
	/*
	 * -v (trace.h): what was sent and received. While secret is set a
	 * protocol step is sending a credential: each write is traced as
	 * the label only, its bytes never reach the trace.
	 */
	struct trace trace;
	const char *secret; /* static label, NULL: not in a secret step */
	const struct xport *tls_seen; /* the top when TLS was last noted */
};

/* Notes a TLS layer pushed since the last read or write (STARTTLS). */
static void
xport_etpan_trace_tls(struct xport_etpan *x, const struct xport *xp)
{
	struct xport_info info;
	char note[128];

	if (x->trace.f == NULL || xp == x->tls_seen)
		return;
	x->tls_seen = xp;
	xport_describe(xp, &info);
	if (!info.tls)
		return;
	(void)snprintf(note, sizeof(note), "TLS %s, %s", info.tls_version,
		       info.cipher);
	trace_note(&x->trace, note);
}

static const struct xport *
xport_etpan_bottom(const struct xport *xp)
{
	while (xp->below != NULL)
		xp = xp->below;
	return xp;
}

static struct xport *
xport_etpan_top(mailstream_low *s)
{
	struct xport_etpan *x = s->data;

	return *x->top;
}

static ssize_t
xport_etpan_read(mailstream_low *s, void *buf, size_t count)
{
	struct xport_etpan *x = s->data;
	struct xport *xp = *x->top;
	ssize_t n;

	if (xp == NULL || x->dead)
		return -1;
	xport_etpan_trace_tls(x, xp);
	n = xport_read(xp, buf, count);
	if (n > 0)
		trace_feed(&x->trace, false, buf, (size_t)n);
	if (n == 0) {
		/*
		 * libetpan 1.9.4 treats 0 as "try again" inside a FETCH
		 * literal and spins forever: end of stream is an error here.
		 */
		(void)e2_fail(xp->err, E2_EIO, "connection closed by server");
		return -1;
	}
	if (n > 0 && guard_feed(&x->guard, buf, (size_t)n, xp->err) != E2_OK) {
		x->dead = true;
		return -1;
	}
	return n;
}

static ssize_t
xport_etpan_write(mailstream_low *s, const void *buf, size_t count)
{
	struct xport_etpan *x = s->data;
	struct xport *xp = *x->top;

	if (xp == NULL)
		return -1;
	guard_sent(&x->guard, buf, count);
	xport_etpan_trace_tls(x, xp);
	if (x->secret != NULL)
		trace_redacted(&x->trace, x->secret);
	else
		trace_feed(&x->trace, true, buf, count);
	return xport_write(xp, buf, count);
}

static int
xport_etpan_close(mailstream_low *s)
{
	/* The chain belongs to its session, which frees it after libetpan. */
	(void)s;
	return 0;
}

static int
xport_etpan_get_fd(mailstream_low *s)
{
	return xport_fd(xport_etpan_top(s));
}

static void
xport_etpan_free(mailstream_low *s)
{
	struct xport_etpan *x = s->data;

	if (x != NULL)
		trace_finish(&x->trace);
	free(s->data);
	free(s);
}

static void
xport_etpan_cancel(mailstream_low *s)
{
	struct xport *xp = xport_etpan_top(s);

	if (xp != NULL)
		atomic_store(&xp->ctl->cancel, true);
}

static struct mailstream_cancel *
xport_etpan_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *
xport_etpan_get_certificate_chain(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static mailstream_low_driver xport_etpan_driver = {
	.mailstream_read = xport_etpan_read,
	.mailstream_write = xport_etpan_write,
	.mailstream_close = xport_etpan_close,
	.mailstream_get_fd = xport_etpan_get_fd,
	.mailstream_free = xport_etpan_free,
	.mailstream_cancel = xport_etpan_cancel,
	.mailstream_get_cancel = xport_etpan_get_cancel,
	.mailstream_get_certificate_chain = xport_etpan_get_certificate_chain,
	.mailstream_setup_idle = NULL,
	.mailstream_unsetup_idle = NULL,
	.mailstream_interrupt_idle = NULL,
};

enum e2_status
xport_etpan_stream_new(struct xport **top, enum guard_proto proto,
		       mailstream **stream_out, struct e2_err *err)
{
	struct xport_etpan *x;
	mailstream_low *low;
	mailstream *s;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	x->top = top;
	guard_init(&x->guard, proto);
	trace_init(&x->trace, *top != NULL ? (*top)->ctl->trace : NULL, proto);
	if (x->trace.f != NULL) {
		struct xport_info info;
		char note[160];

		xport_describe(*top, &info);
		(void)snprintf(note, sizeof(note), "connected to %s%s",
			       xport_tcp_peer(xport_etpan_bottom(*top)),
			       info.tls ? "" : ", no TLS yet");
		trace_note(&x->trace, note);
		xport_etpan_trace_tls(x, *top);
	}
	low = mailstream_low_new(x, &xport_etpan_driver);
	if (low == NULL) {
		free(x);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	/* No logger: protocol traces are opt-in and would need masking. */
	mailstream_low_set_logger(low, NULL, NULL);
	/* large reads: one recv() per burst on plain links too */
	s = mailstream_new(low, 65536);
	if (s == NULL) {
		mailstream_low_free(low);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	*stream_out = s;
	return E2_OK;
}

void
xport_etpan_trace_secret(mailstream *s, const char *label)
{
	mailstream_low *low = s != NULL ? mailstream_get_low(s) : NULL;
	struct xport_etpan *x;

	if (low == NULL || low->driver != &xport_etpan_driver)
		return;
	x = low->data;
	if (label != NULL) {
		/* what was buffered before is no secret: out with it first */
		(void)mailstream_flush(s);
		trace_secret_begin(&x->trace);
	}
	x->secret = label;
}

void
xport_etpan_refuse_reads(mailstream *s)
{
	mailstream_low *low = s != NULL ? mailstream_get_low(s) : NULL;

	if (low == NULL || low->driver != &xport_etpan_driver)
		return;
	((struct xport_etpan *)low->data)->dead = true;
	/* what libetpan buffered was framed by the guard, not by its parser */
	s->read_buffer_len = 0;
}
