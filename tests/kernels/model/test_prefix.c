/* qlora-tools: ISC license. */
/*
 * Prefix tuning against PEFT's PREFIX_TUNING (tests/ref/prefix_golden.py) on the tiny model of
 * every family (tests/ref/family_golden.py: GQA; a sliding window that hides the prefix from
 * later tokens; Qwen3's head_dim and q/k norms; Qwen2's biases and mixed sliding layers; Gemma's
 * scaled embeddings and GeGLU; Gemma-2's soft caps, query scale and sandwich norms; Phi-3's
 * fused projections; GLM's partial interleaved rotation): the forward's logits and cached
 * decoding with the prefix in the cache's first slots within 1e-4 relative, greedy continuation
 * (24 tokens) identical to PeftModel's, the summed CE within 1e-5 and the gradient of
 * prompt_embeddings within 1e-3 of PEFT's; two sequences packed in one block give each one's
 * logits alone (each segment sees the prefix, never the other segment). Without the prefix the
 * logits miss the golden. The adapter loader reads PEFT's directory to the same table, and what
 * adapter_save writes reads back equal.
 */
#include <math.h>

#include "common/io.h"
#include "common/le.h"
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama_train.h"
#include "test.h"

#include "model_check.h"

static void check_logits(const char *name, const struct llama_model *m,
                         const struct lora_table *pre, const char *path, int32_t **last,
                         int *last_T)
{
	struct qt_err err = { 0 };
	struct qt_map g;
	CHECK(qt_map_file(path, &g, &err) == QT_OK, "%s", err.msg);
	if (!g.data)
		return;
	const uint8_t *p = g.data + 8;
	uint32_t n_prompts = le32_load(p), V = le32_load(p + 4);
	p += 8;
	for (uint32_t k = 0; k < n_prompts; k++) {
		int T = (int)le32_load(p);
		p += 4;
		int32_t *ids = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
		for (int t = 0; t < T; t++) {
			ids[t] = (int32_t)le32_load(p + 4 * (size_t)t);
			pos[t] = t;
		}
		p += 4 * (size_t)T;
		float *want = malloc((size_t)T * V * 4), *got = malloc((size_t)T * V * 4);
		for (size_t i = 0; i < (size_t)T * V; i++)
			want[i] = lef32_load(p + 4 * i);
		p += 4 * (size_t)T * V;
		CHECK(llama_forward(m, pre, ids, pos, NULL, T, got, &err) == QT_OK, "%s", err.msg);
		double e = rel_err(got, want, (size_t)T * V);
		CHECK(e <= 1e-4, "%s prompt %u (T=%d): forward rel err %.3g", name, k, T, e);
		printf("%s T=%d forward rel err %.3g", name, T, e);
		if (k + 1 == n_prompts) {
			llama_forward(m, NULL, ids, pos, NULL, T, got, &err);
			double en = rel_err(got, want, (size_t)T * V);
			CHECK(en > 1e-3, "%s: the forward without the prefix matches too (%.3g)", name, en);
			printf(", without the prefix %.3g", en);
		}
		/* decoding: the prefix in the cache, a third of the prompt, then a token at a time */
		struct llama_cache c;
		CHECK(llama_cache_init(&c, m, 1, T + pre->prefix_len, &err) == QT_OK, "cache");
		CHECK(llama_cache_prefix(&c, pre, &err) == QT_OK, "%s", err.msg);
		int first = T / 3 > 0 ? T / 3 : 1;
		float *row = malloc(V * 4);
		llama_decode(m, pre, &c, ids, 1, first, row, &err);
		double ed = rel_err(row, want + (size_t)(first - 1) * V, V);
		for (int t = first; t < T; t++) {
			llama_decode(m, pre, &c, ids + t, 1, 1, row, &err);
			double e1 = rel_err(row, want + (size_t)t * V, V);
			ed = e1 > ed ? e1 : ed;
		}
		CHECK(ed <= 1e-4, "%s prompt %u: decode rel err %.3g", name, k, ed);
		printf(", decode %.3g\n", ed);
		llama_cache_free(&c);
		free(row), free(pos), free(want), free(got);
		if (k + 1 == n_prompts) {
			*last = ids;
			*last_T = T;
		} else {
			free(ids);
		}
	}
	qt_unmap(&g);
}

