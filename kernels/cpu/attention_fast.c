/* qlora-tools: ISC license. */
/*
 * Fast CPU attention: per (batch, head, block of QB query rows) the score block
 * S = scale * Q K^T over the keys the block can see, masked softmax rows on the pool, then
 * SGEMMs for P V (forward) and dQ, dK, dV (backward). GEMMs run one after another, each
 * tiled over the threads by kernels/gemm.h; the elementwise row work is spread with
 * common/pool.h. Rows whose visible keys form one range (contiguous segments, no soft cap:
 * every model so far but Gemma-2) take the vectorised exp of kernels/cpu/vexp.h over that
 * range; the others test each key and use libm's expf.
 * Tested against kernels/cpu/attention.c.
 */
#include "kernels/attention.h"

#include <math.h>
#include <stdlib.h>

#include "common/pool.h"
#include "kernels/cpu/vexp.h"
#include "kernels/gemm.h"

enum { QB = 128 };

struct rows {
	float *S, *dP;              /* (m, n) blocks */
	const int32_t *seg;         /* (T) of this batch row, or NULL */
	const int *first;           /* (T) first key each row sees, when ranged */
	int ranged;                 /* row t sees exactly keys first[t]..t: no per-key test */
	int window;                 /* keys more than window - 1 back are hidden; 0: none */
	float cap;                  /* soft cap of the scores; 0: none */
	const float *dout, *out;    /* this head's rows, stride qs */
	float *lse;                 /* this head's (T) lse */
	const float *lse_in;
	int r0, k0, n, HD;
	size_t qs;
	float scale;
	int backward;
};

static int visible(const struct rows *c, int t, int j)
{
	return j <= t && j >= window_start(t, c->window) && (!c->seg || c->seg[j] == c->seg[t]);
}

static void zero(float *x, int n)
{
	for (int j = 0; j < n; j++)
		x[j] = 0;
}

/* A row whose visible keys are the range [lo, hi] of its n columns, without a soft cap: the
 * vectorised exp of kernels/cpu/vexp.h over the range, zeros around it. */
static void ranged_row(const struct rows *c, int t, float *s, float *dp)
{
	int lo = c->first[t] - c->k0, hi = t - c->k0, w = hi - lo + 1;
	if (!c->backward) {
		float m = vx_max(s + lo, w);
		float sum = vx_exp_sum(s + lo, w, m);
		vx_div(s + lo, w, sum);
		zero(s, lo), zero(s + hi + 1, c->n - hi - 1);
		if (c->lse)
			c->lse[t] = m + logf(sum);
		return;
	}
	const float *dor = c->dout + (size_t)t * c->qs, *orow = c->out + (size_t)t * c->qs;
	float D = 0;
	for (int d = 0; d < c->HD; d++)
		D += dor[d] * orow[d];
	vx_softmax_grad(s + lo, dp + lo, w, c->lse_in[t], D, c->scale);
	zero(s, lo), zero(s + hi + 1, c->n - hi - 1);
	zero(dp, lo), zero(dp + hi + 1, c->n - hi - 1);
}

static void row_task(void *p, size_t i, int worker)
{
	const struct rows *c = p;
	(void)worker;
	int t = c->r0 + (int)i;
	float *s = c->S + i * c->n;
	if (c->ranged) {
		ranged_row(c, t, s, c->backward ? c->dP + i * c->n : NULL);
		return;
	}
	if (!c->backward) {
		float m = -INFINITY, sum = 0;
		if (c->cap > 0)
			for (int j = 0; j < c->n; j++)
				s[j] = attn_softcap(s[j], c->cap);
		for (int j = 0; j < c->n; j++)
			if (visible(c, t, c->k0 + j) && s[j] > m)
				m = s[j];
		for (int j = 0; j < c->n; j++) {
			float e = visible(c, t, c->k0 + j) ? expf(s[j] - m) : 0;
			s[j] = e;
			sum += e;
		}
		for (int j = 0; j < c->n; j++)
			s[j] /= sum;
		if (c->lse)
			c->lse[t] = m + logf(sum);
		return;
	}
	const float *dor = c->dout + (size_t)t * c->qs, *orow = c->out + (size_t)t * c->qs;
	float D = 0, l = c->lse_in[t];
	for (int d = 0; d < c->HD; d++)
		D += dor[d] * orow[d];
	float *dp = c->dP + i * c->n;
	for (int j = 0; j < c->n; j++) {
		float th = c->cap > 0 ? tanhf(s[j] / c->cap) : 0;
		float pj = visible(c, t, c->k0 + j) ? expf((c->cap > 0 ? th * c->cap : s[j]) - l) : 0;
		s[j] = pj;
		dp[j] = pj * (dp[j] - D) * c->scale;
		if (c->cap > 0)
			dp[j] *= 1 - th * th;
	}
}

