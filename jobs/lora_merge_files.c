/* qlora-tools: ISC license. */
/* The merged directory's files other than weights: config.json rewritten as transformers
 * writes it, and the base's other files copied. See lora_merge.h. */
#include "jobs/lora_merge.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dtype.h"
#include "common/io.h"
#include "formats/hfconfig.h"

static const char *torch_dtype_name(int t)
{
	return t == QT_DTYPE_BF16 ? "bfloat16" : t == QT_DTYPE_F16 ? "float16" : "float32";
}

/* config.json: the base's keys, without quantization_config, dtype set to the linears' dtype;
 * written as transformers writes it (hf_config_dump). */
int merge_write_config(const char *base_dir, const char *out_dir, int dtype, struct qt_err *err)
{
	char *in = qt_path_join(base_dir, HF_CONFIG_NAME), *outp = qt_path_join(out_dir, HF_CONFIG_NAME);
	json_error_t je;
	json_t *o = in ? json_load_file(in, JSON_REJECT_DUPLICATES, &je) : NULL;
	int st;
	if (!o) {
		st = qt_err_set(err, QT_EDATA, "%s:%d: %s", in, je.line, je.text);
		goto out;
	}
	json_object_del(o, "quantization_config");
	int had = 0;
	if (json_object_get(o, "torch_dtype"))
		had = 1, json_object_set_new(o, "torch_dtype", json_string(torch_dtype_name(dtype)));
	if (json_object_get(o, "dtype"))
		had = 1, json_object_set_new(o, "dtype", json_string(torch_dtype_name(dtype)));
	if (!had)
		json_object_set_new(o, "torch_dtype", json_string(torch_dtype_name(dtype)));
	struct qt_buf b = { 0 };
	struct qt_out f;
	hf_config_dump(&b, o);
	if (b.oom)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	else if (!(st = qt_out_open(&f, outp, err))) {
		fwrite(b.p, 1, b.n, f.fp);
		st = qt_out_commit(&f, err);
	}
	qt_buf_free(&b);
	json_decref(o);
out:
	free(in), free(outp);
	return st;
}

/* Files of the base directory that are weights (or the config, rewritten above). */
static int is_weight_file(const char *n)
{
	static const char *const sfx[] = { ".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt",
		".h5", ".msgpack", ".index.json" };
	if (!strcmp(n, HF_CONFIG_NAME) || n[0] == '.')
		return 1;
	size_t ln = strlen(n);
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		size_t ls = strlen(sfx[i]);
		if (ln >= ls && !strcmp(n + ln - ls, sfx[i]))
			return 1;
	}
	return 0;
}

int merge_copy_files(const char *base_dir, const char *out_dir, struct qt_err *err)
{
	DIR *d = opendir(base_dir);
	if (!d)
		return qt_err_set(err, QT_ENOINPUT, "%s:", base_dir);
	struct dirent *e;
	int st = QT_OK;
	while (!st && (e = readdir(d))) {
		if (is_weight_file(e->d_name))
			continue;
		char *src = qt_path_join(base_dir, e->d_name), *dst = qt_path_join(out_dir, e->d_name);
		struct stat sb;
		char *buf = NULL;
		size_t len;
		if (!src || !dst)
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		else if (stat(src, &sb) == 0 && S_ISREG(sb.st_mode) &&
		         !(st = qt_read_file(src, &buf, &len, err))) {
			struct qt_out f;
			if (!(st = qt_out_open(&f, dst, err))) {
				if ((st = qt_write(f.fp, buf, len, dst, err)))
					qt_out_abort(&f);
				else
					st = qt_out_commit(&f, err);
			}
		}
		free(buf), free(src), free(dst);
	}
	closedir(d);
	return st;
}
