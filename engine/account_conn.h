/* SPDX-License-Identifier: MIT */
/* account_conn.h -- an account's side as a plain transport request */
#ifndef E2_ACCOUNT_CONN_H
#define E2_ACCOUNT_CONN_H

#include "email2.h"

#include "transports/chain.h"

/*
 * The one place that turns an account into what transports/chain.h takes:
 * protocol (SERVICETYPE, or SMTP for the outgoing side), host and port
 * (INSERVER/OUTSERVER), whether TLS is required and by which node
 * (TAGPROPS, e2_account_out_tls_required()), the credentials of the side
 * (e2_account_in_creds()/e2_account_out_creds(); the outgoing side logs in
 * only with AUTHREQUIRED), and the TLS policy o (copied) with the account's
 * pin for that host from st (NULL: no pins). Every engine caller of
 * chain_open() (sync, send, fetch-full, e2_conntest_run()) builds its
 * request here.
 * *req_out borrows strings from a: valid while a is.
 * Errors: E2_ESTORE (the pin could not be read; never ignored, a pin that
 * cannot be read must not become "no pin").
 */
enum e2_status
account_chain_request(struct e2_store *st, const struct e2_account *a,
		      enum e2_side side, const struct chain_opts *o,
		      struct chain_request *req_out, struct e2_err *err);

#endif /* E2_ACCOUNT_CONN_H */
