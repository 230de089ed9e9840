/* qlora-tools: ISC license. */
/*
 * Internal to common/: the table of temporaries that the signal handler of
 * qt_out_cleanup_on_signal removes (files and directory trees of our own making), and the
 * names that messages show for them.
 */
#ifndef QT_IO_LIVE_H
#define QT_IO_LIVE_H

#include <stddef.h>

void qt_live_add(char *p);
void qt_live_del(char *p);

/* path as a message shows it: without the ".tmp.PID" of our own temporaries, so that a file
 * written inside a temporary directory is named where it will be ("out/adapter/x", not
 * "out/adapter.tmp.123/x"). Written into buf (n bytes); errno is kept. */
const char *qt_shown(const char *path, char *buf, size_t n);
#define QT_SHOWN(path) qt_shown((path), (char[4096]){ 0 }, 4096)

#endif
