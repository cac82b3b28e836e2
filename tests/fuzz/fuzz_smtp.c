/* SPDX-License-Identifier: MIT */
/* fuzz_smtp.c -- libFuzzer harness: SMTP replies and EHLO through the
 * server-byte guard into libetpan's mailsmtp, as email2 drives it (see
 * run.sh) */
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
 * then the server's bytes, handed out by a memory-backed mailstream_low
 * driver through guard_feed() (GUARD_SMTP) as transports/xport_etpan.c
 * does. libetpan reads the greeting, EHLO (HELO when refused), MAIL, RCPT,
 * DATA, the message, RSET and QUIT replies, as proto_smtp.c and send.c
 * use it; every step goes on after a refused reply (the line framing is
 * libetpan's own) until the stream fails.
 */
struct fuzz_smtp_feed {
	struct guard g;
	size_t passed; /* bytes the guard let through */
};

/* The memory stream's hook: guard_feed() as xport_etpan.c calls it. */
static bool
fuzz_smtp_feed(void *ctx, const uint8_t *p, size_t n)
{
	struct fuzz_smtp_feed *fg = ctx;
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
	static const char msg[] = "Subject: x\r\n\r\nhi\r\n";
	struct fuzz_memstream m;
	struct fuzz_smtp_feed fg = {0};
	size_t nsizes;
	mailstream_low *low;
	mailstream *s;
	mailsmtp *smtp;

	if (size < 2)
		return 0;
	nsizes = (size_t)(data[0] % 8) + 1;
	if (size < 1 + nsizes)
		return 0;
	fuzz_memstream_init(&m, data + 1 + nsizes, size - 1 - nsizes, data + 1,
			    nsizes);
	m.end_fails = true;
	m.feed = fuzz_smtp_feed;
	m.feed_ctx = &fg;
	guard_init(&fg.g, GUARD_SMTP);
	low = fuzz_memstream_low_new(&m);
	if (low == NULL)
		return 0;
	mailstream_low_set_logger(low, NULL, NULL);
	s = mailstream_new(low, 65536);
	if (s == NULL) {
		mailstream_low_free(low);
		return 0;
	}
	smtp = mailsmtp_new(0, NULL);
	if (smtp == NULL) {
		mailstream_close(s);
		return 0;
	}
	if (mailsmtp_connect(smtp, s) != MAILSMTP_NO_ERROR) {
		mailsmtp_free(smtp); /* connect closed s on failure */
		return 0;
	}
	if (mailesmtp_ehlo(smtp) != MAILSMTP_NO_ERROR && !m.refused)
		(void)mailsmtp_helo(smtp);
	(void)mailesmtp_mail_size(smtp, "a@example.com", 0, NULL, 100);
	(void)mailsmtp_rcpt(smtp, "b@example.com");
	if (mailsmtp_data(smtp) == MAILSMTP_NO_ERROR)
		(void)mailsmtp_data_message(smtp, msg, sizeof(msg) - 1);
	(void)mailsmtp_reset(smtp);
	if (smtp->response != NULL)
		(void)strlen(smtp->response);
	if (m.off > fg.passed)
		abort(); /* libetpan got bytes the guard did not pass */
	mailsmtp_free(smtp);
	return 0;
}
