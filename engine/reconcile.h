/* SPDX-License-Identifier: MIT */
/* reconcile.h -- two-way reconciliation of one folder as a pure function */
#ifndef E2_RECONCILE_H
#define E2_RECONCILE_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Plain data in, a list of actions out: no I/O, no globals, no clock. The
 * drivers (sync_imap.c, sync_pop3.c) build the inputs from the state rows,
 * maildir_snapshot() and the server's listing, then carry the actions out
 * in the order given. Cost: O((rows + files + server) log n) time, one
 * allocation for the plan and one for a bit per file.
 *
 * Flags are the synced set only, as a mask of RECONCILE_FLAG_*: S F R
 * (Maildir letters; IMAP \Seen \Flagged \Answered). D P, keywords and the
 * bookkeeping letters stay the driver's. T (trashed) is a local delete.
 *
 * Tags. A downloaded file carries "U=<uid>-V<uidvalidity>" (old form) or
 * "U=<uid>-V<uidvalidity>-F<id>" (new form), <id> being the folder's short
 * stable id (1 to 16 of [0-9a-z], e.g. the store's folder row id in base
 * 36: never reused, unlike a name or a UIDVALIDITY, which can coincide
 * between folders). reconcile_tag_parse() reads both. A new-form tag names
 * its folder; an old-form tag is resolved by candidates: this folder (its
 * current UIDVALIDITY and the uid listed on the server) and every other
 * folder whose row has the same (uidvalidity, uid). One candidate: that
 * folder. None or several: the file is new mail, UPLOADed (reported as
 * ambiguous), never the cause of a delete.
 *
 * Rules (one line each; the unit test names its row after the rule):
 *  R1  flags: per flag, a side that changed since the last sync wins; both
 *      changed: local wins (push); only the server changed: pull.
 *  R2  server expunged, local file unchanged: LOCAL_DELETE.
 *  R3  server expunged, local flags changed: UPLOAD again (keep beats delete).
 *  R4  server expunged, local file gone too: DROP_ROW.
 *  R5  local deleted (file gone or T), server unchanged, the message in no
 *      other folder: SERVER_DELETE (IMAP: SERVERDELETEACTION 1 expunge,
 *      2 Trash, the driver's choice; POP3: 1 DELE, 2 TOMBSTONE).
 *  R6  local deleted, server flags changed since the last sync: DOWNLOAD
 *      again (keep beats delete), nothing deleted on the server.
 *  R7  file left folder A and a file in B names A's row: B gets SERVER_MOVE
 *      A->B; A gets KEEP (MOVED_AWAY): never delete + upload, never a
 *      delete without the copy.
 *  R8  file in B names A's row and A's file is still there: SERVER_COPY.
 *  R9  file in B names A's row and A's message is gone from the server
 *      (moved locally, deleted on the server): UPLOAD into B.
 *  R10 file in B with an old-form tag matching several folders: UPLOAD
 *      (AMBIGUOUS); A keeps its row while any file names it.
 *  R11 file with no tag in a synced folder: UPLOAD with its flags.
 *  R12 file with this folder's tag, no row, uid on the server: ADOPT
 *      (a crash between the rename and the row commit).
 *  R13 file with this folder's tag and an old UIDVALIDITY: KEEP (STALE);
 *      the driver drops it once a byte-identical twin is downloaded.
 *  R14 server uid with no row and no file to adopt: DOWNLOAD, unless
 *      outside the DWNDAY window.
 *  R15 known message outside the DWNDAY window: AGE_OUT (local file and
 *      row only; local flag changes are pushed first); an aged-out row
 *      back inside the window: DOWNLOAD.
 *  R16 UIDVALIDITY changed: every row is void (DROP_ROW, files kept),
 *      every server uid is downloaded (R14), old files are R13.
 *  R17 POP3: local moves and new local files stay local (no UPLOAD, no
 *      MOVE); no flags are synced; local delete per R5; server gone:
 *      DROP_ROW, the file stays; a file whose tag names a listed UIDL
 *      with no row is ADOPTed (R12). A row whose file left the root (or
 *      is T there) while a file of another folder names its UIDL (a ref
 *      with pop3_uidl) was moved, not deleted: KEEP (MOVED_AWAY), the row
 *      stays as it is (no DELE, no TOMBSTONE, no AGE_OUT, no download);
 *      once no folder holds it, it is a local delete (R5). A row the
 *      driver marked moved (its file went away under a new name, found by
 *      the driver) is KEEP (MOVED_AWAY) for good, DROP_ROW once the
 *      server lets the message go.
 *  R18 IMAP save by a new name (neomutt's save-message: a NEW file under a
 *      new name, no tag, in B; the original removed or T in A): the
 *      account pass pairs each orphan (a row of A whose file is gone or
 *      T) with the one untagged file of another changed folder whose
 *      Message-ID is the same (reconcile_pair_saves(); normalised: CFWS,
 *      angle brackets, the domain's case). The driver then renames the
 *      file to carry A's new-form tag, which makes it R7 (a SERVER_MOVE,
 *      never an upload; A's row KEEP MOVED_AWAY). No pair -- no or an
 *      empty Message-ID, two files or two orphans with one id, or the
 *      file in A itself (an edit, not a move) -- leaves R5 + R11 (delete
 *      and upload). A copy (copy-message: A's file still there) is not
 *      paired (rows keep no Message-ID): the new file is uploaded (R11).
 *  F1  local folder, no server folder, never synced: CREATE_SERVER_FOLDER.
 *  F2  server folder gone, local folder holds only messages the server
 *      had (no untagged or changed file): REMOVE_LOCAL_FOLDER.
 *  F3  server folder gone, local folder holds unsynced mail: KEEP_REPORT.
 *  F4  local folder gone, server folder present: DOWNLOAD_FOLDER (made
 *      again locally and downloaded); a server folder is never deleted.
 *  F5  server folder, no local folder, never synced: DOWNLOAD_FOLDER.
 *  F6  both present: SYNC (reconcile_folder()).
 */

enum reconcile_proto {
	RECONCILE_IMAP,
	RECONCILE_POP3,
};

#define RECONCILE_FLAG_SEEN 0x1u
#define RECONCILE_FLAG_FLAGGED 0x2u
#define RECONCILE_FLAG_ANSWERED 0x4u
#define RECONCILE_FLAG_TRASHED 0x8u /* local only: T */
#define RECONCILE_SYNCED                                                       \
	(RECONCILE_FLAG_SEEN | RECONCILE_FLAG_FLAGGED | RECONCILE_FLAG_ANSWERED)
#define RECONCILE_FOLDER_ID_MAX 16
#define RECONCILE_NONE ((size_t)-1)

/* A parsed tag; folder_id is "" for the old form. */
struct reconcile_tag {
	uint32_t uid;
	uint32_t uidvalidity;
	char folder_id[RECONCILE_FOLDER_ID_MAX + 1];
};

/* A state row. Sorted by uid (IMAP) or strcmp of uidl (POP3). */
struct reconcile_row {
	uint32_t uid;           /* IMAP, else 0 */
	const char *uidl;       /* POP3, else NULL */
	const char *local_name; /* Maildir unique name (no ":2,") */
	unsigned flags;         /* synced set at the last sync */
	bool tombstone;         /* POP3 "T": deleted locally, left on server */
	bool aged_out;          /* POP3 "A": left by DWNDAY */
	bool moved;             /* POP3 "M": moved away under a new name */
};

/* A local file (maildir_file). Sorted by strcmp of uniq. */
struct reconcile_local {
	const char *uniq;
	unsigned flags; /* RECONCILE_FLAG_* including TRASHED */
	bool has_tag;   /* tag parsed by reconcile_tag_parse() */
	struct reconcile_tag tag;
	const char *pop3_uidl; /* POP3: the UIDL its tag names, else NULL */
};

/* A server message. Sorted like the rows. It must list every uid the
 * rows name that still exists, and the new ones above them. */
struct reconcile_server {
	uint32_t uid;
	const char *uidl;
	unsigned flags;      /* IMAP only */
	bool outside_window; /* DWNDAY, decided by the driver */
};

/* The account index: every folder's rows, sorted by reconcile_index_cmp. */
struct reconcile_index_entry {
	const char *folder_id;
	uint32_t uidvalidity;
	uint32_t uid;
	bool file_present; /* the row's file is still in its folder */
	bool server_gone;  /* known expunged this run (else: driver falls back
			      to UPLOAD when the MOVE finds no message) */
};

/* Tagged files of other folders, sorted by (uidvalidity, uid, pop3_uidl). */
struct reconcile_tagref {
	const char *holder_id; /* the folder the file is in */
	struct reconcile_tag tag;
	const char *pop3_uidl; /* POP3: the UIDL its tag names (tag zero) */
};

struct reconcile_input {
	enum reconcile_proto proto;
	int serverdeleteaction;      /* 1 or 2 (0 taken as 2) */
	const char *folder_id;       /* this folder's stable id */
	uint32_t uidvalidity;        /* current; 0 for POP3 */
	uint32_t stored_uidvalidity; /* 0: never synced */
	const struct reconcile_row *rows;
	size_t nrows;
	const struct reconcile_local *local;
	size_t nlocal;
	const struct reconcile_server *server;
	size_t nserver;
	const struct reconcile_index_entry *index; /* may be empty */
	size_t nindex;
	const struct reconcile_tagref *refs; /* may be empty */
	size_t nrefs;
};

/*
 * What the driver does for each kind. "row" is written after the server
 * step succeeded (server first: a crash repeats the step, the next run
 * adopts or re-pushes). flags are the synced set to store.
 *  DOWNLOAD       server: fetch it (with row set: the row is replaced).
 *  ADOPT          local, server: write the row for the file as it is.
 *  UPLOAD         local, flags: APPEND here, learn the UID, retag the
 *                 file (new form), write the row; with row set (R3) the
 *                 old row goes.
 *  SERVER_MOVE    local, from: UID MOVE (else COPY + \Deleted + UID
 *  SERVER_COPY    EXPUNGE of that UID) of from->uid into this folder, or
 *                 UID COPY; retag the file from COPYUID, drop from's row
 *                 (move only). A missing source UID falls back to UPLOAD.
 *  PUSH_FLAGS     row, add, remove: UID STORE; then the row gets flags.
 *  PULL_FLAGS     row, local, flags: rename the file to flags (D P and
 *                 keywords kept) and store them in the row; with reason
 *                 CHANGED, T is cleared too (keep beats delete).
 *  LOCAL_DELETE   row, local: remove the file and the row.
 *  SERVER_DELETE  row, server: IMAP per SERVERDELETEACTION (1 expunge,
 *                 2 Trash), POP3 DELE; then the row and any file go.
 *  TOMBSTONE      row: POP3 "T" row, the message stays on the server.
 *  DROP_ROW       row: forget it; the file (if any) stays.
 *  AGE_OUT        row, local: remove the file (and its row, or mark it
 *                 aged out for POP3); never the server.
 *  KEEP           row or local, reason: nothing now, report the reason.
 */
enum reconcile_kind {
	RECONCILE_DOWNLOAD,
	RECONCILE_ADOPT,
	RECONCILE_UPLOAD,
	RECONCILE_SERVER_MOVE,
	RECONCILE_SERVER_COPY,
	RECONCILE_PUSH_FLAGS,
	RECONCILE_PULL_FLAGS,
	RECONCILE_LOCAL_DELETE,
	RECONCILE_SERVER_DELETE,
	RECONCILE_TOMBSTONE,
	RECONCILE_DROP_ROW,
	RECONCILE_AGE_OUT,
	RECONCILE_KEEP,
};

enum reconcile_reason {
	RECONCILE_REASON_NONE,
	RECONCILE_REASON_MOVED_AWAY,  /* another folder's file names it */
	RECONCILE_REASON_AMBIGUOUS,   /* old-form tag of several folders */
	RECONCILE_REASON_STALE,       /* tag of an old UIDVALIDITY */
	RECONCILE_REASON_CHANGED,     /* keep beats delete */
	RECONCILE_REASON_VALIDITY,    /* rows void: UIDVALIDITY changed */
	RECONCILE_REASON_LOCAL_ONLY,  /* POP3: stays local */
	RECONCILE_REASON_SOURCE_GONE, /* moved locally, deleted on server */
};

/* Indexes into the input arrays (RECONCILE_NONE: not used). */
struct reconcile_action {
	enum reconcile_kind kind;
	enum reconcile_reason reason;
	size_t row, local, server;
	const struct reconcile_index_entry *from; /* MOVE, COPY */
	unsigned flags, add, remove;
};

struct reconcile_plan {
	struct reconcile_action *v;
	size_t n;
};

/*
 * Reads "<uid>-V<uidvalidity>[-F<id>]" (a tag field's value); false for
 * anything else (the file is then untagged).
 */
bool reconcile_tag_parse(const char *val, struct reconcile_tag *out);
/*
 * Writes the new-form tag value of (uid, uidvalidity, folder_id) into out
 * (RECONCILE_TAG_MAX bytes). E2_EINVAL: a zero uid or uidvalidity, or a
 * folder id that is not 1 to 16 of [0-9a-z].
 */
#define RECONCILE_TAG_MAX 48
enum e2_status reconcile_tag_format(uint32_t uid, uint32_t uidvalidity,
				    const char *folder_id,
				    char out[RECONCILE_TAG_MAX],
				    struct e2_err *err);
/* Orders index entries by (uidvalidity, uid, folder_id), for qsort(). */
int reconcile_index_cmp(const void *a, const void *b);
/* Orders tag refs by (uidvalidity, uid, pop3_uidl), for qsort(). */
int reconcile_tagref_cmp(const void *a, const void *b);

/*
 * The actions for one folder, into *plan_out (caller frees with
 * reconcile_plan_free()). Borrows in. Errors: E2_ENOMEM, E2_EINVAL
 * (arrays not sorted).
 */
enum e2_status reconcile_folder(const struct reconcile_input *in,
				struct reconcile_plan *plan_out,
				struct e2_err *err);
/* NULL-safe; empties plan. */
void reconcile_plan_free(struct reconcile_plan *plan);

/* ---- saves by a new name (R18) */
#define RECONCILE_MSGID_MAX 255

/* One side of R18: the folder (its stable id) and the Message-ID. */
struct reconcile_save_side {
	const char *folder_id;
	const char *message_id; /* as read; NULL or "" : none */
};

/*
 * Normalises a Message-ID into out: whitespace (CFWS, folding) removed,
 * one pair of enclosing angle brackets removed, the part after the last
 * '@' (the domain, RFC 5322 id-right) lower-cased; id-left keeps its
 * case. false (out "") for NULL, empty, longer than RECONCILE_MSGID_MAX,
 * a byte outside printable ASCII, or '<' '>' inside.
 */
bool reconcile_msgid_normalize(const char *in,
			       char out[RECONCILE_MSGID_MAX + 1]);
/*
 * R18: pair_out[i] (norphans entries) gets the index of the one file of
 * files whose normalised Message-ID equals orphans[i]'s, or
 * RECONCILE_NONE: no usable id, no file or two files with it, another
 * orphan with it, or the file in the orphan's own folder. A file pairs
 * with at most one orphan. Borrows both arrays; any order. O((n + m)
 * log). Errors: E2_ENOMEM.
 */
enum e2_status reconcile_pair_saves(const struct reconcile_save_side *orphans,
				    size_t norphans,
				    const struct reconcile_save_side *files,
				    size_t nfiles, size_t *pair_out,
				    struct e2_err *err);

/* ---- folder level (F1-F6) */
struct reconcile_folder_state {
	bool local_exists, server_exists;
	bool synced_before; /* has a sync_folders row */
	size_t unsynced;    /* local files not on the server (R3, R9-R11) */
};

enum reconcile_folder_action {
	RECONCILE_FOLDER_SYNC,
	RECONCILE_FOLDER_CREATE_SERVER,
	RECONCILE_FOLDER_DOWNLOAD,
	RECONCILE_FOLDER_REMOVE_LOCAL,
	RECONCILE_FOLDER_KEEP_REPORT,
	RECONCILE_FOLDER_FORGET, /* neither side: drop the state row */
};

enum reconcile_folder_action
reconcile_folder_decide(const struct reconcile_folder_state *fs);

#endif
