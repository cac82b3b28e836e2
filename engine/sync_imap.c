/* SPDX-License-Identifier: MIT */
/* sync_imap.c -- IMAP4 and the account's Maildir++, both ways */
#include "config.h"

#include "sync_imap_int.h"
#include "sync_dedupe.h"
#include "sync_full.h"
#include "sync_imap_folders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "grow.h"
#include "imap_bodystructure.h"
#include "imap_fetch_stream.h"
#include "mime.h"
#include "msgfile.h"
#include "reconcile.h"
#include "engine/account_conn.h"
#include "sync_preview.h"
#include "transports/chain.h"
#include "transports/xport.h"

/*
 * Rules (DESIGN.md "Sync rules"; decisions written here):
 *
 * Folders: every LISTed mailbox without \Noselect / \NonExistent, INBOX
 * first. INBOX is the Maildir root, others ".Name" (maildir_folder_encode()).
 * State is keyed by the server's name. Two server names never share a
 * directory (maildir_folder_claim(): each directory records the one name
 * that owns it; a later name that encodes the same gets the stable suffix
 * "%-2", "%-3", ...). A folder that cannot be mapped (too long, an empty
 * component, every candidate owned) is skipped and reported, the run is
 * then "partial" (e2_sync_stats.skipped); so is a KEEPMAX message whose
 * plan cannot be assembled (mime_plan_check()).
 *
 * Per folder: SELECT (with CONDSTORE when offered). The folder is skipped
 * with no further command when UIDVALIDITY, UIDNEXT, EXISTS, HIGHESTMODSEQ
 * and DWNDAY equal the stored ones and no local file changed. The local
 * side is first asked cheaply: when the folder's stamp (maildir_stamp(),
 * taken before anything is listed) equals the one stored by the last
 * complete run and one SQL aggregate says no row left the DWNDAY window,
 * no row and no file name is read, so a no-change resync costs the same at
 * 20 messages as at 20,000. Otherwise the rows are compared with a readdir
 * of new/ and cur/, and a skip stores the fresh stamp. Without CONDSTORE a
 * server-side flag change cannot be seen from SELECT, so such a folder is
 * never skipped.
 *
 * Otherwise the folder is reconciled both ways by reconcile_folder()
 * (reconcile.h, rules R1-R16; "the server listing and the plan" below):
 * known messages are listed in UID chunks of SYNC_IMAP_CHUNK (UID FETCH
 * lo:hi (UID FLAGS)), new ones by UID SEARCH; a row whose UID the server
 * no longer has was expunged there; flags S F R are merged per flag
 * against the last synced value (a local change wins); a local file that
 * is gone, or carries T, is a local delete unless another folder's file
 * names it (a move: "the account pass", "uploads").
 *
 * New messages: UID SEARCH UID <next>:* [SINCE <DWNDAY>] gives the UIDs.
 * Without RETRIEVE and KEEPMAX they are streamed (folder_stream(): one
 * UID FETCH for many, each body written to tmp/ as it arrives, durable
 * batches committed between two messages). Otherwise UID FETCH (UID
 * RFC822.SIZE) gives their sizes, and batches of at most
 * batch_msgs messages / batch_bytes bytes are fetched with UID FETCH
 * (UID FLAGS BODY.PEEK[]) -- or BODY.PEEK[]<0.RETRIEVE> for messages over
 * RETRIEVE, stored through mime_truncate() and marked partial. libetpan
 * holds one FETCH response in memory, so memory is bounded by the batch
 * (plus one message larger than the batch), not the mailbox. Each batch
 * is made durable (maildir_batch_commit()) before its rows commit in one
 * store transaction. Files carry the tag "U=<uid>-V<uidvalidity>-F<id>"
 * (the old form without -F is still read, reconcile.h "Tags"): a crash
 * between the rename and the row commit leaves a file the next run adopts
 * instead of downloading again (no duplicate).
 *
 * UIDVALIDITY change: the folder's rows are dropped, its files are kept
 * as they are (local mail is never lost) and the folder is downloaded
 * again. Files of the old validity keep their old tag and are not adopted;
 * once the download is complete, sync_drop_stale_copies() removes each of
 * them that is byte for byte a message downloaded again (its local F/R/S
 * carried over and pushed next time), so nothing is duplicated; an old
 * file with no twin on the server stays as local-only mail.
 *
 * SERVERDELETEACTION (local delete = file gone or flag T):
 *  1: UID STORE +FLAGS.SILENT (\Deleted) on exactly our UIDs, then UID
 *     EXPUNGE of those UIDs when UIDPLUS exists; without UIDPLUS the
 *     messages are only flagged \Deleted (a bare EXPUNGE could remove
 *     messages others flagged).
 *  2 (and the default, 0: what IMAP clients do): moved to the Trash folder
 *     (SPECIAL-USE \Trash, else "Trash", "Deleted Items", "Deleted
 *     Messages"): UID MOVE when MOVE exists, else UID COPY + \Deleted +
 *     UID EXPUNGE. In the Trash itself, or with no Trash, as 1.
 * DWNDAY: messages of known UIDs older than the window (UID SEARCH BEFORE)
 * leave the local store only: file and row go, the server is not touched.
 */

/* ---- errors -------------------------------------------------------------- */

enum e2_status
imap_fail(struct imap_run *r, int code, const char *what, struct e2_err *err)
{
	/*
	 * After a parse error libetpan's framing is lost: nothing more is
	 * read (LOGOUT included). The chain's error holds the cause when the
	 * transport or the server-byte guard (transports/guard.h) failed the
	 * read, e.g. "imap response \"* OK [PERMANENTFLAGS (\": ...".
	 */
	if (code == MAILIMAP_ERROR_PARSE)
		xport_etpan_refuse_reads(r->imap->imap_stream);
	return sync_cmd_fail(r->sess, "imap", what, code,
			     code == MAILIMAP_ERROR_STREAM,
			     r->imap->imap_response, err);
}

enum e2_status
imap_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

/* ---- capabilities -------------------------------------------------------- */

