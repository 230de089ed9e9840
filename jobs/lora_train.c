/* qlora-tools: ISC license. */
/* The lora-train loop: a run's setup and its steps; see lora_train.h and, for the parts it
 * drives, lora_train_state.h. */
#include "jobs/lora_train_state.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crashpoint.h"
#include "common/dist.h"
#include "common/hash.h"
#include "common/io.h"
#include "common/meminfo.h"
#include "common/progress.h"
#include "formats/adapter.h"
#include "formats/lora_checkpoint.h"
#include "formats/model_dir.h"
#include "formats/pack.h"
#include "jobs/llama_load.h"
#include "jobs/lora_train_eval.h"
#include "jobs/lora_train_prefix.h"
#include "kernels/adamw.h"
#include "kernels/device.h"
#include "kernels/embedding.h"
#include "kernels/frozen.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/model/llama_train.h"

/* How many layers keep their activations for the backward pass, the others recomputed, in
 * budget bytes: first every layer's attention output and residual after it (*keep_attn,
 * llama_train_ws_new_plan: the cheapest bytes to keep for the time they save, the
 * recompute's attention and o and down products), then as many whole layers as fit in the
 * rest; without room for the former, whole layers only. Auto (budget < 0) is an eighth of
 * the memory available at the start on the host (all of a small model's layers, part of a
 * 7B's at long blocks), none on a device, whose free memory the backend table does not
 * report. Which layers are kept never changes a value. */
static int kept_layers(const struct llama_model *m, const struct qt_backend *be, int T, int R,
                       long long budget, int *keep_attn)
{
	if (budget < 0) {
		long long avail = be->host ? qt_mem_available() : -1;
		budget = avail > 0 ? avail / 8 : 0;
	}
	int nl = m->cfg.n_layer;
	long long per = (long long)llama_train_layer_bytes(m, T, R),
	          attn = (long long)llama_train_attn_bytes(m, T, R);
	*keep_attn = nl > 0 && attn > 0 && budget / nl >= attn;
	if (*keep_attn) {
		budget -= attn * nl;
		per -= attn;
	}
	long long n = per > 0 ? budget / per : nl;
	return n > nl ? nl : (int)n;
}

/* Opens the model, the packs and the adapter state: everything that can refuse the inputs
 * before the output directory is touched. */
