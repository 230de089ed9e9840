/* qlora-tools: ISC license. */
/*
 * jobs/export_gguf on the tiny model tests/data/export/tiny (tests/ref/export_gguf_model.py):
 *   - f32, f16, bf16 and q8_0: every tensor (type and bytes) and every key (its whole encoding)
 *     equal llama.cpp's convert_hf_to_gguf.py's (tests/ref/export_gguf_convert.py,
 *     tiny.convert.txt), but general.name;
 *   - for every other --type, each tensor's ggml type and bytes (XXH3-64) equal what llama.cpp's
 *     quantizer (llama_model_quantize, tests/ref/export_gguf_llamacpp.py) writes from our F32
 *     GGUF (tiny.quant.txt);
 *   - the F32 file read back through import-gguf's job gives the source tensors bit for bit
 *     (bf16 sources widened), i.e. the Q/K permutation round-trips;
 *   - the LoRA GGUF of tests/data/export/tiny-lora holds A as lora_a and B, Q/K rows permuted
 *     and the alpha_pattern pair's ratio folded in, as lora_b, with llama.cpp's adapter keys;
 *   - llama.cpp's greedy ids on our F32 GGUF of the default model (llamacpp-greedy-ids.txt)
 *     equal transformers' (tests/data/gen/greedy-ids.txt, which gen matches: test_llama_greedy);
 *   - every file written here is, byte for byte, the one gguf-py's reader read
 *     (gguf-reader.txt), and our reader counts the same tensors and keys;
 *   - a failed export leaves no file.
 */
#include "jobs/export_gguf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/io.h"
#include "common/le.h"
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "gguf_reader_golden.h"
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

/* Every tensor (type, bytes) and every key (whole encoding) of golden_name's type-tn file
 * (lines "tn T name type bytes xxh3" and "tn K key xxh3") against our file at path; keys of
 * ours that the golden lacks may only be general.name. Returns the tensors that matched. */
