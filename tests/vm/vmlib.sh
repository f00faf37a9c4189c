# SPDX-License-Identifier: GPL-2.0-only
# Shared by tests/vm/run.sh and the VM benchmarks (bench/vm-*.sh): find
# the kernels, build the module and the test tool, stage the userspace
# tools, boot a kernel under qemu.
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

# Where contrib/install-vm-deps keeps the kernels that cannot be installed
# on this host: one chroot per Debian release (RELEASE/, with the kernel
# image and modules under usr/lib/modules/VER/ and the headers in
# usr/src/), and the index "kernels" (lines "VER TESTS": the kernel tests
# that tests/vm/kernels selects for each kernel it installed).
vm_root=${BLKSNAP_VM_ROOT:-/var/lib/blksnap-vm}

# vm_kernels: kernels with an image and a build directory (optionally
# restricted to BLKSNAP_KERNELS): those installed on the host, and those
# in the chroots under $vm_root, for which kroot[VER] names the chroot.
vm_kernels() {
	local d ver root
	kernels=()
	declare -gA kroot=()
	for d in /lib/modules/*/ "$vm_root"/*/usr/lib/modules/*/; do
		[ -d "$d" ] || continue
		ver=$(basename "$d")
		if [ -n "${BLKSNAP_KERNELS:-}" ] &&
			! [[ " $BLKSNAP_KERNELS " == *" $ver "* ]]; then
			continue
		fi
		[ -z "${kroot[$ver]+set}" ] || continue
		case $d in
		/lib/modules/*)
			if [ -r "/boot/vmlinuz-$ver" ] && [ -d "$d/build" ]; then
				kernels+=("$ver")
				kroot[$ver]=
			fi
			;;
		*)
			root=${d%/usr/lib/modules/*}
			if [ -r "$d/vmlinuz" ] &&
				[ -f "$root/usr/src/linux-headers-$ver/Makefile" ]; then
				kernels+=("$ver")
				kroot[$ver]=$root
			fi
			;;
		esac
	done
	[ ${#kernels[@]} -gt 0 ]
}

# vm_kernel_tests VER: the kernel tests to run on VER, comma-separated
# globs: BLKSNAP_KT if set, else what the index of tests/vm/kernels says
# for VER, else all.
vm_kernel_tests() {
	local v t
	if [ -n "${BLKSNAP_KT:-}" ]; then
		echo "$BLKSNAP_KT"
		return
	fi
	if [ -r "$vm_root/kernels" ]; then
		while read -r v t; do
			if [ "$v" = "$1" ] && [ -n "$t" ]; then
				echo "$t"
				return
			fi
		done < "$vm_root/kernels"
	fi
	echo '*'
}

# vm_kernel_image VER: the kernel image to boot.
vm_kernel_image() {
	if [ -n "${kroot[$1]:-}" ]; then
		echo "${kroot[$1]}/usr/lib/modules/$1/vmlinuz"
	else
		echo "/boot/vmlinuz-$1"
	fi
}

# The test tool: plain C with the library's control wrappers.
vm_build_ktest() {
	gcc -std=gnu11 -O2 -Wall -Wextra -I"$srcdir/include" \
		-o "$B/ktest" \
		"$srcdir/tests/vm/ktest.c" "$srcdir/lib/control.c" 2>&1
}

# vm_build_module VER OUT: blksnap.ko into OUT, log in OUT/kmod.log
vm_build_module() {
	local ver=$1 out=$2
	rm -f "$out/blksnap.ko"
	if [ -n "${kroot[$ver]:-}" ]; then
		vm_build_module_chroot "$ver" "$out"
		return
	fi
	# Under make check the parent's jobserver is not ours: a clean make
	# (its "jobserver unavailable" warning would fail the build check).
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s -C "$srcdir/kmod" KDIR="/lib/modules/$ver/build" \
		BUILD_DIR="$out/kmod" > "$out/kmod.log" 2>&1 || return 1
	cp "$out/kmod/blksnap.ko" "$out/blksnap.ko"
}

# vm_build_module_chroot VER OUT: the same for a kernel in a chroot,
# whose headers need that release's compiler and libraries: the sources
# are copied into the chroot and built there, with /proc (objtool reads
# it) mounted in a mount namespace of the build's own, which goes away
# with it.
vm_build_module_chroot() {
	local ver=$1 out=$2 root=${kroot[$1]} w rc
	w=$(mktemp -d "$root/var/tmp/blksnap-kmod.XXXXXX") || return 1
	mkdir -p "$w/kmod" "$w/include" "$out/kmod"
	cp "$srcdir"/kmod/Makefile "$srcdir"/kmod/Kbuild "$srcdir"/kmod/probe.sh \
		"$srcdir"/kmod/*.[ch] "$w/kmod/"
	cp -r "$srcdir/include/blksnap" "$w/include/"
	cp "$srcdir/configure.ac" "$w/"
	# shellcheck disable=SC2016
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$1/proc" && exec chroot "$1" make -s -C "$2/kmod" KDIR="/usr/lib/modules/$3/build" BUILD_DIR="$2/out"' \
		sh "$root" "${w#"$root"}" "$ver" > "$out/kmod.log" 2>&1
	rc=$?
	[ $rc = 0 ] && cp "$w/out/blksnap.ko" "$w/out/blksnap-features.h" "$out/kmod/" &&
		cp "$w/out/blksnap.ko" "$out/blksnap.ko"
	rc=$?
	rm -rf "$w"
	return $rc
}

# vm_boot VER OUT TIMEOUT [SCRIPT]: boot with three scratch disks and run
# SCRIPT (relative to srcdir) in the guest; console in OUT/console.log.
# A guest that needs a second boot on the same disks (the reboot tests,
# see guest.sh) writes OUT/reboot before it powers off: the same kernel
# boots again on the same disk images, with bboot=2 on its command line
# (the first boot has bboot=1), its console appended to OUT/console.log
# and its length written to OUT/boot2.seconds; there is never a third
# boot. TIMEOUT covers both boots.
vm_boot() {
	local ver=$1 out=$2 tmo=$3 script=${4:-tests/vm/guest.sh} rc start left
	BLKSNAP_KROOT=${kroot[$ver]:-} \
	bash "$srcdir/tests/vm/mkinitramfs.sh" "$ver" "$out/initrd.gz" \
		> "$out/initrd.log" 2>&1 || return 125
	# Scratch disks: sparse files in OUT, or in BLKSNAP_DISKDIR if set;
	# sizes 512M, 128M and 512M unless BLKSNAP_DISK0_SIZE / _DISK1_SIZE /
	# _DISK2_SIZE say otherwise (the benchmarks; the tests rely on the
	# defaults). The third is a restore target for the first's backups.
	local dd=${BLKSNAP_DISKDIR:-$out}
	rm -f "$dd"/disk[012].img "$out/reboot" "$out/boot2.seconds"
	truncate -s "${BLKSNAP_DISK0_SIZE:-512M}" "$dd/disk0.img"
	truncate -s "${BLKSNAP_DISK1_SIZE:-128M}" "$dd/disk1.img"
	truncate -s "${BLKSNAP_DISK2_SIZE:-512M}" "$dd/disk2.img"
	: > "$out/console.log"
	start=$(date +%s)
	vm_qemu 1 "$tmo"
	rc=$?
	if [ -f "$out/reboot" ]; then
		rm -f "$out/reboot"
		echo "vmlib: === second boot on the same disks ===" >> "$out/console.log"
		left=$((tmo - ($(date +%s) - start)))
		start=$(date +%s)
		if [ $left -gt 0 ]; then
			vm_qemu 2 "$left"
			rc=$?
		else
			rc=124
		fi
		echo $(($(date +%s) - start)) > "$out/boot2.seconds"
	fi
	rm -f "$dd"/disk[012].img
	return $rc
}

# vm_qemu BOOT TIMEOUT: one boot of vm_boot (its ver, out, script, dd).
vm_qemu() {
	# BLKSNAP_VM_ICOUNT (the benchmarks): one TCG thread with guest time
	# counted in instructions, so that rates measured in the guest are
	# a function of instructions per operation, not of the host's load.
	# One host thread runs both vCPUs (tcg,thread=single): under qemu's
	# multi-threaded TCG, a vCPU calling submit_bio_noacct() while another
	# patches its ftrace site (the module loading or unloading under
	# writes) was seen to spin for good at submit_bio_noacct+0, where
	# memory held the 5-byte NOP again: the int3 handler found no int3
	# there and sent it back to re-execute a stale translation (6.1, 1 in
	# about 20 unloads under writes; none in 36 with one thread). With
	# the kernels booted side by side, one thread each costs no speed.
	# BLKSNAP_VM_ACCEL overrides it (tcg,thread=multi for real parallelism).
	local accel=${BLKSNAP_VM_ACCEL:-tcg,thread=single} icount=
	if [ -n "${BLKSNAP_VM_ICOUNT:-}" ]; then
		accel=tcg,thread=single
		icount="-icount shift=0,sleep=off"
	fi
	# BLKSNAP_VM_APPEND: more kernel parameters, e.g. slub_debug=FZPU to
	# catch a use after free or a double free at the faulting access.
	# BLKSNAP_VM_CPU: the CPU model (default max).
	# shellcheck disable=SC2086
	timeout -k 10 "$2" "$qemu" \
		-accel "$accel" $icount -cpu "${BLKSNAP_VM_CPU:-max}" -m 1G -smp 2 \
		-nographic -no-reboot \
		-kernel "$(vm_kernel_image "$ver")" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=-1 softlockup_panic=1 hung_task_panic=1 loglevel=4 bsrc=$srcdir bout=$out bbuild=$B bscript=$script bboot=$1 bonly=$(vm_kernel_tests "$ver")${kroot[$ver]:+ bmods=${kroot[$ver]}/usr/lib/modules}${BLKSNAP_KT_REPEAT:+ brepeat=$BLKSNAP_KT_REPEAT}${BLKSNAP_VM_APPEND:+ $BLKSNAP_VM_APPEND}" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$B",mount_tag=build,security_model=none \
		-drive file="$dd/disk0.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		-drive file="$dd/disk1.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		-drive file="$dd/disk2.img",if=virtio,format=raw,cache=unsafe,discard=unmap \
		< /dev/null >> "$out/console.log" 2>&1
}

# vm_stage_tools BUILD: the userspace tools of the build tree BUILD (the
# programs libtool built, not its wrapper scripts) into $B/tools, where
# the guest finds them: the build tree may be hidden in the guest (a
# tmpfs over /tmp), $B is not. Returns 1 when BUILD has no built tools.
vm_stage_tools() {
	[ -x "$1/src/.libs/blksnap-cbt" ] || return 1
	mkdir -p "$B/tools"
	cp "$1"/src/.libs/blksnap-* "$1"/lib/.libs/libblksnap.so* "$B/tools/"
	# The nbdkit plugin, when configure built it.
	if [ -f "$1/src/.libs/nbdkit-blksnap-plugin.so" ]; then
		cp "$1/src/.libs/nbdkit-blksnap-plugin.so" "$B/tools/"
	fi
}

# vm_stage_installed_tools: the installed tools (/usr/bin, /usr/sbin) as
# links in $B/tools, where the tests look for the tools; no library is
# staged, so they run with the installed one.
vm_stage_installed_tools() {
	local t
	[ -x /usr/sbin/blksnap-take ] || return 1
	mkdir -p "$B/tools"
	for t in /usr/bin/blksnap-send /usr/bin/blksnap-diff \
		 /usr/bin/blksnap-restore /usr/sbin/blksnap-take \
		 /usr/sbin/blksnap-cbt /usr/sbin/blksnap-backup; do
		ln -sfn "$t" "$B/tools/${t##*/}"
	done
	for t in /usr/lib/*/nbdkit/plugins/nbdkit-blksnap-plugin.so; do
		[ -f "$t" ] && ln -sfn "$t" "$B/tools/${t##*/}"
	done
	return 0
}

