/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in import-gguf(1) and tokenizer(5). */
/*
 * Rebuilds HF tokenizer.json and tokenizer_config.json from a GGUF's tokenizer metadata
 * (reference.md 3.8-3.9): byte-level BPE ("gpt2" model) with the pre-tokenizer that
 * tokenizer.ggml.pre names: smollm, gpt-2, llama-bpe, qwen2. Output layout, byte for byte, as
 * tests/ref/smollm2_tokenizer.py writes it (json.dumps(ensure_ascii=False,
 * separators=(",", ":")) with keys in HF's order).
 */
#ifndef QT_FORMATS_GGUF_TOKENIZER_H
#define QT_FORMATS_GGUF_TOKENIZER_H

#include <stdint.h>

#include "common/err.h"
#include "formats/gguf.h"

/* Writes dir/tokenizer.json and dir/tokenizer_config.json (atomically each).
 * max_len: model_max_length (the context length). QT_EDATA "path: key: reason" for missing or
 * unsupported tokenizer metadata; QT_ECANTCREAT/QT_EIO for output errors. */
int gguf_tokenizer_write(const struct gguf_file *g, const char *dir, int64_t max_len,
                         struct qt_err *err);

#endif
