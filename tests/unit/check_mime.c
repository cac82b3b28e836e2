/* SPDX-License-Identifier: MIT */
/* check_mime.c -- RETRIEVE truncation, KEEPMAX assembly, Date parsing */
#include "config.h"

#include "engine/mime.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ------------------------------------------------------------- */

static char *
fixture_read(const char *name, size_t *len_out)
{
	return tu_fixture("mime", name, len_out);
}

struct membuf {
	char *p;
	size_t len;
	size_t cap;
};

static enum e2_status
membuf_sink(void *ctx, const void *buf, size_t len, struct e2_err *err)
{
	struct membuf *m = ctx;

	(void)err;
	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		m->p = realloc(m->p, m->cap);
		ck_assert_ptr_nonnull(m->p);
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	m->p[m->len] = '\0';
	return E2_OK;
}

static const char *
line_next(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl == NULL ? end : nl + 1;
}

/* "--b" or "--b--" at p (a line start)? 1 delimiter, 2 close, 0 neither. */
static int
is_boundary(const char *p, const char *eol, const char *b)
{
	size_t bl = strlen(b);
	const char *r = p + 2 + bl;

	if ((size_t)(eol - p) < 2 + bl || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, b, bl) != 0)
		return 0;
	if (r + 1 < eol && r[0] == '-' && r[1] == '-')
		return 2;
	while (r < eol && (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n'))
		r++;
	return r == eol ? 1 : 0;
}

/*
 * An independent structure check: every multipart has a first delimiter,
 * at least one part and its close delimiter, recursively, message/rfc822
 * entered. Returns the number of leaf entities, -1 when broken.
 */
static int
check_entity(const char *p, size_t len, int depth)
{
	struct e2_err err = {0};
	const char *end = p + len, *q, *part = NULL;
	char *ct = NULL, *b = NULL;
	bool complete, found = false;
	size_t hl;
	int leaves = 0, parts = 0;
	bool closed = false;

	if (depth > 20)
		return -1;
	hl = mime_header_len(p, len, &complete);
	if (!complete)
		return -1;
	ck_assert_int_eq(
		mime_header_get(p, hl, "Content-Type", &found, &ct, &err),
		E2_OK);
	if (!found || (strncasecmp(ct, "multipart/", 10) != 0 &&
		       strncasecmp(ct, "message/rfc822", 14) != 0)) {
		free(ct);
		return 1;
	}
	if (strncasecmp(ct, "message/rfc822", 14) == 0) {
		free(ct);
		return check_entity(p + hl, len - hl, depth + 1);
	}
	ck_assert_int_eq(mime_param_get(ct, "boundary", &found, &b, &err),
			 E2_OK);
	free(ct);
	if (!found) {
		free(b);
		return -1;
	}
	for (q = p + hl; q < end && !closed;) {
		const char *eol = line_next(q, end);
		int k = is_boundary(q, eol, b);

		if (k != 0 && part != NULL) {
			/* The EOL before the delimiter belongs to it. */
			const char *pe = q;
			int n;

			if (pe > part && pe[-1] == '\n')
				pe--;
			if (pe > part && pe[-1] == '\r')
				pe--;
			n = check_entity(part, (size_t)(pe - part), depth + 1);
			if (n < 0) {
				free(b);
				return -1;
			}
			leaves += n;
		}
		if (k == 1) {
			parts++;
			part = eol;
		} else if (k == 2) {
			closed = true;
		}
		q = eol;
	}
	free(b);
	return closed && parts > 0 ? leaves : -1;
}

/* ---- RETRIEVE -------------------------------------------------------------
 */

static const struct {
	const char *fixture;
	size_t limit;
	bool truncated;
	int closed;   /* -1: not checked */
	bool wrapped; /* the note needs a multipart/mixed wrapper */
} trunc_rows[] = {
	{"plain.eml", 1000, true, 0, true},
	{"plain.eml", 100, true, 0, true}, /* header alone over the limit */
	{"plain.eml", 100000, false, 0, false},
	{"multipart-nested.eml", 150, true, 1, false},
	{"multipart-nested.eml", 300, true, 2,
	 false}, /* inside a part header */
	{"multipart-nested.eml", 1000, true, 2, false},
	{"multipart-nested.eml", 3330, true, 2, false}, /* before --inner-b-- */
	{"multipart-nested.eml", 5000, true, 1, false}, /* inside base64 */
	{"multipart-nested.eml", 7700, true, 2,
	 false}, /* message/rfc822 entered */
	{"multipart-nested.eml", 8000, true, 2, false},
	{"multipart-nested.eml", 9110, true, 1, false},
	{"multipart-nested.eml", 20000, false, 0, false},
	{"multipart-crlf.eml", 150, true, -1, false},
	{"multipart-crlf.eml", 310, true, 2, false},
	{"multipart-crlf.eml", 1000, true, 2, false},
	{"multipart-crlf.eml", 5000, true, 1, false},
	{"multipart-crlf.eml", 7900, true, 2, false},
	{"multipart-crlf.eml", 20000, false, 0, false},
	{"header-big.eml", 1000, true, 1, false},
	{"header-big.eml", 5000, true, 1, false},
};

START_TEST(test_mime_truncate_table)
{
	struct mime_trunc_info info = {0}, info2 = {0};
	struct membuf out = {0}, out2 = {0};
	struct mime_trunc *t = NULL;
	struct e2_err err = {0};
	size_t len, hl;
	char *msg = fixture_read(trunc_rows[_i].fixture, &len);
	bool complete;
	char expect[128];

	ck_assert_int_eq(mime_truncate(msg, len, trunc_rows[_i].limit, len,
				       NULL, membuf_sink, &out, &info, &err),
			 E2_OK);
	ck_assert_int_eq(info.truncated, trunc_rows[_i].truncated);
	if (trunc_rows[_i].closed >= 0)
		ck_assert_int_eq((int)info.closed, trunc_rows[_i].closed);
	ck_assert_msg(check_entity(out.p, out.len, 0) > 0,
		      "result is not valid MIME:\n%.600s", out.p);
	hl = mime_header_len(msg, len, &complete);
	if (!info.truncated) {
		ck_assert_uint_eq(out.len, len);
		ck_assert(memcmp(out.p, msg, len) == 0);
	} else {
		const char *eol = strchr(msg, '\r') != NULL ? "\r\n" : "\n";
		const char *note;

		(void)snprintf(expect, sizeof(expect),
			       MIME_PARTIAL_HEADER
			       ": %zu bytes; truncated at %zu",
			       len, info.kept);
		ck_assert_ptr_nonnull(strstr(out.p, expect));
		ck_assert_uint_ge(info.kept, hl);
		ck_assert(info.kept <= trunc_rows[_i].limit || info.kept == hl);
		ck_assert_int_eq(msg[info.kept - 1], '\n');
		/* The body kept is the original's, byte for byte. */
		ck_assert_ptr_nonnull(
			memmem(out.p, out.len, msg + hl, info.kept - hl));
		/* Issue 9: the last part is the note, with the full size */
		note = strstr(out.p, "Content-Description: email2: incomplete "
				     "message");
		ck_assert_ptr_nonnull(note);
		(void)snprintf(expect, sizeof(expect), "of %zu bytes", len);
		ck_assert_ptr_nonnull(strstr(note, expect));
		ck_assert_ptr_nonnull(
			strstr(note, "email2-syncd --fetch-full FILE"));
		ck_assert_ptr_null(strstr(note + 1, "Content-Type: "));
		ck_assert_ptr_nonnull(memmem(out.p, out.len, eol, strlen(eol)));
		/* RFC 2046: a single part is wrapped, a mixed one extended */
		ck_assert((strstr(out.p, "boundary=\"=_email2-partial-") !=
			   NULL) == trunc_rows[_i].wrapped);
	}
	/* Streaming gives the same bytes, fed in small pieces. */
	ck_assert_int_eq(mime_trunc_new(trunc_rows[_i].limit, &t, &err), E2_OK);
	for (size_t o = 0; o < len; o += 97) {
		size_t n = len - o < 97 ? len - o : 97;

		ck_assert_int_eq(mime_trunc_write(t, msg + o, n, &err), E2_OK);
	}
	ck_assert(mime_trunc_full(t) == trunc_rows[_i].truncated);
	ck_assert((mime_trunc_room(t) == 0) == mime_trunc_full(t));
	ck_assert_int_eq(mime_trunc_finish(t, len, NULL, membuf_sink, &out2,
					   &info2, &err),
			 E2_OK);
	ck_assert_uint_eq(out2.len, out.len);
	ck_assert(memcmp(out.p, out2.p, out.len) == 0);
	mime_trunc_free(&t);
	ck_assert_ptr_null(t);
	free(out.p);
	free(out2.p);
	free(msg);
}
END_TEST

/*
 * Issue 9: a multipart/alternative top is wrapped (a client shows the last
 * alternative it knows: a note there would hide the text); a base64 body
 * is never appended to.
 */
static const struct {
	const char *msg;
	const char *first_ct; /* the wrapped part's Content-Type */
} wrap_rows[] = {
	{"Subject: alt\r\nMIME-Version: 1.0\r\n"
	 "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
	 "--a\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n"
	 "line three\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n"
	 "--a--\r\n",
	 "Content-Type: multipart/alternative; boundary=\"a\"\r\n"},
	{"Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
	 "Content-Transfer-Encoding: base64\r\n\r\n"
	 "bGluZSBvbmUKbGluZSB0d28KbGluZSB0aHJlZQpsaW5lIGZvdXIKbGluZSBmaXZl\r\n"
	 "bGluZSBvbmUKbGluZSB0d28KbGluZSB0aHJlZQpsaW5lIGZvdXIKbGluZSBmaXZl\r\n"
	 "bGluZSBvbmUKbGluZSB0d28KbGluZSB0aHJlZQpsaW5lIGZvdXIKbGluZSBmaXZl\r\n",
	 "Content-Type: text/plain; charset=utf-8\r\n"
	 "Content-Transfer-Encoding: base64\r\n\r\nbGluZSBvbmUK"},
	/* a multipart/mixed closed before the cut: the epilogue is cut */
	{"Subject: epi\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
	 "--m\r\nContent-Type: text/plain\r\n\r\nbody\r\n--m--\r\n"
	 "epilogue line one is long enough\r\nepilogue line two\r\n"
	 "epilogue line three\r\n",
	 "Content-Type: multipart/mixed; boundary=m\r\n"},
};

START_TEST(test_mime_truncate_wrap_table)
{
	const char *msg = wrap_rows[_i].msg;
	size_t len = strlen(msg);
	struct mime_origin o = {"{G}", NULL, 0};
	struct mime_trunc_info info = {0};
	struct membuf out = {0};
	struct e2_err err = {0};
	const char *first, *note;
	char *ct = NULL, *mv = NULL;
	bool found = false;

	ck_assert_int_eq(mime_truncate(msg, len, len - 25, len, &o, membuf_sink,
				       &out, &info, &err),
			 E2_OK);
	ck_assert(info.truncated);
	ck_assert_int_gt(check_entity(out.p, out.len, 0), 1);
	ck_assert_int_eq(mime_header_get(out.p, out.len, "Content-Type", &found,
					 &ct, &err),
			 E2_OK);
	ck_assert_ptr_nonnull(
		strstr(ct, "multipart/mixed; boundary=\"=_email2-partial-"));
	ck_assert_int_eq(mime_header_get(out.p, out.len, "MIME-Version", &found,
					 &mv, &err),
			 E2_OK);
	ck_assert_str_eq(mv, "1.0");
	first = strstr(out.p, wrap_rows[_i].first_ct);
	note = strstr(out.p, "Content-Description: email2: incomplete message");
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_nonnull(note);
	ck_assert(first < note);
	ck_assert_ptr_nonnull(
		strstr(note, "--account '{G}' --fetch-full FILE"));
	free(ct);
	free(mv);
	free(out.p);
}
END_TEST

/* The server gave only the first N bytes (partial FETCH, TOP). */
START_TEST(test_mime_truncate_partial_input)
{
	struct mime_trunc_info info = {0};
	struct membuf out = {0};
	struct e2_err err = {0};
	size_t len;
	char *msg = fixture_read("multipart-nested.eml", &len);

	ck_assert_int_eq(mime_truncate(msg, 2000, 2000, len, NULL, membuf_sink,
				       &out, &info, &err),
			 E2_OK);
	ck_assert(info.truncated);
	ck_assert(info.header_complete);
	/* issue 9: 3, the note is a part of its own */
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 3);
	free(out.p);
	out = (struct membuf){0};
	/* The header itself cut short: its complete lines are kept. */
	ck_assert_int_eq(mime_truncate(msg, 120, 100, len, NULL, membuf_sink,
				       &out, &info, &err),
			 E2_OK);
	ck_assert(!info.header_complete);
	ck_assert_ptr_nonnull(strstr(out.p, "Subject: nested\n"));
	ck_assert_ptr_nonnull(strstr(out.p, MIME_PARTIAL_HEADER ": "));
	ck_assert_int_eq(mime_truncate(msg, len, 0, len, NULL, membuf_sink,
				       &out, &info, &err),
			 E2_EINVAL);
	free(out.p);
	free(msg);
}
END_TEST

