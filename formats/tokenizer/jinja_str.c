/* qlora-tools: ISC license. */
/*
 * Python str methods for the Jinja subset (see jinja.h): strip, split, replace, case
 * mapping, find, format, % formatting and the is* classes, as CPython 3 defines them, on strings
 * whose byte tags follow the bytes they came from.
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ---- strings ---- */

/* Does code point at s belong to the set chars (NULL: Python whitespace)? Its length in *len. */
static int jstr_in_set(const char *s, size_t n, const struct jstr *chars, size_t *len)
{
	if (!chars)
		return py_isspace(s, n, len);
	size_t l = u8_off(s, n, 1);
	*len = l;
	for (size_t i = 0; i < chars->n;) {
		size_t cl = u8_off(chars->p + i, chars->n - i, 1);
		if (cl == l && !memcmp(chars->p + i, s, l))
			return 1;
		i += cl;
	}
	return 0;
}

struct jval jstr_strip(struct jrender *r, const struct jstr *s, const struct jstr *chars,
                         int left, int right)
{
	size_t a = 0, b = s->n, l;
	if (left)
		while (a < b && jstr_in_set(s->p + a, b - a, chars, &l))
			a += l;
	if (right) {
		size_t keep = a;
		for (size_t i = a; i < b;) {
			int w = jstr_in_set(s->p + i, b - i, chars, &l);
			i += l;
			if (!w)
				keep = i;
		}
		b = keep;
	}
	return jstr_sub(r, s, a, b - a);
}

struct jval jstr_split(struct jrender *r, int line, const struct jstr *s, struct jval sepv,
                         int64_t maxsplit, int from_right)
{
	struct jval out = jv_list(r);
	if (sepv.type == JV_NONE || sepv.type == JV_UNDEF) {
		/* runs of whitespace; no empty strings */
		size_t i = 0, l;
		int64_t done = 0;
		if (from_right) {
			/* collect left to right, then merge the leading part when maxsplit is hit */
			struct jval all = jstr_split(r, line, s, sepv, -1, 0);
			size_t n = all.u.l->n;
			if (maxsplit < 0 || (size_t)maxsplit >= n || n == 0)
				return all;
			size_t first = n - (size_t)maxsplit;
			/* the first part spans from the start of word 0 to the end of word first-1 */
			const struct jstr *wl = all.u.l->v[first - 1].u.s;
			jl_push(r, out.u.l, jstr_sub(r, s, 0, (size_t)(wl->p + wl->n - s->p)));
			for (size_t k = first; k < n; k++)
				jl_push(r, out.u.l, all.u.l->v[k]);
			return out;
		}
		for (;;) {
			while (i < s->n && py_isspace(s->p + i, s->n - i, &l))
				i += l;
			if (i >= s->n)
				break;
			if (maxsplit >= 0 && done >= maxsplit) {
				jl_push(r, out.u.l, jstr_sub(r, s, i, s->n - i));
				break;
			}
			size_t j = i;
			while (j < s->n && !py_isspace(s->p + j, s->n - j, &l))
				j += u8_off(s->p + j, s->n - j, 1);
			jl_push(r, out.u.l, jstr_sub(r, s, i, j - i));
			done++;
			i = j;
		}
		return out;
	}
	const struct jstr *sep = want_str(r, line, sepv, "split");
	if (!sep->n)
		jr_fail(r, line, "empty separator");
	if (from_right) {
		/* split from the right: collect in reverse, then reverse */
		struct jval rev = jv_list(r);
		size_t end = s->n;
		int64_t done = 0;
		while (maxsplit < 0 || done < maxsplit) {
			size_t found = (size_t)-1;
			for (size_t k = end; k >= sep->n; k--)
				if (!memcmp(s->p + k - sep->n, sep->p, sep->n)) {
					found = k - sep->n;
					break;
				}
			if (found == (size_t)-1)
				break;
			jl_push(r, rev.u.l, jstr_sub(r, s, found + sep->n, end - found - sep->n));
			end = found;
			done++;
		}
		jl_push(r, rev.u.l, jstr_sub(r, s, 0, end));
		for (size_t k = rev.u.l->n; k-- > 0;)
			jl_push(r, out.u.l, rev.u.l->v[k]);
		return out;
	}
	size_t i = 0;
	int64_t done = 0;
	for (;;) {
		const char *f = maxsplit >= 0 && done >= maxsplit ? NULL :
		                memmem(s->p + i, s->n - i, sep->p, sep->n);
		if (!f) {
			jl_push(r, out.u.l, jstr_sub(r, s, i, s->n - i));
			break;
		}
		size_t at = (size_t)(f - s->p);
		jl_push(r, out.u.l, jstr_sub(r, s, i, at - i));
		i = at + sep->n;
		done++;
	}
	return out;
}

