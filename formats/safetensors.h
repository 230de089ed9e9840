/* qlora-tools: ISC license. */
/*
 * safetensors (HuggingFace): a memory-mapped, validated reader, a streaming writer, and sharded
 * checkpoints (model.safetensors.index.json). See safetensors(5) and reference.md 4.1-4.2.
 *
 * File layout: u64 LE header length N, N bytes of JSON, then the data section. The JSON maps
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (bytes relative to the
 * data section, end exclusive) plus an optional "__metadata__" object of strings.
 *
 * The reader checks, in order, with one message each: file holds the 8-byte length; N <=
 * ST_MAX_HEADER; 8 + N <= file size; the header starts with '{'; JSON syntax (UTF-8, no
 * duplicate keys); every entry (known dtype, <= ST_MAX_DIMS dims, non-negative integer shape
 * and offsets, begin <= end, end - begin == elements x dtype size); tensors sorted by offset
 * start at 0 and follow each other with no gap and no overlap; the last one ends exactly at
 * the end of the file. Messages are "path: what is wrong" with status QT_EDATA.
 */
#ifndef QT_FORMATS_SAFETENSORS_H
#define QT_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"
#include "common/io.h"

#define ST_MAX_HEADER 100000000u /* MAX_HEADER_SIZE of safetensors' tensor.rs */
#define ST_MAX_DIMS   8          /* ours: no model tensor has more */
#define ST_ALIGN      8          /* the header is space-padded so data starts 8-aligned */
#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"

/* One tensor of an open file. data points into the mapping: valid until st_close, read-only,
 * and only as aligned as the writer made it (use memcpy or common/le.h for loads). */
struct st_tensor {
	const char    *name;
	enum qt_dtype  dtype;
	int            n_dims;
	int64_t        shape[ST_MAX_DIMS];
	uint64_t       n_elem;   /* product of shape (1 for a 0-d tensor) */
	uint64_t       offset;   /* begin, relative to the data section */
	uint64_t       size;     /* bytes */
	const void    *data;
};

struct st_file {
	char             *path;
	struct qt_map     map;
	size_t            n_tensors;
	struct st_tensor *tensors;   /* sorted by name (strcmp) */
	size_t            n_meta;
	char            **meta_keys; /* __metadata__, in header order */
	char            **meta_vals;
	uint64_t          data_start; /* 8 + N */
	void             *names;      /* owned storage behind the name strings */
};

/* Opens and validates path. QT_ENOINPUT if it cannot be opened, QT_EDATA with the message of
 * the first failed check, QT_EIO on a mapping error. On failure f is left closed. */
int st_open(struct st_file *f, const char *path, struct qt_err *err);
void st_close(struct st_file *f);
/* Tensor by exact name, or NULL. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
/* __metadata__ value of key, or NULL. */
const char *st_meta_get(const struct st_file *f, const char *key);

/* Converts a tensor of any dtype except BOOL to float32 into dst (t->n_elem floats): F16/BF16
 * exactly, F64 rounded to nearest, integers by value. QT_EDATA for BOOL. */
int st_tensor_to_f32(const struct st_tensor *t, float *dst, struct qt_err *err);

/* ---- writing ---- */

/* What st_writer_open needs to know about one tensor before any data is written. */
struct st_spec {
	const char    *name;
	enum qt_dtype  dtype;
	int            n_dims;
	int64_t        shape[ST_MAX_DIMS];
	const void    *data; /* used only by st_write_file; ignored by the streaming writer */
};

/* A key/value pair of __metadata__. */
struct st_kv {
	const char *key, *val;
};

/*
 * Streaming writer: the header (all sizes known from the specs) is written at open; then the
 * caller writes each tensor's bytes with st_writer_put in the order st_writer_next returns.
 * Data order: larger element size first, then name (strcmp), so every tensor is aligned to its
 * element size (safetensors' Python writer uses the same rule). JSON keys: __metadata__ first
 * (if any), then tensors in data order; compact JSON; header padded with spaces to 8 bytes.
 * Output is atomic (temp file + rename in st_writer_commit).
 */
struct st_writer {
	struct qt_out   out;
	size_t          n, next;
	size_t         *order;   /* order[k] = spec index of the k-th tensor in the data */
	uint64_t       *sizes;   /* bytes per spec index */
	char           *path;
};

/* Validates the specs (known dtype, dims, unique non-empty names, no "__metadata__" name) and
 * writes the header. QT_EUSAGE for bad specs, QT_ECANTCREAT/QT_EIO for file errors. */
int st_writer_open(struct st_writer *w, const char *path, const struct st_spec *specs, size_t n,
                   const struct st_kv *meta, size_t n_meta, struct qt_err *err);
/* Spec index of the tensor to write next, or (size_t)-1 when all are written. */
size_t st_writer_next(const struct st_writer *w);
/* Writes the next tensor's bytes (little-endian, C order); size must equal its byte size. */
int st_writer_put(struct st_writer *w, const void *data, uint64_t size, struct qt_err *err);
/* Checks that every tensor was written, then fsyncs and renames into place. */
int st_writer_commit(struct st_writer *w, struct qt_err *err);
void st_writer_abort(struct st_writer *w);

/* One call: writes specs[i].data for every tensor. */
int st_write_file(const char *path, const struct st_spec *specs, size_t n,
                  const struct st_kv *meta, size_t n_meta, struct qt_err *err);

/* Bytes of one tensor from its spec (0 on overflow). */
uint64_t st_spec_size(const struct st_spec *s);

/* ---- checkpoints: one file or shards + model.safetensors.index.json ---- */

struct st_set {
	size_t          n_files;
	struct st_file *files;
	size_t          n_tensors;
	const struct st_tensor **tensors; /* all tensors of all files, sorted by name */
};

/*
 * Opens the weights of a model directory: dir/model.safetensors.index.json if present (every
 * weight_map entry must name a plain file in dir holding that tensor; a name found in two
 * shards is refused), else dir/model.safetensors. QT_ENOINPUT when neither exists.
 */
int st_set_open(struct st_set *s, const char *dir, struct qt_err *err);
void st_set_close(struct st_set *s);
const struct st_tensor *st_set_find(const struct st_set *s, const char *name);

/* Writes dir/model.safetensors.index.json for tensors names[i] stored in shard files[i]
 * (plain file names), total_size = sum of tensor byte sizes. Keys sorted, indent 2, as HF. */
int st_index_write(const char *dir, const char *const *names, const char *const *files, size_t n,
                   uint64_t total_size, struct qt_err *err);

#endif