/* ---- headers
 * ------------------------------------------------------------------ */

static const struct {
	const char *msg;
	bool partial, omitted;
} marks_rows[] = {
	{"Subject: a\r\n\r\nbody\r\n", false, false},
	{"Subject: a\r\nX-Email2-Partial: 9 bytes; truncated at 3\r\n\r\nb",
	 true, false},
	/* in the body it is text, not a mark */
	{"Subject: a\n\nX-Email2-Partial: no\n", false, false},
	{"Subject: a\r\n\r\n--b\r\nX-Email2-Omitted-Part: 2; size=9\r\n", false,
	 true},
	{"x-email2-partial: 1\n\n--b\nX-EMAIL2-OMITTED-PART: 1\n", true, true},
	{"Subject: X-Email2-Omitted-Part: 1\n\n", false, false},
};

START_TEST(test_mime_marks_table)
{
	bool partial = !marks_rows[_i].partial,
	     omitted = !marks_rows[_i].omitted;

	mime_marks(marks_rows[_i].msg, strlen(marks_rows[_i].msg), &partial,
		   &omitted);
	ck_assert(partial == marks_rows[_i].partial);
	ck_assert(omitted == marks_rows[_i].omitted);
}
END_TEST

START_TEST(test_mime_header_get_unfolds)
{
	static const char hdr[] = "From: a@example.com\r\n"
				  "Subject: one\r\n two\r\n\tthree  \r\n"
				  "X-Empty:\r\n"
				  "content-type  : multipart/mixed;\r\n"
				  "\tboundary=\"b;\\\"x\"; charset=utf-8\r\n"
				  "\r\n"
				  "Body: not a header\r\n";
	struct e2_err err = {0};
	char *v = NULL, *b = NULL;
	bool found = false;

	ck_assert_int_eq(
		mime_header_get(hdr, strlen(hdr), "subject", &found, &v, &err),
		E2_OK);
	ck_assert(found);
	ck_assert_str_eq(v, "one two\tthree");
	free(v);
	ck_assert_int_eq(
		mime_header_get(hdr, strlen(hdr), "X-Empty", &found, &v, &err),
		E2_OK);
	ck_assert(found);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(
		mime_header_get(hdr, strlen(hdr), "Body", &found, &v, &err),
		E2_OK);
	ck_assert(!found);
	ck_assert_int_eq(mime_header_get(hdr, strlen(hdr), "Content-Type",
					 &found, &v, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_int_eq(mime_param_get(v, "BOUNDARY", &found, &b, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_str_eq(b, "b;\"x");
	free(b);
	ck_assert_int_eq(mime_param_get(v, "charset", &found, &b, &err), E2_OK);
	ck_assert_str_eq(b, "utf-8");
	free(b);
	ck_assert_int_eq(mime_param_get(v, "name", &found, &b, &err), E2_OK);
	ck_assert(!found);
	free(v);
}
END_TEST

/* ---- Date ------------------------------------------------------------------
 */

static const struct {
	const char *in;
	long long t; /* -1: E2_EINVAL */
} date_rows[] = {
	{"Mon, 2 Jan 2006 15:04:05 -0700", 1136239445},
	{"2 Jan 2006 15:04:05 -0700", 1136239445},
	{"Mon, 02 Jan 2006 15:04:05 -0700 (MST)", 1136239445},
	{"Mon, 2 Jan 06 15:04:05 MST", 1136239445},
	{"Mon,  2 Jan 2006 22:04:05 GMT", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 UT", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 UTC", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 Z", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 A", 1136239445}, /* military: +0000 */
	{"Mon, 2 Jan 2006 22:04:05", 1136239445},   /* no zone */
	{"Monday, 2 January 2006 22:04:05 +0000", 1136239445},
	{"Mon,2 Jan 2006 22:04:05 +0000", 1136239445},
	{"Mon, 2 Jan. 2006 22:04:05 +0000", 1136239445},
	{"Mon, 2 Sept 2006 22:04:05 +0000", 1157234645},
	{"Mon Jan  2 22:04:05 2006", 1136239445}, /* asctime */
	{"Mon Jan  2 22:04:05 UTC 2006", 1136239445},
	{"2006-01-02 22:04:05", 1136239445},
	{"2006-01-02T15:04:05-07:00", 1136239445},
	{"2006-01-02T22:04:05Z", 1136239445},
	{"02-Jan-2006 22:04:05 +0000", 1136239445},
	{"Mon, 2 Jan 106 22:04:05 +0000", 1136239445}, /* 3-digit year */
	{"Mon, 2 Jan 2006 23:04:05 +01:00", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 GMT+0000", 1136239445},
	{"Mon, 2 Jan 2006 22:04 +0000", 1136239440},
	{"Mon, 2 Jan 2006 22:04:60 +0000", 1136239499}, /* leap second */
	{"Mon, 2 Jan 2006 22:04:05.123 +0000", 1136239445},
	{"Mon, 2 Jan 2006 22:04:05 +0000 (Coordinated (Universal) Time)",
	 1136239445},
	{"Tue, 2 Jan 2006 22:04:05 EST", 1136257445},
	{"\t Mon, 2 Jan 2006\r\n 22:04:05 +0000 ", 1136239445},
	{"Thu, 29 Feb 2024 12:00:00 +0000", 1709208000},
	{"Fri, 31 Dec 1999 23:59:59 -0000", 946684799},
	{"Fri, 31 Dec 99 23:59:59 -0000", 946684799},
	{"2 Jan 2006", 1136160000}, /* no time: midnight */
	{"", -1},
	{"garbage", -1},
	{"12345", -1},
	{"Mon, 30 Feb 2006 10:00:00 +0000", -1},
	{"Thu, 29 Feb 2023 12:00:00 +0000", -1},
	{"Mon, 2 Foo 2006 10:00:00 +0000", -1},
	{"Mon, 2 Jan 2006 25:00:00 +0000", -1},
	{"Mon, 2 Jan 2006 22:61:00 +0000", -1},
	{"Mon, 2 Jan 2006 22:04:05 +2500", -1},
	{"Mon, 2 Jan 2006 22:04:05 +0000 3 4", -1},
	{"Mon, 0 Jan 2006 22:04:05 +0000", -1},
	{"(only a comment)", -1},
	/* issue 7 item 9: every field out of range, none read as an index */
	{"2024-99-01", -1},
	{"2024-13-01", -1},
	{"2024-00-10", -1},
	{"2024-12-32", -1},
	{"2024-04-31", -1},
	{"2023-02-29", -1},
	{"2024-02-29", 1709164800},
	{"2024-12-31T23:59:60Z", 1735689599},
	{"99999-01-01", -1},
	{"1899-12-31 00:00:00", -1},
	{"0-Jan-2006", -1},
	{"32-Jan-2006", -1},
	{"31-Apr-2006", -1},
	{"Mon, 2 Jan 2006 24:00:00 +0000", -1},
	{"Mon, 2 Jan 2006 22:60:00 +0000", -1},
	{"Mon, 2 Jan 2006 22:04:61 +0000", -1},
	{"Mon, 2 Jan 2006 99:99:99 +0000", -1},
	{"Mon, 2 Jan 2006 22:04:05 +2400", -1},
	{"Mon, 2 Jan 2006 22:04:05 -0099", -1},
	{"Mon, 2 Jan 2006 22:04:05 +23:60", -1},
	{"Mon, 2 Jan 2006 22:04:05 +2359", 1136153105},
	{"2006-01-02T22:04:05+99:00", -1},
};

/* The fields one by one: a bad one is named, never used. */
static const struct {
	int y, mo, d, h, mi, s;
	long zone;
	long long t; /* -1: E2_EINVAL */
} make_rows[] = {
	{2006, 1, 2, 22, 4, 5, 0, 1136239445},
	{2006, 1, 2, 15, 4, 5, -7 * 3600, 1136239445},
	{2024, 2, 29, 0, 0, 0, 0, 1709164800},
	{2024, 99, 1, 0, 0, 0, 0, -1},
	{2024, 13, 1, 0, 0, 0, 0, -1},
	{2024, 0, 1, 0, 0, 0, 0, -1},
	{2024, -1, 1, 0, 0, 0, 0, -1},
	{2024, 2147483647, 1, 0, 0, 0, 0, -1},
	{2024, -2147483647 - 1, 1, 0, 0, 0, 0, -1},
	{2024, 1, 0, 0, 0, 0, 0, -1},
	{2024, 1, 32, 0, 0, 0, 0, -1},
	{2023, 2, 29, 0, 0, 0, 0, -1},
	{2100, 2, 29, 0, 0, 0, 0, -1}, /* not a leap year */
	{2000, 2, 29, 0, 0, 0, 0, 951782400},
	{1899, 1, 1, 0, 0, 0, 0, -1},
	{10000, 1, 1, 0, 0, 0, 0, -1},
	{2024, 1, 1, -1, 0, 0, 0, -1},
	{2024, 1, 1, 24, 0, 0, 0, -1},
	{2024, 1, 1, 0, -1, 0, 0, -1},
	{2024, 1, 1, 0, 60, 0, 0, -1},
	{2024, 1, 1, 0, 0, -1, 0, -1},
	{2024, 1, 1, 0, 0, 61, 0, -1},
	{2024, 1, 1, 0, 0, 0, 24L * 3600, -1},
	{2024, 1, 1, 0, 0, 0, -24L * 3600, -1},
};

START_TEST(test_mime_date_make_table)
{
	struct e2_err err = {0};
	time_t t = 0;
	enum e2_status rc;

	rc = mime_date_make(make_rows[_i].y, make_rows[_i].mo, make_rows[_i].d,
			    make_rows[_i].h, make_rows[_i].mi, make_rows[_i].s,
			    make_rows[_i].zone, &t, &err);
	if (make_rows[_i].t < 0) {
		ck_assert_msg(rc == E2_EINVAL, "row %d accepted as %lld", _i,
			      (long long)t);
		ck_assert_msg(strstr(err.msg, "out of range") != NULL,
			      "row %d: %s", _i, err.msg);
		return;
	}
	ck_assert_msg(rc == E2_OK, "row %d: %s", _i, err.msg);
	ck_assert_int_eq((long long)t, make_rows[_i].t);
}
END_TEST

START_TEST(test_mime_date_parse_table)
{
	struct e2_err err = {0};
	time_t t = 0;
	enum e2_status rc = mime_date_parse(date_rows[_i].in, &t, &err);

	if (date_rows[_i].t < 0) {
		ck_assert_msg(rc == E2_EINVAL, "\"%s\" parsed as %lld",
			      date_rows[_i].in, (long long)t);
		return;
	}
	ck_assert_msg(rc == E2_OK, "\"%s\": %s", date_rows[_i].in, err.msg);
	ck_assert_msg((long long)t == date_rows[_i].t, "\"%s\": %lld != %lld",
		      date_rows[_i].in, (long long)t, date_rows[_i].t);
}
END_TEST

static const struct {
	const char *hdr;
	int dwnday;
	bool inside;
} dwnday_rows[] = {
	/* now is 2006-01-10 12:00 UTC */
	{"Date: Mon, 2 Jan 2006 22:04:05 +0000\n\n", 7, false},
	{"Date: Mon, 2 Jan 2006 22:04:05 +0000\n\n", 14, true},
	{"Date: Mon, 2 Jan 2006 22:04:05 +0000\n\n", -1, true},
	{"Date: Tue, 3 Jan 2006 00:00:01 +0000\n\n", 7, true},  /* day 3 */
	{"Date: Mon, 2 Jan 2006 23:59:59 +0000\n\n", 7, false}, /* day 2 */
	{"Date: junk\n\n", 7, true},
	{"Subject: no date\n\n", 7, true},
	{"Date: Mon, 2 Jan 1990 22:04:05 +0000\n\n", 0, false},
	{"Date: Tue, 10 Jan 2006 01:00:00 +0000\n\n", 0, true},
};

START_TEST(test_mime_dwnday_window)
{
	const time_t now = 1136894400; /* 2006-01-10 12:00:00 UTC */

	ck_assert_int_eq(mime_dwnday_inside(dwnday_rows[_i].hdr,
					    strlen(dwnday_rows[_i].hdr),
					    dwnday_rows[_i].dwnday, now),
			 dwnday_rows[_i].inside);
}
END_TEST

/* ---- KEEPMAX --------------------------------------------------------------
 */

/* Sections of a message as an IMAP server would return them. */
static const struct {
	const char *section;
	const char *bytes;
} sections[] = {
	{"HEADER", "From: a@example.com\r\nSubject: k\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: multipart/mixed; boundary=\"top\"\r\n\r\n"},
	{"1.MIME", "Content-Type: text/plain\r\n\r\n"},
	{"1", "Hello.\r\n"},
	{"2.MIME", "Content-Type: multipart/alternative; boundary=alt\r\n\r\n"},
	{"2.1.MIME", "Content-Type: text/plain\r\n\r\n"},
	{"2.1", "plain"},
	{"2.2.MIME", "Content-Type: text/html\r\n\r\n"},
	{"2.2", "<p>html</p>"},
	{"3.MIME", "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
		   "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n"},
	{"3", "JVBERi0xLjQK\r\n"},
	{"4.MIME", "Content-Type: image/png\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n"},
	{"4", "iVBORw0KGgo=\r\n"},
	{"5.MIME",
	 "Content-Type: text/plain\r\n"
	 "Content-Disposition: attachment; filename=\"n.txt\"\r\n\r\n"},
	{"5", "small attachment\r\n"},
};

struct fetch_log {
	char seen[32][16];
	size_t n;
};

static enum e2_status
fake_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	   struct e2_err *err)
{
	struct fetch_log *log = ctx;

	if (log->n < 32)
		(void)snprintf(log->seen[log->n++], 16, "%s", section);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(sections[i].section, section) == 0)
			return sink(sink_ctx, sections[i].bytes,
				    strlen(sections[i].bytes), err);
	return e2_fail(err, E2_EPROTO, "no section %s", section);
}

static char *
xstrdup(const char *s)
{
	char *d = s != NULL ? strdup(s) : NULL;

	ck_assert(s == NULL || d != NULL);
	return d;
}

static void
part_set(struct mime_part *p, const char *number, const char *type,
	 const char *sub, const char *disp, const char *file,
	 unsigned long long size)
{
	p->number = xstrdup(number);
	p->type = xstrdup(type);
	p->subtype = xstrdup(sub);
	p->disposition = xstrdup(disp);
	p->filename = xstrdup(file);
	p->size = size;
}

static struct mime_part *
tree_new(void)
{
	struct mime_part *root = calloc(1, sizeof(*root));
	struct mime_part *alt;

	ck_assert_ptr_nonnull(root);
	part_set(root, "", "multipart", "mixed", NULL, NULL, 0);
	root->boundary = xstrdup("top");
	root->n_children = 5;
	root->children = calloc(5, sizeof(*root->children));
	ck_assert_ptr_nonnull(root->children);
	part_set(&root->children[0], "1", "text", "plain", NULL, NULL, 8);
	alt = &root->children[1];
	part_set(alt, "2", "multipart", "alternative", NULL, NULL, 0);
	alt->boundary = xstrdup("alt");
	alt->n_children = 2;
	alt->children = calloc(2, sizeof(*alt->children));
	ck_assert_ptr_nonnull(alt->children);
	part_set(&alt->children[0], "2.1", "text", "plain", NULL, NULL, 5);
	part_set(&alt->children[1], "2.2", "text", "html", NULL, NULL, 200000);
	part_set(&root->children[2], "3", "application", "pdf", "attachment",
		 "r\xc3\xa9sum\xc3\xa9 \"1\".pdf", 2000000);
	part_set(&root->children[3], "4", "image", "png", NULL, NULL, 150000);
	part_set(&root->children[4], "5", "text", "plain", "attachment",
		 "n.txt", 18);
	return root;
}

static const struct {
	unsigned long long max;
	size_t omitted;
} plan_rows[] = {
	{0, 0},
	{100 * 1024, 2},  /* the pdf and the png; the html is the text */
	{1000 * 1024, 1}, /* the pdf */
	{4000 * 1024, 0},
	{10, 3}, /* the small text attachment 5 goes too */
};

START_TEST(test_mime_plan_keepmax)
{
	struct mime_part *root = tree_new();
	size_t n = mime_plan_keepmax(root, plan_rows[_i].max);

	ck_assert_uint_eq(n, plan_rows[_i].omitted);
	ck_assert(!root->children[0].omit);
	ck_assert(!root->children[1].children[0].omit);
	ck_assert(!root->children[1].children[1].omit);
	mime_part_free(&root);
	ck_assert_ptr_null(root);
}
END_TEST

START_TEST(test_mime_assemble_placeholders)
{
	struct mime_part *root = tree_new();
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};

	ck_assert_uint_eq(mime_plan_keepmax(root, 100 * 1024), 2);
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, NULL,
				       membuf_sink, &out, &err),
			 E2_OK);
	/* 1, 2.1, 2.2, placeholder 3, placeholder 4, 5 */
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 6);
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: 3; "
					    "type=\"application/pdf\"; "
					    "name=\"r%C3%A9sum%C3%A9 %221%22"
					    ".pdf\";\r\n size=2000000\r\n"));
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: 4; "
					    "type=\"image/png\"; name=\"\";"));
	ck_assert_ptr_nonnull(strstr(out.p, "<p>html</p>\r\n--alt--\r\n"));
	ck_assert_ptr_nonnull(strstr(out.p, "small attachment\r\n"));
	ck_assert_ptr_null(strstr(out.p, "JVBERi0"));
	ck_assert_ptr_null(strstr(out.p, "iVBORw0K"));
	/* The omitted parts' bytes were never asked for. */
	for (size_t i = 0; i < log.n; i++) {
		ck_assert_str_ne(log.seen[i], "3");
		ck_assert_str_ne(log.seen[i], "4");
	}
	/* The 200 KB html is the text: kept; the rest is small. */
	ck_assert_uint_gt(mime_plan_size(root, 100), 200000);
	ck_assert_uint_lt(mime_plan_size(root, 100), 206000);
	mime_part_free(&root);
	free(out.p);
}
END_TEST

