/* qlora-tools: ISC license. */
/*
 * GGUF tokenizer metadata (tokenizer.ggml.*, tokenizer.chat_template) from an HF model
 * directory (reference.md 3.8); see gguf_tokenizer.h: which vocabulary convert_hf_to_gguf.py
 * writes for the architecture, the byte-level BPE one (_set_vocab_gpt2, GLM's get_vocab_base)
 * here, the SentencePiece one in gguf_vocab_spm.c, SpecialVocab in gguf_vocab_special.c. The
 * reverse direction is gguf_tokenizer.c.
 */
#include "formats/gguf_tokenizer.h"
#include "formats/gguf_vocab.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"

enum { TT_NORMAL = GGUF_TT_NORMAL, TT_CONTROL = GGUF_TT_CONTROL, TT_USER = GGUF_TT_USER,
       TT_UNUSED = GGUF_TT_UNUSED };

static int is_bytelevel(json_t *p, int use_regex)
{
	return json_is_object(p) && json_is_string(json_object_get(p, "type")) &&
	       strcmp(json_string_value(json_object_get(p, "type")), "ByteLevel") == 0 &&
	       json_is_true(json_object_get(p, "use_regex")) == use_regex;
}

static const char *type_of(json_t *p)
{
	json_t *t = json_object_get(p, "type");
	return json_is_string(t) ? json_string_value(t) : "";
}

static int is_split(json_t *p, const char *re)
{
	json_t *pat = json_object_get(json_object_get(p, "pattern"), "Regex");
	json_t *beh = json_object_get(p, "behavior");
	return strcmp(type_of(p), "Split") == 0 && json_is_string(pat) &&
	       strcmp(json_string_value(pat), re) == 0 && json_is_string(beh) &&
	       strcmp(json_string_value(beh), "Isolated") == 0 &&
	       !json_is_true(json_object_get(p, "invert"));
}

/* llama.cpp's tokenizer.ggml.pre for the pre-tokenizer (and normalizer) of tokenizer.json: the
 * inverse of gguf_tokenizer.c's table. NULL when none fits. */
static const char *pre_name(json_t *root, int glm)
{
	int ignore_merges = json_is_true(json_object_get(json_object_get(root, "model"),
	                                                 "ignore_merges"));
	json_t *pt = json_object_get(root, "pre_tokenizer"), *nm = json_object_get(root, "normalizer");
	int nfc = json_is_object(nm) && strcmp(type_of(nm), "NFC") == 0;
	if (!json_is_null(nm) && nm && !nfc)
		return NULL;
	if (is_bytelevel(pt, 1))
		return nfc ? NULL : "gpt-2";
	json_t *seq = json_object_get(pt, "pretokenizers");
	if (strcmp(type_of(pt), "Sequence") != 0 || json_array_size(seq) != 2)
		return NULL;
	json_t *a = json_array_get(seq, 0), *b = json_array_get(seq, 1);
	if (!nfc && strcmp(type_of(a), "Digits") == 0 &&
	    json_is_true(json_object_get(a, "individual_digits")) && is_bytelevel(b, 1))
		return "smollm";
	/* the Llama-3 split: llama.cpp ignores merges for llama-bpe and glm4 (a word in the
	 * vocabulary is one token), not for smaug-bpe and chatglm-bpe (same regex) */
	if (!nfc && is_split(a, GGUF_RE_LLAMA3) && is_bytelevel(b, 0))
		return glm ? (ignore_merges ? "glm4" : "chatglm-bpe")
		           : (ignore_merges ? "llama-bpe" : "smaug-bpe");
	if (nfc && is_split(a, GGUF_RE_QWEN2) && is_bytelevel(b, 0))
		return "qwen2";
	return NULL;
}

/* A merge as gguf-py writes it: "a b" with a space inside a part as U+0120. */
static char *merge_str(json_t *m)
{
	if (json_is_string(m))
		return strdup(json_string_value(m));
	if (!json_is_array(m) || json_array_size(m) != 2 || !json_is_string(json_array_get(m, 0)) ||
	    !json_is_string(json_array_get(m, 1)))
		return NULL;
	const char *a = json_string_value(json_array_get(m, 0));
	const char *b = json_string_value(json_array_get(m, 1));
	char *s = malloc(2 * (strlen(a) + strlen(b)) + 2), *o = s;
	if (!s)
		return NULL;
	for (int k = 0; k < 2; k++) {
		for (const char *p = k ? b : a; *p; p++) {
			if (*p == ' ') {
				*o++ = (char)0xC4; /* U+0120 */
				*o++ = (char)0xA0;
			} else {
				*o++ = *p;
			}
		}
		if (!k)
			*o++ = ' ';
	}
	*o = '\0';
	return s;
}

