/* qlora-tools: ISC license. */
/*
 * jobs/gguf_import on tests/data/gguf/tiny-llama.gguf (tests/ref/tiny_gguf.py): the f32
 * import equals gguf-py's dequantization with the Q/K permutation undone, bit for bit; bf16
 * and f16 imports are those values rounded to nearest even; the directory opens as a model
 * dir; a failed import leaves nothing behind.
 */
#include "jobs/import_gguf.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/half.h"
#include "common/le.h"
#include "formats/model_dir.h"
#include "test.h"

static int exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

static void check_dtype(const char *gg, const struct st_file *ex, enum qt_dtype dt)
{
	char dir[] = "/tmp/qt_test_import_XXXXXX";
	mkdtemp(dir);
	char out[128];
	snprintf(out, sizeof out, "%s/model", dir);
	struct gguf_import_opts o = { .input = gg, .outdir = out, .dtype = dt };
	struct gguf_import_stats stats;
	struct qt_err err;
	int st = gguf_import_dir(&o, &stats, &err);
	CHECK(st == QT_OK, "import %s: %s", qt_dtype_name(dt), err.msg);
	if (st != QT_OK)
		return;
	CHECK(stats.n_tensors == ex->n_tensors && stats.tied, "stats");
	struct model_dir m;
	st = model_dir_open(&m, out, 0, &err);
	CHECK(st == QT_OK, "model dir: %s", err.msg);
	if (st == QT_OK) {
		CHECK(m.config.hidden_size == 64 && m.config.num_key_value_heads == 2 &&
		      m.config.rms_norm_eps == 1e-5 && m.config.bos.id[0] == 1 && m.config.pad.id[0] == 2,
		      "config");
		size_t bad = 0;
		for (size_t i = 0; i < ex->n_tensors; i++) {
			const struct st_tensor *e = &ex->tensors[i], *t = model_dir_tensor(&m, e->name);
			if (!t || t->dtype != dt || t->n_elem != e->n_elem || t->shape[0] != e->shape[0]) {
				bad++;
				continue;
			}
			for (uint64_t k = 0; k < e->n_elem; k++) {
				float v = lef32_load((const uint8_t *)e->data + 4 * k);
				const uint8_t *p = (const uint8_t *)t->data;
				int same = dt == QT_DTYPE_F32 ? le32_load(p + 4 * k) == qt_f32_bits(v) :
				           dt == QT_DTYPE_BF16 ? le16_load(p + 2 * k) == qt_f32_to_bf16(v) :
				                                 le16_load(p + 2 * k) == qt_f32_to_f16(v);
				if (!same) {
					if (bad++ < 3)
						fprintf(stderr, "%s[%llu] differs\n", e->name, (unsigned long long)k);
					break;
				}
			}
		}
		CHECK(bad == 0, "%s: %zu tensors differ from gguf-py", qt_dtype_name(dt), bad);
		model_dir_close(&m);
	}
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_in_tmpdir();
	char gg[4096], exp[4096];
	struct qt_err err;
	struct st_file ex;
	snprintf(gg, sizeof gg, "%s/data/gguf/tiny-llama.gguf", test_srcdir());
	snprintf(exp, sizeof exp, "%s/data/gguf/tiny-llama.expected.safetensors", test_srcdir());
	int st = st_open(&ex, exp, &err);
	CHECK(st == QT_OK, "%s", err.msg);
	if (st != QT_OK)
		return test_main_end();
	check_dtype(gg, &ex, QT_DTYPE_F32);
	check_dtype(gg, &ex, QT_DTYPE_BF16);
	check_dtype(gg, &ex, QT_DTYPE_F16);
	st_close(&ex);

	/* a GGUF that is not a llama model: refused, nothing created */
	snprintf(exp, sizeof exp, "%s/data/gguf/dequant.gguf", test_srcdir());
	struct gguf_import_opts o = { .input = exp, .outdir = "qt_test_import_fail",
	                              .dtype = QT_DTYPE_BF16 };
	struct gguf_import_stats stats;
	st = gguf_import_dir(&o, &stats, &err);
	CHECK(st == QT_EDATA && strstr(err.msg, "llama.block_count: missing"), "not a model: %s",
	      err.msg);
	CHECK(!exists("qt_test_import_fail"), "output left behind");
	char tmp[128];
	snprintf(tmp, sizeof tmp, "qt_test_import_fail.tmp.%ld", (long)getpid());
	CHECK(!exists(tmp), "temporary dir left behind");
	o.input = "/nonexistent.gguf";
	CHECK(gguf_import_dir(&o, &stats, &err) == QT_ENOINPUT, "missing input");
	return test_main_end();
}
