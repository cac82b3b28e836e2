/* SPDX-License-Identifier: MIT */
/* send.c -- the outbox: .Outbox through OUTSERVER, then into .Sent */
#include "config.h"

#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mime.h"
#include "transports/chain.h"

/*
 * The queue: every message file in <root>/.Outbox/new and cur, oldest
 * unique name first. Nothing is sent when there is none (no connection).
 * One SMTP session (chain_open(), E2_SIDE_OUT: the TLS -> STARTTLS -> plain
 * chain, TAGPROPS 812C000B, AUTH when AUTHREQUIRED) carries every message.
 *
 * Per message:
 *  - the file is read whole (libetpan's DATA wants one buffer); more than
 *    SEND_MAX_BYTES (50 MiB), or than the server's SIZE when it announces
 *    one, is an error for that message;
 *  - the header is scanned: every To, Cc and Bcc field (folded, several of
 *    each allowed) is parsed as an RFC 5322 address list (display names,
 *    quoted strings, comments, groups such as "undisclosed-recipients:;"),
 *    the addresses deduplicated (case-insensitively). An address that is
 *    not plain printable ASCII "local@domain", or a list that does not
 *    parse to its end, is an error; no recipient at all is an error;
 *  - From ("NAME <REPLYADDR>", NAME as a quoted string or RFC 2047
 *    encoded-words when needed), Date (UTC) and Message-ID
 *    (<time.random@REPLYADDR's domain>) are added on top of the header when
 *    missing, and the file is rewritten with them (tmp/, fsync, rename, so
 *    a retry sends the same Message-ID and the Sent copy is what was sent);
 *  - the transmitted copy has its Bcc fields removed (the file keeps them:
 *    the Sent copy shows whom it was blind-copied to);
 *  - MAIL FROM:<REPLYADDR> (SIZE= when offered), RCPT TO each recipient,
 *    DATA. libetpan dot-stuffs lines starting with "." and ends bare LF
 *    lines with CRLF. If any RCPT is refused nobody gets the message: RSET,
 *    the message stays queued with "recipient <x> refused: <reply>";
 *  - after the 250 to the final ".", the file is renamed into .Sent/cur
 *    with the S flag (",S=" size fixed) and both directories fsynced. The
 *    rename is the sent marker: one atomic step, the file is in exactly one
 *    of the two folders. If the rename fails, the marker goes into the
 *    sync_outbox row instead (SEND_SENT_MARK) and the next run moves the
 *    file without sending it again.
 * What remains is at-least-once: a crash (or a lost connection) after the
 * server took the message but before the rename reached the disk -- the
 * time of one rename and two directory fsyncs after the 250 reply, or the
 * time between the final "." and the 250 -- sends it again on the next run,
 * with the same Message-ID, which lets receivers drop the copy.
 *
 * A message that fails stays queued; its sync_outbox row counts attempts and
 * keeps the reason. A connection failure, or a session that dies mid-way,
 * keeps every message not yet sent queued with that reason. The first
 * failure is returned (the driver reports it after the download).
 */

#define SEND_MAX_BYTES (50u * 1024 * 1024)
#define SEND_SENT_MARK "sent; not yet moved to .Sent: "
#define SEND_OUTBOX "Outbox"
#define SEND_SENT "Sent"

/* One outbox message being sent. */
struct send_msg {
	char *buf; /* the file, then the transmitted copy */
	size_t len;
	size_t hdr_len; /* header block with its empty line */
	char **rcpt;
	size_t nrcpt, cap;
	bool has_from, has_date, has_msgid;
};

/* The run over one account's outbox. */
struct send_run {
	struct sync_ctx *c;
	char *outbox; /* <root>/.Outbox */
	char *sent;   /* <root>/.Sent, made on first use */
	char *sender; /* REPLYADDR, checked */
	struct chain_session *sess;
	mailsmtp *smtp;
	bool dead; /* the session is unusable: keep the rest queued */
	enum e2_status first_rc;
	char first_msg[200];
	size_t failed;
};

/* ---- small helpers --------------------------------------------------------
 */

static enum e2_status
send_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

static char *
send_path(const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + (c != NULL ? strlen(c) : 0) + 3;
	char *p = malloc(len);

	if (p == NULL)
		return NULL;
	if (c != NULL)
		(void)snprintf(p, len, "%s/%s/%s", a, b, c);
	else
		(void)snprintf(p, len, "%s/%s", a, b);
	return p;
}