START_TEST(test_mime_assemble_kept_whole)
{
	struct mime_part *root = tree_new();
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};

	ck_assert_uint_eq(mime_plan_keepmax(root, 0), 0);
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, NULL,
				       membuf_sink, &out, &err),
			 E2_OK);
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 6);
	ck_assert_ptr_null(strstr(out.p, "X-Email2-Omitted-Part"));
	ck_assert_ptr_nonnull(strstr(out.p, "JVBERi0"));
	mime_part_free(&root);
	free(out.p);
}
END_TEST

static enum e2_status
single_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	     struct e2_err *err)
{
	static const char hdr[] = "From: a@example.com\r\n"
				  "Content-Type: application/pdf;\r\n"
				  "\tname=\"x.pdf\"\r\n"
				  "Content-Transfer-Encoding: base64\r\n"
				  "Subject: scan\r\n\r\n";

	(void)ctx;
	ck_assert_str_eq(section, "HEADER");
	return sink(sink_ctx, hdr, strlen(hdr), err);
}

START_TEST(test_mime_assemble_single_part_omitted)
{
	struct mime_part *root = calloc(1, sizeof(*root));
	struct membuf out = {0};
	struct e2_err err = {0};
	char *v = NULL;
	bool found;

	ck_assert_ptr_nonnull(root);
	part_set(root, "", "application", "pdf", NULL, "x.pdf", 5000000);
	ck_assert_uint_eq(mime_plan_keepmax(root, 1024), 1);
	ck_assert_int_eq(mime_assemble(root, single_fetch, NULL, NULL,
				       membuf_sink, &out, &err),
			 E2_OK);
	/* issue 9: the note and the external-body part */
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 2);
	ck_assert_int_eq(mime_header_get(out.p, out.len, "Content-Type", &found,
					 &v, &err),
			 E2_OK);
	ck_assert_str_eq(v, "multipart/mixed; boundary=\"=_email2-omitted\"");
	free(v);
	ck_assert_ptr_nonnull(strstr(out.p, "Subject: scan\r\n"));
	/* the original field is gone; the external-body names the file */
	ck_assert_ptr_null(strstr(out.p, "\tname=\"x.pdf\"\r\n"));
	ck_assert_ptr_nonnull(strstr(out.p, "filename=\"x.pdf\""));
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: 1;"));
	mime_part_free(&root);
	free(out.p);
}
END_TEST

