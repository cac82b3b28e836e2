/* SPDX-License-Identifier: MIT */
/* vdir.h -- the local vdir store of contacts and calendars (issue 10) */
#ifndef E2_VDIR_H
#define E2_VDIR_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The vdir format as vdirsyncer, khal and khard share it (vdirsyncer's
 * docs/vdir.rst): a collection is a directory; each item is one file
 * NAME.vcf (vCard) or NAME.ics (iCalendar) in it; the optional metadata
 * files "displayname" (a UTF-8 label) and "color" ("#RRGGBB") carry no
 * extension; writes should go through a temporary file on the same file
 * system and a rename; readers ignore files that start with "." or end
 * in ".tmp". khal and khard list only files with their extension.
 *
 * Layout (also man/email2-syncd.1, "CONTACTS AND CALENDARS"):
 *   <store>/contacts/{GUID}/<collection>/NAME.vcf
 *   <store>/calendars/{GUID}/<collection>/NAME.ics
 * directories 0700, files 0600.
 *
 * Collection directory names (vdir_collection_name(), candidate 0): the
 * last non-empty segment of the server's collection href, as sent (not
 * percent-decoded), when it is 1..64 bytes of A-Z a-z 0-9 "-" "_" "."
 * with no leading "." and does not start with "href-" (any case); else
 * "href-" and the first 32 hex digits of the SHA-256 of the whole href.
 * So a kept name is never a hashed one. Collisions (two hrefs with the
 * same last segment, or "Cal" and "cal" on a case-insensitive file
 * system) are kept apart as maildir.h does for folders: each collection
 * directory holds VDIR_OWNER_FILE, the exact href that owns it, written
 * once (link() of a synced temporary); an href takes the first candidate
 * it owns or that has no owner yet: candidate n >= 1 is candidate 0
 * followed by "~<n+1>" ("~" is in no candidate 0, so suffixed names
 * never meet plain ones). The first href to claim a name keeps it.
 *
 * Item file names (vdir_item_name()): the item's UID followed by ".vcf"
 * or ".ics" when the UID is 1..VDIR_UID_MAX bytes of A-Z a-z 0-9 "-" "_"
 * "." "@" with no leading "." and does not start with "sha256-" or
 * "nouid-" (any case); else "sha256-" and the 64 hex digits of the
 * SHA-256 of the UID's bytes; an item without a UID (or an empty one) is
 * "nouid-" and the SHA-256 of the whole content. The UID is the vCard's
 * UID property of the VCARD, or the first UID property directly inside
 * the first VEVENT, VTODO or VJOURNAL of the VCALENDAR (never one of a
 * VALARM or VTIMEZONE); content lines are unfolded (RFC 6350 3.2, RFC
 * 5545 3.1: a line break, CRLF or LF alone, followed by a space or tab
 * is removed with that one space or tab); names are case-insensitive, a
 * group prefix ("item1.UID") and parameters ("UID;VALUE=text:") are
 * allowed. Names from a server's href are never used.
 *
 * Temporaries: a write goes to ".email2-NAME.tmp" in the collection
 * directory (same file system, never read as an item: it starts with "."
 * and ends in ".tmp"), is fsync()ed, renamed over NAME (or linked to it
 * for a create) and the directory is fsync()ed. A crash leaves either
 * the old or the new whole file, and maybe that temporary: vdir_scan()
 * removes every regular ".email2-*.tmp" it finds, because its caller
 * holds the account's lock, so no write of ours can be running (other
 * programs' temporaries are left alone).
 *
 * Trust: the directory is shared with the user's other programs, so every
 * file is untrusted. Symlinks are never followed (O_NOFOLLOW, lstat), and
 * an item larger than VDIR_ITEM_CAP is not read (reported by vdir_scan()).
 */

#define VDIR_ITEM_CAP                                                          \
	(4u * 1024u * 1024u) /* bytes; a bigger file is                        \
				  skipped and reported */
#define VDIR_UID_MAX 128u    /* longest UID kept as a file name */
#define VDIR_NAME_SIZE 160u  /* longest item name + NUL, with room */
#define VDIR_COLL_MAX 64u    /* longest href segment kept as a dir name */
#define VDIR_OWNER_FILE ".email2-href"
#define VDIR_CLAIM_TRIES 16u
#define VDIR_SHA256_LEN 32u

enum vdir_kind {
	VDIR_KIND_CONTACTS = 0, /* <store>/contacts, .vcf */
	VDIR_KIND_CALENDARS,    /* <store>/calendars, .ics */
};

/* "contacts" or "calendars": the kind's directory below the store, and
 * its name in reports. */
const char *vdir_kind_name(enum vdir_kind kind);

/* What vdir_scan() and vdir_item_read() found of one file. */
struct vdir_item_info {
	char name[VDIR_NAME_SIZE];
	uint64_t size;
	int64_t mtime_ns; /* st_mtim in nanoseconds */
	uint64_t ino;
	unsigned char sha256[VDIR_SHA256_LEN]; /* of the content */
};

