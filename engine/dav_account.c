/* SPDX-License-Identifier: MIT */
/*
 * dav_account.c -- where an account's contacts or calendars live, and the
 * session that reaches them
 *
 * The endpoint plan (dav_plan_build(), pure) and the I/O that carries it
 * out (dav_account_open()). Rules, as in email2-syncd(1) "CONTACTS AND
 * CALENDARS" (issue 10, "Decisions"):
 *
 * P1 CONTACTSSERVER / CALENDARSERVER is "host", "host:port", "[v6]:port",
 *    or an https:// or http:// URL whose path is the context path. Anything
 *    else is refused naming the node: userinfo (credentials come from
 *    AUTHNAME/AUTHSECRET only), another scheme, a query or fragment,
 *    controls or spaces, more than 2 KiB, a path without a scheme.
 * P2 *REQUIRESSL 1: https only. An http:// URL with *REQUIRESSL 1 is
 *    refused before any connection, naming both nodes: never silently
 *    changed to https.
 * P3 Otherwise https first, then http on the same host, port and path
 *    (no port given: 443, then 80), only after a failure
 *    chain_may_fall_back() accepts (connect, timeout, TLS handshake):
 *    never after a certificate failure (E2_ECERT) nor an auth failure.
 *    An http:// URL with *REQUIRESSL 0 is tried as https first too (the
 *    issue: HTTPS first).
 * P4 Credentials are the incoming ones (AUTHNAME with DOMAIN as for mail,
 *    chain_login_name(); AUTHSECRET). Over https Digest or Basic; over
 *    plain http Digest or Basic too (*REQUIRESSL 0 allowed it), and the
 *    login is reported as cleartext either way.
 * P5 TAGPROPS/8128000B 1 (the mail side requires TLS for these very
 *    credentials): no http rung at all, not even Digest; the report's
 *    note says which URL was left out and why.
 * P6 No server node: RFC 6764 discovery for the domain of REPLYADDR: SRV
 *    _carddavs._tcp / _caldavs._tcp (RFC 2782 order, deterministic, see
 *    dns_srv.h) with its TXT path= (else the well-known path on the
 *    target), then (*REQUIRESSL not 1) _carddav._tcp / _caldav._tcp, each
 *    as https first then http (P3), then https://DOMAIN/.well-known/...,
 *    then the same on INSERVER's host (when it is another host). A sole
 *    SRV target "." says the domain has no such service over TLS: its
 *    well-known URL is not tried either; INSERVER's host still is.
 * P7 Between discovery candidates (different hosts or ports) the next is
 *    tried after any failure but a rejected login (the same credentials
 *    would be tried again elsewhere) or no memory.
 * P8 Nothing found (no candidate, or every candidate failed as a host
 *    without the service does: name, connect, timeout, TLS handshake, an
 *    answer that is not DAV) is the state "not-found", reported for that
 *    content type, never a failure of the account's mail.
 * P9 The account's pin for each endpoint's host (e2_pin_get()) goes into
 *    http_policy.pinned/pin, as for mail (account_conn.c).
 */
#include "config.h"

#include "engine/dav_account.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "engine/dav_state.h"
#include "transports/chain.h"

/* ---- the plan (pure) ---------------------------------------------------- */

static const char *
dav_plan_node(enum dav_kind kind)
{
	return kind == DAV_KIND_CARD ? "CONTACTSSERVER" : "CALENDARSERVER";
}

const char *
dav_plan_srv_prefix(enum dav_kind kind, bool tls)
{
	if (kind == DAV_KIND_CARD)
		return tls ? "_carddavs._tcp." : "_carddav._tcp.";
	return tls ? "_caldavs._tcp." : "_caldav._tcp.";
}

const char *
dav_plan_domain(const char *replyaddr)
{
	const char *at;

	if (replyaddr == NULL)
		return NULL;
	at = strrchr(replyaddr, '@');
	if (at == NULL || at[1] == '\0' || !dns_host_ok(at + 1, strlen(at + 1)))
		return NULL;
	return at + 1;
}

