/* qlora-tools: ISC license. */
/*
 * formats/tokenizer unit cases on tiny tokenizer.json files written here: every Split
 * behaviour (with and without invert, String and Regex patterns), Digits, the BPE merge order,
 * unk with and without fuse_unk, continuing_subword_prefix / end_of_word_suffix, added tokens
 * (lstrip, rstrip, single_word, TOKENIZER_TEXT_ONLY, skip_special decode), and the refused or
 * broken files with their messages, the reference.md 1.8 SmolLM2 vectors, and 40 random
 * untrained BPE models (tests/data/tokenizer/random_bpe.jsonl). Every expected id list comes
 * from HF tokenizers 0.23.3 on the same JSON.
 */
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>

#include "common/io.h"
#include "formats/tokenizer.h"
#include "test.h"

static char tmpdir[] = "/tmp/test_tokenizer_XXXXXX";
static int n_files;

/* Writes json to a new temp file and loads it; returns the status, *t on success. */
static int load_str(const char *json, struct tokenizer **t, struct qt_err *err)
{
	char path[256];
	snprintf(path, sizeof path, "%s/t%d.json", tmpdir, n_files++);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(json, f);
	fclose(f);
	int rc = tokenizer_load(path, t, err);
	unlink(path);
	return rc;
}

/* tokenizer.json with a BPE model: pre is the pre_tokenizer JSON, model the extra model
 * fields (each ending in ','), added the added_tokens array. */
static char *mk(const char *pre, const char *vocab, const char *merges, const char *model,
                const char *added)
{
	static char buf[8192];
	snprintf(buf, sizeof buf,
	         "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":%s,"
	         "\"normalizer\":null,\"pre_tokenizer\":%s,\"post_processor\":null,"
	         "\"decoder\":null,\"model\":{\"type\":\"BPE\",\"dropout\":null,%s"
	         "\"vocab\":%s,\"merges\":%s}}",
	         added ? added : "[]", pre ? pre : "null", model ? model : "", vocab, merges);
	return buf;
}

/* Encodes text with flags and compares with the n ids that follow. */
static void expect(const struct tokenizer *t, const char *what, const char *text, int flags,
                   int n, ...)
{
	struct tok_ids ids = { 0 };
	struct qt_err err;
	int rc = tokenizer_encode(t, text, strlen(text), flags, &ids, &err);
	va_list ap;
	va_start(ap, n);
	int ok = rc == QT_OK && ids.n == (size_t)n;
	for (int i = 0; i < n; i++) {
		unsigned v = va_arg(ap, unsigned);
		if (ok && ids.v[i] != v)
			ok = 0;
	}
	va_end(ap);
	CHECK(ok, "%s: \"%s\": got %zu ids (first %d)", what, text, ids.n,
	      ids.n ? (int)ids.v[0] : -1);
	free(ids.v);
}

static const char *V = "{\"the\":0,\"-\":1,\"final\":2,\"countdown\":3,\"the-\":4,\"final-\":5,"
                       "\"-final\":6,\"-countdown\":7,\"--\":8,\"a\":9,\"1\":10,\"2\":11,"
                       "\"12\":12,\"b\":13,\"345\":14,\"3\":15,\"4\":16,\"5\":17}";

static struct tokenizer *split_tok(const char *pattern, const char *behavior, int invert)
{
	char pre[256];
	struct tokenizer *t = NULL;
	struct qt_err err;
	snprintf(pre, sizeof pre, "{\"type\":\"Split\",\"pattern\":%s,\"behavior\":\"%s\","
	         "\"invert\":%s}", pattern, behavior, invert ? "true" : "false");
	int rc = load_str(mk(pre, V, "[]", "\"ignore_merges\":true,", NULL), &t, &err);
	CHECK(rc == QT_OK, "%s: %s", behavior, err.msg);
	return t;
}

