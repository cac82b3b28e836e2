/* SPDX-License-Identifier: MIT */
/*
 * xml_read.c -- untrusted bytes into a libxml2 tree, hardened, one way
 *
 * Provisioning documents (csp/csp_doc.c) and CardDAV/CalDAV bodies
 * (transports/dav_xml.c) are read with the same settings: XML_PARSE_NONET;
 * no entity substitution and a deny-all external entity loader, so no DTD
 * or entity outside the buffer is ever read; an ENTITY declaration stops
 * the parse (billion laughs, XXE) and so does a declared entity left in
 * the tree; libxml2's messages are never shown, including the encoding
 * and I/O errors it raises without a parser context (they would go to
 * stderr): the thread's structured handler takes them during the parse.
 * Caps on elements and depth are checked as elements start.
 */
#include "config.h"

#include "xml_read.h"

#include <pthread.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

struct xml_read_ctx {
	const struct xml_read_limits *lim;
	bool entity_declared;
	char entity_name[64];
	long entity_line;
	bool xml_failed;
	int xml_code;
	long xml_line;
	int xml_column;
	size_t n_elements;
	bool too_many;
	bool too_deep;
	long cap_line;
	startElementNsSAX2Func start_element;
};

static pthread_once_t xml_read_once = PTHREAD_ONCE_INIT;

/* Nothing outside the buffer is ever read: not a DTD, not an entity. */
static xmlParserInputPtr
xml_read_deny_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

static void
xml_read_init_once(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(xml_read_deny_loader);
}

/* Our words for libxml2's codes: none holds an input byte. */
static const struct {
	int code;
	const char *reason;
} xml_read_reasons[] = {
	{XML_ERR_DOCUMENT_EMPTY, "no XML element: empty or not XML"},
	{XML_ERR_DOCUMENT_END, "content after the root element"},
	{XML_ERR_EXTRA_CONTENT, "content after the root element"},
	{XML_ERR_INVALID_CHAR,
	 "character not allowed in XML, or bytes not valid UTF-8"},
	{XML_ERR_INVALID_CHARREF, "character reference not allowed in XML"},
	{XML_ERR_INVALID_DEC_CHARREF, "character reference not allowed in XML"},
	{XML_ERR_INVALID_HEX_CHARREF, "character reference not allowed in XML"},
	{XML_ERR_INVALID_ENCODING,
	 "bytes not valid in the encoding (UTF-8 unless declared)"},
	{XML_ERR_UNKNOWN_ENCODING, "unsupported encoding declared"},
	{XML_ERR_UNSUPPORTED_ENCODING, "unsupported encoding declared"},
	{XML_ERR_UNDECLARED_ENTITY, "undefined entity reference"},
	{XML_WAR_UNDECLARED_ENTITY, "undefined entity reference"},
	{XML_ERR_ENTITYREF_SEMICOL_MISSING, "entity reference without \";\""},
	{XML_ERR_TAG_NAME_MISMATCH, "end tag does not match its start tag"},
	{XML_ERR_TAG_NOT_FINISHED, "element not closed"},
	{XML_ERR_LT_REQUIRED, "start tag expected"},
	{XML_ERR_GT_REQUIRED, "malformed tag"},
	{XML_ERR_NAME_REQUIRED, "malformed tag"},
	{XML_ERR_LT_IN_ATTRIBUTE, "malformed attribute"},
	{XML_ERR_ATTRIBUTE_NOT_STARTED, "malformed attribute"},
	{XML_ERR_ATTRIBUTE_WITHOUT_VALUE, "malformed attribute"},
	{XML_ERR_ATTRIBUTE_REDEFINED, "attribute given twice"},
	{XML_ERR_STRING_NOT_CLOSED, "quoted string not closed"},
	{XML_NS_ERR_UNDEFINED_NAMESPACE, "namespace prefix not declared"},
};

static const char *
xml_read_reason(int code)
{
	for (size_t i = 0;
	     i < sizeof(xml_read_reasons) / sizeof(xml_read_reasons[0]); i++)
		if (xml_read_reasons[i].code == code)
			return xml_read_reasons[i].reason;
	return "not well-formed XML";
}

/* The first error is kept; warnings (a relative namespace URI) are none. */
static void
xml_read_error(void *user, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = user;
	struct xml_read_ctx *ctx = ctxt != NULL ? ctxt->_private : NULL;

	if (ctx == NULL || e == NULL || ctx->xml_failed ||
	    e->level < XML_ERR_ERROR)
		return;
	ctx->xml_failed = true;
	ctx->xml_code = e->code;
	ctx->xml_line = e->line;
	/* parser errors carry the column in int2 */
	ctx->xml_column = e->int2;
}

static void
xml_read_entity_seen(xmlParserCtxtPtr ctxt, const xmlChar *name)
{
	struct xml_read_ctx *ctx = ctxt->_private;

	if (ctx != NULL && !ctx->entity_declared) {
		const char *n = name != NULL ? (const char *)name : "";

		ctx->entity_declared = true;
		ctx->entity_line = xmlSAX2GetLineNumber(ctxt);
		(void)e2_quote(ctx->entity_name, sizeof(ctx->entity_name), n,
			       strlen(n));
	}
	xmlStopParser(ctxt);
}

