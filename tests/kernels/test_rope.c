/* qlora-tools: ISC license. */
/* rope: inv_freq (default, linear, llama3) and cos/sin against transformers'
 * LlamaRotaryEmbedding, rotation against apply_rotary_pos_emb and its autograd, fd check. */
#include "kernels/rope.h"

#include "kcheck.h"

static const double thetas[4] = { 100000, 10000, 500000, 500000 };
static const struct rope_scaling scalings[4] = {
	{ ROPE_DEFAULT, 0, 0, 0, 0 },
	{ ROPE_LINEAR, 2.0, 0, 0, 0 },
	{ ROPE_LLAMA3, 8.0, 1.0, 4.0, 8192 },
	{ ROPE_LLAMA3, 32.0, 1.0, 4.0, 8192 },
};

struct fd_ctx { float *x, *y, *r, *c, *s; int T, NH, HD, rot, il; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	rope_forward_part(c->y, c->x, c->c, c->s, c->T, c->NH, c->HD, c->rot, c->il);
	return kc_dot(c->y, c->r, (size_t)c->T * c->NH * c->HD);
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "rope") == 0) {
		for (int i = 0; i < 4; i++) {
			const struct kc_tensor *qt = kc_t(&g, "q%d", i), *kt = kc_t(&g, "k%d", i);
			int T = (int)qt->dims[0], NH = (int)qt->dims[1], HD = (int)qt->dims[2];
			int NKV = (int)kt->dims[1], half = HD / 2;
			char what[80];
			float inv[128];
			rope_inv_freq(inv, HD, thetas[i], &scalings[i]);
			const float *ginv = kc_f(&g, "inv%d", i);
			int diff = 0;
			for (int j = 0; j < half; j++)
				diff += memcmp(&inv[j], &ginv[j], 4) != 0;
			snprintf(what, sizeof what, "rope inv_freq case %d HD=%d", i, HD);
			kc_close(what, inv, ginv, half, 2e-7, 0);
			printf("  %d of %d inv_freq values differ in bits from torch\n", diff, half);
			float *c = malloc((size_t)T * half * 4), *s = malloc((size_t)T * half * 4);
			float *gc = malloc((size_t)T * half * 4), *gs = malloc((size_t)T * half * 4);
			const float *tc = kc_f(&g, "cos%d", i), *ts = kc_f(&g, "sin%d", i);
			int dup = 0;
			for (int t = 0; t < T; t++)
				for (int j = 0; j < half; j++) {
					gc[t * half + j] = tc[t * HD + j];
					gs[t * half + j] = ts[t * HD + j];
					dup += tc[t * HD + j] != tc[t * HD + j + half];
				}
			CHECK(dup == 0, "torch cos is not cat(freqs, freqs)");
			/* cos/sin from torch's own inv_freq: tests the table kernel alone */
			rope_table(c, s, kc_get(&g, (snprintf(what, sizeof what, "pos%d", i), what), NULL),
			           ginv, T, HD);
			snprintf(what, sizeof what, "rope cos case %d", i);
			kc_close(what, c, gc, (size_t)T * half, 0, 2e-6);
			snprintf(what, sizeof what, "rope sin case %d", i);
			kc_close(what, s, gs, (size_t)T * half, 0, 2e-6);
			/* rotation with torch's tables: forward and backward of q and k */
			size_t nq = (size_t)T * NH * HD, nk = (size_t)T * NKV * HD;
			float *q = malloc(nq * 4), *k = malloc(nk * 4);
			rope_forward(q, kc_f(&g, "q%d", i), gc, gs, T, NH, HD);
			memcpy(k, kc_f(&g, "k%d", i), nk * 4);
			rope_forward(k, k, gc, gs, T, NKV, HD); /* in place */
			snprintf(what, sizeof what, "rope fwd q case %d", i);
			kc_close(what, q, kc_f(&g, "qr%d", i), nq, 1e-6, 1e-6);
			snprintf(what, sizeof what, "rope fwd k (in place) case %d", i);
			kc_close(what, k, kc_f(&g, "kr%d", i), nk, 1e-6, 1e-6);
			rope_backward(q, kc_f(&g, "dqr%d", i), gc, gs, T, NH, HD);
			memcpy(k, kc_f(&g, "dkr%d", i), nk * 4);
			rope_backward(k, k, gc, gs, T, NKV, HD);
			snprintf(what, sizeof what, "rope bwd dq case %d", i);
			kc_close(what, q, kc_f(&g, "dq%d", i), nq, 1e-6, 1e-6);
			snprintf(what, sizeof what, "rope bwd dk case %d", i);
			kc_close(what, k, kc_f(&g, "dk%d", i), nk, 1e-6, 1e-6);
			/* our own tables end to end */
			rope_table(c, s, kc_get(&g, (snprintf(what, sizeof what, "pos%d", i), what), NULL),
			           inv, T, HD);
			rope_forward(q, kc_f(&g, "q%d", i), c, s, T, NH, HD);
			snprintf(what, sizeof what, "rope fwd q own tables %d", i);
			kc_close(what, q, kc_f(&g, "qr%d", i), nq, 0, 2e-5);
			free(c), free(s), free(gc), free(gs), free(q), free(k);
		}
	}
	/* finite differences: T = 3 packed positions, 2 heads, HD = 6 */
	{
		int T = 3, NH = 2, HD = 6, half = 3;
		int32_t pos[3] = { 0, 5, 1 };
		float inv[3], c[9], s[9], x[36], y[36], r[36], dx[36];
		rope_inv_freq(inv, HD, 10000, NULL);
		rope_table(c, s, pos, inv, T, HD);
		kc_rand(x, 36, 1, 1.0f);
		kc_rand(r, 36, 2, 1.0f);
		rope_backward(dx, r, c, s, T, NH, HD);
		struct fd_ctx ctx = { x, y, r, c, s, T, NH, HD, HD, 0 };
		kc_fd("rope dx T=3 NH=2 HD=6", fd_loss, &ctx, x, dx, 36, 1e-2f, 1e-3);
		(void)half;
	}
	/* partial (rot 4 of HD 8) and interleaved rotation: a hand-written reference of GLM's
	 * apply_rotary_pos_emb, finite differences, and the pass-through dims untouched */
	for (int il = 0; il < 2; il++) {
		int T = 3, NH = 2, HD = 8, rot = 4;
		int32_t pos[3] = { 0, 5, 1 };
		float inv[2], c[6], s[6], x[48], y[48], r[48], dx[48], want[48];
		rope_inv_freq(inv, rot, 10000, NULL);
		rope_table(c, s, pos, inv, T, rot);
		kc_rand(x, 48, 3, 1.0f);
		kc_rand(r, 48, 4, 1.0f);
		for (int t = 0; t < T; t++)
			for (int h = 0; h < NH; h++) {
				const float *xh = x + (t * NH + h) * HD;
				float *w = want + (t * NH + h) * HD;
				for (int d = 0; d < HD; d++)
					w[d] = xh[d];
				for (int j = 0; j < rot / 2; j++) {
					int a = il ? 2 * j : j, b = il ? 2 * j + 1 : j + rot / 2;
					w[a] = xh[a] * c[t * 2 + j] - xh[b] * s[t * 2 + j];
					w[b] = xh[b] * c[t * 2 + j] + xh[a] * s[t * 2 + j];
				}
			}
		rope_forward_part(y, x, c, s, T, NH, HD, rot, il);
		char what[64];
		snprintf(what, sizeof what, "rope part rot 4 of 8 interleaved %d", il);
		kc_close(what, y, want, 48, 1e-6, 1e-7);
		rope_backward_part(dx, r, c, s, T, NH, HD, rot, il);
		struct fd_ctx ctx = { x, y, r, c, s, T, NH, HD, rot, il };
		snprintf(what, sizeof what, "rope part dx interleaved %d", il);
		kc_fd(what, fd_loss, &ctx, x, dx, 48, 1e-2f, 1e-3);
	}
	free(g.buf);
	return test_main_end();
}
