/* qlora-tools: ISC license. Documented in man/man5/chat.5. */
/* Not a file format of its own: the chat layer's internals; the formats are documented in
 * man/man5/chat.5 and man/man5/chat-template.5. */
/*
 * Shared between formats/chat.c (plain ChatML, encoding, truncation) and formats/chat_jinja.c
 * (renderings by the model's template). Not an API.
 */
#ifndef QT_FORMATS_CHAT_INTERNAL_H
#define QT_FORMATS_CHAT_INTERNAL_H

#include "formats/chat.h"

/* Appends a piece to r; 0, or -1 when out of memory. */
int chat_push(struct chat_render *r, int kind, int trained, enum chat_role role, uint32_t id,
              const char *s, size_t len);

/* chat_render for a template (t->jinja), same contract. */
int chat_render_jinja(const struct chat_template *t, const struct chat_conv *c,
                      const struct chat_system *sys, enum chat_train train,
                      int add_generation_prompt, struct chat_render *r, struct qt_err *err);

#endif
