/* SPDX-License-Identifier: MIT */
/* trace.c -- the -v protocol trace: lines sent and received, bodies counted */
#include "config.h"

#include "transports/trace.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

static const char *const trace_sides[] = {
	[GUARD_IMAP] = "imap",
	[GUARD_POP3] = "pop3",
	[GUARD_SMTP] = "smtp",
};

/* One whole line to f in one call, so lines of threads do not mix. */
static void
trace_put(const struct trace *t, char dir, const char *text)
{
	(void)fprintf(t->f, "%s%c %s\n", trace_sides[t->proto], dir, text);
	(void)fflush(t->f);
}

void
trace_init(struct trace *t, FILE *f, enum guard_proto proto)
{
	memset(t, 0, sizeof(*t));
	t->f = f;
	t->proto = proto;
}

static void
trace_dir_reset_line(struct trace_dir *d)
{
	d->shown = 0;
	d->len = 0;
}

/*
 * Escapes the line's shown bytes (CR LF at the end dropped) into out:
 * controls and non-ASCII as \xHH. Unlike e2_quote() a backslash stays as
 * it is, so IMAP flags read as sent (\Seen): a trace is read, not parsed.
 */
static void
trace_escape(const struct trace_dir *d, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = d->shown, o = 0;

	while (n > 0 && (d->line[n - 1] == '\n' || d->line[n - 1] == '\r'))
		n--;
	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)d->line[i];

		if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	if (d->len > d->shown)
		(void)snprintf(out + o, outlen - o, "... (%" PRIu64 " bytes)",
			       d->len);
}

/*
 * RFC 3501 4.3: a literal is announced by "{" number "}" (RFC 7888: "+"
 * before "}") at the very end of a line. The digits are at most 20; a
 * number that does not fit is not a literal we count (the guard refuses
 * such a response before libetpan reads it anyway).
 */
static bool
trace_literal_len(const struct trace_dir *d, uint64_t *n_out)
{
	size_t end = d->shown;
	size_t i;
	uint64_t n = 0;

	if (d->len != d->shown)
		return false; /* cut: a line that long announces no literal */
	while (end > 0 &&
	       (d->line[end - 1] == '\n' || d->line[end - 1] == '\r'))
		end--;
	if (end < 3 || d->line[end - 1] != '}')
		return false;
	end--;
	if (d->line[end - 1] == '+')
		end--;
	i = end;
	while (i > 0 && d->line[i - 1] >= '0' && d->line[i - 1] <= '9')
		i--;
	if (i == end || end - i > 19 || i == 0 || d->line[i - 1] != '{')
		return false;
	for (size_t k = i; k < end; k++)
		n = n * 10 + (uint64_t)(d->line[k] - '0');
	*n_out = n;
	return true;
}

static bool
trace_starts(const struct trace_dir *d, const char *word)
{
	size_t n = strlen(word);

	return d->shown >= n && strncasecmp(d->line, word, n) == 0;
}

static void
trace_body_done(struct trace *t, struct trace_dir *d, char dir)
{
	char msg[96];

	(void)snprintf(msg, sizeof(msg), "[%s, %" PRIu64 " bytes]",
		       d->body == TRACE_BODY_LITERAL ? "literal" : "message",
		       d->count);
	trace_put(t, dir, msg);
	d->body = TRACE_BODY_NONE;
	d->count = 0;
}

