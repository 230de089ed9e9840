/* qlora-tools: ISC license. */
/*
 * formats/safetensors: round trip through the writer, a file written by Python's safetensors
 * (tests/ref/safetensors_golden.py), one corrupt file per reader check, sharded sets and the
 * index writer. With QT_ST_OUT=path the round-trip file is also written there, for the Python
 * side of the golden check.
 */
#include "formats/safetensors.h"

#include <unistd.h>

#include "common/half.h"
#include "common/le.h"
#include "test.h"

static const char *tmp_path = "/tmp/qt_test_st.safetensors";

/* Value i of every golden tensor: exact in all dtypes used (ints in [-100, 100) for signed). */
static double golden_value(enum qt_dtype t, uint64_t i)
{
	switch (t) {
	case QT_DTYPE_U8: return (double)(i % 251);
	case QT_DTYPE_I8: case QT_DTYPE_I32: case QT_DTYPE_I64: return (double)(i % 200) - 100;
	default: return ((double)((i * 7) % 255) - 127) * 0.25;
	}
}

static void fill(enum qt_dtype t, void *buf, uint64_t n)
{
	uint8_t *b = buf;
	for (uint64_t i = 0; i < n; i++) {
		double v = golden_value(t, i);
		switch (t) {
		case QT_DTYPE_F32: lef32_store(b + 4 * i, (float)v); break;
		case QT_DTYPE_F16: le16_store(b + 2 * i, qt_f32_to_f16((float)v)); break;
		case QT_DTYPE_BF16: le16_store(b + 2 * i, qt_f32_to_bf16((float)v)); break;
		case QT_DTYPE_F64: { uint64_t u; memcpy(&u, &v, 8); le64_store(b + 8 * i, u); break; }
		case QT_DTYPE_U8: b[i] = (uint8_t)v; break;
		case QT_DTYPE_I8: b[i] = (uint8_t)(int8_t)v; break;
		case QT_DTYPE_I32: le32_store(b + 4 * i, (uint32_t)(int32_t)v); break;
		case QT_DTYPE_I64: le64_store(b + 8 * i, (uint64_t)(int64_t)v); break;
		default: break;
		}
	}
}

/* Every tensor of f has golden values (checked through st_tensor_to_f32). */
static int check_values(const struct st_file *f)
{
	int ok = 1;
	for (size_t k = 0; k < f->n_tensors; k++) {
		const struct st_tensor *t = &f->tensors[k];
		float *v = malloc((t->n_elem + 1) * sizeof *v);
		struct qt_err err;
		if (st_tensor_to_f32(t, v, &err) != QT_OK) {
			ok = 0;
		} else {
			for (uint64_t i = 0; i < t->n_elem; i++)
				if (v[i] != (float)golden_value(t->dtype, i)) {
					fprintf(stderr, "%s[%llu] = %g, want %g\n", t->name, (unsigned long long)i,
					        v[i], golden_value(t->dtype, i));
					ok = 0;
					break;
				}
		}
		free(v);
	}
	return ok;
}

static const struct { const char *name; enum qt_dtype dt; int nd; int64_t sh[3]; } golden[] = {
	{ "a.f32",    QT_DTYPE_F32,  2, { 3, 5 } },
	{ "b.f16",    QT_DTYPE_F16,  1, { 7 } },
	{ "c.bf16",   QT_DTYPE_BF16, 3, { 2, 3, 4 } },
	{ "d.u8",     QT_DTYPE_U8,   1, { 13 } },
	{ "e.i8",     QT_DTYPE_I8,   2, { 1, 9 } },
	{ "f.i32",    QT_DTYPE_I32,  1, { 6 } },
	{ "g.i64",    QT_DTYPE_I64,  1, { 3 } },
	{ "h.f64",    QT_DTYPE_F64,  1, { 2 } },
	{ "scalar",   QT_DTYPE_F32,  0, { 0 } },
	{ "empty",    QT_DTYPE_F32,  2, { 0, 4 } },
};
#define N_GOLDEN (sizeof golden / sizeof golden[0])

