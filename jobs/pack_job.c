/* qlora-tools: ISC license. */
/*
 * The packing library: input loading, dedup, shuffle, split and block planning (see pack_job.h).
 * Writing planned blocks into .pack files is jobs/pack_write.c; the format is formats/pack.c.
 */
#include "jobs/pack_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/progress.h"
#include "common/rng.h"
#include "formats/tok.h"

void packer_opts_init(struct packer_opts *o)
{
	memset(o, 0, sizeof *o);
	o->seq_len = 1024;   /* TRL SFTConfig.max_length default (reference.md 2.2) */
	o->mode = PACK_MODE_PACK;
	o->long_policy = PACKER_LONG_DROP;
	o->seed = 42;        /* transformers TrainingArguments.seed default */
	o->shuffle = 1;
	o->dedup = 1;
}

static void *grow(void *p, uint64_t *cap, uint64_t need, size_t sz)
{
	if (need <= *cap)
		return p;
	uint64_t c = *cap ? *cap : 1024;
	while (c < need)
		c *= 2;
	void *np = realloc(p, c * sz);
	if (np)
		*cap = c;
	return np;
}

/* ---- loading ---- */

static int store_append(struct pk_store *s, const struct tok_record *rec, struct qt_err *err)
{
	uint32_t *ni = grow(s->ids, &s->cap_tok, s->n_tok + rec->n, 4);
	if (!ni)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory (%llu tokens)",
		                  (unsigned long long)s->n_tok);
	s->ids = ni;
	uint64_t cap = s->cap_mask;
	uint8_t *nm = grow(s->mask, &cap, s->n_tok + rec->n, 1);
	if (!nm)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	s->mask = nm;
	s->cap_mask = cap;
	uint64_t cs = s->cap_s;
	struct pk_sample *ns = grow(s->s, &cs, s->n + 1, sizeof *ns);
	uint64_t *nh = ns ? grow(s->hash, &s->cap_s, s->n + 1, 8) : NULL;
	if (ns) s->s = ns;
	if (nh) s->hash = nh;
	if (!ns || !nh)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	memcpy(s->ids + s->n_tok, rec->ids, 4 * (size_t)rec->n);
	memcpy(s->mask + s->n_tok, rec->mask, rec->n);
	s->s[s->n].off = s->n_tok;
	s->s[s->n].n = rec->n;
	s->hash[s->n] = XXH3_64bits_withSeed(rec->mask, rec->n, XXH3_64bits(rec->ids, 4 * (size_t)rec->n));
	s->n++;
	s->n_tok += rec->n;
	return QT_OK;
}

/* Reads every input into s, checking that all share the first one's tokenizer. */
static int load_inputs(struct pk_store *s, char *const *inputs, int n_inputs, struct qt_err *err)
{
	uint64_t bytes = 0;
	int n_stdin = 0;
	for (int i = 0; i < n_inputs; i++) {
		struct stat sb;
		n_stdin += strcmp(inputs[i], "-") == 0;
		if (strcmp(inputs[i], "-") != 0 && stat(inputs[i], &sb) == 0 && S_ISREG(sb.st_mode))
			bytes += (uint64_t)sb.st_size;
	}
	if (n_stdin > 1)
		return qt_err_set(err, QT_EUSAGE, "standard input ('-') given more than once");
	/* A record of n tokens takes at least 5n + 4 bytes: reserve that much up front. */
	if (bytes / 5 > 0 && (!(s->ids = grow(NULL, &s->cap_tok, bytes / 5, 4)) ||
	                      !(s->mask = grow(NULL, &s->cap_mask, bytes / 5, 1))))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	struct qt_progress pr;
	qt_progress_begin(&pr, "samples", 0);
	int st = QT_OK;
	for (int i = 0; i < n_inputs && st == QT_OK; i++) {
		struct tok_reader r;
		st = tok_reader_open(&r, inputs[i], err);
		if (st == QT_OK && i == 0)
			s->h = r.header;
		if (st == QT_OK && r.header.tokenizer_fingerprint != s->h.tokenizer_fingerprint)
			st = qt_err_set(err, QT_EDATA, "%s: offset 24: tokenizer fingerprint %016llx "
			                "differs from %s's %016llx: inputs must come from one tokenizer",
			                r.name, (unsigned long long)r.header.tokenizer_fingerprint,
			                inputs[0], (unsigned long long)s->h.tokenizer_fingerprint);
		else if (st == QT_OK && r.header.vocab_size != s->h.vocab_size)
			st = qt_err_set(err, QT_EDATA, "%s: offset 32: vocab size %u differs from %s's %u",
			                r.name, r.header.vocab_size, inputs[0], s->h.vocab_size);
		struct tok_record rec;
		int rc;
		while (st == QT_OK && (rc = tok_reader_next(&r, &rec, err)) != 0) {
			if (rc < 0)
				st = err ? err->status : QT_EDATA;
			else
				st = store_append(s, &rec, err);
			if ((s->n & 4095) == 0)
				qt_progress_update(&pr, s->n);
		}
		if (st != QT_ENOINPUT)
			tok_reader_close(&r);
	}
	qt_progress_end(&pr);
	return st;
}