static void
trace_line_end(struct trace *t, bool sent)
{
	struct trace_dir *d = sent ? &t->sent : &t->recv;
	char dir = sent ? '>' : '<';
	char out[TRACE_SHOW * 4 + 64];
	uint64_t lit = 0;

	if (d->body == TRACE_BODY_DOTTED) {
		/* RFC 1939 3, RFC 5321 4.1.1.4: "." alone ends the data */
		if (d->len == d->shown && d->shown <= 3 && d->line[0] == '.' &&
		    (d->shown == 2 || d->line[1] == '\r')) {
			trace_body_done(t, d, dir);
			trace_put(t, dir, ".");
		} else {
			d->count += d->len;
		}
		trace_dir_reset_line(d);
		return;
	}
	trace_escape(d, out, sizeof(out));
	/* the CR LF that ends a command after its literal says nothing */
	if (!d->after_literal || out[0] != '\0')
		trace_put(t, dir, out);
	d->after_literal = false;
	if (t->proto == GUARD_IMAP && trace_literal_len(d, &lit)) {
		d->body = TRACE_BODY_LITERAL;
		d->left = lit;
		d->count = 0;
		if (lit == 0) {
			trace_body_done(t, d, dir);
			d->after_literal = true;
		}
	}
	if (t->proto == GUARD_POP3 && sent)
		t->pop3_body_next =
			trace_starts(d, "RETR ") || trace_starts(d, "TOP ");
	else if (t->proto == GUARD_POP3 && t->pop3_body_next) {
		/* no pipelining: this is the answer to RETR or TOP */
		t->pop3_body_next = false;
		if (trace_starts(d, "+OK")) {
			t->recv.body = TRACE_BODY_DOTTED;
			t->recv.count = 0;
		}
	}
	/* 354 answers DATA only: the message follows, up to "." */
	if (t->proto == GUARD_SMTP && !sent && trace_starts(d, "354")) {
		t->sent.body = TRACE_BODY_DOTTED;
		t->sent.count = 0;
	}
	trace_dir_reset_line(d);
}

void
trace_feed(struct trace *t, bool sent, const void *buf, size_t n)
{
	struct trace_dir *d = sent ? &t->sent : &t->recv;
	const char *p = buf;
	size_t i = 0;

	if (t->f == NULL)
		return;
	while (i < n) {
		if (d->body == TRACE_BODY_LITERAL) {
			size_t k = n - i;

			if ((uint64_t)k > d->left)
				k = (size_t)d->left;
			d->left -= k;
			d->count += k;
			i += k;
			if (d->left == 0) {
				trace_body_done(t, d, sent ? '>' : '<');
				d->after_literal = true;
			}
			continue;
		}
		if (d->shown < sizeof(d->line))
			d->line[d->shown++] = p[i];
		d->len++;
		if (p[i++] == '\n')
			trace_line_end(t, sent);
	}
}

void
trace_secret_begin(struct trace *t)
{
	t->redacted = 0;
}

void
trace_redacted(struct trace *t, const char *label)
{
	char msg[96];

	if (t->f == NULL)
		return;
	if (t->redacted++ == 0 && label != NULL && label[0] != '\0')
		(void)snprintf(msg, sizeof(msg), "%.60s [credentials redacted]",
			       label);
	else
		(void)snprintf(msg, sizeof(msg), "[credentials redacted]");
	trace_put(t, '>', msg);
}

void
trace_note(struct trace *t, const char *text)
{
	if (t->f == NULL)
		return;
	trace_put(t, ':', text);
}

void
trace_finish(struct trace *t)
{
	char out[TRACE_SHOW * 4 + 64];

	if (t->f == NULL)
		return;
	for (int k = 0; k < 2; k++) {
		struct trace_dir *d = k == 0 ? &t->sent : &t->recv;
		char dir = k == 0 ? '>' : '<';

		if (d->body != TRACE_BODY_NONE) {
			(void)snprintf(out, sizeof(out),
				       "[%s cut short after %" PRIu64 " bytes]",
				       d->body == TRACE_BODY_LITERAL
					       ? "literal"
					       : "message",
				       d->count + d->len);
			trace_put(t, dir, out);
		} else if (d->len > 0) {
			trace_escape(d, out, sizeof(out));
			trace_put(t, dir, out);
		}
		d->body = TRACE_BODY_NONE;
		trace_dir_reset_line(d);
	}
}
