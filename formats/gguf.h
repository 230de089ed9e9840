/* qlora-tools: ISC license. */
/*
 * GGUF v2/v3 (ggml / llama.cpp model files): a memory-mapped, bounded and validated reader
 * with typed access to the key/value metadata and the tensor infos (formats/gguf.c), and a
 * streaming GGUF v3 writer (formats/gguf_write.c). See gguf(5) and reference.md 3.1-3.2.
 * Dequantization lives in kernels/ggml_dequant.h, quantization in kernels/ggml_quant.h.
 *
 * Checks, in order, one message each ("path: offset N: what"): the file holds the 24-byte
 * header; magic "GGUF"; version 2 or 3 (big-endian files named as such); kv and tensor counts
 * that fit the file; per KV: key length and bytes in the file, unique non-empty keys, a known
 * value type, string lengths and array sizes in the file, array nesting <= GGUF_MAX_DEPTH;
 * general.alignment a u32 power of two; per tensor: name 1..63 bytes and unique, 1..4 dims,
 * dims >= 1 with a product that does not overflow, a known ggml type, ne[0] a multiple of
 * its block size, offset aligned and equal to the running sum of padded sizes (as ggml
 * requires), data inside the file.
 */
#ifndef QT_FORMATS_GGUF_H
#define QT_FORMATS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/io.h"

#define GGUF_MAGIC             "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32   /* include/gguf.h */
#define GGUF_MAX_DIMS          4    /* GGML_MAX_DIMS */
#define GGUF_MAX_NAME          64   /* GGML_MAX_NAME, including the NUL */
#define GGUF_MAX_DEPTH         4    /* ours: nesting of arrays in arrays */

/* Metadata value types (docs/gguf.md). */
enum gguf_vtype {
	GGUF_VT_U8 = 0, GGUF_VT_I8 = 1, GGUF_VT_U16 = 2, GGUF_VT_I16 = 3, GGUF_VT_U32 = 4,
	GGUF_VT_I32 = 5, GGUF_VT_F32 = 6, GGUF_VT_BOOL = 7, GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9,
	GGUF_VT_U64 = 10, GGUF_VT_I64 = 11, GGUF_VT_F64 = 12, GGUF_VT_COUNT
};

/* ggml tensor types (include/ggml.h enum ggml_type; removed ids are never reused). */
enum ggml_type {
	GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q4_1 = 3,
	GGML_TYPE_Q5_0 = 6, GGML_TYPE_Q5_1 = 7, GGML_TYPE_Q8_0 = 8, GGML_TYPE_Q8_1 = 9,
	GGML_TYPE_Q2_K = 10, GGML_TYPE_Q3_K = 11, GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13,
	GGML_TYPE_Q6_K = 14, GGML_TYPE_Q8_K = 15, GGML_TYPE_BF16 = 30, GGML_TYPE_COUNT = 43
};

/* Name, block size (elements) and block bytes of a ggml type; NULL for an unknown id. */
struct ggml_type_info {
	const char *name;
	uint32_t    blck;
	uint32_t    size;
};
const struct ggml_type_info *ggml_type_get(uint32_t type);

/* A value: scalars decoded; strings and arrays point into the mapping (not NUL-terminated). */
struct gguf_value {
	uint32_t type;           /* enum gguf_vtype */
	union {
		uint64_t u;      /* U8..U64, BOOL */
		int64_t  i;      /* I8..I64 */
		double   f;      /* F32, F64 */
	};
	const char    *str;      /* STRING: bytes */
	uint64_t       len;      /* STRING: byte length; ARRAY: element count */
	uint32_t       arr_type; /* ARRAY: element type */
	const uint8_t *arr;      /* ARRAY: first element */
	uint64_t      *str_off;  /* ARRAY of STRING: offset of element i's length field from arr */
};

struct gguf_kv {
	char             *key;
	struct gguf_value v;
	const uint8_t    *raw;      /* the whole encoded pair (key, type, value) in the mapping */
	uint64_t          raw_len;
};

struct gguf_tensor {
	char           name[GGUF_MAX_NAME];
	uint32_t       n_dims;
	uint64_t       ne[GGUF_MAX_DIMS]; /* ne[0] fastest; unused dims are 1 */
	uint32_t       type;              /* enum ggml_type */
	uint64_t       offset;            /* relative to the data section */
	uint64_t       n_elem;
	uint64_t       size;              /* bytes, unpadded */
	const uint8_t *data;
};

struct gguf_file {
	char               *path;
	struct qt_map       map;
	uint32_t            version;
	uint32_t            alignment;
	uint64_t            n_kv, n_tensors;
	struct gguf_kv     *kv;        /* file order */
	struct gguf_tensor *tensors;   /* file order */
	uint64_t            data_offset;
};

/* Opens and validates path. QT_ENOINPUT when it cannot be opened, QT_EDATA with the first
 * failed check, QT_EIO for mapping errors. On failure g is left closed. */
int gguf_open(struct gguf_file *g, const char *path, struct qt_err *err);
void gguf_close(struct gguf_file *g);

