/* qlora-tools: ISC license. */
/*
 * The chat template of a model (see chat.h): tokenizer_config.json and chat_template.jinja read
 * as transformers reads them, the template compiled by the Jinja subset, the tokenizer's special
 * added tokens gathered for splitting the template text, and the end-of-turn token found by a
 * probe rendering.
 */
#include "formats/chat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"

#define IM_START "<|im_start|>"
#define IM_END   "<|im_end|>"

/* The special-token variables transformers passes (special_tokens_map). */
static const char *const token_keys[] = {
	"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
	NULL,
};

/* A token field: a string, or an object with "content" (AddedToken); NULL otherwise. */
static const char *token_field(json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);
	if (json_is_object(v))
		v = json_object_get(v, "content");
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint32_t resolve(const struct tokenizer *tk, const char *s)
{
	int64_t id = s ? tokenizer_token_id(tk, s) : -1;
	return id < 0 ? CHAT_ID_NONE : (uint32_t)id;
}

static char *strdup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The template text from the config root (a string, or the "default" entry of a list). */
static int config_template(json_t *root, const char *path, char **out, struct qt_err *err)
{
	json_t *ct = json_object_get(root, "chat_template");
	if (json_is_array(ct)) {
		size_t i;
		json_t *e, *found = NULL;
		json_array_foreach(ct, i, e)
			if (json_is_string(json_object_get(e, "name")) &&
			    !strcmp(json_string_value(json_object_get(e, "name")), "default"))
				found = json_object_get(e, "template");
		if (!json_is_string(found))
			return qt_err_set(err, QT_EDATA, "%s: chat_template: a list without a "
			                  "\"default\" template", path);
		ct = found;
	} else if (ct && !json_is_string(ct) && !json_is_null(ct)) {
		return qt_err_set(err, QT_EDATA, "%s: chat_template: not a string", path);
	}
	*out = json_is_string(ct) ? strdup(json_string_value(ct)) : NULL;
	return QT_OK;
}

/* chat_template.jinja beside the config (transformers >= 4.43 saves it there; it wins). */
static char *beside(const char *config_path)
{
	char *dir = strdup(config_path), *slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		dir[0] = '\0';
	char *p = qt_path_join(*dir ? dir : ".", "chat_template.jinja");
	free(dir);
	if (p && access(p, R_OK) != 0) {
		free(p);
		p = NULL;
	}
	return p;
}

static int cmp_special(const void *x, const void *y)
{
	const struct chat_special *a = x, *b = y;
	unsigned char fa = (unsigned char)a->s[0], fb = (unsigned char)b->s[0];
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return a->len > b->len ? -1 : a->len < b->len; /* longest first */
}

/* The tokenizer's special added tokens, indexed by first byte for a leftmost-longest scan. */
static int gather_specials(const struct tokenizer *tk, struct chat_template *t)
{
	uint32_t n = tokenizer_vocab_size(tk);
	for (uint32_t id = 0; id < n; id++) {
		if (!tokenizer_is_special(tk, id))
			continue;
		const char *s = tokenizer_token_str(tk, id);
		if (!s || !*s)
			continue;
		struct chat_special *ns = realloc(t->specials, (t->n_specials + 1) * sizeof *ns);
		if (!ns)
			return -1;
		t->specials = ns;
		ns[t->n_specials++] = (struct chat_special){ s, (uint32_t)strlen(s), id,
		                                             tokenizer_added_flags(tk, id) };
	}
	if (t->n_specials)
		qsort(t->specials, t->n_specials, sizeof *t->specials, cmp_special);
	size_t k = 0;
	for (unsigned b = 0; b <= 256; b++) {
		while (k < t->n_specials && (unsigned char)t->specials[k].s[0] < b)
			k++;
		t->first[b] = (uint32_t)k;
	}
	return 0;
}

/* The end-of-turn token: the first special token the template writes after an assistant
 * message's content (<|im_end|>, <|eot_id|>, <end_of_turn>, </s>, ...). */
