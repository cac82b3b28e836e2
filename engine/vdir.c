/* SPDX-License-Identifier: MIT */
/* vdir.c -- the local vdir store of contacts and calendars (see vdir.h) */
#include "config.h"

#include "vdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "grow.h"

#define VDIR_TMP_PREFIX ".email2-"
#define VDIR_TMP_SUFFIX ".tmp"
#define VDIR_META_MAX 4096u
#define VDIR_DISPLAYNAME_MAX 256u
#define VDIR_COLL_NAME_SIZE 80u

static bool
vdir_sha256(const void *data, size_t len, unsigned char out[VDIR_SHA256_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 &&
	       n == VDIR_SHA256_LEN;
}

static void
vdir_hex(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* ---- item names ---------------------------------------------------- */

/* One unfolded content line: [*line_out, *line_len) in buf (the caller's
 * scratch of len bytes). Returns the offset after the line in data. */
static size_t
vdir_next_line(const char *data, size_t len, size_t pos, char *buf,
	       size_t *line_len)
{
	size_t n = 0;

	while (pos < len) {
		char c = data[pos];

		if (c == '\r' && pos + 1 < len && data[pos + 1] == '\n') {
			pos++;
			continue;
		}
		if (c == '\n') {
			pos++;
			if (pos < len &&
			    (data[pos] == ' ' || data[pos] == '\t')) {
				pos++; /* a fold: drop the break and one blank
					*/
				continue;
			}
			break;
		}
		buf[n++] = c;
		pos++;
	}
	*line_len = n;
	return pos;
}

/* The property name of a content line (group prefix dropped), and where
 * its value starts (after the first ':' outside quotes), or false. */
static bool
vdir_line_split(const char *line, size_t len, const char **name,
		size_t *name_len, const char **value, size_t *value_len)
{
	size_t i = 0;
	size_t start = 0;
	bool quoted = false;

	while (i < len && line[i] != ':' && line[i] != ';') {
		if (line[i] == '.')
			start = i + 1;
		i++;
	}
	if (i == len)
		return false;
	*name = line + start;
	*name_len = i - start;
	for (; i < len; i++) {
		if (line[i] == '"')
			quoted = !quoted;
		else if (line[i] == ':' && !quoted)
			break;
	}
	if (i == len)
		return false;
	*value = line + i + 1;
	*value_len = len - i - 1;
	return true;
}

static bool
vdir_ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static bool
vdir_istarts(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && strncasecmp(s, lit, n) == 0;
}

/*
 * Finds the UID (see vdir.h) into uid (len bytes of scratch). The depth
 * counts BEGIN/END; for vCard the UID is taken at depth 1 in a VCARD, for
 * iCalendar at depth 2 in the first VEVENT/VTODO/VJOURNAL.
 */
static bool
vdir_find_uid(const char *data, size_t len, bool ics, char *buf,
	      const char **uid, size_t *uid_len)
{
	size_t pos = 0;
	unsigned depth = 0;
	bool in_target = false; /* inside the component whose UID counts */
	bool seen_target = false;

	while (pos < len) {
		const char *name;
		const char *value;
		size_t line_len;
		size_t name_len;
		size_t value_len;

		pos = vdir_next_line(data, len, pos, buf, &line_len);
		if (!vdir_line_split(buf, line_len, &name, &name_len, &value,
				     &value_len))
			continue;
		if (vdir_ieq(name, name_len, "BEGIN")) {
			depth++;
			if (!seen_target &&
			    ((!ics && depth == 1 &&
			      vdir_ieq(value, value_len, "VCARD")) ||
			     (ics && depth == 2 &&
			      (vdir_ieq(value, value_len, "VEVENT") ||
			       vdir_ieq(value, value_len, "VTODO") ||
			       vdir_ieq(value, value_len, "VJOURNAL"))))) {
				in_target = true;
				seen_target = true;
			}
			continue;
		}
		if (vdir_ieq(name, name_len, "END")) {
			if (in_target && depth == (ics ? 2u : 1u))
				return false; /* the component had no UID */
			if (depth > 0)
				depth--;
			continue;
		}
		if (in_target && depth == (ics ? 2u : 1u) &&
		    vdir_ieq(name, name_len, "UID")) {
			if (value_len == 0)
				return false;
			*uid = value;
			*uid_len = value_len;
			return true;
		}
	}
	return false;
}

static bool
vdir_uid_safe(const char *uid, size_t len)
{
	if (len == 0 || len > VDIR_UID_MAX || uid[0] == '.')
		return false;
	if (vdir_istarts(uid, len, "sha256-") ||
	    vdir_istarts(uid, len, "nouid-"))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uid[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '@'))
			return false;
	}
	return true;
}

