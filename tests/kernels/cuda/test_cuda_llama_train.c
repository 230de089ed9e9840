/* qlora-tools: ISC license. */
/*
 * CUDA vs CPU training block: the same llama_train_block (kernels/model/llama_train.c) over
 * the two backend tables, on the tiny random model (tests/data/llama/tiny, f32 weights): loss
 * and every LoRA gradient, with and without checkpointing, with NEFTune and LoRA dropout, two
 * packed segments; then three AdamW steps through the CUDA table against the same steps
 * through the CPU's (fp32 state both sides). Then prefix tuning as lora-train runs it
 * (jobs/lora_train_prefix.h over each table): a prefix of 6 slots, positions after it or from
 * 0, with --prefix-dropout's mask (bit-identical on both sides) and with PEFT's projection
 * MLP (the table made by prefix_encoder on each backend): the table, the loss, the table's and
 * the MLP's gradients, the trainable tensors listed alike (lora_table_tensors of the device
 * copy against adapter_tensors), and token accuracy from a loss-only pass (lm_head_correct).
 */
#include "kernels/adamw.h"
#include "kernels/backend.h"
#include "kernels/embedding.h"
#include "kernels/model/llama_train.h"

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "jobs/lora_train_prefix.h"
#include "cuda_check.h"

static void randomize(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		for (int k = 0; k < l->r * l->in; k++)
			l->A[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
		for (int k = 0; k < l->out * l->r; k++)
			l->B[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
	}
}

static void zero(struct adapter *a)
{
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		if (l->A) {
			memset(l->A, 0, sizeof(float) * l->r * l->in);
			memset(l->B, 0, sizeof(float) * l->out * l->r);
		}
	}
}

/* Compares every A and B of got with ref. */
static void compare(const char *what, const struct adapter *got, const struct adapter *ref,
                    double rtol, double atol, double nmse)
{
	for (int i = 0; i < ref->dims.n_layers * ADAPTER_N_MODULES; i++) {
		const struct lora_pair *g = &got->lora[i], *r = &ref->lora[i];
		if (!r->A)
			continue;
		char w[96];
		snprintf(w, sizeof w, "%s pair %d A", what, i);
		cc_close(w, g->A, r->A, (size_t)r->r * r->in, rtol, atol, nmse);
		snprintf(w, sizeof w, "%s pair %d B", what, i);
		cc_close(w, g->B, r->B, (size_t)r->out * r->r, rtol, atol, nmse);
	}
}

/* One block with a prefix through the table be (the model m in its memory, the adapter's host
 * tables at and gt); dl, dg: copies in be (or at, gt themselves on the CPU). The gradient and
 * the table end in host adapter go (downloaded when be is a device). */
