/* qlora-tools: ISC license. */
/* formats/modeldir: the tiny Llama fixtures of tests/ref/llama_golden.py and lora.py open and
 * check; tied lm_head resolves; f32 access; missing pieces and wrong shapes are refused. */
#include "formats/model_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static void path(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/data/%s", test_srcdir(), rel);
}

static void copy(const char *from, const char *to)
{
	char *b;
	size_t n;
	struct qt_err err;
	if (qt_read_file(from, &b, &n, &err) != QT_OK)
		return;
	FILE *fp = fopen(to, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
	free(b);
}

int main(void)
{
	char p[4096], q[4096];
	struct model_dir m;
	struct qt_err err;

	path(p, sizeof p, "llama/tiny");
	int st = model_dir_open(&m, p, MODEL_DIR_NO_TOKENIZER, &err);
	CHECK(st == QT_OK, "tiny: %s", err.msg);
	if (st == QT_OK) {
		CHECK(m.config.hidden_size == 64 && m.config.tie_word_embeddings, "config");
		const struct st_tensor *e = model_dir_tensor(&m, "model.embed_tokens.weight");
		CHECK(e && model_dir_tensor(&m, "lm_head.weight") == e, "tied lm_head");
		float *buf = malloc(e->n_elem * sizeof *buf);
		CHECK(model_dir_tensor_f32(&m, "model.embed_tokens.weight", buf, e->n_elem, &err) ==
		      QT_OK && memcmp(buf, e->data, 4) == 0, "f32 copy");
		CHECK(model_dir_tensor_f32(&m, "model.embed_tokens.weight", buf, 3, &err) == QT_EDATA,
		      "wrong n");
		CHECK(model_dir_tensor_f32(&m, "nope", buf, 3, &err) == QT_EDATA, "missing tensor");
		free(buf);
		CHECK(m.generation_config_path && !m.tokenizer_config_path, "aux paths");
		model_dir_close(&m);
	}
	path(p, sizeof p, "llama/tiny");
	st = model_dir_open(&m, p, 0, &err);
	CHECK(st == QT_ENOINPUT && strstr(err.msg, "tokenizer.json"), "no tokenizer: %s", err.msg);

	path(p, sizeof p, "llama/tiny-untied-llama3");
	st = model_dir_open(&m, p, MODEL_DIR_NO_TOKENIZER, &err);
	CHECK(st == QT_OK && !m.config.tie_word_embeddings &&
	      m.config.rope_scaling.type == HF_ROPE_LLAMA3 && m.config.rope_theta == 500000.0 &&
	      model_dir_tensor(&m, "lm_head.weight") != model_dir_tensor(&m, "model.embed_tokens.weight"),
	      "untied llama3: %s", err.msg);
	if (st == QT_OK)
		model_dir_close(&m);

	path(p, sizeof p, "lora/base");
	st = model_dir_open(&m, p, 0, &err);
	CHECK(st == QT_OK && m.tokenizer_path && m.tokenizer_config_path, "lora base: %s", err.msg);
	if (st == QT_OK) {
		char dir[] = "/tmp/qt_test_md_XXXXXX";
		mkdtemp(dir);
		CHECK(model_dir_copy_aux(&m, dir, &err) == QT_OK, "copy aux: %s", err.msg);
		snprintf(q, sizeof q, "%s/tokenizer.json", dir);
		CHECK(access(q, F_OK) == 0, "tokenizer copied");
		/* a config that does not match the weights: refuse with the tensor's name */
		snprintf(q, sizeof q, "%s/model.safetensors", dir);
		snprintf(p, sizeof p, "%s/model.safetensors", m.path);
		copy(p, q);
		snprintf(q, sizeof q, "%s/config.json", dir);
		FILE *fp = fopen(q, "w");
		fprintf(fp, "{\"model_type\": \"llama\", \"hidden_size\": %lld, \"intermediate_size\": %lld,"
		        " \"num_hidden_layers\": %lld, \"num_attention_heads\": %lld,"
		        " \"num_key_value_heads\": %lld, \"vocab_size\": %lld, \"tie_word_embeddings\": %s}",
		        (long long)m.config.hidden_size, (long long)m.config.intermediate_size + 2,
		        (long long)m.config.num_hidden_layers, (long long)m.config.num_attention_heads,
		        (long long)m.config.num_key_value_heads, (long long)m.config.vocab_size,
		        m.config.tie_word_embeddings ? "true" : "false");
		fclose(fp);
		struct model_dir m2;
		st = model_dir_open(&m2, dir, 0, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, "gate_proj.weight: shape"), "shape: %s", err.msg);
		fp = fopen(q, "w");
		fprintf(fp, "{\"model_type\": \"llama\", \"num_hidden_layers\": 99, \"hidden_size\": %lld,"
		        " \"num_attention_heads\": %lld, \"vocab_size\": %lld, \"intermediate_size\": %lld,"
		        " \"num_key_value_heads\": %lld, \"tie_word_embeddings\": %s}",
		        (long long)m.config.hidden_size, (long long)m.config.num_attention_heads,
		        (long long)m.config.vocab_size, (long long)m.config.intermediate_size,
		        (long long)m.config.num_key_value_heads, m.config.tie_word_embeddings ? "true" : "false");
		fclose(fp);
		st = model_dir_open(&m2, dir, 0, &err);
		CHECK(st == QT_EDATA && strstr(err.msg, "missing"), "missing tensor: %s", err.msg);
		st = model_dir_open(&m2, dir, MODEL_DIR_NO_TENSOR_CHECK, &err);
		CHECK(st == QT_OK, "no check: %s", err.msg);
		if (st == QT_OK)
			model_dir_close(&m2);
		unlink(q);
		st = model_dir_open(&m2, dir, 0, &err);
		CHECK(st == QT_ENOINPUT && strstr(err.msg, "config.json"), "no config: %s", err.msg);
		snprintf(q, sizeof q, "rm -rf %s", dir);
		CHECK(system(q) == 0, "cleanup");
		model_dir_close(&m);
	}
	st = model_dir_open(&m, "/nonexistent", 0, &err);
	CHECK(st == QT_ENOINPUT, "missing dir");
	return test_main_end();
}
