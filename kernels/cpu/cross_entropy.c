/* qlora-tools: ISC license. */
/* Cross-entropy forward / fused softmax backward, softmax rows, chunked LM head + CE. */
#include "kernels/cross_entropy.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/exp_libm.h"
#include "kernels/cpu/threaded.h"
#include "kernels/frozen.h"
#include "kernels/matmul.h"
#include "kernels/softcap.h"

/* Row max and log-sum-exp (sum in double, libm's exp: kernels/cpu/exp_libm.h). */
static float row_lse(const float *x, int V, float *maxp)
{
	float m = -INFINITY;
	for (int i = 0; i < V; i++)
		m = x[i] > m ? x[i] : m;
	double s = exp_libm_sum(x, V, m);
	*maxp = m;
	return (float)(m + log(s));
}

/* losses: (T); loss: NULL or +=; logits: (T, V); targets: (T) */
void cross_entropy_forward(float *losses, float *loss, const float *logits,
                           const int32_t *targets, int T, int V, float normalizer)
{
	double sum = 0;
	for (int t = 0; t < T; t++) {
		const float *x = logits + (size_t)t * V;
		float m, l = 0;
		if (targets[t] >= 0 && targets[t] < V)
			l = row_lse(x, V, &m) - x[targets[t]];
		if (losses)
			losses[t] = l;
		sum += l;
	}
	if (loss)
		*loss += (float)(sum / normalizer);
}

/* dlogits: (T, V) written, may alias logits; losses: (T) or NULL; logits: (T, V); targets: (T) */
void cross_entropy_backward(float *dlogits, float *losses, const float *logits,
                            const int32_t *targets, int T, int V, float grad_scale)
{
	for (int t = 0; t < T; t++) {
		const float *x = logits + (size_t)t * V;
		float *d = dlogits + (size_t)t * V;
		int y = targets[t];
		if (y < 0 || y >= V) {
			if (losses)
				losses[t] = 0;
			memset(d, 0, sizeof(float) * V);
			continue;
		}
		float m, lse = row_lse(x, V, &m);
		if (losses)
			losses[t] = lse - x[y];
		exp_libm_scale(d, x, V, lse, grad_scale);
		d[y] -= grad_scale;
	}
}

/* probs, logits: (T, V); probs may alias logits */
void softmax_forward(float *probs, const float *logits, int T, int V)
{
	for (int t = 0; t < T; t++) {
		const float *x = logits + (size_t)t * V;
		float *p = probs + (size_t)t * V, m;
		float lse = row_lse(x, V, &m);
		exp_libm_scale(p, x, V, lse, 1.0f);
	}
}

size_t lm_head_ce_scratch(int chunk, int C, int V)
{
	return (size_t)chunk * ((size_t)V + 2 * (size_t)C + 2) + (size_t)V;
}

/* Gathers the next chunk of at most `chunk` rows with a target, from row *t on: their indices
 * in rows, targets in tg, rows of x in xs, and their logits (soft-capped when softcap > 0) in
 * logits. Returns how many (0 when none is left). */
static int chunk_logits(float *logits, float *xs, int32_t *rows, int32_t *tg, const float *x,
                        const struct frozen_linear *W, const int32_t *targets, int *t, int T,
                        int C, int V, float softcap, int chunk)
{
	int n = 0;
	for (; *t < T && n < chunk; (*t)++)
		if (targets[*t] >= 0 && targets[*t] < V) {
			rows[n] = *t;
			tg[n] = targets[*t];
			memcpy(xs + (size_t)n * C, x + (size_t)*t * C, sizeof(float) * C);
			n++;
		}
	if (n > 0) {
		frozen_train(logits, xs, W, n, 0.0f, NULL);
		if (softcap > 0)
			softcap_forward(logits, logits, (size_t)n * V, softcap);
	}
	return n;
}

/* cross_entropy_backward of rows [lo, hi) of a chunk, in place: rows are independent, so
 * they run on the kernels' threads (the LM head's exponentials were 6% of a SmolLM2 step's
 * samples, all on one thread). */