/* A host of a server node: a host name or an IPv4 literal. */
static bool
dav_plan_host_ok(const char *h)
{
	unsigned char a[16];

	return dns_host_ok(h, strlen(h)) || inet_pton(AF_INET, h, a) == 1;
}

static enum e2_status
dav_plan_refuse(struct e2_err *err, const char *node, const char *value,
		const char *why)
{
	char q[160];

	return e2_fail(err, E2_EINVAL, "%s \"%s\": %s", node,
		       e2_quote(q, sizeof(q), value, strlen(value)), why);
}

/* "host[:port]" or "[v6][:port]" of n bytes at s into out. */
static bool
dav_plan_authority(const char *s, size_t n, struct dav_server *out,
		   const char **why)
{
	const char *colon = NULL;
	size_t hl;

	*why = "not a host, host:port or [IPv6]:port";
	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		unsigned char a[16];

		if (rb == NULL || (size_t)(rb - s) - 1 >= sizeof(out->host))
			return false;
		hl = (size_t)(rb - s) - 1;
		memcpy(out->host, s + 1, hl);
		out->host[hl] = '\0';
		if (inet_pton(AF_INET6, out->host, a) != 1)
			return false;
		if (rb + 1 < s + n) {
			if (rb[1] != ':')
				return false;
			colon = rb + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		hl = colon != NULL ? (size_t)(colon - s) : n;
		if (hl == 0 || hl >= sizeof(out->host))
			return false;
		memcpy(out->host, s, hl);
		out->host[hl] = '\0';
		if (!dav_plan_host_ok(out->host))
			return false;
	}
	if (colon != NULL) {
		unsigned long p = 0;
		const char *d = colon + 1, *end = s + n;

		*why = "port out of range";
		if (d == end || end - d > 5)
			return false;
		for (; d < end; d++) {
			if (*d < '0' || *d > '9')
				return false;
			p = p * 10 + (unsigned long)(*d - '0');
		}
		if (p == 0 || p > 65535)
			return false;
		out->port = (uint16_t)p;
	}
	return true;
}

enum e2_status
dav_plan_server_parse(const char *value, const char *node,
		      struct dav_server *out, struct e2_err *err)
{
	const char *rest, *slash, *why;
	size_t len, alen;

	memset(out, 0, sizeof(*out));
	if (value == NULL || value[0] == '\0')
		return e2_fail(err, E2_EINVAL, "%s \"\": empty value", node);
	len = strlen(value);
	if (len > DAV_SERVER_MAX)
		return e2_fail(err, E2_EINVAL, "%s: longer than %u bytes (%zu)",
			       node, DAV_SERVER_MAX, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] == 0x7f)
			return dav_plan_refuse(err, node, value,
					       "control character or space");
	rest = strstr(value, "://");
	if (rest != NULL) {
		if ((size_t)(rest - value) == 5 &&
		    strncasecmp(value, "https", 5) == 0)
			out->scheme = 1;
		else if ((size_t)(rest - value) == 4 &&
			 strncasecmp(value, "http", 4) == 0)
			out->scheme = 2;
		else
			return dav_plan_refuse(err, node, value,
					       "scheme is not https or http");
		rest += 3;
	} else {
		rest = value;
	}
	if (strpbrk(rest, "?#") != NULL)
		return dav_plan_refuse(err, node, value,
				       "a query or fragment is not a server");
	if (strchr(rest, '\\') != NULL)
		return dav_plan_refuse(err, node, value, "backslash");
	slash = strchr(rest, '/');
	alen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (memchr(rest, '@', alen) != NULL)
		return dav_plan_refuse(err, node, value,
				       "userinfo is not allowed (credentials "
				       "come from AUTHNAME and AUTHSECRET)");
	if (slash != NULL && out->scheme == 0)
		return dav_plan_refuse(err, node, value,
				       "a path needs an https:// or http:// "
				       "URL");
	if (!dav_plan_authority(rest, alen, out, &why))
		return dav_plan_refuse(err, node, value, why);
	if (slash == NULL || slash[1] == '\0') {
		(void)snprintf(out->path, sizeof(out->path), "/");
	} else {
		if (strlen(slash) >= sizeof(out->path))
			return dav_plan_refuse(err, node, value,
					       "path too long");
		(void)snprintf(out->path, sizeof(out->path), "%s", slash);
	}
	return E2_OK;
}

