/* SPDX-License-Identifier: MIT */
/* check_csp.c -- unit tests for the EMAIL2 node table, Atomic and statuses */
#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "csp/csp.h"
#include "csp/csp_nodes.h"
#include "engine/email2.h"
#include "engine/store.h"
#include "tests/unit/testutil.h"

/*
 * Most tests run small command trees built from a script (one command per
 * line) so they read like the documents they stand for and do not depend
 * on the XML reader; the "provision" case runs real documents from
 * tests/data/csp/ through e2_provision().
 *
 *   Atomic {          Sequence {          }
 *   Add URI           Add URI = DATA      Replace URI = DATA
 *   Delete URI        Get URI             Exec URI
 *   Add -             (an Item without Target)
 *   Add               (a command without Item: the line is just the name)
 *
 * A URI starting with "G" stands for the account below ("G/INSERVER").
 */
#define GUID "{C556E16F-56C4-4edb-9C64-D9469EE1FBE1}"
#define G_DM "./Vendor/MSFT/EMAIL2/0x7BC556E16F-56C4-4edb-9C64-D9469EE1FBE10x7D"
#define SECRET "s3cret-Pa55"

/* a full IMAP4 account, Microsoft's sample shape */
#define CREATE                                                                 \
	"Atomic {\n"                                                           \
	"Add G\n"                                                              \
	"Replace G/ACCOUNTTYPE = Email\n"                                      \
	"Replace G/AUTHNAME = testuser\n"                                      \
	"Replace G/AUTHSECRET = " SECRET "\n"                                  \
	"Replace G/INSERVER = mail.email2.test\n"                              \
	"Replace G/OUTSERVER = mail.email2.test:587\n"                         \
	"Replace G/REPLYADDR = testuser@email2.test\n"                         \
	"Replace G/SERVICENAME = Test account\n"                               \
	"Replace G/SERVICETYPE = IMAP4\n"                                      \
	"Replace G/SYNCINGCONTENTTYPES = 2\n"                                  \
	"}\n"
#define CREATE_OK "200 200 200 200 200 200 200 200 200 200 200"

/* every required node but the one the row adds, through Replace */
#define REQUIRED_BUT_REPLYADDR                                                 \
	"Replace G/ACCOUNTTYPE = Email\n"                                      \
	"Replace G/AUTHNAME = testuser\n"                                      \
	"Replace G/INSERVER = mail.email2.test\n"                              \
	"Replace G/OUTSERVER = mail.email2.test\n"                             \
	"Replace G/SERVICENAME = Test\n"                                       \
	"Replace G/SERVICETYPE = POP3\n"                                       \
	"Replace G/SYNCINGCONTENTTYPES = 0x2\n"

static char tmpdir[PATH_MAX];
static struct e2_store *store;
static unsigned next_cmdid;

static void
csp_setup(void)
{
	char dir[PATH_MAX + 8];
	struct e2_err err = {0};

	tu_mkdtemp(tmpdir, sizeof(tmpdir), "check_csp");
	(void)snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	ck_assert_msg(e2_store_open(dir, &store, &err) == E2_OK, "%s", err.msg);
	next_cmdid = 1;
}

static void
csp_teardown(void)
{
	e2_store_close(&store);
	tu_rmtree(tmpdir);
	tmpdir[0] = '\0';
}

/* ---- a command tree from a script ---------------------------------------- */

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	ck_assert_ptr_nonnull(d);
	return d;
}

static struct csp_cmd *
script_grow(struct csp_cmd **arr, size_t *n)
{
	struct csp_cmd *a = realloc(*arr, (*n + 1) * sizeof(*a));

	ck_assert_ptr_nonnull(a);
	*arr = a;
	memset(&a[*n], 0, sizeof(a[*n]));
	return &a[(*n)++];
}

static const struct {
	const char *name;
	enum csp_cmd_kind kind;
} script_kinds[] = {
	{"Atomic", CSP_CMD_ATOMIC}, {"Sequence", CSP_CMD_SEQUENCE},
	{"Add", CSP_CMD_ADD},       {"Replace", CSP_CMD_REPLACE},
	{"Delete", CSP_CMD_DELETE}, {"Get", CSP_CMD_GET},
};

/* "G..." -> G_DM "..." */
static char *
script_uri(const char *s, size_t n)
{
	char buf[512];

	if (n > 0 && s[0] == 'G') {
		(void)snprintf(buf, sizeof(buf), "%s%.*s", G_DM, (int)n - 1,
			       s + 1);
		return xstrdup(buf);
	}
	return xstrndup(s, n);
}

/* Parses lines from *p until "}" or the end into arr. */
static void
script_parse(const char **p, struct csp_cmd **arr, size_t *n)
{
	while (**p != '\0') {
		const char *line = *p;
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		const char *sp = memchr(line, ' ', len);
		size_t wl = sp != NULL ? (size_t)(sp - line) : len;
		struct csp_cmd *c;
		char idbuf[16];

		*p = eol != NULL ? eol + 1 : line + len;
		if (len == 0)
			continue;
		if (line[0] == '}')
			return;
		c = script_grow(arr, n);
		c->kind = CSP_CMD_UNKNOWN;
		c->name = xstrndup(line, wl);
		for (size_t i = 0;
		     i < sizeof(script_kinds) / sizeof(script_kinds[0]); i++)
			if (strcmp(c->name, script_kinds[i].name) == 0)
				c->kind = script_kinds[i].kind;
		(void)snprintf(idbuf, sizeof(idbuf), "%u", next_cmdid++);
		c->cmdid = xstrdup(idbuf);
		if (c->kind == CSP_CMD_ATOMIC || c->kind == CSP_CMD_SEQUENCE) {
			script_parse(p, &c->children, &c->n_children);
			continue;
		}
		if (sp == NULL)
			continue; /* a command without Item */
		{
			const char *uri = sp + 1;
			const char *eq = strstr(uri, " = ");
			size_t ul = eq != NULL && eq < line + len
					    ? (size_t)(eq - uri)
					    : (size_t)(line + len - uri);
			struct csp_item *it;

			c->items = calloc(1, sizeof(*c->items));
			ck_assert_ptr_nonnull(c->items);
			c->n_items = 1;
			it = &c->items[0];
			if (!(ul == 1 && uri[0] == '-'))
				it->target = script_uri(uri, ul);
			if (eq != NULL && eq < line + len)
				it->data =
					xstrndup(eq + 3, (size_t)(line + len -
								  (eq + 3)));
			it->format = xstrdup(it->data != NULL ? "chr" : "node");
		}
	}
}

static void
script_free_cmds(struct csp_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < cmds[i].n_items; j++) {
			free(cmds[i].items[j].target);
			free(cmds[i].items[j].format);
			free(cmds[i].items[j].type);
			free(cmds[i].items[j].data);
		}
		free(cmds[i].items);
		script_free_cmds(cmds[i].children, cmds[i].n_children);
		free(cmds[i].name);
		free(cmds[i].cmdid);
		free(cmds[i].format);
	}
	free(cmds);
}

static struct csp_doc *
script_doc(const char *script, enum e2_doc_kind kind)
{
	struct csp_doc *d = calloc(1, sizeof(*d));
	const char *p = script;

	ck_assert_ptr_nonnull(d);
	d->kind = kind;
	if (kind == E2_DOC_SYNCML) {
		d->verdtd = xstrdup("1.2");
		d->verproto = xstrdup("DM/1.2");
		d->sessionid = xstrdup("7");
		d->msgid = xstrdup("3");
		d->hdr_target = xstrdup("urn:device");
		d->hdr_source = xstrdup("https://mdm.example/dm");
	}
	script_parse(&p, &d->cmds, &d->n_cmds);
	return d;
}

static void
script_doc_free(struct csp_doc **d)
{
	if (*d == NULL)
		return;
	script_free_cmds((*d)->cmds, (*d)->n_cmds);
	free((*d)->verdtd);
	free((*d)->verproto);
	free((*d)->sessionid);
	free((*d)->msgid);
	free((*d)->hdr_target);
	free((*d)->hdr_source);
	free(*d);
	*d = NULL;
}

/* Runs a script; the caller frees both with run_free(). */
static void
run(const char *script, struct csp_doc **doc_out, struct csp_outcome *out)
{
	struct e2_err err = {0};

	*doc_out = script_doc(script, E2_DOC_SYNCML);
	memset(out, 0, sizeof(*out));
	ck_assert_msg(csp_apply_doc(store, *doc_out, out, &err) == E2_OK, "%s",
		      err.msg);
}

static void
run_free(struct csp_doc **doc, struct csp_outcome *out)
{
	csp_outcome_free(out);
	script_doc_free(doc);
}

static void
codes_text(const struct csp_outcome *out, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < out->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%d",
				      i > 0 ? " " : "", out->st[i].code);
}

static void
msgs_dump(const struct csp_outcome *out)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->st[i].msg[0] != '\0')
			fprintf(stderr, "  [%zu] %d %s\n", i, out->st[i].code,
				out->st[i].msg);
}

/* Runs a script that must succeed entirely. */
static void
run_ok(const char *script)
{
	struct csp_doc *doc = NULL;
	struct csp_outcome out;

	run(script, &doc, &out);
	if (out.failed != 0)
		msgs_dump(&out);
	ck_assert_uint_eq(out.failed, 0);
	run_free(&doc, &out);
}

/* ---- checks on the store ------------------------------------------------- */

static bool
account_exists(void)
{
	struct e2_err err = {0};
	bool exists = false;

	ck_assert_int_eq(store_account_exists(store, GUID, &exists, &err),
			 E2_OK);
	return exists;
}

/* The stored value of node (NULL: absent; "(interior)" for one). */
static char *
node_value(const char *node)
{
	struct e2_err err = {0};
	bool found = false;
	char *v = NULL;

	ck_assert_int_eq(store_node_get(store, GUID, node, &found, &v, &err),
			 E2_OK);
	if (found && v == NULL)
		return xstrdup("(interior)");
	return v;
}

/*
 * post: ';'-separated checks: "@absent", "@exists", "NODE=value",
 * "NODE!" (not stored).
 */
