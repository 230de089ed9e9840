/* qlora-tools: ISC license. */
/*
 * The engine with PEFT adapters against PEFT (tests/ref/lora.py goldens): base + adapter
 * (loaded by formats/adapter from PEFT's own files, unmerged) gives PEFT's logits for alpha/r,
 * rsLoRA and rank/alpha patterns; and the directory lora-merge writes, run through the engine
 * without an adapter, gives PEFT's merge_and_unload() logits.
 */
#include "kernels/model/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/le.h"
#include "formats/adapter.h"
#include "jobs/llama_load.h"
#include "jobs/lora_merge.h"
#include "test.h"

static double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		num = d > num ? d : num;
		den = fabs(b[i]) > den ? fabs(b[i]) : den;
	}
	return den > 0 ? num / den : num;
}

/* Worst relative error of the model (+ adapter dir, or none) over the prompts of golden. */
static double run(const char *model, const char *adapter, const char *golden)
{
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	struct adapter a;
	struct qt_map g;
	double worst = -1;
	if (model_dir_open(&md, model, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return -1;
	}
	if (llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		model_dir_close(&md);
		return -1;
	}
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	int have_a = 0;
	if (adapter && adapter_load(&a, adapter, &dims, &err) != QT_OK)
		CHECK(0, "%s", err.msg);
	else
		have_a = adapter != NULL;
	if ((adapter && !have_a) || qt_map_file(golden, &g, &err) != QT_OK) {
		CHECK(adapter && !have_a, "%s", err.msg);
		goto out;
	}
	const uint8_t *p = g.data + 8;
	uint32_t n = le32_load(p), V = le32_load(p + 4);
	p += 8;
	worst = 0;
	for (uint32_t k = 0; k < n && V == (uint32_t)m.cfg.V; k++) {
		int T = (int)le32_load(p);
		p += 4;
		int32_t *ids = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
		for (int t = 0; t < T; t++)
			ids[t] = (int32_t)le32_load(p + 4 * (size_t)t), pos[t] = t;
		p += 4 * (size_t)T;
		float *want = malloc((size_t)T * V * 4), *got = malloc((size_t)T * V * 4);
		for (size_t i = 0; i < (size_t)T * V; i++)
			want[i] = lef32_load(p + 4 * i);
		p += 4 * (size_t)T * V;
		int st = llama_forward(&m, ADAPTER_TABLE(have_a ? &a : NULL), ids, pos, NULL, T, got,
		                       &err);
		CHECK(st == QT_OK, "%s", err.msg);
		double e = rel_err(got, want, (size_t)T * V);
		worst = e > worst ? e : worst;
		free(ids), free(pos), free(want), free(got);
	}
	CHECK(V == (uint32_t)m.cfg.V, "vocab %u", V);
	qt_unmap(&g);
out:
	if (have_a)
		adapter_free(&a);
	llama_free(&m);
	model_dir_close(&md);
	return worst;
}

int main(void)
{
	char *d = qt_path_join(test_srcdir(), "data/lora"), p[3][1200];
	snprintf(p[0], sizeof p[0], "%s/base", d);
	const char *ads[] = { "peft-r8", "peft-rs", "peft-p2" };
	for (int i = 0; i < 3; i++) {
		snprintf(p[1], sizeof p[1], "%s/%s", d, ads[i]);
		snprintf(p[2], sizeof p[2], "%s/%s.logits.bin", d, ads[i]);
		double e = run(p[0], p[1], p[2]);
		printf("engine base + %s (unmerged) vs PEFT logits: max rel err %.3g\n", ads[i], e);
		CHECK(e >= 0 && e <= 1e-4, "%s: rel err %g", ads[i], e);
	}
	/* lora-merge's output through the engine, against PEFT's merged model */
	char tmpl[] = "/tmp/qt_llama_adapter.XXXXXX";
	char *tmp = mkdtemp(tmpl);
	const char *cases[][3] = { { "r8", "peft-r8", NULL }, { "r8-p2", "peft-r8", "peft-p2" } };
	for (int i = 0; tmp && i < 2; i++) {
		struct merge_opts o = { .out_dtype = -1, .n_threads = 2 };
		char out[1200], a1[1200], a2[1200];
		snprintf(out, sizeof out, "%s/%s", tmp, cases[i][0]);
		snprintf(a1, sizeof a1, "%s/%s", d, cases[i][1]);
		snprintf(a2, sizeof a2, "%s/%s", d, cases[i][2] ? cases[i][2] : "");
		o.base_dir = p[0], o.out_dir = out, o.n_adapters = cases[i][2] ? 2 : 1;
		o.adapter_dir[0] = a1, o.adapter_dir[1] = a2, o.scale[0] = o.scale[1] = 1;
		struct qt_err err;
		int st = merge_run(&o, NULL, &err);
		CHECK(st == QT_OK, "merge: %s", st ? err.msg : "");
		snprintf(p[2], sizeof p[2], "%s/merged-%s.logits.bin", d, cases[i][0]);
		double e = st ? -1 : run(out, NULL, p[2]);
		printf("engine on lora-merge output %s vs PEFT merged logits: max rel err %.3g\n",
		       cases[i][0], e);
		CHECK(e >= 0 && e <= 1e-4, "merged %s: rel err %g", cases[i][0], e);
	}
	if (tmp) {
		char cmd[200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
		CHECK(system(cmd) == 0, "cleanup");
	}
	free(d);
	return test_main_end();
}
