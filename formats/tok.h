/* qlora-tools: ISC license. */
/*
 * The .tok stream: tokenized samples (token ids + loss mask) as written by tok-chatml and read
 * by pack and tok-cat. Written front to back with no seeking, so it can go through a pipe:
 *
 *   header (64 bytes) | record ... | trailer (40 bytes)
 *
 * record  = u32 n_tokens (1 .. TOK_MAX_RECORD_TOKENS) | u32 ids[n] | u8 mask[n] | zero pad to 4
 * trailer = u32 0 | u32 0 | u64 n_records | u64 n_tokens | u64 xxh3 | "QLTOKEND"
 * xxh3 is XXH3-64 (seed 0) of every record byte, from the first record to the trailer.
 * All integers little-endian. See tok(5).
 */
#ifndef QT_FORMATS_TOK_H
#define QT_FORMATS_TOK_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/hash.h"

#define TOK_MAGIC             "QLTOKSTR"  /* 8 bytes, no NUL */
#define TOK_TRAILER_MAGIC     "QLTOKEND"
#define TOK_VERSION           1u
#define TOK_HEADER_SIZE       64u
#define TOK_TRAILER_SIZE      40u
#define TOK_MAX_RECORD_TOKENS (1u << 24)  /* 16 Mi tokens: far above any context length */
#define TOK_ID_NONE           0xFFFFFFFFu /* eos_id / pad_id when the tokenizer has none */

/* In-memory header; serialized field by field, little-endian, at the offsets given. */
struct tok_header {
	char     magic[8];              /*  0: TOK_MAGIC */
	uint32_t version;               /*  8: TOK_VERSION; readers reject other values */
	uint32_t header_size;           /* 12: bytes from file start to the first record (>= 64) */
	uint64_t flags;                 /* 16: no flags defined: must be 0 */
	uint64_t tokenizer_fingerprint; /* 24: XXH3-64 of the tokenizer.json bytes */
	uint32_t vocab_size;            /* 32: every id is < vocab_size */
	uint32_t eos_id;                /* 36: end-of-sequence id, or TOK_ID_NONE */
	uint32_t pad_id;                /* 40: padding id, or TOK_ID_NONE */
	uint32_t reserved0;             /* 44: 0 */
	uint64_t reserved1[2];          /* 48: 0 */
};
_Static_assert(sizeof(struct tok_header) == TOK_HEADER_SIZE, "tok header is 64 bytes");

/* One sample. ids and mask hold n entries; mask[i] is 1 when token i is trained on. */
struct tok_record {
	uint32_t       n;
	const uint32_t *ids;
	const uint8_t  *mask;
};

/* ---- writing ---- */

struct tok_writer {
	FILE       *fp;
	const char *name;       /* for messages */
	uint64_t    n_records;
	uint64_t    n_tokens;
	struct qt_xxh3_state hash;
	uint8_t    *buf;        /* record staging buffer */
	size_t      cap;
};

/* Writes the header to fp (not owned). Returns QT_OK or QT_EIO. */
int tok_writer_open(struct tok_writer *w, FILE *fp, const char *name, const struct tok_header *h,
                    struct qt_err *err);
/* Appends a record. n must be in 1..TOK_MAX_RECORD_TOKENS (else QT_ESOFTWARE). */
int tok_writer_put(struct tok_writer *w, const uint32_t *ids, const uint8_t *mask, uint32_t n,
                   struct qt_err *err);
/* Writes the trailer and frees the writer's buffers (fp stays open). */
int tok_writer_finish(struct tok_writer *w, struct qt_err *err);
/* Frees buffers without writing a trailer. */
void tok_writer_free(struct tok_writer *w);

/* ---- reading ---- */

struct tok_reader {
	FILE       *fp;
	int         own_fp;
	char       *name;
	struct tok_header header;
	uint64_t    offset;     /* bytes consumed so far: for "offset N" messages */
	uint64_t    n_records;
	uint64_t    n_tokens;
	struct qt_xxh3_state hash;
	uint32_t   *ids;
	uint8_t    *mask;
	size_t      cap;
	int         done;
};

/* Opens path ("-" = stdin) and checks the header in the order: size, magic, version,
 * header_size, flags. QT_ENOINPUT if it cannot be opened, QT_EDATA with "name: offset N: ..." */
int tok_reader_open(struct tok_reader *r, const char *path, struct qt_err *err);
/*
 * Next record into *rec (valid until the next call). Returns 1 with a record, 0 at the trailer
 * once its counts and checksum have been verified (and nothing follows it), or -1 on error
 * (QT_EDATA for truncation, corruption or an id >= vocab_size; QT_EIO for read errors).
 */
int tok_reader_next(struct tok_reader *r, struct tok_record *rec, struct qt_err *err);
void tok_reader_close(struct tok_reader *r);

/* Serializes / parses the 64-byte header (no validation in encode). */
void tok_header_encode(const struct tok_header *h, uint8_t out[TOK_HEADER_SIZE]);
void tok_header_decode(const uint8_t in[TOK_HEADER_SIZE], struct tok_header *h);

#endif
