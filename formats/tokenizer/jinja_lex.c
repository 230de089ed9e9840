/* qlora-tools: ISC license. */
/*
 * The Jinja subset's arena and lexer (see jinja.h): the template source is normalized as jinja2
 * does (newlines to "\n", one trailing newline dropped) and cut into text and tag tokens with
 * transformers' whitespace settings (trim_blocks, lstrip_blocks) and the "-" / "+" markers;
 * string literals are decoded as Python's unicode-escape. jinja_parse.c builds the tree.
 */
#include "formats/tokenizer/jinja_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct jblock {
	struct jblock *next;
	size_t         used, cap;
	max_align_t    data[];
};

void *ja_alloc(struct jarena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct jblock *b = a->head;
	if (!b || b->used + n > b->cap) {
		size_t cap = n > 60000 ? n : 60000;
		b = malloc(sizeof *b + cap);
		if (!b) {
			a->oom = 1;
			return NULL;
		}
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

void ja_free(struct jarena *a)
{
	for (struct jblock *b = a->head, *nx; b; b = nx) {
		nx = b->next;
		free(b);
	}
	a->head = NULL;
}

/* ---- tokens ---- */


_Noreturn void jp_fail(struct parser *p, int line, const char *fmt, ...)
{
	char m[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	qt_err_set(p->err, QT_EDATA, "line %d: %s", line, m);
	longjmp(p->jb, 1);
}

void *jp_alloc(struct parser *p, size_t n)
{
	void *v = ja_alloc(&p->tpl->arena, n);
	if (!v) {
		qt_err_set(p->err, QT_ESOFTWARE, "out of memory");
		longjmp(p->jb, 1);
	}
	return v;
}

static char *pstrdup(struct parser *p, const char *s, size_t n)
{
	char *d = jp_alloc(p, n + 1);
	memcpy(d, s, n);
	return d;
}

static struct tok *push_tok(struct parser *p, int t, int line)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct tok *nt = realloc(p->tk, cap * sizeof *nt);
		if (!nt) {
			qt_err_set(p->err, QT_ESOFTWARE, "out of memory");
			longjmp(p->jb, 1);
		}
		p->tk = nt;
		p->cap = cap;
	}
	struct tok *k = &p->tk[p->n++];
	memset(k, 0, sizeof *k);
	k->t = t;
	k->line = line;
	return k;
}

/* Python's str.isspace for the code point at s (its length in *len). */
static int ws_at(const char *s, size_t n, size_t *len)
{
	return py_isspace(s, n, len);
}

/* Length of the whitespace run starting at s. */
static size_t ws_run(const char *s, size_t n)
{
	size_t i = 0, l;
	while (i < n && ws_at(s + i, n - i, &l))
		i += l;
	return i;
}

/* Length of s[0..n) without its trailing whitespace (Python rstrip). */
static size_t rstrip_len(const char *s, size_t n)
{
	size_t keep = 0, i = 0, l;
	while (i < n) {
		if (ws_at(s + i, n - i, &l)) {
			i += l;
		} else {
			i += l ? l : 1;
			keep = i;
		}
	}
	return keep;
}

static int count_lines(const char *s, size_t from, size_t to)
{
	int c = 0;
	for (size_t i = from; i < to; i++)
		c += s[i] == '\n';
	return c;
}

/* The line of offset i, counted on from the previous call (the lexer moves forward; counting
 * from 0 for every token made a 40000-token template take seconds). */
static int line_at(struct parser *p, const char *s, size_t i)
{
	if (i < p->lc_pos) {
		p->lc_pos = 0;
		p->lc_nl = 0;
	}
	p->lc_nl += count_lines(s, p->lc_pos, i);
	p->lc_pos = i;
	return 1 + p->lc_nl;
}

/* Appends the UTF-8 encoding of cp. */
static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string literal's body decoded as jinja2 does (Python "unicode-escape"). */
static void decode_str(struct parser *p, int line, const char *s, size_t n, struct tok *k)
{
	char *o = jp_alloc(p, n + 1), *w = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			*w++ = s[i];
			continue;
		}
		char e = s[++i];
		int nd = 0;
		switch (e) {
		case '\n': break;
		case '\\': *w++ = '\\'; break;
		case '\'': *w++ = '\''; break;
		case '"':  *w++ = '"'; break;
		case 'a':  *w++ = '\a'; break;
		case 'b':  *w++ = '\b'; break;
		case 'f':  *w++ = '\f'; break;
		case 'n':  *w++ = '\n'; break;
		case 'r':  *w++ = '\r'; break;
		case 't':  *w++ = '\t'; break;
		case 'v':  *w++ = '\v'; break;
		case 'x':  nd = 2; break;
		case 'u':  nd = 4; break;
		case 'U':  nd = 8; break;
		case 'N':  jp_fail(p, line, "the string escape \\N{...} is not implemented");
		default:
			if (e >= '0' && e <= '7') {
				uint32_t v = 0;
				int k2 = 0;
				while (k2 < 3 && i < n && s[i] >= '0' && s[i] <= '7')
					v = v * 8 + (uint32_t)(s[i++] - '0'), k2++;
				i--;
				w += put_utf8(w, v);
			} else if ((unsigned char)e >= 0x80) {
				/* backslashreplace made it \xNN / \uNNNN first: "\" then the char */
				*w++ = '\\';
				*w++ = e;
			} else {
				*w++ = '\\';
				*w++ = e;
			}
		}
		if (nd) {
			uint32_t v = 0;
			for (int d = 0; d < nd; d++) {
				int h = i + 1 + (size_t)d < n ? hexval(s[i + 1 + d]) : -1;
				if (h < 0)
					jp_fail(p, line, "a truncated \\%c escape in a string", e);
				v = v * 16 + (uint32_t)h;
			}
			if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
				jp_fail(p, line, "a string escape outside Unicode scalar values");
			i += (size_t)nd;
			w += put_utf8(w, v);
		}
	}
	*w = '\0';
	k->s = o;
	k->n = (size_t)(w - o);
}