static int write_golden(const char *path, struct qt_err *err)
{
	struct st_spec specs[N_GOLDEN];
	void *bufs[N_GOLDEN];
	for (size_t i = 0; i < N_GOLDEN; i++) {
		specs[i] = (struct st_spec){ .name = golden[i].name, .dtype = golden[i].dt,
		                             .n_dims = golden[i].nd };
		memcpy(specs[i].shape, golden[i].sh, sizeof golden[i].sh);
		uint64_t sz = st_spec_size(&specs[i]);
		bufs[i] = malloc(sz + 1);
		fill(golden[i].dt, bufs[i], sz / qt_dtype_size(golden[i].dt));
		specs[i].data = bufs[i];
	}
	struct st_kv meta[] = { { "format", "pt" }, { "note", "q\"uote\\" } };
	int st = st_write_file(path, specs, N_GOLDEN, meta, 2, err);
	for (size_t i = 0; i < N_GOLDEN; i++)
		free(bufs[i]);
	return st;
}

static void put(const char *path, const void *b, size_t n)
{
	FILE *fp = fopen(path, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
}

/* Writes "len8 + header + data bytes" with the given JSON and data size. */
static void put_json(const char *json, size_t data_len)
{
	size_t hl = strlen(json);
	uint8_t *b = calloc(1, 8 + hl + data_len + 1);
	le64_store(b, hl);
	memcpy(b + 8, json, hl);
	put(tmp_path, b, 8 + hl + data_len);
	free(b);
}

static void test_round_trip(void)
{
	struct qt_err err;
	CHECK(write_golden(tmp_path, &err) == QT_OK, "write: %s", err.msg);
	const char *extra = getenv("QT_ST_OUT");
	if (extra)
		CHECK(write_golden(extra, &err) == QT_OK, "write %s: %s", extra, err.msg);
	struct st_file f;
	int st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_OK, "open: %s", err.msg);
	if (st != QT_OK)
		return;
	CHECK(f.n_tensors == N_GOLDEN, "n_tensors %zu", f.n_tensors);
	CHECK(f.data_start % 8 == 0, "data section at %llu", (unsigned long long)f.data_start);
	CHECK(check_values(&f), "values");
	const struct st_tensor *t = st_find(&f, "c.bf16");
	CHECK(t && t->n_dims == 3 && t->shape[2] == 4 && t->n_elem == 24 && t->size == 48, "c.bf16");
	t = st_find(&f, "scalar");
	CHECK(t && t->n_dims == 0 && t->n_elem == 1 && t->size == 4, "scalar");
	t = st_find(&f, "empty");
	CHECK(t && t->n_elem == 0 && t->size == 0, "empty");
	CHECK(st_find(&f, "nope") == NULL, "missing name");
	for (size_t i = 0; i < f.n_tensors; i++) /* aligned to the element size */
		CHECK((f.tensors[i].offset % qt_dtype_size(f.tensors[i].dtype)) == 0, "%s misaligned",
		      f.tensors[i].name);
	CHECK(st_meta_get(&f, "format") && strcmp(st_meta_get(&f, "format"), "pt") == 0, "meta");
	CHECK(st_meta_get(&f, "note") && strcmp(st_meta_get(&f, "note"), "q\"uote\\") == 0, "esc");
	st_close(&f);

	/* deterministic: the same specs give the same bytes */
	char *a, *b;
	size_t la, lb;
	qt_read_file(tmp_path, &a, &la, &err);
	write_golden(tmp_path, &err);
	qt_read_file(tmp_path, &b, &lb, &err);
	CHECK(la == lb && memcmp(a, b, la) == 0, "writer output not deterministic");
	free(a);
	free(b);
}