enum e2_status
vdir_item_name(const char *data, size_t len, const char *ext, char *name_out,
	       size_t name_size, struct e2_err *err)
{
	unsigned char md[VDIR_SHA256_LEN];
	char hex[2 * VDIR_SHA256_LEN + 1];
	const char *uid = NULL;
	size_t uid_len = 0;
	char *buf = NULL;
	bool ics;
	bool found;

	if (ext == NULL || (strcmp(ext, "vcf") != 0 && strcmp(ext, "ics") != 0))
		return e2_fail(err, E2_EINVAL,
			       "item extension must be vcf or ics");
	if (name_size < VDIR_NAME_SIZE)
		return e2_fail(err, E2_EINVAL, "item name buffer too small");
	ics = strcmp(ext, "ics") == 0;
	buf = malloc(len + 1);
	if (buf == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	found = vdir_find_uid(data, len, ics, buf, &uid, &uid_len);
	if (found && vdir_uid_safe(uid, uid_len)) {
		(void)snprintf(name_out, name_size, "%.*s.%s", (int)uid_len,
			       uid, ext);
	} else if (found) {
		if (!vdir_sha256(uid, uid_len, md))
			goto nomem;
		vdir_hex(md, sizeof(md), hex);
		(void)snprintf(name_out, name_size, "sha256-%s.%s", hex, ext);
	} else {
		if (!vdir_sha256(data, len, md))
			goto nomem;
		vdir_hex(md, sizeof(md), hex);
		(void)snprintf(name_out, name_size, "nouid-%s.%s", hex, ext);
	}
	free(buf);
	return E2_OK;
nomem:
	free(buf);
	return e2_fail(err, E2_ENOMEM, "sha-256 failed");
}

static bool
vdir_has_ext(const char *name, size_t len)
{
	return len > 4 && (strcmp(name + len - 4, ".vcf") == 0 ||
			   strcmp(name + len - 4, ".ics") == 0);
}

bool
vdir_name_ok(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len >= VDIR_NAME_SIZE || !vdir_has_ext(name, len) || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

/* ---- collections --------------------------------------------------- */

static bool
vdir_segment_safe(const char *s, size_t len)
{
	if (len == 0 || len > VDIR_COLL_MAX || s[0] == '.' ||
	    vdir_istarts(s, len, "href-"))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

enum e2_status
vdir_collection_name(const char *href, unsigned n, char *out, size_t out_size,
		     struct e2_err *err)
{
	size_t len;
	size_t end;
	size_t start;
	char base[VDIR_COLL_NAME_SIZE];

	if (href == NULL || n >= VDIR_CLAIM_TRIES ||
	    out_size < VDIR_COLL_NAME_SIZE)
		return e2_fail(err, E2_EINVAL, "bad collection name request");
	len = strlen(href);
	end = len;
	while (end > 0 && href[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && href[start - 1] != '/')
		start--;
	if (vdir_segment_safe(href + start, end - start)) {
		(void)snprintf(base, sizeof(base), "%.*s", (int)(end - start),
			       href + start);
	} else {
		unsigned char md[VDIR_SHA256_LEN];
		char hex[2 * VDIR_SHA256_LEN + 1];

		if (!vdir_sha256(href, len, md))
			return e2_fail(err, E2_ENOMEM, "sha-256 failed");
		vdir_hex(md, sizeof(md), hex);
		(void)snprintf(base, sizeof(base), "href-%.32s", hex);
	}
	if (n == 0)
		(void)snprintf(out, out_size, "%s", base);
	else
		(void)snprintf(out, out_size, "%s~%u", base, n + 1);
	return E2_OK;
}

/* Makes the directory path (0700) when missing; an existing one must be a
 * directory, and not a symlink unless follow (the store itself may be). */
static enum e2_status
vdir_mkdir(const char *path, bool follow, struct e2_err *err)
{
	struct stat st;

	if (mkdir(path, 0700) == 0 || errno == EEXIST) {
		if ((follow ? stat(path, &st) : lstat(path, &st)) != 0 ||
		    !S_ISDIR(st.st_mode))
			return e2_fail(err, E2_ESTORE,
				       "%s: not a directory (or a symlink)",
				       path);
		return E2_OK;
	}
	return e2_fail(err, E2_ESTORE, "mkdir %s: %s", path, strerror(errno));
}

/* Writes fd's whole buffer; false with errno on failure. */
static bool
vdir_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads at most cap bytes of a small file under dirfd (no symlink);
 * -1 with errno, else the length (cap + 1 means "more"). */
static ssize_t
vdir_read_small(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	size_t got = 0;
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	while (got <= cap) {
		ssize_t n = read(fd, buf + got, cap + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

/* The owner of the collection directory at dirfd: 1 href, 0 another, -1
 * none (then claims it for href), -2 error (err set). */
static int
vdir_claim(int dirfd, const char *path, const char *href, struct e2_err *err)
{
	char *buf = NULL;
	size_t hlen = strlen(href);
	ssize_t n;
	int fd = -1;
	int rc = -2;
	const char *tmp = VDIR_TMP_PREFIX "href" VDIR_TMP_SUFFIX;

	buf = malloc(hlen + 2);
	if (buf == NULL) {
		(void)e2_fail(err, E2_ENOMEM, "out of memory");
		return -2;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		n = vdir_read_small(dirfd, VDIR_OWNER_FILE, buf, hlen);
		if (n >= 0) {
			rc = ((size_t)n == hlen && memcmp(buf, href, hlen) == 0)
				     ? 1
				     : 0;
			goto out;
		}
		if (errno != ENOENT) {
			(void)e2_fail(err, E2_ESTORE, "%s/%s: %s", path,
				      VDIR_OWNER_FILE, strerror(errno));
			goto out;
		}
		if (attempt == 1)
			break;
		(void)unlinkat(dirfd, tmp, 0);
		fd = openat(dirfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
		if (fd < 0 || !vdir_write_all(fd, href, hlen) ||
		    fsync(fd) != 0 ||
		    (linkat(dirfd, tmp, dirfd, VDIR_OWNER_FILE, 0) != 0 &&
		     errno != EEXIST)) {
			(void)e2_fail(err, E2_ESTORE, "%s/%s: %s", path,
				      VDIR_OWNER_FILE, strerror(errno));
			goto out;
		}
		(void)close(fd);
		fd = -1;
		(void)unlinkat(dirfd, tmp, 0);
		(void)fsync(dirfd);
	}
	(void)e2_fail(err, E2_ESTORE, "%s/%s: vanished", path, VDIR_OWNER_FILE);
out:
	if (fd >= 0)
		(void)close(fd);
	free(buf);
	return rc;
}

const char *
vdir_kind_name(enum vdir_kind kind)
{
	return kind == VDIR_KIND_CONTACTS ? "contacts" : "calendars";
}

enum e2_status
vdir_collection_dir(const char *store, enum vdir_kind kind, const char *guid,
		    const char *href, char **path_out, struct e2_err *err)
{
	const char *sub = vdir_kind_name(kind);
	char name[VDIR_COLL_NAME_SIZE];
	char *path = NULL;
	size_t size;
	enum e2_status rc;

	if (store == NULL || guid == NULL || href == NULL || guid[0] == '\0' ||
	    guid[0] == '.' || strchr(guid, '/') != NULL)
		return e2_fail(err, E2_EINVAL, "bad account directory %s",
			       guid == NULL ? "(null)" : guid);
	size = strlen(store) + strlen(guid) + VDIR_COLL_NAME_SIZE + 16;
	path = malloc(size);
	if (path == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	(void)snprintf(path, size, "%s", store);
	rc = vdir_mkdir(path, true, err);
	(void)snprintf(path, size, "%s/%s", store, sub);
	if (rc == E2_OK)
		rc = vdir_mkdir(path, false, err);
	(void)snprintf(path, size, "%s/%s/%s", store, sub, guid);
	if (rc == E2_OK)
		rc = vdir_mkdir(path, false, err);
	for (unsigned n = 0; rc == E2_OK && n < VDIR_CLAIM_TRIES; n++) {
		int dirfd;
		int owner;

		rc = vdir_collection_name(href, n, name, sizeof(name), err);
		if (rc != E2_OK)
			break;
		(void)snprintf(path, size, "%s/%s/%s/%s", store, sub, guid,
			       name);
		rc = vdir_mkdir(path, false, err);
		if (rc != E2_OK)
			break;
		dirfd = open(path,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd < 0) {
			rc = e2_fail(err, E2_ESTORE, "%s: %s", path,
				     strerror(errno));
			break;
		}
		owner = vdir_claim(dirfd, path, href, err);
		(void)close(dirfd);
		if (owner == -2) {
			rc = err->code != E2_OK ? err->code : E2_ESTORE;
			break;
		}
		if (owner != 0) {
			*path_out = path;
			return E2_OK;
		}
	}
	if (rc == E2_OK)
		rc = e2_fail(err, E2_EINVAL,
			     "collection %s: every directory name is taken",
			     name);
	free(path);
	return rc;
}

enum e2_status
vdir_collection_existing(const char *store, enum vdir_kind kind,
			 const char *guid, const char *name, char **path_out,
			 struct e2_err *err)
{
	const char *sub = vdir_kind_name(kind);
	struct stat st;
	char *path = NULL;

	*path_out = NULL;
	if (store == NULL || guid == NULL || name == NULL || guid[0] == '\0' ||
	    guid[0] == '.' || strchr(guid, '/') != NULL || name[0] == '\0' ||
	    name[0] == '.' || strchr(name, '/') != NULL)
		return e2_fail(err, E2_EINVAL, "bad collection directory");
	if (asprintf(&path, "%s/%s/%s/%s", store, sub, guid, name) < 0)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		*path_out = path;
		return E2_OK;
	}
	free(path);
	return E2_OK;
}

/* ---- items --------------------------------------------------------- */

/* Opens dir (not a symlink) as a directory fd, or -1 with err set. */
static int
vdir_open_dir(const char *dir, struct e2_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		(void)e2_fail(err, E2_ESTORE, "collection %s: %s", dir,
			      strerror(errno));
	return fd;
}

static void
vdir_info_from_stat(const struct stat *st, struct vdir_item_info *info)
{
	info->size = (uint64_t)st->st_size;
	info->mtime_ns =
		(int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	info->ino = (uint64_t)st->st_ino;
}

/*
 * Reads the item NAME under dirfd into *data_out (may be NULL: only the
 * identity). Returns the entry kind; sets *errno_out for UNREADABLE.
 */
static enum vdir_entry_kind
vdir_read_at(int dirfd, const char *name, char **data_out, size_t *len_out,
	     struct vdir_item_info *info, int *errno_out)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	*errno_out = 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		goto fail;
	if (S_ISLNK(st.st_mode))
		return VDIR_ENTRY_SYMLINK;
	if (!S_ISREG(st.st_mode))
		return VDIR_ENTRY_NOT_REGULAR;
	if ((uint64_t)st.st_size > VDIR_ITEM_CAP) {
		info->size = (uint64_t)st.st_size;
		return VDIR_ENTRY_TOO_LARGE;
	}
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return VDIR_ENTRY_SYMLINK;
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		*errno_out = errno;
		(void)close(fd);
		return VDIR_ENTRY_UNREADABLE;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return VDIR_ENTRY_NOT_REGULAR;
	}
	if ((uint64_t)st.st_size > VDIR_ITEM_CAP) {
		(void)close(fd);
		info->size = (uint64_t)st.st_size;
		return VDIR_ENTRY_TOO_LARGE;
	}
	/* a file growing while we read is read up to its size at fstat() */
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		(void)close(fd);
		*errno_out = ENOMEM;
		return VDIR_ENTRY_UNREADABLE;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errno_out = errno;
			free(buf);
			(void)close(fd);
			return VDIR_ENTRY_UNREADABLE;
		}
		got += (size_t)n;
		if (n == 0 || got == (size_t)st.st_size)
			break;
	}
	(void)close(fd);
	buf[got] = '\0';
	vdir_info_from_stat(&st, info);
	info->size = got;
	if (!vdir_sha256(buf, got, info->sha256)) {
		free(buf);
		*errno_out = ENOMEM;
		return VDIR_ENTRY_UNREADABLE;
	}
	if (data_out != NULL) {
		*data_out = buf;
		*len_out = got;
	} else {
		free(buf);
	}
	return VDIR_ENTRY_ITEM;
fail:
	*errno_out = errno;
	return VDIR_ENTRY_UNREADABLE;
}

static bool
vdir_is_our_tmp(const char *name)
{
	size_t len = strlen(name);
	size_t pl = strlen(VDIR_TMP_PREFIX);
	size_t sl = strlen(VDIR_TMP_SUFFIX);

	return len > pl + sl && strncmp(name, VDIR_TMP_PREFIX, pl) == 0 &&
	       strcmp(name + len - sl, VDIR_TMP_SUFFIX) == 0;
}

static int
vdir_entry_cmp(const void *a, const void *b)
{
	const struct vdir_entry *x = a;
	const struct vdir_entry *y = b;

	return strcmp(x->info.name, y->info.name);
}

/* The identity of NAME under dirfd by lstat only (no read, no hash). */
static enum vdir_entry_kind
vdir_stat_at(int dirfd, const char *name, struct vdir_item_info *info,
	     int *errno_out)
{
	struct stat st;

	*errno_out = 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		*errno_out = errno;
		return VDIR_ENTRY_UNREADABLE;
	}
	if (S_ISLNK(st.st_mode))
		return VDIR_ENTRY_SYMLINK;
	if (!S_ISREG(st.st_mode))
		return VDIR_ENTRY_NOT_REGULAR;
	vdir_info_from_stat(&st, info);
	if ((uint64_t)st.st_size > VDIR_ITEM_CAP)
		return VDIR_ENTRY_TOO_LARGE;
	return VDIR_ENTRY_ITEM;
}

/* What vdir_scan_impl() does besides listing. */
enum vdir_scan_how {
	VDIR_SCAN_HASH = 1u,     /* read and hash every item */
	VDIR_SCAN_KEEP_TMP = 2u, /* leave our temporaries (a preview) */
};

static enum e2_status vdir_scan_impl(const char *dir, unsigned how,
				     struct vdir_entry **entries_out,
				     size_t *n_out, struct e2_err *err);

enum e2_status
vdir_scan(const char *dir, struct vdir_entry **entries_out, size_t *n_out,
	  struct e2_err *err)
{
	return vdir_scan_impl(dir, VDIR_SCAN_HASH, entries_out, n_out, err);
}

enum e2_status
vdir_stat_scan(const char *dir, struct vdir_entry **entries_out, size_t *n_out,
	       struct e2_err *err)
{
	return vdir_scan_impl(dir, 0, entries_out, n_out, err);
}

enum e2_status
vdir_stat_scan_readonly(const char *dir, struct vdir_entry **entries_out,
			size_t *n_out, struct e2_err *err)
{
	return vdir_scan_impl(dir, VDIR_SCAN_KEEP_TMP, entries_out, n_out, err);
}

static enum e2_status
vdir_scan_impl(const char *dir, unsigned how, struct vdir_entry **entries_out,
	       size_t *n_out, struct e2_err *err)
{
	struct vdir_entry *v = NULL;
	size_t n = 0;
	size_t cap = 0;
	bool removed = false;
	int dirfd;
	DIR *d = NULL;
	struct dirent *de;
	enum e2_status rc = E2_OK;

	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0)
		return E2_ESTORE;
	d = fdopendir(dirfd);
	if (d == NULL) {
		(void)close(dirfd);
		return e2_fail(err, E2_ESTORE, "collection %s: %s", dir,
			       strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct vdir_entry *e;
		struct stat st;

		if (strlen(name) >= sizeof(v->info.name))
			continue; /* no name of ours or vdir_name_ok()'s */
		if (vdir_is_our_tmp(name)) {
			if ((how & VDIR_SCAN_KEEP_TMP) != 0 ||
			    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) !=
				    0 ||
			    !S_ISREG(st.st_mode) ||
			    unlinkat(dirfd, name, 0) != 0)
				continue;
			removed = true;
		} else if (!vdir_name_ok(name)) {
			continue; /* dotfiles, *.tmp, metadata, other names */
		}
		rc = grow_array(&v, &cap, n, sizeof(*v), 64, err);
		if (rc != E2_OK)
			goto out;
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->info.name, name, strlen(name) + 1);
		if (vdir_is_our_tmp(name)) {
			e->kind = VDIR_ENTRY_TMP_REMOVED;
			continue;
		}
		if ((how & VDIR_SCAN_HASH) != 0)
			e->kind = vdir_read_at(dirfd, name, NULL, NULL,
					       &e->info, &e->sys_errno);
		else
			e->kind = vdir_stat_at(dirfd, name, &e->info,
					       &e->sys_errno);
		if (e->kind == VDIR_ENTRY_UNREADABLE && e->sys_errno == ENOENT)
			n--; /* deleted since readdir(): not an item any more */
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), vdir_entry_cmp);
	if (removed)
		(void)fsync(dirfd); /* the temporaries' names gone */
out:
	(void)closedir(d);
	if (rc != E2_OK) {
		free(v);
		return rc;
	}
	*entries_out = v;
	*n_out = n;
	return E2_OK;
}

enum e2_status
vdir_item_read(const char *dir, const char *name, char **data_out,
	       size_t *len_out, struct vdir_item_info *info_out,
	       struct e2_err *err)
{
	struct vdir_item_info info;
	char *data = NULL;
	size_t len = 0;
	int eno = 0;
	int dirfd;
	enum vdir_entry_kind kind;

	if (!vdir_name_ok(name))
		return e2_fail(err, E2_EINVAL, "bad item name");
	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0)
		return E2_ESTORE;
	memset(&info, 0, sizeof(info));
	kind = vdir_read_at(dirfd, name, &data, &len, &info, &eno);
	(void)close(dirfd);
	switch (kind) {
	case VDIR_ENTRY_ITEM:
		break;
	case VDIR_ENTRY_UNREADABLE:
		return e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, name,
			       strerror(eno));
	case VDIR_ENTRY_SYMLINK:
		return e2_fail(err, E2_EINVAL, "%s/%s: a symlink, not followed",
			       dir, name);
	case VDIR_ENTRY_TOO_LARGE:
		return e2_fail(err, E2_EINVAL, "%s/%s: over %u bytes", dir,
			       name, VDIR_ITEM_CAP);
	default:
		return e2_fail(err, E2_EINVAL, "%s/%s: not a regular file", dir,
			       name);
	}
	(void)snprintf(info.name, sizeof(info.name), "%s", name);
	if (info_out != NULL)
		*info_out = info;
	*data_out = data;
	*len_out = len;
	return E2_OK;
}

