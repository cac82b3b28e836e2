/* SPDX-License-Identifier: MIT */
/* csp_resp.c -- the response: SyncML Status/Results, or CP query results */
#include "config.h"

#include "csp_nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

/*
 * SyncML (OMA DM 1.2): SyncHdr mirrors VerDTD, VerProto, SessionID and
 * MsgID and swaps Target and Source; SyncBody holds a Status for the
 * SyncHdr (CmdRef 0) and one per command (per Item for item commands,
 * with TargetRef), each Get's Results right after its Status, then Final.
 * Status Data is the code only: the reasons go to the caller through
 * e2_provision_result.failures (email2-provision prints them on stderr).
 * xmlTextWriter escapes every value.
 */

/* libxml2 wants xmlChar; csp_resp_x(would) cast away const */
static const xmlChar *
csp_resp_x(const char *s)
{
	return (const xmlChar *)s;
}

struct csp_resp {
	xmlTextWriterPtr w;
	unsigned cmdid; /* the response's own CmdIDs */
	int bad;        /* a writer call failed (only on OOM) */
};

static void
csp_resp_check(struct csp_resp *r, int rc)
{
	if (rc < 0)
		r->bad = 1;
}

static void
csp_resp_start(struct csp_resp *r, const char *name)
{
	csp_resp_check(r, xmlTextWriterStartElement(r->w, csp_resp_x(name)));
}

static void
csp_resp_end(struct csp_resp *r)
{
	csp_resp_check(r, xmlTextWriterEndElement(r->w));
}

static void
csp_resp_elem(struct csp_resp *r, const char *name, const char *text)
{
	csp_resp_check(r, xmlTextWriterWriteElement(r->w, csp_resp_x(name),
						    csp_resp_x(text)));
}

static void
csp_resp_attr(struct csp_resp *r, const char *name, const char *value)
{
	csp_resp_check(r, xmlTextWriterWriteAttribute(r->w, csp_resp_x(name),
						      csp_resp_x(value)));
}

static void
csp_resp_locuri(struct csp_resp *r, const char *wrap, const char *uri)
{
	csp_resp_start(r, wrap);
	csp_resp_elem(r, "LocURI", uri);
	csp_resp_end(r);
}

static void
csp_resp_next_cmdid(struct csp_resp *r)
{
	char id[24];

	(void)snprintf(id, sizeof(id), "%u", ++r->cmdid);
	csp_resp_elem(r, "CmdID", id);
}

/* <Meta><Format xmlns="syncml:metinf">fmt</Format>...</Meta> */
static void
csp_resp_meta(struct csp_resp *r, const char *format, const char *type)
{
	csp_resp_start(r, "Meta");
	csp_resp_start(r, "Format");
	csp_resp_attr(r, "xmlns", "syncml:metinf");
	csp_resp_check(r, xmlTextWriterWriteString(r->w, csp_resp_x(format)));
	csp_resp_end(r);
	if (type != NULL) {
		csp_resp_start(r, "Type");
		csp_resp_attr(r, "xmlns", "syncml:metinf");
		csp_resp_check(
			r, xmlTextWriterWriteString(r->w, csp_resp_x(type)));
		csp_resp_end(r);
	}
	csp_resp_end(r);
}

/*
 * The child names of base ("" is the account) joined with '/', as OMA DM
 * returns an interior node's Data. Caller frees.
 */
static char *
csp_resp_children(const struct csp_status *s)
{
	size_t bl = strlen(s->base), cap = 1, o = 0;
	char *buf;

	for (size_t i = 0; i < s->n_nodes; i++)
		cap += strlen(s->nodes[i].name) + 1;
	buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n_nodes; i++) {
		const char *nm = s->nodes[i].name;

		if (bl > 0) {
			if (strncmp(nm, s->base, bl) != 0 || nm[bl] != '/')
				continue;
			nm += bl + 1;
		}
		if (nm[0] == '\0' || strchr(nm, '/') != NULL)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, "%s%s",
				      o > 0 ? "/" : "", nm);
	}
	return buf;
}

