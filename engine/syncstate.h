/* SPDX-License-Identifier: MIT */
/* syncstate.h -- per-account sync state in accounts.db (folders, messages) */
#ifndef E2_SYNCSTATE_H
#define E2_SYNCSTATE_H

#include "email2.h"
#include "maildir.h"

#include <sqlite3.h>
#include <stdint.h>

/*
 * Tables (created by store migration 2 in store.c, rows deleted with the
 * account by ON DELETE CASCADE):
 *   sync_folders  (guid, folder, uidvalidity, highestmodseq, uidnext,
 *                  messages, local_stamp, server_stamp)
 *   sync_messages (guid, folder, uid | uidl, local_name, flags, size,
 *                  partial, omitted, internal_date)
 *   sync_pending  (guid, folder, uid | uidl, action, created)
 *   sync_outbox   (guid, file, attempts, last_error, last_attempt): the
 *                  old send queue's rows, read once and emptied by
 *                  outbox_claim() (outbox.h); nothing here writes them
 * A message row has exactly one of uid (IMAP) and uidl (POP3); both are
 * unique per (guid, folder). local_name is the Maildir unique name (no
 * ":2," info), so the row survives flag renames. POP3 rows use the folder
 * "" (the Maildir root).
 *
 * Writes are made inside the caller's transaction (store_begin() /
 * store_commit()): the message rows of a batch commit after
 * maildir_batch_commit() returned, in one transaction.
 *
 * A struct syncstate is one account's handle: it borrows db (valid until
 * syncstate_free(), which must come before the database closes), copies the
 * GUID and caches prepared statements. One thread at a time.
 *
 * Errors for every function: E2_ESTORE (SQLite's message), E2_ENOMEM,
 * E2_EINVAL where said.
 */

#define SYNCSTATE_UIDL_MAX 70 /* RFC 1939 7: 1 to 70 characters */
#define SYNCSTATE_NAME_MAX 255

struct syncstate;

enum e2_status syncstate_new(sqlite3 *db, const char *guid,
			     struct syncstate **ss_out, struct e2_err *err);
void syncstate_free(struct syncstate **ss);

/* ---- folders
 * ------------------------------------------------------------------ */

/*
 * Stamps let a resync with no change skip reading every row and every
 * file. A folder's pair says: "a sync that finds the Maildir folder with
 * local_stamp (maildir_stamp()) and the server with server_stamp (the
 * protocol's own: the account settings that choose messages, and for
 * POP3 a digest of the UIDL list) has nothing to do, unless time moved a
 * message out of the DWNDAY window (syncstate_msg_summary())". "" means
 * "unknown": never equal to a fresh stamp, so the full sync runs.
 */
#define SYNCSTATE_STAMP_MAX 128

struct syncstate_folder {
	uint32_t uidvalidity;   /* 0: never selected */
	uint64_t highestmodseq; /* 0: no CONDSTORE */
	uint32_t uidnext;
	uint32_t messages; /* EXISTS at the last sync */
	char local_stamp[SYNCSTATE_STAMP_MAX];
	char server_stamp[SYNCSTATE_STAMP_MAX];
};

/* *found_out says whether the folder has a row; f_out written when it has. */
enum e2_status syncstate_folder_get(struct syncstate *ss, const char *folder,
				    bool *found_out,
				    struct syncstate_folder *f_out,
				    struct e2_err *err);
enum e2_status syncstate_folder_put(struct syncstate *ss, const char *folder,
				    const struct syncstate_folder *f,
				    struct e2_err *err);
/* The folder row, its message rows and its pending actions. */
enum e2_status syncstate_folder_delete(struct syncstate *ss, const char *folder,
				       struct e2_err *err);
/* Only the message rows (a UIDVALIDITY change: re-sync, keep the files). */
enum e2_status syncstate_folder_clear(struct syncstate *ss, const char *folder,
				      struct e2_err *err);

/* ---- messages ---------------------------------------------------------------
 */

struct syncstate_msg {
	uint32_t uid;                            /* IMAP; 0 for POP3 */
	char uidl[SYNCSTATE_UIDL_MAX + 1];       /* POP3; "" for IMAP */
	char local_name[SYNCSTATE_NAME_MAX + 1]; /* Maildir unique name */
	char flags[MAILDIR_FLAGS_MAX];           /* as last synced, sorted */
	uint64_t size;                           /* server size (RFC822.SIZE) */
	bool partial;          /* stored truncated (RETRIEVE) */
	bool omitted;          /* parts left (KEEPMAX) */
	int64_t internal_date; /* epoch seconds, 0: unknown */
};

/*
 * Inserts or replaces the row keyed by m->uid (when nonzero) or m->uidl.
 * E2_EINVAL: neither or both set, or an empty local_name.
 */
enum e2_status syncstate_msg_put(struct syncstate *ss, const char *folder,
				 const struct syncstate_msg *m,
				 struct e2_err *err);
enum e2_status syncstate_msg_get_uid(struct syncstate *ss, const char *folder,
				     uint32_t uid, bool *found_out,
				     struct syncstate_msg *m_out,
				     struct e2_err *err);
enum e2_status syncstate_msg_get_uidl(struct syncstate *ss, const char *folder,
				      const char *uidl, bool *found_out,
				      struct syncstate_msg *m_out,
				      struct e2_err *err);
/* By Maildir unique name: adopting files after a crash, local deletes. */
enum e2_status syncstate_msg_get_local(struct syncstate *ss, const char *folder,
				       const char *local_name, bool *found_out,
				       struct syncstate_msg *m_out,
				       struct e2_err *err);
