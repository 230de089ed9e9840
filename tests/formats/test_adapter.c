/* qlora-tools: ISC license. */
/*
 * formats/adapter: PEFT-written adapters (tests/ref/lora.py) load with exactly PEFT's tensors,
 * ranks and scalings; save -> load round trips; config refusals name their field; target
 * selection follows PEFT's rules. With QT_ADAPTER_WRITE_DIR set, the adapters this module
 * writes are left there for tests/ref/lora_check.py (PEFT loads them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/half.h"
#include "common/io.h"
#include "formats/adapter.h"
#include "test.h"

static const struct adapter_dims tiny = { 2, 64, 128, 64, 32, 0 };

static char *data_path(const char *name)
{
	char *d = qt_path_join(test_srcdir(), "data/lora");
	char *p = qt_path_join(d, name);
	free(d);
	return p;
}

/* Compares every pair of a with name.expect.bin (PEFT's in-memory tensors). */
static void check_expect(const struct adapter *a, const char *name)
{
	char fn[128];
	snprintf(fn, sizeof fn, "%s.expect.bin", name);
	char *p = data_path(fn), *buf;
	size_t len;
	struct qt_err err;
	int st = qt_read_file(p, &buf, &len, &err);
	CHECK(st == 0, "%s", err.msg);
	free(p);
	if (st)
		return;
	CHECK(len >= 12 && memcmp(buf, "QTLORAX1", 8) == 0, "%s: bad golden", name);
	uint32_t n;
	memcpy(&n, buf + 8, 4);
	size_t off = 12, seen = 0;
	int tensors_equal = 1, meta_ok = 1;
	for (uint32_t i = 0; i < n && off + 24 <= len; i++) {
		uint32_t h[5];
		float s;
		memcpy(h, buf + off, 20);
		memcpy(&s, buf + off + 20, 4);
		off += 24;
		const struct lora_pair *q = adapter_at(a, (int)h[0], (int)h[1]);
		size_t na = (size_t)h[2] * h[3], nb = (size_t)h[4] * h[2];
		if (q->r != (int)h[2] || q->in != (int)h[3] || q->out != (int)h[4] || q->scaling != s) {
			meta_ok = 0;
			fprintf(stderr, "%s: layer %u module %u: r %d/%u in %d/%u out %d/%u scaling %g/%g\n",
			        name, h[0], h[1], q->r, h[2], q->in, h[3], q->out, h[4], q->scaling, s);
		} else {
			tensors_equal &= memcmp(q->A, buf + off, na * 4) == 0;
			tensors_equal &= memcmp(q->B, buf + off + na * 4, nb * 4) == 0;
		}
		off += (na + nb) * 4;
		seen++;
	}
	size_t pairs = 0;
	for (int l = 0; l < a->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++)
			pairs += adapter_at(a, l, m)->r > 0;
	CHECK(meta_ok, "%s: ranks, shapes and scalings equal PEFT's", name);
	CHECK(tensors_equal, "%s: A and B bit-identical to PEFT's", name);
	CHECK(seen == n && off == len && pairs == n, "%s: %zu pairs, PEFT has %u", name, pairs, n);
	free(buf);
}

static int load(struct adapter *a, const char *name, const struct adapter_dims *d)
{
	char *p = data_path(name);
	struct qt_err err;
	int st = adapter_load(a, p, d, &err);
	CHECK(st == 0, "load %s: %s", name, st ? err.msg : "");
	free(p);
	return st;
}

static int same_adapter(const struct adapter *x, const struct adapter *y)
{
	if (memcmp(&x->dims, &y->dims, sizeof x->dims) != 0)
		return 0;
	for (int l = 0; l < x->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(x, l, m), *q = adapter_at(y, l, m);
			if (p->r != q->r || p->in != q->in || p->out != q->out || p->scaling != q->scaling ||
			    p->alpha != q->alpha)
				return 0;
			if (p->r && (memcmp(p->A, q->A, (size_t)p->r * p->in * 4) ||
			             memcmp(p->B, q->B, (size_t)p->r * p->out * 4)))
				return 0;
		}
	return 1;
}