static void
csp_resp_results(struct csp_resp *r, const struct csp_doc *doc,
		 const struct csp_status *s)
{
	char *kids = NULL;

	csp_resp_start(r, "Results");
	csp_resp_next_cmdid(r);
	csp_resp_elem(r, "MsgRef", doc->msgid != NULL ? doc->msgid : "1");
	csp_resp_elem(r, "CmdRef", s->cmd->cmdid != NULL ? s->cmd->cmdid : "");
	csp_resp_start(r, "Item");
	csp_resp_locuri(r, "Source", s->item->target);
	if (s->base_interior) {
		kids = csp_resp_children(s);
		if (kids == NULL)
			r->bad = 1;
		csp_resp_meta(r, "node", NULL);
		csp_resp_elem(r, "Data", kids != NULL ? kids : "");
	} else {
		csp_resp_meta(r, "chr", "text/plain");
		csp_resp_elem(r, "Data",
			      s->n_nodes > 0 && s->nodes[0].value != NULL
				      ? s->nodes[0].value
				      : "");
	}
	csp_resp_end(r);
	csp_resp_end(r);
	free(kids);
}

static void
csp_resp_status(struct csp_resp *r, const struct csp_doc *doc,
		const struct csp_status *s)
{
	char code[16];

	csp_resp_start(r, "Status");
	csp_resp_next_cmdid(r);
	csp_resp_elem(r, "MsgRef", doc->msgid != NULL ? doc->msgid : "1");
	csp_resp_elem(r, "CmdRef", s->cmd->cmdid != NULL ? s->cmd->cmdid : "");
	csp_resp_elem(r, "Cmd", s->cmd->name != NULL ? s->cmd->name : "");
	if (s->item != NULL && s->item->target != NULL)
		csp_resp_elem(r, "TargetRef", s->item->target);
	(void)snprintf(code, sizeof(code), "%d", s->code);
	csp_resp_elem(r, "Data", code);
	csp_resp_end(r);
}

/* Only a version made of digits and dots goes into the namespace. */
static const char *
csp_resp_verdtd(const struct csp_doc *doc)
{
	const char *v = doc->verdtd;

	if (v == NULL || v[0] == '\0' || strlen(v) > 8 ||
	    strspn(v, "0123456789.") != strlen(v))
		return "1.2";
	return v;
}

static void
csp_resp_syncml(struct csp_resp *r, const struct csp_doc *doc,
		const struct csp_outcome *out)
{
	char ns[40];

	(void)snprintf(ns, sizeof(ns), "SYNCML:SYNCML%s", csp_resp_verdtd(doc));
	csp_resp_start(r, "SyncML");
	csp_resp_attr(r, "xmlns", ns);
	csp_resp_start(r, "SyncHdr");
	csp_resp_elem(r, "VerDTD", csp_resp_verdtd(doc));
	csp_resp_elem(r, "VerProto",
		      doc->verproto != NULL ? doc->verproto : "DM/1.2");
	if (doc->sessionid != NULL)
		csp_resp_elem(r, "SessionID", doc->sessionid);
	csp_resp_elem(r, "MsgID", doc->msgid != NULL ? doc->msgid : "1");
	if (doc->hdr_source != NULL)
		csp_resp_locuri(r, "Target", doc->hdr_source);
	if (doc->hdr_target != NULL)
		csp_resp_locuri(r, "Source", doc->hdr_target);
	csp_resp_end(r);
	csp_resp_start(r, "SyncBody");
	csp_resp_start(r, "Status");
	csp_resp_next_cmdid(r);
	csp_resp_elem(r, "MsgRef", doc->msgid != NULL ? doc->msgid : "1");
	csp_resp_elem(r, "CmdRef", "0");
	csp_resp_elem(r, "Cmd", "SyncHdr");
	if (doc->hdr_target != NULL)
		csp_resp_elem(r, "TargetRef", doc->hdr_target);
	if (doc->hdr_source != NULL)
		csp_resp_elem(r, "SourceRef", doc->hdr_source);
	csp_resp_elem(r, "Data", "200");
	csp_resp_end(r);
	for (size_t i = 0; i < out->n; i++) {
		csp_resp_status(r, doc, &out->st[i]);
		if (out->st[i].has_results && out->st[i].item != NULL)
			csp_resp_results(r, doc, &out->st[i]);
	}
	csp_resp_start(r, "Final");
	csp_resp_end(r);
	csp_resp_end(r);
	csp_resp_end(r);
}

