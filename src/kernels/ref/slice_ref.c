/* Reference slice of any rank and element size: y walked in order, x read
 * at starts + j * steps along each axis (steps may be negative). */
#include "kernels/kernels.h"

#include <string.h>

void slice__ref(const struct slice_params *p, const void *x, void *y)
{
    const int r = p->rank;
    const size_t e = p->elem_size;
    int64_t stride[TRANSPOSE_MAX_RANK], s = 1;
    size_t total = 1;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= (int64_t)p->in[d];
        total *= p->out[d];
    }
    int64_t base = 0;
    for (int d = 0; d < r; d++)
        base += p->starts[d] * stride[d];
    const unsigned char *xb = x;
    unsigned char *yb = y;
    size_t index[TRANSPOSE_MAX_RANK] = {0};
    int64_t ix = base;
    for (size_t i = 0; i < total;) {
        const size_t n = r ? p->out[r - 1] : 1;
        const int64_t st = r ? p->steps[r - 1] * stride[r - 1] : 0;
        for (size_t k = 0; k < n; k++)
            memcpy(yb + (i + k) * e, xb + (ix + (int64_t)k * st) * (int64_t)e, e);
        i += n;
        int d = r - 2;
        for (; d >= 0; d--) {
            ix += p->steps[d] * stride[d];
            if (++index[d] < p->out[d])
                break;
            ix -= (int64_t)index[d] * p->steps[d] * stride[d];
            index[d] = 0;
        }
        if (d < 0)
            break;
    }
}
