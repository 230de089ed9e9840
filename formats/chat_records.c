/* qlora-tools: ISC license. */
/*
 * Input records to conversations: OpenAI "messages", ShareGPT "conversations", alpaca
 * instruction/input/output, prompt/response columns with optional history, and text documents.
 * The shapes are specified in chat(5); reference.md 1.11 gives their sources.
 */
#include "formats/chat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:  return "an object";
	case JSON_ARRAY:   return "an array";
	case JSON_STRING:  return "a string";
	case JSON_INTEGER:
	case JSON_REAL:    return "a number";
	case JSON_TRUE:
	case JSON_FALSE:   return "a boolean";
	case JSON_NULL:    return "null";
	}
	return "?";
}

/* The string under key into *s (NULL when an optional key is missing or null). QT_OK, or
 * QT_EDATA with err set when a required key is missing or the value is not a string. */
static int get_str(json_t *obj, const char *key, int optional, const char **s, size_t *len,
                   const char *where, struct qt_err *err)
{
	json_t *v = json_object_get(obj, key);
	*s = NULL;
	*len = 0;
	if (!v || (optional && json_is_null(v)))
		return optional ? QT_OK : qt_err_set(err, QT_EDATA, "%smissing key \"%s\"", where, key);
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s\"%s\" is %s, not a string", where, key,
		                  type_name(v));
	*len = json_string_length(v);
	*s = json_string_value(v);
	return QT_OK;
}

static int add(struct chat_conv *c, enum chat_role role, const char *s, size_t len,
               struct qt_err *err)
{
	if (chat_conv_add(c, role, s, len) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	return QT_OK;
}

static int role_of(const char *s, int sharegpt, enum chat_role *out)
{
	static const struct { const char *name; int sharegpt; enum chat_role role; } map[] = {
		{ "system",      0, CHAT_SYSTEM }, { "user",      0, CHAT_USER },
		{ "assistant",   0, CHAT_ASSISTANT }, { "tool",   0, CHAT_TOOL },
		{ "system",      1, CHAT_SYSTEM }, { "human",     1, CHAT_USER },
		{ "user",        1, CHAT_USER },   { "gpt",       1, CHAT_ASSISTANT },
		{ "assistant",   1, CHAT_ASSISTANT }, { "observation", 1, CHAT_TOOL },
		{ "tool",        1, CHAT_TOOL },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].sharegpt == sharegpt && !strcmp(map[i].name, s)) {
			*out = map[i].role;
			return 0;
		}
	return -1;
}

/* A message's content: a string, or a list of parts of which exactly one is text and none is
 * anything else ([{"type": "text", "text": ...}], as OpenAI's API and TRL's vision datasets
 * write it). Several text parts have no agreed separator, other types no text: refused. */
static int get_content(json_t *m, const char *ck, const char **s, size_t *len, const char *where,
                       struct qt_err *err)
{
	json_t *v = json_object_get(m, ck);
	if (!json_is_array(v))
		return get_str(m, ck, 0, s, len, where, err);
	size_t i, n_text = 0;
	json_t *part;
	json_array_foreach(v, i, part) {
		const char *ty = json_string_value(json_object_get(part, "type"));
		json_t *tx = json_object_get(part, "text");
		if (!json_is_object(part) || !ty)
			return qt_err_set(err, QT_EDATA, "%s\"%s\"[%zu]: not a content part "
			                  "({\"type\": \"text\", \"text\": ...})", where, ck, i);
		if (strcmp(ty, "text") != 0)
			return qt_err_set(err, QT_EDATA, "%s\"%s\"[%zu]: a part of type \"%.40s\": only "
			                  "text is supported; remove the record or its non-text parts",
			                  where, ck, i, ty);
		if (!json_is_string(tx))
			return qt_err_set(err, QT_EDATA, "%s\"%s\"[%zu]: \"text\" is missing or not a "
			                  "string", where, ck, i);
		*s = json_string_value(tx);
		*len = json_string_length(tx);
		n_text++;
	}
	if (n_text != 1)
		return qt_err_set(err, QT_EDATA, "%s\"%s\": %zu text parts: give one string (the "
		                  "parts have no agreed separator)", where, ck, n_text);
	return QT_OK;
}

/* messages (OpenAI: role/content) or conversations (ShareGPT: from/value). Either list may
 * use the other's field names (LLaMA-Factory writes conversations with role/content); the
 * role names follow the fields. */
