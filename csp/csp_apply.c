/* SPDX-License-Identifier: MIT */
/* csp_apply.c -- runs a csp_doc against the store: Atomic, statuses, Get */
#include "config.h"

#include "csp_nodes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/*
 * The rules (DESIGN.md "CSP rules", spec "EMAIL2 CSP"), and the decisions
 * the spec leaves open; email2-provision(1) lists the same:
 *  - Add and Replace outside an Atomic: 405. Delete and Get may stand
 *    alone; a lone Delete is its own transaction.
 *  - Atomic: all or nothing (a store savepoint). The first failing command
 *    keeps its code; every other command in the Atomic, run before it or
 *    not run after it, gets 216; the Atomic itself 507. Commands after the
 *    failing one are not run. Nested Atomics nest savepoints.
 *  - When the outermost transaction commits, every account it touched must
 *    hold the required nodes and a complete SMTPALT pair (see
 *    csp_apply_check_account); else the Atomic is 507 (a lone Delete: 405).
 *  - Sequence: its commands run in order, each on its own; its own status
 *    is 200.
 *  - Add of the GUID creates the account, 418 if it exists. Add of a leaf
 *    that exists: 418. Add or Replace of a leaf under a missing account or
 *    TAGPROPS creates them (Replace: spec; Add: what Windows does).
 *  - Replace on SERVICENAME/SERVICETYPE: allowed while the node has no
 *    value or is given the value it has, 405 when it would change it.
 *  - A GUID names one account whatever its brace form and letter case
 *    (csp_locuri_parse() returns it upper-case, the store matches any
 *    case): Add of {abc...} when {ABC...} exists is 418; Get, Replace and
 *    Delete find it.
 *  - Delete of the GUID removes the account and its nodes; once the
 *    outermost transaction has committed (never before: a rollback must
 *    find the mail intact), its mail directory <store>/mail/{GUID} (with
 *    the legacy queue .Outbox in it) and its queue <store>/outbox/{GUID}
 *    are removed too -- the spec: "its messages are lost" -- and a note
 *    says how many queued messages were dropped. 404 when absent.
 *    Operations a node lacks: 405.
 *  - The Get mask CSP_SECRET_MASK ("********") as the value of a secret
 *    node (AUTHSECRET, SMTPALTPASSWORD) in Add or Replace means "unchanged":
 *    the stored secret stays, so a document built from Get output can be
 *    applied again. When no secret is stored there is nothing to keep:
 *    400 (never an account whose password is eight asterisks). A password
 *    that really is "********" cannot be provisioned.
 *  - Get of the root: 405 (no enumeration of GUIDs). Get of the GUID or
 *    TAGPROPS: the child names; of a secret: CSP_SECRET_MASK.
 *  - Unknown node or bad LocURI: 404; Item without Target, Data absent on
 *    Add/Replace of a leaf, bad value: 400; Exec, Copy and other commands:
 *    406; store failure: 500.
 */

struct csp_apply {
	struct e2_store *st;
	struct csp_outcome *out;
	unsigned atomic_depth; /* > 0 inside an Atomic */
	unsigned txn_depth;    /* store_begin() nesting */
	char (*touched)[64];   /* accounts changed in the outermost txn */
	size_t n_touched;
	size_t cap_touched;
	/* accounts deleted in the outermost txn: files to remove at commit */
	char (*deleted)[STORE_GUID_MAX];
	size_t n_deleted;
	size_t cap_deleted;
};

static const struct {
	int code;
	const char *name;
} csp_code_names[] = {
	{CSP_CODE_OK, "OK"},
	{CSP_CODE_ROLLED_BACK, "Atomic roll back OK"},
	{CSP_CODE_BAD_REQUEST, "Bad request"},
	{CSP_CODE_NOT_FOUND, "Not found"},
	{CSP_CODE_NOT_ALLOWED, "Command not allowed"},
	{CSP_CODE_NOT_SUPPORTED, "Optional feature not supported"},
	{CSP_CODE_EXISTS, "Already exists"},
	{CSP_CODE_FAILED, "Command failed"},
	{CSP_CODE_ATOMIC_FAILED, "Atomic failed"},
};

const char *
csp_code_name(int code)
{
	for (size_t i = 0;
	     i < sizeof(csp_code_names) / sizeof(csp_code_names[0]); i++)
		if (csp_code_names[i].code == code)
			return csp_code_names[i].name;
	return "Unknown";
}

static void
csp_apply_free_results(struct csp_status *s)
{
	for (size_t i = 0; i < s->n_nodes; i++) {
		free(s->nodes[i].name);
		free(s->nodes[i].value);
	}
	free(s->nodes);
	s->nodes = NULL;
	s->n_nodes = 0;
	s->has_results = false;
}

void
csp_outcome_free(struct csp_outcome *out)
{
	if (out == NULL)
		return;
	for (size_t i = 0; i < out->n; i++)
		csp_apply_free_results(&out->st[i]);
	free(out->st);
	out->st = NULL;
	out->n = out->cap = out->failed = 0;
	for (size_t i = 0; i < out->n_notes; i++)
		free(out->notes[i]);
	free(out->notes);
	out->notes = NULL;
	out->n_notes = 0;
}

static enum e2_status csp_apply_note(struct csp_outcome *out,
				     struct e2_err *err, const char *fmt, ...)
	E2_PRINTF(3, 4);

