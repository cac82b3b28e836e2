/* SPDX-License-Identifier: MIT */
/* xport_tcp.c -- the bottom layer: non-blocking connect and I/O, deadlines */
#include "config.h"

#include "transports/xport_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Cancellation is noticed within this many milliseconds. */
#define XPORT_SLICE_MS 100

struct xport_tcp {
	int fd;
	char address[64];
	char peer[384]; /* "host:port (address)" */
};

int64_t
xport_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* strerror() with a lower-case first letter, for our message style. */
static const char *
xport_tcp_strerror(int e, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int64_t
xport_tcp_step_deadline(const struct xport_ctl *ctl)
{
	if (ctl->deadline_ms != 0)
		return ctl->deadline_ms;
	return xport_now_ms() + (ctl->idle_ms != 0 ? ctl->idle_ms : 10000);
}

/* Polls fd until events, the deadline, or cancellation. */
static enum e2_status
xport_tcp_poll(int fd, short events, struct xport_ctl *ctl, int64_t deadline,
	       short *revents_out)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline - xport_now_ms();
		int r;

		if (atomic_load(&ctl->cancel) || left <= 0)
			return E2_ETIMEOUT;
		if (left > XPORT_SLICE_MS)
			left = XPORT_SLICE_MS;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return E2_EIO;
		if (r > 0) {
			*revents_out = pfd.revents;
			return E2_OK;
		}
	}
}

enum e2_status
xport_wait(const struct xport *tcp, short events, const char *what)
{
	const struct xport_tcp *t = tcp->ctx;
	short rev = 0;
	enum e2_status rc;
	char eb[128];

	rc = xport_tcp_poll(t->fd, events, tcp->ctl,
			    xport_tcp_step_deadline(tcp->ctl), &rev);
	if (rc == E2_ETIMEOUT) {
		if (atomic_load(&tcp->ctl->cancel))
			return e2_fail(tcp->err, rc, "%s %s: cancelled", what,
				       t->peer);
		return e2_fail(tcp->err, rc, "%s %s: timed out", what, t->peer);
	}
	if (rc != E2_OK)
		return e2_fail(tcp->err, rc, "%s %s: %s", what, t->peer,
			       xport_tcp_strerror(errno, eb, sizeof(eb)));
	return E2_OK;
}

static ssize_t
xport_tcp_read(struct xport *xp, void *buf, size_t len)
{
	struct xport_tcp *t = xp->ctx;
	char eb[128];

	for (;;) {
		ssize_t n = recv(t->fd, buf, len, 0);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			xp->err->sys_errno = errno;
			(void)e2_fail(
				xp->err, E2_EIO, "read from %s: %s", t->peer,
				xport_tcp_strerror(errno, eb, sizeof(eb)));
			return -1;
		}
		if (xport_wait(xp, POLLIN, "read from") != E2_OK)
			return -1;
	}
}

static ssize_t
xport_tcp_write(struct xport *xp, const void *buf, size_t len)
{
	struct xport_tcp *t = xp->ctx;
	const char *p = buf;
	size_t done = 0;
	char eb[128];

	while (done < len) {
		ssize_t n = send(t->fd, p + done, len - done, MSG_NOSIGNAL);

		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			xp->err->sys_errno = errno;
			(void)e2_fail(
				xp->err, E2_EIO, "write to %s: %s", t->peer,
				xport_tcp_strerror(errno, eb, sizeof(eb)));
			return -1;
		}
		if (xport_wait(xp, POLLOUT, "write to") != E2_OK)
			return -1;
	}
	return (ssize_t)len;
}

static size_t
xport_tcp_pending(const struct xport *xp)
{
	const struct xport_tcp *t = xp->ctx;
	struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
	char buf[512];
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0 || (pfd.revents & POLLIN) == 0)
		return 0;
	n = recv(t->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	return n > 0 ? (size_t)n : 0;
}

static void
xport_tcp_describe(const struct xport *xp, struct xport_info *info)
{
	const struct xport_tcp *t = xp->ctx;

	(void)snprintf(info->address, sizeof(info->address), "%s", t->address);
}

static void
xport_tcp_free_ctx(void *ctx)
{
	struct xport_tcp *t = ctx;

	if (t == NULL)
		return;
	if (t->fd >= 0)
		(void)close(t->fd);
	free(t);
}

static const struct xport_ops xport_tcp_ops = {
	.name = "tcp",
	.read = xport_tcp_read,
	.write = xport_tcp_write,
	.pending = xport_tcp_pending,
	.describe = xport_tcp_describe,
	.free_ctx = xport_tcp_free_ctx,
};

