/* SPDX-License-Identifier: MIT */
/* fuzz_pop3_msgid.c -- libFuzzer harness for pop3_local_msgid() */
/* fuzz-sources: engine/pop3_local.c engine/reconcile.c engine/mime.c */
/* fuzz-sources: engine/maildir.c engine/err.c engine/grow.c */
/* fuzz-pkgs: libcrypto */
/*
 * Input: a header block and whatever follows, as a POP3 server's TOP n 0
 * answer or the first bytes of a file another program wrote into a
 * Maildir folder. Checks: a found Message-ID is 1 to
 * POP3_LOCAL_MSGID_MAX - 1 bytes, NUL-terminated, either "<...>" with no
 * ">" before its end or a value with no "<" followed by ">"; the same
 * input gives the same answer.
 */
#include "config.h"

#include "pop3_local.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[POP3_LOCAL_MSGID_MAX], again[POP3_LOCAL_MSGID_MAX];
	struct e2_err err = {0};
	bool found = false, found2 = false;
	size_t n;

	if (pop3_local_msgid((const char *)data, size, &found, id, &err) !=
	    E2_OK)
		return 0;
	if (!found)
		return 0;
	n = strnlen(id, sizeof(id));
	if (n == 0 || n >= sizeof(id))
		abort();
	/* "<...>": one ">", the last byte; else no "<" followed by ">" */
	if (strchr(id, '>') != NULL && id[0] == '<' &&
	    (id[n - 1] != '>' || memchr(id, '>', n - 1) != NULL))
		abort();
	if (id[0] != '<' && strchr(id, '<') != NULL &&
	    strchr(strchr(id, '<'), '>') != NULL)
		abort();
	if (pop3_local_msgid((const char *)data, size, &found2, again, &err) !=
		    E2_OK ||
	    !found2 || strcmp(id, again) != 0)
		abort();
	return 0;
}
