/* SPDX-License-Identifier: MIT */
/* check_outbox.c -- the outbox header scan: recipients and the wire copy */
#include "config.h"

#include "engine/outbox.h"
#include "engine/outbox_scan.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One row: a queued message (len 0: strlen), and either the error text
 * expected or the exact wire copy, the envelope (comma-separated, in
 * order) and whether it is 8-bit.
 */
struct scan_row {
	const char *in;
	size_t len;
	const char *error; /* substring of the message, NULL: success */
	const char *wire;
	const char *rcpt;
	bool eightbit;
};

static const struct scan_row scan_rows[] = {
	/* line ends: every kind becomes CRLF, the Bcc leaves the copy */
	{"To: a@x.org\r\nBcc: b@x.org\r\n\r\nbody\r\n", 0, NULL,
	 "To: a@x.org\r\n\r\nbody\r\n", "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc: b@x.org\n\nbody\n", 0, NULL,
	 "To: a@x.org\r\n\r\nbody\r\n", "a@x.org,b@x.org", false},
	/* the bug: a Bcc after a bare CR was body to the scan */
	{"To: a@x.org\rBcc: b@x.org\r\rbody", 0, NULL,
	 "To: a@x.org\r\n\r\nbody", "a@x.org,b@x.org", false},
	{"To: a@x.org\r\nSubject: s\rBcc: b@x.org\n\nbody", 0, NULL,
	 "To: a@x.org\r\nSubject: s\r\n\r\nbody", "a@x.org,b@x.org", false},
	{"Subject: s\rTo: a@x.org\rBCC: b@x.org\r\n\r\nx\ry\n", 0, NULL,
	 "Subject: s\r\nTo: a@x.org\r\n\r\nx\r\ny\r\n", "a@x.org,b@x.org",
	 false},
	/* every spelling of the name */
	{"To: a@x.org\nbcc: b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nbCc : b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc\t: b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc\r\n : b@x.org\n\nx", 0, NULL, "To: a@x.org\r\n\r\nx",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\nBcc: b@x.org,\n c@x.org,\n\tD <d@x.org>\nX: y\n\nx", 0,
	 NULL, "To: a@x.org\r\nX: y\r\n\r\nx",
	 "a@x.org,b@x.org,c@x.org,d@x.org", false},
	{"Bcc: b@x.org\nTo: a@x.org\nBcc: c@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "b@x.org,a@x.org,c@x.org", false},
	{"To: a@x.org\nBcc: undisclosed:;\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "a@x.org", false},
	{"To: a@x.org\nResent-Bcc: r@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\n\r\nx", "a@x.org", false},
	/* not Bcc fields: in the body, inside another field, other names */
	{"To: a@x.org\n\nBcc: b@x.org\n", 0, NULL,
	 "To: a@x.org\r\n\r\nBcc: b@x.org\r\n", "a@x.org", false},
	{"To: a@x.org\nSubject: hi\n Bcc: b@x.org\n\nx", 0, NULL,
	 "To: a@x.org\r\nSubject: hi\r\n Bcc: b@x.org\r\n\r\nx", "a@x.org",
	 false},
	{"To: a@x.org\nX-Bcc: b@x.org\nBccx: c\n\nx", 0, NULL,
	 "To: a@x.org\r\nX-Bcc: b@x.org\r\nBccx: c\r\n\r\nx", "a@x.org", false},
	/* CR CR LF is two line ends: the header ends there */
	{"To: a@x.org\r\r\nBcc: b@x.org\r\n", 0, NULL,
	 "To: a@x.org\r\n\r\nBcc: b@x.org\r\n", "a@x.org", false},
	/* a header without a body; a dot line stays for libetpan to stuff */
	{"To: a@x.org\nBcc: b@x.org", 0, NULL, "To: a@x.org\r\n",
	 "a@x.org,b@x.org", false},
	{"To: a@x.org\n\n.\n..\n", 0, NULL, "To: a@x.org\r\n\r\n.\r\n..\r\n",
	 "a@x.org", false},
	/* recipients: groups, display names, duplicates */
	{"To: \"Doe, J\" <j@x.org>, T: k@x.org, J@X.ORG;\nCc: j@x.org\n\nx", 0,
	 NULL,
	 "To: \"Doe, J\" <j@x.org>, T: k@x.org, J@X.ORG;\r\n"
	 "Cc: j@x.org\r\n\r\nx",
	 "j@x.org,k@x.org", false},
	/* 8-bit */
	{"To: a@x.org\n\nh\xc3\xa9\n", 0, NULL,
	 "To: a@x.org\r\n\r\nh\xc3\xa9\r\n", "a@x.org", true},
	/* errors */
	{"To: a@x.org\n\nnul\0here\n", 19, "NUL byte at offset 16", NULL, NULL,
	 false},
	{" Bcc: b@x.org\nTo: a@x.org\n\nx", 0, "starts with white space", NULL,
	 NULL, false},
	{"\tTo: a@x.org\n\nx", 0, "starts with white space", NULL, NULL, false},
	{"To: undisclosed:;\nSubject: s\n\nx", 0, "no recipient", NULL, NULL,
	 false},
	{"Subject: s\n\nTo: a@x.org\n", 0, "no recipient", NULL, NULL, false},
	{"To: a b@x.org\n\nx", 0, "To:", NULL, NULL, false},
	{"Bcc: <a@x.org\n\nx", 0, "Bcc:", NULL, NULL, false},
	{"Cc: a@x.org\nTo: bj\xc3\xb6rn@x.org\n\nx", 0, "bad address", NULL,
	 NULL, false},
	{"", 0, "no recipient", NULL, NULL, false},
	/* a list libetpan cannot parse at all: no NULL to free (fuzz) */
	{"To: a@x.To: a@x.org\r\n\r\nbody", 0, "cannot parse", NULL, NULL,
	 false},
};

START_TEST(test_outbox_scan_table)
{
	const struct scan_row *row = &scan_rows[_i];
	size_t len = row->len != 0 ? row->len : strlen(row->in);
	struct outbox_scan s = {0};
	struct e2_err err = {0};
	enum e2_status rc = outbox_scan(row->in, len, &s, &err);
	char env[512] = "";

	if (row->error != NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_msg(strstr(err.msg, row->error) != NULL,
			      "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
			      row->error);
		ck_assert_ptr_null(s.wire);
		ck_assert_uint_eq(s.nrcpt, 0);
		return;
	}
	ck_assert_msg(rc == E2_OK, "row %d: %s", _i, err.msg);
	ck_assert_uint_eq(s.wire_len, strlen(row->wire));
	ck_assert_msg(memcmp(s.wire, row->wire, s.wire_len) == 0,
		      "row %d: wire \"%s\"", _i, s.wire);
	ck_assert_int_eq(s.wire[s.wire_len], '\0');
	for (size_t i = 0; i < s.nrcpt; i++) {
		if (i > 0)
			(void)strncat(env, ",", sizeof(env) - strlen(env) - 1);
		(void)strncat(env, s.rcpt[i], sizeof(env) - strlen(env) - 1);
	}
	ck_assert_str_eq(env, row->rcpt);
	ck_assert_int_eq(s.eightbit, row->eightbit);
	outbox_scan_free(&s);
	ck_assert_ptr_null(s.wire);
}
END_TEST

static const struct {
	const char *in;
	bool from, date, msgid;
} has_rows[] = {
	{"To: a@x.org\n\nx", false, false, false},
	{"from: m@x.org\rDATE : now\rMessage-Id: <1@x>\rTo: a@x.org\r\rx", true,
	 true, true},
	{"To: a@x.org\n\nFrom: m@x.org\nDate: now\n", false, false, false},
};

START_TEST(test_outbox_scan_has_fields)
{
	struct outbox_scan s = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(
		outbox_scan(has_rows[_i].in, strlen(has_rows[_i].in), &s, &err),
		E2_OK);
	ck_assert_int_eq(s.has_from, has_rows[_i].from);
	ck_assert_int_eq(s.has_date, has_rows[_i].date);
	ck_assert_int_eq(s.has_msgid, has_rows[_i].msgid);
	outbox_scan_free(&s);
}
END_TEST

static const struct {
	const char *addr;
	bool ok;
} addr_rows[] = {
	{"a@x.org", true},          {"\"a b\"@x.org", false},
	{"a@[127.0.0.1]", true},    {"a", false},
	{"@x.org", false},          {"a@", false},
	{"a@.x.org", false},        {"a@x.org.", false},
	{"a@b@x.org", false},       {"a@x_y.org", false},
	{"a\r\n@x.org", false},     {"<a@x.org>", false},
	{"a@x.org\r\nRCPT", false},
};

START_TEST(test_outbox_addr_ok)
{
	ck_assert_int_eq(outbox_addr_ok(addr_rows[_i].addr), addr_rows[_i].ok);
}
END_TEST

START_TEST(test_outbox_scan_free_null)
{
	struct outbox_scan s = {0};

	outbox_scan_free(NULL);
	outbox_scan_free(&s);
}
END_TEST

/* ---- the retry schedule (outbox.h) --------------------------------------- */

static const struct {
	unsigned attempts;
	int64_t delay;
} delay_rows[] = {
	{0, 0},    {1, 60},   {2, 300},   {3, 900},     {4, 3600},
	{5, 3600}, {9, 3600}, {10, 3600}, {1000, 3600},
};

START_TEST(test_outbox_retry_delay)
{
	ck_assert_int_eq(outbox_retry_delay(delay_rows[_i].attempts),
			 delay_rows[_i].delay);
}
END_TEST

/* ---- ids ----------------------------------------------------------------- */

static const struct {
	const char *s;
	bool ok;
} id_rows[] = {
	{"1700000000.Q0123456789abcdef.e2q", true},
	{"1.Qffffffffffffffff.e2q", true},
	{"1700000000.Q0123456789ABCDEF.e2q", false}, /* upper-case hex */
	{"1700000000.Q0123456789abcde.e2q", false},  /* 15 digits */
	{"1700000000.Q0123456789abcdef0.e2q", false},
	{"1700000000.Q0123456789abcdef.e2", false},
	{".Q0123456789abcdef.e2q", false},
	{"msg1.eml", false},
	{"", false},
	{"1700000000.M1P1Q1.host,S=12", false},
};

START_TEST(test_outbox_id_ok)
{
	ck_assert_int_eq(outbox_id_ok(id_rows[_i].s, strlen(id_rows[_i].s)),
			 id_rows[_i].ok);
}
END_TEST

START_TEST(test_outbox_id_new)
{
	char a[OUTBOX_ID_MAX], b[OUTBOX_ID_MAX];
	struct e2_err err = {0};

	ck_assert_int_eq(outbox_id_new(a, &err), E2_OK);
	ck_assert_int_eq(outbox_id_new(b, &err), E2_OK);
	ck_assert(outbox_id_ok(a, strlen(a)));
	ck_assert(outbox_id_ok(b, strlen(b)));
	ck_assert_str_ne(a, b);
}
END_TEST

/* ---- sendmail's standard input ------------------------------------------- */

static const struct {
	const char *in;
	size_t len; /* 0: strlen(in) */
	bool dot_ends;
	long want; /* length kept, -1: E2_EINVAL */
} input_rows[] = {
	{"a\nb\n", 0, true, 4},
	{"a\n.\nb\n", 0, true, 2},       /* a lone dot ends it */
	{"a\r\n.\r\nb\r\n", 0, true, 3}, /* CRLF too */
	{"a\n.", 0, true, 2},            /* at the very end */
	{".\nrest", 0, true, 0},         /* on the first line */
	{"a\n.\nb\n", 0, false, 6},      /* -i: kept */
	{"a\n..\nb\n", 0, true, 7},      /* not a lone dot */
	{"a\n.x\n", 0, true, 5},         /* nor this */
	{"a.\n.b\n", 0, true, 6},        /* nor mid-line */
	{"a\n.\r\n", 0, true, 2},
	{"a\n.\rx\n", 0, true, 6},  /* CR not before LF */
	{"a\0b\n", 4, true, -1},    /* NUL */
	{"a\n.\n\0", 5, true, 2},   /* NUL after the end: ignored */
	{"a\n.\n\0", 5, false, -1}, /* but not with -i */
};

START_TEST(test_outbox_sendmail_input)
{
	size_t len = input_rows[_i].len != 0 ? input_rows[_i].len
					     : strlen(input_rows[_i].in);
	size_t got = 999;
	struct e2_err err = {0};
	enum e2_status rc = e2_sendmail_input(
		input_rows[_i].in, len, input_rows[_i].dot_ends, &got, &err);

	if (input_rows[_i].want < 0) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "NUL byte"));
	} else {
		ck_assert_int_eq(rc, E2_OK);
		ck_assert_uint_eq(got, (size_t)input_rows[_i].want);
	}
}
END_TEST

