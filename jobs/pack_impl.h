/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in pack(1) and pack(5). */
/*
 * Internals shared by jobs/pack_job.c (loading, planning) and jobs/pack_write.c (block
 * building, shard output). Not an API: tools use jobs/pack_job.h.
 */
#ifndef QT_JOBS_PACK_IMPL_H
#define QT_JOBS_PACK_IMPL_H

#include <stdint.h>

#include "formats/pack.h"
#include "formats/tok.h"
#include "jobs/pack_job.h"

/* One input sample: n tokens at store offset off. */
struct pk_sample {
	uint64_t off;
	uint32_t n;
};

/* Every input token in memory: ids and mask arrays, samples in input order. */
struct pk_store {
	struct tok_header h;       /* of the first input */
	uint32_t         *ids;
	uint8_t          *mask;
	uint64_t          n_tok, cap_tok, cap_mask;
	struct pk_sample *s;
	uint64_t         *hash;    /* XXH3 of (ids, mask) per sample: the dedup key */
	uint64_t          n, cap_s;
};

#define PK_CONT 1u  /* piece continues the previous piece's segment (concat, cross-doc) */

/*
 * A run of tokens of one sample: positions start..start+len-1 of the sample's virtual sequence,
 * which in concat mode is its n tokens followed by eos at position n.
 */
struct pk_piece {
	uint64_t sample;
	uint32_t start, len;
	uint32_t flags;  /* PK_CONT */
};

struct pk_list {
	struct pk_piece *p;
	uint64_t n, cap;
};

/* Blocks in output order: block b holds pieces p[start[b] .. start[b+1]). */
struct pk_plan {
	struct pk_piece *p;
	uint64_t        *start;
	uint64_t         n_pieces, n_blocks;
};

/* Checks option values and combinations; QT_EUSAGE with a message. */
int pk_check_opts(const struct packer_opts *o, struct qt_err *err);
/* Plans the blocks of samples idx[0..n) (already deduplicated and shuffled). */
int pk_plan_make(struct pk_plan *pl, const struct pk_store *s, const struct packer_opts *o,
                 const uint64_t *idx, uint64_t n, struct packer_stats *st, struct qt_err *err);
void pk_plan_free(struct pk_plan *pl);
void pk_store_free(struct pk_store *s);
/* Writes train (to o->out) and val (to o->val_out, if set), honouring max_blocks and shards. */
int pk_write_outputs(const struct packer_opts *o, const struct pk_store *s,
                     const struct pk_plan *train, const struct pk_plan *val,
                     struct packer_stats *st, struct qt_err *err);

#endif
