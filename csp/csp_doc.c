/* SPDX-License-Identifier: MIT */
/* csp_doc.c -- untrusted SyncML / Client Provisioning XML to a command tree */
#include "config.h"

#include "csp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "transports/xml_read.h"

/*
 * What is read, and the decisions where the specs leave room:
 *
 * SyncML (OMA DM 1.1/1.2, root "SyncML" with or without a namespace):
 * elements are matched by local name, case-sensitively, whatever their
 * namespace ("SYNCML:SYNCML1.2", "syncml:metinf" or none).
 *   SyncHdr   VerDTD, VerProto, SessionID, MsgID, Target/LocURI,
 *             Source/LocURI (optional; fields NULL when absent)
 *   SyncBody  required; its children are commands, except Final
 *   command   Atomic and Sequence (nest freely), Add, Replace, Delete, Get;
 *             anything else (Exec, Copy, Alert, Status, ...) is
 *             CSP_CMD_UNKNOWN with its name and CmdID and no items
 *   Item      Target/LocURI, Meta/Format, Meta/Type, Data
 * Identifier texts (SyncHdr fields, CmdID, LocURI, Format, Type) are
 * trimmed of XML white space at both ends; Data is verbatim (CDATA
 * included) and NULL only when the element is absent. An Item without
 * Target has target NULL: that is for the applier to answer, not an error
 * here. Items inherit the command-level Meta/Format and Meta/Type when they
 * have none of their own, so item->format is the effective format.
 * A second CmdID, Meta, Target, Data, Format or Type where one is allowed,
 * and element children inside a text field, are errors: a document that
 * two readers could understand differently is refused.
 *
 * Client Provisioning (root "wap-provisioningdoc", or a bare
 * characteristic type="EMAIL2") becomes the tree csp.h describes. The
 * translation is generic: a LocURI is "./Vendor/MSFT/EMAIL2" followed by
 * the type of every enclosing characteristic below EMAIL2 and the parm
 * name, all as written (csp_locuri_parse() judges them):
 *   parm name="N" value="V"       Replace .../N with data V ("" when the
 *                                 value attribute is absent)
 *   noparm name="N"               Delete .../N
 *   parm-query name="N"           Get .../N
 *   characteristic type="T"       descends into .../T
 *   nocharacteristic type="T"     Delete .../T (T = {GUID} deletes an
 *                                 account, T = TAGPROPS its tags)
 *   characteristic-query type="T" Get .../T
 * Replaces and Deletes form one Atomic (left out when there is none);
 * Gets follow it in document order. CmdIDs are "1", "2", ... in the order
 * of the tree (the Atomic first). Top-level characteristics other than
 * EMAIL2 are ignored; so are unknown elements.
 *
 * Hardening: a size cap (CSP_MAX_DOC); the bytes are read as every XML
 * input is (transports/xml_read.c: no network, no DTD loading, no entity
 * substitution, any ENTITY declaration refused); entity references left
 * in the tree, text or attribute values with control characters (C0 but
 * tab, CR and LF; DEL; C1), nesting deeper than CSP_DOC_MAX_DEPTH and more
 * than CSP_DOC_MAX_NODES commands and items are refused.
 */

#define CSP_DOC_MAX_DEPTH 32      /* element nesting, the root is 1 */
#define CSP_DOC_MAX_NODES 100000u /* commands plus items */
#define CSP_DOC_EMAIL2_ROOT "./Vendor/MSFT/EMAIL2"
#define CSP_DOC_CP_EMAIL2 "characteristic[@type=EMAIL2]"

struct csp_doc_ctx {
	struct e2_err *err;
	size_t n_nodes;
};

/* Client Provisioning: the Atomic being built and the Gets after it. */
struct csp_doc_cp {
	struct csp_cmd atomic;
	struct csp_cmd *gets;
	size_t n_gets;
};

static enum e2_status csp_doc_parse_cmd(struct csp_doc_ctx *ctx, xmlNode *el,
					struct csp_cmd *cmd_out);
static void csp_doc_cmd_clear(struct csp_cmd *cmd);

static enum e2_status csp_doc_fail_at(struct csp_doc_ctx *ctx,
				      const xmlNode *node, const char *fmt, ...)
	E2_PRINTF(3, 4);

