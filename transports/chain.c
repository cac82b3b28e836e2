/* SPDX-License-Identifier: MIT */
/* chain.c -- the connection fallback chain: plain requests, no accounts */
#include "config.h"

#include "transports/chain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "transports/proto.h"
#include "transports/xport.h"

/*
 * The rules (DESIGN.md "Connection fallback", spec EMAIL2-CSP TAGPROPS):
 *
 * Ports: IMAP4 993 (TLS) / 143, POP3 995 / 110, SMTP 465 / 587; a port given
 * in the request (INSERVER/OUTSERVER) is used for every rung. The engine
 * builds the request from the account (engine/account_conn.h); this file
 * knows hosts, ports, credentials and a TLS policy, never an account.
 *
 * Rungs, in order of preference: implicit TLS, STARTTLS, plain. PLAIN runs
 * only when both TLS rungs failed with a cause that may fall back (ECONNECT,
 * ETIMEOUT, ETLS, ENOSTARTTLS) and TAGPROPS 8128000B (incoming) or 812C000B
 * (outgoing) is not 1. ECERT, EPROTO (response injection included),
 * EINSECURE, EAUTH and ERESOLVE end the chain: a certificate or protocol
 * failure may be an attacker, and a name that does not resolve fails the
 * same for every rung. A STARTTLS rung whose server does not offer STARTTLS
 * is ENOSTARTTLS: it never logs in, and the chain moves on to the plain rung
 * (a new connection) only when TLS is not required.
 *
 * Concurrency: the TLS rung starts at once, the STARTTLS rung
 * CHAIN_STAGGER_MS (250 ms) later, or at once when TLS fails. The verdict
 * is the first rung in order TLS, STARTTLS, PLAIN that succeeded, except
 * that when the STARTTLS rung is ready (handshake done, certificate
 * verified, capabilities read) and the TLS rung is still waiting, the TLS
 * rung is abandoned CHAIN_GRACE_MS (1 s) later and reported as ETIMEOUT
 * "abandoned: ...". A silent implicit-TLS port so costs about 1.25 s, not
 * the whole timeout. Rungs stop after capabilities; only the chosen one
 * logs in, in the calling thread. A lower rung cancelled because a better
 * one won before it finished is left out of the report.
 *
 * Server bytes: every rung's libetpan stream is made with the protocol's
 * server-byte guard (guard.h, in xport_etpan.c) before the greeting is
 * read, so the greeting, the plaintext CAPABILITY and STARTTLS replies of
 * the STARTTLS rung and everything after TLS pass it before libetpan sees
 * them; a refusal is E2_EPROTO in the rung's error (never a reason to fall
 * back).
 *
 * IMAP PREAUTH: fine over implicit TLS (no login needed); on a plain link
 * it is E2_EINSECURE on the STARTTLS rung (we cannot STARTTLS in
 * authenticated state, and an attacker can inject it to skip TLS), and an
 * unauthenticated plaintext session on the plain rung (which only runs when
 * TLS is not required).
 *
 * Login name: if DOMAIN is set and AUTHNAME contains neither '@' nor '\',
 * the login name is DOMAIN\AUTHNAME; otherwise AUTHNAME as given. IMAP uses
 * LOGIN, or AUTHENTICATE PLAIN when LOGINDISABLED (else EINSECURE); POP3
 * USER/PASS (APOP on a plain link when the greeting has a timestamp); SMTP
 * AUTH PLAIN or LOGIN, only when AUTHREQUIRED. A rejected login is EAUTH
 * and never falls back. Credentials sit in heap buffers wiped with
 * OPENSSL_cleanse(); no credential is sent on a plain link when TLS is
 * required (EINSECURE), and a plain-rung login is reported as cleartext.
 */

struct chain_rung {
	enum e2_mode mode;
	uint16_t port;
	enum chain_rung_state state; /* guarded by chain_run.mu */
	enum e2_status rc;           /* guarded by chain_run.mu */
	int64_t started_ms;
	int64_t ready_ms;
	bool joinable;
	bool reported;
	pthread_t thread;
	struct chain_run *run;
	struct xport_ctl ctl;
	struct e2_err err;
	struct e2_attempt at;
	struct proto_conn conn;
};

