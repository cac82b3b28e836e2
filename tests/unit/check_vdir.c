/* SPDX-License-Identifier: MIT */
/* check_vdir.c -- vdir item and collection names, writes, scans, metadata */
#include "config.h"

#include "engine/vdir.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

static char tmproot[256];

static void
setup_tmp(void)
{
	tu_mkdtemp(tmproot, sizeof(tmproot), "check_vdir");
}

static void
teardown_tmp(void)
{
	tu_rmtree(tmproot);
}

static void
hex_sha256(const char *data, size_t len, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;

	ck_assert(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1);
	for (unsigned i = 0; i < 32; i++)
		(void)sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---- vdir_item_name ------------------------------------------------ */

#define LONG_UID                                                               \
	"x123456789012345678901234567890123456789012345678901234567890123"     \
	"4567890123456789012345678901234567890123456789012345678901234567"

struct name_row {
	const char *data;
	const char *ext;
	const char *want; /* "name", "H:uid" (hash of uid), "C" (content) */
};

static const struct name_row name_rows[] = {
	/* 0: vCard 3 */
	{"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nUID:abc-123\r\nEND:VCARD\r\n",
	 "vcf", "abc-123.vcf"},
	/* 1: vCard 4, urn:uuid has ':' -> hashed */
	{"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3\r\n"
	 "END:VCARD\r\n",
	 "vcf", "H:urn:uuid:4fbe8971-0bc3"},
	/* 2: iCalendar event */
	{"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ev1@example."
	 "com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	 "ics", "ev1@example.com.ics"},
	/* 3: iCalendar todo after a VTIMEZONE (whose TZID is no UID) */
	{"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nEND:VTIMEZONE\nBEGIN:"
	 "VTODO\n"
	 "UID:todo_7\nEND:VTODO\nEND:VCALENDAR\n",
	 "ics", "todo_7.ics"},
	/* 4: folded UID, CRLF + space */
	{"BEGIN:VCARD\r\nUID:fold\r\n ed-uid\r\nEND:VCARD\r\n", "vcf",
	 "folded-uid.vcf"},
	/* 5: folded UID, LF + tab */
	{"BEGIN:VCARD\nUID:fo\n\tld2\nEND:VCARD\n", "vcf", "fold2.vcf"},
	/* 6: parameter form */
	{"BEGIN:VCARD\r\nUID;VALUE=text:param-uid\r\nEND:VCARD\r\n", "vcf",
	 "param-uid.vcf"},
	/* 7: quoted parameter with ':' inside */
	{"BEGIN:VCARD\r\nUID;X-A=\"a:b\":q-uid\r\nEND:VCARD\r\n", "vcf",
	 "q-uid.vcf"},
	/* 8: unsafe characters (space) */
	{"BEGIN:VCARD\r\nUID:has space\r\nEND:VCARD\r\n", "vcf", "H:has space"},
	/* 9: a slash */
	{"BEGIN:VCARD\r\nUID:../../etc/passwd\r\nEND:VCARD\r\n", "vcf",
	 "H:../../etc/passwd"},
	/* 10: ".." alone (leading dot) */
	{"BEGIN:VCARD\r\nUID:..\r\nEND:VCARD\r\n", "vcf", "H:.."},
	/* 11: very long (129 bytes) */
	{"BEGIN:VCARD\r\nUID:" LONG_UID "9\r\nEND:VCARD\r\n", "vcf",
	 "H:" LONG_UID "9"},
	/* 12: exactly 128 bytes is kept */
	{"BEGIN:VCARD\r\nUID:" LONG_UID "\r\nEND:VCARD\r\n", "vcf",
	 LONG_UID ".vcf"},
	/* 13: empty UID */
	{"BEGIN:VCARD\r\nUID:\r\nFN:E\r\nEND:VCARD\r\n", "vcf", "C"},
	/* 14: no UID */
	{"BEGIN:VCARD\r\nFN:N\r\nEND:VCARD\r\n", "vcf", "C"},
	/* 15: the UID of a VALARM is not taken (the event has none) */
	{"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nUID:alarm-1\r\n"
	 "END:VALARM\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	 "ics", "C"},
	/* 16: the event's UID after its VALARM */
	{"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nUID:alarm-1\r\n"
	 "END:VALARM\r\nUID:ev-after\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	 "ics", "ev-after.ics"},
	/* 17: LF-only and CRLF give the same name */
	{"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:same\nEND:VEVENT\nEND:VCALENDAR\n",
	 "ics", "same.ics"},
	/* 18: lower-case names, a group prefix */
	{"begin:vcard\r\nitem1.uid:grp\r\nend:vcard\r\n", "vcf", "grp.vcf"},
	/* 19: a UID shaped like a hashed name is hashed itself */
	{"BEGIN:VCARD\r\nUID:sha256-00\r\nEND:VCARD\r\n", "vcf", "H:sha256-00"},
	/* 20: only the first VEVENT counts */
	{"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:first\r\nEND:VEVENT\r\n"
	 "BEGIN:VEVENT\r\nUID:second\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	 "ics", "first.ics"},
	/* 21: a VJOURNAL */
	{"BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:j1\r\nEND:VJOURNAL\r\n"
	 "END:VCALENDAR\r\n",
	 "ics", "j1.ics"},
	/* 22: a NUL byte in the UID */
	{"BEGIN:VCARD\r\nUID:a\0b\r\nEND:VCARD\r\n", "vcf", "H:a\0b"},
	/* 23: a UID outside any VEVENT is not taken */
	{"BEGIN:VCALENDAR\r\nUID:cal-level\r\nEND:VCALENDAR\r\n", "ics", "C"},
};

/* The length of row i's data: row 22 carries a NUL inside. */
static size_t
row_len(int i, const char *s)
{
	if (i == 22)
		return strlen(s) + 1 + strlen(s + strlen(s) + 1);
	return strlen(s);
}

START_TEST(test_vdir_item_name)
{
	const struct name_row *r = &name_rows[_i];
	size_t len = row_len(_i, r->data);
	char name[VDIR_NAME_SIZE];
	char want[VDIR_NAME_SIZE];
	char hex[65];
	struct e2_err err = {0};

	ck_assert_int_eq(
		vdir_item_name(r->data, len, r->ext, name, sizeof(name), &err),
		E2_OK);
	if (strncmp(r->want, "H:", 2) == 0) {
		size_t ulen = strlen(r->want + 2);

		if (_i == 22)
			ulen = 3;
		hex_sha256(r->want + 2, ulen, hex);
		(void)snprintf(want, sizeof(want), "sha256-%s.%s", hex, r->ext);
	} else if (strcmp(r->want, "C") == 0) {
		hex_sha256(r->data, len, hex);
		(void)snprintf(want, sizeof(want), "nouid-%s.%s", hex, r->ext);
	} else {
		(void)snprintf(want, sizeof(want), "%s", r->want);
	}
	ck_assert_str_eq(name, want);
	ck_assert(vdir_name_ok(name));
}
END_TEST

START_TEST(test_vdir_item_name_crlf_lf_same)
{
	const char *a = "BEGIN:VCARD\r\nUID:x\r\n y\r\nEND:VCARD\r\n";
	const char *b = "BEGIN:VCARD\nUID:x\n y\nEND:VCARD\n";
	char na[VDIR_NAME_SIZE];
	char nb[VDIR_NAME_SIZE];
	struct e2_err err = {0};

	ck_assert_int_eq(
		vdir_item_name(a, strlen(a), "vcf", na, sizeof(na), &err),
		E2_OK);
	ck_assert_int_eq(
		vdir_item_name(b, strlen(b), "vcf", nb, sizeof(nb), &err),
		E2_OK);
	ck_assert_str_eq(na, "xy.vcf");
	ck_assert_str_eq(na, nb);
	ck_assert_int_eq(
		vdir_item_name(a, strlen(a), "txt", na, sizeof(na), &err),
		E2_EINVAL);
}
END_TEST

/* ---- collection names ---------------------------------------------- */

struct coll_row {
	const char *href;
	unsigned n;
	const char *want; /* "H" = href- and the hash of href */
};

static const struct coll_row coll_rows[] = {
	{"/dav/calendars/alice/office/", 0, "office"},
	{"/dav/calendars/alice/office", 0, "office"},
	{"/dav/calendars/alice/office/", 2, "office~3"},
	{"/c/My%20Cal/", 0, "H"},
	{"/c/.hidden/", 0, "H"},
	{"/c/href-abc/", 0, "H"},
	{"/", 0, "H"},
	{"", 0, "H"},
	{"/c/a.b_c-D9/", 0, "a.b_c-D9"},
	{"/c/0123456789012345678901234567890123456789012345678901234567890123/",
	 0, "0123456789012345678901234567890123456789012345678901234567890123"},
	{"/c/"
	 "01234567890123456789012345678901234567890123456789012345678901234/",
	 0, "H"},
	{"/c/..//", 0, "H"},
};

START_TEST(test_vdir_collection_name)
{
	const struct coll_row *r = &coll_rows[_i];
	char out[128];
	char want[128];
	char hex[65];
	struct e2_err err = {0};

	ck_assert_int_eq(
		vdir_collection_name(r->href, r->n, out, sizeof(out), &err),
		E2_OK);
	if (strcmp(r->want, "H") == 0) {
		hex_sha256(r->href, strlen(r->href), hex);
		(void)snprintf(want, sizeof(want), "href-%.32s", hex);
	} else {
		(void)snprintf(want, sizeof(want), "%s", r->want);
	}
	ck_assert_str_eq(out, want);
	ck_assert(strchr(out, '/') == NULL && out[0] != '.');
}
END_TEST

START_TEST(test_vdir_collection_dir_collision)
{
	char *a = NULL;
	char *b = NULL;
	char *a2 = NULL;
	char want[512];
	struct e2_err err = {0};
	struct stat st;

	ck_assert_int_eq(vdir_collection_dir(tmproot, VDIR_KIND_CALENDARS,
					     "{G}", "/u/alice/cal/", &a, &err),
			 E2_OK);
	(void)snprintf(want, sizeof(want), "%s/calendars/{G}/cal", tmproot);
	ck_assert_str_eq(a, want);
	ck_assert_int_eq(stat(a, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* same last segment, another href: kept apart */
	ck_assert_int_eq(vdir_collection_dir(tmproot, VDIR_KIND_CALENDARS,
					     "{G}", "/shared/cal/", &b, &err),
			 E2_OK);
	(void)snprintf(want, sizeof(want), "%s/calendars/{G}/cal~2", tmproot);
	ck_assert_str_eq(b, want);
	/* stable: the first href keeps its directory */
	ck_assert_int_eq(vdir_collection_dir(tmproot, VDIR_KIND_CALENDARS,
					     "{G}", "/u/alice/cal/", &a2, &err),
			 E2_OK);
	ck_assert_str_eq(a, a2);
	/* a symlink below the store is refused, the store itself may be one */
	{
		char link[512];
		char *c = NULL;

		(void)snprintf(link, sizeof(link), "%s/contacts", tmproot);
		ck_assert_int_eq(symlink("calendars", link), 0);
		ck_assert_int_eq(vdir_collection_dir(tmproot,
						     VDIR_KIND_CONTACTS, "{G}",
						     "/c/", &c, &err),
				 E2_ESTORE);
		ck_assert(c == NULL);
		(void)snprintf(link, sizeof(link), "%s/store-link", tmproot);
		ck_assert_int_eq(symlink(tmproot, link), 0);
		ck_assert_int_eq(vdir_collection_dir(link, VDIR_KIND_CALENDARS,
						     "{G}", "/u/alice/cal/", &c,
						     &err),
				 E2_OK);
		free(c);
	}
	free(a);
	free(b);
	free(a2);
	a = NULL;
	ck_assert_int_eq(vdir_collection_dir(tmproot, VDIR_KIND_CONTACTS,
					     "../x", "/c/", &a, &err),
			 E2_EINVAL);
	ck_assert(a == NULL);
}
END_TEST

/* ---- items on disk ------------------------------------------------- */

static char *
coll(void)
{
	char *dir = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(vdir_collection_dir(tmproot, VDIR_KIND_CONTACTS, "{G}",
					     "/c/book/", &dir, &err),
			 E2_OK);
	return dir;
}

static void
put_file(const char *dir, const char *name, const char *data)
{
	char p[512];
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert(f != NULL);
	ck_assert_int_eq(fputs(data, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static const char card1[] = "BEGIN:VCARD\r\nUID:c1\r\nFN:One\r\nEND:VCARD\r\n";
static const char card2[] = "BEGIN:VCARD\r\nUID:c1\r\nFN:Two\r\nEND:VCARD\r\n";

START_TEST(test_vdir_write_replace_delete)
{
	char *dir = coll();
	struct vdir_item_info w;
	struct vdir_item_info r;
	struct e2_err err = {0};
	char *data = NULL;
	size_t len = 0;
	char p[512];
	struct stat st;

	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card1, strlen(card1),
					 NULL, &w, &err),
			 E2_OK);
	(void)snprintf(p, sizeof(p), "%s/c1.vcf", dir);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* a create refuses an existing name */
	err = (struct e2_err){0};
	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card2, strlen(card2),
					 NULL, NULL, &err),
			 E2_EBUSY);
	ck_assert_int_eq(vdir_item_read(dir, "c1.vcf", &data, &len, &r, &err),
			 E2_OK);
	ck_assert_str_eq(data, card1);
	free(data);
	ck_assert(memcmp(&w, &r, sizeof(w)) == 0);
	/* replace with the identity read */
	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card2, strlen(card2),
					 &r, &w, &err),
			 E2_OK);
	ck_assert_int_eq(vdir_item_read(dir, "c1.vcf", &data, &len, &r, &err),
			 E2_OK);
	ck_assert_str_eq(data, card2);
	free(data);
	/* delete with a stale identity is refused, with the fresh one done */
	err = (struct e2_err){0};
	ck_assert_int_eq(vdir_item_delete(dir, "c1.vcf",
					  &(struct vdir_item_info){.size = 1},
					  &err),
			 E2_EBUSY);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(vdir_item_delete(dir, "c1.vcf", &r, &err), E2_OK);
	ck_assert_int_eq(lstat(p, &st), -1);
	/* names that could leave the directory are refused */
	ck_assert_int_eq(
		vdir_item_write(dir, "../x.vcf", card1, 3, NULL, NULL, &err),
		E2_EINVAL);
	ck_assert_int_eq(
		vdir_item_write(dir, ".x.vcf", card1, 3, NULL, NULL, &err),
		E2_EINVAL);
	free(dir);
}
END_TEST

/* The user's editor rewrites the file between our scan and our write:
 * same size and content length, another inode. */
START_TEST(test_vdir_concurrent_edit)
{
	char *dir = coll();
	struct vdir_entry *v = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	char *data = NULL;
	size_t len = 0;
	char p[512];
	char q[512];

	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card1, strlen(card1),
					 NULL, NULL, &err),
			 E2_OK);
	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].kind, VDIR_ENTRY_ITEM);
	/* the edit: a new file renamed over (as khard's editor does) */
	put_file(dir, "edit.tmp", card2);
	(void)snprintf(p, sizeof(p), "%s/edit.tmp", dir);
	(void)snprintf(q, sizeof(q), "%s/c1.vcf", dir);
	ck_assert_int_eq(rename(p, q), 0);
	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", "BEGIN:VCARD\r\n", 13,
					 &v[0].info, NULL, &err),
			 E2_EBUSY);
	ck_assert(strstr(err.msg, "changed meanwhile") != NULL);
	ck_assert_int_eq(vdir_item_read(dir, "c1.vcf", &data, &len, NULL, &err),
			 E2_OK);
	ck_assert_str_eq(data, card2); /* the user's version is kept */
	free(data);
	err = (struct e2_err){0};
	ck_assert_int_eq(vdir_item_delete(dir, "c1.vcf", &v[0].info, &err),
			 E2_EBUSY);
	ck_assert_int_eq(access(q, F_OK), 0);
	/* an in-place edit keeping the inode and size: the hash tells */
	free(v);
	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	{
		int fd = open(q, O_WRONLY);
		struct timespec ts[2];

		ck_assert(fd >= 0);
		ck_assert_int_eq(pwrite(fd, "X", 1, 30), 1);
		/* give the old mtime back: only the hash differs */
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1].tv_sec = (time_t)(v[0].info.mtime_ns / 1000000000);
		ts[1].tv_nsec = (long)(v[0].info.mtime_ns % 1000000000);
		ck_assert_int_eq(futimens(fd, ts), 0);
		ck_assert_int_eq(close(fd), 0);
	}
	err = (struct e2_err){0};
	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card1, strlen(card1),
					 &v[0].info, NULL, &err),
			 E2_EBUSY);
	free(v);
	free(dir);
}
END_TEST

