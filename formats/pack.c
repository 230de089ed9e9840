/* qlora-tools: ISC license. */
/* Reader, writer and verifier of the .pack file; see pack.h and pack(5). No packing here. */
#include "formats/pack.h"

#include <stdlib.h>
#include <string.h>

#include "common/le.h"

const char *pack_mode_name(uint32_t mode)
{
	switch (mode) {
	case PACK_MODE_PACK:   return "pack";
	case PACK_MODE_PAD:    return "pad";
	case PACK_MODE_CONCAT: return "concat";
	}
	return "?";
}

void pack_header_encode(const struct pack_header *h, uint8_t out[PACK_HEADER_SIZE])
{
	memset(out, 0, PACK_HEADER_SIZE);
	memcpy(out, h->magic, 8);
	le32_store(out + 8, h->version);
	le32_store(out + 12, h->header_size);
	le64_store(out + 16, h->flags);
	le64_store(out + 24, h->tokenizer_fingerprint);
	le32_store(out + 32, h->vocab_size);
	le32_store(out + 36, h->eos_id);
	le32_store(out + 40, h->pad_id);
	le32_store(out + 44, h->seq_len);
	le32_store(out + 48, h->block_size);
	le32_store(out + 52, h->mode);
	le64_store(out + 56, h->n_blocks);
	le64_store(out + 64, h->n_samples);
	le64_store(out + 72, h->n_tokens);
	le64_store(out + 80, h->n_tokens_trained);
	le32_store(out + 88, h->shard_index);
	le32_store(out + 92, h->n_shards);
	le64_store(out + 96, h->block_first);
	le64_store(out + 104, h->seed);
	le64_store(out + 112, h->payload_xxh3);
	le64_store(out + 120, h->header_xxh3);
}

void pack_header_decode(const uint8_t in[PACK_HEADER_SIZE], struct pack_header *h)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, in, 8);
	h->version = le32_load(in + 8);
	h->header_size = le32_load(in + 12);
	h->flags = le64_load(in + 16);
	h->tokenizer_fingerprint = le64_load(in + 24);
	h->vocab_size = le32_load(in + 32);
	h->eos_id = le32_load(in + 36);
	h->pad_id = le32_load(in + 40);
	h->seq_len = le32_load(in + 44);
	h->block_size = le32_load(in + 48);
	h->mode = le32_load(in + 52);
	h->n_blocks = le64_load(in + 56);
	h->n_samples = le64_load(in + 64);
	h->n_tokens = le64_load(in + 72);
	h->n_tokens_trained = le64_load(in + 80);
	h->shard_index = le32_load(in + 88);
	h->n_shards = le32_load(in + 92);
	h->block_first = le64_load(in + 96);
	h->seed = le64_load(in + 104);
	h->payload_xxh3 = le64_load(in + 112);
	h->header_xxh3 = le64_load(in + 120);
}

uint64_t pack_header_checksum(const uint8_t *hdr, uint32_t header_size)
{
	static const uint8_t zero[8];
	struct qt_xxh3_state s;
	if (qt_xxh3_init(&s) != QT_OK)
		return 0;
	qt_xxh3_update(&s, hdr, 120);
	qt_xxh3_update(&s, zero, 8);
	qt_xxh3_update(&s, hdr + 128, header_size - 128);
	uint64_t v = qt_xxh3_digest(&s);
	qt_xxh3_free(&s);
	return v;
}

void pack_block_view(struct pack_block *b, void *buf, uint32_t seq_len)
{
	uint8_t *p = buf;
	b->seq_len = seq_len;
	b->ids = (uint32_t *)p;
	b->seg = (uint16_t *)(p + 4 * (size_t)seq_len);
	b->mask = p + 6 * (size_t)seq_len;
}

uint64_t pack_block_seal(void *buf, uint32_t seq_len)
{
	uint8_t *p = buf;
	size_t bs = pack_block_size(seq_len), used = 7 * (size_t)seq_len;
	memset(p + used, 0, bs - 8 - used);
	uint64_t v = qt_xxh3(p, bs - 8);
	le64_store(p + bs - 8, v);
	return v;
}

/* ---- writing ---- */

