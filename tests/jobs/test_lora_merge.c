/* qlora-tools: ISC license. */
/*
 * jobs/merge (lora-merge): merged weights equal PEFT's merge_and_unload() weights
 * (tests/ref/lora.py goldens) for alpha/r, rsLoRA, rank/alpha patterns and two adapters in
 * order; untouched tensors are copied bit for bit; --dtype, --scale, --unmerge; the output
 * directory is complete, and absent after any error; --info norms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/half.h"
#include "common/io.h"
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "jobs/lora_merge.h"
#include "test.h"

static char tmpdir[] = "/tmp/qt_merge.XXXXXX";
static char *lora_dir;

static char *dpath(const char *name)
{
	return qt_path_join(lora_dir, name);
}

static char *tpath(const char *name)
{
	return qt_path_join(tmpdir, name);
}

static int exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* Runs a merge of up to two adapters; returns the status. */
static int run(const char *out, const char *a1, double s1, const char *a2, double s2, int dtype,
               int unmerge, const char *base, struct qt_err *err)
{
	struct merge_opts o = { .out_dtype = dtype, .unmerge = unmerge, .n_threads = 2 };
	char *b = base ? NULL : dpath("base"), *p1 = dpath(a1), *p2 = a2 ? dpath(a2) : NULL;
	char *op = tpath(out);
	o.base_dir = base ? base : b;
	o.out_dir = op;
	o.adapter_dir[0] = p1, o.scale[0] = s1, o.n_adapters = 1;
	if (a2)
		o.adapter_dir[1] = p2, o.scale[1] = s2, o.n_adapters = 2;
	int st = merge_run(&o, NULL, err);
	free(b), free(p1), free(p2), free(op);
	return st;
}

/* max over tensors of max|x - y| / max|y|, over the tensors of ref; -1 if one is missing. */
static double compare(const char *got_path, const char *ref_path, int *n)
{
	struct st_file g, r;
	struct qt_err err;
	double worst = 0;
	*n = 0;
	if (st_open(&g, got_path, &err) != 0) {
		CHECK(0, "%s", err.msg);
		return -1;
	}
	if (st_open(&r, ref_path, &err) != 0) {
		CHECK(0, "%s", err.msg);
		st_close(&g);
		return -1;
	}
	for (size_t i = 0; i < r.n_tensors; i++) {
		const struct st_tensor *rt = &r.tensors[i], *gt = st_find(&g, rt->name);
		if (!gt || gt->n_elem != rt->n_elem) {
			worst = -1;
			break;
		}
		float *x = malloc(gt->n_elem * 4), *y = malloc(rt->n_elem * 4);
		st_tensor_to_f32(gt, x, &err);
		st_tensor_to_f32(rt, y, &err);
		double md = 0, my = 0;
		for (uint64_t k = 0; k < rt->n_elem; k++) {
			double d = fabs((double)x[k] - y[k]);
			md = d > md ? d : md;
			my = fabs(y[k]) > my ? fabs(y[k]) : my;
		}
		worst = md / my > worst ? md / my : worst;
		free(x), free(y);
		(*n)++;
	}
	st_close(&g);
	st_close(&r);
	return worst;
}

static void check_case(const char *out, const char *a1, const char *a2, const char *golden,
                       const char *base)
{
	struct qt_err err;
	int st = run(out, a1, 1, a2, 1, -1, 0, base, &err);
	CHECK(st == 0, "merge %s: %s", out, st ? err.msg : "");
	if (st)
		return;
	char *o = tpath(out), *w = qt_path_join(o, "model.safetensors"), *g = dpath(golden);
	int n;
	double rel = compare(w, g, &n);
	printf("merge %-6s vs PEFT merge_and_unload: max rel error %.3g over %d tensors\n", out,
	       rel, n);
	CHECK(rel >= 0 && rel <= 1e-5 && n == 14, "%s: rel %g over %d tensors", out, rel, n);
	free(o), free(w), free(g);
}

