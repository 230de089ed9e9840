/* qlora-tools: ISC license. */
/*
 * tokenizer.json from a SentencePiece GGUF (tokenizer.ggml.model "llama"), as transformers'
 * GGUF loader builds it (integrations/gguf/gguf_tokenizer_mapping.py, transformers 5.25):
 * LlamaTokenizer's pipeline (Metaspace "first" without split, byte_fallback BPE, the
 * Replace/ByteFallback/Fuse/Strip decoder, TemplateProcessing with <s> when add_bos_token,
 * which defaults to true), or for architecture phi3 the Prepend/Replace normalizers instead of
 * Metaspace. Merges: tokenizer.ggml.merges when present, else generate_merges: every split of
 * every token into two tokens, ranked by the token's score, then the left part's and the right
 * part's length in characters (longest first), ties in vocabulary order. CONTROL tokens and
 * LlamaTokenizer's own <unk>, <s>, </s> become special added tokens, USER_DEFINED ones plain
 * added tokens, except those llama.cpp takes for end-of-generation tokens and makes CONTROL
 * (<end_of_turn>, <|im_end|>, ...: special). With add_space_prefix false (Gemma 1-3, whose converter writes it), the
 * Replace normalizer (spaces to U+2581) alone and no Strip decoder, as llama.cpp tokenizes
 * them (tests/ref/import_gguf_gemma_check.py); transformers' GGUF loader, which respells
 * Gemma's tokens, is not followed there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "formats/gguf_tokenizer.h"

enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER = 4 };

struct merge { double score; uint32_t ll, lr, a, b; uint64_t seq; };

static int cmp_merge(const void *x, const void *y)
{
	const struct merge *p = x, *q = y;
	if (p->score != q->score)
		return p->score > q->score ? -1 : 1;
	if (p->ll != q->ll)
		return p->ll > q->ll ? -1 : 1;
	if (p->lr != q->lr)
		return p->lr > q->lr ? -1 : 1;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

static uint32_t n_chars(const char *s, uint64_t n)
{
	uint32_t k = 0;
	for (uint64_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/* ---- token -> id (open addressing over the GGUF's strings) ---- */

struct idx { const struct gguf_value *tok; uint64_t *slot, mask; };

static uint64_t h64(const char *s, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 31);
}

static int64_t idx_get(const struct idx *x, const char *s, uint64_t n)
{
	for (uint64_t h = h64(s, n) & x->mask; x->slot[h]; h = (h + 1) & x->mask) {
		uint64_t id = x->slot[h] - 1, l;
		const char *t = gguf_arr_str(x->tok, id, &l);
		if (l == n && memcmp(t, s, n) == 0)
			return (int64_t)id;
	}
	return -1;
}

static int idx_build(struct idx *x, const struct gguf_value *tok)
{
	uint64_t slots = 16;
	while (slots < tok->len * 2 + 2)
		slots <<= 1;
	x->tok = tok;
	x->mask = slots - 1;
	if (!(x->slot = calloc(slots, sizeof *x->slot)))
		return -1;
	for (uint64_t i = 0; i < tok->len; i++) {
		uint64_t l;
		const char *s = gguf_arr_str(tok, i, &l);
		uint64_t h = h64(s, l) & x->mask;
		while (x->slot[h])
			h = (h + 1) & x->mask;
		x->slot[h] = i + 1;
	}
	return 0;
}

