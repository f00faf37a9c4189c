#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Static analysis of the kernel module: checkpatch --strict on every
# source file, sparse (the kernel's `make C=2`) against the headers of
# every installed kernel, and the kernel's own Coccinelle semantic
# patches in report mode. Any warning or report is a failure, named with
# the file and line the checker gave.
#
# Needs sparse, spatch, and the kernel's scripts/checkpatch.pl and
# scripts/coccinelle (Debian ships them only in linux-source-VER:
# contrib/install-vm-deps unpacks them into /usr/src);
# BLKSNAP_KSCRIPTS names another kernel scripts/ directory. Like the VM tests it
# reports SKIP with the reason when something is missing, and fails
# instead when BLKSNAP_VM_REQUIRED is set (CI).

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cannot_run() {
	if [ -n "${BLKSNAP_VM_REQUIRED:-}" ] && [ -z "${BLKSNAP_VM_SKIP:-}" ]; then
		not_ok "the module's static checks must run here but cannot: $*"
		done_testing
		exit 1
	fi
	skip_all "$*"
}

[ -z "${BLKSNAP_VM_SKIP:-}" ] || skip_all "BLKSNAP_VM_SKIP is set"
command -v sparse > /dev/null || cannot_run "sparse is not installed"
command -v spatch > /dev/null || cannot_run "spatch (coccinelle) is not installed"
scripts=${BLKSNAP_KSCRIPTS:-}
if [ -z "$scripts" ]; then
	for d in /usr/src/linux-source-*/scripts; do
		[ -d "$d/coccinelle" ] && [ -f "$d/checkpatch.pl" ] && scripts=$d
	done
fi
[ -n "$scripts" ] && [ -d "$scripts/coccinelle" ] && [ -f "$scripts/checkpatch.pl" ] ||
	cannot_run "no kernel scripts/checkpatch.pl and scripts/coccinelle (linux-source-VER, unpacked)"
cocci=$scripts/coccinelle
kernels=
for b in /lib/modules/*/build; do
	[ -f "$b/Makefile" ] && kernels="$kernels ${b%/build}"
done
[ -n "$kernels" ] || cannot_run "no kernel headers in /lib/modules/*/build"

# checkpatch: the kernel's coding style, strict, file by file.
for f in "$top_srcdir"/kmod/*.[ch]; do
	if perl "$scripts/checkpatch.pl" --no-tree --strict -q -f "$f" \
		> "$TMP/checkpatch.out" 2>&1; then
		ok "checkpatch --strict ${f#"$top_srcdir"/}"
	else
		not_ok "checkpatch --strict ${f#"$top_srcdir"/}"
		diag "$(head -n 30 "$TMP/checkpatch.out")"
	fi
done

# sparse: a build of the module with every file checked; a warning is
# whatever sparse or the compiler printed besides Kbuild's progress.
for k in $kernels; do
	ver=${k##*/}
	log="$TMP/sparse-$ver.log"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$top_srcdir/kmod" KDIR="$k/build" \
		BUILD_DIR="$TMP/kmod-$ver" C=2 > "$log" 2>&1
	rc=$?
	grep -v -E '^make(\[[0-9]+\])?: |^make -C |^  (PROBE|CC|CC \[M\]|CHECK|LD|LD \[M\]|MODPOST|BTF \[M\]|AR) |^mkdir |^cd |^Skipping BTF' \
		"$log" > "$TMP/sparse-$ver.found"
	if [ $rc -eq 0 ] && ! [ -s "$TMP/sparse-$ver.found" ] &&
	    grep -q '^  CHECK ' "$log"; then
		ok "sparse on $ver: no warnings ($(grep -c '^  CHECK ' "$log") files checked)"
	else
		not_ok "sparse on $ver: warnings (make exit $rc)"
		diag "$(head -n 40 "$TMP/sparse-$ver.found")"
	fi
done

# Coccinelle: every semantic patch of the kernel that has a report mode,
# one per CPU, on the sources as they are (no kernel headers: the
# patches match the module's own code).
find "$cocci" -name '*.cocci' | sort > "$TMP/cocci.list"
[ -s "$TMP/cocci.list" ] || cannot_run "no semantic patch in $cocci"
mkdir "$TMP/cocci"
# shellcheck disable=SC2016
xargs -P "$(nproc)" -I{} sh -c '
	out="$1/cocci/$(echo "$2" | tr / _).out"
	if grep -q "virtual report" "$2"; then
		spatch --very-quiet -D report --no-show-diff --no-includes \
			--include-headers --sp-file "$2" \
			--dir "$3" > "$out" 2>&1
		echo $? >> "$out.rc"
	else
		echo norep > "$out.rc"
	fi' sh "$TMP" {} "$top_srcdir/kmod" < "$TMP/cocci.list"
while read -r sp; do
	name=${sp#"$cocci"/}
	out="$TMP/cocci/$(echo "$sp" | tr / _).out"
	case $(cat "$out.rc") in
	norep)
		skip "coccinelle $name" "it has no report mode" ;;
	0)
		# Reports name a file of ours with a line; anything else
		# (spatch's own chatter about the patch) is not a finding.
		if grep -q "$top_srcdir/kmod/" "$out"; then
			not_ok "coccinelle $name: reports"
			diag "$(grep "$top_srcdir/kmod/" "$out" | head -n 20)"
		else
			ok "coccinelle $name: no report"
		fi ;;
	*)
		not_ok "coccinelle $name: spatch failed"
		diag "$(tail -n 10 "$out")" ;;
	esac
done < "$TMP/cocci.list"

done_testing
