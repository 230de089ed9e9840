/* qlora-tools: ISC license. */
/*
 * The packing library, output side: option checks, building planned blocks (segment ids, masks,
 * padding), atomic single-file and sharded .pack output, and the end-of-run summary.
 */
#include "jobs/pack_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/le.h"

int pk_check_opts(const struct packer_opts *o, struct qt_err *err)
{
	if (o->seq_len == 0 || o->seq_len > PACK_MAX_SEQ_LEN)
		return qt_err_set(err, QT_EUSAGE, "--seq-len %u is out of range 1..%u", o->seq_len,
		                  PACK_MAX_SEQ_LEN);
	if (o->mode < PACK_MODE_PACK || o->mode > PACK_MODE_CONCAT)
		return qt_err_set(err, QT_EUSAGE, "unknown mode %u", o->mode);
	if (o->cross_doc && o->mode != PACK_MODE_CONCAT)
		return qt_err_set(err, QT_EUSAGE, "--cross-doc-attention needs --mode concat");
	if (o->long_policy < PACKER_LONG_DROP || o->long_policy > PACKER_LONG_SPLIT)
		return qt_err_set(err, QT_EUSAGE, "unknown --long policy");
	if (!o->out)
		return qt_err_set(err, QT_EUSAGE, "no output file (-o FILE)");
	if (o->val_fraction < 0 || o->val_fraction >= 1)
		return qt_err_set(err, QT_EUSAGE, "--val must be in [0, 1)");
	if (o->val_fraction > 0 && o->val_count > 0)
		return qt_err_set(err, QT_EUSAGE, "--val and --val-count are exclusive");
	int want_val = o->val_fraction > 0 || o->val_count > 0;
	if (want_val && !o->val_out)
		return qt_err_set(err, QT_EUSAGE, "--val/--val-count need --val-out FILE");
	if (!want_val && o->val_out)
		return qt_err_set(err, QT_EUSAGE, "--val-out needs --val or --val-count");
	if (o->val_out && strcmp(o->val_out, o->out) == 0)
		return qt_err_set(err, QT_EUSAGE, "-o and --val-out name the same file");
	const char *names[2] = { o->out, o->val_out };
	for (int i = 0; i < 2 && names[i]; i++) {
		char *p = packer_shard_name(names[i], 0);
		int is_pattern = p != NULL && strchr(names[i], '%') != NULL;
		free(p);
		if (o->shard_blocks && !is_pattern)
			return qt_err_set(err, QT_EUSAGE, "--shard-blocks needs an output name with one "
			                  "%%d or %%0Nd (got \"%s\")", names[i]);
		if (!o->shard_blocks && strchr(names[i], '%'))
			return qt_err_set(err, QT_EUSAGE, "\"%s\" is a shard pattern: give --shard-blocks "
			                  "N", names[i]);
		if (strcmp(names[i], "-") == 0 && i == 1)
			return qt_err_set(err, QT_EUSAGE, "--val-out cannot be standard output");
	}
	return QT_OK;
}

char *packer_shard_name(const char *pattern, uint64_t i)
{
	size_t n = strlen(pattern);
	char *out = malloc(n + 32);
	if (!out)
		return NULL;
	size_t k = 0;
	int convs = 0;
	for (const char *p = pattern; *p; p++) {
		if (*p != '%') {
			out[k++] = *p;
			continue;
		}
		if (p[1] == '%') {
			out[k++] = '%';
			p++;
			continue;
		}
		int zero = p[1] == '0';
		const char *q = p + 1 + zero;
		int width = 0;
		while (*q >= '0' && *q <= '9' && width < 100)
			width = width * 10 + (*q++ - '0');
		if ((*q != 'd' && *q != 'u') || width > 20 || ++convs > 1) {
			free(out);
			return NULL;
		}
		k += (size_t)snprintf(out + k, 32, zero ? "%0*llu" : "%*llu", width,
		                      (unsigned long long)i);
		p = q;
	}
	out[k] = '\0';
	return out;
}

/* ---- building blocks ---- */

/* Id stored in padding positions: the tokenizer's pad, else eos, else 0. */
static uint32_t pad_id_of(const struct tok_header *h)
{
	if (h->pad_id < h->vocab_size)
		return h->pad_id;
	return h->eos_id < h->vocab_size ? h->eos_id : 0;
}

