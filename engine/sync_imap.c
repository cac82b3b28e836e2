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

#include "mime.h"
#include "transports/chain.h"
#include "transports/xport.h"

/*
 * Rules (DESIGN.md "Sync rules"; decisions written here):
 *
 * Folders: every LISTed mailbox without \Noselect / \NonExistent. INBOX is
 * the Maildir root, others ".Name" (maildir_folder_encode()). State is keyed
 * by the server's name.
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
#define SYNC_TAG_MAX 48
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

/* A "U=" tag value "<uid>-V<validity>" -> uid when validity matches, else 0 */
static uint32_t
local_tag_uid(const char *val, uint32_t validity)
{
	char *end;
	unsigned long uid, v;

	if (val[0] == '\0')
		return 0;
	uid = strtoul(val, &end, 10);
	if (end == val || *end != '-' || end[1] != 'V')
		return 0;
	v = strtoul(end + 2, &end, 10);
	if (*end != '\0' || v != validity || uid == 0 || uid > UINT32_MAX)
		return 0;
	return (uint32_t)uid;
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

/* INTERNALDATE as epoch seconds, 0 when it makes no sense. */
static int64_t
imap_date_time(const struct mailimap_date_time *dt)
{
	struct tm tm = {0};
	int zone, mins;
	time_t t;

	if (dt == NULL || dt->dt_year < 1970 || dt->dt_month < 1 ||
	    dt->dt_month > 12 || dt->dt_day < 1 || dt->dt_day > 31)
		return 0;
	tm.tm_year = dt->dt_year - 1900;
	tm.tm_mon = dt->dt_month - 1;
	tm.tm_mday = dt->dt_day;
	tm.tm_hour = dt->dt_hour;
	tm.tm_min = dt->dt_min;
	tm.tm_sec = dt->dt_sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return 0;
	/* zone is [+-]HHMM as a number: -0130 is -130 */
	zone = dt->dt_zone < 0 ? -dt->dt_zone : dt->dt_zone;
	mins = (zone / 100) * 60 + zone % 100;
	return (int64_t)t - (dt->dt_zone < 0 ? -mins : mins) * 60;
}

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
			m->internal_date =
				imap_date_time(s->att_data.att_internal_date);
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

static void
uidv_free(struct uidv *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

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
		    local_tag_uid(f->local.v[i].tag, f->cur.uidvalidity) != 0)
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
	struct imap_msg *srv = NULL;
	size_t nsrv = 0, k = 0;
	enum e2_status rc = E2_OK;
	bool in_txn = false;

	srv = calloc(clist_count(fetched) + 1, sizeof(*srv));
	if (srv == NULL)
		return imap_oom(err);
	for (clistiter *it = clist_begin(fetched); it != NULL;
	     it = clist_next(it)) {
		imap_msg_parse(clist_content(it), &srv[nsrv]);
		if (srv[nsrv].uid != 0 && srv[nsrv].has_flags)
			nsrv++;
	}
	if (nsrv > 1)
		qsort(srv, nsrv, sizeof(*srv), uid_cmp);

	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	in_txn = true;
	for (size_t i = lo; i < hi; i++) {
		struct sync_msg_row *row = &f->rows[i];
		struct maildir_file *lf = folder_local_of(f, row);
		char merged[MAILDIR_FLAGS_MAX], raw[MAILDIR_FLAGS_MAX];
		size_t n = 0;

		while (k < nsrv && srv[k].uid < row->uid)
			k++;
		if (k == nsrv || srv[k].uid != row->uid) {
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
			bool s = flag_has(srv[k].flags, letters[j]);
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
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), uid_cmp);
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

/* ---- KEEPMAX: BODYSTRUCTURE -> struct mime_part -------------------------- */

#define KEEPMAX_DEPTH 32 /* deeper BODYSTRUCTUREs are refused */

static char *
str_lower_dup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");

	for (char *p = d; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* The value of parameter name in a BODYSTRUCTURE parameter list, or NULL. */
static const char *
body_param(const struct mailimap_body_fld_param *pl, const char *name)
{
	if (pl == NULL || pl->pa_list == NULL)
		return NULL;
	for (clistiter *it = clist_begin(pl->pa_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_single_body_fld_param *p = clist_content(it);

		if (p->pa_name != NULL && strcasecmp(p->pa_name, name) == 0)
			return p->pa_value;
	}
	return NULL;
}

static const char *
body_encoding(const struct mailimap_body_fld_enc *e)
{
	static const char *const names[] = {
		[MAILIMAP_BODY_FLD_ENC_7BIT] = "7bit",
		[MAILIMAP_BODY_FLD_ENC_8BIT] = "8bit",
		[MAILIMAP_BODY_FLD_ENC_BINARY] = "binary",
		[MAILIMAP_BODY_FLD_ENC_BASE64] = "base64",
		[MAILIMAP_BODY_FLD_ENC_QUOTED_PRINTABLE] = "quoted-printable",
	};

	if (e == NULL)
		return NULL;
	if (e->enc_type >= 0 &&
	    e->enc_type < (int)(sizeof(names) / sizeof(*names)) &&
	    names[e->enc_type] != NULL)
		return names[e->enc_type];
	return e->enc_value;
}

static const char *
media_type(const struct mailimap_media_basic *m)
{
	switch (m->med_type) {
	case MAILIMAP_MEDIA_BASIC_APPLICATION:
		return "application";
	case MAILIMAP_MEDIA_BASIC_AUDIO:
		return "audio";
	case MAILIMAP_MEDIA_BASIC_IMAGE:
		return "image";
	case MAILIMAP_MEDIA_BASIC_MESSAGE:
		return "message";
	case MAILIMAP_MEDIA_BASIC_VIDEO:
		return "video";
	default:
		return m->med_basic_type != NULL ? m->med_basic_type
						 : "application";
	}
}

/* Fills p (zeroed by the caller) from b; number is its IMAP section. */
static enum e2_status
part_from_body(const struct mailimap_body *b, const char *number,
	       unsigned depth, struct mime_part *p, struct e2_err *err)
{
	const struct mailimap_body_fields *fl = NULL;
	const struct mailimap_body_fld_dsp *dsp = NULL;
	const char *type = NULL, *sub = NULL, *fname = NULL;

	if (depth > KEEPMAX_DEPTH)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE nested deeper than %d",
			       KEEPMAX_DEPTH);
	p->number = strdup(number);
	if (p->number == NULL)
		return imap_oom(err);
	if (b->bd_type == MAILIMAP_BODY_MPART) {
		const struct mailimap_body_type_mpart *mp =
			b->bd_data.bd_body_mpart;
		size_t n = 0;

		if (mp == NULL || mp->bd_list == NULL)
			return e2_fail(err, E2_EPROTO,
				       "imap BODYSTRUCTURE: empty multipart");
		p->type = strdup("multipart");
		p->subtype = str_lower_dup(mp->bd_media_subtype);
		if (p->type == NULL || p->subtype == NULL)
			return imap_oom(err);
		if (mp->bd_ext_mpart != NULL) {
			const char *bnd = body_param(
				mp->bd_ext_mpart->bd_parameter, "boundary");

			if (bnd != NULL && (p->boundary = strdup(bnd)) == NULL)
				return imap_oom(err);
		}
		p->children = calloc((size_t)clist_count(mp->bd_list) + 1,
				     sizeof(*p->children));
		if (p->children == NULL)
			return imap_oom(err);
		for (clistiter *it = clist_begin(mp->bd_list); it != NULL;
		     it = clist_next(it)) {
			char num[128];
			int len;

			if (number[0] == '\0')
				len = snprintf(num, sizeof(num), "%zu", n + 1);
			else
				len = snprintf(num, sizeof(num), "%s.%zu",
					       number, n + 1);
			if (len < 0 || (size_t)len >= sizeof(num))
				return e2_fail(err, E2_EPROTO,
					       "imap BODYSTRUCTURE: section "
					       "number too long");
			p->n_children = ++n;
			enum e2_status rc = part_from_body(
				clist_content(it), num, depth + 1,
				&p->children[n - 1], err);
			if (rc != E2_OK)
				return rc;
		}
		return E2_OK;
	}
	if (b->bd_data.bd_body_1part == NULL)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE: empty part");
	{
		const struct mailimap_body_type_1part *op =
			b->bd_data.bd_body_1part;

		switch (op->bd_type) {
		case MAILIMAP_BODY_TYPE_1PART_BASIC:
			if (op->bd_data.bd_type_basic == NULL)
				break;
			fl = op->bd_data.bd_type_basic->bd_fields;
			type = media_type(
				op->bd_data.bd_type_basic->bd_media_basic);
			sub = op->bd_data.bd_type_basic->bd_media_basic
				      ->med_subtype;
			break;
		case MAILIMAP_BODY_TYPE_1PART_MSG:
			if (op->bd_data.bd_type_msg == NULL)
				break;
			fl = op->bd_data.bd_type_msg->bd_fields;
			type = "message";
			sub = "rfc822";
			break;
		case MAILIMAP_BODY_TYPE_1PART_TEXT:
			if (op->bd_data.bd_type_text == NULL)
				break;
			fl = op->bd_data.bd_type_text->bd_fields;
			type = "text";
			sub = op->bd_data.bd_type_text->bd_media_text;
			break;
		default:
			break;
		}
		if (op->bd_ext_1part != NULL)
			dsp = op->bd_ext_1part->bd_disposition;
	}
	if (fl == NULL || type == NULL)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE: unknown part type");
	p->type = str_lower_dup(type);
	p->subtype = str_lower_dup(sub);
	if (p->type == NULL || p->subtype == NULL)
		return imap_oom(err);
	if (dsp != NULL && dsp->dsp_type != NULL) {
		p->disposition = str_lower_dup(dsp->dsp_type);
		if (p->disposition == NULL)
			return imap_oom(err);
		fname = body_param(dsp->dsp_attributes, "filename");
	}
	if (fname == NULL)
		fname = body_param(fl->bd_parameter, "name");
	if (fname != NULL && (p->filename = strdup(fname)) == NULL)
		return imap_oom(err);
	if (body_encoding(fl->bd_encoding) != NULL &&
	    (p->encoding = str_lower_dup(body_encoding(fl->bd_encoding))) ==
		    NULL)
		return imap_oom(err);
	p->size = fl->bd_size;
	return E2_OK;
}

/*
 * KEEPMAX's plan for one message: *plan_out is the tree when some part is
 * to be left on the server, else NULL.
 */
static enum e2_status
keepmax_plan(const struct sync_ctx *c, const struct mailimap_body *b,
	     struct mime_part **plan_out, struct e2_err *err)
{
	struct mime_part *root;
	enum e2_status rc;

	*plan_out = NULL;
	root = calloc(1, sizeof(*root));
	if (root == NULL)
		return imap_oom(err);
	rc = part_from_body(b, "", 0, root, err);
	if (rc == E2_OK &&
	    mime_plan_keepmax(root, (unsigned long long)c->a->keepmax * 1024) >
		    0) {
		*plan_out = root;
		root = NULL;
	}
	mime_part_free(&root);
	return rc;
}

static enum e2_status
imap_sizes(struct imap_run *r, const uint32_t *uids, size_t n,
	   struct sized *out, struct e2_err *err)
{
	struct mailimap_set *set = imap_set_of(uids, n);
	struct mailimap_fetch_type *ft;
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
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH (RFC822.SIZE)", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct imap_msg m;
		struct sized key = {0}, *hit;

		imap_msg_parse(clist_content(it), &m);
		key.uid = m.uid;
		hit = bsearch(&key, out, n, sizeof(*out), uid_cmp);
		if (hit == NULL)
			continue;
		hit->size = m.size;
		if (m.bodystructure != NULL && hit->plan == NULL) {
			rc = keepmax_plan(r->c, m.bodystructure, &hit->plan,
					  err);
			if (rc != E2_OK)
				goto out;
		}
	}
out:
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

	(void)snprintf(tag, sizeof(tag), "U=%u-V%u", (unsigned)m->uid,
		       (unsigned)f->cur.uidvalidity);
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
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	if (n == 0)
		return E2_OK;
	set = imap_set_of(uids, n);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	sec = mailimap_section_new(NULL);
	body = NULL;
	if (sec != NULL)
		body = partial ? mailimap_fetch_att_new_body_peek_section_partial(
					 sec, 0, (uint32_t)r->c->a->retrieve)
			       : mailimap_fetch_att_new_body_peek_section(sec);
	if (body == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || body == NULL) {
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
		bool dup = false;

		imap_msg_parse(clist_content(it), &m);
		if (m.uid == 0 || m.body == NULL)
			continue; /* an unsolicited FETCH (flag change) */
		for (size_t i = 0; i < *nrows; i++)
			if (rows[i].uid == m.uid)
				dup = true;
		if (dup)
			continue;
		rc = folder_put(f, b, &m, partial, &rows[*nrows], err);
		if (rc != E2_OK)
			goto out;
		(*nrows)++;
	}
out:
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
 * BODY.PEEK[]) per UID set of at most STREAM_SET_MAX bytes ("1:20000" is
 * one command), read here rather than by libetpan's parser, which holds a
 * whole response in memory. Each body literal goes from the stream into
 * its tmp/ file STREAM_BUF bytes at a time; every batch_msgs messages or
 * batch_bytes bytes the batch is made durable and its rows committed,
 * between two messages, while the server goes on sending into the socket
 * buffer: network and disk overlap, and memory is one response line and
 * one buffer whatever the mailbox. Read: untagged FETCH responses (UID,
 * FLAGS, INTERNALDATE, BODY[] as a literal, a string or NIL; any other
 * item skipped: atoms, strings, literals, lists), other untagged responses
 * skipped, then the tagged OK (NO, BAD: an error). A response left
 * unfinished (an error, a stop) leaves the connection unusable: the guard
 * then refuses reads, so LOGOUT does not read the rest of it. On a broken
 * connection or a stop the messages received whole are committed first.
 */
#define STREAM_SET_MAX 4000u /* bytes of one command's UID set */
#define STREAM_BUF (64u * 1024)
#define STREAM_DEPTH 16 /* of the lists of an item skipped */
#define STREAM_WHAT "UID FETCH (BODY.PEEK[])"

struct fetch_stream {
	struct folder_run *f;
	mailstream *s;
	MMAPString *line; /* the current response line */
	size_t len;       /* its length without CRLF */
	size_t pos;       /* the parse position in it */
	char *buf;        /* literal bytes on their way to a file */
	char tag[16];
	const uint32_t *uids; /* this command's, sorted */
	bool *seen;           /* per UID of uids: stored already */
	size_t nuids;
	struct maildir_batch *b;  /* the open batch, NULL: none yet */
	struct fetched_row *rows; /* its messages */
	size_t nrows;
	unsigned long long bytes;
	bool stop; /* sync_stopping(): the rest of the response is left */
};

struct stream_msg {
	uint32_t uid;
	bool has_flags;
	char flags[MAILDIR_FLAGS_MAX];
	int64_t internal_date;
	struct maildir_msg *msg; /* the body's tmp file */
	unsigned long long body_len;
};

static enum e2_status
sx_proto(struct fetch_stream *fs, const char *why, struct e2_err *err)
{
	char quoted[120] = "";

	(void)e2_quote(quoted, sizeof(quoted), fs->line->str, fs->len);
	return e2_fail(err, E2_EPROTO, "imap " STREAM_WHAT ": %s: %s", why,
		       quoted);
}

static enum e2_status
sx_line(struct fetch_stream *fs, struct e2_err *err)
{
	size_t n;

	if (mailstream_read_line(fs->s, fs->line) == NULL ||
	    fs->line->len == 0 || fs->line->str[fs->line->len - 1] != '\n')
		return imap_fail(fs->f->r, MAILIMAP_ERROR_STREAM, STREAM_WHAT,
				 err);
	n = fs->line->len - 1;
	if (n > 0 && fs->line->str[n - 1] == '\r')
		n--;
	fs->len = n;
	fs->pos = 0;
	return E2_OK;
}

static char
sx_peek(const struct fetch_stream *fs)
{
	return fs->pos < fs->len ? fs->line->str[fs->pos] : '\0';
}

static void
sx_spaces(struct fetch_stream *fs)
{
	while (sx_peek(fs) == ' ')
		fs->pos++;
}

/*
 * An atom, upper-cased into out (cut at cap - 1 bytes). section: an item
 * name, whose "[...]" may hold spaces and parentheses.
 */
static void
sx_word(struct fetch_stream *fs, char *out, size_t cap, bool section)
{
	bool in_sec = false;
	size_t n = 0;

	while (fs->pos < fs->len) {
		char ch = fs->line->str[fs->pos];

		if (!in_sec && (ch == ' ' || ch == '(' || ch == ')' ||
				ch == '{' || ch == '"' || ch == '\0'))
			break;
		if (section && ch == '[')
			in_sec = true;
		else if (ch == ']')
			in_sec = false;
		if (n + 1 < cap)
			out[n++] =
				ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
		fs->pos++;
	}
	out[n] = '\0';
}

static enum e2_status
sx_number(struct fetch_stream *fs, unsigned long long *out, struct e2_err *err)
{
	unsigned long long v = 0;
	size_t start = fs->pos;

	while (sx_peek(fs) >= '0' && sx_peek(fs) <= '9') {
		if (v > (1ull << 40))
			return sx_proto(fs, "number too large", err);
		v = v * 10 + (unsigned)(sx_peek(fs) - '0');
		fs->pos++;
	}
	if (fs->pos == start)
		return sx_proto(fs, "number expected", err);
	*out = v;
	return E2_OK;
}

/* "{n}" (or "{n+}") ending the line. */
static enum e2_status
sx_literal(struct fetch_stream *fs, unsigned long long *n_out,
	   struct e2_err *err)
{
	enum e2_status rc;

	fs->pos++;
	rc = sx_number(fs, n_out, err);
	if (rc != E2_OK)
		return rc;
	if (sx_peek(fs) == '+')
		fs->pos++;
	if (sx_peek(fs) != '}' || fs->pos + 1 != fs->len)
		return sx_proto(fs, "bad literal", err);
	fs->pos++;
	return E2_OK;
}

/* The literal's n bytes into msg (NULL: dropped), then the next line. */
static enum e2_status
sx_literal_body(struct fetch_stream *fs, unsigned long long n,
		struct maildir_msg *msg, struct e2_err *err)
{
	while (n > 0) {
		size_t want = n < STREAM_BUF ? (size_t)n : STREAM_BUF;
		ssize_t got = mailstream_read(fs->s, fs->buf, want);
		enum e2_status rc;

		if (got <= 0)
			return imap_fail(fs->f->r, MAILIMAP_ERROR_STREAM,
					 STREAM_WHAT, err);
		if (msg != NULL) {
			rc = maildir_msg_write(msg, fs->buf, (size_t)got, err);
			if (rc != E2_OK)
				return rc;
		}
		n -= (unsigned long long)got;
	}
	return sx_line(fs, err);
}

/* A quoted string, unescaped in place: *s_out, *n_out (may be NULL). */
static enum e2_status
sx_quoted(struct fetch_stream *fs, const char **s_out, size_t *n_out,
	  struct e2_err *err)
{
	char *p = fs->line->str;
	size_t i = fs->pos + 1, o = i;

	for (;;) {
		char ch;

		if (i >= fs->len)
			return sx_proto(fs, "unfinished string", err);
		ch = p[i++];
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (i >= fs->len)
				return sx_proto(fs, "unfinished string", err);
			ch = p[i++];
		}
		p[o++] = ch;
	}
	if (s_out != NULL) {
		*s_out = p + fs->pos + 1;
		*n_out = o - (fs->pos + 1);
	}
	fs->pos = i;
	return E2_OK;
}

