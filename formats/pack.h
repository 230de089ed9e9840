/* qlora-tools: ISC license. */
/*
 * The .pack file: fixed-length training blocks written by pack(1) and read by lora-train.
 * A header followed by n_blocks blocks of identical size, so block i sits at
 * header_size + i * block_size and a trainer can mmap the file and use it with no parsing:
 *
 *   header (128 bytes) | block 0 | block 1 | ... | block n_blocks-1
 *
 * block (T = seq_len, block_size = round_up(7T + 8, 64)):
 *   offset 0    u32 ids[T]    token ids (< vocab_size; pad_id in padding)
 *   offset 4T   u16 seg[T]    segment ids: 1, 2, 3, ... in order; 0 = padding (only at the end)
 *   offset 6T   u8  mask[T]   1 = the token is a training target (its loss counts), else 0
 *   offset 7T   zero bytes up to block_size - 8
 *   block_size-8 u64 xxh3     XXH3-64 (seed 0) of the block's first block_size - 8 bytes
 *
 * Positions restart at 0 at every segment start; a token attends only to earlier tokens of its
 * own segment; mask is already 0 on the first token of every segment. All integers are
 * little-endian; the reader's pointers are direct views, so it requires a little-endian host.
 * This module is the format only (read, write, verify); packing lives in jobs/pack_job.h.
 * See pack(5).
 */
#ifndef QT_FORMATS_PACK_H
#define QT_FORMATS_PACK_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "formats/pack.h: the .pack reader hands out direct little-endian views"
#endif

#define PACK_MAGIC          "QLPACKBL"  /* 8 bytes, no NUL: "qlora-tools packed blocks" */
#define PACK_VERSION        1u
#define PACK_HEADER_SIZE    128u
#define PACK_ALIGN          64u         /* header_size and block_size are multiples of this */
#define PACK_MAX_SEQ_LEN    65535u      /* so that u16 segment ids 1..T never overflow */
#define PACK_MAX_HEADER     (1u << 20)  /* sanity bound on header_size for future versions */

/* flags (u64). Readers reject any bit not listed here. */
#define PACK_FLAG_CROSS_DOC 0x1u        /* concat mode: one segment may hold several documents */
#define PACK_FLAGS_KNOWN    PACK_FLAG_CROSS_DOC

/* mode (u32): how blocks were filled. */
enum pack_mode {
	PACK_MODE_PACK   = 1,  /* several whole samples per block (best-fit decreasing) */
	PACK_MODE_PAD    = 2,  /* one sample per block, right-padded */
	PACK_MODE_CONCAT = 3,  /* documents joined with eos, cut every seq_len tokens */
};

/* In-memory header; serialized field by field, little-endian, at the offsets given. */
struct pack_header {
	char     magic[8];              /*   0: PACK_MAGIC */
	uint32_t version;               /*   8: PACK_VERSION; readers reject other values */
	uint32_t header_size;           /*  12: offset of block 0; >= 128, multiple of 64 */
	uint64_t flags;                 /*  16: PACK_FLAG_*; unknown bits are rejected */
	uint64_t tokenizer_fingerprint; /*  24: XXH3-64 of tokenizer.json, copied from the .tok */
	uint32_t vocab_size;            /*  32: every id is < vocab_size */
	uint32_t eos_id;                /*  36: end-of-sequence id, or 0xFFFFFFFF */
	uint32_t pad_id;                /*  40: id stored in padding positions */
	uint32_t seq_len;               /*  44: T, tokens per block, 1..65535 */
	uint32_t block_size;            /*  48: bytes per block = round_up(7T + 8, 64) */
	uint32_t mode;                  /*  52: enum pack_mode */
	uint64_t n_blocks;              /*  56: blocks in this file */
	uint64_t n_samples;             /*  64: samples (pieces of split samples count once each) */
	uint64_t n_tokens;              /*  72: non-padding tokens (seg != 0) */
	uint64_t n_tokens_trained;      /*  80: tokens with mask 1 */
	uint32_t shard_index;           /*  88: this file's index in a sharded set (0 if single) */
	uint32_t n_shards;              /*  92: files in the set (1 if single) */
	uint64_t block_first;           /*  96: global index of this file's block 0 in the set */
	uint64_t seed;                  /* 104: shuffle seed used by the writer (informational) */
	uint64_t payload_xxh3;          /* 112: XXH3-64 of the n_blocks block checksums (u64 LE) */
	uint64_t header_xxh3;           /* 120: XXH3-64 of the header_size header bytes with this
	                                        field set to zero */
};
_Static_assert(sizeof(struct pack_header) == PACK_HEADER_SIZE, "pack header is 128 bytes");