static void test_python_file(void)
{
	char path[4096];
	struct qt_err err;
	struct st_file f;
	snprintf(path, sizeof path, "%s/data/safetensors/python.safetensors", test_srcdir());
	int st = st_open(&f, path, &err);
	CHECK(st == QT_OK, "open python file: %s", err.msg);
	if (st != QT_OK)
		return;
	CHECK(f.n_tensors == N_GOLDEN, "python file has %zu tensors", f.n_tensors);
	for (size_t i = 0; i < N_GOLDEN; i++) {
		const struct st_tensor *t = st_find(&f, golden[i].name);
		int ok = t && t->dtype == golden[i].dt && t->n_dims == golden[i].nd;
		for (int d = 0; ok && d < golden[i].nd; d++)
			ok = t->shape[d] == golden[i].sh[d];
		CHECK(ok, "python tensor %s", golden[i].name);
	}
	CHECK(check_values(&f), "python values");
	CHECK(st_meta_get(&f, "format") && strcmp(st_meta_get(&f, "format"), "pt") == 0, "meta");
	st_close(&f);
}

static void test_corrupt(void)
{
	static const struct { const char *name; const char *json; size_t data; const char *msg; } cases[] = {
		{ "header not object start", " {}", 0, "does not start with '{'" },
		{ "bad json",          "{\"a\":",                                     0, "header JSON" },
		{ "not an object",     "{\"a\":1}",                                   0, "entry is not an object" },
		{ "duplicate key",     "{\"a\":{},\"a\":{}}",                         0, "duplicate" },
		{ "metadata not obj",  "{\"__metadata__\":1}",                       0, "__metadata__ is not an object" },
		{ "metadata value",    "{\"__metadata__\":{\"k\":1}}",               0, "is not a string" },
		{ "no dtype",          "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype" },
		{ "bad dtype",         "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported dtype" },
		{ "no shape",          "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape" },
		{ "negative dim",      "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]" },
		{ "float dim",         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]" },
		{ "too many dims",     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dimensions" },
		{ "shape overflow",    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows" },
		{ "offsets type",      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets is not" },
		{ "end before begin",  "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "end 0 < begin 4" },
		{ "size mismatch",     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8" },
		{ "gap at start",      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap of 4 bytes" },
		{ "gap between",       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap" },
		{ "overlap",           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps" },
		{ "trailing data",     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "tensors cover 4" },
		{ "data too short",    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "data section is 4" },
	};
	struct qt_err err;
	struct st_file f;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put_json(cases[i].json, cases[i].data);
		int st = st_open(&f, tmp_path, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "%s: status %d, message \"%s\"",
		      cases[i].name, st, st ? err.msg : "");
		if (st == QT_OK)
			st_close(&f);
	}
	/* binary-level defects */
	uint8_t b[32] = { 0 };
	put(tmp_path, b, 5);
	int st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "too short"), "short file: %s", err.msg);
	le64_store(b, (uint64_t)ST_MAX_HEADER + 1);
	put(tmp_path, b, 32);
	st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "exceeds the limit"), "huge header: %s", err.msg);
	le64_store(b, 100);
	put(tmp_path, b, 32);
	st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "runs past the end"), "header past end: %s", err.msg);
	le64_store(b, 4);
	memcpy(b + 8, "{\xff}", 3);
	b[11] = ' ';
	put(tmp_path, b, 12);
	st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "header JSON"), "bad utf-8: %s", err.msg);
	st = st_open(&f, "/nonexistent/x.safetensors", &err);
	CHECK(st == QT_ENOINPUT, "missing file: %d", st);
	/* an empty header with no tensors is a valid file */
	put_json("{}      ", 0);
	st = st_open(&f, tmp_path, &err);
	CHECK(st == QT_OK && f.n_tensors == 0, "empty file: %s", err.msg);
	if (st == QT_OK)
		st_close(&f);
}

