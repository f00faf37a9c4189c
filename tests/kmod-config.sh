#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The module refuses to build, naming what is missing, against a kernel
# configured without what its hook needs: copies of an installed headers
# tree (the configuration files copied, the rest linked) with
# CONFIG_DYNAMIC_FTRACE_WITH_REGS and _WITH_ARGS, or CONFIG_FUNCTION_TRACER,
# taken out of include/config/auto.conf and include/generated/autoconf.h.
# The unmodified copy compiles a file of the module, so that a refusal is
# the configuration's doing, not the copy's. Like the module's static
# checks it needs the headers of an installed kernel, reports SKIP without
# them, and fails instead when BLKSNAP_VM_REQUIRED is set (CI).

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cannot_run() {
	if [ -n "${BLKSNAP_VM_REQUIRED:-}" ] && [ -z "${BLKSNAP_VM_SKIP:-}" ]; then
		not_ok "the module's configuration checks must run here but cannot: $*"
		done_testing
		exit 1
	fi
	skip_all "$*"
}

[ -z "${BLKSNAP_VM_SKIP:-}" ] || skip_all "BLKSNAP_VM_SKIP is set"
command -v make > /dev/null || cannot_run "make is not installed"
kdir=
for b in /lib/modules/*/build; do
	[ -f "$b/include/config/auto.conf" ] && kdir=$(readlink -f "$b")
done
[ -n "$kdir" ] || cannot_run "no kernel headers in /lib/modules/*/build"

# tree NAME OPTION...: a copy of the headers tree in $TMP/NAME without the
# configuration options OPTION (names without CONFIG_).
tree() {
	t=$TMP/$1
	shift
	mkdir -p "$t"
	for e in "$kdir"/* "$kdir"/.config "$kdir"/.kernelvariables; do
		[ -e "$e" ] || continue
		case ${e##*/} in
		include) cp -r "$e" "$t/" ;;
		*) ln -s "$(readlink -f "$e")" "$t/${e##*/}" ;;
		esac
	done
	for o in "$@"; do
		sed -i "/^CONFIG_$o=/d" "$t/include/config/auto.conf"
		sed -i "/^#define CONFIG_$o /d" "$t/include/generated/autoconf.h"
		! grep -q "CONFIG_${o}[= ]" "$t/include/config/auto.conf" \
			"$t/include/generated/autoconf.h" || return 1
	done
}

# refused NAME PATTERN: make -C kmod against the tree NAME fails, and says
# why with a line matching the extended regex PATTERN.
refused() {
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -C "$top_srcdir/kmod" KDIR="$TMP/$1" \
		BUILD_DIR="$TMP/build-$1" > "$TMP/$1.log" 2>&1; then
		not_ok "$1: make -C kmod refuses to build"
		diag "$(tail -n 5 "$TMP/$1.log")"
	elif grep -Eq "$2" "$TMP/$1.log"; then
		ok "$1: make -C kmod refuses: $(grep -Eo 'blksnap: .*' "$TMP/$1.log" | head -n1)"
	else
		not_ok "$1: make -C kmod refuses, naming what is missing"
		diag "$(tail -n 10 "$TMP/$1.log")"
	fi
}

if tree unmodified; then
	mkdir "$TMP/ok"
	cp "$top_srcdir"/kmod/Kbuild "$top_srcdir"/kmod/probe.sh \
		"$top_srcdir"/kmod/*.[ch] "$TMP/ok/"
	rm -f "$TMP/ok/blksnap-features.h"
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -C "$TMP/unmodified" M="$TMP/ok" \
		BLKSNAP_INCLUDE="$top_srcdir/include/blksnap" main.o \
		> "$TMP/ok.log" 2>&1 && [ -f "$TMP/ok/main.o" ]; then
		ok "a copy of ${kdir##*/}'s headers compiles the module's main.c"
	else
		not_ok "a copy of ${kdir##*/}'s headers compiles the module's main.c"
		diag "$(tail -n 10 "$TMP/ok.log")"
	fi
else
	not_ok "a copy of ${kdir##*/}'s headers"
fi

if tree no-ftrace-regs-args DYNAMIC_FTRACE_WITH_REGS DYNAMIC_FTRACE_WITH_ARGS; then
	refused no-ftrace-regs-args \
		'blksnap: .*lacks both CONFIG_DYNAMIC_FTRACE_WITH_REGS and CONFIG_DYNAMIC_FTRACE_WITH_ARGS'
else
	not_ok "a copy of ${kdir##*/}'s headers without DYNAMIC_FTRACE_WITH_REGS/ARGS"
fi
if tree no-function-tracer FUNCTION_TRACER; then
	refused no-function-tracer 'blksnap: .*lacks CONFIG_FUNCTION_TRACER'
else
	not_ok "a copy of ${kdir##*/}'s headers without FUNCTION_TRACER"
fi

done_testing
