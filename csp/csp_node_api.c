/* SPDX-License-Identifier: MIT */
/*
 * csp_node_api.c -- e2_node_set(), e2_node_delete(), e2_account_delete():
 * nodes set and deleted without building XML
 *
 * Each call builds the command tree a document would parse into (struct
 * csp_doc: an Atomic of Replaces, or a lone Delete) and runs it through
 * csp_apply_doc(), so the node table, value rules, Get mask, commit-time
 * checks, Atomic rollback and the removal of a deleted account's mail and
 * queue are the document's own code, never a second copy of the rules.
 */
#include "config.h"

#include "csp_nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sync.h"

#define CSP_NODE_API_ROOT "./Vendor/MSFT/EMAIL2/"

static void
csp_node_api_items_free(struct csp_item *items, size_t n)
{
	for (size_t i = 0; items != NULL && i < n; i++) {
		free(items[i].target);
		if (items[i].data != NULL) {
			OPENSSL_cleanse(items[i].data, strlen(items[i].data));
			free(items[i].data);
		}
	}
	free(items);
}

/* "./Vendor/MSFT/EMAIL2/<guid>[/<node>]" (caller frees); NULL on OOM. */
static char *
csp_node_api_uri(const char *guid, const char *node)
{
	size_t len = strlen(CSP_NODE_API_ROOT) + strlen(guid) + 2 +
		     (node != NULL ? strlen(node) : 0);
	char *uri = malloc(len);

	if (uri != NULL)
		(void)snprintf(uri, len, "%s%s%s%s", CSP_NODE_API_ROOT, guid,
			       node != NULL ? "/" : "",
			       node != NULL ? node : "");
	return uri;
}

/*
 * The verdict of a run: the first status that is a cause (not 216 or
 * 507), else the first 507 (the commit-time checks), else 200; and the
 * notes (what a Delete removed).
 */
static void
csp_node_api_result(const struct csp_outcome *out, struct e2_node_result *res)
{
	const struct csp_status *cause = NULL, *atomic = NULL;

	memset(res, 0, sizeof(*res));
	res->code = CSP_CODE_OK;
	for (size_t i = 0; i < out->n; i++) {
		const struct csp_status *s = &out->st[i];

		if (s->code == CSP_CODE_OK || s->code == CSP_CODE_ROLLED_BACK)
			continue;
		if (s->code == CSP_CODE_ATOMIC_FAILED) {
			if (atomic == NULL)
				atomic = s;
			continue;
		}
		if (cause == NULL)
			cause = s;
	}
	if (cause == NULL)
		cause = atomic;
	if (cause != NULL) {
		res->code = cause->code;
		(void)snprintf(res->reason, sizeof(res->reason), "%s",
			       cause->msg[0] != '\0'
				       ? cause->msg
				       : csp_code_name(cause->code));
	}
	for (size_t i = 0; i < out->n_notes; i++) {
		size_t o = strlen(res->note);

		(void)snprintf(res->note + o, sizeof(res->note) - o, "%s%s",
			       o > 0 ? "; " : "", out->notes[i]);
	}
}

/* Runs one top-level command (an Atomic or a lone Delete). */
static enum e2_status
csp_node_api_run(struct e2_store *st, struct csp_cmd *top,
		 struct e2_node_result *res_out, struct e2_err *err)
{
	struct csp_doc doc = {0};
	struct csp_outcome out = {0};
	enum e2_status rc;

	doc.kind = E2_DOC_SYNCML;
	doc.cmds = top;
	doc.n_cmds = 1;
	doc.final = true;
	rc = csp_apply_doc(st, &doc, &out, err);
	if (rc == E2_OK)
		csp_node_api_result(&out, res_out);
	csp_outcome_free(&out);
	return rc;
}

enum e2_status
e2_nodes_set(struct e2_store *st, const char *guid,
	     const struct e2_node_value *nodes, size_t n,
	     struct e2_node_result *res_out, struct e2_err *err)
{
	char atomic_name[] = "Atomic", replace_name[] = "Replace";
	char atomic_id[] = "1", replace_id[] = "2";
	struct csp_cmd replace = {0}, atomic = {0};
	struct csp_item *items = NULL;
	enum e2_status rc;

	if (st == NULL || guid == NULL || nodes == NULL || n == 0 ||
	    res_out == NULL)
		return e2_fail(err, E2_EINVAL, "node set: missing argument");
	items = calloc(n, sizeof(*items));
	if (items == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].node == NULL || nodes[i].value == NULL) {
			rc = e2_fail(err, E2_EINVAL,
				     "node set: node %zu without a name or "
				     "value",
				     i);
			goto out;
		}
		items[i].target = csp_node_api_uri(guid, nodes[i].node);
		items[i].data = strdup(nodes[i].value);
		if (items[i].target == NULL || items[i].data == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
	}
	replace.kind = CSP_CMD_REPLACE;
	replace.name = replace_name;
	replace.cmdid = replace_id;
	replace.items = items;
	replace.n_items = n;
	atomic.kind = CSP_CMD_ATOMIC;
	atomic.name = atomic_name;
	atomic.cmdid = atomic_id;
	atomic.children = &replace;
	atomic.n_children = 1;
	rc = csp_node_api_run(st, &atomic, res_out, err);
