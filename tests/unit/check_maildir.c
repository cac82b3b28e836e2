/* SPDX-License-Identifier: MIT */
/* check_maildir.c -- Maildir++ names, the batch writer, flags, recovery */
#include "config.h"

#include "engine/maildir.h"
#include "engine/sync_dedupe.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static char tmproot[256];

static void
setup_tmp(void)
{
	tu_mkdtemp(tmproot, sizeof(tmproot), "check_maildir");
}

static void
teardown_tmp(void)
{
	tu_rmtree(tmproot);
}

/* Regular files in dir/sub whose name does not start with ".". */
static size_t
count_files(const char *dir, const char *sub)
{
	char p[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	(void)snprintf(p, sizeof(p), "%s/%s", dir, sub);
	d = opendir(p);
	ck_assert_msg(d != NULL, "opendir %s", p);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

static char *
slurp(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	size_t n;

	ck_assert_msg(f != NULL, "open %s", path);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	*len_out = n;
	return buf;
}

static struct maildir *
open_md(void)
{
	struct e2_err err = {0};
	struct maildir *md = NULL;
	char root[512];

	(void)snprintf(root, sizeof(root), "%s/mail", tmproot);
	ck_assert_int_eq(maildir_open(root, &md, &err), E2_OK);
	return md;
}

/* ---- folder names ----------------------------------------------------------
 */

static const struct {
	const char *name;
	char sep;
	const char *dir; /* NULL: E2_EINVAL */
} folder_rows[] = {
	{"INBOX", '/', ""},
	{"inbox", '.', ""},
	{"Sent", '/', ".Sent"},
	{"Work/Projects", '/', ".Work.Projects"},
	{"Work.Projects", '.', ".Work.Projects"},
	{"a.b", '/', ".a%2Eb"},
	{"Sent Items", '/', ".Sent Items"},
	{"Entw&APw-rfe", '/', ".Entw&APw-rfe"}, /* modified UTF-7 */
	{"..", '/', ".%2E%2E"},
	{"../../etc/passwd", '/', ".%2E%2E.%2E%2E.etc.passwd"},
	{".hidden", '/', ".%2Ehidden"},
	{"a\\b:c*d%e", '/', ".a%5Cb%3Ac%2Ad%25e"},
	{"x/y", '\0', ".x%2Fy"},
	{"tab\there", '/', ".tab%09here"},
	{"\xc3\xa4rger", '/', ".%C3%A4rger"},
	{"INBOX/Sub", '/', ".INBOX.Sub"},
	{"cur", '/', ".cur"},
	{"", '/', NULL},
	{"/", '/', NULL},
	{"a//b", '/', NULL},
	{"a/", '/', NULL},
	{"/a", '/', NULL},
};

START_TEST(test_maildir_folder_mapping)
{
	struct e2_err err = {0};
	char *dir = NULL, *back = NULL;
	enum e2_status rc;

	rc = maildir_folder_encode(folder_rows[_i].name, folder_rows[_i].sep,
				   &dir, &err);
	if (folder_rows[_i].dir == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		return;
	}
	ck_assert_int_eq(rc, E2_OK);
	ck_assert_str_eq(dir, folder_rows[_i].dir);
	ck_assert_ptr_null(strchr(dir, '/'));
	ck_assert_int_eq(
		maildir_folder_decode(dir, folder_rows[_i].sep, &back, &err),
		E2_OK);
	if (dir[0] == '\0')
		ck_assert_str_eq(back, "INBOX");
	else
		ck_assert_str_eq(back, folder_rows[_i].name);
	free(back);
	free(dir);
}
END_TEST

static const char *const bad_dirs[] = {
	".",   "..",     "x",     ".a/b", ".%2F", ".%2f", ".%G1",
	".%2", ".INBOX", ".a..b", ".a.",  ".%61", /* "a" must not be escaped */
};

START_TEST(test_maildir_folder_decode_rejects)
{
	struct e2_err err = {0};
	char *name = NULL;

	ck_assert_int_eq(maildir_folder_decode(bad_dirs[_i], '/', &name, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(name);
}
END_TEST

START_TEST(test_maildir_folder_too_long)
{
	struct e2_err err = {0};
	char name[200];
	char *dir = NULL;

	memset(name, '.', sizeof(name) - 1); /* 199 dots: 597 bytes encoded */
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(maildir_folder_encode(name, '/', &dir, &err),
			 E2_EINVAL);
	ck_assert_ptr_null(dir);
}
END_TEST

START_TEST(test_maildir_folder_creates_tree)
{
	struct maildir *md = open_md();
	struct e2_err err = {0};
	char *path = NULL;
	struct stat st;
	char p[1024];

	ck_assert_int_eq(maildir_folder(md, "Work/Sub", '/', &path, &err),
			 E2_OK);
	(void)snprintf(p, sizeof(p), "%s/.Work.Sub/tmp", maildir_root(md));
	ck_assert_str_eq(strstr(p, "/.Work.Sub"), "/.Work.Sub/tmp");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	free(path);
	maildir_close(&md);
	ck_assert_ptr_null(md);
}
END_TEST

/* ---- folder ownership: two server names never share a directory -------- */

#define LONG_UTF8                                                              \
	"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"     \
	"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"     \
	"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"     \
	"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"     \
	"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"

static const struct {
	const char *name;
	char sep;
	unsigned n;
	const char *dir; /* NULL: E2_EINVAL */
} cand_rows[] = {
	{"a.b", '.', 0, ".a.b"},
	{"a/b", '/', 0, ".a.b"},
	{"a/b", '/', 1, ".a.b%-2"},
	{"a.b", '.', 2, ".a.b%-3"},
	{"Inbox", '/', 0, ""},
	{"Inbox", '/', 1, ".Inbox%-2"},
	{"iNbOx", '.', 3, ".iNbOx%-4"},
	{"x", '/', 15, ".x%-16"},
	{"x", '/', 16, NULL},
	{"a//b", '/', 1, NULL},
	/* 84 bytes: 253 encoded fit, 256 with "%-2" do not */
	{LONG_UTF8 "\xc3\xa4\xc3\xa4", '/', 1, NULL},
	{LONG_UTF8 LONG_UTF8, '/', 0, NULL}, /* 160 bytes, 481 encoded */
};

START_TEST(test_maildir_folder_candidate_table)
{
	static const char seps[] = "./\\|:";
	struct e2_err err = {0};
	char *dir = NULL, *back = NULL;
	enum e2_status rc;

	rc = maildir_folder_candidate(cand_rows[_i].name, cand_rows[_i].sep,
				      cand_rows[_i].n, &dir, &err);
	if (cand_rows[_i].dir == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_ptr_null(dir);
		return;
	}
	ck_assert_int_eq(rc, E2_OK);
	ck_assert_str_eq(dir, cand_rows[_i].dir);
	ck_assert_ptr_null(strchr(dir, '/'));
	ck_assert(strstr(dir, "..") == NULL);
	/* a suffixed candidate is no plain encoding, whatever separator */
	for (size_t i = 0; cand_rows[_i].n > 0 && i < sizeof(seps) - 1; i++) {
		ck_assert_int_eq(
			maildir_folder_decode(dir, seps[i], &back, &err),
			E2_EINVAL);
		ck_assert_ptr_null(back);
	}
	free(dir);
}
END_TEST

/*
 * Claim scenarios: names in LIST order and the directory each must get;
 * then a second run in the opposite order must give the same ones.
 */
#define CLAIM_MAX 4
static const struct {
	struct {
		const char *name;
		char sep;
		const char *dir; /* NULL: skipped (E2_EINVAL) */
	} v[CLAIM_MAX];
} claim_rows[] = {
	{{{"a.b", '.', ".a.b"}, {"a/b", '/', ".a.b%-2"}}},
	{{{"a/b", '/', ".a.b"}, {"a.b", '.', ".a.b%-2"}}},
	{{{"a.b", '.', ".a.b"},
	  {"a/b", '/', ".a.b%-2"},
	  {"a|b", '|', ".a.b%-3"}}},
	{{{"INBOX", '/', ""},
	  {"Inbox", '/', ".Inbox%-2"},
	  {"inbox", '.', ".inbox%-2"}}},
	{{{"Entw&APw-rfe", '/', ".Entw&APw-rfe"},
	  {"Entw\xc3\xbcrfe", '/', ".Entw%C3%BCrfe"}}},
	{{{"x", '/', ".x"}, {"x", '.', ".x"}}}, /* one name, one owner */
	{{{LONG_UTF8 LONG_UTF8, '/', NULL},
	  {"INBOX", '/', ""},
	  {"Sent", '/', ".Sent"}}},
	{{{"a.b%-2", '.', ".a.b%25-2"},
	  {"a.b", '.', ".a.b"},
	  {"a/b", '/', ".a.b%-2"}}},
};

START_TEST(test_maildir_folder_claim_table)
{
	struct maildir *md = open_md();
	char *paths[CLAIM_MAX] = {0};

	for (int round = 0; round < 2; round++) {
		for (size_t k = 0; k < CLAIM_MAX; k++) {
			/* round 1: the opposite order, as a later LIST may */
			size_t i = round == 0 ? k : CLAIM_MAX - 1 - k;
			const char *name = claim_rows[_i].v[i].name;
			const char *dir = claim_rows[_i].v[i].dir;
			struct e2_err err = {0};
			char *path = NULL, *owner = NULL;
			bool moved = false, found = false;
			enum e2_status rc;
			char want[1024];

			if (name == NULL)
				continue;
			rc = maildir_folder_claim(md, name,
						  claim_rows[_i].v[i].sep,
						  &path, &moved, &err);
			if (dir == NULL) {
				ck_assert_int_eq(rc, E2_EINVAL);
				continue;
			}
			ck_assert_msg(rc == E2_OK, "%s: %s", name, err.msg);
			(void)snprintf(want, sizeof(want), "%s%s%s",
				       maildir_root(md),
				       dir[0] != '\0' ? "/" : "", dir);
			ck_assert_str_eq(path, want);
			ck_assert(!moved || round == 0);
			ck_assert_int_eq(maildir_folder_owner(path, &found,
							      &owner, &err),
					 E2_OK);
			ck_assert(found);
			ck_assert_str_eq(owner, name);
			free(owner);
			if (round == 0) {
				paths[i] = path;
				continue;
			}
			ck_assert_str_eq(path, paths[i]);
			free(path);
		}
	}
	/* distinct names, distinct directories */
	for (size_t i = 0; i < CLAIM_MAX; i++)
		for (size_t j = i + 1; j < CLAIM_MAX; j++)
			if (paths[i] != NULL && paths[j] != NULL &&
			    strcmp(claim_rows[_i].v[i].name,
				   claim_rows[_i].v[j].name) != 0)
				ck_assert_str_ne(paths[i], paths[j]);
	for (size_t i = 0; i < CLAIM_MAX; i++)
		free(paths[i]);
	maildir_close(&md);
}
END_TEST

/* A name with every candidate owned is skipped; moved says "suffixed". */
START_TEST(test_maildir_folder_claim_exhausted)
{
	static const char seps[] = "./\\|:;-_+,!#$&'()";
	struct maildir *md = open_md();
	struct e2_err err = {0};
	char name[4];
	char *path = NULL;
	bool moved = true;

	ck_assert_uint_ge(sizeof(seps) - 1, MAILDIR_CLAIM_TRIES + 1);
	for (size_t i = 0; i <= MAILDIR_CLAIM_TRIES; i++) {
		(void)snprintf(name, sizeof(name), "a%cb", seps[i]);
		err.msg[0] = '\0';
		if (i == MAILDIR_CLAIM_TRIES) {
			ck_assert_int_eq(maildir_folder_claim(md, name, seps[i],
							      &path, &moved,
							      &err),
					 E2_EINVAL);
			ck_assert_ptr_nonnull(
				strstr(err.msg, "no local folder"));
			break;
		}
		ck_assert_int_eq(maildir_folder_claim(md, name, seps[i], &path,
						      &moved, &err),
				 E2_OK);
		ck_assert(moved == (i > 0));
		free(path);
		/* the second time it is the owner's already: not moved */
		ck_assert_int_eq(maildir_folder_claim(md, name, seps[i], &path,
						      &moved, &err),
				 E2_OK);
		ck_assert(!moved);
		free(path);
	}
	maildir_close(&md);
}
END_TEST

/*
 * A directory the user named (.Entwürfe) owns the server name email2
 * created for it: claim returns it, not a new candidate directory, while
 * its owner file says so; a directory another name owns is refused.
 */
START_TEST(test_maildir_folder_alias)
{
	struct maildir *md = open_md();
	struct e2_err err = {0};
	char dir[600], cand[600], owner[700] = "";
	char *path = NULL;
	bool moved = true;
	FILE *f;

	(void)snprintf(dir, sizeof(dir), "%s/.Entw\xc3\xbcrfe",
		       maildir_root(md));
	(void)snprintf(cand, sizeof(cand), "%s/.Entw&APw-rfe",
		       maildir_root(md));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	(void)snprintf(owner, sizeof(owner), "%s/tmp", dir);
	ck_assert_int_eq(mkdir(owner, 0700), 0); /* as the scan requires */
	ck_assert_int_eq(maildir_folder_alias(md, "Entw&APw-rfe", dir, &err),
			 E2_OK);
	(void)snprintf(owner, sizeof(owner), "%s/email2-folder", dir);
	f = fopen(owner, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(owner, sizeof(owner), f));
	(void)fclose(f);
	ck_assert_str_eq(owner, "Entw&APw-rfe");
	ck_assert_int_eq(maildir_folder_claim(md, "Entw&APw-rfe", '/', &path,
					      &moved, &err),
			 E2_OK);
	ck_assert_str_eq(path, dir);
	ck_assert(!moved);
	free(path);
	ck_assert_int_ne(access(cand, F_OK), 0); /* no second folder */
	/* the same again is fine; another name is refused */
	ck_assert_int_eq(maildir_folder_alias(md, "Entw&APw-rfe", dir, &err),
			 E2_OK);
	ck_assert_int_eq(maildir_folder_alias(md, "Other", dir, &err),
			 E2_EINVAL);
	maildir_close(&md);
}
END_TEST

/* A directory from before owners were recorded: the first name keeps it. */
START_TEST(test_maildir_folder_claim_legacy_dir)
{
	struct maildir *md = open_md();
	struct e2_err err = {0};
	char *path = NULL, *old = NULL, *owner = NULL;
	bool moved = true, found = true;

	ck_assert_int_eq(maildir_folder(md, "a/b", '/', &old, &err), E2_OK);
	ck_assert_int_eq(maildir_folder_owner(old, &found, &owner, &err),
			 E2_OK);
	ck_assert(!found);
	ck_assert_int_eq(
		maildir_folder_claim(md, "a.b", '.', &path, &moved, &err),
		E2_OK);
	ck_assert_str_eq(path, old);
	ck_assert(!moved);
	free(path);
	ck_assert_int_eq(
		maildir_folder_claim(md, "a/b", '/', &path, &moved, &err),
		E2_OK);
	ck_assert_str_ne(path, old);
	ck_assert(moved);
	free(path);
	free(old);
	maildir_close(&md);
}
END_TEST

/* ---- batch writer ---------------------------------------------------------
 */

START_TEST(test_maildir_batch_commit)
{
	static const char body[] = "Subject: hi\n\nhello\n";
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	const char *u1 = NULL, *u2 = NULL;
	char *inbox = NULL, *p = NULL, *buf, sz[16];
	size_t len;
	const char *sub;
	bool found;
	char path[1024];

	if (_i == 1)
		maildir_set_sync(md, MAILDIR_SYNC_FDATASYNC);
	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(maildir_put_mem(b, inbox, NULL, "U=7", body,
					 strlen(body), &u1, &err),
			 E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "SFS", NULL, body, 3, &u2, &err),
		E2_OK);
	ck_assert_uint_eq(maildir_batch_count(b), 2);
	/* Not visible before the commit. */
	ck_assert_uint_eq(count_files(inbox, "tmp"), 2);
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	ck_assert_uint_eq(count_files(inbox, "cur"), 0);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);
	ck_assert_uint_eq(count_files(inbox, "tmp"), 0);
	ck_assert_uint_eq(count_files(inbox, "new"), 1);
	ck_assert_uint_eq(count_files(inbox, "cur"), 1);
	ck_assert(maildir_name_field(u1, "U", sz, sizeof(sz)));
	ck_assert_str_eq(sz, "7");
	ck_assert(maildir_name_field(u1, "S", sz, sizeof(sz)));
	ck_assert_uint_eq(strtoul(sz, NULL, 10), strlen(body));
	(void)snprintf(path, sizeof(path), "%s/new/%s", inbox, u1);
	buf = slurp(path, &len);
	ck_assert_str_eq(buf, body);
	free(buf);
	ck_assert_int_eq(
		maildir_locate(inbox, u2, NULL, &found, &sub, &p, &err), E2_OK);
	ck_assert(found);
	ck_assert_str_eq(sub, "cur");
	ck_assert_str_eq(strchr(p, ':'), ":2,FS");
	free(p);
	/* A committed batch cannot take more. */
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "x", 1, &u1, &err),
		E2_EINVAL);
	maildir_batch_free(&b);
	ck_assert_uint_eq(count_files(inbox, "new"), 1);
	free(inbox);
	maildir_close(&md);
}
END_TEST

