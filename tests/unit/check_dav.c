/* SPDX-License-Identifier: MIT */
/* check_dav.c -- dav.c's request bodies and multiget reconciliation */
#include "config.h"

#include "transports/dav.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email2.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- dav_xml_escape(): a value in, its escaped form or EINVAL out ---- */

struct esc_row {
	const char *in;
	const char *want; /* NULL: E2_EINVAL */
};

static const struct esc_row esc_rows[] = {
	{"", ""},
	{"/alice/contacts/a.vcf", "/alice/contacts/a.vcf"},
	{"a&b", "a&amp;b"},
	{"<d:href>", "&lt;d:href&gt;"},
	{"\"q\" 'a'", "&quot;q&quot; &apos;a&apos;"},
	{"]]>", "]]&gt;"},
	{"&amp;", "&amp;amp;"},
	{"tab\tcr\rlf\n", "tab\tcr\rlf\n"},
	{"caf\xc3\xa9", "caf\xc3\xa9"}, /* UTF-8 kept as is */
	{"nul\x01", NULL},
	{"esc\x1b[0m", NULL},
	{"del\x7f", NULL},
	{"http://radicale.org/ns/sync/ab&cd",
	 "http://radicale.org/ns/sync/ab&amp;cd"},
};

START_TEST(test_escape)
{
	const struct esc_row *r = &esc_rows[_i];
	struct e2_err err = {0};
	char *out = NULL;
	enum e2_status rc = dav_xml_escape(r->in, &out, &err);

	if (r->want == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_ptr_null(out);
		ck_assert_ptr_nonnull(strstr(err.msg, "control byte"));
	} else {
		ck_assert_int_eq(rc, E2_OK);
		ck_assert_str_eq(out, r->want);
	}
	free(out);
}
END_TEST

/* ---- the sync-collection body ---- */

struct sync_row {
	const char *token;
	const char *want_token; /* the element as it must appear */
};

static const struct sync_row sync_rows[] = {
	{NULL, "<d:sync-token></d:sync-token>"},
	{"", "<d:sync-token></d:sync-token>"},
	{"http://radicale.org/ns/sync/abc",
	 "<d:sync-token>http://radicale.org/ns/sync/abc</d:sync-token>"},
	{"tok<&>\"", "<d:sync-token>tok&lt;&amp;&gt;&quot;</d:sync-token>"},
	{"</d:sync-token><d:x/>",
	 "<d:sync-token>&lt;/d:sync-token&gt;&lt;d:x/&gt;</d:sync-token>"},
};

START_TEST(test_sync_body)
{
	const struct sync_row *r = &sync_rows[_i];
	struct e2_err err = {0};
	char *out = NULL, *bad = NULL;

	ck_assert_int_eq(
		dav_body_sync_collection(r->token, DAV_SYNC_ETAG, &out, &err),
		E2_OK);
	ck_assert_ptr_nonnull(strstr(out, r->want_token));
	ck_assert_ptr_nonnull(strstr(out, "<d:sync-collection "
					  "xmlns:d=\"DAV:\">"));
	ck_assert_ptr_nonnull(strstr(out, "<d:sync-level>1</d:sync-level>"
					  "<d:prop><d:getetag/></d:prop>"));
	/* one sync-token element: the value cannot close it */
	ck_assert_ptr_null(
		strstr(strstr(out, "<d:sync-token>") + 1, "<d:sync-token>"));
	ck_assert_int_eq(
		dav_body_sync_collection("a\x02", DAV_SYNC_ETAG, &bad, &err),
		E2_EINVAL);
	ck_assert_ptr_null(bad);
	free(out);
	/* with the data: its namespace declared, the property asked */
	ck_assert_int_eq(dav_body_sync_collection(r->token, DAV_SYNC_CARD_DATA,
						  &out, &err),
			 E2_OK);
	ck_assert_ptr_nonnull(strstr(out, "xmlns:cr=\"urn:ietf:params:xml:ns:"
					  "carddav\""));
	ck_assert_ptr_nonnull(strstr(out, "<d:prop><d:getetag/>"
					  "<cr:address-data/></d:prop>"));
	free(out);
	ck_assert_int_eq(dav_body_sync_collection(r->token, DAV_SYNC_CAL_DATA,
						  &out, &err),
			 E2_OK);
	ck_assert_ptr_nonnull(strstr(out, "xmlns:c=\"urn:ietf:params:xml:ns:"
					  "caldav\""));
	ck_assert_ptr_nonnull(strstr(out, "<c:calendar-data/></d:prop>"));
	ck_assert_ptr_nonnull(
		strstr(strstr(out, "<d:sync-token>"), r->want_token));
	free(out);
}
END_TEST

