/* qlora-tools: ISC license. */
/* attention: against transformers' eager_attention_forward with a causal + segment mask (and
 * its autograd), finite differences for dq/dk/dv, fast == reference (the same bits at 1, 2 and
 * 3 threads), decode == full forward; the last three also with another scale and a soft cap
 * (Gemma-2). The fast op's checks run under every exp path of kernels/cpu/vexp.h this CPU can
 * execute (AVX-512, AVX2, scalar). */
#include "kernels/attention.h"

#include "kcheck.h"
#include "kernels/cpu/vexp.h"

static const char *tags[] = { " (scalar exp)", " (AVX2 exp)", " (AVX-512 exp)" };
static const char *isa_tag = "";

struct fd_ctx {
	float *q, *k, *v, *out, *r;
	const int32_t *seg;
	const struct attn_opts *o;
	int B, T, NH, NKV, HD;
};

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	attention_forward(c->out, NULL, c->q, c->k, c->v, c->seg, c->o, c->B, c->T, c->NH, c->NKV,
	                  c->HD);
	return kc_dot(c->out, c->r, (size_t)c->B * c->T * c->NH * c->HD);
}

static void golden(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "attention") != 0)
		return;
	for (int i = 0; i < 3; i++) {
		const struct kc_tensor *qt = kc_t(&g, "q%d", i), *kt = kc_t(&g, "k%d", i);
		int B = (int)qt->dims[0], T = (int)qt->dims[1], NH = (int)qt->dims[2];
		int HD = (int)qt->dims[3], NKV = (int)kt->dims[2];
		size_t nq = (size_t)B * T * NH * HD, nk = (size_t)B * T * NKV * HD;
		const int32_t *seg = (const int32_t *)kc_f(&g, "seg%d", i);
		for (int fast = 0; fast < 2; fast++) {
			float *out = malloc(nq * 4), *lse = malloc((size_t)B * NH * T * 4);
			float *dq = calloc(nq, 4), *dk = calloc(nk, 4), *dv = calloc(nk, 4);
			const float *q = qt->data, *k = kt->data, *v = kc_f(&g, "v%d", i);
			if (fast)
				attention_forward_fast(out, lse, q, k, v, seg, NULL, B, T, NH, NKV, HD, 2);
			else
				attention_forward(out, lse, q, k, v, seg, NULL, B, T, NH, NKV, HD);
			char w[96];
			char nm[32];
			snprintf(nm, sizeof nm, "%s%s", fast ? "attn fast" : "attn ref", fast ? isa_tag : "");
			snprintf(w, sizeof w, "%s out B%d T%d NH%d NKV%d HD%d", nm, B, T, NH, NKV, HD);
			kc_close(w, out, kc_f(&g, "out%d", i), nq, 1e-5, 1e-5);
			snprintf(w, sizeof w, "%s lse case %d", nm, i);
			kc_close(w, lse, kc_f(&g, "lse%d", i), (size_t)B * NH * T, 1e-5, 1e-5);
			const float *dout = kc_f(&g, "dout%d", i);
			if (fast)
				attention_backward_fast(dq, dk, dv, dout, q, k, v, out, lse, seg, NULL, B, T, NH,
				                        NKV, HD, 2);
			else
				attention_backward(dq, dk, dv, dout, q, k, v, out, lse, seg, NULL, B, T, NH, NKV, HD);
			snprintf(w, sizeof w, "%s dq case %d", nm, i);
			kc_close(w, dq, kc_f(&g, "dq%d", i), nq, 1e-4, 1e-5);
			snprintf(w, sizeof w, "%s dk case %d", nm, i);
			kc_close(w, dk, kc_f(&g, "dk%d", i), nk, 1e-4, 1e-5);
			snprintf(w, sizeof w, "%s dv case %d", nm, i);
			kc_close(w, dv, kc_f(&g, "dv%d", i), nk, 1e-4, 1e-5);
			free(out), free(lse), free(dq), free(dk), free(dv);
		}
	}
	free(g.buf);
}

static void fd(const struct attn_opts *o)
{
	enum { B = 1, T = 5, NH = 4, NKV = 2, HD = 3 };
	int32_t seg[T] = { 0, 1, 1, 2, 2 };
	size_t nq = B * T * NH * HD, nk = B * T * NKV * HD;
	float q[B * T * NH * HD], k[B * T * NKV * HD], v[B * T * NKV * HD], out[B * T * NH * HD];
	float r[B * T * NH * HD], lse[B * NH * T], dq[B * T * NH * HD] = { 0 };
	float dk[B * T * NKV * HD] = { 0 }, dv[B * T * NKV * HD] = { 0 };
	kc_rand(q, nq, 1, 1.5f), kc_rand(k, nk, 2, 1.5f), kc_rand(v, nk, 3, 1.0f);
	kc_rand(r, nq, 4, 1.0f);
	attention_forward(out, lse, q, k, v, seg, o, B, T, NH, NKV, HD);
	attention_backward(dq, dk, dv, r, q, k, v, out, lse, seg, o, B, T, NH, NKV, HD);
	struct fd_ctx c = { q, k, v, out, r, seg, o, B, T, NH, NKV, HD };
	char w[96];
	float cap = o ? o->softcap : 0;
	snprintf(w, sizeof w, "attn dq (segs 1,2,2 GQA 4/2) softcap %g", cap);
	kc_fd(w, fd_loss, &c, q, dq, nq, 1e-2f, 2e-3);
	snprintf(w, sizeof w, "attn dk softcap %g", cap);
	kc_fd(w, fd_loss, &c, k, dk, nk, 1e-2f, 2e-3);
	snprintf(w, sizeof w, "attn dv softcap %g", cap);
	kc_fd(w, fd_loss, &c, v, dv, nk, 1e-2f, 2e-3);
}

