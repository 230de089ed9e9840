/* qlora-tools: ISC license. */
/*
 * A conversation rendered by the model's own chat template (chat-template(5)): the Jinja
 * subset renders it exactly as transformers' apply_chat_template does, every byte tagged with
 * where it came from; the bytes become pieces (special tokens of the template text, template
 * text, message contents) and the assistant spans that are trained are found from the
 * template's structure:
 *
 * - a template with {% generation %} blocks: the bytes inside them (TRL's assistant_only_loss);
 * - otherwise, for assistant message k: from the end of the rendering of messages[:k] with the
 *   generation prompt (when that is a prefix of the full rendering; else from k's first content
 *   byte) to the end of k's content in the full rendering, plus the text that follows k's
 *   content when messages[:k+1] is rendered alone (the end-of-turn tokens), as far as the full
 *   rendering agrees with it. A template that rewrites earlier turns (Qwen3 drops the <think>
 *   block of assistant turns before the last user message) is handled by finding the content
 *   in the full rendering itself: what is trained is what the rendering holds.
 */
#include "formats/chat.h"
#include "formats/chat_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The messages as transformers receives them (role, content), and each one's role. */
static json_t *messages_json(const struct chat_conv *c, const struct chat_system *sys,
                             enum chat_role *roles, size_t *n)
{
	json_t *a = json_array();
	*n = 0;
	if (!a)
		return NULL;
	if (c->msg[0].role != CHAT_SYSTEM && sys && sys->mode == CHAT_SYSTEM_SET) {
		json_array_append_new(a, json_pack("{s:s,s:s}", "role", "system", "content",
		                                   sys->text));
		roles[(*n)++] = CHAT_SYSTEM;
	}
	for (size_t i = 0; i < c->n; i++) {
		json_array_append_new(a, json_pack("{s:s,s:s%}", "role", chat_role_name(c->msg[i].role),
		                                   "content", c->msg[i].text, c->msg[i].len));
		roles[(*n)++] = c->msg[i].role;
	}
	if (json_array_size(a) != *n) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Renders messages[0..k) (all of msgs when k == SIZE_MAX) into out. */
static int render(const struct chat_template *t, json_t *msgs, size_t k, int agp,
                  struct jinja_out *out, struct qt_err *err)
{
	json_t *v = json_object(), *m = msgs;
	const char *key;
	json_t *val;
	/* fresh strings: t->vars is shared by threads, and jansson refcounts are not atomic */
	json_object_foreach(t->vars, key, val)
		json_object_set_new(v, key, json_string(json_string_value(val)));
	if (k != SIZE_MAX) {
		m = json_array();
		for (size_t i = 0; i < k; i++)
			json_array_append(m, json_array_get(msgs, i));
		json_object_set_new(v, "messages", m);
	} else {
		json_object_set(v, "messages", m);
	}
	json_object_set_new(v, "tools", json_null());
	json_object_set_new(v, "documents", json_null());
	json_object_set_new(v, "add_generation_prompt", json_boolean(agp));
	struct jinja_opts o = { t->now };
	int st = jinja_render(t->jinja, v, &o, out, err);
	json_decref(v);
	return st;
}

static int is_prefix(const struct jinja_out *p, const struct jinja_out *full)
{
	return p->n <= full->n && !memcmp(p->s, full->s, p->n);
}

struct span {
	size_t start, end;      /* trained bytes */
	size_t content_end;     /* end of the message's content (start of its end-of-turn text) */
	size_t hdr;             /* where the generation prompt before it starts */
};

/* Assistant message k's span in r->text (see the file comment); start == end when none. */
static struct span find_span(const struct chat_template *t, json_t *msgs, size_t k,
                             int want_hdr, struct chat_render *r)
{
	const struct jinja_out *x = &r->text;
	struct jinja_out *s = &r->scratch;
	struct qt_err err;
	struct span sp = { 0, 0, 0, 0 };
	size_t first = SIZE_MAX, last = 0;
	for (size_t i = 0; i < x->n; i++)
		if (x->tag[i] == (int32_t)k) {
			if (first == SIZE_MAX)
				first = i;
			last = i + 1;
		}
	size_t end = first == SIZE_MAX ? SIZE_MAX : last;
	if (render(t, msgs, k + 1, 0, s, &err) == QT_OK) {
		size_t h = SIZE_MAX;
		for (size_t i = 0; i < s->n; i++)
			if (s->tag[i] == (int32_t)k)
				h = i + 1;
		if (end != SIZE_MAX && h != SIZE_MAX) {
			size_t l = 0;
			while (h + l < s->n && end + l < x->n && s->s[h + l] == x->s[end + l] &&
			       x->tag[end + l] == JINJA_TAG_TEMPLATE)
				l++;
			sp.end = end + l;
		} else if (end == SIZE_MAX && is_prefix(s, x)) {
			sp.end = s->n;   /* an empty content: the turn as rendered alone */
		} else {
			sp.end = end == SIZE_MAX ? 0 : end;
		}
	} else {
		sp.end = end == SIZE_MAX ? 0 : end;
	}
	sp.content_end = end == SIZE_MAX ? sp.end : end;
	size_t start = first;
	if (render(t, msgs, k, 1, s, &err) == QT_OK && is_prefix(s, x) &&
	    (first == SIZE_MAX || s->n <= first))
		start = s->n;
	if (start == SIZE_MAX || start > sp.end)
		start = sp.end;
	sp.start = start;
	sp.hdr = start;
	if (want_hdr && render(t, msgs, k, 0, s, &err) == QT_OK && is_prefix(s, x) &&
	    s->n <= start)
		sp.hdr = s->n;
	return sp;
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The longest special token of t that starts at text[i] within template bytes; NULL if none. */
static const struct chat_special *special_at(const struct chat_template *t,
                                            const struct jinja_out *x, size_t i)
{
	unsigned char b = (unsigned char)x->s[i];
	for (uint32_t j = t->first[b]; j < t->first[b + 1]; j++) {
		const struct chat_special *sp = &t->specials[j];
		if (sp->len > x->n - i || memcmp(x->s + i, sp->s, sp->len))
			continue;
		int all_template = 1;
		for (size_t q = i; q < i + sp->len; q++)
			all_template &= x->tag[q] == JINJA_TAG_TEMPLATE;
		if (all_template)
			return sp;
	}
	return NULL;
}

int chat_render_jinja(const struct chat_template *t, const struct chat_conv *c,
                      const struct chat_system *sys, enum chat_train train,
                      int add_generation_prompt, struct chat_render *r, struct qt_err *err)
{
	enum chat_role *roles = malloc((c->n + 1) * sizeof *roles);
	size_t nm = 0;
	json_t *msgs = roles ? messages_json(c, sys, roles, &nm) : NULL;
	if (!msgs) {
		free(roles);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	int st = render(t, msgs, SIZE_MAX, add_generation_prompt, &r->text, err);
	if (st == QT_EDATA && err) {
		/* "TEMPLATE: line N: what", after which the caller puts the record's place */
		char m[sizeof err->msg];
		snprintf(m, sizeof m, "%s", err->msg);
		qt_err_set(err, st, "%s: %s", t->source ? t->source : "chat template", m);
	}
	if (st != QT_OK)
		goto out;
	const struct jinja_out *x = &r->text;
	size_t n = x->n;
	if (r->trained_cap < n + 1) {
		uint8_t *nt = realloc(r->trained, n + 1);
		if (!nt) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			goto out;
		}
		r->trained = nt;
		r->trained_cap = n + 1;
	}
	memset(r->trained, train == CHAT_TRAIN_ALL, n);
	size_t b_hdr = SIZE_MAX, b_tgt = SIZE_MAX, b_tail = SIZE_MAX;
	int marked = jinja_has_generation(t->jinja);
	/* a generation prompt rendered for gen (everything trained) needs no spans */
	int spans = train == CHAT_TRAIN_ASSISTANT || !add_generation_prompt;
	size_t last = SIZE_MAX;
	for (size_t k = 0; k < nm; k++)
		if (roles[k] == CHAT_ASSISTANT)
			last = k;
	for (size_t k = 0; k < nm && spans; k++) {
		if (roles[k] != CHAT_ASSISTANT)
			continue;
		if (marked && train == CHAT_TRAIN_ASSISTANT) {
			/* TRL: what the {% generation %} blocks hold */
			for (size_t i = 0; i < n; i++)
				r->trained[i] = x->gen[i];
			marked = 2;
		}
		struct span sp = find_span(t, msgs, k, k == last, r);
		if (train == CHAT_TRAIN_ASSISTANT && marked != 2)
			memset(r->trained + sp.start, 1, sp.end - sp.start);
		b_hdr = sp.hdr;
		b_tgt = sp.start;
		b_tail = sp.content_end < sp.start ? sp.start : sp.content_end;
	}
	/* pieces: special tokens of the template text, template text, data */
	r->n = 0;
	r->hdr = r->tgt = r->tail = SIZE_MAX;
	enum chat_role cur = CHAT_SYSTEM;
	int bad = 0;
	for (size_t i = 0; i < n && !bad;) {
		if (i == b_hdr)
			r->hdr = r->n;
		if (i == b_tgt)
			r->tgt = r->n;
		if (i == b_tail)
			r->tail = r->n;
		const struct chat_special *sp = x->tag[i] == JINJA_TAG_TEMPLATE ? special_at(t, x, i)
		                                                               : NULL;
		if (sp) {
			size_t a = i, e = i + sp->len;
			if (sp->flags & TOKENIZER_ADDED_RSTRIP)
				while (e < n && is_ws((unsigned char)x->s[e]))
					e++;
			if ((sp->flags & TOKENIZER_ADDED_LSTRIP) && r->n) {
				/* the whitespace before it joins the token */
				struct chat_piece *p = &r->p[r->n - 1];
				while (p->len && p->kind != CHAT_PIECE_SPECIAL &&
				       is_ws((unsigned char)p->s[p->len - 1])) {
					p->len--;
					a--;
				}
				if (!p->len)
					r->n--;
			}
			bad |= chat_push(r, CHAT_PIECE_SPECIAL, r->trained[i], cur, sp->id, x->s + a,
			                 e - a);
			for (size_t q = i + 1; q < e; q++) {
				if (q == b_hdr)
					r->hdr = r->n - 1;
				if (q == b_tgt)
					r->tgt = r->n - 1;
				if (q == b_tail)
					r->tail = r->n - 1;
			}
			i = e;
			continue;
		}
		int32_t tg = x->tag[i];
		uint8_t tr = r->trained[i];
		size_t j = i + 1;
		while (j < n && x->tag[j] == tg && r->trained[j] == tr && j != b_hdr && j != b_tgt &&
		       j != b_tail && !(tg == JINJA_TAG_TEMPLATE && special_at(t, x, j)))
			j++;
		if (tg >= 0 && (size_t)tg < nm)
			cur = roles[tg];
		int kind = tg == JINJA_TAG_TEMPLATE ? CHAT_PIECE_TEXT : CHAT_PIECE_CONTENT;
		bad |= chat_push(r, kind, tr, tg >= 0 ? cur : tg == JINJA_TAG_DATA ? CHAT_TOOL : cur,
		                 0, x->s + i, j - i);
		i = j;
	}
	if (bad)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (b_hdr == n)
		r->hdr = r->n;
	if (b_tgt == n)
		r->tgt = r->n;
	if (b_tail == n)
		r->tail = r->n;
	if (r->tgt == SIZE_MAX || r->tail == SIZE_MAX || r->hdr == SIZE_MAX || r->tgt >= r->n)
		r->hdr = r->tgt = r->tail = r->n;
	if (r->tail < r->tgt)
		r->tail = r->tgt;
	if (r->hdr > r->tgt)
		r->hdr = r->tgt;
out:
	json_decref(msgs);
	free(roles);
	return st;
}
