/* Reference int8 linear resize: integer weights from the plan, one exact
 * int64 sum over the corners, one rounding (kernels_q8.h). */
#include "kernels/kernels_q8.h"

#include "kernels/requant.h"

void q8_resize_linear__ref(const struct q8_resize_params *p, const int8_t *x, int8_t *y)
{
    const int r = p->rank;
    int64_t stride[8], s = 1, total = 1, index[8] = {0};
    int k = 0;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= p->in[d];
        total *= p->out[d];
        k += p->i0[d] != NULL;
    }
    const int shift = Q8_RESIZE_WEIGHT_BITS * k;
    const int64_t half = shift ? INT64_C(1) << (shift - 1) : 0;
    for (int64_t i = 0; i < total; i++) {
        /* the corners: offset and integer weight, built axis by axis */
        int64_t off[1 << Q8_RESIZE_MAX_AXES], wt[1 << Q8_RESIZE_MAX_AXES];
        int nc = 1;
        off[0] = 0;
        wt[0] = 1;
        for (int d = 0; d < r; d++) {
            const int64_t o = index[d];
            if (!p->i0[d]) {
                for (int c = 0; c < nc; c++)
                    off[c] += o * stride[d];
                continue;
            }
            const int64_t w1 = p->w1[d][o], w0 = (1 << Q8_RESIZE_WEIGHT_BITS) - w1;
            for (int c = 0; c < nc; c++) {
                off[nc + c] = off[c] + p->i1[d][o] * stride[d];
                wt[nc + c] = wt[c] * w1;
                off[c] += p->i0[d][o] * stride[d];
                wt[c] *= w0;
            }
            nc *= 2;
        }
        int64_t acc = 0;
        for (int c = 0; c < nc; c++)
            acc += wt[c] * ((int64_t)x[off[c]] - p->zero_point);
        const int64_t q = acc >= 0 ? (acc + half) >> shift : -((-acc + half) >> shift);
        y[i] = q8_sat_i8(p->zero_point + q);
        for (int d = r - 1; d >= 0 && ++index[d] == p->out[d]; d--)
            index[d] = 0;
    }
}
