/* SPDX-License-Identifier: MIT */
/* fuzz_copyuid.c -- libFuzzer harness for imap_copyuid_map() (see run.sh) */
/* fuzz-sources: engine/imap_copyuid.c */
/* (no fuzz-pkgs line: it needs no pkg-config module) */
#include "config.h"

#include "imap_copyuid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 64

/* A UID from 2 bytes (small, to collide), or 4 after a 0xff marker. */
static uint32_t
fuzz_uid(const uint8_t **p, const uint8_t *end)
{
	uint32_t v = 0;
	int w = 2;

	if (*p < end && **p == 0xff) {
		(*p)++;
		w = 4;
	}
	for (int i = 0; i < w && *p < end; i++, (*p)++)
		v = v << 8 | **p;
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	uint32_t asked[FUZZ_MAX], out[FUZZ_MAX], prev = 0;
	struct imap_uid_range src[FUZZ_MAX], dst[FUZZ_MAX];
	size_t n = 0, ns, nd, hits = 0;
	uint64_t total = 0;

	if (size < 3)
		return 0;
	ns = p[0] % FUZZ_MAX;
	nd = p[1] % FUZZ_MAX;
	n = p[2] % FUZZ_MAX;
	p += 3;
	/* asked: ascending, distinct (the caller's promise) */
	for (size_t i = 0; i < n; i++) {
		uint32_t d = fuzz_uid(&p, end) % 8 + 1;

		asked[i] = prev + d;
		prev = asked[i];
	}
	for (size_t i = 0; i < ns; i++) {
		src[i].first = fuzz_uid(&p, end);
		src[i].last = fuzz_uid(&p, end);
	}
	for (size_t i = 0; i < nd; i++) {
		dst[i].first = fuzz_uid(&p, end);
		dst[i].last = fuzz_uid(&p, end);
	}
	if (!imap_copyuid_map(asked, n, src, ns, dst, nd, out)) {
		for (size_t i = 0; i < n; i++)
			if (out[i] != 0)
				abort();
		return 0;
	}
	/* accepted: as many mapped as the sets count, each destination
	 * once, each asked UID in the source set */
	for (size_t i = 0; i < ns; i++) {
		uint32_t lo =
			src[i].first < src[i].last ? src[i].first : src[i].last;
		uint32_t hi = src[i].first ^ src[i].last ^ lo;

		total += (uint64_t)hi - lo + 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i] == 0)
			continue;
		hits++;
		for (size_t j = i + 1; j < n; j++)
			if (out[j] == out[i])
				abort();
	}
	if (hits != total)
		abort();
	return 0;
}
