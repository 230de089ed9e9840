/* qlora-tools: ISC license. */
/*
 * The chat side of a tokenizer: the model's chat template (tokenizer_config.json's
 * chat_template or chat_template.jinja, rendered by the Jinja subset of
 * formats/tokenizer/jinja.h exactly as HF apply_chat_template renders it; or plain ChatML),
 * input records turned into messages, a conversation rendered as a list of pieces, and those
 * pieces encoded into token ids and a loss mask. tok-chatml (training data) and gen (prompts)
 * both go through chat_render, so a conversation is rendered the same way for training and
 * inference. Record shapes and the rendering are specified in chat(5) and chat-template(5);
 * reference.md 1.9 to 1.12 gives the semantics reproduced here (HF apply_chat_template, TRL
 * completion-only masking, ChatGLM source/target truncation).
 */
#ifndef QT_FORMATS_CHAT_H
#define QT_FORMATS_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/tokenizer.h"
#include "formats/tokenizer/jinja.h"

#define CHAT_ID_NONE 0xFFFFFFFFu  /* a token the configuration does not name */

/* ---- template ---- */

/* A special added token of the tokenizer, as the template text is split on them. */
struct chat_special {
	const char *s;     /* its content (owned by the tokenizer) */
	uint32_t    len;
	uint32_t    id;
	unsigned    flags; /* TOKENIZER_ADDED_LSTRIP / _RSTRIP */
};

/* What tokenizer_config.json says about chatting (all strings owned, NULL when absent). */
struct chat_template {
	char    *bos_token;      /* contents of bos_token / eos_token / pad_token */
	char    *eos_token;
	char    *pad_token;
	uint32_t im_start;       /* id of "<|im_start|>" (a special added token) */
	uint32_t im_end;         /* id of "<|im_end|>" */
	uint32_t bos_id;         /* ids of the three tokens above, or CHAT_ID_NONE */
	uint32_t eos_id;
	uint32_t pad_id;
	uint32_t turn_end;       /* the special token that ends an assistant turn, or CHAT_ID_NONE */
	int      builtin;        /* 1: plain ChatML (reference 1.9): no template, or "chatml" */
	struct jinja_tpl    *jinja;     /* the model's template (NULL when builtin) */
	char                *source;    /* where it came from: a file name, for messages */
	json_t              *vars;      /* the special-token variables it sees (bos_token, ...) */
	struct chat_special *specials;  /* the tokenizer's special added tokens, by first byte */
	size_t               n_specials;
	uint32_t             first[257]; /* specials[first[b] .. first[b+1]) start with byte b */
	int64_t              now;       /* strftime_now's time: $SOURCE_DATE_EPOCH, or the clock */
};

/*
 * Reads config_path (a tokenizer_config.json; NULL: none) and resolves its tokens against tk.
 * The template is, as transformers loads it: chat_template.jinja beside the config, else the
 * config's "chat_template" (a string, or the entry named "default" of a list), else plain
 * ChatML (t->builtin = 1). choice overrides that: NULL keeps it, "chatml" is plain ChatML, any
 * other string is a Jinja template file. QT_ENOINPUT when a file cannot be read; QT_EDATA for
 * bad JSON or a template the Jinja subset refuses ("file: line N: construct").
 */
int chat_template_load(const char *config_path, const char *choice, const struct tokenizer *tk,
                       struct chat_template *t, struct qt_err *err);
void chat_template_free(struct chat_template *t);

/* ---- conversations ---- */

enum chat_role { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT, CHAT_TOOL, CHAT_TEXT };

/* "system", "user", "assistant", "tool", or "text" (a --format text document). */
const char *chat_role_name(enum chat_role r);

struct chat_msg {
	enum chat_role role;
	const char    *text;   /* UTF-8, not owned (points into the record or the caller's data) */
	size_t         len;
};

/* A conversation. Zero-initialize; chat_conv_free at the end. */
struct chat_conv {
	struct chat_msg *msg;
	size_t           n, cap;
	void            *json; /* the parsed record owning the strings (a json_t), or NULL */
};

