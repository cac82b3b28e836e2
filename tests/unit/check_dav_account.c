/* SPDX-License-Identifier: MIT */
/* check_dav_account.c -- the DAV endpoint plan and the SRV/TXT parsers */
#include "config.h"

#include "engine/dav_account.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transports/dns_srv.h"

/* ---- SRV answers used by the plan rows --------------------------------- */

static struct dns_srv_set srv_one, srv_two, srv_plain, srv_root, srv_empty;

static void
srv_add(struct dns_srv_set *s, const char *target, uint16_t port, uint16_t prio,
	uint16_t weight)
{
	struct dns_srv *r = &s->srv[s->n++];

	(void)snprintf(r->target, sizeof(r->target), "%s", target);
	r->port = port;
	r->priority = prio;
	r->weight = weight;
}

static void
setup_srv(void)
{
	memset(&srv_one, 0, sizeof(srv_one));
	memset(&srv_two, 0, sizeof(srv_two));
	memset(&srv_plain, 0, sizeof(srv_plain));
	memset(&srv_root, 0, sizeof(srv_root));
	memset(&srv_empty, 0, sizeof(srv_empty));
	srv_add(&srv_one, "dav1.example.org", 8443, 0, 0);
	/* as dns_parse_srv() returns them: sorted */
	srv_add(&srv_two, "a.example.org", 443, 1, 5);
	srv_add(&srv_two, "b.example.org", 8443, 2, 0);
	srv_add(&srv_plain, "plain.example.org", 5232, 0, 0);
	srv_root.none = true;
}

/* ---- the plan: one row per rule (dav_account.c's header) --------------- */

struct plan_row {
	const char *name;
	enum dav_kind kind;
	const char *server;
	bool requiressl, in_ssl;
	const char *replyaddr, *inserver;
	const struct dns_srv_set *srv_tls;
	const char *srv_tls_path;
	const struct dns_srv_set *srv_plain;
	enum e2_status rc;
	const char *urls;  /* space-separated, "+" marks an http twin */
	const char *want;  /* E2_OK: in the note (or "" none); else in msg */
	const char *found; /* the first endpoint's found_by */
};