static void behaviours(void)
{
	/* Tokenizer.from_str(...).encode("the-final--countdown", add_special_tokens=False) */
	static const struct {
		const char *pat, *b;
		int inv, n, ids[6];
	} cases[] = {
		{ "{\"String\":\"-\"}", "Removed", 0, 3, { 0, 2, 3 } },
		{ "{\"Regex\":\"-+\"}", "Removed", 0, 3, { 0, 2, 3 } },
		{ "{\"String\":\"-\"}", "Removed", 1, 3, { 1, 1, 1 } },
		{ "{\"Regex\":\"-+\"}", "Removed", 1, 2, { 1, 8 } },
		{ "{\"String\":\"-\"}", "Isolated", 0, 6, { 0, 1, 2, 1, 1, 3 } },
		{ "{\"Regex\":\"-+\"}", "Isolated", 0, 5, { 0, 1, 2, 8, 3 } },
		{ "{\"String\":\"-\"}", "Isolated", 1, 6, { 0, 1, 2, 1, 1, 3 } },
		{ "{\"String\":\"-\"}", "MergedWithPrevious", 0, 4, { 4, 5, 1, 3 } },
		{ "{\"Regex\":\"-+\"}", "MergedWithPrevious", 0, 5, { 4, 9, 1, 1, 3 } },
		{ "{\"String\":\"-\"}", "MergedWithPrevious", 1, 4, { 0, 6, 1, 7 } },
		{ "{\"Regex\":\"-+\"}", "MergedWithPrevious", 1, 4, { 0, 6, 1, 1 } },
		{ "{\"String\":\"-\"}", "MergedWithNext", 0, 4, { 0, 6, 1, 7 } },
		{ "{\"Regex\":\"-+\"}", "MergedWithNext", 0, 4, { 0, 6, 1, 1 } },
		{ "{\"String\":\"-\"}", "MergedWithNext", 1, 4, { 4, 5, 1, 3 } },
		{ "{\"Regex\":\"-+\"}", "MergedWithNext", 1, 5, { 4, 9, 1, 1, 3 } },
		{ "{\"String\":\"-\"}", "Contiguous", 0, 5, { 0, 1, 2, 8, 3 } },
		{ "{\"Regex\":\"-+\"}", "Contiguous", 1, 5, { 0, 1, 2, 8, 3 } },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct tokenizer *t = split_tok(cases[i].pat, cases[i].b, cases[i].inv);
		if (!t)
			continue;
		struct tok_ids ids = { 0 };
		struct qt_err err;
		tokenizer_encode(t, "the-final--countdown", 20, 0, &ids, &err);
		int ok = ids.n == (size_t)cases[i].n;
		for (int k = 0; ok && k < cases[i].n; k++)
			ok = ids.v[k] == (uint32_t)cases[i].ids[k];
		CHECK(ok, "Split %s %s invert %d: %zu ids", cases[i].pat, cases[i].b, cases[i].inv,
		      ids.n);
		free(ids.v);
		tokenizer_free(t);
	}
	struct tokenizer *t;
	struct qt_err err;
	if (load_str(mk("{\"type\":\"Digits\",\"individual_digits\":true}", V, "[]",
	                "\"ignore_merges\":true,", NULL), &t, &err) == QT_OK) {
		expect(t, "Digits individual", "a12b345", 0, 7, 9, 10, 11, 13, 15, 16, 17);
		tokenizer_free(t);
	}
	if (load_str(mk("{\"type\":\"Digits\",\"individual_digits\":false}", V, "[]",
	                "\"ignore_merges\":true,", NULL), &t, &err) == QT_OK) {
		expect(t, "Digits contiguous", "a12b345", 0, 4, 9, 12, 13, 14);
		expect(t, "empty input", "", 0, 0);
		tokenizer_free(t);
	}
}

