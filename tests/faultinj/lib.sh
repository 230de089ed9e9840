# Shared by the full-disk and I/O-error cases (tests/cli/<tool>/faults.sh, issue 23): runs a
# tool under the write-failure injector (tests/faultinj/faultinj.c, QT_FAULT=op:N) failing,
# for each kind of operation (write, fsync, rename, close, create; FAULT_OPS), the
# 1st..FAULT_FIRST-th one (6), FAULT_SPREAD (10) more spread over all those the tool does, and
# the last. Every such run must exit 74 naming the output, and leave the working directory as it
# was: no partial output, no temporary, and the previous output untouched, byte for byte.
#   . "$QT_TEST_SRCDIR/faultinj/lib.sh"
#   faults NAME PATTERN cmd args...
#     PATTERN: an extended regexp that stderr must match (the output's name). Prints
#     "NAME: op: exit 74, nothing left" per kind (how many runs, on stderr), or what went wrong
#     for each run that did not; returns 1 on a failure.
# First a run without a fault makes the output; the faulted runs then start from it (the
# previous output) or, every other run when FAULT_OUT names the outputs (files or directories,
# relative), from nothing: the run must then leave nothing at all. The files of FAULT_OUT are
# marked (a line appended) before they serve as the previous output, so that one replaced by
# an identical new one does not pass for untouched.
# FAULT_FROM_NOTHING=1: every faulted run starts without FAULT_OUT (lora-train, whose run
# directory a new run takes over).
# FAULT_LIVE: an extended regexp (awk's) of paths left out of the comparison (a run's live log,
# a lock).
# FAULT_SED: a sed script applied to the .json files before they are compared (a field that
# differs from run to run, such as a duration).
# FAULT_COMPLETE=1: a run that starts from nothing may leave outputs that are complete, those of
# the run without a fault byte for byte (lora-train's checkpoints written before the fault).
# In the diff of what changed, "<path" is gone or different, ">path" new or different.
# The injector is $QT_FAULTINJ (tests/run.sh sets it; make builds it as build/tests/faultinj.so).
# In a sanitizer build ASan's runtime is preloaded first (it must come first), so the error paths
# run under ASan and LeakSanitizer too; under valgrind (EXEC_PREFIX) the case skips.
inj=${QT_FAULTINJ:-$(dirname "$QT_TEST_SRCDIR")/build/tests/faultinj.so}
if [ ! -f "$inj" ]; then
	echo "SKIP: no write-failure injector ($inj): make it first" >&2
	exit 77
fi
if [ -n "$EXEC_PREFIX" ]; then
	echo "SKIP: the write-failure injector does not run under EXEC_PREFIX ($EXEC_PREFIX)" >&2
	exit 77