/* Records "line N: <message>" as E2_EINVAL. */
static enum e2_status
csp_doc_fail_at(struct csp_doc_ctx *ctx, const xmlNode *node, const char *fmt,
		...)
{
	char msg[224];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return e2_fail(ctx->err, E2_EINVAL, "line %ld: %s", xmlGetLineNo(node),
		       msg);
}

static enum e2_status
csp_doc_nomem(struct csp_doc_ctx *ctx)
{
	return e2_fail(ctx->err, E2_ENOMEM, "out of memory parsing document");
}

static bool
csp_doc_is(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && node->name != NULL &&
	       strcmp((const char *)node->name, name) == 0;
}

/* The element name, quoted for a message. */
static const char *
csp_doc_qname(const xmlNode *node, char *buf, size_t size)
{
	const char *n = node->name != NULL ? (const char *)node->name : "";

	return e2_quote(buf, size, n, strlen(n));
}

static bool
csp_doc_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * C0 controls but tab, CR and LF; DEL; C1 controls (U+0080..U+009F, UTF-8
 * 0xC2 0x80..0x9F). libxml2 hands us UTF-8 whatever the input encoding.
 */
static bool
csp_doc_has_control(const xmlChar *s)
{
	for (size_t i = 0; s != NULL && s[i] != '\0'; i++) {
		unsigned char c = s[i];

		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f)
			return true;
		if (c == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

static char *
csp_doc_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* "a" + "/" + "b" in a new string, or NULL on OOM. */
static char *
csp_doc_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	char *d = malloc(la + 1 + lb + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, a, la);
	d[la] = '/';
	memcpy(d + la + 1, b, lb);
	d[la + 1 + lb] = '\0';
	return d;
}

/*
 * Grows *arr (n elements of size each) so that one more fits. The capacity
 * is implicit: the smallest power of two >= n, at least 4.
 */
static bool
csp_doc_grow(void **arr, size_t n, size_t size)
{
	void *p;
	size_t cap;

	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return true;
	cap = n == 0 ? 4 : 2 * n;
	p = realloc(*arr, cap * size);
	if (p == NULL)
		return false;
	*arr = p;
	return true;
}

static enum e2_status
csp_doc_count(struct csp_doc_ctx *ctx, const xmlNode *node)
{
	if (++ctx->n_nodes > CSP_DOC_MAX_NODES)
		return csp_doc_fail_at(ctx, node,
				       "more than %u commands and items",
				       CSP_DOC_MAX_NODES);
	return E2_OK;
}

/*
 * The text of el: its text and CDATA children concatenated (comments and
 * processing instructions skipped), trimmed when trim is set. An element
 * child makes it an error. *out must be NULL on entry (a second occurrence
 * of the field is an error). Caller frees.
 */
static enum e2_status
csp_doc_text(struct csp_doc_ctx *ctx, const xmlNode *el, bool trim, char **out)
{
	char q[64];
	size_t len = 0;
	size_t start;
	char *s;

	if (*out != NULL)
		return csp_doc_fail_at(ctx, el, "second <%s> element",
				       csp_doc_qname(el, q, sizeof(q)));
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			return csp_doc_fail_at(ctx, c,
					       "<%s> must hold text only",
					       csp_doc_qname(el, q, sizeof(q)));
		if ((c->type == XML_TEXT_NODE ||
		     c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL)
			len += strlen((const char *)c->content);
	}
	s = malloc(len + 1);
	if (s == NULL)
		return csp_doc_nomem(ctx);
	len = 0;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if ((c->type == XML_TEXT_NODE ||
		     c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL) {
			size_t n = strlen((const char *)c->content);

			memcpy(s + len, c->content, n);
			len += n;
		}
	}
	s[len] = '\0';
	if (trim) {
		start = 0;
		while (start < len && csp_doc_is_space(s[start]))
			start++;
		while (len > start && csp_doc_is_space(s[len - 1]))
			len--;
		memmove(s, s + start, len - start);
		s[len - start] = '\0';
	}
	*out = s;
	return E2_OK;
}

/* Target/LocURI or Source/LocURI: the trimmed LocURI text, or NULL. */
static enum e2_status
csp_doc_locuri(struct csp_doc_ctx *ctx, const xmlNode *el, char **out)
{
	char *uri = NULL;
	enum e2_status rc = E2_OK;
	char q[64];

	if (*out != NULL)
		return csp_doc_fail_at(ctx, el, "second <%s> element",
				       csp_doc_qname(el, q, sizeof(q)));
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (csp_doc_is(c, "LocURI")) {
			rc = csp_doc_text(ctx, c, true, &uri);
			if (rc != E2_OK)
				break;
		}
	}
	if (rc != E2_OK) {
		free(uri);
		return rc;
	}
	*out = uri;
	return E2_OK;
}

