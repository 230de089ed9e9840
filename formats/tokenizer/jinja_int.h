/* qlora-tools: ISC license. */
/*
 * Internals of the Jinja subset (jinja.h): the arena, values, the syntax tree, and the
 * functions the lexer/parser (jinja_parse.c), the evaluator (jinja_eval.c), the values
 * (jinja_value.c) and the built-in filters, tests and methods (jinja_builtins.c) share.
 * Errors while rendering longjmp to jinja_render with the message set: every allocation of a
 * render lives in its arena, so nothing leaks.
 */
#ifndef QT_FORMATS_TOKENIZER_JINJA_INT_H
#define QT_FORMATS_TOKENIZER_JINJA_INT_H

#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "formats/tokenizer/jinja.h"

/* ---- arena ---- */

struct jarena {
	struct jblock *head;
	int            oom;
};
void *ja_alloc(struct jarena *a, size_t n); /* zeroed; NULL when out of memory */
void  ja_free(struct jarena *a);

/* ---- values ---- */

enum jv_type {
	JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
	JV_MACRO,   /* u.macro: a {% macro %} with its defining frame */
	JV_FUNC,    /* u.func: a global function (range, namespace, raise_exception, ...) */
	JV_METHOD,  /* u.method: a bound method of a str/list/dict, or loop.cycle */
	JV_LOOP,    /* u.loop: the loop variable */
};

struct jstr {
	size_t         n;
	const char    *p;
	const int32_t *tag; /* n tags, or NULL: all JINJA_TAG_TEMPLATE */
	const uint8_t *gen; /* n flags, or NULL: none inside {% generation %} */
	int            markup; /* a markupsafe.Markup (the safe/escape filters): + escapes str */
};
struct jlist {
	size_t       n, cap;
	struct jval *v;
	int          tuple; /* JL_LIST, JL_TUPLE, or JL_GEN: what jinja2's map/select/... yield */
};
enum { JL_LIST, JL_TUPLE, JL_GEN };
struct jdict {
	size_t       n, cap;
	struct jval *k, *v;
	int          ns;    /* a namespace(): attributes may be assigned */
};

struct jval {
	int type;
	union {
		int              b;
		int64_t          i;
		double           f;
		struct jstr     *s;
		struct jlist    *l;
		struct jdict    *d;
		struct jmacro   *macro;
		int              func;
		struct jmethod  *method;
		struct jloop    *loop;
	} u;
};

struct jmethod {
	struct jval recv;
	const char *name;
};

struct jloop {
	struct jlist *items;
	size_t        i;
	int           depth;
};

/* ---- syntax tree ---- */

enum jn_kind {
	/* expressions */
	JN_LIT, JN_NAME, JN_ATTR, JN_ITEM, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST, JN_BIN, JN_NOT,
	JN_NEG, JN_POS, JN_AND, JN_OR, JN_COND, JN_LIST, JN_TUPLE, JN_DICT, JN_CMP,
	/* statements */
	JS_TEXT, JS_OUT, JS_IF, JS_FOR, JS_SET, JS_SETBLOCK, JS_MACRO, JS_BREAK, JS_CONTINUE,
	JS_GENERATION, JS_FILTERBLOCK,
};

enum jn_op {
	JO_ADD = 1, JO_SUB, JO_MUL, JO_DIV, JO_FDIV, JO_MOD, JO_POW, JO_CAT,
	JO_EQ, JO_NE, JO_LT, JO_LE, JO_GT, JO_GE, JO_IN, JO_NOTIN,
};

