/* qlora-tools: ISC license. */
/*
 * The packing library (jobs/pack_job.h) on synthetic data where token i has value i (llm.c's
 * dataloader test), so every property is arithmetic: each input token appears exactly once
 * unless deduplicated or dropped, a segment is one whole sample (consecutive values), masks
 * follow mask_of(value) except 0 on segment starts, padding is masked; determinism under a
 * seed; --cat round trip; bad inputs (status, message, no output file).
 *
 * Also a generator (not a test) for the committed CLI fixtures and the benchmark input:
 *   test_pack_job --write-fixtures DIR      writes DIR/{a,c,other,empty,v512}.tok
 *   test_pack_job --gen-bench FILE MB       writes a >= MB megabyte .tok of chat-like lengths
 */
#include "jobs/pack_job.h"

#include <math.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/rng.h"
#include "formats/pack.h"
#include "formats/tok.h"
#include "test.h"

#define VOCAB   (1u << 24)
#define EOS     (VOCAB - 1)
#define PAD     (VOCAB - 2)
#define MAXS    20000

static const char *dir = "qt_test_packer";
static char p_a[256], p_b[256], p_o[256], p_v[256];

static uint8_t mask_of(uint32_t v) { return v % 3 != 0; }

/* The samples of the current input set: sample k holds values start[k] .. start[k]+len[k]-1. */
static uint32_t n_s, s_start[MAXS], s_len[MAXS];
static uint32_t next_value = 1;

/* Writes a .tok of n samples of the given lengths with fresh values (dup >= 0: sample k is a
 * copy of sample dup_of[k] when dup_of[k] >= 0). */
static void write_tok(const char *path, const uint32_t *lens, uint32_t n, uint64_t fp_id,
                      const int *dup_of)
{
	struct tok_header h = { .tokenizer_fingerprint = fp_id, .vocab_size = VOCAB,
	                        .eos_id = EOS, .pad_id = PAD };
	FILE *fp = fopen(path, "wb");
	struct tok_writer w;
	struct qt_err err;
	tok_writer_open(&w, fp, path, &h, &err);
	static uint32_t ids[70000];
	static uint8_t mask[70000];
	for (uint32_t k = 0; k < n; k++) {
		uint32_t start = next_value, len = lens[k];
		if (dup_of && dup_of[k] >= 0) {
			start = s_start[dup_of[k]];
			len = s_len[dup_of[k]];
		} else {
			next_value += len;
			s_start[n_s] = start;
			s_len[n_s++] = len;
		}
		for (uint32_t i = 0; i < len; i++) {
			ids[i] = start + i;
			mask[i] = mask_of(start + i);
		}
		tok_writer_put(&w, ids, mask, len, &err);
	}
	tok_writer_finish(&w, &err);
	fclose(fp);
}

static void reset_samples(void) { n_s = 0; next_value = 1; }

/* Occurrences of every value in the outputs checked so far. */
static uint8_t seen[1 << 22];

struct got {
	uint64_t blocks, tokens, segs, bad;
	uint64_t fill_num, fill_den;
};

static int is_start(uint32_t v)
{
	uint32_t lo = 0, hi = n_s;
	while (lo < hi) {
		uint32_t m = (lo + hi) / 2;
		if (s_start[m] < v) lo = m + 1; else hi = m;
	}
	return lo < n_s && s_start[lo] == v ? (int)lo : -1;
}

/*
 * Checks every block of a .pack: structure (pack_verify), values consecutive within a segment
 * (concat: eos may follow a sample's last value), masks, padding; whole == 1 requires each
 * segment to be exactly one whole sample. Adds to seen[] and g.
 */
