/* qlora-tools: ISC license. */
/*
 * ChatML templates (recognition and tokenizer_config.json), rendering into pieces, encoding into
 * ids + mask, and truncation; see chat.h and chat(5). Records are parsed in chat-records.c and
 * the tok-chatml driver is chat-run.c.
 */
#include "formats/chat.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"

#define IM_START "<|im_start|>"
#define IM_END   "<|im_end|>"

/* ---- a growable string ---- */

struct sbuf {
	char  *p;
	size_t n, cap;
	int    oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

/* ---- template recognition ---- */

/*
 * The canonical form of a Jinja template, as HF renders it (trim_blocks, lstrip_blocks):
 * tags are kept as "{%...%}" / "{{...}}" with every whitespace character outside string
 * literals removed, string literals unescaped and delimited by \x01, adjacent literals joined
 * ('a' + 'b' is 'ab'), and x.role / x.content written x['role'] / x['content']. Comments are
 * dropped. Returns NULL for a template that would output text outside its tags (after the
 * whitespace rules) or that this reader cannot tokenize; *why says which.
 */
#define Q "\x01"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static char *canon_template(const char *s, const char **why)
{
	struct sbuf out = { 0 };
	size_t n = strlen(s), i = 0;
	int prev_block = 0, prev_rdash = 0;
	for (;;) {
		size_t j = i;
		while (j < n && !(s[j] == '{' && j + 1 < n &&
		                  (s[j + 1] == '%' || s[j + 1] == '{' || s[j + 1] == '#')))
			j++;
		char kind = j < n ? s[j + 1] : 0;
		int ldash = j < n && j + 2 < n && s[j + 2] == '-';
		size_t a = i, b = j;
		if (prev_rdash)
			while (a < b && is_ws(s[a]))
				a++;
		else if (prev_block && a < b && s[a] == '\n')
			a++;
		else if (prev_block && a + 1 < b && s[a] == '\r' && s[a + 1] == '\n')
			a += 2;
		if (ldash) {
			while (b > a && is_ws(s[b - 1]))
				b--;
		} else if (kind == '%' || kind == '#') {
			size_t k = b;
			while (k > a && (s[k - 1] == ' ' || s[k - 1] == '\t'))
				k--;
			if (k == 0 || s[k - 1] == '\n')
				b = k;
		}
		if (a < b) {
			*why = "it outputs text outside its {{ }} tags";
			goto fail;
		}
		if (j >= n)
			break;
		char close = kind == '{' ? '}' : kind;
		size_t k = j + 2 + (size_t)ldash;
		int rdash = 0, done = 0;
		char q = 0;
		if (kind != '#')
			sb_puts(&out, kind == '%' ? "{%" : "{{");
		while (k < n && !done) {
			char c = s[k];
			if (kind == '#') {
				if (c == '#' && k + 1 < n && s[k + 1] == '}') {
					rdash = s[k - 1] == '-';
					k += 2;
					done = 1;
				} else {
					k++;
				}
				continue;
			}
			if (q) {
				if (c == q) {
					q = 0;
					sb_puts(&out, Q);
				} else if (c == '\\' && k + 1 < n) {
					char e = s[++k];
					const char *u = e == 'n' ? "\n" : e == 't' ? "\t" : e == 'r' ? "\r" :
					                e == '\\' ? "\\" : e == '\'' ? "'" : e == '"' ? "\"" : NULL;
					if (!u) {
						*why = "it uses a string escape this reader does not know";
						goto fail;
					}
					sb_puts(&out, u);
				} else if (c == '\x01') {
					*why = "it holds a control character";
					goto fail;
				} else {
					sb_putn(&out, &c, 1);
				}
				k++;
			} else if (c == '\'' || c == '"') {
				q = c;
				sb_puts(&out, Q);
				k++;
			} else if (c == '-' && k + 2 < n && s[k + 1] == close && s[k + 2] == '}') {
				rdash = 1;
				k += 3;
				done = 1;
			} else if (c == close && k + 1 < n && s[k + 1] == '}') {
				k += 2;
				done = 1;
			} else {
				if (!is_ws(c))
					sb_putn(&out, &c, 1);
				k++;
			}
		}
		if (!done) {
			*why = "a tag is not closed";
			goto fail;
		}
		if (kind != '#')
			sb_puts(&out, kind == '%' ? "%}" : "}}");
		prev_block = kind != '{';
		prev_rdash = rdash;
		i = k;
	}
	if (out.oom || !out.p) {
		*why = out.oom ? "out of memory" : "it is empty";
		goto fail;
	}
	/* Outside literals: join 'a'+'b', and spell attribute access as subscripts. */
	struct sbuf c2 = { 0 };
	int in_str = 0;
	for (size_t x = 0; x < out.n;) {
		const char *p = out.p + x;
		if (in_str && p[0] == '\x01' && p[1] == '+' && p[2] == '\x01') {
			x += 3;
			continue;
		}
		if (p[0] == '\x01') {
			in_str = !in_str;
		} else if (!in_str && !strncmp(p, ".role", 5) && !isalnum((unsigned char)p[5])) {
			sb_puts(&c2, "[" Q "role" Q "]");
			x += 5;
			continue;
		} else if (!in_str && !strncmp(p, ".content", 8) && !isalnum((unsigned char)p[8])) {
			sb_puts(&c2, "[" Q "content" Q "]");
			x += 8;
			continue;
		}
		sb_putn(&c2, p, 1);
		x++;
	}
	free(out.p);
	if (c2.oom) {
		free(c2.p);
		*why = "out of memory";
		return NULL;
	}
	return c2.p;
fail:
	free(out.p);
	return NULL;
}

static int eat(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n) != 0)
		return 0;
	*p += n;
	return 1;
}

