/* qlora-tools: ISC license. */
/* tok_cat_run: see jobs/tok_cat.h. */
#include "jobs/tok_cat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/io.h"
#include "formats/tok.h"
#include "formats/tokenizer.h"

/* Marks around a masked (not trained) span in text output: U+00AB and U+00BB. */
#define MASK_OPEN  "\xc2\xab"
#define MASK_CLOSE "\xc2\xbb"

static void print_json(const struct tok_record *rec)
{
	fputs("{\"ids\":[", stdout);
	for (uint32_t i = 0; i < rec->n; i++)
		printf(i ? ",%" PRIu32 : "%" PRIu32, rec->ids[i]);
	fputs("],\"mask\":[", stdout);
	for (uint32_t i = 0; i < rec->n; i++) {
		if (i)
			putchar(',');
		putchar('0' + rec->mask[i]);
	}
	fputs("]}\n", stdout);
}

static int print_text(const struct tokenizer *tk, const struct tok_record *rec,
                      struct qt_err *err)
{
	for (uint32_t i = 0; i < rec->n;) {
		uint32_t j = i;
		while (j < rec->n && rec->mask[j] == rec->mask[i])
			j++;
		char *s;
		size_t len;
		if (tokenizer_decode(tk, rec->ids + i, j - i, 0, &s, &len, err) != QT_OK)
			return err->status;
		if (!rec->mask[i])
			fputs(MASK_OPEN, stdout);
		fwrite(s, 1, len, stdout);
		if (!rec->mask[i])
			fputs(MASK_CLOSE, stdout);
		free(s);
		i = j;
	}
	putchar('\n');
	return QT_OK;
}

static void print_id(const char *key, uint32_t id)
{
	if (id == TOK_ID_NONE)
		printf("%s: none\n", key);
	else
		printf("%s: %" PRIu32 "\n", key, id);
}

static void print_info(const struct tok_reader *r, uint64_t trained)
{
	const struct tok_header *h = &r->header;
	printf("format: .tok version %" PRIu32 "\n", h->version);
	printf("header_size: %" PRIu32 "\n", h->header_size);
	printf("flags: %" PRIu64 "\n", h->flags);
	printf("tokenizer_fingerprint: %016" PRIx64 "\n", h->tokenizer_fingerprint);
	printf("vocab_size: %" PRIu32 "\n", h->vocab_size);
	print_id("eos_id", h->eos_id);
	print_id("pad_id", h->pad_id);
	printf("records: %" PRIu64 "\n", r->n_records);
	printf("tokens: %" PRIu64 "\n", r->n_tokens);
	printf("trained_tokens: %" PRIu64 "\n", trained);
	printf("trailer: ok (counts and XXH3-64 checksum match)\n");
}

/* Reads every record of an open stream and prints it as mode says. */
static int print_stream(struct tok_reader *r, const struct tokenizer *tk, enum tok_cat_mode mode,
                        struct qt_err *err)
{
	struct tok_record rec;
	uint64_t trained = 0;
	int rc;
	while ((rc = tok_reader_next(r, &rec, err)) == 1) {
		if (mode == TOK_CAT_INFO)
			for (uint32_t i = 0; i < rec.n; i++)
				trained += rec.mask[i];
		else if (mode == TOK_CAT_TEXT) {
			if (print_text(tk, &rec, err) != QT_OK)
				return err->status;
		} else
			print_json(&rec);
	}
	if (rc < 0) {
		fflush(stdout);
		return err->status;
	}
	if (mode == TOK_CAT_INFO)
		print_info(r, trained);
	return QT_OK;
}

int tok_cat_run(const char *path, const char *tokenizer, enum tok_cat_mode mode,
                struct qt_err *err)
{
	struct tokenizer *tk = NULL;
	char *tk_path = NULL;
	if (tokenizer && !(tk_path = tokenizer_path_in_dir(tokenizer)))  /* -t DIR */
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (tk_path && tokenizer_load(tk_path, &tk, err) != QT_OK) {
		free(tk_path);
		return err->status;
	}
	struct tok_reader r;
	int rc = tok_reader_open(&r, path, err);
	if (rc == QT_OK) {
		if (tk && tokenizer_fingerprint(tk) != r.header.tokenizer_fingerprint)
			rc = qt_err_set(err, QT_EDATA, "%s: the stream was made with another tokenizer "
			                "(fingerprint %016" PRIx64 ", %s has %016" PRIx64 ")", r.name,
			                r.header.tokenizer_fingerprint, tk_path, tokenizer_fingerprint(tk));
		else
			rc = print_stream(&r, tk, mode, err);
		tok_reader_close(&r);
	}
	if (tk)
		tokenizer_free(tk);
	free(tk_path);
	return rc;
}
