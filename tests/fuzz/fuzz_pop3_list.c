/* SPDX-License-Identifier: MIT */
/* fuzz_pop3_list.c -- libFuzzer harness for pop3_list_parse() (see run.sh) */
/* fuzz-sources: transports/pop3_list.c engine/err.c */
/* fuzz-pkgs: libcrypto */
#include "config.h"

#include "transports/pop3_list.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input: one byte choosing the order (bit 0: UIDL first), then a LIST
 * answer and a UIDL answer separated by the first NUL byte (the second may
 * be absent). Each answer is parsed from an exact-size copy, so ASan sees
 * any read past it; an accepted maildrop is checked against the rules the
 * sync engine relies on.
 */
static void
fuzz_pop3_list_check(const struct pop3_list *l)
{
	if (l->n > POP3_LIST_MAX_MSGS || (l->n > 0 && l->v == NULL))
		abort();
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->v[i].uidl);

		if (!l->has_uidls)
			continue;
		if (len == 0 || len > POP3_LIST_UIDL_MAX)
			abort();
		for (size_t k = 0; k < len; k++)
			if (l->v[i].uidl[k] < 0x21 || l->v[i].uidl[k] > 0x7e)
				abort();
	}
}

static void
fuzz_pop3_list_one(enum pop3_list_kind kind, const uint8_t *p, size_t n,
		   struct pop3_list *l)
{
	struct e2_err err = {0};
	char *copy = malloc(n + 1);
	struct pop3_list before = *l;

	if (copy == NULL)
		return;
	memcpy(copy, p, n);
	if (pop3_list_parse(kind, copy, n, l, &err) != E2_OK) {
		/* refused: a message, and l as it was */
		if (err.msg[0] == '\0' || l->v != before.v ||
		    l->n != before.n || l->has_sizes != before.has_sizes ||
		    l->has_uidls != before.has_uidls)
			abort();
	}
	fuzz_pop3_list_check(l);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_list l = {0};
	const uint8_t *sep;
	size_t first, rest;
	bool uidl_first;

	if (size == 0)
		return 0;
	uidl_first = (data[0] & 1) != 0;
	data++;
	size--;
	sep = memchr(data, '\0', size);
	first = sep != NULL ? (size_t)(sep - data) : size;
	rest = sep != NULL ? size - first - 1 : 0;
	fuzz_pop3_list_one(uidl_first ? POP3_LIST_UIDL : POP3_LIST_LIST, data,
			   first, &l);
	if (sep != NULL)
		fuzz_pop3_list_one(uidl_first ? POP3_LIST_LIST : POP3_LIST_UIDL,
				   sep + 1, rest, &l);
	pop3_list_free(&l);
	return 0;
}
