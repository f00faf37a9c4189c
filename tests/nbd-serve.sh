#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Serving a point of a chain with the nbdkit plugin (nbdkit blksnap): a
# full and 3 incrementals, uncompressed and zstd (through its seek table;
# an old single-stream zstd archive through the cache file), from local files, file://, nginx over http (ranged GETs) and the
# S3 test server; each point read whole with nbdcopy and compared with
# the image at that point; 1,000 random reads of 4 KiB and of 1 MiB
# compared with it; a corrupted block fails its reads with EIO, naming
# the archive and offset, while other reads succeed; writes refused; a
# chain out of order, a manifest file and a cache refused are named.
# (About a minute: the 1 MiB reads over S3 go to a Python server.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PLUGIN=$BLKSNAP_BIN/src/.libs/nbdkit-blksnap-plugin.so
have nbdkit || skip_all "nbdkit is not installed (Debian: nbdkit)"
[ -f "$PLUGIN" ] ||
	skip_all "the nbdkit plugin was not built (configure found no nbdkit-plugin-dev)"
have nbdcopy || skip_all "nbdcopy is not installed (Debian: libnbd-bin)"
sanitized_plugin "$PLUGIN"
# libnbd's Python binding (python3-libnbd) is for the system's python3.
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import nbd' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || skip_all "libnbd's Python module is not installed (Debian: python3-libnbd)"
READS="$PY $top_srcdir/tests/helpers/nbd-reads.py"

cd "$TMP" || exit 1
MiB=1048576
HB=65536

# serve ARCHIVE... -- CMD: runs CMD with $uri of the served chain; the
# server's messages in serve.log.
serve() {
	args=
	while [ "$1" != "--" ]; do args="$args $1"; shift; done
	shift
	# shellcheck disable=SC2086
	nbdkit -U - "$PLUGIN" $args --run "$*" 2>serve.log
}

# A 32 MiB image: random data, with written zeros in it (zero ranges).
random_file img $((32 * MiB))
dd if=/dev/zero of=img bs=$HB seek=40 count=30 conv=notrunc status=none
printf 'BLKSNAP-MARKER-OF-A-BLOCK' |
	dd of=img bs=1 seek=$((20 * MiB + 12345)) conv=notrunc status=none
cp img img.0
check "full backup (none)" blksnap-send --full -c none -o n.0.tar img
check "full backup (zstd)" blksnap-send --full -c zstd -o z.0.tar img
chain_n=n.0.tar chain_z=z.0.tar
for k in 1 2 3; do
	scatter_writes img 12
	# Zeros over data: a zero range of an incremental.
	dd if=/dev/zero of=img bs=$HB seek=$((100 + k * 50)) count=3 conv=notrunc status=none
	cp img img.$k
	blksnap-diff --scan img $chain_n > r.$k
	blksnap-send --base n.$((k - 1)).tar -c none -o n.$k.tar img < r.$k &&
	blksnap-send --base z.$((k - 1)).tar -c zstd -o z.$k.tar img < r.$k ||
		not_ok "incremental $k"
	chain_n="$chain_n n.$k.tar" chain_z="$chain_z z.$k.tar"
done
check "the chain restores as the image" sh -c "blksnap-restore -o out $chain_n && cmp out img.3"

# Each point of the uncompressed chain, read whole.
c=
for k in 0 1 2 3; do
	c="$c n.$k.tar"
	rm -f out
	check "point $k (none, local) read whole with nbdcopy is the image" \
		sh -c "nbdkit -U - '$PLUGIN' $c --run 'nbdcopy \"\$uri\" out' && cmp out img.$k"
done
check "1,000 random 4 KiB reads (none, local)" \
	serve $chain_n -- "$READS random \"\$uri\" img.3 1000 4096 1"
check "1,000 random 1 MiB reads (none, local)" \
	serve $chain_n -- "$READS random \"\$uri\" img.3 1000 $MiB 2"
check "writes are refused" serve $chain_n -- "$READS write \"\$uri\""

rm -f out
check "point 3 (zstd, through its seek table) read whole is the image" \
	sh -c "nbdkit -U - '$PLUGIN' $chain_z --run 'nbdcopy \"\$uri\" out' && cmp out img.3"