START_TEST(test_vdir_scan_skips)
{
	char *dir = coll();
	struct vdir_entry *v = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	char p[512];
	char q[512];
	char *big;

	put_file(dir, "a.vcf", card1);
	put_file(dir, ".hidden.vcf", card1);
	put_file(dir, "x.vcf.tmp", card1);
	put_file(dir, "notes.txt", "x");
	put_file(dir, "displayname", "Book");
	put_file(dir, ".email2-b.vcf.tmp", card2); /* a crash leftover */
	(void)snprintf(p, sizeof(p), "%s/sub.vcf", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/link.vcf", dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	(void)snprintf(p, sizeof(p), "%s/fifo.ics", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	big = malloc(VDIR_ITEM_CAP + 2);
	ck_assert(big != NULL);
	memset(big, 'a', VDIR_ITEM_CAP + 1);
	big[VDIR_ITEM_CAP + 1] = '\0';
	put_file(dir, "big.vcf", big);
	free(big);

	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 6);
	/* sorted by name */
	ck_assert_str_eq(v[0].info.name, ".email2-b.vcf.tmp");
	ck_assert_int_eq(v[0].kind, VDIR_ENTRY_TMP_REMOVED);
	ck_assert_str_eq(v[1].info.name, "a.vcf");
	ck_assert_int_eq(v[1].kind, VDIR_ENTRY_ITEM);
	ck_assert_uint_eq(v[1].info.size, strlen(card1));
	ck_assert_str_eq(v[2].info.name, "big.vcf");
	ck_assert_int_eq(v[2].kind, VDIR_ENTRY_TOO_LARGE);
	ck_assert_str_eq(v[3].info.name, "fifo.ics");
	ck_assert_int_eq(v[3].kind, VDIR_ENTRY_NOT_REGULAR);
	ck_assert_str_eq(v[4].info.name, "link.vcf");
	ck_assert_int_eq(v[4].kind, VDIR_ENTRY_SYMLINK);
	ck_assert_str_eq(v[5].info.name, "sub.vcf");
	ck_assert_int_eq(v[5].kind, VDIR_ENTRY_NOT_REGULAR);
	free(v);
	/* the leftover is gone; the others' temporaries are left */
	(void)snprintf(q, sizeof(q), "%s/.email2-b.vcf.tmp", dir);
	ck_assert_int_eq(access(q, F_OK), -1);
	(void)snprintf(q, sizeof(q), "%s/x.vcf.tmp", dir);
	ck_assert_int_eq(access(q, F_OK), 0);
	/* a symlink is never read nor written through */
	{
		char *data = NULL;
		size_t len = 0;

		ck_assert_int_eq(vdir_item_read(dir, "link.vcf", &data, &len,
						NULL, &err),
				 E2_EINVAL);
		ck_assert_int_eq(vdir_item_write(dir, "link.vcf", card1,
						 strlen(card1), NULL, NULL,
						 &err),
				 E2_EBUSY);
	}
	/* a collection directory that is a symlink is not scanned */
	(void)snprintf(q, sizeof(q), "%s/linked", tmproot);
	ck_assert_int_eq(symlink(dir, q), 0);
	err = (struct e2_err){0};
	ck_assert_int_eq(vdir_scan(q, &v, &n, &err), E2_ESTORE);
	ck_assert_int_eq(vdir_item_write(q, "n.vcf", card1, strlen(card1), NULL,
					 NULL, &err),
			 E2_ESTORE);
	free(dir);
}
END_TEST