/* E2_OK when NAME under dirfd still has expect's identity; E2_EBUSY when
 * it changed; *gone_out when it is missing. */
static enum e2_status
vdir_check_identity(int dirfd, const char *dir, const char *name,
		    const struct vdir_item_info *expect, bool *gone_out,
		    struct e2_err *err)
{
	struct vdir_item_info now;
	int eno = 0;
	enum vdir_entry_kind kind;

	*gone_out = false;
	memset(&now, 0, sizeof(now));
	kind = vdir_read_at(dirfd, name, NULL, NULL, &now, &eno);
	if (kind == VDIR_ENTRY_UNREADABLE && eno == ENOENT) {
		*gone_out = true;
		return E2_OK;
	}
	if (kind == VDIR_ENTRY_UNREADABLE)
		return e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, name,
			       strerror(eno));
	if (kind != VDIR_ENTRY_ITEM || now.size != expect->size ||
	    now.mtime_ns != expect->mtime_ns || now.ino != expect->ino ||
	    memcmp(now.sha256, expect->sha256, VDIR_SHA256_LEN) != 0)
		return e2_fail(err, E2_EBUSY, "%s/%s: changed meanwhile", dir,
			       name);
	return E2_OK;
}

/*
 * The write of vdir_item_write() under an open dirfd; the directory is
 * flushed only with dirsync (a vdir_folder flushes once per batch).
 */
