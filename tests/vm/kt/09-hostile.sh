# Hostile ioctl arguments are refused with an errno, without an oops;
# callers without CAP_SYS_ADMIN are refused.
load
"$KTEST" hostile "$DISK2" || die "hostile arguments accepted"
"$KTEST" nocap || die "calls without CAP_SYS_ADMIN accepted"
if setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin \
	"$KTEST" version 2> /tmp/err; then
	die "version ioctl allowed without CAP_SYS_ADMIN (setpriv)"
fi
grep -q "Operation not permitted" /tmp/err || die "setpriv: $(cat /tmp/err)"
echo "refused without CAP_SYS_ADMIN: $(cat /tmp/err)"
"$KTEST" version || die "version"
unload
