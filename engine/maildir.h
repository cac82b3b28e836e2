/* SPDX-License-Identifier: MIT */
/* maildir.h -- one account's Maildir++ and a batch writer paid per batch */
#ifndef E2_MAILDIR_H
#define E2_MAILDIR_H

#include "email2.h"

#include <sys/types.h>
#include <time.h>

/*
 * Layout: <store>/mail/{GUID}/ is the account's Maildir++ root. INBOX lives
 * at the root (cur/ new/ tmp/); every other folder is a directory ".Name" in
 * the root with its own cur/ new/ tmp/. Directories are 0700, files 0600.
 *
 * Folder name mapping (maildir_folder_encode), one rule per byte:
 * - the name "INBOX" (any case) is the root, dir "";
 * - the name is split at the IMAP hierarchy separator; each component is
 *   encoded and the components are joined with "." behind a leading ".":
 *   "Work/Projects" (separator '/') is ".Work.Projects";
 * - in a component, bytes A-Z a-z 0-9 and  space - _ + , & ' ! # $ ( ) [ ]
 *   { } = @ ~ ^ ;  are kept; every other byte (".", "/", "%", "\\", ":",
 *   "*", controls, bytes >= 0x80, ...) becomes "%XX" (upper-case hex), so
 *   no component can be "", "." or "..", no "/" can appear and the result
 *   always starts with "." followed by a non-dot: it cannot leave the root.
 *   Modified UTF-7 names ("&AOQ-") survive unchanged, so the Maildir reads
 *   naturally in mutt and Dovecot;
 * - an empty name or an empty component ("a//b") is E2_EINVAL, as is an
 *   encoded name longer than NAME_MAX.
 * The name is the server's, as LIST gives it (a personal namespace prefix
 * such as "INBOX." stays: "INBOX.Sent" with '.' is ".INBOX.Sent").
 *
 * Injectivity (DESIGN "Trust boundaries"; issue 7 item 5). The rule above
 * is injective for one separator, not across them: "a.b" with '.' and
 * "a/b" with '/' are both ".a.b", "INBOX" and "Inbox" both the root, and
 * a case-insensitive file system adds "Work"/"work". So a sync takes a
 * folder with maildir_folder_claim(), never maildir_folder():
 * - every folder directory holds MAILDIR_OWNER_FILE, whose bytes are the
 *   exact server name that owns it (the sync state's key); it is written
 *   once, whole (link() of a synced tmp file), and never rewritten;
 * - a name takes the first of its candidates (maildir_folder_candidate())
 *   that it owns already or that has no owner yet: candidate 0 is the
 *   encoding above, candidate n >= 1 is that encoding (".<name>" for an
 *   INBOX spelled otherwise) followed by "%-<n+1>": ".a.b%-2". The encoder
 *   writes '%' only before two upper-case hex digits, so a suffixed name
 *   is never the plain encoding of any name, and suffixes of different
 *   encodings never meet;
 * - a name whose candidates up to MAILDIR_CLAIM_TRIES all belong to other
 *   names, or that cannot be encoded (too long, empty component), is not
 *   mapped (E2_EINVAL): the sync skips that folder and reports it.
 * The choice is stable across runs because it is recorded in the
 * directory; the first name to claim a directory keeps it (LIST order
 * decides only once). A directory made before owners were recorded is
 * claimed by the first name that maps to it.
 * Adoption of files after a crash (U=<uid>-V<validity> tags) reads only
 * the folder's own directory, which no other server folder can own.
 *
 * File names: <sec>.M<usec>P<pid>Q<n>.<host>,S=<size>[,<tag>] in new/, and
 * with ":2,<flags>" in cur/. The part before ":2," is the "unique name",
 * the key the sync state stores. While a batch is open the file sits in
 * tmp/ as <sec>.M<usec>P<pid>Q<n>.<host>,E2 -- the ",E2" marker lets
 * maildir_recover() recognise what an interrupted batch of ours left.
 * <tag> is a caller string (e.g. "U=1234", mbsync's convention) so that a
 * crash between the rename into new/ and the state commit can be repaired
 * by adopting the file instead of downloading it again.
 *
 * Flags: the Maildir info ":2," followed by the flags in ASCII order, each
 * once: D (draft) F (flagged) P (passed) R (replied) S (seen) T (trashed),
 * and Dovecot's keyword letters a-z, which are kept but never interpreted.
 */

