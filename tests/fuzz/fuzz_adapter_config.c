/* qlora-tools: ISC license. */
/* Fuzz harness: PEFT adapter_config.json (formats/adapter_config.c): parse, then the per-module
 * queries a loader makes for a 2-layer model. */
#include "formats/adapter.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adapter_config c;
	struct qt_err err;
	if (adapter_config_parse(&c, (const char *)data, size, "adapter_config.json", &err) == QT_OK) {
		for (int l = 0; l < 2; l++)
			for (int m = 0; m < ADAPTER_N_MODULES; m++) {
				int r, on = adapter_config_targets(&c, &(struct adapter_dims){ 0 }, l, m, &err);
				double alpha;
				if (on == 1)
					adapter_config_rank_alpha(&c, &(struct adapter_dims){ 0 }, l, m, &r, &alpha, &err);
			}
		adapter_config_free(&c);
	}
	return 0;
}