/* Appends a note (never a secret) to the outcome. */
static enum e2_status
csp_apply_note(struct csp_outcome *out, struct e2_err *err, const char *fmt,
	       ...)
{
	char buf[512];
	char **v;
	va_list va;

	va_start(va, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, va);
	va_end(va);
	v = realloc(out->notes, (out->n_notes + 1) * sizeof(*v));
	if (v == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	out->notes = v;
	v[out->n_notes] = strdup(buf);
	if (v[out->n_notes] == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	out->n_notes++;
	return E2_OK;
}

/* Appends a Status (code 200) for cmd/item; *idx_out is its index. */
static enum e2_status
csp_apply_push(struct csp_apply *ap, const struct csp_cmd *cmd,
	       const struct csp_item *item, size_t *idx_out, struct e2_err *err)
{
	struct csp_outcome *out = ap->out;

	if (out->n == out->cap) {
		size_t ncap = out->cap == 0 ? 16 : out->cap * 2;
		struct csp_status *n = realloc(out->st, ncap * sizeof(*n));

		if (n == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		out->st = n;
		out->cap = ncap;
	}
	memset(&out->st[out->n], 0, sizeof(out->st[out->n]));
	out->st[out->n].cmd = cmd;
	out->st[out->n].item = item;
	out->st[out->n].code = CSP_CODE_OK;
	*idx_out = out->n++;
	return E2_OK;
}

static void csp_apply_set(struct csp_apply *ap, size_t idx, int code,
			  const char *fmt, ...) E2_PRINTF(4, 5);

/* Sets a Status's code and reason (the reason never holds a secret). */
static void
csp_apply_set(struct csp_apply *ap, size_t idx, int code, const char *fmt, ...)
{
	struct csp_status *s = &ap->out->st[idx];
	va_list va;

	s->code = code;
	va_start(va, fmt);
	(void)vsnprintf(s->msg, sizeof(s->msg), fmt, va);
	va_end(va);
}

static enum e2_status
csp_apply_touch(struct csp_apply *ap, const char *guid, struct e2_err *err)
{
	for (size_t i = 0; i < ap->n_touched; i++)
		if (strcmp(ap->touched[i], guid) == 0)
			return E2_OK;
	if (ap->n_touched == ap->cap_touched) {
		size_t ncap = ap->cap_touched == 0 ? 8 : ap->cap_touched * 2;
		char(*n)[64] = realloc(ap->touched, ncap * sizeof(*n));

		if (n == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		ap->touched = n;
		ap->cap_touched = ncap;
	}
	(void)snprintf(ap->touched[ap->n_touched++], 64, "%s", guid);
	return E2_OK;
}

/* Remembers the stored spelling of a deleted account, for its files. */
static enum e2_status
csp_apply_remember_delete(struct csp_apply *ap, const char *stored,
			  struct e2_err *err)
{
	if (ap->n_deleted == ap->cap_deleted) {
		size_t ncap = ap->cap_deleted == 0 ? 4 : ap->cap_deleted * 2;
		char(*n)[STORE_GUID_MAX] =
			realloc(ap->deleted, ncap * sizeof(*n));

		if (n == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		ap->deleted = n;
		ap->cap_deleted = ncap;
	}
	(void)snprintf(ap->deleted[ap->n_deleted++], STORE_GUID_MAX, "%s",
		       stored);
	return E2_OK;
}

/*
 * After the outermost transaction committed: removes the mail directory
 * and the queue of every account it deleted, and notes what was dropped.
 * A removal that fails cannot undo the committed Delete; it becomes a note
 * naming what is left behind. Errors: E2_ENOMEM.
 */
static enum e2_status
csp_apply_remove_deleted(struct csp_apply *ap, struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	for (size_t i = 0; rc == E2_OK && i < ap->n_deleted; i++) {
		const char *g = ap->deleted[i];
		struct e2_err rerr = {0};
		size_t queued = 0;
		bool exists = false;

		/* deleted and added again in the same transaction: the new
		 * account starts empty, the old mail is lost all the same */
		(void)store_account_exists(ap->st, g, &exists, &rerr);
		e2_err_clear(&rerr);
		if (store_is_snapshot(ap->st)) {
			/* a dry run: what a real apply would remove */
			(void)store_account_files_preview(ap->st, g, &queued,
							  &rerr);
			rc = csp_apply_note(
				ap->out, err,
				"account %s: deleted%s; dry run: its mail "
				"directory and queue would be removed, %zu "
				"queued message%s dropped",
				g, exists ? " and created again" : "", queued,
				queued == 1 ? "" : "s");
			continue;
		}
		if (store_account_remove_files(ap->st, g, &queued, &rerr) !=
		    E2_OK)
			rc = csp_apply_note(ap->out, err,
					    "account %s: deleted, but its mail "
					    "and queue were not removed: %s",
					    g, rerr.msg);
		else
			rc = csp_apply_note(
				ap->out, err,
				"account %s: deleted%s; mail directory and "
				"queue removed, %zu queued message%s dropped",
				g, exists ? " and created again" : "", queued,
				queued == 1 ? "" : "s");
	}
	ap->n_deleted = 0;
	return rc;
}

/* The operation bits of a command kind (0 for Atomic, Sequence, unknown). */
static unsigned
csp_apply_op(enum csp_cmd_kind kind)
{
	switch (kind) {
	case CSP_CMD_ADD:
		return CSP_OP_ADD;
	case CSP_CMD_REPLACE:
		return CSP_OP_REPLACE;
	case CSP_CMD_DELETE:
		return CSP_OP_DELETE;
	case CSP_CMD_GET:
		return CSP_OP_GET;
	case CSP_CMD_ATOMIC:
	case CSP_CMD_SEQUENCE:
	case CSP_CMD_UNKNOWN:
		break;
	}
	return 0;
}

/* "Get, Add, Replace, Delete": what a node supports, for a 405 message. */
static void
csp_apply_ops_text(unsigned ops, char *buf, size_t len)
{
	static const unsigned order[] = {CSP_OP_GET, CSP_OP_ADD, CSP_OP_REPLACE,
					 CSP_OP_DELETE};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int w;

		if ((ops & order[i]) == 0)
			continue;
		w = snprintf(buf + o, len - o, "%s%s", o > 0 ? ", " : "",
			     csp_op_name(order[i]));
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/*
 * The commit-time rules for one account: every required node has a value;
 * the SMTPALT credentials are all or nothing. Spec: "If some of the
 * outgoing server credentials parameters are present, then the EMAIL2
 * Configuration Service Provider will be considered in error" -- read as:
 * when SMTPALTENABLED is TRUE or any of SMTPALTAUTHNAME, SMTPALTDOMAIN,
 * SMTPALTPASSWORD is present, SMTPALTAUTHNAME and SMTPALTPASSWORD must
 * both be, non-empty (SMTPALTDOMAIN stays optional, as DOMAIN is for the
 * incoming side). A missing or deleted account passes.
 */
static enum e2_status
csp_apply_check_account(struct csp_apply *ap, const char *guid, char *why,
			size_t whylen, struct e2_err *err)
{
	struct store_node *nodes = NULL;
	size_t n = 0, n_table;
	const struct csp_node *table = csp_nodes_table(&n_table);
	bool exists, enabled = false, alt_any = false;
	bool alt_user = false, alt_pass = false;
	enum e2_status rc;

	why[0] = '\0';
	rc = store_account_exists(ap->st, guid, &exists, err);
	if (rc != E2_OK || !exists)
		return rc;
	rc = store_node_list(ap->st, guid, &nodes, &n, err);
	if (rc != E2_OK)
		return rc;
	for (size_t t = 0; t < n_table && why[0] == '\0'; t++) {
		bool found = false;

		if (!table[t].required)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strcmp(nodes[i].name, table[t].name) == 0 &&
			    nodes[i].value != NULL)
				found = true;
		if (!found)
			(void)snprintf(why, whylen,
				       "account %s: required node %s missing",
				       guid, table[t].name);
	}
	for (size_t i = 0; i < n; i++) {
		const char *nm = nodes[i].name;

		/* an empty credential is no credential */
		if (nodes[i].value == NULL || nodes[i].value[0] == '\0')
			continue;
		if (strcmp(nm, "SMTPALTENABLED") == 0)
			enabled = strcmp(nodes[i].value, "TRUE") == 0;
		if (strcmp(nm, "SMTPALTAUTHNAME") == 0)
			alt_user = alt_any = true;
		if (strcmp(nm, "SMTPALTPASSWORD") == 0)
			alt_pass = alt_any = true;
		if (strcmp(nm, "SMTPALTDOMAIN") == 0)
			alt_any = true;
	}
	if (why[0] == '\0' && (enabled || alt_any) && !(alt_user && alt_pass))
		(void)snprintf(
			why, whylen,
			"account %s: partial SMTPALT credentials: %s "
			"missing (SMTPALTAUTHNAME and SMTPALTPASSWORD "
			"go together)",
			guid, alt_user ? "SMTPALTPASSWORD" : "SMTPALTAUTHNAME");
	store_nodes_free(&nodes, n);
	return E2_OK;
}

/* Checks every touched account; why is "" when all pass. */
static enum e2_status
csp_apply_check_touched(struct csp_apply *ap, char *why, size_t whylen,
			struct e2_err *err)
{
	enum e2_status rc = E2_OK;

	why[0] = '\0';
	for (size_t i = 0; i < ap->n_touched && why[0] == '\0'; i++) {
		rc = csp_apply_check_account(ap, ap->touched[i], why, whylen,
					     err);
		if (rc != E2_OK)
			break;
	}
	return rc;
}

/* Copies a node for a Get result, masking a secret's value. */
static enum e2_status
csp_apply_result_add(struct csp_status *s, const char *name, const char *value,
		     struct e2_err *err)
{
	const struct csp_node *node = csp_node_find(name);
	struct csp_result_node *n;
	struct csp_result_node r = {0};

	if (value != NULL && node != NULL && node->secret)
		value = CSP_SECRET_MASK;
	r.name = strdup(name);
	r.value = value != NULL ? strdup(value) : NULL;
	n = realloc(s->nodes, (s->n_nodes + 1) * sizeof(*n));
	if (r.name == NULL || (value != NULL && r.value == NULL) || n == NULL) {
		free(r.name);
		free(r.value);
		if (n != NULL)
			s->nodes = n;
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	s->nodes = n;
	s->nodes[s->n_nodes++] = r;
	return E2_OK;
}

/*
 * Get of the account (base "") or an interior node: every node at or
 * below base, in the store's (sorted) order.
 */
static enum e2_status
csp_apply_get_tree(struct csp_apply *ap, size_t idx, const char *guid,
		   const char *base, struct e2_err *err)
{
	struct store_node *nodes = NULL;
	size_t n = 0, bl = strlen(base);
	enum e2_status rc;

	rc = store_node_list(ap->st, guid, &nodes, &n, err);
	if (rc != E2_OK)
		return rc;
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		const char *nm = nodes[i].name;

		if (nm[0] == '\0')
			continue;
		if (bl > 0 && !(strncmp(nm, base, bl) == 0 &&
				(nm[bl] == '\0' || nm[bl] == '/')))
			continue;
		rc = csp_apply_result_add(&ap->out->st[idx], nm, nodes[i].value,
					  err);
	}
	store_nodes_free(&nodes, n);
	return rc;
}

/* Creates the account and TAGPROPS when a leaf below them is written. */
static enum e2_status
csp_apply_make_path(struct csp_apply *ap, const char *guid, const char *node,
		    struct e2_err *err)
{
	const char *slash = strchr(node, '/');
	char parent[64];
	bool exists;
	char *v = NULL;
	enum e2_status rc;

	rc = store_account_exists(ap->st, guid, &exists, err);
	if (rc == E2_OK && !exists)
		rc = store_account_create(ap->st, guid, err);
	if (rc != E2_OK || slash == NULL)
		return rc;
	(void)snprintf(parent, sizeof(parent), "%.*s", (int)(slash - node),
		       node);
	rc = store_node_get(ap->st, guid, parent, &exists, &v, err);
	free(v);
	if (rc == E2_OK && !exists)
		rc = store_node_set(ap->st, guid, parent, NULL, err);
	return rc;
}

/* Maps a store failure to a 500 (ENOMEM goes up as an error). */
static enum e2_status
csp_apply_store_failed(struct csp_apply *ap, size_t idx, const char *uri,
		       enum e2_status rc, struct e2_err *serr,
		       struct e2_err *err)
{
	if (rc == E2_ENOMEM)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	csp_apply_set(ap, idx, CSP_CODE_FAILED, "%s: store: %s", uri,
		      serr->msg[0] != '\0' ? serr->msg : e2_status_name(rc));
	return E2_OK;
}

/* Add, Replace, Delete, Get of the account node itself. */
static enum e2_status
csp_apply_guid(struct csp_apply *ap, size_t idx, unsigned op, const char *uri,
	       const char *guid, struct e2_err *serr)
{
	char stored[STORE_GUID_MAX];
	bool exists;
	enum e2_status rc;

	rc = store_account_exists(ap->st, guid, &exists, serr);
	if (rc != E2_OK)
		return rc;
	switch (op) {
	case CSP_OP_GET:
		if (!exists)
			break;
		snprintf(ap->out->st[idx].guid, 64, "%s", guid);
		ap->out->st[idx].base_interior = true;
		ap->out->st[idx].has_results = true;
		return csp_apply_get_tree(ap, idx, guid, "", serr);
	case CSP_OP_ADD:
		if (exists) {
			csp_apply_set(ap, idx, CSP_CODE_EXISTS,
				      "%s: account %s exists already", uri,
				      guid);
			return E2_OK;
		}
		rc = store_account_create(ap->st, guid, serr);
		if (rc == E2_OK)
			rc = csp_apply_touch(ap, guid, serr);
		return rc;
	case CSP_OP_DELETE:
		if (!exists)
			break;
		/* the spelling stored names its directories */
		rc = store_account_find(ap->st, guid, &exists, stored, serr);
		if (rc == E2_OK)
			rc = store_account_delete(ap->st, guid, serr);
		if (rc == E2_OK)
			rc = csp_apply_touch(ap, guid, serr);
		if (rc == E2_OK)
			rc = csp_apply_remember_delete(ap, stored, serr);
		return rc;
	default:
		csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
			      "%s: the account node supports Get, Add, Delete",
			      uri);
		return E2_OK;
	}
	csp_apply_set(ap, idx, CSP_CODE_NOT_FOUND, "%s: no account %s", uri,
		      guid);
	return E2_OK;
}

/* Add, Replace, Delete, Get of a node below the GUID. */
static enum e2_status
csp_apply_node(struct csp_apply *ap, size_t idx, unsigned op,
	       const struct csp_item *item, const struct csp_path *path,
	       struct e2_err *serr)
{
	const char *uri = item->target;
	const struct csp_node *node = csp_node_find(path->node);
	struct csp_status *s;
	char ops[64];
	char *cur = NULL;
	char *canon = NULL;
	bool exists = false, found = false;
	enum e2_status rc = E2_OK;

	if (node == NULL) {
		csp_apply_set(ap, idx, CSP_CODE_NOT_FOUND,
			      "%s: EMAIL2 has no node %s", uri, path->node);
		goto out;
	}
	/* Replace on a REPLACE_NEW node is decided once the value is known */
	if ((node->ops & op) == 0 &&
	    !(op == CSP_OP_REPLACE && (node->ops & CSP_OP_REPLACE_NEW))) {
		csp_apply_ops_text(node->ops, ops, sizeof(ops));
		csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
			      "%s: %s does not support %s (only %s)", uri,
			      node->name, csp_op_name(op), ops);
		goto out;
	}
	if ((op == CSP_OP_ADD || op == CSP_OP_REPLACE) && !node->interior) {
		struct e2_err verr = {0};

		if (item->data == NULL) {
			csp_apply_set(ap, idx, CSP_CODE_BAD_REQUEST,
				      "%s: %s without Data", uri,
				      csp_op_name(op));
			goto out;
		}
		rc = csp_node_check_value(node, item->data, &canon, &verr);
		if (rc == E2_ENOMEM)
			goto out;
		if (rc != E2_OK) {
			rc = E2_OK;
			csp_apply_set(ap, idx, CSP_CODE_BAD_REQUEST, "%s: %s",
				      uri, verr.msg);
			goto out;
		}
	}
	rc = store_account_exists(ap->st, path->guid, &exists, serr);
	if (rc == E2_OK && exists)
		rc = store_node_get(ap->st, path->guid, node->name, &found,
				    &cur, serr);
	if (rc != E2_OK)
		goto out;
	s = &ap->out->st[idx];
	switch (op) {
	case CSP_OP_GET:
		if (!found)
			break;
		snprintf(s->guid, sizeof(s->guid), "%s", path->guid);
		snprintf(s->base, sizeof(s->base), "%s", node->name);
		s->base_interior = node->interior;
		s->has_results = true;
		if (node->interior)
			rc = csp_apply_get_tree(ap, idx, path->guid, node->name,
						serr);
		else
			rc = csp_apply_result_add(s, node->name, cur, serr);
		goto out;
	case CSP_OP_DELETE:
		if (!found)
			break;
		rc = store_node_delete(ap->st, path->guid, node->name, serr);
		if (rc == E2_OK)
			rc = csp_apply_touch(ap, path->guid, serr);
		goto out;
	case CSP_OP_ADD:
	case CSP_OP_REPLACE:
		if (op == CSP_OP_ADD && found) {
			csp_apply_set(ap, idx, CSP_CODE_EXISTS,
				      "%s: %s exists already", uri, node->name);
			goto out;
		}
		/* the Get mask keeps the stored secret (rules above) */
		if (node->secret && strcmp(item->data, CSP_SECRET_MASK) == 0) {
			if (cur == NULL)
				csp_apply_set(ap, idx, CSP_CODE_BAD_REQUEST,
					      "%s: %s \"%s\" is the Get mask, "
					      "which keeps a stored secret, "
					      "and none is stored: give the "
					      "secret itself",
					      uri, node->name, CSP_SECRET_MASK);
			goto out;
		}
		if (op == CSP_OP_REPLACE && (node->ops & CSP_OP_REPLACE) == 0 &&
		    cur != NULL && strcmp(cur, canon) != 0) {
			csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
				      "%s: Replace cannot change %s; delete "
				      "the account and create it again",
				      uri, node->name);
			goto out;
		}
		rc = csp_apply_make_path(ap, path->guid, node->name, serr);
		if (rc == E2_OK && !(node->interior && found))
			rc = store_node_set(ap->st, path->guid, node->name,
					    canon, serr);
		if (rc == E2_OK)
			rc = csp_apply_touch(ap, path->guid, serr);
		goto out;
	default:
		goto out;
	}
	if (!exists)
		csp_apply_set(ap, idx, CSP_CODE_NOT_FOUND, "%s: no account %s",
			      uri, path->guid);
	else
		csp_apply_set(ap, idx, CSP_CODE_NOT_FOUND, "%s: %s not set",
			      uri, node->name);
out:
	if (cur != NULL) {
		OPENSSL_cleanse(cur, strlen(cur));
		free(cur);
	}
	if (canon != NULL) {
		OPENSSL_cleanse(canon, strlen(canon));
		free(canon);
	}
	return rc;
}

/* Runs one item of an Add, Replace, Delete or Get. */
static enum e2_status
csp_apply_item(struct csp_apply *ap, const struct csp_cmd *cmd,
	       const struct csp_item *item, size_t idx, struct e2_err *err)
{
	struct e2_err perr = {0};
	struct e2_err serr = {0};
	struct csp_path path;
	unsigned op = csp_apply_op(cmd->kind);
	enum e2_status rc;

	if (item->target == NULL) {
		csp_apply_set(ap, idx, CSP_CODE_BAD_REQUEST,
			      "%s: Item without Target/LocURI", cmd->name);
		return E2_OK;
	}
	if ((op == CSP_OP_ADD || op == CSP_OP_REPLACE) &&
	    ap->atomic_depth == 0) {
		csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
			      "%s: %s outside Atomic (EMAIL2 requires Add and "
			      "Replace inside an Atomic)",
			      item->target, cmd->name);
		return E2_OK;
	}
	if (csp_locuri_parse(item->target, &path, &perr) != E2_OK) {
		csp_apply_set(ap, idx, CSP_CODE_NOT_FOUND, "%s", perr.msg);
		return E2_OK;
	}
	if (path.depth == 0) {
		csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
			      "%s: %s of the EMAIL2 root is not allowed "
			      "(account GUIDs are not enumerable)",
			      item->target, cmd->name);
		return E2_OK;
	}
	if (path.depth == 1)
		rc = csp_apply_guid(ap, idx, op, item->target, path.guid,
				    &serr);
	else
		rc = csp_apply_node(ap, idx, op, item, &path, &serr);
	if (rc != E2_OK)
		return csp_apply_store_failed(ap, idx, item->target, rc, &serr,
					      err);
	return E2_OK;
}

