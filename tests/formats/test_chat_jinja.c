/* qlora-tools: ISC license. */
/*
 * The chat layer on real templates (formats/chat_jinja.c): for every template of
 * tests/data/chat_templates and every conversation of golden.json made of role/content
 * messages, chat_render must give transformers' text and chat_encode the ids of
 * tokenizer(text, add_special_tokens=False) with the SmolLM2 tokenizer (what
 * apply_chat_template(tokenize=True) returns), or fail where transformers raised. Masks: on
 * templates with {% generation %} markers, the mask equals transformers'
 * return_assistant_tokens_mask (TRL's assistant_only_loss); and the spans found from the
 * structure of the unmarked templates (marked/X.jinja is corpus/X.jinja plus markers around
 * each assistant message's content and end-of-turn text) equal that mask too.
 * With $QT_VOCAB_DIR holding the Qwen2 and Llama 3 tokenizer.json files that
 * tests/ref/chat_templates_vocab.py rebuilds, the ids of those families' templates are also
 * compared with their own vocabularies (vocab_golden.json); without it that check is a skip.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/chat.h"
#include "test.h"
#include "formats/tokgold.h"

static int role_of(const char *s, enum chat_role *r)
{
	static const char *const names[] = { "system", "user", "assistant", "tool" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*r = (enum chat_role)i;
			return 1;
		}
	return 0;
}

/* The conversation as a chat_conv, or 0 when it has more than roles and contents. */
static int to_conv(json_t *conv, struct chat_conv *c)
{
	if (json_object_get(conv, "tools"))
		return 0;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(conv, "messages"), i, m) {
		enum chat_role role;
		if (json_object_size(m) != 2 || !role_of(json_string_value(json_object_get(m, "role")),
		                                         &role))
			return 0;
		json_t *ct = json_object_get(m, "content");
		if (!json_is_string(ct))
			return 0;
		chat_conv_add(c, role, json_string_value(ct), json_string_length(ct));
	}
	return 1;
}

struct result {
	int ok;          /* rendered */
	size_t n;
	uint32_t *ids;
	uint8_t *mask;
};

static struct result run(const struct tokenizer *tk, const char *dir, const char *name,
                         json_t *vars, const struct chat_conv *c, int agp, char **text)
{
	struct result res = { 0 };
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct chat_template t;
	struct qt_err err;
	if (chat_template_load(NULL, path, tk, &t, &err) != QT_OK) {
		CHECK(0, "%s: %s", name, err.msg);
		return res;
	}
	json_object_update(t.vars, vars);
	struct chat_render r = { 0 };
	struct chat_encoded e = { 0 };
	if (chat_render(&t, c, NULL, CHAT_TRAIN_ASSISTANT, agp, &r, &err) == QT_OK &&
	    chat_encode(tk, &r, &e, &err) == QT_OK) {
		res.ok = 1;
		res.n = e.ids.n;
		res.ids = malloc((e.ids.n + 1) * sizeof *res.ids);
		res.mask = malloc(e.ids.n + 1);
		memcpy(res.ids, e.ids.v, e.ids.n * sizeof *res.ids);
		memcpy(res.mask, e.mask, e.ids.n);
		*text = chat_render_text(&r, NULL);
	} else {
		CHECK(strstr(err.msg, "not implemented") == NULL, "%s: refused: %s", name, err.msg);
	}
	chat_encoded_free(&e);
	chat_render_free(&r);
	chat_template_free(&t);
	return res;
}

static int res_same_ids(const struct result *r, json_t *want)
{
	if (r->n != json_array_size(want))
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->ids[i] != (uint32_t)json_integer_value(json_array_get(want, i)))
			return 0;
	return 1;
}

static int same_mask(const struct result *r, json_t *want)
{
	if (r->n != json_array_size(want))
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->mask[i] != json_integer_value(json_array_get(want, i)))
			return 0;
	return 1;
}