START_TEST(test_maildir_batch_abort)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u = NULL;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(maildir_put_mem(b, inbox, NULL, NULL, "a\n", 2,
						 &u, &err),
				 E2_OK);
	ck_assert_uint_eq(count_files(inbox, "tmp"), 3);
	if (_i == 0)
		maildir_batch_abort(b);
	maildir_batch_free(&b); /* _i == 1: free aborts */
	ck_assert_uint_eq(count_files(inbox, "tmp"), 0);
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	free(inbox);
	maildir_close(&md);
}
END_TEST

struct failing_source {
	size_t given;
	size_t fail_after;
};

static ssize_t
failing_source_read(void *ctx, void *buf, size_t len, struct e2_err *err)
{
	struct failing_source *s = ctx;

	if (s->given >= s->fail_after) {
		e2_fail(err, E2_EIO, "connection dropped");
		return -1;
	}
	if (len > 1000)
		len = 1000;
	memset(buf, 'x', len);
	s->given += len;
	return (ssize_t)len;
}

START_TEST(test_maildir_put_source_failure_leaves_nothing)
{
	struct failing_source src = {0, 5000};
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u = NULL;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(maildir_put(b, inbox, NULL, NULL, failing_source_read,
				     &src, &u, &err),
			 E2_EIO);
	ck_assert_str_eq(err.msg, "connection dropped");
	ck_assert_uint_eq(maildir_batch_count(b), 0);
	ck_assert_uint_eq(count_files(inbox, "tmp"), 0);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

/* A full disk, simulated: RLIMIT_FSIZE makes write() fail with EFBIG (this
 * test runs in its own forked process). */
START_TEST(test_maildir_put_write_error_is_estore)
{
	struct failing_source src = {0, 1 << 20};
	struct rlimit rl = {4096, 4096};
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u = NULL;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_ptr_ne(signal(SIGXFSZ, SIG_IGN), SIG_ERR);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "ok\n", 3, &u, &err),
		E2_OK);
	ck_assert_int_eq(maildir_put(b, inbox, NULL, NULL, failing_source_read,
				     &src, &u, &err),
			 E2_ESTORE);
	ck_assert_int_eq(err.sys_errno, EFBIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "write "));
	ck_assert_ptr_nonnull(strstr(err.msg, "/tmp/"));
	ck_assert_ptr_nonnull(strstr(err.msg, strerror(EFBIG)));
	ck_assert_uint_eq(count_files(inbox, "tmp"), 1); /* the first one */
	maildir_batch_abort(b);
	ck_assert_uint_eq(count_files(inbox, "tmp"), 0);
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	ck_assert_uint_eq(count_files(inbox, "cur"), 0);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

