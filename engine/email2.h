/* SPDX-License-Identifier: MIT */
/* email2.h -- the public API of libemail2 (installed as <email2.h>) */
#ifndef EMAIL2_H
#define EMAIL2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions (see STYLE.md): a fallible function returns enum e2_status and
 * takes struct e2_err *err last; out-parameters end in _out and are written
 * only on success; destructors take a pointer to the pointer, accept NULL and
 * set it to NULL. Strings passed in are borrowed. No function aborts on OOM.
 */

/* ---- errors ------------------------------------------------------------ */

enum e2_status {
	E2_OK = 0,
	E2_ENOMEM,      /* allocation failed */
	E2_EINVAL,      /* bad argument or provisioned value */
	E2_ERESOLVE,    /* host name did not resolve */
	E2_ECONNECT,    /* TCP refused or unreachable */
	E2_ETIMEOUT,    /* attempt deadline passed */
	E2_ETLS,        /* TLS handshake failed, certificate not involved */
	E2_ECERT,       /* chain or host name did not verify */
	E2_ENOSTARTTLS, /* server did not offer, or refused, STARTTLS */
	E2_EPROTO,      /* server broke the protocol */
	E2_EAUTH,       /* credentials rejected */
	E2_EINSECURE,   /* would send credentials without required TLS */
	E2_EIO,         /* read or write failed on an open connection */
	E2_ESTORE,      /* SQLite or Maildir failure, disk full included */
	E2_EBUSY,       /* another process is syncing this account */
	E2_STATUS_COUNT
};

/* The first failure wins: e2_fail() writes msg only while it is empty. */
struct e2_err {
	enum e2_status code;
	int sys_errno;
	char msg[256];
};

#if defined(__GNUC__)
#define E2_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define E2_PRINTF(f, a)
#endif

/* The library's version string, e.g. "0.1.0". */
const char *e2_version(void);

/* A short lower-case token for code ("ok", "enomem", ...): for --json. */
const char *e2_status_name(enum e2_status code);

/* Empties err (code E2_OK, no message). err may be NULL. */
void e2_err_clear(struct e2_err *err);

/*
 * Records a failure in err (may be NULL) unless one is recorded already, and
 * returns code. Messages are lower-case, without a final period or newline,
 * name the thing and its value, and never contain a credential.
 */
enum e2_status e2_fail(struct e2_err *err, enum e2_status code, const char *fmt,
		       ...) E2_PRINTF(3, 4);

/*
 * Copies untrusted text (server replies, document values) into dst for a
 * message: control bytes and non-ASCII become \xHH, the result is cut at 120
 * source bytes with "..." appended, always NUL-terminated. Returns dst.
 */
char *e2_quote(char *dst, size_t dstlen, const char *src, size_t srclen);

/*
 * Overwrites len bytes at p with zeros in a way the compiler keeps (for
 * passwords before free()). p may be NULL when len is 0.
 */
void e2_wipe(void *p, size_t len);

/* ---- the store ----------------------------------------------------------- */

struct e2_store;

/*
 * Opens (creating if needed) the store in dir; dir NULL means $EMAIL2_HOME,
 * else $XDG_DATA_HOME/email2, else ~/.local/share/email2. The directory is
 * made 0700, accounts.db 0600. Errors: E2_ESTORE, E2_ENOMEM, E2_EINVAL.
 */
enum e2_status e2_store_open(const char *dir, struct e2_store **st_out,
			     struct e2_err *err);
void e2_store_close(struct e2_store **st);

/*
 * Sets an account option the CSP does not carry, "name=value" as the user
 * typed it (email2-provision --set-option; see store.h for the options:
 * sent-copy=upload|server). Errors: E2_EINVAL (no "=", unknown name or
 * value, no such account), E2_ESTORE.
 */
enum e2_status e2_account_set_option(struct e2_store *st, const char *guid,
				     const char *name_value,
				     struct e2_err *err);
/* The store's directory; valid until e2_store_close(). */
const char *e2_store_dir(const struct e2_store *st);

/* ---- accounts ------------------------------------------------------------ */

enum e2_service {
	E2_SERVICE_IMAP4 = 0,
	E2_SERVICE_POP3,
};

enum e2_account_type {
	E2_ACCOUNT_EMAIL = 0,
	E2_ACCOUNT_VVM,
};

