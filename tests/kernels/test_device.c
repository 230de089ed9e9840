/* qlora-tools: ISC license. */
/* device_select: cpu always, auto/cuda fall back to the CPU when no device answers, unknown
 * names rejected. Runs on every machine (with or without CUDA, with or without a GPU). */
#include "kernels/device.h"

#include "common/err.h"
#include "test.h"

int main(void)
{
	char why[256] = "";
	int have = device_cuda_probe(why, sizeof why);
	printf("device_cuda_probe: %d%s%s\n", have, have ? "" : ": ", have ? "" : why);
	CHECK(have || why[0] != 0, "a failed probe gives a reason");
	CHECK(device_select("cpu") == QT_DEVICE_CPU, "cpu");
	int want = have ? QT_DEVICE_CUDA : QT_DEVICE_CPU;
	CHECK(device_select("auto") == want, "auto");
	CHECK(device_select(NULL) == want, "NULL is auto");
	CHECK(device_select("cuda") == want, "cuda falls back to the CPU without a device");
	CHECK(device_select("gpu") == -1, "unknown name");
	CHECK(device_select("") == -1, "empty name");
	CHECK(strcmp(device_name(QT_DEVICE_CPU), "cpu") == 0, "name");
	CHECK(strcmp(device_name(QT_DEVICE_CUDA), "cuda") == 0, "name");
	return test_main_end();
}
