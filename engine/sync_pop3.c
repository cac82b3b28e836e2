/* SPDX-License-Identifier: MIT */
/* sync_pop3.c -- POP3 into the Maildir root, UIDL-keyed, never twice */
#include "config.h"

#include "sync.h"
#include "sync_full.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "grow.h"
#include "mime.h"
#include "pop3_cmd.h"
#include "pop3_local.h"
#include "reconcile.h"
#include "sync_preview.h"

/*
 * Rules (DESIGN.md "Sync rules"; decisions written here):
 *
 * The maildrop goes into the Maildir root (new/). State rows live in
 * engine/syncstate.h's sync_messages under the folder "" keyed by UIDL.
 * LIST + UIDL give the maildrop. email2 speaks them, RETR, TOP and DELE
 * itself (pop3_cmd.h: libetpan 1.9.4's own crash on odd numbering), so an
 * answer that is not messages 1..n, each once, with LIST and UIDL
 * agreeing, is E2_EPROTO and nothing is stored. A server without UIDL is
 * refused with E2_EPROTO: without a stable id every sync would download
 * the maildrop again.
 *
 * A POP3 row's flags column is not a Maildir flag set but the local
 * disposition of the message:
 *   ""  the file is (as far as we know) in the Maildir;
 *   "T" deleted locally (file removed or flag T): with SERVERDELETEACTION 1
 *       every sync sends DELE while the server still lists the UIDL; with
 *       2 or any other value the message is left on the server (POP3 has
 *       no Trash) and never downloaded again;
 *   "A" aged out of the DWNDAY window: removed locally only, never on the
 *       server; downloaded again if a larger DWNDAY puts it back inside;
 *   "M" moved by the user into another folder under a new name (found by
 *       Message-ID, see pop3_moved_renamed()): left on the server for
 *       good, never downloaded again, its local copy never touched.
 * A row whose UIDL the server no longer lists is dropped; its local file,
 * if any, stays (POP3 is download-and-keep: mail removed from the server
 * by someone else is not removed here).
 *
 * Decisions (issue 8): reconcile_folder() with RECONCILE_POP3 decides for
 * every row, root file and listed UIDL (reconcile.h R5, R12, R14, R15,
 * R17); this file builds its inputs and carries the plan out. POP3 has
 * one server folder, so what the user does between local folders stays
 * local, as with fetchmail or getmail feeding a Maildir that mutt reads:
 *  - a move (neomutt's save: cur/x renamed into .Work/cur/x, the name
 *    keeping its "L=" tag) is not a delete. When a row's file left the
 *    root (or is T there), the file names of every other folder
 *    (pop3_local.h) are read for "L=" tags; a file there
 *    that names the row's UIDL keeps the row as it is: no DELE with
 *    SERVERDELETEACTION 1, no "T" with 2, no age-out, no new download
 *    into the root. Nothing of that folder is ever changed: the sync
 *    writes and removes only in the root. The row stays "" and is
 *    re-decided every run: when no folder holds the message any more it
 *    is a local delete (R5), and moved back it is the root's again;
 *  - a copy (cp into .Work, or neomutt's copy with the original flagged T)
 *    is the same: both files stay, the message stays on the server;
 *  - a local Trash (".Trash" and the like, pop3_local.h) holds nothing:
 *    a move there is a delete (R5), as neomutt's $trash means it;
 *  - a file written into the root or any folder (a draft, a saved copy)
 *    stays local and is never uploaded: POP3 cannot store mail. In the
 *    root, an untagged file or one whose tag names no listed UIDL is left
 *    alone (R17); a file tagged with a listed UIDL that has no row is
 *    adopted (R12, a crash before its row committed);
 *  - flags are not synced (POP3 has none);
 *  - a folder whose file names cannot be read is skipped and reported
 *    (sync_skip()), and that run sends no DELE and writes no new "T" row
 *    for a message whose file left the root: keep beats delete.
 *  - mutt and neomutt save by writing the message under a new name (no
 *    "L=" tag) and deleting the original: before a DELE, the message's
 *    Message-ID is looked for in the other folders' untagged files, and a
 *    copy there makes the row "M" instead (pop3_moved_renamed()).
 *    With SERVERDELETEACTION 2 nothing needs finding: the message stays
 *    on the server and is not downloaded again either way.
 * File tags are compared with the tags of the listed UIDLs (the tag is an
 * injective base64url of the UIDL), so no file name is ever decoded.
 *
 * New messages, in maildrop order: DWNDAY >= 0 asks TOP n 0 first and
 * skips messages outside the window (mime_dwnday_inside(); a missing or
 * bad Date is inside); they are asked again next sync, so a larger DWNDAY
 * later finds them. A message larger than RETRIEVE is fetched with TOP n L,
 * L = RETRIEVE / 64 lines (so the bytes transferred stay near the limit),
 * stored through mime_truncate() and marked partial; others with RETR.
 * libetpan reads one response into memory, so memory is bounded by one
 * message plus the batch's rows. Files go to new/ through the batch writer
 * with the tag "L=<base64url(UIDL)>"; each batch (batch_msgs messages or
 * batch_bytes bytes) is made durable before its rows commit, and a file of
 * an interrupted run whose row never committed is adopted, not fetched
 * again. DELE only ever names messages deleted locally; the server applies
 * them at QUIT (chain_session_free()), and the rows go once the server
 * stops listing the UIDLs.
 *
 * A resync with no change reads no row and no file name (syncstate.h,
 * "stamps"): the server stamp is DWNDAY, SERVERDELETEACTION and a SHA-256
 * of the sorted UIDL list, asked with UIDL alone (pop3_uidl_stamp()); the
 * local stamp is a SHA-256 of the root's and every other folder's
 * maildir_stamp() (pop3_local_stamp()), so a delete inside .Work is
 * noticed too; when
 * both stamps equal the folder row "" and no row has aged out of the
 * window since, nothing is done after UIDL, not even LIST. A run
 * stores its stamps only when it finished and sent no DELE (a DELE that
 * the server dropped must be sent again next time).
 */

