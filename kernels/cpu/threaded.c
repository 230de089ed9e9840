/* qlora-tools: ISC license. */
/* The CPU backend's elementwise and row ops over the kernels' threads; see
 * kernels/cpu/threaded.h. */
#include "kernels/cpu/threaded.h"

#include "common/pool.h"
#include "kernels/columns.h"
#include "kernels/dropout.h"
#include "kernels/gemm.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/softcap.h"
#include "kernels/swiglu.h"

/* Work below this many (rough) nanoseconds stays on the calling thread. */
#define SERIAL_NS 30000.0

struct spans {
	span_fn fn;
	void   *ctx;
	size_t  n, len; /* span length, a multiple of the caller's alignment */
};

static void span_task(void *p, size_t i, int worker)
{
	const struct spans *s = p;
	(void)worker;
	size_t lo = i * s->len, hi = lo + s->len < s->n ? lo + s->len : s->n;
	s->fn(s->ctx, lo, hi);
}

void cpu_spans(size_t n, size_t align, double cost, span_fn fn, void *ctx)
{
	int threads = sgemm_threads();
	if (n == 0)
		return;
	if (threads <= 1 || (double)n * cost < SERIAL_NS) {
		fn(ctx, 0, n);
		return;
	}
	/* four spans a thread: a late thread does not hold the others up for long */
	size_t len = (n + 4 * (size_t)threads - 1) / (4 * (size_t)threads);
	len = (len + align - 1) / align * align;
	struct spans s = { fn, ctx, n, len };
	qt_pool_for(threads, (n + len - 1) / len, span_task, &s);
}

/* ---- rows ---- */

struct rms_bwd { float *dx; const float *dout, *x, *w, *rstd; int C; };

static void rms_bwd_span(void *p, size_t lo, size_t hi)
{
	const struct rms_bwd *a = p;
	size_t o = lo * (size_t)a->C;
	rmsnorm_backward(a->dx + o, a->dout + o, a->x + o, a->w, a->rstd + lo, (int)(hi - lo), a->C);
}

void rmsnorm_backward_threaded(float *dx, const float *dout, const float *x, const float *w,
                               const float *rstd, int T, int C)
{
	struct rms_bwd a = { dx, dout, x, w, rstd, C };
	cpu_spans((size_t)T, 1, 2.0 * C, rms_bwd_span, &a);
}

struct rope { float *out; const float *x, *cos_t, *sin_t; int NH, HD, rot, interleaved, back; };

static void rope_span(void *p, size_t lo, size_t hi)
{
	const struct rope *a = p;
	size_t o = lo * (size_t)a->NH * a->HD, c = lo * (size_t)(a->rot / 2);
	(a->back ? rope_backward_part : rope_forward_part)(a->out + o, a->x + o, a->cos_t + c,
	                                                  a->sin_t + c, (int)(hi - lo), a->NH,
	                                                  a->HD, a->rot, a->interleaved);
}

void rope_forward_threaded(float *out, const float *x, const float *cos_t, const float *sin_t,
                           int T, int NH, int HD, int rot, int interleaved)
{
	struct rope a = { out, x, cos_t, sin_t, NH, HD, rot, interleaved, 0 };
	cpu_spans((size_t)T, 1, (double)NH * HD, rope_span, &a);
}

void rope_backward_threaded(float *dx, const float *dout, const float *cos_t,
                            const float *sin_t, int T, int NH, int HD, int rot, int interleaved)
{
	struct rope a = { dx, dout, cos_t, sin_t, NH, HD, rot, interleaved, 1 };
	cpu_spans((size_t)T, 1, (double)NH * HD, rope_span, &a);
}

struct cols { float *const *dst; float *join; const float *src; const float *const *parts;
              const int *w; int n, W; };

static void split_span(void *p, size_t lo, size_t hi)
{
	const struct cols *a = p;
	float *dst[16];
	for (int i = 0; i < a->n; i++)
		dst[i] = a->dst[i] + lo * (size_t)a->w[i];
	columns_split(dst, a->src + lo * (size_t)a->W, (int)(hi - lo), a->w, a->n);
}

