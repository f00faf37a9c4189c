#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Archives to and from an S3-compatible server on 127.0.0.1: full and
# incremental round trips (multipart upload and single PUT), wrong
# credentials, a part answered 500 twice, a connection reset on every
# try, a completion whose answer is lost, the server killed mid-upload,
# a download cut short, and no credential in the verbose output;
# resumable uploads cut by a reset connection or a killed server,
# resumed (uncompressed and zstd), and refused for a changed source or
# another zstd level.
#
# The server is tests/helpers/s3server.py.  Why not s3rver (npm) or
# MinIO: MinIO is not packaged by Debian, and s3rver speaks the protocol
# (multipart included) but accepts any secret, so it cannot show that the
# requests are signed right.  The helper recomputes every request's AWS
# Signature Version 4 with botocore (Debian's python3-botocore, written
# independently of libcurl's signer) and answers 403 on a mismatch; it
# keeps pending multipart uploads as directories, so the test can see
# that an aborted upload leaves nothing behind, and it injects faults on
# demand.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

have python3 || skip_all "python3 is not installed"
python3 -c 'import botocore.auth' 2>/dev/null ||
	skip_all "python3-botocore is not installed"

cd "$TMP" || exit 1
mkdir -p data/bkt
SECRET=Sekr3t-not-to-be-printed
export S3_ACCESS_KEY=AKIDBLKSNAPTEST S3_SECRET_KEY=$SECRET S3_REGION=eu-test-1

start_server() {
	rm -f port
	python3 "$top_srcdir/tests/helpers/s3server.py" data port 2>>server.log &
	server=$!
	i=0
	while [ ! -s port ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s port ] || { diag "the S3 server did not start: $(tail -5 server.log)"; return 1; }
	BLKSNAP_S3_ENDPOINT=http://127.0.0.1:$(cat port)
	export BLKSNAP_S3_ENDPOINT
}
stop_server() {
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
}
at_exit 'stop_server'
start_server || skip_all "the S3 server does not start"

export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET
export AWS_REGION=eu-test-1
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_REGION 2>/dev/null
S3="--s3-path-style"

nothing_pending() {
	[ -z "$(ls data/.uploads)" ]
}

# 20 MiB of random data: three parts of a multipart upload.
random_file img 20971520
cp img state.0
check "full backup to s3:// (multipart)" \
	blksnap-send $S3 --full -c none -o s3://bkt/img.0.tar img
check "the object is a whole archive (tar lists its three entries)" \
	sh -c '[ "$(tar -tf data/bkt/img.0.tar | wc -l)" -eq 3 ]'
check "no multipart upload is left pending" nothing_pending

scatter_writes img 20
cp img state.1
blksnap-diff $S3 --scan img s3://bkt/img.0.tar >r.1 2>err.1
check "diff --scan against a base on s3://" test -s r.1
check "incremental to s3:// (one PUT), its base read from s3://" \
	sh -c "blksnap-send $S3 --base s3://bkt/img.0.tar -c zstd -o s3://bkt/img.1.tar img < r.1"
rm -f out
check "restore from s3:// (full + incremental)" \
	blksnap-restore $S3 -o out s3://bkt/img.0.tar s3://bkt/img.1.tar
check "restored image is identical" cmp out state.1
check "--list reads the manifests from s3://" \
	sh -c "blksnap-restore $S3 --list s3://bkt/img.0.tar s3://bkt/img.1.tar | grep -q 'kind: *incremental'"
blksnap-restore $S3 -v --list s3://bkt/img.0.tar >/dev/null 2>list.log
if grep -q 'GET .* -> stopped early' list.log; then
	ok "reading a manifest stops the download early"
else
	not_ok "reading a manifest stops the download early"; diag "$(cat list.log)"
fi

# Wrong credentials: the signature check fails.
expect_error "a wrong secret is refused with a clear message" \
	'access denied \(HTTP 403\): check the credentials' \
	env AWS_SECRET_ACCESS_KEY=wrong blksnap-send $S3 --full -o s3://bkt/bad.tar img
check "nothing stored under a wrong secret" test ! -e data/bkt/bad.tar
expect_error "an unknown key id is refused" 'access denied \(HTTP 403\)' \
	env AWS_ACCESS_KEY_ID=AKIDNOBODY blksnap-restore $S3 --verify s3://bkt/img.0.tar
