/* qlora-tools: ISC license. */
/* tokenizer.json / tokenizer_config.json from GGUF metadata; see gguf_tokenizer.h. */
#include "formats/gguf_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"

/* token_type values (llama.cpp llama_token_type / gguf-py TokenType) */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define RE_L3 GGUF_RE_LLAMA3
#define RE_Q2 GGUF_RE_QWEN2

void gguf_json_str(FILE *fp, const char *s, uint64_t n)
{
	fputc('"', fp);
	for (uint64_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':  fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		case '\b': fputs("\\b", fp); break;
		case '\f': fputs("\\f", fp); break;
		default:
			if (c < 0x20)
				fprintf(fp, "\\u%04x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

/* s as a JSON string literal into buf (backslash and quote escaped; no control characters). */
static const char *jlit(const char *s, char *buf, size_t cap)
{
	size_t k = 0;
	buf[k++] = '"';
	for (; *s && k + 3 < cap; s++) {
		if (*s == '"' || *s == '\\')
			buf[k++] = '\\';
		buf[k++] = *s;
	}
	buf[k++] = '"';
	buf[k] = '\0';
	return buf;
}

static const char *bytelevel(int add_prefix_space, int trim_offsets, int use_regex)
{
	static char b[4][160];
	static int k;
	k = (k + 1) % 4;
	snprintf(b[k], sizeof b[k], "{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,"
	         "\"trim_offsets\":%s,\"use_regex\":%s}", add_prefix_space ? "true" : "false",
	         trim_offsets ? "true" : "false", use_regex ? "true" : "false");
	return b[k];
}

struct tokarr {
	const struct gguf_value *tokens, *types, *merges;
	uint64_t n;
};

static const struct gguf_value *array_kv(const struct gguf_file *g, const char *key, uint32_t et,
                                         int required, struct qt_err *err)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv) {
		if (required)
			qt_err_set(err, QT_EDATA, "%s: %s: missing", g->path, key);
		return NULL;
	}
	int ok = kv->v.type == GGUF_VT_ARRAY &&
	         (kv->v.arr_type == et || (et == GGUF_VT_I32 && kv->v.arr_type == GGUF_VT_U32));
	if (!ok) {
		qt_err_set(err, QT_EDATA, "%s: %s: expected an array of %s", g->path, key,
		           et == GGUF_VT_STRING ? "strings" : "integers");
		return NULL;
	}
	return &kv->v;
}

static const struct gguf_value *cmp_tokens;

static int cmp_tok(const void *a, const void *b)
{
	uint64_t la, lb;
	const char *sa = gguf_arr_str(cmp_tokens, *(const uint64_t *)a, &la);
	const char *sb = gguf_arr_str(cmp_tokens, *(const uint64_t *)b, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

/* Vocab keys must be unique (a JSON object; HF would silently keep one). */
static int check_unique_tokens(const struct gguf_file *g, const struct tokarr *t, struct qt_err *err)
{
	uint64_t *ix = malloc((t->n + 1) * sizeof *ix);
	if (!ix)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t i = 0; i < t->n; i++)
		ix[i] = i;
	cmp_tokens = t->tokens;
	qsort(ix, t->n, sizeof *ix, cmp_tok);
	int st = QT_OK;
	for (uint64_t i = 1; i < t->n && st == QT_OK; i++)
		if (cmp_tok(&ix[i - 1], &ix[i]) == 0)
			st = qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.tokens: ids %llu and %llu hold the "
			                "same token", g->path, (unsigned long long)ix[i - 1],
			                (unsigned long long)ix[i]);
	free(ix);
	return st;
}

/* Pre-tokenizers llama.cpp runs as several regexes in turn (llama-vocab.cpp, copied from it;
 * falcon's emulate its tokenizer.json's Punctuation, ByteLevel and digit-triple steps):
 * each an Isolated Split, then ByteLevel without its regex, as the models' tokenizer.json. */
static const char *const re_deepseek_llm[] = {
	"[\\r\\n]",
	"\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
	"\\s?[!-/:-~！-／：-～‘-‟　-。]+",
	"\\s+$",
	"[一-龥ࠀ-一가-퟿]+",
	"\\p{N}+", NULL,
};
static const char *const re_deepseek_coder[] = {
	"[\\r\\n]",
	"\\s?\\p{L}+",
	"\\s?\\p{P}+",
	"[一-龥ࠀ-一가-퟿]+",
	"\\p{N}", NULL,
};

/* deepseek-v3 (DeepSeek-V3's tokenizer.json; llama.cpp's DEEPSEEK3_LLM) */
static const char *const re_deepseek_v3[] = {
	"\\p{N}{1,3}",
	"[一-龥぀-ゟ゠-ヿ]+",
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
	"[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL,
};
/* tekken: llama.cpp's form, not Mistral-Nemo's tokenizer.json: std::regex has no \p{Lu} and
 * \p{Ll}, so an upper-case letter is "a letter but not a-z" and a lower-case one "a letter but
 * not A-Z": a letter outside ASCII is both (tokenizer.json's \p{Lu}/\p{Ll} split "aÉ" in two,
 * llama.cpp does not). Ids follow llama.cpp. */
static const char *const re_tekken[] = {
	"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?"
	"((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL,
};

static const char *const re_falcon[] = {
	"[\\p{P}\\$\\+<=>\\^~\\|`]+",
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
	"[0-9][0-9][0-9]", NULL,
};

static int write_tokenizer_json(const struct gguf_file *g, const struct tokarr *t,
                                const char *pre, const char *path, struct qt_err *err)
{
	const char *normalizer = "null", *post = bytelevel(0, 0, 1), *dec = bytelevel(0, 1, 1);
	char pretok[8192], re[4096];
	int ignore_merges = 0;
	/* names llama.cpp (llama-vocab.cpp) splits exactly as one of ours */
	static const char *const alias[][2] = {
		{ "starcoder", "smollm" }, { "refact", "smollm" }, { "command-r", "smollm" },
		{ "codeshell", "smollm" }, { "exaone", "smollm" }, { "minerva-7b", "smollm" },
		{ "mpt", "gpt-2" }, { "olmo", "gpt-2" }, { "phi-2", "gpt-2" },
		{ "llama3", "llama-bpe" }, { "llama-v3", "llama-bpe" }, { "falcon3", "llama-bpe" },
		{ "falcon-h1", "llama-bpe" }, { "pixtral", "llama-bpe" }, { "midm-2.0", "llama-bpe" },
		{ "lfm2", "llama-bpe" }, { "dbrx", "llama-bpe-merges" }, { "smaug-bpe", "llama-bpe-merges" },
		{ "deepseek-r1-qwen", "qwen2" }, { "chatglm-bpe", "llama-bpe-merges" },
		{ "glm4", "llama-bpe" }, { "glm5", "llama-bpe" }, { "hunyuan-dense", "deepseek-v3" },
		{ "hy_v4", "deepseek-v3" }, { "joyai-llm", "deepseek-v3" },
	};
	for (size_t k = 0; k < sizeof alias / sizeof *alias; k++)
		if (strcmp(pre, alias[k][0]) == 0)
			pre = alias[k][1];
	const char *const *seq = strcmp(pre, "deepseek-llm") == 0 ? re_deepseek_llm :
	                         strcmp(pre, "deepseek-coder") == 0 ? re_deepseek_coder :
	                         strcmp(pre, "deepseek-v3") == 0 ? re_deepseek_v3 :
	                         strcmp(pre, "tekken") == 0 ? re_tekken :
	                         strcmp(pre, "falcon") == 0 ? re_falcon : NULL;
	ignore_merges = strcmp(pre, "tekken") == 0; /* llama.cpp: ignore_merges for tekken */
	if (seq) {
		size_t o = (size_t)snprintf(pretok, sizeof pretok, "{\"type\":\"Sequence\","
		                            "\"pretokenizers\":[");
		for (; *seq; seq++)
			o += (size_t)snprintf(pretok + o, sizeof pretok - o, "{\"type\":\"Split\","
			                      "\"pattern\":{\"Regex\":%s},\"behavior\":\"Isolated\","
			                      "\"invert\":false},", jlit(*seq, re, sizeof re));
		snprintf(pretok + o, sizeof pretok - o, "%s]}", bytelevel(0, 1, 0));
	} else if (strcmp(pre, "smollm") == 0) {
		snprintf(pretok, sizeof pretok, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
		         "\"Digits\",\"individual_digits\":true},%s]}", bytelevel(0, 1, 1));
	} else if (strcmp(pre, "gpt-2") == 0 || strcmp(pre, "gpt2") == 0) {
		snprintf(pretok, sizeof pretok, "%s", bytelevel(0, 1, 1));
	} else if (strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama-bpe-merges") == 0) {
		snprintf(pretok, sizeof pretok, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
		         "\"Split\",\"pattern\":{\"Regex\":%s},\"behavior\":\"Isolated\",\"invert\":"
		         "false},%s]}", jlit(RE_L3, re, sizeof re), bytelevel(0, 1, 0));
		ignore_merges = strcmp(pre, "llama-bpe") == 0; /* llama.cpp: not for dbrx, smaug-bpe */
	} else if (strcmp(pre, "qwen2") == 0 || strcmp(pre, "qwen35") == 0) {
		/* Qwen2's tokenizer.json has NFC; for qwen35, as transformers' GGUF loader and
		 * llama.cpp (tests/ref/import_gguf_vocab_check.py), none */
		if (strcmp(pre, "qwen2") == 0)
			normalizer = "{\"type\":\"NFC\"}";
		snprintf(pretok, sizeof pretok, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
		         "\"Split\",\"pattern\":{\"Regex\":%s},\"behavior\":\"Isolated\",\"invert\":"
		         "false},%s]}", jlit(strcmp(pre, "qwen2") == 0 ? RE_Q2 : GGUF_RE_QWEN35, re,
		         sizeof re), bytelevel(0, 0, 0));
	} else {
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.pre: \"%s\" is not supported "
		                  "(smollm, starcoder, refact, command-r, codeshell, exaone, minerva-7b, "
		                  "gpt-2, mpt, olmo, phi-2, llama-bpe, llama3, llama-v3, falcon3, "
		                  "falcon-h1, pixtral, midm-2.0, lfm2, dbrx, smaug-bpe, qwen2, "
		                  "deepseek-r1-qwen, qwen35, deepseek-llm, deepseek-coder, deepseek-v3, "
		                  "hunyuan-dense, hy_v4, joyai-llm, chatglm-bpe, glm4, glm5, tekken, "
		                  "falcon)", g->path, pre);
	}
	struct qt_out o;
	int st = qt_out_open(&o, path, err);
	if (st != QT_OK)
		return st;
	FILE *fp = o.fp;
	fputs("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[", fp);
	int first = 1;
	for (uint64_t i = 0; i < t->n; i++) {
		int64_t ty = t->types ? gguf_arr_int(t->types, i) : TT_NORMAL;
		if (ty != TT_CONTROL && ty != TT_USER)
			continue;
		uint64_t len;
		const char *s = gguf_arr_str(t->tokens, i, &len);
		fprintf(fp, "%s{\"id\":%llu,\"content\":", first ? "" : ",", (unsigned long long)i);
		gguf_json_str(fp, s, len);
		fprintf(fp, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":"
		        "false,\"special\":%s}", ty == TT_CONTROL ? "true" : "false");
		first = 0;
	}
	fprintf(fp, "],\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":%s,\"decoder\":%s,"
	        "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
	        "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
	        "\"byte_fallback\":false,\"ignore_merges\":%s,\"vocab\":{", normalizer, pretok, post,
	        dec, ignore_merges ? "true" : "false");
	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t len;
		const char *s = gguf_arr_str(t->tokens, i, &len);
		if (i)
			fputc(',', fp);
		gguf_json_str(fp, s, len);
		fprintf(fp, ":%llu", (unsigned long long)i);
	}
	fputs("},\"merges\":[", fp);
	for (uint64_t i = 0; t->merges && i < t->merges->len; i++) {
		uint64_t len;
		const char *s = gguf_arr_str(t->merges, i, &len);
		const char *sp = memchr(s, ' ', len);
		if (!sp || sp == s || sp == s + len - 1 || memchr(sp + 1, ' ', len - (uint64_t)(sp - s) - 1)) {
			qt_out_abort(&o);
			return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.merges[%llu]: not two parts "
			                  "separated by one space", g->path, (unsigned long long)i);
		}
		fputs(i ? ",[" : "[", fp);
		gguf_json_str(fp, s, (uint64_t)(sp - s));
		fputc(',', fp);
		gguf_json_str(fp, sp + 1, len - (uint64_t)(sp - s) - 1);
		fputc(']', fp);
	}
	fputs("]}}\n", fp);
	return qt_out_commit(&o, err);
}

