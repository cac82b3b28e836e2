/* SPDX-License-Identifier: MIT */
/* grow.h -- room for one more element at the end of a growing array */
#ifndef E2_GROW_H
#define E2_GROW_H

#include "email2.h"

#include <stddef.h>

/*
 * Makes room for element n of the array whose address is vp (a T **, cap
 * elements of size bytes now): once n reaches *cap the capacity doubles
 * (first when it was 0). *vp and *cap change only on success; the
 * elements are not cleared. Errors: E2_ENOMEM, also when the size would
 * overflow.
 */
enum e2_status grow_array(void *vp, size_t *cap, size_t n, size_t size,
			  size_t first, struct e2_err *err);

#endif /* E2_GROW_H */
