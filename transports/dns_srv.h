/* SPDX-License-Identifier: MIT */
/* dns_srv.h -- SRV and TXT lookups for RFC 6764 service discovery */
#ifndef E2_DNS_SRV_H
#define E2_DNS_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "email2.h"

/*
 * RFC 6764 finds a CardDAV or CalDAV server from a domain: SRV records
 * (RFC 2782) name the host and port, a TXT record "path=" the context
 * path. The lookup is libresolv's res_nquery() with a bounded resolver
 * (DNS_TIMEOUT_S, one attempt), so a network without DNS costs about two
 * seconds, not the system's thirty. The answers are untrusted bytes,
 * parsed by the pure functions below (tests/fuzz/fuzz_dns_srv.c).
 */

#define DNS_TIMEOUT_S 2
#define DNS_SRV_MAX 16    /* records kept of one answer */
#define DNS_MSG_MAX 4096  /* bytes of one answer read */
#define DNS_PATH_MAX 1024 /* bytes of a TXT path= */

/* One SRV record; target is a validated host name without a final dot. */
struct dns_srv {
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	char target[256];
};

struct dns_srv_set {
	struct dns_srv srv[DNS_SRV_MAX]; /* sorted: priority, then weight */
	size_t n;
	bool none; /* RFC 2782: a sole target "." says "no such service" */
};

/*
 * The SRV records of the DNS answer msg (len bytes, untrusted: every
 * offset bounds-checked, compression pointers followed only backwards and
 * at most 16 times, each label 1-63 bytes, a name at most 255). Only
 * answers of type SRV, class IN count; others are skipped. Targets must
 * be host names (letters, digits, '-', '_' inside labels) else the record
 * is dropped. Order (RFC 2782): ascending priority, then descending
 * weight, then answer order. Decision: deterministic (no weighted random
 * choice): one client, one server to find, and the tests need to know
 * which is tried first. A record with target "." and no other record sets
 * out->none. Errors: E2_EPROTO (the message does not parse, or says
 * an error other than "no such name").
 */
enum e2_status dns_parse_srv(const unsigned char *msg, size_t len,
			     struct dns_srv_set *out, struct e2_err *err);

/*
 * The value of the first "path=" string of the TXT records of msg into
 * path (at most pathlen bytes with the NUL): it must start with '/' and
 * hold only printable ASCII (no space, no '\\'); *found_out says whether
 * one was there. Errors: E2_EPROTO (the message does not parse).
 */
enum e2_status dns_parse_txt_path(const unsigned char *msg, size_t len,
				  char *path, size_t pathlen, bool *found_out,
				  struct e2_err *err);

/*
 * Whether s (n bytes) is a host name a DNS answer may name: labels of
 * letters, digits, '-' and '_' (SRV owner names), 1-63 bytes, no
 * leading or trailing '-', at most 253 bytes in all.
 */
bool dns_host_ok(const char *s, size_t n);

/*
 * Looks name up (type: 33 SRV or 16 TXT) into buf (cap bytes); *len_out
 * is the answer's length, 0 when the name or record does not exist (not
 * an error). Errors: E2_ERESOLVE (no answer from any server in time),
 * E2_EINVAL (name too long).
 */
enum e2_status dns_query(const char *name, int type, unsigned char *buf,
			 size_t cap, size_t *len_out, struct e2_err *err);

#endif /* E2_DNS_SRV_H */
