/* qlora-tools: ISC license. */
/*
 * HuggingFace tokenizer.json (BPE models) loaded and run exactly as HF `tokenizers` does:
 * added tokens, normalizers, pre-tokenizers, BPE, post-processor, decoders; byte-level
 * (GPT-2, Llama-3, Qwen) and SentencePiece-style (Llama-2, Mistral, Phi-3, Gemma) files. See tokenizer(5) and
 * reference.md section 1. A loaded tokenizer is immutable: encode/decode may run on many
 * threads at once.
 */
#ifndef QT_FORMATS_TOKENIZER_H
#define QT_FORMATS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct tokenizer;

/* A growable id array; zero-initialize, free with free(ids.v). */
struct tok_ids {
	uint32_t *v;
	size_t    n, cap;
};

/* Flags for tokenizer_encode. */
enum {
	/* Special added tokens are not matched (HF split_special_tokens / encode_special_tokens):
	 * user content that contains "<|im_start|>" is encoded as text. Non-special added tokens
	 * are still matched, as HF does. */
	TOKENIZER_TEXT_ONLY = 1 << 0,
	/* The text continues an input that started earlier (it follows a special token in one
	 * rendered conversation): it does not start at offset 0, so a Metaspace pre-tokenizer
	 * with prepend_scheme "first" prepends nothing to it, as HF does for that part of the
	 * whole input. */
	TOKENIZER_CONTINUE = 1 << 1,
	/* Adds what the post_processor adds around a single sequence (HF encode with
	 * add_special_tokens=True): the <s> of Llama-2's TemplateProcessing, Llama-3's
	 * <|begin_of_text|>. QT_EDATA for a post_processor type that is not supported. */
	TOKENIZER_ADD_SPECIAL = 1 << 2,
};

/* Loads path: a tokenizer.json, or a SentencePiece tokenizer.model (protobuf; BPE and Unigram
 * models, identity normalization). QT_ENOINPUT if unreadable; QT_EDATA with "path: field:
 * reason" for JSON errors and for unsupported components (the message names the JSON field
 * and its type value). */
int tokenizer_load(const char *path, struct tokenizer **out, struct qt_err *err);
/* The tokenizer file a -t argument means: path itself unless it is a directory, then its
 * tokenizer.json, or its tokenizer.model when only that exists (a SentencePiece model, read by
 * tokenizer_load as the sentencepiece library encodes). malloc'd; NULL on ENOMEM. */
char *tokenizer_path_in_dir(const char *path);
void tokenizer_free(struct tokenizer *t);

/* Appends the ids of text[0..len) to out, as HF encode(text, add_special_tokens=False)
 * (or True with TOKENIZER_ADD_SPECIAL). text must be valid UTF-8 (the caller checks).
 * Returns QT_OK, QT_ESOFTWARE (memory) or QT_EDATA (TOKENIZER_ADD_SPECIAL refused). */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, int flags,
                     struct tok_ids *out, struct qt_err *err);

/* Decodes ids as HF decode(ids, skip_special_tokens): a malloc'd NUL-terminated UTF-8 string
 * (invalid byte sequences replaced by U+FFFD as Rust's from_utf8_lossy), length in *len. */
int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n,
                     int skip_special, char **out, size_t *len, struct qt_err *err);

/* Id of a token's exact content (added tokens first, then the model vocab), or -1. */
int64_t tokenizer_token_id(const struct tokenizer *t, const char *content);
/* Content of id (not byte-decoded), or NULL when id is unknown. */
const char *tokenizer_token_str(const struct tokenizer *t, uint32_t id);
/* 1 if id is an added token marked special. */
int tokenizer_is_special(const struct tokenizer *t, uint32_t id);
/* How an added token matches (HF AddedToken): TOKENIZER_ADDED_* bits; 0 for other ids. */
enum {
	TOKENIZER_ADDED_LSTRIP      = 1 << 0, /* swallows the whitespace before it */
	TOKENIZER_ADDED_RSTRIP      = 1 << 1, /* swallows the whitespace after it */
	TOKENIZER_ADDED_SINGLE_WORD = 1 << 2, /* matches only between non-word characters */
	TOKENIZER_ADDED_NORMALIZED  = 1 << 3, /* matched in the normalized text */
};
unsigned tokenizer_added_flags(const struct tokenizer *t, uint32_t id);
/* What a SentencePiece tokenizer.model holds beyond the vocabulary (export-gguf writes it as
 * llama.cpp's "llama" vocabulary). model_type 0 for a tokenizer.json. */
struct tokenizer_spm {
	int      model_type;        /* trainer_spec.model_type: 1 UNIGRAM, 2 BPE; 0: none */
	uint32_t n_pieces;
	int      byte_fallback;     /* trainer_spec.byte_fallback */
	int      add_dummy_prefix;  /* normalizer_spec */
	int      remove_extra_whitespaces;
	int      has_charsmap;      /* a non-empty precompiled_charsmap (not the identity) */
};
void tokenizer_spm_get(const struct tokenizer *t, struct tokenizer_spm *out);
/* Piece id of a tokenizer.model: its string (NUL-terminated; *len bytes), and in *score and
 * *type its score and type (1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE).
 * NULL for a tokenizer.json or an id beyond the pieces. */
const char *tokenizer_spm_piece(const struct tokenizer *t, uint32_t id, size_t *len,
                                float *score, int *type);
/* One more than the largest id (model vocab and added tokens). */
uint32_t tokenizer_vocab_size(const struct tokenizer *t);
/* XXH3-64 of the tokenizer.json bytes: identifies the tokenizer in .tok and .pack files. */
uint64_t tokenizer_fingerprint(const struct tokenizer *t);

#endif
