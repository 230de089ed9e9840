#!/bin/sh
# NF4 decoding speed at Llama-2-7B's shapes, weights only: matvec_nf4_forward (what gen runs
# per decoded token on an NF4 base) on each path the CPU has, and with int8 activations (gen
# --int8-activations, through frozen_infer), against ggml's Q4_0 mul_mat
# (llama.cpp's CPU decode matvec) of the same shapes, alternating in one process at the same
# threads, with the machine's read bandwidth; see tests/bench/nf4_decode_bench.c.
#   tests/bench/nf4-decode-bench.sh [LAYERS] [THREADS] [ROUNDS]   (repository root, after make)
# LLAMACPP_SRC: a llama.cpp source tree; its ggml/ is built once (CPU backend, -march=native)
# under ${TMPDIR:-/tmp}/qt-ggml. Without it only our paths run. Memory: about 0.23 GB per layer
# for each side (default 8 layers, ~2 GB), larger than the caches.
set -e
layers=${1:-8}
threads=${2:-$(nproc)}
rounds=${3:-5}
build=${BUILD:-build}
dir=${TMPDIR:-/tmp}/qt-ggml
mkdir -p "$dir"
libs="$build/libqlora.a -larchive -lxxhash -ljansson -lpcre2-8 -lutf8proc -lopenblas -lpthread -lm"
if [ -n "${LLAMACPP_SRC:-}" ]; then
	if [ ! -f "$dir/build/src/libggml-cpu.a" ]; then
		rm -rf "$dir/src" && cp -r "$LLAMACPP_SRC/ggml" "$dir/src"
		[ -f "$dir/src/ggml.pc.in" ] || : >"$dir/src/ggml.pc.in"
		cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
			-DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF -DGGML_BLAS=OFF -DGGML_BUILD_TESTS=OFF \
			-DGGML_BUILD_EXAMPLES=OFF >"$dir/cmake.log"
		cmake --build "$dir/build" -j2 >"$dir/build.log"
	fi
	g=$dir/build/src
	cc -O2 -std=c11 -D_GNU_SOURCE -DWITH_GGML -I. -I"$dir/src/include" -o "$dir/nf4_decode_bench" \
		tests/bench/nf4_decode_bench.c $libs "$g/libggml.a" "$g/libggml-cpu.a" "$g/libggml-base.a" \
		-lstdc++ -lpthread -lm
else
	cc -O2 -std=c11 -D_GNU_SOURCE -I. -o "$dir/nf4_decode_bench" tests/bench/nf4_decode_bench.c $libs
fi
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$dir/nf4_decode_bench" "$layers" "$threads" "$rounds"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
