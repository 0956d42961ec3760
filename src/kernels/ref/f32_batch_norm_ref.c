/* Reference batch normalization, inference form, per channel of the last
 * axis. */
#include "kernels/kernels.h"

#include <math.h>

void f32_batch_norm__ref(const struct f32_batch_norm_params *p, const float *x,
                         const float *gamma, const float *beta, const float *mean,
                         const float *var, float *y)
{
    for (size_t c = 0; c < p->channels; c++) {
        float scale = gamma[c] / sqrtf(var[c] + p->epsilon);
        float shift = beta[c] - mean[c] * scale;
        for (size_t r = 0; r < p->rows; r++)
            y[r * p->channels + c] = x[r * p->channels + c] * scale + shift;
    }
}