enum vdir_entry_kind {
	VDIR_ENTRY_ITEM = 0,    /* a readable item, info complete */
	VDIR_ENTRY_SYMLINK,     /* an item name that is a symlink: not
				   followed */
	VDIR_ENTRY_NOT_REGULAR, /* a fifo, socket, device or directory with
				   an item name */
	VDIR_ENTRY_TOO_LARGE,   /* over VDIR_ITEM_CAP: not read */
	VDIR_ENTRY_UNREADABLE,  /* open or read failed (sys_errno) */
	VDIR_ENTRY_TMP_REMOVED, /* a leftover temporary of ours, removed */
};

struct vdir_entry {
	enum vdir_entry_kind kind;
	int sys_errno;              /* VDIR_ENTRY_UNREADABLE */
	struct vdir_item_info info; /* name always; the rest for ITEM (size
				       also for TOO_LARGE) */
};

/*
 * The file name for an item's content: the rules above; pure (no I/O).
 * ext is "vcf" or "ics". Writes NAME.ext and a NUL to name_out (at least
 * VDIR_NAME_SIZE bytes). Errors: E2_EINVAL (ext neither, name_size too
 * small), E2_ENOMEM.
 */
enum e2_status vdir_item_name(const char *data, size_t len, const char *ext,
			      char *name_out, size_t name_size,
			      struct e2_err *err);

/*
 * True when name is an item name vdir_scan() lists and the write, read
 * and delete calls accept (the user's own names included): shorter than
 * VDIR_NAME_SIZE, ending in ".vcf" or ".ics", no "." first, no "/" and no
 * control byte.
 */
bool vdir_name_ok(const char *name);

/*
 * Candidate n (< VDIR_CLAIM_TRIES) of a collection's directory name for
 * its href, per the rules above; pure. Writes at most 80 bytes and a NUL.
 * Errors: E2_EINVAL (n out of range, out_size < 80).
 */
enum e2_status vdir_collection_name(const char *href, unsigned n, char *out,
				    size_t out_size, struct e2_err *err);

/*
 * <store>/contacts|calendars/{GUID}/<collection>, the first candidate
 * the href owns or can claim, created (0700, parents too) when missing;
 * guid is the account's GUID with its braces. Caller frees *path_out.
 * Errors: E2_EINVAL (guid with "/" or a leading ".", every candidate owned
 * by another href), E2_ESTORE (mkdir, a symlink in the way, write),
 * E2_ENOMEM.
 */
enum e2_status vdir_collection_dir(const char *store, enum vdir_kind kind,
				   const char *guid, const char *href,
				   char **path_out, struct e2_err *err);

/*
 * A preview's lookup: <store>/contacts|calendars/{GUID}/<name> (name: the
 * directory a state row recorded) into *path_out when it is a directory
 * (not a symlink), else NULL; nothing is made. Caller frees *path_out.
 * Errors: E2_EINVAL (guid or name not one plain segment), E2_ENOMEM.
 */
enum e2_status vdir_collection_existing(const char *store, enum vdir_kind kind,
					const char *guid, const char *name,
					char **path_out, struct e2_err *err);

/*
 * Lists the items of a collection directory: regular files whose name
 * passes vdir_name_ok() (NAME.vcf or NAME.ics, no "." first), with size, mtime,
 * inode and content hash. Symlinks, non-regular files and files over the cap
 * that carry an item name are entries of their own kind (reported, not
 * read); other names (metadata, dotfiles, "*.tmp", subdirectories) are
 * skipped silently; leftover temporaries of ours are removed and
 * reported. One bad file never stops the scan. *entries_out (sorted by
 * name) is the caller's: free(). Errors: E2_ESTORE (the directory cannot
 * be opened or is a symlink), E2_ENOMEM.
 */
enum e2_status vdir_scan(const char *dir, struct vdir_entry **entries_out,
			 size_t *n_out, struct e2_err *err);

/*
 * As vdir_scan(), but by lstat() only: ITEM entries carry name, size,
 * mtime_ns and inode, their sha256 is zero (nothing is read), and a file
 * over the cap is TOO_LARGE. The sync driver hashes only the files whose
 * identity differs from its state row (issue 10: a no-change run reads
 * no item). Errors: as vdir_scan().
 */
enum e2_status vdir_stat_scan(const char *dir, struct vdir_entry **entries_out,
			      size_t *n_out, struct e2_err *err);
/* As vdir_stat_scan(), removing nothing: our temporaries are left out of
 * the entries (a preview). */
enum e2_status vdir_stat_scan_readonly(const char *dir,
				       struct vdir_entry **entries_out,
				       size_t *n_out, struct e2_err *err);