static void check_pack(const char *path, int whole, int concat, struct got *g)
{
	struct pack_file f;
	struct qt_err err;
	int st = pack_open(&f, path, &err);
	CHECK(st == QT_OK, "open %s: %s", path, err.msg);
	if (st != QT_OK)
		return;
	CHECK(pack_verify(&f, &err) == QT_OK, "verify %s: %s", path, err.msg);
	uint32_t T = f.h.seq_len;
	for (uint64_t i = 0; i < f.h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(&f, i, &b);
		g->blocks++;
		for (uint32_t t = 0; t < T; t++) {
			uint32_t v = b.ids[t];
			int start = t == 0 || b.seg[t] != b.seg[t - 1];
			if (b.seg[t] == 0) {
				g->bad += v != PAD || b.mask[t] != 0;
				continue;
			}
			g->tokens++;
			if (start)
				g->segs++;
			if (v == EOS) {
				g->bad += !concat || (t > 0 && b.seg[t - 1] == b.seg[t] &&
				                      is_start(b.ids[t - 1] + 1) < 0 &&
				                      b.ids[t - 1] + 1 != next_value);
				g->bad += b.mask[t] != !start;
				continue;
			}
			if (v >= next_value) {
				g->bad++;
				continue;
			}
			seen[v]++;
			g->bad += b.mask[t] != (start ? 0 : mask_of(v));
			if (!start && b.ids[t - 1] != EOS)
				g->bad += v != b.ids[t - 1] + 1;
			if (!start && b.ids[t - 1] == EOS)
				g->bad += is_start(v) < 0;  /* cross-doc: a new document after eos */
			if (whole && start) {
				int k = is_start(v);
				uint32_t len = 0;
				while (t + len < T && b.seg[t + len] == b.seg[t])
					len++;
				g->bad += k < 0 || s_len[k] != len;
			}
		}
	}
	g->fill_num += f.h.n_tokens;
	g->fill_den += f.h.n_blocks * T;
	CHECK(g->bad == 0, "%s: %llu bad tokens", path, (unsigned long long)g->bad);
	pack_close(&f);
}

/* Counts values with seen == want over the sample set, and those with any other count. */
static uint64_t count_seen(int want, uint64_t *other)
{
	uint64_t n = 0;
	*other = 0;
	for (uint32_t k = 0; k < n_s; k++)
		for (uint32_t i = 0; i < s_len[k]; i++) {
			if (seen[s_start[k] + i] == want)
				n++;
			else
				(*other)++;
		}
	return n;
}

static int run(struct packer_opts *o, char **in, int n, struct packer_stats *st,
               struct qt_err *err)
{
	memset(seen, 0, sizeof seen);
	return packer_run(o, in, n, st, err);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static char *slurp(const char *p, size_t *n)
{
	char *b = NULL;
	struct qt_err err;
	if (qt_read_file(p, &b, n, &err) != QT_OK)
		*n = 0;
	return b;
}

static int same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(a, &na), *y = slurp(b, &nb);
	int same = x && y && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return same;
}

/* ---- cases ---- */

static uint32_t total_tokens(void)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < n_s; k++)
		n += s_len[k];
	return n;
}

static void test_pack_mode(void)
{
	reset_samples();
	uint32_t lens[300];
	for (uint32_t k = 0; k < 300; k++)
		lens[k] = 1 + (k * 37) % 60;
	write_tok(p_a, lens, 200, 1, NULL);
	write_tok(p_b, lens + 200, 100, 1, NULL);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 64;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a, p_b };
	int rc = run(&o, in, 2, &st, &err);
	CHECK(rc == QT_OK, "pack two inputs: %s", err.msg);
	CHECK(st.n_samples_in == 300 && st.n_duplicates == 0 && st.n_long == 0 &&
	      st.n_tokens_in == total_tokens() && st.train.n_tokens == total_tokens() &&
	      st.train.n_samples == 300, "stats");
	struct got g = { 0 };
	check_pack(p_o, 1, 0, &g);
	uint64_t other;
	CHECK(count_seen(1, &other) == total_tokens() && other == 0,
	      "every token exactly once (%llu otherwise)", (unsigned long long)other);
	CHECK(g.segs == 300 && g.blocks == st.train.n_blocks, "one segment per sample");
	/* Lower bound on blocks: ceil(tokens / T); BFD on this mix should be within 2%. */
	uint64_t lb = (total_tokens() + 63) / 64;
	CHECK(g.blocks >= lb && g.blocks <= lb + lb / 50 + 1, "blocks %llu vs bound %llu",
	      (unsigned long long)g.blocks, (unsigned long long)lb);
}

/* Chat-like length mix: log-normal around 300 tokens, clipped to [8, 4000]. */
static uint32_t realistic_len(struct qt_rng *r)
{
	double u1 = qt_rng_double(r), u2 = qt_rng_double(r);
	double z = sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
	double len = exp(log(300.0) + 0.9 * z);
	return len < 8 ? 8 : len > 4000 ? 4000 : (uint32_t)len;
}

