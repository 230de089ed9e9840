#!/bin/sh
# The long fuzzing campaign (issue 23: at least one CPU-hour over all harnesses), measured in CPU
# time, not wall time: on a shared machine a nice'd fuzzer gets a fraction of a core, so
# -max_total_time (wall seconds) overstates the work done.
#   tests/fuzz/campaign.sh BUILD CPU_SECONDS name...   run each harness in turn (make fuzz-campaign)
#   tests/fuzz/campaign.sh --table BUILD               the per-harness totals over all runs
# Each harness runs at nice 19 (its autogroup too) under libFuzzer with run.sh's limits (64 KB inputs, 1 GB resident,
# no allocation over 256 MB) until its process has used CPU_SECONDS of user+sys time (read from
# /proc/PID/stat every few seconds; the figure recorded is /usr/bin/time's), then gets SIGINT and prints its final statistics. A finding
# (crash-, leak-, timeout-, oom- file in BUILD/fuzz/crash/<name>/) ends that harness's run early.
# Every run appends one line to BUILD/fuzz/campaign.tsv:
#   date  name  cpu_seconds  execs  exit_status  findings
# Timeouts are per input and in wall time (libFuzzer), so they are set high (60 s) to tell a hang
# from a starved process; replay any timeout- file with the fuzz binary before believing it.
top=$(pwd)
if [ "$1" = --table ]; then
	tsv="$2/fuzz/campaign.tsv"
	[ -f "$tsv" ] || { echo "campaign: no $tsv" >&2; exit 66; }
	awk -F '\t' '
		{ if (!($2 in cpu)) order[n++] = $2; cpu[$2] += $3; ex[$2] += $4; f[$2] += $6; runs[$2]++ }
		END {
			printf "%-16s %9s %12s %5s %9s\n", "harness", "cpu_s", "execs", "runs", "findings"
			for (i = 0; i < n; i++) {
				k = order[i]
				printf "%-16s %9.0f %12d %5d %9d\n", k, cpu[k], ex[k], runs[k], f[k]
				tc += cpu[k]; te += ex[k]; tf += f[k]
			}
			printf "%-16s %9.0f %12d %5s %9d\n", "total", tc, te, "", tf
		}' "$tsv"
	exit 0
fi
build=$1 budget=$2
shift 2
[ -n "$build" ] && [ "${budget:-0}" -gt 0 ] 2>/dev/null || {
	echo "usage: tests/fuzz/campaign.sh BUILD CPU_SECONDS name... | --table BUILD" >&2
	exit 64
}
export QT_TEST_SRCDIR="$top/tests"
tck=$(getconf CLK_TCK)
tsv="$build/fuzz/campaign.tsv"
mkdir -p "$build/fuzz"
status=0
for n in "$@"; do
	bin="$build/fuzz/fuzz_$n" work="$build/fuzz/corpus/$n" art="$build/fuzz/crash/$n/"
	log="$build/fuzz/campaign-$n.log"
	[ -x "$bin" ] || { echo "campaign: no $bin (make fuzz-campaign builds it)" >&2; exit 66; }
	mkdir -p "$work" "$art"
	before=$(ls "$art" | grep -cE '^(crash|leak|timeout|oom)-')
	dict=""
	[ -f "tests/fuzz/dict/$n.dict" ] && dict="-dict=tests/fuzz/dict/$n.dict"
	timef="$build/fuzz/campaign-$n.time"
	rm -f "$timef"
	# its own session, so that its nice 19 is also its autogroup's (with autogroups, a nice
	# value only orders the processes of one session: a session's group competes with the
	# others as nice 0 unless its own nice is raised)
	setsid sh -c '{ echo 19 > /proc/self/autogroup; } 2>/dev/null; exec "$@"' sh \
		nice -n 19 /usr/bin/time -f '%U %S' -o "$timef" "$bin" -max_total_time=1000000 -timeout=60 \
		-report_slow_units=1000000 -rss_limit_mb=1024 -malloc_limit_mb=256 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$art" $dict "$work" "tests/fuzz/corpus/$n" \
		> "$log" 2>&1 &
	tpid=$!
	pid=""
	while [ -z "$pid" ] && [ -r "/proc/$tpid/task/$tpid/children" ]; do
		read -r pid < "/proc/$tpid/task/$tpid/children" 2>/dev/null
		[ -n "$pid" ] || sleep 1
	done
	while [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; do
		read -r st < "/proc/$pid/stat" 2>/dev/null || break
		# after the command name: state is $1, utime $12, stime $13 (clock ticks)
		st=${st##*) }
		set -- $st
		[ "$1" = Z ] && break
		if [ $(( ${12} + ${13} )) -ge $((budget * tck)) ]; then
			kill -INT "$pid" 2>/dev/null
			break
		fi
		sleep 3
	done
	# /usr/bin/time exits with the fuzzer's status and writes its user+sys seconds to $timef
	wait $tpid
	rc=$?
	cpu=$(awk '/^[0-9.]+ [0-9.]+$/ { printf "%.1f", $1 + $2 }' "$timef")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	after=$(ls "$art" | grep -cE '^(crash|leak|timeout|oom)-')
	found=$((after - before))
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$n" "$cpu" "${execs:-0}" "$rc" "$found" >> "$tsv"
	echo "campaign $n: ${cpu} CPU-s, ${execs:-?} execs, exit $rc, findings $found"
	if [ $found -gt 0 ]; then
		status=1
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
	fi
done
exit $status