/* First key each row may see: min j with seg[j] == seg[t] inside the window. */
static void first_keys(int *first, const int32_t *seg, int window, int T)
{
	for (int t = 0; t < T; t++) {
		int j = window_start(t, window);
		if (seg)
			while (seg[j] != seg[t])
				j++;
		first[t] = j;
	}
}

/* 1 when every row t sees exactly the keys first[t]..t (segments are contiguous runs), so
 * rows need no per-key test: keys between first[t] and t all share t's segment. */
static int contiguous(const int *first, const int32_t *seg, int T)
{
	if (!seg)
		return 1;
	for (int t = 1, run = 0; t < T; t++) {
		if (seg[t] != seg[t - 1])
			run = t;
		if (first[t] < run)
			return 0;
	}
	return 1;
}

static int block_k0(const int *first, int r0, int r1)
{
	int k0 = first[r0];
	for (int t = r0 + 1; t < r1; t++)
		k0 = first[t] < k0 ? first[t] : k0;
	return k0;
}

/*
 * Tasks. Forward: one (batch row, head, query block) each, its two GEMMs and its rows on the
 * thread that takes it, so a layer costs one dispatch instead of three per block (on a loaded
 * 2-core machine every dispatch waits for the slowest thread to be scheduled). Backward: one
 * (batch row, head) each; dq's rows of a head are its own, dk and dv are summed into a buffer
 * of the head's (PART_MAX bounds them: heads go in waves) and added to dk, dv afterwards in
 * head order. Every GEMM inside a task runs its tiles in order on that thread
 * (qt_pool_nested), so no result depends on the thread count.
 */
#define PART_MAX ((size_t)64 << 20) /* bytes of per-head dk, dv buffers at a time */

struct att {
	int backward;
	float *out, *lse, *dq, *part;  /* part: (heads of the wave, 2, T, HD) */
	const float *dout, *q, *k, *v, *out_in, *lse_in;
	const int32_t *seg;
	const int *first, *ranged;     /* (B, T) first keys; (B) rows need no per-key test */
	int window, B, T, NH, NKV, HD, qb, nblk, h0;  /* h0: first (b * NH + h) of the wave */
	float cap, scale;
	float *buf;                    /* per worker: S and dP, (qb, T) each */
};

static void block(const struct att *a, int b, int h, int r0, float *S, float *dP, float *dkp,
                  float *dvp)
{
	int T = a->T, HD = a->HD;
	size_t qs = (size_t)a->NH * HD, ks = (size_t)a->NKV * HD;
	size_t qo = (size_t)b * T * qs + (size_t)h * HD;
	size_t ko = (size_t)b * T * ks + (size_t)(h / (a->NH / a->NKV)) * HD;
	size_t lo = ((size_t)b * a->NH + h) * T;
	const int *first = a->first + (size_t)b * T;
	int r1 = r0 + a->qb < T ? r0 + a->qb : T, m = r1 - r0;
	int k0 = block_k0(first, r0, r1), n = r1 - k0;
	const float *Qb = a->q + qo + r0 * qs, *Kb = a->k + ko + k0 * ks, *Vb = a->v + ko + k0 * ks;
	sgemm_rm(0, 1, m, n, HD, a->scale, Qb, (int)qs, Kb, (int)ks, 0.0f, S, n);
	struct rows c = { S, dP, a->seg ? a->seg + (size_t)b * T : NULL, first, a->ranged[b],
	                  a->window, a->cap, a->dout ? a->dout + qo : NULL,
	                  a->out_in ? a->out_in + qo : NULL, a->lse ? a->lse + lo : NULL,
	                  a->lse_in ? a->lse_in + lo : NULL, r0, k0, n, HD, qs, a->scale,
	                  a->backward };
	if (!a->backward) {
		for (int i = 0; i < m; i++)
			row_task(&c, (size_t)i, 0);
		sgemm_rm(0, 0, m, HD, n, 1.0f, S, n, Vb, (int)ks, 0.0f, a->out + qo + r0 * qs, (int)qs);
		return;
	}
	const float *dOb = a->dout + qo + r0 * qs;
	/* dP = dO V^T, then rows turn S into P and dP into dS (scaled) */
	sgemm_rm(0, 1, m, n, HD, 1.0f, dOb, (int)qs, Vb, (int)ks, 0.0f, dP, n);
	for (int i = 0; i < m; i++)
		row_task(&c, (size_t)i, 0);
	sgemm_rm(0, 0, m, HD, n, 1.0f, dP, n, Kb, (int)ks, 1.0f, a->dq + qo + r0 * qs, (int)qs);
	sgemm_rm(1, 0, n, HD, m, 1.0f, dP, n, Qb, (int)qs, 1.0f, dkp + (size_t)k0 * HD, HD);
	sgemm_rm(1, 0, n, HD, m, 1.0f, S, n, dOb, (int)qs, 1.0f, dvp + (size_t)k0 * HD, HD);
}