static void
check_post(const char *post)
{
	char buf[1024];
	char *save = NULL;

	if (post == NULL)
		return;
	(void)snprintf(buf, sizeof(buf), "%s", post);
	for (char *tok = strtok_r(buf, ";", &save); tok != NULL;
	     tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '=');
		size_t tl = strlen(tok);

		if (strcmp(tok, "@absent") == 0) {
			ck_assert_msg(!account_exists(), "account exists");
		} else if (strcmp(tok, "@exists") == 0) {
			ck_assert_msg(account_exists(), "account missing");
		} else if (tl > 0 && tok[tl - 1] == '!') {
			char *v;

			tok[tl - 1] = '\0';
			v = node_value(tok);
			ck_assert_msg(v == NULL, "%s is stored: %s", tok, v);
		} else {
			char *v;

			ck_assert_ptr_nonnull(eq);
			*eq = '\0';
			v = node_value(tok);
			ck_assert_msg(v != NULL, "%s missing", tok);
			ck_assert_str_eq(v, eq + 1);
			free(v);
		}
	}
}

/* ---- the table-driven rule tests ----------------------------------------- */

struct apply_row {
	const char *name;
	const char *setup;  /* applied first; every Status must be 200 */
	const char *script; /* the document under test */
	const char *codes;  /* every Status code, in order */
	const char *post;   /* check_post() */
	const char *msg;    /* a reason must contain this (NULL: no check) */
	const char *result; /* value of the last Get's first node */
};

static void
apply_row_run(const struct apply_row *row)
{
	struct csp_doc *doc = NULL;
	struct csp_outcome out;
	char codes[512];

	if (row->setup != NULL)
		run_ok(row->setup);
	run(row->script, &doc, &out);
	codes_text(&out, codes, sizeof(codes));
	if (strcmp(codes, row->codes) != 0)
		msgs_dump(&out);
	ck_assert_msg(strcmp(codes, row->codes) == 0,
		      "%s: codes \"%s\", want \"%s\"", row->name, codes,
		      row->codes);
	if (row->msg != NULL) {
		bool seen = false;

		for (size_t i = 0; i < out.n; i++)
			if (strstr(out.st[i].msg, row->msg) != NULL)
				seen = true;
		if (!seen)
			msgs_dump(&out);
		ck_assert_msg(seen, "%s: no reason contains \"%s\"", row->name,
			      row->msg);
	}
	for (size_t i = 0; i < out.n; i++)
		ck_assert_msg(strstr(out.st[i].msg, SECRET) == NULL,
			      "%s: a reason shows the secret", row->name);
	if (row->result != NULL) {
		const struct csp_status *last = NULL;

		for (size_t i = 0; i < out.n; i++)
			if (out.st[i].has_results)
				last = &out.st[i];
		ck_assert_ptr_nonnull(last);
		ck_assert_uint_gt(last->n_nodes, 0);
		ck_assert_ptr_nonnull(last->nodes[0].value);
		ck_assert_str_eq(last->nodes[0].value, row->result);
	}
	run_free(&doc, &out);
	check_post(row->post);
}

static const struct apply_row atomic_rows[] = {
	{"create", NULL, CREATE, CREATE_OK,
	 "@exists;INSERVER=mail.email2.test;SERVICETYPE=IMAP4", NULL, NULL},
	{"add outside atomic is 405", NULL, "Add G", "405", "@absent",
	 "outside Atomic", NULL},
	{"replace outside atomic is 405", CREATE, "Replace G/NAME = Ann", "405",
	 "NAME!", "outside Atomic", NULL},
	{"add outside atomic inside sequence is 405", NULL,
	 "Sequence {\nAdd G\n}", "200 405", "@absent", NULL, NULL},
	{"failed create leaves no account", NULL,
	 "Atomic {\nAdd G\nReplace G/ACCOUNTTYPE = Email\n"
	 "Replace G/DWNDAY = 5\n}",
	 "507 216 216 400", "@absent", "DWNDAY \"5\"", NULL},
	{"commands after the failure are not run", NULL,
	 "Atomic {\nAdd G\nReplace G/DWNDAY = 5\nReplace G/NAME = x\n}",
	 "507 216 400 216", "@absent", NULL, NULL},
	{"failed edit restores the old configuration", CREATE,
	 "Atomic {\nReplace G/INSERVER = new.email2.test\n"
	 "Delete G/AUTHSECRET\nReplace G/NAME = Ann\n"
	 "Replace G/LINGER = 7\n}",
	 "507 216 216 216 400",
	 "INSERVER=mail.email2.test;AUTHSECRET=" SECRET ";NAME!", "LINGER",
	 NULL},
	{"edit commits", CREATE,
	 "Atomic {\nReplace G/INSERVER = new.email2.test:993\n"
	 "Delete G/AUTHSECRET\n}",
	 "200 200 200", "INSERVER=new.email2.test:993;AUTHSECRET!", NULL, NULL},
	{"required node missing at commit", NULL,
	 "Atomic {\nAdd G\n" REQUIRED_BUT_REPLYADDR "}",
	 "507 216 216 216 216 216 216 216 216", "@absent",
	 "required node REPLYADDR missing", NULL},
	{"required nodes complete", NULL,
	 "Atomic {\nAdd G\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200 200",
	 "@exists;SYNCINGCONTENTTYPES=2;SERVICETYPE=POP3", NULL, NULL},
	{"deleting a required node fails the atomic", CREATE,
	 "Atomic {\nDelete G/AUTHNAME\n}", "507 216", "AUTHNAME=testuser",
	 "required node AUTHNAME missing", NULL},
	{"delete and replace a required node in one atomic", CREATE,
	 "Atomic {\nDelete G/AUTHNAME\nReplace G/AUTHNAME = other\n}",
	 "200 200 200", "AUTHNAME=other", NULL, NULL},
	{"lone delete of a required node is 405", CREATE, "Delete G/AUTHNAME",
	 "405", "AUTHNAME=testuser", "required node AUTHNAME missing", NULL},
	{"smtpalt enabled without password", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = TRUE\n"
	 "Replace G/SMTPALTAUTHNAME = alt\n}",
	 "507 216 216", "SMTPALTENABLED!;SMTPALTAUTHNAME!",
	 "SMTPALTPASSWORD missing", NULL},
	{"smtpalt domain alone", CREATE,
	 "Atomic {\nReplace G/SMTPALTDOMAIN = corp\n}", "507 216",
	 "SMTPALTDOMAIN!", "partial SMTPALT", NULL},
	{"smtpalt password alone, disabled", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = FALSE\n"
	 "Replace G/SMTPALTPASSWORD = x\n}",
	 "507 216 216", "SMTPALTPASSWORD!", "SMTPALTAUTHNAME missing", NULL},
	{"smtpalt empty authname counts as missing", CREATE,
	 "Atomic {\nReplace G/SMTPALTAUTHNAME = \n"
	 "Replace G/SMTPALTPASSWORD = x\n}",
	 "507 216 216", "SMTPALTPASSWORD!", "SMTPALTAUTHNAME missing", NULL},
	{"smtpalt enabled alone", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = 1\n}", "507 216",
	 "SMTPALTENABLED!", "partial SMTPALT", NULL},
	{"smtpalt complete", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = true\n"
	 "Replace G/SMTPALTAUTHNAME = alt\n"
	 "Replace G/SMTPALTPASSWORD = altpw\n}",
	 "200 200 200 200", "SMTPALTENABLED=TRUE;SMTPALTAUTHNAME=alt", NULL,
	 NULL},
	{"smtpalt disabled alone", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = FALSE\n}", "200 200",
	 "SMTPALTENABLED=FALSE", NULL, NULL},
	{"removing the smtpalt password breaks the pair", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = TRUE\n"
	 "Replace G/SMTPALTAUTHNAME = alt\n"
	 "Replace G/SMTPALTPASSWORD = altpw\n}\n"
	 "Delete G/SMTPALTPASSWORD",
	 "200 200 200 200 405", "SMTPALTPASSWORD=altpw", "partial SMTPALT",
	 NULL},
	{"nested atomic failure fails the outer one", CREATE,
	 "Atomic {\nReplace G/NAME = Ann\nAtomic {\n"
	 "Replace G/LINGER = 3\n}\n}",
	 "507 216 507 400", "NAME!", NULL, NULL},
	{"nested atomic commits with the outer one", CREATE,
	 "Atomic {\nReplace G/NAME = Ann\nAtomic {\n"
	 "Replace G/LINGER = 30\n}\n}",
	 "200 200 200 200", "NAME=Ann;LINGER=30", NULL, NULL},
	{"sequence runs each command on its own", CREATE,
	 "Sequence {\nDelete G/NAME\nGet G/INSERVER\n"
	 "Atomic {\nReplace G/NAME = Bo\n}\n}",
	 "200 404 200 200 200", "NAME=Bo", NULL, "mail.email2.test"},
	{"sequence inside atomic fails it", CREATE,
	 "Atomic {\nReplace G/NAME = Ann\nSequence {\n"
	 "Replace G/KEEPMAX = 1\n}\n}",
	 "507 216 216 400", "NAME!", NULL, NULL},
	{"get inside a failed atomic is rolled back", CREATE,
	 "Atomic {\nGet G/INSERVER\nReplace G/RETRIEVE = 7\n}", "507 216 400",
	 NULL, NULL, NULL},
	{"exec is 406", CREATE, "Exec G/NAME", "406", NULL, "not supported",
	 NULL},
	{"exec inside atomic fails it", CREATE,
	 "Atomic {\nReplace G/NAME = Ann\nExec G\n}", "507 216 406", "NAME!",
	 NULL, NULL},
	{"empty atomic", NULL, "Atomic {\n}", "200", NULL, NULL, NULL},
	{"two atomics are independent", NULL,
	 CREATE "Atomic {\nReplace G/NAME = Ann\nReplace G/LINGER = 1\n}",
	 CREATE_OK " 507 216 400", "@exists;NAME!", NULL, NULL},
};

