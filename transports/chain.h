/* SPDX-License-Identifier: MIT */
/* chain.h -- the connection fallback chain: TLS, STARTTLS, plain, then login */
#ifndef E2_CHAIN_H
#define E2_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libetpan/libetpan.h>

#include "email2.h"
#include "transports/xport.h"

/* The TLS policy and timing of one side's chain: data, walked by chain.c. */
struct chain_opts {
	const char *cafile;  /* NULL: the system trust store */
	unsigned timeout_ms; /* per attempt and, later, per I/O step;
				0: 10000 */
	unsigned stagger_ms; /* STARTTLS starts this long after TLS;
				0: CHAIN_STAGGER_MS */
	unsigned grace_ms;   /* a waiting TLS rung is abandoned this long
				after STARTTLS is ready; 0: CHAIN_GRACE_MS */
	bool login;          /* false: stop after capabilities */
	/*
	 * A pinned leaf certificate (SHA-256 of its DER): when set, exactly
	 * that certificate is accepted, chain and name checks replaced
	 * (xport_tls_opts); anything else is E2_ECERT.
	 */
	bool pinned;
	unsigned char pin[XPORT_SHA256_LEN];
	/* conntest: an SMTP side that skips the login probes MAIL FROM */
	bool probe;
	FILE *trace; /* -v: protocol trace (xport.h), NULL: none */
};

#define CHAIN_STAGGER_MS 250u
#define CHAIN_GRACE_MS 1000u

enum chain_proto {
	CHAIN_PROTO_IMAP4 = 0,
	CHAIN_PROTO_POP3,
	CHAIN_PROTO_SMTP,
};

/*
 * What to connect to and how: plain data, no account (the engine builds it,
 * engine/account_conn.h). Strings are borrowed for the chain_open() call.
 */
struct chain_request {
	enum chain_proto proto;
	const char *host;      /* NULL or "": E2_EINVAL naming host_node */
	uint16_t port;         /* 0: each rung's default */
	const char *host_node; /* "INSERVER", for messages */
	bool tls_required;     /* never the plain rung, never creds in clear */
	const char *tls_node;  /* the node that requires TLS, for messages */
	bool auth; /* false: the server wants no login (reported skipped) */
	const char *user;   /* NULL or "": nothing to log in with */
	const char *domain; /* NULL or "" */
	const char *secret; /* NULL: nothing to log in with */
	/* SMTP without a login, when o.probe: MAIL FROM:<probe_from> (NULL <>)
	 */
	const char *probe_from;
	struct chain_opts o;
};

/* A logged-in (or preauthenticated) connection for the sync engine. */
struct chain_session;

/*
 * Runs the fallback chain for req (see chain.c for the rules), logs in on
 * the chosen rung when req->o.login, and fills rep (always, also on failure: it
 * is the conntest report for that side). On success *sess_out is the session,
 * its I/O steps time out after req->o.timeout_ms of silence. Errors: the
 * verdict's cause: E2_EINVAL (no host), E2_ERESOLVE, E2_ECONNECT, E2_ETIMEOUT,
 * E2_ETLS, E2_ECERT, E2_ENOSTARTTLS, E2_EPROTO, E2_EAUTH, E2_EINSECURE, E2_EIO,
 * E2_ENOMEM.
 */
enum e2_status chain_open(const struct chain_request *req,
			  struct chain_session **sess_out,
			  struct e2_side_report *rep, struct e2_err *err);

/* Logs out (QUIT/LOGOUT, bounded by the timeout) and frees. NULL-safe. */
void chain_session_free(struct chain_session **sess);

/* The libetpan session of the matching protocol, else NULL; borrowed,
 * valid until chain_session_free(). */
mailimap *chain_session_imap(struct chain_session *s);
mailpop3 *chain_session_pop3(struct chain_session *s);
mailsmtp *chain_session_smtp(struct chain_session *s);
/* The rung that won; whether the link is encrypted. */
enum e2_mode chain_session_mode(const struct chain_session *s);
bool chain_session_tls(const struct chain_session *s);
/* The login sent credentials over a plaintext link (reported so). */
bool chain_session_cleartext_login(const struct chain_session *s);
/* The shared error of the session's chain: read it after a libetpan call
 * failed to learn the transport's cause (timeout, I/O). */
struct e2_err *chain_session_err(struct chain_session *s);

/* ---- pure decision logic (unit-tested; the threaded runner uses it) ---- */

/* The port for a rung: explicit if given, else the protocol default. */
uint16_t chain_port(enum chain_proto proto, enum e2_mode mode,
		    uint16_t explicit_port);

/* True for causes that may be a dead or broken port (ECONNECT, ETIMEOUT,
 * ETLS, ENOSTARTTLS): anything else may be an attacker or is final. */
bool chain_may_fall_back(enum e2_status rc);

/*
 * Login name: DOMAIN\AUTHNAME when domain is set (non-empty) and user has
 * neither '@' nor '\', else user as given. *out is the caller's, a secret-
 * grade heap buffer (wipe with OPENSSL_cleanse before free).
 * Errors: E2_EINVAL (no user), E2_ENOMEM.
 */
enum e2_status chain_login_name(const char *user, const char *domain,
				char **out, struct e2_err *err);

enum chain_rung_state {
	CHAIN_RUNG_IDLE = 0, /* not started */
	CHAIN_RUNG_RUNNING,
	CHAIN_RUNG_READY, /* connected, TLS verified, capabilities read */
	CHAIN_RUNG_FAILED,
	CHAIN_RUNG_SKIPPED, /* never to run */
};

struct chain_rung_view {
	enum chain_rung_state state;
	enum e2_status rc;  /* when FAILED */
	int64_t started_ms; /* when RUNNING or later */
	int64_t ready_ms;   /* when READY */
};

enum chain_action {
	CHAIN_WAIT = 0, /* nothing to do until a rung changes or time passes */
	CHAIN_START,    /* start rung .mode */
	CHAIN_CHOOSE,   /* .mode won; stop the others */
	CHAIN_FAIL,     /* the chain failed; .mode's cause is the verdict */
};

struct chain_decision {
	enum chain_action action;
	enum e2_mode mode;
	bool abandon_tls; /* CHOOSE STARTTLS while TLS still waits */
};

/*
 * The fallback policy as one pure function of the rungs' states (indexed by
 * enum e2_mode) and the time: see chain.c's header comment.
 */
struct chain_decision
chain_decide(const struct chain_rung_view v[E2_MODE_COUNT], bool tls_required,
	     int64_t now_ms, unsigned stagger_ms, unsigned grace_ms);

#endif /* E2_CHAIN_H */
