/* qlora-tools: ISC license. */
/*
 * jieba 0.42.1 word segmentation, default mode: jieba.cut(s, cut_all=False, HMM=True), token
 * for token. The prefix dictionary (dict.txt) and the HMM tables (finalseg/prob_*.py) are read
 * at run time from the files Debian's python3-jieba installs (or others of the same format); no
 * data is compiled in. Semantics: the project notes reference.md section 9.6, and man/man1/rouge-zh.1.
 *
 * Not here: cut_all, HMM=False, user-dictionary add_word/suggest_freq, paddle mode.
 */
#ifndef QT_METRICS_JIEBA_H
#define QT_METRICS_JIEBA_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Where Debian's python3-jieba puts its data; QT_JIEBA_DIR in the environment overrides it. */
#define JIEBA_DIR_DEFAULT "/usr/lib/python3/dist-packages/jieba"

struct jieba;

/*
 * Loads the dictionary dict_path (jieba's dict.txt format: "word freq [tag]" per line) and the
 * HMM tables from hmm_dir (prob_start.py, prob_trans.py, prob_emit.py). Either path may be NULL
 * for the default (jieba_default_dir()/dict.txt, jieba_default_dir()/finalseg). Returns NULL
 * with err set: QT_ENOINPUT when a file cannot be read, QT_EDATA ("file:line: what") when a file
 * does not parse. The result is immutable and may be shared by threads.
 */
struct jieba *jieba_load(const char *dict_path, const char *hmm_dir, struct qt_err *err);
void jieba_free(struct jieba *j);

/* $QT_JIEBA_DIR if set, else JIEBA_DIR_DEFAULT. */
const char *jieba_default_dir(void);

/* Number of FREQ keys (words and their prefixes) and the frequency total, for diagnostics. */
size_t jieba_n_keys(const struct jieba *j);
int64_t jieba_total(const struct jieba *j);

/*
 * Per-thread working memory for jieba_cut; zero-initialise, free with jieba_scratch_free.
 */
struct jieba_scratch {
	uint32_t *cp;      /* code points of the text */
	uint32_t *off;     /* byte offset of each code point, plus the end */
	double   *rv;      /* route values */
	int32_t  *rx;      /* route ends */
	double   *v;       /* Viterbi scores, 4 per position */
	uint8_t  *bp;      /* Viterbi back-pointers, 4 per position */
	size_t    cap, vcap;
};
void jieba_scratch_free(struct jieba_scratch *s);

/*
 * Token boundaries of one text: the tokens are s[end[i-1] .. end[i]) (end[-1] = 0), byte
 * offsets; jieba's tokens always tile the input. The caller owns the array (realloc'd here).
 */
struct jieba_tokens {
	size_t  n, cap;
	size_t *end;
};
void jieba_tokens_free(struct jieba_tokens *t);

/*
 * Segments s[0..n) (valid UTF-8; the caller checks) exactly as jieba.cut(s) does and appends
 * the token ends to out (out->n is reset first). Returns QT_OK, or QT_ESOFTWARE when memory
 * runs out.
 */
int jieba_cut(const struct jieba *j, const char *s, size_t n, struct jieba_tokens *out,
              struct jieba_scratch *sc);

/* ---- character classes (shared with rouge.c) ---- */

/* Python str.isspace() / re's \s for str patterns. */
int jieba_is_space(uint32_t c);
/* Decodes one code point of valid UTF-8 at s; returns its length in bytes. */
int jieba_utf8_next(const unsigned char *s, uint32_t *cp);

#endif
