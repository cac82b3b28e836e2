/* SPDX-License-Identifier: MIT */
/* sync.h -- the sync engine's internal API: state, IMAP, POP3, outbox */
#ifndef E2_SYNC_H
#define E2_SYNC_H

#include "email2.h"
#include "maildir.h"
#include "store.h"

#include <stdint.h>

/*
 * One account's sync run. The driver (sync.c) fills it, opens the Maildir,
 * and calls the protocol loops; each loop opens its own connection through
 * transports/chain.h. Everything borrowed for the run.
 */
struct sync_ctx {
	struct e2_store *st;
	const struct e2_account *a;
	struct e2_sync_opts o; /* defaults applied */
	struct e2_sync_stats *stats;
	struct maildir *md;
	time_t now;
};

/* True once the caller asked to stop (opts->stop). */
bool sync_stopping(const struct sync_ctx *c);
/* Calls the progress callback, if any. */
void sync_progress(const struct sync_ctx *c);

/*
 * The sync state (tables e2sync_* in accounts.db, created on first use,
 * ON DELETE CASCADE with the account). Until engine/syncstate.h lands these
 * live here.
 *
 * e2sync_folder(guid, name, uidvalidity, uidnext, modseq, nmsgs)
 * e2sync_msg(guid, folder, uid, uniq, flags, partial)  -- IMAP
 * e2sync_uidl(guid, uidl, uniq, partial)                -- POP3
 * e2sync_outbox(guid, uniq, tries, last_error, updated) -- queued mail
 *
 * Errors for every function: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status sync_state_init(struct e2_store *st, struct e2_err *err);

struct sync_folder_state {
	bool known;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;
	uint32_t nmsgs;
};

enum e2_status sync_state_folder_get(struct e2_store *st, const char *guid,
				     const char *folder,
				     struct sync_folder_state *fs_out,
				     struct e2_err *err);
enum e2_status sync_state_folder_put(struct e2_store *st, const char *guid,
				     const char *folder,
				     const struct sync_folder_state *fs,
				     struct e2_err *err);
/* Drops the folder and its message rows (UIDVALIDITY change). */
enum e2_status sync_state_folder_reset(struct e2_store *st, const char *guid,
				       const char *folder, struct e2_err *err);

struct sync_msg_row {
	uint32_t uid;
	char *uniq;
	char flags[MAILDIR_FLAGS_MAX]; /* standard letters as last synced */
	bool partial;
};

/* Every message row of the folder, sorted by uid; free with ..._free(). */
enum e2_status sync_state_msgs_load(struct e2_store *st, const char *guid,
				    const char *folder,
				    struct sync_msg_row **rows_out,
				    size_t *n_out, struct e2_err *err);
void sync_msg_rows_free(struct sync_msg_row **rows, size_t n);
enum e2_status sync_state_msg_put(struct e2_store *st, const char *guid,
				  const char *folder,
				  const struct sync_msg_row *row,
				  struct e2_err *err);
enum e2_status sync_state_msg_del(struct e2_store *st, const char *guid,
				  const char *folder, uint32_t uid,
				  struct e2_err *err);

/* POP3: *found_out whether uidl is known; uniq_out (may be NULL) copy. */
enum e2_status sync_state_uidl_get(struct e2_store *st, const char *guid,
				   const char *uidl, bool *found_out,
				   char **uniq_out, struct e2_err *err);
enum e2_status sync_state_uidl_put(struct e2_store *st, const char *guid,
				   const char *uidl, const char *uniq,
				   bool partial, struct e2_err *err);
enum e2_status sync_state_uidl_del(struct e2_store *st, const char *guid,
				   const char *uidl, struct e2_err *err);

/* Outbox: records why a message is still queued (error NULL: sent). */
enum e2_status sync_state_outbox_note(struct e2_store *st, const char *guid,
				      const char *uniq, const char *error,
				      struct e2_err *err);

/* ---- the protocol loops -------------------------------------------------- */

/* Downloads every selectable IMAP folder. Errors: transport's, E2_ESTORE. */
enum e2_status sync_imap_run(struct sync_ctx *c, struct e2_err *err);
/* Downloads the POP3 maildrop into the root folder. */
enum e2_status sync_pop3_run(struct sync_ctx *c, struct e2_err *err);
/* Sends .Outbox and moves what was sent into .Sent. */
enum e2_status sync_send_run(struct sync_ctx *c, struct e2_err *err);

/*
 * Maildir letters for IMAP system flags and back. Only S F R (and T for
 * \Deleted, D for \Draft on download) are synced.
 */
void sync_flags_from_imap(bool seen, bool flagged, bool answered, bool draft,
			  char out[MAILDIR_FLAGS_MAX]);

#endif /* E2_SYNC_H */