/* A commit that cannot rename (folder removed under it) leaves no message
 * visible and no tmp file behind. */
START_TEST(test_maildir_commit_failure_rolls_back)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL, *work = NULL;
	const char *u = NULL;
	char p[1024];

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_folder(md, "Work", '/', &work, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "a\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, work, NULL, NULL, "b\n", 2, &u, &err),
		E2_OK);
	(void)snprintf(p, sizeof(p), "%s/new", work);
	ck_assert_int_eq(rmdir(p), 0);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.msg, "rename "));
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	ck_assert_uint_eq(count_files(inbox, "tmp"), 0);
	ck_assert_uint_eq(count_files(work, "tmp"), 0);
	maildir_batch_free(&b);
	free(inbox);
	free(work);
	maildir_close(&md);
}
END_TEST

/* ---- flags
 * ------------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *out;
} norm_rows[] = {
	{"", ""},        {"S", "S"},       {"SRF", "FRS"},
	{"TSSD", "DST"}, {"a,S1b", "Sab"}, {"zPa", "Paz"},
};

START_TEST(test_maildir_flags_normalize)
{
	char out[MAILDIR_FLAGS_MAX];

	maildir_flags_normalize(norm_rows[_i].in, out);
	ck_assert_str_eq(out, norm_rows[_i].out);
}
END_TEST

START_TEST(test_maildir_flags_round_trip)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL, *name = NULL, *name2 = NULL, *loc = NULL;
	char flags[MAILDIR_FLAGS_MAX];
	const char *u = NULL, *sub = NULL;
	size_t ulen;
	bool found;
	char p[1024];
	int fd;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "m\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);
	ck_assert_int_eq(maildir_set_flags(inbox, "new", u, "SR", &name, &err),
			 E2_OK);
	maildir_name_parse(name, &ulen, flags);
	ck_assert_uint_eq(ulen, strlen(u));
	ck_assert_str_eq(flags, "RS");
	ck_assert_uint_eq(count_files(inbox, "new"), 0);
	ck_assert_uint_eq(count_files(inbox, "cur"), 1);
	/* Keywords (Dovecot's a-z) survive a change of standard flags. */
	(void)snprintf(p, sizeof(p), "%s/cur/%s", inbox, name);
	{
		char q[1024];

		(void)snprintf(q, sizeof(q), "%s/cur/%.*s:2,Sab", inbox,
			       (int)ulen, name);
		ck_assert_int_eq(rename(p, q), 0);
		free(name);
		name = strdup(strrchr(q, '/') + 1);
	}
	ck_assert_int_eq(
		maildir_set_flags(inbox, "cur", name, "F", &name2, &err),
		E2_OK);
	maildir_name_parse(name2, &ulen, flags);
	ck_assert_str_eq(flags, "Fab");
	ck_assert_int_eq(
		maildir_locate(inbox, u, "S", &found, &sub, &loc, &err), E2_OK);
	ck_assert(found);
	ck_assert_str_eq(loc, name2);
	free(loc);
	/* Gone: E2_EINVAL with ENOENT. */
	ck_assert_int_eq(maildir_set_flags(inbox, "cur", name, "S", NULL, &err),
			 E2_EINVAL);
	ck_assert_int_eq(maildir_remove(inbox, "cur", name2, &err), E2_OK);
	ck_assert_int_eq(maildir_remove(inbox, "cur", name2, &err), E2_OK);
	ck_assert_int_eq(
		maildir_locate(inbox, u, NULL, &found, &sub, &loc, &err),
		E2_OK);
	ck_assert(!found);
	/* Files from other writers without S= are sized by stat(). */
	(void)snprintf(p, sizeof(p), "%s/cur/123.foreign.host:2,S", inbox);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "12345", 5), 5);
	close(fd);
	free(name);
	free(name2);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

