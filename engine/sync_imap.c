/* SPDX-License-Identifier: MIT */
/* sync_imap.c -- IMAP4 and the account's Maildir++, both ways */
#include "config.h"

#include "sync.h"
#include "sync_dedupe.h"
#include "sync_full.h"

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

#include "imap_bodystructure.h"
#include "imap_fetch_stream.h"
#include "mime.h"
#include "msgfile.h"
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

#define SYNC_IMAP_CHUNK 2000u
#define SYNC_TAG_MAX (RECONCILE_TAG_MAX + 2) /* "U=" and the value */
#define SYNC_MARKS_READ (256u * 1024) /* of an adopted file, for its marks */

struct imap_caps {
	bool condstore;
	bool uidplus;
	bool move;
	uint64_t appendlimit; /* APPENDLIMIT=n (RFC 7889), 0: none */
};

/*
 * One LISTed folder as the account pass saw it (imap_account_pass()),
 * before the per-folder loop: its directory, id and stored UIDVALIDITY,
 * and -- only when its stamp changed since the last run -- its files.
 */
struct acct_folder {
	char *name;
	char sep;
	char id[SYNCSTATE_FOLDER_ID_MAX + 1];
	char *path;              /* NULL: cannot be mapped (claim_err) */
	struct e2_err claim_err; /* reported by imap_folder() */
	bool moved;              /* maildir_folder_claim()'s *moved_out */
	bool known;              /* a state row that names this directory */
	uint32_t uidvalidity;    /* stored */
	bool listed;             /* snap taken: the folder changed */
	struct maildir_snapshot snap;
};

/* The account index and tag refs every folder's reconcile_folder() reads */
struct acct_index {
	struct acct_folder *fv;
	size_t nf;
	struct reconcile_index_entry *index;
	size_t nindex, capindex;
	struct reconcile_tagref *refs;
	size_t nrefs, caprefs;
};

struct imap_run {
	struct sync_ctx *c;
	struct chain_session *sess;
	mailimap *imap;
	struct imap_caps caps;
	char *trash; /* the Trash folder's name, NULL when none */
	struct acct_index ax;
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
	bool *gone;                    /* [local.n] removed as a copy */
	struct reconcile_server *srv;  /* the server listing, by uid */
	size_t nsrv, capsrv;
	struct uidv taken; /* UIDs of this run's uploads */
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

/* UID SEARCH UID lo:* [SINCE d | BEFORE d] [UNDELETED] -> sorted uids >= lo
 * (and <= hi when hi != 0); dateop 1 SINCE, -1 BEFORE, 0 none, plus
 * SEARCH_UNDELETED for messages not flagged \Deleted */
#define SEARCH_UNDELETED 4
static enum e2_status
imap_search(struct imap_run *r, uint32_t lo, uint32_t hi, int dateop,
	    struct uidv *out, struct e2_err *err)
{
	struct mailimap_search_key *key = NULL, *k;
	struct mailimap_set *set;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	bool undeleted = dateop >= SEARCH_UNDELETED;
	int code;