static const struct plan_row plan_rows[] = {
	{"P1 host: https then http on default ports", DAV_KIND_CARD,
	 "dav.example.org", false, false, NULL, NULL, NULL, NULL, NULL, E2_OK,
	 "https://dav.example.org/ +http://dav.example.org/", "",
	 "CONTACTSSERVER"},
	{"P1 host:port: the same port for both", DAV_KIND_CARD,
	 "dav.example.org:5232", false, false, NULL, NULL, NULL, NULL, NULL,
	 E2_OK, "https://dav.example.org:5232/ +http://dav.example.org:5232/",
	 "", "CONTACTSSERVER"},
	{"P1 [v6]:port", DAV_KIND_CAL, "[2001:db8::1]:5232", false, false, NULL,
	 NULL, NULL, NULL, NULL, E2_OK,
	 "https://[2001:db8::1]:5232/ +http://[2001:db8::1]:5232/", "",
	 "CALENDARSERVER"},
	{"P1 https URL: its path is the context", DAV_KIND_CARD,
	 "HTTPS://dav.example.org/dav/alice/", false, false, NULL, NULL, NULL,
	 NULL, NULL, E2_OK,
	 "https://dav.example.org/dav/alice/ "
	 "+http://dav.example.org/dav/alice/",
	 "", "CONTACTSSERVER"},
	{"P1 refused: userinfo", DAV_KIND_CARD,
	 "https://bob:pw@dav.example.org/", false, false, NULL, NULL, NULL,
	 NULL, NULL, E2_EINVAL, "",
	 "CONTACTSSERVER \"https://bob:pw@dav.example.org/\": userinfo", NULL},
	{"P1 refused: other scheme", DAV_KIND_CAL, "webcal://dav.example.org/",
	 false, false, NULL, NULL, NULL, NULL, NULL, E2_EINVAL, "",
	 "CALENDARSERVER \"webcal://dav.example.org/\": scheme is not https",
	 NULL},
	{"P1 refused: control", DAV_KIND_CARD, "dav.example.org\n", false,
	 false, NULL, NULL, NULL, NULL, NULL, E2_EINVAL, "",
	 "control character", NULL},
	{"P1 refused: path without scheme", DAV_KIND_CARD,
	 "dav.example.org/dav/", false, false, NULL, NULL, NULL, NULL, NULL,
	 E2_EINVAL, "", "a path needs an https:// or http:// URL", NULL},
	{"P1 refused: query", DAV_KIND_CARD, "https://dav.example.org/?x=1",
	 false, false, NULL, NULL, NULL, NULL, NULL, E2_EINVAL, "",
	 "query or fragment", NULL},
	{"P1 refused: port out of range", DAV_KIND_CARD,
	 "dav.example.org:65536", false, false, NULL, NULL, NULL, NULL, NULL,
	 E2_EINVAL, "", "port out of range", NULL},
	{"P1 refused: not a host name", DAV_KIND_CARD, "dav..example.org",
	 false, false, NULL, NULL, NULL, NULL, NULL, E2_EINVAL, "",
	 "not a host", NULL},
	{"P1 refused: over 2 KiB", DAV_KIND_CARD, NULL, false, false, NULL,
	 NULL, NULL, NULL, NULL, E2_EINVAL, "", "longer than 2048 bytes", NULL},
	{"P2 REQUIRESSL 1: https only", DAV_KIND_CARD, "dav.example.org", true,
	 false, NULL, NULL, NULL, NULL, NULL, E2_OK, "https://dav.example.org/",
	 "", "CONTACTSSERVER"},
	{"P2 REQUIRESSL 1 and an http URL: refused naming both nodes",
	 DAV_KIND_CARD, "http://dav.example.org:5232/", true, false, NULL, NULL,
	 NULL, NULL, NULL, E2_EINVAL, "",
	 "CONTACTSSERVER \"http://dav.example.org:5232/\": plain http:// "
	 "while CONTACTSSERVERREQUIRESSL is 1",
	 NULL},
	{"P2 CALENDARSERVERREQUIRESSL names its node", DAV_KIND_CAL,
	 "http://dav.example.org/", true, false, NULL, NULL, NULL, NULL, NULL,
	 E2_EINVAL, "", "while CALENDARSERVERREQUIRESSL is 1", NULL},
	{"P3 http URL, REQUIRESSL 0: https first on its host, port, path",
	 DAV_KIND_CAL, "http://dav.example.org:8080/cal/", false, false, NULL,
	 NULL, NULL, NULL, NULL, E2_OK,
	 "https://dav.example.org:8080/cal/ +http://dav.example.org:8080/cal/",
	 "", "CALENDARSERVER"},
	{"P5 TAGPROPS 8128000B: no http rung, the note says why", DAV_KIND_CARD,
	 "dav.example.org:5232", false, true, NULL, NULL, NULL, NULL, NULL,
	 E2_OK, "https://dav.example.org:5232/",
	 "http://dav.example.org:5232/ not tried: TAGPROPS/8128000B requires "
	 "TLS for the same credentials",
	 "CONTACTSSERVER"},
	{"P6 SRV+TXT, then well-known on the domain, then INSERVER",
	 DAV_KIND_CARD, NULL, false, false, "alice@example.org",
	 "mail.example.org", &srv_one, "/dav/", &srv_empty, E2_OK,
	 "https://dav1.example.org:8443/dav/ https://example.org/ "
	 "https://mail.example.org/",
	 "", "SRV _carddavs._tcp.example.org"},
	{"P6 SRV order: as sorted, no TXT path: the well-known path",
	 DAV_KIND_CAL, NULL, false, false, "alice@example.org", NULL, &srv_two,
	 NULL, NULL, E2_OK,
	 "https://a.example.org:443/ https://b.example.org:8443/ "
	 "https://example.org/",
	 "", "SRV _caldavs._tcp.example.org"},
	{"P6 plain SRV: https first on its host and port, then http",
	 DAV_KIND_CARD, NULL, false, false, "alice@example.org", NULL,
	 &srv_empty, NULL, &srv_plain, E2_OK,
	 "https://plain.example.org:5232/ +http://plain.example.org:5232/ "
	 "https://example.org/",
	 "", "SRV _carddav._tcp.example.org"},
	{"P6 plain SRV ignored with REQUIRESSL 1", DAV_KIND_CARD, NULL, true,
	 false, "alice@example.org", NULL, &srv_empty, NULL, &srv_plain, E2_OK,
	 "https://example.org/", "", "well-known example.org"},
	{"P6 target \".\": no service, no well-known on the domain",
	 DAV_KIND_CARD, NULL, false, false, "alice@example.org",
	 "mail.example.org", &srv_root, NULL, NULL, E2_OK,
	 "https://mail.example.org/", "",
	 "well-known INSERVER mail.example.org"},
	{"P6 INSERVER on the domain itself: tried once", DAV_KIND_CARD, NULL,
	 false, false, "alice@example.org", "EXAMPLE.org", NULL, NULL, NULL,
	 E2_OK, "https://example.org/", "", "well-known example.org"},
	{"P8 nothing to discover from: an empty plan", DAV_KIND_CARD, "", false,
	 false, "no-domain", NULL, NULL, NULL, NULL, E2_OK, "", "", NULL},
};

