/* qlora-tools: ISC license. */
/*
 * GGUF tokenizer metadata (tokenizer.ggml.*, tokenizer.chat_template) from an HF model
 * directory, as convert_hf_to_gguf.py's _set_vocab_gpt2 + gguf-py SpecialVocab write it
 * (reference.md 3.8); see gguf_tokenizer.h. The reverse direction is gguf_tokenizer.c.
 */
#include "formats/gguf_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"

/* token_type values (gguf-py TokenType) */
enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5 };

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
static const char *pre_name(json_t *root)
{
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
	if (!nfc && is_split(a, GGUF_RE_LLAMA3) && is_bytelevel(b, 0))
		return "llama-bpe";
	if (nfc && is_split(a, GGUF_RE_QWEN2) && is_bytelevel(b, 0))
		return "qwen2";
	return NULL;
}

/* convert_hf_to_gguf.py does_token_look_special */
static int looks_special(const char *s)
{
	size_t n = strlen(s);
	static const char *const exact[] = { "<pad>", "<mask>", "<2mass>", "[@BOS@]" };
	for (size_t i = 0; i < 4; i++)
		if (strcmp(s, exact[i]) == 0)
			return 1;
	if (n >= 4 && strncmp(s, "<|", 2) == 0 && strcmp(s + n - 2, "|>") == 0)
		return 1;
	if (n >= 6 && strncmp(s, "<\xef\xbd\x9c", 4) == 0 && strcmp(s + n - 4, "\xef\xbd\x9c>") == 0)
		return 1;
	return n >= 8 && strncmp(s, "<unused", 7) == 0 && s[n - 1] == '>';
}

