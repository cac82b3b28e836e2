/* SPDX-License-Identifier: MIT */
/* store.h -- the account store: accounts.db (SQLite, WAL) in the store dir */
#ifndef E2_STORE_H
#define E2_STORE_H

#include "email2.h"

#include <sqlite3.h>

/*
 * Layout (see DESIGN.md, "The store"): the directory is 0700, accounts.db
 * 0600. An account is a row in `accounts` plus one row per provisioned leaf
 * node in `nodes`, keyed by the node's path below the GUID ("INSERVER",
 * "TAGPROPS/8128000B"). Interior nodes (the GUID, TAGPROPS) exist as rows
 * with a NULL value so that an Add of "TAGPROPS" alone is remembered.
 *
 * Transactions nest: store_begin() opens a SAVEPOINT (the outermost level
 * is BEGIN IMMEDIATE), store_commit() releases it, store_rollback() rolls
 * back to it and releases it. The CSP wraps every Atomic (and every command
 * outside one) in a pair.
 *
 * Errors for every function: E2_ESTORE (SQLite failure, with SQLite's
 * message), E2_ENOMEM.
 */

struct store_node {
	char *name;  /* path below the GUID, "INSERVER", "TAGPROPS/812C000B" */
	char *value; /* NULL for an interior node */
};

/* The open database; borrowed, valid until e2_store_close(). */
sqlite3 *store_db(struct e2_store *st);

enum e2_status store_begin(struct e2_store *st, struct e2_err *err);
/*
 * As store_begin(), but when outermost the transaction only reads (BEGIN
 * DEFERRED, no write lock); end it with store_commit() or store_rollback().
 */
enum e2_status store_begin_read(struct e2_store *st, struct e2_err *err);
/*
 * Releases the innermost savepoint. On failure it has been rolled back and
 * released already: do not call store_rollback() for it.
 */
enum e2_status store_commit(struct e2_store *st, struct e2_err *err);
/* Always undoes what the matching store_begin() started; never fails. */
void store_rollback(struct e2_store *st);

/*
 * GUIDs are matched whatever the case of their hex digits (see store.c,
 * "GUIDs"); a new account is stored upper-case. Longest GUID accepted, NUL
 * included (E2_EINVAL beyond).
 */
#define STORE_GUID_MAX 64

/*
 * Looks the GUID up case-insensitively: *found_out says whether it is
 * stored and, when stored_out is not NULL, it receives the spelling stored
 * (an exact match wins), or guid itself when absent.
 */
enum e2_status store_account_find(struct e2_store *st, const char *guid,
				  bool *found_out,
				  char stored_out[STORE_GUID_MAX],
				  struct e2_err *err);
/* *exists_out is set to whether the GUID (braced, any case) is stored. */
enum e2_status store_account_exists(struct e2_store *st, const char *guid,
				    bool *exists_out, struct e2_err *err);
/* Creates an empty account; E2_EINVAL if it exists already. */
enum e2_status store_account_create(struct e2_store *st, const char *guid,
				    struct e2_err *err);
/* Deletes the account, its nodes and its sync state; E2_EINVAL if absent. */
enum e2_status store_account_delete(struct e2_store *st, const char *guid,
				    struct e2_err *err);
/*
 * Every stored GUID, sorted (byte order); the vector is also NULL-terminated.
 * The caller frees with e2_strv_free().
 */
enum e2_status store_account_list(struct e2_store *st, char ***guids_out,
				  size_t *n_out, struct e2_err *err);

/*
 * Node access. store_node_get() sets *found_out and, when found, *value_out
 * to a copy of the value (NULL for an interior node; caller frees, wiping
 * secrets with OPENSSL_cleanse).
 */
enum e2_status store_node_get(struct e2_store *st, const char *guid,
			      const char *name, bool *found_out,
			      char **value_out, struct e2_err *err);
/*
 * Inserts or replaces; value NULL makes an interior node. Missing path
 * segments above name ("TAGPROPS" for "TAGPROPS/8128000B") are created as
 * interior nodes. E2_EINVAL when the account does not exist.
 */
enum e2_status store_node_set(struct e2_store *st, const char *guid,
			      const char *name, const char *value,
			      struct e2_err *err);
/*
 * Deletes name and every node below it ("TAGPROPS" takes its children);
 * deleting a node that does not exist is not an error.
 */
enum e2_status store_node_delete(struct e2_store *st, const char *guid,
				 const char *name, struct e2_err *err);
/* Every node of the account, sorted by name; free with store_nodes_free(). */
enum e2_status store_node_list(struct e2_store *st, const char *guid,
			       struct store_node **nodes_out, size_t *n_out,
			       struct e2_err *err);
void store_nodes_free(struct store_node **nodes, size_t n);

/* ---- directories of an account ------------------------------------------- */

#define STORE_AREA_MAIL "mail"     /* <store>/mail/{GUID}: the Maildir++ */
#define STORE_AREA_OUTBOX "outbox" /* <store>/outbox/{GUID}: the queue */

