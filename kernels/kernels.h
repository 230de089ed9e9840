/* qlora-tools: ISC license. */
/*
 * Conventions shared by every op in kernels/ (written once here; each op header repeats the
 * shapes of its own arguments).
 *
 * Layout. All buffers are dense, row-major float32 unless a comment says otherwise; the last
 * dimension is contiguous. Integers (token ids, positions, segment ids, targets) are int32.
 *
 * Dimension names, fixed project-wide:
 *   B   batch (independent sequences)          T   tokens per sequence (time)
 *   C   model width (hidden_size)              V   vocabulary size
 *   H   MLP width (intermediate_size)          R   LoRA rank
 *   NH  query heads                            NKV key/value heads (NH % NKV == 0)
 *   HD  head dimension (C == NH * HD for Llama q; k/v rows are NKV * HD wide)
 *   OC  output features of a linear layer      L   cached tokens (KV cache capacity)
 * A tensor written (T, NH, HD) is the (T, C) activation viewed per head: head h of token t
 * starts at t * NH * HD + h * HD.
 *
 * Linear layers follow HF/PyTorch: W is (OC, C) row-major as stored in safetensors, and
 * out = x @ W^T. This is the transpose of the usual BLAS "x @ W" reading: say so at call sites.
 *
 * Backward convention (llm.c): every *_backward ACCUMULATES into its gradient outputs
 * (d += ...); the caller zeroes them once. The exceptions are named in the op's header
 * (rope_backward rotates in place; cross_entropy writes dlogits).
 *
 * Host scalars: anything derived from hyper-parameters (bias corrections, RoPE frequencies,
 * the NEFTune magnitude, clip coefficients) is computed once on the host by the helpers in
 * kernels/<op>_host.c and passed to the kernel, so the CPU and CUDA backends get identical
 * inputs.
 *
 * Reference vs fast: kernels/cpu/<op>.c holds the plain-loop reference (no BLAS, no threads)
 * and, where it pays, a separate <name>_fast variant (OpenBLAS, common/pool.h threads) that
 * tests/kernels/test_<op>.c checks against the reference. Kernels do not allocate unless the
 * header says so, do no I/O and never exit; shapes are the caller's contract.
 */
#ifndef QT_KERNELS_H
#define QT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#endif
