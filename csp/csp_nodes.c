/* SPDX-License-Identifier: MIT */
/* csp_nodes.c -- the one table of EMAIL2 nodes and its value rules */
#include "config.h"

#include "csp_nodes.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define GARD (CSP_OP_GET | CSP_OP_ADD | CSP_OP_REPLACE | CSP_OP_DELETE)

static const char *const csp_words_accounttype[] = {"Email", "VVM", NULL};
static const char *const csp_words_servicetype[] = {"IMAP4", "POP3", NULL};
static const char *const csp_words_truefalse[] = {"TRUE", "FALSE", NULL};
static const char *const csp_words_onezero[] = {"1", "0", NULL};

/* DWNDAY: the spec's -1, 7, 14, 30; later Microsoft docs add 90. */
static const long csp_nums_dwnday[] = {-1, 7, 14, 30, 90};
static const long csp_nums_linger[] = {0, 15, 30, 60, 120};
static const long csp_nums_keepmax[] = {0, 25, 50, 125, 250};
static const long csp_nums_retrieve[] = {512, 1024, 2048, 5120, 20480, 51200};

#define NUMS(a) .nums = (a), .n_nums = sizeof(a) / sizeof((a)[0])

/* Spec order ("EMAIL2 CSP", tree format). */
static const struct csp_node csp_nodes[] = {
	{.name = "ACCOUNTICON",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX},
	{.name = "ACCOUNTTYPE",
	 .required = true,
	 .ops = GARD,
	 .rule = CSP_VALUE_WORD,
	 .words = csp_words_accounttype},
	{.name = "AUTHNAME",
	 .required = true,
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX},
	{.name = "AUTHREQUIRED", .ops = GARD, .rule = CSP_VALUE_BOOL01},
	{.name = "AUTHSECRET",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX,
	 .secret = true},
	{.name = "DOMAIN", .ops = GARD, .rule = CSP_VALUE_TEXT, .max_len = 255},
	{.name = "DWNDAY",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_dwnday)},
	/* spec: "Supported operations are Get, Add, and Replace" */
	{.name = "INSERVER",
	 .required = true,
	 .ops = CSP_OP_GET | CSP_OP_ADD | CSP_OP_REPLACE,
	 .rule = CSP_VALUE_SERVER,
	 .max_len = 62},
	{.name = "LINGER",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_linger)},
	/* IMAP4 only: stored for POP3 accounts too, and ignored there */
	{.name = "KEEPMAX",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_keepmax)},
	{.name = "NAME", .ops = GARD, .rule = CSP_VALUE_TEXT, .max_len = 255},
	{.name = "OUTSERVER",
	 .required = true,
	 .ops = GARD,
	 .rule = CSP_VALUE_SERVER,
	 .max_len = 62},
	{.name = "REPLYADDR",
	 .required = true,
	 .ops = GARD,
	 .rule = CSP_VALUE_ADDR,
	 .max_len = 255},
	/* spec note: no Replace on SERVICENAME and SERVICETYPE */
	{.name = "SERVICENAME",
	 .required = true,
	 .ops = CSP_OP_GET | CSP_OP_ADD | CSP_OP_REPLACE_NEW | CSP_OP_DELETE,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = 32},
	{.name = "SERVICETYPE",
	 .required = true,
	 .ops = CSP_OP_GET | CSP_OP_ADD | CSP_OP_REPLACE_NEW | CSP_OP_DELETE,
	 .rule = CSP_VALUE_WORD,
	 .words = csp_words_servicetype},
	{.name = "RETRIEVE",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_retrieve)},
	/* 1 delete, 2 keep; "any other value results in default action" */
	{.name = "SERVERDELETEACTION", .ops = GARD, .rule = CSP_VALUE_INT},
	{.name = "CELLULARONLY",
	 .ops = GARD,
	 .rule = CSP_VALUE_BOOL,
	 .words = csp_words_onezero},
	{.name = "SYNCINGCONTENTTYPES",
	 .required = true,
	 .ops = GARD,
	 .rule = CSP_VALUE_UINT32},
	{.name = "CONTACTSSERVER",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX},
	{.name = "CALENDARSERVER",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX},
	{.name = "CONTACTSSERVERREQUIRESSL",
	 .ops = GARD,
	 .rule = CSP_VALUE_BOOL,
	 .words = csp_words_onezero},
	{.name = "CALENDARSERVERREQUIRESSL",
	 .ops = GARD,
	 .rule = CSP_VALUE_BOOL,
	 .words = csp_words_onezero},
	/* issue 10: minutes from LINGER's set (e2_account_schedule()) */
	{.name = "CONTACTSSYNCSCHEDULE",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_linger)},
	/* issue 10: minutes from LINGER's set (e2_account_schedule()) */
	{.name = "CALENDARSYNCSCHEDULE",
	 .ops = GARD,
	 .rule = CSP_VALUE_NUMSET,
	 NUMS(csp_nums_linger)},
	{.name = "SMTPALTAUTHNAME",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX},
	{.name = "SMTPALTDOMAIN",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = 255},
	/* spec: TRUE or FALSE; later docs also show 1 and 0 */
	{.name = "SMTPALTENABLED",
	 .ops = GARD,
	 .rule = CSP_VALUE_BOOL,
	 .words = csp_words_truefalse},
	{.name = "SMTPALTPASSWORD",
	 .ops = GARD,
	 .rule = CSP_VALUE_TEXT,
	 .max_len = CSP_TEXT_MAX,
	 .secret = true},
	{.name = "TAGPROPS",
	 .ops = GARD,
	 .rule = CSP_VALUE_NONE,
	 .interior = true},
	{.name = "TAGPROPS/8128000B", .ops = GARD, .rule = CSP_VALUE_BOOL01},
	/* spec: "Supported operations are Get and Replace" */
	{.name = "TAGPROPS/812C000B",
	 .ops = CSP_OP_GET | CSP_OP_REPLACE,
	 .rule = CSP_VALUE_BOOL01},
};

