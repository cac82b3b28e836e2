/* SPDX-License-Identifier: MIT */
/* account.c -- struct e2_account from stored nodes, defaults, credentials */
#include "config.h"

#include "account.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/*
 * Defaults (applied by e2_account_new(), kept when a node is absent):
 *   ACCOUNTTYPE Email, SERVICETYPE IMAP4 (both required, so always set
 *   by a valid document), LINGER 15 minutes (spec), DWNDAY -1 (everything),
 *   KEEPMAX 0 (no attachment limit), RETRIEVE 0 (no truncation),
 *   SERVERDELETEACTION 0 (transport default: any value but 1 and 2, spec),
 *   AUTHREQUIRED false (spec: "if this value isn't specified, then no SMTP
 *   authentication is done"), every boolean false, SYNCINGCONTENTTYPES 0,
 *   strings NULL.
 */
#define ACCOUNT_LINGER_DEFAULT 15
#define ACCOUNT_DWNDAY_DEFAULT (-1)

/* How a node's value becomes a field. */
enum account_kind {
	ACCOUNT_KIND_STRING = 0, /* char *, copied */
	ACCOUNT_KIND_SECRET,     /* char *, copied, wiped on free */
	ACCOUNT_KIND_INT,        /* int in [min, max], decimal */
	ACCOUNT_KIND_LONG,       /* long in [min, max], decimal */
	ACCOUNT_KIND_BOOL,       /* "TRUE"/"FALSE" (any case), "1"/"0" */
	ACCOUNT_KIND_BITMASK,    /* uint32_t, decimal or 0x-hex */
	ACCOUNT_KIND_SERVER,     /* struct e2_server via e2_server_parse */
	ACCOUNT_KIND_ACCOUNTTYPE,
	ACCOUNT_KIND_SERVICETYPE,
	ACCOUNT_KIND_DELETEACTION, /* 1, 2, anything else 0 */
};

struct account_field {
	const char *node;
	enum account_kind kind;
	size_t offset;
	long min;
	long max;
};

#define ACCOUNT_F(node, kind, member)                                          \
	{                                                                      \
		node, ACCOUNT_KIND_##kind,                                     \
			offsetof(struct e2_account, member), 0, 0              \
	}
#define ACCOUNT_N(node, kind, member, lo, hi)                                  \
	{                                                                      \
		node, ACCOUNT_KIND_##kind,                                     \
			offsetof(struct e2_account, member), lo, hi            \
	}

/* Every EMAIL2 leaf node below the GUID; TAGPROPS itself is interior. */
static const struct account_field account_fields[] = {
	ACCOUNT_F("ACCOUNTICON", STRING, accounticon),
	ACCOUNT_F("ACCOUNTTYPE", ACCOUNTTYPE, type),
	ACCOUNT_F("AUTHNAME", STRING, authname),
	ACCOUNT_F("AUTHREQUIRED", BOOL, authrequired),
	ACCOUNT_F("AUTHSECRET", SECRET, authsecret),
	ACCOUNT_F("DOMAIN", STRING, domain),
	ACCOUNT_N("DWNDAY", INT, dwnday, -1, INT_MAX),
	ACCOUNT_F("INSERVER", SERVER, in),
	ACCOUNT_N("LINGER", INT, linger, 0, INT_MAX),
	ACCOUNT_N("KEEPMAX", INT, keepmax, 0, INT_MAX),
	ACCOUNT_F("NAME", STRING, name),
	ACCOUNT_F("OUTSERVER", SERVER, out),
	ACCOUNT_F("REPLYADDR", STRING, replyaddr),
	ACCOUNT_F("SERVICENAME", STRING, servicename),
	ACCOUNT_F("SERVICETYPE", SERVICETYPE, service),
	ACCOUNT_N("RETRIEVE", LONG, retrieve, 0, LONG_MAX),
	ACCOUNT_F("SERVERDELETEACTION", DELETEACTION, serverdeleteaction),
	ACCOUNT_F("CELLULARONLY", BOOL, cellularonly),
	ACCOUNT_F("SYNCINGCONTENTTYPES", BITMASK, syncingcontenttypes),
	ACCOUNT_F("CONTACTSSERVER", STRING, contactsserver),
	ACCOUNT_F("CALENDARSERVER", STRING, calendarserver),
	ACCOUNT_F("CONTACTSSERVERREQUIRESSL", BOOL, contactsserver_requiressl),
	ACCOUNT_F("CALENDARSERVERREQUIRESSL", BOOL, calendarserver_requiressl),
	ACCOUNT_F("CONTACTSSYNCSCHEDULE", STRING, contactssyncschedule),
	ACCOUNT_F("CALENDARSYNCSCHEDULE", STRING, calendarsyncschedule),
	ACCOUNT_F("SMTPALTAUTHNAME", STRING, smtpalt_authname),
	ACCOUNT_F("SMTPALTDOMAIN", STRING, smtpalt_domain),
	ACCOUNT_F("SMTPALTENABLED", BOOL, smtpalt_enabled),
	ACCOUNT_F("SMTPALTPASSWORD", SECRET, smtpalt_password),
	ACCOUNT_F("TAGPROPS/8128000B", BOOL, in_ssl_required),
	ACCOUNT_F("TAGPROPS/812C000B", BOOL, out_ssl_required),
};

/* ---- e2_server_parse ------------------------------------------------------
 */

static bool
account_host_char(unsigned char c)
{
	/* LDH labels, '_' (seen in the wild), and UTF-8 for IDN names */
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* port = 1*5DIGIT in 1..65535; *why_out says what is wrong. */
static bool
account_port_parse(const char *s, size_t len, uint16_t *port_out,
		   const char **why_out)
{
	unsigned long v = 0;

	if (len == 0) {
		*why_out = "empty port";
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why_out = "port is not a number";
			return false;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535) {
		*why_out = "port out of range";
		return false;
	}
	*port_out = (uint16_t)v;
	return true;
}

/*
 * server = host [":" port] / "[" IPv6address "]" [":" port]
 *        / IPv6address            ; bare, more than one ':', no port
 * Fills *host_out (allocated) and *port_out (0 when absent); on failure sets
 * *why_out to a static reason and returns E2_EINVAL (E2_ENOMEM on OOM).
 */
static enum e2_status
account_server_split(const char *v, char **host_out, uint16_t *port_out,
		     const char **why_out)
{
	const char *host = v;
	size_t hostlen;
	const char *colon;
	uint16_t port = 0;
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	char *h;

	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f) {
			*why_out = "space or control character";
			return E2_EINVAL;
		}
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL) {
			*why_out = "unbalanced brackets";
			return E2_EINVAL;
		}
		host = v + 1;
		hostlen = (size_t)(close - host);
		if (hostlen == 0) {
			*why_out = "empty host";
			return E2_EINVAL;
		}
		if (memchr(host, '[', hostlen) != NULL ||
		    strchr(close + 1, '[') != NULL ||
		    strchr(close + 1, ']') != NULL) {
			*why_out = "unbalanced brackets";
			return E2_EINVAL;
		}
		if (hostlen >= sizeof(buf)) {
			*why_out = "not an IPv6 address";
			return E2_EINVAL;
		}
		memcpy(buf, host, hostlen);
		buf[hostlen] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1) {
			*why_out = "not an IPv6 address";
			return E2_EINVAL;
		}
		if (close[1] == ':') {
			if (!account_port_parse(close + 2, strlen(close + 2),
						&port, why_out))
				return E2_EINVAL;
		} else if (close[1] != '\0') {
			*why_out = "junk after ']'";
			return E2_EINVAL;
		}
	} else if (strchr(v, '[') != NULL || strchr(v, ']') != NULL) {
		*why_out = "unbalanced brackets";
		return E2_EINVAL;
	} else if ((colon = strchr(v, ':')) != NULL &&
		   strchr(colon + 1, ':') != NULL) {
		/* a bare IPv6 literal: the whole value, no port */
		hostlen = strlen(v);
		if (hostlen >= sizeof(buf) ||
		    inet_pton(AF_INET6, v, addr) != 1) {
			*why_out = "not an IPv6 address (write [addr]:port)";
			return E2_EINVAL;
		}
	} else {
		hostlen = colon == NULL ? strlen(v) : (size_t)(colon - v);
		if (hostlen == 0) {
			*why_out = "empty host";
			return E2_EINVAL;
		}
		if (hostlen > 253) {
			*why_out = "host name too long";
			return E2_EINVAL;
		}
		for (size_t i = 0; i < hostlen; i++) {
			if (!account_host_char((unsigned char)v[i])) {
				*why_out = "invalid character in host name";
				return E2_EINVAL;
			}
		}
		if (colon != NULL &&
		    !account_port_parse(colon + 1, strlen(colon + 1), &port,
					why_out))
			return E2_EINVAL;
	}
	h = strndup(host, hostlen);
	if (h == NULL) {
		*why_out = "out of memory";
		return E2_ENOMEM;
	}
	*host_out = h;
	*port_out = port;
	return E2_OK;
}

