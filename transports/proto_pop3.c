/* SPDX-License-Identifier: MIT */
/* proto_pop3.c -- POP3 steps for the chain: greeting, CAPA, STLS, login */
#include "config.h"

#include "transports/proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum e2_status
pop3_cause(struct proto_conn *c, int r, enum e2_status code, const char *what)
{
	const char *text = c->pop3->pop3_response;
	char q[160];

	if (r == MAILPOP3_ERROR_MEMORY)
		return proto_fail(c, E2_ENOMEM, "out of memory");
	if (text != NULL && text[0] != '\0')
		return proto_fail(
			c, code, "%s %s: %s", what, c->host,
			e2_quote_reply(q, sizeof(q), text, strlen(text)));
	return proto_fail(c, code, "%s %s: error %d", what, c->host, r);
}

static enum e2_status
pop3_greet(struct proto_conn *c, mailstream *stream, struct e2_err *err)
{
	int r;

	(void)err;
	c->pop3 = mailpop3_new(0, NULL);
	if (c->pop3 == NULL) {
		mailstream_close(stream);
		return proto_fail(c, E2_ENOMEM, "out of memory");
	}
	r = mailpop3_connect(c->pop3, stream); /* the session owns stream */
	if (r != MAILPOP3_NO_ERROR)
		return pop3_cause(c, r, E2_EPROTO, "pop3 greeting from");
	return E2_OK;
}

static enum e2_status
pop3_capabilities(struct proto_conn *c, struct e2_err *err)
{
	clist *capa = NULL;
	int r;

	(void)err;
	/* RFC 2595 4: capabilities learnt before TLS are forgotten */
	c->caps[0] = c->mechs[0] = '\0';
	c->starttls = false;
	c->has_user = true;
	r = mailpop3_capa(c->pop3, &capa);
	if (r == MAILPOP3_ERROR_CAPA_NOT_SUPPORTED)
		return E2_OK; /* RFC 1939 server: USER/PASS is all there is */
	if (r != MAILPOP3_NO_ERROR)
		return pop3_cause(c, r, E2_EPROTO, "pop3 CAPA at");
	c->has_user = false;
	for (clistiter *it = clist_begin(capa); it != NULL;
	     it = clist_next(it)) {
		struct mailpop3_capa *cap = clist_content(it);

		proto_words_add(c->caps, sizeof(c->caps), cap->cap_name);
		if (strcasecmp(cap->cap_name, "STLS") == 0)
			c->starttls = true;
		if (strcasecmp(cap->cap_name, "USER") == 0)
			c->has_user = true;
		if (strcasecmp(cap->cap_name, "SASL") != 0)
			continue;
		for (clistiter *p = clist_begin(cap->cap_param); p != NULL;
		     p = clist_next(p))
			proto_words_add(c->mechs, sizeof(c->mechs),
					clist_content(p));
	}
	mailpop3_capa_resp_free(capa);
	return E2_OK;
}

static enum e2_status
pop3_starttls(struct proto_conn *c, struct e2_err *err)
{
	int r;

	(void)err;
	r = mailpop3_stls(c->pop3);
	if (r != MAILPOP3_NO_ERROR)
		return pop3_cause(c, r, E2_ENOSTARTTLS, "pop3 STLS refused by");
	return E2_OK;
}

static enum e2_status
pop3_login(struct proto_conn *c, const struct proto_login *l, char *mech_out,
	   size_t mech_len, struct e2_err *err)
{
	int r;

	(void)err;
	/*
	 * APOP (RFC 1939 7) keeps the password off a cleartext link, so it is
	 * used there when the greeting carries a timestamp; over TLS USER/PASS
	 * works with every password scheme on the server.
	 */
	if (!c->tls && c->pop3->pop3_timestamp != NULL) {
		(void)snprintf(mech_out, mech_len, "APOP");
		/* -v: the digest stands for the password */
		proto_trace_secret(c, "APOP");
		r = mailpop3_apop(c->pop3, l->user, l->secret);
		proto_trace_secret(c, NULL);
		if (r == MAILPOP3_NO_ERROR)
			return E2_OK;
		return pop3_cause(c, r, E2_EAUTH, "pop3 APOP rejected by");
	}
	(void)snprintf(mech_out, mech_len, "USER");
	r = mailpop3_user(c->pop3, l->user);
	if (r == MAILPOP3_NO_ERROR) {
		proto_trace_secret(c, "PASS");
		r = mailpop3_pass(c->pop3, l->secret);
		proto_trace_secret(c, NULL);
	}
	if (r == MAILPOP3_NO_ERROR)
		return E2_OK;
	if (r == MAILPOP3_ERROR_BAD_USER || r == MAILPOP3_ERROR_BAD_PASSWORD ||
	    r == MAILPOP3_ERROR_DENIED)
		return pop3_cause(c, r, E2_EAUTH, "pop3 login rejected by");
	return pop3_cause(c, r, E2_EPROTO, "pop3 login at");
}

static void
pop3_close(struct proto_conn *c, bool polite)
{
	if (c->pop3 == NULL)
		return;
	if (polite && c->pop3->pop3_stream != NULL)
		(void)mailpop3_quit(c->pop3);
	mailpop3_free(c->pop3);
	c->pop3 = NULL;
}

const struct proto_ops proto_pop3 = {
	.name = "pop3",
	.port_tls = 995,
	.port_plain = 110,
	.guard = GUARD_POP3,
	.greet = pop3_greet,
	.capabilities = pop3_capabilities,
	.starttls = pop3_starttls,
	.login = pop3_login,
	.close = pop3_close,
};
