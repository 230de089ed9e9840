/* qlora-tools: ISC license. */
/*
 * The Precompiled normalizer of a tokenizer.json (SentencePiece's compiled normalization rules,
 * such as nmt_nfkc, as transformers' converters copy them from a model's normalizer_spec),
 * applied as HF tokenizers applies it (the spm_precompiled crate):
 *
 *   blob  = le32 trie_size | trie_size bytes of Darts double-array units (le32 each) |
 *           the normalized strings, each ending in NUL
 *   unit  : has_leaf = bit 8; value = bits 0-30; label = bits 0-7 and 31;
 *           offset = (unit >> 10) << ((unit & 0x200) >> 6)
 *
 * The text is walked by extended grapheme clusters (UAX #29, utf8proc): a cluster shorter
 * than 6 bytes whose bytes start with a key of the trie is replaced, whole, by the normalized
 * string of the shortest such key (so a combining mark after a mapped base character is
 * dropped, as HF does); otherwise each character is replaced by its own key's string, or kept.
 * A byte 0 ends the search, as in the crate.
 *
 * A tokenizer.model's map is applied as the sentencepiece library's Normalizer does
 * (tk_precompiled_apply_spm): no clusters; at each position the longest key that starts there
 * (Darts commonPrefixSearch) is replaced; where none starts, one UTF-8 character is kept.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "formats/tokenizer/internal.h"

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tk_precompiled_init(struct tk_norm *z, const unsigned char *blob, size_t n, char *msg,
                        size_t msgsz)
{
	if (n < 4) {
		snprintf(msg, msgsz, "precompiled_charsmap: %zu bytes, shorter than its 4-byte "
		         "header", n);
		return -1;
	}
	size_t ts = le32(blob);
	if (ts % 4 || ts == 0 || ts > n - 4) {
		snprintf(msg, msgsz, "precompiled_charsmap: trie size %zu does not fit in %zu bytes "
		         "(or is not a multiple of 4)", ts, n);
		return -1;
	}
	z->n_units = (uint32_t)(ts / 4);
	z->units = malloc(ts);
	z->norm_len = (uint32_t)(n - 4 - ts);
	z->norm = malloc(z->norm_len + 1);
	if (!z->units || !z->norm) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < z->n_units; i++)
		z->units[i] = le32(blob + 4 + 4 * (size_t)i);
	memcpy(z->norm, blob + 4 + ts, z->norm_len);
	z->norm[z->norm_len] = 0;
	/* the replacement strings go on through the pipeline: valid UTF-8 only */
	for (size_t i = 0; i < z->norm_len;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)z->norm + i,
		                                      (utf8proc_ssize_t)(z->norm_len - i), &c);
		if (l <= 0) {
			snprintf(msg, msgsz, "precompiled_charsmap: replacement strings: invalid "
			         "UTF-8 at byte %zu", i);
			return -1;
		}
		i += (size_t)l;
	}
	return 0;
}

static uint32_t unit_offset(uint32_t u)
{
	return (u >> 10) << ((u & 0x200u) >> 6);
}

/* The normalized string of the shortest key that starts p[0..n), or NULL (its length *len). */
static const char *transform(const struct tk_norm *z, const unsigned char *p, size_t n,
                             size_t *len)
{
	const uint32_t *a = z->units;
	size_t pos = unit_offset(a[0]);
	for (size_t i = 0; i < n && p[i]; i++) {
		pos ^= p[i];
		if (pos >= z->n_units)
			return NULL;
		uint32_t u = a[pos];
		if ((u & (0x80000000u | 0xFFu)) != p[i])
			return NULL;
		pos ^= unit_offset(u);
		if (pos >= z->n_units)
			return NULL;
		if ((u >> 8) & 1) {
			uint32_t v = a[pos] & 0x7FFFFFFFu;
			if (v >= z->norm_len + 1)
				return NULL;
			*len = strlen(z->norm + v);
			return z->norm + v;
		}
	}
	return NULL;
}

