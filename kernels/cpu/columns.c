/* qlora-tools: ISC license. */
/* Column blocks; see kernels/columns.h. */
#include "kernels/columns.h"

#include <string.h>

static size_t width(const int *w, int n)
{
	size_t s = 0;
	for (int i = 0; i < n; i++)
		s += (size_t)w[i];
	return s;
}

void columns_split(float *const *dst, const float *src, int T, const int *w, int n)
{
	size_t W = width(w, n);
	for (int t = 0; t < T; t++) {
		const float *row = src + (size_t)t * W;
		for (int i = 0; i < n; i++) {
			memcpy(dst[i] + (size_t)t * w[i], row, (size_t)w[i] * sizeof(float));
			row += w[i];
		}
	}
}

void columns_join(float *dst, const float *const *src, int T, const int *w, int n)
{
	size_t W = width(w, n);
	for (int t = 0; t < T; t++) {
		float *row = dst + (size_t)t * W;
		for (int i = 0; i < n; i++) {
			memcpy(row, src[i] + (size_t)t * w[i], (size_t)w[i] * sizeof(float));
			row += w[i];
		}
	}
}
