/* SPDX-License-Identifier: MIT */
/* fuzz_guard_imap.c -- libFuzzer harness: the server-byte guard in front of
 * libetpan's IMAP response parser, as email2 drives it (see run.sh) */
/* fuzz-sources: tests/fuzz/fuzz_memstream.c transports/guard.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
#include "config.h"

#include "transports/guard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "fuzz_memstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libetpan 1.9.4 leaks a few bytes in some parse-error paths (e.g. an
 * astring of a malformed BODYSTRUCTURE): not a crash, bounded by the one
 * response (email2 reads nothing after a parse error), and not ours to fix.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libetpan.so\n";
}

/*
 * The input: one byte n, then n % 8 + 1 bytes of read sizes (each + 1),
 * then the server's bytes. A memory-backed mailstream_low driver hands
 * them out in reads of those sizes, each through guard_feed() first, as
 * transports/xport_etpan.c does: a refused read fails (-1) and so does
 * every later one. libetpan then parses the greeting and responses with
 * mailimap_connect(), mailimap_read_line() and mailimap_parse_response();
 * after a parse error email2 reads nothing more
 * (xport_etpan_refuse_reads()), after any other error it goes on (LOGOUT
 * reads the next response). The point: libetpan never sees a byte the
 * guard refused, and never crashes on what it accepted.
 */
struct fuzz_guard_imap_feed {
	struct guard g;
	size_t passed; /* bytes the guard let through */
};

/* The memory stream's hook: guard_feed() as xport_etpan.c calls it. */
static bool
fuzz_guard_imap_feed(void *ctx, const uint8_t *p, size_t n)
{
	struct fuzz_guard_imap_feed *fg = ctx;
#ifndef FUZZ_GUARD_OFF /* -DFUZZ_GUARD_OFF: what libetpan does unguarded */
	struct e2_err err = {0};

	if (guard_feed(&fg->g, p, n, &err) != E2_OK) {
		if (err.code != E2_EPROTO || err.msg[0] == '\0')
			abort();
		return false;
	}
#else
	(void)p;
#endif
	fg->passed += n;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_memstream m;
	struct fuzz_guard_imap_feed fg = {0};
	size_t nsizes;
	mailstream_low *low;
	mailstream *s;
	mailimap *imap;
	int r;

	if (size < 2)
		return 0;
	nsizes = (size_t)(data[0] % 8) + 1;
	if (size < 1 + nsizes)
		return 0;
	fuzz_memstream_init(&m, data + 1 + nsizes, size - 1 - nsizes, data + 1,
			    nsizes);
	m.end_fails = true;
	m.feed = fuzz_guard_imap_feed;
	m.feed_ctx = &fg;
	guard_init(&fg.g, GUARD_IMAP);
	low = fuzz_memstream_low_new(&m);
	if (low == NULL)
		return 0;
	mailstream_low_set_logger(low, NULL, NULL);
	s = mailstream_new(low, 65536);
	if (s == NULL) {
		mailstream_low_free(low);
		return 0;
	}
	imap = mailimap_new(0, NULL);
	if (imap == NULL) {
		mailstream_close(s);
		return 0;
	}
	r = mailimap_connect(imap, s); /* the session owns s */
	for (int i = 0; i < 64 && r != MAILIMAP_ERROR_PARSE &&
			r != MAILIMAP_ERROR_STREAM &&
			r != MAILIMAP_ERROR_MEMORY && imap->imap_stream != NULL;
	     i++) {
		struct mailimap_response *resp = NULL;

		imap->imap_tag = (unsigned)i + 1;
		if (mailimap_read_line(imap) == NULL)
			break;
		r = mailimap_parse_response(imap, &resp);
		if (resp != NULL)
			mailimap_response_free(resp);
	}
	if (m.off > fg.passed)
		abort(); /* libetpan got bytes the guard did not pass */
	if (r == MAILIMAP_ERROR_PARSE && imap->imap_stream != NULL) {
		/* what xport_etpan_refuse_reads() does: after a parse error
		 * libetpan's framing is lost, LOGOUT reads nothing (without
		 * this, LOGOUT parsed bytes the guard had framed as a
		 * literal: a false crash found in CI) */
		m.refused = true;
		imap->imap_stream->read_buffer_len = 0;
	}
	mailimap_free(imap);
	return 0;
}
