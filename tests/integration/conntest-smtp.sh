#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-smtp.sh -- email2-conntest against Dovecot's smtp listeners: every
# rung of the fallback chain, TLS policy, wrong password, no leaked password
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up
ct_protocol_suite smtp
e2t_finish