const struct csp_node *
csp_nodes_table(size_t *n_out)
{
	*n_out = sizeof(csp_nodes) / sizeof(csp_nodes[0]);
	return csp_nodes;
}

const struct csp_node *
csp_node_find(const char *name)
{
	for (size_t i = 0; i < sizeof(csp_nodes) / sizeof(csp_nodes[0]); i++)
		if (strcmp(csp_nodes[i].name, name) == 0)
			return &csp_nodes[i];
	return NULL;
}

const char *
csp_op_name(unsigned op)
{
	switch (op) {
	case CSP_OP_GET:
		return "Get";
	case CSP_OP_ADD:
		return "Add";
	case CSP_OP_REPLACE:
	case CSP_OP_REPLACE_NEW:
		return "Replace";
	case CSP_OP_DELETE:
		return "Delete";
	default:
		return "?";
	}
}

static bool
csp_node_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* UTF-8 code points in s[0..len) (continuation bytes are not counted). */
static size_t
csp_node_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Parses an optionally signed decimal integer (no '+', no spaces, at most
 * 18 digits so it fits a long).
 */
static bool
csp_node_parse_long(const char *s, long *v_out)
{
	const char *p = s;
	long v = 0;
	bool neg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (*p == '\0' || strlen(p) > 18)
		return false;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*v_out = neg ? -v : v;
	return true;
}

/* "decimal" or "0x" hex, fitting uint32 (SYNCINGCONTENTTYPES). */
static bool
csp_node_parse_u32(const char *s, uint32_t *v_out)
{
	unsigned long long v = 0;
	const char *p = s;
	bool hex = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = true;
		p += 2;
	}
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (hex && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (hex && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return false;
		v = v * (hex ? 16 : 10) + d;
		if (v > UINT32_MAX)
			return false;
	}
	*v_out = (uint32_t)v;
	return true;
}

/* local@domain: one '@', both sides non-empty, no spaces, <, >, quotes. */
static bool
csp_node_is_addr(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return false;
	return strpbrk(s, " \t<>\"(),;") == NULL;
}