out:
	csp_node_api_items_free(items, n);
	return rc;
}

enum e2_status
e2_node_set(struct e2_store *st, const char *guid, const char *node,
	    const char *value, struct e2_node_result *res_out,
	    struct e2_err *err)
{
	const struct e2_node_value nv = {.node = node, .value = value};

	return e2_nodes_set(st, guid, &nv, 1, res_out, err);
}

/* A lone Delete of guid's node (NULL: the account itself). */
static enum e2_status
csp_node_api_delete(struct e2_store *st, const char *guid, const char *node,
		    struct e2_node_result *res_out, struct e2_err *err)
{
	char delete_name[] = "Delete", delete_id[] = "1";
	struct csp_cmd del = {0};
	struct csp_item item = {0};
	enum e2_status rc;

	item.target = csp_node_api_uri(guid, node);
	if (item.target == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	del.kind = CSP_CMD_DELETE;
	del.name = delete_name;
	del.cmdid = delete_id;
	del.items = &item;
	del.n_items = 1;
	rc = csp_node_api_run(st, &del, res_out, err);
	free(item.target);
	return rc;
}

enum e2_status
e2_node_delete(struct e2_store *st, const char *guid, const char *node,
	       struct e2_node_result *res_out, struct e2_err *err)
{
	if (st == NULL || guid == NULL || node == NULL || res_out == NULL)
		return e2_fail(err, E2_EINVAL, "node delete: missing argument");
	return csp_node_api_delete(st, guid, node, res_out, err);
}

enum e2_status
e2_account_delete(struct e2_store *st, const char *guid,
		  struct e2_node_result *res_out, struct e2_err *err)
{
	struct csp_path path;
	char stored[STORE_GUID_MAX];
	char *uri = NULL;
	bool found = false, busy = false;
	enum e2_status rc;

	if (st == NULL || guid == NULL || res_out == NULL)
		return e2_fail(err, E2_EINVAL,
			       "account delete: missing argument");
	/*
	 * A running sync would go on writing the rows and files of a
	 * deleted account: refuse before changing anything. (The Delete
	 * itself still leaves the files, with a note, to a sync that
	 * starts in between.)
	 */
	uri = csp_node_api_uri(guid, NULL);
	if (uri == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = csp_locuri_parse(uri, &path, NULL);
	free(uri);
	if (rc == E2_OK && path.depth == 1) {
		rc = store_account_find(st, path.guid, &found, stored, err);
		if (rc != E2_OK)
			return rc;
		if (found) {
			rc = sync_busy(st, stored, &busy, err);
			if (rc != E2_OK)
				return rc;
		}
		if (busy)
			return e2_fail(err, E2_EBUSY,
				       "account %s: a sync of the account is "
				       "running; delete it when the sync ends",
				       stored);
	}
	return csp_node_api_delete(st, guid, NULL, res_out, err);
}

void
e2_account_nodes_free(struct e2_node_item **nodes, size_t n)
{
	if (nodes == NULL || *nodes == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*nodes)[i].node);
		free((*nodes)[i].value);
	}
	free(*nodes);
	*nodes = NULL;
}

enum e2_status
e2_account_nodes(struct e2_store *st, const char *guid,
		 struct e2_node_item **nodes_out, size_t *n_out,
		 struct e2_node_result *res_out, struct e2_err *err)
{
	char get_name[] = "Get", get_id[] = "1";
	struct csp_cmd get = {0};
	struct csp_item item = {0};
	struct csp_doc doc = {0};
	struct csp_outcome out = {0};
	struct e2_node_item *v = NULL;
	size_t n = 0;
	enum e2_status rc;

	if (st == NULL || guid == NULL || nodes_out == NULL || n_out == NULL ||
	    res_out == NULL)
		return e2_fail(err, E2_EINVAL,
			       "account nodes: missing argument");
	item.target = csp_node_api_uri(guid, NULL);
	if (item.target == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	get.kind = CSP_CMD_GET;
	get.name = get_name;
	get.cmdid = get_id;
	get.items = &item;
	get.n_items = 1;
	doc.kind = E2_DOC_SYNCML;
	doc.cmds = &get;
	doc.n_cmds = 1;
	doc.final = true;
	/* the Get of the account: the path that masks secrets for documents */
	rc = csp_apply_doc(st, &doc, &out, err);
	if (rc != E2_OK)
		goto out;
	csp_node_api_result(&out, res_out);
	if (out.n == 1 && out.st[0].has_results && out.st[0].n_nodes > 0) {
		const struct csp_status *s = &out.st[0];

		v = calloc(s->n_nodes, sizeof(*v));
		if (v == NULL) {
			rc = e2_fail(err, E2_ENOMEM, "out of memory");
			goto out;
		}
		for (n = 0; n < s->n_nodes; n++) {
			v[n].node = strdup(s->nodes[n].name);
			v[n].value = s->nodes[n].value != NULL
					     ? strdup(s->nodes[n].value)
					     : NULL;
			if (v[n].node == NULL ||
			    (s->nodes[n].value != NULL && v[n].value == NULL)) {
				n++;
				rc = e2_fail(err, E2_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	*nodes_out = v;
	*n_out = n;
	v = NULL;
out:
	e2_account_nodes_free(&v, n);
	csp_outcome_free(&out);
	free(item.target);
	return rc;
}
