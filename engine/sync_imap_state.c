/* SPDX-License-Identifier: MIT */
/* sync_imap_state.c -- the IMAP sync's state rows and stamps */
#include "config.h"

#include "sync_imap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_bodystructure.h"
#include "imap_fetch_stream.h"
#include "mime.h"
#include "msgfile.h"
#include "transports/chain.h"
#include "transports/xport.h"

#define STATE_PAGE 256

enum e2_status
state_folder_get(struct sync_ctx *c, const char *folder,
		 struct sync_folder_state *fs_out, struct e2_err *err)
{
	struct syncstate_folder sf = {0};
	bool found = false;
	enum e2_status rc;

	rc = syncstate_folder_get(c->ss, folder, &found, &sf, err);
	if (rc != E2_OK)
		return rc;
	memset(fs_out, 0, sizeof(*fs_out));
	fs_out->known = found;
	fs_out->uidvalidity = sf.uidvalidity;
	fs_out->uidnext = sf.uidnext;
	fs_out->modseq = sf.highestmodseq;
	fs_out->nmsgs = sf.messages;
	memcpy(fs_out->local_stamp, sf.local_stamp, sizeof(sf.local_stamp));
	memcpy(fs_out->server_stamp, sf.server_stamp, sizeof(sf.server_stamp));
	return E2_OK;
}

enum e2_status
state_folder_put(struct sync_ctx *c, const char *folder,
		 const struct sync_folder_state *fs, struct e2_err *err)
{
	struct syncstate_folder sf = {
		.uidvalidity = fs->uidvalidity,
		.highestmodseq = fs->modseq,
		.uidnext = fs->uidnext,
		.messages = fs->nmsgs,
	};

	memcpy(sf.local_stamp, fs->local_stamp, sizeof(sf.local_stamp));
	memcpy(sf.server_stamp, fs->server_stamp, sizeof(sf.server_stamp));
	return syncstate_folder_put(c->ss, folder, &sf, err);
}

void
state_rows_free(struct sync_msg_row **rows, size_t n)
{
	if (rows == NULL || *rows == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*rows)[i].uniq);
	free(*rows);
	*rows = NULL;
}

/* Every IMAP row of the folder, in uid order, read a page at a time. */
enum e2_status
state_rows_load(struct sync_ctx *c, const char *folder,
		struct sync_msg_row **rows_out, size_t *n_out,
		struct e2_err *err)
{
	struct syncstate_msg *page = NULL;
	struct sync_msg_row *rows = NULL, *grown;
	size_t n = 0, cap = 0, got;
	uint32_t after = 0;
	enum e2_status rc = E2_OK;

	page = calloc(STATE_PAGE, sizeof(*page));
	if (page == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	do {
		rc = syncstate_msg_list_uid(c->ss, folder, after, page,
					    STATE_PAGE, &got, err);
		if (rc != E2_OK)
			goto out;
		for (size_t i = 0; i < got; i++) {
			if (n == cap) {
				cap = cap == 0 ? STATE_PAGE : cap * 2;
				grown = realloc(rows, cap * sizeof(*rows));
				if (grown == NULL) {
					rc = e2_fail(err, E2_ENOMEM,
						     "out of memory");
					goto out;
				}
				rows = grown;
			}
			memset(&rows[n], 0, sizeof(rows[n]));
			rows[n].uid = page[i].uid;
			rows[n].uniq = strdup(page[i].local_name);
			if (rows[n].uniq == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
			maildir_flags_normalize(page[i].flags, rows[n].flags);
			rows[n].partial = page[i].partial;
			rows[n].omitted = page[i].omitted;
			rows[n].internal_date = page[i].internal_date;
			n++;
			after = page[i].uid;
		}
	} while (got == STATE_PAGE);
	*rows_out = rows;
	*n_out = n;
	rows = NULL;
	n = 0;
out:
	state_rows_free(&rows, n);
	free(page);
	return rc;
}

enum e2_status
state_row_put(struct sync_ctx *c, const char *folder,
	      const struct sync_msg_row *row, struct e2_err *err)
{
	struct syncstate_msg m = {0};

	m.uid = row->uid;
	if (snprintf(m.local_name, sizeof(m.local_name), "%s", row->uniq) >=
	    (int)sizeof(m.local_name))
		return e2_fail(err, E2_EINVAL, "maildir name too long");
	memcpy(m.flags, row->flags, sizeof(m.flags));
	m.partial = row->partial;
	m.omitted = row->omitted;
	m.internal_date = row->internal_date;
	return syncstate_msg_put(c->ss, folder, &m, err);
}

/* DWNDAY's cutoff: UTC midnight dwnday days ago (SINCE compares dates). */
static int64_t
dwnday_cutoff(const struct sync_ctx *c)
{
	int64_t t = (int64_t)c->now - (int64_t)c->a->dwnday * 86400;

	return t - ((t % 86400) + 86400) % 86400;
}

/*
 * Whether DWNDAY leaves nothing to do in a folder the server did not
 * change: no row has aged out of the window (rows of adopted files have no
 * date and wait for the next change), and with DWNDAY -1 every server
 * message has a row (a window that was smaller before has been widened).
 * One SQL aggregate, no row read.
 */
enum e2_status
folder_window_settled(struct folder_run *f, bool *settled_out,
		      struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct syncstate_summary sum;
	enum e2_status rc = syncstate_msg_summary(c->ss, f->name, &sum, err);

	if (rc != E2_OK)
		return rc;
	if (c->a->dwnday < 0)
		*settled_out = sum.count >= f->cur.nmsgs;
	else
		*settled_out =
			sum.oldest == 0 || sum.oldest >= dwnday_cutoff(c);
	return E2_OK;
}

/*
 * The server as the last complete sync left it: CONDSTORE's HIGHESTMODSEQ
 * and the counters unchanged, and the same DWNDAY.
 */
bool
folder_server_same(const struct folder_run *f)
{
	return f->fs.known && f->cur.modseq != 0 &&
	       f->fs.uidvalidity == f->cur.uidvalidity &&
	       f->fs.uidnext == f->cur.uidnext && f->fs.nmsgs == f->cur.nmsgs &&
	       f->fs.modseq == f->cur.modseq &&
	       strcmp(f->fs.server_stamp, f->cur.server_stamp) == 0;
}

/*
 * The no-change test that reads no row and no file name (syncstate.h,
 * "stamps"): the server as it was, the folder's stamp as stored, and the
 * DWNDAY window still holding every row.
 */
enum e2_status
folder_unchanged(struct folder_run *f, bool *same_out, struct e2_err *err)
{
	*same_out = false;
	if (!folder_server_same(f) || f->cur.local_stamp[0] == '\0' ||
	    strcmp(f->cur.local_stamp, f->fs.local_stamp) != 0)
		return E2_OK;
	return folder_window_settled(f, same_out, err);
}
