/* qlora-tools: ISC license. */
/* Reader and writer of the .tok stream; see tok.h and tok(5). */
#include "formats/tok.h"

#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/le.h"

void tok_header_encode(const struct tok_header *h, uint8_t out[TOK_HEADER_SIZE])
{
	memset(out, 0, TOK_HEADER_SIZE);
	memcpy(out, h->magic, 8);
	le32_store(out + 8, h->version);
	le32_store(out + 12, h->header_size);
	le64_store(out + 16, h->flags);
	le64_store(out + 24, h->tokenizer_fingerprint);
	le32_store(out + 32, h->vocab_size);
	le32_store(out + 36, h->eos_id);
	le32_store(out + 40, h->pad_id);
}

void tok_header_decode(const uint8_t in[TOK_HEADER_SIZE], struct tok_header *h)
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
}

/* ---- writing ---- */

int tok_writer_open(struct tok_writer *w, FILE *fp, const char *name, const struct tok_header *h,
                    struct qt_err *err)
{
	memset(w, 0, sizeof *w);
	w->fp = fp;
	w->name = name;
	if (qt_xxh3_init(&w->hash) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	struct tok_header hh = *h;
	memcpy(hh.magic, TOK_MAGIC, 8);
	hh.version = TOK_VERSION;
	hh.header_size = TOK_HEADER_SIZE;
	uint8_t b[TOK_HEADER_SIZE];
	tok_header_encode(&hh, b);
	return qt_write(fp, b, sizeof b, name, err);
}

static size_t record_size(uint32_t n) { return 4 + (size_t)n * 4 + (((size_t)n + 3) & ~(size_t)3); }

int tok_writer_put(struct tok_writer *w, const uint32_t *ids, const uint8_t *mask, uint32_t n,
                   struct qt_err *err)
{
	if (n == 0 || n > TOK_MAX_RECORD_TOKENS)
		return qt_err_set(err, QT_ESOFTWARE, "%s: record of %u tokens is out of range", w->name, n);
	size_t sz = record_size(n);
	if (sz > w->cap) {
		uint8_t *nb = realloc(w->buf, sz);
		if (!nb)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		w->buf = nb;
		w->cap = sz;
	}
	uint8_t *p = w->buf;
	le32_store(p, n);
	for (uint32_t i = 0; i < n; i++)
		le32_store(p + 4 + 4 * (size_t)i, ids[i]);
	uint8_t *m = p + 4 + 4 * (size_t)n;
	for (uint32_t i = 0; i < n; i++)
		m[i] = mask[i] ? 1 : 0;
	memset(m + n, 0, sz - (4 + 4 * (size_t)n + n));
	qt_xxh3_update(&w->hash, p, sz);
	w->n_records++;
	w->n_tokens += n;
	return qt_write(w->fp, p, sz, w->name, err);
}

int tok_writer_finish(struct tok_writer *w, struct qt_err *err)
{
	uint8_t t[TOK_TRAILER_SIZE] = { 0 };
	le64_store(t + 8, w->n_records);
	le64_store(t + 16, w->n_tokens);
	le64_store(t + 24, qt_xxh3_digest(&w->hash));
	memcpy(t + 32, TOK_TRAILER_MAGIC, 8);
	int st = qt_write(w->fp, t, sizeof t, w->name, err);
	tok_writer_free(w);
	return st;
}

void tok_writer_free(struct tok_writer *w)
{
	qt_xxh3_free(&w->hash);
	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
}

/* ---- reading ---- */

/* Reads exactly n bytes; -1 with "truncated" message at EOF, or an I/O error. */
static int read_exact(struct tok_reader *r, void *p, size_t n, const char *what, struct qt_err *err)
{
	size_t got = fread(p, 1, n, r->fp);
	if (got != n) {
		if (ferror(r->fp))
			return qt_err_set(err, QT_EIO, "%s: read error:", r->name), -1;
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: truncated %s (%zu of %zu bytes)",
		                  r->name, (unsigned long long)(r->offset + got), what, got, n), -1;
	}
	r->offset += n;
	return 0;
}

static int reader_open(struct tok_reader *r, const char *path, struct qt_err *err);

/* Opens and checks the header; on any failure r is closed again (nothing is left open or
 * allocated: a multi-input tool that refuses one input leaks nothing). */
int tok_reader_open(struct tok_reader *r, const char *path, struct qt_err *err)
{
	int st = reader_open(r, path, err);
	if (st != QT_OK)
		tok_reader_close(r);
	return st;
}

