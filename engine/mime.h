/* SPDX-License-Identifier: MIT */
/* mime.h -- pure functions over message bytes: RETRIEVE, KEEPMAX, Date */
#ifndef E2_MIME_H
#define E2_MIME_H

#include "email2.h"

#include <time.h>

/*
 * Nothing here does I/O: bytes come in as buffers or through a fetch
 * callback and leave through a sink, so a message can stream from the
 * server into a Maildir file (maildir_msg_sink() has this shape).
 */
typedef enum e2_status (*mime_sink_fn)(void *ctx, const void *buf, size_t len,
				       struct e2_err *err);

/* ---- header blocks ---------------------------------------------------- */

/*
 * Length of the header block at msg, the empty line that ends it included.
 * *complete_out says whether that empty line was found; when it was not,
 * the length covers the complete lines in msg (a header cut mid-line loses
 * the partial line).
 */
size_t mime_header_len(const char *msg, size_t len, bool *complete_out);

/*
 * The first field called name (case-insensitive) in the header block hdr,
 * unfolded (RFC 5322 2.2.3: CRLF/LF before white space removed) and trimmed.
 * *found_out says whether it exists; when it does, *value_out is the
 * value, caller frees. Errors: E2_ENOMEM.
 */
enum e2_status mime_header_get(const char *hdr, size_t len, const char *name,
			       bool *found_out, char **value_out,
			       struct e2_err *err);

/*
 * A parameter of a structured value ("multipart/mixed; boundary=\"x\""),
 * name case-insensitive, quoted strings unquoted. Same contract as
 * mime_header_get(). Errors: E2_ENOMEM.
 */
enum e2_status mime_param_get(const char *value, const char *name,
			      bool *found_out, char **value_out,
			      struct e2_err *err);

/* ---- Date -----------------------------------------------------------------
 */

/*
 * Parses an RFC 5322 date-time (3.3), the obsolete forms of 4.3 (2- and
 * 3-digit years, named zones UT GMT EST EDT CST CDT MST MDT PST PDT, military
 * letters as +0000, comments anywhere) and common junk: no day of week or
 * no comma, full month names, "UTC", "+01:00", a missing zone (UTC), a
 * missing time (00:00), asctime "Mon Jan  2 15:04:05 2006" (zone before the
 * year allowed), ISO "2006-01-02 15:04:05", "02-Jan-2006".
 * Errors: E2_EINVAL (not a date).
 */
enum e2_status mime_date_parse(const char *s, time_t *t_out,
			       struct e2_err *err);

/*
 * Epoch seconds of a date-time given as fields (zone: seconds east of
 * UTC), each range-checked before any is used: year MIME_YEAR_MIN to
 * MIME_YEAR_MAX, month 1 to 12, day within the month (leap years
 * included), hour 0-23, minute 0-59, second 0-60 (a leap second reads as
 * 59), zone within MIME_ZONE_MAX. mime_date_parse() and IMAP INTERNALDATE
 * use it. Errors: E2_EINVAL (a field out of range, named).
 */
#define MIME_YEAR_MIN 1900
#define MIME_YEAR_MAX 9999
#define MIME_ZONE_MAX (23L * 3600 + 59 * 60)
enum e2_status mime_date_make(int year, int month, int day, int hour, int min,
			      int sec, long zone, time_t *t_out,
			      struct e2_err *err);

/*
 * The POP3 DWNDAY decision for a message header (TOP n 0): true when the
 * message belongs in the window of dwnday days before now. dwnday < 0 is
 * "everything". The cutoff is UTC midnight dwnday days ago (as IMAP SINCE
 * compares dates, not times). A missing or unparseable Date is inside: a
 * bad header must never hide mail.
 */
bool mime_dwnday_inside(const char *hdr, size_t len, int dwnday, time_t now);

/* ---- where a stored message came from ---------------------------------- */

/*
 * Named in the notes this engine writes into partial messages, so the user
 * (and a client) can fetch the rest: the account's GUID, and for IMAP the
 * folder (server name, untrusted: written escaped) and the UID. Strings
 * are borrowed; account or folder may be NULL, uid 0 when unknown. Every
 * function below takes a NULL origin as "unknown".
 */
struct mime_origin {
	const char *account; /* the account GUID ("{...}") */
	const char *folder;  /* the IMAP folder, NULL for POP3 */
	unsigned long uid;   /* the IMAP UID, 0: not known */
};

/* The command a note names: "email2-syncd --account G --fetch-full FILE". */
#define MIME_FETCH_CMD "email2-syncd"

/* ---- RETRIEVE: truncation ----------------------------------------------- */

/* Added to the header of every truncated message. */
#define MIME_PARTIAL_HEADER "X-Email2-Partial"

struct mime_trunc_info {
	bool truncated;       /* false: the message was passed through */
	size_t kept;          /* bytes of the original kept (header + body) */
	bool header_complete; /* the whole header block was in the input */
	unsigned closed;      /* multipart boundaries we closed */
};