static void model_cases(void)
{
	struct tokenizer *t;
	struct qt_err err;
	char a101[102];
	memset(a101, 'a', 101);
	a101[101] = 0;
	if (load_str(mk(NULL, "{\"a\":0,\"aa\":1}", "[[\"a\",\"a\"]]", NULL, NULL), &t, &err) ==
	    QT_OK) {
		expect(t, "merge order", "aaaa", 0, 2, 1, 1);
		expect(t, "merge order", "aaa", 0, 2, 1, 0);
		struct tok_ids ids = { 0 };
		tokenizer_encode(t, a101, 101, 0, &ids, &err); /* the heap path */
		CHECK(ids.n == 51 && ids.v[0] == 1 && ids.v[49] == 1 && ids.v[50] == 0,
		      "101 a: %zu ids", ids.n);
		free(ids.v);
		tokenizer_free(t);
	}
	if (load_str(mk(NULL, "{\"<unk>\":0,\"a\":1}", "[]",
	                "\"unk_token\":\"<unk>\",\"fuse_unk\":false,", NULL), &t, &err) == QT_OK) {
		expect(t, "unk", "a中中a", 0, 4, 1, 0, 0, 1);
		tokenizer_free(t);
	}
	if (load_str(mk(NULL, "{\"<unk>\":0,\"a\":1}", "[]",
	                "\"unk_token\":\"<unk>\",\"fuse_unk\":true,", NULL), &t, &err) == QT_OK) {
		expect(t, "fuse_unk", "a中中a", 0, 3, 1, 0, 1);
		tokenizer_free(t);
	}
	if (load_str(mk(NULL, "{\"a\":0,\"##b\":1,\"ab\":2,\"b\":3}", "[[\"a\",\"##b\"]]",
	                "\"continuing_subword_prefix\":\"##\",", NULL), &t, &err) == QT_OK) {
		expect(t, "prefix", "ab", 0, 1, 2);
		expect(t, "prefix", "ba", 0, 1, 3);
		tokenizer_free(t);
	} else {
		CHECK(0, "prefix: %s", err.msg);
	}
	/* byte_fallback covers the prefix bytes too, and does not flush a pending unk */
	if (load_str(mk(NULL, "{\"a\":0,\"<0x23>\":1,\"<0x62>\":2,\"<0x63>\":3,\"<unk>\":4}", "[]",
	                "\"continuing_subword_prefix\":\"##\",\"byte_fallback\":true,"
	                "\"unk_token\":\"<unk>\",", NULL), &t, &err) == QT_OK) {
		expect(t, "fallback+prefix", "abc", 0, 7, 0, 1, 1, 2, 1, 1, 3);
		expect(t, "fallback+unk", "axa", 0, 3, 0, 4, 4);
		expect(t, "fallback+unk order", "xab", 0, 5, 4, 1, 1, 2, 4);
		tokenizer_free(t);
	} else {
		CHECK(0, "fallback+prefix: %s", err.msg);
	}
	if (load_str(mk(NULL, "{\"a\":0,\"b</w>\":1,\"ab</w>\":2,\"b\":3,\"a</w>\":4}",
	                "[\"a b</w>\"]", "\"end_of_word_suffix\":\"</w>\",", NULL), &t, &err) ==
	    QT_OK) {
		expect(t, "suffix", "ab", 0, 1, 2);
		expect(t, "suffix", "ba", 0, 2, 3, 4);
		tokenizer_free(t);
	} else {
		CHECK(0, "suffix: %s", err.msg);
	}
}

static void added_cases(void)
{
	struct tokenizer *t;
	struct qt_err err;
	const char *added =
		"[{\"id\":5,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":true,"
		"\"rstrip\":true,\"normalized\":false,\"special\":true},"
		"{\"id\":6,\"content\":\"ab\",\"single_word\":true,\"lstrip\":false,"
		"\"rstrip\":false,\"normalized\":true,\"special\":false}]";
	int rc = load_str(mk(NULL, "{\"a\":0,\"b\":1,\" \":2,\"x\":3}", "[]", NULL, added), &t,
	                  &err);
	CHECK(rc == QT_OK, "added: %s", err.msg);
	if (rc != QT_OK)
		return;
	/* the JSON ids are not trusted: new contents get vocab size, size + 1, ... */
	CHECK(tokenizer_token_id(t, "<s>") == 4 && tokenizer_token_id(t, "ab") == 5,
	      "added ids %d %d", (int)tokenizer_token_id(t, "<s>"),
	      (int)tokenizer_token_id(t, "ab"));
	CHECK(tokenizer_is_special(t, 4) && !tokenizer_is_special(t, 5), "special flags");
	CHECK(tokenizer_vocab_size(t) == 6, "vocab size %u", tokenizer_vocab_size(t));
	CHECK(tokenizer_token_str(t, 3) && strcmp(tokenizer_token_str(t, 3), "x") == 0, "str");
	CHECK(tokenizer_token_str(t, 99) == NULL, "unknown id");
	expect(t, "lstrip/rstrip", "x  <s>  x", 0, 3, 3, 4, 3);
	expect(t, "text only", "x  <s>  x", TOKENIZER_TEXT_ONLY, 6, 3, 2, 2, 2, 2, 3);
	expect(t, "single_word", "ab", 0, 1, 5);
	expect(t, "single_word", "xab", 0, 3, 3, 0, 1);
	expect(t, "single_word", "ab x", 0, 3, 5, 2, 3);
	expect(t, "single_word after special", "<s>ab", 0, 2, 4, 5);
	expect(t, "text only", "<s>ab", TOKENIZER_TEXT_ONLY, 1, 5);
	expect(t, "text only", "a<s>b", TOKENIZER_TEXT_ONLY, 2, 0, 1);
	uint32_t ids[] = { 3, 4, 3, 99 };
	char *d;
	size_t l;
	tokenizer_decode(t, ids, 4, 0, &d, &l, &err);
	CHECK(strcmp(d, "x <s> x") == 0, "null decoder: \"%s\"", d);
	free(d);
	tokenizer_decode(t, ids, 4, 1, &d, &l, &err);
	CHECK(strcmp(d, "x x") == 0, "skip special: \"%s\"", d);
	free(d);
	tokenizer_free(t);
}

