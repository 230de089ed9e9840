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
	float *S, *dP;              /* (QB, n) blocks */
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

static void run(int backward, float *out, float *lse, float *dq, float *dk, float *dv,
                const float *dout, const float *q, const float *k, const float *v,
                const float *out_in, const float *lse_in, const int32_t *seg,
                const struct attn_opts *opt, int B, int T, int NH, int NKV, int HD, int n_threads)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	int window = attn_window(opt);
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	int qb = T < QB ? T : QB;
	float *S = malloc(sizeof(float) * qb * T), *dP = backward ? malloc(sizeof(float) * qb * T) : NULL;
	int *first = malloc(sizeof(int) * T);
	for (int b = 0; b < B; b++) {
		const int32_t *sb = seg ? seg + (size_t)b * T : NULL;
		first_keys(first, sb, window, T);
		int ranged = cap == 0 && contiguous(first, sb, T);
		for (int h = 0; h < NH; h++) {
			size_t qo = (size_t)b * T * qs + (size_t)h * HD;
			size_t ko = (size_t)b * T * ks + (size_t)(h / (NH / NKV)) * HD;
			size_t lo = ((size_t)b * NH + h) * T;
			for (int r0 = 0; r0 < T; r0 += qb) {
				int r1 = r0 + qb < T ? r0 + qb : T, m = r1 - r0;
				int k0 = block_k0(first, r0, r1), n = r1 - k0;
				const float *Qb = q + qo + r0 * qs, *Kb = k + ko + k0 * ks, *Vb = v + ko + k0 * ks;
				sgemm_rm(0, 1, m, n, HD, scale, Qb, (int)qs, Kb, (int)ks, 0.0f, S, n);
				struct rows c = { S, dP, sb, first, ranged, window, cap, dout ? dout + qo : NULL, out_in ? out_in + qo : NULL,
				                  lse ? lse + lo : NULL, lse_in ? lse_in + lo : NULL, r0, k0, n,
				                  HD, qs, scale, backward };
				if (!backward) {
					qt_pool_for(m * n > 8192 ? n_threads : 1, (size_t)m, row_task, &c);
					sgemm_rm(0, 0, m, HD, n, 1.0f, S, n, Vb, (int)ks, 0.0f, out + qo + r0 * qs, (int)qs);
					continue;
				}
				const float *dOb = dout + qo + r0 * qs;
				/* dP = dO V^T, then rows turn S into P and dP into dS (scaled) */
				sgemm_rm(0, 1, m, n, HD, 1.0f, dOb, (int)qs, Vb, (int)ks, 0.0f, dP, n);
				qt_pool_for(m * n > 8192 ? n_threads : 1, (size_t)m, row_task, &c);
				sgemm_rm(0, 0, m, HD, n, 1.0f, dP, n, Kb, (int)ks, 1.0f, dq + qo + r0 * qs, (int)qs);
				sgemm_rm(1, 0, n, HD, m, 1.0f, dP, n, Qb, (int)qs, 1.0f, dk + ko + k0 * ks, (int)ks);
				sgemm_rm(1, 0, n, HD, m, 1.0f, S, n, dOb, (int)qs, 1.0f, dv + ko + k0 * ks, (int)ks);
			}
		}
	}
	free(S), free(dP), free(first);
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

struct dec {
	float *out;
	const float *q, *kc, *vc;
	const int32_t *past;
	int window, TN, L, NH, NKV, HD;
	float scale, cap;
};

static void dec_task(void *p, size_t i, int worker)
{
	const struct dec *c = p;
	(void)worker;
	int b = (int)(i / c->NH), h = (int)(i % c->NH), HD = c->HD;
	size_t qs = (size_t)c->NH * HD, ks = (size_t)c->NKV * HD;
	size_t kvo = (size_t)b * c->L * ks + (size_t)(h / (c->NH / c->NKV)) * HD;
	float *s = malloc(sizeof(float) * (size_t)(c->past[b] + c->TN));
	for (int t = 0; t < c->TN; t++) {
		size_t o = ((size_t)b * c->TN + t) * qs + (size_t)h * HD;
		const float *qr = c->q + o;
		int n = c->past[b] + t + 1, lo = window_start(n - 1, c->window);
		float m = -INFINITY, sum = 0;
		for (int j = lo; j < n; j++) {
			const float *kr = c->kc + kvo + j * ks;
			float d = 0;
			for (int e = 0; e < HD; e++)
				d += qr[e] * kr[e];
			s[j] = attn_softcap(d * c->scale, c->cap);
			m = s[j] > m ? s[j] : m;
		}
		for (int j = lo; j < n; j++)
			sum += s[j] = expf(s[j] - m);
		float *orow = c->out + o;
		for (int e = 0; e < HD; e++)
			orow[e] = 0;
		for (int j = lo; j < n; j++) {
			const float *vr = c->vc + kvo + j * ks;
			float pj = s[j] / sum;
			for (int e = 0; e < HD; e++)
				orow[e] += pj * vr[e];
		}
	}
	free(s);
}

/* out, q: (B, TN, NH, HD); kc, vc: (B, L, NKV, HD); past: (B) */
void attention_decode_fast(float *out, const float *q, const float *kc, const float *vc,
                           const int32_t *past, const struct attn_opts *opt, int B, int TN,
                           int L, int NH, int NKV, int HD, int n_threads)
{
	struct dec c = { out, q, kc, vc, past, attn_window(opt), TN, L, NH, NKV, HD,
	                 attn_scale(opt, HD), opt ? opt->softcap : 0 };
	qt_pool_for(n_threads, (size_t)B * NH, dec_task, &c);
}
