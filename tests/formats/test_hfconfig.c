/* qlora-tools: ISC license. */
/* formats/hfconfig: parsing with defaults, rope variants, token id forms, one refusal per
 * check, Python repr() of doubles and the exact config.json text (goldens from
 * tests/ref/hfconfig.py), and write -> parse round trips. */
#include "formats/hfconfig.h"

#include <inttypes.h>
#include <unistd.h>

#include "common/io.h"
#include "test.h"

static const char *tmp_path = "qt_test_hfconfig.json";

static int parse(const char *json, struct hf_config *c, struct qt_err *err)
{
	return hf_config_parse(json, strlen(json), "config.json", c, err);
}

static void test_repr(void)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/hfconfig/repr.txt", test_srcdir());
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	int n = 0, bad = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		uint64_t bits;
		char want[64], got[64];
		if (sscanf(line, "%" SCNx64 " %63s", &bits, want) != 2)
			continue;
		double v;
		memcpy(&v, &bits, 8);
		hf_format_double(v, got, sizeof got);
		if (strcmp(got, want) != 0 && bad++ < 5)
			fprintf(stderr, "repr(%a): got %s, python %s\n", v, got, want);
		n++;
	}
	CHECK(n > 300 && bad == 0, "%d of %d doubles formatted unlike Python repr", bad, n);
	CHECK(hf_f32_shortest(1e-5f) == 1e-5 && hf_f32_shortest(100000.0f) == 100000.0, "f32 shortest");
	free(buf);
}

static const char *smol =
	"{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
	" \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 576,"
	" \"initializer_range\": 0.041666666666666664, \"intermediate_size\": 1536,"
	" \"max_position_embeddings\": 8192, \"mlp_bias\": false, \"model_type\": \"llama\","
	" \"num_attention_heads\": 9, \"num_hidden_layers\": 30, \"num_key_value_heads\": 3,"
	" \"pad_token_id\": 2, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_interleaved\": false,"
	" \"rope_scaling\": null, \"rope_theta\": 100000, \"tie_word_embeddings\": true,"
	" \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.42.3\", \"use_cache\": true,"
	" \"vocab_size\": 49152}";

static void test_parse(void)
{
	struct hf_config c;
	struct qt_err err;
	int st = parse(smol, &c, &err);
	CHECK(st == QT_OK, "smollm2 config: %s", err.msg);
	CHECK(c.hidden_size == 576 && c.intermediate_size == 1536 && c.num_hidden_layers == 30 &&
	      c.num_attention_heads == 9 && c.num_key_value_heads == 3 && c.head_dim == 64 &&
	      c.vocab_size == 49152 && c.max_position_embeddings == 8192, "sizes");
	CHECK(c.rms_norm_eps == 1e-5 && c.rope_theta == 100000.0 && c.tie_word_embeddings &&
	      !c.attention_bias && !c.mlp_bias && c.rope_scaling.type == HF_ROPE_DEFAULT, "scalars");
	CHECK(c.bos.n == 1 && c.bos.id[0] == 1 && c.eos.id[0] == 2 && c.pad.n == 1 &&
	      c.pad.id[0] == 2 && !c.eos.is_list, "ids");
	CHECK(strcmp(c.torch_dtype, "bfloat16") == 0, "dtype");

	/* defaults: LlamaConfig() */
	st = parse("{\"model_type\": \"llama\"}", &c, &err);
	CHECK(st == QT_OK && c.hidden_size == 4096 && c.num_key_value_heads == 32 &&
	      c.head_dim == 128 && c.rms_norm_eps == 1e-6 && c.rope_theta == 10000.0 &&
	      c.vocab_size == 32000 && !c.tie_word_embeddings && c.bos.id[0] == 1 && c.pad.n == 0,
	      "defaults: %s", err.msg);

	/* Llama 3.1: eos list, llama3 rope, explicit head_dim */
	st = parse("{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 2,"
	           " \"head_dim\": 16, \"vocab_size\": 200, \"eos_token_id\": [128, 129, 130],"
	           " \"bos_token_id\": 127, \"pad_token_id\": null,"
	           " \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0,"
	           " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192,"
	           " \"rope_type\": \"llama3\"}, \"rope_theta\": 500000.0}", &c, &err);
	CHECK(st == QT_OK && c.head_dim == 16 && c.eos.n == 3 && c.eos.is_list &&
	      c.eos.id[2] == 130 && c.pad.n == 0 && c.rope_scaling.type == HF_ROPE_LLAMA3 &&
	      c.rope_scaling.factor == 8.0 && c.rope_scaling.high_freq_factor == 4.0 &&
	      c.rope_scaling.original_max_position_embeddings == 8192, "llama3: %s", err.msg);
	/* linear via the old "type" key; transformers 5 rope_parameters */
	st = parse("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}}",
	           &c, &err);
	CHECK(st == QT_OK && c.rope_scaling.type == HF_ROPE_LINEAR && c.rope_scaling.factor == 2,
	      "linear: %s", err.msg);
	st = parse("{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"default\","
	           " \"rope_theta\": 100000.0}}", &c, &err);
	CHECK(st == QT_OK && c.rope_theta == 100000.0 && c.rope_scaling.type == HF_ROPE_DEFAULT,
	      "rope_parameters: %s", err.msg);
	st = parse("{\"model_type\": \"mistral\", \"sliding_window\": 4096}", &c, &err);
	CHECK(st == QT_OK && strcmp(c.architecture, "MistralForCausalLM") == 0 &&
	      c.sliding_window == 4096, "mistral: %s", err.msg);
}

