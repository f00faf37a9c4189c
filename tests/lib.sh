# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the shell tests: TAP output, a scratch directory, the tools.
#
#   ok DESC / not_ok DESC      one test line
#   check DESC CMD...          ok if CMD succeeds
#   expect_error DESC PATTERN CMD...
#                              ok if CMD exits 1 and its stderr matches the
#                              extended regex PATTERN (case-sensitive)
#   expect_usage_error DESC PATTERN CMD...
#                              the same for a usage error (exit 2)
#   skip DESC REASON           a skipped test line
#   skip_all REASON            the whole test is skipped (exits)
#   done_testing               prints the plan; exit status 1 if any failed

set -u

: "${top_srcdir:=$(dirname "$0")/..}"
# Absolute: the tests change directory.
top_srcdir=$(cd "$top_srcdir" && pwd)
: "${BLKSNAP_BIN:=$(pwd)}"
PATH="$BLKSNAP_BIN/src:$PATH"
export PATH LC_ALL=C

test_number=0
test_failed=0

TMP=$(mktemp -d "${TMPDIR:-/tmp}/blksnap-test.XXXXXX") || exit 1
cleanup_hooks=
at_exit() { cleanup_hooks="$1; $cleanup_hooks"; }
trap 'eval "$cleanup_hooks"; rm -rf "$TMP"' EXIT

ok() {
	test_number=$((test_number + 1))
	echo "ok $test_number - $*"
}

not_ok() {
	test_number=$((test_number + 1))
	test_failed=$((test_failed + 1))
	echo "not ok $test_number - $*"
}

skip() {
	test_number=$((test_number + 1))
	echo "ok $test_number - $1 # SKIP $2"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# Diagnostics go to stdout as TAP comments so that the log shows them.
diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

check() {
	desc=$1
	shift
	if "$@" >"$TMP/check.out" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command failed: $*" "$(tail -n 5 "$TMP/check.out")"
	fi
}

expect_error() {
	expect_status 1 "$@"
}

expect_usage_error() {
	expect_status 2 "$@"
}

expect_status() {
	want=$1 desc=$2 pattern=$3
	shift 3
	"$@" >"$TMP/err.out" 2>"$TMP/err.msg"
	status=$?
	if [ "$status" -eq "$want" ] && grep -Eq -- "$pattern" "$TMP/err.msg"; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command: $*" "exit status: $status (want $want)" \
		     "stderr: $(head -c 400 "$TMP/err.msg")" "wanted: $pattern"
	fi
}

done_testing() {
	echo "1..$test_number"
	[ "$test_failed" -eq 0 ]
	exit
}

# A file of SIZE bytes of random data (SIZE in bytes, a multiple of 4096
# or not).
random_file() {
	head -c "$2" /dev/urandom >"$1"
}

# Overwrites COUNT random 4 KiB blocks of FILE (size SIZE) with random data.
scatter_writes() {
	file=$1 count=$2
	blocks=$(( $(stat -c %s "$file") / 4096 ))
	i=0
	while [ "$i" -lt "$count" ]; do
		b=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
		dd if=/dev/urandom of="$file" bs=4096 seek=$((b % blocks)) \
		   count=1 conv=notrunc status=none
		i=$((i + 1))
	done
}

# flip_bit FILE OFFSET: inverts the lowest bit of the byte at OFFSET (an
# overwrite with a fixed value leaves 1 byte in 256 unchanged).
flip_bit() {
	_b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((_b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# Number of 512-byte blocks a file really occupies.
allocated_blocks() {
	stat -c %b "$1"
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# sanitizer_runtimes FILE: the sanitizers' runtimes FILE was linked with
# (CI's ASan build), which LD_PRELOAD must name before any test shim;
# nothing for a plain build.
sanitizer_runtimes() {
	ldd "$1" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { printf "%s ", $3 }'
}

# with_preload LIBS CMD [ARG...]: CMD run with LIBS preloaded, without
# the leak check (the preloaded code's allocations are not the tool's).
with_preload() {
	_libs=$1
	shift
	env LD_PRELOAD="$_libs" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"
}

# sanitized_plugin PLUGIN: when PLUGIN was built with the sanitizers
# (CI's ASan run), nbdkit, which was not, must load their runtimes
# first: an nbdkit wrapper first in PATH preloads them for nbdkit and
# what it runs, without leak checks of those programs (not ours).
sanitized_plugin() {
	_rt=$(sanitizer_runtimes "$1")
	[ -n "$_rt" ] || return 0
	_real=$(command -v nbdkit) || return 0
	mkdir -p "$TMP/sanitized-bin"
	cat > "$TMP/sanitized-bin/nbdkit" <<EOF
#!/bin/sh
LD_PRELOAD="$_rt" ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0" exec $_real "\$@"
EOF
	chmod +x "$TMP/sanitized-bin/nbdkit"
	PATH=$TMP/sanitized-bin:$PATH
	SANITIZED_PLUGIN=1
}

# attach_loop FILE VAR: a loop device over FILE into VAR, detached at
# exit (not in a subshell: the exit hook must be this shell's).
attach_loop() {
	_dev=$(losetup -f --show "$1" 2>/dev/null) || return 1
	at_exit "losetup -d $_dev 2>/dev/null"
	eval "$2=\$_dev"
}

# --- nginx on 127.0.0.1, all its files in $TMP --------------------------

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# free_port: a TCP port of 127.0.0.1 that nobody listens on now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: wait up to 5 s for a server to answer on 127.0.0.1:PORT
wait_port() {
	wp_i=0
	while [ "$wp_i" -lt 50 ]; do
		if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		wp_i=$((wp_i + 1))
	done
	return 1
}

# nginx_config HTTP_BODY: write $TMP/nginx.conf, one nginx process (so
# that killing its id kills the server) serving $TMP/www, with HTTP_BODY
# (its server blocks and any more directives) inside the http block
nginx_config() {
	mkdir -p "$TMP/www" "$TMP/nginx-tmp"
	cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 64; }
http {
	access_log $TMP/nginx-access.log;
	client_body_temp_path $TMP/nginx-tmp/body;
	proxy_temp_path $TMP/nginx-tmp/proxy;
	fastcgi_temp_path $TMP/nginx-tmp/fastcgi;
	uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
	scgi_temp_path $TMP/nginx-tmp/scgi;
	root $TMP/www;
$1
}
EOF
}

# nginx_start PORT: start nginx on $TMP/nginx.conf (nginx_pid) and wait
# up to 5 s for PORT to answer; 1 with a diagnostic if it does not
nginx_start() {
	"$NGINX" -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx-error.log" \
		2>>"$TMP/nginx.out" &
	nginx_pid=$!
	wait_port "$1" || {
		diag "nginx did not start: $(tail -5 "$TMP/nginx.out" "$TMP/nginx-error.log" 2>/dev/null)"
		return 1
	}
}

# nginx_stop: stop the nginx of nginx_start, if it runs
nginx_stop() {
	[ -n "${nginx_pid:-}" ] || return 0
	kill "$nginx_pid" 2>/dev/null
	wait "$nginx_pid" 2>/dev/null
	nginx_pid=
}