/* A preview's scan and lookup: our leftover stays, nothing is made. */
START_TEST(test_vdir_readonly_scan_and_lookup)
{
	char *dir = coll();
	struct vdir_entry *v = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	char q[512];
	char *path = NULL;
	const char *base = strrchr(dir, '/');

	put_file(dir, "a.vcf", card1);
	put_file(dir, ".email2-b.vcf.tmp", card2);
	ck_assert_int_eq(vdir_stat_scan_readonly(dir, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].info.name, "a.vcf");
	free(v);
	(void)snprintf(q, sizeof(q), "%s/.email2-b.vcf.tmp", dir);
	ck_assert_int_eq(access(q, F_OK), 0);
	/* the folder a row recorded, when it is there; nothing made */
	ck_assert_int_eq(vdir_collection_existing(tmproot, VDIR_KIND_CONTACTS,
						  "{G}", base + 1, &path, &err),
			 E2_OK);
	ck_assert_str_eq(path, dir);
	free(path);
	ck_assert_int_eq(vdir_collection_existing(tmproot, VDIR_KIND_CONTACTS,
						  "{G}", "gone", &path, &err),
			 E2_OK);
	ck_assert_ptr_null(path);
	(void)snprintf(q, sizeof(q), "%s/contacts/{G}/gone", tmproot);
	ck_assert_int_eq(access(q, F_OK), -1);
	ck_assert_int_eq(vdir_collection_existing(tmproot, VDIR_KIND_CONTACTS,
						  "{G}", "../x", &path, &err),
			 E2_EINVAL);
	free(dir);
}
END_TEST