static const char *const ops3[] = { "//", "**", "==", "!=", "<=", ">=", NULL };

/* Tokens inside a tag, up to and including its end; returns the position after it. */
static size_t lex_tag(struct parser *p, const char *s, size_t n, size_t i, char close, int *line,
                      int *rstrip, int *keep)
{
	for (;;) {
		i += ws_run(s + i, n - i);
		if (i >= n)
			jp_fail(p, *line, "a tag is not closed");
		if (s[i] == '-' && i + 2 < n && s[i + 1] == close && s[i + 2] == '}') {
			*rstrip = 1;
			return i + 3;
		}
		if (close == '%' && s[i] == '+' && i + 2 < n && s[i + 1] == '%' && s[i + 2] == '}') {
			*keep = 1;
			return i + 3;
		}
		if (s[i] == close && i + 1 < n && s[i + 1] == '}')
			return i + 2;
		int ln = line_at(p, s, i);
		char c = s[i];
		if (c == '\'' || c == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != c)
				j += s[j] == '\\' ? 2 : 1;
			if (j >= n)
				jp_fail(p, ln, "a string literal is not closed");
			struct tok *k = push_tok(p, T_STR, ln);
			decode_str(p, ln, s + i + 1, j - i - 1, k);
			i = j + 1;
		} else if (c >= '0' && c <= '9') {
			size_t j = i;
			int isf = 0;
			while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
				j++;
			if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
				isf = 1;
				j++;
				while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
					j++;
			}
			if (j < n && (s[j] == 'e' || s[j] == 'E')) {
				size_t k2 = j + 1;
				if (k2 < n && (s[k2] == '+' || s[k2] == '-'))
					k2++;
				if (k2 < n && s[k2] >= '0' && s[k2] <= '9') {
					isf = 1;
					j = k2;
					while (j < n && s[j] >= '0' && s[j] <= '9')
						j++;
				}
			}
			char buf[64];
			size_t bl = 0;
			for (size_t x = i; x < j && bl < sizeof buf - 1; x++)
				if (s[x] != '_')
					buf[bl++] = s[x];
			buf[bl] = '\0';
			struct tok *k = push_tok(p, isf ? T_FLOAT : T_INT, ln);
			if (isf)
				k->f = strtod(buf, NULL);
			else
				k->i = strtoll(buf, NULL, 10);
			i = j;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			size_t j = i;
			while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
			                 (s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
				j++;
			struct tok *k = push_tok(p, T_NAME, ln);
			k->s = pstrdup(p, s + i, j - i);
			k->n = j - i;
			i = j;
		} else {
			size_t l = 0;
			for (int o = 0; ops3[o]; o++)
				if (i + 1 < n && s[i] == ops3[o][0] && s[i + 1] == ops3[o][1])
					l = 2;
			if (!l && strchr("+-*/%~<>=.,:|()[]{};", c))
				l = 1;
			if (!l)
				jp_fail(p, ln, "unexpected character '%c' in a tag", c);
			struct tok *k = push_tok(p, T_OP, ln);
			k->s = pstrdup(p, s + i, l);
			k->n = l;
			i += l;
		}
	}
}

