#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Remote storage: the throughput of sending an archive to the loopback
# S3 server of the tests (tests/helpers/s3server.py: SigV4 checked on
# every request, parts written to disk and joined on completion) and of
# restoring from it, against writing and reading the same archive as a
# local file, in one run on the same data.  Each side's best of ROUNDS,
# alternating sides.  Nothing is asserted: the table is for people.  The
# server is Python, so the ratio bounds what blksnap's uploader costs
# from above; where nginx is installed, a row for a WebDAV PUT to it
# shows the same upload to a server written in C.
#
#   bench/remote.sh [BUILD_DIR]      (default: the current directory)
#   environment: SIZE_MB (default 1024), ROUNDS (default 3),
#                BENCH_DIR (default /var/tmp)
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
build=$(cd "${1:-.}" && pwd)
use_build "$build"
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/blksnap-bench.XXXXXX")
server=
nginx_pid=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

for tool in blksnap-send blksnap-restore python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
python3 -c 'import botocore' 2>/dev/null || { echo "bench: python3-botocore not found" >&2; exit 1; }

mkdir -p s3/bkt
export S3_ACCESS_KEY=AKIDBENCH S3_SECRET_KEY=bench-secret S3_REGION=us-east-1
python3 "$src/tests/helpers/s3server.py" s3 port 2>/dev/null &
server=$!
i=0
while [ ! -s port ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s port ] || { echo "bench: the S3 server did not start" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export BLKSNAP_S3_ENDPOINT=http://127.0.0.1:$(cat port)

rows=
row() { rows="$rows$(printf '%-48s %8.3f %8.3f %7.2f  %9.0f' "$1" "$2" "$3" "$4" "$5")
"; }
mibs() { calc "$SIZE_MB / $1"; }

echo "bench: $SIZE_MB MiB random image in $work, best of $ROUNDS, $(nproc) CPUs" >&2
head -c "${SIZE_MB}M" /dev/urandom > img
cat img > /dev/null

pair "blksnap-send --s3-path-style --full -c none -o s3://bkt/a.tar img" \
     "blksnap-send --full -c none -o local.tar img"
row "send -c none: s3:// / local file" "$ta" "$tb" "$(calc "$tb / $ta")" "$(mibs "$ta")"

pair "blksnap-send --s3-path-style --full -c zstd --level 1 -o s3://bkt/z.tar img" \
     "blksnap-send --full -c zstd --level 1 -o localz.tar img"
row "send -c zstd -l 1: s3:// / local file" "$ta" "$tb" "$(calc "$tb / $ta")" "$(mibs "$ta")"

pair "rm -f out1; blksnap-restore --s3-path-style -o out1 s3://bkt/a.tar" \
     "rm -f out2; blksnap-restore -o out2 local.tar"
row "restore -c none: s3:// / local file" "$ta" "$tb" "$(calc "$tb / $ta")" "$(mibs "$ta")"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p www ntmp
	cat >nginx.conf <<NGINX
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/ntmp;
	root $work/www;
	dav_methods PUT DELETE;
	client_max_body_size 0;
	server { listen 127.0.0.1:$port; }
}
NGINX
	"$NGINX" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" 2>/dev/null &
	nginx_pid=$!
	sleep 0.5
	pair "blksnap-send --full -c none -o http://127.0.0.1:$port/a.tar img" \
	     "blksnap-send --full -c none -o local.tar img"
	row "send -c none: http:// (nginx) / local file" "$ta" "$tb" "$(calc "$tb / $ta")" "$(mibs "$ta")"
fi

printf '%-48s %8s %8s %7s  %9s\n' "measure" "remote s" "local s" "ratio" "remote MiB/s"
printf '%s' "$rows"