struct jval jstr_replace(struct jrender *r, int line, const struct jstr *s, struct jval ov,
                           struct jval nv, int64_t count)
{
	const struct jstr *o = want_str(r, line, ov, "replace"), *nw;
	struct jval nvs = jv_to_str(r, nv);
	nw = nvs.u.s;
	struct jbuf b = { 0 };
	size_t i = 0;
	int64_t done = 0;
	if (!o->n) {
		/* Python inserts new between every character and at both ends */
		for (;;) {
			if (count >= 0 && done >= count)
				break;
			jb_putstr(r, &b, nw);
			done++;
			if (i >= s->n)
				break;
			size_t l = u8_off(s->p + i, s->n - i, 1);
			jb_put(r, &b, s->p + i, l, s->tag ? s->tag + i : NULL, -1,
			       s->gen ? s->gen + i : NULL, 0);
			i += l;
		}
		jb_put(r, &b, s->p + i, s->n - i, s->tag ? s->tag + i : NULL, -1,
		       s->gen ? s->gen + i : NULL, 0);
		return jb_val(r, &b);
	}
	for (;;) {
		const char *f = count >= 0 && done >= count ? NULL :
		                memmem(s->p + i, s->n - i, o->p, o->n);
		size_t at = f ? (size_t)(f - s->p) : s->n;
		jb_put(r, &b, s->p + i, at - i, s->tag ? s->tag + i : NULL, -1,
		       s->gen ? s->gen + i : NULL, 0);
		if (!f)
			break;
		jb_putstr(r, &b, nw);
		i = at + o->n;
		done++;
	}
	return jb_val(r, &b);
}


/* Case mapping by code point (utf8proc's simple mappings); tags follow the code points. */
struct jval jstr_case(struct jrender *r, const struct jstr *s, int mode)
{
	struct jbuf b = { 0 };
	int prev_cased = 0;
	for (size_t i = 0; i < s->n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s->p + i,
		                                      (utf8proc_ssize_t)(s->n - i), &cp);
		if (l <= 0) {
			cp = (unsigned char)s->p[i];
			l = 1;
		}
		utf8proc_int32_t m = cp;
		int upper;
		switch (mode) {
		case CASE_UPPER: upper = 1; break;
		case CASE_LOWER: upper = 0; break;
		case CASE_TITLE: upper = !prev_cased; break;
		default:         upper = i == 0; break;
		}
		if (upper && cp == 0xDF) {
			/* SpecialCasing: U+00DF ß upper-cases to "SS" ("Ss" in title case) */
			jb_put(r, &b, mode == CASE_UPPER ? "SS" : "Ss", 2, NULL, s->tag ? s->tag[i] : -1,
			       NULL, s->gen ? s->gen[i] : 0);
			prev_cased = 1;
			i += (size_t)l;
			continue;
		}
		m = upper ? (mode == CASE_TITLE ? utf8proc_totitle(cp) : utf8proc_toupper(cp))
		          : utf8proc_tolower(cp);
		const utf8proc_property_t *pr = utf8proc_get_property(cp);
		prev_cased = pr->category == UTF8PROC_CATEGORY_LU || pr->category == UTF8PROC_CATEGORY_LL ||
		             pr->category == UTF8PROC_CATEGORY_LT;
		utf8proc_uint8_t enc[4];
		utf8proc_ssize_t el = utf8proc_encode_char(m, enc);
		jb_put(r, &b, (const char *)enc, (size_t)el, NULL, s->tag ? s->tag[i] : -1, NULL,
		       s->gen ? s->gen[i] : 0);
		i += (size_t)l;
	}
	return jb_val(r, &b);
}

