/* SPDX-License-Identifier: MIT */
/* send.c -- the send queue through OUTSERVER, then to the Sent folder */
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
#include "outbox.h"
#include "outbox_scan.h"
#include "engine/account_conn.h"
#include "transports/chain.h"
#include "transports/proto.h"

/*
 * Invariant: server data never acts with the user's authority. The send
 * queue is <store>/outbox/{GUID}/ (outbox_open(), a Maildir made 0700 on
 * the first run), outside <store>/mail/{GUID}/, the only tree server
 * folders map into: maildir_folder_encode() yields names below that root
 * and nothing else, so no server folder name can name the queue, and no
 * sync (IMAP, POP3, fetch-full) writes anywhere but under mail/. Only
 * what the user (or a program acting for them) put into the queue is ever
 * sent. A server folder called "Outbox" (Exchange has one) is an ordinary
 * folder, mail/{GUID}/.Outbox, synced like any other and never sent.
 * Older versions used that folder as the queue: send_migrate_legacy()
 * moves, once, only the files in it that no sync wrote (no download tag,
 * no state row), and leaves the others where they are.
 *
 * The queue (outbox.h): each run first claims every file of new/ and cur/
 * under a unique id (outbox_claim(): row committed, then the rename to
 * cur/<id>:2,; its recovery decides every kill point by what is on disk),
 * so a file name the user reuses is a new message and an old row can
 * neither suppress nor repeat a send. Then, in the order queued: a SENT
 * row (the server took it, the Sent move failed) only has its file moved;
 * a QUEUED row is sent when due (next_attempt); a FAILED one waits for
 * `email2-outbox retry`. Nothing is sent when nothing is due (no
 * connection). One SMTP session (chain_open(), E2_SIDE_OUT: the TLS ->
 * STARTTLS -> plain chain, e2_account_out_tls_required(), AUTH when
 * AUTHREQUIRED) carries every message.
 *
 * Per message:
 *  - the file is read whole (libetpan's DATA wants one buffer); more than
 *    SEND_MAX_BYTES (50 MiB), or than the server's SIZE when it announces
 *    one, is an error for that message;
 *  - outbox_scan() (outbox_scan.h) reads it once and gives both the
 *    recipients (To, Cc, Bcc) and the exact bytes sent: line ends made
 *    CRLF by the rules a receiver splits by, Bcc fields in any spelling
 *    removed; a NUL byte, a bad address or no recipient is an error;
 *  - From ("NAME <REPLYADDR>", NAME as a quoted string or RFC 2047
 *    encoded-words when needed), Date (UTC) and Message-ID
 *    (<time.random@REPLYADDR's domain>) are added on top of the header when
 *    missing, and the file is rewritten with them (tmp/, fsync, rename, so
 *    a retry sends the same Message-ID and the Sent copy is what was sent);
 *    the file is then scanned again: what is sent is the file as it is;
 *  - the transmitted copy has its Bcc fields removed (the file keeps them:
 *    the Sent copy shows whom it was blind-copied to);
 *  - an 8-bit message (a byte >= 0x80) is sent only where the server
 *    offers 8BITMIME, with BODY=8BITMIME; elsewhere it stays queued;
 *  - MAIL FROM:<REPLYADDR> (SIZE= when offered), RCPT TO each recipient,
 *    DATA. libetpan dot-stuffs lines starting with "." (the copy has only
 *    CRLF line ends). If any RCPT is refused nobody gets the message: RSET,
 *    the message stays queued with "recipient <x> refused: <reply>";
 *  - email2-sendmail's envelope (the queue row's, without -t or with
 *    arguments) replaces the header recipients; Bcc is removed as ever;
 *  - after the 250 to the final ".", the file is renamed to
 *    <sent>/cur/<id>,S=<size>:2,<flags>S and both directories fsynced:
 *    <sent> is the Sent staging Maildir of an IMAP account
 *    (outbox_sent_open(); the IMAP sync appends it to the server's \Sent
 *    folder), the local .Sent of a POP3 account. The rename is the sent
 *    marker: one atomic step, the file is in exactly one of the two
 *    folders; the id makes the name unique there. Then the row goes. If
 *    the rename fails, the row becomes SENT with the reason and the next
 *    run moves the file without sending it again (a flag change by a mail
 *    client keeps the id, so it is still found).
 * What remains is at-least-once, the one documented window: a crash (or a
 * lost connection) after the server took the message but before the
 * rename reached the disk -- the time of one rename and two directory
 * fsyncs after the 250 reply, or the time between the final "." and the
 * 250 -- sends it again on the next run, with the same Message-ID (made
 * durable before the send), which lets receivers drop the copy.
 * sync-faults.sh section 4 kills runs at points spread over claims and
 * sends: nothing lost, at most one extra copy per kill.
 *
 * Failures (outbox.h, "Retries"): the message's own failure counts an
 * attempt and sets the next one by the schedule; a connection failure, or
 * a session that died before the message's turn, records the reason and
 * counts nothing. A permanent one (5xx, a message that can never be sent)
 * and the limits (10 attempts, 5 days) make the row FAILED. The first
 * failure is returned (the driver reports it after the download).
 */

