/* qlora-tools: ISC license. */
/*
 * A SentencePiece vocabulary (tokenizer.ggml.model "llama": tokens, scores, token types, the
 * <0xHH> byte pieces) from an HF directory's tokenizer.model, as convert_hf_to_gguf.py writes
 * it: _create_vocab_sentencepiece / _set_vocab_sentencepiece for llama (Llama-2, Mistral) and
 * Gemma, Gemma-2's additions, Phi-3's own set_vocab. The model is read by the tokenizer
 * engine's tokenizer.model reader (formats/tokenizer/spm_model.c); see gguf_vocab.h.
 */
#include "formats/gguf_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "formats/tokenizer.h"

struct spm_vocab {
	char   **tok;
	float   *score;
	int32_t *type;
	int64_t  n;
};

static void spm_vocab_free(struct spm_vocab *v)
{
	for (int64_t i = 0; v->tok && i < v->n; i++)
		free(v->tok[i]);
	free(v->tok);
	free(v->score);
	free(v->type);
}

static int set_tok(struct spm_vocab *v, int64_t i, const char *s, size_t len, float score,
                   int type, struct qt_err *err)
{
	char *d = malloc(len + 1);
	if (!d)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	memcpy(d, s, len);
	d[len] = '\0';
	free(v->tok[i]);
	v->tok[i] = d;
	v->score[i] = score;
	v->type[i] = type;
	return QT_OK;
}

/* The pieces of the model, then added_tokens.json (user-defined). */
static int from_model(struct spm_vocab *v, const struct tokenizer *t, const char *dir,
                      struct qt_err *err)
{
	struct tokenizer_spm info;
	tokenizer_spm_get(t, &info);
	for (uint32_t i = 0; i < info.n_pieces && i < v->n; i++) {
		size_t len;
		float score;
		int type, st;
		const char *s = tokenizer_spm_piece(t, i, &len, &score, &type);
		/* sentencepiece's IsUnknown, IsControl, IsUnused, IsByte; USER_DEFINED stays NORMAL */
		if (type == GGUF_TT_USER)
			type = GGUF_TT_NORMAL;
		if ((st = set_tok(v, i, s, len, score, type, err)))
			return st;
	}
	int st;
	json_t *at = gguf_vocab_json(dir, "added_tokens.json", 0, &st, err);
	const char *k;
	json_t *id;
	json_object_foreach(at, k, id) {
		if (st || !json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) >= v->n)
			continue;
		st = set_tok(v, json_integer_value(id), k, strlen(k), -1000.0f, GGUF_TT_USER, err);
	}
	json_decref(at);
	return st;
}

/* One added token (tokenizer_config's added_tokens_decoder or tokenizer.json's added_tokens)
 * over the model's piece: phi3's rule (CONTROL if special, else USER_DEFINED) or the generic
 * one (also CONTROL when it looks special; a user-defined token's U+2581 become spaces). */
static int added_token(struct spm_vocab *v, int64_t id, json_t *e, int phi3, const char *path,
                       struct qt_err *err)
{
	json_t *content = json_object_get(e, "content");
	if (!json_is_string(content))
		return qt_err_set(err, QT_EDATA, "%s: added token %lld: no content string", path,
		                  (long long)id);
	if (id < 0 || id >= v->n) {
		if (phi3) /* Phi3MiniModel indexes its lists with it and fails */
			return qt_err_set(err, QT_EDATA, "%s: added token %lld \"%s\": outside the "
			                  "config's vocab_size %lld", path, (long long)id,
			                  json_string_value(content), (long long)v->n);
		return QT_OK; /* _create_vocab_sentencepiece: ignored with a warning */
	}
	const char *s = json_string_value(content);
	int special = json_is_true(json_object_get(e, "special"));
	int type = special || (!phi3 && gguf_vocab_looks_special(s)) ? GGUF_TT_CONTROL : GGUF_TT_USER;
	int st = set_tok(v, id, s, json_string_length(content), -1000.0f, type, err);
	if (!st && type == GGUF_TT_USER && !phi3)
		gguf_vocab_unescape_space(v->tok[id]);
	return st;
}