static int jstr_starts_with(const struct jstr *s, const struct jstr *p, int end)
{
	if (p->n > s->n)
		return 0;
	return !memcmp(end ? s->p + s->n - p->n : s->p, p->p, p->n);
}

static struct jval jstr_affix(struct jrender *r, int line, const struct jstr *s, struct jval a,
                              int end)
{
	if (a.type == JV_LIST && a.u.l->tuple) {
		for (size_t i = 0; i < a.u.l->n; i++)
			if (jstr_starts_with(s, want_str(r, line, a.u.l->v[i], "startswith"), end))
				return jv_bool(1);
		return jv_bool(0);
	}
	return jv_bool(jstr_starts_with(s, want_str(r, line, a, end ? "endswith" : "startswith"), end));
}

/* Python str.splitlines() line boundaries. */
static size_t jstr_line_break(const char *p, size_t n, size_t *len)
{
	unsigned char c = (unsigned char)p[0];
	if (c == '\r') {
		*len = n > 1 && p[1] == '\n' ? 2 : 1;
		return 1;
	}
	if (c == '\n' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E)) {
		*len = 1;
		return 1;
	}
	if (n >= 2 && c == 0xC2 && (unsigned char)p[1] == 0x85) {
		*len = 2;
		return 1;
	}
	if (n >= 3 && c == 0xE2 && (unsigned char)p[1] == 0x80 &&
	    ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9)) {
		*len = 3;
		return 1;
	}
	return 0;
}

struct jval jstr_splitlines(struct jrender *r, const struct jstr *s)
{
	struct jval out = jv_list(r);
	size_t i = 0, start = 0, l;
	while (i < s->n) {
		if (jstr_line_break(s->p + i, s->n - i, &l)) {
			jl_push(r, out.u.l, jstr_sub(r, s, start, i - start));
			i += l;
			start = i;
		} else {
			i++;
		}
	}
	if (start < s->n)
		jl_push(r, out.u.l, jstr_sub(r, s, start, s->n - start));
	return out;
}

/* str.format with {} / {0} / {name} fields and no format specs. */
static struct jval jstr_format(struct jrender *r, int line, const struct jstr *s,
                              struct jval *args, const char **kw, size_t n)
{
	struct jbuf b = { 0 };
	size_t auto_i = 0;
	for (size_t i = 0; i < s->n; i++) {
		char c = s->p[i];
		if ((c == '{' || c == '}') && i + 1 < s->n && s->p[i + 1] == c) {
			jb_put(r, &b, &c, 1, NULL, s->tag ? s->tag[i] : -1, NULL, 0);
			i++;
			continue;
		}
		if (c == '}')
			jr_fail(r, line, "single '}' encountered in format string");
		if (c != '{') {
			jb_put(r, &b, s->p + i, 1, NULL, s->tag ? s->tag[i] : -1, NULL, 0);
			continue;
		}
		const char *e = memchr(s->p + i, '}', s->n - i);
		if (!e)
			jr_fail(r, line, "single '{' encountered in format string");
		size_t fl = (size_t)(e - s->p) - i - 1;
		char field[64];
		if (fl >= sizeof field || memchr(s->p + i + 1, ':', fl) || memchr(s->p + i + 1, '!', fl) ||
		    memchr(s->p + i + 1, '.', fl) || memchr(s->p + i + 1, '[', fl))
			jr_fail(r, line, "str.format with conversions, specs or attributes is not "
			        "implemented");
		memcpy(field, s->p + i + 1, fl);
		field[fl] = '\0';
		struct jval v = jv_undef;
		if (!fl) {
			v = arg(args, kw, n, auto_i++, NULL, jv_undef);
		} else if (field[0] >= '0' && field[0] <= '9') {
			v = arg(args, kw, n, (size_t)atoi(field), NULL, jv_undef);
		} else {
			v = arg(args, kw, n, (size_t)-1, field, jv_undef);
		}
		if (v.type == JV_UNDEF && fl && !(field[0] >= '0' && field[0] <= '9'))
			jr_fail(r, line, "str.format: no argument '%s'", field);
		if (v.type == JV_UNDEF && !(fl && field[0] > '9'))
			if (n_pos(kw, n) <= (fl ? (size_t)atoi(field) : auto_i - 1))
				jr_fail(r, line, "str.format: replacement index out of range");
		jv_write_str(r, &b, v);
		i += fl + 1;
	}
	return jb_val(r, &b);
}

