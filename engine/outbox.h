/* SPDX-License-Identifier: MIT */
/* outbox.h -- where an account's send queue lives */
#ifndef E2_OUTBOX_H
#define E2_OUTBOX_H

#include "email2.h"

/*
 * The send queue of account GUID is the Maildir <store>/outbox/{GUID}/
 * (tmp/ new/ cur/, directories 0700, files 0600): outside <store>/mail/,
 * the tree that server folders map into, so no server folder name -- not
 * "Outbox", not any encoding of one -- can name it, and nothing a sync
 * writes ever lands in it. This is the one function that names the path;
 * the sync (send.c) and account deletion (store.c) both use it.
 */

/*
 * "<store_dir>/outbox/<guid>" into *path_out (caller frees). guid must be
 * a single path component (the CSP only stores "{...}" GUIDs).
 * Errors: E2_EINVAL (guid empty, ".", "..", or with a '/'), E2_ENOMEM.
 */
enum e2_status outbox_path(const char *store_dir, const char *guid,
			   char **path_out, struct e2_err *err);

/*
 * outbox_path(), with <store>/outbox, the queue and its tmp/ new/ cur/
 * created (0700) when missing; each must be a directory, not a symlink.
 * *created_out (may be NULL) says whether the queue itself was made now.
 * Errors: E2_EINVAL (as outbox_path()), E2_ESTORE (mkdir failed, or a
 * symlink or non-directory in the way: path and reason), E2_ENOMEM.
 */
enum e2_status outbox_open(const char *store_dir, const char *guid,
			   char **path_out, bool *created_out,
			   struct e2_err *err);

#endif /* E2_OUTBOX_H */
