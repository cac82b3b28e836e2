# SPDX-License-Identifier: MIT
# lib.sh -- integration harness: a private Dovecot + SMTP sink per test script
#
# Sourced by tests/integration/*.sh (bash). One test script gets one
# "container": a network namespace with its own link-local addresses, a
# private test CA and certificates, a generated Dovecot config, and a private
# /etc/hosts that resolves the test host names for client commands only.
#
#	. "$(dirname "$0")/lib.sh"
#	e2t_up                          # or exit 77 (SKIP) if something is missing
#	e2t_check "imaps login" e2t_run "$E2T_CONNTEST" --in "$E2T_HOST:$E2T_IMAPS_PORT" ...
#	e2t_finish                      # "N passed, N failed", exit 0/1
#
# Modes: "netns" (root and `ip netns add` works): Dovecot runs in namespace
# e2t-<pid> reached over a veth pair with a /28 out of 169.254.77.0/24 ..
# 169.254.80.0/24, standard ports (993, 143, ...). "loopback" otherwise:
# 127.77.<block>.x addresses and a high port block. Dovecot treats a client
# whose address equals its own as secured (hiding its plaintext-auth rules),
# so in both modes the server address differs from the client's.
#
# Addresses (offset in the block) and names in the private hosts file:
#	+2 mail.email2.test        valid certificate (CA-signed, SAN name + IP)
#	+3 bad-host.email2.test    CA-signed, SAN DNS:other.example only
#	+4 expired.email2.test     CA-signed, right name, expired in 2021
#	+5 selfsigned.email2.test  self-signed, right name, not from the CA
#	+6 hang.email2.test        Dovecot STARTTLS/plain ports only (143, 110,
#	                           587): the implicit-TLS ports are free for
#	                           hostile_server.py (silent, refused, ...)
#	+7 hostile.email2.test     nothing from Dovecot: hostile_server.py only
# Every Dovecot listener (TLS, STARTTLS, plain-only, strict) exists on the
# first four addresses; the certificate depends on the address.
#
# Exported after e2t_up (the sync tests reuse them):
#	E2T_MODE netns|loopback, E2T_DIR (temp dir), E2T_NS (namespace or "")
#	E2T_HOST mail.email2.test, E2T_ADDR its address, E2T_HOST_WRONG,
#	E2T_HOST_EXPIRED, E2T_HOST_SELFSIGNED, E2T_HOST_HANG, E2T_HOST_HOSTILE,
#	E2T_ADDR_HANG, E2T_ADDR_HOSTILE, E2T_CLIENT_ADDR (what Dovecot sees)
#	E2T_IMAPS_PORT E2T_IMAP_PORT E2T_IMAP_NOTLS_PORT E2T_IMAP_STRICT_PORT
#	E2T_POP3S_PORT E2T_POP3_PORT E2T_POP3_NOTLS_PORT E2T_POP3_STRICT_PORT
#	E2T_SUBMISSIONS_PORT E2T_SUBMISSION_PORT E2T_SUBMISSION_NOTLS_PORT
#	E2T_SUBMISSION_STRICT_PORT E2T_SINK_PORT
#	E2T_DEFAULT_PORTS 1 when the TLS/STARTTLS listeners use 993/143/...
#	E2T_CA, E2T_CA_KEY, E2T_CERT_DIR (server.crt wronghost.crt expired.crt
#	selfsigned.crt and keys), E2T_USER, E2T_PASS, E2T_PASSFILE (0600),
#	E2T_MAILDIR (the user's Maildir), E2T_DOVECOT_CONF, E2T_DOVECOT_LOG,
#	E2T_SINK_DIR (aiosmtpd Maildir), E2T_HOSTS (the private hosts file),
#	E2T_CONNTEST (the built tool), E2T_PY (/usr/bin/python3), E2T_SRCDIR
#
# Functions: e2t_up, e2t_down (also run by the EXIT trap), e2t_run CMD
# (client side, private hosts file), e2t_ns CMD (server side), e2t_spawn
# LOG CMD (a background server, stopped by e2t_down), e2t_hostile ADDR PORT
# ARGS (hostile_server.py), e2t_stop_hostile, e2t_add_user NAME PASS,
# e2t_deliver FILE [USER], e2t_doveadm ARGS, e2t_log_mark, e2t_log_since,
# e2t_no_cleartext_login USER, e2t_check NAME CMD, e2t_check_skip NAME WHY,
# e2t_json FILE PYEXPR, e2t_finish, e2t_skip WHY (77), e2t_fatal WHY (99).
# Address blocks are claimed with flock on /tmp/e2t-net-N.lock (N < 64),
# so parallel scripts (make -j2 check) never share addresses.
#
# Plain (no STARTTLS) listeners set ssl=no; "strict" listeners set
# disable_plaintext_auth=yes (LOGINDISABLED / -ERR / 530 before STARTTLS).