/* ---- dedup, shuffle, split ---- */

static int same_sample(const struct pk_store *s, uint64_t a, uint64_t b)
{
	const struct pk_sample *x = &s->s[a], *y = &s->s[b];
	return x->n == y->n && s->hash[a] == s->hash[b] &&
	       memcmp(s->ids + x->off, s->ids + y->off, 4 * (size_t)x->n) == 0 &&
	       memcmp(s->mask + x->off, s->mask + y->off, x->n) == 0;
}

/* Fills keep[] with the indices of the first occurrence of every distinct sample; *n_keep. */
static int dedup(const struct pk_store *s, int on, uint64_t *keep, uint64_t *n_keep,
                 struct qt_err *err)
{
	uint64_t k = 0;
	if (!on) {
		for (uint64_t i = 0; i < s->n; i++)
			keep[k++] = i;
		*n_keep = k;
		return QT_OK;
	}
	uint64_t cap = 16;
	while (cap < 2 * s->n)
		cap *= 2;
	uint64_t *tab = calloc(cap, 8);  /* sample index + 1; 0 = empty */
	if (!tab)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t i = 0; i < s->n; i++) {
		uint64_t j = s->hash[i] & (cap - 1);
		int dup = 0;
		for (; tab[j]; j = (j + 1) & (cap - 1))
			if (same_sample(s, tab[j] - 1, i)) {
				dup = 1;
				break;
			}
		if (!dup) {
			tab[j] = i + 1;
			keep[k++] = i;
		}
	}
	free(tab);
	*n_keep = k;
	return QT_OK;
}

/* ---- items: samples cut to fit (long policy) ---- */

/* Whether the piece start..start+k-1 of sample i, as a segment of its own, has a trained target:
 * a masked token after its first (a segment's first token is never a target). */
static int piece_trains(const struct pk_store *s, uint64_t i, uint32_t start, uint32_t k)
{
	const uint8_t *m = s->mask + s->s[i].off + start;
	for (uint32_t t = 1; t < k; t++)
		if (m[t])
			return 1;
	return 0;
}

/* Turns samples idx[0..n) into items of at most T tokens (concat: whole documents). */
static int make_items(const struct pk_store *s, const struct packer_opts *o, const uint64_t *idx,
                      uint64_t n, struct pk_list *out, struct packer_stats *st,
                      struct qt_err *err)
{
	uint32_t T = o->seq_len;
	memset(out, 0, sizeof *out);
	for (uint64_t i = 0; i < n; i++) {
		uint32_t len = s->s[idx[i]].n, start = 0;
		if (o->mode != PACK_MODE_CONCAT && len > T) {
			st->n_long++;
			if (o->long_policy == PACKER_LONG_DROP) {
				st->n_long_tokens += len;
				continue;
			}
			if (o->long_policy == PACKER_LONG_TRUNCATE) {
				st->n_long_tokens += len - T;
				len = T;
			}
		}
		for (; start < len; start += T) {
			uint32_t k = o->mode == PACK_MODE_CONCAT ? len : (len - start < T ? len - start : T);
			struct pk_piece *np = grow(out->p, &out->cap, out->n + 1, sizeof *np);
			if (!np)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			if (o->mode != PACK_MODE_CONCAT && len > T && o->long_policy == PACKER_LONG_SPLIT &&
			    !piece_trains(s, idx[i], start, k)) {
				/* a piece of its own with nothing to learn: a step of only such pieces
				 * would have no loss */
				st->n_split_untrained++;
				st->n_long_tokens += k;
				continue;
			}
			out->p = np;
			out->p[out->n++] = (struct pk_piece){ idx[i], start, k, 0 };
			if (o->mode == PACK_MODE_CONCAT)
				break;
		}
	}
	return QT_OK;
}

