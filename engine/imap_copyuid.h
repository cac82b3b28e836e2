/* SPDX-License-Identifier: MIT */
/* imap_copyuid.h -- the COPYUID response code of a batched UID COPY / MOVE */
#ifndef E2_IMAP_COPYUID_H
#define E2_IMAP_COPYUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One uid-range of a COPYUID set: either bound may be first ("4:2" is
 * "2:4", RFC 3501 9); 0 stands for "*" and is never valid here. */
struct imap_uid_range {
	uint32_t first, last;
};

/*
 * Pure (no I/O): maps the source UIDs a UID COPY / UID MOVE asked for to
 * the destination UIDs of the server's COPYUID (RFC 4315 3: the source
 * set and the destination set list their UIDs in the same order; each
 * set may be given as ranges). The sets are the server's (untrusted),
 * already parsed by libetpan into ranges.
 *
 * asked: the n UIDs of the command, ascending, distinct. src / dst: the
 * response's sets, nsrc / ndst ranges, each range taken in ascending
 * order. On success dst_out[i] is the destination UID of asked[i], 0 for
 * a UID the server did not copy (it no longer had it: the response names
 * the rest only). Returns false, dst_out all 0, when the response does
 * not fit what was asked: the two sets count different numbers of UIDs,
 * more UIDs than asked, a UID 0 ("*"), a source UID not asked for or
 * named twice, destination UIDs not strictly ascending (a duplicate, or
 * an order this function does not trust). The caller then treats the
 * whole command as one without COPYUID. The destination UIDVALIDITY is
 * the caller's to check.
 */
bool imap_copyuid_map(const uint32_t *asked, size_t n,
		      const struct imap_uid_range *src, size_t nsrc,
		      const struct imap_uid_range *dst, size_t ndst,
		      uint32_t *dst_out);

#endif /* E2_IMAP_COPYUID_H */
