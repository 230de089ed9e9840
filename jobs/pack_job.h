/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in pack(1) and pack(5). */
/*
 * The packing library behind pack(1): reads .tok streams, removes exact duplicates, shuffles,
 * splits off a validation set, and fills fixed-length .pack blocks (best-fit-decreasing bin
 * packing, one padded sample per block, or an eos-joined stream cut every seq_len tokens).
 * The .pack format itself (header, block layout, reader) is formats/pack.h; this file decides
 * only what goes into which block. Everything is held in memory: about 5 bytes per input token.
 */
#ifndef QT_JOBS_PACK_JOB_H
#define QT_JOBS_PACK_JOB_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "formats/pack.h"

/* What happens to a sample longer than seq_len (in pack and pad modes). */
enum packer_long {
	PACKER_LONG_DROP     = 0,  /* left out, counted (default) */
	PACKER_LONG_TRUNCATE = 1,  /* its first seq_len tokens kept */
	PACKER_LONG_SPLIT    = 2,  /* cut into seq_len pieces, each packed as its own sample */
};

struct packer_opts {
	uint32_t    seq_len;       /* T: tokens per block, 1..PACK_MAX_SEQ_LEN */
	uint32_t    mode;          /* enum pack_mode */
	int         cross_doc;     /* concat mode: one segment per block (attention crosses docs) */
	int         long_policy;   /* enum packer_long */
	uint64_t    seed;          /* shuffle seed */
	int         shuffle;       /* 0: keep input order (samples and blocks) */
	int         dedup;         /* 1: drop exact duplicates of (ids, mask), keeping the first */
	double      val_fraction;  /* > 0: validation takes ceil(fraction * samples) */
	uint64_t    val_count;     /* used when val_fraction is 0 */
	uint64_t    max_blocks;    /* 0: no limit; else at most this many blocks per output */
	uint64_t    shard_blocks;  /* 0: one file per output; else blocks per shard file */
	const char *out;           /* path, "-", or with shard_blocks a pattern holding one %d */
	const char *val_out;       /* NULL: no validation output */
};

/* Defaults: seq_len 1024, pack mode, drop long samples, seed 42, shuffle and dedup on. */
void packer_opts_init(struct packer_opts *o);

struct packer_out_stats {
	uint64_t n_files;
	uint64_t n_blocks;
	uint64_t n_blocks_cut;     /* blocks left out by max_blocks */
	uint64_t n_samples;        /* samples (or pieces) written */
	uint64_t n_tokens;         /* non-padding tokens written */
	uint64_t n_tokens_trained; /* tokens with mask 1 */
};

struct packer_stats {
	uint64_t n_inputs;
	uint64_t n_samples_in;
	uint64_t n_tokens_in;
	uint64_t n_duplicates;
	uint64_t n_long;           /* samples longer than seq_len (dropped, truncated or split) */
	uint64_t n_long_tokens;    /* tokens those samples lost (drop, truncate) */
	uint64_t n_split_untrained; /* split pieces left out: no trained token (no loss) */
	uint64_t n_val_samples;    /* samples assigned to validation, before long handling */
	uint32_t seq_len;
	int      long_policy;
	struct packer_out_stats train, val;
};

/*
 * Runs the whole pack: reads inputs[0..n_inputs) ("-" = stdin, at most once), checks that they
 * share one tokenizer fingerprint and vocab size, plans the blocks and writes o->out (and
 * o->val_out) atomically; on failure no output file is left, and shards already renamed into
 * place are removed. Returns QT_OK, QT_EUSAGE (bad options), QT_ENOINPUT, QT_EDATA (bad input,
 * or nothing to write), QT_ECANTCREAT or QT_EIO, with err naming the file.
 */
int packer_run(const struct packer_opts *o, char *const *inputs, int n_inputs,
               struct packer_stats *st, struct qt_err *err);

/* The end-of-run summary (samples in, duplicates, long samples, blocks, fill), a few lines. */
void packer_stats_print(const struct packer_stats *st, const struct packer_opts *o, FILE *fp,
                        const char *progname);

/* Builds the file name of shard i from pattern (one %d, %0Nd or %%); NULL on a bad pattern. */
char *packer_shard_name(const char *pattern, uint64_t i);

/* pack --info: header, counts, fill ratio and token statistics of a verified file, as
 * "key: value" lines on out. */
int packer_info(const char *path, FILE *out, struct qt_err *err);
/* pack --cat: one JSON line per verified block, {"ids":[...],"mask":[...],"seg":[...]}. */
int packer_cat(const char *path, FILE *out, struct qt_err *err);

#endif
