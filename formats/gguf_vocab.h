/* qlora-tools: ISC license. Documented in man/man5/gguf.5. */
/* Not a file format of its own: the tokenizer.* keys that gguf(5) (man/man5/gguf.5) documents. */
/*
 * What formats/gguf_vocab.c (byte-level BPE, the dispatcher), gguf_vocab_spm.c (SentencePiece)
 * and gguf_vocab_special.c (special ids, add_bos/add_eos, chat template) share to write a GGUF's
 * tokenizer metadata from an HF model directory, as convert_hf_to_gguf.py's set_vocab functions
 * and gguf-py's SpecialVocab write it. Internal to those files; export-gguf calls
 * gguf_tokenizer_put (formats/gguf_tokenizer.h).
 */
#ifndef QT_FORMATS_GGUF_VOCAB_H
#define QT_FORMATS_GGUF_VOCAB_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/gguf.h"
#include "formats/hfconfig.h"

/* tokenizer.ggml.token_type values (gguf-py TokenType, SentencePiece's piece types). */
enum {
	GGUF_TT_NORMAL = 1, GGUF_TT_UNKNOWN = 2, GGUF_TT_CONTROL = 3, GGUF_TT_USER = 4,
	GGUF_TT_UNUSED = 5, GGUF_TT_BYTE = 6,
};

/* The special token kinds SpecialVocab writes, each as tokenizer.ggml.<kind>_token_id
 * (sep as llama.cpp's "seperator"; cls has no writer in gguf-py and is never written). The
 * first seven are SpecialVocab's defaults. */
enum gguf_sp {
	GGUF_SP_BOS, GGUF_SP_EOS, GGUF_SP_UNK, GGUF_SP_SEP, GGUF_SP_PAD, GGUF_SP_CLS, GGUF_SP_MASK,
	GGUF_SP_EOT, GGUF_SP_EOM, GGUF_SP_N
};

/* One SpecialVocab: what it found, written once by gguf_special_put (GGUF keys are unique, so
 * the families' later overrides are applied here first). -1: unset. */
struct gguf_special {
	int64_t id[GGUF_SP_N];
	int     add_bos, add_eos, add_sep; /* tokenizer.ggml.add_{bos,eos,sep}_token */
	int     add_space_prefix;      /* tokenizer.ggml.add_space_prefix */
	char   *chat_template;         /* malloc'd, or NULL */
	size_t  chat_template_len;
};

/* Fills s as SpecialVocab(dir, n_vocab) does: tokenizer.json's post_processor (add_bos /
 * add_eos from a TemplateProcessing), tokenizer_config.json's add_*_token, *_token strings
 * looked up in tokenizer.json's added_tokens, chat_template (or chat_template.jinja /
 * chat_template.json), then config.json's *_token_id for kinds still unset; ids >= n_vocab are
 * ignored. tok and tc may be NULL (file absent). */
int gguf_special_load(struct gguf_special *s, const char *dir, json_t *tok, json_t *tc,
                      const struct hf_config *c, int64_t n_vocab, struct qt_err *err);
/* SpecialVocab._set_special_token: sets kind k to id unless it is set already. */
void gguf_special_set(struct gguf_special *s, enum gguf_sp k, int64_t id);
/* Appends s's keys to w. */
int gguf_special_put(struct gguf_writer *w, const struct gguf_special *s, struct qt_err *err);
void gguf_special_free(struct gguf_special *s);

/* dir/name parsed as a JSON object; NULL with *st QT_OK when absent and !required. */
json_t *gguf_vocab_json(const char *dir, const char *name, int required, int *st,
                        struct qt_err *err);
/* convert_hf_to_gguf.py does_token_look_special. */
int gguf_vocab_looks_special(const char *s);
/* "\xe2\x96\x81" (U+2581) -> " " in place (user-defined tokens are pre-normalized). */
void gguf_vocab_unescape_space(char *s);

/* Writes the SentencePiece vocabulary of dir/tokenizer.model (formats/gguf_vocab_spm.c:
 * tokenizer.ggml.model "llama", pre "default", tokens, scores, token_type) with the rules of
 * llama.cpp's architecture arch (phi3's own set_vocab, or _create_vocab_sentencepiece), and
 * loads its SpecialVocab into sp for the caller to complete and write. tc: the parsed
 * tokenizer_config.json or NULL. QT_EDATA for a model llama.cpp's llama vocabulary cannot
 * hold (Unigram, normalization rules). */
int gguf_vocab_spm_put(struct gguf_writer *w, const char *dir, const struct hf_config *c,
                       const char *arch, json_t *tc, struct gguf_special *sp,
                       struct qt_err *err);

#endif
