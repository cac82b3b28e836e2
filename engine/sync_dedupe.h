/* SPDX-License-Identifier: MIT */
/* sync_dedupe.h -- after a UIDVALIDITY change: drop the copies repeated */
#ifndef E2_SYNC_DEDUPE_H
#define E2_SYNC_DEDUPE_H

#include "email2.h"

/*
 * A folder whose UIDVALIDITY changed is downloaded again under the new
 * value, and the files of the old one are kept (RFC 3501 2.3.1.1: the old
 * UIDs mean nothing now, but a local file is never thrown away on a guess).
 * This pass then removes each old file ("U=<uid>-V<other validity>") that
 * is byte for byte the same as a file of the current validity, so the
 * folder ends up with one copy of every message and the old files that
 * have no twin on the server (local mail) stay. The standard flags the
 * old copy had locally (F, R, S) are added to its twin, so the next sync
 * pushes them. Files are compared only when their sizes (",S=") match.
 * *removed_out (maybe NULL) counts the files removed.
 * Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status sync_drop_stale_copies(const char *folder_path,
				      uint32_t validity, size_t *removed_out,
				      struct e2_err *err);

#endif /* E2_SYNC_DEDUPE_H */