static enum e2_status
send_fsync_dir(const char *path, struct e2_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	enum e2_status rc = E2_OK;

	if (fd < 0 || fsync(fd) != 0) {
		if (err != NULL)
			err->sys_errno = errno;
		rc = e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			     strerror(errno));
	}
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* True for "local@domain" in printable ASCII, no space, '<' or '>'. */
static bool
send_addr_ok(const char *s)
{
	const char *at = strrchr(s, '@');
	bool quoted = s[0] == '"';

	if (at == NULL || at == s || at[1] == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || ch == '<' || ch == '>')
			return false;
		if (ch == '@' && p != at && !quoted)
			return false;
	}
	for (const char *p = at + 1; *p != '\0'; p++)
		if (!(*p == '.' || *p == '-' || *p == '[' || *p == ']' ||
		      *p == ':' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return at[1] != '.' && at[strlen(at) - 1] != '.';
}

/* ---- the header -----------------------------------------------------------
 */

/* One field: [start, end) with its continuation lines, name, value. */
struct send_field {
	size_t start, end;
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
};

static size_t
send_line_end(const char *h, size_t hlen, size_t p)
{
	const char *nl = memchr(h + p, '\n', hlen - p);

	return nl != NULL ? (size_t)(nl - h) + 1 : hlen;
}

static bool
send_line_empty(const char *h, size_t hlen, size_t p)
{
	return p < hlen && (h[p] == '\n' ||
			    (h[p] == '\r' && p + 1 < hlen && h[p + 1] == '\n'));
}

/*
 * The next field at or after *pos in the header h (hlen bytes, its empty
 * line included); false at the empty line or the end. A line without a
 * colon (junk) is a field without a name.
 */
static bool
send_field_next(const char *h, size_t hlen, size_t *pos,
		struct send_field *f_out)
{
	size_t p = *pos, e;
	const char *colon;

	if (p >= hlen || send_line_empty(h, hlen, p))
		return false;
	f_out->start = p;
	e = send_line_end(h, hlen, p);
	while (e < hlen && (h[e] == ' ' || h[e] == '\t'))
		e = send_line_end(h, hlen, e);
	f_out->end = e;
	colon = memchr(h + p, ':', e - p);
	if (colon == NULL) {
		f_out->name = h + p;
		f_out->name_len = 0;
		f_out->val = h + p;
		f_out->val_len = e - p;
	} else {
		f_out->name = h + p;
		f_out->name_len = (size_t)(colon - (h + p));
		f_out->val = colon + 1;
		f_out->val_len = e - (size_t)(colon + 1 - h);
	}
	*pos = e;
	return true;
}

static bool
send_field_is(const struct send_field *f, const char *name)
{
	size_t n = f->name_len;

	/* "To :" (obsolete white space before the colon) counts too */
	while (n > 0 && (f->name[n - 1] == ' ' || f->name[n - 1] == '\t'))
		n--;
	return n == strlen(name) && strncasecmp(f->name, name, n) == 0;
}

static enum e2_status
send_rcpt_add(struct send_msg *m, const char *addr, struct e2_err *err)
{
	for (size_t i = 0; i < m->nrcpt; i++)
		if (strcasecmp(m->rcpt[i], addr) == 0)
			return E2_OK;
	if (m->nrcpt == m->cap) {
		size_t cap = m->cap != 0 ? m->cap * 2 : 8;
		char **v = realloc(m->rcpt, cap * sizeof(*v));

		if (v == NULL)
			return send_oom(err);
		m->rcpt = v;
		m->cap = cap;
	}
	m->rcpt[m->nrcpt] = strdup(addr);
	if (m->rcpt[m->nrcpt] == NULL)
		return send_oom(err);
	m->nrcpt++;
	return E2_OK;
}

static enum e2_status
send_mailbox_add(struct send_msg *m, const char *field, const char *raw,
		 const struct mailimf_mailbox *mb, struct e2_err *err)
{
	const char *spec = mb->mb_addr_spec;
	char q[160];

	/* libetpan drops white space inside an addr-spec: it must be there
	 * verbatim, or the address we would use is not the one written */
	if (spec == NULL || !send_addr_ok(spec) || strstr(raw, spec) == NULL)
		return e2_fail(err, E2_EINVAL, "%s: bad address \"%s\"", field,
			       e2_quote(q, sizeof(q), spec != NULL ? spec : "",
					spec != NULL ? strlen(spec) : 0));
	return send_rcpt_add(m, spec, err);
}

/* Adds the addresses of one To/Cc/Bcc value (unfolded, NUL-terminated). */
static enum e2_status
send_parse_list(struct send_msg *m, const char *field, const char *v,
		struct e2_err *err)
{
	size_t len = strlen(v), i = 0;
	enum e2_status rc = E2_OK;
	char q[160];

	for (;;) {
		struct mailimf_address_list *l = NULL;
		size_t at;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i >= len)
			break;
		at = i;
		if (mailimf_address_list_parse(v, len, &i, &l) !=
			    MAILIMF_NO_ERROR ||
		    i == at) {
			mailimf_address_list_free(l);
			return e2_fail(
				err, E2_EINVAL, "%s: cannot parse \"%s\"",
				field,
				e2_quote(q, sizeof(q), v + at, len - at));
		}
		for (clistiter *it = clist_begin(l->ad_list);
		     it != NULL && rc == E2_OK; it = clist_next(it)) {
			struct mailimf_address *a = clist_content(it);
			struct mailimf_mailbox_list *g;

			if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
				rc = send_mailbox_add(m, field, v,
						      a->ad_data.ad_mailbox,
						      err);
				continue;
			}
			g = a->ad_data.ad_group->grp_mb_list;
			if (g == NULL)
				continue; /* "undisclosed-recipients:;" */
			for (clistiter *j = clist_begin(g->mb_list);
			     j != NULL && rc == E2_OK; j = clist_next(j))
				rc = send_mailbox_add(m, field, v,
						      clist_content(j), err);
		}
		mailimf_address_list_free(l);
		if (rc != E2_OK)
			return rc;
	}
	return E2_OK;
}