#define POP3_PAGE 256u
#define POP3_TAG_MAX MAILDIR_TAG_MAX
#define POP3_MARKS_READ (64u * 1024) /* of an adopted file, for its marks */

struct pop3_srv {
	unsigned index;
	uint32_t size;
	const char *uidl; /* in pop3_run's list */
	bool known;       /* has a row (or is adopted) */
};

/* A state row, as much as the run needs (syncstate_msg is 400 bytes). */
struct pop3_row {
	char *uidl;
	char *local_name;
	uint64_t size;
	int64_t internal_date;
	bool partial, omitted;
	char disp; /* the flags column: '\0', 'T', 'A' or 'M' (see above) */
};

struct pop3_tagmap {
	char *tag;
	const char *uidl; /* in pop3_run's list */
};

struct pop3_run {
	struct sync_ctx *c;
	struct pop3_cmd pc; /* the session; pc.list: the maildrop */
	const char *root;
	struct pop3_srv *srv; /* sorted by uidl */
	size_t nsrv;
	struct maildir_snapshot loc;  /* the Maildir root; tag: "L" */
	struct maildir_file **tagged; /* loc's files with a tag, by tag */
	size_t ntagged;
	time_t cutoff;              /* DWNDAY window start, 0: everything */
	size_t ndele;               /* DELEs sent this run */
	struct syncstate_folder fs; /* stamps: taken at the start, see below */
	bool *dropped;              /* [loc.n] removed by pop3_drop_copies() */
	struct pop3_row *rows;      /* every state row, by UIDL */
	size_t nrows;
	struct pop3_tagmap *tagmap; /* file tag -> listed UIDL, by tag */
	size_t ntagmap;
	struct pop3_local_folders folders; /* the other local folders */
	struct pop3_local_refs refs; /* their files naming a listed UIDL */
};

/* One downloaded message waiting for its batch to commit. */
struct pop3_done {
	struct syncstate_msg m;
	unsigned long long bytes;
};

static enum e2_status
pop3_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

/* The file tag value for a UIDL: unpadded base64url (70 bytes -> 94). */
static void
pop3_tag_of(const char *uidl, char out[POP3_TAG_MAX + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = (const unsigned char *)uidl;
	size_t len = strlen(uidl), n = 0;

	for (size_t i = 0; i < len && n + 4 < POP3_TAG_MAX; i += 3) {
		unsigned v = (unsigned)s[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		out[n++] = b64[(v >> 18) & 63];
		out[n++] = b64[(v >> 12) & 63];
		if (i + 1 < len)
			out[n++] = b64[(v >> 6) & 63];
		if (i + 2 < len)
			out[n++] = b64[v & 63];
	}
	out[n] = '\0';
}

static int
srv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pop3_srv *)a)->uidl,
		      ((const struct pop3_srv *)b)->uidl);
}

static int
srv_index_cmp(const void *a, const void *b)
{
	const struct pop3_srv *x = *(const struct pop3_srv *const *)a;
	const struct pop3_srv *y = *(const struct pop3_srv *const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static struct pop3_srv *
srv_find(struct pop3_run *r, const char *uidl)
{
	struct pop3_srv key = {.uidl = uidl};

	if (r->nsrv == 0)
		return NULL;
	return bsearch(&key, r->srv, r->nsrv, sizeof(*r->srv), srv_cmp);
}

/* LIST (+ UIDL unless the stamp asked it) into r->srv, sorted by UIDL. */
static enum e2_status
pop3_list(struct pop3_run *r, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	size_t n;

	if (!r->pc.list.has_uidls)
		rc = pop3_cmd_listing(&r->pc, POP3_LIST_UIDL, err);
	if (rc == E2_OK)
		rc = pop3_cmd_listing(&r->pc, POP3_LIST_LIST, err);
	if (rc != E2_OK)
		return rc;
	n = r->pc.list.n;
	r->srv = calloc(n + 1, sizeof(*r->srv));
	if (r->srv == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < n; i++) {
		r->srv[i].index = (unsigned)(i + 1);
		r->srv[i].size = r->pc.list.v[i].size;
		r->srv[i].uidl = r->pc.list.v[i].uidl;
	}
	if (n > 1)
		qsort(r->srv, n, sizeof(*r->srv), srv_cmp);
	/* a broken server listing one UIDL twice: keep the first */
	r->nsrv = 0;
	for (size_t i = 0; i < n; i++)
		if (r->nsrv == 0 ||
		    strcmp(r->srv[r->nsrv - 1].uidl, r->srv[i].uidl) != 0)
			r->srv[r->nsrv++] = r->srv[i];
	return E2_OK;
}

static bool
has_flag(const char *flags, char f)
{
	return strchr(flags, f) != NULL;
}

/* Row changes of the known pass, applied in one transaction. */
struct pop3_changes {
	struct syncstate_msg *put; /* new disposition */
	size_t nput, capput;
	struct maildir_file **rm; /* files to remove, parallel to put or NULL */
	char (*drop)[SYNCSTATE_UIDL_MAX + 1];
	size_t ndrop, capdrop;
	unsigned *dele; /* message numbers to DELE */
	size_t ndele, capdele;
	size_t nadopt; /* puts that adopt a file (R12) */
};

static void
pop3_changes_free(struct pop3_changes *ch)
{
	free(ch->put);
	free(ch->rm);
	free(ch->drop);
	free(ch->dele);
	memset(ch, 0, sizeof(*ch));
}

static enum e2_status
pop3_change_put(struct pop3_changes *ch, const struct syncstate_msg *m,
		const char *flags, struct maildir_file *rm, struct e2_err *err)
{
	if (ch->nput == ch->capput) {
		size_t cap = ch->capput == 0 ? 64 : ch->capput * 2;
		struct syncstate_msg *p = realloc(ch->put, cap * sizeof(*p));
		struct maildir_file **q;

		if (p == NULL)
			return pop3_oom(err);
		ch->put = p;
		q = realloc(ch->rm, cap * sizeof(*q));
		if (q == NULL)
			return pop3_oom(err);
		ch->rm = q;
		ch->capput = cap;
	}
	ch->put[ch->nput] = *m;
	(void)snprintf(ch->put[ch->nput].flags, sizeof(ch->put[ch->nput].flags),
		       "%s", flags);
	ch->rm[ch->nput] = rm;
	ch->nput++;
	return E2_OK;
}

static enum e2_status
pop3_change_drop(struct pop3_changes *ch, const char *uidl, struct e2_err *err)
{
	if (grow_array(&ch->drop, &ch->capdrop, ch->ndrop, sizeof(*ch->drop),
		       64, err) != E2_OK)
		return err->code;
	(void)snprintf(ch->drop[ch->ndrop], sizeof(ch->drop[0]), "%s", uidl);
	ch->ndrop++;
	return E2_OK;
}

static enum e2_status
pop3_change_dele(struct pop3_changes *ch, unsigned index, struct e2_err *err)
{
	if (grow_array(&ch->dele, &ch->capdele, ch->ndele, sizeof(*ch->dele),
		       64, err) != E2_OK)
		return err->code;
	ch->dele[ch->ndele++] = index;
	return E2_OK;
}

/* The lower bound of tag in r->tagged (the root's tagged files). */
static size_t
pop3_tagged_lower(const struct pop3_run *r, const char *tag)
{
	size_t lo = 0, hi = r->ntagged;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(r->tagged[mid]->tag, tag) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The other files of ours tagged with the UIDL of a row whose own file is
 * there: second copies of that message, left by an e2_sync_fetch_full()
 * interrupted between its new file and its row update (sync_full.c), or by
 * a crash. The row's file is the message; the copies in the root go
 * (never a file of another folder: that is the user's, see R17).
 */
static enum e2_status
pop3_drop_copies(struct pop3_run *r, const struct pop3_row *row,
		 struct e2_err *err)
{
	char tag[POP3_TAG_MAX + 1];
	size_t k;

	pop3_tag_of(row->uidl, tag);
	for (k = pop3_tagged_lower(r, tag);
	     k < r->ntagged && strcmp(r->tagged[k]->tag, tag) == 0; k++) {
		struct maildir_file *lf = r->tagged[k];
		enum e2_status rc;

		if (lf->matched)
			continue;
		rc = maildir_remove(r->root, lf->sub, lf->name, err);
		if (rc != E2_OK)
			return rc;
		lf->matched = true;
		r->dropped[lf - r->loc.v] = true;
	}
	return E2_OK;
}

static int
pop3_tagmap_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pop3_tagmap *)a)->tag,
		      ((const struct pop3_tagmap *)b)->tag);
}

