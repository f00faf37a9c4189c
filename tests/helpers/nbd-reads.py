#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Reads of an NBD export compared with an image file (tests/nbd-serve.sh).

  nbd-reads.py random URI IMAGE COUNT SIZE SEED
      COUNT reads of SIZE bytes at random offsets (aligned to 512, as a
      kernel client would, and also unaligned ones), each compared with
      IMAGE; prints the number of mismatches and failures; exit 1 if any.
  nbd-reads.py eio URI OFFSET LEN
      a read of LEN bytes at OFFSET must fail with EIO; exit 1 otherwise.
  nbd-reads.py ok URI IMAGE OFFSET LEN [OFFSET LEN...]
      these reads must succeed and match IMAGE; exit 1 otherwise.
  nbd-reads.py write URI
      a write must be refused; exit 1 if it succeeds.
"""
import errno
import os
import random
import sys

import nbd


def connect(uri):
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


def random_reads(uri, image, count, size, seed):
    h = connect(uri)
    total = h.get_size()
    if total != os.path.getsize(image):
        print("export has %d bytes, image %d" % (total, os.path.getsize(image)))
        return 1
    rnd = random.Random(seed)
    bad = 0
    with open(image, "rb") as f:
        for i in range(count):
            off = rnd.randrange(0, total - size + 1)
            if i % 2 == 0:
                off -= off % 512
            want = os.pread(f.fileno(), size, off)
            try:
                got = h.pread(size, off)
            except nbd.Error as e:
                print("read of %d at %d failed: %s" % (size, off, e))
                bad += 1
                continue
            if got != want:
                print("read of %d at %d differs from the image" % (size, off))
                bad += 1
    h.shutdown()
    print("%d reads of %d bytes, %d bad" % (count, size, bad))
    return 1 if bad else 0


def expect_eio(uri, off, length):
    h = connect(uri)
    try:
        h.pread(length, off)
    except nbd.Error as e:
        print("read of %d at %d failed: %s" % (length, off, e))
        return 0 if e.errnum == errno.EIO else 1
    print("read of %d at %d succeeded" % (length, off))
    return 1


def expect_ok(uri, image, pairs):
    h = connect(uri)
    bad = 0
    with open(image, "rb") as f:
        for off, length in pairs:
            try:
                if h.pread(length, off) != os.pread(f.fileno(), length, off):
                    print("read of %d at %d differs from the image" % (length, off))
                    bad += 1
            except nbd.Error as e:
                print("read of %d at %d failed: %s" % (length, off, e))
                bad += 1
    return 1 if bad else 0


def expect_write_refused(uri):
    h = connect(uri)
    try:
        h.pwrite(b"x" * 512, 0)
    except nbd.Error as e:
        print("write refused: %s" % e)
        return 0
    print("write succeeded")
    return 1


def main(argv):
    if argv[1] == "random":
        return random_reads(argv[2], argv[3], int(argv[4]), int(argv[5]),
                            int(argv[6]))
    if argv[1] == "eio":
        return expect_eio(argv[2], int(argv[3]), int(argv[4]))
    if argv[1] == "ok":
        nums = [int(x) for x in argv[4:]]
        return expect_ok(argv[2], argv[3], list(zip(nums[::2], nums[1::2])))
    if argv[1] == "write":
        return expect_write_refused(argv[2])
    return 2


sys.exit(main(sys.argv))