expect_error "a missing object is named" 's3://bkt/nothing.tar: not found \(HTTP 404\)' \
	blksnap-restore $S3 --verify s3://bkt/nothing.tar
expect_error "a wrong region is refused" 'access denied \(HTTP 403\)' \
	blksnap-restore $S3 --s3-region us-west-9 --verify s3://bkt/img.0.tar

# Verbose output shows requests but no credential.
blksnap-send $S3 -v --full -c none -o s3://bkt/v.tar img >/dev/null 2>verbose.log
if grep -q 'PUT .* part 2 -> 200' verbose.log && ! grep -q -e "$SECRET" -e Signature= verbose.log; then
	ok "--verbose shows the requests and no credential"
else
	not_ok "--verbose shows the requests and no credential"; diag "$(head -5 verbose.log)"
fi

# A part answered 500 twice, then accepted: retried, not restarted.
echo 'fail 2 ^PUT .*partNumber=2&' >data/.faults
blksnap-send $S3 -v --full -c none -o s3://bkt/retry.tar img 2>retry.log
status=$?
if [ "$status" -eq 0 ] && [ "$(grep -c 'part 2 -> 500' retry.log)" -eq 2 ] &&
   [ "$(grep -c 'CreateMultipartUpload -> 200' retry.log)" -eq 1 ]; then
	ok "a part answered 500 twice succeeds on the third try"
else
	not_ok "a part answered 500 twice succeeds on the third try (exit $status)"
	diag "$(cat retry.log)"
fi
rm -f out
check "the retried upload restores identically" \
	sh -c "blksnap-restore $S3 -o out s3://bkt/retry.tar && cmp out state.1"

# A part whose answer stalls is given up after --timeout and retried.
echo 'stall 1 ^PUT .*partNumber=2&' >data/.faults
blksnap-send $S3 -v --timeout 1 --full -c none -o s3://bkt/stall.tar img 2>stall.log
status=$?
# (libcurl measures the speed over a few seconds: the limit fires after ~7 s.)
if [ "$status" -eq 0 ] && grep -q 'part 2 -> Timeout was reached' stall.log &&
   grep -q 'part 2 -> 200' stall.log; then
	ok "a stalled part is timed out and retried"
else
	not_ok "a stalled part is timed out and retried (exit $status)"; diag "$(cat stall.log)"
fi

# CompleteMultipartUpload done by the server, its answer lost: the
# retry finds no upload (404 NoSuchUpload), and a HEAD finds the object
# with the ETag of exactly the parts sent, so the send succeeds.
echo 'late 1 ^POST .*uploadId=' >data/.faults
blksnap-send $S3 -v --timeout 1 --full -c none -o s3://bkt/late.tar img 2>late.log
status=$?
if [ "$status" -eq 0 ] && grep -q 'CompleteMultipartUpload -> 404' late.log &&
   grep -q 'an earlier try completed the upload' late.log; then
	ok "a completion whose answer is lost is found done by the object's ETag"
else
	not_ok "a completion whose answer is lost is found done by the object's ETag (exit $status)"
	diag "$(cat late.log)"
fi
rm -f out
check "that upload restores identically" \
	sh -c "blksnap-restore $S3 -o out s3://bkt/late.tar && cmp out state.1"
# Not found done when the object's ETag is not that of the parts sent
# (another writer's object took the key meanwhile).
echo 'late 1 ^POST .*uploadId=' >data/.faults
blksnap-send $S3 --timeout 1 --full -c none -o s3://bkt/late2.tar img 2>late2.log &
pid=$!
i=0
while [ ! -s data/.etags/late2.tar ] && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo 0123456789abcdef0123456789abcdef-3 >data/.etags/late2.tar
wait $pid
status=$?
if [ "$status" -ne 0 ] && grep -q 's3://bkt/late2.tar: .*HTTP 404' late2.log &&
   ! grep -q 'an earlier try completed' late2.log; then
	ok "a lost completion over an object of other parts fails"
else
	not_ok "a lost completion over an object of other parts fails (exit $status)"
	diag "$(cat late2.log)"