int pack_writer_open(struct pack_writer *w, FILE *fp, const char *name,
                     const struct pack_header *h, struct qt_err *err)
{
	memset(w, 0, sizeof *w);
	w->fp = fp;
	w->name = name;
	w->h = *h;
	memcpy(w->h.magic, PACK_MAGIC, 8);
	w->h.version = PACK_VERSION;
	w->h.header_size = PACK_HEADER_SIZE;
	w->h.block_size = pack_block_size(h->seq_len);
	if (h->seq_len == 0 || h->seq_len > PACK_MAX_SEQ_LEN)
		return qt_err_set(err, QT_ESOFTWARE, "%s: seq_len %u out of range", name, h->seq_len);
	if (qt_xxh3_init(&w->payload) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	uint8_t b[PACK_HEADER_SIZE];
	pack_header_encode(&w->h, b);
	w->h.header_xxh3 = pack_header_checksum(b, PACK_HEADER_SIZE);
	le64_store(b + 120, w->h.header_xxh3);
	return qt_write(fp, b, sizeof b, name, err);
}

int pack_writer_put(struct pack_writer *w, const void *block, struct qt_err *err)
{
	const uint8_t *p = block;
	qt_xxh3_update(&w->payload, p + w->h.block_size - 8, 8);
	w->n_put++;
	return qt_write(w->fp, p, w->h.block_size, w->name, err);
}

int pack_writer_finish(struct pack_writer *w, struct qt_err *err)
{
	int st = QT_OK;
	if (w->n_put != w->h.n_blocks)
		st = qt_err_set(err, QT_ESOFTWARE, "%s: wrote %llu blocks, header says %llu", w->name,
		                (unsigned long long)w->n_put, (unsigned long long)w->h.n_blocks);
	else if (qt_xxh3_digest(&w->payload) != w->h.payload_xxh3)
		st = qt_err_set(err, QT_ESOFTWARE, "%s: blocks do not match the header's payload "
		                "checksum", w->name);
	pack_writer_free(w);
	return st;
}

void pack_writer_free(struct pack_writer *w) { qt_xxh3_free(&w->payload); }

/* ---- reading ---- */

static int bad(struct pack_file *f, struct qt_err *err, unsigned off, const char *what,
               unsigned long long v)
{
	return qt_err_set(err, QT_EDATA, "%s: offset %u: %s (%llu)", f->name, off, what, v);
}

static int check_header(struct pack_file *f, struct qt_err *err)
{
	const uint8_t *d = f->map.data;
	size_t size = f->map.size;
	struct pack_header *h = &f->h;
	if (size < PACK_HEADER_SIZE)
		return qt_err_set(err, QT_EDATA, "%s: offset 0: file of %zu bytes is too short for "
		                  "a %u-byte .pack header", f->name, size, PACK_HEADER_SIZE);
	pack_header_decode(d, h);
	if (memcmp(h->magic, PACK_MAGIC, 8) != 0)
		return qt_err_set(err, QT_EDATA, "%s: offset 0: bad magic (found %02x %02x %02x %02x "
		                  "%02x %02x %02x %02x, expected \"%s\"): not a .pack file", f->name,
		                  d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], PACK_MAGIC);
	if (h->version != PACK_VERSION)
		return qt_err_set(err, QT_EDATA, "%s: offset 8: unsupported version %u (this reader "
		                  "supports %u)", f->name, h->version, PACK_VERSION);
	if (h->header_size < PACK_HEADER_SIZE || h->header_size > PACK_MAX_HEADER ||
	    h->header_size > size)
		return bad(f, err, 12, "header_size out of range", h->header_size);
	if (h->flags & ~(uint64_t)PACK_FLAGS_KNOWN)
		return qt_err_set(err, QT_EDATA, "%s: offset 16: unknown flags 0x%llx", f->name,
		                  (unsigned long long)(h->flags & ~(uint64_t)PACK_FLAGS_KNOWN));
	if (h->vocab_size == 0)
		return bad(f, err, 32, "vocab_size is 0", 0);
	if (h->pad_id >= h->vocab_size)
		return bad(f, err, 40, "pad_id is not below vocab_size", h->pad_id);
	if (h->seq_len == 0 || h->seq_len > PACK_MAX_SEQ_LEN)
		return bad(f, err, 44, "seq_len out of range 1..65535", h->seq_len);
	if (h->block_size != pack_block_size(h->seq_len))
		return bad(f, err, 48, "block_size does not match seq_len", h->block_size);
	if (h->mode < PACK_MODE_PACK || h->mode > PACK_MODE_CONCAT)
		return bad(f, err, 52, "unknown mode", h->mode);
	if ((h->flags & PACK_FLAG_CROSS_DOC) && h->mode != PACK_MODE_CONCAT)
		return bad(f, err, 16, "cross-doc flag outside concat mode", h->flags);
	/* Counts against the file size, overflow-safe. */
	uint64_t room = (uint64_t)(size - h->header_size) / h->block_size;
	if (h->n_blocks > room)
		return qt_err_set(err, QT_EDATA, "%s: offset 56: %llu blocks of %u bytes need %llu "
		                  "bytes; the file has %zu (truncated?)", f->name,
		                  (unsigned long long)h->n_blocks, h->block_size,
		                  (unsigned long long)h->header_size +
		                  (unsigned long long)h->n_blocks * h->block_size, size);
	if (h->header_size + h->n_blocks * h->block_size != size)
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: %llu bytes after the last block",
		                  f->name, (unsigned long long)(h->header_size +
		                  h->n_blocks * h->block_size), (unsigned long long)(size -
		                  h->header_size - h->n_blocks * h->block_size));
	if (h->n_tokens > h->n_blocks * h->seq_len || h->n_tokens_trained > h->n_tokens ||
	    h->n_samples > h->n_tokens)
		return bad(f, err, 64, "statistics exceed the block count", h->n_tokens);
	if (h->n_shards == 0 || h->shard_index >= h->n_shards)
		return bad(f, err, 88, "shard_index not below n_shards", h->shard_index);
	if (h->header_size % PACK_ALIGN != 0)
		return bad(f, err, 12, "header_size is not a multiple of 64", h->header_size);
	if (pack_header_checksum(d, h->header_size) != h->header_xxh3)
		return qt_err_set(err, QT_EDATA, "%s: offset 120: header checksum mismatch (header "
		                  "is corrupt)", f->name);
	return QT_OK;
}

