/* SPDX-License-Identifier: MIT */
/* testutil.h -- what the Check suites share: temporary dirs and fixtures */
#ifndef E2_TESTUTIL_H
#define E2_TESTUTIL_H

#include <stddef.h>

/*
 * The fixture $E2_TESTDATA/SUBDIR/NAME, read whole and NUL-terminated (the
 * length without the NUL in *len_out). Fails the running test when it cannot
 * be read. Caller frees.
 */
char *tu_fixture(const char *subdir, const char *name, size_t *len_out);

/* Makes $TMPDIR/PREFIX.XXXXXX (default /tmp) into buf; fails the test. */
void tu_mkdtemp(char *buf, size_t size, const char *prefix);

/* Removes path and everything below it; missing is fine. */
void tu_rmtree(const char *path);

#endif /* E2_TESTUTIL_H */