static int parse_turns(json_t *arr, const char *key, int sharegpt, struct chat_conv *c,
                       struct qt_err *err)
{
	if (!json_is_array(arr))
		return qt_err_set(err, QT_EDATA, "\"%s\" is %s, not an array", key, type_name(arr));
	if (json_array_size(arr) == 0)
		return qt_err_set(err, QT_EDATA, "empty conversation (\"%s\" is [])", key);
	size_t i;
	json_t *m;
	json_array_foreach(arr, i, m) {
		char where[64];
		snprintf(where, sizeof where, "%s[%zu]: ", key, i);
		if (!json_is_object(m))
			return qt_err_set(err, QT_EDATA, "%sis %s, not an object", where, type_name(m));
		int sg = sharegpt;
		if (sg && !json_object_get(m, "from") && json_object_get(m, "role"))
			sg = 0;
		else if (!sg && !json_object_get(m, "role") && json_object_get(m, "from"))
			sg = 1;
		const char *rk = sg ? "from" : "role", *ck = sg ? "value" : "content";
		size_t rl, cl;
		const char *r, *s;
		if (get_str(m, rk, 0, &r, &rl, where, err) || get_content(m, ck, &s, &cl, where, err))
			return QT_EDATA;
		enum chat_role role;
		if (role_of(r, sg, &role) < 0)
			return qt_err_set(err, QT_EDATA, "%sunsupported %s \"%.40s\" (%s)", where, rk, r,
			                  sg ? "human, gpt, system, observation" :
			                       "system, user, assistant, tool");
		if (add(c, role, s, cl, err) != QT_OK)
			return QT_ESOFTWARE;
	}
	return QT_OK;
}

/* TRL's prompt/completion records. Conversational (lists of messages): the prompt's turns,
 * then the completion's. Plain strings are ambiguous here: TRL joins them as text without a
 * chat template, so they are refused with the two ways to read them. */
static int parse_prompt_completion(json_t *root, struct chat_conv *c, struct qt_err *err)
{
	json_t *p = json_object_get(root, "prompt"), *q = json_object_get(root, "completion");
	if (json_is_string(p) && json_is_string(q))
		return qt_err_set(err, QT_EDATA, "\"prompt\"/\"completion\" strings (TRL trains them "
		                  "as plain text, without a chat template): give --prompt-key prompt "
		                  "--response-key completion to train them as one chat turn");
	if (!json_is_array(p) || !json_is_array(q))
		return qt_err_set(err, QT_EDATA, "\"prompt\" and \"completion\": expected two lists of "
		                  "messages (TRL's conversational prompt-completion)");
	int st = parse_turns(p, "prompt", 0, c, err);
	if (st == QT_OK)
		st = parse_turns(q, "completion", 0, c, err);
	return st;
}

/* history: [[query, answer], ...] as user/assistant turns. */
static int parse_history(json_t *obj, const char *key, struct chat_conv *c, struct qt_err *err)
{
	json_t *h = json_object_get(obj, key);
	if (!h || json_is_null(h))
		return QT_OK;
	if (!json_is_array(h))
		return qt_err_set(err, QT_EDATA, "\"%s\" is %s, not an array", key, type_name(h));
	size_t i;
	json_t *pair;
	json_array_foreach(h, i, pair) {
		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
		    !json_is_string(json_array_get(pair, 0)) || !json_is_string(json_array_get(pair, 1)))
			return qt_err_set(err, QT_EDATA, "%s[%zu]: not a [query, answer] pair of strings",
			                  key, i);
		for (int k = 0; k < 2; k++) {
			json_t *s = json_array_get(pair, (size_t)k);
			if (add(c, k ? CHAT_ASSISTANT : CHAT_USER, json_string_value(s),
			        json_string_length(s), err) != QT_OK)
				return QT_ESOFTWARE;
		}
	}
	return QT_OK;
}

