/* SPDX-License-Identifier: MIT */
/* pop3_local.c -- a POP3 account's other local folders (see pop3_local.h) */
#include "config.h"

#include "pop3_local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "grow.h"
#include "maildir.h"
#include "mime.h"

static int
pop3_local_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether path/sub is a directory (a symbolic link is not followed). */
static bool
pop3_local_is_dir(const char *path, const char *sub)
{
	char p[PATH_MAX];
	struct stat st;
	int len = snprintf(p, sizeof(p), "%s/%s", path, sub);

	return len > 0 && (size_t)len < sizeof(p) && lstat(p, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

/*
 * A local Trash: moving a message there is deleting it (what neomutt's
 * $trash, Thunderbird and Dovecot's \Trash folder mean), so it is not a
 * folder that holds a message for R17. The name or its first component,
 * any case: Trash, Deleted Messages, Deleted Items, Bin.
 */
static bool
pop3_local_is_trash(const char *name)
{
	static const char *const names[] = {"Trash", "Deleted Messages",
					    "Deleted Items", "Bin"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncasecmp(name + 1, names[i], n) == 0 &&
		    (name[n + 1] == '\0' || name[n + 1] == '.'))
			return true;
	}
	return false;
}

void
pop3_local_folders_free(struct pop3_local_folders *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

enum e2_status
pop3_local_folders(const char *root, struct pop3_local_folders *out,
		   struct e2_err *err)
{
	struct pop3_local_folders f = {0};
	DIR *d = opendir(root);
	struct dirent *de;
	size_t cap = 0;
	enum e2_status rc = E2_OK;

	if (d == NULL)
		return e2_fail(err, E2_ESTORE, "cannot read %s: %s", root,
			       strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		int len;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    pop3_local_is_trash(de->d_name))
			continue;
		len = snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		if (len < 0 || (size_t)len >= sizeof(path) ||
		    !pop3_local_is_dir(root, de->d_name) ||
		    !pop3_local_is_dir(path, "cur") ||
		    !pop3_local_is_dir(path, "new"))
			continue;
		if (f.n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			char **v = realloc(f.v, ncap * sizeof(*v));

			if (v == NULL) {
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				break;
			}
			f.v = v;
			cap = ncap;
		}
		f.v[f.n] = strdup(de->d_name);
		if (f.v[f.n] == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			break;
		}
		f.n++;
	}
	closedir(d);
	if (rc != E2_OK) {
		pop3_local_folders_free(&f);
		return rc;
	}
	if (f.n > 1)
		qsort(f.v, f.n, sizeof(*f.v), pop3_local_name_cmp);
	*out = f;
	return E2_OK;
}

enum e2_status
pop3_local_stamp(const char *root, const struct pop3_local_folders *f,
		 char out[SYNCSTATE_STAMP_MAX], struct e2_err *err)
{
	char st[MAILDIR_STAMP_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	enum e2_status rc;
	bool ok;
	int len;

	out[0] = '\0';
	rc = maildir_stamp(root, st, err);
	if (rc != E2_OK || st[0] == '\0')
		return rc;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, st, strlen(st) + 1);
	for (size_t i = 0; ok && i < f->n; i++) {
		char path[PATH_MAX];
		struct e2_err scratch = {0};

		len = snprintf(path, sizeof(path), "%s/%s", root, f->v[i]);
		if (len < 0 || (size_t)len >= sizeof(path) ||
		    maildir_stamp(path, st, &scratch) != E2_OK ||
		    st[0] == '\0') {
			EVP_MD_CTX_free(ctx);
			return E2_OK; /* "": unknown, the full pass runs */
		}
		ok = EVP_DigestUpdate(ctx, f->v[i], strlen(f->v[i]) + 1) &&
		     EVP_DigestUpdate(ctx, st, strlen(st) + 1);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return e2_fail(err, E2_ENOMEM, "pop3: SHA-256 failed");
	len = snprintf(out, SYNCSTATE_STAMP_MAX, "folders=%zu ", f->n);
	for (unsigned i = 0; i < mdlen && len + 3 <= SYNCSTATE_STAMP_MAX; i++)
		len += snprintf(out + len, SYNCSTATE_STAMP_MAX - (size_t)len,
				"%02x", md[i]);
	return E2_OK;
}

void
pop3_local_refs_free(struct pop3_local_refs *refs)
{
	if (refs == NULL)
		return;
	free(refs->v);
	memset(refs, 0, sizeof(*refs));
}

struct pop3_local_refs_ctx {
	struct pop3_local_refs *refs;
	const char *holder;
	pop3_local_lookup_fn lookup;
	void *ctx;
};

static enum e2_status
pop3_local_refs_add(void *ctx, const struct maildir_entry *e,
		    struct e2_err *err)
{
	struct pop3_local_refs_ctx *rc = ctx;
	struct pop3_local_refs *refs = rc->refs;
	char tag[MAILDIR_TAG_MAX + 1];
	const char *uidl;

	if (!maildir_name_field(e->uniq, "L", tag, sizeof(tag)))
		return E2_OK;
	uidl = rc->lookup(rc->ctx, tag);
	if (uidl == NULL)
		return E2_OK;
	if (grow_array(&refs->v, &refs->cap, refs->n, sizeof(*refs->v), 64,
		       err) != E2_OK)
		return err->code;
	memset(&refs->v[refs->n], 0, sizeof(refs->v[0]));
	refs->v[refs->n].holder_id = rc->holder;
	refs->v[refs->n].pop3_uidl = uidl;
	refs->n++;
	return E2_OK;
}

enum e2_status
pop3_local_refs(const char *root, const struct pop3_local_folders *f,
		pop3_local_lookup_fn lookup, void *ctx,
		struct pop3_local_refs *out, struct e2_err *err)
{
	struct pop3_local_refs refs = {0};

	for (size_t i = 0; i < f->n; i++) {
		struct pop3_local_refs_ctx rctx = {
			.refs = &refs,
			.holder = f->v[i],
			.lookup = lookup,
			.ctx = ctx,
		};
		struct e2_err lerr = {0};
		char path[PATH_MAX];
		int len = snprintf(path, sizeof(path), "%s/%s", root, f->v[i]);
		enum e2_status rc;

		if (len < 0 || (size_t)len >= sizeof(path))
			rc = e2_fail(&lerr, E2_ESTORE, "path too long: %s",
				     f->v[i]);
		else
			rc = maildir_list(path, pop3_local_refs_add, &rctx,
					  &lerr);
		if (rc == E2_ENOMEM) {
			pop3_local_refs_free(&refs);
			return e2_fail(err, rc, "%s", lerr.msg);
		}
		if (rc != E2_OK && refs.unreadable++ == 0) {
			refs.first_err = lerr;
			refs.first_name = f->v[i];
		}
	}
	if (refs.n > 1)
		qsort(refs.v, refs.n, sizeof(*refs.v), reconcile_tagref_cmp);
	*out = refs;
	return E2_OK;
}

enum e2_status
pop3_local_msgid(const char *hdr, size_t len, bool *found_out,
		 char out[POP3_LOCAL_MSGID_MAX], struct e2_err *err)
{
	bool complete = false, found = false;
	size_t hlen = mime_header_len(hdr, len, &complete);
	char *value = NULL;
	const char *b, *e;
	size_t n;
	enum e2_status rc;

	*found_out = false;
	rc = mime_header_get(hdr, hlen, "Message-ID", &found, &value, err);
	if (rc != E2_OK || !found)
		return rc;
	b = strchr(value, '<');
	e = b != NULL ? strchr(b, '>') : NULL;
	if (b != NULL && e != NULL) {
		n = (size_t)(e - b) + 1;
	} else {
		b = value;
		n = strlen(value);
	}
	if (n > 0 && n < POP3_LOCAL_MSGID_MAX) {
		memcpy(out, b, n);
		out[n] = '\0';
		*found_out = true;
	}
	free(value);
	return E2_OK;
}

struct pop3_local_ids_ctx {
	const char *dir; /* the folder's path */
	const char *const *ids;
	size_t n;
	bool *found;
	char *buf; /* POP3_LOCAL_HEADER_READ bytes */
};

static int
pop3_local_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static enum e2_status
pop3_local_ids_file(void *ctx, const struct maildir_entry *e,
		    struct e2_err *err)
{
	struct pop3_local_ids_ctx *ic = ctx;
	char tag[MAILDIR_TAG_MAX + 1];
	char path[PATH_MAX];
	char id[POP3_LOCAL_MSGID_MAX];
	const char *key = id;
	const char *const *hit;
	size_t got = 0;
	bool found = false;
	int len, fd;

	if (maildir_name_field(e->uniq, "L", tag, sizeof(tag)))
		return E2_OK; /* ours: R17's tag refs covered it */
	len = snprintf(path, sizeof(path), "%s/%s/%s", ic->dir, e->sub,
		       e->name);
	if (len < 0 || (size_t)len >= sizeof(path))
		return E2_OK;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return E2_OK;
	while (got < POP3_LOCAL_HEADER_READ) {
		ssize_t k =
			read(fd, ic->buf + got, POP3_LOCAL_HEADER_READ - got);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (pop3_local_msgid(ic->buf, got, &found, id, err) != E2_OK)
		return E2_ENOMEM;
	if (!found)
		return E2_OK;
	hit = bsearch(&key, ic->ids, ic->n, sizeof(*ic->ids),
		      pop3_local_str_cmp);
	if (hit != NULL)
		ic->found[hit - ic->ids] = true;
	return E2_OK;
}

enum e2_status
pop3_local_find_msgids(const char *root, const struct pop3_local_folders *f,
		       const char *const *ids, size_t n, bool *found,
		       struct e2_err *err)
{
	struct pop3_local_ids_ctx ic = {.ids = ids, .n = n, .found = found};
	enum e2_status rc = E2_OK;

	if (n == 0)
		return E2_OK;
	ic.buf = malloc(POP3_LOCAL_HEADER_READ);
	if (ic.buf == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n; i++) {
		char path[PATH_MAX];
		struct e2_err lerr = {0};
		int len = snprintf(path, sizeof(path), "%s/%s", root, f->v[i]);

		if (len < 0 || (size_t)len >= sizeof(path))
			continue;
		ic.dir = path;
		rc = maildir_list(path, pop3_local_ids_file, &ic, &lerr);
		if (rc == E2_ENOMEM) {
			rc = e2_fail(err, rc, "%s", lerr.msg);
			break;
		}
		rc = E2_OK; /* an unreadable folder: a miss */
	}
	free(ic.buf);
	return rc;
}
