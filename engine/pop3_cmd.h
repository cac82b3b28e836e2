/* SPDX-License-Identifier: MIT */
/* pop3_cmd.h -- the POP3 commands email2 speaks itself, on a chain session */
#ifndef E2_POP3_CMD_H
#define E2_POP3_CMD_H

#include "email2.h"

#include <stdbool.h>
#include <stddef.h>

#include <libetpan/libetpan.h>

#include "transports/chain.h"
#include "transports/pop3_list.h"

/*
 * LIST, UIDL, RETR, TOP and DELE over the logged-in session's stream.
 * libetpan 1.9.4's mailpop3_list() indexes its table with the server's
 * numbers and crashes on a gap, a repeat or a 0, and its RETR, TOP and
 * DELE run mailpop3_list() first; so email2 sends these commands itself
 * and parses LIST and UIDL with transports/pop3_list.h. Memory: one reply
 * line and one multi-line answer (a message) at a time. Server text in
 * errors goes through e2_quote().
 */
struct pop3_cmd {
	struct chain_session *sess; /* owned */
	mailpop3 *pop;              /* borrowed from sess */
	struct pop3_list list;      /* LIST and UIDL answers, merged */
	MMAPString *line;           /* a reply line */
	MMAPString *body;           /* a multi-line answer */
};

/*
 * The account's POP3 session, logged in (chain_open(), its pin from st),
 * into *pc (zeroed
 * by the caller). Close it with pop3_cmd_close() even on error.
 * Errors: chain_open()'s, E2_EINVAL (the account is not POP3).
 */
enum e2_status pop3_cmd_open(struct pop3_cmd *pc, struct e2_store *st,
			     const struct e2_account *a,
			     const struct chain_opts *co, struct e2_err *err);
/* QUIT (the server applies the DELEs now) and frees; NULL-safe. */
void pop3_cmd_close(struct pop3_cmd *pc);

/*
 * LIST or UIDL, its answer parsed into pc->list (pop3_list_parse(); at
 * most POP3_LIST_ANSWER_MAX bytes). A server refusing UIDL is E2_EPROTO:
 * without a stable id every sync would download the maildrop again.
 * Errors: E2_EPROTO, E2_EIO (and the transport's codes), E2_ENOMEM.
 */
enum e2_status pop3_cmd_listing(struct pop3_cmd *pc, enum pop3_list_kind kind,
				struct e2_err *err);
/*
 * RETR index, or TOP index lines when lines >= 0: the answer, dot
 * unstuffed; *buf_out is valid until the next command. Errors: as
 * pop3_cmd_listing().
 */
enum e2_status pop3_cmd_content(struct pop3_cmd *pc, unsigned index, long lines,
				const char **buf_out, size_t *len_out,
				struct e2_err *err);
/* DELE index. Errors: as pop3_cmd_listing(). */
enum e2_status pop3_cmd_dele(struct pop3_cmd *pc, unsigned index,
			     struct e2_err *err);

#endif