/* "host", "host:port" or "[v6]:port"; port 0 means the protocol default. */
struct e2_server {
	char *host;
	uint16_t port;
};

/* Effective credentials for one side; borrowed from the account. */
struct e2_creds {
	const char *user;   /* NULL when none */
	const char *domain; /* NULL or "" when none */
	const char *secret; /* NULL when none */
};

/*
 * The typed form of every EMAIL2 node, defaults applied (see account.c for
 * each default). Strings are NULL when the node is absent.
 */
struct e2_account {
	char *guid; /* with braces: "{C556E16F-...}" */
	char *accounticon;
	enum e2_account_type type;
	char *authname;
	char *authsecret;  /* secret: wiped on free, never printed */
	bool authrequired; /* absent: false (spec: no SMTP auth) */
	char *domain;
	int dwnday; /* -1 all, 7, 14, 30, 90; default -1 */
	struct e2_server in;
	struct e2_server out;
	int linger;  /* minutes; 0 manual; default 15 */
	int keepmax; /* KB; 0 no limit (default) */
	char *name;
	char *replyaddr;
	char *servicename;
	enum e2_service service;
	long retrieve;          /* bytes; 0 when absent: no truncation */
	int serverdeleteaction; /* 1, 2, or 0 for the transport default */
	bool cellularonly;
	uint32_t syncingcontenttypes; /* bitmask; Mail is 0x2 */
	char *contactsserver;
	char *calendarserver;
	bool contactsserver_requiressl;
	bool calendarserver_requiressl;
	char *contactssyncschedule;
	char *calendarsyncschedule;
	bool smtpalt_enabled;
	char *smtpalt_authname;
	char *smtpalt_domain;
	char *smtpalt_password; /* secret */
	bool in_ssl_required;   /* TAGPROPS/8128000B */
	bool out_ssl_required;  /* TAGPROPS/812C000B */
};

#define E2_SYNC_MAIL 0x2u

/* Loads one account. Errors: E2_EINVAL (no such GUID), E2_ESTORE, E2_ENOMEM */
enum e2_status e2_account_load(struct e2_store *st, const char *guid,
			       struct e2_account **acct_out,
			       struct e2_err *err);

/* Every stored GUID, sorted; the caller frees with e2_strv_free(). */
enum e2_status e2_account_list(struct e2_store *st, char ***guids_out,
			       size_t *n_out, struct e2_err *err);
void e2_strv_free(char ***v, size_t n);

/* A zeroed account with every default applied. NULL on OOM. */
struct e2_account *e2_account_new(void);
/* Frees the account, wiping both secrets first. */
void e2_account_free(struct e2_account **acct);

/* Incoming credentials: AUTHNAME, DOMAIN, AUTHSECRET. */
struct e2_creds e2_account_in_creds(const struct e2_account *a);
/* Outgoing: the SMTPALT set when SMTPALTENABLED, else the incoming ones. */
struct e2_creds e2_account_out_creds(const struct e2_account *a);
/*
 * Whether the outgoing side must never go without TLS: TAGPROPS/812C000B,
 * or TAGPROPS/8128000B when the outgoing side logs in (AUTHREQUIRED) with
 * the incoming credentials (SMTPALT not enabled): a credential keeps the
 * strictest requirement of every side it is used on. *node_out (may be
 * NULL) gets the node that requires it, a static string, or "" when TLS is
 * not required. The one rule conntest and sync both apply (chain_open()).
 */
bool e2_account_out_tls_required(const struct e2_account *a,
				 const char **node_out);

/*
 * Parses INSERVER/OUTSERVER syntax into srv_out (host copied).
 * Errors: E2_EINVAL naming the value and what is wrong.
 */
enum e2_status e2_server_parse(const char *value, struct e2_server *srv_out,
			       struct e2_err *err);

/* ---- provisioning (csp/) ---------------------------------------------------
 */

enum e2_doc_kind {
	E2_DOC_SYNCML = 0,   /* OMA DM SyncML */
	E2_DOC_PROVISIONING, /* OMA Client Provisioning (wap-provisioningdoc) */
};

