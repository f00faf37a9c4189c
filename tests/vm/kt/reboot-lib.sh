# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the reboot tests (6*, a "# reboot" line: guest.sh runs them
# in two boots of the same disks, BOOT=1 then BOOT=2, with RBDIR lasting
# across both). They drive the boot and shutdown path of the project as
# installed: the lines ExecStart and ExecStop of blksnap-cbt.service, the
# system-shutdown hook, the initramfs-tools scripts, run from the source
# tree with the staged tools.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
[ -n "${RBDIR:-}" ] && [ -n "${BOOT:-}" ] || {
	echo "not run by guest.sh as a reboot test (no RBDIR or BOOT)"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
contrib="$KTDIR/../../contrib"
echo "boot $BOOT"

# rb_load: the module, once for all the reboot tests of a boot (nothing
# unloads it between them: the power cut is to find their trackers).
rb_load() {
	[ -c /dev/blksnap-control ] || load
	modprobe -a ext4 xfs 2> /dev/null
}

# rb_check_state DEV: skip when the module cannot save a history (a
# module without BLKSNAP_IOCTL_CBT_STATE). DEV is left as it was found.
rb_check_state() {
	rc_att=
	if ! blksnap-cbt --info "$1" > /dev/null 2>&1; then
		blksnap-cbt --attach "$1" || die "attach $1"
		rc_att=1
	fi
	blksnap-cbt --info "$1" > /tmp/rb-info 2>&1 || die "blksnap-cbt --info $1: $(cat /tmp/rb-info)"
	[ -n "$rc_att" ] && { blksnap-cbt --detach "$1" || die "detach $1"; }
	grep -q '^writes:' /tmp/rb-info || {
		echo "the module has no CBT state interface (UAPI 1.2): nothing to keep across a reboot"
		exit 77
	}
}

# rb_layout: the partitions of the reboot tests, written by the first of
# them in the first boot: $DISK (512 MiB) one of 320 MiB (60's xfs: the
# smallest xfs mkfs.xfs makes is 300 MB), $DISK2 (128 MiB) two of 60 MiB
# (60, 61), $SCRATCH (512 MiB) two of 128 MiB (62, 63).
rb_layout() {
	if [ "$BOOT" = 1 ] && [ ! -f "$RBDIR/../layout" ]; then
		printf 'size=320M\n' | sfdisk -q "$DISK" || die "sfdisk $DISK"
		printf 'size=60M\nsize=60M\n' | sfdisk -q "$DISK2" || die "sfdisk $DISK2"
		printf 'size=128M\nsize=128M\n' | sfdisk -q "$SCRATCH" || die "sfdisk $SCRATCH"
		: > "$RBDIR/../layout"
	fi
	for p in "${DISK}1" "${DISK2}1" "${DISK2}2" "${SCRATCH}1" "${SCRATCH}2"; do
		i=0
		while [ ! -b "$p" ]; do
			i=$((i + 1))
			[ $i -gt 50 ] && die "no partition $p"
			sleep 0.1
		done
	done
}

# rb_unit ExecStart|ExecStop CONF STATEDIR: run that line of
# blksnap-cbt.service as systemd would, with the test's device list and
# state directory in place of /etc/blksnap/cbt.conf and the default one.
rb_unit() {
	ru_line=$(sed -n "s/^$1=//p" "$contrib/systemd/blksnap-cbt.service.in")
	[ -n "$ru_line" ] || die "no $1 in blksnap-cbt.service.in"
	ru_line=$(echo "$ru_line" | sed \
		-e "s|@libexecdir@/blksnap/blksnap-cbt-devices|sh $contrib/blksnap-cbt-devices|" \
		-e "s|/etc/blksnap/cbt.conf|$2|")
	echo "$1: $ru_line"
	BLKSNAP_CBT_STATE_DIR=$3 BLKSNAP_CBT_WAIT=10 sh -c "$ru_line"
}

# gen DEV: the generation of DEV's tracking
gen() {
	blksnap-cbt --info "$1" | sed -n 's/^generation: *//p'
}

# history DEV: what --info says of DEV's history
history() {
	blksnap-cbt --info "$1" | sed -n 's/^history: *//p'
}

# rb_write MNT TAG N: N new files of 256 KiB of random data, synced
rb_write() {
	rw_i=0
	while [ $rw_i -lt "$3" ]; do
		rw_i=$((rw_i + 1))
		dd if=/dev/urandom of="$1/$2-$rw_i" bs=64k count=4 status=none ||
			die "write $1/$2-$rw_i"
	done
	sync
}

# rb_backup DEV DIR N FALLBACK: snapshot DEV, checksum its image into
# DIR/sumN and back it up as DIR/aN.tar (N=0: full; else the CBT dump
# DIR/dumpN against the chain so far, with blksnap-diff --fallback=FALLBACK:
# fail for an incremental that must come from the tracking alone, scan
# for what blksnap-backup does); the diff's messages in DIR/diffN.err.
rb_backup() {
	mkdir -p /tmp/rb-storage
	rb_id=$(blksnap-take -q --storage /tmp/rb-storage --limit 96M "$1") ||
		die "take $1 ($3)"
	rb_img=$(blksnap-take --image "$rb_id" "$1") || die "image $1 ($3)"
	i=0
	while [ ! -b "$rb_img" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	md5sum < "$rb_img" > "$2/sum$3" || die "read image $rb_img ($3)"
	if [ "$3" = 0 ]; then
		blksnap-send -q --full -o "$2/a0.tar" -m "$2/a0.manifest" "$rb_img" ||
			die "full backup of $1"
	else
		blksnap-cbt -o "$2/dump$3" "$1" || die "dump $1 ($3)"
		rb_chain=$(seq 0 $(($3 - 1)) | sed "s|.*|$2/a&.manifest|")
		# shellcheck disable=SC2086
		if [ "$4" = scan ]; then
			blksnap-diff --fallback=scan --source "$rb_img" $rb_chain \
				< "$2/dump$3" > "$2/r$3" 2> "$2/diff$3.err"
		else
			blksnap-diff --fallback=fail $rb_chain \
				< "$2/dump$3" > "$2/r$3" 2> "$2/diff$3.err"
		fi || die "diff $1 ($3): $(cat "$2/diff$3.err")"
		blksnap-send -q --base "$2/a$(($3 - 1)).manifest" -o "$2/a$3.tar" \
			-m "$2/a$3.manifest" "$rb_img" < "$2/r$3" ||
			die "incremental $3 of $1"
	fi
	blksnap-restore --list "$2/a$3.tar" > "$2/list$3" || die "list $3"
	blksnap-take --destroy "$rb_id" || die "destroy ($3)"
}

# rb_restore DIR N: the chain a0..aN restores to what image N held
rb_restore() {
	rb_chain=$(seq 0 "$2" | sed "s|.*|$1/a&.tar|")
	# shellcheck disable=SC2086
	blksnap-restore -q -o "$1/restored" $rb_chain || die "restore of $1 0..$2"
	md5sum < "$1/restored" > "$1/restored.sum"
	rm -f "$1/restored"
	cmp -s "$1/restored.sum" "$1/sum$2" ||
		die "the chain $1 0..$2 does not restore to the image of backup $2"
	echo "$1: the chain 0..$2 restores to the image of backup $2"
}

# rb_size DEV DIR N: incremental N holds no more data than the tracking
# blocks changed since backup N-1 (from its dump) and far less than the
# device; prints
# the number of changed blocks.
rb_size() {
	bs=$(blksnap-cbt --info "$1" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
	[ -n "$bs" ] || die "no tracking block size for $1"
	since=$(sed -n 's/^  cbt: .*snapshot \([0-9]*\)$/\1/p' "$2/list$(($3 - 1))")
	[ -n "$since" ] || die "no CBT record in $2/list$(($3 - 1)): $(cat "$2/list$(($3 - 1))")"
	changed=$(dump_changed "$2/dump$3" "$since")
	data=$(sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p' "$2/list$3")
	[ -n "$data" ] || die "no data size in $2/list$3"
	[ "$changed" -gt 0 ] || die "$1: no tracking block changed since backup $(($3 - 1))"
	[ "$data" -le $((changed * bs)) ] ||
		die "$1: incremental $3 holds $data bytes for $changed changed blocks of $bs"
	[ "$data" -lt $(($(dev_bytes "$1") / 4)) ] ||
		die "$1: incremental $3 holds $data bytes: nearly the whole device"
	echo "$1: incremental $3: $changed tracking blocks of $bs bytes changed, $data bytes of data"
}
