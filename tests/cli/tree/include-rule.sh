# The include rule (HACKING.md): each folder includes only its own headers and those of the
# layers below it, tools -> jobs -> {formats, metrics, kernels/model} -> kernels -> common;
# a tools/<tool>.c includes only common/ and its own job, jobs/<tool>.h or jobs/<tool>_*.h.
# Every quoted #include of every source file in those folders is checked. The exceptions still
# waiting for their fix are listed in include-rule.known ("file -> header"): a new violation
# fails, and so does an entry that is no longer true (the list only shrinks).
set -eu
top=$(dirname "$QT_TEST_SRCDIR")
cd "$top"
allowed() {  # allowed FILE HEADER: exit 0 when FILE may include HEADER
	f=$1 h=$2
	case "$h" in common/*) return 0 ;; esac
	case "$f" in
	common/*) return 1 ;;
	tools/*)
		job=$(basename "$f" .c | tr - _)
		case "$h" in "jobs/$job.h"|"jobs/${job}_"*.h) return 0 ;; esac
		return 1 ;;
	jobs/*)
		case "$h" in jobs/*|formats/*|metrics/*|kernels/*) return 0 ;; esac
		return 1 ;;
	formats/*|metrics/*)
		case "$h" in kernels/model/*) return 1 ;; "${f%%/*}"/*|kernels/*) return 0 ;; esac
		return 1 ;;
	kernels/model/*)
		case "$h" in kernels/*) return 0 ;; esac
		return 1 ;;
	kernels/*)
		case "$h" in kernels/model/*) return 1 ;; kernels/*) return 0 ;; esac
		return 1 ;;
	esac
	return 1
}
found=$(mktemp) && trap 'rm -f "$found"' EXIT
n=0
for f in $(find common formats jobs kernels metrics tools -type f \
           \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort); do
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		n=$((n + 1))
		allowed "$f" "$h" || echo "$f -> $h" >> "$found"
	done
done
[ "$n" -gt 300 ] || { echo "include-rule: only $n includes found under $top" >&2; exit 1; }
sort -u "$found" -o "$found"
grep -v '^#' "$CASE_DIR/include-rule.known" | grep . | sort -u > "$found.known"
trap 'rm -f "$found" "$found.known"' EXIT
new=$(comm -23 "$found" "$found.known")
stale=$(comm -13 "$found" "$found.known")
[ -z "$new" ] || { printf 'include rule broken (see HACKING.md):\n%s\n' "$new" >&2; exit 1; }
[ -z "$stale" ] || { printf 'fixed, remove from include-rule.known:\n%s\n' "$stale" >&2; exit 1; }
