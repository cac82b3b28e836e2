/* SPDX-License-Identifier: MIT */
/* imap_fetch_stream.c -- a UID FETCH response read as it streams, by hand */
#include "config.h"

#include "imap_fetch_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime.h"

/*
 * The grammar read (RFC 3501 7.4.2 and 9, cut to what this command gets):
 *   response  = *(untagged CRLF) tag SP ("OK" / "NO" / "BAD") *CHAR CRLF
 *   untagged  = "*" SP nz-number SP "FETCH" SP "(" item *(SP item) ")"
 *             / "*" SP *CHAR                ; skipped, literals included
 *   item      = "UID" SP nz-number / "FLAGS" SP flag-list
 *             / "INTERNALDATE" SP quoted
 *             / ("BODY[]" / "BODY[]<0>") SP (literal / quoted / "NIL")
 *             / name SP value               ; skipped
 *   value     = atom / number / "NIL" / quoted / literal
 *             / "(" *(value / SP) ")"       ; IMAP_FETCH_STREAM_DEPTH deep
 *   literal   = "{" number ["+"] "}" CRLF *OCTET  ; "{n}" ends the line
 * A line that does not fit is E2_EPROTO quoting it; a literal's bytes are
 * read as they come, never held whole.
 */
#define STREAM_BUF (64u * 1024)
#define STREAM_WHAT IMAP_FETCH_STREAM_WHAT

struct imap_fetch_stream {
	mailstream *s;
	const struct imap_fetch_stream_ops *ops;
	void *ctx;
	MMAPString *line; /* the current response line */
	size_t len;       /* its length without CRLF */
	size_t pos;       /* the parse position in it */
	char *buf;        /* literal bytes on their way to the caller */
};

/* One FETCH response being read. */
struct imap_fetch_stream_msg {
	struct imap_fetch_msg m;
	void *body; /* the caller's, NULL: none yet */
};

static int
imap_fetch_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

bool
imap_fetch_asked_take(struct imap_fetch_asked *q, uint32_t uid,
		      size_t *slot_out)
{
	const uint32_t *hit;

	if (uid == 0 || q->n == 0)
		return false;
	hit = bsearch(&uid, q->uids, q->n, sizeof(*q->uids),
		      imap_fetch_uid_cmp);
	if (hit == NULL || q->answered[hit - q->uids])
		return false;
	q->answered[hit - q->uids] = true;
	*slot_out = (size_t)(hit - q->uids);
	return true;
}

/* INTERNALDATE as epoch seconds, 0 when it makes no sense. */
int64_t
imap_fetch_date_time(const struct mailimap_date_time *dt)
{
	struct e2_err ignored = {0};
	int zone, mins;
	time_t t;

	/* every field range-checked by mime_date_make() before use */
	if (dt == NULL || dt->dt_year < 1970 || dt->dt_zone < -9999 ||
	    dt->dt_zone > 9999)
		return 0;
	/* zone is [+-]HHMM as a number: -0130 is -130; minutes 0-59 */
	zone = dt->dt_zone < 0 ? -dt->dt_zone : dt->dt_zone;
	if (zone % 100 > 59)
		return 0;
	mins = (zone / 100) * 60 + zone % 100;
	if (mime_date_make(dt->dt_year, dt->dt_month, dt->dt_day, dt->dt_hour,
			   dt->dt_min, dt->dt_sec,
			   (dt->dt_zone < 0 ? -mins : mins) * 60L, &t,
			   &ignored) != E2_OK)
		return 0;
	return (int64_t)t;
}

static enum e2_status
imap_fetch_stream_proto(struct imap_fetch_stream *fs, const char *why,
			struct e2_err *err)
{
	char quoted[120] = "";

	(void)e2_quote_reply(quoted, sizeof(quoted), fs->line->str, fs->len);
	return e2_fail(err, E2_EPROTO, "imap " STREAM_WHAT ": %s: %s", why,
		       quoted);
}

static enum e2_status
imap_fetch_stream_line(struct imap_fetch_stream *fs, struct e2_err *err)
{
	size_t n;

	if (mailstream_read_line(fs->s, fs->line) == NULL ||
	    fs->line->len == 0 || fs->line->str[fs->line->len - 1] != '\n')
		return fs->ops->io_error(fs->ctx, err);
	n = fs->line->len - 1;
	if (n > 0 && fs->line->str[n - 1] == '\r')
		n--;
	fs->len = n;
	fs->pos = 0;
	return E2_OK;
}

