/* qlora-tools: ISC license. */
/* xoshiro256** and splitmix64; see rng.h. */
#include "common/rng.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void qt_rng_seed(struct qt_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t qt_rng_u64(struct qt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t qt_rng_below(struct qt_rng *r, uint64_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = qt_rng_u64(r);
	while (x >= lim);
	return x % n;
}

double qt_rng_double(struct qt_rng *r) { return (double)(qt_rng_u64(r) >> 11) * 0x1.0p-53; }

void qt_rng_shuffle(struct qt_rng *r, void *base, size_t n, size_t sz)
{
	unsigned char *b = base, tmp[64];
	if (sz > sizeof tmp)
		return;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)qt_rng_below(r, i);
		memcpy(tmp, b + (i - 1) * sz, sz);
		memcpy(b + (i - 1) * sz, b + j * sz, sz);
		memcpy(b + j * sz, tmp, sz);
	}
}