/* Token string of special id key (u32 KV), or NULL when absent / out of range. */
static json_t *special(const struct gguf_file *g, const struct tokarr *t, const char *key,
                       struct qt_err *err, int *st)
{
	int64_t id;
	int r = gguf_get_int(g, key, &id, err);
	if (r == 1)
		return NULL;
	if (r != QT_OK || id < 0 || (uint64_t)id >= t->n) {
		*st = r != QT_OK ? r : qt_err_set(err, QT_EDATA, "%s: %s: id %lld is not in the vocabulary",
		                                  g->path, key, (long long)id);
		return NULL;
	}
	uint64_t len;
	const char *s = gguf_arr_str(t->tokens, (uint64_t)id, &len);
	return json_stringn(s, len);
}

static int write_tokenizer_config(const struct gguf_file *g, const struct tokarr *t,
                                  int64_t max_len, const char *path, struct qt_err *err)
{
	json_t *root = json_object(), *dec = json_object();
	int st = QT_OK, flag;
	for (uint64_t i = 0; i < t->n; i++) {
		int64_t ty = t->types ? gguf_arr_int(t->types, i) : TT_NORMAL;
		if (ty != TT_CONTROL && ty != TT_USER)
			continue;
		uint64_t len;
		const char *s = gguf_arr_str(t->tokens, i, &len);
		json_t *e = json_object();
		json_object_set_new(e, "content", json_stringn(s, len));
		json_object_set_new(e, "lstrip", json_false());
		json_object_set_new(e, "normalized", json_false());
		json_object_set_new(e, "rstrip", json_false());
		json_object_set_new(e, "single_word", json_false());
		json_object_set_new(e, "special", json_boolean(ty == TT_CONTROL));
		char id[24];
		snprintf(id, sizeof id, "%llu", (unsigned long long)i);
		json_object_set_new(dec, id, e);
	}
	json_object_set_new(root, "added_tokens_decoder", dec);
	static const char *const sp[][2] = {
		{ "bos_token", "tokenizer.ggml.bos_token_id" }, { "eos_token", "tokenizer.ggml.eos_token_id" },
		{ "unk_token", "tokenizer.ggml.unknown_token_id" },
		{ "pad_token", "tokenizer.ggml.padding_token_id" },
	};
	for (size_t i = 0; i < 4 && st == QT_OK; i++) {
		json_t *v = special(g, t, sp[i][1], err, &st);
		json_object_set_new(root, sp[i][0], v ? v : json_null());
	}
	if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &flag, err) == QT_OK)
		json_object_set_new(root, "add_bos_token", json_boolean(flag));
	if (gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &flag, err) == QT_OK)
		json_object_set_new(root, "add_eos_token", json_boolean(flag));
	flag = 0;
	gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &flag, err);
	json_object_set_new(root, "add_prefix_space", json_boolean(flag));
	char *tmpl = NULL;
	int r = gguf_get_str(g, "tokenizer.chat_template", &tmpl, err);
	if (r == QT_OK)
		json_object_set_new(root, "chat_template", json_string(tmpl));
	else if (r != 1)
		st = r;
	free(tmpl);
	json_object_set_new(root, "clean_up_tokenization_spaces", json_false());
	json_object_set_new(root, "model_max_length", json_integer(max_len));
	json_object_set_new(root, "tokenizer_class", json_string("PreTrainedTokenizerFast"));
	if (st == QT_OK) {
		char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
		struct qt_out o;
		if (!text)
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		else if ((st = qt_out_open(&o, path, err)) == QT_OK) {
			fputs(text, o.fp);
			fputc('\n', o.fp);
			st = qt_out_commit(&o, err);
		}
		free(text);
	}
	json_decref(root);
	return st;
}