struct jnode {
	int            kind;
	int            op;      /* enum jn_op; JN_TEST: 1 for "is not" */
	int            line;
	const char    *name;    /* NAME/ATTR/FILTER/TEST/MACRO/SET target; NUL-terminated */
	struct jval    lit;     /* JN_LIT */
	struct jnode  *a, *b, *c;    /* operands / condition, iterable, filter ... */
	struct jnode **args;    /* call/filter/test args, list/tuple items, dict keys+values */
	const char   **kw;      /* n_args names: NULL for positional */
	size_t         n_args;
	struct jnode **body;    /* statements */
	size_t         n_body;
	struct jnode **orelse;  /* else branch / for-else */
	size_t         n_orelse;
	const char   **targets; /* FOR/SET: unpacking targets; SET with attr: name.attr */
	size_t         n_targets;
	const char    *attr;    /* SET ns.attr */
	int            recursive;
};

struct jinja_tpl {
	struct jarena  arena;
	struct jnode **body;
	size_t         n_body;
	int            has_generation;
};

/* ---- parsing (jinja_lex.c, jinja_parse.c) ---- */

enum { T_EOF, T_TEXT, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP };

struct tok {
	int         t;
	int         line;
	const char *s;   /* TEXT, NAME, STR (decoded), OP: NUL-terminated */
	size_t      n;
	int64_t     i;
	double      f;
};

struct parser {
	struct jinja_tpl *tpl;
	struct qt_err    *err;
	struct tok       *tk;
	size_t            n, cap, pos;
	int               depth; /* nesting of expressions and blocks, see JP_MAX_DEPTH */
	size_t            lc_pos; /* the lexer's line count: newlines before lc_pos */
	int               lc_nl;
	jmp_buf           jb;
};

