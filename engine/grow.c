/* SPDX-License-Identifier: MIT */
/* grow.c -- room for one more element at the end of a growing array */
#include "config.h"

#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum e2_status
grow_array(void *vp, size_t *cap, size_t n, size_t size, size_t first,
	   struct e2_err *err)
{
	size_t ncap;
	void *v, *g;

	if (n < *cap)
		return E2_OK;
	ncap = *cap == 0 ? first : *cap * 2;
	if (ncap <= n)
		ncap = n + 1;
	if (size != 0 && ncap > SIZE_MAX / size)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	/* vp is a T **: read and write the pointer as bytes, not as void * */
	memcpy(&v, vp, sizeof(v));
	g = realloc(v, ncap * size);
	if (g == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	memcpy(vp, &g, sizeof(g));
	*cap = ncap;
	/* g is stored through vp: cppcheck does not follow the memcpy */
	/* cppcheck-suppress memleak */
	return E2_OK;
}