/*
 * Keeps data (the local version of item NAME in a conflict, see
 * dav_reconcile.h) as NAME.conflict-<first 12 hex digits of its SHA-256>
 * in dir: temporary, fsync, link, directory fsync. The name ends in
 * neither .vcf nor .ics, so no vdir reader takes it for an item; named by
 * content, so a second write of the same bytes finds it there (E2_OK).
 * The name goes to name_out (name_size bytes). Errors: E2_EINVAL (bad
 * NAME, name_size too small), E2_ESTORE, E2_ENOMEM.
 */
#define VDIR_CONFLICT_INFIX ".conflict-"
enum e2_status vdir_conflict_write(const char *dir, const char *name,
				   const char *data, size_t len, char *name_out,
				   size_t name_size, struct e2_err *err);

/*
 * Reads one item (no symlink, regular, at most VDIR_ITEM_CAP bytes).
 * *data_out (NUL-terminated, len bytes) is the caller's: free(). info_out
 * may be NULL. Errors: E2_EINVAL (bad name, a symlink, not regular, too
 * large), E2_ESTORE (missing, unreadable), E2_ENOMEM.
 */
enum e2_status vdir_item_read(const char *dir, const char *name,
			      char **data_out, size_t *len_out,
			      struct vdir_item_info *info_out,
			      struct e2_err *err);

/*
 * Writes an item through its temporary (see above). expect NULL creates:
 * an existing NAME is refused (E2_EBUSY, nothing changed). expect set
 * replaces: only while the file still has expect's size, mtime_ns, inode
 * and content hash (the identity the caller read), else E2_EBUSY
 * "changed meanwhile" and the file is left as it is (the user edited it
 * with khard or khal while we synced). The check and the rename are not
 * one step: an edit in the microseconds between them is lost to this
 * write. info_out (may be NULL) is the new file's identity.
 * Errors: E2_EINVAL (bad name, len over the cap), E2_EBUSY, E2_ESTORE
 * (also a symlink at NAME or as dir), E2_ENOMEM.
 */
enum e2_status vdir_item_write(const char *dir, const char *name,
			       const char *data, size_t len,
			       const struct vdir_item_info *expect,
			       struct vdir_item_info *info_out,
			       struct e2_err *err);

/*
 * A collection folder held open for a run of writes (the driver's
 * downloads): vdir_folder_write() is vdir_item_write() -- the temporary
 * written and flushed, then linked or renamed -- without flushing the
 * directory after each item; vdir_folder_flush() flushes it once, and the
 * caller records the items (state rows) only after that. Until then a
 * crash may lose a name, never leave a half-written file under it.
 * Errors: as vdir_item_write().
 */
struct vdir_folder;
enum e2_status vdir_folder_open(const char *dir, struct vdir_folder **f_out,
				struct e2_err *err);
enum e2_status vdir_folder_write(struct vdir_folder *f, const char *name,
				 const char *data, size_t len,
				 const struct vdir_item_info *expect,
				 struct vdir_item_info *info_out,
				 struct e2_err *err);
enum e2_status vdir_folder_flush(struct vdir_folder *f, struct e2_err *err);
void vdir_folder_close(struct vdir_folder **f); /* NULL-safe, no flush */

/*
 * Deletes NAME when it still has expect's identity (E2_EBUSY otherwise,
 * nothing removed); a missing file is E2_OK (already gone), then the
 * directory is fsync()ed. Errors: E2_EINVAL, E2_EBUSY, E2_ESTORE.
 */
enum e2_status vdir_item_delete(const char *dir, const char *name,
				const struct vdir_item_info *expect,
				struct e2_err *err);

/*
 * The sanitised form of a metadata value; pure. key "displayname": the
 * first line (up to CR or LF), control bytes dropped, blanks trimmed, at
 * most 256 bytes (cut on a UTF-8 boundary); must be valid UTF-8 and not
 * empty. key "color": blanks trimmed, then "#RRGGBB" or "#RRGGBBAA" (hex
 * digits, kept as given). Caller frees *out. Errors: E2_EINVAL (unknown
 * key, nothing valid left: then nothing is written), E2_ENOMEM.
 */
enum e2_status vdir_meta_sanitise(const char *key, const char *value,
				  size_t len, char **out, struct e2_err *err);

/*
 * Writes the metadata file key ("displayname" or "color") in dir, the
 * value sanitised (no trailing newline), through a temporary and rename,
 * 0600. Errors: E2_EINVAL (as vdir_meta_sanitise(): the file is left as
 * it was), E2_ESTORE, E2_ENOMEM.
 */
enum e2_status vdir_meta_write(const char *dir, const char *key,
			       const char *value, struct e2_err *err);

/*
 * Reads the metadata file key, sanitised. *value_out NULL when the file
 * is missing, unreadable, a symlink, not regular, over 4 KiB or holds
 * nothing valid; else the caller's. Errors: E2_EINVAL (unknown key),
 * E2_ESTORE (dir cannot be opened), E2_ENOMEM.
 */
enum e2_status vdir_meta_read(const char *dir, const char *key,
			      char **value_out, struct e2_err *err);

#endif /* E2_VDIR_H */
