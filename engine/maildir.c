/* SPDX-License-Identifier: MIT */
/* maildir.c -- Maildir++ folders, a durable batch writer, flags, recovery */
#include "config.h"

#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Maildir convention (qmail, Dovecot): tmp/ files this old are abandoned. */
#define MAILDIR_TMP_STALE (36 * 60 * 60)
#define MAILDIR_OURS ",E2"

struct maildir_alias {
	char *name; /* server name */
	char *path; /* the folder directory it owns, not a candidate */
};

struct maildir {
	char *root;
	char host[128]; /* sanitised host name for unique names */
	enum maildir_sync sync;
	struct maildir_alias *alias; /* maildir_folder_alias() */
	size_t nalias;
};

struct maildir_item {
	char *tmp_path;
	char *final_path;
	char *dir_path; /* new/ or cur/ of the folder */
	char *uniq;
	bool renamed;
};

enum maildir_batch_state {
	MAILDIR_BATCH_OPEN = 0,
	MAILDIR_BATCH_COMMITTED,
	MAILDIR_BATCH_ABORTED,
};

struct maildir_batch {
	struct maildir *md;
	struct maildir_item *items;
	size_t n;
	size_t cap;
	enum maildir_batch_state state;
};

struct maildir_msg {
	struct maildir_batch *batch;
	char *folder;
	char *tmp_path;
	char *base; /* <sec>.M<usec>P<pid>Q<n>.<host> */
	char *tag;
	bool has_flags;
	char flags[MAILDIR_FLAGS_MAX];
	int fd;
	unsigned long long size;
};

static atomic_ulong maildir_counter;

static enum e2_status
maildir_fail_sys(struct e2_err *err, int errnum, const char *what,
		 const char *path)
{
	if (err != NULL && err->msg[0] == '\0')
		err->sys_errno = errnum;
	return e2_fail(err, E2_ESTORE, "%s %s: %s", what, path,
		       strerror(errnum));
}

static enum e2_status maildir_path(char **out, struct e2_err *err,
				   const char *fmt, ...) E2_PRINTF(3, 4);

static enum e2_status
maildir_path(char **out, struct e2_err *err, const char *fmt, ...)
{
	va_list ap, ap2;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n >= 0)
		s = malloc((size_t)n + 1);
	if (s != NULL)
		(void)vsnprintf(s, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	va_end(ap);
	*out = s;
	if (s == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	return E2_OK;
}

static enum e2_status maildir_fsync_path(const char *path, bool dir,
					 struct e2_err *err);

static enum e2_status
maildir_mkdir(const char *path, struct e2_err *err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return maildir_fail_sys(err, errno, "mkdir", path);
	return E2_OK;
}

/* dir, dir/cur, dir/new, dir/tmp. */
static enum e2_status
maildir_make_tree(const char *dir, struct e2_err *err)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	enum e2_status rc;
	char *p = NULL;

	rc = maildir_mkdir(dir, err);
	for (size_t i = 0; rc == E2_OK && i < 3; i++) {
		rc = maildir_path(&p, err, "%s/%s", dir, subs[i]);
		if (rc == E2_OK)
			rc = maildir_mkdir(p, err);
		free(p);
		p = NULL;
	}
	return rc;
}

/* Maildir spec: "/" and ":" in the host become \057 and \072; "," too
 * (\054) because Dovecot reads ",S=" fields after the host. */