/* The value of f unfolded (CR and LF dropped), NUL-terminated. */
static char *
send_unfold(const struct send_field *f)
{
	char *v = malloc(f->val_len + 1);
	size_t n = 0;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < f->val_len; i++)
		if (f->val[i] != '\r' && f->val[i] != '\n')
			v[n++] = f->val[i];
	v[n] = '\0';
	return v;
}

/* Recipients and which of From, Date, Message-ID exist. */
static enum e2_status
send_scan(struct send_msg *m, struct e2_err *err)
{
	static const char *const lists[] = {"To", "Cc", "Bcc"};
	struct send_field f;
	size_t pos = 0;
	bool complete;
	enum e2_status rc = E2_OK;

	m->hdr_len = mime_header_len(m->buf, m->len, &complete);
	if (!complete)
		m->hdr_len = m->len; /* a header without a body */
	while (rc == E2_OK && send_field_next(m->buf, m->hdr_len, &pos, &f)) {
		if (send_field_is(&f, "From"))
			m->has_from = true;
		else if (send_field_is(&f, "Date"))
			m->has_date = true;
		else if (send_field_is(&f, "Message-ID"))
			m->has_msgid = true;
		for (size_t k = 0; k < 3; k++) {
			char *v;

			if (!send_field_is(&f, lists[k]))
				continue;
			v = send_unfold(&f);
			if (v == NULL)
				return send_oom(err);
			rc = send_parse_list(m, lists[k], v, err);
			free(v);
		}
	}
	if (rc == E2_OK && m->nrcpt == 0)
		rc = e2_fail(err, E2_EINVAL,
			     "no recipient: To, Cc and Bcc name nobody");
	return rc;
}

/* Removes every Bcc field from the header, in place. */
static void
send_strip_bcc(struct send_msg *m)
{
	struct send_field f;
	size_t pos = 0, w = 0, cut = 0;

	while (send_field_next(m->buf, m->hdr_len, &pos, &f)) {
		if (send_field_is(&f, "Bcc")) {
			cut += f.end - f.start;
			continue;
		}
		memmove(m->buf + w, m->buf + f.start, f.end - f.start);
		w += f.end - f.start;
	}
	memmove(m->buf + w, m->buf + pos, m->len - pos);
	m->len -= cut;
	m->hdr_len -= cut;
}

/* ---- fields we add -------------------------------------------------------
 */

struct send_buf {
	char *p;
	size_t len, cap;
};

static bool
send_put(struct send_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL)
			return false;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

static bool
send_puts(struct send_buf *b, const char *s)
{
	return send_put(b, s, strlen(s));
}

static bool
send_atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == ' ' ||
	       strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/*
 * NAME as a display-name: as is when it is atoms, a quoted string when
 * ASCII, else RFC 2047 "=?UTF-8?B?...?=" words of at most 45 bytes (75
 * characters), split between UTF-8 sequences. Control bytes are dropped.
 */