static float arr_f32(const struct gguf_value *v, uint64_t i)
{
	const uint8_t *p = v->arr + 4 * i;
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	             (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* generate_merges of transformers' tokenization_utils_base.py; *out, *n (malloc'd). */
static int gen_merges(const struct gguf_value *tok, const struct gguf_value *scores,
                      const struct idx *x, struct merge **out, uint64_t *n)
{
	uint64_t cap = 1024, m = 0;
	struct merge *v = malloc(cap * sizeof *v);
	if (!v)
		return -1;
	for (uint64_t i = 0; i < tok->len; i++) {
		uint64_t len;
		const char *s = gguf_arr_str(tok, i, &len);
		uint64_t first = m;
		for (uint64_t k = 1; k < len; k++) {
			if (((unsigned char)s[k] & 0xC0) == 0x80)
				continue;
			int64_t a = idx_get(x, s, k), b = idx_get(x, s + k, len - k);
			if (a < 0 || b < 0)
				continue;
			if (m == cap) {
				struct merge *nv = realloc(v, (cap *= 2) * sizeof *nv);
				if (!nv) {
					free(v);
					return -1;
				}
				v = nv;
			}
			v[m++] = (struct merge){ arr_f32(scores, i), n_chars(s, k),
			                         n_chars(s + k, len - k), (uint32_t)a, (uint32_t)b, 0 };
		}
		/* local order: by the ids of the left, then the right part */
		for (uint64_t p = first + 1; p < m; p++)
			for (uint64_t q = p; q > first && (v[q - 1].a > v[q].a ||
			     (v[q - 1].a == v[q].a && v[q - 1].b > v[q].b)); q--) {
				struct merge t = v[q];
				v[q] = v[q - 1];
				v[q - 1] = t;
			}
	}
	for (uint64_t i = 0; i < m; i++)
		v[i].seq = i;
	qsort(v, m, sizeof *v, cmp_merge);
	*out = v;
	*n = m;
	return 0;
}

/* Token strings llama.cpp (llama-vocab.cpp) makes end-of-generation tokens, and CONTROL
 * whatever their type: never matched in text without parse_special. Not "</s>" (llama.cpp's
 * list has it for paddleocr): Phi-3's is USER_DEFINED, and transformers (whose tokenizer.json
 * this is, byte for byte, for phi3: tests/ref/gguf_spm_check.py) matches it in text. */
static int eog_looking(const char *s, uint64_t n)
{
	static const char *const names[] = {
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
		"<|calls|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
		"[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
		"<|tool_response>",
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return 1;
	return 0;
}

/* The items of a TemplateProcessing template: bos, the sequence, eos (those >= 0). */
static void template_items(FILE *fp, const struct gguf_value *tok, const int64_t sp[2],
                           const char *seq, int type_id)
{
	uint64_t l;
	if (sp[0] >= 0) {
		const char *s = gguf_arr_str(tok, (uint64_t)sp[0], &l);
		fputs("{\"SpecialToken\":{\"id\":", fp);
		gguf_json_str(fp, s, l);
		fprintf(fp, ",\"type_id\":%d}},", type_id);
	}
	fprintf(fp, "{\"Sequence\":{\"id\":\"%s\",\"type_id\":%d}}", seq, type_id);
	if (sp[1] >= 0) {
		const char *s = gguf_arr_str(tok, (uint64_t)sp[1], &l);
		fputs(",{\"SpecialToken\":{\"id\":", fp);
		gguf_json_str(fp, s, l);
		fprintf(fp, ",\"type_id\":%d}}", type_id);
	}
}

int gguf_spm_tokenizer_json(const struct gguf_file *g, const char *path, struct qt_err *err)
{
	char *arch = NULL;
	if (gguf_get_str(g, "general.architecture", &arch, err) != QT_OK)
		arch = NULL;
	int phi3 = arch && strcmp(arch, "phi3") == 0;
	free(arch);
	/* add_space_prefix (llama.cpp's default for this model: true); Gemma's converter writes
	 * false, and llama.cpp then only turns spaces into U+2581 */
	int space_prefix = 1;
	gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &space_prefix, err);
	const struct gguf_kv *kt = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_kv *ks = gguf_find(g, "tokenizer.ggml.scores");
	const struct gguf_kv *ky = gguf_find(g, "tokenizer.ggml.token_type");
	const struct gguf_kv *km = gguf_find(g, "tokenizer.ggml.merges");
	if (!kt || kt->v.type != GGUF_VT_ARRAY || kt->v.arr_type != GGUF_VT_STRING)
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.tokens: missing or not strings",
		                  g->path);
	const struct gguf_value *tok = &kt->v;
	if (!km && (!ks || ks->v.type != GGUF_VT_ARRAY || ks->v.arr_type != GGUF_VT_F32 ||
	            ks->v.len != tok->len))
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.scores: missing or not one f32 per "
		                  "token (a SentencePiece GGUF without merges needs them)", g->path);
	if (km && (km->v.type != GGUF_VT_ARRAY || km->v.arr_type != GGUF_VT_STRING))
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.merges: expected strings", g->path);
	if (ky && (ky->v.type != GGUF_VT_ARRAY || ky->v.len != tok->len ||
	           (ky->v.arr_type != GGUF_VT_I32 && ky->v.arr_type != GGUF_VT_U32)))
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.token_type: expected one integer "
		                  "per token", g->path);
	int add_bos = 1, add_eos = 0;
	int64_t bos = -1, eos = -1;
	gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, err);
	gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos, err);
	if (gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos, err) != QT_OK ||
	    bos >= (int64_t)tok->len)
		bos = -1;
	if (gguf_get_int(g, "tokenizer.ggml.eos_token_id", &eos, err) != QT_OK ||
	    eos >= (int64_t)tok->len)
		eos = -1;
	struct idx x = { 0 };
	struct merge *mg = NULL;
	uint64_t n_mg = 0;
	if (idx_build(&x, tok) != 0 || (!km && gen_merges(tok, &ks->v, &x, &mg, &n_mg) != 0)) {
		free(x.slot);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	struct qt_out o;
	int st = qt_out_open(&o, path, err);
	if (st != QT_OK) {
		free(x.slot);
		free(mg);
		return st;
	}
	FILE *fp = o.fp;
	fputs("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[", fp);
	int first = 1;
	for (uint64_t i = 0; i < tok->len; i++) {
		int64_t ty = ky ? gguf_arr_int(&ky->v, i) : TT_NORMAL;
		uint64_t len;
		const char *s = gguf_arr_str(tok, i, &len);
		/* LlamaTokenizer's own <unk> <s> </s> are special unless marked USER_DEFINED */
		int dflt = (len == 5 && !memcmp(s, "<unk>", 5)) || (len == 3 && !memcmp(s, "<s>", 3)) ||
		           (len == 4 && !memcmp(s, "</s>", 4));
		if (ty != TT_CONTROL && ty != TT_USER && !dflt)
			continue;
		if (ty == TT_USER && eog_looking(s, len))
			ty = TT_CONTROL;
		fprintf(fp, "%s{\"id\":%llu,\"content\":", first ? "" : ",", (unsigned long long)i);
		gguf_json_str(fp, s, len);
		fprintf(fp, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":"
		        "false,\"special\":%s}", ty == TT_USER ? "false" : "true");
		first = 0;
	}
	fputs("],", fp);
	if (!space_prefix)
		fputs("\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
		      "\"\xE2\x96\x81\"},\"pre_tokenizer\":null,", fp);
	else if (phi3)
		fputs("\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\","
		      "\"prepend\":\"\xE2\x96\x81\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
		      "\"content\":\"\xE2\x96\x81\"}]},\"pre_tokenizer\":null,", fp);
	else
		fputs("\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":"
		      "\"\xE2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":false},", fp);
	/* post-processor: <s> A (</s>), as add_bos_token / add_eos_token say; pair likewise */
	fputs("\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[", fp);
	int64_t sp[2] = { add_bos ? bos : -1, add_eos ? eos : -1 };
	template_items(fp, tok, sp, "A", 0);
	fputs("],\"pair\":[", fp);
	template_items(fp, tok, sp, "A", 0);
	fputc(',', fp);
	template_items(fp, tok, sp, "B", 1);
	fputs("],\"special_tokens\":{", fp);
	for (int k = 0, n = 0; k < 2; k++) {
		if (sp[k] < 0 || (k == 1 && sp[1] == sp[0]))
			continue;
		uint64_t l;
		const char *s = gguf_arr_str(tok, (uint64_t)sp[k], &l);
		fputs(n++ ? "," : "", fp);
		gguf_json_str(fp, s, l);
		fputs(":{\"id\":", fp);
		gguf_json_str(fp, s, l);
		fprintf(fp, ",\"ids\":[%lld],\"tokens\":[", (long long)sp[k]);
		gguf_json_str(fp, s, l);
		fputs("]}", fp);
	}
	fputs("}},\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
	      "{\"String\":\"\xE2\x96\x81\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":"
	      "\"Fuse\"}", fp);
	if (space_prefix)
		fputs(",{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}", fp);
	fputs("]},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
	      "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":true,"
	      "\"byte_fallback\":true,\"ignore_merges\":false,\"vocab\":{", fp);
	for (uint64_t i = 0; i < tok->len; i++) {
		uint64_t len;
		const char *s = gguf_arr_str(tok, i, &len);
		if (i)
			fputc(',', fp);
		gguf_json_str(fp, s, len);
		fprintf(fp, ":%llu", (unsigned long long)i);
	}
	fputs("},\"merges\":[", fp);
	uint64_t total = km ? km->v.len : n_mg;
	for (uint64_t i = 0; i < total && st == QT_OK; i++) {
		uint64_t la, lb;
		const char *a, *b;
		if (km) {
			uint64_t len;
			const char *s = gguf_arr_str(&km->v, i, &len);
			const char *sp1 = memchr(s, ' ', len);
			if (!sp1 || sp1 == s || sp1 == s + len - 1) {
				st = qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.merges[%llu]: not two parts "
				                "separated by a space", g->path, (unsigned long long)i);
				break;
			}
			a = s;
			la = (uint64_t)(sp1 - s);
			b = sp1 + 1;
			lb = len - la - 1;
		} else {
			a = gguf_arr_str(tok, mg[i].a, &la);
			b = gguf_arr_str(tok, mg[i].b, &lb);
		}
		fputs(i ? ",[" : "[", fp);
		gguf_json_str(fp, a, la);
		fputc(',', fp);
		gguf_json_str(fp, b, lb);
		fputc(']', fp);
	}
	fputs("]}}\n", fp);
	free(x.slot);
	free(mg);
	if (st != QT_OK) {
		qt_out_abort(&o);
		return st;
	}
	return qt_out_commit(&o, err);
}