static int prefix_block(const struct llama_model *m, const struct lora_table *dl,
                        struct lora_table *dg, float pdrop, const int32_t *ids,
                        const int32_t *pos, const int32_t *seg, const int32_t *tgt, int T, int n,
                        double *loss, long *hits, struct adapter *go, struct adapter *ao)
{
	const struct qt_backend *be = llama_be(m);
	struct qt_err err = { 0 };
	struct prefix_train pt;
	if (prefix_train_init(&pt, be, dl, pdrop, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return -1;
	}
	struct llama_train_ws *ws = llama_train_ws_new(m, T, 4, 1);
	struct lora_table lt = *dl;
	lt.prefix = (float *)prefix_train_table(&pt, dl, dg, 123);
	*loss = 0;
	int st = llama_train_block(m, &lt, dg, ws, ids, pos, seg, tgt, T, 1.0f / n, 0, 0, NULL, loss,
	                           &err);
	CHECK(st == QT_OK, "%s", err.msg);
	prefix_train_grad(&pt, dl, dg, 123);
	double l2 = 0;
	CHECK(llama_train_block(m, dl, NULL, ws, ids, pos, seg, tgt, T, 0, 0, 0, NULL, &l2, &err) ==
	      QT_OK, "%s", err.msg);
	*hits = llama_train_correct(m, ws, T);
	if (!be->host) {
		CHECK(lora_table_download(ADAPTER_TABLE(go), dg, be) == 0, "download the gradient");
		CHECK(lora_table_download(ADAPTER_TABLE(ao), dl, be) == 0, "download the table");
	}
	llama_train_ws_free(ws);
	prefix_train_free(&pt);
	return st;
}

/* The GPU's side of prefix_case: the same block through the CUDA table, against the CPU's
 * loss, hits, table (a) and gradients (g). */
static void prefix_gpu(const struct llama_model *m, const struct adapter *a,
                       const struct adapter *g, const struct lora_table *at, float pdrop,
                       const int32_t *ids, const int32_t *pos, const int32_t *seg,
                       const int32_t *tgt, int T, int n, double loss, long hits, const char *what)
{
	const struct qt_backend *be = &qt_backend_cuda;
	struct qt_err err = { 0 };
	struct adapter ad, gd;
	struct llama_model dm;
	struct lora_table dl = { 0 }, dg = { 0 };
	int ok = adapter_like(&gd, a, &err) == QT_OK && adapter_like(&ad, a, &err) == QT_OK &&
	         llama_model_upload(&dm, m, be, &err) == QT_OK &&
	         lora_table_upload(&dl, at, be, 0, &err) == QT_OK &&
	         lora_table_upload(&dg, at, be, 1, &err) == QT_OK;
	CHECK(ok, "%s: %s", what, err.msg);
	/* the trainable tensors as lora-train lists them on either side */
	enum { NT = 16 };
	float *tp[NT];
	size_t tn[NT], an[NT], np = (size_t)a->prefix_len * adapter_prefix_width(&a->dims);
	int k = ok ? lora_table_tensors(&dl, tp, tn, NT) : 0, mlp = a->mlp.emb != NULL;
	size_t ka = adapter_tensors(a, tp, an, NT);
	CHECK(!ok || ((size_t)k == ka && ka == (mlp ? 5u : 1u) && !memcmp(tn, an, ka * sizeof *tn)),
	      "%s: %d device tensors, %zu adapter tensors", what, k, ka);
	double dloss;
	long dhits;
	if (ok && prefix_block(&dm, &dl, &dg, pdrop, ids, pos, seg, tgt, T, n, &dloss, &dhits, &gd,
	                       &ad) == QT_OK) {
		printf("%s: loss gpu %.9g cpu %.9g, token accuracy %ld vs %ld of %d\n", what,
		       dloss / n, loss / n, dhits, hits, n);
		CHECK(fabs(dloss - loss) <= 1e-5 * fabs(loss), "%s: loss %g vs %g", what, dloss, loss);
		CHECK(dhits == hits, "%s: %ld tokens predicted, CPU %ld", what, dhits, hits);
		cc_close("prefix table", ad.prefix, a->prefix, np, 1e-4, 1e-6, 1e-10);
		cc_close("prefix table gradient", gd.prefix, g->prefix, np, 1e-3, 1e-6, 1e-8);
		if (mlp)
			cc_close("prefix MLP gradients", gd.mlp.emb, g->mlp.emb,
			         prefix_mlp_floats(&g->mlp), 1e-3, 1e-6, 1e-8);
	}
	lora_table_release(&dl, be), lora_table_release(&dg, be);
	if (ok)
		llama_free(&dm);
	adapter_free(&gd), adapter_free(&ad);
}

static void prefix_case(const struct llama_model *m, int pos0, float pdrop, int mlp,
                        const int32_t *ids, const int32_t *pos, const int32_t *seg,
                        const int32_t *tgt, int T, int n)
{
	struct qt_err err = { 0 };
	struct adapter_dims dims = llama_adapter_dims(&m->cfg);
	struct adapter a, g;
	if (adapter_init_prefix(&a, 6, &dims, m->cfg.NKV, &err) != QT_OK ||
	    (mlp && adapter_mlp_init(&a, 16, &err) != QT_OK)) {
		CHECK(0, "%s", err.msg);
		return;
	}
	a.cfg.prefix_pos0 = pos0;
	size_t np = (size_t)a.prefix_len * adapter_prefix_width(&dims);
	kc_rand(a.prefix, np, 31, 1.0f);
	if (mlp)
		kc_rand(a.mlp.emb, prefix_mlp_floats(&a.mlp), 32, 0.5f);
	CHECK(adapter_like(&g, &a, &err) == QT_OK, "%s", err.msg);
	struct lora_table at, gt;
	adapter_table(&a, &at), adapter_table(&g, &gt);
	double loss;
	long hits;
	prefix_block(m, &at, &gt, pdrop, ids, pos, seg, tgt, T, n, &loss, &hits, NULL, NULL);
	char what[96];
	snprintf(what, sizeof what, "prefix%s%s dropout %g", pos0 ? " pos0" : "",
	         mlp ? " projection" : "", pdrop);
	CHECK(hits >= 0, "%s: the CPU counts no token accuracy", what);
	const struct qt_backend *be = &qt_backend_cuda;
	CHECK(!llama_backend_missing(m, &at, be), "%s: refused on cuda", what);
	if (cc_have_gpu(what))
		prefix_gpu(m, &a, &g, &at, pdrop, ids, pos, seg, tgt, T, n, loss, hits, what);
	adapter_free(&a), adapter_free(&g);
}

int main(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/llama/tiny", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return test_main_end();
	}
	const char *js = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":"
	                 "\"all-linear\"}";
	struct adapter_config cfg;
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK, "%s", err.msg);
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, g, g2, mm, vv;
	CHECK(adapter_init(&a, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g2, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&mm, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&vv, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	randomize(&a, 3);
	enum { T = 45 };
	int32_t ids[T], pos[T], seg[T], tgt[T];
	struct qt_rng r;
	qt_rng_seed(&r, 5);
	int n = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)qt_rng_below(&r, (uint64_t)m.cfg.V);
		seg[t] = t < 19 ? 1 : 2;
		pos[t] = t < 19 ? t : t - 19;
	}
	for (int t = 0; t < T; t++) {
		tgt[t] = t + 1 < T && t + 1 != 19 && t % 4 != 0 ? ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	struct llama_train_dropout drop = { 0.1f, 77, 3, 1 };
	/* mode 0: plain, checkpointing; 1: no checkpointing + NEFTune + dropout */
	for (int mode = 0; mode < 2; mode++) {
		float mag = mode ? neftune_magnitude(5.0, T, m.cfg.C) : 0.0f;
		const struct llama_train_dropout *dp = mode ? &drop : NULL;
		struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, !mode);
		double loss = 0;
		zero(&g);
		CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), ws, ids, pos, seg,
		                        tgt, T, 1.0f / n, mag, 99, dp, &loss, &err) == QT_OK, "%s",
		      err.msg);
		llama_train_ws_free(ws);
		char what[64];
		snprintf(what, sizeof what, "llama_train_block_cuda mode %d", mode);
		if (!cc_have_gpu(what))
			continue;
		const struct qt_backend *be = &qt_backend_cuda;
		struct llama_model dm;
		struct lora_table dl = { 0 }, dg = { 0 }, dmm = { 0 }, dvv = { 0 };
		int ok = llama_model_upload(&dm, &m, be, &err) == QT_OK &&
		         lora_table_upload(&dl, ADAPTER_TABLE(&a), be, 0, &err) == QT_OK &&
		         lora_table_upload(&dg, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
		         lora_table_upload(&dmm, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
		         lora_table_upload(&dvv, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK;
		struct llama_train_ws *dw = ok ? llama_train_ws_new(&dm, T, 4, !mode) : NULL;
		CHECK(dw != NULL, "%s", err.msg);
		enum { NT = 7 * 2 * 64 };
		float *tp[NT], *tg[NT], *tm[NT], *tv[NT];
		size_t len[NT];
		int nt = dw ? lora_table_tensors(&dl, tp, len, NT) : 0;
		lora_table_tensors(&dg, tg, len, NT);
		lora_table_tensors(&dmm, tm, len, NT);
		lora_table_tensors(&dvv, tv, len, NT);
		CHECK(nt <= NT, "%d tensors", nt);
		if (dw) {
			double dloss = 0;
			CHECK(llama_train_block(&dm, &dl, &dg, dw, ids, pos, seg, tgt, T, 1.0f / n, mag,
			                        99, dp, &dloss, &err) == QT_OK, "%s", err.msg);
			printf("%s: loss gpu %.9g cpu %.9g\n", what, dloss / n, loss / n);
			CHECK(fabs(dloss - loss) <= 1e-5 * fabs(loss), "loss %g vs %g", dloss, loss);
			CHECK(lora_table_download(ADAPTER_TABLE(&g2), &dg, be) == 0, "download");
			compare(what, &g2, &g, 1e-3, 1e-6, 1e-8);
			double ss = 0, dss = -1;
			for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (g.lora[i].A) {
					grad_sumsq(&ss, g.lora[i].A, (size_t)g.lora[i].r * g.lora[i].in);
					grad_sumsq(&ss, g.lora[i].B, (size_t)g.lora[i].out * g.lora[i].r);
				}
			double *dsum = be->alloc(sizeof(double));
			be->zero(dsum, sizeof(double));
			for (int i = 0; i < nt; i++)
				be->grad_sumsq(dsum, tg[i], len[i]);
			CHECK(be->download(&dss, dsum, sizeof dss) == 0, "sumsq");
			be->free(dsum);
			CHECK(fabs(dss - ss) <= 1e-5 * ss, "grad sumsq %g vs %g", dss, ss);
		}
		if (dw && mode == 0) {
			/* three AdamW steps from these gradients, both tables */
			struct adapter p2;
			CHECK(adapter_init(&p2, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
			zero(&mm), zero(&vv);
			/* the device starts from the CPU's gradients: upload them */
			struct lora_table gt;
			adapter_table(&g, &gt);
			for (int i = 0, k = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (gt.pairs[i].A) {
					be->upload(tg[k], gt.pairs[i].A, len[k] * sizeof(float)), k++;
					be->upload(tg[k], gt.pairs[i].B, len[k] * sizeof(float)), k++;
				}
			for (long t = 1; t <= 3; t++) {
				struct adamw_hparams h;
				adamw_hparams_init(&h, 1e-3, 0.9, 0.999, 1e-8, 0.01, t);
				for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
					struct lora_pair *p = &a.lora[i], *gg = &g.lora[i];
					if (!p->A)
						continue;
					adamw_step(p->A, gg->A, mm.lora[i].A, vv.lora[i].A,
					           (size_t)p->r * p->in, &h);
					adamw_step(p->B, gg->B, mm.lora[i].B, vv.lora[i].B,
					           (size_t)p->out * p->r, &h);
				}
				for (int k = 0; k < nt; k++)
					be->adamw_step(tp[k], tg[k], tm[k], tv[k], len[k], &h);
			}
			cc_ok("adamw steps");
			CHECK(lora_table_download(ADAPTER_TABLE(&p2), &dl, be) == 0, "download");
			for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (a.lora[i].A) {
					cc_exact("adamw A", p2.lora[i].A, a.lora[i].A,
					         sizeof(float) * a.lora[i].r * a.lora[i].in);
					cc_exact("adamw B", p2.lora[i].B, a.lora[i].B,
					         sizeof(float) * a.lora[i].out * a.lora[i].r);
				}
			adapter_free(&p2);
			randomize(&a, 3); /* back to the parameters mode 1 expects */
		}
		llama_train_ws_free(dw);
		lora_table_release(&dl, be), lora_table_release(&dg, be);
		lora_table_release(&dmm, be), lora_table_release(&dvv, be);
		if (ok)
			llama_free(&dm);
	}
	/* prefix tuning: plain, positions from 0 with dropout, the projection with dropout */
	prefix_case(&m, 0, 0.0f, 0, ids, pos, seg, tgt, T, n);
	prefix_case(&m, 1, 0.1f, 0, ids, pos, seg, tgt, T, n);
	prefix_case(&m, 0, 0.1f, 1, ids, pos, seg, tgt, T, n);
	adapter_free(&a), adapter_free(&g), adapter_free(&g2), adapter_free(&mm), adapter_free(&vv);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
