/* qlora-tools: ISC license. */
/*
 * The Jinja subset's parser (see jinja.h): recursive descent over jinja_lex.c's tokens with
 * jinja2's precedence into the tree of jinja_int.h; tags outside the subset are refused with
 * their line.
 */
#include "formats/tokenizer/jinja_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- parser ---- */

static struct tok *cur(struct parser *p) { return &p->tk[p->pos]; }
static struct tok *peek(struct parser *p, size_t k)
{
	return &p->tk[p->pos + k < p->n ? p->pos + k : p->n - 1];
}
static int is_op(struct tok *k, const char *op) { return k->t == T_OP && !strcmp(k->s, op); }
static int is_name(struct tok *k, const char *nm) { return k->t == T_NAME && !strcmp(k->s, nm); }

static const char *tok_desc(struct tok *k)
{
	switch (k->t) {
	case T_EOF:    return "the end of the template";
	case T_VEND:   return "'}}'";
	case T_BEND:   return "'%}'";
	case T_NAME: case T_OP: return k->s;
	case T_STR:    return "a string";
	default:       return "a number";
	}
}

static void expect_op(struct parser *p, const char *op)
{
	if (!is_op(cur(p), op))
		jp_fail(p, cur(p)->line, "expected '%s', found %s", op, tok_desc(cur(p)));
	p->pos++;
}

static const char *expect_name(struct parser *p)
{
	if (cur(p)->t != T_NAME)
		jp_fail(p, cur(p)->line, "expected a name, found %s", tok_desc(cur(p)));
	return p->tk[p->pos++].s;
}

static void expect_t(struct parser *p, int t)
{
	if (cur(p)->t != t)
		jp_fail(p, cur(p)->line, "expected %s, found %s", t == T_BEND ? "'%}'" : "'}}'",
		     tok_desc(cur(p)));
	p->pos++;
}

static struct jnode *node(struct parser *p, int kind, int line)
{
	struct jnode *nd = jp_alloc(p, sizeof *nd);
	nd->kind = kind;
	nd->line = line;
	return nd;
}

struct nvec {
	struct jnode **v;
	const char   **kw;
	size_t         n, cap;
};

static void nv_push(struct parser *p, struct nvec *v, struct jnode *nd, const char *kw)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 4;
		struct jnode **nv = jp_alloc(p, cap * sizeof *nv);
		const char **nk = jp_alloc(p, cap * sizeof *nk);
		if (v->n) {
			memcpy(nv, v->v, v->n * sizeof *nv);
			memcpy(nk, v->kw, v->n * sizeof *nk);
		}
		v->v = nv;
		v->kw = nk;
		v->cap = cap;
	}
	v->v[v->n] = nd;
	v->kw[v->n++] = kw;
}

static struct jnode *parse_expr(struct parser *p);
static struct jnode *parse_or(struct parser *p);
static struct jnode *parse_unary(struct parser *p, int with_filter);
static struct jnode *parse_primary(struct parser *p);
static struct jnode *parse_postfix(struct parser *p, struct jnode *nd);

/* Nesting of expressions and blocks: the parser and the renderer recurse once per level, so a
 * template of 100000 '(' or {% if %} would overflow the stack (found by hand: SIGSEGV after
 * minutes). Templates in the wild nest a few levels. */
#define JP_MAX_DEPTH 100
static void jp_enter(struct parser *p)
{
	if (++p->depth > JP_MAX_DEPTH)
		jp_fail(p, cur(p)->line, "expressions or blocks nested deeper than %d", JP_MAX_DEPTH);
}
static struct jnode *parse_expr_in(struct parser *p);
static struct jnode *parse_expr(struct parser *p)
{
	jp_enter(p);
	struct jnode *e = parse_expr_in(p);
	p->depth--;
	return e;
}
static struct jnode *parse_unary_in(struct parser *p, int with_filter);
static struct jnode *parse_unary(struct parser *p, int with_filter)
{
	jp_enter(p);
	struct jnode *e = parse_unary_in(p, with_filter);
	p->depth--;
	return e;
}
static struct jnode *parse_not_in(struct parser *p);
static struct jnode *parse_not(struct parser *p)
{
	jp_enter(p);
	struct jnode *e = parse_not_in(p);
	p->depth--;
	return e;
}

