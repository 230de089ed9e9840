/* qlora-tools: ISC license. */
/*
 * CPU implementation of next-token selection; see kernels/sample.h. Plain loops; the sorts are
 * O(V log V) per step, small next to the LM head's O(V*C).
 */
#include "kernels/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sample_repetition_penalty(float *s, int V, const uint32_t *hist, size_t n, float penalty)
{
	if (penalty == 1.0f || n == 0)
		return;
	/* Gather once per distinct id, as torch.gather then scatter does. */
	unsigned char *seen = calloc((size_t)V, 1);
	if (!seen)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = hist[i];
		if (id >= (uint32_t)V || seen[id])
			continue;
		seen[id] = 1;
		s[id] = s[id] < 0 ? s[id] * penalty : s[id] / penalty;
	}
	free(seen);
}

void sample_temperature(float *s, int V, float t)
{
	if (t == 1.0f)
		return;
	for (int i = 0; i < V; i++)
		s[i] = s[i] / t;
}

static int cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x < y) - (x > y);
}

void sample_top_k(float *s, int V, int k, int min_keep)
{
	if (k <= 0)
		return;
	if (k < min_keep)
		k = min_keep;
	if (k >= V)
		return;
	float *tmp = malloc((size_t)V * sizeof *tmp);
	if (!tmp)
		return;
	memcpy(tmp, s, (size_t)V * sizeof *tmp);
	qsort(tmp, (size_t)V, sizeof *tmp, cmp_desc);
	float kth = tmp[k - 1];
	for (int i = 0; i < V; i++)
		if (s[i] < kth)
			s[i] = -INFINITY;
	free(tmp);
}

struct idx_val { float v; int i; };

static int cmp_iv_asc(const void *a, const void *b)
{
	const struct idx_val *x = a, *y = b;
	if (x->v != y->v)
		return (x->v > y->v) - (x->v < y->v);
	return (x->i > y->i) - (x->i < y->i);
}

/* softmax in float32 over s (max-subtracted); -inf gives 0. */
static void softmax_into(const float *s, int V, float *p)
{
	float m = -INFINITY;
	for (int i = 0; i < V; i++)
		m = s[i] > m ? s[i] : m;
	double sum = 0;
	for (int i = 0; i < V; i++) {
		p[i] = s[i] == -INFINITY ? 0.0f : expf(s[i] - m);
		sum += p[i];
	}
	float inv = (float)(1.0 / sum);
	for (int i = 0; i < V; i++)
		p[i] *= inv;
}

void sample_top_p(float *s, int V, float p, int min_keep)
{
	if (p >= 1.0f)
		return;
	struct idx_val *iv = malloc((size_t)V * sizeof *iv);
	float *sorted = malloc((size_t)V * sizeof *sorted);
	float *prob = malloc((size_t)V * sizeof *prob);
	if (!iv || !sorted || !prob)
		goto out;
	for (int i = 0; i < V; i++)
		iv[i] = (struct idx_val){ s[i], i };
	qsort(iv, (size_t)V, sizeof *iv, cmp_iv_asc);
	for (int i = 0; i < V; i++)
		sorted[i] = iv[i].v;
	softmax_into(sorted, V, prob);
	/* torch's CPU cumsum accumulates float in double and stores float. */
	double cum = 0;
	float thr = 1.0f - p;
	for (int j = 0; j < V - min_keep; j++) {
		cum += prob[j];
		if ((float)cum <= thr)
			s[iv[j].i] = -INFINITY;
	}
out:
	free(iv);
	free(sorted);
	free(prob);
}

void sample_min_p(float *s, int V, float m, int min_keep)
{
	if (m <= 0.0f)
		return;
	float *prob = malloc((size_t)V * sizeof *prob);
	if (!prob)
		return;
	softmax_into(s, V, prob);
	float top = 0;
	for (int i = 0; i < V; i++)
		top = prob[i] > top ? prob[i] : top;
	float thr = m * top;
	/* min_keep (1 for sampling) protects the most probable token, which never falls below. */
	(void)min_keep;
	for (int i = 0; i < V; i++)
		if (prob[i] < thr)
			s[i] = -INFINITY;
	free(prob);
}

int sample_argmax(const float *s, int V)
{
	int best = 0;
	for (int i = 1; i < V; i++)
		if (s[i] > s[best])
			best = i;
	return best;
}

int sample_multinomial(const float *s, int V, double u)
{
	float *prob = malloc((size_t)V * sizeof *prob);
	if (!prob)
		return sample_argmax(s, V);
	softmax_into(s, V, prob);
	double cum = 0;
	int last = 0;
	for (int i = 0; i < V; i++) {
		if (prob[i] <= 0)
			continue;
		last = i;
		cum += prob[i];
		if (u < cum) {
			free(prob);
			return i;
		}
	}
	free(prob);
	return last;
}

int sample_next(float *s, int V, const uint32_t *hist, size_t n, const struct sample_params *p,
                struct qt_rng *rng)
{
	sample_repetition_penalty(s, V, hist, n, p->repetition_penalty);
	if (!p->do_sample)
		return sample_argmax(s, V);
	sample_temperature(s, V, p->temperature);
	sample_top_k(s, V, p->top_k, 1);
	sample_top_p(s, V, p->top_p, 1);
	sample_min_p(s, V, p->min_p, 1);
	return sample_multinomial(s, V, qt_rng_double(rng));
}
