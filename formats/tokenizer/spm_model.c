/* qlora-tools: ISC license. */
/*
 * tokenizer.model: a SentencePiece ModelProto (protobuf) read into the same struct tokenizer
 * as a tokenizer.json, so that it encodes as the sentencepiece library's EncodeAsIds does:
 *   BPE (model_type 2): merge the adjacent pair whose concatenation is a piece of highest
 *     score, leftmost first = the BPE of bpe.c with a merge (a, b) for every split of every
 *     normal piece into two normal pieces, ranked by the merged piece's score;
 *   Unigram (model_type 1): the Viterbi segmentation of unigram.c.
 * Normalization: the precompiled_charsmap (nmt_nfkc and the like; empty: the identity),
 * remove_extra_whitespaces and add_dummy_prefix are done on the whole input by
 * tokenizer_encode as the library's Normalizer does (longest match, precompiled.c); spaces
 * become U+2581 through a Metaspace step. CONTROL pieces (<s>, </s>) become special added
 * tokens (never matched by the library: compare with TOKENIZER_TEXT_ONLY), USER_DEFINED pieces
 * non-special added tokens (matched after the charsmap; the library leaves them unmapped, which
 * differs only for a piece holding a character the map changes); unknown characters become <0xHH> pieces with byte_fallback, else the unknown
 * piece. UNUSED pieces are never produced (as in the library; llama.cpp's converter pads
 * vocabularies with them). Not read: treat_whitespace_as_suffix, model types WORD and CHAR:
 * refused with the reason.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

enum { PIECE_NORMAL = 1, PIECE_UNKNOWN = 2, PIECE_CONTROL = 3, PIECE_USER = 4,
       PIECE_UNUSED = 5, PIECE_BYTE = 6 };

/* ---- protobuf wire format ---- */

struct pb { const unsigned char *p, *end; int bad; };

static uint64_t pb_varint(struct pb *b)
{
	uint64_t v = 0;
	for (int sh = 0; b->p < b->end && sh < 64; sh += 7) {
		unsigned c = *b->p++;
		v |= (uint64_t)(c & 0x7F) << sh;
		if (!(c & 0x80))
			return v;
	}
	b->bad = 1;
	return 0;
}

/* Reads the next field's key; 0 at the end. *wire: the wire type. */
static uint32_t pb_key(struct pb *b, unsigned *wire)
{
	if (b->p >= b->end || b->bad)
		return 0;
	uint64_t k = pb_varint(b);
	*wire = (unsigned)(k & 7);
	if (k >> 3 == 0 || k >> 3 > 0x1FFFFFFF)
		b->bad = 1;
	return b->bad ? 0 : (uint32_t)(k >> 3);
}

/* A length-delimited field's bytes. */
static struct pb pb_sub(struct pb *b)
{
	uint64_t n = pb_varint(b);
	struct pb s = { b->p, b->p, 0 };
	if (b->bad || n > (uint64_t)(b->end - b->p)) {
		b->bad = 1;
		return s;
	}
	s.end = b->p + n;
	b->p += n;
	return s;
}

static void pb_skip(struct pb *b, unsigned wire)
{
	if (wire == 0)
		pb_varint(b);
	else if (wire == 2)
		pb_sub(b);
	else if ((wire == 1 || wire == 5) && (size_t)(b->end - b->p) >= (wire == 1 ? 8u : 4u))
		b->p += wire == 1 ? 8 : 4;
	else
		b->bad = 1;
}

