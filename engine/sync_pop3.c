/* SPDX-License-Identifier: MIT */
/* sync_pop3.c -- POP3 into the Maildir root, UIDL-keyed, never twice */
#include "config.h"

#include "sync.h"

enum e2_status
sync_pop3_run(struct sync_ctx *c, struct e2_err *err)
{
	(void)c;
	return e2_fail(err, E2_EINVAL, "pop3 sync: not implemented yet");
}
