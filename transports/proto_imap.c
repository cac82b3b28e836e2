/* SPDX-License-Identifier: MIT */
/* proto_imap.c -- IMAP4rev1 steps for the chain: greeting, CAPABILITY, login */
#include "config.h"

#include "transports/proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum e2_status
imap_cause(struct proto_conn *c, int r, enum e2_status code, const char *what)
{
	char q[160];
	const char *text = NULL;

	if (r == MAILIMAP_ERROR_MEMORY)
		return proto_fail(c, E2_ENOMEM, "out of memory");
	/* libetpan's framing is lost: no byte after this one is read */
	if (r == MAILIMAP_ERROR_PARSE)
		xport_etpan_refuse_reads(c->imap->imap_stream);
	if (c->imap->imap_response != NULL)
		text = c->imap->imap_response;
	if (text != NULL && text[0] != '\0')
		return proto_fail(
			c, code, "%s %s: %s", what, c->host,
			e2_quote_reply(q, sizeof(q), text, strlen(text)));
	return proto_fail(c, code, "%s %s: error %d", what, c->host, r);
}

static enum e2_status
imap_greet(struct proto_conn *c, mailstream *stream, struct e2_err *err)
{
	int r;

	(void)err;
	c->imap = mailimap_new(0, NULL);
	if (c->imap == NULL) {
		mailstream_close(stream);
		return proto_fail(c, E2_ENOMEM, "out of memory");
	}
	r = mailimap_connect(c->imap, stream); /* the session owns stream */
	if (r == MAILIMAP_NO_ERROR_AUTHENTICATED) {
		c->preauth = true;
		return E2_OK;
	}
	if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return E2_OK;
	return imap_cause(c, r, E2_EPROTO, "imap greeting from");
}

static enum e2_status
imap_capabilities(struct proto_conn *c, struct e2_err *err)
{
	struct mailimap_connection_info *ci = c->imap->imap_connection_info;
	struct mailimap_capability_data *cd = NULL;
	clist *empty;
	int r;

	(void)err;
	c->caps[0] = c->mechs[0] = '\0';
	c->starttls = c->login_disabled = false;
	/*
	 * RFC 3501 6.2.1: forget what was learnt before TLS. libetpan copies
	 * its stored list after CAPABILITY and would crash on NULL if the
	 * server sent none, so an empty list stands in.
	 */
	if (ci == NULL)
		return proto_fail(c, E2_EPROTO, "imap %s: no connection info",
				  c->host);
	empty = clist_new();
	if (empty == NULL)
		return proto_fail(c, E2_ENOMEM, "out of memory");
	if (ci->imap_capability != NULL)
		mailimap_capability_data_free(ci->imap_capability);
	ci->imap_capability = mailimap_capability_data_new(empty);
	if (ci->imap_capability == NULL) {
		clist_free(empty);
		return proto_fail(c, E2_ENOMEM, "out of memory");
	}
	r = mailimap_capability(c->imap, &cd);
	if (r != MAILIMAP_NO_ERROR)
		return imap_cause(c, r, E2_EPROTO, "imap CAPABILITY at");
	for (clistiter *it = clist_begin(cd->cap_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_capability *cap = clist_content(it);
		char word[96];

		if (cap->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE) {
			(void)snprintf(word, sizeof(word), "AUTH=%s",
				       cap->cap_data.cap_auth_type);
			proto_words_add(c->mechs, sizeof(c->mechs),
					cap->cap_data.cap_auth_type);
		} else {
			(void)snprintf(word, sizeof(word), "%s",
				       cap->cap_data.cap_name);
			if (strcasecmp(word, "STARTTLS") == 0)
				c->starttls = true;
			if (strcasecmp(word, "LOGINDISABLED") == 0)
				c->login_disabled = true;
		}
		proto_words_add(c->caps, sizeof(c->caps), word);
	}
	mailimap_capability_data_free(cd);
	return E2_OK;
}

static enum e2_status
imap_starttls(struct proto_conn *c, struct e2_err *err)
{
	int r;

	(void)err;
	r = mailimap_starttls(c->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_cause(c, r, E2_ENOSTARTTLS,
				  "imap STARTTLS refused by");
	return E2_OK;
}

static enum e2_status
imap_login(struct proto_conn *c, const struct proto_login *l, char *mech_out,
	   size_t mech_len, struct e2_err *err)
{
	bool plain = proto_words_has(c->mechs, "PLAIN");
	int r;

	(void)err;
	/* RFC 3501 6.2.3: LOGINDISABLED forbids LOGIN; SASL PLAIN may do. */
	if (c->login_disabled && !plain)
		return proto_fail(c, E2_EINSECURE,
				  "imap %s: LOGIN disabled and no AUTH=PLAIN "
				  "offered%s",
				  c->host, c->tls ? "" : " before TLS");
	/* -v: the command and its continuations carry the password */
	if (c->login_disabled) {
		(void)snprintf(mech_out, mech_len, "AUTHENTICATE PLAIN");
		proto_trace_secret(c, "AUTHENTICATE PLAIN");
		r = mailimap_authenticate(c->imap, "PLAIN", c->host, NULL, NULL,
					  l->user, l->user, l->secret, NULL);
	} else {
		(void)snprintf(mech_out, mech_len, "LOGIN");
		proto_trace_secret(c, "LOGIN");
		r = mailimap_login(c->imap, l->user, l->secret);
	}
	proto_trace_secret(c, NULL);
	if (r == MAILIMAP_NO_ERROR)
		return E2_OK;
	if (r == MAILIMAP_ERROR_LOGIN || r == MAILIMAP_ERROR_SASL)
		return imap_cause(c, r, E2_EAUTH, "imap login rejected by");
	return imap_cause(c, r, E2_EPROTO, "imap login at");
}

static void
imap_close(struct proto_conn *c, bool polite)
{
	if (c->imap == NULL)
		return;
	if (polite && c->imap->imap_stream != NULL)
		(void)mailimap_logout(c->imap);
	mailimap_free(c->imap);
	c->imap = NULL;
}

const struct proto_ops proto_imap = {
	.name = "imap4",
	.port_tls = 993,
	.port_plain = 143,
	.guard = GUARD_IMAP,
	.greet = imap_greet,
	.capabilities = imap_capabilities,
	.starttls = imap_starttls,
	.login = imap_login,
	.close = imap_close,
};