/* Appends a message (text not copied). QT_OK or QT_ESOFTWARE (memory). */
int chat_conv_add(struct chat_conv *c, enum chat_role role, const char *text, size_t len);
/* Drops all messages and the owned record. */
void chat_conv_reset(struct chat_conv *c);
void chat_conv_free(struct chat_conv *c);

/* ---- input records ---- */

enum chat_format { CHAT_FORMAT_CHAT, CHAT_FORMAT_TEXT };

struct chat_record_opts {
	enum chat_format format;
	const char *prompt_key;   /* chat: prompt column (with response_key); text: the text key */
	const char *response_key; /* NULL: detect messages / conversations / alpaca */
	const char *history_key;  /* NULL: none; else [[query, answer], ...] before the prompt */
	const char *response_flag; /* the option naming the response column, for messages
	                            * (NULL: "--response-key"; gen's is "--label-key") */
};

/*
 * Turns one JSONL record (line[0..len), valid UTF-8) into c (reset first). Returns QT_OK, or
 * QT_EDATA with the reason (no file:line; the caller prefixes it) in err. *empty is set to 1
 * for a prompt/response record whose prompt or response is empty (ChatGLM skips those rows).
 */
int chat_record_parse(const char *line, size_t len, const struct chat_record_opts *o,
                      struct chat_conv *c, int *empty, struct qt_err *err);

/* ---- rendering ---- */

/* Where the system prompt comes from when a conversation does not start with one. */
enum chat_system_mode {
	CHAT_SYSTEM_DEFAULT, /* the template's rule: its default system prompt, if any */
	CHAT_SYSTEM_SET,     /* the given text */
	CHAT_SYSTEM_NONE,    /* no system turn */
};
struct chat_system {
	enum chat_system_mode mode;
	const char           *text; /* CHAT_SYSTEM_SET only; NUL-terminated */
};

enum chat_train {
	CHAT_TRAIN_ASSISTANT, /* assistant contents and their "<|im_end|>\n" (TRL's net effect) */
	CHAT_TRAIN_ALL,       /* every token */
};

enum chat_piece_kind {
	CHAT_PIECE_SPECIAL, /* a template special token: id */
	CHAT_PIECE_TEXT,    /* template text ("user\n", "\n", a default system prompt) */
	CHAT_PIECE_CONTENT, /* message content: special-token strings in it are plain text */
};

struct chat_piece {
	uint8_t     kind;     /* enum chat_piece_kind */
	uint8_t     trained;  /* 1: its tokens get mask 1 */
	uint8_t     role;     /* enum chat_role of the turn it belongs to */
	uint32_t    id;       /* SPECIAL: the token id */
	const char *s;        /* TEXT/CONTENT: the bytes (not owned); SPECIAL: the token string */
	size_t      len;
};

struct chat_render {
	struct chat_piece *p;
	size_t             n, cap;
	/* The last assistant turn, for truncation: its header (what the generation prompt adds)
	 * starts at piece hdr, its trained span at tgt, and what follows its content (the
	 * end-of-turn tokens) at tail; all three are n when there is no assistant turn. */
	size_t             hdr, tgt, tail;
	struct jinja_out   text;     /* a Jinja rendering the pieces point into */
	struct jinja_out   scratch;  /* renderings of prefixes of the conversation */
	uint8_t           *trained;  /* per byte of text */
	size_t             trained_cap;
};

