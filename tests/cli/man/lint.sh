# Every man page is mandoc -Tlint clean (warnings and worse) and renders; every tool has a
# page in man1 and every page is reachable from qlora-tools(7)'s SEE ALSO.
set -eu
top=$(dirname "$QT_TEST_SRCDIR")
pages=$(ls "$top"/man/man1/*.1 "$top"/man/man5/*.5 "$top"/man/man7/*.7)
mandoc -Tlint -Wwarning $pages
for p in $pages; do
	mandoc -Tutf8 "$p" > /dev/null
	# man -l (groff) where man-db is installed: no warnings either
	if command -v man > /dev/null && command -v groff > /dev/null; then
		w=$(MANWIDTH=80 man -l "$p" 2>&1 > /dev/null)
		[ -z "$w" ] || { echo "man -l $p: $w" >&2; exit 1; }
	fi
done
for t in "$top"/tools/*.c; do
	n=$(basename "$t" .c)
	[ -f "$top/man/man1/$n.1" ] || { echo "no man page for $n" >&2; exit 1; }
done
for p in $pages; do
	n=$(basename "$p"); sec=${n##*.}; n=${n%.*}
	[ "$n" = qlora-tools ] && continue
	grep -q "^\.Xr $n $sec" "$top/man/man7/qlora-tools.7" || { echo "qlora-tools.7 lacks $n($sec)" >&2; exit 1; }
	grep -q '^\.Xr qlora-tools 7' "$p" || echo "note: $n($sec) does not refer to qlora-tools(7)" >&2
done
echo ok
