/* qlora-tools: ISC license. */
/*
 * NF4 model directories: the layout transformers writes for a bitsandbytes 4-bit model
 * (nf4(5); reference.md 5.8-5.10), read and written. A model directory whose config.json has a
 * "quantization_config" with quant_method "bitsandbytes" and whose Linear weights are stored,
 * per module prefix P (e.g. "model.layers.0.self_attn.q_proj"), as
 *
 *   P.weight                                U8  [(rows*cols+1)/2, 1]  packed codes
 *   P.weight.absmax                         F32 [nblocks]  or, double-quantized, U8 [nblocks]
 *   P.weight.quant_map                      F32 [16]
 *   P.weight.nested_absmax                  F32 [ceil(nblocks/256)]     double quantization only
 *   P.weight.nested_quant_map               F32 [256]                   double quantization only
 *   P.weight.quant_state.bitsandbytes__nf4  U8  [len]  JSON {"quant_type", "blocksize", "dtype",
 *                                                "shape", ["nested_blocksize", "nested_dtype",
 *                                                "nested_offset"]}
 *
 * Every other tensor (embeddings, norms, lm_head) is stored as in the source model.
 * The quantizer driver (nf4_quantize_dir) is in jobs/quantize_nf4.h; the math in kernels/nf4.
 */
#ifndef QT_FORMATS_NF4_H
#define QT_FORMATS_NF4_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"
#include "formats/safetensors.h"

#define NF4_STATE_SUFFIX ".weight.quant_state.bitsandbytes__nf4"
#define NF4_MAX_BLOB     4096 /* a quant_state JSON longer than this is refused */

/* The quant_state JSON blob of one weight. */
struct nf4_state {
	size_t        blocksize;
	enum qt_dtype dtype;            /* F32, F16 or BF16: what dequantize_4bit casts to */
	int64_t       rows, cols;       /* shape [rows, cols] */
	int           nested;           /* double quantization */
	size_t        nested_blocksize; /* 256 */
	float         nested_offset;
};

/* Writes the blob exactly as bitsandbytes' QuantState.as_dict(packed=True) + json.dumps do
 * (key order, ", " and ": " separators, nested_offset as Python's repr of the f32 widened to
 * double). Returns its length, or 0 when cap is too small. No NUL is counted. */
size_t nf4_state_format(const struct nf4_state *s, char *buf, size_t cap);
/* Parses a blob (name is used in messages). QT_EDATA "name: what" for anything but a 2-D nf4
 * state with a supported blocksize and dtype. */
int nf4_state_parse(const char *text, size_t len, const char *name, struct nf4_state *s,
                    struct qt_err *err);

/* One quantized Linear weight, as the engine uses it. */
struct nf4_weight {
	struct nf4_state state;
	const uint8_t   *packed;   /* (rows*cols+1)/2 bytes, pointing into the file mapping */
	float           *absmax;   /* nblocks floats (owned): nested values already dequantized */
	float            code[16]; /* the file's quant_map */
	size_t           n_blocks;
};

/* Returns 1 if set holds prefix's quant_state blob (prefix without ".weight"). */
int nf4_weight_present(const struct st_set *set, const char *prefix);
/*
 * Loads the weight of module prefix from set: parses the blob, checks every tensor's dtype and
 * shape against it, rebuilds absmax (nested dequantization when double-quantized).
 * QT_EDATA "prefix: what" on any inconsistency. Free with nf4_weight_free.
 */
int nf4_weight_load(const struct st_set *set, const char *prefix, struct nf4_weight *w,
                    struct qt_err *err);
void nf4_weight_free(struct nf4_weight *w);
/* Dequantizes rows [r0, r1) to float32 into out[(r1 - r0) * cols]. */
void nf4_weight_rows(const struct nf4_weight *w, int64_t r0, int64_t r1, float *out);

#endif