/* Skips one value: atom, number, NIL, string, literal, list. */
static enum e2_status
sx_skip(struct fetch_stream *fs, int depth, struct e2_err *err)
{
	unsigned long long n;
	char word[8];
	size_t start = fs->pos;
	enum e2_status rc;

	if (depth > STREAM_DEPTH)
		return sx_proto(fs, "lists nested too deep", err);
	switch (sx_peek(fs)) {
	case '(':
		fs->pos++;
		for (;;) {
			sx_spaces(fs);
			if (sx_peek(fs) == ')') {
				fs->pos++;
				return E2_OK;
			}
			if (sx_peek(fs) == '\0')
				return sx_proto(fs, "unfinished list", err);
			rc = sx_skip(fs, depth + 1, err);
			if (rc != E2_OK)
				return rc;
		}
	case '"':
		return sx_quoted(fs, NULL, NULL, err);
	case '{':
		rc = sx_literal(fs, &n, err);
		return rc != E2_OK ? rc : sx_literal_body(fs, n, NULL, err);
	default:
		sx_word(fs, word, sizeof(word), false);
		if (fs->pos == start)
			return sx_proto(fs, "unexpected byte", err);
		return E2_OK;
	}
}

static enum e2_status
sx_flags(struct fetch_stream *fs, struct stream_msg *m, struct e2_err *err)
{
	bool seen = false, flagged = false, answered = false, draft = false;

	if (sx_peek(fs) != '(')
		return sx_proto(fs, "FLAGS without a list", err);
	fs->pos++;
	for (;;) {
		char flag[16];
		size_t start;

		sx_spaces(fs);
		if (sx_peek(fs) == ')') {
			fs->pos++;
			break;
		}
		start = fs->pos;
		sx_word(fs, flag, sizeof(flag), false);
		if (fs->pos == start)
			return sx_proto(fs, "bad flag", err);
		if (strcmp(flag, "\\SEEN") == 0)
			seen = true;
		else if (strcmp(flag, "\\FLAGGED") == 0)
			flagged = true;
		else if (strcmp(flag, "\\ANSWERED") == 0)
			answered = true;
		else if (strcmp(flag, "\\DRAFT") == 0)
			draft = true;
	}
	sync_flags_from_imap(seen, flagged, answered, draft, m->flags);
	m->has_flags = true;
	return E2_OK;
}