static void test_peft_adapters(void)
{
	struct adapter a;
	if (load(&a, "peft-r8", &tiny) == 0) {
		check_expect(&a, "peft-r8");
		CHECK(a.cfg.r == 8 && a.cfg.lora_alpha == 16 && a.cfg.lora_dropout == 0.05 &&
		      !a.cfg.use_rslora, "r8 config fields");
		CHECK(a.cfg.n_target_names == 14 && !a.cfg.base_model_name_or_path &&
		      a.cfg.task_type && !strcmp(a.cfg.task_type, "CAUSAL_LM"), "r8 targets, names");
		CHECK(adapter_at(&a, 1, ADAPTER_DOWN)->scaling == 2.0f, "alpha/r");
		CHECK(adapter_n_params(&a) == 2 * 8 * (size_t)(64 + 64 + 64 + 32 + 64 + 32 + 64 + 64 +
		      64 + 128 + 64 + 128 + 128 + 64), "parameter count %zu", adapter_n_params(&a));
		adapter_free(&a);
	}
	if (load(&a, "peft-rs", &tiny) == 0) {
		check_expect(&a, "peft-rs");
		CHECK(a.cfg.use_rslora && adapter_at(&a, 0, ADAPTER_Q)->scaling == 4.0f, "rsLoRA alpha/sqrt(r)");
		CHECK(adapter_at(&a, 0, ADAPTER_K)->r == 0, "k not adapted");
		adapter_free(&a);
	}
	if (load(&a, "peft-p2", &tiny) == 0) {
		check_expect(&a, "peft-p2");
		CHECK(adapter_at(&a, 0, ADAPTER_DOWN)->r == 6 && adapter_at(&a, 1, ADAPTER_Q)->alpha == 5,
		      "rank_pattern / alpha_pattern");
		adapter_free(&a);
	}
	/* dims inferred from the tensors when no base is given */
	if (load(&a, "peft-r8", NULL) == 0) {
		CHECK(memcmp(&a.dims, &tiny, sizeof tiny) == 0, "inferred dims %d %d %d %d %d",
		      a.dims.n_layers, a.dims.hidden, a.dims.intermediate, a.dims.q_dim, a.dims.kv_dim);
		adapter_free(&a);
	}
}

/* Writes name with adapter_save into dir (dtype), reloads, compares. */
static void roundtrip(const char *name, const char *dir, enum qt_dtype dt)
{
	struct adapter a, b;
	struct qt_err err;
	if (load(&a, name, &tiny))
		return;
	int st = adapter_save(&a, dir, dt, &err);
	CHECK(st == 0, "save %s: %s", name, st ? err.msg : "");
	if (st == 0 && (st = adapter_load(&b, dir, &tiny, &err)) == 0) {
		if (dt == QT_DTYPE_BF16)  /* what the reloaded values must be */
			for (int l = 0; l < a.dims.n_layers; l++)
				for (int m = 0; m < ADAPTER_N_MODULES; m++) {
					struct lora_pair *p = adapter_at(&a, l, m);
					for (size_t i = 0; i < (size_t)p->r * p->in; i++)
						p->A[i] = qt_bf16_to_f32(qt_f32_to_bf16(p->A[i]));
					for (size_t i = 0; i < (size_t)p->r * p->out; i++)
						p->B[i] = qt_bf16_to_f32(qt_f32_to_bf16(p->B[i]));
				}
		CHECK(same_adapter(&a, &b), "%s: save (%s) -> load is identical", name,
		      qt_dtype_name(dt));
		CHECK(a.cfg.r == b.cfg.r && a.cfg.lora_alpha == b.cfg.lora_alpha &&
		      a.cfg.lora_dropout == b.cfg.lora_dropout && a.cfg.use_rslora == b.cfg.use_rslora,
		      "%s: config round trip", name);
		adapter_free(&b);
	} else if (st) {
		CHECK(0, "reload %s: %s", name, err.msg);
	}
	adapter_free(&a);
}

