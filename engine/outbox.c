/* SPDX-License-Identifier: MIT */
/* outbox.c -- where an account's send queue lives (see outbox.h) */
#include "config.h"

#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum e2_status
outbox_path(const char *store_dir, const char *guid, char **path_out,
	    struct e2_err *err)
{
	size_t len;
	char *p;

	if (store_dir == NULL || guid == NULL || guid[0] == '\0' ||
	    strchr(guid, '/') != NULL || strcmp(guid, ".") == 0 ||
	    strcmp(guid, "..") == 0)
		return e2_fail(err, E2_EINVAL,
			       "outbox: \"%s\" is not an account GUID",
			       guid != NULL ? guid : "");
	len = strlen(store_dir) + strlen(guid) + sizeof("/outbox/");
	p = malloc(len);
	if (p == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	(void)snprintf(p, len, "%s/outbox/%s", store_dir, guid);
	*path_out = p;
	return E2_OK;
}

/* mkdir 0700 unless it exists; then it must be a real directory. */
static enum e2_status
outbox_mkdir(const char *path, bool *created_out, struct e2_err *err)
{
	struct stat sb;

	*created_out = false;
	if (mkdir(path, 0700) == 0)
		*created_out = true;
	else if (errno != EEXIST)
		return e2_fail(err, E2_ESTORE, "mkdir %s: %s", path,
			       strerror(errno));
	if (lstat(path, &sb) != 0)
		return e2_fail(err, E2_ESTORE, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return e2_fail(err, E2_ESTORE,
			       "%s is not a directory (a symlink or file is in "
			       "the way of the send queue): remove it",
			       path);
	return E2_OK;
}

enum e2_status
outbox_open(const char *store_dir, const char *guid, char **path_out,
	    bool *created_out, struct e2_err *err)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *q = NULL, *p = NULL;
	bool made = false, ignore;
	size_t len;
	enum e2_status rc;

	rc = outbox_path(store_dir, guid, &q, err);
	if (rc != E2_OK)
		return rc;
	len = strlen(q) + 5;
	p = malloc(len);
	if (p == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	(void)snprintf(p, len, "%s/outbox", store_dir);
	rc = outbox_mkdir(p, &ignore, err);
	if (rc == E2_OK)
		rc = outbox_mkdir(q, &made, err);
	for (size_t i = 0; i < 3 && rc == E2_OK; i++) {
		(void)snprintf(p, len, "%s/%s", q, subs[i]);
		rc = outbox_mkdir(p, &ignore, err);
	}
	if (rc != E2_OK)
		goto out;
	if (created_out != NULL)
		*created_out = made;
	*path_out = q;
	q = NULL;
out:
	free(p);
	free(q);
	return rc;
}