/* INTERNALDATE "17-Jul-1996 02:44:25 -0700" as epoch seconds, 0: bad. */
static int64_t
sx_date(const char *s, size_t n)
{
	static const char months[] = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";
	struct mailimap_date_time dt = {0};
	char buf[40], mon[4] = "";
	int day, year, hour, min, sec, zone;
	const char *hit;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (sscanf(buf, "%2d-%3[A-Za-z]-%4d %2d:%2d:%2d %5d", &day, mon, &year,
		   &hour, &min, &sec, &zone) != 7 ||
	    strlen(mon) != 3)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (mon[i] >= 'a' && mon[i] <= 'z')
			mon[i] = (char)(mon[i] - 32);
	hit = strstr(months, mon);
	if (hit == NULL || (hit - months) % 3 != 0)
		return 0;
	dt.dt_day = day;
	dt.dt_month = (int)((hit - months) / 3) + 1;
	dt.dt_year = year;
	dt.dt_hour = hour;
	dt.dt_min = min;
	dt.dt_sec = sec;
	dt.dt_zone = zone;
	return imap_date_time(&dt);
}

/* BODY[]: a literal or a string goes into a new tmp file; NIL: none. */
static enum e2_status
sx_fetch_body(struct fetch_stream *fs, struct stream_msg *m, struct e2_err *err)
{
	struct sync_ctx *c = fs->f->r->c;
	unsigned long long n = 0;
	const char *s = NULL;
	size_t slen = 0;
	enum e2_status rc;
	char ch = sx_peek(fs);

	if (ch != '{' && ch != '"')
		return sx_skip(fs, 0, err); /* NIL */
	if (m->msg != NULL)
		return sx_proto(fs, "two bodies for one message", err);
	if (ch == '{')
		rc = sx_literal(fs, &n, err);
	else
		rc = sx_quoted(fs, &s, &slen, err);
	if (rc == E2_OK && fs->b == NULL)
		rc = maildir_batch_begin(c->md, &fs->b, err);
	if (rc == E2_OK)
		rc = maildir_msg_begin(fs->b, fs->f->path, NULL, NULL, &m->msg,
				       err);
	if (rc != E2_OK)
		return rc;
	if (ch == '{') {
		m->body_len = n;
		return sx_literal_body(fs, n, m->msg, err);
	}
	m->body_len = slen;
	return maildir_msg_write(m->msg, s, slen, err);
}