	if (undeleted)
		dateop -= SEARCH_UNDELETED;
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
	if (undeleted) {
		k = mailimap_search_key_new(MAILIMAP_SEARCH_KEY_UNDELETED, NULL,
					    NULL, NULL, NULL, NULL, NULL, NULL,
					    NULL, NULL, NULL, NULL, NULL, NULL,
					    NULL, 0, NULL, NULL, NULL, NULL,
					    NULL, NULL, 0, NULL, NULL, NULL);
		if (k == NULL || mailimap_search_key_multiple_add(key, k) !=
					 MAILIMAP_NO_ERROR) {
			if (k != NULL)
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

	/* a message flagged \Deleted (a move without UIDPLUS) is leaving */
	rc = imap_search(f->r, 1, hi,
			 (f->r->c->a->dwnday >= 0 ? 1 : 0) | SEARCH_UNDELETED,
			 &older, err);
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

/*
 * The UIDs without a row inside the DWNDAY window, sorted, into uids: the
 * new ones (UID SEARCH UID <next>:* [SINCE]), and below them those a
 * widened window brings back (present: rows the server still lists).
 */
static enum e2_status
folder_new_uids(struct folder_run *f, size_t present, struct uidv *uids,
		struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	uint32_t start = 1;
	enum e2_status rc = E2_OK;

	if (f->fs.known && f->fs.uidvalidity == f->cur.uidvalidity)
		start = f->fs.uidnext;
	if (f->nrows > 0 && f->rows[f->nrows - 1].uid >= start)
		start = f->rows[f->nrows - 1].uid + 1;
	if (start == 0)
		start = 1;
	if (f->cur.uidnext == 0 || start < f->cur.uidnext) {
		rc = imap_search(r, start, 0, c->a->dwnday >= 0 ? 1 : 0, uids,
				 err);
		if (rc != E2_OK)
			return rc;
	}
	/* server messages below start without a row: a widened window */
	if (start > 1 && f->cur.nmsgs > present + uids->n)
		rc = folder_older(f, start - 1, uids, err);
	return rc;
}

/* Downloads todo (sorted UIDs, no row), streamed or in sized batches. */
static enum e2_status
folder_download(struct folder_run *f, struct uidv *todo_in, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct uidv todo = *todo_in;
	struct sized *sz = NULL;
	struct fetched_row *rows = NULL;
	uint32_t *full = NULL, *part = NULL;
	const struct sized **kept = NULL;
	struct maildir_batch *b = NULL;
	enum e2_status rc = E2_OK;

	if (todo.n == 0)
		return E2_OK;
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
	return rc;
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

static unsigned
flags_mask(const char *flags)
{
	return (flag_has(flags, 'S') ? RECONCILE_FLAG_SEEN : 0u) |
	       (flag_has(flags, 'F') ? RECONCILE_FLAG_FLAGGED : 0u) |
	       (flag_has(flags, 'R') ? RECONCILE_FLAG_ANSWERED : 0u) |
	       (flag_has(flags, 'T') ? RECONCILE_FLAG_TRASHED : 0u);
}

/* The synced letters of mask, normalized. */
static void
mask_letters(unsigned mask, char out[MAILDIR_FLAGS_MAX])
{
	sync_flags_from_imap((mask & RECONCILE_FLAG_SEEN) != 0,
			     (mask & RECONCILE_FLAG_FLAGGED) != 0,
			     (mask & RECONCILE_FLAG_ANSWERED) != 0, false, out);
}

static enum e2_status
srv_add(struct folder_run *f, uint32_t uid, unsigned flags, struct e2_err *err)
{
	if (f->nsrv == f->capsrv) {
		size_t cap = f->capsrv == 0 ? 256 : f->capsrv * 2;
		struct reconcile_server *g = realloc(f->srv, cap * sizeof(*g));

		if (g == NULL)
			return imap_oom(err);
		f->srv = g;
		f->capsrv = cap;
	}
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

/* ---- uploads: APPEND, UID COPY, UID MOVE -----------------------------------
 *
 * A file the server does not have (R3, R9-R11) is APPENDed into its
 * folder: the bytes exactly as in the file, only bare LF made CRLF (the
 * wire needs it; msgfile_wire()), the synced flags (\Seen \Flagged
 * \Answered, and \Draft from D) and INTERNALDATE from its Date header (else
 * the file's mtime). The file is another program's: it is checked first
 * (msgfile_check(): a header, no NUL, at most SYNC_UPLOAD_MAX bytes and
 * the server's APPENDLIMIT); a bad one, or one the server refuses, is
 * reported (sync_skip()) and kept as it is; the folder goes on.
 *
 * A file that names another folder's row (R7, R8) is never sent again:
 * the message is copied on the server, from the source folder (SELECTed
 * for it): UID MOVE when the server has MOVE (RFC 6851), else UID COPY,
 * the rows, then \Deleted and UID EXPUNGE of that one UID (without
 * UIDPLUS only \Deleted: a bare EXPUNGE could remove others' messages);
 * UID COPY for a copy. A source UID the server no longer has falls back
 * to APPEND.
 *
 * The new UID comes from APPENDUID / COPYUID (UIDPLUS). Without them it
 * is found by UID SEARCH UID <uidnext before>:* [HEADER Message-ID <id>]
 * LARGER <size - 1> SMALLER <size + 1> in the folder: the lowest UID with
 * no row wins (a message with no usable Message-ID is found by its size
 * alone: two uploads of the same size in one run without UIDPLUS could
 * swap their UIDs; flags are then corrected by the next sync).
 *
 * Then the file is renamed to carry the new-form tag (U=<uid>-V<v>-F<id>
 * replaces any U= field; nothing else of the name changes) and the row is
 * written. Crash order: the upload is recorded (sync_uploads) and
 * committed BEFORE the server step; a kill after the APPEND / COPY and
 * before the rename leaves that record, and the next run looks for the
 * message with the same search and adopts it instead of sending it again;
 * a kill after the rename leaves a file with this folder's tag and no row:
 * ADOPT (R12). One window is documented: a move by UID COPY killed between
 * its rows and the EXPUNGE of the source leaves the source message and its
 * row; the next run sees a local delete there (R5) and applies
 * SERVERDELETEACTION to it (2: one copy lands in the Trash).
 */

#define SYNC_UPLOAD_MAX (64u * 1024 * 1024)

struct upload_src {
	char *buf; /* the file */
	size_t len;
	char *wire; /* CRLF */
	struct msgfile_info info;
	time_t mtime;
};

static void
upload_src_free(struct upload_src *u)
{
	free(u->buf);
	free(u->wire);
	memset(u, 0, sizeof(*u));
}

/* Reports a file that is not uploaded (the file stays). */
static void
upload_skip(struct folder_run *f, const struct maildir_file *lf,
	    const char *why)
{
	struct e2_err e = {0};
	char q[160];

	(void)e2_quote(q, sizeof(q), lf->name, strlen(lf->name));
	(void)e2_fail(&e, E2_EINVAL, "file %s kept, not uploaded: %s", q, why);
	sync_skip(f->r->c, f->name, 0, &e);
}

/*
 * Reads and checks the file (see above). *ok_out false: reported, kept.
 * Errors: E2_ENOMEM (a file that cannot be read is reported, not an error).
 */
static enum e2_status
upload_read(struct folder_run *f, const struct maildir_file *lf,
	    struct upload_src *u, bool *ok_out, struct e2_err *err)
{
	size_t max = SYNC_UPLOAD_MAX;
	struct e2_err why = {0};
	char path[4096];
	struct stat sb;
	int fd = -1;

	*ok_out = false;
	memset(u, 0, sizeof(*u));
	if (f->r->caps.appendlimit > 0 && f->r->caps.appendlimit < max)
		max = (size_t)f->r->caps.appendlimit;
	if (snprintf(path, sizeof(path), "%s/%s/%s", f->path, lf->sub,
		     lf->name) >= (int)sizeof(path)) {
		upload_skip(f, lf, "path too long");
		return E2_OK;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		upload_skip(f, lf, "not a readable regular file");
		goto out;
	}
	if ((unsigned long long)sb.st_size > max) {
		(void)e2_fail(&why, E2_EINVAL, "larger than %zu bytes", max);
		upload_skip(f, lf, why.msg);
		goto out;
	}
	u->mtime = sb.st_mtime;
	u->buf = malloc((size_t)sb.st_size + 1);
	if (u->buf == NULL) {
		close(fd);
		return imap_oom(err);
	}
	while (u->len < (size_t)sb.st_size) {
		ssize_t n =
			read(fd, u->buf + u->len, (size_t)sb.st_size - u->len);

		if (n <= 0)
			break;
		u->len += (size_t)n;
	}
	if (msgfile_check(u->buf, u->len, max, &u->info, &why) != E2_OK) {
		upload_skip(f, lf, why.msg);
		goto out;
	}
	if (u->info.wire_size > max) {
		upload_skip(f, lf, "larger than the server's APPENDLIMIT");
		goto out;
	}
	u->wire = malloc(u->info.wire_size + 1);
	if (u->wire == NULL) {
		close(fd);
		return imap_oom(err);
	}
	msgfile_wire(u->buf, u->len, u->wire);
	*ok_out = true;
out:
	if (fd >= 0)
		close(fd);
	return E2_OK;
}

/* Whether uid has a row (asked of the store: the rows may not be loaded
 * yet) or was taken by an upload of this run; an error counts as taken. */
static bool
uid_taken(const struct folder_run *f, uint32_t uid)
{
	struct syncstate_msg m;
	struct e2_err e = {0};
	bool found = false;

	for (size_t i = 0; i < f->taken.n; i++)
		if (f->taken.v[i] == uid)
			return true;
	if (syncstate_msg_get_uid(f->r->c->ss, f->name, uid, &found, &m, &e) !=
	    E2_OK)
		return true;
	return found;
}

static enum e2_status
search_add(struct mailimap_search_key *key, struct mailimap_search_key *k,
	   struct e2_err *err)
{
	if (k == NULL)
		return imap_oom(err);
	if (mailimap_search_key_multiple_add(key, k) != MAILIMAP_NO_ERROR) {
		mailimap_search_key_free(k);
		return imap_oom(err);
	}
	return E2_OK;
}

/*
 * The fallback without APPENDUID / COPYUID (see above), in the selected
 * folder f: *uid_out 0 when not found.
 */
static enum e2_status
upload_find(struct folder_run *f, uint32_t uidnext, const char *msgid,
	    size_t size, uint32_t *uid_out, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_search_key *key = NULL;
	struct mailimap_set *set = NULL;
	clist *res = NULL;
	enum e2_status rc;
	int code;

	*uid_out = 0;
	key = mailimap_search_key_new_multiple_empty();
	set = mailimap_set_new_interval(uidnext > 0 ? uidnext : 1, 0);
	if (key == NULL || set == NULL) {
		if (set != NULL)
			mailimap_set_free(set);
		rc = imap_oom(err);
		goto out;
	}
	rc = search_add(key, mailimap_search_key_new_uid(set), err);
	if (rc != E2_OK) {
		mailimap_set_free(set);
		goto out;
	}
	if (msgid[0] != '\0') {
		char *h = strdup("Message-ID"), *v = strdup(msgid);
		struct mailimap_search_key *k = NULL;

		if (h != NULL && v != NULL)
			k = mailimap_search_key_new_header(h, v);
		if (k == NULL) {
			free(h);
			free(v);
		}
		rc = search_add(key, k, err);
		if (rc != E2_OK)
			goto out;
	}
	if (size > 0 && size < UINT32_MAX) {
		rc = search_add(
			key, mailimap_search_key_new_larger((uint32_t)size - 1),
			err);
		if (rc == E2_OK)
			rc = search_add(key,
					mailimap_search_key_new_smaller(
						(uint32_t)size + 1),
					err);
		if (rc != E2_OK)
			goto out;
	}
	code = mailimap_uid_search(r->imap, NULL, key, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID SEARCH", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		uint32_t uid = *(uint32_t *)clist_content(it);

		if (uid >= uidnext && !uid_taken(f, uid) &&
		    (*uid_out == 0 || uid < *uid_out))
			*uid_out = uid;
	}
out:
	if (res != NULL)
		mailimap_search_result_free(res);
	if (key != NULL)
		mailimap_search_key_free(key);
	return rc;
}

/*
 * Renames lf to carry the new-form tag of uid in f (any U= field
 * replaced, the rest of the name kept) and gives its new unique name.
 */
static enum e2_status
upload_retag(struct folder_run *f, const struct maildir_file *lf, uint32_t uid,
	     char uniq_out[SYNCSTATE_NAME_MAX + 1], struct e2_err *err)
{
	char tag[SYNC_TAG_MAX], from[4096], to[4096];
	const char *info = lf->name + strlen(lf->uniq);
	const char *u = strstr(lf->uniq, ",U=");
	size_t keep = u != NULL ? (size_t)(u - lf->uniq) : strlen(lf->uniq);
	const char *rest = "";
	enum e2_status rc;
	int n;

	rc = folder_tag(f, uid, tag, err);
	if (rc != E2_OK)
		return rc;
	if (u != NULL) {
		rest = strchr(u + 1, ',');
		if (rest == NULL)
			rest = "";
	}
	n = snprintf(uniq_out, SYNCSTATE_NAME_MAX + 1, "%.*s%s,%s", (int)keep,
		     lf->uniq, rest, tag);
	if (n < 0 || n > SYNCSTATE_NAME_MAX ||
	    (size_t)n + strlen(info) > SYNCSTATE_NAME_MAX)
		return e2_fail(err, E2_EINVAL,
			       "file name too long to carry uid %u",
			       (unsigned)uid);
	(void)snprintf(from, sizeof(from), "%s/%s/%s", f->path, lf->sub,
		       lf->name);
	(void)snprintf(to, sizeof(to), "%s/%s/%s%s", f->path, lf->sub, uniq_out,
		       info);
	if (rename(from, to) != 0)
		return e2_fail(err, E2_ESTORE, "rename %s: %s", from,
			       strerror(errno));
	return E2_OK;
}

/*
 * After the server step: retag the file, write the row (and drop
 * drop_row's, and the source row of a move), forget the record.
 */
static enum e2_status
upload_finish(struct folder_run *f, const struct maildir_file *lf, uint32_t uid,
	      unsigned flags, const struct sync_msg_row *drop_row,
	      const char *src_folder, uint32_t src_uid, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	char uniq[SYNCSTATE_NAME_MAX + 1];
	struct sync_msg_row row = {0};
	enum e2_status rc;

	rc = uidv_add(&f->taken, uid, err);
	if (rc == E2_OK)
		rc = upload_retag(f, lf, uid, uniq, err);
	if (rc != E2_OK)
		return rc;
	row.uid = uid;
	row.uniq = uniq;
	mask_letters(flags, row.flags);
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	rc = state_row_put(c, f->name, &row, err);
	if (rc == E2_OK && drop_row != NULL && drop_row->uid != uid)
		rc = syncstate_msg_delete_uid(c->ss, f->name, drop_row->uid,
					      err);
	if (rc == E2_OK && src_folder != NULL)
		rc = syncstate_msg_delete_uid(c->ss, src_folder, src_uid, err);
	if (rc == E2_OK)
		rc = syncstate_upload_done(c->ss, f->name, lf->uniq, err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		return rc;
	}
	return store_commit(c->st, err);
}

/* Records the upload of lf into f before the server step (see above). */
static enum e2_status
upload_record(struct folder_run *f, const struct maildir_file *lf,
	      const struct upload_src *u, const char *src_folder,
	      uint32_t src_uid, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct syncstate_upload rec = {0};
	enum e2_status rc;

	(void)snprintf(rec.local_name, sizeof(rec.local_name), "%s", lf->uniq);
	(void)snprintf(rec.message_id, sizeof(rec.message_id), "%s",
		       u->info.message_id);
	(void)snprintf(rec.src_folder, sizeof(rec.src_folder), "%s",
		       src_folder != NULL ? src_folder : "");
	rec.size = u->info.wire_size;
	rec.uidnext = f->cur.uidnext;
	rec.src_uid = src_uid;
	rec.created = (int64_t)c->now;
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	rc = syncstate_upload_put(c->ss, f->name, &rec, err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		return rc;
	}
	return store_commit(c->st, err);
}

/*
 * A recorded upload of lf into f that a kill interrupted: the message the
 * server got then, found by the search (f selected), else 0.
 */
static enum e2_status
upload_recover(struct folder_run *f, const struct maildir_file *lf,
	       const struct upload_src *u, uint32_t *uid_out,
	       struct e2_err *err)
{
	struct syncstate_upload rec;
	bool found = false;
	enum e2_status rc;

	*uid_out = 0;
	rc = syncstate_upload_get(f->r->c->ss, f->name, lf->uniq, &found, &rec,
				  err);
	if (rc != E2_OK || !found)
		return rc;
	return upload_find(f, rec.uidnext, u->info.message_id,
			   u->info.wire_size, uid_out, err);
}

static struct mailimap_flag_list *
upload_flags(unsigned flags, bool draft)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	static struct mailimap_flag *(*const mk[4])(void) = {
		mailimap_flag_new_seen, mailimap_flag_new_flagged,
		mailimap_flag_new_answered, mailimap_flag_new_draft};
	const bool on[4] = {(flags & RECONCILE_FLAG_SEEN) != 0,
			    (flags & RECONCILE_FLAG_FLAGGED) != 0,
			    (flags & RECONCILE_FLAG_ANSWERED) != 0, draft};

	for (int i = 0; i < 4 && fl != NULL; i++) {
		struct mailimap_flag *f;

		if (!on[i])
			continue;
		f = mk[i]();
		if (f == NULL ||
		    mailimap_flag_list_add(fl, f) != MAILIMAP_NO_ERROR) {
			if (f != NULL)
				mailimap_flag_free(f);
			mailimap_flag_list_free(fl);
			fl = NULL;
		}
	}
	return fl;
}

static struct mailimap_date_time *
upload_date(const struct upload_src *u)
{
	const struct msgfile_date *d = &u->info.date;
	struct tm tm;

	if (u->info.has_date)
		return mailimap_date_time_new(d->day, d->month, d->year,
					      d->hour, d->min, d->sec, d->zone);
	if (gmtime_r(&u->mtime, &tm) == NULL)
		return NULL;
	return mailimap_date_time_new(tm.tm_mday, tm.tm_mon + 1,
				      tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
				      tm.tm_sec, 0);
}

/*
 * The uploads a kill interrupted (sync_uploads records of f), before the
 * rows are loaded and the plan is made: each one whose message the server
 * got is adopted (retag, row) now, so that message is not taken for new
 * mail and downloaded beside the file. A record whose file is gone is
 * dropped; one not found on the server stays for the plan's UPLOAD / MOVE.
 */
#define SYNC_RECOVER_MAX 64
static enum e2_status
folder_recover_uploads(struct folder_run *f, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct syncstate_upload *recs = NULL;
	size_t n = 0;
	enum e2_status rc;

	recs = calloc(SYNC_RECOVER_MAX, sizeof(*recs));
	if (recs == NULL)
		return imap_oom(err);
	rc = syncstate_upload_list(c->ss, f->name, recs, SYNC_RECOVER_MAX, &n,
				   err);
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct maildir_file lf = {0};
		const char *sub = NULL;
		char *name = NULL;
		bool found = false;
		uint32_t uid = 0;

		rc = maildir_locate(f->path, recs[i].local_name, NULL, &found,
				    &sub, &name, err);
		if (rc == E2_OK && !found)
			rc = syncstate_upload_done(c->ss, f->name,
						   recs[i].local_name, err);
		if (rc == E2_OK && found)
			rc = upload_find(f, recs[i].uidnext, recs[i].message_id,
					 recs[i].size, &uid, err);
		if (rc == E2_OK && uid != 0) {
			size_t ulen;

			lf.uniq = recs[i].local_name;
			lf.name = name;
			lf.sub = sub;
			maildir_name_parse(name, &ulen, lf.flags);
			rc = upload_finish(f, &lf, uid,
					   flags_mask(lf.flags) &
						   RECONCILE_SYNCED,
					   NULL, NULL, 0, err);
			c->stats->adopted++;
		}
		free(name);
	}
	free(recs);
	return rc;
}

/* UPLOAD (R3, R9-R11): APPEND lf into f (selected) with flags. */
static enum e2_status
folder_upload(struct folder_run *f, const struct maildir_file *lf,
	      unsigned flags, const struct sync_msg_row *drop_row,
	      struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct upload_src u;
	struct mailimap_flag_list *fl = NULL;
	struct mailimap_date_time *dt = NULL;
	uint32_t uid = 0, uv = 0;
	char named[MAILDIR_FLAGS_MAX];
	size_t ulen;
	enum e2_status rc;
	bool ok;
	int code;

	/* the name's flags, also in new/ (a draft written as new/x:2,D) */
	maildir_name_parse(lf->name, &ulen, named);
	flags |= flags_mask(named) & RECONCILE_SYNCED;
	rc = upload_read(f, lf, &u, &ok, err);
	if (rc != E2_OK || !ok)
		goto out;
	rc = upload_recover(f, lf, &u, &uid, err);
	if (rc != E2_OK)
		goto out;
	if (uid == 0) {
		rc = upload_record(f, lf, &u, NULL, 0, err);
		if (rc != E2_OK)
			goto out;
		fl = upload_flags(flags, flag_has(named, 'D'));
		dt = upload_date(&u);
		if (fl == NULL || dt == NULL) {
			rc = imap_oom(err);
			goto out;
		}
		code = mailimap_uidplus_append(r->imap, f->name, fl, dt, u.wire,
					       u.info.wire_size, &uv, &uid);
		if (code == MAILIMAP_ERROR_APPEND) {
			/* refused (too large, over quota, ...): reported */
			struct e2_err why = {0};
			char q[160] = "";

			if (r->imap->imap_response != NULL)
				(void)e2_quote(q, sizeof(q),
					       r->imap->imap_response,
					       strlen(r->imap->imap_response));
			(void)e2_fail(&why, E2_EPROTO,
				      "the server refused APPEND: %s", q);
			upload_skip(f, lf, why.msg);
			rc = syncstate_upload_done(r->c->ss, f->name, lf->uniq,
						   err);
			goto out;
		}
		if (code != MAILIMAP_NO_ERROR) {
			rc = imap_fail(r, code, "APPEND", err);
			goto out;
		}
		if (uv != f->cur.uidvalidity || uid_taken(f, uid))
			uid = 0;
		if (uid == 0)
			rc = upload_find(f, f->cur.uidnext, u.info.message_id,
					 u.info.wire_size, &uid, err);
		if (rc != E2_OK)
			goto out;
		if (uid == 0) {
			/* sent, but not found: the record makes the next
			 * run look again rather than send it twice */
			upload_skip(f, lf, "appended, its uid not found yet");
			goto out;
		}
		r->c->stats->uploaded++;
	}
	rc = upload_finish(f, lf, uid, flags, drop_row, NULL, 0, err);
out:
	if (fl != NULL)
		mailimap_flag_list_free(fl);
	if (dt != NULL)
		mailimap_date_time_free(dt);
	upload_src_free(&u);
	return rc;
}

static const struct acct_folder *
acct_by_id(const struct imap_run *r, const char *id)
{
	for (size_t i = 0; i < r->ax.nf; i++)
		if (strcmp(r->ax.fv[i].id, id) == 0)
			return &r->ax.fv[i];
	return NULL;
}

/* The only UID of a COPYUID set, 0 when it is not one UID. */
static uint32_t
set_single(struct mailimap_set *set)
{
	struct mailimap_set_item *it;

	if (set == NULL || clist_count(set->set_list) != 1)
		return 0;
	it = clist_content(clist_begin(set->set_list));
	return it->set_first == it->set_last ? it->set_first : 0;
}

static enum e2_status
imap_reselect(struct imap_run *r, const char *name, struct e2_err *err)
{
	int code = mailimap_select(r->imap, name);

	if (code != MAILIMAP_NO_ERROR)
		return imap_fail(r, code, "SELECT", err);
	return E2_OK;
}

/*
 * SERVER_MOVE / SERVER_COPY (R7, R8) of from->uid into f, lf being the
 * file that names it (see "uploads"). Leaves another folder selected.
 */
static enum e2_status
folder_transfer(struct folder_run *f, const struct maildir_file *lf,
		const struct reconcile_action *a, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	bool move = a->kind == RECONCILE_SERVER_MOVE;
	const struct acct_folder *src = acct_by_id(r, a->from->folder_id);
	struct mailimap_set *set = NULL, *sres = NULL, *dres = NULL;
	uint32_t suid = a->from->uid, uid = 0, uv = 0;
	struct upload_src u;
	enum e2_status rc;
	bool ok, moved = false;
	int code;

	if (src == NULL)
		return folder_upload(f, lf, a->flags, NULL, err);
	rc = upload_read(f, lf, &u, &ok, err);
	if (rc != E2_OK || !ok)
		goto out;
	rc = imap_reselect(r, f->name, err);
	if (rc == E2_OK)
		rc = upload_recover(f, lf, &u, &uid, err);
	if (rc != E2_OK)
		goto out;
	if (uid != 0) {
		/* a kill after the copy: adopt it; the source row is left to
		 * its own folder's next run (R4 or R5, see above) */
		rc = upload_finish(f, lf, uid, a->flags, NULL, NULL, 0, err);
		goto out;
	}
	rc = upload_record(f, lf, &u, src->name, suid, err);
	if (rc == E2_OK)
		rc = imap_reselect(r, src->name, err);
	set = mailimap_set_new_single(suid);
	if (rc == E2_OK && set == NULL)
		rc = imap_oom(err);
	if (rc != E2_OK)
		goto out;
	if (move && r->caps.move) {
		code = mailimap_uidplus_uid_move(r->imap, set, f->name, &uv,
						 &sres, &dres);
		moved = true;
	} else {
		code = mailimap_uidplus_uid_copy(r->imap, set, f->name, &uv,
						 &sres, &dres);
	}
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, moved ? "UID MOVE" : "UID COPY", err);
		goto out;
	}
	if (set_single(sres) == suid && uv == f->cur.uidvalidity)
		uid = set_single(dres);
	if (uid == 0 && r->caps.uidplus) {
		/* no COPYUID: the source UID is gone (R9 seen late) */
		rc = syncstate_upload_done(c->ss, f->name, lf->uniq, err);
		upload_src_free(&u);
		if (rc == E2_OK)
			rc = imap_reselect(r, f->name, err);
		if (rc == E2_OK)
			rc = folder_upload(f, lf, a->flags, NULL, err);
		goto out;
	}
	if (uid == 0) {
		/* without UIDPLUS: \Deleted on the source (the copy is
		 * made; no UID EXPUNGE), then look for it in f */
		if (move && !moved) {
			rc = imap_store_flag(r, &suid, 1,
					     mailimap_flag_new_deleted, true,
					     err);
			moved = true;
		}
		if (rc == E2_OK)
			rc = imap_reselect(r, f->name, err);
		if (rc == E2_OK)
			rc = upload_find(f, f->cur.uidnext, u.info.message_id,
					 u.info.wire_size, &uid, err);
		if (rc != E2_OK)
			goto out;
		if (uid == 0) {
			rc = syncstate_upload_done(c->ss, f->name, lf->uniq,
						   err);
			if (rc == E2_OK)
				rc = folder_upload(f, lf, a->flags, NULL, err);
			goto out;
		}
	}
	c->stats->moved++;
	/* the rows: the new one, and the source's once it is gone there */
	rc = upload_finish(f, lf, uid, a->flags, NULL, moved ? src->name : NULL,
			   suid, err);
	if (rc != E2_OK || !move || moved)
		goto out;
	/* UID COPY made the move: now the source goes (UIDPLUS here) */
	rc = imap_store_flag(r, &suid, 1, mailimap_flag_new_deleted, true, err);
	if (rc == E2_OK) {
		rc = folder_expunge(r, set, err);
	}
	if (rc == E2_OK) {
		rc = store_begin(c->st, err);
		if (rc == E2_OK) {
			rc = syncstate_msg_delete_uid(c->ss, src->name, suid,
						      err);
			if (rc == E2_OK)
				rc = store_commit(c->st, err);
			else
				store_rollback(c->st);
		}
	}
out:
	if (set != NULL)
		mailimap_set_free(set);
	if (sres != NULL)
		mailimap_set_free(sres);
	if (dres != NULL)
		mailimap_set_free(dres);
	upload_src_free(&u);
	return rc;
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

/* reconcile_folder() over f, then the plan carried out (see above). */
static enum e2_status
folder_two_way(struct folder_run *f, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct reconcile_input in = {0};
	struct reconcile_plan plan = {0};
	struct reconcile_row *rows = NULL;
	struct reconcile_local *loc = NULL;
	const struct reconcile_action **ups = NULL;
	size_t *lmap = NULL, nloc = 0, nups = 0;
	struct uidv todo = {0};
	enum e2_status rc;

	rc = folder_listing(f, err);
	if (rc != E2_OK)
		return rc;
	rows = calloc(f->nrows + 1, sizeof(*rows));
	loc = calloc(f->local.n + 1, sizeof(*loc));
	lmap = calloc(f->local.n + 1, sizeof(*lmap));
	if (rows == NULL || loc == NULL || lmap == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		rows[i].uid = f->rows[i].uid;
		rows[i].local_name = f->rows[i].uniq;
		rows[i].flags = flags_mask(f->rows[i].flags);
	}
	for (size_t i = 0; i < f->local.n; i++) {
		const struct maildir_file *lf = &f->local.v[i];

		if (f->gone != NULL && f->gone[i])
			continue;
		loc[nloc].uniq = lf->uniq;
		loc[nloc].flags = flags_mask(lf->flags);
		loc[nloc].has_tag =
			reconcile_tag_parse(lf->tag, &loc[nloc].tag);
		lmap[nloc++] = i;
	}
	in.proto = RECONCILE_IMAP;
	in.serverdeleteaction = (int)c->a->serverdeleteaction;
	in.folder_id = f->id;
	in.uidvalidity = f->cur.uidvalidity;
	in.stored_uidvalidity = f->fs.known ? f->fs.uidvalidity : 0;
	in.rows = rows;
	in.nrows = f->nrows;
	in.local = loc;
	in.nlocal = nloc;
	in.server = f->srv;
	in.nserver = f->nsrv;
	in.index = r->ax.index;
	in.nindex = r->ax.nindex;
	in.refs = r->ax.refs;
	in.nrefs = r->ax.nrefs;
	rc = reconcile_folder(&in, &plan, err);
	if (rc != E2_OK)
		goto out;
	ups = calloc(plan.n + 1, sizeof(*ups));
	if (ups == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	rc = folder_apply_local(f, &plan, lmap, &todo, ups, &nups, err);
	if (rc == E2_OK)
		rc = folder_server_delete(f, err);
	if (rc == E2_OK && f->aged.n > 0)
		rc = folder_drop_rows(f, &f->aged, false, err);
	if (rc == E2_OK)
		rc = folder_download(f, &todo, err);
	/* APPENDs first (this folder selected), then what SELECTs others */
	for (int pass = 0; pass < 2 && rc == E2_OK; pass++) {
		for (size_t i = 0; i < nups && rc == E2_OK && !sync_stopping(c);
		     i++) {
			const struct reconcile_action *a = ups[i];
			const struct maildir_file *lf =
				&f->local.v[lmap[a->local]];
			const struct sync_msg_row *old =
				a->row != RECONCILE_NONE ? &f->rows[a->row]
							 : NULL;

			if ((a->kind == RECONCILE_UPLOAD) != (pass == 0))
				continue;
			if (a->kind == RECONCILE_UPLOAD)
				rc = folder_upload(f, lf, a->flags, old, err);
			else
				rc = folder_transfer(f, lf, a, err);
		}
	}
out:
	uidv_free(&todo);
	reconcile_plan_free(&plan);
	free(ups);
	free(lmap);
	free(loc);
	free(rows);
	return rc;
}

static struct acct_folder *acct_by_name(struct imap_run *r, const char *name);

static enum e2_status
imap_folder(struct imap_run *r, const char *name, char sep, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct folder_run f = {0};
	struct acct_folder *af;
	bool same = false, moved = false;
	enum e2_status rc;

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

static enum e2_status
acct_ref_add(struct acct_index *ax, const char *holder,
	     const struct reconcile_tag *t, struct e2_err *err)
{
	if (ax->nrefs == ax->caprefs) {
		size_t cap = ax->caprefs == 0 ? 16 : ax->caprefs * 2;
		struct reconcile_tagref *g =
			realloc(ax->refs, cap * sizeof(*g));

		if (g == NULL)
			return imap_oom(err);
		ax->refs = g;
		ax->caprefs = cap;
	}
	ax->refs[ax->nrefs].holder_id = holder;
	ax->refs[ax->nrefs].tag = *t;
	ax->nrefs++;
	return E2_OK;
}

static enum e2_status
acct_entry_add(struct acct_index *ax, const struct reconcile_index_entry *e,
	       struct e2_err *err)
{
	if (ax->nindex == ax->capindex) {
		size_t cap = ax->capindex == 0 ? 16 : ax->capindex * 2;
		struct reconcile_index_entry *g =
			realloc(ax->index, cap * sizeof(*g));

		if (g == NULL)
			return imap_oom(err);
		ax->index = g;
		ax->capindex = cap;
	}
	ax->index[ax->nindex++] = *e;
	return E2_OK;
}

/* One folder: its directory, id, state and, when it changed, its refs. */
static enum e2_status
acct_folder_scan(struct imap_run *r, struct acct_folder *af, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct syncstate_folder sf = {0};
	char stamp[MAILDIR_STAMP_MAX];
	enum e2_status rc;

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
			e.file_present =
				!af->listed ||
				maildir_snapshot_find(&af->snap,
						      m.local_name) != NULL;
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
	for (clistiter *it = clist_begin(list); it != NULL && rc == E2_OK;
	     it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);
		struct acct_folder *af = &ax->fv[ax->nf];

		if (!list_selectable(mb))
			continue;
		af->name = strdup(mb->mb_name);
		if (af->name == NULL)
			return imap_oom(err);
		af->sep = mb->mb_delimiter;
		ax->nf++;
		rc = acct_folder_scan(r, af, err);
	}
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
