/* SPDX-License-Identifier: MIT */
/* report.c -- prints a connection-test report as text or as one JSON document
 */
#include "config.h"

#include "email2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const report_mode_names[] = {
	[E2_MODE_TLS] = "tls",
	[E2_MODE_STARTTLS] = "starttls",
	[E2_MODE_PLAIN] = "plain",
};
_Static_assert(sizeof(report_mode_names) / sizeof(report_mode_names[0]) ==
		       E2_MODE_COUNT,
	       "every e2_mode needs a name");

static const char *const report_login_names[] = {
	[E2_LOGIN_NOT_TRIED] = "not_tried",
	[E2_LOGIN_OK] = "ok",
	[E2_LOGIN_FAILED] = "failed",
	[E2_LOGIN_SKIPPED] = "skipped",
};

static const char *
report_mode_name(enum e2_mode mode)
{
	if ((unsigned)mode >= E2_MODE_COUNT)
		return "unknown";
	return report_mode_names[mode];
}

static const char *
report_login_name(enum e2_login login)
{
	if ((unsigned)login >=
	    sizeof(report_login_names) / sizeof(report_login_names[0]))
		return "unknown";
	return report_login_names[login];
}

/* Reports come from servers: never trust a fixed buffer to be terminated. */
#define REPORT_LEN(field) strnlen((field), sizeof(field))

static double
report_ms(double ms)
{
	return isfinite(ms) && ms >= 0 ? ms : 0;
}

/* ---- text ------------------------------------------------------------------
 */

/* Server text may hold terminal escapes: print controls and non-ASCII as \xHH
 */
static void
report_text_put(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\') {
			fputc('\\', f);
			fputc('x', f);
			fputc(hex[c >> 4], f);
			fputc(hex[c & 0xf], f);
		} else {
			fputc(c, f);
		}
	}
}

#define REPORT_TEXT(f, field) report_text_put((f), (field), REPORT_LEN(field))

/* " ok" or " failed: CODE: error", then " (N ms)" and the line's end. */
static void
report_text_result(FILE *f, enum e2_status result, const char *error,
		   size_t error_len, double elapsed_ms)
{
	if (result == E2_OK) {
		fputs(" ok", f);
	} else {
		fprintf(f, " failed: %s", e2_status_name(result));
		if (error_len > 0) {
			fputs(": ", f);
			report_text_put(f, error, error_len);
		}
	}
	fprintf(f, " (%.0f ms)\n", report_ms(elapsed_ms));
}

/*
 * The certificate block of an attempt, mail or DAV (the two report
 * structs name these fields alike): subject, issuer, the verdict, and the
 * fingerprint and dates to compare and pin (issue 9).
 */
#define REPORT_CERT(f, at)                                                     \
	do {                                                                   \
		fputs("       certificate: ", f);                              \
		REPORT_TEXT(f, (at)->cert_subject);                            \
		fputs("\n         issuer: ", f);                               \
		REPORT_TEXT(f, (at)->cert_issuer);                             \
		fprintf(f, "\n         verified: %s",                          \
			(at)->cert_verified ? "yes" : "no");                   \
		if ((at)->verify_result[0] != '\0') {                          \
			fputs(" (", f);                                        \
			REPORT_TEXT(f, (at)->verify_result);                   \
			fputc(')', f);                                         \
		}                                                              \
		fputc('\n', f);                                                \
		if ((at)->cert_sha256[0] != '\0') {                            \
			fputs("         fingerprint: ", f);                    \
			REPORT_TEXT(f, (at)->cert_sha256);                     \
			if ((at)->cert_pinned)                                 \
				fputs(" (pinned for this account and host)",   \
				      f);                                      \
			fputs("\n         valid: ", f);                        \
			REPORT_TEXT(f, (at)->cert_not_before);                 \
			fputs(" to ", f);                                      \
			REPORT_TEXT(f, (at)->cert_not_after);                  \
			fputc('\n', f);                                        \
		}                                                              \
	} while (0)

/* The TLS line of an attempt that established TLS. */
#define REPORT_TLS(f, at)                                                      \
	do {                                                                   \
		if ((at)->tls) {                                               \
			fputs("       tls: ", f);                              \
			REPORT_TEXT(f, (at)->tls_version);                     \
			fputc(' ', f);                                         \
			REPORT_TEXT(f, (at)->cipher);                          \
			fputc('\n', f);                                        \
		}                                                              \
	} while (0)

