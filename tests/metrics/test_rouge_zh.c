/* qlora-tools: ISC license. */
/*
 * rouge-zh against the Python reference (tests/ref/rouge_golden.py): jieba segmentation token
 * for token, per-sample rouge-1/2/l and bleu-4 (word and --char mode), which samples THUDM's
 * unguarded code rejects, the np.mean averages, np.mean itself across its 8192-element chunks,
 * plus the worked examples of reference.md 9.8 and the float helpers.
 */
#include <jansson.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "common/pyfloat.h"
#include "metrics/chatglm.h"
#include "test.h"

static double max_err;

static char *data_path(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/data/%s", test_srcdir(), name);
	return buf;
}

static double jnum(json_t *v) { return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v); }

static void check_seg(const char *what, size_t i, const char *s, size_t n,
                      const struct jieba_tokens *t, json_t *want, int *bad)
{
	size_t nw = json_array_size(want), prev = 0, cps = 0;
	int ok = nw == t->n;
	for (size_t k = 0; ok && k < t->n; k++) {
		cps = 0;
		for (size_t b = prev; b < t->end[k]; b++)
			cps += ((unsigned char)s[b] & 0xC0) != 0x80;
		ok = cps == (size_t)json_integer_value(json_array_get(want, k));
		prev = t->end[k];
	}
	ok = ok && (t->n == 0 ? n == 0 : t->end[t->n - 1] == n);
	if (!ok && (*bad)++ < 5)
		fprintf(stderr, "segmentation of %s %zu differs: %.200s\n", what, i, s);
}

static void cmp_vals(const char *what, size_t i, const struct chatglm_sample *r, json_t *want,
                     int *bad)
{
	double got[4] = { r->rouge1, r->rouge2, r->rougel, r->bleu4 };
	int ok = 1;
	for (int k = 0; k < 4; k++) {
		double w = jnum(json_array_get(want, (size_t)k));
		double e = fabs(got[k] - w);
		if (e > max_err)
			max_err = e;
		ok &= got[k] == w;
	}
	if (!ok && (*bad)++ < 5)
		fprintf(stderr, "%s sample %zu: got %.17g %.17g %.17g %.17g\n", what, i, got[0], got[1],
		        got[2], got[3]);
}

