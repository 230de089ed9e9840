/* qlora-tools: ISC license. */
/*
 * tok-chatml's job (tok-chatml(1)): JSONL inputs rendered with the chat template (formats/chat.h)
 * and encoded into a .tok stream (tok(5)). tools/tok-chatml.c parses the options and calls chat_run.
 */
#ifndef QT_JOBS_TOK_CHATML_H
#define QT_JOBS_TOK_CHATML_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/chat.h"

struct chat_run_opts {
	const char             *tokenizer;  /* tokenizer.json */
	const char             *config;     /* tokenizer_config.json; NULL: beside the tokenizer */
	const char             *template_;  /* NULL: the model's; "chatml"; or a .jinja file */
	const char             *output;     /* "-" = stdout */
	const char *const      *inputs;     /* "-" = stdin */
	size_t                  n_inputs;
	struct chat_record_opts rec;
	struct chat_system      system;
	enum chat_train         train;
	struct chat_limits      limits;
	int                     skip_bad;   /* count and skip bad records instead of failing */
	int                     paragraphs; /* .txt inputs: a document per paragraph, not line */
	int                     threads;    /* <= 0: all cores */
	void (*warn)(const char *msg);      /* skipped records and notes (may be NULL) */
};

struct chat_run_stats {
	uint64_t n_read;       /* records read (non-blank lines) */
	uint64_t n_written;
	uint64_t n_truncated;  /* written after truncation */
	uint64_t n_dropped;    /* empty prompt/response, or nothing left to train on */
	uint64_t n_bad;        /* skipped with skip_bad */
	uint64_t n_tokens;
	uint64_t n_trained;
};

/*
 * Reads every input, renders and encodes each record on opts->threads threads (in batches,
 * output in input order) and writes a .tok stream atomically to opts->output. On failure no
 * output file is left (on stdout the trailer is missing, which readers detect) and err says
 * "file:line: reason". Returns QT_OK, QT_EDATA, QT_ENOINPUT, QT_ECANTCREAT or QT_EIO.
 */
int chat_run(const struct chat_run_opts *opts, struct chat_run_stats *stats, struct qt_err *err);

#endif