static void join_span(void *p, size_t lo, size_t hi)
{
	const struct cols *a = p;
	const float *src[16];
	for (int i = 0; i < a->n; i++)
		src[i] = a->parts[i] + lo * (size_t)a->w[i];
	columns_join(a->join + lo * (size_t)a->W, src, (int)(hi - lo), a->w, a->n);
}

static int width(const int *w, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += w[i];
	return s;
}

void columns_split_threaded(float *const *dst, const float *src, int T, const int *w, int n)
{
	if (n > 16) { /* the spans' pointer arrays hold 16; no caller has more than 3 */
		columns_split(dst, src, T, w, n);
		return;
	}
	struct cols a = { .dst = dst, .src = src, .w = w, .n = n, .W = width(w, n) };
	cpu_spans((size_t)T, 1, 0.3 * a.W, split_span, &a);
}

void columns_join_threaded(float *dst, const float *const *src, int T, const int *w, int n)
{
	if (n > 16) {
		columns_join(dst, src, T, w, n);
		return;
	}
	struct cols a = { .join = dst, .parts = src, .w = w, .n = n, .W = width(w, n) };
	cpu_spans((size_t)T, 1, 0.3 * a.W, join_span, &a);
}

/* ---- elements ---- */

struct elem { float *a, *b, *v; const float *c, *d, *e; float p, scale; uint64_t seed;
              const struct adamw_hparams *h; };

static void residual_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	residual_add(a->a + lo, a->c + lo, hi - lo);
}

void residual_add_threaded(float *x, const float *y, size_t N)
{
	struct elem a = { .a = x, .c = y };
	cpu_spans(N, 64, 0.3, residual_span, &a);
}

static void swiglu_fwd_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	swiglu_forward_fast(a->a + lo, a->c + lo, a->d + lo, hi - lo);
}

void swiglu_forward_threaded(float *out, const float *gate, const float *up, size_t N)
{
	struct elem a = { .a = out, .c = gate, .d = up };
	cpu_spans(N, SWIGLU_FAST_CHUNK, 1.5, swiglu_fwd_span, &a);
}

static void swiglu_bwd_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	swiglu_backward_fast(a->a + lo, a->b + lo, a->c + lo, a->d + lo, a->e + lo, hi - lo);
}

void swiglu_backward_threaded(float *dgate, float *dup, const float *dout, const float *gate,
                              const float *up, size_t N)
{
	struct elem a = { .a = dgate, .b = dup, .c = dout, .d = gate, .e = up };
	cpu_spans(N, SWIGLU_FAST_CHUNK, 2.0, swiglu_bwd_span, &a);
}

static void drop_fwd_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	dropout_forward_span(a->a, a->c, lo, hi, a->p, a->scale, a->seed);
}

void dropout_forward_threaded(float *out, const float *x, size_t n, float p, float scale,
                              uint64_t seed)
{
	struct elem a = { .a = out, .c = x, .p = p, .scale = scale, .seed = seed };
	cpu_spans(n, 64, 3.0, drop_fwd_span, &a);
}

static void drop_bwd_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	dropout_backward_span(a->a, a->c, lo, hi, a->p, a->scale, a->seed);
}

void dropout_backward_threaded(float *dx, const float *dout, size_t n, float p, float scale,
                               uint64_t seed)
{
	struct elem a = { .a = dx, .c = dout, .p = p, .scale = scale, .seed = seed };
	cpu_spans(n, 64, 3.0, drop_bwd_span, &a);
}

static void adamw_span(void *p, size_t lo, size_t hi)
{
	const struct elem *a = p;
	adamw_step(a->a + lo, a->c + lo, a->b + lo, a->v + lo, hi - lo, a->h);
}

void adamw_step_threaded(float *p, const float *g, float *m, float *v, size_t n,
                         const struct adamw_hparams *h)
{
	struct elem a = { .a = p, .b = m, .v = v, .c = g, .h = h };
	cpu_spans(n, 64, 4.0, adamw_span, &a);
}
