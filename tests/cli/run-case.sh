#!/bin/sh
# Runs one CLI case in a fresh temporary directory and compares it with its expectations:
#   <case>.sh.exit          expected exit status (default 0)
#   <case>.sh.stdout.exact  stdout must equal this file
#   <case>.sh.stdout.glob   stdout must match this shell glob pattern (one pattern, whole text)
#   <case>.sh.stderr.exact / <case>.sh.stderr.glob  the same for stderr
# A case that exits 77 after a "SKIP: why" line on stderr is skipped (this script exits 77).
# The case script runs with cwd = the temp dir, $QT_BIN = the tools, $QT_TEST_SRCDIR = tests/,
# $CASE_DIR = the case's directory, EXEC_PREFIX (may be empty) to put before tools, and
# $QT_FAULTINJ = the write-failure injector (tests/faultinj/) for the faults.sh cases.
# UPDATE=1 rewrites existing .exact files from the actual output.
# Run alone (sh tests/cli/run-case.sh tests/cli/pack/basic.sh from the top of the tree), it
# takes the tree's bin/, tests/ and models/SmolLM2-135M-Instruct (when made) as tests/run.sh does.
case=$1
top=$(pwd)
[ -n "$case" ] || { echo "usage: sh tests/cli/run-case.sh tests/cli/<tool>/<case>.sh" >&2; exit 64; }
case "$case" in /*) ;; *) case="$top/$case" ;; esac
[ -f "$case" ] || { echo "run-case.sh: $1: no such case" >&2; exit 66; }
root=$(cd "$(dirname "$0")/../.." && pwd)
export QT_BIN="${QT_BIN:-$root/bin}"
export QT_TEST_SRCDIR="${QT_TEST_SRCDIR:-$root/tests}"
export QT_FAULTINJ="${QT_FAULTINJ:-$root/build/tests/faultinj.so}"
if [ -z "${QT_MODEL_DIR+set}" ]; then
	QT_MODEL_DIR=
	[ -f "$root/models/SmolLM2-135M-Instruct/config.json" ] && QT_MODEL_DIR="$root/models/SmolLM2-135M-Instruct"
	export QT_MODEL_DIR
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/qtcase.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
export CASE_DIR=$(dirname "$case")
export EXEC_PREFIX="${EXEC_PREFIX:-}"
export PATH="$QT_BIN:$PATH"
(cd "$dir" && sh "$case" >"$dir/.stdout" 2>"$dir/.stderr")
rc=$?
# Exit 77 (automake's convention) with a SKIP line on stderr: the case cannot run on this
# machine (no GPU, no mpirun); it says why and is counted as skipped, never as passed.
if [ "$rc" = 77 ] && [ ! -f "$case.exit" ] && grep -q '^SKIP' "$dir/.stderr"; then
	grep '^SKIP' "$dir/.stderr" | head -n 1
	exit 77
fi
want=0
[ -f "$case.exit" ] && want=$(cat "$case.exit")
ok=1
if [ "$rc" != "$want" ]; then
	echo "exit status $rc, expected $want"
	ok=0
fi
for s in stdout stderr; do
	if [ -f "$case.$s.exact" ]; then
		if [ -n "$UPDATE" ]; then
			cp "$dir/.$s" "$case.$s.exact"
		elif ! cmp -s "$dir/.$s" "$case.$s.exact"; then
			echo "$s differs:"
			diff "$case.$s.exact" "$dir/.$s" | head -10
			ok=0
		fi
	fi
	if [ -f "$case.$s.glob" ]; then
		pat=$(cat "$case.$s.glob")
		got=$(cat "$dir/.$s")
		case "$got" in
		$pat) ;;
		*) echo "$s does not match $(basename "$case").$s.glob:"; printf '%s\n' "$got" | head -10; ok=0 ;;
		esac
	fi
done
if [ $ok -ne 1 ] && [ -s "$dir/.stderr" ] && [ ! -f "$case.stderr.exact" ]; then
	echo "stderr (last lines):"
	tail -n 8 "$dir/.stderr"
fi
[ $ok -eq 1 ]