int pack_open(struct pack_file *f, const char *path, struct qt_err *err)
{
	memset(f, 0, sizeof *f);
	if (strcmp(path, "-") == 0)
		return qt_err_set(err, QT_EUSAGE, "-: a .pack file must be a regular file (it is "
		                  "memory-mapped)");
	int st = qt_map_file(path, &f->map, err);
	if (st != QT_OK)
		return st;
	f->name = strdup(path);
	if (!f->name) {
		pack_close(f);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	st = check_header(f, err);
	if (st != QT_OK) {
		pack_close(f);
		return st;
	}
	f->blocks = f->map.data + f->h.header_size;
	return QT_OK;
}

void pack_get_block(const struct pack_file *f, uint64_t i, struct pack_block *b)
{
	pack_block_view(b, (void *)(f->blocks + i * f->h.block_size), f->h.seq_len);
}

int pack_verify_block(const struct pack_file *f, uint64_t i, struct qt_err *err)
{
	const struct pack_header *h = &f->h;
	const uint8_t *p = f->blocks + i * h->block_size;
	unsigned long long off = h->header_size + i * h->block_size;
	if (i >= h->n_blocks)
		return qt_err_set(err, QT_ESOFTWARE, "%s: block %llu out of range", f->name,
		                  (unsigned long long)i);
	if (qt_xxh3(p, h->block_size - 8) != le64_load(p + h->block_size - 8))
		return qt_err_set(err, QT_EDATA, "%s: block %llu (offset %llu): checksum mismatch "
		                  "(block is corrupt)", f->name, (unsigned long long)i, off);
	struct pack_block b;
	pack_get_block(f, i, &b);
	uint32_t prev = 0, next = 1;
	int in_pad = 0;
	const char *what = NULL;
	uint32_t t;
	for (t = 0; t < h->seq_len && !what; t++) {
		uint32_t s = b.seg[t];
		int start = t == 0 || s != prev;
		if (b.ids[t] >= h->vocab_size)
			what = "token id >= vocab_size";
		else if (b.mask[t] > 1)
			what = "mask byte is not 0 or 1";
		else if (s == 0 && b.mask[t])
			what = "padding is trained (mask 1 on segment 0)";
		else if (s != 0 && in_pad)
			what = "segment after padding";
		else if (s != 0 && start && s != next++)
			what = "segment ids do not go 1, 2, 3, ...";
		else if (start && b.mask[t])
			what = "first token of a segment is trained";
		in_pad |= s == 0;
		prev = s;
	}
	if (what)
		return qt_err_set(err, QT_EDATA, "%s: block %llu (offset %llu): token %u: %s", f->name,
		                  (unsigned long long)i, off, t - 1, what);
	return QT_OK;
}

int pack_verify(const struct pack_file *f, struct qt_err *err)
{
	struct qt_xxh3_state s;
	if (qt_xxh3_init(&s) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t i = 0; i < f->h.n_blocks; i++) {
		int st = pack_verify_block(f, i, err);
		if (st != QT_OK) {
			qt_xxh3_free(&s);
			return st;
		}
		qt_xxh3_update(&s, f->blocks + (i + 1) * f->h.block_size - 8, 8);
	}
	uint64_t v = qt_xxh3_digest(&s);
	qt_xxh3_free(&s);
	if (v != f->h.payload_xxh3)
		return qt_err_set(err, QT_EDATA, "%s: offset 112: payload checksum mismatch (blocks "
		                  "missing, reordered or replaced)", f->name);
	return QT_OK;
}

void pack_close(struct pack_file *f)
{
	qt_unmap(&f->map);
	free(f->name);
	memset(f, 0, sizeof *f);
}

int pack_slice_init(struct pack_slice *s, uint64_t n_blocks, uint32_t rank, uint32_t world,
                    struct qt_err *err)
{
	memset(s, 0, sizeof *s);
	if (world == 0 || rank >= world)
		return qt_err_set(err, QT_EUSAGE, "rank %u is not below world size %u", rank, world);
	if (n_blocks < world)
		return qt_err_set(err, QT_EDATA, "%llu blocks cannot feed %u ranks",
		                  (unsigned long long)n_blocks, world);
	s->rank = rank;
	s->world = world;
	s->n = n_blocks / world;
	return QT_OK;
}