static void test_roundtrip(void)
{
	char tmpl[] = "/tmp/qt_adapter.XXXXXX";
	const char *keep = getenv("QT_ADAPTER_WRITE_DIR");
	char *top = keep ? NULL : mkdtemp(tmpl);
	const char *base = keep ? keep : top;
	CHECK(base != NULL, "temp dir");
	if (!base)
		return;
	const char *names[] = { "peft-r8", "peft-rs", "peft-p2" };
	for (int i = 0; i < 3; i++) {
		char d[512];
		snprintf(d, sizeof d, "%s/ours-%s", base, names[i] + 5);
		roundtrip(names[i], d, QT_DTYPE_F32);
		snprintf(d, sizeof d, "%s/ours-%s-bf16", base, names[i] + 5);
		roundtrip(names[i], d, QT_DTYPE_BF16);
	}
	/* short names when every layer adapts the same modules */
	struct adapter a;
	if (load(&a, "peft-rs", &tiny) == 0) {
		char *j = adapter_config_dump(&a);
		CHECK(j && strstr(j, "\"target_modules\": [\n    \"q_proj\",\n    \"v_proj\",\n"
		                     "    \"down_proj\"\n  ]"), "short target names:\n%s", j ? j : "(null)");
		CHECK(j && strstr(j, "\"lora_alpha\": 8,") && strstr(j, "\"lora_dropout\": 0.0,") &&
		      strstr(j, "\"use_rslora\": true") && j[strlen(j) - 1] == '}', "dump fields");
		free(j);
		adapter_free(&a);
	}
	if (top) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
		CHECK(system(cmd) == 0, "cleanup");
	}
}

static int parse(const char *json, struct adapter_config *c, struct qt_err *err)
{
	return adapter_config_parse(c, json, strlen(json), "cfg.json", err);
}

static void test_refusals(void)
{
	static const struct {
		const char *json, *frag;
	} bad[] = {
		{ "{\"peft_type\": \"PREFIX_TUNING\"}", "PREFIX_TUNING needs num_virtual_tokens" },
		{ "{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 8, "
		  "\"num_layers\": 2, \"prefix_projection\": true, \"encoder_hidden_size\": 0}",
		  "encoder_hidden_size is not a positive integer" },
		{ "{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 8, "
		  "\"num_layers\": 2, \"num_transformer_submodules\": 2}", "only decoder-only" },
		{ "{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 8, "
		  "\"num_layers\": 2, \"qlora_tools_prefix_positions\": 4}",
		  "qlora_tools_prefix_positions is not 0" },
		{ "{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 8, "
		  "\"num_layers\": 2, \"qlora_tools_prefix_positions\": \"0\"}",
		  "qlora_tools_prefix_positions is not 0" },
		{ "{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": -1}",
		  "num_virtual_tokens is not a positive integer" },
		{ "{\"peft_type\": \"IA3\"}", "peft_type \"IA3\" is not supported" },
		{ "{\"r\": 8}", "peft_type missing" },
		{ "{\"peft_type\": \"LORA\", \"use_dora\": true}", "use_dora is set: DoRA" },
		{ "{\"peft_type\": \"LORA\", \"bias\": \"all\"}", "bias is not \"none\"" },
		{ "{\"peft_type\": \"LORA\", \"lora_bias\": true}", "lora_bias is set" },
		{ "{\"peft_type\": \"LORA\", \"modules_to_save\": [\"lm_head\"]}", "modules_to_save" },
		{ "{\"peft_type\": \"LORA\", \"fan_in_fan_out\": true}", "fan_in_fan_out" },
		{ "{\"peft_type\": \"LORA\", \"layers_pattern\": \"h\"}", "layers_pattern" },
		{ "{\"peft_type\": \"LORA\", \"r\": 0}", "r is not a positive" },
		{ "{\"peft_type\": \"LORA\", \"lora_alpha\": \"16\"}", "lora_alpha" },
		{ "{\"peft_type\": \"LORA\", \"target_modules\": 3}", "target_modules" },
		{ "{\"peft_type\": \"LORA\", \"rank_pattern\": {\"q\": 1.5}}", "rank_pattern[\"q\"]" },
		{ "{\"peft_type\": \"LORA\", \"r\": 1, \"r\": 2}", "cfg.json:1:" },
		{ "[1]", "not a JSON object" },
	};
	struct adapter_config c;
	struct qt_err err;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = parse(bad[i].json, &c, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, bad[i].frag), "%s -> %s", bad[i].json,
		      st ? err.msg : "accepted");
		if (!st)
			adapter_config_free(&c);
	}
	/* a bad regular expression is reported when it is used */
	if (parse("{\"peft_type\": \"LORA\", \"target_modules\": \"(q\"}", &c, &err) == 0) {
		CHECK(adapter_config_targets(&c, &(struct adapter_dims){ 0 }, 0, 0, &err) < 0 && strstr(err.msg, "target_modules"),
		      "bad regex: %s", err.msg);
		adapter_config_free(&c);
	}
}

