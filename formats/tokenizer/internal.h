/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in tokenizer(5). */
/*
 * Internals of formats/tokenizer*.c, shared between its files and by nobody else. The public
 * API is formats/tokenizer.h. A struct tokenizer is built once by tokenizer_load and is
 * read-only afterwards; everything an encode call mutates lives in a per-thread struct
 * tk_scratch (encode.c).
 */
#ifndef QT_FORMATS_TOKENIZER_INTERNAL_H
#define QT_FORMATS_TOKENIZER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "common/err.h"
#include "formats/tokenizer.h"

#define TK_NONE 0xFFFFFFFFu

/* ---- string -> id map (open addressing over an id table) ---- */

struct tk_strmap {
	uint32_t *slot;   /* TK_NONE = empty, else an index into str/len/val */
	uint32_t  mask;   /* slots - 1 (power of two) */
	uint32_t  n, cap; /* entries */
	const char **str; /* key bytes (borrowed: they live in the tokenizer's blob) */
	uint32_t *len;
	uint32_t *val;
};

int tk_strmap_init(struct tk_strmap *m, uint32_t expect);
void tk_strmap_free(struct tk_strmap *m);
/* Inserts or overwrites key -> val (the later value wins, as serde's map). -1 on ENOMEM. */
int tk_strmap_put(struct tk_strmap *m, const char *s, uint32_t len, uint32_t val);
/* Value of key, or TK_NONE. */
uint32_t tk_strmap_get(const struct tk_strmap *m, const char *s, size_t len);

/* ---- pieces of the pipeline ---- */

enum tk_behavior { TK_REMOVED, TK_ISOLATED, TK_MERGED_PREV, TK_MERGED_NEXT, TK_CONTIGUOUS };
enum tk_step_kind { TK_SPLIT, TK_BYTELEVEL, TK_DIGITS, TK_METASPACE };
/* Metaspace prepend_scheme (HF PrependScheme). */
enum tk_prepend { TK_PREPEND_NEVER, TK_PREPEND_FIRST, TK_PREPEND_ALWAYS };

struct tk_step {
	enum tk_step_kind kind;
	pcre2_code *re;       /* SPLIT; BYTELEVEL with use_regex (the shared GPT-2 regex) */
	enum tk_behavior behavior;
	int invert;
	int add_prefix_space; /* BYTELEVEL */
	int individual_digits; /* DIGITS */
	int lazy_bytes;       /* BYTELEVEL as last step: the model maps bytes itself */
	char repl[5];         /* METASPACE: the replacement character (UTF-8, NUL-ended) */
	uint32_t repl_len;
	enum tk_prepend prepend; /* METASPACE */
	int split;            /* METASPACE: split before each replacement character */
};

/* One normalizer of the (flattened) normalizer Sequence, applied in order. */
enum tk_norm_kind { TK_NORM_NFC, TK_NORM_PREPEND, TK_NORM_REPLACE, TK_NORM_STRIP,
                    TK_NORM_REPLACE_RE, TK_NORM_PRECOMPILED };
struct tk_norm {
	enum tk_norm_kind kind;
	char    *a, *b;       /* PREPEND: a = the prefix; REPLACE: every a becomes b;
	                       * REPLACE_RE: every match of re becomes b */
	uint32_t alen, blen;
	int left, right;      /* STRIP: which ends lose their white space */
	pcre2_code *re;       /* REPLACE_RE */
	uint32_t *units;      /* PRECOMPILED: the double-array trie (precompiled.c) */
	uint32_t n_units, norm_len;
	char    *norm;        /* PRECOMPILED: the normalized strings, NUL-separated */
};

/* One decoder of the (flattened) decoder Sequence, applied in order to the token strings. */
enum tk_dec_kind { TK_DEC_BYTELEVEL, TK_DEC_REPLACE, TK_DEC_BYTEFALLBACK, TK_DEC_FUSE,
                   TK_DEC_STRIP, TK_DEC_METASPACE };
struct tk_dec {
	enum tk_dec_kind kind;
	char    *a, *b;       /* REPLACE: every a becomes b; STRIP, METASPACE: a = the character */
	uint32_t alen, blen;
	uint32_t start, stop; /* STRIP: at most this many characters off each end */
	int prepend;          /* METASPACE: prepend_scheme is not "never" */
};