/*
 * Files name messages by tag (base64url of the UIDL, injective); the map
 * from the tag of every listed UIDL back to it lets a file's tag be
 * compared as it is, with no decoder of names other programs write. A tag
 * that names no listed UIDL cannot matter: its row (if any) is dropped.
 */
static enum e2_status
pop3_tagmap_build(struct pop3_run *r, struct e2_err *err)
{
	r->tagmap = calloc(r->nsrv + 1, sizeof(*r->tagmap));
	if (r->tagmap == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < r->nsrv; i++) {
		char tag[POP3_TAG_MAX + 1];

		pop3_tag_of(r->srv[i].uidl, tag);
		r->tagmap[i].tag = strdup(tag);
		if (r->tagmap[i].tag == NULL)
			return pop3_oom(err);
		r->tagmap[i].uidl = r->srv[i].uidl;
		r->ntagmap++;
	}
	if (r->ntagmap > 1)
		qsort(r->tagmap, r->ntagmap, sizeof(*r->tagmap),
		      pop3_tagmap_cmp);
	return E2_OK;
}

/* The listed UIDL a file tag names, or NULL. */
static const char *
pop3_tagmap_find(const struct pop3_run *r, const char *tag)
{
	struct pop3_tagmap key = {.tag = (char *)(uintptr_t)tag};
	const struct pop3_tagmap *m;

	if (tag[0] == '\0' || r->ntagmap == 0)
		return NULL;
	m = bsearch(&key, r->tagmap, r->ntagmap, sizeof(*r->tagmap),
		    pop3_tagmap_cmp);
	return m != NULL ? m->uidl : NULL;
}

/* pop3_local_lookup_fn over the tag map. */
static const char *
pop3_tagmap_lookup(void *ctx, const char *tag)
{
	return pop3_tagmap_find(ctx, tag);
}

/*
 * The tag refs of every other folder, for R17: read only when a row's file
 * left the root (a move or a delete to tell apart). A folder that cannot
 * be read is reported (sync_skip()) and *blind_out set: the caller then
 * deletes nothing this run (keep beats delete).
 */
static enum e2_status
pop3_refs_collect(struct pop3_run *r, bool *blind_out, struct e2_err *err)
{
	enum e2_status rc;

	rc = pop3_local_refs(r->root, &r->folders, pop3_tagmap_lookup, r,
			     &r->refs, err);
	if (rc != E2_OK)
		return rc;
	*blind_out = r->refs.unreadable > 0;
	if (*blind_out)
		sync_skip(r->c, r->refs.first_name, 0, &r->refs.first_err);
	return E2_OK;
}

/* ---- the rows, and the plan of reconcile_folder() --------------------- */

static void
pop3_rows_free(struct pop3_run *r)
{
	for (size_t i = 0; i < r->nrows; i++) {
		free(r->rows[i].uidl);
		free(r->rows[i].local_name);
	}
	free(r->rows);
	r->rows = NULL;
	r->nrows = 0;
}

