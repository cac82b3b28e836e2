/* SPDX-License-Identifier: MIT */
/* check_csp_doc.c -- the SyncML / CP document parser and LocURI syntax */
#include "config.h"

#include "csp/csp.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------
 */

/* The fixture tests/data/csp_doc/NAME, NUL-terminated. Caller frees. */
static char *
fixture_read(const char *name, size_t *len_out)
{
	return tu_fixture("csp_doc", name, len_out);
}

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
dump_cmd(FILE *f, const struct csp_cmd *c, int indent)
{
	char q[512];

	fprintf(f, "%*s%s %s fmt=%s\n", indent, "", c->name, or_dash(c->cmdid),
		or_dash(c->format));
	for (size_t i = 0; i < c->n_items; i++) {
		const struct csp_item *it = &c->items[i];

		fprintf(f, "%*s> %s fmt=%s type=%s", indent + 2, "",
			or_dash(it->target), or_dash(it->format),
			or_dash(it->type));
		if (it->data == NULL)
			fprintf(f, " data=-\n");
		else
			fprintf(f, " data=\"%s\"\n",
				e2_quote(q, sizeof(q), it->data,
					 strlen(it->data)));
	}
	for (size_t i = 0; i < c->n_children; i++)
		dump_cmd(f, &c->children[i], indent + 2);
}

/* The whole tree as text, one line per header, command and item. */
static char *
dump_doc(const struct csp_doc *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	if (d->kind == E2_DOC_SYNCML)
		fprintf(f, "syncml %s %s %s %s %s %s final=%d\n",
			or_dash(d->verdtd), or_dash(d->verproto),
			or_dash(d->sessionid), or_dash(d->msgid),
			or_dash(d->hdr_target), or_dash(d->hdr_source),
			d->final ? 1 : 0);
	else
		fprintf(f, "cp\n");
	for (size_t i = 0; i < d->n_cmds; i++)
		dump_cmd(f, &d->cmds[i], 0);
	fclose(f);
	return text;
}

/* ---- LocURIs
 * ----------------------------------------------------------------- */

#define G "C556E16F-56C4-4edb-9C64-D9469EE1FBE0"
#define GU "C556E16F-56C4-4EDB-9C64-D9469EE1FBE0" /* canonical: upper-case */
#define R "./Vendor/MSFT/EMAIL2"

struct locuri_row {
	const char *uri;
	enum e2_status rc;
	unsigned depth;
	const char *guid; /* expected on success */
	const char *node;
	const char *msg; /* substring of the error on failure */
};

