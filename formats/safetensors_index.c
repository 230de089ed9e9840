/* qlora-tools: ISC license. */
/* safetensors checkpoints: one file or shards + model.safetensors.index.json; see
 * safetensors.h and safetensors(5). Single files are read by formats/safetensors.c. */
#include "formats/safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- sharded sets ---- */

static int cmp_tensor_ptr_name(const void *a, const void *b)
{
	return strcmp((*(const struct st_tensor *const *)a)->name,
	              (*(const struct st_tensor *const *)b)->name);
}

static int file_exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* Opens the shard named fname (once) and returns its index in s->files, or -1 with err set. */
static long open_shard(struct st_set *s, const char *dir, const char *fname, char **fnames,
                       struct qt_err *err)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (strcmp(fnames[i], fname) == 0)
			return (long)i;
	char *p = qt_path_join(dir, fname);
	if (!p) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return -1;
	}
	int st = st_open(&s->files[s->n_files], p, err);
	free(p);
	if (st != QT_OK)
		return -1;
	fnames[s->n_files] = (char *)fname;
	return (long)s->n_files++;
}

static int set_from_index(struct st_set *s, const char *dir, const char *ipath, struct qt_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(ipath, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return qt_err_set(err, errno == ENOENT ? QT_ENOINPUT : QT_EDATA, "%s:%d: %s", ipath,
		                  je.line, je.text);
	int st = QT_OK;
	char **fnames = NULL;
	json_t *wm = json_object_get(root, "weight_map");
	if (!json_is_object(root) || !json_is_object(wm)) {
		st = qt_err_set(err, QT_EDATA, "%s: weight_map: missing or not an object", ipath);
		goto out;
	}
	size_t nw = json_object_size(wm);
	s->files = calloc(nw + 1, sizeof *s->files);
	fnames = calloc(nw + 1, sizeof *fnames);
	if (!s->files || !fnames) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(wm, key, val) {
		const char *fn = json_string_value(val);
		if (!fn || !*fn || strchr(fn, '/') || strcmp(fn, "..") == 0 || strcmp(fn, ".") == 0) {
			st = qt_err_set(err, QT_EDATA, "%s: weight_map \"%s\": not a plain file name", ipath,
			                key);
			goto out;
		}
		long fi = open_shard(s, dir, fn, fnames, err);
		if (fi < 0) {
			st = err->status;
			goto out;
		}
		if (!st_find(&s->files[fi], key)) {
			st = qt_err_set(err, QT_EDATA, "%s: weight_map \"%s\": not in %s", ipath, key, fn);
			goto out;
		}
	}
out:
	if (fnames)
		for (size_t i = 0; i < s->n_files; i++)
			fnames[i] = NULL;
	/* the file names point into root: keep copies only as long as needed */
	free(fnames);
	json_decref(root);
	return st;
}

int st_set_open(struct st_set *s, const char *dir, struct qt_err *err)
{
	memset(s, 0, sizeof *s);
	char *ipath = qt_path_join(dir, ST_INDEX_NAME), *one = qt_path_join(dir, ST_SINGLE_NAME);
	int st = QT_OK;
	if (!ipath || !one) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	} else if (file_exists(ipath)) {
		st = set_from_index(s, dir, ipath, err);
	} else if (file_exists(one)) {
		s->files = calloc(1, sizeof *s->files);
		st = s->files ? st_open(&s->files[0], one, err) : qt_err_set(err, QT_ESOFTWARE, "oom");
		if (st == QT_OK)
			s->n_files = 1;
	} else {
		st = qt_err_set(err, QT_ENOINPUT, "%s: no %s or %s", dir, ST_SINGLE_NAME, ST_INDEX_NAME);
	}
	size_t total = 0;
	for (size_t i = 0; st == QT_OK && i < s->n_files; i++)
		total += s->files[i].n_tensors;
	if (st == QT_OK) {
		s->tensors = malloc((total + 1) * sizeof *s->tensors);
		if (!s->tensors)
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	if (st == QT_OK) {
		for (size_t i = 0; i < s->n_files; i++)
			for (size_t k = 0; k < s->files[i].n_tensors; k++)
				s->tensors[s->n_tensors++] = &s->files[i].tensors[k];
		qsort(s->tensors, s->n_tensors, sizeof *s->tensors, cmp_tensor_ptr_name);
		for (size_t k = 1; k < s->n_tensors; k++)
			if (strcmp(s->tensors[k]->name, s->tensors[k - 1]->name) == 0) {
				st = qt_err_set(err, QT_EDATA, "%s: tensor \"%s\" is in more than one shard",
				                dir, s->tensors[k]->name);
				break;
			}
	}
	free(ipath);
	free(one);
	if (st != QT_OK)
		st_set_close(s);
	return st;
}

void st_set_close(struct st_set *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		st_close(&s->files[i]);
	free(s->files);
	free(s->tensors);
	memset(s, 0, sizeof *s);
}

const struct st_tensor *st_set_find(const struct st_set *s, const char *name)
{
	if (!s->n_tensors)
		return NULL;
	struct st_tensor key = { .name = name };
	const struct st_tensor *kp = &key;
	const struct st_tensor *const *r = bsearch(&kp, s->tensors, s->n_tensors, sizeof kp,
	                                           cmp_tensor_ptr_name);
	return r ? *r : NULL;
}

int st_index_write(const char *dir, const char *const *names, const char *const *files, size_t n,
                   uint64_t total_size, struct qt_err *err)
{
	json_t *root = json_object(), *md = json_object(), *wm = json_object();
	int st = QT_OK;
	if (!root || !md || !wm) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	json_object_set_new(md, "total_size", json_integer((json_int_t)total_size));
	for (size_t i = 0; i < n; i++)
		json_object_set_new(wm, names[i], json_string(files[i]));
	json_object_set(root, "metadata", md);
	json_object_set(root, "weight_map", wm);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	char *path = qt_path_join(dir, ST_INDEX_NAME);
	struct qt_out o;
	if (!text || !path)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	else if ((st = qt_out_open(&o, path, err)) == QT_OK) {
		st = qt_write(o.fp, text, strlen(text), path, err);
		if (st == QT_OK)
			st = qt_write(o.fp, "\n", 1, path, err);
		if (st == QT_OK)
			st = qt_out_commit(&o, err);
		else
			qt_out_abort(&o);
	}
	free(text);
	free(path);
out:
	json_decref(root);
	json_decref(md);
	json_decref(wm);
	return st;
}
