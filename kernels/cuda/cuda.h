/* qlora-tools: ISC license. */
/*
 * The CUDA backend's C interface (built only when nvcc is found; see kernels/cuda/README).
 *
 * Every op of kernels/cpu has a twin here named <op>_cuda with the SAME arguments in the same
 * order, shapes and host scalars as the CPU declaration in kernels/<op>.h (read the contract
 * there); every float/int pointer is DEVICE memory unless a comment says otherwise. Host
 * scalars (adamw_hparams, RoPE inv_freq tables, alpha/r, NEFTune magnitude, grad_scale) come
 * from the same host helpers as the CPU path, so parity tests measure kernels only.
 *
 * Errors: the ops return nothing, like their CPU twins; a failed precondition, launch or
 * library call is recorded as the first "sticky" error of the calling thread (cuda_error), and
 * later ops keep running (their results are then meaningless). Call cuda_sync() at a
 * checkpoint (once per step) and check it. Work goes on the stream set by cuda_stream_set
 * (default: the legacy default stream), in order.
 */
#ifndef QT_KERNELS_CUDA_H
#define QT_KERNELS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/adamw.h"

#ifdef __cplusplus
extern "C" {
#endif

struct attn_opts; /* kernels/attention.h */

/* ---- device layer (kernels/cuda/device.cu) ---- */

/* The first error since cuda_error_clear() ("file:line: func: what: message"), or NULL. */
const char *cuda_error(void);
void cuda_error_clear(void);
/* Waits for the stream; returns 0, or -1 when it or anything before it failed (cuda_error). */
int cuda_sync(void);
/* stream: a cudaStream_t (NULL: the default stream). */
void cuda_stream_set(void *stream);
/* Opens cuBLAS (once; cuda_probe and the first handle do): 1, or 0 with the loader's message
 * in why. Until then no process has it mapped, CPU runs of a CUDA build included. */
int cuda_cublas_open(char *why, unsigned n);
/* Device memory: NULL (error recorded) on failure; cuda_free(NULL) does nothing. */
void *cuda_malloc(size_t bytes);
void cuda_free(void *p);
/* Synchronous copies and fill; 0 or -1 (error recorded). */
int cuda_upload(void *dst_dev, const void *src_host, size_t bytes);
int cuda_download(void *dst_host, const void *src_dev, size_t bytes);
int cuda_memset(void *dst_dev, int byte, size_t bytes);
/* Device-to-device copy on the stream, not waited for (errors sticky). */
void cuda_copy(void *dst_dev, const void *src_dev, size_t bytes);

/* ---- ops: one block per kernels/<op>.h, same arguments ---- */

/* embedding.cu (kernels/embedding.h); noise bit-identical to neftune_forward. */
void embedding_forward_cuda(float *out, const int32_t *ids, const float *table, int T, int C,
                            int V);
void embedding_scale_cuda(float *x, size_t n, float s);
void neftune_forward_cuda(float *x, size_t n, float mag, uint64_t seed);

/* dropout.cu (kernels/dropout.h); mask bit-identical to the CPU. */
void dropout_forward_cuda(float *out, const float *x, size_t n, float p, float scale,
                          uint64_t seed);
void dropout_backward_cuda(float *dx, const float *dout, size_t n, float p, float scale,
                           uint64_t seed);

/* rmsnorm.cu (kernels/rmsnorm.h) */
void rmsnorm_forward_cuda(float *out, float *rstd, const float *x, const float *w, int T, int C,
                          float eps);
void rmsnorm_backward_cuda(float *dx, const float *dout, const float *x, const float *w,
                           const float *rstd, int T, int C);

/* rope.cu (kernels/rope.h); pos and inv_freq device arrays (inv_freq from rope_inv_freq). */
void rope_table_cuda(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq,
                     int T, int HD);
void rope_forward_cuda(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                       int NH, int HD);
void rope_backward_cuda(float *dx, const float *dout, const float *cos_t, const float *sin_t,
                        int T, int NH, int HD);
void rope_forward_part_cuda(float *out, const float *x, const float *cos_t, const float *sin_t,
                            int T, int NH, int HD, int rot, int interleaved);
void rope_backward_part_cuda(float *dx, const float *dout, const float *cos_t,
                             const float *sin_t, int T, int NH, int HD, int rot,
                             int interleaved);

/* softcap.cu (kernels/softcap.h) */
void residual_add_cuda(float *x, const float *y, size_t N);
void softcap_forward_cuda(float *y, const float *x, size_t N, float c);
void softcap_backward_cuda(float *dx, const float *dy, const float *y, size_t N, float c);

/* geglu.cu (kernels/geglu.h) */
void geglu_forward_cuda(float *out, const float *gate, const float *up, size_t N);
void geglu_backward_cuda(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t N);

/* columns.cu (kernels/columns.h) */
void columns_split_cuda(float *const *dst, const float *src, int T, const int *w, int n);
void columns_join_cuda(float *dst, const float *const *src, int T, const int *w, int n);

/* swiglu.cu (kernels/swiglu.h) */
void swiglu_forward_cuda(float *out, const float *gate, const float *up, size_t N);
void swiglu_backward_cuda(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t N);

/* adamw.cu (kernels/adamw.h); h is a HOST pointer; sumsq a DEVICE double (+=); adamw_step is
 * bit-identical to the CPU (same fused operations). */
void adamw_step_cuda(float *p, const float *g, float *m, float *v, size_t n,
                     const struct adamw_hparams *h);
void grad_sumsq_cuda(double *sumsq, const float *g, size_t n);
void grad_scale_cuda(float *g, size_t n, float coef);

/* matmul.cu (kernels/matmul.h): cuBLAS SGEMM, fp32 in and out (no TF32). */
void linear_forward_cuda(float *out, const float *x, const float *W, const float *bias, int T,
                         int C, int OC, float alpha, float beta);
void bias_forward_cuda(float *out, const float *bias, int T, int OC);
void linear_backward_x_cuda(float *dx, const float *dout, const float *W, int T, int C, int OC,
                            float alpha);
void linear_backward_w_cuda(float *dW, float *dbias, const float *dout, const float *x, int T,
                            int C, int OC, float alpha);

/* nf4.cu (kernels/nf4.h): code is a device array of 16 floats (nf4_code or a file's
 * quant_map). The _bf16 variants write bf16 bits, round to nearest even of the f32 value. */
void nf4_dequantize_cuda(const uint8_t *packed, const float *absmax, const float *code,
                         size_t blocksize, size_t n, float *out);
void nf4_dequantize_bf16_cuda(const uint8_t *packed, const float *absmax, const float *code,
                              size_t blocksize, size_t n, uint16_t *out);
void nf4_double_dequant_cuda(const uint8_t *qabsmax, size_t nb, const float *nested_absmax,
                             const float *map, size_t nested_blocksize, float offset,
                             float *absmax);
/*
 * NF4 base linear in bf16 with fp32 accumulation (cuBLAS GemmEx): W (OC, C) dequantized to
 * bf16, x (or dout) rounded to bf16, product accumulated in fp32 into fp32 out / dx.
 *   forward:    out = beta * out + alpha * x @ W^T         x: (T, C); out: (T, OC)
 *   backward_x: dx += alpha * dout @ W                       dout: (T, OC); dx: (T, C)
 * scratch: device, nf4_linear_scratch_cuda(T, C, OC) bytes. W has no gradient (frozen).
 */
size_t nf4_linear_scratch_cuda(int T, int C, int OC);
void nf4_linear_forward_cuda(float *out, const float *x, const uint8_t *packed,
                             const float *absmax, const float *code, size_t blocksize, int T,
                             int C, int OC, float alpha, float beta, void *scratch);
void nf4_linear_backward_x_cuda(float *dx, const float *dout, const uint8_t *packed,
                                const float *absmax, const float *code, size_t blocksize, int T,
                                int C, int OC, float alpha, void *scratch);
/* x: (n) f32 -> out: (n) bf16 bits, round to nearest even (qt_f32_to_bf16). */
void f32_to_bf16_cuda(uint16_t *out, const float *x, size_t n);

/* matvec.cu (kernels/matvec.h): the decode-time linear, weight rows streamed once; work and
 * n_threads are accepted and ignored. */
void matvec_forward_cuda(float *out, const float *x, const float *W, int T, int C, int OC,
                         float beta, int n_threads);
void matvec_nf4_forward_cuda(float *out, const float *x, const uint8_t *packed,
                             const float *absmax, const float *code, size_t blocksize,
                             int round_to, int T, int C, int OC, float beta, float *work,
                             int n_threads);
void matvec_nf4_dequant_cuda(float *out, const uint8_t *packed, const float *absmax,
                             const float *code, size_t blocksize, int round_to, int C, int OC,
                             int n_threads);

/* cross_entropy.cu (kernels/cross_entropy.h); loss a DEVICE float (+=). lm_head_ce_cuda's
 * and lm_head_correct_cuda's scratch is device memory of lm_head_ce_scratch(chunk, C, V)
 * floats; they copy targets to the host once per call (allocating T int32 there) to pick the
 * rows, as the CPU does. lm_head_correct_cuda returns the count on the host (waiting for the
 * device once per chunk); 0 with the error recorded when something failed. */
void cross_entropy_forward_cuda(float *losses, float *loss, const float *logits,
                                const int32_t *targets, int T, int V, float normalizer);
void cross_entropy_backward_cuda(float *dlogits, float *losses, const float *logits,
                                 const int32_t *targets, int T, int V, float grad_scale);
void softmax_forward_cuda(float *probs, const float *logits, int T, int V);
void lm_head_ce_cuda(float *losses, float *dx, const float *x, const float *W,
                     const int32_t *targets, int T, int C, int V, float grad_scale,
                     float softcap, float *scratch, int chunk);
long lm_head_correct_cuda(const float *x, const float *W, const int32_t *targets, int T, int C,
                          int V, float softcap, float *scratch, int chunk);

/* attention.cu (kernels/attention.h): fused, tiled, online softmax; no (T, T) buffer.
 * HD <= 256. opt is a HOST pointer (window, scale, soft cap; NULL: none); past in
 * attention_decode_cuda is a device array. */
void attention_forward_cuda(float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *seg, const struct attn_opts *opt,
                            int B, int T, int NH, int NKV, int HD);
void attention_backward_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                             const float *k, const float *v, const float *out, const float *lse,
                             const int32_t *seg, const struct attn_opts *opt, int B, int T,
                             int NH, int NKV, int HD);
void attention_decode_cuda(float *out, const float *q, const float *kc, const float *vc,
                           const int32_t *past, const struct attn_opts *opt, int B, int TN, int L,
                           int NH, int NKV, int HD);

/* attention_prefix.cu (kernels/attention.h): prefix tuning's slots merged into an attention's
 * out and lse, and their gradients. pos is a device array (T), opt a HOST pointer; HD <= 256.
 * The backward allocates (NH, T) floats stream-ordered while it runs. */
void attention_prefix_forward_cuda(float *out, float *lse, const float *q, const float *pk,
                                   const float *pv, size_t ps, const int32_t *pos,
                                   const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                                   int P);
void attention_prefix_backward_cuda(float *dq, float *dpk, float *dpv, const float *dout,
                                    const float *q, const float *pk, const float *pv, size_t ps,
                                    const float *out, const float *lse, const int32_t *pos,
                                    const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                                    int P);

#ifdef __cplusplus
}
#endif

#endif
