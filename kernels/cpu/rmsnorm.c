/* qlora-tools: ISC license. */
/* RMSNorm forward/backward, plain-loop reference plus a row-parallel variant. */
#include "kernels/rmsnorm.h"

#include <math.h>

#include "common/pool.h"

static void row_forward(float *out, float *rstd, const float *x, const float *w, int C, float eps)
{
	double ss = 0;
	for (int i = 0; i < C; i++)
		ss += (double)x[i] * x[i];
	float var = (float)(ss / C);
	float r = 1.0f / sqrtf(var + eps);
	for (int i = 0; i < C; i++)
		out[i] = w[i] * (x[i] * r);
	if (rstd)
		*rstd = r;
}

/* x: (T, C); w: (C); out: (T, C); rstd: (T) or NULL */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int T, int C,
                     float eps)
{
	for (int t = 0; t < T; t++)
		row_forward(out + (size_t)t * C, rstd ? rstd + t : NULL, x + (size_t)t * C, w, C, eps);
}

struct rms_ctx { float *out, *rstd; const float *x, *w; int T, C, rows; float eps; };

static void rms_task(void *p, size_t i, int worker)
{
	struct rms_ctx *c = p;
	(void)worker;
	int t0 = (int)i * c->rows, t1 = t0 + c->rows < c->T ? t0 + c->rows : c->T;
	for (int t = t0; t < t1; t++)
		row_forward(c->out + (size_t)t * c->C, c->rstd ? c->rstd + t : NULL,
		            c->x + (size_t)t * c->C, c->w, c->C, c->eps);
}

/* x: (T, C); w: (C); out: (T, C); rstd: (T) or NULL */
void rmsnorm_forward_fast(float *out, float *rstd, const float *x, const float *w, int T, int C,
                          float eps, int n_threads)
{
	/* a pool call costs 10-15 us: about 16k elements' work */
	if ((size_t)T * C < ((size_t)1 << 15) || n_threads == 1) {
		rmsnorm_forward(out, rstd, x, w, T, C, eps);
		return;
	}
	struct rms_ctx c = { out, rstd, x, w, T, C, 16, eps };
	qt_pool_for(n_threads, (size_t)(T + c.rows - 1) / c.rows, rms_task, &c);
}

/* dx: (T, C) +=; dout: (T, C); x: (T, C); w: (C); rstd: (T) */
void rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w,
                      const float *rstd, int T, int C)
{
	for (int t = 0; t < T; t++) {
		const float *xr = x + (size_t)t * C, *dr = dout + (size_t)t * C;
		float *dxr = dx + (size_t)t * C;
		double r = rstd[t], dot = 0;
		for (int i = 0; i < C; i++)
			dot += (double)w[i] * dr[i] * xr[i];
		double k = dot * r * r * r / C;
		for (int i = 0; i < C; i++)
			dxr[i] += (float)(r * w[i] * dr[i] - k * xr[i]);
	}
}
