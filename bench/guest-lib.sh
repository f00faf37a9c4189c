# SPDX-License-Identifier: GPL-2.0-only
#
# Shell functions for the guest sides of the VM benchmarks (sourced).

# kernel_warnings LOG: appends the kernel's warnings and errors since the
# last "dmesg -C" (a leak the module reports at its unload, a WARN, a
# slab report: what the console's loglevel hides) to LOG, and prints how
# many there were.
kernel_warnings() {
	dmesg --level=emerg,alert,crit,err,warn |
		grep -v -e 'loading out-of-tree module' \
			-e 'module verification failed' > /tmp/kwarn || :
	if [ -s /tmp/kwarn ]; then
		echo "kernel warnings and errors of the run:" >> "$1"
		cat /tmp/kwarn >> "$1"
	fi
	wc -l < /tmp/kwarn
}