/* scheme://host[:port]path into ep->url; false when it does not fit. */
static bool
dav_plan_url(struct dav_endpoint *ep, bool https, const char *host,
	     uint16_t port, const char *path)
{
	bool v6 = strchr(host, ':') != NULL;
	char portbuf[8] = "";
	int n;

	if (port != 0)
		(void)snprintf(portbuf, sizeof(portbuf), ":%u", (unsigned)port);
	n = snprintf(ep->url, sizeof(ep->url), "%s://%s%s%s%s%s",
		     https ? "https" : "http", v6 ? "[" : "", host,
		     v6 ? "]" : "", portbuf, path);
	(void)snprintf(ep->host, sizeof(ep->host), "%s", host);
	ep->https = https;
	return n > 0 && (size_t)n < sizeof(ep->url);
}

/* One candidate: https, then (P3, P5) its http twin. */
static void
dav_plan_add(struct dav_plan *p, const struct dav_plan_input *in,
	     const char *host, uint16_t port, const char *path,
	     const char *found_by)
{
	struct dav_endpoint *ep;

	if (p->n + 2 > DAV_PLAN_MAX)
		return;
	ep = &p->ep[p->n];
	memset(ep, 0, sizeof(*ep));
	if (!dav_plan_url(ep, true, host, port, path))
		return;
	(void)snprintf(ep->found_by, sizeof(ep->found_by), "%s", found_by);
	p->n++;
	if (in->requiressl)
		return;
	ep = &p->ep[p->n];
	memset(ep, 0, sizeof(*ep));
	if (!dav_plan_url(ep, false, host, port, path))
		return;
	if (in->in_ssl_required) {
		if (p->note[0] == '\0')
			(void)snprintf(p->note, sizeof(p->note),
				       "%s not tried: TAGPROPS/8128000B "
				       "requires TLS for the same credentials",
				       ep->url);
		return;
	}
	(void)snprintf(ep->found_by, sizeof(ep->found_by), "%s", found_by);
	ep->twin = true;
	ep->cleartext_ok = true;
	p->n++;
}

/* An https-only candidate (SRV _carddavs, well-known). */
static void
dav_plan_add_tls(struct dav_plan *p, const char *host, uint16_t port,
		 const char *path, const char *found_by)
{
	struct dav_endpoint *ep;

	if (p->n >= DAV_PLAN_MAX)
		return;
	ep = &p->ep[p->n];
	memset(ep, 0, sizeof(*ep));
	if (!dav_plan_url(ep, true, host, port, path))
		return;
	(void)snprintf(ep->found_by, sizeof(ep->found_by), "%s", found_by);
	p->n++;
}

/* P6: the RFC 6764 candidates. */
static void
dav_plan_discover(const struct dav_plan_input *in, struct dav_plan *p)
{
	const char *domain = dav_plan_domain(in->replyaddr);
	const struct dns_srv_set *st = in->srv_tls, *sp = in->srv_plain;
	char by[320];
	bool no_tls = false;

	p->discovered = true;
	if (domain != NULL && st != NULL) {
		(void)snprintf(by, sizeof(by), "SRV %s%s",
			       dav_plan_srv_prefix(in->kind, true), domain);
		for (size_t i = 0; i < st->n && i < DNS_SRV_MAX; i++)
			dav_plan_add_tls(p, st->srv[i].target, st->srv[i].port,
					 in->srv_tls_path != NULL
						 ? in->srv_tls_path
						 : "/",
					 by);
		no_tls = st->none;
	}
	if (domain != NULL && sp != NULL && !in->requiressl) {
		(void)snprintf(by, sizeof(by), "SRV %s%s",
			       dav_plan_srv_prefix(in->kind, false), domain);
		for (size_t i = 0; i < sp->n && i < DNS_SRV_MAX; i++)
			dav_plan_add(p, in, sp->srv[i].target, sp->srv[i].port,
				     in->srv_plain_path != NULL
					     ? in->srv_plain_path
					     : "/",
				     by);
	}
	if (domain != NULL && !no_tls) {
		(void)snprintf(by, sizeof(by), "well-known %s", domain);
		dav_plan_add_tls(p, domain, 0, "/", by);
	}
	if (in->inserver != NULL && dav_plan_host_ok(in->inserver) &&
	    (domain == NULL || strcasecmp(domain, in->inserver) != 0)) {
		(void)snprintf(by, sizeof(by), "well-known INSERVER %s",
			       in->inserver);
		dav_plan_add_tls(p, in->inserver, 0, "/", by);
	}
}

