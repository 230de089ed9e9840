/* qlora-tools: ISC license. */
/* pack --info and pack --cat: human- and test-readable views of a verified .pack file. */
#include "jobs/pack_job.h"

#include <stdlib.h>
#include <string.h>

#include "formats/pack.h"

/* Segment statistics gathered by one scan over every block. */
struct seg_stats {
	uint64_t n_seg, n_tok, n_trained;
	uint64_t seg_min, seg_max, len_min, len_max;
};

static void close_run(struct seg_stats *ss, uint64_t run, uint64_t *nseg)
{
	(*nseg)++;
	ss->len_min = run < ss->len_min ? run : ss->len_min;
	ss->len_max = run > ss->len_max ? run : ss->len_max;
}

static void scan(const struct pack_file *f, struct seg_stats *ss)
{
	memset(ss, 0, sizeof *ss);
	ss->seg_min = ss->len_min = UINT64_MAX;
	for (uint64_t i = 0; i < f->h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(f, i, &b);
		uint64_t nseg = 0, run = 0;
		for (uint32_t t = 0; t < b.seq_len; t++) {
			ss->n_tok += b.seg[t] != 0;
			ss->n_trained += b.mask[t];
			if (t > 0 && b.seg[t] == b.seg[t - 1]) {
				run++;
				continue;
			}
			if (t > 0 && b.seg[t - 1] != 0)
				close_run(ss, run, &nseg);
			run = 1;
		}
		if (b.seg[b.seq_len - 1] != 0)
			close_run(ss, run, &nseg);
		ss->n_seg += nseg;
		ss->seg_min = nseg < ss->seg_min ? nseg : ss->seg_min;
		ss->seg_max = nseg > ss->seg_max ? nseg : ss->seg_max;
	}
	if (ss->seg_min == UINT64_MAX)
		ss->seg_min = ss->len_min = 0;
}

int packer_info(const char *path, FILE *out, struct qt_err *err)
{
	struct pack_file f;
	int st = pack_open(&f, path, err);
	if (st != QT_OK)
		return st;
	st = pack_verify(&f, err);
	struct seg_stats ss;
	const struct pack_header *h = &f.h;
	if (st == QT_OK) {
		scan(&f, &ss);
		if (ss.n_tok != h->n_tokens || ss.n_trained != h->n_tokens_trained)
			st = qt_err_set(err, QT_EDATA, "%s: offset 72: header counts %llu tokens, %llu "
			                "trained; the blocks hold %llu, %llu", path,
			                (unsigned long long)h->n_tokens,
			                (unsigned long long)h->n_tokens_trained,
			                (unsigned long long)ss.n_tok, (unsigned long long)ss.n_trained);
	}
	if (st != QT_OK) {
		pack_close(&f);
		return st;
	}
	double cap = (double)h->n_blocks * h->seq_len, nb = h->n_blocks ? (double)h->n_blocks : 1;
	fprintf(out, "file: %s\n", path);
	fprintf(out, "version: %u\nheader_size: %u\n", h->version, h->header_size);
	fprintf(out, "mode: %s\n", pack_mode_name(h->mode));
	fprintf(out, "flags: 0x%llx%s\n", (unsigned long long)h->flags,
	        h->flags & PACK_FLAG_CROSS_DOC ? " (cross-doc attention)" : "");
	fprintf(out, "seq_len: %u\nblock_size: %u\nblocks: %llu\n", h->seq_len, h->block_size,
	        (unsigned long long)h->n_blocks);
	fprintf(out, "shard: %u of %u, first block %llu\n", h->shard_index, h->n_shards,
	        (unsigned long long)h->block_first);
	fprintf(out, "samples: %llu\ntokens: %llu\ntokens_trained: %llu\npadding: %llu\n",
	        (unsigned long long)h->n_samples, (unsigned long long)h->n_tokens,
	        (unsigned long long)h->n_tokens_trained,
	        (unsigned long long)(h->n_blocks * h->seq_len - h->n_tokens));
	fprintf(out, "fill: %.4f\n", cap > 0 ? (double)h->n_tokens / cap : 0.0);
	fprintf(out, "tokenizer_fingerprint: %016llx\nvocab_size: %u\n",
	        (unsigned long long)h->tokenizer_fingerprint, h->vocab_size);
	if (h->eos_id == 0xFFFFFFFFu)
		fprintf(out, "eos_id: none\n");
	else
		fprintf(out, "eos_id: %u\n", h->eos_id);
	fprintf(out, "pad_id: %u\nseed: %llu\n", h->pad_id, (unsigned long long)h->seed);
	fprintf(out, "segments_per_block: min %llu, mean %.2f, max %llu\n",
	        (unsigned long long)ss.seg_min, (double)ss.n_seg / nb,
	        (unsigned long long)ss.seg_max);
	fprintf(out, "segment_length: min %llu, mean %.1f, max %llu\n",
	        (unsigned long long)ss.len_min,
	        ss.n_seg ? (double)ss.n_tok / (double)ss.n_seg : 0.0,
	        (unsigned long long)ss.len_max);
	fprintf(out, "checksums: ok (header, %llu blocks, payload)\n",
	        (unsigned long long)h->n_blocks);
	pack_close(&f);
	return QT_OK;
}

/* Appends the decimal digits of v at p; returns the new end. */
static char *put_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

int packer_cat(const char *path, FILE *out, struct qt_err *err)
{
	struct pack_file f;
	int st = pack_open(&f, path, err);
	if (st == QT_OK)
		st = pack_verify(&f, err);
	uint32_t T = f.h.seq_len;
	char *line = st == QT_OK ? malloc(64 + (size_t)T * 20) : NULL;
	if (st == QT_OK && !line)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t i = 0; st == QT_OK && i < f.h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(&f, i, &b);
		char *p = line;
		memcpy(p, "{\"ids\":[", 8), p += 8;
		for (uint32_t t = 0; t < T; t++)
			*(p = put_u32(p, b.ids[t])) = ',', p++;
		memcpy(p - 1, "],\"mask\":[", 10), p += 9;
		for (uint32_t t = 0; t < T; t++)
			*(p = put_u32(p, b.mask[t])) = ',', p++;
		memcpy(p - 1, "],\"seg\":[", 9), p += 8;
		for (uint32_t t = 0; t < T; t++)
			*(p = put_u32(p, b.seg[t])) = ',', p++;
		memcpy(p - 1, "]}\n", 3), p += 2;
		if (fwrite(line, 1, (size_t)(p - line), out) != (size_t)(p - line))
			st = qt_err_set(err, QT_EIO, "stdout: write error:");
	}
	free(line);
	if (f.name)
		pack_close(&f);
	return st;
}
