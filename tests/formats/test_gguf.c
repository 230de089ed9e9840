/* qlora-tools: ISC license. */
/*
 * formats/gguf + kernels/ggml_dequant: the file written by gguf-py (tests/ref/gguf_dequant.py)
 * opens; every tensor dequantizes bit-identically to gguf.quants.dequantize; typed KV access;
 * and one corrupt file per reader check, built by patching a small valid file.
 */
#include "formats/gguf.h"

#include <unistd.h>

#include "common/le.h"
#include "formats/safetensors.h"
#include "kernels/ggml_dequant.h"
#include "test.h"

static const char *tmp_path = "qt_test_gguf.gguf";

static void test_dequant(void)
{
	char p[4096], q[4096];
	struct qt_err err;
	struct gguf_file g;
	struct st_file ex;
	snprintf(p, sizeof p, "%s/data/gguf/dequant.gguf", test_srcdir());
	snprintf(q, sizeof q, "%s/data/gguf/dequant_expected.safetensors", test_srcdir());
	int st = gguf_open(&g, p, &err);
	CHECK(st == QT_OK, "open: %s", err.msg);
	if (st != QT_OK)
		return;
	st = st_open(&ex, q, &err);
	CHECK(st == QT_OK, "expected: %s", err.msg);
	if (st != QT_OK) {
		gguf_close(&g);
		return;
	}
	CHECK(g.version == 3 && g.n_tensors == 13 && g.alignment == 32, "header");
	int n_types = 0;
	for (uint64_t i = 0; i < g.n_tensors; i++) {
		const struct gguf_tensor *t = &g.tensors[i];
		const struct st_tensor *e = st_find(&ex, t->name);
		CHECK(e && e->n_elem == t->n_elem && e->shape[0] == (int64_t)t->ne[1] &&
		      e->shape[1] == (int64_t)t->ne[0], "%s: shape", t->name);
		if (!e || e->n_elem != t->n_elem)
			continue;
		float *y = malloc(t->n_elem * sizeof *y);
		CHECK(ggml_dequant_supported(t->type), "%s supported", t->name);
		CHECK(ggml_dequant_row(t->type, t->data, y, (int64_t)t->n_elem) == 0, "%s", t->name);
		uint64_t bad = 0;
		for (uint64_t k = 0; k < t->n_elem; k++)
			if (memcmp(&y[k], (const uint8_t *)e->data + 4 * k, 4) != 0 && bad++ < 3)
				fprintf(stderr, "%s[%llu] = %a, gguf-py %a\n", t->name, (unsigned long long)k,
				        y[k], lef32_load((const uint8_t *)e->data + 4 * k));
		CHECK(bad == 0, "%s (%s): %llu of %llu values differ from gguf-py", t->name,
		      ggml_type_get(t->type)->name, (unsigned long long)bad, (unsigned long long)t->n_elem);
		n_types++;
		free(y);
	}
	CHECK(n_types == 13, "types checked: %d", n_types);
	CHECK(!ggml_dequant_supported(16) && ggml_dequant_row(16, NULL, NULL, 0) == -1, "IQ2_XXS");
	char *arch = NULL;
	CHECK(gguf_get_str(&g, "general.architecture", &arch, &err) == QT_OK && arch &&
	      strcmp(arch, "llama") == 0, "architecture");
	free(arch);
	int64_t v;
	CHECK(gguf_get_int(&g, "nope", &v, &err) == 1, "absent key");
	CHECK(gguf_get_int(&g, "general.architecture", &v, &err) == QT_EDATA, "string as int");
	st_close(&ex);
	gguf_close(&g);
}

/* ---- a small valid file built here, then patched one defect at a time ---- */

struct buf { uint8_t b[4096]; size_t n; };

static void u32(struct buf *b, uint32_t v) { le32_store(b->b + b->n, v); b->n += 4; }
static void u64(struct buf *b, uint64_t v) { le64_store(b->b + b->n, v); b->n += 8; }
static void str(struct buf *b, const char *s)
{
	u64(b, strlen(s));
	memcpy(b->b + b->n, s, strlen(s));
	b->n += strlen(s);
}

/* Offsets of interesting fields, filled by build(). */
static size_t off_key_len, off_str_len, off_elem_len, off_kv_type, off_arr_count, off_align_val, off_name_len, off_ndims, off_ne0,
	off_type, off_offset, off_t2_offset;

static const char *third_key = "general.alignment";

static void build(struct buf *b)
{
	memset(b, 0, sizeof *b);
	memcpy(b->b, "GGUF", 4);
	b->n = 4;
	u32(b, 3);
	u64(b, 2);          /* tensors */
	u64(b, 3);          /* kvs */
	off_key_len = b->n;
	str(b, "general.architecture");
	off_kv_type = b->n;
	u32(b, GGUF_VT_STRING);
	off_str_len = b->n;
	str(b, "llama");
	str(b, "tokenizer.ggml.tokens");
	u32(b, GGUF_VT_ARRAY);
	u32(b, GGUF_VT_STRING);
	off_arr_count = b->n;
	u64(b, 2);
	str(b, "a");
	off_elem_len = b->n;
	str(b, "bc");
	str(b, third_key);
	u32(b, GGUF_VT_U32);
	off_align_val = b->n;
	u32(b, 32);
	off_name_len = b->n;
	str(b, "w");
	off_ndims = b->n;
	u32(b, 2);
	off_ne0 = b->n;
	u64(b, 32);
	u64(b, 2);
	off_type = b->n;
	u32(b, GGML_TYPE_Q8_0);
	off_offset = b->n;
	u64(b, 0);
	str(b, "v");
	u32(b, 1);
	u64(b, 4);
	u32(b, GGML_TYPE_F32);
	off_t2_offset = b->n;
	u64(b, 96);         /* 68 bytes of Q8_0 padded to 96 */
	b->n = (b->n + 31) / 32 * 32;
	for (int k = 0; k < 2; k++) {        /* two Q8_0 blocks, d = 1.0 */
		le16_store(b->b + b->n + 34 * k, 0x3C00);
		for (int j = 0; j < 32; j++)
			b->b[b->n + 34 * k + 2 + j] = (uint8_t)(j - 16);
	}
	b->n += 96;
	for (int j = 0; j < 4; j++)
		lef32_store(b->b + b->n + 4 * j, (float)j);
	b->n += 16;
}

