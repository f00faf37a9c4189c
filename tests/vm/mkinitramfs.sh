#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build a busybox initramfs for kernel VER that loads the virtio and 9p
# modules, mounts the host's root read-only over virtio-9p and runs the
# guest test script in a chroot (see init.sh).
# Usage: mkinitramfs.sh VER OUTPUT.cpio.gz
# With BLKSNAP_KROOT=DIR the kernel's modules are those of the chroot DIR
# (DIR/lib/modules/VER) instead of the host's.
set -euo pipefail

ver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-$(command -v busybox || echo /bin/busybox)}
mi=(modinfo -k "$ver")
[ -z "${BLKSNAP_KROOT:-}" ] || mi+=(-b "$BLKSNAP_KROOT")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,host,lib/mod}
cp "$busybox" "$work/bin/busybox"
cp "$here/init.sh" "$work/init"
chmod 755 "$work/init" "$work/bin/busybox"

declare -A seen=()
order=()

# Depth-first: dependencies before the module itself; built-ins skipped.
add_module() {
	local m=$1 file dep
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	file=$("${mi[@]}" -n "$m" 2>/dev/null) || return 0
	case "$file" in
	""|"(builtin)") return 0 ;;
	esac
	for dep in $("${mi[@]}" -F depends "$m" | tr ',' ' '); do
		add_module "$dep"
	done
	case "$file" in
	*.ko.xz) xz -dc "$file" > "$work/lib/mod/$m.ko" ;;
	*.ko.zst) zstd -qdc "$file" > "$work/lib/mod/$m.ko" ;;
	*.ko.gz) gzip -dc "$file" > "$work/lib/mod/$m.ko" ;;
	*) cp "$file" "$work/lib/mod/$m.ko" ;;
	esac
	order+=("$m")
}

for m in virtio_pci virtio_blk 9pnet_virtio 9p; do
	add_module "$m"
done
if ! "${mi[@]}" -n 9p >/dev/null 2>&1; then
	echo "mkinitramfs: kernel $ver has no 9p module" >&2
	exit 1
fi
printf '%s\n' "${order[@]}" > "$work/modules.order"

(cd "$work" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