static uint32_t probe_turn_end(const struct chat_template *t)
{
	struct chat_conv c = { 0 };
	struct chat_render r = { 0 };
	struct qt_err err;
	uint32_t id = CHAT_ID_NONE;
	chat_conv_add(&c, CHAT_USER, "Hello", 5);
	chat_conv_add(&c, CHAT_ASSISTANT, "Hi", 2);
	if (chat_render(t, &c, NULL, CHAT_TRAIN_ASSISTANT, 0, &r, &err) == QT_OK) {
		size_t last = r.n;
		for (size_t i = 0; i < r.n; i++)
			if (r.p[i].kind == CHAT_PIECE_CONTENT && r.p[i].role == CHAT_ASSISTANT)
				last = i;
		for (size_t i = last; i < r.n && id == CHAT_ID_NONE; i++)
			if (r.p[i].kind == CHAT_PIECE_SPECIAL)
				id = r.p[i].id;
	}
	chat_render_free(&r);
	chat_conv_free(&c);
	return id;
}

int chat_template_load(const char *config_path, const char *choice, const struct tokenizer *tk,
                       struct chat_template *t, struct qt_err *err)
{
	memset(t, 0, sizeof *t);
	t->bos_id = t->eos_id = t->pad_id = t->im_start = t->im_end = CHAT_ID_NONE;
	t->turn_end = CHAT_ID_NONE;
	int st = QT_OK;
	char *jinja = NULL;
	t->vars = json_object();
	if (!t->vars)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (config_path) {
		char *buf;
		size_t len;
		st = qt_read_file(config_path, &buf, &len, err);
		if (st != QT_OK)
			goto out;
		json_error_t je;
		/* Integers as doubles: transformers writes an unset model_max_length as
		 * 1000000000000000019884624838656 (int(1e30)), which no int64 holds ("too big
		 * integer"); nothing here reads an integer key, and such a length means no limit. */
		json_t *root = json_loadb(buf, len, JSON_DECODE_INT_AS_REAL, &je);
		free(buf);
		if (!root || !json_is_object(root)) {
			json_decref(root);
			st = root ? qt_err_set(err, QT_EDATA, "%s: not a JSON object", config_path)
			          : qt_err_set(err, QT_EDATA, "%s:%d:%d: %s", config_path, je.line,
			                       je.column, je.text);
			goto out;
		}
		t->bos_token = strdup_or_null(token_field(root, "bos_token"));
		t->eos_token = strdup_or_null(token_field(root, "eos_token"));
		t->pad_token = strdup_or_null(token_field(root, "pad_token"));
		for (int k = 0; token_keys[k]; k++) {
			const char *v = token_field(root, token_keys[k]);
			if (v)
				json_object_set_new(t->vars, token_keys[k], json_string(v));
		}
		if (!choice) {
			char *jp = beside(config_path);
			if (jp) {
				size_t l2;
				st = qt_read_file(jp, &jinja, &l2, err);
				t->source = jp;
			} else {
				st = config_template(root, config_path, &jinja, err);
				t->source = strdup(config_path);
			}
		}
		json_decref(root);
		if (st != QT_OK)
			goto out;
	}
	if (choice && strcmp(choice, "chatml") != 0) {
		size_t l2;
		if ((st = qt_read_file(choice, &jinja, &l2, err)) != QT_OK)
			goto out;
		free(t->source);
		t->source = strdup(choice);
	}
	t->builtin = !jinja;
	if (jinja && (st = jinja_parse(jinja, strlen(jinja), &t->jinja, err)) != QT_OK) {
		char m[sizeof err->msg];
		snprintf(m, sizeof m, "%s", err->msg);
		st = qt_err_set(err, st, "%s: chat template: %s", t->source, m);
		goto out;
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
	if (gather_specials(tk, t) < 0) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	t->now = sde && *sde ? strtoll(sde, NULL, 10) : (int64_t)time(NULL);
	t->turn_end = t->builtin ? t->im_end : probe_turn_end(t);
out:
	free(jinja);
	if (st != QT_OK)
		chat_template_free(t);
	return st;
}

void chat_template_free(struct chat_template *t)
{
	free(t->bos_token);
	free(t->eos_token);
	free(t->pad_token);
	jinja_free(t->jinja);
	free(t->source);
	json_decref(t->vars);
	free(t->specials);
	memset(t, 0, sizeof *t);
}
