# SPDX-License-Identifier: GPL-2.0-only
# Shared by tests/vm/run.sh and bench/vm-tracking.sh: find the kernels,
# build the module and the test tool, boot a kernel under qemu.
# Needs: srcdir, B (build directory). Sets: qemu, kernels[].

qemu=$(command -v qemu-system-x86_64)

# vm_check: print a reason and return 1 when the VM cannot run here.
vm_check() {
	local b tool
	[ -n "$qemu" ] || { echo "qemu-system-x86_64 not installed"; return 1; }
	[ "$(uname -m)" = x86_64 ] || { echo "not an x86_64 host"; return 1; }
	busybox=""
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ] && file -L "$b" 2>/dev/null |
			grep -q 'statically linked'; then
			busybox=$b
			break
		fi
	done
	[ -n "$busybox" ] || { echo "busybox-static not installed"; return 1; }
	for tool in gcc make cpio gzip modinfo file timeout; do
		command -v $tool > /dev/null || { echo "$tool not installed"; return 1; }
	done
	return 0
}

# vm_kernels: kernels with an image and a build directory (optionally
# restricted to BLKSNAP_KERNELS).
vm_kernels() {
	local d ver
	kernels=()
	for d in /lib/modules/*/; do
		[ -d "$d" ] || continue
		ver=$(basename "$d")
		if [ -n "${BLKSNAP_KERNELS:-}" ] &&
			! [[ " $BLKSNAP_KERNELS " == *" $ver "* ]]; then
			continue
		fi
		if [ -r "/boot/vmlinuz-$ver" ] && [ -d "/lib/modules/$ver/build" ]; then
			kernels+=("$ver")
		fi
	done
	[ ${#kernels[@]} -gt 0 ]
}

# The test tool: plain C with the library's control wrappers.
vm_build_ktest() {
	gcc -std=gnu11 -O2 -Wall -Wextra -I"$srcdir/include" \
		-I"$srcdir/include/uapi" -o "$B/ktest" \
		"$srcdir/tests/vm/ktest.c" "$srcdir/lib/control.c" 2>&1
}

# vm_build_module VER OUT: blksnap.ko into OUT, log in OUT/kmod.log
vm_build_module() {
	local ver=$1 out=$2
	rm -f "$out/blksnap.ko"
	# Under make check the parent's jobserver is not ours: a clean make
	# (its "jobserver unavailable" warning would fail the build check).
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s -C "$srcdir/kmod" KDIR="/lib/modules/$ver/build" \
		BUILD_DIR="$out/kmod" > "$out/kmod.log" 2>&1 || return 1
	cp "$out/kmod/blksnap.ko" "$out/blksnap.ko"
}

# vm_boot VER OUT TIMEOUT [SCRIPT]: boot with two scratch disks and run
# SCRIPT (relative to srcdir) in the guest; console in OUT/console.log.
vm_boot() {
	local ver=$1 out=$2 tmo=$3 script=${4:-tests/vm/guest.sh} rc
	bash "$srcdir/tests/vm/mkinitramfs.sh" "$ver" "$out/initrd.gz" \
		> "$out/initrd.log" 2>&1 || return 125
	# Scratch disks: sparse files in OUT, or in BLKSNAP_DISKDIR if set;
	# sizes 512M and 128M unless BLKSNAP_DISK0_SIZE / _DISK1_SIZE say
	# otherwise (the benchmarks; the tests rely on the defaults).
	local dd=${BLKSNAP_DISKDIR:-$out}
	rm -f "$dd"/disk[01].img
	truncate -s "${BLKSNAP_DISK0_SIZE:-512M}" "$dd/disk0.img"
	truncate -s "${BLKSNAP_DISK1_SIZE:-128M}" "$dd/disk1.img"
	timeout -k 10 "$tmo" "$qemu" \
		-accel tcg,thread=multi -cpu max -m 1G -smp 2 \
		-nographic -no-reboot \
		-kernel "/boot/vmlinuz-$ver" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=-1 softlockup_panic=1 hung_task_panic=1 loglevel=4 bsrc=$srcdir bout=$out bbuild=$B bscript=$script${BLKSNAP_KT:+ bonly=$BLKSNAP_KT}${BLKSNAP_KT_REPEAT:+ brepeat=$BLKSNAP_KT_REPEAT}" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$B",mount_tag=build,security_model=none \
		-drive file="$dd/disk0.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		-drive file="$dd/disk1.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		< /dev/null > "$out/console.log" 2>&1
	rc=$?
	rm -f "$dd"/disk[01].img
	return $rc
}
