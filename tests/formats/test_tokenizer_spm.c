/* qlora-tools: ISC license. */
/*
 * formats/tokenizer on SentencePiece-style tokenizer.json files (issue 15): golden ids from
 * HF tokenizers 0.23.3 (tests/ref/tokenizer_spm.py) on tests/data/tokenizer/corpus.jsonl and
 * llama.cpp's vocab test strings (tests/data/tokenizer/spm/llamacpp.jsonl) for seven pipeline
 * shapes, each the Llama-2 vocabulary of tests/data/tokenizer/spm/tokenizer.json with the
 * textual edits of variants.json (mistral, llama2, phi3, gemma, always, digits, never). Per
 * item: the ids (flags 0), TOKENIZER_TEXT_ONLY, TOKENIZER_ADD_SPECIAL, TOKENIZER_CONTINUE,
 * decode with and without skip_special; then random id sequences, decode only.
 * The same for Unigram tokenizer.json files with the Precompiled normalizer
 * (tests/ref/tokenizer_unigram.py: a SentencePiece nmt_nfkc Unigram model converted by
 * transformers' T5, XLM-R and generic converters; t5, xlmr, fallback, spm) on those items
 * and 2000 more of tests/data/tokenizer/unigram/extra.jsonl.
 */
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>

#include "common/io.h"
#include "formats/tokenizer.h"
#include "test.h"
#include "formats/tokgold.h"

static struct item *load_corpus(const char *extra, size_t *count)
{
	struct item *it = NULL;
	size_t cap = 0;
	*count = 0;
	if (load_lines("data/tokenizer/corpus.jsonl", &it, count, &cap) ||
	    load_lines("data/tokenizer/spm/llamacpp.jsonl", &it, count, &cap) ||
	    (extra && load_lines(extra, &it, count, &cap))) {
		free(it);
		return NULL;
	}
	return it;
}

static void tok_push(struct tok_ids *a, uint32_t id)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = id;
}

/* ids = plain[:p] + middle + plain[len - q:] (tests/ref/tokenizer_spm.py delta). */
static void read_delta(struct reader *r, const struct tok_ids *plain, struct tok_ids *out)
{
	size_t p = (size_t)varint(r), q = (size_t)varint(r);
	struct tok_ids mid = { 0 };
	read_ids(r, &mid);
	out->n = 0;
	if (p + q > plain->n) {
		r->bad = 1;
		free(mid.v);
		return;
	}
	size_t n = p + mid.n + q;
	if (n > out->cap) {
		out->cap = n + 16;
		out->v = realloc(out->v, out->cap * sizeof *out->v);
	}
	memcpy(out->v, plain->v, p * sizeof *out->v);
	if (mid.n)
		memcpy(out->v + p, mid.v, mid.n * sizeof *out->v);
	memcpy(out->v + p + mid.n, plain->v + plain->n - q, q * sizeof *out->v);
	out->n = n;
	free(mid.v);
}

static void show(const char *name, const char *what, size_t i, const struct tok_ids *got,
                 const struct tok_ids *want)
{
	size_t k = 0;
	while (k < got->n && k < want->n && got->v[k] == want->v[k])
		k++;
	fprintf(stderr, "  %s %s item %zu: %zu ids, want %zu; first difference at %zu: got %d, "
	        "want %d\n", name, what, i, got->n, want->n, k,
	        k < got->n ? (int)got->v[k] : -1, k < want->n ? (int)want->v[k] : -1);
}

struct counts { size_t ids, text, special, cont, dec, skip, rt, toks; };