#define SEND_MAX_BYTES (50u * 1024 * 1024)
#define SEND_LEGACY ".Outbox"
#define SEND_LEGACY_DONE "email2-legacy-outbox-checked"
#define SEND_SENT "Sent"

/* One outbox message being sent. */
struct send_msg {
	char *buf; /* the queued file */
	size_t len;
	bool perm; /* the failure is permanent: 5xx, or the message itself */
	struct outbox_scan scan; /* of buf: recipients and the wire copy */
};

/* The run over one account's outbox. */
struct send_run {
	struct sync_ctx *c;
	char *outbox; /* <store>/outbox/{GUID}: outbox_open() */
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
	if (!m->scan.has_from) {
		char *f = outbox_from_field(a->name, r->sender);

		ok = f != NULL && send_puts(b, f) && send_puts(b, eol);
		free(f);
	}
	if (ok && !m->scan.has_date) {
		(void)snprintf(line, sizeof(line),
			       "Date: %s, %02d %s %04d %02d:%02d:%02d +0000%s",
			       days[tm.tm_wday % 7], tm.tm_mday,
			       months[tm.tm_mon % 12], tm.tm_year + 1900,
			       tm.tm_hour, tm.tm_min, tm.tm_sec, eol);
		ok = send_puts(b, line);
	}
	if (ok && !m->scan.has_msgid) {
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
	/* a regular file of the queue, never what a symlink points at */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

/*
 * Puts the added fields on top of the claimed file, durably, under its own
 * name: write tmp/, fsync, rename over it, fsync the directory -- the
 * queue holds one whole copy at every moment. Then m->buf is the new
 * content.
 */
static enum e2_status
send_rewrite(struct send_run *r, const char *path, struct send_msg *m,
	     const struct send_buf *add, struct e2_err *err)
{
	char *tmp = NULL, *dir = NULL, *buf = NULL, tmpname[96];
	struct timespec ts;
	enum e2_status rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	(void)snprintf(tmpname, sizeof(tmpname), "%lld.M%ldP%ldQ0.e2send",
		       (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid());
	tmp = send_path(r->outbox, "tmp", tmpname);
	dir = send_path(r->outbox, "cur", NULL);
	buf = malloc(add->len + m->len + 1);
	if (tmp == NULL || dir == NULL || buf == NULL) {
		rc = send_oom(err);
		goto out;
	}
	rc = outbox_write_new(tmp, add->p, add->len, m->buf, m->len, err);
	if (rc != E2_OK)
		goto out;
	if (rename(tmp, path) != 0) {
		rc = e2_fail(err, E2_ESTORE, "rename into %s: %s", path,
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
	m->buf[m->len] = '\0';
out:
	free(tmp);
	free(dir);
	free(buf);
	return rc;
}

/*
 * The sent marker: renames the claimed file f (of row id) to
 * <sent>/cur/<id>,S=<size>:2,<flags>S and fsyncs both directories. <sent>
 * is the Sent staging Maildir of an IMAP account (outbox_sent_open(): the
 * IMAP sync appends it to the server's \Sent folder), or the local folder
 * .Sent of a POP3 account (no server folders). The id makes the name
 * unique: it never meets a file there.
 */
static enum e2_status
send_move_sent(struct send_run *r, const char *id, const struct maildir_file *f,
	       struct e2_err *err)
{
	char flags[MAILDIR_FLAGS_MAX], with_s[MAILDIR_FLAGS_MAX + 1];
	char *from = NULL, *to = NULL, *cur = NULL, *dir = NULL, *dst = NULL;
	size_t dlen;
	struct stat sb;
	enum e2_status rc = E2_OK;

	if (r->sent == NULL) {
		if (r->c->a->service == E2_SERVICE_IMAP4)
			rc = outbox_sent_open(r->c->st, r->c->a->guid, &r->sent,
					      err);
		else
			rc = maildir_folder(r->c->md, SEND_SENT, '\0', &r->sent,
					    err);
		if (rc != E2_OK)
			return rc;
	}
	(void)snprintf(with_s, sizeof(with_s), "%sS", f->flags);
	maildir_flags_normalize(with_s, flags);
	from = send_path(r->outbox, f->sub, f->name);
	dir = send_path(r->outbox, f->sub, NULL);
	if (from == NULL || dir == NULL) {
		rc = send_oom(err);
		goto out;
	}
	if (lstat(from, &sb) != 0) {
		rc = e2_fail(err, E2_ESTORE, "%s: %s", from, strerror(errno));
		goto out;
	}
	dlen = strlen(id) + strlen(flags) + 32;
	dst = malloc(dlen);
	if (dst != NULL) {
		(void)snprintf(dst, dlen, "%s,S=%lld:2,%s", id,
			       (long long)sb.st_size, flags);
		cur = send_path(r->sent, "cur", NULL);
		to = send_path(r->sent, "cur", dst);
	}
	if (cur == NULL || to == NULL) {
		rc = send_oom(err);
		goto out;
	}
	/* never overwrite: a name taken means a bug, not a reason to lose */
	if (lstat(to, &sb) == 0) {
		rc = e2_fail(err, E2_ESTORE, "%s exists already", to);
		goto out;
	}
	if (rename(from, to) != 0) {
		if (err != NULL)
			err->sys_errno = errno;
		rc = e2_fail(err, E2_ESTORE, "rename %s into %s: %s", from,
			     r->sent, strerror(errno));
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
	const char *hint;
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
	/*
	 * issue 9: 530 (AUTHREQUIRED absent: no login was tried) and 535 are
	 * the account's settings, not the server breaking the protocol; the
	 * hint says which node to provision (email2-outbox show, the summary)
	 */
	hint = proto_smtp_auth_hint(
		proto_smtp_auth_class(r->smtp->response_code, text),
		r->c->a->authrequired);
	if (hint != NULL)
		return e2_fail(err, E2_EAUTH, "%s: %d %s (%s)", what,
			       r->smtp->response_code,
			       e2_quote_reply(q, sizeof(q), text, strlen(text)),
			       hint);
	return e2_fail(err, E2_EPROTO, "%s: %d %s", what,
		       r->smtp->response_code,
		       e2_quote_reply(q, sizeof(q), text, strlen(text)));
}

/*
 * The reply to a command we wrote ourselves, read as libetpan reads its
 * own (into smtp->response and response_code, so send_smtp_fail() can
 * tell why): at most SEND_REPLY_LINES lines. Returns the reply code, 0
 * when the stream failed, -1 for a line that is not "NNN[ -]text".
 */
#define SEND_REPLY_LINES 64

static int
send_reply(mailsmtp *s)
{
	int code = 0;

	mmap_string_assign(s->response_buffer, "");
	s->response = NULL;
	s->response_code = 0;
	for (size_t n = 0; n < SEND_REPLY_LINES; n++) {
		char *line = mailstream_read_line_remove_eol(s->stream,
							     s->line_buffer);
		bool more;

		if (line == NULL)
			return 0;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return -1;
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		       (line[2] - '0');
		more = line[3] == '-';
		if (mmap_string_append(s->response_buffer,
				       line[3] != '\0' ? line + 4 : "") ==
			    NULL ||
		    mmap_string_append_c(s->response_buffer, '\n') == NULL)
			return 0;
		s->response = s->response_buffer->str;
		s->response_code = code;
		if (!more)
			return code;
	}
	return -1;
}

/*
 * MAIL FROM:<REPLYADDR> with SIZE= (RFC 1870) when offered and
 * BODY=8BITMIME (RFC 6152) for an 8-bit message: libetpan 1.9.4's
 * mailesmtp_mail_size() has no BODY parameter, so the command is written
 * on the session's stream (the same transport, guard included) and its
 * reply read here. REPLYADDR passed outbox_addr_ok(): no space, no CR or
 * LF can end the command early. Returns a MAILSMTP_ code.
 */
static int
send_mail_from(struct send_run *r, size_t size, bool eightbit)
{
	mailsmtp *s = r->smtp;
	char cmd[600], sz[40] = "";
	int code;

	if ((s->esmtp & MAILSMTP_ESMTP_SIZE) != 0 && size != 0)
		(void)snprintf(sz, sizeof(sz), " SIZE=%zu", size);
	(void)snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>%s%s\r\n", r->sender,
		       eightbit ? " BODY=8BITMIME" : "", sz);
	if (mailstream_write(s->stream, cmd, strlen(cmd)) < 0 ||
	    mailstream_flush(s->stream) < 0)
		return MAILSMTP_ERROR_STREAM;
	code = send_reply(s);
	if (code == 0)
		return MAILSMTP_ERROR_STREAM;
	if (code < 0) {
		/* nothing sane to quote: the session cannot go on */
		r->dead = true;
		s->response = NULL;
		return MAILSMTP_ERROR_STREAM;
	}
	return code == 250 ? MAILSMTP_NO_ERROR
			   : MAILSMTP_ERROR_ACTION_NOT_TAKEN;
}

/* RFC 5321 4.2.1: a 5yz reply is a permanent refusal of the message. */
static bool
send_is_5xx(const struct send_run *r, int res)
{
	return res != MAILSMTP_ERROR_STREAM && res != MAILSMTP_ERROR_MEMORY &&
	       !r->dead && r->smtp->response_code >= 500 &&
	       r->smtp->response_code <= 599;
}

/* MAIL, RCPT..., DATA of one scanned message: exactly m->scan.wire. */
static enum e2_status
send_transmit(struct send_run *r, struct send_msg *m, struct e2_err *err)
{
	const char *wire = m->scan.wire;
	size_t len = m->scan.wire_len, refused = 0;
	struct e2_err rerr = {0};
	char what[300];
	int res;

	m->perm = false;
	if (r->smtp->smtp_max_msg_size != 0 &&
	    len > r->smtp->smtp_max_msg_size) {
		m->perm = true;
		return e2_fail(err, E2_EINVAL,
			       "message of %zu bytes exceeds the server's "
			       "SIZE of %zu bytes",
			       len, r->smtp->smtp_max_msg_size);
	}
	/* RFC 6152: 8-bit data only where the server said 8BITMIME */
	if (m->scan.eightbit && (r->smtp->esmtp & MAILSMTP_ESMTP_8BITMIME) == 0)
		return e2_fail(err, E2_EINVAL,
			       "8-bit message and the server does not offer "
			       "8BITMIME: not sent (encode it as 7-bit MIME)");
	if (r->smtp->esmtp != 0)
		res = send_mail_from(r, len, m->scan.eightbit);
	else
		res = mailsmtp_mail(r->smtp, r->sender);
	if (res != MAILSMTP_NO_ERROR) {
		(void)snprintf(what, sizeof(what), "sender <%s> refused",
			       r->sender);
		/*
		 * a refused sender is mostly the account's problem (530
		 * authentication required, 5.7.x policy), not the message's:
		 * retried on the schedule; only 552 (too large) is permanent
		 */
		m->perm = send_is_5xx(r, res) && r->smtp->response_code == 552;
		return send_smtp_fail(r, res, what, err);
	}
	/* every RCPT, so the reason names the first refused one */
	m->perm = true; /* while every refusal is a 5xx */
	for (size_t i = 0; i < m->scan.nrcpt; i++) {
		res = mailsmtp_rcpt(r->smtp, m->scan.rcpt[i]);
		if (res == MAILSMTP_NO_ERROR)
			continue;
		m->perm = m->perm && send_is_5xx(r, res);
		(void)snprintf(what, sizeof(what), "recipient <%s> refused",
			       m->scan.rcpt[i]);
		(void)send_smtp_fail(r, res, what, refused == 0 ? &rerr : NULL);
		if (r->dead)
			return e2_fail(err, rerr.code, "%s", rerr.msg);
		refused++;
	}
	if (refused == 0)
		m->perm = false;
	if (refused > 0) {
		if (refused > 1)
			return e2_fail(err, rerr.code,
				       "%s (and %zu more refused)", rerr.msg,
				       refused - 1);
		return e2_fail(err, rerr.code, "%s", rerr.msg);
	}
	res = mailsmtp_data(r->smtp);
	if (res != MAILSMTP_NO_ERROR) {
		m->perm = send_is_5xx(r, res);
		return send_smtp_fail(r, res, "DATA refused", err);
	}
	/*
	 * libetpan adds CRLF . CRLF: drop the message's own last line end.
	 * It dot-stuffs at each CRLF; the wire copy has no other line end.
	 */
	if (len >= 2 && wire[len - 2] == '\r' && wire[len - 1] == '\n')
		len -= 2;
	res = mailsmtp_data_message(r->smtp, wire, len);
	if (res != MAILSMTP_NO_ERROR) {
		m->perm = send_is_5xx(r, res);
		return send_smtp_fail(r, res, "message refused", err);
	}
	return E2_OK;
}

/*
 * The envelope of email2-sendmail (one address a line, from the queue
 * row) replaces the header recipients: each line must pass
 * outbox_addr_ok() again (the row is a file on disk like any other).
 */
static enum e2_status
send_use_envelope(struct outbox_scan *sc, const char *env, struct e2_err *err)
{
	size_t n = 0;
	char **v;

	for (const char *p = env; *p != '\0'; p++)
		n += *p == '\n';
	v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return send_oom(err);
	n = 0;
	for (const char *p = env; *p != '\0';) {
		size_t k = strcspn(p, "\n");

		v[n] = strndup(p, k);
		if (v[n] == NULL) {
			e2_strv_free(&v, n);
			return send_oom(err);
		}
		if (!outbox_addr_ok(v[n])) {
			enum e2_status rc = e2_fail(
				err, E2_EINVAL,
				"queued envelope recipient \"%.100s\" is not "
				"an address",
				v[n]);

			e2_strv_free(&v, n + 1);
			return rc;
		}
		n++;
		p += k;
		if (*p == '\n')
			p++;
	}
	if (n == 0) {
		free(v);
		return e2_fail(err, E2_EINVAL, "queued envelope is empty");
	}
	e2_strv_free(&sc->rcpt, sc->nrcpt);
	sc->rcpt = v;
	sc->nrcpt = n;
	sc->cap = n + 1;
	return E2_OK;
}

/* ---- the run --------------------------------------------------------------
 */

static void
send_msg_clear(struct send_msg *m)
{
	free(m->buf);
	outbox_scan_free(&m->scan);
	memset(m, 0, sizeof(*m));
}

static enum e2_status
send_row_write(struct send_run *r, const struct outbox_row *row,
	       struct e2_err *err)
{
	enum e2_status rc = store_begin(r->c->st, err);

	if (rc != E2_OK)
		return rc;
	rc = outbox_row_update(r->c->st, r->c->a->guid, row, err);
	if (rc == E2_OK)
		return store_commit(r->c->st, err);
	store_rollback(r->c->st);
	return rc;
}

/*
 * Records a failed attempt of row with its reason and counts it. counts:
 * the message's own failure (an attempt, and the delay of the schedule in
 * outbox.h); false for a connection that failed before its turn. perm: a
 * permanent failure, FAILED at once. Only store errors are returned.
 */
static enum e2_status
send_failed(struct send_run *r, struct outbox_row *row, enum e2_status why,
	    const char *reason, bool counts, bool perm, struct e2_err *err)
{
	struct sync_ctx *c = r->c;
	int64_t now = (int64_t)time(NULL);

	c->stats->send_failed++;
	if (r->failed++ == 0) {
		r->first_rc = why;
		(void)snprintf(r->first_msg, sizeof(r->first_msg), "%s",
			       reason);
	}
	if (counts) {
		row->attempts++;
		row->next_attempt = now + outbox_retry_delay(row->attempts);
	}
	row->last_attempt = now;
	(void)snprintf(row->last_error, sizeof(row->last_error), "%s", reason);
	if (perm || row->attempts >= OUTBOX_MAX_ATTEMPTS ||
	    (row->queued > 0 && now - row->queued >= OUTBOX_MAX_AGE))
		row->state = OUTBOX_STATE_FAILED;
	return send_row_write(r, row, err);
}

static enum e2_status
send_row_done(struct send_run *r, const char *id, struct e2_err *err)
{
	enum e2_status rc = store_begin(r->c->st, err);

	if (rc != E2_OK)
		return rc;
	rc = outbox_row_delete(r->c->st, r->c->a->guid, id, err);
	if (rc == E2_OK)
		return store_commit(r->c->st, err);
	store_rollback(r->c->st);
	return rc;
}

/*
 * After the server's 250 (or for a SENT row): the move into the Sent
 * folder, then the row deleted. A failed move leaves the row SENT with the
 * reason and is counted in the run's failures (the message is kept, not
 * lost, and never sent again): the next run retries only the move, and
 * the other messages go on. Only ENOMEM and store errors are returned.
 */
static enum e2_status
send_finish(struct send_run *r, struct outbox_row *row,
	    const struct maildir_file *f, struct e2_err *err)
{
	struct e2_err merr = {0};
	enum e2_status rc = send_move_sent(r, row->id, f, &merr);

	if (rc == E2_ENOMEM)
		return e2_fail(err, rc, "%s", merr.msg);
	if (rc != E2_OK) {
		row->state = OUTBOX_STATE_SENT;
		(void)snprintf(row->last_error, sizeof(row->last_error),
			       "sent; not yet moved to Sent: %.200s", merr.msg);
		if (r->failed++ == 0) {
			r->first_rc = rc;
			(void)snprintf(r->first_msg, sizeof(r->first_msg),
				       "%.199s", row->last_error);
		}
		return send_row_write(r, row, err);
	}
	return send_row_done(r, row->id, err);
}

/*
 * Sends one claimed message (row, its file f). Only store and disk errors
 * are returned; the message's own failure is recorded in its row.
 */
static enum e2_status
send_one(struct send_run *r, struct outbox_row *row,
	 const struct maildir_file *f, struct e2_err *err)
{
	struct send_msg m = {0};
	struct send_buf add = {0};
	struct e2_err merr = {0};
	char *path = NULL;
	enum e2_status rc = E2_OK, mrc;

	path = send_path(r->outbox, f->sub, f->name);
	if (path == NULL) {
		rc = send_oom(err);
		goto out;
	}
	mrc = send_read(path, &m, &merr);
	if (mrc == E2_OK)
		mrc = outbox_scan_ex(m.buf, m.len, row->envelope == NULL,
				     &m.scan, &merr);
	if (mrc == E2_OK) {
		const char *nl = memchr(m.buf, '\n', m.len);
		const char *eol = nl != NULL && nl > m.buf && nl[-1] == '\r'
					  ? "\r\n"
					  : "\n";

		mrc = send_added_fields(r, &m, eol, &add, &merr);
	}
	if (mrc == E2_OK && add.len > 0) {
		/* a disk failure here stops the run, like any store error */
		rc = send_rewrite(r, path, &m, &add, err);
		if (rc != E2_OK)
			goto out;
		/* what is sent is the file as it is now, scanned again */
		outbox_scan_free(&m.scan);
		mrc = outbox_scan_ex(m.buf, m.len, row->envelope == NULL,
				     &m.scan, &merr);
	}
	if (mrc == E2_OK && row->envelope != NULL)
		mrc = send_use_envelope(&m.scan, row->envelope, &merr);
	/* a message that cannot be read or scanned never will be */
	m.perm = mrc == E2_EINVAL;
	if (mrc == E2_OK)
		mrc = send_transmit(r, &m, &merr);
	if (mrc != E2_OK) {
		if (!r->dead && r->smtp != NULL &&
		    mailsmtp_reset(r->smtp) != MAILSMTP_NO_ERROR)
			r->dead = true;
		rc = send_failed(r, row, mrc, merr.msg, true, m.perm, err);
		goto out;
	}
	/* accepted: from here on a second send is what we must avoid */
	r->c->stats->sent++;
	rc = send_finish(r, row, f, err);
out:
	sync_progress(r->c);
	send_msg_clear(&m);
	free(add.p);
	free(path);
	return rc;
}

static enum e2_status
send_connect(struct send_run *r, struct e2_err *err)
{
	struct chain_opts co = {0};
	struct chain_request req;
	struct e2_side_report rep = {0};
	enum e2_status rc;

	co.cafile = r->c->o.cafile;
	co.timeout_ms = r->c->o.timeout_ms;
	co.login = true;
	co.trace = r->c->o.trace;
	rc = account_chain_request(r->c->st, r->c->a, E2_SIDE_OUT, &co, &req,
				   err);
	if (rc == E2_OK)
		rc = chain_open(&req, &r->sess, &rep, err);
	if (rc != E2_OK)
		return rc;
	sync_note_cleartext(r->c, r->sess, E2_SIDE_OUT);
	r->smtp = chain_session_smtp(r->sess);
	if (r->smtp == NULL)
		return e2_fail(err, E2_EINVAL, "OUTSERVER is not SMTP");
	return E2_OK;
}

/* ---- the queue of older versions -----------------------------------------
 */

/*
 * True when a sync wrote the legacy file f (its unique name): it carries a
 * download tag (IMAP "U=", POP3 "L=") or a sync_messages row names it. The
 * row is looked up by name in every folder (unique names are unique per
 * account), so a change in how folders are keyed cannot hide one.
 */
static enum e2_status
send_legacy_synced(struct send_run *r, sqlite3_stmt **stmt,
		   const struct maildir_file *f, bool *synced_out,
		   struct e2_err *err)
{
	sqlite3 *db = store_db(r->c->st);
	char tag[MAILDIR_TAG_MAX + 1];
	int res;

	*synced_out = maildir_name_field(f->uniq, "U", tag, sizeof(tag)) ||
		      maildir_name_field(f->uniq, "L", tag, sizeof(tag));
	if (*synced_out)
		return E2_OK;
	if (*stmt == NULL &&
	    sqlite3_prepare_v2(db,
			       "SELECT 1 FROM sync_messages WHERE guid = ?1"
			       " AND local_name = ?2 LIMIT 1",
			       -1, stmt, NULL) != SQLITE_OK)
		return e2_fail(err, E2_ESTORE, "outbox migration: %s",
			       sqlite3_errmsg(db));
	sqlite3_reset(*stmt);
	sqlite3_bind_text(*stmt, 1, r->c->a->guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(*stmt, 2, f->uniq, -1, SQLITE_TRANSIENT);
	res = sqlite3_step(*stmt);
	if (res != SQLITE_ROW && res != SQLITE_DONE)
		return e2_fail(err, E2_ESTORE, "outbox migration: %s",
			       sqlite3_errmsg(db));
	*synced_out = res == SQLITE_ROW;
	return E2_OK;
}

/*
 * Older versions queued mail in mail/{GUID}/.Outbox, which is also where
 * a server folder named "Outbox" syncs. Once per account (until the file
 * SEND_LEGACY_DONE is in the queue), each message of that folder that no
 * sync wrote -- no download tag, no state row: mail the user queued -- is
 * renamed into the queue (same new/ or cur/, same name, so its
 * sync_outbox row and attempts follow it) and counted in
 * stats->outbox_migrated; every other one stays where it is, an ordinary
 * message of the folder ".Outbox", never sent, counted in
 * stats->outbox_legacy_kept. The marker is written only when every
 * rename is done: an interrupted migration is finished by the next run.
 */
static enum e2_status
send_migrate_legacy(struct send_run *r, struct e2_err *err)
{
	struct maildir_snapshot snap = {0};
	sqlite3_stmt *stmt = NULL;
	char *legacy = NULL, *done = NULL, *from = NULL, *to = NULL;
	struct stat sb;
	int fd;
	enum e2_status rc = E2_OK;

	legacy = send_path(maildir_root(r->c->md), SEND_LEGACY, NULL);
	done = send_path(r->outbox, SEND_LEGACY_DONE, NULL);
	if (legacy == NULL || done == NULL) {
		rc = send_oom(err);
		goto out;
	}
	if (lstat(done, &sb) == 0)
		goto out;
	if (lstat(legacy, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		rc = maildir_snapshot(legacy, NULL, &snap, err);
		for (size_t i = 0; i < snap.n && rc == E2_OK; i++) {
			const struct maildir_file *f = &snap.v[i];
			bool synced = false;

			rc = send_legacy_synced(r, &stmt, f, &synced, err);
			if (rc != E2_OK)
				break;
			free(from);
			free(to);
			from = send_path(legacy, f->sub, f->name);
			to = send_path(r->outbox, f->sub, f->name);
			if (from == NULL || to == NULL) {
				rc = send_oom(err);
				break;
			}
			if (synced || lstat(to, &sb) == 0) {
				r->c->stats->outbox_legacy_kept++;
				continue;
			}
			if (rename(from, to) != 0) {
				rc = e2_fail(err, E2_ESTORE,
					     "move %s into the send queue: %s",
					     from, strerror(errno));
				break;
			}
			r->c->stats->outbox_migrated++;
		}
		for (size_t k = 0; k < 2 && rc == E2_OK; k++) {
			const char *sub = k == 0 ? "new" : "cur";

			free(from);
			free(to);
			from = send_path(legacy, sub, NULL);
			to = send_path(r->outbox, sub, NULL);
			if (from == NULL || to == NULL)
				rc = send_oom(err);
			if (rc == E2_OK)
				rc = send_fsync_dir(to, err);
			if (rc == E2_OK && lstat(from, &sb) == 0)
				rc = send_fsync_dir(from, err);
		}
		if (rc != E2_OK)
			goto out;
	}
	fd = open(done, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fsync(fd) != 0) {
		rc = e2_fail(err, E2_ESTORE, "create %s: %s", done,
			     strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		goto out;
	}
	(void)close(fd);
	rc = send_fsync_dir(r->outbox, err);
out:
	sqlite3_finalize(stmt);
	maildir_snapshot_free(&snap);
	free(legacy);
	free(done);
	free(from);
	free(to);
	return rc;
}

enum e2_status
sync_send_run(struct sync_ctx *c, struct e2_err *err)
{
	struct send_run r = {0};
	struct maildir_snapshot snap = {0};
	struct outbox_row *rows = NULL;
	size_t n = 0, due = 0;
	int64_t now = (int64_t)time(NULL);
	enum e2_status rc = E2_OK;
	bool *todo = NULL;

	r.c = c;
	/* made on the first run, the user's own (owner, mode, no symlink) */
	rc = outbox_open(c->st, c->a->guid, &r.outbox, err);
	if (rc != E2_OK)
		goto out;
	rc = send_migrate_legacy(&r, err);
	if (rc != E2_OK)
		goto out;
	/* every file claimed under its own id first (outbox.h) */
	rc = outbox_claim(c->st, c->a->guid, r.outbox, now, &rows, &n, err);
	if (rc == E2_OK)
		rc = maildir_snapshot(r.outbox, NULL, &snap, err);
	if (rc != E2_OK)
		goto out;
	todo = calloc(n + 1, sizeof(*todo));
	if (todo == NULL) {
		rc = send_oom(err);
		goto out;
	}
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		struct maildir_file *f =
			maildir_snapshot_find(&snap, rows[i].id);

		if (f == NULL)
			continue; /* removed since the claim: the next one */
		if (rows[i].state == OUTBOX_STATE_SENT)
			/* sent by an earlier run: only the move is left */
			rc = send_finish(&r, &rows[i], f, err);
		else if (rows[i].state == OUTBOX_STATE_QUEUED &&
			 rows[i].next_attempt <= now)
			todo[i] = true;
	}
	for (size_t i = 0; i < n; i++)
		due += todo[i];
	if (rc != E2_OK || due == 0)
		goto out;
	if (c->a->replyaddr == NULL || !outbox_addr_ok(c->a->replyaddr)) {
		struct e2_err e = {0};

		(void)e2_fail(&e, E2_EINVAL,
			      "REPLYADDR is not an address: cannot send");
		for (size_t i = 0; i < n && rc == E2_OK; i++)
			if (todo[i])
				rc = send_failed(&r, &rows[i], e.code, e.msg,
						 false, false, err);
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
			for (size_t i = 0; i < n && rc == E2_OK; i++)
				if (todo[i])
					rc = send_failed(&r, &rows[i], crc, why,
							 false, false, err);
			goto out;
		}
	}
	for (size_t i = 0; i < n && rc == E2_OK; i++) {
		if (!todo[i])
			continue;
		if (r.dead) {
			rc = send_failed(&r, &rows[i], r.first_rc,
					 "not sent: the connection was lost",
					 false, false, err);
			continue;
		}
		if (sync_stopping(c))
			break;
		rc = send_one(&r, &rows[i],
			      maildir_snapshot_find(&snap, rows[i].id), err);
	}
out:
	if (rc == E2_OK && r.failed > 0)
		rc = e2_fail(err, r.first_rc,
			     "outbox: %zu message%s kept queued: %s", r.failed,
			     r.failed == 1 ? "" : "s", r.first_msg);
	chain_session_free(&r.sess);
	maildir_snapshot_free(&snap);
	outbox_rows_free(&rows, n);
	free(todo);
	free(r.outbox);
	free(r.sent);
	return rc;
}
