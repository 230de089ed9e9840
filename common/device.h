/* qlora-tools: ISC license. */
/*
 * Compute device selection for the tools' --device option. "cpu" is always available;
 * "cuda" and "auto" use the first CUDA device when the build has CUDA (nvcc was found) and a
 * usable device (compute capability >= 8.0) is present, and otherwise fall back to the CPU
 * with one line on stderr (qt_warnx, so --quiet silences it).
 */
#ifndef QT_DEVICE_H
#define QT_DEVICE_H

enum qt_device { QT_DEVICE_CPU = 0, QT_DEVICE_CUDA = 1 };

/* name: "cpu", "cuda" or "auto" (NULL means "auto"). Returns the device to use, or -1 for an
 * unknown name (a usage error: the caller reports it). Selecting CUDA makes device 0 current
 * on the calling thread. Falling back to the CPU warns when "cuda" was asked for, and is a
 * note at verbosity 4 (-v) under "auto". */
int device_select(const char *name);

/* "cpu" or "cuda". */
const char *device_name(int dev);

/* Implemented by kernels/cuda/device.cu (or kernels/cuda/device_stub.c in a build without
 * CUDA): 1 when a usable CUDA device exists (device 0 made current), else 0 with the reason
 * written to why[n]. */
int cuda_probe(char *why, unsigned n);

#endif