struct chain_run {
	const struct proto_ops *proto;
	const char *host;
	const struct chain_request *req;
	bool tls_required;
	unsigned timeout_ms;
	bool probe;  /* chain_opts.probe */
	FILE *trace; /* chain_opts.trace */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chain_rung *rungs[E2_MODE_COUNT];
};

struct chain_session {
	const struct proto_ops *proto;
	struct chain_rung *rung;
	unsigned timeout_ms;
};

/* ---- pure decision logic ----------------------------------------------- */

static const struct proto_ops *
chain_proto_ops(enum chain_proto proto)
{
	switch (proto) {
	case CHAIN_PROTO_SMTP:
		return &proto_smtp;
	case CHAIN_PROTO_POP3:
		return &proto_pop3;
	default:
		return &proto_imap;
	}
}

uint16_t
chain_port(enum chain_proto proto, enum e2_mode mode, uint16_t explicit_port)
{
	const struct proto_ops *p = chain_proto_ops(proto);

	if (explicit_port != 0)
		return explicit_port;
	return mode == E2_MODE_TLS ? p->port_tls : p->port_plain;
}

bool
chain_may_fall_back(enum e2_status rc)
{
	switch (rc) {
	case E2_ECONNECT:
	case E2_ETIMEOUT:
	case E2_ETLS:
	case E2_ENOSTARTTLS:
		return true;
	default:
		return false;
	}
}

enum e2_status
chain_login_name(const char *user, const char *domain, char **out,
		 struct e2_err *err)
{
	size_t ul, dl;
	char *s;