/* Every state row of the root into r->rows (UIDL order). */
static enum e2_status
pop3_rows_load(struct pop3_run *r, struct e2_err *err)
{
	struct syncstate_msg *page = NULL;
	char after[SYNCSTATE_UIDL_MAX + 1] = "";
	size_t got, cap = 0;
	enum e2_status rc = E2_OK;

	page = calloc(POP3_PAGE, sizeof(*page));
	if (page == NULL)
		return pop3_oom(err);
	do {
		rc = syncstate_msg_list_uidl(r->c->ss, "", after, page,
					     POP3_PAGE, &got, err);
		if (rc != E2_OK)
			break;
		if (r->nrows + got > cap) {
			size_t ncap = cap == 0 ? POP3_PAGE : cap * 2;
			struct pop3_row *v;

			while (ncap < r->nrows + got)
				ncap *= 2;
			v = realloc(r->rows, ncap * sizeof(*v));
			if (v == NULL) {
				rc = pop3_oom(err);
				break;
			}
			r->rows = v;
			cap = ncap;
		}
		for (size_t i = 0; i < got; i++) {
			struct pop3_row *row = &r->rows[r->nrows];
			const struct syncstate_msg *m = &page[i];

			memset(row, 0, sizeof(*row));
			row->uidl = strdup(m->uidl);
			row->local_name = strdup(m->local_name);
			r->nrows++;
			if (row->uidl == NULL || row->local_name == NULL) {
				rc = pop3_oom(err);
				break;
			}
			row->size = m->size;
			row->internal_date = m->internal_date;
			row->partial = m->partial;
			row->omitted = m->omitted;
			row->disp = has_flag(m->flags, 'T')   ? 'T'
				    : has_flag(m->flags, 'A') ? 'A'
				    : has_flag(m->flags, 'M') ? 'M'
							      : '\0';
		}
		if (rc != E2_OK)
			break;
		if (got > 0)
			(void)snprintf(after, sizeof(after), "%s",
				       page[got - 1].uidl);
	} while (got == POP3_PAGE);
	free(page);
	return rc;
}

static void
pop3_row_msg(const struct pop3_row *row, struct syncstate_msg *m)
{
	memset(m, 0, sizeof(*m));
	(void)snprintf(m->uidl, sizeof(m->uidl), "%s", row->uidl);
	(void)snprintf(m->local_name, sizeof(m->local_name), "%s",
		       row->local_name);
	m->size = row->size;
	m->internal_date = row->internal_date;
	m->partial = row->partial;
	m->omitted = row->omitted;
}

/* Outside the DWNDAY window, by the date the row stored (0: inside). */
static bool
pop3_row_outside(const struct pop3_run *r, const struct pop3_row *row)
{
	return r->cutoff != 0 && row->internal_date != 0 &&
	       row->internal_date < r->cutoff;
}

/*
 * The inputs of reconcile_folder() (RECONCILE_POP3): the rows, the root's
 * files (minus the copies pop3_drop_copies() removed), the maildrop, and,
 * when a row's file left the root, the tag refs of the other folders.
 */
struct pop3_inputs {
	struct reconcile_row *rows;
	struct reconcile_local *local;
	size_t *local_of; /* [nlocal] index into r->loc.v */
	struct reconcile_server *server;
	size_t nlocal;
};

static void
pop3_inputs_free(struct pop3_inputs *pi)
{
	free(pi->rows);
	free(pi->local);
	free(pi->local_of);
	free(pi->server);
	memset(pi, 0, sizeof(*pi));
}

static enum e2_status
pop3_inputs_build(struct pop3_run *r, struct pop3_inputs *pi, bool *left_out,
		  struct e2_err *err)
{
	size_t s = 0;

	*left_out = false;
	pi->rows = calloc(r->nrows + 1, sizeof(*pi->rows));
	pi->local = calloc(r->loc.n + 1, sizeof(*pi->local));
	pi->local_of = calloc(r->loc.n + 1, sizeof(*pi->local_of));
	pi->server = calloc(r->nsrv + 1, sizeof(*pi->server));
	if (pi->rows == NULL || pi->local == NULL || pi->local_of == NULL ||
	    pi->server == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct pop3_row *row = &r->rows[i];
		struct maildir_file *lf =
			maildir_snapshot_find(&r->loc, row->local_name);

		pi->rows[i].uidl = row->uidl;
		pi->rows[i].local_name = row->local_name;
		pi->rows[i].tombstone = row->disp == 'T';
		pi->rows[i].aged_out = row->disp == 'A';
		pi->rows[i].moved = row->disp == 'M';
		if (lf != NULL)
			lf->matched = true;
		if (row->disp == '\0' &&
		    (lf == NULL || has_flag(lf->flags, 'T')))
			*left_out = true;
	}
	for (size_t i = 0; i < r->nrows; i++) {
		const struct pop3_row *row = &r->rows[i];
		struct maildir_file *lf =
			maildir_snapshot_find(&r->loc, row->local_name);

		if (lf != NULL && row->disp == '\0' &&
		    !has_flag(lf->flags, 'T')) {
			enum e2_status rc = pop3_drop_copies(r, row, err);

			if (rc != E2_OK)
				return rc;
		}
	}
	for (size_t i = 0; i < r->loc.n; i++) {
		const struct maildir_file *f = &r->loc.v[i];
		struct reconcile_local *l = &pi->local[pi->nlocal];

		if (r->dropped[i])
			continue;
		l->uniq = f->uniq;
		l->flags = has_flag(f->flags, 'T') ? RECONCILE_FLAG_TRASHED : 0;
		l->pop3_uidl = pop3_tagmap_find(r, f->tag);
		pi->local_of[pi->nlocal++] = i;
	}
	for (size_t i = 0; i < r->nsrv; i++) {
		int c = 1;

		pi->server[i].uidl = r->srv[i].uidl;
		while (s < r->nrows &&
		       (c = strcmp(r->rows[s].uidl, r->srv[i].uidl)) < 0)
			s++;
		if (s < r->nrows && c == 0)
			pi->server[i].outside_window =
				pop3_row_outside(r, &r->rows[s]);
	}
	return E2_OK;
}

/* The row's file in the root, for removal; NULL when none. */
static struct maildir_file *
pop3_plan_file(struct pop3_run *r, const struct pop3_inputs *pi, size_t lf)
{
	return lf == RECONCILE_NONE ? NULL : &r->loc.v[pi->local_of[lf]];
}