/* Meta: Format and Type, in the syncml:metinf namespace or none. */
static enum e2_status
csp_doc_meta(struct csp_doc_ctx *ctx, const xmlNode *el, char **format,
	     char **type)
{
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		if (csp_doc_is(c, "Format"))
			rc = csp_doc_text(ctx, c, true, format);
		else if (csp_doc_is(c, "Type"))
			rc = csp_doc_text(ctx, c, true, type);
	}
	return rc;
}

/* ---- the tree walk: what no document may contain ------------------------- */

static enum e2_status
csp_doc_check_tree(struct csp_doc_ctx *ctx, const xmlNode *node, int depth)
{
	char q[64];
	enum e2_status rc;

	if (depth > CSP_DOC_MAX_DEPTH)
		return csp_doc_fail_at(ctx, node,
				       "elements nested deeper than %d",
				       CSP_DOC_MAX_DEPTH);
	for (const xmlAttr *a = node->properties; a != NULL; a = a->next) {
		for (const xmlNode *t = a->children; t != NULL; t = t->next) {
			if (t->type == XML_ENTITY_REF_NODE)
				return csp_doc_fail_at(
					ctx, node,
					"entity reference in attribute \"%s\"",
					csp_doc_qname((const xmlNode *)a, q,
						      sizeof(q)));
			if (csp_doc_has_control(t->content))
				return csp_doc_fail_at(
					ctx, node,
					"control character in attribute \"%s\"",
					csp_doc_qname((const xmlNode *)a, q,
						      sizeof(q)));
		}
	}
	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		switch (c->type) {
		case XML_ELEMENT_NODE:
			rc = csp_doc_check_tree(ctx, c, depth + 1);
			if (rc != E2_OK)
				return rc;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (csp_doc_has_control(c->content))
				return csp_doc_fail_at(
					ctx, node,
					"control character in <%s> text",
					csp_doc_qname(node, q, sizeof(q)));
			break;
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break;
		case XML_ENTITY_REF_NODE:
			return csp_doc_fail_at(
				ctx, node, "entity reference &%s; is refused",
				csp_doc_qname(c, q, sizeof(q)));
		default:
			return csp_doc_fail_at(ctx, node,
					       "unexpected XML node type %d",
					       (int)c->type);
		}
	}
	return E2_OK;
}

/* ---- SyncML -----------------------------------------------------------------
 */

static void
csp_doc_item_clear(struct csp_item *item)
{
	free(item->target);
	free(item->format);
	free(item->type);
	free(item->data);
	memset(item, 0, sizeof(*item));
}

static void
csp_doc_cmd_clear(struct csp_cmd *cmd)
{
	for (size_t i = 0; i < cmd->n_items; i++)
		csp_doc_item_clear(&cmd->items[i]);
	for (size_t i = 0; i < cmd->n_children; i++)
		csp_doc_cmd_clear(&cmd->children[i]);
	free(cmd->items);
	free(cmd->children);
	free(cmd->name);
	free(cmd->cmdid);
	free(cmd->format);
	free(cmd->path);
	memset(cmd, 0, sizeof(*cmd));
}

static enum e2_status
csp_doc_parse_item(struct csp_doc_ctx *ctx, const xmlNode *el,
		   struct csp_item *item_out)
{
	struct csp_item item = {0};
	char *source = NULL;
	bool meta_seen = false;
	enum e2_status rc;