#define MAILDIR_FLAGS_MAX 40 /* "DFPRST" + "a".."z" + NUL, with room */
#define MAILDIR_TAG_MAX 100  /* longest tag maildir_put() accepts */

struct maildir;
struct maildir_batch;
struct maildir_msg;

/*
 * How maildir_batch_commit() makes the tmp files durable. Measured on ext4
 * (Debian 12, 2 cores, virtio disk), 500 messages of 2-10 KB in one batch:
 * writing them 27 ms; then syncfs() 14 ms, fdatasync() of each file 80-97
 * ms. syncfs() is the default; it also flushes other dirty data of the
 * same file system (a big copy running beside a sync makes it slower), and
 * reports writeback errors since Linux 5.8. The per-file mode stays for
 * file systems where that matters.
 */
enum maildir_sync {
	MAILDIR_SYNC_SYNCFS = 0, /* one syncfs() of the file system */
	MAILDIR_SYNC_FDATASYNC,  /* fdatasync() of each file */
};

/*
 * Opens the Maildir++ root, creating it and its cur/ new/ tmp/ (0700) when
 * missing. Errors: E2_ESTORE (mkdir/open failed, with path and strerror),
 * E2_EINVAL (root NULL or empty), E2_ENOMEM.
 */
enum e2_status maildir_open(const char *root, struct maildir **md_out,
			    struct e2_err *err);
void maildir_close(struct maildir **md);
/* The root path; valid until maildir_close(). */
const char *maildir_root(const struct maildir *md);
/* Chooses the commit strategy (see maildir_batch_commit()). */
void maildir_set_sync(struct maildir *md, enum maildir_sync mode);

/*
 * Maps an IMAP folder name to its directory name relative to the root
 * ("" for INBOX), per the rules above; sep is the server's hierarchy
 * separator ('\0' when the server has none). Caller frees *dir_out.
 * Errors: E2_EINVAL (empty name or component, too long), E2_ENOMEM.
 */
enum e2_status maildir_folder_encode(const char *name, char sep, char **dir_out,
				     struct e2_err *err);
/*
 * The inverse: a directory name ("" or ".Work.Projects") back to the
 * folder name with sep between components. Caller frees *name_out.
 * Errors: E2_EINVAL (not a name maildir_folder_encode() makes), E2_ENOMEM.
 */
enum e2_status maildir_folder_decode(const char *dir, char sep, char **name_out,
				     struct e2_err *err);
/*
 * The folder's absolute path, creating the directory and its cur/ new/ tmp/
 * (0700) when missing. Caller frees *path_out.
 * Errors: E2_EINVAL (as maildir_folder_encode()), E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_folder(struct maildir *md, const char *name, char sep,
			      char **path_out, struct e2_err *err);

#define MAILDIR_OWNER_FILE "email2-folder" /* in the folder directory */
#define MAILDIR_CLAIM_SUFFIX "%-"
#define MAILDIR_CLAIM_TRIES 16u

/*
 * Candidate n (0 <= n < MAILDIR_CLAIM_TRIES) of a server folder's
 * directory, per the rules above; pure (no I/O). Caller frees *dir_out.
 * Errors: E2_EINVAL (as maildir_folder_encode(), or too long with the
 * suffix, or n out of range), E2_ENOMEM.
 */
enum e2_status maildir_folder_candidate(const char *name, char sep, unsigned n,
					char **dir_out, struct e2_err *err);
