/* qlora-tools: ISC license. */
/*
 * Conversations, rendering into pieces, encoding into ids + mask, and truncation; see chat.h and
 * chat(5). Templates are read in chat_template.c, records parsed in chat_records.c, and the
 * tok-chatml driver is jobs/tok_chatml.c.
 */
#include "formats/chat.h"
#include "formats/chat_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define IM_START "<|im_start|>"
#define IM_END   "<|im_end|>"

/* ---- conversations ---- */

const char *chat_role_name(enum chat_role r)
{
	switch (r) {
	case CHAT_SYSTEM:    return "system";
	case CHAT_USER:      return "user";
	case CHAT_ASSISTANT: return "assistant";
	case CHAT_TOOL:      return "tool";
	case CHAT_TEXT:      return "text";
	}
	return "?";
}

/* The template text after <|im_start|>: the role and its newline. */
static const char *role_header(enum chat_role r)
{
	switch (r) {
	case CHAT_SYSTEM:    return "system\n";
	case CHAT_USER:      return "user\n";
	case CHAT_ASSISTANT: return "assistant\n";
	case CHAT_TOOL:      return "tool\n";
	default:             return "text\n";
	}
}

int chat_conv_add(struct chat_conv *c, enum chat_role role, const char *text, size_t len)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct chat_msg *m = realloc(c->msg, cap * sizeof *m);
		if (!m)
			return QT_ESOFTWARE;
		c->msg = m;
		c->cap = cap;
	}
	c->msg[c->n++] = (struct chat_msg){ role, text, len };
	return QT_OK;
}

void chat_conv_reset(struct chat_conv *c)
{
	c->n = 0;
	json_decref(c->json);
	c->json = NULL;
}

void chat_conv_free(struct chat_conv *c)
{
	chat_conv_reset(c);
	free(c->msg);
	memset(c, 0, sizeof *c);
}

/* ---- rendering ---- */

int chat_push(struct chat_render *r, int kind, int trained, enum chat_role role, uint32_t id,
              const char *s, size_t len)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct chat_piece *p = realloc(r->p, cap * sizeof *p);
		if (!p)
			return -1;
		r->p = p;
		r->cap = cap;
	}
	r->p[r->n++] = (struct chat_piece){ (uint8_t)kind, (uint8_t)trained, (uint8_t)role, id, s,
	                                    len };
	return 0;
}

/* One turn: <|im_start|> "role\n" content <|im_end|> "\n". */
static int turn(struct chat_render *r, const struct chat_template *t, enum chat_role role,
                int content_kind, const char *s, size_t len, enum chat_train train)
{
	int all = train == CHAT_TRAIN_ALL, tr = all || role == CHAT_ASSISTANT;
	const char *h = role_header(role);
	if (role == CHAT_ASSISTANT) {
		r->hdr = r->n;
		r->tgt = r->n + 2;
		r->tail = r->n + 3;
	}
	return chat_push(r, CHAT_PIECE_SPECIAL, all, role, t->im_start, IM_START, strlen(IM_START)) |
	       chat_push(r, CHAT_PIECE_TEXT, all, role, 0, h, strlen(h)) |
	       chat_push(r, content_kind, tr, role, 0, s, len) |
	       chat_push(r, CHAT_PIECE_SPECIAL, tr, role, t->im_end, IM_END, strlen(IM_END)) |
	       chat_push(r, CHAT_PIECE_TEXT, tr, role, 0, "\n", 1);
}

int chat_render(const struct chat_template *t, const struct chat_conv *c,
                const struct chat_system *sys, enum chat_train train, int add_generation_prompt,
                struct chat_render *r, struct qt_err *err)
{
	r->n = 0;
	r->hdr = r->tgt = r->tail = SIZE_MAX;
	if (c->n == 0)
		return qt_err_set(err, QT_EDATA, "empty conversation");
	int bad = 0;
	if (c->msg[0].role == CHAT_TEXT) {
		if (t->eos_id == CHAT_ID_NONE)
			return qt_err_set(err, QT_EDATA, "a text document needs an eos token, and the "
			                  "tokenizer configuration names none");
		bad |= chat_push(r, CHAT_PIECE_CONTENT, 1, CHAT_TEXT, 0, c->msg[0].text, c->msg[0].len);
		bad |= chat_push(r, CHAT_PIECE_SPECIAL, 1, CHAT_TEXT, t->eos_id, t->eos_token,
		            strlen(t->eos_token));
		r->hdr = r->tgt = r->tail = r->n;
		return bad ? qt_err_set(err, QT_ESOFTWARE, "out of memory") : QT_OK;
	}
	if (t->jinja)
		return chat_render_jinja(t, c, sys, train, add_generation_prompt, r, err);
	if (t->im_start == CHAT_ID_NONE)
		return qt_err_set(err, QT_EDATA, "the tokenizer has no special tokens %s and %s, "
		                  "which ChatML needs", IM_START, IM_END);
	if (c->msg[0].role != CHAT_SYSTEM) {
		enum chat_system_mode m = sys ? sys->mode : CHAT_SYSTEM_DEFAULT;
		if (m == CHAT_SYSTEM_SET)
			bad |= turn(r, t, CHAT_SYSTEM, CHAT_PIECE_CONTENT, sys->text, strlen(sys->text),
			            train);
	}
	for (size_t i = 0; i < c->n; i++)
		bad |= turn(r, t, c->msg[i].role, CHAT_PIECE_CONTENT, c->msg[i].text, c->msg[i].len,
		            train);
	if (add_generation_prompt) {
		bad |= chat_push(r, CHAT_PIECE_SPECIAL, 0, CHAT_ASSISTANT, t->im_start, IM_START,
		            strlen(IM_START));
		bad |= chat_push(r, CHAT_PIECE_TEXT, 0, CHAT_ASSISTANT, 0, "assistant\n", 10);
	}
	if (r->tgt == SIZE_MAX)
		r->hdr = r->tgt = r->tail = r->n;
	return bad ? qt_err_set(err, QT_ESOFTWARE, "out of memory") : QT_OK;
}