/*
 * Client Provisioning: each Get that succeeded becomes
 *   <characteristic type="EMAIL2"><characteristic type="{GUID}">
 *     <parm name="NODE" value="..."/> ...
 *     <characteristic type="TAGPROPS"><parm .../></characteristic>
 *   </characteristic></characteristic>
 * with every node at or below the queried one, secrets masked.
 */
static void
csp_resp_cp_query(struct csp_resp *r, const struct csp_status *s)
{
	const char *open = NULL; /* the open inner characteristic */
	size_t open_len = 0;

	csp_resp_start(r, "characteristic");
	csp_resp_attr(r, "type", "EMAIL2");
	csp_resp_start(r, "characteristic");
	csp_resp_attr(r, "type", s->guid);
	for (size_t i = 0; i < s->n_nodes; i++) {
		const char *nm = s->nodes[i].name;
		const char *slash = strchr(nm, '/');
		size_t plen = slash != NULL ? (size_t)(slash - nm) : strlen(nm);
		bool group = slash != NULL || s->nodes[i].value == NULL;

		if (open != NULL && !(group && plen == open_len &&
				      strncmp(nm, open, open_len) == 0)) {
			csp_resp_end(r);
			open = NULL;
		}
		if (group && open == NULL) {
			char type[64];

			(void)snprintf(type, sizeof(type), "%.*s", (int)plen,
				       nm);
			csp_resp_start(r, "characteristic");
			csp_resp_attr(r, "type", type);
			open = nm;
			open_len = plen;
		}
		if (s->nodes[i].value == NULL)
			continue;
		csp_resp_start(r, "parm");
		csp_resp_attr(r, "name", slash != NULL ? slash + 1 : nm);
		csp_resp_attr(r, "value", s->nodes[i].value);
		csp_resp_end(r);
	}
	if (open != NULL)
		csp_resp_end(r);
	csp_resp_end(r);
	csp_resp_end(r);
}

static void
csp_resp_cp(struct csp_resp *r, const struct csp_outcome *out)
{
	csp_resp_start(r, "wap-provisioningdoc");
	csp_resp_attr(r, "version", "1.1");
	for (size_t i = 0; i < out->n; i++)
		if (out->st[i].has_results)
			csp_resp_cp_query(r, &out->st[i]);
	csp_resp_end(r);
}

enum e2_status
csp_resp_write(const struct csp_doc *doc, const struct csp_outcome *out,
	       char **buf_out, size_t *len_out, struct e2_err *err)
{
	struct csp_resp r = {0};
	xmlBufferPtr xb = NULL;
	char *buf = NULL;
	enum e2_status rc = E2_OK;

	xb = xmlBufferCreate();
	if (xb != NULL)
		r.w = xmlNewTextWriterMemory(xb, 0);
	if (r.w == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	csp_resp_check(&r, xmlTextWriterSetIndent(r.w, 1));
	csp_resp_check(&r, xmlTextWriterSetIndentString(r.w, csp_resp_x("  ")));
	csp_resp_check(&r,
		       xmlTextWriterStartDocument(r.w, NULL, "UTF-8", NULL));
	if (doc->kind == E2_DOC_SYNCML)
		csp_resp_syncml(&r, doc, out);
	else
		csp_resp_cp(&r, out);
	csp_resp_check(&r, xmlTextWriterEndDocument(r.w));
	xmlFreeTextWriter(r.w); /* flushes into xb */
	r.w = NULL;
	if (r.bad) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory writing response");
		goto out;
	}
	buf = strndup((const char *)xmlBufferContent(xb),
		      (size_t)xmlBufferLength(xb));
	if (buf == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	*len_out = strlen(buf);
	*buf_out = buf;
out:
	if (r.w != NULL)
		xmlFreeTextWriter(r.w);
	xmlBufferFree(xb);
	return rc;
}
