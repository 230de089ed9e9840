/* qlora-tools: ISC license. */
/*
 * Operators of the Jinja subset (see jinja.h) with Python's semantics: arithmetic (int64 or
 * double, floor division and modulo rounding towards negative infinity), concatenation of str,
 * list and markupsafe Markup, membership, subscripts and slices (str by code point).
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_num(struct jval v) { return is_intlike(v) || v.type == JV_FLOAT; }
static double fval(struct jval v) { return v.type == JV_FLOAT ? v.u.f : (double)ival(v); }

_Noreturn void jr_undef_fail(struct jrender *r, const struct jnode *n)
{
	if (n->kind == JN_NAME)
		jr_fail(r, n->line, "'%s' is undefined", n->name);
	if (n->kind == JN_ATTR)
		jr_fail(r, n->line, "undefined attribute '%s' used", n->name);
	jr_fail(r, n->line, "an undefined value used");
}

struct jval jr_binop(struct jrender *r, const struct jnode *n, struct jval a, struct jval b)
{
	int op = n->op;
	if (op == JO_CAT) {
		struct jbuf bb = { 0 };
		jv_write_str(r, &bb, a);
		jv_write_str(r, &bb, b);
		return jb_val(r, &bb);
	}
	if (a.type == JV_UNDEF)
		jr_undef_fail(r, n->a);
	if (b.type == JV_UNDEF)
		jr_undef_fail(r, n->b);
	if (is_num(a) && is_num(b)) {
		int ints = is_intlike(a) && is_intlike(b);
		int64_t x = ints ? ival(a) : 0, y = ints ? ival(b) : 0;
		double fx = fval(a), fy = fval(b);
		switch (op) {
		case JO_ADD: return ints ? jv_int(x + y) : jv_float(fx + fy);
		case JO_SUB: return ints ? jv_int(x - y) : jv_float(fx - fy);
		case JO_MUL: return ints ? jv_int(x * y) : jv_float(fx * fy);
		case JO_DIV:
			if (fy == 0)
				jr_fail(r, n->line, "division by zero");
			return jv_float(fx / fy);
		case JO_FDIV:
		case JO_MOD:
			if (fy == 0)
				jr_fail(r, n->line, "integer division or modulo by zero");
			if (ints) {
				int64_t q = x / y, m = x % y;
				if (m && ((m < 0) != (y < 0))) {
					q--;
					m += y;
				}
				return op == JO_FDIV ? jv_int(q) : jv_int(m);
			} else {
				double m = fmod(fx, fy);
				if (m && ((m < 0) != (fy < 0)))
					m += fy;
				return op == JO_FDIV ? jv_float(floor(fx / fy)) : jv_float(m);
			}
		case JO_POW:
			if (ints && y >= 0) {
				int64_t p = 1;
				for (int64_t k = 0; k < y; k++)
					p *= x;
				return jv_int(p);
			}
			return jv_float(pow(fx, fy));
		}
	}
	if (op == JO_ADD && a.type == JV_STR && b.type == JV_STR) {
		/* markupsafe: Markup + str escapes the str, and the result is Markup */
		int markup = a.u.s->markup || b.u.s->markup;
		if (markup && !a.u.s->markup)
			a = jv_html_escape(r, a);
		if (markup && !b.u.s->markup)
			b = jv_html_escape(r, b);
		struct jbuf bb = { 0 };
		jb_putstr(r, &bb, a.u.s);
		jb_putstr(r, &bb, b.u.s);
		struct jval s = jb_val(r, &bb);
		s.u.s->markup = markup;
		return s;
	}
	if (op == JO_ADD && a.type == JV_LIST && b.type == JV_LIST) {
		struct jval l = jv_list(r);
		for (size_t i = 0; i < a.u.l->n; i++)
			jl_push(r, l.u.l, a.u.l->v[i]);
		for (size_t i = 0; i < b.u.l->n; i++)
			jl_push(r, l.u.l, b.u.l->v[i]);
		l.u.l->tuple = a.u.l->tuple;
		return l;
	}
	if (op == JO_MUL && (a.type == JV_STR || a.type == JV_LIST) && is_intlike(b)) {
		struct jval t = a;
		a = b;
		b = t;
	}
	if (op == JO_MUL && is_intlike(a) && b.type == JV_STR) {
		struct jbuf bb = { 0 };
		for (int64_t k = 0; k < ival(a); k++)
			jb_putstr(r, &bb, b.u.s);
		return jb_val(r, &bb);
	}
	if (op == JO_MUL && is_intlike(a) && b.type == JV_LIST) {
		struct jval l = jv_list(r);
		for (int64_t k = 0; k < ival(a); k++)
			for (size_t i = 0; i < b.u.l->n; i++)
				jl_push(r, l.u.l, b.u.l->v[i]);
		return l;
	}
	if (op == JO_MOD && a.type == JV_STR)
		return jb_percent_format(r, n->line, a.u.s, b);
	static const char *const sym[] = { "", "+", "-", "*", "/", "//", "%", "**", "~" };
	jr_fail(r, n->line, "unsupported operand type(s) for %s: '%s' and '%s'", sym[op],
	        jv_type_name(a), jv_type_name(b));
}

