/* SPDX-License-Identifier: MIT */
/* sync_imap.c -- IMAP4 into the account's Maildir++, both ways for flags */
#include "config.h"

#include "sync.h"
#include "sync_dedupe.h"
#include "sync_full.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <fcntl.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "imap_bodystructure.h"
#include "imap_fetch_stream.h"
#include "mime.h"
#include "reconcile.h"
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
 * Known messages are walked in UID chunks of SYNC_IMAP_CHUNK: UID FETCH
 * lo:hi (UID FLAGS). A row whose UID the server no longer has was expunged
 * there: the local file and row go. Flags S F R are merged three ways
 * against the last synced value: a local change wins over a server change
 * of the same flag. A local file that is gone, or carries T, is a local
 * delete (see below).
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
 * store transaction. Files carry the tag "U=<uid>-V<uidvalidity>": a crash
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

#define SYNC_IMAP_CHUNK 2000u
#define SYNC_TAG_MAX (RECONCILE_TAG_MAX + 2) /* "U=" and the value */
#define SYNC_MARKS_READ (256u * 1024) /* of an adopted file, for its marks */

struct imap_caps {
	bool condstore;
	bool uidplus;
	bool move;
};

struct imap_run {
	struct sync_ctx *c;
	struct chain_session *sess;
	mailimap *imap;
	struct imap_caps caps;
	char *trash; /* the Trash folder's name, NULL when none */
};

/* ---- errors -------------------------------------------------------------- */

static enum e2_status
imap_fail(struct imap_run *r, int code, const char *what, struct e2_err *err)
{
	struct e2_err *te = chain_session_err(r->sess);
	char quoted[160] = "";

	/*
	 * After a parse error libetpan's framing is lost: nothing more is
	 * read (LOGOUT included). The chain's error holds the cause when the
	 * transport or the server-byte guard (transports/guard.h) failed the
	 * read, e.g. "imap response \"* OK [PERMANENTFLAGS (\": ...".
	 */
	if (code == MAILIMAP_ERROR_PARSE)
		xport_etpan_refuse_reads(r->imap->imap_stream);
	if (te != NULL && te->code != E2_OK)
		return e2_fail(err, te->code, "imap %s: %s", what, te->msg);
	if (code == MAILIMAP_ERROR_STREAM)
		return e2_fail(err, E2_EIO, "imap %s: connection lost", what);
	if (r->imap->imap_response != NULL)
		(void)e2_quote(quoted, sizeof(quoted), r->imap->imap_response,
			       strlen(r->imap->imap_response));
	return e2_fail(err, E2_EPROTO, "imap %s failed (%d): %s", what, code,
		       quoted);
}

static enum e2_status
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

static bool
flag_has(const char *flags, char f)
{
	return strchr(flags, f) != NULL;
}

/* The synced letters (S F R) of flags, in order. */
static void
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

/* What one FETCH response item carried. */
struct imap_msg {
	uint32_t uid;
	uint32_t size;
	bool has_flags;
	bool deleted;
	char flags[MAILDIR_FLAGS_MAX];
	int64_t internal_date; /* 0: not fetched */
	const struct mailimap_body *bodystructure;
	const char *body;
	size_t body_len;
};

static void
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

static struct mailimap_set *
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
static enum e2_status
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

struct uidv {
	uint32_t *v;
	size_t n, cap;
};

static enum e2_status
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

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts u and drops repeated UIDs (a server may list one twice). */
static void
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