/* One "* n FETCH (...)", the line at its "(". */
static enum e2_status
sx_fetch(struct fetch_stream *fs, struct stream_msg *m, struct e2_err *err)
{
	fs->pos++;
	for (;;) {
		char name[64];
		unsigned long long v = 0;
		const char *s;
		size_t n, start;
		enum e2_status rc;

		sx_spaces(fs);
		if (sx_peek(fs) == ')')
			return E2_OK;
		start = fs->pos;
		sx_word(fs, name, sizeof(name), true);
		if (fs->pos == start || sx_peek(fs) != ' ')
			return sx_proto(fs, "bad FETCH item", err);
		fs->pos++;
		if (strcmp(name, "UID") == 0) {
			rc = sx_number(fs, &v, err);
			if (rc == E2_OK && (v == 0 || v > UINT32_MAX))
				rc = sx_proto(fs, "bad UID", err);
			m->uid = (uint32_t)v;
		} else if (strcmp(name, "FLAGS") == 0) {
			rc = sx_flags(fs, m, err);
		} else if (strcmp(name, "INTERNALDATE") == 0 &&
			   sx_peek(fs) == '"') {
			rc = sx_quoted(fs, &s, &n, err);
			if (rc == E2_OK)
				m->internal_date = sx_date(s, n);
		} else if (strcmp(name, "BODY[]") == 0 ||
			   strcmp(name, "BODY[]<0>") == 0) {
			rc = sx_fetch_body(fs, m, err);
		} else {
			rc = sx_skip(fs, 0, err);
		}
		if (rc != E2_OK)
			return rc;
	}
}