static void put(const struct buf *b, size_t n)
{
	FILE *fp = fopen(tmp_path, "wb");
	fwrite(b->b, 1, n, fp);
	fclose(fp);
}

static void test_corrupt(void)
{
	struct buf b;
	struct qt_err err;
	struct gguf_file g;
	build(&b);
	put(&b, b.n);
	int st = gguf_open(&g, tmp_path, &err);
	CHECK(st == QT_OK, "valid file: %s", err.msg);
	if (st == QT_OK) {
		const struct gguf_kv *kv = gguf_find(&g, "tokenizer.ggml.tokens");
		uint64_t len;
		const char *s = kv ? gguf_arr_str(&kv->v, 1, &len) : NULL;
		CHECK(s && len == 2 && memcmp(s, "bc", 2) == 0, "string array");
		const struct gguf_tensor *t = gguf_find_tensor(&g, "v");
		float y[4];
		CHECK(t && ggml_dequant_row(t->type, t->data, y, 4) == 0 && y[3] == 3.0f, "f32 tensor");
		t = gguf_find_tensor(&g, "w");
		float z[64];
		CHECK(t && t->size == 68 && ggml_dequant_row(t->type, t->data, z, 64) == 0 &&
		      z[0] == -16.0f && z[63] == 15.0f, "q8_0 tensor");
		gguf_close(&g);
	}
	static const struct {
		const char *name;
		size_t     *off;      /* field to patch (NULL: use at) */
		size_t      at;
		int         width;    /* 0: truncate the file to at; 1/4/8: store val */
		uint64_t    val;
		const char *msg;
	} cases[] = {
		{ "short file",       NULL, 10, 0, 0,          "too short" },
		{ "bad magic",        NULL, 0,  1, 'g',        "bad magic" },
		{ "version 1",        NULL, 4,  4, 1,          "version 1 is not supported" },
		{ "big-endian",       NULL, 4,  4, 0x03000000, "big-endian" },
		{ "kv count",         NULL, 16, 8, 1ull << 40, "kv count" },
		{ "tensor count",     NULL, 8,  8, 1ull << 40, "tensor count" },
		{ "value type",       &off_kv_type, 0, 4, 99,  "unknown value type 99" },
		{ "array count",      &off_arr_count, 0, 8, 1ull << 40, "runs past the end" },
		/* strings of 2^62 bytes (and 2^64 - 1): checked against the file, nothing allocated */
		{ "key length",       &off_key_len, 0, 8, 1ull << 62, "runs past the end" },
		{ "string length",    &off_str_len, 0, 8, 1ull << 62, "runs past the end" },
		{ "string length max", &off_str_len, 0, 8, ~0ull,     "runs past the end" },
		{ "element length",   &off_elem_len, 0, 8, 1ull << 62, "runs past the end" },
		{ "alignment",        &off_align_val, 0, 4, 24, "general.alignment" },
		{ "name length",      &off_name_len, 0, 8, 64, "tensor name of 64 bytes" },
		{ "n_dims",           &off_ndims, 0, 4, 5,     "5 dimensions" },
		{ "zero dim",         &off_ne0, 0, 8, 0,       "is zero or overflows" },
		{ "block multiple",   &off_ne0, 0, 8, 48,      "not a multiple of the Q8_0 block size" },
		{ "unknown type",     &off_type, 0, 4, 4,      "unknown ggml type 4" },
		{ "offset",           &off_offset, 0, 8, 32,   "data offset 32, expected 0" },
		{ "second offset",    &off_t2_offset, 0, 8, 68, "data offset 68, expected 96" },
		{ "data past end",    NULL, 0, 0, 0,           "runs past the end of the file" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		build(&b);
		size_t at = cases[i].off ? *cases[i].off : cases[i].at, n = b.n;
		if (cases[i].width == 1) b.b[at] = (uint8_t)cases[i].val;
		else if (cases[i].width == 4) le32_store(b.b + at, (uint32_t)cases[i].val);
		else if (cases[i].width == 8) le64_store(b.b + at, cases[i].val);
		else n = at ? at : b.n - 8;
		put(&b, n);
		st = gguf_open(&g, tmp_path, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "%s: status %d, \"%s\"",
		      cases[i].name, st, st ? err.msg : "");
		if (st == QT_OK)
			gguf_close(&g);
	}
	/* a duplicate key */
	third_key = "general.architecture";
	build(&b);
	third_key = "general.alignment";
	put(&b, b.n);
	st = gguf_open(&g, tmp_path, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "duplicate key \"general.architecture\""),
	      "duplicate key: %s", err.msg);
	st = gguf_open(&g, "/nonexistent.gguf", &err);
	CHECK(st == QT_ENOINPUT, "missing file");
	unlink(tmp_path);
}

int main(void)
{
	test_in_tmpdir();
	test_dequant();
	test_corrupt();
	return test_main_end();
}
