/* SPDX-License-Identifier: MIT */
/* sync_imap_saves.c -- a save by a new name (neomutt) is a move (R18) */
#include "config.h"

#include "sync_imap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "grow.h"
#include "msgfile.h"

/*
 * neomutt's save-message does not rename the file into the target folder:
 * it writes a NEW file under a new unique name there (no ",U=" tag, an
 * added Content-Length: header) and removes the original (or marks it T,
 * maildir_trash). Read as it is, that is a local delete in the source (R5)
 * and a new file in the target (R11): the bytes uploaded again and the
 * server's message identity lost. R18 (reconcile.h) makes it a move:
 *
 * In the account pass, after every folder was scanned and before the
 * index is built (saves_pair(), from imap_account_pass()), and only when
 * both sides are non-empty:
 *  - the files: every untagged, not-T file of a folder whose stamp
 *    changed (the scan listed only those; a no-change resync reads
 *    nothing more);
 *  - the orphans: every row of a changed, known folder whose file is gone
 *    or T, that no tagged file of another folder names already (R7);
 * then the files' Message-IDs (msgfile_check() of their first
 * SAVES_READ bytes) and the orphans' (UID FETCH BODY.PEEK[HEADER.FIELDS
 * (MESSAGE-ID)] of their UIDs, in their folder EXAMINEd, when its
 * UIDVALIDITY is still the stored one; only UIDs asked for are taken,
 * and the bytes go through msgfile_check() like a file's), and
 * reconcile_pair_saves() pairs them.
 *
 * A paired file is renamed to carry the new-form tag of its orphan's row
 * (U=<uid>-V<v>-F<source id>; nothing else of the name changes) and added
 * to the tag refs: from there it is R7 in whatever order the folders are
 * synced -- the target's run does the SERVER_MOVE (folder_transfer():
 * copy, rows, source expunge; the file gets its own folder's tag from
 * COPYUID), the source's run sees its row moved away (KEEP), nothing is
 * deleted or uploaded. A source file left with T (maildir_trash) counts
 * as gone (acct_index_build(): a move, not a copy); after the move it
 * keeps its old tag with no row and stays as any trashed file (KEEP).
 *
 * Crash order: the rename is the only step here and it is local. A kill
 * before it leaves both sides as they were (the next run pairs again); a
 * kill after it leaves a file that names the source row, which the next
 * run moves (R7; the move's own crash order is in sync_imap_upload.c), or
 * uploads when the source message is gone by then (R9). Nothing is lost
 * (the file's bytes never change) and nothing is sent twice.
 *
 * Not paired (documented in email2-syncd(1)): a copy (copy-message: the
 * source file is still there; rows keep no Message-ID, so the new file is
 * uploaded, R11), and any orphan or file with no usable, or a shared,
 * Message-ID (the delete and the upload stay, R5 + R11).
 */

#define SAVES_READ (64u * 1024)    /* of a file, for its Message-ID */
#define SAVES_HDR_MAX (16u * 1024) /* of a server reply, per message */

struct saves_orphan {
	size_t folder; /* index into ax->fv */
	uint32_t uid;
	char msgid[MSGFILE_ID_MAX + 1];
};

struct saves_file {
	size_t folder;
	size_t file; /* index into that folder's snap */
	char msgid[MSGFILE_ID_MAX + 1];
};

struct saves {
	struct saves_orphan *o;
	size_t no, capo;
	struct saves_file *f;
	size_t nf, capf;
};

static bool
saves_untagged(const struct maildir_file *lf)
{
	struct reconcile_tag t;

	return !flag_has(lf->flags, 'T') && !reconcile_tag_parse(lf->tag, &t);
}

/* Does a tagged file of another folder name row uid of af already? */
static bool
saves_named(const struct acct_index *ax, const struct acct_folder *af,
	    uint32_t uid)
{
	for (size_t k = 0; k < ax->nrefs; k++) {
		const struct reconcile_tagref *ref = &ax->refs[k];

		if (ref->tag.uid == uid &&
		    ref->tag.uidvalidity == af->uidvalidity &&
		    (ref->tag.folder_id[0] == '\0' ||
		     strcmp(ref->tag.folder_id, af->id) == 0))
			return true;
	}
	return false;
}

static enum e2_status
saves_files(struct imap_run *r, struct saves *s, struct e2_err *err)
{
	for (size_t i = 0; i < r->ax.nf; i++) {
		const struct acct_folder *af = &r->ax.fv[i];

		if (!af->listed || af->path == NULL)
			continue;
		for (size_t j = 0; j < af->snap.n; j++) {
			if (!saves_untagged(&af->snap.v[j]))
				continue;
			if (grow_array(&s->f, &s->capf, s->nf, sizeof(*s->f), 8,
				       err) != E2_OK)
				return err->code;
			s->f[s->nf].folder = i;
			s->f[s->nf].file = j;
			s->f[s->nf].msgid[0] = '\0';
			s->nf++;
		}
	}
	return E2_OK;
}

