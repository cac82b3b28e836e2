/* SPDX-License-Identifier: MIT */
/* proto_smtp.c -- SMTP submission steps for the chain: EHLO, STARTTLS, AUTH */
#include "config.h"

#include "transports/proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * libetpan's reply text starts after the code: "5.7.0 Authentication
 * required." An enhanced code (RFC 3463) is three dot-separated numbers.
 */
static bool
smtp_enhanced_is(const char *text, const char *want)
{
	size_t n = strlen(want);

	return text != NULL && strncmp(text, want, n) == 0 &&
	       (text[n] == ' ' || text[n] == '\0' || text[n] == '\r' ||
		text[n] == '\n');
}

static bool
smtp_says(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; p != NULL && *p != '\0'; p++)
		if (strncasecmp(p, word, n) == 0)
			return true;
	return false;
}

enum proto_smtp_auth
proto_smtp_auth_class(int code, const char *text)
{
	/* Postfix: "530 5.7.0 Must issue a STARTTLS command first" */
	if (code == 530 && smtp_says(text, "STARTTLS"))
		return PROTO_SMTP_AUTH_NONE;
	if (code == 530)
		return PROTO_SMTP_AUTH_REQUIRED;
	if (code == 535)
		return PROTO_SMTP_AUTH_REJECTED;
	if (code < 500 || code > 599)
		return PROTO_SMTP_AUTH_NONE;
	if (smtp_enhanced_is(text, "5.7.8"))
		return PROTO_SMTP_AUTH_REJECTED;
	if ((smtp_enhanced_is(text, "5.7.0") ||
	     smtp_enhanced_is(text, "5.7.1")) &&
	    smtp_says(text, "auth"))
		return PROTO_SMTP_AUTH_REQUIRED;
	return PROTO_SMTP_AUTH_NONE;
}

const char *
proto_smtp_auth_hint(enum proto_smtp_auth k, bool required)
{
	switch (k) {
	case PROTO_SMTP_AUTH_REQUIRED:
		/*
		 * AUTHREQUIRED=1 and still 530: no login happened, because
		 * the account has no credentials for the outgoing side
		 */
		return required ? "the server requires authentication: "
				  "provision AUTHNAME and AUTHSECRET (or "
				  "SMTPALT*)"
				: "the server requires authentication: "
				  "provision AUTHREQUIRED=1";
	case PROTO_SMTP_AUTH_REJECTED:
		return "credentials rejected: check AUTHNAME/AUTHSECRET, or "
		       "SMTPALT* if the outgoing login differs";
	case PROTO_SMTP_AUTH_NONE:
		break;
	}
	return NULL;
}

/*
 * A refusal about authentication is E2_EAUTH with the hint (issue 9): the
 * login step logs in, so a 530 there means "required" is already set.
 */
static enum e2_status
smtp_cause(struct proto_conn *c, int r, enum e2_status code, const char *what)
{
	const char *text = c->smtp->response;
	enum proto_smtp_auth k;
	const char *hint;
	char q[160];

	if (r == MAILSMTP_ERROR_MEMORY)
		return proto_fail(c, E2_ENOMEM, "out of memory");
	if (text == NULL || text[0] == '\0')
		return proto_fail(c, code, "%s %s: %s", what, c->host,
				  mailsmtp_strerror(r));
	k = proto_smtp_auth_class(c->smtp->response_code, text);
	hint = proto_smtp_auth_hint(k, true);
	if (hint != NULL)
		return proto_fail(
			c, E2_EAUTH, "%s %s: %d %s (%s)", what, c->host,
			c->smtp->response_code,
			e2_quote_reply(q, sizeof(q), text, strlen(text)), hint);
	return proto_fail(c, code, "%s %s: %d %s", what, c->host,
			  c->smtp->response_code,
			  e2_quote_reply(q, sizeof(q), text, strlen(text)));
}

static enum e2_status
smtp_greet(struct proto_conn *c, mailstream *stream, struct e2_err *err)
{
	int r;

	(void)err;
	c->smtp = mailsmtp_new(0, NULL);
	if (c->smtp == NULL) {
		mailstream_close(stream);
		return proto_fail(c, E2_ENOMEM, "out of memory");
	}
	/* On failure libetpan closes the stream itself. */
	r = mailsmtp_connect(c->smtp, stream);
	if (r != MAILSMTP_NO_ERROR)
		return smtp_cause(c, r, E2_EPROTO, "smtp greeting from");
	return E2_OK;
}

static const struct {
	int flag;
	const char *name;
} smtp_mech_names[] = {
	{MAILSMTP_AUTH_PLAIN, "PLAIN"},
	{MAILSMTP_AUTH_LOGIN, "LOGIN"},
	{MAILSMTP_AUTH_CRAM_MD5, "CRAM-MD5"},
	{MAILSMTP_AUTH_DIGEST_MD5, "DIGEST-MD5"},
	{MAILSMTP_AUTH_GSSAPI, "GSSAPI"},
	{MAILSMTP_AUTH_NTLM, "NTLM"},
};

