/* SPDX-License-Identifier: MIT */
/* pop3_cmd.c -- the POP3 commands email2 speaks itself (see pop3_cmd.h) */
#include "config.h"

#include "pop3_cmd.h"
#include "sync.h"

#include "engine/account_conn.h"

#include <stdio.h>
#include <string.h>

static enum e2_status
pop3_cmd_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

static enum e2_status
pop3_cmd_fail(struct pop3_cmd *pc, int code, const char *what,
	      struct e2_err *err)
{
	return sync_cmd_fail(pc->sess, "pop3", what, code,
			     code == MAILPOP3_ERROR_STREAM,
			     pc->pop->pop3_response, err);
}

enum e2_status
pop3_cmd_open(struct pop3_cmd *pc, struct e2_store *st,
	      const struct e2_account *a, const struct chain_opts *co,
	      struct e2_err *err)
{
	struct e2_side_report rep;
	struct chain_request req;
	enum e2_status rc;

	rc = account_chain_request(st, a, E2_SIDE_IN, co, &req, err);
	if (rc == E2_OK)
		rc = chain_open(&req, &pc->sess, &rep, err);
	if (rc != E2_OK)
		return rc;
	pc->pop = chain_session_pop3(pc->sess);
	if (pc->pop == NULL)
		return e2_fail(err, E2_EINVAL, "account is not POP3");
	return E2_OK;
}

void
pop3_cmd_close(struct pop3_cmd *pc)
{
	if (pc == NULL)
		return;
	chain_session_free(&pc->sess);
	pc->pop = NULL;
	if (pc->line != NULL)
		mmap_string_free(pc->line);
	if (pc->body != NULL)
		mmap_string_free(pc->body);
	pc->line = pc->body = NULL;
	pop3_list_free(&pc->list);
}

/*
 * Sends cmd (CRLF added) and reads the status line into pc->line;
 * *ok_out: it was "+OK". Errors: E2_EIO (and the transport's codes),
 * E2_ENOMEM.
 */
static enum e2_status
pop3_cmd_send(struct pop3_cmd *pc, const char *what, const char *cmd,
	      bool *ok_out, struct e2_err *err)
{
	mailstream *s = pc->pop->pop3_stream;
	size_t len = strlen(cmd);

	*ok_out = false;
	if (pc->line == NULL && (pc->line = mmap_string_new("")) == NULL)
		return pop3_cmd_oom(err);
	if (pc->body == NULL && (pc->body = mmap_string_new("")) == NULL)
		return pop3_cmd_oom(err);
	if (mailstream_write(s, cmd, len) != (ssize_t)len ||
	    mailstream_write(s, "\r\n", 2) != 2 || mailstream_flush(s) < 0 ||
	    mailstream_read_line_remove_eol(s, pc->line) == NULL)
		return pop3_cmd_fail(pc, MAILPOP3_ERROR_STREAM, what, err);
	*ok_out = strncmp(pc->line->str, "+OK", 3) == 0;
	return E2_OK;
}

/* The server's refusal in pc->line as E2_EPROTO. */
static enum e2_status
pop3_cmd_refused(struct pop3_cmd *pc, const char *what, struct e2_err *err)
{
	char quoted[160];

	(void)e2_quote_reply(quoted, sizeof(quoted), pc->line->str,
			     pc->line->len);
	return e2_fail(err, E2_EPROTO, "pop3 %s refused: %s", what, quoted);
}

enum e2_status
pop3_cmd_listing(struct pop3_cmd *pc, enum pop3_list_kind kind,
		 struct e2_err *err)
{
	const char *what = kind == POP3_LIST_LIST ? "LIST" : "UIDL";
	mailstream *s = pc->pop->pop3_stream;
	enum e2_status rc;
	bool ok = false;

	rc = pop3_cmd_send(pc, what, what, &ok, err);
	if (rc != E2_OK)
		return rc;
	if (!ok && kind == POP3_LIST_UIDL)
		return e2_fail(err, E2_EPROTO,
			       "pop3 server does not support UIDL: refusing to "
			       "sync (every sync would download the maildrop "
			       "again)");
	if (!ok)
		return pop3_cmd_refused(pc, what, err);
	if (mmap_string_assign(pc->body, "") == NULL)
		return pop3_cmd_oom(err);
	/* the raw lines (CRLF and byte stuffing included) for the parser */
	for (;;) {
		const char *l = mailstream_read_line(s, pc->line);

		if (l == NULL)
			return pop3_cmd_fail(pc, MAILPOP3_ERROR_STREAM, what,
					     err);
		if (pc->body->len + pc->line->len > POP3_LIST_ANSWER_MAX)
			return e2_fail(err, E2_EPROTO,
				       "pop3 %s answer longer than %u bytes",
				       what, POP3_LIST_ANSWER_MAX);
		if (mmap_string_append_len(pc->body, pc->line->str,
					   pc->line->len) == NULL)
			return pop3_cmd_oom(err);
		if (strcmp(l, ".\r\n") == 0 || strcmp(l, ".\n") == 0)
			break;
	}
	return pop3_list_parse(kind, pc->body->str, pc->body->len, &pc->list,
			       err);
}

enum e2_status
pop3_cmd_content(struct pop3_cmd *pc, unsigned index, long lines,
		 const char **buf_out, size_t *len_out, struct e2_err *err)
{
	const char *what = lines >= 0 ? "TOP" : "RETR";
	char cmd[64];
	enum e2_status rc;
	bool ok = false;

	if (lines >= 0)
		(void)snprintf(cmd, sizeof(cmd), "TOP %u %ld", index, lines);
	else
		(void)snprintf(cmd, sizeof(cmd), "RETR %u", index);
	rc = pop3_cmd_send(pc, what, cmd, &ok, err);
	if (rc != E2_OK)
		return rc;
	if (!ok)
		return pop3_cmd_refused(pc, what, err);
	if (mailstream_read_multiline(pc->pop->pop3_stream, 0, pc->line,
				      pc->body, 0, NULL, NULL, NULL) == NULL)
		return pop3_cmd_fail(pc, MAILPOP3_ERROR_STREAM, what, err);
	*buf_out = pc->body->str;
	*len_out = pc->body->len;
	return E2_OK;
}

enum e2_status
pop3_cmd_dele(struct pop3_cmd *pc, unsigned index, struct e2_err *err)
{
	char cmd[32];
	enum e2_status rc;
	bool ok = false;

	(void)snprintf(cmd, sizeof(cmd), "DELE %u", index);
	rc = pop3_cmd_send(pc, "DELE", cmd, &ok, err);
	if (rc == E2_OK && !ok)
		rc = pop3_cmd_refused(pc, "DELE", err);
	return rc;
}
