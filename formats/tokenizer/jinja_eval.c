/* qlora-tools: ISC license. */
/*
 * The Jinja subset's evaluator (see jinja.h): statements and expressions over the tree of
 * jinja_parse.c, with jinja2's scoping (a for loop's body is a fresh scope on each iteration,
 * a macro's body a fresh scope over the frame that defined it, {% if %} no scope at all).
 */
#include "formats/tokenizer/jinja_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MACRO_DEPTH 200  /* deeper macro recursion fails the render */

struct jframe {
	struct jframe *parent;
	struct jdict   vars;
};

static struct jframe *frame_new(struct jrender *r, struct jframe *parent)
{
	struct jframe *f = jr_alloc(r, sizeof *f);
	f->parent = parent;
	return f;
}

static struct jval *lookup(struct jframe *f, const char *name)
{
	for (; f; f = f->parent) {
		struct jval *v = jd_gets(&f->vars, name);
		if (v)
			return v;
	}
	return NULL;
}

static void set_var(struct jrender *r, struct jframe *f, const char *name, struct jval v)
{
	struct jval *e = jd_gets(&f->vars, name);
	if (e)
		*e = v;
	else
		jd_set(r, &f->vars, jv_strz(r, name), v);
}

static int exec_body(struct jrender *r, struct jframe *f, struct jnode **body, size_t n);

/* ---- expressions ---- */

static int is_num(struct jval v) { return is_intlike(v) || v.type == JV_FLOAT; }

static void eval_args(struct jrender *r, struct jframe *f, const struct jnode *n,
                      struct jval **out)
{
	*out = n->n_args ? jr_alloc(r, n->n_args * sizeof **out) : NULL;
	for (size_t i = 0; i < n->n_args; i++)
		(*out)[i] = jr_eval(r, f, n->args[i]);
}

static struct jval call_macro(struct jrender *r, int line, struct jmacro *m, struct jval *args,
                              const char **kw, size_t nargs)
{
	const struct jnode *d = m->def;
	if (++r->depth > MAX_MACRO_DEPTH)
		jr_fail(r, line, "macro calls nested deeper than %d", MAX_MACRO_DEPTH);
	struct jframe *f = frame_new(r, m->frame);
	struct jval *bound = jr_alloc(r, (d->n_args + 1) * sizeof *bound);
	uint8_t *have = jr_alloc(r, d->n_args + 1);
	struct jval varargs = jv_list(r), kwargs = jv_dict(r);
	size_t pos = 0;
	for (size_t i = 0; i < nargs; i++) {
		if (!kw[i]) {
			if (pos < d->n_args) {
				bound[pos] = args[i];
				have[pos++] = 1;
			} else {
				jl_push(r, varargs.u.l, args[i]);
			}
			continue;
		}
		size_t k = 0;
		while (k < d->n_args && strcmp(d->kw[k], kw[i]))
			k++;
		if (k < d->n_args) {
			bound[k] = args[i];
			have[k] = 1;
		} else {
			jd_set(r, kwargs.u.d, jv_strz(r, kw[i]), args[i]);
		}
	}
	if (varargs.u.l->n)
		jr_fail(r, line, "macro '%s' takes not more than %zu argument(s)", d->name,
		        d->n_args);
	if (kwargs.u.d->n)
		jr_fail(r, line, "macro '%s' takes no keyword argument '%s'", d->name,
		        kwargs.u.d->k[0].u.s->p);
	for (size_t k = 0; k < d->n_args; k++) {
		if (!have[k])
			bound[k] = d->args[k] ? jr_eval(r, f, d->args[k]) : jv_undef;
		set_var(r, f, d->kw[k], bound[k]);
	}
	set_var(r, f, "varargs", varargs);
	set_var(r, f, "kwargs", kwargs);
	struct jbuf *saved = r->out, cap = { 0 };
	r->out = &cap;
	exec_body(r, f, d->body, d->n_body);
	r->out = saved;
	r->depth--;
	return jb_val(r, &cap);
}