static void check_greedy(const char *name, const struct llama_model *m,
                         const struct lora_table *pre, const char *path)
{
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s", path);
	if (!f)
		return;
	int32_t ids[256];
	int n = 0, np = 0;
	char line[8192];
	for (int ln = 0; ln < 2 && fgets(line, sizeof line, f); ln++) {
		char *s = line, *e;
		for (long v = strtol(s, &e, 10); e != s && n < 256; v = strtol(s = e, &e, 10))
			ids[n++] = (int32_t)v;
		if (ln == 0)
			np = n;
	}
	fclose(f);
	struct qt_err err = { 0 };
	struct llama_cache c;
	llama_cache_init(&c, m, 1, n + pre->prefix_len + 1, &err);
	llama_cache_prefix(&c, pre, &err);
	float *row = malloc((size_t)m->cfg.V * 4);
	llama_decode(m, pre, &c, ids, 1, np, row, &err);
	int same = 0;
	for (int i = 0; i < n - np; i++) {
		int32_t next = argmax(row, m->cfg.V);
		if (next != ids[np + i])
			break;
		same++;
		llama_decode(m, pre, &c, &next, 1, 1, row, &err);
	}
	CHECK(same == n - np && same > 0, "%s: greedy differs from PEFT at new token %d", name, same);
	printf("%s greedy: %d/%d new tokens identical\n", name, same, n - np);
	free(row);
	llama_cache_free(&c);
}

static void check_grad(const char *name, const struct llama_model *m,
                       const struct lora_table *pre, const char *dir, const int32_t *ids, int T)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/%s-grad", dir, name);
	int P;
	size_t n;
	float *want = load_prefix_table(path, &P, &n);
	snprintf(path, sizeof path, "%s/%s.loss.txt", dir, name);
	double ref_sum = 0;
	int ref_n = 0;
	FILE *fp = fopen(path, "r");
	CHECK(fp && fscanf(fp, "%lf %d", &ref_sum, &ref_n) == 2, "%s", path);
	if (fp)
		fclose(fp);
	if (!want)
		return;
	int32_t *pos = malloc(4 * (size_t)T), *tgt = malloc(4 * (size_t)T);
	int nt = 0;
	for (int t = 0; t < T; t++) {
		pos[t] = t;
		tgt[t] = t + 1 < T && t + 1 >= 10 ? ids[t + 1] : -1;
		nt += tgt[t] >= 0;
	}
	float *g = calloc((size_t)P * n, sizeof *g);
	struct lora_table gt = { .prefix_len = P, .prefix = g };
	struct llama_train_ws *ws = llama_train_ws_new(m, T, 1, 1);
	double sum = 0;
	struct qt_err err = { 0 };
	CHECK(llama_train_block(m, pre, &gt, ws, ids, pos, NULL, tgt, T, 1.0f / nt, 0, 0, NULL, &sum,
	                        &err) == QT_OK, "%s", err.msg);
	double lerr = fabs(sum - ref_sum) / fabs(ref_sum), d = 0, r = 0;
	for (size_t i = 0; i < (size_t)P * n; i++) {
		d += ((double)g[i] - want[i]) * ((double)g[i] - want[i]);
		r += (double)want[i] * want[i];
	}
	double ge = sqrt(d / (r > 0 ? r : 1));
	CHECK(nt == ref_n && lerr <= 1e-5, "%s: summed CE %.9g, PEFT %.9g", name, sum, ref_sum);
	CHECK(ge <= 1e-3 && r > 0, "%s: prefix gradient relative error %.3g", name, ge);
	printf("%s: loss rel %.3g, prompt_embeddings gradient rel err %.3g\n", name, lerr, ge);
	llama_train_ws_free(ws);
	free(pos), free(tgt), free(g), free(want);
}