struct vocab {
	char  **tok;
	int32_t *type;
	char  **merges;
	size_t  n_merges;
	int64_t n;
};

static void vocab_free(struct vocab *v)
{
	for (int64_t i = 0; v->tok && i < v->n; i++)
		free(v->tok[i]);
	for (size_t i = 0; i < v->n_merges; i++)
		free(v->merges[i]);
	free(v->tok);
	free(v->type);
	free(v->merges);
}

static int build_vocab(json_t *root, const char *path, int64_t n, struct vocab *v,
                       struct qt_err *err)
{
	json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
	json_t *added = json_object_get(root, "added_tokens");
	v->n = n;
	v->tok = calloc((size_t)n + 1, sizeof *v->tok);
	v->type = calloc((size_t)n + 1, sizeof *v->type);
	if (!v->tok || !v->type)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	const char *k;
	json_t *id;
	json_object_foreach(vocab, k, id) {
		json_int_t i = json_integer_value(id);
		if (!json_is_integer(id) || i < 0 || i >= n)
			return qt_err_set(err, QT_EDATA, "%s: model.vocab: token id %lld is outside the "
			                  "config's vocab_size %lld", path, (long long)i, (long long)n);
		if (!v->tok[i] && !(v->tok[i] = strdup(k)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		v->type[i] = TT_NORMAL;
	}
	size_t ai;
	json_t *a;
	json_array_foreach(added, ai, a) {
		json_t *jid = json_object_get(a, "id");
		const char *c = json_string_value(json_object_get(a, "content"));
		json_int_t i = json_integer_value(jid);
		if (!json_is_integer(jid) || !c || i < 0 || i >= n)
			return qt_err_set(err, QT_EDATA, "%s: added_tokens[%zu]: no content or an id outside "
			                  "the config's vocab_size %lld", path, ai, (long long)n);
		free(v->tok[i]);
		if (!(v->tok[i] = strdup(c)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		if (json_is_true(json_object_get(a, "special")) || gguf_vocab_looks_special(c)) {
			v->type[i] = TT_CONTROL;
		} else {
			gguf_vocab_unescape_space(v->tok[i]);
			v->type[i] = TT_USER;
		}
	}
	for (int64_t i = 0; i < n; i++)
		if (!v->tok[i]) {
			char pad[32];
			snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
			if (!(v->tok[i] = strdup(pad)))
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			v->type[i] = TT_UNUSED;
		}
	json_t *merges = json_object_get(model, "merges");
	v->merges = calloc(json_array_size(merges) + 1, sizeof *v->merges);
	if (!v->merges)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	json_array_foreach(merges, ai, a) {
		if (!(v->merges[ai] = merge_str(a)))
			return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: neither \"a b\" nor [a, b]",
			                  path, ai);
		v->n_merges = ai + 1;
	}
	return QT_OK;
}

/* GLM's converters (ChatGLMModel, Glm4Model) take eos, eot, unk (and glm4's bos) from these
 * added tokens when still unset; they fail without them, we leave those ids unset. */
static void glm_specials(struct gguf_special *sp, json_t *root, int glm4)
{
	static const char *const name[2] = { "<|endoftext|>", "<|user|>" };
	int64_t id[2] = { -1, -1 };
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(root, "added_tokens"), i, a) {
		json_t *c = json_object_get(a, "content"), *ji = json_object_get(a, "id");
		for (int k = 0; k < 2; k++)
			if (json_is_string(c) && json_is_integer(ji) && id[k] < 0 &&
			    strcmp(json_string_value(c), name[k]) == 0)
				id[k] = json_integer_value(ji);
	}
	gguf_special_set(sp, GGUF_SP_EOS, id[0]);
	gguf_special_set(sp, GGUF_SP_EOT, id[1]);
	gguf_special_set(sp, GGUF_SP_UNK, id[0]);
	if (glm4)
		gguf_special_set(sp, GGUF_SP_BOS, id[0]);
	else if (sp->add_bos < 0) /* ChatGLMModel.set_gguf_parameters: add_bos_token false */
		sp->add_bos = 0;
}

/* The byte-level BPE vocabulary ("gpt2": _set_vocab_gpt2, or GLM's get_vocab_base). */
static int put_gpt2(struct gguf_writer *w, const char *dir, const char *path, json_t *root,
                    json_t *tc, const struct hf_config *c, const char *arch,
                    struct gguf_special *sp, struct qt_err *err)
{
	struct vocab v = { 0 };
	int glm = strcmp(arch, "chatglm") == 0 || strcmp(arch, "glm4") == 0, st;
	json_t *model = json_object_get(root, "model");
	const char *mt = type_of(model);
	if (strcmp(mt, "BPE") == 0 && json_is_true(json_object_get(model, "byte_fallback")))
		return qt_err_set(err, QT_EDATA, "%s: model: a SentencePiece-style BPE (byte_fallback) "
		                  "without its tokenizer.model: llama.cpp's llama vocabulary merges by "
		                  "the pieces' scores, which only tokenizer.model holds", path);
	if (strcmp(mt, "BPE") != 0)
		return qt_err_set(err, QT_EDATA, "%s: model: a %s tokenizer; export-gguf writes "
		                  "byte-level BPE (llama.cpp's gpt2 model) and, from a tokenizer.model, "
		                  "SentencePiece BPE (its llama model)", path, *mt ? mt : "typeless");
	const char *pre = pre_name(root, glm);
	if (!pre)
		return qt_err_set(err, QT_EDATA, "%s: pre_tokenizer: llama.cpp has no pre-tokenizer name "
		                  "for it (known: smollm, gpt-2, llama-bpe, smaug-bpe, qwen2, chatglm-bpe, "
		                  "glm4)", path);
	if ((st = build_vocab(root, path, c->vocab_size, &v, err)) ||
	    (st = gguf_special_load(sp, dir, root, tc, c, -1, err)))
		goto out;
	if (glm)
		glm_specials(sp, root, strcmp(arch, "glm4") == 0);
	if ((st = gguf_writer_str(w, "tokenizer.ggml.model", "gpt2", 4, err)) ||
	    (st = gguf_writer_str(w, "tokenizer.ggml.pre", pre, strlen(pre), err)) ||
	    (st = gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.tok, NULL,
	                              (uint64_t)v.n, err)) ||
	    (st = gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", v.type, (uint64_t)v.n, err)))
		goto out;
	if (v.n_merges)
		st = gguf_writer_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v.merges,
		                         NULL, v.n_merges, err);
out:
	vocab_free(&v);
	return st;
}

static int exists(const char *dir, const char *name)
{
	char *p = qt_path_join(dir, name);
	FILE *f = p ? fopen(p, "rb") : NULL;
	free(p);
	if (f)
		fclose(f);
	return f != NULL;
}

int gguf_tokenizer_put(struct gguf_writer *w, const char *dir, const struct hf_config *c,
                       const char *arch, struct qt_err *err)
{
	int st = QT_OK;
	char *path = qt_path_join(dir, "tokenizer.json");
	json_t *root = NULL, *tc = NULL;
	struct gguf_special sp = { .chat_template = NULL };
	int llama = strcmp(arch, "llama") == 0;
	if (!path)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if ((tc = gguf_vocab_json(dir, "tokenizer_config.json", 0, &st, err), st))
		goto out;
	/* which vocabulary convert_hf_to_gguf.py writes for the architecture: SentencePiece
	 * when a tokenizer.model is there (llama, qwen2, qwen3 try it first; gemma, gemma2 and
	 * phi3 need it, but Phi-4's GPT2Tokenizer), else the byte-level BPE of tokenizer.json */
	json_t *cls = json_object_get(tc, "tokenizer_class");
	int gpt2_class = json_is_string(cls) && strcmp(json_string_value(cls), "GPT2Tokenizer") == 0;
	int spm = exists(dir, "tokenizer.model") && strcmp(arch, "chatglm") != 0 &&
	          strcmp(arch, "glm4") != 0 && !(strcmp(arch, "phi3") == 0 && gpt2_class);
	if (spm) {
		st = gguf_vocab_spm_put(w, dir, c, arch, tc, &sp, err);
	} else if ((root = gguf_vocab_json(dir, "tokenizer.json", 1, &st, err))) {
		st = put_gpt2(w, dir, path, root, tc, c, arch, &sp, err);
	}
	if (st)
		goto out;
	/* what the architectures' set_vocab add (a later write of a key wins in gguf-py) */
	json_t *aps = json_object_get(tc, "add_prefix_space");
	if (llama && json_is_boolean(aps)) /* LlamaModel.set_vocab, before the vocabulary */
		sp.add_space_prefix = json_is_true(aps);
	if (llama && c->vocab_size == 32016) /* CodeLlama's <EOT> */
		gguf_special_set(&sp, GGUF_SP_EOT, 32010);
	if (llama && c->vocab_size == 49152) /* "granite small models" */
		sp.add_bos = 0;
	if (spm && strcmp(arch, "gemma") == 0) /* GemmaModel.set_vocab: <end_of_turn> (its FIM */
		gguf_special_set(&sp, GGUF_SP_EOT, 107); /* ids have no GGUF key and are dropped) */
	if (spm && strncmp(arch, "gemma", 5) == 0)
		sp.add_space_prefix = 0;
	st = gguf_special_put(w, &sp, err);
out:
	gguf_special_free(&sp);
	json_decref(root);
	json_decref(tc);
	free(path);
	return st;
}
