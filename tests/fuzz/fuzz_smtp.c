/* SPDX-License-Identifier: MIT */
/* fuzz_smtp.c -- libFuzzer harness: SMTP replies and EHLO through the
 * server-byte guard into libetpan's mailsmtp, as email2 drives it (see
 * run.sh) */
/* fuzz-sources: transports/guard.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
#include "config.h"

#include "transports/guard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

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
struct fuzz_src {
	const uint8_t *p;
	size_t len, off;
	const uint8_t *sizes;
	size_t nsizes, k;
	struct guard g;
	bool dead;
	size_t handed; /* bytes libetpan received */
};

static ssize_t
fuzz_read(mailstream_low *s, void *buf, size_t count)
{
	struct fuzz_src *f = s->data;
	struct e2_err err = {0};
	size_t n;

	if (f->dead || f->off >= f->len)
		return -1;
	n = (size_t)f->sizes[f->k++ % f->nsizes] + 1;
	if (n > count)
		n = count;
	if (n > f->len - f->off)
		n = f->len - f->off;
#ifndef FUZZ_GUARD_OFF /* -DFUZZ_GUARD_OFF: what libetpan does unguarded */
	if (guard_feed(&f->g, f->p + f->off, n, &err) != E2_OK) {
		if (err.code != E2_EPROTO || err.msg[0] == '\0')
			abort();
		f->dead = true;
		return -1;
	}
#endif
	memcpy(buf, f->p + f->off, n);
	f->off += n;
	f->handed += n;
	return (ssize_t)n;
}

static ssize_t
fuzz_write(mailstream_low *s, const void *buf, size_t count)
{
	(void)s;
	(void)buf;
	return (ssize_t)count;
}

static int
fuzz_close(mailstream_low *s)
{
	(void)s;
	return 0;
}

static int
fuzz_get_fd(mailstream_low *s)
{
	(void)s;
	return -1;
}

static void
fuzz_free(mailstream_low *s)
{
	free(s);
}

static void
fuzz_cancel(mailstream_low *s)
{
	(void)s;
}

static struct mailstream_cancel *
fuzz_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *
fuzz_get_certificate_chain(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static mailstream_low_driver fuzz_driver = {
	.mailstream_read = fuzz_read,
	.mailstream_write = fuzz_write,
	.mailstream_close = fuzz_close,
	.mailstream_get_fd = fuzz_get_fd,
	.mailstream_free = fuzz_free,
	.mailstream_cancel = fuzz_cancel,
	.mailstream_get_cancel = fuzz_get_cancel,
	.mailstream_get_certificate_chain = fuzz_get_certificate_chain,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "Subject: x\r\n\r\nhi\r\n";
	struct fuzz_src f = {0};
	mailstream_low *low;
	mailstream *s;
	mailsmtp *smtp;

	if (size < 2)
		return 0;
	f.nsizes = (size_t)(data[0] % 8) + 1;
	if (size < 1 + f.nsizes)
		return 0;
	f.sizes = data + 1;
	f.p = data + 1 + f.nsizes;
	f.len = size - 1 - f.nsizes;
	guard_init(&f.g, GUARD_SMTP);
	low = mailstream_low_new(&f, &fuzz_driver);
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
	if (mailesmtp_ehlo(smtp) != MAILSMTP_NO_ERROR && !f.dead)
		(void)mailsmtp_helo(smtp);
	(void)mailesmtp_mail_size(smtp, "a@example.com", 0, NULL, 100);
	(void)mailsmtp_rcpt(smtp, "b@example.com");
	if (mailsmtp_data(smtp) == MAILSMTP_NO_ERROR)
		(void)mailsmtp_data_message(smtp, msg, sizeof(msg) - 1);
	(void)mailsmtp_reset(smtp);
	if (smtp->response != NULL)
		(void)strlen(smtp->response);
	if (f.handed > f.off)
		abort();
	mailsmtp_free(smtp);
	return 0;
}