/*
 * Stores a message cut to about limit bytes. msg holds the first len bytes
 * of the message (IMAP BODY.PEEK[]<0.N>, POP3 TOP), orig_size is the
 * message's full size (RFC822.SIZE, POP3 LIST). When orig_size <= limit and
 * len >= orig_size, msg goes to sink unchanged. Otherwise:
 * - the whole header block is kept, even when it alone exceeds limit (a
 *   message without its header is useless; the header is bounded by what
 *   the caller fetched); a header cut by the end of msg keeps its complete
 *   lines;
 * - the body is cut after the last complete line within limit (counting
 *   the header), so base64 stays decodable line by line;
 * - "X-Email2-Partial: <orig_size> bytes; truncated at <kept>" is added as
 *   the last header field (kept = original bytes stored);
 * - a part header cut short is ended with an empty line, and every
 *   multipart still open (nested ones included, message/rfc822 entered) is
 *   closed with "--<boundary>--", after an empty part when it had none, so
 *   the result is a valid MIME message. Line ends follow the message's
 *   first line (CRLF or LF). The added lines make the result up to about
 *   100 bytes per open level larger than limit;
 * - the message ends with a visible note (a text/plain part, inline, its
 *   Content-Description "email2: incomplete message") that gives orig_size,
 *   the bytes kept and the command that fetches the rest (origin's
 *   account). Where the note goes: when the top level is multipart/mixed
 *   and still open at the cut, the note is its last part; otherwise (a
 *   single part, multipart/alternative, related or signed at the top, or
 *   a top multipart closed before the cut) the message is wrapped: the top
 *   header keeps every field but Content-Type, -Transfer-Encoding,
 *   -Disposition and MIME-Version, gains "MIME-Version: 1.0" and a
 *   multipart/mixed Content-Type; its first part is the original body
 *   (under its own Content-* fields, cut and closed as above), the second
 *   the note. Text is never appended to an encoded body: base64 or
 *   quoted-printable stay decodable, and a client that picks the last
 *   alternative never shows the note instead of the text. About 600 bytes
 *   more than limit.
 * info_out may be NULL. Errors: E2_EINVAL (limit 0), E2_ENOMEM, sink's.
 */
enum e2_status mime_truncate(const char *msg, size_t len, size_t limit,
			     unsigned long long orig_size,
			     const struct mime_origin *origin,
			     mime_sink_fn sink, void *sink_ctx,
			     struct mime_trunc_info *info_out,
			     struct e2_err *err);

/*
 * The same, fed piece by piece (mime_trunc_write has the sink shape):
 * keeps the first limit bytes (more while the header block is incomplete,
 * up to 1 MiB), counts and drops the rest. mime_trunc_full() turns true
 * once nothing more would be kept: the caller may stop fetching.
 * mime_trunc_finish() passes everything through unchanged when no more
 * than limit bytes came and orig_size (0: the count of bytes written) is
 * <= limit, else runs mime_truncate(). Errors: E2_ENOMEM, E2_EINVAL, sink's.
 */
struct mime_trunc;
enum e2_status mime_trunc_new(size_t limit, struct mime_trunc **t_out,
			      struct e2_err *err);
enum e2_status mime_trunc_write(void *t, const void *buf, size_t len,
				struct e2_err *err);
bool mime_trunc_full(const struct mime_trunc *t);
/* How many more bytes would be kept (0 once full): a partial fetch size. */
size_t mime_trunc_room(const struct mime_trunc *t);
enum e2_status mime_trunc_finish(struct mime_trunc *t,
				 unsigned long long orig_size,
				 const struct mime_origin *origin,
				 mime_sink_fn sink, void *sink_ctx,
				 struct mime_trunc_info *info_out,
				 struct e2_err *err);
void mime_trunc_free(struct mime_trunc **t);

/*
 * The marks this engine leaves in a stored message, found in its first len
 * bytes: *partial_out when the top header has MIME_PARTIAL_HEADER,
 * *omitted_out when a line starts with MIME_OMITTED_HEADER ":" (a
 * placeholder part). Used to restore the sync state of a file adopted
 * after a crash. Either out pointer may be NULL.
 */
#define MIME_OMITTED_HEADER "X-Email2-Omitted-Part"
void mime_marks(const char *msg, size_t len, bool *partial_out,
		bool *omitted_out);

/* ---- KEEPMAX: leaving large attachments on the server ------------------- */

/*
 * One node of a BODYSTRUCTURE-like tree (the IMAP glue fills it from
 * libetpan's struct mailimap_body). Every string is malloc'd and owned by
 * the node; children is a calloc'd array owned by the node; free the root
 * with mime_part_free().
 */
struct mime_part {
	char *number;            /* IMAP section: "" for the root, "1", "2.1" */
	char *type;              /* lower-case: "multipart", "text", "image" */
	char *subtype;           /* lower-case: "mixed", "plain", "pdf" */
	char *boundary;          /* multipart only (BODYSTRUCTURE parameter) */
	char *disposition;       /* lower-case "attachment", "inline" or NULL */
	char *filename;          /* disposition filename, else the name param */
	char *encoding;          /* "base64", "7bit", ... or NULL */
	unsigned long long size; /* octets of the encoded body */
	struct mime_part *children;
	size_t n_children; /* 0 for a leaf */
	bool omit;         /* set by mime_plan_keepmax() */
};

