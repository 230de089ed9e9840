/* qlora-tools: ISC license. */
/*
 * Internal to common/: the table of temporaries that the signal handler of
 * qt_out_cleanup_on_signal removes (files and directory trees of our own making).
 */
#ifndef QT_IO_LIVE_H
#define QT_IO_LIVE_H

void qt_live_add(char *p);
void qt_live_del(char *p);

#endif
