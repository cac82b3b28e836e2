/* SPDX-License-Identifier: MIT */
/* proto.c -- helpers shared by the protocol tables */
#include "config.h"

#include "transports/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

mailstream *
proto_stream(const struct proto_conn *c)
{
	if (c->imap != NULL)
		return c->imap->imap_stream;
	if (c->pop3 != NULL)
		return c->pop3->pop3_stream;
	if (c->smtp != NULL)
		return c->smtp->stream;
	return NULL;
}

void
proto_trace_secret(struct proto_conn *c, const char *label)
{
	xport_etpan_trace_secret(proto_stream(c), label);
}

enum e2_status
proto_fail(struct proto_conn *c, enum e2_status code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (c->err->code != E2_OK)
		return c->err->code;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return e2_fail(c->err, code, "%s", msg);
}

void
proto_words_add(char *dst, size_t dstlen, const char *word)
{
	size_t have = strlen(dst), need = strlen(word) + (have != 0);

	if (word[0] == '\0' || have + need + 1 > dstlen)
		return;
	(void)snprintf(dst + have, dstlen - have, "%s%s", have != 0 ? " " : "",
		       word);
}

bool
proto_words_has(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == wl && strncasecmp(p, word, wl) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}