/*
 * The folder's absolute path for the server folder name: the first
 * candidate it owns or can claim (see "Injectivity" above), created with
 * its cur/ new/ tmp/ when missing. *moved_out is true when this call gave
 * the name a suffixed directory for the first time: sync state rows kept
 * for the name point at files elsewhere and must not be read as local
 * deletes. Caller frees *path_out. Errors: E2_EINVAL (cannot be mapped:
 * too long, empty component, every candidate owned by another name),
 * E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_folder_claim(struct maildir *md, const char *name,
				    char sep, char **path_out, bool *moved_out,
				    struct e2_err *err);
/*
 * Makes dir_path, an existing folder directory of md whose name is not
 * one of name's candidates (".Entwürfe", which a user made and email2
 * created on the server as "Entw&APw-rfe"), the folder of server name:
 * records name as its owner when it has none (written as
 * maildir_folder_claim() writes it), and makes maildir_folder_claim(md,
 * name) return dir_path while the owner file still names it, for the
 * life of md. The owner file is what lasts: a sync calls this again for
 * each such directory it finds (sync_imap_folders.h). Copies both
 * strings. Errors: E2_EINVAL (the directory belongs to another name),
 * E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_folder_alias(struct maildir *md, const char *name,
				    const char *dir_path, struct e2_err *err);
/*
 * The server folder name recorded as the owner of folder_path.
 * *found_out false when it has none. Caller frees *name_out.
 * Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_folder_owner(const char *folder_path, bool *found_out,
				    char **name_out, struct e2_err *err);

/*
 * Batch writer. maildir_batch_begin() -> maildir_put*() ... ->
 * maildir_batch_commit() or maildir_batch_abort() -> maildir_batch_free().
 * Only after commit returns E2_OK are the messages durable in new/ or cur/:
 * then, not before, may the caller commit state rows or delete on the
 * server. A batch is used by one thread; batches of one maildir may run in
 * parallel in different folders.
 */
enum e2_status maildir_batch_begin(struct maildir *md,
				   struct maildir_batch **batch_out,
				   struct e2_err *err);
/* Aborts the batch if it is neither committed nor aborted, then frees. */
void maildir_batch_free(struct maildir_batch **batch);
/* Messages put into the batch so far. */
size_t maildir_batch_count(const struct maildir_batch *batch);

/*
 * Streaming put: maildir_msg_begin() creates tmp/<name>,E2 in folder_path
 * (from maildir_folder()); maildir_msg_write() appends; maildir_msg_end()
 * closes the file and adds it to the batch, or maildir_msg_discard() drops
 * it. flags NULL means "not known": the file goes to new/; a string (maybe
 * "") sends it to cur/ with ":2,<flags>" (letters sorted, duplicates and
 * non-letters dropped). tag NULL or a string of [A-Za-z0-9=_-] (at most 100
 * bytes) embedded in the name. *uniq_out is the unique name, borrowed,
 * valid until maildir_batch_free().
 * Errors: E2_ESTORE (create/write/close failed: path and strerror; the tmp
 * file is removed), E2_EINVAL (bad tag), E2_ENOMEM. After an error in
 * maildir_msg_write() call maildir_msg_discard().
 */
enum e2_status maildir_msg_begin(struct maildir_batch *batch,
				 const char *folder_path, const char *flags,
				 const char *tag, struct maildir_msg **msg_out,
				 struct e2_err *err);
enum e2_status maildir_msg_write(struct maildir_msg *msg, const void *buf,
				 size_t len, struct e2_err *err);
/* The same, shaped as a mime_sink_fn (ctx is the struct maildir_msg). */
enum e2_status maildir_msg_sink(void *ctx, const void *buf, size_t len,
				struct e2_err *err);
enum e2_status maildir_msg_end(struct maildir_msg **msg, const char **uniq_out,
			       struct e2_err *err);