/* Every tensor of the base that no adapter touches is bit-identical in out. */
static void check_untouched(const char *out, int expect_same)
{
	struct st_file b, m;
	struct qt_err err;
	char *bp = dpath("base/model.safetensors"), *o = tpath(out), *mp = qt_path_join(o, "model.safetensors");
	if (st_open(&b, bp, &err) == 0 && st_open(&m, mp, &err) == 0) {
		int same = 0, diff = 0;
		for (size_t i = 0; i < b.n_tensors; i++) {
			const struct st_tensor *x = &b.tensors[i], *y = st_find(&m, x->name);
			int eq = y && y->size == x->size && memcmp(x->data, y->data, x->size) == 0;
			same += eq, diff += !eq;
		}
		CHECK(same == expect_same && same + diff == 21, "%s: %d tensors unchanged, want %d", out,
		      same, expect_same);
		st_close(&m);
		st_close(&b);
	} else {
		CHECK(0, "%s", err.msg);
	}
	free(bp), free(o), free(mp);
}

/* The NF4 merge is a plain dense directory: no quantization tensors or config left, and the
 * tensors that were not quantized are the NF4 directory's own bytes. */
static void test_nf4_files(void)
{
	struct st_file m, b;
	struct qt_err err;
	char *mp = tpath("nf4-r8/model.safetensors"), *bp = dpath("base/model.safetensors");
	if (st_open(&m, mp, &err) == 0 && st_open(&b, bp, &err) == 0) {
		int ok = m.n_tensors == 21, same = 0;
		for (size_t i = 0; i < m.n_tensors; i++) {
			const struct st_tensor *t = &m.tensors[i], *u = st_find(&b, t->name);
			ok &= u && t->dtype == QT_DTYPE_F32 && t->n_elem == u->n_elem;
			same += u && !memcmp(t->data, u->data, t->size);
		}
		CHECK(ok && same == 7, "nf4 merge: 21 dense F32 tensors (%zu), 7 untouched (%d)",
		      m.n_tensors, same);
		st_close(&b);
		st_close(&m);
	} else {
		CHECK(0, "%s", err.msg);
	}
	char *cp = tpath("nf4-r8/config.json"), *txt;
	size_t len;
	if (qt_read_file(cp, &txt, &len, &err) == 0) {
		CHECK(!strstr(txt, "quantization_config") && strstr(txt, "\"dtype\": \"float32\""),
		      "nf4 config:\n%s", txt);
		free(txt);
	}
	free(mp), free(bp), free(cp);
}

static void test_files(void)
{
	char *o = tpath("r8"), *c = qt_path_join(o, "config.json"), *txt;
	size_t len;
	struct qt_err err;
	char *bp = dpath("base/config.json"), *btxt = NULL;
	size_t blen = 0;
	qt_read_file(bp, &btxt, &blen, &err);
	if (qt_read_file(c, &txt, &len, &err) == 0) {  /* same dtype: transformers' bytes back */
		CHECK(len == blen && memcmp(txt, btxt, len) == 0, "config.json:\n%s", txt);
		free(txt);
	}
	free(bp), free(btxt);
	/* --dtype bf16 changes the dtype key only */
	char *o2 = tpath("bf16"), *c2 = qt_path_join(o2, "config.json");
	if (qt_read_file(c2, &txt, &len, &err) == 0) {
		CHECK(strstr(txt, "\"dtype\": \"bfloat16\",\n") && len == blen + 1, "bf16 config:\n%s", txt);
		free(txt);
	}
	free(o2), free(c2);
	const char *copied[] = { "generation_config.json", "tokenizer.json", "tokenizer_config.json" };
	for (int i = 0; i < 3; i++) {
		char *a = dpath("base"), *src = qt_path_join(a, copied[i]), *dst = qt_path_join(o, copied[i]);
		char *x = NULL, *y = NULL;
		size_t nx = 0, ny = 0;
		qt_read_file(src, &x, &nx, &err);
		int ok = qt_read_file(dst, &y, &ny, &err) == 0 && nx == ny && memcmp(x, y, nx) == 0;
		CHECK(ok, "%s copied", copied[i]);
		free(a), free(src), free(dst), free(x), free(y);
	}
	free(o), free(c);
}

