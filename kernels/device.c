/* qlora-tools: ISC license. */
/* --device selection: the CPU, or CUDA when built with it and a device answers. */
#include "kernels/device.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "kernels/backend.h"

int device_cuda_probe(char *why, unsigned n)
{
	if (!cuda_probe) {
		snprintf(why, n, "built without CUDA");
		return 0;
	}
	return cuda_probe(why, n);
}

int device_select(const char *name)
{
	char why[256];
	if (!name)
		name = "auto";
	if (strcmp(name, "cpu") == 0)
		return QT_DEVICE_CPU;
	if (strcmp(name, "cuda") != 0 && strcmp(name, "auto") != 0)
		return -1;
	why[0] = 0;
	if (device_cuda_probe(why, sizeof why))
		return QT_DEVICE_CUDA;
	/* asked for: a warning; the default auto: a note under -v only (a machine without a GPU
	 * is the common case, not a problem to report on every run) */
	if (strcmp(name, "cuda") == 0)
		qt_warnx("no CUDA device (%s); using the CPU", why[0] ? why : "unknown reason");
	else
		qt_info(4, "no CUDA device (%s); using the CPU", why[0] ? why : "unknown reason");
	return QT_DEVICE_CPU;
}

const char *device_name(int dev)
{
	return dev == QT_DEVICE_CUDA ? "cuda" : "cpu";
}

const struct qt_backend *qt_backend_of(int dev)
{
	if (dev == QT_DEVICE_CPU)
		return &qt_backend_cpu;
	if (dev == QT_DEVICE_CUDA && &qt_backend_cuda)
		return &qt_backend_cuda;
	return NULL;
}

void *qt_backend_dup(const struct qt_backend *be, const void *src, size_t n)
{
	void *d = be->alloc(n);
	if (d && be->upload(d, src, n) != 0) {
		be->free(d);
		return NULL;
	}
	return d;
}