/* ---- the claim and its recovery (outbox.h, "Recovery") ------------------- */

static const char cguid[] = "{C556E16F-56C4-4EDB-9C64-D9469EE1FBE0}";
static char ctmp[256];
static struct e2_store *cst;
static char *cq;

static void
claim_setup(void)
{
	struct e2_err err = {0};

	tu_mkdtemp(ctmp, sizeof(ctmp), "check_outbox");
	ck_assert_int_eq(e2_store_open(ctmp, &cst, &err), E2_OK);
	ck_assert_int_eq(store_account_create(cst, cguid, &err), E2_OK);
	ck_assert_int_eq(outbox_open(cst, cguid, &cq, &err), E2_OK);
}

static void
claim_teardown(void)
{
	free(cq);
	cq = NULL;
	e2_store_close(&cst);
	tu_rmtree(ctmp);
}

static void
put_file(const char *sub, const char *name)
{
	char p[1024];
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/%s/%s", cq, sub, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("To: a@example.org\nSubject: s\n\nbody\n", f);
	ck_assert_int_eq(fclose(f), 0);
}

static bool
exists(const char *sub, const char *name)
{
	char p[1024];
	struct stat sb;

	(void)snprintf(p, sizeof(p), "%s/%s/%s", cq, sub, name);
	return lstat(p, &sb) == 0;
}

