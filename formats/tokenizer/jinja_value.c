/* qlora-tools: ISC license. */
/*
 * Values of the Jinja subset (see jinja_int.h): constructors, lists and ordered dicts,
 * conversion from JSON, Python truth, equality and ordering, UTF-8 helpers and tagged string
 * building. Their text forms are in jinja_json.c. Everything lives in the render's arena.
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct jval jv_undef = { .type = JV_UNDEF };
const struct jval jv_none = { .type = JV_NONE };

_Noreturn void jr_fail(struct jrender *r, int line, const char *fmt, ...)
{
	char m[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (line > 0)
		qt_err_set(r->err, QT_EDATA, "line %d: %s", line, m);
	else
		qt_err_set(r->err, QT_EDATA, "%s", m);
	longjmp(r->jb, 1);
}

void *jr_alloc(struct jrender *r, size_t n)
{
	void *p = ja_alloc(&r->a, n);
	if (!p) {
		qt_err_set(r->err, QT_ESOFTWARE, "out of memory");
		longjmp(r->jb, 1);
	}
	return p;
}

struct jval jv_bool(int b) { struct jval v = { .type = JV_BOOL }; v.u.b = !!b; return v; }
struct jval jv_int(int64_t i) { struct jval v = { .type = JV_INT }; v.u.i = i; return v; }
struct jval jv_float(double f) { struct jval v = { .type = JV_FLOAT }; v.u.f = f; return v; }

struct jval jv_str(struct jrender *r, const char *p, size_t n, int32_t tag)
{
	struct jstr *s = jr_alloc(r, sizeof *s);
	char *c = jr_alloc(r, n + 1);
	memcpy(c, p, n);
	s->p = c;
	s->n = n;
	if (tag != JINJA_TAG_TEMPLATE) {
		int32_t *t = jr_alloc(r, (n ? n : 1) * sizeof *t);
		for (size_t i = 0; i < n; i++)
			t[i] = tag;
		s->tag = t;
	}
	struct jval v = { .type = JV_STR };
	v.u.s = s;
	return v;
}

struct jval jv_strz(struct jrender *r, const char *z) { return jv_str(r, z, strlen(z), -1); }

struct jval jv_list(struct jrender *r)
{
	struct jval v = { .type = JV_LIST };
	v.u.l = jr_alloc(r, sizeof *v.u.l);
	return v;
}

struct jval jv_dict(struct jrender *r)
{
	struct jval v = { .type = JV_DICT };
	v.u.d = jr_alloc(r, sizeof *v.u.d);
	return v;
}

void jl_push(struct jrender *r, struct jlist *l, struct jval v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		struct jval *nv = jr_alloc(r, cap * sizeof *nv);
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof *nv);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = v;
}

struct jval *jd_get(const struct jdict *d, struct jval k)
{
	for (size_t i = 0; i < d->n; i++)
		if (jv_eq(d->k[i], k))
			return &d->v[i];
	return NULL;
}

struct jval *jd_gets(const struct jdict *d, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < d->n; i++)
		if (d->k[i].type == JV_STR && d->k[i].u.s->n == n && !memcmp(d->k[i].u.s->p, key, n))
			return &d->v[i];
	return NULL;
}

void jd_set(struct jrender *r, struct jdict *d, struct jval k, struct jval v)
{
	struct jval *e = jd_get(d, k);
	if (e) {
		*e = v;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 4;
		struct jval *nk = jr_alloc(r, cap * sizeof *nk), *nv = jr_alloc(r, cap * sizeof *nv);
		if (d->n) {
			memcpy(nk, d->k, d->n * sizeof *nk);
			memcpy(nv, d->v, d->n * sizeof *nv);
		}
		d->k = nk;
		d->v = nv;
		d->cap = cap;
	}
	d->k[d->n] = k;
	d->v[d->n++] = v;
}

struct jval jv_from_json(struct jrender *r, const json_t *j, int32_t tag)
{
	switch (json_typeof(j)) {
	case JSON_NULL:    return jv_none;
	case JSON_TRUE:    return jv_bool(1);
	case JSON_FALSE:   return jv_bool(0);
	case JSON_INTEGER: return jv_int(json_integer_value(j));
	case JSON_REAL:    return jv_float(json_real_value(j));
	case JSON_STRING:  return jv_str(r, json_string_value(j), json_string_length(j), tag);
	case JSON_ARRAY: {
		struct jval l = jv_list(r);
		size_t i;
		json_t *e;
		json_array_foreach(j, i, e)
			jl_push(r, l.u.l, jv_from_json(r, e, tag));
		return l;
	}
	case JSON_OBJECT: {
		struct jval d = jv_dict(r);
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)j, k, e)
			jd_set(r, d.u.d, jv_strz(r, k), jv_from_json(r, e, tag));
		return d;
	}
	}
	return jv_none;
}

const char *jv_type_name(struct jval v)
{
	static const char *const names[] = {
		"undefined", "NoneType", "bool", "int", "float", "str", "list", "dict", "macro",
		"function", "method", "LoopContext",
	};
	if (v.type == JV_LIST && v.u.l->tuple)
		return v.u.l->tuple == JL_GEN ? "generator" : "tuple";
	if (v.type == JV_DICT && v.u.d->ns)
		return "Namespace";
	return names[v.type];
}

int jv_truth(struct jval v)
{
	switch (v.type) {
	case JV_UNDEF: case JV_NONE: return 0;
	case JV_BOOL:  return v.u.b;
	case JV_INT:   return v.u.i != 0;
	case JV_FLOAT: return v.u.f != 0;
	case JV_STR:   return v.u.s->n != 0;
	case JV_LIST:  return v.u.l->tuple == JL_GEN || v.u.l->n != 0;
	case JV_DICT:  return v.u.d->ns || v.u.d->n != 0;
	default:       return 1;
	}
}

static int is_num(struct jval v) { return v.type == JV_BOOL || v.type == JV_INT || v.type == JV_FLOAT; }
static double num(struct jval v)
{
	return v.type == JV_FLOAT ? v.u.f : v.type == JV_INT ? (double)v.u.i : v.u.b;
}

int jv_eq(struct jval a, struct jval b)
{
	if (is_num(a) && is_num(b)) {
		if (a.type != JV_FLOAT && b.type != JV_FLOAT)
			return (a.type == JV_INT ? a.u.i : a.u.b) == (b.type == JV_INT ? b.u.i : b.u.b);
		return num(a) == num(b);
	}
	if (a.type != b.type)
		return 0;
	switch (a.type) {
	case JV_UNDEF: case JV_NONE: return 1;
	case JV_STR:
		return a.u.s->n == b.u.s->n && !memcmp(a.u.s->p, b.u.s->p, a.u.s->n);
	case JV_LIST:
		if (a.u.l->tuple == JL_GEN || b.u.l->tuple == JL_GEN)
			return a.u.l == b.u.l;
		if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple)
			return 0;
		for (size_t i = 0; i < a.u.l->n; i++)
			if (!jv_eq(a.u.l->v[i], b.u.l->v[i]))
				return 0;
		return 1;
	case JV_DICT:
		if (a.u.d->ns || b.u.d->ns)
			return a.u.d == b.u.d;
		if (a.u.d->n != b.u.d->n)
			return 0;
		for (size_t i = 0; i < a.u.d->n; i++) {
			struct jval *o = jd_get(b.u.d, a.u.d->k[i]);
			if (!o || !jv_eq(a.u.d->v[i], *o))
				return 0;
		}
		return 1;
	default:
		return memcmp(&a.u, &b.u, sizeof a.u) == 0;
	}
}

int jv_cmp(struct jrender *r, int line, struct jval a, struct jval b)
{
	if (is_num(a) && is_num(b)) {
		if (a.type != JV_FLOAT && b.type != JV_FLOAT) {
			int64_t x = a.type == JV_INT ? a.u.i : a.u.b, y = b.type == JV_INT ? b.u.i : b.u.b;
			return (x > y) - (x < y);
		}
		double x = num(a), y = num(b);
		return (x > y) - (x < y);
	}
	if (a.type == JV_STR && b.type == JV_STR) {
		/* UTF-8 byte order is code point order, as Python compares str */
		size_t n = a.u.s->n < b.u.s->n ? a.u.s->n : b.u.s->n;
		int c = memcmp(a.u.s->p, b.u.s->p, n);
		if (c)
			return c;
		return (a.u.s->n > b.u.s->n) - (a.u.s->n < b.u.s->n);
	}
	if (a.type == JV_LIST && b.type == JV_LIST) {
		for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++)
			if (!jv_eq(a.u.l->v[i], b.u.l->v[i]))
				return jv_cmp(r, line, a.u.l->v[i], b.u.l->v[i]);
		return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
	}
	jr_fail(r, line, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a),
	        jv_type_name(b));
}

