/* SPDX-License-Identifier: MIT */
/* imap_bodystructure.h -- IMAP BODYSTRUCTURE (libetpan's tree) to MIME parts */
#ifndef E2_IMAP_BODYSTRUCTURE_H
#define E2_IMAP_BODYSTRUCTURE_H

#include <libetpan/libetpan.h>

#include "email2.h"
#include "mime.h"

#define IMAP_BODYSTRUCTURE_DEPTH 32 /* deeper BODYSTRUCTUREs are refused */

/*
 * The tree of MIME parts that b describes, in *root_out (caller frees with
 * mime_part_free()); b is borrowed. Errors: E2_EPROTO (nested deeper than
 * IMAP_BODYSTRUCTURE_DEPTH, an empty multipart, a part of unknown kind, a
 * section number over 127 bytes), E2_ENOMEM.
 */
enum e2_status imap_bodystructure_parts(const struct mailimap_body *b,
					struct mime_part **root_out,
					struct e2_err *err);

/*
 * KEEPMAX's plan for one message (mime_plan_keepmax() with keepmax_bytes):
 * *plan_out is the tree when some part is to be left on the server, else
 * NULL (caller frees with mime_part_free()). Errors: those of
 * imap_bodystructure_parts().
 */
enum e2_status imap_bodystructure_keepmax_plan(const struct mailimap_body *b,
					       unsigned long long keepmax_bytes,
					       struct mime_part **plan_out,
					       struct e2_err *err);

#endif