/* window: 0 (none), 50 (shorter than the segments, so it cuts inside them) or 1 (itself only);
 * scale 0 (HD^-0.5) or another; soft cap 0 or one the scores reach */
static void fast_vs_ref(int W, float scale, float cap)
{
	struct attn_opts ow = { W, scale, cap };
	enum { B = 2, T = 300, NH = 6, NKV = 2, HD = 16 };
	size_t nq = (size_t)B * T * NH * HD, nk = (size_t)B * T * NKV * HD;
	int32_t *seg = malloc(B * T * 4);
	for (int t = 0; t < T; t++) {
		seg[t] = t < 1 ? 0 : t < 140 ? 1 : t < 141 ? 2 : 3;      /* lengths 1, 139, 1, 159 */
		seg[T + t] = (t / 70) % 2;                                  /* ids reused: 0 1 0 1 0 */
	}
	float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *dout = malloc(nq * 4);
	float *o1 = malloc(nq * 4), *o2 = malloc(nq * 4), *l1 = malloc(B * NH * T * 4);
	float *l2 = malloc(B * NH * T * 4);
	float *g1 = calloc(nq + 2 * nk, 4), *g2 = calloc(nq + 2 * nk, 4);
	kc_rand(q, nq, 11, 2.0f), kc_rand(k, nk, 12, 2.0f), kc_rand(v, nk, 13, 1.0f);
	kc_rand(dout, nq, 14, 1.0f);
	attention_forward(o1, l1, q, k, v, seg, &ow, B, T, NH, NKV, HD);
	attention_forward_fast(o2, l2, q, k, v, seg, &ow, B, T, NH, NKV, HD, 3);
	char w[96];
	snprintf(w, sizeof w, "attn fast vs ref out T=300 window %d cap %g%s", W, cap, isa_tag);
	kc_close(w, o2, o1, nq, 1e-5, 1e-5);
	snprintf(w, sizeof w, "attn fast vs ref lse window %d cap %g%s", W, cap, isa_tag);
	kc_close(w, l2, l1, (size_t)B * NH * T, 1e-5, 1e-5);
	attention_backward(g1, g1 + nq, g1 + nq + nk, dout, q, k, v, o1, l1, seg, &ow, B, T, NH, NKV,
	                   HD);
	attention_backward_fast(g2, g2 + nq, g2 + nq + nk, dout, q, k, v, o1, l1, seg, &ow, B, T, NH,
	                        NKV, HD, 3);
	snprintf(w, sizeof w, "attn fast vs ref dq window %d cap %g%s", W, cap, isa_tag);
	kc_close(w, g2, g1, nq, 1e-4, 1e-5);
	snprintf(w, sizeof w, "attn fast vs ref dk,dv window %d cap %g%s", W, cap, isa_tag);
	kc_close(w, g2 + nq, g1 + nq, 2 * nk, 1e-4, 1e-5);
	/* the same bits at 1 and 2 threads as at 3 */
	for (int th = 1; th <= 2; th++) {
		float *o3 = malloc(nq * 4), *l3 = malloc(B * NH * T * 4), *g3 = calloc(nq + 2 * nk, 4);
		attention_forward_fast(o3, l3, q, k, v, seg, &ow, B, T, NH, NKV, HD, th);
		attention_backward_fast(g3, g3 + nq, g3 + nq + nk, dout, q, k, v, o1, l1, seg, &ow, B, T,
		                        NH, NKV, HD, th);
		CHECK(memcmp(o3, o2, nq * 4) == 0 && memcmp(l3, l2, (size_t)B * NH * T * 4) == 0 &&
		      memcmp(g3, g2, (nq + 2 * nk) * 4) == 0,
		      "attn fast window %d cap %g%s: %d threads differ from 3", W, cap, isa_tag, th);
		free(o3), free(l3), free(g3);
	}

	/* decode: cache of capacity L, B rows with different past lengths; compare with the rows
	 * of a full forward over the same tokens (no segments) */
	enum { L = 40, TN = 3 };
	int32_t past[B] = { 10, 37 - TN };
	float *kc = calloc((size_t)B * L * NKV * HD, 4), *vc = calloc((size_t)B * L * NKV * HD, 4);
	kc_rand(kc, (size_t)B * L * NKV * HD, 21, 2.0f);
	kc_rand(vc, (size_t)B * L * NKV * HD, 22, 1.0f);
	float *qn = malloc((size_t)B * TN * NH * HD * 4), *d1 = malloc((size_t)B * TN * NH * HD * 4);
	float *d2 = malloc((size_t)B * TN * NH * HD * 4), *full = malloc((size_t)L * NH * HD * 4);
	kc_rand(qn, (size_t)B * TN * NH * HD, 23, 2.0f);
	attention_decode(d1, qn, kc, vc, past, &ow, B, TN, L, NH, NKV, HD);
	attention_decode_fast(d2, qn, kc, vc, past, &ow, B, TN, L, NH, NKV, HD, 3);
	snprintf(w, sizeof w, "attn decode fast vs ref window %d cap %g", W, cap);
	kc_close(w, d2, d1, (size_t)B * TN * NH * HD, 1e-5, 1e-6);
	for (int b = 0; b < B; b++) {
		int n = past[b] + TN;
		float *qf = calloc((size_t)n * NH * HD, 4);
		memcpy(qf + (size_t)past[b] * NH * HD, qn + (size_t)b * TN * NH * HD,
		       (size_t)TN * NH * HD * 4);
		attention_forward(full, NULL, qf, kc + (size_t)b * L * NKV * HD,
		                  vc + (size_t)b * L * NKV * HD, NULL, &ow, 1, n, NH, NKV, HD);
		snprintf(w, sizeof w, "attn decode vs full b=%d window %d cap %g", b, W, cap);
		kc_close(w, d1 + (size_t)b * TN * NH * HD, full + (size_t)past[b] * NH * HD,
		         (size_t)TN * NH * HD, 1e-6, 1e-7);
		free(qf);
	}
	free(seg), free(q), free(k), free(v), free(dout), free(o1), free(o2), free(l1), free(l2);
	free(g1), free(g2), free(kc), free(vc), free(qn), free(d1), free(d2), free(full);
}