struct list_acc {
	size_t n;
	off_t bytes;
	char flags[8][MAILDIR_FLAGS_MAX];
};

static enum e2_status
list_cb(void *ctx, const struct maildir_entry *e, struct e2_err *err)
{
	struct list_acc *a = ctx;

	(void)err;
	ck_assert_ptr_null(strchr(e->uniq, ':'));
	if (a->n < 8)
		(void)snprintf(a->flags[a->n], MAILDIR_FLAGS_MAX, "%s",
			       e->flags);
	a->n++;
	a->bytes += e->size;
	return E2_OK;
}

START_TEST(test_maildir_list)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct list_acc acc = {0};
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u = NULL;
	char p[1024];
	int fd;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "abc\n", 4, &u, &err),
		E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "S", NULL, "defgh\n", 6, &u, &err),
		E2_OK);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);
	(void)snprintf(p, sizeof(p), "%s/cur/123.foreign.host:2,T", inbox);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "12345", 5), 5);
	close(fd);
	(void)snprintf(p, sizeof(p), "%s/cur/.hidden", inbox);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ck_assert_int_eq(maildir_list(inbox, list_cb, &acc, &err), E2_OK);
	ck_assert_uint_eq(acc.n, 3);
	ck_assert_int_eq(acc.bytes, 4 + 6 + 5);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

