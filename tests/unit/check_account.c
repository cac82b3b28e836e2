/* SPDX-License-Identifier: MIT */
/* check_account.c -- issue 9: sync status, the account list, nodes w/o XML */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "engine/account_status.h"
#include "engine/email2.h"
#include "engine/store.h"
#include "tests/unit/testutil.h"

#define G1 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE1}"
#define G2 "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE2}"

static char tmp[256];
static struct e2_store *st;

/* Every required node; port 1 on loopback refuses at once. */
static const struct e2_node_value base_nodes[] = {
	{"ACCOUNTTYPE", "Email"},      {"AUTHNAME", "testuser"},
	{"AUTHSECRET", "sekr1t-unit"}, {"INSERVER", "127.0.0.1:1"},
	{"OUTSERVER", "127.0.0.1:1"},  {"REPLYADDR", "one@example.test"},
	{"SERVICENAME", "Unit IMAP"},  {"SERVICETYPE", "IMAP4"},
	{"SYNCINGCONTENTTYPES", "2"},  {"NAME", "Work"},
};

static void
setup(void)
{
	struct e2_err err = {0};

	tu_mkdtemp(tmp, sizeof(tmp), "check_account");
	ck_assert_int_eq(e2_store_open(tmp, &st, &err), E2_OK);
}

static void
teardown(void)
{
	e2_store_close(&st);
	tu_rmtree(tmp);
}

static void
make_account(const char *guid, const char *name, const char *svc)
{
	struct e2_node_value v[sizeof(base_nodes) / sizeof(base_nodes[0])];
	struct e2_node_result res;
	struct e2_err err = {0};
	const size_t n = sizeof(v) / sizeof(v[0]);

	memcpy(v, base_nodes, sizeof(v));
	v[n - 1].value = name;
	v[7].value = svc;
	ck_assert_int_eq(e2_nodes_set(st, guid, v, n, &res, &err), E2_OK);
	ck_assert_msg(res.code == 200, "%d %s", res.code, res.reason);
}

static long
count_rows(const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	long n;

	ck_assert_int_eq(sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = (long)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

/* ---- status ------------------------------------------------------------ */

static const struct {
	enum e2_status rc;
	size_t skipped;
	bool stopped;
	enum e2_sync_result want;
} classify_rows[] = {
	{E2_OK, 0, false, E2_SYNC_OK},
	{E2_OK, 2, false, E2_SYNC_PARTIAL},
	{E2_OK, 0, true, E2_SYNC_INTERRUPTED},
	{E2_OK, 3, true, E2_SYNC_INTERRUPTED},
	{E2_ECONNECT, 0, false, E2_SYNC_FAILED},
	{E2_EAUTH, 1, true, E2_SYNC_FAILED},
};

START_TEST(test_account_status_classify)
{
	struct e2_sync_stats s = {0};

	s.skipped = classify_rows[_i].skipped;
	ck_assert_int_eq(account_status_classify(classify_rows[_i].rc, &s,
						 classify_rows[_i].stopped),
			 classify_rows[_i].want);
}
END_TEST

START_TEST(test_account_status_never)
{
	struct e2_account_status s;
	struct e2_err err = {0};

	make_account(G1, "Work", "IMAP4");
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_NEVER);
	ck_assert_str_eq(e2_sync_result_name(s.result), "never");
	ck_assert_int_eq(e2_account_status_get(st, G2, &s, &err), E2_EINVAL);
}
END_TEST

/* A run that does nothing (no send, no receive) ends "ok". */
START_TEST(test_account_status_ok_then_failed)
{
	struct e2_sync_opts o = {0};
	struct e2_account_status s;
	struct e2_err err = {0};
	int64_t ok_end;

	make_account(G1, "Work", "IMAP4");
	o.no_send = o.no_receive = true;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_OK);
	ck_assert_str_eq(s.kind, "send");
	ck_assert_int_gt(s.ended, 0);
	ck_assert_int_eq(s.last_ok, s.ended);
	ck_assert_str_eq(s.error, "");
	ok_end = s.last_ok;

	/* port 1 refuses: failed, the error kept, last_ok kept */
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 2000;
	o.no_send = true;
	e2_err_clear(&err);
	ck_assert_int_ne(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_FAILED);
	ck_assert_str_eq(s.kind, "receive");
	ck_assert_int_ne(s.status, E2_OK);
	ck_assert_str_ne(s.error, "");
	ck_assert_ptr_null(strstr(s.error, "sekr1t-unit"));
	ck_assert_int_eq(s.last_ok, ok_end);
}
END_TEST