static float pb_float(struct pb *b)
{
	uint32_t u = 0;
	if (b->end - b->p < 4) {
		b->bad = 1;
		return 0;
	}
	for (int i = 0; i < 4; i++)
		u |= (uint32_t)b->p[i] << (8 * i);
	b->p += 4;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* ---- the model ---- */

struct piece { const unsigned char *s; uint32_t len; float score; int type; };

struct spec {
	int model_type, byte_fallback, ws_suffix;
	int dummy, extra_ws, escape;     /* normalizer_spec */
	const unsigned char *charsmap;
	size_t charsmap_len;
	const unsigned char *name;
	size_t name_len;
};

static int parse(struct pb *b, struct piece **pieces, uint32_t *n, struct spec *sp,
                 const char *path, struct qt_err *err)
{
	uint32_t cap = 0;
	unsigned w;
	uint32_t f;
	while ((f = pb_key(b, &w))) {
		if (f == 1 && w == 2) {             /* pieces */
			struct pb s = pb_sub(b);
			struct piece pc = { (const unsigned char *)"", 0, 0, PIECE_NORMAL };
			unsigned w2;
			uint32_t g;
			while ((g = pb_key(&s, &w2))) {
				if (g == 1 && w2 == 2) {
					struct pb x = pb_sub(&s);
					pc.s = x.p;
					pc.len = (uint32_t)(x.end - x.p);
				} else if (g == 2 && w2 == 5) {
					pc.score = pb_float(&s);
				} else if (g == 3 && w2 == 0) {
					pc.type = (int)pb_varint(&s);
				} else {
					pb_skip(&s, w2);
				}
			}
			if (s.bad)
				b->bad = 1;
			if (*n == cap) {
				cap = cap ? cap * 2 : 1024;
				struct piece *np = realloc(*pieces, cap * sizeof *np);
				if (!np)
					return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
				*pieces = np;
			}
			(*pieces)[(*n)++] = pc;
		} else if ((f == 2 || f == 3) && w == 2) { /* trainer_spec, normalizer_spec */
			struct pb s = pb_sub(b);
			unsigned w2;
			uint32_t g;
			while ((g = pb_key(&s, &w2))) {
				if (f == 2 && w2 == 0 && (g == 3 || g == 35 || g == 24)) {
					uint64_t v = pb_varint(&s);
					if (g == 3)
						sp->model_type = (int)v;
					else if (g == 35)
						sp->byte_fallback = v != 0;
					else
						sp->ws_suffix = v != 0;
				} else if (f == 3 && w2 == 0 && g >= 3 && g <= 5) {
					int v = pb_varint(&s) != 0;
					if (g == 3)
						sp->dummy = v;
					else if (g == 4)
						sp->extra_ws = v;
					else
						sp->escape = v;
				} else if (f == 3 && w2 == 2 && (g == 1 || g == 2)) {
					struct pb x = pb_sub(&s);
					if (g == 1) {
						sp->name = x.p;
						sp->name_len = (size_t)(x.end - x.p);
					} else {
						sp->charsmap = x.p;
						sp->charsmap_len = (size_t)(x.end - x.p);
					}
				} else {
					pb_skip(&s, w2);
				}
			}
			if (s.bad)
				b->bad = 1;
		} else {
			pb_skip(b, w);
		}
	}
	return QT_OK;
}

static int cmp_float_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x > y ? -1 : x < y ? 1 : 0;
}

/* Dense rank of score among the sorted distinct scores (0 = highest). */
static uint32_t score_rank(const float *sorted, uint32_t n, float s)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t m = (lo + hi) / 2;
		if (sorted[m] > s)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* BPE merges: every split of every NORMAL piece into two NORMAL or USER_DEFINED pieces. */
static int bpe_merges(struct tokenizer *t, const struct piece *pc, uint32_t n)
{
	float *sc = malloc((n ? n : 1) * sizeof *sc);
	uint32_t m = 0, pairs = 0;
	if (!sc)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (pc[i].type == PIECE_NORMAL) {
			sc[m++] = pc[i].score;
			pairs += pc[i].len;
		}
	qsort(sc, m, sizeof *sc, cmp_float_desc);
	uint32_t d = 0;
	for (uint32_t i = 0; i < m; i++)
		if (d == 0 || sc[i] != sc[d - 1])
			sc[d++] = sc[i];
	if (tk_merge_init(t, pairs) != 0) {
		free(sc);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (pc[i].type != PIECE_NORMAL || tk_strmap_get(&t->vocab, (const char *)pc[i].s,
		                                                pc[i].len) != i)
			continue;
		uint32_t rank = score_rank(sc, d, pc[i].score);
		const char *s = (const char *)pc[i].s;
		for (uint32_t k = 1; k < pc[i].len; k++) {
			if (((unsigned char)s[k] & 0xC0) == 0x80)
				continue;
			uint32_t a = tk_strmap_get(&t->vocab, s, k);
			uint32_t b = tk_strmap_get(&t->vocab, s + k, pc[i].len - k);
			if (a == TK_NONE || b == TK_NONE ||
			    (pc[a].type != PIECE_NORMAL && pc[a].type != PIECE_USER) ||
			    (pc[b].type != PIECE_NORMAL && pc[b].type != PIECE_USER))
				continue;
			tk_merge_put(t, a, b, (uint64_t)rank << 32 | i);
		}
	}
	free(sc);
	return 0;
}