void maildir_msg_discard(struct maildir_msg **msg);
/*
 * Replaces the flags and tag given to maildir_msg_begin() (same rules),
 * for a message whose flags and tag are known only after its bytes (an
 * IMAP FETCH response may send FLAGS and UID after the body).
 * Errors: E2_EINVAL (bad tag), E2_ENOMEM; the message is unchanged then.
 */
enum e2_status maildir_msg_set_meta(struct maildir_msg *msg, const char *flags,
				    const char *tag, struct e2_err *err);

/*
 * Pull source for maildir_put(): fills buf with up to len bytes and
 * returns how many, 0 at the end, -1 on failure after recording why in err
 * (E2_EIO when it does not).
 */
typedef ssize_t (*maildir_source_fn)(void *ctx, void *buf, size_t len,
				     struct e2_err *err);

/* Streams the source into a new message (maildir_msg_* in one call). */
enum e2_status maildir_put(struct maildir_batch *batch, const char *folder_path,
			   const char *flags, const char *tag,
			   maildir_source_fn source, void *source_ctx,
			   const char **uniq_out, struct e2_err *err);
/* The same for bytes already in memory (placeholders, tests). */
enum e2_status maildir_put_mem(struct maildir_batch *batch,
			       const char *folder_path, const char *flags,
			       const char *tag, const void *buf, size_t len,
			       const char **uniq_out, struct e2_err *err);

/*
 * Makes every message of the batch durable and visible: syncs the tmp
 * files' data (per the maildir's enum maildir_sync), renames each into new/
 * or cur/, then fsyncs each touched directory once. On failure nothing of
 * the batch is left in new/ or cur/ (renamed files are unlinked again) and
 * the tmp files are removed. Errors: E2_ESTORE (path and strerror),
 * E2_EINVAL (batch already ended).
 */
enum e2_status maildir_batch_commit(struct maildir_batch *batch,
				    struct e2_err *err);
/* Unlinks every tmp file of the batch; never fails. */
void maildir_batch_abort(struct maildir_batch *batch);

/* ---- messages in place ------------------------------------------------- */

/* One message found by maildir_list(); every pointer valid during the call. */
struct maildir_entry {
	const char *sub;   /* "new" or "cur" */
	const char *name;  /* file name in sub/, info included */
	const char *uniq;  /* name without ":2,..." (NUL-terminated copy) */
	const char *flags; /* sorted flags, "" in new/ */
	off_t size;        /* from ",S=" when present, else stat() */
	time_t mtime;      /* 0 when size came from ",S=" (no stat done) */
};

/* Returning anything but E2_OK stops maildir_list(), which returns it. */
typedef enum e2_status (*maildir_list_fn)(void *ctx,
					  const struct maildir_entry *e,
					  struct e2_err *err);

/*
 * Calls fn for each message file in folder_path's new/ and cur/ (dot files
 * and names that are not messages are skipped), in directory order, one
 * readdir() at a time. Errors: E2_ESTORE, E2_ENOMEM, or fn's.
 */
enum e2_status maildir_list(const char *folder_path, maildir_list_fn fn,
			    void *ctx, struct e2_err *err);

/* One message file of a folder, as maildir_snapshot() copied it. */
struct maildir_file {
	char *uniq;      /* name without ":2,..." */
	char *name;      /* file name in sub/ */
	const char *sub; /* static "new" or "cur" */
	char flags[MAILDIR_FLAGS_MAX];
	char tag[MAILDIR_TAG_MAX + 1]; /* the tag_key field's value, or "" */
	bool matched; /* free for the caller: "a state row names this file" */
};

/* Every message file of a folder, sorted by uniq. */
struct maildir_snapshot {
	struct maildir_file *v;
	size_t n, cap;
};