enum e2_status
dav_plan_build(const struct dav_plan_input *in, struct dav_plan *out,
	       struct e2_err *err)
{
	const char *node = dav_plan_node(in->kind);
	struct dav_server srv;
	enum e2_status rc;

	memset(out, 0, sizeof(*out));
	out->tls_required = in->requiressl || in->in_ssl_required;
	if (in->server == NULL || in->server[0] == '\0') {
		dav_plan_discover(in, out);
		return E2_OK;
	}
	rc = dav_plan_server_parse(in->server, node, &srv, err);
	if (rc != E2_OK)
		return rc;
	/* P2: refused, never changed to https behind the user's back */
	if (srv.scheme == 2 && in->requiressl)
		return dav_plan_refuse(err, node, in->server,
				       in->kind == DAV_KIND_CARD
					       ? "plain http:// while "
						 "CONTACTSSERVERREQUIRESSL is 1"
					       : "plain http:// while "
						 "CALENDARSERVERREQUIRESSL is "
						 "1");
	dav_plan_add(out, in, srv.host, srv.port, srv.path, node);
	if (out->n == 0)
		return dav_plan_refuse(err, node, in->server, "URL too long");
	return E2_OK;
}

enum dav_plan_step
dav_plan_next(const struct dav_endpoint *ep, bool first, enum e2_status prev)
{
	if (first)
		return DAV_PLAN_TRY;
	/* P3: only a dead or broken https port falls back to http */
	if (ep->twin)
		return chain_may_fall_back(prev) ? DAV_PLAN_TRY : DAV_PLAN_SKIP;
	/* P7: the same credentials are not tried elsewhere once rejected */
	if (prev == E2_EAUTH || prev == E2_ENOMEM)
		return DAV_PLAN_STOP;
	return DAV_PLAN_TRY;
}

/* ---- carrying it out ---------------------------------------------------- */

/* The DNS answers of P6 (a lookup that fails is "no record"). */
struct dav_account_dns {
	struct dns_srv_set tls, plain;
	char tls_path[DNS_PATH_MAX], plain_path[DNS_PATH_MAX];
	bool tls_has_path, plain_has_path;
};

static void
dav_account_srv(const char *name, FILE *trace, struct dns_srv_set *set,
		char *path, bool *has_path)
{
	unsigned char *buf = malloc(DNS_MSG_MAX);
	struct e2_err e;
	size_t len = 0;

	memset(set, 0, sizeof(*set));
	*has_path = false;
	if (buf == NULL)
		return;
	e2_err_clear(&e);
	if (dns_query(name, 33, buf, DNS_MSG_MAX, &len, &e) != E2_OK ||
	    len == 0 || dns_parse_srv(buf, len, set, &e) != E2_OK) {
		if (trace != NULL && e.msg[0] != '\0')
			(void)fprintf(trace, "dns: SRV %s: %s\n", name, e.msg);
		goto out;
	}
	if (trace != NULL)
		(void)fprintf(trace, "dns: SRV %s: %zu record%s%s\n", name,
			      set->n, set->n == 1 ? "" : "s",
			      set->none ? " (target \".\": no service)" : "");
	if (set->n == 0)
		goto out;
	/* RFC 6764 4: the TXT record of the same name may carry path= */
	if (dns_query(name, 16, buf, DNS_MSG_MAX, &len, &e) == E2_OK && len > 0)
		(void)dns_parse_txt_path(buf, len, path, DNS_PATH_MAX, has_path,
					 &e);
out:
	free(buf);
}

static void
dav_account_lookup(const struct dav_plan_input *in, FILE *trace,
		   struct dav_account_dns *d)
{
	const char *domain = dav_plan_domain(in->replyaddr);
	char name[300];