const struct gguf_kv *gguf_find(const struct gguf_file *g, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *g, const char *name);

/* Typed getters. Return QT_OK; 1 when the key is absent (out untouched); QT_EDATA ("path:
 * key: expected ...") when present with an unusable type or value. Integers accept any
 * integer type (gguf-py writes u32 where the spec says u64) and check the range. */
int gguf_get_int(const struct gguf_file *g, const char *key, int64_t *out, struct qt_err *err);
int gguf_get_float(const struct gguf_file *g, const char *key, double *out, struct qt_err *err);
int gguf_get_bool(const struct gguf_file *g, const char *key, int *out, struct qt_err *err);
/* A malloc'd NUL-terminated copy (strings holding NUL bytes are refused). */
int gguf_get_str(const struct gguf_file *g, const char *key, char **out, struct qt_err *err);

/* Array element access (the caller checked v->type == GGUF_VT_ARRAY and the element type). */
const char *gguf_arr_str(const struct gguf_value *v, uint64_t i, uint64_t *len);
int64_t gguf_arr_int(const struct gguf_value *v, uint64_t i);

/* ---- writing (formats/gguf_write.c) ---- */

/* One tensor info of a file being written. */
struct gguf_winfo {
	char     name[GGUF_MAX_NAME];
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
	uint32_t type;      /* enum ggml_type */
	uint64_t offset;    /* relative to the data section */
	uint64_t size;      /* bytes, unpadded */
};

/*
 * A GGUF v3 file written front to back with no seek: the caller adds every key/value and every
 * tensor info first (sizes follow from type and shape), opens, then writes each tensor's bytes
 * in the order the infos were added. Layout as ggml's gguf.cpp writes it: header, KVs in the
 * order added, tensor infos, zero padding to the alignment (GGUF_DEFAULT_ALIGNMENT), tensor data
 * each zero-padded to the alignment, offsets the running sum. Output is atomic: a temporary
 * file beside the target, renamed by gguf_writer_commit; gguf_writer_abort removes it.
 */
struct gguf_writer {
	uint8_t           *kv;         /* encoded key/value section */
	size_t             kv_len, kv_cap;
	uint64_t           n_kv;
	char             **keys;       /* for the duplicate check */
	struct gguf_winfo *t;
	uint64_t           n_tensors, t_cap;
	uint64_t           data_size;  /* padded */
	uint64_t           next;       /* tensor to write next */
	struct qt_out      out;
	int                is_open;
	int                oom;        /* a KV could not be stored: reported by gguf_writer_open */
};

void gguf_writer_init(struct gguf_writer *w);
/* Frees everything (and removes the temporary file if still open). */
void gguf_writer_free(struct gguf_writer *w);

/* Key/value setters: append one KV. Keys must be unique (QT_EUSAGE otherwise). Strings are byte
 * strings of length len (no NUL needed); arrays copy their elements. */
int gguf_writer_u32(struct gguf_writer *w, const char *key, uint32_t v, struct qt_err *err);
int gguf_writer_i32(struct gguf_writer *w, const char *key, int32_t v, struct qt_err *err);
int gguf_writer_f32(struct gguf_writer *w, const char *key, float v, struct qt_err *err);
int gguf_writer_bool(struct gguf_writer *w, const char *key, int v, struct qt_err *err);
int gguf_writer_str(struct gguf_writer *w, const char *key, const char *s, size_t len,
                    struct qt_err *err);
/* Array of n strings s[i] of lengths len[i] (len NULL: NUL-terminated strings). */
int gguf_writer_arr_str(struct gguf_writer *w, const char *key, const char *const *s,
                        const size_t *len, uint64_t n, struct qt_err *err);
int gguf_writer_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n,
                        struct qt_err *err);
int gguf_writer_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n,
                        struct qt_err *err);
/* Array of n bools (each v[i] != 0 stored as one byte 0 or 1). */
int gguf_writer_arr_bool(struct gguf_writer *w, const char *key, const uint8_t *v, uint64_t n,
                         struct qt_err *err);

/* Adds a tensor info: name 1..63 bytes and unique, 1..4 dims each >= 1 (ne[0] fastest), a
 * known type with ne[0] a multiple of its block size. QT_EUSAGE naming the problem. */
int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
                       const uint64_t *ne, uint32_t type, struct qt_err *err);

/* Creates path's temporary file and writes everything before the data. QT_ECANTCREAT/QT_EIO. */
int gguf_writer_open(struct gguf_writer *w, const char *path, struct qt_err *err);
/* Info of the tensor gguf_writer_put expects next, or NULL when all are written. */
const struct gguf_winfo *gguf_writer_next(const struct gguf_writer *w);
/* Writes the next tensor's bytes (size must equal its size: QT_EUSAGE) and its padding. */
int gguf_writer_put(struct gguf_writer *w, const void *data, uint64_t size, struct qt_err *err);
/* Checks every tensor was written, fsyncs and renames into place. Then frees w. */
int gguf_writer_commit(struct gguf_writer *w, struct qt_err *err);

#endif
