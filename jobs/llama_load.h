/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in model-dir(5). */
/*
 * Fills the engine's struct llama_model (kernels/model/llama.h) from a HuggingFace model directory
 * (formats/model_dir.h): every float tensor converted to f32 once at load (F32/F16/BF16
 * exactly). A Linear weight stored as NF4 (nf4(5), quantize-nf4's output) stays NF4: its codes
 * are copied and its block maxima rebuilt (nested dequantization) once; the kernels make f32
 * tiles of a weight as they multiply by it (kernels/frozen.h), never a whole layer.
 * Described in model-dir(5); the engine itself never touches files.
 */
#ifndef QT_JOBS_LLAMA_LOAD_H
#define QT_JOBS_LLAMA_LOAD_H

#include "common/err.h"
#include "formats/adapter.h"
#include "formats/model_dir.h"
#include "kernels/model/llama.h"

/* Loads the weights of an open model dir into m (released by llama_free; m does not refer to
 * the dir's mappings, so the dir may be closed after). QT_EDATA names a missing or mis-shaped
 * tensor or a bad NF4 weight; QT_ESOFTWARE when out of memory. */
int llama_load(struct llama_model *m, const struct model_dir *d, struct qt_err *err);

/* llama_load with flags: LLAMA_LOAD_BF16_VOCAB keeps the embedding and the LM head of a file
 * that stores them as BF16 as bf16 bits (llama_model.embed_b, lm_head.wb with w NULL): half the
 * memory (0.8 instead of 1.6 GB at 7B shapes with a 49152-word vocabulary), the same values,
 * so the same results; the CPU backend reads them, llama_model_upload makes f32 copies for a
 * device. Others (F32, F16) are read as llama_load reads them. */
enum { LLAMA_LOAD_BF16_VOCAB = 1 };
int llama_load_opts(struct llama_model *m, const struct model_dir *d, int flags,
                    struct qt_err *err);

/* Gives every f32 linear weight (and the LM head) whose values are all bf16-exact a bf16 copy
 * (llama_linear.wb) for decoding, which reads half the bytes with identical results. Costs
 * 2 bytes per such weight; worth it for generation, not for training. */
int llama_bf16_rows(struct llama_model *m, struct qt_err *err);

/* The adapter_dims (formats/adapter.h) of a model, for loading or creating adapters. */
struct adapter_dims llama_adapter_dims(const struct llama_config *c);

#endif