/* Two sequences in one block: each segment's logits are its own alone. */
static void check_packed(const char *name, const struct llama_model *m,
                         const struct lora_table *pre)
{
	enum { A = 11, B = 14, T = A + B };
	int V = m->cfg.V;
	int32_t ids[T], pos[T], seg[T];
	for (int t = 0; t < T; t++) {
		ids[t] = 3 + (t * 37) % 500;
		pos[t] = t < A ? t : t - A;
		seg[t] = t >= A;
	}
	float *pk = malloc((size_t)T * V * 4), *one = malloc((size_t)B * V * 4);
	struct qt_err err = { 0 };
	llama_forward(m, pre, ids, pos, seg, T, pk, &err);
	llama_forward(m, pre, ids, pos, NULL, A, one, &err);
	double e = rel_err(pk, one, (size_t)A * V);
	llama_forward(m, pre, ids + A, pos + A, NULL, B, one, &err);
	double e2 = rel_err(pk + (size_t)A * V, one, (size_t)B * V);
	e = e2 > e ? e2 : e;
	CHECK(e <= 1e-5, "%s: packed vs alone rel err %.3g", name, e);
	printf("%s: two packed segments vs each alone, rel err %.3g\n", name, e);
	free(pk), free(one);
}

static void check_family(const char *name)
{
	char fam[1024], dir[1024], path[1200];
	snprintf(fam, sizeof fam, "%s/data/family/%s", test_srcdir(), name);
	snprintf(dir, sizeof dir, "%s/data/prefix", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	int st = model_dir_open(&md, fam, MODEL_DIR_NO_TOKENIZER, &err);
	CHECK(st == QT_OK, "%s: %s", name, err.msg);
	if (st != QT_OK)
		return;
	struct llama_model m;
	st = llama_load(&m, &md, &err);
	CHECK(st == QT_OK, "%s: load: %s", name, err.msg);
	int P = 0;
	size_t n = 0;
	snprintf(path, sizeof path, "%s/%s-prefix", dir, name);
	float *tab = st == QT_OK ? load_prefix_table(path, &P, &n) : NULL;
	if (tab) {
		CHECK(n == (size_t)m.cfg.n_layer * 2 * m.cfg.NKV * m.cfg.HD, "%s: table width", name);
		struct adapter ad, back;
		struct adapter_dims dims = llama_adapter_dims(&m.cfg);
		CHECK(adapter_load(&ad, path, &dims, &err) == QT_OK && ad.prefix_len == P &&
		      memcmp(ad.prefix, tab, (size_t)P * n * 4) == 0, "%s: adapter_load: %s", name,
		      err.msg);
		char tmpl[] = "/tmp/qt_prefix.XXXXXX", sub[64];
		if (mkdtemp(tmpl) && ad.prefix) {
			snprintf(sub, sizeof sub, "%s/a", tmpl);
			CHECK(adapter_save(&ad, sub, QT_DTYPE_F32, &err) == QT_OK, "%s", err.msg);
			CHECK(adapter_load(&back, sub, &dims, &err) == QT_OK && back.prefix_len == P &&
			      memcmp(back.prefix, tab, (size_t)P * n * 4) == 0, "%s: round trip: %s",
			      name, err.msg);
			adapter_free(&back);
			snprintf(path, sizeof path, "rm -rf '%s'", tmpl);
			CHECK(system(path) == 0, "cleanup");
		}
		if (ad.lora)
			adapter_free(&ad);
		struct lora_table pre = { .prefix_len = P, .prefix = tab };
		int32_t *last = NULL;
		int T = 0;
		snprintf(path, sizeof path, "%s/%s.logits.bin", dir, name);
		check_logits(name, &m, &pre, path, &last, &T);
		snprintf(path, sizeof path, "%s/%s.greedy.txt", dir, name);
		check_greedy(name, &m, &pre, path);
		if (last)
			check_grad(name, &m, &pre, dir, last, T);
		check_packed(name, &m, &pre);
		free(last);
		free(tab);
	}
	if (st == QT_OK)
		llama_free(&m);
	model_dir_close(&md);
}

int main(void)
{
	static const char *const fam[] = { "llama-bias", "mistral-window", "qwen3", "qwen2",
	                                    "qwen2-window", "gemma", "gemma2", "phi3", "glm",
	                                    "glm4" };
	for (size_t i = 0; i < sizeof fam / sizeof *fam; i++)
		check_family(fam[i]);
	return test_main_end();
}