check "zstd archives are read by their seek tables, not a cache" \
	sh -c "nbdkit -v -U - '$PLUGIN' $chain_z no-cache=true --run true 2>&1 | grep -q 'z.3.tar: compression zstd, read by seek table'"
check "1,000 random 4 KiB reads (zstd)" \
	serve $chain_z -- "$READS random \"\$uri\" img.3 1000 4096 3"
check "1,000 random 1 MiB reads (zstd)" \
	serve $chain_z -- "$READS random \"\$uri\" img.3 1000 $MiB 4"
# tests/data/old-zstd.tar.zst: one zstd stream, no seek table (see
# tests/zstd-seekable.sh): decompressed into the cache file.
old=$top_srcdir/tests/data/old-zstd.tar.zst
seq 1 100000 | head -c 100000 > oldimg
mkdir cache
rm -f out
check "an old single-stream zstd archive is served from the cache file" \
	sh -c "nbdkit -U - '$PLUGIN' '$old' cache-dir=$TMP/cache --run 'nbdcopy \"\$uri\" out' && cmp out oldimg"
check "the cache file is in cache-dir= and has no name" \
	sh -c "nbdkit -U - '$PLUGIN' '$old' cache-dir=$TMP/cache --run 'test -z \"\$(ls -A cache)\"'"
expect_error "no-cache=true refuses a zstd archive without a seek table" \
	'old-zstd\.tar\.zst: a zstd archive without a seek table cannot be read at offsets, and the cache is off' \
	nbdkit -U - "$PLUGIN" "$old" no-cache=true --run true
check "file:// URLs" sh -c "nbdkit -U - '$PLUGIN' file://$TMP/n.0.tar file://$TMP/n.1.tar --run 'nbdcopy \"\$uri\" out' && cmp out img.1"

# A corrupted byte in the middle of the full archive's data.
at=$(grep -boa 'BLKSNAP-MARKER-OF-A-BLOCK' n.0.tar | head -1 | cut -d: -f1)
cp n.0.tar bad.tar
printf 'X' | dd of=bad.tar bs=1 seek=$((at + 3)) conv=notrunc status=none
block=$((20 * MiB + 12345 - (20 * MiB + 12345) % HB))
if [ -n "${SANITIZED_PLUGIN:-}" ]; then
	# nbdkit with the sanitizers' runtimes preloaded hangs in its exit
	# (glibc's locale lock, in p11-kit's destructor) after a read that
	# failed; without them (every other run) these cases run.
	for t in "a read of the corrupted block fails with EIO" \
		 "the server's log names the archive and the offset" \
		 "a read spanning it fails too" "reads of other blocks succeed" \
		 "nbdcopy of the whole export fails"; do
		skip "$t" "nbdkit hangs at exit with the sanitizers preloaded"
	done
else
	check "a read of the corrupted block fails with EIO" \
		serve bad.tar -- "$READS eio \"\$uri\" $((block + 4096)) 4096"
	check "the server's log names the archive and the offset" \
		grep -q "bad.tar: corrupted archive: image data at offset $block " serve.log
	check "a read spanning it fails too" \
		serve bad.tar -- "$READS eio \"\$uri\" $((block - MiB / 2)) $MiB"
	check "reads of other blocks succeed" \
		serve bad.tar -- "$READS ok \"\$uri\" img.0 $((block - 4096)) 4096 $((block + HB)) 4096 0 $MiB"
	# All of stderr: once nbdcopy has failed and closed the connection,
	# nbdkit 1.32 may still report a reply it could not send (and even
	# abort on an assertion) after nbdcopy's own message.
	expect_error "nbdcopy of the whole export fails" 'Input/output error|EIO' \
		sh -c "nbdkit -U - '$PLUGIN' bad.tar --run 'nbdcopy \"\$uri\" out' >/dev/null && exit 0; exit 1"
fi

expect_error "a chain out of order is refused, naming the archives" 'n\.2\.tar' \
	nbdkit -U - "$PLUGIN" n.0.tar n.2.tar --run true
blksnap-send --full -c none -m man.tar -o n2.tar img.0 >/dev/null 2>&1
expect_error "a manifest file is refused" 'man\.tar: this is a manifest file' \
	nbdkit -U - "$PLUGIN" man.tar --run true