static int reader_open(struct tok_reader *r, const char *path, struct qt_err *err)
{
	memset(r, 0, sizeof *r);
	int is_stdin = strcmp(path, "-") == 0;
	r->name = strdup(is_stdin ? "<stdin>" : path);
	r->fp = is_stdin ? stdin : fopen(path, "rb");
	if (!r->fp) {
		int st = qt_err_set(err, QT_ENOINPUT, "%s:", path);
		free(r->name);
		r->name = NULL;
		return st;
	}
	r->own_fp = !is_stdin;
	/* Large reads: the default 4 KiB stdio buffer costs one syscall per 4 KiB (pack reads
	 * hundreds of MB). Must precede the first read of the stream. */
	setvbuf(r->fp, NULL, _IOFBF, 1 << 20);
	if (qt_xxh3_init(&r->hash) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	uint8_t b[TOK_HEADER_SIZE];
	if (read_exact(r, b, sizeof b, "header", err) < 0)
		return err ? err->status : QT_EDATA;
	struct tok_header *h = &r->header;
	tok_header_decode(b, h);
	if (memcmp(h->magic, TOK_MAGIC, 8) != 0)
		return qt_err_set(err, QT_EDATA, "%s: offset 0: bad magic (found %02x %02x %02x %02x "
		                  "%02x %02x %02x %02x, expected \"%s\"): not a .tok stream", r->name,
		                  b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], TOK_MAGIC);
	if (h->version != TOK_VERSION)
		return qt_err_set(err, QT_EDATA, "%s: offset 8: unsupported version %u (this reader "
		                  "supports %u)", r->name, h->version, TOK_VERSION);
	if (h->header_size < TOK_HEADER_SIZE || h->header_size > (1u << 20))
		return qt_err_set(err, QT_EDATA, "%s: offset 12: header_size %u out of range", r->name,
		                  h->header_size);
	if (h->flags != 0)
		return qt_err_set(err, QT_EDATA, "%s: offset 16: unknown flags 0x%llx", r->name,
		                  (unsigned long long)h->flags);
	if (h->vocab_size == 0)
		return qt_err_set(err, QT_EDATA, "%s: offset 32: vocab_size is 0", r->name);
	/* A newer writer may have a longer header: skip what this reader does not know. */
	for (uint32_t skip = h->header_size - TOK_HEADER_SIZE; skip > 0;) {
		uint8_t tmp[256];
		uint32_t k = skip < sizeof tmp ? skip : (uint32_t)sizeof tmp;
		if (read_exact(r, tmp, k, "header", err) < 0)
			return err ? err->status : QT_EDATA;
		skip -= k;
	}
	return QT_OK;
}

static int read_trailer(struct tok_reader *r, const uint8_t first4[4], struct qt_err *err)
{
	uint64_t at = r->offset - 4;
	uint8_t t[TOK_TRAILER_SIZE];
	memcpy(t, first4, 4);
	if (read_exact(r, t + 4, TOK_TRAILER_SIZE - 4, "trailer", err) < 0)
		return -1;
	if (memcmp(t + 32, TOK_TRAILER_MAGIC, 8) != 0 || le32_load(t + 4) != 0)
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: bad trailer", r->name,
		                  (unsigned long long)at), -1;
	uint64_t n_rec = le64_load(t + 8), n_tok = le64_load(t + 16), sum = le64_load(t + 24);
	if (n_rec != r->n_records || n_tok != r->n_tokens)
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: trailer counts %llu records, %llu "
		                  "tokens; the stream holds %llu, %llu", r->name,
		                  (unsigned long long)at, (unsigned long long)n_rec,
		                  (unsigned long long)n_tok, (unsigned long long)r->n_records,
		                  (unsigned long long)r->n_tokens), -1;
	if (sum != qt_xxh3_digest(&r->hash))
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: checksum mismatch (records are "
		                  "corrupt)", r->name, (unsigned long long)at), -1;
	int c = fgetc(r->fp);
	if (c != EOF)
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: data after the trailer", r->name,
		                  (unsigned long long)r->offset), -1;
	r->done = 1;
	return 0;
}

int tok_reader_next(struct tok_reader *r, struct tok_record *rec, struct qt_err *err)
{
	if (r->done)
		return 0;
	uint8_t b4[4];
	uint64_t at = r->offset;
	if (read_exact(r, b4, 4, "record (missing trailer?)", err) < 0)
		return -1;
	uint32_t n = le32_load(b4);
	if (n == 0)
		return read_trailer(r, b4, err);
	if (n > TOK_MAX_RECORD_TOKENS)
		return qt_err_set(err, QT_EDATA, "%s: offset %llu: record length %u exceeds %u",
		                  r->name, (unsigned long long)at, n, TOK_MAX_RECORD_TOKENS), -1;
	size_t body = record_size(n) - 4;
	if (body > r->cap) {
		uint8_t *nb = realloc(r->mask, body);
		uint32_t *ni = realloc(r->ids, (size_t)n * 4);
		if (nb) r->mask = nb;
		if (ni) r->ids = ni;
		if (!nb || !ni)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory"), -1;
		r->cap = body;
	}
	uint8_t *raw = r->mask;
	if (read_exact(r, raw, body, "record", err) < 0)
		return -1;
	qt_xxh3_update(&r->hash, b4, 4);
	qt_xxh3_update(&r->hash, raw, body);
	for (uint32_t i = 0; i < n; i++) {
		r->ids[i] = le32_load(raw + 4 * (size_t)i);
		if (r->ids[i] >= r->header.vocab_size)
			return qt_err_set(err, QT_EDATA, "%s: offset %llu: token id %u >= vocab size %u",
			                  r->name, (unsigned long long)(at + 4 + 4 * (uint64_t)i),
			                  r->ids[i], r->header.vocab_size), -1;
	}
	/* The mask bytes follow the ids in the same buffer; move them to the front. */
	memmove(raw, raw + 4 * (size_t)n, n);
	for (uint32_t i = 0; i < n; i++)
		if (raw[i] > 1)
			return qt_err_set(err, QT_EDATA, "%s: offset %llu: mask byte %u is not 0 or 1",
			                  r->name, (unsigned long long)(at + 4 + 4 * (uint64_t)n + i),
			                  raw[i]), -1;
	r->n_records++;
	r->n_tokens += n;
	rec->n = n;
	rec->ids = r->ids;
	rec->mask = raw;
	return 1;
}

void tok_reader_close(struct tok_reader *r)
{
	if (r->own_fp && r->fp)
		fclose(r->fp);
	qt_xxh3_free(&r->hash);
	free(r->ids);
	free(r->mask);
	free(r->name);
	memset(r, 0, sizeof *r);
}