	if (user == NULL || user[0] == '\0')
		return e2_fail(err, E2_EINVAL, "no AUTHNAME to log in with");
	ul = strlen(user);
	dl = domain != NULL ? strlen(domain) : 0;
	if (dl == 0 || strchr(user, '@') != NULL || strchr(user, '\\') != NULL)
		dl = 0;
	s = malloc(dl + 1 + ul + 1);
	if (s == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	if (dl != 0) {
		memcpy(s, domain, dl);
		s[dl] = '\\';
		memcpy(s + dl + 1, user, ul + 1);
	} else {
		memcpy(s, user, ul + 1);
	}
	*out = s;
	return E2_OK;
}

static bool
chain_rung_gone(const struct chain_rung_view *v)
{
	return v->state == CHAIN_RUNG_SKIPPED ||
	       (v->state == CHAIN_RUNG_FAILED && chain_may_fall_back(v->rc));
}

struct chain_decision
chain_decide(const struct chain_rung_view v[E2_MODE_COUNT], bool tls_required,
	     int64_t now_ms, unsigned stagger_ms, unsigned grace_ms)
{
	const struct chain_rung_view *t = &v[E2_MODE_TLS];
	const struct chain_rung_view *s = &v[E2_MODE_STARTTLS];
	const struct chain_rung_view *p = &v[E2_MODE_PLAIN];
	struct chain_decision d = {.action = CHAIN_WAIT, .mode = E2_MODE_TLS};

	if (t->state == CHAIN_RUNG_IDLE) {
		d.action = CHAIN_START;
		return d;
	}
	if (t->state == CHAIN_RUNG_READY) {
		d.action = CHAIN_CHOOSE;
		return d;
	}
	if (t->state == CHAIN_RUNG_FAILED && !chain_may_fall_back(t->rc)) {
		d.action = CHAIN_FAIL;
		return d;
	}
	d.mode = E2_MODE_STARTTLS;
	if (t->state == CHAIN_RUNG_RUNNING) {
		if (s->state == CHAIN_RUNG_IDLE &&
		    now_ms - t->started_ms >= (int64_t)stagger_ms)
			d.action = CHAIN_START;
		else if (s->state == CHAIN_RUNG_READY &&
			 now_ms - s->ready_ms >= (int64_t)grace_ms) {
			d.action = CHAIN_CHOOSE;
			d.abandon_tls = true;
		}
		return d; /* else wait: TLS is preferred while it may come */
	}
	/* TLS is gone (failed with a cause that may fall back, or skipped) */
	switch (s->state) {
	case CHAIN_RUNG_IDLE:
		d.action = CHAIN_START;
		return d;
	case CHAIN_RUNG_RUNNING:
		return d;
	case CHAIN_RUNG_READY:
		d.action = CHAIN_CHOOSE;
		return d;
	default:
		break;
	}
	if (!chain_rung_gone(s) || tls_required) {
		d.action = CHAIN_FAIL;
		return d;
	}
	d.mode = E2_MODE_PLAIN;
	switch (p->state) {
	case CHAIN_RUNG_IDLE:
		d.action = CHAIN_START;
		break;
	case CHAIN_RUNG_RUNNING:
		d.action = CHAIN_WAIT;
		break;
	case CHAIN_RUNG_READY:
		d.action = CHAIN_CHOOSE;
		break;
	case CHAIN_RUNG_FAILED:
		d.action = CHAIN_FAIL;
		break;
	case CHAIN_RUNG_SKIPPED:
		d.action = CHAIN_FAIL;
		d.mode = E2_MODE_STARTTLS;
		break;
	}
	return d;
}

/* ---- one rung ------------------------------------------------------------ */

static enum e2_status
chain_rung_handshake(struct chain_rung *r)
{
	struct chain_run *run = r->run;
	struct xport_tls_opts to = {.host = run->host,
				    .cafile = run->req->o.cafile,
				    .pinned = run->req->o.pinned};
	struct proto_conn *c = &r->conn;
	const struct proto_ops *p = run->proto;
	mailstream *stream = NULL;
	enum e2_status rc;
	size_t stale;

	memcpy(to.pin, run->req->o.pin, sizeof(to.pin));
	rc = xport_tcp_open(run->host, r->port, &r->ctl, &c->xp, &r->err);
	if (rc != E2_OK)
		return rc;
	if (r->mode == E2_MODE_TLS) {
		rc = xport_push_tls(&c->xp, &to, &r->err);
		if (rc != E2_OK)
			return rc;
		c->tls = true;
	}
	rc = xport_etpan_stream_new(&c->xp, p->guard, &stream, &r->err);
	if (rc != E2_OK)
		return rc;
	rc = p->greet(c, stream, &r->err); /* takes the stream */
	if (rc != E2_OK)
		return rc;
	if (c->preauth && r->mode == E2_MODE_STARTTLS)
		return e2_fail(&r->err, E2_EINSECURE,
			       "%s %s:%u: plaintext PREAUTH greeting, cannot "
			       "start TLS",
			       p->name, run->host, (unsigned)r->port);
	rc = p->capabilities(c, &r->err);
	if (rc != E2_OK || r->mode != E2_MODE_STARTTLS)
		return rc;
	if (!c->starttls)
		return e2_fail(&r->err, E2_ENOSTARTTLS,
			       "%s %s:%u: STARTTLS not offered", p->name,
			       run->host, (unsigned)r->port);
	rc = p->starttls(c, &r->err);
	/*
	 * curl test980, CVE-2020-15953: nothing may follow the reply. libetpan
	 * 1.9.4 itself refuses STARTTLS when bytes follow, which must not read
	 * as "refused" (a reason to fall back): the cause is injection.
	 */
	stale = proto_stream(c) != NULL ? proto_stream(c)->read_buffer_len +
						  xport_pending(c->xp)
					: 0;
	if (stale != 0 && (rc == E2_OK || rc == E2_ENOSTARTTLS)) {
		e2_err_clear(&r->err);
		return e2_fail(&r->err, E2_EPROTO,
			       "response injection: %zu bytes after STARTTLS "
			       "reply from %s",
			       stale, run->host);
	}
	if (rc != E2_OK)
		return rc;
	rc = xport_push_tls(&c->xp, &to, &r->err);
	if (rc != E2_OK)
		return rc;
	c->tls = true;
	return p->capabilities(c, &r->err);
}

static void
chain_rung_record(struct chain_rung *r, enum e2_status rc)
{
	struct e2_attempt *at = &r->at;
	struct xport_info info;

	at->result = rc;
	(void)snprintf(at->error, sizeof(at->error), "%s",
		       rc != E2_OK ? r->err.msg : "");
	if (rc != E2_OK && at->error[0] == '\0')
		(void)snprintf(at->error, sizeof(at->error), "%s",
			       e2_status_name(rc));
	if (r->conn.xp != NULL) {
		xport_describe(r->conn.xp, &info);
		(void)snprintf(at->address, sizeof(at->address), "%s",
			       info.address);
		at->tls = info.tls;
		(void)snprintf(at->tls_version, sizeof(at->tls_version), "%s",
			       info.tls_version);
		(void)snprintf(at->cipher, sizeof(at->cipher), "%s",
			       info.cipher);
		(void)snprintf(at->cert_subject, sizeof(at->cert_subject), "%s",
			       info.cert_subject);
		(void)snprintf(at->cert_issuer, sizeof(at->cert_issuer), "%s",
			       info.cert_issuer);
		at->cert_verified = info.cert_verified;
		(void)snprintf(at->verify_result, sizeof(at->verify_result),
			       "%s", info.verify_result);
		(void)snprintf(at->cert_sha256, sizeof(at->cert_sha256), "%s",
			       info.cert_sha256);
		(void)snprintf(at->cert_not_before, sizeof(at->cert_not_before),
			       "%s", info.cert_not_before);
		(void)snprintf(at->cert_not_after, sizeof(at->cert_not_after),
			       "%s", info.cert_not_after);
		at->cert_pinned = info.cert_pinned;
	}
	(void)snprintf(at->capabilities, sizeof(at->capabilities), "%s",
		       r->conn.caps);
	(void)snprintf(at->auth_mechs, sizeof(at->auth_mechs), "%s",
		       r->conn.mechs);
	at->elapsed_ms = (double)(xport_now_ms() - r->started_ms);
}

static void *
chain_rung_main(void *arg)
{
	struct chain_rung *r = arg;
	struct chain_run *run = r->run;
	enum e2_status rc;

	rc = chain_rung_handshake(r);
	chain_rung_record(r, rc);
	if (rc != E2_OK) {
		/* A failed rung lets go of its socket now, not at the end. */
		atomic_store(&r->ctl.cancel, true);
		r->conn.ops->close(&r->conn, false);
		xport_free(&r->conn.xp);
	}
	(void)pthread_mutex_lock(&run->mu);
	r->state = rc == E2_OK ? CHAIN_RUNG_READY : CHAIN_RUNG_FAILED;
	r->rc = rc;
	r->ready_ms = xport_now_ms();
	(void)pthread_cond_broadcast(&run->cv);
	(void)pthread_mutex_unlock(&run->mu);
	return NULL;
}

static void
chain_rung_free(struct chain_rung **rp, bool polite)
{
	struct chain_rung *r = *rp;

	if (r == NULL)
		return;
	if (!polite)
		atomic_store(&r->ctl.cancel, true);
	else
		r->ctl.deadline_ms = xport_now_ms() + 2000;
	r->conn.ops->close(&r->conn, polite);
	xport_free(&r->conn.xp);
	free(r);
	*rp = NULL;
}

static enum e2_status
chain_rung_start(struct chain_run *run, enum e2_mode mode, struct e2_err *err)
{
	struct chain_rung *r = run->rungs[mode];

	r->started_ms = xport_now_ms();
	r->ctl.deadline_ms = r->started_ms + run->timeout_ms;
	r->state = CHAIN_RUNG_RUNNING;
	if (pthread_create(&r->thread, NULL, chain_rung_main, r) != 0) {
		r->state = CHAIN_RUNG_FAILED;
		r->rc = E2_ENOMEM;
		return e2_fail(err, E2_ENOMEM, "cannot start a thread");
	}
	r->joinable = true;
	return E2_OK;
}

/* Runs chain_decide() until it chooses or fails; rungs stay joinable. */
static enum e2_status
chain_run_loop(struct chain_run *run, unsigned stagger_ms, unsigned grace_ms,
	       struct chain_decision *d_out, struct e2_err *err)
{
	struct chain_rung_view v[E2_MODE_COUNT];
	struct chain_decision d;
	enum e2_status rc = E2_OK;