enum e2_status
e2_server_parse(const char *value, struct e2_server *srv_out,
		struct e2_err *err)
{
	const char *why = "empty value";
	char q[512];
	char *host = NULL;
	uint16_t port = 0;
	enum e2_status rc;

	if (value == NULL || value[0] == '\0')
		return e2_fail(err, E2_EINVAL, "server \"\": empty value");
	rc = account_server_split(value, &host, &port, &why);
	if (rc != E2_OK)
		return e2_fail(err, rc, "server \"%s\": %s",
			       e2_quote(q, sizeof(q), value, strlen(value)),
			       why);
	srv_out->host = host;
	srv_out->port = port;
	return E2_OK;
}

/* ---- values ---------------------------------------------------------------
 */

static bool
account_parse_long(const char *s, long min, long max, long *v_out)
{
	char *end = NULL;
	long v;

	/* strtol would skip spaces and take '+'; the node table does not */
	if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*v_out = v;
	return true;
}

static bool
account_parse_bitmask(const char *s, uint32_t *v_out)
{
	int base = 10;
	char *end = NULL;
	unsigned long long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)s[0]))
			return false;
	} else if (!(s[0] >= '0' && s[0] <= '9')) {
		return false;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return false;
	*v_out = (uint32_t)v;
	return true;
}