	rc = csp_doc_count(ctx, el);
	item.line = xmlGetLineNo(el);
	for (const xmlNode *c = el->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		if (csp_doc_is(c, "Target")) {
			rc = csp_doc_locuri(ctx, c, &item.target);
		} else if (csp_doc_is(c, "Source")) {
			rc = csp_doc_locuri(ctx, c, &source);
		} else if (csp_doc_is(c, "Data")) {
			rc = csp_doc_text(ctx, c, false, &item.data);
		} else if (csp_doc_is(c, "Meta")) {
			if (meta_seen)
				rc = csp_doc_fail_at(ctx, c,
						     "second <Meta> in Item");
			meta_seen = true;
			if (rc == E2_OK)
				rc = csp_doc_meta(ctx, c, &item.format,
						  &item.type);
		}
	}
	free(source);
	if (rc != E2_OK) {
		csp_doc_item_clear(&item);
		return rc;
	}
	*item_out = item;
	return E2_OK;
}

static const struct {
	const char *name;
	enum csp_cmd_kind kind;
} csp_doc_cmd_names[] = {
	{"Atomic", CSP_CMD_ATOMIC}, {"Sequence", CSP_CMD_SEQUENCE},
	{"Add", CSP_CMD_ADD},       {"Replace", CSP_CMD_REPLACE},
	{"Delete", CSP_CMD_DELETE}, {"Get", CSP_CMD_GET},
};

static enum csp_cmd_kind
csp_doc_cmd_kind(const xmlNode *el)
{
	for (size_t i = 0;
	     i < sizeof(csp_doc_cmd_names) / sizeof(csp_doc_cmd_names[0]);
	     i++) {
		if (csp_doc_is(el, csp_doc_cmd_names[i].name))
			return csp_doc_cmd_names[i].kind;
	}
	return CSP_CMD_UNKNOWN;
}

/* Elements inside a command that are not commands or items themselves. */
static bool
csp_doc_is_cmd_field(const xmlNode *el)
{
	static const char *const fields[] = {"CmdID", "Meta", "NoResp", "Cred",
					     "Item"};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (csp_doc_is(el, fields[i]))
			return true;
	}
	return false;
}

/* Appends a copy of *cmd (its contents now owned by the array). */
static enum e2_status
csp_doc_append_cmd(struct csp_doc_ctx *ctx, struct csp_cmd **arr, size_t *n,
		   struct csp_cmd *cmd)
{
	void *p = *arr;

	if (!csp_doc_grow(&p, *n, sizeof(**arr)))
		return csp_doc_nomem(ctx);
	*arr = p;
	(*arr)[(*n)++] = *cmd;
	memset(cmd, 0, sizeof(*cmd));
	return E2_OK;
}

static enum e2_status
csp_doc_append_item(struct csp_doc_ctx *ctx, struct csp_cmd *cmd,
		    struct csp_item *item)
{
	void *p = cmd->items;

	if (!csp_doc_grow(&p, cmd->n_items, sizeof(*cmd->items)))
		return csp_doc_nomem(ctx);
	cmd->items = p;
	cmd->items[cmd->n_items++] = *item;
	memset(item, 0, sizeof(*item));
	return E2_OK;
}

/* Items without their own Meta/Format or Meta/Type take the command's. */
static enum e2_status
csp_doc_inherit_meta(struct csp_doc_ctx *ctx, struct csp_cmd *cmd,
		     const char *type)
{
	for (size_t i = 0; i < cmd->n_items; i++) {
		struct csp_item *it = &cmd->items[i];

		if (it->format == NULL && cmd->format != NULL) {
			it->format = csp_doc_strdup(cmd->format);
			if (it->format == NULL)
				return csp_doc_nomem(ctx);
		}
		if (it->type == NULL && type != NULL) {
			it->type = csp_doc_strdup(type);
			if (it->type == NULL)
				return csp_doc_nomem(ctx);
		}
	}
	return E2_OK;
}

