/* qlora-tools: ISC license. */
/*
 * Any JSON value as transformers writes config.json (PretrainedConfig.to_json_string:
 * json.dumps(indent=2, sort_keys=True) + "\n"): ensure_ascii escapes, reals as Python's repr.
 * See hfconfig(5).
 */
#include "formats/hfconfig.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string as Python's json.dumps writes it: with ensure_ascii, every character outside
 * printable ASCII as a \u escape of 4 lower-case hex digits, astral ones as surrogate pairs. */
static void put_str(struct qt_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	char tmp[16];
	qt_buf_str(b, "\"");
	while (*u) {
		uint32_t c = *u;
		int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (len > 1) {
			c &= 0xFFu >> (len + 1);
			for (int i = 1; i < len && u[i]; i++)
				c = c << 6 | (u[i] & 0x3F);
		}
		u += len;
		if (c == '"')
			qt_buf_str(b, "\\\"");
		else if (c == '\\')
			qt_buf_str(b, "\\\\");
		else if (c == '\n')
			qt_buf_str(b, "\\n");
		else if (c == '\r')
			qt_buf_str(b, "\\r");
		else if (c == '\t')
			qt_buf_str(b, "\\t");
		else if (c == '\b')
			qt_buf_str(b, "\\b");
		else if (c == '\f')
			qt_buf_str(b, "\\f");
		else if (c >= 0x20 && c < 0x7F)
			qt_buf_add(b, (const char *)&c, 1);
		else if (c < 0x10000)
			qt_buf_add(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c));
		else {
			c -= 0x10000;
			qt_buf_add(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x",
			                                    0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF)));
		}
	}
	qt_buf_str(b, "\"");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_indent(struct qt_buf *b, int depth)
{
	qt_buf_str(b, "\n");
	for (int i = 0; i < depth; i++)
		qt_buf_str(b, "  ");
}

static void put_json(struct qt_buf *b, json_t *v, int depth)
{
	char tmp[48];
	if (json_is_object(v)) {
		size_t n = json_object_size(v), i = 0;
		if (!n) {
			qt_buf_str(b, "{}");
			return;
		}
		const char **keys = malloc(n * sizeof *keys);
		if (!keys) {
			b->oom = 1;
			return;
		}
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) keys[i++] = k;
		qsort(keys, n, sizeof *keys, cmp_str);
		qt_buf_str(b, "{");
		for (i = 0; i < n; i++) {
			put_indent(b, depth + 1);
			put_str(b, keys[i]);
			qt_buf_str(b, ": ");
			put_json(b, json_object_get(v, keys[i]), depth + 1);
			if (i + 1 < n)
				qt_buf_str(b, ",");
		}
		put_indent(b, depth);
		qt_buf_str(b, "}");
		free(keys);
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (!n) {
			qt_buf_str(b, "[]");
			return;
		}
		qt_buf_str(b, "[");
		for (size_t i = 0; i < n; i++) {
			put_indent(b, depth + 1);
			put_json(b, json_array_get(v, i), depth + 1);
			if (i + 1 < n)
				qt_buf_str(b, ",");
		}
		put_indent(b, depth);
		qt_buf_str(b, "]");
	} else if (json_is_string(v)) {
		put_str(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		qt_buf_add(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v)));
	} else if (json_is_real(v)) {
		hf_format_double(json_real_value(v), tmp, sizeof tmp);
		qt_buf_str(b, tmp);
	} else {
		qt_buf_str(b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
	}
}

void hf_config_dump(struct qt_buf *b, struct json_t *v)
{
	put_json(b, v, 0);
	qt_buf_str(b, "\n");
}