static void golden(const char *dir, const char *name, json_t *edits, const struct item *corpus,
                   size_t count)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	struct tokenizer *t;
	snprintf(path, sizeof path, "/tmp/test_tokenizer_spm.%d.json", (int)getpid());
	CHECK(make_variant_in(dir, edits, path) == 0, "%s: cannot write %s", name, path);
	int rc = tokenizer_load(path, &t, &err);
	unlink(path);
	CHECK(rc == QT_OK, "%s: %s", name, err.msg);
	if (rc != QT_OK)
		return;
	snprintf(path, sizeof path, "%s/data/tokenizer/%s/%s.bin", test_srcdir(), dir, name);
	rc = qt_read_file(path, &buf, &len, &err);
	CHECK(rc == QT_OK, "%s", err.msg);
	if (rc != QT_OK) {
		tokenizer_free(t);
		return;
	}
	CHECK(len >= 16 && memcmp(buf, "QTTOKGLD", 8) == 0, "%s: bad golden header", name);
	uint32_t n_items = (uint32_t)(unsigned char)buf[12] | (uint32_t)(unsigned char)buf[13] << 8;
	CHECK(n_items == count, "%s: golden has %u items, corpus %zu", name, n_items, count);
	/* the trailer first: what add_special_tokens puts around every item */
	struct reader r = { (unsigned char *)buf + 16, (unsigned char *)buf + len, 0 };
	struct tok_ids want = { 0 }, want2 = { 0 }, got = { 0 }, alt = { 0 }, before = { 0 },
	               after = { 0 };
	struct counts c = { 0 };
	size_t shown = 0;
	for (int pass = 0; pass < 2; pass++) {
		r.p = (unsigned char *)buf + 16;
		for (size_t i = 0; i < count && i < n_items && !r.bad; i++) {
			read_ids(&r, &want);
			unsigned flags = (unsigned)varint(&r);
			if (flags & 1)
				read_ids(&r, &want2);
			size_t dn = corpus[i].n, sn;
			const char *dec = corpus[i].s, *skip;
			if (flags & 2)
				dec = read_str(&r, &dn);
			skip = dec;
			sn = dn;
			if (flags & 4)
				skip = read_str(&r, &sn);
			struct tok_ids sp = { 0 }, ct = { 0 };
			if (flags & 8)
				read_delta(&r, &want, &sp);
			if (flags & 16)
				read_delta(&r, &want, &ct);
			if (pass == 0) {
				free(sp.v);
				free(ct.v);
				continue;
			}
			got.n = 0;
			tokenizer_encode(t, corpus[i].s, corpus[i].n, 0, &got, &err);
			if (same_ids(&got, &want)) {
				c.ids++;
				c.toks += got.n;
			} else if (shown++ < 6) {
				show(name, "ids", i, &got, &want);
			}
			got.n = 0;
			tokenizer_encode(t, corpus[i].s, corpus[i].n, TOKENIZER_TEXT_ONLY, &got, &err);
			if (same_ids(&got, (flags & 1) ? &want2 : &want))
				c.text++;
			else if (shown++ < 6)
				show(name, "text-only", i, &got, (flags & 1) ? &want2 : &want);
			if (!(flags & 8)) {
				alt.n = 0;
				for (size_t k = 0; k < before.n; k++)
					tok_push(&alt, before.v[k]);
				for (size_t k = 0; k < want.n; k++)
					tok_push(&alt, want.v[k]);
				for (size_t k = 0; k < after.n; k++)
					tok_push(&alt, after.v[k]);
			}
			got.n = 0;
			tokenizer_encode(t, corpus[i].s, corpus[i].n, TOKENIZER_ADD_SPECIAL, &got,
			                 &err);
			if (same_ids(&got, (flags & 8) ? &sp : &alt))
				c.special++;
			else if (shown++ < 6)
				show(name, "add-special", i, &got, (flags & 8) ? &sp : &alt);
			got.n = 0;
			tokenizer_encode(t, corpus[i].s, corpus[i].n, TOKENIZER_CONTINUE, &got, &err);
			if (same_ids(&got, (flags & 16) ? &ct : &want))
				c.cont++;
			else if (shown++ < 6)
				show(name, "continue", i, &got, (flags & 16) ? &ct : &want);
			char *d;
			size_t l;
			tokenizer_decode(t, want.v, want.n, 0, &d, &l, &err);
			if (l == dn && memcmp(d, dec, l) == 0)
				c.dec++;
			else if (shown++ < 6)
				fprintf(stderr, "  %s item %zu: decode \"%.*s\", want \"%.*s\"\n", name,
				        i, (int)(l > 60 ? 60 : l), d, (int)(dn > 60 ? 60 : dn), dec);
			c.rt += l == corpus[i].n && memcmp(d, corpus[i].s, l) == 0;
			free(d);
			tokenizer_decode(t, want.v, want.n, 1, &d, &l, &err);
			c.skip += l == sn && memcmp(d, skip, l) == 0;
			free(d);
			free(sp.v);
			free(ct.v);
		}
		size_t m = (size_t)varint(&r), okrand = 0;
		for (size_t i = 0; i < m && !r.bad; i++) {
			read_ids(&r, &want);
			int same = 1;
			for (int sk = 0; sk < 2; sk++) {
				size_t wn, l;
				const char *w = read_str(&r, &wn);
				if (pass == 0)
					continue;
				char *d;
				tokenizer_decode(t, want.v, want.n, sk, &d, &l, &err);
				if (!(l == wn && memcmp(d, w, l) == 0) && shown++ < 6)
					fprintf(stderr, "  %s random %zu (skip %d, first id %u): \"%.*s\", "
					        "want \"%.*s\"\n", name, i, sk, want.n ? want.v[0] : 0,
					        (int)(l > 40 ? 40 : l), d, (int)(wn > 40 ? 40 : wn), w);
				same &= l == wn && memcmp(d, w, l) == 0;
				free(d);
			}
			okrand += same;
		}
		read_ids(&r, &before);
		read_ids(&r, &after);
		CHECK(!r.bad && r.p == r.end, "%s: golden file misread", name);
		if (pass == 0)
			continue;
		CHECK(m >= 100 && okrand == m, "%s: random-id decode identical on %zu of %zu", name,
		      okrand, m);
		CHECK(c.ids == count, "%s: ids identical on %zu of %zu items", name, c.ids, count);
		CHECK(c.text == count, "%s: TEXT_ONLY identical on %zu of %zu", name, c.text, count);
		CHECK(c.special == count, "%s: ADD_SPECIAL identical on %zu of %zu", name, c.special,
		      count);
		CHECK(c.cont == count, "%s: CONTINUE identical on %zu of %zu", name, c.cont, count);
		CHECK(c.dec == count, "%s: decode identical on %zu of %zu", name, c.dec, count);
		CHECK(c.skip == count, "%s: decode(skip_special) identical on %zu of %zu", name,
		      c.skip, count);
		printf("%s: ids identical on %zu/%zu items (%zu tokens), text-only %zu/%zu, "
		       "add-special %zu/%zu, continue %zu/%zu, decode %zu/%zu (%zu round-trip to "
		       "the input), random-id decode %zu/%zu\n", name, c.ids, count, c.toks, c.text,
		       count, c.special, count, c.cont, count, c.dec, count, c.rt, okrand, m);
	}
	free(want.v);
	free(want2.v);
	free(got.v);
	free(alt.v);
	free(before.v);
	free(after.v);
	free(buf);
	tokenizer_free(t);
}

/* One fixture folder: its tokenizer.json, variants.json and one golden per variant. */
static void folder(const char *dir, const char *extra, size_t min_items, size_t min_variants)
{
	size_t count = 0;
	struct item *c = load_corpus(extra, &count);
	CHECK(c && count >= min_items, "%s corpus: %zu items", dir, count);
	char path[4096];
	snprintf(path, sizeof path, "%s/data/tokenizer/%s/variants.json", test_srcdir(), dir);
	json_error_t je;
	json_t *v = json_load_file(path, 0, &je);
	CHECK(json_is_object(v) && json_object_size(v) >= min_variants, "%s: %s", path, je.text);
	const char *name;
	json_t *edits;
	if (c && v)
		json_object_foreach(v, name, edits)
			golden(dir, name, edits, c, count);
	json_decref(v);
	for (size_t i = 0; c && i < count; i++)
		free(c[i].s);
	free(c);
}

int main(void)
{
	folder("spm", NULL, 900, 7);
	folder("unigram", "data/tokenizer/unigram/extra.jsonl", 2900, 4);
	return test_main_end();
}