static void bad(const char *what, const char *json, int status, const char *frag)
{
	struct tokenizer *t = NULL;
	struct qt_err err = { 0 };
	int rc = load_str(json, &t, &err);
	CHECK(rc == status && t == NULL && strstr(err.msg, frag), "%s: status %d, message \"%s\"",
	      what, rc, err.msg);
	tokenizer_free(t);
}

static void bad_files(void)
{
	char buf[8192];
	const char *v = "{\"a\":0,\"b\":1,\"ab\":2}";
	bad("invalid JSON", "{\"version\":\"1.0\",\n\"model\":", QT_EDATA, ":2: invalid JSON");
	bad("not an object", "[1,2]", QT_EDATA, "top level: expected a JSON object");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	memcpy(strstr(buf, "\"1.0\""), "\"2.0\"", 5);
	bad("version", buf, QT_EDATA, "version: expected \"1.0\"");
	bad("WordPiece", "{\"version\":\"1.0\",\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}",
	    QT_EDATA, "model.type: unsupported model type \"WordPiece\"");
	bad("Unigram empty", "{\"version\":\"1.0\",\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}",
	    QT_EDATA, "model.vocab: expected a non-empty array of [piece, score] pairs");
	bad("Unigram no unk", "{\"version\":\"1.0\",\"model\":{\"type\":\"Unigram\",\"unk_id\":"
	    "null,\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "model.unk_id: expected the id of a piece");
	bad("Unigram unk range", "{\"version\":\"1.0\",\"model\":{\"type\":\"Unigram\",\"unk_id\":"
	    "1,\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "model.unk_id: expected the id of a piece");
	bad("Unigram pair", "{\"version\":\"1.0\",\"model\":{\"type\":\"Unigram\",\"unk_id\":"
	    "0,\"vocab\":[[\"a\",-1.0],[\"b\"]]}}", QT_EDATA, "model.vocab[1]: expected a [piece, "
	    "score] pair");
	bad("Unigram twice", "{\"version\":\"1.0\",\"model\":{\"type\":\"Unigram\",\"unk_id\":"
	    "0,\"vocab\":[[\"a\",-1.0],[\"a\",-2.0]]}}", QT_EDATA, "model.vocab[1]: piece \"a\" "
	    "appears twice");
	bad("Precompiled base64", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Precompiled\","
	    "\"precompiled_charsmap\":\"AA=*\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0,"
	    "\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "normalizer.precompiled_charsmap: not base64");
	bad("Precompiled trie", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Precompiled\","
	    "\"precompiled_charsmap\":\"CAAAAAAAAAA=\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0,"
	    "\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "normalizer.precompiled_charsmap: trie size 8 "
	    "does not fit in 8 bytes");
	bad("Precompiled UTF-8", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Precompiled\","
	    "\"precompiled_charsmap\":\"BAAAAAAAAAD/\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0,"
	    "\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "precompiled_charsmap: replacement strings: "
	    "invalid UTF-8 at byte 0");
	bad("Replace empty match", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Replace\","
	    "\"pattern\":{\"Regex\":\" *\"},\"content\":\"x\"},\"model\":{\"type\":\"Unigram\","
	    "\"unk_id\":0,\"vocab\":[[\"a\",-1.0]]}}", QT_EDATA, "normalizer.pattern.Regex: \" *\" "
	    "matches the empty string");
	bad("no model", "{\"version\":\"1.0\"}", QT_EDATA, "model: missing or not an object");
	bad("no vocab", "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"merges\":[]}}",
	    QT_EDATA, "model.vocab: missing");
	bad("no merges", "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"vocab\":{}}}",
	    QT_EDATA, "model.merges: missing");
	bad("bad id", mk(NULL, "{\"a\":-1}", "[]", NULL, NULL), QT_EDATA,
	    "model.vocab: \"a\": expected an id");
	bad("legacy merge with 3 parts", mk(NULL, v, "[\"a b\",\"a b c\"]", NULL, NULL), QT_EDATA,
	    "model.merges[1]: bad merge \"a b c\"");
	bad("legacy merge without space", mk(NULL, v, "[\"ab\"]", NULL, NULL), QT_EDATA,
	    "model.merges[0]: bad merge");
	bad("merge token missing", mk(NULL, v, "[[\"a\",\"c\"]]", NULL, NULL), QT_EDATA,
	    "model.merges[0]: token \"c\" is not in model.vocab");
	bad("merged token missing", mk(NULL, v, "[[\"b\",\"a\"]]", NULL, NULL), QT_EDATA,
	    "model.merges[0]: merged token \"ba\" is not in model.vocab");
	bad("mixed merges", mk(NULL, v, "[\"a b\",[\"a\",\"b\"]]", NULL, NULL), QT_EDATA,
	    "model.merges[1]: expected a string");
	bad("unk not in vocab", mk(NULL, v, "[]", "\"unk_token\":\"<unk>\",", NULL), QT_EDATA,
	    "model.unk_token: \"<unk>\" is not in model.vocab");
	bad("dropout", mk(NULL, v, "[]", "\"dropout\":0.1,", NULL), QT_EDATA,
	    "model.dropout: 0.1 is not supported");
	bad("Metaspace", mk("{\"type\":\"Metaspace\"}", v, "[]", NULL, NULL), QT_EDATA,
	    "pre_tokenizer.replacement: expected a string");
	bad("Metaspace 2 chars", mk("{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", v, "[]",
	                            NULL, NULL), QT_EDATA,
	    "pre_tokenizer.replacement: expected exactly one character, not \"ab\"");
	bad("prepend_scheme", mk("{\"type\":\"Metaspace\",\"replacement\":\"a\","
	                         "\"prepend_scheme\":\"sometimes\"}", v, "[]", NULL, NULL),
	    QT_EDATA, "pre_tokenizer.prepend_scheme: expected \"first\", \"always\" or \"never\"");
	bad("add_prefix_space", mk("{\"type\":\"Metaspace\",\"replacement\":\"a\","
	                           "\"add_prefix_space\":false}", v, "[]", NULL, NULL), QT_EDATA,
	    "pre_tokenizer.add_prefix_space: false does not match prepend_scheme \"always\"");
	bad("nested", mk("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},"
	                 "{\"type\":\"Whitespace\"}]}", v, "[]", NULL, NULL), QT_EDATA,
	    "pre_tokenizer.pretokenizers[1].type: unsupported pre-tokenizer \"Whitespace\"");
	bad("behavior", mk("{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":"
	                   "\"isolated\",\"invert\":false}", v, "[]", NULL, NULL), QT_EDATA,
	    "pre_tokenizer.behavior: unknown behavior \"isolated\"");
	bad("bad regex", mk("{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},\"behavior\":"
	                    "\"Isolated\",\"invert\":false}", v, "[]", NULL, NULL), QT_EDATA,
	    "pre_tokenizer.pattern: regex error");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	char *p = strstr(buf, "\"normalizer\":null");
	char tail[8192];
	snprintf(tail, sizeof tail, "%s", p + 17);
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"normalizer\":{\"type\":\"Lowercase\"}%s",
	         tail);
	bad("normalizer", buf, QT_EDATA, "normalizer.type: unsupported normalizer \"Lowercase\"");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	p = strstr(buf, "\"normalizer\":null");
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"normalizer\":{\"type\":\"Sequence\","
	         "\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"x\"},{\"type\":"
	         "\"Replace\",\"pattern\":{\"Regex\":\"(a\"},\"content\":\" \"}]}%s", tail);
	bad("Replace Regex", buf, QT_EDATA, "normalizer.normalizers[1].pattern.Regex: regex "
	    "error");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	p = strstr(buf, "\"normalizer\":null");
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"normalizer\":{\"type\":\"Strip\","
	         "\"strip_left\":1,\"strip_right\":true}%s", tail);
	bad("Strip", buf, QT_EDATA, "normalizer: expected strip_left and strip_right");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	p = strstr(buf, "\"post_processor\":null");
	snprintf(tail, sizeof tail, "%s", p + 21);
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"post_processor\":{\"type\":"
	         "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
	         "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
	         "\"special_tokens\":{}}%s", tail);
	bad("TemplateProcessing", buf, QT_EDATA, "post_processor.special_tokens: no \"<s>\" "
	    "with its \"ids\"");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	p = strstr(buf, "\"decoder\":null");
	snprintf(tail, sizeof tail, "%s", p + 14);
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"decoder\":{\"type\":\"WordPiece\"}%s",
	         tail);
	bad("decoder", buf, QT_EDATA, "decoder.type: unsupported decoder \"WordPiece\"");
	snprintf(buf, sizeof buf, "%s", mk(NULL, v, "[]", NULL, NULL));
	p = strstr(buf, "\"decoder\":null");
	snprintf(tail, sizeof tail, "%s", p + 14);
	snprintf(p, sizeof buf - (size_t)(p - buf), "\"decoder\":{\"type\":\"Sequence\","
	         "\"decoders\":[{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
	         "\"start\":-1,\"stop\":0}]}%s", tail);
	bad("decoder Strip", buf, QT_EDATA, "decoder.decoders[1]: expected start and stop");
	bad("added", mk(NULL, v, "[]", NULL, "[{\"id\":3}]"), QT_EDATA,
	    "added_tokens[0]: expected an object with a string \"content\"");
	struct tokenizer *t = NULL;
	struct qt_err err;
	CHECK(tokenizer_load("/nonexistent/tokenizer.json", &t, &err) == QT_ENOINPUT && !t,
	      "missing file: %s", err.msg);
}

