/* SPDX-License-Identifier: MIT */
/* mime.c -- header lookup, Date parsing, RETRIEVE truncation, KEEPMAX */
#include "config.h"

#include "mime.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIME_DEPTH_MAX 32
#define MIME_HEADER_MAX (1024 * 1024)

/* ---- header blocks ---------------------------------------------------- */

/* End of the line starting at p (after its LF), or NULL if not complete. */
static const char *
mime_line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl == NULL ? NULL : nl + 1;
}

static bool
mime_line_empty(const char *p, const char *eol)
{
	return eol - p == 1 || (eol - p == 2 && p[0] == '\r');
}

size_t
mime_header_len(const char *msg, size_t len, bool *complete_out)
{
	const char *p = msg, *end = msg + len, *eol;

	while (p < end && (eol = mime_line_end(p, end)) != NULL) {
		if (mime_line_empty(p, eol)) {
			*complete_out = true;
			return (size_t)(eol - msg);
		}
		p = eol;
	}
	*complete_out = false;
	return (size_t)(p - msg);
}

static bool
mime_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

enum e2_status
mime_header_get(const char *hdr, size_t len, const char *name, bool *found_out,
		char **value_out, struct e2_err *err)
{
	const char *p = hdr, *end = hdr + len;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *eol = mime_line_end(p, end), *v, *vend, *q;
		char *out;
		size_t o = 0;

		if (eol == NULL)
			eol = end;
		if (mime_line_empty(p, eol))
			break;
		if ((size_t)(eol - p) <= nlen ||
		    strncasecmp(p, name, nlen) != 0) {
			p = eol;
			continue;
		}
		q = p + nlen;
		while (q < eol && mime_is_wsp(*q)) /* obs-optional WSP */
			q++;
		if (q >= eol || *q != ':') {
			p = eol;
			continue;
		}
		v = q + 1;
		/* The field runs on over continuation lines. */
		vend = eol;
		while (vend < end && mime_is_wsp(*vend)) {
			const char *n = mime_line_end(vend, end);

			vend = n == NULL ? end : n;
		}
		out = malloc((size_t)(vend - v) + 1);
		if (out == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		for (q = v; q < vend; q++)
			if (*q != '\r' && *q != '\n')
				out[o++] = *q;
		while (o > 0 && mime_is_wsp(out[o - 1]))
			o--;
		out[o] = '\0';
		q = out;
		while (mime_is_wsp(*q))
			q++;
		memmove(out, q, o - (size_t)(q - out) + 1);
		*found_out = true;
		*value_out = out;
		return E2_OK;
	}
	*found_out = false;
	return E2_OK;
}