# --- http: nginx serves the archives' files; each read is a ranged GET.
if [ -x "$NGINX" ]; then
	HTTP=$(free_port)
	nginx_config "	server { listen 127.0.0.1:$HTTP; }"
	cp n.*.tar z.*.tar www/
	at_exit 'nginx_stop'
	nginx_start "$HTTP" || not_ok "nginx starts"
	U=http://127.0.0.1:$HTTP
	hchain_n="$U/n.0.tar $U/n.1.tar $U/n.2.tar $U/n.3.tar"
	hchain_z="$U/z.0.tar $U/z.1.tar $U/z.2.tar $U/z.3.tar"
	rm -f out
	check "point 3 (none, http) read whole is the image" \
		sh -c "nbdkit -U - '$PLUGIN' $hchain_n --run 'nbdcopy \"\$uri\" out' && cmp out img.3"
	check "its reads are ranged GETs, not downloads" \
		grep -q '"GET /n.0.tar HTTP/1.1" 206' nginx-access.log
	check "1,000 random 4 KiB reads (none, http)" \
		serve $hchain_n -- "$READS random \"\$uri\" img.3 1000 4096 5"
	check "1,000 random 1 MiB reads (none, http)" \
		serve $hchain_n -- "$READS random \"\$uri\" img.3 1000 $MiB 6"
	rm -f out
	check "point 3 (zstd, http, ranged reads of its frames) read whole" \
		sh -c "nbdkit -U - '$PLUGIN' $hchain_z --run 'nbdcopy \"\$uri\" out' && cmp out img.3"
	expect_error "a missing URL is named" "$U/none.tar: not found \\(HTTP 404\\)" \
		nbdkit -U - "$PLUGIN" "$U/none.tar" --run true
else
	skip "http cases" "nginx is not installed"
fi

# --- S3: the signing test server of tests/remote-s3.sh.
if $PY -c 'import botocore.auth' 2>/dev/null; then
	mkdir -p data/bkt
	cp n.*.tar z.*.tar data/bkt/
	export S3_ACCESS_KEY=AKIDBLKSNAPTEST S3_SECRET_KEY=Sekr3t S3_REGION=eu-test-1
	export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
	export AWS_REGION=eu-test-1
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_REGION 2>/dev/null
	$PY "$top_srcdir/tests/helpers/s3server.py" data port 2>s3.log &
	s3_pid=$!
	at_exit 'kill $s3_pid 2>/dev/null; wait $s3_pid 2>/dev/null'
	i=0
	while [ ! -s port ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	S3="s3-endpoint=http://127.0.0.1:$(cat port) s3-path-style=true"
	schain_n="s3://bkt/n.0.tar s3://bkt/n.1.tar s3://bkt/n.2.tar s3://bkt/n.3.tar"
	schain_z="s3://bkt/z.0.tar s3://bkt/z.1.tar s3://bkt/z.2.tar s3://bkt/z.3.tar"
	rm -f out
	check "point 3 (none, s3) read whole is the image" \
		sh -c "nbdkit -U - '$PLUGIN' $schain_n $S3 --run 'nbdcopy \"\$uri\" out' && cmp out img.3"
	check "1,000 random 4 KiB reads (none, s3)" \
		serve $schain_n $S3 -- "$READS random \"\$uri\" img.3 1000 4096 7"
	check "1,000 random 1 MiB reads (none, s3)" \
		serve $schain_n $S3 -- "$READS random \"\$uri\" img.3 1000 $MiB 8"
	rm -f out
	check "point 3 (zstd, s3, ranged reads of its frames) read whole" \
		sh -c "nbdkit -U - '$PLUGIN' $schain_z $S3 --run 'nbdcopy \"\$uri\" out' && cmp out img.3"
	expect_error "a wrong secret is refused, naming the URL" \
		's3://bkt/n.0.tar: access denied \(HTTP 403\)' \
		env AWS_SECRET_ACCESS_KEY=wrong nbdkit -U - "$PLUGIN" s3://bkt/n.0.tar $S3 --run true
else
	skip "s3 cases" "python3-botocore is not installed"
fi

done_testing
