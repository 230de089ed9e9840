/* qlora-tools: ISC license. */
/*
 * quantize-nf4's job (quantize-nf4(1)): an HF model directory quantized to bitsandbytes NF4
 * (nf4(5)). tools/quantize-nf4.c parses the options and calls nf4_quantize_dir; the block math is
 * in kernels/nf4.h, the tensor layout in formats/nf4.h.
 */
#ifndef QT_JOBS_QUANTIZE_NF4_H
#define QT_JOBS_QUANTIZE_NF4_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kernels/nf4.h"

struct nf4_quantize_opts {
	const char *in_dir, *out_dir;
	size_t      blocksize;     /* 64 */
	int         double_quant;  /* 1 */
	int         n_threads;     /* <= 0: all CPUs */
	const char *skip;          /* NULL, or comma-separated module name fragments: a Linear
	                            * whose name contains one is kept unquantized (bitsandbytes'
	                            * llm_int8_skip_modules, written with "lm_head" added) */
};

/* Per decoder layer: the error |w - dequant(quant(w))| over its quantized weights. */
struct nf4_layer_error {
	double mean_abs, max_abs;
};

struct nf4_summary {
	uint64_t bytes_in, bytes_out;      /* weight files */
	size_t   n_quantized, n_kept;      /* tensors */
	uint64_t n_params_quantized;
	double   seconds;
	size_t   n_layers;
	struct nf4_layer_error *layers;    /* n_layers entries, owned: free() */
};

/*
 * Quantizes in_dir (an HF Llama-family directory with float weights) into out_dir, atomically
 * (a temporary sibling renamed at the end; nothing is left on failure): the q/k/v/o/gate/up/down
 * weights of every decoder layer in NF4, every other tensor unchanged, config.json with the
 * bitsandbytes quantization_config, tokenizer and generation files copied.
 * QT_ENOINPUT missing input, QT_EDATA bad input (already quantized, non-finite weights, bad
 * safetensors or config), QT_ECANTCREAT/QT_EIO output errors.
 */
int nf4_quantize_dir(const struct nf4_quantize_opts *o, struct nf4_summary *sum,
                     struct qt_err *err);

#endif
