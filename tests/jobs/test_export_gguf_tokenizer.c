/* qlora-tools: ISC license. */
/*
 * export-gguf's tokenizer metadata on the models of tests/data/export/tok (tests/ref/
 * export_tokenizer_models.py: the SentencePiece vocabularies of Llama-2, Gemma, Gemma-2 and
 * Phi-3 from a tokenizer.model, GLM-4's byte-level BPE under glm4 and chatglm), against the
 * goldens of tests/ref/export_tokenizer_llamacpp.py:
 *   - every tokenizer.* key equals, in its whole encoding, the one convert_hf_to_gguf.py
 *     writes for the same directory (convert.txt), and we write no other;
 *   - the file is the one gguf-py's reader read (gguf-reader.txt);
 *   - import-gguf of the file gives back the same tokenizer: on every string of
 *     strings.jsonl, specials parsed and as text, its ids equal the model directory's
 *     tokenizer's (which equal HF tokenizers', NAME.hf.bin), or, where llama.cpp parts from
 *     HF, llama.cpp's on the file (NAME.llamacpp.bin), which import-gguf follows by design;
 *     the counts are printed.
 */
#include "jobs/export_gguf.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/io.h"
#include "formats/gguf.h"
#include "formats/tokenizer.h"
#include "gguf_reader_golden.h"
#include "jobs/import_gguf.h"
#include "../formats/tokgold.h"

static const char *const names[] = { "llama-spm", "gemma", "gemma2", "phi3", "glm4", "glm" };

/* The ids of a QTLCPTOK golden (tests/ref/llamacpp_tokenizer.py's format), n items. */
static struct tok_ids *read_golden(const char *name, const char *kind, size_t n)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/export/tok/%s.%s.bin", test_srcdir(), name, kind);
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return NULL;
	}
	struct reader r = { (const unsigned char *)buf + 16, (const unsigned char *)buf + len, 0 };
	struct tok_ids *ids = calloc(2 * n, sizeof *ids);
	uint32_t count = len >= 16 ? (uint32_t)buf[12] | (uint32_t)(unsigned char)buf[13] << 8 |
	                 (uint32_t)(unsigned char)buf[14] << 16 : 0;
	CHECK(len >= 16 && memcmp(buf, "QTLCPTOK", 8) == 0 && count == n, "%s: %u items, want %zu",
	      path, count, n);
	for (size_t i = 0; i < n && !r.bad && count == n; i++) {
		read_ids(&r, &ids[2 * i]);
		if (varint(&r) & 1) {
			read_ids(&r, &ids[2 * i + 1]);
		} else {
			ids[2 * i + 1].n = ids[2 * i].n;
			ids[2 * i + 1].cap = ids[2 * i].n;
			ids[2 * i + 1].v = malloc((ids[2 * i].n + 1) * sizeof(uint32_t));
			memcpy(ids[2 * i + 1].v, ids[2 * i].v, ids[2 * i].n * sizeof(uint32_t));
		}
	}
	CHECK(!r.bad && r.p == r.end, "%s: malformed", path);
	free(buf);
	return ids;
}

static void free_golden(struct tok_ids *g, size_t n)
{
	for (size_t i = 0; g && i < 2 * n; i++)
		free(g[i].v);
	free(g);
}

