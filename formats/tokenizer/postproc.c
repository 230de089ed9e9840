/* qlora-tools: ISC license. */
/*
 * The post_processor of tokenizer.json, for a single sequence only (HF encode with
 * add_special_tokens=True, TOKENIZER_ADD_SPECIAL): the ids it puts before and after the
 * encoded text. TemplateProcessing ("single": SpecialToken and Sequence items), Bert/Roberta
 * (cls A sep), ByteLevel (offsets only: adds nothing) and Sequence (each later processor wraps
 * the result of the earlier ones). Pairs, type ids and offsets are not needed here. Another
 * type is accepted at load (encoding without special tokens never uses it) and refused when
 * TOKENIZER_ADD_SPECIAL asks for it.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

struct ids { uint32_t *v; uint32_t n; };

static int push(struct ids *a, uint32_t id)
{
	uint32_t *v = realloc(a->v, (a->n + 1) * sizeof *v);
	if (!v)
		return -1;
	v[a->n++] = id;
	a->v = v;
	return 0;
}

static int check_id(const struct tokenizer *t, json_int_t id, const char *field,
                    const char *path, struct qt_err *err)
{
	(void)t;
	if (id < 0 || id >= (json_int_t)UINT32_MAX)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected a token id", path, field);
	return QT_OK;
}

/* ["[CLS]", 101]: the id. */
static int pair_id(json_t *o, const char *k, const char *field, const char *path,
                   uint32_t *id, struct qt_err *err)
{
	json_t *v = json_object_get(o, k), *n = json_array_get(v, 1);
	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(n) ||
	    json_integer_value(n) < 0 || json_integer_value(n) >= (json_int_t)UINT32_MAX)
		return qt_err_set(err, QT_EDATA, "%s: %s.%s: expected [\"token\", id]", path, field,
		                  k);
	*id = (uint32_t)json_integer_value(n);
	return QT_OK;
}

/* TemplateProcessing's single template: the special tokens' ids before and after "A". */
static int template(const struct tokenizer *t, json_t *o, const char *field, const char *path,
                    struct ids *before, struct ids *after, struct qt_err *err)
{
	json_t *single = json_object_get(o, "single"), *sp = json_object_get(o, "special_tokens");
	if (!json_is_array(single))
		return qt_err_set(err, QT_EDATA, "%s: %s.single: expected an array", path, field);
	int seen = 0;
	for (size_t i = 0; i < json_array_size(single); i++) {
		json_t *it = json_array_get(single, i), *st = json_object_get(it, "SpecialToken");
		if (json_is_object(json_object_get(it, "Sequence"))) {
			if (seen)
				return qt_err_set(err, QT_EDATA, "%s: %s.single[%zu]: a second "
				                  "Sequence", path, field, i);
			seen = 1;
			continue;
		}
		const char *name = json_string_value(json_object_get(st, "id"));
		if (!name)
			return qt_err_set(err, QT_EDATA, "%s: %s.single[%zu]: expected "
			                  "{\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}",
			                  path, field, i);
		json_t *ids = json_object_get(json_object_get(sp, name), "ids");
		if (!json_is_array(ids))
			return qt_err_set(err, QT_EDATA, "%s: %s.special_tokens: no \"%s\" with its "
			                  "\"ids\"", path, field, name);
		for (size_t k = 0; k < json_array_size(ids); k++) {
			json_t *v = json_array_get(ids, k);
			int rc = json_is_integer(v) ? check_id(t, json_integer_value(v), field, path,
			                                       err) :
			         qt_err_set(err, QT_EDATA, "%s: %s.special_tokens.%s.ids: expected "
			                    "integers", path, field, name);
			if (rc != QT_OK)
				return rc;
			if (push(seen ? after : before, (uint32_t)json_integer_value(v)) != 0)
				return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		}
	}
	if (!seen)
		return qt_err_set(err, QT_EDATA, "%s: %s.single: no {\"Sequence\": ...} item", path,
		                  field);
	return QT_OK;
}

/* One processor (recursively for Sequence): its ids wrap *before and *after. */
static int load_one(struct tokenizer *t, json_t *o, const char *field, const char *path,
                    struct ids *before, struct ids *after, struct qt_err *err)
{
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object with a \"type\"", path,
		                  field);
	if (strcmp(type, "ByteLevel") == 0)
		return QT_OK;
	if (strcmp(type, "Sequence") == 0) {
		json_t *a = json_object_get(o, "processors");
		if (!json_is_array(a))
			return qt_err_set(err, QT_EDATA, "%s: %s.processors: expected an array", path,
			                  field);
		for (size_t i = 0; i < json_array_size(a); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.processors[%zu]", field, i);
			int rc = load_one(t, json_array_get(a, i), sub, path, before, after, err);
			if (rc != QT_OK)
				return rc;
		}
		return QT_OK;
	}
	struct ids b = { 0 }, a = { 0 };
	int rc;
	if (strcmp(type, "TemplateProcessing") == 0) {
		rc = template(t, o, field, path, &b, &a, err);
	} else if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
		uint32_t cls = 0, sep = 0;
		if ((rc = pair_id(o, "cls", field, path, &cls, err)) == QT_OK &&
		    (rc = pair_id(o, "sep", field, path, &sep, err)) == QT_OK &&
		    (push(&b, cls) != 0 || push(&a, sep) != 0))
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	} else {
		if (!t->pp_unsupported && !(t->pp_unsupported = strdup(type)))
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		return QT_OK;
	}
	/* this processor wraps what the earlier ones made */
	for (uint32_t i = 0; rc == QT_OK && i < before->n; i++)
		if (push(&b, before->v[i]) != 0)
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	for (uint32_t i = 0; rc == QT_OK && i < a.n; i++)
		if (push(after, a.v[i]) != 0)
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	free(before->v);
	*before = b;
	b.v = NULL;
	free(b.v);
	free(a.v);
	return rc;
}

int tk_postproc_load(struct tokenizer *t, json_t *pp, const char *path, struct qt_err *err)
{
	if (!pp || json_is_null(pp))
		return QT_OK;
	struct ids before = { 0 }, after = { 0 };
	int rc = load_one(t, pp, "post_processor", path, &before, &after, err);
	if (rc == QT_OK && before.n + after.n > 0) {
		t->pp_ids = malloc((before.n + after.n) * sizeof *t->pp_ids);
		if (!t->pp_ids) {
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		} else {
			if (before.n)
				memcpy(t->pp_ids, before.v, before.n * sizeof *t->pp_ids);
			if (after.n)
				memcpy(t->pp_ids + before.n, after.v, after.n * sizeof *t->pp_ids);
			t->pp_n_before = before.n;
			t->pp_n_after = after.n;
		}
	}
	free(before.v);
	free(after.v);
	return rc;
}

void tk_postproc_free(struct tokenizer *t)
{
	free(t->pp_ids);
	free(t->pp_unsupported);
}
