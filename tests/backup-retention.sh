#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Retention in contrib/blksnap-backup, on an image file (--no-snapshot:
# no module): 8 runs with "keep 3 points", forever forward (the oldest
# incremental folded into the full) and in chains; every point kept
# restores identically to the state it recorded; a fold that fails or is
# cut short leaves a chain that restores, put right by the next run.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

backup=$top_srcdir/contrib/blksnap-backup
cd "$TMP" || exit 1
random_file img 8388608

# run DIR RUN [OPTIONS...]: changes img, backs it up, keeps its state.
run() {
	_d=$1 _r=$2
	shift 2
	scatter_writes img 6
	dd if=/dev/urandom of=img bs=65536 seek=$((_r * 3)) count=4 conv=notrunc status=none
	dd if=/dev/zero of=img bs=65536 seek=$((_r * 7 + 1)) count=2 conv=notrunc status=none
	cp img "$_d.state.$_r"
	sh "$backup" --no-snapshot "$@" img "$_d" 2>>"$_d.log"
}

# points DIR: the archives of DIR/current, oldest first.
points() {
	ls "$1"/current/ | grep '^[0-9]*\.tar$' | sed "s|^|$1/current/|"
}

# restores_as DIR FIRST LAST STATE...: the chain's points FIRST..LAST restore as STATE...
check_points() {
	_d=$1 _first=$2
	set -- $(points "$_d")
	_bad= _k=0 _c=
	for _a; do
		_c="$_c $_a"
		rm -f out
		blksnap-restore -o out $_c 2>err && cmp -s out "$_d.state.$((_first + _k))" ||
			_bad="$_bad $((_first + _k))"
		_k=$((_k + 1))
	done
	echo "$_bad"
}

# --- forever forward, keep 3 ---------------------------------------------
r=1
while [ "$r" -le 8 ]; do
	run ff "$r" --keep-points 3 --retention forever || not_ok "forever run $r"
	r=$((r + 1))
done
check "forever: one chain" test "$(ls -d ff/chain-* | wc -l)" -eq 1
check "forever: 3 points remain" test "$(points ff | wc -l)" -eq 3
check "forever: 3 manifest files remain" test "$(ls ff/current/*.manifest | wc -l)" -eq 3
bad=$(check_points ff 6)
[ -z "$bad" ] && ok "forever: points 6, 7, 8 restore identically" ||
	{ not_ok "forever: points 6, 7, 8 restore identically"; diag "not:$bad" "$(cat err)"; }
check "forever: the full archive is a synthetic full of run 6 (point 5: the first run is 0)" sh -c \
	'blksnap-restore --list ff/current/0000.tar | grep -q "synthetic: point 5 of its chain"'

# A fold that fails (here: blksnap-merge exits 1, as on a full disk).
mkdir fakebin
printf '#!/bin/sh\necho "blksnap-merge: No space left on device" >&2\nexit 1\n' > fakebin/blksnap-merge
chmod +x fakebin/blksnap-merge
if PATH=$TMP/fakebin:$PATH run ff 9 --keep-points 3 --retention forever; then
	not_ok "forever: a failed fold fails the run"
else
	ok "forever: a failed fold fails the run"
fi
check "... and leaves 4 points" test "$(points ff | wc -l)" -eq 4
bad=$(check_points ff 6)
[ -z "$bad" ] && ok "... which all restore (6 to 9)" ||
	{ not_ok "... which all restore (6 to 9)"; diag "not:$bad" "$(cat err)"; }

# A fold cut short after its rename: the incremental folded is still there.
set -- $(points ff)
cp "$2" held.tar
blksnap-merge --fold -m "${1%.tar}.manifest" "$@" 2>err || not_ok "fold by hand"
cp held.tar "$2"
: > "ff/current/.0000.tar.AbC123"
rm -f out
check "forever: after a fold cut short, the chain restores" sh -c \
	"blksnap-restore -o out \$(ls ff/current/*.tar) && cmp out ff.state.9"
check "forever: the next run succeeds" run ff 10 --keep-points 3 --retention forever
check "... leaves 3 points and no temporary file" sh -c \
	'test "$(ls -A ff/current | grep -c "\.tar$")" -eq 3 && ! ls -A ff/current | grep -q "^\."'
bad=$(check_points ff 8)
[ -z "$bad" ] && ok "... which restore (8 to 10)" ||
	{ not_ok "... which restore (8 to 10)"; diag "not:$bad" "$(cat err)"; }

# --- new chains, keep 3 ---------------------------------------------------
r=1
: > ch.runs
while [ "$r" -le 8 ]; do
	run ch "$r" --keep-points 3 || not_ok "chains run $r"
	echo "$r $(readlink -f ch/current) $(ls ch/current | grep '\.tar$' | tail -n 1)" >> ch.runs
	r=$((r + 1))
done
kept=$(ls ch/chain-*/ | grep -c '\.tar$')
if [ "$kept" -ge 3 ] && [ "$kept" -le 5 ]; then
	ok "chains: 3 to 5 points remain ($kept)"
else
	not_ok "chains: 3 to 5 points remain ($kept)"
fi
check "chains: chains of at most 3 points" sh -c \
	'for c in ch/chain-*; do test "$(ls "$c" | grep -c "\.tar$")" -le 3 || exit 1; done'
bad=
n=0
while read -r r c a; do
	[ -e "$c/$a" ] || continue
	n=$((n + 1))
	set --
	for x in "$c"/*.tar; do
		set -- "$@" "$x"
		[ "$x" = "$c/$a" ] && break
	done
	rm -f out
	blksnap-restore -o out "$@" 2>err && cmp -s out "ch.state.$r" || bad="$bad $r"
done < ch.runs
[ -z "$bad" ] && [ "$n" -eq "$kept" ] && ok "chains: each point kept restores identically ($n)" ||
	{ not_ok "chains: each point kept restores identically ($n)"; diag "not:$bad" "$(cat err)"; }
while read -r r c a; do
	[ -e "$c/$a" ] && echo "$r"
done < ch.runs > ch.kept
seq $((9 - kept)) 8 > ch.newest
check "chains: the points kept are the newest" cmp ch.kept ch.newest

# --- usage ----------------------------------------------------------------
expect_usage_error "--retention takes forever or chains" "'forever' or 'chains'" \
	sh "$backup" --no-snapshot --retention weekly img x
expect_usage_error "--retention forever needs --keep-points" "needs --keep-points" \
	sh "$backup" --no-snapshot --retention forever img x
expect_usage_error "--keep-points takes a number" "not a number" \
	sh "$backup" --no-snapshot --keep-points three img x

done_testing
