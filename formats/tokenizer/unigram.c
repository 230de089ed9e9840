/* qlora-tools: ISC license. */
/*
 * Unigram segmentation of a SentencePiece tokenizer.model, as the library's
 * UnigramModel::EncodeOptimized: a left-to-right Viterbi over the byte positions of the word,
 * NORMAL pieces scoring their score and an unknown character (no piece of exactly that one
 * character starts there) min_score - 10; a node keeps the first best path it is offered (the
 * library compares in double and stores in float, so this does too). Unknown pieces then
 * become <0xHH> pieces with byte_fallback, or one unknown id per run (fuse_unk).
 * A tokenizer.json Unigram (hf_unigram, unigram_json.c) is HF's encode_optimized: the same
 * walk with every piece matching and double sums.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

/* score: a float sum for a tokenizer.model (exact in double), a double sum for HF */
struct node { double score; int32_t start; uint32_t id; };

uint32_t tk_unigram_word(struct tk_scratch *s, const char *w, size_t n)
{
	const struct tokenizer *t = s->t;
	struct tk_arena_mark mark = tk_arena_mark(s);
	struct node *nd = tk_arena_alloc(s, (n + 1) * sizeof *nd);
	if (!nd || tk_sym_reserve(s, n + 1) != 0) {
		s->oom = 1;
		return 0;
	}
	for (size_t i = 0; i <= n; i++)
		nd[i] = (struct node){ 0.0, -1, TK_NONE };
	for (size_t at = 0; at < n;) {
		size_t cl;
		tk_utf8_next((const unsigned char *)w + at, &cl);
		if (cl > n - at)
			cl = n - at;
		double here = nd[at].score;
		int single = 0;
		size_t max = n - at < t->spm_max_len ? n - at : t->spm_max_len;
		for (size_t len = 1; len <= max; len++) {
			if (at + len < n && ((unsigned char)w[at + len] & 0xC0) == 0x80)
				continue; /* pieces end on character boundaries */
			if (t->hf_unigram && tk_strmap_get(&t->uni_prefix, w + at, len) == TK_NONE)
				break; /* no piece starts with these bytes: none longer either */
			uint32_t id = tk_strmap_get(&t->vocab, w + at, len);
			if (id == TK_NONE || t->spm_type[id] != 1)
				continue;
			struct node *e = &nd[at + len];
			double cand = t->hf_unigram ? t->uni_score[id] + here
			                            : (double)(t->spm_score[id] + (float)here);
			if (e->start < 0 || cand > e->score) {
				e->score = cand;
				e->start = (int32_t)at;
				e->id = id;
			}
			single |= len == cl;
		}
		if (!single) {
			struct node *e = &nd[at + cl];
			double cand = t->hf_unigram ? t->uni_unk_score + here
			                            : (double)(t->spm_unk_score + (float)here);
			if (e->start < 0 || cand > e->score) {
				e->score = cand;
				e->start = (int32_t)at;
				e->id = t->unk_id;
			}
		}
		at += cl;
	}
	/* backtrack: pieces in reverse into the end of s->sym's room, then forwards */
	uint32_t m = 0;
	for (size_t end = n; end > 0 && nd[end].start >= 0; end = (size_t)nd[end].start)
		m++;
	uint32_t *tmp = tk_arena_alloc(s, (m + 1) * sizeof *tmp);
	int32_t *from = tk_arena_alloc(s, (m + 1) * sizeof *from);
	if (!tmp || !from) {
		s->oom = 1;
		tk_arena_release(s, mark);
		return 0;
	}
	uint32_t k = m;
	for (size_t end = n; end > 0 && nd[end].start >= 0; end = (size_t)nd[end].start) {
		k--;
		tmp[k] = nd[end].id;
		from[k] = nd[end].start;
	}
	uint32_t o = 0;
	int prev_unk = 0;
	for (uint32_t i = 0; i < m; i++) {
		size_t a = (size_t)from[i], b = i + 1 < m ? (size_t)from[i + 1] : n;
		if (t->hf_unigram && tmp[i] == t->unk_id) {
			/* HF: a run of unknown nodes (a matched unknown piece among them) is one
			 * string, looked up whole, else its bytes with byte_fallback, else unk_id */
			uint32_t j = i;
			while (j + 1 < m && tmp[j + 1] == t->unk_id)
				j++;
			b = j + 1 < m ? (size_t)from[j + 1] : n;
			uint32_t id = tk_strmap_get(&t->vocab, w + a, b - a);
			size_t k = a;
			while (id == TK_NONE && t->byte_fallback && k < b &&
			       t->fallback_id[(unsigned char)w[k]] != TK_NONE)
				k++;
			if (id == TK_NONE && t->byte_fallback && k == b)
				for (k = a; k < b; k++)
					s->sym[o++] = t->fallback_id[(unsigned char)w[k]];
			else
				s->sym[o++] = id != TK_NONE ? id : t->unk_id;
			i = j;
			continue;
		}
		if (tmp[i] != TK_NONE && tmp[i] != t->unk_id) {
			s->sym[o++] = tmp[i];
			prev_unk = 0;
			continue;
		}
		if (t->byte_fallback) {
			size_t j = a;
			while (j < b && t->fallback_id[(unsigned char)w[j]] != TK_NONE)
				j++;
			if (j == b) {
				for (j = a; j < b; j++)
					s->sym[o++] = t->fallback_id[(unsigned char)w[j]];
				prev_unk = 0;
				continue;
			}
		}
		if (tmp[i] == TK_NONE)
			continue; /* no unknown piece: dropped */
		if (!prev_unk || !t->fuse_unk)
			s->sym[o++] = tmp[i];
		prev_unk = 1;
	}
	tk_arena_release(s, mark);
	return o;
}
