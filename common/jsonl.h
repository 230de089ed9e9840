/* qlora-tools: ISC license. */
/*
 * Line reader for JSONL inputs over libarchive: plain files, stdin ("-"), .gz/.zst/.xz/.bz2
 * compressed files, and every regular member of .tar (any compression) and .zip archives, in
 * archive order. Each line comes with its source name and 1-based line number so messages can
 * say "file:line" or "archive:member:line". Lines are checked for UTF-8 validity and length.
 */
#ifndef QT_JSONL_H
#define QT_JSONL_H

#include <stddef.h>

#include "common/err.h"

#define QT_JSONL_MAX_LINE_DEFAULT ((size_t)64 << 20) /* 64 MiB: far above any real record */

struct qt_jsonl;

/* Opens path ("-" = stdin). max_line 0 means the default. NULL on error (QT_ENOINPUT/QT_EDATA). */
struct qt_jsonl *qt_jsonl_open(const char *path, size_t max_line, struct qt_err *err);

/*
 * Next non-empty line (no trailing "\n" or "\r\n", NUL-terminated, valid until the next call).
 * Returns 1 with a line, 0 at the end of all members, -1 on error with err set: err->status is
 * QT_EDATA for a bad line (too long, invalid UTF-8; the reader has moved past it, so a caller
 * that skips bad records may call again) and QT_EIO for an unreadable input (not resumable).
 */
int qt_jsonl_next(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err);

/*
 * Records beyond JSON Lines, for the readers of datasets (tok-chatml, gen); set before the
 * first qt_jsonl_next. Per member (the file, or a member of an archive):
 *   QT_JSONL_ARRAYS      a member whose first non-blank character is '[' is one JSON array
 *                        (alpaca_data.json, LLaMA-Factory's data files): each element is a
 *                        record, numbered by the line it starts on;
 *   QT_JSONL_TXT         a member named *.txt (also .txt.gz, .zst, .xz, .bz2) is raw text:
 *                        each non-blank line is a record, given as a JSON string;
 *   QT_JSONL_PARAGRAPHS  with QT_JSONL_TXT: a record is a paragraph, lines up to a blank
 *                        line, joined by "\n".
 * Errors: "name:line: the JSON array has no closing ]", "...: text after the JSON array's
 * closing ]" (QT_EDATA).
 */
enum { QT_JSONL_ARRAYS = 1, QT_JSONL_TXT = 2, QT_JSONL_PARAGRAPHS = 4 };
void qt_jsonl_records(struct qt_jsonl *r, int flags);

/* 1 when the record last returned came from a .txt member (QT_JSONL_TXT). */
int qt_jsonl_is_text(const struct qt_jsonl *r);

/* "file" or "file:member" of the line (record) last returned, and its 1-based number. */
const char *qt_jsonl_name(const struct qt_jsonl *r);
unsigned long long qt_jsonl_lineno(const struct qt_jsonl *r);

void qt_jsonl_close(struct qt_jsonl *r);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF); else 0 and *bad = offset. */
int qt_utf8_valid(const char *s, size_t n, size_t *bad);

#endif