/* Bytes per block for seq_len T: ids, seg, mask, zero fill, u64 checksum, 64-aligned. */
static inline uint32_t pack_block_size(uint32_t seq_len)
{
	return (uint32_t)(((uint64_t)seq_len * 7 + 8 + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN);
}

/* Views into one block (a mapped file or a writer's buffer). */
struct pack_block {
	uint32_t  seq_len;
	uint32_t *ids;    /* [seq_len] */
	uint16_t *seg;    /* [seq_len] */
	uint8_t  *mask;   /* [seq_len] */
};

/* Points b at the arrays of the block stored at buf (block_size bytes, 8-byte aligned). */
void pack_block_view(struct pack_block *b, void *buf, uint32_t seq_len);
/* Zeroes the fill bytes, computes the block's XXH3 and stores it in its last 8 bytes;
 * returns the checksum. */
uint64_t pack_block_seal(void *buf, uint32_t seq_len);

/* Serializes / parses the 128-byte header (no validation); encode leaves header_xxh3 as given. */
void pack_header_encode(const struct pack_header *h, uint8_t out[PACK_HEADER_SIZE]);
void pack_header_decode(const uint8_t in[PACK_HEADER_SIZE], struct pack_header *h);
/* XXH3 of header bytes hdr[0..header_size) with the header_xxh3 field read as zero. */
uint64_t pack_header_checksum(const uint8_t *hdr, uint32_t header_size);

/* ---- writing ---- */

/*
 * Writes blocks front to back with no seeking (so "-" works). The caller knows everything the
 * header holds before the first block, including payload_xxh3 (pack(1) builds its blocks twice:
 * once to checksum, once to write). finish fails with QT_ESOFTWARE if the blocks written do not
 * match the header's n_blocks or payload_xxh3.
 */
struct pack_writer {
	FILE       *fp;         /* not owned */
	const char *name;       /* for messages */
	struct pack_header h;
	uint64_t    n_put;
	struct qt_xxh3_state payload;
};

/* Fills magic, version, header_size, block_size and header_xxh3 and writes the header. */
int pack_writer_open(struct pack_writer *w, FILE *fp, const char *name,
                     const struct pack_header *h, struct qt_err *err);
/* Appends one sealed block (block_size bytes). */
int pack_writer_put(struct pack_writer *w, const void *block, struct qt_err *err);
int pack_writer_finish(struct pack_writer *w, struct qt_err *err);
void pack_writer_free(struct pack_writer *w);

/* ---- reading ---- */

struct pack_file {
	char          *name;    /* owned, for messages */
	struct qt_map  map;
	struct pack_header h;
	const uint8_t *blocks;  /* map.data + header_size */
};

/*
 * Maps path (a regular file; "-" is refused) and checks, in this order: size, magic, version,
 * header_size, flags, field ranges (seq_len, block_size, mode, vocab_size, statistics), counts
 * against the file size, alignment, header checksum. O(1): blocks are not read. Returns QT_OK,
 * QT_ENOINPUT, or QT_EDATA with "name: offset N: what".
 */
int pack_open(struct pack_file *f, const char *path, struct qt_err *err);
/* Views of block i (i < h.n_blocks); no check, no copy. */
void pack_get_block(const struct pack_file *f, uint64_t i, struct pack_block *b);
/*
 * Checks block i: its XXH3, ids < vocab_size, mask in {0,1}, segment ids 1,2,.. contiguous and
 * ascending with padding (0) only at the end, mask 0 on padding and on segment starts.
 * QT_EDATA with "name: block i (offset N): what".
 */
int pack_verify_block(const struct pack_file *f, uint64_t i, struct qt_err *err);
/* Verifies every block and the payload checksum. */
int pack_verify(const struct pack_file *f, struct qt_err *err);
void pack_close(struct pack_file *f);

/*
 * Data-parallel slice: rank r of world w reads global blocks r, r+w, r+2w, ...; every rank gets
 * the same count floor(n_blocks / w) so ranks step in lockstep, and the n_blocks mod w last
 * blocks are left out. pack_slice_init returns QT_EUSAGE when rank >= world or world == 0 and
 * QT_EDATA when n_blocks < world.
 */
struct pack_slice {
	uint32_t rank, world;
	uint64_t n;  /* blocks this rank reads */
};
int pack_slice_init(struct pack_slice *s, uint64_t n_blocks, uint32_t rank, uint32_t world,
                    struct qt_err *err);
/* Global block index of this rank's k-th block (k < s->n). */
static inline uint64_t pack_slice_block(const struct pack_slice *s, uint64_t k)
{
	return s->rank + k * s->world;
}

/* Name of a mode ("pack", "pad", "concat"), or "?" */
const char *pack_mode_name(uint32_t mode);

#endif