static const struct apply_row add_rows[] = {
	{"add existing guid is 418", CREATE, "Atomic {\nAdd G\n}", "507 418",
	 "@exists;INSERVER=mail.email2.test", "exists already", NULL},
	{"add existing leaf is 418", CREATE,
	 "Atomic {\nAdd G/INSERVER = other.email2.test\n}", "507 418",
	 "INSERVER=mail.email2.test", "INSERVER exists already", NULL},
	{"add new leaf", CREATE, "Atomic {\nAdd G/NAME = Ann Example\n}",
	 "200 200", "NAME=Ann Example", NULL, NULL},
	{"add leaf creates the account", NULL,
	 "Atomic {\nAdd G/ACCOUNTTYPE = Email\nAdd G/AUTHNAME = u\n"
	 "Add G/INSERVER = h.test\nAdd G/OUTSERVER = h.test\n"
	 "Add G/REPLYADDR = u@h.test\nAdd G/SERVICENAME = S\n"
	 "Add G/SERVICETYPE = IMAP4\nAdd G/SYNCINGCONTENTTYPES = 2\n}",
	 "200 200 200 200 200 200 200 200 200", "@exists;AUTHNAME=u", NULL,
	 NULL},
	{"add 812C000B is 405", CREATE,
	 "Atomic {\nAdd G/TAGPROPS/812C000B = 1\n}", "507 405",
	 "TAGPROPS/812C000B!", "does not support Add", NULL},
	{"add 8128000B creates TAGPROPS", CREATE,
	 "Atomic {\nAdd G/TAGPROPS/8128000B = 1\n}", "200 200",
	 "TAGPROPS=(interior);TAGPROPS/8128000B=1", NULL, NULL},
	{"add TAGPROPS interior", CREATE, "Atomic {\nAdd G/TAGPROPS\n}",
	 "200 200", "TAGPROPS=(interior)", NULL, NULL},
	{"add TAGPROPS twice is 418", CREATE,
	 "Atomic {\nAdd G/TAGPROPS\n}\nAtomic {\nAdd G/TAGPROPS\n}",
	 "200 200 507 418", "TAGPROPS=(interior)", NULL, NULL},
	{"add without data is 400", CREATE, "Atomic {\nAdd G/NAME\n}",
	 "507 400", "NAME!", "without Data", NULL},
	{"item without target is 400", CREATE, "Atomic {\nAdd -\n}", "507 400",
	 NULL, "without Target", NULL},
	{"command without item is 400", CREATE, "Atomic {\nAdd\n}", "507 400",
	 NULL, "without Item", NULL},
	{"add of the root is 405", NULL,
	 "Atomic {\nAdd ./Vendor/MSFT/EMAIL2\n}", "507 405", NULL, NULL, NULL},
	{"add of an unknown node is 404", CREATE, "Atomic {\nAdd G/FOO = 1\n}",
	 "507 404", NULL, "no node FOO", NULL},
	{"add of a bad locuri is 404", NULL,
	 "Atomic {\nAdd ./Vendor/MSFT/EMAIL2/nonsense\n}", "507 404", NULL,
	 NULL, NULL},
	{"add outside EMAIL2 is 404", NULL,
	 "Atomic {\nAdd ./Vendor/MSFT/Other/x = 1\n}", "507 404", NULL, NULL,
	 NULL},
	{"add with literal braces", NULL,
	 "Atomic {\nAdd ./Vendor/MSFT/EMAIL2/" GUID "\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200 200", "@exists", NULL, NULL},
	{"add with percent braces", NULL,
	 "Atomic {\nAdd ./Vendor/MSFT/EMAIL2/"
	 "%7BC556E16F-56C4-4edb-9C64-D9469EE1FBE1%7D\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200 200", "@exists", NULL, NULL},
	{"add under ./User/", NULL,
	 "Atomic {\nAdd ./User/Vendor/MSFT/EMAIL2/0x7BC556E16F-56C4-4edb-"
	 "9C64-D9469EE1FBE10x7D\n" REQUIRED_BUT_REPLYADDR
	 "Replace ./User/Vendor/MSFT/EMAIL2/" GUID "/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200 200",
	 "@exists;REPLYADDR=a@b.test", NULL, NULL},
};

static const struct apply_row replace_rows[] = {
	{"replace servicename changing it is 405", CREATE,
	 "Atomic {\nReplace G/SERVICENAME = Other\n}", "507 405",
	 "SERVICENAME=Test account", "Replace cannot change SERVICENAME", NULL},
	{"replace servicetype changing it is 405", CREATE,
	 "Atomic {\nReplace G/SERVICETYPE = POP3\n}", "507 405",
	 "SERVICETYPE=IMAP4", NULL, NULL},
	{"replace servicetype with its value is 200", CREATE,
	 "Atomic {\nReplace G/SERVICETYPE = imap4\n}", "200 200",
	 "SERVICETYPE=IMAP4", NULL, NULL},
	{"replace servicename after delete is 200", CREATE,
	 "Atomic {\nDelete G/SERVICENAME\nReplace G/SERVICENAME = New\n}",
	 "200 200 200", "SERVICENAME=New", NULL, NULL},
	{"replace creates the TAGPROPS path", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n}", "200 200",
	 "TAGPROPS=(interior);TAGPROPS/812C000B=1", NULL, NULL},
	{"replace 812C000B twice", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n}\n"
	 "Atomic {\nReplace G/TAGPROPS/812C000B = 0\n}",
	 "200 200 200 200", "TAGPROPS/812C000B=0", NULL, NULL},
	{"replace TAGPROPS keeps its children", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/8128000B = 1\nReplace G/TAGPROPS\n}",
	 "200 200 200", "TAGPROPS/8128000B=1", NULL, NULL},
	{"replace creates the account", NULL,
	 "Atomic {\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200", "@exists", NULL, NULL},
	{"replace of the guid is 405", CREATE, "Atomic {\nReplace G\n}",
	 "507 405", NULL, "supports Get, Add, Delete", NULL},
	{"replace stores the canonical form", CREATE,
	 "Atomic {\nReplace G/SYNCINGCONTENTTYPES = 0xFF\n"
	 "Replace G/ACCOUNTTYPE = email\nReplace G/DWNDAY = 090\n"
	 "Replace G/CELLULARONLY = true\n}",
	 "200 200 200 200 200",
	 "SYNCINGCONTENTTYPES=255;ACCOUNTTYPE=Email;DWNDAY=90;CELLULARONLY=1",
	 NULL, NULL},
	{"replace trims white space", CREATE,
	 "Atomic {\nReplace G/NAME =  \t Ann Example \r\n}", "200 200",
	 "NAME=Ann Example", NULL, NULL},
	{"replace keeps a secret's spaces", CREATE,
	 "Atomic {\nReplace G/AUTHSECRET =  pw \n}", "200 200",
	 "AUTHSECRET= pw ", NULL, NULL},
	{"replace refuses control characters", CREATE,
	 "Atomic {\nReplace G/NAME = a\tb\n}", "507 400", NULL,
	 "control character", NULL},
	{"replace refuses a secret with controls without showing it", CREATE,
	 "Atomic {\nReplace G/AUTHSECRET = " SECRET "\t\n}", "507 400",
	 "AUTHSECRET=" SECRET, "(secret)", NULL},
	{"replace without data is 400", CREATE, "Atomic {\nReplace G/NAME\n}",
	 "507 400", NULL, "without Data", NULL},
	{"replace with an empty required value is 400", CREATE,
	 "Atomic {\nReplace G/AUTHNAME = \n}", "507 400", "AUTHNAME=testuser",
	 "empty", NULL},
	{"replace with an empty optional text is 200", CREATE,
	 "Atomic {\nReplace G/DOMAIN = \n}", "200 200", "DOMAIN=", NULL, NULL},
	{"replace inserver too long is 400", CREATE,
	 "Atomic {\nReplace G/INSERVER = "
	 "a23456789.123456789.123456789.123456789.123456789.123456789.123\n}",
	 "507 400", NULL, "longer than 62", NULL},
	{"replace inserver bad port is 400", CREATE,
	 "Atomic {\nReplace G/INSERVER = mail.email2.test:99999\n}", "507 400",
	 "INSERVER=mail.email2.test", NULL, NULL},
};

static const struct apply_row delete_rows[] = {
	{"delete inserver is 405", CREATE, "Delete G/INSERVER", "405",
	 "INSERVER=mail.email2.test", "does not support Delete", NULL},
	{"delete inserver inside atomic is 405", CREATE,
	 "Atomic {\nDelete G/INSERVER\n}", "507 405",
	 "INSERVER=mail.email2.test", NULL, NULL},
	{"delete 812C000B is 405", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n}\n"
	 "Delete G/TAGPROPS/812C000B",
	 "200 200 405", "TAGPROPS/812C000B=1", "only Get, Replace", NULL},
	{"delete the account", CREATE, "Delete G", "200", "@absent", NULL,
	 NULL},
	{"delete an absent account is 404", NULL, "Delete G", "404", NULL,
	 "no account", NULL},
	{"delete then recreate in one atomic", CREATE,
	 "Atomic {\nDelete G\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n}",
	 "200 200 200 200 200 200 200 200 200 200",
	 "SERVICETYPE=POP3;AUTHSECRET!", NULL, NULL},
	{"delete an absent leaf is 404", CREATE, "Delete G/NAME", "404", NULL,
	 "NAME not set", NULL},
	{"delete a leaf of an absent account is 404", NULL, "Delete G/NAME",
	 "404", NULL, "no account", NULL},
	{"delete an optional leaf", CREATE, "Delete G/AUTHSECRET", "200",
	 "AUTHSECRET!", NULL, NULL},
	{"delete an unknown node is 404", CREATE, "Delete G/NOPE", "404", NULL,
	 "no node NOPE", NULL},
	{"delete of the root is 405", CREATE, "Delete ./Vendor/MSFT/EMAIL2",
	 "405", "@exists", NULL, NULL},
	{"delete TAGPROPS takes its children", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/8128000B = 1\n}\nDelete G/TAGPROPS",
	 "200 200 200", "TAGPROPS!;TAGPROPS/8128000B!", NULL, NULL},
	{"delete with a bad locuri is 404", CREATE,
	 "Delete ./Vendor/MSFT/EMAIL2/0x7Bzz0x7D", "404", "@exists", NULL,
	 NULL},
};

