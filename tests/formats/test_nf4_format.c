/* qlora-tools: ISC license. */
/*
 * formats/nf4 against transformers + bitsandbytes (tests/ref/nf4_model.py): quantizing the tiny
 * bf16 model must give transformers' own NF4 directory (tests/data/nf4-model/hf-nf4): the same
 * config.json bytes, the same tensor set, dtypes and shapes, the same bytes everywhere except
 * nested absmax codes where bitsandbytes' CPU lookup table picks a neighbouring code; and
 * reading transformers' directory must give bitsandbytes' dequantized weights bit for bit.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/half.h"
#include "common/io.h"
#include "common/le.h"
#include "formats/nf4.h"
#include "jobs/quantize_nf4.h"
#include "kernels/nf4.h"
#include "test.h"

static char src[4096], hf[4096], out[4096];

static void check_blob(void)
{
	struct nf4_state s = { .blocksize = 64, .dtype = QT_DTYPE_BF16, .rows = 2048, .cols = 576,
		.nested = 1, .nested_blocksize = 256, .nested_offset = 0.0221f };
	char buf[512];
	size_t n = nf4_state_format(&s, buf, sizeof buf);
	const char *want = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", "
	                   "\"shape\": [2048, 576], \"nested_blocksize\": 256, \"nested_dtype\": "
	                   "\"float32\", \"nested_offset\": 0.022099999710917473}";
	CHECK(n == strlen(want) && !strcmp(buf, want), "blob: %s", buf);
	struct nf4_state p;
	struct qt_err err;
	CHECK(nf4_state_parse(buf, n, "x", &p, &err) == QT_OK, "parse: %s", err.msg);
	CHECK(p.rows == 2048 && p.cols == 576 && p.nested && p.nested_offset == 0.0221f &&
	      p.dtype == QT_DTYPE_BF16 && p.blocksize == 64, "parsed fields");
	static const char *const bad[] = {
		"{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [2, 2]}",
		"{\"quant_type\": \"nf4\", \"blocksize\": 48, \"dtype\": \"float32\", \"shape\": [2, 2]}",
		"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"int8\", \"shape\": [2, 2]}",
		"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [4]}",
		"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [2, 0]}",
		"[1, 2]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(nf4_state_parse(bad[i], strlen(bad[i]), "x", &p, &err) == QT_EDATA, "bad %zu", i);
	s.nested = 0;
	s.dtype = QT_DTYPE_F32;
	n = nf4_state_format(&s, buf, sizeof buf);
	CHECK(!strcmp(buf, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", "
	                   "\"shape\": [2048, 576]}"), "blob without nesting: %s", buf);
}

static int file_equal(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t lx, ly;
	struct qt_err err;
	int eq = qt_read_file(a, &x, &lx, &err) == QT_OK && qt_read_file(b, &y, &ly, &err) == QT_OK &&
	         lx == ly && !memcmp(x, y, lx);
	free(x), free(y);
	return eq;
}

/* Our quantize-nf4 output against transformers'. */
static void check_dir(void)
{
	struct nf4_quantize_opts o = { .in_dir = src, .out_dir = out, .blocksize = 64,
		.double_quant = 1, .n_threads = 2 };
	struct nf4_summary sum;
	struct qt_err err;
	int st = nf4_quantize_dir(&o, &sum, &err);
	CHECK(st == QT_OK, "quantize: %s", err.msg);
	if (st)
		return;
	CHECK(sum.n_quantized == 14 && sum.n_kept == 7 && sum.n_layers == 2, "summary counts");
	CHECK(sum.layers[0].max_abs > 0 && sum.layers[0].max_abs < 0.1, "layer error %g",
	      sum.layers[0].max_abs);
	free(sum.layers);
	char a[8192], b[8192];
	snprintf(a, sizeof a, "%s/config.json", out);
	snprintf(b, sizeof b, "%s/config.json", hf);
	CHECK(file_equal(a, b), "config.json differs from transformers'");
	snprintf(a, sizeof a, "%s/generation_config.json", out);
	snprintf(b, sizeof b, "%s/generation_config.json", hf);
	CHECK(file_equal(a, b), "generation_config.json not copied");

	struct st_set so, sh;
	CHECK(st_set_open(&so, out, &err) == QT_OK, "%s", err.msg);
	CHECK(st_set_open(&sh, hf, &err) == QT_OK, "%s", err.msg);
	CHECK(so.n_tensors == sh.n_tensors, "tensor count %zu vs %zu", so.n_tensors, sh.n_tensors);
	size_t same = 0, nested_diff = 0, n_bytes = 0;
	for (size_t i = 0; i < sh.n_tensors && i < so.n_tensors; i++) {
		const struct st_tensor *x = so.tensors[i], *y = sh.tensors[i];
		CHECK(!strcmp(x->name, y->name), "name %s vs %s", x->name, y->name);
		CHECK(x->dtype == y->dtype && x->n_dims == y->n_dims && x->size == y->size &&
		      !memcmp(x->shape, y->shape, sizeof x->shape), "%s: dtype/shape", x->name);
		if (x->size != y->size)
			continue;
		n_bytes += x->size;
		if (!memcmp(x->data, y->data, x->size)) {
			same++;
			continue;
		}
		/* Only nested codes may differ, and only to the neighbouring map entry. */
		size_t l = strlen(x->name), sl = strlen(".weight.absmax");
		int is_q8 = l > sl && !strcmp(x->name + l - sl, ".weight.absmax") &&
		            x->dtype == QT_DTYPE_U8;
		int ok = is_q8;
		for (size_t k = 0; ok && k < x->size; k++) {
			int d = ((const uint8_t *)x->data)[k] - ((const uint8_t *)y->data)[k];
			ok = d >= -1 && d <= 1;
			nested_diff += d != 0;
		}
		CHECK(ok, "%s: differs from transformers' beyond a neighbouring nested code", x->name);
	}
	printf("nf4 dir: %zu of %zu tensors byte-identical to transformers+bitsandbytes (%zu bytes);"
	       " %zu nested codes one step apart (bitsandbytes CPU lookup table)\n", same,
	       sh.n_tensors, n_bytes, nested_diff);
	CHECK(nested_diff <= 4, "%zu nested codes differ", nested_diff);
	st_set_close(&so);

	/* Reading transformers' directory gives bitsandbytes' dequantized weights. */
	char *buf = NULL;
	size_t len;
	snprintf(a, sizeof a, "%s/../hf-nf4.dequant.bin", hf);
	CHECK(qt_read_file(a, &buf, &len, &err) == QT_OK, "%s", err.msg);
	if (buf && len > 12 && !memcmp(buf, "QTNF4DQ1", 8)) {
		uint32_t cnt = le32_load(buf + 8);
		size_t p = 12, checked = 0, bad = 0;
		for (uint32_t i = 0; i < cnt && p + 4 <= len; i++) {
			uint32_t nl = le32_load(buf + p);
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)nl, buf + p + 4);
			p += 4 + nl;
			uint32_t r = le32_load(buf + p), c = le32_load(buf + p + 4);
			p += 8;
			struct nf4_weight w;
			int rc = nf4_weight_load(&sh, name, &w, &err);
			CHECK(rc == QT_OK, "load %s: %s", name, err.msg);
			if (rc == QT_OK) {
				CHECK(w.state.rows == r && w.state.cols == c, "%s: shape", name);
				float *f = malloc((size_t)r * c * sizeof *f);
				nf4_weight_rows(&w, 0, r, f);
				for (size_t k = 0; k < (size_t)r * c; k++)
					bad += qt_f32_to_bf16(f[k]) != le16_load(buf + p + 2 * k);
				checked += (size_t)r * c;
				free(f);
				nf4_weight_free(&w);
			}
			p += 2 * (size_t)r * c;
		}
		CHECK(cnt == 14 && bad == 0, "%zu of %zu dequantized values differ", bad, checked);
		printf("nf4 dir: %zu dequantized bf16 values identical to bitsandbytes\n", checked);
	}
	free(buf);
	CHECK(!nf4_weight_present(&sh, "model.embed_tokens") &&
	      nf4_weight_present(&sh, "model.layers.1.mlp.down_proj"), "present");
	st_set_close(&sh);

	/* Quantizing the quantized directory is refused and leaves nothing behind. */
	char out2[8192];
	snprintf(out2, sizeof out2, "%s.again", out);
	o.in_dir = hf;
	o.out_dir = out2;
	CHECK(nf4_quantize_dir(&o, &sum, &err) == QT_EDATA && strstr(err.msg, "already quantized"),
	      "requantize: %s", err.msg);
	struct stat sb;
	CHECK(stat(out2, &sb) != 0, "partial output left");
}

int main(void)
{
	snprintf(src, sizeof src, "%s/data/nf4-model/src", test_srcdir());
	snprintf(hf, sizeof hf, "%s/data/nf4-model/hf-nf4", test_srcdir());
	char tmpl[] = "/tmp/qt_test_nf4.XXXXXX";
	char *d = mkdtemp(tmpl);
	CHECK(d != NULL, "mkdtemp");
	if (!d)
		return test_main_end();
	snprintf(out, sizeof out, "%s/out", d);
	check_blob();
	check_dir();
	char cmd[8300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
	return test_main_end();
}
