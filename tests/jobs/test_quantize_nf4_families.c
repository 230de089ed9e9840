/* qlora-tools: ISC license. */
/*
 * jobs/quantize_nf4 on every model family (issue 16): quantize-nf4 of each tiny model of
 * tests/data/family/ must write what tests/ref/nf4_family.py expects
 * (tests/data/nf4-family/F.txt): the same config.json bytes as transformers + bitsandbytes, the
 * same tensor names (so the same quantized modules, fused qkv_proj/gate_up_proj included), dtypes
 * and shapes, and each tensor's bytes by XXH3-64. The expected bytes are bitsandbytes' own except
 * where the golden says why not (nested_offset an ulp apart, bitsandbytes' CPU lookup table for
 * nested codes); the count of tensors identical to bitsandbytes' saved ones is printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dtype.h"
#include "common/hash.h"
#include "common/io.h"
#include "formats/safetensors.h"
#include "jobs/quantize_nf4.h"
#include "test.h"

static const char *const families[] = { "llama-bias", "mistral-window", "qwen2", "qwen2-window",
	"qwen3", "gemma", "gemma2", "phi3", "glm", "glm4" };

static void shape_str(const struct st_tensor *t, char *buf, size_t n)
{
	size_t p = 0;
	buf[0] = 0;
	if (t->n_dims == 0)
		snprintf(buf, n, "-");
	for (size_t d = 0; d < (size_t)t->n_dims && p < n; d++)
		p += (size_t)snprintf(buf + p, n - p, d ? ",%" PRIu64 : "%" PRIu64,
		                      (uint64_t)t->shape[d]);
}

static void family(const char *fam)
{
	char in[4096], out[4096], gold[4096], cfg[4200];
	snprintf(in, sizeof in, "%s/data/family/%s", test_srcdir(), fam);
	snprintf(gold, sizeof gold, "%s/data/nf4-family/%s.txt", test_srcdir(), fam);
	snprintf(out, sizeof out, "%s-nf4", fam);
	struct nf4_quantize_opts o = { .in_dir = in, .out_dir = out, .blocksize = 64,
		.double_quant = 1, .n_threads = 2 };
	struct nf4_summary sum;
	struct qt_err err;
	int st = nf4_quantize_dir(&o, &sum, &err);
	CHECK(st == QT_OK, "%s: quantize: %s", fam, err.msg);
	if (st)
		return;
	free(sum.layers);
	FILE *g = fopen(gold, "r");
	CHECK(g != NULL, "%s: cannot open", gold);
	if (!g)
		return;
	struct st_set s;
	st = st_set_open(&s, out, &err);
	CHECK(st == QT_OK, "%s: %s", fam, err.msg);
	if (st) {
		fclose(g);
		return;
	}
	char line[1024];
	size_t i = 0, lines = 0, bad = 0, same_bnb = 0, n_quant = 0;
	while (fgets(line, sizeof line, g)) {
		char name[512], dt[16], shape[64], want[32], bnb[32], got_shape[64];
		if (line[0] == '#')
			continue;
		if (!strncmp(line, "config ", 7)) {
			uint64_t h = 0;
			snprintf(cfg, sizeof cfg, "%s/config.json", out);
			CHECK(qt_xxh3_file(cfg, &h, &err) == QT_OK, "%s", err.msg);
			char hs[32];
			snprintf(hs, sizeof hs, "%016" PRIx64, h);
			CHECK(!strncmp(line + 7, hs, 16), "%s: config.json differs from bitsandbytes'", fam);
			continue;
		}
		if (sscanf(line, "%511s %15s %63s %31s %31s", name, dt, shape, want, bnb) != 5) {
			CHECK(0, "%s: bad golden line %s", gold, line);
			continue;
		}
		lines++;
		n_quant += strstr(name, ".quant_state.bitsandbytes__nf4") != NULL;
		const struct st_tensor *t = i < s.n_tensors ? s.tensors[i++] : NULL;
		if (!t || strcmp(t->name, name)) {
			CHECK(0, "%s: tensor %s: got %s", fam, name, t ? t->name : "(none)");
			bad++;
			continue;
		}
		shape_str(t, got_shape, sizeof got_shape);
		char hs[32];
		snprintf(hs, sizeof hs, "%016" PRIx64, qt_xxh3(t->data, t->size));
		int ok = !strcmp(qt_dtype_name(t->dtype), dt) && !strcmp(got_shape, shape) &&
		         !strcmp(hs, want);
		CHECK(ok, "%s: %s: %s [%s] %s, expected %s [%s] %s", fam, name,
		      qt_dtype_name(t->dtype), got_shape, hs, dt, shape, want);
		bad += !ok;
		same_bnb += ok && !strcmp(bnb, "=");
	}
	fclose(g);
	CHECK(lines == s.n_tensors && lines > 0, "%s: %zu tensors, golden has %zu", fam,
	      s.n_tensors, lines);
	CHECK(sum.n_quantized == n_quant, "%s: %zu weights quantized, bitsandbytes %zu", fam,
	      sum.n_quantized, n_quant);
	printf("%s: %zu of %zu tensors as expected, %zu identical to bitsandbytes' (%zu NF4 "
	       "weights)\n", fam, lines - bad, lines, same_bnb, n_quant);
	st_set_close(&s);
}

int main(void)
{
	test_in_tmpdir();
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
		family(families[f]);
	return test_main_end();
}
