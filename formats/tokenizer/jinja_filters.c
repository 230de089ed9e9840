/* qlora-tools: ISC license. */
/*
 * jinja2 3.1's tests and filters for the Jinja subset (see jinja.h), with transformers'
 * tojson. map/select/reject/... return generators as jinja2 does (truthy, no len(), not JSON).
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ---- tests ---- */

static const char *const tests[] = {
	"defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number",
	"string", "mapping", "iterable", "sequence", "callable", "sameas", "eq", "equalto", "==",
	"ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in",
	"odd", "even", "divisibleby", "lower", "upper", "escaped", NULL,
};

int jb_is_test(const char *name) { return in_list(tests, name); }

int jb_test(struct jrender *r, const struct jnode *nd, const char *t, struct jval v,
            struct jval *a, size_t n)
{
	int line = nd->line;
	struct jval a0 = n ? a[0] : jv_undef;
	if (!strcmp(t, "defined"))   return v.type != JV_UNDEF;
	if (!strcmp(t, "undefined")) return v.type == JV_UNDEF;
	if (!strcmp(t, "none"))      return v.type == JV_NONE;
	if (!strcmp(t, "boolean"))   return v.type == JV_BOOL;
	if (!strcmp(t, "false"))     return v.type == JV_BOOL && !v.u.b;
	if (!strcmp(t, "true"))      return v.type == JV_BOOL && v.u.b;
	if (!strcmp(t, "integer"))   return v.type == JV_INT;
	if (!strcmp(t, "float"))     return v.type == JV_FLOAT;
	if (!strcmp(t, "number"))    return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL;
	if (!strcmp(t, "string"))    return v.type == JV_STR;
	if (!strcmp(t, "mapping"))   return v.type == JV_DICT && !v.u.d->ns;
	if (!strcmp(t, "iterable"))
		return v.type == JV_UNDEF || v.type == JV_STR || v.type == JV_LIST ||
		       v.type == JV_DICT;
	if (!strcmp(t, "sequence"))
		return v.type == JV_UNDEF || v.type == JV_STR || v.type == JV_LIST ||
		       (v.type == JV_DICT && !v.u.d->ns);
	if (!strcmp(t, "callable"))
		return v.type == JV_MACRO || v.type == JV_FUNC || v.type == JV_METHOD;
	if (!strcmp(t, "escaped"))   return 0;
	if (!n && strcmp(t, "odd") && strcmp(t, "even") && strcmp(t, "lower") && strcmp(t, "upper"))
		jr_fail(r, line, "the test '%s' needs an argument", t);
	if (!strcmp(t, "sameas")) {
		if (v.type != a0.type)
			return 0;
		if (v.type == JV_NONE || v.type == JV_UNDEF)
			return 1;
		if (v.type == JV_BOOL)
			return v.u.b == a0.u.b;
		if (v.type == JV_INT)
			return v.u.i == a0.u.i && v.u.i >= -5 && v.u.i <= 256;
		return memcmp(&v.u, &a0.u, sizeof v.u) == 0;
	}
	if (!strcmp(t, "eq") || !strcmp(t, "equalto") || !strcmp(t, "==")) return jv_eq(v, a0);
	if (!strcmp(t, "ne") || !strcmp(t, "!="))                           return !jv_eq(v, a0);
	if (!strcmp(t, "in")) {
		if (a0.type == JV_STR) {
			if (v.type != JV_STR)
				jr_fail(r, line, "'in <string>' requires string as left operand");
			return !v.u.s->n || memmem(a0.u.s->p, a0.u.s->n, v.u.s->p, v.u.s->n) != NULL;
		}
		if (a0.type == JV_LIST) {
			for (size_t i = 0; i < a0.u.l->n; i++)
				if (jv_eq(a0.u.l->v[i], v))
					return 1;
			return 0;
		}
		if (a0.type == JV_DICT)
			return jd_get(a0.u.d, v) != NULL;
		jr_fail(r, line, "argument of type '%s' is not iterable", jv_type_name(a0));
	}
	if (!strcmp(t, "odd") || !strcmp(t, "even")) {
		int64_t x = want_int(r, line, v, t);
		return ((x % 2 + 2) % 2) == (t[0] == 'o');
	}
	if (!strcmp(t, "divisibleby")) {
		int64_t x = want_int(r, line, v, t), y = want_int(r, line, a0, t);
		if (!y)
			jr_fail(r, line, "integer division or modulo by zero");
		return x % y == 0;
	}
	if (!strcmp(t, "lower") || !strcmp(t, "upper"))
		return v.type == JV_STR && jstr_class(v.u.s, t[0] == 'l' ? 'l' : 'u');
	if (!in_list(tests, t))
		jr_fail(r, line, "No test named '%s'.", t);
	int c = jv_cmp(r, line, v, a0);
	if (!strcmp(t, "lt") || !strcmp(t, "lessthan") || !strcmp(t, "<"))    return c < 0;
	if (!strcmp(t, "le") || !strcmp(t, "<="))                             return c <= 0;
	if (!strcmp(t, "gt") || !strcmp(t, "greaterthan") || !strcmp(t, ">")) return c > 0;
	return c >= 0;
}

