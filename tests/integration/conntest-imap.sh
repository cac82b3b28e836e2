#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-imap.sh -- email2-conntest against Dovecot's imap listeners: every
# rung of the fallback chain, TLS policy, wrong password, no leaked password
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up
ct_protocol_suite imap
e2t_finish