static void
report_text_attempt(const struct e2_attempt *at, size_t n, FILE *f)
{
	fprintf(f, "  %zu. %-8s ", n, report_mode_name(at->mode));
	REPORT_TEXT(f, at->host);
	fprintf(f, ":%u", (unsigned)at->port);
	if (at->address[0] != '\0') {
		fputs(" [", f);
		REPORT_TEXT(f, at->address);
		fputc(']', f);
	}
	report_text_result(f, at->result, at->error, REPORT_LEN(at->error),
			   at->elapsed_ms);
	REPORT_TLS(f, at);
	if (at->cert_subject[0] != '\0' || at->verify_result[0] != '\0')
		REPORT_CERT(f, at);
	if (at->capabilities[0] != '\0') {
		fputs("       capabilities: ", f);
		REPORT_TEXT(f, at->capabilities);
		fputc('\n', f);
	}
	if (at->auth_mechs[0] != '\0') {
		fputs("       auth mechanisms: ", f);
		REPORT_TEXT(f, at->auth_mechs);
		fputc('\n', f);
	}
	if (at->login != E2_LOGIN_NOT_TRIED) {
		fprintf(f, "       login: %s", report_login_name(at->login));
		if (at->login_mech[0] != '\0') {
			fputs(" (", f);
			REPORT_TEXT(f, at->login_mech);
			fputc(')', f);
		}
		if (at->cleartext_login)
			fputs(", CLEARTEXT: credentials were sent without TLS",
			      f);
		fputc('\n', f);
	}
}

static void
report_text_side(const struct e2_side_report *s, const char *label, FILE *f)
{
	if (!s->tested) {
		fprintf(f, "%s: not tested\n", label);
		return;
	}
	fprintf(f, "%s: %s ", label, s->protocol != NULL ? s->protocol : "?");
	REPORT_TEXT(f, s->host);
	if (s->port != 0)
		fprintf(f, ":%u", (unsigned)s->port);
	else
		fputs(" (default ports)", f);
	fprintf(f, ", TLS %s\n", s->tls_required ? "required" : "optional");
	for (size_t i = 0; i < s->n_attempts && i < E2_MODE_COUNT; i++)
		report_text_attempt(&s->attempts[i], i + 1, f);
	if (s->ok) {
		fprintf(f, "  result: ok (%.0f ms)\n",
			report_ms(s->elapsed_ms));
	} else {
		fprintf(f, "  result: failed: %s", e2_status_name(s->status));
		if (s->error[0] != '\0') {
			fputs(": ", f);
			REPORT_TEXT(f, s->error);
		}
		fprintf(f, " (%.0f ms)\n", report_ms(s->elapsed_ms));
	}
}

/* True when a login of side s sent credentials without TLS. */
static bool
report_cleartext(const struct e2_side_report *s)
{
	for (size_t i = 0; i < s->n_attempts && i < E2_MODE_COUNT; i++)
		if (s->attempts[i].cleartext_login)
			return true;
	return false;
}

/* ---- issue 10: contacts and calendars ---------------------------------- */

static void
report_text_dav_attempt(const struct e2_dav_attempt *at, size_t n, FILE *f)
{
	fprintf(f, "  %zu. ", n);
	REPORT_TEXT(f, at->url);
	report_text_result(f, at->result, at->error, REPORT_LEN(at->error),
			   at->elapsed_ms);
	REPORT_TLS(f, at);
	if (at->cert_sha256[0] != '\0')
		REPORT_CERT(f, at);
	if (at->login != E2_LOGIN_NOT_TRIED) {
		fprintf(f, "       login: %s", report_login_name(at->login));
		if (at->cleartext_login)
			fputs(", CLEARTEXT: credentials were sent without TLS",
			      f);
		fputc('\n', f);
	}
}