/* Every line of a header block shorter than max bytes. */
static bool
lines_shorter(const char *p, size_t len, size_t max)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		run = p[i] == '\n' ? 0 : run + 1;
		if (run >= max)
			return false;
	}
	return true;
}

/*
 * Issue 7 item 6: a placeholder never fails on length. Rows: file name,
 * type, subtype and part number of every size, non-ASCII included.
 */
static const struct {
	size_t name_len, type_len, sub_len, number_len;
	unsigned char fill;
} ph_rows[] = {
	{10000, 4, 3, 1, 0xe9},    /* 10,000-byte non-ASCII name */
	{10000, 4, 3, 1, 'a'},     /* 10,000-byte ASCII name */
	{0, 5000, 5000, 1, 'x'},   /* type and subtype of 5,000 bytes */
	{300, 300, 300, 300, '"'}, /* everything, and escaped */
	{255, 63, 63, 47, '%'},    {1, 1, 0, 200, '1'}, {0, 0, 0, 0, 0},
};

static char *
filled(size_t len, unsigned char c)
{
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

START_TEST(test_mime_placeholder_never_too_long)
{
	struct mime_part *root = tree_new();
	struct mime_part *pdf = &root->children[2];
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};
	char *number = NULL;

	free(pdf->filename);
	free(pdf->type);
	free(pdf->subtype);
	pdf->filename = ph_rows[_i].name_len > 0
				? filled(ph_rows[_i].name_len, ph_rows[_i].fill)
				: NULL;
	pdf->type = filled(ph_rows[_i].type_len, 'x');
	pdf->subtype = ph_rows[_i].sub_len > 0
			       ? filled(ph_rows[_i].sub_len, 'y')
			       : NULL;
	number = filled(ph_rows[_i].number_len, '3');
	/* the fetch is by number: keep the real one for the kept parts */
	ck_assert_uint_eq(mime_plan_keepmax(root, 100 * 1024), 2);
	free(pdf->number);
	pdf->number = number;
	ck_assert_int_eq(mime_plan_check(root, &err), E2_OK);
	ck_assert_msg(mime_assemble(root, fake_fetch, &log, NULL, membuf_sink,
				    &out, &err) == E2_OK,
		      "row %d: %s", _i, err.msg);
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: "));
	ck_assert(lines_shorter(out.p, out.len, 998));
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 6);
	if (ph_rows[_i].name_len > 300)
		ck_assert_ptr_nonnull(strstr(out.p, "...\";\r\n"));
	mime_part_free(&root);
	free(out.p);
}
END_TEST

