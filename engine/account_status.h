/* SPDX-License-Identifier: MIT */
/* account_status.h -- recording each account's last sync run (sync.c) */
#ifndef E2_ACCOUNT_STATUS_H
#define E2_ACCOUNT_STATUS_H

#include "email2.h"

/*
 * How a run ended: FAILED when rc is not E2_OK, INTERRUPTED when the
 * caller asked it to stop, PARTIAL when something was skipped, else OK.
 */
enum e2_sync_result account_status_classify(enum e2_status rc,
					    const struct e2_sync_stats *s,
					    bool stopped);

/* The counts of stats into s (the rest of s untouched). */
void account_status_from_stats(const struct e2_sync_stats *stats,
			       struct e2_account_status *s);

/*
 * Writes s as the last run of guid (the stored spelling; the account
 * exists), in its own statement outside any transaction (autocommit).
 * Errors: E2_ESTORE.
 */
enum e2_status account_status_record(struct e2_store *st, const char *guid,
				     const struct e2_account_status *s,
				     struct e2_err *err);

#endif /* E2_ACCOUNT_STATUS_H */