/* One Status that was not 200, with why (never a secret). */
struct e2_provision_failure {
	char *cmdid;  /* the command's CmdID, "" when it had none */
	char *cmd;    /* "Add", "Replace", "Atomic", ... */
	char *locuri; /* the Item's Target LocURI, NULL for Atomic etc. */
	int code; /* OMA DM status: 216, 400, 404, 405, 406, 418, 500, 507 */
	char *reason; /* e.g. "./Vendor/...: DWNDAY \"5\": not one of ..." */
};

struct e2_provision_result {
	enum e2_doc_kind kind;
	size_t commands; /* commands answered with a Status */
	size_t failed;   /* of those, how many did not succeed (216 included) */
	char *response;  /* SyncML response or CP query results; NUL-terminated
			  */
	size_t response_len;
	struct e2_provision_failure *failures; /* the failed ones, in order */
	size_t n_failures;                     /* == failed */
	/*
	 * Lines for the user besides the statuses, e.g. "account {GUID}:
	 * deleted; mail directory and queue removed, 2 queued messages
	 * dropped"; never a secret.
	 */
	char **notes;
	size_t n_notes;
};

/*
 * Applies one provisioning document (kind detected from its root element)
 * to the store. Returns E2_OK when the document was usable, even if some of
 * its commands failed (see res->failed); E2_EINVAL when it was not (bad XML,
 * unknown root, too large), with err naming what was wrong and the store
 * untouched. Errors: E2_EINVAL, E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_provision(struct e2_store *st, const char *doc, size_t len,
			    struct e2_provision_result *res_out,
			    struct e2_err *err);
void e2_provision_result_free(struct e2_provision_result *res);

/* ---- connection test (transports/) ------------------------------------------
 */

enum e2_mode {
	E2_MODE_TLS = 0,  /* implicit TLS: 993, 995, 465 */
	E2_MODE_STARTTLS, /* plain connect, then STARTTLS: 143, 110, 587 */
	E2_MODE_PLAIN,    /* cleartext, only if the account allows it */
	E2_MODE_COUNT
};

enum e2_login {
	E2_LOGIN_NOT_TRIED = 0,
	E2_LOGIN_OK,
	E2_LOGIN_FAILED,
	E2_LOGIN_SKIPPED, /* nothing to log in with, or not required */
};

/* What one rung of the fallback chain did. */
struct e2_attempt {
	enum e2_mode mode;
	char host[256];
	uint16_t port;
	char address[64]; /* numeric address connected to, "" if none */
	enum e2_status result;
	char error[256];
	bool tls; /* a TLS session was established */
	char tls_version[16];
	char cipher[64];
	char cert_subject[256];
	char cert_issuer[256];
	bool cert_verified;
	char verify_result[128]; /* OpenSSL's verify string */
	char capabilities[512];  /* space-separated, after TLS when used */
	char auth_mechs[128];    /* space-separated */
	enum e2_login login;
	char login_mech[32];
	bool cleartext_login; /* credentials went over an unencrypted link */
	double elapsed_ms;
};

enum e2_side {
	E2_SIDE_IN = 0,
	E2_SIDE_OUT,
};

struct e2_side_report {
	bool tested;
	bool ok;
	enum e2_status status; /* the verdict's cause when !ok */
	char error[256];
	const char *protocol; /* "imap4", "pop3", "smtp"; static */
	char host[256];
	uint16_t port; /* 0 when each rung uses its default */
	bool tls_required;
	size_t n_attempts;
	struct e2_attempt attempts[E2_MODE_COUNT];
	double elapsed_ms;
};

struct e2_conntest_report {
	bool ok;
	struct e2_side_report in;
	struct e2_side_report out;
};

struct e2_conntest_opts {
	const char *cafile;  /* NULL: system trust store ($EMAIL2_CAFILE read by
				tools) */
	unsigned timeout_ms; /* per attempt; 0 means 10000 */
	bool test_in;
	bool test_out;
};

/*
 * Runs the incoming and/or outgoing fallback chain for a and logs in.
 * Returns E2_OK when the report was filled (rep->ok tells the verdict), or an
 * error when the test could not run at all (E2_EINVAL, E2_ENOMEM).
 */
enum e2_status e2_conntest_run(const struct e2_account *a,
			       const struct e2_conntest_opts *opts,
			       struct e2_conntest_report *rep_out,
			       struct e2_err *err);