/* The families' templates with their own vocabularies (see the file comment). */
static void check_vocab(const char *dir, json_t *g)
{
	const char *vd = getenv("QT_VOCAB_DIR");
	if (!vd || !*vd) {
		SKIP("QT_VOCAB_DIR not set: Qwen2 / Llama 3 vocabularies not checked");
		return;
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/vocab_golden.json", dir);
	json_error_t je;
	json_t *vg = json_load_file(path, 0, &je);
	CHECK(vg != NULL, "%s: %s", path, je.text);
	json_t *convs = json_object_get(g, "conversations"), *tpls = json_object_get(g, "templates");
	const char *name;
	json_t *t;
	int n_tpl = 0, n_same = 0, n_cmp = 0;
	json_object_foreach(vg, name, t) {
		snprintf(path, sizeof path, "%s/%s/tokenizer.json", vd,
		         json_string_value(json_object_get(t, "vocab")));
		struct tokenizer *tk = NULL;
		struct qt_err err;
		CHECK(tokenizer_load(path, &tk, &err) == QT_OK, "%s", err.msg);
		if (!tk)
			continue;
		n_tpl++;
		int same = 1;
		for (size_t k = 0; k < json_array_size(convs); k++) {
			json_t *want = json_array_get(json_object_get(t, "ids"), k);
			struct chat_conv c = { 0 };
			if (json_is_null(want) || !to_conv(json_array_get(convs, k), &c)) {
				chat_conv_free(&c);
				continue;
			}
			int agp = json_is_true(json_object_get(json_array_get(convs, k),
			                                       "add_generation_prompt"));
			char *text = NULL;
			json_t *vars = json_object_get(json_object_get(tpls, name), "vars");
			struct result res = run(tk, dir, name, vars, &c, agp, &text);
			int ok = res.ok && res_same_ids(&res, want);
			CHECK(ok, "%s conversation %zu: ids with its own vocabulary differ", name, k);
			same &= ok;
			n_cmp++;
			free(res.ids);
			free(res.mask);
			free(text);
			chat_conv_free(&c);
		}
		n_same += same;
		tokenizer_free(tk);
	}
	printf("own vocabularies: %d of %d family templates with ids equal to transformers on all "
	       "%d renderings\n", n_same, n_tpl, n_cmp);
	json_decref(vg);
}

/* The SentencePiece families' templates with the variants of the SentencePiece fixture
 * (tests/ref/chat_templates_spm.py wrote spm_golden.json). */
static void check_spm(const char *dir, json_t *g)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/spm_golden.json", dir);
	json_error_t je;
	json_t *sg = json_load_file(path, 0, &je);
	CHECK(sg != NULL, "%s: %s", path, je.text);
	json_t *convs = json_object_get(g, "conversations"), *tpls = json_object_get(g, "templates");
	const char *key;
	json_t *t;
	int n_pairs = 0, n_same = 0, n_cmp = 0;
	json_object_foreach(sg, key, t) {
		const char *name = json_string_value(json_object_get(t, "template"));
		const char *variant = json_string_value(json_object_get(t, "variant"));
		struct tokenizer *tk = NULL;
		struct qt_err err;
		CHECK(load_spm_variant(variant, &tk, &err) == QT_OK, "%s: %s", variant, err.msg);
		if (!tk)
			continue;
		n_pairs++;
		int same = 1;
		for (size_t k = 0; k < json_array_size(convs); k++) {
			json_t *want = json_array_get(json_object_get(t, "ids"), k);
			struct chat_conv c = { 0 };
			if (json_is_null(want) || !to_conv(json_array_get(convs, k), &c)) {
				chat_conv_free(&c);
				continue;
			}
			int agp = json_is_true(json_object_get(json_array_get(convs, k),
			                                       "add_generation_prompt"));
			char *text = NULL;
			json_t *vars = json_object_get(json_object_get(tpls, name), "vars");
			struct result res = run(tk, dir, name, vars, &c, agp, &text);
			int ok = res.ok && res_same_ids(&res, want);
			CHECK(ok, "%s conversation %zu: ids differ (%zu vs %zu)", key, k, res.n,
			      json_array_size(want));
			same &= ok;
			n_cmp++;
			free(res.ids);
			free(res.mask);
			free(text);
			chat_conv_free(&c);
		}
		n_same += same;
		tokenizer_free(tk);
	}
	printf("SentencePiece vocabularies: %d of %d template/vocabulary pairs with ids equal to "
	       "transformers on all %d renderings\n", n_same, n_pairs, n_cmp);
	json_decref(sg);
}

