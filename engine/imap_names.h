/* SPDX-License-Identifier: MIT */
/* imap_names.h -- IMAP folder names: modified UTF-7 and local directories */
#ifndef E2_IMAP_NAMES_H
#define E2_IMAP_NAMES_H

#include "email2.h"

#include <stdbool.h>

/*
 * Pure functions (no I/O): the name codec of RFC 3501 5.1.3 and the
 * mapping of a Maildir++ directory that a user or a mail client made
 * ("mkdir -p .Work/{cur,new,tmp}", neomutt's create-mailbox) to the name
 * email2 creates on the server.
 *
 * Modified UTF-7 (RFC 3501 5.1.3): printable US-ASCII (0x20-0x7e) stands
 * for itself except "&", written "&-"; every other character is UTF-16,
 * in modified BASE64 ("," for "/", no padding) between "&" and "-". The
 * decoder is strict, for names a server sends (untrusted): only bytes
 * 0x20-0x7e, no printable ASCII inside a shift, no null shift ("-&"
 * between two shifts), no empty shift but "&-", padding bits zero, valid
 * UTF-16 (paired surrogates). So decoding and encoding are inverse: a
 * name the decoder accepts is exactly what the encoder makes of its
 * result.
 *
 * Directory to name (imap_names_from_dir), the reverse of maildir.h's
 * folder encoding, lenient where a user typed the name:
 * - the directory is "." plus components separated by "." (Maildir++);
 *   an empty component (".a..b", ".a.") is not a folder name;
 * - in a component "%XX" (upper-case hex, as maildir_folder_encode()
 *   writes) is that byte; any other "%" is refused (a LIST wildcard, as
 *   is "*"), as are control bytes and a component holding the server's
 *   separator once unescaped (it would change the hierarchy);
 * - the components are joined with the server's separator; a name of
 *   several components needs one (sep '\0' is E2_EINVAL); a separator
 *   that is no punctuation sign, or is one of * % & " (a server's byte,
 *   untrusted), is E2_EINVAL for every name;
 * - bytes >= 0x80 must be UTF-8: with utf8 (the session enabled
 *   UTF8=ACCEPT, RFC 6855) they are sent as they are, else the whole name
 *   is encoded to modified UTF-7 (".Entwürfe" is "Entw&APw-rfe");
 * - an ASCII name that is valid modified UTF-7 is taken as the server's
 *   spelling already (maildir_folder_encode() keeps "&APw-" as it is, so
 *   ".Entw&APw-rfe" is "Entw&APw-rfe"); one that is not (a stray "&",
 *   ".R&D") is encoded ("R&-D") unless utf8.
 * INBOX (any case) as the whole name is the root's, never created.
 */

/*
 * UTF-8 in, modified UTF-7 out. Caller frees *out.
 * Errors: E2_EINVAL (not UTF-8: overlong, surrogate, above U+10FFFF,
 * cut short), E2_ENOMEM.
 */
enum e2_status imap_names_mutf7_encode(const char *utf8, char **out,
				       struct e2_err *err);
/*
 * Modified UTF-7 in (untrusted), UTF-8 out. Caller frees *out.
 * Errors: E2_EINVAL (anything the rules above refuse), E2_ENOMEM.
 */
enum e2_status imap_names_mutf7_decode(const char *mutf7, char **out,
				       struct e2_err *err);
/* True when s is canonical modified UTF-7 (imap_names_mutf7_decode()
 * would accept it). */
bool imap_names_mutf7_valid(const char *s);

/*
 * True when d_name, an entry of the Maildir++ root, may be a folder
 * directory: "." then a non-dot, no "/". (Whether it is a directory with
 * cur/ new/ tmp/ is for the caller to check, without following links.)
 */
bool imap_names_dir_is_folder(const char *d_name);

/*
 * The server name for local folder directory dir (".Work.Projects"), per
 * the rules above. Caller frees *name_out.
 * Errors: E2_EINVAL (not a folder directory, an empty component, a
 * wildcard or control byte, the separator inside a component, hierarchy
 * without a separator, not UTF-8, INBOX), E2_ENOMEM.
 */
enum e2_status imap_names_from_dir(const char *dir, char sep, bool utf8,
				   char **name_out, struct e2_err *err);

#endif /* E2_IMAP_NAMES_H */
