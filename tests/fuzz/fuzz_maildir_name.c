/* SPDX-License-Identifier: MIT */
/* fuzz_maildir_name.c -- libFuzzer harness for the Maildir folder codec */
/* fuzz-sources: engine/maildir.c engine/err.c */
/* fuzz-pkgs: libcrypto */
/*
 * Input: byte 0 and 1 are the hierarchy separators of two server names,
 * byte 2 picks how many suffixed candidates to try, the rest is name 1,
 * a NUL, name 2 (name 2 = name 1 when there is no NUL). Checks, for
 * arbitrary names and separators (maildir.h "Injectivity"):
 * - an encoded name stays inside the account directory: no "/", no
 *   "..", never "." alone, "" only for INBOX, else "." and a non-dot,
 *   at most NAME_MAX bytes;
 * - decoding gives the name back, and encoding that gives the directory;
 * - two names encode alike only when they are both INBOX or their
 *   components (split at their own separators) are equal: the collision
 *   maildir_folder_claim() arbitrates, and no other;
 * - a suffixed candidate is no plain encoding of any name (decoding it
 *   fails with any separator), stays inside the directory too, and two
 *   candidates meet only when their bases and numbers do.
 */
#include "config.h"

#include "maildir.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_dir(const char *dir)
{
	size_t len = strlen(dir);

	if (len > NAME_MAX || strchr(dir, '/') != NULL ||
	    strstr(dir, "..") != NULL || strcmp(dir, ".") == 0)
		abort();
	if (len > 0 && (dir[0] != '.' || len < 2 || dir[1] == '.'))
		abort();
}

/* Do name a (separator sa) and b (sb) have the same components? */
static bool
fuzz_same_components(const char *a, char sa, const char *b, char sb)
{
	for (;;) {
		bool ea = *a == '\0' || (sa != '\0' && *a == sa);
		bool eb = *b == '\0' || (sb != '\0' && *b == sb);

		if (ea != eb)
			return false;
		if (ea) {
			if ((*a == '\0') != (*b == '\0'))
				return false;
			if (*a == '\0')
				return true;
		} else if (*a != *b) {
			return false;
		}
		a++;
		b++;
	}
}

/* Encodes and round-trips one name; returns the directory or NULL. */
static char *
fuzz_encode(const char *name, char sep)
{
	struct e2_err err = {0};
	char *dir = NULL, *back = NULL, *again = NULL;

	if (maildir_folder_encode(name, sep, &dir, &err) != E2_OK) {
		if (err.msg[0] == '\0' || dir != NULL)
			abort();
		return NULL;
	}
	fuzz_check_dir(dir);
	if ((dir[0] == '\0') != (strcasecmp(name, "INBOX") == 0))
		abort();
	if (maildir_folder_decode(dir, sep, &back, &err) != E2_OK)
		abort();
	if (dir[0] == '\0' ? strcmp(back, "INBOX") != 0
			   : strcmp(back, name) != 0)
		abort();
	if (maildir_folder_encode(back, sep, &again, &err) != E2_OK ||
	    strcmp(again, dir) != 0)
		abort();
	free(again);
	free(back);
	return dir;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seps[] = "./\\|:";
	char s1, s2;
	unsigned tries;
	char *buf, *n1, *n2, *d1, *d2;
	char *c1[MAILDIR_CLAIM_TRIES] = {0}, *c2[MAILDIR_CLAIM_TRIES] = {0};

	if (size < 3)
		return 0;
	s1 = (char)data[0];
	s2 = (char)data[1];
	tries = 1 + data[2] % MAILDIR_CLAIM_TRIES;
	buf = malloc(size - 3 + 2);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 3, size - 3);
	buf[size - 3] = '\0';
	buf[size - 2] = '\0';
	n1 = buf;
	n2 = memchr(buf, '\0', size - 3) != NULL ? n1 + strlen(n1) + 1 : n1;
	d1 = fuzz_encode(n1, s1);
	d2 = fuzz_encode(n2, s2);
	if (d1 != NULL && d2 != NULL && strcmp(d1, d2) == 0 &&
	    !(d1[0] == '\0' && d2[0] == '\0') &&
	    !fuzz_same_components(n1, s1, n2, s2))
		abort();
	for (unsigned k = 0; k < tries; k++) {
		struct e2_err err = {0};

		if (maildir_folder_candidate(n1, s1, k, &c1[k], &err) !=
		    E2_OK) {
			if (err.msg[0] == '\0')
				abort();
			c1[k] = NULL;
		}
		err.msg[0] = '\0';
		if (maildir_folder_candidate(n2, s2, k, &c2[k], &err) != E2_OK)
			c2[k] = NULL;
		if (k == 0) {
			/* candidate 0 is the plain encoding */
			if ((c1[0] == NULL) != (d1 == NULL) ||
			    (c1[0] != NULL && strcmp(c1[0], d1) != 0))
				abort();
			continue;
		}
		if (c1[k] == NULL)
			continue;
		fuzz_check_dir(c1[k]);
		if (strstr(c1[k], MAILDIR_CLAIM_SUFFIX) == NULL ||
		    (d2 != NULL && strcmp(c1[k], d2) == 0))
			abort();
		for (size_t i = 0; i < sizeof(seps); i++) {
			char *back = NULL;

			err.msg[0] = '\0';
			/* seps[] ends in '\0': no separator is tried too */
			if (maildir_folder_decode(c1[k], seps[i], &back,
						  &err) == E2_OK)
				abort();
			free(back);
		}
	}
	/* candidates of different bases never meet; of one base, by k */
	for (unsigned k = 1; k < tries; k++)
		for (unsigned j = 1; j < tries; j++)
			if (c1[k] != NULL && c2[j] != NULL &&
			    strcmp(c1[k], c2[j]) == 0 &&
			    (k != j || d1 == NULL || d2 == NULL ||
			     (strcmp(d1, d2) != 0 && d1[0] != '\0' &&
			      d2[0] != '\0')))
				abort();
	for (unsigned k = 0; k < MAILDIR_CLAIM_TRIES; k++) {
		free(c1[k]);
		free(c2[k]);
	}
	free(d1);
	free(d2);
	free(buf);
	return 0;
}
