/* qlora-tools: ISC license. */
/*
 * rouge_chinese 1.0.3 Rouge().get_scores(hyp, ref)[0][m]["f"] for m = rouge-1, rouge-2, rouge-l
 * (defaults: exclusive=True sets for ROUGE-N, plain LCS of the flat word lists for ROUGE-L), on
 * texts given as a token list that is joined with single spaces, as ChatGLM's compute_metrics
 * does with ' '.join(jieba.cut(text)). Reference: reference.md 9.5.
 */
#ifndef QT_METRICS_ROUGE_H
#define QT_METRICS_ROUGE_H

#include <stddef.h>
#include <stdint.h>

/* One side's words after cut_sent and whitespace normalisation (code-point slices of buf). */
struct rouge_words {
	uint32_t *buf, *tmp;     /* the joined, sentence-cut text (tmp: ping-pong buffer) */
	size_t    buf_cap;
	uint32_t *ws, *wl;       /* start and length of each word in buf */
	size_t    n, cap;
	size_t    n_pieces;      /* kept sentences; 0 = rouge_chinese raises "... is empty." */
};

/* Working memory shared by both sides of one pair (zero-initialise; free when done). */
struct rouge_scratch {
	struct rouge_words hyp, ref;
	uint32_t *id;            /* word ids: hyp words, then ref words */
	size_t    id_cap;
	uint32_t *tab;           /* intern table: slot → word index + 1 */
	size_t    tab_cap;
	uint64_t *keys;          /* bigram keys */
	size_t    keys_cap;
	uint32_t *row;           /* LCS row */
	uint8_t  *mark;
	size_t    row_cap, mark_cap;
};
void rouge_scratch_free(struct rouge_scratch *s);

/*
 * Builds w from text[0..n) (valid UTF-8) cut into tokens ending at byte offsets tok_end[0..n_tok)
 * (tiling the text): ' '.join(tokens), then cut_sent (four re.sub passes), rstrip, split('\n'),
 * pieces of length > 0 kept, each normalised by " ".join(piece.split()) and split(" ").
 * Returns 0, or -1 when memory runs out. w->n_pieces == 0 means the text is empty for ROUGE.
 */
int rouge_words_build(struct rouge_words *w, const char *text, size_t n, const size_t *tok_end,
                      size_t n_tok);

/*
 * F scores of the words already in s->hyp and s->ref (both with n_pieces > 0):
 * f[0] rouge-1, f[1] rouge-2, f[2] rouge-l, each 2.0 * ((p * r) / (p + r + 1e-8)).
 * Returns 0, or -1 when memory runs out.
 */
int rouge_score(struct rouge_scratch *s, double f[3]);

#endif
