/* qlora-tools: ISC license. */
/*
 * Text forms of the Jinja subset's values (see jinja.h): Python's str() and repr(), float repr,
 * transformers' tojson (json.dumps with ensure_ascii, indent, separators, sort_keys) and
 * markupsafe's escape; every byte keeps the tag of the string it came from.
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- str, repr, json ---- */

void jv_float_repr(double f, char *buf, size_t cap)
{
	if (isnan(f)) {
		snprintf(buf, cap, "nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, cap, f < 0 ? "-inf" : "inf");
		return;
	}
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	/* tmp is d.ddde±XX: Python uses exponent form when exp < -4 or exp >= 16 */
	char *e = strchr(tmp, 'e');
	int exp = atoi(e + 1);
	*e = '\0';
	char digits[40];
	size_t nd = 0;
	int neg = tmp[0] == '-';
	for (char *c = tmp + neg; *c; c++)
		if (*c != '.')
			digits[nd++] = *c;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	char *o = buf;
	size_t left = cap;
#define OUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); o += w_; left -= (size_t)w_; } while (0)
	if (neg)
		OUT("-");
	if (exp < -4 || exp >= 16) {
		OUT("%c", digits[0]);
		if (nd > 1)
			OUT(".%s", digits + 1);
		OUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		OUT("0.");
		for (int z = 0; z < -exp - 1; z++)
			OUT("0");
		OUT("%s", digits);
	} else {
		for (int d = 0; d <= exp; d++)
			OUT("%c", d < (int)nd ? digits[d] : '0');
		OUT(".");
		if ((int)nd > exp + 1)
			OUT("%s", digits + exp + 1);
		else
			OUT("0");
	}
#undef OUT
}

static void put_num(struct jrender *r, struct jbuf *b, struct jval v)
{
	char buf[64];
	if (v.type == JV_INT)
		snprintf(buf, sizeof buf, "%lld", (long long)v.u.i);
	else
		jv_float_repr(v.u.f, buf, sizeof buf);
	jb_putz(r, b, buf);
}

static void put_repr_str(struct jrender *r, struct jbuf *b, const struct jstr *s)
{
	int has_sq = memchr(s->p, '\'', s->n) != NULL, has_dq = memchr(s->p, '"', s->n) != NULL;
	char q = has_sq && !has_dq ? '"' : '\'';
	jb_put(r, b, &q, 1, NULL, -1, NULL, 0);
	for (size_t i = 0; i < s->n; i++) {
		unsigned char c = (unsigned char)s->p[i];
		char esc[8];
		const char *e = NULL;
		if (c == '\\') e = "\\\\";
		else if (c == (unsigned char)q) e = q == '\'' ? "\\'" : "\\\"";
		else if (c == '\n') e = "\\n";
		else if (c == '\r') e = "\\r";
		else if (c == '\t') e = "\\t";
		else if (c < 0x20 || c == 0x7F) {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			e = esc;
		}
		if (e)
			jb_put(r, b, e, strlen(e), NULL, s->tag ? s->tag[i] : -1, NULL, 0);
		else
			jb_put(r, b, s->p + i, 1, NULL, s->tag ? s->tag[i] : -1, NULL, 0);
	}
	jb_put(r, b, &q, 1, NULL, -1, NULL, 0);
}

void jv_write_repr(struct jrender *r, struct jbuf *b, struct jval v)
{
	switch (v.type) {
	case JV_STR:
		put_repr_str(r, b, v.u.s);
		return;
	case JV_LIST: {
		if (v.u.l->tuple == JL_GEN) {
			jb_putz(r, b, "<generator object>");
			return;
		}
		jb_putz(r, b, v.u.l->tuple ? "(" : "[");
		for (size_t i = 0; i < v.u.l->n; i++) {
			if (i)
				jb_putz(r, b, ", ");
			jv_write_repr(r, b, v.u.l->v[i]);
		}
		jb_putz(r, b, v.u.l->tuple ? (v.u.l->n == 1 ? ",)" : ")") : "]");
		return;
	}
	case JV_DICT:
		if (v.u.d->ns) {
			jb_putz(r, b, "<Namespace {");
		} else {
			jb_putz(r, b, "{");
		}
		for (size_t i = 0; i < v.u.d->n; i++) {
			if (i)
				jb_putz(r, b, ", ");
			jv_write_repr(r, b, v.u.d->k[i]);
			jb_putz(r, b, ": ");
			jv_write_repr(r, b, v.u.d->v[i]);
		}
		jb_putz(r, b, v.u.d->ns ? "}>" : "}");
		return;
	default:
		jv_write_str(r, b, v);
	}
}

void jv_write_str(struct jrender *r, struct jbuf *b, struct jval v)
{
	switch (v.type) {
	case JV_UNDEF: return;
	case JV_NONE:  jb_putz(r, b, "None"); return;
	case JV_BOOL:  jb_putz(r, b, v.u.b ? "True" : "False"); return;
	case JV_INT: case JV_FLOAT: put_num(r, b, v); return;
	case JV_STR:   jb_putstr(r, b, v.u.s); return;
	case JV_LIST: case JV_DICT: jv_write_repr(r, b, v); return;
	case JV_MACRO: jb_putz(r, b, "<Macro>"); return;
	case JV_LOOP:  jb_putz(r, b, "<LoopContext>"); return;
	default:       jb_putz(r, b, "<function>"); return;
	}
}

struct jval jv_to_str(struct jrender *r, struct jval v)
{
	if (v.type == JV_STR)
		return v;
	struct jbuf b = { 0 };
	jv_write_str(r, &b, v);
	return jb_val(r, &b);
}

static void put_json_str(struct jrender *r, struct jbuf *b, const struct jstr *s, int ascii)
{
	int32_t t0 = JINJA_TAG_TEMPLATE;
	jb_put(r, b, "\"", 1, NULL, t0, NULL, 0);
	size_t i = 0;
	while (i < s->n) {
		size_t j = i;
		while (j < s->n && (unsigned char)s->p[j] >= 0x20 && s->p[j] != '"' && s->p[j] != '\\' &&
		       !(ascii && (unsigned char)s->p[j] >= 0x80))
			j++;
		jb_put(r, b, s->p + i, j - i, s->tag ? s->tag + i : NULL, t0, NULL, 0);
		if (j == s->n)
			break;
		unsigned char c = (unsigned char)s->p[j];
		char esc[16];
		if (c >= 0x80) {
			/* ensure_ascii: \\uXXXX, surrogate pairs above the BMP */
			size_t l = u8_off(s->p + j, s->n - j, 1);
			uint32_t cp = c & (0xFF >> (l + 1));
			for (size_t k = 1; k < l; k++)
				cp = cp << 6 | ((unsigned char)s->p[j + k] & 0x3F);
			if (cp >= 0x10000)
				snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
				         0xDC00 + ((cp - 0x10000) & 0x3FF));
			else
				snprintf(esc, sizeof esc, "\\u%04x", cp);
			jb_put(r, b, esc, strlen(esc), NULL, s->tag ? s->tag[j] : t0, NULL, 0);
			i = j + l;
			continue;
		}
		switch (c) {
		case '"':  strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		default:   snprintf(esc, sizeof esc, "\\u%04x", c);
		}
		jb_put(r, b, esc, strlen(esc), NULL, s->tag ? s->tag[j] : t0, NULL, 0);
		i = j + 1;
	}
	jb_put(r, b, "\"", 1, NULL, t0, NULL, 0);
}