struct jval jr_eval(struct jrender *r, struct jframe *f, const struct jnode *n)
{
	switch (n->kind) {
	case JN_LIT:
		return n->lit;
	case JN_NAME: {
		struct jval *v = lookup(f, n->name);
		if (v)
			return *v;
		int id = jb_func_id(n->name);
		if (id >= 0) {
			struct jval fv = { .type = JV_FUNC };
			fv.u.func = id;
			return fv;
		}
		return jv_undef;
	}
	case JN_ATTR: {
		struct jval v = jr_eval(r, f, n->a);
		if (v.type == JV_UNDEF)
			jr_undef_fail(r, n->a);
		return jb_getattr(r, n->line, v, n->name);
	}
	case JN_ITEM:
		return jr_getitem(r, n, jr_eval(r, f, n->a), jr_eval(r, f, n->b));
	case JN_SLICE: {
		struct jval v = jr_eval(r, f, n->a);
		struct jval s = n->b ? jr_eval(r, f, n->b) : jv_none;
		struct jval e = n->c ? jr_eval(r, f, n->c) : jv_none;
		struct jval st = n->args[0] ? jr_eval(r, f, n->args[0]) : jv_none;
		return jr_slice(r, n, v, s, e, st);
	}
	case JN_CALL: {
		struct jval c = jr_eval(r, f, n->a), *args;
		eval_args(r, f, n, &args);
		switch (c.type) {
		case JV_FUNC:   return jb_call_func(r, n->line, c.u.func, args, n->kw, n->n_args);
		case JV_METHOD: return jb_call_method(r, n->line, c.u.method, args, n->kw, n->n_args);
		case JV_MACRO:  return call_macro(r, n->line, c.u.macro, args, n->kw, n->n_args);
		case JV_UNDEF:  jr_undef_fail(r, n->a);
		default:
			jr_fail(r, n->line, "'%s' object is not callable", jv_type_name(c));
		}
	}
	case JN_FILTER: {
		struct jval v = jr_eval(r, f, n->a), *args;
		eval_args(r, f, n, &args);
		return jb_filter(r, n, v, args, n->kw, n->n_args);
	}
	case JN_TEST: {
		struct jval v = jr_eval(r, f, n->a), *args;
		eval_args(r, f, n, &args);
		return jv_bool(jb_test(r, n, n->name, v, args, n->n_args) ^ n->op);
	}
	case JN_BIN:
		return jr_binop(r, n, jr_eval(r, f, n->a), jr_eval(r, f, n->b));
	case JN_NOT:
		return jv_bool(!jv_truth(jr_eval(r, f, n->a)));
	case JN_NEG:
	case JN_POS: {
		struct jval v = jr_eval(r, f, n->a);
		if (v.type == JV_UNDEF)
			jr_undef_fail(r, n->a);
		if (!is_num(v))
			jr_fail(r, n->line, "bad operand type for unary %c: '%s'",
			        n->kind == JN_NEG ? '-' : '+', jv_type_name(v));
		if (n->kind == JN_POS)
			return is_intlike(v) ? jv_int(ival(v)) : v;
		return is_intlike(v) ? jv_int(-ival(v)) : jv_float(-v.u.f);
	}
	case JN_AND: {
		struct jval a = jr_eval(r, f, n->a);
		return jv_truth(a) ? jr_eval(r, f, n->b) : a;
	}
	case JN_OR: {
		struct jval a = jr_eval(r, f, n->a);
		return jv_truth(a) ? a : jr_eval(r, f, n->b);
	}
	case JN_COND:
		if (jv_truth(jr_eval(r, f, n->a)))
			return jr_eval(r, f, n->b);
		return n->c ? jr_eval(r, f, n->c) : jv_undef;
	case JN_LIST:
	case JN_TUPLE: {
		struct jval l = jv_list(r);
		l.u.l->tuple = n->kind == JN_TUPLE;
		for (size_t i = 0; i < n->n_args; i++)
			jl_push(r, l.u.l, jr_eval(r, f, n->args[i]));
		return l;
	}
	case JN_DICT: {
		struct jval d = jv_dict(r);
		for (size_t i = 0; i + 1 < n->n_args; i += 2)
			jd_set(r, d.u.d, jr_eval(r, f, n->args[i]), jr_eval(r, f, n->args[i + 1]));
		return d;
	}
	case JN_CMP: {
		struct jval a = jr_eval(r, f, n->a), b = jr_eval(r, f, n->b);
		switch (n->op) {
		case JO_EQ:    return jv_bool(jv_eq(a, b));
		case JO_NE:    return jv_bool(!jv_eq(a, b));
		case JO_IN:    return jv_bool(jr_contains(r, n, a, b));
		case JO_NOTIN: return jv_bool(!jr_contains(r, n, a, b));
		}
		if (a.type == JV_UNDEF)
			jr_undef_fail(r, n->a);
		if (b.type == JV_UNDEF)
			jr_undef_fail(r, n->b);
		int c = jv_cmp(r, n->line, a, b);
		switch (n->op) {
		case JO_LT: return jv_bool(c < 0);
		case JO_LE: return jv_bool(c <= 0);
		case JO_GT: return jv_bool(c > 0);
		default:    return jv_bool(c >= 0);
		}
	}
	default:
		jr_fail(r, n->line, "a statement used as an expression");
	}
}

