#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Archives to and from nginx's WebDAV module on 127.0.0.1, over http and
# over https with a CA this test makes: full and incremental round trips,
# a wrong password, a missing archive, an unknown CA refused, --cacert and
# --insecure, nginx killed mid-upload; and file:// URLs.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1

# --- file:// needs no server -------------------------------------------
random_file img 5242880
cp img state.0
check "full backup to file://" blksnap-send --full -c none -o "file://$TMP/f.0.tar" img
scatter_writes img 8
cp img state.1
check "incremental to file://, base from file://" sh -c \
	"blksnap-diff --scan img file://$TMP/f.0.tar | blksnap-send --base file://$TMP/f.0.tar -o file://$TMP/f.1.tar img"
check "restore from file:// URLs" sh -c \
	"blksnap-restore -o out.f file://$TMP/f.0.tar file://$TMP/f.1.tar && cmp out.f state.1"
expect_error "an unsupported scheme is refused" 'unsupported URL scheme' \
	blksnap-send --full -o gopher://127.0.0.1/x img
expect_error "a missing file:// archive is named" "file://$TMP/none.tar: cannot open" \
	blksnap-restore --verify "file://$TMP/none.tar"

# --- nginx ---------------------------------------------------------------
if [ ! -x "$NGINX" ]; then
	skip "http(s) cases" "nginx is not installed"
	done_testing
fi
if ! have openssl; then
	skip "http(s) cases" "openssl is not installed"
	done_testing
fi
HTTP=$(free_port) HTTPS=$(free_port)

# A CA, and a certificate it signs for 127.0.0.1; another CA it does not.
mkdir tls
(
	cd tls || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout ca.key -out ca.crt -days 2 -subj /CN=blksnap-test-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
	printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
	openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		-out srv.crt -days 2 -extfile ext &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout other.key -out other.crt -days 2 -subj /CN=another-ca
) >tls.log 2>&1 || { not_ok "make a test CA"; diag "$(tail -5 tls.log)"; done_testing; }

# nginx reads {PLAIN} passwords from its htpasswd file.
printf 'backup:{PLAIN}s3cret-pw\n' >htpasswd
nginx_config "	dav_methods PUT DELETE MKCOL;
	create_full_put_path on;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$HTTP;
		location /locked/ {
			auth_basic \"backups\";
			auth_basic_user_file $TMP/htpasswd;
		}
	}
	server {
		listen 127.0.0.1:$HTTPS ssl;
		ssl_certificate $TMP/tls/srv.crt;
		ssl_certificate_key $TMP/tls/srv.key;
	}"
mkdir -p www/locked
at_exit 'nginx_stop'
if ! nginx_start "$HTTP"; then
	skip "http(s) cases" "nginx does not start here"
	done_testing
fi

U=http://127.0.0.1:$HTTP
cp state.0 img
check "full backup to http:// (WebDAV PUT, new directory)" \
	blksnap-send --full -o "$U/hosts/a/img.0.tar" img
check "the archive is stored whole" sh -c \
	"blksnap-restore --verify www/hosts/a/img.0.tar"
scatter_writes img 8
cp img state.1
check "incremental to http://, base and diff from http://" sh -c \
	"blksnap-diff --scan img $U/hosts/a/img.0.tar >r.1 && blksnap-send --base $U/hosts/a/img.0.tar -o $U/hosts/a/img.1.tar img <r.1"
rm -f out
check "restore from http://" sh -c \
	"blksnap-restore -o out $U/hosts/a/img.0.tar $U/hosts/a/img.1.tar && cmp out state.1"
rm -f out
check "a synthetic full merged from http:// restores as the chain" sh -c \
	"blksnap-merge -c none -o merged.tar $U/hosts/a/img.0.tar $U/hosts/a/img.1.tar && blksnap-restore -o out merged.tar && cmp out state.1"
expect_error "a missing archive: not found (HTTP 404)" \
	"$U/hosts/a/none.tar: not found \\(HTTP 404\\)" \
	blksnap-restore --verify "$U/hosts/a/none.tar"

L=http://backup:s3cret-pw@127.0.0.1:$HTTP/locked
check "upload with the right password" blksnap-send --full -o "$L/img.tar" img
expect_error "a wrong password: access denied, password not shown" \
	"http://backup@127.0.0.1:$HTTP/locked/img.tar: access denied \\(HTTP 401\\)" \
	blksnap-restore --verify "http://backup:wrong@127.0.0.1:$HTTP/locked/img.tar"
blksnap-restore -v --verify "$L/img.tar" >/dev/null 2>verbose.log
if grep -q 'GET ' verbose.log && ! grep -q 's3cret-pw' verbose.log; then
	ok "--verbose shows requests, not the password"
else
	not_ok "--verbose shows requests, not the password"; diag "$(cat verbose.log)"
fi

S=https://127.0.0.1:$HTTPS
expect_error "https: a certificate from an unknown CA is refused" \
	'certificate is not trusted' \
	blksnap-send --full -o "$S/tls/img.0.tar" img
check "nothing was stored without trust" test ! -e www/tls/img.0.tar
expect_error "https: --cacert with another CA is refused" 'certificate is not trusted' \
	blksnap-restore --cacert tls/other.crt --verify "$S/hosts/a/img.0.tar"
check "https: full backup with --cacert" \
	blksnap-send --cacert tls/ca.crt --full -o "$S/tls/img.0.tar" img
rm -f out
check "https: restore with --cacert" sh -c \
	"blksnap-restore --cacert tls/ca.crt -o out $S/tls/img.0.tar && cmp out img"
check "https: --insecure skips verification" \
	blksnap-restore --insecure --verify "$S/tls/img.0.tar"

# nginx killed while the body streams in: exit 1, no file at the URL.
random_file big 134217728
blksnap-send --full -c none -o "$U/killed/big.tar" big 2>killed.err &
send_pid=$!
i=0
while [ "$i" -lt 200 ] && ! find nginx-tmp/body -type f -size +1M 2>/dev/null | grep -q .; do
	sleep 0.02; i=$((i + 1))
done
kill -9 "$nginx_pid" 2>/dev/null
wait "$send_pid"
status=$?
if [ "$status" -eq 1 ] && grep -q "$U/killed/big.tar: " killed.err; then
	ok "nginx killed mid-upload: exit 1 naming the URL"
else
	not_ok "nginx killed mid-upload: exit 1 naming the URL (exit $status)"
	diag "$(cat killed.err)"
fi
wait "$nginx_pid" 2>/dev/null
nginx_pid=
check "no file at the URL after the failed upload" test ! -e www/killed/big.tar

done_testing
