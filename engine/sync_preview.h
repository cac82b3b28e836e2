/* SPDX-License-Identifier: MIT */
/* sync_preview.h -- a sync's dry run (e2_sync_opts.dry_run, issue 9) */
#ifndef E2_SYNC_PREVIEW_H
#define E2_SYNC_PREVIEW_H

#include "reconcile.h"
#include "sync.h"

/* A preview line's detail: items cut at this many bytes with "...". */
#define SYNC_PREVIEW_DETAIL 200

/* Appends item to the detail d (dlen bytes, "" at first), separated by a
 * space; "..." once it is full. */
void sync_preview_add(char *d, size_t dlen, const char *item);

/* Hands one preview line to the caller's callback; count 0 is not shown. */
void sync_preview(struct sync_ctx *c, const char *folder, const char *kind,
		  size_t count, unsigned long long bytes, const char *detail);

/*
 * The plan reconcile_folder() made for folder from in, one line per kind
 * of action (KEEP not shown). sizes (may be NULL) holds each server
 * message's size, indexed like in->server.
 */
void sync_preview_plan(struct sync_ctx *c, const char *folder,
		       const struct reconcile_input *in,
		       const struct reconcile_plan *p, const uint64_t *sizes);

/*
 * The messages of the send queue a sync would send now (new or queued and
 * due), with their recipients: one "send" line. Reads only.
 * Errors: e2_outbox_list()'s.
 */
enum e2_status sync_preview_outbox(struct sync_ctx *c, struct e2_err *err);

#endif /* E2_SYNC_PREVIEW_H */