static enum e2_status
vdir_write_at(int dirfd, const char *dir, const char *name, const char *data,
	      size_t len, const struct vdir_item_info *expect,
	      struct vdir_item_info *info_out, bool dirsync, struct e2_err *err)
{
	char tmp[VDIR_NAME_SIZE + 16];
	struct vdir_item_info info;
	struct stat st;
	bool gone = false;
	bool tmp_made = false;
	int fd = -1;
	enum e2_status rc = E2_OK;

	if (!vdir_name_ok(name))
		return e2_fail(err, E2_EINVAL, "bad item name");
	if (len > VDIR_ITEM_CAP)
		return e2_fail(err, E2_EINVAL, "item %s: over %u bytes", name,
			       VDIR_ITEM_CAP);
	(void)snprintf(tmp, sizeof(tmp), VDIR_TMP_PREFIX "%s" VDIR_TMP_SUFFIX,
		       name);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* what a killed run of ours left: ours to remove */
		(void)unlinkat(dirfd, tmp, 0);
		fd = openat(dirfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
	}
	if (fd < 0) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, tmp,
			     strerror(errno));
		goto out;
	}
	tmp_made = true;
	if (!vdir_write_all(fd, data, len) || fsync(fd) != 0 ||
	    fstat(fd, &st) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, tmp,
			     strerror(errno));
		goto out;
	}
	memset(&info, 0, sizeof(info));
	(void)snprintf(info.name, sizeof(info.name), "%s", name);
	vdir_info_from_stat(&st, &info);
	if (!vdir_sha256(data, len, info.sha256)) {
		rc = e2_fail(err, E2_ENOMEM, "sha-256 failed");
		goto out;
	}
	if (expect == NULL) {
		if (linkat(dirfd, tmp, dirfd, name, 0) != 0) {
			if (errno == EEXIST)
				rc = e2_fail(err, E2_EBUSY,
					     "%s/%s: exists already", dir,
					     name);
			else
				rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir,
					     name, strerror(errno));
			goto out;
		}
	} else {
		rc = vdir_check_identity(dirfd, dir, name, expect, &gone, err);
		if (rc == E2_OK && gone)
			rc = e2_fail(err, E2_EBUSY,
				     "%s/%s: changed meanwhile (deleted)", dir,
				     name);
		if (rc != E2_OK)
			goto out;
		if (renameat(dirfd, tmp, dirfd, name) != 0) {
			rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, name,
				     strerror(errno));
			goto out;
		}
		tmp_made = false;
	}
	if (dirsync && fsync(dirfd) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (info_out != NULL)
		*info_out = info;
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp_made)
		(void)unlinkat(dirfd, tmp, 0);
	return rc;
}