static bool
account_parse_bool(const char *s, bool *v_out)
{
	if (strcmp(s, "1") == 0 || strcasecmp(s, "TRUE") == 0) {
		*v_out = true;
		return true;
	}
	if (strcmp(s, "0") == 0 || strcasecmp(s, "FALSE") == 0) {
		*v_out = false;
		return true;
	}
	return false;
}

/* Sets one field from a node's value; *why_out explains an E2_EINVAL. */
static enum e2_status
account_set_field(struct e2_account *a, const struct account_field *f,
		  const char *value, const char **why_out)
{
	char *base = (char *)a + f->offset;
	long l;

	switch (f->kind) {
	case ACCOUNT_KIND_STRING:
	case ACCOUNT_KIND_SECRET: {
		char **slot = (char **)(void *)base;
		char *copy = strdup(value);

		if (copy == NULL)
			return E2_ENOMEM;
		if (*slot != NULL) {
			OPENSSL_cleanse(*slot, strlen(*slot));
			free(*slot);
		}
		*slot = copy;
		return E2_OK;
	}
	case ACCOUNT_KIND_INT:
		if (!account_parse_long(value, f->min, f->max, &l)) {
			*why_out = "not a number in range";
			return E2_EINVAL;
		}
		*(int *)(void *)base = (int)l;
		return E2_OK;
	case ACCOUNT_KIND_LONG:
		if (!account_parse_long(value, f->min, f->max, &l)) {
			*why_out = "not a number in range";
			return E2_EINVAL;
		}
		*(long *)(void *)base = l;
		return E2_OK;
	case ACCOUNT_KIND_BOOL:
		if (!account_parse_bool(value, (bool *)(void *)base)) {
			*why_out = "not a boolean (TRUE, FALSE, 1, 0)";
			return E2_EINVAL;
		}
		return E2_OK;
	case ACCOUNT_KIND_BITMASK:
		if (!account_parse_bitmask(value, (uint32_t *)(void *)base)) {
			*why_out = "not a 32-bit bitmask";
			return E2_EINVAL;
		}
		return E2_OK;
	case ACCOUNT_KIND_SERVER: {
		struct e2_server *srv = (struct e2_server *)(void *)base;
		char *host = NULL;
		uint16_t port = 0;
		enum e2_status rc;

		rc = account_server_split(value, &host, &port, why_out);
		if (rc != E2_OK)
			return rc;
		free(srv->host);
		srv->host = host;
		srv->port = port;
		return E2_OK;
	}
	case ACCOUNT_KIND_ACCOUNTTYPE:
		if (strcasecmp(value, "Email") == 0) {
			a->type = E2_ACCOUNT_EMAIL;
		} else if (strcasecmp(value, "VVM") == 0) {
			a->type = E2_ACCOUNT_VVM;
		} else {
			*why_out = "not Email or VVM";
			return E2_EINVAL;
		}
		return E2_OK;
	case ACCOUNT_KIND_SERVICETYPE:
		if (strcasecmp(value, "IMAP4") == 0) {
			a->service = E2_SERVICE_IMAP4;
		} else if (strcasecmp(value, "POP3") == 0) {
			a->service = E2_SERVICE_POP3;
		} else {
			*why_out = "not IMAP4 or POP3";
			return E2_EINVAL;
		}
		return E2_OK;
	case ACCOUNT_KIND_DELETEACTION:
		/* spec: "any other value results in default action" */
		if (strcmp(value, "1") == 0)
			a->serverdeleteaction = 1;
		else if (strcmp(value, "2") == 0)
			a->serverdeleteaction = 2;
		else
			a->serverdeleteaction = 0;
		return E2_OK;
	}
	*why_out = "unknown field kind";
	return E2_EINVAL;
}