START_TEST(test_maildir_snapshot_sorted_with_tags)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct maildir_snapshot snap = {0};
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u[3] = {NULL, NULL, NULL};
	char uniq[3][256];
	struct maildir_file *f;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(maildir_put_mem(b, inbox, NULL, "U=7-V1", "a\n", 2,
					 &u[0], &err),
			 E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "FS", NULL, "b\n", 2, &u[1], &err),
		E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "S", "L=abc", "c\n", 2, &u[2], &err),
		E2_OK);
	for (int i = 0; i < 3; i++)
		(void)snprintf(uniq[i], sizeof(uniq[i]), "%s", u[i]);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);

	ck_assert_int_eq(maildir_snapshot(inbox, "U", &snap, &err), E2_OK);
	ck_assert_uint_eq(snap.n, 3);
	for (size_t i = 1; i < snap.n; i++)
		ck_assert_int_lt(strcmp(snap.v[i - 1].uniq, snap.v[i].uniq), 0);
	f = maildir_snapshot_find(&snap, uniq[0]);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->tag, "7-V1");
	ck_assert_str_eq(f->sub, "new");
	ck_assert_str_eq(f->flags, "");
	ck_assert(!f->matched);
	f = maildir_snapshot_find(&snap, uniq[1]);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->tag, "");
	ck_assert_str_eq(f->sub, "cur");
	ck_assert_str_eq(f->flags, "FS");
	f = maildir_snapshot_find(&snap, uniq[2]);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->tag, ""); /* an "L" tag is not the "U" asked for */
	ck_assert_ptr_null(maildir_snapshot_find(&snap, "no-such-file"));
	maildir_snapshot_free(&snap);
	ck_assert_uint_eq(snap.n, 0);
	ck_assert_ptr_null(snap.v);

	ck_assert_int_eq(maildir_snapshot(inbox, "L", &snap, &err), E2_OK);
	f = maildir_snapshot_find(&snap, uniq[2]);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->tag, "abc");
	maildir_snapshot_free(&snap);
	maildir_snapshot_free(NULL);

	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

