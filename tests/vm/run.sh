#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Kernel tests in a VM: for every installed Debian kernel with both
# /boot/vmlinuz-VER and /lib/modules/VER/build, and every kernel that
# contrib/install-vm-deps installed in a chroot of another Debian release
# (tests/vm/kernels lists them), build blksnap.ko and the test tool, boot the kernel under qemu (TCG) with the host root shared
# read-only over virtio-9p, run tests/vm/kt/*.sh inside and print one TAP
# stream on stdout (for automake's tap-driver).
#
# Environment: srcdir (source top directory; default from this script's
# location), BLKSNAP_BUILDDIR (build products; default a temporary
# directory, removed afterwards), BLKSNAP_KERNELS (space-separated kernel
# versions to restrict the run to), BLKSNAP_KT (comma-separated globs:
# run only the kernel tests whose names match one, on every kernel; by
# default each kernel runs the TESTS that tests/vm/kernels gives it,
# all unless it says otherwise), BLKSNAP_KT_REPEAT (run them N times, to
# chase an intermittent failure; the reboot tests run once),
# BLKSNAP_VM_TIMEOUT (seconds per kernel, both boots, default 3600),
# BLKSNAP_VM_JOBS (kernels booted at once, default 2; 1 boots them one
# after the other), BLKSNAP_VM_SKIP (non-empty: report SKIP, e.g. for a
# second run under make distcheck), BLKSNAP_VM_REQUIRED (non-empty:
# a reason to skip is a failure instead, as in CI), BLKSNAP_BIN (the build
# tree whose tools are staged for the guest), BLKSNAP_INSTALLED (non-empty:
# the installed packages are tested instead of the tree's build: the
# module that DKMS built and installed for each kernel, and the tools in
# /usr/bin and /usr/sbin).
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
srcdir=$(cd "$srcdir" && pwd)
# 3600: about 20 minutes of tests in the first boot, the reboot tests'
# two phases and their second boot (14 minutes measured on a busy host).
timeout_s=${BLKSNAP_VM_TIMEOUT:-3600}
. "$srcdir/tests/vm/vmlib.sh"
. "$srcdir/tests/vm/ktselect.sh"

