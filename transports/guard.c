/* SPDX-License-Identifier: MIT */
/* guard.c -- the server-byte guard: IMAP, POP3 and SMTP scanners */
#include "config.h"

#include "transports/guard.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Design (see guard.h for the rules): one byte at a time, a small state per
 * protocol, no look-ahead, so that a verdict never depends on where reads
 * split the stream. IMAP literal bytes pass in bulk (only counted). What is
 * not certain to be framed as libetpan 1.9.4 frames it is refused: a
 * refused server costs a sync, a mis-framed one can run libetpan's parser
 * on bytes nobody checked.
 */

enum guard_imap_kind {
	GUARD_KIND_HEAD = 0, /* the response's first words are not known yet */
	GUARD_KIND_TEXT,     /* status response or continuation: resp-text */
	GUARD_KIND_FETCH,    /* "* n FETCH": literals, body items large */
	GUARD_KIND_MAILBOX,  /* LIST, LSUB, XLIST, STATUS: small literals */
	GUARD_KIND_PLAIN,    /* anything else: no "{" outside strings */
};

enum guard_imap_tok {
	GUARD_TOK_NONE = 0, /* between tokens */
	GUARD_TOK_ATOM,
	GUARD_TOK_QUOTED,
	GUARD_TOK_QUOTED_ESC, /* after a backslash in a quoted string */
	GUARD_TOK_BRACE,      /* "{" and digits */
	GUARD_TOK_BRACE_END,  /* "{digits}": only CR may follow */
	GUARD_TOK_BRACE_CR,   /* "{digits}" CR: only LF may follow */
};

/* resp-text: ["[" resp-text-code "]" SP] text */
enum guard_imap_code {
	GUARD_CODE_START = 0, /* spaces, then "[" or text */
	GUARD_CODE_NAME,      /* the code's name so far in word */
	GUARD_CODE_TEXT,      /* the rest of the line is text */
	GUARD_PF_SP,          /* "[PERMANENTFLAGS": SP */
	GUARD_PF_OPEN,        /* "(" */
	GUARD_PF_FIRST,       /* after "(": a flag or ")" */
	GUARD_PF_NEXT,        /* after SP: a flag */
	GUARD_PF_BSLASH,      /* after "\": "*" or an atom char */
	GUARD_PF_FLAG,        /* in a flag: atom chars, SP or ")" */
	GUARD_PF_STAR,        /* after "\*": SP or ")" */
	GUARD_PF_CLOSE,       /* after ")": "]" */
	GUARD_CODE_NEEDTEXT,  /* "[ALERT]", "[PARSE]": text must follow */
	GUARD_CODE_NAMEEND,   /* "[ALERT" SP: blanks, then "]" or text */
};

enum guard_pop3_state {
	GUARD_POP3_STATUS = 0, /* a reply's first line is next */
	GUARD_POP3_DATA,       /* the data lines of a multi-line reply */
};

enum guard_pop3_expect {
	GUARD_EXPECT_SINGLE = 0,
	GUARD_EXPECT_MULTI, /* "+OK" is followed by data lines and "." */
	GUARD_EXPECT_AUTH,  /* "+ " continuations until "+OK" or "-ERR" */
};

static const char *const guard_names[] = {
	[GUARD_IMAP] = "imap response",
	[GUARD_POP3] = "pop3 reply",
	[GUARD_SMTP] = "smtp reply",
};

static enum e2_status guard_refuse(struct guard *g, struct e2_err *err,
				   const char *fmt, ...) E2_PRINTF(3, 4);

static enum e2_status
guard_refuse(struct guard *g, struct e2_err *err, const char *fmt, ...)
{
	char why[128], q[200];
	va_list ap;

	g->failed = true;
	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return e2_fail(err, E2_EPROTO, "%s \"%s\": %s", guard_names[g->proto],
		       e2_quote_reply(q, sizeof(q), g->head, g->head_len), why);
}

static void
guard_head_add(struct guard *g, unsigned char ch)
{
	if (ch != '\r' && ch != '\n' && g->head_len < sizeof(g->head))
		g->head[g->head_len++] = (char)ch;
}

