/* SPDX-License-Identifier: MIT */
/* fuzz_doc.c -- libFuzzer harness for csp_doc_parse() (see run.sh) */
/* fuzz-sources: csp/csp_doc.c csp/csp_locuri.c engine/guid.c engine/err.c */
/* fuzz-sources: transports/xml_read.c */
/* fuzz-pkgs: libxml-2.0 libcrypto */
#include "config.h"

#include "csp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every string so ASan sees a bad pointer or a missing NUL. */
static size_t
fuzz_doc_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static void
fuzz_doc_walk(const struct csp_cmd *cmds, size_t n, unsigned depth)
{
	struct csp_path path;
	struct e2_err err;

	/* the parser caps nesting at 32 elements */
	if (depth > 32)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct csp_cmd *c = &cmds[i];

		if (c->name == NULL || c->name[0] == '\0')
			abort();
		if (c->n_children > 0 && c->kind != CSP_CMD_ATOMIC &&
		    c->kind != CSP_CMD_SEQUENCE)
			abort();
		(void)fuzz_doc_len(c->cmdid);
		(void)fuzz_doc_len(c->format);
		for (size_t j = 0; j < c->n_items; j++) {
			const struct csp_item *it = &c->items[j];

			(void)fuzz_doc_len(it->format);
			(void)fuzz_doc_len(it->type);
			(void)fuzz_doc_len(it->data);
			if (it->target == NULL)
				continue;
			/* what the applier does next with each target */
			e2_err_clear(&err);
			(void)csp_locuri_parse(it->target, &path, &err);
		}
		fuzz_doc_walk(c->children, c->n_children, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csp_doc *doc = NULL;
	struct e2_err err;
	enum e2_status rc;

	e2_err_clear(&err);
	rc = csp_doc_parse((const char *)data, size, &doc, &err);
	if (rc != E2_OK) {
		/* a failure names itself and leaves nothing behind */
		if (doc != NULL || err.msg[0] == '\0' || err.code != rc)
			abort();
		return 0;
	}
	if (doc == NULL)
		abort();
	(void)fuzz_doc_len(doc->verdtd);
	(void)fuzz_doc_len(doc->verproto);
	(void)fuzz_doc_len(doc->sessionid);
	(void)fuzz_doc_len(doc->msgid);
	(void)fuzz_doc_len(doc->hdr_target);
	(void)fuzz_doc_len(doc->hdr_source);
	fuzz_doc_walk(doc->cmds, doc->n_cmds, 1);
	csp_doc_free(&doc);
	if (doc != NULL)
		abort();
	return 0;
}