int main(void)
{
	char path[4200], dir[4000];
	snprintf(dir, sizeof dir, "%s/data/chat_templates", test_srcdir());
	snprintf(path, sizeof path, "%s/golden.json", dir);
	json_error_t je;
	json_t *g = json_load_file(path, 0, &je);
	CHECK(g != NULL, "%s: %s", path, je.text);
	snprintf(path, sizeof path, "%s/data/tokenizer/smollm2/tokenizer.json", test_srcdir());
	struct tokenizer *tk = NULL;
	struct qt_err err;
	CHECK(tokenizer_load(path, &tk, &err) == QT_OK, "%s", err.msg);
	if (!g || !tk)
		return test_main_end();
	setenv("SOURCE_DATE_EPOCH", "1721952000", 1);  /* golden.json's "now" */
	json_t *convs = json_object_get(g, "conversations"), *tpls = json_object_get(g, "templates");
	const char *name;
	json_t *t;
	int n_tpl = 0, n_same = 0, n_renders = 0, n_masks = 0, n_auto = 0;
	json_object_foreach(tpls, name, t) {
		n_tpl++;
		int same = 1, marked = !strncmp(name, "marked/", 7);
		for (size_t k = 0; k < json_array_size(convs); k++) {
			json_t *conv = json_array_get(convs, k);
			struct chat_conv c = { 0 };
			if (!to_conv(conv, &c)) {
				chat_conv_free(&c);
				continue;
			}
			int agp = json_is_true(json_object_get(conv, "add_generation_prompt"));
			json_t *want = json_array_get(json_object_get(t, "results"), k);
			char *text = NULL;
			struct result res = run(tk, dir, name, json_object_get(t, "vars"), &c, agp, &text);
			n_renders++;
			if (!json_object_get(want, "text")) {
				CHECK(!res.ok, "%s conversation %zu: transformers raised, we rendered", name, k);
			} else {
				CHECK(res.ok, "%s conversation %zu: not rendered", name, k);
				int ok = res.ok && !strcmp(text, json_string_value(json_object_get(want,
				                                                                  "text")));
				CHECK(ok, "%s conversation %zu: text differs", name, k);
				int ids_ok = res.ok && res_same_ids(&res, json_object_get(want, "ids"));
				CHECK(ids_ok, "%s conversation %zu: ids differ (%zu vs %zu)", name, k, res.n,
				      json_array_size(json_object_get(want, "ids")));
				same &= ok && ids_ok;
				json_t *mask = json_object_get(want, "mask");
				if (marked && mask && res.ok) {
					CHECK(same_mask(&res, mask), "%s conversation %zu: generation mask differs "
					      "from transformers'", name, k);
					n_masks++;
					/* the unmarked template: spans from its structure */
					char corpus[512], *t2 = NULL;
					snprintf(corpus, sizeof corpus, "corpus/%s", name + 7);
					json_t *t2v = json_object_get(json_object_get(tpls, corpus), "vars");
					struct result auto_ = run(tk, dir, corpus, t2v, &c, agp, &t2);
					CHECK(auto_.ok && res_same_ids(&auto_, json_object_get(want, "ids")) &&
					      same_mask(&auto_, mask), "%s conversation %zu: spans of the unmarked "
					      "template differ from the marked one's mask", corpus, k);
					n_auto++;
					free(auto_.ids);
					free(auto_.mask);
					free(t2);
				}
			}
			free(res.ids);
			free(res.mask);
			free(text);
			chat_conv_free(&c);
		}
		n_same += same;
	}
	printf("chat layer: %d templates, %d with every rendering's text and SmolLM2 ids equal to "
	       "transformers (%d renderings); %d generation masks equal to transformers', %d "
	       "structural masks equal to them\n", n_tpl, n_same, n_renders, n_masks, n_auto);
	tokenizer_free(tk);
	check_vocab(dir, g);
	check_spm(dir, g);
	json_decref(g);
	return test_main_end();
}
