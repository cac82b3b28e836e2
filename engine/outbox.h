/* SPDX-License-Identifier: MIT */
/* outbox.h -- where an account's send queue lives, and its claimed rows */
#ifndef E2_OUTBOX_H
#define E2_OUTBOX_H

#include "email2.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The send queue of account GUID is the Maildir <store>/outbox/{GUID}/
 * (tmp/ new/ cur/, directories 0700, files 0600): outside <store>/mail/,
 * the tree that server folders map into, so no server folder name -- not
 * "Outbox", not any encoding of one -- can name it, and nothing a sync
 * writes ever lands in it. store_account_dir(STORE_AREA_OUTBOX) is the one
 * function that names the path and checks it is the user's own; account
 * deletion (store_account_remove_files()) removes the same directory.
 *
 * Claims (issue 8). A message is known to the queue by a unique id, never
 * by the name the user gave its file:
 *  - id: "<seconds>.Q<16 hex digits>.e2q" (outbox_id_new(): the clock and
 *    8 random bytes). A claimed message is the file cur/<id>:2,<flags>
 *    (the flags are whatever a mail client set; ignored) and the row
 *    (guid, id) of the table outbox_queue (migration 6), which holds its
 *    state, attempts, last error, next attempt, the time it was queued and,
 *    for email2-sendmail, its envelope recipients.
 *  - outbox_claim() claims every other file of new/ and cur/ (a name the
 *    user chose, or an id-shaped name no row knows): (1) the row is
 *    committed with origin = "<sub>/<name>"; (2) the file is renamed to
 *    cur/<id>:2,<flags>; (3) the directories are fsynced. The same for a
 *    message email2-sendmail writes (e2_outbox_submit()): origin is its
 *    tmp/ file.
 *  - Recovery, at the start of every claim pass, decides each row by what
 *    is on disk, so a kill at any point is repaired the same way: the file
 *    cur/<id> (any flags) exists -> claimed, nothing to do; else the origin
 *    exists -> the kill fell between (1) and (2): rename it now; else the
 *    file is gone (the user removed it, or a "sent" row whose file reached
 *    the Sent folder): the row is deleted. A file is never claimed twice
 *    (one rename moves it), and a reused file name is only a new file: it
 *    gets a new id, so it is neither suppressed by an old row nor sent
 *    twice.
 *  - Rows of older versions (sync_outbox, keyed by file name) are consumed
 *    by the claim of the file they name, in the same transaction: attempts
 *    and reason carry over, and a row with the old "sent" marker makes the
 *    claim state OUTBOX_STATE_SENT (moved to Sent, never sent again). After
 *    a claim pass no sync_outbox row of the account is left, so a stale
 *    one cannot act on a file that reuses its name later.
 *
 * States: QUEUED (due at next_attempt), SENT (the server took it; its file
 * could not be moved to the Sent folder yet: only that move is retried,
 * never the send), FAILED (given up: never sent again until the user runs
 * `email2-outbox retry`). See outbox_retry_delay() for the schedule.
 */

#define OUTBOX_ID_MAX 48

enum outbox_state {
	OUTBOX_STATE_QUEUED = 0,
	OUTBOX_STATE_SENT = 1,
	OUTBOX_STATE_FAILED = 2,
};

/* One claimed message (a row of outbox_queue). */
struct outbox_row {
	char guid[STORE_GUID_MAX];
	char id[OUTBOX_ID_MAX];
	enum outbox_state state;
	char *origin; /* "<sub>/<name>" it was claimed from; owned */
	unsigned attempts;
	int64_t queued, last_attempt, next_attempt; /* Unix seconds */
	char last_error[256];
	char *envelope; /* NULL, or recipients one per line; owned */
};

/*
 * Retries: a message the server refused for now (4xx) or that could not be
 * read is tried again after 1, 5, 15 and 60 minutes, then every 60
 * minutes; a sync run skips a message not yet due (email2-outbox retry
 * makes it due now). A connection that could not be made (or a session
 * lost before the message's turn) is not the message's fault: it counts no
 * attempt and sets no delay. A message goes FAILED after
 * OUTBOX_MAX_ATTEMPTS attempts, after OUTBOX_MAX_AGE seconds in the queue
 * whatever failed (Postfix's maximal_queue_lifetime), or at once when the
 * failure is permanent: a 5xx reply (RFC 5321 4.2.1) to every refused
 * RCPT, to DATA or to the message, 552 to MAIL (a refused sender is
 * otherwise the account's problem, such as 530 authentication required:
 * retried), or a message that can never be sent as it is (no recipient,
 * NUL byte, bad address, too large).
 */