enum e2_status
mime_param_get(const char *value, const char *name, bool *found_out,
	       char **value_out, struct e2_err *err)
{
	size_t nlen = strlen(name);
	const char *p = strchr(value, ';');

	while (p != NULL) {
		const char *n, *ne, *v;
		char *out;
		size_t o = 0;

		p++;
		while (mime_is_wsp(*p) || *p == '\r' || *p == '\n')
			p++;
		n = p;
		while (*p != '\0' && *p != '=' && *p != ';')
			p++;
		ne = p;
		while (ne > n && mime_is_wsp(ne[-1]))
			ne--;
		if (*p != '=') {
			if (*p == '\0')
				break;
			continue;
		}
		v = p + 1;
		while (mime_is_wsp(*v))
			v++;
		out = malloc(strlen(v) + 1);
		if (out == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		if (*v == '"') {
			for (v++; *v != '\0' && *v != '"'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				out[o++] = *v;
			}
			if (*v == '"')
				v++;
		} else {
			while (*v != '\0' && *v != ';' && !mime_is_wsp(*v))
				out[o++] = *v++;
		}
		out[o] = '\0';
		if ((size_t)(ne - n) == nlen &&
		    strncasecmp(n, name, nlen) == 0) {
			*found_out = true;
			*value_out = out;
			return E2_OK;
		}
		free(out);
		p = strchr(v, ';');
	}
	*found_out = false;
	return E2_OK;
}

/* ---- Date -----------------------------------------------------------------
 */

struct mime_date {
	int year, month, day, hour, min, sec;
	long zone; /* seconds east of UTC */
	bool have_zone, have_time;
};

static const char *const mime_months[] = {
	"january", "february", "march",     "april",   "may",      "june",
	"july",    "august",   "september", "october", "november", "december",
};

static const char *const mime_wdays[] = {
	"monday", "tuesday",  "wednesday", "thursday",
	"friday", "saturday", "sunday",
};

/* RFC 5322 4.3 obs-zone, plus UTC. */
static const struct {
	const char *name;
	int hours;
} mime_zones[] = {
	{"UT", 0},   {"UTC", 0},  {"GMT", 0},  {"Z", 0},
	{"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5},
	{"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
};

/* A prefix of at least 3 letters of one of the names, or -1. */
static int
mime_name_index(const char *tok, size_t len, const char *const *names, size_t n)
{
	if (len < 3)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (len <= strlen(names[i]) &&
		    strncasecmp(tok, names[i], len) == 0)
			return (int)i;
	if (names == mime_months && len == 4 &&
	    strncasecmp(tok, "sept", 4) == 0)
		return 8;
	return -1;
}

static bool
mime_parse_digits(const char **p, int maxdigits, int *out, int *ndigits)
{
	int v = 0, n = 0;

	while (n < maxdigits && isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (ndigits != NULL)
		*ndigits = n;
	*out = v;
	return n > 0;
}

/* "+hhmm", "-hh:mm", "+hh"; p at the sign. */
static bool
mime_parse_offset(const char *p, long *zone)
{
	int sign = *p == '-' ? -1 : 1, hh, mm = 0, nd;

	p++;
	if (!mime_parse_digits(&p, 4, &hh, &nd))
		return false;
	if (nd == 4) {
		mm = hh % 100;
		hh /= 100;
	} else if (nd == 2 && *p == ':') {
		p++;
		if (!mime_parse_digits(&p, 2, &mm, NULL))
			return false;
	} else if (nd != 2 && nd != 1) {
		return false;
	}
	if (*p != '\0' || hh > 23 || mm > 59)
		return false;
	*zone = sign * (hh * 3600L + mm * 60L);
	return true;
}

static bool
mime_date_zone_name(const char *tok, size_t len, struct mime_date *d)
{
	for (size_t i = 0; i < sizeof(mime_zones) / sizeof(mime_zones[0]);
	     i++) {
		if (strlen(mime_zones[i].name) == len &&
		    strncasecmp(tok, mime_zones[i].name, len) == 0) {
			d->zone = mime_zones[i].hours * 3600L;
			d->have_zone = true;
			return true;
		}
	}
	/* RFC 5322 4.3: military zones are unreliable, read as +0000. */
	if (len == 1 && isalpha((unsigned char)tok[0]) &&
	    tolower((unsigned char)tok[0]) != 'j') {
		d->zone = 0;
		d->have_zone = true;
		return true;
	}
	return false;
}

/* "hh:mm[:ss]" with an optional zone glued on ("Z", "+0100"). */
static bool
mime_date_time(const char *tok, struct mime_date *d)
{
	const char *p = tok;

	if (!mime_parse_digits(&p, 2, &d->hour, NULL) || *p++ != ':' ||
	    !mime_parse_digits(&p, 2, &d->min, NULL))
		return false;
	d->sec = 0;
	if (*p == ':') {
		p++;
		if (!mime_parse_digits(&p, 2, &d->sec, NULL))
			return false;
		if (*p == '.' || *p == ',') /* fractions: junk but seen */
			while (*++p != '\0' && isdigit((unsigned char)*p))
				;
	}
	if (*p == '+' || *p == '-') {
		if (!mime_parse_offset(p, &d->zone))
			return false;
		d->have_zone = true;
	} else if (*p != '\0' && !mime_date_zone_name(p, strlen(p), d)) {
		return false;
	}
	d->have_time = true;
	return true;
}

/* "2006-01-02", "2006-01-02T15:04:05Z", "02-Jan-2006". */
static bool
mime_date_dashed(const char *tok, struct mime_date *d)
{
	const char *p = tok;
	int a, b, c, nd;

	if (!mime_parse_digits(&p, 4, &a, &nd) || *p != '-')
		return false;
	p++;
	if (nd == 4) {
		if (!mime_parse_digits(&p, 2, &b, NULL) || *p++ != '-' ||
		    !mime_parse_digits(&p, 2, &c, NULL))
			return false;
		d->year = a;
		d->month = b;
		d->day = c;
		if (*p == 'T' || *p == 't')
			return mime_date_time(p + 1, d);
		return *p == '\0';
	}
	{
		const char *m = p;
		int mi;

		while (isalpha((unsigned char)*p))
			p++;
		mi = mime_name_index(m, (size_t)(p - m), mime_months, 12);
		if (mi < 0 || *p++ != '-' ||
		    !mime_parse_digits(&p, 4, &c, &nd) || *p != '\0')
			return false;
		d->day = a;
		d->month = mi + 1;
		d->year = nd == 2 ? (c < 50 ? 2000 + c : 1900 + c)
				  : (nd == 3 ? 1900 + c : c);
	}
	return true;
}

/* A date with dashes ("2006-01-02...", "02-Jan-2006"), not a time zone. */
static bool
mime_date_is_dashed(const char *tok)
{
	const char *dash = strchr(tok, '-'), *colon = strchr(tok, ':');

	return isdigit((unsigned char)tok[0]) && dash != NULL &&
	       (colon == NULL || dash < colon);
}

static int
mime_days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01. */
static long long
mime_days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

enum e2_status
mime_date_parse(const char *s, time_t *t_out, struct e2_err *err)
{
	struct mime_date d = {0};
	char buf[256];
	size_t o = 0;
	int depth = 0;
	char *tok;

	d.year = d.month = d.day = -1;
	/* Comments (nested) and commas become spaces. */
	for (const char *p = s; *p != '\0' && o + 1 < sizeof(buf); p++) {
		if (*p == '(')
			depth++;
		if (depth > 0 || *p == ',' || *p == '\r' || *p == '\n' ||
		    *p == '\t')
			buf[o++] = ' ';
		else
			buf[o++] = *p;
		if (*p == ')' && depth > 0)
			depth--;
	}
	buf[o] = '\0';
	for (char *next = buf; *next != '\0';) {
		size_t len;
		int v, nd, idx;
		const char *p;

		while (*next == ' ')
			next++;
		if (*next == '\0')
			break;
		tok = next;
		while (*next != '\0' && *next != ' ')
			next++;
		if (*next == ' ')
			*next++ = '\0';
		len = strlen(tok);
		p = tok;

		while (len > 0 && tok[len - 1] == '.') /* "Jan." */
			tok[--len] = '\0';
		if (len == 0)
			continue;
		if (isalpha((unsigned char)tok[0])) {
			idx = mime_name_index(tok, len, mime_months, 12);
			if (idx >= 0 && d.month < 0) {
				d.month = idx + 1;
				continue;
			}
			if (mime_name_index(tok, len, mime_wdays, 7) >= 0)
				continue;
			if (!d.have_zone && mime_date_zone_name(tok, len, &d))
				continue;
			if (strncasecmp(tok, "GMT", 3) == 0 &&
			    (tok[3] == '+' || tok[3] == '-') && !d.have_zone &&
			    mime_parse_offset(tok + 3, &d.zone)) {
				d.have_zone = true;
				continue;
			}
			continue; /* other words: junk, ignored */
		}
		if ((tok[0] == '+' || tok[0] == '-') && !d.have_zone &&
		    mime_parse_offset(tok, &d.zone)) {
			d.have_zone = true;
			continue;
		}
		if (mime_date_is_dashed(tok) && d.day < 0 && d.year < 0) {
			if (!mime_date_dashed(tok, &d))
				goto bad;
			continue;
		}
		if (strchr(tok, ':') != NULL && !d.have_time) {
			if (!mime_date_time(tok, &d))
				goto bad;
			continue;
		}
		if (!mime_parse_digits(&p, 5, &v, &nd) || *p != '\0')
			goto bad;
		if (d.day < 0 && nd <= 2 && v >= 1 && v <= 31)
			d.day = v;
		else if (d.year < 0)
			d.year = nd == 2 ? (v < 50 ? 2000 + v : 1900 + v)
					 : (nd == 3 ? 1900 + v : v);
		else
			goto bad;
	}
	return mime_date_make(d.year, d.month, d.day, d.hour, d.min, d.sec,
			      d.zone, t_out, err);
bad:
	return e2_fail(err, E2_EINVAL, "not a date");
}

/*
 * Every field is checked before any is used: the month indexes a table
 * (mime_days_in_month()), and "2024-99-01" must not read past it.
 */
enum e2_status
mime_date_make(int year, int month, int day, int hour, int min, int sec,
	       long zone, time_t *t_out, struct e2_err *err)
{
	long long t;

	if (year < MIME_YEAR_MIN || year > MIME_YEAR_MAX)
		return e2_fail(err, E2_EINVAL, "date: year %d out of range",
			       year);
	if (month < 1 || month > 12)
		return e2_fail(err, E2_EINVAL, "date: month %d out of range",
			       month);
	if (day < 1 || day > mime_days_in_month(year, month))
		return e2_fail(err, E2_EINVAL,
			       "date: day %d out of range for %d-%02d", day,
			       year, month);
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return e2_fail(err, E2_EINVAL,
			       "date: time %d:%d:%d out of range", hour, min,
			       sec);
	if (zone < -MIME_ZONE_MAX || zone > MIME_ZONE_MAX)
		return e2_fail(err, E2_EINVAL, "date: zone %ld s out of range",
			       zone);
	if (sec == 60)
		sec = 59; /* leap second */
	t = mime_days_from_civil(year, month, day) * 86400LL + hour * 3600LL +
	    min * 60LL + sec - zone;
	*t_out = (time_t)t;
	return E2_OK;
}

bool
mime_dwnday_inside(const char *hdr, size_t len, int dwnday, time_t now)
{
	struct e2_err err = {0};
	bool found = false;
	char *value = NULL;
	time_t t, cutoff;
	bool inside = true;

	if (dwnday < 0)
		return true;
	if (mime_header_get(hdr, len, "Date", &found, &value, &err) != E2_OK ||
	    !found)
		return true;
	if (mime_date_parse(value, &t, &err) == E2_OK) {
		cutoff = now - (time_t)dwnday * 86400;
		cutoff -= ((cutoff % 86400) + 86400) % 86400;
		inside = t >= cutoff;
	}
	free(value);
	return inside;
}

/* ---- RETRIEVE ------------------------------------------------------------ */

struct mime_level {
	const char *boundary; /* into msg or into owned */
	size_t blen;
	char *owned;
	unsigned parts; /* delimiters seen */
};

struct mime_scan {
	struct mime_level stack[MIME_DEPTH_MAX];
	size_t depth;
	bool in_header;
	bool body_empty; /* no line since the current part header ended */
	const char *hdr_start;
};

static void
mime_scan_free(struct mime_scan *sc)
{
	for (size_t i = 0; i < sc->depth; i++)
		free(sc->stack[i].owned);
	sc->depth = 0;
}

static void
mime_scan_pop_to(struct mime_scan *sc, size_t depth)
{
	while (sc->depth > depth) {
		sc->depth--;
		free(sc->stack[sc->depth].owned);
		sc->stack[sc->depth].owned = NULL;
	}
}

/*
 * A part header ended at hdr_end: enter its multipart, or its embedded
 * message's header (message/rfc822), or its body.
 */
static enum e2_status
mime_scan_header_end(struct mime_scan *sc, const char *hdr_end,
		     struct e2_err *err)
{
	char *ct = NULL, *b = NULL;
	bool found = false;
	enum e2_status rc;

	rc = mime_header_get(sc->hdr_start, (size_t)(hdr_end - sc->hdr_start),
			     "Content-Type", &found, &ct, err);
	sc->in_header = false;
	sc->body_empty = true;
	if (rc != E2_OK || !found)
		return rc;
	if (strncasecmp(ct, "multipart/", 10) == 0) {
		rc = mime_param_get(ct, "boundary", &found, &b, err);
		if (rc == E2_OK && found && b[0] != '\0' &&
		    sc->depth < MIME_DEPTH_MAX) {
			struct mime_level *l = &sc->stack[sc->depth++];

			l->owned = b;
			l->boundary = b;
			l->blen = strlen(b);
			l->parts = 0;
			b = NULL;
		}
	} else if (strncasecmp(ct, "message/rfc822", 14) == 0 &&
		   (ct[14] == '\0' || ct[14] == ';' || mime_is_wsp(ct[14]))) {
		sc->in_header = true;
		sc->hdr_start = hdr_end;
	}
	free(b);
	free(ct);
	return rc;
}

/* One complete line [p, eol) of the body or of a part header. */
static enum e2_status
mime_scan_line(struct mime_scan *sc, const char *p, const char *eol,
	       struct e2_err *err)
{
	size_t n = (size_t)(eol - p);

	sc->body_empty = false;
	if (n >= 2 && p[0] == '-' && p[1] == '-') {
		for (size_t i = sc->depth; i-- > 0;) {
			struct mime_level *l = &sc->stack[i];
			const char *r = p + 2 + l->blen;

			if (n < 2 + l->blen ||
			    memcmp(p + 2, l->boundary, l->blen) != 0)
				continue;
			if (r + 1 < eol && r[0] == '-' && r[1] == '-') {
				mime_scan_pop_to(sc, i);
				sc->in_header = false;
				return E2_OK;
			}
			while (r < eol &&
			       (mime_is_wsp(*r) || *r == '\r' || *r == '\n'))
				r++;
			if (r != eol)
				continue;
			mime_scan_pop_to(sc, i + 1);
			l->parts++;
			sc->in_header = true;
			sc->hdr_start = eol;
			return E2_OK;
		}
	}
	if (sc->in_header && mime_line_empty(p, eol))
		return mime_scan_header_end(sc, eol, err);
	return E2_OK;
}

static enum e2_status
mime_emit(mime_sink_fn sink, void *ctx, const void *buf, size_t len,
	  struct e2_err *err)
{
	if (len == 0)
		return E2_OK;
	return sink(ctx, buf, len, err);
}

static enum e2_status
mime_emit_str(mime_sink_fn sink, void *ctx, const char *s, struct e2_err *err)
{
	return mime_emit(sink, ctx, s, strlen(s), err);
}

/* ---- notes this engine writes into partial messages ------------------- */

/* A growable buffer with the sink shape, for the top header. */
struct mime_buf {
	char *p;
	size_t len, cap;
};

static enum e2_status
mime_buf_sink(void *ctx, const void *buf, size_t len, struct e2_err *err)
{
	struct mime_buf *b = ctx;

	if (len == 0) /* an empty section: b->p may still be NULL */
		return E2_OK;
	if (b->len + len > MIME_HEADER_MAX)
		return e2_fail(err, E2_EPROTO, "message header over %d bytes",
			       MIME_HEADER_MAX);
	if (b->len + len > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->p, cap);
		if (n == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	return E2_OK;
}

/* Appends printf output to b (bounded by MIME_HEADER_MAX). */
static enum e2_status E2_PRINTF(3, 4)
	mime_buf_printf(struct mime_buf *b, struct e2_err *err, const char *fmt,
			...)
{
	char small[512];
	char *big = NULL;
	va_list ap;
	int n;
	enum e2_status rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return e2_fail(err, E2_EINVAL, "note: bad format");
	if ((size_t)n < sizeof(small))
		return mime_buf_sink(b, small, (size_t)n, err);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = mime_buf_sink(b, big, (size_t)n, err);
	free(big);
	return rc;
}

/* "300 KB", "2.1 MB", "512 bytes": for people, beside the exact count */
static void
mime_human_size(char *out, size_t outlen, unsigned long long n)
{
	if (n < 1024)
		(void)snprintf(out, outlen, "%llu byte%s", n,
			       n == 1 ? "" : "s");
	else if (n < 1024ULL * 1024)
		(void)snprintf(out, outlen, "%llu KB", (n + 512) / 1024);
	else
		(void)snprintf(out, outlen, "%.1f MB",
			       (double)n / (1024.0 * 1024.0));
}

/* Printable ASCII, none of the bytes in bad; NULL and "" count as plain. */
static bool
mime_is_plain(const char *s, const char *bad)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e ||
		    strchr(bad, *s) != NULL)
			return false;
	return true;
}

/* RFC 2045 5.1 token: no SPACE, CTL or tspecial, not empty */
static bool
mime_is_token(const char *s)
{
	return s != NULL && s[0] != '\0' &&
	       mime_is_plain(s, " ()<>@,;:\\\"/[]?=");
}

/* Input bytes of a name or folder written into a parameter (then "...") */
#define MIME_PARAM_IN_MAX 256

/*
 * Appends ";<eol> attr=value" to b: a quoted string when value is
 * printable ASCII without '"' and '\\' (RFC 2045 5.1), else RFC 2231 4
 * "attr*=utf-8''%XX..." (attribute-char kept, every other byte escaped).
 * A value over MIME_PARAM_IN_MAX bytes is cut and ends in "...".
 */
static enum e2_status
mime_buf_param(struct mime_buf *b, const char *eol, const char *attr,
	       const char *value, struct e2_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	char out[3 * MIME_PARAM_IN_MAX + 8];
	size_t o = 0, n = strlen(value);
	bool cut = n > MIME_PARAM_IN_MAX;

	if (cut)
		n = MIME_PARAM_IN_MAX;
	if (mime_is_plain(value, "\"\\"))
		return mime_buf_printf(b, err, ";%s %s=\"%.*s%s\"", eol, attr,
				       (int)n, value, cut ? "..." : "");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];

		/* RFC 2231 7: attribute-char, minus '*' '\'' '%' */
		if (c > 0x20 && c < 0x7f &&
		    strchr("()<>@,;:\\\"/[]?=*'%", c) == NULL) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return mime_buf_printf(b, err, ";%s %s*=utf-8''%s", eol, attr, out);
}

/* The fetch command of a note: "email2-syncd --account G --fetch-full" */
static void
mime_fetch_cmd(char *out, size_t outlen, const struct mime_origin *origin)
{
	if (origin != NULL && origin->account != NULL &&
	    mime_is_plain(origin->account, " \"\\'$`;&|<>()") &&
	    strlen(origin->account) < 80)
		(void)snprintf(out, outlen,
			       MIME_FETCH_CMD
			       " --account '%s' --fetch-full FILE",
			       origin->account);
	else
		(void)snprintf(out, outlen,
			       MIME_FETCH_CMD " --fetch-full FILE");
}

/* The lines after the command, the same in every note. */
#define MIME_NOTE_FILE                                                         \
	"where FILE is this message's file in the Maildir (its name is "       \
	"enough)."

/*
 * The RETRIEVE note, a whole part: "--boundary" line, header, text; ends
 * with eol (the delimiter that follows takes it).
 */
static enum e2_status
mime_emit_trunc_note(const char *boundary, const char *eol,
		     unsigned long long orig_size, size_t kept,
		     const struct mime_origin *origin, mime_sink_fn sink,
		     void *ctx, struct e2_err *err)
{
	struct mime_buf b = {0};
	char cmd[160], hs[32];
	enum e2_status rc;

	mime_fetch_cmd(cmd, sizeof(cmd), origin);
	mime_human_size(hs, sizeof(hs), orig_size);
	rc = mime_buf_printf(
		&b, err,
		"--%s%s"
		"Content-Type: text/plain; charset=us-ascii%s"
		"Content-Transfer-Encoding: 7bit%s"
		"Content-Disposition: inline%s"
		"Content-Description: email2: incomplete message%s"
		"%s"
		"[email2] This message is incomplete: only its first %zu of "
		"%llu bytes%s(%s) were downloaded, as the account's RETRIEVE "
		"limit says.%s"
		"The rest is still on the server. To fetch the whole message, "
		"run:%s%s  %s%s%s" MIME_NOTE_FILE "%s%s",
		boundary, eol, eol, eol, eol, eol, eol, kept, orig_size, eol,
		hs, eol, eol, eol, cmd, eol, eol, eol, eol);
	if (rc == E2_OK)
		rc = mime_emit(sink, ctx, b.p, b.len, err);
	free(b.p);
	return rc;
}

/* Which fields of a top header mime_emit_header_filtered() writes. */
enum mime_hdr_keep {
	MIME_HDR_KEEP_OTHER,   /* all but Content-* and MIME-Version */
	MIME_HDR_KEEP_CONTENT, /* only Content-Type/-Transfer-Encoding/-Disp. */
};

/*
 * The fields of header h (len bytes, up to its final empty line, which is
 * not written) that keep selects, continuation lines with their field.
 */
static enum e2_status
mime_emit_header_filtered(const char *h, size_t len, enum mime_hdr_keep keep,
			  mime_sink_fn sink, void *ctx, struct e2_err *err)
{
	static const char *const content[] = {
		"content-type:", "content-transfer-encoding:",
		"content-disposition:"};
	static const char version[] = "mime-version:";
	const char *p = h, *end;
	bool skipping = false;
	enum e2_status rc = E2_OK;

	if (len == 0) /* an empty HEADER section: h may be NULL */
		return E2_OK;
	end = h + len;

	while (rc == E2_OK && p < end) {
		const char *eol = mime_line_end(p, end);

		if (eol == NULL)
			eol = end;
		if (mime_line_empty(p, eol))
			break;
		if (!mime_is_wsp(*p)) {
			bool is_content = false;

			for (size_t i = 0; i < 3; i++)
				if ((size_t)(eol - p) >= strlen(content[i]) &&
				    strncasecmp(p, content[i],
						strlen(content[i])) == 0)
					is_content = true;
			skipping = keep == MIME_HDR_KEEP_OTHER ? is_content
							       : !is_content;
			if ((size_t)(eol - p) >= sizeof(version) - 1 &&
			    strncasecmp(p, version, sizeof(version) - 1) == 0)
				skipping = true;
		}
		if (!skipping)
			rc = mime_emit(sink, ctx, p, (size_t)(eol - p), err);
		p = eol;
	}
	return rc;
}

/* "--boundary--" and eol */
static enum e2_status
mime_emit_close(const char *b, size_t blen, const char *eol, mime_sink_fn sink,
		void *ctx, struct e2_err *err)
{
	enum e2_status rc = mime_emit_str(sink, ctx, "--", err);

	if (rc == E2_OK)
		rc = mime_emit(sink, ctx, b, blen, err);
	if (rc == E2_OK)
		rc = mime_emit_str(sink, ctx, "--", err);
	if (rc == E2_OK)
		rc = mime_emit_str(sink, ctx, eol, err);
	return rc;
}

/* Closes the innermost open multipart (after an empty part if it had none) */
static enum e2_status
mime_trunc_close(struct mime_scan *sc, const char *eol, mime_sink_fn sink,
		 void *ctx, struct mime_trunc_info *info, struct e2_err *err)
{
	struct mime_level *l = &sc->stack[sc->depth - 1];
	enum e2_status rc = E2_OK;

	if (l->parts == 0) {
		rc = mime_emit_str(sink, ctx, "--", err);
		if (rc == E2_OK)
			rc = mime_emit(sink, ctx, l->boundary, l->blen, err);
		/* An empty header, an empty body, the delimiter's EOL. */
		for (int k = 0; rc == E2_OK && k < 3; k++)
			rc = mime_emit_str(sink, ctx, eol, err);
	}
	if (rc == E2_OK)
		rc = mime_emit_close(l->boundary, l->blen, eol, sink, ctx, err);
	info->closed++;
	mime_scan_pop_to(sc, sc->depth - 1);
	return rc;
}

/* Whether the top header's Content-Type is multipart/mixed. */
static enum e2_status
mime_top_is_mixed(const char *msg, size_t hl, bool *mixed_out,
		  struct e2_err *err)
{
	char *ct = NULL;
	bool found = false;
	enum e2_status rc;

	rc = mime_header_get(msg, hl, "Content-Type", &found, &ct, err);
	*mixed_out = rc == E2_OK && found &&
		     strncasecmp(ct, "multipart/mixed", 15) == 0 &&
		     (ct[15] == '\0' || ct[15] == ';' || mime_is_wsp(ct[15]));
	free(ct);
	return rc;
}

/* A wrapper boundary that no line of msg starts with (RFC 2046 5.1.1) */
static void
mime_wrap_boundary(char *out, size_t outlen, const char *msg, size_t len,
		   size_t kept)
{
	for (unsigned n = 0;; n++) {
		(void)snprintf(out, outlen, "=_email2-partial-%zu-%u", kept, n);
		if (memmem(msg, len, out, strlen(out)) == NULL)
			return;
	}
}

/*
 * The wrapper's fields and its first part's header (the original Content-*
 * fields) up to, not including, the empty line that ends it.
 */
static enum e2_status
mime_emit_wrap_open(const char *wb, const char *eol, const char *msg,
		    size_t hdr_fields, mime_sink_fn sink, void *ctx,
		    struct e2_err *err)
{
	struct mime_buf b = {0};
	enum e2_status rc;

	rc = mime_buf_printf(&b, err,
			     "Content-Type: multipart/mixed; boundary=\"%s\"%s"
			     "%s--%s%s",
			     wb, eol, eol, wb, eol);
	if (rc == E2_OK)
		rc = mime_emit(sink, ctx, b.p, b.len, err);
	free(b.p);
	if (rc == E2_OK)
		rc = mime_emit_header_filtered(
			msg, hdr_fields, MIME_HDR_KEEP_CONTENT, sink, ctx, err);
	return rc;
}

enum e2_status
mime_truncate(const char *msg, size_t len, size_t limit,
	      unsigned long long orig_size, const struct mime_origin *origin,
	      mime_sink_fn sink, void *sink_ctx,
	      struct mime_trunc_info *info_out, struct e2_err *err)
{
	struct mime_trunc_info info = {0};
	struct mime_scan sc = {0};
	const char *eol_s, *p, *cut, *eol;
	size_t hl, hdr_fields, lim;
	enum e2_status rc = E2_OK;
	char line[160], wrap_b[64];
	bool complete, top_open, wrap;

	if (limit == 0)
		return e2_fail(err, E2_EINVAL, "truncation limit is 0");
	if (orig_size <= limit && len >= orig_size) {
		info.kept = len;
		info.header_complete = true;
		rc = mime_emit(sink, sink_ctx, msg, len, err);
		goto out;
	}
	p = memchr(msg, '\n', len);
	eol_s = p != NULL && p > msg && p[-1] == '\r' ? "\r\n" : "\n";
	hl = mime_header_len(msg, len, &complete);
	info.header_complete = complete;
	/* The header's own fields, without the empty line that ends it. */
	hdr_fields = hl;
	if (complete) {
		hdr_fields--;
		if (hdr_fields > 0 && msg[hdr_fields - 1] == '\r')
			hdr_fields--;
	}
	/* Body: complete lines within limit (header counted). */
	cut = msg + hl;
	lim = limit < len ? limit : len;
	if (complete && hl < lim) {
		const char *nl = NULL;

		for (const char *q = msg + lim; q > msg + hl; q--) {
			if (q[-1] == '\n') {
				nl = q;
				break;
			}
		}
		if (nl != NULL)
			cut = nl;
	}
	info.kept = (size_t)(cut - msg);
	info.truncated = true;

	/* Find what is open at the cut: the top header decides first. */
	sc.hdr_start = msg;
	rc = mime_scan_header_end(&sc, msg + hl, err);
	top_open = rc == E2_OK && sc.depth == 1; /* stack[0] is the top */
	for (p = msg + hl; rc == E2_OK && p < cut; p = eol) {
		eol = mime_line_end(p, cut);
		if (eol == NULL)
			break;
		rc = mime_scan_line(&sc, p, eol, err);
	}
	if (rc == E2_OK && top_open && sc.depth >= 1)
		rc = mime_top_is_mixed(msg, hl, &top_open, err);
	if (rc != E2_OK)
		goto out;
	/* The note: the last part of an open multipart/mixed, else a wrapper
	 * (mime.h says why). */
	wrap = !(top_open && sc.depth >= 1);
	if (wrap)
		mime_wrap_boundary(wrap_b, sizeof(wrap_b), msg,
				   (size_t)(cut - msg), info.kept);
	(void)snprintf(line, sizeof(line),
		       MIME_PARTIAL_HEADER ": %llu bytes; truncated at %zu%s",
		       orig_size, info.kept, eol_s);
	if (!wrap) {
		rc = mime_emit(sink, sink_ctx, msg, hdr_fields, err);
		if (rc == E2_OK)
			rc = mime_emit_str(sink, sink_ctx, line, err);
	} else {
		rc = mime_emit_header_filtered(msg, hdr_fields,
					       MIME_HDR_KEEP_OTHER, sink,
					       sink_ctx, err);
		if (rc == E2_OK)
			rc = mime_emit_str(sink, sink_ctx, "MIME-Version: 1.0",
					   err);
		if (rc == E2_OK)
			rc = mime_emit_str(sink, sink_ctx, eol_s, err);
		if (rc == E2_OK)
			rc = mime_emit_str(sink, sink_ctx, line, err);
		if (rc == E2_OK)
			rc = mime_emit_wrap_open(wrap_b, eol_s, msg, hdr_fields,
						 sink, sink_ctx, err);
	}
	if (rc == E2_OK)
		rc = mime_emit_str(sink, sink_ctx, eol_s, err);
	if (rc == E2_OK)
		rc = mime_emit(sink, sink_ctx, msg + hl,
			       (size_t)(cut - msg) - hl, err);
	if (rc == E2_OK && sc.in_header) {
		/* End the header; the next EOL is the delimiter's own. */
		rc = mime_emit_str(sink, sink_ctx, eol_s, err);
		if (rc == E2_OK && sc.depth > 0)
			rc = mime_emit_str(sink, sink_ctx, eol_s, err);
		if (rc == E2_OK)
			rc = mime_scan_header_end(&sc, cut, err);
	} else if (rc == E2_OK && sc.body_empty && sc.depth > 0 &&
		   sc.stack[sc.depth - 1].parts > 0) {
		/* A part cut right after its header: keep that empty line,
		 * the delimiter takes an EOL of its own. */
		rc = mime_emit_str(sink, sink_ctx, eol_s, err);
	}
	/* Close what is open; the top multipart/mixed stays for the note. */
	while (rc == E2_OK && sc.depth > (wrap ? 0u : 1u))
		rc = mime_trunc_close(&sc, eol_s, sink, sink_ctx, &info, err);
	if (rc == E2_OK && wrap) {
		/* the wrapped body ends with a line; the delimiter's EOL */
		rc = mime_emit_str(sink, sink_ctx, eol_s, err);
		if (rc == E2_OK)
			rc = mime_emit_trunc_note(wrap_b, eol_s, orig_size,
						  info.kept, origin, sink,
						  sink_ctx, err);
		if (rc == E2_OK)
			rc = mime_emit_close(wrap_b, strlen(wrap_b), eol_s,
					     sink, sink_ctx, err);
	} else if (rc == E2_OK) {
		struct mime_level *l = &sc.stack[0];
		char *b = strndup(l->boundary, l->blen);

		if (b == NULL)
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
		if (rc == E2_OK)
			rc = mime_emit_trunc_note(b, eol_s, orig_size,
						  info.kept, origin, sink,
						  sink_ctx, err);
		if (rc == E2_OK)
			rc = mime_emit_close(l->boundary, l->blen, eol_s, sink,
					     sink_ctx, err);
		free(b);
		info.closed++;
		mime_scan_pop_to(&sc, 0);
	}
out:
	mime_scan_free(&sc);
	if (rc == E2_OK && info_out != NULL)
		*info_out = info;
	return rc;
}

struct mime_trunc {
	size_t limit;
	char *buf;
	size_t len, cap;
	size_t scan; /* start of the first header line not yet looked at */
	unsigned long long total;
	bool header_done;
};

enum e2_status
mime_trunc_new(size_t limit, struct mime_trunc **t_out, struct e2_err *err)
{
	struct mime_trunc *t;

	if (limit == 0)
		return e2_fail(err, E2_EINVAL, "truncation limit is 0");
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	t->limit = limit;
	*t_out = t;
	return E2_OK;
}

/* Keep one byte past the limit: it tells "more came" from "exactly". */
static size_t
mime_trunc_want(const struct mime_trunc *t)
{
	if (t->header_done || t->limit + 1 >= MIME_HEADER_MAX)
		return t->limit + 1;
	return MIME_HEADER_MAX;
}

bool
mime_trunc_full(const struct mime_trunc *t)
{
	return t->len >= mime_trunc_want(t);
}

void
mime_marks(const char *msg, size_t len, bool *partial_out, bool *omitted_out)
{
	static const char om[] = MIME_OMITTED_HEADER ":";
	bool complete = false, partial = false, omitted = false;
	size_t hlen = mime_header_len(msg, len, &complete);

	for (size_t i = 0; i < len; i++) {
		bool bol = i == 0 || msg[i - 1] == '\n';

		if (!bol)
			continue;
		if (i < hlen && len - i >= sizeof(MIME_PARTIAL_HEADER) &&
		    strncasecmp(msg + i, MIME_PARTIAL_HEADER ":",
				sizeof(MIME_PARTIAL_HEADER)) == 0)
			partial = true;
		if (len - i >= sizeof(om) - 1 &&
		    strncasecmp(msg + i, om, sizeof(om) - 1) == 0)
			omitted = true;
	}
	if (partial_out != NULL)
		*partial_out = partial;
	if (omitted_out != NULL)
		*omitted_out = omitted;
}

size_t
mime_trunc_room(const struct mime_trunc *t)
{
	size_t want = mime_trunc_want(t);

	return t->len >= want ? 0 : want - t->len;
}

enum e2_status
mime_trunc_write(void *ctx, const void *buf, size_t len, struct e2_err *err)
{
	struct mime_trunc *t = ctx;
	size_t want = mime_trunc_want(t);

	t->total += len;
	if (t->len >= want)
		return E2_OK;
	if (len > want - t->len)
		len = want - t->len;
	if (t->len + len > t->cap) {
		size_t cap = t->cap == 0 ? 8192 : t->cap;
		char *nb;

		while (cap < t->len + len)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (nb == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, buf, len);
	t->len += len;
	while (!t->header_done) {
		const char *p = t->buf + t->scan;
		const char *eol = mime_line_end(p, t->buf + t->len);

		if (eol == NULL)
			break;
		t->header_done = mime_line_empty(p, eol);
		t->scan = (size_t)(eol - t->buf);
	}
	return E2_OK;
}

enum e2_status
mime_trunc_finish(struct mime_trunc *t, unsigned long long orig_size,
		  const struct mime_origin *origin, mime_sink_fn sink,
		  void *sink_ctx, struct mime_trunc_info *info_out,
		  struct e2_err *err)
{
	if (orig_size == 0 || orig_size < t->total)
		orig_size = t->total;
	return mime_truncate(t->buf != NULL ? t->buf : "", t->len, t->limit,
			     orig_size, origin, sink, sink_ctx, info_out, err);
}

void
mime_trunc_free(struct mime_trunc **t)
{
	if (t == NULL || *t == NULL)
		return;
	free((*t)->buf);
	free(*t);
	*t = NULL;
}

/* ---- KEEPMAX ------------------------------------------------------------- */

static void
mime_part_clear(struct mime_part *p)
{
	for (size_t i = 0; i < p->n_children; i++)
		mime_part_clear(&p->children[i]);
	free(p->children);
	free(p->number);
	free(p->type);
	free(p->subtype);
	free(p->boundary);
	free(p->disposition);
	free(p->filename);
	free(p->encoding);
}

void
mime_part_free(struct mime_part **root)
{
	if (root == NULL || *root == NULL)
		return;
	mime_part_clear(*root);
	free(*root);
	*root = NULL;
}

static bool
mime_part_is(const struct mime_part *p, const char *type, const char *sub)
{
	return p->type != NULL && strcasecmp(p->type, type) == 0 &&
	       (sub == NULL ||
		(p->subtype != NULL && strcasecmp(p->subtype, sub) == 0));
}

static bool
mime_part_is_container(const struct mime_part *p)
{
	return p->n_children > 0 && !mime_part_is(p, "message", "rfc822");
}

struct mime_plan {
	unsigned long long max;
	bool seen_plain, seen_html;
	size_t omitted;
};

static void
mime_plan_walk(struct mime_part *p, struct mime_plan *pl)
{
	bool attachment;

	p->omit = false;
	if (mime_part_is_container(p)) {
		for (size_t i = 0; i < p->n_children; i++)
			mime_plan_walk(&p->children[i], pl);
		return;
	}
	attachment = p->disposition != NULL &&
		     strcasecmp(p->disposition, "attachment") == 0;
	if (!attachment && !pl->seen_plain &&
	    mime_part_is(p, "text", "plain")) {
		pl->seen_plain = true;
		return;
	}
	if (!attachment && !pl->seen_html && mime_part_is(p, "text", "html")) {
		pl->seen_html = true;
		return;
	}
	if (pl->max > 0 && p->size > pl->max) {
		p->omit = true;
		pl->omitted++;
	}
}

size_t
mime_plan_keepmax(struct mime_part *root, unsigned long long max_bytes)
{
	struct mime_plan pl = {.max = max_bytes};

	mime_plan_walk(root, &pl);
	return pl.omitted;
}

/* Headers and placeholder text are small: a generous fixed estimate. */
#define MIME_PART_OVERHEAD 1600ULL

unsigned long long
mime_plan_size(const struct mime_part *root, size_t header_len)
{
	unsigned long long n = header_len;

	if (mime_part_is_container(root)) {
		for (size_t i = 0; i < root->n_children; i++)
			n += mime_plan_size(&root->children[i], 0) + 100ULL;
		return n;
	}
	return n + (root->omit ? MIME_PART_OVERHEAD : root->size);
}

/*
 * %XX outside printable ASCII and for '"', '\\', '%', into out (outlen
 * bytes, NUL included). A value that does not fit is cut at a whole
 * escape and ends in "..." (so out needs at least 4 bytes): placeholder
 * fields come from the server and are shortened, never a reason to fail.
 */
static void
mime_escape(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	assert(outlen >= 4);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = c < 0x20 || c > 0x7e || c == '"' || c == '\\' ||
					      c == '%'
				      ? 3
				      : 1;

		/* room for this byte, and for "..." should more follow */
		/* what was written left room for "..." (o + 3 < outlen) */
		if (o + need + (s[1] != '\0' ? 3 : 0) >= outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 3) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/*
 * Field caps of a placeholder (escaped bytes, "..." included): with
 * MIME_PARAM_IN_MAX (RFC 2231 triples it) every header line stays far
 * below RFC 5322's 998 bytes, whatever the server said.
 */
#define MIME_PH_NUMBER 48
#define MIME_PH_TYPE 128
#define MIME_PH_NAME 256

unsigned long long
mime_part_decoded_size(const struct mime_part *p)
{
	unsigned long long lines, chars;

	if (p->encoding == NULL || strcasecmp(p->encoding, "base64") != 0)
		return p->size;
	/* RFC 2045 6.8: 76 characters and CRLF a line, 3 octets in 4 */
	lines = (p->size + 77) / 78;
	chars = p->size > 2 * lines ? p->size - 2 * lines : 0;
	return chars / 4 * 3;
}

/*
 * The text of a placeholder: what was left, how big, how to fetch it.
 * Its name is mime_escape()d: this is 7bit text.
 */
static enum e2_status
mime_placeholder_text(struct mime_buf *b, const struct mime_part *p,
		      const char *number, const char *type, const char *name,
		      const struct mime_origin *origin, struct e2_err *err)
{
	unsigned long long dsize = mime_part_decoded_size(p);
	char cmd[160], hs[32];

	mime_fetch_cmd(cmd, sizeof(cmd), origin);
	mime_human_size(hs, sizeof(hs), dsize);
	return mime_buf_printf(
		b, err,
		"[email2] Part %s (%s%s%s%s, about %s: %llu bytes)\r\n"
		"was not downloaded: it is larger than the account's KEEPMAX "
		"limit.\r\n"
		"It is still on the server. To fetch the whole message, "
		"run:\r\n\r\n"
		"  %s\r\n\r\n" MIME_NOTE_FILE "\r\n",
		number, type, name[0] != '\0' ? ", \"" : "", name,
		name[0] != '\0' ? "\"" : "", hs, dsize, cmd);
}

/*
 * An omitted part as message/external-body (mime.h shows the layout),
 * ending with CRLF. Server strings are escaped or RFC 2231-encoded.
 */
static enum e2_status
mime_emit_placeholder(const struct mime_part *p,
		      const struct mime_origin *origin, mime_sink_fn sink,
		      void *ctx, struct e2_err *err)
{
	char number[MIME_PH_NUMBER], type[MIME_PH_TYPE], name[MIME_PH_NAME];
	char ctype[2 * MIME_PH_TYPE + 2], cid[MIME_PH_NUMBER + 64], hs[32];
	const char *fname = p->filename != NULL ? p->filename : "";
	const char *enc = p->encoding;
	unsigned long long dsize = mime_part_decoded_size(p);
	struct mime_buf b = {0};
	enum e2_status rc;
	size_t o;

	mime_escape(number, sizeof(number),
		    p->number != NULL && p->number[0] != '\0' ? p->number
							      : "1");
	mime_escape(type, sizeof(type) / 2, p->type);
	if (p->subtype != NULL) {
		o = strlen(type);
		type[o++] = '/';
		mime_escape(type + o, sizeof(type) - o, p->subtype);
	}
	mime_escape(name, sizeof(name), p->filename);
	/* the phantom Content-Type: the part's own, when it is two tokens */
	if (mime_is_token(p->type) && mime_is_token(p->subtype) &&
	    strlen(p->type) < MIME_PH_TYPE && strlen(p->subtype) < MIME_PH_TYPE)
		(void)snprintf(ctype, sizeof(ctype), "%s/%s", p->type,
			       p->subtype);
	else
		(void)snprintf(ctype, sizeof(ctype),
			       "application/octet-stream");
	/* a Content-ID from the digits and dots of the number only */
	o = (size_t)snprintf(cid, sizeof(cid), "<email2.%lu.",
			     origin != NULL ? origin->uid : 0UL);
	for (const char *q = number; *q != '\0' && o + 32 < sizeof(cid); q++)
		if ((*q >= '0' && *q <= '9') || *q == '.')
			cid[o++] = *q;
	(void)snprintf(cid + o, sizeof(cid) - o, "@email2.invalid>");
	mime_human_size(hs, sizeof(hs), dsize);

	rc = mime_buf_printf(&b, err,
			     "Content-Type: message/external-body;\r\n"
			     " access-type=x-email2");
	if (rc == E2_OK && origin != NULL && origin->account != NULL)
		rc = mime_buf_param(&b, "\r\n", "account", origin->account,
				    err);
	if (rc == E2_OK && origin != NULL && origin->folder != NULL)
		rc = mime_buf_param(&b, "\r\n", "folder", origin->folder, err);
	if (rc == E2_OK && origin != NULL && origin->uid != 0)
		rc = mime_buf_printf(&b, err, ";\r\n uid=%lu", origin->uid);
	if (rc == E2_OK)
		rc = mime_buf_param(&b, "\r\n", "section", number, err);
	if (rc == E2_OK && fname[0] != '\0')
		rc = mime_buf_param(&b, "\r\n", "name", fname, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(&b, err,
				     ";\r\n size=%llu\r\n"
				     "Content-Disposition: attachment",
				     dsize);
	if (rc == E2_OK && fname[0] != '\0')
		rc = mime_buf_param(&b, "\r\n", "filename", fname, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(&b, err,
				     ";\r\n size=%llu\r\n" MIME_OMITTED_HEADER
				     ": %s; type=\"%s\"; name=\"%s\";\r\n"
				     " size=%llu\r\n"
				     "\r\n"
				     "Content-Type: %s",
				     dsize, number, type, name, p->size, ctype);
	if (rc == E2_OK && fname[0] != '\0')
		rc = mime_buf_param(&b, "\r\n", "name", fname, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(&b, err,
				     "\r\nContent-Disposition: attachment");
	if (rc == E2_OK && fname[0] != '\0')
		rc = mime_buf_param(&b, "\r\n", "filename", fname, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(
			&b, err,
			";\r\n size=%llu\r\n"
			"Content-Transfer-Encoding: %s\r\n"
			"Content-ID: %s\r\n"
			"Content-Description: left on the server (KEEPMAX), "
			"about %s\r\n"
			"\r\n",
			dsize, mime_is_token(enc) ? enc : "binary", cid, hs);
	if (rc == E2_OK)
		rc = mime_placeholder_text(&b, p, number, type, name, origin,
					   err);
	if (rc == E2_OK)
		rc = mime_emit(sink, ctx, b.p, b.len, err);
	free(b.p);
	return rc;
}

struct mime_asm {
	mime_fetch_fn fetch;
	void *fetch_ctx;
	const struct mime_origin *origin;
	mime_sink_fn sink;
	void *sink_ctx;
};

static enum e2_status
mime_asm_fetch(struct mime_asm *a, const char *number, const char *suffix,
	       struct e2_err *err)
{
	char section[96];

	if (number[0] == '\0')
		(void)snprintf(section, sizeof(section), "%s", suffix);
	else if (suffix[0] == '\0')
		(void)snprintf(section, sizeof(section), "%s", number);
	else
		(void)snprintf(section, sizeof(section), "%s.%s", number,
			       suffix);
	return a->fetch(a->fetch_ctx, section, a->sink, a->sink_ctx, err);
}

/* The body of p (after its header): children between boundaries, or the
 * leaf's bytes. */
static enum e2_status
mime_asm_body(struct mime_asm *a, const struct mime_part *p, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	if (!mime_part_is_container(p))
		return mime_asm_fetch(a, p->number,
				      p->number[0] == '\0' ? "TEXT" : "", err);
	if (p->boundary == NULL || p->boundary[0] == '\0')
		return e2_fail(err, E2_EPROTO,
			       "multipart part \"%s\" has no boundary",
			       p->number);
	for (size_t i = 0; rc == E2_OK && i < p->n_children; i++) {
		const struct mime_part *c = &p->children[i];

		rc = mime_emit_str(a->sink, a->sink_ctx, "--", err);
		if (rc == E2_OK)
			rc = mime_emit_str(a->sink, a->sink_ctx, p->boundary,
					   err);
		if (rc == E2_OK)
			rc = mime_emit_str(a->sink, a->sink_ctx, "\r\n", err);
		if (rc == E2_OK && c->omit) {
			rc = mime_emit_placeholder(c, a->origin, a->sink,
						   a->sink_ctx, err);
			continue; /* its text ends in CRLF already */
		}
		if (rc == E2_OK)
			rc = mime_asm_fetch(a, c->number, "MIME", err);
		if (rc == E2_OK)
			rc = mime_asm_body(a, c, err);
		if (rc == E2_OK)
			rc = mime_emit_str(a->sink, a->sink_ctx, "\r\n", err);
	}
	if (rc == E2_OK)
		rc = mime_emit_str(a->sink, a->sink_ctx, "--", err);
	if (rc == E2_OK)
		rc = mime_emit_str(a->sink, a->sink_ctx, p->boundary, err);
	if (rc == E2_OK)
		rc = mime_emit_str(a->sink, a->sink_ctx, "--", err);
	return rc;
}

enum e2_status
mime_plan_check(const struct mime_part *root, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	if (!mime_part_is_container(root) || root->omit)
		return E2_OK;
	if (root->boundary == NULL || root->boundary[0] == '\0')
		return e2_fail(err, E2_EPROTO,
			       "multipart part \"%s\" has no boundary",
			       root->number);
	for (size_t i = 0; rc == E2_OK && i < root->n_children; i++)
		if (!root->children[i].omit)
			rc = mime_plan_check(&root->children[i], err);
	return rc;
}

/* The boundary of a message whose root was omitted (mime_assemble()) */
#define MIME_ROOT_BOUNDARY "=_email2-omitted"

enum e2_status
mime_assemble(const struct mime_part *root, mime_fetch_fn fetch,
	      void *fetch_ctx, const struct mime_origin *origin,
	      mime_sink_fn sink, void *sink_ctx, struct e2_err *err)
{
	struct mime_asm a = {fetch, fetch_ctx, origin, sink, sink_ctx};
	struct mime_buf hdr = {0}, note = {0};
	char number[MIME_PH_NUMBER], type[MIME_PH_TYPE], name[MIME_PH_NAME];
	enum e2_status rc;
	size_t o;

	if (!root->omit) {
		rc = fetch(fetch_ctx, "HEADER", sink, sink_ctx, err);
		if (rc == E2_OK)
			rc = mime_asm_body(&a, root, err);
		if (rc == E2_OK && mime_part_is_container(root))
			rc = mime_emit_str(sink, sink_ctx, "\r\n", err);
		return rc;
	}
	/* A single part left: multipart/mixed of the note and the part, so
	 * that clients list it as an attachment. */
	mime_escape(number, sizeof(number), "1");
	mime_escape(type, sizeof(type) / 2, root->type);
	if (root->subtype != NULL) {
		o = strlen(type);
		type[o++] = '/';
		mime_escape(type + o, sizeof(type) - o, root->subtype);
	}
	mime_escape(name, sizeof(name), root->filename);
	rc = fetch(fetch_ctx, "HEADER", mime_buf_sink, &hdr, err);
	if (rc == E2_OK)
		rc = mime_emit_header_filtered(hdr.p, hdr.len,
					       MIME_HDR_KEEP_OTHER, sink,
					       sink_ctx, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(
			&note, err,
			"MIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; "
			"boundary=\"" MIME_ROOT_BOUNDARY "\"\r\n"
			"\r\n"
			"--" MIME_ROOT_BOUNDARY "\r\n"
			"Content-Type: text/plain; charset=us-ascii\r\n"
			"Content-Transfer-Encoding: 7bit\r\n"
			"Content-Disposition: inline\r\n"
			"\r\n");
	if (rc == E2_OK)
		rc = mime_placeholder_text(&note, root, number, type, name,
					   origin, err);
	if (rc == E2_OK)
		rc = mime_buf_printf(&note, err,
				     "\r\n--" MIME_ROOT_BOUNDARY "\r\n");
	if (rc == E2_OK)
		rc = mime_emit(sink, sink_ctx, note.p, note.len, err);
	if (rc == E2_OK)
		rc = mime_emit_placeholder(root, origin, sink, sink_ctx, err);
	if (rc == E2_OK)
		rc = mime_emit_str(sink, sink_ctx,
				   "\r\n--" MIME_ROOT_BOUNDARY "--\r\n", err);
	free(note.p);
	free(hdr.p);
	return rc;
}