/* A lone Delete: its own transaction, with the commit-time checks. */
static enum e2_status
csp_apply_lone(struct csp_apply *ap, const struct csp_cmd *cmd,
	       const struct csp_item *item, size_t idx, struct e2_err *err)
{
	struct e2_err serr = {0};
	char why[256] = "";
	enum e2_status rc;

	rc = store_begin(ap->st, &serr);
	if (rc != E2_OK)
		return csp_apply_store_failed(ap, idx, item->target, rc, &serr,
					      err);
	ap->txn_depth++;
	ap->n_touched = 0;
	ap->n_deleted = 0;
	rc = csp_apply_item(ap, cmd, item, idx, err);
	if (rc == E2_OK && ap->out->st[idx].code == CSP_CODE_OK)
		rc = csp_apply_check_touched(ap, why, sizeof(why), &serr);
	if (rc == E2_OK && why[0] != '\0')
		csp_apply_set(ap, idx, CSP_CODE_NOT_ALLOWED,
			      "%s: Delete would leave %s", item->target, why);
	if (rc == E2_OK && ap->out->st[idx].code == CSP_CODE_OK) {
		/* a failed store_commit() has rolled back already */
		rc = store_commit(ap->st, &serr);
		if (rc != E2_OK)
			rc = csp_apply_store_failed(ap, idx, item->target, rc,
						    &serr, err);
		else
			rc = csp_apply_remove_deleted(ap, err);
	} else {
		store_rollback(ap->st);
		if (rc != E2_OK && rc != E2_ENOMEM)
			rc = csp_apply_store_failed(ap, idx, item->target, rc,
						    &serr, err);
	}
	ap->txn_depth--;
	ap->n_touched = 0;
	ap->n_deleted = 0;
	return rc;
}