int jr_contains(struct jrender *r, const struct jnode *n, struct jval item, struct jval c)
{
	switch (c.type) {
	case JV_UNDEF:
		return 0;
	case JV_STR:
		if (item.type != JV_STR)
			jr_fail(r, n->line, "'in <string>' requires string as left operand, not %s",
			        jv_type_name(item));
		if (!item.u.s->n)
			return 1;
		return memmem(c.u.s->p, c.u.s->n, item.u.s->p, item.u.s->n) != NULL;
	case JV_LIST:
		for (size_t i = 0; i < c.u.l->n; i++)
			if (jv_eq(c.u.l->v[i], item))
				return 1;
		return 0;
	case JV_DICT:
		return jd_get(c.u.d, item) != NULL;
	default:
		jr_fail(r, n->line, "argument of type '%s' is not iterable", jv_type_name(c));
	}
}

/* Python slice indices for a sequence of length len. */
static void slice_idx(struct jrender *r, const struct jnode *n, struct jval vs, struct jval ve,
                      struct jval vst, int64_t len, int64_t *start, int64_t *stop, int64_t *step)
{
	*step = 1;
	if (vst.type != JV_UNDEF && vst.type != JV_NONE) {
		if (!is_intlike(vst))
			jr_fail(r, n->line, "slice indices must be integers");
		*step = ival(vst);
		if (!*step)
			jr_fail(r, n->line, "slice step cannot be zero");
	}
	int64_t lo = *step < 0 ? -1 : 0, hi = *step < 0 ? len - 1 : len;
	struct jval b[2] = { vs, ve };
	int64_t out[2];
	for (int k = 0; k < 2; k++) {
		if (b[k].type == JV_UNDEF || b[k].type == JV_NONE) {
			out[k] = (*step < 0) == (k == 0) ? hi : lo;
			continue;
		}
		if (!is_intlike(b[k]))
			jr_fail(r, n->line, "slice indices must be integers or None");
		int64_t x = ival(b[k]);
		if (x < 0) {
			x += len;
			if (x < lo)
				x = lo;
		} else if (x > hi) {
			x = hi;
		}
		out[k] = x;
	}
	*start = out[0];
	*stop = out[1];
}

struct jval jr_slice(struct jrender *r, const struct jnode *n, struct jval v,
                            struct jval vs, struct jval ve, struct jval vst)
{
	int64_t start, stop, step;
	if (v.type == JV_LIST && v.u.l->tuple == JL_GEN)
		jr_fail(r, n->line, "'generator' object is not subscriptable");
	if (v.type == JV_LIST) {
		slice_idx(r, n, vs, ve, vst, (int64_t)v.u.l->n, &start, &stop, &step);
		struct jval l = jv_list(r);
		l.u.l->tuple = v.u.l->tuple;
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
			jl_push(r, l.u.l, v.u.l->v[i]);
		return l;
	}
	if (v.type == JV_STR) {
		const struct jstr *s = v.u.s;
		int64_t len = (int64_t)u8_len(s->p, s->n);
		slice_idx(r, n, vs, ve, vst, len, &start, &stop, &step);
		if (step == 1) {
			if (stop <= start)
				return jv_strz(r, "");
			size_t a = u8_off(s->p, s->n, (size_t)start), b = u8_off(s->p, s->n, (size_t)stop);
			return jstr_sub(r, s, a, b - a);
		}
		struct jbuf bb = { 0 };
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
			size_t a = u8_off(s->p, s->n, (size_t)i), b = u8_off(s->p, s->n, (size_t)i + 1);
			jb_put(r, &bb, s->p + a, b - a, s->tag ? s->tag + a : NULL, -1, NULL, 0);
		}
		return jb_val(r, &bb);
	}
	if (v.type == JV_UNDEF)
		jr_undef_fail(r, n->a);
	jr_fail(r, n->line, "'%s' object is not subscriptable", jv_type_name(v));
}

struct jval jr_getitem(struct jrender *r, const struct jnode *n, struct jval v, struct jval k)
{
	switch (v.type) {
	case JV_UNDEF:
		jr_undef_fail(r, n->a);
	case JV_LIST:
		if (is_intlike(k) && v.u.l->tuple != JL_GEN) {
			int64_t i = ival(k), len = (int64_t)v.u.l->n;
			if (i < 0)
				i += len;
			return i >= 0 && i < len ? v.u.l->v[i] : jv_undef;
		}
		return jv_undef;
	case JV_STR:
		if (is_intlike(k)) {
			int64_t i = ival(k), len = (int64_t)u8_len(v.u.s->p, v.u.s->n);
			if (i < 0)
				i += len;
			if (i < 0 || i >= len)
				return jv_undef;
			size_t a = u8_off(v.u.s->p, v.u.s->n, (size_t)i);
			size_t b = u8_off(v.u.s->p, v.u.s->n, (size_t)i + 1);
			return jstr_sub(r, v.u.s, a, b - a);
		}
		return k.type == JV_STR ? jb_getattr(r, n->line, v, k.u.s->p) : jv_undef;
	case JV_DICT: {
		struct jval *e = jd_get(v.u.d, k);
		if (e)
			return *e;
		if (k.type == JV_STR && !v.u.d->ns)
			return jv_undef;
		return jv_undef;
	}
	default:
		if (k.type == JV_STR)
			return jb_getattr(r, n->line, v, k.u.s->p);
		return jv_undef;
	}
}

