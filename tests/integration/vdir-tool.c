/* SPDX-License-Identifier: MIT */
/* vdir-tool.c -- a test driver for engine/vdir.c (tests/integration/vdir.sh)
 *
 *   vdir-tool dir STORE contacts|calendars GUID HREF   prints the path
 *   vdir-tool put DIR vcf|ics < ITEM                   creates, prints name
 *   vdir-tool scan DIR          one line per entry: KIND NAME SIZE MTIME_NS
 *                               INODE SHA256 (KIND: item symlink other large
 *                               unreadable tmp-removed)
 *   vdir-tool replace DIR NAME SIZE MTIME_NS INODE SHA256 < ITEM
 *   vdir-tool meta DIR displayname|color VALUE
 * Exit 0 done, 1 refused or failed (the message on stderr), 2 usage.
 */
#include "config.h"

#include "engine/vdir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
vdir_tool_stdin(size_t *len_out)
{
	size_t cap = 4096;
	size_t len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		size_t n = fread(buf + len, 1, cap - len, stdin);
		char *nb;

		len += n;
		if (n == 0)
			break;
		if (len < cap)
			continue;
		cap *= 2;
		nb = realloc(buf, cap);
		if (nb == NULL)
			free(buf);
		buf = nb;
	}
	*len_out = len;
	return buf;
}

static const char *
vdir_tool_kind(enum vdir_entry_kind k)
{
	switch (k) {
	case VDIR_ENTRY_ITEM:
		return "item";
	case VDIR_ENTRY_SYMLINK:
		return "symlink";
	case VDIR_ENTRY_NOT_REGULAR:
		return "other";
	case VDIR_ENTRY_TOO_LARGE:
		return "large";
	case VDIR_ENTRY_UNREADABLE:
		return "unreadable";
	case VDIR_ENTRY_TMP_REMOVED:
		return "tmp-removed";
	}
	return "?";
}

static bool
vdir_tool_unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char)v;
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct e2_err err = {0};
	enum e2_status rc = E2_EINVAL;
	char *data = NULL;
	size_t len = 0;

	if (argc == 6 && strcmp(argv[1], "dir") == 0) {
		char *path = NULL;
		enum vdir_kind kind = strcmp(argv[3], "contacts") == 0
					      ? VDIR_KIND_CONTACTS
					      : VDIR_KIND_CALENDARS;

		rc = vdir_collection_dir(argv[2], kind, argv[4], argv[5], &path,
					 &err);
		if (rc == E2_OK)
			printf("%s\n", path);
		free(path);
	} else if (argc == 4 && strcmp(argv[1], "put") == 0) {
		char name[VDIR_NAME_SIZE];

		data = vdir_tool_stdin(&len);
		if (data == NULL)
			return 1;
		rc = vdir_item_name(data, len, argv[3], name, sizeof(name),
				    &err);
		if (rc == E2_OK)
			rc = vdir_item_write(argv[2], name, data, len, NULL,
					     NULL, &err);
		if (rc == E2_OK)
			printf("%s\n", name);
	} else if (argc == 3 && strcmp(argv[1], "scan") == 0) {
		struct vdir_entry *v = NULL;
		size_t n = 0;

		rc = vdir_scan(argv[2], &v, &n, &err);
		for (size_t i = 0; rc == E2_OK && i < n; i++) {
			char hex[2 * VDIR_SHA256_LEN + 1];

			for (size_t j = 0; j < VDIR_SHA256_LEN; j++)
				(void)snprintf(hex + 2 * j, 3, "%02x",
					       v[i].info.sha256[j]);
			printf("%s %s %" PRIu64 " %" PRId64 " %" PRIu64 " %s\n",
			       vdir_tool_kind(v[i].kind), v[i].info.name,
			       v[i].info.size, v[i].info.mtime_ns,
			       v[i].info.ino, hex);
		}
		free(v);
	} else if (argc == 8 && strcmp(argv[1], "replace") == 0) {
		struct vdir_item_info info;

		memset(&info, 0, sizeof(info));
		info.size = strtoull(argv[4], NULL, 10);
		info.mtime_ns = strtoll(argv[5], NULL, 10);
		info.ino = strtoull(argv[6], NULL, 10);
		if (!vdir_tool_unhex(argv[7], info.sha256, VDIR_SHA256_LEN)) {
			fprintf(stderr, "vdir-tool: bad sha256\n");
			return 2;
		}
		data = vdir_tool_stdin(&len);
		if (data == NULL)
			return 1;
		rc = vdir_item_write(argv[2], argv[3], data, len, &info, NULL,
				     &err);
	} else if (argc == 5 && strcmp(argv[1], "meta") == 0) {
		rc = vdir_meta_write(argv[2], argv[3], argv[4], &err);
	} else {
		fprintf(stderr, "usage: vdir-tool dir|put|scan|replace|meta "
				"...\n");
		return 2;
	}
	free(data);
	if (rc != E2_OK) {
		fprintf(stderr, "vdir-tool: %s\n", err.msg);
		return 1;
	}
	return 0;
}
