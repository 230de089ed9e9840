/* qlora-tools: ISC license. */
/*
 * kernels/nf4 against bitsandbytes: golden files written by tests/ref/nf4_golden.py
 * (tests/data/nf4/<case>.bin). Codes, absmax, nested codes and nested absmax must equal the
 * replica of bitsandbytes' CUDA arithmetic bit for bit; dequantized values must equal
 * bitsandbytes' dequantize_4bit bit for bit; the codes bitsandbytes computed on CPU must equal ours
 * wherever its CPU path shares the CUDA arithmetic (full, non-zero, normal-range blocks).
 */
#include <dirent.h>
#include <stdint.h>

#include "common/half.h"
#include "common/le.h"
#include "kernels/nf4.h"
#include "test.h"

struct golden {
	uint32_t n, bs, dtype, rows, cols, nb, ng;
	float    offset;
	float   *x, *absmax, *nested_absmax, *deq, *deq2;
	uint8_t *packed, *qabsmax, *packed_bnb, *qabsmax_bnb;
	uint16_t *deq2_half; /* bf16/f16 bits, dtype != 0 only */
	uint8_t *buf;
};

static const uint8_t *take(const uint8_t **p, const uint8_t *end, size_t n)
{
	if ((size_t)(end - *p) < n)
		return NULL;
	const uint8_t *r = *p;
	*p += n;
	return r;
}