/* Builds and seals block b of pl into buf; adds its counts to os. Returns the checksum. */
static uint64_t build_block(const struct pk_store *s, const struct pk_plan *pl, uint64_t b,
                            uint32_t T, uint8_t *buf, struct packer_out_stats *os)
{
	struct pack_block v;
	pack_block_view(&v, buf, T);
	uint32_t t = 0, pad = pad_id_of(&s->h);
	uint16_t seg = 0;
	for (uint64_t k = pl->start[b]; k < pl->start[b + 1]; k++) {
		const struct pk_piece *pc = &pl->p[k];
		const struct pk_sample *sm = &s->s[pc->sample];
		uint32_t real = pc->start >= sm->n ? 0 : sm->n - pc->start;
		real = real < pc->len ? real : pc->len;
		memcpy(v.ids + t, s->ids + sm->off + pc->start, 4 * (size_t)real);
		memcpy(v.mask + t, s->mask + sm->off + pc->start, real);
		if (real < pc->len) {  /* concat: the eos after the document */
			v.ids[t + real] = s->h.eos_id;
			v.mask[t + real] = 1;
		}
		if (!(pc->flags & PK_CONT)) {
			seg++;
			v.mask[t] = 0;  /* nothing before it in its segment to predict it from */
		}
		for (uint32_t i = 0; i < pc->len; i++)
			v.seg[t + i] = seg;
		t += pc->len;
		os->n_samples++;
	}
	uint64_t trained = 0;
	for (uint32_t i = 0; i < t; i++)
		trained += v.mask[i];
	os->n_tokens += t;
	os->n_tokens_trained += trained;
	for (uint32_t i = t; i < T; i++) {
		v.ids[i] = pad;
		v.seg[i] = 0;
		v.mask[i] = 0;
	}
	return pack_block_seal(buf, T);
}

/* ---- output ---- */

/* The files of one run, written and synced, renamed together at the end (qt_out_commit_all):
 * two runs writing the same train and validation files never leave a mix of the two. */
struct committed {
	struct qt_out *outs;
	size_t         n;
};

static int write_file(const char *name, const struct pack_header *h0, const struct pk_store *s,
                      const struct pk_plan *pl, uint64_t first, uint64_t cnt, uint8_t *buf,
                      struct packer_out_stats *os, struct committed *c, struct qt_err *err)
{
	uint32_t T = h0->seq_len;
	struct pack_header h = *h0;
	struct packer_out_stats fs;
	memset(&fs, 0, sizeof fs);
	struct qt_xxh3_state payload;
	if (qt_xxh3_init(&payload) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	/* Pass 1: checksums and counts, so the header is complete before the first block. */
	for (uint64_t b = first; b < first + cnt; b++) {
		uint8_t le[8];
		le64_store(le, build_block(s, pl, b, T, buf, &fs));
		qt_xxh3_update(&payload, le, 8);
	}
	h.payload_xxh3 = qt_xxh3_digest(&payload);
	qt_xxh3_free(&payload);
	h.n_blocks = cnt;
	h.block_first = first;
	h.n_samples = fs.n_samples;
	h.n_tokens = fs.n_tokens;
	h.n_tokens_trained = fs.n_tokens_trained;
	/* Pass 2: the same blocks again, written. */
	struct qt_out out;
	int st = qt_out_open(&out, name, err);
	if (st != QT_OK)
		return st;
	setvbuf(out.fp, NULL, _IOFBF, 1 << 20);  /* before the first write: fewer syscalls */
	struct pack_writer w;
	st = pack_writer_open(&w, out.fp, name, &h, err);
	struct packer_out_stats dummy;
	for (uint64_t b = first; b < first + cnt && st == QT_OK; b++) {
		build_block(s, pl, b, T, buf, &dummy);
		st = pack_writer_put(&w, buf, err);
	}
	if (st == QT_OK)
		st = pack_writer_finish(&w, err);
	else
		pack_writer_free(&w);
	if (st != QT_OK) {
		qt_out_abort(&out);
		return st;
	}
	if (strcmp(name, "-") == 0)
		st = qt_out_commit(&out, err);
	else if ((st = qt_out_finish(&out, err)) == QT_OK) {
		struct qt_out *no = realloc(c->outs, (c->n + 1) * sizeof *no);
		if (!no) {
			qt_out_abort(&out);
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		}
		c->outs = no;
		c->outs[c->n++] = out;
	}
	if (st == QT_OK) {
		os->n_samples += fs.n_samples;
		os->n_tokens += fs.n_tokens;
		os->n_tokens_trained += fs.n_tokens_trained;
	}
	return st;
}

static int write_set(const struct packer_opts *o, const char *out, const struct pk_store *s,
                     const struct pk_plan *pl, struct packer_out_stats *os, struct committed *c,
                     struct qt_err *err)
{
	uint64_t nb = pl->n_blocks;
	if (o->max_blocks && nb > o->max_blocks) {
		os->n_blocks_cut = nb - o->max_blocks;
		nb = o->max_blocks;
	}
	os->n_blocks = nb;
	uint64_t per = o->shard_blocks ? o->shard_blocks : nb;
	uint64_t files = (nb + per - 1) / per;
	if (files > UINT32_MAX)
		return qt_err_set(err, QT_EUSAGE, "%llu shards are too many",
		                  (unsigned long long)files);
	os->n_files = files;
	struct pack_header h;
	memset(&h, 0, sizeof h);
	h.tokenizer_fingerprint = s->h.tokenizer_fingerprint;
	h.vocab_size = s->h.vocab_size;
	h.eos_id = s->h.eos_id;
	h.pad_id = pad_id_of(&s->h);
	h.seq_len = o->seq_len;
	h.mode = o->mode;
	h.flags = o->cross_doc ? PACK_FLAG_CROSS_DOC : 0;
	h.n_shards = (uint32_t)files;
	h.seed = o->seed;
	uint8_t *buf = aligned_alloc(PACK_ALIGN, pack_block_size(o->seq_len));
	if (!buf)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	int st = QT_OK;
	for (uint64_t f = 0; f < files && st == QT_OK; f++) {
		char *name = o->shard_blocks ? packer_shard_name(out, f) : strdup(out);
		if (!name) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			break;
		}
		h.shard_index = (uint32_t)f;
		uint64_t first = f * per, cnt = nb - first < per ? nb - first : per;
		st = write_file(name, &h, s, pl, first, cnt, buf, os, c, err);
		free(name);
	}
	free(buf);
	return st;
}