fi

# Every try of part 2 has its connection reset: the upload is aborted.
echo 'reset ^PUT .*partNumber=2&' >data/.faults
expect_error "a part that always fails ends the send with exit 1" \
	's3://bkt/reset.tar: .*part 2, 3 tries' \
	blksnap-send $S3 --retries 2 --full -c none -o s3://bkt/reset.tar img
rm -f data/.faults
check "no object after the failed upload" test ! -e data/bkt/reset.tar
check "the multipart upload was aborted" nothing_pending

# The server dies during part 2: exit 1, and no object once it is back.
echo 'die ^PUT .*partNumber=2&' >data/.faults
expect_error "the server killed mid-upload gives exit 1" 's3://bkt/killed.tar: ' \
	blksnap-send $S3 --retries 1 --full -c none -o s3://bkt/killed.tar img
rm -f data/.faults
wait "$server" 2>/dev/null
start_server
check "no object after the server was killed mid-upload" test ! -e data/bkt/killed.tar
rm -rf data/.uploads/*

# A download cut short once: it resumes with a range request.
# The first GET reads only the manifest (restore checks the chain first).
echo 'truncate 2 ^GET ' >data/.faults
rm -f out
blksnap-restore $S3 -v -o out s3://bkt/img.0.tar 2>resume.log
status=$?
# The resumed GET logs "206", or "stopped early" when the reader is done
# before the tar trailer arrives; either way the cut is in the log, a
# third GET follows it, and the verified image is whole.
if [ "$status" -eq 0 ] && grep -q 'Transferred a partial file' resume.log &&
   [ "$(grep -c 'GET ' resume.log)" -ge 3 ] && cmp -s out state.0; then
	ok "a download cut once resumes with a range request"
else
	not_ok "a download cut once resumes with a range request (exit $status)"
	diag "$(cat resume.log)"
fi

# A download cut short on every try: restore fails and names the URL.
echo 'truncate ^GET ' >data/.faults
rm -f out
expect_error "a truncated download fails the restore" \
	's3://bkt/img.0.tar: transfer closed' \
	blksnap-restore $S3 --retries 1 -o out s3://bkt/img.0.tar
check "no image is left by the failed restore" test ! -e out
rm -f data/.faults

# --- resumable uploads (blksnap-send --resume) ---------------------------
# 36 MiB: parts of 8 MiB, the fifth the rest.
random_file res.img 37748736
cp res.img res.orig
pending_parts() {
	ls data/.uploads/*/ 2>/dev/null | grep -c '^0'
}
echo 'reset ^PUT .*partNumber=4&' >data/.faults
expect_error "a resumable upload whose connection is cut fails" \
	'part 4, 2 tries' \
	blksnap-send $S3 --retries 1 --resume --full -c none -o s3://bkt/res.tar res.img
rm -f data/.faults
if grep -q 's3://bkt/res.tar: the parts uploaded so far are kept (a pending multipart upload): run the same command with --resume' "$TMP/err.msg" &&
   [ "$(pending_parts)" -eq 3 ]; then
	ok "... keeps its multipart upload and its three parts, saying how to continue"
else
	not_ok "... keeps its multipart upload and its three parts, saying how to continue"
	diag "$(cat "$TMP/err.msg")" "$(ls -R data/.uploads)"
fi
# resumed_by_parts WHAT SEND-ARGS...: the upload cut at part 4, resumed
# (-v), sends part 1 again, checks parts 2 and 3, sends 4 and 5.
resumed_by_parts() {
	_what=$1
	shift
	blksnap-send $S3 -v --resume --full "$@" 2>res.log
	status=$?
	if [ "$status" -eq 0 ] && grep -q 'ListParts -> 200' res.log &&
	   grep -q 'part 1 -> 200' res.log && ! grep -q -e 'part 2 ->' -e 'part 3 ->' res.log &&
	   grep -q 'part 5 -> 200' res.log && nothing_pending; then
		ok "$_what resumed: part 1 sent again, parts 2 and 3 checked, not sent, 4 and 5 sent"
	else
		not_ok "$_what resumed: part 1 sent again, parts 2 and 3 checked, not sent, 4 and 5 sent"
		diag "exit $status" "$(cat res.log)"
	fi
}
resumed_by_parts "uncompressed," -c none -o s3://bkt/res.tar res.img
rm -f out
check "the resumed upload verifies and restores identically" \
	sh -c "blksnap-restore $S3 --verify s3://bkt/res.tar && blksnap-restore $S3 -o out s3://bkt/res.tar && cmp out res.orig"