/* One action of the plan into ch (the driver side of reconcile.h). */
static enum e2_status
pop3_plan_step(struct pop3_run *r, const struct pop3_inputs *pi,
	       const struct reconcile_action *a, bool blind,
	       struct pop3_changes *ch, struct e2_err *err)
{
	const struct pop3_row *row =
		a->row != RECONCILE_NONE ? &r->rows[a->row] : NULL;
	struct maildir_file *lf = pop3_plan_file(r, pi, a->local);
	struct syncstate_msg m;
	enum e2_status rc = E2_OK;

	if (row != NULL)
		pop3_row_msg(row, &m);
	switch (a->kind) {
	case RECONCILE_DOWNLOAD: /* R14, an aged-out row back inside: R15 */
		r->srv[a->server].known = false;
		break;
	case RECONCILE_ADOPT: /* R12: a file whose row never committed */
		memset(&m, 0, sizeof(m));
		(void)snprintf(m.uidl, sizeof(m.uidl), "%s",
			       r->srv[a->server].uidl);
		(void)snprintf(m.local_name, sizeof(m.local_name), "%s",
			       lf->uniq);
		m.size = r->srv[a->server].size;
		sync_adopt_marks(r->root, lf, POP3_MARKS_READ, &m.partial,
				 &m.omitted);
		rc = pop3_change_put(ch, &m, "", NULL, err);
		ch->nadopt++;
		break;
	case RECONCILE_SERVER_DELETE: /* R5 with SERVERDELETEACTION 1 */
		if (blind && row->disp != 'T')
			break;
		if (row->disp != 'T')
			rc = pop3_change_put(ch, &m, "T", lf, err);
		if (rc == E2_OK)
			rc = pop3_change_dele(ch, r->srv[a->server].index, err);
		break;
	case RECONCILE_TOMBSTONE: /* R5 with SERVERDELETEACTION 2 */
		if (a->reason == RECONCILE_REASON_MOVED_AWAY) /* R17 */
			rc = pop3_change_put(ch, &m, "M", NULL, err);
		else if (!blind)
			rc = pop3_change_put(ch, &m, "T", lf, err);
		break;
	case RECONCILE_DROP_ROW: /* R17: the server let it go */
		rc = pop3_change_drop(ch, row->uidl, err);
		break;
	case RECONCILE_AGE_OUT: /* R15 */
		rc = pop3_change_put(ch, &m, "A", lf, err);
		break;
	default: /* KEEP: a move (R17), a local file; nothing else is used */
		break;
	}
	return rc;
}

struct pop3_cand {
	char id[POP3_LOCAL_MSGID_MAX];
	size_t action; /* in the plan */
};

static int
pop3_cand_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pop3_cand *)a)->id,
		      ((const struct pop3_cand *)b)->id);
}

/*
 * R17 for a client that moves by writing a new file: mutt and neomutt save
 * into another folder as a new file under a new name and delete the
 * original, so no "L=" tag tells the move. Before a DELE for a message
 * whose file just left the root (R5, SERVERDELETEACTION 1), its
 * Message-ID (TOP n 0) is looked for in the untagged files of the other
 * folders (pop3_local_find_msgids()); found, the DELE becomes an "M" row:
 * kept on the server for good and never downloaded again (the copy is the
 * user's; deleting it later does not reach the server: keep beats
 * delete). Runs only when such a DELE is planned; costs one TOP per
 * message and reading the headers of the other folders' untagged files.
 * A message without a Message-ID is deleted as before.
 */
static enum e2_status
pop3_moved_renamed(struct pop3_run *r, struct reconcile_plan *plan,
		   struct e2_err *err)
{
	struct pop3_cand *cand = NULL;
	const char **ids = NULL;
	bool *found = NULL;
	size_t n = 0;
	enum e2_status rc = E2_OK;