/* ---- planning ---- */

/* Two-level bitset over capacities 0..T: which buckets hold a bin. */
struct capset {
	uint64_t *lo, *hi;
	uint32_t n_lo;
};

static void cap_set(struct capset *c, uint32_t v, int on)
{
	if (on)
		c->lo[v / 64] |= 1ull << (v % 64);
	else
		c->lo[v / 64] &= ~(1ull << (v % 64));
	uint32_t w = v / 64;
	if (c->lo[w])
		c->hi[w / 64] |= 1ull << (w % 64);
	else
		c->hi[w / 64] &= ~(1ull << (w % 64));
}

/* Smallest v >= from with its bit set, or UINT32_MAX. */
static uint32_t cap_find(const struct capset *c, uint32_t from)
{
	uint32_t w = from / 64;
	if (w >= c->n_lo)
		return UINT32_MAX;
	uint64_t m = c->lo[w] & (~0ull << (from % 64));
	if (m)
		return w * 64 + (uint32_t)__builtin_ctzll(m);
	for (uint32_t hw = (w + 1) / 64; hw * 64 < c->n_lo; hw++) {
		uint64_t hm = c->hi[hw];
		if (hw == (w + 1) / 64)
			hm &= (w + 1) % 64 ? ~0ull << ((w + 1) % 64) : ~0ull;
		if (hm) {
			uint32_t lw = hw * 64 + (uint32_t)__builtin_ctzll(hm);
			return lw * 64 + (uint32_t)__builtin_ctzll(c->lo[lw]);
		}
	}
	return UINT32_MAX;
}

/*
 * Best-fit decreasing: items by decreasing length (ties in the given, shuffled, order), each
 * into the open bin whose free room is smallest but enough, else a new bin. Returns the bin of
 * every item in bin_of[] and the bin count.
 */
static int plan_bfd(const struct pk_list *items, uint32_t T, uint64_t *bin_of, uint64_t *n_bins,
                    struct qt_err *err)
{
	uint64_t n = items->n, nb = 0;
	uint64_t *cnt = calloc((size_t)T + 2, 8), *order = malloc((n + 1) * 8);
	uint64_t *head = malloc(((size_t)T + 1) * 8), *next = malloc((n + 1) * 8);
	uint32_t *room = malloc((n + 1) * 4);
	struct capset cs = { NULL, NULL, T / 64 + 1 };
	cs.lo = calloc(cs.n_lo, 8);
	cs.hi = calloc(cs.n_lo / 64 + 1, 8);
	int st = QT_OK;
	if (!cnt || !order || !head || !next || !room || !cs.lo || !cs.hi) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	/* Counting sort by decreasing length, stable. */
	for (uint64_t i = 0; i < n; i++)
		cnt[T - items->p[i].len + 1]++;
	for (uint32_t v = 1; v <= T + 1; v++)
		cnt[v] += cnt[v - 1];
	for (uint64_t i = 0; i < n; i++)
		order[cnt[T - items->p[i].len]++] = i;
	for (uint32_t v = 0; v <= T; v++)
		head[v] = UINT64_MAX;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = order[k], b;
		uint32_t len = items->p[i].len;
		uint32_t c = cap_find(&cs, len);
		if (c == UINT32_MAX) {
			b = nb++;
			room[b] = T;
		} else {
			b = head[c];
			head[c] = next[b];
			if (head[c] == UINT64_MAX)
				cap_set(&cs, c, 0);
		}
		bin_of[i] = b;
		room[b] -= len;
		if (room[b] > 0) {
			next[b] = head[room[b]];
			head[room[b]] = b;
			cap_set(&cs, room[b], 1);
		}
	}
	*n_bins = nb;
out:
	free(cnt); free(order); free(head); free(next); free(room); free(cs.lo); free(cs.hi);
	return st;
}

/* Orders items into blocks: block b holds items with bin_of == b, in item order; blocks
 * are permuted by perm (perm[b] = output position). */