static enum e2_status csp_apply_cmd(struct csp_apply *ap,
				    const struct csp_cmd *cmd,
				    struct e2_err *err);

/* Statuses for a command that is not run (after a failure in an Atomic). */
static enum e2_status
csp_apply_skip(struct csp_apply *ap, const struct csp_cmd *cmd,
	       struct e2_err *err)
{
	size_t idx;
	enum e2_status rc = E2_OK;

	if (cmd->kind == CSP_CMD_ATOMIC || cmd->kind == CSP_CMD_SEQUENCE ||
	    cmd->kind == CSP_CMD_UNKNOWN || cmd->n_items == 0) {
		rc = csp_apply_push(ap, cmd, NULL, &idx, err);
		for (size_t i = 0; rc == E2_OK && i < cmd->n_children; i++)
			rc = csp_apply_skip(ap, &cmd->children[i], err);
		return rc;
	}
	for (size_t i = 0; rc == E2_OK && i < cmd->n_items; i++)
		rc = csp_apply_push(ap, cmd, &cmd->items[i], &idx, err);
	return rc;
}

static bool
csp_apply_any_failed(const struct csp_apply *ap, size_t from)
{
	for (size_t i = from; i < ap->out->n; i++)
		if (ap->out->st[i].code != CSP_CODE_OK)
			return true;
	return false;
}

