/* qlora-tools: ISC license. */
/*
 * formats/chat: the generation prompt of SmolLM2's own template (rendered by the Jinja subset)
 * against HF apply_chat_template (tests/data/chatml/genprompt.golden, written by
 * tests/ref/chatml_golden.py), record shapes, piece attribution and truncation, on the model's
 * template and on plain ChatML.
 */
#include "formats/chat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "test.h"

static void check_records(void)
{
	static const struct { const char *line; const char *want; int empty; } cases[] = {
		{ "{\"instruction\":\"Do\",\"input\":\"this\",\"output\":\"ok\"}", "user:Do\nthis|assistant:ok|", 0 },
		{ "{\"instruction\":\"\",\"input\":\"only input\",\"output\":\"ok\"}", "user:only input|assistant:ok|", 0 },
		{ "{\"instruction\":\"Do\",\"input\":null,\"output\":\"\"}", "user:Do|assistant:|", 1 },
		{ "{\"system\":\"S\",\"messages\":[{\"role\":\"system\",\"content\":\"own\"},{\"role\":\"user\",\"content\":\"u\"}]}", "system:own|user:u|", 0 },
		{ "{\"system\":\"\",\"conversations\":[{\"from\":\"observation\",\"value\":\"t\"}]}", "tool:t|", 0 },
	};
	struct chat_record_opts o = { .format = CHAT_FORMAT_CHAT };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct chat_conv c = { 0 };
		struct qt_err err = { 0 };
		int empty = -1;
		int st = chat_record_parse(cases[i].line, strlen(cases[i].line), &o, &c, &empty, &err);
		char got[256] = "";
		for (size_t k = 0; k < c.n; k++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s:%.*s|",
			         chat_role_name(c.msg[k].role), (int)c.msg[k].len, c.msg[k].text);
		CHECK(st == QT_OK && !strcmp(got, cases[i].want) && empty == cases[i].empty,
		      "record %zu: status %d (%s), got \"%s\", empty %d", i, st, err.msg, got, empty);
		chat_conv_free(&c);
	}
}

/* The generation prompt equals HF apply_chat_template(add_generation_prompt=True). */
static void check_genprompt(const struct tokenizer *tk, const struct chat_template *t)
{
	char path[512];
	snprintf(path, sizeof path, "%s/data/chatml/genprompt.golden", test_srcdir());
	json_error_t je;
	json_t *g = json_load_file(path, 0, &je);
	CHECK(g != NULL, "%s: %s", path, je.text);
	if (!g)
		return;
	struct chat_conv c = { 0 };
	chat_conv_add(&c, CHAT_USER, "Hi", 2);
	struct chat_render r = { 0 };
	struct qt_err err;
	CHECK(chat_render(t, &c, NULL, CHAT_TRAIN_ASSISTANT, 1, &r, &err) == QT_OK, "%s", err.msg);
	char *text = chat_render_text(&r, NULL);
	CHECK(text && !strcmp(text, json_string_value(json_object_get(g, "text"))),
	      "rendered \"%s\"", text ? text : "");
	free(text);
	struct tok_ids ids = { 0 };
	CHECK(chat_encode_prompt(tk, t, &c, NULL, &ids, &err) == QT_OK, "%s", err.msg);
	json_t *want = json_object_get(g, "ids");
	int same = ids.n == json_array_size(want);
	for (size_t i = 0; same && i < ids.n; i++)
		same = ids.v[i] == (uint32_t)json_integer_value(json_array_get(want, i));
	CHECK(same, "generation prompt ids differ from HF (%zu vs %zu ids)", ids.n,
	      json_array_size(want));
	/* --system TEXT renders TEXT (a system message put first) */
	struct chat_system set = { CHAT_SYSTEM_SET, "Be brief." };
	chat_render(t, &c, &set, CHAT_TRAIN_ASSISTANT, 0, &r, &err);
	text = chat_render_text(&r, NULL);
	CHECK(text && !strcmp(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
	                            "Hi<|im_end|>\n"), "set system: \"%s\"", text ? text : "");
	free(text);
	free(ids.v);
	chat_render_free(&r);
	chat_conv_free(&c);
	json_decref(g);
}

/* With a system message, SmolLM2's template renders plain ChatML: same ids, same mask, same
 * truncation as the built-in ChatML path (whose mask is TRL's net effect, reference 1.12). */
