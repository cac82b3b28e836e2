/* SPDX-License-Identifier: MIT */
/* sync_full.c -- fetching the whole message later (RETRIEVE, KEEPMAX) */
#include "config.h"

#include "sync_full.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Rules (decisions written here):
 *
 * The file: a path must name <root>/cur/F, <root>/new/F or the same under
 * a folder directory "<root>/.Name" of the account's Maildir (symbolic
 * links resolved); a bare name is looked up in the root and in every
 * ".Name" directory. Only the unique name counts (the part before ":2,"),
 * so a file whose flags changed since it was named is still found. Its
 * state row: POP3, folder "" by local name; IMAP, the folder name decoded
 * from the directory (with the separators '/', '.' and '\\' tried in turn,
 * the one with a row wins: the state keys folders by the server's name).
 * A row neither partial nor omitted: E2_EINVAL "message is complete
 * already", no connection made.
 *
 * The replacement, in this order:
 *   1. the whole message goes through a Maildir batch into the same
 *      sub-directory (new/, or cur/ with the file's current flags: local
 *      flag changes not synced yet are kept) with the sync's tag, and the
 *      batch commits: the new file is durable;
 *   2. one store transaction points the row at the new file, clears
 *      partial and omitted, and records the size; the row's flags (the
 *      last synced ones) stay, so the next sync still pushes local flag
 *      changes;
 *   3. the old file is removed.
 * At every moment one copy is in the Maildir. A crash between 1 and 2
 * leaves the new file beside the old one, which its row still names; a
 * crash between 2 and 3 leaves the old one beside the new one. Either way
 * the extra file carries the tag of a UID (UIDL) whose row names another
 * file that exists: the next sync removes such copies (folder_drop_copies()
 * in sync_imap.c, pop3_drop_copies() in sync_pop3.c). So the message is
 * either whole (crash after 2) or still partial (crash before 2, fetch it
 * again), never lost and never twice. If step 2 fails, the new file is
 * removed again.
 *
 * Nothing changes on the server: IMAP EXAMINEs the folder and fetches with
 * BODY.PEEK[], POP3 only RETRs. The account is not locked: do not run this
 * while a sync of the same account runs.
 */

#define FULL_DEFAULT_TIMEOUT_MS 30000u
#define FULL_SEPARATORS "/.\\"

struct full_job {
	struct sync_ctx *c;
	char *folder;    /* the state's folder name ("" for POP3) */
	char *path;      /* the folder's absolute path */
	const char *sub; /* the old file's "new" or "cur" (static) */
	char *name;      /* the old file's name in sub/ */
	char flags[MAILDIR_FLAGS_MAX]; /* the old file's flags */
	struct syncstate_msg row;
	char *written; /* the whole message's file, once stored */
};

static enum e2_status
full_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

static char *
full_join(const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 2;
	char *p = malloc(len);

	if (p != NULL)
		(void)snprintf(p, len, b[0] != '\0' ? "%s/%s" : "%s", a, b);
	return p;
}

/*
 * The folder directory ("" or ".Name") of the path dir (which holds
 * cur/new), or false when dir is not a folder of root.
 */
static bool
full_folder_dir(const char *root_real, const char *dir, const char **rel_out,
		char **real_out)
{
	char *real = realpath(dir, NULL);
	size_t n = strlen(root_real);
	const char *rel;

	*real_out = real;
	if (real == NULL || strncmp(real, root_real, n) != 0)
		return false;
	rel = real + n;
	if (rel[0] == '\0') {
		*rel_out = rel;
		return true;
	}
	if (rel[0] != '/' || rel[1] != '.' || rel[2] == '\0' ||
	    strchr(rel + 1, '/') != NULL || strcmp(rel + 1, "..") == 0)
		return false;
	*rel_out = rel + 1;
	return true;
}

/* Is the message uniq in folder_path? Fills the job's file fields. */
static enum e2_status
full_locate(struct full_job *j, const char *folder_path, const char *uniq,
	    const char *hint, bool *found_out, struct e2_err *err)
{
	const char *sub = NULL;
	char *name = NULL;
	size_t ulen;
	enum e2_status rc;

	rc = maildir_locate(folder_path, uniq, hint, found_out, &sub, &name,
			    err);
	if (rc != E2_OK || !*found_out)
		return rc;
	j->path = strdup(folder_path);
	if (j->path == NULL) {
		free(name);
		return full_oom(err);
	}
	j->sub = sub;
	j->name = name;
	maildir_name_parse(name, &ulen, j->flags);
	return E2_OK;
}