E2T_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2T_PY=/usr/bin/python3
E2T_PASSED=0
E2T_FAILED=0
E2T_SKIPPED=0
E2T_DIR=
E2T_NS=
E2T_PIDS=()
# the start time of each PID in E2T_PIDS (e2t_own), so that a PID the
# kernel gave to another process after ours ended is never signalled:
# tests run in parallel, and a helper that exits early frees its PID
declare -A E2T_PID_START=()
E2T_NETLOCK_FD=
E2T_VETH_HOST=

# e2t_skip REASON: exit 77, which automake reports as SKIP
e2t_skip() {
	echo "# SKIP: $*"
	exit 77
}

# e2t_log MSG: a comment line in the test log
e2t_log() {
	echo "# $*"
}

e2t_require() {
	local b
	for b in "$@"; do
		command -v "$b" >/dev/null 2>&1 || e2t_skip "missing $b"
	done
}

# e2t_find_tool NAME: the built tool, from E2_TOP_BUILDDIR or the usual dirs
e2t_find_tool() {
	local d
	for d in "${E2_TOP_BUILDDIR:-}" "$E2T_SRCDIR/../.." "$PWD"; do
		[ -n "$d" ] && [ -x "$d/tools/$1" ] && {
			echo "$d/tools/$1"
			return 0
		}
	done
	return 1
}

# ---- cleanup ----------------------------------------------------------------

# e2t_pid_start PID: the process's start time (clock ticks after boot,
# /proc/PID/stat field 22); nothing when there is no such process
e2t_pid_start() {
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	read -r -a f <<<"$s"
	echo "${f[19]:-}"
}

# e2t_own PID: a process this test started, stopped by e2t_down
e2t_own() {
	E2T_PID_START[$1]=$(e2t_pid_start "$1")
	E2T_PIDS+=("$1")
}

