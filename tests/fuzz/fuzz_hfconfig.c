/* qlora-tools: ISC license. */
/* Fuzz harness: HF config.json (formats/hfconfig.c): parse and validate. */
#include "formats/hfconfig.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hf_config c;
	struct qt_err err;
	if (hf_config_parse((const char *)data, size, "config.json", &c, &err) == QT_OK)
		hf_config_validate(&c, "config.json", &err);
	return 0;
}