static enum e2_status
imap_read_caps(struct imap_run *r, struct e2_err *err)
{
	struct mailimap_connection_info *ci = r->imap->imap_connection_info;
	struct mailimap_capability_data *cd = NULL;
	int code;

	/* libetpan copies its stored list after CAPABILITY: never NULL */
	if (ci != NULL && ci->imap_capability == NULL) {
		clist *empty = clist_new();

		if (empty == NULL)
			return imap_oom(err);
		ci->imap_capability = mailimap_capability_data_new(empty);
		if (ci->imap_capability == NULL) {
			clist_free(empty);
			return imap_oom(err);
		}
	}
	code = mailimap_capability(r->imap, &cd);
	if (code != MAILIMAP_NO_ERROR)
		return imap_fail(r, code, "CAPABILITY", err);
	for (clistiter *it = clist_begin(cd->cap_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_capability *cap = clist_content(it);
		const char *w;

		if (cap->cap_type != MAILIMAP_CAPABILITY_NAME)
			continue;
		w = cap->cap_data.cap_name;
		if (strcasecmp(w, "CONDSTORE") == 0 ||
		    strcasecmp(w, "QRESYNC") == 0)
			r->caps.condstore = true;
		else if (strcasecmp(w, "UIDPLUS") == 0)
			r->caps.uidplus = true;
		else if (strcasecmp(w, "MOVE") == 0)
			r->caps.move = true;
		else if (strncasecmp(w, "APPENDLIMIT=", 12) == 0 &&
			 w[12] >= '0' && w[12] <= '9')
			r->caps.appendlimit = strtoull(w + 12, NULL, 10);
	}
	mailimap_capability_data_free(cd);
	return E2_OK;
}

/* ---- local files -----------------------------------------------------------
 */

/*
 * A "U=" tag value -> its uid when it names this folder's current
 * UIDVALIDITY: the new form "<uid>-V<validity>-F<id>" with this folder's
 * id, or the old form "<uid>-V<validity>" (read, never written any more;
 * reconcile.h "Tags"); else 0.
 */
static uint32_t
local_tag_uid(const char *val, uint32_t validity, const char *folder_id)
{
	struct reconcile_tag t;

	if (!reconcile_tag_parse(val, &t) || t.uidvalidity != validity ||
	    (t.folder_id[0] != '\0' && strcmp(t.folder_id, folder_id) != 0))
		return 0;
	return t.uid;
}

/* ---- flags -----------------------------------------------------------------
 */

bool
flag_has(const char *flags, char f)
{
	return strchr(flags, f) != NULL;
}

/* The synced letters (S F R) of flags, in order. */
void
flags_synced(const char *flags, char out[MAILDIR_FLAGS_MAX])
{
	sync_flags_from_imap(flag_has(flags, 'S'), flag_has(flags, 'F'),
			     flag_has(flags, 'R'), false, out);
}

static void
imap_att_flags(struct mailimap_msg_att_dynamic *dyn,
	       char out[MAILDIR_FLAGS_MAX], bool *deleted_out)
{
	bool seen = false, flagged = false, answered = false, draft = false;

	*deleted_out = false;
	if (dyn != NULL && dyn->att_list != NULL) {
		for (clistiter *it = clist_begin(dyn->att_list); it != NULL;
		     it = clist_next(it)) {
			struct mailimap_flag_fetch *ff = clist_content(it);

			if (ff->fl_type != MAILIMAP_FLAG_FETCH_OTHER ||
			    ff->fl_flag == NULL)
				continue;
			switch (ff->fl_flag->fl_type) {
			case MAILIMAP_FLAG_SEEN:
				seen = true;
				break;
			case MAILIMAP_FLAG_FLAGGED:
				flagged = true;
				break;
			case MAILIMAP_FLAG_ANSWERED:
				answered = true;
				break;
			case MAILIMAP_FLAG_DRAFT:
				draft = true;
				break;
			case MAILIMAP_FLAG_DELETED:
				*deleted_out = true;
				break;
			default:
				break;
			}
		}
	}
	sync_flags_from_imap(seen, flagged, answered, draft, out);
}

void
imap_msg_parse(struct mailimap_msg_att *att, struct imap_msg *m)
{
	memset(m, 0, sizeof(*m));
	for (clistiter *it = clist_begin(att->att_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);

		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC) {
			imap_att_flags(item->att_data.att_dyn, m->flags,
				       &m->deleted);
			m->has_flags = true;
			continue;
		}
		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		struct mailimap_msg_att_static *s = item->att_data.att_static;

		switch (s->att_type) {
		case MAILIMAP_MSG_ATT_UID:
			m->uid = s->att_data.att_uid;
			break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			m->size = s->att_data.att_rfc822_size;
			break;
		case MAILIMAP_MSG_ATT_BODYSTRUCTURE:
			m->bodystructure = s->att_data.att_bodystructure;
			break;
		case MAILIMAP_MSG_ATT_INTERNALDATE:
			m->internal_date = imap_fetch_date_time(
				s->att_data.att_internal_date);
			break;
		case MAILIMAP_MSG_ATT_BODY_SECTION:
			if (s->att_data.att_body_section != NULL) {
				m->body = s->att_data.att_body_section
						  ->sec_body_part;
				m->body_len = s->att_data.att_body_section
						      ->sec_length;
			}
			break;
		default:
			break;
		}
	}
}

struct mailimap_set *
imap_set_of(const uint32_t *uids, size_t n)
{
	struct mailimap_set *set = mailimap_set_new_empty();

	if (set == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (mailimap_set_add_interval(set, uids[i], uids[j]) !=
		    MAILIMAP_NO_ERROR) {
			mailimap_set_free(set);
			return NULL;
		}
		i = j + 1;
	}
	return set;
}

/* UID STORE set +/-FLAGS.SILENT (flag) */
enum e2_status
imap_store_flag(struct imap_run *r, const uint32_t *uids, size_t n,
		struct mailimap_flag *(*mk)(void), bool add, struct e2_err *err)
{
	struct mailimap_set *set = NULL;
	struct mailimap_flag_list *fl = NULL;
	struct mailimap_store_att_flags *sf = NULL;
	struct mailimap_flag *f;
	enum e2_status rc = E2_OK;
	int code;