/* A tuple or a single expression (jinja2 parse_tuple); explicit: inside parentheses. */
static struct jnode *parse_tuple(struct parser *p, int with_cond, int explicit)
{
	int line = cur(p)->line;
	struct nvec v = { 0 };
	int comma = 0;
	for (;;) {
		struct tok *k = cur(p);
		if (v.n && (k->t == T_VEND || k->t == T_BEND || is_op(k, ")") || is_op(k, "]") ||
		            is_op(k, "=") || is_name(k, "in") || (!with_cond && is_name(k, "if"))))
			break;
		if (explicit && !v.n && is_op(k, ")"))
			break;
		nv_push(p, &v, with_cond ? parse_expr(p) : parse_or(p), NULL);
		if (!is_op(cur(p), ","))
			break;
		comma = 1;
		p->pos++;
	}
	if (v.n == 1 && !comma)
		return v.v[0];
	if (!v.n && !explicit)
		jp_fail(p, line, "expected an expression, found %s", tok_desc(cur(p)));
	struct jnode *t = node(p, JN_TUPLE, line);
	t->args = v.v;
	t->n_args = v.n;
	return t;
}

static struct jnode *parse_expr_in(struct parser *p)
{
	struct jnode *e = parse_or(p);
	while (is_name(cur(p), "if")) {
		int line = cur(p)->line;
		p->pos++;
		struct jnode *c = node(p, JN_COND, line);
		c->b = e;
		c->a = parse_or(p);
		if (is_name(cur(p), "else")) {
			p->pos++;
			c->c = parse_expr(p);
		}
		e = c;
	}
	return e;
}

static struct jnode *bin(struct parser *p, int kind, int op, struct jnode *a, struct jnode *b,
                         int line)
{
	struct jnode *nd = node(p, kind, line);
	nd->op = op;
	nd->a = a;
	nd->b = b;
	return nd;
}

static struct jnode *parse_not(struct parser *p);
static struct jnode *parse_and(struct parser *p)
{
	struct jnode *e = parse_not(p);
	while (is_name(cur(p), "and")) {
		int line = p->tk[p->pos++].line;
		e = bin(p, JN_AND, 0, e, parse_not(p), line);
	}
	return e;
}

static struct jnode *parse_or(struct parser *p)
{
	struct jnode *e = parse_and(p);
	while (is_name(cur(p), "or")) {
		int line = p->tk[p->pos++].line;
		e = bin(p, JN_OR, 0, e, parse_and(p), line);
	}
	return e;
}

static struct jnode *parse_math1(struct parser *p);
static struct jnode *parse_compare(struct parser *p)
{
	static const struct { const char *s; int op; } cmps[] = {
		{ "==", JO_EQ }, { "!=", JO_NE }, { "<", JO_LT }, { "<=", JO_LE }, { ">", JO_GT },
		{ ">=", JO_GE },
	};
	struct jnode *e = parse_math1(p), *prev = e, *res = NULL;
	for (;;) {
		struct tok *k = cur(p);
		int op = 0;
		for (size_t c = 0; c < sizeof cmps / sizeof *cmps; c++)
			if (is_op(k, cmps[c].s))
				op = cmps[c].op;
		if (!op && is_name(k, "in"))
			op = JO_IN;
		if (!op && is_name(k, "not") && is_name(peek(p, 1), "in")) {
			op = JO_NOTIN;
			p->pos++;
		}
		if (!op)
			break;
		p->pos++;
		struct jnode *rhs = parse_math1(p);
		struct jnode *c = bin(p, JN_CMP, op, prev, rhs, k->line);
		res = res ? bin(p, JN_AND, 0, res, c, k->line) : c;  /* a < b < c */
		prev = rhs;
	}
	return res ? res : e;
}