struct ce_rows { float *logits, *losses; const int32_t *targets; int V; float grad_scale; };

static void ce_rows_span(void *p, size_t lo, size_t hi)
{
	const struct ce_rows *r = p;
	float *x = r->logits + lo * (size_t)r->V;
	cross_entropy_backward(x, r->losses + lo, x, r->targets + lo, (int)(hi - lo), r->V,
	                       r->grad_scale);
}

static void ce_loss_span(void *p, size_t lo, size_t hi)
{
	const struct ce_rows *r = p;
	cross_entropy_forward(r->losses + lo, NULL, r->logits + lo * (size_t)r->V, r->targets + lo,
	                      (int)(hi - lo), r->V, 1.0f);
}

/* Whether row i's largest logit is at its target, for rows [lo, hi) (argmax as torch). */
struct argmax_rows { const float *logits; const int32_t *targets; int V; int *hit; };

static void argmax_span(void *p, size_t lo, size_t hi)
{
	const struct argmax_rows *a = p;
	for (size_t i = lo; i < hi; i++) {
		const float *row = a->logits + i * (size_t)a->V;
		int b = 0;
		for (int v = 1; v < a->V; v++) /* torch.argmax: a NaN is the largest */
			if (row[v] > row[b] || (isnan(row[v]) && !isnan(row[b])))
				b = v;
		a->hit[i] = b == a->targets[i];
	}
}

/* The head W (V, C) as f32 or bf16 rows: kernels/frozen.h's training products, f32 as
 * linear_forward_fast and linear_backward_x_fast, bf16 made f32 a tile at a time. */
static struct frozen_linear head_of(const float *W, const uint16_t *Wb, int C, int V)
{
	return (struct frozen_linear){ .OC = V, .C = C, .w = W, .wb = Wb };
}

/* losses: (T); dx: (T, C) += or NULL; x: (T, C); W: (V, C); targets: (T) */
static void head_ce(float *losses, float *dx, const float *x, const struct frozen_linear *head,
                    const int32_t *targets, int T, int C, int V, float grad_scale,
                    float softcap, float *scratch, int chunk)
{
	struct frozen_linear h = *head, *W = &h;
	frozen_pack(W, dx != NULL); /* --bf16: once for the chunks */
	float *logits = scratch, *xs = logits + (size_t)chunk * V, *dxs = xs + (size_t)chunk * C;
	int32_t *rows = (int32_t *)(dxs + (size_t)chunk * C), *tg = rows + chunk;
	float *drow = (float *)(tg + chunk); /* (V): one row's gradient before the cap's */
	for (int t = 0; t < T; t++)
		losses[t] = 0;
	int t = 0, n;
	while ((n = chunk_logits(logits, xs, rows, tg, x, W, targets, &t, T, C, V, softcap,
	                         chunk)) > 0) {
		if (!dx) {
			struct ce_rows r = { logits, dxs, tg, V, 0.0f };
			cpu_spans((size_t)n, 1, 10.0 * V, ce_loss_span, &r);
			for (int i = 0; i < n; i++)
				losses[rows[i]] = dxs[i];
			continue;
		}
		if (softcap > 0) {
			for (int i = 0; i < n; i++) {
				float *row = logits + (size_t)i * V;
				cross_entropy_backward(drow, dxs + i, row, tg + i, 1, V, grad_scale);
				softcap_backward(row, drow, row, (size_t)V, softcap);
			}
		} else {
			struct ce_rows r = { logits, dxs, tg, V, grad_scale };
			cpu_spans((size_t)n, 1, 20.0 * V, ce_rows_span, &r);
		}
		for (int i = 0; i < n; i++)
			losses[rows[i]] = dxs[i];
		memset(dxs, 0, sizeof(float) * (size_t)n * C);
		frozen_train_backward_x(dxs, logits, W, n, NULL);
		for (int i = 0; i < n; i++)
			for (int c = 0; c < C; c++)
				dx[(size_t)rows[i] * C + c] += dxs[(size_t)i * C + c];
	}
	frozen_unpack(W);
}