# e2t_stop_pid PID: TERM, bounded wait, KILL; only the PID given, and
# only while it is still the process e2t_own() saw start
e2t_stop_pid() {
	local pid=$1 i want
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	want=${E2T_PID_START[$pid]:-}
	[ -z "$want" ] || [ "$(e2t_pid_start "$pid")" = "$want" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

e2t_down() {
	local pid
	for pid in "${E2T_PIDS[@]}"; do
		e2t_stop_pid "$pid"
	done
	E2T_PIDS=()
	if [ -n "$E2T_DIR" ] && [ -s "$E2T_DIR/run/master.pid" ]; then
		pid=$(cat "$E2T_DIR/run/master.pid")
		# a stale file may name another process by now
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dovecot ] ||
			e2t_stop_pid "$pid"
		rm -f "$E2T_DIR/run/master.pid"
	fi
	if [ -n "$E2T_NS" ]; then
		# whatever is left in our own namespace was started by this test
		for pid in $(ip netns pids "$E2T_NS" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		[ -n "$E2T_VETH_HOST" ] && ip link del "$E2T_VETH_HOST" 2>/dev/null
		ip netns del "$E2T_NS" 2>/dev/null
		E2T_NS=
	fi
	if [ -n "$E2T_NETLOCK_FD" ]; then
		eval "exec $E2T_NETLOCK_FD>&-"
		E2T_NETLOCK_FD=
	fi
}

e2t_cleanup() {
	local rc=$?
	e2t_down
	if [ -n "$E2T_DIR" ] && [ -d "$E2T_DIR" ]; then
		if [ -n "${E2T_KEEP:-}" ]; then
			echo "# kept $E2T_DIR"
		else
			rm -rf "$E2T_DIR"
		fi
	fi
	exit "$rc"
}
trap e2t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- checks -------------------------------------------------------------------

# e2t_check NAME CMD...: runs CMD (output kept in $E2T_DIR/check.out),
# prints "ok NAME" or "FAIL NAME" with the output's tail
e2t_check() {
	local name=$1 out
	shift
	out=${E2T_DIR:-/tmp}/check.out
	if "$@" >"$out" 2>&1; then
		echo "ok   $name"
		E2T_PASSED=$((E2T_PASSED + 1))
	else
		echo "FAIL $name"
		sed 's/^/#    /' "$out" | tail -n 15
		E2T_FAILED=$((E2T_FAILED + 1))
	fi
}

# e2t_check_skip NAME REASON: counted apart, not as a pass
e2t_check_skip() {
	echo "skip $1: $2"
	E2T_SKIPPED=$((E2T_SKIPPED + 1))
}

e2t_finish() {
	echo "$E2T_PASSED passed, $E2T_FAILED failed, $E2T_SKIPPED skipped"
	[ "$E2T_FAILED" = 0 ] && exit 0
	exit 1
}

# ---- certificates ---------------------------------------------------------------

# e2t_certs DIR ADDR_MAIN ADDR_WRONG ADDR_EXPIRED ADDR_SELF ADDR_HANG ADDR_HOSTILE
e2t_certs() {
	local d=$1 a=$2 aw=$3 ae=$4 as=$5 ah=$6 ax=$7
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	mkdir -p "$d/ca/new"
	(
		set -e
		cd "$d"
		openssl req -x509 "${ec[@]}" -sha256 -days 30 \
			-keyout ca.key -out ca.crt \
			-subj "/O=email2 tests/CN=email2 Test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign"
		# issue NAME SAN [openssl ca dates]: a CA-signed server cert
		issue() {
			local name=$1 san=$2 cn=${2%%,*}
			shift 2
			openssl req "${ec[@]}" -keyout "$name.key" \
				-out "$name.csr" \
				-subj "/O=email2 tests/CN=${cn#DNS:}"
			printf '%s\n' \
				"basicConstraints=CA:FALSE" \
				"keyUsage=critical,digitalSignature" \
				"extendedKeyUsage=serverAuth" \
				"subjectAltName=$san" >"$name.ext"
			if [ $# -eq 0 ]; then
				openssl x509 -req -sha256 -days 30 -in "$name.csr" \
					-CA ca.crt -CAkey ca.key -set_serial \
					"0x$(openssl rand -hex 8)" -out "$name.crt" \
					-extfile "$name.ext"
			else
				openssl ca -batch -config ca.cnf -notext \
					-extfile "$name.ext" -in "$name.csr" \
					-out "$name.crt" "$@"
			fi
		}
		# a minimal openssl ca setup, only for the back-dated cert
		: >ca/index.txt
		openssl rand -hex 8 >ca/serial
		cat >ca.cnf <<EOF
[ca]
default_ca = e2t
[e2t]
dir = ca
database = ca/index.txt
new_certs_dir = ca/new
serial = ca/serial
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
EOF
		issue server "DNS:mail.email2.test,DNS:hang.email2.test,DNS:hostile.email2.test,IP:$a,IP:$ah,IP:$ax"
		issue wronghost "DNS:other.example"
		issue expired "DNS:expired.email2.test,IP:$ae" \
			-startdate 20200101000000Z -enddate 20210101000000Z
		openssl req -x509 "${ec[@]}" -sha256 -days 30 \
			-keyout selfsigned.key -out selfsigned.crt \
			-subj "/O=email2 tests/CN=selfsigned.email2.test" \
			-addext "subjectAltName=DNS:selfsigned.email2.test,IP:$as"
		: "$aw"
		chmod 600 ./*.key
		rm -f ./*.csr
	) >"$d/openssl.log" 2>&1 || {
		cat "$d/openssl.log" >&2
		return 1
	}
}

# ---- network ----------------------------------------------------------------

# e2t_netblock: claims a free /28 (flock held until exit), sets E2T_BLOCK
e2t_netblock() {
	local i idx
	for i in $(seq 0 63); do
		idx=$((($$ + i) % 64))
		exec {E2T_NETLOCK_FD}>"/tmp/e2t-net-$idx.lock" || continue
		if flock -n "$E2T_NETLOCK_FD"; then
			E2T_BLOCK=$idx
			return 0
		fi
		eval "exec $E2T_NETLOCK_FD>&-"
		E2T_NETLOCK_FD=
	done
	return 1
}

# e2t_block_addr N: address N of our block ("169.254.77.18" ...)
e2t_block_addr() {
	if [ "$E2T_MODE" = netns ]; then
		echo "169.254.$((77 + E2T_BLOCK / 16)).$(((E2T_BLOCK % 16) * 16 + $1))"
	else
		echo "127.77.$E2T_BLOCK.$1"
	fi
}

e2t_netns_setup() {
	local ns=e2t-$$ hif=e2h$E2T_BLOCK nif=e2n$E2T_BLOCK i
	local pre=$(((E2T_BLOCK % 16) * 16))
	local net="169.254.$((77 + E2T_BLOCK / 16))"
	ip netns add "$ns" 2>/dev/null || return 1
	E2T_NS=$ns
	# a veth left by a killed run that held this block before us
	ip link del "$hif" 2>/dev/null
	ip link add "$hif" type veth peer name "$nif" || return 1
	E2T_VETH_HOST=$hif
	ip link set "$nif" netns "$ns" || return 1
	ip addr add "$net.$((pre + 1))/28" dev "$hif" || return 1
	ip link set "$hif" up || return 1
	ip netns exec "$ns" ip link set lo up || return 1
	for i in 2 3 4 5 6 7; do
		ip netns exec "$ns" ip addr add "$net.$((pre + i))/28" \
			dev "$nif" || return 1
	done
	ip netns exec "$ns" ip link set "$nif" up || return 1
	E2T_CLIENT_ADDR=$net.$((pre + 1))
	# the link is up when the namespace answers on TCP (no ping needed)
	return 0
}

# e2t_ns CMD...: runs CMD where the servers run (inside the namespace)
e2t_ns() {
	if [ -n "$E2T_NS" ]; then
		ip netns exec "$E2T_NS" "$@"
	else
		"$@"
	fi
}

# e2t_spawn LOG CMD...: starts a server command in the background where the
# servers run, output appended to LOG; its PID (the command's own, so that
# e2t_down can stop it) goes to E2T_SPAWN_PID and the cleanup list
e2t_spawn() {
	local log=$1
	shift
	# a simple command in the background: the PID is the command's own
	# (ip netns exec execs it); a function here would add a subshell
	if [ -n "$E2T_NS" ]; then
		ip netns exec "$E2T_NS" "$@" </dev/null >>"$log" 2>&1 &
	else
		"$@" </dev/null >>"$log" 2>&1 &
	fi
	E2T_SPAWN_PID=$!
	e2t_own "$E2T_SPAWN_PID"
}

# e2t_run CMD...: runs a client command with the private hosts file (and
# $E2T_RESOLV, when set, as /etc/resolv.conf)
e2t_run() {
	local bind='mount --bind "$0" /etc/hosts &&
		{ [ -z "${E2T_RESOLV:-}" ] ||
			mount --bind "$E2T_RESOLV" /etc/resolv.conf; } &&
		exec "$@"'
	case "$E2T_RUN_HOW" in
	mount)
		unshare --mount sh -c "$bind" "$E2T_HOSTS" "$@"
		;;
	usermount)
		unshare --user --map-root-user --mount sh -c "$bind" \
			"$E2T_HOSTS" "$@"
		;;
	*)
		"$@"
		;;
	esac
}

# e2t_wait_port ADDR PORT: up to 10 s for a listener (from the client side)
e2t_wait_port() {
	local i
	for i in $(seq 1 100); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---- Dovecot --------------------------------------------------------------------

# e2t_add_user NAME PASS: a passwd-file user with its own Maildir (works
# before or after e2t_up: Dovecot re-reads the file when it changes)
e2t_add_user() {
	printf '%s:{PLAIN}%s::::::\n' "$1" "$2" >>"$E2T_DIR/etc/users"
	mkdir -p "$E2T_DIR/mail/$1"
	chown -R "$E2T_MAIL_UID:$E2T_MAIL_GID" "$E2T_DIR/mail/$1"
}

e2t_login_service() { # name protocol -o-args listener port
	cat <<EOF
service $1 {
  type = login
  protocol = $2
  executable = $2-login $3
  chroot = $E2T_CHROOT
  user = \$default_login_user
  inet_listener $4 {
    port = $5
  }
}
EOF
}

e2t_dovecot_conf() {
	local d=$E2T_DIR c=$E2T_CERT_DIR login_user internal_user internal_group
	local nonroot='' svc
	if [ "$(id -u)" = 0 ]; then
		login_user=dovenull
		getent passwd dovenull >/dev/null || login_user=nobody
		internal_user=root
		internal_group=dovecot
		getent group dovecot >/dev/null || internal_group=root
		E2T_CHROOT=login
	else
		login_user=$(id -un)
		internal_user=$login_user
		internal_group=$(id -gn)
		E2T_CHROOT=
		for svc in aggregator anvil director imap-urlauth-login ipc \
			old-stats; do
			nonroot+=$'service '"$svc"$' {\n  chroot =\n}\n'
		done
	fi
	cat <<EOF
# generated by tests/integration/lib.sh
instance_name = e2t-$$
base_dir = $d/run
state_dir = $d/state
log_path = $d/log/dovecot.log
info_log_path = $d/log/dovecot.log
protocols = imap pop3 submission
listen = $E2T_ADDR, $E2T_ADDR_WRONG, $E2T_ADDR_EXPIRED, $E2T_ADDR_SELF
hostname = mail.email2.test
postmaster_address = postmaster@email2.test
default_login_user = $login_user
default_internal_user = $internal_user
default_internal_group = $internal_group
first_valid_uid = 1
shutdown_clients = yes

ssl = yes
ssl_cert = <$c/server.crt
ssl_key = <$c/server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
verbose_ssl = yes
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
# %c is "TLS" for a TLS connection ("secured" for a local one), %k the TLS
# version and cipher: each login line says whether TLS protected it
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k session=<%{session}>

local $E2T_ADDR_WRONG {
  ssl_cert = <$c/wronghost.crt
  ssl_key = <$c/wronghost.key
}
local $E2T_ADDR_EXPIRED {
  ssl_cert = <$c/expired.crt
  ssl_key = <$c/expired.key
}
local $E2T_ADDR_SELF {
  ssl_cert = <$c/selfsigned.crt
  ssl_key = <$c/selfsigned.key
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/etc/users
  default_fields = uid=$E2T_MAIL_UID gid=$E2T_MAIL_GID home=$d/mail/%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
service anvil {
  client_limit = 2000
  # no penalty socket: the auth process then adds no growing delay after
  # each failed login from the same address (wrong-password tests)
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol imap {
  mail_max_userip_connections = 100
}
submission_relay_host = $E2T_SINK_ADDR
submission_relay_port = $E2T_SINK_PORT
submission_relay_ssl = no

service imap-login {
  chroot = $E2T_CHROOT
  inet_listener imap {
    port = $E2T_IMAP_PORT
  }
  inet_listener imaps {
    port = $E2T_IMAPS_PORT
    ssl = yes
  }
  inet_listener imap-hang {
    address = $E2T_ADDR_HANG
    port = $E2T_IMAP_PORT
  }
}
service pop3-login {
  chroot = $E2T_CHROOT
  inet_listener pop3 {
    port = $E2T_POP3_PORT
  }
  inet_listener pop3s {
    port = $E2T_POP3S_PORT
    ssl = yes
  }
  inet_listener pop3-hang {
    address = $E2T_ADDR_HANG
    port = $E2T_POP3_PORT
  }
}
service submission-login {
  chroot = $E2T_CHROOT
  inet_listener submission {
    port = $E2T_SUBMISSION_PORT
  }
  inet_listener submissions {
    port = $E2T_SUBMISSIONS_PORT
    ssl = yes
  }
  inet_listener submission-hang {
    address = $E2T_ADDR_HANG
    port = $E2T_SUBMISSION_PORT
  }
}
$nonroot
$(e2t_login_service imap-login-notls imap "-o ssl=no" imap-notls "$E2T_IMAP_NOTLS_PORT")
$(e2t_login_service pop3-login-notls pop3 "-o ssl=no" pop3-notls "$E2T_POP3_NOTLS_PORT")
$(e2t_login_service submission-login-notls submission "-o ssl=no" submission-notls "$E2T_SUBMISSION_NOTLS_PORT")
$(e2t_login_service imap-login-strict imap "-o disable_plaintext_auth=yes" imap-strict "$E2T_IMAP_STRICT_PORT")
$(e2t_login_service pop3-login-strict pop3 "-o disable_plaintext_auth=yes" pop3-strict "$E2T_POP3_STRICT_PORT")
$(e2t_login_service submission-login-strict submission "-o disable_plaintext_auth=yes" submission-strict "$E2T_SUBMISSION_STRICT_PORT")
EOF
}

e2t_ports() {
	if [ "$E2T_MODE" = netns ]; then
		E2T_DEFAULT_PORTS=1
		E2T_IMAPS_PORT=993 E2T_IMAP_PORT=143
		E2T_POP3S_PORT=995 E2T_POP3_PORT=110
		E2T_SUBMISSIONS_PORT=465 E2T_SUBMISSION_PORT=587
		E2T_IMAP_NOTLS_PORT=1143 E2T_POP3_NOTLS_PORT=1110
		E2T_SUBMISSION_NOTLS_PORT=1587
		E2T_IMAP_STRICT_PORT=2143 E2T_POP3_STRICT_PORT=2110
		E2T_SUBMISSION_STRICT_PORT=2587
		E2T_SINK_PORT=2525
		E2T_SINK_ADDR=127.0.0.1
	else
		local b=$((20000 + E2T_BLOCK * 40))
		E2T_DEFAULT_PORTS=0
		E2T_IMAP_PORT=$b E2T_IMAPS_PORT=$((b + 1))
		E2T_POP3_PORT=$((b + 2)) E2T_POP3S_PORT=$((b + 3))
		E2T_SUBMISSION_PORT=$((b + 4)) E2T_SUBMISSIONS_PORT=$((b + 5))
		E2T_IMAP_NOTLS_PORT=$((b + 10)) E2T_POP3_NOTLS_PORT=$((b + 11))
		E2T_SUBMISSION_NOTLS_PORT=$((b + 12))
		E2T_IMAP_STRICT_PORT=$((b + 20)) E2T_POP3_STRICT_PORT=$((b + 21))
		E2T_SUBMISSION_STRICT_PORT=$((b + 22))
		E2T_SINK_PORT=$((b + 30))
		E2T_SINK_ADDR=$E2T_ADDR
	fi
	E2T_SPARE_PORT=$((E2T_SINK_PORT + 1))
}

# e2t_up: everything; exits 77 when a prerequisite is missing
e2t_up() {
	local a
	e2t_require dovecot doveadm doveconf openssl flock timeout
	[ -x "$E2T_PY" ] || e2t_skip "missing $E2T_PY"
	"$E2T_PY" -c 'import aiosmtpd' 2>/dev/null ||
		e2t_skip "missing python3-aiosmtpd"
	[ -r /usr/share/dovecot/dh.pem ] || e2t_skip "missing dovecot dh.pem"
	E2T_CONNTEST=$(e2t_find_tool email2-conntest) || E2T_CONNTEST=

	E2T_DIR=$(mktemp -d /tmp/e2t.XXXXXX) || e2t_skip "mktemp failed"
	chmod 755 "$E2T_DIR"
	mkdir -p "$E2T_DIR"/{etc,tls,run,state,log,mail,sink}
	chmod 755 "$E2T_DIR/mail"

	e2t_netblock || e2t_skip "no free address block"
	E2T_MODE=loopback
	if [ "$(id -u)" = 0 ] && command -v ip >/dev/null &&
		[ -z "${E2T_FORCE_LOOPBACK:-}" ]; then
		E2T_MODE=netns
		if ! e2t_netns_setup; then
			e2t_down_net_only
			E2T_MODE=loopback
		fi
	fi
	E2T_ADDR=$(e2t_block_addr 2)
	E2T_ADDR_WRONG=$(e2t_block_addr 3)
	E2T_ADDR_EXPIRED=$(e2t_block_addr 4)
	E2T_ADDR_SELF=$(e2t_block_addr 5)
	E2T_ADDR_HANG=$(e2t_block_addr 6)
	E2T_ADDR_HOSTILE=$(e2t_block_addr 7)
	[ "$E2T_MODE" = loopback ] && E2T_CLIENT_ADDR=127.0.0.1
	echo "# harness: $E2T_MODE $E2T_ADDR"
	e2t_ports

	E2T_HOST=mail.email2.test
	E2T_HOST_WRONG="bad-host.email2.test"
	E2T_HOST_EXPIRED=expired.email2.test
	E2T_HOST_SELFSIGNED=selfsigned.email2.test
	E2T_HOST_HANG=hang.email2.test
	E2T_HOST_HOSTILE=hostile.email2.test
	E2T_HOSTS=$E2T_DIR/etc/hosts
	{
		echo "127.0.0.1 localhost"
		echo "$E2T_ADDR $E2T_HOST"
		echo "$E2T_ADDR_WRONG $E2T_HOST_WRONG"
		echo "$E2T_ADDR_EXPIRED $E2T_HOST_EXPIRED"
		echo "$E2T_ADDR_SELF $E2T_HOST_SELFSIGNED"
		echo "$E2T_ADDR_HANG $E2T_HOST_HANG"
		echo "$E2T_ADDR_HOSTILE $E2T_HOST_HOSTILE"
	} >"$E2T_HOSTS"
	chmod 644 "$E2T_HOSTS"
	E2T_RUN_HOW=none
	if [ "$(id -u)" = 0 ] && unshare --mount sh -c \
		'mount --bind "$0" /etc/hosts && grep -q email2 /etc/hosts' \
		"$E2T_HOSTS" 2>/dev/null; then
		E2T_RUN_HOW=mount
	elif unshare --user --map-root-user --mount sh -c \
		'mount --bind "$0" /etc/hosts && grep -q email2 /etc/hosts' \
		"$E2T_HOSTS" 2>/dev/null; then
		E2T_RUN_HOW=usermount
	else
		# no private hosts file: the names become addresses (the
		# certificates carry IP SANs for that)
		E2T_HOST=$E2T_ADDR E2T_HOST_WRONG=$E2T_ADDR_WRONG
		E2T_HOST_EXPIRED=$E2T_ADDR_EXPIRED
		E2T_HOST_SELFSIGNED=$E2T_ADDR_SELF
		E2T_HOST_HANG=$E2T_ADDR_HANG E2T_HOST_HOSTILE=$E2T_ADDR_HOSTILE
		echo "# harness: no private /etc/hosts, using addresses"
	fi

	E2T_CERT_DIR=$E2T_DIR/tls
	e2t_certs "$E2T_CERT_DIR" "$E2T_ADDR" "$E2T_ADDR_WRONG" \
		"$E2T_ADDR_EXPIRED" "$E2T_ADDR_SELF" "$E2T_ADDR_HANG" \
		"$E2T_ADDR_HOSTILE" || e2t_fatal "certificate generation failed"
	E2T_CA=$E2T_CERT_DIR/ca.crt
	E2T_CA_KEY=$E2T_CERT_DIR/ca.key

	if [ "$(id -u)" = 0 ]; then
		E2T_MAIL_UID=$(id -u nobody) E2T_MAIL_GID=$(id -g nobody)
	else
		E2T_MAIL_UID=$(id -u) E2T_MAIL_GID=$(id -g)
	fi
	E2T_USER=${E2T_USER:-e2tuser}
	E2T_PASS=${E2T_PASS:-e2t-$$-$RANDOM$RANDOM-secret}
	: >"$E2T_DIR/etc/users"
	chmod 600 "$E2T_DIR/etc/users"
	e2t_add_user "$E2T_USER" "$E2T_PASS"
	E2T_PASSFILE=$E2T_DIR/etc/password
	(umask 077 && printf '%s\n' "$E2T_PASS" >"$E2T_PASSFILE")
	E2T_MAILDIR=$E2T_DIR/mail/$E2T_USER/Maildir
	E2T_SINK_DIR=$E2T_DIR/sink/Maildir
	E2T_DOVECOT_LOG=$E2T_DIR/log/dovecot.log
	E2T_DOVECOT_CONF=$E2T_DIR/etc/dovecot.conf

	if [ "$E2T_MODE" = loopback ]; then
		for a in 2 3 4 5 6 7; do
			e2t_port_free "$(e2t_block_addr "$a")" ||
				e2t_fatal "address block $E2T_BLOCK is in use"
		done
	fi
	e2t_dovecot_conf >"$E2T_DOVECOT_CONF"
	doveconf -c "$E2T_DOVECOT_CONF" -n >"$E2T_DIR/etc/doveconf-n.txt" \
		2>&1 || e2t_fatal "bad dovecot config: $(cat "$E2T_DIR/etc/doveconf-n.txt")"

	# the SMTP sink Dovecot's submission service relays to
	e2t_spawn "$E2T_DIR/log/smtp-sink.log" "$E2T_PY" -m aiosmtpd -n \
		-l "$E2T_SINK_ADDR:$E2T_SINK_PORT" \
		-c aiosmtpd.handlers.Mailbox "$E2T_SINK_DIR"
	: >>"$E2T_DOVECOT_LOG"
	e2t_ns dovecot -c "$E2T_DOVECOT_CONF" ||
		e2t_fatal "dovecot did not start: $(tail -n 5 "$E2T_DOVECOT_LOG")"
	for a in "$E2T_IMAPS_PORT" "$E2T_IMAP_PORT" "$E2T_POP3S_PORT" \
		"$E2T_POP3_PORT" "$E2T_SUBMISSIONS_PORT" \
		"$E2T_SUBMISSION_PORT" "$E2T_IMAP_STRICT_PORT" \
		"$E2T_POP3_STRICT_PORT" "$E2T_SUBMISSION_STRICT_PORT" \
		"$E2T_IMAP_NOTLS_PORT" "$E2T_POP3_NOTLS_PORT" \
		"$E2T_SUBMISSION_NOTLS_PORT"; do
		e2t_wait_port "$E2T_ADDR" "$a" ||
			e2t_fatal "port $a did not come up: $(tail -n 5 "$E2T_DOVECOT_LOG")"
	done
	e2t_ns timeout 10 bash -c \
		"until exec 3<>/dev/tcp/$E2T_SINK_ADDR/$E2T_SINK_PORT; do sleep 0.1; done" \
		2>/dev/null || e2t_fatal "smtp sink did not come up"
	# creates INBOX and proves userdb and Maildir access
	e2t_ns doveadm -c "$E2T_DOVECOT_CONF" mailbox status -u "$E2T_USER" \
		messages INBOX >/dev/null ||
		e2t_fatal "doveadm cannot open INBOX"

	export E2T_MODE E2T_DIR E2T_NS E2T_HOST E2T_ADDR E2T_HOST_WRONG \
		E2T_HOST_EXPIRED E2T_HOST_SELFSIGNED E2T_HOST_HANG \
		E2T_HOST_HOSTILE E2T_ADDR_WRONG E2T_ADDR_EXPIRED E2T_ADDR_SELF \
		E2T_ADDR_HANG E2T_ADDR_HOSTILE E2T_CLIENT_ADDR \
		E2T_IMAPS_PORT E2T_IMAP_PORT E2T_IMAP_NOTLS_PORT \
		E2T_IMAP_STRICT_PORT E2T_POP3S_PORT E2T_POP3_PORT \
		E2T_POP3_NOTLS_PORT E2T_POP3_STRICT_PORT E2T_SUBMISSIONS_PORT \
		E2T_SUBMISSION_PORT E2T_SUBMISSION_NOTLS_PORT \
		E2T_SUBMISSION_STRICT_PORT E2T_SINK_PORT E2T_SPARE_PORT \
		E2T_DEFAULT_PORTS E2T_CA E2T_CA_KEY E2T_CERT_DIR E2T_USER \
		E2T_PASS E2T_PASSFILE E2T_MAILDIR E2T_DOVECOT_CONF \
		E2T_DOVECOT_LOG E2T_SINK_DIR E2T_HOSTS E2T_CONNTEST E2T_PY \
		E2T_SRCDIR
}

e2t_down_net_only() {
	[ -n "$E2T_VETH_HOST" ] && ip link del "$E2T_VETH_HOST" 2>/dev/null
	[ -n "$E2T_NS" ] && ip netns del "$E2T_NS" 2>/dev/null
	E2T_NS='' E2T_VETH_HOST=''
}

# e2t_port_free ADDR: nothing of ours listens on ADDR yet (loopback mode)
e2t_port_free() {
	[ -z "$(ss -Hltn "src $1" 2>/dev/null)" ]
}

# e2t_fatal MSG: a broken harness is a hard error (99), not a test failure
e2t_fatal() {
	echo "# ERROR: $*" >&2
	exit 99
}

# ---- helpers for tests ------------------------------------------------------------

# e2t_deliver FILE [USER]: puts the message in FILE into USER's INBOX
e2t_deliver() {
	e2t_ns doveadm -c "$E2T_DOVECOT_CONF" save -u "${2:-$E2T_USER}" \
		-m INBOX <"$1"
}

# e2t_doveadm ARGS...: doveadm against the test instance
e2t_doveadm() {
	e2t_ns doveadm -c "$E2T_DOVECOT_CONF" "$@"
}

# e2t_hostile ADDR PORT ARGS...: starts hostile_server.py (in the server's
# namespace) in the background and waits until it listens
e2t_hostile() {
	local addr=$1 port=$2 ready
	shift 2
	ready=$E2T_DIR/hostile-$addr-$port.ready
	rm -f "$ready"
	e2t_spawn "$E2T_DIR/log/hostile.log" "$E2T_PY" \
		"$E2T_SRCDIR/hostile_server.py" --listen "$addr:$port" \
		--cert "$E2T_CERT_DIR/server.crt" \
		--key "$E2T_CERT_DIR/server.key" --ready-file "$ready" "$@"
	E2T_HOSTILE_PID=$E2T_SPAWN_PID
	timeout 10 bash -c "until [ -e '$ready' ]; do sleep 0.05; done" ||
		e2t_fatal "hostile server on $addr:$port did not start"
}

# e2t_stop_hostile: stops the last hostile server started
e2t_stop_hostile() {
	e2t_stop_pid "${E2T_HOSTILE_PID:-}"
}

# e2t_log_mark: remembers the Dovecot log's length; e2t_log_since prints
# what was logged after it
e2t_log_mark() {
	E2T_LOG_MARK=$(wc -c <"$E2T_DOVECOT_LOG")
}

e2t_log_since() {
	tail -c +"$((${E2T_LOG_MARK:-0} + 1))" "$E2T_DOVECOT_LOG"
}

# e2t_no_cleartext_login USER: since the mark, every login-process line that
# names USER came over TLS (no login or auth attempt outside TLS)
e2t_no_cleartext_login() {
	local lines bad
	sleep 0.2 # login processes log asynchronously
	lines=$(e2t_log_since | grep -E -- '-login(-[a-z]+)?: ' | grep -F "user=<$1>")
	bad=$(printf '%s\n' "$lines" | grep -v -E ', TLS, |, TLS$' |
		grep -v '^$')
	bad+=$(e2t_log_since | grep -F 'disallowed plaintext auth')
	if [ -n "$bad" ]; then
		echo "login lines for $1 without TLS:"
		printf '%s\n' "$bad"
		return 1
	fi
	return 0
}

# e2t_json FILE PYEXPR: asserts PYEXPR over the JSON document in FILE (d);
# prints the document when the assertion fails
e2t_json() {
	"$E2T_PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("assertion failed:", sys.argv[2])
    print(json.dumps(d, indent=1)[:3000])
sys.exit(0 if ok else 1)
' "$@"
}