static size_t
count(const char *sub)
{
	char p[1024];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	(void)snprintf(p, sizeof(p), "%s/%s", cq, sub);
	d = opendir(p);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
sql(const char *q)
{
	ck_assert_int_eq(sqlite3_exec(store_db(cst), q, NULL, NULL, NULL),
			 SQLITE_OK);
}

static void
row(const char *id, const char *origin, int state)
{
	char q[512];

	(void)snprintf(q, sizeof(q),
		       "INSERT INTO outbox_queue (guid, id, origin, state,"
		       " queued) VALUES ('%s', '%s', '%s', %d, 1)",
		       cguid, id, origin, state);
	sql(q);
}

static void
legacy(const char *file, unsigned attempts, const char *error)
{
	char q[512];

	(void)snprintf(q, sizeof(q),
		       "INSERT INTO sync_outbox (guid, file, attempts,"
		       " last_error, last_attempt) VALUES ('%s', '%s', %u,"
		       " '%s', 5)",
		       cguid, file, attempts, error);
	sql(q);
}

#define ID1 "1700000000.Q0000000000000001.e2q"

/*
 * Each row is a state a kill (or the user) can leave; after one claim
 * pass: how many rows, files in cur/ and new/, the first row's state and
 * attempts, and whether its origin was cleared.
 */
enum claim_case {
	CLAIM_USER_FILE, /* a file in new/: claimed */
	CLAIM_USER_CUR,  /* a file in cur/ with flags: claimed, flags kept */
	CLAIM_KILL_BEFORE_MV, /* row committed, rename not done */
	CLAIM_KILL_AFTER_MV,  /* renamed, origin not cleared yet */
	CLAIM_KILL_SENDMAIL,  /* email2-sendmail: row, file still in tmp/ */
	CLAIM_FILE_GONE,      /* row, no file, no origin: the user removed it */
	CLAIM_SENT_MOVED,     /* a SENT row whose file reached Sent */
	CLAIM_LEGACY_SENT,    /* an old version's "sent" marker */
	CLAIM_LEGACY_TRIES,   /* an old version's failed attempts */
	CLAIM_LEGACY_STALE,   /* an old row naming no file */
	CLAIM_ID_NO_ROW,      /* an id-shaped name no row knows: a new claim */
};

static const struct {
	enum claim_case c;
	size_t rows, cur, new_;
	int state;
	unsigned attempts;
} claim_rows[] = {
	{CLAIM_USER_FILE, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
	{CLAIM_USER_CUR, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
	{CLAIM_KILL_BEFORE_MV, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
	{CLAIM_KILL_AFTER_MV, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
	{CLAIM_KILL_SENDMAIL, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
	{CLAIM_FILE_GONE, 0, 0, 0, 0, 0},
	{CLAIM_SENT_MOVED, 0, 0, 0, 0, 0},
	{CLAIM_LEGACY_SENT, 1, 1, 0, OUTBOX_STATE_SENT, 1},
	{CLAIM_LEGACY_TRIES, 1, 1, 0, OUTBOX_STATE_QUEUED, 3},
	{CLAIM_LEGACY_STALE, 0, 0, 0, 0, 0},
	{CLAIM_ID_NO_ROW, 1, 1, 0, OUTBOX_STATE_QUEUED, 0},
};

START_TEST(test_outbox_claim_recovery)
{
	struct outbox_row *rows = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	sqlite3_stmt *stmt = NULL;

	switch (claim_rows[_i].c) {
	case CLAIM_USER_FILE:
		put_file("new", "msg1.eml");
		break;
	case CLAIM_USER_CUR:
		put_file("cur", "msg1.eml:2,FS");
		break;
	case CLAIM_KILL_BEFORE_MV:
		put_file("new", "msg1.eml");
		row(ID1, "new/msg1.eml", 0);
		break;
	case CLAIM_KILL_AFTER_MV:
		put_file("cur", ID1 ":2,");
		row(ID1, "new/msg1.eml", 0);
		break;
	case CLAIM_KILL_SENDMAIL:
		put_file("tmp", ID1);
		row(ID1, "tmp/" ID1, 0);
		break;
	case CLAIM_FILE_GONE:
		row(ID1, "", 0);
		break;
	case CLAIM_SENT_MOVED:
		row(ID1, "", 1);
		break;
	case CLAIM_LEGACY_SENT:
		put_file("new", "old.eml");
		legacy("old.eml", 1, "sent; not yet moved to .Sent: x");
		break;
	case CLAIM_LEGACY_TRIES:
		put_file("cur", "old.eml:2,");
		legacy("old.eml", 3, "450 later");
		break;
	case CLAIM_LEGACY_STALE:
		legacy("gone.eml", 1, "sent; not yet moved to .Sent: x");
		break;
	case CLAIM_ID_NO_ROW:
		put_file("cur", ID1 ":2,");
		break;
	}
	ck_assert_int_eq(outbox_claim(cst, cguid, cq, 100, &rows, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, claim_rows[_i].rows);
	ck_assert_uint_eq(count("cur"), claim_rows[_i].cur);
	ck_assert_uint_eq(count("new"), claim_rows[_i].new_);
	ck_assert_uint_eq(count("tmp"), 0);
	if (n > 0) {
		char name[OUTBOX_ID_MAX + 8];

		ck_assert(outbox_id_ok(rows[0].id, strlen(rows[0].id)));
		ck_assert_int_eq(rows[0].state, claim_rows[_i].state);
		ck_assert_uint_eq(rows[0].attempts, claim_rows[_i].attempts);
		ck_assert_str_eq(rows[0].origin, "");
		(void)snprintf(name, sizeof(name), "%s:2,%s", rows[0].id,
			       claim_rows[_i].c == CLAIM_USER_CUR ? "FS" : "");
		ck_assert(exists("cur", name));
		if (claim_rows[_i].c == CLAIM_ID_NO_ROW)
			ck_assert_str_ne(rows[0].id, ID1);
	}
	/* no row of an older version survives a pass */
	ck_assert_int_eq(sqlite3_prepare_v2(store_db(cst),
					    "SELECT count(*) FROM sync_outbox",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(stmt, 0), 0);
	sqlite3_finalize(stmt);
	outbox_rows_free(&rows, n);
	/* a second pass changes nothing */
	ck_assert_int_eq(outbox_claim(cst, cguid, cq, 100, &rows, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, claim_rows[_i].rows);
	ck_assert_uint_eq(count("cur"), claim_rows[_i].cur);
	outbox_rows_free(&rows, n);
}
END_TEST

/* A reused name is a new message with a new id; the first keeps its own. */
START_TEST(test_outbox_claim_reused_name)
{
	struct outbox_row *rows = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	char first[OUTBOX_ID_MAX];

	put_file("new", "msg1.eml");
	ck_assert_int_eq(outbox_claim(cst, cguid, cq, 100, &rows, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 1);
	memcpy(first, rows[0].id, sizeof(first));
	outbox_rows_free(&rows, n);
	put_file("new", "msg1.eml");
	ck_assert_int_eq(outbox_claim(cst, cguid, cq, 101, &rows, &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(rows[0].id, first);
	ck_assert_str_ne(rows[1].id, first);
	ck_assert_uint_eq(count("cur"), 2);
	outbox_rows_free(&rows, n);
}
END_TEST

/* email2-sendmail's queueing: the envelope kept, checks before writing. */
START_TEST(test_outbox_submit)
{
	static const char msg[] = "To: h@example.org\nBcc: b@example.org\n"
				  "Subject: s\n\nbody\n";
	const char *rcpt[] = {"e@example.org", "E@example.org"};
	struct outbox_row *rows = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	char *id = NULL;

	ck_assert_int_eq(e2_outbox_submit(cst, cguid, msg, strlen(msg), rcpt, 2,
					  false, NULL, &id, &err),
			 E2_OK);
	ck_assert_int_eq(outbox_rows(cst, cguid, &rows, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rows[0].id, id);
	ck_assert_str_eq(rows[0].envelope, "e@example.org"); /* deduplicated */
	ck_assert_str_eq(rows[0].origin, "");
	outbox_rows_free(&rows, n);
	free(id);
	id = NULL;
	/* -t plus an argument */
	ck_assert_int_eq(e2_outbox_submit(cst, cguid, msg, strlen(msg), rcpt, 1,
					  true, NULL, &id, &err),
			 E2_OK);
	ck_assert_int_eq(outbox_rows(cst, cguid, &rows, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].id, id) == 0)
			ck_assert_str_eq(rows[i].envelope,
					 "e@example.org\nh@example.org\n"
					 "b@example.org");
	outbox_rows_free(&rows, n);
	free(id);
	id = NULL;
	/* refused before anything is written */
	ck_assert_int_eq(e2_outbox_submit(cst, cguid, "To: x\n\nb\n", 9, rcpt,
					  1, false, NULL, &id, &err),
			 E2_EINVAL);
	e2_err_clear(&err);
	ck_assert_int_eq(e2_outbox_submit(cst, cguid, "Subject: s\n\nb\n", 14,
					  NULL, 0, false, NULL, &id, &err),
			 E2_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no recipient"));
	ck_assert_uint_eq(count("cur"), 2);
	ck_assert_uint_eq(count("tmp"), 0);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("scan");
	TCase *tq = tcase_create("queue");
	TCase *tcl = tcase_create("claim");

	tcase_add_loop_test(tc, test_outbox_scan_table, 0,
			    sizeof(scan_rows) / sizeof(scan_rows[0]));
	tcase_add_loop_test(tc, test_outbox_scan_has_fields, 0,
			    sizeof(has_rows) / sizeof(has_rows[0]));
	tcase_add_loop_test(tc, test_outbox_addr_ok, 0,
			    sizeof(addr_rows) / sizeof(addr_rows[0]));
	tcase_add_test(tc, test_outbox_scan_free_null);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tq, test_outbox_retry_delay, 0,
			    sizeof(delay_rows) / sizeof(delay_rows[0]));
	tcase_add_loop_test(tq, test_outbox_id_ok, 0,
			    sizeof(id_rows) / sizeof(id_rows[0]));
	tcase_add_test(tq, test_outbox_id_new);
	tcase_add_loop_test(tq, test_outbox_sendmail_input, 0,
			    sizeof(input_rows) / sizeof(input_rows[0]));
	suite_add_tcase(s, tq);
	tcase_add_checked_fixture(tcl, claim_setup, claim_teardown);
	tcase_add_loop_test(tcl, test_outbox_claim_recovery, 0,
			    sizeof(claim_rows) / sizeof(claim_rows[0]));
	tcase_add_test(tcl, test_outbox_claim_reused_name);
	tcase_add_test(tcl, test_outbox_submit);
	suite_add_tcase(s, tcl);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
