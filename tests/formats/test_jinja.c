/* qlora-tools: ISC license. */
/*
 * Unit tests of the Jinja subset (formats/tokenizer/jinja.h): every case of
 * tests/data/jinja/units.json (rendered by jinja2 under transformers' settings,
 * tests/ref/jinja_units.py) must render to the same text, or fail where jinja2 failed; the
 * cases named in refused[] are outside the subset and must be refused with "not implemented"
 * and a line. Then the byte tags (template / messages[k] / other data) and the
 * {% generation %} flags, which have no jinja2 counterpart.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/jinja.h"
#include "test.h"

/* Cases jinja2 renders that the subset refuses by design. */
static const char *const refused[] = {
	"{% raw %}{{ x }}{% endraw %}",
	"{% for i in range(3) recursive %}{% endfor %}",
	NULL,
};

static int render(const char *tpl, json_t *vars, int64_t now, struct jinja_out *out,
                  struct qt_err *err)
{
	struct jinja_tpl *t;
	int st = jinja_parse(tpl, strlen(tpl), &t, err);
	if (st != QT_OK)
		return st;
	struct jinja_opts o = { now };
	st = jinja_render(t, vars, &o, out, err);
	jinja_free(t);
	return st;
}

static void test_units(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data/jinja/units.json", test_srcdir());
	json_error_t je;
	json_t *g = json_load_file(path, 0, &je);
	CHECK(g != NULL, "%s: %s", path, je.text);
	if (!g)
		return;
	int64_t now = json_integer_value(json_object_get(g, "now"));
	size_t i;
	json_t *c;
	struct jinja_out out = { 0 };
	json_array_foreach(json_object_get(g, "cases"), i, c) {
		const char *tpl = json_string_value(json_object_get(c, "template"));
		const char *want = json_string_value(json_object_get(c, "text"));
		struct qt_err err = { 0 };
		int st = render(tpl, json_object_get(c, "vars"), now, &out, &err);
		int is_refused = 0;
		for (int k = 0; refused[k]; k++)
			is_refused |= !strcmp(refused[k], tpl);
		if (is_refused) {
			CHECK(st == QT_EDATA && strstr(err.msg, "not implemented") &&
			      !strncmp(err.msg, "line ", 5), "case %zu '%s': refused with '%s'", i, tpl,
			      st ? err.msg : "(rendered)");
		} else if (want) {
			CHECK(st == QT_OK, "case %zu '%s': %s", i, tpl, err.msg);
			CHECK(st != QT_OK || (out.n == strlen(want) && !memcmp(out.s, want, out.n)),
			      "case %zu '%s':\n  ours   '%s'\n  jinja2 '%s'", i, tpl, out.s, want);
		} else {
			CHECK(st == QT_EDATA, "case %zu '%s': jinja2 failed (%s), we rendered '%s'", i,
			      tpl, json_string_value(json_object_get(c, "error")), out.s);
			CHECK(st != QT_EDATA || !strncmp(err.msg, "line ", 5),
			      "case %zu: no line in '%s'", i, err.msg);
		}
	}
	jinja_out_free(&out);
	json_decref(g);
}

/* Tags: bytes of messages[k] keep k through filters and methods; tools are data; the rest is
 * template text; {% generation %} flags its bytes. */
static void test_tags(void)
{
	json_t *vars = json_pack("{s:[{s:s,s:s},{s:s,s:s}],s:[s],s:s}", "messages", "role", "user",
	                         "content", " ab ", "role", "assistant", "content", "xy</think>z",
	                         "tools", "T", "bos_token", "<s>");
	const char *tpl = "{{ bos_token }}{% for m in messages %}[{{ m.content | trim }}"
	                  "{% generation %}{{ m.content.split('</think>')[-1] + '!' }}"
	                  "{% endgeneration %}]{% endfor %}{{ tools[0] | tojson }}";
	struct jinja_out out = { 0 };
	struct qt_err err = { 0 };
	int st = render(tpl, vars, 0, &out, &err);
	CHECK(st == QT_OK, "%s", err.msg);
	const char *want = "<s>[ab ab !][xy</think>zz!]\"T\"";
	CHECK(st == QT_OK && !strcmp(out.s, want), "'%s'", out.s);
	if (st == QT_OK && !strcmp(out.s, want)) {
		int ok = 1;
		/* expected tag per byte: t = template, 0/1 = messages, d = data */
		const char *exp_tags = "ttt" "t00" "0000t" "t" "t11111111111" "1t" "t" "tdt";
		for (size_t k = 0; k < out.n; k++) {
			char e = exp_tags[k], g = e == 't' ? -1 : e == 'd' ? -2 : e - '0';
			int32_t exp = e == 't' ? JINJA_TAG_TEMPLATE : e == 'd' ? JINJA_TAG_DATA : g;
			ok &= out.tag[k] == exp;
		}
		CHECK(ok, "tags");
		int gok = 1;
		/* generation flags: " ab !" in turn 1 and "z!" in turn 2 */
		for (size_t k = 0; k < out.n; k++) {
			int in = (k >= 6 && k <= 10) || (k >= 24 && k <= 25);
			gok &= out.gen[k] == in;
		}
		CHECK(gok, "generation flags");
	}
	jinja_out_free(&out);
	json_decref(vars);
}

int main(void)
{
	test_units();
	test_tags();
	return test_main_end();
}