static struct jnode *parse_not_in(struct parser *p)
{
	if (is_name(cur(p), "not")) {
		int line = p->tk[p->pos++].line;
		struct jnode *nd = node(p, JN_NOT, line);
		nd->a = parse_not(p);
		return nd;
	}
	return parse_compare(p);
}

static struct jnode *parse_concat(struct parser *p);
static struct jnode *parse_math1(struct parser *p)
{
	struct jnode *e = parse_concat(p);
	while (is_op(cur(p), "+") || is_op(cur(p), "-")) {
		struct tok *k = &p->tk[p->pos++];
		e = bin(p, JN_BIN, k->s[0] == '+' ? JO_ADD : JO_SUB, e, parse_concat(p), k->line);
	}
	return e;
}

static struct jnode *parse_math2(struct parser *p);
static struct jnode *parse_concat(struct parser *p)
{
	struct jnode *e = parse_math2(p);
	while (is_op(cur(p), "~")) {
		int line = p->tk[p->pos++].line;
		e = bin(p, JN_BIN, JO_CAT, e, parse_math2(p), line);
	}
	return e;
}

static struct jnode *parse_pow(struct parser *p);
static struct jnode *parse_math2(struct parser *p)
{
	struct jnode *e = parse_pow(p);
	for (;;) {
		struct tok *k = cur(p);
		int op = is_op(k, "*") ? JO_MUL : is_op(k, "/") ? JO_DIV : is_op(k, "//") ? JO_FDIV :
		         is_op(k, "%") ? JO_MOD : 0;
		if (!op)
			return e;
		p->pos++;
		e = bin(p, JN_BIN, op, e, parse_pow(p), k->line);
	}
}

static struct jnode *parse_pow(struct parser *p)
{
	struct jnode *e = parse_unary(p, 1);
	while (is_op(cur(p), "**")) {
		int line = p->tk[p->pos++].line;
		e = bin(p, JN_BIN, JO_POW, e, parse_unary(p, 1), line);
	}
	return e;
}

/* Call arguments after '(' up to ')': positional, then name=value. */
static void parse_args(struct parser *p, struct jnode *nd)
{
	struct nvec v = { 0 };
	expect_op(p, "(");
	while (!is_op(cur(p), ")")) {
		if (v.n)
			expect_op(p, ",");
		if (is_op(cur(p), ")"))
			break;
		if (is_op(cur(p), "*") || is_op(cur(p), "**"))
			jp_fail(p, cur(p)->line, "*args and **kwargs in calls are not implemented");
		const char *kw = NULL;
		if (cur(p)->t == T_NAME && is_op(peek(p, 1), "=")) {
			kw = cur(p)->s;
			p->pos += 2;
		}
		nv_push(p, &v, parse_expr(p), kw);
	}
	p->pos++;
	nd->args = v.v;
	nd->kw = v.kw;
	nd->n_args = v.n;
}

static struct jnode *parse_filter_expr(struct parser *p, struct jnode *e)
{
	int nest = 0; /* each filter, test, attribute, subscript or call is a level */
	for (;;) {
		jp_enter(p);
		nest++;
		struct tok *k = cur(p);
		if (is_op(k, "|")) {
			p->pos++;
			struct jnode *f = node(p, JN_FILTER, k->line);
			f->name = expect_name(p);
			if (is_op(cur(p), "."))
				jp_fail(p, k->line, "dotted filter names are not implemented");
			f->a = e;
			if (is_op(cur(p), "("))
				parse_args(p, f);
			e = f;
		} else if (is_name(k, "is")) {
			p->pos++;
			struct jnode *t = node(p, JN_TEST, k->line);
			if (is_name(cur(p), "not")) {
				t->op = 1;
				p->pos++;
			}
			t->name = expect_name(p);
			t->a = e;
			struct tok *c = cur(p);
			if (is_op(c, "(")) {
				parse_args(p, t);
			} else if ((c->t == T_NAME || c->t == T_STR || c->t == T_INT || c->t == T_FLOAT ||
			            is_op(c, "[") || is_op(c, "{")) &&
			           !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
				if (is_name(c, "is"))
					jp_fail(p, c->line, "tests cannot be chained with 'is'");
				struct jnode *arg = parse_postfix(p, parse_primary(p));
				t->args = jp_alloc(p, sizeof *t->args);
				t->kw = jp_alloc(p, sizeof *t->kw);
				t->args[0] = arg;
				t->n_args = 1;
			}
			e = t;
		} else if (is_op(k, "(")) {
			struct jnode *c = node(p, JN_CALL, k->line);
			c->a = e;
			parse_args(p, c);
			e = c;
		} else {
			p->depth -= nest;
			return e;
		}
	}
}

