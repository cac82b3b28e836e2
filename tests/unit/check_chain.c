/* SPDX-License-Identifier: MIT */
/* check_chain.c -- the fallback policy, ports, login names, loopback failures
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "email2.h"
#include "engine/account_conn.h"
#include "transports/chain.h"
#include "transports/xport.h"
#include "tests/unit/testutil.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- chain_decide() ----------------------------------------------------- */

#define I CHAIN_RUNG_IDLE
#define R CHAIN_RUNG_RUNNING
#define Y CHAIN_RUNG_READY
#define F CHAIN_RUNG_FAILED
#define K CHAIN_RUNG_SKIPPED

struct decide_row {
	const char *name;
	enum chain_rung_state st[3];
	enum e2_status rc[3];
	int64_t ready_ms_starttls; /* when STARTTLS became ready */
	bool tls_required;
	int64_t now_ms; /* TLS started at 0 */
	enum chain_action action;
	enum e2_mode mode;
	bool abandon;
};

static const struct decide_row decide_rows[] = {
	{"start tls first",
	 {I, I, I},
	 {0},
	 0,
	 false,
	 0,
	 CHAIN_START,
	 E2_MODE_TLS,
	 false},
	{"wait before stagger",
	 {R, I, I},
	 {0},
	 0,
	 false,
	 100,
	 CHAIN_WAIT,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls after stagger",
	 {R, I, I},
	 {0},
	 0,
	 false,
	 250,
	 CHAIN_START,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls at once when tls fails",
	 {F, I, I},
	 {E2_ECONNECT, 0, 0},
	 0,
	 false,
	 10,
	 CHAIN_START,
	 E2_MODE_STARTTLS,
	 false},
	{"tls ready wins",
	 {Y, R, I},
	 {0},
	 0,
	 false,
	 300,
	 CHAIN_CHOOSE,
	 E2_MODE_TLS,
	 false},
	{"tls ready beats ready starttls",
	 {Y, Y, I},
	 {0},
	 300,
	 false,
	 5000,
	 CHAIN_CHOOSE,
	 E2_MODE_TLS,
	 false},
	{"starttls ready, grace running",
	 {R, Y, I},
	 {0},
	 400,
	 false,
	 900,
	 CHAIN_WAIT,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls ready, tls abandoned",
	 {R, Y, I},
	 {0},
	 400,
	 false,
	 1400,
	 CHAIN_CHOOSE,
	 E2_MODE_STARTTLS,
	 true},
	{"tls ecert is final",
	 {F, R, I},
	 {E2_ECERT, 0, 0},
	 0,
	 false,
	 300,
	 CHAIN_FAIL,
	 E2_MODE_TLS,
	 false},
	{"tls ecert beats ready starttls",
	 {F, Y, I},
	 {E2_ECERT, 0, 0},
	 300,
	 false,
	 5000,
	 CHAIN_FAIL,
	 E2_MODE_TLS,
	 false},
	{"tls eproto is final",
	 {F, I, I},
	 {E2_EPROTO, 0, 0},
	 0,
	 false,
	 10,
	 CHAIN_FAIL,
	 E2_MODE_TLS,
	 false},
	{"tls eresolve stops",
	 {F, I, I},
	 {E2_ERESOLVE, 0, 0},
	 0,
	 false,
	 10,
	 CHAIN_FAIL,
	 E2_MODE_TLS,
	 false},
	{"tls etimeout falls back",
	 {F, Y, I},
	 {E2_ETIMEOUT, 0, 0},
	 300,
	 false,
	 300,
	 CHAIN_CHOOSE,
	 E2_MODE_STARTTLS,
	 false},
	{"tls etls falls back",
	 {F, Y, I},
	 {E2_ETLS, 0, 0},
	 300,
	 false,
	 300,
	 CHAIN_CHOOSE,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls failure waits for tls",
	 {R, F, I},
	 {0, E2_ECERT, 0},
	 0,
	 false,
	 500,
	 CHAIN_WAIT,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls ecert is final",
	 {F, F, I},
	 {E2_ECONNECT, E2_ECERT, 0},
	 0,
	 false,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls eproto (injection) is final",
	 {F, F, I},
	 {E2_ECONNECT, E2_EPROTO, 0},
	 0,
	 false,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_STARTTLS,
	 false},
	{"starttls einsecure (preauth) is final",
	 {F, F, I},
	 {E2_ECONNECT, E2_EINSECURE, 0},
	 0,
	 false,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_STARTTLS,
	 false},
	{"plain after two dead rungs",
	 {F, F, I},
	 {E2_ECONNECT, E2_ENOSTARTTLS, 0},
	 0,
	 false,
	 500,
	 CHAIN_START,
	 E2_MODE_PLAIN,
	 false},
	{"tls required cuts plain",
	 {F, F, K},
	 {E2_ECONNECT, E2_ENOSTARTTLS, 0},
	 0,
	 true,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_STARTTLS,
	 false},
	{"tls required cuts plain (idle)",
	 {F, F, I},
	 {E2_ETIMEOUT, E2_ETIMEOUT, 0},
	 0,
	 true,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_STARTTLS,
	 false},
	{"plain running waits",
	 {F, F, R},
	 {E2_ETLS, E2_ETIMEOUT, 0},
	 0,
	 false,
	 500,
	 CHAIN_WAIT,
	 E2_MODE_PLAIN,
	 false},
	{"plain ready chosen",
	 {F, F, Y},
	 {E2_ETLS, E2_ETIMEOUT, 0},
	 0,
	 false,
	 500,
	 CHAIN_CHOOSE,
	 E2_MODE_PLAIN,
	 false},
	{"plain failure is the verdict",
	 {F, F, F},
	 {E2_ETLS, E2_ETIMEOUT, E2_ECONNECT},
	 0,
	 false,
	 500,
	 CHAIN_FAIL,
	 E2_MODE_PLAIN,
	 false},
	{"eauth never falls back",
	 {F, I, I},
	 {E2_EAUTH, 0, 0},
	 0,
	 false,
	 10,
	 CHAIN_FAIL,
	 E2_MODE_TLS,
	 false},
};

