/* qlora-tools: ISC license. */
/*
 * .pack format: writer/reader round trip, header offsets as pack(5) documents them, the
 * data-parallel slice, and one corrupt-file case per reader check (STYLE 6: enum of defects,
 * expected status 65 and message fragment).
 */
#include "formats/pack.h"

#include <unistd.h>

#include "common/le.h"
#include "test.h"

#define T 5
static const char *path = "/tmp/qt_test_pack.pack";

/* Block b of the reference file: segments of lengths 2 and 2, then one pad token. */
static void fill_block(uint8_t *buf, uint32_t b)
{
	struct pack_block v;
	pack_block_view(&v, buf, T);
	for (uint32_t t = 0; t < T; t++) {
		v.ids[t] = t < 4 ? 10 * b + t + 1 : 0;
		v.seg[t] = t < 2 ? 1 : t < 4 ? 2 : 0;
		v.mask[t] = t == 1 || t == 3;
	}
	pack_block_seal(buf, T);
}

/* Writes n_blocks blocks (block b from fill_block, or from override when b == ob). */
static void write_file(uint64_t n_blocks, int ob, void (*override)(uint8_t *))
{
	uint8_t buf[4][256] __attribute__((aligned(64)));
	struct pack_header h = { .tokenizer_fingerprint = 0xabcdef, .vocab_size = 100,
	                         .eos_id = 2, .pad_id = 0, .seq_len = T, .mode = PACK_MODE_PACK,
	                         .n_blocks = n_blocks, .n_samples = 2 * n_blocks,
	                         .n_tokens = 4 * n_blocks, .n_tokens_trained = 2 * n_blocks,
	                         .n_shards = 1, .seed = 7 };
	struct qt_xxh3_state s;
	qt_xxh3_init(&s);
	for (uint32_t b = 0; b < n_blocks; b++) {
		fill_block(buf[b], b);
		if ((int)b == ob)
			override(buf[b]);
		qt_xxh3_update(&s, buf[b] + pack_block_size(T) - 8, 8);
	}
	h.payload_xxh3 = qt_xxh3_digest(&s);
	qt_xxh3_free(&s);
	FILE *fp = fopen(path, "wb");
	struct pack_writer w;
	struct qt_err err;
	int st = pack_writer_open(&w, fp, path, &h, &err);
	for (uint32_t b = 0; b < n_blocks && st == QT_OK; b++)
		st = pack_writer_put(&w, buf[b], &err);
	if (st == QT_OK)
		st = pack_writer_finish(&w, &err);
	CHECK(st == QT_OK, "write: %s", err.msg);
	fclose(fp);
}

static int open_verify(struct qt_err *err)
{
	struct pack_file f;
	int st = pack_open(&f, path, err);
	if (st != QT_OK)
		return st;
	st = pack_verify(&f, err);
	pack_close(&f);
	return st;
}

/* File bytes, to corrupt. */
static uint8_t *slurp(size_t *n)
{
	FILE *fp = fopen(path, "rb");
	static uint8_t b[4096];
	*n = fread(b, 1, sizeof b, fp);
	fclose(fp);
	return b;
}