static void test_fill_realistic(void)
{
	reset_samples();
	static uint32_t lens[MAXS];
	struct qt_rng r;
	qt_rng_seed(&r, 1);
	uint32_t n_long = 0;
	for (uint32_t k = 0; k < 5000; k++) {
		lens[k] = realistic_len(&r);
		n_long += lens[k] > 2048;
	}
	write_tok(p_a, lens, 5000, 1, NULL);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 2048;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	CHECK(run(&o, in, 1, &st, &err) == QT_OK, "realistic: %s", err.msg);
	struct got g = { 0 };
	check_pack(p_o, 1, 0, &g);
	double fill = (double)g.fill_num / (double)g.fill_den;
	printf("fill on a log-normal chat mix (5000 samples, median 300, T 2048): %.4f\n", fill);
	CHECK(fill >= 0.95, "fill %.4f >= 0.95", fill);
	CHECK(st.n_long == n_long && st.train.n_samples == 5000 - n_long, "long samples dropped");
	uint64_t other, once = count_seen(1, &other);
	uint64_t long_tok = 0;
	for (uint32_t k = 0; k < n_s; k++)
		long_tok += s_len[k] > 2048 ? s_len[k] : 0;
	CHECK(once + long_tok == total_tokens() && other == long_tok && st.n_long_tokens == long_tok,
	      "kept tokens once, dropped ones never");
}

static void test_determinism(void)
{
	char p1[300], p2[300];
	snprintf(p1, sizeof p1, "%s/d1.pack", dir);
	snprintf(p2, sizeof p2, "%s/d2.pack", dir);
	/* p_a still holds the realistic mix. */
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 2048;
	o.seed = 7;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	o.out = p_o;
	run(&o, in, 1, &st, &err);
	o.out = p1;
	run(&o, in, 1, &st, &err);
	o.seed = 8;
	o.out = p2;
	run(&o, in, 1, &st, &err);
	CHECK(same_file(p_o, p1), "same seed: identical files");
	CHECK(!same_file(p_o, p2), "other seed: different files");
	o.shuffle = 0;
	run(&o, in, 1, &st, &err);
	CHECK(!same_file(p_o, p2), "no shuffle differs from a shuffle");
	unlink(p1);
	unlink(p2);
}

static void test_dedup_and_split(void)
{
	reset_samples();
	uint32_t lens[120];
	int dup[120];
	for (uint32_t k = 0; k < 120; k++) {
		lens[k] = 2 + k % 13;
		dup[k] = k < 100 ? -1 : (int)((k * 7) % 100);
	}
	write_tok(p_a, lens, 120, 1, dup);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 32;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_duplicates == 20, "dedup count");
	struct got g = { 0 };
	check_pack(p_o, 1, 0, &g);
	uint64_t other;
	CHECK(count_seen(1, &other) == total_tokens() && other == 0, "dedup: each once");
	o.dedup = 0;
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_duplicates == 0, "no dedup");
	memset(&g, 0, sizeof g);
	check_pack(p_o, 1, 0, &g);
	uint64_t twice = count_seen(2, &other), dup_tok = 0;
	for (uint32_t k = 100; k < 120; k++)
		dup_tok += s_len[(k * 7) % 100];
	CHECK(twice == dup_tok && g.segs == 120, "no dedup: copies kept (%llu vs %llu)",
	      (unsigned long long)twice, (unsigned long long)dup_tok);
	/* Split: ceil(0.1 * 100) = 10 validation samples; train and val disjoint and complete. */
	o.dedup = 1;
	o.val_fraction = 0.1;
	o.val_out = p_v;
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_val_samples == 10, "split: %s", err.msg);
	struct got gt = { 0 }, gv = { 0 };
	check_pack(p_o, 1, 0, &gt);
	check_pack(p_v, 1, 0, &gv);
	CHECK(count_seen(1, &other) == total_tokens() && other == 0 && gv.segs == 10 &&
	      gt.segs == 90, "split: disjoint, complete (val %llu, train %llu segments)",
	      (unsigned long long)gv.segs, (unsigned long long)gt.segs);
	o.val_fraction = 0;
	o.val_count = 7;
	run(&o, in, 1, &st, &err);
	memset(&gv, 0, sizeof gv);
	check_pack(p_v, 1, 0, &gv);
	CHECK(gv.segs == 7, "val-count 7");
	o.val_count = 100;
	unlink(p_o);
	unlink(p_v);
	CHECK(run(&o, in, 1, &st, &err) == QT_EDATA && strstr(err.msg, "leaving none") &&
	      !exists(p_o) && !exists(p_v), "val takes everything: %s", err.msg);
}