static void golden(const struct jieba *j)
{
	FILE *fp = fopen(data_path("rouge_pairs.jsonl"), "r");
	FILE *fg = fopen(data_path("rouge_golden.jsonl"), "r");
	CHECK(fp && fg, "golden files missing");
	if (!fp || !fg)
		return;
	struct chatglm_scratch sc = { 0 };
	char *lp = NULL, *lg = NULL;
	size_t cp = 0, cg = 0, n = 0;
	int seg_bad = 0, w_bad = 0, c_bad = 0, e_bad = 0;
	size_t n_tokens = 0;
	double *col[4] = { NULL };
	size_t col_cap = 0;
	while (getline(&lp, &cp, fp) > 0 && getline(&lg, &cg, fg) > 0) {
		json_error_t je;
		json_t *p = json_loads(lp, JSON_ALLOW_NUL, &je), *g = json_loads(lg, 0, &je);
		CHECK(p && g, "bad golden line %zu", n);
		if (!p || !g)
			break;
		json_t *jp = json_object_get(p, "predict"), *jl = json_object_get(p, "labels");
		const char *ps = json_string_value(jp), *ls = json_string_value(jl);
		size_t pn = json_string_length(jp), ln = json_string_length(jl);
		CHECK(jieba_cut(j, ps, pn, &sc.th, &sc.js) == QT_OK, "cut");
		check_seg("prediction", n, ps, pn, &sc.th, json_object_get(g, "sp"), &seg_bad);
		n_tokens += sc.th.n;
		CHECK(jieba_cut(j, ls, ln, &sc.tr, &sc.js) == QT_OK, "cut");
		check_seg("label", n, ls, ln, &sc.tr, json_object_get(g, "sl"), &seg_bad);
		n_tokens += sc.tr.n;
		struct chatglm_sample r;
		chatglm_score(j, CHATGLM_EMPTY_ZERO, ps, pn, ls, ln, &sc, &r);
		CHECK(r.fail == 0, "sample %zu failed", n);
		cmp_vals("word", n, &r, json_object_get(g, "w"), &w_bad);
		if (n == col_cap) {
			col_cap = col_cap ? col_cap * 2 : 1024;
			for (int k = 0; k < 4; k++)
				col[k] = realloc(col[k], col_cap * sizeof **col);
		}
		col[0][n] = r.rouge1, col[1][n] = r.rouge2, col[2][n] = r.rougel, col[3][n] = r.bleu4;
		struct chatglm_sample rc;
		chatglm_score(NULL, CHATGLM_EMPTY_ZERO, ps, pn, ls, ln, &sc, &rc);
		cmp_vals("char", n, &rc, json_object_get(g, "c"), &c_bad);
		struct chatglm_sample re;
		chatglm_score(j, CHATGLM_EMPTY_ERROR, ps, pn, ls, ln, &sc, &re);
		const char *rz = json_string_value(json_object_get(g, "raise"));
		int want = !rz ? CHATGLM_FAIL_NONE : rz[0] == 'h' ? CHATGLM_FAIL_HYP_EMPTY
		                                                 : CHATGLM_FAIL_REF_EMPTY;
		if (re.fail != want && e_bad++ < 5)
			fprintf(stderr, "--empty error sample %zu: fail %d, want %d\n", n, re.fail, want);
		json_decref(p);
		json_decref(g);
		n++;
	}
	CHECK(n >= 2000, "only %zu golden pairs", n);
	CHECK(seg_bad == 0, "%d of %zu texts segmented differently", seg_bad, 2 * n);
	CHECK(w_bad == 0, "%d samples differ (word mode)", w_bad);
	CHECK(c_bad == 0, "%d samples differ (char mode)", c_bad);
	CHECK(e_bad == 0, "%d samples differ in which side is rejected", e_bad);
	printf("golden: %zu pairs, %zu jieba tokens identical, max abs error %.3g\n", n, n_tokens,
	       max_err);
	/* the averages, as np.mean */
	json_error_t je;
	json_t *m = json_load_file(data_path("rouge_golden.json"), 0, &je);
	CHECK(m != NULL, "rouge_golden.json");
	const char *keys[4] = { "rouge-1", "rouge-2", "rouge-l", "bleu-4" };
	for (int k = 0; m && k < 4; k++) {
		double got = py_mean(col[k], n, PY_MEAN_NUMPY1), want = jnum(json_object_get(m, keys[k]));
		CHECK(got == want, "%s mean %.17g, want %.17g", keys[k], got, want);
	}
	json_decref(m);
	for (int k = 0; k < 4; k++)
		free(col[k]);
	free(lp);
	free(lg);
	fclose(fp);
	fclose(fg);
	chatglm_scratch_free(&sc);
}

/* tests/data/rouge_npmean_np<major>.txt against py_mean in that mode */
static void npmean(const char *file, enum py_mean how)
{
	FILE *f = fopen(data_path(file), "r");
	CHECK(f != NULL, "%s", file);
	if (!f)
		return;
	char line[256];
	int bad = 0, cases = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long n, seed;
		double want;
		if (line[0] == '#' || sscanf(line, "%lu %lu %lf", &n, &seed, &want) != 3)
			continue;
		double *a = malloc(n * sizeof *a);
		uint64_t x = seed;
		for (size_t i = 0; i < n; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			a[i] = py_round4((double)(x >> 11) * (1.0 / 9007199254740992.0) * 100);
		}
		double got = py_mean(a, n, how);
		if (got != want && bad++ < 5)
			fprintf(stderr, "%s n=%lu: %.17g want %.17g\n", file, n, got, want);
		free(a);
		cases++;
	}
	fclose(f);
	CHECK(bad == 0 && cases > 300, "%s: %d of %d differ", file, bad, cases);
}

