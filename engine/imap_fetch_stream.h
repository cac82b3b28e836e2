/* SPDX-License-Identifier: MIT */
/* imap_fetch_stream.h -- a UID FETCH response read as it streams, by hand */
#ifndef E2_IMAP_FETCH_STREAM_H
#define E2_IMAP_FETCH_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libetpan/libetpan.h>

#include "email2.h"

/*
 * One UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[]) read from the
 * mailstream rather than by libetpan's parser, which holds a whole
 * response in memory: each body goes to the caller STREAM_BUF bytes at a
 * time as it arrives, so memory is one response line and one buffer
 * whatever the mailbox. Read: untagged FETCH responses (UID, FLAGS,
 * INTERNALDATE, BODY[] as a literal, a string or NIL; any other item
 * skipped: atoms, strings, literals, lists nested up to
 * IMAP_FETCH_STREAM_DEPTH), other untagged responses skipped (their
 * literals too), then the tagged OK (NO, BAD: an error). Only the first
 * answer for each asked UID reaches the caller (imap_fetch_asked_take()).
 * A response left unfinished (an error, a stop) leaves the connection
 * unusable; the caller must not read from it again.
 */

#define IMAP_FETCH_STREAM_SET_MAX 4000u /* bytes of one command's UID set */
#define IMAP_FETCH_STREAM_DEPTH 16      /* of the lists of an item skipped */
#define IMAP_FETCH_STREAM_WHAT "UID FETCH (BODY.PEEK[])"

/*
 * The request of one UID FETCH (RFC 3501 7.4.1, 7.4.2: a server may send
 * FETCH responses nobody asked for: a flag change seen meanwhile, a
 * hostile server's messages of other UIDs, one message twice). Every path
 * that sends a UID FETCH for a set of UIDs looks each answer up with
 * imap_fetch_asked_take(), so nothing unsolicited writes into a
 * per-request array, no array grows past what was asked, and a repeated
 * answer counts once (the first one wins).
 */
struct imap_fetch_asked {
	const uint32_t *uids; /* the command's UIDs, sorted, unique */
	size_t n;
	bool *answered; /* n flags, the caller's, false at the start */
};

/*
 * Whether uid is in q's set and not answered yet; then marks it answered
 * and *slot_out is its index in q->uids. A UID of 0 (no UID item) is never
 * taken.
 */
bool imap_fetch_asked_take(struct imap_fetch_asked *q, uint32_t uid,
			   size_t *slot_out);

/* What one FETCH response carried, besides its body. */
struct imap_fetch_msg {
	uint32_t uid; /* 0: none */
	bool has_flags;
	bool seen, flagged, answered, draft; /* FLAGS, when has_flags */
	int64_t internal_date;               /* epoch seconds, 0: none/bad */
	unsigned long long body_len;
};

/*
 * The caller's side. A body is opaque here: body_begin() makes one when a
 * BODY[] literal or string starts (before the UID may be known),
 * body_write() receives its bytes, and either fetched() takes it (the UID
 * was asked for, first answer) or body_discard() drops it.
 */
struct imap_fetch_stream_ops {
	/* Errors: the caller's. */
	enum e2_status (*body_begin)(void *ctx, void **body_out,
				     struct e2_err *err);
	/* Errors: the caller's. */
	enum e2_status (*body_write)(void *ctx, void *body, const char *buf,
				     size_t len, struct e2_err *err);
	/* Drops *body (may be NULL), sets it NULL. */
	void (*body_discard)(void *ctx, void **body);
	/*
	 * A FETCH read whole for an asked UID, its first answer: takes *body
	 * (sets it NULL). *stop_out true: leave the rest of the response.
	 * Errors: the caller's.
	 */
	enum e2_status (*fetched)(void *ctx, const struct imap_fetch_msg *m,
				  void **body, bool *stop_out,
				  struct e2_err *err);
	/* The stream failed or closed: the status and message to return. */
	enum e2_status (*io_error)(void *ctx, struct e2_err *err);
};

struct imap_fetch_stream;

/*
 * A reader on s (borrowed; must outlive it) calling ops with ctx. Errors:
 * E2_ENOMEM.
 */
enum e2_status imap_fetch_stream_new(mailstream *s,
				     const struct imap_fetch_stream_ops *ops,
				     void *ctx,
				     struct imap_fetch_stream **fs_out,
				     struct e2_err *err);

void imap_fetch_stream_free(struct imap_fetch_stream **fs);

/*
 * The UID set (IMAP syntax, "1:5,9") of uids[0..n) (sorted) that fits
 * IMAP_FETCH_STREAM_SET_MAX bytes into set (room for
 * IMAP_FETCH_STREAM_SET_MAX + 32 bytes); *n_out UIDs are in it.
 */
void imap_fetch_stream_set(const uint32_t *uids, size_t n, char *set,
			   size_t *n_out);

/*
 * Sends "<tag> UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[])" and
 * reads its response up to the tagged reply or a stop (*stopped_out).
 * asked: the UIDs of set and which were answered (kept across commands by
 * the caller). Errors: E2_EPROTO (a response that does not parse, the
 * command refused: the message quotes the line), io_error()'s, the
 * callbacks'.
 */
enum e2_status imap_fetch_stream_command(struct imap_fetch_stream *fs,
					 const char *tag, const char *set,
					 struct imap_fetch_asked *asked,
					 bool *stopped_out, struct e2_err *err);

/* INTERNALDATE as epoch seconds, 0 when it makes no sense; dt may be NULL */
int64_t imap_fetch_date_time(const struct mailimap_date_time *dt);

#endif