static const struct account_field *
account_field_find(const char *node)
{
	for (size_t i = 0;
	     i < sizeof(account_fields) / sizeof(account_fields[0]); i++) {
		if (strcmp(account_fields[i].node, node) == 0)
			return &account_fields[i];
	}
	return NULL;
}

/* ---- accounts -------------------------------------------------------------
 */

struct e2_account *
e2_account_new(void)
{
	struct e2_account *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->type = E2_ACCOUNT_EMAIL;
	a->service = E2_SERVICE_IMAP4;
	a->linger = ACCOUNT_LINGER_DEFAULT;
	a->dwnday = ACCOUNT_DWNDAY_DEFAULT;
	a->keepmax = 0;
	a->retrieve = 0;
	a->serverdeleteaction = 0;
	a->authrequired = false;
	return a;
}

static void
account_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
e2_account_free(struct e2_account **ap)
{
	struct e2_account *a;

	if (ap == NULL || *ap == NULL)
		return;
	a = *ap;
	account_free_secret(a->authsecret);
	account_free_secret(a->smtpalt_password);
	free(a->guid);
	free(a->accounticon);
	free(a->authname);
	free(a->domain);
	free(a->in.host);
	free(a->out.host);
	free(a->name);
	free(a->replyaddr);
	free(a->servicename);
	free(a->contactsserver);
	free(a->calendarserver);
	free(a->contactssyncschedule);
	free(a->calendarsyncschedule);
	free(a->smtpalt_authname);
	free(a->smtpalt_domain);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	*ap = NULL;
}

enum e2_status
account_from_nodes(const char *guid, const struct store_node *nodes, size_t n,
		   struct e2_account **acct_out, struct e2_err *err)
{
	struct e2_account *a = NULL;
	enum e2_status rc = E2_OK;
	char q[512];

	if (guid == NULL || guid[0] == '\0')
		return e2_fail(err, E2_EINVAL, "account: empty GUID");
	a = e2_account_new();
	if (a == NULL || (a->guid = strdup(guid)) == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "account: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct account_field *f;
		const char *why = "invalid value";

		/* interior nodes (TAGPROPS) and nodes of later versions */
		if (nodes[i].name == NULL || nodes[i].value == NULL)
			continue;
		f = account_field_find(nodes[i].name);
		if (f == NULL)
			continue;
		rc = account_set_field(a, f, nodes[i].value, &why);
		if (rc == E2_ENOMEM) {
			rc = e2_fail(err, rc, "account: out of memory");
			goto out;
		}
		if (rc != E2_OK) {
			/* a secret never reaches a message */
			if (f->kind == ACCOUNT_KIND_SECRET)
				rc = e2_fail(err, rc, "%s: %s", f->node, why);
			else
				rc = e2_fail(err, rc, "%s \"%s\": %s", f->node,
					     e2_quote(q, sizeof(q),
						      nodes[i].value,
						      strlen(nodes[i].value)),
					     why);
			goto out;
		}
	}
	*acct_out = a;
	a = NULL;
out:
	e2_account_free(&a);
	return rc;
}

