#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Kernel tests in a VM: for every installed Debian kernel with both
# /boot/vmlinuz-VER and /lib/modules/VER/build, build blksnap.ko and the
# test tool, boot the kernel under qemu (TCG) with the host root shared
# read-only over virtio-9p, run tests/vm/kt/*.sh inside and print one TAP
# stream on stdout (for automake's tap-driver).
#
# Environment: srcdir (source top directory; default from this script's
# location), BLKSNAP_BUILDDIR (build products; default a temporary
# directory, removed afterwards), BLKSNAP_KERNELS (space-separated kernel
# versions to restrict the run to), BLKSNAP_VM_TIMEOUT (seconds per
# kernel, default 600).
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
srcdir=$(cd "$srcdir" && pwd)
timeout_s=${BLKSNAP_VM_TIMEOUT:-600}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

qemu=$(command -v qemu-system-x86_64) || skip_all "qemu-system-x86_64 not installed"
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && file -L "$b" 2>/dev/null | grep -q 'statically linked'; then
		busybox=$b
		break
	fi
done
[ -n "$busybox" ] || skip_all "busybox-static not installed"
[ "$(uname -m)" = x86_64 ] || skip_all "not an x86_64 host"
for tool in gcc make cpio gzip modinfo; do
	command -v $tool > /dev/null || skip_all "$tool not installed"
done

kernels=()
for d in /lib/modules/*/; do
	ver=$(basename "$d")
	[ -n "${BLKSNAP_KERNELS:-}" ] &&
		! [[ " $BLKSNAP_KERNELS " == *" $ver "* ]] && continue
	if [ -r "/boot/vmlinuz-$ver" ] && [ -d "/lib/modules/$ver/build" ]; then
		kernels+=("$ver")
	fi
done
[ ${#kernels[@]} -gt 0 ] ||
	skip_all "no kernel with both /boot/vmlinuz-VER and /lib/modules/VER/build"

if [ -n "${BLKSNAP_BUILDDIR:-}" ]; then
	B=$BLKSNAP_BUILDDIR
	mkdir -p "$B"
	B=$(cd "$B" && pwd)
else
	B=$(mktemp -d "${TMPDIR:-/tmp}/blksnap-vm.XXXXXX")
	trap 'rm -rf "$B"' EXIT
fi

n=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	echo "not ok $n - $*"
}
diag() {
	sed 's/^/# /'
}

# The test tool: plain C with the library's control wrappers.
build_ktest() {
	gcc -std=gnu11 -O2 -Wall -Wextra -I"$srcdir/include" \
		-I"$srcdir/include/uapi" -o "$B/ktest" \
		"$srcdir/tests/vm/ktest.c" "$srcdir/lib/control.c" 2>&1
}

build_module() {
	local ver=$1 out=$2
	make -s -C "$srcdir/kmod" KDIR="/lib/modules/$ver/build" \
		BUILD_DIR="$out/kmod" > "$out/kmod.log" 2>&1 || return 1
	cp "$out/kmod/blksnap.ko" "$out/blksnap.ko"
}

boot() {
	local ver=$1 out=$2
	rm -f "$out"/disk*.img
	truncate -s 512M "$out/disk0.img"
	truncate -s 128M "$out/disk1.img"
	timeout -k 10 "$timeout_s" "$qemu" \
		-accel tcg,thread=multi -cpu max -m 1G -smp 2 \
		-nographic -no-reboot \
		-kernel "/boot/vmlinuz-$ver" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4 bsrc=$srcdir bout=$out bbuild=$B" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on \
		-virtfs local,path="$B",mount_tag=build,security_model=none \
		-drive file="$out/disk0.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		-drive file="$out/disk1.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		< /dev/null > "$out/console.log" 2>&1
	local rc=$?
	rm -f "$out"/disk*.img
	return $rc
}

# Number the guest's TAP lines and prefix the kernel version.
report() {
	local ver=$1 tap=$2 line
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "$ver: ${line#ok - }" ;;
		"not ok - "*) not_ok "$ver: ${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		esac
	done < "$tap"
}

ntests=$(ls "$srcdir"/tests/vm/kt/[0-9]*.sh | wc -l)
echo "# blksnap VM tests: kernels ${kernels[*]}; build directory $B"

if ! out=$(build_ktest); then
	echo "$out" | diag
	for ver in "${kernels[@]}"; do
		not_ok "$ver: build the test tool"
	done
	echo "1..$n"
	exit 0
fi

for ver in "${kernels[@]}"; do
	out="$B/$ver"
	mkdir -p "$out"
	cp "$B/ktest" "$out/ktest"
	if build_module "$ver" "$out" && ! grep -q 'warning:' "$out/kmod.log"; then
		ok "$ver: build blksnap.ko without warnings"
	else
		diag < "$out/kmod.log"
		not_ok "$ver: build blksnap.ko without warnings"
		[ -f "$out/blksnap.ko" ] || continue
	fi
	if ! "$here/mkinitramfs.sh" "$ver" "$out/initrd.gz" > "$out/initrd.log" 2>&1; then
		diag < "$out/initrd.log"
		not_ok "$ver: build the initramfs"
		continue
	fi
	start=$(date +%s)
	boot "$ver" "$out"
	rc=$?
	echo "# $ver: VM ran $(($(date +%s) - start)) s (qemu status $rc)"
	if [ -f "$out/tap.out" ]; then
		report "$ver" "$out/tap.out"
	fi
	if ! grep -q '^# done' "$out/tap.out" 2>/dev/null; then
		echo "# $ver: the guest did not finish; console tail:"
		tail -n 40 "$out/console.log" | diag
		not_ok "$ver: the guest ran all tests"
	elif [ "$(grep -c '^ok - \|^not ok - ' "$out/tap.out")" != "$ntests" ]; then
		not_ok "$ver: the guest ran all $ntests tests"
	fi
done
echo "1..$n"