int pk_write_outputs(const struct packer_opts *o, const struct pk_store *s,
                     const struct pk_plan *train, const struct pk_plan *val,
                     struct packer_stats *st, struct qt_err *err)
{
	struct committed c = { NULL, 0 };
	int rc = write_set(o, o->out, s, train, &st->train, &c, err);
	if (rc == QT_OK && o->val_out)
		rc = write_set(o, o->val_out, s, val, &st->val, &c, err);
	if (rc == QT_OK)
		rc = qt_out_commit_all(c.outs, (int)c.n, err);
	else  /* never leave part of a set behind */
		for (size_t i = 0; i < c.n; i++)
			qt_out_abort(&c.outs[i]);
	free(c.outs);
	return rc;
}

/* ---- summary ---- */

static void print_out(FILE *fp, const char *prog, const char *name,
                      const struct packer_out_stats *os, uint32_t T)
{
	double cap = (double)os->n_blocks * T;
	fprintf(fp, "%s: %s: %llu block%s of %u tokens in %llu file%s, %llu samples, %llu tokens "
	        "(%llu trained), fill %.2f%%", prog, name, (unsigned long long)os->n_blocks,
	        os->n_blocks == 1 ? "" : "s", T,
	        (unsigned long long)os->n_files, os->n_files == 1 ? "" : "s",
	        (unsigned long long)os->n_samples, (unsigned long long)os->n_tokens,
	        (unsigned long long)os->n_tokens_trained,
	        cap > 0 ? 100.0 * (double)os->n_tokens / cap : 0.0);
	if (os->n_blocks_cut)
		fprintf(fp, ", %llu blocks left out by --max-blocks",
		        (unsigned long long)os->n_blocks_cut);
	fputc('\n', fp);
}

void packer_stats_print(const struct packer_stats *st, const struct packer_opts *o, FILE *fp,
                        const char *prog)
{
	static const char *verb[] = { "dropped", "truncated", "split" };
	fprintf(fp, "%s: read %llu input%s: %llu samples, %llu tokens; %llu duplicates removed; "
	        "%llu longer than %u tokens %s", prog, (unsigned long long)st->n_inputs,
	        st->n_inputs == 1 ? "" : "s", (unsigned long long)st->n_samples_in,
	        (unsigned long long)st->n_tokens_in, (unsigned long long)st->n_duplicates,
	        (unsigned long long)st->n_long, st->seq_len, verb[st->long_policy]);
	if (st->n_split_untrained)
		fprintf(fp, ", %llu piece%s with no trained token left out",
		        (unsigned long long)st->n_split_untrained, st->n_split_untrained == 1 ? "" : "s");
	if (st->n_long_tokens)
		fprintf(fp, " (%llu tokens lost)", (unsigned long long)st->n_long_tokens);
	fputc('\n', fp);
	print_out(fp, prog, o->out, &st->train, st->seq_len);
	if (o->val_out)
		print_out(fp, prog, o->val_out, &st->val, st->seq_len);
}