static void examples(const struct jieba *j)
{
	struct chatglm_scratch sc = { 0 };
	struct chatglm_sample r;
	/* reference.md 9.8 E2 and E5 */
	const char *p2 = "这是一款简约的牛仔外套,破洞设计,带来一种随意与个性。";
	const char *l2 = "简约而不简单的牛仔外套,白色的衣身十分百搭。衣身多处有做旧破洞设计,打破单调乏味,增加一丝造型看点。";
	chatglm_score(j, CHATGLM_EMPTY_ZERO, p2, strlen(p2), l2, strlen(l2), &sc, &r);
	CHECK(r.rouge1 == 40.0 && r.rouge2 == 22.7273 && r.rougel == 39.1304 && r.bleu4 == 14.2549,
	      "E2: %.17g %.17g %.17g %.17g", r.rouge1, r.rouge2, r.rougel, r.bleu4);
	const char *p5 = "好的好的好的，iPhone 14售价5999元", *l5 = "好的，iPhone14的售价是5999元。";
	chatglm_score(j, CHATGLM_EMPTY_ZERO, p5, strlen(p5), l5, strlen(l5), &sc, &r);
	CHECK(r.rouge1 == 70.5882 && r.rouge2 == 35.2941 && r.rougel == 54.5455 && r.bleu4 == 56.2526,
	      "E5: %.17g %.17g %.17g %.17g", r.rouge1, r.rouge2, r.rougel, r.bleu4);
	/* E2's BLEU counts: 15/27, 10/26, 7/25, 5/24; H 27, R 50 */
	size_t lh, lr;
	uint32_t hb[64], rb[64];
	lh = lr = 0;
	for (const unsigned char *q = (const unsigned char *)p2; *q;)
		q += jieba_utf8_next(q, &hb[lh++]);
	for (const unsigned char *q = (const unsigned char *)l2; *q;)
		q += jieba_utf8_next(q, &rb[lr++]);
	struct bleu_detail d;
	int oom = 0;
	bleu_sentence(hb, lh, rb, lr, &sc.bs, &d, &oom);
	CHECK(d.m[0] == 15 && d.d[0] == 27 && d.m[1] == 10 && d.d[1] == 26 && d.m[2] == 7 &&
	      d.d[2] == 25 && d.m[3] == 5 && d.d[3] == 24 && d.hyp_len == 27 && d.ref_len == 50,
	      "E2 bleu counts");
	/* 9.6.8: 丄丅丏両 (no emission entries: all ties) → four single tokens */
	const char *t = "丄丅丏両";
	CHECK(jieba_cut(j, t, strlen(t), &sc.th, &sc.js) == 0 && sc.th.n == 4, "tie text: %zu",
	      sc.th.n);
	const char *t2 = "他来到了网易杭研大厦";
	CHECK(jieba_cut(j, t2, strlen(t2), &sc.th, &sc.js) == 0 && sc.th.n == 6, "HMM: %zu", sc.th.n);
	/* --empty modes */
	chatglm_score(j, CHATGLM_EMPTY_HYP, "", 0, "x", 1, &sc, &r);
	CHECK(r.fail == 0 && r.rouge1 == 0.0, "hyp mode, empty prediction");
	chatglm_score(j, CHATGLM_EMPTY_HYP, "x", 1, " ", 1, &sc, &r);
	CHECK(r.fail == CHATGLM_FAIL_REF_EMPTY, "hyp mode, empty label");
	chatglm_score(j, CHATGLM_EMPTY_ERROR, "\n", 1, "x", 1, &sc, &r);
	CHECK(r.fail == CHATGLM_FAIL_HYP_EMPTY, "error mode");
	chatglm_scratch_free(&sc);
}