/* A bare name: the root first, then every ".Name" directory. */
static enum e2_status
full_search(struct full_job *j, const char *root, const char *uniq,
	    const char *hint, char **dir_out, struct e2_err *err)
{
	DIR *d = NULL;
	struct dirent *de;
	bool found = false;
	enum e2_status rc;

	rc = full_locate(j, root, uniq, hint, &found, err);
	if (rc != E2_OK)
		return rc;
	if (found) {
		*dir_out = strdup("");
		return *dir_out != NULL ? E2_OK : full_oom(err);
	}
	d = opendir(root);
	if (d == NULL)
		return e2_fail(err, E2_ESTORE, "cannot read %s", root);
	while (!found && (de = readdir(d)) != NULL) {
		char *path;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		path = full_join(root, de->d_name);
		if (path == NULL) {
			rc = full_oom(err);
			break;
		}
		rc = full_locate(j, path, uniq, hint, &found, err);
		free(path);
		if (rc != E2_OK)
			break;
		if (found) {
			*dir_out = strdup(de->d_name);
			if (*dir_out == NULL)
				rc = full_oom(err);
		}
	}
	(void)closedir(d);
	if (rc == E2_OK && !found)
		rc = e2_fail(err, E2_EINVAL,
			     "no message file %s in the account's Maildir",
			     uniq);
	return rc;
}

/* The state row of uniq in the folder directory dir. */
static enum e2_status
full_row(struct full_job *j, const char *dir, const char *uniq,
	 struct e2_err *err)
{
	struct sync_ctx *c = j->c;
	bool found = false;
	enum e2_status rc;

	if (c->a->service == E2_SERVICE_POP3) {
		if (dir[0] != '\0')
			return e2_fail(err, E2_EINVAL,
				       "%s: a POP3 account keeps its mail in "
				       "the Maildir root",
				       uniq);
		j->folder = strdup("");
		if (j->folder == NULL)
			return full_oom(err);
		rc = syncstate_msg_get_local(c->ss, "", uniq, &found, &j->row,
					     err);
	} else {
		char *owner = NULL;
		bool owned = false;

		/* the directory's recorded owner (maildir_folder_claim());
		 * a directory from before owners were recorded is decoded */
		rc = maildir_folder_owner(j->path, &owned, &owner, err);
		if (rc != E2_OK)
			return rc;
		if (owned) {
			rc = syncstate_msg_get_local(c->ss, owner, uniq, &found,
						     &j->row, err);
			if (rc != E2_OK || !found) {
				free(owner);
				return rc != E2_OK
					       ? rc
					       : e2_fail(err, E2_EINVAL,
							 "%s: no sync state "
							 "for this message "
							 "(not downloaded by "
							 "email2-syncd?)",
							 uniq);
			}
			j->folder = owner;
			return E2_OK;
		}
		for (const char *s = FULL_SEPARATORS; *s != '\0' && !found;
		     s++) {
			struct e2_err ignored = {0};
			char *name = NULL;

			if (maildir_folder_decode(dir, *s, &name, &ignored) !=
			    E2_OK)
				continue;
			rc = syncstate_msg_get_local(c->ss, name, uniq, &found,
						     &j->row, err);
			if (rc != E2_OK || !found) {
				free(name);
				if (rc != E2_OK)
					return rc;
				continue;
			}
			j->folder = name;
		}
		rc = E2_OK;
	}
	if (rc == E2_OK && !found)
		rc = e2_fail(err, E2_EINVAL,
			     "%s: no sync state for this message (not "
			     "downloaded by email2-syncd?)",
			     uniq);
	return rc;
}

/* Finds the file, its folder and its row. */
static enum e2_status
full_find(struct full_job *j, const char *root, const char *file,
	  struct e2_err *err)
{
	const char *base = strrchr(file, '/');
	char hint[MAILDIR_FLAGS_MAX];
	char *uniq = NULL, *dir = NULL, *root_real = NULL, *real = NULL;
	size_t ulen;
	enum e2_status rc = E2_OK;