/* The plan's URLs as the row writes them. */
static void
plan_urls(const struct dav_plan *p, char *dst, size_t n)
{
	size_t o = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		int w = snprintf(dst + o, n - o, "%s%s%s", i > 0 ? " " : "",
				 p->ep[i].twin ? "+" : "", p->ep[i].url);

		ck_assert(w > 0 && (size_t)w < n - o);
		o += (size_t)w;
		/* a twin is http and may take Basic; nothing else is */
		ck_assert(p->ep[i].twin == !p->ep[i].https);
		ck_assert(p->ep[i].cleartext_ok == p->ep[i].twin);
	}
}

START_TEST(test_dav_account_plan)
{
	const struct plan_row *r = &plan_rows[_i];
	struct dav_plan_input in = {0};
	struct dav_plan *p = calloc(1, sizeof(*p));
	struct e2_err err;
	char urls[2048], *big = NULL;
	enum e2_status rc;

	ck_assert_ptr_nonnull(p);
	e2_err_clear(&err);
	in.kind = r->kind;
	in.server = r->server;
	if (r->server == NULL && r->replyaddr == NULL) {
		big = malloc(DAV_SERVER_MAX + 2);
		ck_assert_ptr_nonnull(big);
		memset(big, 'a', DAV_SERVER_MAX + 1);
		big[DAV_SERVER_MAX + 1] = '\0';
		in.server = big;
	}
	in.requiressl = r->requiressl;
	in.in_ssl_required = r->in_ssl;
	in.replyaddr = r->replyaddr;
	in.inserver = r->inserver;
	in.srv_tls = r->srv_tls;
	in.srv_tls_path = r->srv_tls_path;
	in.srv_plain = r->srv_plain;
	rc = dav_plan_build(&in, p, &err);
	ck_assert_msg(rc == r->rc, "%s: rc %d (%s)", r->name, (int)rc, err.msg);
	if (rc != E2_OK) {
		ck_assert_msg(strstr(err.msg, r->want) != NULL,
			      "%s: message \"%s\"", r->name, err.msg);
		/* a refused value is never echoed with its secret-looking
		 * part cut off silently: it is quoted */
		goto out;
	}
	plan_urls(p, urls, sizeof(urls));
	ck_assert_msg(strcmp(urls, r->urls) == 0, "%s: plan \"%s\"", r->name,
		      urls);
	if (r->want[0] == '\0')
		ck_assert_msg(p->note[0] == '\0', "%s: note \"%s\"", r->name,
			      p->note);
	else
		ck_assert_msg(strstr(p->note, r->want) != NULL,
			      "%s: note \"%s\"", r->name, p->note);
	if (r->found != NULL)
		ck_assert_str_eq(p->ep[0].found_by, r->found);
	ck_assert(p->tls_required == (r->requiressl || r->in_ssl));
	ck_assert(p->discovered == (in.server == NULL || in.server[0] == '\0'));
out:
	free(big);
	free(p);
}
END_TEST