static void test_long(void)
{
	reset_samples();
	uint32_t lens[] = { 5, 20, 16, 17, 40, 3 };
	write_tok(p_a, lens, 6, 1, NULL);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 16;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	uint64_t other;
	struct got g = { 0 };
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_long == 3 && st.n_long_tokens == 77,
	      "drop");
	check_pack(p_o, 1, 0, &g);
	CHECK(count_seen(1, &other) == 24 && other == 77, "drop: long samples absent");
	o.long_policy = PACKER_LONG_TRUNCATE;
	memset(&g, 0, sizeof g);
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_long == 3 && st.n_long_tokens == 29,
	      "truncate");
	check_pack(p_o, 0, 0, &g);
	CHECK(count_seen(1, &other) == 24 + 48 && other == 29 && seen[s_start[1] + 15] &&
	      !seen[s_start[1] + 16] && g.segs == 6, "truncate: first 16 tokens kept");
	o.long_policy = PACKER_LONG_SPLIT;
	memset(&g, 0, sizeof g);
	/* 20 -> 16 + 4, 17 -> 16 + 1, 40 -> 16 + 16 + 8: the 1-token tail of the 17 has no trained
	 * target (a segment's first token never is one) and is left out */
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.n_long == 3 && st.n_long_tokens == 1 &&
	      st.n_split_untrained == 1, "split");
	check_pack(p_o, 0, 0, &g);
	CHECK(count_seen(1, &other) == 100 && other == 1 && !seen[s_start[3] + 16] && g.segs == 9,
	      "split: every token but the untrained tail, 9 pieces (%llu)", (unsigned long long)g.segs);
}

static void test_pad_and_concat(void)
{
	reset_samples();
	uint32_t lens[40];
	for (uint32_t k = 0; k < 40; k++)
		lens[k] = 1 + (k * 11) % 23;
	write_tok(p_a, lens, 40, 1, NULL);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 24;
	o.out = p_o;
	o.mode = PACK_MODE_PAD;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	uint64_t other;
	struct got g = { 0 };
	CHECK(run(&o, in, 1, &st, &err) == QT_OK, "pad: %s", err.msg);
	check_pack(p_o, 1, 0, &g);
	CHECK(g.blocks == 40 && g.segs == 40 && count_seen(1, &other) == total_tokens() &&
	      other == 0, "pad: one sample per block");

	o.mode = PACK_MODE_CONCAT;
	o.shuffle = 0;
	for (int cross = 0; cross < 2; cross++) {
		o.cross_doc = cross;
		memset(&g, 0, sizeof g);
		CHECK(run(&o, in, 1, &st, &err) == QT_OK, "concat: %s", err.msg);
		check_pack(p_o, 0, 1, &g);
		uint64_t stream = total_tokens() + 40;
		CHECK(count_seen(1, &other) == total_tokens() && other == 0 &&
		      g.blocks == (stream + 23) / 24 && g.tokens == stream, "concat %d: stream", cross);
		/* Unshuffled: the blocks read back in order are 1, 2, 3, ... with eos after each
		 * document; cross-doc: one segment per block. */
		struct pack_file f;
		pack_open(&f, p_o, &err);
		uint32_t want = 1, n_eos = 0, bad = 0, k = 0;
		for (uint64_t i = 0; i < f.h.n_blocks; i++) {
			struct pack_block b;
			pack_get_block(&f, i, &b);
			for (uint32_t t = 0; t < 24; t++) {
				if (b.seg[t] == 0)
					continue;
				bad += cross && b.seg[t] != 1;
				if (b.ids[t] == EOS) {
					bad += want != s_start[k] + s_len[k];
					n_eos++;
					k++;
				} else {
					bad += b.ids[t] != want++;
				}
			}
		}
		pack_close(&f);
		CHECK(bad == 0 && n_eos == 40, "concat %d: order and eos (%u bad)", cross, bad);
	}
	o.cross_doc = 0;
	o.mode = PACK_MODE_PACK;
}

