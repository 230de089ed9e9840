#!/bin/sh
# Builds here what tests/gpu/check.sh runs on a lent GPU machine, which has nvcc, PyTorch,
# transformers and PEFT but none of our Debian libraries, and packs it into gpu-carry/ (to name
# in the device tool's `carry`, with `/gpu-carry/` in .git/info/exclude):
#   gpu-carry/qt-gpu.tar.xz  bin-gpu/ (the tools, stripped), build-gpu/tests/ (the CUDA op tests
#                            and test_lora_table, stripped) and lib/: every shared library they
#                            load that is neither glibc's, GCC's nor CUDA's (OpenBLAS, libarchive
#                            and its compressors, jansson, pcre2, utf8proc, xxhash, Open MPI's)
#   gpu-carry/model/         the default model's config and tokenizer, from which check.sh makes
#                            a random model of its shapes there (the weights do not fit a carry)
# CUDA code for sm_90 only (H100/H200): the fatbins stay small and nothing is JIT-compiled there.
# Without MPI and NCCL (MPI= NCCL_H=): the check runs one process, and a library missing there
# would stop every tool from loading.
# Usage (repository root, after `make model`): tests/gpu/carry.sh
set -eu
arch=${GPU_ARCH:-90}
rm -f build-gpu/common/dist.o build-gpu/common/dist_nccl.o
make -s BUILD=build-gpu BIN=bin-gpu MPI= NCCL_H= -j"$(nproc)" \
	NVCCFLAGS="-O2 -std=c++17 -gencode arch=compute_$arch,code=sm_$arch -I." all bin-gpu/adgen-data \
	$(for t in tests/kernels/cuda/test_*.c tests/kernels/model/test_lora_table.c; do echo "build-gpu/${t%.c}"; done)
rm -rf gpu-carry
mkdir -p gpu-carry/stage/lib gpu-carry/stage/bin-gpu gpu-carry/stage/build-gpu/tests/kernels/cuda \
	gpu-carry/stage/build-gpu/tests/kernels/model gpu-carry/model
for f in bin-gpu/*; do strip -o "gpu-carry/stage/$f" "$f"; done
for f in build-gpu/tests/kernels/cuda/test_* build-gpu/tests/kernels/model/test_lora_table; do
	case $f in *.d|*.o) continue ;; esac
	strip -o "gpu-carry/stage/$f" "$f"
done
# shared libraries: all but the C library's, the compiler's and the CUDA toolkit's
for f in gpu-carry/stage/bin-gpu/* gpu-carry/stage/build-gpu/tests/kernels/*/test_*; do
	ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r so; do
	case ${so##*/} in
	libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libgcc_s.so.*|libstdc++.so.*|ld-linux*) continue ;;
	esac
	case $so in /usr/local/cuda*) continue ;; esac
	cp -L "$so" gpu-carry/stage/lib/
done
(cd gpu-carry/stage && tar -cf - bin-gpu build-gpu lib) | xz -T0 -6 > gpu-carry/qt-gpu.tar.xz
rm -rf gpu-carry/stage
m=${QT_MODEL_DIR:-models/SmolLM2-135M-Instruct}
for f in config.json generation_config.json tokenizer.json tokenizer_config.json special_tokens_map.json; do
	[ -f "$m/$f" ] && cp "$m/$f" gpu-carry/model/
done
du -sh gpu-carry/*