static int golden_read(const char *path, struct golden *g)
{
	memset(g, 0, sizeof *g);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	g->buf = malloc((size_t)sz);
	if (!g->buf || fread(g->buf, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	const uint8_t *p = g->buf, *end = g->buf + sz, *h;
	if (!(h = take(&p, end, 8 + 7 * 4 + 4)) || memcmp(h, "QTNF4GLD", 8) || le32_load(h + 8) != 1)
		return -1;
	g->n = le32_load(h + 12);
	g->bs = le32_load(h + 16);
	g->dtype = le32_load(h + 20);
	g->rows = le32_load(h + 24);
	g->cols = le32_load(h + 28);
	g->nb = le32_load(h + 32);
	g->offset = lef32_load(h + 36);
	g->ng = (uint32_t)nf4_n_blocks(g->nb, NF4_NESTED_BLOCKSIZE);
	size_t n = g->n, nb = g->nb, pk = nf4_packed_bytes(n);
	/* Arrays are little-endian f32 and bytes; this test runs on little-endian hosts. */
	const uint8_t *a[9];
	size_t sizes[9] = { 4 * n, pk, 4 * nb, nb, 4 * (size_t)g->ng, pk, nb, 4 * n, 4 * n };
	for (int i = 0; i < 9; i++)
		if (!(a[i] = take(&p, end, sizes[i])))
			return -1;
	g->x = (float *)(uintptr_t)a[0];
	g->packed = (uint8_t *)(uintptr_t)a[1];
	g->absmax = (float *)(uintptr_t)a[2];
	g->qabsmax = (uint8_t *)(uintptr_t)a[3];
	g->nested_absmax = (float *)(uintptr_t)a[4];
	g->packed_bnb = (uint8_t *)(uintptr_t)a[5];
	g->qabsmax_bnb = (uint8_t *)(uintptr_t)a[6];
	g->deq = (float *)(uintptr_t)a[7];
	g->deq2 = (float *)(uintptr_t)a[8];
	if (g->dtype && !(g->deq2_half = (uint16_t *)(uintptr_t)take(&p, end, 2 * n)))
		return -1;
	return p == end ? 0 : -1;
}

/* Copies a float array out of the (possibly unaligned) file buffer. */
static float *fcopy(const float *src, size_t n)
{
	float *d = malloc(n * sizeof *d + 1);
	memcpy(d, src, n * sizeof *d);
	return d;
}

static size_t n_cases, n_values, n_bnb_values, n_bnb_ties;

static void check_case(const char *name, struct golden *g)
{
	size_t n = g->n, bs = g->bs, nb = g->nb, pk = nf4_packed_bytes(n);
	float *x = fcopy(g->x, n), *gam = fcopy(g->absmax, nb);
	uint8_t *packed = malloc(pk + 1);
	float *absmax = malloc(nb * sizeof(float));
	CHECK(nf4_n_blocks(n, bs) == nb, "%s: block count", name);

	/* 1. codes and absmax, single thread and threaded. */
	for (int th = 1; th <= 3; th += 2) {
		memset(packed, 0xAA, pk);
		nf4_quantize(x, n, bs, packed, absmax, th);
		size_t bad = 0, first = 0;
		for (size_t i = 0; i < pk; i++)
			if (packed[i] != g->packed[i] && !bad++)
				first = i;
		CHECK(bad == 0, "%s: %zu packed bytes differ (first %zu: %02x vs %02x), threads %d",
		      name, bad, first, packed[first], g->packed[first], th);
		CHECK(memcmp(absmax, gam, nb * 4) == 0, "%s: absmax differs, threads %d", name, th);
	}
	n_values += n;

	/* 2. bitsandbytes' own CPU codes (its pure-torch backend), in full blocks with a normal,
	 * non-zero absmax, where its arithmetic is CUDA's except one thing: it buckets on the f32
	 * midpoints of the table, and 4 of CUDA's threshold literals are 1 ulp away from those. A
	 * value exactly on such a midpoint is the only difference allowed. */
	for (size_t b = 0; b < nb; b++) {
		if ((b + 1) * bs > n || !(gam[b] >= 1e-38f))
			continue;
		float inv = 1.0f / gam[b];
		size_t bad = 0;
		for (size_t e = b * bs; e < (b + 1) * bs; e++) {
			int sh = e & 1 ? 0 : 4;
			int ours = packed[e / 2] >> sh & 15, theirs = g->packed_bnb[e / 2] >> sh & 15;
			if (ours == theirs)
				continue;
			float xs = x[e] * inv;
			int k = ours < theirs ? ours : theirs;
			float mid = (nf4_code[k] + nf4_code[k + 1]) * 0.5f, thr = nf4_thresholds[k];
			if (abs(ours - theirs) == 1 && mid != thr && xs >= fminf(mid, thr) &&
			    xs <= fmaxf(mid, thr))
				n_bnb_ties++;
			else
				bad++;
		}
		CHECK(bad == 0, "%s: block %zu: %zu codes differ from bnb CPU", name, b, bad);
		n_bnb_values += bs;
	}

	/* 3. double quantization with bitsandbytes' offset (torch's float32 mean). */
	uint8_t *q8 = malloc(nb);
	float *nabs = malloc(g->ng * sizeof(float) + 1);
	nf4_double_quant(gam, nb, g->offset, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE, q8, nabs);
	CHECK(memcmp(q8, g->qabsmax, nb) == 0, "%s: nested codes differ", name);
	CHECK(memcmp(nabs, g->nested_absmax, g->ng * 4) == 0, "%s: nested absmax differs", name);
	float mean = nf4_absmax_mean(gam, nb);
	int32_t ulps = (int32_t)qt_f32_bits(mean) - (int32_t)qt_f32_bits(g->offset);
	CHECK(ulps >= -4 && ulps <= 4, "%s: mean %.9g vs torch %.9g (%d ulp)", name, mean, g->offset, ulps);

	/* 4. dequantization equals bitsandbytes' dequantize_4bit, plain and nested. */
	float *out = malloc(n * sizeof(float)), *gd = fcopy(g->deq, n), *gd2 = fcopy(g->deq2, n);
	nf4_dequantize(g->packed, gam, nf4_code, bs, n, out);
	CHECK(memcmp(out, gd, n * 4) == 0, "%s: dequantized values differ", name);
	float *am2 = malloc(nb * sizeof(float));
	nf4_double_dequant(g->qabsmax, nb, nabs, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE, g->offset, am2);
	nf4_dequantize(g->packed, am2, nf4_code, bs, n, out);
	CHECK(memcmp(out, gd2, n * 4) == 0, "%s: nested dequantized values differ", name);
	if (g->dtype) {
		size_t bad = 0;
		for (size_t i = 0; i < n; i++) {
			uint16_t h = g->dtype == 1 ? qt_f32_to_bf16(out[i]) : qt_f32_to_f16(out[i]);
			uint16_t w;
			memcpy(&w, (const uint8_t *)g->deq2_half + 2 * i, 2);
			bad += h != w;
		}
		CHECK(bad == 0, "%s: %zu dequantized %s values differ", name, bad,
		      g->dtype == 1 ? "bf16" : "f16");
	}

	/* 5. the row-tile helper equals the matching slice of the whole tensor. */
	if (g->rows > 1) {
		size_t r0 = g->rows / 3, r1 = g->rows - g->rows / 4, cols = g->cols;
		float *tile = malloc((r1 - r0) * cols * sizeof(float));
		nf4_dequantize_rows(g->packed, am2, nf4_code, bs, cols, r0, r1, tile);
		CHECK(memcmp(tile, out + r0 * cols, (r1 - r0) * cols * 4) == 0, "%s: rows [%zu,%zu)", name,
		      r0, r1);
		free(tile);
	}
	n_cases++;
	free(x), free(gam), free(packed), free(absmax), free(q8), free(nabs), free(out), free(gd),
		free(gd2), free(am2);
}

static void check_tables(void)
{
	for (int k = 0; k < 15; k++) {
		/* CUDA's literals are the f32 midpoints, except 4 that nvcc rounds 1 ulp away. */
		float mid = (nf4_code[k] + nf4_code[k + 1]) * 0.5f;
		int off = k == 0 || k == 8 || k == 12 || k == 14;
		CHECK(off ? nextafterf(mid, mid < 0 ? -2.0f : 2.0f) == nf4_thresholds[k] ||
		                    nextafterf(mid, mid < 0 ? 2.0f : -2.0f) == nf4_thresholds[k]
		          : mid == nf4_thresholds[k], "threshold %d", k);
		/* ties go to the lower code; just above goes up */
		CHECK(nf4_quantize_value(nf4_thresholds[k]) == k, "tie %d", k);
		CHECK(nf4_quantize_value(nextafterf(nf4_thresholds[k], 2.0f)) == k + 1, "above %d", k);
	}
	for (int k = 0; k < 16; k++)
		CHECK(nf4_quantize_value(nf4_code[k]) == k, "code %d", k);
	CHECK(nf4_quantize_value(NAN) == 0, "NaN");
	CHECK(nf4_dynamic_map[127] == 0.0f && nf4_dynamic_map[255] == 1.0f, "map anchors");
	CHECK(qt_f32_bits(nf4_dynamic_map[0]) == 0xbf7e3333u, "map[0]");
	int anti = 1, asc = 1, self = 1;
	for (int k = 0; k < 127; k++)
		anti &= nf4_dynamic_map[254 - k] == -nf4_dynamic_map[k];
	for (int k = 0; k < 255; k++)
		asc &= nf4_dynamic_map[k] < nf4_dynamic_map[k + 1];
	for (int k = 0; k < 256; k++)
		self &= nf4_dynamic_quantize_value(nf4_dynamic_map, nf4_dynamic_map[k]) == k;
	CHECK(anti && asc && self, "dynamic map: antisymmetric %d ascending %d self-coding %d", anti, asc,
	      self);
	CHECK(nf4_dynamic_quantize_value(nf4_dynamic_map, NAN) == 0, "dynamic NaN");
	CHECK(nf4_blocksize_ok(64) && nf4_blocksize_ok(32) && !nf4_blocksize_ok(48) &&
	      !nf4_blocksize_ok(8192), "blocksizes");
}

/* The threaded path (more than one task of blocks) against the plain loop. */
static void check_threads(void)
{
	size_t n = 64 * 5000 + 31;
	float *x = malloc(n * sizeof *x);
	uint64_t s = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		x[i] = (float)((int64_t)(s >> 11) - (1ll << 52)) / (float)(1ll << 52);
	}
	size_t nb = nf4_n_blocks(n, 64), pk = nf4_packed_bytes(n);
	uint8_t *p1 = malloc(pk), *p4 = malloc(pk);
	float *a1 = malloc(nb * 4), *a4 = malloc(nb * 4);
	nf4_quantize_blocks(x, n, 64, 0, nb, p1, a1);
	nf4_quantize(x, n, 64, p4, a4, 4);
	CHECK(memcmp(p1, p4, pk) == 0 && memcmp(a1, a4, nb * 4) == 0, "threaded == plain");
	free(x), free(p1), free(p4), free(a1), free(a4);
}

int main(void)
{
	check_tables();
	check_threads();
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/data/nf4", test_srcdir());
	DIR *d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return test_main_end();
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct golden g;
		int rc = golden_read(path, &g);
		CHECK(rc == 0, "%s: unreadable golden file", path);
		if (rc == 0)
			check_case(e->d_name, &g);
		free(g.buf);
	}
	closedir(d);
	CHECK(n_cases >= 18, "only %zu golden cases", n_cases);
	printf("nf4: %zu cases, %zu values bit-identical to the CUDA replica; %zu values compared with "
	       "bnb CPU, differing only on %zu values between a midpoint and its literal\n", n_cases, n_values, n_bnb_values,
	       n_bnb_ties);
	return test_main_end();
}
