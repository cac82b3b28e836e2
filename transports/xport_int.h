/* SPDX-License-Identifier: MIT */
/* xport_int.h -- the layer table and layout shared by the xport layers */
#ifndef E2_XPORT_INT_H
#define E2_XPORT_INT_H

#include "transports/xport.h"

struct xport_ops {
	const char *name; /* "tcp", "tls" */
	ssize_t (*read)(struct xport *xp, void *buf, size_t len);
	ssize_t (*write)(struct xport *xp, const void *buf, size_t len);
	size_t (*pending)(const struct xport *xp);
	void (*describe)(const struct xport *xp, struct xport_info *info);
	void (*free_ctx)(void *ctx); /* this layer only, never the one below */
};

struct xport {
	const struct xport_ops *ops;
	struct xport *below;   /* NULL for tcp */
	void *ctx;             /* layer state, owned by the layer */
	struct e2_err *err;    /* shared by the whole chain */
	struct xport_ctl *ctl; /* shared by the whole chain */
};

/* The bottom layer's descriptor and "host:port (address)" for messages. */
int xport_tcp_fd(const struct xport *tcp);
const char *xport_tcp_peer(const struct xport *tcp);
/*
 * Waits until fd is ready for events or the chain's deadline passes, in
 * slices that watch ctl->cancel. Returns E2_OK or E2_ETIMEOUT (err written
 * naming what for). Errors: E2_ETIMEOUT, E2_EIO.
 */
enum e2_status xport_wait(const struct xport *tcp, short events,
			  const char *what);

/*
 * (xport_tls.c) Fills info's cert_subject, cert_issuer, cert_sha256 and
 * validity dates from peer (borrowed), as the report prints them.
 */
struct x509_st;
void xport_cert_describe(const struct x509_st *peer, struct xport_info *info);

#endif /* E2_XPORT_INT_H */