/*
 * Lists folder_path (new/ and cur/) into *snap_out, sorted by uniq for
 * maildir_snapshot_find(); tag_key ("U", "L", or NULL) names the field of
 * the unique name whose value is copied into each file's tag (see
 * maildir_name_field()). Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_snapshot(const char *folder_path, const char *tag_key,
				struct maildir_snapshot *snap_out,
				struct e2_err *err);
/* The file whose unique name is uniq, or NULL; borrowed from snap. */
struct maildir_file *maildir_snapshot_find(struct maildir_snapshot *snap,
					   const char *uniq);
/* Frees what the snapshot holds and empties it; NULL-safe. */
void maildir_snapshot_free(struct maildir_snapshot *snap);

/*
 * The folder's stamp: the identity and modification time of new/ and cur/,
 * which change whenever a message file is added, removed or renamed (a flag
 * change). Equal stamps mean the same files with the same flags. out gets
 * "" when either directory changed too recently for its time to tell a
 * later change apart (see MAILDIR_STAMP_SETTLE_NS in maildir.c); "" never
 * equals a stamp. Errors: E2_ESTORE (a missing directory).
 */
#define MAILDIR_STAMP_MAX 128
enum e2_status maildir_stamp(const char *folder_path,
			     char out[MAILDIR_STAMP_MAX], struct e2_err *err);

/*
 * Splits a file name: *uniq_len_out is the length before ":2," (the whole
 * name when it has no info) and flags_out (MAILDIR_FLAGS_MAX bytes) gets
 * the sorted flags ("" when none).
 */
void maildir_name_parse(const char *name, size_t *uniq_len_out,
			char flags_out[MAILDIR_FLAGS_MAX]);
/*
 * Canonical flag string: letters of flags sorted, each once, everything
 * else dropped. out has MAILDIR_FLAGS_MAX bytes.
 */
void maildir_flags_normalize(const char *flags, char out[MAILDIR_FLAGS_MAX]);
/*
 * The value of field key ("S", "U", ...) in the unique name's ",K=V"
 * fields, copied into out (cut to outlen - 1). false when absent.
 */
bool maildir_name_field(const char *uniq, const char *key, char *out,
			size_t outlen);

/*
 * Finds the file of unique name uniq in folder_path: new/<uniq>, then a
 * cur/<uniq>:2,... entry (one directory scan of cur/ when the guess hint_flags
 * -- maybe NULL -- is wrong). *found_out says whether it exists; when it
 * does, *sub_out ("new"/"cur", static) and *name_out (caller frees) say
 * where. Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_locate(const char *folder_path, const char *uniq,
			      const char *hint_flags, bool *found_out,
			      const char **sub_out, char **name_out,
			      struct e2_err *err);

/*
 * Sets the standard flags (D F P R S T) of the message sub/name in
 * folder_path to flags, keeping its keyword letters (a-z), by renaming it
 * into cur/<uniq>:2,<sorted flags>. *name_out (maybe NULL) gets the new
 * file name, caller frees. Errors: E2_ESTORE (E2_EINVAL when the message is
 * gone: sys_errno ENOENT), E2_ENOMEM.
 */
enum e2_status maildir_set_flags(const char *folder_path, const char *sub,
				 const char *name, const char *flags,
				 char **name_out, struct e2_err *err);

/*
 * Removes sub/name from folder_path; a file already gone is not an error.
 * Errors: E2_ESTORE.
 */
enum e2_status maildir_remove(const char *folder_path, const char *sub,
			      const char *name, struct e2_err *err);

/*
 * Startup recovery for every folder of the maildir: deletes tmp/ files
 * older than 36 hours (Maildir convention) and tmp/ files with our ",E2"
 * marker whose writer (P<pid>) is not a live process or is this process.
 * Call it before this process opens any batch on md (the sync runner holds
 * the account for the whole sync). *removed_out (maybe NULL) counts the
 * files removed. Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status maildir_recover(struct maildir *md, time_t now,
			       size_t *removed_out, struct e2_err *err);

#endif /* E2_MAILDIR_H */
