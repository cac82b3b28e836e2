/* SPDX-License-Identifier: MIT */
/* sync_imap_upload.c -- IMAP APPEND, UID COPY, UID MOVE of local files */
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
 * ADOPT (R12). A move or copy with a Message-ID is searched for by it
 * alone (the moved message has the source's bytes, which may differ from
 * the file's: R18). One window is documented: a move by UID COPY killed between
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
		(void)e2_fail(&why, E2_EINVAL, "larger than %s%zu bytes",
			      max < SYNC_UPLOAD_MAX
				      ? "the server's APPENDLIMIT, "
				      : "",
			      max);
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
enum e2_status
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
enum e2_status
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
enum e2_status
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
	/* the server moves the source's bytes, not the file's: a save by a
	 * new name (R18, sync_imap_saves.c) added a field, so a message
	 * with a Message-ID is found again by it alone (record, recovery
	 * and the search without COPYUID); one without keeps the size */
	if (u.info.message_id[0] != '\0')
		u.info.wire_size = 0;
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