/* Sets err to "line N: ..." and unwinds to jinja_parse. */
_Noreturn void jp_fail(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void *jp_alloc(struct parser *p, size_t n);             /* in the template's arena */
void  jp_lex(struct parser *p, const char *src, size_t n); /* fills p->tk */

/* ---- rendering state ---- */

struct jframe;

struct jmacro {
	const struct jnode *def;
	struct jframe      *frame;
};

struct jbuf {
	char    *p;
	int32_t *tag;
	uint8_t *gen;
	size_t   n, cap;
	int      heap;  /* 1: malloc'd (the caller's output); 0: in the render's arena */
};

struct jrender {
	struct jarena      a;
	jmp_buf            jb;
	struct qt_err     *err;
	const struct jinja_opts *o;
	struct jbuf       *out;     /* where output goes now */
	int                in_gen;  /* inside {% generation %} */
	int                depth;   /* macro call depth */
	struct jframe     *globals;
	struct jbuf        final;   /* the caller's jinja_out while rendering */
};

/* Sets the error ("line N: ..." when line > 0) and unwinds to jinja_render. */
_Noreturn void jr_fail(struct jrender *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void *jr_alloc(struct jrender *r, size_t n); /* never NULL: fails the render instead */

/* values (jinja_value.c) */
extern const struct jval jv_undef, jv_none;
struct jval jv_bool(int b);
struct jval jv_int(int64_t i);
struct jval jv_float(double f);
struct jval jv_str(struct jrender *r, const char *p, size_t n, int32_t tag);
struct jval jv_strz(struct jrender *r, const char *z);
struct jval jv_list(struct jrender *r);
struct jval jv_dict(struct jrender *r);
void jl_push(struct jrender *r, struct jlist *l, struct jval v);
void jd_set(struct jrender *r, struct jdict *d, struct jval k, struct jval v);
struct jval *jd_get(const struct jdict *d, struct jval k);
struct jval *jd_gets(const struct jdict *d, const char *key);
struct jval jv_from_json(struct jrender *r, const json_t *j, int32_t tag);

int  jv_truth(struct jval v);
int  jv_eq(struct jval a, struct jval b);
/* <0, 0, >0 as Python's ordering; fails the render for unorderable types. */
int  jv_cmp(struct jrender *r, int line, struct jval a, struct jval b);
const char *jv_type_name(struct jval v);

/* strings being built: bytes, tags and generation flags together */
void jb_put(struct jrender *r, struct jbuf *b, const char *p, size_t n, const int32_t *tag,
            int32_t tag1, const uint8_t *gen, uint8_t gen1);
void jb_putstr(struct jrender *r, struct jbuf *b, const struct jstr *s);
void jb_putz(struct jrender *r, struct jbuf *b, const char *z);
struct jval jb_val(struct jrender *r, struct jbuf *b); /* the built string, as a value */
/* str(v) as Python (and jinja2 for Undefined: "") appended to b. */
void jv_write_str(struct jrender *r, struct jbuf *b, struct jval v);
/* repr(v) as Python. */
void jv_write_repr(struct jrender *r, struct jbuf *b, struct jval v);
/* str(v) as a value (v itself when it is a string). */
struct jval jv_to_str(struct jrender *r, struct jval v);
/* transformers' tojson: json.dumps(v, ensure_ascii=False, indent, separators, sort_keys). */
void jv_write_json(struct jrender *r, int line, struct jbuf *b, struct jval v, int indent,
                   const char *item_sep, const char *key_sep, int sort_keys, int ascii,
                   int level);
/* markupsafe.escape(v) as a Markup string. */
struct jval jv_html_escape(struct jrender *r, struct jval v);
/* Python's repr of a float. */
void jv_float_repr(double f, char *buf, size_t cap);

/* UTF-8 helpers */
size_t u8_len(const char *p, size_t n);                     /* code points */
size_t u8_off(const char *p, size_t n, size_t cp);          /* byte offset of code point cp */
int    py_isspace(const char *p, size_t n, size_t *len);    /* the code point at p */
struct jval jstr_sub(struct jrender *r, const struct jstr *s, size_t off, size_t n);

/* builtins (jinja_builtins.c) */
struct jval jb_filter(struct jrender *r, const struct jnode *n, struct jval v, struct jval *args,
                      const char **kw, size_t nargs);
int  jb_test(struct jrender *r, const struct jnode *n, const char *name, struct jval v,
             struct jval *args, size_t nargs);
struct jval jb_call_method(struct jrender *r, int line, struct jmethod *m, struct jval *args,
                           const char **kw, size_t nargs);
struct jval jb_call_func(struct jrender *r, int line, int func, struct jval *args,
                         const char **kw, size_t nargs);
/* Attribute of a value (jinja2 getattr: attribute, then item): a bound method, an item or
 * undefined. */
struct jval jb_getattr(struct jrender *r, int line, struct jval v, const char *name);
int  jb_func_id(const char *name);
/* Python's str % args with %s, %d, %i, %r and %% (others are refused). */
struct jval jb_percent_format(struct jrender *r, int line, const struct jstr *f, struct jval args); /* a global function's id, or -1 */
int  jb_is_filter(const char *name);
int  jb_is_test(const char *name);

/* operators (jinja_ops.c); n is the operator's node (for lines and operand names) */
_Noreturn void jr_undef_fail(struct jrender *r, const struct jnode *n);
struct jval jr_binop(struct jrender *r, const struct jnode *n, struct jval a, struct jval b);
int  jr_contains(struct jrender *r, const struct jnode *n, struct jval item, struct jval c);
struct jval jr_slice(struct jrender *r, const struct jnode *n, struct jval v, struct jval start,
                     struct jval stop, struct jval step);
struct jval jr_getitem(struct jrender *r, const struct jnode *n, struct jval v, struct jval k);

/* evaluation (jinja_eval.c), for filters that call tests or filters by name */
struct jval jr_eval(struct jrender *r, struct jframe *f, const struct jnode *n);

/* ---- built-ins: argument helpers (jinja_builtins.c, jinja_str.c, jinja_filters.c) ---- */

/* Argument i of a call: positional i, or keyword name; def when absent. */
static inline struct jval arg(struct jval *args, const char **kw, size_t n, size_t i, const char *name,
                       struct jval def)
{
	size_t pos = 0;
	for (size_t k = 0; k < n; k++) {
		if (kw && kw[k]) {
			if (name && !strcmp(kw[k], name))
				return args[k];
		} else if (pos++ == i) {
			return args[k];
		}
	}
	return def;
}

static inline size_t n_pos(const char **kw, size_t n)
{
	size_t c = 0;
	for (size_t k = 0; k < n; k++)
		c += !(kw && kw[k]);
	return c;
}

static inline void check_kw(struct jrender *r, int line, const char **kw, size_t n,
                     const char *const *allowed, const char *what)
{
	for (size_t k = 0; k < n; k++) {
		if (!kw || !kw[k])
			continue;
		int ok = 0;
		for (size_t a = 0; allowed && allowed[a]; a++)
			ok |= !strcmp(kw[k], allowed[a]);
		if (!ok)
			jr_fail(r, line, "%s got an unexpected keyword argument '%s'", what, kw[k]);
	}
}

static inline const struct jstr *want_str(struct jrender *r, int line, struct jval v, const char *what)
{
	if (v.type != JV_STR)
		jr_fail(r, line, "%s: expected a string, got %s", what, jv_type_name(v));
	return v.u.s;
}

static inline int is_intlike(struct jval v) { return v.type == JV_INT || v.type == JV_BOOL; }
static inline int64_t ival(struct jval v) { return v.type == JV_INT ? v.u.i : v.u.b; }

static inline int64_t want_int(struct jrender *r, int line, struct jval v, const char *what)
{
	if (!is_intlike(v))
		jr_fail(r, line, "%s: expected an integer, got %s", what, jv_type_name(v));
	return ival(v);
}

static inline struct jval tuple2(struct jrender *r, struct jval a, struct jval b)
{
	struct jval t = jv_list(r);
	t.u.l->tuple = 1;
	jl_push(r, t.u.l, a);
	jl_push(r, t.u.l, b);
	return t;
}

/* The items of an iterable as a list (a dict's keys, a string's characters). */
static inline struct jlist *items_of(struct jrender *r, int line, struct jval v)
{
	struct jval l = jv_list(r);
	switch (v.type) {
	case JV_UNDEF: break;
	case JV_LIST:
		if (v.u.l->tuple != JL_GEN)
			return v.u.l;
		for (size_t i = 0; i < v.u.l->n; i++)
			jl_push(r, l.u.l, v.u.l->v[i]);
		v.u.l->n = 0; /* consumed */
		break;
	case JV_DICT:
		for (size_t i = 0; i < v.u.d->n; i++)
			jl_push(r, l.u.l, v.u.d->k[i]);
		break;
	case JV_STR:
		for (size_t i = 0; i < v.u.s->n;) {
			size_t e = i + u8_off(v.u.s->p + i, v.u.s->n - i, 1);
			jl_push(r, l.u.l, jstr_sub(r, v.u.s, i, e - i));
			i = e;
		}
		break;
	default:
		jr_fail(r, line, "'%s' object is not iterable", jv_type_name(v));
	}
	return l.u.l;
}

static inline int in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return 1;
	return 0;
}

/* ---- strings (jinja_str.c): Python str methods on tagged strings ---- */
enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAPITALIZE };
struct jval jstr_strip(struct jrender *r, const struct jstr *s, const struct jstr *chars,
                       int left, int right);          /* chars NULL: Python whitespace */
struct jval jstr_split(struct jrender *r, int line, const struct jstr *s, struct jval sep,
                       int64_t maxsplit, int from_right);
struct jval jstr_replace(struct jrender *r, int line, const struct jstr *s, struct jval old,
                         struct jval new_, int64_t count);
struct jval jstr_case(struct jrender *r, const struct jstr *s, int mode);
struct jval jstr_splitlines(struct jrender *r, const struct jstr *s);
int         jstr_class(const struct jstr *s, int what); /* isdigit 'd', isalpha 'a', ... */
struct jval jstr_method(struct jrender *r, int line, const struct jstr *s, const char *m,
                        struct jval *a, const char **kw, size_t n);

#endif