static struct jnode *parse_unary_in(struct parser *p, int with_filter)
{
	struct tok *k = cur(p);
	struct jnode *e;
	if (is_op(k, "-") || is_op(k, "+")) {
		p->pos++;
		e = node(p, k->s[0] == '-' ? JN_NEG : JN_POS, k->line);
		e->a = parse_unary(p, 0);
	} else {
		e = parse_primary(p);
	}
	e = parse_postfix(p, e);
	return with_filter ? parse_filter_expr(p, e) : e;
}

static struct jnode *lit(struct parser *p, int line, struct jval v)
{
	struct jnode *nd = node(p, JN_LIT, line);
	nd->lit = v;
	return nd;
}

static struct jnode *parse_primary(struct parser *p)
{
	struct tok *k = cur(p);
	int line = k->line;
	if (k->t == T_NAME) {
		p->pos++;
		if (!strcmp(k->s, "true") || !strcmp(k->s, "True"))
			return lit(p, line, jv_bool(1));
		if (!strcmp(k->s, "false") || !strcmp(k->s, "False"))
			return lit(p, line, jv_bool(0));
		if (!strcmp(k->s, "none") || !strcmp(k->s, "None"))
			return lit(p, line, jv_none);
		struct jnode *nd = node(p, JN_NAME, line);
		nd->name = k->s;
		return nd;
	}
	if (k->t == T_STR) {
		/* adjacent literals are one string */
		size_t total = 0, q = p->pos;
		while (p->tk[q].t == T_STR)
			total += p->tk[q++].n;
		char *buf = jp_alloc(p, total + 1);
		size_t o = 0;
		while (cur(p)->t == T_STR) {
			memcpy(buf + o, cur(p)->s, cur(p)->n);
			o += cur(p)->n;
			p->pos++;
		}
		struct jstr *s = jp_alloc(p, sizeof *s);
		s->p = buf;
		s->n = total;
		struct jval v = { .type = JV_STR };
		v.u.s = s;
		return lit(p, line, v);
	}
	if (k->t == T_INT) {
		p->pos++;
		return lit(p, line, jv_int(k->i));
	}
	if (k->t == T_FLOAT) {
		p->pos++;
		return lit(p, line, jv_float(k->f));
	}
	if (is_op(k, "(")) {
		p->pos++;
		struct jnode *e = parse_tuple(p, 1, 1);
		expect_op(p, ")");
		return e;
	}
	if (is_op(k, "[") || is_op(k, "{")) {
		int dict = k->s[0] == '{';
		const char *close = dict ? "}" : "]";
		p->pos++;
		struct nvec v = { 0 };
		while (!is_op(cur(p), close)) {
			if (v.n)
				expect_op(p, ",");
			if (is_op(cur(p), close))
				break;
			nv_push(p, &v, parse_expr(p), NULL);
			if (dict) {
				expect_op(p, ":");
				nv_push(p, &v, parse_expr(p), NULL);
			}
		}
		p->pos++;
		struct jnode *nd = node(p, dict ? JN_DICT : JN_LIST, line);
		nd->args = v.v;
		nd->n_args = v.n;
		return nd;
	}
	jp_fail(p, line, "unexpected %s", tok_desc(k));
}