/* A FETCH read whole: its file joins the batch, the batch may commit. */
static enum e2_status
sx_fetched(struct fetch_stream *fs, struct stream_msg *m, struct e2_err *err)
{
	struct sync_ctx *c = fs->f->r->c;
	struct fetched_row *row = &fs->rows[fs->nrows];
	const uint32_t *hit = NULL;
	const char *uniq = NULL;
	char tag[SYNC_TAG_MAX];
	enum e2_status rc;

	if (m->msg == NULL)
		return E2_OK; /* an unsolicited FETCH (a flag change) */
	if (m->uid != 0)
		hit = bsearch(&m->uid, fs->uids, fs->nuids, sizeof(*fs->uids),
			      uid_cmp);
	if (hit == NULL || fs->seen[hit - fs->uids]) {
		maildir_msg_discard(&m->msg); /* not asked for, or twice */
		return E2_OK;
	}
	(void)snprintf(tag, sizeof(tag), "U=%u-V%u", (unsigned)m->uid,
		       (unsigned)fs->f->cur.uidvalidity);
	rc = maildir_msg_set_meta(
		m->msg, m->has_flags && m->flags[0] != '\0' ? m->flags : NULL,
		tag, err);
	if (rc != E2_OK)
		return rc;
	rc = maildir_msg_end(&m->msg, &uniq, err);
	if (rc != E2_OK)
		return rc;
	fs->seen[hit - fs->uids] = true;
	memset(row, 0, sizeof(*row));
	row->uid = m->uid;
	(void)snprintf(row->uniq, sizeof(row->uniq), "%s", uniq);
	flags_synced(m->flags, row->flags);
	row->internal_date = m->internal_date;
	row->bytes = m->body_len;
	fs->nrows++;
	fs->bytes += m->body_len;
	if (fs->nrows >= c->o.batch_msgs || fs->bytes >= c->o.batch_bytes) {
		rc = folder_commit(fs->f, &fs->b, fs->rows, fs->nrows, err);
		if (rc != E2_OK)
			return rc;
		fs->nrows = 0;
		fs->bytes = 0;
	}
	if (sync_stopping(c))
		fs->stop = true;
	return E2_OK;
}