static char
imap_fetch_stream_peek(const struct imap_fetch_stream *fs)
{
	return fs->pos < fs->len ? fs->line->str[fs->pos] : '\0';
}

static void
imap_fetch_stream_spaces(struct imap_fetch_stream *fs)
{
	while (imap_fetch_stream_peek(fs) == ' ')
		fs->pos++;
}

/*
 * An atom, upper-cased into out (cut at cap - 1 bytes). section: an item
 * name, whose "[...]" may hold spaces and parentheses.
 */
static void
imap_fetch_stream_word(struct imap_fetch_stream *fs, char *out, size_t cap,
		       bool section)
{
	bool in_sec = false;
	size_t n = 0;

	while (fs->pos < fs->len) {
		char ch = fs->line->str[fs->pos];

		if (!in_sec && (ch == ' ' || ch == '(' || ch == ')' ||
				ch == '{' || ch == '"' || ch == '\0'))
			break;
		if (section && ch == '[')
			in_sec = true;
		else if (ch == ']')
			in_sec = false;
		if (n + 1 < cap)
			out[n++] =
				ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
		fs->pos++;
	}
	out[n] = '\0';
}

static enum e2_status
imap_fetch_stream_number(struct imap_fetch_stream *fs, unsigned long long *out,
			 struct e2_err *err)
{
	unsigned long long v = 0;
	size_t start = fs->pos;

	while (imap_fetch_stream_peek(fs) >= '0' &&
	       imap_fetch_stream_peek(fs) <= '9') {
		if (v > (1ull << 40))
			return imap_fetch_stream_proto(fs, "number too large",
						       err);
		v = v * 10 + (unsigned)(imap_fetch_stream_peek(fs) - '0');
		fs->pos++;
	}
	if (fs->pos == start)
		return imap_fetch_stream_proto(fs, "number expected", err);
	*out = v;
	return E2_OK;
}

/* "{n}" (or "{n+}") ending the line. */
static enum e2_status
imap_fetch_stream_literal(struct imap_fetch_stream *fs,
			  unsigned long long *n_out, struct e2_err *err)
{
	enum e2_status rc;

	fs->pos++;
	rc = imap_fetch_stream_number(fs, n_out, err);
	if (rc != E2_OK)
		return rc;
	if (imap_fetch_stream_peek(fs) == '+')
		fs->pos++;
	if (imap_fetch_stream_peek(fs) != '}' || fs->pos + 1 != fs->len)
		return imap_fetch_stream_proto(fs, "bad literal", err);
	fs->pos++;
	return E2_OK;
}

/* The literal's n bytes into body (NULL: dropped), then the next line. */
static enum e2_status
imap_fetch_stream_literal_body(struct imap_fetch_stream *fs,
			       unsigned long long n, void *body,
			       struct e2_err *err)
{
	while (n > 0) {
		size_t want = n < STREAM_BUF ? (size_t)n : STREAM_BUF;
		ssize_t got = mailstream_read(fs->s, fs->buf, want);
		enum e2_status rc;

		if (got <= 0)
			return fs->ops->io_error(fs->ctx, err);
		if (body != NULL) {
			rc = fs->ops->body_write(fs->ctx, body, fs->buf,
						 (size_t)got, err);
			if (rc != E2_OK)
				return rc;
		}
		n -= (unsigned long long)got;
	}
	return imap_fetch_stream_line(fs, err);
}

/* A quoted string, unescaped in place: *s_out, *n_out (may be NULL). */
static enum e2_status
imap_fetch_stream_quoted(struct imap_fetch_stream *fs, const char **s_out,
			 size_t *n_out, struct e2_err *err)
{
	char *p = fs->line->str;
	size_t i = fs->pos + 1, o = i;

	for (;;) {
		char ch;

		if (i >= fs->len)
			return imap_fetch_stream_proto(fs, "unfinished string",
						       err);
		ch = p[i++];
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (i >= fs->len)
				return imap_fetch_stream_proto(
					fs, "unfinished string", err);
			ch = p[i++];
		}
		p[o++] = ch;
	}
	if (s_out != NULL) {
		*s_out = p + fs->pos + 1;
		*n_out = o - (fs->pos + 1);
	}
	fs->pos = i;
	return E2_OK;
}

