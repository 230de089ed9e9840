/* qlora-tools: ISC license. */
/* The options a lora-train resume must repeat; see lora_train_state.h. */
#include "jobs/lora_train_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dist.h"
#include "common/hash.h"
#include "jobs/lora_train_prefix.h"

int train_same_as_rank0(const struct train_state *s, struct qt_err *err)
{
	uint64_t h = qt_xxh3(s->options, strlen(s->options)), h0;
	if (s->has_val)
		h ^= s->va.h.payload_xxh3;
	h0 = h;
	dist_bcast(&h0, sizeof h0);
	if (h != h0)
		return qt_err_set(err, QT_EUSAGE, "options or data differ from rank 0's (every rank "
		                  "must run the same command on the same files)");
	return QT_OK;
}

static const char *const sched_name[] = { "constant", "linear", "cosine",
                                          "constant-with-warmup" };

/* src as a JSON string literal in dst (quotes and backslashes escaped, control bytes dropped,
 * cut to fit). */
static void json_str(char *dst, size_t n, const char *src)
{
	size_t k = 0;
	dst[k++] = '"';
	for (const char *p = src; *p && k < n - 4; p++) {
		if (*p == '"' || *p == '\\')
			dst[k++] = '\\';
		if ((unsigned char)*p >= 0x20)
			dst[k++] = *p;
	}
	dst[k++] = '"';
	dst[k] = 0;
}

char *train_options_json(const struct train_opts *o, const struct train_state *s, int pos0)
{
	const struct llama_config *c = &s->m.cfg;
	char ia[1024] = "null", tg[1024], *buf = malloc(4096);
	if (!buf)
		return NULL;
	if (o->init_adapter)
		json_str(ia, sizeof ia, o->init_adapter);
	json_str(tg, sizeof tg, o->targets);
	snprintf(buf, 4096, "{\"model\":{\"layers\":%d,\"hidden\":%d,\"intermediate\":%d,\"heads\":%d,"
	         "\"kv_heads\":%d,\"vocab\":%d},"
	         "\"train\":{\"blocks\":%" PRIu64 ",\"seq_len\":%u,\"payload_xxh3\":\"%016" PRIx64
	         "\"},\"init_adapter\":%s,\"target\":%s,\"rank\":%d,\"alpha\":%.17g,\"rslora\":%s,"
	         "\"seed\":\"%" PRIu64 "\",\"lr\":%.17g,\"schedule\":\"%s\",\"warmup_steps\":%ld,"
	         "\"warmup_ratio\":%.17g,\"weight_decay\":%.17g,\"adam_beta1\":%.17g,"
	         "\"adam_beta2\":%.17g,\"adam_eps\":%.17g,\"max_grad_norm\":%.17g,"
	         "\"grad_accum\":%d,\"micro_batch\":%d,\"neftune_alpha\":%.17g,\"dropout\":%.17g,"
	         "\"shuffle\":%s}",
	         c->n_layer, c->C, c->H, c->NH, c->NKV, c->V, s->tr.h.n_blocks, s->tr.h.seq_len,
	         s->tr.h.payload_xxh3, ia, tg, o->rank, o->alpha, o->rslora ? "true" : "false",
	         o->seed, o->lr, sched_name[o->schedule], o->warmup_steps, o->warmup_ratio,
	         o->weight_decay, o->beta1, o->beta2, o->eps, o->max_grad_norm,
	         o->grad_accum * dist_size(),
	         o->micro_batch, o->neftune_alpha, o->dropout, o->shuffle ? "true" : "false");
	prefix_options_json(o, &s->lora, c->NKV * c->HD, pos0, buf, 4096);
	if (o->bf16) /* only then, so earlier checkpoints stay valid */
		snprintf(buf + strlen(buf) - 1, 4096 - strlen(buf) + 1, ",\"bf16\":true}");
	return buf;
}
