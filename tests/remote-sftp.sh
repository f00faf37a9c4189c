#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Archives to and from OpenSSH's sftp on 127.0.0.1 (an sshd of the
# test's own, on a free port, with a host key and a user key made here):
# full and incremental round trips, an unknown host key and a wrong user
# key refused, and the sshd serving the upload killed mid-way: exit 1,
# the final name never written, and the partial URL.part removed.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || skip_all "OpenSSH's sshd is not installed ($SSHD)"
have ssh-keygen || skip_all "ssh-keygen is not installed"
have python3 || skip_all "python3 is not installed (to find a free port)"
curl_protocols=$(curl-config --protocols 2>/dev/null || true)
case "$curl_protocols" in
*SFTP*) ;;
"") ;;
*) skip_all "libcurl has no sftp support" ;;
esac

cd "$TMP" || exit 1
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ME=$(id -un)
mkdir -p store
ssh-keygen -q -t ed25519 -N '' -f host_key -C blksnap-test-host || skip_all "ssh-keygen fails"
ssh-keygen -q -t ed25519 -N '' -f user_key -C blksnap-test-user
ssh-keygen -q -t ed25519 -N '' -f other_key -C blksnap-test-other
cp user_key.pub authorized_keys
chmod 600 authorized_keys
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 host_key.pub)" >known_hosts
ssh-keygen -q -t ed25519 -N '' -f wrong_host -C other
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 wrong_host.pub)" >wrong_known_hosts

cat >sshd_config <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
# sshd wants its privilege separation directory when run as root.
[ "$(id -u)" -ne 0 ] || [ -d /run/sshd ] || mkdir -p /run/sshd

start_sshd() {
	"$SSHD" -D -e -f "$TMP/sshd_config" 2>>sshd.log &
	sshd_pid=$!
	wait_port "$PORT" || {
		diag "sshd did not start: $(tail -5 sshd.log)"
		return 1
	}
}
stop_sshd() {
	[ -n "${sshd_pid:-}" ] || return 0
	kill "$sshd_pid" 2>/dev/null
	wait "$sshd_pid" 2>/dev/null
	sshd_pid=
}
at_exit 'stop_sshd'
start_sshd || skip_all "sshd does not start here"

K="--ssh-key $TMP/user_key --ssh-known-hosts $TMP/known_hosts"
U="sftp://$ME@127.0.0.1:$PORT$TMP/store"

random_file img 12582912
cp img state.0
check "full backup to sftp://" blksnap-send $K --full -c none -o "$U/img.0.tar" img
check "stored under its name, no .part left" \
	sh -c "test -s store/img.0.tar && test ! -e store/img.0.tar.part"
scatter_writes img 10
cp img state.1
check "incremental to sftp://, base and diff from sftp://" sh -c \
	"blksnap-diff $K --scan img $U/img.0.tar >r.1 && blksnap-send $K --base $U/img.0.tar -o $U/img.1.tar img <r.1"
rm -f out
check "restore from sftp://" sh -c \
	"blksnap-restore $K -o out $U/img.0.tar $U/img.1.tar && cmp out state.1"
# The nbdkit plugin reads the archives at offsets (ranged sftp reads).
PLUGIN=$BLKSNAP_BIN/src/.libs/nbdkit-blksnap-plugin.so
if [ -f "$PLUGIN" ] && have nbdkit && have nbdcopy; then
	sanitized_plugin "$PLUGIN"
	rm -f out
	KP="ssh-key=$TMP/user_key ssh-known-hosts=$TMP/known_hosts"
	check "nbdkit blksnap serves a chain from sftp:// (read at offsets)" sh -c \
		"blksnap-send $K --base $U/img.0.tar -c none -o $U/img.1n.tar img <r.1 &&
		 nbdkit -U - '$PLUGIN' $U/img.0.tar $U/img.1n.tar $KP --run 'nbdcopy \"\$uri\" out' &&
		 cmp out state.1"
else
	skip "nbdkit blksnap serves a chain from sftp://" "no nbdkit, nbdcopy or plugin (nbdkit-plugin-dev)"
fi
check "a second send replaces the archive" \
	blksnap-send $K --full -c none -o "$U/img.0.tar" img
expect_error "a missing archive is named" "$U/none.tar: " \
	blksnap-restore $K --verify "$U/none.tar"
expect_error "an unknown host key is refused" 'host key' \
	blksnap-restore --ssh-key "$TMP/user_key" --ssh-known-hosts "$TMP/wrong_known_hosts" \
	--verify "$U/img.0.tar"
expect_error "a key the server does not know is refused" 'access denied' \
	blksnap-send --ssh-key "$TMP/other_key" --ssh-known-hosts "$TMP/known_hosts" \
	--full -o "$U/other.tar" img
check "nothing stored with the wrong key" sh -c "test ! -e store/other.tar && test ! -e store/other.tar.part"

# The sshd processes serving the upload killed while the archive streams
# (the listener stays, so the partial file can be removed afterwards).
random_file big 134217728
blksnap-send $K --full -c none -o "$U/killed.tar" big 2>killed.err &
send_pid=$!
i=0
while [ "$i" -lt 300 ] && ! find store -name killed.tar.part -size +1M 2>/dev/null | grep -q .; do
	sleep 0.02; i=$((i + 1))
done
for p in $(pgrep -P "$sshd_pid" 2>/dev/null); do
	kill -9 "$p" $(pgrep -P "$p" 2>/dev/null) 2>/dev/null
done
wait "$send_pid"
status=$?
if [ "$status" -eq 1 ] && grep -q "killed.tar: " killed.err; then
	ok "sshd killed mid-upload: exit 1 naming the URL"
else
	not_ok "sshd killed mid-upload: exit 1 naming the URL (exit $status)"
	diag "$(cat killed.err)"
fi
check "the final name was never written" test ! -e store/killed.tar
check "the partial file was removed" test ! -e store/killed.tar.part

done_testing
