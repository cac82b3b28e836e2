/* SPDX-License-Identifier: MIT */
/* check_pop3_local.c -- a POP3 account's other local folders (R17) */
#include "config.h"

#include "engine/pop3_local.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* ---- Message-IDs ------------------------------------------------------- */

struct msgid_row {
	const char *hdr;
	const char *want; /* NULL: none found */
};

static const struct msgid_row msgid_rows[] = {
	{"Message-ID: <a@b>\r\n\r\nbody", "<a@b>"},
	{"From: x\nMessage-Id:\n  <folded@b>\n\n", "<folded@b>"},
	{"message-id: <a@b> (comment)\n\n", "<a@b>"},
	{"Message-ID: bare@b\n\n", "bare@b"},
	{"Message-ID: <unterminated@b\n\n", "<unterminated@b"},
	{"Message-ID: <first@b>\nMessage-ID: <second@b>\n\n", "<first@b>"},
	{"Subject: s\n\nMessage-ID: <in-body@b>\n", NULL},
	{"Message-ID:\n\n", NULL},
	{"Subject: no id\n\n", NULL},
	{"", NULL},
};

START_TEST(test_pop3_local_msgid_table)
{
	const struct msgid_row *t = &msgid_rows[_i];
	char id[POP3_LOCAL_MSGID_MAX];
	struct e2_err err = {0};
	bool found = true;

	ck_assert_int_eq(
		pop3_local_msgid(t->hdr, strlen(t->hdr), &found, id, &err),
		E2_OK);
	ck_assert_msg(found == (t->want != NULL), "\"%s\"", t->hdr);
	if (t->want != NULL)
		ck_assert_str_eq(id, t->want);
}
END_TEST

START_TEST(test_pop3_local_msgid_too_long)
{
	char hdr[POP3_LOCAL_MSGID_MAX + 64], id[POP3_LOCAL_MSGID_MAX];
	struct e2_err err = {0};
	bool found = true;
	size_t n = (size_t)snprintf(hdr, sizeof(hdr), "Message-ID: <");

	memset(hdr + n, 'x', POP3_LOCAL_MSGID_MAX);
	memcpy(hdr + n + POP3_LOCAL_MSGID_MAX, ">\n\n", 4);
	ck_assert_int_eq(pop3_local_msgid(hdr, strlen(hdr), &found, id, &err),
			 E2_OK);
	ck_assert(!found);
}
END_TEST

/* ---- folders, refs, and the Message-ID search --------------------------- */

static char root[256];

static void
mk(const char *rel)
{
	char p[512];

	(void)snprintf(p, sizeof(p), "%s/%s", root, rel);
	ck_assert_int_eq(mkdir(p, 0700), 0);
}

static void
mkfolder(const char *name)
{
	char p[300];

	mk(name);
	(void)snprintf(p, sizeof(p), "%s/cur", name);
	mk(p);
	(void)snprintf(p, sizeof(p), "%s/new", name);
	mk(p);
	(void)snprintf(p, sizeof(p), "%s/tmp", name);
	mk(p);
}

static void
put(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	char p[512];

	tu_mkdtemp(root, sizeof(root), "check_pop3_local");
	mk("cur");
	mk("new");
	mk("tmp");
	mkfolder(".Work");
	mkfolder(".Binary");
	mkfolder(".Trash");
	mkfolder(".trash.old");
	mkfolder(".Deleted Messages");
	mkfolder(".Bin");
	mk(".notmuch"); /* no cur/ new/: not a folder */
	mk(".half");
	mk(".half/cur");
	(void)snprintf(p, sizeof(p), "%s/.Link", root);
	ck_assert_int_eq(symlink(".Work", p), 0);
	put(".file", "not a folder\n");
	put(".Work/cur/1.a,L=dTE:2,S", "Message-ID: <m1@x>\n\n");
	put(".Work/cur/2.b,L=dW5rbm93bg:2,", "Message-ID: <m2@x>\n\n");
	put(".Work/new/3.mutt", "Subject: s\nMessage-ID: <m3@x>\n\nb\n");
	put(".Binary/cur/4.mutt:2,S", "Message-ID: <m4@x>\n\n");
	put(".Trash/cur/5.mutt:2,S", "Message-ID: <m5@x>\n\n");
	put(".Trash/cur/6.c,L=dTI:2,S", "Message-ID: <m6@x>\n\n");
}

static void
teardown(void)
{
	tu_rmtree(root);
}

START_TEST(test_pop3_local_folders_which)
{
	struct pop3_local_folders f = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(pop3_local_folders(root, &f, &err), E2_OK);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0], ".Binary");
	ck_assert_str_eq(f.v[1], ".Work");
	pop3_local_folders_free(&f);
	pop3_local_folders_free(&f);
	pop3_local_folders_free(NULL);
}
END_TEST