enum e2_status
vdir_item_write(const char *dir, const char *name, const char *data, size_t len,
		const struct vdir_item_info *expect,
		struct vdir_item_info *info_out, struct e2_err *err)
{
	int dirfd = vdir_open_dir(dir, err);
	enum e2_status rc;

	if (dirfd < 0)
		return E2_ESTORE;
	rc = vdir_write_at(dirfd, dir, name, data, len, expect, info_out, true,
			   err);
	(void)close(dirfd);
	return rc;
}

/* ---- a folder held open: writes flushed once per batch ---- */

struct vdir_folder {
	int dirfd;
	char *dir;
	bool dirty; /* names changed since the last flush */
};

enum e2_status
vdir_folder_open(const char *dir, struct vdir_folder **f_out,
		 struct e2_err *err)
{
	struct vdir_folder *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = strdup(dir)) == NULL) {
		free(f);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	f->dirfd = vdir_open_dir(dir, err);
	if (f->dirfd < 0) {
		free(f->dir);
		free(f);
		return E2_ESTORE;
	}
	*f_out = f;
	return E2_OK;
}

enum e2_status
vdir_folder_write(struct vdir_folder *f, const char *name, const char *data,
		  size_t len, const struct vdir_item_info *expect,
		  struct vdir_item_info *info_out, struct e2_err *err)
{
	enum e2_status rc = vdir_write_at(f->dirfd, f->dir, name, data, len,
					  expect, info_out, false, err);

