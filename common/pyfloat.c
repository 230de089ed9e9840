/* qlora-tools: ISC license. */
/* Python round(x, 4), float repr and np.mean in C; see pyfloat.h. */
#include "common/pyfloat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double py_round4(double x)
{
	char buf[400];
	if (!isfinite(x))
		return x;
	snprintf(buf, sizeof buf, "%.4f", x);
	return strtod(buf, NULL);
}

/* numpy loops_utils.h.src pairwise_sum (PW_BLOCKSIZE 128, 8-way unrolled) */
static double pairwise(const double *a, size_t n)
{
	if (n < 8) {
		double res = 0.0;
		for (size_t i = 0; i < n; i++)
			res += a[i];
		return res;
	}
	if (n <= 128) {
		double r[8];
		for (int j = 0; j < 8; j++)
			r[j] = a[j];
		size_t i;
		for (i = 8; i < n - (n % 8); i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + j];
		double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

#define NP_BUFSIZE 8192 /* numpy 1.x default ufunc buffer: the reduction runs chunk by chunk */

double py_mean(const double *a, size_t n, enum py_mean how)
{
	double s = 0.0;
	if (how == PY_MEAN_NAIVE) {
		for (size_t i = 0; i < n; i++)
			s += a[i];
	} else if (how == PY_MEAN_NUMPY2) {
		s += pairwise(a, n);
	} else {
		for (size_t i = 0; i < n; i += NP_BUFSIZE)
			s += pairwise(a + i, n - i < NP_BUFSIZE ? n - i : NP_BUFSIZE);
	}
	return s / (double)n;
}

char *py_float_repr(double x, char *buf)
{
	if (isnan(x))
		return strcpy(buf, "nan");
	if (isinf(x))
		return strcpy(buf, x < 0 ? "-inf" : "inf");
	if (x == 0)
		return strcpy(buf, signbit(x) ? "-0.0" : "0.0");
	char e[40], dig[20];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, x);
		if (strtod(e, NULL) == x)
			break;
	}
	/* e = "-d.ddde+XX": collect the digits and the exponent */
	const char *p = e;
	int neg = *p == '-', nd = 0;
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			dig[nd++] = *p;
	int e10 = atoi(p + 1);
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	dig[nd] = 0;
	int decpt = e10 + 1;
	char *o = buf;
	if (neg)
		*o++ = '-';
	if (decpt <= -4 || decpt > 16) {
		*o++ = dig[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		sprintf(o, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
	} else if (decpt <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -decpt; i++)
			*o++ = '0';
		strcpy(o, dig);
	} else if (decpt >= nd) {
		memcpy(o, dig, (size_t)nd);
		o += nd;
		for (int i = nd; i < decpt; i++)
			*o++ = '0';
		strcpy(o, ".0");
	} else {
		memcpy(o, dig, (size_t)decpt);
		o += decpt;
		*o++ = '.';
		strcpy(o, dig + decpt);
	}
	return buf;
}
