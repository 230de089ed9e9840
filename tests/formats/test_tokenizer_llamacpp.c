/* qlora-tools: ISC license. */
/*
 * formats/tokenizer against llama.cpp's own tokenizer (issue 4): the tokenizer.json that
 * import-gguf rebuilds from the SmolLM2-135M-Instruct GGUF must give, on every line of
 * tests/data/tokenizer/corpus.jsonl and tests/data/llamacpp/extra.jsonl (long digit runs,
 * digits next to letters, spaces and special tokens, whitespace runs), exactly the ids that
 * llama.cpp gives on the GGUF itself
 * (tests/ref/llamacpp_tokenizer.py wrote tests/data/llamacpp/tokenizer.bin with
 * llama-cpp-python 0.3.36, vocab_only). Both ways: special-token text parsed (flags 0) and
 * taken as plain text (TOKENIZER_TEXT_ONLY = llama.cpp parse_special=false).
 * Checks $QT_MODEL_DIR/tokenizer.json (skipped without the model) and the committed fixture
 * tests/data/tokenizer/smollm2/tokenizer.json, which import-gguf reproduces byte for byte.
 */
#include <stdint.h>

#include <jansson.h>

#include "common/io.h"
#include "formats/tokenizer.h"
#include "test.h"
#include "formats/tokgold.h"

/* tests/data/tokenizer/corpus.jsonl, then tests/data/llamacpp/extra.jsonl. */
static struct item *load_corpus(size_t *count)
{
	struct item *it = NULL;
	size_t cap = 0;
	*count = 0;
	if (load_lines("data/tokenizer/corpus.jsonl", &it, count, &cap) ||
	    load_lines("data/llamacpp/extra.jsonl", &it, count, &cap)) {
		for (size_t i = 0; i < *count; i++)
			free(it[i].s);
		free(it);
		return NULL;
	}
	return it;
}

static void show(const char *what, size_t i, const struct tok_ids *got,
                 const struct tok_ids *want)
{
	size_t k = 0;
	while (k < got->n && k < want->n && got->v[k] == want->v[k])
		k++;
	fprintf(stderr, "  %s item %zu: %zu ids, llama.cpp %zu; first difference at %zu: ours %d, "
	        "llama.cpp %d\n", what, i, got->n, want->n, k,
	        k < got->n ? (int)got->v[k] : -1, k < want->n ? (int)want->v[k] : -1);
}


static void check(const char *tj, const struct item *corpus, size_t count,
                  const unsigned char *gold, size_t glen)
{
	struct qt_err err;
	struct tokenizer *t;
	int rc = tokenizer_load(tj, &t, &err);
	CHECK(rc == QT_OK, "%s", err.msg);
	if (rc != QT_OK)
		return;
	struct reader r = { gold + 16, gold + glen, 0 };
	uint32_t n_items = (uint32_t)gold[12] | (uint32_t)gold[13] << 8 |
	                   (uint32_t)gold[14] << 16 | (uint32_t)gold[15] << 24;
	CHECK(n_items == count, "golden has %u items, corpus %zu", n_items, count);
	struct tok_ids want = { 0 }, want2 = { 0 }, got = { 0 };
	size_t ok = 0, ok2 = 0, toks = 0, shown = 0;
	for (size_t i = 0; i < count && i < n_items && !r.bad; i++) {
		read_ids(&r, &want);
		unsigned flags = (unsigned)varint(&r);
		if (flags & 1)
			read_ids(&r, &want2);
		got.n = 0;
		tokenizer_encode(t, corpus[i].s, corpus[i].n, 0, &got, &err);
		if (same_ids(&got, &want)) {
			ok++;
			toks += got.n;
		} else if (shown++ < 5) {
			show("special", i, &got, &want);
		}
		got.n = 0;
		tokenizer_encode(t, corpus[i].s, corpus[i].n, TOKENIZER_TEXT_ONLY, &got, &err);
		if (same_ids(&got, (flags & 1) ? &want2 : &want))
			ok2++;
		else if (shown++ < 5)
			show("text-only", i, &got, (flags & 1) ? &want2 : &want);
	}
	CHECK(!r.bad && r.p == r.end, "golden file misread");
	CHECK(ok == count, "%s: ids identical to llama.cpp on %zu of %zu items", tj, ok, count);
	CHECK(ok2 == count, "%s: text-only ids identical to llama.cpp on %zu of %zu items", tj,
	      ok2, count);
	printf("%s: ids identical to llama.cpp on %zu/%zu items (%zu tokens), text-only %zu/%zu\n",
	       tj, ok, count, toks, ok2, count);
	free(want.v);
	free(want2.v);
	free(got.v);
	tokenizer_free(t);
}

int main(void)
{
	size_t count = 0;
	struct item *corpus = load_corpus(&count);
	CHECK(corpus && count > 1000, "cannot read the corpus");
	char path[4096], *gold = NULL;
	size_t glen = 0;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/llamacpp/tokenizer.bin", test_srcdir());
	int rc = qt_read_file(path, &gold, &glen, &err);
	CHECK(rc == QT_OK, "%s", err.msg);
	CHECK(rc != QT_OK || (glen >= 16 && memcmp(gold, "QTLCPTOK", 8) == 0 && gold[8] == 1),
	      "%s: bad header", path);
	if (corpus && rc == QT_OK && glen >= 16) {
		snprintf(path, sizeof path, "%s/data/tokenizer/smollm2/tokenizer.json",
		         test_srcdir());
		check(path, corpus, count, (const unsigned char *)gold, glen);
		const char *md = getenv("QT_MODEL_DIR");
		FILE *f = NULL;
		if (md && *md) {
			snprintf(path, sizeof path, "%s/tokenizer.json", md);
			f = fopen(path, "rb");
		}
		if (f) {
			fclose(f);
			check(path, corpus, count, (const unsigned char *)gold, glen);
		} else {
			SKIP("no default model (QT_MODEL_DIR=%s): its tokenizer.json is not checked",
			     md ? md : "");
		}
	}
	for (size_t i = 0; corpus && i < count; i++)
		free(corpus[i].s);
	free(corpus);
	free(gold);
	return test_main_end();
}