/* The stat-only scan: same entries and identities, nothing read. */
START_TEST(test_vdir_stat_scan_reads_nothing)
{
	char *dir = coll();
	struct vdir_entry *v = NULL, *w = NULL;
	size_t n = 0, m = 0;
	struct e2_err err = {0};
	static const unsigned char zero[VDIR_SHA256_LEN];
	char p[512];

	put_file(dir, "a.vcf", card1);
	put_file(dir, "b.vcf", card2);
	(void)snprintf(p, sizeof(p), "%s/link.vcf", dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	/* unreadable files (but to root): the stat scan never opens them */
	(void)snprintf(p, sizeof(p), "%s/a.vcf", dir);
	ck_assert_int_eq(chmod(p, 0), 0);
	(void)snprintf(p, sizeof(p), "%s/b.vcf", dir);
	ck_assert_int_eq(chmod(p, 0), 0);
	ck_assert_int_eq(vdir_stat_scan(dir, &w, &m, &err), E2_OK);
	ck_assert_uint_eq(m, 3);
	ck_assert_uint_eq(n, m);
	for (size_t i = 0; i < m; i++) {
		ck_assert_str_eq(w[i].info.name, v[i].info.name);
		ck_assert_int_eq(w[i].kind, v[i].kind);
		if (w[i].kind != VDIR_ENTRY_ITEM)
			continue;
		ck_assert_uint_eq(w[i].info.size, v[i].info.size);
		ck_assert_int_eq(w[i].info.mtime_ns, v[i].info.mtime_ns);
		ck_assert_uint_eq(w[i].info.ino, v[i].info.ino);
		ck_assert(memcmp(w[i].info.sha256, zero, sizeof(zero)) == 0);
	}
	ck_assert_int_eq(w[2].kind, VDIR_ENTRY_SYMLINK);
	free(v);
	free(w);
	free(dir);
}
END_TEST

/* The local version of a conflict: named by content, written once. */
START_TEST(test_vdir_conflict_write)
{
	char *dir = coll();
	struct vdir_entry *v = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	unsigned char sha[VDIR_SHA256_LEN];
	unsigned int sl = 0;
	char name[VDIR_NAME_SIZE + 32], again[VDIR_NAME_SIZE + 32], want[64];
	char *data = NULL;
	size_t len = 0;
	char p[512];
	FILE *f;

	ck_assert_int_eq(
		EVP_Digest(card2, strlen(card2), sha, &sl, EVP_sha256(), NULL),
		1);
	(void)snprintf(want, sizeof(want),
		       "c1.vcf.conflict-%02x%02x%02x%02x%02x%02x", sha[0],
		       sha[1], sha[2], sha[3], sha[4], sha[5]);
	put_file(dir, "c1.vcf", card1);
	ck_assert_int_eq(vdir_conflict_write(dir, "c1.vcf", card2,
					     strlen(card2), name, sizeof(name),
					     &err),
			 E2_OK);
	ck_assert_str_eq(name, want);
	ck_assert_int_eq(vdir_conflict_write(dir, "c1.vcf", card2,
					     strlen(card2), again,
					     sizeof(again), &err),
			 E2_OK);
	ck_assert_str_eq(again, want);
	/* the bytes, mode 0600, and no item for a scan */
	(void)snprintf(p, sizeof(p), "%s/%s", dir, want);
	f = fopen(p, "rb");
	ck_assert(f != NULL);
	data = calloc(1, 256);
	ck_assert(data != NULL);
	len = fread(data, 1, 255, f);
	(void)fclose(f);
	ck_assert_uint_eq(len, strlen(card2));
	ck_assert_str_eq(data, card2);
	free(data);
	{
		struct stat st;

		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
	}
	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].info.name, "c1.vcf");
	free(v);
	ck_assert_int_eq(vdir_conflict_write(dir, "../c1.vcf", card2,
					     strlen(card2), name, sizeof(name),
					     &err),
			 E2_EINVAL);
	free(dir);
}
END_TEST

