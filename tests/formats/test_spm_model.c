/* qlora-tools: ISC license. */
/*
 * formats/tokenizer on SentencePiece tokenizer.model files (issue 15): the ids of the
 * sentencepiece library's EncodeAsIds (tests/ref/spm_model.py, sentencepiece 0.2.3) on
 * tests/data/tokenizer/corpus.jsonl, llama.cpp's vocab test strings and a few more, for
 * Llama-2's model (BPE, byte_fallback) and three trained here (Unigram with byte_fallback and
 * user-defined pieces, Unigram with unknown characters, BPE; Unigram with nmt_nfkc's and BPE
 * with nfkc_cf's precompiled_charsmap, on spm-model/norm.jsonl too). The library never matches
 * control pieces in text, so the encode is TOKENIZER_TEXT_ONLY. Decode is compared with
 * DecodeIds where the library's decoder and ours agree by construction (reported, not
 * required: the library writes " \u2047 " for an unknown piece).
 */
#include <stdint.h>

#include "formats/tokenizer.h"
#include "test.h"
#include "formats/tokgold.h"

static const char *const extra[] = {
	"a<sep>b", "<sep>", " <sep> x", "[MASK] is [MASK]", "   lots   of   spaces   ", " ", "  ",
	"\t tab", NULL /* "x" * 300 */, "<s>not control</s>", "ab<sep><sep>cd",
	"\xE2\x96\x81\xE2\x96\x81x\xE2\x96\x81", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE"
	"\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88", "\xF0\x9F\x99\x82\xF0\x9F\x99\x82 emoji",
	"\xC2\xA0nbsp", "",
};

static void check(const char *name, const struct item *c, size_t count)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	struct tokenizer *t;
	snprintf(path, sizeof path, "%s/data/tokenizer/spm-model/%s.model", test_srcdir(), name);
	int rc = tokenizer_load(path, &t, &err);
	CHECK(rc == QT_OK, "%s: %s", name, err.msg);
	if (rc != QT_OK)
		return;
	snprintf(path, sizeof path, "%s/data/tokenizer/spm-model/%s.bin", test_srcdir(), name);
	rc = qt_read_file(path, &buf, &len, &err);
	CHECK(rc == QT_OK, "%s", err.msg);
	if (rc != QT_OK) {
		tokenizer_free(t);
		return;
	}
	uint32_t n_items = (uint32_t)(unsigned char)buf[12] | (uint32_t)(unsigned char)buf[13] << 8;
	CHECK(n_items == count, "%s: golden has %u items, corpus %zu", name, n_items, count);
	struct reader r = { (unsigned char *)buf + 16, (unsigned char *)buf + len, 0 };
	struct tok_ids want = { 0 }, got = { 0 };
	size_t ok = 0, okdec = 0, toks = 0, shown = 0;
	for (size_t i = 0; i < count && i < n_items && !r.bad; i++) {
		read_ids(&r, &want);
		unsigned flags = (unsigned)varint(&r);
		size_t dn = c[i].n;
		const char *dec = c[i].s;
		if (flags & 2)
			dec = read_str(&r, &dn);
		got.n = 0;
		tokenizer_encode(t, c[i].s, c[i].n, TOKENIZER_TEXT_ONLY, &got, &err);
		if (same_ids(&got, &want)) {
			ok++;
			toks += got.n;
		} else if (shown++ < 6) {
			size_t k = 0;
			while (k < got.n && k < want.n && got.v[k] == want.v[k])
				k++;
			fprintf(stderr, "  %s item %zu: %zu ids, want %zu; first difference at %zu: got "
			        "%d, want %d\n", name, i, got.n, want.n, k, k < got.n ? (int)got.v[k] : -1,
			        k < want.n ? (int)want.v[k] : -1);
		}
		char *d;
		size_t l;
		tokenizer_decode(t, want.v, want.n, 1, &d, &l, &err);
		okdec += l == dn && memcmp(d, dec, l) == 0;
		free(d);
	}
	CHECK(!r.bad && varint(&r) == 0 && r.p == r.end, "%s: golden file misread", name);
	CHECK(ok == count, "%s: ids identical on %zu of %zu items", name, ok, count);
	printf("%s.model: ids identical to sentencepiece on %zu/%zu items (%zu tokens); decode "
	       "identical on %zu/%zu\n", name, ok, count, toks, okdec, count);
	free(want.v);
	free(got.v);
	free(buf);
	tokenizer_free(t);
}

int main(void)
{
	struct item *c = NULL;
	size_t count = 0, cap = 0;
	if (load_lines("data/tokenizer/corpus.jsonl", &c, &count, &cap) ||
	    load_lines("data/tokenizer/spm/llamacpp.jsonl", &c, &count, &cap))
		return 1;
	for (size_t k = 0; k < sizeof extra / sizeof *extra; k++) {
		if (count == cap) {
			cap *= 2;
			c = realloc(c, cap * sizeof *c);
		}
		const char *s = extra[k];
		char xs[301];
		if (!s) {
			memset(xs, 'x', 300);
			xs[300] = 0;
			s = xs;
		}
		c[count].n = strlen(s);
		c[count].s = malloc(c[count].n + 1);
		memcpy(c[count].s, s, c[count].n + 1);
		count++;
	}
	check("llama", c, count);
	check("uni", c, count);
	check("uni-unk", c, count);
	check("bpe", c, count);
	/* with a precompiled_charsmap, on the same items and strings the maps change */
	if (load_lines("data/tokenizer/spm-model/norm.jsonl", &c, &count, &cap))
		return 1;
	check("uni-nfkc", c, count);
	check("bpe-nfkc", c, count);
	check("rules", c, count); /* five custom rules, one a two-character key */
	for (size_t i = 0; i < count; i++)
		free(c[i].s);
	free(c);
	return test_main_end();
}
