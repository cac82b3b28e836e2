/* SPDX-License-Identifier: MIT */
/* sync_full.h -- fetching the whole message later: the protocol halves */
#ifndef E2_SYNC_FULL_H
#define E2_SYNC_FULL_H

#include "sync.h"

/*
 * e2_sync_fetch_full() (sync_full.c) finds the file and its state row, then
 * asks the protocol for the whole message; the protocol calls fn once with
 * the message's bytes (valid during the call only) and the file tag the
 * sync gives the message ("U=<uid>-V<validity>", "L=<base64url(UIDL)>").
 * fn's result is returned as it is.
 */
typedef enum e2_status (*sync_full_fn)(void *ctx, const char *tag,
				       const char *body, size_t len,
				       struct e2_err *err);

/*
 * IMAP (sync_imap.c): EXAMINE folder, checks that its UIDVALIDITY is still
 * uidvalidity, UID FETCH uid (BODY.PEEK[]). Errors: E2_EINVAL (UIDVALIDITY
 * changed, the UID is gone), the transport's.
 */
enum e2_status sync_imap_fetch_whole(struct sync_ctx *c, const char *folder,
				     uint32_t uid, uint32_t uidvalidity,
				     sync_full_fn fn, void *ctx,
				     struct e2_err *err);

/*
 * POP3 (sync_pop3.c): LIST + UIDL, then RETR of the message listed as uidl.
 * Errors: E2_EINVAL (the UIDL is not listed any more), the transport's.
 */
enum e2_status sync_pop3_fetch_whole(struct sync_ctx *c, const char *uidl,
				     sync_full_fn fn, void *ctx,
				     struct e2_err *err);

#endif /* E2_SYNC_FULL_H */