	if (domain == NULL)
		return;
	(void)snprintf(name, sizeof(name), "%s%s",
		       dav_plan_srv_prefix(in->kind, true), domain);
	dav_account_srv(name, trace, &d->tls, d->tls_path, &d->tls_has_path);
	if (in->requiressl)
		return;
	(void)snprintf(name, sizeof(name), "%s%s",
		       dav_plan_srv_prefix(in->kind, false), domain);
	dav_account_srv(name, trace, &d->plain, d->plain_path,
			&d->plain_has_path);
}

static unsigned
dav_account_hex(char c)
{
	return c >= 'A' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - '0');
}

/* P9: the account's pin for host into pol (as account_conn.c). */
static enum e2_status
dav_account_pin(const struct e2_account *a, const struct dav_open_opts *o,
		const char *host, struct http_policy *pol, struct e2_err *err)
{
	char fp[72];
	bool found = false;
	enum e2_status rc;

	pol->pinned = false;
	if (o->store == NULL || a->guid == NULL)
		return E2_OK;
	rc = e2_pin_get(o->store, a->guid, host, fp, NULL, &found, err);
	if (rc != E2_OK || !found)
		return rc;
	for (size_t i = 0; i < XPORT_SHA256_LEN; i++)
		pol->pin[i] =
			(unsigned char)(dav_account_hex(fp[7 + 2 * i]) << 4 |
					dav_account_hex(fp[8 + 2 * i]));
	pol->pinned = true;
	return E2_OK;
}

/* The TLS part of an attempt, from the session's last handshake. */
static void
dav_account_tls(const struct dav_session *s, struct e2_dav_attempt *at)
{
	struct xport_info t;

	dav_session_tls(s, &t);
	at->tls = t.tls;
	(void)snprintf(at->tls_version, sizeof(at->tls_version), "%s",
		       t.tls_version);
	(void)snprintf(at->cipher, sizeof(at->cipher), "%s", t.cipher);
	(void)snprintf(at->cert_subject, sizeof(at->cert_subject), "%s",
		       t.cert_subject);
	(void)snprintf(at->cert_issuer, sizeof(at->cert_issuer), "%s",
		       t.cert_issuer);
	at->cert_verified = t.cert_verified;
	(void)snprintf(at->verify_result, sizeof(at->verify_result), "%s",
		       t.verify_result);
	(void)snprintf(at->cert_sha256, sizeof(at->cert_sha256), "%s",
		       t.cert_sha256);
	(void)snprintf(at->cert_not_before, sizeof(at->cert_not_before), "%s",
		       t.cert_not_before);
	(void)snprintf(at->cert_not_after, sizeof(at->cert_not_after), "%s",
		       t.cert_not_after);
	at->cert_pinned = t.cert_pinned;
}

/* P8: a failure that says "no such service here", not "broken". */
static bool
dav_account_absent(enum e2_status rc)
{
	return rc == E2_ERESOLVE || rc == E2_ECONNECT || rc == E2_ETIMEOUT ||
	       rc == E2_ETLS || rc == E2_EPROTO;
}

static void
dav_account_components(unsigned comps, char *dst, size_t n)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{DAV_COMP_VEVENT, "VEVENT"},
		{DAV_COMP_VTODO, "VTODO"},
		{DAV_COMP_VJOURNAL, "VJOURNAL"},
		{DAV_COMP_VFREEBUSY, "VFREEBUSY"},
		{DAV_COMP_OTHER, "other"},
	};
	size_t o = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if ((comps & names[i].bit) == 0)
			continue;
		w = snprintf(dst + o, n - o, "%s%s", o > 0 ? " " : "",
			     names[i].name);
		if (w < 0 || (size_t)w >= n - o)
			break;
		o += (size_t)w;
	}
}

