/* qlora-tools: ISC license. */
/*
 * lora-train's prefix extras (jobs/lora_train_prefix.h) on the packed block of
 * tests/ref/prefix_packed_golden.py (llama-bias, its PEFT prefix): --prefix-dropout's mask
 * (about p of the entries zero, the others scaled by 1 / (1 - p) exactly, the same mask for the
 * same seed and another for another block), and the table gradient through it against central
 * finite differences of the loss of the dropped table, with exactly 0 where an entry is dropped.
 * --prefix-projection against PEFT 0.21.2 (tests/ref/prefix_proj_golden.py): the table the MLP
 * makes equals the prompt_embeddings PEFT saved, and the block's loss and the gradients of the
 * five MLP tensors equal PEFT's; the gradients against central finite differences too.
 */
#include <math.h>
#include <string.h>

#include "formats/model_dir.h"
#include "jobs/llama_load.h"
#include "jobs/lora_train_prefix.h"
#include "kernels/dropout.h"
#include "kernels/model/llama_train.h"
#include "test.h"

#include "../kernels/model/model_check.h"

enum { TMAX = 64 };

struct block {
	int32_t ids[TMAX], pos[TMAX], seg[TMAX], tgt[TMAX];
	int T, n;
};

static int read_ints(FILE *f, int32_t *v, int max)
{
	char line[4096], *s = line, *e;
	if (!fgets(line, sizeof line, f))
		return 0;
	int n = 0;
	for (long x = strtol(s, &e, 10); e != s && n < max; x = strtol(s = e, &e, 10))
		v[n++] = (int32_t)x;
	return n;
}

/* NAME.packed.txt: ids, segment lengths, targets, "summed_ce N ..." */
static int load_block(const char *path, struct block *b)
{
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s", path);
	if (!f)
		return -1;
	int32_t lens[8];
	double ce;
	b->T = read_ints(f, b->ids, TMAX);
	int ns = read_ints(f, lens, 8), nt = read_ints(f, b->tgt, TMAX);
	int ok = fscanf(f, "%lf %d", &ce, &b->n) == 2;
	fclose(f);
	int t = 0;
	for (int s = 0; s < ns; s++)
		for (int i = 0; i < lens[s] && t < TMAX; i++, t++)
			b->pos[t] = i, b->seg[t] = s;
	ok = ok && nt == b->T && t == b->T && b->T > 0;
	CHECK(ok, "%s: malformed", path);
	return ok ? 0 : -1;
}

/* summed CE / N of the block reading the table dropout(tab) */
static double loss_of(const struct llama_model *m, struct adapter *a, float *buf, float p,
                      uint64_t seed, struct llama_train_ws *ws, const struct block *b)
{
	struct qt_err err = { 0 };
	struct lora_table t = { .prefix_len = a->prefix_len };
	t.prefix = (float *)prefix_drop_table(a, buf, p, seed);
	double s = 0;
	CHECK(llama_train_block(m, &t, NULL, ws, b->ids, b->pos, b->seg, b->tgt, b->T, 0, 0, 0,
	                        NULL, &s, &err) == QT_OK, "%s", err.msg);
	return s / b->n;
}