/* Human-readable, attempt by attempt. Never prints a credential. */
void e2_conntest_print_text(const struct e2_conntest_report *rep, FILE *f);
/* One JSON document (see email2-conntest(1)). */
void e2_conntest_print_json(const struct e2_conntest_report *rep, FILE *f);

/* ---- sync (engine/) ---------------------------------------------------- */

struct e2_sync_stats;

/* Called after each committed batch and at the end; borrowed stats. */
typedef void (*e2_sync_progress_fn)(void *ctx, const char *guid,
				    const struct e2_sync_stats *stats);

/*
 * One line of a sync preview (opts->dry_run, issue 9): what a sync would do
 * in folder (the server name; "" for the account itself: the send queue,
 * folders made on the server) of one kind: "download", "upload",
 * "flag-push", "flag-pull", "server-move", "server-copy", "server-delete"
 * (detail says expunge or move to Trash, SERVERDELETEACTION), "local-
 * delete", "age-out", "adopt", "forget", "tombstone", "create-folder",
 * "remove-folder", "send". count items, bytes (0: not known), detail: UIDs,
 * names or recipients (e2_quote()d where they came from outside, cut at
 * about 200 bytes). Strings are borrowed for the call.
 */
typedef void (*e2_sync_preview_fn)(void *ctx, const char *folder,
				   const char *kind, size_t count,
				   unsigned long long bytes,
				   const char *detail);

struct e2_sync_opts {
	const char *cafile;  /* NULL: the system trust store */
	unsigned timeout_ms; /* per connection attempt and I/O step; 0: 30000 */
	size_t batch_msgs;   /* messages per durable batch; 0: 200 */
	size_t batch_bytes;  /* bytes per batch (memory bound); 0: 8 MiB */
	bool no_send;        /* skip the outbox */
	bool no_receive;     /* skip downloading */
	/* Polled between batches: nonzero stops after the current one. */
	const volatile int *stop;
	e2_sync_progress_fn progress; /* NULL: none */
	void *progress_ctx;
	/* issue 9: a preview (e2_sync_preview_fn) that changes nothing */
	bool dry_run;
	e2_sync_preview_fn preview; /* NULL: none */
	void *preview_ctx;
};

/*
 * One folder or message a sync left out, and why (issue 7 item 6: one bad
 * item never stops an account). Server bytes are e2_quote()d.
 */
#define E2_SYNC_SKIP_MAX 16 /* kept in e2_sync_stats; more are counted */
struct e2_sync_skip {
	char folder[256]; /* the server folder name, quoted */
	uint32_t uid;     /* 0: the whole folder */
	char reason[256];
};

struct e2_sync_stats {
	size_t folders;           /* folders looked at */
	size_t folders_skipped;   /* unchanged since the last sync */
	size_t messages;          /* messages downloaded */
	unsigned long long bytes; /* bytes downloaded */
	size_t partial;           /* stored truncated (RETRIEVE) */
	size_t omitted;           /* stored with parts left (KEEPMAX) */
	size_t adopted;           /* found on disk after a crash, not fetched */
	size_t flags_pushed;      /* local flag changes sent to the server */
	size_t flags_pulled;      /* server flag changes applied locally */
	size_t removed_local;     /* removed locally (expunged on the server) */
	size_t deleted_server;    /* deleted or moved on the server */
	size_t sent;              /* outbox messages sent */
	size_t send_failed;       /* outbox messages kept queued */
	/* the one-time move out of the old queue mail/{GUID}/.Outbox */
	size_t outbox_migrated;    /* queued by the user: moved to the queue */
	size_t outbox_legacy_kept; /* written by a sync: left, never sent */
	/* folders both ways and the Sent folder (IMAP, issue 8) */
	size_t folders_created; /* on the server, for local folders (F1) */
	size_t folders_removed; /* locally: their server folder went (F2) */
	size_t sent_filed;      /* sent copies put in the Sent mirror */
	size_t sent_dropped;    /* sent copies dropped (sent-copy=server) */
	double seconds;
	/* folders and messages skipped: > 0 makes a sync "partial" */
	size_t skipped;
	struct e2_sync_skip skip[E2_SYNC_SKIP_MAX]; /* the first ones */
	/* IMAP two-way (issue 8): local messages sent to the server */
	size_t uploaded; /* APPENDed (new local mail, R3 R9-R11) */
	size_t moved;    /* UID MOVE or UID COPY of a known message (R7 R8) */
};

