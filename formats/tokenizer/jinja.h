/* qlora-tools: ISC license. */
/*
 * jinja: the subset of Jinja2 that real chat templates use, rendered exactly as HF transformers
 * renders a chat template (jinja2's ImmutableSandboxedEnvironment with trim_blocks and
 * lstrip_blocks, the loopcontrols extension, the {% generation %} tag, and the globals
 * raise_exception and strftime_now; filters and Python methods as jinja2 and Python 3 define
 * them). The subset is listed in chat-template(5). A construct outside it is refused when the
 * template is parsed, or when it is reached while rendering, with the template's line and the
 * construct: never rendered differently.
 *
 * Every output byte carries a tag saying where it came from: template text (JINJA_TAG_TEMPLATE,
 * which includes the other variables and each message's "role"), a string of vars.messages[k]
 * (k), or another data string (JINJA_TAG_DATA: tools, documents),
 * and a flag for bytes written inside {% generation %}. The chat layer uses the tags to keep
 * special-token strings in data from becoming control tokens and to find assistant spans.
 *
 * Not a general Jinja: no autoescape, includes, inheritance, imports, call blocks or custom
 * delimiters; numbers are int64 or double.
 */
#ifndef QT_FORMATS_TOKENIZER_JINJA_H
#define QT_FORMATS_TOKENIZER_JINJA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define JINJA_TAG_TEMPLATE (-1) /* template text (literals, bos_token and other variables) */
#define JINJA_TAG_DATA     (-2) /* a data string outside messages (tools, documents) */

struct jinja_tpl;

/*
 * Compiles src[0..len) (the template string as it appears after JSON decoding). Returns QT_OK
 * and *out (free with jinja_free), or QT_EDATA with "line N: what" in err for a syntax error or
 * a construct outside the subset. The compiled template is immutable: it may be rendered on
 * several threads at once.
 */
int jinja_parse(const char *src, size_t len, struct jinja_tpl **out, struct qt_err *err);
void jinja_free(struct jinja_tpl *t);
/* 1 when the template has {% generation %} blocks (TRL's assistant_only_loss markers). */
int jinja_has_generation(const struct jinja_tpl *t);

/* The rendered string: s[0..n) NUL-terminated; tag[i] and gen[i] describe byte i. */
struct jinja_out {
	char    *s;
	int32_t *tag;
	uint8_t *gen;
	size_t   n, cap;
};

struct jinja_opts {
	int64_t now; /* seconds since the epoch for strftime_now (UTC) */
};

/*
 * Renders t with the variables of vars (a JSON object: messages, add_generation_prompt,
 * bos_token, tools, ...) into out (previous contents dropped; reuse it across calls). Returns
 * QT_OK; QT_EDATA with "line N: ..." when the template raises (raise_exception: "line N:
 * template error: MESSAGE"), fails as jinja2 would (an undefined attribute of an undefined
 * value, a type error, an unsafe method), or reaches a construct outside the subset;
 * QT_ESOFTWARE when out of memory.
 */
int jinja_render(const struct jinja_tpl *t, const json_t *vars, const struct jinja_opts *o,
                 struct jinja_out *out, struct qt_err *err);
void jinja_out_free(struct jinja_out *out);

#endif
