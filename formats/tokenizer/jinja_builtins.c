/* qlora-tools: ISC license. */
/*
 * Attributes and methods of values, and the global functions (range, dict, namespace,
 * raise_exception, strftime_now) of the Jinja subset (see jinja.h). Mutating methods fail as
 * transformers' immutable sandbox makes them fail.
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

static const char *const str_methods[] = {
	"strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace",
	"upper", "lower", "title", "capitalize", "find", "rfind", "index", "rindex", "count",
	"join", "splitlines", "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
	"format", "removeprefix", "removesuffix", "center", "ljust", "rjust", "zfill", "encode",
	"casefold", "swapcase", "partition", "rpartition", "expandtabs", "isnumeric",
	"isdecimal", "istitle", "isidentifier", "isprintable", "isascii", "translate", "format_map",
	NULL,
};
static const char *const list_methods[] = {
	"index", "count", "append", "extend", "insert", "pop", "remove", "reverse", "sort",
	"clear", "copy", NULL,
};
static const char *const dict_methods[] = {
	"items", "keys", "values", "get", "pop", "popitem", "update", "setdefault", "clear",
	"copy", "fromkeys", NULL,
};
static const char *const mutating[] = {
	"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", "popitem",
	"update", "setdefault", NULL,
};


static struct jval method(struct jrender *r, struct jval recv, const char *name)
{
	struct jval m = { .type = JV_METHOD };
	m.u.method = jr_alloc(r, sizeof *m.u.method);
	m.u.method->recv = recv;
	m.u.method->name = name;
	return m;
}

struct jval jb_getattr(struct jrender *r, int line, struct jval v, const char *name)
{
	(void)line;
	switch (v.type) {
	case JV_DICT: {
		if (!v.u.d->ns && in_list(dict_methods, name))
			return method(r, v, name);
		struct jval *e = jd_gets(v.u.d, name);
		return e ? *e : jv_undef;
	}
	case JV_STR:
		return in_list(str_methods, name) ? method(r, v, name) : jv_undef;
	case JV_LIST:
		return in_list(list_methods, name) ? method(r, v, name) : jv_undef;
	case JV_LOOP: {
		const struct jloop *l = v.u.loop;
		int64_t i = (int64_t)l->i, len = (int64_t)l->items->n;
		if (!strcmp(name, "index"))     return jv_int(i + 1);
		if (!strcmp(name, "index0"))    return jv_int(i);
		if (!strcmp(name, "revindex"))  return jv_int(len - i);
		if (!strcmp(name, "revindex0")) return jv_int(len - i - 1);
		if (!strcmp(name, "first"))     return jv_bool(i == 0);
		if (!strcmp(name, "last"))      return jv_bool(i == len - 1);
		if (!strcmp(name, "length"))    return jv_int(len);
		if (!strcmp(name, "depth"))     return jv_int(l->depth);
		if (!strcmp(name, "depth0"))    return jv_int(l->depth - 1);
		if (!strcmp(name, "previtem"))  return i > 0 ? l->items->v[i - 1] : jv_undef;
		if (!strcmp(name, "nextitem"))  return i + 1 < len ? l->items->v[i + 1] : jv_undef;
		if (!strcmp(name, "cycle"))     return method(r, v, name);
		jr_fail(r, line, "loop.%s is not implemented", name);
	}
	default:
		return jv_undef;
	}
}

struct jval jb_call_method(struct jrender *r, int line, struct jmethod *m, struct jval *a,
                           const char **kw, size_t n)
{
	struct jval v = m->recv;
	if (in_list(mutating, m->name) && v.type != JV_STR)
		jr_fail(r, line, "access to attribute '%s' of '%s' object is unsafe (chat templates "
		        "render in an immutable sandbox)", m->name, jv_type_name(v));
	if (v.type == JV_STR)
		return jstr_method(r, line, v.u.s, m->name, a, kw, n);
	if (v.type == JV_LOOP) {
		if (!n)
			jr_fail(r, line, "no items for cycling given");
		return a[v.u.loop->i % n];
	}
	struct jval a0 = arg(a, kw, n, 0, NULL, jv_none);
	if (v.type == JV_DICT) {
		const struct jdict *d = v.u.d;
		if (!strcmp(m->name, "get")) {
			struct jval *e = jd_get(d, a0);
			return e ? *e : arg(a, kw, n, 1, NULL, jv_none);
		}
		if (!strcmp(m->name, "copy")) {
			struct jval c = jv_dict(r);
			for (size_t i = 0; i < d->n; i++)
				jd_set(r, c.u.d, d->k[i], d->v[i]);
			return c;
		}
		struct jval l = jv_list(r);
		for (size_t i = 0; i < d->n; i++) {
			if (!strcmp(m->name, "items"))
				jl_push(r, l.u.l, tuple2(r, d->k[i], d->v[i]));
			else if (!strcmp(m->name, "keys"))
				jl_push(r, l.u.l, d->k[i]);
			else if (!strcmp(m->name, "values"))
				jl_push(r, l.u.l, d->v[i]);
			else
				jr_fail(r, line, "the dict method '%s' is not implemented", m->name);
		}
		return l;
	}
	if (v.type == JV_LIST) {
		const struct jlist *l = v.u.l;
		if (!strcmp(m->name, "index") || !strcmp(m->name, "count")) {
			int64_t c = 0;
			for (size_t i = 0; i < l->n; i++)
				if (jv_eq(l->v[i], a0)) {
					if (m->name[0] == 'i')
						return jv_int((int64_t)i);
					c++;
				}
			if (m->name[0] == 'i')
				jr_fail(r, line, "list.index(x): x not in list");
			return jv_int(c);
		}
		if (!strcmp(m->name, "copy")) {
			struct jval c = jv_list(r);
			for (size_t i = 0; i < l->n; i++)
				jl_push(r, c.u.l, l->v[i]);
			return c;
		}
	}
	jr_fail(r, line, "the method '%s' of '%s' is not implemented", m->name, jv_type_name(v));
}

/* ---- global functions ---- */