/* Skips an untagged response other than FETCH, literals included. */
static enum e2_status
sx_skip_response(struct fetch_stream *fs, struct e2_err *err)
{
	for (;;) {
		const char *p = fs->line->str;
		size_t i = fs->len;
		unsigned long long n;
		enum e2_status rc;

		if (i < 3 || p[i - 1] != '}')
			return E2_OK;
		i--; /* at the '}' */
		while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
			i--;
		if (i == fs->len - 1 || i == 0 || p[i - 1] != '{')
			return E2_OK;
		fs->pos = i - 1;
		rc = sx_literal(fs, &n, err);
		if (rc == E2_OK)
			rc = sx_literal_body(fs, n, NULL, err);
		if (rc != E2_OK)
			return rc;
	}
}

/* Sends one UID FETCH and reads its response (up to a stop). */
static enum e2_status
sx_command(struct fetch_stream *fs, const char *set, struct e2_err *err)
{
	mailimap *imap = fs->f->r->imap;
	static const char atts[] = " (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n";
	size_t taglen;

	imap->imap_tag++;
	if (mailimap_is_163_workaround_enabled(imap))
		(void)snprintf(fs->tag, sizeof(fs->tag), "C%d", imap->imap_tag);
	else
		(void)snprintf(fs->tag, sizeof(fs->tag), "%d", imap->imap_tag);
	taglen = strlen(fs->tag);
	if (mailstream_write(fs->s, fs->tag, taglen) < 0 ||
	    mailstream_write(fs->s, " UID FETCH ", 11) < 0 ||
	    mailstream_write(fs->s, set, strlen(set)) < 0 ||
	    mailstream_write(fs->s, atts, sizeof(atts) - 1) < 0 ||
	    mailstream_flush(fs->s) < 0)
		return imap_fail(fs->f->r, MAILIMAP_ERROR_STREAM, STREAM_WHAT,
				 err);
	while (!fs->stop) {
		const char *p;
		struct stream_msg m;
		enum e2_status rc = sx_line(fs, err);

		if (rc != E2_OK)
			return rc;
		p = fs->line->str;
		if (fs->len > taglen && memcmp(p, fs->tag, taglen) == 0 &&
		    p[taglen] == ' ') {
			if (fs->len >= taglen + 3 &&
			    strncasecmp(p + taglen + 1, "OK", 2) == 0)
				return E2_OK;
			return sx_proto(fs, "refused", err);
		}
		if (fs->len < 2 || p[0] != '*' || p[1] != ' ')
			return sx_proto(fs, "unexpected response", err);
		fs->pos = 2;
		while (sx_peek(fs) >= '0' && sx_peek(fs) <= '9')
			fs->pos++;
		if (fs->pos == 2 || fs->len - fs->pos < 8 ||
		    strncasecmp(p + fs->pos, " FETCH (", 8) != 0) {
			rc = sx_skip_response(fs, err);
			if (rc != E2_OK)
				return rc;
			continue;
		}
		fs->pos += 7;
		memset(&m, 0, sizeof(m));
		rc = sx_fetch(fs, &m, err);
		if (rc == E2_OK)
			rc = sx_fetched(fs, &m, err);
		maildir_msg_discard(&m.msg);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

/* The UID set of uids[0..] that fits STREAM_SET_MAX; *n_out UIDs in it. */
static void
sx_set(const uint32_t *uids, size_t n, char *set, size_t *n_out)
{
	size_t len = 0, i = 0;

	set[0] = '\0';
	while (i < n) {
		char run[32];
		size_t j = i, rl;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			(void)snprintf(run, sizeof(run), "%s%u:%u",
				       len > 0 ? "," : "", (unsigned)uids[i],
				       (unsigned)uids[j]);
		else
			(void)snprintf(run, sizeof(run), "%s%u",
				       len > 0 ? "," : "", (unsigned)uids[i]);
		rl = strlen(run);
		if (len > 0 && len + rl > STREAM_SET_MAX)
			break;
		memcpy(set + len, run, rl + 1);
		len += rl;
		i = j + 1;
	}
	*n_out = i;
}

/* Downloads todo (sorted) whole, streamed (see above). */
static enum e2_status
folder_stream(struct folder_run *f, const struct uidv *todo, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	struct fetch_stream fs = {0};
	bool *seen = NULL;
	char *set = NULL;
	bool open = false;
	enum e2_status rc = E2_OK;

	fs.f = f;
	fs.s = f->r->imap->imap_stream;
	fs.line = mmap_string_new("");
	fs.buf = malloc(STREAM_BUF);
	fs.rows = calloc(c->o.batch_msgs + 1, sizeof(*fs.rows));
	seen = calloc(todo->n, sizeof(*seen));
	set = malloc(STREAM_SET_MAX + 32);
	if (fs.line == NULL || fs.buf == NULL || fs.rows == NULL ||
	    seen == NULL || set == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t lo = 0; lo < todo->n && !fs.stop;) {
		size_t n;

		sx_set(todo->v + lo, todo->n - lo, set, &n);
		fs.uids = todo->v + lo;
		fs.seen = seen + lo;
		fs.nuids = n;
		open = true;
		rc = sx_command(&fs, set, err);
		if (rc != E2_OK)
			break;
		open = fs.stop;
		lo += n;
	}
	if (fs.nrows > 0) {
		/* what arrived whole is kept, also when the rest failed */
		struct e2_err late = {0};

		if (rc == E2_OK)
			rc = folder_commit(f, &fs.b, fs.rows, fs.nrows, err);
		else
			(void)folder_commit(f, &fs.b, fs.rows, fs.nrows, &late);
	}
out:
	if (open)
		xport_etpan_refuse_reads(f->r->imap->imap_stream);
	maildir_batch_free(&fs.b);
	if (fs.line != NULL)
		mmap_string_free(fs.line);
	free(fs.buf);
	free(fs.rows);
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

		imap_msg_parse(clist_content(it), &m);
		if (m.uid != pf->uid || m.body == NULL)
			continue;
		got = true;
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
		imap_msg_parse(clist_content(it), m);
		got = m->uid == uid && m->has_flags;
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

	rc = imap_msg_meta(r, sz->uid, &m, err);
	if (rc != E2_OK)
		return rc;
	(void)snprintf(tag, sizeof(tag), "U=%u-V%u", (unsigned)sz->uid,
		       (unsigned)f->cur.uidvalidity);
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
		uid = local_tag_uid(lf->tag, f->cur.uidvalidity);
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
	if (rc == E2_OK && uids->n > 1)
		qsort(uids->v, uids->n, sizeof(*uids->v), uid_cmp);
	uidv_free(&older);
	return rc;
}

/* Whether the folder holds files of ours tagged with another UIDVALIDITY. */
static bool
folder_has_stale(const struct folder_run *f)
{
	for (size_t i = 0; i < f->local.n; i++)
		if (f->local.v[i].tag[0] != '\0' &&
		    local_tag_uid(f->local.v[i].tag, f->cur.uidvalidity) == 0)
			return true;
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
				if (rc == E2_OK)
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
		uid = local_tag_uid(lf->tag, f->cur.uidvalidity);
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
	bool same = false;
	enum e2_status rc;

	f.r = r;
	f.name = name;
	c->stats->folders++;
	rc = maildir_folder(c->md, name, sep, &f.path, err);
	if (rc != E2_OK)
		goto out;
	rc = state_folder_get(c, name, &f.fs, err);
	if (rc != E2_OK)
		goto out;
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
	for (clistiter *it = clist_begin(list); it != NULL && !sync_stopping(c);
	     it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (mb->mb_name == NULL || list_has_flag(mb->mb_flag, NULL))
			continue;
		rc = imap_folder(&r, mb->mb_name, mb->mb_delimiter, err);
		if (rc != E2_OK)
			goto out;
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
	(void)snprintf(tag, sizeof(tag), "U=%u-V%u", (unsigned)uid,
		       (unsigned)uidvalidity);
	for (clistiter *it = clist_begin(res); it != NULL && !found;
	     it = clist_next(it)) {
		struct imap_msg m;

		imap_msg_parse(clist_content(it), &m);
		if (m.uid != uid || m.body == NULL)
			continue;
		found = true;
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