static const struct apply_row get_rows[] = {
	{"get a leaf", CREATE, "Get G/INSERVER", "200", NULL, NULL,
	 "mail.email2.test"},
	{"get a secret is masked", CREATE, "Get G/AUTHSECRET", "200", NULL,
	 NULL, CSP_SECRET_MASK},
	{"get the smtpalt password is masked", CREATE,
	 "Atomic {\nReplace G/SMTPALTENABLED = TRUE\n"
	 "Replace G/SMTPALTAUTHNAME = alt\n"
	 "Replace G/SMTPALTPASSWORD = " SECRET "\n}\n"
	 "Get G/SMTPALTPASSWORD",
	 "200 200 200 200 200", NULL, NULL, CSP_SECRET_MASK},
	{"get the root is 405", CREATE, "Get ./Vendor/MSFT/EMAIL2", "405", NULL,
	 "not enumerable", NULL},
	{"get the root under ./User/ is 405", CREATE,
	 "Get ./User/Vendor/MSFT/EMAIL2", "405", NULL, NULL, NULL},
	{"get the account", CREATE, "Get G", "200", NULL, NULL, "Email"},
	{"get an absent account is 404", NULL, "Get G", "404", NULL,
	 "no account", NULL},
	{"get an absent leaf is 404", CREATE, "Get G/NAME", "404", NULL,
	 "NAME not set", NULL},
	{"get a leaf of an absent account is 404", NULL, "Get G/NAME", "404",
	 NULL, NULL, NULL},
	{"get an unknown node is 404", CREATE, "Get G/PASSWORD", "404", NULL,
	 "no node PASSWORD", NULL},
	{"get a bad locuri is 404", CREATE, "Get ./Vendor/MSFT/EMAIL2/x/y/z",
	 "404", NULL, NULL, NULL},
	{"get without target is 400", CREATE, "Get -", "400", NULL, NULL, NULL},
	{"get under ./User/", CREATE,
	 "Get ./User/Vendor/MSFT/EMAIL2/" GUID "/REPLYADDR", "200", NULL, NULL,
	 "testuser@email2.test"},
	{"get with percent braces", CREATE,
	 "Get ./Vendor/MSFT/EMAIL2/%7BC556E16F-56C4-4edb-9C64-D9469EE1FBE1%7D"
	 "/SERVICETYPE",
	 "200", NULL, NULL, "IMAP4"},
	{"get TAGPROPS", CREATE,
	 "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n}\nGet G/TAGPROPS",
	 "200 200 200", NULL, NULL, NULL},
};

START_TEST(test_csp_atomic_rules)
{
	apply_row_run(&atomic_rows[_i]);
}
END_TEST

START_TEST(test_csp_add_rules)
{
	apply_row_run(&add_rows[_i]);
}
END_TEST

START_TEST(test_csp_replace_rules)
{
	apply_row_run(&replace_rows[_i]);
}
END_TEST

START_TEST(test_csp_delete_rules)
{
	apply_row_run(&delete_rows[_i]);
}
END_TEST

START_TEST(test_csp_get_rules)
{
	apply_row_run(&get_rows[_i]);
}
END_TEST

/* The whole account survives a failed edit, node for node. */
START_TEST(test_csp_atomic_rollback_keeps_every_node)
{
	struct store_node *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	struct e2_err err = {0};
	struct csp_doc *doc = NULL;
	struct csp_outcome out;

	run_ok(CREATE "Atomic {\nReplace G/TAGPROPS/8128000B = 1\n}");
	ck_assert_int_eq(store_node_list(store, GUID, &before, &nb, &err),
			 E2_OK);
	run("Atomic {\nDelete G/TAGPROPS\nReplace G/NAME = x\n"
	    "Replace G/AUTHSECRET = new\nDelete G/REPLYADDR\n"
	    "Replace G/OUTSERVER = x.test\nAdd G/AUTHNAME = dup\n}",
	    &doc, &out);
	ck_assert_int_eq(out.st[0].code, 507);
	ck_assert_int_eq(out.st[6].code, 418);
	run_free(&doc, &out);
	ck_assert_int_eq(store_node_list(store, GUID, &after, &na, &err),
			 E2_OK);
	ck_assert_uint_eq(na, nb);
	for (size_t i = 0; i < na; i++) {
		ck_assert_str_eq(after[i].name, before[i].name);
		if (before[i].value == NULL)
			ck_assert_ptr_null(after[i].value);
		else
			ck_assert_str_eq(after[i].value, before[i].value);
	}
	store_nodes_free(&before, nb);
	store_nodes_free(&after, na);
}
END_TEST

/* ---- the node table ------------------------------------------------------ */

static const struct {
	const char *node;
	const char *ops; /* G A R D, r = Replace only while unset */
	bool required;
} table_rows[] = {
	{"ACCOUNTICON", "GARD", false},
	{"ACCOUNTTYPE", "GARD", true},
	{"AUTHNAME", "GARD", true},
	{"AUTHREQUIRED", "GARD", false},
	{"AUTHSECRET", "GARD", false},
	{"DOMAIN", "GARD", false},
	{"DWNDAY", "GARD", false},
	{"INSERVER", "GAR", true},
	{"LINGER", "GARD", false},
	{"KEEPMAX", "GARD", false},
	{"NAME", "GARD", false},
	{"OUTSERVER", "GARD", true},
	{"REPLYADDR", "GARD", true},
	{"SERVICENAME", "GArD", true},
	{"SERVICETYPE", "GArD", true},
	{"RETRIEVE", "GARD", false},
	{"SERVERDELETEACTION", "GARD", false},
	{"CELLULARONLY", "GARD", false},
	{"SYNCINGCONTENTTYPES", "GARD", true},
	{"CONTACTSSERVER", "GARD", false},
	{"CALENDARSERVER", "GARD", false},
	{"CONTACTSSERVERREQUIRESSL", "GARD", false},
	{"CALENDARSERVERREQUIRESSL", "GARD", false},
	{"CONTACTSSYNCSCHEDULE", "GARD", false},
	{"CALENDARSYNCSCHEDULE", "GARD", false},
	{"SMTPALTAUTHNAME", "GARD", false},
	{"SMTPALTDOMAIN", "GARD", false},
	{"SMTPALTENABLED", "GARD", false},
	{"SMTPALTPASSWORD", "GARD", false},
	{"TAGPROPS", "GARD", false},
	{"TAGPROPS/8128000B", "GARD", false},
	{"TAGPROPS/812C000B", "GR", false},
};

START_TEST(test_csp_table_matches_spec)
{
	const struct csp_node *n = csp_node_find(table_rows[_i].node);
	unsigned want = 0;

	ck_assert_ptr_nonnull(n);
	for (const char *p = table_rows[_i].ops; *p != '\0'; p++)
		want |= *p == 'G'   ? CSP_OP_GET
			: *p == 'A' ? CSP_OP_ADD
			: *p == 'R' ? CSP_OP_REPLACE
			: *p == 'r' ? CSP_OP_REPLACE_NEW
				    : CSP_OP_DELETE;
	ck_assert_uint_eq(n->ops, want);
	ck_assert_int_eq(n->required, table_rows[_i].required);
	ck_assert_int_eq(n->secret,
			 strcmp(n->name, "AUTHSECRET") == 0 ||
				 strcmp(n->name, "SMTPALTPASSWORD") == 0);
	ck_assert_int_eq(n->interior, strcmp(n->name, "TAGPROPS") == 0);
}
END_TEST

START_TEST(test_csp_table_is_complete)
{
	size_t n;
	const struct csp_node *t = csp_nodes_table(&n);

	ck_assert_uint_eq(n, sizeof(table_rows) / sizeof(table_rows[0]));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(t[i].name, table_rows[i].node);
	ck_assert_ptr_null(csp_node_find("FOO"));
	ck_assert_ptr_null(csp_node_find("inserver"));
	ck_assert_ptr_null(csp_node_find("TAGPROPS/0"));
}
END_TEST

/* ---- value rules: a valid and an invalid row per rule ----------------------
 */

static const struct {
	const char *node;
	const char *value;
	const char *canon; /* NULL: refused */
} value_rows[] = {
	{"ACCOUNTTYPE", "Email", "Email"},
	{"ACCOUNTTYPE", "vvm", "VVM"},
	{"ACCOUNTTYPE", "Exchange", NULL},
	{"ACCOUNTTYPE", "", NULL},
	{"AUTHREQUIRED", "0", "0"},
	{"AUTHREQUIRED", "1", "1"},
	{"AUTHREQUIRED", "2", NULL},
	{"AUTHREQUIRED", "TRUE", NULL},
	{"DWNDAY", "-1", "-1"},
	{"DWNDAY", "7", "7"},
	{"DWNDAY", "14", "14"},
	{"DWNDAY", "30", "30"},
	{"DWNDAY", "90", "90"},
	{"DWNDAY", "60", NULL},
	{"DWNDAY", "+7", NULL},
	{"DWNDAY", "7days", NULL},
	{"LINGER", "0", "0"},
	{"LINGER", "15", "15"},
	{"LINGER", "120", "120"},
	{"LINGER", "45", NULL},
	{"KEEPMAX", "0", "0"},
	{"KEEPMAX", "250", "250"},
	{"KEEPMAX", "100", NULL},
	{"RETRIEVE", "512", "512"},
	{"RETRIEVE", "51200", "51200"},
	{"RETRIEVE", "4096", NULL},
	{"RETRIEVE", "-512", NULL},
	{"SERVERDELETEACTION", "1", "1"},
	{"SERVERDELETEACTION", "2", "2"},
	{"SERVERDELETEACTION", "3", "3"},
	{"SERVERDELETEACTION", "-5", "-5"},
	{"SERVERDELETEACTION", "trash", NULL},
	{"SERVERDELETEACTION", "99999999999", NULL},
	{"SERVICETYPE", "IMAP4", "IMAP4"},
	{"SERVICETYPE", "pop3", "POP3"},
	{"SERVICETYPE", "IMAP", NULL},
	{"SERVICETYPE", "EAS", NULL},
	{"INSERVER", "mail.example.com", "mail.example.com"},
	{"INSERVER", "mail.example.com:993", "mail.example.com:993"},
	{"INSERVER", "[2001:db8::1]:993", "[2001:db8::1]:993"},
	{"INSERVER", "mail.example.com:0", NULL},
	{"INSERVER", "mail example.com", NULL},
	{"INSERVER",
	 "a23456789.123456789.123456789.123456789.123456789.123456789.12",
	 "a23456789.123456789.123456789.123456789.123456789.123456789.12"},
	{"OUTSERVER",
	 "a23456789.123456789.123456789.123456789.123456789.123456789.123",
	 NULL},
	{"OUTSERVER", "smtp.example.com:587", "smtp.example.com:587"},
	{"SERVICENAME", "12345678901234567890123456789012",
	 "12345678901234567890123456789012"},
	{"SERVICENAME", "123456789012345678901234567890123", NULL},
	{"SERVICENAME", "\xc3\xa9\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9"},
	{"NAME", "Ann Example", "Ann Example"},
	{"DOMAIN", "CORP", "CORP"},
	{"REPLYADDR", "ann@example.com", "ann@example.com"},
	{"REPLYADDR", "ann.example.com", NULL},
	{"REPLYADDR", "ann@", NULL},
	{"REPLYADDR", "<ann@example.com>", NULL},
	{"REPLYADDR", "a b@example.com", NULL},
	{"SYNCINGCONTENTTYPES", "2", "2"},
	{"SYNCINGCONTENTTYPES", "0x2", "2"},
	{"SYNCINGCONTENTTYPES", "0xffffffff", "4294967295"},
	{"SYNCINGCONTENTTYPES", "4294967295", "4294967295"},
	{"SYNCINGCONTENTTYPES", "4294967296", NULL},
	{"SYNCINGCONTENTTYPES", "0x100000000", NULL},
	{"SYNCINGCONTENTTYPES", "0x", NULL},
	{"SYNCINGCONTENTTYPES", "-1", NULL},
	{"SYNCINGCONTENTTYPES", "mail", NULL},
	{"SMTPALTENABLED", "TRUE", "TRUE"},
	{"SMTPALTENABLED", "false", "FALSE"},
	{"SMTPALTENABLED", "1", "TRUE"},
	{"SMTPALTENABLED", "0", "FALSE"},
	{"SMTPALTENABLED", "yes", NULL},
	{"CELLULARONLY", "1", "1"},
	{"CELLULARONLY", "FALSE", "0"},
	{"CELLULARONLY", "2", NULL},
	{"CONTACTSSERVERREQUIRESSL", "True", "1"},
	{"CALENDARSERVERREQUIRESSL", "x", NULL},
	{"TAGPROPS/8128000B", "1", "1"},
	{"TAGPROPS/8128000B", "true", NULL},
	{"TAGPROPS/812C000B", "0", "0"},
	{"TAGPROPS/812C000B", "01", NULL},
	{"AUTHNAME", " user ", "user"},
	{"AUTHNAME", "us\x01er", NULL},
	{"AUTHNAME", "  ", NULL},
	{"AUTHSECRET", " pw ", " pw "},
	{"AUTHSECRET", "", ""},
	{"AUTHSECRET", "p\nw", NULL},
	{"ACCOUNTICON",
	 "res://AccountSettingsSharedRes{ScreenResolution}!%s."
	 "genericmail.png",
	 "res://AccountSettingsSharedRes{ScreenResolution}!%s.genericmail.png"},
	{"CONTACTSSYNCSCHEDULE", "15", "15"},
	{"CONTACTSSYNCSCHEDULE", "0", "0"},
	{"CONTACTSSYNCSCHEDULE", "10", NULL},
	{"CALENDARSYNCSCHEDULE", "120", "120"},
	{"CALENDARSYNCSCHEDULE", "daily", NULL},
	{"TAGPROPS", "1", NULL},
};