/* ---- statements ---- */

enum { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE };

/* The items a for loop visits (jinja2 iterates a dict's keys and a string's characters). */
static struct jlist *iter_items(struct jrender *r, const struct jnode *n, struct jval v)
{
	struct jval l = jv_list(r);
	switch (v.type) {
	case JV_UNDEF:
		break;
	case JV_LIST:
		if (v.u.l->tuple != JL_GEN)
			return v.u.l;
		/* a generator is consumed by iterating it */
		for (size_t i = 0; i < v.u.l->n; i++)
			jl_push(r, l.u.l, v.u.l->v[i]);
		v.u.l->n = 0;
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
		jr_fail(r, n->line, "'%s' object is not iterable", jv_type_name(v));
	}
	return l.u.l;
}

static void assign(struct jrender *r, struct jframe *f, const struct jnode *n, struct jval v)
{
	if (n->n_targets == 1) {
		set_var(r, f, n->targets[0], v);
		return;
	}
	struct jlist *items = iter_items(r, n, v);
	if (items->n != n->n_targets)
		jr_fail(r, n->line, "cannot unpack %zu values into %zu names", items->n, n->n_targets);
	for (size_t i = 0; i < n->n_targets; i++)
		set_var(r, f, n->targets[i], items->v[i]);
}

/* Renders body into a new string (a {% set %} block, a {% filter %} block). */
static struct jval capture(struct jrender *r, struct jframe *f, const struct jnode *n)
{
	struct jbuf *saved = r->out, cap = { 0 };
	r->out = &cap;
	int flow = exec_body(r, f, n->body, n->n_body);
	r->out = saved;
	if (flow != FLOW_NEXT)
		jr_fail(r, n->line, "break or continue outside a loop");
	return jb_val(r, &cap);
}

/* The filters of a {% set x | f %} or {% filter f %} block applied to text. */
static struct jval apply_block_filter(struct jrender *r, struct jframe *f, const struct jnode *n,
                                      struct jval text)
{
	struct jframe *hf = frame_new(r, f);
	set_var(r, hf, "", text);
	return jr_eval(r, hf, n->a);
}

static int exec_for(struct jrender *r, struct jframe *f, const struct jnode *n)
{
	struct jlist *all = iter_items(r, n, jr_eval(r, f, n->a));
	struct jlist *items = all;
	if (n->b) {
		items = jv_list(r).u.l;
		for (size_t i = 0; i < all->n; i++) {
			struct jframe *cf = frame_new(r, f);
			assign(r, cf, n, all->v[i]);
			if (jv_truth(jr_eval(r, cf, n->b)))
				jl_push(r, items, all->v[i]);
		}
	}
	struct jval *outer = lookup(f, "loop");
	struct jloop *lp = jr_alloc(r, sizeof *lp);
	lp->items = items;
	lp->depth = 1; /* only recursive loops (outside the subset) go deeper */
	(void)outer;
	struct jval lv = { .type = JV_LOOP };
	lv.u.loop = lp;
	for (size_t i = 0; i < items->n; i++) {
		struct jframe *it = frame_new(r, f);
		lp->i = i;
		set_var(r, it, "loop", lv);
		assign(r, it, n, items->v[i]);
		if (exec_body(r, it, n->body, n->n_body) == FLOW_BREAK)
			break;
	}
	if (!items->n && n->n_orelse)
		return exec_body(r, frame_new(r, f), n->orelse, n->n_orelse);
	return FLOW_NEXT;
}

