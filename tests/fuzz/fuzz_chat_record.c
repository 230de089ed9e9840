/* qlora-tools: ISC license. */
/* Fuzz harness: the dataset shapes tok-chatml accepts (formats/chat_records.c) and what follows
 * a record: ChatML rendering and encoding with the SmolLM2 tokenizer and template (reference
 * fixtures). The first byte picks the record options; the rest is one JSONL record. */
#include "common/jsonl.h"
#include "formats/chat.h"
#include "formats/tokenizer.h"
#include "fuzz/fuzz.h"

static struct tokenizer *tk;
static struct chat_template tpl;
static int ready;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *src = getenv("QT_TEST_SRCDIR") ? getenv("QT_TEST_SRCDIR") : "tests";
	char p[512];
	struct qt_err err;
	snprintf(p, sizeof p, "%s/data/tokenizer/smollm2/tokenizer.json", src);
	if (tokenizer_load(p, &tk, &err)) {
		fprintf(stderr, "fuzz_chat_record: %s\n", err.msg);
		exit(1);
	}
	snprintf(p, sizeof p, "%s/data/tokenizer/smollm2/tokenizer_config.json", src);
	if (chat_template_load(p, NULL, tk, &tpl, &err)) {
		fprintf(stderr, "fuzz_chat_record: %s\n", err.msg);
		exit(1);
	}
	ready = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	uint8_t o = data[0];
	const char *line = (const char *)data + 1;
	size_t len = size - 1;
	if (!qt_utf8_valid(line, len, NULL))  /* the reader checks this before a parser sees it */
		return 0;
	struct chat_record_opts opts = {
		.format = (o & 1) ? CHAT_FORMAT_TEXT : CHAT_FORMAT_CHAT,
		.prompt_key = (o & 1) ? "text" : (o & 2) ? "content" : NULL,
		.response_key = (o & 3) == 2 ? "summary" : NULL,
		.history_key = (o & 4) ? "history" : NULL,
	};
	struct chat_conv c = { 0 };
	struct chat_render r = { 0 };
	struct chat_encoded e = { 0 };
	struct qt_err err;
	int empty = 0;
	if (chat_record_parse(line, len, &opts, &c, &empty, &err) == QT_OK && !empty) {
		struct chat_system sys = { (o >> 3) % 3, "You are fuzzed." };
		if (chat_render(&tpl, &c, &sys, (o & 32) ? CHAT_TRAIN_ALL : CHAT_TRAIN_ASSISTANT,
		                (o >> 6) & 1, &r, &err) == QT_OK) {
			size_t n;
			free(chat_render_text(&r, &n));
			chat_encode(tk, &r, &e, &err);
		}
	}
	chat_encoded_free(&e);
	chat_render_free(&r);
	chat_conv_free(&c);
	return 0;
}