static enum e2_status
saves_orphans(struct imap_run *r, struct saves *s, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	for (size_t i = 0; i < r->ax.nf && rc == E2_OK; i++) {
		struct acct_folder *af = &r->ax.fv[i];
		struct sync_msg_row *rows = NULL;
		size_t n = 0;

		if (!af->listed || !af->known || af->path == NULL)
			continue;
		rc = state_rows_load(r->c, af->name, &rows, &n, err);
		for (size_t j = 0; j < n && rc == E2_OK; j++) {
			const struct maildir_file *lf =
				maildir_snapshot_find(&af->snap, rows[j].uniq);

			if ((lf != NULL && !flag_has(lf->flags, 'T')) ||
			    saves_named(&r->ax, af, rows[j].uid))
				continue;
			rc = grow_array(&s->o, &s->capo, s->no, sizeof(*s->o),
					8, err);
			if (rc != E2_OK)
				break;
			s->o[s->no].folder = i;
			s->o[s->no].uid = rows[j].uid;
			s->o[s->no].msgid[0] = '\0';
			s->no++;
		}
		state_rows_free(&rows, n);
	}
	return rc;
}

/* The Message-ID of a file another program wrote ("" when none). */
static void
saves_file_id(const struct acct_folder *af, const struct maildir_file *lf,
	      char out[MSGFILE_ID_MAX + 1])
{
	char path[4096], *buf = malloc(SAVES_READ);
	struct msgfile_info info;
	struct e2_err e = {0};
	size_t len = 0;
	int fd;

	out[0] = '\0';
	if (buf == NULL)
		return;
	(void)snprintf(path, sizeof(path), "%s/%s/%s", af->path, lf->sub,
		       lf->name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	while (fd >= 0 && len < SAVES_READ) {
		ssize_t got = read(fd, buf + len, SAVES_READ - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (fd >= 0)
		close(fd);
	/* a cut header still gives its Message-ID when it came first */
	if (len > 0 && msgfile_check(buf, len, len, &info, &e) == E2_OK)
		memcpy(out, info.message_id, sizeof(info.message_id));
	free(buf);
}

static struct saves_orphan *
saves_orphan_of(struct saves *s, size_t folder, uint32_t uid)
{
	for (size_t k = 0; k < s->no; k++)
		if (s->o[k].folder == folder && s->o[k].uid == uid)
			return &s->o[k];
	return NULL;
}

/* One FETCH response: its UID and its header section, if any. */
static void
saves_att(struct mailimap_msg_att *att, uint32_t *uid, const char **hdr,
	  size_t *len)
{
	*uid = 0;
	*hdr = NULL;
	*len = 0;
	for (clistiter *it = clist_begin(att->att_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st->att_type == MAILIMAP_MSG_ATT_UID) {
			*uid = st->att_data.att_uid;
		} else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			   st->att_data.att_body_section != NULL) {
			*hdr = st->att_data.att_body_section->sec_body_part;
			*len = st->att_data.att_body_section->sec_length;
		}
	}
}

static struct mailimap_fetch_type *
saves_fetch_type(void)
{
	struct mailimap_fetch_type *ft =
		mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_fetch_att *fa = NULL;
	struct mailimap_section *sec = NULL;
	struct mailimap_header_list *hl = NULL;
	clist *names = clist_new();
	char *name = strdup("MESSAGE-ID");

	if (ft == NULL || names == NULL || name == NULL ||
	    clist_append(names, name) < 0)
		goto fail;
	name = NULL;
	hl = mailimap_header_list_new(names);
	if (hl == NULL)
		goto fail;
	names = NULL;
	sec = mailimap_section_new_header_fields(hl);
	if (sec == NULL)
		goto fail;
	hl = NULL;
	fa = mailimap_fetch_att_new_body_peek_section(sec);
	if (fa == NULL)
		goto fail;
	sec = NULL;
	if (mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, fa) !=
		    MAILIMAP_NO_ERROR)
		goto fail;
	return ft;
fail:
	free(name);
	if (names != NULL)
		clist_free(names);
	if (hl != NULL)
		mailimap_header_list_free(hl);
	if (sec != NULL)
		mailimap_section_free(sec);
	if (fa != NULL)
		mailimap_fetch_att_free(fa);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	return NULL;
}

/* The orphans' Message-IDs from folder i of the server (see above). */
static enum e2_status
saves_server_ids(struct imap_run *r, struct saves *s, size_t i,
		 struct e2_err *err)
{
	const struct acct_folder *af = &r->ax.fv[i];
	struct uidv u = {0};
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	clist *res = NULL;
	enum e2_status rc = E2_OK;
	int code;

	for (size_t k = 0; k < s->no && rc == E2_OK; k++)
		if (s->o[k].folder == i)
			rc = uidv_add(&u, s->o[k].uid, err);
	if (rc != E2_OK || u.n == 0)
		goto out;
	uidv_sort_unique(&u);
	code = mailimap_examine(r->imap, af->name);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "EXAMINE", err);
		goto out;
	}
	if (r->imap->imap_selection_info == NULL ||
	    r->imap->imap_selection_info->sel_uidvalidity != af->uidvalidity)
		goto out; /* rows void (R16): nothing to pair */
	set = imap_set_of(u.v, u.n);
	ft = saves_fetch_type();
	if (set == NULL || ft == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	code = mailimap_uid_fetch(r->imap, set, ft, &res);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, "UID FETCH", err);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL;
	     it = clist_next(it)) {
		struct saves_orphan *o;
		struct msgfile_info info;
		struct e2_err e = {0};
		const char *hdr;
		size_t len;
		uint32_t uid;

		saves_att(clist_content(it), &uid, &hdr, &len);
		/* server bytes: only a UID we asked for, a bounded header */
		o = uid != 0 ? saves_orphan_of(s, i, uid) : NULL;
		if (o == NULL || hdr == NULL || len == 0 || len > SAVES_HDR_MAX)
			continue;
		if (msgfile_check(hdr, len, len, &info, &e) == E2_OK)
			memcpy(o->msgid, info.message_id, sizeof(o->msgid));
	}
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	uidv_free(&u);
	return rc;
}

