/* SPDX-License-Identifier: MIT */
/* sync_imap_folders.c -- folder level of an IMAP run (F1-F5) */
#include "config.h"

#include "sync_imap_folders.h"
#include "sync_preview.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap_names.h"
#include "reconcile.h"
#include "sync_imap_folders_int.h"
#include "transports/xport.h"

/* ---- shared with sync_imap_sent.c --------------------------------------- */

enum e2_status
folders_fail(struct folders_run *fr, int code, const char *what,
	     struct e2_err *err)
{
	/* as imap_fail(): after a parse error nothing more is read */
	if (code == MAILIMAP_ERROR_PARSE)
		xport_etpan_refuse_reads(fr->imap->imap_stream);
	return sync_cmd_fail(fr->sess, "imap", what, code,
			     code == MAILIMAP_ERROR_STREAM,
			     fr->imap->imap_response, err);
}

enum e2_status
folders_fsync_dir(const char *path, struct e2_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;

		if (fd >= 0)
			(void)close(fd);
		return e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			       strerror(e));
	}
	(void)close(fd);
	return E2_OK;
}

bool
folders_conn_lost(struct folders_run *fr, int code)
{
	struct e2_err *te = chain_session_err(fr->sess);

	return code == MAILIMAP_ERROR_STREAM || code == MAILIMAP_ERROR_PARSE ||
	       (te != NULL && te->code != E2_OK);
}