/* The discovery steps and collections of a session that answered. */
static void
dav_account_fill(const struct dav_discovery *d, struct e2_dav_report *rep)
{
	(void)snprintf(rep->context_url, sizeof(rep->context_url), "%s",
		       d->context_url != NULL ? d->context_url : "");
	(void)snprintf(rep->principal_url, sizeof(rep->principal_url), "%s",
		       d->principal_url != NULL ? d->principal_url : "");
	(void)snprintf(rep->home_url, sizeof(rep->home_url), "%s",
		       d->home_url != NULL ? d->home_url : "");
	rep->dav_confirmed = d->confirmed;
	rep->n_collections = d->n_colls;
	for (size_t i = 0; i < d->n_colls && i < E2_DAV_COLLS_MAX; i++) {
		const struct dav_collection *c = &d->colls[i];
		struct e2_dav_collection *r = &rep->collections[i];

		(void)snprintf(r->displayname, sizeof(r->displayname), "%s",
			       c->displayname != NULL ? c->displayname : "");
		(void)snprintf(r->href, sizeof(r->href), "%s",
			       c->href != NULL ? c->href : "");
		dav_account_components(c->components, r->components,
				       sizeof(r->components));
		r->sync_collection =
			(c->reports & DAV_REPORT_SYNC_COLLECTION) != 0;
	}
}

/*
 * Records where discovery found the home set (o->remember_home), unless it
 * is what the store holds already. A failed write costs the next run a
 * full discovery, nothing else: it is not an error of this one.
 */
static void
dav_account_remember(const struct dav_open_opts *o, enum dav_kind kind,
		     const char *login, const char *ep_url,
		     const struct dav_session *s, const struct dav_discovery *d,
		     const char *known_ep, const char *known_home,
		     bool known_basic)
{
	bool basic = dav_session_basic(s);
	struct e2_err e;

	if (!o->remember_home || o->read_only || o->store == NULL ||
	    o->guid == NULL || d->home_url == NULL || d->assumed)
		return;
	e2_err_clear(&e);
	if (known_ep == NULL || known_home == NULL ||
	    strcmp(known_ep, ep_url) != 0 ||
	    strcmp(known_home, d->home_url) != 0 || known_basic != basic)
		(void)dav_state_home_put(o->store, o->guid, kind, login, ep_url,
					 d->home_url, basic, &e);
	/* the listing just taken, for the runs within the hour */
	(void)dav_state_listing_put(o->store, o->guid, kind, d,
				    (int64_t)time(NULL), &e);
}

/* The kept listing, when it is fresh and names collections. */
struct dav_account_kept {
	struct dav_collection *colls;
	size_t n;
	bool fresh;
};

/*
 * The kept listing of the home set (dav_state_listing_get()): fresh when
 * taken less than DAV_LISTING_FRESH_S ago (not in the future: a clock
 * set back lists again) and naming at least one collection. None, or
 * none readable: a listing, not an error.
 */
static void
dav_account_kept_load(const struct dav_open_opts *o, enum dav_kind kind,
		      struct dav_account_kept *k)
{
	struct e2_err e;
	int64_t listed = 0, now = (int64_t)time(NULL);

	e2_err_clear(&e);
	if (dav_state_listing_get(o->store, o->guid, kind, &listed, &k->colls,
				  &k->n, &e) != E2_OK)
		return;
	k->fresh = k->n > 0 && listed > 0 && listed <= now &&
		   now - listed < DAV_LISTING_FRESH_S;
}

/* One endpoint: session, pin, discovery; the attempt's report. */
static enum e2_status
dav_account_try(const struct e2_account *a, enum dav_kind kind,
		const struct dav_open_opts *o, const struct dav_endpoint *ep,
		const char *user, const char *secret, const char *home,
		bool basic, const struct dav_account_kept *kept,
		struct e2_dav_attempt *at, struct dav_session **s_out,
		struct dav_discovery **d_out)
{
	struct http_policy pol = {0};
	struct dav_session *s = NULL;
	struct e2_err e;
	int64_t t0 = xport_now_ms();
	bool creds = user != NULL && user[0] != '\0';
	bool from_kept = false;
	enum e2_status rc;

