#!/bin/sh
# pack throughput on a >= 500 MB .tok, with `cat file > /dev/null` as the disk-speed peer.
#   tests/bench/pack-bench.sh [MB] [SEQ_LEN]      (run from the repository root after `make`)
# The input is generated once under ${TMPDIR:-/tmp}/qt-pack-bench (never committed) by the
# generator mode of the packer unit test: chat-like log-normal lengths (median 300 tokens),
# ids uniform below 49152, the first 40% of every sample masked. Both the peer and pack read
# the file from the page cache after a warm-up read, so the ratio compares CPU cost with the
# speed of simply reading the bytes. pack's time includes writing and fsyncing its output, so a
# second peer copies the input to the same directory with fsync (dd conv=fsync): the disk's
# read+write speed for a file of that size. The machine may be shared: compare ratios from
# one run, and CPU seconds (user+sys of pack, from /usr/bin/time) next to wall seconds.
set -e
mb=${1:-500}
seq_len=${2:-2048}
bin=${BIN:-bin}
build=${BUILD:-build}
dir=${TMPDIR:-/tmp}/qt-pack-bench
mkdir -p "$dir"
in=$dir/in-$mb.tok
if [ ! -f "$in" ]; then
	echo "generating $in ..." >&2
	"$build/tests/jobs/test_pack_job" --gen-bench "$in" "$mb"
fi
bytes=$(stat -c %s "$in")
now() { date +%s.%N; }
best() {  # best-of-3 wall seconds of "$@"
	b=
	for i in 1 2 3; do
		t0=$(now); "$@"; t1=$(now)
		b=$(echo "$t0 $t1 $b" | awk '{t = $2 - $1; if ($3 == "" || t < $3) t = t; else t = $3; print t}')
	done
	echo "$b"
}
cat "$in" > /dev/null
t_cat=$(best sh -c "cat '$in' > /dev/null")
t_dd=$(best dd if="$in" of="$dir/copy.tok" bs=1M conv=fsync status=none)
rm -f "$dir/copy.tok"
t_pack=$(best "$bin/pack" -q --seq-len "$seq_len" -o "$dir/out.pack" "$in")
t_nodedup=$(best "$bin/pack" -q --no-dedup --seq-len "$seq_len" -o "$dir/out.pack" "$in")
/usr/bin/time -o "$dir/cpu.txt" -f "%U %S" \
	"$bin/pack" --seq-len "$seq_len" -o "$dir/out.pack" "$in" 2>"$dir/summary.txt"
cpu=$(cat "$dir/cpu.txt")
fill=$("$bin/pack" --info "$dir/out.pack" | sed -n 's/^fill: //p')
awk -v b="$bytes" -v c="$t_cat" -v p="$t_pack" -v n="$t_nodedup" -v f="$fill" -v T="$seq_len" -v d="$t_dd" -v cpu="$cpu" 'BEGIN {
	split(cpu, u, " ")
	mb = b / 1e6
	printf "input: %.1f MB .tok, seq_len %d\n", mb, T
	printf "cat > /dev/null : %7.3f s  %8.1f MB/s\n", c, mb / c
	printf "pack            : %7.3f s  %8.1f MB/s of .tok read  (%.2fx of cat)\n", p, mb / p, c / p
	printf "pack --no-dedup : %7.3f s  %8.1f MB/s of .tok read  (%.2fx of cat)\n", n, mb / n, c / n
	printf "dd conv=fsync   : %7.3f s  %8.1f MB/s (disk read+write peer)\n", d, mb / d
	printf "pack CPU        : %7.3f s  %8.1f MB/s of CPU time (user+sys)\n", u[1] + u[2], mb / (u[1] + u[2])
	printf "pack / dd       : %.2fx\n", d / p
	printf "fill ratio      : %s\n", f
}'
cat "$dir/summary.txt"
rm -f "$dir/out.pack"
