/* SPDX-License-Identifier: MIT */
/* xml_read.h -- untrusted bytes into a libxml2 tree, hardened, one way */
#ifndef E2_XML_READ_H
#define E2_XML_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "email2.h"

/*
 * Caps checked while the tree is built, so a hostile input stops early;
 * 0: none (the caller checks the finished tree itself).
 */
struct xml_read_limits {
	size_t max_elements;
	int max_depth; /* the root is 1 */
};

/*
 * Reads buf (len bytes, not NUL-terminated) into a tree: no network, no
 * DTD or external entity loaded, any ENTITY declaration refused, libxml2's
 * own messages never shown (they quote input bytes, which may be a
 * secret's neighbours: the message names line, column and a cause of
 * ours). what names the input in messages ("document", "webdav response
 * body"); code is the status of a refusal (E2_EINVAL for a provisioning
 * document, E2_EPROTO for a server's body). *doc_out is the caller's
 * (xmlFreeDoc()). Errors: code, E2_ENOMEM.
 */
enum e2_status xml_read(const char *buf, size_t len,
			const struct xml_read_limits *lim, enum e2_status code,
			xmlDoc **doc_out, struct e2_err *err);

#endif /* E2_XML_READ_H */
