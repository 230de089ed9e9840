/* qlora-tools: ISC license. */
/*
 * tests/data/export/gguf-reader.txt (tests/ref/export_gguf_llamacpp.py) and
 * tests/data/export/family/gguf-reader.txt (tests/ref/export_family_llamacpp.py): for each file
 * export-gguf wrote there, what gguf-py's GGUFReader read, one line
 *   "<model> <type> tensors N kv N general.type T bytes N xxh3 H"
 * (kv counts gguf-py's fields, which include its three header pseudo-fields GGUF.version,
 * GGUF.tensor_count and GGUF.kv_count). gguf_reader_check says whether the file we write now
 * is that very file (size and XXH3-64 of its bytes), so gguf-py accepted it, and whether our
 * reader counts what gguf-py counted.
 */
#ifndef QT_TEST_GGUF_READER_GOLDEN_H
#define QT_TEST_GGUF_READER_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "common/io.h"
#include "formats/gguf.h"
#include "test.h"

/* path: our export of `model` at `type` ("tiny", "q4_k_m") against the golden `golden` (relative
 * to tests/, in the format above). Returns 1 when everything agreed. */
static inline int gguf_reader_check_in(const char *golden, const char *model, const char *type,
                                       const char *path)
{
	char *gold = qt_path_join(test_srcdir(), golden), *txt = NULL;
	size_t len;
	struct qt_err err = { 0 };
	int found = 0, ok = 0;
	if (qt_read_file(gold, &txt, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		free(gold);
		return 0;
	}
	for (const char *line = txt; *line && !found;) {
		const char *nl = strchr(line, '\n');
		char m[64], t[16], gtype[32];
		unsigned long long nt, nkv, bytes, h;
		if (sscanf(line, "%63s %15s tensors %llu kv %llu general.type %31s bytes %llu xxh3 %llx",
		           m, t, &nt, &nkv, gtype, &bytes, &h) == 7 && !strcmp(m, model) &&
		    !strcmp(t, type)) {
			found = 1;
			struct gguf_file g;
			uint64_t ours = 0;
			struct stat sb;
			int same = stat(path, &sb) == 0 && (unsigned long long)sb.st_size == bytes &&
			           qt_xxh3_file(path, &ours, &err) == QT_OK && ours == h;
			CHECK(same, "%s %s: %s is not the file gguf-py read (%llu bytes, xxh3 %016llx): "
			      "rerun the script that wrote %s if the change is meant", model, type,
			      path, bytes, h, golden);
			char *s = NULL;
			int counts = gguf_open(&g, path, &err) == QT_OK;
			CHECK(counts, "%s", err.msg);
			if (counts) {
				counts = g.n_tensors == nt && g.n_kv + 3 == nkv &&
				         gguf_get_str(&g, "general.type", &s, &err) == QT_OK &&
				         !strcmp(s, gtype);
				CHECK(counts, "%s %s: our reader: %llu tensors, %llu keys, general.type %s; "
				      "gguf-py: %llu, %llu - 3, %s", model, type,
				      (unsigned long long)g.n_tensors, (unsigned long long)g.n_kv,
				      s ? s : "-", nt, nkv, gtype);
				gguf_close(&g);
			}
			free(s);
			ok = same && counts;
		}
		line = nl ? nl + 1 : line + strlen(line);
	}
	CHECK(found, "%s: no line for %s %s", gold, model, type);
	free(txt);
	free(gold);
	return ok;
}

/* The same against tests/data/export/gguf-reader.txt. */
static inline int gguf_reader_check(const char *model, const char *type, const char *path)
{
	return gguf_reader_check_in("data/export/gguf-reader.txt", model, type, path);
}

#endif