	e2_err_clear(&e);
	memset(at, 0, sizeof(*at));
	(void)snprintf(at->url, sizeof(at->url), "%s", ep->url);
	(void)snprintf(at->host, sizeof(at->host), "%s", ep->host);
	at->https = ep->https;
	pol.cafile = o->cafile;
	pol.timeout_ms = o->timeout_ms;
	pol.idle_ms = o->timeout_ms;
	pol.allow_http = !ep->https;
	pol.cleartext_ok = ep->cleartext_ok;
	pol.user = creds ? user : NULL;
	pol.secret = creds ? secret : NULL;
	pol.trace = o->trace;
	rc = dav_account_pin(a, o, ep->host, &pol, &e);
	if (rc == E2_OK)
		rc = dav_session_new(&pol, ep->url, &s, &e);
	if (rc == E2_OK && home != NULL && kept != NULL && kept->fresh) {
		/* the home set's collections as listed within the hour: no
		 * request here, each collection's own is the first (a
		 * failure there marks the listing stale: sync_dav.c); a kept
		 * listing that cannot be used is listed again now */
		if (basic && creds)
			dav_session_assume_basic(s);
		rc = dav_discovery_from(home, kept->colls, kept->n, d_out, &e);
		from_kept = rc == E2_OK;
		if (rc == E2_EPROTO) {
			e2_err_clear(&e);
			rc = E2_OK;
		}
	}
	if (from_kept) {
		/* no request made: nothing of TLS to report */
	} else if (rc == E2_OK && home != NULL) {
		/* the home set found last time, with Basic at once where the
		 * server took it; moved or gone (any answer but its
		 * collections), or the Basic refused: the whole discovery */
		if (basic && creds)
			dav_session_assume_basic(s);
		rc = dav_discover_home(s, kind, home, d_out, &e);
		if (rc == E2_EPROTO || (rc == E2_EAUTH && basic)) {
			e2_err_clear(&e);
			rc = dav_discover(s, kind, o->confirm, d_out, &e);
		}
		dav_account_tls(s, at);
	} else if (rc == E2_OK) {
		rc = dav_discover(s, kind, o->confirm, d_out, &e);
		dav_account_tls(s, at);
	}
	at->result = rc;
	(void)snprintf(at->error, sizeof(at->error), "%s", e.msg);
	if (!creds)
		at->login = E2_LOGIN_SKIPPED;
	else if (rc == E2_OK)
		at->login = E2_LOGIN_OK;
	else if (rc == E2_EAUTH)
		at->login = E2_LOGIN_FAILED;
	/* P4: any login over plain http is reported as cleartext */
	at->cleartext_login =
		creds && !ep->https && (rc == E2_OK || rc == E2_EAUTH);
	at->elapsed_ms = (double)(xport_now_ms() - t0);
	if (rc == E2_OK)
		*s_out = s;
	else
		dav_session_free(&s);
	return rc;
}

