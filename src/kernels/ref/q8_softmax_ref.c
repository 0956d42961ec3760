/* Softmax of int8 input, float output: exponentials come from a 256-entry
 * float table of exp(-sx * k) indexed by (row max - x); the sum runs in
 * float in index order, so the result is reproducible bit for bit. */
#include "kernels/kernels_q8.h"

void q8_softmax__ref(int64_t outer, int64_t len, int64_t inner, const float table[256],
                     const int8_t *x, float *y)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const int8_t *xr = x + o * len * inner + i;
            float *yr = y + o * len * inner + i;
            int32_t mx = INT8_MIN;
            for (int64_t j = 0; j < len; j++)
                mx = xr[j * inner] > mx ? xr[j * inner] : mx;
            float sum = 0.0f;
            for (int64_t j = 0; j < len; j++) {
                const float e = table[mx - xr[j * inner]];
                yr[j * inner] = e;
                sum += e;
            }
            for (int64_t j = 0; j < len; j++)
                yr[j * inner] = yr[j * inner] / sum;
        }
    }
}