/* Renames file lf of holder to carry the tag of (uid, src) and refs it. */
static enum e2_status
saves_retag(struct imap_run *r, struct acct_folder *holder,
	    struct maildir_file *lf, const struct acct_folder *src,
	    uint32_t uid, struct e2_err *err)
{
	char val[RECONCILE_TAG_MAX], from[4096], to[4096];
	const char *info = lf->name + strlen(lf->uniq);
	struct reconcile_tag t;
	enum e2_status rc;
	int n;

	rc = reconcile_tag_format(uid, src->uidvalidity, src->id, val, err);
	if (rc != E2_OK)
		return rc;
	n = snprintf(to, sizeof(to), "%s,U=%s", lf->uniq, val);
	if (n < 0 || (size_t)n + strlen(info) > SYNCSTATE_NAME_MAX)
		return E2_OK; /* too long to carry it: stays R5 + R11 */
	(void)snprintf(from, sizeof(from), "%s/%s/%s", holder->path, lf->sub,
		       lf->name);
	(void)snprintf(to, sizeof(to), "%s/%s/%s,U=%s%s", holder->path, lf->sub,
		       lf->uniq, val, info);
	if (rename(from, to) != 0) {
		if (errno == ENOENT)
			return E2_OK; /* gone meanwhile: its folder sees it */
		return e2_fail(err, E2_ESTORE, "rename %s: %s", from,
			       strerror(errno));
	}
	if (!reconcile_tag_parse(val, &t))
		return E2_OK;
	return acct_ref_add(&r->ax, holder->id, &t, err);
}

enum e2_status
saves_pair(struct imap_run *r, struct e2_err *err)
{
	struct acct_index *ax = &r->ax;
	struct saves s = {0};
	struct reconcile_save_side *so = NULL, *sf = NULL;
	size_t *pair = NULL;
	enum e2_status rc;

	rc = saves_files(r, &s, err);
	if (rc == E2_OK && s.nf > 0)
		rc = saves_orphans(r, &s, err);
	if (rc != E2_OK || s.nf == 0 || s.no == 0)
		goto out;
	for (size_t k = 0; k < s.nf; k++)
		saves_file_id(&ax->fv[s.f[k].folder],
			      &ax->fv[s.f[k].folder].snap.v[s.f[k].file],
			      s.f[k].msgid);
	for (size_t i = 0; i < ax->nf && rc == E2_OK; i++)
		rc = saves_server_ids(r, &s, i, err);
	if (rc != E2_OK)
		goto out;
	so = calloc(s.no, sizeof(*so));
	sf = calloc(s.nf, sizeof(*sf));
	pair = calloc(s.no, sizeof(*pair));
	if (so == NULL || sf == NULL || pair == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t k = 0; k < s.no; k++) {
		so[k].folder_id = ax->fv[s.o[k].folder].id;
		so[k].message_id = s.o[k].msgid;
	}
	for (size_t k = 0; k < s.nf; k++) {
		sf[k].folder_id = ax->fv[s.f[k].folder].id;
		sf[k].message_id = s.f[k].msgid;
	}
	rc = reconcile_pair_saves(so, s.no, sf, s.nf, pair, err);
	for (size_t k = 0; k < s.no && rc == E2_OK; k++) {
		const struct saves_file *f;

		if (pair[k] == RECONCILE_NONE)
			continue;
		f = &s.f[pair[k]];
		rc = saves_retag(r, &ax->fv[f->folder],
				 &ax->fv[f->folder].snap.v[f->file],
				 &ax->fv[s.o[k].folder], s.o[k].uid, err);
	}
out:
	free(so);
	free(sf);
	free(pair);
	free(s.o);
	free(s.f);
	return rc;
}