START_TEST(test_mime_plan_check_no_boundary)
{
	struct mime_part *root = tree_new();
	struct e2_err err = {0};

	ck_assert_int_eq(mime_plan_check(root, &err), E2_OK);
	free(root->children[1].boundary);
	root->children[1].boundary = NULL;
	ck_assert_int_eq(mime_plan_check(root, &err), E2_EPROTO);
	ck_assert_str_eq(err.msg, "multipart part \"2\" has no boundary");
	/* left on the server whole: nothing of it is assembled */
	root->children[1].omit = true;
	err.msg[0] = '\0';
	ck_assert_int_eq(mime_plan_check(root, &err), E2_OK);
	mime_part_free(&root);
}
END_TEST

static enum e2_status
empty_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	    struct e2_err *err)
{
	(void)ctx;
	(void)section;
	return sink(sink_ctx, "", 0, err);
}

/* fuzz_mime found it: an empty HEADER of an omitted root (UB on NULL). */
START_TEST(test_mime_assemble_empty_header_section)
{
	struct mime_part *root = calloc(1, sizeof(*root));
	struct membuf out = {0};
	struct e2_err err = {0};

	ck_assert_ptr_nonnull(root);
	part_set(root, "", "application", "pdf", NULL, "x.pdf", 5000000);
	ck_assert_uint_eq(mime_plan_keepmax(root, 1024), 1);
	ck_assert_int_eq(mime_assemble(root, empty_fetch, NULL, NULL,
				       membuf_sink, &out, &err),
			 E2_OK);
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: 1;"));
	mime_part_free(&root);
	free(out.p);
}
END_TEST

