/* SPDX-License-Identifier: MIT */
/* fuzz_msgid_pair.c -- libFuzzer harness for R18's Message-ID pairing */
/* fuzz-sources: engine/reconcile.c engine/msgfile.c engine/err.c */
/* fuzz-pkgs: libetpan libcrypto */
/*
 * Input: lines "o|f <folder char> <header block bytes...>" separated by
 * '\n' '\n' (an empty line): each item is an orphan (its Message-ID as
 * the server's UID FETCH BODY[HEADER.FIELDS (MESSAGE-ID)] gave it) or a
 * file (its first bytes), both read through msgfile_check() as the
 * driver does, then reconcile_pair_saves(). Checks: a normalised id is
 * printable ASCII with no whitespace or angle bracket, its domain lower
 * case, and normalising it again changes nothing; a pair joins an orphan
 * and a file of different folders with equal normalised ids; no file is
 * paired twice; an id shared by two files or two orphans pairs nothing.
 */
#include "config.h"

#include "msgfile.h"
#include "reconcile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_N 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_norm(const char *id)
{
	char a[RECONCILE_MSGID_MAX + 1], b[RECONCILE_MSGID_MAX + 1];
	const char *at;

	if (!reconcile_msgid_normalize(id, a)) {
		if (a[0] != '\0')
			abort();
		return;
	}
	for (const char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~' ||
		    *p == '<' || *p == '>')
			abort();
	at = strrchr(a, '@');
	for (const char *p = at != NULL ? at : a + strlen(a); *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (!reconcile_msgid_normalize(a, b) || strcmp(a, b) != 0)
		abort();
}

static size_t
count_key(const struct reconcile_save_side *v, size_t n, const char *key)
{
	char k[RECONCILE_MSGID_MAX + 1];
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (reconcile_msgid_normalize(v[i].message_id, k) &&
		    strcmp(k, key) == 0)
			c++;
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ids[2 * FUZZ_N][MSGFILE_ID_MAX + 1];
	static char folders[2 * FUZZ_N][2];
	struct reconcile_save_side o[FUZZ_N], f[FUZZ_N];
	size_t no = 0, nf = 0, pair[FUZZ_N], slot = 0;
	const char *p = (const char *)data, *end = p + size;
	bool used[FUZZ_N] = {false};
	struct e2_err err = {0};

	while (p < end && slot < 2 * FUZZ_N) {
		const char *q = p, *next;
		struct msgfile_info info;
		struct e2_err e = {0};
		bool orphan;

		/* an item ends at "\n\n" (after its header block) */
		while (q + 1 < end && !(q[0] == '\n' && q[1] == '\n'))
			q++;
		next = q + 1 < end ? q + 2 : end;
		if (q + 1 >= end)
			q = end;
		if (q - p < 2)
			goto next_item;
		orphan = p[0] == 'o';
		folders[slot][0] = p[1];
		folders[slot][1] = '\0';
		ids[slot][0] = '\0';
		if (msgfile_check(p + 2, (size_t)(q - (p + 2)),
				  (size_t)(q - (p + 2)), &info, &e) == E2_OK)
			memcpy(ids[slot], info.message_id, sizeof(ids[slot]));
		check_norm(ids[slot]);
		if (orphan && no < FUZZ_N) {
			o[no].folder_id = folders[slot];
			o[no++].message_id = ids[slot];
		} else if (!orphan && nf < FUZZ_N) {
			f[nf].folder_id = folders[slot];
			f[nf++].message_id = ids[slot];
		}
		slot++;
	next_item:
		p = next;
	}
	if (reconcile_pair_saves(o, no, f, nf, pair, &err) != E2_OK)
		abort();
	for (size_t i = 0; i < no; i++) {
		char a[RECONCILE_MSGID_MAX + 1], b[RECONCILE_MSGID_MAX + 1];

		if (pair[i] == RECONCILE_NONE)
			continue;
		if (pair[i] >= nf || used[pair[i]])
			abort();
		used[pair[i]] = true;
		if (!reconcile_msgid_normalize(o[i].message_id, a) ||
		    !reconcile_msgid_normalize(f[pair[i]].message_id, b) ||
		    strcmp(a, b) != 0 ||
		    strcmp(o[i].folder_id, f[pair[i]].folder_id) == 0 ||
		    count_key(o, no, a) != 1 || count_key(f, nf, a) != 1)
			abort();
	}
	return 0;
}