# vm_installed_module VER OUT: OUT/blksnap.ko, a link to the module that
# depmod's index of VER names (DKMS installs it under updates/).
vm_installed_module() {
	local ko
	ko=$(modinfo -k "$1" -n blksnap 2>/dev/null) || return 1
	case $ko in
	/lib/modules/"$1"/updates/*) ;;
	*) return 1 ;;
	esac
	ln -sfn "$ko" "$2/blksnap.ko"
}

# vm_bench_prepare NAME [DISKROOT]: what a benchmark does before it
# boots. Checks that the VM can run, picks the newest kernel found
# (BLKSNAP_KERNELS narrows the choice) into ver, sets B (BLKSNAP_BUILDDIR,
# or a temporary directory removed on exit) and out, builds the test tool
# and the module into out, and keeps the disk images in a directory of
# DISKROOT (default /dev/shm: in RAM, no host writeback noise in the
# measurement), removed on exit, unless BLKSNAP_DISKDIR names one.
# Exits 77 when the VM cannot run here, 1 when a build fails.
vm_bench_prepare() {
	local reason
	if ! reason=$(vm_check); then
		echo "$1: cannot run: $reason" >&2
		exit 77
	fi
	if ! vm_kernels; then
		echo "$1: no kernel with image and headers" >&2
		exit 77
	fi
	ver=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n 1)
	vm_cleanup=()
	trap 'rm -rf "${vm_cleanup[@]}"' EXIT
	if [ -n "${BLKSNAP_BUILDDIR:-}" ]; then
		B=$(mkdir -p "$BLKSNAP_BUILDDIR" && cd "$BLKSNAP_BUILDDIR" && pwd)
	else
		B=$(mktemp -d "${TMPDIR:-/tmp}/blksnap-bench.XXXXXX")
		vm_cleanup+=("$B")
	fi
	out="$B/$1-$ver"
	mkdir -p "$out"
	rm -f "$out/bench.out" "$out/bench.out.done"
	vm_build_ktest > "$out/ktest.log" || { cat "$out/ktest.log"; exit 1; }
	cp "$B/ktest" "$out/ktest"
	vm_build_module "$ver" "$out" || { cat "$out/kmod.log"; exit 1; }
	if [ -z "${BLKSNAP_DISKDIR:-}" ] && [ -w "${2:-/dev/shm}" ]; then
		BLKSNAP_DISKDIR=$(mktemp -d "${2:-/dev/shm}/blksnap-bench.XXXXXX")
		vm_cleanup+=("$BLKSNAP_DISKDIR")
	fi
	export BLKSNAP_DISKDIR
}

# vm_bench_run NAME SCRIPT TIMEOUT: boot ver with the guest side SCRIPT
# (relative to srcdir) and print the table it wrote to out/bench.out;
# returns 1, with the console's tail, when the guest did not finish or
# its side wrote "failed" instead of "done" to out/bench.out.done.
vm_bench_run() {
	vm_boot "$ver" "$out" "$3" "$2"
	if ! grep -qx done "$out/bench.out.done" 2> /dev/null; then
		echo "$1: the guest did not finish; console tail:" >&2
		tail -n 30 "$out/console.log" >&2
		[ -f "$out/bench.out" ] && cat "$out/bench.out"
		return 1
	fi
	cat "$out/bench.out"
}
