/* qlora-tools: ISC license. */
/* Fuzz harness: tokenizer.json (formats/tokenizer/), then encoding and decoding of a few fixed
 * texts with whatever loaded. */
#include "formats/tokenizer.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const texts[] = {
		"Hello, world! 123 4567", "  leading and trailing  ", "中文 混合 English",
		"<|im_start|>user\nhi<|im_end|>", "tabs\tand\nnewlines\r\n", "émoji 🙂 ß", "",
		"<s>Hello 12</s>\n", " \u2581\u2581Hello\u2581 world ",
	};
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct tokenizer *t = NULL;
	struct qt_err err;
	if (tokenizer_load(path, &t, &err) == QT_OK) {
		struct tok_ids ids = { 0 };
		for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
			ids.n = 0;
			/* every flag combination over the texts: TEXT_ONLY, CONTINUE, ADD_SPECIAL */
			int fl = (int)(i % 8) & (TOKENIZER_TEXT_ONLY | TOKENIZER_CONTINUE |
			                         TOKENIZER_ADD_SPECIAL);
			if (tokenizer_encode(t, texts[i], strlen(texts[i]), fl, &ids, &err) == QT_OK) {
				char *s = NULL;
				size_t n;
				if (tokenizer_decode(t, ids.v, ids.n, (int)(i & 1), &s, &n, &err) == QT_OK)
					free(s);
			}
		}
		uint32_t probe[4] = { 0, 1, tokenizer_vocab_size(t) - 1, tokenizer_vocab_size(t) };
		for (int i = 0; i < 4; i++)
			(void)tokenizer_token_str(t, probe[i]);
		free(ids.v);
		tokenizer_free(t);
	}
	close(fd);
	return 0;
}