static void
uidv_free(struct uidv *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* FETCH answers: only what was asked for, each once: imap_fetch_asked
 * (imap_fetch_stream.h), used by every path below that sends a UID FETCH */

/* ---- state rows (engine/syncstate.h) in the form this loop walks
 * ------------------------------------------------------------------------- */

struct sync_folder_state {
	bool known;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;
	uint32_t nmsgs;
	char local_stamp[SYNCSTATE_STAMP_MAX];  /* see syncstate.h */
	char server_stamp[SYNCSTATE_STAMP_MAX]; /* the settings that choose */
};

struct sync_msg_row {
	uint32_t uid;
	char *uniq;
	char flags[MAILDIR_FLAGS_MAX]; /* standard letters as last synced */
	bool partial;
	bool omitted;
	int64_t internal_date;
};

#define STATE_PAGE 256

static enum e2_status
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

static enum e2_status
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

static void
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
static enum e2_status
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

static enum e2_status
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

/* ---- one folder
 * ---------------------------------------------------------------- */

struct folder_run {
	struct imap_run *r;
	const char *name;
	char id[SYNCSTATE_FOLDER_ID_MAX + 1]; /* syncstate_folder_id() */
	char *path;
	struct sync_folder_state fs;  /* stored */
	struct sync_folder_state cur; /* from SELECT */
	struct sync_msg_row *rows;
	size_t nrows;
	struct maildir_snapshot local; /* tag: "U" */
	struct uidv del;               /* UIDs deleted locally */
	struct uidv aged;              /* UIDs out of the DWNDAY window */
	size_t ndropped;               /* rows removed during this run */
};

/* The file tag "U=<uid>-V<uidvalidity>-F<id>" of a download into f. */
static enum e2_status
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
static enum e2_status
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
static bool
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
static enum e2_status
folder_unchanged(struct folder_run *f, bool *same_out, struct e2_err *err)
{
	*same_out = false;
	if (!folder_server_same(f) || f->cur.local_stamp[0] == '\0' ||
	    strcmp(f->cur.local_stamp, f->fs.local_stamp) != 0)
		return E2_OK;
	return folder_window_settled(f, same_out, err);
}

static bool
folder_local_changed(struct folder_run *f)
{
	for (size_t i = 0; i < f->nrows; i++) {
		struct maildir_file *lf = folder_local_of(f, &f->rows[i]);
		char a[MAILDIR_FLAGS_MAX], b[MAILDIR_FLAGS_MAX];

		if (lf == NULL || flag_has(lf->flags, 'T'))
			return true;
		flags_synced(lf->flags, a);
		flags_synced(f->rows[i].flags, b);
		if (strcmp(a, b) != 0)
			return true;
	}
	/* a file of ours without a row: an interrupted batch to adopt */
	for (size_t i = 0; i < f->local.n; i++)
		if (!f->local.v[i].matched &&
		    local_tag_uid(f->local.v[i].tag, f->cur.uidvalidity,
				  f->id) != 0)
			return true;
	return false;
}

/* Applies one chunk of server flags to the rows [lo, hi). */
static enum e2_status
folder_reconcile_chunk(struct folder_run *f, size_t lo, size_t hi,
		       clist *fetched, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct uidv push[3][2] = {{{0}}}; /* [S F R][remove add] */
	static struct mailimap_flag *(*const mk[3])(void) = {
		mailimap_flag_new_seen, mailimap_flag_new_flagged,
		mailimap_flag_new_answered};
	static const char letters[3] = {'S', 'F', 'R'};
	struct imap_msg *srv = NULL; /* per row of [lo, hi): its answer */
	uint32_t *uids = NULL;
	bool *answered = NULL;
	struct imap_fetch_asked q = {.n = hi - lo};
	enum e2_status rc = E2_OK;
	bool in_txn = false;

	/* the answers by row: only the rows' UIDs, each once (imap_fetch_asked)
	 */
	srv = calloc(hi - lo + 1, sizeof(*srv));
	uids = calloc(hi - lo + 1, sizeof(*uids));
	answered = calloc(hi - lo + 1, sizeof(*answered));
	if (srv == NULL || uids == NULL || answered == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = lo; i < hi; i++)
		uids[i - lo] = f->rows[i].uid;
	q.uids = uids;
	q.answered = answered;
	for (clistiter *it = clist_begin(fetched); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (!m.has_flags || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue;
		srv[slot] = m;
	}

	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	in_txn = true;
	for (size_t i = lo; i < hi; i++) {
		struct sync_msg_row *row = &f->rows[i];
		struct maildir_file *lf = folder_local_of(f, row);
		char merged[MAILDIR_FLAGS_MAX], raw[MAILDIR_FLAGS_MAX];
		const struct imap_msg *sm = &srv[i - lo];
		size_t n = 0;

		if (!answered[i - lo]) {
			/* expunged on the server: local copy goes too */
			if (lf != NULL) {
				rc = maildir_remove(f->path, lf->sub, lf->name,
						    err);
				if (rc != E2_OK)
					goto out;
			}
			rc = syncstate_msg_delete_uid(c->ss, f->name, row->uid,
						      err);
			if (rc != E2_OK)
				goto out;
			c->stats->removed_local++;
			f->ndropped++;
			continue;
		}
		if (lf == NULL || flag_has(lf->flags, 'T')) {
			rc = uidv_add(&f->del, row->uid, err);
			if (rc != E2_OK)
				goto out;
			continue;
		}
		for (int j = 0; j < 3; j++) {
			bool l = flag_has(lf->flags, letters[j]);
			bool b = flag_has(row->flags, letters[j]);
			bool s = flag_has(sm->flags, letters[j]);
			bool res = b;

			if (l != b) {
				res = l;
				if (s != l) {
					rc = uidv_add(&push[j][l], row->uid,
						      err);
					if (rc != E2_OK)
						goto out;
				}
			} else if (s != b) {
				res = s;
			}
			if (res)
				raw[n++] = letters[j];
		}
		raw[n] = '\0';
		maildir_flags_normalize(raw, merged);
		{
			char have[MAILDIR_FLAGS_MAX];

			flags_synced(lf->flags, have);
			if (strcmp(have, merged) != 0) {
				/* keep D P T and keywords, replace S F R */
				char full[MAILDIR_FLAGS_MAX * 2];
				size_t m = 0;

				for (const char *p = lf->flags; *p != '\0'; p++)
					if (*p != 'S' && *p != 'F' && *p != 'R')
						full[m++] = *p;
				for (const char *p = merged; *p != '\0'; p++)
					full[m++] = *p;
				full[m] = '\0';
				rc = maildir_set_flags(f->path, lf->sub,
						       lf->name, full, NULL,
						       err);
				if (rc != E2_OK)
					goto out;
				c->stats->flags_pulled++;
			}
		}
		if (strcmp(merged, row->flags) != 0) {
			memcpy(row->flags, merged, sizeof(row->flags));
			rc = state_row_put(c, f->name, row, err);
			if (rc != E2_OK)
				goto out;
		}
	}
	/* server first: a crash before the rows commit repeats the push */
	for (int j = 0; j < 3; j++) {
		for (int add = 0; add < 2; add++) {
			rc = imap_store_flag(r, push[j][add].v, push[j][add].n,
					     mk[j], add == 1, err);
			if (rc != E2_OK)
				goto out;
			c->stats->flags_pushed += push[j][add].n;
		}
	}
	rc = store_commit(c->st, err);
	in_txn = false;
out:
	if (in_txn)
		store_rollback(c->st);
	for (int j = 0; j < 3; j++)
		for (int add = 0; add < 2; add++)
			uidv_free(&push[j][add]);
	free(answered);
	free(uids);
	free(srv);
	return rc;
}

static enum e2_status
folder_known(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	enum e2_status rc = E2_OK;

	for (size_t lo = 0; lo < f->nrows; lo += SYNC_IMAP_CHUNK) {
		size_t hi = lo + SYNC_IMAP_CHUNK;
		struct mailimap_set *set = NULL;
		struct mailimap_fetch_type *ft = NULL;
		clist *res = NULL;
		int code;

		if (hi > f->nrows)
			hi = f->nrows;
		set = mailimap_set_new_interval(f->rows[lo].uid,
						f->rows[hi - 1].uid);
		ft = mailimap_fetch_type_new_fetch_att_list_empty();
		if (set == NULL || ft == NULL ||
		    mailimap_fetch_type_new_fetch_att_list_add(
			    ft, mailimap_fetch_att_new_uid()) !=
			    MAILIMAP_NO_ERROR ||
		    mailimap_fetch_type_new_fetch_att_list_add(
			    ft, mailimap_fetch_att_new_flags()) !=
			    MAILIMAP_NO_ERROR) {
			rc = imap_oom(err);
		} else {
			code = mailimap_uid_fetch(r->imap, set, ft, &res);
			if (code != MAILIMAP_NO_ERROR)
				rc = imap_fail(r, code, "UID FETCH (FLAGS)",
					       err);
			else
				rc = folder_reconcile_chunk(f, lo, hi, res,
							    err);
		}
		if (res != NULL)
			mailimap_fetch_list_free(res);
		if (ft != NULL)
			mailimap_fetch_type_free(ft);
		if (set != NULL)
			mailimap_set_free(set);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
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

static enum e2_status
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

/* ---- new messages
 * ---------------------------------------------------------------- */

static struct mailimap_date *
dwnday_date(const struct sync_ctx *c)
{
	time_t t = c->now - (time_t)c->a->dwnday * 86400;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return NULL;
	return mailimap_date_new(tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900);
}

/* UID SEARCH UID lo:* [SINCE d | BEFORE d] -> sorted uids >= lo (and
 * <= hi when hi != 0) */
static enum e2_status
imap_search(struct imap_run *r, uint32_t lo, uint32_t hi, int dateop,
	    struct uidv *out, struct e2_err *err)
{
	struct mailimap_search_key *key = NULL, *k;
	struct mailimap_set *set;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	key = mailimap_search_key_new_multiple_empty();
	set = hi != 0 ? mailimap_set_new_interval(lo, hi)
		      : mailimap_set_new_interval(lo, 0);
	if (key == NULL || set == NULL) {
		if (set != NULL)
			mailimap_set_free(set);
		rc = imap_oom(err);
		goto out;
	}
	k = mailimap_search_key_new_uid(set);
	if (k == NULL) {
		mailimap_set_free(set);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_search_key_multiple_add(key, k) != MAILIMAP_NO_ERROR) {
		mailimap_search_key_free(k);
		rc = imap_oom(err);
		goto out;
	}
	if (dateop != 0) {
		struct mailimap_date *d = dwnday_date(r->c);

		k = NULL;
		if (d != NULL)
			k = dateop > 0 ? mailimap_search_key_new_since(d)
				       : mailimap_search_key_new_before(d);
		if (k == NULL) {
			if (d != NULL)
				mailimap_date_free(d);
			rc = imap_oom(err);
			goto out;
		}
		if (mailimap_search_key_multiple_add(key, k) !=
		    MAILIMAP_NO_ERROR) {
			mailimap_search_key_free(k);
			rc = imap_oom(err);
			goto out;
		}
	}
	code = mailimap_uid_search(r->imap, NULL, key, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID SEARCH", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		uint32_t uid = *(uint32_t *)clist_content(it);

		/* "lo:*" matches the last message even below lo */
		if (uid < lo || (hi != 0 && uid > hi))
			continue;
		rc = uidv_add(out, uid, err);
		if (rc != E2_OK)
			goto out;
	}
	uidv_sort_unique(out); /* FETCH sets are sorted, each UID once */
out:
	if (res != NULL)
		mailimap_search_result_free(res);
	if (key != NULL)
		mailimap_search_key_free(key);
	return rc;
}

struct sized {
	uint32_t uid;
	uint32_t size;
	struct mime_part *plan; /* KEEPMAX: parts to leave, NULL: none */
};

static void
sized_clear(struct sized *sz, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mime_part_free(&sz[i].plan);
}

static enum e2_status
imap_sizes(struct imap_run *r, const uint32_t *uids, size_t n,
	   struct sized *out, struct e2_err *err)
{
	struct mailimap_set *set = imap_set_of(uids, n);
	struct mailimap_fetch_type *ft;
	struct imap_fetch_asked q = {.uids = uids, .n = n};
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_rfc822_size()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	if (r->c->a->keepmax > 0 &&
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_bodystructure()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].uid = uids[i];
		out[i].size = 0;
		out[i].plan = NULL;
	}
	q.answered = calloc(n + 1, sizeof(*q.answered));
	if (q.answered == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (RFC822.SIZE)", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		struct sized *hit;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (!imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* not asked for, or answered already */
		hit = &out[slot];
		hit->size = m.size;
		if (m.bodystructure != NULL) {
			rc = imap_bodystructure_keepmax_plan(
				m.bodystructure,
				(unsigned long long)r->c->a->keepmax * 1024,
				&hit->plan, err);
			if (rc != E2_OK)
				goto out;
		}
	}
out:
	free(q.answered);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

struct fetched_row {
	uint32_t uid;
	char uniq[256];
	char flags[MAILDIR_FLAGS_MAX];
	bool partial;
	bool omitted;
	int64_t internal_date;
	unsigned long long bytes;
};

/* Stores one fetched message into the batch. */
static enum e2_status
folder_put(struct folder_run *f, struct maildir_batch *b,
	   const struct imap_msg *m, bool partial, struct fetched_row *row,
	   struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct maildir_msg *msg = NULL;
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;
	struct mime_trunc_info ti = {0};

	rc = folder_tag(f, m->uid, tag, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_msg_begin(b, f->path,
			       m->flags[0] != '\0' ? m->flags : NULL, tag, &msg,
			       err);
	if (rc != E2_OK)
		return rc;
	if (partial) {
		rc = mime_truncate(m->body, m->body_len, (size_t)c->a->retrieve,
				   m->size, maildir_msg_sink, msg, &ti, err);
	} else {
		rc = maildir_msg_write(msg, m->body, m->body_len, err);
	}
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK)
		return rc;
	row->uid = m->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(m->flags, row->flags);
	row->partial = partial && ti.truncated;
	row->internal_date = m->internal_date;
	row->bytes = m->body_len;
	return E2_OK;
}

/* One UID FETCH of bodies into the batch. */
static enum e2_status
folder_fetch_bodies(struct folder_run *f, struct maildir_batch *b,
		    const uint32_t *uids, size_t n, bool partial,
		    struct fetched_row *rows, size_t *nrows, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_fetch_att *body;
	struct mailimap_section *sec;
	struct imap_fetch_asked q = {.uids = uids, .n = n};
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	if (n == 0)
		return E2_OK;
	set = imap_set_of(uids, n);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	q.answered = calloc(n, sizeof(*q.answered));
	sec = mailimap_section_new(NULL);
	body = NULL;
	if (sec != NULL)
		body = partial ? mailimap_fetch_att_new_body_peek_section_partial(
					 sec, 0, (uint32_t)r->c->a->retrieve)
			       : mailimap_fetch_att_new_body_peek_section(sec);
	if (body == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || body == NULL || q.answered == NULL) {
		if (body != NULL)
			mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_flags()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_rfc822_size()) !=
		    MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_internaldate()) !=
		    MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, body) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (BODY.PEEK[])", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		/* a flag change, another UID, or this one again: not ours */
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue;
		rc = folder_put(f, b, &m, partial, &rows[*nrows], err);
		if (rc != E2_OK)
			goto out;
		(*nrows)++;
	}
out:
	free(q.answered);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/* Commits a batch, then its rows (the durability rule), then the stats. */
static enum e2_status
folder_commit(struct folder_run *f, struct maildir_batch **b,
	      struct fetched_row *rows, size_t nrows, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	enum e2_status rc;

	if (*b == NULL)
		return E2_OK;
	rc = maildir_batch_commit(*b, err);
	if (rc != E2_OK)
		return rc;
	/* durable: now the rows */
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	for (size_t j = 0; j < nrows && rc == E2_OK; j++) {
		struct sync_msg_row row = {0};

		row.uid = rows[j].uid;
		row.uniq = rows[j].uniq;
		memcpy(row.flags, rows[j].flags, sizeof(row.flags));
		row.partial = rows[j].partial;
		row.omitted = rows[j].omitted;
		row.internal_date = rows[j].internal_date;
		rc = state_row_put(c, f->name, &row, err);
	}
	if (rc != E2_OK) {
		store_rollback(c->st);
		return rc;
	}
	rc = store_commit(c->st, err);
	if (rc != E2_OK)
		return rc;
	for (size_t j = 0; j < nrows; j++) {
		c->stats->messages++;
		c->stats->bytes += rows[j].bytes;
		if (rows[j].partial)
			c->stats->partial++;
		if (rows[j].omitted)
			c->stats->omitted++;
	}
	maildir_batch_free(b);
	sync_progress(c);
	return E2_OK;
}

/* ---- streamed download ---------------------------------------------------
 *
 * Without RETRIEVE and KEEPMAX every new message is fetched whole and no
 * size is needed first: one UID FETCH <set> (UID FLAGS INTERNALDATE
 * BODY.PEEK[]) per UID set of at most IMAP_FETCH_STREAM_SET_MAX bytes
 * ("1:20000" is one command), read by imap_fetch_stream.c rather than by
 * libetpan's parser, which holds a whole response in memory. Each body
 * goes from the stream into its tmp/ file as it arrives; every batch_msgs
 * messages or batch_bytes bytes the batch is made durable and its rows
 * committed, between two messages, while the server goes on sending into
 * the socket buffer: network and disk overlap, and memory is one response
 * line and one buffer whatever the mailbox. A response left unfinished (an
 * error, a stop) leaves the connection unusable: the guard then refuses
 * reads, so LOGOUT does not read the rest of it. On a broken connection or
 * a stop the messages received whole are committed first.
 */

struct folder_streamed {
	struct folder_run *f;
	struct maildir_batch *b;  /* the open batch, NULL: none yet */
	struct fetched_row *rows; /* its messages */
	size_t nrows;
	unsigned long long bytes;
};

static enum e2_status
streamed_body_begin(void *ctx, void **body_out, struct e2_err *err)
{
	struct folder_streamed *st = ctx;
	struct maildir_msg *msg = NULL;
	enum e2_status rc = E2_OK;

	if (st->b == NULL)
		rc = maildir_batch_begin(st->f->r->c->md, &st->b, err);
	if (rc == E2_OK)
		rc = maildir_msg_begin(st->b, st->f->path, NULL, NULL, &msg,
				       err);
	if (rc == E2_OK)
		*body_out = msg;
	return rc;
}

static enum e2_status
streamed_body_write(void *ctx, void *body, const char *buf, size_t len,
		    struct e2_err *err)
{
	(void)ctx;
	return maildir_msg_write(body, buf, len, err);
}

static void
streamed_body_discard(void *ctx, void **body)
{
	struct maildir_msg *msg = *body;

	(void)ctx;
	maildir_msg_discard(&msg);
	*body = NULL;
}

/* An asked message read whole: its file joins the batch, which may commit */
static enum e2_status
streamed_fetched(void *ctx, const struct imap_fetch_msg *m, void **body,
		 bool *stop_out, struct e2_err *err)
{
	struct folder_streamed *st = ctx;
	struct sync_ctx *c = st->f->r->c;
	struct fetched_row *row = &st->rows[st->nrows];
	struct maildir_msg *msg = *body;
	char flags[MAILDIR_FLAGS_MAX] = "";
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;

	*body = NULL;
	if (m->has_flags)
		sync_flags_from_imap(m->seen, m->flagged, m->answered, m->draft,
				     flags);
	rc = folder_tag(st->f, m->uid, tag, err);
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_set_meta(msg, flags[0] != '\0' ? flags : NULL, tag,
				  err);
	if (rc == E2_OK)
		rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	memset(row, 0, sizeof(*row));
	row->uid = m->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(flags, row->flags);
	row->internal_date = m->internal_date;
	row->bytes = m->body_len;
	st->nrows++;
	st->bytes += m->body_len;
	if (st->nrows >= c->o.batch_msgs || st->bytes >= c->o.batch_bytes) {
		rc = folder_commit(st->f, &st->b, st->rows, st->nrows, err);
		if (rc != E2_OK)
			return rc;
		st->nrows = 0;
		st->bytes = 0;
	}
	*stop_out = sync_stopping(c);
	return E2_OK;
}

static enum e2_status
streamed_io_error(void *ctx, struct e2_err *err)
{
	struct folder_streamed *st = ctx;

	return imap_fail(st->f->r, MAILIMAP_ERROR_STREAM,
			 IMAP_FETCH_STREAM_WHAT, err);
}

static const struct imap_fetch_stream_ops streamed_ops = {
	.body_begin = streamed_body_begin,
	.body_write = streamed_body_write,
	.body_discard = streamed_body_discard,
	.fetched = streamed_fetched,
	.io_error = streamed_io_error,
};

/* Downloads todo (sorted) whole, streamed (see above). */
static enum e2_status
folder_stream(struct folder_run *f, const struct uidv *todo, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	mailimap *imap = f->r->imap;
	struct folder_streamed st = {.f = f};
	struct imap_fetch_stream *fs = NULL;
	bool *seen = NULL;
	char *set = NULL;
	bool open = false, stop = false;
	enum e2_status rc;

	st.rows = calloc(c->o.batch_msgs + 1, sizeof(*st.rows));
	seen = calloc(todo->n + 1, sizeof(*seen));
	set = malloc(IMAP_FETCH_STREAM_SET_MAX + 32);
	if (st.rows == NULL || seen == NULL || set == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	rc = imap_fetch_stream_new(imap->imap_stream, &streamed_ops, &st, &fs,
				   err);
	for (size_t lo = 0; rc == E2_OK && lo < todo->n && !stop;) {
		struct imap_fetch_asked q = {.uids = todo->v + lo,
					     .answered = seen + lo};
		char tag[16];

		imap_fetch_stream_set(todo->v + lo, todo->n - lo, set, &q.n);
		imap->imap_tag++;
		if (mailimap_is_163_workaround_enabled(imap))
			(void)snprintf(tag, sizeof(tag), "C%d", imap->imap_tag);
		else
			(void)snprintf(tag, sizeof(tag), "%d", imap->imap_tag);
		open = true;
		rc = imap_fetch_stream_command(fs, tag, set, &q, &stop, err);
		if (rc != E2_OK)
			break;
		open = stop;
		lo += q.n;
	}
	if (st.nrows > 0) {
		/* what arrived whole is kept, also when the rest failed */
		struct e2_err late = {0};

		if (rc == E2_OK)
			rc = folder_commit(f, &st.b, st.rows, st.nrows, err);
		else
			(void)folder_commit(f, &st.b, st.rows, st.nrows, &late);
	}
out:
	if (open)
		xport_etpan_refuse_reads(f->r->imap->imap_stream);
	imap_fetch_stream_free(&fs);
	maildir_batch_free(&st.b);
	free(st.rows);
	free(seen);
	free(set);
	return rc;
}

/* ---- KEEPMAX: one message fetched part by part ---------------------------
 */

/* "HEADER", "TEXT", "2", "2.1.MIME" -> a libetpan section; NULL: bad/oom */
static struct mailimap_section *
imap_section_of(const char *name)
{
	struct mailimap_section_part *part = NULL;
	struct mailimap_section *sec = NULL;
	clist *ids = NULL;
	const char *p = name;

	if (strcmp(name, "HEADER") == 0)
		return mailimap_section_new_header();
	if (strcmp(name, "TEXT") == 0)
		return mailimap_section_new_text();
	ids = clist_new();
	if (ids == NULL)
		return NULL;
	while (*p >= '0' && *p <= '9') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		uint32_t *id;

		if (v == 0 || v > UINT32_MAX ||
		    (id = malloc(sizeof(*id))) == NULL)
			goto fail;
		*id = (uint32_t)v;
		if (clist_append(ids, id) < 0) {
			free(id);
			goto fail;
		}
		p = end;
		if (*p == '.')
			p++;
	}
	if (clist_count(ids) == 0)
		goto fail;
	part = mailimap_section_part_new(ids);
	if (part == NULL)
		goto fail;
	ids = NULL;
	if (*p == '\0')
		sec = mailimap_section_new_part(part);
	else if (strcmp(p, "MIME") == 0)
		sec = mailimap_section_new_part_mime(part);
	else if (strcmp(p, "HEADER") == 0)
		sec = mailimap_section_new_part_header(part);
	else if (strcmp(p, "TEXT") == 0)
		sec = mailimap_section_new_part_text(part);
	if (sec == NULL)
		mailimap_section_part_free(part);
	return sec;
fail:
	if (ids != NULL) {
		for (clistiter *it = clist_begin(ids); it != NULL;
		     it = clist_next(it))
			free(clist_content(it));
		clist_free(ids);
	}
	return NULL;
}

struct part_fetch {
	struct imap_run *r;
	uint32_t uid;
	struct mime_trunc *t;     /* RETRIEVE on the assembled message */
	bool skipped;             /* sections not fetched: t was full */
	unsigned long long bytes; /* transferred */
};

/* mime_fetch_fn: UID FETCH uid (BODY.PEEK[section]) into sink. */
static enum e2_status
part_fetch(void *ctx, const char *section, mime_sink_fn sink, void *sink_ctx,
	   struct e2_err *err)
{
	struct part_fetch *pf = ctx;
	struct imap_run *r = pf->r;
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_fetch_att *att = NULL;
	struct mailimap_section *sec;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool got = false;
	struct imap_fetch_asked q = {
		.uids = &pf->uid, .n = 1, .answered = &got};
	size_t room = 0;
	int code;

	/* RETRIEVE: nothing more would be kept, leave the rest unfetched */
	if (pf->t != NULL && sink_ctx == pf->t && mime_trunc_full(pf->t)) {
		pf->skipped = true;
		return E2_OK;
	}
	if (pf->t != NULL && sink_ctx == pf->t)
		room = mime_trunc_room(pf->t);
	sec = imap_section_of(section);
	if (sec != NULL) {
		/* RETRIEVE: no more than the truncation keeps (<0.room>) */
		att = room > 0 && room < UINT32_MAX
			      ? mailimap_fetch_att_new_body_peek_section_partial(
					sec, 0, (uint32_t)room)
			      : mailimap_fetch_att_new_body_peek_section(sec);
		if (att == NULL)
			mailimap_section_free(sec);
	}
	set = mailimap_set_new_single(pf->uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	if (att == NULL || set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, att) !=
		    MAILIMAP_NO_ERROR) {
		if (att != NULL)
			mailimap_fetch_att_free(att);
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (BODY.PEEK[part])", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL && !got;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* sets got */
		pf->bytes += m.body_len;
		if (room > 0 && m.body_len >= room)
			pf->skipped = true; /* maybe cut by <0.room> */
		if (m.body_len > 0)
			rc = sink(sink_ctx, m.body, m.body_len, err);
	}
	if (rc == E2_OK && !got)
		rc = e2_fail(err, E2_EPROTO,
			     "imap UID FETCH %u BODY[%s]: no such section",
			     (unsigned)pf->uid, section);
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/* UID FETCH uid (UID FLAGS INTERNALDATE) into *m (body unused). */
static enum e2_status
imap_msg_meta(struct imap_run *r, uint32_t uid, struct imap_msg *m,
	      struct e2_err *err)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_fetch_type *ft =
		mailimap_fetch_type_new_fetch_att_list_empty();
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool got = false;
	struct imap_fetch_asked q = {.uids = &uid, .n = 1, .answered = &got};
	int code;

	if (set == NULL || ft == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_flags()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_internaldate()) !=
		    MAILIMAP_NO_ERROR) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (FLAGS INTERNALDATE)", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL && !got;
	     it = clist_next(it)) {
		size_t slot;

		imap_msg_parse(clist_content(it), m);
		if (m->has_flags)
			(void)imap_fetch_asked_take(&q, m->uid,
						    &slot); /* sets got */
	}
	if (!got)
		memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->body = NULL;
	m->bodystructure = NULL;
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	return rc;
}

