#!/bin/sh
# Plots train and eval loss against step from lora-train's log.jsonl with gnuplot.
#   loss.sh log.jsonl out.png
set -e
log=$1 png=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/.*"step":\([0-9]*\),"loss":\([-0-9.e]*\).*/\1 \2/p' "$log" > "$tmp/train"
sed -n 's/.*"step":\([0-9]*\),"eval_loss":\([-0-9.e]*\).*/\1 \2/p' "$log" > "$tmp/eval"
gnuplot <<GP
set terminal png size 800,500
set output "$png.tmp"
set xlabel "step"
set ylabel "loss"
set title "lora-train"
plot "$tmp/train" with lines title "train", "$tmp/eval" with linespoints title "eval"
GP
mv "$png.tmp" "$png"