bool
folders_list_flag(const struct mailimap_mailbox_list *mb, const char *ext)
{
	struct mailimap_mbx_list_flags *fl = mb->mb_flag;

	if (fl == NULL)
		return false;
	if (strcasecmp(ext, "Noselect") == 0 &&
	    fl->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
	    fl->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
		return true;
	for (clistiter *it = clist_begin(fl->mbf_oflags); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_mbx_list_oflag *of = clist_content(it);

		if (of->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT &&
		    of->of_flag_ext != NULL &&
		    strcasecmp(of->of_flag_ext, ext) == 0)
			return true;
	}
	return false;
}

bool
folders_selectable(const struct mailimap_mailbox_list *mb)
{
	return mb->mb_name != NULL && !folders_list_flag(mb, "Noselect") &&
	       !folders_list_flag(mb, "NonExistent");
}

struct mailimap_mailbox_list *
folders_list_find(clist *list, const char *name)
{
	for (clistiter *it = clist_begin(list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (mb->mb_name != NULL && strcmp(mb->mb_name, name) == 0)
			return mb;
	}
	return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static void
folders_read_caps(struct folders_run *fr)
{
	struct mailimap_connection_info *ci = fr->imap->imap_connection_info;

	if (ci == NULL || ci->imap_capability == NULL)
		return;
	for (clistiter *it = clist_begin(ci->imap_capability->cap_list);
	     it != NULL; it = clist_next(it)) {
		struct mailimap_capability *cap = clist_content(it);

		if (cap->cap_type != MAILIMAP_CAPABILITY_NAME ||
		    cap->cap_data.cap_name == NULL)
			continue;
		if (strcasecmp(cap->cap_data.cap_name, "CREATE-SPECIAL-USE") ==
		    0)
			fr->create_special_use = true;
		else if (strcasecmp(cap->cap_data.cap_name, "NAMESPACE") == 0)
			fr->has_namespace = true;
	}
	/*
	 * RFC 6855: names are UTF-8 only once the client sent ENABLE
	 * UTF8=ACCEPT, which this session never does (libetpan reads names
	 * as modified UTF-7 bytes): fr->utf8 stays false.
	 */
}

/*
 * The personal namespace's prefix (RFC 2342), when the server offers
 * NAMESPACE and the first personal namespace has one: printable ASCII of
 * at most 64 bytes ending in its separator, no wildcard (server bytes:
 * anything else is not used). Dovecot's and most servers' is "".
 */
static enum e2_status
folders_read_namespace(struct folders_run *fr, struct e2_err *err)
{
	struct mailimap_namespace_data *ns = NULL;
	struct mailimap_namespace_info *info = NULL;
	enum e2_status rc = E2_OK;
	const char *p;
	size_t len;
	int code;

	if (!fr->has_namespace)
		return E2_OK;
	code = mailimap_namespace(fr->imap, &ns);
	if (code != MAILIMAP_NO_ERROR)
		return folders_conn_lost(fr, code)
			       ? folders_fail(fr, code, "NAMESPACE", err)
			       : E2_OK;
	if (ns->ns_personal != NULL && ns->ns_personal->ns_data_list != NULL &&
	    clist_begin(ns->ns_personal->ns_data_list) != NULL)
		info = clist_content(
			clist_begin(ns->ns_personal->ns_data_list));
	p = info != NULL ? info->ns_prefix : NULL;
	len = p != NULL ? strlen(p) : 0;
	if (len > 0 && len <= 64 && info->ns_delimiter != '\0' &&
	    p[len - 1] == info->ns_delimiter && strpbrk(p, "*%\"\\") == NULL) {
		bool ok = true;

		for (size_t i = 0; i < len; i++)
			ok = ok && p[i] > 0x20 && p[i] < 0x7f;
		if (ok) {
			fr->prefix = strdup(p);
			if (fr->prefix == NULL)
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
		}
	}
	mailimap_namespace_data_free(ns);
	return rc;
}

enum e2_status
folders_prefixed(const struct folders_run *fr, const char *name, char **out,
		 struct e2_err *err)
{
	size_t plen = fr->prefix != NULL ? strlen(fr->prefix) : 0;
	char *s;

	if (plen == 0 || strncasecmp(name, fr->prefix, plen) == 0 ||
	    (strlen(name) == plen - 1 &&
	     strncasecmp(name, fr->prefix, plen - 1) == 0))
		s = strdup(name); /* there already, or the prefix's own */
	else if (asprintf(&s, "%s%s", fr->prefix, name) < 0)
		s = NULL;
	if (s == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	*out = s;
	return E2_OK;
}

/*
 * The server's hierarchy separator for names we create: INBOX's, else
 * the first one LIST gives ('\0': a flat server).
 */
static char
folders_sep(clist *list)
{
	char any = '\0';

	for (clistiter *it = clist_begin(list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (mb->mb_name == NULL || mb->mb_delimiter == '\0')
			continue;
		if (strcasecmp(mb->mb_name, "INBOX") == 0)
			return mb->mb_delimiter;
		if (any == '\0')
			any = mb->mb_delimiter;
	}
	return any;
}

static void
folders_dirs_free(struct folders_run *fr)
{
	for (size_t i = 0; i < fr->ndirs; i++) {
		free(fr->dirs[i].dname);
		free(fr->dirs[i].path);
		free(fr->dirs[i].owner);
	}
	free(fr->dirs);
	fr->dirs = NULL;
	fr->ndirs = 0;
	free(fr->seen);
	fr->seen = NULL;
}

static int
folders_dir_cmp(const void *a, const void *b)
{
	const struct folders_dir *x = a, *y = b;

	return strcmp(x->dname, y->dname);
}

/* path is a real directory (not a symlink) with cur/ new/ tmp/ */
static bool
folders_is_maildir(const char *path)
{
	static const char *const subs[] = {"", "/cur", "/new", "/tmp"};
	char p[PATH_MAX];
	struct stat sb;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		int n = snprintf(p, sizeof(p), "%s%s", path, subs[i]);

		if (n < 0 || (size_t)n >= sizeof(p) || lstat(p, &sb) != 0 ||
		    !S_ISDIR(sb.st_mode))
			return false;
	}
	return true;
}

/* Every local folder directory of the root, sorted by name (parents
 * before their children: ".Work" < ".Work.Projects"). */
static enum e2_status
folders_scan(struct folders_run *fr, struct e2_err *err)
{
	const char *root = maildir_root(fr->c->md);
	enum e2_status rc = E2_OK;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	d = opendir(root);
	if (d == NULL)
		return e2_fail(err, E2_ESTORE, "open %s: %s", root,
			       strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct folders_dir fd = {0};
		bool found = false;

		if (!imap_names_dir_is_folder(de->d_name))
			continue;
		if (asprintf(&fd.path, "%s/%s", root, de->d_name) < 0) {
			fd.path = NULL;
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			break;
		}
		if (!folders_is_maildir(fd.path)) {
			free(fd.path);
			continue;
		}
		fd.dname = strdup(de->d_name);
		rc = fd.dname == NULL ? e2_fail(err, E2_ENOMEM, "out of memory")
				      : maildir_folder_owner(fd.path, &found,
							     &fd.owner, err);
		if (rc == E2_OK && fr->ndirs == cap) {
			struct folders_dir *v;

			cap = cap == 0 ? 16 : cap * 2;
			v = realloc(fr->dirs, cap * sizeof(*v));
			if (v == NULL)
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
			else
				fr->dirs = v;
		}
		if (rc != E2_OK) {
			free(fd.dname);
			free(fd.path);
			free(fd.owner);
			break;
		}
		if (!found) {
			fd.owner = NULL;
		} else {
			char op[PATH_MAX];
			struct stat sb;

			if (snprintf(op, sizeof(op), "%s/%s", fd.path,
				     MAILDIR_OWNER_FILE) < (int)sizeof(op) &&
			    lstat(op, &sb) == 0)
				fd.owner_ctime = sb.st_ctim;
		}
		fr->dirs[fr->ndirs++] = fd;
	}
	(void)closedir(d);
	if (rc == E2_OK && fr->ndirs > 1)
		qsort(fr->dirs, fr->ndirs, sizeof(*fr->dirs), folders_dir_cmp);
	return rc;
}

/* Marks the LIST entry name as held by a local folder (for F4). */
static void
folders_mark_seen(struct folders_run *fr, const char *name)
{
	size_t i = 0;

	for (clistiter *it = clist_begin(fr->list); it != NULL;
	     it = clist_next(it), i++) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (mb->mb_name != NULL && strcmp(mb->mb_name, name) == 0)
			fr->seen[i] = true;
	}
}

/* Is dname one of name's candidate directories (maildir.h)? */
static bool
folders_is_candidate(const char *dname, const char *name, char sep)
{
	for (unsigned n = 0; n < MAILDIR_CLAIM_TRIES; n++) {
		struct e2_err e = {0};
		char *cand = NULL;
		bool same;

		if (maildir_folder_candidate(name, sep, n, &cand, &e) != E2_OK)
			return false;
		same = strcmp(cand, dname) == 0;
		free(cand);
		if (same)
			return true;
	}
	return false;
}

/* A scanned directory other than d that may hold name: one that owns it,
 * or one of its candidates with no owner yet (the loop claims that). */
static const struct folders_dir *
folders_other_holder(const struct folders_run *fr, const struct folders_dir *d,
		     const char *name, char sep)
{
	for (size_t i = 0; i < fr->ndirs; i++) {
		const struct folders_dir *o = &fr->dirs[i];

		if (o == d)
			continue;
		if (o->owner != NULL
			    ? strcmp(o->owner, name) == 0
			    : folders_is_candidate(o->dname, name, sep))
			return o;
	}
	return NULL;
}

/* Was o's owner file written before d's (a copy's is newer: cp gives it a
 * new inode, whose ctime no one can set back)? Ties go by name. */
static bool
folders_older(const struct folders_dir *o, const struct folders_dir *d)
{
	if (o->owner_ctime.tv_sec != d->owner_ctime.tv_sec)
		return o->owner_ctime.tv_sec < d->owner_ctime.tv_sec;
	if (o->owner_ctime.tv_nsec != d->owner_ctime.tv_nsec)
		return o->owner_ctime.tv_nsec < d->owner_ctime.tv_nsec;
	return strcmp(o->dname, d->dname) < 0;
}

/*
 * d holds server folder mb (F6): when d is not one of the name's
 * candidates (".Entwürfe" for "Entw&APw-rfe"), the loop must find it
 * there: maildir_folder_alias(). When another directory holds the name
 * too (a "cp -r" of a folder copies its owner file), the one the loop
 * would take keeps it (a candidate, else the one whose owner file is
 * older: the original) and d is reported, not synced.
 */
static enum e2_status
folders_hold(struct folders_run *fr, struct folders_dir *d,
	     const struct mailimap_mailbox_list *mb, struct e2_err *err)
{
	const struct folders_dir *o;
	enum e2_status rc;
	char sep = mb->mb_delimiter;

	folders_mark_seen(fr, mb->mb_name);
	if (folders_is_candidate(d->dname, mb->mb_name, sep))
		return E2_OK;
	o = folders_other_holder(fr, d, mb->mb_name, sep);
	if (o != NULL && (d->owner == NULL || o->owner == NULL ||
			  folders_is_candidate(o->dname, mb->mb_name, sep) ||
			  folders_older(o, d))) {
		char qn[64], qo[64];

		(void)e2_quote(qn, sizeof(qn), mb->mb_name,
			       strlen(mb->mb_name));
		(void)e2_quote(qo, sizeof(qo), o->dname, strlen(o->dname));
		(void)e2_fail(err, E2_EINVAL,
			      "local folder names server folder \"%s\", which "
			      "\"%s\" holds: not synced",
			      qn, qo);
		sync_skip(fr->c, d->dname, 0, err);
		return E2_OK;
	}
	rc = maildir_folder_alias(fr->c->md, mb->mb_name, d->path, err);
	if (rc == E2_EINVAL) {
		sync_skip(fr->c, d->dname, 0, err);
		return E2_OK;
	}
	if (rc == E2_OK && d->owner == NULL) {
		d->owner = strdup(mb->mb_name);
		if (d->owner == NULL)
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
	}
	return rc;
}

/* ---- F1: create on the server --------------------------------------- */

enum e2_status
folders_subscribe(struct folders_run *fr, const char *name, struct e2_err *err)
{
	int code = mailimap_subscribe(fr->imap, name);

	/* as Thunderbird does, so webmail shows the folder; a refusal only
	 * leaves it unsubscribed (a kill between CREATE and SUBSCRIBE too) */
	if (code != MAILIMAP_NO_ERROR && folders_conn_lost(fr, code))
		return folders_fail(fr, code, "SUBSCRIBE", err);
	return E2_OK;
}

static size_t folders_count_entries(const char *path, const char *sub);

static enum e2_status
folders_create(struct folders_run *fr, struct folders_dir *d, const char *name,
	       struct e2_err *err)
{
	struct sync_ctx *c = fr->c;
	enum e2_status rc;
	int code;

	if (c->o.dry_run) { /* issue 9: shown, and its files uploaded */
		size_t nc = folders_count_entries(d->path, "cur");
		size_t nn = folders_count_entries(d->path, "new");
		char qn[128], detail[192];

		(void)e2_quote(qn, sizeof(qn), d->dname, strlen(d->dname));
		(void)snprintf(detail, sizeof(detail),
			       "%s, then %zu message%s uploaded", qn,
			       nc == SIZE_MAX || nn == SIZE_MAX ? 0 : nc + nn,
			       nc + nn == 1 ? "" : "s");
		sync_preview(c, name, "create-folder", 1, 0, detail);
		return E2_OK;
	}
	/* a new server folder starts with no state (an old one of the same
	 * name left rows whose files are gone) */
	rc = syncstate_folder_delete(c->ss, name, err);
	if (rc != E2_OK)
		return rc;
	code = mailimap_create(fr->imap, name);
	if (code != MAILIMAP_NO_ERROR) {
		if (folders_conn_lost(fr, code))
			return folders_fail(fr, code, "CREATE", err);
		/* CREATE NO (a name the server refuses): kept locally */
		(void)folders_fail(fr, code, "CREATE", err);
		sync_skip(c, d->dname, 0, err);
		return E2_OK;
	}
	fr->created = true;
	c->stats->folders_created++;
	rc = folders_subscribe(fr, name, err);
	if (rc != E2_OK)
		return rc;
	/* after CREATE: a kill before this line is adopted next time (F6) */
	rc = maildir_folder_alias(c->md, name, d->path, err);
	if (rc == E2_EINVAL) {
		sync_skip(c, d->dname, 0, err);
		return E2_OK;
	}
	if (rc == E2_OK && d->owner == NULL) {
		d->owner = strdup(name);
		if (d->owner == NULL)
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
	}
	return rc;
}

/* ---- F2 / F3: the server folder is gone ----------------------------- */

static unsigned
folders_sfr(const char *flags)
{
	unsigned m = 0;

	if (strchr(flags, 'S') != NULL)
		m |= RECONCILE_FLAG_SEEN;
	if (strchr(flags, 'F') != NULL)
		m |= RECONCILE_FLAG_FLAGGED;
	if (strchr(flags, 'R') != NULL)
		m |= RECONCILE_FLAG_ANSWERED;
	return m;
}

/* Entries of path/sub that are not "." or ".."; SIZE_MAX when unreadable */
static size_t
folders_count_entries(const char *path, const char *sub)
{
	char p[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (snprintf(p, sizeof(p), "%s/%s", path, sub) >= (int)sizeof(p))
		return SIZE_MAX;
	d = opendir(p);
	if (d == NULL)
		return SIZE_MAX;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

/*
 * Files of d that have not reached the server: every file but those
 * whose tag names a state row of the folder (uidvalidity, uid and unique
 * name) with the synced flags unchanged; anything in tmp/ counts too.
 */
static enum e2_status
folders_unsynced(struct folders_run *fr, const struct folders_dir *d,
		 const struct syncstate_folder *fs,
		 const struct maildir_snapshot *snap, size_t *unsynced_out,
		 struct e2_err *err)
{
	size_t n = folders_count_entries(d->path, "tmp");
	enum e2_status rc;

	if (n == SIZE_MAX)
		n = 1;
	for (size_t i = 0; i < snap->n; i++) {
		const struct maildir_file *lf = &snap->v[i];
		struct reconcile_tag t;
		struct syncstate_msg m;
		bool found = false;

		if (!reconcile_tag_parse(lf->tag, &t) ||
		    t.uidvalidity != fs->uidvalidity) {
			n++;
			continue;
		}
		rc = syncstate_msg_get_uid(fr->c->ss, d->owner, t.uid, &found,
					   &m, err);
		if (rc != E2_OK)
			return rc;
		if (!found || strcmp(m.local_name, lf->uniq) != 0 ||
		    folders_sfr(m.flags) != folders_sfr(lf->flags))
			n++;
	}
	*unsynced_out = n;
	return E2_OK;
}

/* files another program keeps in a folder directory, removed with it */
static bool
folders_known_extra(const char *name)
{
	return strcmp(name, MAILDIR_OWNER_FILE) == 0 ||
	       strcmp(name, "maildirfolder") == 0 ||
	       strncmp(name, "dovecot-", 8) == 0 ||
	       strncmp(name, "dovecot.", 8) == 0;
}

/* F2: see the header for the order */
static enum e2_status
folders_remove_local(struct folders_run *fr, const struct folders_dir *d,
		     const struct maildir_snapshot *snap, struct e2_err *err)
{
	static const char *const subs[] = {"new", "cur", "tmp"};
	struct sync_ctx *c = fr->c;
	char p[PATH_MAX];
	struct dirent *de;
	enum e2_status rc;
	DIR *dir;

	for (size_t i = 0; i < snap->n; i++) {
		rc = maildir_remove(d->path, snap->v[i].sub, snap->v[i].name,
				    err);
		if (rc != E2_OK)
			return rc;
		c->stats->removed_local++;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		(void)snprintf(p, sizeof(p), "%s/%s", d->path, subs[i]);
		if (rmdir(p) != 0 && errno != ENOENT) {
			/* a file arrived meanwhile: the folder stays */
			(void)e2_fail(err, E2_ESTORE,
				      "server folder is gone; rmdir %s: %s: "
				      "local folder kept",
				      p, strerror(errno));
			sync_skip(c, d->owner, 0, err);
			return E2_OK;
		}
	}
	rc = syncstate_folder_delete(c->ss, d->owner, err);
	if (rc != E2_OK)
		return rc;
	dir = opendir(d->path);
	if (dir != NULL) {
		int dfd = dirfd(dir);

		while ((de = readdir(dir)) != NULL)
			if (folders_known_extra(de->d_name))
				(void)unlinkat(dfd, de->d_name, 0);
		(void)closedir(dir);
	}
	if (rmdir(d->path) != 0) {
		(void)e2_fail(err, E2_ESTORE,
			      "server folder is gone; its mail is removed "
			      "locally, but %s holds other files: kept",
			      d->path);
		sync_skip(c, d->owner, 0, err);
		return E2_OK;
	}
	c->stats->folders_removed++;
	return folders_fsync_dir(maildir_root(c->md), err);
}

/* A directory whose owner is not in LIST: F1 again, F2 or F3. */
static enum e2_status
folders_server_gone(struct folders_run *fr, struct folders_dir *d,
		    struct e2_err *err)
{
	struct reconcile_folder_state st = {.local_exists = true};
	struct maildir_snapshot snap = {0};
	struct syncstate_folder fs;
	enum e2_status rc;

	rc = syncstate_folder_get(fr->c->ss, d->owner, &st.synced_before, &fs,
				  err);
	if (rc != E2_OK)
		return rc;
	if (st.synced_before) {
		rc = maildir_snapshot(d->path, "U", &snap, err);
		if (rc == E2_OK)
			rc = folders_unsynced(fr, d, &fs, &snap, &st.unsynced,
					      err);
		if (rc != E2_OK)
			goto out;
	}
	switch (reconcile_folder_decide(&st)) {
	case RECONCILE_FOLDER_CREATE_SERVER:
		/* never synced under this name: the user's folder */
		rc = folders_create(fr, d, d->owner, err);
		break;
	case RECONCILE_FOLDER_REMOVE_LOCAL:
		if (fr->c->o.dry_run)
			sync_preview(fr->c, d->owner, "remove-folder", 1, 0,
				     "the server folder is gone");
		else
			rc = folders_remove_local(fr, d, &snap, err);
		break;
	case RECONCILE_FOLDER_KEEP_REPORT: {
		char qd[64];

		(void)e2_quote(qd, sizeof(qd), d->dname, strlen(d->dname));
		(void)e2_fail(err, E2_EINVAL,
			      "server folder is gone; local folder \"%s\" "
			      "kept: %zu message%s not on the server",
			      qd, st.unsynced, st.unsynced == 1 ? "" : "s");
		sync_skip(fr->c, d->owner, 0, err);
		break;
	}
	default:
		break;
	}
out:
	maildir_snapshot_free(&snap);
	return rc;
}

/* One local folder directory (see the header). */
static enum e2_status
folders_local(struct folders_run *fr, struct folders_dir *d, struct e2_err *err)
{
	struct mailimap_mailbox_list *mb;
	struct reconcile_folder_state st = {.local_exists = true};
	enum e2_status rc;
	char *name = NULL;

	if (d->owner != NULL) {
		mb = folders_list_find(fr->list, d->owner);
		if (mb != NULL && fr->c->o.dry_run)
			return E2_OK;
		if (mb != NULL)
			return folders_hold(fr, d, mb, err);
		return folders_server_gone(fr, d, err);
	}
	/* the old send queue (send.c, SEND_LEGACY) is no folder of the
	 * user's: never created on the server */
	if (strcmp(d->dname, ".Outbox") == 0)
		return E2_OK;
	rc = imap_names_from_dir(d->dname, fr->sep, fr->utf8, &name, err);
	if (rc == E2_EINVAL) {
		/* cannot be spelt on this server: reported, kept */
		sync_skip(fr->c, d->dname, 0, err);
		return E2_OK;
	}
	if (rc == E2_OK && fr->prefix != NULL &&
	    folders_list_find(fr->list, name) == NULL) {
		char *full = NULL;

		/* .Work is INBOX.Work where new folders live below INBOX. */
		rc = folders_prefixed(fr, name, &full, err);
		free(name);
		name = full;
	}
	if (rc != E2_OK)
		return rc;
	mb = folders_list_find(fr->list, name);
	if (mb == NULL && fr->sent != NULL && strcmp(name, fr->sent) == 0) {
		/* created as the Sent folder this run: the loop claims it */
		free(name);
		return E2_OK;
	}
	if (mb == NULL && fr->sent != NULL && strcasecmp(name, "Sent") == 0) {
		/* the local-only .Sent of older versions (or a user's): the
		 * server files sent mail elsewhere, a second Sent folder
		 * would split it; the user is told where to move it */
		char qs[64];

		(void)e2_quote(qs, sizeof(qs), fr->sent, strlen(fr->sent));
		(void)e2_fail(err, E2_EINVAL,
			      "not created: the server's Sent folder is "
			      "\"%s\"; move these messages there",
			      qs);
		sync_skip(fr->c, d->dname, 0, err);
		free(name);
		return E2_OK;
	}
	st.server_exists = mb != NULL;
	switch (reconcile_folder_decide(&st)) {
	case RECONCILE_FOLDER_SYNC:    /* F6: made before its first sync */
		if (!fr->c->o.dry_run) /* it writes the owner file */
			rc = folders_hold(fr, d, mb, err);
		break;
	case RECONCILE_FOLDER_CREATE_SERVER: /* F1 */
		rc = folders_create(fr, d, name, err);
		break;
	default:
		break;
	}
	free(name);
	return rc;
}

/*
 * F4: a server folder with sync state and no local folder. Its rows name
 * files the user removed with the folder: dropped, so the loop downloads
 * it again instead of reading them as local deletes.
 */
static enum e2_status
folders_local_gone(struct folders_run *fr, struct e2_err *err)
{
	size_t i = 0;

	for (clistiter *it = clist_begin(fr->list); it != NULL;
	     it = clist_next(it), i++) {
		struct mailimap_mailbox_list *mb = clist_content(it);
		struct syncstate_folder fs;
		bool found = false;
		char *dir = NULL;
		char p[PATH_MAX];
		struct stat sb;
		enum e2_status rc;

		if (fr->seen[i] || !folders_selectable(mb) ||
		    strcasecmp(mb->mb_name, "INBOX") == 0)
			continue;
		rc = syncstate_folder_get(fr->c->ss, mb->mb_name, &found, &fs,
					  err);
		if (rc != E2_OK)
			return rc;
		if (!found)
			continue;
		/* a directory made before owner files (no owner, not a
		 * folder of ours by the scan's rules) is not "gone" */
		if (maildir_folder_encode(mb->mb_name, mb->mb_delimiter, &dir,
					  err) == E2_OK) {
			int n = snprintf(p, sizeof(p), "%s/%s",
					 maildir_root(fr->c->md), dir);

			free(dir);
			if (n > 0 && (size_t)n < sizeof(p) &&
			    lstat(p, &sb) == 0)
				continue;
		}
		memset(err, 0, sizeof(*err));
		if (fr->c->o.dry_run) /* shown by the loop: a download */
			continue;
		rc = syncstate_folder_delete(fr->c->ss, mb->mb_name, err);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

static enum e2_status
folders_relist(struct folders_run *fr, clist **list, struct e2_err *err)
{
	clist *fresh = NULL;
	int code;

	code = mailimap_list(fr->imap, "", "*", &fresh);
	if (code != MAILIMAP_NO_ERROR)
		return folders_fail(fr, code, "LIST", err);
	mailimap_list_result_free(*list);
	*list = fresh;
	fr->list = fresh;
	return E2_OK;
}

enum e2_status
sync_imap_folders(struct sync_ctx *c, mailimap *imap,
		  struct chain_session *sess, clist **list, struct e2_err *err)
{
	struct folders_run fr = {.c = c, .imap = imap, .sess = sess};
	enum e2_status rc;

	fr.list = *list;
	folders_read_caps(&fr);
	fr.sep = folders_sep(fr.list);
	rc = folders_read_namespace(&fr, err);
	if (rc != E2_OK)
		return rc;
	fr.seen = calloc((size_t)clist_count(fr.list) + 1, sizeof(*fr.seen));
	if (fr.seen == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = folders_scan(&fr, err);
	/* the Sent folder first: F1 must not make a second one (a dry run
	 * neither creates it nor moves staged copies, issue 9) */
	if (rc == E2_OK && !sync_stopping(c) && !c->o.dry_run)
		rc = sync_imap_sent(&fr, err);
	for (size_t i = 0; rc == E2_OK && i < fr.ndirs && !sync_stopping(c);
	     i++)
		rc = folders_local(&fr, &fr.dirs[i], err);
	if (rc == E2_OK && !sync_stopping(c))
		rc = folders_local_gone(&fr, err);
	if (rc == E2_OK && fr.created)
		rc = folders_relist(&fr, list, err);
	if (rc == E2_OK && !sync_stopping(c) && !c->o.dry_run)
		rc = sync_imap_sent_drain(&fr, err);
	free(fr.sent);
	free(fr.prefix);
	folders_dirs_free(&fr);
	return rc;
}