static enum e2_status
csp_doc_parse_cmd(struct csp_doc_ctx *ctx, xmlNode *el, struct csp_cmd *cmd_out)
{
	struct csp_cmd cmd = {0};
	struct csp_cmd child = {0};
	struct csp_item item = {0};
	char *type = NULL;
	bool meta_seen = false;
	bool container;
	enum e2_status rc;

	cmd.kind = csp_doc_cmd_kind(el);
	cmd.line = xmlGetLineNo(el);
	container = cmd.kind == CSP_CMD_ATOMIC || cmd.kind == CSP_CMD_SEQUENCE;
	rc = csp_doc_count(ctx, el);
	if (rc != E2_OK)
		goto out;
	cmd.name = csp_doc_strdup((const char *)el->name);
	if (cmd.name == NULL) {
		rc = csp_doc_nomem(ctx);
		goto out;
	}
	for (xmlNode *c = el->children; c != NULL && rc == E2_OK; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (csp_doc_is(c, "CmdID")) {
			rc = csp_doc_text(ctx, c, true, &cmd.cmdid);
		} else if (csp_doc_is(c, "Meta")) {
			if (meta_seen)
				rc = csp_doc_fail_at(ctx, c,
						     "second <Meta> in %s",
						     cmd.name);
			meta_seen = true;
			if (rc == E2_OK)
				rc = csp_doc_meta(ctx, c, &cmd.format, &type);
		} else if (csp_doc_is(c, "Item")) {
			/* Unknown commands are answered 406 whole. */
			if (container || cmd.kind == CSP_CMD_UNKNOWN)
				continue;
			rc = csp_doc_parse_item(ctx, c, &item);
			if (rc == E2_OK)
				rc = csp_doc_append_item(ctx, &cmd, &item);
		} else if (container && !csp_doc_is_cmd_field(c)) {
			rc = csp_doc_parse_cmd(ctx, c, &child);
			if (rc == E2_OK)
				rc = csp_doc_append_cmd(ctx, &cmd.children,
							&cmd.n_children,
							&child);
		}
	}
	if (rc == E2_OK)
		rc = csp_doc_inherit_meta(ctx, &cmd, type);
out:
	free(type);
	csp_doc_item_clear(&item);
	csp_doc_cmd_clear(&child);
	if (rc != E2_OK) {
		csp_doc_cmd_clear(&cmd);
		return rc;
	}
	*cmd_out = cmd;
	return E2_OK;
}

static enum e2_status
csp_doc_parse_hdr(struct csp_doc_ctx *ctx, const xmlNode *el,
		  struct csp_doc *doc)
{
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		if (csp_doc_is(c, "VerDTD"))
			rc = csp_doc_text(ctx, c, true, &doc->verdtd);
		else if (csp_doc_is(c, "VerProto"))
			rc = csp_doc_text(ctx, c, true, &doc->verproto);
		else if (csp_doc_is(c, "SessionID"))
			rc = csp_doc_text(ctx, c, true, &doc->sessionid);
		else if (csp_doc_is(c, "MsgID"))
			rc = csp_doc_text(ctx, c, true, &doc->msgid);
		else if (csp_doc_is(c, "Target"))
			rc = csp_doc_locuri(ctx, c, &doc->hdr_target);
		else if (csp_doc_is(c, "Source"))
			rc = csp_doc_locuri(ctx, c, &doc->hdr_source);
	}
	return rc;
}

static enum e2_status
csp_doc_parse_syncml(struct csp_doc_ctx *ctx, const xmlNode *root,
		     struct csp_doc *doc)
{
	struct csp_cmd cmd = {0};
	const xmlNode *hdr = NULL;
	const xmlNode *body = NULL;
	enum e2_status rc = E2_OK;

	doc->kind = E2_DOC_SYNCML;
	for (const xmlNode *c = root->children; c != NULL; c = c->next) {
		if (csp_doc_is(c, "SyncHdr")) {
			if (hdr != NULL)
				return csp_doc_fail_at(ctx, c,
						       "second <SyncHdr>");
			hdr = c;
		} else if (csp_doc_is(c, "SyncBody")) {
			if (body != NULL)
				return csp_doc_fail_at(ctx, c,
						       "second <SyncBody>");
			body = c;
		}
	}
	if (body == NULL)
		return csp_doc_fail_at(ctx, root, "SyncML without SyncBody");
	if (hdr != NULL) {
		rc = csp_doc_parse_hdr(ctx, hdr, doc);
		if (rc != E2_OK)
			return rc;
	}
	for (xmlNode *c = body->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (csp_doc_is(c, "Final")) {
			doc->final = true;
			continue;
		}
		rc = csp_doc_parse_cmd(ctx, c, &cmd);
		if (rc == E2_OK)
			rc = csp_doc_append_cmd(ctx, &doc->cmds, &doc->n_cmds,
						&cmd);
	}
	csp_doc_cmd_clear(&cmd);
	return rc;
}

