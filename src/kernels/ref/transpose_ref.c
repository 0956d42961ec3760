/* Reference transpose of any rank and element size: y is walked in order,
 * x read through the permuted strides. */
#include "kernels/kernels.h"

#include <string.h>

void transpose__ref(const struct transpose_params *p, const void *x, void *y)
{
    const int r = p->rank;
    size_t x_stride[TRANSPOSE_MAX_RANK], step[TRANSPOSE_MAX_RANK], ydims[TRANSPOSE_MAX_RANK];
    size_t total = 1, s = 1;
    for (int d = r - 1; d >= 0; d--) {
        x_stride[d] = s;
        s *= p->dims[d];
    }
    for (int k = 0; k < r; k++) {
        ydims[k] = p->dims[p->perm[k]];
        step[k] = x_stride[p->perm[k]];
        total *= ydims[k];
    }
    const unsigned char *xb = x;
    unsigned char *yb = y;
    const size_t e = p->elem_size;
    if (r == 0) {
        memcpy(yb, xb, e);
        return;
    }
    size_t index[TRANSPOSE_MAX_RANK] = {0};
    size_t ix = 0;
    for (size_t i = 0; i < total;) {
        const size_t n = ydims[r - 1], st = step[r - 1];
        if (e == 4) { /* float: whole words */
            float *yf = (float *)(void *)yb;
            const float *xf = (const float *)(const void *)xb;
            for (size_t k = 0; k < n; k++)
                yf[i + k] = xf[ix + k * st];
        } else if (e == 1) {
            for (size_t k = 0; k < n; k++)
                yb[i + k] = xb[ix + k * st];
        } else {
            for (size_t k = 0; k < n; k++)
                memcpy(yb + (i + k) * e, xb + (ix + k * st) * e, e);
        }
        i += n;
        int d = r - 2;
        for (; d >= 0; d--) {
            ix += step[d];
            if (++index[d] < ydims[d])
                break;
            ix -= index[d] * step[d];
            index[d] = 0;
        }
        if (d < 0)
            break;
    }
}
