/* qlora-tools: ISC license. */
/*
 * Prefix slots of prefix tuning: the attention over a sequence's keys merged with the prefix
 * (attention_prefix_forward) and its backward equal the reference attention over the prefix
 * placed before the sequence as ordinary keys (causal attention lets every query see all of
 * them, the window counts from there), for one sequence and for two packed segments (each
 * against its own sequence); with GQA, a window that hides part of the prefix and a soft cap.
 */
#include "kernels/attention.h"

#include <string.h>

#include "kcheck.h"

enum { NH = 4, NKV = 2, HD = 8, P = 5, L = 2, KVD = NKV * HD };

/* The prefix of layer 1 of 2 in PEFT's slot layout: slot p at row p, keys then values. */
static const size_t PS = (size_t)L * 2 * KVD;
static float *pk_of(float *tab) { return tab + 2 * KVD; }
static float *pv_of(float *tab) { return tab + 3 * KVD; }

/* Reference: prefix rows then the n tokens from t0 as one causal sequence. */
static void reference(float *out, float *dq, float *dk, float *dv, float *dtab, const float *q,
                      const float *k, const float *v, const float *dout, float *tab, int t0,
                      int n, const struct attn_opts *o)
{
	int S = P + n;
	size_t qs = (size_t)NH * HD;
	float *qf = calloc((size_t)S * qs, 4), *kf = malloc((size_t)S * KVD * 4);
	float *vf = malloc((size_t)S * KVD * 4), *of = malloc((size_t)S * qs * 4);
	float *lf = malloc((size_t)NH * S * 4), *df = calloc((size_t)S * qs, 4);
	float *gq = calloc((size_t)S * qs, 4), *gk = calloc((size_t)S * KVD, 4);
	float *gv = calloc((size_t)S * KVD, 4);
	for (int p = 0; p < P; p++) {
		memcpy(kf + (size_t)p * KVD, pk_of(tab) + p * PS, KVD * 4);
		memcpy(vf + (size_t)p * KVD, pv_of(tab) + p * PS, KVD * 4);
	}
	memcpy(qf + (size_t)P * qs, q + (size_t)t0 * qs, (size_t)n * qs * 4);
	memcpy(kf + (size_t)P * KVD, k + (size_t)t0 * KVD, (size_t)n * KVD * 4);
	memcpy(vf + (size_t)P * KVD, v + (size_t)t0 * KVD, (size_t)n * KVD * 4);
	memcpy(df + (size_t)P * qs, dout + (size_t)t0 * qs, (size_t)n * qs * 4);
	attention_forward(of, lf, qf, kf, vf, NULL, o, 1, S, NH, NKV, HD);
	attention_backward(gq, gk, gv, df, qf, kf, vf, of, lf, NULL, o, 1, S, NH, NKV, HD);
	memcpy(out + (size_t)t0 * qs, of + (size_t)P * qs, (size_t)n * qs * 4);
	memcpy(dq + (size_t)t0 * qs, gq + (size_t)P * qs, (size_t)n * qs * 4);
	memcpy(dk + (size_t)t0 * KVD, gk + (size_t)P * KVD, (size_t)n * KVD * 4);
	memcpy(dv + (size_t)t0 * KVD, gv + (size_t)P * KVD, (size_t)n * KVD * 4);
	for (int p = 0; p < P; p++)
		for (int i = 0; i < KVD; i++) {
			pk_of(dtab)[p * PS + i] += gk[(size_t)p * KVD + i];
			pv_of(dtab)[p * PS + i] += gv[(size_t)p * KVD + i];
		}
	free(qf), free(kf), free(vf), free(of), free(lf), free(df), free(gq), free(gk), free(gv);
}

static void check(const char *what, const int32_t *seg, int T, const struct attn_opts *o)
{
	size_t qs = (size_t)NH * HD, nq = (size_t)T * qs, nk = (size_t)T * KVD;
	float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *dout = malloc(nq * 4);
	float *tab = malloc((size_t)P * PS * 4);
	kc_rand(q, nq, 1, 2.0f), kc_rand(k, nk, 2, 2.0f), kc_rand(v, nk, 3, 1.0f);
	kc_rand(dout, nq, 4, 1.0f), kc_rand(tab, (size_t)P * PS, 5, 2.0f);
	float *out = malloc(nq * 4), *lse = malloc((size_t)NH * T * 4);
	float *dq = calloc(nq, 4), *dk = calloc(nk, 4), *dv = calloc(nk, 4);
	float *dtab = calloc((size_t)P * PS, 4);
	float *rout = malloc(nq * 4), *rdq = calloc(nq, 4), *rdk = calloc(nk, 4);
	float *rdv = calloc(nk, 4), *rdtab = calloc((size_t)P * PS, 4);
	int32_t *pos = malloc((size_t)T * 4);
	for (int t = 0; t < T; t++)
		pos[t] = t == 0 || (seg && seg[t] != seg[t - 1]) ? 0 : pos[t - 1] + 1;
	attention_forward_fast(out, lse, q, k, v, seg, o, 1, T, NH, NKV, HD, 2);
	attention_prefix_forward(out, lse, q, pk_of(tab), pv_of(tab), PS, pos, o, T, NH, NKV, HD, P);
	attention_backward_fast(dq, dk, dv, dout, q, k, v, out, lse, seg, o, 1, T, NH, NKV, HD, 2);
	attention_prefix_backward(dq, pk_of(dtab), pv_of(dtab), dout, q, pk_of(tab), pv_of(tab), PS,
	                          out, lse, pos, o, T, NH, NKV, HD, P);
	for (int t0 = 0; t0 < T;) {
		int n = 1;
		while (t0 + n < T && pos[t0 + n] != 0)
			n++;
		reference(rout, rdq, rdk, rdv, rdtab, q, k, v, dout, tab, t0, n, o);
		t0 += n;
	}
	char w[128];
	snprintf(w, sizeof w, "%s: out", what);
	kc_close(w, out, rout, nq, 1e-5, 1e-6);
	snprintf(w, sizeof w, "%s: dq", what);
	kc_close(w, dq, rdq, nq, 1e-4, 1e-6);
	snprintf(w, sizeof w, "%s: dk, dv", what);
	kc_close(w, dk, rdk, nk, 1e-4, 1e-6);
	kc_close(w, dv, rdv, nk, 1e-4, 1e-6);
	snprintf(w, sizeof w, "%s: prefix gradient", what);
	kc_close(w, dtab, rdtab, (size_t)P * PS, 1e-4, 1e-6);
	free(q), free(k), free(v), free(dout), free(tab), free(out), free(lse), free(dq), free(dk);
	free(dv), free(dtab), free(rout), free(rdq), free(rdk), free(rdv), free(rdtab), free(pos);
}

int main(void)
{
	enum { T = 23 };
	int32_t seg[T];
	for (int t = 0; t < T; t++)
		seg[t] = t < 9 ? 0 : 1;
	struct attn_opts win = { 7, 0, 0 }, capped = { 0, 0.3f, 2.0f };
	check("one sequence", NULL, T, NULL);
	check("two packed segments", seg, T, NULL);
	check("window 7 (hides slots)", seg, T, &win);
	check("soft cap 2, scale 0.3", seg, T, &capped);
	return test_main_end();
}
