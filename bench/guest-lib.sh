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

# fio_result JSON RW: the result of the fio job RW whose JSON output is
# in the file JSON: IOPS for randwrite, MiB/s for the others.
fio_result() {
	python3 -c 'import json,sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["read"] if sys.argv[2] == "read" else j["write"]
if sys.argv[2] == "randwrite":
	print("%.0f" % d["iops"])
else:
	print("%.1f" % (d["bw_bytes"] / 1048576.0))' "$1" "$2"
}

# every_nth DEV N REGION CHUNK: a 4 KiB write through DEV to every Nth
# CHUNK-byte chunk of its first REGION bytes ($KTEST pwrite), so that
# under a snapshot each of those chunks is copied into the storage.
every_nth() {
	awk -v n=$(($3 / $4)) -v c="$4" -v step="$2" \
		'BEGIN { for (i = 0; i < n; i += step) print i * c }' |
		xargs "$KTEST" pwrite "$1" 4096
}