static int plan_from_bins(struct pk_plan *pl, const struct pk_list *items, const uint64_t *bin_of,
                          const uint64_t *perm, uint64_t nb, struct qt_err *err)
{
	pl->start = calloc(nb + 1, 8);
	pl->p = malloc((items->n + 1) * sizeof *pl->p);
	if (!pl->start || !pl->p)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t i = 0; i < items->n; i++)
		pl->start[perm[bin_of[i]] + 1]++;
	for (uint64_t b = 0; b < nb; b++)
		pl->start[b + 1] += pl->start[b];
	uint64_t *fill = malloc((nb + 1) * 8);
	if (!fill)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	memcpy(fill, pl->start, nb * 8);
	for (uint64_t i = 0; i < items->n; i++)
		pl->p[fill[perm[bin_of[i]]]++] = items->p[i];
	free(fill);
	pl->n_blocks = nb;
	pl->n_pieces = items->n;
	return QT_OK;
}

/* The eos that concat adds after a document: none when the document already ends with it
 * (tok-chatml --format text appends it, as TRL does for text): one separator, never two. */
static uint32_t concat_sep(const struct pk_store *s, const struct pk_piece *it)
{
	const struct pk_sample *sm = &s->s[it->sample];
	return sm->n > 0 && s->ids[sm->off + sm->n - 1] == s->h.eos_id ? 0 : 1;
}

/* Concat: items are whole documents followed by eos, cut every T tokens. */
static int plan_concat(struct pk_plan *pl, const struct pk_store *s, const struct pk_list *items,
                       uint32_t T, int cross, struct qt_err *err)
{
	uint64_t total = 0, np = 0;
	for (uint64_t i = 0; i < items->n; i++) {
		uint64_t v = (uint64_t)items->p[i].len + concat_sep(s, &items->p[i]);
		np += v / T + 2;
		total += v;
	}
	uint64_t nb = (total + T - 1) / T;
	pl->start = calloc(nb + 1, 8);
	pl->p = malloc((np + 1) * sizeof *pl->p);
	if (!pl->start || !pl->p)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	uint64_t b = 0, k = 0;
	uint32_t used = 0;
	for (uint64_t i = 0; i < items->n; i++) {
		/* virtual length: the added eos, if any, is token n */
		uint32_t v = items->p[i].len + concat_sep(s, &items->p[i]);
		for (uint32_t at = 0; at < v;) {
			uint32_t take = v - at < T - used ? v - at : T - used;
			pl->p[k++] = (struct pk_piece){ items->p[i].sample, at, take,
			                                cross && used > 0 ? PK_CONT : 0 };
			at += take;
			used += take;
			if (used == T) {
				pl->start[++b] = k;
				used = 0;
			}
		}
	}
	if (used)
		pl->start[++b] = k;
	pl->n_blocks = b;
	pl->n_pieces = k;
	return QT_OK;
}

int pk_plan_make(struct pk_plan *pl, const struct pk_store *s, const struct packer_opts *o,
                 const uint64_t *idx, uint64_t n, struct packer_stats *st, struct qt_err *err)
{
	memset(pl, 0, sizeof *pl);
	struct pk_list items;
	int rc = make_items(s, o, idx, n, &items, st, err);
	uint64_t nb = 0, *bin_of = NULL, *perm = NULL;
	if (rc == QT_OK && o->mode == PACK_MODE_CONCAT) {
		rc = plan_concat(pl, s, &items, o->seq_len, o->cross_doc, err);
		goto out;
	}
	bin_of = malloc((items.n + 1) * 8);
	if (rc == QT_OK && !bin_of)
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (rc == QT_OK && o->mode == PACK_MODE_PACK) {
		rc = plan_bfd(&items, o->seq_len, bin_of, &nb, err);
	} else if (rc == QT_OK) {
		for (uint64_t i = 0; i < items.n; i++)
			bin_of[i] = i;
		nb = items.n;
	}
	perm = malloc((nb + 1) * 8);
	if (rc == QT_OK && !perm)
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (rc == QT_OK) {
		for (uint64_t b = 0; b < nb; b++)
			perm[b] = b;
		/* BFD emits long samples first: shuffle blocks so training order is not by length. */
		if (o->mode == PACK_MODE_PACK && o->shuffle) {
			struct qt_rng r;
			qt_rng_seed(&r, o->seed ^ 0x626c6f636b73ull);  /* "blocks": a second stream */
			qt_rng_shuffle(&r, perm, nb, 8);
		}
		rc = plan_from_bins(pl, &items, bin_of, perm, nb, err);
	}
out:
	free(items.p);
	free(bin_of);
	free(perm);
	return rc;
}