/* KEEPMAX first, then RETRIEVE over what is left. */
START_TEST(test_mime_keepmax_then_retrieve)
{
	struct mime_part *root = tree_new();
	struct mime_trunc_info info = {0};
	struct mime_trunc *t = NULL;
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};

	ck_assert_uint_eq(mime_plan_keepmax(root, 100 * 1024), 2);
	ck_assert_int_eq(mime_trunc_new(300, &t, &err), E2_OK);
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, NULL,
				       mime_trunc_write, t, &err),
			 E2_OK);
	ck_assert_int_eq(
		mime_trunc_finish(t, 0, NULL, membuf_sink, &out, &info, &err),
		E2_OK);
	ck_assert(info.truncated);
	ck_assert_uint_ge(info.closed, 1);
	ck_assert_int_gt(check_entity(out.p, out.len, 0), 0);
	ck_assert_ptr_nonnull(strstr(out.p, MIME_PARTIAL_HEADER ": "));
	mime_trunc_free(&t);
	mime_part_free(&root);
	free(out.p);
}
END_TEST

START_TEST(test_mime_assemble_no_boundary_is_eproto)
{
	struct mime_part *root = tree_new();
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};

	free(root->children[1].boundary);
	root->children[1].boundary = NULL;
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, NULL,
				       membuf_sink, &out, &err),
			 E2_EPROTO);
	ck_assert_str_eq(err.msg, "multipart part \"2\" has no boundary");
	mime_part_free(&root);
	free(out.p);
}
END_TEST

