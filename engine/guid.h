/* SPDX-License-Identifier: MIT */
/* guid.h -- an account GUID's accepted spellings and its canonical form */
#ifndef E2_GUID_H
#define E2_GUID_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Why a spelling is not a GUID; GUID_OK when it is. The CSP turns these
 * into LocURI errors (csp_locuri.c), the tools into "no such account".
 */
enum guid_verdict {
	GUID_OK = 0,
	GUID_NO_BRACES,   /* none of "{", "%7B", "0x7B" opens it */
	GUID_UNCLOSED,    /* opened with one form, not closed with it */
	GUID_PLACEHOLDER, /* "{(email account GUID)}" from a sample */
	GUID_BAD_BODY,    /* not hex groups 8-4-4-4-12 (or 11) */
	GUID_TOO_LONG,    /* does not fit the output buffer */
};

/* The canonical form's size, NUL included: "{" 36 "}" NUL. */
#define GUID_CANON_SIZE 39

/*
 * Writes the canonical spelling of s (len bytes) to out: "{" body "}" with
 * the hex digits upper-case. s is braced in one of the three forms the CSP
 * accepts ("{...}", "%7B...%7D", "0x7B...0x7D", the brace letters in any
 * case); with bare_ok a body without braces is accepted too (a command
 * line). *open_out and *close_out (may be NULL) get the brace form found,
 * for messages. Pure; out is written only on GUID_OK.
 */
enum guid_verdict guid_canon(const char *s, size_t len, bool bare_ok, char *out,
			     size_t out_size, const char **open_out,
			     const char **close_out);

#endif /* E2_GUID_H */
