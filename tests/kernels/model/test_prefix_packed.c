/* qlora-tools: ISC license. */
/*
 * One packed training block (two sequences) under prefix tuning against PEFT 0.21.2
 * (tests/ref/prefix_packed_golden.py) on the tiny model of every family: the summed CE within
 * 1e-5 and the gradient of prompt_embeddings within 1e-3 relative, TRL's token accuracy (label
 * tokens whose logits' argmax is the label) exactly; and the gradient against central finite
 * differences of the loss at the table entries with the largest gradients; and ChatGLM's
 * convention (positions from 0, lora_table.prefix_pos0) against transformers given position_ids
 * from 0.
 */
#include <math.h>
#include <string.h>

#include "formats/safetensors.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama_train.h"
#include "test.h"

#include "model_check.h"

enum { TMAX = 64 };

/* Up to max integers of one line of f; returns how many. */
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

struct block {
	int32_t ids[TMAX], pos[TMAX], seg[TMAX], tgt[TMAX];
	int T, n;
	double ce, ce0; /* ce0: positions from 0 */
	long correct;
};

static int load_block(const char *path, struct block *b)
{
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s", path);
	if (!f)
		return -1;
	int32_t lens[8];
	b->T = read_ints(f, b->ids, TMAX);
	int ns = read_ints(f, lens, 8);
	int nt = read_ints(f, b->tgt, TMAX);
	int ok = fscanf(f, "%lf %d %ld %lf", &b->ce, &b->n, &b->correct, &b->ce0) == 4;
	fclose(f);
	int t = 0;
	for (int s = 0; s < ns; s++)
		for (int i = 0; i < lens[s] && t < TMAX; i++, t++) {
			b->pos[t] = i;
			b->seg[t] = s;
		}
	CHECK(ok && nt == b->T && t == b->T && b->T > 0, "%s: malformed", path);
	return ok && nt == b->T && t == b->T ? 0 : -1;
}