void pk_plan_free(struct pk_plan *pl)
{
	free(pl->p);
	free(pl->start);
	memset(pl, 0, sizeof *pl);
}

void pk_store_free(struct pk_store *s)
{
	free(s->ids); free(s->mask); free(s->s); free(s->hash);
	memset(s, 0, sizeof *s);
}

/* ---- the whole run ---- */

int packer_run(const struct packer_opts *o, char *const *inputs, int n_inputs,
               struct packer_stats *st, struct qt_err *err)
{
	memset(st, 0, sizeof *st);
	st->seq_len = o->seq_len;
	st->long_policy = o->long_policy;
	st->n_inputs = (uint64_t)n_inputs;
	int rc = pk_check_opts(o, err);
	if (rc != QT_OK)
		return rc;
	struct pk_store s;
	memset(&s, 0, sizeof s);
	struct pk_plan train, val;
	memset(&train, 0, sizeof train);
	memset(&val, 0, sizeof val);
	uint64_t *keep = NULL, n_keep = 0, n_val = 0;
	double t0 = qt_now();
	rc = load_inputs(&s, inputs, n_inputs, err);
	double t1 = qt_now();
	st->n_samples_in = s.n;
	st->n_tokens_in = s.n_tok;
	if (rc == QT_OK && s.n == 0)
		rc = qt_err_set(err, QT_EDATA, "%s: no samples in the input (empty .tok stream)",
		                n_inputs == 1 ? inputs[0] : "all inputs");
	if (rc == QT_OK && o->mode == PACK_MODE_CONCAT && s.h.eos_id == TOK_ID_NONE)
		rc = qt_err_set(err, QT_EDATA, "%s: offset 36: --mode concat needs an eos id and the "
		                "tokenizer has none", inputs[0]);
	if (rc == QT_OK && !(keep = malloc(s.n * 8)))
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (rc == QT_OK)
		rc = dedup(&s, o->dedup, keep, &n_keep, err);
	st->n_duplicates = s.n - n_keep;
	if (rc == QT_OK && o->shuffle) {
		struct qt_rng r;
		qt_rng_seed(&r, o->seed);
		qt_rng_shuffle(&r, keep, n_keep, 8);
	}
	if (rc == QT_OK && o->val_out) {
		n_val = o->val_fraction > 0 ? (uint64_t)ceil(o->val_fraction * (double)n_keep)
		                            : o->val_count;
		if (n_val >= n_keep)
			rc = qt_err_set(err, QT_EDATA, "validation takes %llu of %llu distinct samples, "
			                "leaving none for training", (unsigned long long)n_val,
			                (unsigned long long)n_keep);
		st->n_val_samples = n_val;
	}
	if (rc == QT_OK)
		rc = pk_plan_make(&val, &s, o, keep, n_val, st, err);
	if (rc == QT_OK)
		rc = pk_plan_make(&train, &s, o, keep + n_val, n_keep - n_val, st, err);
	if (rc == QT_OK && (train.n_blocks == 0 || (o->val_out && val.n_blocks == 0))) {
		uint32_t shortest = UINT32_MAX;
		for (uint64_t i = 0; i < s.n; i++)
			shortest = s.s[i].n < shortest ? s.s[i].n : shortest;
		rc = qt_err_set(err, QT_EDATA, "every %s sample is longer than --seq-len %u (the "
		                "shortest input sample has %u tokens): nothing to write; raise "
		                "--seq-len or use --long truncate|split",
		                train.n_blocks == 0 ? "training" : "validation", o->seq_len, shortest);
	}
	double t2 = qt_now();
	if (rc == QT_OK)
		rc = pk_write_outputs(o, &s, &train, &val, st, err);
	qt_info(4, "timings: read %.3f s, dedup+shuffle+plan %.3f s, write %.3f s",
	        t1 - t0, t2 - t1, qt_now() - t2);
	pk_plan_free(&train);
	pk_plan_free(&val);
	pk_store_free(&s);
	free(keep);
	return rc;
}