static void test_refusals(void)
{
	static const struct { const char *json, *msg; } cases[] = {
		{ "[1]",                                                   "not a JSON object" },
		{ "{\"model_type\": \"llama\",",                           "config.json:1:" },
		{ "{}",                                                    "model_type: missing" },
		{ "{\"model_type\": \"gpt2\"}",                            "model_type: \"gpt2\" is not supported" },
		{ "{\"model_type\": \"llama\", \"architectures\": [\"LlamaModel\"]}", "architectures: \"LlamaModel\"" },
		{ "{\"model_type\": \"llama\", \"architectures\": \"x\"}", "architectures: expected" },
		{ "{\"model_type\": \"llama\", \"hidden_act\": \"gelu\"}", "hidden_act" },
		{ "{\"model_type\": \"llama\", \"hidden_size\": 0}",       "hidden_size: expected a positive" },
		{ "{\"model_type\": \"llama\", \"hidden_size\": 64.0}",    "hidden_size: expected" },
		{ "{\"model_type\": \"llama\", \"hidden_size\": 100, \"num_attention_heads\": 3}", "head_dim: missing" },
		{ "{\"model_type\": \"llama\", \"num_key_value_heads\": 5}", "num_key_value_heads: 5" },
		{ "{\"model_type\": \"llama\", \"head_dim\": 7}",          "head_dim: 7 is odd" },
		{ "{\"model_type\": \"llama\", \"rms_norm_eps\": \"x\"}",  "rms_norm_eps: expected a number" },
		{ "{\"model_type\": \"llama\", \"rms_norm_eps\": 0}",      "rms_norm_eps: must be > 0" },
		{ "{\"model_type\": \"llama\", \"rope_theta\": -1}",       "rope_theta: must be > 0" },
		{ "{\"model_type\": \"llama\", \"tie_word_embeddings\": 1}", "tie_word_embeddings: expected true" },
		{ "{\"model_type\": \"llama\", \"eos_token_id\": \"2\"}",  "eos_token_id: expected" },
		{ "{\"model_type\": \"llama\", \"eos_token_id\": [1, -2]}", "eos_token_id[1]" },
		{ "{\"model_type\": \"llama\", \"bos_token_id\": 40000}",  "bos_token_id: 40000 is not below" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}", "rope_scaling.rope_type: \"yarn\"" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 4}}", "\"dynamic\" is not supported" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": {\"factor\": 4}}", "rope_scaling.rope_type: missing" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"linear\"}}", "rope_scaling.factor" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}", "llama3 needs" },
		{ "{\"model_type\": \"llama\", \"rope_scaling\": 3}",      "rope_scaling: expected an object" },
		{ "{\"model_type\": \"llama\", \"pretraining_tp\": 2}",    "pretraining_tp" },
		{ "{\"model_type\": \"llama\", \"partial_rotary_factor\": 0.5}", "partial_rotary_factor: 0.5 is not supported" },
		{ "{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1e4, \"partial_rotary_factor\": 0.25}}", "partial_rotary_factor: 0.25" },
	};
	struct hf_config c;
	struct qt_err err;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int st = parse(cases[i].json, &c, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "case %zu (%s): status %d, \"%s\"",
		      i, cases[i].msg, st, st ? err.msg : "");
	}
	CHECK(hf_config_load("/nonexistent/config.json", &c, &err) == QT_ENOINPUT, "missing file");
}

/*
 * The general rule: every key of transformers' Llama/Mistral (tests/data/hfconfig/
 * reference-keys.txt, from tests/ref/hfconfig_keys.py) has a role, and each key whose role is
 * "refused" is refused by parsing or by hf_config_check_compute at a value that changes the
 * math, and accepted at the value that does not.
 */
