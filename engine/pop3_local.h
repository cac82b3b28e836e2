/* SPDX-License-Identifier: MIT */
/* pop3_local.h -- a POP3 account's other local folders (reconcile.h R17) */
#ifndef E2_POP3_LOCAL_H
#define E2_POP3_LOCAL_H

#include "email2.h"
#include "reconcile.h"
#include "syncstate.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * POP3 downloads into the Maildir root only; the user's mail client files
 * messages into other Maildir++ folders (".Work"). sync_pop3.c needs two
 * things from them, and this module gives them, reading nothing else:
 *  - a stamp that changes when any of them changes (a move in, a delete
 *    in .Work, a new folder), for the no-change fast path: one readdir()
 *    of the root and the maildir_stamp() (two stat()s) of each folder;
 *  - when a message left the root, the "L=" tags of their files, so that
 *    a move (neomutt's save, the file name kept) is told from a delete.
 * Folders are the directories ".Name" of the root (not "." or "..", not
 * a symbolic link) that hold cur/ and new/ directories: ".notmuch" and
 * other tools' directories are not folders. A local Trash (".Trash",
 * ".Deleted Messages", ".Deleted Items", ".Bin", any case, and their
 * subfolders) is not one either: moving a message there deletes it, as
 * neomutt's $trash and Thunderbird mean it. Nothing here writes anything.
 */

struct pop3_local_folders {
	char **v; /* ".Work", ... sorted by strcmp */
	size_t n;
};

/*
 * Lists root's folders into *out (caller frees with
 * pop3_local_folders_free()). Errors: E2_ESTORE (root cannot be read),
 * E2_ENOMEM.
 */
enum e2_status pop3_local_folders(const char *root,
				  struct pop3_local_folders *out,
				  struct e2_err *err);
/* NULL-safe; empties f. */
void pop3_local_folders_free(struct pop3_local_folders *f);

/*
 * The account's local stamp into out: "folders=<n> " and a SHA-256 of the
 * root's maildir_stamp() and each folder's name and stamp; "" when any of
 * them is too fresh to tell (see maildir_stamp()) or a folder vanished
 * meanwhile: "" never equals a stored stamp. Errors: E2_ESTORE (the
 * root's cur/ or new/ is missing), E2_ENOMEM.
 */
enum e2_status pop3_local_stamp(const char *root,
				const struct pop3_local_folders *f,
				char out[SYNCSTATE_STAMP_MAX],
				struct e2_err *err);

/* The UIDL a file's "L=" tag value names, or NULL (borrowed). */
typedef const char *(*pop3_local_lookup_fn)(void *ctx, const char *tag);

/* The tag refs found in the folders; holder_id borrows the folder name. */
struct pop3_local_refs {
	struct reconcile_tagref *v; /* sorted by reconcile_tagref_cmp() */
	size_t n, cap;
	size_t unreadable;       /* folders whose files could not be listed */
	struct e2_err first_err; /* why the first of them could not */
	const char *first_name;  /* and its name (borrowed from f) */
};

/*
 * Reads the file names of every folder of f: each file whose "L=" tag
 * lookup() maps to a UIDL becomes a ref {holder_id = folder name,
 * pop3_uidl = that UIDL}. A folder that cannot be listed is counted in
 * unreadable (the caller must then delete nothing: keep beats delete).
 * Borrows f (it must outlive *out). Caller frees with
 * pop3_local_refs_free(). Errors: E2_ENOMEM.
 */
enum e2_status pop3_local_refs(const char *root,
			       const struct pop3_local_folders *f,
			       pop3_local_lookup_fn lookup, void *ctx,
			       struct pop3_local_refs *out, struct e2_err *err);
/* NULL-safe; empties refs. */
void pop3_local_refs_free(struct pop3_local_refs *refs);

/*
 * The Message-ID of the header block at hdr (len bytes; the whole message
 * may follow), normalised to its "<...>" part (else the trimmed value)
 * into out. *found_out false when there is none, or it is empty or longer
 * than POP3_LOCAL_MSGID_MAX - 1 bytes. hdr is untrusted (a server's TOP
 * answer, a file another program wrote). Errors: E2_ENOMEM.
 */
#define POP3_LOCAL_MSGID_MAX 256
enum e2_status pop3_local_msgid(const char *hdr, size_t len, bool *found_out,
				char out[POP3_LOCAL_MSGID_MAX],
				struct e2_err *err);

/*
 * Looks for the Message-IDs ids[0..n) (normalised, sorted by strcmp) in
 * the files of f's folders that carry no "L=" tag (a mail client's copy
 * under a new name), reading at most POP3_LOCAL_HEADER_READ bytes of
 * each; sets found[i] for each one some file has. A folder or file that
 * cannot be read is passed over (found stays false). Errors: E2_ENOMEM.
 */
#define POP3_LOCAL_HEADER_READ (32u * 1024)
enum e2_status pop3_local_find_msgids(const char *root,
				      const struct pop3_local_folders *f,
				      const char *const *ids, size_t n,
				      bool *found, struct e2_err *err);

#endif
