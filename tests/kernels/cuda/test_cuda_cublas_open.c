/* qlora-tools: ISC license. */
/*
 * cuBLAS is opened at run time (kernels/cuda/device.cu), not linked: a process of a CUDA build
 * has no libcublas mapped until it asks for it (linked, its load made every tool ~150 MB
 * larger on every run, CPU ones included), and then every entry point resolves. Needs only
 * the toolkit's libraries, no device: runs on every machine that builds CUDA.
 */
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/cuda.h"
#include "test.h"

/* Whether a library whose file name contains name is mapped in this process. */
static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int found = 0;
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

int main(void)
{
	char why[512] = "";
	CHECK(mapped("libcublas") == 0, "libcublas is mapped before anything asked for it");
	CHECK(mapped("libcudart") == 1, "libcudart is not linked (the kernels need it)");
	CHECK(cuda_cublas_open(why, sizeof why) == 1, "cuda_cublas_open: %s", why);
	CHECK(mapped("libcublas.so") == 1, "libcublas is not mapped after cuda_cublas_open");
	CHECK(mapped("libcublasLt") == 1, "libcublasLt (cuBLAS's own dependency) is not mapped");
	CHECK(cuda_cublas_open(NULL, 0) == 1, "a second open fails");
	return test_main_end();
}
