/* qlora-tools: ISC license. */
/*
 * Stand-in for jobs/cuda/train_cuda.c and gen_cuda.c in a build without nvcc (Makefile):
 * the constructors fail and nothing else can be reached (device_select never answers CUDA in
 * such a build).
 */
#include "jobs/cuda/jobs_cuda.h"

static int none(struct qt_err *err)
{
	return qt_err_set(err, QT_ESOFTWARE, "built without CUDA");
}

struct train_cuda *train_cuda_new(const struct llama_model *m, const struct adapter *lora,
                                  const struct adapter *m1, const struct adapter *m2, int T,
                                  int R, int checkpointing, struct qt_err *err)
{
	(void)m, (void)lora, (void)m1, (void)m2, (void)T, (void)R, (void)checkpointing;
	none(err);
	return NULL;
}

void train_cuda_free(struct train_cuda *tc) { (void)tc; }
size_t train_cuda_ws_bytes(const struct train_cuda *tc) { (void)tc; return 0; }
void train_cuda_zero_grad(struct train_cuda *tc) { (void)tc; }

int train_cuda_block(struct train_cuda *tc, int train, const int32_t *ids, const int32_t *pos,
                     const int32_t *seg, const int32_t *targets, int T, float grad_scale,
                     float neftune_mag, uint64_t neftune_seed,
                     const struct llama_train_dropout *drop, double *loss_sum,
                     struct qt_err *err)
{
	(void)tc, (void)train, (void)ids, (void)pos, (void)seg, (void)targets, (void)T;
	(void)grad_scale, (void)neftune_mag, (void)neftune_seed, (void)drop, (void)loss_sum;
	return none(err);
}

int train_cuda_allreduce(struct train_cuda *tc, struct qt_err *err)
{
	(void)tc;
	return none(err);
}

int train_cuda_grad_sumsq(struct train_cuda *tc, double *sumsq, struct qt_err *err)
{
	(void)tc, (void)sumsq;
	return none(err);
}

int train_cuda_update(struct train_cuda *tc, float coef, const struct adamw_hparams *h,
                      struct qt_err *err)
{
	(void)tc, (void)coef, (void)h;
	return none(err);
}

int train_cuda_download(struct train_cuda *tc, struct adapter *lora, struct adapter *m1,
                        struct adapter *m2, struct qt_err *err)
{
	(void)tc, (void)lora, (void)m1, (void)m2;
	return none(err);
}

struct gen_cuda *gen_cuda_new(const struct llama_model *m, const struct adapter *lora,
                              struct qt_err *err)
{
	(void)m, (void)lora;
	none(err);
	return NULL;
}

void gen_cuda_free(struct gen_cuda *g) { (void)g; }

struct gen_cuda_cache *gen_cuda_cache_new(struct gen_cuda *g, int B, int L, struct qt_err *err)
{
	(void)g, (void)B, (void)L;
	none(err);
	return NULL;
}

void gen_cuda_cache_free(struct gen_cuda_cache *c) { (void)c; }

int gen_cuda_prefill(struct gen_cuda *g, struct gen_cuda_cache *c, int b, const int32_t *ids,
                     int T, float *logits, struct qt_err *err)
{
	(void)g, (void)c, (void)b, (void)ids, (void)T, (void)logits;
	return none(err);
}

int gen_cuda_step(struct gen_cuda *g, struct gen_cuda_cache *c, const int32_t *ids, int B,
                  float *logits, struct qt_err *err)
{
	(void)g, (void)c, (void)ids, (void)B, (void)logits;
	return none(err);
}
