#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the test initramfs: load virtio and 9p, mount the host root
# read-only, the build directory read-write at the same path, and run the
# guest test script in a chroot. Parameters come from the kernel command
# line: bsrc=SRCDIR bout=OUTDIR bbuild=BUILDDIR [bscript=SCRIPT], SCRIPT
# relative to SRCDIR (default tests/vm/guest.sh). With bmods=DIR (a
# kernel from a chroot of another release, whose modules the host's
# /lib/modules lacks) DIR is mounted over the host root's /lib/modules.
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

for m in $(cat /modules.order); do
	insmod /lib/mod/$m.ko || echo "init: insmod $m failed"
done

bscript=tests/vm/guest.sh
bmods=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bsrc=*) bsrc=${arg#bsrc=} ;;
	bout=*) bout=${arg#bout=} ;;
	bbuild=*) bbuild=${arg#bbuild=} ;;
	bscript=*) bscript=${arg#bscript=} ;;
	bmods=*) bmods=${arg#bmods=} ;;
	esac
done

opts=trans=virtio,version=9p2000.L,msize=262144
# The host root with cache=loose: nothing changes it while the guest runs,
# and without a cache every page of every shared library is a round trip
# to the host (tools took seconds to start). The build directory stays
# uncached, so that the logs of a guest that hangs reach the host.
if ! mount -t 9p -o ro,$opts,cache=loose host /host; then
	echo "init: cannot mount the host root"
	poweroff -f
fi
if [ -n "$bmods" ] && ! mount --bind "/host$bmods" /host/lib/modules; then
	echo "init: cannot mount $bmods over /lib/modules"
	poweroff -f
fi
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
# A source tree under a directory that gets a tmpfs stays visible.
case "$bsrc" in
/tmp/*|/run/*|/root/*)
	mkdir -p /srcdir
	mount --bind "/host$bsrc" /srcdir ;;
esac
for d in tmp run root; do
	mount -t tmpfs tmpfs /host/$d
done
if [ -d /srcdir ]; then
	mkdir -p "/host$bsrc"
	mount --bind /srcdir "/host$bsrc"
fi
mkdir -p /host/$bbuild
mount -t 9p -o $opts build /host/$bbuild

chroot /host /bin/sh "$bsrc/$bscript" "$bsrc" "$bout"
echo "init: $bscript exited with $?"
sync
poweroff -f