static void
csp_node_join_nums(const struct csp_node *node, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < node->n_nums && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%ld", i > 0 ? ", " : "",
				 node->nums[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void
csp_node_join_words(const char *const *words, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; words[i] != NULL && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "",
				 words[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* Checks the trimmed value v; *canon_out is a copy of the stored form. */
static enum e2_status
csp_node_check_trimmed(const struct csp_node *node, const char *v,
		       const char *shown, char **canon_out, struct e2_err *err)
{
	char list[128];
	char num[32];
	const char *canon = v;
	long lv;
	uint32_t u32;
	struct e2_server srv = {0};
	enum e2_status rc;

	if (*v == '\0' && (node->rule != CSP_VALUE_TEXT || node->required))
		return e2_fail(err, E2_EINVAL, "%s: empty value not allowed",
			       node->name);
	if (node->max_len > 0 && csp_node_chars(v, strlen(v)) > node->max_len)
		return e2_fail(err, E2_EINVAL,
			       "%s %s: longer than %zu characters", node->name,
			       shown, node->max_len);
	switch (node->rule) {
	case CSP_VALUE_NONE:
		return e2_fail(err, E2_EINVAL,
			       "%s: interior node takes no value", node->name);
	case CSP_VALUE_TEXT:
		break;
	case CSP_VALUE_ADDR:
		if (!csp_node_is_addr(v))
			return e2_fail(err, E2_EINVAL,
				       "%s %s: not an address of the form "
				       "user@domain",
				       node->name, shown);
		break;
	case CSP_VALUE_SERVER: {
		struct e2_err serr = {0};

		rc = e2_server_parse(v, &srv, &serr);
		free(srv.host);
		if (rc != E2_OK)
			return e2_fail(err, rc, "%s: %s", node->name, serr.msg);
		break;
	}
	case CSP_VALUE_WORD:
		canon = NULL;
		for (size_t i = 0; node->words[i] != NULL; i++)
			if (strcasecmp(v, node->words[i]) == 0)
				canon = node->words[i];
		if (canon == NULL) {
			csp_node_join_words(node->words, list, sizeof(list));
			return e2_fail(err, E2_EINVAL, "%s %s: not one of %s",
				       node->name, shown, list);
		}
		break;
	case CSP_VALUE_NUMSET:
		canon = NULL;
		if (csp_node_parse_long(v, &lv))
			for (size_t i = 0; i < node->n_nums; i++)
				if (node->nums[i] == lv) {
					(void)snprintf(num, sizeof(num), "%ld",
						       lv);
					canon = num;
				}
		if (canon == NULL) {
			csp_node_join_nums(node, list, sizeof(list));
			return e2_fail(err, E2_EINVAL, "%s %s: not one of %s",
				       node->name, shown, list);
		}
		break;
	case CSP_VALUE_INT:
		if (!csp_node_parse_long(v, &lv) || lv < INT_MIN ||
		    lv > INT_MAX)
			return e2_fail(err, E2_EINVAL,
				       "%s %s: not a decimal integer",
				       node->name, shown);
		(void)snprintf(num, sizeof(num), "%ld", lv);
		canon = num;
		break;
	case CSP_VALUE_UINT32:
		if (!csp_node_parse_u32(v, &u32))
			return e2_fail(err, E2_EINVAL,
				       "%s %s: not a 32-bit number (decimal "
				       "or 0x hex)",
				       node->name, shown);
		(void)snprintf(num, sizeof(num), "%" PRIu32, u32);
		canon = num;
		break;
	case CSP_VALUE_BOOL01:
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return e2_fail(err, E2_EINVAL, "%s %s: not 0 or 1",
				       node->name, shown);
		break;
	case CSP_VALUE_BOOL:
		if (strcmp(v, "1") == 0 || strcasecmp(v, "TRUE") == 0)
			canon = node->words[0];
		else if (strcmp(v, "0") == 0 || strcasecmp(v, "FALSE") == 0)
			canon = node->words[1];
		else
			return e2_fail(err, E2_EINVAL,
				       "%s %s: not TRUE, FALSE, 1 or 0",
				       node->name, shown);
		break;
	}
	*canon_out = strdup(canon);
	if (*canon_out == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	return E2_OK;
}

enum e2_status
csp_node_check_value(const struct csp_node *node, const char *value,
		     char **canon_out, struct e2_err *err)
{
	char shown[200];
	char *v = NULL;
	char *canon = NULL;
	size_t b = 0, e = strlen(value);
	enum e2_status rc;

	if (!node->secret) {
		while (b < e && csp_node_is_space(value[b]))
			b++;
		while (e > b && csp_node_is_space(value[e - 1]))
			e--;
	}
	/* a secret is never echoed: not even quoted, not even its length */
	if (node->secret)
		(void)snprintf(shown, sizeof(shown), "(secret)");
	else {
		shown[0] = '"';
		e2_quote(shown + 1, sizeof(shown) - 2, value + b, e - b);
		size_t sl = strlen(shown);
		shown[sl] = '"';
		shown[sl + 1] = '\0';
	}
	for (size_t i = b; i < e; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c == 0x7f) {
			rc = e2_fail(err, E2_EINVAL,
				     "%s %s: control character in value",
				     node->name, shown);
			goto out;
		}
	}
	v = strndup(value + b, e - b);
	if (v == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	rc = csp_node_check_trimmed(node, v, shown, &canon, err);
	if (rc != E2_OK)
		goto out;
	*canon_out = canon;
	canon = NULL;
out:
	if (v != NULL) {
		OPENSSL_cleanse(v, strlen(v));
		free(v);
	}
	return rc;
}
