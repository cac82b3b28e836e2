/* SPDX-License-Identifier: MIT */
/* outbox.c -- where an account's send queue lives (see outbox.h) */
#include "config.h"

#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "maildir.h"

enum e2_status
outbox_open(struct e2_store *st, const char *guid, char **path_out,
	    struct e2_err *err)
{
	struct maildir *md = NULL;
	char *q = NULL;
	enum e2_status rc;

	rc = store_account_dir(st, STORE_AREA_OUTBOX, guid, &q, err);
	if (rc != E2_OK)
		return rc;
	/* maildir_open() makes tmp/ new/ cur/ when missing */
	rc = maildir_open(q, &md, err);
	maildir_close(&md);
	if (rc != E2_OK) {
		free(q);
		return rc;
	}
	*path_out = q;
	return E2_OK;
}

enum e2_status
outbox_sent_open(struct e2_store *st, const char *guid, char **path_out,
		 struct e2_err *err)
{
	struct maildir *md = NULL;
	char *q = NULL, *s = NULL;
	size_t len;
	enum e2_status rc;

	rc = outbox_open(st, guid, &q, err);
	if (rc != E2_OK)
		return rc;
	len = strlen(q) + sizeof(OUTBOX_SENT_DIR) + 1;
	s = malloc(len);
	if (s == NULL) {
		free(q);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	(void)snprintf(s, len, "%s/%s", q, OUTBOX_SENT_DIR);
	free(q);
	/* made 0700 with its tmp/ new/ cur/ (maildir_open()) */
	rc = maildir_open(s, &md, err);
	maildir_close(&md);
	if (rc != E2_OK) {
		free(s);
		return rc;
	}
	*path_out = s;
	return E2_OK;
}

int64_t
outbox_retry_delay(unsigned attempts)
{
	static const int64_t minutes[] = {1, 5, 15, 60};

	if (attempts == 0)
		return 0;
	if (attempts > sizeof(minutes) / sizeof(minutes[0]))
		return 60 * 60;
	return minutes[attempts - 1] * 60;
}

enum e2_status
outbox_id_new(char out[OUTBOX_ID_MAX], struct e2_err *err)
{
	unsigned char rnd[8];
	char hex[17];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return e2_fail(err, E2_ENOMEM,
			       "no random bytes for a queue id");
	for (size_t i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	(void)snprintf(out, OUTBOX_ID_MAX, "%lld.Q%s.e2q",
		       (long long)time(NULL), hex);
	return E2_OK;
}

bool
outbox_id_ok(const char *s, size_t len)
{
	size_t i = 0, d;

	while (i < len && i < 20 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || len != i + 2 + 16 + 4 || s[i] != '.' || s[i + 1] != 'Q')
		return false;
	for (d = i + 2; d < i + 18; d++)
		if (!((s[d] >= '0' && s[d] <= '9') ||
		      (s[d] >= 'a' && s[d] <= 'f')))
			return false;
	return memcmp(s + d, ".e2q", 4) == 0;
}

/* ---- the From field ------------------------------------------------------ */

struct outbox_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
outbox_put(struct outbox_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
outbox_puts(struct outbox_buf *b, const char *s)
{
	outbox_put(b, s, strlen(s));
}

static bool
outbox_atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == ' ' ||
	       strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

static void
outbox_put_phrase(struct outbox_buf *b, const char *name)
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
		else if (!outbox_atext(ch))
			atoms = false;
	}
	clean[n] = '\0';
	if (n > 0 && (clean[0] == ' ' || clean[n - 1] == ' '))
		atoms = false;
	if (ascii && atoms) {
		outbox_put(b, clean, n);
		return;
	}
	if (ascii) {
		outbox_puts(b, "\"");
		for (i = 0; i < n; i++) {
			if (clean[i] == '"' || clean[i] == '\\')
				outbox_puts(b, "\\");
			outbox_put(b, clean + i, 1);
		}
		outbox_puts(b, "\"");
		return;
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
		if (i > 0)
			outbox_puts(b, " ");
		outbox_puts(b, "=?UTF-8?B?");
		outbox_puts(b, (const char *)enc);
		outbox_puts(b, "?=");
		i += k;
	}
}

char *
outbox_from_field(const char *name, const char *addr)
{
	struct outbox_buf b = {0};

	outbox_puts(&b, "From: ");
	if (name != NULL && name[0] != '\0') {
		outbox_put_phrase(&b, name);
		outbox_puts(&b, " <");
		outbox_puts(&b, addr);
		outbox_puts(&b, ">");
	} else {
		outbox_puts(&b, addr);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- email2-syncd's pid file ----------------------------------------------
 */

static char *
outbox_pid_path(struct e2_store *st)
{
	const char *dir = e2_store_dir(st);
	size_t len = strlen(dir) + sizeof(E2_SYNCD_PID_FILE) + 1;
	char *p = malloc(len);

	if (p != NULL)
		(void)snprintf(p, len, "%s/%s", dir, E2_SYNCD_PID_FILE);
	return p;
}

enum e2_status
e2_syncd_pidfile(struct e2_store *st, int *fd_out, struct e2_err *err)
{
	char *path = outbox_pid_path(st);
	char line[32];
	int fd;
	enum e2_status rc = E2_OK;

	if (path == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = e2_fail(err, E2_ESTORE, "open %s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		(void)close(fd);
		fd = -1;
		if (e != EWOULDBLOCK)
			rc = e2_fail(err, E2_ESTORE, "lock %s: %s", path,
				     strerror(e));
		goto out;
	}
	/* locked first, then written: a reader sees a pid only under lock */
	(void)snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, line, strlen(line), 0) != (ssize_t)strlen(line)) {
		rc = e2_fail(err, E2_ESTORE, "write %s: %s", path,
			     strerror(errno));
		(void)close(fd);
		fd = -1;
	}
out:
	free(path);
	if (rc == E2_OK)
		*fd_out = fd;
	return rc;
}

/*
 * The pid written in a pid file another process holds locked; 0 when the
 * lock is free (no syncd runs, whatever pid the file names). The holder
 * locks first and writes next, so an empty file under a held lock is read
 * again for up to a second before it is an error.
 */
static enum e2_status
outbox_pid_holder(const char *path, long *pid_out, struct e2_err *err)
{
	char line[32];
	ssize_t n = 0;
	long pid = 0;
	char *end = NULL;
	int fd;
	enum e2_status rc = E2_OK;

	*pid_out = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return E2_OK; /* no syncd ever ran here */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		goto out;
	for (int i = 0; i < 20; i++) {
		const struct timespec pause = {0, 50 * 1000 * 1000};

		n = pread(fd, line, sizeof(line) - 1, 0);
		if (n > 0)
			break;
		(void)nanosleep(&pause, NULL);
	}
	if (n > 0)
		line[n] = '\0';
	errno = 0;
	if (n > 0)
		pid = strtol(line, &end, 10);
	if (n <= 0 || errno != 0 || end == line || pid <= 1 ||
	    (*end != '\n' && *end != '\0')) {
		rc = e2_fail(err, E2_ESTORE, "%s is locked but names no pid",
			     path);
		goto out;
	}
	*pid_out = pid;
out:
	(void)close(fd);
	return rc;
}

enum e2_status
e2_syncd_running(struct e2_store *st, long *pid_out, struct e2_err *err)
{
	char *path = outbox_pid_path(st);
	enum e2_status rc;

	*pid_out = 0;
	if (path == NULL)
		return e2_fail(err, E2_ENOMEM, "out of memory");
	rc = outbox_pid_holder(path, pid_out, err);
	free(path);
	return rc;
}

enum e2_status
e2_syncd_wake(struct e2_store *st, bool *woken_out, struct e2_err *err)
{
	long pid = 0;
	enum e2_status rc;

	*woken_out = false;
	rc = e2_syncd_running(st, &pid, err);
	if (rc != E2_OK || pid == 0)
		return rc;
	if (kill((pid_t)pid, SIGUSR1) != 0)
		return e2_fail(err, E2_ESTORE,
			       "wake email2-syncd (pid %ld): %s", pid,
			       strerror(errno));
	*woken_out = true;
	return E2_OK;
}