int gguf_vocab_spm_put(struct gguf_writer *w, const char *dir, const struct hf_config *c,
                       const char *arch, json_t *tc, struct gguf_special *sp, struct qt_err *err)
{
	char *path = qt_path_join(dir, "tokenizer.model");
	struct tokenizer *t = NULL;
	struct spm_vocab v = { 0 };
	json_t *tok = NULL;
	int phi3 = strcmp(arch, "phi3") == 0;
	int st = path ? tokenizer_load(path, &t, err) : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (st)
		goto out;
	struct tokenizer_spm info;
	tokenizer_spm_get(t, &info);
	/* llama.cpp's "llama" vocabulary merges the pair whose piece scores highest: a
	 * SentencePiece BPE model; a Unigram model would tokenize otherwise there */
	if (info.model_type != 2) {
		st = qt_err_set(err, QT_EDATA, "%s: trainer_spec.model_type: a SentencePiece %s model; "
		                "llama.cpp's llama vocabulary tokenizes as SentencePiece BPE, so "
		                "export-gguf writes BPE models only", path,
		                info.model_type == 1 ? "Unigram" : "tokenizer.json");
		goto out;
	}
	if (info.has_charsmap) {
		st = qt_err_set(err, QT_EDATA, "%s: normalizer_spec.precompiled_charsmap: llama.cpp's "
		                "llama vocabulary has no normalization rules (identity only)", path);
		goto out;
	}
	if (phi3 && info.n_pieces > (uint64_t)c->vocab_size) { /* Phi3MiniModel fails on it */
		st = qt_err_set(err, QT_EDATA, "%s: %u pieces, more than config.json's vocab_size %lld",
		                path, info.n_pieces, (long long)c->vocab_size);
		goto out;
	}
	v.n = c->vocab_size;
	v.tok = calloc((size_t)v.n + 1, sizeof *v.tok);
	v.score = malloc(((size_t)v.n + 1) * sizeof *v.score);
	v.type = malloc(((size_t)v.n + 1) * sizeof *v.type);
	if (!v.tok || !v.score || !v.type) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	for (int64_t i = 0; i < v.n && !st; i++) {
		char pad[32];
		int n = snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
		st = set_tok(&v, i, pad, (size_t)n, -10000.0f, GGUF_TT_UNUSED, err);
	}
	if (st || (st = from_model(&v, t, dir, err)))
		goto out;
	if ((tok = gguf_vocab_json(dir, "tokenizer.json", 0, &st, err), st))
		goto out;
	char *tcp = qt_path_join(dir, "tokenizer_config.json");
	const char *k;
	json_t *e;
	json_object_foreach(json_object_get(tc, "added_tokens_decoder"), k, e) {
		char *end;
		long long id = strtoll(k, &end, 10);
		if (!st && (*end || end == k))
			st = qt_err_set(err, QT_EDATA, "%s: added_tokens_decoder: \"%s\" is not an id", tcp, k);
		if (!st)
			st = added_token(&v, id, e, phi3, tcp, err);
	}
	free(tcp);
	if (phi3 && !st) { /* Phi3MiniModel also reads tokenizer.json's added_tokens */
		char *tp = qt_path_join(dir, "tokenizer.json");
		size_t i;
		json_array_foreach(json_object_get(tok, "added_tokens"), i, e) {
			json_t *id = json_object_get(e, "id");
			if (!st)
				st = json_is_integer(id) ? added_token(&v, json_integer_value(id), e, 1, tp, err)
				     : qt_err_set(err, QT_EDATA, "%s: added_tokens[%zu]: no id", tp, i);
		}
		free(tp);
	}
	if (st || (st = gguf_special_load(sp, dir, tok, tc, c, v.n, err)))
		goto out;
	if ((st = gguf_writer_str(w, "tokenizer.ggml.model", "llama", 5, err)) ||
	    (st = gguf_writer_str(w, "tokenizer.ggml.pre", "default", 7, err)) ||
	    (st = gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.tok, NULL,
	                              (uint64_t)v.n, err)) ||
	    (st = gguf_writer_arr_f32(w, "tokenizer.ggml.scores", v.score, (uint64_t)v.n, err)))
		goto out;
	st = gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", v.type, (uint64_t)v.n, err);
out:
	spm_vocab_free(&v);
	json_decref(tok);
	if (t)
		tokenizer_free(t);
	free(path);
	return st;
}
