/* SPDX-License-Identifier: MIT */
/* msgfile.h -- checks a message file another program wrote, before upload */
#ifndef E2_MSGFILE_H
#define E2_MSGFILE_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A Maildir file is another program's (neomutt, a script, a filter): its
 * bytes are untrusted. Before such a file is APPENDed (sync_imap.c,
 * "uploads") it must look like a message: not empty, at most max bytes,
 * no NUL byte, and a first line that is a header field ("Name:" with a
 * name of printable ASCII but ':'). Pure: no I/O, no allocation.
 *
 * From the header (up to the first empty line, folded lines joined) it
 * reads Message-ID (used to find an upload again after a crash: kept only
 * when it is 1 to MSGFILE_ID_MAX printable ASCII bytes with no space, '"'
 * or '\\', else "") and Date (RFC 5322, through libetpan's parser; kept
 * only when the fields are in range). wire_size is the size on the wire:
 * every bare LF counts as CRLF (msgfile_wire() makes those bytes).
 */
#define MSGFILE_ID_MAX 255

struct msgfile_date {
	int day, month, year, hour, min, sec;
	int zone; /* +hhmm as an integer: -0500 is -500 */
};

struct msgfile_info {
	char message_id[MSGFILE_ID_MAX + 1];
	bool has_date;
	struct msgfile_date date;
	size_t wire_size;
};

/* E2_EINVAL with the reason ("empty", "contains a NUL byte", "larger than
 * N bytes", "no header") for a file that must not be uploaded. */
enum e2_status msgfile_check(const char *buf, size_t len, size_t max,
			     struct msgfile_info *out, struct e2_err *err);
/*
 * Writes buf with every bare LF made CRLF into out, which has
 * info->wire_size bytes (msgfile_check() of the same buf); nothing is
 * added or removed otherwise.
 */
void msgfile_wire(const char *buf, size_t len, char *out);

#endif /* E2_MSGFILE_H */
