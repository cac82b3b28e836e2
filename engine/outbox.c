/* SPDX-License-Identifier: MIT */
/* outbox.c -- where an account's send queue lives (see outbox.h) */
#include "config.h"

#include "outbox.h"

#include <stdlib.h>

#include "maildir.h"

enum e2_status
outbox_open(struct e2_store *st, const char *guid, char **path_out,
	    struct e2_err *err)
{
	struct maildir *md = NULL;
	char *q = NULL;
	enum e2_status rc;

	rc = store_account_dir(st, STORE_AREA_OUTBOX, guid, &q, err);
	if (rc != E2_OK)
		return rc;
	/* maildir_open() makes tmp/ new/ cur/ when missing */
	rc = maildir_open(q, &md, err);
	maildir_close(&md);
	if (rc != E2_OK) {
		free(q);
		return rc;
	}
	*path_out = q;
	return E2_OK;
}
