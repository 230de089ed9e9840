/* qlora-tools: ISC license. */
/*
 * Reader of the QTLOGSL1 logits goldens (slices of a reference's logits on the default model):
 * tests/data/llama_smollm2/logits{,-nf4}.bin (transformers, tests/ref/llama_smollm2_golden.py)
 * and tests/data/export/llamacpp-smollm2.logits.bin (llama.cpp on our F32 GGUF,
 * tests/ref/export_gguf_llamacpp.py). Layout, all little-endian:
 *   "QTLOGSL1", u32 n_prompts, u32 V, u32 S, u32 K, S x u32 fixed ids;
 *   per prompt: u32 T, T x u32 ids, then per position: f32 max|logit| over the whole row,
 *   K x (u32 id, f32 logit) the top K in descending order, S x f32 logits at the fixed ids.
 * The error of a prompt's rows is max |ours - theirs| over the stored logits, relative to
 * max |logit| of the reference's whole rows.
 */
#ifndef QT_TEST_LOGITS_GOLDEN_H
#define QT_TEST_LOGITS_GOLDEN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/io.h"
#include "common/le.h"
#include "test.h"

#define LOGITS_GOLDEN_MAX_PROMPTS 64

struct logits_golden {
	struct qt_map  map;
	uint32_t       n, V, S, K;
	const uint8_t *sub;                              /* S x u32 */
	const uint8_t *rec[LOGITS_GOLDEN_MAX_PROMPTS];   /* each prompt's record (at its u32 T) */
	int            T[LOGITS_GOLDEN_MAX_PROMPTS];
};

/* Bytes of one position's record: f32 maxabs, K x (u32, f32), S x f32. */
static inline size_t logits_golden_pos_bytes(const struct logits_golden *g)
{
	return 4 + 8 * (size_t)g->K + 4 * (size_t)g->S;
}

/* Maps and checks path (magic, counts, every record inside the file, the exact size).
 * 0 when usable; -1 after a failed CHECK. */
static inline int logits_golden_open(struct logits_golden *g, const char *path)
{
	struct qt_err err = { 0 };
	memset(g, 0, sizeof *g);
	if (qt_map_file(path, &g->map, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return -1;
	}
	const uint8_t *p = g->map.data, *end = p + g->map.size;
	int ok = g->map.size > 24 && !memcmp(p, "QTLOGSL1", 8);
	if (ok) {
		g->n = le32_load(p + 8), g->V = le32_load(p + 12), g->S = le32_load(p + 16),
		g->K = le32_load(p + 20);
		ok = g->n >= 1 && g->n <= LOGITS_GOLDEN_MAX_PROMPTS && g->K >= 1 && g->K <= g->V &&
		     g->S <= g->V && (size_t)(end - p - 24) >= 4 * (size_t)g->S;
	}
	const uint8_t *r = ok ? p + 24 + 4 * (size_t)g->S : end;
	g->sub = p + 24;
	for (uint32_t k = 0; ok && k < g->n; k++) {
		ok = end - r >= 4;
		uint64_t T = ok ? le32_load(r) : 0;
		ok = ok && T >= 1 && T <= 1u << 20 &&
		     (uint64_t)(end - r - 4) >= T * (4 + logits_golden_pos_bytes(g));
		if (ok) {
			g->rec[k] = r, g->T[k] = (int)T;
			r += 4 + T * (4 + logits_golden_pos_bytes(g));
		}
	}
	for (uint32_t s = 0; ok && s < g->S; s++)  /* every id a vocabulary index */
		ok = le32_load(g->sub + 4 * s) < g->V;
	for (uint32_t k = 0; ok && k < g->n; k++) {
		const uint8_t *q = g->rec[k] + 4;
		for (int t = 0; ok && t < g->T[k]; t++)
			ok = le32_load(q + 4 * (size_t)t) < g->V;
		q += 4 * (size_t)g->T[k];
		for (int t = 0; ok && t < g->T[k]; t++, q += logits_golden_pos_bytes(g))
			for (uint32_t j = 0; ok && j < g->K; j++)
				ok = le32_load(q + 4 + 8 * j) < g->V;
	}
	CHECK(ok && r == end, "%s: not a well-formed QTLOGSL1 file", path);
	if (!ok || r != end) {
		qt_unmap(&g->map);
		return -1;
	}
	return 0;
}

static inline void logits_golden_close(struct logits_golden *g) { qt_unmap(&g->map); }

/* Token t of prompt k. */
static inline int32_t logits_golden_id(const struct logits_golden *g, uint32_t k, int t)
{
	return (int32_t)le32_load(g->rec[k] + 4 + 4 * (size_t)t);
}

/*
 * got: (T, V) our logits for prompt k. Returns the relative error (above); *max_abs gets the
 * absolute one. *argmax_ok: ours is the reference's top id at every position, unless the
 * reference's first two are within 1e-4 of its max |logit| and ours is its second.
 */
static inline double logits_golden_err(const struct logits_golden *g, uint32_t k,
                                       const float *got, double *max_abs, int *argmax_ok)
{
	double num = 0, den = 0;
	*argmax_ok = 1;
	const uint8_t *p = g->rec[k] + 4 + 4 * (size_t)g->T[k];
	for (int t = 0; t < g->T[k]; t++, p += logits_golden_pos_bytes(g)) {
		const float *row = got + (size_t)t * g->V;
		double mx = lef32_load(p);
		den = mx > den ? mx : den;
		for (uint32_t j = 0; j < g->K; j++) {
			uint32_t id = le32_load(p + 4 + 8 * j);
			double d = fabs((double)row[id] - lef32_load(p + 8 + 8 * j));
			num = d > num ? d : num;
		}
		for (uint32_t s = 0; s < g->S; s++) {
			uint32_t id = le32_load(g->sub + 4 * s);
			double d = fabs((double)row[id] - lef32_load(p + 4 + 8 * g->K + 4 * s));
			num = d > num ? d : num;
		}
		uint32_t best = 0;
		for (uint32_t v = 1; v < g->V; v++)
			best = row[v] > row[best] ? v : best;
		uint32_t top = le32_load(p + 4);
		if (best != top && !(g->K > 1 && le32_load(p + 12) == best &&
		                     lef32_load(p + 8) - lef32_load(p + 16) < 1e-4 * mx))
			*argmax_ok = 0;
	}
	*max_abs = num;
	return den > 0 ? num / den : num;
}

#endif