/* ---- Client Provisioning ----------------------------------------------------
 */

/* A new one-item command on uri (copied); data copied when not NULL. */
static enum e2_status
csp_doc_cp_add(struct csp_doc_ctx *ctx, const xmlNode *el,
	       struct csp_doc_cp *cp, enum csp_cmd_kind kind, const char *uri,
	       const char *xpath, const char *data)
{
	static const char *const names[] = {
		[CSP_CMD_REPLACE] = "Replace",
		[CSP_CMD_DELETE] = "Delete",
		[CSP_CMD_GET] = "Get",
	};
	struct csp_cmd cmd = {0};
	struct csp_item item = {0};
	enum e2_status rc;

	rc = csp_doc_count(ctx, el);
	if (rc != E2_OK)
		return rc;
	cmd.kind = kind;
	cmd.line = xmlGetLineNo(el);
	cmd.name = csp_doc_strdup(names[kind]);
	cmd.path = csp_doc_strdup(xpath);
	item.target = csp_doc_strdup(uri);
	item.data = data != NULL ? csp_doc_strdup(data) : NULL;
	if (cmd.name == NULL || cmd.path == NULL || item.target == NULL ||
	    (data != NULL && item.data == NULL)) {
		rc = csp_doc_nomem(ctx);
		goto out;
	}
	rc = csp_doc_append_item(ctx, &cmd, &item);
	if (rc != E2_OK)
		goto out;
	if (kind == CSP_CMD_GET)
		rc = csp_doc_append_cmd(ctx, &cp->gets, &cp->n_gets, &cmd);
	else
		rc = csp_doc_append_cmd(ctx, &cp->atomic.children,
					&cp->atomic.n_children, &cmd);
out:
	csp_doc_item_clear(&item);
	csp_doc_cmd_clear(&cmd);
	return rc;
}

/* The attribute attr of el (caller xmlFree()s), or an error if absent. */
static enum e2_status
csp_doc_cp_attr(struct csp_doc_ctx *ctx, const xmlNode *el, const char *attr,
		bool required, xmlChar **out)
{
	char q[64];

	*out = xmlGetNoNsProp(el, (const xmlChar *)attr);
	if (*out != NULL)
		return E2_OK;
	if (!required)
		return E2_OK;
	if (xmlHasProp(el, (const xmlChar *)attr) != NULL)
		return csp_doc_nomem(ctx);
	return csp_doc_fail_at(ctx, el, "<%s> without %s attribute",
			       csp_doc_qname(el, q, sizeof(q)), attr);
}

/*
 * "XPATH/ELEMENT[@ATTR=KEY]" (no "XPATH/" when xpath is NULL): where in the
 * user's document a command came from, for messages. KEY is the user's
 * text, quoted (cut at 120 bytes, controls escaped). Caller frees.
 */
static char *
csp_doc_cp_step(const char *xpath, const xmlNode *el, const char *attr,
		const char *key)
{
	char q[160];
	const char *name = (const char *)el->name;
	size_t len;
	char *out;

	(void)e2_quote(q, sizeof(q), key, strlen(key));
	len = (xpath != NULL ? strlen(xpath) + 1 : 0) + strlen(name) +
	      strlen(attr) + strlen(q) + 6;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	(void)snprintf(out, len, "%s%s%s[@%s=%s]", xpath != NULL ? xpath : "",
		       xpath != NULL ? "/" : "", name, attr, q);
	return out;
}

/*
 * The children of a characteristic whose LocURI is path (and whose place
 * in the document is xpath): parms become commands on path/NAME,
 * characteristics recurse into path/TYPE.
 */