/* sets the mtime of inbox/new and inbox/cur ago seconds back */
static void
age_dirs(const char *inbox, int ago)
{
	static const char *const subs[] = {"new", "cur"};

	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX];
		struct timespec ts[2];

		(void)snprintf(path, sizeof(path), "%s/%s", inbox, subs[i]);
		ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts[0]), 0);
		ts[0].tv_sec -= ago;
		ts[1] = ts[0];
		ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
}

/* a stamp: "" while the directories just changed, then equal until a
 * message is added, removed or renamed */
START_TEST(test_maildir_stamp)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL, *missing = NULL;
	char s1[MAILDIR_STAMP_MAX], s2[MAILDIR_STAMP_MAX];
	const char *u = NULL;
	char name[256];

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_stamp(inbox, s1, &err), E2_OK);
	ck_assert_str_eq(s1, ""); /* just created */
	age_dirs(inbox, 10);
	ck_assert_int_eq(maildir_stamp(inbox, s1, &err), E2_OK);
	ck_assert_str_ne(s1, "");
	ck_assert_int_eq(maildir_stamp(inbox, s2, &err), E2_OK);
	ck_assert_str_eq(s1, s2);

	/* a new message: new/ changes */
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "S", NULL, "a\n", 2, &u, &err),
		E2_OK);
	(void)snprintf(name, sizeof(name), "%s:2,S", u);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);
	ck_assert_int_eq(maildir_stamp(inbox, s2, &err), E2_OK);
	ck_assert_str_eq(s2, "");
	age_dirs(inbox, 10);
	ck_assert_int_eq(maildir_stamp(inbox, s1, &err), E2_OK);
	ck_assert_str_ne(s1, "");

	/* a flag change is a rename in cur/ */
	ck_assert_int_eq(
		maildir_set_flags(inbox, "cur", name, "FS", NULL, &err), E2_OK);
	ck_assert_int_eq(maildir_stamp(inbox, s2, &err), E2_OK);
	ck_assert_str_eq(s2, "");
	age_dirs(inbox, 5);
	ck_assert_int_eq(maildir_stamp(inbox, s2, &err), E2_OK);
	ck_assert_str_ne(s2, "");
	ck_assert_str_ne(s1, s2);

	/* a folder without new/ and cur/ is an error, not a stamp */
	ck_assert_int_ge(asprintf(&missing, "%s/nowhere", inbox), 0);
	ck_assert_int_eq(maildir_stamp(missing, s1, &err), E2_ESTORE);
	ck_assert_str_eq(s1, "");
	ck_assert_ptr_nonnull(strstr(err.msg, "nowhere"));

	free(missing);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

