/* qlora-tools: ISC license. */
/* The CPU's backend table (kernels/backend.h): the ops of kernels/cpu, threaded where they can
 * be (kernels/cpu/threaded.h). Host memory, so nothing is staged; only the frozen products' tile buffers can fail
 * after an allocation. */
#include "kernels/backend.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/columns.h"
#include "kernels/cpu/threaded.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/geglu.h"
#include "kernels/matmul.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/softcap.h"
#include "kernels/swiglu.h"

static void *cpu_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }

static int cpu_upload(void *dst, const void *src, size_t bytes)
{
	memcpy(dst, src, bytes);
	return 0;
}

/* Only the frozen-weight products can fail (kernels/frozen.h): reported as a device's
 * asynchronous errors are, at the next download or sync. */
static int cpu_download(void *dst, const void *src, size_t bytes)
{
	memcpy(dst, src, bytes);
	return frozen_error() ? -1 : 0;
}

static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_zero(void *dst, size_t bytes) { memset(dst, 0, bytes); }
static int cpu_sync(void) { return frozen_error() ? -1 : 0; }
static const char *cpu_error(void) { return frozen_error(); }
static void cpu_error_clear(void) { frozen_error_clear(); }

const struct qt_backend qt_backend_cpu = {
	.name = "cpu",
	.host = 1,
	.caps = QT_CAP_ATTN_SCALE_CAP | QT_CAP_ROPE_PARTIAL,
	.alloc = cpu_alloc,
	.free = free,
	.upload = cpu_upload,
	.download = cpu_download,
	.copy = cpu_copy,
	.zero = cpu_zero,
	.sync = cpu_sync,
	.error = cpu_error,
	.error_clear = cpu_error_clear,
	.embedding_forward = embedding_forward,
	.embedding_forward_bf16 = embedding_forward_bf16,
	.embedding_scale = embedding_scale,
	.neftune_forward = neftune_forward,
	.rmsnorm_forward = rmsnorm_forward_fast,
	.rmsnorm_backward = rmsnorm_backward_threaded,
	.linear_forward = linear_forward_fast,
	.linear_backward_x = linear_backward_x_fast,
	.linear_backward_w = linear_backward_w_fast,
	.bias_forward = bias_forward,
	.frozen_scratch = frozen_scratch,
	.frozen_infer = frozen_infer,
	.frozen_train = frozen_train,
	.frozen_train_backward_x = frozen_train_backward_x,
	.columns_split = columns_split_threaded,
	.columns_join = columns_join_threaded,
	.residual_add = residual_add_threaded,
	.softcap_forward = softcap_forward,
	.softcap_backward = softcap_backward,
	.rope_forward_part = rope_forward_threaded,
	.rope_backward_part = rope_backward_threaded,
	.attention_forward = attention_forward_fast,
	.attention_backward = attention_backward_fast,
	.attention_decode = attention_decode_fast,
	.attention_prefix_forward = attention_prefix_forward,
	.attention_prefix_backward = attention_prefix_backward,
	.swiglu_forward = swiglu_forward_threaded,
	.swiglu_backward = swiglu_backward_threaded,
	.geglu_forward = geglu_forward,
	.geglu_backward = geglu_backward,
	.dropout_forward = dropout_forward_threaded,
	.dropout_backward = dropout_backward_threaded,
	.lm_head_ce = lm_head_ce,
	.lm_head_correct = lm_head_correct,
	.lm_head_ce_bf16 = lm_head_ce_bf16,
	.lm_head_correct_bf16 = lm_head_correct_bf16,
	.lm_head_eval = lm_head_eval,
	.adamw_step = adamw_step_threaded,
	.grad_sumsq = grad_sumsq,
	.grad_scale = grad_scale,
};
