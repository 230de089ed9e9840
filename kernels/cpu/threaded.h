/* qlora-tools: ISC license. */
/*
 * Internal to kernels/cpu: the CPU backend's elementwise and row ops spread over the kernels'
 * threads (sgemm_threads(), kernels/gemm.h), for kernels/cpu/backend.c's table. Each piece
 * runs the serial op's own code on a span of rows or elements cut at boundaries that op never
 * looks across (whole rows; multiples of the vector chunk an element's path depends on), so
 * every result is the serial op's bit for bit, at any thread count. Small calls stay on the
 * calling thread: a pool call costs about 10-15 us.
 *
 * Why: between the GEMMs a training step ran these on one thread while the other cores
 * waited (on 2 Zen 3 cores, 12% of a SmolLM2 step's samples, a fifth of its wall time).
 */
#ifndef QT_KERNELS_CPU_THREADED_H
#define QT_KERNELS_CPU_THREADED_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/adamw.h"

void rmsnorm_backward_threaded(float *dx, const float *dout, const float *x, const float *w,
                               const float *rstd, int T, int C);
void residual_add_threaded(float *x, const float *y, size_t N);
void swiglu_forward_threaded(float *out, const float *gate, const float *up, size_t N);
void swiglu_backward_threaded(float *dgate, float *dup, const float *dout, const float *gate,
                              const float *up, size_t N);
void rope_forward_threaded(float *out, const float *x, const float *cos_t, const float *sin_t,
                           int T, int NH, int HD, int rot, int interleaved);
void rope_backward_threaded(float *dx, const float *dout, const float *cos_t,
                            const float *sin_t, int T, int NH, int HD, int rot,
                            int interleaved);
void columns_split_threaded(float *const *dst, const float *src, int T, const int *w, int n);
void columns_join_threaded(float *dst, const float *const *src, int T, const int *w, int n);
void dropout_forward_threaded(float *out, const float *x, size_t n, float p, float scale,
                              uint64_t seed);
void dropout_backward_threaded(float *dx, const float *dout, size_t n, float p, float scale,
                               uint64_t seed);
void adamw_step_threaded(float *p, const float *g, float *m, float *v, size_t n,
                         const struct adamw_hparams *h);

/* fn(ctx, lo, hi) over [0, n) in spans of `align` multiples (the last ends at n), on the
 * kernels' threads when n * cost (rough nanoseconds per item) is worth a pool call. */
typedef void (*span_fn)(void *ctx, size_t lo, size_t hi);
void cpu_spans(size_t n, size_t align, double cost, span_fn fn, void *ctx);

#endif
