/* qlora-tools: ISC license. */
/*
 * Status codes and messages. Library code (common/, formats/, kernels/) never exits: it returns
 * a qt_status and writes its message into a struct qt_err. Only tools/ and tests call qt_die.
 */
#ifndef QT_ERR_H
#define QT_ERR_H

#include <stdarg.h>

/* Values are the sysexits(3) codes the tools exit with, so a status maps 1:1 to an exit code. */
enum qt_status {
	QT_OK        = 0,
	QT_EUSAGE    = 64,  /* command line usage error */
	QT_EDATA     = 65,  /* input data is malformed */
	QT_ENOINPUT  = 66,  /* input file missing or unreadable */
	QT_ESOFTWARE = 70,  /* internal error (a broken invariant) */
	QT_ECANTCREAT= 73,  /* output file cannot be created */
	QT_EIO       = 74,  /* read or write error */
};

/* Message buffer filled by library calls: "file:line: what is wrong" without the tool name. */
struct qt_err {
	int  status;
	char msg[1024];
};

/*
 * Sets err (if not NULL) and returns status. A format ending in ':' appends ": strerror(errno)",
 * as err(3) does.
 */
int qt_err_set(struct qt_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- tool side ---- */

/* The tool name used as message prefix; set once from argv[0] by qt_set_progname. */
extern const char *qt_progname;
void qt_set_progname(const char *argv0);

/* Verbosity as zstd's display levels: 0 silent, 1 errors, 2 warnings+summary, 3 progress, 4 debug. */
extern int qt_verbosity;

/* Prints "tool: msg" (trailing ':' → strerror) to stderr and exits with status. */
void qt_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Prints err->msg and exits with err->status. */
void qt_die_err(const struct qt_err *err) __attribute__((noreturn));
/* Warning to stderr when verbosity >= 2. */
void qt_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line (summary) to stderr when verbosity >= level. */
void qt_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
