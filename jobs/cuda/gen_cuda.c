/* qlora-tools: ISC license. */
/* gen's device side (jobs/cuda/jobs_cuda.h). */
#include <stdlib.h>

#include "jobs/cuda/jobs_cuda.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/llama_train_cuda.h"

struct gen_cuda {
	struct llama_cuda_model *dm;
	struct llama_cuda_lora  *dl; /* NULL: the base model alone */
};

/* The jobs' cache type is the backend's. */
struct gen_cuda_cache {
	struct llama_cuda_cache *c;
};

struct gen_cuda *gen_cuda_new(const struct llama_model *m, const struct adapter *lora,
                              struct qt_err *err)
{
	struct gen_cuda *g = calloc(1, sizeof *g);
	if (!g) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	if (!(g->dm = llama_cuda_model_upload(m, err)) ||
	    (lora && !(g->dl = llama_cuda_lora_upload(ADAPTER_TABLE(lora), err)))) {
		gen_cuda_free(g);
		return NULL;
	}
	return g;
}

void gen_cuda_free(struct gen_cuda *g)
{
	if (!g)
		return;
	llama_cuda_lora_free(g->dl);
	llama_cuda_model_free(g->dm);
	free(g);
}

struct gen_cuda_cache *gen_cuda_cache_new(struct gen_cuda *g, int B, int L, struct qt_err *err)
{
	struct gen_cuda_cache *c = calloc(1, sizeof *c);
	if (!c) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	if (!(c->c = llama_cuda_cache_new(g->dm, B, L, err))) {
		free(c);
		return NULL;
	}
	return c;
}

void gen_cuda_cache_free(struct gen_cuda_cache *c)
{
	if (!c)
		return;
	llama_cuda_cache_free(c->c);
	free(c);
}

int gen_cuda_prefill(struct gen_cuda *g, struct gen_cuda_cache *c, int b, const int32_t *ids,
                     int T, float *logits, struct qt_err *err)
{
	struct llama_cuda_cache *one = llama_cuda_cache_new(g->dm, 1, T, err);
	if (!one)
		return err->status;
	int st = llama_decode_cuda(g->dm, g->dl, one, ids, 1, T, logits, err);
	if (st == QT_OK && llama_cuda_cache_put_row(c->c, b, one) != 0) {
		const char *e = cuda_error();
		st = qt_err_set(err, QT_ESOFTWARE, "cuda: prefill: %s", e ? e : "failed");
		cuda_error_clear();
	}
	llama_cuda_cache_free(one);
	return st;
}

int gen_cuda_step(struct gen_cuda *g, struct gen_cuda_cache *c, const int32_t *ids, int B,
                  float *logits, struct qt_err *err)
{
	return llama_decode_cuda(g->dm, g->dl, c->c, ids, B, 1, logits, err);
}