/* after a UIDVALIDITY change: byte-identical old copies go, others stay */
START_TEST(test_maildir_drop_stale_copies)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct maildir_snapshot snap = {0};
	struct e2_err err = {0};
	char *inbox = NULL;
	const char *u = NULL;
	size_t removed = 99;
	int twin = 0, kept_b = 0, kept_c = 0;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, "U=1-V2", "A\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, "FS", "U=5-V1", "A\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, "U=6-V1", "B\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(maildir_put_mem(b, inbox, NULL, "U=7-V1", "CCCC\n", 5,
					 &u, &err),
			 E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "A\n", 2, &u, &err),
		E2_OK);
	ck_assert_int_eq(maildir_batch_commit(b, &err), E2_OK);

	ck_assert_int_eq(sync_drop_stale_copies(inbox, 2, &removed, &err),
			 E2_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(maildir_snapshot(inbox, "U", &snap, &err), E2_OK);
	ck_assert_uint_eq(snap.n, 4); /* V2 twin, V1 "B", V1 "CCCC", untagged */
	for (size_t i = 0; i < snap.n; i++) {
		const struct maildir_file *f = &snap.v[i];

		ck_assert_str_ne(f->tag, "5-V1");
		if (strcmp(f->tag, "1-V2") == 0) {
			twin++;
			ck_assert_str_eq(f->flags, "FS"); /* the old copy's */
			ck_assert_str_eq(f->sub, "cur");
		}
		kept_b += strcmp(f->tag, "6-V1") == 0;
		kept_c += strcmp(f->tag, "7-V1") == 0;
	}
	ck_assert_int_eq(twin, 1);
	ck_assert_int_eq(kept_b, 1);
	ck_assert_int_eq(kept_c, 1);
	maildir_snapshot_free(&snap);

	/* nothing left to drop: a second pass removes nothing */
	ck_assert_int_eq(sync_drop_stale_copies(inbox, 2, &removed, &err),
			 E2_OK);
	ck_assert_uint_eq(removed, 0);
	maildir_batch_free(&b);
	free(inbox);
	maildir_close(&md);
}
END_TEST

