/* SPDX-License-Identifier: MIT */
/* imap_copyuid.c -- the COPYUID response code of a batched UID COPY / MOVE */
#include "config.h"

#include "imap_copyuid.h"

#include <string.h>

static uint32_t
range_lo(const struct imap_uid_range *r)
{
	return r->first < r->last ? r->first : r->last;
}

static uint64_t
range_count(const struct imap_uid_range *r)
{
	uint32_t lo = range_lo(r), hi = r->first < r->last ? r->last : r->first;

	return (uint64_t)hi - lo + 1;
}

/* The total of UIDs in v, or UINT64_MAX when a range holds 0 ("*"). */
static uint64_t
set_count(const struct imap_uid_range *v, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].first == 0 || v[i].last == 0)
			return UINT64_MAX;
		total += range_count(&v[i]);
	}
	return total;
}

/* The index of uid in the ascending asked[n], or n. */
static size_t
asked_find(const uint32_t *asked, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (asked[mid] == uid)
			return mid;
		if (asked[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

bool
imap_copyuid_map(const uint32_t *asked, size_t n,
		 const struct imap_uid_range *src, size_t nsrc,
		 const struct imap_uid_range *dst, size_t ndst,
		 uint32_t *dst_out)
{
	uint64_t ns = set_count(src, nsrc), nd = set_count(dst, ndst);
	size_t di = 0;
	uint64_t doff = 0;
	uint32_t prev = 0;

	if (n > 0)
		memset(dst_out, 0, n * sizeof(*dst_out));
	if (ns == UINT64_MAX || ns != nd || ns > n)
		return false;
	for (size_t si = 0; si < nsrc; si++) {
		uint64_t cnt = range_count(&src[si]);
		uint32_t lo = range_lo(&src[si]);

		for (uint64_t k = 0; k < cnt; k++) {
			uint32_t s = (uint32_t)(lo + k), d;
			size_t at = asked_find(asked, n, s);

			/* nd == ns: a destination is left for every source */
			while (doff >= range_count(&dst[di])) {
				di++;
				doff = 0;
			}
			d = (uint32_t)(range_lo(&dst[di]) + doff);
			doff++;
			if (at == n || dst_out[at] != 0 || d <= prev)
				goto bad;
			dst_out[at] = d;
			prev = d;
		}
	}
	return true;
bad:
	memset(dst_out, 0, n * sizeof(*dst_out));
	return false;
}