static void test_keys(void)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/hfconfig/reference-keys.txt", test_srcdir());
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	int n = 0;
	for (char *k = strtok(buf, "\n"); k; k = strtok(NULL, "\n")) {
		if (*k == '#')
			continue;
		n++;
		CHECK(hf_config_key_role(k) != HF_KEY_UNKNOWN, "config key %s: neither implemented, "
		      "refused nor listed as not changing the math (formats/hfconfig_keys.c)", k);
	}
	CHECK(n > 40, "%d reference keys", n);
	free(buf);
	CHECK(hf_config_key_role("rope_interleaved") == HF_KEY_UNKNOWN, "unknown key");

	/* each refused key at a value that changes the math, then at one that does not */
	static const struct { const char *json; int64_t max_seq; int training; const char *msg; } cases[] = {
		{ "\"attention_dropout\": 0.1",          16, 1, "attention_dropout: 0.1 is not supported in training" },
		{ "\"attention_dropout\": 0.1",          16, 0, NULL },   /* gen: eval mode, no dropout */
		{ "\"attention_dropout\": 0.0",          16, 1, NULL },
		{ "\"partial_rotary_factor\": 1.0",      16, 0, NULL },
		{ "\"pretraining_tp\": 1",               16, 0, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char json[256];
		snprintf(json, sizeof json, "{\"model_type\": \"mistral\", %s}", cases[i].json);
		struct hf_config c;
		int st = parse(json, &c, &err);
		if (st == QT_OK)
			st = hf_config_check_compute(&c, "config.json", cases[i].max_seq, "the run",
			                             cases[i].training, &err);
		if (cases[i].msg)
			CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "%s: status %d, \"%s\"",
			      cases[i].json, st, st ? err.msg : "");
		else
			CHECK(st == QT_OK, "%s: %s", cases[i].json, err.msg);
	}
}

/* Biases and sliding windows per family (hf_config_has_bias, hf_config_layer_window), as
 * transformers' LlamaAttention/MLP, MistralAttention and Qwen2Attention/Qwen2Config place them. */
