/* SPDX-License-Identifier: MIT */
/* outbox_scan.c -- a queued message -> its recipients and the bytes sent */
#include "config.h"

#include "outbox_scan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

/* The rules are in outbox_scan.h; this file is pure (no I/O). */

static enum e2_status
outbox_scan_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

bool
outbox_addr_ok(const char *s)
{
	const char *at = strrchr(s, '@');
	bool quoted = s[0] == '"';

	if (at == NULL || at == s || at[1] == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || ch == '<' || ch == '>')
			return false;
		if (ch == '@' && p != at && !quoted)
			return false;
	}
	for (const char *p = at + 1; *p != '\0'; p++)
		if (!(*p == '.' || *p == '-' || *p == '[' || *p == ']' ||
		      *p == ':' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return at[1] != '.' && at[strlen(at) - 1] != '.';
}

/* ---- step 1: line ends ------------------------------------------------- */

/*
 * buf with every CRLF, bare LF and bare CR as CRLF, into *out_out (NUL-
 * terminated, caller frees). E2_EINVAL at the first NUL byte.
 */
static enum e2_status
outbox_scan_normalise(const char *buf, size_t len, char **out_out,
		      size_t *len_out, bool *eightbit_out, struct e2_err *err)
{
	size_t extra = 0, n = 0;
	bool eightbit = false;
	char *out;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\0')
			return e2_fail(err, E2_EINVAL,
				       "message has a NUL byte at offset %zu: "
				       "SMTP cannot carry it",
				       i);
		if (ch >= 0x80)
			eightbit = true;
		if (ch == '\n' ||
		    (ch == '\r' && (i + 1 == len || buf[i + 1] != '\n')))
			extra++;
	}
	if (len > (SIZE_MAX - 1) / 2)
		return outbox_scan_oom(err);
	out = malloc(len + extra + 1);
	if (out == NULL)
		return outbox_scan_oom(err);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' || buf[i] == '\n') {
			if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
				i++;
			out[n++] = '\r';
			out[n++] = '\n';
			continue;
		}
		out[n++] = buf[i];
	}
	out[n] = '\0';
	*out_out = out;
	*len_out = n;
	*eightbit_out = eightbit;
	return E2_OK;
}

/* ---- step 2 and 3: fields ---------------------------------------------- */

/* One field of a normalised header: [start, end) with its CRLFs. */
struct outbox_field {
	size_t start, end;
	const char *name; /* NULL for a line without a colon */
	size_t name_len;  /* trailing white space and folding dropped */
	const char *val;  /* after the colon, up to end */
	size_t val_len;
};

static size_t
outbox_scan_line_end(const char *h, size_t len, size_t p)
{
	const char *nl = memchr(h + p, '\n', len - p);

	return nl != NULL ? (size_t)(nl - h) + 1 : len;
}

/*
 * The header's length in a normalised message: up to and including the
 * empty line, or all of it.
 */
static size_t
outbox_scan_header_len(const char *m, size_t len)
{
	size_t p = 0;

	while (p < len) {
		if (m[p] == '\r' && p + 1 < len && m[p + 1] == '\n')
			return p + 2;
		p = outbox_scan_line_end(m, len, p);
	}
	return len;
}

/* The field at *pos of header h (hlen bytes); false at its end. */
static bool
outbox_scan_field(const char *h, size_t hlen, size_t *pos,
		  struct outbox_field *f)
{
	size_t p = *pos, e;
	const char *colon;

	if (p >= hlen || h[p] == '\r')
		return false; /* the end, or the empty line */
	e = outbox_scan_line_end(h, hlen, p);
	while (e < hlen && (h[e] == ' ' || h[e] == '\t'))
		e = outbox_scan_line_end(h, hlen, e);
	memset(f, 0, sizeof(*f));
	f->start = p;
	f->end = e;
	colon = memchr(h + p, ':', e - p);
	if (colon != NULL) {
		size_t n = (size_t)(colon - (h + p));

		while (n > 0 && strchr(" \t\r\n", h[p + n - 1]) != NULL)
			n--;
		f->name = h + p;
		f->name_len = n;
		f->val = colon + 1;
		f->val_len = e - (size_t)(colon + 1 - h);
	}
	*pos = e;
	return true;
}