static const struct locuri_row locuri_rows[] = {
	/* the root, both trees, with and without "./" */
	{R, E2_OK, 0, "", "", NULL},
	{"./User/Vendor/MSFT/EMAIL2", E2_OK, 0, "", "", NULL},
	{"Vendor/MSFT/EMAIL2/{" G "}", E2_OK, 1, "{" GU "}", "", NULL},
	/* each brace form */
	{R "/{" G "}", E2_OK, 1, "{" GU "}", "", NULL},
	{R "/%7B" G "%7D", E2_OK, 1, "{" GU "}", "", NULL},
	{R "/%7b" G "%7d", E2_OK, 1, "{" GU "}", "", NULL},
	{R "/0x7B" G "0x7D", E2_OK, 1, "{" GU "}", "", NULL},
	{R "/0X7b" G "0X7d/NAME", E2_OK, 2, "{" GU "}", "NAME", NULL},
	/* the spec's own example: "...FBE0x7D", the last group one short */
	{R "/0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE0x7D", E2_OK, 1,
	 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE}", "", NULL},
	{R "/{C556E16F-56C4-4edb-9C64-D9469EE1FBE}/INSERVER", E2_OK, 2,
	 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE}", "INSERVER", NULL},
	{R "/%7Bc556e16f-56c4-4edb-9c64-d9469ee1fbe0%7D", E2_OK, 1, "{" GU "}",
	 "", NULL},
	/* nodes, as written */
	{R "/{" G "}/INSERVER", E2_OK, 2, "{" GU "}", "INSERVER", NULL},
	{R "/{" G "}/inServer", E2_OK, 2, "{" GU "}", "inServer", NULL},
	{R "/{" G "}/TAGPROPS", E2_OK, 2, "{" GU "}", "TAGPROPS", NULL},
	{R "/%7B" G "%7D/TAGPROPS/8128000B", E2_OK, 3, "{" GU "}",
	 "TAGPROPS/8128000B", NULL},
	{"./User/Vendor/MSFT/EMAIL2/0x7B" G "0x7D/TAGPROPS/812C000B", E2_OK, 3,
	 "{" GU "}", "TAGPROPS/812C000B", NULL},
	/* not under EMAIL2 */
	{NULL, E2_EINVAL, 0, NULL, NULL, "LocURI missing"},
	{"", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"/Vendor/MSFT/EMAIL2", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"./Vendor/MSFT/EMAIL", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"./Vendor/MSFT/EMAIL2X", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"./vendor/msft/email2", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"./Device/Vendor/MSFT/EMAIL2", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"././Vendor/MSFT/EMAIL2", E2_EINVAL, 0, NULL, NULL, "not under"},
	{"./Vendor/MSFT/Reboot/RebootNow", E2_EINVAL, 0, NULL, NULL,
	 "not under"},
	/* empty segments */
	{R "/", E2_EINVAL, 0, NULL, NULL, "empty segment"},
	{R "//{" G "}", E2_EINVAL, 0, NULL, NULL, "empty segment"},
	{R "/{" G "}//NAME", E2_EINVAL, 0, NULL, NULL, "empty segment"},
	{R "/{" G "}/NAME/", E2_EINVAL, 0, NULL, NULL, "empty segment"},
	/* GUID syntax */
	{R "/" G, E2_EINVAL, 0, NULL, NULL, "must be in braces"},
	{R "/{" G, E2_EINVAL, 0, NULL, NULL, "not closed"},
	{R "/{" G "%7D", E2_EINVAL, 0, NULL, NULL, "not closed"},
	{R "/%7B" G "}", E2_EINVAL, 0, NULL, NULL, "not closed"},
	{R "/0x7B" G "}", E2_EINVAL, 0, NULL, NULL, "not closed"},
	{R "/{", E2_EINVAL, 0, NULL, NULL, "not closed"},
	{R "/{}", E2_EINVAL, 0, NULL, NULL, "hex groups"},
	{R "/{{" G "}}", E2_EINVAL, 0, NULL, NULL, "hex groups"},
	{R "/{" G "0}", E2_EINVAL, 0, NULL, NULL, "hex groups"},
	{R "/{C556E16F-56C4-4edb-9C64-D9469EE1FB}", E2_EINVAL, 0, NULL, NULL,
	 "hex groups"},
	{R "/{C556E16F-56C4-4edb-9C64D9469EE1FBE0}", E2_EINVAL, 0, NULL, NULL,
	 "hex groups"},
	{R "/{C556E16G-56C4-4edb-9C64-D9469EE1FBE0}", E2_EINVAL, 0, NULL, NULL,
	 "hex groups"},
	{R "/{C556E16F-56C4-4edb-9C64-D9469EE1FBE0-1}", E2_EINVAL, 0, NULL,
	 NULL, "hex groups"},
	{R "/%7B%2E%2E%7D", E2_EINVAL, 0, NULL, NULL, "hex groups"},
	{R "/{" G "\\..}", E2_EINVAL, 0, NULL, NULL, "hex groups"},
	{R "/%7B(email account GUID)%7D", E2_EINVAL, 0, NULL, NULL,
	 "template placeholder"},
	{R "/%7B(email account GUID)%7D/INSERVER", E2_EINVAL, 0, NULL, NULL,
	 "template placeholder"},
	{R "/{(GUID)}", E2_EINVAL, 0, NULL, NULL, "template placeholder"},
	{R "/..", E2_EINVAL, 0, NULL, NULL, "must be in braces"},
	{R "/.", E2_EINVAL, 0, NULL, NULL, "must be in braces"},
	/* path escapes and odd bytes below the GUID */
	{R "/{" G "}/..", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/../{" G "}", E2_EINVAL, 0, NULL, NULL, "node names"},
	{R "/{" G "}/.", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/TAGPROPS/..", E2_EINVAL, 0, NULL, NULL, "node names"},
	{R "/{" G "}/NA\\ME", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/..\\..\\x", E2_EINVAL, 0, NULL, NULL, "node names"},
	{R "/{" G "}/NA ME", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/NAME\x01", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/NA%2FME", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/%2E%2E", E2_EINVAL, 0, NULL, NULL, "node names allow"},
	{R "/{" G "}/%7BNAME%7D", E2_EINVAL, 0, NULL, NULL, "node names"},
	{R "/{" G "}/INSERVER?list=Struct", E2_EINVAL, 0, NULL, NULL,
	 "node names allow"},
	{R "/{" G "}/TAGPROPS/8128000B/x", E2_EINVAL, 0, NULL, NULL,
	 "more than two levels"},
	{R "/{" G "}/"
	   "A123456789012345678901234567890123456789012345678901234567890123",
	 E2_EINVAL, 0, NULL, NULL, "longer than 63 bytes"},
	{R "/{" G "}/"
	   "TAGPROPS/A1234567890123456789012345678901234567890123456789012345",
	 E2_EINVAL, 0, NULL, NULL, "longer than 63 bytes"},
};

START_TEST(test_csp_locuri_parse_table)
{
	const struct locuri_row *row = &locuri_rows[_i];
	struct csp_path path;
	struct e2_err err;
	enum e2_status rc;

	e2_err_clear(&err);
	memset(&path, 0x5a, sizeof(path));
	rc = csp_locuri_parse(row->uri, &path, &err);
	ck_assert_msg(rc == row->rc, "row %d \"%s\": rc %s (%s)", _i,
		      or_dash(row->uri), e2_status_name(rc), err.msg);
	if (rc == E2_OK) {
		ck_assert_uint_eq(path.depth, row->depth);
		ck_assert_str_eq(path.guid, row->guid);
		ck_assert_str_eq(path.node, row->node);
		ck_assert_str_eq(err.msg, "");
	} else {
		ck_assert_msg(strstr(err.msg, row->msg) != NULL,
			      "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
			      row->msg);
		/* _out is written only on success */
		ck_assert_uint_eq(path.depth, 0x5a5a5a5au);
	}
}
END_TEST

START_TEST(test_csp_locuri_too_long)
{
	char uri[700];
	struct csp_path path;
	struct e2_err err;

	e2_err_clear(&err);
	memset(uri, 'A', sizeof(uri));
	memcpy(uri, R "/", strlen(R "/"));
	uri[sizeof(uri) - 1] = '\0';
	ck_assert_int_eq(csp_locuri_parse(uri, &path, &err), E2_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 512 bytes"));
	/* the message quotes at most 120 bytes of the LocURI */
	ck_assert_uint_lt(strlen(err.msg), 200);
}
END_TEST

/* ---- documents
 * ----------------------------------------------------------------- */

#define GM "0x7B6A2F1C3D-8E4B-4F2A-9C1D-7B3E5A9D2C40x7D"
#define GX "{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}"
#define GC "{7D3C2B1A-0F9E-4D8C-B7A6-95847362514F}"

struct doc_row {
	const char *file; /* fixture, or */
	const char *text; /* an inline document */
	enum e2_status rc;
	const char *want; /* the dump on success, a message substring else */
};

static const struct doc_row doc_rows[] = {
	/* the published example's shape */
	{"syncml-atomic-add.xml", NULL, E2_OK,
	 "syncml 1.2 DM/1.2 3A 1 "
	 "urn:uuid:0f3a7c1e-5b2d-4e88-a9c4-71d6e0b35f21 "
	 "https://dm.example.net/omadm final=1\n"
	 "Atomic 1 fmt=-\n"
	 "  Add 2 fmt=-\n"
	 "    > " R "/" GM " fmt=node type=- data=-\n"
	 "  Replace 3 fmt=-\n"
	 "    > " R "/" GM "/ACCOUNTTYPE fmt=- type=- data=\"Email\"\n"
	 "    > " R "/" GM "/INSERVER fmt=- type=- "
	 "data=\"imap.example.org:993\"\n"
	 "    > " R "/" GM "/SERVICENAME fmt=chr type=text/plain "
	 "data=\"Example & Co\"\n"
	 "    > " R "/" GM "/TAGPROPS/8128000B fmt=- type=- data=\"1\"\n"},
	/* Get outside Atomic, nesting both ways, CDATA, no Target, Exec */
	{"syncml-mixed.xml", NULL, E2_OK,
	 "syncml 1.1 DM/1.1 7 2 - - final=0\n"
	 "Get 10 fmt=-\n"
	 "  > " R "/%7B0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0%7D/NAME fmt=- "
	 "type=- data=-\n"
	 "Sequence 11 fmt=-\n"
	 "  Atomic 12 fmt=-\n"
	 "    Replace 13 fmt=chr\n"
	 "      > ./User/Vendor/MSFT/EMAIL2/" GX "/AUTHSECRET fmt=chr "
	 "type=- data=\"p<a>ss&word\"\n"
	 "      > - fmt=int type=- data=\"15\"\n"
	 "  Delete 14 fmt=-\n"
	 "    > " R "/" GX "/DOMAIN fmt=- type=- data=-\n"
	 "Atomic 15 fmt=chr\n"
	 "  Sequence 16 fmt=-\n"
	 "    Replace 17 fmt=chr\n"
	 "      > " R "/" GX "/NAME fmt=chr type=text/plain "
	 "data=\"\\x0a   Jo Example\\x0a\"\n"
	 "Exec 18 fmt=-\n"},
	/* an external DTD is named, never fetched */
	{"syncml-doctype.xml", NULL, E2_OK,
	 "syncml 1.2 DM/1.2 1 1 - - final=1\n"
	 "Delete 4 fmt=-\n"
	 "  > " R "/" GC " fmt=- type=- data=-\n"},
	{NULL,
	 "<SyncML><SyncBody><Replace><CmdID> 5\n</CmdID><Item><Target>"
	 "<LocURI>\n  ./x  </LocURI></Target><Data>a\tb\r\nc</Data><Data2/>"
	 "</Item><Item><Data/></Item></Replace><Alert><CmdID>6</CmdID>"
	 "<Data>1201</Data></Alert><Status><CmdID>7</CmdID></Status>"
	 "</SyncBody></SyncML>",
	 E2_OK,
	 "syncml - - - - - - final=0\n"
	 "Replace 5 fmt=-\n"
	 "  > ./x fmt=- type=- data=\"a\\x09b\\x0ac\"\n"
	 "  > - fmt=- type=- data=\"\"\n"
	 "Alert 6 fmt=-\n"
	 "Status 7 fmt=-\n"},
	{NULL, "<SyncML><SyncBody/></SyncML>", E2_OK,
	 "syncml - - - - - - final=0\n"},
	/* other encodings arrive as UTF-8 */
	{NULL,
	 "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><SyncML><SyncBody>"
	 "<Add><CmdID>1</CmdID><Item><Data>h\xe9</Data></Item></Add>"
	 "</SyncBody></SyncML>",
	 E2_OK,
	 "syncml - - - - - - final=0\n"
	 "Add 1 fmt=-\n"
	 "  > - fmt=- type=- data=\"h\\xc3\\xa9\"\n"},
	/* Client Provisioning */
	{"cp-wrapper.xml", NULL, E2_OK,
	 "cp\n"
	 "Atomic 1 fmt=-\n"
	 "  Replace 2 fmt=-\n"
	 "    > " R "/" GC "/SERVICENAME fmt=- type=- data=\"Example Mail\"\n"
	 "  Replace 3 fmt=-\n"
	 "    > " R "/" GC "/SERVICETYPE fmt=- type=- data=\"IMAP4\"\n"
	 "  Replace 4 fmt=-\n"
	 "    > " R "/" GC "/INSERVER fmt=- type=- "
	 "data=\"imap.example.org\"\n"
	 "  Replace 5 fmt=-\n"
	 "    > " R "/" GC "/AUTHSECRET fmt=- type=- data=\"\"\n"
	 "  Replace 6 fmt=-\n"
	 "    > " R "/" GC "/TAGPROPS/8128000B fmt=- type=- data=\"1\"\n"
	 "  Replace 7 fmt=-\n"
	 "    > " R "/" GC "/TAGPROPS/812C000B fmt=- type=- data=\"0\"\n"
	 "  Delete 8 fmt=-\n"
	 "    > " R "/" GC "/DOMAIN fmt=- type=- data=-\n"
	 "  Delete 9 fmt=-\n"
	 "    > " R "/{11111111-2222-3333-4444-555555555555} fmt=- type=- "
	 "data=-\n"
	 "Get 10 fmt=-\n"
	 "  > " R "/" GC "/REPLYADDR fmt=- type=- data=-\n"
	 "Get 11 fmt=-\n"
	 "  > " R "/" GC " fmt=- type=- data=-\n"},
	{"cp-fragment.xml", NULL, E2_OK,
	 "cp\n"
	 "Atomic 1 fmt=-\n"
	 "  Replace 2 fmt=-\n"
	 "    > " R "/" GC "/REPLYADDR fmt=- type=- "
	 "data=\"jo@example.org\"\n"},
	/* the GUID text is copied literally: csp_locuri_parse() judges it */
	{NULL,
	 "<wap-provisioningdoc><characteristic type=\"EMAIL2\">"
	 "<characteristic type=\"../x\"><parm name=\"A/B\" value=\"v\"/>"
	 "</characteristic></characteristic>"
	 "<characteristic-query type=\"EMAIL2\"/></wap-provisioningdoc>",
	 E2_OK,
	 "cp\n"
	 "Atomic 1 fmt=-\n"
	 "  Replace 2 fmt=-\n"
	 "    > " R "/../x/A/B fmt=- type=- data=\"v\"\n"
	 "Get 3 fmt=-\n"
	 "  > " R " fmt=- type=- data=-\n"},
	{NULL,
	 "<wap-provisioningdoc><characteristic type=\"VPN\"/>"
	 "</wap-provisioningdoc>",
	 E2_OK, "cp\n"},
	/* unusable documents */
	{NULL, "", E2_EINVAL, "empty document"},
	{NULL, "<foo/>", E2_EINVAL, "unknown root element \"foo\""},
	{NULL, "<SyncML><SyncHdr/></SyncML>", E2_EINVAL,
	 "line 1: SyncML without SyncBody"},
	{NULL, "<SyncML><SyncBody/><SyncBody/></SyncML>", E2_EINVAL,
	 "second <SyncBody>"},
	{NULL, "<characteristic type=\"VPN\"/>", E2_EINVAL,
	 "root characteristic is not type=\"EMAIL2\""},
	{NULL, "<wap-provisioningdoc>\n<characteristic/></wap-provisioningdoc>",
	 E2_EINVAL, "line 2: <characteristic> without type attribute"},
	{NULL,
	 "<characteristic type=\"EMAIL2\"><characteristic type=\"" GC "\">\n"
	 "<parm value=\"x\"/></characteristic></characteristic>",
	 E2_EINVAL, "line 2: <parm> without name attribute"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item><Data>a<b/></Data>"
	 "</Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "<Data> must hold text only"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item><Data>a</Data>"
	 "<Data>b</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "second <Data> element"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><CmdID>2</CmdID>"
	 "</Add></SyncBody></SyncML>",
	 E2_EINVAL, "second <CmdID> element"},
	/* hostile input */
	{"malformed.xml", NULL, E2_EINVAL,
	 "line 6, column 11: end tag does not match its start tag"},
	{NULL, "<SyncML><SyncBody>", E2_EINVAL, "line 1, column "},
	{NULL, "not xml", E2_EINVAL, "line 1, column "},
	{NULL, "<SyncML><SyncBody>\n<Add>h\xe9</Add></SyncBody></SyncML>",
	 E2_EINVAL,
	 "line 2, column 7: character not allowed in XML, or bytes not valid "
	 "UTF-8"},
	{NULL, "<?xml version=\"1.0\" encoding=\"X-NONE\"?><SyncML/>",
	 E2_EINVAL, "line 1, column 38: unsupported encoding declared"},
	/* XInclude is never processed */
	{NULL,
	 "<SyncML xmlns:xi=\"http://www.w3.org/2001/XInclude\"><SyncBody>"
	 "<Add><Item><Data><xi:include href=\"file:///etc/passwd\" "
	 "parse=\"text\"/></Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "<Data> must hold text only"},
	{"billion-laughs.xml", NULL, E2_EINVAL,
	 "line 3: DOCTYPE declares entity \"lol\""},
	{"xxe.xml", NULL, E2_EINVAL, "DOCTYPE declares entity \"xxe\""},
	{"xxe-param.xml", NULL, E2_EINVAL, "DOCTYPE declares entity \"ext\""},
	{"external-dtd.xml", NULL, E2_EINVAL,
	 "line 5, column 13: undefined entity reference"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item>"
	 "<Data>a\x01</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 1, column "},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item>"
	 "<Data>a&#1;</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 1, column "},
	{NULL,
	 "<?xml version=\"1.1\"?><SyncML><SyncBody><Add><CmdID>1</CmdID>"
	 "<Item><Data>a&#1;</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 1, column "},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item>\n"
	 "<Data>a\x7f</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 2: control character in <Data> text"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item>\n"
	 "<Data>a&#x85;</Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 2: control character in <Data> text"},
	{NULL,
	 "<SyncML><SyncBody><Add><CmdID>1</CmdID><Item>\n"
	 "<Data><![CDATA[a\x7f]]></Data></Item></Add></SyncBody></SyncML>",
	 E2_EINVAL, "line 2: control character in <Data> text"},
	{NULL,
	 "<characteristic type=\"EMAIL2\"><characteristic type=\"" GC "\">\n"
	 "<parm name=\"NAME\" value=\"a&#x7f;\"/></characteristic>"
	 "</characteristic>",
	 E2_EINVAL, "line 2: control character in attribute \"value\""},
	{NULL, "<SyncML><SyncBody>&undefined;</SyncBody></SyncML>", E2_EINVAL,
	 "line 1, column "},
};

static char *
doc_row_input(const struct doc_row *row, size_t *len_out)
{
	char *buf;

	if (row->file != NULL)
		return fixture_read(row->file, len_out);
	*len_out = strlen(row->text);
	buf = malloc(*len_out + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, row->text, *len_out + 1);
	return buf;
}

START_TEST(test_csp_doc_parse_table)
{
	const struct doc_row *row = &doc_rows[_i];
	struct csp_doc *doc = NULL;
	struct e2_err err;
	char *text = NULL;
	size_t len;
	char *buf = doc_row_input(row, &len);
	enum e2_status rc;

	e2_err_clear(&err);
	rc = csp_doc_parse(buf, len, &doc, &err);
	ck_assert_msg(rc == row->rc, "row %d (%s): rc %s: %s", _i,
		      or_dash(row->file), e2_status_name(rc), err.msg);
	if (rc == E2_OK) {
		text = dump_doc(doc);
		ck_assert_msg(strcmp(text, row->want) == 0,
			      "row %d (%s):\n%s\nwant:\n%s", _i,
			      or_dash(row->file), text, row->want);
	} else {
		ck_assert_ptr_null(doc);
		ck_assert_msg(strstr(err.msg, row->want) != NULL,
			      "row %d (%s): \"%s\" lacks \"%s\"", _i,
			      or_dash(row->file), err.msg, row->want);
	}
	/* whatever /etc/passwd holds never comes back */
	ck_assert_ptr_null(strstr(err.msg, "root:"));
	ck_assert(text == NULL || strstr(text, "root:") == NULL);
	free(text);
	csp_doc_free(&doc);
	ck_assert_ptr_null(doc);
	free(buf);
}
END_TEST

/* ---- generated hostile documents
 * ---------------------------------------------- */

static char *
repeat_doc(const char *head, const char *unit, size_t n, const char *tail,
	   size_t *len_out)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	size_t len = hl + n * ul + tl;
	char *buf = malloc(len + 1);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + hl + i * ul, unit, ul);
	memcpy(buf + hl + n * ul, tail, tl + 1);
	*len_out = len;
	return buf;
}

/* n nested Sequences inside SyncBody: depth n + 2 */
static char *
deep_doc(size_t n, size_t *len_out)
{
	size_t len1, len2;
	char *open =
		repeat_doc("<SyncML><SyncBody>", "<Sequence>", n, "", &len1);
	char *close =
		repeat_doc("", "</Sequence>", n, "</SyncBody></SyncML>", &len2);
	char *buf = malloc(len1 + len2 + 1);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, open, len1);
	memcpy(buf + len1, close, len2 + 1);
	free(open);
	free(close);
	*len_out = len1 + len2;
	return buf;
}

struct gen_row {
	const char *what;
	size_t n;
	enum e2_status rc;
	const char *msg;
};

static const struct gen_row gen_rows[] = {
	{"deep", 30, E2_OK, NULL},
	{"deep", 31, E2_EINVAL, "nested deeper than 32"},
	{"deep", 5000, E2_EINVAL, "line 1, column "},
	{"gets", 100000, E2_OK, NULL},
	{"gets", 100001, E2_EINVAL, "more than 100000 commands and items"},
	{"items", 99999, E2_OK, NULL},
	{"items", 100000, E2_EINVAL, "more than 100000 commands and items"},
	{"big", CSP_MAX_DOC, E2_OK, NULL},
	{"big", CSP_MAX_DOC + 1, E2_EINVAL, "document larger than 4194304"},
	{"nul", 0, E2_EINVAL, "line 1, column "},
};

START_TEST(test_csp_doc_parse_generated)
{
	const struct gen_row *row = &gen_rows[_i];
	struct csp_doc *doc = NULL;
	struct e2_err err;
	char *buf = NULL;
	size_t len = 0;
	enum e2_status rc;

	e2_err_clear(&err);
	if (strcmp(row->what, "deep") == 0) {
		buf = deep_doc(row->n, &len);
	} else if (strcmp(row->what, "gets") == 0) {
		buf = repeat_doc("<SyncML><SyncBody>", "<Get/>", row->n,
				 "</SyncBody></SyncML>", &len);
	} else if (strcmp(row->what, "items") == 0) {
		/* one Add and n items */
		buf = repeat_doc("<SyncML><SyncBody><Add>", "<Item/>", row->n,
				 "</Add></SyncBody></SyncML>", &len);
	} else if (strcmp(row->what, "big") == 0) {
		/* padded with a comment to exactly n bytes */
		const char *head = "<SyncML><SyncBody/></SyncML><!--";
		const char *tail = "-->";
		size_t pad = row->n - strlen(head) - strlen(tail);

		buf = repeat_doc(head, "x", pad, tail, &len);
	} else {
		static const char nul_doc[] = "<SyncML><SyncBody>\0</SyncBody>"
					      "</SyncML>";

		len = sizeof(nul_doc) - 1;
		buf = malloc(len);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, nul_doc, len);
	}
	ck_assert_uint_eq(len, strcmp(row->what, "big") == 0 ? row->n : len);
	rc = csp_doc_parse(buf, len, &doc, &err);
	ck_assert_msg(rc == row->rc, "row %d (%s %zu): rc %s: %s", _i,
		      row->what, row->n, e2_status_name(rc), err.msg);
	if (rc == E2_OK) {
		ck_assert_ptr_nonnull(doc);
		if (strcmp(row->what, "gets") == 0)
			ck_assert_uint_eq(doc->n_cmds, row->n);
		if (strcmp(row->what, "items") == 0)
			ck_assert_uint_eq(doc->cmds[0].n_items, row->n);
	} else {
		ck_assert_ptr_null(doc);
		ck_assert_msg(strstr(err.msg, row->msg) != NULL,
			      "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
			      row->msg);
	}
	csp_doc_free(&doc);
	free(buf);
}
END_TEST