static char
guard_upper(unsigned char ch)
{
	return (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
}

/* libetpan's ATOM-CHAR: any byte but NUL, CTL and atom-specials. */
static bool
guard_atom_char(unsigned char ch)
{
	return ch > 0x1f && strchr("(){ %*\"\\]", ch) == NULL;
}

void
guard_init(struct guard *g, enum guard_proto proto)
{
	memset(g, 0, sizeof(*g));
	g->proto = proto;
	if (proto == GUARD_POP3)
		g->pop_q[g->pop_n++] = GUARD_EXPECT_SINGLE; /* the greeting */
}

/* ---- IMAP ---------------------------------------------------------------- */

static void
guard_imap_reset(struct guard *g)
{
	g->kind = GUARD_KIND_HEAD;
	g->tok = GUARD_TOK_NONE;
	g->code = GUARD_CODE_START;
	g->depth = g->bracket = 0;
	g->att_large = g->lit_large = false;
	g->word_len = 0;
	g->head_len = 0;
	g->line_len = 0;
	g->resp_bytes = 0;
}

static bool
guard_word_is(const char *w, size_t n, const char *s)
{
	size_t sl = strlen(s);

	if (n != sl)
		return false;
	for (size_t i = 0; i < n; i++)
		if (guard_upper((unsigned char)w[i]) != s[i])
			return false;
	return true;
}

/*
 * The kind of the response whose first bytes are head (words split by SP
 * and TAB, the last one complete), or GUARD_KIND_HEAD when more words are
 * needed. sp: the byte ending the last word is SP or TAB.
 */
static enum guard_imap_kind
guard_imap_classify(const char *head, size_t len, bool sp)
{
	const char *w[3];
	size_t wl[3], nw = 0;

	for (size_t i = 0; i < len && nw < 3;) {
		while (i < len && (head[i] == ' ' || head[i] == '\t'))
			i++;
		if (i == len)
			break;
		w[nw] = head + i;
		while (i < len && head[i] != ' ' && head[i] != '\t')
			i++;
		wl[nw] = (size_t)(head + i - w[nw]);
		nw++;
	}
	if (nw < 2)
		return GUARD_KIND_HEAD;
	if (wl[0] == 1 && w[0][0] == '*') {
		static const char *const text[] = {"OK", "NO", "BAD", "BYE",
						   "PREAUTH"};
		static const char *const mbox[] = {"LIST", "LSUB", "XLIST",
						   "STATUS"};
		bool digits = true;

		for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
			if (guard_word_is(w[1], wl[1], text[i]))
				return sp ? GUARD_KIND_TEXT : GUARD_KIND_PLAIN;
		for (size_t i = 0; i < sizeof(mbox) / sizeof(mbox[0]); i++)
			if (guard_word_is(w[1], wl[1], mbox[i]))
				return GUARD_KIND_MAILBOX;
		for (size_t i = 0; i < wl[1]; i++)
			if (w[1][i] < '0' || w[1][i] > '9')
				digits = false;
		if (!digits)
			return GUARD_KIND_PLAIN;
		if (nw < 3)
			return sp ? GUARD_KIND_HEAD : GUARD_KIND_PLAIN;
		return guard_word_is(w[2], wl[2], "FETCH") ? GUARD_KIND_FETCH
							   : GUARD_KIND_PLAIN;
	}
	if (guard_word_is(w[1], wl[1], "OK") ||
	    guard_word_is(w[1], wl[1], "NO") ||
	    guard_word_is(w[1], wl[1], "BAD"))
		return sp ? GUARD_KIND_TEXT : GUARD_KIND_PLAIN;
	return GUARD_KIND_PLAIN;
}

/* A FETCH item whose value is a message body or part (RFC 3501 7.4.2). */
static bool
guard_body_item(const char *w, size_t n)
{
	return (n >= 5 && memcmp(w, "BODY[", 5) == 0) ||
	       (n >= 7 && memcmp(w, "BINARY[", 7) == 0) ||
	       guard_word_is(w, n, "RFC822") ||
	       guard_word_is(w, n, "RFC822.HEADER") ||
	       guard_word_is(w, n, "RFC822.TEXT");
}

/*
 * A byte of a response code's name. libetpan matches names as prefixes,
 * case-insensitive, and then:
 * - "[PERMANENTFLAGS" SP: dereferences a NULL list unless a flag or ")"
 *   follows "(": the list is checked strictly (GUARD_PF_*); in the
 *   greeting, parsed without a parser context, any PERMANENTFLAGS crashes
 *   it (found by tests/fuzz/fuzz_guard_imap.c): refused;
 * - "[BADCHARSET": reads astrings (literals and quoted strings across
 *   lines), and a second BADCHARSET frees the new list and keeps it: never
 *   needed (email2 sends no CHARSET), refused;
 * - "[ALERT]" and "[PARSE]" with no text after them: strdup(NULL) (found
 *   by tests/fuzz/fuzz_guard_imap.c): text must follow. libetpan skips
 *   blanks before the "]" as well ("[ALERT  ]", found by the same
 *   harness in CI): those count as the name's end.
 */
static enum e2_status
guard_imap_code_name(struct guard *g, unsigned char ch, bool atom,
		     struct e2_err *err)
{
	static const char *const names[] = {"PERMANENTFLAGS", "BADCHARSET",
					    "ALERT", "PARSE"};
	bool prefix = false;

	/* libetpan skips blanks before the name too ("[ PERMANENTFLAGS") */
	if (g->word_len == 0 && (ch == ' ' || ch == '\t'))
		return E2_OK;
	if (!atom) {
		bool bare = guard_word_is(g->word, g->word_len, "ALERT") ||
			    guard_word_is(g->word, g->word_len, "PARSE");

		if (bare && ch == ']')
			g->code = GUARD_CODE_NEEDTEXT;
		else if (bare && (ch == ' ' || ch == '\t'))
			g->code = GUARD_CODE_NAMEEND;
		else
			g->code = GUARD_CODE_TEXT;
		return E2_OK;
	}
	if (g->word_len < sizeof(g->word))
		g->word[g->word_len++] = guard_upper(ch);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (g->word_len <= strlen(names[i]) &&
		    memcmp(g->word, names[i], g->word_len) == 0)
			prefix = true;
	if (guard_word_is(g->word, g->word_len, "PERMANENTFLAGS") &&
	    !g->greeted)
		return guard_refuse(g, err,
				    "PERMANENTFLAGS response code in the "
				    "greeting");
	if (guard_word_is(g->word, g->word_len, "PERMANENTFLAGS"))
		g->code = GUARD_PF_SP;
	else if (guard_word_is(g->word, g->word_len, "BADCHARSET"))
		return guard_refuse(g, err, "BADCHARSET response code");
	else if (!prefix)
		g->code = GUARD_CODE_TEXT;
	return E2_OK;
}

/* One byte of resp-text (after "* OK", "tag NO", "+", ...). */
static enum e2_status
guard_imap_text(struct guard *g, unsigned char ch, struct e2_err *err)
{
	bool atom = guard_atom_char(ch);

	switch ((enum guard_imap_code)g->code) {
	case GUARD_CODE_START:
		if (ch == ' ' || ch == '\t')
			return E2_OK;
		if (ch == '[') {
			g->code = GUARD_CODE_NAME;
			g->word_len = 0;
		} else {
			g->code = GUARD_CODE_TEXT;
		}
		return E2_OK;
	case GUARD_CODE_NAME:
		return guard_imap_code_name(g, ch, atom, err);
	case GUARD_CODE_TEXT:
		return E2_OK;
	case GUARD_CODE_NEEDTEXT:
		if (ch != ' ' && ch != '\t')
			g->code = GUARD_CODE_TEXT;
		return E2_OK;
	case GUARD_CODE_NAMEEND:
		if (ch == ']')
			g->code = GUARD_CODE_NEEDTEXT;
		else if (ch != ' ' && ch != '\t')
			g->code = GUARD_CODE_TEXT;
		return E2_OK;
	case GUARD_PF_SP:
		if (ch != ' ')
			break;
		g->code = GUARD_PF_OPEN;
		return E2_OK;
	case GUARD_PF_OPEN:
		if (ch != '(')
			break;
		g->code = GUARD_PF_FIRST;
		return E2_OK;
	case GUARD_PF_FIRST:
	case GUARD_PF_NEXT:
		if (ch == ')' && g->code == GUARD_PF_FIRST)
			g->code = GUARD_PF_CLOSE;
		else if (ch == '\\')
			g->code = GUARD_PF_BSLASH;
		else if (atom && ch != '[')
			g->code = GUARD_PF_FLAG;
		else
			break;
		return E2_OK;
	case GUARD_PF_BSLASH:
		if (ch == '*')
			g->code = GUARD_PF_STAR;
		else if (atom && ch != '[')
			g->code = GUARD_PF_FLAG;
		else
			break;
		return E2_OK;
	case GUARD_PF_FLAG:
	case GUARD_PF_STAR:
		if (ch == ' ')
			g->code = GUARD_PF_NEXT;
		else if (ch == ')')
			g->code = GUARD_PF_CLOSE;
		else if (g->code != GUARD_PF_FLAG || !atom || ch == '[')
			break;
		return E2_OK;
	case GUARD_PF_CLOSE:
		if (ch != ']')
			break;
		g->code = GUARD_CODE_TEXT;
		return E2_OK;
	}
	return guard_refuse(g, err, "malformed PERMANENTFLAGS response code");
}

/* A token starts at the current depth (before "(" counts). */
static void
guard_imap_token(struct guard *g, enum guard_imap_tok tok)
{
	if (g->kind != GUARD_KIND_FETCH || g->depth != 1 || g->bracket != 0) {
		if (tok == GUARD_TOK_BRACE)
			g->lit_large = false;
		return;
	}
	/* msg-att: item name SP value; a body item's value may be large */
	if (tok == GUARD_TOK_BRACE)
		g->lit_large = g->att_large;
	g->att_large = false;
	g->word_len = tok == GUARD_TOK_ATOM ? 0 : sizeof(g->word);
}

/* One byte of a response that is not resp-text (FETCH, LIST, ...). */
static enum e2_status
guard_imap_struct(struct guard *g, unsigned char ch, struct e2_err *err)
{
	switch ((enum guard_imap_tok)g->tok) {
	case GUARD_TOK_QUOTED:
		if (ch == '"')
			g->tok = GUARD_TOK_NONE;
		else if (ch == '\\')
			g->tok = GUARD_TOK_QUOTED_ESC;
		return E2_OK;
	case GUARD_TOK_QUOTED_ESC:
		g->tok = GUARD_TOK_QUOTED;
		return E2_OK;
	case GUARD_TOK_BRACE:
		if (ch >= '0' && ch <= '9' && g->ndigits < 10) {
			g->number = g->number * 10 + (uint64_t)(ch - '0');
			g->ndigits++;
			return E2_OK;
		}
		if (ch == '}' && g->ndigits > 0) {
			g->tok = GUARD_TOK_BRACE_END;
			return E2_OK;
		}
		return guard_refuse(g, err, "malformed literal announcement");
	case GUARD_TOK_BRACE_END:
	case GUARD_TOK_BRACE_CR:
		return guard_refuse(g, err,
				    "literal announcement not at a line end");
	case GUARD_TOK_ATOM:
		if (ch != ' ' && ch != '\t' && ch != '(' && ch != ')' &&
		    ch != '"' && ch != '{') {
			if (g->kind == GUARD_KIND_FETCH && ch == '[')
				g->bracket++;
			else if (g->kind == GUARD_KIND_FETCH && ch == ']' &&
				 g->bracket > 0)
				g->bracket--;
			if (g->word_len < sizeof(g->word)) {
				g->word[g->word_len++] = guard_upper(ch);
				g->att_large =
					guard_body_item(g->word, g->word_len);
			}
			return E2_OK;
		}
		g->tok = GUARD_TOK_NONE;
		g->word_len = sizeof(g->word);
		break;
	case GUARD_TOK_NONE:
		break;
	}
	switch (ch) {
	case ' ':
	case '\t':
		return E2_OK;
	case '(':
		guard_imap_token(g, GUARD_TOK_NONE);
		if (++g->depth > GUARD_IMAP_DEPTH_MAX)
			return guard_refuse(g, err,
					    "parentheses nested deeper than %u",
					    GUARD_IMAP_DEPTH_MAX);
		return E2_OK;
	case ')':
		if (g->depth == 0)
			return guard_refuse(g, err, "unbalanced \")\"");
		g->depth--;
		return E2_OK;
	case '"':
		guard_imap_token(g, GUARD_TOK_QUOTED);
		g->tok = GUARD_TOK_QUOTED;
		return E2_OK;
	case '{':
		if (g->kind == GUARD_KIND_PLAIN)
			return guard_refuse(g, err,
					    "literal in a response that "
					    "cannot carry one");
		guard_imap_token(g, GUARD_TOK_BRACE);
		g->tok = GUARD_TOK_BRACE;
		g->number = 0;
		g->ndigits = 0;
		return E2_OK;
	default:
		guard_imap_token(g, GUARD_TOK_ATOM);
		g->tok = GUARD_TOK_ATOM;
		return guard_imap_struct(g, ch, err);
	}
}

/* LF outside a literal: a literal starts, or the response ends. */
static enum e2_status
guard_imap_lf(struct guard *g, struct e2_err *err)
{
	uint64_t cap;

	switch ((enum guard_imap_tok)g->tok) {
	case GUARD_TOK_BRACE_CR:
		cap = g->kind == GUARD_KIND_FETCH && g->lit_large
			      ? GUARD_IMAP_BODY_MAX
			      : GUARD_IMAP_LITERAL_MAX;
		if (g->number > cap)
			return guard_refuse(g, err,
					    "literal of %llu bytes over the "
					    "cap of %llu",
					    (unsigned long long)g->number,
					    (unsigned long long)cap);
		if (!g->lit_large) {
			g->resp_bytes += g->number;
			if (g->resp_bytes > GUARD_IMAP_RESPONSE_MAX)
				return guard_refuse(g, err,
						    "response longer than %u "
						    "bytes",
						    GUARD_IMAP_RESPONSE_MAX);
		}
		g->literal = g->number;
		g->tok = GUARD_TOK_NONE;
		g->line_len = 0;
		return E2_OK;
	case GUARD_TOK_QUOTED:
	case GUARD_TOK_QUOTED_ESC:
		return guard_refuse(g, err, "line ends inside a quoted string");
	case GUARD_TOK_BRACE:
	case GUARD_TOK_BRACE_END:
		return guard_refuse(g, err, "malformed literal announcement");
	case GUARD_TOK_ATOM:
	case GUARD_TOK_NONE:
		break;
	}
	if (g->kind == GUARD_KIND_TEXT && g->code == GUARD_CODE_NEEDTEXT)
		return guard_refuse(g, err, "response code without text");
	if (g->kind == GUARD_KIND_TEXT && g->code != GUARD_CODE_START &&
	    g->code != GUARD_CODE_NAME && g->code != GUARD_CODE_TEXT)
		return guard_refuse(g, err,
				    "malformed PERMANENTFLAGS response code");
	if (g->depth != 0)
		return guard_refuse(g, err, "unbalanced \"(\"");
	g->greeted = true;
	guard_imap_reset(g);
	return E2_OK;
}

static enum e2_status
guard_imap_byte(struct guard *g, unsigned char ch, struct e2_err *err)
{
	size_t before;

	if (++g->line_len > GUARD_IMAP_LINE_MAX)
		return guard_refuse(g, err, "line longer than %u bytes",
				    GUARD_IMAP_LINE_MAX);
	if (++g->resp_bytes > GUARD_IMAP_RESPONSE_MAX)
		return guard_refuse(g, err, "response longer than %u bytes",
				    GUARD_IMAP_RESPONSE_MAX);
	if (g->cr && ch != '\n')
		return guard_refuse(g, err, "CR without LF");
	g->cr = false;
	if (ch == '\0')
		return guard_refuse(g, err, "NUL byte");
	if (ch == '\n')
		return guard_imap_lf(g, err);
	before = g->head_len;
	guard_head_add(g, ch);
	if (ch == '\r') {
		g->cr = true;
		if (g->tok == GUARD_TOK_BRACE_END)
			g->tok = GUARD_TOK_BRACE_CR;
		else if (g->tok == GUARD_TOK_QUOTED ||
			 g->tok == GUARD_TOK_QUOTED_ESC)
			return guard_refuse(g, err,
					    "line ends inside a quoted string");
		else if (g->tok == GUARD_TOK_BRACE)
			return guard_refuse(g, err,
					    "malformed literal announcement");
		return E2_OK;
	}
	if (g->kind == GUARD_KIND_HEAD) {
		bool sp = ch == ' ' || ch == '\t';
		bool added = g->head_len > before;

		if (before == 0 && ch == '+') {
			g->kind = GUARD_KIND_TEXT; /* continue-req */
			return E2_OK;
		}
		if (!sp && ch != '(' && ch != ')' && ch != '{' && ch != '"' &&
		    ch != '[') {
			if (added)
				return E2_OK;       /* a word goes on */
			g->kind = GUARD_KIND_PLAIN; /* no verdict in the head */
		} else {
			g->kind = guard_imap_classify(g->head, before, sp);
			if (g->kind == GUARD_KIND_HEAD && sp && added)
				return E2_OK; /* more words needed */
			if (g->kind == GUARD_KIND_HEAD)
				g->kind = GUARD_KIND_PLAIN;
		}
	}
	if (g->kind == GUARD_KIND_TEXT)
		return guard_imap_text(g, ch, err);
	return guard_imap_struct(g, ch, err);
}

static enum e2_status
guard_imap_feed(struct guard *g, const unsigned char *p, size_t n,
		struct e2_err *err)
{
	for (size_t i = 0; i < n;) {
		enum e2_status rc;

		if (g->literal > 0) {
			size_t take = n - i;

			if ((uint64_t)take > g->literal)
				take = (size_t)g->literal;
			g->literal -= take;
			i += take;
			continue;
		}
		rc = guard_imap_byte(g, p[i++], err);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

/* ---- POP3 ---------------------------------------------------------------- */

static bool
guard_head_starts(const struct guard *g, const char *s)
{
	size_t sl = strlen(s);

	return g->head_len >= sl && memcmp(g->head, s, sl) == 0 &&
	       (g->head_len == sl || g->head[sl] == ' ');
}

static enum e2_status
guard_pop3_line(struct guard *g, struct e2_err *err)
{
	unsigned expect;
	bool ok;

	if (g->pop_state == GUARD_POP3_DATA) {
		if (g->head_len == 1 && g->head[0] == '.')
			g->pop_state = GUARD_POP3_STATUS;
		return E2_OK;
	}
	if (g->pop_n == 0)
		return guard_refuse(g, err, "no command asked for it");
	expect = g->pop_q[0];
	if (expect == GUARD_EXPECT_AUTH && g->head_len >= 1 &&
	    g->head[0] == '+' && (g->head_len == 1 || g->head[1] == ' '))
		return E2_OK; /* a SASL challenge */
	ok = guard_head_starts(g, "+OK");
	if (!ok && !guard_head_starts(g, "-ERR"))
		return guard_refuse(g, err, "status is neither +OK nor -ERR");
	memmove(g->pop_q, g->pop_q + 1, --g->pop_n);
	if (ok && expect == GUARD_EXPECT_MULTI)
		g->pop_state = GUARD_POP3_DATA;
	return E2_OK;
}

static enum e2_status
guard_pop3_feed(struct guard *g, const unsigned char *p, size_t n,
		struct e2_err *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		bool data = g->pop_state == GUARD_POP3_DATA;
		enum e2_status rc;

		if (++g->line_len >
		    (data ? GUARD_POP3_DATA_MAX : GUARD_POP3_STATUS_MAX))
			return guard_refuse(g, err,
					    "%s line longer than %u bytes",
					    data ? "data" : "status",
					    data ? GUARD_POP3_DATA_MAX
						 : GUARD_POP3_STATUS_MAX);
		if (ch == '\0' && !data)
			return guard_refuse(g, err, "NUL byte");
		if (ch != '\n') {
			guard_head_add(g, ch);
			continue;
		}
		rc = guard_pop3_line(g, err);
		if (rc != E2_OK)
			return rc;
		g->head_len = 0;
		g->line_len = 0;
	}
	return E2_OK;
}

static void
guard_pop3_sent(struct guard *g, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		unsigned e = GUARD_EXPECT_SINGLE;

		if (ch != '\n') {
			if (ch == '\r')
				continue;
			if (!g->cmd_verb && ch == ' ')
				g->cmd_verb = true;
			else if (!g->cmd_verb && g->cmd_len < sizeof(g->cmd))
				g->cmd[g->cmd_len++] = guard_upper(ch);
			else if (g->cmd_verb && ch != ' ')
				g->cmd_arg = true;
			continue;
		}
		/* lines answering an AUTH challenge are not commands */
		if (g->pop_n > 0 &&
		    g->pop_q[g->pop_n - 1] == GUARD_EXPECT_AUTH) {
			g->cmd_len = 0;
			g->cmd_arg = g->cmd_verb = false;
			continue;
		}
		if (guard_word_is(g->cmd, g->cmd_len, "CAPA") ||
		    guard_word_is(g->cmd, g->cmd_len, "RETR") ||
		    guard_word_is(g->cmd, g->cmd_len, "TOP") ||
		    (!g->cmd_arg &&
		     (guard_word_is(g->cmd, g->cmd_len, "LIST") ||
		      guard_word_is(g->cmd, g->cmd_len, "UIDL"))))
			e = GUARD_EXPECT_MULTI;
		else if (guard_word_is(g->cmd, g->cmd_len, "AUTH"))
			e = GUARD_EXPECT_AUTH;
		if (g->pop_n < GUARD_POP3_QUEUE)
			g->pop_q[g->pop_n++] = (unsigned char)e;
		else
			g->failed = true; /* the client pipelines: refuse */
		g->cmd_len = 0;
		g->cmd_arg = g->cmd_verb = false;
	}
}

/* ---- SMTP ---------------------------------------------------------------- */

static enum e2_status
guard_smtp_line(struct guard *g, struct e2_err *err)
{
	const char *h = g->head;
	unsigned code;
	bool more;

	if (g->head_len < 3 || h[0] < '2' || h[0] > '5' || h[1] < '0' ||
	    h[1] > '5' || h[2] < '0' || h[2] > '9' ||
	    (g->head_len > 3 && h[3] != ' ' && h[3] != '-'))
		return guard_refuse(g, err,
				    "not a reply line (3 digits, then SP "
				    "or \"-\")");
	code = (unsigned)(h[0] - '0') * 100 + (unsigned)(h[1] - '0') * 10 +
	       (unsigned)(h[2] - '0');
	more = g->head_len > 3 && h[3] == '-';
	if (g->lines > 0 && code != g->smtp_code)
		return guard_refuse(g, err, "reply lines with codes %u and %u",
				    g->smtp_code, code);
	if (++g->lines > GUARD_SMTP_LINES_MAX)
		return guard_refuse(g, err, "reply of more than %u lines",
				    GUARD_SMTP_LINES_MAX);
	g->smtp_code = code;
	if (!more)
		g->lines = 0;
	return E2_OK;
}

static enum e2_status
guard_smtp_feed(struct guard *g, const unsigned char *p, size_t n,
		struct e2_err *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		enum e2_status rc;

		if (++g->line_len > GUARD_SMTP_LINE_MAX)
			return guard_refuse(g, err, "line longer than %u bytes",
					    GUARD_SMTP_LINE_MAX);
		if (g->cr && ch != '\n')
			return guard_refuse(g, err, "CR without LF");
		g->cr = ch == '\r';
		/* libetpan's EHLO parser loops forever on a TAB in AUTH */
		if (ch < 0x20 && ch != '\r' && ch != '\n')
			return guard_refuse(g, err, "control byte 0x%02x",
					    (unsigned)ch);
		if (ch != '\n') {
			guard_head_add(g, ch);
			continue;
		}
		rc = guard_smtp_line(g, err);
		if (rc != E2_OK)
			return rc;
		g->head_len = 0;
		g->line_len = 0;
	}
	return E2_OK;
}

/* ---- the interface ------------------------------------------------------- */

enum e2_status
guard_feed(struct guard *g, const void *buf, size_t n, struct e2_err *err)
{
	if (g->failed)
		return guard_refuse(g, err, "%s",
				    g->proto == GUARD_POP3 && g->pop_n > 0
					    ? "commands pipelined past the "
					      "guard's queue, or an earlier "
					      "refusal"
					    : "refused earlier");
	switch (g->proto) {
	case GUARD_IMAP:
		return guard_imap_feed(g, buf, n, err);
	case GUARD_POP3:
		return guard_pop3_feed(g, buf, n, err);
	case GUARD_SMTP:
		return guard_smtp_feed(g, buf, n, err);
	}
	return guard_refuse(g, err, "unknown protocol");
}

void
guard_sent(struct guard *g, const void *buf, size_t n)
{
	if (g->proto == GUARD_POP3)
		guard_pop3_sent(g, buf, n);
}