void lm_head_ce(float *losses, float *dx, const float *x, const float *W,
                const int32_t *targets, int T, int C, int V, float grad_scale, float softcap,
                float *scratch, int chunk)
{
	struct frozen_linear h = head_of(W, NULL, C, V);
	head_ce(losses, dx, x, &h, targets, T, C, V, grad_scale, softcap, scratch, chunk);
}

void lm_head_ce_bf16(float *losses, float *dx, const float *x, const uint16_t *Wb,
                     const int32_t *targets, int T, int C, int V, float grad_scale,
                     float softcap, float *scratch, int chunk)
{
	struct frozen_linear h = head_of(NULL, Wb, C, V);
	head_ce(losses, dx, x, &h, targets, T, C, V, grad_scale, softcap, scratch, chunk);
}

/* x: (T, C); W: (V, C); targets: (T). Logits rows are made as lm_head_ce makes them. */
static long head_correct(const float *x, const struct frozen_linear *head,
                         const int32_t *targets, int T, int C, int V, float softcap,
                         float *scratch, int chunk)
{
	struct frozen_linear h = *head, *W = &h;
	frozen_pack(W, 0);
	float *logits = scratch, *xs = logits + (size_t)chunk * V; /* lm_head_ce's layout */
	int32_t *rows = (int32_t *)(xs + 2 * (size_t)chunk * C), *tg = rows + chunk;
	long hits = 0;
	int t = 0, n;
	while ((n = chunk_logits(logits, xs, rows, tg, x, W, targets, &t, T, C, V, softcap,
	                         chunk)) > 0) {
		int *hit = (int *)(xs + (size_t)chunk * C); /* lm_head_ce's dxs: unused here */
		struct argmax_rows a = { logits, tg, V, hit };
		cpu_spans((size_t)n, 1, 1.0 * V, argmax_span, &a);
		for (int i = 0; i < n; i++)
			hits += hit[i];
	}
	frozen_unpack(W);
	return hits;
}

long lm_head_correct(const float *x, const float *W, const int32_t *targets, int T, int C,
                     int V, float softcap, float *scratch, int chunk)
{
	struct frozen_linear h = head_of(W, NULL, C, V);
	return head_correct(x, &h, targets, T, C, V, softcap, scratch, chunk);
}

long lm_head_correct_bf16(const float *x, const uint16_t *Wb, const int32_t *targets, int T,
                          int C, int V, float softcap, float *scratch, int chunk)
{
	struct frozen_linear h = head_of(NULL, Wb, C, V);
	return head_correct(x, &h, targets, T, C, V, softcap, scratch, chunk);
}

long lm_head_eval(float *losses, const float *x, const float *W, const uint16_t *Wb,
                  const int32_t *targets, int T, int C, int V, float softcap, float *scratch,
                  int chunk)
{
	struct frozen_linear h = head_of(W, W ? NULL : Wb, C, V);
	frozen_pack(&h, 0);
	float *logits = scratch, *xs = logits + (size_t)chunk * V, *dxs = xs + (size_t)chunk * C;
	int32_t *rows = (int32_t *)(dxs + (size_t)chunk * C), *tg = rows + chunk;
	long hits = 0;
	for (int t = 0; t < T; t++)
		losses[t] = 0;
	int t = 0, n;
	while ((n = chunk_logits(logits, xs, rows, tg, x, &h, targets, &t, T, C, V, softcap,
	                         chunk)) > 0) {
		int *hit = (int *)xs; /* the gathered rows are spent once the logits are made */
		struct ce_rows r = { logits, dxs, tg, V, 0.0f };
		cpu_spans((size_t)n, 1, 10.0 * V, ce_loss_span, &r);
		struct argmax_rows a = { logits, tg, V, hit };
		cpu_spans((size_t)n, 1, 1.0 * V, argmax_span, &a);
		for (int i = 0; i < n; i++) {
			losses[rows[i]] = dxs[i];
			hits += hit[i];
		}
	}
	frozen_unpack(&h);
	return hits;
}
