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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Python's json.dumps(v, indent=2, sort_keys=True) (ensure_ascii, reals as repr), which is how
 * transformers writes config.json. */
static void emit(FILE *fp, json_t *v, int depth)
{
	if (json_is_object(v) || json_is_array(v)) {
		int obj = json_is_object(v);
		size_t n = obj ? json_object_size(v) : json_array_size(v);
		if (n == 0) {
			fputs(obj ? "{}" : "[]", fp);
			return;
		}
		const char **keys = obj ? calloc(n, sizeof *keys) : NULL;
		size_t k = 0;
		const char *key;
		json_t *e;
		if (obj) {
			json_object_foreach(v, key, e)
				if (keys)
					keys[k++] = key;
			if (keys)
				qsort(keys, n, sizeof *keys, cmp_str);
		}
		fputc(obj ? '{' : '[', fp);
		for (size_t i = 0; i < n; i++) {
			fprintf(fp, "%s\n%*s", i ? "," : "", 2 * (depth + 1), "");
			if (obj && keys) {
				json_t *ks = json_string(keys[i]);
				json_dumpf(ks, fp, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
				json_decref(ks);
				fputs(": ", fp);
			}
			emit(fp, obj ? (keys ? json_object_get(v, keys[i]) : NULL) : json_array_get(v, i),
			     depth + 1);
		}
		fprintf(fp, "\n%*s%c", 2 * depth, "", obj ? '}' : ']');
		free(keys);
	} else if (json_is_real(v)) {
		char b[40];
		hf_format_double(json_real_value(v), b, sizeof b);
		fputs(b, fp);
	} else if (v) {
		json_dumpf(v, fp, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	}
}

static const char *torch_dtype_name(int t)
{
	return t == QT_DTYPE_BF16 ? "bfloat16" : t == QT_DTYPE_F16 ? "float16" : "float32";
}

/* config.json: the base's keys, without quantization_config, dtype set to the linears' dtype;
 * written as transformers writes it (see emit). */
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
	struct qt_out f;
	if (!(st = qt_out_open(&f, outp, err))) {
		emit(f.fp, o, 0);
		fputc('\n', f.fp);
		st = qt_out_commit(&f, err);
	}
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