static int put(char **d, size_t *o, size_t *cap, const char *s, size_t n)
{
	if (*o + n + 1 > *cap) {
		size_t c = *cap * 2 + n + 16;
		char *e = realloc(*d, c);
		if (!e)
			return -1;
		*d = e;
		*cap = c;
	}
	memcpy(*d + *o, s, n);
	*o += n;
	return 0;
}

char *tk_precompiled_apply(const struct tk_norm *z, const char *p, size_t n, size_t *outn)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t cap = n + 16, o = 0, l;
	char *d = malloc(cap);
	if (!d)
		return NULL;
	int changed = 0;
	for (size_t at = 0; at < n;) {
		/* the grapheme cluster [at, end) */
		utf8proc_int32_t state = 0;
		uint32_t c1 = tk_utf8_next(u + at, &l);
		size_t end = at + l;
		while (end < n) {
			uint32_t c2 = tk_utf8_next(u + end, &l);
			if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)c1, (utf8proc_int32_t)c2,
			                                     &state))
				break;
			end += l;
			c1 = c2;
		}
		size_t nl;
		const char *s;
		if (end - at < 6 && (s = transform(z, u + at, end - at, &nl))) {
			if (put(&d, &o, &cap, s, nl) != 0)
				goto oom;
			changed = 1;
			at = end;
			continue;
		}
		for (size_t i = at; i < end; i += l) {
			tk_utf8_next(u + i, &l);
			if ((s = transform(z, u + i, l, &nl)) != NULL)
				changed = 1;
			if (put(&d, &o, &cap, s ? s : p + i, s ? nl : l) != 0)
				goto oom;
		}
		at = end;
	}
	if (!changed) {
		free(d);
		*outn = n;
		return (char *)p;
	}
	d[o] = 0;
	*outn = o;
	return d;
oom:
	free(d);
	return NULL;
}

/* The length of the longest key that starts p[0..n) (0: none); its string *v, length *vlen. */
static size_t longest(const struct tk_norm *z, const unsigned char *p, size_t n,
                      const char **v, size_t *vlen)
{
	const uint32_t *a = z->units;
	size_t pos = unit_offset(a[0]), best = 0;
	for (size_t i = 0; i < n && p[i]; i++) {
		pos ^= p[i];
		if (pos >= z->n_units)
			break;
		uint32_t u = a[pos];
		if ((u & (0x80000000u | 0xFFu)) != p[i])
			break;
		pos ^= unit_offset(u);
		if (pos >= z->n_units)
			break;
		if ((u >> 8) & 1) {
			uint32_t x = a[pos] & 0x7FFFFFFFu;
			if (x >= z->norm_len + 1)
				break;
			best = i + 1;
			*v = z->norm + x;
			*vlen = strlen(*v);
		}
	}
	return best;
}

char *tk_precompiled_apply_spm(const struct tk_norm *z, const char *p, size_t n, size_t *outn)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t cap = n + 16, o = 0;
	char *d = malloc(cap);
	if (!d)
		return NULL;
	int changed = 0;
	for (size_t at = 0; at < n;) {
		const char *v;
		size_t vl, k = longest(z, u + at, n - at, &v, &vl);
		if (k) {
			changed = 1;
			if (put(&d, &o, &cap, v, vl) != 0)
				goto oom;
			at += k;
			continue;
		}
		utf8proc_int32_t c;
		utf8proc_ssize_t l = utf8proc_iterate(u + at, (utf8proc_ssize_t)(n - at), &c);
		if (l <= 0) { /* the library: U+FFFD for one byte */
			changed = 1;
			if (put(&d, &o, &cap, "\xEF\xBF\xBD", 3) != 0)
				goto oom;
			at++;
			continue;
		}
		if (put(&d, &o, &cap, p + at, (size_t)l) != 0)
			goto oom;
		at += (size_t)l;
	}
	if (!changed) {
		free(d);
		*outn = n;
		return (char *)p;
	}
	d[o] = 0;
	*outn = o;
	return d;
oom:
	free(d);
	return NULL;
}