/*
 * Renders c into r (previous contents dropped) with the model's template (chat-template(5)), or
 * as plain ChatML when t->builtin: for each message <|im_start|> role "\n" content <|im_end|>
 * "\n", followed by "<|im_start|>" "assistant\n" when add_generation_prompt. When c does not
 * start with a system message, sys (NULL: CHAT_SYSTEM_DEFAULT) may put one first (with a
 * template, CHAT_SYSTEM_DEFAULT and CHAT_SYSTEM_NONE leave it to the template). Pieces are
 * special tokens of the template text, template text, and data (message contents); with
 * CHAT_TRAIN_ASSISTANT the trained pieces are each assistant message's span: what the model
 * writes after the generation prompt, through the end-of-turn text that follows its content
 * (or the {% generation %} blocks of a template that has them). A CHAT_TEXT conversation
 * renders its text and the eos token. Pieces point into r, c, sys and t: keep them alive while
 * r is used. QT_EDATA for an empty conversation, a text document when the configuration names
 * no eos token, or a template that raises ("template error: its message") or fails.
 */
int chat_render(const struct chat_template *t, const struct chat_conv *c,
                const struct chat_system *sys, enum chat_train train, int add_generation_prompt,
                struct chat_render *r, struct qt_err *err);
/* The rendered string (what HF apply_chat_template returns): malloc'd, NUL-terminated. */
char *chat_render_text(const struct chat_render *r, size_t *len);
void chat_render_free(struct chat_render *r);

/* ---- encoding ---- */

struct chat_ovl {
	uint32_t tok;
	uint8_t  trained;
};

/* Token ids and mask of a rendering. Zero-initialize; reuse across records; free at the end. */
struct chat_encoded {
	struct tok_ids ids;
	uint8_t       *mask;       /* ids.n entries */
	size_t         mask_cap;
	uint32_t      *piece_at;   /* piece i's tokens are [piece_at[i], piece_at[i+1]) */
	size_t         piece_cap;
	char          *buf;        /* scratch: a text run */
	size_t         buf_cap;
	struct tok_ids tmp;        /* scratch: a run's prefix */
	struct chat_ovl *ovl;      /* tokens whose mask is not their piece's (see chat_encode) */
	size_t         n_ovl, ovl_cap;
};

/*
 * Encodes r with tk: special pieces become their ids; each maximal run of text/content pieces
 * between two specials is encoded as one string with TOKENIZER_TEXT_ONLY, so the ids equal HF's
 * encoding of the rendered string whenever the contents hold no special-token strings. Inside a
 * run, the tokens that the run's encoding shares (as a common prefix) with the encoding of the
 * bytes before piece k belong before piece k; the rest (including a token merged across the
 * boundary) belong to piece k and later. A token is trained when any of its bytes is (as
 * transformers' assistant mask marks every token overlapping a span) where the tokenizer's
 * token lengths give byte offsets (byte-level BPE); else when its piece is. QT_OK or
 * QT_ESOFTWARE.
 */
int chat_encode(const struct tokenizer *tk, const struct chat_render *r, struct chat_encoded *e,
                struct qt_err *err);
void chat_encoded_free(struct chat_encoded *e);

/* Length limits; 0 = no limit. */
struct chat_limits {
	uint32_t max_source; /* tokens before the last assistant content (ChatGLM max_source_length) */
	uint32_t max_target; /* tokens from the last assistant content to the end */
	uint32_t max_len;    /* total */
};

enum chat_trunc { CHAT_KEPT = 0, CHAT_CUT = 1, CHAT_DROP = 2 };

/*
 * Truncates e (encoded from r) in place: the source is cut at its right end but keeps the last
 * turn's "<|im_start|>assistant\n" header; the target's content is cut at its right end but
 * keeps what follows it ("<|im_end|>\n"); then the whole is cut to max_len. Returns CHAT_KEPT,
 * CHAT_CUT, or CHAT_DROP when no trained token is left (also for a record that had none).
 */
enum chat_trunc chat_truncate(const struct chat_render *r, struct chat_encoded *e,
                              const struct chat_limits *l);

/* For gen: renders c with the generation prompt (sys as in chat_render) and encodes it into ids
 * (appended). QT_OK, QT_EDATA (empty conversation) or QT_ESOFTWARE. */
int chat_encode_prompt(const struct tokenizer *tk, const struct chat_template *t,
                       const struct chat_conv *c, const struct chat_system *sys,
                       struct tok_ids *ids, struct qt_err *err);

#endif
