/* SPDX-License-Identifier: MIT */
/* csp_nodes.h -- the EMAIL2 node table, command application, the response */
#ifndef E2_CSP_NODES_H
#define E2_CSP_NODES_H

#include "csp.h"
#include "store.h"

/*
 * One table (csp_nodes.c) describes every node below an account GUID: its
 * name (path below the GUID), whether it is required, the operations it
 * supports and the rule its value follows. csp_apply.c and the response
 * writer read only this table; no node is special-cased elsewhere.
 */

/* Operations, as a bitmask in struct csp_node.ops. */
enum csp_op {
	CSP_OP_GET = 1u << 0,
	CSP_OP_ADD = 1u << 1,
	CSP_OP_REPLACE = 1u << 2,
	CSP_OP_DELETE = 1u << 3,
	/*
	 * Replace allowed only while the node has no value (an implicit
	 * create, as in Microsoft's samples: Add of the GUID, then Replace of
	 * each leaf); a Replace that would change a stored value is 405.
	 * SERVICENAME and SERVICETYPE (spec: "doesn't support Replace").
	 */
	CSP_OP_REPLACE_NEW = 1u << 4,
};

enum csp_value_rule {
	CSP_VALUE_NONE = 0, /* interior node: no value */
	CSP_VALUE_TEXT,     /* any text of at most max_len characters */
	CSP_VALUE_ADDR,     /* local@domain, no spaces or <>, max_len */
	CSP_VALUE_SERVER,   /* e2_server_parse() syntax, max_len */
	CSP_VALUE_WORD,     /* one of words[], case-insensitive */
	CSP_VALUE_NUMSET,   /* a decimal integer in nums[] */
	CSP_VALUE_INT,      /* any decimal integer that fits an int */
	CSP_VALUE_UINT32,   /* decimal or 0x hex, fits uint32 (bitmask) */
	CSP_VALUE_BOOL01,   /* exactly 0 or 1 */
	CSP_VALUE_BOOL,     /* 0, 1, TRUE, FALSE (any case) -> words[0|1] */
};

struct csp_node {
	const char *name; /* below the GUID: "INSERVER", "TAGPROPS/8128000B" */
	bool required;    /* must be present when an Atomic commits */
	unsigned ops;     /* enum csp_op bits */
	enum csp_value_rule rule;
	size_t max_len; /* characters (UTF-8 code points) */
	/*
	 * WORD: the accepted words (stored in this spelling), NULL-ended.
	 * BOOL: { true spelling, false spelling, NULL }.
	 */
	const char *const *words;
	const long *nums; /* NUMSET */
	size_t n_nums;
	bool secret;   /* Get returns CSP_SECRET_MASK; never printed */
	bool interior; /* TAGPROPS: has children, no value */
};

/* What Get returns for a secret node (AUTHSECRET, SMTPALTPASSWORD). */
#define CSP_SECRET_MASK "********"

/* Longest free-text value when the spec gives no limit (characters). */
#define CSP_TEXT_MAX 1024

/* The table, in spec order; *n_out is set to its length. */
const struct csp_node *csp_nodes_table(size_t *n_out);

/* The node named name (path below the GUID), or NULL if EMAIL2 has none. */
const struct csp_node *csp_node_find(const char *name);

/* "Get", "Add", "Replace", "Delete" for one CSP_OP_ bit. */
const char *csp_op_name(unsigned op);

/*
 * Checks value against node's rule and returns in *canon_out the form to
 * store (caller frees, wiping it with OPENSSL_cleanse() for a secret).
 * Leading and trailing ASCII whitespace is trimmed, except for a secret
 * (a password may start or end with a space); control characters are
 * refused everywhere. Words are stored in the table's spelling, numbers in
 * decimal. An empty value is accepted only for optional free-text nodes.
 * Errors: E2_EINVAL naming the node, the value (never a secret's) and the
 * rule; E2_ENOMEM.
 */
enum e2_status csp_node_check_value(const struct csp_node *node,
				    const char *value, char **canon_out,
				    struct e2_err *err);

/* ---- applying a document (csp_apply.c) ----------------------------------- */

/* OMA DM status codes the CSP answers with. */
enum csp_code {
	CSP_CODE_OK = 200,
	CSP_CODE_ROLLED_BACK = 216,   /* Atomic roll back OK */
	CSP_CODE_BAD_REQUEST = 400,   /* bad value, no Target, no Data */
	CSP_CODE_NOT_FOUND = 404,     /* no such node, account or LocURI */
	CSP_CODE_NOT_ALLOWED = 405,   /* the node does not support the op */
	CSP_CODE_NOT_SUPPORTED = 406, /* Exec, Copy, ...: not supported */
	CSP_CODE_EXISTS = 418,        /* Add of something that exists */
	CSP_CODE_FAILED = 500,        /* store failure */
	CSP_CODE_ATOMIC_FAILED = 507, /* the Atomic's own status */
};

/* A node as Get reports it (value masked for secrets, NULL if interior). */
struct csp_result_node {
	char *name;  /* path below the GUID */
	char *value; /* never a secret: CSP_SECRET_MASK instead */
};

/*
 * One Status of the response: for an item command, one per Item (so each
 * has its own TargetRef and code); for Atomic, Sequence or a command with
 * no Item, one for the command. Kept in document order, an Atomic's
 * Status before its children's.
 */
struct csp_status {
	const struct csp_cmd *cmd;   /* borrowed from the csp_doc */
	const struct csp_item *item; /* borrowed; NULL: the command itself */
	int code;                    /* enum csp_code */
	char msg[256];               /* why, when code is not 200 */
	bool consequence; /* 216, or a 507 because a command inside failed */
	/* Get that succeeded: the target and what lies at or below it. */
	bool has_results;
	char guid[64];
	char base[64]; /* node path queried; "" for the GUID itself */
	bool base_interior;
	struct csp_result_node *nodes;
	size_t n_nodes;
};

struct csp_outcome {
	struct csp_status *st;
	size_t n;
	size_t cap;
	size_t failed; /* statuses whose code is not 200 */
	/*
	 * What happened besides the statuses, one line each (an account's
	 * mail and queue removed after its Delete committed, how many
	 * queued messages were dropped); never a secret.
	 */
	char **notes;
	size_t n_notes;
};

/*
 * Runs every command of doc against st, in order (see csp_apply.c for the
 * rules), filling out (which the caller zeroes first and frees with
 * csp_outcome_free(); it borrows doc). Command failures are statuses, not
 * errors. Errors: E2_ENOMEM.
 */
enum e2_status csp_apply_doc(struct e2_store *st, const struct csp_doc *doc,
			     struct csp_outcome *out, struct e2_err *err);
void csp_outcome_free(struct csp_outcome *out);

/* The OMA DM name of a code's meaning, for messages ("Not Found"). */
const char *csp_code_name(int code);

/*
 * Writes the response to doc given its outcome: a SyncML message for
 * SyncML input, a wap-provisioningdoc with the query results for Client
 * Provisioning input. *buf_out is NUL-terminated; caller frees.
 * Errors: E2_ENOMEM.
 */
enum e2_status csp_resp_write(const struct csp_doc *doc,
			      const struct csp_outcome *out, char **buf_out,
			      size_t *len_out, struct e2_err *err);

#endif /* E2_CSP_NODES_H */