static void json_nl(struct jrender *r, struct jbuf *b, int indent, int level)
{
	jb_putz(r, b, "\n");
	for (int i = 0; i < indent * level; i++)
		jb_putz(r, b, " ");
}

static int key_cmp_r(const void *x, const void *y)
{
	const struct jval *a = x, *b = y;
	size_t n = a->u.s->n < b->u.s->n ? a->u.s->n : b->u.s->n;
	int c = memcmp(a->u.s->p, b->u.s->p, n);
	return c ? c : (a->u.s->n > b->u.s->n) - (a->u.s->n < b->u.s->n);
}

void jv_write_json(struct jrender *r, int line, struct jbuf *b, struct jval v, int indent,
                   const char *item_sep, const char *key_sep, int sort_keys, int ascii,
                   int level)
{
	switch (v.type) {
	case JV_NONE:  jb_putz(r, b, "null"); return;
	case JV_BOOL:  jb_putz(r, b, v.u.b ? "true" : "false"); return;
	case JV_INT:   put_num(r, b, v); return;
	case JV_FLOAT:
		if (isnan(v.u.f))
			jb_putz(r, b, "NaN");
		else if (isinf(v.u.f))
			jb_putz(r, b, v.u.f > 0 ? "Infinity" : "-Infinity");
		else
			put_num(r, b, v);
		return;
	case JV_STR:   put_json_str(r, b, v.u.s, ascii); return;
	case JV_LIST:
		if (v.u.l->tuple == JL_GEN)
			jr_fail(r, line, "Object of type generator is not JSON serializable");
		if (!v.u.l->n) {
			jb_putz(r, b, "[]");
			return;
		}
		jb_putz(r, b, "[");
		for (size_t i = 0; i < v.u.l->n; i++) {
			if (i)
				jb_putz(r, b, item_sep);
			if (indent >= 0)
				json_nl(r, b, indent, level + 1);
			jv_write_json(r, line, b, v.u.l->v[i], indent, item_sep, key_sep, sort_keys,
			              ascii, level + 1);
		}
		if (indent >= 0)
			json_nl(r, b, indent, level);
		jb_putz(r, b, "]");
		return;
	case JV_DICT: {
		if (v.u.d->ns)
			jr_fail(r, line, "Object of type Namespace is not JSON serializable");
		if (!v.u.d->n) {
			jb_putz(r, b, "{}");
			return;
		}
		size_t n = v.u.d->n;
		struct jval *order = jr_alloc(r, 2 * n * sizeof *order);
		for (size_t i = 0; i < n; i++) {
			struct jval k = v.u.d->k[i];
			if (k.type != JV_STR) {
				struct jbuf kb = { 0 };
				jv_write_json(r, line, &kb, k, -1, ", ", ": ", 0, 0, 0);
				if (k.type != JV_INT && k.type != JV_FLOAT && k.type != JV_BOOL &&
				    k.type != JV_NONE)
					jr_fail(r, line, "keys must be str, int, float, bool or None");
				k = jb_val(r, &kb);
			}
			order[i] = k;
			order[n + i] = v.u.d->v[i];
		}
		if (sort_keys) {
			/* sort (key, value) pairs by key: index sort, stable */
			struct jval *pairs = jr_alloc(r, 2 * n * sizeof *pairs);
			size_t *idx = jr_alloc(r, n * sizeof *idx);
			for (size_t i = 0; i < n; i++)
				idx[i] = i;
			for (size_t i = 1; i < n; i++)
				for (size_t j = i; j > 0 && key_cmp_r(&order[idx[j - 1]], &order[idx[j]]) > 0;
				     j--) {
					size_t t = idx[j];
					idx[j] = idx[j - 1];
					idx[j - 1] = t;
				}
			for (size_t i = 0; i < n; i++) {
				pairs[i] = order[idx[i]];
				pairs[n + i] = order[n + idx[i]];
			}
			order = pairs;
		}
		jb_putz(r, b, "{");
		for (size_t i = 0; i < n; i++) {
			if (i)
				jb_putz(r, b, item_sep);
			if (indent >= 0)
				json_nl(r, b, indent, level + 1);
			put_json_str(r, b, order[i].u.s, ascii);
			jb_putz(r, b, key_sep);
			jv_write_json(r, line, b, order[n + i], indent, item_sep, key_sep, sort_keys,
			              ascii, level + 1);
		}
		if (indent >= 0)
			json_nl(r, b, indent, level);
		jb_putz(r, b, "}");
		return;
	}
	case JV_UNDEF:
		jr_fail(r, line, "Object of type Undefined is not JSON serializable");
	default:
		jr_fail(r, line, "Object of type %s is not JSON serializable", jv_type_name(v));
	}
}

struct jval jv_html_escape(struct jrender *r, struct jval v)
{
	if (v.type == JV_STR && v.u.s->markup)
		return v;
	struct jval s = jv_to_str(r, v);
	struct jbuf b = { 0 };
	for (size_t i = 0; i < s.u.s->n; i++) {
		const char *e = NULL;
		switch (s.u.s->p[i]) {
		case '&':  e = "&amp;"; break;
		case '<':  e = "&lt;"; break;
		case '>':  e = "&gt;"; break;
		case '"':  e = "&#34;"; break;
		case '\'': e = "&#39;"; break;
		}
		int32_t t = s.u.s->tag ? s.u.s->tag[i] : -1;
		if (e)
			jb_put(r, &b, e, strlen(e), NULL, t, NULL, 0);
		else
			jb_put(r, &b, s.u.s->p + i, 1, NULL, t, NULL, 0);
	}
	struct jval o = jb_val(r, &b);
	o.u.s->markup = 1;
	return o;
}
