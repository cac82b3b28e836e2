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
#include "imap_copyuid.h"
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
/* a killed run leaves at most a chunk or two of transfers (XFER_CHUNK) */
#define SYNC_RECOVER_MAX 1024
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

static enum e2_status
imap_reselect(struct imap_run *r, const char *name, struct e2_err *err)
{
	int code = mailimap_select(r->imap, name);

	if (code != MAILIMAP_NO_ERROR)
		return imap_fail(r, code, "SELECT", err);
	return E2_OK;
}

/* ---- SERVER_MOVE / SERVER_COPY in batches ----------------------------------
 *
 * The transfers of one folder run (R7, R8) are grouped by source folder
 * and kind (move or copy), in the plan's order, in chunks of at most
 * XFER_CHUNK UIDs (a UID set of 500 scattered UIDs is a few KB: well
 * inside any server's command length). A chunk costs a few round trips
 * and one durable commit, whatever its size:
 * 1. f SELECTed: each file is read and checked (upload_read) and any
 *    record a killed run left is looked up (upload_recover: adopted as
 *    before, one by one); then one store transaction records every other
 *    one as pending (sync_uploads, with the source folder and UID)
 *    BEFORE the server step;
 * 2. the source SELECTed, one UID MOVE <set> (MOVE), else UID COPY <set>;
 * 3. the new UIDs from COPYUID (imap_copyuid_map(): the destination
 *    UIDVALIDITY must be f's, the sets must fit what was asked). A
 *    COPYUID that names only some UIDs means the server no longer had
 *    the others (R9 seen late); no COPYUID at all with UIDPLUS: it had
 *    none of them. A COPYUID that does not fit, or a server without
 *    UIDPLUS: each message is looked for in f by the search of "uploads"
 *    (a move by UID COPY without UIDPLUS first flags the chunk \Deleted
 *    in the source, as before: no UID EXPUNGE there);
 * 4. the files found are renamed to carry their new tags, each touched
 *    directory of f fsynced once, then one transaction writes the new
 *    rows, drops the source rows the server no longer has (MOVE, or the
 *    \Deleted of 3) and forgets the chunk's records;
 * 5. a move by UID COPY (not flagged in 3): UID STORE +FLAGS.SILENT
 *    (\Deleted) and, with UIDPLUS, UID EXPUNGE of the copied source
 *    UIDs, then their rows go;
 * 6. each message the server no longer had is APPENDed from its file
 *    (folder_upload(), R9), one by one as before.
 * Crash order, as for one message: a kill before the commit of 1 leaves
 * nothing; between 1 and 4 (the server moved them, the client may never
 * have heard: a cut before the tagged OK) the records make the next run
 * find each message by its Message-ID and size from the recorded UIDNEXT
 * and adopt it (folder_recover_uploads(), before the plan), never send it
 * again; between the renames and the commit of 4 the files carry f's tags
 * and the records are still there: the same search adopts them (or R12).
 * The window of a move by UID COPY (killed between 4 and 5) is the one
 * documented above, now for a whole chunk.
 */
#define XFER_CHUNK 500

struct xfer {
	const struct reconcile_action *a;
	const struct maildir_file *lf;
	struct syncstate_upload rec; /* the pending record */
	uint32_t uid;                /* in f, 0 not (yet) known */
	bool live;                   /* recorded, in the server step */
	bool gone;                   /* the server lacked it: APPEND */
};

static int
xfer_cmp(const void *a, const void *b)
{
	const struct xfer *x = a, *y = b;

	return x->rec.src_uid < y->rec.src_uid   ? -1
	       : x->rec.src_uid > y->rec.src_uid ? 1
						 : 0;
}

static enum e2_status
fsync_dir(const char *dir, const char *sub, struct e2_err *err)
{
	char path[4096];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			       strerror(e));
	}
	close(fd);
	return E2_OK;
}