static void test_dtype_scale_unmerge(void)
{
	struct qt_err err;
	int st = run("bf16", "peft-r8", 1, NULL, 0, QT_DTYPE_BF16, 0, NULL, &err);
	CHECK(st == 0, "bf16: %s", st ? err.msg : "");
	/* bf16 output = the f32 merge rounded once */
	char *a = tpath("bf16/model.safetensors"), *b = tpath("r8/model.safetensors");
	struct st_file x, y;
	if (!st && st_open(&x, a, &err) == 0 && st_open(&y, b, &err) == 0) {
		int ok = x.n_tensors == y.n_tensors;
		for (size_t i = 0; ok && i < y.n_tensors; i++) {
			const struct st_tensor *t = &y.tensors[i], *u = st_find(&x, t->name);
			ok = u && u->dtype == QT_DTYPE_BF16 && u->n_elem == t->n_elem;
			for (uint64_t k = 0; ok && k < t->n_elem; k++) {
				float f;
				uint16_t h;
				memcpy(&f, (const char *)t->data + 4 * k, 4);
				memcpy(&h, (const char *)u->data + 2 * k, 2);
				ok = h == qt_f32_to_bf16(f);
			}
		}
		CHECK(ok, "bf16 merge = round(f32 merge) for every tensor");
		st_close(&x);
		st_close(&y);
	}
	free(a), free(b);
	/* scale 0 leaves every weight as it was */
	st = run("zero", "peft-r8", 0, NULL, 0, -1, 0, NULL, &err);
	CHECK(st == 0, "scale 0: %s", st ? err.msg : "");
	check_untouched("zero", 21);
	/* two halves make one whole */
	st = run("halves", "peft-r8", 0.5, "peft-r8", 0.5, -1, 0, NULL, &err);
	CHECK(st == 0, "halves: %s", st ? err.msg : "");
	char *h = tpath("halves/model.safetensors"), *g = dpath("merged-r8.safetensors");
	int n;
	double rel = compare(h, g, &n);
	CHECK(rel >= 0 && rel <= 1e-6, "0.5 + 0.5: rel %g", rel);
	free(h), free(g);
	/* unmerge gives the base back within rounding */
	char *m = tpath("r8-p2");
	st = run("back", "peft-r8", 1, "peft-p2", 1, -1, 1, m, &err);
	CHECK(st == 0, "unmerge: %s", st ? err.msg : "");
	char *bk = tpath("back/model.safetensors"), *bs = dpath("base/model.safetensors");
	rel = compare(bk, bs, &n);
	printf("unmerge(merge(base, r8, p2), r8, p2) vs base: max rel error %.3g over %d tensors\n",
	       rel, n);
	CHECK(rel >= 0 && rel <= 1e-6 && n == 21, "unmerge: rel %g", rel);
	free(m), free(bk), free(bs);
}

/* Small shards: several files + index; the set reads back with the same tensors as one file. */
static void test_shards(void)
{
	struct merge_opts o = { .out_dtype = -1, .n_threads = 2, .shard_bytes = 100000 };
	char *b = dpath("base"), *a = dpath("peft-r8"), *out = tpath("sharded");
	o.base_dir = b, o.out_dir = out, o.adapter_dir[0] = a, o.scale[0] = 1, o.n_adapters = 1;
	struct qt_err err;
	int st = merge_run(&o, NULL, &err);
	CHECK(st == 0, "sharded merge: %s", st ? err.msg : "");
	struct st_set s;
	struct st_file one;
	char *op = tpath("r8/model.safetensors");
	if (!st && st_set_open(&s, out, &err) == 0 && st_open(&one, op, &err) == 0) {
		int same = s.n_tensors == one.n_tensors && s.n_files > 2;
		for (size_t i = 0; same && i < one.n_tensors; i++) {
			const struct st_tensor *x = &one.tensors[i], *y = st_set_find(&s, x->name);
			same = y && y->size == x->size && !memcmp(x->data, y->data, x->size);
		}
		CHECK(same, "%zu shards hold the single-file merge's tensors", s.n_files);
		st_close(&one);
		st_set_close(&s);
		/* and a sharded base merges like a single-file one */
		o.base_dir = out, o.shard_bytes = 0;
		char *o2 = tpath("from-shards"), *w2 = tpath("from-shards/model.safetensors");
		char *g = dpath("merged-r8.safetensors");
		o.out_dir = o2, o.scale[0] = 0;
		st = merge_run(&o, NULL, &err);
		int n;
		double rel = st ? -1 : compare(w2, op, &n);
		CHECK(st == 0 && rel == 0 && n == 21, "sharded base: %s rel %g", st ? err.msg : "", rel);
		free(o2), free(w2), free(g);
	} else {
		CHECK(0, "%s", err.msg);
	}
	free(b), free(a), free(out), free(op);
}