static void test_shards_and_max(void)
{
	/* p_a holds 40 samples of 1..23 tokens. */
	char pat[300], name[300];
	snprintf(pat, sizeof pat, "%s/s-%%03d.pack", dir);
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = 24;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err;
	char *in[] = { p_a };
	run(&o, in, 1, &st, &err);
	uint64_t nb = st.train.n_blocks;
	o.out = pat;
	o.shard_blocks = 3;
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.train.n_files == (nb + 2) / 3,
	      "shards: %s", err.msg);
	struct pack_file whole, part;
	pack_open(&whole, p_o, &err);
	uint64_t g = 0;
	int ok = 1;
	for (uint64_t s = 0; s < st.train.n_files; s++) {
		snprintf(name, sizeof name, "%s/s-%03llu.pack", dir, (unsigned long long)s);
		if (pack_open(&part, name, &err) != QT_OK) {
			ok = 0;
			break;
		}
		ok &= part.h.shard_index == s && part.h.n_shards == st.train.n_files &&
		      part.h.block_first == g && pack_verify(&part, &err) == QT_OK;
		for (uint64_t i = 0; i < part.h.n_blocks; i++, g++)
			ok &= memcmp(part.blocks + i * part.h.block_size,
			             whole.blocks + g * whole.h.block_size, whole.h.block_size) == 0;
		pack_close(&part);
		unlink(name);
	}
	pack_close(&whole);
	CHECK(ok && g == nb, "shards hold the unsharded blocks in order");
	o.out = p_o;
	o.shard_blocks = 0;
	o.max_blocks = 2;
	CHECK(run(&o, in, 1, &st, &err) == QT_OK && st.train.n_blocks == 2 &&
	      st.train.n_blocks_cut == nb - 2, "max-blocks");
	struct got gg = { 0 };
	check_pack(p_o, 1, 0, &gg);
	CHECK(gg.blocks == 2, "max-blocks file");
	/* A shard that cannot be written removes the shards already in place. */
	o.max_blocks = 0;
	o.shard_blocks = 3;
	snprintf(name, sizeof name, "%s/s-001.pack", dir);
	mkdir(name, 0755);  /* rename onto a directory fails */
	snprintf(name, sizeof name, "%s/s-000.pack", dir);
	o.out = pat;
	int rc = run(&o, in, 1, &st, &err);
	CHECK(rc != QT_OK && !exists(name), "failed shard set removed (%d: %s)", rc, err.msg);
	snprintf(name, sizeof name, "%s/s-001.pack", dir);
	rmdir(name);
}