static void test_families(void)
{
	static const struct { const char *json; const char *bias; int64_t win[2]; const char *msg; }
	cases[] = {
		{ "\"model_type\": \"llama\"", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"llama\", \"attention_bias\": true", "1111000", { 0, 0 }, NULL },
		{ "\"model_type\": \"llama\", \"mlp_bias\": true", "0000111", { 0, 0 }, NULL },
		{ "\"model_type\": \"llama\", \"sliding_window\": 8", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"mistral\"", "0000000", { 4096, 4096 }, NULL },
		{ "\"model_type\": \"mistral\", \"sliding_window\": null", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"mistral\", \"sliding_window\": 8", "0000000", { 8, 8 }, NULL },
		{ "\"model_type\": \"qwen2\", \"sliding_window\": 8", "1110000", { 0, 0 }, NULL },
		{ "\"model_type\": \"qwen2\", \"attention_bias\": false", "1110000", { 0, 0 }, NULL },
		{ "\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 8, "
		  "\"max_window_layers\": 1", "1110000", { 0, 8 }, NULL },
		{ "\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 8, "
		  "\"max_window_layers\": 1, \"layer_types\": [\"sliding_attention\", \"full_attention\"]",
		  "1110000", { 8, 0 }, NULL },
		{ "\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 8",
		  "1110000", { 0, 0 }, NULL }, /* max_window_layers 28 */
		{ "\"model_type\": \"qwen2\", \"layer_types\": [\"sliding_attention\", \"full_attention\"]",
		  NULL, { 0, 0 }, "without use_sliding_window" },
		{ "\"model_type\": \"qwen2\", \"layer_types\": [\"full_attention\"]", NULL, { 0, 0 },
		  "layer_types: expected a list of 2 strings" },
		{ "\"model_type\": \"qwen2\", \"layer_types\": [\"full_attention\", \"chunked\"]", NULL,
		  { 0, 0 }, "layer_types[1]: expected" },
		{ "\"model_type\": \"qwen3\"", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"qwen3\", \"attention_bias\": true, \"mlp_bias\": true", "1111000",
		  { 0, 0 }, NULL },
		{ "\"model_type\": \"qwen3\", \"use_sliding_window\": true, \"sliding_window\": 8, "
		  "\"max_window_layers\": 1", "0000000", { 0, 8 }, NULL },
		{ "\"model_type\": \"gemma\"", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"gemma\", \"hidden_act\": \"gelu\", \"attention_bias\": true",
		  "1111000", { 0, 0 }, NULL },
		{ "\"model_type\": \"gemma\", \"hidden_act\": \"silu\"", NULL, { 0, 0 },
		  "hidden_act: only \"gelu_pytorch_tanh\"" },
		{ "\"model_type\": \"gemma\", \"use_bidirectional_attention\": true", NULL, { 0, 0 },
		  "use_bidirectional_attention: only false" },
		{ "\"model_type\": \"llama\", \"hidden_act\": \"gelu_pytorch_tanh\"", NULL, { 0, 0 },
		  "hidden_act: only \"silu\"" },
		{ "\"model_type\": \"gemma2\"", "0000000", { 4096, 0 }, NULL },
		{ "\"model_type\": \"gemma2\", \"sliding_window\": 8, \"attention_bias\": true, "
		  "\"layer_types\": [\"full_attention\", \"sliding_attention\"]", "1111000", { 0, 8 }, NULL },
		{ "\"model_type\": \"gemma2\", \"hidden_act\": \"silu\"", "0000000", { 4096, 0 },
		  NULL }, /* Gemma2MLP reads hidden_activation only */
		{ "\"model_type\": \"gemma2\", \"hidden_activation\": \"gelu\"", NULL, { 0, 0 },
		  "hidden_activation: only \"gelu_pytorch_tanh\"" },
		{ "\"model_type\": \"gemma2\", \"query_pre_attn_scalar\": 0", NULL, { 0, 0 },
		  "query_pre_attn_scalar must be > 0" },
		{ "\"model_type\": \"gemma2\", \"final_logit_softcapping\": -1", NULL, { 0, 0 },
		  "soft caps >= 0" },
		{ "\"model_type\": \"phi3\", \"attention_bias\": true", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"phi3\", \"sliding_window\": 2047", "0000000", { 2047, 2047 }, NULL },
		{ "\"model_type\": \"phi3\", \"rope_scaling\": {\"type\": \"longrope\", "
		  "\"short_factor\": [1.0], \"long_factor\": [1.0]}", NULL, { 0, 0 },
		  "\"longrope\" is not supported" },
		{ "\"model_type\": \"phi3\", \"rope_parameters\": {\"rope_type\": \"default\", "
		  "\"rope_theta\": 10000.0, \"partial_rotary_factor\": 0.75}", "0000000", { 0, 0 },
		  NULL }, /* 12 of 16 dims rotate */
		{ "\"model_type\": \"phi3\", \"partial_rotary_factor\": 0.5625", NULL, { 0, 0 },
		  "0.5625 does not give an even number of rotary dims" },
		{ "\"model_type\": \"qwen2\", \"partial_rotary_factor\": 0.5", NULL, { 0, 0 },
		  "0.5 is not supported for qwen2" },
		{ "\"model_type\": \"glm\"", "1110000", { 0, 0 }, NULL },
		{ "\"model_type\": \"glm4\", \"attention_bias\": false", "0000000", { 0, 0 }, NULL },
		{ "\"model_type\": \"gpt_neox\"", NULL, { 0, 0 }, "\"gpt_neox\" is not supported" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char json[512];
		snprintf(json, sizeof json, "{%s, \"num_hidden_layers\": 2, \"hidden_size\": 64, "
		         "\"num_attention_heads\": 4, \"num_key_value_heads\": 2}", cases[i].json);
		struct hf_config c;
		struct qt_err err = { 0 };
		int st = parse(json, &c, &err);
		if (cases[i].msg) {
			CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "%s: status %d, \"%s\"",
			      cases[i].json, st, st ? err.msg : "");
			continue;
		}
		CHECK(st == QT_OK, "%s: %s", cases[i].json, err.msg);
		if (st != QT_OK)
			continue;
		for (int k = 0; k < 7; k++)
			CHECK(hf_config_has_bias(&c, k) == (cases[i].bias[k] == '1'), "%s: module %d bias",
			      cases[i].json, k);
		for (int l = 0; l < 2; l++)
			CHECK(hf_config_layer_window(&c, l) == cases[i].win[l], "%s: layer %d window %lld",
			      cases[i].json, l, (long long)hf_config_layer_window(&c, l));
	}
}

/* Phi-3: fused projections, and resid_pdrop refused in training only. */
static void test_phi3(void)
{
	struct hf_config c;
	struct qt_err err = { 0 };
	CHECK(parse("{\"model_type\": \"phi3\", \"resid_pdrop\": 0.1}", &c, &err) == QT_OK, "%s",
	      err.msg);
	CHECK(hf_config_fused(&c) && c.vocab_size == 32064 && c.eos.id[0] == 32000 &&
	      c.sliding_window == 0, "phi3 defaults");
	CHECK(hf_config_check_compute(&c, "c", 0, NULL, 0, &err) == QT_OK, "resid_pdrop in gen");
	CHECK(hf_config_check_compute(&c, "c", 0, NULL, 1, &err) == QT_EDATA &&
	      strstr(err.msg, "resid_pdrop: 0.1 is not supported in training"), "%s", err.msg);
	CHECK(parse("{\"model_type\": \"llama\"}", &c, &err) == QT_OK && !hf_config_fused(&c),
	      "llama is not fused");
}