	for (size_t k = 0; k < plan->n; k++) {
		const struct reconcile_action *a = &plan->v[k];
		const char *hdr = NULL;
		size_t len = 0;
		bool has = false;

		if (a->kind != RECONCILE_SERVER_DELETE ||
		    r->rows[a->row].disp != '\0')
			continue;
		if (cand == NULL) {
			cand = calloc(plan->n, sizeof(*cand));
			if (cand == NULL) {
				rc = pop3_oom(err);
				goto out;
			}
		}
		rc = pop3_cmd_content(&r->pc, r->srv[a->server].index, 0, &hdr,
				      &len, err);
		if (rc == E2_OK)
			rc = pop3_local_msgid(hdr, len, &has, cand[n].id, err);
		if (rc != E2_OK)
			goto out;
		if (has)
			cand[n++].action = k;
	}
	if (n == 0)
		goto out;
	qsort(cand, n, sizeof(*cand), pop3_cand_cmp);
	ids = calloc(n, sizeof(*ids));
	found = calloc(n, sizeof(*found));
	if (ids == NULL || found == NULL) {
		rc = pop3_oom(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = cand[i].id;
	rc = pop3_local_find_msgids(r->root, &r->folders, ids, n, found, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0, j; i < n; i = j) {
		bool any = false;

		/* one Message-ID on several messages: bsearch() set one */
		for (j = i; j < n && strcmp(cand[j].id, cand[i].id) == 0; j++)
			any = any || found[j];
		for (size_t k = i; any && k < j; k++) {
			struct reconcile_action *a = &plan->v[cand[k].action];

			/* the "M" row: see pop3_plan_step() */
			a->kind = RECONCILE_TOMBSTONE;
			a->reason = RECONCILE_REASON_MOVED_AWAY;
		}
	}
out:
	free(found);
	free(ids);
	free(cand);
	return rc;
}

/*
 * A dry run's lines for the maildrop (shown as "INBOX"): the plan, with
 * LIST's sizes for the downloads. DWNDAY is decided by TOP when a message
 * is downloaded: the preview counts every new message.
 */
static enum e2_status
pop3_preview(struct pop3_run *r, const struct reconcile_input *in,
	     const struct reconcile_plan *plan, struct e2_err *err)
{
	uint64_t *sizes = calloc(r->nsrv + 1, sizeof(*sizes));

	if (sizes == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < r->nsrv; i++)
		sizes[i] = r->srv[i].size;
	sync_preview_plan(r->c, "INBOX", in, plan, sizes);
	free(sizes);
	return E2_OK;
}

/*
 * The rows against the root, the maildrop and the other folders, through
 * reconcile_folder(); then the row changes commit in one transaction and
 * the DELEs go out (the server applies them at QUIT).
 */
static enum e2_status
pop3_known(struct pop3_run *r, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct pop3_inputs pi = {0};
	struct reconcile_input in = {0};
	struct reconcile_plan plan = {0};
	struct pop3_changes ch = {0};
	enum e2_status rc;
	bool left = false, blind = false, in_txn = false;

	for (size_t i = 0; i < r->nsrv; i++)
		r->srv[i].known = true; /* DOWNLOAD says otherwise */
	rc = pop3_rows_load(r, err);
	if (rc == E2_OK)
		rc = pop3_tagmap_build(r, err);
	if (rc == E2_OK)
		rc = pop3_inputs_build(r, &pi, &left, err);
	if (rc == E2_OK && left)
		rc = pop3_refs_collect(r, &blind, err);
	if (rc != E2_OK)
		goto out;
	in.proto = RECONCILE_POP3;
	in.serverdeleteaction = (int)c->a->serverdeleteaction;
	in.folder_id = "";
	in.rows = pi.rows;
	in.nrows = r->nrows;
	in.local = pi.local;
	in.nlocal = pi.nlocal;
	in.server = pi.server;
	in.nserver = r->nsrv;
	in.refs = r->refs.v;
	in.nrefs = r->refs.n;
	rc = reconcile_folder(&in, &plan, err);
	if (rc == E2_OK && !blind)
		rc = pop3_moved_renamed(r, &plan, err);
	if (rc == E2_OK && c->o.dry_run) {
		/* issue 9: the plan shown, not carried out (no DELE, RETR) */
		rc = pop3_preview(r, &in, &plan, err);
		goto out;
	}
	for (size_t i = 0; rc == E2_OK && i < plan.n; i++)
		rc = pop3_plan_step(r, &pi, &plan.v[i], blind, &ch, err);
	if (rc != E2_OK)
		goto out;

	if (ch.nput + ch.ndrop > 0) {
		rc = store_begin(c->st, err);
		if (rc != E2_OK)
			goto out;
		in_txn = true;
		/* a file goes before its row says so: a crash in between
		 * leaves a row without its file, which the next run reads as
		 * the same local delete */
		for (size_t i = 0; i < ch.nput && rc == E2_OK; i++) {
			struct maildir_file *lf = ch.rm[i];

			if (lf != NULL) {
				rc = maildir_remove(r->root, lf->sub, lf->name,
						    err);
				if (rc != E2_OK)
					goto out;
			}
			if (has_flag(ch.put[i].flags, 'A'))
				c->stats->removed_local++;
			rc = syncstate_msg_put(c->ss, "", &ch.put[i], err);
		}
		for (size_t i = 0; i < ch.ndrop && rc == E2_OK; i++)
			rc = syncstate_msg_delete_uidl(c->ss, "", ch.drop[i],
						       err);
		if (rc != E2_OK)
			goto out;
		rc = store_commit(c->st, err);
		in_txn = false;
		if (rc != E2_OK)
			goto out;
		c->stats->adopted += ch.nadopt;
	}
	/* DELE after the "T" rows committed: a crash before QUIT leaves the
	 * message on the server and a "T" row that sends DELE again */
	for (size_t i = 0; i < ch.ndele; i++) {
		rc = pop3_cmd_dele(&r->pc, ch.dele[i], err);
		if (rc != E2_OK)
			goto out;
		c->stats->deleted_server++;
		r->ndele++;
	}
out:
	if (in_txn)
		store_rollback(c->st);
	reconcile_plan_free(&plan);
	pop3_changes_free(&ch);
	pop3_inputs_free(&pi);
	return rc;
}

/* The Date header of msg as epoch seconds, 0 when missing or bad. */
static int64_t
pop3_date(const char *msg, size_t len)
{
	struct e2_err err = {0};
	bool complete = false, found = false;
	size_t hlen = mime_header_len(msg, len, &complete);
	char *value = NULL;
	time_t t = 0;

	if (mime_header_get(msg, hlen, "Date", &found, &value, &err) != E2_OK ||
	    !found)
		return 0;
	if (mime_date_parse(value, &t, &err) != E2_OK)
		t = 0;
	free(value);
	return (int64_t)t;
}

/* Makes the batch durable, then commits its rows. */
static enum e2_status
pop3_flush(struct pop3_run *r, struct maildir_batch **b, struct pop3_done *done,
	   size_t *ndone, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	enum e2_status rc;

	if (*b == NULL)
		return E2_OK;
	rc = maildir_batch_commit(*b, err);
	if (rc != E2_OK)
		goto out;
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0; i < *ndone && rc == E2_OK; i++)
		rc = syncstate_msg_put(c->ss, "", &done[i].m, err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		goto out;
	}
	rc = store_commit(c->st, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0; i < *ndone; i++) {
		c->stats->messages++;
		c->stats->bytes += done[i].bytes;
		if (done[i].m.partial)
			c->stats->partial++;
	}
	c->stats->progress_done += *ndone;
	sync_progress(c);
out:
	maildir_batch_free(b);
	*ndone = 0;
	return rc;
}

static int
pop3_tag_cmp(const void *a, const void *b)
{
	const struct maildir_file *x = *(struct maildir_file *const *)a;
	const struct maildir_file *y = *(struct maildir_file *const *)b;

	return strcmp(x->tag, y->tag);
}

/* Indexes the root's files that carry a tag, for pop3_drop_copies(). */
static enum e2_status
pop3_index_tags(struct pop3_run *r, struct e2_err *err)
{
	r->tagged = calloc(r->loc.n + 1, sizeof(*r->tagged));
	r->dropped = calloc(r->loc.n + 1, sizeof(*r->dropped));
	if (r->tagged == NULL || r->dropped == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < r->loc.n; i++)
		if (r->loc.v[i].tag[0] != '\0')
			r->tagged[r->ntagged++] = &r->loc.v[i];
	if (r->ntagged > 1)
		qsort(r->tagged, r->ntagged, sizeof(*r->tagged), pop3_tag_cmp);
	return E2_OK;
}

/* DWNDAY: whether the message is inside the window (TOP n 0). */
static enum e2_status
pop3_inside(struct pop3_run *r, const struct pop3_srv *s, bool *inside_out,
	    struct e2_err *err)
{
	const char *hdr = NULL;
	size_t len = 0;
	enum e2_status rc;