/*
 * No message quotes document bytes: libxml2's own text would show the
 * bytes next to an encoding error, which may be those of AUTHSECRET. Each
 * row breaks the document inside or next to a secret value; the message
 * must hold none of the secret's pieces.
 */
#define SECRET_DOC(data)                                                       \
	"<SyncML><SyncBody><Atomic><CmdID>1</CmdID><Replace><CmdID>2</CmdID>"  \
	"<Item><Target><LocURI>" R "/{" G "}/AUTHSECRET</LocURI></Target>\n"   \
	"<Data>" data "</Data></Item></Replace></Atomic></SyncBody></SyncML>"

static const char *const secret_error_rows[] = {
	SECRET_DOC("Zq7Pw\xffXk9Lm"),                 /* invalid UTF-8 */
	SECRET_DOC("Zq7Pw\xc3\x28Xk9Lm"),             /* bad continuation */
	SECRET_DOC("Zq7Pw\xed\xa0\x80Xk9Lm"),         /* a surrogate */
	SECRET_DOC("Zq7Pw\xf8\x88\x80\x80\x80Xk9Lm"), /* 5-byte form */
	SECRET_DOC("Zq7Pw&Xk9Lm;"),                   /* undefined entity */
	SECRET_DOC("Zq7Pw&Xk9Lm"),                    /* entity without ";" */
	SECRET_DOC("Zq7Pw<Xk9Lm"),                    /* a stray "<" */
	SECRET_DOC("Zq7Pw\x01Xk9Lm"),                 /* a control character */
	"<?xml version=\"1.0\" encoding=\"Zq7PwXk9Lm\"?><SyncML/>",
	"<SyncML><SyncBody><Zq7PwXk9Lm></Zq7Pw></SyncBody></SyncML>",
};