/* "\xe2\x96\x81" (U+2581) -> " " in place (user-defined tokens are pre-normalized). */
static void unescape_space(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (strncmp(p, "\xe2\x96\x81", 3) == 0) {
			*o++ = ' ';
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
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

/* Content string of a tokenizer_config special token entry (string or {"content": ...}). */
static const char *entry_content(json_t *e)
{
	if (json_is_object(e))
		e = json_object_get(e, "content");
	return json_is_string(e) ? json_string_value(e) : NULL;
}

static json_t *load(const char *dir, const char *name, int required, int *st, struct qt_err *err)
{
	char *p = qt_path_join(dir, name), *txt = NULL;
	size_t len;
	json_t *j = NULL;
	if (!p) {
		*st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	FILE *f = fopen(p, "rb");
	if (!f) {
		if (required)
			*st = qt_err_set(err, QT_ENOINPUT, "%s: cannot open", p);
		free(p);
		return NULL;
	}
	fclose(f);
	if ((*st = qt_read_file(p, &txt, &len, err)) == QT_OK) {
		json_error_t je;
		j = json_loadb(txt, len, 0, &je);
		if (!j || !json_is_object(j))
			*st = qt_err_set(err, QT_EDATA, "%s:%d: %s", p, je.line,
			                 j ? "not a JSON object" : je.text);
	}
	if (*st && j) {
		json_decref(j);
		j = NULL;
	}
	free(txt);
	free(p);
	return j;
}

/* The special token kinds of SpecialVocab, with their GGUF keys. */
static const char *const sp_type[] = { "bos", "eos", "unk", "sep", "pad", "cls", "mask" };
static const char *const sp_key[] = {
	"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
	"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
	"tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
	"tokenizer.ggml.mask_token_id",
};
#define N_SP 7

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
		if (json_is_true(json_object_get(a, "special")) || looks_special(c)) {
			v->type[i] = TT_CONTROL;
		} else {
			unescape_space(v->tok[i]);
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

int gguf_tokenizer_put(struct gguf_writer *w, const char *dir, const struct hf_config *c,
                       struct qt_err *err)
{
	int st = QT_OK;
	char *path = qt_path_join(dir, "tokenizer.json");
	json_t *root = load(dir, "tokenizer.json", 1, &st, err), *tc = NULL;
	struct vocab v = { 0 };
	if (!root)
		goto out;
	tc = load(dir, "tokenizer_config.json", 0, &st, err);
	if (st)
		goto out;
	json_t *model = json_object_get(root, "model");
	const char *mt = type_of(model);
	if (strcmp(mt, "BPE") != 0 || json_is_true(json_object_get(model, "byte_fallback"))) {
		st = qt_err_set(err, QT_EDATA, "%s: model: a %s%s tokenizer; export-gguf writes byte-level "
		                "BPE vocabularies (llama.cpp's gpt2 model) only", path, *mt ? mt : "typeless",
		                *mt && json_is_true(json_object_get(model, "byte_fallback")) ?
		                " (byte_fallback)" : "");
		goto out;
	}
	const char *pre = pre_name(root);
	if (!pre) {
		st = qt_err_set(err, QT_EDATA, "%s: pre_tokenizer: llama.cpp has no pre-tokenizer name for "
		                "it (known: smollm, gpt-2, llama-bpe, qwen2)", path);
		goto out;
	}
	if ((st = build_vocab(root, path, c->vocab_size, &v, err)))
		goto out;
	if ((st = gguf_writer_str(w, "tokenizer.ggml.model", "gpt2", 4, err)) ||
	    (st = gguf_writer_str(w, "tokenizer.ggml.pre", pre, strlen(pre), err)) ||
	    (st = gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.tok, NULL,
	                              (uint64_t)v.n, err)) ||
	    (st = gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", v.type, (uint64_t)v.n, err)) ||
	    (v.n_merges && (st = gguf_writer_arr_str(w, "tokenizer.ggml.merges",
	                                            (const char *const *)v.merges, NULL,
	                                            v.n_merges, err))))
		goto out;
	/* special ids: tokenizer_config's *_token strings looked up in added_tokens, then
	 * config.json's *_token_id (SpecialVocab._try_load_from_*) */
	int64_t ids[N_SP];
	json_t *added = json_object_get(root, "added_tokens");
	for (int k = 0; k < N_SP; k++) {
		char key[32];
		ids[k] = -1;
		snprintf(key, sizeof key, "%s_token", sp_type[k]);
		const char *want = entry_content(json_object_get(tc, key));
		size_t ai;
		json_t *a;
		json_array_foreach(added, ai, a) {
			const char *cc = json_string_value(json_object_get(a, "content"));
			if (want && cc && strcmp(cc, want) == 0) {
				ids[k] = json_integer_value(json_object_get(a, "id"));
				break;
			}
		}
	}
	const struct hf_token_ids *cfg_ids[N_SP] = { &c->bos, &c->eos, NULL, NULL, &c->pad, NULL, NULL };
	for (int k = 0; k < N_SP; k++)
		if (ids[k] < 0 && cfg_ids[k] && cfg_ids[k]->n == 1 && !cfg_ids[k]->is_list &&
		    cfg_ids[k]->id[0] >= 0)
			ids[k] = cfg_ids[k]->id[0];
	for (int k = 0; k < N_SP; k++)
		if (ids[k] >= 0 && (st = gguf_writer_u32(w, sp_key[k], (uint32_t)ids[k], err)))
			goto out;
	/* add_bos / add_eos: a ByteLevel post-processor says no; a TemplateProcessing names them;
	 * else tokenizer_config's add_*_token */
	int add[2] = { -1, -1 };
	json_t *pp = json_object_get(root, "post_processor");
	json_t *procs = json_object_get(pp, "processors");
	size_t pi, npp = procs ? json_array_size(procs) : pp && !json_is_null(pp) ? 1 : 0;
	for (pi = 0; pi < npp; pi++) {
		json_t *p = procs ? json_array_get(procs, pi) : pp;
		if (strcmp(type_of(p), "ByteLevel") == 0) {
			for (int k = 0; k < 2; k++)
				if (add[k] < 0)
					add[k] = 0;
		} else if (strcmp(type_of(p), "TemplateProcessing") == 0) {
			json_t *single = json_object_get(p, "single");
			size_t ns = json_array_size(single);
			if (ns > 1) {
				for (int k = 0; k < 2; k++) {
					const char *sid = json_string_value(json_object_get(json_object_get(
						json_array_get(single, k ? ns - 1 : 0), "SpecialToken"), "id"));
					const char *want = entry_content(json_object_get(tc, k ? "eos_token"
					                                                      : "bos_token"));
					if (sid)
						add[k] = want && strcmp(sid, want) == 0;
				}
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		json_t *b = json_object_get(tc, k ? "add_eos_token" : "add_bos_token");
		if (add[k] < 0 && json_is_boolean(b))
			add[k] = json_is_true(b);
	}
	if (c->vocab_size == 49152) /* LlamaModel.set_vocab: "granite small models" */
		add[0] = 0;
	for (int k = 0; k < 2; k++)
		if (add[k] >= 0 && (st = gguf_writer_bool(w, k ? "tokenizer.ggml.add_eos_token"
		                                                : "tokenizer.ggml.add_bos_token", add[k], err)))
			goto out;
	json_t *aps = json_object_get(tc, "add_prefix_space");
	if (json_is_boolean(aps) &&
	    (st = gguf_writer_bool(w, "tokenizer.ggml.add_space_prefix", json_is_true(aps), err)))
		goto out;
	json_t *tmpl = json_object_get(tc, "chat_template");
	if (json_is_string(tmpl)) {
		st = gguf_writer_str(w, "tokenizer.chat_template", json_string_value(tmpl),
		                     json_string_length(tmpl), err);
	} else {
		char *jp = qt_path_join(dir, "chat_template.jinja"), *txt = NULL;
		size_t len;
		FILE *f = jp ? fopen(jp, "rb") : NULL;
		if (f) {
			fclose(f);
			if ((st = qt_read_file(jp, &txt, &len, err)) == QT_OK)
				st = gguf_writer_str(w, "tokenizer.chat_template", txt, len, err);
		}
		free(txt);
		free(jp);
	}
out:
	vocab_free(&v);
	json_decref(root);
	json_decref(tc);
	free(path);
	return st;
}