	(void)pthread_mutex_lock(&run->mu);
	for (;;) {
		struct timespec ts;
		int64_t now = xport_now_ms();

		for (size_t i = 0; i < E2_MODE_COUNT; i++) {
			v[i].state = run->rungs[i]->state;
			v[i].rc = run->rungs[i]->rc;
			v[i].started_ms = run->rungs[i]->started_ms;
			v[i].ready_ms = run->rungs[i]->ready_ms;
		}
		d = chain_decide(v, run->tls_required, now, stagger_ms,
				 grace_ms);
		if (d.action == CHAIN_CHOOSE || d.action == CHAIN_FAIL)
			break;
		if (d.action == CHAIN_START) {
			rc = chain_rung_start(run, d.mode, err);
			if (rc != E2_OK)
				break;
			continue;
		}
		/* Wake on a rung's change, or for the stagger and grace. */
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 25 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&run->cv, &run->mu, &ts);
	}
	(void)pthread_mutex_unlock(&run->mu);
	*d_out = d;
	return rc;
}

/* Stops every rung but keep, joins them all, and marks which to report. */
static void
chain_run_settle(struct chain_run *run, const struct chain_decision *d,
		 enum e2_mode keep)
{
	int64_t now = xport_now_ms();

	for (size_t i = 0; i < E2_MODE_COUNT; i++) {
		struct chain_rung *r = run->rungs[i];
		enum chain_rung_state st;

		if (!r->joinable)
			continue;
		(void)pthread_mutex_lock(&run->mu);
		st = r->state;
		(void)pthread_mutex_unlock(&run->mu);
		if (i != (size_t)keep)
			atomic_store(&r->ctl.cancel, true);
		(void)pthread_join(r->thread, NULL);
		r->joinable = false;
		r->reported = st != CHAIN_RUNG_RUNNING;
		if (i == E2_MODE_TLS && d->abandon_tls &&
		    st == CHAIN_RUNG_RUNNING) {
			r->reported = true;
			r->at.result = E2_ETIMEOUT;
			(void)snprintf(r->at.error, sizeof(r->at.error),
				       "abandoned: %s:%u gave no answer in "
				       "%lld ms while STARTTLS was ready",
				       run->host, (unsigned)r->port,
				       (long long)(now - r->started_ms));
			r->at.elapsed_ms = (double)(now - r->started_ms);
		}
	}
}

