/* qlora-tools: ISC license. */
/*
 * The adapter's tables in a backend's memory (kernels/model/llama_backend.c), through the CPU's
 * table so that it runs everywhere (a device runs the same code: tests/kernels/cuda/): copies of
 * a LoRA adapter and of a prefix adapter with its projection MLP, zeroed copies, downloads back,
 * the trainable tensors listed in adapter_tensors' order, a prefix table without its width
 * refused; and llama_backend_missing naming what a table lacks (a copy of the CPU's table with
 * an entry or a cap taken out) for prefix tuning, its projection, Gemma-2 and head dims.
 */
#include "formats/adapter.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama.h"
#include "test.h"

#include "../kcheck.h"

/* Every trainable tensor of a, its copy in the CPU's memory, zeroed copies and downloads. */
static void round_trip(const char *what, struct adapter *a)
{
	const struct qt_backend *be = &qt_backend_cpu;
	struct qt_err err = { 0 };
	enum { NT = 64 };
	float *ap[NT], *vp[NT], *cp[NT];
	size_t an[NT], vn[NT], cn[NT];
	struct lora_table view, copy, zero;
	adapter_table(a, &view);
	size_t na = adapter_tensors(a, ap, an, NT);
	int nv = lora_table_tensors(&view, vp, vn, NT);
	CHECK(na <= NT && (size_t)nv == na, "%s: %d tensors in the table, %zu in the adapter", what,
	      nv, na);
	for (size_t i = 0; i < na && i < NT; i++)
		CHECK(vp[i] == ap[i] && vn[i] == an[i], "%s: tensor %zu differs", what, i);
	CHECK(lora_table_upload(&copy, &view, be, 0, &err) == QT_OK, "%s: %s", what, err.msg);
	CHECK(lora_table_upload(&zero, &view, be, 1, &err) == QT_OK, "%s: %s", what, err.msg);
	CHECK(copy.prefix_len == view.prefix_len && copy.prefix_width == view.prefix_width &&
	      copy.prefix_pos0 == view.prefix_pos0 && !copy.mlp.emb == !view.mlp.emb,
	      "%s: the copy's prefix fields", what);
	int nc = lora_table_tensors(&copy, cp, cn, NT), bad = 0, nonzero = 0;
	lora_table_tensors(&zero, vp, vn, NT);
	CHECK(nc == nv, "%s: %d tensors in the copy", what, nc);
	for (int i = 0; i < nc && i < nv; i++) {
		bad += cp[i] == ap[i] || cn[i] != an[i] || memcmp(cp[i], ap[i], an[i] * 4) != 0;
		for (size_t k = 0; k < vn[i]; k++)
			nonzero += vp[i][k] != 0;
	}
	CHECK(bad == 0 && nonzero == 0, "%s: %d tensors not copied, %d values not zeroed", what, bad,
	      nonzero);
	if (copy.prefix)
		CHECK(memcmp(copy.prefix, a->prefix,
		             (size_t)a->prefix_len * adapter_prefix_width(&a->dims) * 4) == 0,
		      "%s: the prefix table's copy", what);
	/* a download of the zeroed copy clears the adapter */
	CHECK(lora_table_download(&view, &zero, be) == 0, "%s: download", what);
	nonzero = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t k = 0; k < an[i]; k++)
			nonzero += ap[i][k] != 0;
	CHECK(nonzero == 0, "%s: %d values not downloaded", what, nonzero);
	CHECK(lora_table_download(&view, &copy, be) == 0, "%s: download", what);
	lora_table_release(&copy, be);
	lora_table_release(&zero, be);
	printf("%s: %zu tensors copied, zeroed and downloaded\n", what, na);
}

/* What be lacks for m with table t: the phrase, or "" */
static const char *lacks(const struct llama_model *m, const struct lora_table *t,
                         const struct qt_backend *be)
{
	const char *w = llama_backend_missing(m, t, be);
	return w ? w : "";
}

