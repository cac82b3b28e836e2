/* SPDX-License-Identifier: MIT */
/* dns_srv.c -- SRV and TXT lookups for RFC 6764 service discovery */
#include "config.h"

#include "transports/dns_srv.h"

#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/nameser.h>

#define DNS_HEADER_LEN 12
#define DNS_TYPE_TXT 16
#define DNS_TYPE_SRV 33
#define DNS_CLASS_IN 1
#define DNS_MAX_JUMPS 16

static uint16_t
dns_u16(const unsigned char *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

bool
dns_host_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/*
 * RFC 1035 4.1.4: the name at *off, labels or a pointer to an earlier
 * name. out (256 bytes, may be NULL) gets it dotted, "" for the root;
 * *off moves past the name as it is in place. Pointers must point before
 * the label that holds them (no loops), at most DNS_MAX_JUMPS of them.
 * False: the bytes are not a name.
 */
static bool
dns_name_read(const unsigned char *msg, size_t len, size_t *off, char *out)
{
	size_t p = *off, o = 0, end = 0, total = 0;
	unsigned jumps = 0;
	bool jumped = false;

	if (out != NULL)
		out[0] = '\0';
	for (;;) {
		unsigned c;

		if (p >= len)
			return false;
		c = msg[p];
		if (c == 0) {
			if (!jumped)
				end = p + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t to;

			if (p + 1 >= len || ++jumps > DNS_MAX_JUMPS)
				return false;
			to = (size_t)(c & 0x3f) << 8 | msg[p + 1];
			if (to >= p)
				return false;
			if (!jumped)
				end = p + 2;
			jumped = true;
			p = to;
			continue;
		}
		if ((c & 0xc0) != 0)
			return false; /* 0x40, 0x80: no such label type */
		if (p + 1 + c > len)
			return false;
		total += c + 1;
		if (total > 255)
			return false;
		if (out != NULL) {
			if (o > 0)
				out[o++] = '.';
			memcpy(out + o, msg + p + 1, c);
			o += c;
			out[o] = '\0';
		}
		p += 1 + c;
	}
	*off = end;
	return true;
}

/* Checks the header, skips the questions: *off at the first answer. */
static enum e2_status
dns_header(const unsigned char *msg, size_t len, size_t *off, size_t *an_out,
	   bool *nxdomain_out, struct e2_err *err)
{
	size_t qd, p = DNS_HEADER_LEN;
	unsigned rcode;

	if (msg == NULL || len < DNS_HEADER_LEN)
		return e2_fail(err, E2_EPROTO, "dns answer: too short");
	if ((msg[2] & 0x80) == 0)
		return e2_fail(err, E2_EPROTO, "dns answer: not a response");
	rcode = msg[3] & 0x0f;
	*nxdomain_out = rcode == 3;
	if (rcode != 0 && rcode != 3)
		return e2_fail(err, E2_EPROTO, "dns answer: error code %u",
			       rcode);
	qd = dns_u16(msg + 4);
	*an_out = dns_u16(msg + 6);
	for (size_t i = 0; i < qd; i++) {
		if (!dns_name_read(msg, len, &p, NULL) || p + 4 > len)
			return e2_fail(err, E2_EPROTO,
				       "dns answer: bad question");
		p += 4;
	}
	*off = p;
	return E2_OK;
}

/* One answer record's fixed part: type, class, rdata offset and length. */
static bool
dns_record(const unsigned char *msg, size_t len, size_t *off, unsigned *type,
	   unsigned *cls, size_t *rd, size_t *rdlen)
{
	size_t p = *off;

	if (!dns_name_read(msg, len, &p, NULL) || p + 10 > len)
		return false;
	*type = dns_u16(msg + p);
	*cls = dns_u16(msg + p + 2);
	*rdlen = dns_u16(msg + p + 8);
	*rd = p + 10;
	if (*rd + *rdlen > len)
		return false;
	*off = *rd + *rdlen;
	return true;
}

static int
dns_srv_cmp(const void *a, const void *b)
{
	const struct dns_srv *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return 0;
}

enum e2_status
dns_parse_srv(const unsigned char *msg, size_t len, struct dns_srv_set *out,
	      struct e2_err *err)
{
	size_t p, an, rd, rdlen;
	unsigned type, cls;
	bool nx, root = false;
	enum e2_status rc;

	memset(out, 0, sizeof(*out));
	rc = dns_header(msg, len, &p, &an, &nx, err);
	if (rc != E2_OK || nx)
		return rc;
	for (size_t i = 0; i < an; i++) {
		struct dns_srv r;
		size_t t;

		if (!dns_record(msg, len, &p, &type, &cls, &rd, &rdlen))
			return e2_fail(err, E2_EPROTO,
				       "dns answer: bad record");
		if (type != DNS_TYPE_SRV || cls != DNS_CLASS_IN)
			continue;
		if (rdlen < 7)
			return e2_fail(err, E2_EPROTO,
				       "dns answer: short srv record");
		r.priority = dns_u16(msg + rd);
		r.weight = dns_u16(msg + rd + 2);
		r.port = dns_u16(msg + rd + 4);
		t = rd + 6;
		/* the target must end inside the record's data */
		if (!dns_name_read(msg, rd + rdlen, &t, r.target) ||
		    t != rd + rdlen)
			return e2_fail(err, E2_EPROTO,
				       "dns answer: bad srv target");
		if (r.target[0] == '\0') {
			root = true; /* "." */
			continue;
		}
		if (!dns_host_ok(r.target, strlen(r.target)) || r.port == 0 ||
		    out->n == DNS_SRV_MAX)
			continue;
		out->srv[out->n++] = r;
	}
	/* a stable order: qsort is not, so sort by insertion (n <= 16) */
	for (size_t i = 1; i < out->n; i++) {
		struct dns_srv k = out->srv[i];
		size_t j = i;

		while (j > 0 && dns_srv_cmp(&out->srv[j - 1], &k) > 0) {
			out->srv[j] = out->srv[j - 1];
			j--;
		}
		out->srv[j] = k;
	}
	out->none = root && out->n == 0;
	return E2_OK;
}

/* Whether a path= value may become a URL path as it stands. */
static bool
dns_path_ok(const unsigned char *s, size_t n)
{
	if (n == 0 || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '\\' ||
		    s[i] == '"' || s[i] == '<' || s[i] == '>' || s[i] == '#' ||
		    s[i] == '?')
			return false;
	return true;
}

enum e2_status
dns_parse_txt_path(const unsigned char *msg, size_t len, char *path,
		   size_t pathlen, bool *found_out, struct e2_err *err)
{
	size_t p, an, rd, rdlen;
	unsigned type, cls;
	bool nx;
	enum e2_status rc;

	*found_out = false;
	if (pathlen > 0)
		path[0] = '\0';
	rc = dns_header(msg, len, &p, &an, &nx, err);
	if (rc != E2_OK || nx)
		return rc;
	for (size_t i = 0; i < an; i++) {
		if (!dns_record(msg, len, &p, &type, &cls, &rd, &rdlen))
			return e2_fail(err, E2_EPROTO,
				       "dns answer: bad record");
		if (type != DNS_TYPE_TXT || cls != DNS_CLASS_IN)
			continue;
		/* RFC 1035 3.3.14: one or more <character-string>s */
		for (size_t q = rd; q < rd + rdlen;) {
			size_t n = msg[q];
			const unsigned char *s = msg + q + 1;

			if (q + 1 + n > rd + rdlen)
				return e2_fail(err, E2_EPROTO,
					       "dns answer: bad txt record");
			q += 1 + n;
			if (*found_out || n < 5 || memcmp(s, "path=", 5) != 0)
				continue;
			if (!dns_path_ok(s + 5, n - 5) || n - 5 >= pathlen)
				continue;
			memcpy(path, s + 5, n - 5);
			path[n - 5] = '\0';
			*found_out = true;
		}
	}
	return E2_OK;
}

enum e2_status
dns_query(const char *name, int type, unsigned char *buf, size_t cap,
	  size_t *len_out, struct e2_err *err)
{
	struct __res_state rs;
	int n;
	enum e2_status rc = E2_OK;

	*len_out = 0;
	if (name == NULL || strlen(name) > 253 || cap > INT32_MAX)
		return e2_fail(err, E2_EINVAL, "dns name too long");
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return e2_fail(err, E2_ERESOLVE,
			       "%s: no resolver configuration", name);
	/* bounded: a namespace without DNS costs DNS_TIMEOUT_S, not 30 s */
	rs.retrans = DNS_TIMEOUT_S;
	rs.retry = 1;
	n = res_nquery(&rs, name, DNS_CLASS_IN, type, buf, (int)cap);
	if (n < 0) {
		if (rs.res_h_errno != HOST_NOT_FOUND &&
		    rs.res_h_errno != NO_DATA)
			rc = e2_fail(err, E2_ERESOLVE,
				     "%s: no dns answer in time", name);
	} else {
		*len_out = (size_t)n < cap ? (size_t)n : cap;
	}
	res_nclose(&rs);
	return rc;
}