int gguf_tokenizer_write(const struct gguf_file *g, const char *dir, int64_t max_len,
                         struct qt_err *err)
{
	char *model = NULL, *pre = NULL;
	int st = gguf_get_str(g, "tokenizer.ggml.model", &model, err);
	if (st == 1)
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.model: missing", g->path);
	if (st != QT_OK)
		return st;
	int t5 = strcmp(model, "t5") == 0, spm = t5 || strcmp(model, "llama") == 0;
	if (!spm && strcmp(model, "gpt2") != 0) {
		st = qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.model: \"%s\" is not supported (gpt2: "
		                "byte-level BPE; llama: SentencePiece BPE; t5: Unigram)", g->path, model);
		free(model);
		return st;
	}
	free(model);
	if (!spm) {
		st = gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
		/* Converters before 2024-05 wrote no pre, and llama.cpp then splits as GPT-2, which
		 * is wrong for most models: not guessed. */
		if (st == 1)
			return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.pre: missing: this GGUF does "
			                  "not say how its byte-level vocabulary splits text (converters "
			                  "before 2024-05 omitted it); not guessed as GPT-2", g->path);
		if (st != QT_OK)
			return st;
	}
	struct tokarr t = { 0 };
	t.tokens = array_kv(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, 1, err);
	if (!t.tokens) {
		free(pre);
		return QT_EDATA;
	}
	t.n = t.tokens->len;
	t.types = array_kv(g, "tokenizer.ggml.token_type", GGUF_VT_I32, 0, err);
	t.merges = array_kv(g, "tokenizer.ggml.merges", GGUF_VT_STRING, !spm, err);
	if (gguf_find(g, "tokenizer.ggml.token_type") && !t.types)
		st = QT_EDATA;
	else if (!t.merges && !spm)
		st = QT_EDATA;
	else if (t.types && t.types->len != t.n)
		st = qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.token_type: %llu entries for %llu "
		                "tokens", g->path, (unsigned long long)t.types->len, (unsigned long long)t.n);
	if (st == QT_OK)
		st = check_unique_tokens(g, &t, err);
	char *p1 = qt_path_join(dir, t5 ? "tokenizer.model" : "tokenizer.json");
	char *p2 = qt_path_join(dir, "tokenizer_config.json");
	if (st == QT_OK)
		st = t5 ? gguf_t5_tokenizer_model(g, p1, err) : spm ? gguf_spm_tokenizer_json(g, p1, err) :
		     write_tokenizer_json(g, &t, pre, p1, err);
	if (st == QT_OK)
		st = write_tokenizer_config(g, &t, max_len, p2, err);
	free(p1);
	free(p2);
	free(pre);
	return st;
}
