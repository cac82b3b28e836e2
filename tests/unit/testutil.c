/* SPDX-License-Identifier: MIT */
/* testutil.c -- temporary directories and fixtures for the Check suites */
#include "config.h"

#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <check.h>

char *
tu_fixture(const char *subdir, const char *name, size_t *len_out)
{
	const char *dir = getenv("E2_TESTDATA");
	char path[4096];
	char *buf;
	size_t len;
	long size;
	FILE *f;

	ck_assert_msg(dir != NULL, "E2_TESTDATA is not set");
	ck_assert_int_lt(
		snprintf(path, sizeof(path), "%s/%s/%s", dir, subdir, name),
		(int)sizeof(path));
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	len = fread(buf, 1, (size_t)size, f);
	ck_assert_uint_eq(len, (size_t)size);
	buf[len] = '\0';
	fclose(f);
	*len_out = len;
	return buf;
}

void
tu_mkdtemp(char *buf, size_t size, const char *prefix)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	ck_assert_int_lt(snprintf(buf, size, "%s/%s.XXXXXX", base, prefix),
			 (int)size);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int
tu_rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

void
tu_rmtree(const char *path)
{
	if (path != NULL && path[0] != '\0')
		(void)nftw(path, tu_rm, 16, FTW_DEPTH | FTW_PHYS);
}
