/* qlora-tools: ISC license. */
/* Fuzz harness: tokenizer_config.json (formats/chat_template.c) with the template it holds,
 * resolved against the SmolLM2 tokenizer, then a fixed conversation rendered and encoded with
 * it. The Jinja subset itself has its own harness (fuzz_jinja.c). */
#include "formats/chat.h"
#include "formats/tokenizer.h"
#include "fuzz/fuzz.h"

static struct tokenizer *tk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *src = getenv("QT_TEST_SRCDIR") ? getenv("QT_TEST_SRCDIR") : "tests";
	char p[512];
	struct qt_err err;
	snprintf(p, sizeof p, "%s/data/tokenizer/smollm2/tokenizer.json", src);
	if (tokenizer_load(p, &tk, &err)) {
		fprintf(stderr, "fuzz_chat_template: %s\n", err.msg);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tk)
		LLVMFuzzerInitialize(NULL, NULL);
	const char *dir = fuzz_scratch();
	char p[512];
	if (!dir || fuzz_put(dir, "tokenizer_config.json", data, size))
		return 0;
	snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
	struct chat_template t = { 0 };
	struct qt_err err;
	if (chat_template_load(p, NULL, tk, &t, &err) == QT_OK) {
		struct chat_conv c = { 0 };
		struct chat_render r = { 0 };
		struct chat_encoded e = { 0 };
		chat_conv_add(&c, CHAT_USER, "hello", 5);
		chat_conv_add(&c, CHAT_ASSISTANT, "hi there", 8);
		struct chat_system sys = { CHAT_SYSTEM_DEFAULT, NULL };
		if (chat_render(&t, &c, &sys, CHAT_TRAIN_ASSISTANT, 1, &r, &err) == QT_OK)
			chat_encode(tk, &r, &e, &err);
		chat_encoded_free(&e);
		chat_render_free(&r);
		chat_conv_free(&c);
	}
	chat_template_free(&t);
	return 0;
}