START_TEST(test_csp_value_rules)
{
	const struct csp_node *n = csp_node_find(value_rows[_i].node);
	struct e2_err err = {0};
	char *canon = NULL;
	enum e2_status rc;

	ck_assert_ptr_nonnull(n);
	rc = csp_node_check_value(n, value_rows[_i].value, &canon, &err);
	if (value_rows[_i].canon == NULL) {
		ck_assert_msg(rc == E2_EINVAL, "%s \"%s\" accepted as \"%s\"",
			      n->name, value_rows[_i].value, canon);
		ck_assert_ptr_null(canon);
		ck_assert_msg(strstr(err.msg, n->name) != NULL,
			      "message does not name the node: %s", err.msg);
	} else {
		ck_assert_msg(rc == E2_OK, "%s \"%s\": %s", n->name,
			      value_rows[_i].value, err.msg);
		ck_assert_str_eq(canon, value_rows[_i].canon);
	}
	free(canon);
}
END_TEST

/* A 1024-character limit on text with no limit in the spec. */
START_TEST(test_csp_value_text_limit)
{
	char big[CSP_TEXT_MAX + 2];
	struct e2_err err = {0};
	char *canon = NULL;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(csp_node_check_value(csp_node_find("AUTHNAME"), big,
					      &canon, &err),
			 E2_EINVAL);
	big[CSP_TEXT_MAX] = '\0';
	ck_assert_int_eq(csp_node_check_value(csp_node_find("AUTHNAME"), big,
					      &canon, &err),
			 E2_OK);
	free(canon);
}
END_TEST

START_TEST(test_csp_value_secret_never_in_message)
{
	static const char *const bad[] = {SECRET "\x01", "\t" SECRET};
	struct e2_err err = {0};
	char *canon = NULL;

	for (size_t i = 0; i < 2; i++) {
		e2_err_clear(&err);
		ck_assert_int_eq(
			csp_node_check_value(csp_node_find("SMTPALTPASSWORD"),
					     bad[i], &canon, &err),
			E2_EINVAL);
		ck_assert_ptr_null(strstr(err.msg, SECRET));
	}
}
END_TEST

/* ---- GUIDs whatever their brace form and case ------------------------------
 */

#define GUID_UPPER "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}"
#define GUID_LOWER "{c556e16f-56c4-4edb-9c64-d9469ee1fbe1}"

/* The account of CREATE, written each way a LocURI may spell it. */
static const char *const guid_forms[] = {
	"./Vendor/MSFT/EMAIL2/" GUID_UPPER,
	"./Vendor/MSFT/EMAIL2/" GUID_LOWER,
	"./Vendor/MSFT/EMAIL2/{C556e16F-56c4-4EDB-9c64-D9469ee1FBE1}",
	"./Vendor/MSFT/EMAIL2/%7BC556E16F-56C4-4EDB-9C64-D9469EE1FBE1%7D",
	"./Vendor/MSFT/EMAIL2/%7bc556e16f-56c4-4edb-9c64-d9469ee1fbe1%7d",
	"./Vendor/MSFT/EMAIL2/0x7BC556E16F-56C4-4EDB-9C64-D9469EE1FBE10x7D",
	"./Vendor/MSFT/EMAIL2/0X7bc556e16f-56c4-4edb-9c64-d9469ee1fbe10X7d",
	"./User/Vendor/MSFT/EMAIL2/%7Bc556e16f-56C4-4EDB-9c64-d9469ee1fbe1%7D",
	"Vendor/MSFT/EMAIL2/" GUID_LOWER,
};

START_TEST(test_csp_guid_any_form_is_one_account)
{
	const char *u = guid_forms[_i];
	char script[1024], name[64];
	struct apply_row row = {0};

	(void)snprintf(name, sizeof(name), "form %d", _i);
	row.name = name;
	row.setup = CREATE;
	/* Add of the same account, however spelt, is 418 */
	(void)snprintf(script, sizeof(script), "Atomic {\nAdd %s\n}", u);
	row.script = script;
	row.codes = "507 418";
	row.post = "@exists;NAME!";
	apply_row_run(&row);
	/* Replace and Get find it */
	(void)snprintf(script, sizeof(script),
		       "Atomic {\nReplace %s/NAME = Ann\n}\nGet %s/NAME", u, u);
	row.setup = NULL;
	row.codes = "200 200 200";
	row.post = "NAME=Ann";
	row.result = "Ann";
	apply_row_run(&row);
	/* Delete finds it */
	(void)snprintf(script, sizeof(script), "Delete %s", u);
	row.codes = "200";
	row.post = "@absent";
	row.result = NULL;
	apply_row_run(&row);
}
END_TEST

