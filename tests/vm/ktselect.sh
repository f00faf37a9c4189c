# SPDX-License-Identifier: GPL-2.0-only
# Shared by tests/vm/run.sh (bash) and tests/vm/guest.sh (sh in the guest).
# kt_selected NAME GLOBS: whether the kernel test NAME (say
# 30-snap-integrity) matches one of GLOBS, comma-separated shell patterns
# (BLKSNAP_KT, or a kernel's TESTS in tests/vm/kernels).
kt_selected() {
	set -- "$1" "$2,"
	while [ -n "$2" ]; do
		# shellcheck disable=SC2254
		case "$1" in
		${2%%,*}) return 0 ;;
		esac
		set -- "$1" "${2#*,}"
	done
	return 1
}