/*
 * KEEPMAX: assembles the message from its kept parts and placeholders
 * (mime_assemble()) into the batch; with RETRIEVE, through a struct
 * mime_trunc, as mime.h says: KEEPMAX first, then RETRIEVE.
 */
static enum e2_status
folder_fetch_keepmax(struct folder_run *f, struct maildir_batch *b,
		     const struct sized *sz, struct fetched_row *row,
		     struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct part_fetch pf = {.r = r, .uid = sz->uid};
	struct maildir_msg *msg = NULL;
	struct mime_trunc_info ti = {0};
	struct imap_msg m;
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;

	row->uid = 0; /* 0: skipped, no row */
	if (mime_plan_check(sz->plan, err) != E2_OK) {
		/* this message cannot be stored as the rules say: it is
		 * skipped and reported, the folder goes on */
		sync_skip(c, f->name, sz->uid, err);
		return E2_OK;
	}
	rc = imap_msg_meta(r, sz->uid, &m, err);
	if (rc != E2_OK)
		return rc;
	rc = folder_tag(f, sz->uid, tag, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_msg_begin(b, f->path, m.flags[0] != '\0' ? m.flags : NULL,
			       tag, &msg, err);
	if (rc != E2_OK)
		return rc;
	if (c->a->retrieve > 0) {
		rc = mime_trunc_new((size_t)c->a->retrieve, &pf.t, err);
		if (rc == E2_OK)
			rc = mime_assemble(sz->plan, part_fetch, &pf,
					   mime_trunc_write, pf.t, err);
		/* sections left unfetched: the server's size is the truth */
		if (rc == E2_OK)
			rc = mime_trunc_finish(pf.t, pf.skipped ? sz->size : 0,
					       maildir_msg_sink, msg, &ti, err);
		mime_trunc_free(&pf.t);
	} else {
		rc = mime_assemble(sz->plan, part_fetch, &pf, maildir_msg_sink,
				   msg, err);
	}
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		return rc;
	}
	rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK)
		return rc;
	row->uid = sz->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(m.flags, row->flags);
	row->partial = ti.truncated;
	row->omitted = true;
	row->internal_date = m.internal_date;
	row->bytes = pf.bytes;
	return E2_OK;
}