/* P3 and P7: what is tried after a failure. */
static const struct {
	const char *name;
	bool twin, first;
	enum e2_status prev;
	enum dav_plan_step want;
} next_rows[] = {
	{"the first endpoint is always tried", false, true, E2_ECERT,
	 DAV_PLAN_TRY},
	{"P3 http twin after a TLS handshake failure", true, false, E2_ETLS,
	 DAV_PLAN_TRY},
	{"P3 http twin after connect refused", true, false, E2_ECONNECT,
	 DAV_PLAN_TRY},
	{"P3 http twin after a timeout", true, false, E2_ETIMEOUT,
	 DAV_PLAN_TRY},
	{"P3 never http after a certificate failure", true, false, E2_ECERT,
	 DAV_PLAN_SKIP},
	{"P3 never http after rejected credentials", true, false, E2_EAUTH,
	 DAV_PLAN_SKIP},
	{"P3 never http after a protocol error", true, false, E2_EPROTO,
	 DAV_PLAN_SKIP},
	{"P7 next candidate after a certificate failure", false, false,
	 E2_ECERT, DAV_PLAN_TRY},
	{"P7 next candidate after no such name", false, false, E2_ERESOLVE,
	 DAV_PLAN_TRY},
	{"P7 no candidate after rejected credentials", false, false, E2_EAUTH,
	 DAV_PLAN_STOP},
};

START_TEST(test_dav_account_plan_next)
{
	struct dav_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.twin = next_rows[_i].twin;
	ep.https = !ep.twin;
	ck_assert_msg(dav_plan_next(&ep, next_rows[_i].first,
				    next_rows[_i].prev) == next_rows[_i].want,
		      "%s", next_rows[_i].name);
}
END_TEST

static const struct {
	const char *addr, *domain;
} domain_rows[] = {
	{"alice@example.org", "example.org"},
	{"\"a@b\"@example.org", "example.org"},
	{"alice", NULL},
	{"alice@", NULL},
	{"alice@exa mple.org", NULL},
	{NULL, NULL},
};

START_TEST(test_dav_account_plan_domain)
{
	const char *d = dav_plan_domain(domain_rows[_i].addr);

	if (domain_rows[_i].domain == NULL)
		ck_assert_ptr_null(d);
	else
		ck_assert_str_eq(d, domain_rows[_i].domain);
}
END_TEST

/* dav_account_open() without any network: a refused node, nothing to
 * discover from. rep NULL is allowed. */
START_TEST(test_dav_account_open_no_network)
{
	struct e2_account *a = e2_account_new();
	struct e2_dav_report *rep = calloc(1, sizeof(*rep));
	struct dav_open_opts o = {0};
	struct dav_session *s = NULL;
	struct dav_discovery *d = NULL;
	struct e2_err err;
	bool clear = true;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(rep);
	a->contactsserver = strdup("https://bob:secret@dav.example.org/");
	e2_err_clear(&err);
	ck_assert_int_eq(dav_account_open(a, DAV_KIND_CARD, &o, &s, &d, NULL,
					  &clear, &err),
			 E2_EINVAL);
	ck_assert(!clear);
	e2_err_clear(&err);
	ck_assert_int_eq(
		dav_account_open(a, DAV_KIND_CARD, &o, &s, &d, rep, NULL, &err),
		E2_EINVAL);
	ck_assert(rep->tested && !rep->ok);
	ck_assert_str_eq(rep->state, "failed");
	ck_assert_str_eq(rep->node, "CONTACTSSERVER");
	ck_assert_uint_eq(rep->n_attempts, 0);
	ck_assert_ptr_nonnull(strstr(rep->error, "userinfo"));
	/* no node, no REPLYADDR domain, no INSERVER: not-found, no DNS */
	e2_err_clear(&err);
	ck_assert_int_eq(
		dav_account_open(a, DAV_KIND_CAL, &o, &s, &d, rep, NULL, &err),
		E2_EINVAL);
	ck_assert_str_eq(rep->state, "not-found");
	ck_assert_str_eq(rep->node, "CALENDARSERVER");
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(d);
	free(rep);
	e2_account_free(&a);
}
END_TEST