/* ---- filters ---- */

static const char *const filters[] = {
	"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
	"float", "forceescape", "indent", "int", "items", "join", "last", "length", "list",
	"lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
	"safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim",
	"unique", "upper", "wordcount", "batch", "center", "filesizeformat", "format", "groupby",
	"pprint", "random", "slice", "striptags", "truncate", "urlencode", "urlize", "wordwrap",
	"xmlattr", NULL,
};

int jb_is_filter(const char *name) { return in_list(filters, name); }

static struct jval length_of(struct jrender *r, int line, struct jval v)
{
	switch (v.type) {
	case JV_UNDEF: return jv_int(0);
	case JV_STR:   return jv_int((int64_t)u8_len(v.u.s->p, v.u.s->n));
	case JV_LIST:
		if (v.u.l->tuple == JL_GEN)
			jr_fail(r, line, "object of type 'generator' has no len()");
		return jv_int((int64_t)v.u.l->n);
	case JV_DICT:  return jv_int((int64_t)v.u.d->n);
	default:
		jr_fail(r, line, "object of type '%s' has no len()", jv_type_name(v));
	}
}

/* An attribute path "a.b" (jinja2 make_attrgetter), with integer parts as indexes. */
static struct jval get_path(struct jrender *r, int line, struct jval v, const struct jstr *path)
{
	size_t i = 0;
	while (i <= path->n) {
		const char *dot = memchr(path->p + i, '.', path->n - i);
		size_t e = dot ? (size_t)(dot - path->p) : path->n;
		char part[128];
		size_t pl = e - i < sizeof part - 1 ? e - i : sizeof part - 1;
		memcpy(part, path->p + i, pl);
		part[pl] = '\0';
		char *end;
		long long idx = strtoll(part, &end, 10);
		if (pl && !*end && v.type == JV_LIST) {
			int64_t k = idx < 0 ? idx + (int64_t)v.u.l->n : idx;
			v = k >= 0 && k < (int64_t)v.u.l->n ? v.u.l->v[k] : jv_undef;
		} else if (v.type == JV_DICT) {
			struct jval *x = jd_gets(v.u.d, part);
			v = x ? *x : jv_undef;
		} else if (v.type == JV_UNDEF) {
			return v;
		} else {
			v = jb_getattr(r, line, v, jv_strz(r, part).u.s->p);
		}
		if (!dot)
			break;
		i = e + 1;
	}
	return v;
}

/* jinja2's sort key: strings lowercased unless case_sensitive. */
static struct jval sort_key(struct jrender *r, struct jval v, int cs)
{
	if (!cs && v.type == JV_STR)
		return jstr_case(r, v.u.s, CASE_LOWER);
	return v;
}

struct sort_ctx {
	struct jrender *r;
	int line, reverse;
	struct jval *keys;
};

/* Stable merge sort of idx by keys (Python's sort is stable; reverse keeps stability). */
static void msort(struct sort_ctx *c, size_t *idx, size_t *tmp, size_t n)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	msort(c, idx, tmp, h);
	msort(c, idx + h, tmp, n - h);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n) {
		int cmp = jv_cmp(c->r, c->line, c->keys[idx[j]], c->keys[idx[i]]);
		if (c->reverse ? cmp > 0 : cmp < 0)
			tmp[k++] = idx[j++];
		else
			tmp[k++] = idx[i++];
	}
	while (i < h)
		tmp[k++] = idx[i++];
	while (j < n)
		tmp[k++] = idx[j++];
	memcpy(idx, tmp, n * sizeof *idx);
}

