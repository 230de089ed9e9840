/* qlora-tools: ISC license. */
/*
 * tok-cat's job (tok-cat(1)): a .tok stream (tok(5)) printed as one JSON line per record, as
 * decoded text with the masked spans marked, or as its header and trailer facts. Reads through
 * the checking reader of formats/tok.h, so a truncated or corrupt stream is an error (QT_EDATA).
 */
#ifndef QT_JOBS_TOK_CAT_H
#define QT_JOBS_TOK_CAT_H

#include "common/err.h"

enum tok_cat_mode {
	TOK_CAT_JSON,  /* {"ids":[...],"mask":[...]} per record */
	TOK_CAT_TEXT,  /* decoded text, masked spans between U+00AB and U+00BB, a newline each */
	TOK_CAT_INFO,  /* header and trailer facts, after reading the whole stream */
};

/*
 * Prints the stream at path ("-": stdin) to stdout. tokenizer: tokenizer.json or the model
 * directory holding it, needed for (only for) TOK_CAT_TEXT; it must be the stream's (same
 * fingerprint). Returns QT_OK, or the error of the first failure in err (what was printed
 * before it stays printed); QT_ESOFTWARE when out of memory.
 */
int tok_cat_run(const char *path, const char *tokenizer, enum tok_cat_mode mode,
                struct qt_err *err);

#endif