/*
 * Adopts the files of ours that an interrupted run left in new/ or cur/
 * (tagged with a UID of this UIDVALIDITY, no state row yet) for the UIDs in
 * uids (sorted) instead of fetching them again; the other UIDs go to todo.
 * One pass over the local files with a binary search each, so a resync
 * after a crash costs O(files log uids), not O(files * uids).
 */
static enum e2_status
folder_adopt(struct folder_run *f, const struct uidv *uids, struct uidv *todo,
	     struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	bool *taken = NULL;
	enum e2_status rc = E2_OK;

	if (uids->n == 0)
		return E2_OK;
	taken = calloc(uids->n, sizeof(*taken));
	if (taken == NULL)
		return imap_oom(err);
	for (size_t i = 0; i < f->local.n; i++) {
		struct maildir_file *lf = &f->local.v[i];
		struct sync_msg_row row = {0};
		const uint32_t *hit;
		uint32_t uid;

		if (lf->matched)
			continue;
		uid = local_tag_uid(lf->tag, f->cur.uidvalidity, f->id);
		if (uid == 0)
			continue;
		hit = bsearch(&uid, uids->v, uids->n, sizeof(*uids->v),
			      uid_cmp);
		if (hit == NULL || taken[hit - uids->v])
			continue;
		row.uid = uid;
		row.uniq = lf->uniq;
		flags_synced(lf->flags, row.flags);
		sync_adopt_marks(f->path, lf, SYNC_MARKS_READ, &row.partial,
				 &row.omitted);
		rc = state_row_put(c, f->name, &row, err);
		if (rc != E2_OK)
			goto out;
		lf->matched = true;
		taken[hit - uids->v] = true;
		c->stats->adopted++;
	}
	for (size_t i = 0; i < uids->n && rc == E2_OK; i++)
		if (!taken[i])
			rc = uidv_add(todo, uids->v[i], err);
out:
	free(taken);
	return rc;
}