/* Skips one value: atom, number, NIL, string, literal, list. */
static enum e2_status
imap_fetch_stream_skip(struct imap_fetch_stream *fs, int depth,
		       struct e2_err *err)
{
	unsigned long long n;
	char word[8];
	size_t start = fs->pos;
	enum e2_status rc;

	if (depth > IMAP_FETCH_STREAM_DEPTH)
		return imap_fetch_stream_proto(fs, "lists nested too deep",
					       err);
	switch (imap_fetch_stream_peek(fs)) {
	case '(':
		fs->pos++;
		for (;;) {
			imap_fetch_stream_spaces(fs);
			if (imap_fetch_stream_peek(fs) == ')') {
				fs->pos++;
				return E2_OK;
			}
			if (imap_fetch_stream_peek(fs) == '\0')
				return imap_fetch_stream_proto(
					fs, "unfinished list", err);
			rc = imap_fetch_stream_skip(fs, depth + 1, err);
			if (rc != E2_OK)
				return rc;
		}
	case '"':
		return imap_fetch_stream_quoted(fs, NULL, NULL, err);
	case '{':
		rc = imap_fetch_stream_literal(fs, &n, err);
		return rc != E2_OK ? rc
				   : imap_fetch_stream_literal_body(fs, n, NULL,
								    err);
	default:
		imap_fetch_stream_word(fs, word, sizeof(word), false);
		if (fs->pos == start)
			return imap_fetch_stream_proto(fs, "unexpected byte",
						       err);
		return E2_OK;
	}
}

static enum e2_status
imap_fetch_stream_flags(struct imap_fetch_stream *fs,
			struct imap_fetch_stream_msg *m, struct e2_err *err)
{
	if (imap_fetch_stream_peek(fs) != '(')
		return imap_fetch_stream_proto(fs, "FLAGS without a list", err);
	fs->pos++;
	for (;;) {
		char flag[16];
		size_t start;

		imap_fetch_stream_spaces(fs);
		if (imap_fetch_stream_peek(fs) == ')') {
			fs->pos++;
			break;
		}
		start = fs->pos;
		imap_fetch_stream_word(fs, flag, sizeof(flag), false);
		if (fs->pos == start)
			return imap_fetch_stream_proto(fs, "bad flag", err);
		if (strcmp(flag, "\\SEEN") == 0)
			m->m.seen = true;
		else if (strcmp(flag, "\\FLAGGED") == 0)
			m->m.flagged = true;
		else if (strcmp(flag, "\\ANSWERED") == 0)
			m->m.answered = true;
		else if (strcmp(flag, "\\DRAFT") == 0)
			m->m.draft = true;
	}
	m->m.has_flags = true;
	return E2_OK;
}

/* INTERNALDATE "17-Jul-1996 02:44:25 -0700" as epoch seconds, 0: bad. */
static int64_t
imap_fetch_stream_date(const char *s, size_t n)
{
	static const char months[] = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";
	struct mailimap_date_time dt = {0};
	char buf[40], mon[4] = "";
	int day, year, hour, min, sec, zone;
	const char *hit;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (sscanf(buf, "%2d-%3[A-Za-z]-%4d %2d:%2d:%2d %5d", &day, mon, &year,
		   &hour, &min, &sec, &zone) != 7 ||
	    strlen(mon) != 3)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (mon[i] >= 'a' && mon[i] <= 'z')
			mon[i] = (char)(mon[i] - 32);
	hit = strstr(months, mon);
	if (hit == NULL || (hit - months) % 3 != 0)
		return 0;
	dt.dt_day = day;
	dt.dt_month = (int)((hit - months) / 3) + 1;
	dt.dt_year = year;
	dt.dt_hour = hour;
	dt.dt_min = min;
	dt.dt_sec = sec;
	dt.dt_zone = zone;
	return imap_fetch_date_time(&dt);
}

/* BODY[]: a literal or a string goes into a new body; NIL: none. */
static enum e2_status
imap_fetch_stream_fetch_body(struct imap_fetch_stream *fs,
			     struct imap_fetch_stream_msg *m,
			     struct e2_err *err)
{
	unsigned long long n = 0;
	const char *s = NULL;
	size_t slen = 0;
	enum e2_status rc;
	char ch = imap_fetch_stream_peek(fs);

