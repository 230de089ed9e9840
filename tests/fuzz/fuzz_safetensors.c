/* qlora-tools: ISC license. */
/* Fuzz harness: a safetensors file (formats/safetensors.c): header, then every tensor converted
 * to f32. */
#include "formats/safetensors.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct st_file f;
	struct qt_err err;
	if (st_open(&f, path, &err) == QT_OK) {
		for (size_t i = 0; i < f.n_tensors; i++) {
			const struct st_tensor *t = &f.tensors[i];
			if (t->n_elem > (1u << 20))
				continue;
			float *x = malloc((t->n_elem ? t->n_elem : 1) * sizeof *x);
			if (x)
				st_tensor_to_f32(t, x, &err);
			free(x);
		}
		st_close(&f);
	}
	close(fd);
	return 0;
}