/* alpaca: user = instruction and input joined by "\n" (the non-empty ones), assistant = output. */
static int parse_alpaca(json_t *obj, struct chat_conv *c, int *empty, struct qt_err *err)
{
	size_t il, nl, ol;
	const char *ins, *in, *out;
	if (get_str(obj, "instruction", 0, &ins, &il, "", err) ||
	    get_str(obj, "input", 1, &in, &nl, "", err) ||
	    get_str(obj, "output", 0, &out, &ol, "", err))
		return QT_EDATA;
	if (in && nl && il) {
		/* The joined prompt must outlive this call: keep it in the record as a new member. */
		char *j = malloc(il + 1 + nl + 1);
		if (!j)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		memcpy(j, ins, il);
		j[il] = '\n';
		memcpy(j + il + 1, in, nl);
		json_t *js = json_stringn_nocheck(j, il + 1 + nl);
		free(j);
		if (!js || json_object_set_new(obj, "\x01joined", js) != 0)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		ins = json_string_value(js);
		il += 1 + nl;
	} else if (in && nl) {
		ins = in;
		il = nl;
	}
	*empty = il == 0 || ol == 0;
	if (add(c, CHAT_USER, ins, il, err) != QT_OK || add(c, CHAT_ASSISTANT, out, ol, err) != QT_OK)
		return QT_ESOFTWARE;
	return QT_OK;
}

int chat_record_parse(const char *line, size_t len, const struct chat_record_opts *o,
                      struct chat_conv *c, int *empty, struct qt_err *err)
{
	chat_conv_reset(c);
	*empty = 0;
	json_error_t je;
	json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!root)
		return qt_err_set(err, QT_EDATA, "malformed JSON near byte %d: %s", je.position,
		                  je.text);
	c->json = root;
	if (o->format == CHAT_FORMAT_TEXT) {
		const char *key = o->prompt_key ? o->prompt_key : "text";
		const char *s;
		size_t n;
		if (json_is_string(root)) {
			s = json_string_value(root);
			n = json_string_length(root);
		} else if (json_is_object(root)) {
			if (get_str(root, key, 0, &s, &n, "", err))
				return QT_EDATA;
		} else {
			return qt_err_set(err, QT_EDATA, "record is %s, not an object or a string",
			                  type_name(root));
		}
		*empty = n == 0;
		return add(c, CHAT_TEXT, s, n, err);
	}
	if (!json_is_object(root))
		return qt_err_set(err, QT_EDATA, "record is %s, not an object", type_name(root));
	/* A "system" column: the system message of the shapes that have no system turn. */
	size_t sl;
	const char *sys;
	if (get_str(root, "system", 1, &sys, &sl, "", err))
		return QT_EDATA;
	if (sl && add(c, CHAT_SYSTEM, sys, sl, err) != QT_OK)
		return QT_ESOFTWARE;
	size_t n0 = c->n;
	int st;
	json_t *v;
	if (o->response_key) {
		if (o->history_key && (st = parse_history(root, o->history_key, c, err)) != QT_OK)
			return st;
		size_t pl, rl;
		const char *p, *r;
		if (get_str(root, o->prompt_key, 0, &p, &pl, "", err) ||
		    get_str(root, o->response_key, 0, &r, &rl, "", err))
			return QT_EDATA;
		*empty = pl == 0 || rl == 0;
		if (add(c, CHAT_USER, p, pl, err) != QT_OK || add(c, CHAT_ASSISTANT, r, rl, err) != QT_OK)
			return QT_ESOFTWARE;
		return QT_OK;
	}
	if ((v = json_object_get(root, "messages")) || (v = json_object_get(root, "conversations"))) {
		int sharegpt = !json_object_get(root, "messages");
		if ((st = parse_turns(v, sharegpt ? "conversations" : "messages", sharegpt, c, err)))
			return st;
		/* A conversation's own first system turn wins over the "system" column. */
		if (n0 == 1 && c->n > 1 && c->msg[1].role == CHAT_SYSTEM) {
			memmove(c->msg, c->msg + 1, (c->n - 1) * sizeof *c->msg);
			c->n--;
		}
		return QT_OK;
	}
	if (json_object_get(root, "instruction") || json_object_get(root, "output")) {
		/* LLaMA-Factory's alpaca records carry earlier turns in "history" */
		const char *hk = o->history_key ? o->history_key : "history";
		if ((st = parse_history(root, hk, c, err)) != QT_OK)
			return st;
		return parse_alpaca(root, c, empty, err);
	}
	if (json_object_get(root, "prompt") && json_object_get(root, "completion"))
		return parse_prompt_completion(root, c, err);
	return qt_err_set(err, QT_EDATA, "no \"messages\", \"conversations\", \"instruction\"/"
	                  "\"output\" or \"prompt\"/\"completion\" keys (name other columns with "
	                  "--prompt-key and %s)", o->response_flag ? o->response_flag :
	                  "--response-key");
}