char *chat_render_text(const struct chat_render *r, size_t *len)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->p[i].len;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	n = 0;
	for (size_t i = 0; i < r->n; i++) {
		memcpy(s + n, r->p[i].s, r->p[i].len);
		n += r->p[i].len;
	}
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

void chat_render_free(struct chat_render *r)
{
	free(r->p);
	jinja_out_free(&r->text);
	jinja_out_free(&r->scratch);
	free(r->trained);
	memset(r, 0, sizeof *r);
}

/* ---- encoding ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	void *np = realloc(*p, c * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = c;
	return 0;
}

/* Bytes of a token as the tokenizer's vocabulary spells it: one code point per byte for
 * byte-level BPE (GPT-2's byte alphabet). */
static size_t token_bytes(const struct tokenizer *tk, uint32_t id)
{
	const char *s = tokenizer_token_str(tk, id);
	size_t n = 0;
	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return s ? n : 0;
}

/*
 * The run of pieces [i, j) (len bytes) was encoded into ids [base, ids.n). Where the tokens'
 * byte lengths add up to the run (byte-level BPE), records for each token whose trained state
 * differs from its piece's whether any byte under it is trained, as transformers' assistant
 * mask marks every token overlapping a span; otherwise the pieces decide. -1: out of memory.
 */
static int overlap_mask(const struct tokenizer *tk, const struct chat_render *r, size_t i,
                        size_t j, size_t len, size_t base, struct chat_encoded *e)
{
	size_t sum = 0;
	for (size_t t = base; t < e->ids.n; t++)
		sum += token_bytes(tk, e->ids.v[t]);
	if (sum != len)
		return 0;
	size_t k = i, kstart = 0, at = 0;
	for (size_t t = base; t < e->ids.n; t++) {
		size_t end = at + token_bytes(tk, e->ids.v[t]);
		while (k < j && kstart + r->p[k].len <= at) {
			kstart += r->p[k].len;
			k++;
		}
		uint8_t tr = 0;
		size_t q = k, qstart = kstart;
		while (q < j && qstart < end) {
			tr |= r->p[q].trained;
			qstart += r->p[q].len;
			q++;
		}
		size_t owner = i;   /* the piece piece_at gives the token to */
		while (owner + 1 < j && e->piece_at[owner + 1] <= t)
			owner++;
		if (tr != r->p[owner].trained) {
			if (grow((void **)&e->ovl, &e->ovl_cap, e->n_ovl + 1, sizeof *e->ovl) < 0)
				return -1;
			e->ovl[e->n_ovl++] = (struct chat_ovl){ (uint32_t)t, tr };
		}
		at = end;
	}
	return 0;
}