skip_all() {
	# CI sets BLKSNAP_VM_REQUIRED: there a skip would hide a broken setup.
	if [ -n "${BLKSNAP_VM_REQUIRED:-}" ] && [ -z "${BLKSNAP_VM_SKIP:-}" ]; then
		echo "not ok 1 - the kernel tests must run here but cannot: $*"
		echo "1..1"
		exit 0
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

[ -z "${BLKSNAP_VM_SKIP:-}" ] || skip_all "BLKSNAP_VM_SKIP is set"
reason=$(vm_check) || skip_all "$reason"
vm_kernels ||
	skip_all "no kernel with both /boot/vmlinuz-VER and /lib/modules/VER/build"

if [ -n "${BLKSNAP_BUILDDIR:-}" ]; then
	B=$(mkdir -p "$BLKSNAP_BUILDDIR" && cd "$BLKSNAP_BUILDDIR" && pwd)
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

# kernel_ntests VER: how many test results VER's guest reports. A reboot
# test ("# reboot" line) reports once per boot, and runs once whatever
# the repeat count (guest.sh).
kernel_ntests() {
	local t globs nt=0 nreboot=0
	globs=$(vm_kernel_tests "$1")
	for t in "$srcdir"/tests/vm/kt/[0-9]*.sh; do
		kt_selected "$(basename "$t" .sh)" "$globs" || continue
		if grep -qx '# reboot' "$t"; then
			nreboot=$((nreboot + 2))
		else
			nt=$((nt + 1))
		fi
	done
	echo $((nt * ${BLKSNAP_KT_REPEAT:-1} + nreboot))
}

# The userspace tools, for the tests that drive the module through them.
if [ -n "${BLKSNAP_INSTALLED:-}" ]; then
	vm_stage_installed_tools ||
		skip_all "BLKSNAP_INSTALLED: no blksnap-take in /usr/sbin (install the packages)"
elif [ -n "${BLKSNAP_BIN:-}" ]; then
	vm_stage_tools "$BLKSNAP_BIN"
fi
echo "# blksnap VM tests: kernels ${kernels[*]}; build directory $B"
for ver in "${kernels[@]}"; do
	[ -z "${kroot[$ver]}" ] || echo "# $ver: from the chroot ${kroot[$ver]}"
done

if ! log=$(vm_build_ktest); then
	echo "$log" | diag
	for ver in "${kernels[@]}"; do
		not_ok "$ver: build the test tool"
	done
	echo "1..$n"
	exit 0
fi

# What in a console log explains a guest that never finished.
console_bad='BUG:|WARNING:|Oops|general protection|Kernel panic|blocked for more than|rcu.*stall|soft lockup|hard LOCKUP'

run_kernel() {
	local ver=$1 out="$B/$1" start rc ntests
	ntests=$(kernel_ntests "$ver")
	mkdir -p "$out"
	rm -f "$out/tap.out"
	cp "$B/ktest" "$out/ktest"
	if [ -n "${BLKSNAP_INSTALLED:-}" ]; then
		if vm_installed_module "$ver" "$out"; then
			ok "$ver: blksnap.ko installed by DKMS: $(readlink "$out/blksnap.ko")"
		else
			not_ok "$ver: blksnap.ko installed by DKMS in /lib/modules/$ver/updates"
			return
		fi
	elif vm_build_module "$ver" "$out" && ! grep -q 'warning:' "$out/kmod.log"; then
		ok "$ver: build blksnap.ko without warnings"
	else
		diag < "$out/kmod.log"
		not_ok "$ver: build blksnap.ko without warnings"
		[ -f "$out/blksnap.ko" ] || return
	fi
	start=$(date +%s)
	vm_boot "$ver" "$out" "$timeout_s"
	rc=$?
	if [ $rc = 125 ]; then
		diag < "$out/initrd.log"
		not_ok "$ver: build the initramfs"
		return
	fi
	echo "# $ver: VM ran $(($(date +%s) - start)) s (qemu status $rc), tests $(vm_kernel_tests "$ver")"
	if grep -q '^vmlib: === second boot' "$out/console.log"; then
		echo "# $ver: of which the second boot (reboot tests): $(cat "$out/boot2.seconds" 2> /dev/null || echo '?') s"
	fi
	[ -f "$out/tap.out" ] && report "$ver" "$out/tap.out"
	if ! grep -q '^# done' "$out/tap.out" 2> /dev/null; then
		echo "# $ver: the guest did not finish; the first kernel report:"
		grep -m1 -A60 -E "$console_bad" "$out/console.log" | diag
		echo "# $ver: console tail:"
		tail -n 20 "$out/console.log" | diag
		not_ok "$ver: the guest ran all tests"
	elif [ "$(grep -c '^ok - \|^not ok - ' "$out/tap.out")" != "$ntests" ]; then
		not_ok "$ver: the guest ran all $ntests tests"
	fi
}

# The kernels boot side by side (BLKSNAP_VM_JOBS at a time, default 2):
# much of a guest's time is fio runs and waits of fixed length, which
# overlap. Each kernel's lines are numbered afterwards.
jobs=${BLKSNAP_VM_JOBS:-2}
running=0
for ver in "${kernels[@]}"; do
	if [ "$jobs" -le 1 ]; then
		run_kernel "$ver"
		continue
	fi
	(n=0; run_kernel "$ver") > "$B/$ver.tap" 2>&1 &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
if [ "$jobs" -gt 1 ]; then
	for ver in "${kernels[@]}"; do
		while IFS= read -r line; do
			case "$line" in
			"ok "[0-9]*) ok "${line#ok [0-9]* - }" ;;
			"not ok "[0-9]*) not_ok "${line#not ok [0-9]* - }" ;;
			*) echo "$line" ;;
			esac
		done < "$B/$ver.tap"
	done
fi
echo "1..$n"
