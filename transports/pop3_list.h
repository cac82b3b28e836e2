/* SPDX-License-Identifier: MIT */
/* pop3_list.h -- the POP3 LIST and UIDL multi-line answers, parsed strictly */
#ifndef E2_POP3_LIST_H
#define E2_POP3_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "email2.h"

/*
 * RFC 1939 5 and 7: after "+OK", LIST sends one "msg-number SP size" line
 * and UIDL one "msg-number SP unique-id" line per message, then "." on a
 * line of its own; a line that begins with "." carries one more (byte
 * stuffing). libetpan 1.9.4 indexes its message table with the numbers as
 * they come and crashes on a gap, a repeat or a 0, so email2 reads these
 * answers itself: a pure function over the answer's bytes that accepts
 * only messages numbered 1..n, each once, in any order, and refuses
 * everything else with E2_EPROTO.
 */

#define POP3_LIST_UIDL_MAX 70      /* RFC 1939 7: 1 to 70 characters */
#define POP3_LIST_LINE_MAX 512     /* RFC 1939 3: 512 octets, CRLF included */
#define POP3_LIST_MAX_MSGS 300000u /* messages in one maildrop */
#define POP3_LIST_ANSWER_MAX (32u * 1024 * 1024) /* bytes of one answer */

/* What the answer is: names it in messages and chooses the line grammar. */
enum pop3_list_kind {
	POP3_LIST_LIST, /* "n size [anything]" */
	POP3_LIST_UIDL  /* "n uidl" */
};

/* One message of the maildrop. */
struct pop3_list_msg {
	uint32_t size;                     /* LIST; 0 until known */
	char uidl[POP3_LIST_UIDL_MAX + 1]; /* UIDL; "" until known */
};

/* The maildrop: v[i] is message number i + 1, for i < n. */
struct pop3_list {
	struct pop3_list_msg *v;
	size_t n;
	bool has_sizes; /* a LIST answer was merged in */
	bool has_uidls; /* a UIDL answer was merged in */
};

/*
 * Parses the multi-line body of a LIST or UIDL answer (the bytes after the
 * "+OK" line, up to and including the terminating ".", CRLF or LF line
 * ends) into l. On an empty l (zeroed, or after pop3_list_free()) it sets
 * the maildrop; on one that holds the other kind of answer already it
 * checks that both list the same messages (1..n, the same n) and merges.
 * Refused: an answer longer than POP3_LIST_ANSWER_MAX, a line longer
 * than POP3_LIST_LINE_MAX, more than
 * POP3_LIST_MAX_MSGS lines, a number 0, repeated or past the count (a
 * gap), a size that is not 0..UINT32_MAX, a UIDL not of 1..70 bytes
 * 0x21..0x7E, no final ".", bytes after it, the same kind twice. buf may
 * hold NUL bytes. On an error l is left as it was.
 * Errors: E2_EPROTO (the message names the answer and quotes the line),
 * E2_ENOMEM.
 */
enum e2_status pop3_list_parse(enum pop3_list_kind kind, const char *buf,
			       size_t len, struct pop3_list *l,
			       struct e2_err *err);

/* Frees l's messages and zeroes l; l may be NULL. */
void pop3_list_free(struct pop3_list *l);

#endif
