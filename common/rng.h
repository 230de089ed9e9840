/* qlora-tools: ISC license. */
/*
 * Seeded pseudo-random numbers for shuffles, splits and sampling: xoshiro256** seeded through
 * splitmix64 (Blackman & Vigna). Deterministic across machines; state is 32 bytes so it can be
 * saved in checkpoints. Not for cryptography.
 */
#ifndef QT_RNG_H
#define QT_RNG_H

#include <stddef.h>
#include <stdint.h>

struct qt_rng { uint64_t s[4]; };

void qt_rng_seed(struct qt_rng *r, uint64_t seed);
uint64_t qt_rng_u64(struct qt_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t qt_rng_below(struct qt_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double qt_rng_double(struct qt_rng *r);
/* Fisher-Yates shuffle of n elements of size sz. */
void qt_rng_shuffle(struct qt_rng *r, void *base, size_t n, size_t sz);

#endif