static bool
send_put_phrase(struct send_buf *b, const char *name)
{
	bool ascii = true, atoms = true;
	size_t n = 0, i = 0;
	char clean[256];

	for (const char *p = name; *p != '\0' && n < sizeof(clean) - 1; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f)
			continue;
		clean[n++] = (char)ch;
		if (ch >= 0x80)
			ascii = false;
		else if (!send_atext(ch))
			atoms = false;
	}
	clean[n] = '\0';
	if (n > 0 && (clean[0] == ' ' || clean[n - 1] == ' '))
		atoms = false;
	if (ascii && atoms)
		return send_put(b, clean, n);
	if (ascii) {
		if (!send_puts(b, "\""))
			return false;
		for (i = 0; i < n; i++) {
			if ((clean[i] == '"' || clean[i] == '\\') &&
			    !send_puts(b, "\\"))
				return false;
			if (!send_put(b, clean + i, 1))
				return false;
		}
		return send_puts(b, "\"");
	}
	while (i < n) {
		size_t k = n - i > 45 ? 45 : n - i;
		unsigned char enc[64];

		/* do not split a UTF-8 sequence */
		while (i + k < n && k > 1 &&
		       ((unsigned char)clean[i + k] & 0xc0) == 0x80)
			k--;
		(void)EVP_EncodeBlock(enc, (const unsigned char *)clean + i,
				      (int)k);
		if ((i > 0 && !send_puts(b, " ")) ||
		    !send_puts(b, "=?UTF-8?B?") ||
		    !send_puts(b, (const char *)enc) || !send_puts(b, "?="))
			return false;
		i += k;
	}
	return true;
}

/* The fields the message lacks, each ended with eol, into *b. */
static enum e2_status
send_added_fields(struct send_run *r, const struct send_msg *m, const char *eol,
		  struct send_buf *b, struct e2_err *err)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	const struct e2_account *a = r->c->a;
	time_t now = time(NULL);
	struct tm tm;
	char line[160];
	bool ok = true;

	if (gmtime_r(&now, &tm) == NULL)
		return e2_fail(err, E2_EINVAL, "clock out of range");
	if (!m->has_from) {
		ok = send_puts(b, "From: ");
		if (ok && a->name != NULL && a->name[0] != '\0')
			ok = send_put_phrase(b, a->name) &&
			     send_puts(b, " <") && send_puts(b, r->sender) &&
			     send_puts(b, ">");
		else if (ok)
			ok = send_puts(b, r->sender);
		ok = ok && send_puts(b, eol);
	}
	if (ok && !m->has_date) {
		(void)snprintf(line, sizeof(line),
			       "Date: %s, %02d %s %04d %02d:%02d:%02d +0000%s",
			       days[tm.tm_wday % 7], tm.tm_mday,
			       months[tm.tm_mon % 12], tm.tm_year + 1900,
			       tm.tm_hour, tm.tm_min, tm.tm_sec, eol);
		ok = send_puts(b, line);
	}
	if (ok && !m->has_msgid) {
		unsigned char rnd[8] = {0};
		char hex[17];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return e2_fail(err, E2_ENOMEM,
				       "no random bytes for a Message-ID");
		for (size_t i = 0; i < sizeof(rnd); i++)
			(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		(void)snprintf(line, sizeof(line),
			       "Message-ID: <%04d%02d%02d%02d%02d%02d.%s%s>%s",
			       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			       tm.tm_hour, tm.tm_min, tm.tm_sec, hex,
			       strrchr(r->sender, '@'), eol);
		ok = send_puts(b, line);
	}
	return ok ? E2_OK : send_oom(err);
}

/* ---- files ----------------------------------------------------------------
 */