/* Deleting a row that does not exist is not an error. */
enum e2_status syncstate_msg_delete_uid(struct syncstate *ss,
					const char *folder, uint32_t uid,
					struct e2_err *err);
enum e2_status syncstate_msg_delete_uidl(struct syncstate *ss,
					 const char *folder, const char *uidl,
					 struct e2_err *err);
/* Records flags as synced (both sides agree on them now). */
enum e2_status syncstate_msg_set_flags(struct syncstate *ss, const char *folder,
				       uint32_t uid, const char *flags,
				       struct e2_err *err);

/*
 * Keyset pages, so memory is bounded by max, not by the folder:
 * syncstate_msg_list_uid() fills buf with up to max IMAP rows whose uid >
 * after_uid, in uid order (start with 0, continue with the last uid);
 * syncstate_msg_list_uidl() does the same for POP3 rows in uidl byte order
 * (after_uidl "" to start). *n_out < max means the end.
 */
enum e2_status syncstate_msg_list_uid(struct syncstate *ss, const char *folder,
				      uint32_t after_uid,
				      struct syncstate_msg *buf, size_t max,
				      size_t *n_out, struct e2_err *err);
enum e2_status syncstate_msg_list_uidl(struct syncstate *ss, const char *folder,
				       const char *after_uidl,
				       struct syncstate_msg *buf, size_t max,
				       size_t *n_out, struct e2_err *err);
enum e2_status syncstate_msg_count(struct syncstate *ss, const char *folder,
				   size_t *n_out, struct e2_err *err);

/* One query over a folder's rows, for a resync that reads none of them. */
struct syncstate_summary {
	size_t count;
	/* the oldest internal_date of a row not aged out ('A') and with a
	 * date; 0 when there is none */
	int64_t oldest;
};
enum e2_status syncstate_msg_summary(struct syncstate *ss, const char *folder,
				     struct syncstate_summary *out,
				     struct e2_err *err);

/* ---- server-side actions to propagate ---------------------------------------
 */

enum syncstate_action {
	SYNCSTATE_ACTION_DELETE = 1, /* SERVERDELETEACTION 1 */
	SYNCSTATE_ACTION_TRASH = 2,  /* SERVERDELETEACTION 2 (IMAP) */
};

struct syncstate_pending {
	uint32_t uid;                      /* 0 for POP3 */
	char uidl[SYNCSTATE_UIDL_MAX + 1]; /* "" for IMAP */
	enum syncstate_action action;
	int64_t created;
};

/* Queues an action; queuing the same (uid | uidl) again replaces it. */
enum e2_status syncstate_pending_add(struct syncstate *ss, const char *folder,
				     const struct syncstate_pending *p,
				     struct e2_err *err);
/* Up to max actions of the folder, oldest first. */
enum e2_status syncstate_pending_list(struct syncstate *ss, const char *folder,
				      struct syncstate_pending *buf, size_t max,
				      size_t *n_out, struct e2_err *err);
/* The action happened on the server: forget it. */
enum e2_status syncstate_pending_done(struct syncstate *ss, const char *folder,
				      const struct syncstate_pending *p,
				      struct e2_err *err);

/* ---- folder ids and uploads (store migration 5) ---------------------------
 *
 * Tables: sync_folder_ids (id, guid, folder): a folder's short id, never
 * reused (the "-F<id>" of a file tag, reconcile.h); it stays when the
 * folder's rows go (a UIDVALIDITY change). sync_uploads (guid, folder,
 * local_name, message_id, size, uidnext, src_folder, src_uid, created):
 * an APPEND / COPY / MOVE into folder of the file local_name that was
 * started and is not yet known to be done; the next run searches the
 * server for it before sending it again (sync_imap.c, "uploads").
 */
#define SYNCSTATE_FOLDER_ID_MAX 16
#define SYNCSTATE_MSGID_MAX 255
#define SYNCSTATE_FOLDER_MAX 512

/* The folder's id in base 36 ([0-9a-z]), made on first use. */
enum e2_status syncstate_folder_id(struct syncstate *ss, const char *folder,
				   char out[SYNCSTATE_FOLDER_ID_MAX + 1],
				   struct e2_err *err);

struct syncstate_upload {
	char local_name[SYNCSTATE_NAME_MAX + 1];
	char message_id[SYNCSTATE_MSGID_MAX + 1]; /* "" when none */
	uint64_t size;                            /* bytes on the wire */
	uint32_t uidnext;                         /* before the step */
	char src_folder[SYNCSTATE_FOLDER_MAX];    /* COPY, MOVE; else "" */
	uint32_t src_uid;                         /* COPY, MOVE; else 0 */
	int64_t created;
};

/* Inserts or replaces the record of (folder, u->local_name). */
enum e2_status syncstate_upload_put(struct syncstate *ss, const char *folder,
				    const struct syncstate_upload *u,
				    struct e2_err *err);
enum e2_status syncstate_upload_get(struct syncstate *ss, const char *folder,
				    const char *local_name, bool *found_out,
				    struct syncstate_upload *u_out,
				    struct e2_err *err);
/* Up to max records of folder, by local_name. */
enum e2_status syncstate_upload_list(struct syncstate *ss, const char *folder,
				     struct syncstate_upload *buf, size_t max,
				     size_t *n_out, struct e2_err *err);
/* Forgetting a record that does not exist is not an error. */
enum e2_status syncstate_upload_done(struct syncstate *ss, const char *folder,
				     const char *local_name,
				     struct e2_err *err);

#endif /* E2_SYNCSTATE_H */
