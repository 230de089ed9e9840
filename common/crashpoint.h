/* qlora-tools: ISC license. */
/*
 * Named crash points, for the crash-safety tests (tests/cli/lora-train/crash-resume.sh,
 * tests/crash/kill20.sh): with QT_CRASHPOINT=name:n in the environment, the n-th time the
 * process passes qt_crashpoint("name") it kills itself with SIGKILL, as a power cut or the OOM
 * killer would, at a moment a test can name (inside a checkpoint write, between a directory's
 * swap and its clean-up). Without the variable a crash point costs one branch.
 * Documented in qlora-tools(7), ENVIRONMENT.
 */
#ifndef QT_COMMON_CRASHPOINT_H
#define QT_COMMON_CRASHPOINT_H

void qt_crashpoint(const char *name);

#endif