static struct jval sorted(struct jrender *r, int line, struct jlist *items, struct jval *keys,
                          int reverse)
{
	size_t n = items->n, *idx = jr_alloc(r, (n + 1) * sizeof *idx);
	size_t *tmp = jr_alloc(r, (n + 1) * sizeof *tmp);
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	struct sort_ctx c = { r, line, reverse, keys };
	msort(&c, idx, tmp, n);
	struct jval out = jv_list(r);
	for (size_t i = 0; i < n; i++)
		jl_push(r, out.u.l, items->v[idx[i]]);
	return out;
}

/* select/reject/selectattr/rejectattr: keep the items whose test (or truth) is want. */
static struct jval select_items(struct jrender *r, const struct jnode *nd, struct jval v,
                                struct jval *a, size_t n, int attr, int want)
{
	struct jlist *items = jv_truth(v) ? items_of(r, nd->line, v) : jv_list(r).u.l;
	size_t base = attr ? 1 : 0;
	const struct jstr *path = attr ? want_str(r, nd->line, n ? a[0] : jv_undef, nd->name) : NULL;
	const char *test = NULL;
	if (n > base) {
		const struct jstr *ts = want_str(r, nd->line, a[base], nd->name);
		test = jv_strz(r, "").u.s->p;
		char *tz = jr_alloc(r, ts->n + 1);
		memcpy(tz, ts->p, ts->n);
		test = tz;

	}
	struct jval out = jv_list(r);
	out.u.l->tuple = JL_GEN;
	for (size_t i = 0; i < items->n; i++) {
		struct jval x = attr ? get_path(r, nd->line, items->v[i], path) : items->v[i];
		int ok = test ? jb_test(r, nd, test, x, a + base + 1, n - base - 1) : jv_truth(x);
		if (ok == want)
			jl_push(r, out.u.l, items->v[i]);
	}
	return out;
}

static struct jval do_indent(struct jrender *r, int line, struct jval v, struct jval *a,
                             const char **kw, size_t n)
{
	struct jval w = arg(a, kw, n, 0, "width", jv_int(4));
	int first = jv_truth(arg(a, kw, n, 1, "first", jv_bool(0)));
	int blank = jv_truth(arg(a, kw, n, 2, "blank", jv_bool(0)));
	struct jval ind;
	if (w.type == JV_STR) {
		ind = w;
	} else {
		struct jbuf ib = { 0 };
		for (int64_t k = 0; k < want_int(r, line, w, "indent"); k++)
			jb_putz(r, &ib, " ");
		ind = jb_val(r, &ib);
	}
	struct jbuf sb = { 0 };
	jv_write_str(r, &sb, v);
	jb_putz(r, &sb, "\n");
	struct jval s = jb_val(r, &sb);
	struct jlist *lines = jstr_splitlines(r, s.u.s).u.l;
	struct jbuf b = { 0 };
	if (first)
		jb_putstr(r, &b, ind.u.s);
	for (size_t i = 0; i < lines->n; i++) {
		if (i) {
			jb_putz(r, &b, "\n");
			if (blank || lines->v[i].u.s->n)
				jb_putstr(r, &b, ind.u.s);
		}
		jb_putstr(r, &b, lines->v[i].u.s);
	}
	return jb_val(r, &b);
}