static struct jnode *parse_postfix(struct parser *p, struct jnode *e)
{
	int nest = 0; /* each filter, test, attribute, subscript or call is a level */
	for (;;) {
		jp_enter(p);
		nest++;
		struct tok *k = cur(p);
		if (is_op(k, ".")) {
			p->pos++;
			struct tok *a = cur(p);
			if (a->t == T_INT) {
				p->pos++;
				struct jnode *nd = node(p, JN_ITEM, k->line);
				nd->a = e;
				nd->b = lit(p, k->line, jv_int(a->i));
				e = nd;
				continue;
			}
			struct jnode *nd = node(p, JN_ATTR, k->line);
			nd->a = e;
			nd->name = expect_name(p);
			e = nd;
		} else if (is_op(k, "[")) {
			p->pos++;
			struct jnode *parts[3] = { NULL, NULL, NULL };
			int n_colon = 0;
			for (;;) {
				struct tok *c = cur(p);
				if (is_op(c, ":")) {
					if (++n_colon > 2)
						jp_fail(p, c->line, "expected ']'");
					p->pos++;
				} else if (is_op(c, "]")) {
					break;
				} else {
					if (parts[n_colon])
						jp_fail(p, c->line, "expected ']', found %s", tok_desc(c));
					parts[n_colon] = n_colon ? parse_expr(p) : parse_tuple(p, 1, 0);
				}
			}
			p->pos++;
			struct jnode *nd = node(p, n_colon ? JN_SLICE : JN_ITEM, k->line);
			nd->a = e;
			if (n_colon) {
				nd->b = parts[0];
				nd->c = parts[1];
				nd->args = jp_alloc(p, sizeof *nd->args);
				nd->args[0] = parts[2];
			} else {
				if (!parts[0])
					jp_fail(p, k->line, "an empty subscript");
				nd->b = parts[0];
			}
			e = nd;
		} else if (is_op(k, "(")) {
			struct jnode *c = node(p, JN_CALL, k->line);
			c->a = e;
			parse_args(p, c);
			e = c;
		} else {
			p->depth -= nest;
			return e;
		}
	}
}

/* ---- statements ---- */

struct svec {
	struct jnode **v;
	size_t         n, cap;
};

static void sv_push(struct parser *p, struct svec *v, struct jnode *nd)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 8;
		struct jnode **nv = jp_alloc(p, cap * sizeof *nv);
		if (v->n)
			memcpy(nv, v->v, v->n * sizeof *nv);
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = nd;
}

/*
 * Statements up to one of the block tags in ends (a NULL-terminated list; NULL ends: the end of
 * the template). Returns the end tag found, with the parser just after its name.
 */
static const char *parse_body_in(struct parser *p, const char *const *ends, struct svec *out,
                                 int open_line, const char *open);
static const char *parse_body(struct parser *p, const char *const *ends, struct svec *out,
                              int open_line, const char *open)
{
	jp_enter(p);
	const char *r = parse_body_in(p, ends, out, open_line, open);
	p->depth--;
	return r;
}

static const char *const unsupported_tags[] = {
	"include", "import", "from", "extends", "block", "call", "with", "do", "autoescape",
	"trans", "pluralize", "endtrans", "raw", NULL,
};

static void parse_targets(struct parser *p, struct jnode *nd)
{
	int paren = is_op(cur(p), "(");
	if (paren)
		p->pos++;
	struct nvec v = { 0 };
	for (;;) {
		nv_push(p, &v, NULL, expect_name(p));
		if (!is_op(cur(p), ","))
			break;
		p->pos++;
	}
	if (paren)
		expect_op(p, ")");
	nd->targets = v.kw;
	nd->n_targets = v.n;
}

