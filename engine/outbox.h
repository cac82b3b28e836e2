/* SPDX-License-Identifier: MIT */
/* outbox.h -- where an account's send queue lives */
#ifndef E2_OUTBOX_H
#define E2_OUTBOX_H

#include "email2.h"
#include "store.h"

/*
 * The send queue of account GUID is the Maildir <store>/outbox/{GUID}/
 * (tmp/ new/ cur/, directories 0700, files 0600): outside <store>/mail/,
 * the tree that server folders map into, so no server folder name -- not
 * "Outbox", not any encoding of one -- can name it, and nothing a sync
 * writes ever lands in it. store_account_dir(STORE_AREA_OUTBOX) is the one
 * function that names the path and checks it is the user's own; account
 * deletion (store_account_remove_files()) removes the same directory.
 */

/*
 * The queue's path into *path_out (caller frees), with the queue and its
 * tmp/ new/ cur/ created (0700) when missing, after store_account_dir()'s
 * checks (owner, mode, no symlink). guid: the stored spelling.
 * Errors: as store_account_dir() (E2_ESTORE naming the path and the fix,
 * E2_EINVAL, E2_ENOMEM), E2_ESTORE (mkdir of a subdirectory failed).
 */
enum e2_status outbox_open(struct e2_store *st, const char *guid,
			   char **path_out, struct e2_err *err);

#endif /* E2_OUTBOX_H */
