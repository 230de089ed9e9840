/* qlora-tools: ISC license. */
/*
 * Helpers for the kernel tests (header-only, included by tests/kernels/test_*.c):
 *   - golden tensors written by tests/ref/kernels_golden.py (format described there);
 *   - kc_close: compare a result with a reference, print max abs / rel error and the worst
 *     index, CHECK |a - r| <= atol + rtol * |r| elementwise;
 *   - kc_fd: central finite-difference check of a backward against a scalar loss;
 *   - seeded random buffers.
 */
#ifndef QT_KCHECK_H
#define QT_KCHECK_H

#include <stdint.h>

#include "common/rng.h"
#include "test.h"

struct kc_tensor { char name[25]; uint32_t dtype, ndim, dims[4]; size_t n; void *data; };
struct kc_gold { int n; struct kc_tensor t[128]; char *buf; };

static inline uint32_t kc_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Loads tests/data/kernels/<op>.bin; returns 0 or -1 (with a failed CHECK). */
static inline int kc_gold_load(struct kc_gold *g, const char *op)
{
	char path[512];
	snprintf(path, sizeof path, "%s/data/kernels/%s.bin", test_srcdir(), op);
	memset(g, 0, sizeof *g);
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL, "cannot open %s", path);
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	g->buf = malloc((size_t)len);
	size_t got = fread(g->buf, 1, (size_t)len, f);
	fclose(f);
	unsigned char *p = (unsigned char *)g->buf, *end = p + got;
	if (got < 12 || memcmp(p, "QTKGOLD1", 8) != 0) {
		CHECK(0, "%s: bad golden file", path);
		return -1;
	}
	uint32_t cnt = kc_le32(p + 8);
	p += 12;
	for (uint32_t i = 0; i < cnt && i < 128; i++) {
		struct kc_tensor *t = &g->t[g->n++];
		if (end - p < 48) {
			CHECK(0, "%s: truncated", path);
			return -1;
		}
		memcpy(t->name, p, 24);
		t->dtype = kc_le32(p + 24);
		t->ndim = kc_le32(p + 28);
		t->n = 1;
		for (int d = 0; d < 4; d++)
			t->n *= t->dims[d] = kc_le32(p + 32 + 4 * d);
		t->data = p + 48;   /* host is little-endian (x86-64, aarch64) */
		p += 48 + 4 * t->n;
		if (p > end) {
			CHECK(0, "%s: truncated", path);
			return -1;
		}
	}
	return 0;
}

static inline void *kc_get(struct kc_gold *g, const char *name, size_t *n)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->t[i].name, name) == 0) {
			if (n)
				*n = g->t[i].n;
			return g->t[i].data;
		}
	fprintf(stderr, "golden tensor %s missing\n", name);
	exit(1);
}

static inline float *kc_f(struct kc_gold *g, const char *fmt, int i)
{
	char name[32];
	snprintf(name, sizeof name, fmt, i);
	return kc_get(g, name, NULL);
}

static inline const struct kc_tensor *kc_t(struct kc_gold *g, const char *fmt, int i)
{
	char name[32];
	snprintf(name, sizeof name, fmt, i);
	for (int j = 0; j < g->n; j++)
		if (strcmp(g->t[j].name, name) == 0)
			return &g->t[j];
	fprintf(stderr, "golden tensor %s missing\n", name);
	exit(1);
}

/* Compares got with ref; returns the normwise relative error max|a-r| / max|r|. */
static inline double kc_close(const char *what, const float *got, const float *ref, size_t n,
                       double rtol, double atol)
{
	double maxabs = 0, maxref = 0, maxrel = 0, se = 0, sr = 0;
	size_t worst = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		double a = got[i], r = ref[i], e = fabs(a - r);
		if (!(e <= atol + rtol * fabs(r)))
			bad++;
		if (e > maxabs || e != e) {
			maxabs = e;
			worst = i;
		}
		if (fabs(r) > maxref)
			maxref = fabs(r);
		if (fabs(r) > 1e-3 && e / fabs(r) > maxrel)
			maxrel = e / fabs(r);
		se += e * e;
		sr += r * r;
	}
	double rel = maxref > 0 ? maxabs / maxref : maxabs;
	printf("%-28s n=%-6zu max_abs=%.3g norm_rel=%.3g max_elem_rel=%.3g nmse=%.3g worst=%zu\n",
	       what, n, maxabs, rel, maxrel, sr > 0 ? se / sr : se, worst);
	CHECK(bad == 0, "%s: %zu of %zu elements outside atol %g + rtol %g (worst %zu: %g vs %g)",
	      what, bad, n, atol, rtol, worst, n ? got[worst] : 0.0, n ? ref[worst] : 0.0);
	return rel;
}

static inline void kc_rand(float *x, size_t n, uint64_t seed, float scale)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((qt_rng_double(&r) * 2 - 1) * scale);
}

/*
 * Finite-difference check. loss(ctx) returns a scalar (double) computed by the forward from the
 * buffer x (n floats) that the caller's ctx points at; grad holds the analytic dloss/dx.
 * Central differences with step h on every element; CHECK normwise relative error <= tol.
 */
typedef double (*kc_loss_fn)(void *ctx);
static inline double kc_fd(const char *what, kc_loss_fn loss, void *ctx, float *x, const float *grad,
                    size_t n, float h, double tol)
{
	double maxerr = 0, maxg = 0;
	size_t worst = 0;
	for (size_t i = 0; i < n; i++) {
		float x0 = x[i];
		x[i] = x0 + h;
		double lp = loss(ctx);
		x[i] = x0 - h;
		double lm = loss(ctx);
		x[i] = x0;
		double num = (lp - lm) / ((double)(x0 + h) - (double)(x0 - h));
		double e = fabs(num - grad[i]);
		if (e > maxerr) {
			maxerr = e;
			worst = i;
		}
		if (fabs(num) > maxg)
			maxg = fabs(num);
	}
	double rel = maxg > 0 ? maxerr / maxg : maxerr;
	printf("%-28s fd n=%-5zu max_abs=%.3g norm_rel=%.3g worst=%zu\n", what, n, maxerr, rel, worst);
	CHECK(rel <= tol, "%s: finite-difference rel error %g > %g at %zu", what, rel, tol, worst);
	return rel;
}

/* Weighted sum sum_i w_i * y_i in double: the scalar loss used by the fd checks. */
static inline double kc_dot(const float *y, const float *w, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)y[i] * w[i];
	return s;
}

#endif
