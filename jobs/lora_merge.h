/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in lora-merge(1) and adapter(5). */
/*
 * lora-merge's library side: folds PEFT LoRA adapters (formats/adapter.h) into a base model
 * directory and writes a complete HF model directory; also the --info report of an adapter.
 * Not a file format of its own: it composes formats/adapter, formats/safetensors,
 * formats/hfconfig and formats/nf4 with the sgemm of kernels/matmul.h.
 *
 * Per adapted linear weight W [out, in] (reference.md 6.4):
 *   W' = cast_out( f32(W) + sum_k s_k * scaling_k * f32(B_k) @ f32(A_k) )
 * accumulated in f32 in adapter order, cast once (round to nearest even) to the output dtype;
 * --unmerge uses -s_k. From an NF4 base, f32(W) is bitsandbytes' dequantize_4bit output
 * (f32(code * absmax), nested absmax rebuilt with double quantization, then cast to the
 * quant_state dtype). Every other tensor is copied bit for bit (converted only when the output
 * dtype differs). The output holds config.json (the base's, without quantization_config, its
 * dtype updated), the weights (model.safetensors, or shards of at most MERGE_SHARD_BYTES with
 * model.safetensors.index.json), and every other regular file of the base directory except
 * weights (tokenizer files, generation_config.json, chat templates, ...). The directory is
 * built beside the target and renamed into place: no partial output on any error.
 */
#ifndef QT_JOBS_LORA_MERGE_H
#define QT_JOBS_LORA_MERGE_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define MERGE_MAX_ADAPTERS 16
#define MERGE_SHARD_BYTES  (5ull << 30) /* transformers' default max_shard_size "5GB" (order) */

struct merge_opts {
	const char *base_dir;
	const char *out_dir;
	const char *adapter_dir[MERGE_MAX_ADAPTERS];
	double      scale[MERGE_MAX_ADAPTERS]; /* user factor per adapter (1 = as trained) */
	int         n_adapters;                /* 1 .. MERGE_MAX_ADAPTERS */
	int         unmerge;                   /* subtract the adapters instead of adding */
	int         out_dtype;                 /* enum qt_dtype F32/F16/BF16, or -1: as stored */
	int         n_threads;                 /* <= 0: qt_pool_default_threads() */
	uint64_t    shard_bytes;               /* 0: MERGE_SHARD_BYTES */
};

struct merge_stats {
	double   seconds;        /* wall time of merge_run */
	uint64_t bytes_read;     /* tensor bytes read from the base */
	uint64_t bytes_written;  /* tensor bytes written */
	int      n_tensors;      /* tensors written */
	int      n_merged;       /* of which changed by an adapter */
	int      nf4_base;       /* 1 when the base was NF4 and has been dequantized */
	int      out_dtype;      /* enum qt_dtype of the merged linear weights */
};

/*
 * Merges o->adapter_dir[0..n) into o->base_dir and writes o->out_dir. Everything is checked
 * (config, every adapter against the base's shapes, every adapted weight present) before the
 * output directory is started. QT_ENOINPUT for missing inputs, QT_EDATA for bad or
 * incompatible ones (message "path: what"), QT_EUSAGE for bad options, QT_ECANTCREAT/QT_EIO on
 * output errors. stats may be NULL.
 */
int merge_run(const struct merge_opts *o, struct merge_stats *stats, struct qt_err *err);

/*
 * Writes the --info report of the adapter in dir to out: a "key: value" header (peft_type, r,
 * lora_alpha, use_rslora, targets, layers, parameters) then a tab-separated table
 * "layer module r alpha scaling norm_BA norm_delta" with one row per adapted module, where
 * norm_BA = ||B A||_F and norm_delta = scaling * norm_BA, and one "all" row per layer with the
 * root sum of squares of the module norms. Shapes are inferred from the tensors.
 */
int merge_info(const char *dir, FILE *out, struct qt_err *err);

/* ---- the directory's other files (jobs/lora_merge_files.c) ---- */

/* Writes out_dir/config.json: base_dir's config.json without quantization_config, with
 * "dtype" and/or "torch_dtype" (whichever the base has; torch_dtype when neither) set to the
 * torch name of dtype (enum qt_dtype), as json.dumps(indent=2, sort_keys=True) + newline. */
int merge_write_config(const char *base_dir, const char *out_dir, int dtype, struct qt_err *err);
/* Copies every regular file of base_dir into out_dir except config.json, dot files and weight
 * files (*.safetensors, *.bin, *.pt, *.pth, *.gguf, *.ckpt, *.h5, *.msgpack, *.index.json). */
int merge_copy_files(const char *base_dir, const char *out_dir, struct qt_err *err);

#endif
