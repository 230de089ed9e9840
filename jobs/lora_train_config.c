/* qlora-tools: ISC license. */
/* lora-train --config: a JSON object of long options turned into arguments; see lora_train.h. */
#include "jobs/lora_train.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int train_config_args(const char *path, int *argc, char ***argv, struct qt_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		FILE *fp = fopen(path, "r");
		if (!fp)
			return qt_err_set(err, QT_ENOINPUT, "%s:", path);
		fclose(fp);
		return qt_err_set(err, QT_EDATA, "%s:%d: %s", path, je.line, je.text);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return qt_err_set(err, QT_EDATA, "%s: not a JSON object", path);
	}
	size_t n = json_object_size(root), k = 0;
	char **nv = calloc((size_t)*argc + n + 1, sizeof *nv);
	if (!nv) {
		json_decref(root);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	nv[k++] = (*argv)[0];
	const char *key;
	json_t *v;
	int rc = QT_OK;
	json_object_foreach(root, key, v) {
		char val[4096] = "";
		if (json_is_false(v) || json_is_null(v))
			continue;
		if (json_is_string(v))
			snprintf(val, sizeof val, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof val, "%.17g", json_real_value(v));
		else if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				if (!json_is_string(e)) {
					rc = qt_err_set(err, QT_EDATA, "%s: %s: a list of strings expected", path,
					                key);
					break;
				}
				snprintf(val + strlen(val), sizeof val - strlen(val), "%s%s", i ? "," : "",
				         json_string_value(e));
			}
		} else if (!json_is_true(v)) {
			rc = qt_err_set(err, QT_EDATA, "%s: %s: unsupported value", path, key);
		}
		if (rc)
			break;
		size_t len = strlen(key) + strlen(val) + 4;
		if (!(nv[k] = malloc(len))) {
			rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			break;
		}
		snprintf(nv[k++], len, json_is_true(v) ? "--%s" : "--%s=%s", key, val);
	}
	json_decref(root);
	if (rc) {
		for (size_t i = 1; i < k; i++)
			free(nv[i]);
		free(nv);
		return rc;
	}
	for (int i = 1; i < *argc; i++)
		nv[k++] = (*argv)[i];
	nv[k] = NULL;
	*argc = (int)k;
	*argv = nv;
	return QT_OK;
}