START_TEST(test_chain_decide_table)
{
	const struct decide_row *row = &decide_rows[_i];
	struct chain_rung_view v[E2_MODE_COUNT];
	struct chain_decision d;

	memset(v, 0, sizeof(v));
	for (size_t m = 0; m < E2_MODE_COUNT; m++) {
		v[m].state = row->st[m];
		v[m].rc = row->rc[m];
		v[m].started_ms = m == 0 ? 0 : 250;
	}
	v[E2_MODE_STARTTLS].ready_ms = row->ready_ms_starttls;
	d = chain_decide(v, row->tls_required, row->now_ms, 250, 1000);
	ck_assert_msg(d.action == row->action, "%s: action %d, want %d",
		      row->name, (int)d.action, (int)row->action);
	if (row->action != CHAIN_WAIT)
		ck_assert_msg(d.mode == row->mode, "%s: mode %d, want %d",
			      row->name, (int)d.mode, (int)row->mode);
	ck_assert_msg(d.abandon_tls == row->abandon, "%s: abandon", row->name);
}
END_TEST

START_TEST(test_chain_may_fall_back_only_dead_ports)
{
	for (int c = 0; c < E2_STATUS_COUNT; c++) {
		bool want = c == E2_ECONNECT || c == E2_ETIMEOUT ||
			    c == E2_ETLS || c == E2_ENOSTARTTLS;

		ck_assert_msg(chain_may_fall_back((enum e2_status)c) == want,
			      "%s", e2_status_name((enum e2_status)c));
	}
}
END_TEST

/* ---- chain_port() ----------------------------------------------------------
 */

struct port_row {
	enum e2_service service;
	enum e2_side side;
	enum e2_mode mode;
	uint16_t explicit_port;
	uint16_t want;
};

