# No two source files that end in the same archive or test tree share a basename: the objects
# of common/ formats/ jobs/ kernels/ metrics/ (build/libqlora.a, and kernels/cuda/ in
# build/libqlora_cuda.a) are members named <basename>.o, so two files with one
# basename would collide there; tests/ names its binaries after their files. tools/<tool>.c is
# a program of its own and shares its name with its job on purpose (tools/gen.c, jobs/gen.c).
set -eu
top=$(dirname "$QT_TEST_SRCDIR")
cd "$top"
dups() { sed 's|.*/||; s|\.[a-z]*$||' | sort | uniq -d; }
src() { find "$@" -type f \( -name '*.c' -o -name '*.cu' \) 2>/dev/null; }
bad=0
for set in "lib" "cuda" "tests"; do
	case $set in
	lib)   list=$(src common formats jobs kernels metrics | grep -v -e '^kernels/cuda/') ;;
	cuda)  list=$(src kernels/cuda) ;;
	tests) list=$(src tests | grep '/test_[^/]*\.c$') ;;
	esac
	d=$(printf '%s\n' "$list" | dups)
	for b in $d; do
		echo "$set: basename $b used by: $(printf '%s\n' "$list" | grep "/$b\.[a-z]*$" | tr '\n' ' ')" >&2
		bad=1
	done
done
exit $bad