/* Random (untrained) merge lists with HF's ids: tests/ref/tokenizer_random_bpe.py. */
static void random_bpe(void)
{
	char path[4096], *buf;
	size_t len, models = 0, texts = 0, ok = 0;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/tokenizer/random_bpe.jsonl", test_srcdir());
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	for (char *p = buf, *e; p < buf + len; p = e + 1) {
		e = memchr(p, '\n', (size_t)(buf + len - p));
		if (!e)
			e = buf + len;
		json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
		char *tj = json_dumps(json_object_get(j, "tokenizer"), JSON_COMPACT);
		struct tokenizer *t = NULL;
		int rc = tj ? load_str(tj, &t, &err) : -1;
		free(tj);
		CHECK(rc == QT_OK, "random model %zu: %s", models, err.msg);
		json_t *tx = json_object_get(j, "texts"), *ids = json_object_get(j, "ids");
		for (size_t i = 0; t && i < json_array_size(tx); i++) {
			json_t *s = json_array_get(tx, i), *w = json_array_get(ids, i);
			struct tok_ids got = { 0 };
			tokenizer_encode(t, json_string_value(s), json_string_length(s), 0, &got, &err);
			int same = got.n == json_array_size(w);
			for (size_t k = 0; same && k < got.n; k++)
				same = got.v[k] == (uint32_t)json_integer_value(json_array_get(w, k));
			ok += same;
			texts++;
			free(got.v);
		}
		tokenizer_free(t);
		json_decref(j);
		models++;
	}
	free(buf);
	CHECK(models >= 40 && ok == texts, "random BPE: %zu of %zu texts identical (%zu models)",
	      ok, texts, models);
}

