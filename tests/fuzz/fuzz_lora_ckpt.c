/* qlora-tools: ISC license. */
/* Fuzz harness: a lora-train checkpoint's trainer_state.json (formats/lora_checkpoint.c), read
 * with lora_ckpt_load beside the valid adapter and optimizer files of a 1-layer checkpoint the
 * harness writes once (zero-initialized LoRA: the same bytes every time, so the seed's file
 * checksums match). FUZZ_SEED_OUT=file writes that checkpoint's trainer_state.json (the seed). */
#include "formats/adapter.h"
#include "formats/lora_checkpoint.h"
#include "fuzz/fuzz.h"

static char dir[512];
static const struct adapter_dims dims = { .n_layers = 1, .hidden = 8, .intermediate = 16,
                                          .q_dim = 8, .kv_dim = 4 };
static const char options[] = "{\"lr\": 0.001, \"rank\": 2}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static const char cfg_json[] = "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": "
	                               "[\"q_proj\", \"v_proj\", \"down_proj\"]}";
	struct adapter_config cfg;
	struct adapter a = { 0 };
	struct qt_err err;
	const char *s = fuzz_scratch();
	if (!s || adapter_config_parse(&cfg, cfg_json, sizeof cfg_json - 1, "cfg", &err) ||
	    adapter_init(&a, &cfg, &dims, &err)) {
		fprintf(stderr, "fuzz_lora_ckpt: setup: %s\n", s ? err.msg : "no scratch directory");
		exit(1);
	}
	snprintf(dir, sizeof dir, "%s/checkpoint-3", s);
	struct lora_ckpt_state st = { .step = 3, .total_steps = 10, .blocks_done = 6, .n_blocks = 4,
	                              .seed = 42, .tokens = 100, .input_tokens = 150,
	                              .seconds = 1.5 };
	if (lora_ckpt_save(dir, &a, &a, &a, &st, options, &err)) {
		fprintf(stderr, "fuzz_lora_ckpt: setup: %s\n", err.msg);
		exit(1);
	}
	adapter_free(&a);
	adapter_config_free(&cfg);
	const char *out = getenv("FUZZ_SEED_OUT");
	if (out) {
		char p[600], cmd[1400];
		snprintf(p, sizeof p, "%s/%s", dir, LORA_CKPT_STATE_NAME);
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", p, out);
		if (system(cmd) != 0)
			exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (fuzz_put(dir, LORA_CKPT_STATE_NAME, data, size))
		return 0;
	struct adapter lora, m1, m2;
	struct lora_ckpt_state st;
	struct qt_err err;
	if (lora_ckpt_load(dir, &dims, options, &lora, &m1, &m2, &st, &err) == QT_OK) {
		adapter_free(&lora);
		adapter_free(&m1);
		adapter_free(&m2);
	}
	return 0;
}
