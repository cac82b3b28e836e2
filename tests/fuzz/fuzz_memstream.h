/* SPDX-License-Identifier: MIT */
/* fuzz_memstream.h -- a memory-backed libetpan mailstream_low for the
 * libFuzzer harnesses: the input's bytes in reads sized by a table */
#ifndef FUZZ_MEMSTREAM_H
#define FUZZ_MEMSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libetpan/libetpan.h>

/*
 * Called before a read hands out p[0..n): true lets it through, false
 * refuses it, and that read and every later one fail (-1). p is borrowed
 * for the call.
 */
typedef bool (*fuzz_memstream_feed_fn)(void *ctx, const uint8_t *p, size_t n);

/*
 * The state behind one stream. The caller owns it (usually on its stack)
 * and keeps it alive until the stream is freed and it has read the
 * results; fuzz_memstream_init() sets every field.
 */
struct fuzz_memstream {
	const uint8_t *p; /* borrowed: the server's bytes */
	size_t len;
	const uint8_t *sizes; /* borrowed: read sizes - 1, used in turn */
	size_t nsizes;        /* 0: each read gets all it asks for */
	size_t off;           /* bytes handed out so far */
	size_t turn;          /* next index into sizes (mod nsizes) */
	bool end_fails;       /* at the end: -1, not 0 (EOF) */
	fuzz_memstream_feed_fn feed; /* NULL: every read goes through */
	void *feed_ctx;              /* borrowed, passed to feed */
	bool refused;                /* feed refused a read */
};

/*
 * Sets m to hand out p[0..len) in reads of sizes[turn % nsizes] + 1 bytes
 * (fewer when the caller asks fewer or fewer are left); with nsizes 0 each
 * read gets as many as asked. After the last byte a read returns 0 (EOF),
 * or -1 when end_fails is set afterwards. p and sizes are borrowed and must
 * outlive the stream. feed and feed_ctx start NULL.
 */
void fuzz_memstream_init(struct fuzz_memstream *m, const uint8_t *p, size_t len,
			 const uint8_t *sizes, size_t nsizes);

/*
 * A new mailstream_low reading from m, which it borrows; NULL when out of
 * memory. The caller owns the result until it gives it to mailstream_new()
 * (which then owns it); mailstream_low_free() frees it but never m.
 */
mailstream_low *fuzz_memstream_low_new(struct fuzz_memstream *m);

#endif
