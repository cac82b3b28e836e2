/* SPDX-License-Identifier: MIT */
/* fuzz_fetch_stream.c -- libFuzzer harness for imap_fetch_stream (run.sh) */
/* fuzz-sources: engine/imap_fetch_stream.c engine/mime.c engine/err.c */
/* fuzz-sources: tests/fuzz/fuzz_memstream.c */
/* fuzz-pkgs: libetpan libcrypto */
#include "config.h"

#include "engine/imap_fetch_stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_memstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input: 8 bytes of read sizes (each 1..256, used in turn), then the
 * server's bytes, served by a memory mailstream_low driver whose reads
 * return at most the next size: a response split anywhere, literals
 * included. Two UID FETCH commands run on the same stream (the second
 * after the first's tagged OK), asking UIDs 1..5 then 7; the callbacks
 * check that only asked UIDs arrive, each once, with the body length the
 * reader announced.
 */

#define FUZZ_SIZES 8

struct fuzz_body {
	unsigned long long len;
};

struct fuzz_ctx {
	size_t nbodies; /* open */
	size_t nfetched;
};

static enum e2_status
fuzz_body_begin(void *ctx, void **body_out, struct e2_err *err)
{
	struct fuzz_ctx *fc = ctx;
	struct fuzz_body *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	fc->nbodies++;
	*body_out = b;
	return E2_OK;
}

static enum e2_status
fuzz_body_write(void *ctx, void *body, const char *buf, size_t len,
		struct e2_err *err)
{
	struct fuzz_body *b = body;
	volatile char sink = 0;

	(void)ctx;
	(void)err;
	for (size_t i = 0; i < len; i++) /* ASan: every byte readable */
		sink ^= buf[i];
	(void)sink;
	b->len += len;
	return E2_OK;
}

static void
fuzz_body_discard(void *ctx, void **body)
{
	struct fuzz_ctx *fc = ctx;

	if (*body == NULL)
		return;
	free(*body);
	*body = NULL;
	fc->nbodies--;
}

static enum e2_status
fuzz_fetched(void *ctx, const struct imap_fetch_msg *m, void **body,
	     bool *stop_out, struct e2_err *err)
{
	struct fuzz_ctx *fc = ctx;
	struct fuzz_body *b = *body;

	(void)err;
	if (b == NULL || b->len != m->body_len)
		abort();
	if (m->uid == 0 || (m->uid > 5 && m->uid != 7))
		abort(); /* never asked */
	free(b);
	*body = NULL;
	fc->nbodies--;
	fc->nfetched++;
	if (fc->nfetched > 6)
		abort(); /* an answer counted twice */
	*stop_out = m->uid == 4 && m->internal_date == 1;
	return E2_OK;
}

static enum e2_status
fuzz_io_error(void *ctx, struct e2_err *err)
{
	(void)ctx;
	return e2_fail(err, E2_EIO, "connection lost");
}

static const struct imap_fetch_stream_ops fuzz_ops = {
	.body_begin = fuzz_body_begin,
	.body_write = fuzz_body_write,
	.body_discard = fuzz_body_discard,
	.fetched = fuzz_fetched,
	.io_error = fuzz_io_error,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t uids1[] = {1, 2, 3, 4, 5}, uids2[] = {7};
	struct fuzz_memstream m;
	struct fuzz_ctx fc = {0};
	struct imap_fetch_stream *fs = NULL;
	mailstream_low *low;
	mailstream *s;
	struct e2_err err = {0};
	bool answered1[5] = {false}, answered2[1] = {false};
	struct imap_fetch_asked q1 = {uids1, 5, answered1};
	struct imap_fetch_asked q2 = {uids2, 1, answered2};
	bool stop = false;
	char set[IMAP_FETCH_STREAM_SET_MAX + 32];
	size_t n = 0;
	enum e2_status rc;

	if (size < FUZZ_SIZES)
		return 0;
	fuzz_memstream_init(&m, data + FUZZ_SIZES, size - FUZZ_SIZES, data,
			    FUZZ_SIZES);
	low = fuzz_memstream_low_new(&m);
	if (low == NULL)
		return 0;
	s = mailstream_new(low, 1024);
	if (s == NULL) {
		mailstream_low_free(low);
		return 0;
	}
	imap_fetch_stream_set(uids1, 5, set, &n);
	if (n != 5 || strcmp(set, "1:5") != 0)
		abort();
	if (imap_fetch_stream_new(s, &fuzz_ops, &fc, &fs, &err) == E2_OK) {
		rc = imap_fetch_stream_command(fs, "A1", set, &q1, &stop, &err);
		if (rc != E2_OK && err.msg[0] == '\0')
			abort(); /* a failure names itself */
		if (rc == E2_OK && !stop) {
			e2_err_clear(&err);
			rc = imap_fetch_stream_command(fs, "A2", "7", &q2,
						       &stop, &err);
			if (rc != E2_OK && err.msg[0] == '\0')
				abort();
		}
		if (fc.nbodies != 0)
			abort(); /* a body neither taken nor dropped */
	}
	imap_fetch_stream_free(&fs);
	mailstream_close(s); /* frees low, not m */
	return 0;
}
