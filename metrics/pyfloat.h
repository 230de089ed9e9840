/* qlora-tools: ISC license. */
/*
 * Python/numpy float semantics the ChatGLM metric depends on: round(x, 4), float.__repr__
 * (shortest round-trip digits) and np.mean's pairwise summation. Reference: reference.md 9.3, 9.4.
 */
#ifndef QT_METRICS_PYFLOAT_H
#define QT_METRICS_PYFLOAT_H

#include <stddef.h>

/* Python round(x, 4): the exact binary value of x rounded to 4 decimals, ties to even, then the
 * nearest double (glibc printf/strtod are exact, so "%.4f" then strtod is that). */
double py_round4(double x);

/* float(np.mean(a[0..n))) as numpy computes it for a contiguous float64 array: chunks of 8192
 * elements summed pairwise (8 accumulators below 128 elements), chunk sums added in order, then
 * divided by n. n must be > 0. */
double py_np_mean(const double *a, size_t n);

/* Writes repr(x) (Python's float repr: the shortest string that reads back as x; ".0" added to
 * integers; exponent form below 1e-4 and from 1e16) into buf (>= 32 bytes); returns buf.
 * inf/nan as Python's "inf", "-inf", "nan" (not JSON; never produced by the metrics). */
char *py_float_repr(double x, char *buf);

#endif
