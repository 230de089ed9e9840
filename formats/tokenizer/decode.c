/* qlora-tools: ISC license. */
/*
 * tokenizer_decode: ids to text as HF Tokenizer::decode (reference.md 1.1, 1.4): token
 * strings (added tokens first), special ones dropped on request, then the decoders in order
 * (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace; a Sequence is flattened), each
 * turning a list of strings into another as HF's decode_chain, joined (with no decoder: by
 * " "), then Rust's String::from_utf8_lossy.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "formats/tokenizer/internal.h"

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
static void bytelevel_token(struct qt_buf *b, const char *s, size_t n)
{
	size_t i, l;
	for (i = 0; i < n; i += l)
		if (char_byte(tk_utf8_next((const unsigned char *)s + i, &l)) < 0) {
			qt_buf_add(b, s, n);
			return;
		}
	for (i = 0; i < n; i += l) {
		char c = (char)char_byte(tk_utf8_next((const unsigned char *)s + i, &l));
		qt_buf_add(b, &c, 1);
	}
}

/* Rust String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD. */
static void lossy(struct qt_buf *o, const unsigned char *s, size_t n)
{
	static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x80) {
			size_t j = i + 1;
			while (j < n && s[j] < 0x80)
				j++;
			qt_buf_add(o, s + i, j - i);
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
			qt_buf_add(o, fffd, 3);
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
			qt_buf_add(o, s + i, j - i);
		else
			qt_buf_add(o, fffd, 3);
		i = j;
	}
}

/* The string HF decodes an id to: an added token's normalized form when the normalizer
 * changed it (HF's normalized_cache), else its content or the vocab string. */
static const char *token_string(const struct tokenizer *t, uint32_t id, size_t *len)
{
	for (uint32_t i = 0; i < t->n_added && t->n_norms; i++)
		if (t->added[i].id == id && t->added[i].normalized &&
		    (t->added[i].plen != t->added[i].len ||
		     memcmp(t->added[i].pattern, t->added[i].content, t->added[i].len) != 0)) {
			*len = t->added[i].plen;
			return t->added[i].pattern;
		}
	*len = t->id_len[id];
	return t->id_str[id];
}

/* ---- a list of token strings ---- */

struct toks {
	struct qt_buf b;       /* the strings, back to back */
	size_t *off;          /* token i is b.p[off[i] .. off[i + 1]) */
	size_t n, cap;
	int oom;
};

/* Starts a new (empty) token; the bytes put into t->b after it belong to it. */
static void tok_new(struct toks *t)
{
	if (t->n + 2 > t->cap) {
		size_t c = t->cap ? t->cap * 2 : 64;
		size_t *o = realloc(t->off, c * sizeof *o);
		if (!o) {
			t->oom = 1;
			return;
		}
		t->off = o;
		t->cap = c;
		if (t->n == 0)
			t->off[0] = 0;
	}
	t->n++;
	t->off[t->n] = t->b.n;
}

static void tok_put(struct toks *t, const void *s, size_t n)
{
	qt_buf_add(&t->b, s, n);
	if (t->n && !t->b.oom)
		t->off[t->n] = t->b.n;
}

static void toks_free(struct toks *t)
{
	free(t->b.p);
	free(t->off);
}

#define TOK(t, i) ((t)->b.p ? (t)->b.p + (t)->off[i] : "") /* no buffer: all empty */
#define TOKLEN(t, i) ((t)->off[(i) + 1] - (t)->off[i])

