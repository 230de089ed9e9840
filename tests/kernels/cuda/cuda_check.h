/* qlora-tools: ISC license. */
/*
 * Helpers for the CUDA parity tests (tests/kernels/cuda/test_cuda_*.c, built only when nvcc is
 * found): device selection with SKIP, device buffers followed by a guard region of sentinels
 * that must survive every op, downloads that check the guard, and comparisons by NMSE plus
 * elementwise |a - r| <= atol + rtol |r| (kcheck.h's kc_close prints max abs/rel error and the
 * worst index). Every test computes its CPU reference first, so the reference side runs on
 * every machine; the CUDA side is SKIPped where no device answers.
 */
#ifndef QT_CUDA_CHECK_H
#define QT_CUDA_CHECK_H

#include "kernels/cuda/cuda.h"
#include "kernels/device.h"

#include "../kcheck.h"

#define CC_GUARD 64                 /* floats of sentinel after each device buffer */
#define CC_SENTINEL 0x7FA5A5A5u     /* a signalling-NaN pattern no kernel writes */
#define CC_POISON 0x7FC0DEADu       /* initial contents of outputs: a NaN, never a result */

static int cc_gpu = -1;

/* 1 when a CUDA device is usable (probed once); otherwise SKIP with the op's name. */
static inline int cc_have_gpu(const char *what)
{
	if (cc_gpu < 0)
		cc_gpu = device_select("auto") == QT_DEVICE_CUDA;
	if (!cc_gpu)
		SKIP("%s: no CUDA device, CUDA vs CPU parity not run", what);
	return cc_gpu;
}

/* Device buffer of `bytes` + guard; filled from host (or poisoned when host is NULL). */
static inline void *cc_dev(const void *host, size_t bytes)
{
	size_t n = bytes + CC_GUARD * 4;
	uint32_t *h = malloc(n + 4);
	if (host)
		memcpy(h, host, bytes);
	else {
		for (size_t i = 0; i < bytes / 4; i++)
			h[i] = CC_POISON;
		memset((char *)h + bytes / 4 * 4, 0xA5, bytes % 4);
	}
	for (size_t i = 0; i < CC_GUARD; i++)
		memcpy((char *)h + bytes + 4 * i, &(uint32_t){ CC_SENTINEL }, 4);
	void *d = cuda_malloc(n);
	if (d)
		cuda_upload(d, h, n);
	free(h);
	return d;
}

static inline float *cc_devf(const float *host, size_t n) { return cc_dev(host, n * 4); }

/* Downloads bytes into host and CHECKs that the guard after them is intact. */
static inline void cc_get(const char *what, void *host, const void *dev, size_t bytes)
{
	size_t n = bytes + CC_GUARD * 4;
	unsigned char *h = malloc(n);
	CHECK(cuda_download(h, dev, n) == 0, "%s: download: %s", what, cuda_error());
	memcpy(host, h, bytes);
	size_t bad = 0;
	for (size_t i = 0; i < CC_GUARD; i++) {
		uint32_t u;
		memcpy(&u, h + bytes + 4 * i, 4);
		bad += u != CC_SENTINEL;
	}
	CHECK(bad == 0, "%s: %zu guard words after the output overwritten", what, bad);
	free(h);
}

/* CHECKs the guard after a device buffer of `bytes` without downloading the buffer. */
static inline void cc_guard(const char *what, const void *dev, size_t bytes)
{
	uint32_t h[CC_GUARD];
	size_t bad = 0;
	CHECK(cuda_download(h, (const char *)dev + bytes, sizeof h) == 0, "%s: download: %s", what,
	      cuda_error());
	for (size_t i = 0; i < CC_GUARD; i++)
		bad += h[i] != CC_SENTINEL;
	CHECK(bad == 0, "%s: %zu guard words after the buffer overwritten", what, bad);
}

/* CHECKs that the ops since the last call ran without a recorded error. */
static inline void cc_ok(const char *what)
{
	int rc = cuda_sync();
	CHECK(rc == 0, "%s: %s", what, cuda_error() ? cuda_error() : "?");
	cuda_error_clear();
}

/* NMSE limit plus elementwise tolerance (kc_close). */
static inline void cc_close(const char *what, const float *got, const float *ref, size_t n,
                            double rtol, double atol, double nmse_max)
{
	double se = 0, sr = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)got[i] - ref[i];
		se += e * e;
		sr += (double)ref[i] * ref[i];
	}
	double nmse = sr > 0 ? se / sr : se;
	CHECK(nmse <= nmse_max, "%s: nmse %g > %g", what, nmse, nmse_max);
	kc_close(what, got, ref, n, rtol, atol);
}

/* Bit-for-bit equality; reports the first difference. */
static inline void cc_exact(const char *what, const void *got, const void *ref, size_t bytes)
{
	const unsigned char *a = got, *b = ref;
	size_t i = 0;
	while (i < bytes && a[i] == b[i])
		i++;
	printf("%-28s bytes=%zu %s\n", what, bytes, i == bytes ? "bit-identical" : "DIFFER");
	CHECK(i == bytes, "%s: first difference at byte %zu", what, i);
}

#endif
