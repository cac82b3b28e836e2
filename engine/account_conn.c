/* SPDX-License-Identifier: MIT */
/* account_conn.c -- an account's side as a plain transport request */
#include "config.h"

#include "engine/account_conn.h"

#include <string.h>

/* "0123456789ABCDEF" digit value of an upper-case hex character. */
static unsigned
account_conn_hex(char c)
{
	return c >= 'A' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - '0');
}

enum e2_status
account_chain_request(struct e2_store *st, const struct e2_account *a,
		      enum e2_side side, const struct chain_opts *o,
		      struct chain_request *req_out, struct e2_err *err)
{
	const struct e2_server *srv = side == E2_SIDE_IN ? &a->in : &a->out;
	struct chain_request req = {0};
	struct e2_creds cr = side == E2_SIDE_IN ? e2_account_in_creds(a)
						: e2_account_out_creds(a);
	char fp[72];
	bool found = false;
	enum e2_status rc;

	req.proto = side == E2_SIDE_OUT             ? CHAIN_PROTO_SMTP
		    : a->service == E2_SERVICE_POP3 ? CHAIN_PROTO_POP3
						    : CHAIN_PROTO_IMAP4;
	req.host = srv->host;
	req.port = srv->port;
	req.host_node = side == E2_SIDE_IN ? "INSERVER" : "OUTSERVER";
	/* e2_account_out_tls_required(): the shared password keeps 8128000B */
	if (side == E2_SIDE_IN) {
		req.tls_required = a->in_ssl_required;
		req.tls_node = "TAGPROPS/8128000B";
	} else {
		req.tls_required =
			e2_account_out_tls_required(a, &req.tls_node);
	}
	/* spec: the outgoing side logs in only with AUTHREQUIRED */
	req.auth = side == E2_SIDE_IN || a->authrequired;
	req.user = cr.user;
	req.domain = cr.domain;
	req.secret = cr.secret;
	req.probe_from = a->replyaddr;
	req.o = *o;
	req.o.pinned = false;
	if (st != NULL && a->guid != NULL && srv->host != NULL) {
		rc = e2_pin_get(st, a->guid, srv->host, fp, NULL, &found, err);
		if (rc != E2_OK)
			return rc;
	}
	if (found) {
		/* e2_pin_get() checked the form: "SHA256:" and 64 hex */
		for (size_t i = 0; i < XPORT_SHA256_LEN; i++)
			req.o.pin[i] =
				(unsigned char)(account_conn_hex(fp[7 + 2 * i])
							<< 4 |
						account_conn_hex(
							fp[8 + 2 * i]));
		req.o.pinned = true;
	}
	*req_out = req;
	return E2_OK;
}