static void check_dropout(void)
{
	char fam[1024], path[1200];
	snprintf(fam, sizeof fam, "%s/data/family/llama-bias", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	struct adapter a, g;
	struct block b;
	int ok = model_dir_open(&md, fam, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK &&
	         llama_load(&m, &md, &err) == QT_OK;
	struct adapter_dims dims = ok ? llama_adapter_dims(&m.cfg) : (struct adapter_dims){ 0 };
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias-prefix", test_srcdir());
	ok = ok && adapter_load(&a, path, &dims, &err) == QT_OK && adapter_like(&g, &a, &err) == 0;
	CHECK(ok, "%s", err.msg);
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias.packed.txt", test_srcdir());
	if (!ok || load_block(path, &b) != 0)
		return;
	size_t n = (size_t)a.prefix_len * adapter_prefix_width(&a.dims);
	float p = 0.3f, scale = dropout_scale(p), *buf = malloc(n * sizeof *buf);
	float *buf2 = malloc(n * sizeof *buf2);
	uint64_t seed = prefix_drop_seed(42, 3, 1);
	/* the mask: zeros at about p, the rest x * scale, per block */
	const float *d = prefix_drop_table(&a, buf, p, seed);
	size_t zero = 0, wrong = 0, differ = 0;
	for (size_t i = 0; i < n; i++) {
		zero += d[i] == 0;
		wrong += d[i] != 0 && d[i] != a.prefix[i] * scale;
	}
	prefix_drop_table(&a, buf2, p, prefix_drop_seed(42, 3, 2));
	for (size_t i = 0; i < n; i++)
		differ += (buf[i] == 0) != (buf2[i] == 0);
	double frac = (double)zero / (double)n;
	CHECK(fabs(frac - p) < 0.05, "dropped %.3f of %zu entries, p %.2f", frac, n, p);
	CHECK(wrong == 0, "%zu kept entries not scaled by 1 / (1 - p)", wrong);
	CHECK(differ > n / 10, "another block's mask equals this one's (%zu differ)", differ);
	CHECK(prefix_drop_table(&a, buf, 0, seed) == a.prefix, "p 0 must read the table itself");
	/* the gradient of the table through the mask */
	struct llama_train_ws *ws = llama_train_ws_new(&m, b.T, 1, 1);
	struct lora_table lt = { .prefix_len = a.prefix_len }, gt = { .prefix_len = a.prefix_len,
	                                                              .prefix = g.prefix };
	lt.prefix = (float *)prefix_drop_table(&a, buf, p, seed);
	double sum = 0;
	CHECK(llama_train_block(&m, &lt, &gt, ws, b.ids, b.pos, b.seg, b.tgt, b.T, 1.0f / b.n, 0, 0,
	                        NULL, &sum, &err) == QT_OK, "%s", err.msg);
	prefix_drop_grad(&g, p, seed);
	size_t nz = 0;
	for (size_t i = 0; i < n; i++)
		nz += buf[i] == 0 && g.prefix[i] != 0;
	CHECK(nz == 0, "%zu dropped entries with a gradient", nz);
	double worst = 0;
	for (int k = 0; k < 6; k++) {
		size_t at = 0;
		for (size_t i = 1; i < n; i++)
			if (fabsf(g.prefix[i]) > fabsf(g.prefix[at]))
				at = i;
		float keep = a.prefix[at], h = 1e-2f;
		a.prefix[at] = keep + h;
		double lp = loss_of(&m, &a, buf, p, seed, ws, &b);
		a.prefix[at] = keep - h;
		double lm = loss_of(&m, &a, buf, p, seed, ws, &b);
		a.prefix[at] = keep;
		double fd = (lp - lm) / (2.0 * h), e = fabs(fd - g.prefix[at]) / fabs(g.prefix[at]);
		CHECK(e <= 5e-3, "entry %zu: finite difference %.6g, gradient %.6g", at, fd,
		      g.prefix[at]);
		worst = e > worst ? e : worst;
		g.prefix[at] = 0;
	}
	printf("prefix dropout p %.1f: %.3f dropped, gradient against finite differences rel err "
	       "<= %.3g\n", p, frac, worst);
	llama_train_ws_free(ws);
	free(buf), free(buf2);
	adapter_free(&a), adapter_free(&g);
	llama_free(&m);
	model_dir_close(&md);
}

/* relative error sqrt(sum (a - b)^2 / sum b^2) */
static double rel_l2(const float *a, const float *b, size_t n)
{
	double d = 0, r = 0;
	for (size_t i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		r += (double)b[i] * b[i];
	}
	return sqrt(d / (r > 0 ? r : 1));
}

/* summed CE / N of the block through the MLP (the table made from a->mlp) */
static double proj_loss(const struct llama_model *m, struct adapter *a, struct prefix_train *pt,
                        struct llama_train_ws *ws, const struct block *b)
{
	prefix_train_refresh(pt, ADAPTER_TABLE(a));
	return loss_of(m, a, NULL, 0, 0, ws, b);
}

static void check_projection(void)
{
	char fam[1024], path[1200];
	snprintf(fam, sizeof fam, "%s/data/family/llama-bias", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	struct adapter a, g;
	struct block b;
	struct prefix_train pt;
	int ok = model_dir_open(&md, fam, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK &&
	         llama_load(&m, &md, &err) == QT_OK;
	struct adapter_dims dims = ok ? llama_adapter_dims(&m.cfg) : (struct adapter_dims){ 0 };
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias-proj", test_srcdir());
	ok = ok && adapter_load(&a, path, &dims, &err) == QT_OK && adapter_like(&g, &a, &err) == 0;
	CHECK(ok && a.mlp.emb && a.mlp.H == 24 && g.mlp.emb, "%s", ok ? "no MLP" : err.msg);
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias.packed.txt", test_srcdir());
	if (!ok || !a.mlp.emb || load_block(path, &b) != 0)
		return;
	/* the MLP's table against the one PEFT saved */
	size_t n = (size_t)a.prefix_len * adapter_prefix_width(&a.dims);
	float *saved = malloc(n * sizeof *saved);
	memcpy(saved, a.prefix, n * sizeof *saved);
	CHECK(prefix_train_init(&pt, &qt_backend_cpu, ADAPTER_TABLE(&a), 0, &err) == QT_OK, "%s",
	      err.msg);
	double te = rel_err(a.prefix, saved, n);
	CHECK(te <= 1e-6, "the MLP's table against PEFT's prompt_embeddings: rel err %.3g", te);
	/* one block's loss and MLP gradients against PEFT's */
	double ce = 0;
	int N = 0;
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias-proj.loss.txt", test_srcdir());
	FILE *f = fopen(path, "r");
	CHECK(f && fscanf(f, "%lf %d", &ce, &N) == 2 && N == b.n, "%s", path);
	if (f)
		fclose(f);
	struct llama_train_ws *ws = llama_train_ws_new(&m, b.T, 1, 1);
	struct lora_table lt = { .prefix_len = a.prefix_len }, gt = { .prefix_len = a.prefix_len,
	                                                              .prefix = g.prefix };
	lt.prefix = (float *)prefix_train_table(&pt, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), 0);
	double sum = 0;
	CHECK(llama_train_block(&m, &lt, &gt, ws, b.ids, b.pos, b.seg, b.tgt, b.T, 1.0f / b.n, 0, 0,
	                        NULL, &sum, &err) == QT_OK, "%s", err.msg);
	prefix_train_grad(&pt, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), 0);
	double le = fabs(sum - ce) / fabs(ce), worst = 0;
	CHECK(le <= 1e-5, "summed CE %.9g, PEFT %.9g", sum, ce);
	struct st_file gf;
	snprintf(path, sizeof path, "%s/data/prefix/llama-bias-proj-grad.safetensors",
	         test_srcdir());
	if (st_open(&gf, path, &err) == QT_OK) {
		for (int i = 0; i < ADAPTER_MLP_N; i++) {
			int64_t sh[2];
			const float *got = adapter_mlp_tensor(&g.mlp, i, sh);
			size_t k = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
			const struct st_tensor *t = st_find(&gf, adapter_mlp_names[i]);
			CHECK(t && t->dtype == QT_DTYPE_F32 && t->n_elem == k, "%s in %s",
			      adapter_mlp_names[i], path);
			if (!t || t->n_elem != k)
				continue;
			double e = rel_l2(got, (const float *)t->data, k);
			CHECK(e <= 1e-3, "gradient of %s: rel err %.3g", adapter_mlp_names[i], e);
			printf("projection: gradient of %-18s rel err %.3g\n", adapter_mlp_names[i], e);
			worst = e > worst ? e : worst;
		}
		st_close(&gf);
	} else {
		CHECK(0, "%s", err.msg);
	}
	/* central differences through the MLP at the largest gradient of each tensor */
	double fd_worst = 0;
	for (int i = 0; i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		float *w = adapter_mlp_tensor(&a.mlp, i, sh), *gw = adapter_mlp_tensor(&g.mlp, i, sh);
		size_t k = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1), at = 0;
		for (size_t j = 1; j < k; j++)
			if (fabsf(gw[j]) > fabsf(gw[at]))
				at = j;
		float keep = w[at], h = 1e-2f;
		w[at] = keep + h;
		double lp = proj_loss(&m, &a, &pt, ws, &b);
		w[at] = keep - h;
		double lm = proj_loss(&m, &a, &pt, ws, &b);
		w[at] = keep;
		double fd = (lp - lm) / (2.0 * h), e = fabs(fd - gw[at]) / fabs(gw[at]);
		CHECK(e <= 5e-3, "%s[%zu]: finite difference %.6g, gradient %.6g", adapter_mlp_names[i],
		      at, fd, gw[at]);
		fd_worst = e > fd_worst ? e : fd_worst;
	}
	printf("projection: table rel err %.3g, loss rel %.3g, MLP gradients rel err <= %.3g, finite "
	       "differences rel err <= %.3g\n", te, le, worst, fd_worst);
	llama_train_ws_free(ws);
	prefix_train_free(&pt);
	free(saved);
	adapter_free(&a), adapter_free(&g);
	llama_free(&m);
	model_dir_close(&md);
}

int main(void)
{
	check_dropout();
	check_projection();
	return test_main_end();
}