static void
report_text_dav(const struct e2_dav_report *r, const char *label, FILE *f)
{
	const char *state = r->state != NULL ? r->state : "failed";

	if (!r->tested)
		return;
	fprintf(f, "%s: %s", label,
		strcmp(label, "contacts") == 0 ? "carddav" : "caldav");
	if (r->found_by[0] != '\0') {
		fputs(", found by ", f);
		REPORT_TEXT(f, r->found_by);
	}
	fprintf(f, ", TLS %s\n", r->tls_required ? "required" : "optional");
	for (size_t i = 0; i < r->n_attempts && i < E2_DAV_ATTEMPTS_MAX; i++)
		report_text_dav_attempt(&r->attempts[i], i + 1, f);
	if (r->note[0] != '\0') {
		fputs("  note: ", f);
		REPORT_TEXT(f, r->note);
		fputc('\n', f);
	}
	if (r->ok) {
		fputs("  context: ", f);
		REPORT_TEXT(f, r->context_url);
		fputs("\n  principal: ", f);
		REPORT_TEXT(f, r->principal_url);
		fputs("\n  home set: ", f);
		REPORT_TEXT(f, r->home_url);
		fprintf(f, " (DAV header %s)\n",
			r->dav_confirmed ? "confirms it"
					 : "does not confirm it");
		fprintf(f, "  collections: %zu\n", r->n_collections);
		for (size_t i = 0; i < r->n_collections && i < E2_DAV_COLLS_MAX;
		     i++) {
			const struct e2_dav_collection *c = &r->collections[i];

			fputs("    ", f);
			REPORT_TEXT(f, c->href);
			fputs(" \"", f);
			REPORT_TEXT(f, c->displayname);
			fputc('"', f);
			if (c->components[0] != '\0') {
				fputs(" (", f);
				REPORT_TEXT(f, c->components);
				fputc(')', f);
			}
			fprintf(f, ", sync-collection: %s\n",
				c->sync_collection ? "yes" : "no");
		}
		fprintf(f, "  result: ok (%.0f ms)\n",
			report_ms(r->elapsed_ms));
		return;
	}
	fprintf(f, "  result: %s: %s", state, e2_status_name(r->status));
	if (r->error[0] != '\0') {
		fputs(": ", f);
		REPORT_TEXT(f, r->error);
	}
	fprintf(f, " (%.0f ms)\n", report_ms(r->elapsed_ms));
}

void
e2_conntest_print_text(const struct e2_conntest_report *rep, FILE *f)
{
	bool in = report_cleartext(&rep->in), out = report_cleartext(&rep->out);

	report_text_side(&rep->in, "incoming", f);
	report_text_side(&rep->out, "outgoing", f);
	report_text_dav(&rep->contacts, "contacts", f);
	report_text_dav(&rep->calendars, "calendars", f);
	fprintf(f, "verdict: %s", rep->ok ? "ok" : "failed");
	/* issue 9: as the sync summary says it (TAGPROPS 0 allowed it) */
	if (in || out)
		fprintf(f, " (login in cleartext: TAGPROPS %s%s%s %s not set)",
			in ? "8128000B" : "", in && out ? " and " : "",
			out ? "812C000B" : "", in && out ? "are" : "is");
	if (rep->contacts.cleartext || rep->calendars.cleartext)
		fprintf(f, " (DAV login in cleartext: %s%s%s not set)",
			rep->contacts.cleartext ? "CONTACTSSERVERREQUIRESSL"
						: "",
			rep->contacts.cleartext && rep->calendars.cleartext
				? " and "
				: "",
			rep->calendars.cleartext ? "CALENDARSERVERREQUIRESSL"
						 : "");
	fputc('\n', f);
}

/* ---- JSON ------------------------------------------------------------------
 */

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes are not one.
 */
static size_t
report_utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/*
 * A JSON string (RFC 8259 7): quote and backslash escaped, controls as
 * \n \r \t or \u00XX, valid UTF-8 kept, any other byte as \u00XX (its
 * Latin-1 reading) so the document stays valid.
 */
static void
report_json_str(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	fputc('"', f);
	while (i < len && p[i] != '\0') {
		unsigned char c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f);
			i++;
		} else if (c == '\r') {
			fputs("\\r", f);
			i++;
		} else if (c == '\t') {
			fputs("\\t", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", (unsigned)c);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else if ((n = report_utf8_len(p + i, len - i)) != 0) {
			fwrite(p + i, 1, n, f);
			i += n;
		} else {
			fprintf(f, "\\u%04x", (unsigned)c);
			i++;
		}
	}
	fputc('"', f);
}

/* "key": "value", or null when the value is empty */
static void
report_json_field(FILE *f, const char *key, const char *s, size_t len,
		  bool last)
{
	fprintf(f, "\"%s\": ", key);
	if (s == NULL || len == 0 || s[0] == '\0')
		fputs("null", f);
	else
		report_json_str(f, s, len);
	fputs(last ? "" : ", ", f);
}