	if (n == 0)
		return E2_OK;
	set = imap_set_of(uids, n);
	fl = mailimap_flag_list_new_empty();
	f = mk();
	if (set == NULL || fl == NULL || f == NULL ||
	    mailimap_flag_list_add(fl, f) != MAILIMAP_NO_ERROR) {
		if (f != NULL)
			mailimap_flag_free(f);
		rc = imap_oom(err);
		goto out;
	}
	sf = add ? mailimap_store_att_flags_new_add_flags_silent(fl)
		 : mailimap_store_att_flags_new_remove_flags_silent(fl);
	if (sf == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	fl = NULL; /* owned by sf */
	code = mailimap_uid_store(r->imap, set, sf);
	if (code != MAILIMAP_NO_ERROR)
		rc = imap_fail(r, code, "UID STORE", err);
out:
	if (sf != NULL)
		mailimap_store_att_flags_free(sf);
	if (fl != NULL)
		mailimap_flag_list_free(fl);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/* ---- uid vectors ------------------------------------------------------------
 */

enum e2_status
uidv_add(struct uidv *u, uint32_t uid, struct e2_err *err)
{
	if (u->n == u->cap) {
		size_t cap = u->cap == 0 ? 64 : u->cap * 2;
		uint32_t *g = realloc(u->v, cap * sizeof(*g));

		if (g == NULL)
			return imap_oom(err);
		u->v = g;
		u->cap = cap;
	}
	u->v[u->n++] = uid;
	return E2_OK;
}

int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts u and drops repeated UIDs (a server may list one twice). */
void
uidv_sort_unique(struct uidv *u)
{
	size_t n = 0;

	if (u->n > 1)
		qsort(u->v, u->n, sizeof(*u->v), uid_cmp);
	for (size_t i = 0; i < u->n; i++)
		if (n == 0 || u->v[n - 1] != u->v[i])
			u->v[n++] = u->v[i];
	u->n = n;
}

void
uidv_free(struct uidv *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* FETCH answers: only what was asked for, each once: imap_fetch_asked
 * (imap_fetch_stream.h), used by every path below that sends a UID FETCH */

/* ---- state rows (engine/syncstate.h) in the form this loop walks
 * ------------------------------------------------------------------------- */

/* ---- one folder
 * ---------------------------------------------------------------- */

/* The file tag "U=<uid>-V<uidvalidity>-F<id>" of a download into f. */
enum e2_status
folder_tag(const struct folder_run *f, uint32_t uid, char out[SYNC_TAG_MAX],
	   struct e2_err *err)
{
	char val[RECONCILE_TAG_MAX];
	enum e2_status rc;

	rc = reconcile_tag_format(uid, f->cur.uidvalidity, f->id, val, err);
	if (rc == E2_OK)
		(void)snprintf(out, SYNC_TAG_MAX, "U=%s", val);
	return rc;
}

/* The local file of a row, NULL when gone. */
static struct maildir_file *
folder_local_of(struct folder_run *f, const struct sync_msg_row *row)
{
	return maildir_snapshot_find(&f->local, row->uniq);
}

/* Removes the rows (and local files) of uids, in one transaction. */
static enum e2_status
folder_drop_rows(struct folder_run *f, const struct uidv *u, bool count_server,
		 struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	enum e2_status rc;
	size_t k = 0;

	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	for (size_t i = 0; i < f->nrows && k < u->n; i++) {
		struct sync_msg_row *row = &f->rows[i];
		struct maildir_file *lf;

		while (k < u->n && u->v[k] < row->uid)
			k++;
		if (k == u->n || u->v[k] != row->uid)
			continue;
		lf = folder_local_of(f, row);
		if (lf != NULL) {
			rc = maildir_remove(f->path, lf->sub, lf->name, err);
			if (rc != E2_OK)
				goto fail;
		}
		rc = syncstate_msg_delete_uid(c->ss, f->name, row->uid, err);
		if (rc != E2_OK)
			goto fail;
		f->ndropped++;
		if (count_server)
			c->stats->deleted_server++;
		else
			c->stats->removed_local++;
	}
	return store_commit(c->st, err);
fail:
	store_rollback(c->st);
	return rc;
}

enum e2_status
folder_expunge(struct imap_run *r, struct mailimap_set *set, struct e2_err *err)
{
	int code;

	if (!r->caps.uidplus)
		return E2_OK; /* flagged \Deleted only: see the header */
	code = mailimap_uid_expunge(r->imap, set);
	if (code != MAILIMAP_NO_ERROR)
		return imap_fail(r, code, "UID EXPUNGE", err);
	return E2_OK;
}

static enum e2_status
folder_server_delete(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	int sda = r->c->a->serverdeleteaction;
	struct mailimap_set *set = NULL;
	enum e2_status rc = E2_OK;
	int code;

	if (f->del.n == 0)
		return E2_OK;
	qsort(f->del.v, f->del.n, sizeof(*f->del.v), uid_cmp);
	set = imap_set_of(f->del.v, f->del.n);
	if (set == NULL)
		return imap_oom(err);
	if (sda != 1 && r->trash != NULL && strcmp(r->trash, f->name) != 0) {
		if (r->caps.move) {
			code = mailimap_uid_move(r->imap, set, r->trash);
			if (code != MAILIMAP_NO_ERROR)
				rc = imap_fail(r, code, "UID MOVE", err);
			goto done;
		}
		code = mailimap_uid_copy(r->imap, set, r->trash);
		if (code != MAILIMAP_NO_ERROR) {
			rc = imap_fail(r, code, "UID COPY", err);
			goto done;
		}
	}
	rc = imap_store_flag(r, f->del.v, f->del.n, mailimap_flag_new_deleted,
			     true, err);
	if (rc == E2_OK)
		rc = folder_expunge(r, set, err);
done:
	mailimap_set_free(set);
	if (rc != E2_OK)
		return rc;
	return folder_drop_rows(f, &f->del, true, err);
}

static enum e2_status
folder_select(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_selection_info *si;
	uint64_t modseq = 0;
	int code;

	if (r->c->o.dry_run) /* issue 9: nothing changes, \Recent neither */
		code = mailimap_examine(r->imap, f->name);
	else if (r->caps.condstore)
		code = mailimap_select_condstore(r->imap, f->name, &modseq);
	else
		code = mailimap_select(r->imap, f->name);
	if (code != MAILIMAP_NO_ERROR)
		return imap_fail(r, code, "SELECT", err);
	si = r->imap->imap_selection_info;
	if (si == NULL)
		return e2_fail(err, E2_EPROTO, "imap SELECT %s: no status",
			       f->name);
	f->cur.known = true;
	f->cur.uidvalidity = si->sel_uidvalidity;
	f->cur.uidnext = si->sel_uidnext;
	f->cur.nmsgs = si->sel_has_exists ? si->sel_exists : 0;
	f->cur.modseq = modseq;
	(void)snprintf(f->cur.server_stamp, sizeof(f->cur.server_stamp),
		       "dwnday=%d", (int)r->c->a->dwnday);
	return E2_OK;
}

/*
 * A file of ours tagged with the UID of a row whose own file is there is a
 * second copy of that message: what an e2_sync_fetch_full() interrupted
 * between its new file and its row update leaves (sync_full.c), or a crash
 * duplicate. The row's file is the message; the copy goes.
 */
static enum e2_status
folder_drop_copies(struct folder_run *f, struct e2_err *err)
{
	for (size_t i = 0; i < f->local.n; i++) {
		struct maildir_file *lf = &f->local.v[i];
		uint32_t uid;
		size_t lo = 0, hi = f->nrows;
		enum e2_status rc;

		if (lf->matched)
			continue;
		uid = local_tag_uid(lf->tag, f->cur.uidvalidity, f->id);
		if (uid == 0)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (f->rows[mid].uid < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == f->nrows || f->rows[lo].uid != uid ||
		    folder_local_of(f, &f->rows[lo]) == NULL)
			continue;
		rc = maildir_remove(f->path, lf->sub, lf->name, err);
		if (rc != E2_OK)
			return rc;
		lf->matched = true;
		f->gone[i] = true;
	}
	return E2_OK;
}

/* ---- the server listing and the plan (reconcile.h) ------------------------
 *
 * Two-way sync of one folder. The input of reconcile_folder() is built
 * from the rows, the folder's files (maildir_snapshot()), the server
 * listing -- UID FETCH (UID FLAGS) of the rows' UID range in chunks, and
 * the new UIDs of UID SEARCH UID <next>:* [SINCE], the known ones the
 * DWNDAY window left marked by UID SEARCH BEFORE -- and the account pass
 * (imap_account_pass(): the rows of other folders that a file here names,
 * and the files of other folders that name a row here). The plan is then
 * carried out in this order, each step server first, then the disk, then
 * the rows (a kill repeats the step or is adopted next run):
 *  1. flags (PUSH_FLAGS by UID STORE, PULL_FLAGS by rename), rows that
 *     go (LOCAL_DELETE: expunged on the server, DROP_ROW), ADOPT: one
 *     transaction committed after the STOREs;
 *  2. SERVER_DELETE (R5: the message left every folder) per
 *     SERVERDELETEACTION, then AGE_OUT (local only);
 *  3. DOWNLOAD (streamed or in batches, as before);
 *  4. UPLOAD (APPEND), then SERVER_MOVE / SERVER_COPY, which SELECT the
 *     source folder (see "uploads" below).
 */

unsigned
flags_mask(const char *flags)
{
	return (flag_has(flags, 'S') ? RECONCILE_FLAG_SEEN : 0u) |
	       (flag_has(flags, 'F') ? RECONCILE_FLAG_FLAGGED : 0u) |
	       (flag_has(flags, 'R') ? RECONCILE_FLAG_ANSWERED : 0u) |
	       (flag_has(flags, 'T') ? RECONCILE_FLAG_TRASHED : 0u);
}

/* The synced letters of mask, normalized. */
void
mask_letters(unsigned mask, char out[MAILDIR_FLAGS_MAX])
{
	sync_flags_from_imap((mask & RECONCILE_FLAG_SEEN) != 0,
			     (mask & RECONCILE_FLAG_FLAGGED) != 0,
			     (mask & RECONCILE_FLAG_ANSWERED) != 0, false, out);
}

static enum e2_status
srv_add(struct folder_run *f, uint32_t uid, unsigned flags, struct e2_err *err)
{
	enum e2_status rc = grow_array(&f->srv, &f->capsrv, f->nsrv,
				       sizeof(*f->srv), 256, err);

	if (rc != E2_OK)
		return rc;
	memset(&f->srv[f->nsrv], 0, sizeof(f->srv[0]));
	f->srv[f->nsrv].uid = uid;
	f->srv[f->nsrv].flags = flags;
	f->nsrv++;
	return E2_OK;
}

static int
srv_cmp(const void *a, const void *b)
{
	const struct reconcile_server *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct reconcile_server *
srv_find(struct folder_run *f, uint32_t uid)
{
	struct reconcile_server key = {.uid = uid};

	return f->nsrv == 0 ? NULL
			    : bsearch(&key, f->srv, f->nsrv, sizeof(*f->srv),
				      srv_cmp);
}

/* One chunk [lo, hi) of rows: UID FETCH lo:hi (UID FLAGS) into srv. */
static enum e2_status
folder_list_chunk(struct folder_run *f, size_t lo, size_t hi,
		  struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct imap_fetch_asked q = {.n = hi - lo};
	uint32_t *uids = NULL;
	bool *answered = NULL;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	uids = calloc(hi - lo + 1, sizeof(*uids));
	answered = calloc(hi - lo + 1, sizeof(*answered));
	set = mailimap_set_new_interval(f->rows[lo].uid, f->rows[hi - 1].uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (uids == NULL || answered == NULL || set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_flags()) != MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = lo; i < hi; i++)
		uids[i - lo] = f->rows[i].uid;
	q.uids = uids;
	q.answered = answered;
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (FLAGS)", err);
		goto out;
	}
	/* only the rows' UIDs, each once (imap_fetch_asked): others in the
	 * range are new mail for folder_new_uids() and DWNDAY to judge */
	for (clistiter *it = clist_begin(res); it != NULL && rc == E2_OK;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (!m.has_flags || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue;
		rc = srv_add(f, m.uid, flags_mask(m.flags), err);
	}
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	free(answered);
	free(uids);
	return rc;
}

/* The server side of reconcile_folder()'s input into f->srv. */
static enum e2_status
folder_listing(struct folder_run *f, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct uidv fresh = {0}, old = {0};
	enum e2_status rc = E2_OK;
	size_t present;

	for (size_t lo = 0; lo < f->nrows && rc == E2_OK;
	     lo += SYNC_IMAP_CHUNK) {
		size_t hi = lo + SYNC_IMAP_CHUNK;

		rc = folder_list_chunk(f, lo, hi > f->nrows ? f->nrows : hi,
				       err);
	}
	present = f->nsrv;
	if (rc == E2_OK)
		rc = folder_new_uids(f, present, &fresh, err);
	for (size_t i = 0; i < fresh.n && rc == E2_OK; i++)
		if (!row_has_uid(f, fresh.v[i]))
			rc = srv_add(f, fresh.v[i], 0, err);
	if (rc == E2_OK && f->nsrv > 1)
		qsort(f->srv, f->nsrv, sizeof(*f->srv), srv_cmp);
	/* R15: known messages the window left */
	if (rc == E2_OK && c->a->dwnday >= 0 && f->nrows > 0 && present > 0)
		rc = imap_search(f->r, f->rows[0].uid,
				 f->rows[f->nrows - 1].uid, -1, &old, err);
	for (size_t i = 0; i < old.n && rc == E2_OK; i++) {
		struct reconcile_server *sv = srv_find(f, old.v[i]);

		if (sv != NULL && row_has_uid(f, old.v[i]))
			sv->outside_window = true;
	}
	uidv_free(&fresh);
	uidv_free(&old);
	return rc;
}

/*
 * Whether the local side has anything for the plan: a row's file gone,
 * trashed or with other synced flags, or a file no row names that is not
 * a stale copy of this folder (R13): new mail, a file moved in, a file
 * of ours to adopt.
 */
static bool
folder_local_changed(struct folder_run *f)
{
	for (size_t i = 0; i < f->nrows; i++) {
		struct maildir_file *lf = folder_local_of(f, &f->rows[i]);

		if (lf == NULL || flag_has(lf->flags, 'T') ||
		    (flags_mask(lf->flags) & RECONCILE_SYNCED) !=
			    flags_mask(f->rows[i].flags))
			return true;
	}
	for (size_t i = 0; i < f->local.n; i++) {
		struct maildir_file *lf = &f->local.v[i];
		struct reconcile_tag t;

		if (lf->matched || (f->gone != NULL && f->gone[i]) ||
		    flag_has(lf->flags, 'T'))
			continue;
		if (reconcile_tag_parse(lf->tag, &t) &&
		    (t.folder_id[0] == '\0' ||
		     strcmp(t.folder_id, f->id) == 0) &&
		    t.uidvalidity != f->cur.uidvalidity)
			continue; /* stale: R13 */
		return true;
	}
	return false;
}

/* Sets lf's synced flags to mask (D P and keywords kept; T cleared when
 * clear_t). *renamed_out: the file changed. */
static enum e2_status
local_set_flags(struct folder_run *f, struct maildir_file *lf, unsigned mask,
		bool clear_t, bool *renamed_out, struct e2_err *err)
{
	char want[MAILDIR_FLAGS_MAX], full[MAILDIR_FLAGS_MAX * 2],
		norm[MAILDIR_FLAGS_MAX];
	size_t m = 0;

	*renamed_out = false;
	mask_letters(mask, want);
	for (const char *p = lf->flags; *p != '\0'; p++)
		if (*p != 'S' && *p != 'F' && *p != 'R' &&
		    !(clear_t && *p == 'T'))
			full[m++] = *p;
	for (const char *p = want; *p != '\0'; p++)
		full[m++] = *p;
	full[m] = '\0';
	maildir_flags_normalize(full, norm);
	if (strcmp(norm, lf->flags) == 0)
		return E2_OK;
	*renamed_out = true;
	return maildir_set_flags(f->path, lf->sub, lf->name, norm, NULL, err);
}

static enum e2_status
row_set_mask(struct folder_run *f, struct sync_msg_row *row, unsigned mask,
	     struct e2_err *err)
{
	char letters[MAILDIR_FLAGS_MAX];

	mask_letters(mask, letters);
	if (strcmp(letters, row->flags) == 0)
		return E2_OK;
	memcpy(row->flags, letters, sizeof(row->flags));
	return state_row_put(f->r->c, f->name, row, err);
}

/*
 * Step 1 of the plan (see above): flags, rows that go, adoptions, in one
 * transaction committed after the UID STOREs; the other kinds are
 * gathered into del / aged / todo / ups for the later steps.
 */
static enum e2_status
folder_apply_local(struct folder_run *f, const struct reconcile_plan *p,
		   const size_t *lmap, struct uidv *todo,
		   const struct reconcile_action **ups, size_t *nups,
		   struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct uidv push[3][2] = {{{0}}}; /* [S F R][remove add] */
	static struct mailimap_flag *(*const mk[3])(void) = {
		mailimap_flag_new_seen, mailimap_flag_new_flagged,
		mailimap_flag_new_answered};
	static const unsigned bits[3] = {RECONCILE_FLAG_SEEN,
					 RECONCILE_FLAG_FLAGGED,
					 RECONCILE_FLAG_ANSWERED};
	enum e2_status rc;
	bool in_txn = false;

	*nups = 0;
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	in_txn = true;
	for (size_t i = 0; i < p->n && rc == E2_OK; i++) {
		const struct reconcile_action *a = &p->v[i];
		struct sync_msg_row *row =
			a->row != RECONCILE_NONE ? &f->rows[a->row] : NULL;
		struct maildir_file *lf = a->local != RECONCILE_NONE
						  ? &f->local.v[lmap[a->local]]
						  : NULL;
		bool renamed = false;

		switch (a->kind) {
		case RECONCILE_PUSH_FLAGS:
			for (int j = 0; j < 3 && rc == E2_OK; j++) {
				if ((a->add & bits[j]) != 0)
					rc = uidv_add(&push[j][1], row->uid,
						      err);
				else if ((a->remove & bits[j]) != 0)
					rc = uidv_add(&push[j][0], row->uid,
						      err);
			}
			if (rc == E2_OK)
				rc = row_set_mask(f, row, a->flags, err);
			break;
		case RECONCILE_PULL_FLAGS:
			rc = local_set_flags(f, lf, a->flags,
					     a->reason ==
						     RECONCILE_REASON_CHANGED,
					     &renamed, err);
			if (rc == E2_OK && renamed)
				c->stats->flags_pulled++;
			if (rc == E2_OK)
				rc = row_set_mask(f, row, a->flags, err);
			break;
		case RECONCILE_LOCAL_DELETE: /* R2: expunged on the server */
			if (lf != NULL)
				rc = maildir_remove(f->path, lf->sub, lf->name,
						    err);
			if (rc == E2_OK)
				rc = syncstate_msg_delete_uid(c->ss, f->name,
							      row->uid, err);
			c->stats->removed_local++;
			f->ndropped++;
			break;
		case RECONCILE_DROP_ROW: /* R4, R16: the file (if any) stays */
			rc = syncstate_msg_delete_uid(c->ss, f->name, row->uid,
						      err);
			f->ndropped++;
			break;
		case RECONCILE_SERVER_DELETE: /* R5 */
			rc = uidv_add(&f->del, row->uid, err);
			break;
		case RECONCILE_AGE_OUT: /* R15 */
			rc = uidv_add(&f->aged, row->uid, err);
			break;
		case RECONCILE_ADOPT: { /* R12 */
			struct sync_msg_row nr = {0};

			nr.uid = f->srv[a->server].uid;
			nr.uniq = lf->uniq;
			mask_letters(a->flags, nr.flags);
			sync_adopt_marks(f->path, lf, SYNC_MARKS_READ,
					 &nr.partial, &nr.omitted);
			rc = state_row_put(c, f->name, &nr, err);
			c->stats->adopted++;
			break;
		}
		case RECONCILE_DOWNLOAD: /* R14, R6 (the row is replaced) */
			rc = uidv_add(todo, f->srv[a->server].uid, err);
			break;
		case RECONCILE_UPLOAD:
		case RECONCILE_SERVER_MOVE:
		case RECONCILE_SERVER_COPY:
			ups[(*nups)++] = a;
			break;
		case RECONCILE_TOMBSTONE: /* POP3 only */
		case RECONCILE_KEEP:
			break;
		}
	}
	/* server first: a kill before the rows commit repeats the push */
	for (int j = 0; j < 3 && rc == E2_OK; j++) {
		for (int add = 0; add < 2 && rc == E2_OK; add++) {
			rc = imap_store_flag(r, push[j][add].v, push[j][add].n,
					     mk[j], add == 1, err);
			if (rc == E2_OK)
				c->stats->flags_pushed += push[j][add].n;
		}
	}
	if (rc == E2_OK) {
		rc = store_commit(c->st, err);
		in_txn = false;
	}
	if (in_txn)
		store_rollback(c->st);
	for (int j = 0; j < 3; j++)
		for (int add = 0; add < 2; add++)
			uidv_free(&push[j][add]);
	return rc;
}

static struct acct_folder *acct_by_name(struct imap_run *r, const char *name);

/*
 * reconcile_folder()'s input for f and the plan it gives: the one decision
 * path of a sync and of its dry run (issue 9).
 */
struct folder_plan {
	struct reconcile_input in;
	struct reconcile_plan plan;
	struct reconcile_row *rows;
	struct reconcile_local *loc;
	size_t *lmap; /* loc index -> f->local.v index */
};

static void
folder_plan_free(struct folder_plan *fp)
{
	reconcile_plan_free(&fp->plan);
	free(fp->lmap);
	free(fp->loc);
	free(fp->rows);
	memset(fp, 0, sizeof(*fp));
}

static enum e2_status
folder_plan_make(struct folder_run *f, struct folder_plan *fp,
		 struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct reconcile_input *in = &fp->in;
	size_t nloc = 0;
	enum e2_status rc;

	rc = folder_listing(f, err);
	if (rc != E2_OK)
		return rc;
	fp->rows = calloc(f->nrows + 1, sizeof(*fp->rows));
	fp->loc = calloc(f->local.n + 1, sizeof(*fp->loc));
	fp->lmap = calloc(f->local.n + 1, sizeof(*fp->lmap));
	if (fp->rows == NULL || fp->loc == NULL || fp->lmap == NULL)
		return imap_oom(err);
	for (size_t i = 0; i < f->nrows; i++) {
		fp->rows[i].uid = f->rows[i].uid;
		fp->rows[i].local_name = f->rows[i].uniq;
		fp->rows[i].flags = flags_mask(f->rows[i].flags);
	}
	for (size_t i = 0; i < f->local.n; i++) {
		const struct maildir_file *lf = &f->local.v[i];

		if (f->gone != NULL && f->gone[i])
			continue;
		fp->loc[nloc].uniq = lf->uniq;
		fp->loc[nloc].flags = flags_mask(lf->flags);
		fp->loc[nloc].has_tag =
			reconcile_tag_parse(lf->tag, &fp->loc[nloc].tag);
		fp->lmap[nloc++] = i;
	}
	in->proto = RECONCILE_IMAP;
	in->serverdeleteaction = (int)c->a->serverdeleteaction;
	in->folder_id = f->id;
	in->uidvalidity = f->cur.uidvalidity;
	in->stored_uidvalidity = f->fs.known ? f->fs.uidvalidity : 0;
	in->rows = fp->rows;
	in->nrows = f->nrows;
	in->local = fp->loc;
	in->nlocal = nloc;
	in->server = f->srv;
	in->nserver = f->nsrv;
	in->index = r->ax.index;
	in->nindex = r->ax.nindex;
	in->refs = r->ax.refs;
	in->nrefs = r->ax.nrefs;
	return reconcile_folder(in, &fp->plan, err);
}

/* reconcile_folder() over f, then the plan carried out (see above). */
static enum e2_status
folder_two_way(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct folder_plan fp = {0};
	const struct reconcile_action **ups = NULL;
	size_t nups = 0;
	struct uidv todo = {0};
	enum e2_status rc;

	rc = folder_plan_make(f, &fp, err);
	if (rc != E2_OK)
		goto out;
	ups = calloc(fp.plan.n + 1, sizeof(*ups));
	if (ups == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	rc = folder_apply_local(f, &fp.plan, fp.lmap, &todo, ups, &nups, err);
	if (rc == E2_OK)
		rc = folder_server_delete(f, err);
	if (rc == E2_OK && f->aged.n > 0)
		rc = folder_drop_rows(f, &f->aged, false, err);
	if (rc == E2_OK)
		rc = folder_download(f, &todo, err);
	/* APPENDs first (this folder selected), then the moves and copies,
	 * batched by source folder (they SELECT others) */
	for (size_t i = 0; i < nups && rc == E2_OK && !sync_stopping(c); i++) {
		const struct reconcile_action *a = ups[i];
		const struct sync_msg_row *old =
			a->row != RECONCILE_NONE ? &f->rows[a->row] : NULL;

		if (a->kind == RECONCILE_UPLOAD)
			rc = folder_upload(f, &f->local.v[fp.lmap[a->local]],
					   a->flags, old, err);
	}
	if (rc == E2_OK && !sync_stopping(c))
		rc = folder_transfers(f, ups, nups, fp.lmap, err);
out:
	uidv_free(&todo);
	folder_plan_free(&fp);
	free(ups);
	return rc;
}

/*
 * The dry run of imap_folder() (issue 9): the same steps up to the plan,
 * none that writes. A folder with no sync state here (never synced, or
 * its directory not claimed yet) would be downloaded whole: its EXISTS is
 * shown. Not shown: what the real run does before deciding (copies left
 * by an interrupted --fetch-full removed, uploads a kill interrupted
 * adopted) and R18 saves by a new name, which the real run turns into
 * moves first (here they show as an upload and a server delete).
 */
static enum e2_status
imap_folder_preview(struct imap_run *r, const char *name, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct folder_run f = {0};
	struct folder_plan fp = {0};
	struct acct_folder *af = acct_by_name(r, name);
	char detail[64];
	bool same = false;
	enum e2_status rc;

	f.r = r;
	f.name = name;
	c->stats->folders++;
	rc = state_folder_get(c, name, &f.fs, err);
	if (rc == E2_OK)
		rc = folder_select(&f, err); /* EXAMINE in a dry run */
	if (rc != E2_OK)
		goto out;
	if (!f.fs.known || af == NULL || af->path == NULL || af->moved ||
	    f.fs.uidvalidity != f.cur.uidvalidity) {
		(void)snprintf(detail, sizeof(detail), "%s",
			       f.fs.known ? "UIDVALIDITY changed: every message"
					  : "new folder: every message");
		sync_preview(c, name, "download", f.cur.nmsgs, 0, detail);
		goto out;
	}
	f.path = strdup(af->path);
	if (f.path == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	(void)snprintf(f.id, sizeof(f.id), "%s", af->id);
	rc = maildir_stamp(f.path, f.cur.local_stamp, err);
	if (rc == E2_OK)
		rc = folder_unchanged(&f, &same, err);
	if (rc != E2_OK || same)
		goto out;
	rc = state_rows_load(c, name, &f.rows, &f.nrows, err);
	if (rc == E2_OK)
		rc = maildir_snapshot(f.path, "U", &f.local, err);
	if (rc != E2_OK)
		goto out;
	rc = folder_plan_make(&f, &fp, err);
	if (rc == E2_OK)
		sync_preview_plan(c, name, &fp.in, &fp.plan, NULL);
out:
	folder_plan_free(&fp);
	maildir_snapshot_free(&f.local);
	state_rows_free(&f.rows, f.nrows);
	free(f.srv);
	free(f.path);
	return rc;
}

static enum e2_status
imap_folder(struct imap_run *r, const char *name, char sep, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct folder_run f = {0};
	struct acct_folder *af;
	bool same = false, moved = false;
	enum e2_status rc;

	if (c->o.dry_run)
		return imap_folder_preview(r, name, err);
	f.r = r;
	f.name = name;
	c->stats->folders++;
	/* the folder's own directory, never another's (maildir.h), as the
	 * account pass claimed it */
	af = acct_by_name(r, name);
	if (af != NULL && af->path == NULL) {
		*err = af->claim_err;
		rc = E2_EINVAL;
	} else if (af != NULL) {
		f.path = strdup(af->path);
		moved = af->moved;
		rc = f.path != NULL ? E2_OK : imap_oom(err);
	} else {
		rc = maildir_folder_claim(c->md, name, sep, &f.path, &moved,
					  err);
	}
	if (rc == E2_EINVAL) {
		/* cannot be mapped: reported, and the account goes on */
		sync_skip(c, name, 0, err);
		rc = E2_OK;
		goto out;
	}
	if (rc != E2_OK)
		goto out;
	rc = state_folder_get(c, name, &f.fs, err);
	if (rc == E2_OK)
		rc = syncstate_folder_id(c->ss, name, f.id, err);
	if (rc != E2_OK)
		goto out;
	if (moved && f.fs.known) {
		/* its rows name files in the directory it lost (two names
		 * shared it before owners were recorded): start afresh
		 * there, never read them as local deletes */
		rc = syncstate_folder_delete(c->ss, name, err);
		if (rc != E2_OK)
			goto out;
		memset(&f.fs, 0, sizeof(f.fs));
	}
	rc = folder_select(&f, err);
	if (rc != E2_OK)
		goto out;
	if (f.fs.known && f.fs.uidvalidity != f.cur.uidvalidity) {
		/* see the header: rows go, files stay */
		rc = syncstate_folder_delete(c->ss, name, err);
		if (rc != E2_OK)
			goto out;
		memset(&f.fs, 0, sizeof(f.fs));
	}
	/* before the listing: a change made while this run works must not
	 * hide behind the stamp this run stores */
	rc = maildir_stamp(f.path, f.cur.local_stamp, err);
	if (rc == E2_OK)
		rc = folder_unchanged(&f, &same, err);
	if (rc != E2_OK)
		goto out;
	if (same) {
		c->stats->folders_skipped++;
		goto out;
	}
	/* a kill after an APPEND / COPY / MOVE: adopt it first */
	rc = folder_recover_uploads(&f, err);
	if (rc != E2_OK)
		goto out;
	rc = state_rows_load(c, name, &f.rows, &f.nrows, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_snapshot(f.path, "U", &f.local, err);
	if (rc != E2_OK)
		goto out;
	f.gone = calloc(f.local.n + 1, sizeof(*f.gone));
	if (f.gone == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = 0; i < f.nrows; i++) {
		struct maildir_file *lf = folder_local_of(&f, &f.rows[i]);

		if (lf != NULL)
			lf->matched = true;
	}
	rc = folder_drop_copies(&f, err);
	if (rc != E2_OK)
		goto out;
	if (folder_server_same(&f) && !folder_local_changed(&f)) {
		rc = folder_window_settled(&f, &same, err);
		if (rc != E2_OK)
			goto out;
	}
	if (same) {
		c->stats->folders_skipped++;
		/* the stamp was unknown or stale: the next run skips cheaply */
		if (strcmp(f.cur.local_stamp, f.fs.local_stamp) != 0)
			rc = state_folder_put(c, name, &f.cur, err);
		goto out;
	}
	rc = folder_two_way(&f, err);
	if (rc != E2_OK || sync_stopping(c))
		goto out;
	/* after a UIDVALIDITY change (this run's or an interrupted one's):
	 * one copy of each message, old files without a twin kept */
	if (folder_has_stale(&f)) {
		rc = sync_drop_stale_copies(f.path, f.cur.uidvalidity, NULL,
					    err);
		if (rc != E2_OK)
			goto out;
	}
	/* our own STOREs raised HIGHESTMODSEQ: the next run looks once more */
	rc = state_folder_put(c, name, &f.cur, err);
out:
	maildir_snapshot_free(&f.local);
	state_rows_free(&f.rows, f.nrows);
	uidv_free(&f.del);
	uidv_free(&f.aged);
	uidv_free(&f.taken);
	free(f.srv);
	free(f.gone);
	free(f.path);
	return rc;
}

/* ---- folders
 * ------------------------------------------------------------------- */

static bool
list_has_flag(struct mailimap_mbx_list_flags *fl, const char *ext)
{
	if (fl == NULL)
		return false;
	if (ext == NULL && fl->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
	    fl->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
		return true;
	for (clistiter *it = clist_begin(fl->mbf_oflags); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_mbx_list_oflag *of = clist_content(it);

		if (of->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT &&
		    of->of_flag_ext != NULL &&
		    strcasecmp(of->of_flag_ext,
			       ext != NULL ? ext : "NonExistent") == 0)
			return true;
	}
	return false;
}

/* A mailbox the sync walks: named, not \Noselect / \NonExistent. */
static bool
list_selectable(struct mailimap_mailbox_list *mb)
{
	return mb->mb_name != NULL && !list_has_flag(mb->mb_flag, NULL);
}

/* ---- the account pass -------------------------------------------------------
 *
 * Before the per-folder loop, one cheap pass over every LISTed folder finds
 * the files that left one folder for another (a neomutt "save" is a
 * rename from INBOX/cur to .Work/cur): reconcile_folder() needs, in each
 * folder, the rows of other folders that its files name (the account
 * index) and the files of other folders that name its rows (the tag
 * refs). A folder whose stamp (maildir_stamp()) equals the one stored by
 * the last complete run has no file in or out since, so its names are not
 * read: a no-change resync reads one stamp and one row per folder. A move
 * changes both folders' stamps, so both are listed. The listing is kept
 * only until the index is built (file_present of a row: its folder is
 * unchanged, or its file is in the listing).
 */

static void
acct_index_free(struct acct_index *ax)
{
	for (size_t i = 0; i < ax->nf; i++) {
		free(ax->fv[i].name);
		free(ax->fv[i].path);
		maildir_snapshot_free(&ax->fv[i].snap);
	}
	free(ax->fv);
	free(ax->index);
	free(ax->refs);
	memset(ax, 0, sizeof(*ax));
}

enum e2_status
acct_ref_add(struct acct_index *ax, const char *holder,
	     const struct reconcile_tag *t, struct e2_err *err)
{
	enum e2_status rc = grow_array(&ax->refs, &ax->caprefs, ax->nrefs,
				       sizeof(*ax->refs), 16, err);

	if (rc != E2_OK)
		return rc;
	/* every field: reconcile_tagref_cmp() reads pop3_uidl too */
	ax->refs[ax->nrefs] = (struct reconcile_tagref){
		.holder_id = holder, .tag = *t, .pop3_uidl = NULL};
	ax->nrefs++;
	return E2_OK;
}

static enum e2_status
acct_entry_add(struct acct_index *ax, const struct reconcile_index_entry *e,
	       struct e2_err *err)
{
	enum e2_status rc = grow_array(&ax->index, &ax->capindex, ax->nindex,
				       sizeof(*ax->index), 16, err);

	if (rc != E2_OK)
		return rc;
	ax->index[ax->nindex++] = *e;
	return E2_OK;
}

/* One folder: its directory, id, state and, when it changed, its refs. */
/* Whether af's directory (its plain encoding) exists: F4 in a dry run */
static bool
acct_dir_exists(struct imap_run *r, const struct acct_folder *af)
{
	struct e2_err ignored = {0};
	char *dir = NULL;
	char p[PATH_MAX];
	struct stat sb;
	int n;

	if (strcasecmp(af->name, "INBOX") == 0)
		return true;
	if (maildir_folder_encode(af->name, af->sep, &dir, &ignored) != E2_OK)
		return false;
	n = snprintf(p, sizeof(p), "%s/%s", maildir_root(r->c->md), dir);
	free(dir);
	return n > 0 && (size_t)n < sizeof(p) && lstat(p, &sb) == 0;
}

static enum e2_status
acct_folder_scan(struct imap_run *r, struct acct_folder *af, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct syncstate_folder sf = {0};
	char stamp[MAILDIR_STAMP_MAX];
	enum e2_status rc;

	if (c->o.dry_run) {
		/* a claim of a folder never synced writes its directory and
		 * owner, its id a store row: a dry run leaves it unclaimed */
		bool known = false;

		rc = syncstate_folder_get(c->ss, af->name, &known, &sf, err);
		if (rc != E2_OK || !known || !acct_dir_exists(r, af))
			return rc;
	}
	rc = maildir_folder_claim(c->md, af->name, af->sep, &af->path,
				  &af->moved, &af->claim_err);
	if (rc == E2_EINVAL)
		return E2_OK; /* imap_folder() reports it */
	if (rc != E2_OK) {
		*err = af->claim_err;
		return rc;
	}
	rc = syncstate_folder_id(c->ss, af->name, af->id, err);
	if (rc == E2_OK)
		rc = syncstate_folder_get(c->ss, af->name, &af->known, &sf,
					  err);
	if (rc != E2_OK)
		return rc;
	af->known = af->known && !af->moved && sf.uidvalidity != 0;
	af->uidvalidity = sf.uidvalidity;
	rc = maildir_stamp(af->path, stamp, err);
	if (rc != E2_OK)
		return rc;
	if (af->known && stamp[0] != '\0' && strcmp(stamp, sf.local_stamp) == 0)
		return E2_OK; /* nothing in, nothing out */
	rc = maildir_snapshot(af->path, "U", &af->snap, err);
	if (rc != E2_OK)
		return rc;
	af->listed = true;
	for (size_t i = 0; i < af->snap.n && rc == E2_OK; i++) {
		const struct maildir_file *lf = &af->snap.v[i];
		struct reconcile_tag t;
		struct syncstate_msg m;
		bool found = false;

		if (!reconcile_tag_parse(lf->tag, &t) ||
		    strcmp(t.folder_id, af->id) == 0)
			continue;
		if (t.folder_id[0] == '\0' && af->known &&
		    t.uidvalidity == af->uidvalidity) {
			/* an old-form tag: this folder's own row's file? */
			rc = syncstate_msg_get_uid(c->ss, af->name, t.uid,
						   &found, &m, err);
			if (rc != E2_OK ||
			    (found && strcmp(m.local_name, lf->uniq) == 0))
				continue;
		}
		rc = acct_ref_add(&r->ax, af->id, &t, err);
	}
	return rc;
}

/* The index entries of every ref: rows of other folders it may name. */
static enum e2_status
acct_index_build(struct imap_run *r, struct e2_err *err)
{
	struct acct_index *ax = &r->ax;
	enum e2_status rc = E2_OK;
	size_t n = 0;

	for (size_t k = 0; k < ax->nrefs && rc == E2_OK; k++) {
		const struct reconcile_tagref *ref = &ax->refs[k];

		for (size_t i = 0; i < ax->nf && rc == E2_OK; i++) {
			struct acct_folder *af = &ax->fv[i];
			struct reconcile_index_entry e = {0};
			const struct maildir_file *lf;
			struct syncstate_msg m;
			bool found = false;

			if (!af->known || af->path == NULL ||
			    strcmp(af->id, ref->holder_id) == 0 ||
			    af->uidvalidity != ref->tag.uidvalidity ||
			    (ref->tag.folder_id[0] != '\0' &&
			     strcmp(ref->tag.folder_id, af->id) != 0))
				continue;
			rc = syncstate_msg_get_uid(r->c->ss, af->name,
						   ref->tag.uid, &found, &m,
						   err);
			if (rc != E2_OK || !found)
				continue;
			e.folder_id = af->id;
			e.uidvalidity = ref->tag.uidvalidity;
			e.uid = ref->tag.uid;
			/* a T file is gone too (R5): its copy elsewhere is
			 * a move (neomutt with maildir_trash, R18) */
			lf = af->listed ? maildir_snapshot_find(&af->snap,
								m.local_name)
					: NULL;
			e.file_present =
				!af->listed ||
				(lf != NULL && !flag_has(lf->flags, 'T'));
			rc = acct_entry_add(ax, &e, err);
		}
	}
	if (rc != E2_OK)
		return rc;
	if (ax->nindex > 1)
		qsort(ax->index, ax->nindex, sizeof(*ax->index),
		      reconcile_index_cmp);
	for (size_t i = 0; i < ax->nindex; i++)
		if (n == 0 ||
		    reconcile_index_cmp(&ax->index[n - 1], &ax->index[i]) != 0)
			ax->index[n++] = ax->index[i];
	ax->nindex = n;
	if (ax->nrefs > 1)
		qsort(ax->refs, ax->nrefs, sizeof(*ax->refs),
		      reconcile_tagref_cmp);
	return E2_OK;
}

/* Fills r->ax for the selectable folders of list (see above). */
static enum e2_status
imap_account_pass(struct imap_run *r, clist *list, struct e2_err *err)
{
	struct acct_index *ax = &r->ax;
	enum e2_status rc = E2_OK;

	ax->fv = calloc((size_t)clist_count(list) + 1, sizeof(*ax->fv));
	if (ax->fv == NULL)
		return imap_oom(err);
	/* INBOX first, as the per-folder loop: the first name to claim a
	 * directory keeps it (maildir.h "Injectivity") */
	for (int pass = 0; pass < 2; pass++) {
		for (clistiter *it = clist_begin(list);
		     it != NULL && rc == E2_OK; it = clist_next(it)) {
			struct mailimap_mailbox_list *mb = clist_content(it);
			struct acct_folder *af = &ax->fv[ax->nf];

			if (!list_selectable(mb) ||
			    (strcasecmp(mb->mb_name, "INBOX") == 0) !=
				    (pass == 0))
				continue;
			af->name = strdup(mb->mb_name);
			if (af->name == NULL)
				return imap_oom(err);
			af->sep = mb->mb_delimiter;
			ax->nf++;
			rc = acct_folder_scan(r, af, err);
		}
	}
	/* saves by a new name are moves (R18, sync_imap_saves.c); they
	 * rename files: not in a dry run */
	if (rc == E2_OK && !r->c->o.dry_run)
		rc = saves_pair(r, err);
	if (rc == E2_OK)
		rc = acct_index_build(r, err);
	/* the listings served the index; each folder lists itself again */
	for (size_t i = 0; i < ax->nf; i++)
		maildir_snapshot_free(&ax->fv[i].snap);
	return rc;
}

static struct acct_folder *
acct_by_name(struct imap_run *r, const char *name)
{
	for (size_t i = 0; i < r->ax.nf; i++)
		if (strcmp(r->ax.fv[i].name, name) == 0)
			return &r->ax.fv[i];
	return NULL;
}

static const char *const trash_names[] = {"Trash", "Deleted Items",
					  "Deleted Messages"};

static enum e2_status
imap_find_trash(struct imap_run *r, clist *list, struct e2_err *err)
{
	const char *by_name = NULL;
	size_t rank = sizeof(trash_names) / sizeof(*trash_names);

	for (clistiter *it = clist_begin(list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (mb->mb_name == NULL)
			continue;
		if (list_has_flag(mb->mb_flag, "Trash")) {
			by_name = mb->mb_name;
			break;
		}
		for (size_t i = 0; i < rank; i++) {
			if (strcasecmp(mb->mb_name, trash_names[i]) == 0) {
				by_name = mb->mb_name;
				rank = i;
				break;
			}
		}
	}
	if (by_name != NULL) {
		r->trash = strdup(by_name);
		if (r->trash == NULL)
			return imap_oom(err);
	}
	return E2_OK;
}

/*
 * The account's logged-in session into r. Every byte it reads passed the
 * server-byte guard, installed by the chain before the greeting.
 */
enum e2_status
imap_open(struct imap_run *r, struct sync_ctx *c, struct e2_err *err)
{
	struct chain_opts co = {.cafile = c->o.cafile,
				.timeout_ms = c->o.timeout_ms,
				.login = true,
				.trace = c->o.trace};
	struct e2_side_report rep;
	struct chain_request req;
	enum e2_status rc;

	r->c = c;
	rc = account_chain_request(c->st, c->a, E2_SIDE_IN, &co, &req, err);
	if (rc == E2_OK)
		rc = chain_open(&req, &r->sess, &rep, err);
	if (rc != E2_OK)
		return rc;
	sync_note_cleartext(c, r->sess, E2_SIDE_IN);
	r->imap = chain_session_imap(r->sess);
	if (r->imap == NULL)
		return e2_fail(err, E2_EINVAL, "account is not IMAP4");
	return E2_OK;
}

enum e2_status
sync_imap_run(struct sync_ctx *c, struct e2_err *err)
{
	struct imap_run r = {0};
	clist *list = NULL;
	enum e2_status rc;
	int code;

	rc = imap_open(&r, c, err);
	if (rc != E2_OK)
		goto out;
	rc = imap_read_caps(&r, err);
	if (rc != E2_OK)
		goto out;
	code = mailimap_list(r.imap, "", "*", &list);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(&r, code, "LIST", err);
		goto out;
	}
	rc = imap_find_trash(&r, list, err);
	if (rc != E2_OK)
		goto out;
	/* folders both ways and the Sent folder (sync_imap_folders.h); a
	 * dry run only shows what it would do there */
	rc = sync_imap_folders(c, r.imap, r.sess, &list, err);
	if (rc != E2_OK)
		goto out;
	/* the account index and tag refs (after a folder made above) */
	rc = imap_account_pass(&r, list, err);
	if (rc != E2_OK)
		goto out;
	/*
	 * INBOX first (every spelling LIST gives), then the rest in LIST
	 * order: whatever another folder does, INBOX is always attempted. A
	 * folder that cannot be mapped to a directory of its own is skipped
	 * and reported (imap_folder(), sync_skip()).
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (clistiter *it = clist_begin(list);
		     it != NULL && !sync_stopping(c); it = clist_next(it)) {
			struct mailimap_mailbox_list *mb = clist_content(it);

			if (mb->mb_name == NULL ||
			    list_has_flag(mb->mb_flag, NULL) ||
			    (strcasecmp(mb->mb_name, "INBOX") == 0) !=
				    (pass == 0))
				continue;
			rc = imap_folder(&r, mb->mb_name, mb->mb_delimiter,
					 err);
			if (rc != E2_OK)
				goto out;
		}
	}
out:
	if (list != NULL)
		mailimap_list_result_free(list);
	free(r.trash);
	acct_index_free(&r.ax);
	chain_session_free(&r.sess);
	return rc;
}