static struct jnode *parse_stmt(struct parser *p, int line, const char *name)
{
	struct svec body = { 0 }, orelse = { 0 };
	struct jnode *nd;
	if (!strcmp(name, "if") || !strcmp(name, "elif")) {
		nd = node(p, JS_IF, line);
		nd->a = parse_expr(p);
		expect_t(p, T_BEND);
		static const char *const ends[] = { "elif", "else", "endif", NULL };
		const char *e = parse_body(p, ends, &body, line, "if");
		if (!strcmp(e, "elif")) {
			sv_push(p, &orelse, parse_stmt(p, p->tk[p->pos - 1].line, "elif"));
		} else if (!strcmp(e, "else")) {
			expect_t(p, T_BEND);
			static const char *const ends2[] = { "endif", NULL };
			parse_body(p, ends2, &orelse, line, "if");
			expect_t(p, T_BEND);
		} else {
			expect_t(p, T_BEND);
		}
	} else if (!strcmp(name, "for")) {
		nd = node(p, JS_FOR, line);
		parse_targets(p, nd);
		if (!is_name(cur(p), "in"))
			jp_fail(p, cur(p)->line, "expected 'in', found %s", tok_desc(cur(p)));
		p->pos++;
		nd->a = parse_tuple(p, 0, 0);
		if (is_name(cur(p), "if")) {
			p->pos++;
			nd->b = parse_expr(p);
		}
		if (is_name(cur(p), "recursive"))
			jp_fail(p, cur(p)->line, "recursive loops are not implemented");
		expect_t(p, T_BEND);
		static const char *const ends[] = { "else", "endfor", NULL };
		const char *e = parse_body(p, ends, &body, line, "for");
		expect_t(p, T_BEND);
		if (!strcmp(e, "else")) {
			static const char *const ends2[] = { "endfor", NULL };
			parse_body(p, ends2, &orelse, line, "for");
			expect_t(p, T_BEND);
		}
	} else if (!strcmp(name, "set")) {
		nd = node(p, JS_SET, line);
		if (cur(p)->t == T_NAME && is_op(peek(p, 1), ".")) {
			nd->name = expect_name(p);
			p->pos++;
			nd->attr = expect_name(p);
		} else {
			parse_targets(p, nd);
			nd->name = nd->targets[0];
		}
		if (is_op(cur(p), "=")) {
			p->pos++;
			nd->a = parse_tuple(p, 1, 0);
			expect_t(p, T_BEND);
		} else {
			if (nd->attr || nd->n_targets != 1)
				jp_fail(p, line, "expected '='");
			nd->kind = JS_SETBLOCK;
			if (is_op(cur(p), "|")) {
				/* {% set x | filter %}: the filters apply to the block's text */
				struct jnode *hole = node(p, JN_NAME, line);
				hole->name = "";
				nd->a = parse_filter_expr(p, hole);
			}
			expect_t(p, T_BEND);
			static const char *const ends[] = { "endset", NULL };
			parse_body(p, ends, &body, line, "set");
			expect_t(p, T_BEND);
		}
	} else if (!strcmp(name, "macro")) {
		nd = node(p, JS_MACRO, line);
		nd->name = expect_name(p);
		expect_op(p, "(");
		struct nvec v = { 0 };
		while (!is_op(cur(p), ")")) {
			if (v.n)
				expect_op(p, ",");
			const char *pn = expect_name(p);
			struct jnode *def = NULL;
			if (is_op(cur(p), "=")) {
				p->pos++;
				def = parse_expr(p);
			}
			nv_push(p, &v, def, pn);
		}
		p->pos++;
		nd->args = v.v;
		nd->kw = v.kw;
		nd->n_args = v.n;
		expect_t(p, T_BEND);
		static const char *const ends[] = { "endmacro", NULL };
		parse_body(p, ends, &body, line, "macro");
		if (cur(p)->t == T_NAME)
			p->pos++; /* {% endmacro name %} */
		expect_t(p, T_BEND);
	} else if (!strcmp(name, "break") || !strcmp(name, "continue")) {
		nd = node(p, name[0] == 'b' ? JS_BREAK : JS_CONTINUE, line);
		expect_t(p, T_BEND);
	} else if (!strcmp(name, "generation")) {
		nd = node(p, JS_GENERATION, line);
		p->tpl->has_generation = 1;
		expect_t(p, T_BEND);
		static const char *const ends[] = { "endgeneration", NULL };
		parse_body(p, ends, &body, line, "generation");
		expect_t(p, T_BEND);
	} else if (!strcmp(name, "filter")) {
		nd = node(p, JS_FILTERBLOCK, line);
		struct jnode *hole = node(p, JN_NAME, line);
		hole->name = "";
		p->pos--;
		p->tk[p->pos].t = T_OP;   /* read "filter name" as "| name" */
		p->tk[p->pos].s = "|";
		nd->a = parse_filter_expr(p, hole);
		expect_t(p, T_BEND);
		static const char *const ends[] = { "endfilter", NULL };
		parse_body(p, ends, &body, line, "filter");
		expect_t(p, T_BEND);
	} else {
		for (int u = 0; unsupported_tags[u]; u++)
			if (!strcmp(name, unsupported_tags[u]))
				jp_fail(p, line, "{%% %s %%} is not implemented", name);
		jp_fail(p, line, "unknown tag '%s'", name);
	}
	nd->body = body.v;
	nd->n_body = body.n;
	nd->orelse = orelse.v;
	nd->n_orelse = orelse.n;
	return nd;
}

