/* SPDX-License-Identifier: MIT */
/* sync_dedupe.c -- after a UIDVALIDITY change: drop the copies repeated */
#include "config.h"

#include "sync_dedupe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "reconcile.h"

/* A tagged file of the folder, with the fields this pass compares. */
struct dedupe_file {
	struct maildir_file *f;
	unsigned long long size;
	bool current; /* tagged with the folder's current UIDVALIDITY */
};

/* A "U=" tag value (either form, reconcile.h) -> its validity; false when
 * it does not parse */
static bool
dedupe_tag_validity(const char *tag, unsigned long *validity_out)
{
	struct reconcile_tag t;

	if (!reconcile_tag_parse(tag, &t))
		return false;
	*validity_out = t.uidvalidity;
	return true;
}

static int
dedupe_size_cmp(const void *a, const void *b)
{
	const struct dedupe_file *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

/* Whether two files have the same bytes; errors: E2_ESTORE */
static enum e2_status
dedupe_same(const char *folder, const struct maildir_file *a,
	    const struct maildir_file *b, bool *same_out, struct e2_err *err)
{
	char pa[4096], pb[4096], ba[65536], bb[65536];
	int fa = -1, fb = -1;
	enum e2_status rc = E2_OK;

	*same_out = false;
	(void)snprintf(pa, sizeof(pa), "%s/%s/%s", folder, a->sub, a->name);
	(void)snprintf(pb, sizeof(pb), "%s/%s/%s", folder, b->sub, b->name);
	fa = open(pa, O_RDONLY | O_CLOEXEC);
	fb = open(pb, O_RDONLY | O_CLOEXEC);
	if (fa < 0 || fb < 0) {
		rc = e2_fail(err, E2_ESTORE, "open %s: %s", fa < 0 ? pa : pb,
			     strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t na = read(fa, ba, sizeof(ba));
		ssize_t nb =
			na > 0 ? read(fb, bb, (size_t)na) : read(fb, bb, 1);

		if (na < 0 || nb < 0) {
			rc = e2_fail(err, E2_ESTORE, "read %s: %s",
				     na < 0 ? pa : pb, strerror(errno));
			goto out;
		}
		if (na != nb || memcmp(ba, bb, (size_t)na) != 0)
			goto out;
		if (na == 0) {
			*same_out = true;
			goto out;
		}
	}
out:
	if (fa >= 0)
		(void)close(fa);
	if (fb >= 0)
		(void)close(fb);
	return rc;
}

/* Adds old's local F, R, S to its twin (renamed in cur/). */
static enum e2_status
dedupe_keep_flags(const char *folder, const struct maildir_file *old,
		  const struct maildir_file *twin, struct e2_err *err)
{
	char want[2 * MAILDIR_FLAGS_MAX], norm[MAILDIR_FLAGS_MAX];
	size_t o;

	(void)snprintf(want, sizeof(want), "%s", twin->flags);
	o = strlen(want);
	for (const char *p = "FRS"; *p != '\0'; p++)
		if (strchr(old->flags, *p) != NULL &&
		    strchr(want, *p) == NULL && o + 1 < sizeof(want))
			want[o++] = *p;
	want[o] = '\0';
	maildir_flags_normalize(want, norm);
	if (strcmp(norm, twin->flags) == 0)
		return E2_OK;
	return maildir_set_flags(folder, twin->sub, twin->name, norm, NULL,
				 err);
}

enum e2_status
sync_drop_stale_copies(const char *folder_path, uint32_t validity,
		       size_t *removed_out, struct e2_err *err)
{
	struct maildir_snapshot snap = {0};
	struct dedupe_file *cur = NULL;
	size_t ncur = 0, removed = 0;
	enum e2_status rc;

	rc = maildir_snapshot(folder_path, "U", &snap, err);
	if (rc != E2_OK)
		return rc;
	cur = calloc(snap.n + 1, sizeof(*cur));
	if (cur == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < snap.n; i++) {
		struct maildir_file *f = &snap.v[i];
		char sz[32];
		unsigned long v;

		if (!dedupe_tag_validity(f->tag, &v) || v != validity ||
		    !maildir_name_field(f->uniq, "S", sz, sizeof(sz)))
			continue;
		cur[ncur].f = f;
		cur[ncur].size = strtoull(sz, NULL, 10);
		cur[ncur].current = true;
		ncur++;
	}
	if (ncur > 1)
		qsort(cur, ncur, sizeof(*cur), dedupe_size_cmp);
	for (size_t i = 0; i < snap.n && rc == E2_OK; i++) {
		struct maildir_file *old = &snap.v[i];
		struct dedupe_file key = {0};
		struct dedupe_file *hit;
		char sz[32];
		unsigned long v;
		size_t lo;

		if (!dedupe_tag_validity(old->tag, &v) || v == validity ||
		    !maildir_name_field(old->uniq, "S", sz, sizeof(sz)))
			continue;
		key.size = strtoull(sz, NULL, 10);
		hit = ncur == 0 ? NULL
				: bsearch(&key, cur, ncur, sizeof(*cur),
					  dedupe_size_cmp);
		if (hit == NULL)
			continue;
		lo = (size_t)(hit - cur);
		while (lo > 0 && cur[lo - 1].size == key.size)
			lo--;
		for (; lo < ncur && cur[lo].size == key.size; lo++) {
			bool same = false;

			if (!cur[lo].current)
				continue; /* already the twin of another */
			rc = dedupe_same(folder_path, old, cur[lo].f, &same,
					 err);
			if (rc != E2_OK)
				break;
			if (!same)
				continue;
			rc = dedupe_keep_flags(folder_path, old, cur[lo].f,
					       err);
			if (rc == E2_OK)
				rc = maildir_remove(folder_path, old->sub,
						    old->name, err);
			if (rc == E2_OK) {
				cur[lo].current = false;
				removed++;
			}
			break;
		}
	}
out:
	free(cur);
	maildir_snapshot_free(&snap);
	if (rc == E2_OK && removed_out != NULL)
		*removed_out = removed;
	return rc;
}
