/* qlora-tools: ISC license. */
/*
 * Python/numpy float semantics the ChatGLM metric depends on: round(x, 4), float.__repr__
 * (shortest round-trip digits) and np.mean's pairwise summation. Reference: reference.md 9.3, 9.4.
 */
#ifndef QT_COMMON_PYFLOAT_H
#define QT_COMMON_PYFLOAT_H

#include <stddef.h>

/* Python round(x, 4): the exact binary value of x rounded to 4 decimals, ties to even, then the
 * nearest double (glibc printf/strtod are exact, so "%.4f" then strtod is that). */
double py_round4(double x);

/* How the per-sample values are averaged. */
enum py_mean {
	PY_MEAN_NUMPY1,  /* float(np.mean(list)), numpy 1.x (checked: 1.24.2): the pairwise sum
	                  * runs per 8192-element buffer chunk, chunk sums added in order */
	PY_MEAN_NUMPY2,  /* numpy 2.x (checked: 2.4.6): one pairwise sum over the whole array */
	PY_MEAN_NAIVE,   /* sum(v) / len(v) left to right (LLaMA-Factory scripts/eval_bleu_rouge.py) */
};

/* The mean of a[0..n) (n > 0) in the given way. numpy's pairwise sum: below 8 elements a plain
 * loop; up to 128, eight accumulators then the rest; above, split at n/2 rounded down to a
 * multiple of 8. Differences between the modes are in the last bits, for n > 8192 (numpy). */
double py_mean(const double *a, size_t n, enum py_mean how);

/* Writes repr(x) (Python's float repr: the shortest string that reads back as x; ".0" added to
 * integers; exponent form below 1e-4 and from 1e16) into buf (>= 32 bytes); returns buf.
 * inf/nan as Python's "inf", "-inf", "nan" (not JSON; never produced by the metrics). */
char *py_float_repr(double x, char *buf);

#endif