	if (ch != '{' && ch != '"')
		return imap_fetch_stream_skip(fs, 0, err); /* NIL */
	if (m->body != NULL)
		return imap_fetch_stream_proto(fs, "two bodies for one message",
					       err);
	if (ch == '{')
		rc = imap_fetch_stream_literal(fs, &n, err);
	else
		rc = imap_fetch_stream_quoted(fs, &s, &slen, err);
	if (rc == E2_OK)
		rc = fs->ops->body_begin(fs->ctx, &m->body, err);
	if (rc != E2_OK)
		return rc;
	if (ch == '{') {
		m->m.body_len = n;
		return imap_fetch_stream_literal_body(fs, n, m->body, err);
	}
	m->m.body_len = slen;
	return fs->ops->body_write(fs->ctx, m->body, s, slen, err);
}

/* One "* n FETCH (...)", the line at its "(". */
static enum e2_status
imap_fetch_stream_fetch(struct imap_fetch_stream *fs,
			struct imap_fetch_stream_msg *m, struct e2_err *err)
{
	fs->pos++;
	for (;;) {
		char name[64];
		unsigned long long v = 0;
		const char *s;
		size_t n, start;
		enum e2_status rc;

		imap_fetch_stream_spaces(fs);
		if (imap_fetch_stream_peek(fs) == ')')
			return E2_OK;
		start = fs->pos;
		imap_fetch_stream_word(fs, name, sizeof(name), true);
		if (fs->pos == start || imap_fetch_stream_peek(fs) != ' ')
			return imap_fetch_stream_proto(fs, "bad FETCH item",
						       err);
		fs->pos++;
		if (strcmp(name, "UID") == 0) {
			rc = imap_fetch_stream_number(fs, &v, err);
			if (rc == E2_OK && (v == 0 || v > UINT32_MAX))
				rc = imap_fetch_stream_proto(fs, "bad UID",
							     err);
			m->m.uid = (uint32_t)v;
		} else if (strcmp(name, "FLAGS") == 0) {
			rc = imap_fetch_stream_flags(fs, m, err);
		} else if (strcmp(name, "INTERNALDATE") == 0 &&
			   imap_fetch_stream_peek(fs) == '"') {
			rc = imap_fetch_stream_quoted(fs, &s, &n, err);
			if (rc == E2_OK)
				m->m.internal_date =
					imap_fetch_stream_date(s, n);
		} else if (strcmp(name, "BODY[]") == 0 ||
			   strcmp(name, "BODY[]<0>") == 0) {
			rc = imap_fetch_stream_fetch_body(fs, m, err);
		} else {
			rc = imap_fetch_stream_skip(fs, 0, err);
		}
		if (rc != E2_OK)
			return rc;
	}
}

/* A FETCH read whole: its body goes to the caller when it was asked for. */
static enum e2_status
imap_fetch_stream_fetched(struct imap_fetch_stream *fs,
			  struct imap_fetch_stream_msg *m,
			  struct imap_fetch_asked *asked, bool *stop,
			  struct e2_err *err)
{
	size_t slot;

	if (m->body == NULL)
		return E2_OK; /* an unsolicited FETCH (a flag change) */
	if (!imap_fetch_asked_take(asked, m->m.uid, &slot)) {
		fs->ops->body_discard(fs->ctx, &m->body); /* not asked, twice */
		return E2_OK;
	}
	return fs->ops->fetched(fs->ctx, &m->m, &m->body, stop, err);
}

/* Skips an untagged response other than FETCH, literals included. */
static enum e2_status
imap_fetch_stream_skip_response(struct imap_fetch_stream *fs,
				struct e2_err *err)
{
	for (;;) {
		const char *p = fs->line->str;
		size_t i = fs->len;
		unsigned long long n;
		enum e2_status rc;

		if (i < 3 || p[i - 1] != '}')
			return E2_OK;
		i--; /* at the '}' */
		while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
			i--;
		if (i == fs->len - 1 || i == 0 || p[i - 1] != '{')
			return E2_OK;
		fs->pos = i - 1;
		rc = imap_fetch_stream_literal(fs, &n, err);
		if (rc == E2_OK)
			rc = imap_fetch_stream_literal_body(fs, n, NULL, err);
		if (rc != E2_OK)
			return rc;
	}
}