/* ---- login ------------------------------------------------------------- */

static void
chain_secret_free(char **p)
{
	if (*p == NULL)
		return;
	OPENSSL_cleanse(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

static enum e2_status
chain_login(struct chain_run *run, struct chain_rung *r)
{
	const struct chain_request *cr = run->req;
	struct e2_attempt *at = &r->at;
	struct proto_login l = {.cleartext_ok = !run->tls_required};
	char *user = NULL, *secret = NULL;
	enum e2_status rc = E2_OK;

	r->ctl.deadline_ms = xport_now_ms() + run->timeout_ms;
	if (!cr->auth) {
		at->login = E2_LOGIN_SKIPPED; /* spec: AUTHREQUIRED absent/0 */
		if (run->probe) /* would the server take mail so? */
			rc = proto_smtp_probe(&r->conn, cr->probe_from, false,
					      &r->err);
		goto out;
	}
	if (r->conn.preauth) {
		at->login = E2_LOGIN_SKIPPED;
		(void)snprintf(at->login_mech, sizeof(at->login_mech),
			       "PREAUTH");
		goto out;
	}
	if (cr->user == NULL || cr->user[0] == '\0' || cr->secret == NULL) {
		at->login = E2_LOGIN_SKIPPED;
		if (run->probe && cr->proto == CHAIN_PROTO_SMTP)
			rc = proto_smtp_probe(&r->conn, cr->probe_from, true,
					      &r->err);
		goto out;
	}
	if (!r->conn.tls && run->tls_required) {
		rc = e2_fail(&r->err, E2_EINSECURE,
			     "%s %s: refusing to send credentials without TLS",
			     run->proto->name, run->host);
		at->login = E2_LOGIN_FAILED;
		goto out;
	}
	rc = chain_login_name(cr->user, cr->domain, &user, &r->err);
	if (rc != E2_OK)
		goto out;
	secret = strdup(cr->secret);
	if (secret == NULL) {
		rc = e2_fail(&r->err, E2_ENOMEM, "out of memory");
		goto out;
	}
	l.user = user;
	l.secret = secret;
	at->cleartext_login = !r->conn.tls;
	rc = run->proto->login(&r->conn, &l, at->login_mech,
			       sizeof(at->login_mech), &r->err);
	at->login = rc == E2_OK ? E2_LOGIN_OK : E2_LOGIN_FAILED;
out:
	chain_secret_free(&secret);
	chain_secret_free(&user);
	if (rc != E2_OK) {
		at->result = rc;
		(void)snprintf(at->error, sizeof(at->error), "%s", r->err.msg);
	}
	at->elapsed_ms = (double)(xport_now_ms() - r->started_ms);
	return rc;
}

/* ---- the chain ----------------------------------------------------------- */

static void
chain_run_free(struct chain_run *run)
{
	for (size_t i = 0; i < E2_MODE_COUNT; i++)
		chain_rung_free(&run->rungs[i], false);
	(void)pthread_cond_destroy(&run->cv);
	(void)pthread_mutex_destroy(&run->mu);
}

static enum e2_status
chain_run_init(struct chain_run *run, struct e2_err *err)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return e2_fail(err, E2_ENOMEM, "cannot create a condition");
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&run->cv, &ca);
	(void)pthread_condattr_destroy(&ca);
	(void)pthread_mutex_init(&run->mu, NULL);
	for (size_t i = 0; i < E2_MODE_COUNT; i++) {
		struct chain_rung *r = calloc(1, sizeof(*r));

		if (r == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		run->rungs[i] = r;
		r->mode = (enum e2_mode)i;
		r->port = chain_port(run->req->proto, r->mode, run->req->port);
		r->run = run;
		r->ctl.idle_ms = run->timeout_ms;
		r->ctl.trace = run->trace;
		atomic_init(&r->ctl.cancel, false);
		r->conn.ops = run->proto;
		r->conn.host = run->host;
		r->conn.err = &r->err;
		r->at.mode = r->mode;
		r->at.port = r->port;
		(void)snprintf(r->at.host, sizeof(r->at.host), "%s", run->host);
		if (r->mode == E2_MODE_PLAIN && run->tls_required)
			r->state = CHAIN_RUNG_SKIPPED;
	}
	return E2_OK;
}

static void
chain_report_side(struct chain_run *run, struct e2_side_report *rep)
{
	rep->n_attempts = 0;
	for (size_t i = 0; i < E2_MODE_COUNT; i++)
		if (run->rungs[i] != NULL && run->rungs[i]->reported)
			rep->attempts[rep->n_attempts++] = run->rungs[i]->at;
}

enum e2_status
chain_open(const struct chain_request *req, struct chain_session **sess_out,
	   struct e2_side_report *rep, struct e2_err *err)
{
	const struct chain_opts *o = &req->o;
	struct chain_run run = {0};
	struct chain_decision d = {0};
	struct chain_session *sess = NULL;
	const char *tls_node = req->tls_node != NULL ? req->tls_node : "";
	int64_t t0 = xport_now_ms();
	enum e2_status rc;
	bool inited = false;

	memset(rep, 0, sizeof(*rep));
	rep->tested = true;
	run.proto = chain_proto_ops(req->proto);
	run.host = req->host;
	run.req = req;
	run.tls_required = req->tls_required;
	run.timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 10000;
	run.probe = o->probe;
	run.trace = o->trace;
	rep->protocol = run.proto->name;
	rep->port = req->port;
	rep->tls_required = run.tls_required;
	if (req->host == NULL || req->host[0] == '\0') {
		rc = e2_fail(err, E2_EINVAL, "no %s host to connect to",
			     req->host_node != NULL ? req->host_node
						    : "server");
		(void)snprintf(rep->error, sizeof(rep->error), "%s",
			       err != NULL ? err->msg : "no host");
		rep->status = rc;
		return rc;
	}
	(void)snprintf(rep->host, sizeof(rep->host), "%s", req->host);
	rc = chain_run_init(&run, err);
	inited = true;
	if (rc != E2_OK)
		goto out;
	rc = chain_run_loop(
		&run, o->stagger_ms != 0 ? o->stagger_ms : CHAIN_STAGGER_MS,
		o->grace_ms != 0 ? o->grace_ms : CHAIN_GRACE_MS, &d, err);
	chain_run_settle(&run, &d,
			 d.action == CHAIN_CHOOSE ? d.mode : E2_MODE_COUNT);
	if (rc != E2_OK)
		goto out;
	if (d.action == CHAIN_FAIL) {
		struct chain_rung *r = run.rungs[d.mode];

		rc = r->rc != E2_OK ? r->rc : E2_ECONNECT;
		if (run.tls_required && chain_may_fall_back(rc))
			(void)e2_fail(err, rc,
				      "no TLS connection and plaintext not "
				      "allowed (%s): %s",
				      tls_node, r->err.msg);
		else
			(void)e2_fail(err, rc, "%s", r->err.msg);
		goto out;
	}
	if (o->login) {
		rc = chain_login(&run, run.rungs[d.mode]);
		if (rc != E2_OK) {
			(void)e2_fail(err, rc, "%s",
				      run.rungs[d.mode]->err.msg);
			goto out;
		}
	}
	sess = calloc(1, sizeof(*sess));
	if (sess == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	sess->proto = run.proto;
	sess->timeout_ms = run.timeout_ms;
	chain_report_side(&run, rep);
	sess->rung = run.rungs[d.mode];
	run.rungs[d.mode] = NULL;
	/* From now on each I/O step waits at most timeout_ms. */
	sess->rung->ctl.deadline_ms = 0;
	*sess_out = sess;
	rc = E2_OK;
out:
	if (inited) {
		if (sess == NULL)
			chain_report_side(&run, rep);
		chain_run_free(&run);
	}
	rep->ok = rc == E2_OK;
	rep->status = rc;
	if (rc != E2_OK)
		(void)snprintf(rep->error, sizeof(rep->error), "%s",
			       err != NULL && err->msg[0] != '\0'
				       ? err->msg
				       : e2_status_name(rc));
	rep->elapsed_ms = (double)(xport_now_ms() - t0);
	return rc;
}

void
chain_session_free(struct chain_session **sp)
{
	struct chain_session *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	chain_rung_free(&s->rung,
			s->rung != NULL && s->rung->err.code == E2_OK);
	free(s);
	*sp = NULL;
}

mailimap *
chain_session_imap(struct chain_session *s)
{
	return s->rung->conn.imap;
}

mailpop3 *
chain_session_pop3(struct chain_session *s)
{
	return s->rung->conn.pop3;
}

mailsmtp *
chain_session_smtp(struct chain_session *s)
{
	return s->rung->conn.smtp;
}

enum e2_mode
chain_session_mode(const struct chain_session *s)
{
	return s->rung->mode;
}

bool
chain_session_tls(const struct chain_session *s)
{
	return s->rung->conn.tls;
}

bool
chain_session_cleartext_login(const struct chain_session *s)
{
	return s->rung->at.cleartext_login;
}

struct e2_err *
chain_session_err(struct chain_session *s)
{
	return &s->rung->err;
}
