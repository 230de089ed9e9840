/* qlora-tools: ISC license. */
/*
 * gguf-py's SpecialVocab (gguf/vocab.py) in C: the special token ids, add_bos/add_eos and the
 * chat template that convert_hf_to_gguf.py writes beside every vocabulary; see gguf_vocab.h.
 * Also the JSON helpers the gguf_vocab*.c files share.
 */
#include "formats/gguf_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"

static const char *const sp_name[GGUF_SP_N] = {
	"bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom",
};
static const char *const sp_key[GGUF_SP_N] = {
	"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
	"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
	"tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
	"tokenizer.ggml.mask_token_id", "tokenizer.ggml.eot_token_id",
	"tokenizer.ggml.eom_token_id",
};

json_t *gguf_vocab_json(const char *dir, const char *name, int required, int *st,
                        struct qt_err *err)
{
	char *p = qt_path_join(dir, name), *txt = NULL;
	size_t len;
	json_t *j = NULL;
	*st = QT_OK;
	if (!p) {
		*st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	FILE *f = fopen(p, "rb");
	if (!f) {
		if (required)
			*st = qt_err_set(err, QT_ENOINPUT, "%s: cannot open", p);
		free(p);
		return NULL;
	}
	fclose(f);
	if ((*st = qt_read_file(p, &txt, &len, err)) == QT_OK) {
		json_error_t je;
		/* transformers writes an unset model_max_length as 1e30 in an integer literal,
		 * too big for jansson's integers; nothing read from tokenizer_config.json is an
		 * integer, so its numbers are read as doubles */
		size_t fl = strcmp(name, "tokenizer_config.json") == 0 ? JSON_DECODE_INT_AS_REAL : 0;
		j = json_loadb(txt, len, fl, &je);
		if (!j || !json_is_object(j))
			*st = qt_err_set(err, QT_EDATA, "%s:%d: %s", p, je.line,
			                 j ? "not a JSON object" : je.text);
	}
	if (*st && j) {
		json_decref(j);
		j = NULL;
	}
	free(txt);
	free(p);
	return j;
}

int gguf_vocab_looks_special(const char *s)
{
	size_t n = strlen(s);
	static const char *const exact[] = { "<pad>", "<mask>", "<2mass>", "[@BOS@]" };
	for (size_t i = 0; i < 4; i++)
		if (strcmp(s, exact[i]) == 0)
			return 1;
	if (n >= 4 && strncmp(s, "<|", 2) == 0 && strcmp(s + n - 2, "|>") == 0)
		return 1;
	if (n >= 6 && strncmp(s, "<\xef\xbd\x9c", 4) == 0 && strcmp(s + n - 4, "\xef\xbd\x9c>") == 0)
		return 1;
	return n >= 8 && strncmp(s, "<unused", 7) == 0 && s[n - 1] == '>';
}

void gguf_vocab_unescape_space(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (strncmp(p, "\xe2\x96\x81", 3) == 0) {
			*o++ = ' ';
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

/* ---- SpecialVocab ---- */

/* Python's truth value of a JSON value (None, "", {}, [], false, 0 are false). */
static int truthy(json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	return 1;
}

/* Python's v == s for a str s: only a JSON string equal to it. */
static int str_eq(json_t *v, const char *s)
{
	return s && json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* x.get('SpecialToken', {}).get('id') of a template item, when truthy. */
static const char *special_token_id(json_t *item)
{
	json_t *id = json_object_get(json_object_get(item, "SpecialToken"), "id");
	return truthy(id) && json_is_string(id) ? json_string_value(id) : NULL;
}

static const char *sequence_id(json_t *item)
{
	json_t *id = json_object_get(json_object_get(item, "Sequence"), "id");
	return json_is_string(id) ? json_string_value(id) : NULL;
}

void gguf_special_set(struct gguf_special *s, enum gguf_sp k, int64_t id)
{
	if (id >= 0 && s->id[k] < 0)
		s->id[k] = id;
}

/* _set_special_token with SpecialVocab's checks: an int, below n_vocab (when >= 0). */
static void set_checked(struct gguf_special *s, enum gguf_sp k, json_t *id, int64_t n_vocab)
{
	if (json_is_integer(id) && (n_vocab < 0 || json_integer_value(id) < n_vocab))
		gguf_special_set(s, k, json_integer_value(id));
}

/* Working state of _try_load_from_tokenizer_json: the tokenizer_config it mutates (a copy),
 * the special token strings, the kinds it looks up. */
struct sv {
	json_t *tc;                       /* deep copy, or NULL */
	json_t *bos, *cls, *eos, *sep;    /* borrowed from tc or from the tokenizer.json */
	int     n_types;                  /* GGUF_SP_EOT: the defaults; more when eot/eom added */
	int     types[GGUF_SP_N];
};

static void tc_set(struct sv *v, const char *key, json_t *val, json_t **slot)
{
	*slot = val;
	if (v->tc && val)
		json_object_set(v->tc, key, val);
	if (v->tc)
		*slot = json_object_get(v->tc, key);
}

/* The crude reading of a TemplateProcessing SpecialVocab does: add_bos when the single
 * template starts with the bos (or cls) token, add_eos when it ends with a special token (that
 * becomes the eos; a configured eos that differs becomes the eot, then eom), add_sep from the
 * pair template's middle. */
static void template_processing(struct gguf_special *s, struct sv *v, json_t *proc)
{
	json_t *single = json_object_get(proc, "single"), *pair = json_object_get(proc, "pair");
	size_t ns = json_array_size(single);
	const char *first = NULL, *last = NULL;
	if (ns > 1) {
		if ((first = special_token_id(json_array_get(single, 0)))) {
			json_t *f = json_object_get(json_object_get(json_array_get(single, 0),
			                                            "SpecialToken"), "id");
			if (!truthy(v->tc)) {
				v->bos = f;
			} else if (!str_eq(v->bos, first) && !str_eq(v->cls, first)) {
				if (!truthy(v->bos))
					tc_set(v, "bos_token", f, &v->bos);
				if (!truthy(v->cls))
					tc_set(v, "cls_token", f, &v->cls);
			}
			s->add_bos = str_eq(v->bos, first) || str_eq(v->cls, first);
		}
		if ((last = special_token_id(json_array_get(single, ns - 1)))) {
			json_t *l = json_object_get(json_object_get(json_array_get(single, ns - 1),
			                                            "SpecialToken"), "id");
			if (!truthy(v->tc)) {
				v->eos = l;
			} else if (!str_eq(v->eos, last)) {
				int have_eot = 0, have_eom = 0;
				for (int i = 0; i < v->n_types; i++) {
					have_eot |= v->types[i] == GGUF_SP_EOT;
					have_eom |= v->types[i] == GGUF_SP_EOM;
				}
				if (!have_eot || !have_eom) {
					v->types[v->n_types++] = have_eot ? GGUF_SP_EOM : GGUF_SP_EOT;
					json_object_set(v->tc, have_eot ? "eom_token" : "eot_token",
					                v->eos ? v->eos : json_null());
				}
				tc_set(v, "eos_token", l, &v->eos);
			}
			s->add_eos = str_eq(v->eos, last);
		}
	}
	size_t np = json_array_size(pair);
	if (!np)
		return;
	size_t start = first && str_eq(json_object_get(json_object_get(json_array_get(pair, 0),
	                                                               "SpecialToken"), "id"), first);
	size_t stop = np - (last && str_eq(json_object_get(json_object_get(json_array_get(pair,
	                                   np - 1), "SpecialToken"), "id"), last));
	if (start >= stop)
		return;
	const char *a = sequence_id(json_array_get(pair, start));
	const char *b = sequence_id(json_array_get(pair, stop - 1));
	if (!a || !b || strcmp(a, "A") || strcmp(b, "B") || stop - start < 3)
		return;
	/* A [sep] [eos] B: the middle items */
	int add_sep = 0;
	const char *e = special_token_id(json_array_get(pair, start + 1));
	if (e && (str_eq(v->sep, e) || str_eq(v->eos, e)) && !last)
		add_sep = 1;
	if (stop - start - 2 == 2 && (e = special_token_id(json_array_get(pair, start + 2))) &&
	    (str_eq(v->sep, e) || str_eq(v->eos, e)))
		add_sep = 1;
	s->add_sep = add_sep;
	if (add_sep && !truthy(v->sep) && truthy(v->tc))
		tc_set(v, "sep_token", v->eos ? v->eos : json_null(), &v->sep);
}

/* The chat template: tokenizer_config's chat_template if the key is there, else
 * chat_template.jinja, else chat_template.json's. */
static int chat_template(struct gguf_special *s, const char *dir, json_t *tc, struct qt_err *err)
{
	int st = QT_OK;
	json_t *tmpl = json_object_get(tc, "chat_template");
	char *jp = NULL;
	FILE *f = NULL;
	if (!tmpl) {
		jp = qt_path_join(dir, "chat_template.jinja");
		if (!jp)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		if ((f = fopen(jp, "rb"))) {
			fclose(f);
			st = qt_read_file(jp, &s->chat_template, &s->chat_template_len, err);
			free(jp);
			return st;
		}
		free(jp);
		json_t *cj = gguf_vocab_json(dir, "chat_template.json", 0, &st, err);
		if (st)
			return st;
		tmpl = json_object_get(cj, "chat_template");
		if (json_is_string(tmpl) && !(s->chat_template = strdup(json_string_value(tmpl))))
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		s->chat_template_len = s->chat_template ? json_string_length(tmpl) : 0;
		json_decref(cj);
		return st;
	}
	if (json_is_array(tmpl)) /* named templates: gguf-py writes them in set order */
		return qt_err_set(err, QT_EDATA, "%s/tokenizer_config.json: chat_template: a list of "
		                  "named templates is not written (one template string is)", dir);
	if (!json_is_string(tmpl))
		return QT_OK;
	s->chat_template_len = json_string_length(tmpl);
	if (!(s->chat_template = malloc(s->chat_template_len + 1)))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	memcpy(s->chat_template, json_string_value(tmpl), s->chat_template_len + 1);
	return QT_OK;
}

int gguf_special_load(struct gguf_special *s, const char *dir, json_t *tok, json_t *tc,
                      const struct hf_config *c, int64_t n_vocab, struct qt_err *err)
{
	int st = QT_OK;
	(void)c;
	memset(s, 0, sizeof *s);
	for (int k = 0; k < GGUF_SP_N; k++)
		s->id[k] = -1;
	s->add_bos = s->add_eos = s->add_sep = s->add_space_prefix = -1;
	struct sv v = { .tc = tc ? json_deep_copy(tc) : NULL, .n_types = GGUF_SP_EOT };
	if (tc && !v.tc)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (int k = 0; k < GGUF_SP_EOT; k++)
		v.types[k] = k;
	json_t *added = json_object_get(tok, "added_tokens");
	if (tok) {
		v.bos = json_object_get(v.tc, "bos_token");
		v.cls = json_object_get(v.tc, "cls_token");
		v.eos = json_object_get(v.tc, "eos_token");
		v.sep = json_object_get(v.tc, "sep_token");
		if (!truthy(v.bos) && truthy(v.cls) && truthy(v.tc))
			tc_set(&v, "bos_token", v.cls, &v.bos);
		if (!truthy(v.eos) && truthy(v.sep) && truthy(v.tc))
			tc_set(&v, "eos_token", v.sep, &v.eos);
		json_t *pp = json_object_get(tok, "post_processor");
		json_t *procs = json_object_get(pp, "processors");
		size_t npp = !truthy(pp) ? 0 : json_is_array(procs) ? json_array_size(procs) : 1;
		for (size_t i = 0; i < npp; i++) {
			json_t *p = json_is_array(procs) ? json_array_get(procs, i) : pp;
			json_t *ty = json_object_get(p, "type");
			const char *t = json_is_string(ty) ? json_string_value(ty) : "";
			if (strcmp(t, "ByteLevel") == 0) {
				if (s->add_bos < 0)
					s->add_bos = 0;
				if (s->add_eos < 0)
					s->add_eos = 0;
			} else if (strcmp(t, "RobertaProcessing") == 0) {
				s->add_bos = s->add_eos = s->add_sep = 1;
				if (!truthy(v.cls) && truthy(v.tc))
					tc_set(&v, "cls_token", json_array_get(json_object_get(p, "cls"), 0), &v.cls);
				if (!truthy(v.sep) && truthy(v.tc))
					tc_set(&v, "sep_token", json_array_get(json_object_get(p, "sep"), 0), &v.sep);
			} else if (strcmp(t, "TemplateProcessing") == 0) {
				template_processing(s, &v, p);
			}
		}
	}
	if (!truthy(v.tc))
		goto config;
	if ((st = chat_template(s, dir, v.tc, err)))
		goto out;
	for (int i = 0; i < v.n_types; i++) {
		int k = v.types[i];
		char key[32];
		snprintf(key, sizeof key, "add_%s_token", sp_name[k]);
		json_t *b = json_object_get(v.tc, key);
		int *add = k == GGUF_SP_BOS ? &s->add_bos : k == GGUF_SP_EOS ? &s->add_eos :
		           k == GGUF_SP_SEP ? &s->add_sep : NULL; /* no writer for the others */
		if (add && json_is_boolean(b) && *add < 0)
			*add = json_is_true(b);
		snprintf(key, sizeof key, "%s_token", sp_name[k]);
		json_t *e = json_object_get(v.tc, key);
		if (json_is_object(e))
			e = json_object_get(e, "content");
		if (!json_is_string(e))
			continue;
		size_t ai;
		json_t *a;
		json_array_foreach(added, ai, a) {
			if (str_eq(json_object_get(a, "content"), json_string_value(e))) {
				set_checked(s, (enum gguf_sp)k, json_object_get(a, "id"), n_vocab);
				break;
			}
		}
	}
config:;
	json_t *cfg = gguf_vocab_json(dir, "config.json", 0, &st, err);
	for (int i = 0; i < v.n_types && cfg; i++) {
		int k = v.types[i];
		char key[32];
		snprintf(key, sizeof key, "%s_token_id", sp_name[k]);
		json_t *id = json_object_get(cfg, key);
		if ((!id || json_is_null(id)) && json_object_get(cfg, "text_config"))
			id = json_object_get(json_object_get(cfg, "text_config"), key);
		set_checked(s, (enum gguf_sp)k, id, n_vocab);
	}
	json_decref(cfg);
out:
	json_decref(v.tc);
	return st;
}

int gguf_special_put(struct gguf_writer *w, const struct gguf_special *s, struct qt_err *err)
{
	int st = QT_OK;
	for (int k = 0; k < GGUF_SP_N && !st; k++)
		if (s->id[k] >= 0 && k != GGUF_SP_CLS) /* gguf-py has no writer for cls */
			st = gguf_writer_u32(w, sp_key[k], (uint32_t)s->id[k], err);
	if (!st && s->add_bos >= 0)
		st = gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", s->add_bos, err);
	if (!st && s->add_eos >= 0)
		st = gguf_writer_bool(w, "tokenizer.ggml.add_eos_token", s->add_eos, err);
	if (!st && s->add_sep >= 0)
		st = gguf_writer_bool(w, "tokenizer.ggml.add_sep_token", s->add_sep, err);
	if (!st && s->add_space_prefix >= 0)
		st = gguf_writer_bool(w, "tokenizer.ggml.add_space_prefix", s->add_space_prefix, err);
	if (!st && s->chat_template)
		st = gguf_writer_str(w, "tokenizer.chat_template", s->chat_template,
		                     s->chat_template_len, err);
	return st;
}

void gguf_special_free(struct gguf_special *s)
{
	free(s->chat_template);
	s->chat_template = NULL;
}
