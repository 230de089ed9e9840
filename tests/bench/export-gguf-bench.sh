#!/bin/sh
# export-gguf speed against llama.cpp's own route to the same files, on the default model:
# convert_hf_to_gguf.py --outtype T for f32 f16 bf16 q8_0; for q4_0 q4_k_m q5_k_m q6_k,
# convert_hf_to_gguf.py --outtype f32 and then llama_model_quantize (llama-cpp-python) of that
# file, the F32 input on which tests/ref/export_gguf_llamacpp.py found the bytes identical.
#   LLAMACPP_SRC=.../llama_cpp_python-0.3.36/vendor/llama.cpp tests/bench/export-gguf-bench.sh
# (repository root, after `make`; the sdist as in tests/ref/export_gguf_convert.py). THREADS,
# TMPDIR, MODEL, PY_REF (the converter's Python: torch, transformers), PY_LLAMA
# (llama-cpp-python) optional. Times are wall seconds of the whole command (the converter's
# Python start and imports included: what a user waits for), ours best of 3, theirs once;
# CPU = user + sys; ratio = theirs / ours (wall, then CPU). Output goes to $TMPDIR
# (TMPDIR=/dev/shm leaves the disk out). Figures: export-gguf(1) and the README's Status.
set -e
: "${LLAMACPP_SRC:?set LLAMACPP_SRC to llama.cpp's source (vendor/llama.cpp of the sdist)}"
bin=${BIN:-bin}
model=${MODEL:-models/SmolLM2-135M-Instruct}
threads=${THREADS:-$(nproc)}
pyref=${PY_REF:-/work/venv-ref/bin/python}
pyllama=${PY_LLAMA:-/work/venv-llama/bin/python}
dir=$(mktemp -d "${TMPDIR:-/tmp}/qt-export-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# timed CMD...: runs CMD, sets $wall and $cpu (seconds)
timed() {
	/usr/bin/time -f '%e %U %S' -o "$dir/time" "$@" >/dev/null 2>"$dir/err" ||
		{ cat "$dir/err" >&2; exit 1; }
	wall=$(awk '{ print $1 }' "$dir/time")
	cpu=$(awk '{ print $2 + $3 }' "$dir/time")
}
convert() {  # convert OUTTYPE OUT
	timed "$pyref" "$LLAMACPP_SRC/convert_hf_to_gguf.py" --outtype "$1" --outfile "$2" "$model"
}
quantize() {  # quantize FTYPE_ID IN OUT
	timed "$pyllama" -c 'import sys, llama_cpp
p = llama_cpp.llama_model_quantize_default_params(); p.ftype = int(sys.argv[1]); p.nthread = int(sys.argv[4])
sys.exit(llama_cpp.llama_model_quantize(sys.argv[2].encode(), sys.argv[3].encode(), p))' "$1" "$2" "$3" "$threads"
}

printf 'export-gguf vs llama.cpp (convert_hf_to_gguf.py [+ llama_model_quantize]), %s, %d threads\n' \
	"$(basename "$model")" "$threads"
printf '  %-7s %8s %8s %12s %8s %7s %9s %s\n' type ours_s cpu_s llama.cpp_s cpu_s ratio cpu_ratio bytes
convert f32 "$dir/theirs-f32.gguf"
cw=$wall cc=$cpu
for t in f32 f16 bf16 q8_0 q4_0 q4_k_m q5_k_m q6_k; do
	best= bcpu=
	for i in 1 2 3; do
		timed "$bin/export-gguf" -q --threads "$threads" --type "$t" -o "$dir/ours.gguf" "$model"
		if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$wall bcpu=$cpu
		fi
	done
	case $t in
	f32) tw=$cw tc=$cc ;;
	f16|bf16|q8_0) convert "$t" "$dir/theirs.gguf"; tw=$wall tc=$cpu ;;
	*)
		case $t in q4_0) id=2 ;; q4_k_m) id=15 ;; q5_k_m) id=17 ;; q6_k) id=18 ;; esac
		quantize "$id" "$dir/theirs-f32.gguf" "$dir/theirs.gguf"
		tw=$(awk -v a="$cw" -v b="$wall" 'BEGIN { print a + b }')
		tc=$(awk -v a="$cc" -v b="$cpu" 'BEGIN { print a + b }') ;;
	esac
	awk -v t="$t" -v o="$best" -v oc="$bcpu" -v w="$tw" -v wc="$tc" \
	    -v b="$(stat -c %s "$dir/ours.gguf")" 'BEGIN {
		printf "  %-7s %8.2f %8.2f %12.2f %8.2f %6.1fx %8.1fx %d\n", t, o, oc, w, wc, w / o, wc / oc, b }'
	rm -f "$dir/ours.gguf" "$dir/theirs.gguf"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(grep -m1 'model name' /proc/cpuinfo)"