/*
 * How a message names a command: "Replace CmdID 14" for SyncML (the
 * user's own CmdIDs); for Client Provisioning, whose CmdIDs are invented,
 * the element in the user's document and its line (the Atomic that holds
 * all its changes is "the document").
 */
static const char *
csp_apply_ref(const struct csp_cmd *cmd, char *buf, size_t len)
{
	if (cmd->path != NULL && cmd->kind == CSP_CMD_ATOMIC)
		(void)snprintf(buf, len, "the document (all or nothing)");
	else if (cmd->path != NULL)
		(void)snprintf(buf, len, "%s (line %ld)", cmd->path, cmd->line);
	else if (cmd->cmdid != NULL)
		(void)snprintf(buf, len, "%s CmdID %s", cmd->name, cmd->cmdid);
	else if (cmd->line > 0)
		(void)snprintf(buf, len, "%s (line %ld)", cmd->name, cmd->line);
	else
		(void)snprintf(buf, len, "%s", cmd->name);
	return buf;
}

static enum e2_status
csp_apply_atomic(struct csp_apply *ap, const struct csp_cmd *cmd,
		 struct e2_err *err)
{
	struct e2_err serr = {0};
	char why[256] = "";
	char ref[160], bref[160];
	const char *cmdid = csp_apply_ref(cmd, ref, sizeof(ref));
	size_t idx, first, deleted_mark;
	bool failed = false, outermost = ap->txn_depth == 0;
	enum e2_status rc;

