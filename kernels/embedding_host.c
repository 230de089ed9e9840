/* qlora-tools: ISC license. */
/* Host side of NEFTune: the noise magnitude. */
#include "kernels/embedding.h"

#include <math.h>

float neftune_magnitude(double alpha, long L, long C)
{
	return (float)(alpha / sqrt((double)L * (double)C));
}