static const struct port_row port_rows[] = {
	{E2_SERVICE_IMAP4, E2_SIDE_IN, E2_MODE_TLS, 0, 993},
	{E2_SERVICE_IMAP4, E2_SIDE_IN, E2_MODE_STARTTLS, 0, 143},
	{E2_SERVICE_IMAP4, E2_SIDE_IN, E2_MODE_PLAIN, 0, 143},
	{E2_SERVICE_POP3, E2_SIDE_IN, E2_MODE_TLS, 0, 995},
	{E2_SERVICE_POP3, E2_SIDE_IN, E2_MODE_STARTTLS, 0, 110},
	{E2_SERVICE_POP3, E2_SIDE_IN, E2_MODE_PLAIN, 0, 110},
	{E2_SERVICE_IMAP4, E2_SIDE_OUT, E2_MODE_TLS, 0, 465},
	{E2_SERVICE_POP3, E2_SIDE_OUT, E2_MODE_STARTTLS, 0, 587},
	{E2_SERVICE_IMAP4, E2_SIDE_OUT, E2_MODE_PLAIN, 0, 587},
	{E2_SERVICE_IMAP4, E2_SIDE_IN, E2_MODE_TLS, 1993, 1993},
	{E2_SERVICE_IMAP4, E2_SIDE_IN, E2_MODE_PLAIN, 1993, 1993},
	{E2_SERVICE_POP3, E2_SIDE_IN, E2_MODE_STARTTLS, 2110, 2110},
	{E2_SERVICE_POP3, E2_SIDE_OUT, E2_MODE_TLS, 25, 25},
	{E2_SERVICE_POP3, E2_SIDE_OUT, E2_MODE_PLAIN, 25, 25},
};

START_TEST(test_chain_port_table)
{
	const struct port_row *row = &port_rows[_i];

	enum chain_proto proto = row->side == E2_SIDE_OUT ? CHAIN_PROTO_SMTP
				 : row->service == E2_SERVICE_POP3
					 ? CHAIN_PROTO_POP3
					 : CHAIN_PROTO_IMAP4;

	ck_assert_uint_eq(chain_port(proto, row->mode, row->explicit_port),
			  row->want);
}
END_TEST

/* ---- chain_login_name() ----------------------------------------------------
 */

struct login_row {
	const char *user;
	const char *domain;
	const char *want; /* NULL: E2_EINVAL */
};

static const struct login_row login_rows[] = {
	{"alice", NULL, "alice"},
	{"alice", "", "alice"},
	{"alice", "CORP", "CORP\\alice"},
	{"alice@example.com", "CORP", "alice@example.com"},
	{"OTHER\\alice", "CORP", "OTHER\\alice"},
	{"alice@example.com", NULL, "alice@example.com"},
	{"", "CORP", NULL},
	{NULL, "CORP", NULL},
};

START_TEST(test_chain_login_name_table)
{
	const struct login_row *row = &login_rows[_i];
	struct e2_err err = {0};
	char *out = NULL;
	enum e2_status rc;

	rc = chain_login_name(row->user, row->domain, &out, &err);
	if (row->want == NULL) {
		ck_assert_int_eq(rc, E2_EINVAL);
		ck_assert_ptr_null(out);
		return;
	}
	ck_assert_int_eq(rc, E2_OK);
	ck_assert_str_eq(out, row->want);
	OPENSSL_cleanse(out, strlen(out));
	free(out);
}
END_TEST

/* ---- loopback -------------------------------------------------------------
 */

/* A listener on 127.0.0.1 that never accepts: the kernel completes the
 * handshake, nobody ever speaks. */
static int
listen_silent(uint16_t *port_out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port_out = ntohs(sa.sin_port);
	return fd;
}

static uint16_t
refused_port(void)
{
	uint16_t port;
	int fd = listen_silent(&port);

	close(fd);
	return port;
}

/* The engine's request for a's side (no store: no pins), then the chain. */
static enum e2_status
account_open(const struct e2_account *a, enum e2_side side,
	     const struct chain_opts *o, struct chain_session **s,
	     struct e2_side_report *rep, struct e2_err *err)
{
	struct chain_request req;
	enum e2_status rc;

	rc = account_chain_request(NULL, a, side, o, &req, err);
	if (rc != E2_OK)
		return rc;
	return chain_open(&req, s, rep, err);
}

static struct e2_account *
loopback_account(uint16_t port, bool tls_required)
{
	struct e2_account *a = e2_account_new();

	ck_assert_ptr_nonnull(a);
	a->in.host = strdup("127.0.0.1");
	a->in.port = port;
	a->out.host = strdup("127.0.0.1");
	a->out.port = port;
	a->in_ssl_required = tls_required;
	a->out_ssl_required = tls_required;
	return a;
}

