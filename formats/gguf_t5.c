/* qlora-tools: ISC license. */
/*
 * tokenizer.model from a Unigram GGUF (tokenizer.ggml.model "t5", llama.cpp's UGM vocabulary,
 * written by its converter from a SentencePiece Unigram model: conversion/t5.py): the
 * SentencePiece ModelProto that holds the same pieces, so that formats/tokenizer reads it
 * with the library's semantics (spm_model.c), as llama.cpp's UGM tokenizer follows them:
 *   pieces            tokenizer.ggml.tokens, .scores (required), .token_type (default
 *                     NORMAL; the GGUF types are SentencePiece's numbers)
 *   trainer_spec      model_type 1 (UNIGRAM)
 *   normalizer_spec   name "gguf", precompiled_charsmap (tokenizer.ggml.precompiled_charsmap,
 *                     u8 or i8 array; absent: the identity), add_dummy_prefix
 *                     (tokenizer.ggml.add_space_prefix), remove_extra_whitespaces
 *                     (tokenizer.ggml.remove_extra_whitespaces; both false when absent, as in
 *                     llama.cpp), escape_whitespaces true
 * Protobuf wire format: field keys as varints, strings and messages length-prefixed, the score
 * a little-endian float (fixed32).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "formats/gguf_tokenizer.h"

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void put_varint(FILE *fp, uint64_t v)
{
	while (v >= 0x80) {
		fputc((int)(v & 0x7F) | 0x80, fp);
		v >>= 7;
	}
	fputc((int)v, fp);
}

/* A length-delimited field: key, length, bytes. */
static void put_bytes(FILE *fp, uint32_t field, const void *p, uint64_t n)
{
	put_varint(fp, (uint64_t)field << 3 | 2);
	put_varint(fp, n);
	fwrite(p, 1, n, fp);
}

static void put_uint(FILE *fp, uint32_t field, uint64_t v)
{
	put_varint(fp, (uint64_t)field << 3);
	put_varint(fp, v);
}

static int get_flag(const struct gguf_file *g, const char *key, struct qt_err *err)
{
	int v = 0;
	return gguf_get_bool(g, key, &v, err) == QT_OK && v;
}

int gguf_t5_tokenizer_model(const struct gguf_file *g, const char *path, struct qt_err *err)
{
	const struct gguf_kv *kt = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_kv *ks = gguf_find(g, "tokenizer.ggml.scores");
	const struct gguf_kv *ky = gguf_find(g, "tokenizer.ggml.token_type");
	const struct gguf_kv *kc = gguf_find(g, "tokenizer.ggml.precompiled_charsmap");
	if (!kt || kt->v.type != GGUF_VT_ARRAY || kt->v.arr_type != GGUF_VT_STRING)
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.tokens: missing or not strings",
		                  g->path);
	const struct gguf_value *tok = &kt->v;
	if (!ks || ks->v.type != GGUF_VT_ARRAY || ks->v.arr_type != GGUF_VT_F32 ||
	    ks->v.len != tok->len)
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.scores: missing or not one f32 per "
		                  "token (a Unigram vocabulary needs them)", g->path);
	if (ky && (ky->v.type != GGUF_VT_ARRAY || ky->v.len != tok->len ||
	           (ky->v.arr_type != GGUF_VT_I32 && ky->v.arr_type != GGUF_VT_U32)))
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.token_type: expected one integer "
		                  "per token", g->path);
	if (kc && (kc->v.type != GGUF_VT_ARRAY ||
	           (kc->v.arr_type != GGUF_VT_U8 && kc->v.arr_type != GGUF_VT_I8)))
		return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.precompiled_charsmap: expected an "
		                  "array of bytes", g->path);
	for (uint64_t i = 0; ky && i < tok->len; i++) {
		int64_t ty = gguf_arr_int(&ky->v, i);
		if (ty < 1 || ty > 6)
			return qt_err_set(err, QT_EDATA, "%s: tokenizer.ggml.token_type[%llu]: %lld is not "
			                  "a token type (1-6)", g->path, (unsigned long long)i, (long long)ty);
	}
	struct qt_out o;
	int st = qt_out_open(&o, path, err);
	if (st != QT_OK)
		return st;
	FILE *fp = o.fp;
	for (uint64_t i = 0; i < tok->len; i++) {
		uint64_t len;
		const char *s = gguf_arr_str(tok, i, &len);
		int64_t ty = ky ? gguf_arr_int(&ky->v, i) : 1;
		uint64_t n = 1 + varint_len(len) + len + 1 + 4 + 1 + varint_len((uint64_t)ty);
		put_varint(fp, 1 << 3 | 2);
		put_varint(fp, n);
		put_bytes(fp, 1, s, len);
		put_varint(fp, 2 << 3 | 5);
		fwrite(ks->v.arr + 4 * i, 1, 4, fp); /* the GGUF's little-endian f32, as is */
		put_uint(fp, 3, (uint64_t)ty);
	}
	/* trainer_spec { model_type: UNIGRAM } */
	static const unsigned char trainer[] = { 3 << 3, 1 };
	put_bytes(fp, 2, trainer, sizeof trainer);
	/* normalizer_spec */
	uint64_t cn = kc ? kc->v.len : 0;
	uint64_t nn = 2 + 4 + (cn ? 1 + varint_len(cn) + cn : 0) + 3 * 2;
	put_varint(fp, 3 << 3 | 2);
	put_varint(fp, nn);
	put_bytes(fp, 1, "gguf", 4);
	if (cn)
		put_bytes(fp, 2, kc->v.arr, cn);
	put_uint(fp, 3, (uint64_t)get_flag(g, "tokenizer.ggml.add_space_prefix", err));
	put_uint(fp, 4, (uint64_t)get_flag(g, "tokenizer.ggml.remove_extra_whitespaces", err));
	put_uint(fp, 5, 1);
	return qt_out_commit(&o, err);
}