int
xport_tcp_fd(const struct xport *tcp)
{
	const struct xport_tcp *t = tcp->ctx;

	return t->fd;
}

const char *
xport_tcp_peer(const struct xport *tcp)
{
	const struct xport_tcp *t = tcp->ctx;

	return t->peer;
}

/*
 * One non-blocking connect to ai, waiting until deadline. Returns E2_OK with
 * *fd_out set, or the cause with *errno_out.
 */
static enum e2_status
xport_tcp_connect_one(const struct addrinfo *ai, struct xport_ctl *ctl,
		      int64_t deadline, int *fd_out, int *errno_out)
{
	enum e2_status rc;
	socklen_t sl = sizeof(int);
	short rev = 0;
	int fd, soerr = 0;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		*errno_out = errno;
		return E2_ECONNECT;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto ok;
	if (errno != EINPROGRESS) {
		*errno_out = errno;
		rc = E2_ECONNECT;
		goto fail;
	}
	rc = xport_tcp_poll(fd, POLLOUT, ctl, deadline, &rev);
	if (rc != E2_OK) {
		*errno_out = rc == E2_ETIMEOUT ? ETIMEDOUT : errno;
		rc = rc == E2_ETIMEOUT ? E2_ETIMEOUT : E2_ECONNECT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr != 0) {
		*errno_out = soerr;
		rc = E2_ECONNECT;
		goto fail;
	}
ok:
	*fd_out = fd;
	return E2_OK;
fail:
	(void)close(fd);
	return rc;
}

/* ---- name resolution under the deadline ------------------------------------
 *
 * getaddrinfo() has no timeout of its own: a resolver that never answers
 * holds it for resolv.conf's timeout x attempts x servers, 10 s and more.
 * It runs in a detached thread; the caller waits for the answer, the
 * deadline or cancel, whichever comes first. A caller that gives up leaves
 * the job to the thread, which frees it when getaddrinfo() returns.
 */
struct xport_resolve {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC, as xport_now_ms() */
	bool done, abandoned;
	int gai, sys_errno;
	struct addrinfo hints, *res;
	char *host;
	char service[8];
};

static void
xport_resolve_free(struct xport_resolve *j)
{
	if (j->res != NULL)
		freeaddrinfo(j->res);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j->host);
	free(j);
}

static void *
xport_resolve_thread(void *arg)
{
	struct xport_resolve *j = arg;
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(j->host, j->service, &j->hints, &res);
	int e = errno;
	bool abandoned;

	pthread_mutex_lock(&j->mu);
	j->gai = gai;
	j->sys_errno = e;
	j->res = res;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)
		xport_resolve_free(j);
	return NULL;
}

/*
 * getaddrinfo(host, service, hints) by the deadline. Errors: E2_ERESOLVE
 * (the resolver's answer), E2_ETIMEOUT (no answer in time, or cancelled),
 * E2_ENOMEM.
 */
static enum e2_status
xport_resolve(const char *host, const char *service,
	      const struct addrinfo *hints, struct xport_ctl *ctl,
	      struct addrinfo **res_out, struct e2_err *err)
{
	int64_t start = xport_now_ms(), end = xport_tcp_step_deadline(ctl);
	struct xport_resolve *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	enum e2_status rc = E2_OK;
	bool started = false, gave_up = false;
	char eb[128];

	if (j == NULL || (j->host = strdup(host)) == NULL) {
		free(j);
		return e2_fail(err, E2_ENOMEM, "out of memory");
	}
	j->hints = *hints;
	(void)snprintf(j->service, sizeof(j->service), "%s", service);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_attr_init(&ta) == 0) {
		(void)pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		started =
			pthread_create(&tid, &ta, xport_resolve_thread, j) == 0;
		pthread_attr_destroy(&ta);
	}
	if (!started) /* no thread to spare: ask without a deadline */
		(void)xport_resolve_thread(j);

	pthread_mutex_lock(&j->mu);
	while (!j->done) {
		int64_t now = xport_now_ms(), wait = end - now;
		struct timespec ts;

		if (wait <= 0 || atomic_load(&ctl->cancel)) {
			j->abandoned = gave_up = true;
			break;
		}
		if (wait > XPORT_SLICE_MS)
			wait = XPORT_SLICE_MS;
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&j->cv, &j->mu, &ts);
	}
	pthread_mutex_unlock(&j->mu);
	if (gave_up) {
		/* the thread frees j */
		if (atomic_load(&ctl->cancel))
			return e2_fail(err, E2_ETIMEOUT,
				       "resolve %s: cancelled", host);
		return e2_fail(err, E2_ETIMEOUT,
			       "resolve %s: no answer from the resolver "
			       "within %lld ms",
			       host, (long long)(xport_now_ms() - start));
	}
	if (j->gai != 0) {
		err->sys_errno = j->gai == EAI_SYSTEM ? j->sys_errno : 0;
		rc = e2_fail(err, E2_ERESOLVE, "resolve %s: %s", host,
			     j->gai == EAI_SYSTEM
				     ? xport_tcp_strerror(j->sys_errno, eb,
							  sizeof(eb))
				     : gai_strerror(j->gai));
	} else {
		*res_out = j->res;
		j->res = NULL;
	}
	xport_resolve_free(j);
	return rc;
}