	/* a failed write may have linked or renamed before it failed */
	f->dirty = true;
	return rc;
}

enum e2_status
vdir_folder_flush(struct vdir_folder *f, struct e2_err *err)
{
	if (f == NULL || !f->dirty)
		return E2_OK;
	if (fsync(f->dirfd) != 0)
		return e2_fail(err, E2_ESTORE, "%s: %s", f->dir,
			       strerror(errno));
	f->dirty = false;
	return E2_OK;
}

void
vdir_folder_close(struct vdir_folder **f)
{
	if (f == NULL || *f == NULL)
		return;
	(void)close((*f)->dirfd);
	free((*f)->dir);
	free(*f);
	*f = NULL;
}

enum e2_status
vdir_conflict_write(const char *dir, const char *name, const char *data,
		    size_t len, char *name_out, size_t name_size,
		    struct e2_err *err)
{
	unsigned char sha[VDIR_SHA256_LEN];
	char hex[2 * VDIR_SHA256_LEN + 1];
	char cname[VDIR_NAME_SIZE + 32];
	char tmp[sizeof(cname) + 16];
	bool tmp_made = false;
	int dirfd;
	int fd = -1;
	enum e2_status rc = E2_OK;

	if (!vdir_name_ok(name))
		return e2_fail(err, E2_EINVAL, "bad item name");
	if (!vdir_sha256(data, len, sha))
		return e2_fail(err, E2_ENOMEM, "sha-256 failed");
	vdir_hex(sha, VDIR_SHA256_LEN, hex);
	(void)snprintf(cname, sizeof(cname), "%s" VDIR_CONFLICT_INFIX "%.12s",
		       name, hex);
	if (strlen(cname) >= name_size)
		return e2_fail(err, E2_EINVAL, "conflict name too long");
	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0)
		return E2_ESTORE;
	(void)snprintf(tmp, sizeof(tmp), VDIR_TMP_PREFIX "%s" VDIR_TMP_SUFFIX,
		       cname);
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, tmp,
			     strerror(errno));
		goto out;
	}
	tmp_made = true;
	if (!vdir_write_all(fd, data, len) || fsync(fd) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, tmp,
			     strerror(errno));
		goto out;
	}
	/* named by content: one already there holds these very bytes */
	if (linkat(dirfd, tmp, dirfd, cname, 0) != 0 && errno != EEXIST) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, cname,
			     strerror(errno));
		goto out;
	}
	if (fsync(dirfd) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s: %s", dir, strerror(errno));
		goto out;
	}
	(void)snprintf(name_out, name_size, "%s", cname);
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp_made)
		(void)unlinkat(dirfd, tmp, 0);
	(void)close(dirfd);
	return rc;
}

