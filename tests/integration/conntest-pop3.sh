#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-pop3.sh -- email2-conntest against Dovecot's pop3 listeners: every
# rung of the fallback chain, TLS policy, wrong password, no leaked password
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up
ct_protocol_suite pop3
e2t_finish