static int exec_body(struct jrender *r, struct jframe *f, struct jnode **body, size_t nb)
{
	for (size_t k = 0; k < nb; k++) {
		const struct jnode *n = body[k];
		int flow = FLOW_NEXT;
		switch (n->kind) {
		case JS_TEXT:
			jb_putstr(r, r->out, n->lit.u.s);
			break;
		case JS_OUT: {
			struct jval v = jr_eval(r, f, n->a);
			if (v.type == JV_LIST && v.u.l->tuple == JL_GEN)
				jr_fail(r, n->line, "printing a generator (its address) is not implemented");
			jv_write_str(r, r->out, v);
			break;
		}
		case JS_IF:
			if (jv_truth(jr_eval(r, f, n->a)))
				flow = exec_body(r, f, n->body, n->n_body);
			else
				flow = exec_body(r, f, n->orelse, n->n_orelse);
			break;
		case JS_FOR:
			flow = exec_for(r, f, n);
			break;
		case JS_SET: {
			struct jval v = jr_eval(r, f, n->a);
			if (n->attr) {
				struct jval *ns = lookup(f, n->name);
				if (!ns || ns->type != JV_DICT || !ns->u.d->ns)
					jr_fail(r, n->line, "cannot assign attribute on non-namespace object");
				jd_set(r, ns->u.d, jv_strz(r, n->attr), v);
			} else {
				assign(r, f, n, v);
			}
			break;
		}
		case JS_SETBLOCK: {
			struct jval v = capture(r, f, n);
			if (n->a)
				v = apply_block_filter(r, f, n, v);
			set_var(r, f, n->name, v);
			break;
		}
		case JS_FILTERBLOCK:
			jv_write_str(r, r->out, apply_block_filter(r, f, n, capture(r, f, n)));
			break;
		case JS_MACRO: {
			struct jval m = { .type = JV_MACRO };
			m.u.macro = jr_alloc(r, sizeof *m.u.macro);
			m.u.macro->def = n;
			m.u.macro->frame = f;
			set_var(r, f, n->name, m);
			break;
		}
		case JS_BREAK:
			return FLOW_BREAK;
		case JS_CONTINUE:
			return FLOW_CONTINUE;
		case JS_GENERATION:
			r->in_gen++;
			flow = exec_body(r, f, n->body, n->n_body);
			r->in_gen--;
			break;
		default:
			jr_fail(r, n->line, "an expression used as a statement");
		}
		if (flow != FLOW_NEXT)
			return flow;
	}
	return FLOW_NEXT;
}

/* ---- entry ---- */

int jinja_render(const struct jinja_tpl *t, const json_t *vars, const struct jinja_opts *o,
                 struct jinja_out *out, struct qt_err *err)
{
	struct jrender *r = calloc(1, sizeof *r);
	if (!r)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	struct qt_err local;
	r->err = err ? err : &local;
	r->o = o;
	/* in *r, not a local: it changes between setjmp and a longjmp */
	r->final = (struct jbuf){ out->s, out->tag, out->gen, 0, out->cap, 1 };
	r->out = &r->final;
	int st = QT_OK;
	if (setjmp(r->jb)) {
		st = r->err->status ? r->err->status : QT_EDATA;
	} else {
		struct jframe *g = frame_new(r, NULL);
		r->globals = g;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)vars, k, v) {
			struct jval x;
			if (!strcmp(k, "messages") && json_is_array(v)) {
				x = jv_list(r);
				size_t i;
				json_t *m;
				json_array_foreach(v, i, m) {
					struct jval mv = jv_from_json(r, m, (int32_t)i);
					/* the role names the turn: template text, not data */
					struct jval *role = mv.type == JV_DICT ? jd_gets(mv.u.d, "role") : NULL;
					if (role && role->type == JV_STR)
						*role = jv_str(r, role->u.s->p, role->u.s->n,
						               JINJA_TAG_TEMPLATE);
					jl_push(r, x.u.l, mv);
				}
			} else {
				int data = !strcmp(k, "tools") || !strcmp(k, "documents");
				x = jv_from_json(r, v, data ? JINJA_TAG_DATA : JINJA_TAG_TEMPLATE);
			}
			set_var(r, g, k, x);
		}
		if (exec_body(r, g, t->body, t->n_body) != FLOW_NEXT)
			jr_fail(r, 0, "break or continue outside a loop");
		jb_put(r, &r->final, "", 0, NULL, -1, NULL, 0); /* NUL-terminate an empty output */
	}
	out->s = r->final.p;
	out->tag = r->final.tag;
	out->gen = r->final.gen;
	out->cap = r->final.cap;
	out->n = st == QT_OK ? r->final.n : 0;
	ja_free(&r->a);
	free(r);
	return st;
}

void jinja_out_free(struct jinja_out *out)
{
	free(out->s);
	free(out->tag);
	free(out->gen);
	memset(out, 0, sizeof *out);
}
