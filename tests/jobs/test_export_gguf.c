/* qlora-tools: ISC license. */
/*
 * jobs/export_gguf on the tiny model tests/data/export/tiny (tests/ref/export_gguf_model.py):
 *   - the F32 file read back through import-gguf's job gives the source tensors bit for bit
 *     (bf16 sources widened), i.e. the Q/K permutation round-trips;
 *   - the LoRA GGUF of tests/data/export/tiny-lora holds A as lora_a and B, Q/K rows permuted
 *     and the alpha_pattern pair's ratio folded in, as lora_b, with llama.cpp's adapter keys;
 *   - a failed export leaves no file.
 */
#include "jobs/export_gguf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/le.h"
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "jobs/import_gguf.h"
#include "test.h"

static char tmpdir[] = "/tmp/qt_test_export_XXXXXX";

static int export(const char *model, const char *adapter, int type, const char *out)
{
	struct export_gguf_opts o = { .model_dir = model, .adapter_dir = adapter, .output = out,
	                              .type = type, .n_threads = 2 };
	struct qt_err err = { 0 };
	int st = export_gguf_run(&o, NULL, &err);
	CHECK(st == QT_OK, "export %s: %s", export_gguf_type_names[type], err.msg);
	return st;
}

static void check_roundtrip(const char *tiny)
{
	char out[256], dir[256];
	snprintf(out, sizeof out, "%s/tiny-f32.gguf", tmpdir);
	snprintf(dir, sizeof dir, "%s/back", tmpdir);
	if (export(tiny, NULL, EXPORT_GGUF_F32, out))
		return;
	struct gguf_import_opts io = { .input = out, .outdir = dir, .dtype = QT_DTYPE_F32 };
	struct gguf_import_stats is;
	struct qt_err err = { 0 };
	CHECK(gguf_import_dir(&io, &is, &err) == QT_OK, "import: %s", err.msg);
	struct st_set a, b;
	if (st_set_open(&a, tiny, &err) != QT_OK || st_set_open(&b, dir, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	CHECK(a.n_tensors == b.n_tensors, "%zu tensors back, %zu written", b.n_tensors, a.n_tensors);
	size_t same = 0;
	for (size_t i = 0; i < a.n_tensors; i++) {
		const struct st_tensor *s = a.tensors[i], *t = st_set_find(&b, s->name);
		float *x = malloc(s->n_elem * 4), *y = malloc(s->n_elem * 4);
		int ok = t && t->n_elem == s->n_elem && st_tensor_to_f32(s, x, &err) == QT_OK &&
		         st_tensor_to_f32(t, y, &err) == QT_OK && !memcmp(x, y, s->n_elem * 4);
		CHECK(ok, "%s: not the same after export-gguf | import-gguf", s->name);
		same += ok;
		free(x);
		free(y);
	}
	printf("round trip: %zu of %zu tensors bit-identical after export (f32) and import\n", same,
	       a.n_tensors);
	st_set_close(&a);
	st_set_close(&b);
}

static void check_adapter(const char *tiny)
{
	char out[256], *lora = qt_path_join(test_srcdir(), "data/export/tiny-lora");
	snprintf(out, sizeof out, "%s/tiny-lora.gguf", tmpdir);
	struct adapter a;
	struct gguf_file g;
	struct qt_err err = { 0 };
	if (export(tiny, lora, EXPORT_GGUF_F32, out) || adapter_load(&a, lora, NULL, &err) ||
	    gguf_open(&g, out, &err)) {
		CHECK(0, "%s", err.msg);
		free(lora);
		return;
	}
	char *s = NULL;
	double alpha = 0;
	CHECK(gguf_get_str(&g, "general.type", &s, &err) == QT_OK && !strcmp(s, "adapter"), "general.type");
	free(s);
	s = NULL;
	CHECK(gguf_get_str(&g, "adapter.type", &s, &err) == QT_OK && !strcmp(s, "lora"), "adapter.type");
	free(s);
	CHECK(gguf_get_float(&g, "adapter.lora.alpha", &alpha, &err) == QT_OK && alpha == 8,
	      "adapter.lora.alpha %g", alpha);
	static const char *const gn[] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
	                                  "ffn_up", "ffn_down" };
	int heads[] = { 2, 1, 0, 0, 0, 0, 0 }, n = 0, bad = 0;
	for (int l = 0; l < a.dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct adapter_lora *p = adapter_at(&a, l, m);
			char na[GGUF_MAX_NAME], nb[GGUF_MAX_NAME];
			snprintf(na, sizeof na, "blk.%d.%s.weight.lora_a", l, gn[m]);
			snprintf(nb, sizeof nb, "blk.%d.%s.weight.lora_b", l, gn[m]);
			const struct gguf_tensor *ta = gguf_find_tensor(&g, na), *tb = gguf_find_tensor(&g, nb);
			if (!ta || !tb || ta->ne[0] != (uint64_t)p->in || ta->ne[1] != (uint64_t)p->r ||
			    tb->ne[0] != (uint64_t)p->r || tb->ne[1] != (uint64_t)p->out) {
				CHECK(0, "%s / %s: missing or misshapen", na, nb);
				continue;
			}
			n += 2;
			bad += memcmp(ta->data, p->A, (size_t)p->r * p->in * 4) != 0;
			/* lora_b row r is B row src(r), times scaling * r / alpha (v_proj: 2/4 / (8/4)) */
			float mul = m == ADAPTER_V ? 0.25f : 1.0f;
			int H = heads[m], hd = H ? p->out / H : 0;
			for (int r = 0; r < p->out; r++) {
				int src = H ? (r / hd) * hd + (r % 2) * (hd / 2) + (r % hd) / 2 : r;
				for (int k = 0; k < p->r; k++)
					bad += lef32_load(tb->data + 4 * ((size_t)r * p->r + k)) !=
					       p->B[(size_t)src * p->r + k] * mul;
			}
		}
	CHECK(n == (int)g.n_tensors && n == 28 && bad == 0, "%d tensors, %d values differ", n, bad);
	printf("adapter: %d tensors, A as lora_a, permuted and rescaled B as lora_b\n", n);
	gguf_close(&g);
	adapter_free(&a);
	free(lora);
}

static void check_no_partial(const char *tiny)
{
	char out[256], *lora = qt_path_join(test_srcdir(), "data/lora/peft-r8");
	snprintf(out, sizeof out, "%s/other-base.gguf", tmpdir);
	struct export_gguf_opts o = { .model_dir = tiny, .adapter_dir = lora, .output = out,
	                              .type = EXPORT_GGUF_F32 };
	struct qt_err err = { 0 };
	struct stat sb;
	CHECK(export_gguf_run(&o, NULL, &err) == QT_EDATA, "adapter for another base accepted");
	CHECK(stat(out, &sb) != 0, "partial output left");
	free(lora);
}

int main(void)
{
	char *tiny = qt_path_join(test_srcdir(), "data/export/tiny");
	if (!mkdtemp(tmpdir))
		return 1;
	check_roundtrip(tiny);
	check_adapter(tiny);
	check_no_partial(tiny);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(tiny);
	return test_main_end();
}