static bool
row_has_uid(const struct folder_run *f, uint32_t uid)
{
	size_t lo = 0, hi = f->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->rows[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nrows && f->rows[lo].uid == uid;
}

/*
 * Adds to uids (sorted again) the UIDs 1..hi inside the window that have
 * no row and were not deleted locally in this run.
 */
static enum e2_status
folder_older(struct folder_run *f, uint32_t hi, struct uidv *uids,
	     struct e2_err *err)
{
	struct uidv older = {0};
	enum e2_status rc;

	rc = imap_search(f->r, 1, hi, f->r->c->a->dwnday >= 0 ? 1 : 0, &older,
			 err);
	for (size_t i = 0; i < older.n && rc == E2_OK; i++) {
		uint32_t uid = older.v[i];

		if (row_has_uid(f, uid) ||
		    (f->del.n > 0 &&
		     bsearch(&uid, f->del.v, f->del.n, sizeof(*f->del.v),
			     uid_cmp) != NULL))
			continue;
		rc = uidv_add(uids, uid, err);
	}
	if (rc == E2_OK)
		uidv_sort_unique(uids);
	uidv_free(&older);
	return rc;
}

/* Whether the folder holds files of ours tagged with another UIDVALIDITY. */
static bool
folder_has_stale(const struct folder_run *f)
{
	for (size_t i = 0; i < f->local.n; i++) {
		struct reconcile_tag t;

		if (reconcile_tag_parse(f->local.v[i].tag, &t) &&
		    t.uidvalidity != f->cur.uidvalidity)
			return true;
	}
	return false;
}

static enum e2_status
folder_new(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct uidv uids = {0}, todo = {0};
	struct sized *sz = NULL;
	struct fetched_row *rows = NULL;
	uint32_t *full = NULL, *part = NULL;
	const struct sized **kept = NULL;
	struct maildir_batch *b = NULL;
	uint32_t start = 1;
	enum e2_status rc = E2_OK;

	if (f->fs.known && f->fs.uidvalidity == f->cur.uidvalidity)
		start = f->fs.uidnext;
	if (f->nrows > 0 && f->rows[f->nrows - 1].uid >= start)
		start = f->rows[f->nrows - 1].uid + 1;
	if (start == 0)
		start = 1;
	if (f->cur.uidnext == 0 || start < f->cur.uidnext) {
		rc = imap_search(r, start, 0, c->a->dwnday >= 0 ? 1 : 0, &uids,
				 err);
		if (rc != E2_OK)
			goto out;
	}
	/* server messages below start without a row: a widened window */
	if (start > 1 && f->cur.nmsgs > f->nrows - f->ndropped + uids.n) {
		rc = folder_older(f, start - 1, &uids, err);
		if (rc != E2_OK)
			goto out;
	}
	if (uids.n == 0)
		goto out;
	/* adopt what an interrupted run left in new/ or cur/ */
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	rc = folder_adopt(f, &uids, &todo, err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		goto out;
	}
	rc = store_commit(c->st, err);
	if (rc != E2_OK)
		goto out;
	if (c->a->retrieve <= 0 && c->a->keepmax <= 0) {
		rc = folder_stream(f, &todo, err);
		goto out;
	}

	sz = calloc(c->o.batch_msgs * 4 + 1, sizeof(*sz));
	rows = calloc(c->o.batch_msgs + 1, sizeof(*rows));
	full = calloc(c->o.batch_msgs + 1, sizeof(*full));
	part = calloc(c->o.batch_msgs + 1, sizeof(*part));
	kept = calloc(c->o.batch_msgs + 1, sizeof(*kept));
	if (sz == NULL || rows == NULL || full == NULL || part == NULL ||
	    kept == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t lo = 0; lo < todo.n && !sync_stopping(c);) {
		size_t chunk = todo.n - lo;

		if (chunk > c->o.batch_msgs * 4)
			chunk = c->o.batch_msgs * 4;
		rc = imap_sizes(r, todo.v + lo, chunk, sz, err);
		if (rc != E2_OK)
			goto out;
		for (size_t i = 0; i < chunk && !sync_stopping(c);) {
			size_t nfull = 0, npart = 0, nkept = 0, nrows = 0;
			unsigned long long bytes = 0;

			while (i < chunk &&
			       nfull + npart + nkept < c->o.batch_msgs &&
			       (nfull + npart + nkept == 0 ||
				bytes + sz[i].size <= c->o.batch_bytes)) {
				if (sz[i].plan != NULL) {
					kept[nkept++] = &sz[i];
					bytes += mime_plan_size(sz[i].plan, 0);
				} else if (c->a->retrieve > 0 &&
					   sz[i].size > (unsigned long)c->a
								->retrieve) {
					part[npart++] = sz[i].uid;
					bytes += (unsigned long)c->a->retrieve;
				} else {
					full[nfull++] = sz[i].uid;
					bytes += sz[i].size;
				}
				i++;
			}
			rc = maildir_batch_begin(c->md, &b, err);
			if (rc != E2_OK)
				goto out;
			rc = folder_fetch_bodies(f, b, full, nfull, false, rows,
						 &nrows, err);
			if (rc == E2_OK)
				rc = folder_fetch_bodies(f, b, part, npart,
							 true, rows, &nrows,
							 err);
			/* one FETCH per message here: SIGTERM stops after the
			 * current one, and what was fetched commits */
			for (size_t j = 0;
			     j < nkept && rc == E2_OK && !sync_stopping(c);
			     j++) {
				rc = folder_fetch_keepmax(f, b, kept[j],
							  &rows[nrows], err);
				if (rc == E2_OK && rows[nrows].uid != 0)
					nrows++;
			}
			if (rc == E2_OK)
				rc = folder_commit(f, &b, rows, nrows, err);
			if (rc != E2_OK)
				goto out;
		}
		sized_clear(sz, chunk);
		lo += chunk;
	}
out:
	if (sz != NULL)
		sized_clear(sz, c->o.batch_msgs * 4);
	maildir_batch_free(&b);
	free(kept);
	free(part);
	free(full);
	free(rows);
	free(sz);
	uidv_free(&todo);
	uidv_free(&uids);
	return rc;
}

/* DWNDAY: known messages older than the window leave the local store. */
static enum e2_status
folder_age_out(struct folder_run *f, struct e2_err *err)
{
	enum e2_status rc;

	if (f->r->c->a->dwnday < 0 || f->nrows == 0)
		return E2_OK;
	rc = imap_search(f->r, f->rows[0].uid, f->rows[f->nrows - 1].uid, -1,
			 &f->aged, err);
	if (rc != E2_OK || f->aged.n == 0)
		return rc;
	return folder_drop_rows(f, &f->aged, false, err);
}

static enum e2_status
folder_select(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_selection_info *si;
	uint64_t modseq = 0;
	int code;

	if (r->caps.condstore)
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
	}
	return E2_OK;
}