static void floats(void)
{
	char b[40];
	CHECK(!strcmp(py_float_repr(47.831920000000004, b), "47.831920000000004"), "%s", b);
	CHECK(!strcmp(py_float_repr(100.0, b), "100.0"), "%s", b);
	CHECK(!strcmp(py_float_repr(0.0, b), "0.0"), "%s", b);
	CHECK(!strcmp(py_float_repr(0.0876, b), "0.0876"), "%s", b);
	CHECK(!strcmp(py_float_repr(1e-05, b), "1e-05"), "%s", b);
	CHECK(!strcmp(py_float_repr(0.0001, b), "0.0001"), "%s", b);
	CHECK(!strcmp(py_float_repr(1e16, b), "1e+16"), "%s", b);
	CHECK(!strcmp(py_float_repr(1234567890123456.0, b), "1234567890123456.0"), "%s", b);
	CHECK(!strcmp(py_float_repr(-2.5, b), "-2.5"), "%s", b);
	CHECK(!strcmp(py_float_repr(0.1 + 0.2, b), "0.30000000000000004"), "%s", b);
	CHECK(py_round4(2.3437495000001065) == 2.3437, "round4 epsilon case");
	CHECK(py_round4(99.9999995) == 100.0, "round4 f of identical texts");
	CHECK(py_round4(0.00005) == 0.0001 || py_round4(0.00005) == 0.0, "round4 tiny");
	double x[3] = { 1e-16, 1.0, 1e16 };
	CHECK(bleu_fsum(x, 3) == 1.0000000000000002e16, "fsum half-even correction");
	double y[4] = { 0.1, 0.2, 0.3, -0.6 };
	CHECK(bleu_fsum(y, 4) == 2.7755575615628914e-17, "fsum exact: %.17g", bleu_fsum(y, 4));
}

static int has_cache_file(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls %s/jieba-*.bin >/dev/null 2>&1", dir);
	return system(cmd) == 0;
}

int main(void)
{
	test_in_tmpdir();
	floats();
	npmean("rouge_npmean_np1.txt", PY_MEAN_NUMPY1);
	npmean("rouge_npmean_np2.txt", PY_MEAN_NUMPY2);
	/* a private cache directory: the first load parses and writes the cache, the second reads
	 * it; the golden check runs on the cached copy, then on one rebuilt after corruption */
	char cdir[64], cmd[512];
	/* per process: two test runs at once (make test beside make test-sanitize) shared one */
	snprintf(cdir, sizeof cdir, "/tmp/qt_test_rouge_zh_cache.%ld", (long)getpid());
	snprintf(cmd, sizeof cmd, "rm -rf %s", cdir);
	CHECK(system(cmd) == 0, "rm");
	setenv("QT_JIEBA_CACHE", cdir, 1);
	struct qt_err err;
	double t0 = (double)clock() / CLOCKS_PER_SEC;
	struct jieba *j = jieba_load(NULL, NULL, &err);
	double t1 = (double)clock() / CLOCKS_PER_SEC;
	if (!j) {
		SKIP("jieba data not loadable (%s): install python3-jieba", err.msg);
		return test_main_end();
	}
	printf("jieba: %zu keys, total %lld, parsed in %.3f s\n", jieba_n_keys(j),
	       (long long)jieba_total(j), t1 - t0);
	CHECK(jieba_n_keys(j) == 498113 || getenv("QT_JIEBA_DIR"), "keys %zu", jieba_n_keys(j));
	CHECK(jieba_total(j) == 60101967 || getenv("QT_JIEBA_DIR"), "total");
	CHECK(has_cache_file(cdir), "no cache file written");
	examples(j);
	jieba_free(j);
	t0 = (double)clock() / CLOCKS_PER_SEC;
	j = jieba_load(NULL, NULL, &err);
	t1 = (double)clock() / CLOCKS_PER_SEC;
	CHECK(j != NULL, "load from cache: %s", err.msg);
	if (!j)
		return test_main_end();
	printf("jieba: loaded from the cache in %.3f s\n", t1 - t0);
	CHECK(jieba_n_keys(j) == 498113 || getenv("QT_JIEBA_DIR"), "cached keys %zu", jieba_n_keys(j));
	examples(j);
	golden(j);
	jieba_free(j);
	/* a corrupted cache file is ignored and rebuilt */
	snprintf(cmd, sizeof cmd,
	         "f=$(ls %s/jieba-*.bin) && printf 'XXXX' | dd of=$f bs=1 seek=5000000 conv=notrunc 2>/dev/null",
	         cdir);
	CHECK(system(cmd) == 0, "corrupt");
	j = jieba_load(NULL, NULL, &err);
	CHECK(j != NULL && jieba_n_keys(j) > 0, "load after corruption");
	if (j)
		examples(j);
	jieba_free(j);
	snprintf(cmd, sizeof cmd, "rm -rf %s", cdir);
	CHECK(system(cmd) == 0, "rm");
	return test_main_end();
}
