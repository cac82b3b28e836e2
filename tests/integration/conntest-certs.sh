#!/bin/bash
# SPDX-License-Identifier: MIT
# conntest-certs.sh -- every bad certificate is refused with a clear reason,
# on the implicit-TLS and the STARTTLS rung, for IMAP, POP3 and SMTP, and is
# never followed by a plain attempt (even where TLS is optional)
. "$(dirname "$0")/lib.sh"
. "$E2T_SRCDIR/harness/conntest.sh"
ct_need
e2t_up

# reason regexes over the attempt's error + verify_result
why_wrong='host|name|mismatch'
why_expired='expired'
why_self='self.signed'
why_unknown='local issuer|unable to get|unknown ca|self.signed'

e2t_log_mark
for p in imap pop3 smtp; do
	ct_proto "$p"
	for bad in "$E2T_HOST_WRONG:$why_wrong" \
		"$E2T_HOST_EXPIRED:$why_expired" \
		"$E2T_HOST_SELFSIGNED:$why_self"; do
		host=${bad%%:*} why=${bad#*:}
		ct "$p: $host on implicit TLS: ecert ($why), nothing after" 1 \
			"M == ['tls'] and s['status'] == 'ecert'
			 and last['status'] == 'ecert' and not last['cert_verified']
			 and last['login'] == 'not_tried'
			 and 'CN' in (last['cert_subject'] or '')
			 and last['cert_issuer']
			 and re.search('$why', (last['error'] or '') + ' ' +
				       (last['verify_result'] or ''), re.I)" \
			$(ct_side "$host:$CT_TLS_PORT")
		ct "$p: $host on STARTTLS: ecert ($why), no plain rung" 1 \
			"M == ['tls', 'starttls'] and s['status'] == 'ecert'
			 and last['status'] == 'ecert'
			 and last['login'] == 'not_tried'
			 and re.search('$why', (last['error'] or '') + ' ' +
				       (last['verify_result'] or ''), re.I)" \
			$(ct_side "$host:$CT_STARTTLS_PORT")
	done
	CT_NO_CAFILE=1 ct "$p: unknown CA (no --cafile): ecert" 1 \
		"M == ['tls'] and s['status'] == 'ecert'
		 and re.search('$why_unknown', (last['error'] or '') + ' ' +
			       (last['verify_result'] or ''), re.I)" \
		$(ct_side "$E2T_HOST:$CT_TLS_PORT")
done
no_login_lines() {
	sleep 0.2
	! e2t_log_since |
		grep -E -- "-login(-[a-z]+)?: .*(Login|auth failed).*user=<$E2T_USER>"
}
e2t_check "no login reached Dovecot from a bad-certificate test" \
	no_login_lines
ct_proto imap
EMAIL2_CAFILE=$E2T_CA CT_NO_CAFILE=1 ct "EMAIL2_CAFILE is the default --cafile" \
	0 'M == ["tls"] and last["cert_verified"]' \
	$(ct_side "$E2T_HOST:$E2T_IMAPS_PORT")
if [ "$E2T_DEFAULT_PORTS" = 1 ]; then
	ct "imap: default ports, expired certificate: no fallback at all" 1 \
		'M == ["tls"] and s["status"] == "ecert"' \
		$(ct_side "$E2T_HOST_EXPIRED") --in-require-ssl
fi
e2t_finish
