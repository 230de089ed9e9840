/* qlora-tools: ISC license. */
/*
 * Compute device selection for the tools' --device option. "cpu" is always available;
 * "cuda" and "auto" use the first CUDA device when the build has CUDA (nvcc was found) and a
 * usable device (compute capability >= 8.0) is present, and otherwise fall back to the CPU
 * with one line on stderr (qt_warnx, so --quiet silences it).
 */
#ifndef QT_KERNELS_DEVICE_H
#define QT_KERNELS_DEVICE_H

enum qt_device { QT_DEVICE_CPU = 0, QT_DEVICE_CUDA = 1 };

/* name: "cpu", "cuda" or "auto" (NULL means "auto"). Returns the device to use, or -1 for an
 * unknown name (a usage error: the caller reports it). Selecting CUDA makes device 0 current
 * on the calling thread. Falling back to the CPU warns when "cuda" was asked for, and is a
 * note at verbosity 4 (-v) under "auto". */
int device_select(const char *name);

/* "cpu" or "cuda". */
const char *device_name(int dev);

/* 1 when a usable CUDA device exists (device 0 made current), else 0 with the reason written
 * to why[n] ("built without CUDA" in a build without nvcc). */
int device_cuda_probe(char *why, unsigned n);

/* Defined by kernels/cuda/device.cu, in build/libqlora_cuda.a when nvcc built it; a weak
 * reference, so a build without CUDA simply has none (NULL) and needs no stand-in. */
int cuda_probe(char *why, unsigned n) __attribute__((weak));

#endif