enum e2_status
dav_account_open(const struct e2_account *a, enum dav_kind kind,
		 const struct dav_open_opts *o, struct dav_session **s_out,
		 struct dav_discovery **d_out, struct e2_dav_report *rep,
		 bool *cleartext_out, struct e2_err *err)
{
	struct e2_dav_report *local = NULL;
	struct dav_plan_input in = {0};
	struct dav_plan *plan = NULL;
	struct dav_account_dns *dns = NULL;
	struct e2_creds cr = e2_account_in_creds(a);
	char *user = NULL;
	char *known_ep = NULL, *known_home = NULL;
	bool known_basic = false;
	struct dav_account_kept kept = {0};
	int64_t t0 = xport_now_ms();
	enum e2_status rc = E2_EINVAL, prev = E2_OK;
	bool all_absent = true;

	if (rep == NULL) {
		/* on the heap: about 40 KB, too much for a runner thread */
		local = calloc(1, sizeof(*local));
		if (local == NULL)
			return e2_fail(err, E2_ENOMEM, "out of memory");
		rep = local;
	}
	memset(rep, 0, sizeof(*rep));
	rep->tested = true;
	rep->state = "failed";
	rep->node = dav_plan_node(kind);
	in.kind = kind;
	in.server =
		kind == DAV_KIND_CARD ? a->contactsserver : a->calendarserver;
	in.requiressl = kind == DAV_KIND_CARD ? a->contactsserver_requiressl
					      : a->calendarserver_requiressl;
	in.in_ssl_required = a->in_ssl_required;
	in.replyaddr = a->replyaddr;
	in.inserver = a->in.host;
	plan = calloc(1, sizeof(*plan));
	dns = calloc(1, sizeof(*dns));
	if (plan == NULL || dns == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	if (in.server == NULL || in.server[0] == '\0') {
		dav_account_lookup(&in, o->trace, dns);
		in.srv_tls = &dns->tls;
		in.srv_tls_path = dns->tls_has_path ? dns->tls_path : NULL;
		in.srv_plain = &dns->plain;
		in.srv_plain_path =
			dns->plain_has_path ? dns->plain_path : NULL;
	}
	rc = dav_plan_build(&in, plan, err);
	if (rc != E2_OK)
		goto out;
	rep->tls_required = plan->tls_required;
	(void)snprintf(rep->note, sizeof(rep->note), "%s", plan->note);
	if (plan->n == 0) {
		const char *dom = dav_plan_domain(a->replyaddr);

		rep->state = "not-found";
		rc = e2_fail(err, E2_EINVAL,
			     "no %s, and no REPLYADDR domain or INSERVER to "
			     "discover it from%s%s",
			     rep->node, dom != NULL ? ": " : "",
			     dom != NULL ? dom : "");
		goto out;
	}
	if (cr.user != NULL && cr.user[0] != '\0') {
		rc = chain_login_name(cr.user, cr.domain, &user, err);
		if (rc != E2_OK)
			goto out;
	}
	/* no record (or none readable) is a full discovery, not an error */
	if (o->remember_home && o->store != NULL && o->guid != NULL) {
		struct e2_err e;

		e2_err_clear(&e);
		(void)dav_state_home_get(o->store, o->guid, kind, user,
					 &known_ep, &known_home, &known_basic,
					 &e);
		if (known_home != NULL)
			dav_account_kept_load(o, kind, &kept);
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct dav_endpoint *ep = &plan->ep[i];
		enum dav_plan_step step = dav_plan_next(ep, i == 0, prev);
		struct e2_dav_attempt *at;

		if (step == DAV_PLAN_STOP)
			break;
		if (step == DAV_PLAN_SKIP) {
			if (rep->note[0] == '\0')
				(void)snprintf(rep->note, sizeof(rep->note),
					       "%s not tried: https failed "
					       "with %s, which never falls "
					       "back to plain http",
					       ep->url, e2_status_name(prev));
			continue;
		}
		if (rep->n_attempts == E2_DAV_ATTEMPTS_MAX)
			break;
		at = &rep->attempts[rep->n_attempts++];
		rc = dav_account_try(
			a, kind, o, ep, user, cr.secret,
			known_ep != NULL && strcmp(known_ep, ep->url) == 0
				? known_home
				: NULL,
			known_basic, &kept, at, s_out, d_out);
		prev = rc;
		(void)snprintf(rep->found_by, sizeof(rep->found_by), "%s",
			       ep->found_by);
		if (rc == E2_OK) {
			rep->ok = true;
			rep->state = "ok";
			rep->status = E2_OK;
			rep->cleartext = at->cleartext_login;
			dav_account_fill(*d_out, rep);
			dav_account_remember(o, kind, user, ep->url, *s_out,
					     *d_out, known_ep, known_home,
					     known_basic);
			goto out;
		}
		if (!dav_account_absent(rc))
			all_absent = false;
		/* the verdict is the last attempt's */
		if (err != NULL)
			e2_err_clear(err);
		(void)e2_fail(err, rc, "%s", at->error);
	}
	if (plan->discovered && all_absent)
		rep->state = "not-found";
out:
	if (rc != E2_OK) {
		rep->ok = false;
		rep->status = rc;
		(void)snprintf(rep->error, sizeof(rep->error), "%s",
			       err != NULL ? err->msg : "");
	}
	if (cleartext_out != NULL)
		*cleartext_out = rc == E2_OK && rep->cleartext;
	rep->elapsed_ms = (double)(xport_now_ms() - t0);
	if (user != NULL) {
		OPENSSL_cleanse(user, strlen(user));
		free(user);
	}
	free(known_ep);
	free(known_home);
	dav_state_listing_free(&kept.colls, kept.n);
	free(dns);
	free(plan);
	free(local);
	return rc;
}