enum { F_RANGE, F_DICT, F_NAMESPACE, F_RAISE, F_STRFTIME, F_LIPSUM, F_CYCLER, F_JOINER };
static const char *const funcs[] = {
	"range", "dict", "namespace", "raise_exception", "strftime_now", "lipsum", "cycler",
	"joiner", NULL,
};

int jb_func_id(const char *name)
{
	for (int i = 0; funcs[i]; i++)
		if (!strcmp(funcs[i], name))
			return i;
	return -1;
}

#define MAX_RANGE 100000 /* jinja2 sandbox MAX_RANGE */

struct jval jb_call_func(struct jrender *r, int line, int func, struct jval *a, const char **kw,
                         size_t n)
{
	switch (func) {
	case F_RANGE: {
		check_kw(r, line, kw, n, NULL, "range()");
		int64_t start = 0, stop, step = 1;
		if (n == 1) {
			stop = want_int(r, line, a[0], "range");
		} else if (n == 2 || n == 3) {
			start = want_int(r, line, a[0], "range");
			stop = want_int(r, line, a[1], "range");
			if (n == 3)
				step = want_int(r, line, a[2], "range");
		} else {
			jr_fail(r, line, "range expected 1 to 3 arguments, got %zu", n);
		}
		if (!step)
			jr_fail(r, line, "range() arg 3 must not be zero");
		struct jval l = jv_list(r);
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
			if (l.u.l->n >= MAX_RANGE)
				jr_fail(r, line, "Range too big. The sandbox blocks ranges larger than "
				        "MAX_RANGE (%d).", MAX_RANGE);
			jl_push(r, l.u.l, jv_int(i));
		}
		return l;
	}
	case F_DICT:
	case F_NAMESPACE: {
		struct jval d = jv_dict(r);
		d.u.d->ns = func == F_NAMESPACE;
		for (size_t k = 0; k < n; k++) {
			if (!kw[k]) {
				if (a[k].type != JV_DICT)
					jr_fail(r, line, "%s() takes keyword arguments or a dict",
					        funcs[func]);
				for (size_t i = 0; i < a[k].u.d->n; i++)
					jd_set(r, d.u.d, a[k].u.d->k[i], a[k].u.d->v[i]);
				continue;
			}
			if (func == F_NAMESPACE && kw[k][0] == '_')
				jr_fail(r, line, "Chat templates cannot store underscore-prefixed attributes "
				        "on a namespace, but got '%s'. Please rename the attribute.", kw[k]);
			jd_set(r, d.u.d, jv_strz(r, kw[k]), a[k]);
		}
		return d;
	}
	case F_RAISE: {
		struct jval m = jv_to_str(r, arg(a, kw, n, 0, "message", jv_undef));
		jr_fail(r, line, "template error: %.*s", (int)m.u.s->n, m.u.s->p);
	}
	case F_STRFTIME: {
		const struct jstr *f = want_str(r, line, arg(a, kw, n, 0, "format", jv_undef),
		                                "strftime_now");
		char fmt[256], out[512];
		if (f->n >= sizeof fmt)
			jr_fail(r, line, "strftime_now: format too long");
		memcpy(fmt, f->p, f->n);
		fmt[f->n] = '\0';
		time_t now = (time_t)r->o->now;
		struct tm tm;
		gmtime_r(&now, &tm);
		size_t l = strftime(out, sizeof out, fmt, &tm);
		return jv_str(r, out, l, JINJA_TAG_TEMPLATE);
	}
	default:
		jr_fail(r, line, "%s() is not implemented", funcs[func]);
	}
}