/* The whole template as tokens (see the file comment). */
void jp_lex(struct parser *p, const char *src0, size_t n0)
{
	/* jinja2: every \r\n, \r and \n becomes \n; one trailing newline is dropped. */
	char *s = jp_alloc(p, n0 + 1);
	size_t n = 0;
	for (size_t i = 0; i < n0; i++) {
		if (src0[i] == '\r') {
			s[n++] = '\n';
			if (i + 1 < n0 && src0[i + 1] == '\n')
				i++;
		} else {
			s[n++] = src0[i];
		}
	}
	if (n && s[n - 1] == '\n')
		n--;
	s[n] = '\0';
	size_t i = 0;
	int strip_left = 0;
	for (;;) {
		if (strip_left)
			i += ws_run(s + i, n - i);
		strip_left = 0;
		size_t j = i;
		while (j + 1 < n && !(s[j] == '{' && (s[j + 1] == '{' || s[j + 1] == '%' ||
		                                      s[j + 1] == '#')))
			j++;
		if (j + 1 >= n)
			j = n;
		size_t tl = j - i;
		char kind = j < n ? s[j + 1] : 0;
		char sign = j + 2 < n ? s[j + 2] : 0;
		if (j < n && sign == '-') {
			tl = rstrip_len(s + i, tl);
		} else if (j < n && sign != '+' && kind != '{') {
			/* lstrip_blocks: spaces between the line start and a block or comment tag */
			size_t l = tl;
			while (l > 0 && s[i + l - 1] != '\n')
				l--;
			int line_start = l > 0 || i == 0 || s[i - 1] == '\n';
			size_t w = ws_run(s + i + l, tl - l);
			if (line_start && l + w == tl && w > 0)
				tl = l;
		}
		if (tl) {
			struct tok *k = push_tok(p, T_TEXT, line_at(p, s, i));
			k->s = s + i;
			k->n = tl;
		}
		if (j >= n)
			break;
		int line = line_at(p, s, j);
		size_t at = j + 2 + (sign == '-' || (sign == '+' && kind != '{'));
		if (kind == '#') {
			const char *e = strstr(s + at, "#}");
			if (!e)
				jp_fail(p, line, "a comment is not closed");
			size_t k = (size_t)(e - s);
			i = k + 2;
			if (k > at && s[k - 1] == '-')
				strip_left = 1;
			else if (!(k > at && s[k - 1] == '+') && i < n && s[i] == '\n')
				i++;
			continue;
		}
		if (kind == '%') {
			/* {% raw %} is lexed specially by jinja2; it is outside the subset. */
			size_t q = at + ws_run(s + at, n - at);
			if (n - q >= 3 && !strncmp(s + q, "raw", 3) &&
			    !((s[q + 3] >= 'a' && s[q + 3] <= 'z') || s[q + 3] == '_'))
				jp_fail(p, line, "{%% raw %%} is not implemented");
		}
		push_tok(p, kind == '{' ? T_VBEGIN : T_BBEGIN, line);
		int rstrip = 0, keep = 0;
		i = lex_tag(p, s, n, at, kind == '{' ? '}' : '%', &line, &rstrip, &keep);
		push_tok(p, kind == '{' ? T_VEND : T_BEND, line_at(p, s, i));
		if (rstrip)
			strip_left = 1;
		else if (kind == '%' && !keep && i < n && s[i] == '\n')
			i++; /* trim_blocks */
	}
	push_tok(p, T_EOF, line_at(p, s, n));
}