/* A crash after the temporary was written: the item is the old one, the
 * temporary is never listed, and the next write and scan clean it. */
START_TEST(test_vdir_crash_leftover)
{
	char *dir = coll();
	struct vdir_entry *v = NULL;
	size_t n = 0;
	struct e2_err err = {0};
	struct vdir_item_info info;
	char q[512];

	ck_assert_int_eq(vdir_item_write(dir, "c1.vcf", card1, strlen(card1),
					 NULL, &info, &err),
			 E2_OK);
	put_file(dir, ".email2-c1.vcf.tmp", card2);
	ck_assert_int_eq(vdir_scan(dir, &v, &n, &err), E2_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].kind, VDIR_ENTRY_TMP_REMOVED);
	ck_assert_int_eq(v[1].kind, VDIR_ENTRY_ITEM);
	ck_assert(memcmp(&v[1].info, &info, sizeof(info)) == 0);
	free(v);
	/* a leftover at the write's own temporary name is replaced */
	put_file(dir, ".email2-c2.vcf.tmp", "junk");
	ck_assert_int_eq(vdir_item_write(dir, "c2.vcf", card2, strlen(card2),
					 NULL, NULL, &err),
			 E2_OK);
	(void)snprintf(q, sizeof(q), "%s/.email2-c2.vcf.tmp", dir);
	ck_assert_int_eq(access(q, F_OK), -1);
	free(dir);
}
END_TEST