/* ---- the multiget bodies ---- */

struct mg_row {
	enum dav_kind kind;
	const char *hrefs[4];
	size_t n;
	const char *want; /* the whole body; NULL: E2_EINVAL */
};

#define MG_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define MG_CARD                                                                \
	MG_HEAD "<cr:addressbook-multiget xmlns:d=\"DAV:\" "                   \
		"xmlns:cr=\"urn:ietf:params:xml:ns:carddav\"><d:prop>"         \
		"<d:getetag/><cr:address-data/></d:prop>"
#define MG_CAL                                                                 \
	MG_HEAD "<c:calendar-multiget xmlns:d=\"DAV:\" "                       \
		"xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"           \
		"<d:getetag/><c:calendar-data/></d:prop>"

static const struct mg_row mg_rows[] = {
	{DAV_KIND_CARD,
	 {"/a/b/1.vcf", "/a/b/2.vcf"},
	 2,
	 MG_CARD "<d:href>/a/b/1.vcf</d:href><d:href>/a/b/2.vcf</d:href>"
		 "</cr:addressbook-multiget>\n"},
	{DAV_KIND_CAL,
	 {"/c/x%40y.ics"},
	 1,
	 MG_CAL "<d:href>/c/x%40y.ics</d:href></c:calendar-multiget>\n"},
	{DAV_KIND_CARD, {NULL}, 0, MG_CARD "</cr:addressbook-multiget>\n"},
	{DAV_KIND_CAL,
	 {"/c/a&b<c>.ics"},
	 1,
	 MG_CAL "<d:href>/c/a&amp;b&lt;c&gt;.ics</d:href>"
		"</c:calendar-multiget>\n"},
	{DAV_KIND_CARD, {"/ok.vcf", "/bad\x01.vcf"}, 2, NULL},
};

START_TEST(test_multiget_body)
{
	const struct mg_row *r = &mg_rows[_i];
	struct e2_err err = {0};
	char *out = NULL;
	enum e2_status rc =
		dav_body_multiget(r->kind, r->hrefs, r->n, &out, &err);

	if (r->want == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_ptr_null(out);
	} else {
		ck_assert_int_eq(rc, E2_OK);
		ck_assert_str_eq(out, r->want);
	}
	free(out);
}
END_TEST

/* ---- multiget reconciliation ---- */

/*
 * A multistatus answer to the hrefs requested; want: the items as
 * "href=etag:data" and the missing as "-href", in order, "|" between,
 * then " ignored=N".
 */
struct rec_row {
	const char *name;
	const char *hrefs[4];
	size_t n;
	const char *body;
	const char *want;
};

#define MS_OPEN                                                                \
	"<d:multistatus xmlns:d=\"DAV:\" "                                     \
	"xmlns:cr=\"urn:ietf:params:xml:ns:carddav\">"
#define MS_ITEM(h, e, d)                                                       \
	"<d:response><d:href>" h "</d:href><d:propstat><d:prop><d:getetag>" e  \
	"</d:getetag><cr:address-data>" d "</cr:address-data></d:prop>"        \
	"<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
#define MS_404(h)                                                              \
	"<d:response><d:href>" h "</d:href><d:status>HTTP/1.1 404 Not "        \
	"Found</d:status></d:response>"
#define MS_CLOSE "</d:multistatus>"