/* A libetpan set as ranges (owned by the caller), NULL when none. */
static struct imap_uid_range *
set_ranges(struct mailimap_set *set, size_t *n_out)
{
	struct imap_uid_range *v;
	size_t n = 0;

	*n_out = 0;
	if (set == NULL || set->set_list == NULL)
		return NULL;
	v = calloc((size_t)clist_count(set->set_list) + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (clistiter *it = clist_begin(set->set_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_set_item *si = clist_content(it);

		v[n].first = si != NULL ? si->set_first : 0;
		v[n].last = si != NULL ? si->set_last : 0;
		n++;
	}
	*n_out = n;
	return v;
}

/*
 * Step 3 with COPYUID: the UIDs of the live xfers (ascending by source
 * UID, uids[] their source UIDs) from sres / dres. *fits false when the
 * response does not fit (then nothing is set).
 */
static enum e2_status
xfer_map(struct xfer *x, size_t n, const uint32_t *uids, size_t nu,
	 struct mailimap_set *sres, struct mailimap_set *dres, bool *fits,
	 struct e2_err *err)
{
	struct imap_uid_range *sv = NULL, *dv = NULL;
	uint32_t *out = NULL;
	size_t ns = 0, nd = 0;
	enum e2_status rc = E2_OK;

	*fits = false;
	sv = set_ranges(sres, &ns);
	dv = set_ranges(dres, &nd);
	out = calloc(nu + 1, sizeof(*out));
	if (sv == NULL || dv == NULL || out == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	*fits = imap_copyuid_map(uids, nu, sv, ns, dv, nd, out);
	for (size_t i = 0, k = 0; *fits && i < n; i++) {
		if (!x[i].live)
			continue;
		x[i].uid = out[k++];
		x[i].gone = x[i].uid == 0;
	}
out:
	free(out);
	free(dv);
	free(sv);
	return rc;
}

/* Step 1: read, recover, record. */
static enum e2_status
xfer_record(struct folder_run *f, const struct acct_folder *src, struct xfer *x,
	    size_t n, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	enum e2_status rc;

	rc = imap_reselect(f->r, f->name, err);
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct syncstate_upload *rec = &x[i].rec;
		struct upload_src u;
		uint32_t uid = 0;
		bool ok;

		rc = upload_read(f, x[i].lf, &u, &ok, err);
		if (rc != E2_OK || !ok)
			continue;
		/* the server moves the source's bytes, not the file's: a save
		 * by a new name (R18, sync_imap_saves.c) added a field, so a
		 * message with a Message-ID is found again by it alone
		 * (record, recovery and the search without COPYUID); one
		 * without keeps the size */
		if (u.info.message_id[0] != '\0')
			u.info.wire_size = 0;
		rc = upload_recover(f, x[i].lf, &u, &uid, err);
		if (rc == E2_OK && uid != 0) {
			/* a kill after the copy: adopt it; the source row is
			 * left to its own folder's next run (R4 or R5) */
			rc = upload_finish(f, x[i].lf, uid, x[i].a->flags, NULL,
					   NULL, 0, err);
		} else if (rc == E2_OK) {
			(void)snprintf(rec->local_name, sizeof(rec->local_name),
				       "%s", x[i].lf->uniq);
			(void)snprintf(rec->message_id, sizeof(rec->message_id),
				       "%s", u.info.message_id);
			(void)snprintf(rec->src_folder, sizeof(rec->src_folder),
				       "%s", src->name);
			rec->size = u.info.wire_size;
			rec->uidnext = f->cur.uidnext;
			rec->src_uid = x[i].a->from->uid;
			rec->created = (int64_t)c->now;
			x[i].live = true;
		}
		upload_src_free(&u);
	}
	if (rc != E2_OK)
		return rc;
	rc = store_begin(c->st, err);
	for (size_t i = 0; i < n && rc == E2_OK; i++)
		if (x[i].live)
			rc = syncstate_upload_put(c->ss, f->name, &x[i].rec,
						  err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		return rc;
	}
	return store_commit(c->st, err);
}

/*
 * Step 4: retag the files found, fsync, one transaction for the rows
 * (drop_src: the source rows go too) and the records (also of the gone).
 */
static enum e2_status
xfer_commit(struct folder_run *f, const struct acct_folder *src, struct xfer *x,
	    size_t n, bool drop_src, struct e2_err *err)
{
	struct sync_ctx *c = f->r->c;
	char(*uniq)[SYNCSTATE_NAME_MAX + 1] = NULL;
	bool touched[2] = {false, false}, *named = NULL;
	enum e2_status rc = E2_OK, rc2 = E2_OK;

	uniq = calloc(n + 1, sizeof(*uniq));
	named = calloc(n + 1, sizeof(*named));
	if (uniq == NULL || named == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	/* a rename that fails stops here: the rest keep their records */
	for (size_t i = 0; i < n && rc2 == E2_OK; i++) {
		if (!x[i].live || x[i].uid == 0)
			continue;
		rc2 = uidv_add(&f->taken, x[i].uid, err);
		if (rc2 == E2_OK)
			rc2 = upload_retag(f, x[i].lf, x[i].uid, uniq[i], err);
		if (rc2 == E2_OK) {
			named[i] = true;
			touched[strcmp(x[i].lf->sub, "new") == 0] = true;
		}
	}
	for (int s = 0; s < 2 && rc == E2_OK; s++)
		if (touched[s])
			rc = fsync_dir(f->path, s ? "new" : "cur", err);
	if (rc == E2_OK)
		rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct sync_msg_row row = {0};

		if (!x[i].live || (!named[i] && !x[i].gone))
			continue;
		if (named[i]) {
			row.uid = x[i].uid;
			row.uniq = uniq[i];
			mask_letters(x[i].a->flags, row.flags);
			rc = state_row_put(c, f->name, &row, err);
			if (rc == E2_OK && drop_src)
				rc = syncstate_msg_delete_uid(c->ss, src->name,
							      x[i].rec.src_uid,
							      err);
			c->stats->moved++;
		}
		if (rc == E2_OK)
			rc = syncstate_upload_done(c->ss, f->name,
						   x[i].rec.local_name, err);
	}
	if (rc != E2_OK) {
		store_rollback(c->st);
		goto out;
	}
	rc = store_commit(c->st, err);
out:
	free(named);
	free(uniq);
	return rc != E2_OK ? rc : rc2;
}

/* Step 5: \Deleted (and UID EXPUNGE) of the copied source UIDs. */
static enum e2_status
xfer_expunge(struct folder_run *f, const struct acct_folder *src,
	     const struct xfer *x, size_t n, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct sync_ctx *c = r->c;
	struct mailimap_set *set = NULL;
	struct uidv done = {0};
	enum e2_status rc = E2_OK;

	for (size_t i = 0; i < n && rc == E2_OK; i++)
		if (x[i].live && x[i].uid != 0)
			rc = uidv_add(&done, x[i].rec.src_uid, err);
	if (rc != E2_OK || done.n == 0)
		goto out;
	set = imap_set_of(done.v, done.n);
	if (set == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	rc = imap_reselect(r, src->name, err);
	if (rc == E2_OK)
		rc = imap_store_flag(r, done.v, done.n,
				     mailimap_flag_new_deleted, true, err);
	if (rc == E2_OK)
		rc = folder_expunge(r, set, err);
	if (rc == E2_OK)
		rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0; i < done.n && rc == E2_OK; i++)
		rc = syncstate_msg_delete_uid(c->ss, src->name, done.v[i], err);
	if (rc != E2_OK)
		store_rollback(c->st);
	else
		rc = store_commit(c->st, err);
out:
	if (set != NULL)
		mailimap_set_free(set);
	uidv_free(&done);
	return rc;
}

/* One chunk of transfers from src into f (see above). */
static enum e2_status
xfer_chunk(struct folder_run *f, const struct acct_folder *src, bool move,
	   struct xfer *x, size_t n, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct mailimap_set *set = NULL, *sres = NULL, *dres = NULL;
	uint32_t *uids = NULL, uv = 0;
	size_t nu = 0;
	bool fits = false, by_move = move && r->caps.move, src_gone = by_move;
	enum e2_status rc;
	int code;

	rc = xfer_record(f, src, x, n, err);
	if (rc != E2_OK)
		return rc;
	qsort(x, n, sizeof(*x), xfer_cmp);
	uids = calloc(n + 1, sizeof(*uids));
	if (uids == NULL)
		return imap_oom(err);
	for (size_t i = 0; i < n; i++)
		if (x[i].live)
			uids[nu++] = x[i].rec.src_uid;
	if (nu == 0)
		goto out;
	set = imap_set_of(uids, nu);
	rc = set != NULL ? imap_reselect(r, src->name, err) : imap_oom(err);
	if (rc != E2_OK)
		goto out;
	if (by_move)
		code = mailimap_uidplus_uid_move(r->imap, set, f->name, &uv,
						 &sres, &dres);
	else
		code = mailimap_uidplus_uid_copy(r->imap, set, f->name, &uv,
						 &sres, &dres);
	if (code != MAILIMAP_NO_ERROR) {
		rc = imap_fail(r, code, by_move ? "UID MOVE" : "UID COPY", err);
		goto out;
	}
	if (sres != NULL && dres != NULL && uv == f->cur.uidvalidity)
		rc = xfer_map(x, n, uids, nu, sres, dres, &fits, err);
	if (rc != E2_OK)
		goto out;
	if (!fits && sres == NULL && r->caps.uidplus) {
		/* no COPYUID at all: the server had none of them (R9) */
		for (size_t i = 0; i < n; i++)
			x[i].gone = x[i].live;
		fits = true;
	}
	if (!fits) {
		/* look for each one in f (see above) */
		if (move && !by_move && !r->caps.uidplus) {
			rc = imap_store_flag(r, uids, nu,
					     mailimap_flag_new_deleted, true,
					     err);
			src_gone = true;
		}
		if (rc == E2_OK)
			rc = imap_reselect(r, f->name, err);
		for (size_t i = 0; i < n && rc == E2_OK; i++) {
			if (!x[i].live)
				continue;
			rc = upload_find(f, x[i].rec.uidnext,
					 x[i].rec.message_id,
					 (size_t)x[i].rec.size, &x[i].uid, err);
			if (rc == E2_OK && x[i].uid != 0)
				rc = uidv_add(&f->taken, x[i].uid, err);
			x[i].gone = x[i].uid == 0;
		}
		if (rc != E2_OK)
			goto out;
	}
	rc = xfer_commit(f, src, x, n, src_gone, err);
	if (rc == E2_OK && move && !src_gone)
		rc = xfer_expunge(f, src, x, n, err);
	/* what the server no longer had is sent from its file (R9) */
	if (rc == E2_OK)
		rc = imap_reselect(r, f->name, err);
	for (size_t i = 0; i < n && rc == E2_OK && !sync_stopping(r->c); i++)
		if (x[i].live && x[i].gone)
			rc = folder_upload(f, x[i].lf, x[i].a->flags, NULL,
					   err);
out:
	if (set != NULL)
		mailimap_set_free(set);
	if (sres != NULL)
		mailimap_set_free(sres);
	if (dres != NULL)
		mailimap_set_free(dres);
	free(uids);
	return rc;
}

enum e2_status
folder_transfers(struct folder_run *f,
		 const struct reconcile_action *const *ups, size_t nups,
		 const size_t *lmap, struct e2_err *err)
{
	struct imap_run *r = f->r;
	struct xfer *x = NULL;
	bool *taken = NULL;
	enum e2_status rc = E2_OK;

	x = calloc(XFER_CHUNK, sizeof(*x));
	taken = calloc(nups + 1, sizeof(*taken));
	if (x == NULL || taken == NULL) {
		rc = imap_oom(err);
		goto out;
	}
	for (size_t i = 0; i < nups && rc == E2_OK && !sync_stopping(r->c);
	     i++) {
		const struct reconcile_action *a = ups[i];
		const struct acct_folder *src;
		bool move = a->kind == RECONCILE_SERVER_MOVE;
		size_t n = 0;

		if (taken[i] || (a->kind != RECONCILE_SERVER_MOVE &&
				 a->kind != RECONCILE_SERVER_COPY))
			continue;
		src = acct_by_id(r, a->from->folder_id);
		if (src == NULL) {
			/* the source folder is not this account's: send */
			taken[i] = true;
			rc = imap_reselect(r, f->name, err);
			if (rc == E2_OK)
				rc = folder_upload(f,
						   &f->local.v[lmap[a->local]],
						   a->flags, NULL, err);
			continue;
		}
		/* this one and the later ones of the same source and kind */
		memset(x, 0, XFER_CHUNK * sizeof(*x));
		for (size_t j = i; j < nups && n < XFER_CHUNK; j++) {
			const struct reconcile_action *b = ups[j];

			if (taken[j] || b->kind != a->kind ||
			    strcmp(b->from->folder_id, a->from->folder_id) != 0)
				continue;
			taken[j] = true;
			x[n].a = b;
			x[n].lf = &f->local.v[lmap[b->local]];
			n++;
		}
		rc = xfer_chunk(f, src, move, x, n, err);
	}
out:
	free(taken);
	free(x);
	return rc;
}