/* ---- UTF-8 ---- */

static size_t u8_clen(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static uint32_t u8_dec(const char *p, size_t n, size_t *len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t l = u8_clen(s[0]);
	if (l > n)
		l = n;
	*len = l;
	if (l == 1)
		return s[0];
	uint32_t cp = s[0] & (0xFF >> (l + 1));
	for (size_t i = 1; i < l; i++)
		cp = cp << 6 | (s[i] & 0x3F);
	return cp;
}

size_t u8_len(const char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)p[i] & 0xC0) != 0x80;
	return c;
}

size_t u8_off(const char *p, size_t n, size_t cp)
{
	size_t i = 0;
	while (cp > 0 && i < n) {
		i += u8_clen((unsigned char)p[i]);
		cp--;
	}
	return i < n ? i : n;
}

/* Python's str.isspace() set. */
int py_isspace(const char *p, size_t n, size_t *len)
{
	uint32_t c = u8_dec(p, n, len);
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

struct jval jstr_sub(struct jrender *r, const struct jstr *s, size_t off, size_t n)
{
	struct jstr *o = jr_alloc(r, sizeof *o);
	o->p = s->p + off;
	o->n = n;
	o->tag = s->tag ? s->tag + off : NULL;
	o->gen = s->gen ? s->gen + off : NULL;
	struct jval v = { .type = JV_STR };
	v.u.s = o;
	return v;
}

/* ---- building strings ---- */

void jb_put(struct jrender *r, struct jbuf *b, const char *p, size_t n, const int32_t *tag,
            int32_t tag1, const uint8_t *gen, uint8_t gen1)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np;
		int32_t *nt;
		uint8_t *ng;
		if (b->heap) {
			np = realloc(b->p, cap);
			if (np)
				b->p = np;
			nt = realloc(b->tag, cap * sizeof *nt);
			if (nt)
				b->tag = nt;
			ng = realloc(b->gen, cap);
			if (ng)
				b->gen = ng;
			if (!np || !nt || !ng) {
				qt_err_set(r->err, QT_ESOFTWARE, "out of memory");
				longjmp(r->jb, 1);
			}
		} else {
			/* arena buffers: the old block stays in the arena (at most the final size) */
			np = jr_alloc(r, cap);
			nt = jr_alloc(r, cap * sizeof *nt);
			ng = jr_alloc(r, cap);
			if (b->n) {
				memcpy(np, b->p, b->n);
				memcpy(nt, b->tag, b->n * sizeof *nt);
				memcpy(ng, b->gen, b->n);
			}
			b->p = np;
			b->tag = nt;
			b->gen = ng;
		}
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	for (size_t i = 0; i < n; i++) {
		b->tag[b->n + i] = tag ? tag[i] : tag1;
		b->gen[b->n + i] = (uint8_t)((gen ? gen[i] : gen1) | r->in_gen);
	}
	b->n += n;
	b->p[b->n] = '\0';
}

