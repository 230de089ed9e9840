/* qlora-tools: ISC license. */
/*
 * Internal to kernels/cpu: the cross-entropy's exponentials in double, four at a time, with
 * the bits of libm's exp (glibc's, since 2.28: a 128-entry table of 2^(k/128), a degree-5
 * polynomial, the FMA build x86-64 glibc runs on CPUs with AVX2 and FMA). Every lane computes
 * what that code computes, operation for operation; arguments its fast path does not take
 * (|x| < 2^-54, |x| >= 512, NaN) go to exp() itself. So the cross-entropy's sums and
 * gradients keep their bits (and every golden and adapter), only faster: the scalar calls were
 * 5.5% of a SmolLM2 training step. On other CPUs, or if QT_EXP_LIBM=scalar is set, the same
 * loops call exp(). tests/kernels/test_exp_libm.c compares every path with exp() bit for bit.
 */
#ifndef QT_KERNELS_CPU_EXP_LIBM_H
#define QT_KERNELS_CPU_EXP_LIBM_H

/* Sum over i < n of exp((double)x[i] - m), added in order of i (as a loop of exp() calls). */
double exp_libm_sum(const float *x, int n, double m);

/* out[i] = (float)exp((double)x[i] - m) * scale for i < n; out may alias x. */
void exp_libm_scale(float *out, const float *x, int n, double m, float scale);

/* exp(x[i]) into out[i] for i < n (the test's entry: any doubles). */
void exp_libm_many(double *out, const double *x, int n);

/* Non-zero when the vector path runs on this CPU. */
int exp_libm_vector(void);

#endif
