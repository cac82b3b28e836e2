/* SPDX-License-Identifier: MIT */
/*
 * account_name.c -- an account as a user names it on the command line
 *
 * The tools accept an account as its GUID in any spelling the CSP accepts
 * ("{...}", "%7B...%7D", "0x7B...0x7D"), bare, in any letter case, or as
 * its NAME or REPLYADDR (ASCII case ignored) when exactly one account has
 * it. A GUID spelling wins over a NAME that looks like a GUID. An unknown
 * or ambiguous name is an error naming the store searched, so a mistyped
 * $EMAIL2_HOME shows at once.
 */
#include "config.h"

#include "email2.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guid.h"
#include "store.h"

/* Counts and records the accounts whose NAME or REPLYADDR is name. */
static enum e2_status
account_name_match(struct e2_store *st, char **guids, size_t n,
		   const char *name, size_t *hits_out, size_t *first_out,
		   size_t *second_out, struct e2_err *err)
{
	static const char *const nodes[] = {"NAME", "REPLYADDR"};
	size_t hits = 0;

	*first_out = *second_out = n;
	for (size_t i = 0; i < n; i++) {
		bool hit = false;

		for (size_t k = 0; k < 2 && !hit; k++) {
			bool found = false;
			char *v = NULL;
			enum e2_status rc;

			rc = store_node_get(st, guids[i], nodes[k], &found, &v,
					    err);
			if (rc != E2_OK)
				return rc;
			hit = found && v != NULL && strcasecmp(v, name) == 0;
			free(v);
		}
		if (!hit)
			continue;
		if (hits == 0)
			*first_out = i;
		else if (hits == 1)
			*second_out = i;
		hits++;
	}
	*hits_out = hits;
	return E2_OK;
}

enum e2_status
e2_account_resolve(struct e2_store *st, const char *name, char **guid_out,
		   struct e2_err *err)
{
	char canon[GUID_CANON_SIZE], stored[STORE_GUID_MAX], q[160];
	char **guids = NULL;
	size_t n = 0, hits = 0, first = 0, second = 0;
	bool found = false;
	enum e2_status rc;

	if (name == NULL || name[0] == '\0')
		return e2_fail(err, E2_EINVAL, "account: empty name");
	(void)e2_quote(q, sizeof(q), name, strlen(name));
	if (guid_canon(name, strlen(name), true, canon, sizeof(canon), NULL,
		       NULL) == GUID_OK) {
		rc = store_account_find(st, canon, &found, stored, err);
		if (rc != E2_OK)
			return rc;
		if (found) {
			*guid_out = strdup(stored);
			return *guid_out != NULL ? E2_OK
						 : e2_fail(err, E2_ENOMEM,
							   "out of memory");
		}
	}
	rc = store_account_list(st, &guids, &n, err);
	if (rc != E2_OK)
		return rc;
	rc = account_name_match(st, guids, n, name, &hits, &first, &second,
				err);
	if (rc != E2_OK)
		goto out;
	if (hits == 0) {
		rc = e2_fail(err, E2_EINVAL,
			     "account \"%s\": no account has this GUID, NAME "
			     "or REPLYADDR in the store %s",
			     q, e2_store_dir(st));
		goto out;
	}
	if (hits > 1) {
		rc = e2_fail(err, E2_EINVAL,
			     "account \"%s\": %zu accounts have this NAME or "
			     "REPLYADDR (%s, %s%s): name one by its GUID",
			     q, hits, guids[first], guids[second],
			     hits > 2 ? ", ..." : "");
		goto out;
	}
	*guid_out = strdup(guids[first]);
	if (*guid_out == NULL)
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
out:
	e2_strv_free(&guids, n);
	return rc;
}