/* Parses n numbers after key in a JSON line into out; returns the count. */
static uint32_t parse_arr(const char *line, const char *key, uint32_t *out, uint32_t cap)
{
	const char *p = strstr(line, key);
	uint32_t n = 0;
	if (!p)
		return 0;
	p += strlen(key);
	while (*p && *p != ']' && n < cap) {
		char *end;
		out[n++] = (uint32_t)strtoul(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void test_cat_round_trip(void)
{
	/* p_o holds a 2-block pack of T = 24 from test_shards_and_max. */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct qt_err err;
	CHECK(packer_cat(p_o, mem, &err) == QT_OK, "cat: %s", err.msg);
	fclose(mem);
	struct pack_file f;
	pack_open(&f, p_o, &err);
	uint64_t i = 0;
	int ok = 1;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), i++) {
		uint32_t ids[24], mask[24], seg[24];
		struct pack_block b;
		if (i >= f.h.n_blocks) {
			ok = 0;
			break;
		}
		pack_get_block(&f, i, &b);
		ok &= strncmp(line, "{\"ids\":[", 8) == 0 && line[strlen(line) - 1] == '}';
		ok &= parse_arr(line, "\"ids\":[", ids, 24) == 24 &&
		      parse_arr(line, "\"mask\":[", mask, 24) == 24 &&
		      parse_arr(line, "\"seg\":[", seg, 24) == 24;
		for (uint32_t t = 0; t < 24; t++)
			ok &= ids[t] == b.ids[t] && mask[t] == b.mask[t] && seg[t] == b.seg[t];
	}
	CHECK(ok && i == f.h.n_blocks, "cat round trip (%llu lines)", (unsigned long long)i);
	pack_close(&f);
	free(buf);
	mem = open_memstream(&buf, &len);
	CHECK(packer_info(p_o, mem, &err) == QT_OK, "info: %s", err.msg);
	fclose(mem);
	CHECK(strstr(buf, "blocks: 2\n") && strstr(buf, "seq_len: 24\n") &&
	      strstr(buf, "checksums: ok"), "info output");
	free(buf);
}

/* Runs one bad input; expects status want, a message fragment, and no output file. */
static void expect_bad(char **in, int n, uint32_t seq_len, int want, const char *frag,
                       const char *what)
{
	struct packer_opts o;
	packer_opts_init(&o);
	o.seq_len = seq_len;
	o.out = p_o;
	struct packer_stats st;
	struct qt_err err = { 0, "" };
	unlink(p_o);
	int rc = run(&o, in, n, &st, &err);
	CHECK(rc == want && strstr(err.msg, frag) && !exists(p_o), "%s: status %d, \"%s\"", what,
	      rc, err.msg);
}

static void corrupt(const char *path, long off, int x, long cut)
{
	size_t n;
	char *b = slurp(path, &n);
	if (off >= 0)
		b[off] ^= (char)x;
	if (cut)
		n = (size_t)cut;
	FILE *fp = fopen(path, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
	free(b);
}

static void test_bad_input(void)
{
	reset_samples();
	uint32_t lens[] = { 10, 12, 11, 30 };
	char *in_a[] = { p_a }, *in_ab[] = { p_a, p_b };
	write_tok(p_a, lens, 4, 1, NULL);
	corrupt(p_a, -1, 0, 150);
	expect_bad(in_a, 1, 64, QT_EDATA, "truncated record", "truncated stream");
	write_tok(p_a, lens, 4, 1, NULL);
	corrupt(p_a, 64 + 4 + 1, 0x01, 0);  /* an id byte of the first record */
	expect_bad(in_a, 1, 64, QT_EDATA, "checksum mismatch", "bad checksum");
	write_tok(p_a, lens, 4, 1, NULL);
	write_tok(p_b, lens, 4, 2, NULL);
	expect_bad(in_ab, 2, 64, QT_EDATA, "b.tok: offset 24: tokenizer fingerprint",
	           "mixed tokenizers");
	expect_bad(in_a, 1, 8, QT_EDATA, "longer than --seq-len 8 (the shortest input sample "
	           "has 10 tokens)", "seq-len below the shortest sample");
	write_tok(p_a, lens, 0, 1, NULL);
	expect_bad(in_a, 1, 64, QT_EDATA, "no samples", "empty input");
	corrupt(p_a, -1, 0, 0);
	FILE *fp = fopen(p_a, "wb");
	fclose(fp);
	expect_bad(in_a, 1, 64, QT_EDATA, "truncated header", "zero-byte input");
	char *missing[] = { "/nonexistent/in.tok" };
	expect_bad(missing, 1, 64, QT_ENOINPUT, "/nonexistent/in.tok", "missing input");
	write_tok(p_a, lens, 4, 1, NULL);
	struct packer_opts o;
	packer_opts_init(&o);
	o.out = "/dev/null/dir/x.pack";  /* never creatable, not even by root */
	struct packer_stats st;
	struct qt_err err;
	CHECK(run(&o, in_a, 1, &st, &err) == QT_ECANTCREAT, "unwritable output: %s", err.msg);
	o.out = p_o;
	o.shard_blocks = 2;
	CHECK(run(&o, in_a, 1, &st, &err) == QT_EUSAGE && strstr(err.msg, "%d"),
	      "shards without a pattern: %s", err.msg);
	char *twice[] = { "-", "-" };
	o.shard_blocks = 0;
	CHECK(run(&o, twice, 2, &st, &err) == QT_EUSAGE, "stdin twice");
}

/* ---- generators ---- */

/* The CLI fixtures: tiny, readable (vocab 1000, eos 1, pad 0, values from 10); v512.tok, a.tok's
 * samples under vocab 512, is for lora-train on the tiny model (tests/data/llama/tiny). */
static int write_fixture(const char *d, const char *name, uint64_t fpid, const uint32_t *lens,
                         uint32_t n, const int *dup)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", d, name);
	struct tok_header h = { .tokenizer_fingerprint = fpid,
	                        .vocab_size = strcmp(name, "v512.tok") ? 1000 : 512, .eos_id = 1,
	                        .pad_id = 0 };
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 1;
	struct tok_writer w;
	struct qt_err err;
	tok_writer_open(&w, fp, path, &h, &err);
	uint32_t ids[64];
	uint8_t mask[64];
	for (uint32_t k = 0; k < n; k++) {
		uint32_t start = next_value, len = lens[k];
		if (dup && dup[k] >= 0) {
			start = s_start[dup[k]];
			len = s_len[dup[k]];
		} else {
			next_value += len;
		}
		s_start[k] = start;
		s_len[k] = len;
		for (uint32_t i = 0; i < len; i++) {
			ids[i] = start + i;
			mask[i] = mask_of(start + i);
		}
		tok_writer_put(&w, ids, mask, len, &err);
	}
	tok_writer_finish(&w, &err);
	return fclose(fp) != 0;
}

static int write_fixtures(const char *d)
{
	static const uint32_t a[] = { 3, 5, 7, 2, 9, 4, 6, 1, 8, 3, 5, 20 };
	static const int a_dup[] = { -1, -1, -1, -1, -1, 2, -1, -1, -1, -1, -1, -1 };
	static const uint32_t c[] = { 4, 4, 6, 2 }, other[] = { 3, 4, 5 };
	next_value = 10;
	int bad = write_fixture(d, "a.tok", 0x1111, a, 12, a_dup);
	bad |= write_fixture(d, "c.tok", 0x1111, c, 4, NULL);
	bad |= write_fixture(d, "other.tok", 0x2222, other, 3, NULL);
	bad |= write_fixture(d, "empty.tok", 0x1111, c, 0, NULL);
	next_value = 10;
	bad |= write_fixture(d, "v512.tok", 0x1111, a, 12, a_dup);
	return bad;
}

static void test_fixtures_current(void)
{
	char src[512], fresh[512];
	const char *names[] = { "a.tok", "c.tok", "other.tok", "empty.tok", "v512.tok" };
	snprintf(fresh, sizeof fresh, "%s/fixtures", dir);
	mkdir(fresh, 0755);
	CHECK(write_fixtures(fresh) == 0, "write fixtures");
	for (int i = 0; i < 5; i++) {
		char a[600], b[600];
		snprintf(src, sizeof src, "%s/data/pack", test_srcdir());
		snprintf(a, sizeof a, "%s/%s", src, names[i]);
		snprintf(b, sizeof b, "%s/%s", fresh, names[i]);
		if (!exists(a))
			SKIP("%s not committed yet", a);
		else
			CHECK(same_file(a, b), "%s matches its generator (rerun --write-fixtures)", a);
		unlink(b);
	}
	rmdir(fresh);
}

/* Benchmark input: chat-like lengths, ids uniform below 49152 (SmolLM2's vocabulary), the
 * first ~40% of every sample masked out as a prompt would be. */
static int gen_bench(const char *path, int mb)
{
	struct tok_header h = { .tokenizer_fingerprint = 0xbe7c, .vocab_size = 49152, .eos_id = 2,
	                        .pad_id = 2 };
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 1;
	struct tok_writer w;
	struct qt_err err;
	tok_writer_open(&w, fp, path, &h, &err);
	struct qt_rng r;
	qt_rng_seed(&r, 2024);
	static uint32_t ids[4096];
	static uint8_t mask[4096];
	uint64_t bytes = 64;
	while (bytes < (uint64_t)mb * 1000000) {
		uint32_t len = realistic_len(&r);
		for (uint32_t i = 0; i < len; i++) {
			ids[i] = (uint32_t)qt_rng_below(&r, 49152);
			mask[i] = i >= len * 2 / 5;
		}
		tok_writer_put(&w, ids, mask, len, &err);
		bytes += 4 + 4 * (uint64_t)len + ((len + 3) & ~3u);
	}
	tok_writer_finish(&w, &err);
	return fclose(fp) != 0;
}


int main(int argc, char **argv)
{
	test_in_tmpdir();
	if (argc == 3 && strcmp(argv[1], "--write-fixtures") == 0)
		return write_fixtures(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--gen-bench") == 0)
		return gen_bench(argv[2], atoi(argv[3]));
	mkdir(dir, 0755);
	snprintf(p_a, sizeof p_a, "%s/a.tok", dir);
	snprintf(p_b, sizeof p_b, "%s/b.tok", dir);
	snprintf(p_o, sizeof p_o, "%s/out.pack", dir);
	snprintf(p_v, sizeof p_v, "%s/val.pack", dir);
	test_pack_mode();
	test_fill_realistic();
	test_determinism();
	test_dedup_and_split();
	test_long();
	test_pad_and_concat();
	test_shards_and_max();
	test_cat_round_trip();
	test_bad_input();
	test_fixtures_current();
	return test_main_end();
}