START_TEST(test_chain_silent_server_times_out)
{
	struct chain_opts o = {.timeout_ms = 400, .login = true};
	struct e2_side_report rep;
	struct chain_session *s = NULL;
	struct e2_err err = {0};
	struct e2_account *a;
	uint16_t port;
	int lfd = listen_silent(&port);
	int64_t t0 = xport_now_ms();
	enum e2_status rc;

	a = loopback_account(port, _i == 1);
	rc = account_open(a, E2_SIDE_IN, &o, &s, &rep, &err);
	ck_assert_int_eq(rc, E2_ETIMEOUT);
	ck_assert_ptr_null(s);
	ck_assert(!rep.ok);
	ck_assert_int_eq(rep.status, E2_ETIMEOUT);
	/* TLS and STARTTLS run side by side: about one timeout each way. */
	ck_assert_int_lt(xport_now_ms() - t0, _i == 1 ? 1500 : 2000);
	ck_assert_uint_eq(rep.n_attempts, _i == 1 ? 2 : 3);
	ck_assert_int_eq(rep.attempts[0].mode, E2_MODE_TLS);
	ck_assert_int_eq(rep.attempts[0].result, E2_ETIMEOUT);
	ck_assert_str_eq(rep.attempts[0].address, "127.0.0.1");
	ck_assert_int_eq(rep.attempts[1].result, E2_ETIMEOUT);
	if (_i == 1)
		ck_assert_ptr_nonnull(strstr(rep.error, "8128000B"));
	ck_assert_str_eq(rep.protocol, "imap4");
	e2_account_free(&a);
	close(lfd);
}
END_TEST

START_TEST(test_chain_refused_port_is_econnect)
{
	struct chain_opts o = {.timeout_ms = 2000, .login = true};
	struct e2_side_report rep;
	struct chain_session *s = NULL;
	struct e2_err err = {0};
	struct e2_account *a = loopback_account(refused_port(), false);
	enum e2_status rc;

	a->service = E2_SERVICE_POP3;
	rc = account_open(a, _i == 0 ? E2_SIDE_IN : E2_SIDE_OUT, &o, &s, &rep,
			  &err);
	ck_assert_int_eq(rc, E2_ECONNECT);
	ck_assert_uint_eq(rep.n_attempts, 3);
	ck_assert_int_eq(rep.attempts[2].mode, E2_MODE_PLAIN);
	ck_assert_int_eq(rep.attempts[2].result, E2_ECONNECT);
	ck_assert_ptr_nonnull(
		strstr(rep.attempts[0].error, "connection refused"));
	ck_assert_ptr_nonnull(strstr(rep.attempts[0].error, "(127.0.0.1)"));
	ck_assert_str_eq(rep.protocol, _i == 0 ? "pop3" : "smtp");
	e2_account_free(&a);
}
END_TEST

START_TEST(test_chain_unresolvable_host_stops)
{
	struct chain_opts o = {.timeout_ms = 2000, .login = true};
	struct e2_side_report rep;
	struct chain_session *s = NULL;
	struct e2_err err = {0};
	struct e2_account *a = loopback_account(1, false);
	enum e2_status rc;

	free(a->in.host);
	a->in.host = strdup("no-such-host.invalid");
	rc = account_open(a, E2_SIDE_IN, &o, &s, &rep, &err);
	ck_assert_int_eq(rc, E2_ERESOLVE);
	ck_assert_uint_eq(rep.n_attempts, 1);
	ck_assert_ptr_nonnull(strstr(rep.error, "no-such-host.invalid"));
	e2_account_free(&a);
}
END_TEST

START_TEST(test_chain_conntest_missing_host_is_einval)
{
	struct e2_conntest_opts o = {
		.timeout_ms = 500, .test_in = true, .test_out = true};
	struct e2_conntest_report rep;
	struct e2_err err = {0};
	struct e2_account *a = loopback_account(refused_port(), true);

	free(a->in.host);
	a->in.host = NULL;
	ck_assert_int_eq(e2_conntest_run(a, &o, &rep, &err), E2_OK);
	ck_assert(!rep.ok);
	ck_assert(rep.in.tested);
	ck_assert_int_eq(rep.in.status, E2_EINVAL);
	ck_assert(rep.out.tested);
	ck_assert_int_eq(rep.out.status, E2_ECONNECT);
	ck_assert_uint_eq(rep.out.n_attempts, 2);
	e2_account_free(&a);
}
END_TEST

