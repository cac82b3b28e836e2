/* SPDX-License-Identifier: MIT */
/* sync_imap_sent.c -- the server's Sent folder and the sent-copy drain */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "outbox.h"
#include "store.h"
#include "sync_imap_folders_int.h"

/* The rules are in sync_imap_folders.h ("The Sent folder"). */

#define SENT_UNIQ_MAX 200

/* conventional names, in the documented order (case-insensitive) */
static const char *const sent_names[] = {"Sent", "Sent Items", "Sent Messages"};

/* The rank of mb's name in sent_names[] (+ INBOX<sep>Sent), or -1. */
static int
sent_rank(const struct mailimap_mailbox_list *mb)
{
	const char *n = mb->mb_name;
	size_t k = sizeof(sent_names) / sizeof(sent_names[0]);

	for (size_t i = 0; i < k; i++)
		if (strcasecmp(n, sent_names[i]) == 0)
			return (int)i;
	if (mb->mb_delimiter != '\0' && strncasecmp(n, "INBOX", 5) == 0 &&
	    n[5] == mb->mb_delimiter && strcasecmp(n + 6, "Sent") == 0)
		return (int)k;
	return -1;
}

static enum e2_status
sent_pick(struct folders_run *fr, struct e2_err *err)
{
	const struct mailimap_mailbox_list *best = NULL;
	int best_rank = INT_MAX;

	for (clistiter *it = clist_begin(fr->list); it != NULL;
	     it = clist_next(it)) {
		const struct mailimap_mailbox_list *mb = clist_content(it);
		int r;

		if (!folders_selectable(mb))
			continue;
		if (folders_list_flag(mb, "Sent")) {
			best = mb; /* RFC 6154: the attribute wins */
			break;
		}
		r = sent_rank(mb);
		if (r >= 0 && r < best_rank) {
			best = mb;
			best_rank = r;
		}
	}
	free(fr->sent);
	fr->sent = NULL;
	if (best == NULL)
		return E2_OK;
	fr->sent = strdup(best->mb_name);
	if (fr->sent == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	fr->sent_sep = best->mb_delimiter;
	return E2_OK;
}

/* The staging directory <queue>/.Sent into *path_out, or NULL when the
 * send path never made one. */
static enum e2_status
sent_stage_path(struct folders_run *fr, char **path_out, struct e2_err *err)
{
	struct sync_ctx *c = fr->c;
	char *queue = NULL, *path = NULL;
	enum e2_status rc;
	struct stat sb;

	*path_out = NULL;
	rc = outbox_open(c->st, c->a->guid, &queue, err);
	if (rc != E2_OK)
		return rc;
	if (asprintf(&path, "%s/%s", queue, OUTBOX_SENT_DIR) < 0) {
		free(queue);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	free(queue);
	if (lstat(path, &sb) != 0) {
		int e = errno;

		free(path);
		if (e == ENOENT)
			return E2_OK;
		return e2_fail(err, E2_ESTORE, "stat %s/%s: %s", "outbox",
			       OUTBOX_SENT_DIR, strerror(e));
	}
	if (!S_ISDIR(sb.st_mode)) { /* a symlink included: never followed */
		rc = e2_fail(err, E2_ESTORE,
			     "%s is not a directory: sent copies not filed",
			     path);
		free(path);
		return rc;
	}
	*path_out = path;
	return E2_OK;
}

/* Is a sent copy waiting in new/ or cur/ of the staging directory? */
static bool
sent_waiting(const char *stage)
{
	static const char *const subs[] = {"new", "cur"};

	for (size_t i = 0; i < 2; i++) {
		char p[PATH_MAX];
		struct dirent *de;
		bool any = false;
		DIR *d;

		if (snprintf(p, sizeof(p), "%s/%s", stage, subs[i]) >=
		    (int)sizeof(p))
			continue;
		d = opendir(p);
		if (d == NULL)
			continue;
		while (!any && (de = readdir(d)) != NULL)
			any = de->d_name[0] != '.';
		(void)closedir(d);
		if (any)
			return true;
	}
	return false;
}

static enum e2_status
sent_option_server(struct folders_run *fr, bool *server_out, struct e2_err *err)
{
	char *v = NULL;
	enum e2_status rc;

	rc = store_option_get(fr->c->st, fr->c->a->guid, STORE_OPT_SENT_COPY,
			      &v, err);
	if (rc != E2_OK)
		return rc;
	*server_out = strcmp(v, STORE_SENT_COPY_SERVER) == 0;
	free(v);
	return E2_OK;
}

/*
 * One command of constant text, as mailimap_custom_command() sends it but
 * without the space libetpan writes after the text (Gmail answers that
 * with BAD): tag, text, CRLF, then the tagged reply's state.
 */
static int
sent_raw_command(mailimap *imap, const char *text)
{
	struct mailimap_response *resp = NULL;
	int r, state = -1;

	r = mailimap_send_current_tag(imap);
	if (r != MAILIMAP_NO_ERROR)
		return r;
	if (mailstream_write(imap->imap_stream, text, strlen(text)) < 0 ||
	    mailstream_write(imap->imap_stream, "\r\n", 2) < 0 ||
	    mailstream_flush(imap->imap_stream) == -1 ||
	    mailimap_read_line(imap) == NULL)
		return MAILIMAP_ERROR_STREAM;
	r = mailimap_parse_response(imap, &resp);
	if (r != MAILIMAP_NO_ERROR)
		return r;
	if (resp->rsp_resp_done != NULL &&
	    resp->rsp_resp_done->rsp_type == MAILIMAP_RESP_DONE_TYPE_TAGGED &&
	    resp->rsp_resp_done->rsp_data.rsp_tagged != NULL &&
	    resp->rsp_resp_done->rsp_data.rsp_tagged->rsp_cond_state != NULL)
		state = resp->rsp_resp_done->rsp_data.rsp_tagged->rsp_cond_state
				->rsp_type;
	mailimap_response_free(resp);
	return state == MAILIMAP_RESP_COND_STATE_OK ? MAILIMAP_NO_ERROR
						    : MAILIMAP_ERROR_CREATE;
}

/*
 * CREATE "Sent" (under the personal namespace prefix, "INBOX.Sent" on a
 * server that keeps new folders below "INBOX."): with USE (\Sent) when
 * offered (RFC 6154 3), plain when that is refused. A kill after the
 * CREATE: the next run finds it by name.
 */
static enum e2_status
sent_create(struct folders_run *fr, struct e2_err *err)
{
	int code = MAILIMAP_ERROR_CREATE;
	char *name = NULL, cmd[128];
	enum e2_status rc;

	rc = folders_prefixed(fr, "Sent", &name, err);
	if (rc != E2_OK)
		return rc;
	if (fr->create_special_use) {
		/* the prefix is plain ASCII without '"' or '\\' (see
		 * folders_read_namespace()): safe in a quoted string */
		(void)snprintf(cmd, sizeof(cmd), "CREATE \"%s\" (USE (\\Sent))",
			       name);
		code = sent_raw_command(fr->imap, cmd);
		if (code != MAILIMAP_NO_ERROR && folders_conn_lost(fr, code)) {
			free(name);
			return folders_fail(fr, code, "CREATE (USE)", err);
		}
	}
	if (code != MAILIMAP_NO_ERROR)
		code = mailimap_create(fr->imap, name);
	if (code != MAILIMAP_NO_ERROR) {
		rc = folders_conn_lost(fr, code)
			     ? folders_fail(fr, code, "CREATE", err)
			     : E2_OK;
		if (rc == E2_OK) {
			(void)folders_fail(fr, code, "CREATE", err);
			sync_skip(fr->c, name, 0, err);
		}
		free(name);
		return rc;
	}
	fr->created = true;
	fr->sent = name;
	fr->sent_sep = fr->sep;
	return folders_subscribe(fr, name, err);
}

enum e2_status
sync_imap_sent(struct folders_run *fr, struct e2_err *err)
{
	char *stage = NULL;
	bool server = false;
	enum e2_status rc;

	rc = sent_pick(fr, err);
	if (rc != E2_OK || fr->sent != NULL)
		return rc;
	/* none: created only for a copy we are to upload */
	rc = sent_stage_path(fr, &stage, err);
	if (rc == E2_OK && stage != NULL)
		rc = sent_option_server(fr, &server, err);
	if (rc == E2_OK && stage != NULL && !server && sent_waiting(stage))
		rc = sent_create(fr, err);
	free(stage);
	if (rc == E2_ESTORE) {
		sync_skip(fr->c, "Sent", 0, err);
		rc = E2_OK;
	}
	return rc;
}

/* ---- the drain ------------------------------------------------------------
 */

/*
 * The staged name's unique part is kept when it is plain: no leading
 * dot, [A-Za-z0-9._-] and ",S=<size>" fields only, the size true (a name
 * with another field, e.g. a U= tag, would read as synced mail).
 */
static bool
sent_uniq_safe(const char *uniq, size_t len, off_t size)
{
	char want[32];
	size_t wl;

	if (len == 0 || len > SENT_UNIQ_MAX || uniq[0] == '.')
		return false;
	wl = (size_t)snprintf(want, sizeof(want), ",S=%lld", (long long)size);
	for (size_t i = 0; i < len; i++) {
		char ch = uniq[i];

		if (ch == ',') {
			if (len - i < wl || memcmp(uniq + i, want, wl) != 0 ||
			    (len - i > wl && uniq[i + wl] != ','))
				return false;
			i += wl - 1;
			continue;
		}
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* A fresh unique name (maildir.h's shape, host "email2-sent"). */
static void
sent_uniq_fresh(char *out, size_t cap, off_t size)
{
	static unsigned counter;
	struct timeval tv;

	(void)gettimeofday(&tv, NULL);
	(void)snprintf(out, cap, "%lld.M%06ldP%ldQ%u.email2-sent,S=%lld",
		       (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		       counter++, (long long)size);
}

struct sent_drain {
	struct folders_run *fr;
	const char *target; /* the Sent mirror's folder path */
	int cur_fd;         /* its cur/ */
	bool server;        /* sent-copy=server: drop */
	size_t moved, dropped;
};

/* One staged file sdfd/name; see the header for the order. */
static enum e2_status
sent_drain_one(struct sent_drain *sd, int sdfd, const char *name,
	       struct e2_err *err)
{
	char flags[MAILDIR_FLAGS_MAX], uniq[SENT_UNIQ_MAX + 64];
	char dst[SENT_UNIQ_MAX + 80];
	char qn[96];
	struct stat sb;
	size_t ulen;

	/* the name was written by another program: quoted in messages */
	(void)e2_quote(qn, sizeof(qn), name, strlen(name));
	if (fstatat(sdfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return e2_fail(err, E2_ESTORE, "stat staged copy \"%s\": %s",
			       qn, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return e2_fail(err, E2_EINVAL,
			       "staged copy \"%s\" is not a regular file: left",
			       qn);
	if (sd->server) {
		if (unlinkat(sdfd, name, 0) != 0)
			return e2_fail(err, E2_ESTORE,
				       "remove staged copy \"%s\": %s", qn,
				       strerror(errno));
		sd->dropped++;
		sd->fr->c->stats->sent_dropped++;
		return E2_OK;
	}
	if ((unsigned long long)sb.st_size > SYNC_SENT_MAX_BYTES)
		return e2_fail(
			err, E2_EINVAL,
			"staged copy \"%s\" has %lld bytes, over %u: left", qn,
			(long long)sb.st_size, SYNC_SENT_MAX_BYTES);
	maildir_name_parse(name, &ulen, flags);
	if (sent_uniq_safe(name, ulen, sb.st_size)) {
		memcpy(uniq, name, ulen);
		uniq[ulen] = '\0';
	} else {
		sent_uniq_fresh(uniq, sizeof(uniq), sb.st_size);
	}
	for (int tries = 0; tries < 4; tries++) {
		bool found = true;
		const char *sub;
		char *other = NULL;
		enum e2_status rc;

		rc = maildir_locate(sd->target, uniq, "S", &found, &sub, &other,
				    err);
		free(other);
		if (rc != E2_OK)
			return rc;
		if (!found) {
			(void)snprintf(dst, sizeof(dst), "%s:2,S", uniq);
			/* never over another file (a name taken meanwhile);
			 * a file system without RENAME_NOREPLACE gets a plain
			 * rename: the name was free just now, and the account
			 * lock keeps other syncs out */
			int r = renameat2(sdfd, name, sd->cur_fd, dst,
					  RENAME_NOREPLACE);

			if (r != 0 && (errno == EINVAL || errno == ENOSYS))
				r = renameat(sdfd, name, sd->cur_fd, dst);
			if (r == 0) {
				sd->moved++;
				sd->fr->c->stats->sent_filed++;
				return E2_OK;
			}
			if (errno != EEXIST)
				return e2_fail(err, E2_ESTORE,
					       "move staged copy \"%s\" into "
					       "%s: %s",
					       qn, sd->target, strerror(errno));
		}
		sent_uniq_fresh(uniq, sizeof(uniq), sb.st_size);
	}
	return e2_fail(err, E2_ESTORE, "no free name for staged copy \"%s\"",
		       qn);
}

/* The staged files of stage/sub. Target cur/ is fsynced before stage. */
static enum e2_status
sent_drain_sub(struct sent_drain *sd, int stage_fd, const char *sub,
	       struct e2_err *err)
{
	struct folders_run *fr = sd->fr;
	enum e2_status rc = E2_OK;
	size_t before = sd->moved + sd->dropped;
	struct dirent *de;
	int sdfd, lfd;
	DIR *d;

	sdfd = openat(stage_fd, sub,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sdfd < 0)
		return errno == ENOENT
			       ? E2_OK
			       : e2_fail(err, E2_ESTORE, "open staged %s/: %s",
					 sub, strerror(errno));
	lfd = dup(sdfd);
	d = lfd < 0 ? NULL : fdopendir(lfd);
	if (d == NULL) {
		if (lfd >= 0)
			(void)close(lfd);
		(void)close(sdfd);
		return e2_fail(err, E2_ESTORE, "read staged %s/: %s", sub,
			       strerror(errno));
	}
	while (rc == E2_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		rc = sent_drain_one(sd, sdfd, de->d_name, err);
		if (rc == E2_EINVAL) {
			/* one bad file never stops the rest */
			sync_skip(fr->c, fr->sent != NULL ? fr->sent : "Sent",
				  0, err);
			rc = E2_OK;
		}
	}
	(void)closedir(d);
	if (sd->moved + sd->dropped > before) {
		/* the new name durable before the old one goes: a power cut
		 * between the two leaves a duplicate, never a loss */
		if (sd->cur_fd >= 0 && fsync(sd->cur_fd) != 0 && rc == E2_OK)
			rc = e2_fail(err, E2_ESTORE, "fsync %s/cur: %s",
				     sd->target, strerror(errno));
		if (fsync(sdfd) != 0 && rc == E2_OK)
			rc = e2_fail(err, E2_ESTORE, "fsync staged %s/: %s",
				     sub, strerror(errno));
	}
	(void)close(sdfd);
	return rc;
}

enum e2_status
sync_imap_sent_drain(struct folders_run *fr, struct e2_err *err)
{
	struct sent_drain sd = {.fr = fr, .cur_fd = -1};
	char *stage = NULL, *target = NULL, *cur = NULL;
	bool moved = false;
	int stage_fd = -1;
	enum e2_status rc;

	rc = sent_stage_path(fr, &stage, err);
	if (rc != E2_OK || stage == NULL)
		goto out;
	rc = sent_option_server(fr, &sd.server, err);
	if (rc != E2_OK)
		goto out;
	if (!sd.server) {
		if (fr->sent == NULL)
			goto out; /* reported by sync_imap_sent() */
		rc = maildir_folder_claim(fr->c->md, fr->sent, fr->sent_sep,
					  &target, &moved, err);
		/* as imap_folder() does when it is the first to claim: rows
		 * of a directory the name lost are no local deletes */
		if (rc == E2_OK && moved)
			rc = syncstate_folder_delete(fr->c->ss, fr->sent, err);
		if (rc != E2_OK)
			goto out;
		if (asprintf(&cur, "%s/cur", target) < 0) {
			cur = NULL;
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		sd.target = target;
		sd.cur_fd = open(cur, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
		if (sd.cur_fd < 0) {
			rc = e2_fail(err, E2_ESTORE, "open %s: %s", cur,
				     strerror(errno));
			goto out;
		}
	}
	stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stage_fd < 0) {
		rc = e2_fail(err, E2_ESTORE, "open %s: %s", stage,
			     strerror(errno));
		goto out;
	}
	rc = sent_drain_sub(&sd, stage_fd, "new", err);
	if (rc == E2_OK)
		rc = sent_drain_sub(&sd, stage_fd, "cur", err);
out:
	if (rc == E2_ESTORE || rc == E2_EINVAL) {
		/* the copies stay staged for the next run */
		sync_skip(fr->c, fr->sent != NULL ? fr->sent : "Sent", 0, err);
		rc = E2_OK;
	}
	if (stage_fd >= 0)
		(void)close(stage_fd);
	if (sd.cur_fd >= 0)
		(void)close(sd.cur_fd);
	free(cur);
	free(target);
	free(stage);
	return rc;
}
