/* SPDX-License-Identifier: MIT */
/* fuzz_memstream.c -- a memory-backed libetpan mailstream_low shared by the
 * libFuzzer harnesses (see fuzz_memstream.h) */
#include "config.h"

#include "fuzz_memstream.h"

#include <stdlib.h>
#include <string.h>

static ssize_t
fuzz_memstream_read(mailstream_low *s, void *buf, size_t count)
{
	struct fuzz_memstream *m = s->data;
	size_t n;

	if (m->refused)
		return -1;
	if (m->off >= m->len)
		return m->end_fails ? -1 : 0;
	n = count;
	if (m->nsizes != 0) {
		n = (size_t)m->sizes[m->turn++ % m->nsizes] + 1;
		if (n > count)
			n = count;
	}
	if (n > m->len - m->off)
		n = m->len - m->off;
	if (m->feed != NULL && !m->feed(m->feed_ctx, m->p + m->off, n)) {
		m->refused = true;
		return -1;
	}
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static ssize_t
fuzz_memstream_write(mailstream_low *s, const void *buf, size_t count)
{
	(void)s;
	(void)buf;
	return (ssize_t)count;
}

static int
fuzz_memstream_close(mailstream_low *s)
{
	(void)s;
	return 0;
}

static int
fuzz_memstream_get_fd(mailstream_low *s)
{
	(void)s;
	return -1;
}

static void
fuzz_memstream_free(mailstream_low *s)
{
	free(s); /* s->data is the caller's */
}

/* cancel and certificate chain left NULL: libetpan then does nothing */
static mailstream_low_driver fuzz_memstream_driver = {
	.mailstream_read = fuzz_memstream_read,
	.mailstream_write = fuzz_memstream_write,
	.mailstream_close = fuzz_memstream_close,
	.mailstream_get_fd = fuzz_memstream_get_fd,
	.mailstream_free = fuzz_memstream_free,
};

void
fuzz_memstream_init(struct fuzz_memstream *m, const uint8_t *p, size_t len,
		    const uint8_t *sizes, size_t nsizes)
{
	memset(m, 0, sizeof(*m));
	m->p = p;
	m->len = len;
	m->sizes = sizes;
	m->nsizes = nsizes;
}

mailstream_low *
fuzz_memstream_low_new(struct fuzz_memstream *m)
{
	return mailstream_low_new(m, &fuzz_memstream_driver);
}
