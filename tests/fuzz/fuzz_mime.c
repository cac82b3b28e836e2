/* SPDX-License-Identifier: MIT */
/* fuzz_mime.c -- libFuzzer harness for engine/mime.c (see run.sh) */
/* fuzz-sources: engine/mime.c engine/err.c */
/* fuzz-pkgs: libcrypto */
/*
 * Byte 0 picks the surface, the next bytes are its parameters, the rest
 * is the message (or the string):
 *   0 mime_truncate() at limit (bytes 1-2) with orig_size len + byte 3 * 97
 *   1 the streamed mime_trunc_*() fed in pieces of byte 3 % 64 + 1 bytes
 *   2 KEEPMAX: a part tree built from the bytes (types, subtypes, file
 *     names, boundaries, NULL, numbers, sizes of any length), planned with
 *     max bytes 1-2, checked, assembled with the rest as every section
 *   3 mime_date_parse() of the rest; mime_date_make() of fields from it;
 *     mime_dwnday_inside() of it as a header
 *   4 mime_header_get() and mime_param_get() of the rest; mime_marks()
 * Checks beyond "no crash, no leak": what passes through is unchanged, a
 * truncated message carries its X-Email2-Partial mark and ends with the
 * note (issue 9), a plan that mime_plan_check() accepts assembles without
 * error (with a folder name from the input in its external-body
 * parameters) and every placeholder line stays under 998 bytes, a parsed
 * date lies in the years accepted.
 */
#include "config.h"

#include "mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_buf {
	char *p;
	size_t len, cap;
};

static enum e2_status
fuzz_sink(void *ctx, const void *buf, size_t len, struct e2_err *err)
{
	struct fuzz_buf *b = ctx;

	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 1024 : b->cap;
		char *n;

		while (cap < b->len + len + 1)
			cap *= 2;
		n = realloc(b->p, cap);
		if (n == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	b->p[b->len] = '\0';
	return E2_OK;
}

static void
fuzz_truncate(const uint8_t *data, size_t size)
{
	struct fuzz_buf out = {0};
	struct mime_trunc_info ti = {0};
	struct e2_err err = {0};
	size_t limit;
	unsigned long long orig;

	if (size < 4)
		return;
	limit = ((size_t)data[1] << 8 | data[2]) + 1;
	orig = (size - 4) + (unsigned long long)data[3] * 97;
	if (mime_truncate((const char *)data + 4, size - 4, limit, orig, NULL,
			  fuzz_sink, &out, &ti, &err) != E2_OK) {
		if (err.msg[0] == '\0')
			abort();
	} else if (!ti.truncated) {
		if (out.len != size - 4 ||
		    (out.len > 0 && memcmp(out.p, data + 4, out.len) != 0))
			abort();
	} else if (ti.header_complete) {
		bool partial = false;

		mime_marks(out.p, out.len, &partial, NULL);
		if (!partial)
			abort();
		/* issue 9: the note is there, its part closed last */
		if (memmem(out.p, out.len, "email2: incomplete message", 26) ==
			    NULL ||
		    out.len < 3 || out.p[out.len - 1] != '\n')
			abort();
	}
	free(out.p);
}

static void
fuzz_stream(const uint8_t *data, size_t size)
{
	struct fuzz_buf out = {0};
	struct mime_trunc *t = NULL;
	struct mime_trunc_info ti = {0};
	struct e2_err err = {0};
	size_t limit, piece, off = 4;

	if (size < 4)
		return;
	limit = ((size_t)data[1] << 8 | data[2]) + 1;
	piece = data[3] % 64 + 1;
	if (mime_trunc_new(limit, &t, &err) != E2_OK)
		return;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;

		if (mime_trunc_write(t, data + off, n, &err) != E2_OK)
			abort();
		off += n;
		(void)mime_trunc_full(t);
		(void)mime_trunc_room(t);
	}
	if (mime_trunc_finish(t, 0, NULL, fuzz_sink, &out, &ti, &err) ==
		    E2_OK &&
	    !ti.truncated &&
	    (out.len != size - 4 ||
	     (out.len > 0 && memcmp(out.p, data + 4, out.len) != 0)))
		abort();
	mime_trunc_free(&t);
	free(out.p);
}

/* A reader of the input for building trees. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static uint8_t
fuzz_byte(struct fuzz_in *in)
{
	uint8_t b;

	if (in->n == 0)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

/* A string of a length from the input: short mostly, up to 12,000 bytes. */
static char *
fuzz_str(struct fuzz_in *in)
{
	uint8_t b = fuzz_byte(in);
	size_t len = b < 200 ? b % 24 : (size_t)(b - 199) * 220;
	char *s;

	if (b == 0)
		return NULL;
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in->n > 0 ? fuzz_byte(in) : (uint8_t)('a' + i % 26);

		s[i] = c == 0 ? 'z' : (char)c;
	}
	s[len] = '\0';
	return s;
}