static enum e2_status
csp_doc_cp_walk(struct csp_doc_ctx *ctx, const xmlNode *el, const char *path,
		const char *xpath, struct csp_doc_cp *cp)
{
	enum e2_status rc = E2_OK;

	for (const xmlNode *c = el->children; c != NULL && rc == E2_OK;
	     c = c->next) {
		bool is_parm = csp_doc_is(c, "parm");
		bool is_noparm = csp_doc_is(c, "noparm");
		bool is_pquery = csp_doc_is(c, "parm-query");
		bool is_char = csp_doc_is(c, "characteristic");
		bool is_nochar = csp_doc_is(c, "nocharacteristic");
		bool is_cquery = csp_doc_is(c, "characteristic-query");
		xmlChar *key = NULL;
		xmlChar *value = NULL;
		char *uri = NULL;
		char *where = NULL;

		if (!is_parm && !is_noparm && !is_pquery && !is_char &&
		    !is_nochar && !is_cquery)
			continue;
		rc = csp_doc_cp_attr(ctx, c,
				     is_parm || is_noparm || is_pquery ? "name"
								       : "type",
				     true, &key);
		if (rc == E2_OK && is_parm)
			rc = csp_doc_cp_attr(ctx, c, "value", false, &value);
		if (rc == E2_OK) {
			const char *attr = is_parm || is_noparm || is_pquery
						   ? "name"
						   : "type";

			uri = csp_doc_join(path, (const char *)key);
			where = csp_doc_cp_step(xpath, c, attr,
						(const char *)key);
			if (uri == NULL || where == NULL)
				rc = csp_doc_nomem(ctx);
		}
		if (rc != E2_OK)
			goto next;
		if (is_parm) {
			/* parm without value: Replace with "" */
			rc = csp_doc_cp_add(
				ctx, c, cp, CSP_CMD_REPLACE, uri, where,
				value != NULL ? (const char *)value : "");
		} else if (is_noparm || is_nochar) {
			rc = csp_doc_cp_add(ctx, c, cp, CSP_CMD_DELETE, uri,
					    where, NULL);
		} else if (is_pquery || is_cquery) {
			rc = csp_doc_cp_add(ctx, c, cp, CSP_CMD_GET, uri, where,
					    NULL);
		} else {
			rc = csp_doc_cp_walk(ctx, c, uri, where, cp);
		}
	next:
		free(where);
		free(uri);
		xmlFree(value);
		xmlFree(key);
	}
	return rc;
}

static bool
csp_doc_cp_is_email2(struct csp_doc_ctx *ctx, const xmlNode *el,
		     enum e2_status *rc)
{
	xmlChar *type = NULL;
	bool yes;

	*rc = csp_doc_cp_attr(ctx, el, "type", true, &type);
	yes = *rc == E2_OK && strcmp((const char *)type, "EMAIL2") == 0;
	xmlFree(type);
	return yes;
}

static void
csp_doc_cp_number(struct csp_cmd *cmds, size_t n, unsigned *next, bool *ok)
{
	char id[16];

	for (size_t i = 0; i < n && *ok; i++) {
		(void)snprintf(id, sizeof(id), "%u", (*next)++);
		cmds[i].cmdid = csp_doc_strdup(id);
		if (cmds[i].cmdid == NULL)
			*ok = false;
		else
			csp_doc_cp_number(cmds[i].children, cmds[i].n_children,
					  next, ok);
	}
}

static enum e2_status
csp_doc_parse_cp(struct csp_doc_ctx *ctx, const xmlNode *root,
		 struct csp_doc *doc)
{
	struct csp_doc_cp cp = {0};
	unsigned next = 1;
	bool ok = true;
	enum e2_status rc = E2_OK;