#define OUTBOX_MAX_ATTEMPTS 10u
#define OUTBOX_MAX_AGE (5 * 24 * 3600)

/* Seconds to wait after the attempts-th failed attempt (attempts >= 1). */
int64_t outbox_retry_delay(unsigned attempts);

/* A fresh id into out. Errors: E2_ENOMEM (no random bytes). */
enum e2_status outbox_id_new(char out[OUTBOX_ID_MAX], struct e2_err *err);
/* True when s (len bytes) is shaped like an id outbox_id_new() makes. */
bool outbox_id_ok(const char *s, size_t len);

/*
 * The queue's path into *path_out (caller frees), with the queue and its
 * tmp/ new/ cur/ created (0700) when missing, after store_account_dir()'s
 * checks (owner, mode, no symlink). guid: the stored spelling.
 * Errors: as store_account_dir() (E2_ESTORE naming the path and the fix,
 * E2_EINVAL, E2_ENOMEM), E2_ESTORE (mkdir of a subdirectory failed).
 */
enum e2_status outbox_open(struct e2_store *st, const char *guid,
			   char **path_out, struct e2_err *err);

/* The Sent staging Maildir, a subfolder of the queue Maildir. */
#define OUTBOX_SENT_DIR ".Sent"

/*
 * The Sent staging Maildir of an IMAP account, <queue>/.Sent (its tmp/
 * new/ cur/ made 0700 on first use), into *path_out (caller frees). After
 * a successful send the queued file is renamed to
 * .Sent/cur/<id>,S=<size>:2,S there; the IMAP sync (folder code) appends
 * each file it finds there to the server's \Sent folder and then moves it
 * into that folder's local mirror. The staging Maildir is inside the
 * queue directory, so no server folder maps to it either, and a file in it
 * is never sent (the claim reads only new/ and cur/ of the queue).
 * Errors: as outbox_open().
 */
enum e2_status outbox_sent_open(struct e2_store *st, const char *guid,
				char **path_out, struct e2_err *err);

/*
 * Writes alen bytes of a, then blen bytes of b, into a new file path
 * (O_EXCL, 0600) and fsyncs it; on failure the file is gone. Errors:
 * E2_ESTORE naming the path and the step.
 */
enum e2_status outbox_write_new(const char *path, const char *a, size_t alen,
				const char *b, size_t blen, struct e2_err *err);

/*
 * The claim pass over the queue at path queue (see above): recovery of
 * every row, then a claim of every unclaimed file, then the account's
 * leftover sync_outbox rows deleted. now: the clock. *rows_out gets every
 * row of the account afterwards, ordered by time queued then id (caller
 * frees with outbox_rows_free()). Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status outbox_claim(struct e2_store *st, const char *guid,
			    const char *queue, int64_t now,
			    struct outbox_row **rows_out, size_t *n_out,
			    struct e2_err *err);
/* Every row of guid (NULL: of every account), as outbox_claim() orders. */
enum e2_status outbox_rows(struct e2_store *st, const char *guid,
			   struct outbox_row **rows_out, size_t *n_out,
			   struct e2_err *err);
void outbox_rows_free(struct outbox_row **rows, size_t n);
/* Writes state, attempts, times and last_error of r. */
enum e2_status outbox_row_update(struct e2_store *st, const char *guid,
				 const struct outbox_row *r,
				 struct e2_err *err);
enum e2_status outbox_row_delete(struct e2_store *st, const char *guid,
				 const char *id, struct e2_err *err);

/*
 * "From: NAME <addr>" (no line end): NAME as atoms when it is, else a
 * quoted string when ASCII, else RFC 2047 "=?UTF-8?B?...?=" words of at
 * most 45 bytes split between UTF-8 sequences; control bytes dropped;
 * "From: addr" when name is NULL or empty. NULL on OOM. Caller frees.
 */
char *outbox_from_field(const char *name, const char *addr);

#endif /* E2_OUTBOX_H */