static double loss_only(const struct llama_model *m, const struct lora_table *pre,
                        struct llama_train_ws *ws, const struct block *b)
{
	struct qt_err err = { 0 };
	double s = 0;
	CHECK(llama_train_block(m, pre, NULL, ws, b->ids, b->pos, b->seg, b->tgt, b->T, 0, 0, 0,
	                        NULL, &s, &err) == QT_OK, "%s", err.msg);
	return s;
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
	struct block b;
	snprintf(path, sizeof path, "%s/%s.packed.txt", dir, name);
	int P = 0, P2 = 0;
	size_t n = 0, n2 = 0;
	snprintf(path, sizeof path, "%s/%s-prefix", dir, name);
	float *tab = st == QT_OK ? load_prefix_table(path, &P, &n) : NULL;
	snprintf(path, sizeof path, "%s/%s-packed-grad", dir, name);
	float *want = tab ? load_prefix_table(path, &P2, &n2) : NULL;
	snprintf(path, sizeof path, "%s/%s.packed.txt", dir, name);
	if (!want || P2 != P || n2 != n || load_block(path, &b) != 0)
		goto out;
	struct lora_table pre = { .prefix_len = P, .prefix = tab };
	size_t np = (size_t)P * n;
	float *g = calloc(np, sizeof *g);
	struct lora_table gt = { .prefix_len = P, .prefix = g };
	struct llama_train_ws *ws = llama_train_ws_new(&m, b.T, 1, 1);
	double sum = 0;
	CHECK(llama_train_block(&m, &pre, &gt, ws, b.ids, b.pos, b.seg, b.tgt, b.T, 1.0f / b.n, 0, 0,
	                        NULL, &sum, &err) == QT_OK, "%s", err.msg);
	double lerr = fabs(sum - b.ce) / fabs(b.ce), d = 0, r = 0;
	for (size_t i = 0; i < np; i++) {
		d += ((double)g[i] - want[i]) * ((double)g[i] - want[i]);
		r += (double)want[i] * want[i];
	}
	double ge = sqrt(d / (r > 0 ? r : 1));
	CHECK(lerr <= 1e-5, "%s: packed block summed CE %.9g, PEFT %.9g", name, sum, b.ce);
	CHECK(ge <= 1e-3 && r > 0, "%s: packed block prefix gradient rel err %.3g", name, ge);
	/* TRL's token accuracy of the block, from a loss-only pass */
	double s2 = loss_only(&m, &pre, ws, &b);
	long hits = llama_train_correct(&m, ws, b.T);
	CHECK(hits == b.correct, "%s: %ld label tokens predicted, TRL counts %ld", name, hits,
	      b.correct);
	CHECK(fabs(s2 - sum) <= 1e-6 * fabs(sum), "%s: loss-only %.9g != %.9g", name, s2, sum);
	/* central differences of the summed CE / N at the 6 largest gradient entries */
	double fd_worst = 0;
	for (int k = 0; k < 6; k++) {
		size_t at = 0;
		for (size_t i = 1; i < np; i++)
			if (fabsf(g[i]) > fabsf(g[at]))
				at = i;
		float keep = tab[at], h = 1e-2f;
		tab[at] = keep + h;
		double lp = loss_only(&m, &pre, ws, &b);
		tab[at] = keep - h;
		double lm = loss_only(&m, &pre, ws, &b);
		tab[at] = keep;
		double fd = (lp - lm) / (2.0 * h) / b.n, e = fabs(fd - g[at]) / fabs(g[at]);
		CHECK(e <= 5e-3, "%s: entry %zu: finite difference %.6g, gradient %.6g", name, at, fd,
		      g[at]);
		fd_worst = e > fd_worst ? e : fd_worst;
		g[at] = 0; /* the next largest next time */
	}
	/* ChatGLM's positions from 0 (prefix_pos0) against transformers with position_ids 0.. */
	snprintf(path, sizeof path, "%s/%s-packed-pos0-grad", dir, name);
	float *want0 = load_prefix_table(path, &P2, &n2);
	if (want0 && P2 == P && n2 == n) {
		struct lora_table pre0 = { .prefix_len = P, .prefix = tab, .prefix_pos0 = 1 };
		memset(g, 0, np * sizeof *g);
		double s0 = 0, d0 = 0, r0 = 0, dx = 0;
		CHECK(llama_train_block(&m, &pre0, &gt, ws, b.ids, b.pos, b.seg, b.tgt, b.T, 1.0f / b.n,
		                        0, 0, NULL, &s0, &err) == QT_OK, "%s", err.msg);
		for (size_t i = 0; i < np; i++) {
			d0 += ((double)g[i] - want0[i]) * ((double)g[i] - want0[i]);
			dx += ((double)g[i] - want[i]) * ((double)g[i] - want[i]);
			r0 += (double)want0[i] * want0[i];
		}
		double l0 = fabs(s0 - b.ce0) / fabs(b.ce0), g0 = sqrt(d0 / (r0 > 0 ? r0 : 1));
		double gx = sqrt(dx / (r0 > 0 ? r0 : 1));
		CHECK(l0 <= 1e-5, "%s: positions from 0: summed CE %.9g, reference %.9g", name, s0,
		      b.ce0);
		CHECK(g0 <= 1e-3 && r0 > 0, "%s: positions from 0: gradient rel err %.3g", name, g0);
		CHECK(gx > 1e-2, "%s: positions from 0 give the gradient after the prefix too", name);
		printf("%s positions from 0: loss rel %.3g, gradient rel err %.3g (%.3g against the "
		       "positions after the prefix)\n", name, l0, g0, gx);
	}
	free(want0);
	printf("%s packed block (T=%d, %d labels): loss rel %.3g, prompt_embeddings gradient rel "
	       "err %.3g, token accuracy %ld/%d as TRL, finite differences rel err <= %.3g\n",
	       name, b.T, b.n, lerr, ge, hits, b.n, fd_worst);
	llama_train_ws_free(ws);
	free(g);
out:
	free(tab), free(want);
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