/* ---- a scripted plaintext IMAP server for STARTTLS rules ------------------
 */

struct script {
	int lfd;
	const char *greeting;
	const char *caps;           /* the CAPABILITY list */
	const char *starttls_reply; /* after "<tag> " */
};

/* One connection: greeting, then CAPABILITY and STARTTLS answers. */
static void
script_serve(const struct script *sc, int fd)
{
	char buf[2048], out[512];
	size_t have = 0;

	(void)!write(fd, sc->greeting, strlen(sc->greeting));
	for (;;) {
		char *nl, tag[32];
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		int w;

		if (n <= 0 || have + (size_t)n >= sizeof(buf) - 1)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		nl = strstr(buf, "\r\n");
		if (nl == NULL)
			continue;
		*nl = '\0';
		if (sscanf(buf, "%31s", tag) != 1)
			return;
		if (strstr(buf, "CAPABILITY") != NULL)
			w = snprintf(out, sizeof(out),
				     "* CAPABILITY %s\r\n%s OK done\r\n",
				     sc->caps, tag);
		else if (strstr(buf, "STARTTLS") != NULL)
			w = snprintf(out, sizeof(out), "%s %s", tag,
				     sc->starttls_reply);
		else
			w = snprintf(out, sizeof(out), "%s BAD no\r\n", tag);
		(void)!write(fd, out, (size_t)w);
		have = 0;
	}
}

struct script_conn {
	const struct script *sc;
	int fd;
};

static void *
script_conn_main(void *arg)
{
	struct script_conn *c = arg;

	script_serve(c->sc, c->fd);
	close(c->fd);
	return NULL;
}