/* ---- issue 9: the omitted part as message/external-body ---------------- */

static const struct {
	const char *encoding;
	unsigned long long size, decoded;
} decoded_rows[] = {
	{"base64", 420380, 307200}, /* 300 KB as Python writes it */
	{"base64", 140, 102},       /* 100 bytes: "==" padding unknown */
	{"base64", 78, 57},         /* one full line */
	{"base64", 0, 0},           {"BASE64", 6, 3},
	{NULL, 5000, 5000},         {"quoted-printable", 900, 900},
	{"7bit", 12, 12},
};

START_TEST(test_mime_decoded_size_table)
{
	struct mime_part p = {0};

	p.encoding = (char *)(uintptr_t)decoded_rows[_i].encoding;
	p.size = decoded_rows[_i].size;
	ck_assert_uint_eq(mime_part_decoded_size(&p), decoded_rows[_i].decoded);
}
END_TEST

/* no byte outside printable ASCII but CR LF TAB; no line over max */
static bool
ascii_lines(const char *p, size_t len, size_t max)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c > 0x7e ||
		    (c < 0x20 && c != '\r' && c != '\n' && c != '\t'))
			return false;
	}
	return lines_shorter(p, len, max);
}

static const struct {
	const char *name;
	const char *want; /* in the external-body's Content-Disposition */
} ext_rows[] = {
	{"report.pdf", "Content-Disposition: attachment;\r\n"
		       " filename=\"report.pdf\";\r\n size=2000000\r\n"},
	{"r\xc3\xa9sum\xc3\xa9 \"1\".pdf",
	 " filename*=utf-8''r%C3%A9sum%C3%A9%20%221%22.pdf;\r\n"},
	/* a header injection attempt stays one parameter */
	{"a.pdf\r\nBcc: x@example.com", " filename*=utf-8''a.pdf%0D%0ABcc%3A%20"
					"x%40example.com;\r\n"},
	{"back\\slash", " filename*=utf-8''back%5Cslash;\r\n"},
	{"=?utf-8?q?caf=C3=A9?=.pdf",
	 " filename=\"=?utf-8?q?caf=C3=A9?=.pdf\""},
};