# The server killed during part 3, then back: resumed from part 3.
echo 'die ^PUT .*partNumber=3&' >data/.faults
expect_error "a resumable upload to a server killed mid-upload fails" 's3://bkt/res2.tar: ' \
	blksnap-send $S3 --retries 1 --resume --full -c none -o s3://bkt/res2.tar res.img
rm -f data/.faults
wait "$server" 2>/dev/null
start_server
rm -f out
check "... and resumes once the server is back, to an archive that restores identically" \
	sh -c "blksnap-send $S3 --resume --full -c none -o s3://bkt/res2.tar res.img &&
	       blksnap-restore $S3 -o out s3://bkt/res2.tar && cmp out res.orig"

# A source changed in what was sent: refused, the upload kept.
echo 'reset ^PUT .*partNumber=4&' >data/.faults
blksnap-send $S3 --retries 0 --resume --full -c none -o s3://bkt/res3.tar res.img 2>/dev/null
rm -f data/.faults
flip_bit res.img $((10 * 1048576))
expect_error "a resumed upload of a changed source is refused by part" \
	'part 2 of the pending upload [0-9a-f]+ differs from the archive made again' \
	blksnap-send $S3 --resume --full -c none -o s3://bkt/res3.tar res.img
check "... and the pending upload is kept, its parts untouched" \
	sh -c '[ "$(ls data/.uploads | wc -l)" -eq 1 ] && [ "$(ls data/.uploads/*/ | grep -c "^0")" -eq 3 ]'
cp res.orig res.img
rm -f out
check "... and the source as it was still resumes" \
	sh -c "blksnap-send $S3 --resume --full -c none -o s3://bkt/res3.tar res.img &&
	       blksnap-restore $S3 -o out s3://bkt/res3.tar && cmp out res.orig"

# zstd: the first frame, which holds the new UUID and time, is stored,
# of the same size, so that parts 2 on are the same bytes; another level
# makes other bytes.  1 MiB of text at 9 MiB (part 2), which compresses.
seq 1 300000 | head -c 1048576 |
	dd of=res.img bs=1M seek=9 conv=notrunc status=none
cp res.img resz.orig
echo 'reset ^PUT .*partNumber=4&' >data/.faults
blksnap-send $S3 --retries 0 --resume --full -o s3://bkt/resz.tar res.img 2>/dev/null
rm -f data/.faults
expect_error "a zstd upload resumed at another level is refused by part" \
	'part 2 of the pending upload [0-9a-f]+ differs from the archive made again .*another zstd level' \
	blksnap-send $S3 --resume --full --level 1 -o s3://bkt/resz.tar res.img
resumed_by_parts "zstd," -o s3://bkt/resz.tar res.img
rm -f out
check "... and verifies, restores identically, and zstd reads it" \
	sh -c "blksnap-restore $S3 --verify s3://bkt/resz.tar &&
	       blksnap-restore $S3 -o out s3://bkt/resz.tar && cmp out resz.orig &&
	       { ! command -v zstd >/dev/null || zstd -qt data/bkt/resz.tar; }"
cp res.orig res.img
check "no multipart upload is left pending after the resumed uploads" nothing_pending
check "--resume with nothing pending is an ordinary upload" \
	sh -c "blksnap-send $S3 --resume --full -c none -o s3://bkt/res4.tar img &&
	       blksnap-restore $S3 --verify s3://bkt/res4.tar"

# A session token is sent and signed when set.
stop_server
export S3_TOKEN=tok3n
start_server
expect_error "a missing session token is refused" 'HTTP 403' \
	blksnap-restore $S3 --list s3://bkt/img.0.tar
check "AWS_SESSION_TOKEN is sent as x-amz-security-token" \
	env AWS_SESSION_TOKEN=tok3n blksnap-restore $S3 --list s3://bkt/img.0.tar

done_testing