#define REPORT_JSON(f, key, field)                                             \
	report_json_field((f), (key), (field), REPORT_LEN(field), false)

/* A space-separated list as a JSON array of strings. */
static void
report_json_words(FILE *f, const char *key, const char *s, size_t len)
{
	size_t i = 0;
	bool first = true;

	fprintf(f, "\"%s\": [", key);
	while (i < len && s[i] != '\0') {
		size_t start;

		while (i < len && s[i] == ' ')
			i++;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\0')
			i++;
		if (i == start)
			break;
		fputs(first ? "" : ", ", f);
		report_json_str(f, s + start, i - start);
		first = false;
	}
	fputs("], ", f);
}

static void
report_json_attempt(const struct e2_attempt *at, FILE *f)
{
	bool ok = at->result == E2_OK;

	fprintf(f, "{\"mode\": \"%s\", \"ok\": %s, \"status\": \"%s\", ",
		report_mode_name(at->mode), ok ? "true" : "false",
		e2_status_name(at->result));
	if (ok)
		fputs("\"error\": null, ", f);
	else if (at->error[0] != '\0')
		REPORT_JSON(f, "error", at->error);
	else
		report_json_field(f, "error", e2_status_name(at->result),
				  strlen(e2_status_name(at->result)), false);
	REPORT_JSON(f, "host", at->host);
	fprintf(f, "\"port\": %u, ", (unsigned)at->port);
	REPORT_JSON(f, "address", at->address);
	fprintf(f, "\"tls\": %s, ", at->tls ? "true" : "false");
	REPORT_JSON(f, "tls_version", at->tls_version);
	REPORT_JSON(f, "cipher", at->cipher);
	REPORT_JSON(f, "cert_subject", at->cert_subject);
	REPORT_JSON(f, "cert_issuer", at->cert_issuer);
	fprintf(f, "\"cert_verified\": %s, ",
		at->cert_verified ? "true" : "false");
	REPORT_JSON(f, "verify_result", at->verify_result);
	REPORT_JSON(f, "cert_sha256", at->cert_sha256);
	REPORT_JSON(f, "cert_not_before", at->cert_not_before);
	REPORT_JSON(f, "cert_not_after", at->cert_not_after);
	fprintf(f, "\"cert_pinned\": %s, ", at->cert_pinned ? "true" : "false");
	report_json_words(f, "capabilities", at->capabilities,
			  REPORT_LEN(at->capabilities));
	report_json_words(f, "auth_mechs", at->auth_mechs,
			  REPORT_LEN(at->auth_mechs));
	fprintf(f, "\"login\": \"%s\", ", report_login_name(at->login));
	REPORT_JSON(f, "login_mech", at->login_mech);
	fprintf(f, "\"cleartext_login\": %s, \"elapsed_ms\": %.1f}",
		at->cleartext_login ? "true" : "false",
		report_ms(at->elapsed_ms));
}

static void
report_json_side(const struct e2_side_report *s, FILE *f)
{
	if (!s->tested) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"ok\": %s, \"status\": \"%s\", ",
		s->ok ? "true" : "false",
		e2_status_name(s->ok ? E2_OK : s->status));
	if (s->ok)
		fputs("\"error\": null, ", f);
	else if (s->error[0] != '\0')
		REPORT_JSON(f, "error", s->error);
	else
		report_json_field(f, "error", e2_status_name(s->status),
				  strlen(e2_status_name(s->status)), false);
	report_json_field(f, "protocol", s->protocol,
			  s->protocol != NULL ? strlen(s->protocol) : 0, false);
	REPORT_JSON(f, "host", s->host);
	if (s->port != 0)
		fprintf(f, "\"port\": %u, ", (unsigned)s->port);
	else
		fputs("\"port\": null, ", f);
	fprintf(f, "\"tls_required\": %s, \"elapsed_ms\": %.1f, ",
		s->tls_required ? "true" : "false", report_ms(s->elapsed_ms));
	fputs("\"attempts\": [", f);
	for (size_t i = 0; i < s->n_attempts && i < E2_MODE_COUNT; i++) {
		fputs(i == 0 ? "\n    " : ",\n    ", f);
		report_json_attempt(&s->attempts[i], f);
	}
	fputs("]}", f);
}