static const char *parse_body_in(struct parser *p, const char *const *ends, struct svec *out,
                                 int open_line, const char *open)
{
	for (;;) {
		struct tok *k = cur(p);
		if (k->t == T_EOF) {
			if (ends)
				jp_fail(p, open_line, "{%% %s %%} is not closed (expected {%% %s %%})", open,
				     ends[0]);
			return NULL;
		}
		if (k->t == T_TEXT) {
			struct jnode *nd = node(p, JS_TEXT, k->line);
			struct jstr *s = jp_alloc(p, sizeof *s);
			s->p = k->s;
			s->n = k->n;
			nd->lit.type = JV_STR;
			nd->lit.u.s = s;
			sv_push(p, out, nd);
			p->pos++;
		} else if (k->t == T_VBEGIN) {
			p->pos++;
			struct jnode *nd = node(p, JS_OUT, k->line);
			nd->a = parse_tuple(p, 1, 0);
			expect_t(p, T_VEND);
			sv_push(p, out, nd);
		} else if (k->t == T_BBEGIN) {
			p->pos++;
			int line = cur(p)->line;
			const char *name = expect_name(p);
			for (size_t e = 0; ends && ends[e]; e++)
				if (!strcmp(name, ends[e]))
					return ends[e];
			if (!strncmp(name, "end", 3) || !strcmp(name, "elif") || !strcmp(name, "else"))
				jp_fail(p, line, "unexpected {%% %s %%}", name);
			sv_push(p, out, parse_stmt(p, line, name));
		} else {
			jp_fail(p, k->line, "unexpected %s", tok_desc(k));
		}
	}
}

int jinja_parse(const char *src, size_t len, struct jinja_tpl **out, struct qt_err *err)
{
	*out = NULL;
	struct jinja_tpl *t = calloc(1, sizeof *t);
	if (!t)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	struct parser p = { .tpl = t, .err = err };
	if (setjmp(p.jb)) {
		free(p.tk);
		jinja_free(t);
		return err ? err->status : QT_EDATA;
	}
	jp_lex(&p, src, len);
	struct svec body = { 0 };
	parse_body(&p, NULL, &body, 1, NULL);
	t->body = body.v;
	t->n_body = body.n;
	free(p.tk);
	*out = t;
	return QT_OK;
}

void jinja_free(struct jinja_tpl *t)
{
	if (!t)
		return;
	ja_free(&t->arena);
	free(t);
}

int jinja_has_generation(const struct jinja_tpl *t) { return t->has_generation; }