struct jval jb_filter(struct jrender *r, const struct jnode *nd, struct jval v, struct jval *a,
                      const char **kw, size_t n)
{
	const char *f = nd->name;
	int line = nd->line;
	struct jval a0 = arg(a, kw, n, 0, NULL, jv_undef);
	if (!strcmp(f, "safe")) {
		struct jval s = jv_to_str(r, v);
		s = jstr_sub(r, s.u.s, 0, s.u.s->n);
		s.u.s->markup = 1;
		return s;
	}
	if (!strcmp(f, "length") || !strcmp(f, "count"))
		return length_of(r, line, v);
	if (!strcmp(f, "default") || !strcmp(f, "d")) {
		struct jval def = arg(a, kw, n, 0, "default_value", jv_strz(r, ""));
		int boolean = jv_truth(arg(a, kw, n, 1, "boolean", jv_bool(0)));
		return v.type == JV_UNDEF || (boolean && !jv_truth(v)) ? def : v;
	}
	if (!strcmp(f, "tojson")) {
		static const char *const ok[] = { "ensure_ascii", "indent", "separators", "sort_keys",
		                                  NULL };
		check_kw(r, line, kw, n, ok, "tojson()");
		int ascii = jv_truth(arg(a, kw, n, 0, "ensure_ascii", jv_bool(0)));
		struct jval ind = arg(a, kw, n, 1, "indent", jv_none);
		struct jval sep = arg(a, kw, n, 2, "separators", jv_none);
		int sort_keys = jv_truth(arg(a, kw, n, 3, "sort_keys", jv_bool(0)));
		int indent = ind.type == JV_NONE ? -1 : (int)want_int(r, line, ind, "tojson indent");
		const char *isep = indent >= 0 ? "," : ", ", *ksep = ": ";
		if (sep.type == JV_LIST && sep.u.l->n == 2 && sep.u.l->v[0].type == JV_STR &&
		    sep.u.l->v[1].type == JV_STR) {
			isep = sep.u.l->v[0].u.s->p;
			ksep = sep.u.l->v[1].u.s->p;
		} else if (sep.type != JV_NONE) {
			jr_fail(r, line, "tojson: separators must be a pair of strings");
		}
		struct jbuf b = { 0 };
		jv_write_json(r, line, &b, v, indent, isep, ksep, sort_keys, ascii, 0);
		return jb_val(r, &b);
	}
	if (!strcmp(f, "trim")) {
		struct jval s = jv_to_str(r, v);
		return jstr_strip(r, s.u.s, a0.type == JV_UNDEF || a0.type == JV_NONE ? NULL :
		             want_str(r, line, a0, "trim"), 1, 1);
	}
	if (!strcmp(f, "string"))
		return jv_to_str(r, v);
	if (!strcmp(f, "upper") || !strcmp(f, "lower") || !strcmp(f, "title") ||
	    !strcmp(f, "capitalize")) {
		struct jval s = jv_to_str(r, v);
		return jstr_method(r, line, s.u.s, f, NULL, NULL, 0);
	}
	if (!strcmp(f, "replace")) {
		struct jval s = jv_to_str(r, v);
		return jstr_replace(r, line, s.u.s, a0, arg(a, kw, n, 1, "new", jv_undef),
		               want_int(r, line, arg(a, kw, n, 2, "count", jv_int(-1)), "replace"));
	}
	if (!strcmp(f, "join")) {
		struct jval d = arg(a, kw, n, 0, "d", jv_strz(r, ""));
		struct jval at = arg(a, kw, n, 1, "attribute", jv_none);
		struct jlist *items = items_of(r, line, v);
		struct jbuf b = { 0 };
		for (size_t i = 0; i < items->n; i++) {
			if (i)
				jv_write_str(r, &b, d);
			struct jval x = items->v[i];
			if (at.type != JV_NONE)
				x = get_path(r, line, x, jv_to_str(r, at).u.s);
			jv_write_str(r, &b, x);
		}
		return jb_val(r, &b);
	}
	if (!strcmp(f, "items")) {
		if (v.type == JV_UNDEF)
			return jv_list(r);
		if (v.type != JV_DICT)
			jr_fail(r, line, "can only get item pairs from a mapping");
		struct jmethod m = { v, "items" };
		struct jval l = jb_call_method(r, line, &m, NULL, NULL, 0);
		l.u.l->tuple = JL_GEN;
		return l;
	}
	if (!strcmp(f, "list")) {
		struct jlist *items = items_of(r, line, v);
		struct jval l = jv_list(r);
		for (size_t i = 0; i < items->n; i++)
			jl_push(r, l.u.l, items->v[i]);
		return l;
	}
	if (!strcmp(f, "first") || !strcmp(f, "last")) {
		struct jlist *items = items_of(r, line, v);
		if (!items->n)
			return jv_undef;
		return items->v[f[0] == 'f' ? 0 : items->n - 1];
	}
	if (!strcmp(f, "reverse")) {
		if (v.type == JV_STR) {
			struct jlist *chars = items_of(r, line, v);
			struct jbuf b = { 0 };
			for (size_t i = chars->n; i-- > 0;)
				jb_putstr(r, &b, chars->v[i].u.s);
			return jb_val(r, &b);
		}
		struct jlist *items = items_of(r, line, v);
		struct jval l = jv_list(r);
		for (size_t i = items->n; i-- > 0;)
			jl_push(r, l.u.l, items->v[i]);
		l.u.l->tuple = JL_GEN; /* reversed(): an iterator */
		return l;
	}
	if (!strcmp(f, "map")) {
		struct jlist *items = jv_truth(v) ? items_of(r, line, v) : jv_list(r).u.l;
		struct jval at = arg(a, kw, n, (size_t)-1, "attribute", jv_undef);
		struct jval l = jv_list(r);
		l.u.l->tuple = JL_GEN;
		if (at.type != JV_UNDEF) {
			struct jval def = arg(a, kw, n, (size_t)-1, "default", jv_undef);
			for (size_t i = 0; i < items->n; i++) {
				struct jval x = get_path(r, line, items->v[i], jv_to_str(r, at).u.s);
				jl_push(r, l.u.l, x.type == JV_UNDEF && def.type != JV_UNDEF ? def : x);
			}
			return l;
		}
		const struct jstr *fname = want_str(r, line, a0, "map");
		struct jnode sub = *nd;
		char *fz = jr_alloc(r, fname->n + 1);
		memcpy(fz, fname->p, fname->n);
		sub.name = fz;

		for (size_t i = 0; i < items->n; i++)
			jl_push(r, l.u.l, jb_filter(r, &sub, items->v[i], a + 1, kw ? kw + 1 : NULL,
			                            n - 1));
		return l;
	}
	if (!strcmp(f, "select"))     return select_items(r, nd, v, a, n, 0, 1);
	if (!strcmp(f, "reject"))     return select_items(r, nd, v, a, n, 0, 0);
	if (!strcmp(f, "selectattr")) return select_items(r, nd, v, a, n, 1, 1);
	if (!strcmp(f, "rejectattr")) return select_items(r, nd, v, a, n, 1, 0);
	if (!strcmp(f, "sort") || !strcmp(f, "unique") || !strcmp(f, "min") || !strcmp(f, "max")) {
		int s = f[0] == 's';
		int reverse = s && jv_truth(arg(a, kw, n, 0, "reverse", jv_bool(0)));
		int cs = jv_truth(arg(a, kw, n, s ? 1 : 0, "case_sensitive", jv_bool(0)));
		struct jval at = arg(a, kw, n, s ? 2 : 1, "attribute", jv_none);
		struct jlist *items = items_of(r, line, v);
		struct jval *keys = jr_alloc(r, (items->n + 1) * sizeof *keys);
		for (size_t i = 0; i < items->n; i++) {
			struct jval x = items->v[i];
			if (at.type != JV_NONE)
				x = get_path(r, line, x, jv_to_str(r, at).u.s);
			keys[i] = sort_key(r, x, cs);
		}
		if (s)
			return sorted(r, line, items, keys, reverse);
		if (f[0] == 'u') {
			struct jval out = jv_list(r), seen = jv_list(r);
			out.u.l->tuple = JL_GEN;
			for (size_t i = 0; i < items->n; i++) {
				int dup = 0;
				for (size_t k = 0; k < seen.u.l->n && !dup; k++)
					dup = jv_eq(seen.u.l->v[k], keys[i]);
				if (!dup) {
					jl_push(r, seen.u.l, keys[i]);
					jl_push(r, out.u.l, items->v[i]);
				}
			}
			return out;
		}
		if (!items->n)
			return jv_undef;
		size_t best = 0;
		for (size_t i = 1; i < items->n; i++) {
			int c = jv_cmp(r, line, keys[i], keys[best]);
			if (f[1] == 'i' ? c < 0 : c > 0)
				best = i;
		}
		return items->v[best];
	}
	if (!strcmp(f, "dictsort")) {
		if (v.type != JV_DICT)
			jr_fail(r, line, "dictsort: expected a mapping");
		int cs = jv_truth(arg(a, kw, n, 0, "case_sensitive", jv_bool(0)));
		struct jval by = arg(a, kw, n, 1, "by", jv_strz(r, "key"));
		int reverse = jv_truth(arg(a, kw, n, 2, "reverse", jv_bool(0)));
		int by_value = by.type == JV_STR && !strcmp(by.u.s->p, "value");
		struct jmethod m = { v, "items" };
		struct jval pairs = jb_call_method(r, line, &m, NULL, NULL, 0);
		struct jval *keys = jr_alloc(r, (pairs.u.l->n + 1) * sizeof *keys);
		for (size_t i = 0; i < pairs.u.l->n; i++)
			keys[i] = sort_key(r, pairs.u.l->v[i].u.l->v[by_value], cs);
		return sorted(r, line, pairs.u.l, keys, reverse);
	}
	if (!strcmp(f, "int")) {
		struct jval def = arg(a, kw, n, 0, "default", jv_int(0));
		if (is_intlike(v))
			return jv_int(ival(v));
		if (v.type == JV_FLOAT)
			return jv_int((int64_t)v.u.f);
		if (v.type == JV_STR) {
			char buf[64];
			struct jval t = jstr_strip(r, v.u.s, NULL, 1, 1);
			if (t.u.s->n && t.u.s->n < sizeof buf) {
				memcpy(buf, t.u.s->p, t.u.s->n);
				buf[t.u.s->n] = '\0';
				char *end;
				long long x = strtoll(buf, &end, 10);
				if (!*end)
					return jv_int(x);
				double d = strtod(buf, &end);
				if (!*end && isfinite(d))
					return jv_int((int64_t)d);
			}
		}
		return def;
	}
	if (!strcmp(f, "float")) {
		struct jval def = arg(a, kw, n, 0, "default", jv_float(0));
		if (is_intlike(v))
			return jv_float((double)ival(v));
		if (v.type == JV_FLOAT)
			return v;
		if (v.type == JV_STR) {
			char buf[64];
			struct jval t = jstr_strip(r, v.u.s, NULL, 1, 1);
			if (t.u.s->n && t.u.s->n < sizeof buf) {
				memcpy(buf, t.u.s->p, t.u.s->n);
				buf[t.u.s->n] = '\0';
				char *end;
				double d = strtod(buf, &end);
				if (!*end)
					return jv_float(d);
			}
		}
		return def;
	}
	if (!strcmp(f, "abs")) {
		if (is_intlike(v))
			return jv_int(llabs(ival(v)));
		if (v.type == JV_FLOAT)
			return jv_float(fabs(v.u.f));
		jr_fail(r, line, "bad operand type for abs(): '%s'", jv_type_name(v));
	}
	if (!strcmp(f, "sum")) {
		struct jval at = arg(a, kw, n, 0, "attribute", jv_none);
		struct jval acc = arg(a, kw, n, 1, "start", jv_int(0));
		struct jlist *items = items_of(r, line, v);
		for (size_t i = 0; i < items->n; i++) {
			struct jval x = items->v[i];
			if (at.type != JV_NONE)
				x = get_path(r, line, x, jv_to_str(r, at).u.s);
			if (is_intlike(acc) && is_intlike(x))
				acc = jv_int(ival(acc) + ival(x));
			else if ((is_intlike(acc) || acc.type == JV_FLOAT) &&
			         (is_intlike(x) || x.type == JV_FLOAT))
				acc = jv_float((acc.type == JV_FLOAT ? acc.u.f : (double)ival(acc)) +
				               (x.type == JV_FLOAT ? x.u.f : (double)ival(x)));
			else
				jr_fail(r, line, "sum: unsupported operand types");
		}
		return acc;
	}
	if (!strcmp(f, "attr")) {
		const struct jstr *nm = want_str(r, line, a0, "attr");
		if (v.type == JV_DICT)
			return jv_undef; /* jinja2's attr never looks up items */
		return jb_getattr(r, line, v, nm->p);
	}
	if (!strcmp(f, "indent"))
		return do_indent(r, line, v, a, kw, n);
	if (!strcmp(f, "escape") || !strcmp(f, "e") || !strcmp(f, "forceescape"))
		return jv_html_escape(r, v);
	if (!strcmp(f, "wordcount")) {
		struct jval s = jv_to_str(r, v);
		int64_t c = 0;
		int in = 0;
		for (size_t i = 0; i < s.u.s->n; i++) {
			unsigned char ch = (unsigned char)s.u.s->p[i];
			int w = ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			        (ch >= 'A' && ch <= 'Z') || ch == '_';
			c += w && !in;
			in = w;
		}
		return jv_int(c);
	}
	if (!strcmp(f, "round")) {
		int64_t prec = want_int(r, line, arg(a, kw, n, 0, "precision", jv_int(0)), "round");
		struct jval meth = arg(a, kw, n, 1, "method", jv_strz(r, "common"));
		double x = is_intlike(v) ? (double)ival(v) : v.type == JV_FLOAT ? v.u.f : NAN;
		if (isnan(x) && v.type != JV_FLOAT)
			jr_fail(r, line, "round: expected a number");
		double p = pow(10, (double)prec), y = x * p;
		const char *m = meth.type == JV_STR ? meth.u.s->p : "";
		/* Python's round() rounds half to even */
		y = !strcmp(m, "floor") ? floor(y) : !strcmp(m, "ceil") ? ceil(y) : nearbyint(y);
		return jv_float(y / p);
	}
	if (in_list(filters, f))
		jr_fail(r, line, "the filter '%s' is not implemented", f);
	jr_fail(r, line, "No filter named '%s'.", f);
}

