/* qlora-tools: ISC license. Documented in man/man5/gguf.5. */
/* Not a file format of its own: documented in import-gguf(1), export-gguf(1) and gguf(5)
 * (man/man5/gguf.5). */
/*
 * The GGUF tokenizer metadata <-> HF tokenizer files, both directions:
 * gguf_tokenizer_write (formats/gguf_tokenizer.c) rebuilds tokenizer.json and
 * tokenizer_config.json from a GGUF (reference.md 3.8-3.9): byte-level BPE ("gpt2" model) with
 * the pre-tokenizer that tokenizer.ggml.pre names (smollm, gpt-2, llama-bpe, qwen2, qwen35,
 * deepseek-llm/-coder/-v3, falcon, tekken and the names llama.cpp splits as one of these; a
 * missing or unknown pre is refused); SentencePiece BPE ("llama" model) as transformers builds it;
 * for a Unigram ("t5" model), tokenizer.model instead of tokenizer.json. Output
 * layout, byte for byte, as tests/ref/smollm2_tokenizer.py writes it (json.dumps(
 * ensure_ascii=False, separators=(",", ":")) with keys in HF's order).
 * gguf_tokenizer_put (formats/gguf_vocab.c) is the reverse, for export-gguf.
 */
#ifndef QT_FORMATS_GGUF_TOKENIZER_H
#define QT_FORMATS_GGUF_TOKENIZER_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "formats/gguf.h"
#include "formats/hfconfig.h"

/* Pre-tokenizer regexes of llama-bpe, qwen2 (reference.md 1.5) and qwen35 (Qwen3.5's
 * tokenizer.json, as llama.cpp's llama-vocab.cpp quotes it). */
#define GGUF_RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define GGUF_RE_QWEN35 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define GGUF_RE_QWEN2  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Writes dir/tokenizer.json and dir/tokenizer_config.json (atomically each).
 * max_len: model_max_length (the context length). QT_EDATA "path: key: reason" for missing or
 * unsupported tokenizer metadata; QT_ECANTCREAT/QT_EIO for output errors. */
int gguf_tokenizer_write(const struct gguf_file *g, const char *dir, int64_t max_len,
                         struct qt_err *err);

/* tokenizer.json at path for a SentencePiece GGUF (tokenizer.ggml.model "llama"), as
 * transformers' GGUF loader builds it (formats/gguf_spm.c). */
int gguf_spm_tokenizer_json(const struct gguf_file *g, const char *path, struct qt_err *err);
/* tokenizer.model (a SentencePiece ModelProto, Unigram) at path for a GGUF whose
 * tokenizer.ggml.model is "t5" (formats/gguf_t5.c). */
int gguf_t5_tokenizer_model(const struct gguf_file *g, const char *path, struct qt_err *err);
/* s[0..n) as a JSON string, as Python's json.dumps(ensure_ascii=False) writes it. */
void gguf_json_str(FILE *fp, const char *s, uint64_t n);

/*
 * Adds the tokenizer KVs of HF model directory dir to w as convert_hf_to_gguf.py writes them
 * for llama.cpp's architecture arch (formats/gguf_vocab*.c, reference.md 3.8):
 *   - with a tokenizer.model (llama, qwen2, qwen3, gemma, gemma2, phi3 but Phi-4's
 *     GPT2Tokenizer): tokenizer.ggml.model "llama", pre "default", the pieces as tokens with
 *     their scores and types (UNKNOWN, CONTROL, UNUSED, BYTE <0xHH>, the rest NORMAL), then the
 *     added tokens of added_tokens.json, tokenizer_config.json's added_tokens_decoder (and for
 *     phi3 tokenizer.json's added_tokens) as USER_DEFINED or CONTROL with score -1000, ids
 *     without a piece "[PADn]" UNUSED; gemma and gemma2 add add_space_prefix false, gemma the
 *     eot id 107;
 *   - else tokenizer.json's byte-level BPE: model "gpt2", pre named from the pre-tokenizer's
 *     shape (smollm, gpt-2, llama-bpe, smaug-bpe, qwen2; chatglm-bpe or glm4 for chatglm and
 *     glm4), tokens (c->vocab_size of them; missing ids "[PADn]" UNUSED), token_type (added
 *     special or special-looking tokens CONTROL, other added tokens USER_DEFINED, the rest
 *     NORMAL), merges ("a b"); GLM's eos, eot, unk (glm4: bos) from <|endoftext|>, <|user|>;
 *   - for both, gguf-py's SpecialVocab: special ids (tokenizer_config.json's *_token strings
 *     in tokenizer.json's added_tokens, then config.json's *_token_id), add_bos_token /
 *     add_eos_token / add_sep_token, tokenizer.chat_template (tokenizer_config.json,
 *     chat_template.jinja or chat_template.json); llama's add_space_prefix from
 *     tokenizer_config.json's add_prefix_space.
 * QT_ENOINPUT without tokenizer.json or tokenizer.model; QT_EDATA "path: what" for a tokenizer
 * llama.cpp's vocabularies cannot hold (not BPE, a SentencePiece-style tokenizer.json without
 * its tokenizer.model, a Unigram or normalizing tokenizer.model, an unknown pre-tokenizer, ids
 * outside vocab_size).
 */
int gguf_tokenizer_put(struct gguf_writer *w, const char *dir, const struct hf_config *c,
                       const char *arch, struct qt_err *err);

#endif