static void test_targets(void)
{
	struct adapter_config c;
	struct qt_err err;
	const char *cases[] = {
		/* json, then expected mask of layer 0 and of layer 1 */
		"{\"peft_type\": \"LORA\"}",                                             "\x05\x05",
		"{\"peft_type\": \"LORA\", \"target_modules\": \"all-linear\"}",         "\x7f\x7f",
		"{\"peft_type\": \"LORA\", \"target_modules\": \".*\\\\.1\\\\..*(q|v)_proj\"}", "\x00\x05",
		"{\"peft_type\": \"LORA\", \"target_modules\": [\"proj\"]}",             "\x00\x00",
		"{\"peft_type\": \"LORA\", \"target_modules\": [\"mlp.up_proj\", \"model.layers.0.self_attn.k_proj\"]}", "\x22\x20",
		"{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\", \"o_proj\"], \"layers_to_transform\": 1}", "\x00\x09",
		"{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\", \"o_proj\"], \"layers_to_transform\": [0], \"layers_pattern\": \"layers\"}", "\x09\x00",
		"{\"peft_type\": \"LORA\", \"target_modules\": \"all-linear\", \"exclude_modules\": [\"mlp.down_proj\", \"model.layers.1.self_attn.q_proj\"]}", "\x3f\x3e",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i += 2) {
		int st = parse(cases[i], &c, &err);
		CHECK(st == 0, "%s: %s", cases[i], st ? err.msg : "");
		if (st)
			continue;
		for (int l = 0; l < 2; l++) {
			unsigned mask = 0;
			for (int m = 0; m < ADAPTER_N_MODULES; m++)
				mask |= (unsigned)(adapter_config_targets(&c, &(struct adapter_dims){ 0 }, l, m, &err) == 1) << m;
			CHECK(mask == (unsigned char)cases[i + 1][l], "%s layer %d: mask %#x, want %#x",
			      cases[i], l, mask, (unsigned char)cases[i + 1][l]);
		}
		adapter_config_free(&c);
	}
	/* rank_pattern: the first matching key wins; keys match whole dotted suffixes */
	const char *pj = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"rank_pattern\": "
	                 "{\"layers.1.mlp.down_proj\": 2, \"down_proj\": 6, \"_proj\": 9}, "
	                 "\"alpha_pattern\": {\"q_pro\": 1, \"self_attn.q_proj\": 3.5}}";
	if (parse(pj, &c, &err) == 0) {
		int r;
		double al;
		adapter_config_rank_alpha(&c, &(struct adapter_dims){ 0 }, 1, ADAPTER_DOWN, &r, &al, &err);
		CHECK(r == 2 && al == 8, "layer 1 down: r %d alpha %g", r, al);
		adapter_config_rank_alpha(&c, &(struct adapter_dims){ 0 }, 0, ADAPTER_DOWN, &r, &al, &err);
		CHECK(r == 6, "layer 0 down: r %d", r);
		adapter_config_rank_alpha(&c, &(struct adapter_dims){ 0 }, 0, ADAPTER_Q, &r, &al, &err);
		CHECK(r == 4 && al == 3.5, "q: r %d alpha %g (\"_proj\" is not a dotted suffix)", r, al);
		adapter_config_free(&c);
	}
}

