/* qlora-tools: ISC license. */
/*
 * tokenizer_decode: ids to text as HF Tokenizer::decode (reference.md 1.1, 1.4): token
 * strings (added tokens first), special ones dropped on request, then the ByteLevel decoder
 * (or, with no decoder, the tokens joined by " "), then Rust's String::from_utf8_lossy.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

struct bytes { char *p; size_t n, cap; int oom; };

static void put(struct bytes *b, const void *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->n + n + 1)
			c *= 2;
		char *p = realloc(b->p, c);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = c;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* Byte of a byte-level char, or -1 (reference.md 1.4's table read backwards). */
static int char_byte(uint32_t c)
{
	if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))
		return (int)c;
	if (c >= 0x100 && c <= 0x120)
		return (int)(c - 0x100);
	if (c >= 0x121 && c <= 0x142)
		return (int)(c - 0x121 + 0x7F);
	if (c == 0x143)
		return 0xAD;
	return -1;
}

/* One token through the ByteLevel decoder: its bytes if every char maps, else as is. */
static void bytelevel_token(struct bytes *b, const char *s, size_t n)
{
	size_t i, l;
	for (i = 0; i < n; i += l)
		if (char_byte(tk_utf8_next((const unsigned char *)s + i, &l)) < 0) {
			put(b, s, n);
			return;
		}
	for (i = 0; i < n; i += l) {
		char c = (char)char_byte(tk_utf8_next((const unsigned char *)s + i, &l));
		put(b, &c, 1);
	}
}

/* Rust String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD. */
static void lossy(struct bytes *o, const unsigned char *s, size_t n)
{
	static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x80) {
			size_t j = i + 1;
			while (j < n && s[j] < 0x80)
				j++;
			put(o, s + i, j - i);
			i = j;
			continue;
		}
		unsigned need, lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF) need = 1;
		else if (c == 0xE0) { need = 2; lo = 0xA0; }
		else if (c == 0xED) { need = 2; hi = 0x9F; }
		else if (c >= 0xE1 && c <= 0xEF) need = 2;
		else if (c == 0xF0) { need = 3; lo = 0x90; }
		else if (c == 0xF4) { need = 3; hi = 0x8F; }
		else if (c >= 0xF1 && c <= 0xF3) need = 3;
		else {
			put(o, fffd, 3);
			i++;
			continue;
		}
		size_t j = i + 1;
		unsigned k = 0;
		for (; k < need && j < n; k++, j++) {
			unsigned x = s[j];
			if (x < (k == 0 ? lo : 0x80) || x > (k == 0 ? hi : 0xBF))
				break;
		}
		if (k == need)
			put(o, s + i, j - i);
		else
			put(o, fffd, 3);
		i = j;
	}
}

/* The string HF decodes an id to: an added token's normalized form when the normalizer
 * changed it (HF's normalized_cache), else its content or the vocab string. */
static const char *token_string(const struct tokenizer *t, uint32_t id, size_t *len)
{
	for (uint32_t i = 0; i < t->n_added && t->nfc; i++)
		if (t->added[i].id == id && t->added[i].normalized &&
		    (t->added[i].plen != t->added[i].len ||
		     memcmp(t->added[i].pattern, t->added[i].content, t->added[i].len) != 0)) {
			*len = t->added[i].plen;
			return t->added[i].pattern;
		}
	*len = t->id_len[id];
	return t->id_str[id];
}

int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n,
                     int skip_special, char **out, size_t *len, struct qt_err *err)
{
	struct bytes b = { 0 }, o = { 0 };
	int first = 1;
	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (id >= t->n_ids || !t->id_str[id])
			continue; /* unknown ids are skipped */
		if (skip_special && (t->id_flags[id] & TK_ID_SPECIAL))
			continue;
		size_t l;
		const char *s = token_string(t, id, &l);
		if (t->dec_bytelevel) {
			bytelevel_token(&b, s, l);
		} else {
			if (!first)
				put(&b, " ", 1);
			put(&b, s, l);
		}
		first = 0;
	}
	lossy(&o, (const unsigned char *)b.p, b.n);
	put(&o, "", 0);
	free(b.p);
	if (b.oom || o.oom) {
		free(o.p);
		return qt_err_set(err, QT_ESOFTWARE, "tokenizer: out of memory while decoding");
	}
	o.p[o.n] = 0;
	*out = o.p;
	*len = o.n;
	return QT_OK;
}
