/* qlora-tools: ISC license. */
/* Helpers of the model tests that compare with transformers and PEFT goldens. */
#ifndef QT_TESTS_MODEL_CHECK_H
#define QT_TESTS_MODEL_CHECK_H

#include <math.h>
#include <stdlib.h>

#include "formats/safetensors.h"
#include "test.h"

/* max |a - b| / max |b| over n values */
static inline double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		num = d > num ? d : num;
		den = fabs(b[i]) > den ? fabs(b[i]) : den;
	}
	return den > 0 ? num / den : num;
}

/* The first index of the largest of n values (torch.argmax without NaNs). */
static inline int argmax(const float *x, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[b])
			b = i;
	return b;
}

/* prompt_embeddings of dir/adapter_model.safetensors, (P, n) floats; NULL (and a failed check)
 * when missing. */
static inline float *load_prefix_table(const char *dir, int *P, size_t *n)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
	struct st_file f;
	struct qt_err err = { 0 };
	if (st_open(&f, path, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return NULL;
	}
	const struct st_tensor *t = st_find(&f, "prompt_embeddings");
	float *w = NULL;
	if (t && t->n_dims == 2) {
		*P = (int)t->shape[0];
		*n = (size_t)t->shape[1];
		w = malloc(t->n_elem * sizeof *w);
		if (st_tensor_to_f32(t, w, &err) != QT_OK) {
			free(w);
			w = NULL;
		}
	}
	CHECK(w != NULL, "%s: prompt_embeddings", path);
	st_close(&f);
	return w;
}

#endif