int chat_template_parse(const char *jinja, struct chat_template *t, struct qt_err *err)
{
	static const char *const loop = "{%formessageinmessages%}";
	static const char *const sys_a = "{%ifloop.firstandmessages[0][" Q "role" Q "]!=" Q "system"
	                                 Q "%}{{" Q IM_START "system\n";
	static const char *const sys_b = IM_END "\n" Q "}}{%endif%}";
	static const char *const turn = "{{" Q IM_START Q "+message[" Q "role" Q "]+" Q "\n" Q
	                                "+message[" Q "content" Q "]+" Q IM_END "\n" Q "}}";
	static const char *const gen_in = "{%ifloop.lastandadd_generation_prompt%}{{" Q IM_START
	                                  "assistant\n" Q "}}{%endif%}";
	static const char *const end = "{%endfor%}";
	static const char *const gen_out = "{%ifadd_generation_prompt%}{{" Q IM_START "assistant\n"
	                                   Q "}}{%endif%}";
	const char *why = NULL;
	char *c = canon_template(jinja, &why);
	if (!c)
		return qt_err_set(err, QT_EDATA, "chat_template is not recognised: %s", why);
	const char *p = c;
	char *def = NULL;
	int ok = eat(&p, loop);
	if (ok && eat(&p, sys_a)) {
		const char *e = strstr(p, sys_b);
		if (!e || memchr(p, '\x01', (size_t)(e - p))) {
			ok = 0;
		} else {
			def = strndup(p, (size_t)(e - p));
			p = e + strlen(sys_b);
		}
	}
	ok = ok && eat(&p, turn);
	int gens = 0;
	gens += ok && eat(&p, gen_in);
	ok = ok && eat(&p, end);
	gens += ok && eat(&p, gen_out);
	ok = ok && *p == '\0' && gens == 1;
	free(c);
	if (!ok) {
		free(def);
		return qt_err_set(err, QT_EDATA, "chat_template is not a ChatML template of the forms "
		                  "this tool renders exactly (a loop emitting '<|im_start|>' + role + "
		                  "'\\n' + content + '<|im_end|>\\n', an optional default system prompt "
		                  "when the first message is not system, and the '<|im_start|>assistant"
		                  "\\n' generation prompt); see chat(5)");
	}
	free(t->default_system);
	t->default_system = def;
	return QT_OK;
}

/* ---- tokenizer_config.json ---- */

/* A token field: a string, or an object with "content" (AddedToken); NULL otherwise. */
static char *token_field(json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);
	if (json_is_object(v))
		v = json_object_get(v, "content");
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static uint32_t resolve(const struct tokenizer *tk, const char *s)
{
	int64_t id = s ? tokenizer_token_id(tk, s) : -1;
	return id < 0 ? CHAT_ID_NONE : (uint32_t)id;
}