static void test_errors(void)
{
	struct qt_err err;
	/* an adapter for another shape: base with a different hidden size */
	char *bad = tpath("badbase");
	mkdir(bad, 0755);
	char *c = qt_path_join(bad, "config.json"), *txt;
	char *bc = dpath("base/config.json");
	size_t len;
	if (qt_read_file(bc, &txt, &len, &err) == 0) {
		char *p = strstr(txt, "\"intermediate_size\": 128");
		if (p)
			memcpy(p, "\"intermediate_size\": 256", 24);
		FILE *fp = fopen(c, "w");
		fwrite(txt, 1, len, fp);
		fclose(fp);
		free(txt);
	}
	int st = run("never", "peft-r8", 1, NULL, 0, -1, 0, bad, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "gate_proj") && strstr(err.msg, "base model wants"),
	      "shape mismatch: %d %s", st, err.msg);
	st = run("never", "no-such-adapter", 1, NULL, 0, -1, 0, NULL, &err);
	CHECK(st == QT_ENOINPUT, "missing adapter: %d %s", st, err.msg);
	st = run("never", "peft-r8", 1, NULL, 0, -1, 0, "/nonexistent/base", &err);
	CHECK(st == QT_ENOINPUT, "missing base: %d %s", st, err.msg);
	char *nv = tpath("never");
	CHECK(!exists(nv), "no output after errors");
	free(bad), free(c), free(bc), free(nv);
}

static void test_info(void)
{
	char *p = dpath("peft-rs"), *buf = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&buf, &n);
	struct qt_err err;
	int st = merge_info(p, fp, &err);
	fclose(fp);
	CHECK(st == 0, "info: %s", st ? err.msg : "");
	CHECK(buf && strstr(buf, "r: 4\n") && strstr(buf, "use_rslora: true\n") &&
	      strstr(buf, "targets: q_proj v_proj down_proj\n") && strstr(buf, "parameters: 3328\n"),
	      "info header:\n%s", buf ? buf : "");
	/* the first row's norm against an explicit B @ A */
	struct adapter a;
	if (st == 0 && adapter_load(&a, p, NULL, &err) == 0) {
		const struct lora_pair *q = adapter_at(&a, 0, ADAPTER_Q);
		double s = 0;
		for (int o = 0; o < q->out; o++)
			for (int i = 0; i < q->in; i++) {
				double d = 0;
				for (int k = 0; k < q->r; k++)
					d += (double)q->B[o * q->r + k] * q->A[k * q->in + i];
				s += d * d;
			}
		char want[64];
		snprintf(want, sizeof want, "0\tq_proj\t4\t8\t4\t%.6g\t", sqrt(s));
		CHECK(strstr(buf, want) != NULL, "info row %s in\n%s", want, buf);
		adapter_free(&a);
	}
	free(buf), free(p);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp");
		return test_main_end();
	}
	lora_dir = qt_path_join(test_srcdir(), "data/lora");
	check_case("r8", "peft-r8", NULL, "merged-r8.safetensors", NULL);
	check_case("rs", "peft-rs", NULL, "merged-rs.safetensors", NULL);
	check_case("r8-p2", "peft-r8", "peft-p2", "merged-r8-p2.safetensors", NULL);
	char *nf4 = dpath("base-nf4");
	check_case("nf4-r8", "peft-r8", NULL, "merged-nf4-r8.safetensors", nf4);
	free(nf4);
	test_nf4_files();
	check_untouched("r8", 7);
	check_untouched("rs", 21 - 6);
	test_dtype_scale_unmerge();
	test_files();
	test_shards();
	test_errors();
	test_info();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	CHECK(system(cmd) == 0, "cleanup");
	free(lora_dir);
	return test_main_end();
}