/* ---- DNS answers --------------------------------------------------------- */

struct msg {
	unsigned char b[1024];
	size_t n;
};

static void
msg_put(struct msg *m, const void *p, size_t n)
{
	ck_assert(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
msg_u16(struct msg *m, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	msg_put(m, b, 2);
}

static void
msg_name(struct msg *m, const char *dotted)
{
	while (*dotted != '\0') {
		const char *dot = strchr(dotted, '.');
		size_t l =
			dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
		unsigned char c = (unsigned char)l;

		msg_put(m, &c, 1);
		msg_put(m, dotted, l);
		dotted += l + (dot != NULL ? 1 : 0);
	}
	msg_put(m, "", 1);
}

/* A response header and the question "_carddavs._tcp.example.org". */
static void
msg_start(struct msg *m, unsigned rcode, unsigned answers)
{
	m->n = 0;
	msg_u16(m, 0x1234);
	msg_u16(m, 0x8180 | rcode);
	msg_u16(m, 1);
	msg_u16(m, answers);
	msg_u16(m, 0);
	msg_u16(m, 0);
	msg_name(m, "_carddavs._tcp.example.org");
	msg_u16(m, 33);
	msg_u16(m, 1);
}

/* An SRV answer whose owner points at the question (offset 12). */
static void
msg_srv(struct msg *m, unsigned prio, unsigned weight, unsigned port,
	const char *target)
{
	struct msg t = {0};

	msg_name(&t, target);
	msg_u16(m, 0xc00c);
	msg_u16(m, 33);
	msg_u16(m, 1);
	msg_u16(m, 0);
	msg_u16(m, 300);
	msg_u16(m, (unsigned)(6 + t.n));
	msg_u16(m, prio);
	msg_u16(m, weight);
	msg_u16(m, port);
	msg_put(m, t.b, t.n);
}

static void
msg_txt(struct msg *m, const char *const *strs)
{
	size_t len = 0;

	for (size_t i = 0; strs[i] != NULL; i++)
		len += 1 + strlen(strs[i]);
	msg_u16(m, 0xc00c);
	msg_u16(m, 16);
	msg_u16(m, 1);
	msg_u16(m, 0);
	msg_u16(m, 300);
	msg_u16(m, (unsigned)len);
	for (size_t i = 0; strs[i] != NULL; i++) {
		unsigned char c = (unsigned char)strlen(strs[i]);

		msg_put(m, &c, 1);
		msg_put(m, strs[i], strlen(strs[i]));
	}
}

START_TEST(test_dns_srv_order_priority_then_weight)
{
	struct msg m;
	struct dns_srv_set s;
	struct e2_err err;

	e2_err_clear(&err);
	msg_start(&m, 0, 4);
	msg_srv(&m, 20, 0, 443, "c.example.org");
	msg_srv(&m, 10, 1, 8443, "b.example.org");
	msg_srv(&m, 10, 60, 443, "a.example.org");
	msg_srv(&m, 10, 1, 9443, "d.example.org"); /* ties keep order */
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, &err), E2_OK);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_str_eq(s.srv[0].target, "a.example.org");
	ck_assert_str_eq(s.srv[1].target, "b.example.org");
	ck_assert_uint_eq(s.srv[1].port, 8443);
	ck_assert_str_eq(s.srv[2].target, "d.example.org");
	ck_assert_str_eq(s.srv[3].target, "c.example.org");
	ck_assert(!s.none);
}
END_TEST

START_TEST(test_dns_srv_root_target_is_no_service)
{
	struct msg m;
	struct dns_srv_set s;

	msg_start(&m, 0, 1);
	msg_srv(&m, 0, 0, 0, "");
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, NULL), E2_OK);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(s.none);
}
END_TEST

START_TEST(test_dns_srv_nxdomain_is_empty)
{
	struct msg m;
	struct dns_srv_set s;

	msg_start(&m, 3, 0);
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, NULL), E2_OK);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(!s.none);
	msg_start(&m, 2, 0); /* SERVFAIL */
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, NULL), E2_EPROTO);
}
END_TEST