/* ---- metadata ------------------------------------------------------ */

struct meta_row {
	const char *key;
	const char *value;
	const char *want; /* NULL: refused */
};

static const struct meta_row meta_rows[] = {
	{"displayname", "Work", "Work"},
	{"displayname", "  Work \r\nsecond line", "Work"},
	{"displayname", "a\x1b[31mb\x7f", "a[31mb"},
	{"displayname", "K\xc3\xa4se", "K\xc3\xa4se"},
	{"displayname", "bad \xff utf8", NULL},
	{"displayname", "\n", NULL},
	{"displayname", "", NULL},
	{"color", "#FF0000", "#FF0000"},
	{"color", "#ff000080", "#ff000080"},
	{"color", " #00ff00\n", "#00ff00"},
	{"color", "red", NULL},
	{"color", "#F00", NULL},
	{"color", "#GG0000", NULL},
	{"color", "#FF0000; rm", NULL},
	{"owner", "x", NULL},
};

START_TEST(test_vdir_meta)
{
	const struct meta_row *r = &meta_rows[_i];
	char *dir = coll();
	char *got = NULL;
	struct e2_err err = {0};
	enum e2_status rc;

	rc = vdir_meta_write(dir, r->key, r->value, &err);
	if (r->want == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		if (strcmp(r->key, "owner") != 0) {
			ck_assert_int_eq(
				vdir_meta_read(dir, r->key, &got, &err), E2_OK);
			ck_assert(got == NULL); /* nothing was written */
		}
	} else {
		ck_assert_int_eq(rc, E2_OK);
		ck_assert_int_eq(vdir_meta_read(dir, r->key, &got, &err),
				 E2_OK);
		ck_assert_str_eq(got, r->want);
		free(got);
	}
	free(dir);
}
END_TEST

