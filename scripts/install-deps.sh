#!/bin/sh
# SPDX-License-Identifier: MIT
# install-deps.sh -- install every Debian package email2's build and tests use,
# only the ones missing. Run as root (or with sudo available) on Debian 12.
#   scripts/install-deps.sh          build + unit + integration tests
#   scripts/install-deps.sh --bench  also the reference clients for tests/bench
#                                    (mbsync, fetchmail, getmail, offlineimap,
#                                    vdirsyncer)
set -eu

# libcurl: the OpenSSL flavour (libcurl4) at run time, the headers from
# libcurl4-gnutls-dev, because libcurl4-openssl-dev conflicts with it and
# libetpan-dev depends on it; configure links libcurl.so.4 (configure.ac).
PKGS="build-essential autoconf automake libtool pkg-config make
 libetpan-dev libssl-dev libxml2-dev libsqlite3-dev check
 clang libclang-rt-14-dev clang-format cppcheck git
 openssl ca-certificates iproute2 util-linux procps psmisc
 dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond
 python3 python3-aiosmtpd neomutt git-email notmuch systemd
 libcurl4 libcurl4-gnutls-dev
 radicale dnsmasq-base"
# issue 10: khal and khard read the vdir store (tests/integration/vdir.sh)
PKGS="$PKGS khal khard"
# git send-email needs Mail::Address, only a Recommends of git-email
# (tests/integration/sendmail.sh runs it for real)
PKGS="$PKGS libmailtools-perl"
# the DAV tests read and damage state rows with the sqlite3 shell
PKGS="$PKGS sqlite3"
if [ "${1:-}" = "--bench" ]; then
	PKGS="$PKGS isync fetchmail getmail6 offlineimap3 time hyperfine vdirsyncer"
fi

missing=
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -z "$missing" ]; then
	echo "install-deps: everything is installed"
	exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing$missing"
# Keep the packaged Dovecot from starting a system instance where we can:
# the tests start their own private ones.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
	--no-install-recommends $missing
