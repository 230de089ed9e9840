/* qlora-tools: ISC license. */
/* CUDA vs CPU: fused causal GQA attention with segments, forward (out, lse), backward
 * (dq, dk, dv accumulated onto random contents) and KV-cache decode, at awkward shapes:
 * T = 1, T not a multiple of the 16/32-row tiles, odd head counts, NKV < NH, HD not a
 * multiple of 32, packed segments of random lengths, sliding windows; Gemma-2's options (a
 * scale from query_pre_attn_scalar and the soft cap, with and without a window) and head
 * dims above 128 (160: padded to 192; Gemma's 256). Tolerances are fp32 ones: the dot
 * products and the online softmax sum in another order than the CPU's plain loops, and tanhf
 * differs by an ulp or so, so nothing here is bit-identical. */
#include "kernels/attention.h"

#include "cuda_check.h"

static void packed_segments(int32_t *seg, int B, int T, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int b = 0; b < B; b++) {
		int id = 0, left = 1 + (int)qt_rng_below(&r, T);
		for (int t = 0; t < T; t++) {
			if (left-- == 0) {
				id++;
				left = (int)qt_rng_below(&r, T / 2 + 1);
			}
			seg[(size_t)b * T + t] = id;
		}
	}
}

static void check_shape(int B, int T, int NH, int NKV, int HD, int use_seg, int s,
                        struct attn_opts ow)
{
	size_t nq = (size_t)B * T * NH * HD, nk = (size_t)B * T * NKV * HD, nl = (size_t)B * NH * T;
	float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
	float *lse = malloc(nl * 4), *dout = malloc(nq * 4), *dq = malloc(nq * 4);
	float *dk = malloc(nk * 4), *dv = malloc(nk * 4), *g = malloc(nq * 4 + nk * 4);
	float *dq0 = malloc(nq * 4), *dk0 = malloc(nk * 4);
	int32_t *seg = use_seg ? malloc((size_t)B * T * 4) : NULL;
	kc_rand(q, nq, 1 + s, 1.5f);
	kc_rand(k, nk, 2 + s, 1.5f);
	kc_rand(v, nk, 3 + s, 1.0f);
	kc_rand(dout, nq, 4 + s, 1.0f);
	kc_rand(dq0, nq, 5 + s, 0.1f);
	kc_rand(dk0, nk, 6 + s, 0.1f);
	memcpy(dq, dq0, nq * 4), memcpy(dk, dk0, nk * 4), memcpy(dv, dk0, nk * 4);
	if (seg)
		packed_segments(seg, B, T, 7 + s);
	attention_forward(o, lse, q, k, v, seg, &ow, B, T, NH, NKV, HD);
	attention_backward(dq, dk, dv, dout, q, k, v, o, lse, seg, &ow, B, T, NH, NKV, HD);
	char what[120];
	snprintf(what, sizeof what, "attn B=%d T=%d NH=%d NKV=%d HD=%d%s window %d scale %g cap %g",
	         B, T, NH, NKV, HD, seg ? " seg" : "", ow.window, ow.scale, ow.softcap);
	if (cc_have_gpu(what)) {
		float *dQ = cc_devf(q, nq), *dK = cc_devf(k, nk), *dV = cc_devf(v, nk);
		float *dO = cc_devf(NULL, nq), *dL = cc_devf(NULL, nl), *dDO = cc_devf(dout, nq);
		float *dDQ = cc_devf(dq0, nq), *dDK = cc_devf(dk0, nk), *dDV = cc_devf(dk0, nk);
		int32_t *dS = seg ? cc_dev(seg, (size_t)B * T * 4) : NULL;
		attention_forward_cuda(dO, dL, dQ, dK, dV, dS, &ow, B, T, NH, NKV, HD);
		cc_ok(what);
		cc_get(what, g, dO, nq * 4);
		cc_close("attn out", g, o, nq, 1e-4, 1e-5, 1e-10);
		cc_get(what, g, dL, nl * 4);
		cc_close("attn lse", g, lse, nl, 1e-5, 1e-5, 1e-12);
		/* the backward on the CPU's forward outputs, so it is checked on its own */
		cuda_upload(dO, o, nq * 4);
		cuda_upload(dL, lse, nl * 4);
		attention_backward_cuda(dDQ, dDK, dDV, dDO, dQ, dK, dV, dO, dL, dS, &ow, B, T, NH, NKV,
		                        HD);
		cc_ok("attn backward");
		cc_get("attn dq", g, dDQ, nq * 4);
		cc_close("attn dq", g, dq, nq, 1e-3, 1e-5, 1e-9);
		cc_get("attn dk", g, dDK, nk * 4);
		cc_close("attn dk", g, dk, nk, 1e-3, 1e-5, 1e-9);
		cc_get("attn dv", g, dDV, nk * 4);
		cc_close("attn dv", g, dv, nk, 1e-3, 1e-5, 1e-9);
		cuda_free(dQ), cuda_free(dK), cuda_free(dV), cuda_free(dO), cuda_free(dL);
		cuda_free(dDO), cuda_free(dDQ), cuda_free(dDK), cuda_free(dDV), cuda_free(dS);
	}
	free(q), free(k), free(v), free(o), free(lse), free(dout), free(dq), free(dk), free(dv);
	free(g), free(dq0), free(dk0), free(seg);
}