/* ---- recovery
 * ----------------------------------------------------------------- */

static void
touch(const char *dir, const char *name, time_t mtime)
{
	char p[1024];
	struct timespec ts[2];
	int fd;

	(void)snprintf(p, sizeof(p), "%s/tmp/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
}

static int
exists_tmp(const char *dir, const char *name)
{
	char p[1024];

	(void)snprintf(p, sizeof(p), "%s/tmp/%s", dir, name);
	return access(p, F_OK) == 0;
}

START_TEST(test_maildir_recover_tmp_leftovers)
{
	struct maildir *md = open_md();
	struct maildir_batch *b = NULL;
	struct e2_err err = {0};
	char *inbox = NULL, *work = NULL, host[128], dead[256], mine[256];
	const char *u = NULL;
	time_t now = time(NULL);
	size_t removed = 0;
	pid_t child;

	ck_assert_int_eq(maildir_folder(md, "INBOX", '/', &inbox, &err), E2_OK);
	ck_assert_int_eq(maildir_folder(md, "Work", '/', &work, &err), E2_OK);
	/* Learn our host spelling from a real name. */
	ck_assert_int_eq(maildir_batch_begin(md, &b, &err), E2_OK);
	ck_assert_int_eq(
		maildir_put_mem(b, inbox, NULL, NULL, "x", 1, &u, &err), E2_OK);
	(void)snprintf(host, sizeof(host), "%s",
		       strchr(strchr(u, '.') + 1, '.') + 1);
	*strchr(host, ',') = '\0';
	maildir_batch_free(&b);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	(void)snprintf(dead, sizeof(dead), "1.M1P%ldQ1.%s,E2", (long)child,
		       host);
	(void)snprintf(mine, sizeof(mine), "1.M1P%ldQ2.%s,E2", (long)getpid(),
		       host);
	touch(inbox, dead, now);
	touch(work, mine, now);
	touch(inbox, "1.M1P1Q1.otherhost,E2", now); /* not ours to judge */
	touch(inbox, "fresh.from.mda", now);
	touch(work, "old.from.mda", now - 37 * 3600);
	ck_assert_int_eq(maildir_recover(md, now, &removed, &err), E2_OK);
	ck_assert_uint_eq(removed, 3);
	ck_assert(!exists_tmp(inbox, dead));
	ck_assert(!exists_tmp(work, mine));
	ck_assert(!exists_tmp(work, "old.from.mda"));
	ck_assert(exists_tmp(inbox, "1.M1P1Q1.otherhost,E2"));
	ck_assert(exists_tmp(inbox, "fresh.from.mda"));
	free(inbox);
	free(work);
	maildir_close(&md);
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_loop_test(tc, test_maildir_folder_mapping, 0,
			    sizeof(folder_rows) / sizeof(folder_rows[0]));
	tcase_add_loop_test(tc, test_maildir_folder_decode_rejects, 0,
			    sizeof(bad_dirs) / sizeof(bad_dirs[0]));
	tcase_add_test(tc, test_maildir_folder_too_long);
	tcase_add_test(tc, test_maildir_folder_creates_tree);
	tcase_add_loop_test(tc, test_maildir_folder_candidate_table, 0,
			    sizeof(cand_rows) / sizeof(cand_rows[0]));
	tcase_add_loop_test(tc, test_maildir_folder_claim_table, 0,
			    sizeof(claim_rows) / sizeof(claim_rows[0]));
	tcase_add_test(tc, test_maildir_folder_claim_exhausted);
	tcase_add_test(tc, test_maildir_folder_alias);
	tcase_add_test(tc, test_maildir_folder_claim_legacy_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_loop_test(tc, test_maildir_batch_commit, 0, 2);
	tcase_add_loop_test(tc, test_maildir_batch_abort, 0, 2);
	tcase_add_test(tc, test_maildir_put_source_failure_leaves_nothing);
	tcase_add_test(tc, test_maildir_put_write_error_is_estore);
	tcase_add_test(tc, test_maildir_commit_failure_rolls_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_loop_test(tc, test_maildir_flags_normalize, 0,
			    sizeof(norm_rows) / sizeof(norm_rows[0]));
	tcase_add_test(tc, test_maildir_flags_round_trip);
	tcase_add_test(tc, test_maildir_list);
	tcase_add_test(tc, test_maildir_snapshot_sorted_with_tags);
	tcase_add_test(tc, test_maildir_stamp);
	tcase_add_test(tc, test_maildir_drop_stale_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("recover");
	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_test(tc, test_maildir_recover_tmp_leftovers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(maildir_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