START_TEST(test_csp_doc_error_quotes_no_document_bytes)
{
	static const char *const pieces[] = {"Zq7", "7Pw", "Xk9", "9Lm"};
	const char *text = secret_error_rows[_i];
	struct csp_doc *doc = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(csp_doc_parse(text, strlen(text), &doc, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(doc);
	ck_assert_msg(strncmp(err.msg, "line ", 5) == 0, "row %d: \"%s\"", _i,
		      err.msg);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		ck_assert_msg(strstr(err.msg, pieces[i]) == NULL,
			      "row %d: message quotes the secret: \"%s\"", _i,
			      err.msg);
}
END_TEST

START_TEST(test_csp_doc_free_accepts_null)
{
	struct csp_doc *doc = NULL;

	csp_doc_free(NULL);
	csp_doc_free(&doc);
	ck_assert_ptr_null(doc);
}
END_TEST

static Suite *
csp_doc_suite(void)
{
	Suite *s = suite_create("csp_doc");
	TCase *tc;

	tc = tcase_create("locuri");
	tcase_add_loop_test(
		tc, test_csp_locuri_parse_table, 0,
		(int)(sizeof(locuri_rows) / sizeof(locuri_rows[0])));
	tcase_add_test(tc, test_csp_locuri_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("doc");
	tcase_add_loop_test(tc, test_csp_doc_parse_table, 0,
			    (int)(sizeof(doc_rows) / sizeof(doc_rows[0])));
	tcase_add_test(tc, test_csp_doc_free_accepts_null);
	tcase_add_loop_test(tc, test_csp_doc_error_quotes_no_document_bytes, 0,
			    (int)(sizeof(secret_error_rows) /
				  sizeof(secret_error_rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_csp_doc_parse_generated, 0,
			    (int)(sizeof(gen_rows) / sizeof(gen_rows[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csp_doc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