static void check_decode(int B, int TN, int L, int NH, int NKV, int HD, const int32_t *past,
                         struct attn_opts ow)
{
	size_t nq = (size_t)B * TN * NH * HD, nc = (size_t)B * L * NKV * HD;
	float *q = malloc(nq * 4), *kc = malloc(nc * 4), *vc = malloc(nc * 4), *o = malloc(nq * 4);
	float *g = malloc(nq * 4);
	kc_rand(q, nq, 11, 1.5f);
	kc_rand(kc, nc, 12, 1.5f);
	kc_rand(vc, nc, 13, 1.0f);
	attention_decode(o, q, kc, vc, past, &ow, B, TN, L, NH, NKV, HD);
	char what[120];
	snprintf(what, sizeof what, "attn decode B=%d TN=%d L=%d HD=%d window %d scale %g cap %g", B,
	         TN, L, HD, ow.window, ow.scale, ow.softcap);
	if (cc_have_gpu(what)) {
		float *dQ = cc_devf(q, nq), *dK = cc_devf(kc, nc), *dV = cc_devf(vc, nc);
		float *dO = cc_devf(NULL, nq);
		int32_t *dP = cc_dev(past, B * 4);
		attention_decode_cuda(dO, dQ, dK, dV, dP, &ow, B, TN, L, NH, NKV, HD);
		cc_ok(what);
		cc_get(what, g, dO, nq * 4);
		cc_close(what, g, o, nq, 1e-4, 1e-5, 1e-10);
		cuda_free(dQ), cuda_free(dK), cuda_free(dV), cuda_free(dO), cuda_free(dP);
	}
	free(q), free(kc), free(vc), free(o), free(g);
}

int main(void)
{
	struct attn_opts none = { 0, 0, 0 };
	/* B, T, NH, NKV, HD, seg */
	int shapes[][6] = {
		{ 1, 1, 1, 1, 2, 0 },    { 2, 37, 3, 1, 64, 0 },  { 1, 100, 9, 3, 64, 1 },
		{ 1, 65, 4, 2, 128, 1 }, { 2, 33, 2, 2, 80, 1 },  { 1, 200, 6, 2, 32, 1 },
		{ 1, 17, 5, 5, 16, 0 },  { 1, 70, 4, 2, 256, 1 }, { 2, 19, 2, 1, 160, 0 },
	};
	for (int s = 0; s < 9; s++)
		check_shape(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4],
		            shapes[s][5], s, none);
	/* sliding windows (Mistral, Qwen2): cutting inside segments, and only the token itself */
	check_shape(1, 200, 6, 2, 32, 1, 7, (struct attn_opts){ 50, 0, 0 });
	check_shape(2, 37, 3, 1, 64, 0, 8, (struct attn_opts){ 1, 0, 0 });
	/* Gemma-2: query_pre_attn_scalar 24 (scale 24^-0.5 for HD 32), attention soft cap 2 (the
	 * tiny model's; scores of these inputs reach it) and 50 (the real models'), full and
	 * sliding layers; Gemma-2 9B's head_dim 256 with query_pre_attn_scalar 256 */
	struct attn_opts g2 = { 0, 0.20412415f, 2.0f }, g2w = { 6, 0.20412415f, 2.0f };
	struct attn_opts g9 = { 0, 0.0625f, 50.0f }, g9w = { 40, 0.0625f, 50.0f };
	check_shape(1, 45, 4, 2, 32, 1, 9, g2);
	check_shape(2, 45, 4, 2, 32, 1, 10, g2w);
	check_shape(1, 130, 8, 4, 256, 1, 11, g9);
	check_shape(1, 130, 8, 4, 256, 1, 12, g9w);
	check_shape(1, 33, 2, 2, 80, 0, 13, (struct attn_opts){ 5, 0.3f, 1.0f });
	int32_t past1[] = { 10, 46 }, past2[] = { 0 };
	check_decode(2, 3, 49, 9, 3, 64, past1, none);
	check_decode(1, 1, 1, 4, 1, 128, past2, none);
	check_decode(2, 1, 300, 4, 2, 96, (int32_t[]){ 299, 17 }, none);
	check_decode(2, 3, 49, 9, 3, 64, past1, (struct attn_opts){ 7, 0, 0 });
	check_decode(2, 1, 300, 4, 2, 96, (int32_t[]){ 299, 17 }, (struct attn_opts){ 64, 0, 0 });
	check_decode(2, 3, 49, 4, 2, 32, past1, g2w);
	check_decode(2, 1, 300, 8, 4, 256, (int32_t[]){ 299, 17 }, g9);
	check_decode(2, 2, 300, 8, 4, 256, (int32_t[]){ 120, 3 }, g9w);
	check_decode(1, 5, 40, 2, 1, 160, (int32_t[]){ 30 }, none);
	return test_main_end();
}