struct tk_added {
	char    *content;     /* as in the JSON */
	uint32_t len;
	char    *pattern;     /* what is matched: content, or its normalized form */
	uint32_t plen;
	uint32_t id;
	unsigned special:1, lstrip:1, rstrip:1, single_word:1, normalized:1;
};

/* Leftmost-longest matcher over a subset of the added tokens. */
struct tk_matcher {
	uint32_t *idx;        /* added-token indices sorted by first byte, then length desc */
	uint32_t  n;
	uint32_t  first[257]; /* idx[first[b] .. first[b+1]) start with byte b */
	int       one_byte;   /* the single first byte when all share one, else -1 */
	int       all_special; /* every token here is special */
};

struct tokenizer {
	uint64_t fingerprint;
	char    *blob;        /* all vocab strings, NUL-separated */
	uint32_t n_ids;       /* max id + 1 over vocab and added tokens */
	const char **id_str;  /* id -> token string (added content wins), NULL if none */
	uint32_t *id_len;
	uint8_t  *id_flags;   /* TK_ID_SPECIAL: string is a special added token's content */

	/* model */
	struct tk_strmap vocab;
	uint32_t vocab_count;  /* entries in model.vocab (HF get_vocab_size) */
	uint64_t *merge_key;   /* open addressing: (a << 32 | b) + 1, 0 = empty */
	uint64_t *merge_val;   /* rank << 32 | new_id */
	uint32_t  merge_mask;
	uint32_t  byte_id[256]; /* id of the byte-level char of each byte, TK_NONE if absent */
	uint32_t  fallback_id[256]; /* id of "<0xHH>", TK_NONE if absent */
	uint32_t  unk_id;      /* TK_NONE when unk_token is null */
	char     *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix, or NULL */
	uint32_t  prefix_len, suffix_len;
	int fuse_unk, byte_fallback, ignore_merges;
	int spm_parts;         /* words may be cut before U+2581 (tk_bpe_parts_init) */

	/* a SentencePiece tokenizer.model (spm_model.c) */
	enum { TK_SPM_NONE, TK_SPM_BPE, TK_SPM_UNIGRAM } spm_kind;
	int spm_dummy;         /* add_dummy_prefix: U+2581 before the input */
	int spm_extra_ws;      /* remove_extra_whitespaces: strip and squeeze ' ' first */
	float *spm_score;      /* per piece */
	uint8_t *spm_type;     /* per piece: 1 NORMAL ... 6 BYTE */
	size_t *spm_off;       /* per piece: its string's offset in blob */
	uint32_t spm_n;        /* pieces */
	uint32_t spm_max_len;  /* longest NORMAL piece, bytes */
	float spm_unk_score;   /* Unigram: an unknown character's score */
	struct tk_norm spm_map; /* normalizer_spec.precompiled_charsmap (units NULL: identity) */
	/* a tokenizer.json Unigram model (unigram_json.c): every piece may match, scores summed
	 * in double as HF does (its spm_kind stays TK_SPM_NONE: no tokenizer.model pipeline) */
	int hf_unigram;
	double *uni_score;     /* per piece */
	double uni_unk_score;  /* min score - 10 */
	struct tk_strmap uni_prefix; /* every prefix of a piece at a character boundary: the
	                              * Viterbi stops extending where none is (HF's trie walk) */

	/* normalizer */
	struct tk_norm *norms;
	uint32_t n_norms;
	int nfc;               /* one of them is NFC (its tables are built) */

	/* pre-tokenizer */
	struct tk_step *steps;
	uint32_t n_steps;

	/* added tokens */
	struct tk_added *added;
	uint32_t n_added;
	struct tk_matcher raw, norm; /* normalized:false / normalized:true tokens */

	/* decoder: none (n_decs 0 and !has_decoder: tokens joined with " ") or these steps */
	struct tk_dec *decs;
	uint32_t n_decs;
	int has_decoder;

	/* post-processor (TOKENIZER_ADD_SPECIAL): ids before and after the sequence */
	uint32_t *pp_ids;      /* pp_n_before ids, then pp_n_after */
	uint32_t pp_n_before, pp_n_after;
	char *pp_unsupported;  /* a post_processor type that add_special cannot apply, or NULL */

	/* per-thread scratch */
	pthread_key_t key;
	pthread_mutex_t lock;
	struct tk_scratch *scratch_list;
};

#define TK_ID_SPECIAL 1u

/* ---- per-thread scratch (encode.c) ---- */

struct tk_arena_block {
	struct tk_arena_block *next;
	size_t size, used;
	char data[];
};