START_TEST(test_mime_external_body_table)
{
	struct mime_part *root = tree_new();
	struct mime_part *pdf = &root->children[2];
	struct mime_origin o = {"{0A1B2C3D-0000-4000-8000-000000000009}",
				"Archiv/2024 \"x\"", 42};
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};
	char *ct = NULL;
	bool found = false;

	free(pdf->filename);
	pdf->filename = xstrdup(ext_rows[_i].name);
	ck_assert_uint_eq(mime_plan_keepmax(root, 100 * 1024), 2);
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, &o, membuf_sink,
				       &out, &err),
			 E2_OK);
	ck_assert_int_eq(check_entity(out.p, out.len, 0), 6);
	ck_assert_msg(strstr(out.p, ext_rows[_i].want) != NULL, "no %s in:\n%s",
		      ext_rows[_i].want, out.p);
	ck_assert_ptr_nonnull(strstr(out.p,
				     "Content-Type: message/external-body;"
				     "\r\n access-type=x-email2;\r\n"
				     " account=\"{0A1B2C3D-0000-4000-8000-"
				     "000000000009}\";\r\n"
				     " folder*=utf-8''Archiv%2F2024%20%22x"
				     "%22;\r\n uid=42;\r\n section=\"3\""));
	/* the phantom header keeps the part's own type */
	ck_assert_ptr_nonnull(
		strstr(out.p, "\r\n\r\nContent-Type: application/pdf;"));
	ck_assert_ptr_nonnull(
		strstr(out.p, "Content-ID: <email2.42.3@email2.invalid>"));
	ck_assert_ptr_nonnull(strstr(out.p,
				     "email2-syncd --account "
				     "'{0A1B2C3D-0000-4000-8000-"
				     "000000000009}' --fetch-full FILE"));
	/* the mark this engine reads back is still there */
	ck_assert_ptr_nonnull(strstr(out.p, "X-Email2-Omitted-Part: 3; "));
	ck_assert(ascii_lines(out.p, out.len, 998));
	ck_assert_ptr_null(strstr(out.p, "\nBcc:"));
	/* the png (no name): a token type, no name parameters */
	ck_assert_ptr_nonnull(
		strstr(out.p, "section=\"4\";\r\n size=150000\r\n"));
	ck_assert_int_eq(mime_header_get(out.p, out.len, "Content-Type", &found,
					 &ct, &err),
			 E2_OK);
	ck_assert_str_eq(ct, "multipart/mixed; boundary=\"top\"");
	free(ct);
	mime_part_free(&root);
	free(out.p);
}
END_TEST

/* a type from the server that is not a token never reaches a header raw */
START_TEST(test_mime_external_body_bad_type)
{
	struct mime_part *root = tree_new();
	struct mime_part *pdf = &root->children[2];
	struct fetch_log log = {0};
	struct membuf out = {0};
	struct e2_err err = {0};

	free(pdf->subtype);
	pdf->subtype = xstrdup("pdf\r\nX-Evil: 1");
	ck_assert_uint_eq(mime_plan_keepmax(root, 100 * 1024), 2);
	ck_assert_int_eq(mime_assemble(root, fake_fetch, &log, NULL,
				       membuf_sink, &out, &err),
			 E2_OK);
	ck_assert_ptr_null(strstr(out.p, "\nX-Evil"));
	ck_assert_ptr_nonnull(strstr(
		out.p, "\r\n\r\nContent-Type: application/octet-stream;"));
	ck_assert_ptr_nonnull(strstr(out.p, "email2-syncd --fetch-full FILE"));
	mime_part_free(&root);
	free(out.p);
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc;

	tc = tcase_create("truncate");
	tcase_add_loop_test(tc, test_mime_truncate_table, 0,
			    sizeof(trunc_rows) / sizeof(trunc_rows[0]));
	tcase_add_test(tc, test_mime_truncate_partial_input);
	tcase_add_loop_test(tc, test_mime_truncate_wrap_table, 0,
			    sizeof(wrap_rows) / sizeof(wrap_rows[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_add_test(tc, test_mime_header_get_unfolds);
	tcase_add_loop_test(tc, test_mime_marks_table, 0,
			    sizeof(marks_rows) / sizeof(marks_rows[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("date");
	tcase_add_loop_test(tc, test_mime_date_parse_table, 0,
			    sizeof(date_rows) / sizeof(date_rows[0]));
	tcase_add_loop_test(tc, test_mime_date_make_table, 0,
			    sizeof(make_rows) / sizeof(make_rows[0]));
	tcase_add_loop_test(tc, test_mime_dwnday_window, 0,
			    sizeof(dwnday_rows) / sizeof(dwnday_rows[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("keepmax");
	tcase_add_loop_test(tc, test_mime_plan_keepmax, 0,
			    sizeof(plan_rows) / sizeof(plan_rows[0]));
	tcase_add_test(tc, test_mime_assemble_placeholders);
	tcase_add_test(tc, test_mime_assemble_kept_whole);
	tcase_add_test(tc, test_mime_assemble_single_part_omitted);
	tcase_add_loop_test(tc, test_mime_decoded_size_table, 0,
			    sizeof(decoded_rows) / sizeof(decoded_rows[0]));
	tcase_add_loop_test(tc, test_mime_external_body_table, 0,
			    sizeof(ext_rows) / sizeof(ext_rows[0]));
	tcase_add_test(tc, test_mime_external_body_bad_type);
	tcase_add_test(tc, test_mime_keepmax_then_retrieve);
	tcase_add_loop_test(tc, test_mime_placeholder_never_too_long, 0,
			    sizeof(ph_rows) / sizeof(ph_rows[0]));
	tcase_add_test(tc, test_mime_plan_check_no_boundary);
	tcase_add_test(tc, test_mime_assemble_empty_header_section);
	tcase_add_test(tc, test_mime_assemble_no_boundary_is_eproto);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
