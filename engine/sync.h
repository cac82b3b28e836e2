/* SPDX-License-Identifier: MIT */
/* sync.h -- the sync engine's internal API: state, IMAP, POP3, outbox */
#ifndef E2_SYNC_H
#define E2_SYNC_H

#include "email2.h"
#include "maildir.h"
#include "store.h"
#include "syncstate.h"

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
	struct syncstate *ss; /* this account's sync state rows */
	time_t now;
};

/* ---- the run's toolkit for the protocol loops (sync_ctx.c) ------------- */

struct chain_session;
/*
 * Records in c->stats that sess (side's, just opened) logged in over a
 * plaintext link: cleartext_login and the node that allowed it.
 */
void sync_note_cleartext(struct sync_ctx *c, struct chain_session *sess,
			 enum e2_side side);

/* True once the caller asked to stop (opts->stop). */
bool sync_stopping(const struct sync_ctx *c);

/*
 * (sync.c) Takes the account's exclusive sync lock (store_account_lock():
 * <store>/locks/<guid>.lock, outside the Maildir) without waiting: one sync
 * or fetch-full of an account at a time. *fd_out holds it until close().
 * Errors: E2_EBUSY (held elsewhere), E2_ESTORE.
 */
enum e2_status sync_lock(struct e2_store *st, const char *guid, int *fd_out,
			 struct e2_err *err);
/*
 * (sync.c) *busy_out: whether a sync of guid (stored spelling) holds its
 * lock now (e2_account_delete() refuses then). Errors: E2_ESTORE.
 */
enum e2_status sync_busy(struct e2_store *st, const char *guid, bool *busy_out,
			 struct e2_err *err);
/*
 * Records that the folder (uid 0) or one message of it was skipped, with
 * err's message as the reason, in c->stats (e2_sync_stats.skip), and
 * clears err so the sync goes on: the run is then "partial".
 */
void sync_skip(struct sync_ctx *c, const char *folder, uint32_t uid,
	       struct e2_err *err);
/*
 * The error of a failed protocol command into err, for every driver: the
 * session's own error when the transport or the server-byte guard failed
 * the read (chain_session_err()), E2_EIO "connection lost" when lost,
 * else E2_EPROTO with the server's response quoted (e2_quote()). proto
 * ("imap", "pop3") and what (the command) name it; code is libetpan's.
 * Returns err->code.
 */
struct chain_session;
enum e2_status sync_cmd_fail(struct chain_session *sess, const char *proto,
			     const char *what, int code, bool lost,
			     const char *response, struct e2_err *err);
/* Calls the progress callback, if any. */
void sync_progress(const struct sync_ctx *c);
/* A folder's download starts: total messages to get; calls the callback. */
void sync_progress_folder(struct sync_ctx *c, const char *folder, size_t total);
/*
 * The partial/omitted marks (mime_marks()) of a file adopted after a crash,
 * from its first max bytes: the header, and the placeholders that follow
 * the kept text. A file that cannot be read has none: it is adopted as it
 * is.
 */
void sync_adopt_marks(const char *folder_path, const struct maildir_file *lf,
		      size_t max, bool *partial_out, bool *omitted_out);

/* ---- the protocol loops -------------------------------------------------- */

/* Downloads every selectable IMAP folder. Errors: transport's, E2_ESTORE. */
enum e2_status sync_imap_run(struct sync_ctx *c, struct e2_err *err);
/* Downloads the POP3 maildrop into the root folder. */
enum e2_status sync_pop3_run(struct sync_ctx *c, struct e2_err *err);
/*
 * (sync_dav.c) One DAV content type of the run: content is E2_SYNC_CONTACTS
 * (CardDAV) or the calendar bits wanted (E2_SYNC_APPOINTMENTS and/or
 * E2_SYNC_TASKS: CalDAV). Fills *out; a type that failed or skipped items
 * adds one skip entry (the run becomes "partial"); "not-found" adds none.
 * Never stops the run: the other types go on.
 */
void sync_dav_run(struct sync_ctx *c, unsigned content,
		  struct e2_dav_stats *out);
/* Sends the queue <store>/outbox/{GUID} (outbox.h); what was sent goes to
 * .Sent. */
enum e2_status sync_send_run(struct sync_ctx *c, struct e2_err *err);

/*
 * Maildir letters for IMAP system flags and back. Only S F R (and T for
 * \Deleted, D for \Draft on download) are synced.
 */
void sync_flags_from_imap(bool seen, bool flagged, bool answered, bool draft,
			  char out[MAILDIR_FLAGS_MAX]);

#endif /* E2_SYNC_H */