static void
report_json_dav_attempt(const struct e2_dav_attempt *at, FILE *f)
{
	bool ok = at->result == E2_OK;

	fprintf(f, "{\"ok\": %s, \"status\": \"%s\", ", ok ? "true" : "false",
		e2_status_name(at->result));
	if (ok)
		fputs("\"error\": null, ", f);
	else
		REPORT_JSON(f, "error", at->error);
	REPORT_JSON(f, "url", at->url);
	REPORT_JSON(f, "host", at->host);
	fprintf(f, "\"https\": %s, \"tls\": %s, ", at->https ? "true" : "false",
		at->tls ? "true" : "false");
	REPORT_JSON(f, "tls_version", at->tls_version);
	REPORT_JSON(f, "cipher", at->cipher);
	REPORT_JSON(f, "cert_subject", at->cert_subject);
	REPORT_JSON(f, "cert_issuer", at->cert_issuer);
	fprintf(f, "\"cert_verified\": %s, ",
		at->cert_verified ? "true" : "false");
	REPORT_JSON(f, "verify_result", at->verify_result);
	REPORT_JSON(f, "cert_sha256", at->cert_sha256);
	REPORT_JSON(f, "cert_not_before", at->cert_not_before);
	REPORT_JSON(f, "cert_not_after", at->cert_not_after);
	fprintf(f, "\"cert_pinned\": %s, ", at->cert_pinned ? "true" : "false");
	fprintf(f, "\"login\": \"%s\", ", report_login_name(at->login));
	fprintf(f, "\"cleartext_login\": %s, \"elapsed_ms\": %.1f}",
		at->cleartext_login ? "true" : "false",
		report_ms(at->elapsed_ms));
}

static void
report_json_dav(const struct e2_dav_report *r, FILE *f)
{
	const char *state = r->state != NULL ? r->state : "failed";

	if (!r->tested) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"ok\": %s, \"state\": \"%s\", \"status\": \"%s\", ",
		r->ok ? "true" : "false", state,
		e2_status_name(r->ok ? E2_OK : r->status));
	if (r->ok)
		fputs("\"error\": null, ", f);
	else
		REPORT_JSON(f, "error", r->error);
	report_json_field(f, "node", r->node,
			  r->node != NULL ? strlen(r->node) : 0, false);
	REPORT_JSON(f, "found_by", r->found_by);
	fprintf(f, "\"tls_required\": %s, \"cleartext\": %s, ",
		r->tls_required ? "true" : "false",
		r->cleartext ? "true" : "false");
	REPORT_JSON(f, "note", r->note);
	REPORT_JSON(f, "context", r->context_url);
	REPORT_JSON(f, "principal", r->principal_url);
	REPORT_JSON(f, "home_set", r->home_url);
	fprintf(f, "\"dav_confirmed\": %s, \"elapsed_ms\": %.1f, ",
		r->dav_confirmed ? "true" : "false", report_ms(r->elapsed_ms));
	fputs("\"attempts\": [", f);
	for (size_t i = 0; i < r->n_attempts && i < E2_DAV_ATTEMPTS_MAX; i++) {
		fputs(i == 0 ? "\n    " : ",\n    ", f);
		report_json_dav_attempt(&r->attempts[i], f);
	}
	fprintf(f, "], \"n_collections\": %zu, \"collections\": [",
		r->n_collections);
	for (size_t i = 0; i < r->n_collections && i < E2_DAV_COLLS_MAX; i++) {
		const struct e2_dav_collection *c = &r->collections[i];

		fputs(i == 0 ? "\n    {" : ",\n    {", f);
		REPORT_JSON(f, "href", c->href);
		REPORT_JSON(f, "displayname", c->displayname);
		report_json_words(f, "components", c->components,
				  REPORT_LEN(c->components));
		fprintf(f, "\"sync_collection\": %s}",
			c->sync_collection ? "true" : "false");
	}
	fputs("]}", f);
}

void
e2_conntest_print_json(const struct e2_conntest_report *rep, FILE *f)
{
	fprintf(f, "{\"ok\": %s,\n \"in\": ", rep->ok ? "true" : "false");
	report_json_side(&rep->in, f);
	fputs(",\n \"out\": ", f);
	report_json_side(&rep->out, f);
	fputs(",\n \"contacts\": ", f);
	report_json_dav(&rep->contacts, f);
	fputs(",\n \"calendars\": ", f);
	report_json_dav(&rep->calendars, f);
	fputs("}\n", f);
}
