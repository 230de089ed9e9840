/* qlora-tools: ISC license. */
/* Fuzz harness: GGUF (formats/gguf.c: header, metadata, tensor infos), the typed getters
 * import-gguf uses, and the tokenizer.json / tokenizer_config.json it rebuilds from the
 * metadata (formats/gguf_tokenizer.c) into a scratch directory. */
#include "formats/gguf.h"
#include "formats/gguf_tokenizer.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "general.architecture", "llama.context_length",
		"llama.embedding_length", "llama.block_count", "llama.rope.freq_base",
		"tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.chat_template" };
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct gguf_file g;
	struct qt_err err;
	if (gguf_open(&g, path, &err) == QT_OK) {
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			int64_t iv;
			double dv;
			int bv;
			char *s = NULL;
			gguf_get_int(&g, keys[i], &iv, &err);
			gguf_get_float(&g, keys[i], &dv, &err);
			gguf_get_bool(&g, keys[i], &bv, &err);
			if (gguf_get_str(&g, keys[i], &s, &err) == QT_OK)
				free(s);
		}
		(void)gguf_find_tensor(&g, "token_embd.weight");
		const char *dir = fuzz_scratch();
		if (dir)
			gguf_tokenizer_write(&g, dir, 2048, &err);
		gguf_close(&g);
	}
	close(fd);
	return 0;
}
