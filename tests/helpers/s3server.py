#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small S3-compatible server for the tests, on 127.0.0.1 only.

Every request must carry a valid AWS Signature Version 4: the signature
is recomputed with botocore (Debian's python3-botocore, an implementation
independent of libcurl's) from the request as received, and a mismatch
is answered 403 SignatureDoesNotMatch, as S3 does.  Path-style addressing
only (/BUCKET/KEY).  Implemented: PUT, GET (with Range: N- or N-M), HEAD and DELETE
of objects; CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListMultipartUploads (prefix), ListParts (pages of
max-parts after part-number-marker).  Chunked uploads are refused (501) as by S3.

Storage: DIR/BUCKET/ holds the objects (key percent-encoded), a bucket
exists when its directory does; DIR/.uploads/ID/ the parts of pending
multipart uploads, so a test sees what is left by listing them.

Faults, read from DIR/.faults at each request, one a line, the first
whose extended regex matches "METHOD PATH?QUERY":
    fail N REGEX       answer 500 InternalError to the next N matches
    reset REGEX        close the connection without an answer
    die REGEX          exit at once, as if killed, before answering
    truncate REGEX     send only half of a GET's body, then close
    stall REGEX        read the request, wait 20 s, close without an answer
    late REGEX         (CompleteMultipartUpload) complete the upload, then
                       wait 20 s and close without an answer
A fault followed by a count N applies to the next N matches only: its
line is rewritten with N-1 (removed at 0).

Usage: s3server.py DIR PORTFILE   (the port is written to PORTFILE)
Environment: S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_TOKEN (optional:
then every request must carry it as x-amz-security-token).
"""

import hashlib
import http.server
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DIR = sys.argv[1]
PORTFILE = sys.argv[2]
ACCESS = os.environ.get("S3_ACCESS_KEY", "AKIDTEST")
SECRET = os.environ.get("S3_SECRET_KEY", "secret")
REGION = os.environ.get("S3_REGION", "us-east-1")
TOKEN = os.environ.get("S3_TOKEN")
UPLOADS = os.path.join(DIR, ".uploads")
# Each object's ETag (S3's rule: the MD5 of a PUT's body; for an upload
# in parts the MD5 of the parts' MD5 digests, "-" and the count).
ETAGS = os.path.join(DIR, ".etags")
FAULTS = os.path.join(DIR, ".faults")
LOCK = threading.Lock()

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def fault_for(line):
    """The fault that applies to this request, consuming a 'fail' count."""
    with LOCK:
        try:
            with open(FAULTS) as f:
                rules = f.read().splitlines()
        except FileNotFoundError:
            return None
        for i, rule in enumerate(rules):
            parts = rule.split(None, 2)
            if not parts:
                continue
            if len(parts) == 3 and parts[1].isdigit():
                if re.search(parts[2], line):
                    n = int(parts[1]) - 1
                    rules[i] = "%s %d %s" % (parts[0], n, parts[2]) if n > 0 else ""
                    with open(FAULTS, "w") as f:
                        f.write("\n".join(r for r in rules if r) + "\n")
                    return parts[0]
            elif len(parts) >= 2 and re.search(rule.split(None, 1)[1], line):
                return parts[0]
    return None


def set_etag(path, etag):
    os.makedirs(ETAGS, exist_ok=True)
    with open(os.path.join(ETAGS, os.path.basename(path)), "w") as f:
        f.write(etag)


def get_etag(path):
    try:
        with open(os.path.join(ETAGS, os.path.basename(path))) as f:
            return f.read()
    except FileNotFoundError:
        return None


def xml(tag, body):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s</%s>'
            % (tag, body, tag)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("s3server: " + (fmt % args) + "\n")

    def send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code, msg=""):
        self.send(status, xml("Error", "<Code>%s</Code><Message>%s</Message>" % (code, msg)),
                  {"Content-Type": "application/xml"}, head=self.command == "HEAD")

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return None
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def check_signature(self, body):
        auth = self.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            return "AccessDenied"
        access, date, region, signed, signature = m.groups()
        if access != ACCESS:
            return "InvalidAccessKeyId"
        if region != REGION:
            return "AuthorizationHeaderMalformed"
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return "AccessDenied"
        if TOKEN is not None and ("x-amz-security-token" not in names or
                                  self.headers.get("x-amz-security-token") != TOKEN):
            return "InvalidToken"
        payload = self.headers.get("x-amz-content-sha256")
        if payload is None or "x-amz-content-sha256" not in names:
            return "InvalidRequest"
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body or b"").hexdigest():
            return "XAmzContentSHA256Mismatch"
        headers = {}
        for name in names:
            value = self.headers.get(name)
            if value is None:
                return "AccessDenied"
            headers[name] = value
        timestamp = headers["x-amz-date"]
        if timestamp[:8] != date:
            return "AccessDenied"
        req = AWSRequest(method=self.command, url="http://" + headers["host"] + self.path,
                         headers=headers)
        req.context["timestamp"] = timestamp
        signer = S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", REGION)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if expected != signature:
            return "SignatureDoesNotMatch"
        return None

    def handle_any(self):
        line = "%s %s" % (self.command, self.path)
        fault = fault_for(line)
        if fault == "die":
            sys.stderr.write("s3server: dying on %s\n" % line)
            os._exit(1)
        if fault == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        body = self.read_body() if self.command in ("PUT", "POST") else b""
        if body is None:
            return self.error(501, "NotImplemented", "chunked transfer encoding")
        if fault == "fail":
            return self.error(500, "InternalError", "injected")
        if fault == "stall":
            time.sleep(20)
            self.close_connection = True
            return
        bad = self.check_signature(body)
        if bad:
            return self.error(403, bad)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        if not bucket or "/" in bucket or bucket.startswith(".") or \
           not os.path.isdir(os.path.join(DIR, bucket)):
            return self.error(404, "NoSuchBucket")
        if (len(parts) < 2 or not parts[1]) and self.command == "GET" and "uploads" in query:
            return self.list_uploads(bucket, query.get("prefix", [""])[0])
        if len(parts) < 2 or not parts[1]:
            return self.error(400, "InvalidRequest", "bucket operations are not implemented")
        key = urllib.parse.unquote(parts[1])
        path = os.path.join(DIR, bucket, urllib.parse.quote(key, safe=""))
        upload = query.get("uploadId", [None])[0]
        if upload is not None and not re.fullmatch(r"[0-9a-f]{32}", upload):
            return self.error(404, "NoSuchUpload")
        updir = os.path.join(UPLOADS, upload) if upload else None
        if updir and not os.path.isdir(updir):
            return self.error(404, "NoSuchUpload")

        if self.command == "GET" and upload:
            return self.list_parts(updir, bucket, key, upload,
                                   int(query.get("part-number-marker", ["0"])[0] or 0),
                                   int(query.get("max-parts", ["1000"])[0]))
        if self.command == "PUT" and upload:
            num = int(query.get("partNumber", ["0"])[0])
            if not 1 <= num <= 10000:
                return self.error(400, "InvalidArgument")
            with open(os.path.join(updir, "%05d" % num), "wb") as f:
                f.write(body)
            return self.send(200, headers={"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
        if self.command == "PUT":
            tmp = path + ".tmp-" + uuid.uuid4().hex
            with open(tmp, "wb") as f:
                f.write(body)
            os.rename(tmp, path)
            set_etag(path, hashlib.md5(body).hexdigest())
            return self.send(200, headers={"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
        if self.command == "POST" and "uploads" in query:
            uid = uuid.uuid4().hex
            os.makedirs(os.path.join(UPLOADS, uid))
            with open(os.path.join(UPLOADS, uid, "key"), "w") as f:
                f.write(path)
            with open(os.path.join(UPLOADS, uid, "name"), "w") as f:
                f.write(bucket + "/" + key)
            return self.send(200, xml("InitiateMultipartUploadResult",
                                      "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                                      % (bucket, key, uid)))
        if self.command == "POST" and upload:
            listed = re.findall(r"<PartNumber>(\d+)</PartNumber>\s*<ETag>([^<]*)</ETag>",
                                body.decode())
            if not listed:
                return self.error(400, "MalformedXML")
            tmp = path + ".tmp-" + uuid.uuid4().hex
            digests = b""
            with open(tmp, "wb") as out:
                for i, (num, etag) in enumerate(listed):
                    part = os.path.join(updir, "%05d" % int(num))
                    if int(num) != i + 1 or not os.path.exists(part):
                        os.unlink(tmp)
                        return self.error(400, "InvalidPart")
                    with open(part, "rb") as f:
                        data = f.read()
                    if etag.replace("&quot;", '"').strip('"') != hashlib.md5(data).hexdigest():
                        os.unlink(tmp)
                        return self.error(400, "InvalidPart")
                    if i + 1 < len(listed) and len(data) < 5 << 20:
                        os.unlink(tmp)
                        return self.error(400, "EntityTooSmall")
                    out.write(data)
                    digests += hashlib.md5(data).digest()
            os.rename(tmp, path)
            etag = "%s-%d" % (hashlib.md5(digests).hexdigest(), len(listed))
            set_etag(path, etag)
            for f in os.listdir(updir):
                os.unlink(os.path.join(updir, f))
            os.rmdir(updir)
            if fault == "late":
                # Done, but the answer comes too late for the client.
                time.sleep(20)
                self.close_connection = True
                return
            return self.send(200, xml("CompleteMultipartUploadResult",
                                      "<Bucket>%s</Bucket><Key>%s</Key><ETag>\"%s\"</ETag>"
                                      % (bucket, key, etag)))
        if self.command == "DELETE" and upload:
            for f in os.listdir(updir):
                os.unlink(os.path.join(updir, f))
            os.rmdir(updir)
            return self.send(204)
        if self.command == "DELETE":
            if os.path.exists(path):
                os.unlink(path)
            if get_etag(path):
                os.unlink(os.path.join(ETAGS, os.path.basename(path)))
            return self.send(204)
        if self.command in ("GET", "HEAD"):
            if not os.path.exists(path):
                return self.error(404, "NoSuchKey")
            size = os.path.getsize(path)
            status, headers = 200, {"Accept-Ranges": "bytes"}
            if get_etag(path):
                headers["ETag"] = '"%s"' % get_etag(path)
            start, end = 0, size - 1
            # "bytes=N-" (a download resumed) and "bytes=N-M" (reads at offsets).
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
                status = 206
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read(max(0, end + 1 - start))
            if fault == "truncate" and self.command == "GET":
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            return self.send(status, data, headers, head=self.command == "HEAD")
        return self.error(405, "MethodNotAllowed")

    def list_uploads(self, bucket, prefix):
        found = []
        for uid in os.listdir(UPLOADS):
            try:
                with open(os.path.join(UPLOADS, uid, "name")) as f:
                    b, k = f.read().split("/", 1)
                started = os.path.getmtime(os.path.join(UPLOADS, uid, "name"))
            except (OSError, ValueError):
                continue
            if b == bucket and k.startswith(prefix):
                found.append((k, started, uid))
        found.sort()
        body = "<Bucket>%s</Bucket><IsTruncated>false</IsTruncated>" % bucket
        for k, _, uid in found:
            body += "<Upload><Key>%s</Key><UploadId>%s</UploadId></Upload>" % (
                k.replace("&", "&amp;").replace("<", "&lt;"), uid)
        return self.send(200, xml("ListMultipartUploadsResult", body))

    def list_parts(self, updir, bucket, key, upload, marker, most):
        nums = sorted(int(f) for f in os.listdir(updir) if f.isdigit())
        nums = [n for n in nums if n > marker]
        page, more = nums[:most], len(nums) > most
        body = "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>" % (bucket, key, upload)
        body += "<IsTruncated>%s</IsTruncated>" % ("true" if more else "false")
        if page:
            body += "<NextPartNumberMarker>%d</NextPartNumberMarker>" % page[-1]
        for n in page:
            with open(os.path.join(updir, "%05d" % n), "rb") as f:
                data = f.read()
            body += ("<Part><PartNumber>%d</PartNumber><ETag>&quot;%s&quot;</ETag>"
                     "<Size>%d</Size></Part>") % (n, hashlib.md5(data).hexdigest(), len(data))
        return self.send(200, xml("ListPartsResult", body))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    os.makedirs(UPLOADS, exist_ok=True)
    srv = Server(("127.0.0.1", 0), Handler)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