/*
 * With opts->dry_run (issue 9) nothing is changed anywhere: no lock file,
 * no tmp/ recovery, no SMTP connection; IMAP folders are EXAMINEd and
 * listed (UID FETCH FLAGS), POP3 gets UIDL and LIST only; the store is set
 * query_only (a write fails); the actions reconcile_folder() decides are
 * given to opts->preview instead of being carried out.
 * Syncs one account: sends its outbox (unless opts->no_send), then
 * downloads (IMAP4 or POP3 per SERVICETYPE) into <store>/mail/{GUID}/.
 * opts may be NULL (defaults). *stats_out (may be NULL) is filled also on
 * failure with what was done before it. Everything counted in stats is
 * durable. A folder that cannot be mapped to a local folder of its own, or
 * a message that cannot be stored as the rules say, is skipped and listed
 * in stats->skip (the rest of the account syncs, INBOX first); the call
 * still returns E2_OK, and stats->skipped > 0 makes the run "partial".
 * Errors: E2_EINVAL (no such account), the transport's (E2_ECONNECT,
 * E2_ETLS, E2_ECERT, E2_EAUTH, E2_EIO, E2_ETIMEOUT, E2_EPROTO, ...),
 * E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_sync_account(struct e2_store *st, const char *guid,
			       const struct e2_sync_opts *opts,
			       struct e2_sync_stats *stats_out,
			       struct e2_err *err);

/*
 * Replaces a message stored partial (RETRIEVE) or with parts left on the
 * server (KEEPMAX) by the whole message from the server. file is the
 * message's file: a path inside <store>/mail/{guid}/ (any folder, new/ or
 * cur/), or a bare file name, looked up in every folder of the account.
 * IMAP: EXAMINE of its folder (UIDVALIDITY must be the stored one), UID
 * FETCH BODY.PEEK[] (no \Seen set); POP3: RETR by UIDL. The whole message
 * gets a new file (same tag, the file's current flags), made durable
 * before the state row points at it; only then the old file goes (see
 * engine/sync_full.c for the crash rules). opts may be NULL; only cafile
 * and timeout_ms are used. It takes the account's sync lock: while a sync
 * of the account runs it fails at once with E2_EBUSY. Errors: E2_EINVAL (no
 * such account, file or state row; "message is complete already"; UIDVALIDITY
 * changed; gone from the server), the transport's (E2_ECONNECT, E2_ETLS,
 * E2_EAUTH, E2_EIO, E2_ETIMEOUT, E2_EPROTO, ...), E2_EBUSY, E2_ESTORE,
 * E2_ENOMEM.
 */
enum e2_status e2_sync_fetch_full(struct e2_store *st, const char *guid,
				  const char *file,
				  const struct e2_sync_opts *opts,
				  struct e2_err *err);

/*
 * The same, and on success *path_out (caller frees) is the absolute path of
 * the file the whole message now lives in (its name differs from the old
 * one: the size is part of it). path_out may be NULL. Errors: as above.
 */
enum e2_status e2_sync_fetch_full_path(struct e2_store *st, const char *guid,
				       const char *file,
				       const struct e2_sync_opts *opts,
				       char **path_out, struct e2_err *err);

/* ---- the send queue (engine/outbox.h; email2-outbox, email2-sendmail) -- */

/*
 * A message in an account's send queue <store>/outbox/{GUID}/. NEW: a file
 * no sync has claimed yet (its id is its file name); QUEUED: claimed, sent
 * at next_attempt; SENT: the server took it, only the move into the Sent
 * folder is left; FAILED: given up (outbox.h says when), never sent again
 * unless retried. Strings are owned by the item.
 */
enum e2_outbox_state {
	E2_OUTBOX_NEW = 0,
	E2_OUTBOX_QUEUED,
	E2_OUTBOX_SENT,
	E2_OUTBOX_FAILED,
};

struct e2_outbox_item {
	char *guid;
	char *id;
	char *path; /* the queued file, "" when it is not on disk */
	enum e2_outbox_state state;
	unsigned attempts;
	int64_t queued, last_attempt, next_attempt; /* Unix seconds; 0: none */
	char *last_error;                           /* never a credential */
	char *subject; /* e2_quote()d, "" when none */
	char *rcpt;    /* the envelope or the header recipients, ", " */
};