static uint64_t compare_golden(const char *golden_txt, const char *tn, const char *path,
                               uint64_t *n_keys_same, uint64_t *n_keys)
{
	struct gguf_file g;
	struct qt_err err = { 0 };
	uint64_t n_t = 0, same = 0;
	*n_keys_same = *n_keys = 0;
	if (gguf_open(&g, path, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return 0;
	}
	for (const char *line = golden_txt; *line;) {
		const char *nl = strchr(line, '\n');
		char t[32], kind[4], name[256], type[16];
		unsigned long long bytes, h;
		if (sscanf(line, "%31s %3s %255s", t, kind, name) == 3 && strcmp(t, tn) == 0) {
			if (!strcmp(kind, "T") && sscanf(line, "%*s %*s %*s %15s %llu %llx", type, &bytes, &h) == 3) {
				const struct gguf_tensor *gt = gguf_find_tensor(&g, name);
				int ok = gt && !strcmp(ggml_type_get(gt->type)->name, type) && gt->size == bytes &&
				         qt_xxh3(gt->data, gt->size) == h;
				CHECK(ok, "%s tensor %s: not the reference's (%s, %llu bytes)", tn, name, type, bytes);
				n_t++;
				same += ok;
			} else if (!strcmp(kind, "K") && sscanf(line, "%*s %*s %*s %llx", &h) == 1) {
				const struct gguf_kv *kv = gguf_find(&g, name);
				int ok = kv && qt_xxh3(kv->raw, kv->raw_len) == h;
				CHECK(ok, "%s key %s: %s", tn, name, kv ? "value or type differs" : "missing");
				(*n_keys)++;
				*n_keys_same += ok;
			}
		}
		line = nl ? nl + 1 : line + strlen(line);
	}
	CHECK(n_t == g.n_tensors && n_t > 0, "%s: %llu tensors, reference %llu", tn,
	      (unsigned long long)g.n_tensors, (unsigned long long)n_t);
	CHECK(*n_keys == 0 || *n_keys + 1 == g.n_kv, "%s: %llu keys, reference %llu + general.name", tn,
	      (unsigned long long)g.n_kv, (unsigned long long)*n_keys);
	gguf_close(&g);
	return same;
}

/* f32, f16, bf16, q8_0 against llama.cpp's convert_hf_to_gguf.py (tiny.convert.txt). */
static void check_convert(const char *tiny)
{
	char *gold = qt_path_join(test_srcdir(), "data/export/tiny.convert.txt"), *txt = NULL;
	size_t len;
	struct qt_err err = { 0 };
	CHECK(qt_read_file(gold, &txt, &len, &err) == QT_OK, "%s", err.msg);
	for (int ty = EXPORT_GGUF_F32; txt && ty <= EXPORT_GGUF_Q8_0; ty++) {
		char out[256];
		snprintf(out, sizeof out, "%s/conv-%s.gguf", tmpdir, export_gguf_type_names[ty]);
		if (export(tiny, NULL, ty, out))
			continue;
		if (ty == EXPORT_GGUF_F32)
			gguf_reader_check("tiny", "f32", out);
		uint64_t ks, kn, n = compare_golden(txt, export_gguf_type_names[ty], out, &ks, &kn);
		printf("%-5s vs convert_hf_to_gguf.py: %llu tensors identical, %llu of %llu keys identical\n",
		       export_gguf_type_names[ty], (unsigned long long)n, (unsigned long long)ks,
		       (unsigned long long)kn);
	}
	free(txt);
	free(gold);
}

static void check_quant(const char *tiny)
{
	char *gold = qt_path_join(test_srcdir(), "data/export/tiny.quant.txt"), *txt = NULL;
	size_t len;
	struct qt_err err = { 0 };
	CHECK(qt_read_file(gold, &txt, &len, &err) == QT_OK, "%s", err.msg);
	for (int ty = EXPORT_GGUF_F16; txt && ty < EXPORT_GGUF_N_TYPES; ty++) {
		const char *tn = export_gguf_type_names[ty];
		char out[256];
		snprintf(out, sizeof out, "%s/tiny-%s.gguf", tmpdir, tn);
		struct gguf_file g;
		if (export(tiny, NULL, ty, out) || gguf_open(&g, out, &err) != QT_OK)
			continue;
		gguf_reader_check("tiny", tn, out);
		uint64_t n_gold = 0, n_same = 0;
		for (char *line = txt; *line;) {
			char *nl = strchr(line, '\n');
			char t[32], name[GGUF_MAX_NAME], type[16];
			unsigned long long bytes, h;
			if (sscanf(line, "%31s %63s %15s %llu %llx", t, name, type, &bytes, &h) == 5 &&
			    strcmp(t, tn) == 0) {
				n_gold++;
				const struct gguf_tensor *gt = gguf_find_tensor(&g, name);
				int same = gt && strcmp(ggml_type_get(gt->type)->name, type) == 0 &&
				           gt->size == bytes && qt_xxh3(gt->data, gt->size) == h;
				CHECK(same, "%s %s: %s %llu bytes, llama.cpp %s %llu bytes%s", tn, name,
				      gt ? ggml_type_get(gt->type)->name : "missing",
				      gt ? (unsigned long long)gt->size : 0ULL, type, bytes,
				      gt && gt->size == bytes ? " (bytes differ)" : "");
				n_same += same;
			}
			line = nl ? nl + 1 : line + strlen(line);
		}
		CHECK(n_gold == g.n_tensors && n_gold > 0, "%s: %llu tensors, golden %llu", tn,
		      (unsigned long long)g.n_tensors, (unsigned long long)n_gold);
		printf("%-7s %llu of %llu tensors byte-identical to llama_model_quantize\n", tn,
		       (unsigned long long)n_same, (unsigned long long)n_gold);
		gguf_close(&g);
	}
	free(txt);
	free(gold);
}


/* Two files of id lines, equal line for line. */
static void check_same_lines(const char *a, const char *b, const char *what)
{
	char *pa = qt_path_join(test_srcdir(), a), *pb = qt_path_join(test_srcdir(), b);
	char *x = NULL, *y = NULL;
	size_t lx, ly;
	struct qt_err err = { 0 };
	int ok = qt_read_file(pa, &x, &lx, &err) == QT_OK && qt_read_file(pb, &y, &ly, &err) == QT_OK;
	CHECK(ok, "%s", err.msg);
	if (ok) {
		int n = 0, same = 0;
		for (char *p = x, *q = y; *p && *q; n++) {
			char *e1 = strchr(p, '\n'), *e2 = strchr(q, '\n');
			if (!e1 || !e2)
				break;
			same += e1 - p == e2 - q && !memcmp(p, q, (size_t)(e1 - p));
			p = e1 + 1, q = e2 + 1;
		}
		CHECK(n == 24 && same == n, "%s: %d of %d prompts identical", what, same, n);
		printf("%s: %d of %d prompts identical\n", what, same, n);
	}
	free(x), free(y), free(pa), free(pb);
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
	gguf_reader_check("tiny-lora", "f32", out);
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
			const struct lora_pair *p = adapter_at(&a, l, m);
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
	check_convert(tiny);
	check_quant(tiny);
	check_roundtrip(tiny);
	check_adapter(tiny);
	check_no_partial(tiny);
	check_same_lines("data/export/llamacpp-greedy-ids.txt", "data/gen/greedy-ids.txt",
	                 "llama.cpp on our F32 GGUF vs transformers (= gen) greedy");
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(tiny);
	return test_main_end();
}