void mime_part_free(struct mime_part **root);

/*
 * Marks the attachments larger than max_bytes (KEEPMAX * 1024) to be left
 * on the server and returns how many. An attachment is a leaf part
 * (message/rfc822 counts as one leaf: a forwarded message stays whole or
 * goes whole) that is not the message text, i.e. every leaf except the
 * first text/plain and the first text/html leaf (depth first) whose
 * disposition is not "attachment". max_bytes 0 marks nothing.
 */
size_t mime_plan_keepmax(struct mime_part *root, unsigned long long max_bytes);

/* Estimated size of the assembled message (parts kept + placeholders). */
unsigned long long mime_plan_size(const struct mime_part *root,
				  size_t header_len);

/*
 * Fetches one IMAP section of the message ("HEADER", "TEXT", "1", "1.MIME";
 * BODY.PEEK[<section>]) and writes its bytes to sink. Errors: the
 * caller's (E2_EIO, E2_EPROTO, ...).
 */
typedef enum e2_status (*mime_fetch_fn)(void *ctx, const char *section,
					mime_sink_fn sink, void *sink_ctx,
					struct e2_err *err);

/*
 * Writes the message planned by mime_plan_keepmax() to sink: the top
 * header, each kept part (its ".MIME" header and body) between the
 * original boundaries, and for each omitted part a message/external-body
 * part (RFC 2046 5.2.3) that every client lists as an attachment:
 *   Content-Type: message/external-body; access-type=x-email2;
 *    account="<GUID>"; folder*=utf-8''<folder>; uid=<UID>;
 *    section="<number>"; name="<file>"; size=<decoded>
 *   Content-Disposition: attachment; filename="<file>"; size=<decoded>
 *   X-Email2-Omitted-Part: <number>; type="<type/subtype>"; name="<file>";
 *    size=<encoded bytes>
 *   (empty line)
 *   Content-Type: <type/subtype>; name="<file>"
 *   Content-Disposition: attachment; filename="<file>"; size=<decoded>
 *   Content-Transfer-Encoding: <the part's encoding>
 *   Content-ID: <...@email2.invalid>
 *   Content-Description: left on the server (KEEPMAX), about <size>
 *   (empty line)
 *   a text naming the part, its file name, its decoded size and the
 *   command that fetches the whole message.
 * "x-email2" is a private access-type (RFC 2046 5.2.3: "X-" types are for
 * private use): clients that do not know it (all of them) show the part
 * as "not included" with the phantom header above, and list its file name.
 * The decoded size is computed from the encoded one: base64 carries 3
 * octets in 4 characters (RFC 2045 6.8), lines assumed 76 characters and
 * CRLF, as MUAs write them; it may be up to 2 octets high (padding is not
 * known before the last line is). Other encodings: the encoded size.
 * File names, folders and types come from the server: a name that is not
 * printable ASCII without '"' and '\\' goes RFC 2231 encoded (name*=,
 * filename*=utf-8''%XX); a type that is not a token becomes
 * application/octet-stream; in X-Email2-Omitted-Part (the mark this engine
 * reads back, mime_marks()) names stay %XX-escaped outside printable ASCII
 * and for '"', '\\' and '%'. Names are cut at 256 bytes ("...").
 * When the root itself is omitted (a single-part message), its Content-*
 * fields and MIME-Version are dropped from the top header, which becomes
 * multipart/mixed: a text part (the same note) and the external-body part.
 * Lines end in CRLF as IMAP sends them. Preambles and epilogues are not
 * kept. Errors: E2_EPROTO (a multipart without boundary), E2_ENOMEM,
 * fetch's, sink's.
 *
 * KEEPMAX and RETRIEVE combine in that order: KEEPMAX first leaves the
 * large attachments on the server; when the assembled message
 * (mime_plan_size()) still exceeds RETRIEVE, assemble through a
 * struct mime_trunc so what is left is truncated too. The stored message
 * is then both "omitted" and "partial" in the sync state.
 */
/*
 * Whether mime_assemble() can write the plan without a content error:
 * E2_EPROTO names the first kept multipart without a boundary. The caller
 * checks first and skips such a message with this reason, so a bad
 * message never costs the rest of the folder. Errors: E2_EPROTO.
 */
enum e2_status mime_plan_check(const struct mime_part *root,
			       struct e2_err *err);
enum e2_status mime_assemble(const struct mime_part *root, mime_fetch_fn fetch,
			     void *fetch_ctx, const struct mime_origin *origin,
			     mime_sink_fn sink, void *sink_ctx,
			     struct e2_err *err);

/*
 * The decoded size of a leaf as mime_assemble() states it (see there).
 */
unsigned long long mime_part_decoded_size(const struct mime_part *p);

#endif /* E2_MIME_H */
