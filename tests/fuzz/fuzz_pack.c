/* qlora-tools: ISC license. */
/* Fuzz harness: the .pack reader (formats/pack.c): open, verify, then every block's view. */
#include "formats/pack.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct pack_file f;
	struct qt_err err;
	if (pack_open(&f, path, &err) == QT_OK) {
		if (pack_verify(&f, &err) == QT_OK) {
			uint64_t sum = 0;
			for (uint64_t i = 0; i < f.h.n_blocks; i++) {
				struct pack_block b;
				pack_get_block(&f, i, &b);
				for (uint32_t t = 0; t < b.seq_len; t++)
					sum += b.ids[t] + (uint64_t)b.mask[t] + (uint64_t)b.seg[t];
			}
			if (sum == 42)
				fputc(' ', stderr);
		}
		pack_close(&f);
	}
	close(fd);
	return 0;
}
