/* SPDX-License-Identifier: MIT */
/* msgfile.c -- checks a message file another program wrote (msgfile.h) */
#include "config.h"

#include "msgfile.h"

#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

/* The value of header field name (folded lines joined by one space) in
 * [hdr, hdr + len) into out (cut at outlen - 1); false when absent. */
static bool
msgfile_field(const char *hdr, size_t len, const char *name, char *out,
	      size_t outlen)
{
	size_t nl = strlen(name), i = 0, o = 0;

	while (i < len) {
		size_t eol = i;

		while (eol < len && hdr[eol] != '\n')
			eol++;
		if (eol - i > nl && hdr[i + nl] == ':' &&
		    strncasecmp(hdr + i, name, nl) == 0) {
			size_t p = i + nl + 1;

			for (;;) {
				for (; p < eol; p++) {
					char ch = hdr[p];

					if (ch == '\r' || ch == '\t')
						ch = ' ';
					if (ch == ' ' &&
					    (o == 0 || out[o - 1] == ' '))
						continue;
					if (o + 1 < outlen)
						out[o++] = ch;
				}
				/* a folded line goes on with SP or HTAB */
				if (eol + 1 >= len || (hdr[eol + 1] != ' ' &&
						       hdr[eol + 1] != '\t'))
					break;
				p = eol + 1;
				for (eol = p; eol < len && hdr[eol] != '\n';
				     eol++)
					;
				if (o > 0 && out[o - 1] != ' ' &&
				    o + 1 < outlen)
					out[o++] = ' ';
			}
			while (o > 0 && out[o - 1] == ' ')
				o--;
			out[o] = '\0';
			return true;
		}
		i = eol + 1;
	}
	return false;
}

static void
msgfile_id(const char *hdr, size_t len, struct msgfile_info *out)
{
	char v[MSGFILE_ID_MAX + 2];
	size_t n;

	out->message_id[0] = '\0';
	if (!msgfile_field(hdr, len, "Message-ID", v, sizeof(v)))
		return;
	n = strlen(v);
	if (n == 0 || n > MSGFILE_ID_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] > '~' ||
		    v[i] == '"' || v[i] == '\\')
			return;
	memcpy(out->message_id, v, n + 1);
}

static void
msgfile_date(const char *hdr, size_t len, struct msgfile_info *out)
{
	char v[256];
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;

	out->has_date = false;
	if (!msgfile_field(hdr, len, "Date", v, sizeof(v)) ||
	    mailimf_date_time_parse(v, strlen(v), &idx, &dt) !=
		    MAILIMF_NO_ERROR ||
	    dt == NULL)
		return;
	if (dt->dt_day >= 1 && dt->dt_day <= 31 && dt->dt_month >= 1 &&
	    dt->dt_month <= 12 && dt->dt_year >= 1970 && dt->dt_year <= 9999 &&
	    dt->dt_hour >= 0 && dt->dt_hour <= 23 && dt->dt_min >= 0 &&
	    dt->dt_min <= 59 && dt->dt_sec >= 0 && dt->dt_sec <= 60 &&
	    dt->dt_zone >= -2359 && dt->dt_zone <= 2359) {
		out->date = (struct msgfile_date){
			.day = dt->dt_day,
			.month = dt->dt_month,
			.year = dt->dt_year,
			.hour = dt->dt_hour,
			.min = dt->dt_min,
			.sec = dt->dt_sec > 59 ? 59 : dt->dt_sec,
			.zone = dt->dt_zone,
		};
		out->has_date = true;
	}
	mailimf_date_time_free(dt);
}

enum e2_status
msgfile_check(const char *buf, size_t len, size_t max, struct msgfile_info *out,
	      struct e2_err *err)
{
	size_t i = 0, hdr_len, lf = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return e2_fail(err, E2_EINVAL, "empty");
	if (len > max)
		return e2_fail(err, E2_EINVAL, "larger than %zu bytes", max);
	if (memchr(buf, '\0', len) != NULL)
		return e2_fail(err, E2_EINVAL, "contains a NUL byte");
	/* field-name = 1*(%d33-57 / %d59-126) ":" (RFC 5322 3.6.8) */
	while (i < len && buf[i] > ' ' && buf[i] <= '~' && buf[i] != ':')
		i++;
	if (i == 0 || i == len || buf[i] != ':')
		return e2_fail(err, E2_EINVAL, "no header");
	/* the header ends at the first empty line */
	for (hdr_len = 0; hdr_len < len; hdr_len++) {
		if (buf[hdr_len] != '\n')
			continue;
		if (hdr_len + 1 < len &&
		    (buf[hdr_len + 1] == '\n' ||
		     (buf[hdr_len + 1] == '\r' && hdr_len + 2 < len &&
		      buf[hdr_len + 2] == '\n')))
			break;
	}
	msgfile_id(buf, hdr_len, out);
	msgfile_date(buf, hdr_len, out);
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			lf++;
	out->wire_size = len + lf;
	return E2_OK;
}

void
msgfile_wire(const char *buf, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = buf[i];
	}
}
