/* int8 concat: each input rescaled into the output's parameters, or copied
 * when they are equal (the identity requantization gives the same bytes). */
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

void q8_concat__ref(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                    const struct q8_unary *rq, const int8_t *const *x, int8_t *y)
{
    int64_t width = 0, at = 0;
    for (int i = 0; i < n_inputs; i++)
        width += inner[i];
    /* input by input, so each input's requantization is chosen once */
    for (int i = 0; i < n_inputs; i++) {
        const int64_t c = inner[i], n_rows = rows ? rows[i] : outer;
        const struct q8_unary *q = &rq[i];
        const bool copy = q8_unary_is_identity(q);
        int8_t *yr = y + at;
        int64_t row = 0;
        for (int64_t r = 0; r < outer; r++, yr += width) {
            const int8_t *xr = x[i] + row * c;
            if (copy && c == 1) /* [N, C, 1] pieces: a store, not a memcpy call */
                yr[0] = xr[0];
            else if (copy)
                memcpy(yr, xr, (size_t)c);
            else
                for (int64_t j = 0; j < c; j++)
                    yr[j] = q8_requant_clamp((int32_t)xr[j] - q->in_zero_point, q->multiplier,
                                             q->shift, q->out_zero_point, q->qmin, q->qmax);
            if (++row == n_rows)
                row = 0;
        }
        at += c;
    }
}