/* The decode's AVX2 loops (eight keys or eight dims a lane) against its scalar loops, bit for
 * bit: head dims with blocks of 32, of 8 and a scalar tail; rows that end in blocks of 16, of
 * 8 and a tail; a window and a soft cap; GQA. */
static void decode_lanes(void)
{
	if (vx_get_isa() < VX_AVX2)
		return;
	enum { B = 3, L = 70, TN = 2, NH = 4, NKV = 2 };
	const int hds[] = { 64, 80, 20, 8, 3 };
	const int32_t past[B] = { 0, 37, 68 - TN };
	struct attn_opts opts[] = { { 0, 0, 0 }, { 21, 0.3f, 4.0f } };
	for (int hi = 0; hi < 5; hi++)
		for (int oi = 0; oi < 2; oi++) {
			int HD = hds[hi];
			size_t nkv = (size_t)B * L * NKV * HD, nq = (size_t)B * TN * NH * HD;
			float *kc = malloc(nkv * 4), *vc = malloc(nkv * 4), *q = malloc(nq * 4);
			float *d1 = malloc(nq * 4), *d2 = malloc(nq * 4);
			kc_rand(kc, nkv, 31 + (uint64_t)HD, 2.0f);
			kc_rand(vc, nkv, 32 + (uint64_t)HD, 1.0f);
			kc_rand(q, nq, 33 + (uint64_t)HD, 2.0f);
			enum vx_isa was = vx_get_isa();
			attention_decode_fast(d1, q, kc, vc, past, &opts[oi], B, TN, L, NH, NKV, HD, 2);
			vx_set_isa(VX_SCALAR);
			attention_decode_fast(d2, q, kc, vc, past, &opts[oi], B, TN, L, NH, NKV, HD, 2);
			vx_set_isa(was);
			CHECK(memcmp(d1, d2, nq * 4) == 0, "decode HD %d opts %d: AVX2 lanes differ from the "
			      "scalar loops", HD, oi);
			free(kc), free(vc), free(q), free(d1), free(d2);
		}
}

int main(void)
{
	decode_lanes();
	isa_tag = tags[vx_get_isa()];
	golden();
	fd(NULL);
	/* q . k / 2 reaches about 6 here, so a cap of 3 bends the scores */
	struct attn_opts capped = { 0, 0.5f, 3.0f };
	fd(&capped);
	fast_vs_ref(0, 0, 0);
	fast_vs_ref(50, 0, 0);
	fast_vs_ref(1, 0, 0);
	fast_vs_ref(0, 0.4f, 5.0f);
	fast_vs_ref(50, 0.4f, 5.0f);
	for (int isa = VX_AVX2; isa >= VX_SCALAR; isa--) {
		vx_set_isa((enum vx_isa)isa);
		if (vx_get_isa() != (enum vx_isa)isa)
			continue;
		isa_tag = tags[isa];
		golden();
		fast_vs_ref(0, 0, 0);
		fast_vs_ref(50, 0, 0);
		fast_vs_ref(1, 0, 0);
	}
	vx_set_isa(VX_AVX512);
	return test_main_end();
}