int jstr_class(const struct jstr *s, int what)
{
	if (!s->n)
		return 0;
	int any_cased = 0;
	for (size_t i = 0; i < s->n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s->p + i,
		                                      (utf8proc_ssize_t)(s->n - i), &cp);
		if (l <= 0)
			return 0;
		utf8proc_category_t c = utf8proc_category(cp);
		int letter = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
		int digit = c == UTF8PROC_CATEGORY_ND;
		size_t wl;
		switch (what) {
		case 'd': if (!digit) return 0; break;
		case 'a': if (!letter) return 0; break;
		case 'n': if (!letter && !digit && c != UTF8PROC_CATEGORY_NL && c != UTF8PROC_CATEGORY_NO) return 0; break;
		case 's': if (!py_isspace(s->p + i, s->n - i, &wl)) return 0; break;
		case 'l': if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) return 0;
		          any_cased |= c == UTF8PROC_CATEGORY_LL; break;
		case 'u': if (c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT) return 0;
		          any_cased |= c == UTF8PROC_CATEGORY_LU; break;
		}
		i += (size_t)l;
	}
	return what == 'l' || what == 'u' ? any_cased : 1;
}

static struct jval jstr_find(struct jrender *r, int line, const struct jstr *s, struct jval sv,
                        int rev)
{
	const struct jstr *sub = want_str(r, line, sv, "find");
	const char *f = NULL;
	if (!rev) {
		f = sub->n ? memmem(s->p, s->n, sub->p, sub->n) : s->p;
	} else {
		for (size_t k = s->n + 1; k-- > 0;)
			if (k + sub->n <= s->n && !memcmp(s->p + k, sub->p, sub->n)) {
				f = s->p + k;
				break;
			}
	}
	return jv_int(f ? (int64_t)u8_len(s->p, (size_t)(f - s->p)) : -1);
}

