/* qlora-tools: ISC license. */
/*
 * tokenizer_encode and the per-thread scratch it runs on: a chunked stack arena for the
 * strings the pipeline makes (prefix spaces, normalized and byte-mapped text), PCRE2 match
 * data and JIT stack, BPE work arrays and a word cache. One scratch per (thread, tokenizer),
 * found through a pthread key; the tokenizer keeps a list of them so tokenizer_free releases
 * them all, and a thread's scratch is released when the thread exits.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

#define ARENA_BLOCK 65536

/* ---- arena ---- */

void *tk_arena_alloc(struct tk_scratch *s, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct tk_arena_block *b = s->cur, *nb = b ? b->next : s->head;
	if (b && b->size - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	if (nb && nb->size >= n) {
		nb->used = n;
		s->cur = nb;
		return nb->data;
	}
	size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
	struct tk_arena_block *x = malloc(sizeof *x + size);
	if (!x)
		return NULL;
	x->size = size;
	x->used = n;
	x->next = nb;
	if (b)
		b->next = x;
	else
		s->head = x;
	s->cur = x;
	return x->data;
}

struct tk_arena_mark tk_arena_mark(const struct tk_scratch *s)
{
	struct tk_arena_mark m = { s->cur, s->cur ? s->cur->used : 0 };
	return m;
}

void tk_arena_release(struct tk_scratch *s, struct tk_arena_mark m)
{
	s->cur = m.b;
	if (m.b)
		m.b->used = m.used;
}

void tk_emit(struct tk_scratch *s, uint32_t id)
{
	struct tok_ids *o = s->out;
	if (o->n == o->cap) {
		size_t c = o->cap ? o->cap * 2 : 256;
		uint32_t *v = realloc(o->v, c * sizeof *v);
		if (!v) {
			s->oom = 1;
			return;
		}
		o->v = v;
		o->cap = c;
	}
	o->v[o->n++] = id;
}

/* ---- scratch ---- */

void tk_scratch_destroy(struct tk_scratch *s)
{
	while (s->head) {
		struct tk_arena_block *b = s->head;
		s->head = b->next;
		free(b);
	}
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit_stack);
	free(s->sym);
	free(s->rank);
	free(s->nid);
	free(s->prev);
	free(s->next);
	free(s->heap);
	free(s->buf);
	free(s->cache);
	free(s);
}

/* pthread key destructor: a thread that used the tokenizer exits. */
void tk_scratch_thread_exit(void *v)
{
	struct tk_scratch *s = v;
	struct tokenizer *t = (struct tokenizer *)s->t;
	pthread_mutex_lock(&t->lock);
	if (s->link_prev)
		s->link_prev->link_next = s->link_next;
	else
		t->scratch_list = s->link_next;
	if (s->link_next)
		s->link_next->link_prev = s->link_prev;
	pthread_mutex_unlock(&t->lock);
	tk_scratch_destroy(s);
}