/* "new", "queued", "sent", "failed". */
const char *e2_outbox_state_name(enum e2_outbox_state s);

/*
 * Every queued message of guid (NULL: of every account): the claimed ones
 * in queue order, then the unclaimed files. Changes nothing but making
 * a missing queue directory (as a sync would). Free with
 * e2_outbox_items_free(). Errors: E2_EINVAL (no such account), E2_ESTORE,
 * E2_ENOMEM.
 */
enum e2_status e2_outbox_list(struct e2_store *st, const char *guid,
			      struct e2_outbox_item **items_out, size_t *n_out,
			      struct e2_err *err);
void e2_outbox_items_free(struct e2_outbox_item **items, size_t n);

/*
 * retry: the message id (of guid, or of any account when guid is NULL) is
 * made due now, FAILED becomes QUEUED with its attempts reset to 0. drop:
 * its file is removed, then its row. *found_out says whether id named a
 * message (a claimed id or an unclaimed file name; no wildcard).
 * Errors: E2_EINVAL (a bad id), E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_outbox_retry(struct e2_store *st, const char *guid,
			       const char *id, bool *found_out,
			       struct e2_err *err);
enum e2_status e2_outbox_drop(struct e2_store *st, const char *guid,
			      const char *id, bool *found_out,
			      struct e2_err *err);

/*
 * Queues msg (len bytes, LF or CRLF) for account guid, claimed at once
 * (outbox.h): written to tmp/ and fsynced, its row committed, renamed into
 * cur/. The message passes the checks the send applies (outbox_scan():
 * NUL, header, addresses) and SEND's 50 MiB cap before anything is
 * written. rcpt (nrcpt addresses, may be 0) is the envelope: with
 * from_headers the header recipients (To, Cc, Bcc) are added to it; without,
 * it is the whole envelope and must not be empty. from_name (may be NULL):
 * a From field "from_name <REPLYADDR>" is added when the message has none.
 * *id_out (may be NULL; caller frees) gets the id.
 * Errors: E2_EINVAL (no such account, a bad message or address, no
 * recipient; the message says which), E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_outbox_submit(struct e2_store *st, const char *guid,
				const char *msg, size_t len,
				const char *const *rcpt, size_t nrcpt,
				bool from_headers, const char *from_name,
				char **id_out, struct e2_err *err);

/*
 * The account whose REPLYADDR is addr (ASCII case ignored) into *guid_out
 * (caller frees); *guid_out NULL when none. Errors: E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_outbox_account_for(struct e2_store *st, const char *addr,
				     char **guid_out, struct e2_err *err);

/*
 * sendmail's standard input rules over buf (len bytes, read whole): a NUL
 * byte is E2_EINVAL naming its offset; unless dot_ends is false (-i, -oi)
 * a line that is only "." (LF or CRLF ended, or at the end) ends the
 * message: *len_out is the length before it. Pure (the fuzz harness
 * fuzz_sendmail drives it). Errors: E2_EINVAL.
 */
enum e2_status e2_sendmail_input(const char *buf, size_t len, bool dot_ends,
				 size_t *len_out, struct e2_err *err);

/*
 * Wakes a running email2-syncd of the store: it holds an exclusive flock on
 * <store>/email2-syncd.pid while it runs (daemon mode); when the lock is
 * held by another process, the pid written there gets SIGUSR1. *woken_out
 * says whether a signal was sent. Errors: E2_ESTORE (a pid file that is
 * locked but holds no pid), E2_ENOMEM.
 */
enum e2_status e2_syncd_wake(struct e2_store *st, bool *woken_out,
			     struct e2_err *err);

/*
 * For email2-syncd in daemon mode: opens <store>/email2-syncd.pid (0600),
 * takes its exclusive flock without waiting and writes the process id;
 * *fd_out keeps the lock until close() (the file stays: a file nobody
 * locks is stale and harmless). *fd_out is -1 when another process holds
 * the lock (a second syncd on the same store). Errors: E2_ESTORE.
 */
enum e2_status e2_syncd_pidfile(struct e2_store *st, int *fd_out,
				struct e2_err *err);

#define E2_SYNCD_PID_FILE "email2-syncd.pid"

#ifdef __cplusplus
}
#endif

#endif /* EMAIL2_H */
