# Bad arguments to every snapshot call: bad pointers (EFAULT), non-zero
# flags and reserved fields (EINVAL), bad descriptors (EBADF), unknown ids
# (ENOENT), counts past the bounds (EINVAL), the snapshot limit, taking
# twice, adding after the take, random structures; then the module
# unloads (nothing leaked a reference).
load
"$KTEST" snap-hostile "$DISK" "$DISK2" || die "hostile snapshot calls"
[ -z "$("$KTEST" snap-list)" ] || die "snapshots left"
[ "$(refcnt)" = 0 ] || die "refcnt $(refcnt)"
unload