static const struct rec_row rec_rows[] = {
	{"all returned, out of order",
	 {"/c/1.vcf", "/c/2.vcf"},
	 2,
	 MS_OPEN MS_ITEM("/c/2.vcf", "\"e2\"", "B")
		 MS_ITEM("/c/1.vcf", "\"e1\"", "A") MS_CLOSE,
	 "/c/2.vcf=\"e2\":B|/c/1.vcf=\"e1\":A ignored=0"},
	{"one dropped silently",
	 {"/c/1.vcf", "/c/2.vcf"},
	 2,
	 MS_OPEN MS_ITEM("/c/1.vcf", "\"e1\"", "A") MS_CLOSE,
	 "/c/1.vcf=\"e1\":A|-/c/2.vcf ignored=0"},
	{"one answered 404",
	 {"/c/1.vcf", "/c/2.vcf"},
	 2,
	 MS_OPEN MS_404("/c/2.vcf") MS_ITEM("/c/1.vcf", "\"e1\"", "A") MS_CLOSE,
	 "/c/1.vcf=\"e1\":A|-/c/2.vcf ignored=0"},
	{"an unrequested one ignored",
	 {"/c/1.vcf"},
	 1,
	 MS_OPEN MS_ITEM("/c/1.vcf", "\"e1\"", "A")
		 MS_ITEM("/c/9.vcf", "\"e9\"", "Z") MS_CLOSE,
	 "/c/1.vcf=\"e1\":A ignored=1"},
	{"absolute href and other escaping match the request",
	 {"/c/a@b.vcf", "/c/%7euser.vcf"},
	 2,
	 MS_OPEN MS_ITEM("https://h.example/c/a%40b.vcf", "\"x\"", "X")
		 MS_ITEM("/c/~user.vcf", "\"y\"", "Y") MS_CLOSE,
	 "https://h.example/c/a%40b.vcf=\"x\":X|/c/~user.vcf=\"y\":Y "
	 "ignored=0"},
	{"a second answer for one href: the first wins",
	 {"/c/1.vcf"},
	 1,
	 MS_OPEN MS_ITEM("/c/1.vcf", "\"e1\"", "A")
		 MS_ITEM("/c/1.vcf", "\"e2\"", "B") MS_CLOSE,
	 "/c/1.vcf=\"e1\":A ignored=0"},
	{"an item without data is missing",
	 {"/c/1.vcf"},
	 1,
	 MS_OPEN "<d:response><d:href>/c/1.vcf</d:href><d:propstat><d:prop>"
		 "<d:getetag>\"e\"</d:getetag></d:prop><d:status>HTTP/1.1 200 "
		 "OK</d:status></d:propstat></d:response>" MS_CLOSE,
	 "-/c/1.vcf ignored=0"},
	{"nothing returned at all",
	 {"/c/1.vcf", "/c/2.vcf", "/c/3.vcf"},
	 3,
	 MS_OPEN MS_CLOSE,
	 "-/c/1.vcf|-/c/2.vcf|-/c/3.vcf ignored=0"},
	{"a refused href counts as unrequested",
	 {"/c/1.vcf"},
	 1,
	 MS_OPEN MS_ITEM("/c/../1.vcf", "\"e\"", "A") MS_CLOSE,
	 "-/c/1.vcf ignored=1"},
	{"data with entities unescaped",
	 {"/c/1.vcf"},
	 1,
	 MS_OPEN MS_ITEM("/c/1.vcf", "\"e\"", "a&amp;b&#13;") MS_CLOSE,
	 "/c/1.vcf=\"e\":a&b\r ignored=0"},
};

START_TEST(test_reconcile)
{
	const struct rec_row *r = &rec_rows[_i];
	struct dav_multistatus *ms = NULL;
	struct dav_multiget m = {0}, *mp;
	struct e2_err err = {0};
	char got[1024] = "";
	size_t i;

	ck_assert_int_eq(dav_xml_parse(r->body, strlen(r->body), &ms, &err),
			 E2_OK);
	ck_assert_msg(dav_multiget_reconcile("https://h.example/c/", r->hrefs,
					     r->n, ms, &m, &err) == E2_OK,
		      "%s: %s", r->name, err.msg);
	for (i = 0; i < m.n_items; i++) {
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 "%s%s=%s:%s", i > 0 ? "|" : "", m.items[i].href,
			 m.items[i].etag, m.items[i].data);
		ck_assert_ptr_nonnull(m.items[i].url);
		ck_assert_msg(strncmp(m.items[i].url, "https://h.example/c/",
				      20) == 0,
			      "%s: url %s", r->name, m.items[i].url);
	}
	for (i = 0; i < m.n_missing; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s-%s",
			 m.n_items + i > 0 ? "|" : "", m.missing[i]);
	snprintf(got + strlen(got), sizeof(got) - strlen(got), " ignored=%zu",
		 m.n_ignored);
	ck_assert_msg(strcmp(got, r->want) == 0, "%s: got %s, want %s", r->name,
		      got, r->want);
	/* every requested href is accounted for exactly once */
	ck_assert_uint_eq(m.n_items + m.n_missing, r->n);
	mp = malloc(sizeof(*mp));
	ck_assert_ptr_nonnull(mp);
	*mp = m;
	dav_multiget_free(&mp);
	dav_xml_free(&ms);
}
END_TEST

START_TEST(test_reconcile_bad_request)
{
	const char *const hrefs[] = {"/c/ok.vcf", "/c/%zz.vcf"};
	const char body[] = MS_OPEN MS_CLOSE;
	struct dav_multistatus *ms = NULL;
	struct dav_multiget *m = calloc(1, sizeof(*m));
	struct e2_err err = {0};

	ck_assert_int_eq(dav_xml_parse(body, strlen(body), &ms, &err), E2_OK);
	ck_assert_int_eq(
		dav_multiget_reconcile("https://h/c/", hrefs, 2, ms, m, &err),
		E2_EINVAL);
	dav_multiget_free(&m);
	dav_xml_free(&ms);
}
END_TEST

