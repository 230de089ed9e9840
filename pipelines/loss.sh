#!/bin/sh
# Plots train and eval loss against step from lora-train's log.jsonl with gnuplot, and on a
# second axis what the evaluations logged beside the eval loss: TRL's mean token accuracy (as a
# percentage) and, with --eval-prompts, ROUGE-1/2/L and BLEU-4 of the generations (rouge-zh's
# scale, 0-100). A series the log does not have is left out.
#   loss.sh log.jsonl out.png
#   loss.sh --script log.jsonl out.png   print the gnuplot script instead of running it
set -e
script=0
if [ "$1" = --script ]; then
	script=1
	shift
fi
log=$1 png=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/.*"step":\([0-9]*\),"loss":\([-0-9.e]*\).*/\1 \2/p' "$log" > "$tmp/train"
sed -n 's/.*"step":\([0-9]*\),"eval_loss":\([-0-9.e]*\).*/\1 \2/p' "$log" > "$tmp/eval"
# score KEY SCALE: "step value*SCALE" of the lines that logged KEY
score() {
	sed -n "s/.*\"step\":\([0-9]*\),.*\"$1\":\([-0-9.e]*\).*/\1 \2/p" "$log" |
		awk -v s="$2" '{ print $1, $2 * s }'
}
score eval_mean_token_accuracy 100 > "$tmp/acc"
plot="plot \"$tmp/train\" with lines title \"train loss\""
if [ -s "$tmp/eval" ]; then
	plot="$plot, \"$tmp/eval\" with linespoints title \"eval loss\""
fi
y2=
if [ -s "$tmp/acc" ]; then
	y2=1
	plot="$plot, \"$tmp/acc\" axes x1y2 with linespoints title \"token accuracy %\""
fi
for k in rouge-1:ROUGE-1 rouge-2:ROUGE-2 rouge-l:ROUGE-L bleu-4:BLEU-4; do
	score "eval_${k%%:*}" 1 > "$tmp/${k%%:*}"
	if [ -s "$tmp/${k%%:*}" ]; then
		y2=1
		plot="$plot, \"$tmp/${k%%:*}\" axes x1y2 with linespoints title \"eval ${k#*:}\""
	fi
done
gp() {
	cat <<GP
set terminal png size 800,500
set output "$png.tmp"
set xlabel "step"
set ylabel "loss"
${y2:+set y2label \"token accuracy %, ROUGE, BLEU-4\"
set y2tics
set ytics nomirror
set key outside bottom center horizontal
}set title "lora-train"
$plot
GP
}
if [ $script = 1 ]; then
	gp | sed "s|$tmp/||g"
	exit 0
fi
gp | gnuplot
mv "$png.tmp" "$png"