START_TEST(test_vdir_meta_read_untrusted)
{
	char *dir = coll();
	char *got = NULL;
	struct e2_err err = {0};
	char p[512];

	put_file(dir, "color", "#zzzzzz");
	ck_assert_int_eq(vdir_meta_read(dir, "color", &got, &err), E2_OK);
	ck_assert(got == NULL);
	put_file(dir, "displayname", "Line1\nLine2\n");
	ck_assert_int_eq(vdir_meta_read(dir, "displayname", &got, &err), E2_OK);
	ck_assert_str_eq(got, "Line1");
	free(got);
	(void)snprintf(p, sizeof(p), "%s/displayname", dir);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(symlink("/etc/hostname", p), 0);
	ck_assert_int_eq(vdir_meta_read(dir, "displayname", &got, &err), E2_OK);
	ck_assert(got == NULL);
	free(dir);
}
END_TEST

/* A folder held open: names appear at once, the identity is the file's,
 * the create and replace rules hold, a leftover temporary is replaced. */
START_TEST(test_vdir_folder_batch)
{
	char *dir = coll();
	struct vdir_folder *f = NULL;
	struct vdir_item_info w[3], r;
	struct e2_err err = {0};
	char *data = NULL;
	size_t len = 0;
	char p[512];
	int fd;

	/* what a killed run left: replaced, never read as an item */
	(void)snprintf(p, sizeof(p), "%s/.email2-c0.vcf.tmp", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	(void)close(fd);
	ck_assert_int_eq(vdir_folder_open(dir, &f, &err), E2_OK);
	for (int i = 0; i < 3; i++) {
		char name[16];

		(void)snprintf(name, sizeof(name), "c%d.vcf", i);
		ck_assert_int_eq(vdir_folder_write(f, name, card1,
						   strlen(card1), NULL, &w[i],
						   &err),
				 E2_OK);
	}
	ck_assert_int_eq(vdir_folder_write(f, "c1.vcf", card2, strlen(card2),
					   NULL, NULL, &err),
			 E2_EBUSY);
	ck_assert_int_eq(vdir_folder_write(f, "c1.vcf", card2, strlen(card2),
					   &w[0], NULL, &err),
			 E2_EBUSY);
	ck_assert_int_eq(vdir_folder_write(f, "c1.vcf", card2, strlen(card2),
					   &w[1], &w[1], &err),
			 E2_OK);
	ck_assert_int_eq(vdir_folder_flush(f, &err), E2_OK);
	ck_assert_int_eq(vdir_folder_flush(f, &err), E2_OK);
	vdir_folder_close(&f);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_int_eq(vdir_item_read(dir, "c1.vcf", &data, &len, &r, &err),
			 E2_OK);
	ck_assert_str_eq(data, card2);
	ck_assert(memcmp(&w[1], &r, sizeof(r)) == 0);
	free(data);
	ck_assert_int_eq(vdir_item_read(dir, "c0.vcf", &data, &len, &r, &err),
			 E2_OK);
	ck_assert_str_eq(data, card1);
	free(data);
	ck_assert_int_eq(vdir_folder_open("/nonexistent/email2", &f, &err),
			 E2_ESTORE);
	ck_assert_ptr_null(f);
	free(dir);
}
END_TEST

static Suite *
vdir_suite(void)
{
	Suite *s = suite_create("vdir");
	TCase *tc = tcase_create("names");
	TCase *td = tcase_create("disk");

	tcase_add_loop_test(tc, test_vdir_item_name, 0,
			    (int)(sizeof(name_rows) / sizeof(name_rows[0])));
	tcase_add_test(tc, test_vdir_item_name_crlf_lf_same);
	tcase_add_loop_test(tc, test_vdir_collection_name, 0,
			    (int)(sizeof(coll_rows) / sizeof(coll_rows[0])));
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(td, setup_tmp, teardown_tmp);
	tcase_add_test(td, test_vdir_collection_dir_collision);
	tcase_add_test(td, test_vdir_write_replace_delete);
	tcase_add_test(td, test_vdir_folder_batch);
	tcase_add_test(td, test_vdir_concurrent_edit);
	tcase_add_test(td, test_vdir_scan_skips);
	tcase_add_test(td, test_vdir_crash_leftover);
	tcase_add_test(td, test_vdir_stat_scan_reads_nothing);
	tcase_add_test(td, test_vdir_readonly_scan_and_lookup);
	tcase_add_test(td, test_vdir_conflict_write);
	tcase_add_loop_test(td, test_vdir_meta, 0,
			    (int)(sizeof(meta_rows) / sizeof(meta_rows[0])));
	tcase_add_test(td, test_vdir_meta_read_untrusted);
	suite_add_tcase(s, td);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(vdir_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