/* "<0xHH>" as Rust's u8::from_str_radix(&token[3..5], 16) reads it, or -1. */
static int fallback_byte(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	int v = 0, k = 3;
	if (s[3] == '+') /* from_str_radix accepts a leading plus */
		k = 4;
	for (; k < 5; k++) {
		char c = s[k];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		        c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* The bytes collected from <0xHH> tokens: one token if they are valid UTF-8, else one U+FFFD
 * token per byte (HF ByteFallback). */
static void flush_bytes(struct toks *o, struct qt_buf *pend)
{
	if (pend->n == 0)
		return;
	struct qt_buf chk = { 0 };
	lossy(&chk, (const unsigned char *)pend->p, pend->n);
	if (!chk.oom && chk.n == pend->n && memcmp(chk.p, pend->p, pend->n) == 0) {
		tok_new(o);
		tok_put(o, pend->p, pend->n);
	} else {
		for (size_t i = 0; i < pend->n; i++) {
			tok_new(o);
			tok_put(o, "\xEF\xBF\xBD", 3);
		}
	}
	o->oom |= chk.oom;
	free(chk.p);
	pend->n = 0;
}

/* One decoder step: in -> out (HF decode_chain). */
static void step(const struct tk_dec *d, const struct toks *in, struct toks *o)
{
	struct qt_buf pend = { 0 };
	if (d->kind == TK_DEC_BYTELEVEL || d->kind == TK_DEC_FUSE) {
		struct qt_buf raw = { 0 };
		for (size_t i = 0; i < in->n; i++) {
			if (d->kind == TK_DEC_BYTELEVEL)
				bytelevel_token(&raw, TOK(in, i), TOKLEN(in, i));
			else
				qt_buf_add(&raw, TOK(in, i), TOKLEN(in, i));
		}
		tok_new(o);
		if (d->kind == TK_DEC_BYTELEVEL) {
			struct qt_buf l = { 0 };
			lossy(&l, (const unsigned char *)raw.p, raw.n);
			tok_put(o, l.p, l.n);
			o->oom |= l.oom;
			free(l.p);
		} else {
			tok_put(o, raw.p, raw.n);
		}
		o->oom |= raw.oom;
		free(raw.p);
		return;
	}
	for (size_t i = 0; i < in->n; i++) {
		const char *s = TOK(in, i);
		size_t n = TOKLEN(in, i), l;
		switch (d->kind) {
		case TK_DEC_BYTEFALLBACK: {
			int b = fallback_byte(s, n);
			if (b >= 0) {
				char c = (char)b;
				qt_buf_add(&pend, &c, 1);
				continue;
			}
			flush_bytes(o, &pend);
			tok_new(o);
			tok_put(o, s, n);
			break;
		}
		case TK_DEC_REPLACE:
		case TK_DEC_METASPACE: {
			tok_new(o);
			/* Metaspace: the replacement becomes ' ', except in the first token (unless
			 * prepend_scheme is "never"), where every replacement is dropped */
			int drop = d->kind == TK_DEC_METASPACE && i == 0 && d->prepend;
			const char *b = d->kind == TK_DEC_METASPACE ? " " : d->b;
			size_t bl = d->kind == TK_DEC_METASPACE ? (size_t)!drop : d->blen;
			for (size_t k = 0; k < n;) {
				if (n - k >= d->alen && memcmp(s + k, d->a, d->alen) == 0) {
					tok_put(o, b, bl);
					k += d->alen;
				} else {
					tok_put(o, s + k, 1);
					k++;
				}
			}
			break;
		}
		case TK_DEC_STRIP: {
			size_t a = 0, e = n, k;
			for (k = 0; k < d->start && a < e && n - a >= d->alen &&
			     memcmp(s + a, d->a, d->alen) == 0; k++)
				a += d->alen;
			for (k = 0; k < d->stop && e > a && e - a >= d->alen &&
			     memcmp(s + e - d->alen, d->a, d->alen) == 0; k++)
				e -= d->alen;
			tok_new(o);
			tok_put(o, s + a, e - a);
			(void)l;
			break;
		}
		default:
			break;
		}
	}
	flush_bytes(o, &pend);
	o->oom |= pend.oom;
	free(pend.p);
}

int tokenizer_decode(const struct tokenizer *t, const uint32_t *ids, size_t n,
                     int skip_special, char **out, size_t *len, struct qt_err *err)
{
	struct toks a = { 0 }, b = { 0 };
	struct qt_buf o = { 0 }, j = { 0 };
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
		tok_new(&a);
		tok_put(&a, s, l);
	}
	for (uint32_t k = 0; k < t->n_decs && !a.oom && !a.b.oom; k++) {
		step(&t->decs[k], &a, &b);
		toks_free(&a);
		a = b;
		memset(&b, 0, sizeof b);
	}
	for (size_t i = 0; i < a.n; i++) {
		if (i && !t->has_decoder)
			qt_buf_add(&j, " ", 1);
		qt_buf_add(&j, TOK(&a, i), TOKLEN(&a, i));
	}
	lossy(&o, (const unsigned char *)j.p, j.n);
	qt_buf_add(&o, "", 0);
	int oom = a.oom || a.b.oom || j.oom || o.oom;
	toks_free(&a);
	free(j.p);
	if (oom) {
		free(o.p);
		return qt_err_set(err, QT_ESOFTWARE, "tokenizer: out of memory while decoding");
	}
	o.p[o.n] = 0;
	*out = o.p;
	*len = o.n;
	return QT_OK;
}

/* ---- loading ---- */

static int load_one(struct tokenizer *t, json_t *d, const char *field, const char *path,
                    struct qt_err *err)
{
	const char *type = json_string_value(json_object_get(d, "type"));
	if (!json_is_object(d) || !type)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object with a \"type\"", path,
		                  field);
	if (strcmp(type, "Sequence") == 0) {
		json_t *a = json_object_get(d, "decoders");
		if (!json_is_array(a))
			return qt_err_set(err, QT_EDATA, "%s: %s.decoders: expected an array", path,
			                  field);
		for (size_t i = 0; i < json_array_size(a); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.decoders[%zu]", field, i);
			int rc = load_one(t, json_array_get(a, i), sub, path, err);
			if (rc != QT_OK)
				return rc;
		}
		return QT_OK;
	}
	static const char *const names[] = {
		[TK_DEC_BYTELEVEL] = "ByteLevel", [TK_DEC_REPLACE] = "Replace",
		[TK_DEC_BYTEFALLBACK] = "ByteFallback", [TK_DEC_FUSE] = "Fuse",
		[TK_DEC_STRIP] = "Strip", [TK_DEC_METASPACE] = "Metaspace",
	};
	size_t k;
	for (k = 0; k < sizeof names / sizeof *names; k++)
		if (strcmp(type, names[k]) == 0)
			break;
	if (k == sizeof names / sizeof *names)
		return qt_err_set(err, QT_EDATA, "%s: %s.type: unsupported decoder \"%s\" (supported: "
		                  "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, "
		                  "Sequence)", path, field, type);
	struct tk_dec *x = realloc(t->decs, (t->n_decs + 1) * sizeof *x);
	if (!x)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	t->decs = x;
	x = &x[t->n_decs++];
	memset(x, 0, sizeof *x);
	x->kind = (enum tk_dec_kind)k;
	int rc = QT_OK;
	if (x->kind == TK_DEC_REPLACE) {
		if ((rc = tk_json_pattern(d, field, path, &x->a, &x->alen, err)) == QT_OK)
			rc = tk_json_str(d, "content", 0, field, path, &x->b, &x->blen, err);
	} else if (x->kind == TK_DEC_STRIP) {
		json_t *a = json_object_get(d, "start"), *b = json_object_get(d, "stop");
		if ((rc = tk_json_str(d, "content", 1, field, path, &x->a, &x->alen, err)) != QT_OK)
			return rc;
		if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
		    json_integer_value(b) < 0 || json_integer_value(a) > 1000000 ||
		    json_integer_value(b) > 1000000)
			return qt_err_set(err, QT_EDATA, "%s: %s: expected start and stop (counts of "
			                  "characters)", path, field);
		x->start = (uint32_t)json_integer_value(a);
		x->stop = (uint32_t)json_integer_value(b);
	} else if (x->kind == TK_DEC_METASPACE) {
		if ((rc = tk_json_str(d, "replacement", 1, field, path, &x->a, &x->alen, err)))
			return rc;
		enum tk_prepend ps;
		if ((rc = tk_json_prepend_scheme(d, field, path, &ps, err)) != QT_OK)
			return rc;
		x->prepend = ps != TK_PREPEND_NEVER;
	}
	return rc;
}

int tk_decoder_load(struct tokenizer *t, json_t *d, const char *path, struct qt_err *err)
{
	if (!d || json_is_null(d))
		return QT_OK;
	t->has_decoder = 1;
	return load_one(t, d, "decoder", path, err);
}

void tk_decoder_free(struct tokenizer *t)
{
	for (uint32_t i = 0; i < t->n_decs; i++) {
		free(t->decs[i].a);
		free(t->decs[i].b);
	}
	free(t->decs);
}