	rc = csp_apply_push(ap, cmd, NULL, &idx, err);
	if (rc != E2_OK)
		return rc;
	first = ap->out->n;
	if (outermost)
		ap->n_touched = ap->n_deleted = 0;
	/* a rolled-back Atomic deleted nothing */
	deleted_mark = ap->n_deleted;
	if (store_begin(ap->st, &serr) != E2_OK) {
		csp_apply_set(ap, idx, CSP_CODE_FAILED, "%s: store: %s", cmdid,
			      serr.msg);
		for (size_t i = 0; rc == E2_OK && i < cmd->n_children; i++)
			rc = csp_apply_skip(ap, &cmd->children[i], err);
		goto mark;
	}
	ap->txn_depth++;
	ap->atomic_depth++;
	for (size_t i = 0; rc == E2_OK && i < cmd->n_children; i++) {
		if (failed) {
			rc = csp_apply_skip(ap, &cmd->children[i], err);
			continue;
		}
		rc = csp_apply_cmd(ap, &cmd->children[i], err);
		failed = csp_apply_any_failed(ap, first);
	}
	ap->atomic_depth--;
	if (rc == E2_OK && !failed && outermost) {
		rc = csp_apply_check_touched(ap, why, sizeof(why), &serr);
		if (rc == E2_OK && why[0] != '\0') {
			csp_apply_set(ap, idx, CSP_CODE_ATOMIC_FAILED, "%s: %s",
				      cmdid, why);
			failed = true;
		}
		if (rc != E2_OK) {
			rc = csp_apply_store_failed(ap, idx, "Atomic", rc,
						    &serr, err);
			failed = true;
		}
	}
	if (rc == E2_OK && !failed && store_commit(ap->st, &serr) != E2_OK) {
		/* a failed store_commit() has rolled back already */
		csp_apply_set(ap, idx, CSP_CODE_FAILED, "%s: store commit: %s",
			      cmdid, serr.msg);
		ap->n_deleted = deleted_mark;
	} else if (failed || rc != E2_OK) {
		store_rollback(ap->st);
		ap->n_deleted = deleted_mark;
	} else if (outermost) {
		rc = csp_apply_remove_deleted(ap, err);
	}
	ap->txn_depth--;
mark:
	if (outermost)
		ap->n_touched = ap->n_deleted = 0;
	if (rc != E2_OK)
		return rc;
	if (ap->out->st[idx].code == CSP_CODE_OK &&
	    !csp_apply_any_failed(ap, first))
		return E2_OK;
	/* all or nothing: everything that did not fail itself is undone */
	for (size_t i = first; i < ap->out->n; i++) {
		struct csp_status *s = &ap->out->st[i];

		if (s->code != CSP_CODE_OK)
			continue;
		csp_apply_free_results(s);
		csp_apply_set(ap, i, CSP_CODE_ROLLED_BACK,
			      "rolled back: %s failed", cmdid);
		s->consequence = true;
	}
	if (ap->out->st[idx].code == CSP_CODE_OK) {
		const struct csp_status *bad = NULL;

		for (size_t i = first; i < ap->out->n && bad == NULL; i++)
			if (ap->out->st[i].code != CSP_CODE_ROLLED_BACK)
				bad = &ap->out->st[i];
		csp_apply_set(ap, idx, CSP_CODE_ATOMIC_FAILED,
			      "%s: %s failed, nothing applied", cmdid,
			      bad != NULL ? csp_apply_ref(bad->cmd, bref,
							  sizeof(bref))
					  : "a command");
		ap->out->st[idx].consequence = true;
	}
	return E2_OK;
}

