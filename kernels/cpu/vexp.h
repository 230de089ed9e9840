/* qlora-tools: ISC license. */
/*
 * Vectorised softmax row pieces for the fast CPU attention (kernels/cpu/attention_fast.c) and
 * the sigmoid of the fast SwiGLU:
 * exp through Cephes' expf polynomial (range reduction by ln 2, degree-6 polynomial, within
 * 2 ulp of expf over [-87.3, 88.7]; inputs below -87.3 give about 1e-38 instead of a denormal
 * or 0), 16 floats a step with AVX-512F, 8 with AVX2 + FMA, chosen at run time; other CPUs
 * (or VX_SCALAR) use libm's expf. The result of an element depends on its position in the
 * row and on the CPU, never on the thread count.
 */
#ifndef QT_KERNELS_CPU_VEXP_H
#define QT_KERNELS_CPU_VEXP_H

enum vx_isa { VX_SCALAR, VX_AVX2, VX_AVX512 };

/* max of x[0..n), n >= 1 */
float vx_max(const float *x, int n);
/* x[i] = exp(x[i] - m) for i < n; returns their sum (n >= 0) */
float vx_exp_sum(float *x, int n, float m);
/* x[i] /= d for i < n (IEEE division: the same bits on every path) */
void vx_div(float *x, int n, float d);
/* Softmax backward of a row: p = exp(s - lse); s = p; dp = p * (dp - D) * scale. */
void vx_softmax_grad(float *s, float *dp, int n, float lse, float D, float scale);

/* s[i] = 1 / (1 + exp(-x[i])) for i < n (n >= 0), through the same exp (kernels/cpu/swiglu.c's
 * fast SwiGLU). */
void vx_sigmoid(float *s, const float *x, int n);

/* The ISA in use (the best this CPU has, unless set); vx_set_isa for tests: a request above
 * what the CPU can execute is lowered to what it can. Not thread-safe against running rows. */
enum vx_isa vx_get_isa(void);
void vx_set_isa(enum vx_isa isa);

#endif