/* ---- dav_href_member(): may a server's href be an item of coll? ---- */

struct member_row {
	const char *coll, *href;
	bool member;
};

#define COLL "https://dav.example.org/alice/book/"
static const struct member_row member_rows[] = {
	{COLL, "/alice/book/a.vcf", true},
	{COLL, "a.vcf", true},
	{COLL, "https://dav.example.org/alice/book/a.vcf", true},
	{COLL, "HTTPS://DAV.EXAMPLE.ORG:443/alice/book/a.vcf", true},
	{COLL, "/alice/book/%61%20b.vcf", true},
	{COLL, "/alice/book/sub/", true}, /* a sub-collection: left to
					     resourcetype */
	{"https://dav.example.org/alice/book", "/alice/book/a.vcf", true},
	/* another collection of the same server */
	{COLL, "/bob/book/b-1.vcf", false},
	{COLL, "/alice/book2/a.vcf", false},
	{COLL, "/alice/a.vcf", false},
	{COLL, "/alice/book/", false}, /* the collection itself */
	{COLL, "/alice/book/x/y.vcf", false},
	{COLL, "/alice/book/../../bob/book/b.vcf", false},
	{COLL, "/alice/book/%2e%2e/x.vcf", false},
	{COLL, "/alice/book/a.vcf?x=1", false},
	/* another origin: the credentials would go there */
	{COLL, "https://evil.example/alice/book/a.vcf", false},
	{COLL, "//evil.example/alice/book/a.vcf", false},
	{COLL, "http://dav.example.org/alice/book/a.vcf", false},
	{COLL, "https://dav.example.org:8443/alice/book/a.vcf", false},
	{COLL, "https://u:p@dav.example.org/alice/book/a.vcf", false},
	{COLL, "", false},
	{COLL, "mailto:a@b", false},
};

START_TEST(test_href_member)
{
	const struct member_row *r = &member_rows[_i];

	ck_assert_msg(dav_href_member(r->coll, r->href) == r->member,
		      "%s in %s: want %d", r->href, r->coll, r->member);
}
END_TEST

/* A kept listing made a discovery: resolved on the home set, no other
 * origin. */
START_TEST(test_discovery_from)
{
	char h1[] = "/alice/book/", h2[] = "https://dav.example/alice/cal/";
	char foreign[] = "https://evil.example/alice/book/";
	char name[] = "Book";
	struct dav_collection kept[] = {
		{.href = h1, .displayname = name, .reports = 3},
		{.href = h2, .components = 1},
	};
	struct dav_discovery *d = NULL;
	struct e2_err err = {0};

	ck_assert_int_eq(dav_discovery_from("https://dav.example/alice/", kept,
					    2, &d, &err),
			 E2_OK);
	ck_assert(d->assumed);
	ck_assert_uint_eq(d->n_colls, 2);
	ck_assert_str_eq(d->home_url, "https://dav.example/alice/");
	ck_assert_str_eq(d->colls[0].url, "https://dav.example/alice/book/");
	ck_assert_str_eq(d->colls[0].href, h1);
	ck_assert_str_eq(d->colls[0].displayname, "Book");
	ck_assert_ptr_null(d->colls[0].color);
	ck_assert_uint_eq(d->colls[0].reports, 3);
	ck_assert_str_eq(d->colls[1].url, h2);
	ck_assert_uint_eq(d->colls[1].components, 1);
	dav_discovery_free(&d);
	kept[1].href = foreign;
	ck_assert_int_eq(dav_discovery_from("https://dav.example/alice/", kept,
					    2, &d, &err),
			 E2_EPROTO);
	ck_assert_ptr_null(d);
	ck_assert_msg(strstr(err.msg, "evil.example") != NULL, "%s", err.msg);
}
END_TEST

static Suite *
dav_suite(void)
{
	Suite *s = suite_create("dav");
	TCase *tc = tcase_create("bodies");

	tcase_add_loop_test(tc, test_escape, 0, (int)E2_ARRAY_LEN(esc_rows));
	tcase_add_loop_test(tc, test_sync_body, 0,
			    (int)E2_ARRAY_LEN(sync_rows));
	tcase_add_loop_test(tc, test_multiget_body, 0,
			    (int)E2_ARRAY_LEN(mg_rows));
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tc, test_href_member, 0,
			    (int)E2_ARRAY_LEN(member_rows));
	tc = tcase_create("reconcile");
	tcase_add_loop_test(tc, test_reconcile, 0, (int)E2_ARRAY_LEN(rec_rows));
	tcase_add_test(tc, test_reconcile_bad_request);
	tcase_add_test(tc, test_discovery_from);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dav_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