/* reference.md 1.8 test vectors, confirmed with HF tokenizers 0.23.3 on the smollm2 fixture */
static void smollm2_vectors(void)
{
	char path[4096];
	struct tokenizer *t;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/tokenizer/smollm2/tokenizer.json", test_srcdir());
	int rc = tokenizer_load(path, &t, &err);
	CHECK(rc == QT_OK, "%s", err.msg);
	if (rc != QT_OK)
		return;
	expect(t, "1.8", "Hello, we can use", 0, 5, 19556, 28, 392, 416, 722);
	expect(t, "1.8", "The capital of France is", 0, 5, 504, 3575, 282, 4649, 314);
	expect(t, "1.8", "Hello world! 123", 0, 7, 19556, 905, 17, 216, 33, 34, 35);
	expect(t, "1.8", "  multiple   spaces", 0, 4, 216, 2701, 256, 5600);
	expect(t, "1.8", "\n", 0, 1, 198);
	expect(t, "1.8", "Caf\xc3\xa9 d\xc3\xa9j\xc3\xa0 vu.", 0, 9, 51, 1939, 2756, 32564, 90,
	       16739, 386, 101, 30);
	expect(t, "1.8", "You are a helpful AI assistant named SmolLM, trained by Hugging Face", 0,
	       16, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407,
	       19712, 8182);
	expect(t, "1.8 specials", "<|im_start|>user\n<|im_end|>", 0, 4, 1, 4093, 198, 2);
	expect(t, "1.8 text only", "<|im_end|>", TOKENIZER_TEXT_ONLY, 7, 44, 108, 306, 79, 486,
	       108, 46);
	CHECK(tokenizer_vocab_size(t) == 49152 && tokenizer_token_id(t, "<|im_end|>") == 2 &&
	      tokenizer_is_special(t, 2) && !tokenizer_is_special(t, 17),
	      "smollm2 vocab %u", tokenizer_vocab_size(t));
	tokenizer_free(t);
}

