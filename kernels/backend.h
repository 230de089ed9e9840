/* qlora-tools: ISC license. */
/*
 * The backend table: every op the model (kernels/model/) composes, forward and backward, and
 * the memory operations around them, as one struct of function pointers per backend. The
 * model is written once over it; kernels/cpu/backend.c fills qt_backend_cpu and
 * kernels/cuda/backend_cuda.c fills qt_backend_cuda (only in a build with nvcc: a build without it
 * simply has no CUDA table to find, see qt_backend_of).
 *
 * Every op takes the arguments of its CPU declaration in kernels/<op>.h, on pointers in the
 * backend's memory (alloc/upload/download); n_threads is the CPU's and other backends ignore
 * it. Ops report nothing: errors are sticky per backend (error(), like cudaGetLastError) and
 * sync() returns -1 once one happened. A NULL entry is an op the backend does not have; the
 * model names what it would need (llama_backend_missing in kernels/model/llama.h) before
 * running, so nothing runs half-supported. `caps` says which variants of present ops work.
 */
#ifndef QT_KERNELS_BACKEND_H
#define QT_KERNELS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/frozen.h"

/* Variants of present ops a backend implements (bits of caps). */
#define QT_CAP_ATTN_SCALE_CAP 1  /* attention with attn_opts.scale/softcap, final soft cap */
#define QT_CAP_ROPE_PARTIAL   2  /* rope_*_part with rot < HD or interleaved pairs */
#define QT_CAP_NF4_LM_HEAD    4  /* lm_head_ce on an NF4 head (never yet: the head is f32) */

struct qt_backend {
	const char *name;  /* "cpu", "cuda" */
	int host;          /* 1: its memory is host memory, read and written directly */
	unsigned caps;
	int attn_max_hd;   /* the largest head_dim its attention ops take; 0: any */

	/* memory; alloc NULL when out of memory. upload/download/sync: 0, or -1 (see error) */
	void *(*alloc)(size_t bytes);
	void  (*free)(void *p);
	int   (*upload)(void *dst, const void *src_host, size_t bytes);
	int   (*download)(void *dst_host, const void *src, size_t bytes);
	void  (*copy)(void *dst, const void *src, size_t bytes);
	void  (*zero)(void *dst, size_t bytes);
	int   (*sync)(void);
	const char *(*error)(void); /* the first error since error_clear, or NULL */
	void  (*error_clear)(void);

