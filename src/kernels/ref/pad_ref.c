/* Reference pad of any rank and element size: y walked in order, each
 * axis' source index kept in an odometer and recomputed only when that
 * axis moves. */
#include "kernels/kernels.h"

#include <string.h>

/* Kept element read by output index o of axis d, -1 for the constant. */
static int64_t pad_source(const struct pad_params *p, int d, int64_t o)
{
    const int64_t in = (int64_t)p->in[d], b = p->begin[d], e = p->end[d];
    const int64_t lo = b < 0 ? -b : 0, n = in - lo - (e < 0 ? -e : 0);
    int64_t t = o - (b > 0 ? b : 0);
    if (t < 0 || t >= n) {
        if (p->mode == PAD_CONSTANT)
            return -1;
        if (p->mode == PAD_EDGE || n == 1) {
            t = t < 0 ? 0 : n - 1;
        } else { /* reflect: period 2(n - 1), the ends not repeated */
            const int64_t period = 2 * (n - 1);
            t %= period;
            if (t < 0)
                t += period;
            if (t >= n)
                t = period - t;
        }
    }
    return lo + t;
}

void pad__ref(const struct pad_params *p, const void *x, void *y)
{
    const int r = p->rank;
    const size_t e = p->elem_size;
    int64_t stride[TRANSPOSE_MAX_RANK], src[TRANSPOSE_MAX_RANK], s = 1;
    size_t total = 1, index[TRANSPOSE_MAX_RANK] = {0};
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= (int64_t)p->in[d];
        total *= p->out[d];
    }
    for (int d = 0; d < r; d++)
        src[d] = pad_source(p, d, 0);
    const unsigned char *xb = x;
    unsigned char *yb = y;
    const size_t row = r ? p->out[r - 1] : 1;
    for (size_t i = 0; i < total; i += row) {
        /* the offset of the row's outer axes, -1 when one is padding */
        int64_t base = 0;
        for (int d = 0; d < r - 1 && base >= 0; d++)
            base = src[d] < 0 ? -1 : base + src[d] * stride[d];
        for (size_t k = 0; k < row; k++) {
            int64_t t = r ? pad_source(p, r - 1, (int64_t)k) : 0;
            unsigned char *dst = yb + (i + k) * e;
            if (base < 0 || t < 0)
                memcpy(dst, p->value, e);
            else
                memcpy(dst, xb + (size_t)(base + t) * e, e);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++index[d] < p->out[d]) {
                src[d] = pad_source(p, d, (int64_t)index[d]);
                break;
            }
            index[d] = 0;
            src[d] = pad_source(p, d, 0);
        }
    }
}
