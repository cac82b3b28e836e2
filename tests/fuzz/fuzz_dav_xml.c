/* SPDX-License-Identifier: MIT */
/* fuzz_dav_xml.c -- libFuzzer harness for dav_xml_parse() (see run.sh) */
/* fuzz-sources: transports/dav_xml.c transports/xml_read.c engine/err.c */
/* fuzz-pkgs: libxml-2.0 libcrypto */
#include "config.h"

#include "transports/dav_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every string so ASan sees a bad pointer or a missing NUL. */
static size_t
fuzz_dav_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static bool
fuzz_dav_has_control(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
fuzz_dav_propstat(const struct dav_propstat *p)
{
	const char *shorts[] = {p->etag,        p->ctag,  p->sync_token,
				p->displayname, p->color, p->content_type,
				p->principal};

	if (p->status < 100 || p->status > 599)
		abort();
	for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
		/* what goes into a header or a file name has no control */
		if (fuzz_dav_len(shorts[i]) > DAV_XML_MAX_HREF ||
		    fuzz_dav_has_control(shorts[i]))
			abort();
	}
	if (p->n_ab_homes > DAV_XML_MAX_HOMES ||
	    p->n_cal_homes > DAV_XML_MAX_HOMES)
		abort();
	for (size_t i = 0; i < p->n_ab_homes; i++)
		if (fuzz_dav_has_control(p->ab_homes[i]))
			abort();
	for (size_t i = 0; i < p->n_cal_homes; i++)
		if (fuzz_dav_has_control(p->cal_homes[i]))
			abort();
	if (p->data != NULL && strlen(p->data) != p->data_len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dav_multistatus *ms = NULL;
	struct e2_err err;
	size_t refused = 0, total = 0;
	enum e2_status rc;

	e2_err_clear(&err);
	rc = dav_xml_parse((const char *)data, size, &ms, &err);
	if (rc != E2_OK) {
		/* a failure names itself and leaves nothing behind */
		if (ms != NULL || err.msg[0] == '\0' || err.code != rc)
			abort();
		return 0;
	}
	if (ms == NULL || ms->n_responses > DAV_XML_MAX_RESPONSES ||
	    fuzz_dav_has_control(ms->sync_token))
		abort();
	for (size_t i = 0; i < ms->n_responses; i++) {
		const struct dav_response *r = &ms->responses[i];

		if (r->refused) {
			refused++;
			if (r->n_propstats != 0 || r->reason[0] == '\0')
				abort();
			continue;
		}
		if (r->href == NULL || r->href_norm == NULL ||
		    fuzz_dav_has_control(r->href) ||
		    fuzz_dav_has_control(r->href_norm) ||
		    strstr(r->href_norm, "/../") != NULL)
			abort();
		for (size_t j = 0; j < r->n_propstats; j++) {
			fuzz_dav_propstat(&r->propstats[j]);
			total += r->propstats[j].data_len;
		}
		(void)dav_response_found(r);
	}
	if (refused != ms->n_refused || total > ms->data_total ||
	    total > DAV_XML_MAX_DATA)
		abort();
	dav_xml_free(&ms);
	if (ms != NULL)
		abort();
	return 0;
}