START_TEST(test_dns_srv_bad_target_dropped)
{
	struct msg m;
	struct dns_srv_set s;

	msg_start(&m, 0, 3);
	msg_srv(&m, 0, 0, 443, "evil host.example.org");
	msg_srv(&m, 0, 0, 443, "-x.example.org");
	msg_srv(&m, 1, 0, 443, "ok.example.org");
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, NULL), E2_OK);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.srv[0].target, "ok.example.org");
}
END_TEST

/* Untrusted bytes: every malformed message is refused, none read out of
 * bounds (ASan). */
START_TEST(test_dns_srv_malformed)
{
	struct msg m;
	struct dns_srv_set s;
	unsigned char loop[] = {0x12, 0x34, 0x81, 0x80, 0, 1,    0,
				0,    0,    0,    0,    0, 0xc0, 12};
	unsigned char fwd[] = {0x12, 0x34, 0x81, 0x80, 0, 1,    0,
			       0,    0,    0,    0,    0, 0xc0, 20};

	ck_assert_int_eq(dns_parse_srv(loop, sizeof(loop), &s, NULL),
			 E2_EPROTO);
	ck_assert_int_eq(dns_parse_srv(fwd, sizeof(fwd), &s, NULL), E2_EPROTO);
	msg_start(&m, 0, 1);
	msg_srv(&m, 0, 0, 443, "a.example.org");
	for (size_t cut = 0; cut < m.n; cut++)
		ck_assert_int_eq(dns_parse_srv(m.b, cut, &s, NULL), E2_EPROTO);
	m.b[2] &= 0x7f; /* a query, not a response */
	ck_assert_int_eq(dns_parse_srv(m.b, m.n, &s, NULL), E2_EPROTO);
}
END_TEST

START_TEST(test_dns_txt_path)
{
	static const char *const one[] = {"x=1", "path=/dav/alice/", NULL};
	static const char *const bad[] = {"path=dav", "path=/a b", NULL};
	struct msg m;
	char path[DNS_PATH_MAX];
	bool found = true;

	msg_start(&m, 0, 1);
	msg_txt(&m, one);
	ck_assert_int_eq(
		dns_parse_txt_path(m.b, m.n, path, sizeof(path), &found, NULL),
		E2_OK);
	ck_assert(found);
	ck_assert_str_eq(path, "/dav/alice/");
	msg_start(&m, 0, 1);
	msg_txt(&m, bad);
	ck_assert_int_eq(
		dns_parse_txt_path(m.b, m.n, path, sizeof(path), &found, NULL),
		E2_OK);
	ck_assert(!found);
	m.b[m.n - 10] = 200; /* "path=/a b": longer than its record */
	ck_assert_int_eq(
		dns_parse_txt_path(m.b, m.n, path, sizeof(path), &found, NULL),
		E2_EPROTO);
}
END_TEST

static Suite *
dav_account_suite(void)
{
	Suite *s = suite_create("dav_account");
	TCase *tp = tcase_create("plan");
	TCase *td = tcase_create("dns");

	tcase_add_checked_fixture(tp, setup_srv, NULL);
	tcase_add_loop_test(tp, test_dav_account_plan, 0,
			    (int)(sizeof(plan_rows) / sizeof(plan_rows[0])));
	tcase_add_loop_test(tp, test_dav_account_plan_next, 0,
			    (int)(sizeof(next_rows) / sizeof(next_rows[0])));
	tcase_add_loop_test(
		tp, test_dav_account_plan_domain, 0,
		(int)(sizeof(domain_rows) / sizeof(domain_rows[0])));
	tcase_add_test(tp, test_dav_account_open_no_network);
	suite_add_tcase(s, tp);
	tcase_add_test(td, test_dns_srv_order_priority_then_weight);
	tcase_add_test(td, test_dns_srv_root_target_is_no_service);
	tcase_add_test(td, test_dns_srv_nxdomain_is_empty);
	tcase_add_test(td, test_dns_srv_bad_target_dropped);
	tcase_add_test(td, test_dns_srv_malformed);
	tcase_add_test(td, test_dns_txt_path);
	suite_add_tcase(s, td);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dav_account_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
