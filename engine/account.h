/* SPDX-License-Identifier: MIT */
/* account.h -- struct e2_account from stored nodes, defaults, credentials */
#ifndef E2_ACCOUNT_H
#define E2_ACCOUNT_H

#include "email2.h"
#include "store.h"

/*
 * Builds the typed account from its nodes (as store_node_list() returns
 * them); guid is copied. Values are assumed already validated by the CSP's
 * node table; a value that still does not parse is E2_EINVAL naming the node.
 * Errors: E2_EINVAL, E2_ENOMEM.
 */
enum e2_status account_from_nodes(const char *guid,
				  const struct store_node *nodes, size_t n,
				  struct e2_account **acct_out,
				  struct e2_err *err);

#endif /* E2_ACCOUNT_H */
