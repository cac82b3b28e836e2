/* SPDX-License-Identifier: MIT */
/* fuzz_csp.c -- libFuzzer harness for CSP apply and response (e2_provision) */
/* fuzz-sources: csp/csp_doc.c csp/csp_locuri.c csp/csp_nodes.c */
/* fuzz-sources: csp/csp_apply.c csp/csp_resp.c engine/store.c */
/* fuzz-sources: engine/account.c engine/guid.c engine/err.c */
/* fuzz-sources: transports/xml_read.c */
/* fuzz-pkgs: libxml-2.0 sqlite3 libcrypto */
#include "config.h"

#include "csp.h"
#include "store.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Each input is a provisioning document applied with e2_provision() to one
 * store made at start-up in a temporary directory. The store holds an
 * account whose two secrets are markers no seed contains; every input runs
 * inside one outer transaction that is rolled back afterwards, so every
 * input starts from the same store (and the Atomics nest as savepoints).
 * Checked: no crash, no leak (ASan), a failure names itself and leaves no
 * result, and neither marker appears in the response, a failure reason, a
 * note or the error message.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_GUID "{0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9}"
#define FUZZ_SECRET "Qm8-fuzz-AUTH-zR4"
#define FUZZ_ALT_SECRET "Jw2-fuzz-ALT-pX7"

static struct e2_store *fuzz_store;
static char fuzz_dir[] = "/tmp/email2-fuzz-csp.XXXXXX";

static int
fuzz_csp_rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
fuzz_csp_cleanup(void)
{
	e2_store_close(&fuzz_store);
	/* our own mkdtemp() directory, never following a symlink */
	(void)nftw(fuzz_dir, fuzz_csp_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fuzz_csp_init(void)
{
	static const char *const nodes[][2] = {
		{"ACCOUNTTYPE", "Email"},
		{"AUTHNAME", "user"},
		{"AUTHSECRET", FUZZ_SECRET},
		{"INSERVER", "imap.email2.test:993"},
		{"OUTSERVER", "smtp.email2.test:465"},
		{"REPLYADDR", "user@email2.test"},
		{"SERVICENAME", "Fuzz"},
		{"SERVICETYPE", "IMAP4"},
		{"SYNCINGCONTENTTYPES", "2"},
		{"SMTPALTENABLED", "TRUE"},
		{"SMTPALTAUTHNAME", "alt"},
		{"SMTPALTPASSWORD", FUZZ_ALT_SECRET},
		{"TAGPROPS/8128000B", "1"},
	};
	struct e2_err err = {0};

	if (mkdtemp(fuzz_dir) == NULL ||
	    e2_store_open(fuzz_dir, &fuzz_store, &err) != E2_OK ||
	    store_account_create(fuzz_store, FUZZ_GUID, &err) != E2_OK)
		abort();
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (store_node_set(fuzz_store, FUZZ_GUID, nodes[i][0],
				   nodes[i][1], &err) != E2_OK)
			abort();
	(void)atexit(fuzz_csp_cleanup);
}

/* Which markers the input itself carries (libFuzzer learns them from the
 * comparisons below): those may come back as echoed document text. */
static bool fuzz_in_secret, fuzz_in_alt;

/* Aborts when s (len bytes, or a string when len is SIZE_MAX) shows a
 * stored secret the input did not carry. */
static void
fuzz_csp_no_secret(const char *s, size_t len)
{
	if (s == NULL)
		return;
	if (len == SIZE_MAX)
		len = strlen(s);
	if ((!fuzz_in_secret &&
	     memmem(s, len, FUZZ_SECRET, strlen(FUZZ_SECRET)) != NULL) ||
	    (!fuzz_in_alt &&
	     memmem(s, len, FUZZ_ALT_SECRET, strlen(FUZZ_ALT_SECRET)) != NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	enum e2_status rc;

	if (fuzz_store == NULL)
		fuzz_csp_init();
	fuzz_in_secret =
		memmem(data, size, FUZZ_SECRET, strlen(FUZZ_SECRET)) != NULL;
	fuzz_in_alt = memmem(data, size, FUZZ_ALT_SECRET,
			     strlen(FUZZ_ALT_SECRET)) != NULL;
	if (store_begin(fuzz_store, &err) != E2_OK)
		abort();
	rc = e2_provision(fuzz_store, (const char *)data, size, &res, &err);
	store_rollback(fuzz_store);
	fuzz_csp_no_secret(err.msg, SIZE_MAX);
	if (rc != E2_OK) {
		/* a failure names itself and leaves no result behind */
		if (err.msg[0] == '\0' || err.code != rc ||
		    res.response != NULL || res.failures != NULL ||
		    res.notes != NULL)
			abort();
		return 0;
	}
	if (res.response == NULL || strlen(res.response) != res.response_len ||
	    res.n_failures != res.failed || res.failed > res.commands)
		abort();
	fuzz_csp_no_secret(res.response, res.response_len);
	for (size_t i = 0; i < res.n_failures; i++) {
		const struct e2_provision_failure *f = &res.failures[i];

		if (f->code < 200 || f->code > 599 || f->reason == NULL)
			abort();
		fuzz_csp_no_secret(f->reason, SIZE_MAX);
		fuzz_csp_no_secret(f->locuri, SIZE_MAX);
	}
	for (size_t i = 0; i < res.n_notes; i++)
		fuzz_csp_no_secret(res.notes[i], SIZE_MAX);
	e2_provision_result_free(&res);
	return 0;
}
