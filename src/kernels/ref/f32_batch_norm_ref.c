/* Reference batch normalization, inference form, per channel of the last
 * axis: a per-channel scale and shift, computed for a block of channels
 * at a time and applied row by row, so the tensor is read in order (one
 * pass per block of channels rather than one strided pass per channel). */
#include "kernels/kernels.h"

#include <math.h>

enum { BN_BLOCK = 512 }; /* channels per block: 4 KiB of scales on the stack */

void f32_batch_norm__ref(const struct f32_batch_norm_params *p, const float *x,
                         const float *gamma, const float *beta, const float *mean,
                         const float *var, float *y)
{
    float scale[BN_BLOCK], shift[BN_BLOCK];
    const size_t cs = p->channels;
    for (size_t c0 = 0; c0 < cs; c0 += BN_BLOCK) {
        size_t nc = cs - c0 < BN_BLOCK ? cs - c0 : BN_BLOCK;
        for (size_t c = 0; c < nc; c++) {
            scale[c] = gamma[c0 + c] / sqrtf(var[c0 + c] + p->epsilon);
            shift[c] = beta[c0 + c] - mean[c0 + c] * scale[c];
        }
        for (size_t r = 0; r < p->rows; r++) {
            const float *xr = x + r * cs + c0;
            float *yr = y + r * cs + c0;
            for (size_t c = 0; c < nc; c++)
                yr[c] = xr[c] * scale[c] + shift[c];
        }
    }
}
