/* qlora-tools: ISC license. */
/* XXH3-64 helpers: file fingerprints, payload checksums, dedup keys (xxHash from Debian). */
#ifndef QT_HASH_H
#define QT_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* XXH3-64 of a buffer, seed 0. */
uint64_t qt_xxh3(const void *p, size_t n);

/* Streaming XXH3-64 (seed 0): init, update any number of times, digest. */
struct qt_xxh3_state { void *st; };
int qt_xxh3_init(struct qt_xxh3_state *s);
void qt_xxh3_update(struct qt_xxh3_state *s, const void *p, size_t n);
uint64_t qt_xxh3_digest(const struct qt_xxh3_state *s);
void qt_xxh3_free(struct qt_xxh3_state *s);

/* XXH3-64 of a whole file's bytes (streamed). QT_ENOINPUT / QT_EIO on failure. */
int qt_xxh3_file(const char *path, uint64_t *out, struct qt_err *err);

#endif