/* Every tokenizer.* key of path against convert.txt's lines for name. */
static void check_keys(const char *name, const char *path)
{
	char gp[4096], *txt;
	size_t len;
	struct qt_err err = { 0 };
	struct gguf_file g;
	snprintf(gp, sizeof gp, "%s/data/export/tok/convert.txt", test_srcdir());
	if (qt_read_file(gp, &txt, &len, &err) != QT_OK || gguf_open(&g, path, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	uint64_t n = 0, same = 0, ours = 0;
	for (const char *line = txt; *line;) {
		const char *nl = strchr(line, '\n');
		char m[64], key[256];
		unsigned long long h;
		if (sscanf(line, "%63s K %255s %llx", m, key, &h) == 3 && strcmp(m, name) == 0) {
			const struct gguf_kv *kv = gguf_find(&g, key);
			int ok = kv && qt_xxh3(kv->raw, kv->raw_len) == h;
			CHECK(ok, "%s: %s: %s", name, key, kv ? "value or type differs from "
			      "convert_hf_to_gguf.py's" : "missing");
			n++;
			same += ok;
		}
		line = nl ? nl + 1 : line + strlen(line);
	}
	for (uint64_t i = 0; i < g.n_kv; i++)
		ours += strncmp(g.kv[i].key, "tokenizer.", 10) == 0;
	CHECK(ours == n, "%s: %llu tokenizer keys, convert_hf_to_gguf.py wrote %llu", name,
	      (unsigned long long)ours, (unsigned long long)n);
	printf("%s: %llu of %llu tokenizer keys identical to convert_hf_to_gguf.py's\n", name,
	       (unsigned long long)same, (unsigned long long)n);
	gguf_close(&g);
	free(txt);
}

static struct tokenizer *load_dir(const char *dir)
{
	char *p = tokenizer_path_in_dir(dir);
	struct tokenizer *t = NULL;
	struct qt_err err = { 0 };
	int st = tokenizer_load(p, &t, &err);
	CHECK(st == QT_OK, "%s", err.msg);
	free(p);
	return st == QT_OK ? t : NULL;
}

static void check_model(const char *name, const struct item *it, size_t n)
{
	char model[4096], gguf[128], rt[128];
	snprintf(model, sizeof model, "%s/data/export/tok/%s", test_srcdir(), name);
	snprintf(gguf, sizeof gguf, "%s.gguf", name);
	snprintf(rt, sizeof rt, "%s-rt", name);
	struct export_gguf_opts o = { .model_dir = model, .output = gguf, .type = EXPORT_GGUF_F32,
	                              .n_threads = 1 };
	struct qt_err err = { 0 };
	int st = export_gguf_run(&o, NULL, &err);
	CHECK(st == QT_OK, "export %s: %s", name, err.msg);
	if (st)
		return;
	check_keys(name, gguf);
	gguf_reader_check_in("data/export/tok/gguf-reader.txt", name, "f32", gguf);
	struct gguf_import_opts io = { .input = gguf, .outdir = rt, .dtype = QT_DTYPE_F32,
	                               .tokenizer_only = 1 };
	struct gguf_import_stats is;
	st = gguf_import_dir(&io, &is, &err);
	CHECK(st == QT_OK, "import %s: %s", name, err.msg);
	struct tokenizer *a = load_dir(model), *b = st ? NULL : load_dir(rt);
	struct tok_ids *hf = read_golden(name, "hf", n), *lc = read_golden(name, "llamacpp", n);
	if (!a || !b || !hf || !lc)
		goto out;
	size_t rt_same = 0, hf_same = 0, lc_same = 0, lc_hf = 0, shown = 0;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			struct tok_ids x = { 0 }, y = { 0 };
			int f = k ? TOKENIZER_TEXT_ONLY : 0;
			if (tokenizer_encode(a, it[i].s, it[i].n, f, &x, &err) != QT_OK ||
			    tokenizer_encode(b, it[i].s, it[i].n, f, &y, &err) != QT_OK) {
				CHECK(0, "%s: %s", name, err.msg);
				continue;
			}
			const struct tok_ids *h = &hf[2 * i + k], *l = &lc[2 * i + k];
			rt_same += same_ids(&x, &y);
			hf_same += same_ids(&x, h);
			lc_same += same_ids(&y, l);
			lc_hf += same_ids(l, h);
			/* import-gguf rebuilds what llama.cpp does with the file: where that is not
			 * what the directory's tokenizer does, the ids are llama.cpp's */
			if (!same_ids(&x, &y) && !same_ids(&y, l) && shown++ < 3)
				fprintf(stderr, "%s: string %zu (%s): import-gguf's tokenizer gives neither "
				        "the directory's ids nor llama.cpp's\n", name, i,
				        k ? "as text" : "specials parsed");
			CHECK(same_ids(&x, &y) || same_ids(&y, l), "%s: string %zu", name, i);
			CHECK(same_ids(&x, h), "%s: string %zu: the directory's tokenizer is not HF's", name, i);
			free(x.v);
			free(y.v);
		}
	printf("%s: %zu strings x 2 (specials parsed, as text): import-gguf(export-gguf) = the "
	       "directory's tokenizer (= HF: %zu) on %zu, = llama.cpp on our GGUF on %zu; llama.cpp "
	       "= HF on %zu\n", name, n, hf_same, rt_same, lc_same, lc_hf);
out:
	free_golden(hf, n);
	free_golden(lc, n);
	if (a)
		tokenizer_free(a);
	if (b)
		tokenizer_free(b);
}

int main(void)
{
	test_in_tmpdir();
	struct item *it = NULL;
	size_t n = 0, cap = 0;
	if (load_lines("data/export/tok/strings.jsonl", &it, &n, &cap) != 0)
		return 1;
	for (size_t k = 0; k < sizeof names / sizeof *names; k++)
		check_model(names[k], it, n);
	for (size_t i = 0; i < n; i++)
		free(it[i].s);
	free(it);
	return test_main_end();
}
