#!/bin/sh
# Crash safety at random moments (issue 23; not in make test, it takes a minute or two):
#   sh tests/crash/kill20.sh [trials]        (default 20; after make)
# A reference run of lora-train on the tiny model (300 steps, a checkpoint every 7) is timed;
# each trial starts the same run, kills it with SIGKILL after a random fraction of that time
# (so some kills land inside checkpoint writes), then checks the two newest checkpoints left
# (each resumed to the end in a copy must give the reference adapter byte for byte: none is
# accepted and corrupt), resumes the run itself (or starts it again when no checkpoint was
# written) and compares its final adapter with the reference. Prints one line per trial and
# "N/N identical".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/bin
n=${1:-20}
M=$top/tests/data/llama/tiny P=$top/tests/data/lora_train/train.pack
A="--lr 1e-3 --schedule cosine --warmup-steps 5 --grad-accum 2 --dropout 0.1 --shuffle --max-steps 300 --save-every 7 --quiet"
w=$(mktemp -d "${TMPDIR:-/tmp}/kill20.XXXXXX") || exit 1
trap 'rm -rf "$w"' EXIT
cd "$w"
t0=$(date +%s%N)
"$bin/lora-train" -m "$M" --train "$P" -o ref $A || exit 1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "reference run: $ms ms"
same() { cmp -s ref/adapter/adapter_model.safetensors "$1/adapter/adapter_model.safetensors" &&
	cmp -s ref/adapter/adapter_config.json "$1/adapter/adapter_config.json"; }
good=0 i=1
while [ $i -le "$n" ]; do
	rm -rf run
	delay=$(awk -v s="$(od -An -N4 -tu4 /dev/urandom)" -v ms="$ms" \
		'BEGIN { printf "%.3f", (s % 1000) / 1000 * ms / 1000 }')
	"$bin/lora-train" -m "$M" --train "$P" -o run $A &
	pid=$!
	sleep "$delay"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	step=$(ls -d run/checkpoint-* 2>/dev/null | grep -v '\.tmp\.\|\.old\.' |
		sed 's/.*checkpoint-//' | sort -n | tail -n 2)
	ok=1
	for s in $step; do
		rm -rf copy && cp -r run copy
		"$bin/lora-train" -m "$M" --train "$P" --resume copy/checkpoint-$s $A 2>/dev/null &&
			same copy || { echo "trial $i: checkpoint-$s does not resume exactly"; ok=0; }
	done
	if [ -n "$step" ]; then
		"$bin/lora-train" -m "$M" --train "$P" --resume run $A
	else
		"$bin/lora-train" -m "$M" --train "$P" -o run $A
	fi && same run || ok=0
	left=$(find run -name '*.tmp.*' -o -name '*.old.*' | wc -l)
	[ "$left" -eq 0 ] || ok=0
	echo "trial $i: killed after ${delay}s, newest checkpoints: $(echo $step), final adapter" \
	     "$([ $ok = 1 ] && echo identical || echo DIFFERENT), $left temporaries left"
	good=$((good + ok))
	i=$((i + 1))
done
echo "$good/$n identical"
[ "$good" -eq "$n" ]