/*
 * <store>/<area>/<guid> (area STORE_AREA_MAIL or STORE_AREA_OUTBOX),
 * created 0700 with <store>/<area> when missing, after checking that the
 * store, <store>/<area> and the account's directory are the user's own:
 * real directories (no symlink), owned by the effective uid, not writable
 * by group or others (see store.c, "the store is the user's own"). Call it
 * wherever an account's mail or queue is opened; use the stored spelling
 * of the GUID (struct e2_account.guid). *path_out: caller frees.
 * Errors: E2_ESTORE naming the path and the fix, E2_EINVAL (guid not one
 * path component), E2_ENOMEM.
 */
enum e2_status store_account_dir(struct e2_store *st, const char *area,
				 const char *guid, char **path_out,
				 struct e2_err *err);

/*
 * Removes <store>/outbox/<guid> and <store>/mail/<guid> (the legacy queue
 * <mail>/.Outbox with it), for an account that was deleted and committed.
 * *queued_out is the number of queued messages (files in the queues' new/
 * and cur/) dropped. Symlinks are never followed (an fd-relative walk with
 * O_NOFOLLOW; a symlink is removed itself), nothing outside the store is
 * touched, and a missing directory is not an error.
 * Errors: E2_ESTORE (a directory not the user's own, a removal failed),
 * E2_EBUSY (a sync of the account holds its lock), E2_EINVAL, E2_ENOMEM.
 * The account's lock file (store_account_lock()) is removed with them.
 */
enum e2_status store_account_remove_files(struct e2_store *st, const char *guid,
					  size_t *queued_out,
					  struct e2_err *err);

/* ---- snapshots (email2-provision --dry-run) ------------------------------ */

/*
 * Opens the store in dir (NULL: the default, as e2_store_open()) as an
 * in-memory copy: the same checks of the directory and accounts.db as a
 * real open (without repairing a mode), the database copied into memory
 * and migrated there; a missing store or accounts.db gives an empty one.
 * Nothing under dir is created or changed (see store.c for the WAL case).
 * Writes go to the copy and vanish with e2_store_close(); making or
 * removing an account's directories fails with E2_ESTORE.
 * Errors: E2_ESTORE (naming the path), E2_EINVAL, E2_ENOMEM.
 */
enum e2_status store_open_snapshot(const char *dir, struct e2_store **st_out,
				   struct e2_err *err);
/* True for a store from store_open_snapshot(). */
bool store_is_snapshot(const struct e2_store *st);
/*
 * What store_account_remove_files() would drop, read only: *queued_out
 * messages in the account's queues (0 when there is none).
 * Errors: E2_EINVAL (guid not one path component).
 */
enum e2_status store_account_files_preview(struct e2_store *st,
					   const char *guid, size_t *queued_out,
					   struct e2_err *err);

/* <store>/locks: the per-account lock files (store_account_lock()) */
#define STORE_LOCK_DIR "locks"
/*
 * Takes the account's exclusive lock, <store>/locks/<guid>.lock (0600; the
 * directory 0700 and checked like the others), without waiting: one sync,
 * fetch-full or removal of an account at a time, across processes and
 * threads. *fd_out holds it until close(); the kernel drops it when a
 * killed process's descriptor closes. The legacy <maildir>/email2-sync.lock
 * of an older email2 is locked too (busy while an old binary syncs) and
 * removed. Errors: E2_EBUSY (held elsewhere, naming the file), E2_ESTORE,
 * E2_EINVAL (guid not one path component), E2_ENOMEM.
 */
enum e2_status store_account_lock(struct e2_store *st, const char *guid,
				  int *fd_out, struct e2_err *err);

/* ---- account options (issue 8) ----------------------------------------- */

/*
 * Per-account settings that the EMAIL2 CSP does not carry, in the table
 * account_options (migration 7; gone with the account). Each has a fixed
 * set of values, the first the default:
 *   sent-copy  upload (default): a sent message's copy is put in the local
 *              mirror of the server's Sent folder and uploaded by the sync;
 *              server: the server files sent mail itself (Gmail, some
 *              Exchange setups), the copy is dropped and the server's own
 *              copy downloaded.
 * store_option_set(): E2_EINVAL for an unknown name, a value not in the
 * set, or no such account; E2_ESTORE. store_option_get(): the stored
 * value, else the default, into *value_out (caller frees); E2_EINVAL
 * for an unknown name; E2_ESTORE, E2_ENOMEM.
 */
#define STORE_OPT_SENT_COPY "sent-copy"
#define STORE_SENT_COPY_UPLOAD "upload"
#define STORE_SENT_COPY_SERVER "server"
enum e2_status store_option_set(struct e2_store *st, const char *guid,
				const char *name, const char *value,
				struct e2_err *err);
enum e2_status store_option_get(struct e2_store *st, const char *guid,
				const char *name, char **value_out,
				struct e2_err *err);

#endif /* E2_STORE_H */
