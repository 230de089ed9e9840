/* qlora-tools: ISC license. */
/*
 * kernels/sample against transformers' logits processors (tests/ref/sample_golden.py):
 * the set of surviving ids after the whole chain, and the greedy choice, must be identical.
 */
#include "kernels/sample.h"

#include <jansson.h>

#include "test.h"

int main(void)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/data/sample/golden.json", test_srcdir());
	json_error_t jerr;
	json_t *cases = json_load_file(path, 0, &jerr);
	CHECK(cases && json_is_array(cases), "%s: %s", path, jerr.text);
	if (!cases)
		return test_main_end();
	size_t ci;
	json_t *c;
	json_array_foreach(cases, ci, c) {
		int V = (int)json_integer_value(json_object_get(c, "V"));
		float *s = malloc((size_t)V * sizeof *s);
		json_t *jl = json_object_get(c, "logits"), *jh = json_object_get(c, "hist");
		for (int i = 0; i < V; i++)
			s[i] = (float)json_real_value(json_array_get(jl, (size_t)i));
		size_t nh = json_array_size(jh);
		uint32_t *hist = malloc(nh * sizeof *hist);
		for (size_t i = 0; i < nh; i++)
			hist[i] = (uint32_t)json_integer_value(json_array_get(jh, i));
		struct sample_params p = {
			.do_sample = 1,
			.temperature = (float)json_number_value(json_object_get(c, "t")),
			.top_k = (int)json_integer_value(json_object_get(c, "k")),
			.top_p = (float)json_number_value(json_object_get(c, "p")),
			.min_p = (float)json_number_value(json_object_get(c, "m")),
			.repetition_penalty = (float)json_number_value(json_object_get(c, "rep")),
		};
		sample_repetition_penalty(s, V, hist, nh, p.repetition_penalty);
		int greedy = sample_argmax(s, V);
		CHECK(greedy == json_integer_value(json_object_get(c, "greedy")), "case %zu greedy %d",
		      ci, greedy);
		sample_temperature(s, V, p.temperature);
		sample_top_k(s, V, p.top_k, 1);
		sample_top_p(s, V, p.top_p, 1);
		sample_min_p(s, V, p.min_p, 1);
		unsigned char *want = calloc((size_t)V, 1);
		json_t *jk = json_object_get(c, "keep");
		for (size_t i = 0; i < json_array_size(jk); i++)
			want[json_integer_value(json_array_get(jk, i))] = 1;
		int diff = 0, kept = 0;
		for (int i = 0; i < V; i++) {
			int got = s[i] != -INFINITY;
			kept += got;
			diff += got != want[i];
		}
		CHECK(diff == 0, "case %zu (V=%d k=%d p=%g m=%g): %d ids differ, kept %d want %zu", ci, V,
		      p.top_k, p.top_p, p.min_p, diff, kept, json_array_size(jk));
		/* A draw lands on a surviving id. */
		struct qt_rng rng;
		qt_rng_seed(&rng, ci);
		int d = sample_multinomial(s, V, qt_rng_double(&rng));
		CHECK(want[d], "case %zu: drew filtered id %d", ci, d);
		free(want);
		free(s);
		free(hist);
	}
	json_decref(cases);
	return test_main_end();
}