void jb_putstr(struct jrender *r, struct jbuf *b, const struct jstr *s)
{
	jb_put(r, b, s->p, s->n, s->tag, JINJA_TAG_TEMPLATE, s->gen, 0);
}

void jb_putz(struct jrender *r, struct jbuf *b, const char *z)
{
	jb_put(r, b, z, strlen(z), NULL, JINJA_TAG_TEMPLATE, NULL, 0);
}

/* The string built in b as an arena value; b is emptied (its memory kept for reuse). */
struct jval jb_val(struct jrender *r, struct jbuf *b)
{
	struct jstr *s = jr_alloc(r, sizeof *s);
	char *p = jr_alloc(r, b->n + 1);
	memcpy(p, b->p ? b->p : "", b->n);
	s->p = p;
	s->n = b->n;
	int tagged = 0, gen = 0;
	for (size_t i = 0; i < b->n; i++) {
		tagged |= b->tag[i] != JINJA_TAG_TEMPLATE;
		gen |= b->gen[i];
	}
	if (tagged) {
		int32_t *t = jr_alloc(r, b->n * sizeof *t);
		memcpy(t, b->tag, b->n * sizeof *t);
		s->tag = t;
	}
	if (gen) {
		uint8_t *g = jr_alloc(r, b->n);
		memcpy(g, b->gen, b->n);
		s->gen = g;
	}
	b->n = 0;
	struct jval v = { .type = JV_STR };
	v.u.s = s;
	return v;
}