static int add_token(struct tokenizer *t, const struct piece *pc, uint32_t id, int special)
{
	struct tk_added *a = &t->added[t->n_added];
	memset(a, 0, sizeof *a);
	a->len = a->plen = pc->len;
	a->content = malloc(pc->len + 1);
	a->pattern = malloc(pc->len + 1);
	if (!a->content || !a->pattern) {
		free(a->content);
		free(a->pattern);
		return -1;
	}
	memcpy(a->content, pc->s, pc->len);
	memcpy(a->pattern, pc->s, pc->len);
	a->content[pc->len] = a->pattern[pc->len] = 0;
	a->id = id;
	a->special = (unsigned)special;
	t->n_added++;
	return 0;
}

/* The decoder transformers' converter gives these files: Replace U+2581 by a space,
 * ByteFallback, Fuse, and Strip one leading space when a dummy prefix was added. */
static int decoders(struct tokenizer *t, int dummy)
{
	t->has_decoder = 1;
	t->decs = calloc(4, sizeof *t->decs);
	if (!t->decs)
		return -1;
	struct tk_dec *d = t->decs;
	d[0].kind = TK_DEC_REPLACE;
	d[0].a = strdup("\xE2\x96\x81");
	d[0].b = strdup(" ");
	d[0].alen = 3;
	d[0].blen = 1;
	d[1].kind = TK_DEC_BYTEFALLBACK;
	d[2].kind = TK_DEC_FUSE;
	t->n_decs = 3;
	if (dummy) {
		t->n_decs = 4;
		d[3].kind = TK_DEC_STRIP;
		d[3].a = strdup(" ");
		d[3].alen = 1;
		d[3].start = 1;
		if (!d[3].a)
			return -1;
	}
	return d[0].a && d[0].b ? 0 : -1;
}