START_TEST(test_account_status_interrupted)
{
	static const volatile int stop = 1;
	struct e2_sync_opts o = {0};
	struct e2_account_status s;
	struct e2_err err = {0};

	make_account(G1, "Work", "IMAP4");
	o.stop = &stop;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_INTERRUPTED);
	ck_assert_str_eq(s.kind, "sync");
	ck_assert_int_eq(s.last_ok, 0);
}
END_TEST

/* A failure before any connection: the Maildir cannot be made. */
START_TEST(test_account_status_failed_before_connect)
{
	struct e2_account_status s;
	struct e2_err err = {0};
	char p[512];
	int fd;

	make_account(G1, "Work", "IMAP4");
	(void)snprintf(p, sizeof(p), "%s/mail", tmp);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/mail/%s", tmp, G1);
	fd = open(p, O_WRONLY | O_CREAT, 0600); /* a file, not a Maildir */
	ck_assert_int_ge(fd, 0);
	(void)close(fd);
	ck_assert_int_eq(e2_sync_account(st, G1, NULL, NULL, &err), E2_ESTORE);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_FAILED);
	ck_assert_int_eq(s.status, E2_ESTORE);
	ck_assert_ptr_nonnull(strstr(s.error, G1));
}
END_TEST

/* A run refused by the lock records nothing: the holder records its own. */
START_TEST(test_account_status_busy_not_recorded)
{
	struct e2_sync_opts o = {0};
	struct e2_account_status s;
	struct e2_err err = {0};
	char p[512];
	int fd;

	make_account(G1, "Work", "IMAP4");
	o.no_send = o.no_receive = true;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_OK);
	(void)snprintf(p, sizeof(p), "%s/locks/%s.lock", tmp, G1);
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	o.no_receive = false;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_EBUSY);
	ck_assert_int_eq(e2_account_status_get(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(s.result, E2_SYNC_OK);
	ck_assert_str_eq(s.kind, "send");
	(void)close(fd);
}
END_TEST

/* Partial: the counts and the first reason, through record and get. */
START_TEST(test_account_status_partial_counts)
{
	struct e2_sync_stats stats = {0};
	struct e2_account_status s = {0}, got;
	struct e2_err err = {0};

	make_account(G1, "Work", "IMAP4");
	stats.messages = 5;
	stats.uploaded = 1;
	stats.moved = 2;
	stats.flags_pushed = 3;
	stats.flags_pulled = 4;
	stats.deleted_server = 6;
	stats.removed_local = 7;
	stats.sent = 8;
	stats.send_failed = 9;
	stats.skipped = 10;
	account_status_from_stats(&stats, &s);
	(void)snprintf(s.kind, sizeof(s.kind), "sync");
	s.started = 100;
	s.ended = 200;
	s.result = account_status_classify(E2_OK, &stats, false);
	(void)snprintf(s.error, sizeof(s.error), "folder \"X\": skipped");
	ck_assert_int_eq(account_status_record(st, G1, &s, &err), E2_OK);
	ck_assert_int_eq(e2_account_status_get(st, G1, &got, &err), E2_OK);
	ck_assert_int_eq(got.result, E2_SYNC_PARTIAL);
	ck_assert_str_eq(e2_sync_result_name(got.result), "partial");
	ck_assert_int_eq(got.downloaded, 5);
	ck_assert_int_eq(got.uploaded, 1);
	ck_assert_int_eq(got.moved, 2);
	ck_assert_int_eq(got.flags, 7);
	ck_assert_int_eq(got.deleted, 6);
	ck_assert_int_eq(got.removed, 7);
	ck_assert_int_eq(got.sent, 8);
	ck_assert_int_eq(got.send_failed, 9);
	ck_assert_int_eq(got.skipped, 10);
	ck_assert_int_eq(got.started, 100);
	ck_assert_int_eq(got.ended, 200);
	ck_assert_int_eq(got.last_ok, 0);
	ck_assert_str_eq(got.error, "folder \"X\": skipped");
}
END_TEST

/* ---- the account list --------------------------------------------------- */

START_TEST(test_account_list_info)
{
	static const char msg[] = "To: x@example.test\nSubject: s\n\nbody\n";
	const char *rcpt[] = {"x@example.test"};
	struct e2_account_info *v = NULL;
	struct e2_err err = {0};
	size_t n = 0;

	make_account(G2, "Home", "POP3");
	make_account(G1, "Work", "IMAP4");
	ck_assert_int_eq(e2_outbox_submit(st, G2, msg, strlen(msg), rcpt, 1,
					  false, NULL, NULL, &err),
			 E2_OK);
	ck_assert_int_eq(e2_account_list_info(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].guid, G1); /* sorted by GUID */
	ck_assert_str_eq(v[0].name, "Work");
	ck_assert_str_eq(v[0].replyaddr, "one@example.test");
	ck_assert_int_eq(v[0].service, E2_SERVICE_IMAP4);
	ck_assert_str_eq(v[0].inserver, "127.0.0.1:1");
	ck_assert_uint_eq(v[0].queued, 0);
	ck_assert_str_eq(v[1].guid, G2);
	ck_assert_str_eq(v[1].name, "Home");
	ck_assert_int_eq(v[1].service, E2_SERVICE_POP3);
	ck_assert_uint_eq(v[1].queued, 1);
	ck_assert_uint_eq(v[1].failed, 0);
	ck_assert_int_eq(v[1].status.result, E2_SYNC_NEVER);
	e2_account_infos_free(&v, n);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_account_list_info_empty)
{
	struct e2_account_info *v = NULL;
	struct e2_err err = {0};
	size_t n = 7;

	ck_assert_int_eq(e2_account_list_info(st, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 0);
	e2_account_infos_free(&v, n);
}
END_TEST

/* ---- nodes without XML: the document's codes ---------------------------- */

/* The OMA DM code a document's Atomic Replace of node=value gets. */
static int
doc_code(const char *guid, const char *node, const char *value)
{
	struct e2_provision_result res = {0};
	struct e2_err err = {0};
	char doc[2048];
	int code = 200;

	(void)snprintf(
		doc, sizeof(doc),
		"<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2"
		"</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>"
		"<MsgID>1</MsgID><Target><LocURI>d</LocURI></Target><Source>"
		"<LocURI>s</LocURI></Source></SyncHdr><SyncBody><Atomic>"
		"<CmdID>1</CmdID><Replace><CmdID>2</CmdID><Item><Target>"
		"<LocURI>./Vendor/MSFT/EMAIL2/%s/%s</LocURI></Target>"
		"<Data>%s</Data></Item></Replace></Atomic><Final/></SyncBody>"
		"</SyncML>",
		guid, node, value);
	ck_assert_int_eq(e2_provision(st, doc, strlen(doc), &res, &err), E2_OK);
	for (size_t i = 0; i < res.n_failures; i++)
		if (res.failures[i].code != 216 &&
		    res.failures[i].code != 507) {
			code = res.failures[i].code;
			break;
		} else if (res.failures[i].code == 507) {
			code = 507;
		}
	e2_provision_result_free(&res);
	return code;
}

static const struct {
	const char *node;
	const char *value;
	int code;
} set_rows[] = {
	{"INSERVER", "imap.example.test:993", 200},
	{"DWNDAY", "5", 400},                      /* not in the number set */
	{"INSERVER", "a.example.test:99999", 400}, /* port out of range */
	{"NOSUCHNODE", "x", 404},
	{"SERVICETYPE", "POP3", 405},  /* Replace cannot change it */
	{"SERVICETYPE", "IMAP4", 200}, /* the value it has */
	{"TAGPROPS/8128000B", "1", 200},
	{"TAGPROPS/8128000B", "2", 400},
	{"AUTHSECRET", "********", 200}, /* the mask keeps the secret */
	{"SMTPALTENABLED", "1", 507},    /* partial SMTPALT at commit */
	{"REPLYADDR", "not an address", 400},
	{"../INSERVER", "x", 404},
};

START_TEST(test_account_node_set_codes)
{
	struct e2_node_result res;
	struct e2_err err = {0};
	int want;

	make_account(G1, "Work", "IMAP4");
	want = doc_code(G1, set_rows[_i].node, set_rows[_i].value);
	ck_assert_int_eq(want, set_rows[_i].code);
	ck_assert_int_eq(e2_node_set(st, G1, set_rows[_i].node,
				     set_rows[_i].value, &res, &err),
			 E2_OK);
	ck_assert_msg(res.code == want, "%s=%s: %d (%s), document %d",
		      set_rows[_i].node, set_rows[_i].value, res.code,
		      res.reason, want);
	if (res.code == 200)
		ck_assert_str_eq(res.reason, "");
	else
		ck_assert_str_ne(res.reason, "");
}
END_TEST

START_TEST(test_account_node_set_value_stored)
{
	struct e2_node_result res;
	struct e2_err err = {0};
	bool found = false;
	char *v = NULL;

	make_account(G1, "Work", "IMAP4");
	/* the bare-brace OMA DM spelling, lower case */
	ck_assert_int_eq(e2_node_set(st,
				     "0x7Bc556e16f-56c4-4edb-9c64-"
				     "d9469ee1fbe10x7D",
				     "INSERVER", "  imap.example.test:993 ",
				     &res, &err),
			 E2_OK);
	ck_assert_int_eq(res.code, 200);
	ck_assert_int_eq(store_node_get(st, G1, "INSERVER", &found, &v, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_str_eq(v, "imap.example.test:993"); /* trimmed, as a doc */
	free(v);
}
END_TEST

/* All or nothing: a bad node undoes the good one before it. */
START_TEST(test_account_nodes_set_atomic)
{
	const struct e2_node_value nv[] = {
		{"INSERVER", "changed.example.test"},
		{"DWNDAY", "5"},
	};
	struct e2_node_result res;
	struct e2_err err = {0};
	bool found = false;
	char *v = NULL;

	make_account(G1, "Work", "IMAP4");
	ck_assert_int_eq(e2_nodes_set(st, G1, nv, 2, &res, &err), E2_OK);
	ck_assert_int_eq(res.code, 400);
	ck_assert_ptr_nonnull(strstr(res.reason, "DWNDAY"));
	ck_assert_int_eq(store_node_get(st, G1, "INSERVER", &found, &v, &err),
			 E2_OK);
	ck_assert_str_eq(v, "127.0.0.1:1");
	free(v);
	/* a new account without its required nodes is refused whole */
	ck_assert_int_eq(
		e2_node_set(st, G2, "INSERVER", "x.example.test", &res, &err),
		E2_OK);
	ck_assert_int_eq(res.code, 507);
	ck_assert_ptr_nonnull(strstr(res.reason, "required node"));
	ck_assert_int_eq(store_account_exists(st, G2, &found, &err), E2_OK);
	ck_assert(!found);
}
END_TEST

static const struct {
	const char *node;
	int code;
} delete_rows[] = {
	{"DWNDAY", 404},   /* not set */
	{"NAME", 200},     /* optional */
	{"INSERVER", 405}, /* no Delete in its operations */
	{"NOSUCH", 404},
};

START_TEST(test_account_node_delete_codes)
{
	struct e2_node_result res;
	struct e2_err err = {0};
	bool found = true;
	char *v = NULL;

	make_account(G1, "Work", "IMAP4");
	ck_assert_int_eq(
		e2_node_delete(st, G1, delete_rows[_i].node, &res, &err),
		E2_OK);
	ck_assert_msg(res.code == delete_rows[_i].code, "%s: %d %s",
		      delete_rows[_i].node, res.code, res.reason);
	if (res.code == 200) {
		ck_assert_int_eq(store_node_get(st, G1, delete_rows[_i].node,
						&found, &v, &err),
				 E2_OK);
		ck_assert(!found);
	}
}
END_TEST

START_TEST(test_account_delete_removes_all)
{
	struct e2_sync_opts o = {0};
	struct e2_node_result res;
	struct e2_err err = {0};
	struct stat sb;
	char p[512];
	bool found = true;

	make_account(G1, "Work", "IMAP4");
	make_account(G2, "Home", "IMAP4");
	o.no_send = o.no_receive = true;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM account_status"), 1);
	(void)snprintf(p, sizeof(p), "%s/mail/%s", tmp, G1);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(e2_account_delete(st,
					   "{c556e16f-56c4-4edb-9c64-"
					   "d9469ee1fbe1}",
					   &res, &err),
			 E2_OK);
	ck_assert_msg(res.code == 200, "%d %s", res.code, res.reason);
	ck_assert_ptr_nonnull(strstr(res.note, "deleted"));
	ck_assert_int_eq(store_account_exists(st, G1, &found, &err), E2_OK);
	ck_assert(!found);
	ck_assert_int_ne(stat(p, &sb), 0);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM account_status"), 0);
	ck_assert_int_eq(
		count_rows("SELECT count(*) FROM nodes WHERE guid = '" G1 "'"),
		0);
	ck_assert_int_eq(store_account_exists(st, G2, &found, &err), E2_OK);
	ck_assert(found);
	/* again: Not Found, as a document's Delete */
	ck_assert_int_eq(e2_account_delete(st, G1, &res, &err), E2_OK);
	ck_assert_int_eq(res.code, 404);
}
END_TEST

/* A sync holding the account's lock: nothing changes, E2_EBUSY. */
START_TEST(test_account_delete_busy)
{
	struct e2_sync_opts o = {0};
	struct e2_node_result res;
	struct e2_err err = {0};
	char p[512];
	bool found = false;
	int fd;

	make_account(G1, "Work", "IMAP4");
	o.no_send = o.no_receive = true;
	ck_assert_int_eq(e2_sync_account(st, G1, &o, NULL, &err), E2_OK);
	(void)snprintf(p, sizeof(p), "%s/locks/%s.lock", tmp, G1);
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(e2_account_delete(st, G1, &res, &err), E2_EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "sync"));
	ck_assert_int_eq(store_account_exists(st, G1, &found, &err), E2_OK);
	ck_assert(found);
	(void)close(fd);
}
END_TEST

/* Every node as a Get returns it: the secret masked, never its length. */
START_TEST(test_account_nodes_masks_secret)
{
	struct e2_node_item *v = NULL;
	struct e2_node_result res;
	struct e2_err err = {0};
	size_t n = 0;
	bool secret = false, inserver = false;

	make_account(G1, "Work", "IMAP4");
	ck_assert_int_eq(e2_account_nodes(st, G1, &v, &n, &res, &err), E2_OK);
	ck_assert_int_eq(res.code, 200);
	ck_assert_uint_eq(n, sizeof(base_nodes) / sizeof(base_nodes[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_null(strstr(v[i].value, "sekr1t"));
		if (strcmp(v[i].node, "AUTHSECRET") == 0) {
			ck_assert_str_eq(v[i].value, "********");
			secret = true;
		}
		if (strcmp(v[i].node, "INSERVER") == 0) {
			ck_assert_str_eq(v[i].value, "127.0.0.1:1");
			inserver = true;
		}
	}
	ck_assert(secret && inserver);
	e2_account_nodes_free(&v, n);
	/* SMTPALTPASSWORD too */
	{
		const struct e2_node_value alt[] = {
			{"SMTPALTENABLED", "1"},
			{"SMTPALTAUTHNAME", "alt"},
			{"SMTPALTPASSWORD", "alt-sekr1t"},
		};
		bool alt_masked = false;

		ck_assert_int_eq(e2_nodes_set(st, G1, alt, 3, &res, &err),
				 E2_OK);
		ck_assert_msg(res.code == 200, "%d %s", res.code, res.reason);
		ck_assert_int_eq(e2_account_nodes(st, G1, &v, &n, &res, &err),
				 E2_OK);
		for (size_t i = 0; i < n; i++) {
			ck_assert_ptr_null(strstr(v[i].value, "sekr1t"));
			if (strcmp(v[i].node, "SMTPALTPASSWORD") == 0)
				alt_masked =
					strcmp(v[i].value, "********") == 0;
		}
		ck_assert(alt_masked);
		e2_account_nodes_free(&v, n);
	}
	ck_assert_int_eq(e2_account_nodes(st, G2, &v, &n, &res, &err), E2_OK);
	ck_assert_int_eq(res.code, 404);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* e2_account_schedule(): which node, LINGER's set, LINGER as default */
static const struct {
	int linger;
	const char *contacts, *calendars;
	unsigned type;
	int minutes;
} schedule_rows[] = {
	{15, NULL, NULL, E2_SYNC_MAIL, 15},
	{15, NULL, NULL, E2_SYNC_CONTACTS, 15},
	{15, NULL, NULL, E2_SYNC_APPOINTMENTS, 15},
	{30, "60", "120", E2_SYNC_MAIL, 30},
	{30, "60", "120", E2_SYNC_CONTACTS, 60},
	{30, "60", "120", E2_SYNC_APPOINTMENTS, 120},
	{30, "60", "120", E2_SYNC_TASKS, 120},
	{30, "0", "0", E2_SYNC_CONTACTS, 0},
	{0, "15", NULL, E2_SYNC_CONTACTS, 15},
	{0, "15", NULL, E2_SYNC_TASKS, 0},
	/* outside the set (an older store): LINGER */
	{60, "10", "daily", E2_SYNC_CONTACTS, 60},
	{60, "10", "daily", E2_SYNC_APPOINTMENTS, 60},
	{60, "", " 15", E2_SYNC_CONTACTS, 60},
};

START_TEST(test_account_schedule)
{
	struct e2_account a;
	char contacts[16], calendars[16];

	memset(&a, 0, sizeof(a));
	a.linger = schedule_rows[_i].linger;
	if (schedule_rows[_i].contacts != NULL) {
		(void)snprintf(contacts, sizeof(contacts), "%s",
			       schedule_rows[_i].contacts);
		a.contactssyncschedule = contacts;
	}
	if (schedule_rows[_i].calendars != NULL) {
		(void)snprintf(calendars, sizeof(calendars), "%s",
			       schedule_rows[_i].calendars);
		a.calendarsyncschedule = calendars;
	}
	ck_assert_int_eq(e2_account_schedule(&a, schedule_rows[_i].type),
			 schedule_rows[_i].minutes);
}
END_TEST

static Suite *
account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc;

	tc = tcase_create("status");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_account_status_classify, 0,
			    sizeof(classify_rows) / sizeof(classify_rows[0]));
	tcase_add_test(tc, test_account_status_never);
	tcase_add_test(tc, test_account_status_ok_then_failed);
	tcase_add_test(tc, test_account_status_interrupted);
	tcase_add_test(tc, test_account_status_failed_before_connect);
	tcase_add_test(tc, test_account_status_partial_counts);
	tcase_add_test(tc, test_account_status_busy_not_recorded);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_account_list_info);
	tcase_add_test(tc, test_account_list_info_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("nodes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_account_node_set_codes, 0,
			    sizeof(set_rows) / sizeof(set_rows[0]));
	tcase_add_test(tc, test_account_node_set_value_stored);
	tcase_add_test(tc, test_account_nodes_set_atomic);
	tcase_add_loop_test(tc, test_account_node_delete_codes, 0,
			    sizeof(delete_rows) / sizeof(delete_rows[0]));
	tcase_add_test(tc, test_account_delete_removes_all);
	tcase_add_test(tc, test_account_delete_busy);
	tcase_add_test(tc, test_account_nodes_masks_secret);
	suite_add_tcase(s, tc);

	tc = tcase_create("schedule");
	tcase_add_loop_test(tc, test_account_schedule, 0,
			    sizeof(schedule_rows) / sizeof(schedule_rows[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(account_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