/* A row stored lower-case by an older email2 is found by any spelling. */
START_TEST(test_csp_guid_legacy_lower_case_row)
{
	struct e2_err err = {0};
	struct apply_row row = {"legacy", NULL, NULL, NULL, NULL, NULL, NULL};
	char *mail = NULL;

	/* CREATE, then spelt as an older email2 stored it */
	run_ok(CREATE);
	ck_assert_int_eq(sqlite3_exec(store_db(store),
				      "PRAGMA foreign_keys = OFF;"
				      "UPDATE accounts SET guid = lower(guid);"
				      "UPDATE nodes SET guid = lower(guid);"
				      "PRAGMA foreign_keys = ON;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	row.script = "Atomic {\nReplace G/INSERVER = h.test\n}\n"
		     "Atomic {\nAdd ./Vendor/MSFT/EMAIL2/" GUID_UPPER "\n}";
	row.codes = "200 200 507 418";
	row.post = "INSERVER=h.test";
	apply_row_run(&row);
	ck_assert_int_eq(store_account_dir(store, STORE_AREA_MAIL, GUID_LOWER,
					   &mail, &err),
			 E2_OK);
	/* Delete removes the directory of the stored spelling */
	row.script = "Delete ./Vendor/MSFT/EMAIL2/" GUID_UPPER;
	row.codes = "200";
	row.post = "@absent";
	apply_row_run(&row);
	ck_assert_int_ne(access(mail, F_OK), 0);
	free(mail);
}
END_TEST

/* ---- the Get mask keeps a stored secret ------------------------------------
 */

#define SMTPALT_SET                                                            \
	"Atomic {\nReplace G/SMTPALTENABLED = TRUE\n"                          \
	"Replace G/SMTPALTAUTHNAME = altuser\n"                                \
	"Replace G/SMTPALTPASSWORD = alt-Pw-9\n}\n"

static const struct apply_row mask_rows[] = {
	{"the mask keeps AUTHSECRET", CREATE,
	 "Atomic {\nReplace G/AUTHSECRET = " CSP_SECRET_MASK "\n}", "200 200",
	 "AUTHSECRET=" SECRET, NULL, NULL},
	{"the mask keeps SMTPALTPASSWORD", CREATE SMTPALT_SET,
	 "Atomic {\nReplace G/SMTPALTPASSWORD = " CSP_SECRET_MASK
	 "\nReplace G/AUTHSECRET = " CSP_SECRET_MASK "\n}",
	 "200 200 200", "SMTPALTPASSWORD=alt-Pw-9;AUTHSECRET=" SECRET, NULL,
	 NULL},
	{"a secret still replaces", CREATE,
	 "Atomic {\nReplace G/AUTHSECRET = n3w-Pw\n}", "200 200",
	 "AUTHSECRET=n3w-Pw", NULL, NULL},
	{"the mask with nothing stored is 400", NULL,
	 "Atomic {\nAdd G\n" REQUIRED_BUT_REPLYADDR
	 "Replace G/REPLYADDR = a@b.test\n"
	 "Replace G/AUTHSECRET = " CSP_SECRET_MASK "\n}",
	 "507 216 216 216 216 216 216 216 216 216 400", "@absent", "Get mask",
	 NULL},
	{"the mask after deleting the secret is 400", CREATE,
	 "Atomic {\nDelete G/AUTHSECRET\n"
	 "Replace G/AUTHSECRET = " CSP_SECRET_MASK "\n}",
	 "507 216 400", "AUTHSECRET=" SECRET, "none is stored", NULL},
	{"the mask for a new SMTPALTPASSWORD is 400", CREATE,
	 "Atomic {\nReplace G/SMTPALTAUTHNAME = u\n"
	 "Replace G/SMTPALTPASSWORD = " CSP_SECRET_MASK "\n}",
	 "507 216 400", "SMTPALTPASSWORD!", "SMTPALTPASSWORD", NULL},
	{"the mask is only a mask for secrets", CREATE,
	 "Atomic {\nReplace G/NAME = " CSP_SECRET_MASK "\n}", "200 200",
	 "NAME=" CSP_SECRET_MASK, NULL, NULL},
	{"a mask with a space is a secret", CREATE,
	 "Atomic {\nReplace G/AUTHSECRET = " CSP_SECRET_MASK " \n}", "200 200",
	 "AUTHSECRET=" CSP_SECRET_MASK " ", NULL, NULL},
};

START_TEST(test_csp_mask_rules)
{
	apply_row_run(&mask_rows[_i]);
}
END_TEST

/* Every value Get returns, applied again as Replaces, changes nothing. */
START_TEST(test_csp_get_output_applies_again)
{
	struct csp_doc *doc = NULL;
	struct csp_outcome out;
	const struct csp_status *g = NULL;
	char script[8192];
	size_t o = 0;

	run_ok(CREATE SMTPALT_SET);
	run("Get G", &doc, &out);
	for (size_t i = 0; i < out.n; i++)
		if (out.st[i].has_results)
			g = &out.st[i];
	ck_assert_ptr_nonnull(g);
	o += (size_t)snprintf(script + o, sizeof(script) - o, "Atomic {\n");
	for (size_t i = 0; i < g->n_nodes; i++) {
		if (g->nodes[i].value == NULL)
			continue;
		o += (size_t)snprintf(script + o, sizeof(script) - o,
				      "Replace G/%s = %s\n", g->nodes[i].name,
				      g->nodes[i].value);
		ck_assert_uint_lt(o, sizeof(script));
	}
	(void)snprintf(script + o, sizeof(script) - o, "}\n");
	ck_assert_ptr_nonnull(strstr(script, "AUTHSECRET = " CSP_SECRET_MASK));
	run_free(&doc, &out);
	run_ok(script);
	check_post("AUTHSECRET=" SECRET ";SMTPALTPASSWORD=alt-Pw-9;"
		   "INSERVER=mail.email2.test");
}
END_TEST

/* ---- Delete removes the account's mail and queue ---------------------------
 */

/* <store>/AREA/GUID/SUB/NAME, directories made as needed */
static void
mail_file(const char *area, const char *sub, const char *name)
{
	char p[PATH_MAX + 256];
	const char *parts[] = {area, GUID_UPPER, sub};
	size_t o;
	FILE *f;

	o = (size_t)snprintf(p, sizeof(p), "%s", e2_store_dir(store));
	for (size_t i = 0; i < 3; i++) {
		char *slash;

		o += (size_t)snprintf(p + o, sizeof(p) - o, "/%s", parts[i]);
		/* sub may be "X/new": make each level */
		for (slash = strchr(p + o - strlen(parts[i]), '/');
		     slash != NULL; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			(void)mkdir(p, 0700);
			*slash = '/';
		}
		(void)mkdir(p, 0700);
	}
	(void)snprintf(p + o, sizeof(p) - o, "/%s", name);
	f = fopen(p, "w");
	ck_assert_msg(f != NULL, "%s", p);
	fputs("Subject: queued\r\n\r\nx\r\n", f);
	fclose(f);
}

static bool
area_exists(const char *area)
{
	char p[PATH_MAX + 128];

	(void)snprintf(p, sizeof(p), "%s/%s/%s", e2_store_dir(store), area,
		       GUID_UPPER);
	return access(p, F_OK) == 0;
}

/* mail and queue files of G, whether or not the account exists */
static void
delete_fixture_files(void)
{
	mail_file(STORE_AREA_MAIL, "cur", "1.m:2,S");
	mail_file(STORE_AREA_MAIL, ".Outbox/new", "2.q");
	mail_file(STORE_AREA_OUTBOX, "new", "3.q");
	mail_file(STORE_AREA_OUTBOX, "cur", "4.q:2,");
	mail_file(STORE_AREA_OUTBOX, "tmp", "5.q");
}

static void
delete_fixture(void)
{
	run_ok(CREATE);
	mail_file(STORE_AREA_MAIL, "cur", "1.m:2,S");
	mail_file(STORE_AREA_MAIL, ".Outbox/new", "2.q");
	mail_file(STORE_AREA_OUTBOX, "new", "3.q");
	mail_file(STORE_AREA_OUTBOX, "cur", "4.q:2,");
	mail_file(STORE_AREA_OUTBOX, "tmp", "5.q");
}

START_TEST(test_csp_delete_removes_mail_and_queue)
{
	struct csp_doc *doc = NULL;
	struct csp_outcome out;

	delete_fixture();
	run("Delete G", &doc, &out);
	ck_assert_uint_eq(out.failed, 0);
	ck_assert_uint_eq(out.n_notes, 1);
	ck_assert_msg(strstr(out.notes[0], "3 queued messages dropped") != NULL,
		      "%s", out.notes[0]);
	ck_assert_ptr_nonnull(strstr(out.notes[0], GUID_UPPER));
	run_free(&doc, &out);
	ck_assert(!area_exists(STORE_AREA_MAIL));
	ck_assert(!area_exists(STORE_AREA_OUTBOX));
}
END_TEST

/* In an Atomic: removed when it commits, kept when it rolls back. */
START_TEST(test_csp_delete_in_atomic_removes_only_on_commit)
{
	struct csp_doc *doc = NULL;
	struct csp_outcome out;

	delete_fixture();
	run("Atomic {\nDelete G\nReplace G/DWNDAY = 5\n}", &doc, &out);
	ck_assert_uint_eq(out.n_notes, 0);
	run_free(&doc, &out);
	ck_assert(account_exists());
	ck_assert(area_exists(STORE_AREA_MAIL));
	ck_assert(area_exists(STORE_AREA_OUTBOX));
	run("Atomic {\nDelete G\n}", &doc, &out);
	ck_assert_uint_eq(out.failed, 0);
	ck_assert_uint_eq(out.n_notes, 1);
	ck_assert_ptr_nonnull(strstr(out.notes[0], "3 queued messages"));
	run_free(&doc, &out);
	ck_assert(!area_exists(STORE_AREA_MAIL));
	ck_assert(!area_exists(STORE_AREA_OUTBOX));
}
END_TEST

/* e2_provision() hands the notes on to the caller. */
START_TEST(test_csp_provision_result_has_notes)
{
	static const char doc[] =
		"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody>"
		"<Delete><CmdID>1</CmdID><Item><Target><LocURI>"
		"./Vendor/MSFT/EMAIL2/%7b"
		"c556e16f-56c4-4edb-9c64-d9469ee1fbe1"
		"%7d</LocURI></Target></Item></Delete></SyncBody></SyncML>";
	struct e2_provision_result res = {0};
	struct e2_err err = {0};

	delete_fixture();
	ck_assert_int_eq(e2_provision(store, doc, strlen(doc), &res, &err),
			 E2_OK);
	ck_assert_uint_eq(res.failed, 0);
	ck_assert_uint_eq(res.n_notes, 1);
	ck_assert_ptr_nonnull(strstr(res.notes[0], "3 queued messages"));
	e2_provision_result_free(&res);
	ck_assert(!area_exists(STORE_AREA_MAIL));
}
END_TEST

/* ---- the response -------------------------------------------------------- */

static char *
respond(const char *script, enum e2_doc_kind kind)
{
	struct csp_doc *doc = script_doc(script, kind);
	struct csp_outcome out = {0};
	struct e2_err err = {0};
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(csp_apply_doc(store, doc, &out, &err), E2_OK);
	ck_assert_msg(csp_resp_write(doc, &out, &buf, &len, &err) == E2_OK,
		      "%s", err.msg);
	ck_assert_uint_eq(len, strlen(buf));
	csp_outcome_free(&out);
	script_doc_free(&doc);
	return buf;
}

static void
assert_has(const char *buf, const char *needle)
{
	if (strstr(buf, needle) == NULL)
		fprintf(stderr, "%s\n", buf);
	ck_assert_msg(strstr(buf, needle) != NULL, "missing %s", needle);
}

START_TEST(test_csp_response_syncml_shape)
{
	char *r = respond(CREATE "Get G/AUTHSECRET\nGet G\nDelete G/NAME\n",
			  E2_DOC_SYNCML);

	assert_has(r, "<SyncML xmlns=\"SYNCML:SYNCML1.2\">");
	assert_has(r, "<VerProto>DM/1.2</VerProto>");
	assert_has(r, "<SessionID>7</SessionID>");
	assert_has(r, "<MsgID>3</MsgID>");
	/* Target and Source swapped */
	assert_has(r,
		   "<Target>\n      <LocURI>https://mdm.example/dm</LocURI>");
	assert_has(r, "<Source>\n      <LocURI>urn:device</LocURI>");
	assert_has(r, "<CmdRef>0</CmdRef>\n      <Cmd>SyncHdr</Cmd>");
	assert_has(r, "<Cmd>Atomic</Cmd>\n      <Data>200</Data>");
	assert_has(r, "<MsgRef>3</MsgRef>\n      <CmdRef>2</CmdRef>\n"
		      "      <Cmd>Add</Cmd>\n      <TargetRef>" G_DM
		      "</TargetRef>\n      <Data>200</Data>");
	assert_has(r, "<Cmd>Delete</Cmd>\n      <TargetRef>" G_DM
		      "/NAME</TargetRef>\n      <Data>404</Data>");
	assert_has(r,
		   "<Source>\n          <LocURI>" G_DM "/AUTHSECRET</LocURI>");
	assert_has(r, "<Data>" CSP_SECRET_MASK "</Data>");
	assert_has(r, "<Format xmlns=\"syncml:metinf\">node</Format>");
	assert_has(r, "<Data>ACCOUNTTYPE/AUTHNAME/AUTHSECRET/INSERVER/"
		      "OUTSERVER/REPLYADDR/SERVICENAME/SERVICETYPE/"
		      "SYNCINGCONTENTTYPES</Data>");
	assert_has(r, "<Final/>");
	ck_assert_ptr_null(strstr(r, SECRET));
	free(r);
}
END_TEST

START_TEST(test_csp_response_escapes_values)
{
	char *r = respond(CREATE "Atomic {\nReplace G/NAME = A&B <x> \"q\"\n}\n"
				 "Get G/NAME\n",
			  E2_DOC_SYNCML);

	assert_has(r, "<Data>A&amp;B &lt;x&gt; &quot;q&quot;</Data>");
	free(r);
}
END_TEST

START_TEST(test_csp_response_tagprops_children)
{
	char *r = respond(CREATE "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n"
				 "Replace G/TAGPROPS/8128000B = 0\n}\n"
				 "Get G/TAGPROPS\n",
			  E2_DOC_SYNCML);

	assert_has(r, "<Data>8128000B/812C000B</Data>");
	free(r);
}
END_TEST

START_TEST(test_csp_response_cp_query)
{
	char *r;

	run_ok(CREATE "Atomic {\nReplace G/TAGPROPS/812C000B = 1\n"
		      "Replace G/NAME = A&B\n}");
	r = respond("Get ./Vendor/MSFT/EMAIL2/" GUID "\n"
		    "Get ./Vendor/MSFT/EMAIL2/" GUID "/AUTHSECRET\n"
		    "Get ./Vendor/MSFT/EMAIL2/" GUID "/NOPE\n",
		    E2_DOC_PROVISIONING);
	assert_has(r, "<wap-provisioningdoc");
	assert_has(r, "<characteristic type=\"EMAIL2\">");
	/* the GUID comes back in the canonical form (upper-case) */
	assert_has(r, "<characteristic type=\"" GUID_UPPER "\">");
	assert_has(r, "<parm name=\"INSERVER\" value=\"mail.email2.test\"/>");
	assert_has(r, "<parm name=\"NAME\" value=\"A&amp;B\"/>");
	assert_has(r,
		   "<parm name=\"AUTHSECRET\" value=\"" CSP_SECRET_MASK "\"/>");
	assert_has(r, "<characteristic type=\"TAGPROPS\">\n"
		      "        <parm name=\"812C000B\" value=\"1\"/>\n"
		      "      </characteristic>");
	ck_assert_ptr_null(strstr(r, "NOPE"));
	ck_assert_ptr_null(strstr(r, SECRET));
	ck_assert_ptr_null(strstr(r, "SyncML"));
	free(r);
}
END_TEST

/* ---- whole documents through e2_provision() -------------------------------
 */

static char *
fixture(const char *name, size_t *len_out)
{
	return tu_fixture("csp", name, len_out);
}

static const struct {
	const char *setup; /* fixture applied first (must succeed) or NULL */
	const char *file;
	enum e2_status rc;
	size_t failed;     /* statuses that are not 200 */
	const char *codes; /* the Status Data of the response, in order */
	const char *post;
} provision_rows[] = {
	{NULL, "create.xml", E2_OK, 0,
	 "200 200 200 200 200 200 200 200 200 200 "
	 "200 200 200 200 200",
	 "@exists;INSERVER=mail.email2.test;TAGPROPS/8128000B=1"},
	{"create.xml", "create.xml", E2_OK, 14,
	 "200 507 418 216 216 216 216 216 216 216 216 216 216 216 216",
	 "@exists"},
	{"create.xml", "replace-servicename.xml", E2_OK, 2, "200 507 405",
	 "SERVICENAME=Example IMAP"},
	{"create.xml", "edit-rollback.xml", E2_OK, 3, "200 507 216 400",
	 "INSERVER=mail.email2.test"},
	{NULL, "missing-required.xml", E2_OK, 9,
	 "200 507 216 216 216 216 216 216 216 216", "@absent"},
	{"create.xml", "delete-inserver.xml", E2_OK, 1, "200 405",
	 "INSERVER=mail.email2.test"},
	{"create.xml", "get.xml", E2_OK, 1, "200 200 200 200 405", NULL},
	{"create.xml", "delete-account.xml", E2_OK, 0, "200 200", "@absent"},
	{NULL, "cp-create.xml", E2_OK, 0, NULL,
	 "@exists;SERVICETYPE=POP3;TAGPROPS/812C000B=1"},
	{NULL, "not-xml.xml", E2_EINVAL, 0, NULL, "@absent"},
	{NULL, "unknown-root.xml", E2_EINVAL, 0, NULL, "@absent"},
};

static void
provision_file(const char *file, enum e2_status want_rc,
	       struct e2_provision_result *res)
{
	struct e2_err err = {0};
	size_t len;
	char *doc = fixture(file, &len);
	enum e2_status rc = e2_provision(store, doc, len, res, &err);

	ck_assert_msg(rc == want_rc, "%s: %s (%s)", file, e2_status_name(rc),
		      err.msg);
	if (rc != E2_OK)
		ck_assert_str_ne(err.msg, "");
	free(doc);
}

/* The Data of every Status in a SyncML response, space-separated. */
static void
response_codes(const char *resp, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const char *p = strstr(resp, "<Status>"); p != NULL;
	     p = strstr(p + 1, "<Status>")) {
		const char *d = strstr(p, "<Data>");

		ck_assert_ptr_nonnull(d);
		o += (size_t)snprintf(buf + o, len - o, "%s%.3s",
				      o > 0 ? " " : "", d + 6);
	}
}

START_TEST(test_csp_provision_fixtures)
{
	struct e2_provision_result res = {0};
	char codes[512];

	if (provision_rows[_i].setup != NULL) {
		provision_file(provision_rows[_i].setup, E2_OK, &res);
		ck_assert_uint_eq(res.failed, 0);
		e2_provision_result_free(&res);
	}
	provision_file(provision_rows[_i].file, provision_rows[_i].rc, &res);
	if (provision_rows[_i].rc == E2_OK) {
		ck_assert_uint_eq(res.failed, provision_rows[_i].failed);
		ck_assert_uint_eq(res.n_failures, res.failed);
		for (size_t i = 0; i < res.n_failures; i++) {
			ck_assert_ptr_nonnull(res.failures[i].reason);
			ck_assert_ptr_null(
				strstr(res.failures[i].reason, "sekr1t"));
		}
		ck_assert_ptr_nonnull(res.response);
		ck_assert_ptr_null(strstr(res.response, "sekr1t"));
		if (provision_rows[_i].codes != NULL) {
			response_codes(res.response, codes, sizeof(codes));
			ck_assert_str_eq(codes, provision_rows[_i].codes);
		}
	}
	e2_provision_result_free(&res);
	check_post(provision_rows[_i].post);
}
END_TEST

START_TEST(test_csp_provision_null_args)
{
	struct e2_provision_result res = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(e2_provision(store, NULL, 0, &res, &err), E2_EINVAL);
	e2_provision_result_free(&res);
	e2_provision_result_free(NULL);
}
END_TEST

/* ---- messages a user can act on -------------------------------------------
 */

#define SYNCML_HEAD                                                            \
	"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody>\n"
#define SYNCML_TAIL "</SyncBody></SyncML>\n"
#define CP_HEAD                                                                \
	"<wap-provisioningdoc>\n"                                              \
	"<characteristic type=\"EMAIL2\">\n"
#define CP_TAIL "</characteristic></wap-provisioningdoc>\n"
#define CP_G "characteristic[@type=EMAIL2]/characteristic[@type=" GUID "]"

static const struct {
	const char *doc;
	enum e2_status rc;
	const char *why;    /* of the first cause; for E2_EINVAL: in err.msg */
	const char *where;  /* of the first cause */
	size_t causes;      /* failures that are not only consequences */
	const char *atomic; /* in the Atomic's reason, or NULL */
} message_rows[] = {
	/* one bad value in an Atomic: the value first, by CmdID and line */
	{SYNCML_HEAD "<Atomic><CmdID>1</CmdID>\n"
		     "<Replace><CmdID>2</CmdID>\n"
		     "<Item><Target><LocURI>" G_DM "/DWNDAY</LocURI></Target>"
		     "<Data>5</Data></Item>\n"
		     "</Replace></Atomic>" SYNCML_TAIL,
	 E2_OK, "DWNDAY \"5\": not one of -1, 7, 14, 30, 90", "CmdID 2, line 4",
	 1, "Atomic CmdID 1: Replace CmdID 2 failed, nothing applied"},
	/* the same in Client Provisioning: the element path, no CmdID */
	{CP_HEAD "<characteristic type=\"" GUID "\">\n"
		 "<parm name=\"DWNDAY\" value=\"5\"/>\n"
		 "</characteristic>" CP_TAIL,
	 E2_OK, "DWNDAY \"5\": not one of -1, 7, 14, 30, 90",
	 "line 4, " CP_G "/parm[@name=DWNDAY]", 1,
	 "the document (all or nothing): " CP_G "/parm[@name=DWNDAY] (line 4) "
	 "failed, nothing applied"},
	/* a bad TAGPROPS value: the nested characteristic is in the path */
	{CP_HEAD "<characteristic type=\"" GUID "\">\n"
		 "<characteristic type=\"TAGPROPS\">\n"
		 "<parm name=\"8128000B\" value=\"2\"/>\n"
		 "</characteristic></characteristic>" CP_TAIL,
	 E2_OK, NULL,
	 "line 5, " CP_G "/characteristic[@type=TAGPROPS]/parm[@name=8128000B]",
	 1, NULL},
	/* Delete of a missing account in CP */
	{CP_HEAD "<nocharacteristic type=\"" GUID "\"/>\n" CP_TAIL, E2_OK,
	 "no account {C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}",
	 "line 3, characteristic[@type=EMAIL2]/nocharacteristic[@type=" GUID
	 "]",
	 1, NULL},
	/* the commit check is itself the cause */
	{SYNCML_HEAD "<Atomic><CmdID>1</CmdID>\n"
		     "<Add><CmdID>2</CmdID><Item><Target><LocURI>" G_DM
		     "</LocURI></Target></Item></Add>\n"
		     "</Atomic>" SYNCML_TAIL,
	 E2_OK,
	 "Atomic CmdID 1: account {C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}: "
	 "required node ACCOUNTTYPE missing",
	 "CmdID 1, line 2", 1, NULL},
	/* a lone Get of what is not there */
	{SYNCML_HEAD "<Get><CmdID>7</CmdID>\n"
		     "<Item><Target><LocURI>" G_DM "/NAME</LocURI></Target>"
		     "</Item></Get>\n" SYNCML_TAIL,
	 E2_OK, "no account {C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}",
	 "CmdID 7, line 3", 1, NULL},
	/* an unknown root lists the accepted ones */
	{"<Atomic><CmdID>1</CmdID></Atomic>", E2_EINVAL,
	 "unknown root element \"Atomic\": a provisioning document is "
	 "<SyncML> (OMA DM) or <wap-provisioningdoc> (OMA Client "
	 "Provisioning)",
	 NULL, 0, NULL},
};

START_TEST(test_csp_messages)
{
	struct e2_provision_result res = {0};
	const struct e2_provision_failure *first;
	struct e2_err err = {0};
	const char *doc = message_rows[_i].doc;
	size_t causes = 0;
	enum e2_status rc;

	rc = e2_provision(store, doc, strlen(doc), &res, &err);
	ck_assert_msg(rc == message_rows[_i].rc, "%s (%s)", e2_status_name(rc),
		      err.msg);
	if (rc != E2_OK) {
		ck_assert_str_eq(err.msg, message_rows[_i].why);
		return;
	}
	first = e2_provision_first_cause(&res);
	ck_assert_ptr_nonnull(first);
	if (message_rows[_i].why != NULL)
		ck_assert_str_eq(first->why, message_rows[_i].why);
	ck_assert_str_eq(first->where, message_rows[_i].where);
	for (size_t i = 0; i < res.n_failures; i++) {
		const struct e2_provision_failure *f = &res.failures[i];

		if (!f->consequence)
			causes++;
		if (f->code == 216)
			ck_assert(f->consequence);
		/* Client Provisioning: never an invented CmdID */
		if (res.kind == E2_DOC_PROVISIONING) {
			ck_assert_msg(
				strstr(f->reason, "CmdID") == NULL &&
					strstr(f->where, "CmdID") == NULL &&
					strstr(f->reason, "command ") == NULL,
				"%s: %s", f->where, f->reason);
		}
		if (f->code == 507 && message_rows[_i].atomic != NULL)
			ck_assert_str_eq(f->why, message_rows[_i].atomic);
	}
	ck_assert_uint_eq(causes, message_rows[_i].causes);
	e2_provision_result_free(&res);
}
END_TEST

/* ---- the dry run: the same answer, nothing changed ----------------------
 */

/* FNV-1a over every file's path and bytes below a directory */
static uint64_t tree_hash_acc;
static size_t tree_hash_files;

static int
tree_hash_file(const char *path, const struct stat *sb, int flag,
	       struct FTW *ftw)
{
	unsigned char buf[4096];
	size_t n;
	FILE *f;

	(void)sb;
	/* SQLite's shared-memory index of a store held open (here by the
	 * fixture, as by a running daemon) is not store data: a reader may
	 * update it (see store.c, snapshots) */
	if (flag == FTW_F && strcmp(path + ftw->base, "accounts.db-shm") == 0)
		return 0;
	for (const char *p = path; *p != '\0'; p++)
		tree_hash_acc =
			(tree_hash_acc ^ (unsigned char)*p) * 1099511628211ULL;
	if (flag != FTW_F)
		return 0;
	tree_hash_files++;
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			tree_hash_acc =
				(tree_hash_acc ^ buf[i]) * 1099511628211ULL;
	fclose(f);
	return 0;
}

/* A hash of every name and byte under dir (order: nftw's, stable here). */
static uint64_t
tree_hash(const char *dir, size_t *files_out)
{
	tree_hash_acc = 14695981039346656037ULL;
	tree_hash_files = 0;
	ck_assert_int_eq(nftw(dir, tree_hash_file, 16, FTW_PHYS), 0);
	if (files_out != NULL)
		*files_out = tree_hash_files;
	return tree_hash_acc;
}

/*
 * Every whole-document row again: the dry run on the store (open, as a
 * running daemon would have it) changes no byte under it and answers
 * exactly what the real apply then answers.
 */
START_TEST(test_csp_dry_run_matches_real)
{
	struct e2_provision_result dry = {0}, real = {0};
	struct e2_err err = {0};
	uint64_t before, after;
	size_t len, files;
	char *doc;
	enum e2_status rc;

	if (provision_rows[_i].setup != NULL) {
		provision_file(provision_rows[_i].setup, E2_OK, &real);
		e2_provision_result_free(&real);
	}
	delete_fixture_files();
	before = tree_hash(e2_store_dir(store), &files);
	ck_assert_uint_gt(files, 3);
	doc = fixture(provision_rows[_i].file, &len);
	rc = e2_provision_check(e2_store_dir(store), doc, len, &dry, &err);
	ck_assert_msg(rc == provision_rows[_i].rc, "%s: %s (%s)",
		      provision_rows[_i].file, e2_status_name(rc), err.msg);
	after = tree_hash(e2_store_dir(store), NULL);
	ck_assert_msg(before == after, "%s: the dry run changed the store",
		      provision_rows[_i].file);
	free(doc);
	provision_file(provision_rows[_i].file, provision_rows[_i].rc, &real);
	if (rc == E2_OK) {
		ck_assert_str_eq(dry.response, real.response);
		ck_assert_uint_eq(dry.response_len, real.response_len);
		ck_assert_uint_eq(dry.commands, real.commands);
		ck_assert_uint_eq(dry.failed, real.failed);
		ck_assert_uint_eq(dry.n_notes, real.n_notes);
		for (size_t i = 0; i < dry.n_failures; i++)
			ck_assert_str_eq(dry.failures[i].reason,
					 real.failures[i].reason);
	}
	e2_provision_result_free(&dry);
	e2_provision_result_free(&real);
}
END_TEST

/* A Delete's mail and queue stay; the note says what would go. */
START_TEST(test_csp_dry_run_delete_keeps_mail)
{
	static const char doc[] =
		"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody>"
		"<Delete><CmdID>1</CmdID><Item><Target><LocURI>" G_DM
		"</LocURI></Target></Item></Delete></SyncBody></SyncML>";
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	uint64_t before;

	delete_fixture();
	before = tree_hash(e2_store_dir(store), NULL);
	ck_assert_int_eq(e2_provision_check(e2_store_dir(store), doc,
					    strlen(doc), &res, &err),
			 E2_OK);
	ck_assert_uint_eq(res.failed, 0);
	ck_assert_uint_eq(res.n_notes, 1);
	ck_assert_msg(strstr(res.notes[0], "dry run") != NULL &&
			      strstr(res.notes[0], "would be removed, 3 "
						   "queued messages") != NULL,
		      "%s", res.notes[0]);
	e2_provision_result_free(&res);
	ck_assert(tree_hash(e2_store_dir(store), NULL) == before);
	ck_assert(account_exists());
	ck_assert(area_exists(STORE_AREA_MAIL));
	ck_assert(area_exists(STORE_AREA_OUTBOX));
}
END_TEST

/* A store that does not exist is not created, not even its directory. */
START_TEST(test_csp_dry_run_missing_store_stays_missing)
{
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	struct stat sb;
	char dir[PATH_MAX + 32];
	size_t len;
	char *doc = fixture("create.xml", &len);

	(void)snprintf(dir, sizeof(dir), "%s/none/store", tmpdir);
	ck_assert_int_eq(e2_provision_check(dir, doc, len, &res, &err), E2_OK);
	ck_assert_uint_eq(res.failed, 0);
	e2_provision_result_free(&res);
	(void)snprintf(dir, sizeof(dir), "%s/none", tmpdir);
	ck_assert_int_ne(lstat(dir, &sb), 0);
	/* an existing directory without accounts.db: no accounts.db */
	(void)snprintf(dir, sizeof(dir), "%s/empty", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(e2_provision_check(dir, doc, len, &res, &err), E2_OK);
	e2_provision_result_free(&res);
	(void)snprintf(dir, sizeof(dir), "%s/empty/accounts.db", tmpdir);
	ck_assert_int_ne(lstat(dir, &sb), 0);
	free(doc);
}
END_TEST

/* What a real open refuses, the dry run refuses: a damaged database. */
START_TEST(test_csp_dry_run_damaged_store_fails)
{
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	char dir[PATH_MAX + 32], path[PATH_MAX + 64];
	size_t len;
	char *doc = fixture("create.xml", &len);
	FILE *f;

	(void)snprintf(dir, sizeof(dir), "%s/damaged", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/accounts.db", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 256; i++)
		fputs("this is not an SQLite database\n", f);
	fclose(f);
	ck_assert_int_eq(e2_provision_check(dir, doc, len, &res, &err),
			 E2_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.msg, "accounts.db"));
	e2_provision_result_free(&res);
	free(doc);
}
END_TEST

static Suite *
csp_suite(void)
{
	Suite *s = suite_create("csp");
	TCase *tc;

#define ROWS(a) (int)(sizeof(a) / sizeof((a)[0]))
	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_csp_table_matches_spec, 0,
			    ROWS(table_rows));
	tcase_add_test(tc, test_csp_table_is_complete);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_csp_value_rules, 0, ROWS(value_rows));
	tcase_add_test(tc, test_csp_value_text_limit);
	tcase_add_test(tc, test_csp_value_secret_never_in_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("atomic");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_atomic_rules, 0, ROWS(atomic_rows));
	tcase_add_test(tc, test_csp_atomic_rollback_keeps_every_node);
	suite_add_tcase(s, tc);

	tc = tcase_create("add");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_add_rules, 0, ROWS(add_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("replace");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_replace_rules, 0, ROWS(replace_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("delete");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_delete_rules, 0, ROWS(delete_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("guid");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_guid_any_form_is_one_account, 0,
			    ROWS(guid_forms));
	tcase_add_test(tc, test_csp_guid_legacy_lower_case_row);
	suite_add_tcase(s, tc);

	tc = tcase_create("mask");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_mask_rules, 0, ROWS(mask_rows));
	tcase_add_test(tc, test_csp_get_output_applies_again);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_test(tc, test_csp_delete_removes_mail_and_queue);
	tcase_add_test(tc, test_csp_delete_in_atomic_removes_only_on_commit);
	tcase_add_test(tc, test_csp_provision_result_has_notes);
	suite_add_tcase(s, tc);

	tc = tcase_create("get");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_get_rules, 0, ROWS(get_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_test(tc, test_csp_response_syncml_shape);
	tcase_add_test(tc, test_csp_response_escapes_values);
	tcase_add_test(tc, test_csp_response_tagprops_children);
	tcase_add_test(tc, test_csp_response_cp_query);
	suite_add_tcase(s, tc);

	tc = tcase_create("provision");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_provision_fixtures, 0,
			    ROWS(provision_rows));
	tcase_add_test(tc, test_csp_provision_null_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_messages, 0, ROWS(message_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("dryrun");
	tcase_add_checked_fixture(tc, csp_setup, csp_teardown);
	tcase_add_loop_test(tc, test_csp_dry_run_matches_real, 0,
			    ROWS(provision_rows));
	tcase_add_test(tc, test_csp_dry_run_delete_keeps_mail);
	tcase_add_test(tc, test_csp_dry_run_missing_store_stays_missing);
	tcase_add_test(tc, test_csp_dry_run_damaged_store_fails);
	suite_add_tcase(s, tc);
#undef ROWS
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