/* name without case; a field's name may contain folding (see rule 3) */
static bool
outbox_field_is(const struct outbox_field *f, const char *name)
{
	size_t n = strlen(name), k = 0;

	if (f->name == NULL)
		return false;
	for (size_t i = 0; i < f->name_len; i++) {
		char ch = f->name[i];

		if (k == n || ch == '\r' || ch == '\n' || ch == ' ' ||
		    ch == '\t' || (ch | 0x20) != (name[k] | 0x20))
			return false;
		k++;
	}
	return k == n;
}

/* ---- step 4: addresses ------------------------------------------------- */

static enum e2_status
outbox_rcpt_add(struct outbox_scan *s, const char *addr, struct e2_err *err)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (strcasecmp(s->rcpt[i], addr) == 0)
			return E2_OK;
	if (s->nrcpt == s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 8;
		char **v = realloc(s->rcpt, cap * sizeof(*v));

		if (v == NULL)
			return outbox_scan_oom(err);
		s->rcpt = v;
		s->cap = cap;
	}
	s->rcpt[s->nrcpt] = strdup(addr);
	if (s->rcpt[s->nrcpt] == NULL)
		return outbox_scan_oom(err);
	s->nrcpt++;
	return E2_OK;
}

static enum e2_status
outbox_mailbox_add(struct outbox_scan *s, const char *field, const char *raw,
		   const struct mailimf_mailbox *mb, struct e2_err *err)
{
	const char *spec = mb->mb_addr_spec;
	char q[160];

	/* libetpan drops white space inside an addr-spec: it must be there
	 * verbatim, or the address we would use is not the one written */
	if (spec == NULL || !outbox_addr_ok(spec) || strstr(raw, spec) == NULL)
		return e2_fail(err, E2_EINVAL, "%s: bad address \"%s\"", field,
			       e2_quote(q, sizeof(q), spec != NULL ? spec : "",
					spec != NULL ? strlen(spec) : 0));
	return outbox_rcpt_add(s, spec, err);
}

/* Adds the addresses of one To/Cc/Bcc value (unfolded, NUL-terminated). */
static enum e2_status
outbox_parse_list(struct outbox_scan *s, const char *field, const char *v,
		  struct e2_err *err)
{
	size_t len = strlen(v), i = 0;
	enum e2_status rc = E2_OK;
	char q[160];

	for (;;) {
		struct mailimf_address_list *l = NULL;
		size_t at;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i >= len)
			break;
		at = i;
		if (mailimf_address_list_parse(v, len, &i, &l) !=
			    MAILIMF_NO_ERROR ||
		    i <= at) {
			/* libetpan's free does not take NULL (a failed
			 * parse leaves none): found by fuzz_outbox_scan */
			if (l != NULL)
				mailimf_address_list_free(l);
			return e2_fail(
				err, E2_EINVAL, "%s: cannot parse \"%s\"",
				field,
				e2_quote(q, sizeof(q), v + at, len - at));
		}
		for (clistiter *it = clist_begin(l->ad_list);
		     it != NULL && rc == E2_OK; it = clist_next(it)) {
			struct mailimf_address *a = clist_content(it);
			struct mailimf_mailbox_list *g;

			if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
				rc = outbox_mailbox_add(s, field, v,
							a->ad_data.ad_mailbox,
							err);
				continue;
			}
			g = a->ad_data.ad_group->grp_mb_list;
			if (g == NULL)
				continue; /* "undisclosed-recipients:;" */
			for (clistiter *j = clist_begin(g->mb_list);
			     j != NULL && rc == E2_OK; j = clist_next(j))
				rc = outbox_mailbox_add(s, field, v,
							clist_content(j), err);
		}
		mailimf_address_list_free(l);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

/* The value of f unfolded (CR and LF dropped), NUL-terminated. */
static char *
outbox_unfold(const struct outbox_field *f)
{
	char *v = malloc(f->val_len + 1);
	size_t n = 0;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < f->val_len; i++)
		if (f->val[i] != '\r' && f->val[i] != '\n')
			v[n++] = f->val[i];
	v[n] = '\0';
	return v;
}

