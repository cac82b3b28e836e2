/* SPDX-License-Identifier: MIT */
/* csp.h -- EMAIL2 CSP: provisioning documents, LocURIs, the node tree */
#ifndef E2_CSP_H
#define E2_CSP_H

#include "email2.h"

/*
 * The CSP layer in three steps, each in its own file:
 *   csp_doc.c     untrusted XML (SyncML or Client Provisioning) -> csp_doc,
 *                 a command tree; no store access, no semantics
 *   csp_locuri.c  LocURI / GUID syntax -> struct csp_path
 *   csp_nodes.c   the one table of EMAIL2 nodes (operations, value rules)
 *   csp_apply.c   runs a csp_doc against the store (Atomic, statuses) and
 *                 writes the response; implements e2_provision()
 */

/* Largest document accepted (bytes). */
#define CSP_MAX_DOC (4u * 1024 * 1024)

enum csp_cmd_kind {
	CSP_CMD_ATOMIC = 0,
	CSP_CMD_SEQUENCE,
	CSP_CMD_ADD,
	CSP_CMD_REPLACE,
	CSP_CMD_DELETE,
	CSP_CMD_GET,
	CSP_CMD_UNKNOWN, /* any other SyncBody command (Exec, Copy, ...): 406 */
};

struct csp_item {
	char *target; /* Target/LocURI exactly as in the document, or NULL */
	char *format; /* Meta/Format ("chr", "int", "bool", "node"), or NULL */
	char *type;   /* Meta/Type, or NULL */
	char *data;   /* Data text, or NULL when the element is absent */
	long line;    /* the Item element's line (SyncML), else 0 */
};

struct csp_cmd {
	enum csp_cmd_kind kind;
	char *name;   /* element name as in the document: "Add", "Exec", ... */
	char *cmdid;  /* CmdID text, or NULL */
	char *format; /* command-level Meta/Format, items inherit it */
	struct csp_item *items;
	size_t n_items;
	struct csp_cmd *children; /* Atomic and Sequence only */
	size_t n_children;
	long line; /* the element's line in the document (libxml2), or 0 */
	/*
	 * Client Provisioning: the element the command came from, as a path
	 * the user can find in the document, e.g.
	 * "characteristic[@type=EMAIL2]/characteristic[@type={...}]/
	 * parm[@name=DWNDAY]" ("wap-provisioningdoc" for the Atomic of all
	 * the changes); NULL for SyncML, whose CmdIDs are the user's own.
	 */
	char *path;
};

/*
 * A parsed document. For SyncML the header fields are those of SyncHdr. A
 * Client Provisioning document is turned into the same command tree:
 *  - the whole wap-provisioningdoc (or a bare characteristic type="EMAIL2")
 *    becomes one Atomic;
 *  - each parm under a GUID characteristic (or under its TAGPROPS
 *    characteristic) becomes a Replace of ./Vendor/MSFT/EMAIL2/{GUID}/NAME
 *    (Replace creates the account and missing segments implicitly);
 *  - nocharacteristic becomes a Delete, characteristic-query and parm-query
 *    become a Get (placed after the Atomic, in document order).
 * CP commands get synthetic CmdIDs "1", "2", ... in document order (for
 * the response's CmdRefs only: messages cite path and line instead).
 */
struct csp_doc {
	enum e2_doc_kind kind;
	char *verdtd;     /* SyncHdr/VerDTD */
	char *verproto;   /* SyncHdr/VerProto */
	char *sessionid;  /* SyncHdr/SessionID */
	char *msgid;      /* SyncHdr/MsgID */
	char *hdr_target; /* SyncHdr/Target/LocURI */
	char *hdr_source; /* SyncHdr/Source/LocURI */
	struct csp_cmd *cmds;
	size_t n_cmds;
	bool final;
};

/*
 * Parses buf (len bytes, at most CSP_MAX_DOC) with libxml2 hardened for
 * untrusted input: no entity substitution, no DTD loading, no network, a
 * deny-all external entity loader. The root element decides the kind:
 * SyncML, wap-provisioningdoc, or a bare characteristic. Text values with
 * control characters (other than tab, CR, LF) are refused.
 * Errors: E2_EINVAL (naming the line, element or value and the rule),
 * E2_ENOMEM.
 */
enum e2_status csp_doc_parse(const char *buf, size_t len,
			     struct csp_doc **doc_out, struct e2_err *err);
void csp_doc_free(struct csp_doc **doc);

/* ---- LocURIs ------------------------------------------------------------- */

/*
 * A LocURI below the EMAIL2 root:
 *   ./Vendor/MSFT/EMAIL2                      depth 0 (the root)
 *   ./Vendor/MSFT/EMAIL2/{GUID}               depth 1 (guid set)
 *   ./Vendor/MSFT/EMAIL2/{GUID}/INSERVER      depth 2 (node "INSERVER")
 *   ./Vendor/MSFT/EMAIL2/{GUID}/TAGPROPS/8128000B   depth 3
 * "./User/Vendor/MSFT/EMAIL2/..." is the same tree. The GUID is returned
 * in the canonical braced form "{...}" whichever brace form was used.
 */
struct csp_path {
	unsigned depth;
	char guid[64]; /* "" at depth 0 */
	char node[64]; /* path below the GUID: "INSERVER", "TAGPROPS/8128000B"
			*/
};

/*
 * Parses a LocURI. Errors: E2_EINVAL naming the LocURI and the rule (not
 * under EMAIL2, bad GUID, path escape attempt, empty segment, too long).
 */
enum e2_status csp_locuri_parse(const char *uri, struct csp_path *path_out,
				struct e2_err *err);

#endif /* E2_CSP_H */
