/* SPDX-License-Identifier: MIT */
/* guard.h -- the server-byte guard: every byte a server sends, before libetpan
 */
#ifndef E2_GUARD_H
#define E2_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "email2.h"

/*
 * A pure incremental scanner (no I/O, no allocation): the libetpan adapter
 * (xport_etpan.c) feeds it every byte a server sends, from the greeting on,
 * on every rung and before and after STARTTLS, and fails the read when it
 * refuses, so libetpan (and email2's own readers) never see a byte of a
 * refused response. Reads may split the bytes anywhere: the verdict does not
 * depend on how they were split.
 *
 * The rule (DESIGN.md "Trust boundaries"): the guard frames the byte stream
 * exactly as libetpan 1.9.4 will, and refuses anything it cannot frame with
 * certainty, anything over a cap, and the shapes known to crash libetpan.
 * Framing is the point: a guard that counts a "{n}" libetpan does not count
 * (or the other way round) validates the wrong bytes, which is how the old
 * PERMANENTFLAGS guard could be walked around.
 *
 * IMAP (RFC 3501 9, as libetpan parses it):
 * - A response is a line, plus a literal "{n}" CRLF + n bytes and the rest
 *   of the line after it, for each literal. A literal is counted only in a
 *   response that can carry one: FETCH (msg-att strings), LIST, LSUB, XLIST
 *   and STATUS (mailbox names). In a status response ("* OK", "* NO",
 *   "* BAD", "* BYE", "* PREAUTH", "tag OK|NO|BAD") and in a continuation
 *   ("+ ...") the text after the response code is resp-text: a "{20}" at
 *   its end is text, and the next line is a new response. Any other
 *   response (FLAGS, SEARCH, CAPABILITY, ID, NAMESPACE, unknown ones) may
 *   not hold a "{" outside a quoted string at all.
 * - In a response that can carry literals, every "{" outside a quoted
 *   string must be exactly "{digits}" CRLF: libetpan also takes "{ 5}",
 *   "{-5}", "{5} CRLF", "{5}" LF and, mid-line, "{5}" followed by bytes
 *   (its Lotus Domino workaround reads the literal across the line end), so
 *   any other shape is refused rather than framed differently.
 * - A quoted string must end on its line (libetpan reads a quoted string
 *   across line ends); a CR must be followed by LF; no NUL outside literals.
 * - Response codes: "[PERMANENTFLAGS" must be followed by exactly
 *   SP "(" [flag-perm *(SP flag-perm)] ")" "]": libetpan 1.9.4 dereferences
 *   a NULL list when the list is neither a flag nor ")" (e.g. the line ends
 *   after "("), and crashes on any PERMANENTFLAGS code in the greeting
 *   (it parses the greeting without a parser context), so there it is
 *   refused. "[BADCHARSET" is refused (libetpan reads astrings there,
 *   literals and multi-line quoted strings included, and mishandles a
 *   second one; email2 never sends a CHARSET). "[ALERT]" and "[PARSE]" must
 *   be followed by text (libetpan strdup()s a NULL text).
 * - Caps: GUARD_IMAP_LINE_MAX bytes of a line outside literals (a line
 *   without LF is refused once it passes the cap, so memory stays bounded);
 *   GUARD_IMAP_DEPTH_MAX nested parentheses per response (a deeply nested
 *   BODYSTRUCTURE makes libetpan recurse until the stack runs out);
 *   GUARD_IMAP_BODY_MAX bytes for a literal that is a FETCH body item's
 *   value (BODY[...], BINARY[...], RFC822, RFC822.HEADER, RFC822.TEXT),
 *   GUARD_IMAP_LITERAL_MAX for any other literal (ENVELOPE and
 *   BODYSTRUCTURE strings, mailbox names, header names);
 *   GUARD_IMAP_RESPONSE_MAX bytes of one response besides body literals.
 *   The caps are far above what any real message gives (its subject, file
 *   names and MIME structure are a stranger's to choose, and a refusal
 *   stops the account's sync) and far below what hurts: libetpan 1.9.4
 *   needs about 30000 nested parentheses to exhaust an 8 MiB stack, 128
 *   use well under 100 KiB of it.
 * - Unbalanced parentheses at the end of a response are refused.
 *
 * POP3 (RFC 1939): the guard learns from what the client sends
 * (guard_sent()) which replies are multi-line (CAPA, RETR, TOP, and LIST
 * and UIDL without an argument). A reply's first line must be "+OK" or
 * "-ERR" (then SP or the line end), at most GUARD_POP3_STATUS_MAX bytes, no
 * NUL; the data lines of a multi-line reply (until ".") at most
 * GUARD_POP3_DATA_MAX bytes each. A line no command asked for is refused.
 * During AUTH, "+ " continuation lines are allowed.
 *
 * SMTP (RFC 5321 4.2): every line is a reply line: three digits (2-5, 0-5,
 * 0-9), then SP, "-" or the line end, at most GUARD_SMTP_LINE_MAX bytes, no
 * control byte but the CR before LF (libetpan 1.9.4's EHLO parser loops
 * forever on a TAB in an AUTH line; found by tests/fuzz/fuzz_smtp.c); a
 * multi-line reply has at most GUARD_SMTP_LINES_MAX lines, all with the
 * same code.
 *
 * A refusal is E2_EPROTO with a message naming the response ("imap
 * response \"* OK [PERMANENTFLAGS (\": malformed PERMANENTFLAGS list");
 * once refused, the guard refuses everything after.
 */