int tk_spm_model_load(struct tokenizer *t, const char *buf, size_t len, const char *path,
                      struct qt_err *err)
{
	struct pb b = { (const unsigned char *)buf, (const unsigned char *)buf + len, 0 };
	struct piece *pc = NULL;
	uint32_t n = 0;
	struct spec sp = { 1, 0, 0, 1, 1, 1, NULL, 0, NULL, 0 };
	int rc = parse(&b, &pc, &n, &sp, path, err);
	if (rc == QT_OK && (b.bad || n == 0))
		rc = qt_err_set(err, QT_EDATA, "%s: not a tokenizer.json (JSON) nor a SentencePiece "
		                "model (protobuf with pieces): %s", path, b.bad ?
		                "bad protobuf encoding" : "no pieces");
	if (rc == QT_OK && sp.model_type != 1 && sp.model_type != 2)
		rc = qt_err_set(err, QT_EDATA, "%s: trainer_spec.model_type %d is not supported (only "
		                "1 UNIGRAM and 2 BPE)", path, sp.model_type);
	if (rc == QT_OK && sp.charsmap_len) {
		char msg[160];
		if (tk_precompiled_init(&t->spm_map, sp.charsmap, sp.charsmap_len, msg,
		                        sizeof msg) != 0)
			rc = qt_err_set(err, QT_EDATA, "%s: normalizer_spec \"%.*s\": %s", path,
			                (int)sp.name_len, sp.name ? (const char *)sp.name : "", msg);
	}
	if (rc == QT_OK && (sp.ws_suffix || !sp.escape))
		rc = qt_err_set(err, QT_EDATA, "%s: %s is not supported", path, sp.ws_suffix ?
		                "trainer_spec.treat_whitespace_as_suffix" :
		                "normalizer_spec.escape_whitespaces false");
	size_t total = 0;
	uint32_t n_added = 0;
	for (uint32_t i = 0; rc == QT_OK && i < n; i++) {
		total += pc[i].len + 1;
		if (pc[i].type < PIECE_NORMAL || pc[i].type > PIECE_BYTE)
			rc = qt_err_set(err, QT_EDATA, "%s: pieces[%u] \"%.*s\": type %d is not supported",
			                path, i, (int)pc[i].len, (const char *)pc[i].s, pc[i].type);
		else if (pc[i].len == 0 || !isfinite(pc[i].score))
			rc = qt_err_set(err, QT_EDATA, "%s: pieces[%u]: empty piece or a score that is "
			                "not a number", path, i);
		n_added += pc[i].type == PIECE_CONTROL || pc[i].type == PIECE_USER;
		if (pc[i].type == PIECE_UNKNOWN)
			t->unk_id = i;
	}
	if (rc != QT_OK) {
		free(pc);
		return rc;
	}
	t->spm_kind = sp.model_type == 2 ? TK_SPM_BPE : TK_SPM_UNIGRAM;
	t->byte_fallback = sp.byte_fallback;
	t->fuse_unk = 1;
	t->spm_dummy = sp.dummy;
	t->spm_extra_ws = sp.extra_ws;
	t->blob = malloc(total);
	t->spm_score = malloc(n * sizeof *t->spm_score);
	t->spm_type = malloc(n);
	t->spm_off = malloc(n * sizeof *t->spm_off);
	t->spm_n = n;
	t->added = calloc(n_added ? n_added : 1, sizeof *t->added);
	t->steps = calloc(1, sizeof *t->steps);
	if (!t->blob || !t->spm_score || !t->spm_type || !t->spm_off || !t->added || !t->steps ||
	    tk_strmap_init(&t->vocab, n) != 0) {
		free(pc);
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	}
	char *p = t->blob;
	float min_score = INFINITY, max_score = -INFINITY;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(p, pc[i].s, pc[i].len);
		p[pc[i].len] = 0;
		pc[i].s = (const unsigned char *)p;
		t->spm_off[i] = (size_t)(p - t->blob);
		/* the first of a duplicated piece keeps it, as the library's map */
		if (tk_strmap_get(&t->vocab, p, pc[i].len) == TK_NONE &&
		    tk_strmap_put(&t->vocab, p, pc[i].len, i) != 0)
			rc = QT_ESOFTWARE;
		p += pc[i].len + 1;
		t->spm_score[i] = pc[i].score;
		t->spm_type[i] = (uint8_t)pc[i].type;
		if (pc[i].type == PIECE_NORMAL) {
			if (pc[i].score < min_score)
				min_score = pc[i].score;
			if (pc[i].score > max_score)
				max_score = pc[i].score;
			if (pc[i].len > t->spm_max_len)
				t->spm_max_len = pc[i].len;
		}
		if ((pc[i].type == PIECE_CONTROL || pc[i].type == PIECE_USER) &&
		    add_token(t, &pc[i], i, pc[i].type == PIECE_CONTROL) != 0)
			rc = QT_ESOFTWARE;
	}
	t->vocab_count = n;
	/* the library's kUnkPenalty: an unknown character scores min_score - 10 */
	t->spm_unk_score = (min_score == INFINITY ? 0.0f : min_score) - 10.0f;
	if (rc == QT_OK && t->spm_kind == TK_SPM_BPE && bpe_merges(t, pc, n) != 0)
		rc = QT_ESOFTWARE;
	free(pc);
	if (rc != QT_OK || decoders(t, sp.dummy) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	for (unsigned c = 0; c < 256; c++) {
		char u[8];
		snprintf(u, sizeof u, "<0x%02X>", c);
		t->fallback_id[c] = tk_strmap_get(&t->vocab, u, 6);
		if (t->fallback_id[c] != TK_NONE && t->spm_type[t->fallback_id[c]] != PIECE_BYTE)
			t->fallback_id[c] = TK_NONE;
		t->byte_id[c] = TK_NONE;
	}
	/* spaces to U+2581; the dummy prefix is added by tokenizer_encode */
	struct tk_step *st = &t->steps[0];
	st->kind = TK_METASPACE;
	memcpy(st->repl, "\xE2\x96\x81", 4);
	st->repl_len = 3;
	st->prepend = TK_PREPEND_NEVER;
	t->n_steps = 1;
	if (!(t->pp_unsupported = strdup("none (a tokenizer.model has no post-processor)")))
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	/* Viterbi sums scores in float along the whole input: its ties depend on the running
	 * total, so a Unigram word is never cut into parts */
	if (t->spm_kind == TK_SPM_BPE)
		tk_bpe_parts_init(t);
	return QT_OK;
}

void tokenizer_spm_get(const struct tokenizer *t, struct tokenizer_spm *out)
{
	memset(out, 0, sizeof *out);
	if (t->spm_kind == TK_SPM_NONE)
		return;
	out->model_type = t->spm_kind == TK_SPM_BPE ? 2 : 1;
	out->n_pieces = t->spm_n;
	out->byte_fallback = t->byte_fallback;
	out->add_dummy_prefix = t->spm_dummy;
	out->remove_extra_whitespaces = t->spm_extra_ws;
	out->has_charsmap = t->spm_map.units != NULL;
}

const char *tokenizer_spm_piece(const struct tokenizer *t, uint32_t id, size_t *len,
                                float *score, int *type)
{
	if (t->spm_kind == TK_SPM_NONE || id >= t->spm_n)
		return NULL;
	const char *s = t->blob + t->spm_off[id];
	*len = strlen(s);
	*score = t->spm_score[id];
	*type = t->spm_type[id];
	return s;
}
