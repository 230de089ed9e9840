/* qlora-tools: ISC license. */
/* Fuzz harness: common/jsonl, the JSONL reader over libarchive (plain, compressed, tar, zip,
 * 7-zip), as tok-chatml, gen and rouge-zh open their inputs. */
#include "common/jsonl.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct qt_err err;
	struct qt_jsonl *r = qt_jsonl_open(path, 4096, &err);
	for (int i = 0; r && i < 100000; i++) {
		const char *line;
		size_t len;
		int rc = qt_jsonl_next(r, &line, &len, &err);
		if (rc == 0 || (rc < 0 && err.status != QT_EDATA))
			break;
		if (rc > 0 && len && (line[0] == 0x7f || line[len - 1] == 0x7f))
			(void)qt_jsonl_lineno(r);
	}
	qt_jsonl_close(r);
	close(fd);
	return 0;
}