fi
# A listing of the working directory, a line per path, with every file's checksum and size
# (the fault logs and run-case.sh's .stdout and .stderr aside; FAULT_LIVE's paths left out).
state() {
	set -- \( -path ./.fault -o -path ./.stdout -o -path ./.stderr \) -prune -o
	{
		find . "$@" ! -type f -print
		find . "$@" -type f ! -name '*.json' -exec cksum {} + | awk '{ print $3, $1, $2 }'
		find . "$@" -type f -name '*.json' -print | while read -r f; do
			echo "$f $(sed "${FAULT_SED:-}" "$f" | cksum)"
		done
	} | LC_ALL=C sort | awk -v re="$FAULT_LIVE" 're == "" || $1 !~ re'
}
# sweep points for a count: 1..FAULT_FIRST (6), FAULT_SPREAD (10) spread over the rest, the last
points() {
	awk -v t="$1" -v f="${FAULT_FIRST:-6}" -v s="${FAULT_SPREAD:-10}" 'BEGIN {
		for (i = 1; i <= t && i <= f; i++) print i
		if (t > f) { for (k = 1; k <= s; k++) { n = f + int((t - f) * k / (s + 1)); if (n > f) print n }
		print t } }' | uniq
}
# the outputs back as the run without a fault left them
restore() {
	for f in $FAULT_OUT; do rm -rf "$f"; done
	[ -z "$FAULT_OUT" ] || cp -a .fault/keep/. .
}
# lines of $2 that are not lines of $1, and (unless $3) lines of $1 missing from $2
changed() {
	printf '%s\n' "$1" > .fault/b
	printf '%s\n' "$2" | diff .fault/b - | sed -n 's/^\([<>]\) \([^ ]*\).*/\1\2/p' |
		{ if [ -n "$3" ]; then grep '^>'; else cat; fi; } | head -n 4 | tr '\n' ' '
}
# the count of operation $1 in .fault/count: the largest of its lines (the clean runs)
total() {
	awk -v op=$1 '{ for (i = 1; i < NF; i += 2) if ($i == op && $(i + 1) > t) t = $(i + 1) }
		END { print t + 0 }' .fault/count
}
# one run failing operation $1 number $2, from nothing when $3; sets runs, opbad
one_run() {
	fop=$1 fn=$2 fe=$3
	shift 3
	[ -z "$fe" ] || for f in $FAULT_OUT; do rm -rf "$f"; done
	rm -f .fault/log
	QT_FAULT=$fop:$fn QT_FAULT_LOG=$PWD/.fault/log LD_PRELOAD="$pre" "$@" > .fault/out 2> .fault/err
	rc=$?
	if [ ! -s .fault/log ]; then  # the run did fewer operations (it may vary)
		restore
		return
	fi
	runs=$((runs + 1))
	what=""
	[ $rc -eq 74 ] || what="exit $rc"
	grep -Eq "$pat" .fault/err || what="${what:+$what, }stderr does not name the output"
	after=$(state)
	if [ -z "$fe" ]; then
		[ "$after" = "$before" ] || what="${what:+$what, }changed: $(changed "$before" "$after")"
	elif [ -n "$FAULT_COMPLETE" ]; then
		d=$(changed "$before" "$after" new)
		[ -z "$d" ] || what="${what:+$what, }from nothing: left $d"
	else
		[ "$after" = "$fresh" ] || what="${what:+$what, }from nothing: left $(changed "$fresh" "$after")"
	fi
	if [ -n "$what" ]; then
		echo "$name: $fop:$fn${fe:+ (from nothing)}: $what: $(head -n 2 .fault/err | tr '\n' ' ')"
		opbad=1
	fi
	restore
}
# sets pre, what LD_PRELOAD takes: the injector, after ASan's runtime in a sanitizer build
# (which must come first); a build whose runtime cannot come first skips
preload() {
	pre=$inj
	LD_PRELOAD="$pre" "$1" --version > /dev/null 2> .fault/err && return
	if grep -q 'does not come first' .fault/err; then
		asan=$(ldd "$(command -v "$1")" | awk '/libasan/ { print $3 }')
		pre="$asan $inj"
		[ -n "$asan" ] && LD_PRELOAD="$pre" "$1" --version > /dev/null 2> .fault/err && return
	fi
	echo "SKIP: the write-failure injector cannot be preloaded: $(head -n 1 .fault/err)" >&2
	exit 77
}
faults() {
	name=$1 pat=$2
	shift 2
	mkdir -p .fault
	rm -f .fault/count
	preload "$1"
	for f in $FAULT_OUT; do rm -rf "$f"; done
	QT_FAULT_COUNT=$PWD/.fault/count LD_PRELOAD="$pre" "$@" > .fault/out 2> .fault/err || {
		echo "$name: the run without a fault failed (exit $?): $(head -n 3 .fault/err)"
		return 1
	}
	rm -rf .fault/keep
	mkdir .fault/keep
	for f in $FAULT_OUT; do
		[ -e "$f" ] || { echo "$name: FAULT_OUT names $f, which the run did not make"; return 1; }
		[ -n "$FAULT_FROM_NOTHING" ] || find "$f" -type f -exec sh -c 'echo previous >> "$1"' sh {} \;
		cp -a --parents "$f" .fault/keep/
	done
	before=$(state)
	for f in $FAULT_OUT; do rm -rf "$f"; done
	fresh=$(state)
	restore
	# a run over the previous output may do more (a directory swapped, not renamed): counted too
	if [ -n "$FAULT_OUT" ] && [ -z "$FAULT_FROM_NOTHING" ]; then
		QT_FAULT_COUNT=$PWD/.fault/count LD_PRELOAD="$pre" "$@" > .fault/out 2> .fault/err
		restore
	fi
	bad=0 i=0
	for op in ${FAULT_OPS:-write fsync rename close create}; do
		total=$(total $op)
		runs=0 opbad=0
		for n in $(points "$total"); do
			i=$((i + 1))
			if [ -z "$FAULT_OUT" ]; then
				one_run $op $n "" "$@"
			elif [ -n "$FAULT_FROM_NOTHING" ]; then
				one_run $op $n 1 "$@"
			elif [ $op = write ]; then  # many: from the previous output and from nothing in turn
				one_run $op $n "$(if [ $((i % 2)) -eq 0 ]; then echo 1; fi)" "$@"
			else  # few: both
				one_run $op $n "" "$@"
				one_run $op $n 1 "$@"
			fi
		done
		echo "$name: $op: $runs runs, $total operations" >&2
		if [ $opbad -ne 0 ]; then
			bad=1
		elif [ $runs -eq 0 ]; then
			echo "$name: $op: none done"
		else
			echo "$name: $op: exit 74, nothing left"
		fi
	done
	return $bad
}