	base = base != NULL ? base + 1 : file;
	maildir_name_parse(base, &ulen, hint);
	if (ulen == 0) {
		rc = e2_fail(err, E2_EINVAL, "\"%s\": not a message file",
			     file);
		goto out;
	}
	uniq = strndup(base, ulen);
	if (uniq == NULL) {
		rc = full_oom(err);
		goto out;
	}
	if (base == file) {
		rc = full_search(j, root, uniq, hint, &dir, err);
	} else {
		/* <folder>/{cur,new}/<name> */
		size_t dlen = (size_t)(base - file) - 1;
		const char *rel = NULL;
		char *folder;
		bool found = false;

		while (dlen > 0 && file[dlen - 1] == '/')
			dlen--;
		if (dlen < 3 ||
		    (strncmp(file + dlen - 3, "cur", 3) != 0 &&
		     strncmp(file + dlen - 3, "new", 3) != 0) ||
		    (dlen > 3 && file[dlen - 4] != '/')) {
			rc = e2_fail(err, E2_EINVAL,
				     "\"%s\": not in a cur/ or new/ "
				     "directory",
				     file);
			goto out;
		}
		root_real = realpath(root, NULL);
		if (root_real == NULL) {
			rc = e2_fail(err, E2_ESTORE, "cannot resolve %s", root);
			goto out;
		}
		folder = dlen > 3 ? strndup(file, dlen - 4) : strdup(".");
		if (folder == NULL) {
			rc = full_oom(err);
			goto out;
		}
		if (!full_folder_dir(root_real,
				     folder[0] != '\0' ? folder : "/", &rel,
				     &real)) {
			free(folder);
			rc = e2_fail(err, E2_EINVAL,
				     "\"%s\": not in this account's Maildir "
				     "(%s)",
				     file, root);
			goto out;
		}
		free(folder);
		dir = strdup(rel);
		if (dir == NULL) {
			rc = full_oom(err);
			goto out;
		}
		rc = full_locate(j, real, uniq, hint, &found, err);
		if (rc == E2_OK && !found)
			rc = e2_fail(err, E2_EINVAL, "\"%s\": no such message",
				     file);
	}
	if (rc == E2_OK)
		rc = full_row(j, dir, uniq, err);
out:
	free(real);
	free(root_real);
	free(dir);
	free(uniq);
	return rc;
}

/* j->written: the path of the file of unique name uniq (issue 9: the tool
 * names the file it wrote) */
static enum e2_status
full_written(struct full_job *j, const char *uniq, struct e2_err *err)
{
	const char *sub = NULL;
	char *name = NULL, *dir = NULL;
	bool found = false;
	enum e2_status rc;

	rc = maildir_locate(j->path, uniq, j->flags, &found, &sub, &name, err);
	if (rc != E2_OK)
		return rc;
	if (!found) {
		free(name);
		return e2_fail(err, E2_ESTORE, "%s: stored file not found",
			       uniq);
	}
	dir = full_join(j->path, sub);
	j->written = dir != NULL ? full_join(dir, name) : NULL;
	free(dir);
	free(name);
	return j->written != NULL ? E2_OK : full_oom(err);
}

/* sync_full_fn: steps 1-3 of the header. */
static enum e2_status
full_store(void *ctx, const char *tag, const char *body, size_t len,
	   struct e2_err *err)
{
	struct full_job *j = ctx;
	struct sync_ctx *c = j->c;
	struct maildir_batch *b = NULL;
	struct syncstate_msg m = j->row;
	const char *uniq = NULL;
	bool committed = false;
	enum e2_status rc;