static void refusals(const struct llama_model *tiny, const struct llama_model *g2,
                     const struct lora_table *pre, const struct lora_table *proj)
{
	struct qt_backend be = qt_backend_cpu;
	CHECK(!strcmp(lacks(tiny, proj, &be), ""), "cpu: %s", lacks(tiny, proj, &be));
	CHECK(!strcmp(lacks(g2, pre, &be), ""), "cpu: %s", lacks(g2, pre, &be));
	be.softcap_backward = NULL;
	CHECK(!strcmp(lacks(tiny, proj, &be), "the prefix projection's tanh") &&
	      !strcmp(lacks(tiny, pre, &be), ""), "no softcap_backward: %s", lacks(tiny, proj, &be));
	be = qt_backend_cpu;
	be.attention_prefix_backward = NULL;
	CHECK(!strcmp(lacks(tiny, pre, &be), "prefix tuning") && !strcmp(lacks(tiny, NULL, &be), ""),
	      "no prefix attention: %s", lacks(tiny, pre, &be));
	be = qt_backend_cpu;
	be.caps &= ~(unsigned)QT_CAP_ATTN_SCALE_CAP;
	CHECK(!strcmp(lacks(g2, NULL, &be), "Gemma-2's attention scale and soft caps") &&
	      !strcmp(lacks(tiny, NULL, &be), ""), "no scale or cap: %s", lacks(g2, NULL, &be));
	be = qt_backend_cpu;
	be.attn_max_hd = g2->cfg.HD - 1;
	CHECK(!strcmp(lacks(g2, NULL, &be), "attention with a head_dim above its attn_max_hd"),
	      "head_dim: %s", lacks(g2, NULL, &be));
	be.attn_max_hd = g2->cfg.HD;
	CHECK(!strcmp(lacks(g2, NULL, &be), ""), "head_dim at the limit: %s", lacks(g2, NULL, &be));
	if (&qt_backend_cuda) /* a build with CUDA: its table lacks nothing either */
		CHECK(!strcmp(lacks(g2, pre, &qt_backend_cuda), "") &&
		      !strcmp(lacks(tiny, proj, &qt_backend_cuda), "") &&
		      qt_backend_cuda.attn_max_hd >= 256, "cuda: %s",
		      lacks(tiny, proj, &qt_backend_cuda));
}

static int load(const char *name, struct model_dir *md, struct llama_model *m)
{
	char dir[1024];
	struct qt_err err = { 0 };
	snprintf(dir, sizeof dir, "%s/data/%s", test_srcdir(), name);
	int ok = model_dir_open(md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK &&
	         llama_load(m, md, &err) == QT_OK;
	CHECK(ok, "%s: %s", name, err.msg);
	return ok ? 0 : -1;
}

int main(void)
{
	struct model_dir md, md2;
	struct llama_model m, g2;
	if (load("llama/tiny", &md, &m) || load("family/gemma2", &md2, &g2))
		return test_main_end();
	struct qt_err err = { 0 };
	struct adapter_dims dims = llama_adapter_dims(&m.cfg), dims2 = llama_adapter_dims(&g2.cfg);
	const char *js = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":"
	                 "\"all-linear\"}";
	struct adapter_config cfg;
	struct adapter lo, pre, proj;
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK &&
	      adapter_init(&lo, &cfg, &dims, &err) == QT_OK &&
	      adapter_init_prefix(&pre, 5, &dims2, g2.cfg.NKV, &err) == QT_OK &&
	      adapter_init_prefix(&proj, 6, &dims, m.cfg.NKV, &err) == QT_OK &&
	      adapter_mlp_init(&proj, 16, &err) == QT_OK, "%s", err.msg);
	size_t k = 0;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++, k++) {
		kc_rand(lo.lora[i].A, (size_t)lo.lora[i].r * lo.lora[i].in, 1 + k, 1.0f);
		kc_rand(lo.lora[i].B, (size_t)lo.lora[i].out * lo.lora[i].r, 100 + k, 1.0f);
	}
	kc_rand(pre.prefix, (size_t)pre.prefix_len * adapter_prefix_width(&dims2), 7, 1.0f);
	pre.cfg.prefix_pos0 = 1;
	kc_rand(proj.prefix, (size_t)proj.prefix_len * adapter_prefix_width(&dims), 8, 1.0f);
	kc_rand(proj.mlp.emb, prefix_mlp_floats(&proj.mlp), 9, 1.0f);
	round_trip("lora", &lo);
	round_trip("prefix", &pre);
	round_trip("prefix with the projection", &proj);
	struct lora_table t = { .prefix_len = 3, .prefix = pre.prefix }, d;
	CHECK(lora_table_upload(&d, &t, &qt_backend_cpu, 0, &err) == QT_ESOFTWARE &&
	      strstr(err.msg, "width"), "a prefix table without its width: %s", err.msg);
	refusals(&m, &g2, ADAPTER_TABLE(&pre), ADAPTER_TABLE(&proj));
	adapter_free(&lo), adapter_free(&pre), adapter_free(&proj);
	adapter_config_free(&cfg);
	llama_free(&m), llama_free(&g2);
	model_dir_close(&md), model_dir_close(&md2);
	return test_main_end();
}