struct tk_cache_entry {
	uint64_t hash;        /* 0 = empty */
	uint8_t  len, n;      /* key bytes, ids */
	char     key[22];
	uint32_t ids[8];
};
#define TK_CACHE_SLOTS 8192
#define TK_CACHE_KEY   22
#define TK_CACHE_IDS   8

struct tk_scratch {
	const struct tokenizer *t;
	struct tk_scratch *link_next, *link_prev; /* t->scratch_list */
	struct tk_arena_block *head, *cur;
	pcre2_match_data *md;
	pcre2_jit_stack *jit_stack;
	pcre2_match_context *mctx;
	/* BPE word state */
	uint32_t *sym, *rank, *nid;  /* compact arrays (rank scan) */
	int32_t  *prev, *next;       /* linked list (heap path) */
	uint64_t *heap;
	size_t    sym_cap, heap_cap;
	char     *buf;               /* mapped word / lookups */
	size_t    buf_cap;
	struct tk_cache_entry *cache;
	/* output of the current call */
	struct tok_ids *out;
	int flags;
	int oom;
	const char *input;           /* the text tokenizer_encode was given */
	const char *orig0;           /* the normalized piece that starts at original offset 0 */
	int lead_cut;                /* tk_normalize dropped characters at the piece's start */
};

struct tk_arena_mark { struct tk_arena_block *b; size_t used; };
void *tk_arena_alloc(struct tk_scratch *s, size_t n);
struct tk_arena_mark tk_arena_mark(const struct tk_scratch *s);
void tk_arena_release(struct tk_scratch *s, struct tk_arena_mark m);
/* Appends one id to s->out; sets s->oom on failure. */
void tk_emit(struct tk_scratch *s, uint32_t id);

/* ---- bpe.c ---- */
int tk_model_load(struct tokenizer *t, json_t *model, const char *path, struct qt_err *err);
/* BPE on one pre-token; bytes says the word is raw text whose bytes are still to be mapped
 * through the ByteLevel table (the ByteLevel pre-tokenizer was the last step). */
void tk_bpe_word(struct tk_scratch *s, const char *w, size_t n, int bytes);
void tk_model_free(struct tokenizer *t);
/* Sets t->spm_parts: no vocabulary string has U+2581 after another character (and no
 * prefix, suffix or ignore_merges), so BPE on a word equals BPE on its parts cut before each
 * U+2581 that follows another character. */
void tk_bpe_parts_init(struct tokenizer *t);
/* The merge table for n merges (-1 on ENOMEM), and one merge a b -> rank << 32 | new id. */
int tk_merge_init(struct tokenizer *t, size_t n);
void tk_merge_put(struct tokenizer *t, uint32_t a, uint32_t b, uint64_t val);

/* ---- spm_model.c, unigram.c ---- */
/* Reads a SentencePiece model (protobuf) from buf into t; QT_EDATA naming what is refused. */
int tk_spm_model_load(struct tokenizer *t, const char *buf, size_t len, const char *path,
                      struct qt_err *err);
/* The library's Viterbi segmentation of w[0..n) into s->sym; returns the id count. */
uint32_t tk_unigram_word(struct tk_scratch *s, const char *w, size_t n);
/* Room for n symbols in s->sym (and the BPE work arrays beside it); -1 on ENOMEM. */
int tk_sym_reserve(struct tk_scratch *s, size_t n);

/* ---- pretok.c ---- */
int tk_pretok_load(struct tokenizer *t, json_t *pt, const char *path, struct qt_err *err);
/* Runs the pre-tokenizer steps on one piece and the model on every resulting word. */
void tk_pretok_run(struct tk_scratch *s, const char *p, size_t n);
void tk_pretok_free(struct tokenizer *t);
/* Metaspace's prepend_scheme, or the older add_prefix_space (true = "always"; both present
 * must agree, and false alone disagrees with the default "always", as HF's reader says). */
int tk_json_prepend_scheme(json_t *o, const char *field, const char *path,
                           enum tk_prepend *out, struct qt_err *err);
/* Compiles an Oniguruma-syntax pattern with PCRE2 (translating \s, \h, \w); NULL + err. */
pcre2_code *tk_regex_compile(const char *pat, size_t len, char *msg, size_t msgsz);
/* The GPT-2 regex of the ByteLevel pre-tokenizer (compiled once per process). */
pcre2_code *tk_gpt2_regex(void);