static int setup(const struct train_opts *o, struct train_state *s, struct lora_ckpt_state *ck,
                 struct qt_err *err)
{
	int rc;
	if ((rc = model_dir_open(&s->md, o->model_dir, MODEL_DIR_NO_TOKENIZER | MODEL_DIR_COMPUTE,
	                         err)) ||
	    (rc = llama_load_opts(&s->m, &s->md, LLAMA_LOAD_BF16_VOCAB, err)) ||
	    (rc = pack_open(&s->tr, o->train_pack, err)))
		return rc;
	/* under mpirun, the host's cores shared among its ranks unless --threads says otherwise */
	int th = o->threads;
	if (th <= 0 && dist_local_size() > 1) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		th = nc > dist_local_size() ? (int)(nc / dist_local_size()) : 1;
	}
	s->m.n_threads = th;
	sgemm_set_threads(th);
	if (o->val_pack) {
		if ((rc = pack_open(&s->va, o->val_pack, err)))
			return rc;
		s->has_val = 1;
	}
	if (o->eval_prompts && (rc = train_eval_check(o, err)))
		return rc;
	if (s->tr.h.vocab_size > (uint32_t)s->m.cfg.V)
		return qt_err_set(err, QT_EDATA, "%s: vocab size %u exceeds the model's %d",
		                  o->train_pack, s->tr.h.vocab_size, s->m.cfg.V);
	if (s->has_val && s->va.h.vocab_size > (uint32_t)s->m.cfg.V)
		return qt_err_set(err, QT_EDATA, "%s: vocab size %u exceeds the model's %d",
		                  o->val_pack, s->va.h.vocab_size, s->m.cfg.V);
	/* A pack tokenized with another tokenizer than the model's (when both are known). */
	char *tj = qt_path_join(o->model_dir, "tokenizer.json");
	uint64_t fp = 0;
	struct qt_err e2;
	int have = tj && qt_xxh3_file(tj, &fp, &e2) == QT_OK;
	free(tj);
	const struct pack_file *pk[2] = { &s->tr, s->has_val ? &s->va : NULL };
	for (int i = 0; i < 2 && have; i++)
		if (pk[i] && pk[i]->h.tokenizer_fingerprint && pk[i]->h.tokenizer_fingerprint != fp)
			return qt_err_set(err, QT_EDATA, "%s: tokenized with another tokenizer than %s/"
			                  "tokenizer.json (fingerprint %016" PRIx64 ", model %016" PRIx64
			                  ")", pk[i]->name, o->model_dir, pk[i]->h.tokenizer_fingerprint,
			                  fp);
	int64_t ctx = s->md.config.max_position_embeddings;
	for (int i = 0; i < 2; i++)
		if (pk[i] && ctx > 0 && pk[i]->h.seq_len > ctx)
			return qt_err_set(err, QT_EDATA, "%s: blocks of %u tokens are longer than the "
			                  "model's context, %lld (max_position_embeddings in %s/config.json)",
			                  pk[i]->name, pk[i]->h.seq_len, (long long)ctx, o->model_dir);
	for (int i = 0; i < 2; i++) {
		char by[64];
		snprintf(by, sizeof by, "the blocks of %s", pk[i] ? pk[i]->name : "");
		if (pk[i] && (rc = hf_config_check_compute(&s->md.config, s->md.config_path,
		                                           pk[i]->h.seq_len, by, 1, err)))
			return rc;
	}
	if (s->tr.h.n_blocks == 0)
		return qt_err_set(err, QT_EDATA, "%s: no blocks", o->train_pack);
	if ((rc = pack_verify(&s->tr, err)) || (s->has_val && (rc = pack_verify(&s->va, err))))
		return rc;
	struct adapter_dims dims = llama_adapter_dims(&s->m.cfg);
	if (o->resume) {
		if (!(s->options = train_options_json(o, s, o->prefix_pos0 > 0)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		char *dir;
		if ((rc = lora_ckpt_find(o->resume, &dir, err)))
			return rc;
		rc = lora_ckpt_load(dir, &dims, s->options, &s->lora, &s->m1, &s->m2, ck, err);
		if (rc && dist_size() > 1 && strstr(err->msg, "option grad_accum differs"))
			snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
			         "; under mpirun grad_accum is --grad-accum x ranks (now %d x %d)",
			         o->grad_accum, dist_size());
		if (!rc && !o->out_dir) {
			/* the run directory: the checkpoint's parent, or the directory given */
			int is_ckpt = strcmp(dir, o->resume) == 0;
			char *slash = strrchr(dir, '/');
			if (is_ckpt)
				s->out_dir = slash ? strndup(dir, (size_t)(slash - dir)) : strdup(".");
			else
				s->out_dir = strdup(o->resume);
		}
		qt_info(3, "resuming from %s (step %ld)", dir, ck->step);
		free(dir);
		if (rc)
			return rc;
		if (ck->seed != o->seed)
			return qt_err_set(err, QT_EDATA, "%s: cannot resume: seed differs", o->resume);
	} else {
		if ((rc = train_new_adapter(o, s, &dims, err)) ||
		    (rc = prefix_init_projection(o, &s->lora, err)) ||
		    (rc = adapter_like(&s->m1, &s->lora, err)) ||
		    (rc = adapter_like(&s->m2, &s->lora, err)))
			return rc;
		/* --prefix-positions given wins over --init-adapter's; not given, the adapter's stays */
		if (o->prefix_pos0 >= 0)
			s->lora.cfg.prefix_pos0 = o->prefix_pos0;
		if (!(s->options = train_options_json(o, s, s->lora.cfg.prefix_pos0)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	if (!s->out_dir && !(s->out_dir = strdup(o->out_dir)))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if ((rc = adapter_like(&s->grad, &s->lora, err)))
		return rc;
	if (!!o->prefix != !!s->lora.prefix)
		return qt_err_set(err, QT_EUSAGE, "%s: a %s adapter, but the options train %s",
		                  o->init_adapter ? o->init_adapter : o->resume,
		                  s->lora.prefix ? "prefix-tuning" : "LoRA",
		                  o->prefix ? "a prefix (--method prefix)" : "LoRA");
	if (o->prefix && !!o->prefix_projection != !!s->lora.mlp.emb)
		return qt_err_set(err, QT_EDATA, "%s: %s the projection MLP (%s), but the options %s",
		                  o->init_adapter ? o->init_adapter : o->resume,
		                  s->lora.mlp.emb ? "holds" : "lacks", ADAPTER_PREFIX_MLP_NAME,
		                  o->prefix_projection ? "train it (--prefix-projection)" : "do not");
	int T = (int)s->tr.h.seq_len, Tv = s->has_val ? (int)s->va.h.seq_len : 0;
	int Tmax = T > Tv ? T : Tv, rmax = 1;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
		rmax = s->lora.lora[i].r > rmax ? s->lora.lora[i].r : rmax;
	if (!o->device || strcmp(o->device, "cpu") != 0)
		dist_gpu_select(); /* the probe below then looks at this rank's GPU */
	int dev = device_select(o->device);
	if (dev < 0)
		return qt_err_set(err, QT_EUSAGE, "unknown device '%s'", o->device);
	s->be = qt_backend_of(dev);
	if (!s->be)
		s->be = &qt_backend_cpu;
	s->run_m = &s->m;
	if ((rc = llama_backend_check(&s->m, ADAPTER_TABLE(&s->lora), s->be, err)))
		return rc;
	if (o->bf16 && !s->be->host)
		return qt_err_set(err, QT_EUSAGE, "--bf16: bf16 products are the CPU's (on %s the "
		                  "base is computed in f32); use --device cpu", s->be->name);
	if (o->bf16) {
		frozen_set_bf16(1);
		if (bgemm_native_supported())
			qt_info(3, "the frozen base's products in bf16 on AVX512_BF16");
		else
			qt_warnx("--bf16: this CPU has no AVX512_BF16: the same sums in f32 code, slower "
			         "than without --bf16");
	}
	if (!s->be->host) {
		qt_info(3, "training on the GPU (%s)", s->be->name);
		/* this rank's GPU (node-local rank) and, with several ranks, the NCCL communicator */
		if ((rc = dist_nccl_init(err)) ||
		    (rc = llama_model_upload(&s->dm, &s->m, s->be, err)))
			return rc;
		s->run_m = &s->dm;
	}
	/* A rank's later blocks go through gblk so that the step's gradient is ((g0 + g1) + g2)...
	 * of separately computed block gradients, summed as the ranks' shares are summed: one
	 * process with grad-accum N equals N ranks with grad-accum 1 bit for bit. */
	int blk = (long)o->micro_batch * o->grad_accum > 1;
	if (blk && (rc = adapter_like(&s->gblk, &s->lora, err)))
		return rc;
	if (s->be->host) {
		adapter_table(&s->lora, &s->pt);
		adapter_table(&s->grad, &s->gt);
		adapter_table(blk ? &s->gblk : NULL, &s->bt);
		adapter_table(&s->m1, &s->m1t);
		adapter_table(&s->m2, &s->m2t);
	} else if ((rc = lora_table_upload(&s->pt, ADAPTER_TABLE(&s->lora), s->be, 0, err)) ||
	           (rc = lora_table_upload(&s->gt, ADAPTER_TABLE(&s->grad), s->be, 1, err)) ||
	           (blk && (rc = lora_table_upload(&s->bt, ADAPTER_TABLE(&s->gblk), s->be, 1, err))) ||
	           /* the moments matter on a resume */
	           (rc = lora_table_upload(&s->m1t, ADAPTER_TABLE(&s->m1), s->be, 0, err)) ||
	           (rc = lora_table_upload(&s->m2t, ADAPTER_TABLE(&s->m2), s->be, 0, err)))
		return rc;
	if ((rc = train_tensors_of(s, &s->lora, &s->pt, &s->tl, err)) ||
	    (rc = train_tensors_of(s, &s->grad, &s->gt, &s->tg, err)) ||
	    (blk && (rc = train_tensors_of(s, &s->gblk, &s->bt, &s->tb, err))) ||
	    (rc = train_tensors_of(s, &s->m1, &s->m1t, &s->t1, err)) ||
	    (rc = train_tensors_of(s, &s->m2, &s->m2t, &s->t2, err)))
		return rc;
	s->kept = kept_layers(s->run_m, s->be, Tmax, rmax, o->act_memory, &s->keep_attn);
	s->ws = llama_train_ws_new_plan(s->run_m, Tmax, rmax, s->kept, s->keep_attn);
	s->sumsq = s->be->alloc(sizeof *s->sumsq);
	if (s->lora.prefix && (rc = prefix_train_init(&s->pfx, s->be, &s->pt,
	                                              (float)o->prefix_dropout, err)))
		return rc;
	s->ids = malloc((size_t)Tmax * 4);
	s->pos = malloc((size_t)Tmax * 4);
	s->seg = malloc((size_t)Tmax * 4);
	s->tgt = malloc((size_t)Tmax * 4);
	s->perm = o->shuffle ? malloc(s->tr.h.n_blocks * sizeof *s->perm) : NULL;
	s->perm_epoch = -1;
	s->bi = malloc((size_t)o->micro_batch * (size_t)o->grad_accum * sizeof *s->bi);
	if (!s->ws || !s->sumsq || !s->ids || !s->pos || !s->seg || !s->tgt ||
	    (o->shuffle && !s->perm) || !s->bi)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for training");
	if (s->be->host && dist_size() > 1) {
		s->n_flat = adapter_n_params(&s->lora);
		if (!(s->flat = malloc(s->n_flat * sizeof *s->flat)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory for training");
	}
	return QT_OK;
}

int train_run(const struct train_opts *o, struct train_stats *st, struct qt_err *err)
{
	struct train_state s;
	struct lora_ckpt_state ck = { 0 };
	int rc;
	memset(&s, 0, sizeof s);
	s.lock_fd = -1;
	memset(st, 0, sizeof *st);
	st->final_eval_loss = NAN;
	st->final_eval_accuracy = NAN;
	for (int i = 0; i < TRAIN_EVAL_N_SCORES; i++)
		st->final_eval_scores[i] = NAN;
	/* Every rank learns whether all could start; the ones that could stop quietly (an empty
	 * message) when another could not, except rank 0, which names the first one. */
	rc = setup(o, &s, &ck, err);
	int who, all = dist_agree(rc, &who);
	if (!all)
		all = dist_agree(rc = train_same_as_rank0(&s, err), &who);
	if (all) {
		/* a rank repeating rank 0's message (the same bad option everywhere) stays quiet */
		uint64_t h = rc ? qt_xxh3(err->msg, strlen(err->msg)) : 0, h0 = h;
		dist_bcast(&h0, sizeof h0);
		if (!rc && dist_rank() == 0)
			qt_err_set(err, all, "rank %d could not start (see its message); no "
			           "rank trained", who);
		else if (!rc || (dist_rank() != 0 && h == h0))
			err->status = all, err->msg[0] = 0;
		rc = all;
		goto out;
	}
	struct llama_model *m = &s.m;
	st->activation_bytes = llama_train_ws_bytes(s.ws);
	st->kept_layers = s.kept;
	st->kept_attention = s.keep_attn && s.kept < s.run_m->cfg.n_layer;
	st->n_layers = s.run_m->cfg.n_layer;
	st->resumed_from = ck.step;
	int lead = dist_rank() == 0; /* rank 0 alone writes the log, checkpoints and adapter */
	rc = lead ? train_open_log(&s, ck.step, err) : QT_OK;
	if ((all = dist_agree(rc, &who))) {
		if (!rc)
			err->status = all, err->msg[0] = 0; /* rank 0 says why */
		rc = all;
		goto out;
	}
	/* The global step consumes the blocks of one process with grad-accum x ranks: blocks
	 * [share * rank, share * (rank + 1)) of the step's per_step are this rank's. */
	long share = (long)o->micro_batch * o->grad_accum;
	long per_step = share * dist_size(), first = share * dist_rank();
	uint64_t nb = s.tr.h.n_blocks;
	long total = o->max_steps > 0 ? o->max_steps
	           : (long)ceil(o->epochs * (double)((nb + per_step - 1) / per_step));
	if (total < 1)
		total = 1;
	long warm = o->warmup_steps >= 0 ? o->warmup_steps : (long)ceil(total * o->warmup_ratio);
	double t0 = qt_now(), t_last = 0, loss = NAN;
	uint64_t tokens = ck.tokens, in_tokens = ck.input_tokens, g = ck.blocks_done;
	uint64_t tok0 = tokens, in0 = in_tokens;
	long k0 = ck.step;
	double secs0 = ck.seconds;
	int stop_all = 0;
	for (long k = k0 + 1; k <= total; k++) {
		/* This rank's blocks of the step and the step's trained-target count N_step over all
		 * ranks (reference 7.6). */
		uint64_t cnt[2] = { 0, 0 }, *bi = s.bi;
		for (long i = 0; i < share; i++) {
			struct pack_block b;
			uint64_t in;
			bi[i] = train_block_index(g + (uint64_t)(first + i), nb, o->shuffle, o->seed,
			                          s.perm, &s.perm_epoch);
			pack_get_block(&s.tr, bi[i], &b);
			cnt[0] += train_block_inputs(&b, s.ids, s.pos, s.seg, s.tgt, &in);
			cnt[1] += in;
		}
		dist_allreduce_u64(cnt, 2);
		uint64_t n_step = cnt[0], in_step = cnt[1];
		g += (uint64_t)per_step;
		train_zero_grads(&s, &s.tg);
		double sum = 0;
		for (long i = 0; i < share && n_step; i++) {
			struct pack_block b;
			pack_get_block(&s.tr, bi[i], &b);
			train_block_inputs(&b, s.ids, s.pos, s.seg, s.tgt, NULL);
			float mag = o->neftune_alpha > 0
			          ? neftune_magnitude(o->neftune_alpha, (long)b.seq_len, m->cfg.C) : 0;
			uint64_t gi = (uint64_t)(first + i); /* the block's place in the global step */
			struct llama_train_dropout drop = { (float)o->dropout, o->seed, (uint64_t)k, gi };
			struct lora_table *into = &s.gt;
			if (i > 0) {
				train_zero_grads(&s, &s.tb);
				into = &s.bt;
			}
			if ((rc = train_run_block(&s, into, (int)b.seq_len, (float)(1.0 / (double)n_step), mag,
			                    o->seed ^ ((uint64_t)k << 20 | gi),
			                    o->dropout > 0 ? &drop : NULL,
			                    prefix_drop_seed(o->seed, (uint64_t)k, gi), &sum, err)))
				goto alone;
			if (into == &s.bt)
				train_add_grads(&s, &s.tg, &s.tb);
		}
		/* the loss sum and whether any rank was asked to stop, then the gradients */
		double t_red = qt_now(), red[2] = { sum, o->stop && *o->stop };
		dist_allreduce_f64(red, 2);
		sum = red[0];
		stop_all = red[1] > 0;
		if (n_step && (rc = train_reduce_grads(&s, err)))
			goto alone;
		st->reduce_seconds += qt_now() - t_red;
		tokens += n_step;
		in_tokens += in_step;
		loss = n_step ? sum / (double)n_step : NAN;
		if (n_step && !isfinite(loss)) {
			char what[64];
			snprintf(what, sizeof what, "the loss (%s)", isnan(loss) ? "nan" : "inf");
			rc = train_nonfinite_stop(k, what, ck.step, s.out_dir, err);
			goto out;
		}
		double sumsq;
		if ((rc = train_grad_sumsq(&s, &sumsq, err)))
			goto alone;
		/* the same reduced gradients on every rank: all stop here together */
		if (!isfinite(sumsq)) {
			char what[160];
			train_nonfinite_grad_name(&s, what, sizeof what);
			rc = train_nonfinite_stop(k, what, ck.step, s.out_dir, err);
			goto out;
		}
		float gnorm = 0, coef = o->max_grad_norm > 0 ? grad_clip_coef(sumsq, o->max_grad_norm,
		                                                              &gnorm) : 1.0f;
		if (o->max_grad_norm <= 0)
			gnorm = (float)sqrt(sumsq);
		double lr = o->lr * train_lr_multiplier(o->schedule, k, warm, total);
		struct adamw_hparams hp;
		adamw_hparams_init(&hp, lr, o->beta1, o->beta2, o->eps, o->weight_decay, k);
		if ((rc = train_update(&s, coef, &hp, err)))
			goto alone;
		qt_crashpoint("step");
		double el = qt_now() - t0;
		/* a step with no trained target has no loss: its line has no "loss" (JSON has no NaN) */
		char loss_field[48] = "";
		if (n_step)
			snprintf(loss_field, sizeof loss_field, "\"loss\":%.6f,", loss);
		if (lead && (k % o->log_every == 0 || k == total))
			fprintf(s.log, "{\"step\":%ld,%s\"lr\":%.6g,\"grad_norm\":%.6f,"
			        "\"tokens\":%" PRIu64 ",\"tokens_per_s\":%.1f,\"input_tokens\":%" PRIu64
			        ",\"input_tokens_per_s\":%.1f}\n", k, loss_field, lr, gnorm, tokens,
			        el > 0 ? (tokens - tok0) / el : 0.0, in_tokens,
			        el > 0 ? (in_tokens - in0) / el : 0.0);
		/* one process reads its flag here, after the update; several agreed on it above */
		int stop = (dist_size() > 1 ? stop_all : o->stop && *o->stop) && k < total;
		if ((s.has_val || o->eval_prompts) && !stop && (k % o->eval_every == 0 || k == total)) {
			double ev = NAN, acc = NAN;
			if (s.has_val && (rc = train_eval_loss(&s, &ev, &acc, err)))
				goto alone;
			st->final_eval_loss = ev;
			st->final_eval_accuracy = acc;
			char line[320];
			int n = snprintf(line, sizeof line, "{\"step\":%ld", k);
			if (isfinite(ev))  /* NaN: no trained target in the validation blocks */
				n += snprintf(line + n, sizeof line - (size_t)n, ",\"eval_loss\":%.6f", ev);
			if (isfinite(ev) && isfinite(acc))
				n += snprintf(line + n, sizeof line - (size_t)n,
				              ",\"eval_mean_token_accuracy\":%.6f", acc);
			/* rank 0 alone generates; the others wait for it in the next reduction */
			if (lead && o->eval_prompts) {
				if ((rc = train_sync_host(&s, err)))
					goto alone;
				if ((rc = train_eval_generate(o, &s.lora, s.out_dir, k,
				                              st->final_eval_scores, err)))
					goto alone;
				for (int i = 0; i < TRAIN_EVAL_N_SCORES; i++)
					n += snprintf(line + n, sizeof line - (size_t)n, ",\"eval_%s\":%.4f",
					              train_eval_score_names[i], st->final_eval_scores[i]);
			}
			if (lead && strchr(line, ','))
				fprintf(s.log, "%s}\n", line);
			qt_info(4, "step %ld: eval loss %.4f", k, ev);
		}
		/* a full disk stops the run here, naming the log (the last checkpoint stays) */
		if (lead && (fflush(s.log) != 0 || ferror(s.log))) {
			rc = qt_err_set(err, QT_EIO, "%s/log.jsonl: write error:", s.out_dir);
			goto alone;
		}
		qt_info(4, "step %ld/%ld: loss %.4f lr %.3g grad_norm %.3f", k, total, loss, lr, gnorm);
		train_progress(&t_last, k, k0, total, loss, el, tokens - tok0, in_tokens - in0);
		st->steps = k;
		if (lead && ((o->save_every > 0 && (k % o->save_every == 0 || k == total)) || stop)) {
			ck = (struct lora_ckpt_state){ .step = k, .total_steps = total, .blocks_done = g,
			                               .n_blocks = nb, .seed = o->seed, .tokens = tokens,
			                               .input_tokens = in_tokens,
			                               .seconds = secs0 + el };
			if ((rc = train_save_checkpoint(&s, &ck, err)))
				goto alone;
		}
		if (stop) {
			st->interrupted = 1;
			break;
		}
	}
	if (qt_verbosity >= 3)
		fprintf(stderr, "\r\033[K");
	st->seconds = qt_now() - t0;
	st->tokens_per_s = st->seconds > 0 ? (tokens - tok0) / st->seconds : 0;
	st->input_tokens_per_s = st->seconds > 0 ? (in_tokens - in0) / st->seconds : 0;
	st->final_loss = loss;
	if (lead && !st->interrupted && (rc = train_sync_host(&s, err)))
		goto alone;
	if (lead && !st->interrupted) {
		char *dir = qt_path_join(s.out_dir, "adapter");
		rc = dir ? adapter_save(&s.lora, dir, QT_DTYPE_F32, err) : QT_ESOFTWARE;
		free(dir);
	}
	/* the others learn whether rank 0 could write the adapter, and exit with its status */
	if ((all = dist_agree(rc, &who)) && !rc)
		rc = all, err->status = rc, err->msg[0] = 0;
	goto out;
alone:
	/* failed on this rank alone, the others somewhere in the step: the tool ends the job */
	st->failed_alone = dist_size() > 1;
out:
	st->peak_rss_kib = train_peak_rss_kib();
	/* the log's last lines, or the lock's pid, lost to a deferred write error: 74 too */
	if (s.log && fclose(s.log) != 0 && rc == QT_OK)
		rc = qt_err_set(err, QT_EIO, "%s/log.jsonl: write error:", s.out_dir);
	if (s.lock_fd >= 0 && close(s.lock_fd) != 0 && rc == QT_OK)
		rc = qt_err_set(err, QT_EIO, "%s/" QT_LOCK_NAME ": write error:", s.out_dir);
	llama_train_ws_free(s.ws);
	if (s.be && s.sumsq)
		s.be->free(s.sumsq);
	if (s.be && !s.be->host) {
		lora_table_release(&s.pt, s.be);
		lora_table_release(&s.gt, s.be);
		lora_table_release(&s.bt, s.be);
		lora_table_release(&s.m1t, s.be);
		lora_table_release(&s.m2t, s.be);
		llama_free(&s.dm);
	}
	dist_nccl_free();
	prefix_train_free(&s.pfx);
	free(s.ids); free(s.pos); free(s.seg); free(s.tgt); free(s.perm); free(s.bi);
	free(s.out_dir); free(s.options);
	train_tensors_free(&s.tl);
	train_tensors_free(&s.tg);
	train_tensors_free(&s.t1);
	train_tensors_free(&s.t2);
	train_tensors_free(&s.tb);
	if (s.lora.lora) adapter_free(&s.lora);
	if (s.grad.lora) adapter_free(&s.grad);
	if (s.gblk.lora) adapter_free(&s.gblk);
	free(s.flat);
	if (s.m1.lora) adapter_free(&s.m1);
	if (s.m2.lora) adapter_free(&s.m2);
	if (s.has_val) pack_close(&s.va);
	if (s.tr.name) pack_close(&s.tr);
	llama_free(&s.m);
	model_dir_close(&s.md);
	return rc;
}