static enum e2_status
csp_apply_cmd(struct csp_apply *ap, const struct csp_cmd *cmd,
	      struct e2_err *err)
{
	size_t idx;
	enum e2_status rc = E2_OK;

	switch (cmd->kind) {
	case CSP_CMD_ATOMIC:
		return csp_apply_atomic(ap, cmd, err);
	case CSP_CMD_SEQUENCE:
		/* OMA DM: in order; each command stands on its own */
		rc = csp_apply_push(ap, cmd, NULL, &idx, err);
		for (size_t i = 0; rc == E2_OK && i < cmd->n_children; i++)
			rc = csp_apply_cmd(ap, &cmd->children[i], err);
		return rc;
	case CSP_CMD_UNKNOWN:
		rc = csp_apply_push(ap, cmd, NULL, &idx, err);
		if (rc == E2_OK)
			csp_apply_set(ap, idx, CSP_CODE_NOT_SUPPORTED,
				      "%s: command not supported by EMAIL2",
				      cmd->name);
		return rc;
	case CSP_CMD_ADD:
	case CSP_CMD_REPLACE:
	case CSP_CMD_DELETE:
	case CSP_CMD_GET:
		break;
	}
	if (cmd->n_items == 0) {
		rc = csp_apply_push(ap, cmd, NULL, &idx, err);
		if (rc == E2_OK)
			csp_apply_set(ap, idx, CSP_CODE_BAD_REQUEST,
				      "%s: command without Item", cmd->name);
		return rc;
	}
	for (size_t i = 0; rc == E2_OK && i < cmd->n_items; i++) {
		rc = csp_apply_push(ap, cmd, &cmd->items[i], &idx, err);
		if (rc != E2_OK)
			break;
		if (cmd->kind == CSP_CMD_DELETE && ap->txn_depth == 0)
			rc = csp_apply_lone(ap, cmd, &cmd->items[i], idx, err);
		else
			rc = csp_apply_item(ap, cmd, &cmd->items[i], idx, err);
	}
	return rc;
}

enum e2_status
csp_apply_doc(struct e2_store *st, const struct csp_doc *doc,
	      struct csp_outcome *out, struct e2_err *err)
{
	struct csp_apply ap = {.st = st, .out = out};
	enum e2_status rc = E2_OK;

	for (size_t i = 0; rc == E2_OK && i < doc->n_cmds; i++)
		rc = csp_apply_cmd(&ap, &doc->cmds[i], err);
	free(ap.touched);
	free(ap.deleted);
	out->failed = 0;
	for (size_t i = 0; i < out->n; i++)
		if (out->st[i].code != CSP_CODE_OK)
			out->failed++;
	return rc;
}

/* ---- e2_provision() --------------------------------------------------------
 */

/*
 * Where a failed status's command is in the user's document: "CmdID 14,
 * line 117" (SyncML; the Item's line), "line 9, characteristic[...]/
 * parm[@name=DWNDAY]" (Client Provisioning). Caller frees.
 */