/* ---- normalize.c ---- */
int tk_normalizer_load(struct tokenizer *t, json_t *nz, const char *path, struct qt_err *err);
void tk_normalizer_free(struct tokenizer *t);
/* The literal of a Replace's "pattern" ({"String": s}) as a malloc'd copy; a {"Regex": ...}
 * pattern is refused (QT_EDATA naming field). */
int tk_json_pattern(json_t *o, const char *field, const char *path, char **out, uint32_t *len,
                    struct qt_err *err);
/* A malloc'd copy of the JSON string o[k] (its length in *len); QT_EDATA if it is missing or
 * not a string, or if one_char and it is not exactly one character. */
int tk_json_str(json_t *o, const char *k, int one_char, const char *field, const char *path,
                char **out, uint32_t *len, struct qt_err *err);
/* Normalizes p[0..n): returns p itself when unchanged, else a string in the arena (*outn). */
const char *tk_normalize(struct tk_scratch *s, const char *p, size_t n, size_t *outn);
/* Same for load-time use: a malloc'd string (NULL on ENOMEM); t NULL: a plain copy. */
char *tk_normalize_dup(const struct tokenizer *t, const char *p, size_t n, size_t *outn);

/* ---- precompiled.c ---- */
/* Reads a decoded precompiled_charsmap into z; -1 with msg when it is malformed or ENOMEM. */
int tk_precompiled_init(struct tk_norm *z, const unsigned char *blob, size_t n, char *msg,
                        size_t msgsz);
/* HF's Precompiled normalizer on p[0..n): p itself when unchanged, a malloc'd string, or NULL
 * on ENOMEM. */
char *tk_precompiled_apply(const struct tk_norm *z, const char *p, size_t n, size_t *outn);
/* The sentencepiece library's Normalizer on p[0..n) (a tokenizer.model's charsmap): at each
 * position the longest key replaced, else one character kept (a byte that is not UTF-8:
 * U+FFFD). Returns as tk_precompiled_apply. */
char *tk_precompiled_apply_spm(const struct tk_norm *z, const char *p, size_t n, size_t *outn);

/* ---- unigram_json.c ---- */
/* A tokenizer.json model of type "Unigram" into t (HF's Unigram: vocab [piece, score] pairs,
 * unk_id, byte_fallback); QT_EDATA naming what is refused. */
int tk_unigram_load(struct tokenizer *t, json_t *m, const char *path, struct qt_err *err);

/* ---- added.c ---- */
int tk_added_load(struct tokenizer *t, json_t *arr, const char *path, struct qt_err *err);
int tk_added_build(struct tokenizer *t);
/* Splits p[0..n) at matches of m; matches become ids, the gaps go to the next stage. */
void tk_added_split(struct tk_scratch *s, const struct tk_matcher *m, const char *p, size_t n,
                    int normalized_stage);
void tk_added_free(struct tokenizer *t);
/* The whole pipeline on one input: added tokens, normalizer, pre-tokenizer, model. */
void tk_added_run(struct tk_scratch *s, const char *p, size_t n);

/* ---- decode.c ---- */
int tk_decoder_load(struct tokenizer *t, json_t *d, const char *path, struct qt_err *err);
void tk_decoder_free(struct tokenizer *t);

/* ---- postproc.c ---- */
int tk_postproc_load(struct tokenizer *t, json_t *pp, const char *path, struct qt_err *err);
void tk_postproc_free(struct tokenizer *t);

/* ---- encode.c ---- */
void tk_scratch_destroy(struct tk_scratch *s);
void tk_scratch_thread_exit(void *s);

/* ---- utf8 helpers (normalize.c) ---- */
/* Decodes one code point of valid UTF-8 at p; its length in *len. */
static inline uint32_t tk_utf8_next(const unsigned char *p, size_t *len)
{
	uint32_t c = p[0];
	if (c < 0x80) { *len = 1; return c; }
	if (c < 0xE0) { *len = 2; return ((c & 0x1F) << 6) | (p[1] & 0x3F); }
	if (c < 0xF0) {
		*len = 3;
		return ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
	}
	*len = 4;
	return ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
	       ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}
/* Rust char::is_numeric (general category Nd, Nl, No). */
int tk_is_numeric(uint32_t c);
/* Unicode White_Space (Rust regex \s, Oniguruma \s). */
int tk_is_space(uint32_t c);
/* Rust regex \w (Unicode): alphabetic, marks, Nd, Pc, join controls. */
int tk_is_word(uint32_t c);

#endif
