/* SPDX-License-Identifier: MIT */
/* email2.h -- the public API of libemail2 (installed as <email2.h>) */
#ifndef EMAIL2_H
#define EMAIL2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "email2-version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions: a fallible function returns enum e2_status and
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

/*
 * The library's version string, e.g. "0.1.0", at run time; the headers'
 * own are E2_VERSION_STRING and E2_VERSION_MAJOR/MINOR/PATCH.
 */
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
 * e2_quote() for a server reply: its trailing CR and LF bytes are dropped
 * first, so human text never ends in "\x0d\x0a" (the reply's line end is
 * framing, not content). Bytes inside the reply are still escaped. Returns
 * dst.
 */
char *e2_quote_reply(char *dst, size_t dstlen, const char *src, size_t srclen);

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
 * Opens the store in dir (NULL: as e2_store_open()) only if it exists:
 * everything but provisioning uses it, so a mistyped $EMAIL2_HOME is an
 * error naming the path and where it came from ("no store at DIR
 * (EMAIL2_HOME): provision an account first with email2-provision"), and
 * nothing is created. Both opens refuse a damaged accounts.db naming the
 * file and what to do ("PATH: not a database (...): restore it from a
 * backup, or move it away and provision again"); this one also refuses
 * an empty database (no email2 tables). Errors: E2_ESTORE, E2_ENOMEM,
 * E2_EINVAL.
 */
enum e2_status e2_store_open_existing(const char *dir, struct e2_store **st_out,
				      struct e2_err *err);

/*
 * Sets an account option the CSP does not carry, "name=value" as the user
 * typed it (email2-provision --set-option). Options: sent-copy=upload
 * (the default: a sent message's copy goes into the local mirror of the
 * server's Sent folder and is uploaded) or sent-copy=server (the server
 * files sent mail itself; the copy is dropped). Errors: E2_EINVAL (no "=",
 * unknown name or value, no such account), E2_ESTORE.
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
 * The typed form of every EMAIL2 node, defaults applied (each field's
 * comment gives its default). Strings are NULL when the node is absent.
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

/* SYNCINGCONTENTTYPES bits email2 syncs (the spec lists more) */
#define E2_SYNC_CONTACTS 0x1u     /* CardDAV, CONTACTSSERVER (issue 10) */
#define E2_SYNC_MAIL 0x2u         /* IMAP4 or POP3, INSERVER */
#define E2_SYNC_APPOINTMENTS 0x4u /* CalDAV VEVENT, CALENDARSERVER */
#define E2_SYNC_TASKS 0x8u        /* CalDAV VTODO, CALENDARSERVER */
/* the bits CALENDARSERVER serves, and every bit email2 syncs */
#define E2_SYNC_CALENDARS (E2_SYNC_APPOINTMENTS | E2_SYNC_TASKS)
#define E2_SYNC_ALL (E2_SYNC_MAIL | E2_SYNC_CONTACTS | E2_SYNC_CALENDARS)

/* Loads one account. Errors: E2_EINVAL (no such GUID), E2_ESTORE, E2_ENOMEM */
enum e2_status e2_account_load(struct e2_store *st, const char *guid,
			       struct e2_account **acct_out,
			       struct e2_err *err);

/* Every stored GUID, sorted; the caller frees with e2_strv_free(). */
enum e2_status e2_account_list(struct e2_store *st, char ***guids_out,
			       size_t *n_out, struct e2_err *err);
void e2_strv_free(char ***v, size_t n);

/*
 * The GUID (stored spelling, caller frees) of the account a user named:
 * its GUID in any spelling the CSP accepts or bare, any letter case, or
 * its NAME or REPLYADDR (ASCII case ignored) when exactly one account has
 * it. Errors: E2_EINVAL (none, or more than one:
 * the message names the store searched, or the candidates), E2_ESTORE,
 * E2_ENOMEM.
 */
enum e2_status e2_account_resolve(struct e2_store *st, const char *name,
				  char **guid_out, struct e2_err *err);

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
 * not required. The one rule conntest and sync both apply
 * (account_chain_request()).
 */
bool e2_account_out_tls_required(const struct e2_account *a,
				 const char **node_out);

/*
 * Issue 10: minutes between two syncs of one content type (an E2_SYNC_*
 * bit): Mail every LINGER; Contacts every CONTACTSSYNCSCHEDULE;
 * Appointments and Tasks every CALENDARSYNCSCHEDULE. A schedule node takes
 * LINGER's values (0, 15, 30, 60, 120; 0: only when asked); absent, or a
 * value outside that set in a store written by an older version, it is
 * the account's LINGER. Pure (table-tested).
 */
int e2_account_schedule(const struct e2_account *a, unsigned type);

/*
 * Parses INSERVER/OUTSERVER syntax into srv_out (host copied).
 * Errors: E2_EINVAL naming the value and what is wrong.
 */
enum e2_status e2_server_parse(const char *value, struct e2_server *srv_out,
			       struct e2_err *err);

/* ---- provisioning ----------------------------------------------------- */

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
	/*
	 * Where the command is in the user's document: "CmdID 14, line 117"
	 * (SyncML), "line 9, characteristic[@type=EMAIL2]/characteristic[
	 * @type={...}]/parm[@name=DWNDAY]" (Client Provisioning, whose
	 * CmdIDs are invented); "" when unknown.
	 */
	char *where;
	char *why; /* reason without the LocURI it starts with */
	/* only a consequence: 216 (rolled back), or the 507 of an Atomic
	 * because a command inside failed */
	bool consequence;
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
/*
 * The failure to show first: the first (in document order) that is not
 * only a consequence of another; NULL when none failed. Borrowed from res.
 */
const struct e2_provision_failure *
e2_provision_first_cause(const struct e2_provision_result *res);
/*
 * A dry run of e2_provision() on the store in store_dir (NULL: the default
 * of e2_store_open()): the same validation and the same result (response
 * byte for byte, statuses, failures) as e2_provision() would give now, but
 * applied to an in-memory copy of accounts.db; nothing under the store is
 * created, changed or removed (a missing store stays missing), and a note
 * says what a Delete would have removed. The store's checks (ownership,
 * mode, a damaged database) fail as a real open would.
 * Errors: E2_EINVAL, E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_provision_check(const char *store_dir, const char *doc,
				  size_t len,
				  struct e2_provision_result *res_out,
				  struct e2_err *err);

/* ---- accounts: list, status, nodes without XML ------------------------ */

/* How an account's last sync run ended. */
enum e2_sync_result {
	E2_SYNC_NEVER = 0,   /* no run recorded yet */
	E2_SYNC_OK,          /* everything asked was done */
	E2_SYNC_PARTIAL,     /* some folders or messages skipped (stats) */
	E2_SYNC_FAILED,      /* stopped by an error (the message says why) */
	E2_SYNC_INTERRUPTED, /* stopped when asked (opts->stop, a signal) */
};

/* "never", "ok", "partial", "failed", "interrupted". */
const char *e2_sync_result_name(enum e2_sync_result r);

/*
 * The last run of e2_sync_account() for an account, recorded by that call
 * (so every caller agrees: the daemon, --once, a SIGUSR1 run, the send run
 * of email2-sendmail), also when it failed before any connection. A run
 * refused because another one held the account (E2_EBUSY) records nothing:
 * the other run records its own. Counts are those of struct e2_sync_stats.
 */
struct e2_account_status {
	enum e2_sync_result result;
	char kind[16];          /* "sync", "send" (no_receive), "receive" */
	int64_t started, ended; /* Unix seconds; 0 when never */
	int64_t last_ok;        /* end of the last "ok" run; 0: none */
	enum e2_status status;  /* the cause when result is FAILED */
	char error[256];        /* its message, "" when none; never a secret */
	uint64_t downloaded;    /* messages */
	uint64_t uploaded;
	uint64_t moved;
	uint64_t flags;       /* flag changes pushed plus pulled */
	uint64_t deleted;     /* deleted or moved to Trash on the server */
	uint64_t removed;     /* removed locally (gone from the server) */
	uint64_t sent;        /* outbox messages sent */
	uint64_t send_failed; /* outbox messages kept queued */
	uint64_t skipped;     /* folders and messages skipped */
};

/*
 * The recorded status of account guid ("{...}", any letter case; names
 * go through e2_account_resolve() first) into *status_out; result
 * E2_SYNC_NEVER when no run was recorded.
 * Errors: E2_EINVAL (no such account), E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_account_status_get(struct e2_store *st, const char *guid,
				     struct e2_account_status *status_out,
				     struct e2_err *err);

/* One account as a list shows it; strings owned by the item. */
struct e2_account_info {
	char *guid;      /* stored spelling, with braces */
	char *name;      /* NAME, "" when absent */
	char *replyaddr; /* REPLYADDR, "" when absent */
	enum e2_service service;
	char *inserver;  /* INSERVER as provisioned, "" when absent */
	char *outserver; /* OUTSERVER as provisioned, "" when absent */
	struct e2_account_status status;
	size_t messages; /* mail files in its Maildir (every folder) */
	size_t queued;   /* outbox messages waiting (new or queued) */
	size_t failed;   /* outbox messages given up (e2_outbox_retry()) */
	size_t contacts; /* vCards its contacts syncs keep (every collection) */
	size_t calendar_items; /* events and tasks its calendar syncs keep */
};

/*
 * Every account, sorted by GUID, with its status and outbox counts.
 * Changes nothing but making a missing queue directory, as
 * e2_outbox_list() does. Free with e2_account_infos_free().
 * Errors: E2_ESTORE (also a queue directory that is not the user's own),
 * E2_ENOMEM.
 */
enum e2_status e2_account_list_info(struct e2_store *st,
				    struct e2_account_info **v_out,
				    size_t *n_out, struct e2_err *err);
void e2_account_infos_free(struct e2_account_info **v, size_t n);

/*
 * Setting nodes without building a document. Each call runs the same code
 * a provisioning document does (the node table's operations and value
 * rules, the Get mask that keeps a stored secret, the commit-time checks:
 * required nodes, the SMTPALT pair), with the same OMA DM codes: setting
 * nodes is a Replace of each inside one Atomic (all or nothing; Replace
 * creates a missing account), deleting is a Delete standing alone.
 * guid is a GUID in any form a LocURI takes ("{...}", "%7B...%7D",
 * "0x7B...0x7D"); node is the path below it ("INSERVER",
 * "TAGPROPS/8128000B").
 */
struct e2_node_result {
	int code;         /* OMA DM status: 200 when applied; else the first
			     cause: 400, 404, 405, 418, 500, or 507 when the
			     commit-time checks refused the Atomic */
	char reason[256]; /* why, "" on success; never a secret */
	char note[512];   /* e2_account_delete(): what was removed; else "" */
};

/* A node and its value for e2_nodes_set(). */
struct e2_node_value {
	const char *node;
	const char *value;
};

/*
 * Replaces n nodes of guid in one Atomic; *res_out (required) says how it
 * went. Returns E2_OK when the command ran, applied or refused (see
 * res_out->code). Errors: E2_EINVAL (NULL argument, n 0), E2_ENOMEM.
 */
enum e2_status e2_nodes_set(struct e2_store *st, const char *guid,
			    const struct e2_node_value *nodes, size_t n,
			    struct e2_node_result *res_out, struct e2_err *err);
/*
 * Every node of guid as a provisioning Get of the account returns it (the
 * same code): sorted by name, a secret's value CSP's mask "********"
 * (never the secret, nor its length), an interior node (TAGPROPS) with a
 * NULL value. *nodes_out: free with e2_account_nodes_free(). *res_out
 * says whether the Get succeeded (404: no such account).
 * Errors: E2_EINVAL (NULL argument), E2_ENOMEM.
 */
struct e2_node_item {
	char *node;  /* path below the GUID */
	char *value; /* NULL for an interior node; masked for a secret */
};
enum e2_status e2_account_nodes(struct e2_store *st, const char *guid,
				struct e2_node_item **nodes_out, size_t *n_out,
				struct e2_node_result *res_out,
				struct e2_err *err);
void e2_account_nodes_free(struct e2_node_item **nodes, size_t n);

/* e2_nodes_set() of one node. */
enum e2_status e2_node_set(struct e2_store *st, const char *guid,
			   const char *node, const char *value,
			   struct e2_node_result *res_out, struct e2_err *err);
/* Deletes node (and what lies below it) of guid: a lone Delete. */
enum e2_status e2_node_delete(struct e2_store *st, const char *guid,
			      const char *node, struct e2_node_result *res_out,
			      struct e2_err *err);
/*
 * Deletes the account exactly as a provisioning Delete of its GUID does:
 * its nodes, sync state and status in one transaction, then its mail
 * directory and send queue (res_out->note says how many queued messages
 * were dropped). A sync of the account that is running holds its lock: the
 * call then changes nothing and fails with E2_EBUSY.
 * Errors: E2_EBUSY, E2_EINVAL, E2_ESTORE, E2_ENOMEM.
 */
enum e2_status e2_account_delete(struct e2_store *st, const char *guid,
				 struct e2_node_result *res_out,
				 struct e2_err *err);

/* ---- connection test -------------------------------------------------- */

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
	/* the server's leaf certificate (issue 9), "" when none was seen */
	char cert_sha256[72];     /* "SHA256:" and 64 upper-case hex digits */
	char cert_not_before[24]; /* ISO 8601 UTC: "2026-12-03T16:30:10Z" */
	char cert_not_after[24];
	bool cert_pinned; /* accepted as the account's pin for this host */
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

/*
 * Issue 10: one content type's connection test (contacts: CardDAV;
 * calendars: CalDAV), filled by the engine's DAV endpoint code.
 * Strings are "" when unknown; server text is untrusted (printed quoted).
 */
#define E2_DAV_ATTEMPTS_MAX 12
#define E2_DAV_COLLS_MAX 16

/* One URL of the endpoint plan, tried. */
struct e2_dav_attempt {
	char url[512]; /* never userinfo: refused before any attempt */
	char host[256];
	enum e2_status result;
	char error[256];
	bool https;
	bool tls; /* a TLS session was established */
	char tls_version[16];
	char cipher[64];
	char cert_subject[256];
	char cert_issuer[256];
	bool cert_verified;
	char verify_result[128];
	char cert_sha256[72]; /* "" when no certificate was seen */
	char cert_not_before[24];
	char cert_not_after[24];
	bool cert_pinned;
	enum e2_login login;
	bool cleartext_login; /* credentials crossed plain HTTP */
	double elapsed_ms;
};

/* One addressbook or calendar the discovery found. */
struct e2_dav_collection {
	char displayname[256];
	char href[512];
	char components[64];  /* CalDAV: "VEVENT VTODO", "" for CardDAV */
	bool sync_collection; /* RFC 6578 REPORT supported */
};

struct e2_dav_report {
	bool tested;
	bool ok;
	const char *state;     /* "ok", "not-found", "failed"; static */
	enum e2_status status; /* the verdict's cause when !ok */
	char error[256];
	const char *node; /* "CONTACTSSERVER" or "CALENDARSERVER"; static */
	/* how the server was found: the node's value, "SRV NAME", or
	 * "well-known DOMAIN" */
	char found_by[320];
	bool tls_required; /* *REQUIRESSL 1 or TAGPROPS/8128000B */
	char note[320];    /* a rung not tried and why, "" when none */
	size_t n_attempts;
	struct e2_dav_attempt attempts[E2_DAV_ATTEMPTS_MAX];
	/* discovery steps */
	char context_url[512];
	char principal_url[512];
	char home_url[512];
	bool dav_confirmed;   /* OPTIONS names addressbook / calendar-access */
	size_t n_collections; /* found; at most E2_DAV_COLLS_MAX listed */
	struct e2_dav_collection collections[E2_DAV_COLLS_MAX];
	bool cleartext; /* the login crossed plain HTTP */
	double elapsed_ms;
};

struct e2_conntest_report {
	bool ok;
	struct e2_side_report in;
	struct e2_side_report out;
	/* issue 10: the account's content types (SYNCINGCONTENTTYPES) */
	struct e2_dav_report contacts;
	struct e2_dav_report calendars;
};

struct e2_conntest_opts {
	const char *cafile;  /* NULL: system trust store ($EMAIL2_CAFILE read by
				tools) */
	unsigned timeout_ms; /* per attempt; 0 means 10000 */
	bool test_in;
	bool test_out;
	/* issue 10: CardDAV and CalDAV (email2-conntest --contacts,
	 * --calendars); the verdict counts them unless "not-found" */
	bool test_contacts;
	bool test_calendars;
	/* the store the account came from, for its pins; NULL: no pins */
	struct e2_store *store;
	/*
	 * -v: a protocol trace, line by line ("imap> ", "imap< ", ...), with
	 * every credential redacted and message bodies as byte counts
	 * (email2-conntest(1)); NULL: none. Borrowed.
	 */
	FILE *trace;
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

/*
 * Certificate pins (issue 9): per account and host, the SHA-256 of the one
 * leaf certificate sync, send and conntest accept there (chain and name
 * checks replaced, as msmtp's tls_fingerprint). Deleted with the account.
 *
 * Parses a fingerprint as the user typed it: 64 hex digits, any case, with
 * or without ':' between pairs and a leading "SHA256:", into
 * "SHA256:" and 64 upper-case hex digits. Errors: E2_EINVAL.
 */
enum e2_status e2_pin_parse(const char *text, char out[72], struct e2_err *err);
/*
 * Pins fp (e2_pin_parse() form) for guid's host, replacing an older pin.
 * The caller decides that the certificate was seen (email2-conntest --pin
 * pins only what a server presented in the same run).
 * Errors: E2_EINVAL (bad fingerprint, no such account), E2_ESTORE.
 */
enum e2_status e2_pin_set(struct e2_store *st, const char *guid,
			  const char *host, const char *fp, struct e2_err *err);
/*
 * The pin of guid for host (host names compare ASCII case-insensitively)
 * into fp_out, and when it was pinned (may be NULL); *found_out false when
 * none. Errors: E2_ESTORE.
 */
enum e2_status e2_pin_get(struct e2_store *st, const char *guid,
			  const char *host, char fp_out[72], int64_t *when_out,
			  bool *found_out, struct e2_err *err);
/* Removes guid's pin for host, or every pin of guid when host is NULL;
 * *n_out (may be NULL) counts them. Errors: E2_ESTORE. */
enum e2_status e2_pin_delete(struct e2_store *st, const char *guid,
			     const char *host, size_t *n_out,
			     struct e2_err *err);

/* The hosts e2_pin_seen() pinned: at most one per side (in, out,
 * contacts, calendars). */
struct e2_pin_result {
	size_t n;
	char host[4][256];
};
/*
 * Pins fp for each host of rep (a run of e2_conntest_run() for guid) whose
 * server presented exactly that leaf certificate in that run, on any
 * attempt; a fingerprint no server presented is never pinned (no typo, no
 * certificate never seen). Errors: E2_ECERT (no server presented it:
 * nothing pinned), E2_EINVAL (bad fingerprint), E2_ESTORE.
 */
enum e2_status e2_pin_seen(struct e2_store *st, const char *guid,
			   const struct e2_conntest_report *rep, const char *fp,
			   struct e2_pin_result *res_out, struct e2_err *err);

/* Human-readable, attempt by attempt. Never prints a credential. */
void e2_conntest_print_text(const struct e2_conntest_report *rep, FILE *f);
/* One JSON document (see email2-conntest(1)). */
void e2_conntest_print_json(const struct e2_conntest_report *rep, FILE *f);

/* ---- sync ------------------------------------------------------------ */

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
 * "remove-folder", "send", "first-sync" (an account never synced: no
 * Maildir to compare with, the first sync downloads everything; count 0).
 * Contacts and calendars (folder "contacts/<dir>" or "calendars/<dir>",
 * the collection's vdir folder): "download", "upload", "server-delete",
 * "local-delete", "conflict" (both kept, as a sync does), "adopt" (the
 * same item on both sides), "forget", "refused" (the emptied-side check,
 * detail says which), "first-sync" (a collection never synced, folder
 * "contacts/<href>"); and "not-previewed" (folder "contacts" or
 * "calendars", count 0: the type's server could not be read, detail says
 * why).
 * count items, bytes (0: not known), detail: UIDs,
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
	/* -v: the protocol trace, as e2_conntest_opts.trace; NULL: none */
	FILE *trace;
	/* issue 9: a preview (e2_sync_preview_fn) that changes nothing */
	bool dry_run;
	e2_sync_preview_fn preview; /* NULL: none */
	void *preview_ctx;
	/*
	 * Issue 10: the E2_SYNC_* content types to sync in this run, within
	 * the account's SYNCINGCONTENTTYPES (a bit the account does not name
	 * is ignored); 0: every type the account names. The daemon passes
	 * the types whose schedule (LINGER, *SYNCSCHEDULE) is due.
	 */
	unsigned content;
	/*
	 * Issue 10: the user's --force-delete: a collection that became
	 * empty on one side empties the other (the safety check that
	 * refuses it, email2-syncd(1), is skipped).
	 */
	bool force_delete;
};

/*
 * Issue 10: one content type's part of a run (contacts: CardDAV; calendars:
 * CalDAV, Appointments and Tasks together). Counts are items (vCards,
 * iCalendar objects) and are durable when counted.
 */
struct e2_dav_stats {
	bool tried;            /* the type was due and synced this run */
	enum e2_status status; /* E2_OK or what stopped the type */
	char error[256];       /* "" when status is E2_OK */
	/*
	 * "ok"; "not-found" (no server provisioned and discovery found
	 * none: reported, not a failure of the account's mail); "failed";
	 * "partial" (some items or collections skipped or refused).
	 */
	char state[16];
	char url[256];      /* the context URL used (no userinfo), "" if none */
	size_t collections; /* synced */
	size_t unchanged;   /* of those: token or ctag unchanged */
	size_t downloaded;  /* items written to the vdir */
	size_t uploaded;    /* items PUT to the server */
	size_t deleted_local, deleted_server;
	size_t conflicts;     /* local copies kept as *.conflict-<sha12> */
	size_t refused;       /* collections refused by the safety check */
	size_t skipped;       /* items or collections skipped (in skip[]) */
	bool cleartext_login; /* credentials crossed plain HTTP */
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
	/*
	 * Issue 9: a login of this run (IMAP, POP3, or SMTP AUTH for the
	 * outbox) went over a plaintext link, which TAGPROPS 8128000B
	 * (incoming) or 812C000B (outgoing) not set allows. cleartext_why
	 * says which, for "login in cleartext: ..." ("TAGPROPS 8128000B is
	 * not set"); static, NULL when cleartext_login is false.
	 */
	bool cleartext_login;
	const char *cleartext_why;
	/*
	 * Progress (issue 9), for the progress callback: the folder being
	 * downloaded (the server's name, e2_quote()d; "" before the first),
	 * its messages stored so far in this run, and how many it has to
	 * download (a POP3 maildrop counts the ones DWNDAY may still leave).
	 */
	char progress_folder[256];
	size_t progress_done;
	size_t progress_total;
	/*
	 * Issue 10: the E2_SYNC_* types this run synced (e2_sync_opts.content
	 * within SYNCINGCONTENTTYPES), and the contacts and calendars parts
	 * (.tried false when the type was not in the run).
	 */
	unsigned content;
	struct e2_dav_stats contacts, calendars;
};

/*
 * With opts->dry_run (issue 9) nothing is changed anywhere: no lock file,
 * no tmp/ recovery, no SMTP connection; IMAP folders are EXAMINEd and
 * listed (UID FETCH FLAGS), POP3 gets UIDL and LIST only; the store is set
 * query_only (a write fails); the actions reconcile_folder() decides are
 * given to opts->preview instead of being carried out.
 * Syncs one account: with Mail in the run (opts->content within
 * SYNCINGCONTENTTYPES), sends its outbox (unless opts->no_send), then
 * downloads (IMAP4 or POP3 per SERVICETYPE) into <store>/mail/{GUID}/;
 * then, unless opts->no_receive, contacts (CardDAV) into
 * <store>/contacts/{GUID}/ and calendars (CalDAV) into
 * <store>/calendars/{GUID}/, also when the mail failed. A DAV type that
 * failed or skipped something is one entry in stats->skip (folder
 * "contacts" or "calendars"): the run is "partial", never failed by it;
 * a type with no server ("not-found") is reported in its stats only.
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
 * before the state row points at it; only then the old file goes (a
 * crash at any point leaves the old file or the new one, never neither).
 * opts may be NULL; only cafile, timeout_ms and trace are used. It takes
 * the account's sync lock: while a sync
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

/* ---- the send queue (email2-outbox(1), email2-sendmail(1)) ------------- */

/*
 * A message in an account's send queue <store>/outbox/{GUID}/. NEW: a file
 * no sync has claimed yet (its id is its file name); QUEUED: claimed, sent
 * at next_attempt; SENT: the server took it, only the move into the Sent
 * folder is left; FAILED: given up (after 10 attempts, 5 days queued, or a
 * permanent refusal: email2-outbox(1)), never sent again
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
 * Queues msg (len bytes, LF or CRLF) for account guid, claimed at once:
 * written to tmp/ and fsynced, its row committed, renamed into cur/. The
 * message passes the checks the send applies (NUL, header, addresses) and
 * SEND's 50 MiB cap before anything is written. rcpt (nrcpt addresses, may be
 * 0) is the envelope: with from_headers the header recipients (To, Cc, Bcc) are
 * added to it; without, it is the whole envelope and must not be empty.
 * from_name (may be NULL): a From field "from_name <REPLYADDR>" is added when
 * the message has none. *id_out (may be NULL; caller frees) gets the id.
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
 * For email2-sendmail (a mail client has no use for it): sendmail's
 * standard input rules over buf (len bytes, read whole): a NUL
 * byte is E2_EINVAL naming its offset; unless dot_ends is false (-i, -oi)
 * a line that is only "." (LF or CRLF ended, or at the end) ends the
 * message: *len_out is the length before it. Pure. Errors: E2_EINVAL.
 */
enum e2_status e2_sendmail_input(const char *buf, size_t len, bool dot_ends,
				 size_t *len_out, struct e2_err *err);

/*
 * For email2's tools (email2-outbox, email2-sendmail): wakes a running
 * email2-syncd of the store: it holds an exclusive flock on
 * <store>/email2-syncd.pid while it runs (daemon mode); when the lock is
 * held by another process, the pid written there gets SIGUSR1. *woken_out
 * says whether a signal was sent. Errors: E2_ESTORE (a pid file that is
 * locked but holds no pid), E2_ENOMEM.
 */
enum e2_status e2_syncd_wake(struct e2_store *st, bool *woken_out,
			     struct e2_err *err);

/*
 * For email2-syncd in daemon mode only (no other program calls it): opens
 * <store>/email2-syncd.pid (0600), takes its exclusive flock without waiting
 * and writes the process id; *fd_out keeps the lock until close() (the file
 * stays: a file nobody locks is stale and harmless). *fd_out is -1 when another
 * process holds the lock (a second syncd on the same store). Errors: E2_ESTORE.
 */
enum e2_status e2_syncd_pidfile(struct e2_store *st, int *fd_out,
				struct e2_err *err);

#define E2_SYNCD_PID_FILE "email2-syncd.pid"

/*
 * The pid of the email2-syncd daemon that holds the store's lock (the
 * exclusive flock on <store>/email2-syncd.pid, the one daemon per store);
 * *pid_out is 0 when none runs. For a second daemon's message and for
 * email2-sendmail's wake-up. Errors: E2_ESTORE (locked, but no pid
 * written within a second), E2_ENOMEM.
 */
enum e2_status e2_syncd_running(struct e2_store *st, long *pid_out,
				struct e2_err *err);

#ifdef __cplusplus
}
#endif

#endif /* EMAIL2_H */
