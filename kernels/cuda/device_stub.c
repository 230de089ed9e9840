/* qlora-tools: ISC license. */
/* Stand-in for kernels/cuda/device.cu in a build without nvcc: there is never a device. */
#include <stdio.h>

#include "common/device.h"

int cuda_probe(char *why, unsigned n)
{
	snprintf(why, n, "built without CUDA");
	return 0;
}
