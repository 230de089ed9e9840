#!/bin/sh
# Where a lora-train step's GPU time goes, per kernel, on a lent GPU machine (run after
# tests/gpu/carry.sh, as check.sh): a 2-layer model in the ~1.2B Llama's widths (hidden 2048,
# 32 heads of 64, MLP 5632) quantized to NF4, T=2048, r16 all-linear, checkpointing; Nsight
# Compute times kernels 150-600 (the second step on) one by one, with the card's clocks left
# alone. Prints the top 25 kernels by total time; OUT/ncu.csv keeps every launch.
# Usage (repository root, on the GPU machine): OUT=dir sh tests/gpu/profile.sh
set -u
x=gpu-carry/x; mkdir -p $x; xz -dc gpu-carry/qt-gpu.tar.xz | tar -xf - -C $x
export LD_LIBRARY_PATH=$PWD/$x/lib; B=$x/bin-gpu; w=/tmp/p; mkdir -p $w
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
python3 tests/gpu/make-models.py gpu-carry/model $w 1 > $w/mm.log 2>&1 || tail $w/mm.log
$B/quantize-nf4 --quiet -o $w/1b-nf4 $w/1b
$B/adgen-data 21 600 > $w/t.jsonl
$B/tok-chatml -q -t $w/1b/tokenizer.json --prompt-key content --response-key summary -o $w/t.tok $w/t.jsonl
$B/pack -q --seq-len 2048 --seed 42 -o $w/t.pack $w/t.tok
timeout 110 $NCU --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 150 --launch-count 450 \
	$B/lora-train -m $w/1b-nf4 --train $w/t.pack -o $w/run --rank 16 --alpha 32 --max-steps 4 \
	--device cuda --threads 4 --quiet --checkpointing > $OUT/ncu.csv 2> $OUT/ncu.err
echo "ncu rc $?"
tail -3 $OUT/ncu.err
python3 - "$OUT/ncu.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 5]
h = rows[0]; ki = h.index("Kernel Name"); vi = h.index("Metric Value"); ui = h.index("Metric Unit")
t = collections.Counter(); c = collections.Counter()
for r in rows[1:]:
    try: v = float(r[vi].replace(",", ""))
    except ValueError: continue
    v *= {"ns": 1e-3, "nsecond": 1e-3, "us": 1, "usecond": 1, "ms": 1e3, "msecond": 1e3}.get(r[ui], 1)
    n = r[ki][:90]; t[n] += v; c[n] += 1
tot = sum(t.values())
print("kernels %d, total %.1f ms" % (sum(c.values()), tot / 1e3))
for n, v in t.most_common(25):
    print("%6.1f%% %9.1f us %4d  %s" % (100 * v / tot, v, c[n], n))
PY
