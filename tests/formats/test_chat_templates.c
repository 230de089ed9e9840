/* qlora-tools: ISC license. */
/*
 * The Jinja subset against transformers on real chat templates: every template of
 * tests/data/chat_templates/ (llama.cpp's models/templates corpus and TRL-style marked ones) is
 * parsed; an accepted template must render every conversation of golden.json to the very text
 * transformers' apply_chat_template rendered (tests/ref/chat_templates.py), or fail where
 * transformers raised. A template may be refused (a construct outside the subset), never
 * rendered differently; the families the issue names must be accepted. Prints the counts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "formats/tokenizer/jinja.h"
#include "test.h"

/* Families that must be accepted and identical (issue 15). */
static const char *const required[] = {
	"corpus/meta-llama-Llama-3.1-8B-Instruct.jinja",
	"corpus/meta-llama-Llama-3.2-3B-Instruct.jinja",
	"corpus/meta-llama-Llama-3.3-70B-Instruct.jinja",
	"corpus/Qwen-Qwen2.5-7B-Instruct.jinja",
	"corpus/Qwen-Qwen3-0.6B.jinja",
	"corpus/mistralai-Mistral-Nemo-Instruct-2407.jinja",
	"corpus/Mistral-Small-3.2-24B-Instruct-2506.jinja",
	"corpus/microsoft-Phi-3.5-mini-instruct.jinja",
	"corpus/google-gemma-2-2b-it.jinja",
	"corpus/HuggingFaceTB-SmolLM2-135M-Instruct.jinja",
	"corpus/HuggingFaceTB-SmolLM3-3B.jinja",
	"corpus/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
	"corpus/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
	"corpus/ibm-granite-granite-3.3-2B-Instruct.jinja",
	NULL,
};

/* The variables transformers passes for conversation conv and template entry t. */
static json_t *make_vars(json_t *conv, json_t *t)
{
	json_t *v = json_object();
	json_object_set(v, "messages", json_object_get(conv, "messages"));
	json_t *tools = json_object_get(conv, "tools");
	json_object_set_new(v, "tools", tools ? json_incref(tools) : json_null());
	json_object_set_new(v, "documents", json_null());
	json_object_set_new(v, "add_generation_prompt",
	                    json_boolean(json_is_true(json_object_get(conv, "add_generation_prompt"))));
	json_object_update(v, json_object_get(t, "vars"));
	return v;
}

int main(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data/chat_templates/golden.json", test_srcdir());
	json_error_t je;
	json_t *g = json_load_file(path, 0, &je);
	CHECK(g != NULL, "%s: %s", path, je.text);
	if (!g)
		return test_main_end();
	json_t *convs = json_object_get(g, "conversations"), *tpls = json_object_get(g, "templates");
	struct jinja_opts o = { json_integer_value(json_object_get(g, "now")) };
	const char *name;
	json_t *t;
	int n_tpl = 0, n_acc = 0, n_same = 0, n_refused_render = 0;
	struct jinja_out out = { 0 };
	json_object_foreach(tpls, name, t) {
		n_tpl++;
		snprintf(path, sizeof path, "%s/data/chat_templates/%s", test_srcdir(), name);
		char *src;
		size_t len;
		struct qt_err err = { 0 };
		int st = qt_read_file(path, &src, &len, &err);
		CHECK(st == QT_OK, "%s", err.msg);
		if (st != QT_OK)
			continue;
		struct jinja_tpl *jt;
		st = jinja_parse(src, len, &jt, &err);
		free(src);
		int is_required = 0;
		for (int k = 0; required[k]; k++)
			is_required |= !strcmp(required[k], name);
		if (st != QT_OK) {
			printf("refused   %s: %s\n", name, err.msg);
			CHECK(!is_required, "%s must be accepted: %s", name, err.msg);
			CHECK(strstr(err.msg, "line ") == err.msg, "%s: no line in '%s'", name, err.msg);
			continue;
		}
		n_acc++;
		int same = 1;
		json_t *res = json_object_get(t, "results");
		for (size_t c = 0; c < json_array_size(convs); c++) {
			json_t *vars = make_vars(json_array_get(convs, c), t);
			json_t *want = json_array_get(res, c);
			st = jinja_render(jt, vars, &o, &out, &err);
			json_decref(vars);
			const char *wt = json_string_value(json_object_get(want, "text"));
			if (st != QT_OK && strstr(err.msg, "not implemented")) {
				printf("refused   %s conversation %zu: %s\n", name, c, err.msg);
				n_refused_render++;
				same = 0;
				CHECK(!is_required, "%s must render conversation %zu: %s", name, c, err.msg);
				continue;
			}
			if (!wt) {
				CHECK(st != QT_OK, "%s conversation %zu: transformers raised (%s), we rendered",
				      name, c, json_string_value(json_object_get(want, "error")));
				same &= st != QT_OK;
				continue;
			}
			CHECK(st == QT_OK, "%s conversation %zu: %s", name, c, err.msg);
			if (st != QT_OK) {
				same = 0;
				continue;
			}
			size_t wl = json_string_length(json_object_get(want, "text"));
			int eq = out.n == wl && !memcmp(out.s, wt, wl);
			if (!eq) {
				size_t k = 0;
				while (k < out.n && k < wl && out.s[k] == wt[k])
					k++;
				size_t from = k > 40 ? k - 40 : 0;
				CHECK(eq, "%s conversation %zu: text differs at byte %zu: ours '%.*s' "
				      "transformers '%.*s'", name, c, k, (int)(out.n - from < 120 ? out.n - from
				      : 120), out.s + from, (int)(wl - from < 120 ? wl - from : 120), wt + from);
			}
			same &= eq;
		}
		n_same += same;
		jinja_free(jt);
	}
	jinja_out_free(&out);
	printf("chat templates: %d in the corpus, %d accepted, %d identical to transformers on all "
	       "%zu conversations (%d renders refused)\n", n_tpl, n_acc, n_same,
	       json_array_size(convs), n_refused_render);
	json_decref(g);
	return test_main_end();
}
