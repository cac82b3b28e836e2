/* SPDX-License-Identifier: MIT */
/* proto.h -- one table per mail protocol over libetpan (IMAP4, POP3, SMTP) */
#ifndef E2_PROTO_H
#define E2_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <libetpan/libetpan.h>

#include "email2.h"
#include "transports/xport.h"

/*
 * One protocol connection: the xport chain, the libetpan session reading
 * through it, and what the server told us. Owned by the chain (chain.c);
 * the proto_* steps borrow it. err is the chain's shared error.
 */
struct proto_conn {
	const struct proto_ops *ops;
	const char *host;   /* borrowed from the account */
	struct xport *xp;   /* top of the chain; the stream reads via &xp */
	struct e2_err *err; /* shared with the chain */
	mailimap *imap;     /* exactly one of these is set after greet */
	mailpop3 *pop3;
	mailsmtp *smtp;
	bool tls;            /* the link is encrypted */
	bool preauth;        /* IMAP PREAUTH greeting */
	bool starttls;       /* the server offers STARTTLS / STLS */
	bool login_disabled; /* IMAP LOGINDISABLED */
	bool has_user;       /* POP3 USER capability (or no CAPA at all) */
	char caps[512];      /* space-separated */
	char mechs[128];     /* space-separated SASL mechanisms */
};

/* What to log in with; secret is wiped by the owner. */
struct proto_login {
	const char *user; /* login name, DOMAIN composed in */
	const char *secret;
	bool cleartext_ok; /* the account allows a plaintext link */
};

struct proto_ops {
	const char *name; /* "imap4", "pop3", "smtp" */
	uint16_t port_tls;
	uint16_t port_plain;
	enum guard_proto guard; /* the server-byte guard's mode (guard.h) */
	/*
	 * Creates the libetpan session on stream (taking ownership of it)
	 * and reads the greeting. Errors: E2_EPROTO, E2_ETIMEOUT, E2_EIO,
	 * E2_ENOMEM.
	 */
	enum e2_status (*greet)(struct proto_conn *c, mailstream *stream,
				struct e2_err *err);
	/*
	 * Asks for capabilities, forgetting any learnt before (RFC 3501
	 * 6.2.1, RFC 2595 4, RFC 3207 4.2). Errors: E2_EPROTO, E2_ETIMEOUT,
	 * E2_EIO, E2_ENOMEM.
	 */
	enum e2_status (*capabilities)(struct proto_conn *c,
				       struct e2_err *err);
	/* Sends STARTTLS/STLS and checks the reply, nothing else.
	 * Errors: E2_ENOSTARTTLS, E2_ETIMEOUT, E2_EIO. */
	enum e2_status (*starttls)(struct proto_conn *c, struct e2_err *err);
	/* Logs in; mech_out names the mechanism used ("LOGIN", ...).
	 * Errors: E2_EAUTH, E2_EINSECURE, E2_EPROTO, E2_ETIMEOUT, E2_EIO. */
	enum e2_status (*login)(struct proto_conn *c,
				const struct proto_login *l, char *mech_out,
				size_t mech_len, struct e2_err *err);
	/* Says goodbye if the link still works, then frees the session. */
	void (*close)(struct proto_conn *c, bool polite);
};

extern const struct proto_ops proto_imap;
extern const struct proto_ops proto_pop3;
extern const struct proto_ops proto_smtp;

/* The stream the session reads from, NULL before greet. */
mailstream *proto_stream(const struct proto_conn *c);

/*
 * The cause of a failed libetpan call: the transport's, when the chain
 * recorded one (timeout, I/O), else code with the formatted message.
 */
enum e2_status proto_fail(struct proto_conn *c, enum e2_status code,
			  const char *fmt, ...) E2_PRINTF(3, 4);

/*
 * -v: the step that follows sends a credential, traced as label only
 * (xport_etpan_trace_secret()); NULL ends it. Reads the session's stream
 * each time, so a stream libetpan closed meanwhile is not touched.
 */
void proto_trace_secret(struct proto_conn *c, const char *label);

/* Appends word to a space-separated list in dst (cut silently). */
void proto_words_add(char *dst, size_t dstlen, const char *word);
/* True when the space-separated list has word (ASCII case-insensitive). */
bool proto_words_has(const char *list, const char *word);

/*
 * SMTP refusals that are about authentication (RFC 4954 6, RFC 3463 3.8):
 * AUTH_REQUIRED is 530 (but for "STARTTLS first", which is about the
 * link), or a 5xx whose enhanced code is 5.7.0 or 5.7.1
 * and whose text says "auth" (Dovecot and Postfix say "Authentication
 * required"); AUTH_REJECTED is 535, or 5.7.8. Everything else is NONE.
 */
enum proto_smtp_auth {
	PROTO_SMTP_AUTH_NONE = 0,
	PROTO_SMTP_AUTH_REQUIRED,
	PROTO_SMTP_AUTH_REJECTED,
};

/* The class of reply code with text (may be NULL; libetpan's response). */
enum proto_smtp_auth proto_smtp_auth_class(int code, const char *text);

/*
 * What to do about k, for the end of an error message; static. required:
 * the account has AUTHREQUIRED=1 (so a 530 means no credentials reached
 * the server). NULL for PROTO_SMTP_AUTH_NONE.
 */
const char *proto_smtp_auth_hint(enum proto_smtp_auth k, bool required);

/*
 * email2-conntest's probe of an outgoing server it did not log in to
 * (AUTHREQUIRED absent or 0): MAIL FROM:<from> (NULL: <>) then RSET, so a
 * server that would refuse mail without a login fails the test now, not every
 * send later. required is the account's AUTHREQUIRED (for the hint). Errors:
 * E2_EAUTH (530 and its forms, with the hint), E2_EPROTO (another refusal),
 * E2_ETIMEOUT, E2_EIO, E2_ENOMEM.
 */
enum e2_status proto_smtp_probe(struct proto_conn *c, const char *from,
				bool required, struct e2_err *err);

#endif /* E2_PROTO_H */
