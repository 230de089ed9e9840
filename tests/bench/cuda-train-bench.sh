#!/bin/sh
# NEVER RUN: written on a machine without a GPU (issue 10). No number in this repository comes
# from it yet; the first run on an H100/H200 must be checked line by line before any figure is
# reported.
#
# GPU training speed of the CUDA backend (llama_train_block over the CUDA backend table: QLoRA NF4 base, LoRA
# r16 all-linear, checkpointing, one block per step) against PyTorch + PEFT (+ bitsandbytes) on
# the same GPU, same shapes, same step:
#   - the card's measured bf16 GEMM rate and copy bandwidth (cuda_train_bench gemm), the
#     denominators of MFU and of the decode bandwidth fraction;
#   - training tokens/s, MFU and peak GPU memory on the SmolLM2-135M shape (T 512) and the
#     Llama-3.2-1B shape (T 2048), both with random weights;
#   - decode tokens/s at batch 1 against the measured copy bandwidth: ours through
#     llama_decode over the CUDA table on the NF4 model (tools/gen has no --device yet), the peer in bf16.
#   tests/bench/cuda-train-bench.sh   (repository root; PYTHON, STEPS)
set -e
py=${PYTHON:-python3}
steps=${STEPS:-10}
if ! nvidia-smi -L >/dev/null 2>&1; then
	echo "cuda-train-bench: no GPU here: nothing measured"
	exit 0
fi
make >/dev/null
cuda=$(dirname "$(dirname "$(command -v nvcc)")")
cc -O2 -std=c11 -D_GNU_SOURCE -I. -I"$cuda/include" -o build/cuda_train_bench \
	tests/bench/cuda_train_bench.c -Wl,--start-group build/libqlora.a build/libqlora_cuda.a \
	-Wl,--end-group -larchive -lxxhash -ljansson -lpcre2-8 -lutf8proc -lopenblas -lpthread -lm \
	-L"$cuda/lib64" -Wl,-rpath,"$cuda/lib64" -lcublasLt -lcublas -lcudart -lstdc++
val() { printf '%s\n' "$1" | sed -n "s/^$2 //p" | tail -n 1; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
base=$(build/cuda_train_bench gemm)
tf=$(val "$base" gemm_tflops)
bw=$(val "$base" bw_gbs)
echo "measured: bf16 GEMM ${tf} TFLOP/s, copy bandwidth ${bw} GB/s"
for cfg in "smollm2-135m 512" "llama-1b 2048"; do
	set -- $cfg
	ours=$(build/cuda_train_bench train "$1" "$2" "$steps")
	peer=$(PYTHONUNBUFFERED=1 "$py" tests/bench/cuda-train-bench.py train "$1" "$2" "$steps" 2>/dev/null)
	awk -v s="$1" -v T="$2" -v tf="$tf" \
	    -v to="$(val "$ours" tokens_s)" -v mo="$(val "$ours" mfu_tflops)" -v po="$(val "$ours" peak_mib)" \
	    -v tp="$(val "$peer" tokens_s)" -v mp="$(val "$peer" mfu_tflops)" -v pp="$(val "$peer" peak_mib)" 'BEGIN {
		printf "%s, T=%d, QLoRA r16 all-linear, checkpointing\n", s, T
		printf "  qlora-tools cuda   %9.1f tokens/s  MFU %5.1f%%  peak %6.0f MiB\n", to, 100 * mo / tf, po
		printf "  PyTorch + PEFT     %9.1f tokens/s  MFU %5.1f%%  peak %6.0f MiB\n", tp, 100 * mp / tf, pp
		printf "  ratio (ours / PyTorch tokens/s): %.2fx\n", to / tp
	}'
done
for s in smollm2-135m llama-1b; do
	ours=$(build/cuda_train_bench decode "$s" 256)
	peer=$(PYTHONUNBUFFERED=1 "$py" tests/bench/cuda-train-bench.py decode "$s" 256 2>/dev/null)
	awk -v s="$s" -v bw="$bw" -v to="$(val "$ours" tokens_s)" -v go="$(val "$ours" weight_gbs)" \
	    -v tp="$(val "$peer" tokens_s)" -v gp="$(val "$peer" weight_gbs)" 'BEGIN {
		printf "decode %s batch 1 (bandwidth = weight bytes read per token x tokens/s)\n", s
		printf "  qlora-tools (NF4)  %9.1f tokens/s  %5.1f%% of copy bandwidth\n", to, 100 * go / bw
		printf "  PyTorch (bf16)     %9.1f tokens/s  %5.1f%% of copy bandwidth\n", tp, 100 * gp / bw
	}'
done