static void check_same_as_chatml(const struct tokenizer *tk, const struct chat_template *tpl,
                                 const struct chat_template *chatml)
{
	struct chat_conv c = { 0 };
	chat_conv_add(&c, CHAT_SYSTEM, "Be brief.", 9);
	chat_conv_add(&c, CHAT_USER, "one two three four five six", 27);
	chat_conv_add(&c, CHAT_ASSISTANT, " alpha beta\n", 12);
	chat_conv_add(&c, CHAT_USER, "\n\nseven", 7);
	chat_conv_add(&c, CHAT_ASSISTANT, "gamma delta epsilon zeta eta", 28);
	static const struct chat_limits limits[] = {
		{ 0, 0, 0 }, { 7, 5, 0 }, { 0, 3, 0 }, { 12, 0, 0 }, { 0, 0, 15 },
	};
	for (int train = 0; train < 2; train++)
		for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
			struct chat_render r1 = { 0 }, r2 = { 0 };
			struct chat_encoded e1 = { 0 }, e2 = { 0 };
			struct qt_err err;
			CHECK(chat_render(tpl, &c, NULL, train, 0, &r1, &err) == QT_OK, "%s", err.msg);
			CHECK(chat_render(chatml, &c, NULL, train, 0, &r2, &err) == QT_OK, "%s", err.msg);
			chat_encode(tk, &r1, &e1, &err);
			chat_encode(tk, &r2, &e2, &err);
			enum chat_trunc t1 = chat_truncate(&r1, &e1, &limits[k]);
			enum chat_trunc t2 = chat_truncate(&r2, &e2, &limits[k]);
			int same = t1 == t2 && e1.ids.n == e2.ids.n;
			for (size_t i = 0; same && i < e1.ids.n; i++)
				same = e1.ids.v[i] == e2.ids.v[i] && e1.mask[i] == e2.mask[i];
			CHECK(same, "train %d limits %zu: template %zu ids (%d), ChatML %zu ids (%d)", train,
			      k, e1.ids.n, t1, e2.ids.n, t2);
			chat_encoded_free(&e1);
			chat_encoded_free(&e2);
			chat_render_free(&r1);
			chat_render_free(&r2);
		}
	chat_conv_free(&c);
}

/* Pieces, attribution and truncation on a small conversation. */
static void check_truncate(const struct tokenizer *tk, const struct chat_template *t)
{
	struct chat_conv c = { 0 };
	chat_conv_add(&c, CHAT_USER, "one two three four five six", 27);
	chat_conv_add(&c, CHAT_ASSISTANT, "alpha beta gamma delta epsilon", 30);
	struct chat_system none = { CHAT_SYSTEM_NONE, NULL };
	struct chat_render r = { 0 };
	struct chat_encoded e = { 0 };
	struct qt_err err;
	CHECK(chat_render(t, &c, &none, CHAT_TRAIN_ASSISTANT, 0, &r, &err) == QT_OK, "%s", err.msg);
	CHECK(r.n == 10, "10 pieces, got %zu", r.n);
	CHECK(chat_encode(tk, &r, &e, &err) == QT_OK, "%s", err.msg);
	/* user turn: 1 "user" "\n" 6 words 2 "\n"; assistant: 1 "assistant" "\n" 5 words 2 "\n" */
	CHECK(e.ids.n == 22 && e.piece_at[2] == 3 && e.piece_at[7] == 15 && e.piece_at[8] == 20,
	      "layout: %zu ids, content at %u, %u..%u", e.ids.n, e.piece_at[2], e.piece_at[7],
	      e.piece_at[8]);
	struct chat_limits l = { .max_source = 7, .max_target = 5 };
	CHECK(chat_truncate(&r, &e, &l) == CHAT_CUT && e.ids.n == 12, "cut to %zu", e.ids.n);
	CHECK(e.ids.v[3] == t->im_start && e.ids.v[10] == t->im_end && e.mask[6] == 0 &&
	      e.mask[7] == 1, "kept the header and the closing tokens");
	chat_encode(tk, &r, &e, &err);
	struct chat_limits l2 = { .max_len = 15 };
	CHECK(chat_truncate(&r, &e, &l2) == CHAT_DROP, "nothing trained left");
	chat_encode(tk, &r, &e, &err);
	struct chat_limits l3 = { 0 };
	CHECK(chat_truncate(&r, &e, &l3) == CHAT_KEPT && e.ids.n == 22, "no limits");
	chat_encoded_free(&e);
	chat_render_free(&r);
	chat_conv_free(&c);
}

int main(void)
{
	check_records();
	char tkp[512], cfg[512];
	snprintf(tkp, sizeof tkp, "%s/data/tokenizer/smollm2/tokenizer.json", test_srcdir());
	snprintf(cfg, sizeof cfg, "%s/data/tokenizer/smollm2/tokenizer_config.json", test_srcdir());
	struct tokenizer *tk = NULL;
	struct qt_err err;
	CHECK(tokenizer_load(tkp, &tk, &err) == QT_OK, "%s", err.msg);
	struct chat_template t;
	CHECK(chat_template_load(cfg, NULL, tk, &t, &err) == QT_OK, "%s", err.msg);
	CHECK(t.im_start == 1 && t.im_end == 2 && t.eos_id == 2 && t.pad_id == 2 && t.bos_id == 1 &&
	      !t.builtin && t.jinja && t.turn_end == 2, "SmolLM2 configuration");
	check_genprompt(tk, &t);
	chat_template_free(&t);
	/* plain ChatML (--template chatml): the same pieces as the template's, without the
	 * template's default system prompt */
	CHECK(chat_template_load(cfg, "chatml", tk, &t, &err) == QT_OK, "%s", err.msg);
	CHECK(t.builtin && !t.jinja && t.turn_end == 2, "chatml");
	check_truncate(tk, &t);
	struct chat_template tpl;
	CHECK(chat_template_load(cfg, NULL, tk, &tpl, &err) == QT_OK, "%s", err.msg);
	check_same_as_chatml(tk, &tpl, &t);
	chat_template_free(&tpl);
	chat_template_free(&t);
	tokenizer_free(tk);
	return test_main_end();
}