static void put(const uint8_t *b, size_t n)
{
	FILE *fp = fopen(path, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
}

/* Rewrites the header checksum so that a field defect reaches its own check. */
static void reseal_header(uint8_t *b)
{
	le64_store(b + 120, pack_header_checksum(b, le32_load(b + 12)));
}

static void ov_first_trained(uint8_t *buf) { buf[6 * T] = 1; pack_block_seal(buf, T); }
static void ov_seg_after_pad(uint8_t *buf) { le16_store(buf + 4 * T + 6, 0); buf[6 * T + 3] = 0;
                                             le16_store(buf + 4 * T + 8, 2);
                                             pack_block_seal(buf, T); }
static void ov_big_id(uint8_t *buf) { le32_store(buf + 4, 100); pack_block_seal(buf, T); }
static void ov_pad_trained(uint8_t *buf) { buf[6 * T + 4] = 1; pack_block_seal(buf, T); }
static void ov_seg_skip(uint8_t *buf) { le16_store(buf + 4 * T + 4, 3); le16_store(buf + 4 * T + 6, 3);
                                        pack_block_seal(buf, T); }

int main(void)
{
	struct qt_err err;
	CHECK(pack_block_size(5) == 64 && pack_block_size(2048) == 14400 &&
	      pack_block_size(8) == 64 && pack_block_size(9) == 128, "block sizes");

	/* Round trip. */
	write_file(3, -1, NULL);
	struct pack_file f;
	int st = pack_open(&f, path, &err);
	CHECK(st == QT_OK, "open: %s", err.msg);
	if (st == QT_OK) {
		CHECK(f.h.n_blocks == 3 && f.h.seq_len == T && f.h.block_size == 64 &&
		      f.h.header_size == 128 && f.h.vocab_size == 100 && f.h.seed == 7 &&
		      f.map.size == 128 + 3 * 64, "header fields");
		CHECK(pack_verify(&f, &err) == QT_OK, "verify: %s", err.msg);
		int ok = 1;
		for (uint32_t b = 0; b < 3; b++) {
			struct pack_block v;
			pack_get_block(&f, b, &v);
			ok &= ((uintptr_t)v.ids % 64) == 0;
			for (uint32_t t = 0; t < T; t++)
				ok &= v.ids[t] == (t < 4 ? 10 * b + t + 1 : 0) &&
				      v.seg[t] == (t < 2 ? 1 : t < 4 ? 2 : 0) && v.mask[t] == (t == 1 || t == 3);
		}
		CHECK(ok, "block contents round trip, 64-byte aligned");
		/* Offsets of pack(5)'s field table. */
		const uint8_t *d = f.map.data;
		CHECK(memcmp(d, "QLPACKBL", 8) == 0 && le32_load(d + 8) == 1 && le32_load(d + 12) == 128
		      && le32_load(d + 44) == T && le32_load(d + 48) == 64 && le32_load(d + 52) == 1 &&
		      le64_load(d + 56) == 3 && le64_load(d + 72) == 12 && le64_load(d + 104) == 7,
		      "field offsets");
		pack_close(&f);
	}

	/* Data-parallel slices: equal counts, disjoint, strided. */
	struct pack_slice s0, s1;
	CHECK(pack_slice_init(&s0, 7, 0, 2, &err) == QT_OK && s0.n == 3 &&
	      pack_slice_init(&s1, 7, 1, 2, &err) == QT_OK && s1.n == 3 &&
	      pack_slice_block(&s0, 2) == 4 && pack_slice_block(&s1, 2) == 5, "slices");
	CHECK(pack_slice_init(&s0, 7, 2, 2, &err) == QT_EUSAGE, "rank >= world");
	CHECK(pack_slice_init(&s0, 1, 0, 2, &err) == QT_EDATA, "too few blocks");

	/* Header defects, one per check, in the reader's order. */
	enum defect { TRUNCATED_HEADER, BAD_MAGIC, VERSION_FUTURE, HEADER_SIZE_TOO_SMALL,
	              HEADER_SIZE_PAST_EOF, FLAGS_UNKNOWN, VOCAB_ZERO, PAD_OUT_OF_VOCAB,
	              SEQ_LEN_ZERO, SEQ_LEN_HUGE, BLOCK_SIZE_WRONG, MODE_UNKNOWN, CROSS_DOC_NOT_CONCAT,
	              COUNT_OVERFLOW, TRUNCATED_PAYLOAD, TRAILING_BYTES, STATS_TOO_BIG,
	              SHARD_INDEX, HEADER_UNALIGNED, BAD_HEADER_CHECKSUM, N_DEFECTS };
	static const struct { enum defect d; const char *msg; } cases[] = {
		{ TRUNCATED_HEADER,      "too short"                        },
		{ BAD_MAGIC,             "bad magic"                        },
		{ VERSION_FUTURE,        "unsupported version 2"            },
		{ HEADER_SIZE_TOO_SMALL, "offset 12: header_size out of range" },
		{ HEADER_SIZE_PAST_EOF,  "offset 12: header_size out of range" },
		{ FLAGS_UNKNOWN,         "offset 16: unknown flags 0x4"     },
		{ VOCAB_ZERO,            "offset 32: vocab_size is 0"       },
		{ PAD_OUT_OF_VOCAB,      "offset 40: pad_id"                },
		{ SEQ_LEN_ZERO,          "offset 44: seq_len out of range"  },
		{ SEQ_LEN_HUGE,          "offset 44: seq_len out of range"  },
		{ BLOCK_SIZE_WRONG,      "offset 48: block_size"            },
		{ MODE_UNKNOWN,          "offset 52: unknown mode"          },
		{ CROSS_DOC_NOT_CONCAT,  "cross-doc flag outside concat"    },
		{ COUNT_OVERFLOW,        "(truncated?)"                     },
		{ TRUNCATED_PAYLOAD,     "(truncated?)"                     },
		{ TRAILING_BYTES,        "bytes after the last block"       },
		{ STATS_TOO_BIG,         "statistics exceed"                },
		{ SHARD_INDEX,           "offset 88: shard_index"           },
		{ HEADER_UNALIGNED,      "not a multiple of 64"             },
		{ BAD_HEADER_CHECKSUM,   "offset 120: header checksum mismatch" },
	};
	_Static_assert(sizeof cases / sizeof cases[0] == N_DEFECTS, "one case per defect");
	for (size_t i = 0; i < N_DEFECTS; i++) {
		write_file(3, -1, NULL);
		size_t n;
		uint8_t *b = slurp(&n), ext[4096];
		int reseal = 1;
		switch (cases[i].d) {
		case TRUNCATED_HEADER:      n = 100; reseal = 0; break;
		case BAD_MAGIC:             b[0] = 'X'; break;
		case VERSION_FUTURE:        le32_store(b + 8, 2); break;
		case HEADER_SIZE_TOO_SMALL: le32_store(b + 12, 64); reseal = 0; break;
		case HEADER_SIZE_PAST_EOF:  le32_store(b + 12, 4096); reseal = 0; break;
		case FLAGS_UNKNOWN:         le64_store(b + 16, 5); break;
		case VOCAB_ZERO:            le32_store(b + 32, 0); break;
		case PAD_OUT_OF_VOCAB:      le32_store(b + 40, 100); break;
		case SEQ_LEN_ZERO:          le32_store(b + 44, 0); break;
		case SEQ_LEN_HUGE:          le32_store(b + 44, 70000); break;
		case BLOCK_SIZE_WRONG:      le32_store(b + 48, 128); break;
		case MODE_UNKNOWN:          le32_store(b + 52, 9); break;
		case CROSS_DOC_NOT_CONCAT:  le64_store(b + 16, PACK_FLAG_CROSS_DOC); break;
		case COUNT_OVERFLOW:        le64_store(b + 56, 1ull << 62); break;
		case TRUNCATED_PAYLOAD:     n -= 10; break;
		case TRAILING_BYTES:        b[n++] = 0; break;
		case STATS_TOO_BIG:         le64_store(b + 72, 16); break;
		case SHARD_INDEX:           le32_store(b + 88, 1); break;
		case HEADER_UNALIGNED:      /* a 160-byte header: 32 extension bytes */
			memcpy(ext, b, 128);
			memset(ext + 128, 0, 32);
			memcpy(ext + 160, b + 128, n - 128);
			le32_store(ext + 12, 160);
			b = ext;
			n += 32;
			break;
		case BAD_HEADER_CHECKSUM:   b[104] ^= 1; reseal = 0; break;
		case N_DEFECTS:             break;
		}
		if (reseal)
			reseal_header(b);
		put(b, n);
		err.msg[0] = 0;
		st = open_verify(&err);
		CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg) && strstr(err.msg, path),
		      "defect %zu: status %d, message \"%s\", want \"%s\"", i, st, err.msg,
		      cases[i].msg);
	}

	/* Block defects: found by pack_verify_block / pack_verify, not by open. */
	static const struct { void (*ov)(uint8_t *); const char *msg; } blocks[] = {
		{ ov_first_trained, "token 0: first token of a segment is trained" },
		{ ov_seg_after_pad, "segment after padding"                      },
		{ ov_big_id,        "token 1: token id >= vocab_size"              },
		{ ov_pad_trained,   "padding is trained"                         },
		{ ov_seg_skip,      "segment ids do not go 1, 2, 3"              },
	};
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		write_file(3, 1, blocks[i].ov);
		st = open_verify(&err);
		CHECK(st == QT_EDATA && strstr(err.msg, blocks[i].msg) && strstr(err.msg, "block 1 "),
		      "block defect %zu: %d \"%s\"", i, st, err.msg);
	}
	write_file(3, -1, NULL);
	size_t n;
	uint8_t *b = slurp(&n);
	b[128 + 64 + 3] ^= 0x10;  /* a token id byte of block 1 */
	put(b, n);
	st = open_verify(&err);
	CHECK(st == QT_EDATA && strstr(err.msg, "block 1 (offset 192): checksum mismatch"),
	      "bad block checksum: %s", err.msg);
	write_file(3, -1, NULL);
	b = slurp(&n);
	uint8_t tmp[64];
	memcpy(tmp, b + 128, 64);
	memcpy(b + 128, b + 192, 64);
	memcpy(b + 192, tmp, 64);
	put(b, n);
	st = open_verify(&err);
	CHECK(st == QT_EDATA && strstr(err.msg, "payload checksum mismatch"),
	      "swapped blocks: %s", err.msg);

	CHECK(pack_open(&f, "/nonexistent/x.pack", &err) == QT_ENOINPUT, "missing file");
	CHECK(pack_open(&f, "-", &err) == QT_EUSAGE, "stdin refused");
	unlink(path);
	return test_main_end();
}
