/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in export-gguf(1) and gguf(5). */
/*
 * export-gguf's library side: an HF model directory (f32/f16/bf16 safetensors, sharded or not,
 * or an NF4 directory, dequantized as bitsandbytes does) to a llama.cpp GGUF v3 file, or a PEFT
 * LoRA adapter to llama.cpp's LoRA GGUF. Composes formats/gguf (writer), formats/gguf_arch (the
 * llama.cpp names), formats/gguf_tokenizer (tokenizer metadata), formats/modeldir, formats/nf4,
 * formats/adapter and kernels/ggml_quant.
 *
 * Model: metadata as convert_hf_to_gguf.py writes it (general.*, <arch>.*, tokenizer.*,
 * tokenizer.chat_template); tensors under llama.cpp's names with the Q/K rows permuted, in the
 * order llama.cpp's quantizer writes them (non-layer tensors by name, then each layer's by
 * name); each tensor's type chosen as llama_model_quantize chooses it for the file type
 * (llama-quant.cpp llama_tensor_get_type: 1-D tensors F32, output/tied embedding Q6_K or Q8_0,
 * the Q4_K_M/Q5_K_M attn_v and ffn_down rule, the fallbacks for rows not a multiple of 256)
 * and quantized as it quantizes the F32 values (bytes identical). Tensor by tensor: memory is
 * one tensor in f32 plus its output.
 *
 * Adapter: general.type "adapter", adapter.type "lora", adapter.lora.alpha, and per adapted
 * module "blk.N.<name>.weight.lora_a" (A, ne [in, r]) and ".lora_b" (B, ne [r, out], the Q/K
 * rows permuted as the base weight's), as convert_lora_to_gguf.py writes them. llama.cpp scales
 * every pair by alpha / r; pairs whose PEFT scaling differs (rank_pattern, alpha_pattern,
 * use_rslora) get the ratio folded into B.
 *
 * The output file is written beside its name and renamed at the end: nothing is left on error.
 */
#ifndef QT_JOBS_EXPORT_GGUF_H
#define QT_JOBS_EXPORT_GGUF_H

#include <stdint.h>

#include "common/err.h"
#include "formats/gguf.h"  /* ggml_type_get: the names behind n_of_type */

/* The file types we write (llama.cpp's llama_ftype names, lower case). */
enum export_gguf_type {
	EXPORT_GGUF_F32, EXPORT_GGUF_F16, EXPORT_GGUF_BF16, EXPORT_GGUF_Q8_0, EXPORT_GGUF_Q4_0,
	EXPORT_GGUF_Q4_K_M, EXPORT_GGUF_Q5_K_M, EXPORT_GGUF_Q6_K, EXPORT_GGUF_N_TYPES
};

/* "f32", "f16", ... indexed by enum export_gguf_type; NULL-terminated. */
extern const char *const export_gguf_type_names[EXPORT_GGUF_N_TYPES + 1];

/* enum export_gguf_type of name; -1 with err set (QT_EDATA: "type \"q4_1\": not written by
 * export-gguf (f32, ...)") for a llama.cpp file type we do not write, -2 for a word that is
 * no llama.cpp file type at all (err set, QT_EUSAGE). */
int export_gguf_type_find(const char *name, struct qt_err *err);

struct export_gguf_opts {
	const char *model_dir;    /* model mode: the model; adapter mode: its base */
	const char *adapter_dir;  /* NULL: model mode */
	const char *output;       /* .gguf path */
	int         type;         /* enum export_gguf_type; adapter mode: f32, f16 or bf16 */
	int         n_threads;    /* <= 0: qt_pool_default_threads() */
	int         progress;     /* progress line on stderr */
};

struct export_gguf_stats {
	uint64_t n_tensors;
	uint64_t n_params;
	uint64_t bytes;              /* file size */
	uint64_t n_of_type[64];      /* tensors per ggml type id */
	int      nf4;                /* the source was NF4 */
};

/*
 * Writes o->output. QT_ENOINPUT for missing inputs; QT_EDATA for input it refuses ("path:
 * what"): a model_type llama.cpp has no architecture for, llama3 rope scaling, a missing or
 * misshapen tensor, non-finite values, a tokenizer llama.cpp's gpt2 vocabulary cannot hold, an
 * adapter whose shapes do not fit the base, a file type the mode does not write;
 * QT_ECANTCREAT / QT_EIO for output errors. stats may be NULL.
 */
int export_gguf_run(const struct export_gguf_opts *o, struct export_gguf_stats *stats,
                    struct qt_err *err);

#endif
