/* qlora-tools: ISC license. */
/*
 * A tokenizer.json model of type "Unigram" (T5, mT5, XLM-R, ALBERT and the other
 * SentencePiece Unigram models transformers converts): {"type": "Unigram", "unk_id": N,
 * "vocab": [[piece, score], ...], "byte_fallback": bool}. Ids are the vocab's indices. It is
 * encoded by unigram.c as HF's Unigram::encode_optimized: every piece of the vocab can match
 * (HF builds its trie over all of them, control and unknown pieces included), scores summed
 * in double, an unknown character scoring min score - 10, unknown runs fused into one unk_id,
 * <0xHH> pieces for them with byte_fallback.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

int tk_unigram_load(struct tokenizer *t, json_t *m, const char *path, struct qt_err *err)
{
	json_t *vocab = json_object_get(m, "vocab"), *unk = json_object_get(m, "unk_id");
	json_t *bf = json_object_get(m, "byte_fallback");
	if (!json_is_array(vocab) || json_array_size(vocab) == 0)
		return qt_err_set(err, QT_EDATA, "%s: model.vocab: expected a non-empty array of "
		                  "[piece, score] pairs", path);
	size_t n = json_array_size(vocab);
	if (bf && !json_is_boolean(bf))
		return qt_err_set(err, QT_EDATA, "%s: model.byte_fallback: expected true or false",
		                  path);
	t->byte_fallback = json_is_true(bf);
	if (!json_is_integer(unk) || json_integer_value(unk) < 0 ||
	    (size_t)json_integer_value(unk) >= n)
		return qt_err_set(err, QT_EDATA, "%s: model.unk_id: expected the id of a piece of "
		                  "model.vocab (a Unigram model without one is not supported)", path);
	if (n >= UINT32_MAX / 2)
		return qt_err_set(err, QT_EDATA, "%s: model.vocab: too large", path);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(vocab, i), *s = json_array_get(e, 0),
		       *sc = json_array_get(e, 1);
		if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(s) ||
		    !json_is_number(sc) || !isfinite(json_number_value(sc)))
			return qt_err_set(err, QT_EDATA, "%s: model.vocab[%zu]: expected a [piece, "
			                  "score] pair (a string and a finite number)", path, i);
		if (json_string_length(s) == 0 || memchr(json_string_value(s), 0,
		                                         json_string_length(s)))
			return qt_err_set(err, QT_EDATA, "%s: model.vocab[%zu]: empty piece or a piece "
			                  "with a NUL", path, i);
		total += json_string_length(s) + 1;
	}
	t->blob = malloc(total);
	t->uni_score = malloc(n * sizeof *t->uni_score);
	t->spm_type = malloc(n);
	if (!t->blob || !t->uni_score || !t->spm_type ||
	    tk_strmap_init(&t->vocab, (uint32_t)n) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	char *p = t->blob;
	double min = INFINITY;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(vocab, i), *s = json_array_get(e, 0);
		size_t len = json_string_length(s);
		memcpy(p, json_string_value(s), len + 1);
		if (tk_strmap_get(&t->vocab, p, (uint32_t)len) != TK_NONE)
			return qt_err_set(err, QT_EDATA, "%s: model.vocab[%zu]: piece \"%s\" appears "
			                  "twice", path, i, p);
		if (tk_strmap_put(&t->vocab, p, (uint32_t)len, (uint32_t)i) != 0)
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		t->uni_score[i] = json_number_value(json_array_get(e, 1));
		if (t->uni_score[i] < min)
			min = t->uni_score[i];
		t->spm_type[i] = 1;
		if (len > t->spm_max_len)
			t->spm_max_len = (uint32_t)len;
		p += len + 1;
	}
	t->vocab_count = (uint32_t)n;
	if (tk_strmap_init(&t->uni_prefix, (uint32_t)n * 4) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++) {
		const char *s = t->vocab.str[i];
		uint32_t len = t->vocab.len[i];
		for (uint32_t k = 1; k <= len; k++)
			if ((k == len || ((unsigned char)s[k] & 0xC0) != 0x80) &&
			    tk_strmap_put(&t->uni_prefix, s, k, 1) != 0)
				return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	}
	t->uni_unk_score = min - 10.0;
	t->unk_id = (uint32_t)json_integer_value(unk);
	t->fuse_unk = 1;
	t->hf_unigram = 1;
	for (unsigned b = 0; b < 256; b++) {
		char u[8];
		snprintf(u, sizeof u, "<0x%02X>", b);
		t->fallback_id[b] = tk_strmap_get(&t->vocab, u, 6);
		t->byte_id[b] = TK_NONE;
	}
	return QT_OK;
}