/* Gemma-2's scale and soft caps: Gemma2Config's defaults, values, and null for no cap. */
static void test_gemma2_caps(void)
{
	struct hf_config c;
	struct qt_err err = { 0 };
	CHECK(parse("{\"model_type\": \"gemma2\"}", &c, &err) == QT_OK, "%s", err.msg);
	CHECK(c.query_pre_attn_scalar == 256 && c.attn_logit_softcapping == 50 &&
	      c.final_logit_softcapping == 30 && c.num_key_value_heads == 4 && c.head_dim == 256 &&
	      hf_config_norm_names(&c).attn_out && hf_config_norm_plus_one(&c),
	      "gemma2 defaults: %g %g %g kv %lld", c.query_pre_attn_scalar,
	      c.attn_logit_softcapping, c.final_logit_softcapping, (long long)c.num_key_value_heads);
	CHECK(parse("{\"model_type\": \"gemma2\", \"query_pre_attn_scalar\": 24, "
	            "\"attn_logit_softcapping\": null, \"final_logit_softcapping\": 3.5}", &c,
	            &err) == QT_OK, "%s", err.msg);
	CHECK(c.query_pre_attn_scalar == 24 && c.attn_logit_softcapping == 0 &&
	      c.final_logit_softcapping == 3.5, "gemma2 values: %g %g %g", c.query_pre_attn_scalar,
	      c.attn_logit_softcapping, c.final_logit_softcapping);
	CHECK(parse("{\"model_type\": \"gemma\"}", &c, &err) == QT_OK && !c.query_pre_attn_scalar &&
	      !c.attn_logit_softcapping && !c.final_logit_softcapping &&
	      !hf_config_norm_names(&c).attn_out, "gemma has none of them");
}

static void test_write(void)
{
	struct hf_config c;
	struct qt_err err;
	parse(smol, &c, &err);
	c.initializer_range = 0.02;
	CHECK(hf_config_write(tmp_path, &c, &err) == QT_OK, "write: %s", err.msg);
	char *got, *want, path[4096];
	size_t lg, lw;
	snprintf(path, sizeof path, "%s/data/hfconfig/smollm2_config.json", test_srcdir());
	qt_read_file(tmp_path, &got, &lg, &err);
	if (qt_read_file(path, &want, &lw, &err) == QT_OK) {
		CHECK(lg == lw && memcmp(got, want, lg) == 0, "config.json text differs from Python's:\n%s",
		      got);
		free(want);
	}
	free(got);
	/* round trips, including lists and the rope variants */
	struct hf_config d, e;
	parse("{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4,"
	      " \"num_key_value_heads\": 2, \"vocab_size\": 300, \"eos_token_id\": [5, 6],"
	      " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
	      " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}}", &d, &err);
	hf_config_write(tmp_path, &d, &err);
	int st = hf_config_load(tmp_path, &e, &err);
	CHECK(st == QT_OK && memcmp(&d, &e, sizeof d) == 0, "llama3 round trip: %s", err.msg);
	parse("{\"model_type\": \"mistral\", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.5}}",
	      &d, &err);
	hf_config_write(tmp_path, &d, &err);
	st = hf_config_load(tmp_path, &e, &err);
	CHECK(st == QT_OK && memcmp(&d, &e, sizeof d) == 0, "linear round trip: %s", err.msg);

	struct hf_token_ids bos = { .n = 1, .id = { 1 } }, eos = { .n = 2, .is_list = 1, .id = { 2, 3 } },
	                    pad = { 0 };
	CHECK(hf_genconfig_write(tmp_path, &bos, &eos, &pad, &err) == QT_OK, "genconfig");
	qt_read_file(tmp_path, &got, &lg, &err);
	CHECK(strcmp(got, "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": [\n    2,\n    3\n  ]\n}\n") == 0,
	      "generation_config.json text:\n%s", got);
	free(got);
	unlink(tmp_path);
}

int main(void)
{
	test_in_tmpdir();
	test_repr();
	test_parse();
	test_refusals();
	test_keys();
	test_families();
	test_gemma2_caps();
	test_phi3();
	test_write();
	return test_main_end();
}
