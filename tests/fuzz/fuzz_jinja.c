/* qlora-tools: ISC license. */
/* Fuzz harness: the Jinja subset that renders chat templates (formats/tokenizer/jinja.c):
 * parse the input as a template, then render it with a fixed conversation (system, user,
 * assistant with a tool call, tool) and the usual variables. */
#include <jansson.h>

#include "formats/tokenizer/jinja.h"
#include "fuzz/fuzz.h"

static json_t *vars;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	json_error_t je;
	vars = json_loads("{\"messages\": ["
	                  "{\"role\": \"system\", \"content\": \"Be brief.\"},"
	                  "{\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
	                  "{\"role\": \"assistant\", \"content\": \"<think>x</think>Let me check.\","
	                  " \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"w\","
	                  " \"arguments\": {\"city\": \"Paris\"}}}]},"
	                  "{\"role\": \"tool\", \"content\": \"18 C\"}],"
	                  "\"add_generation_prompt\": true, \"bos_token\": \"<s>\","
	                  "\"eos_token\": \"</s>\", \"tools\": [{\"type\": \"function\","
	                  " \"function\": {\"name\": \"w\", \"parameters\": {}}}]}", 0, &je);
	if (!vars) {
		fprintf(stderr, "fuzz_jinja: %s\n", je.text);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vars)
		LLVMFuzzerInitialize(NULL, NULL);
	struct jinja_tpl *t = NULL;
	struct qt_err err;
	if (jinja_parse((const char *)data, size, &t, &err) == QT_OK) {
		struct jinja_out out = { 0 };
		struct jinja_opts o = { .now = 1700000000 };
		(void)jinja_has_generation(t);
		jinja_render(t, vars, &o, &out, &err);
		jinja_out_free(&out);
		jinja_free(t);
	}
	return 0;
}