int chat_template_load(const char *config_path, const struct tokenizer *tk,
                       struct chat_template *t, struct qt_err *err)
{
	memset(t, 0, sizeof *t);
	t->bos_id = t->eos_id = t->pad_id = t->im_start = t->im_end = CHAT_ID_NONE;
	int st = QT_OK;
	char *jinja = NULL;
	if (config_path) {
		char *buf;
		size_t len;
		st = qt_read_file(config_path, &buf, &len, err);
		if (st != QT_OK)
			return st;
		json_error_t je;
		json_t *root = json_loadb(buf, len, 0, &je);
		free(buf);
		if (!root || !json_is_object(root)) {
			json_decref(root);
			return root ? qt_err_set(err, QT_EDATA, "%s: not a JSON object", config_path)
			            : qt_err_set(err, QT_EDATA, "%s:%d:%d: %s", config_path, je.line,
			                         je.column, je.text);
		}
		t->bos_token = token_field(root, "bos_token");
		t->eos_token = token_field(root, "eos_token");
		t->pad_token = token_field(root, "pad_token");
		json_t *ct = json_object_get(root, "chat_template");
		if (json_is_array(ct)) {
			size_t i;
			json_t *e, *found = NULL;
			json_array_foreach(ct, i, e)
				if (json_is_string(json_object_get(e, "name")) &&
				    !strcmp(json_string_value(json_object_get(e, "name")), "default"))
					found = json_object_get(e, "template");
			ct = found;
			if (!json_is_string(ct))
				st = qt_err_set(err, QT_EDATA, "%s: chat_template: a list without a "
				                "\"default\" template", config_path);
		} else if (ct && !json_is_string(ct) && !json_is_null(ct)) {
			st = qt_err_set(err, QT_EDATA, "%s: chat_template: not a string", config_path);
		}
		if (json_is_string(ct))
			jinja = strdup(json_string_value(ct));
		json_decref(root);
		if (st == QT_OK && !jinja) {
			/* transformers >= 4.43 may save the template beside the config instead. */
			char *dir = strdup(config_path), *slash = strrchr(dir, '/');
			if (slash)
				slash[1] = '\0';
			else
				dir[0] = '\0';
			char *jp = qt_path_join(*dir ? dir : ".", "chat_template.jinja");
			size_t len2;
			if (jp && access(jp, R_OK) == 0)
				st = qt_read_file(jp, &jinja, &len2, err);
			free(jp);
			free(dir);
		}
		if (st == QT_OK && jinja && chat_template_parse(jinja, t, err) != QT_OK) {
			char m[sizeof err->msg];
			snprintf(m, sizeof m, "%s", err->msg);
			st = qt_err_set(err, QT_EDATA, "%s: %s", config_path, m);
		}
	}
	t->builtin = !jinja;
	free(jinja);
	if (st != QT_OK) {
		chat_template_free(t);
		return st;
	}
	t->bos_id = resolve(tk, t->bos_token);
	t->eos_id = resolve(tk, t->eos_token);
	t->pad_id = resolve(tk, t->pad_token);
	uint32_t s = resolve(tk, IM_START), e = resolve(tk, IM_END);
	if (s != CHAT_ID_NONE && e != CHAT_ID_NONE && tokenizer_is_special(tk, s) &&
	    tokenizer_is_special(tk, e)) {
		t->im_start = s;
		t->im_end = e;
	}
	return QT_OK;
}

void chat_template_free(struct chat_template *t)
{
	free(t->default_system);
	free(t->bos_token);
	free(t->eos_token);
	free(t->pad_token);
	memset(t, 0, sizeof *t);
}

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

static int push(struct chat_render *r, int kind, int trained, enum chat_role role, uint32_t id,
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
	return push(r, CHAT_PIECE_SPECIAL, all, role, t->im_start, IM_START, strlen(IM_START)) |
	       push(r, CHAT_PIECE_TEXT, all, role, 0, h, strlen(h)) |
	       push(r, content_kind, tr, role, 0, s, len) |
	       push(r, CHAT_PIECE_SPECIAL, tr, role, t->im_end, IM_END, strlen(IM_END)) |
	       push(r, CHAT_PIECE_TEXT, tr, role, 0, "\n", 1);
}