int chat_encode(const struct tokenizer *tk, const struct chat_render *r, struct chat_encoded *e,
                struct qt_err *err)
{
	e->ids.n = 0;
	e->n_ovl = 0;
	if (grow((void **)&e->piece_at, &e->piece_cap, r->n + 1, sizeof *e->piece_at) < 0)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < r->n;) {
		const struct chat_piece *p = &r->p[i];
		if (p->kind == CHAT_PIECE_SPECIAL) {
			e->piece_at[i++] = (uint32_t)e->ids.n;
			if (grow((void **)&e->ids.v, &e->ids.cap, e->ids.n + 1, sizeof *e->ids.v) < 0)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			e->ids.v[e->ids.n++] = p->id;
			continue;
		}
		size_t j = i, base = e->ids.n, len = 0;
		while (j < r->n && r->p[j].kind != CHAT_PIECE_SPECIAL)
			len += r->p[j++].len;
		/* A run after a special token continues the rendered conversation: HF encodes the
		 * whole of it at once, so (with a Metaspace "first" pre-tokenizer) such a run gets
		 * no prefix space. */
		int st, fl = TOKENIZER_TEXT_ONLY | (i > 0 ? TOKENIZER_CONTINUE : 0);
		if (j == i + 1) {
			st = tokenizer_encode(tk, p->s, p->len, fl, &e->ids, err);
			e->piece_at[i] = (uint32_t)base;
		} else {
			if (grow((void **)&e->buf, &e->buf_cap, len + 1, 1) < 0)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			size_t off = 0;
			for (size_t k = i; k < j; k++) {
				memcpy(e->buf + off, r->p[k].s, r->p[k].len);
				off += r->p[k].len;
			}
			st = tokenizer_encode(tk, e->buf, len, fl, &e->ids, err);
			e->piece_at[i] = (uint32_t)base;
			off = r->p[i].len;
			for (size_t k = i + 1; k < j && st == QT_OK; k++) {
				/* Tokens shared with the encoding of the bytes before piece k go before it. */
				e->tmp.n = 0;
				st = tokenizer_encode(tk, e->buf, off, fl, &e->tmp, err);
				size_t lcp = 0, avail = e->ids.n - base;
				while (lcp < e->tmp.n && lcp < avail && e->tmp.v[lcp] == e->ids.v[base + lcp])
					lcp++;
				uint32_t at = (uint32_t)(base + lcp);
				e->piece_at[k] = at < e->piece_at[k - 1] ? e->piece_at[k - 1] : at;
				off += r->p[k].len;
			}
			if (st == QT_OK && overlap_mask(tk, r, i, j, len, base, e) < 0)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		}
		if (st != QT_OK)
			return st;
		i = j;
	}
	e->piece_at[r->n] = (uint32_t)e->ids.n;
	if (grow((void **)&e->mask, &e->mask_cap, e->ids.n + 1, 1) < 0)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < r->n; i++)
		memset(e->mask + e->piece_at[i], r->p[i].trained, e->piece_at[i + 1] - e->piece_at[i]);
	for (size_t i = 0; i < e->n_ovl; i++)
		e->mask[e->ovl[i].tok] = e->ovl[i].trained;
	return QT_OK;
}

void chat_encoded_free(struct chat_encoded *e)
{
	free(e->ids.v);
	free(e->mask);
	free(e->piece_at);
	free(e->buf);
	free(e->tmp.v);
	free(e->ovl);
	memset(e, 0, sizeof *e);
}

/* ---- truncation ---- */

/* Moves tokens [from, from+n) to position to (to <= from). */
static void keep(struct chat_encoded *e, size_t to, size_t from, size_t n)
{
	if (to != from && n) {
		memmove(e->ids.v + to, e->ids.v + from, n * sizeof *e->ids.v);
		memmove(e->mask + to, e->mask + from, n);
	}
}

enum chat_trunc chat_truncate(const struct chat_render *r, struct chat_encoded *e,
                              const struct chat_limits *l)
{
	size_t n = e->ids.n;
	int cut = 0;
	/* The last assistant turn splits source (up to its header) from target. */
	if (r->tgt < r->n && (l->max_source || l->max_target)) {
		size_t h0 = e->piece_at[r->hdr], cs = e->piece_at[r->tgt], ce = e->piece_at[r->tail];
		size_t body = h0, hdr = cs - h0, content = ce - cs, tail = n - ce;
		if (l->max_source && cs > l->max_source) {
			body = l->max_source > hdr ? l->max_source - hdr : 0;
			cut = 1;
		}
		if (l->max_target && content + tail > l->max_target) {
			content = l->max_target > tail ? l->max_target - tail : 0;
			cut = 1;
		}
		size_t at = body;
		keep(e, at, h0, hdr);
		at += hdr;
		keep(e, at, cs, content);
		at += content;
		keep(e, at, ce, tail);
		n = at + tail;
	} else if (r->tgt >= r->n && l->max_source && n > l->max_source) {
		n = l->max_source;
		cut = 1;
	}
	if (l->max_len && n > l->max_len) {
		n = l->max_len;
		cut = 1;
	}
	e->ids.n = n;
	for (size_t i = 0; i < n; i++)
		if (e->mask[i])
			return cut ? CHAT_CUT : CHAT_KEPT;
	return CHAT_DROP;
}

/* ---- generation prompts ---- */

int chat_encode_prompt(const struct tokenizer *tk, const struct chat_template *t,
                       const struct chat_conv *c, const struct chat_system *sys,
                       struct tok_ids *ids, struct qt_err *err)
{
	struct chat_render r = { 0 };
	struct chat_encoded e = { 0 };
	int st = chat_render(t, c, sys, CHAT_TRAIN_ALL, 1, &r, err);
	if (st == QT_OK)
		st = chat_encode(tk, &r, &e, err);
	if (st == QT_OK && grow((void **)&ids->v, &ids->cap, ids->n + e.ids.n, sizeof *ids->v) < 0)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (st == QT_OK) {
		memcpy(ids->v + ids->n, e.ids.v, e.ids.n * sizeof *ids->v);
		ids->n += e.ids.n;
	}
	chat_render_free(&r);
	chat_encoded_free(&e);
	return st;
}