enum e2_status
xport_tcp_open(const char *host, uint16_t port, struct xport_ctl *ctl,
	       struct xport **xp_out, struct e2_err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	struct xport_tcp *t = NULL;
	struct xport *xp = NULL;
	enum e2_status rc = E2_ECONNECT;
	char service[8], addr[64] = "", eb[128];
	size_t n_addr = 0, i = 0;
	int last_errno = 0, fd = -1;

	(void)snprintf(service, sizeof(service), "%u", (unsigned)port);
	rc = xport_resolve(host, service, &hints, ctl, &res, err);
	if (rc != E2_OK)
		goto out;
	rc = E2_ECONNECT;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		n_addr++;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		/*
		 * Each address gets an equal share of the time left, so a
		 * black-holed IPv6 route cannot eat the IPv4 attempt's time.
		 */
		int64_t now = xport_now_ms();
		int64_t end =
			ctl->deadline_ms != 0
				? ctl->deadline_ms
				: now + (ctl->idle_ms ? ctl->idle_ms : 10000);
		int64_t share = (end - now) / (int64_t)(n_addr - i);

		i++;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
				NULL, 0, NI_NUMERICHOST) != 0)
			(void)snprintf(addr, sizeof(addr), "?");
		rc = xport_tcp_connect_one(ai, ctl, now + share, &fd,
					   &last_errno);
		if (rc == E2_OK)
			break;
		if (atomic_load(&ctl->cancel))
			break;
	}
	if (rc != E2_OK) {
		err->sys_errno = last_errno;
		if (atomic_load(&ctl->cancel))
			rc = e2_fail(err, E2_ETIMEOUT,
				     "connect to %s:%u (%s): cancelled", host,
				     (unsigned)port, addr);
		else if (rc == E2_ETIMEOUT)
			rc = e2_fail(err, rc,
				     "connect to %s:%u (%s): timed out", host,
				     (unsigned)port, addr);
		else
			rc = e2_fail(
				err, E2_ECONNECT, "connect to %s:%u (%s): %s",
				host, (unsigned)port, addr,
				xport_tcp_strerror(last_errno, eb, sizeof(eb)));
		goto out;
	}
	t = calloc(1, sizeof(*t));
	xp = calloc(1, sizeof(*xp));
	if (t == NULL || xp == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	t->fd = fd;
	fd = -1;
	(void)snprintf(t->address, sizeof(t->address), "%s", addr);
	(void)snprintf(t->peer, sizeof(t->peer), "%s:%u (%s)", host,
		       (unsigned)port, addr);
	xp->ops = &xport_tcp_ops;
	xp->ctx = t;
	xp->err = err;
	xp->ctl = ctl;
	t = NULL;
	*xp_out = xp;
	xp = NULL;
	rc = E2_OK;
out:
	free(xp);
	free(t);
	if (fd >= 0)
		(void)close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return rc;
}

ssize_t
xport_read(struct xport *xp, void *buf, size_t len)
{
	return xp->ops->read(xp, buf, len);
}

ssize_t
xport_write(struct xport *xp, const void *buf, size_t len)
{
	return xp->ops->write(xp, buf, len);
}

size_t
xport_pending(const struct xport *xp)
{
	/* The top layer decides: TLS counts decrypted bytes only. */
	return xp->ops->pending(xp);
}

void
xport_describe(const struct xport *xp, struct xport_info *info)
{
	memset(info, 0, sizeof(*info));
	for (; xp != NULL; xp = xp->below)
		xp->ops->describe(xp, info);
}

int
xport_fd(const struct xport *xp)
{
	if (xp == NULL)
		return -1;
	while (xp->below != NULL)
		xp = xp->below;
	return xport_tcp_fd(xp);
}

void
xport_free(struct xport **xpp)
{
	struct xport *xp;

	if (xpp == NULL)
		return;
	xp = *xpp;
	while (xp != NULL) {
		struct xport *below = xp->below;

		xp->ops->free_ctx(xp->ctx);
		free(xp);
		xp = below;
	}
	*xpp = NULL;
}
