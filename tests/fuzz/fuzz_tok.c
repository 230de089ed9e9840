/* qlora-tools: ISC license. */
/* Fuzz harness: the .tok reader (formats/tok.c), every record to the end. */
#include "formats/tok.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct tok_reader r;
	struct qt_err err;
	if (tok_reader_open(&r, path, &err) == QT_OK) {
		struct tok_record rec;
		while (tok_reader_next(&r, &rec, &err) == 1)
			;
		tok_reader_close(&r);
	}
	close(fd);
	return 0;
}