#define GUARD_IMAP_LINE_MAX (1024u * 1024)
#define GUARD_IMAP_DEPTH_MAX 128u
#define GUARD_IMAP_LITERAL_MAX (1024u * 1024)
#define GUARD_IMAP_BODY_MAX (512u * 1024 * 1024)
#define GUARD_IMAP_RESPONSE_MAX (16u * 1024 * 1024)
#define GUARD_POP3_STATUS_MAX 4096u
#define GUARD_POP3_DATA_MAX (4u * 1024 * 1024)
#define GUARD_SMTP_LINE_MAX 4096u
#define GUARD_SMTP_LINES_MAX 128u

/* Bytes of a response's first line kept to name it in a message. */
#define GUARD_HEAD_MAX 48u
/* POP3 commands sent and not yet answered (the client never pipelines). */
#define GUARD_POP3_QUEUE 8u

enum guard_proto {
	GUARD_IMAP = 0,
	GUARD_POP3,
	GUARD_SMTP,
};

/* The guard's state; the fields are the scanner's own (see guard.c). */
struct guard {
	enum guard_proto proto;
	bool failed;
	bool greeted;              /* IMAP: the greeting has passed */
	bool cr;                   /* the last byte was a CR (IMAP) */
	char head[GUARD_HEAD_MAX]; /* the response's first bytes */
	size_t head_len;
	uint64_t line_len;   /* bytes of the line (since LF or a literal) */
	uint64_t literal;    /* IMAP: literal bytes still to pass */
	uint64_t resp_bytes; /* IMAP: of the response, body literals aside */
	uint64_t number;     /* IMAP: the digits of "{n" */
	unsigned ndigits;
	unsigned kind;    /* IMAP: enum guard_imap_kind */
	unsigned tok;     /* IMAP: enum guard_imap_tok */
	unsigned code;    /* IMAP: enum guard_imap_code (response code) */
	unsigned depth;   /* IMAP: open parentheses */
	unsigned bracket; /* IMAP: open "[" in a FETCH */
	bool att_large;   /* IMAP: the last FETCH item takes a body literal */
	bool lit_large;   /* IMAP: the literal being read is a body */
	char word[16];    /* IMAP: the current FETCH item name, upper-case */
	size_t word_len;
	unsigned lines; /* SMTP: lines of the reply so far */
	unsigned smtp_code;
	unsigned pop_state;                    /* enum guard_pop3_state */
	unsigned char pop_q[GUARD_POP3_QUEUE]; /* expected replies */
	size_t pop_n;
	char cmd[8]; /* POP3: the verb of the command being sent */
	size_t cmd_len;
	bool cmd_arg;  /* ... has an argument */
	bool cmd_verb; /* ... its verb is complete */
};

/* Starts a guard for proto at the server's greeting. */
void guard_init(struct guard *g, enum guard_proto proto);

/*
 * Scans n bytes the server sent, in order. E2_OK: libetpan may see them.
 * Otherwise none of them may be used, and every later call fails too.
 * Errors: E2_EPROTO (the message names the response and the rule).
 */
enum e2_status guard_feed(struct guard *g, const void *buf, size_t n,
			  struct e2_err *err);

/*
 * Tells the guard what the client sent (only the command verbs are kept,
 * never an argument: PASS lines go through here). POP3 needs it to know
 * which replies are multi-line; IMAP and SMTP ignore it.
 */
void guard_sent(struct guard *g, const void *buf, size_t n);

#endif /* E2_GUARD_H */
