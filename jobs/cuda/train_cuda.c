/* qlora-tools: ISC license. */
/* lora-train's device side (jobs/cuda/jobs_cuda.h). */
#include <stdlib.h>

#include "common/dist.h"
#include "jobs/cuda/jobs_cuda.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/llama_train_cuda.h"

struct train_cuda {
	struct llama_cuda_model *dm;
	struct llama_cuda_lora  *dl;
	struct llama_cuda_ws    *ws;
};

static int fail(struct qt_err *err, const char *what)
{
	const char *e = cuda_error();
	qt_err_set(err, QT_ESOFTWARE, "cuda: %s: %s", what, e ? e : "failed");
	cuda_error_clear();
	return QT_ESOFTWARE;
}

struct train_cuda *train_cuda_new(const struct llama_model *m, const struct adapter *lora,
                                  const struct adapter *m1, const struct adapter *m2, int T,
                                  int R, int checkpointing, struct qt_err *err)
{
	struct train_cuda *tc = calloc(1, sizeof *tc);
	if (!tc) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	/* The moments matter on a resume; the gradients start at zero. */
	if (!(tc->dm = llama_cuda_model_upload(m, err)) ||
	    !(tc->dl = llama_cuda_lora_upload(ADAPTER_TABLE(lora), err)) ||
	    (llama_cuda_lora_sync(tc->dl, NULL, NULL, ADAPTER_TABLE(m1), ADAPTER_TABLE(m2),
	                          1) != 0 && fail(err, "uploading the AdamW moments")) ||
	    !(tc->ws = llama_cuda_ws_new(tc->dm, T, R, checkpointing, err))) {
		train_cuda_free(tc);
		return NULL;
	}
	return tc;
}

void train_cuda_free(struct train_cuda *tc)
{
	if (!tc)
		return;
	llama_cuda_ws_free(tc->ws);
	llama_cuda_lora_free(tc->dl);
	llama_cuda_model_free(tc->dm);
	free(tc);
}

size_t train_cuda_ws_bytes(const struct train_cuda *tc)
{
	return llama_cuda_ws_bytes(tc->ws);
}

int train_cuda_block(struct train_cuda *tc, int train, const int32_t *ids, const int32_t *pos,
                     const int32_t *seg, const int32_t *targets, int T, float grad_scale,
                     float neftune_mag, uint64_t neftune_seed,
                     const struct llama_train_dropout *drop, double *loss_sum,
                     struct qt_err *err)
{
	return llama_train_block_cuda(tc->dm, tc->dl, train, tc->ws, ids, pos, seg, targets, T,
	                              grad_scale, neftune_mag, neftune_seed, drop, loss_sum, err);
}

void train_cuda_zero_grad(struct train_cuda *tc)
{
	llama_cuda_lora_zero_grad(tc->dl);
}

int train_cuda_allreduce(struct train_cuda *tc, struct qt_err *err)
{
	int n = llama_cuda_lora_grads(tc->dl, NULL, NULL, 0), rc;
	float **bufs = malloc((size_t)n * sizeof *bufs);
	size_t *len = malloc((size_t)n * sizeof *len);
	if (!bufs || !len)
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	else if (cuda_sync() != 0)
		rc = fail(err, "gradients before the all-reduce");
	else {
		llama_cuda_lora_grads(tc->dl, bufs, len, n);
		rc = dist_nccl_allreduce_f32(bufs, len, n, err);
	}
	free(bufs);
	free(len);
	return rc;
}

int train_cuda_grad_sumsq(struct train_cuda *tc, double *sumsq, struct qt_err *err)
{
	*sumsq = 0;
	if (llama_cuda_lora_grad_sumsq(tc->dl, sumsq) != 0 || cuda_sync() != 0)
		return fail(err, "gradient norm");
	return QT_OK;
}

int train_cuda_update(struct train_cuda *tc, float coef, const struct adamw_hparams *h,
                      struct qt_err *err)
{
	if (coef < 1.0f)
		llama_cuda_lora_scale_grad(tc->dl, coef);
	llama_cuda_lora_adamw(tc->dl, h);
	return cuda_sync() == 0 ? QT_OK : fail(err, "optimizer step");
}

int train_cuda_download(struct train_cuda *tc, struct adapter *lora, struct adapter *m1,
                        struct adapter *m2, struct qt_err *err)
{
	if (llama_cuda_lora_sync(tc->dl, ADAPTER_TABLE(lora), NULL, ADAPTER_TABLE(m1),
	                         ADAPTER_TABLE(m2), 0) != 0 || cuda_sync() != 0)
		return fail(err, "downloading the adapter");
	return QT_OK;
}