	/* kernels/embedding.h */
	void (*embedding_forward)(float *out, const int32_t *ids, const float *table, int T, int C,
	                          int V);
	/* a bf16 table (llama_model.embed_b); NULL on devices, which get f32 copies */
	void (*embedding_forward_bf16)(float *out, const int32_t *ids, const uint16_t *table, int T,
	                               int C, int V);
	void (*embedding_scale)(float *x, size_t n, float s);
	void (*neftune_forward)(float *x, size_t n, float mag, uint64_t seed);
	/* kernels/rmsnorm.h */
	void (*rmsnorm_forward)(float *out, float *rstd, const float *x, const float *w, int T,
	                        int C, float eps, int n_threads);
	void (*rmsnorm_backward)(float *dx, const float *dout, const float *x, const float *w,
	                         const float *rstd, int T, int C);
	/* kernels/matmul.h (trainable weights and activations) */
	void (*linear_forward)(float *out, const float *x, const float *W, const float *bias, int T,
	                       int C, int OC, float alpha, float beta);
	void (*linear_backward_x)(float *dx, const float *dout, const float *W, int T, int C, int OC,
	                          float alpha);
	void (*linear_backward_w)(float *dW, float *dbias, const float *dout, const float *x, int T,
	                          int C, int OC, float alpha);
	void (*bias_forward)(float *out, const float *bias, int T, int OC);
	/* frozen weights (kernels/frozen.h): out = beta * out + x W^T + bias. `infer` is the
	 * inference path (matrix-vector products for few rows), `train` the training path, its
	 * backward dx += dout W; both need frozen_scratch(w, T) bytes of scratch */
	size_t (*frozen_scratch)(const struct frozen_linear *w, int T);
	void (*frozen_infer)(float *out, const float *x, const struct frozen_linear *w, int T,
	                     float beta, void *scratch, int n_threads);
	void (*frozen_train)(float *out, const float *x, const struct frozen_linear *w, int T,
	                     float beta, void *scratch);
	void (*frozen_train_backward_x)(float *dx, const float *dout, const struct frozen_linear *w,
	                                int T, void *scratch);
	/* kernels/columns.h, kernels/softcap.h (residual_add) */
	void (*columns_split)(float *const *dst, const float *src, int T, const int *w, int n);
	void (*columns_join)(float *dst, const float *const *src, int T, const int *w, int n);
	void (*residual_add)(float *x, const float *y, size_t N);
	void (*softcap_forward)(float *y, const float *x, size_t N, float c);
	void (*softcap_backward)(float *dx, const float *dy, const float *y, size_t N, float c);
	/* kernels/rope.h */
	void (*rope_forward_part)(float *out, const float *x, const float *cos_t, const float *sin_t,
	                          int T, int NH, int HD, int rot, int interleaved);
	void (*rope_backward_part)(float *dx, const float *dout, const float *cos_t,
	                           const float *sin_t, int T, int NH, int HD, int rot,
	                           int interleaved);
	/* kernels/attention.h */
	void (*attention_forward)(float *out, float *lse, const float *q, const float *k,
	                          const float *v, const int32_t *seg, const struct attn_opts *opt,
	                          int B, int T, int NH, int NKV, int HD, int n_threads);
	void (*attention_backward)(float *dq, float *dk, float *dv, const float *dout,
	                           const float *q, const float *k, const float *v, const float *out,
	                           const float *lse, const int32_t *seg, const struct attn_opts *opt,
	                           int B, int T, int NH, int NKV, int HD, int n_threads);
	void (*attention_decode)(float *out, const float *q, const float *kc, const float *vc,
	                         const int32_t *past, const struct attn_opts *opt, int B, int TN,
	                         int L, int NH, int NKV, int HD, int n_threads);
	void (*attention_prefix_forward)(float *out, float *lse, const float *q, const float *pk,
	                                 const float *pv, size_t ps, const int32_t *pos,
	                                 const struct attn_opts *opt, int T, int NH, int NKV, int HD,
	                                 int P);
	void (*attention_prefix_backward)(float *dq, float *dpk, float *dpv, const float *dout,
	                                  const float *q, const float *pk, const float *pv, size_t ps,
	                                  const float *out, const float *lse, const int32_t *pos,
	                                  const struct attn_opts *opt, int T, int NH, int NKV,
	                                  int HD, int P);
	/* kernels/swiglu.h, kernels/geglu.h */
	void (*swiglu_forward)(float *out, const float *gate, const float *up, size_t N);
	void (*swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate,
	                        const float *up, size_t N);
	void (*geglu_forward)(float *out, const float *gate, const float *up, size_t N);
	void (*geglu_backward)(float *dgate, float *dup, const float *dout, const float *gate,
	                       const float *up, size_t N);
	/* kernels/dropout.h */
	void (*dropout_forward)(float *out, const float *x, size_t n, float p, float scale,
	                        uint64_t seed);
	void (*dropout_backward)(float *dx, const float *dout, size_t n, float p, float scale,
	                         uint64_t seed);
	/* kernels/cross_entropy.h; lm_head_correct returns the count on the host */
	void (*lm_head_ce)(float *losses, float *dx, const float *x, const float *W,
	                   const int32_t *targets, int T, int C, int V, float grad_scale,
	                   float softcap, float *scratch, int chunk);
	long (*lm_head_correct)(const float *x, const float *W, const int32_t *targets, int T,
	                        int C, int V, float softcap, float *scratch, int chunk);
	/* a bf16 head (lm_head.wb without w); NULL on devices, which get the f32 head */
	void (*lm_head_ce_bf16)(float *losses, float *dx, const float *x, const uint16_t *Wb,
	                        const int32_t *targets, int T, int C, int V, float grad_scale,
	                        float softcap, float *scratch, int chunk);
	long (*lm_head_correct_bf16)(const float *x, const uint16_t *Wb, const int32_t *targets,
	                             int T, int C, int V, float softcap, float *scratch, int chunk);
	/* Optional (NULL: lm_head_ce without dx, then lm_head_correct): both at once, the logits
	 * made once; the same losses and count. The head is W, or Wb when W is NULL. */
	long (*lm_head_eval)(float *losses, const float *x, const float *W, const uint16_t *Wb,
	                     const int32_t *targets, int T, int C, int V, float softcap,
	                     float *scratch, int chunk);
	/* kernels/adamw.h; grad_sumsq adds into a double in the backend's memory */
	void (*adamw_step)(float *p, const float *g, float *m, float *v, size_t n,
	                   const struct adamw_hparams *h);
	void (*grad_sumsq)(double *sumsq, const float *g, size_t n);
	void (*grad_scale)(float *g, size_t n, float coef);
};

extern const struct qt_backend qt_backend_cpu;
/* Defined by kernels/cuda/backend_cuda.c in a build with nvcc; a weak reference, so a build
 * without CUDA has none (its address is NULL). */
extern const struct qt_backend qt_backend_cuda __attribute__((weak));

/* The table of a kernels/device.h device (QT_DEVICE_CPU, QT_DEVICE_CUDA), or NULL when this
 * build has none for it. */
const struct qt_backend *qt_backend_of(int dev);

/* A copy of n host bytes in be's memory (NULL when out of memory or on a device error). */
void *qt_backend_dup(const struct qt_backend *be, const void *src, size_t n);

#endif