	doc->kind = E2_DOC_PROVISIONING;
	if (csp_doc_is(root, "characteristic")) {
		if (csp_doc_cp_is_email2(ctx, root, &rc)) {
			rc = csp_doc_cp_walk(ctx, root, CSP_DOC_EMAIL2_ROOT,
					     CSP_DOC_CP_EMAIL2, &cp);
		} else if (rc == E2_OK) {
			rc = csp_doc_fail_at(ctx, root,
					     "root characteristic is not "
					     "type=\"EMAIL2\"");
		}
	} else {
		for (const xmlNode *c = root->children;
		     c != NULL && rc == E2_OK; c = c->next) {
			bool is_char = csp_doc_is(c, "characteristic");
			bool is_nochar = csp_doc_is(c, "nocharacteristic");
			bool is_cquery = csp_doc_is(c, "characteristic-query");

			if (!is_char && !is_nochar && !is_cquery)
				continue;
			if (!csp_doc_cp_is_email2(ctx, c, &rc))
				continue;
			if (is_char)
				rc = csp_doc_cp_walk(ctx, c,
						     CSP_DOC_EMAIL2_ROOT,
						     CSP_DOC_CP_EMAIL2, &cp);
			else
				rc = csp_doc_cp_add(
					ctx, c, &cp,
					is_nochar ? CSP_CMD_DELETE
						  : CSP_CMD_GET,
					CSP_DOC_EMAIL2_ROOT,
					is_nochar ? "nocharacteristic"
						    "[@type=EMAIL2]"
						  : "characteristic-query"
						    "[@type=EMAIL2]",
					NULL);
		}
	}
	if (rc != E2_OK)
		goto out;
	if (cp.atomic.n_children > 0) {
		cp.atomic.kind = CSP_CMD_ATOMIC;
		cp.atomic.line = xmlGetLineNo(root);
		cp.atomic.name = csp_doc_strdup("Atomic");
		cp.atomic.path = csp_doc_strdup((const char *)root->name);
		if (cp.atomic.name == NULL || cp.atomic.path == NULL) {
			rc = csp_doc_nomem(ctx);
			goto out;
		}
		rc = csp_doc_append_cmd(ctx, &doc->cmds, &doc->n_cmds,
					&cp.atomic);
	}
	for (size_t i = 0; i < cp.n_gets && rc == E2_OK; i++)
		rc = csp_doc_append_cmd(ctx, &doc->cmds, &doc->n_cmds,
					&cp.gets[i]);
	if (rc != E2_OK)
		goto out;
	csp_doc_cp_number(doc->cmds, doc->n_cmds, &next, &ok);
	if (!ok)
		rc = csp_doc_nomem(ctx);
out:
	csp_doc_cmd_clear(&cp.atomic);
	for (size_t i = 0; i < cp.n_gets; i++)
		csp_doc_cmd_clear(&cp.gets[i]);
	free(cp.gets);
	return rc;
}

/* ---- entry points
 * ------------------------------------------------------------ */

enum e2_status
csp_doc_parse(const char *buf, size_t len, struct csp_doc **doc_out,
	      struct e2_err *err)
{
	struct csp_doc_ctx ctx = {.err = err};
	struct csp_doc *doc = NULL;
	xmlDoc *xml = NULL;
	xmlNode *root;
	char q[64];
	enum e2_status rc;

	if (buf == NULL || len == 0)
		return e2_fail(err, E2_EINVAL, "empty document");
	if (len > CSP_MAX_DOC)
		return e2_fail(err, E2_EINVAL, "document larger than %u bytes",
			       CSP_MAX_DOC);
	/* the hardened reading every XML input gets (xml_read.c) */
	rc = xml_read(buf, len, NULL, E2_EINVAL, &xml, err);
	if (rc != E2_OK)
		goto out;
	root = xmlDocGetRootElement(xml);
	if (root == NULL) {
		rc = e2_fail(err, E2_EINVAL, "document has no root element");
		goto out;
	}
	rc = csp_doc_check_tree(&ctx, root, 1);
	if (rc != E2_OK)
		goto out;
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL) {
		rc = csp_doc_nomem(&ctx);
		goto out;
	}
	if (csp_doc_is(root, "SyncML"))
		rc = csp_doc_parse_syncml(&ctx, root, doc);
	else if (csp_doc_is(root, "wap-provisioningdoc") ||
		 csp_doc_is(root, "characteristic"))
		rc = csp_doc_parse_cp(&ctx, root, doc);
	else
		rc = e2_fail(err, E2_EINVAL,
			     "unknown root element \"%s\": a provisioning "
			     "document is <SyncML> (OMA DM) or "
			     "<wap-provisioningdoc> (OMA Client Provisioning)",
			     csp_doc_qname(root, q, sizeof(q)));
out:
	xmlFreeDoc(xml);
	if (rc != E2_OK) {
		csp_doc_free(&doc);
		return rc;
	}
	*doc_out = doc;
	return E2_OK;
}

void
csp_doc_free(struct csp_doc **doc)
{
	struct csp_doc *d;

	if (doc == NULL || *doc == NULL)
		return;
	d = *doc;
	for (size_t i = 0; i < d->n_cmds; i++)
		csp_doc_cmd_clear(&d->cmds[i]);
	free(d->cmds);
	free(d->verdtd);
	free(d->verproto);
	free(d->sessionid);
	free(d->msgid);
	free(d->hdr_target);
	free(d->hdr_source);
	free(d);
	*doc = NULL;
}
