/* SPDX-License-Identifier: MIT */
/* outbox_scan.h -- a queued message -> its recipients and the bytes sent */
#ifndef E2_OUTBOX_SCAN_H
#define E2_OUTBOX_SCAN_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * What is sent is what was scanned: outbox_scan() reads a queued message
 * once and derives from the same bytes both the envelope recipients and
 * the exact bytes that go on the wire, so no header can be seen by the
 * receiver that the scan did not see.
 *
 * 1. Line ends are normalised, byte by byte: CRLF, a bare LF and a bare
 *    CR each become one CRLF (what libetpan, Dovecot and most MTAs would
 *    make of them, each in its own way: after this no two readers can
 *    split the message into different lines). A NUL byte anywhere is an
 *    error (no SMTP body may carry one).
 * 2. The header is every line before the first empty line (all of it when
 *    there is none). A line starting with SP or HT continues the field
 *    above it (RFC 5322 2.2.3); a header whose first line starts with one
 *    is an error (some readers drop the white space and would see a field
 *    the scan did not). A line without a colon is kept as it is.
 * 3. A field's name is its unfolded text up to the first colon, white
 *    space (folding included) at its end dropped, compared without case:
 *    "Bcc:", "BCC :", "bcc\t:" and "Bcc" CRLF " :" are all Bcc.
 * 4. Every To, Cc and Bcc field (several of each allowed) is unfolded and
 *    parsed as an RFC 5322 address list (display names, quoted strings,
 *    comments, groups such as "undisclosed-recipients:;"); the addresses
 *    are deduplicated case-insensitively. An address that is not plain
 *    printable ASCII "local@domain", or a list that does not parse to its
 *    end, is an error; no recipient at all is an error.
 * 5. The wire copy is the normalised message without its Bcc and
 *    Resent-Bcc fields (RFC 5322 3.6.3: blind copies are not shown to the
 *    other recipients).
 */
struct outbox_scan {
	char *wire; /* normalised, Bcc removed, NUL-terminated; owned */
	size_t wire_len;
	char **rcpt; /* envelope recipients, owned */
	size_t nrcpt, cap;
	bool has_from, has_date, has_msgid;
	bool eightbit; /* a byte >= 0x80 somewhere: needs 8BITMIME */
};

/*
 * Scans buf (len bytes, not NUL-terminated, any line ends) into *scan_out
 * (which owns its results, free with outbox_scan_free(); left empty on
 * error). Errors: E2_EINVAL (NUL byte, a header that starts with white
 * space, a bad address or list, no recipient; the message names the field
 * and the value), E2_ENOMEM.
 */
enum e2_status outbox_scan(const char *buf, size_t len,
			   struct outbox_scan *scan_out, struct e2_err *err);
/*
 * outbox_scan(), but a message whose fields name no recipient is not an
 * error when need_rcpt is false (an envelope given apart, as
 * email2-sendmail's arguments: scan.nrcpt is then 0).
 */
enum e2_status outbox_scan_ex(const char *buf, size_t len, bool need_rcpt,
			      struct outbox_scan *scan_out, struct e2_err *err);
/* Frees what the scan holds and zeroes it; NULL-safe. */
void outbox_scan_free(struct outbox_scan *scan);

/* True for "local@domain" in printable ASCII, no space, '<' or '>'. */
bool outbox_addr_ok(const char *s);

#endif /* E2_OUTBOX_SCAN_H */
