/* qlora-tools: ISC license. Documented in man/man5/lora-checkpoint.5. */
/* Documented in lora-checkpoint(5), man/man5/lora-checkpoint.5 (a directory format; the man
 * page name uses a hyphen). */
/*
 * lora-train checkpoints: a directory out/checkpoint-N that holds everything an exact resume
 * needs, documented in lora-checkpoint(5):
 *   adapter_config.json, adapter_model.safetensors  the adapter after step N (F32, PEFT layout)
 *   optimizer.safetensors   AdamW moments: "<adapter key>.exp_avg", "<adapter key>.exp_avg_sq"
 *   trainer_state.json      step, data position, seed, the options that must not change, and
 *                           the XXH3-64 of the three files above
 * Written atomically (built as a sibling temporary directory, then renamed). Loading checks
 * the version, the file checksums and the options before trusting a byte.
 */
#ifndef QT_FORMATS_LORA_CHECKPOINT_H
#define QT_FORMATS_LORA_CHECKPOINT_H

#include <stdint.h>

#include "common/err.h"
#include "formats/adapter.h"

#define LORA_CKPT_STATE_NAME  "trainer_state.json"
#define LORA_CKPT_OPTIM_NAME  "optimizer.safetensors"
#define LORA_CKPT_FORMAT      "lora-train checkpoint"
#define LORA_CKPT_VERSION     1

/* Where training stands after step `step`. */
struct lora_ckpt_state {
	long     step;          /* optimizer steps done (N) */
	long     total_steps;   /* the run's planned total (informational) */
	uint64_t blocks_done;   /* training blocks consumed: the data position */
	uint64_t n_blocks;      /* blocks per epoch (epoch = blocks_done / n_blocks) */
	uint64_t seed;          /* the run seed; every random stream is counter-based from it */
	uint64_t tokens;        /* trained targets so far */
	uint64_t input_tokens;  /* non-padding tokens processed so far */
	double   seconds;       /* training time so far */
};

/*
 * Writes checkpoint directory dir. lora, m1, m2: the adapter and AdamW's first and second
 * moments (adapters of the same shapes). options_json: a JSON object of the options a resume
 * must repeat exactly (stored verbatim under "options").
 */
int lora_ckpt_save(const char *dir, const struct adapter *lora, const struct adapter *m1,
                   const struct adapter *m2, const struct lora_ckpt_state *s,
                   const char *options_json, struct qt_err *err);

/*
 * The checkpoint to resume from: path itself when it holds trainer_state.json, else its
 * subdirectory checkpoint-N with the largest N that holds one. *dir is malloc'd.
 * QT_ENOINPUT when there is none.
 */
int lora_ckpt_find(const char *path, char **dir, struct qt_err *err);

/*
 * Reads checkpoint dir for a model of shapes dims: verifies the format, version and file
 * checksums (QT_EDATA on a mismatch: a corrupt checkpoint), compares the stored options with
 * options_json key by key (QT_EDATA naming the first option that differs), then loads the
 * adapter into lora and the moments into m1, m2 (allocated here) and the position into s.
 * On failure nothing is left allocated.
 */
int lora_ckpt_load(const char *dir, const struct adapter_dims *dims, const char *options_json,
                   struct adapter *lora, struct adapter *m1, struct adapter *m2,
                   struct lora_ckpt_state *s, struct qt_err *err);

#endif
