/* SPDX-License-Identifier: MIT */
/* sync_preview.c -- a sync's dry run: the actions shown, never done */
#include "config.h"

#include "sync_preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decisions (issue 9): the preview runs the sync's own decisions
 * (reconcile_folder(), reconcile_folder_decide()) on the same inputs and
 * hands each kind of action to the caller as one line per folder: a count,
 * the bytes when the listing has them, and the UIDs (or local names,
 * recipients) as detail, cut at SYNC_PREVIEW_DETAIL bytes with "...".
 * KEEP actions change nothing and are not shown.
 */

void
sync_preview(struct sync_ctx *c, const char *folder, const char *kind,
	     size_t count, unsigned long long bytes, const char *detail)
{
	if (count == 0 || c->o.preview == NULL)
		return;
	c->o.preview(c->o.preview_ctx, folder, kind, count, bytes,
		     detail != NULL ? detail : "");
}

void
sync_preview_add(char *d, size_t dlen, const char *item)
{
	size_t n = strlen(d);

	if (n >= 3 && strcmp(d + n - 3, "...") == 0)
		return;
	if (n + strlen(item) + 2 + 4 >= dlen) {
		(void)snprintf(d + n, dlen - n, "%s...", n > 0 ? " " : "");
		return;
	}
	(void)snprintf(d + n, dlen - n, "%s%s", n > 0 ? " " : "", item);
}

/* The kinds in the order a sync carries them out, with their names. */
static const struct {
	enum reconcile_kind kind;
	const char *name;
} preview_kinds[] = {
	{RECONCILE_PULL_FLAGS, "flag-pull"},
	{RECONCILE_PUSH_FLAGS, "flag-push"},
	{RECONCILE_LOCAL_DELETE, "local-delete"},
	{RECONCILE_SERVER_DELETE, "server-delete"},
	{RECONCILE_TOMBSTONE, "tombstone"},
	{RECONCILE_AGE_OUT, "age-out"},
	{RECONCILE_DROP_ROW, "forget"},
	{RECONCILE_ADOPT, "adopt"},
	{RECONCILE_DOWNLOAD, "download"},
	{RECONCILE_UPLOAD, "upload"},
	{RECONCILE_SERVER_MOVE, "server-move"},
	{RECONCILE_SERVER_COPY, "server-copy"},
};

/* One item of action a: the UID (UIDL) it is about, else the local name */
static void
preview_item(const struct reconcile_input *in, const struct reconcile_action *a,
	     char *out, size_t outlen)
{
	if (a->from != NULL) {
		(void)snprintf(out, outlen, "%lu", (unsigned long)a->from->uid);
	} else if (a->server != RECONCILE_NONE) {
		const struct reconcile_server *s = &in->server[a->server];

		if (s->uidl != NULL)
			(void)e2_quote(out, outlen, s->uidl, strlen(s->uidl));
		else
			(void)snprintf(out, outlen, "%lu",
				       (unsigned long)s->uid);
	} else if (a->row != RECONCILE_NONE) {
		const struct reconcile_row *r = &in->rows[a->row];

		if (r->uidl != NULL)
			(void)e2_quote(out, outlen, r->uidl, strlen(r->uidl));
		else
			(void)snprintf(out, outlen, "%lu",
				       (unsigned long)r->uid);
	} else if (a->local != RECONCILE_NONE) {
		const char *u = in->local[a->local].uniq;

		(void)e2_quote(out, outlen, u, strlen(u));
	} else {
		(void)snprintf(out, outlen, "?");
	}
}

void
sync_preview_plan(struct sync_ctx *c, const char *folder,
		  const struct reconcile_input *in,
		  const struct reconcile_plan *p, const uint64_t *sizes)
{
	for (size_t k = 0; k < sizeof(preview_kinds) / sizeof(*preview_kinds);
	     k++) {
		char detail[SYNC_PREVIEW_DETAIL + 64] = "";
		unsigned long long bytes = 0;
		size_t n = 0;

		if (preview_kinds[k].kind == RECONCILE_SERVER_DELETE)
			(void)snprintf(
				detail, sizeof(detail), "%s:",
				in->proto == RECONCILE_POP3
					? (in->serverdeleteaction == 1
						   ? "DELE"
						   : "left on the server")
					: (in->serverdeleteaction == 1
						   ? "expunge"
						   : "move to Trash"));
		for (size_t i = 0; i < p->n; i++) {
			const struct reconcile_action *a = &p->v[i];
			char item[64];

			if (a->kind != preview_kinds[k].kind)
				continue;
			n++;
			if (sizes != NULL && a->kind == RECONCILE_DOWNLOAD &&
			    a->server != RECONCILE_NONE)
				bytes += sizes[a->server];
			preview_item(in, a, item, sizeof(item));
			sync_preview_add(detail, SYNC_PREVIEW_DETAIL, item);
		}
		sync_preview(c, folder, preview_kinds[k].name, n, bytes,
			     detail);
	}
}

enum e2_status
sync_preview_outbox(struct sync_ctx *c, struct e2_err *err)
{
	struct e2_outbox_item *items = NULL;
	char detail[SYNC_PREVIEW_DETAIL + 64] = "";
	size_t n = 0, due = 0;
	enum e2_status rc;

	rc = e2_outbox_list(c->st, c->a->guid, &items, &n, err);
	if (rc != E2_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct e2_outbox_item *it = &items[i];
		char item[160];

		/* FAILED waits for a retry; SENT has only its filing left */
		if (it->state != E2_OUTBOX_NEW && it->state != E2_OUTBOX_QUEUED)
			continue;
		if (it->next_attempt > (int64_t)c->now)
			continue;
		due++;
		(void)snprintf(item, sizeof(item), "%s to %s;", it->id,
			       it->rcpt != NULL ? it->rcpt : "?");
		sync_preview_add(detail, SYNC_PREVIEW_DETAIL, item);
	}
	sync_preview(c, "", "send", due, 0, detail);
	e2_outbox_items_free(&items, n);
	return E2_OK;
}