enum e2_status
imap_fetch_stream_command(struct imap_fetch_stream *fs, const char *tag,
			  const char *set, struct imap_fetch_asked *asked,
			  bool *stopped_out, struct e2_err *err)
{
	static const char atts[] = " (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n";
	size_t taglen = strlen(tag);
	bool stop = false;

	*stopped_out = false;
	if (mailstream_write(fs->s, tag, taglen) < 0 ||
	    mailstream_write(fs->s, " UID FETCH ", 11) < 0 ||
	    mailstream_write(fs->s, set, strlen(set)) < 0 ||
	    mailstream_write(fs->s, atts, sizeof(atts) - 1) < 0 ||
	    mailstream_flush(fs->s) < 0)
		return fs->ops->io_error(fs->ctx, err);
	while (!stop) {
		const char *p;
		struct imap_fetch_stream_msg m;
		enum e2_status rc = imap_fetch_stream_line(fs, err);

		if (rc != E2_OK)
			return rc;
		p = fs->line->str;
		if (fs->len > taglen && memcmp(p, tag, taglen) == 0 &&
		    p[taglen] == ' ') {
			if (fs->len >= taglen + 3 &&
			    strncasecmp(p + taglen + 1, "OK", 2) == 0)
				return E2_OK;
			return imap_fetch_stream_proto(fs, "refused", err);
		}
		if (fs->len < 2 || p[0] != '*' || p[1] != ' ')
			return imap_fetch_stream_proto(
				fs, "unexpected response", err);
		fs->pos = 2;
		while (imap_fetch_stream_peek(fs) >= '0' &&
		       imap_fetch_stream_peek(fs) <= '9')
			fs->pos++;
		if (fs->pos == 2 || fs->len - fs->pos < 8 ||
		    strncasecmp(p + fs->pos, " FETCH (", 8) != 0) {
			rc = imap_fetch_stream_skip_response(fs, err);
			if (rc != E2_OK)
				return rc;
			continue;
		}
		fs->pos += 7;
		memset(&m, 0, sizeof(m));
		rc = imap_fetch_stream_fetch(fs, &m, err);
		if (rc == E2_OK)
			rc = imap_fetch_stream_fetched(fs, &m, asked, &stop,
						       err);
		fs->ops->body_discard(fs->ctx, &m.body);
		if (rc != E2_OK)
			return rc;
	}
	*stopped_out = true;
	return E2_OK;
}

enum e2_status
imap_fetch_stream_new(mailstream *s, const struct imap_fetch_stream_ops *ops,
		      void *ctx, struct imap_fetch_stream **fs_out,
		      struct e2_err *err)
{
	struct imap_fetch_stream *fs = calloc(1, sizeof(*fs));

	if (fs == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	fs->s = s;
	fs->ops = ops;
	fs->ctx = ctx;
	fs->line = mmap_string_new("");
	fs->buf = malloc(STREAM_BUF);
	if (fs->line == NULL || fs->buf == NULL) {
		imap_fetch_stream_free(&fs);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	*fs_out = fs;
	return E2_OK;
}

void
imap_fetch_stream_free(struct imap_fetch_stream **fs)
{
	if (fs == NULL || *fs == NULL)
		return;
	if ((*fs)->line != NULL)
		mmap_string_free((*fs)->line);
	free((*fs)->buf);
	free(*fs);
	*fs = NULL;
}

/* The UID set of uids[0..] that fits IMAP_FETCH_STREAM_SET_MAX; *n_out UIDs in
 * it. */
void
imap_fetch_stream_set(const uint32_t *uids, size_t n, char *set, size_t *n_out)
{
	size_t len = 0, i = 0;

	set[0] = '\0';
	while (i < n) {
		char run[32];
		size_t j = i, rl;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			(void)snprintf(run, sizeof(run), "%s%u:%u",
				       len > 0 ? "," : "", (unsigned)uids[i],
				       (unsigned)uids[j]);
		else
			(void)snprintf(run, sizeof(run), "%s%u",
				       len > 0 ? "," : "", (unsigned)uids[i]);
		rl = strlen(run);
		if (len > 0 && len + rl > IMAP_FETCH_STREAM_SET_MAX)
			break;
		memcpy(set + len, run, rl + 1);
		len += rl;
		i = j + 1;
	}
	*n_out = i;
}