static char *
fuzz_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* Fills p (already zeroed) from the input, children to depth 4. */
static void
fuzz_part(struct fuzz_in *in, struct mime_part *p, const char *number,
	  int depth)
{
	uint8_t kind = fuzz_byte(in);

	p->number = fuzz_strdup(number);
	if (kind % 5 == 0 && in->n > 0) /* any number, long ones too */ {
		free(p->number);
		p->number = fuzz_str(in);
		if (p->number == NULL)
			p->number = fuzz_strdup("");
	}
	p->size = (unsigned long long)fuzz_byte(in) << (fuzz_byte(in) % 24);
	if (depth < 4 && kind % 3 == 0) {
		size_t n = fuzz_byte(in) % 4;

		p->type = fuzz_strdup("multipart");
		p->subtype = fuzz_strdup("mixed");
		p->boundary = kind % 7 == 0 ? NULL : fuzz_str(in);
		/* a boundary is emitted as it is: keep our mark out of it so
		 * fuzz_check_placeholders() sees only placeholders */
		for (char *b = p->boundary; b != NULL && *b != '\0'; b++)
			if (*b == 'X')
				*b = 'x';
		p->children = n > 0 ? calloc(n, sizeof(*p->children)) : NULL;
		p->n_children = p->children != NULL ? n : 0;
		for (size_t i = 0; i < p->n_children; i++) {
			char num[64];

			(void)snprintf(num, sizeof(num), "%s%s%zu", number,
				       number[0] != '\0' ? "." : "", i + 1);
			fuzz_part(in, &p->children[i], num, depth + 1);
		}
		return;
	}
	p->type = fuzz_str(in);
	p->subtype = fuzz_str(in);
	p->filename = fuzz_str(in);
	p->disposition = kind % 2 == 0 ? fuzz_strdup("attachment") : NULL;
	p->encoding = fuzz_strdup("base64");
}

static enum e2_status
fuzz_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	   struct e2_err *err)
{
	const struct fuzz_in *body = ctx;

	(void)section;
	return sink(sink_ctx, body->p, body->n, err);
}

/* Lines of the placeholders: under 998 bytes however long the fields. */
static void
fuzz_check_placeholders(const struct fuzz_buf *out)
{
	const char *p = out->p, *end = out->p + out->len;

	while (p != NULL && p < end) {
		const char *q = strstr(p, MIME_OMITTED_HEADER ":");
		const char *eol;

		if (q == NULL)
			break;
		eol = strstr(q, "\r\n");
		if (eol == NULL || eol - q >= 998)
			abort();
		p = eol;
	}
}

static void
fuzz_keepmax(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data + 3, size - 3};
	struct fuzz_in body;
	struct mime_part *root = calloc(1, sizeof(*root));
	struct fuzz_buf out = {0};
	struct e2_err err = {0};
	unsigned long long max;
	enum e2_status rc;
	char folder[64] = "";
	struct mime_origin o = {"{G}", folder, 7};

	if (root == NULL || size < 3) {
		free(root);
		return;
	}
	/* the folder: up to 63 input bytes (any byte, NUL ends it) */
	memcpy(folder, data + 3, size - 3 < 63 ? size - 3 : 63);
	max = ((unsigned long long)data[1] << 8 | data[2]) * 16;
	fuzz_part(&in, root, "", 0);
	body = in; /* what is left is every section's bytes */
	(void)mime_plan_keepmax(root, max);
	(void)mime_plan_size(root, body.n);
	rc = mime_plan_check(root, &err);
	if (rc == E2_OK) {
		if (mime_assemble(root, fuzz_fetch, &body, &o, fuzz_sink, &out,
				  &err) != E2_OK &&
		    strstr(err.msg, "message header over") == NULL)
			abort();
		/* only ours: the sections' bytes could hold the name too */
		if (memmem(body.p, body.n, MIME_OMITTED_HEADER,
			   strlen(MIME_OMITTED_HEADER)) == NULL)
			fuzz_check_placeholders(&out);
	} else if (rc != E2_EPROTO) {
		abort();
	}
	mime_part_free(&root);
	free(out.p);
}

static void
fuzz_date(const uint8_t *data, size_t size)
{
	struct e2_err err = {0};
	char *s = malloc(size);
	time_t t;

	if (s == NULL)
		return;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (mime_date_parse(s, &t, &err) == E2_OK) {
		/* 1900-01-01 minus a day, 9999-12-31 plus a day */
		if ((long long)t < -2208988800LL - 86400 ||
		    (long long)t > 253402300799LL + 86400)
			abort();
	}
	if (size >= 14) {
		int f[6];
		long zone = (long)(int16_t)(data[13] << 8 | data[12]) * 60;

		for (int i = 0; i < 6; i++)
			f[i] = (int)(int16_t)(data[1 + 2 * i] << 8 |
					      data[2 + 2 * i]);
		err.msg[0] = '\0';
		if (mime_date_make(f[0], f[1], f[2], f[3], f[4], f[5], zone, &t,
				   &err) != E2_OK &&
		    err.msg[0] == '\0')
			abort();
	}
	(void)mime_dwnday_inside(s, strlen(s), (int)(data[0] % 60) - 1,
				 (time_t)1700000000);
	free(s);
}

static void
fuzz_header(const uint8_t *data, size_t size)
{
	struct e2_err err = {0};
	char *v = NULL, *p = NULL;
	bool found = false, partial, omitted;

	(void)mime_header_len((const char *)data + 1, size - 1, &found);
	if (mime_header_get((const char *)data + 1, size - 1, "Content-Type",
			    &found, &v, &err) == E2_OK &&
	    found) {
		if (mime_param_get(v, "boundary", &found, &p, &err) == E2_OK &&
		    found)
			free(p);
		free(v);
	}
	mime_marks((const char *)data + 1, size - 1, &partial, &omitted);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_truncate(data, size);
		break;
	case 1:
		fuzz_stream(data, size);
		break;
	case 2:
		fuzz_keepmax(data, size);
		break;
	case 3:
		fuzz_date(data, size);
		break;
	default:
		fuzz_header(data, size);
		break;
	}
	return 0;
}