/* TOKENIZER_ADD_SPECIAL: each post_processor shape, and the refusal of an unknown one. */
static void postproc_cases(void)
{
	static const struct { const char *pp; int rc; int n; unsigned ids[4]; } cases[] = {
		{ "null", QT_OK, 1, { 2 } },
		{ "{\"type\":\"BertProcessing\",\"sep\":[\"b\",1],\"cls\":[\"a\",0]}", QT_OK,
		  3, { 0, 2, 1 } },
		{ "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},{\"type\":"
		  "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"A\"}},"
		  "{\"Sequence\":{\"id\":\"A\"}},{\"SpecialToken\":{\"id\":\"B\"}}],"
		  "\"special_tokens\":{\"A\":{\"ids\":[1,0]},\"B\":{\"ids\":[1]}}},"
		  "{\"type\":\"RobertaProcessing\",\"sep\":[\"a\",0],\"cls\":[\"b\",1]}]}",
		  QT_OK, 0, { 0 } },
		{ "{\"type\":\"Weird\"}", QT_EDATA, 0, { 0 } },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		char buf[8192];
		snprintf(buf, sizeof buf, "%s", mk(NULL, "{\"a\":0,\"b\":1,\"ab\":2}",
		                                   "[[\"a\",\"b\"]]", NULL, NULL));
		char *p = strstr(buf, "\"post_processor\":null"), tail[8192];
		snprintf(tail, sizeof tail, "%s", p + 21);
		snprintf(p, sizeof buf - (size_t)(p - buf), "\"post_processor\":%s%s", cases[k].pp,
		         tail);
		struct tokenizer *t;
		struct qt_err err;
		int rc = load_str(buf, &t, &err);
		CHECK(rc == QT_OK, "post_processor %zu: %s", k, err.msg);
		if (rc != QT_OK)
			continue;
		struct tok_ids ids = { 0 };
		rc = tokenizer_encode(t, "ab", 2, TOKENIZER_ADD_SPECIAL, &ids, &err);
		CHECK(rc == cases[k].rc, "post_processor %zu: status %d", k, rc);
		if (k == 2) { /* Roberta wraps the template's result: b 1 0 ab 1 a */
			static const unsigned want[] = { 1, 1, 0, 2, 1, 0 };
			CHECK(ids.n == 6 && memcmp(ids.v, want, sizeof want) == 0,
			      "Sequence of processors: %zu ids", ids.n);
		} else if (rc == QT_OK) {
			CHECK(ids.n == (size_t)cases[k].n &&
			      memcmp(ids.v, cases[k].ids, ids.n * sizeof *ids.v) == 0,
			      "post_processor %zu: %zu ids", k, ids.n);
		} else {
			CHECK(ids.n == 0 && strstr(err.msg, "post_processor \"Weird\""), "refused: %s",
			      err.msg);
		}
		free(ids.v);
		tokenizer_free(t);
	}
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	behaviours();
	model_cases();
	added_cases();
	bad_files();
	postproc_cases();
	smollm2_vectors();
	random_bpe();
	rmdir(tmpdir);
	return test_main_end();
}
