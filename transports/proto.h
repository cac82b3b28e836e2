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

/* Appends word to a space-separated list in dst (cut silently). */
void proto_words_add(char *dst, size_t dstlen, const char *word);
/* True when the space-separated list has word (ASCII case-insensitive). */
bool proto_words_has(const char *list, const char *word);

#endif /* E2_PROTO_H */