/* ---- the scan ---------------------------------------------------------- */

void
outbox_scan_free(struct outbox_scan *scan)
{
	if (scan == NULL)
		return;
	free(scan->wire);
	for (size_t i = 0; i < scan->nrcpt; i++)
		free(scan->rcpt[i]);
	free(scan->rcpt);
	memset(scan, 0, sizeof(*scan));
}

enum e2_status
outbox_scan(const char *buf, size_t len, struct outbox_scan *scan_out,
	    struct e2_err *err)
{
	return outbox_scan_ex(buf, len, true, scan_out, err);
}

enum e2_status
outbox_scan_ex(const char *buf, size_t len, bool need_rcpt,
	       struct outbox_scan *scan_out, struct e2_err *err)
{
	static const char *const lists[] = {"To", "Cc", "Bcc"};
	struct outbox_scan s = {0};
	struct outbox_field f;
	char *m = NULL;
	size_t mlen = 0, hlen, pos = 0, w = 0;
	enum e2_status rc;

	memset(scan_out, 0, sizeof(*scan_out));
	rc = outbox_scan_normalise(buf, len, &m, &mlen, &s.eightbit, err);
	if (rc != E2_OK)
		goto out;
	hlen = outbox_scan_header_len(m, mlen);
	if (hlen > 0 && (m[0] == ' ' || m[0] == '\t')) {
		rc = e2_fail(err, E2_EINVAL,
			     "the header starts with white space (a "
			     "continuation line without a field)");
		goto out;
	}
	/* fields are compacted in place: the Bcc ones leave the copy */
	while (rc == E2_OK && outbox_scan_field(m, hlen, &pos, &f)) {
		bool drop = outbox_field_is(&f, "Bcc") ||
			    outbox_field_is(&f, "Resent-Bcc");

		if (outbox_field_is(&f, "From"))
			s.has_from = true;
		else if (outbox_field_is(&f, "Date"))
			s.has_date = true;
		else if (outbox_field_is(&f, "Message-ID"))
			s.has_msgid = true;
		for (size_t k = 0; k < 3 && rc == E2_OK; k++) {
			char *v;

			if (!outbox_field_is(&f, lists[k]))
				continue;
			v = outbox_unfold(&f);
			if (v == NULL) {
				rc = outbox_scan_oom(err);
				break;
			}
			rc = outbox_parse_list(&s, lists[k], v, err);
			free(v);
		}
		if (drop)
			continue;
		memmove(m + w, m + f.start, f.end - f.start);
		w += f.end - f.start;
	}
	if (rc != E2_OK)
		goto out;
	memmove(m + w, m + pos, mlen - pos);
	mlen -= pos - w;
	m[mlen] = '\0';
	if (s.nrcpt == 0 && need_rcpt) {
		rc = e2_fail(err, E2_EINVAL,
			     "no recipient: To, Cc and Bcc name nobody");
		goto out;
	}
	s.wire = m;
	s.wire_len = mlen;
	m = NULL;
	*scan_out = s;
	memset(&s, 0, sizeof(s));
out:
	free(m);
	outbox_scan_free(&s);
	return rc;
}

/* ---- sendmail's input ---------------------------------------------------- */

enum e2_status
e2_sendmail_input(const char *buf, size_t len, bool dot_ends, size_t *len_out,
		  struct e2_err *err)
{
	const char *nul = memchr(buf, '\0', len);
	size_t end = len;

	if (dot_ends) {
		/* a line that is "." alone: at the start or after a LF */
		for (size_t i = 0; i < len; i++) {
			if (buf[i] != '.' || (i > 0 && buf[i - 1] != '\n'))
				continue;
			if (i + 1 == len || buf[i + 1] == '\n' ||
			    (buf[i + 1] == '\r' &&
			     (i + 2 == len || buf[i + 2] == '\n'))) {
				end = i;
				break;
			}
		}
	}
	if (nul != NULL && (size_t)(nul - buf) < end)
		return e2_fail(err, E2_EINVAL,
			       "message has a NUL byte at offset %zu",
			       (size_t)(nul - buf));
	*len_out = end;
	return E2_OK;
}