static struct tk_scratch *scratch_get(const struct tokenizer *t)
{
	struct tk_scratch *s = pthread_getspecific(t->key);
	if (s)
		return s;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->t = t;
	s->cache = calloc(TK_CACHE_SLOTS, sizeof *s->cache);
	s->md = pcre2_match_data_create(32, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
	if (!s->cache || !s->md || !s->mctx || !s->jit_stack) {
		tk_scratch_destroy(s);
		return NULL;
	}
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
	struct tokenizer *tw = (struct tokenizer *)t; /* the list is the one mutable part */
	pthread_mutex_lock(&tw->lock);
	s->link_next = tw->scratch_list;
	if (s->link_next)
		s->link_next->link_prev = s;
	tw->scratch_list = s;
	pthread_mutex_unlock(&tw->lock);
	pthread_setspecific(t->key, s);
	return s;
}

/* After a call on a huge input: gives back work memory above 1 MiB so that one long text
 * does not pin it for the life of the thread. */
static void scratch_trim(struct tk_scratch *s)
{
	const size_t big = 1u << 20;
	for (struct tk_arena_block **b = s->head ? &s->head->next : NULL; b && *b;) {
		if ((*b)->size > big) {
			struct tk_arena_block *x = *b;
			*b = x->next;
			free(x);
		} else {
			b = &(*b)->next;
		}
	}
	if (s->sym_cap * sizeof *s->sym > big) {
		free(s->sym);
		free(s->rank);
		free(s->nid);
		free(s->prev);
		free(s->next);
		s->sym = s->rank = s->nid = NULL;
		s->prev = s->next = NULL;
		s->sym_cap = 0;
	}
	if (s->heap_cap * sizeof *s->heap > big) {
		free(s->heap);
		s->heap = NULL;
		s->heap_cap = 0;
	}
	if (s->buf_cap > big) {
		free(s->buf);
		s->buf = NULL;
		s->buf_cap = 0;
	}
}

/* ---- encode ---- */

/* A tokenizer.model's normalization of the whole input, as the library's Normalizer: the
 * precompiled_charsmap (longest match), then remove_extra_whitespaces drops leading and trailing spaces and squeezes runs of them;
 * add_dummy_prefix puts U+2581 before a non-empty result (not before a TOKENIZER_CONTINUE
 * part). The text in the arena (s->input follows it), or text itself. */
static const char *spm_prepare(struct tk_scratch *s, const char *text, size_t *len)
{
	const struct tokenizer *t = s->t;
	if (t->spm_map.units) { /* the charsmap first: it may make spaces */
		size_t m;
		char *z = tk_precompiled_apply_spm(&t->spm_map, text, *len, &m);
		if (!z) {
			s->oom = 1;
			return text;
		}
		if (z != text) {
			char *q = tk_arena_alloc(s, m + 1);
			if (q)
				memcpy(q, z, m + 1);
			free(z);
			if (!q) {
				s->oom = 1;
				return text;
			}
			if (s->input)
				s->input = q;
			text = q;
			*len = m;
		}
	}
	size_t n = *len, a = 0, b = n;
	if (t->spm_extra_ws) {
		while (a < b && text[a] == ' ')
			a++;
		while (b > a && text[b - 1] == ' ')
			b--;
	}
	int dummy = t->spm_dummy && s->input && a < b;
	if (!dummy && !t->spm_extra_ws)
		return text;
	char *q = tk_arena_alloc(s, b - a + 4);
	if (!q) {
		s->oom = 1;
		return text;
	}
	size_t o = 0;
	if (dummy) {
		memcpy(q, "\xE2\x96\x81", 3);
		o = 3;
	}
	for (size_t i = a; i < b; i++)
		if (!(t->spm_extra_ws && text[i] == ' ' && i > a && text[i - 1] == ' '))
			q[o++] = text[i];
	/* the library drops trailing spaces after escaping them: U+2581 in the text too */
	while (t->spm_extra_ws && o > 0 && (q[o - 1] == ' ' ||
	       (o >= 3 && memcmp(q + o - 3, "\xE2\x96\x81", 3) == 0)))
		o -= q[o - 1] == ' ' ? 1 : 3;
	*len = o;
	if (s->input)
		s->input = q;
	return q;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, int flags,
                     struct tok_ids *out, struct qt_err *err)
{
	struct tk_scratch *s = scratch_get(t);
	if (!s)
		return qt_err_set(err, QT_ESOFTWARE, "tokenizer: out of memory");
	s->out = out;
	s->flags = flags;
	s->oom = 0;
	s->input = flags & TOKENIZER_CONTINUE ? NULL : text;
	s->orig0 = NULL;
	size_t n0 = out->n;
	if (flags & TOKENIZER_ADD_SPECIAL) {
		if (t->pp_unsupported)
			return qt_err_set(err, QT_EDATA, "tokenizer: post_processor \"%s\" cannot add "
			                  "special tokens here (supported: TemplateProcessing, "
			                  "BertProcessing, RobertaProcessing, ByteLevel, Sequence)",
			                  t->pp_unsupported);
		for (uint32_t i = 0; i < t->pp_n_before; i++)
			tk_emit(s, t->pp_ids[i]);
	}
	if (t->spm_kind != TK_SPM_NONE)
		text = spm_prepare(s, text, &len);
	if (!s->oom)
		tk_added_run(s, text, len);
	if (flags & TOKENIZER_ADD_SPECIAL)
		for (uint32_t i = 0; i < t->pp_n_after; i++)
			tk_emit(s, t->pp_ids[t->pp_n_before + i]);
	s->cur = NULL; /* everything in the arena is free again */
	if (len > (1u << 18))
		scratch_trim(s);
	if (s->oom) {
		out->n = n0;
		return qt_err_set(err, QT_ESOFTWARE, "tokenizer: out of memory (or a regex match "
		                  "failed) while encoding %zu bytes", len);
	}
	return QT_OK;
}