static char *
csp_apply_where(const struct csp_status *s)
{
	const struct csp_cmd *c = s->cmd;
	long line =
		s->item != NULL && s->item->line > 0 ? s->item->line : c->line;
	char buf[512];

	if (c->path != NULL)
		(void)snprintf(buf, sizeof(buf), "line %ld, %s", line, c->path);
	else if (c->cmdid != NULL && line > 0)
		(void)snprintf(buf, sizeof(buf), "CmdID %s, line %ld", c->cmdid,
			       line);
	else if (c->cmdid != NULL)
		(void)snprintf(buf, sizeof(buf), "CmdID %s", c->cmdid);
	else if (line > 0)
		(void)snprintf(buf, sizeof(buf), "line %ld", line);
	else
		buf[0] = '\0';
	return strdup(buf);
}

/* The reason without the "LOCURI: " it starts with when it names one. */
static const char *
csp_apply_why(const struct csp_status *s, const char *reason)
{
	size_t n;

	if (s->item == NULL || s->item->target == NULL)
		return reason;
	n = strlen(s->item->target);
	if (strncmp(reason, s->item->target, n) == 0 && reason[n] == ':' &&
	    reason[n + 1] == ' ' && reason[n + 2] != '\0')
		return reason + n + 2;
	return reason;
}

static enum e2_status
csp_apply_failures(const struct csp_outcome *out,
		   struct e2_provision_result *res, struct e2_err *err)
{
	size_t k = 0;

	if (out->failed == 0)
		return E2_OK;
	res->failures = calloc(out->failed, sizeof(*res->failures));
	if (res->failures == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < out->n; i++) {
		const struct csp_status *s = &out->st[i];
		struct e2_provision_failure *f = &res->failures[k];

		if (s->code == CSP_CODE_OK)
			continue;
		res->n_failures = ++k;
		f->code = s->code;
		f->cmdid = strdup(s->cmd->cmdid != NULL ? s->cmd->cmdid : "");
		f->cmd = strdup(s->cmd->name != NULL ? s->cmd->name : "?");
		f->locuri = s->item != NULL && s->item->target != NULL
				    ? strdup(s->item->target)
				    : NULL;
		f->reason = strdup(s->msg[0] != '\0' ? s->msg
						     : csp_code_name(s->code));
		f->where = csp_apply_where(s);
		f->why = f->reason != NULL ? strdup(csp_apply_why(s, f->reason))
					   : NULL;
		f->consequence = s->consequence;
		if (f->where == NULL || f->why == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		if (f->cmdid == NULL || f->cmd == NULL || f->reason == NULL ||
		    (f->locuri == NULL && s->item != NULL &&
		     s->item->target != NULL))
			return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	return E2_OK;
}

enum e2_status
e2_provision(struct e2_store *st, const char *doc, size_t len,
	     struct e2_provision_result *res_out, struct e2_err *err)
{
	struct csp_doc *d = NULL;
	struct csp_outcome out = {0};
	struct e2_provision_result res = {0};
	enum e2_status rc;

	if (st == NULL || doc == NULL || res_out == NULL)
		return e2_fail(err, E2_EINVAL, "e2_provision: NULL argument");
	rc = csp_doc_parse(doc, len, &d, err);
	if (rc != E2_OK)
		goto out;
	rc = csp_apply_doc(st, d, &out, err);
	if (rc != E2_OK)
		goto out;
	res.kind = d->kind;
	res.commands = out.n;
	res.failed = out.failed;
	rc = csp_resp_write(d, &out, &res.response, &res.response_len, err);
	if (rc == E2_OK)
		rc = csp_apply_failures(&out, &res, err);
	if (rc != E2_OK)
		goto out;
	/* the notes move to the result */
	res.notes = out.notes;
	res.n_notes = out.n_notes;
	out.notes = NULL;
	out.n_notes = 0;
	*res_out = res;
	memset(&res, 0, sizeof(res));
out:
	e2_provision_result_free(&res);
	csp_outcome_free(&out);
	csp_doc_free(&d);
	return rc;
}

/*
 * The dry run (email2-provision --dry-run): the same e2_provision() on an
 * in-memory copy of the store (store_open_snapshot()), so the response is
 * the one a real apply would give at this moment, byte for byte; the only
 * difference is in the notes: a Delete's files are counted, not removed.
 */
enum e2_status
e2_provision_check(const char *store_dir, const char *doc, size_t len,
		   struct e2_provision_result *res_out, struct e2_err *err)
{
	struct e2_store *st = NULL;
	enum e2_status rc;

	if (doc == NULL || res_out == NULL)
		return e2_fail(err, E2_EINVAL,
			       "e2_provision_check: NULL argument");
	rc = store_open_snapshot(store_dir, &st, err);
	if (rc == E2_OK)
		rc = e2_provision(st, doc, len, res_out, err);
	e2_store_close(&st);
	return rc;
}

const struct e2_provision_failure *
e2_provision_first_cause(const struct e2_provision_result *res)
{
	for (size_t i = 0; i < res->n_failures; i++)
		if (!res->failures[i].consequence)
			return &res->failures[i];
	return res->n_failures > 0 ? &res->failures[0] : NULL;
}

void
e2_provision_result_free(struct e2_provision_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_failures; i++) {
		free(res->failures[i].cmdid);
		free(res->failures[i].cmd);
		free(res->failures[i].locuri);
		free(res->failures[i].reason);
		free(res->failures[i].where);
		free(res->failures[i].why);
	}
	free(res->failures);
	for (size_t i = 0; i < res->n_notes; i++)
		free(res->notes[i]);
	free(res->notes);
	free(res->response);
	memset(res, 0, sizeof(*res));
}