	rc = maildir_batch_begin(c->md, &b, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_put_mem(b, j->path,
			     strcmp(j->sub, "cur") == 0 ? j->flags : NULL, tag,
			     body, len, &uniq, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_batch_commit(b, err);
	if (rc != E2_OK)
		goto out;
	committed = true;
	if (snprintf(m.local_name, sizeof(m.local_name), "%s", uniq) >=
	    (int)sizeof(m.local_name)) {
		rc = e2_fail(err, E2_EINVAL, "maildir name too long");
		goto out;
	}
	m.partial = false;
	m.omitted = false;
	m.size = len;
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		goto out;
	rc = syncstate_msg_put(c->ss, j->folder, &m, err);
	if (rc != E2_OK) {
		store_rollback(c->st);
		goto out;
	}
	rc = store_commit(c->st, err);
	if (rc != E2_OK)
		goto out;
	committed = false; /* the row names it: keep the new file */
	rc = maildir_remove(j->path, j->sub, j->name, err);
	if (rc == E2_OK)
		rc = full_written(j, uniq, err);
out:
	if (committed) {
		/* the row still names the old file: the new one goes */
		const char *sub = NULL;
		char *name = NULL;
		bool found = false;
		struct e2_err ignored = {0};

		if (maildir_locate(j->path, uniq, j->flags, &found, &sub, &name,
				   &ignored) == E2_OK &&
		    found)
			(void)maildir_remove(j->path, sub, name, &ignored);
		free(name);
	}
	maildir_batch_free(&b);
	return rc;
}

enum e2_status
e2_sync_fetch_full(struct e2_store *st, const char *guid, const char *file,
		   const struct e2_sync_opts *opts, struct e2_err *err)
{
	return e2_sync_fetch_full_path(st, guid, file, opts, NULL, err);
}

enum e2_status
e2_sync_fetch_full_path(struct e2_store *st, const char *guid, const char *file,
			const struct e2_sync_opts *opts, char **path_out,
			struct e2_err *err)
{
	struct e2_account *a = NULL;
	struct e2_sync_stats stats = {0};
	struct sync_ctx c = {0};
	struct full_job j = {0};
	struct syncstate_folder sf = {0};
	char *root = NULL;
	bool found = false;
	int lock_fd = -1;
	enum e2_status rc;

	if (st == NULL || guid == NULL || file == NULL || file[0] == '\0') {
		rc = e2_fail(err, E2_EINVAL, "fetch-full: missing argument");
		goto out;
	}
	rc = e2_account_load(st, guid, &a, err);
	if (rc != E2_OK)
		goto out;
	rc = syncstate_new(store_db(st), a->guid, &c.ss, err);
	if (rc != E2_OK)
		goto out;
	if (opts != NULL) {
		c.o.cafile = opts->cafile;
		c.o.timeout_ms = opts->timeout_ms;
		c.o.trace = opts->trace;
	}
	if (c.o.timeout_ms == 0)
		c.o.timeout_ms = FULL_DEFAULT_TIMEOUT_MS;
	c.st = st;
	c.a = a;
	c.stats = &stats;
	c.now = time(NULL);
	/* the store and the account's Maildir are the user's own (store.h) */
	rc = sync_lock(st, a->guid, &lock_fd, err);
	if (rc != E2_OK)
		goto out;
	rc = store_account_dir(st, STORE_AREA_MAIL, a->guid, &root, err);
	if (rc != E2_OK)
		goto out;
	rc = maildir_open(root, &c.md, err);
	if (rc != E2_OK)
		goto out;
	j.c = &c;
	rc = full_find(&j, root, file, err);
	if (rc != E2_OK)
		goto out;
	if (!j.row.partial && !j.row.omitted) {
		rc = e2_fail(err, E2_EINVAL, "%s: message is complete already",
			     j.row.local_name);
		goto out;
	}
	if (a->service == E2_SERVICE_POP3) {
		rc = sync_pop3_fetch_whole(&c, j.row.uidl, full_store, &j, err);
	} else {
		rc = syncstate_folder_get(c.ss, j.folder, &found, &sf, err);
		if (rc == E2_OK && !found)
			rc = e2_fail(err, E2_EINVAL, "imap %s: no folder state",
				     j.folder);
		if (rc == E2_OK)
			rc = sync_imap_fetch_whole(&c, j.folder, j.row.uid,
						   sf.uidvalidity, full_store,
						   &j, err);
	}
	if (rc == E2_OK && path_out != NULL) {
		*path_out = j.written;
		j.written = NULL;
	}
out:
	if (lock_fd >= 0)
		(void)close(lock_fd);
	maildir_close(&c.md);
	syncstate_free(&c.ss);
	free(j.folder);
	free(j.path);
	free(j.name);
	free(j.written);
	free(root);
	e2_account_free(&a);
	return rc;
}