static void
xml_read_entity_decl(void *user, const xmlChar *name, int type,
		     const xmlChar *public_id, const xmlChar *system_id,
		     xmlChar *content)
{
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	xml_read_entity_seen(user, name);
}

static void
xml_read_unparsed_entity_decl(void *user, const xmlChar *name,
			      const xmlChar *public_id,
			      const xmlChar *system_id, const xmlChar *notation)
{
	(void)public_id;
	(void)system_id;
	(void)notation;
	xml_read_entity_seen(user, name);
}

/* Counts elements and checks depth while the tree is built. */
static void
xml_read_start_element(void *user, const xmlChar *localname,
		       const xmlChar *prefix, const xmlChar *uri,
		       int nb_namespaces, const xmlChar **namespaces,
		       int nb_attributes, int nb_defaulted,
		       const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = user;
	struct xml_read_ctx *ctx = ctxt->_private;
	const struct xml_read_limits *lim = ctx->lim;

	if (ctx->too_many || ctx->too_deep)
		return;
	if (lim->max_elements > 0 && ++ctx->n_elements > lim->max_elements)
		ctx->too_many = true;
	else if (lim->max_depth > 0 && ctxt->nodeNr + 1 > lim->max_depth)
		ctx->too_deep = true;
	if (ctx->too_many || ctx->too_deep) {
		ctx->cap_line = xmlSAX2GetLineNumber(ctxt);
		xmlStopParser(ctxt);
		return;
	}
	ctx->start_element(user, localname, prefix, uri, nb_namespaces,
			   namespaces, nb_attributes, nb_defaulted, attributes);
}

/* The verdict on a finished parse: a message for each way it can fail. */
static enum e2_status
xml_read_verdict(const struct xml_read_ctx *ctx, bool well_formed,
		 const xmlDoc *xml, enum e2_status code, struct e2_err *err)
{
	if (ctx->entity_declared)
		return e2_fail(err, code,
			       "line %ld: DOCTYPE declares entity \"%s\": "
			       "entity declarations are refused",
			       ctx->entity_line, ctx->entity_name);
	if (ctx->too_many)
		return e2_fail(err, code, "line %ld: more than %zu elements",
			       ctx->cap_line, ctx->lim->max_elements);
	if (ctx->too_deep)
		return e2_fail(err, code,
			       "line %ld: elements nested deeper than %d",
			       ctx->cap_line, ctx->lim->max_depth);
	if (ctx->xml_failed && ctx->xml_code == XML_ERR_NO_MEMORY)
		return e2_fail(err, E2_ENOMEM, "out of memory reading XML");
	if (ctx->xml_failed)
		return e2_fail(err, code,
			       "line %ld, column %d: %s (libxml2 error %d)",
			       ctx->xml_line, ctx->xml_column,
			       xml_read_reason(ctx->xml_code), ctx->xml_code);
	if (!well_formed || xml == NULL)
		return e2_fail(err, code, "malformed XML");
	if (xml->intSubset != NULL && (xml->intSubset->entities != NULL ||
				       xml->intSubset->pentities != NULL))
		return e2_fail(err, code, "DOCTYPE declares entities: refused");
	return E2_OK;
}

enum e2_status
xml_read(const char *buf, size_t len, const struct xml_read_limits *lim,
	 enum e2_status code, xmlDoc **doc_out, struct e2_err *err)
{
	static const struct xml_read_limits none = {0, 0};
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR |
			 XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
	struct xml_read_ctx ctx = {.lim = lim != NULL ? lim : &none};
	/* this thread's handler, restored after the parse */
	xmlStructuredErrorFunc saved = xmlStructuredError;
	void *saved_ctx = xmlStructuredErrorContext;
	xmlParserCtxtPtr ctxt;
	xmlDoc *xml = NULL;
	bool well_formed;
	enum e2_status rc;

	if (len > (size_t)INT32_MAX)
		return e2_fail(err, code, "XML input too large");
	if (pthread_once(&xml_read_once, xml_read_init_once) != 0)
		return e2_fail(err, E2_ENOMEM, "cannot initialise libxml2");
	ctxt = xmlCreateMemoryParserCtxt(buf, (int)len);
	if (ctxt == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory reading XML");
	/*
	 * Encoding and I/O errors are raised without the parser context and
	 * would go to stderr: the thread's structured handler takes them.
	 */
	xmlSetStructuredErrorFunc(ctxt, xml_read_error);
	(void)xmlCtxtUseOptions(ctxt, opts);
	ctxt->_private = &ctx;
	ctxt->sax->serror = xml_read_error;
	ctxt->sax->entityDecl = xml_read_entity_decl;
	ctxt->sax->unparsedEntityDecl = xml_read_unparsed_entity_decl;
	ctx.start_element = ctxt->sax->startElementNs;
	ctxt->sax->startElementNs = xml_read_start_element;
	(void)xmlParseDocument(ctxt);
	xmlSetStructuredErrorFunc(saved_ctx, saved);
	xml = ctxt->myDoc;
	ctxt->myDoc = NULL;
	well_formed = ctxt->wellFormed != 0;
	xmlFreeParserCtxt(ctxt);
	rc = xml_read_verdict(&ctx, well_formed, xml, code, err);
	if (rc != E2_OK) {
		xmlFreeDoc(xml);
		return rc;
	}
	*doc_out = xml;
	return E2_OK;
}
