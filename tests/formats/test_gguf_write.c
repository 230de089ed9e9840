/* qlora-tools: ISC license. */
/*
 * formats/gguf_write: a file with a KV of every kind the writer has and tensors of several
 * types reads back through formats/gguf.c (the validating reader) with the same keys, values,
 * shapes, offsets and bytes; the writer refuses duplicate keys and tensors, a row that is not a
 * whole number of blocks, and a put of the wrong size; an unfinished file is never renamed into
 * place.
 */
#include "formats/gguf.h"

#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

int main(void)
{
	char dir[] = "/tmp/qt_test_gguf_write_XXXXXX", path[128];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/w.gguf", dir);
	struct gguf_writer w;
	struct qt_err err = { 0 };
	gguf_writer_init(&w);
	const char *toks[] = { "<s>", "a b", "" };
	int32_t ty[] = { 3, 1, 5 };
	float sc[] = { -1.5f, 0.0f, 2.25f };
	CHECK(gguf_writer_str(&w, "general.architecture", "llama", 5, &err) == QT_OK, "str");
	CHECK(gguf_writer_u32(&w, "llama.block_count", 30, &err) == QT_OK, "u32");
	CHECK(gguf_writer_i32(&w, "x.i32", -7, &err) == QT_OK, "i32");
	CHECK(gguf_writer_f32(&w, "llama.rope.freq_base", 100000.0f, &err) == QT_OK, "f32");
	CHECK(gguf_writer_bool(&w, "tokenizer.ggml.add_bos_token", 1, &err) == QT_OK, "bool");
	CHECK(gguf_writer_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, 3, &err) == QT_OK, "arr");
	CHECK(gguf_writer_arr_i32(&w, "tokenizer.ggml.token_type", ty, 3, &err) == QT_OK, "arr i32");
	CHECK(gguf_writer_arr_f32(&w, "tokenizer.ggml.scores", sc, 3, &err) == QT_OK, "arr f32");
	CHECK(gguf_writer_u32(&w, "llama.block_count", 1, &err) == QT_EUSAGE, "duplicate key");
	uint64_t ne1[1] = { 5 }, ne2[2] = { 64, 3 }, bad[2] = { 48, 2 };
	CHECK(gguf_writer_tensor(&w, "a.weight", 1, ne1, GGML_TYPE_F32, &err) == QT_OK, "t1");
	CHECK(gguf_writer_tensor(&w, "b.weight", 2, ne2, GGML_TYPE_Q8_0, &err) == QT_OK, "t2");
	CHECK(gguf_writer_tensor(&w, "c.weight", 2, ne2, GGML_TYPE_BF16, &err) == QT_OK, "t3");
	CHECK(gguf_writer_tensor(&w, "b.weight", 1, ne1, GGML_TYPE_F32, &err) == QT_EUSAGE, "dup t");
	CHECK(gguf_writer_tensor(&w, "d.weight", 2, bad, GGML_TYPE_Q4_0, &err) == QT_EUSAGE, "ne0");
	CHECK(gguf_writer_open(&w, path, &err) == QT_OK, "open: %s", err.msg);
	uint8_t data[3][384];
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 384; i++)
			data[k][i] = (uint8_t)(k * 31 + i * 7);
	CHECK(gguf_writer_put(&w, data[0], 19, &err) == QT_EUSAGE, "short put");
	gguf_writer_free(&w); /* abandoned after open: the temporary file goes */
	struct stat sb;
	CHECK(stat(path, &sb) != 0, "aborted file left at its name");
	/* a second writer, completed */
	gguf_writer_init(&w);
	gguf_writer_str(&w, "general.architecture", "llama", 5, &err);
	gguf_writer_u32(&w, "llama.block_count", 30, &err);
	gguf_writer_f32(&w, "llama.rope.freq_base", 100000.0f, &err);
	gguf_writer_bool(&w, "tokenizer.ggml.add_bos_token", 1, &err);
	gguf_writer_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, 3, &err);
	gguf_writer_arr_i32(&w, "tokenizer.ggml.token_type", ty, 3, &err);
	gguf_writer_tensor(&w, "a.weight", 1, ne1, GGML_TYPE_F32, &err);
	gguf_writer_tensor(&w, "b.weight", 2, ne2, GGML_TYPE_Q8_0, &err);
	gguf_writer_tensor(&w, "c.weight", 2, ne2, GGML_TYPE_BF16, &err);
	uint64_t sizes[3] = { 20, 6 * 34, 384 };
	CHECK(gguf_writer_open(&w, path, &err) == QT_OK, "open: %s", err.msg);
	for (int k = 0; k < 3; k++)
		CHECK(gguf_writer_put(&w, data[k], sizes[k], &err) == QT_OK, "put %d: %s", k, err.msg);
	CHECK(gguf_writer_commit(&w, &err) == QT_OK, "commit: %s", err.msg);
	struct gguf_file g;
	if (gguf_open(&g, path, &err) != QT_OK) {
		CHECK(0, "read back: %s", err.msg);
		return test_main_end();
	}
	int64_t i64;
	double d;
	int b;
	char *s = NULL;
	CHECK(g.version == 3 && g.n_kv == 6 && g.n_tensors == 3 && g.alignment == 32, "header");
	CHECK(gguf_get_str(&g, "general.architecture", &s, &err) == QT_OK && !strcmp(s, "llama"), "str");
	free(s);
	CHECK(gguf_get_int(&g, "llama.block_count", &i64, &err) == QT_OK && i64 == 30, "u32");
	CHECK(gguf_get_float(&g, "llama.rope.freq_base", &d, &err) == QT_OK && d == 100000.0, "f32");
	CHECK(gguf_get_bool(&g, "tokenizer.ggml.add_bos_token", &b, &err) == QT_OK && b == 1, "bool");
	const struct gguf_kv *kv = gguf_find(&g, "tokenizer.ggml.tokens");
	CHECK(kv && kv->v.type == GGUF_VT_ARRAY && kv->v.arr_type == GGUF_VT_STRING && kv->v.len == 3,
	      "tokens");
	for (uint64_t i = 0; kv && i < 3; i++) {
		uint64_t len;
		const char *t = gguf_arr_str(&kv->v, i, &len);
		CHECK(len == strlen(toks[i]) && !memcmp(t, toks[i], len), "token %llu", (unsigned long long)i);
	}
	kv = gguf_find(&g, "tokenizer.ggml.token_type");
	CHECK(kv && kv->v.arr_type == GGUF_VT_I32 && gguf_arr_int(&kv->v, 0) == 3 &&
	      gguf_arr_int(&kv->v, 2) == 5, "token types");
	const char *names[3] = { "a.weight", "b.weight", "c.weight" };
	for (int k = 0; k < 3; k++) {
		const struct gguf_tensor *t = &g.tensors[k];
		CHECK(!strcmp(t->name, names[k]) && t->size == sizes[k] && !memcmp(t->data, data[k], sizes[k]),
		      "tensor %d", k);
		CHECK(t->offset % 32 == 0 && (uintptr_t)(t->data - g.map.data) % 32 == 0, "aligned %d", k);
	}
	CHECK(g.tensors[1].ne[0] == 64 && g.tensors[1].ne[1] == 3 && g.tensors[1].type == GGML_TYPE_Q8_0,
	      "shape");
	gguf_close(&g);
	unlink(path);
	rmdir(dir);
	return test_main_end();
}
