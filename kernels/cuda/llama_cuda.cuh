/* qlora-tools: ISC license. */
/*
 * Private layout of the device model and device LoRA adapter shared by
 * kernels/cuda/llama_train_cuda.cu (which creates them) and kernels/cuda/llama_decode_cuda.cu.
 */
#ifndef QT_KERNELS_CUDA_LLAMA_CUDA_CUH
#define QT_KERNELS_CUDA_LLAMA_CUDA_CUH

#define _Static_assert static_assert
extern "C" {
#include "kernels/cuda/llama_train_cuda.h"
}
#undef _Static_assert

struct dev_list { void **p; size_t n, cap; };

/* A frozen linear on the device: f32 w, or NF4 (round_to: bnb's cast, 0 none, 1 bf16, 2 f16). */
struct dlin { int OC, C, round_to; float *w; uint8_t *nf4; float *absmax, *code, *bias; size_t bs; };
struct dlayer { float *attn_norm, *mlp_norm; struct dlin lin[LLAMA_N_MODULES]; };

struct llama_cuda_model {
	struct llama_config cfg;
	float *embed, *final_norm, *lm_head;
	float *inv_freq;              /* host copy (HD/2): the RoPE table is built on the host */
	int32_t *window;              /* host copy (n_layer) of cfg.window, which points here */
	struct dlayer *layers;        /* host array of device pointers */
	struct dev_list mem;
};

struct dpair {
	int    r, in, out;
	float  scaling;
	float *A, *B, *gA, *gB, *mA, *vA, *mB, *vB;  /* A, gA, mA, vA: (r, in); B...: (out, r) */
};

struct llama_cuda_lora {
	int           n_pairs;
	struct dpair *p;       /* [n_layers * LORA_N_MODULES]; A NULL where no LoRA */
	double       *sumsq;   /* device (1) */
	struct dev_list mem;
};

#endif