static void
maildir_host_init(char *out, size_t outlen)
{
	char raw[64];
	size_t o = 0;

	if (gethostname(raw, sizeof(raw)) != 0)
		(void)snprintf(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (size_t i = 0; raw[i] != '\0' && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '/' || c == ':' || c == ',' || c == '\\' || c < 0x21 ||
		    c >= 0x7f) {
			(void)snprintf(out + o, outlen - o, "\\%03o", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	if (o == 0)
		out[o++] = 'h';
	out[o] = '\0';
}

enum e2_status
maildir_open(const char *root, struct maildir **md_out, struct e2_err *err)
{
	struct maildir *md = NULL;
	enum e2_status rc;

	if (root == NULL || root[0] == '\0')
		return e2_fail(err, E2_EINVAL, "maildir root is empty");
	md = calloc(1, sizeof(*md));
	if (md == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	md->root = strdup(root);
	if (md->root == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	md->sync = MAILDIR_SYNC_SYNCFS;
	maildir_host_init(md->host, sizeof(md->host));
	rc = maildir_make_tree(root, err);
	if (rc != E2_OK)
		goto out;
	*md_out = md;
	md = NULL;
out:
	maildir_close(&md);
	return rc;
}

void
maildir_close(struct maildir **md)
{
	if (md == NULL || *md == NULL)
		return;
	for (size_t i = 0; i < (*md)->nalias; i++) {
		free((*md)->alias[i].name);
		free((*md)->alias[i].path);
	}
	free((*md)->alias);
	free((*md)->root);
	free(*md);
	*md = NULL;
}

const char *
maildir_root(const struct maildir *md)
{
	return md->root;
}

void
maildir_set_sync(struct maildir *md, enum maildir_sync mode)
{
	md->sync = mode;
}

/* ---- folder names -------------------------------------------------------- */

static bool
maildir_name_byte_safe(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr(" -_+,&'!#$()[]{}=@~^;", c) != NULL;
}

static bool
maildir_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

enum e2_status
maildir_folder_encode(const char *name, char sep, char **dir_out,
		      struct e2_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len, o = 0, comp = 0;
	char *dir;

	if (name == NULL || name[0] == '\0')
		return e2_fail(err, E2_EINVAL, "empty folder name");
	if (maildir_is_inbox(name)) {
		dir = strdup("");
		if (dir == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		*dir_out = dir;
		return E2_OK;
	}
	len = strlen(name);
	dir = malloc(len * 3 + 2);
	if (dir == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	dir[o++] = '.';
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '\0' || (sep != '\0' && c == (unsigned char)sep)) {
			if (comp == 0) {
				free(dir);
				return e2_fail(err, E2_EINVAL,
					       "folder name has an empty "
					       "component");
			}
			if (c != '\0')
				dir[o++] = '.';
			comp = 0;
			continue;
		}
		if (maildir_name_byte_safe(c)) {
			dir[o++] = (char)c;
		} else {
			dir[o++] = '%';
			dir[o++] = hex[c >> 4];
			dir[o++] = hex[c & 15];
		}
		comp++;
	}
	dir[o] = '\0';
	if (o > NAME_MAX) {
		free(dir);
		return e2_fail(err, E2_EINVAL,
			       "folder name too long for a directory (%zu "
			       "bytes encoded)",
			       o);
	}
	*dir_out = dir;
	return E2_OK;
}

static int
maildir_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum e2_status
maildir_folder_decode(const char *dir, char sep, char **name_out,
		      struct e2_err *err)
{
	enum e2_status rc;
	char *name = NULL, *check = NULL;
	size_t o = 0;

	if (dir[0] == '\0') {
		name = strdup("INBOX");
		if (name == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		*name_out = name;
		return E2_OK;
	}
	if (dir[0] != '.' || dir[1] == '\0')
		return e2_fail(err, E2_EINVAL, "not a folder directory");
	name = malloc(strlen(dir) + 1);
	if (name == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 1; dir[i] != '\0'; i++) {
		if (dir[i] == '.') {
			if (sep == '\0') {
				rc = e2_fail(err, E2_EINVAL,
					     "hierarchy without a separator");
				goto out;
			}
			name[o++] = sep;
		} else if (dir[i] == '%') {
			int hi = maildir_hexval(dir[i + 1]);
			int lo = hi < 0 ? -1 : maildir_hexval(dir[i + 2]);

			if (lo < 0) {
				rc = e2_fail(
					err, E2_EINVAL,
					"bad %%-escape in folder directory");
				goto out;
			}
			name[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			name[o++] = dir[i];
		}
	}
	name[o] = '\0';
	/* Strict: only what the encoder makes decodes (no "%2F" tricks). */
	rc = maildir_folder_encode(name, sep, &check, err);
	if (rc == E2_OK && strcmp(check, dir) != 0)
		rc = e2_fail(err, E2_EINVAL, "folder directory not canonical");
	if (rc == E2_OK) {
		*name_out = name;
		name = NULL;
	}
out:
	free(check);
	free(name);
	return rc;
}

enum e2_status
maildir_folder(struct maildir *md, const char *name, char sep, char **path_out,
	       struct e2_err *err)
{
	enum e2_status rc;
	char *dir = NULL, *path = NULL;

	rc = maildir_folder_encode(name, sep, &dir, err);
	if (rc != E2_OK)
		return rc;
	if (dir[0] == '\0')
		rc = maildir_path(&path, err, "%s", md->root);
	else
		rc = maildir_path(&path, err, "%s/%s", md->root, dir);
	if (rc == E2_OK)
		rc = maildir_make_tree(path, err);
	if (rc == E2_OK) {
		*path_out = path;
		path = NULL;
	}
	free(path);
	free(dir);
	return rc;
}

/* ---- folder ownership (issue 7 item 5) --------------------------------- */

enum e2_status
maildir_folder_candidate(const char *name, char sep, unsigned n, char **dir_out,
			 struct e2_err *err)
{
	enum e2_status rc;
	char *base = NULL, *dir = NULL;
	size_t len;

	if (n >= MAILDIR_CLAIM_TRIES)
		return e2_fail(err, E2_EINVAL,
			       "folder candidate %u out of range", n);
	rc = maildir_folder_encode(name, sep, &base, err);
	if (rc != E2_OK || n == 0) {
		if (rc == E2_OK)
			*dir_out = base;
		return rc;
	}
	/* INBOX in another spelling: the name itself, all letters (safe) */
	if (base[0] == '\0') {
		free(base);
		rc = maildir_path(&base, err, ".%s", name);
		if (rc != E2_OK)
			return rc;
	}
	rc = maildir_path(&dir, err, "%s%%-%u",
			  /* base, MAILDIR_CLAIM_SUFFIX, n + 1 */ base, n + 1);
	free(base);
	if (rc != E2_OK)
		return rc;
	len = strlen(dir);
	if (len > NAME_MAX) {
		free(dir);
		return e2_fail(err, E2_EINVAL,
			       "folder name too long for a directory (%zu "
			       "bytes encoded)",
			       len);
	}
	*dir_out = dir;
	return E2_OK;
}

/*
 * The owner recorded in dir_path, into buf (cap bytes): *len_out bytes,
 * or SIZE_MAX when there is none. A marker longer than cap is nobody's
 * name we could have written (names encode to at most NAME_MAX bytes): it
 * reads as cap bytes, which never equal a name.
 */
static enum e2_status
maildir_owner_read(const char *dir_path, char *buf, size_t cap, size_t *len_out,
		   struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	char *path = NULL;
	size_t len = 0;
	int fd;

	rc = maildir_path(&path, err, "%s/%s", dir_path, MAILDIR_OWNER_FILE);
	if (rc != E2_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			*len_out = SIZE_MAX;
		else
			rc = maildir_fail_sys(err, errno, "open", path);
		free(path);
		return rc;
	}
	while (len < cap) {
		ssize_t got = read(fd, buf + len, cap - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = maildir_fail_sys(err, errno, "read", path);
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	(void)close(fd);
	free(path);
	if (rc == E2_OK)
		*len_out = len;
	return rc;
}

/*
 * Records name as dir_path's owner unless it has one: the bytes go to a
 * file in tmp/ that link() puts in place, so the marker appears whole or
 * not at all (link fails with EEXIST when another one is there).
 * *written_out says whether this call wrote it. The tmp file is named
 * like a message of ours (",E2"), so maildir_recover() removes what a
 * killed run left.
 */
static enum e2_status
maildir_owner_write(const struct maildir *md, const char *dir_path,
		    const char *name, bool *written_out, struct e2_err *err)
{
	enum e2_status rc;
	char *tmp = NULL, *path = NULL;
	size_t len = strlen(name), off = 0;
	struct timeval tv;
	int fd = -1;

	*written_out = false;
	(void)gettimeofday(&tv, NULL);
	rc = maildir_path(
		&tmp, err, "%s/tmp/%lld.M%06ldP%ldQ%lu.%s" MAILDIR_OURS,
		dir_path, (long long)tv.tv_sec, (long)tv.tv_usec,
		(long)getpid(),
		(unsigned long)atomic_fetch_add(&maildir_counter, 1), md->host);
	if (rc == E2_OK)
		rc = maildir_path(&path, err, "%s/%s", dir_path,
				  MAILDIR_OWNER_FILE);
	if (rc != E2_OK)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		rc = maildir_fail_sys(err, errno, "create", tmp);
		goto out;
	}
	while (off < len) {
		ssize_t put = write(fd, name + off, len - off);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0) {
			rc = maildir_fail_sys(err, put < 0 ? errno : EIO,
					      "write", tmp);
			goto out;
		}
		off += (size_t)put;
	}
	if (fdatasync(fd) != 0) {
		rc = maildir_fail_sys(err, errno, "fdatasync", tmp);
		goto out;
	}
	if (link(tmp, path) == 0) {
		*written_out = true;
		rc = maildir_fsync_path(dir_path, true, err);
	} else if (errno != EEXIST) {
		rc = maildir_fail_sys(err, errno, "link", path);
	}
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

enum e2_status
maildir_folder_claim(struct maildir *md, const char *name, char sep,
		     char **path_out, bool *moved_out, struct e2_err *err)
{
	char owner[NAME_MAX + 2];
	size_t nlen;
	enum e2_status rc = E2_OK;

	if (name == NULL || name[0] == '\0')
		return e2_fail(err, E2_EINVAL, "empty folder name");
	nlen = strlen(name);
	/* a directory the user named, recorded by maildir_folder_alias() */
	for (size_t i = 0; i < md->nalias; i++) {
		size_t olen = SIZE_MAX;
		char *path;

		if (strcmp(md->alias[i].name, name) != 0)
			continue;
		rc = maildir_owner_read(md->alias[i].path, owner, sizeof(owner),
					&olen, err);
		if (rc != E2_OK)
			return rc;
		if (olen != nlen || memcmp(owner, name, nlen) != 0)
			break; /* no longer its owner: the candidates decide */
		rc = maildir_make_tree(md->alias[i].path, err);
		if (rc != E2_OK)
			return rc;
		path = strdup(md->alias[i].path);
		if (path == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		*path_out = path;
		*moved_out = false;
		return E2_OK;
	}
	for (unsigned n = 0; n < MAILDIR_CLAIM_TRIES; n++) {
		char *dir = NULL, *path = NULL;
		size_t olen = SIZE_MAX;
		bool written = false;

		rc = maildir_folder_candidate(name, sep, n, &dir, err);
		if (rc != E2_OK)
			return rc;
		if (dir[0] == '\0')
			rc = maildir_path(&path, err, "%s", md->root);
		else
			rc = maildir_path(&path, err, "%s/%s", md->root, dir);
		free(dir);
		if (rc == E2_OK)
			rc = maildir_make_tree(path, err);
		if (rc == E2_OK)
			rc = maildir_owner_read(path, owner, sizeof(owner),
						&olen, err);
		if (rc == E2_OK && olen == SIZE_MAX) {
			rc = maildir_owner_write(md, path, name, &written, err);
			if (rc == E2_OK && !written)
				rc = maildir_owner_read(
					path, owner, sizeof(owner), &olen, err);
		}
		if (rc == E2_OK &&
		    (written ||
		     (olen == nlen && memcmp(owner, name, nlen) == 0))) {
			*path_out = path;
			*moved_out = written && n > 0;
			return E2_OK;
		}
		free(path);
		if (rc != E2_OK)
			return rc;
	}
	return e2_fail(err, E2_EINVAL,
		       "no local folder left: the first %u candidates belong "
		       "to other server folders",
		       (unsigned)MAILDIR_CLAIM_TRIES);
}

enum e2_status
maildir_folder_alias(struct maildir *md, const char *name, const char *dir_path,
		     struct e2_err *err)
{
	char owner[NAME_MAX + 2];
	size_t olen = SIZE_MAX, nlen = strlen(name);
	struct maildir_alias *v;
	bool written = false;
	enum e2_status rc;

	if (nlen == 0 || nlen > NAME_MAX)
		return e2_fail(err, E2_EINVAL, "bad folder name length %zu",
			       nlen);
	rc = maildir_owner_read(dir_path, owner, sizeof(owner), &olen, err);
	if (rc == E2_OK && olen == SIZE_MAX) {
		rc = maildir_owner_write(md, dir_path, name, &written, err);
		if (rc == E2_OK && !written)
			rc = maildir_owner_read(dir_path, owner, sizeof(owner),
						&olen, err);
	}
	if (rc != E2_OK)
		return rc;
	if (!written && (olen != nlen || memcmp(owner, name, nlen) != 0))
		return e2_fail(err, E2_EINVAL,
			       "%s belongs to another server folder", dir_path);
	for (size_t i = 0; i < md->nalias; i++)
		if (strcmp(md->alias[i].name, name) == 0 &&
		    strcmp(md->alias[i].path, dir_path) == 0)
			return E2_OK;
	v = realloc(md->alias, (md->nalias + 1) * sizeof(*v));
	if (v == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	md->alias = v;
	v[md->nalias].name = strdup(name);
	v[md->nalias].path = strdup(dir_path);
	if (v[md->nalias].name == NULL || v[md->nalias].path == NULL) {
		free(v[md->nalias].name);
		free(v[md->nalias].path);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	md->nalias++;
	return E2_OK;
}

enum e2_status
maildir_folder_owner(const char *folder_path, bool *found_out, char **name_out,
		     struct e2_err *err)
{
	char owner[NAME_MAX + 2];
	size_t olen = SIZE_MAX;
	enum e2_status rc;
	char *name;

	rc = maildir_owner_read(folder_path, owner, sizeof(owner), &olen, err);
	if (rc != E2_OK)
		return rc;
	if (olen == SIZE_MAX || olen == 0 || olen > NAME_MAX ||
	    memchr(owner, '\0', olen) != NULL) {
		*found_out = false;
		return E2_OK;
	}
	name = strndup(owner, olen);
	if (name == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	*found_out = true;
	*name_out = name;
	return E2_OK;
}

/* ---- flags and names --------------------------------------------------------
 */

void
maildir_flags_normalize(const char *flags, char out[MAILDIR_FLAGS_MAX])
{
	bool seen[128] = {false};
	size_t o = 0;

	for (const char *p = flags; p != NULL && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
			seen[c] = true;
	}
	for (int c = 'A'; c <= 'z' && o + 1 < MAILDIR_FLAGS_MAX; c++)
		if (seen[c])
			out[o++] = (char)c;
	out[o] = '\0';
}

void
maildir_name_parse(const char *name, size_t *uniq_len_out,
		   char flags_out[MAILDIR_FLAGS_MAX])
{
	const char *colon = strchr(name, ':');

	flags_out[0] = '\0';
	if (colon == NULL) {
		*uniq_len_out = strlen(name);
		return;
	}
	*uniq_len_out = (size_t)(colon - name);
	if (strncmp(colon, ":2,", 3) == 0)
		maildir_flags_normalize(colon + 3, flags_out);
}

bool
maildir_name_field(const char *uniq, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = uniq;

	while ((p = strchr(p, ',')) != NULL) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t n = strcspn(v, ",:");

			if (outlen == 0)
				return true;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* ---- the batch writer --------------------------------------------------- */

enum e2_status
maildir_batch_begin(struct maildir *md, struct maildir_batch **batch_out,
		    struct e2_err *err)
{
	struct maildir_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	b->md = md;
	*batch_out = b;
	return E2_OK;
}

size_t
maildir_batch_count(const struct maildir_batch *batch)
{
	return batch->n;
}

static void
maildir_item_free(struct maildir_item *it)
{
	free(it->tmp_path);
	free(it->final_path);
	free(it->dir_path);
	free(it->uniq);
}

void
maildir_batch_free(struct maildir_batch **batch)
{
	struct maildir_batch *b;

	if (batch == NULL || *batch == NULL)
		return;
	b = *batch;
	if (b->state == MAILDIR_BATCH_OPEN)
		maildir_batch_abort(b);
	for (size_t i = 0; i < b->n; i++)
		maildir_item_free(&b->items[i]);
	free(b->items);
	free(b);
	*batch = NULL;
}

static bool
maildir_tag_ok(const char *tag)
{
	size_t n = 0;

	for (const char *p = tag; *p != '\0'; p++, n++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '=' || c == '_' ||
		      c == '-'))
			return false;
	}
	return n > 0 && n <= MAILDIR_TAG_MAX;
}

void
maildir_msg_discard(struct maildir_msg **msg)
{
	struct maildir_msg *m;

	if (msg == NULL || *msg == NULL)
		return;
	m = *msg;
	if (m->fd >= 0)
		(void)close(m->fd);
	if (m->tmp_path != NULL)
		(void)unlink(m->tmp_path);
	free(m->folder);
	free(m->tmp_path);
	free(m->base);
	free(m->tag);
	free(m);
	*msg = NULL;
}

enum e2_status
maildir_msg_set_meta(struct maildir_msg *msg, const char *flags,
		     const char *tag, struct e2_err *err)
{
	char *t = NULL;

	if (tag != NULL && !maildir_tag_ok(tag))
		return e2_fail(err, E2_EINVAL, "bad maildir name tag");
	if (tag != NULL && (t = strdup(tag)) == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	free(msg->tag);
	msg->tag = t;
	msg->has_flags = flags != NULL;
	msg->flags[0] = '\0';
	if (flags != NULL)
		maildir_flags_normalize(flags, msg->flags);
	return E2_OK;
}

enum e2_status
maildir_msg_begin(struct maildir_batch *batch, const char *folder_path,
		  const char *flags, const char *tag,
		  struct maildir_msg **msg_out, struct e2_err *err)
{
	struct maildir_msg *m = NULL;
	enum e2_status rc = E2_OK;

	if (batch->state != MAILDIR_BATCH_OPEN)
		return e2_fail(err, E2_EINVAL, "maildir batch already ended");
	if (tag != NULL && !maildir_tag_ok(tag))
		return e2_fail(err, E2_EINVAL, "bad maildir name tag");
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	m->fd = -1;
	m->batch = batch;
	m->has_flags = flags != NULL;
	if (flags != NULL)
		maildir_flags_normalize(flags, m->flags);
	m->folder = strdup(folder_path);
	m->tag = tag != NULL ? strdup(tag) : NULL;
	if (m->folder == NULL || (tag != NULL && m->tag == NULL)) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	/* Maildir spec: time, then M<usec>P<pid>Q<counter> (unique within
	 * this process), then the host. O_EXCL catches the impossible. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct timeval tv;
		unsigned long q = atomic_fetch_add(&maildir_counter, 1);

		(void)gettimeofday(&tv, NULL);
		free(m->base);
		free(m->tmp_path);
		m->tmp_path = NULL;
		rc = maildir_path(&m->base, err, "%lld.M%06ldP%ldQ%lu.%s",
				  (long long)tv.tv_sec, (long)tv.tv_usec,
				  (long)getpid(), q, batch->md->host);
		if (rc == E2_OK)
			rc = maildir_path(&m->tmp_path, err,
					  "%s/tmp/%s" MAILDIR_OURS, folder_path,
					  m->base);
		if (rc != E2_OK)
			goto out;
		m->fd = open(m->tmp_path,
			     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (m->fd >= 0 || errno != EEXIST)
			break;
	}
	if (m->fd < 0) {
		rc = maildir_fail_sys(err, errno, "create", m->tmp_path);
		free(m->tmp_path);
		m->tmp_path = NULL; /* nothing to unlink */
		goto out;
	}
	*msg_out = m;
	m = NULL;
out:
	maildir_msg_discard(&m);
	return rc;
}

enum e2_status
maildir_msg_write(struct maildir_msg *msg, const void *buf, size_t len,
		  struct e2_err *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(msg->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return maildir_fail_sys(err, errno, "write",
						msg->tmp_path);
		p += n;
		len -= (size_t)n;
		msg->size += (unsigned long long)n;
	}
	return E2_OK;
}

enum e2_status
maildir_msg_sink(void *ctx, const void *buf, size_t len, struct e2_err *err)
{
	return maildir_msg_write(ctx, buf, len, err);
}

enum e2_status
maildir_msg_end(struct maildir_msg **msg, const char **uniq_out,
		struct e2_err *err)
{
	struct maildir_msg *m = *msg;
	struct maildir_batch *b = m->batch;
	struct maildir_item it = {0};
	enum e2_status rc;
	int fd = m->fd;

	m->fd = -1;
	if (close(fd) != 0) {
		rc = maildir_fail_sys(err, errno, "close", m->tmp_path);
		goto out;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap == 0 ? 64 : b->cap * 2;
		struct maildir_item *items =
			realloc(b->items, cap * sizeof(*items));

		if (items == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		b->items = items;
		b->cap = cap;
	}
	rc = maildir_path(&it.uniq, err, "%s,S=%llu%s%s", m->base, m->size,
			  m->tag != NULL ? "," : "",
			  m->tag != NULL ? m->tag : "");
	if (rc == E2_OK && m->has_flags)
		rc = maildir_path(&it.final_path, err, "%s/cur/%s:2,%s",
				  m->folder, it.uniq, m->flags);
	else if (rc == E2_OK)
		rc = maildir_path(&it.final_path, err, "%s/new/%s", m->folder,
				  it.uniq);
	if (rc == E2_OK)
		rc = maildir_path(&it.dir_path, err, "%s/%s", m->folder,
				  m->has_flags ? "cur" : "new");
	if (rc != E2_OK) {
		maildir_item_free(&it);
		goto out;
	}
	it.tmp_path = m->tmp_path;
	m->tmp_path = NULL; /* the batch owns the file now */
	b->items[b->n++] = it;
	if (uniq_out != NULL)
		*uniq_out = it.uniq;
out:
	maildir_msg_discard(msg);
	return rc;
}

enum e2_status
maildir_put(struct maildir_batch *batch, const char *folder_path,
	    const char *flags, const char *tag, maildir_source_fn source,
	    void *source_ctx, const char **uniq_out, struct e2_err *err)
{
	struct maildir_msg *m = NULL;
	enum e2_status rc;
	char buf[65536];

	rc = maildir_msg_begin(batch, folder_path, flags, tag, &m, err);
	while (rc == E2_OK) {
		ssize_t n = source(source_ctx, buf, sizeof(buf), err);

		if (n == 0)
			break;
		if (n < 0) {
			rc = e2_fail(err, E2_EIO, "message source failed");
			if (err != NULL)
				rc = err->code;
			break;
		}
		rc = maildir_msg_write(m, buf, (size_t)n, err);
	}
	if (rc == E2_OK)
		return maildir_msg_end(&m, uniq_out, err);
	maildir_msg_discard(&m);
	return rc;
}

enum e2_status
maildir_put_mem(struct maildir_batch *batch, const char *folder_path,
		const char *flags, const char *tag, const void *buf, size_t len,
		const char **uniq_out, struct e2_err *err)
{
	struct maildir_msg *m = NULL;
	enum e2_status rc;

	rc = maildir_msg_begin(batch, folder_path, flags, tag, &m, err);
	if (rc == E2_OK)
		rc = maildir_msg_write(m, buf, len, err);
	if (rc == E2_OK)
		return maildir_msg_end(&m, uniq_out, err);
	maildir_msg_discard(&m);
	return rc;
}

static enum e2_status
maildir_fsync_path(const char *path, bool dir, struct e2_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	int rc;

	if (fd < 0)
		return maildir_fail_sys(err, errno, "open", path);
	rc = dir ? fsync(fd) : fdatasync(fd);
	if (rc != 0) {
		int e = errno;

		(void)close(fd);
		return maildir_fail_sys(err, e, dir ? "fsync" : "fdatasync",
					path);
	}
	(void)close(fd);
	return E2_OK;
}

static enum e2_status
maildir_batch_sync_data(struct maildir_batch *b, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	if (b->md->sync == MAILDIR_SYNC_SYNCFS) {
		int fd = open(b->md->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return maildir_fail_sys(err, errno, "open",
						b->md->root);
		if (syncfs(fd) != 0)
			rc = maildir_fail_sys(err, errno, "syncfs",
					      b->md->root);
		(void)close(fd);
		return rc;
	}
	for (size_t i = 0; rc == E2_OK && i < b->n; i++)
		rc = maildir_fsync_path(b->items[i].tmp_path, false, err);
	return rc;
}

/* fsync each distinct new/ or cur/ directory of the batch once. */
static enum e2_status
maildir_batch_sync_dirs(struct maildir_batch *b, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	for (size_t i = 0; rc == E2_OK && i < b->n; i++) {
		bool done = false;

		for (size_t j = 0; j < i && !done; j++)
			done = strcmp(b->items[j].dir_path,
				      b->items[i].dir_path) == 0;
		if (!done)
			rc = maildir_fsync_path(b->items[i].dir_path, true,
						err);
	}
	return rc;
}

enum e2_status
maildir_batch_commit(struct maildir_batch *batch, struct e2_err *err)
{
	struct maildir_batch *b = batch;
	enum e2_status rc;

	if (b->state != MAILDIR_BATCH_OPEN)
		return e2_fail(err, E2_EINVAL, "maildir batch already ended");
	rc = maildir_batch_sync_data(b, err);
	for (size_t i = 0; rc == E2_OK && i < b->n; i++) {
		struct maildir_item *it = &b->items[i];

		if (rename(it->tmp_path, it->final_path) != 0)
			rc = maildir_fail_sys(err, errno, "rename",
					      it->tmp_path);
		else
			it->renamed = true;
	}
	if (rc == E2_OK)
		rc = maildir_batch_sync_dirs(b, err);
	if (rc != E2_OK) {
		/* Nothing the caller cannot record may stay visible. */
		for (size_t i = 0; i < b->n; i++)
			if (b->items[i].renamed)
				(void)unlink(b->items[i].final_path);
		maildir_batch_abort(b);
		return rc;
	}
	b->state = MAILDIR_BATCH_COMMITTED;
	return E2_OK;
}

void
maildir_batch_abort(struct maildir_batch *batch)
{
	if (batch->state != MAILDIR_BATCH_OPEN)
		return;
	for (size_t i = 0; i < batch->n; i++)
		if (!batch->items[i].renamed)
			(void)unlink(batch->items[i].tmp_path);
	batch->state = MAILDIR_BATCH_ABORTED;
}

/* ---- messages in place ------------------------------------------------- */

static enum e2_status
maildir_list_sub(const char *folder_path, const char *sub, maildir_list_fn fn,
		 void *ctx, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	char *path = NULL;
	struct dirent *de;
	DIR *d;

	rc = maildir_path(&path, err, "%s/%s", folder_path, sub);
	if (rc != E2_OK)
		return rc;
	d = opendir(path);
	if (d == NULL) {
		rc = errno == ENOENT
			     ? E2_OK
			     : maildir_fail_sys(err, errno, "opendir", path);
		free(path);
		return rc;
	}
	for (;;) {
		struct maildir_entry e = {0};
		char uniq[NAME_MAX + 1], flags[MAILDIR_FLAGS_MAX], sz[32];
		size_t ulen;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = maildir_fail_sys(err, errno, "readdir",
						      path);
			break;
		}
		if (de->d_name[0] == '.' ||
		    (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		maildir_name_parse(de->d_name, &ulen, flags);
		if (ulen == 0 || ulen > NAME_MAX)
			continue;
		memcpy(uniq, de->d_name, ulen);
		uniq[ulen] = '\0';
		e.sub = sub;
		e.name = de->d_name;
		e.uniq = uniq;
		e.flags = strcmp(sub, "cur") == 0 ? flags : "";
		if (maildir_name_field(uniq, "S", sz, sizeof(sz)) &&
		    sz[0] >= '0' && sz[0] <= '9' && de->d_type == DT_REG) {
			e.size = (off_t)strtoll(sz, NULL, 10);
		} else {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, 0) != 0) {
				if (errno == ENOENT)
					continue; /* removed meanwhile */
				rc = maildir_fail_sys(err, errno, "stat",
						      de->d_name);
				break;
			}
			if (!S_ISREG(st.st_mode))
				continue;
			e.size = st.st_size;
			e.mtime = st.st_mtime;
		}
		rc = fn(ctx, &e, err);
		if (rc != E2_OK)
			break;
	}
	(void)closedir(d);
	free(path);
	return rc;
}

enum e2_status
maildir_list(const char *folder_path, maildir_list_fn fn, void *ctx,
	     struct e2_err *err)
{
	enum e2_status rc;

	rc = maildir_list_sub(folder_path, "new", fn, ctx, err);
	if (rc == E2_OK)
		rc = maildir_list_sub(folder_path, "cur", fn, ctx, err);
	return rc;
}

struct maildir_snapshot_ctx {
	struct maildir_snapshot *snap;
	const char *tag_key;
};

static enum e2_status
maildir_snapshot_add(void *ctx, const struct maildir_entry *e,
		     struct e2_err *err)
{
	struct maildir_snapshot_ctx *sc = ctx;
	struct maildir_snapshot *snap = sc->snap;
	struct maildir_file *f;

	if (snap->n == snap->cap) {
		size_t cap = snap->cap == 0 ? 256 : snap->cap * 2;
		struct maildir_file *v = realloc(snap->v, cap * sizeof(*v));

		if (v == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		snap->v = v;
		snap->cap = cap;
	}
	f = &snap->v[snap->n];
	memset(f, 0, sizeof(*f));
	f->uniq = strdup(e->uniq);
	f->name = strdup(e->name);
	if (f->uniq == NULL || f->name == NULL) {
		free(f->uniq);
		free(f->name);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	f->sub = strcmp(e->sub, "new") == 0 ? "new" : "cur";
	maildir_flags_normalize(e->flags, f->flags);
	if (sc->tag_key == NULL ||
	    !maildir_name_field(e->uniq, sc->tag_key, f->tag, sizeof(f->tag)))
		f->tag[0] = '\0';
	snap->n++;
	return E2_OK;
}

static int
maildir_file_cmp(const void *a, const void *b)
{
	const struct maildir_file *x = a, *y = b;

	return strcmp(x->uniq, y->uniq);
}

enum e2_status
maildir_snapshot(const char *folder_path, const char *tag_key,
		 struct maildir_snapshot *snap_out, struct e2_err *err)
{
	struct maildir_snapshot snap = {0};
	struct maildir_snapshot_ctx sc = {.snap = &snap, .tag_key = tag_key};
	enum e2_status rc;

	rc = maildir_list(folder_path, maildir_snapshot_add, &sc, err);
	if (rc != E2_OK) {
		maildir_snapshot_free(&snap);
		return rc;
	}
	if (snap.n > 1)
		qsort(snap.v, snap.n, sizeof(*snap.v), maildir_file_cmp);
	*snap_out = snap;
	return E2_OK;
}

struct maildir_file *
maildir_snapshot_find(struct maildir_snapshot *snap, const char *uniq)
{
	struct maildir_file key = {.uniq = (char *)(uintptr_t)uniq};

	if (snap->n == 0)
		return NULL;
	return bsearch(&key, snap->v, snap->n, sizeof(*snap->v),
		       maildir_file_cmp);
}

void
maildir_snapshot_free(struct maildir_snapshot *snap)
{
	if (snap == NULL)
		return;
	for (size_t i = 0; i < snap->n; i++) {
		free(snap->v[i].uniq);
		free(snap->v[i].name);
	}
	free(snap->v);
	memset(snap, 0, sizeof(*snap));
}

/*
 * The clock may lag the file system's timestamps by its tick, and some file
 * systems keep whole (or even two) seconds: a directory changed less than
 * this long before the stamp was taken could change again within the same
 * timestamp, so such a stamp is not trusted (Git's "racily clean" rule).
 */
#define MAILDIR_STAMP_SETTLE_NS (2 * 1000000000LL)

enum e2_status
maildir_stamp(const char *folder_path, char out[MAILDIR_STAMP_MAX],
	      struct e2_err *err)
{
	static const char *const subs[] = {"new", "cur"};
	struct timespec now;
	size_t n = 0;

	out[0] = '\0';
	/* the clock first: a change after the stat is dated at or after it */
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return E2_OK;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char path[PATH_MAX];
		struct stat st;
		long long age;
		int len;

		len = snprintf(path, sizeof(path), "%s/%s", folder_path,
			       subs[i]);
		if (len < 0 || (size_t)len >= sizeof(path))
			return e2_fail(err, E2_ESTORE, "path too long: %s",
				       folder_path);
		if (stat(path, &st) != 0)
			return maildir_fail_sys(err, errno, "stat", path);
		age = ((long long)now.tv_sec - st.st_mtim.tv_sec) *
			      1000000000LL +
		      (now.tv_nsec - st.st_mtim.tv_nsec);
		if (age < MAILDIR_STAMP_SETTLE_NS) {
			out[0] = '\0';
			return E2_OK;
		}
		len = snprintf(out + n, MAILDIR_STAMP_MAX - n,
			       "%s%llx:%llx:%lld.%09ld", i > 0 ? "/" : "",
			       (unsigned long long)st.st_dev,
			       (unsigned long long)st.st_ino,
			       (long long)st.st_mtim.tv_sec,
			       st.st_mtim.tv_nsec);
		if (len < 0 || (size_t)len >= MAILDIR_STAMP_MAX - n) {
			out[0] = '\0';
			return E2_OK;
		}
		n += (size_t)len;
	}
	return E2_OK;
}

static bool
maildir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

enum e2_status
maildir_locate(const char *folder_path, const char *uniq,
	       const char *hint_flags, bool *found_out, const char **sub_out,
	       char **name_out, struct e2_err *err)
{
	enum e2_status rc;
	char *path = NULL, *name = NULL;
	size_t ulen = strlen(uniq);
	const char *sub = NULL;
	struct dirent *de;
	DIR *d = NULL;

	rc = maildir_path(&path, err, "%s/new/%s", folder_path, uniq);
	if (rc != E2_OK)
		goto out;
	if (maildir_exists(path)) {
		sub = "new";
		name = strdup(uniq);
		goto found;
	}
	free(path);
	path = NULL;
	if (hint_flags != NULL) {
		char fl[MAILDIR_FLAGS_MAX];

		maildir_flags_normalize(hint_flags, fl);
		rc = maildir_path(&path, err, "%s/cur/%s:2,%s", folder_path,
				  uniq, fl);
		if (rc != E2_OK)
			goto out;
		if (maildir_exists(path)) {
			sub = "cur";
			rc = maildir_path(&name, err, "%s:2,%s", uniq, fl);
			if (rc != E2_OK)
				goto out;
			goto found;
		}
		free(path);
		path = NULL;
	}
	rc = maildir_path(&path, err, "%s/cur", folder_path);
	if (rc != E2_OK)
		goto out;
	d = opendir(path);
	if (d == NULL) {
		if (errno != ENOENT)
			rc = maildir_fail_sys(err, errno, "opendir", path);
		else
			*found_out = false;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, uniq, ulen) == 0 &&
		    (de->d_name[ulen] == ':' || de->d_name[ulen] == '\0')) {
			sub = "cur";
			name = strdup(de->d_name);
			goto found;
		}
	}
	*found_out = false;
	goto out;
found:
	if (name == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	*found_out = true;
	*sub_out = sub;
	*name_out = name;
	name = NULL;
out:
	if (d != NULL)
		(void)closedir(d);
	free(name);
	free(path);
	return rc;
}

enum e2_status
maildir_set_flags(const char *folder_path, const char *sub, const char *name,
		  const char *flags, char **name_out, struct e2_err *err)
{
	char old_flags[MAILDIR_FLAGS_MAX], merged[2 * MAILDIR_FLAGS_MAX];
	char fl[MAILDIR_FLAGS_MAX];
	char *from = NULL, *to = NULL, *new_name = NULL;
	enum e2_status rc;
	size_t ulen, o = 0;

	maildir_name_parse(name, &ulen, old_flags);
	/* Standard flags from the caller, keywords (a-z) from the file. */
	for (const char *p = flags; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			merged[o++] = *p;
	for (const char *p = old_flags; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			merged[o++] = *p;
	merged[o] = '\0';
	maildir_flags_normalize(merged, fl);
	rc = maildir_path(&new_name, err, "%.*s:2,%s", (int)ulen, name, fl);
	if (rc == E2_OK)
		rc = maildir_path(&from, err, "%s/%s/%s", folder_path, sub,
				  name);
	if (rc == E2_OK)
		rc = maildir_path(&to, err, "%s/cur/%s", folder_path, new_name);
	if (rc != E2_OK)
		goto out;
	/* Same name: nothing to rename, but the file must still be there. */
	if (strcmp(from, to) == 0 ? access(from, F_OK) != 0
				  : rename(from, to) != 0) {
		int e = errno;

		if (e == ENOENT)
			rc = e2_fail(err, E2_EINVAL, "rename %s: %s", from,
				     strerror(e));
		else
			rc = maildir_fail_sys(err, e, "rename", from);
		goto out;
	}
	if (name_out != NULL) {
		*name_out = new_name;
		new_name = NULL;
	}
out:
	free(new_name);
	free(from);
	free(to);
	return rc;
}

enum e2_status
maildir_remove(const char *folder_path, const char *sub, const char *name,
	       struct e2_err *err)
{
	enum e2_status rc;
	char *path = NULL;

	rc = maildir_path(&path, err, "%s/%s/%s", folder_path, sub, name);
	if (rc != E2_OK)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = maildir_fail_sys(err, errno, "unlink", path);
	free(path);
	return rc;
}

/* Is tmp file name (ours, ",E2") from a writer that can no longer finish? */
static bool
maildir_tmp_orphan(const struct maildir *md, const char *name)
{
	size_t len = strlen(name), olen = strlen(MAILDIR_OURS);
	const char *p, *host;
	long pid;

	if (len <= olen || strcmp(name + len - olen, MAILDIR_OURS) != 0)
		return false;
	p = strchr(name, '.');
	host = p != NULL ? strchr(p + 1, '.') : NULL;
	if (host == NULL ||
	    strncmp(host + 1, md->host, strlen(md->host)) != 0 ||
	    host[1 + strlen(md->host)] != ',')
		return false; /* another host's: the 36-hour rule decides */
	p = strchr(p, 'P');
	if (p == NULL || p > host)
		return false;
	pid = strtol(p + 1, NULL, 10);
	/* a file name is no trusted number: (pid_t) of a larger value
	 * would ask kill() about some other process */
	if (pid <= 0 || pid > INT_MAX)
		return false;
	if (pid == (long)getpid())
		return true;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static enum e2_status
maildir_recover_folder(struct maildir *md, const char *folder, time_t now,
		       size_t *removed, struct e2_err *err)
{
	enum e2_status rc = E2_OK;
	char *path = NULL;
	struct dirent *de;
	DIR *d;

	rc = maildir_path(&path, err, "%s/tmp", folder);
	if (rc != E2_OK)
		return rc;
	d = opendir(path);
	if (d == NULL) {
		if (errno != ENOENT)
			rc = maildir_fail_sys(err, errno, "opendir", path);
		free(path);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_mtime > now - MAILDIR_TMP_STALE &&
		    !maildir_tmp_orphan(md, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
			rc = maildir_fail_sys(err, errno, "unlink", de->d_name);
			break;
		}
		(*removed)++;
	}
	(void)closedir(d);
	free(path);
	return rc;
}

enum e2_status
maildir_recover(struct maildir *md, time_t now, size_t *removed_out,
		struct e2_err *err)
{
	enum e2_status rc;
	size_t removed = 0;
	struct dirent *de;
	DIR *d;

	rc = maildir_recover_folder(md, md->root, now, &removed, err);
	if (rc != E2_OK)
		return rc;
	d = opendir(md->root);
	if (d == NULL)
		return maildir_fail_sys(err, errno, "opendir", md->root);
	while (rc == E2_OK && (de = readdir(d)) != NULL) {
		char *folder = NULL;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		rc = maildir_path(&folder, err, "%s/%s", md->root, de->d_name);
		if (rc == E2_OK)
			rc = maildir_recover_folder(md, folder, now, &removed,
						    err);
		free(folder);
	}
	(void)closedir(d);
	if (rc == E2_OK && removed_out != NULL)
		*removed_out = removed;
	return rc;
}