int chat_render(const struct chat_template *t, const struct chat_conv *c,
                const struct chat_system *sys, enum chat_train train, int add_generation_prompt,
                struct chat_render *r, struct qt_err *err)
{
	r->n = 0;
	if (c->n == 0)
		return qt_err_set(err, QT_EDATA, "empty conversation");
	int bad = 0;
	if (c->msg[0].role == CHAT_TEXT) {
		if (t->eos_id == CHAT_ID_NONE)
			return qt_err_set(err, QT_EDATA, "a text document needs an eos token, and the "
			                  "tokenizer configuration names none");
		bad |= push(r, CHAT_PIECE_CONTENT, 1, CHAT_TEXT, 0, c->msg[0].text, c->msg[0].len);
		bad |= push(r, CHAT_PIECE_SPECIAL, 1, CHAT_TEXT, t->eos_id, t->eos_token,
		            strlen(t->eos_token));
		return bad ? qt_err_set(err, QT_ESOFTWARE, "out of memory") : QT_OK;
	}
	if (t->im_start == CHAT_ID_NONE)
		return qt_err_set(err, QT_EDATA, "the tokenizer has no special tokens %s and %s, "
		                  "which ChatML needs", IM_START, IM_END);
	if (c->msg[0].role != CHAT_SYSTEM) {
		enum chat_system_mode m = sys ? sys->mode : CHAT_SYSTEM_DEFAULT;
		if (m == CHAT_SYSTEM_SET)
			bad |= turn(r, t, CHAT_SYSTEM, CHAT_PIECE_CONTENT, sys->text, strlen(sys->text),
			            train);
		else if (m == CHAT_SYSTEM_DEFAULT && t->default_system)
			bad |= turn(r, t, CHAT_SYSTEM, CHAT_PIECE_TEXT, t->default_system,
			            strlen(t->default_system), train);
	}
	for (size_t i = 0; i < c->n; i++)
		bad |= turn(r, t, c->msg[i].role, CHAT_PIECE_CONTENT, c->msg[i].text, c->msg[i].len,
		            train);
	if (add_generation_prompt) {
		bad |= push(r, CHAT_PIECE_SPECIAL, 0, CHAT_ASSISTANT, t->im_start, IM_START,
		            strlen(IM_START));
		bad |= push(r, CHAT_PIECE_TEXT, 0, CHAT_ASSISTANT, 0, "assistant\n", 10);
	}
	return bad ? qt_err_set(err, QT_ESOFTWARE, "out of memory") : QT_OK;
}

char *chat_render_text(const struct chat_render *r, size_t *len)
{
	struct sbuf b = { 0 };
	sb_putn(&b, "", 0);
	for (size_t i = 0; i < r->n; i++)
		sb_putn(&b, r->p[i].s, r->p[i].len);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.n;
	return b.p;
}

void chat_render_free(struct chat_render *r)
{
	free(r->p);
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

int chat_encode(const struct tokenizer *tk, const struct chat_render *r, struct chat_encoded *e,
                struct qt_err *err)
{
	e->ids.n = 0;
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
		int st;
		if (j == i + 1) {
			st = tokenizer_encode(tk, p->s, p->len, TOKENIZER_TEXT_ONLY, &e->ids, err);
			e->piece_at[i] = (uint32_t)base;
		} else {
			if (grow((void **)&e->buf, &e->buf_cap, len + 1, 1) < 0)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			size_t off = 0;
			for (size_t k = i; k < j; k++) {
				memcpy(e->buf + off, r->p[k].s, r->p[k].len);
				off += r->p[k].len;
			}
			st = tokenizer_encode(tk, e->buf, len, TOKENIZER_TEXT_ONLY, &e->ids, err);
			e->piece_at[i] = (uint32_t)base;
			off = r->p[i].len;
			for (size_t k = i + 1; k < j && st == QT_OK; k++) {
				/* Tokens shared with the encoding of the bytes before piece k go before it. */
				e->tmp.n = 0;
				st = tokenizer_encode(tk, e->buf, off, TOKENIZER_TEXT_ONLY, &e->tmp, err);
				size_t lcp = 0, avail = e->ids.n - base;
				while (lcp < e->tmp.n && lcp < avail && e->tmp.v[lcp] == e->ids.v[base + lcp])
					lcp++;
				uint32_t at = (uint32_t)(base + lcp);
				e->piece_at[k] = at < e->piece_at[k - 1] ? e->piece_at[k - 1] : at;
				off += r->p[k].len;
			}
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
	return QT_OK;
}

void chat_encoded_free(struct chat_encoded *e)
{
	free(e->ids.v);
	free(e->mask);
	free(e->piece_at);
	free(e->buf);
	free(e->tmp.v);
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
	/* The last assistant content piece splits source from target. */
	size_t c = r->n;
	for (size_t i = r->n; i-- > 0;)
		if (r->p[i].kind == CHAT_PIECE_CONTENT && r->p[i].role == CHAT_ASSISTANT) {
			c = i;
			break;
		}
	if (c < r->n && (l->max_source || l->max_target)) {
		size_t hs = c;  /* the turn's <|im_start|> */
		while (hs > 0 && r->p[hs].kind != CHAT_PIECE_SPECIAL)
			hs--;
		size_t h0 = e->piece_at[hs], cs = e->piece_at[c], ce = e->piece_at[c + 1];
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
	} else if (c == r->n && l->max_source && n > l->max_source) {
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