static enum e2_status
smtp_capabilities(struct proto_conn *c, struct e2_err *err)
{
	const char *p;
	int r;

	(void)err;
	/*
	 * RFC 3207 4.2: forget what EHLO said before TLS. libetpan ORs new
	 * flags into the old ones, so they are reset before asking again.
	 */
	c->caps[0] = c->mechs[0] = '\0';
	c->starttls = false;
	c->smtp->esmtp = 0;
	c->smtp->auth = MAILSMTP_AUTH_NOT_CHECKED;
	r = mailesmtp_ehlo(c->smtp);
	if (r == MAILSMTP_ERROR_NOT_IMPLEMENTED) {
		r = mailsmtp_helo(c->smtp);
		if (r == MAILSMTP_NO_ERROR)
			return E2_OK;
	}
	if (r != MAILSMTP_NO_ERROR)
		return smtp_cause(c, r, E2_EPROTO, "smtp EHLO at");
	/* The reply text: greeting line, then one extension per line. */
	p = c->smtp->response != NULL ? c->smtp->response : "";
	p += strcspn(p, "\n");
	while (*p == '\n') {
		char word[64];
		size_t n;

		p++;
		n = strcspn(p, " \r\n");
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			proto_words_add(c->caps, sizeof(c->caps), word);
		}
		p += strcspn(p, "\n");
	}
	c->starttls = (c->smtp->esmtp & MAILSMTP_ESMTP_STARTTLS) != 0;
	for (size_t i = 0;
	     i < sizeof(smtp_mech_names) / sizeof(smtp_mech_names[0]); i++)
		if ((c->smtp->auth & smtp_mech_names[i].flag) != 0)
			proto_words_add(c->mechs, sizeof(c->mechs),
					smtp_mech_names[i].name);
	return E2_OK;
}

static enum e2_status
smtp_starttls(struct proto_conn *c, struct e2_err *err)
{
	int r;

	(void)err;
	r = mailesmtp_starttls(c->smtp);
	if (r != MAILSMTP_NO_ERROR)
		return smtp_cause(c, r, E2_ENOSTARTTLS,
				  "smtp STARTTLS refused by");
	return E2_OK;
}

static enum e2_status
smtp_login(struct proto_conn *c, const struct proto_login *l, char *mech_out,
	   size_t mech_len, struct e2_err *err)
{
	const char *mech;
	int r;

	(void)err;
	if (proto_words_has(c->mechs, "PLAIN"))
		mech = "PLAIN";
	else if (proto_words_has(c->mechs, "LOGIN"))
		mech = "LOGIN";
	else
		return proto_fail(c, E2_EAUTH,
				  "smtp %s: no AUTH PLAIN or LOGIN offered%s",
				  c->host, c->tls ? "" : " before TLS");
	(void)snprintf(mech_out, mech_len, "AUTH %s", mech);
	/* -v: the initial response and every continuation are secret */
	proto_trace_secret(c, strcmp(mech, "PLAIN") == 0 ? "AUTH PLAIN"
							 : "AUTH LOGIN");
	r = mailesmtp_auth_sasl(c->smtp, mech, c->host, NULL, NULL, l->user,
				l->user, l->secret, NULL);
	proto_trace_secret(c, NULL);
	if (r == MAILSMTP_NO_ERROR)
		return E2_OK;
	if (r == MAILSMTP_ERROR_AUTH_LOGIN ||
	    r == MAILSMTP_ERROR_AUTH_AUTHENTICATION_FAILED ||
	    r == MAILSMTP_ERROR_AUTH_NOT_SUPPORTED ||
	    r == MAILSMTP_ERROR_AUTH_TOO_WEAK ||
	    r == MAILSMTP_ERROR_AUTH_ENCRYPTION_REQUIRED)
		return smtp_cause(c, r, E2_EAUTH, "smtp AUTH rejected by");
	return smtp_cause(c, r, E2_EPROTO, "smtp AUTH at");
}

enum e2_status
proto_smtp_probe(struct proto_conn *c, const char *from, bool required,
		 struct e2_err *err)
{
	const char *text;
	const char *hint;
	char q[160];
	int r, code;

	(void)err;
	if (c->smtp == NULL)
		return E2_OK;
	/* no REPLYADDR (conntest --out): the null sender, RFC 5321 4.5.5 */
	if (from == NULL)
		from = "";
	r = mailsmtp_mail(c->smtp, from);
	if (r == MAILSMTP_NO_ERROR) {
		r = mailsmtp_reset(c->smtp);
		if (r == MAILSMTP_NO_ERROR)
			return E2_OK;
		return smtp_cause(c, r, E2_EPROTO, "smtp RSET at");
	}
	text = c->smtp->response;
	if (r == MAILSMTP_ERROR_MEMORY || text == NULL || text[0] == '\0')
		return smtp_cause(c, r, E2_EPROTO, "smtp MAIL FROM at");
	code = c->smtp->response_code;
	hint = proto_smtp_auth_hint(proto_smtp_auth_class(code, text),
				    required);
	(void)e2_quote_reply(q, sizeof(q), text, strlen(text));
	/* the probe's own MAIL is undone; a dead link fails later anyway */
	(void)mailsmtp_reset(c->smtp);
	if (hint != NULL)
		return proto_fail(c, E2_EAUTH,
				  "smtp MAIL FROM:<%.100s> refused by %s "
				  "without a login: %d %s (%s)",
				  from, c->host, code, q, hint);
	return proto_fail(c, E2_EPROTO,
			  "smtp MAIL FROM:<%.100s> refused by %s: %d %s", from,
			  c->host, code, q);
}

static void
smtp_close(struct proto_conn *c, bool polite)
{
	if (c->smtp == NULL)
		return;
	/*
	 * mailsmtp_free() sends QUIT whenever the stream is open; when not
	 * polite the chain has cancelled the link, so that fails at once.
	 */
	(void)polite;
	mailsmtp_free(c->smtp);
	c->smtp = NULL;
}

const struct proto_ops proto_smtp = {
	.name = "smtp",
	.port_tls = 465,
	.port_plain = 587,
	.guard = GUARD_SMTP,
	.greet = smtp_greet,
	.capabilities = smtp_capabilities,
	.starttls = smtp_starttls,
	.login = smtp_login,
	.close = smtp_close,
};
