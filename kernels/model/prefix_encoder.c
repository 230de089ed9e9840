/* qlora-tools: ISC license. */
/* PEFT's projected prefix; see prefix_encoder.h. */
#include "kernels/model/prefix_encoder.h"

void prefix_mlp_forward(const struct qt_backend *be, const struct prefix_mlp *m, float *act,
                        float *table)
{
	/* the embedding of prefix tokens 0..P-1 is the weight itself */
	be->linear_forward(act, m->emb, m->w1, m->b1, m->P, m->D, m->H, 1.0f, 0.0f);
	be->softcap_forward(act, act, (size_t)m->P * m->H, 1.0f); /* tanh(x / 1) * 1 = tanh(x) */
	be->linear_forward(table, act, m->w2, m->b2, m->P, m->H, m->W, 1.0f, 0.0f);
}

void prefix_mlp_backward(const struct qt_backend *be, const struct prefix_mlp *m,
                         const struct prefix_mlp *g, const float *act, const float *dtable,
                         float *scratch)
{
	size_t n = (size_t)m->P * m->H;
	be->linear_backward_w(g->w2, g->b2, dtable, act, m->P, m->H, m->W, 1.0f);
	be->zero(scratch, n * sizeof *scratch);
	be->linear_backward_x(scratch, dtable, m->w2, m->P, m->H, m->W, 1.0f);
	be->softcap_backward(scratch, scratch, act, n, 1.0f); /* d tanh = 1 - tanh^2 */
	be->linear_backward_w(g->w1, g->b1, scratch, m->emb, m->P, m->D, m->H, 1.0f);
	be->linear_backward_x(g->emb, scratch, m->w1, m->P, m->D, m->H, 1.0f);
}
