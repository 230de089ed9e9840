/* qlora-tools: ISC license. */
/* CUDA vs CPU: prefix tuning's slots merged into an attention (attention_prefix_forward: out
 * and lse in place) and their gradients (attention_prefix_backward: dq, dpk, dpv accumulated
 * onto random contents), both on the CPU's attention of two packed segments, with the slots of
 * layer 1 of a 3-layer table (PEFT's interleaved layout, ps floats between slots): GQA, HD not
 * a multiple of 32, T = 1, more slots than a warp has lanes, a window that hides some slots
 * from later tokens and all of them from the last ones, Gemma-2's scale and soft cap, HD 256.
 * Tolerances are fp32 ones (sums in another order than the CPU's loops; tanhf within ulps). */
#include "kernels/attention.h"

#include "cuda_check.h"

static void check(int T, int NH, int NKV, int HD, int P, struct attn_opts o, int s)
{
	enum { L = 3, LAYER = 1 };
	size_t nq = (size_t)T * NH * HD, nk = (size_t)T * NKV * HD, nl = (size_t)NH * T;
	size_t kvd = (size_t)NKV * HD, ps = L * 2 * kvd, ntab = (size_t)P * ps;
	float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o0 = malloc(nq * 4);
	float *l0 = malloc(nl * 4), *out = malloc(nq * 4), *lse = malloc(nl * 4);
	float *tab = malloc(ntab * 4), *dout = malloc(nq * 4), *dq0 = malloc(nq * 4);
	float *dt0 = malloc(ntab * 4), *dq = malloc(nq * 4), *dt = malloc(ntab * 4);
	float *g = malloc((nq > ntab ? nq : ntab) * 4);
	int32_t *seg = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
	kc_rand(q, nq, 1 + s, 1.5f);
	kc_rand(k, nk, 2 + s, 1.5f);
	kc_rand(v, nk, 3 + s, 1.0f);
	kc_rand(tab, ntab, 4 + s, 1.0f);
	kc_rand(dout, nq, 5 + s, 1.0f);
	kc_rand(dq0, nq, 6 + s, 0.1f);
	kc_rand(dt0, ntab, 7 + s, 0.1f);
	int cut = T / 3;
	for (int t = 0; t < T; t++) {
		seg[t] = t < cut ? 1 : 2;
		pos[t] = t < cut ? t : t - cut;
	}
	const float *pk = tab + 2 * LAYER * kvd, *pv = tab + (2 * LAYER + 1) * kvd;
	attention_forward(o0, l0, q, k, v, seg, &o, 1, T, NH, NKV, HD);
	memcpy(out, o0, nq * 4), memcpy(lse, l0, nl * 4);
	attention_prefix_forward(out, lse, q, pk, pv, ps, pos, &o, T, NH, NKV, HD, P);
	memcpy(dq, dq0, nq * 4), memcpy(dt, dt0, ntab * 4);
	attention_prefix_backward(dq, dt + 2 * LAYER * kvd, dt + (2 * LAYER + 1) * kvd, dout, q, pk,
	                          pv, ps, out, lse, pos, &o, T, NH, NKV, HD, P);
	char what[128];
	snprintf(what, sizeof what, "prefix T=%d NH=%d NKV=%d HD=%d P=%d window %d scale %g cap %g",
	         T, NH, NKV, HD, P, o.window, o.scale, o.softcap);
	if (cc_have_gpu(what)) {
		float *dQ = cc_devf(q, nq), *dO = cc_devf(o0, nq), *dL = cc_devf(l0, nl);
		float *dTab = cc_devf(tab, ntab), *dDO = cc_devf(dout, nq), *dDQ = cc_devf(dq0, nq);
		float *dDT = cc_devf(dt0, ntab);
		int32_t *dP = cc_dev(pos, (size_t)T * 4);
		attention_prefix_forward_cuda(dO, dL, dQ, dTab + 2 * LAYER * kvd,
		                              dTab + (2 * LAYER + 1) * kvd, ps, dP, &o, T, NH, NKV, HD,
		                              P);
		cc_ok(what);
		cc_get(what, g, dO, nq * 4);
		cc_close("prefix out", g, out, nq, 1e-4, 1e-5, 1e-10);
		cc_get(what, g, dL, nl * 4);
		cc_close("prefix lse", g, lse, nl, 1e-5, 1e-5, 1e-12);
		/* the backward on the CPU's merged out and lse, so it is checked on its own */
		cuda_upload(dO, out, nq * 4);
		cuda_upload(dL, lse, nl * 4);
		attention_prefix_backward_cuda(dDQ, dDT + 2 * LAYER * kvd, dDT + (2 * LAYER + 1) * kvd,
		                               dDO, dQ, dTab + 2 * LAYER * kvd,
		                               dTab + (2 * LAYER + 1) * kvd, ps, dO, dL, dP, &o, T, NH,
		                               NKV, HD, P);
		cc_ok("prefix backward");
		cc_get("prefix dq", g, dDQ, nq * 4);
		cc_close("prefix dq", g, dq, nq, 1e-3, 1e-5, 1e-9);
		/* the other layers' slots (and the guard) untouched */
		cc_get("prefix dpk, dpv", g, dDT, ntab * 4);
		cc_close("prefix dpk, dpv", g, dt, ntab, 1e-3, 1e-5, 1e-9);
		cuda_free(dQ), cuda_free(dO), cuda_free(dL), cuda_free(dTab), cuda_free(dDO);
		cuda_free(dDQ), cuda_free(dDT), cuda_free(dP);
	}
	free(q), free(k), free(v), free(o0), free(l0), free(out), free(lse), free(tab), free(dout);
	free(dq0), free(dt0), free(dq), free(dt), free(g), free(seg), free(pos);
}

int main(void)
{
	struct attn_opts none = { 0, 0, 0 };
	check(1, 1, 1, 2, 1, none, 0);
	check(37, 9, 3, 64, 8, none, 1);
	check(45, 3, 1, 80, 130, none, 2);
	/* window 10 over 8 slots: a token at local position pos sees slots pos - 1 on, none from
	 * pos 9 on (each segment restarts) */
	check(50, 4, 2, 32, 8, (struct attn_opts){ 10, 0, 0 }, 3);
	/* Gemma-2: scale 24^-0.5 and cap 2 (the tiny model's), sliding; head_dim 256, cap 50 */
	check(50, 4, 2, 32, 16, (struct attn_opts){ 10, 0.20412415f, 2.0f }, 4);
	check(20, 8, 4, 256, 5, (struct attn_opts){ 0, 0.0625f, 50.0f }, 5);
	check(33, 8, 4, 256, 40, (struct attn_opts){ 30, 0.0625f, 50.0f }, 6);
	return test_main_end();
}
