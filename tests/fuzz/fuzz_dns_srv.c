/* SPDX-License-Identifier: MIT */
/* fuzz_dns_srv.c -- libFuzzer harness for the SRV and TXT answer parsers */
/* fuzz-sources: transports/dns_srv.c engine/err.c */
/* fuzz-pkgs: libcrypto */
/*
 * Input: a DNS answer as a resolver hands it over (untrusted bytes, RFC
 * 1035 with compression). Both parsers read it. Checks (dns_srv.h):
 * - at most DNS_SRV_MAX records, each target a host name dns_host_ok()
 *   accepts, with a port, in priority then descending weight order;
 * - "none" only with no record;
 * - a TXT path, when found, starts with '/' and is printable ASCII
 *   without spaces.
 * ASan and UBSan catch any read outside the answer.
 */
#include "config.h"

#include "transports/dns_srv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_srv(const struct dns_srv_set *s)
{
	if (s->n > DNS_SRV_MAX || (s->none && s->n != 0))
		abort();
	for (size_t i = 0; i < s->n; i++) {
		const struct dns_srv *r = &s->srv[i];

		if (!dns_host_ok(r->target, strlen(r->target)) || r->port == 0)
			abort();
		if (i > 0 && (s->srv[i - 1].priority > r->priority ||
			      (s->srv[i - 1].priority == r->priority &&
			       s->srv[i - 1].weight < r->weight)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_srv_set s;
	char path[DNS_PATH_MAX];
	bool found = false;
	unsigned char *copy;

	/* an exact-size copy: ASan sees any read past the answer */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	if (dns_parse_srv(copy, size, &s, NULL) == E2_OK)
		fuzz_check_srv(&s);
	if (dns_parse_txt_path(copy, size, path, sizeof(path), &found, NULL) ==
		    E2_OK &&
	    found) {
		if (path[0] != '/')
			abort();
		for (size_t i = 0; path[i] != '\0'; i++)
			if ((unsigned char)path[i] <= 0x20 ||
			    (unsigned char)path[i] >= 0x7f)
				abort();
	}
	free(copy);
	return 0;
}