/* Serves each connection in its own thread until none arrives for 3 s. */
static void *
script_main(void *arg)
{
	struct script *sc = arg;
	struct script_conn conns[4];
	pthread_t th[4];
	size_t n = 0;

	while (n < 4) {
		struct pollfd pfd = {.fd = sc->lfd, .events = POLLIN};

		if (poll(&pfd, 1, 3000) <= 0)
			break;
		conns[n].sc = sc;
		conns[n].fd = accept(sc->lfd, NULL, NULL);
		if (conns[n].fd < 0)
			break;
		if (pthread_create(&th[n], NULL, script_conn_main, &conns[n]) !=
		    0) {
			close(conns[n].fd);
			break;
		}
		n++;
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return NULL;
}

struct script_row {
	const char *greeting;
	const char *caps;
	const char *starttls_reply;
	bool tls_required;
	enum e2_status want;
	size_t want_attempts;
	const char *want_text;
};

static const struct script_row script_rows[] = {
	{"* OK ready\r\n", "IMAP4rev1 STARTTLS",
	 "OK begin\r\n* OK injected\r\n", true, E2_EPROTO, 2,
	 "response injection"},
	{"* OK ready\r\n", "IMAP4rev1 STARTTLS",
	 "OK begin\r\n* OK injected\r\n", false, E2_EPROTO, 2,
	 "response injection"},
	{"* PREAUTH welcome\r\n", "IMAP4rev1 STARTTLS", "OK begin\r\n", false,
	 E2_EINSECURE, 2, "PREAUTH"},
	{"* OK ready\r\n", "IMAP4rev1 STARTTLS", "NO not now\r\n", true,
	 E2_ENOSTARTTLS, 2, "8128000B"},
	{"* OK ready\r\n", "IMAP4rev1", "OK begin\r\n", true, E2_ENOSTARTTLS, 2,
	 "not offered"},
	/* Not required: plain rung runs, LOGINDISABLED and no AUTH=PLAIN. */
	{"* OK ready\r\n", "IMAP4rev1 LOGINDISABLED", "OK begin\r\n", false,
	 E2_EINSECURE, 3, "LOGIN disabled"},
};

START_TEST(test_chain_starttls_rules)
{
	const struct script_row *row = &script_rows[_i];
	struct chain_opts o = {.timeout_ms = 1500, .login = true};
	struct e2_side_report rep;
	struct chain_session *s = NULL;
	struct e2_err err = {0};
	struct script sc = {.greeting = row->greeting,
			    .caps = row->caps,
			    .starttls_reply = row->starttls_reply};
	struct e2_account *a;
	uint16_t port;
	pthread_t th;
	enum e2_status rc;

	/* The port serves every rung: the TLS rung fails its handshake. */
	sc.lfd = listen_silent(&port);
	a = loopback_account(port, row->tls_required);
	a->authname = strdup("testuser");
	a->authsecret = strdup("testpass");
	ck_assert_int_eq(pthread_create(&th, NULL, script_main, &sc), 0);
	rc = account_open(a, E2_SIDE_IN, &o, &s, &rep, &err);
	shutdown(sc.lfd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(sc.lfd);
	e2_account_free(&a);
	ck_assert_ptr_null(s);
	ck_assert(!rep.ok);
	ck_assert_msg(rc == row->want, "rc %s: %s", e2_status_name(rc),
		      rep.error);
	ck_assert_int_eq(rep.status, row->want);
	ck_assert_uint_eq(rep.n_attempts, row->want_attempts);
	ck_assert_int_eq(rep.attempts[0].result, E2_ETLS);
	ck_assert_msg(strstr(rep.error, row->want_text) != NULL, "%s",
		      rep.error);
	if (row->want_attempts == 3) {
		ck_assert_int_eq(rep.attempts[2].login, E2_LOGIN_FAILED);
		ck_assert_str_eq(rep.attempts[2].capabilities,
				 "IMAP4rev1 LOGINDISABLED");
	}
}
END_TEST

/* ---- certificate pins (issue 9) --------------------------------------------
 */

/* xport_tls_trust(): the decision right after the handshake. */
#define FP_AB16 "ABABABABABABABAB"
#define FP_AB FP_AB16 FP_AB16 FP_AB16 FP_AB16
#define FP_CD16 "CDCDCDCDCDCDCDCD"
#define FP_CD FP_CD16 FP_CD16 FP_CD16 FP_CD16
struct trust_row {
	const char *name;
	bool pinned;
	int pin_byte; /* the pin is 32 bytes of this */
	int fp_byte;  /* the leaf's digest, -1: none presented */
	long verify;  /* OpenSSL's verify result */
	enum e2_status want;
	const char *want_text; /* in the message, NULL: no message */
};

static const struct trust_row trust_rows[] = {
	{"pin matches, chain would fail", true, 0xAB, 0xAB,
	 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, E2_OK, NULL},
	{"pin matches, name would fail", true, 0xAB, 0xAB,
	 X509_V_ERR_HOSTNAME_MISMATCH, E2_OK, NULL},
	{"pin matches, verify ok", true, 0x01, 0x01, X509_V_OK, E2_OK, NULL},
	{"pin differs, verify ok: still refused", true, 0xAB, 0xCD, X509_V_OK,
	 E2_ECERT,
	 "certificate of mail.example.test changed: SHA256:" FP_CD
	 " is not the pinned SHA256:" FP_AB "; re-pin: email2-conntest --pin"},
	{"pin differs, self-signed", true, 0xAB, 0xCD,
	 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, E2_ECERT, "is not the pinned"},
	{"pin, no certificate", true, 0xAB, -1, X509_V_OK, E2_ECERT,
	 "no fingerprint, pinned SHA256:ABAB"},
	{"no pin, verify ok", false, 0, 0x01, X509_V_OK, E2_OK, NULL},
	{"no pin, self-signed", false, 0, 0x01,
	 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, E2_ECERT,
	 "certificate of mail.example.test: self-signed certificate"},
	{"no pin, wrong name", false, 0, 0x01, X509_V_ERR_HOSTNAME_MISMATCH,
	 E2_ECERT, "certificate of mail.example.test: hostname mismatch"},
};

START_TEST(test_chain_pin_trust_table)
{
	const struct trust_row *row = &trust_rows[_i];
	struct xport_tls_opts o = {.host = "mail.example.test",
				   .pinned = row->pinned};
	unsigned char fp[XPORT_SHA256_LEN];
	struct e2_err err = {0};
	enum e2_status rc;

	memset(o.pin, row->pin_byte, sizeof(o.pin));
	memset(fp, row->fp_byte, sizeof(fp));
	rc = xport_tls_trust(&o, row->fp_byte < 0 ? NULL : fp, row->verify,
			     &err);
	ck_assert_msg(rc == row->want, "%s: %s", row->name, e2_status_name(rc));
	if (row->want_text == NULL)
		ck_assert_str_eq(err.msg, "");
	else
		ck_assert_msg(strstr(err.msg, row->want_text) != NULL, "%s: %s",
			      row->name, err.msg);
}
END_TEST

#define FP64 "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define FP64C                                                                  \
	"01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:"   \
	"cd:ef:01:23:45:67:89:ab:cd:ef"

struct pin_parse_row {
	const char *in;
	bool ok;
};

static const struct pin_parse_row pin_parse_rows[] = {
	{"SHA256:" FP64, true},
	{FP64, true},
	{"sha256:" FP64C, true}, /* openssl x509 -fingerprint's digits */
	{FP64C, true},
	{"SHA256:" FP64 "0", false}, /* 65 digits */
	{"SHA256:" FP64 ":", false}, /* trailing colon */
	{FP64 + 1, false},           /* 63 digits */
	{":" FP64, false},           /* leading colon */
	{"01::23", false},           /* empty pair */
	{"SHA1:" FP64, false},       /* another digest */
	{"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEG",
	 false},
	{"", false},
	{NULL, false},
};

START_TEST(test_chain_pin_parse_table)
{
	const struct pin_parse_row *row = &pin_parse_rows[_i];
	struct e2_err err = {0};
	char out[72];
	enum e2_status rc;

	rc = e2_pin_parse(row->in, out, &err);
	ck_assert_msg((rc == E2_OK) == row->ok, "%s: %s",
		      row->in != NULL ? row->in : "(null)", err.msg);
	if (row->ok)
		ck_assert_str_eq(out, "SHA256:" FP64);
}
END_TEST

/*
 * account_chain_request(): the pin of the account for the side's host goes
 * into the request as data, the other host and another account get none,
 * and unpin removes it; a deleted account takes its pins along.
 */
START_TEST(test_chain_request_carries_pin)
{
	static const char doc[] =
		"<wap-provisioningdoc><characteristic type=\"EMAIL2\">"
		"<characteristic "
		"type=\"{A1A1A1A1-0000-4000-8000-000000000001}\">"
		"<parm name=\"ACCOUNTTYPE\" value=\"Email\"/>"
		"<parm name=\"AUTHNAME\" value=\"u\"/>"
		"<parm name=\"INSERVER\" value=\"Mail.Example.test:993\"/>"
		"<parm name=\"OUTSERVER\" value=\"smtp.example.test\"/>"
		"<parm name=\"REPLYADDR\" value=\"u@example.test\"/>"
		"<parm name=\"SERVICENAME\" value=\"t\"/>"
		"<parm name=\"SERVICETYPE\" value=\"IMAP4\"/>"
		"<parm name=\"SYNCINGCONTENTTYPES\" value=\"0x2\"/>"
		"</characteristic></characteristic></wap-provisioningdoc>";
	static const char del[] =
		"<wap-provisioningdoc><characteristic type=\"EMAIL2\">"
		"<nocharacteristic "
		"type=\"{A1A1A1A1-0000-4000-8000-000000000001}\"/>"
		"</characteristic></wap-provisioningdoc>";
	const char *guid = "{A1A1A1A1-0000-4000-8000-000000000001}";
	struct e2_provision_result res = {0};
	struct chain_opts o = {.timeout_ms = 5, .login = true};
	struct chain_request req;
	struct e2_account *a = NULL;
	struct e2_store *st = NULL;
	struct e2_err err = {0};
	bool found = true;
	char dir[256], fp[72];
	size_t n = 0;

	tu_mkdtemp(dir, sizeof(dir), "check_chain_pin");
	ck_assert_int_eq(e2_store_open(dir, &st, &err), E2_OK);
	ck_assert_int_eq(e2_provision(st, doc, sizeof(doc) - 1, &res, &err),
			 E2_OK);
	ck_assert_uint_eq(res.failed, 0);
	e2_provision_result_free(&res);
	ck_assert_int_eq(e2_account_load(st, guid, &a, &err), E2_OK);
	/* no pin yet */
	ck_assert_int_eq(
		account_chain_request(st, a, E2_SIDE_IN, &o, &req, &err),
		E2_OK);
	ck_assert(!req.o.pinned);
	ck_assert_int_eq(req.proto, CHAIN_PROTO_IMAP4);
	ck_assert_uint_eq(req.port, 993);
	/* a pin for the incoming host, host name in another case */
	ck_assert_int_eq(e2_pin_set(st, guid, "mail.example.TEST", FP64C, &err),
			 E2_OK);
	ck_assert_int_eq(
		account_chain_request(st, a, E2_SIDE_IN, &o, &req, &err),
		E2_OK);
	ck_assert(req.o.pinned);
	ck_assert_uint_eq(req.o.pin[0], 0x01);
	ck_assert_uint_eq(req.o.pin[31], 0xEF);
	ck_assert_uint_eq(req.o.timeout_ms, 5);
	/* the outgoing host has none; no store means no pins */
	ck_assert_int_eq(
		account_chain_request(st, a, E2_SIDE_OUT, &o, &req, &err),
		E2_OK);
	ck_assert(!req.o.pinned);
	ck_assert_int_eq(req.proto, CHAIN_PROTO_SMTP);
	ck_assert(!req.auth); /* AUTHREQUIRED absent */
	ck_assert_int_eq(
		account_chain_request(NULL, a, E2_SIDE_IN, &o, &req, &err),
		E2_OK);
	ck_assert(!req.o.pinned);
	/* unpin one host, then the account's delete takes the rest along */
	ck_assert_int_eq(e2_pin_delete(st, guid, "mail.example.test", &n, &err),
			 E2_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e2_pin_set(st, guid, "mail.example.test", FP64, &err),
			 E2_OK);
	ck_assert_int_eq(e2_pin_get(st, guid, "MAIL.example.test", fp, NULL,
				    &found, &err),
			 E2_OK);
	ck_assert(found);
	ck_assert_str_eq(fp, "SHA256:" FP64);
	ck_assert_int_eq(e2_pin_set(st, guid, "h", "SHA256:00", &err),
			 E2_EINVAL);
	e2_err_clear(&err);
	ck_assert_int_eq(e2_pin_set(st,
				    "{A1A1A1A1-0000-4000-8000-0000000000FF}",
				    "h", FP64, &err),
			 E2_EINVAL);
	e2_err_clear(&err);
	ck_assert_int_eq(e2_provision(st, del, sizeof(del) - 1, &res, &err),
			 E2_OK);
	ck_assert_uint_eq(res.failed, 0);
	e2_provision_result_free(&res);
	{
		sqlite3_int64 rows = -1;
		sqlite3 *db = NULL;
		sqlite3_stmt *stmt = NULL;
		char path[300];

		(void)snprintf(path, sizeof(path), "%s/accounts.db", dir);
		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(
			sqlite3_prepare_v2(db, "SELECT count(*) FROM tls_pins",
					   -1, &stmt, NULL),
			SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		rows = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
		sqlite3_close(db);
		ck_assert_int_eq(rows, 0);
	}
	e2_account_free(&a);
	e2_store_close(&st);
	tu_rmtree(dir);
}
END_TEST

static Suite *
chain_suite(void)
{
	Suite *s = suite_create("chain");
	TCase *tc;

	tc = tcase_create("policy");
	tcase_add_loop_test(tc, test_chain_decide_table, 0,
			    (int)E2_ARRAY_LEN(decide_rows));
	tcase_add_test(tc, test_chain_may_fall_back_only_dead_ports);
	tcase_add_loop_test(tc, test_chain_port_table, 0,
			    (int)E2_ARRAY_LEN(port_rows));
	tcase_add_loop_test(tc, test_chain_login_name_table, 0,
			    (int)E2_ARRAY_LEN(login_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("pin");
	tcase_add_loop_test(tc, test_chain_pin_trust_table, 0,
			    (int)E2_ARRAY_LEN(trust_rows));
	tcase_add_loop_test(tc, test_chain_pin_parse_table, 0,
			    (int)E2_ARRAY_LEN(pin_parse_rows));
	tcase_add_test(tc, test_chain_request_carries_pin);
	suite_add_tcase(s, tc);

	tc = tcase_create("loopback");
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_chain_silent_server_times_out, 0, 2);
	tcase_add_loop_test(tc, test_chain_refused_port_is_econnect, 0, 2);
	tcase_add_test(tc, test_chain_unresolvable_host_stops);
	tcase_add_test(tc, test_chain_conntest_missing_host_is_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("starttls");
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_chain_starttls_rules, 0,
			    (int)E2_ARRAY_LEN(script_rows));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(chain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