enum e2_status
vdir_item_delete(const char *dir, const char *name,
		 const struct vdir_item_info *expect, struct e2_err *err)
{
	bool gone = false;
	int dirfd;
	enum e2_status rc;

	if (!vdir_name_ok(name) || expect == NULL)
		return e2_fail(err, E2_EINVAL, "bad item name");
	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0)
		return E2_ESTORE;
	rc = vdir_check_identity(dirfd, dir, name, expect, &gone, err);
	if (rc == E2_OK && !gone && unlinkat(dirfd, name, 0) != 0 &&
	    errno != ENOENT)
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, name,
			     strerror(errno));
	if (rc == E2_OK && fsync(dirfd) != 0)
		rc = e2_fail(err, E2_ESTORE, "%s: %s", dir, strerror(errno));
	(void)close(dirfd);
	return rc;
}

/* ---- metadata ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (at most len bytes), 0 if bad. */
static size_t
vdir_utf8_len(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool
vdir_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

enum e2_status
vdir_meta_sanitise(const char *key, const char *value, size_t len, char **out,
		   struct e2_err *err)
{
	const unsigned char *s = (const unsigned char *)value;
	char *buf;
	size_t n = 0;
	size_t i = 0;

	if (key == NULL ||
	    (strcmp(key, "displayname") != 0 && strcmp(key, "color") != 0))
		return e2_fail(err, E2_EINVAL, "unknown metadata %s",
			       key == NULL ? "(null)" : key);
	buf = malloc(len + 1);
	if (buf == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (i < len && s[i] != '\r' && s[i] != '\n') {
		size_t cl;

		if (s[i] < 0x20 || s[i] == 0x7f) {
			i++;
			continue;
		}
		cl = vdir_utf8_len(s + i, len - i);
		if (cl == 0)
			goto bad;
		if (n + cl > VDIR_DISPLAYNAME_MAX)
			break;
		memcpy(buf + n, s + i, cl);
		n += cl;
		i += cl;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (n == 0)
		goto bad;
	if (strcmp(key, "color") == 0) {
		if ((n != 7 && n != 9) || buf[0] != '#')
			goto bad;
		for (i = 1; i < n; i++)
			if (!vdir_is_hex(buf[i]))
				goto bad;
	}
	*out = buf;
	return E2_OK;
bad:
	free(buf);
	return e2_fail(err, E2_EINVAL, "metadata %s: no valid value", key);
}

enum e2_status
vdir_meta_write(const char *dir, const char *key, const char *value,
		struct e2_err *err)
{
	char tmp[64];
	char *clean = NULL;
	int dirfd = -1;
	int fd = -1;
	enum e2_status rc;

	rc = vdir_meta_sanitise(key, value, value == NULL ? 0 : strlen(value),
				&clean, err);
	if (rc != E2_OK)
		return rc;
	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0) {
		rc = E2_ESTORE;
		goto out;
	}
	(void)snprintf(tmp, sizeof(tmp), VDIR_TMP_PREFIX "%s" VDIR_TMP_SUFFIX,
		       key);
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !vdir_write_all(fd, clean, strlen(clean)) ||
	    fsync(fd) != 0 || renameat(dirfd, tmp, dirfd, key) != 0 ||
	    fsync(dirfd) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s/%s: %s", dir, key,
			     strerror(errno));
		(void)unlinkat(dirfd, tmp, 0);
	}
out:
	if (fd >= 0)
		(void)close(fd);
	if (dirfd >= 0)
		(void)close(dirfd);
	free(clean);
	return rc;
}

enum e2_status
vdir_meta_read(const char *dir, const char *key, char **value_out,
	       struct e2_err *err)
{
	char buf[VDIR_META_MAX + 2];
	struct e2_err scratch = {0};
	ssize_t n;
	int dirfd;

	if (key == NULL ||
	    (strcmp(key, "displayname") != 0 && strcmp(key, "color") != 0))
		return e2_fail(err, E2_EINVAL, "unknown metadata %s",
			       key == NULL ? "(null)" : key);
	dirfd = vdir_open_dir(dir, err);
	if (dirfd < 0)
		return E2_ESTORE;
	n = vdir_read_small(dirfd, key, buf, VDIR_META_MAX);
	(void)close(dirfd);
	*value_out = NULL;
	if (n < 0 || (size_t)n > VDIR_META_MAX)
		return E2_OK;
	if (vdir_meta_sanitise(key, buf, (size_t)n, value_out, &scratch) ==
	    E2_ENOMEM)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	return E2_OK;
}