enum e2_status
e2_account_load(struct e2_store *st, const char *guid,
		struct e2_account **acct_out, struct e2_err *err)
{
	struct store_node *nodes = NULL;
	size_t n = 0;
	bool exists = false;
	bool in_tx = false;
	enum e2_status rc;
	char stored[STORE_GUID_MAX];
	char q[512];

	if (guid == NULL || guid[0] == '\0')
		return e2_fail(err, E2_EINVAL, "account: empty GUID");
	/* one read transaction: the account cannot vanish between the two */
	rc = store_begin_read(st, err);
	if (rc != E2_OK)
		goto out;
	in_tx = true;
	/* any letter case finds it; the account carries the stored spelling */
	rc = store_account_find(st, guid, &exists, stored, err);
	if (rc != E2_OK)
		goto out;
	if (!exists) {
		rc = e2_fail(err, E2_EINVAL, "account \"%s\": not found",
			     e2_quote(q, sizeof(q), guid, strlen(guid)));
		goto out;
	}
	guid = stored;
	rc = store_node_list(st, guid, &nodes, &n, err);
	if (rc != E2_OK)
		goto out;
	in_tx = false;
	rc = store_commit(st, err);
	if (rc != E2_OK)
		goto out;
	rc = account_from_nodes(guid, nodes, n, acct_out, err);
out:
	if (in_tx)
		store_rollback(st);
	store_nodes_free(&nodes, n);
	return rc;
}

enum e2_status
e2_account_list(struct e2_store *st, char ***guids_out, size_t *n_out,
		struct e2_err *err)
{
	return store_account_list(st, guids_out, n_out, err);
}

void
e2_strv_free(char ***v, size_t n)
{
	if (v == NULL || *v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
}

/*
 * Credentials are returned as parts; composing a login name (for instance
 * "DOMAIN\AUTHNAME" for servers that want it) is the transport's job.
 */
/*
 * *SYNCSCHEDULE (issue 10): the WinRT DeviceAccountConfiguration has an
 * enum of its own (0..6: manual, 15, 30, 60 minutes, 2 hours, daily, as
 * items arrive), but the CSP's sibling LINGER already fixes a minute set
 * and the nodes are plain strings in the spec; one set for every schedule
 * keeps the daemon's table and the documents simple, and "as items
 * arrive" would need push, which CardDAV/CalDAV do not have.
 */
int
e2_account_schedule(const struct e2_account *a, unsigned type)
{
	static const int allowed[] = {0, 15, 30, 60, 120};
	const char *v = NULL;

	if ((type & E2_SYNC_CONTACTS) != 0)
		v = a->contactssyncschedule;
	else if ((type & E2_SYNC_CALENDARS) != 0)
		v = a->calendarsyncschedule;
	if (v != NULL)
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]);
		     i++) {
			char s[8];

			(void)snprintf(s, sizeof(s), "%d", allowed[i]);
			if (strcmp(v, s) == 0)
				return allowed[i];
		}
	return a->linger > 0 ? a->linger : 0;
}

struct e2_creds
e2_account_in_creds(const struct e2_account *a)
{
	struct e2_creds c = {NULL, NULL, NULL};

	if (a == NULL)
		return c;
	c.user = a->authname;
	c.domain = a->domain;
	c.secret = a->authsecret;
	return c;
}

struct e2_creds
e2_account_out_creds(const struct e2_account *a)
{
	struct e2_creds c = {NULL, NULL, NULL};

	if (a == NULL)
		return c;
	if (!a->smtpalt_enabled)
		return e2_account_in_creds(a);
	c.user = a->smtpalt_authname;
	c.domain = a->smtpalt_domain;
	c.secret = a->smtpalt_password;
	return c;
}

bool
e2_account_out_tls_required(const struct e2_account *a, const char **node_out)
{
	const char *node = "";

	if (a == NULL)
		node = "";
	else if (a->out_ssl_required)
		node = "TAGPROPS/812C000B";
	else if (a->in_ssl_required && a->authrequired && !a->smtpalt_enabled)
		/* the shared password must not cross a weaker link */
		node = "TAGPROPS/8128000B, whose credentials the outgoing "
		       "side uses";
	if (node_out != NULL)
		*node_out = node;
	return node[0] != '\0';
}