static void test_load_errors(void)
{
	struct adapter a;
	struct qt_err err;
	struct adapter_dims d = tiny;
	char *p = data_path("peft-r8");
	d.hidden = 32;
	int st = adapter_load(&a, p, &d, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "the base model wants"), "hidden 32: %s", err.msg);
	d = tiny;
	d.n_layers = 1;
	st = adapter_load(&a, p, &d, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "layer 1, but the base model has 1"), "%s", err.msg);
	d = tiny;
	d.kv_dim = 64;
	st = adapter_load(&a, p, &d, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "k_proj"), "kv 64: %s", err.msg);
	free(p);
	p = data_path("missing-dir");
	st = adapter_load(&a, p, &tiny, &err);
	CHECK(st == QT_ENOINPUT, "missing dir: %d %s", st, err.msg);
	free(p);
}

/* qlora_tools_prefix_positions: 0 read as positions from 0 (the model's table says so), written
 * back only then; absent or null: after the prefix. */
static void test_prefix_positions(void)
{
	static const char *const js[] = {
		"{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 64, "
		"\"num_layers\": 2, \"qlora_tools_prefix_positions\": 0}",
		"{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 4, \"token_dim\": 64, "
		"\"num_layers\": 2, \"qlora_tools_prefix_positions\": null}",
	};
	for (int i = 0; i < 2; i++) {
		struct adapter_config c;
		struct adapter a;
		struct qt_err err;
		struct lora_table t;
		if (parse(js[i], &c, &err) != QT_OK) {
			CHECK(0, "%s", err.msg);
			continue;
		}
		CHECK(c.prefix_pos0 == !i, "case %d: prefix_pos0 %d", i, c.prefix_pos0);
		if (adapter_init_prefix(&a, 4, &tiny, 2, &err) != QT_OK) {
			CHECK(0, "%s", err.msg);
			adapter_config_free(&c);
			continue;
		}
		a.cfg.prefix_pos0 = c.prefix_pos0;
		CHECK(adapter_table(&a, &t)->prefix_pos0 == !i, "case %d: the table's prefix_pos0", i);
		char *j = adapter_config_dump(&a);
		CHECK(j && !!strstr(j, "\"qlora_tools_prefix_positions\": 0") == !i, "case %d: %s", i,
		      j ? j : "NULL");
		free(j);
		adapter_free(&a);
		adapter_config_free(&c);
	}
}

static void test_init(void)
{
	struct adapter_config c;
	struct adapter a;
	struct qt_err err;
	if (parse("{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"target_modules\": "
	          "[\"q_proj\", \"down_proj\"], \"use_rslora\": true}", &c, &err))
		return;
	int st = adapter_init(&a, &c, &tiny, &err);
	adapter_config_free(&c);
	CHECK(st == 0, "init: %s", st ? err.msg : "");
	if (st)
		return;
	const struct lora_pair *q = adapter_at(&a, 1, ADAPTER_Q), *dn = adapter_at(&a, 0, ADAPTER_DOWN);
	CHECK(q->r == 4 && q->in == 64 && q->out == 64 && q->scaling == 8.0f && q->A && q->B[255] == 0,
	      "q pair");
	CHECK(dn->in == 128 && dn->out == 64 && adapter_at(&a, 0, ADAPTER_K)->r == 0, "down pair");
	CHECK(adapter_n_params(&a) == 2 * 4 * (size_t)(128 + 192), "params %zu", adapter_n_params(&a));
	adapter_free(&a);
}

int main(void)
{
	test_peft_adapters();
	test_roundtrip();
	test_refusals();
	test_targets();
	test_load_errors();
	test_init();
	test_prefix_positions();
	return test_main_end();
}