	*inside_out = true;
	if (r->c->a->dwnday < 0)
		return E2_OK;
	rc = pop3_cmd_content(&r->pc, s->index, 0, &hdr, &len, err);
	if (rc != E2_OK)
		return rc;
	*inside_out = mime_dwnday_inside(hdr, len, r->c->a->dwnday, r->c->now);
	return E2_OK;
}

/* Fetches one message into the batch; fills *d. */
static enum e2_status
pop3_fetch(struct pop3_run *r, struct maildir_batch *b,
	   const struct pop3_srv *s, struct pop3_done *d, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct maildir_msg *msg = NULL;
	struct mime_trunc_info ti = {0};
	const char *uniq = NULL;
	char tag[POP3_TAG_MAX + 4] = "L=";
	const char *buf = NULL;
	size_t len = 0;
	bool partial = c->a->retrieve > 0 && s->size > (uint64_t)c->a->retrieve;
	enum e2_status rc;

	rc = pop3_cmd_content(&r->pc, s->index,
			      partial ? (long)(c->a->retrieve / 64 + 1) : -1,
			      &buf, &len, err);
	if (rc != E2_OK)
		return rc;
	pop3_tag_of(s->uidl, tag + 2);
	rc = maildir_msg_begin(b, r->root, NULL, tag, &msg, err);
	if (rc != E2_OK)
		goto out;
	if (partial) {
		struct mime_origin o = {c->a->guid, NULL, 0};

		rc = mime_truncate(buf, len, (size_t)c->a->retrieve, s->size,
				   &o, maildir_msg_sink, msg, &ti, err);
	} else {
		rc = maildir_msg_write(msg, buf, len, err);
	}
	if (rc != E2_OK) {
		maildir_msg_discard(&msg);
		goto out;
	}
	rc = maildir_msg_end(&msg, &uniq, err);
	if (rc != E2_OK)
		goto out;
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->m.uidl, sizeof(d->m.uidl), "%s", s->uidl);
	(void)snprintf(d->m.local_name, sizeof(d->m.local_name), "%s", uniq);
	d->m.size = s->size;
	d->m.partial = partial && ti.truncated;
	d->m.internal_date = pop3_date(buf, len);
	d->bytes = len;
out:
	return rc;
}

