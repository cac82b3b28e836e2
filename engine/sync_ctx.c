/* SPDX-License-Identifier: MIT */
/* sync_ctx.c -- what a protocol loop's run offers it (sync.h): the stop
 * flag, skips, progress, flag letters and adopted files' marks */
#include "config.h"

#include "sync.h"

#include "mime.h"
#include "transports/chain.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
sync_flags_from_imap(bool seen, bool flagged, bool answered, bool draft,
		     char out[MAILDIR_FLAGS_MAX])
{
	char raw[8];
	size_t n = 0;

	if (draft)
		raw[n++] = 'D';
	if (flagged)
		raw[n++] = 'F';
	if (answered)
		raw[n++] = 'R';
	if (seen)
		raw[n++] = 'S';
	raw[n] = '\0';
	maildir_flags_normalize(raw, out);
}

void
sync_note_cleartext(struct sync_ctx *c, struct chain_session *sess,
		    enum e2_side side)
{
	struct e2_sync_stats *s = c->stats;
	bool in = side == E2_SIDE_IN;

	if (sess == NULL || !chain_session_cleartext_login(sess))
		return;
	/* the node whose 0 allowed it (chain.c: TAGPROPS, per side) */
	if (s->cleartext_login &&
	    strcmp(s->cleartext_why, in ? "TAGPROPS 8128000B is not set"
					: "TAGPROPS 812C000B is not set") != 0)
		s->cleartext_why = "TAGPROPS 8128000B and 812C000B are not set";
	else if (!s->cleartext_login)
		s->cleartext_why = in ? "TAGPROPS 8128000B is not set"
				      : "TAGPROPS 812C000B is not set";
	s->cleartext_login = true;
}

bool
sync_stopping(const struct sync_ctx *c)
{
	/*
	 * Another thread sets the flag (email2-syncd's signal thread): an
	 * atomic load, so that is not a data race (ThreadSanitizer agrees).
	 */
	return c->o.stop != NULL &&
	       __atomic_load_n(c->o.stop, __ATOMIC_RELAXED) != 0;
}

void
sync_skip(struct sync_ctx *c, const char *folder, uint32_t uid,
	  struct e2_err *err)
{
	struct e2_sync_stats *s = c->stats;

	if (s->skipped < E2_SYNC_SKIP_MAX) {
		struct e2_sync_skip *k = &s->skip[s->skipped];

		(void)e2_quote(k->folder, sizeof(k->folder), folder,
			       strlen(folder));
		k->uid = uid;
		(void)snprintf(k->reason, sizeof(k->reason), "%s",
			       err->msg[0] != '\0' ? err->msg : "unknown");
	}
	s->skipped++;
	memset(err, 0, sizeof(*err));
}

enum e2_status
sync_cmd_fail(struct chain_session *sess, const char *proto, const char *what,
	      int code, bool lost, const char *response, struct e2_err *err)
{
	struct e2_err *te = chain_session_err(sess);
	char quoted[160] = "";

	if (te != NULL && te->code != E2_OK)
		return e2_fail(err, te->code, "%s %s: %s", proto, what,
			       te->msg);
	if (lost)
		return e2_fail(err, E2_EIO, "%s %s: connection lost", proto,
			       what);
	if (response != NULL)
		(void)e2_quote_reply(quoted, sizeof(quoted), response,
				     strlen(response));
	return e2_fail(err, E2_EPROTO, "%s %s failed (%d): %s", proto, what,
		       code, quoted);
}

void
sync_progress(const struct sync_ctx *c)
{
	if (c->o.progress != NULL)
		c->o.progress(c->o.progress_ctx, c->a->guid, c->stats);
}

void
sync_progress_folder(struct sync_ctx *c, const char *folder, size_t total)
{
	struct e2_sync_stats *s = c->stats;

	(void)e2_quote(s->progress_folder, sizeof(s->progress_folder), folder,
		       strlen(folder));
	s->progress_done = 0;
	s->progress_total = total;
	sync_progress(c);
}

void
sync_adopt_marks(const char *folder_path, const struct maildir_file *lf,
		 size_t max, bool *partial_out, bool *omitted_out)
{
	size_t plen =
		strlen(folder_path) + strlen(lf->sub) + strlen(lf->name) + 3;
	char *path = malloc(plen), *buf = malloc(max);
	size_t len = 0;
	int fd = -1;

	*partial_out = *omitted_out = false;
	if (path == NULL || buf == NULL)
		goto out;
	(void)snprintf(path, plen, "%s/%s/%s", folder_path, lf->sub, lf->name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	while (len < max) {
		ssize_t n = read(fd, buf + len, max - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	mime_marks(buf, len, partial_out, omitted_out);
out:
	if (fd >= 0)
		(void)close(fd);
	free(buf);
	free(path);
}
