/* SPDX-License-Identifier: MIT */
/* pop3_list.c -- the POP3 LIST and UIDL multi-line answers, parsed strictly */
#include "config.h"

#include "pop3_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Grammar (RFC 1939 5, 7 and 3; what is accepted beyond it is said):
 *   answer     = *(listing CRLF) "." CRLF     ; LF alone is accepted too
 *   listing    = msg-number 1*SP size [SP *CHAR]   ; LIST (RFC 1939 5:
 *                "makes no requirement on what follows the message size")
 *              / msg-number 1*SP unique-id *SP    ; UIDL
 *   msg-number = 1*10DIGIT, 1..POP3_LIST_MAX_MSGS
 *   size       = 1*10DIGIT, 0..UINT32_MAX
 *   unique-id  = 1*70 %x21-7E
 * A listing that begins with "." has it doubled (byte stuffing); one "." is
 * removed before the listing is read. The numbers of an answer are 1..n,
 * each once, in any order (n = the number of listings): nothing else can
 * index a table of n messages, so a 0, a repeat and a number past n (a
 * gap) are refused.
 */

static const char *const pop3_list_names[] = {
	[POP3_LIST_LIST] = "LIST",
	[POP3_LIST_UIDL] = "UIDL",
};

/* One line of the answer: [p, p + len) without its line end. */
struct pop3_list_line {
	const char *p;
	size_t len;
	size_t no; /* 1-based, for messages */
};

static enum e2_status
pop3_list_bad(enum pop3_list_kind kind, const struct pop3_list_line *ln,
	      const char *why, struct e2_err *err)
{
	char quoted[160];

	(void)e2_quote_reply(quoted, sizeof(quoted), ln->p, ln->len);
	return e2_fail(err, E2_EPROTO, "pop3 %s answer, line %zu \"%s\": %s",
		       pop3_list_names[kind], ln->no, quoted, why);
}

/*
 * The next line at *pos: *ln, *pos past its line end. false at the end of
 * buf without a line end (the answer is cut short).
 */
static bool
pop3_list_next(const char *buf, size_t len, size_t *pos,
	       struct pop3_list_line *ln)
{
	const char *nl;

	if (*pos >= len)
		return false;
	nl = memchr(buf + *pos, '\n', len - *pos);
	if (nl == NULL)
		return false;
	ln->p = buf + *pos;
	ln->len = (size_t)(nl - ln->p);
	*pos = (size_t)(nl - buf) + 1;
	if (ln->len > 0 && ln->p[ln->len - 1] == '\r')
		ln->len--;
	ln->no++;
	return true;
}

