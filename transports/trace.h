/* SPDX-License-Identifier: MIT */
/* trace.h -- the -v protocol trace: lines sent and received, bodies counted */
#ifndef E2_TRACE_H
#define E2_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "transports/guard.h"

/*
 * The form (email2-conntest(1), email2-syncd(1)): one line per protocol
 * line, "imap> " for what we sent and "imap< " for what the server sent
 * ("pop3", "smtp" likewise), and "imap: " for notes (connected, TLS). The
 * line's CR LF is dropped; control bytes and non-ASCII are "\xHH"; a
 * line is cut at TRACE_SHOW bytes with "... (N bytes)". Message data is
 * never shown, only counted: IMAP literals both ways ("{N}" at a line's
 * end: APPEND, FETCH bodies) as "[literal, N bytes]", the POP3 RETR/TOP
 * answer and the SMTP DATA body as "[message, N bytes]".
 *
 * Credentials never reach this module: while a protocol step sends a
 * secret (login, AUTH), the stream adapter passes the step's label to
 * trace_redacted() instead of the bytes (xport_etpan_trace_secret()).
 *
 * Server bytes are untrusted: the framer keeps at most TRACE_SHOW bytes of
 * a line and a literal length of at most 19 digits; nothing else grows.
 */
#define TRACE_SHOW 512u

enum trace_body {
	TRACE_BODY_NONE = 0,
	TRACE_BODY_LITERAL, /* IMAP {N}: N bytes */
	TRACE_BODY_DOTTED,  /* lines up to "." alone (POP3 RETR, SMTP DATA) */
};

/* One direction's framer. */
struct trace_dir {
	char line[TRACE_SHOW];
	size_t shown; /* bytes in line */
	uint64_t len; /* bytes of the line so far, CR LF included */
	enum trace_body body;
	uint64_t left;      /* TRACE_BODY_LITERAL: bytes still to come */
	uint64_t count;     /* bytes of the current body */
	bool after_literal; /* the line goes on after a literal */
};

struct trace {
	FILE *f; /* borrowed; NULL: tracing is off, every call does nothing */
	enum guard_proto proto;
	struct trace_dir sent, recv;
	bool pop3_body_next; /* the last command was RETR or TOP */
	unsigned redacted;   /* writes redacted under the current label */
};

/* Starts a trace of one stream of proto to f (NULL: off). */
void trace_init(struct trace *t, FILE *f, enum guard_proto proto);

/* Frames n bytes sent (sent) or received and prints each whole line. */
void trace_feed(struct trace *t, bool sent, const void *buf, size_t n);

/*
 * One write of a secret-bearing step: the first after trace_secret_begin()
 * prints "imap> LABEL [credentials redacted]", later ones
 * "imap> [credentials redacted]". No byte of the write is given.
 */
void trace_redacted(struct trace *t, const char *label);
/* A new secret-bearing step starts (the next redacted write is first). */
void trace_secret_begin(struct trace *t);

/* Prints "imap: TEXT" (TEXT is ours, not the server's). */
void trace_note(struct trace *t, const char *text);

/* Prints what is left of a line cut short (the stream ended). */
void trace_finish(struct trace *t);

#endif /* E2_TRACE_H */
