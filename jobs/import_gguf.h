/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in import-gguf(1) and gguf(5). */
/*
 * GGUF (llama architecture) -> HF model directory: config.json, generation_config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json (reference.md 3.4-3.9). The entry
 * point of import-gguf(1). Tensors are dequantized (kernels/ggml_dequant.h), the Q/K rows are
 * put back in HF order (reference.md 3.7), and each is stored as F32, F16 or BF16 (rounded to
 * nearest even as torch does). The directory appears atomically or not at all.
 */
#ifndef QT_JOBS_IMPORT_GGUF_H
#define QT_JOBS_IMPORT_GGUF_H

#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"

struct gguf_import_opts {
	const char   *input;     /* .gguf path */
	const char   *outdir;    /* directory to create (replaced if it exists) */
	enum qt_dtype dtype;     /* QT_DTYPE_BF16 (default), QT_DTYPE_F16 or QT_DTYPE_F32 */
	int           progress;  /* draw a progress line on stderr */
	int           tokenizer_only; /* write tokenizer.json + tokenizer_config.json only */
};

/* Summary filled on success. */
struct gguf_import_stats {
	uint64_t n_tensors;
	uint64_t n_params;
	uint64_t bytes_written;  /* model.safetensors */
	int      tied;
};

/* QT_ENOINPUT: input missing; QT_EDATA: corrupt or unsupported GGUF ("path: what"), or a
 * vocabulary-only GGUF (no tensors) without tokenizer_only;
 * QT_ECANTCREAT / QT_EIO: output errors. Nothing is left at outdir on failure. */
int gguf_import_dir(const struct gguf_import_opts *o, struct gguf_import_stats *stats,
                    struct qt_err *err);

#endif