static bool
pop3_list_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* 1 to 10 digits at *i, no more than max. */
static bool
pop3_list_number(const struct pop3_list_line *ln, size_t *i, uint64_t max,
		 uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < ln->len && pop3_list_digit(ln->p[*i])) {
		if (*i - start == 10)
			return false;
		v = v * 10 + (uint64_t)(ln->p[*i] - '0');
		(*i)++;
	}
	if (*i == start || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * Reads one listing (unstuffed) into *num_out and m. Errors: E2_EPROTO.
 */
static enum e2_status
pop3_list_listing(enum pop3_list_kind kind, struct pop3_list_line ln,
		  uint64_t *num_out, struct pop3_list_msg *m,
		  struct e2_err *err)
{
	struct pop3_list_line body = ln;
	uint64_t num = 0, size = 0;
	size_t i = 0, start;

	if (body.len > 0 && body.p[0] == '.') {
		body.p++;
		body.len--;
	}
	if (!pop3_list_number(&body, &i, POP3_LIST_MAX_MSGS, &num))
		return pop3_list_bad(kind, &ln, "bad message number", err);
	if (num == 0)
		return pop3_list_bad(kind, &ln, "message number 0", err);
	start = i;
	while (i < body.len && body.p[i] == ' ')
		i++;
	if (i == start)
		return pop3_list_bad(kind, &ln, "no space after the number",
				     err);
	if (kind == POP3_LIST_LIST) {
		if (!pop3_list_number(&body, &i, UINT32_MAX, &size))
			return pop3_list_bad(kind, &ln, "bad size", err);
		if (i < body.len && body.p[i] != ' ')
			return pop3_list_bad(kind, &ln, "bad size", err);
		m->size = (uint32_t)size;
	} else {
		start = i;
		while (i < body.len && body.p[i] >= 0x21 && body.p[i] <= 0x7e)
			i++;
		if (i == start)
			return pop3_list_bad(kind, &ln, "no UIDL", err);
		if (i - start > POP3_LIST_UIDL_MAX)
			return pop3_list_bad(kind, &ln,
					     "UIDL longer than 70 characters",
					     err);
		memcpy(m->uidl, body.p + start, i - start);
		m->uidl[i - start] = '\0';
		while (i < body.len && body.p[i] == ' ')
			i++;
		if (i < body.len)
			return pop3_list_bad(
				kind, &ln, "UIDL byte outside 0x21..0x7E", err);
	}
	*num_out = num;
	return E2_OK;
}

/* Counts the listings before the final "."; checks the lines' frame. */
static enum e2_status
pop3_list_frame(enum pop3_list_kind kind, const char *buf, size_t len,
		size_t *n_out, struct e2_err *err)
{
	struct pop3_list_line ln = {0};
	size_t pos = 0, n = 0;

	for (;;) {
		size_t at = pos;

		if (!pop3_list_next(buf, len, &pos, &ln)) {
			if (len - at > POP3_LIST_LINE_MAX) {
				ln.p = buf + at;
				ln.len = len - at;
				ln.no++;
				return pop3_list_bad(kind, &ln,
						     "line longer than 512 "
						     "bytes",
						     err);
			}
			return e2_fail(err, E2_EPROTO,
				       "pop3 %s answer: no final \".\" after "
				       "%zu lines",
				       pop3_list_names[kind], n);
		}
		if (pos - at > POP3_LIST_LINE_MAX)
			return pop3_list_bad(kind, &ln,
					     "line longer than 512 bytes", err);
		if (ln.len == 1 && ln.p[0] == '.')
			break;
		if (n == POP3_LIST_MAX_MSGS)
			return pop3_list_bad(kind, &ln,
					     "more than 300000 messages", err);
		n++;
	}
	if (pos != len) {
		ln.p = buf + pos;
		ln.len = len - pos;
		ln.no++;
		return pop3_list_bad(kind, &ln, "bytes after the final \".\"",
				     err);
	}
	*n_out = n;
	return E2_OK;
}

enum e2_status
pop3_list_parse(enum pop3_list_kind kind, const char *buf, size_t len,
		struct pop3_list *l, struct e2_err *err)
{
	struct pop3_list_msg *v = NULL;
	struct pop3_list_line ln = {0};
	bool *seen = NULL;
	bool merge = l->has_sizes || l->has_uidls;
	size_t n = 0, pos = 0;
	enum e2_status rc;

	if ((kind == POP3_LIST_LIST && l->has_sizes) ||
	    (kind == POP3_LIST_UIDL && l->has_uidls))
		return e2_fail(err, E2_EINVAL, "pop3 %s answer read twice",
			       pop3_list_names[kind]);
	if (len > POP3_LIST_ANSWER_MAX)
		return e2_fail(err, E2_EPROTO,
			       "pop3 %s answer longer than %u bytes",
			       pop3_list_names[kind], POP3_LIST_ANSWER_MAX);
	rc = pop3_list_frame(kind, buf, len, &n, err);
	if (rc != E2_OK)
		return rc;
	if (merge && n != l->n)
		return e2_fail(err, E2_EPROTO,
			       "pop3 %s answer lists %zu messages, the %s "
			       "answer %zu",
			       pop3_list_names[kind], n,
			       pop3_list_names[kind == POP3_LIST_LIST
						       ? POP3_LIST_UIDL
						       : POP3_LIST_LIST],
			       l->n);
	v = calloc(n + 1, sizeof(*v));
	seen = calloc(n + 1, sizeof(*seen));
	if (v == NULL || seen == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		struct pop3_list_msg m = {0};
		uint64_t num = 0;

		(void)pop3_list_next(buf, len, &pos, &ln); /* framed above */
		rc = pop3_list_listing(kind, ln, &num, &m, err);
		if (rc != E2_OK)
			goto out;
		if (num > n) {
			char why[96];

			(void)snprintf(why, sizeof(why),
				       "message number past the count of %zu "
				       "(a gap)",
				       n);
			rc = pop3_list_bad(kind, &ln, why, err);
			goto out;
		}
		if (seen[num - 1]) {
			rc = pop3_list_bad(kind, &ln, "message number repeated",
					   err);
			goto out;
		}
		seen[num - 1] = true;
		v[num - 1] = m;
	}
	if (merge) {
		for (size_t k = 0; k < n; k++) {
			if (kind == POP3_LIST_LIST)
				l->v[k].size = v[k].size;
			else
				memcpy(l->v[k].uidl, v[k].uidl,
				       sizeof(v[k].uidl));
		}
	} else {
		l->v = v;
		l->n = n;
		v = NULL;
	}
	if (kind == POP3_LIST_LIST)
		l->has_sizes = true;
	else
		l->has_uidls = true;
out:
	free(seen);
	free(v);
	return rc;
}

void
pop3_list_free(struct pop3_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	memset(l, 0, sizeof(*l));
}