/* Tag "dTE" is base64url("u1"), "dTI" is "u2"; "dW5rbm93bg" names none. */
static const char *
lookup(void *ctx, const char *tag)
{
	(void)ctx;
	if (strcmp(tag, "dTE") == 0)
		return "u1";
	if (strcmp(tag, "dTI") == 0)
		return "u2";
	return NULL;
}

START_TEST(test_pop3_local_refs_tags)
{
	struct pop3_local_folders f = {0};
	struct pop3_local_refs refs = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(pop3_local_folders(root, &f, &err), E2_OK);
	ck_assert_int_eq(pop3_local_refs(root, &f, lookup, NULL, &refs, &err),
			 E2_OK);
	/* u1 in .Work; u2 only in .Trash, which holds nothing */
	ck_assert_uint_eq(refs.n, 1);
	ck_assert_str_eq(refs.v[0].pop3_uidl, "u1");
	ck_assert_str_eq(refs.v[0].holder_id, ".Work");
	ck_assert_uint_eq(refs.unreadable, 0);
	pop3_local_refs_free(&refs);
	pop3_local_folders_free(&f);
}
END_TEST

START_TEST(test_pop3_local_refs_unreadable)
{
	struct pop3_local_folders f = {0};
	struct pop3_local_refs refs = {0};
	struct e2_err err = {0};
	char p[512];

	ck_assert_int_eq(pop3_local_folders(root, &f, &err), E2_OK);
	/* the folder's new/ becomes a file after the listing */
	(void)snprintf(p, sizeof(p), "%s/.Binary/new", root);
	ck_assert_int_eq(rmdir(p), 0);
	put(".Binary/new", "");
	ck_assert_int_eq(pop3_local_refs(root, &f, lookup, NULL, &refs, &err),
			 E2_OK);
	ck_assert_uint_eq(refs.unreadable, 1);
	ck_assert_str_eq(refs.first_name, ".Binary");
	ck_assert_uint_eq(refs.n, 1);
	pop3_local_refs_free(&refs);
	pop3_local_folders_free(&f);
}
END_TEST

START_TEST(test_pop3_local_find_msgids_untagged)
{
	struct pop3_local_folders f = {0};
	struct e2_err err = {0};
	/* sorted; m1 is in a tagged file, m5 only in Trash */
	const char *ids[] = {"<m1@x>", "<m3@x>", "<m4@x>", "<m5@x>",
			     "<none@x>"};
	bool found[5] = {false};

	ck_assert_int_eq(pop3_local_folders(root, &f, &err), E2_OK);
	ck_assert_int_eq(pop3_local_find_msgids(root, &f, ids, 5, found, &err),
			 E2_OK);
	ck_assert(!found[0]);
	ck_assert(found[1]);
	ck_assert(found[2]);
	ck_assert(!found[3]);
	ck_assert(!found[4]);
	pop3_local_folders_free(&f);
}
END_TEST

START_TEST(test_pop3_local_stamp_changes)
{
	struct pop3_local_folders f = {0};
	struct e2_err err = {0};
	char a[SYNCSTATE_STAMP_MAX], b[SYNCSTATE_STAMP_MAX];
	char p[512];
	const char *const subs[] = {"cur",       "new",         ".Work/cur",
				    ".Work/new", ".Binary/cur", ".Binary/new"};

	/* every directory settled (maildir_stamp()'s 2 s rule) */
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		struct timespec ts[2] = {{.tv_sec = 1000000000},
					 {.tv_sec = 1000000000}};

		(void)snprintf(p, sizeof(p), "%s/%s", root, subs[i]);
		ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
	ck_assert_int_eq(pop3_local_folders(root, &f, &err), E2_OK);
	ck_assert_int_eq(pop3_local_stamp(root, &f, a, &err), E2_OK);
	ck_assert_str_ne(a, "");
	ck_assert_int_eq(pop3_local_stamp(root, &f, b, &err), E2_OK);
	ck_assert_str_eq(a, b);
	/* a delete inside .Work changes the account's stamp */
	(void)snprintf(p, sizeof(p), "%s/.Work/cur/1.a,L=dTE:2,S", root);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(pop3_local_stamp(root, &f, b, &err), E2_OK);
	ck_assert_str_ne(a, b); /* "" (too fresh) or another stamp */
	pop3_local_folders_free(&f);
}
END_TEST

static Suite *
pop3_local_suite(void)
{
	Suite *s = suite_create("pop3_local");
	TCase *tc;

	tc = tcase_create("msgid");
	tcase_add_loop_test(tc, test_pop3_local_msgid_table, 0,
			    sizeof(msgid_rows) / sizeof(msgid_rows[0]));
	tcase_add_test(tc, test_pop3_local_msgid_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("folders");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pop3_local_folders_which);
	tcase_add_test(tc, test_pop3_local_refs_tags);
	tcase_add_test(tc, test_pop3_local_refs_unreadable);
	tcase_add_test(tc, test_pop3_local_find_msgids_untagged);
	tcase_add_test(tc, test_pop3_local_stamp_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_local_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
