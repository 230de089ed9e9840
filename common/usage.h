/* qlora-tools: ISC license. */
/*
 * The command-line conventions every tool follows (every tools/ program), written once: --help prints the
 * synopsis and the help text on stdout and exits 0; --version prints "tool (qlora-tools) V";
 * a usage error prints "tool: reason" and the synopsis on stderr and exits 64 (QT_EUSAGE).
 * A tool calls qt_usage_init once with its texts, then the helpers below while parsing.
 */
#ifndef QT_USAGE_H
#define QT_USAGE_H

#include <stdint.h>

/* synopsis: "usage: tool ...\n" lines; help: the text after a blank line (may be NULL). */
void qt_usage_init(const char *synopsis, const char *help);

/* status 0: synopsis and help on stdout; otherwise the synopsis on stderr. Exits status. */
_Noreturn void qt_usage(int status);
/* "tool: " + the printf-formatted reason + newline, then the synopsis; exits QT_EUSAGE. */
_Noreturn void qt_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "tool (qlora-tools) QT_VERSION" on stdout and exits 0. */
_Noreturn void qt_version(void);

/* Option arguments: the whole of s must be a number in [lo, hi], else a usage error
 * "tool: opt: "s" is not a number in lo..hi". */
int64_t  qt_arg_i64(const char *opt, const char *s, int64_t lo, int64_t hi);
uint64_t qt_arg_u64(const char *opt, const char *s);  /* the whole uint64_t range (seeds) */
double   qt_arg_double(const char *opt, const char *s, double lo, double hi);
/* Index of s in the NULL-terminated words, else a usage error naming the choices. */
int      qt_arg_word(const char *opt, const char *s, const char *const *words);

#endif
