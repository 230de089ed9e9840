/* qlora-tools: ISC license. */
/*
 * Element types of tensors in model files (safetensors names; GGUF maps onto them). The enum
 * values are internal (not stored on disk); files store the names from qt_dtype_name.
 */
#ifndef QT_DTYPE_H
#define QT_DTYPE_H

#include <stddef.h>
#include <string.h>

enum qt_dtype {
	QT_DTYPE_F32,
	QT_DTYPE_F16,
	QT_DTYPE_BF16,
	QT_DTYPE_F64,
	QT_DTYPE_U8,
	QT_DTYPE_I8,
	QT_DTYPE_I16,
	QT_DTYPE_U16,
	QT_DTYPE_I32,
	QT_DTYPE_U32,
	QT_DTYPE_I64,
	QT_DTYPE_U64,
	QT_DTYPE_BOOL,
	QT_DTYPE_COUNT
};

/* Bytes per element. */
static inline size_t qt_dtype_size(enum qt_dtype t)
{
	static const unsigned char sz[QT_DTYPE_COUNT] = { 4, 2, 2, 8, 1, 1, 2, 2, 4, 4, 8, 8, 1 };
	return (unsigned)t < QT_DTYPE_COUNT ? sz[t] : 0;
}

/* The safetensors spelling ("F32", "BF16", ...). */
static inline const char *qt_dtype_name(enum qt_dtype t)
{
	static const char *const nm[QT_DTYPE_COUNT] = { "F32", "F16", "BF16", "F64", "U8", "I8",
		"I16", "U16", "I32", "U32", "I64", "U64", "BOOL" };
	return (unsigned)t < QT_DTYPE_COUNT ? nm[t] : "?";
}

/* Parses a safetensors dtype name; returns -1 if unknown. */
static inline int qt_dtype_parse(const char *s)
{
	for (int t = 0; t < QT_DTYPE_COUNT; t++)
		if (strcmp(s, qt_dtype_name((enum qt_dtype)t)) == 0)
			return t;
	return -1;
}

/* The names a --dtype option takes for the float types a tool writes: ours, then those
 * transformers and PyTorch use, with their types (one table, so every tool reads "bfloat16"
 * alike). NULL-terminated. */
static const char *const qt_dtype_option_names[] = { "bf16", "f16", "f32", "bfloat16", "fp16",
                                                     "float16", "fp32", "float32", NULL };
static const enum qt_dtype qt_dtype_option_types[] = { QT_DTYPE_BF16, QT_DTYPE_F16, QT_DTYPE_F32,
                                                       QT_DTYPE_BF16, QT_DTYPE_F16, QT_DTYPE_F16,
                                                       QT_DTYPE_F32, QT_DTYPE_F32 };

/* 1 for F32, F16, BF16, F64. */
static inline int qt_dtype_is_float(enum qt_dtype t)
{
	return t == QT_DTYPE_F32 || t == QT_DTYPE_F16 || t == QT_DTYPE_BF16 || t == QT_DTYPE_F64;
}

#endif