static enum e2_status
imap_folder(struct imap_run *r, const char *name, char sep, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct folder_run f = {0};
	bool same = false, moved = false;
	enum e2_status rc;

	f.r = r;
	f.name = name;
	c->stats->folders++;
	/* the folder's own directory, never another's (maildir.h) */
	rc = maildir_folder_claim(c->md, name, sep, &f.path, &moved, err);
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
	rc = state_rows_load(c, name, &f.rows, &f.nrows, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_snapshot(f.path, "U", &f.local, err);
	if (rc != E2_OK)
		goto out;
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
	rc = folder_known(&f, err);
	if (rc == E2_OK)
		rc = folder_server_delete(&f, err);
	if (rc == E2_OK)
		rc = folder_age_out(&f, err);
	if (rc == E2_OK)
		rc = folder_new(&f, err);
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
static enum e2_status
imap_open(struct imap_run *r, struct sync_ctx *c, struct e2_err *err)
{
	struct chain_opts co = {.cafile = c->o.cafile,
				.timeout_ms = c->o.timeout_ms,
				.login = true};
	struct e2_side_report rep;
	enum e2_status rc;

	r->c = c;
	rc = chain_open(c->a, E2_SIDE_IN, &co, &r->sess, &rep, err);
	if (rc != E2_OK)
		return rc;
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
	chain_session_free(&r.sess);
	return rc;
}

/* ---- the whole message, later (e2_sync_fetch_full(), sync_full.c) ----- */

enum e2_status
sync_imap_fetch_whole(struct sync_ctx *c, const char *folder, uint32_t uid,
		      uint32_t uidvalidity, sync_full_fn fn, void *ctx,
		      struct e2_err *err)
{
	struct imap_run r = {0};
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_section *sec = NULL;
	struct mailimap_fetch_att *body = NULL;
	struct mailimap_selection_info *si;
	clist *res = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;
	bool found = false;
	struct imap_fetch_asked q = {.uids = &uid, .n = 1, .answered = &found};
	int code;

	rc = imap_open(&r, c, err);
	if (rc != E2_OK)
		goto out;
	/* read-only: nothing on the server changes, \Recent included */
	code = mailimap_examine(r.imap, folder);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(&r, code, "EXAMINE", err);
		goto out;
	}
	si = r.imap->imap_selection_info;
	if (si == NULL || si->sel_uidvalidity != uidvalidity) {
		rc = e2_fail(err, E2_EINVAL,
			     "imap %s: UIDVALIDITY changed (%u, was %u): the "
			     "next sync downloads the folder again",
			     folder, si != NULL ? si->sel_uidvalidity : 0u,
			     (unsigned)uidvalidity);
		goto out;
	}
	set = mailimap_set_new_single(uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	sec = mailimap_section_new(NULL);
	if (sec != NULL)
		body = mailimap_fetch_att_new_body_peek_section(sec);
	if (body == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || body == NULL ||
	    mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR) {
		if (body != NULL)
			mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, body) !=
	    MAILIMAP_NO_ERROR) {
		mailimap_fetch_att_free(body);
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r.imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(&r, code, "UID FETCH (BODY.PEEK[])", err);
		goto out;
	}
	{
		char id[SYNCSTATE_FOLDER_ID_MAX + 1], val[RECONCILE_TAG_MAX];

		rc = syncstate_folder_id(c->ss, folder, id, err);
		if (rc == E2_OK)
			rc = reconcile_tag_format(uid, uidvalidity, id, val,
						  err);
		if (rc != E2_OK)
			goto out;
		(void)snprintf(tag, sizeof(tag), "U=%s", val);
	}
	for (clistiter *it = clist_begin(res); it != NULL && !found;
	     it = clist_next(it)) {
		struct imap_msg m;
		size_t slot;

		imap_msg_parse(clist_content(it), &m);
		if (m.body == NULL || !imap_fetch_asked_take(&q, m.uid, &slot))
			continue; /* sets found */
		rc = fn(ctx, tag, m.body, m.body_len, err);
	}
	if (!found)
		rc = e2_fail(err, E2_EINVAL,
			     "imap %s: UID %u is no longer on the server",
			     folder, (unsigned)uid);
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	chain_session_free(&r.sess);
	return rc;
}