static enum e2_status
send_read(const char *path, struct send_msg *m, struct e2_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	enum e2_status rc = E2_OK;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((unsigned long long)sb.st_size > SEND_MAX_BYTES) {
		rc = e2_fail(err, E2_EINVAL,
			     "message of %lld bytes exceeds the limit of %u "
			     "bytes",
			     (long long)sb.st_size, SEND_MAX_BYTES);
		goto out;
	}
	m->buf = malloc((size_t)sb.st_size + 1);
	if (m->buf == NULL) {
		rc = send_oom(err);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, m->buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = e2_fail(err, E2_ESTORE, "read %s: %s", path,
				     n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	m->len = got;
	m->buf[got] = '\0';
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

static enum e2_status
send_write_file(const char *path, const char *a, size_t alen, const char *b,
		size_t blen, struct e2_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	const char *parts[2] = {a, b};
	size_t lens[2] = {alen, blen};
	enum e2_status rc = E2_OK;

	if (fd < 0)
		return e2_fail(err, E2_ESTORE, "create %s: %s", path,
			       strerror(errno));
	for (size_t k = 0; k < 2 && rc == E2_OK; k++) {
		size_t off = 0;

		while (off < lens[k]) {
			ssize_t n = write(fd, parts[k] + off, lens[k] - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = e2_fail(err, E2_ESTORE, "write %s: %s",
					     path, strerror(errno));
				break;
			}
			off += (size_t)n;
		}
	}
	if (rc == E2_OK && fsync(fd) != 0)
		rc = e2_fail(err, E2_ESTORE, "fsync %s: %s", path,
			     strerror(errno));
	if (close(fd) != 0 && rc == E2_OK)
		rc = e2_fail(err, E2_ESTORE, "close %s: %s", path,
			     strerror(errno));
	if (rc != E2_OK)
		(void)unlink(path);
	return rc;
}

/*
 * name (a Maildir file name, maybe with ":2,<flags>") with its ",S=<n>"
 * field set to size; a copy of name when it has none. Caller frees.
 */
static char *
send_name_sized(const char *name, size_t size)
{
	const char *info = strstr(name, ":2,");
	size_t ulen = info != NULL ? (size_t)(info - name) : strlen(name);
	const char *s = NULL;
	size_t len;
	char *out;

	for (const char *p = name; p + 3 <= name + ulen; p++)
		if (p[0] == ',' && p[1] == 'S' && p[2] == '=')
			s = p;
	if (s == NULL)
		return strdup(name);
	len = strlen(name) + 24;
	out = malloc(len);
	if (out != NULL) {
		const char *e = s + 3;

		while (e < name + ulen && *e >= '0' && *e <= '9')
			e++;
		(void)snprintf(out, len, "%.*s,S=%zu%s", (int)(s - name), name,
			       size, e);
	}
	return out;
}

/*
 * Puts the added fields on top of the queued file, durably, under a name
 * whose ",S=" is right: write tmp/, fsync, rename the old file to the new
 * name, rename tmp/ over it, fsync the directory -- the queue holds one
 * copy at every moment. *name is replaced by the new name. Then m->buf is
 * the new content.
 */
static enum e2_status
send_rewrite(struct send_run *r, const char *sub, char **name,
	     struct send_msg *m, const struct send_buf *add, struct e2_err *err)
{
	char *tmp = NULL, *dir = NULL, *oldp = NULL, *newp = NULL;
	char *newname = NULL, *buf = NULL, tmpname[96];
	struct timespec ts;
	enum e2_status rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	(void)snprintf(tmpname, sizeof(tmpname), "%lld.M%ldP%ldQ0.e2send",
		       (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid());
	newname = send_name_sized(*name, add->len + m->len);
	tmp = send_path(r->outbox, "tmp", tmpname);
	dir = send_path(r->outbox, sub, NULL);
	oldp = send_path(r->outbox, sub, *name);
	newp = newname != NULL ? send_path(r->outbox, sub, newname) : NULL;
	buf = malloc(add->len + m->len + 1);
	if (tmp == NULL || dir == NULL || oldp == NULL || newp == NULL ||
	    buf == NULL) {
		rc = send_oom(err);
		goto out;
	}
	rc = send_write_file(tmp, add->p, add->len, m->buf, m->len, err);
	if (rc != E2_OK)
		goto out;
	if ((strcmp(oldp, newp) != 0 && rename(oldp, newp) != 0) ||
	    rename(tmp, newp) != 0) {
		rc = e2_fail(err, E2_ESTORE, "rename into %s: %s", newp,
			     strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	rc = send_fsync_dir(dir, err);
	if (rc != E2_OK)
		goto out;
	memcpy(buf, add->p, add->len);
	memcpy(buf + add->len, m->buf, m->len);
	free(m->buf);
	m->buf = buf;
	buf = NULL;
	m->len += add->len;
	m->hdr_len += add->len;
	m->buf[m->len] = '\0';
	free(*name);
	*name = newname;
	newname = NULL;
out:
	free(tmp);
	free(dir);
	free(oldp);
	free(newp);
	free(newname);
	free(buf);
	return rc;
}

/*
 * The sent marker: renames sub/name into .Sent/cur/<uniq>:2,<flags>S and
 * fsyncs both directories.
 */
static enum e2_status
send_move_sent(struct send_run *r, const char *sub, const char *name,
	       struct e2_err *err)
{
	char flags[MAILDIR_FLAGS_MAX], with_s[MAILDIR_FLAGS_MAX + 1];
	char *from = NULL, *to = NULL, *cur = NULL, *dir = NULL, *dst = NULL;
	size_t ulen;
	struct stat sb;
	enum e2_status rc = E2_OK;

	if (r->sent == NULL) {
		rc = maildir_folder(r->c->md, SEND_SENT, '\0', &r->sent, err);
		if (rc != E2_OK)
			return rc;
	}
	maildir_name_parse(name, &ulen, flags);
	(void)snprintf(with_s, sizeof(with_s), "%sS", flags);
	maildir_flags_normalize(with_s, flags);
	from = send_path(r->outbox, sub, name);
	dir = send_path(r->outbox, sub, NULL);
	dst = malloc(ulen + strlen(flags) + 4);
	if (dst != NULL) {
		(void)snprintf(dst, ulen + strlen(flags) + 4, "%.*s:2,%s",
			       (int)ulen, name, flags);
		cur = send_path(r->sent, "cur", NULL);
		to = send_path(r->sent, "cur", dst);
	}
	if (from == NULL || dir == NULL || cur == NULL || to == NULL) {
		rc = send_oom(err);
		goto out;
	}
	/* never overwrite a Sent message of the same name */
	if (lstat(to, &sb) == 0) {
		rc = e2_fail(err, E2_ESTORE, "%s exists already", to);
		goto out;
	}
	if (rename(from, to) != 0) {
		if (err != NULL)
			err->sys_errno = errno;
		rc = e2_fail(err, E2_ESTORE, "rename %s into .Sent: %s", from,
			     strerror(errno));
		goto out;
	}
	rc = send_fsync_dir(cur, err);
	if (rc == E2_OK)
		rc = send_fsync_dir(dir, err);
out:
	free(from);
	free(to);
	free(cur);
	free(dir);
	free(dst);
	return rc;
}

/* ---- SMTP -----------------------------------------------------------------
 */

/* A libetpan failure: the server's reply, or why the session died. */
static enum e2_status
send_smtp_fail(struct send_run *r, int res, const char *what,
	       struct e2_err *err)
{
	const char *text = r->smtp->response;
	struct e2_err *serr = chain_session_err(r->sess);
	char q[160];

	if (res == MAILSMTP_ERROR_MEMORY)
		return send_oom(err);
	if (res == MAILSMTP_ERROR_STREAM || r->smtp->response_code == 421 ||
	    text == NULL) {
		r->dead = true;
		if (serr != NULL && serr->code != E2_OK)
			return e2_fail(err, serr->code, "%s: %s", what,
				       serr->msg);
		return e2_fail(err, E2_EIO, "%s: connection lost (%s)", what,
			       mailsmtp_strerror(res));
	}
	return e2_fail(err, E2_EPROTO, "%s: %d %s", what,
		       r->smtp->response_code,
		       e2_quote(q, sizeof(q), text, strlen(text)));
}

/* MAIL, RCPT..., DATA of one message whose header is ready. */
static enum e2_status
send_transmit(struct send_run *r, struct send_msg *m, struct e2_err *err)
{
	size_t len = m->len, refused = 0;
	struct e2_err rerr = {0};
	char what[300];
	int res;

	if (r->smtp->smtp_max_msg_size != 0 && len > r->smtp->smtp_max_msg_size)
		return e2_fail(err, E2_EINVAL,
			       "message of %zu bytes exceeds the server's "
			       "SIZE of %zu bytes",
			       len, r->smtp->smtp_max_msg_size);
	if (r->smtp->esmtp != 0)
		res = mailesmtp_mail_size(r->smtp, r->sender, 0, NULL, len);
	else
		res = mailsmtp_mail(r->smtp, r->sender);
	if (res != MAILSMTP_NO_ERROR) {
		(void)snprintf(what, sizeof(what), "sender <%s> refused",
			       r->sender);
		return send_smtp_fail(r, res, what, err);
	}
	/* every RCPT, so the reason names the first refused one */
	for (size_t i = 0; i < m->nrcpt; i++) {
		res = mailsmtp_rcpt(r->smtp, m->rcpt[i]);
		if (res == MAILSMTP_NO_ERROR)
			continue;
		(void)snprintf(what, sizeof(what), "recipient <%s> refused",
			       m->rcpt[i]);
		(void)send_smtp_fail(r, res, what, refused == 0 ? &rerr : NULL);
		if (r->dead)
			return e2_fail(err, rerr.code, "%s", rerr.msg);
		refused++;
	}
	if (refused > 0) {
		if (refused > 1)
			return e2_fail(err, rerr.code,
				       "%s (and %zu more refused)", rerr.msg,
				       refused - 1);
		return e2_fail(err, rerr.code, "%s", rerr.msg);
	}
	res = mailsmtp_data(r->smtp);
	if (res != MAILSMTP_NO_ERROR)
		return send_smtp_fail(r, res, "DATA refused", err);
	/* libetpan adds CRLF . CRLF: drop the message's own last line end */
	if (len > 0 && m->buf[len - 1] == '\n')
		len--;
	if (len > 0 && m->buf[len - 1] == '\r')
		len--;
	res = mailsmtp_data_message(r->smtp, m->buf, len);
	if (res != MAILSMTP_NO_ERROR)
		return send_smtp_fail(r, res, "message refused", err);
	return E2_OK;
}

/* ---- the run --------------------------------------------------------------
 */

static void
send_msg_clear(struct send_msg *m)
{
	free(m->buf);
	for (size_t i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	memset(m, 0, sizeof(*m));
}

/* Records a failed attempt of file (its unique name) and counts it. */
static enum e2_status
send_failed(struct send_run *r, const char *uniq, enum e2_status why,
	    const char *reason, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	enum e2_status rc;

	c->stats->send_failed++;
	if (r->failed++ == 0) {
		r->first_rc = why;
		(void)snprintf(r->first_msg, sizeof(r->first_msg), "%s",
			       reason);
	}
	rc = store_begin(c->st, err);
	if (rc != E2_OK)
		return rc;
	rc = syncstate_outbox_failed(c->ss, uniq, reason, (int64_t)time(NULL),
				     err);
	if (rc == E2_OK)
		return store_commit(c->st, err);
	store_rollback(c->st);
	return rc;
}

static enum e2_status
send_done(struct send_run *r, const char *uniq, struct e2_err *err)
{
	enum e2_status rc = store_begin(r->c->st, err);

	if (rc != E2_OK)
		return rc;
	rc = syncstate_outbox_done(r->c->ss, uniq, err);
	if (rc == E2_OK)
		return store_commit(r->c->st, err);
	store_rollback(r->c->st);
	return rc;
}

/* Sends one queued file. Only store and disk errors are returned. */
static enum e2_status
send_one(struct send_run *r, const struct maildir_file *f, struct e2_err *err)
{
	struct send_msg m = {0};
	struct send_buf add = {0};
	struct e2_err merr = {0};
	char *name = strdup(f->name), *path = NULL;
	size_t ulen;
	char flags[MAILDIR_FLAGS_MAX], *uniq = NULL;
	enum e2_status rc, mrc;

	if (name == NULL)
		return send_oom(err);
	path = send_path(r->outbox, f->sub, name);
	if (path == NULL) {
		rc = send_oom(err);
		goto out;
	}
	mrc = send_read(path, &m, &merr);
	if (mrc == E2_OK)
		mrc = send_scan(&m, &merr);
	if (mrc == E2_OK) {
		const char *nl = memchr(m.buf, '\n', m.len);
		const char *eol = nl != NULL && nl > m.buf && nl[-1] == '\r'
					  ? "\r\n"
					  : "\n";

		mrc = send_added_fields(r, &m, eol, &add, &merr);
	}
	if (mrc == E2_OK && add.len > 0) {
		/* a disk failure here stops the run, like any store error */
		rc = send_rewrite(r, f->sub, &name, &m, &add, err);
		if (rc != E2_OK)
			goto out;
	}
	if (mrc == E2_OK) {
		send_strip_bcc(&m);
		mrc = send_transmit(r, &m, &merr);
	}
	maildir_name_parse(name, &ulen, flags);
	uniq = strndup(name, ulen);
	if (uniq == NULL) {
		rc = send_oom(err);
		goto out;
	}
	if (mrc != E2_OK) {
		if (!r->dead && r->smtp != NULL &&
		    mailsmtp_reset(r->smtp) != MAILSMTP_NO_ERROR)
			r->dead = true;
		/* a rewritten file has a new name: its row follows it */
		rc = strcmp(uniq, f->uniq) != 0 ? send_done(r, f->uniq, err)
						: E2_OK;
		if (rc == E2_OK)
			rc = send_failed(r, uniq, mrc, merr.msg, err);
		goto out;
	}
	/* accepted: from here on a second send is what we must avoid */
	r->c->stats->sent++;
	rc = send_move_sent(r, f->sub, name, err);
	if (rc != E2_OK) {
		char mark[256];
		struct e2_err ignore = {0};

		(void)snprintf(mark, sizeof(mark), "%s%.200s", SEND_SENT_MARK,
			       err != NULL ? err->msg : "");
		(void)send_failed(r, uniq, rc, mark, &ignore);
		r->c->stats->send_failed--; /* it was sent */
		goto out;
	}
	rc = send_done(r, f->uniq, err);
	if (rc == E2_OK && strcmp(uniq, f->uniq) != 0)
		rc = send_done(r, uniq, err);
out:
	sync_progress(r->c);
	send_msg_clear(&m);
	free(add.p);
	free(path);
	free(name);
	free(uniq);
	return rc;
}

/*
 * A file whose row carries the sent marker was sent by an earlier run that
 * could not move it: move it now. *sent_out says whether that was it.
 */
static enum e2_status
send_check_marker(struct send_run *r, const struct maildir_file *f,
		  bool *sent_out, struct e2_err *err)
{
	struct syncstate_outbox o;
	bool found = false;
	enum e2_status rc;

	*sent_out = false;
	rc = syncstate_outbox_get(r->c->ss, f->uniq, &found, &o, err);
	if (rc != E2_OK || !found ||
	    strncmp(o.last_error, SEND_SENT_MARK, strlen(SEND_SENT_MARK)) != 0)
		return rc;
	*sent_out = true;
	rc = send_move_sent(r, f->sub, f->name, err);
	if (rc == E2_OK)
		rc = send_done(r, f->uniq, err);
	return rc;
}

static enum e2_status
send_connect(struct send_run *r, struct e2_err *err)
{
	struct chain_opts co = {0};
	struct e2_side_report rep = {0};
	enum e2_status rc;

	co.cafile = r->c->o.cafile;
	co.timeout_ms = r->c->o.timeout_ms;
	co.login = true;
	rc = chain_open(r->c->a, E2_SIDE_OUT, &co, &r->sess, &rep, err);
	if (rc != E2_OK)
		return rc;
	r->smtp = chain_session_smtp(r->sess);
	if (r->smtp == NULL)
		return e2_fail(err, E2_EINVAL, "OUTSERVER is not SMTP");
	return E2_OK;
}

enum e2_status
sync_send_run(struct sync_ctx *c, struct e2_err *err)
{
	struct send_run r = {0};
	struct maildir_snapshot snap = {0};
	struct stat sb;
	enum e2_status rc = E2_OK;
	size_t queued = 0;

	r.c = c;
	r.outbox = send_path(maildir_root(c->md), "." SEND_OUTBOX, NULL);
	if (r.outbox == NULL) {
		rc = send_oom(err);
		goto out;
	}
	if (stat(r.outbox, &sb) != 0 || !S_ISDIR(sb.st_mode))
		goto out; /* no outbox, nothing queued */
	rc = maildir_snapshot(r.outbox, NULL, &snap, err);
	if (rc != E2_OK)
		goto out;
	for (size_t i = 0; i < snap.n && rc == E2_OK; i++) {
		rc = send_check_marker(&r, &snap.v[i], &snap.v[i].matched, err);
		if (rc == E2_OK && !snap.v[i].matched)
			queued++;
	}
	if (rc != E2_OK || queued == 0)
		goto out;
	if (c->a->replyaddr == NULL || !send_addr_ok(c->a->replyaddr)) {
		struct e2_err e = {0};

		(void)e2_fail(&e, E2_EINVAL,
			      "REPLYADDR is not an address: cannot send");
		r.dead = true;
		for (size_t i = 0; i < snap.n && rc == E2_OK; i++)
			if (!snap.v[i].matched)
				rc = send_failed(&r, snap.v[i].uniq, e.code,
						 e.msg, err);
		goto out;
	}
	r.sender = c->a->replyaddr;
	{
		struct e2_err cerr = {0};
		enum e2_status crc = send_connect(&r, &cerr);

		if (crc != E2_OK) {
			char why[256];

			(void)snprintf(why, sizeof(why), "not sent: %.200s",
				       cerr.msg);
			for (size_t i = 0; i < snap.n && rc == E2_OK; i++)
				if (!snap.v[i].matched)
					rc = send_failed(&r, snap.v[i].uniq,
							 crc, why, err);
			goto out;
		}
	}
	for (size_t i = 0; i < snap.n && rc == E2_OK; i++) {
		if (snap.v[i].matched)
			continue;
		if (r.dead) {
			rc = send_failed(&r, snap.v[i].uniq, r.first_rc,
					 "not sent: the connection was lost",
					 err);
			continue;
		}
		if (sync_stopping(c))
			break;
		rc = send_one(&r, &snap.v[i], err);
	}
out:
	if (rc == E2_OK && r.failed > 0)
		rc = e2_fail(err, r.first_rc,
			     "outbox: %zu message%s kept queued: %s", r.failed,
			     r.failed == 1 ? "" : "s", r.first_msg);
	chain_session_free(&r.sess);
	maildir_snapshot_free(&snap);
	free(r.outbox);
	free(r.sent);
	return rc;
}