static void att_task(void *p, size_t i, int worker)
{
	const struct att *a = p;
	float *S = a->buf + (size_t)worker * 2 * a->qb * a->T, *dP = S + (size_t)a->qb * a->T;
	if (!a->backward) {
		int bh = (int)(i / (size_t)a->nblk), blk = a->nblk - 1 - (int)(i % (size_t)a->nblk);
		block(a, bh / a->NH, bh % a->NH, blk * a->qb, S, dP, NULL, NULL);
		return;
	}
	int bh = a->h0 + (int)i;
	float *dkp = a->part + i * 2 * (size_t)a->T * a->HD, *dvp = dkp + (size_t)a->T * a->HD;
	for (int blk = 0; blk < a->nblk; blk++)
		block(a, bh / a->NH, bh % a->NH, blk * a->qb, S, dP, dkp, dvp);
}

static void run(int backward, float *out, float *lse, float *dq, float *dk, float *dv,
                const float *dout, const float *q, const float *k, const float *v,
                const float *out_in, const float *lse_in, const int32_t *seg,
                const struct attn_opts *opt, int B, int T, int NH, int NKV, int HD, int n_threads)
{
	int threads = n_threads > 0 ? n_threads : qt_pool_default_threads();
	int qb = T < QB ? T : QB, nblk = (T + qb - 1) / qb;
	struct att a = { backward, out, lse, dq, NULL, dout, q, k, v, out_in, lse_in, seg, NULL,
	                 NULL, attn_window(opt), B, T, NH, NKV, HD, qb, nblk, 0,
	                 opt ? opt->softcap : 0, attn_scale(opt, HD), NULL };
	int *first = malloc(sizeof(int) * (size_t)B * T), *ranged = malloc(sizeof(int) * (size_t)B);
	a.buf = malloc(sizeof(float) * 2 * (size_t)threads * qb * T);
	for (int b = 0; b < B; b++) {
		const int32_t *sb = seg ? seg + (size_t)b * T : NULL;
		first_keys(first + (size_t)b * T, sb, a.window, T);
		ranged[b] = a.cap == 0 && contiguous(first + (size_t)b * T, sb, T);
	}
	a.first = first, a.ranged = ranged;
	if (!backward) {
		qt_pool_for(threads, (size_t)B * NH * nblk, att_task, &a);
		free(first), free(ranged), free(a.buf);
		return;
	}
	size_t head = 2 * (size_t)T * HD, wave = PART_MAX / (head * sizeof(float));
	int total = B * NH, per = wave < 1 ? 1 : wave > (size_t)total ? total : (int)wave;
	a.part = malloc(sizeof(float) * head * per);
	size_t ks = (size_t)NKV * HD;
	for (a.h0 = 0; a.h0 < total; a.h0 += per) {
		int n = total - a.h0 < per ? total - a.h0 : per;
		for (size_t i = 0; i < head * n; i++)
			a.part[i] = 0;
		qt_pool_for(threads, (size_t)n, att_task, &a);
		/* dk, dv += each head's sums, in head order */
		for (int i = 0; i < n; i++) {
			int b = (a.h0 + i) / NH, g = (a.h0 + i) % NH / (NH / NKV);
			const float *dkp = a.part + i * head, *dvp = dkp + (size_t)T * HD;
			for (int t = 0; t < T; t++) {
				float *dkr = dk + ((size_t)b * T + t) * ks + (size_t)g * HD;
				float *dvr = dv + ((size_t)b * T + t) * ks + (size_t)g * HD;
				for (int d = 0; d < HD; d++) {
					dkr[d] += dkp[(size_t)t * HD + d];
					dvr[d] += dvp[(size_t)t * HD + d];
				}
			}
		}
	}
	free(first), free(ranged), free(a.buf), free(a.part);
}

/* out: (B, T, NH, HD); lse: (B, NH, T) or NULL; q: (B, T, NH, HD); k, v: (B, T, NKV, HD);
 * seg: (B, T) or NULL */
void attention_forward_fast(float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *seg, const struct attn_opts *opt,
                            int B, int T, int NH, int NKV, int HD, int n_threads)
{
	run(0, out, lse, NULL, NULL, NULL, NULL, q, k, v, NULL, NULL, seg, opt, B, T, NH, NKV, HD,
	    n_threads);
}

/* dq: (B, T, NH, HD) +=; dk, dv: (B, T, NKV, HD) +=; others as attention_backward */
void attention_backward_fast(float *dq, float *dk, float *dv, const float *dout, const float *q,
                             const float *k, const float *v, const float *out, const float *lse,
                             const int32_t *seg, const struct attn_opts *opt, int B, int T,
                             int NH, int NKV, int HD, int n_threads)
{
	run(1, NULL, NULL, dq, dk, dv, dout, q, k, v, out, lse, seg, opt, B, T, NH, NKV, HD,
	    n_threads);
}