static void test_writer_misuse(void)
{
	struct qt_err err;
	float x[2] = { 1, 2 };
	struct st_spec dup[2] = {
		{ .name = "w", .dtype = QT_DTYPE_F32, .n_dims = 1, .shape = { 2 }, .data = x },
		{ .name = "w", .dtype = QT_DTYPE_F32, .n_dims = 1, .shape = { 2 }, .data = x },
	};
	CHECK(st_write_file(tmp_path, dup, 2, NULL, 0, &err) == QT_EUSAGE, "duplicate names");
	struct st_spec bad = { .name = "__metadata__", .dtype = QT_DTYPE_F32, .n_dims = 0 };
	CHECK(st_write_file(tmp_path, &bad, 1, NULL, 0, &err) == QT_EUSAGE, "reserved name");
	struct st_writer w;
	CHECK(st_writer_open(&w, tmp_path, dup, 1, NULL, 0, &err) == QT_OK, "open");
	CHECK(st_writer_put(&w, x, 4, &err) == QT_ESOFTWARE, "wrong size accepted");
	CHECK(st_writer_commit(&w, &err) == QT_ESOFTWARE, "incomplete commit accepted");
	CHECK(access("/tmp/qt_test_st.safetensors.tmp", F_OK) != 0, "temp left");
	CHECK(st_write_file("/dev/null/dir/x.safetensors", dup, 1, NULL, 0, &err) ==
	      QT_ECANTCREAT, "unwritable path");
}

static void test_sharded(void)
{
	struct qt_err err;
	char dir[] = "/tmp/qt_test_st_dirXXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char p1[256], p2[256], pi[256];
	snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
	snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
	snprintf(pi, sizeof pi, "%s/%s", dir, ST_INDEX_NAME);
	float a[3] = { 1, 2, 3 }, b[2] = { 4, 5 };
	struct st_spec s1 = { .name = "x.weight", .dtype = QT_DTYPE_F32, .n_dims = 1, .shape = { 3 }, .data = a };
	struct st_spec s2 = { .name = "y.weight", .dtype = QT_DTYPE_F32, .n_dims = 1, .shape = { 2 }, .data = b };
	CHECK(st_write_file(p1, &s1, 1, NULL, 0, &err) == QT_OK, "shard 1: %s", err.msg);
	CHECK(st_write_file(p2, &s2, 1, NULL, 0, &err) == QT_OK, "shard 2: %s", err.msg);
	const char *names[] = { "x.weight", "y.weight" };
	const char *files[] = { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" };
	CHECK(st_index_write(dir, names, files, 2, 20, &err) == QT_OK, "index: %s", err.msg);
	struct st_set s;
	int st = st_set_open(&s, dir, &err);
	CHECK(st == QT_OK && s.n_files == 2 && s.n_tensors == 2, "set open: %s", err.msg);
	if (st == QT_OK) {
		const struct st_tensor *t = st_set_find(&s, "y.weight");
		float v[2] = { 0 };
		CHECK(t && st_tensor_to_f32(t, v, &err) == QT_OK && v[1] == 5, "y.weight");
		CHECK(st_set_find(&s, "z") == NULL, "missing");
		st_set_close(&s);
	}
	/* weight_map names a tensor the shard does not hold */
	const char *bad_files[] = { files[1], files[1] };
	st_index_write(dir, names, bad_files, 2, 20, &err);
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "\"x.weight\": not in"), "wrong shard: %s", err.msg);
	const char *esc_files[] = { "../x.safetensors", files[1] };
	st_index_write(dir, names, esc_files, 2, 20, &err);
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "plain file name"), "path escape: %s", err.msg);
	/* a tensor in two shards */
	struct st_spec both[2] = { s1, s2 };
	st_write_file(p2, both, 2, NULL, 0, &err);
	st_index_write(dir, names, files, 2, 32, &err);
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "more than one shard"), "two shards: %s", err.msg);
	const char *junk = "{\"weight_map\":[]}";
	put(pi, junk, strlen(junk));
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "weight_map"), "bad index: %s", err.msg);
	unlink(pi);
	unlink(p2);
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_ENOINPUT, "no weights: %d", st);
	/* single file */
	snprintf(p2, sizeof p2, "%s/%s", dir, ST_SINGLE_NAME);
	rename(p1, p2);
	st = st_set_open(&s, dir, &err);
	CHECK(st == QT_OK && s.n_tensors == 1, "single: %s", err.msg);
	if (st == QT_OK)
		st_set_close(&s);
	unlink(p2);
	rmdir(dir);
}

int main(void)
{
	test_round_trip();
	test_python_file();
	test_corrupt();
	test_writer_misuse();
	test_sharded();
	unlink(tmp_path);
	return test_main_end();
}