/* Downloads every listed message that has no row, in maildrop order. */
static enum e2_status
pop3_new(struct pop3_run *r, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	struct pop3_srv **todo = NULL;
	struct pop3_done *done = NULL;
	struct maildir_batch *b = NULL;
	size_t ntodo = 0, ndone = 0;
	unsigned long long bytes = 0;
	enum e2_status rc = E2_OK;

	todo = calloc(r->nsrv + 1, sizeof(*todo));
	done = calloc(c->o.batch_msgs, sizeof(*done));
	if (todo == NULL || done == NULL) {
		rc = pop3_oom(err);
		goto out;
	}
	for (size_t i = 0; i < r->nsrv; i++)
		if (!r->srv[i].known)
			todo[ntodo++] = &r->srv[i];
	if (ntodo > 1)
		qsort(todo, ntodo, sizeof(*todo), srv_index_cmp);
	if (ntodo > 0)
		sync_progress_folder(c, "INBOX", ntodo);
	for (size_t i = 0; i < ntodo; i++) {
		bool inside = true;

		/* SIGTERM: stop after the current message; the flush below
		 * makes what was fetched durable */
		if (sync_stopping(c))
			break;
		rc = pop3_inside(r, todo[i], &inside, err);
		if (rc != E2_OK || !inside)
			goto next;
		if (b == NULL) {
			rc = maildir_batch_begin(c->md, &b, err);
			if (rc != E2_OK)
				goto out;
			bytes = 0;
		}
		rc = pop3_fetch(r, b, todo[i], &done[ndone], err);
		if (rc != E2_OK)
			goto out;
		bytes += done[ndone].bytes;
		ndone++;
		if (ndone >= c->o.batch_msgs || bytes >= c->o.batch_bytes)
			rc = pop3_flush(r, &b, done, &ndone, err);
	next:
		if (rc != E2_OK)
			goto out;
	}
	rc = pop3_flush(r, &b, done, &ndone, err);
out:
	maildir_batch_free(&b);
	free(done);
	free(todo);
	return rc;
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The server stamp of a UIDL list, sorted in place (see the header). */
static enum e2_status
pop3_server_stamp(const struct pop3_run *r, char **uidls, size_t n,
		  char out[SYNCSTATE_STAMP_MAX], struct e2_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	size_t kept = 0;
	int len;

	if (n > 1)
		qsort(uidls, n, sizeof(*uidls), str_ptr_cmp);
	/* as pop3_list(): a UIDL listed twice counts once */
	for (size_t i = 0; ok && i < n; i++) {
		if (i > 0 && strcmp(uidls[i - 1], uidls[i]) == 0)
			continue;
		ok = EVP_DigestUpdate(ctx, uidls[i], strlen(uidls[i]) + 1);
		kept++;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return e2_fail(err, E2_ENOMEM, "pop3: SHA-256 failed");
	len = snprintf(out, SYNCSTATE_STAMP_MAX, "dwnday=%d sda=%d n=%zu ",
		       (int)r->c->a->dwnday, (int)r->c->a->serverdeleteaction,
		       kept);
	for (unsigned i = 0; i < mdlen && len + 3 <= SYNCSTATE_STAMP_MAX; i++)
		len += snprintf(out + len, SYNCSTATE_STAMP_MAX - (size_t)len,
				"%02x", md[i]);
	return E2_OK;
}

/*
 * UIDL alone, for the server stamp: a resync with no change needs no LIST
 * (the sizes), which costs the server as much again. The answer stays in
 * r->list; pop3_list() then asks LIST alone when there is work.
 */
static enum e2_status
pop3_uidl_stamp(struct pop3_run *r, char out[SYNCSTATE_STAMP_MAX],
		struct e2_err *err)
{
	char **v = NULL;
	enum e2_status rc;

	rc = pop3_cmd_listing(&r->pc, POP3_LIST_UIDL, err);
	if (rc != E2_OK)
		return rc;
	v = calloc(r->pc.list.n + 1, sizeof(*v));
	if (v == NULL)
		return pop3_oom(err);
	for (size_t i = 0; i < r->pc.list.n; i++)
		v[i] = r->pc.list.v[i].uidl;
	rc = pop3_server_stamp(r, v, r->pc.list.n, out, err);
	free(v);
	return rc;
}

/* Fills r->fs's stamps; *same_out: the stored ones hold (see the header). */
static enum e2_status
pop3_unchanged(struct pop3_run *r, bool *same_out, struct e2_err *err)
{
	struct syncstate_folder old = {0};
	struct syncstate_summary sum;
	bool found = false;
	enum e2_status rc;

	*same_out = false;
	rc = pop3_uidl_stamp(r, r->fs.server_stamp, err);
	if (rc == E2_OK)
		rc = pop3_local_folders(r->root, &r->folders, err);
	if (rc == E2_OK)
		rc = pop3_local_stamp(r->root, &r->folders, r->fs.local_stamp,
				      err);
	if (rc == E2_OK)
		rc = syncstate_folder_get(r->c->ss, "", &found, &old, err);
	if (rc != E2_OK || !found || r->fs.local_stamp[0] == '\0' ||
	    strcmp(old.local_stamp, r->fs.local_stamp) != 0 ||
	    strcmp(old.server_stamp, r->fs.server_stamp) != 0)
		return rc;
	rc = syncstate_msg_summary(r->c->ss, "", &sum, err);
	if (rc == E2_OK)
		*same_out = r->cutoff == 0 || sum.oldest == 0 ||
			    sum.oldest >= r->cutoff;
	return rc;
}

/* What the session, pop3_list() and the passes left in r (QUIT first). */
static void
pop3_run_free(struct pop3_run *r)
{
	pop3_cmd_close(&r->pc);
	free(r->srv);
	r->srv = NULL;
	pop3_rows_free(r);
	for (size_t i = 0; i < r->ntagmap; i++)
		free(r->tagmap[i].tag);
	free(r->tagmap);
	r->tagmap = NULL;
	r->ntagmap = 0;
	pop3_local_folders_free(&r->folders);
	pop3_local_refs_free(&r->refs);
}

/* The account's logged-in session into r. */
static enum e2_status
pop3_open(struct pop3_run *r, struct sync_ctx *c, struct e2_err *err)
{
	struct chain_opts co = {.cafile = c->o.cafile,
				.timeout_ms = c->o.timeout_ms,
				.login = true,
				.trace = c->o.trace};
	enum e2_status rc;

	r->c = c;
	r->root = maildir_root(c->md);
	rc = pop3_cmd_open(&r->pc, c->st, c->a, &co, err);
	if (rc == E2_OK)
		sync_note_cleartext(c, r->pc.sess, E2_SIDE_IN);
	return rc;
}

enum e2_status
sync_pop3_run(struct sync_ctx *c, struct e2_err *err)
{
	struct pop3_run r = {0};
	bool same = false;
	enum e2_status rc;

	c->stats->folders++;
	if (c->a->dwnday >= 0) {
		r.cutoff = c->now - (time_t)c->a->dwnday * 86400;
		r.cutoff -= ((r.cutoff % 86400) + 86400) % 86400;
	}
	rc = pop3_open(&r, c, err);
	if (rc != E2_OK)
		goto out;
	rc = pop3_unchanged(&r, &same, err);
	if (rc != E2_OK)
		goto out;
	if (same) {
		c->stats->folders_skipped++;
		goto out;
	}
	rc = pop3_list(&r, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_snapshot(r.root, "L", &r.loc, err);
	if (rc == E2_OK)
		rc = pop3_index_tags(&r, err);
	if (rc != E2_OK)
		goto out;
	rc = pop3_known(&r, err);
	if (rc != E2_OK || c->o.dry_run)
		goto out;
	rc = pop3_new(&r, err);
	if (rc == E2_OK && r.ndele == 0 && !sync_stopping(c))
		rc = syncstate_folder_put(c->ss, "", &r.fs, err);
out:
	/* QUIT (pop3_run_free()): the server applies the DELEs now */
	free(r.tagged);
	free(r.dropped);
	maildir_snapshot_free(&r.loc);
	pop3_run_free(&r);
	return rc;
}

/* ---- the whole message, later (e2_sync_fetch_full(), sync_full.c) ----- */

enum e2_status
sync_pop3_fetch_whole(struct sync_ctx *c, const char *uidl, sync_full_fn fn,
		      void *ctx, struct e2_err *err)
{
	struct pop3_run r = {0};
	struct pop3_srv *s;
	char tag[POP3_TAG_MAX + 4] = "L=";
	const char *buf = NULL;
	size_t len = 0;
	enum e2_status rc;

	rc = pop3_open(&r, c, err);
	if (rc != E2_OK)
		goto out;
	rc = pop3_list(&r, err);
	if (rc != E2_OK)
		goto out;
	s = srv_find(&r, uidl);
	if (s == NULL) {
		rc = e2_fail(err, E2_EINVAL,
			     "pop3: the message is no longer on the server");
		goto out;
	}
	rc = pop3_cmd_content(&r.pc, s->index, -1, &buf, &len, err);
	if (rc != E2_OK)
		goto out;
	pop3_tag_of(s->uidl, tag + 2);
	rc = fn(ctx, tag, buf, len, err);
out:
	pop3_run_free(&r);
	return rc;
}