struct jval jstr_method(struct jrender *r, int line, const struct jstr *s, const char *m,
                              struct jval *a, const char **kw, size_t n)
{
	struct jval a0 = arg(a, kw, n, 0, NULL, jv_none), a1 = arg(a, kw, n, 1, NULL, jv_none);
	if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
		const struct jstr *chars = a0.type == JV_NONE ? NULL : want_str(r, line, a0, m);
		return jstr_strip(r, s, chars, m[0] != 'r', m[0] != 'l');
	}
	if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
		struct jval sep = arg(a, kw, n, 0, "sep", jv_none);
		struct jval ms = arg(a, kw, n, 1, "maxsplit", jv_int(-1));
		return jstr_split(r, line, s, sep, want_int(r, line, ms, m), m[0] == 'r');
	}
	if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
		if (n != 1)
			jr_fail(r, line, "%s with start/end positions is not implemented", m);
		return jstr_affix(r, line, s, a0, m[0] == 'e');
	}
	if (!strcmp(m, "replace"))
		return jstr_replace(r, line, s, a0, a1, want_int(r, line, arg(a, kw, n, 2, "count",
		                                                          jv_int(-1)), m));
	if (!strcmp(m, "upper"))      return jstr_case(r, s, CASE_UPPER);
	if (!strcmp(m, "lower"))      return jstr_case(r, s, CASE_LOWER);
	if (!strcmp(m, "title"))      return jstr_case(r, s, CASE_TITLE);
	if (!strcmp(m, "capitalize")) {
		struct jval low = jstr_case(r, s, CASE_LOWER);
		return jstr_case(r, low.u.s, CASE_CAPITALIZE);
	}
	if (!strcmp(m, "find"))   return jstr_find(r, line, s, a0, 0);
	if (!strcmp(m, "rfind"))  return jstr_find(r, line, s, a0, 1);
	if (!strcmp(m, "index") || !strcmp(m, "rindex")) {
		struct jval v = jstr_find(r, line, s, a0, m[0] == 'r');
		if (v.u.i < 0)
			jr_fail(r, line, "substring not found");
		return v;
	}
	if (!strcmp(m, "count")) {
		const struct jstr *sub = want_str(r, line, a0, m);
		if (!sub->n)
			return jv_int((int64_t)u8_len(s->p, s->n) + 1);
		int64_t c = 0;
		for (const char *p = s->p, *e = s->p + s->n;
		     (p = memmem(p, (size_t)(e - p), sub->p, sub->n)); p += sub->n)
			c++;
		return jv_int(c);
	}
	if (!strcmp(m, "join")) {
		struct jlist *items = items_of(r, line, a0);
		struct jbuf b = { 0 };
		for (size_t i = 0; i < items->n; i++) {
			if (i)
				jb_putstr(r, &b, s);
			if (items->v[i].type != JV_STR)
				jr_fail(r, line, "sequence item %zu: expected str instance, %s found", i,
				        jv_type_name(items->v[i]));
			jb_putstr(r, &b, items->v[i].u.s);
		}
		return jb_val(r, &b);
	}
	if (!strcmp(m, "splitlines"))  return jstr_splitlines(r, s);
	if (!strcmp(m, "isdigit"))     return jv_bool(jstr_class(s, 'd'));
	if (!strcmp(m, "isalpha"))     return jv_bool(jstr_class(s, 'a'));
	if (!strcmp(m, "isalnum"))     return jv_bool(jstr_class(s, 'n'));
	if (!strcmp(m, "isspace"))     return jv_bool(jstr_class(s, 's'));
	if (!strcmp(m, "islower"))     return jv_bool(jstr_class(s, 'l'));
	if (!strcmp(m, "isupper"))     return jv_bool(jstr_class(s, 'u'));
	if (!strcmp(m, "format"))      return jstr_format(r, line, s, a, kw, n);
	if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
		const struct jstr *p = want_str(r, line, a0, m);
		int end = m[6] == 's';
		if (!jstr_starts_with(s, p, end))
			return jstr_sub(r, s, 0, s->n);
		return jstr_sub(r, s, end ? 0 : p->n, s->n - p->n);
	}
	jr_fail(r, line, "the str method '%s' is not implemented", m);
}

struct jval jb_percent_format(struct jrender *r, int line, const struct jstr *f, struct jval args)
{
	struct jlist *items;
	if (args.type == JV_LIST && args.u.l->tuple == JL_TUPLE) {
		items = args.u.l;
	} else {
		items = jv_list(r).u.l;
		jl_push(r, items, args);
	}
	struct jbuf b = { 0 };
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->p[i] != '%') {
			jb_put(r, &b, f->p + i, 1, NULL, f->tag ? f->tag[i] : -1, NULL, 0);
			continue;
		}
		char c = i + 1 < f->n ? f->p[++i] : 0;
		if (c == '%') {
			jb_putz(r, &b, "%");
			continue;
		}
		if (c != 's' && c != 'd' && c != 'i' && c != 'r')
			jr_fail(r, line, "the %%-format conversion '%%%c' is not implemented", c);
		if (k >= items->n)
			jr_fail(r, line, "not enough arguments for format string");
		struct jval v = items->v[k++];
		if (c == 's')
			jv_write_str(r, &b, v);
		else if (c == 'r')
			jv_write_repr(r, &b, v);
		else if (is_intlike(v) || v.type == JV_FLOAT)
			jv_write_str(r, &b, jv_int(is_intlike(v) ? ival(v) : (int64_t)v.u.f));
		else
			jr_fail(r, line, "%%d format: a real number is required, not %s", jv_type_name(v));
	}
	if (k < items->n)
		jr_fail(r, line, "not all arguments converted during string formatting");
	return jb_val(r, &b);
}
