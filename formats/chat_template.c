/* qlora-tools: ISC license. */
/*
 * ChatML template recognition (a Jinja template reduced to a canonical form and matched against
 * the ChatML forms of chat(5)) and tokenizer_config.json reading; see chat.h.
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
