/* qlora-tools: ISC license. */
/*
 * formats/chat: template recognition (accepted spellings, refused templates), the generation
 * prompt against HF apply_chat_template (tests/data/chatml/genprompt.golden, written by
 * tests/ref/chatml_golden.py), record shapes, piece attribution and truncation.
 */
#include "formats/chat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "test.h"

static const char *const smollm2 =
	"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
	"{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
	"Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
	"message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
	"{{ '<|im_start|>assistant\n' }}{% endif %}";

static void check_templates(void)
{
	static const struct { const char *tpl; int ok; const char *def; } cases[] = {
		/* reference 1.9 as stored in JSON (escapes inside the literals, a newline after for) */
		{ "{% for message in messages %}\n{{'<|im_start|>' + message['role'] + '\\n' + "
		  "message['content'] + '<|im_end|>' + '\\n'}}{% if loop.last and add_generation_prompt"
		  " %}{{'<|im_start|>assistant\\n' }}{% endif %}{% endfor %}", 1, NULL },
		{ smollm2, 1, "You are a helpful AI assistant named SmolLM, trained by Hugging Face" },
		/* Qwen2 */
		{ "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
		  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
		  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
		  "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
		  "{% endif %}", 1, "You are a helpful assistant." },
		/* lstrip_blocks + trim_blocks around indented block tags */
		{ "{% for message in messages %}\n    {{'<|im_start|>' + message.role + '\\n' + "
		  "message.content + '<|im_end|>\\n'}}\n{% endfor %}\n{% if add_generation_prompt %}\n"
		  "    {{ \"<|im_start|>assistant\\n\" }}\n{% endif %}\n", 0, NULL },
		{ "{% for message in messages %}\n{{'<|im_start|>' + message.role + '\\n' + "
		  "message.content + '<|im_end|>\\n'}}{% endfor %}\n{% if add_generation_prompt %}"
		  "{{ \"<|im_start|>assistant\\n\" }}{% endif %}", 1, NULL },
		/* text outside tags, no generation prompt, other templates */
		{ "x{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
		  "message['content'] + '<|im_end|>\\n'}}{% endfor %}", 0, NULL },
		{ "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
		  "message['content'] + '<|im_end|>\\n'}}{% endfor %}", 0, NULL },
		{ "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + "
		  "' [/INST]' }}{% endfor %}", 0, NULL },
		{ "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
		  "message['content'] | trim + '<|im_end|>\\n'}}{% endfor %}{% if add_generation_prompt"
		  " %}{{ '<|im_start|>assistant\\n' }}{% endif %}", 0, NULL },
		{ "{% for message in messages %", 0, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct chat_template t = { 0 };
		struct qt_err err = { 0 };
		int st = chat_template_parse(cases[i].tpl, &t, &err);
		CHECK((st == QT_OK) == cases[i].ok, "template %zu: status %d (%s)", i, st, err.msg);
		if (st == QT_OK)
			CHECK(cases[i].def ? t.default_system && !strcmp(t.default_system, cases[i].def)
			                   : !t.default_system, "template %zu: default system \"%s\"", i,
			      t.default_system ? t.default_system : "(none)");
		chat_template_free(&t);
	}
}

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
	/* --system '' renders no system turn; --system TEXT renders TEXT. */
	struct chat_system none = { CHAT_SYSTEM_NONE, NULL }, set = { CHAT_SYSTEM_SET, "Be brief." };
	chat_render(t, &c, &none, CHAT_TRAIN_ASSISTANT, 1, &r, &err);
	text = chat_render_text(&r, NULL);
	CHECK(text && !strcmp(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
	      "no system: \"%s\"", text ? text : "");
	free(text);
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
	check_templates();
	check_records();
	char tkp[512], cfg[512];
	snprintf(tkp, sizeof tkp, "%s/data/tokenizer/smollm2/tokenizer.json", test_srcdir());
	snprintf(cfg, sizeof cfg, "%s/data/tokenizer/smollm2/tokenizer_config.json", test_srcdir());
	struct tokenizer *tk = NULL;
	struct qt_err err;
	CHECK(tokenizer_load(tkp, &tk, &err) == QT_OK, "%s", err.msg);
	struct chat_template t;
	CHECK(chat_template_load(cfg, tk, &t, &err) == QT_OK, "%s", err.msg);
	CHECK(t.im_start == 1 && t.im_end == 2 && t.eos_id == 2 && t.pad_id == 2 && t.bos_id == 1 &&
	      !t.builtin && t.default_system, "SmolLM2 configuration");
	check_genprompt(tk, &t);
	check_truncate(tk, &t);
	chat_template_free(&t);
	tokenizer_free(tk);
	return test_main_end();
}
